/*
 * The iptables-legacy backend, through libip4tc and libip6tc.
 *
 * What we own, per family:
 *   - in the raw table, our chains <TAG>-PRE and <TAG>-OUT (all their rules),
 *     and the jumps into them at the head of PREROUTING and OUTPUT;
 *   - in filter (or the chains the policy names), one untracked accept at
 *     the head of each chain, tagged with the comment <TAG>.
 * A rule is ours when it sits in our chain, carries exactly our tag as its
 * comment, or jumps into our chain.  Nothing else is ever touched: the
 * other rules of a table we change are handed back to the kernel as they
 * were read.
 *
 * libiptc replaces one table at a time, atomically.  A change can span up
 * to four tables (raw and filter, IPv4 and IPv6), so commit() replaces them
 * one after another and, if one is refused, puts back what we owned in the
 * tables already replaced, from what plan() read.  Either every table ends
 * up as asked, or every table holds what it held before.  Each table is
 * read once more right before its replace and must still be the table the
 * plan was made against; otherwise (someone ignored the xtables lock) the
 * commit returns -ERESTART and the transaction plans again.
 *
 * There is no ruleset generation id for legacy tables; a digest of every
 * loaded table of both families (rules and policies, without counters)
 * stands in for it.  It changes whenever anyone changes a rule.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/iptables/ipt_backend.h"
#include "util/hash.h"
#include "emit/emit.h"
#include "emit/ipt_lower.h"
#include "emit/ipt_build.h"
#include "backend/iptables/ipt_blob.h"
#include "backend/iptables/ipt_transport.h"
#include "util/lockfile.h"
#include "util/seqdiff.h"
#include "engine/txn.h"

static const unsigned families[] = {FAMILY_IPV4, FAMILY_IPV6};

struct ipt_plan;

struct backend {
	char tag[RULESET_NAME_MAX];
	char chain[2][IPT_CHAIN_MAX]; /* our chains, by enum hook */
	int lock_fd;
	/* verify()'s read of every table, served to owned() and generation()
	 * (record() asks for both right after) until anything is committed.
	 * We hold the xtables lock from open() to close(), so only a writer
	 * that ignores it could make this stale. */
	struct ipt_plan *last_read;
};

/* Everything of ours in one table: which of our chains exist, and our
 * rules, each with its chain and position. */
struct ours {
	bool chain[2];
	struct ipt_rule_list rules;
};

struct tbl {
	unsigned family;
	char name[IPT_CHAIN_MAX];
	bool loaded; /* the kernel had this table before we looked */
	/* as read_all() left it: plan()'s chain names (READ_KEEP), or the
	 * verification's borrowed rules' bytes (READ_BORROW); buf is NULL when
	 * not loaded or freed */
	struct ipt_blob blob;
	struct ours live, want;
	uint64_t digest; /* of the whole table as plan() read it */
	bool dirty;
};

struct ipt_plan {
	struct tbl *v;
	size_t n;
	uint64_t generation; /* the digest of every table read */
};

static int our_hook(const struct backend *b, const char *chain)
{
	for (int h = 0; h < 2; h++)
		if (!strcmp(b->chain[h], chain))
			return h;
	return -1;
}

static void ours_free(struct ours *o)
{
	ipt_rule_list_free(&o->rules);
	memset(o, 0, sizeof(*o));
}

/* ------------------------------------------------------------------ */
/* reading                                                              */

/*
 * Reading a table: our objects, and a digest of the whole of it (chains,
 * policies and every rule's key).  Two readers feed the same steps below:
 *   - the kernel's blob (ipt_blob.h), for every read that only looks (the
 *     plan, the verification, generation(), owned()): a kube-proxy host's
 *     nat table is 5.3 MB as the blob and twice that in libiptc, which keeps
 *     a copy of every entry in its own rule heads;
 *   - a libiptc snapshot, for the commit, which edits it and checks that
 *     the table still is the one the plan read.
 * The two must give the same digest: the blob's chains are taken in
 * libiptc's order (ipt_blob_chain_order) and its rules' labels are what
 * iptc_get_target() says (tests/tools/ipt-read-check.c compares them).
 * With `borrow`, our rules are the reader's own bytes (see
 * ipt_rule_list_borrow), for a read that only compares and counts: the
 * snapshot or blob must stay open.
 */
struct table_read {
	const struct backend *b;
	unsigned family;
	bool borrow;
	struct ours *o;
	uint64_t h;
	const char *chain;
	int hook;
	unsigned pos;
};

static void tr_begin(struct table_read *tr, const struct backend *b, unsigned family, const char *table, bool borrow,
		     struct ours *o)
{
	*tr = (struct table_read){.b = b, .family = family, .borrow = borrow, .o = o};
	memset(o, 0, sizeof(*o));
	tr->h = hash_mix_str(hash_mix_str(0, family_name(family)), table);
}

/* policy: a built-in chain's, NULL for a user chain */
static void tr_chain(struct table_read *tr, const char *chain, const char *policy)
{
	tr->chain = chain;
	tr->pos = 0;
	tr->hook = our_hook(tr->b, chain);
	if (tr->hook >= 0)
		tr->o->chain[tr->hook] = true;
	tr->h = hash_mix_str(hash_mix_str(tr->h, chain), policy ? policy : "-");
}

static int tr_rule(struct table_read *tr, const void *e, const char *label, struct diag *d)
{
	const char *comment = ipt_entry_comment(tr->family, e);
	bool mine =
	    tr->hook >= 0 || (comment && !strcmp(comment, tr->b->tag)) || (label && our_hook(tr->b, label) >= 0);
	struct ipt_rule *r;

	tr->pos++;
	if (!mine) {
		tr->h = hash_mix_u64(tr->h, ipt_entry_key(tr->family, e, label));
		return 0;
	}
	r = tr->borrow ? ipt_rule_list_borrow(&tr->o->rules, tr->family, tr->chain, tr->pos, e, label)
		       : ipt_rule_list_add(&tr->o->rules, tr->family, tr->chain, tr->pos,
					   ipt_entry_normalise(tr->family, e, label), NULL);
	if (!r)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	ipt_entry_counters(tr->family, e, &r->packets, &r->bytes);
	tr->h = hash_mix_u64(tr->h, r->key);
	return 0;
}

/* a chain's end, so that rules cannot move between chains unseen */
static void tr_chain_end(struct table_read *tr)
{
	tr->h = hash_mix_u64(tr->h, tr->pos);
}

static int read_snap(const struct backend *b, struct ipt_snap *t, bool borrow, struct ours *o, uint64_t *digest,
		     struct diag *d)
{
	struct table_read tr;
	int r = 0;

	tr_begin(&tr, b, t->family, t->name, borrow, o);
	for (const char *chain = ipt_snap_first_chain(t); r == 0 && chain; chain = ipt_snap_next_chain(t)) {
		tr_chain(&tr, chain, ipt_snap_builtin(t, chain) ? ipt_snap_policy(t, chain) : NULL);
		for (const void *e = ipt_snap_first_rule(t, chain); r == 0 && e; e = ipt_snap_next_rule(t, e))
			r = tr_rule(&tr, e, ipt_snap_target(t, e), d);
		tr_chain_end(&tr);
	}
	*digest = tr.h;
	return r;
}

static int read_blob(const struct backend *b, const struct ipt_blob *t, const char *table, bool borrow, struct ours *o,
		     uint64_t *digest, struct diag *d)
{
	struct table_read tr;
	size_t *order;
	int r = 0;

	tr_begin(&tr, b, t->family, table, borrow, o);
	if (ipt_blob_chain_order(t, &order) < 0)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	for (size_t i = 0; r == 0 && i < t->n_chains; i++) {
		const struct ipt_blob_chain *c = &t->chains[order[i]];
		/* libiptc has no table whose built-in chain ends in anything but
		 * a verdict: ipt_snap_open() would have failed */
		if (c->builtin && !c->policy) {
			r = diag_fail(d, DIAG_KERNEL, EPROTO, NULL, "%s table %s: chain %s has no policy",
				      t->family == FAMILY_IPV4 ? "iptables" : "ip6tables", table, c->name);
			break;
		}
		tr_chain(&tr, c->name, c->builtin ? c->policy : NULL);
		for (size_t j = c->first; r == 0 && j < c->first + c->n; j++)
			r = tr_rule(&tr, t->rules[j].e, t->rules[j].label, d);
		tr_chain_end(&tr);
	}
	free(order);
	*digest = tr.h;
	return r;
}

/* Reads a loaded table's blob; failures worded as ipt_snap_open() words them. */
static int open_blob(struct ipt_blob *t, unsigned family, const char *table, struct diag *d)
{
	const char *tool = family == FAMILY_IPV4 ? "iptables" : "ip6tables";
	int r = ipt_blob_read(t, family, table);

	if (r == -ENOENT || r == -EINVAL)
		return diag_fail(d, DIAG_KERNEL, -r, NULL, "%s has no table %s", tool, table);
	if (r == -EPERM || r == -EACCES)
		return diag_fail(d, DIAG_PERMISSION, -r, NULL,
				 "%s table %s: cannot read the table: needs CAP_NET_ADMIN (run as root)", tool, table);
	if (r == -ENOMEM)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	if (r < 0)
		return diag_fail(d, DIAG_KERNEL, -r, NULL, "%s table %s: cannot read the table: %s", tool, table,
				 strerror(-r));
	return 0;
}

static int tbl_order(const void *a, const void *b)
{
	const struct tbl *x = a, *y = b;
	int rank_x = !strcmp(x->name, "raw") ? 0 : !strcmp(x->name, "filter") ? 1 : 2;
	int rank_y = !strcmp(y->name, "raw") ? 0 : !strcmp(y->name, "filter") ? 1 : 2;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (rank_x != rank_y)
		return rank_x - rank_y;
	return strcmp(x->name, y->name);
}

static struct tbl *plan_add_table(struct ipt_plan *ip, unsigned family, const char *name)
{
	struct tbl *v = realloc(ip->v, (ip->n + 1) * sizeof(*v));

	if (!v)
		return NULL;
	ip->v = v;
	memset(&v[ip->n], 0, sizeof(v[ip->n]));
	v[ip->n].family = family;
	snprintf(v[ip->n].name, sizeof(v[ip->n].name), "%s", name);
	return &v[ip->n++];
}

static struct tbl *find_table(struct ipt_plan *ip, unsigned family, const char *name)
{
	for (size_t i = 0; i < ip->n; i++)
		if (ip->v[i].family == family && !strcmp(ip->v[i].name, name))
			return &ip->v[i];
	return NULL;
}

static void ipt_plan_data_free(struct ipt_plan *ip)
{
	for (size_t i = 0; i < ip->n; i++) {
		ipt_blob_free(&ip->v[i].blob);
		ours_free(&ip->v[i].live);
		ours_free(&ip->v[i].want);
	}
	free(ip->v);
	memset(ip, 0, sizeof(*ip));
}

static void forget_last_read(struct backend *b)
{
	if (b->last_read) {
		ipt_plan_data_free(b->last_read);
		free(b->last_read);
		b->last_read = NULL;
	}
}

/* How read_all() leaves the tables it read. */
enum read_mode {
	READ_CLOSE,  /* blobs freed, our rules copied */
	READ_KEEP,   /* our rules copied, the chains kept (not the rules) for build_wanted() to look up */
	READ_BORROW, /* our rules borrowed: to compare; the blobs of tables that hold none are freed */
};

/* Reads every loaded table of both families, one blob at a time. */
static int read_all(struct backend *b, struct ipt_plan *ip, enum read_mode mode, uint64_t *generation, struct diag *d)
{
	uint64_t all = 0;
	int r = 0;

	for (size_t f = 0; r == 0 && f < 2; f++) {
		char **names;
		size_t n;
		r = ipt_loaded_tables(families[f], &names, &n, d);
		for (size_t i = 0; r == 0 && i < n; i++) {
			struct tbl *t = plan_add_table(ip, families[f], names[i]);
			if (!t) {
				r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
				break;
			}
			t->loaded = true;
			r = open_blob(&t->blob, families[f], names[i], d);
			if (r == 0)
				r = read_blob(b, &t->blob, t->name, mode == READ_BORROW, &t->live, &t->digest, d);
			all = hash_mix_u64(all, t->digest);
			if (r == 0 && mode == READ_KEEP && ipt_blob_keep_chains(&t->blob) < 0)
				r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
			if (mode == READ_CLOSE || (mode == READ_BORROW && !t->live.rules.n))
				ipt_blob_free(&t->blob);
		}
		ipt_names_free(names, n);
	}
	ip->generation = all;
	if (r == 0 && generation)
		*generation = all;
	return r;
}

/* ------------------------------------------------------------------ */
/* what we want                                                         */

/* Adds a rule we want, first in chain; takes e and the text (the iptables
 * line for diffs). */
static int want_first(struct tbl *t, const char *chain, void *e, struct strbuf *text)
{
	char *s = text->oom ? NULL : strbuf_take(text);

	strbuf_free(text);
	return ipt_rule_list_add(&t->want.rules, t->family, chain, 1, e, s) ? 0 : -ENOMEM;
}

static int want_accept(struct backend *b, struct tbl *t, const char *chain)
{
	struct strbuf text;

	strbuf_init(&text);
	iptables_accept_text(&text, chain, b->tag);
	return want_first(t, chain, ipt_build_accept(t->family, b->tag), &text);
}

static int want_jump(struct backend *b, struct tbl *raw, enum hook h)
{
	struct strbuf text;

	strbuf_init(&text);
	iptables_jump_text(&text, iptables_raw_builtin[h], b->tag, b->chain[h]);
	return want_first(raw, iptables_raw_builtin[h], ipt_build_jump(raw->family, b->tag, b->chain[h]), &text);
}

/* The chains the policy names for untracked accepts must exist: we never
 * create tables or chains of others. */
static int want_listed_accepts(struct backend *b, struct ipt_plan *ip, const struct ruleset *rs, unsigned family,
			       struct diag *d)
{
	for (size_t i = 0; i < rs->n_accept_chains; i++) {
		const struct chain_ref *c = &rs->accept_chains[i];
		struct tbl *t;
		if (!(c->family & family))
			continue;
		t = find_table(ip, family, c->table);
		if (!t || !t->loaded || !ipt_blob_find_chain(&t->blob, c->chain))
			return diag_fail(d, DIAG_KERNEL, ENOENT, c->path,
					 "%s table %s has no chain %s for the untracked accept%s",
					 family == FAMILY_IPV4 ? "iptables" : "ip6tables", c->table, c->chain,
					 t && t->loaded ? "" : " (the table is not in use on this host)");
		/* "inet" and "ip" may name the same chain: one accept is enough */
		bool have = false;
		for (size_t j = 0; j < t->want.rules.n; j++)
			have |= !strcmp(t->want.rules.v[j].chain, c->chain);
		if (!have && want_accept(b, t, c->chain) < 0)
			return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	}
	return 0;
}

static int build_wanted(struct backend *b, struct ipt_plan *ip, const struct ruleset *rs, struct diag *d)
{
	for (size_t f = 0; f < 2; f++) {
		unsigned family = families[f];
		struct tbl *raw;
		if (!(rs->families & family))
			continue;
		raw = find_table(ip, family, "raw");
		if (!raw)
			raw = plan_add_table(ip, family, "raw"); /* created at commit time */
		if (!raw)
			return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
		for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++) {
			raw->want.chain[h] = true;
			if (ipt_build_chain_rules(rs, family, h, b->chain[h], &raw->want.rules) < 0 ||
			    want_jump(b, raw, h) < 0)
				return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
		}
		if (rs->accept_mode == UNTRACKED_ACCEPT_LIST) {
			int r = want_listed_accepts(b, ip, rs, family, d);
			if (r < 0)
				return r;
		} else if (rs->accept_mode == UNTRACKED_ACCEPT_AUTO) {
			/* A filter table nobody loaded drops nothing, and loading it
			 * just to add an accept would leave a table behind that
			 * rollback cannot unload. */
			struct tbl *filter = find_table(ip, family, "filter");
			const char *chains[3];
			size_t n = filter ? iptables_auto_accept_chains(rs, chains) : 0;
			for (size_t i = 0; i < n; i++)
				if (want_accept(b, filter, chains[i]) < 0)
					return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* comparing                                                            */

/* Our rules of one chain, in position order (the lists are built in that order). */
static size_t chain_rules(const struct ours *o, const char *chain, struct ipt_rule **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < o->rules.n; i++)
		if (!strcmp(o->rules.v[i].chain, chain) && n < max)
			out[n++] = &o->rules.v[i];
	return n;
}

static bool same_rules(const struct ours *a, const struct ours *b, const char *chain, bool positions)
{
	size_t na = 0, nb = 0, ia = 0, ib = 0;

	for (size_t i = 0; i < a->rules.n; i++)
		na += !strcmp(a->rules.v[i].chain, chain);
	for (size_t i = 0; i < b->rules.n; i++)
		nb += !strcmp(b->rules.v[i].chain, chain);
	if (na != nb)
		return false;
	for (;;) {
		while (ia < a->rules.n && strcmp(a->rules.v[ia].chain, chain))
			ia++;
		while (ib < b->rules.n && strcmp(b->rules.v[ib].chain, chain))
			ib++;
		if (ia >= a->rules.n || ib >= b->rules.n)
			return true;
		if (!ipt_rule_same(&a->rules.v[ia], &b->rules.v[ib]) ||
		    (positions && a->rules.v[ia].pos != b->rules.v[ib].pos))
			return false;
		ia++;
		ib++;
	}
}

/* Calls fn once for every chain that holds rules of ours in either state
 * and is not one of our chains. */
static int for_each_foreign_chain(const struct backend *b, const struct ours *x, const struct ours *y,
				  int (*fn)(const char *chain, void *ctx), void *ctx)
{
	const struct ours *both[2] = {x, y};
	int r = 0;

	for (size_t s = 0; r == 0 && s < 2; s++) {
		for (size_t i = 0; r == 0 && i < both[s]->rules.n; i++) {
			const char *chain = both[s]->rules.v[i].chain;
			bool seen = our_hook(b, chain) >= 0;
			for (size_t j = 0; !seen && j < i; j++)
				seen = !strcmp(both[s]->rules.v[j].chain, chain);
			for (size_t j = 0; !seen && s == 1 && j < x->rules.n; j++)
				seen = !strcmp(x->rules.v[j].chain, chain);
			if (!seen)
				r = fn(chain, ctx);
		}
	}
	return r;
}

struct diff_ctx {
	const struct backend *b;
	const struct tbl *t;
	struct plan *p;
	bool differs;
};

static int diff_foreign_chain(const char *chain, void *data)
{
	struct diff_ctx *c = data;
	const struct tbl *t = c->t;
	int r = 0;

	if (same_rules(&t->live, &t->want, chain, true))
		return 0;
	c->differs = true;
	for (size_t i = 0; r == 0 && i < t->live.rules.n; i++)
		if (!strcmp(t->live.rules.v[i].chain, chain))
			r = plan_add_diff(c->p, "- rule %s %s %s #%u: %s", family_name(t->family), t->name, chain,
					  t->live.rules.v[i].pos, ipt_rule_text(&t->live.rules.v[i]));
	for (size_t i = 0; r == 0 && i < t->want.rules.n; i++)
		if (!strcmp(t->want.rules.v[i].chain, chain))
			r = plan_add_diff(c->p, "+ rule %s %s: %s", family_name(t->family), t->name,
					  ipt_rule_text(&t->want.rules.v[i]));
	return r;
}

struct chain_diff {
	struct diff_ctx *c;
	const char *chain;
	struct ipt_rule **live, **want;
	struct plan_diff_cap cap;
};

static bool chain_diff_same(size_t ia, size_t ib, void *ctx)
{
	const struct chain_diff *cd = ctx;

	return ipt_rule_same(cd->live[ia], cd->want[ib]);
}

static int chain_diff_cb(enum seqdiff_op op, size_t ia, size_t ib, void *ctx)
{
	struct chain_diff *cd = ctx;
	const struct tbl *t = cd->c->t;

	if (op == SEQDIFF_DELETE)
		return plan_diff_cap_add(&cd->cap, "- rule %s %s %s #%u: %s", family_name(t->family), t->name,
					 cd->chain, cd->live[ia]->pos, ipt_rule_text(cd->live[ia]));
	if (op == SEQDIFF_INSERT)
		return plan_diff_cap_add(&cd->cap, "+ rule %s %s: %s", family_name(t->family), t->name,
					 ipt_rule_text(cd->want[ib]));
	return 0;
}

/* Like the nft backend: a shortest edit script between the live and the
 * wanted rules of one of our chains, so the diff names only what changed. */
static int diff_our_chain(struct diff_ctx *c, enum hook h)
{
	const struct tbl *t = c->t;
	struct chain_diff cd = {.c = c, .chain = c->b->chain[h], .cap = {.p = c->p}};
	char label[IPT_CHAIN_MAX * 2 + 8];
	size_t nl, nw;
	int r;

	if (t->live.chain[h] != t->want.chain[h]) {
		/* a whole chain comes or goes: its rules are counted, not
		 * listed (`compile` lists them), as nft's "+ table" line does */
		const struct ours *o = t->want.chain[h] ? &t->want : &t->live;
		size_t n = 0;
		for (size_t i = 0; i < o->rules.n; i++)
			n += !strcmp(o->rules.v[i].chain, cd.chain);
		c->differs = true;
		return plan_add_diff(c->p, "%c chain %s %s %s: %zu rule%s", t->want.chain[h] ? '+' : '-',
				     family_name(t->family), t->name, cd.chain, n, n == 1 ? "" : "s");
	}
	if (same_rules(&t->live, &t->want, cd.chain, false))
		return 0;
	c->differs = true;
	cd.live = calloc(t->live.rules.n + 1, sizeof(*cd.live));
	cd.want = calloc(t->want.rules.n + 1, sizeof(*cd.want));
	r = -ENOMEM;
	if (cd.live && cd.want) {
		nl = chain_rules(&t->live, cd.chain, cd.live, t->live.rules.n);
		nw = chain_rules(&t->want, cd.chain, cd.want, t->want.rules.n);
		r = seqdiff_by(nl, nw, chain_diff_same, chain_diff_cb, &cd);
	}
	snprintf(label, sizeof(label), "%s %s %s", family_name(t->family), t->name, cd.chain);
	if (r == 0)
		r = plan_diff_cap_end(&cd.cap, label);
	free(cd.live);
	free(cd.want);
	return r;
}

static int diff_table(const struct backend *b, struct tbl *t, struct plan *p)
{
	struct diff_ctx c = {.b = b, .t = t, .p = p};
	int r = 0;

	for (enum hook h = HOOK_PREROUTING; r == 0 && h <= HOOK_OUTPUT; h++)
		r = diff_our_chain(&c, h);
	if (r == 0)
		r = for_each_foreign_chain(b, &t->live, &t->want, diff_foreign_chain, &c);
	t->dirty = c.differs;
	return r;
}

/* ------------------------------------------------------------------ */
/* editing a snapshot                                                   */

struct edit_ctx {
	const struct backend *b;
	struct ipt_snap *t;
	const struct ours *cur, *want;
	bool insert; /* second pass: put the wanted rules in */
	struct diag *d;
};

static int edit_foreign_chain(const char *chain, void *data)
{
	struct edit_ctx *c = data;
	int r = 0;

	if (same_rules(c->cur, c->want, chain, true))
		return 0;
	if (!c->insert) {
		/* from the bottom up, so the positions above stay right */
		for (size_t i = c->cur->rules.n; r == 0 && i-- > 0;)
			if (!strcmp(c->cur->rules.v[i].chain, chain))
				r = ipt_snap_delete_rule(c->t, chain, c->cur->rules.v[i].pos, c->d);
		return r;
	}
	/* from the top down: once ours are gone, the others stand where they
	 * stood, so inserting at the recorded positions rebuilds the order */
	for (size_t i = 0; r == 0 && i < c->want->rules.n; i++)
		if (!strcmp(c->want->rules.v[i].chain, chain))
			r = ipt_snap_insert_rule(c->t, chain, c->want->rules.v[i].e, c->want->rules.v[i].pos, c->d);
	return r;
}

/* Changes the snapshot t, in which we own `cur` (as read_table() read it),
 * so that what we own becomes `want`, touching only the chains where it
 * differs.  Everything else stays as read. */
static int edit_table(const struct backend *b, struct ipt_snap *t, const struct ours *cur, const struct ours *want,
		      struct diag *d)
{
	struct edit_ctx c = {.b = b, .t = t, .cur = cur, .want = want, .d = d};
	int r;

	/* jumps and accepts out first: a chain with references cannot go */
	r = for_each_foreign_chain(b, cur, want, edit_foreign_chain, &c);
	for (enum hook h = HOOK_PREROUTING; r == 0 && h <= HOOK_OUTPUT; h++) {
		const char *chain = b->chain[h];
		if (cur->chain[h] == want->chain[h] && same_rules(cur, want, chain, false))
			continue;
		if (cur->chain[h])
			r = ipt_snap_flush_chain(t, chain, d);
		if (r == 0 && cur->chain[h] && !want->chain[h])
			r = ipt_snap_delete_chain(t, chain, d);
		if (r == 0 && !cur->chain[h] && want->chain[h])
			r = ipt_snap_create_chain(t, chain, d);
		for (size_t i = 0; r == 0 && i < want->rules.n; i++)
			if (!strcmp(want->rules.v[i].chain, chain))
				r = ipt_snap_append_rule(t, chain, want->rules.v[i].e, d);
	}
	c.insert = true;
	if (r == 0)
		r = for_each_foreign_chain(b, cur, want, edit_foreign_chain, &c);
	return r;
}

/* ------------------------------------------------------------------ */
/* the backend operations                                               */

static void ipt_plan_free(struct plan *p)
{
	struct ipt_plan *ip = p->priv;

	if (ip) {
		ipt_plan_data_free(ip);
		free(ip);
	}
	plan_free_diff(p);
	memset(p, 0, sizeof(*p));
}

static int ipt_plan(struct backend *b, const struct ruleset *rs, struct plan *p, struct diag *d)
{
	struct ipt_plan *ip = calloc(1, sizeof(*ip));
	int r;

	memset(p, 0, sizeof(*p));
	if (!ip)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	p->priv = ip;
	r = read_all(b, ip, READ_KEEP, &p->generation_before, d);
	if (r == 0 && rs)
		r = build_wanted(b, ip, rs, d);
	if (r < 0)
		goto fail;
	/* The commit edits fresh snapshots (replace_table()), and our rules
	 * were copied out: the chain names have served. */
	for (size_t i = 0; i < ip->n; i++)
		ipt_blob_free(&ip->v[i].blob);
	qsort(ip->v, ip->n, sizeof(*ip->v), tbl_order);
	for (size_t i = 0; i < ip->n; i++) {
		if (diff_table(b, &ip->v[i], p) < 0) {
			r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
			goto fail;
		}
		p->changed |= ip->v[i].dirty;
	}
	return 0;
fail:
	ipt_plan_free(p);
	return r;
}

/*
 * Replaces one table so that what we own in it becomes `want`: reads it
 * afresh (a table nobody had loaded is created here, not while planning),
 * edits it and commits it.  With `as_planned`, it must still be the table
 * plan() read.  We hold the xtables lock, so only a writer that ignores the
 * lock can have changed it; then -EAGAIN, as the kernel itself answers when
 * the number of rules moved between our read and our replace.  Undoing a
 * commit skips that check: it puts back what we owned on whatever is live.
 */
static int replace_table(struct backend *b, struct tbl *t, const struct ours *want, bool as_planned, struct diag *d)
{
	struct ipt_snap fresh;
	struct ours cur;
	uint64_t digest;
	int r;

	r = ipt_snap_open(&fresh, t->family, t->name, d);
	if (r == 0) {
		r = read_snap(b, &fresh, false, &cur, &digest, d);
		if (r == 0 && as_planned && t->loaded && digest != t->digest)
			r = diag_fail(d, DIAG_KERNEL, EAGAIN, NULL, "%s table %s changed since it was read",
				      t->family == FAMILY_IPV4 ? "iptables" : "ip6tables", t->name);
		if (r == 0)
			r = edit_table(b, &fresh, &cur, want, d);
		ours_free(&cur);
	}
	if (r == 0)
		r = ipt_snap_commit(&fresh, d);
	ipt_snap_close(&fresh);
	return r;
}

/* Whether table t still reads exactly as plan() read it. */
static bool table_as_read(struct backend *b, struct tbl *t)
{
	struct ipt_blob fresh;
	struct ours scratch;
	struct diag ignored;
	uint64_t digest;
	bool same = false;

	diag_init(&ignored);
	if (open_blob(&fresh, t->family, t->name, &ignored) == 0) {
		if (read_blob(b, &fresh, t->name, true, &scratch, &digest, &ignored) == 0)
			same = digest == t->digest;
		ours_free(&scratch);
		ipt_blob_free(&fresh);
	}
	diag_free(&ignored);
	return same;
}

/*
 * Undoes the tables replaced up to and including `failed`, newest first.
 * Returns how many were replaced before it; undo_errors collects what could
 * not be undone.
 *
 * libiptc's commit is two calls, the atomic replace and then the counters,
 * so a commit can fail after its table was replaced (the fault tests found
 * exactly that): the failed table is read back, and put back too unless it
 * still is the table we read.
 */
static size_t undo_tables(struct backend *b, struct ipt_plan *ip, size_t failed, struct strbuf *undo_errors)
{
	size_t replaced = 0;

	for (size_t j = failed + 1; j-- > 0;) {
		struct tbl *t = &ip->v[j];
		struct diag ud;
		if (!t->dirty || (j == failed && (!t->loaded || table_as_read(b, t))))
			continue;
		replaced += j != failed;
		diag_init(&ud);
		if (replace_table(b, t, &t->live, false, &ud) < 0)
			strbuf_printf(undo_errors, "; %s", ud.msg);
		diag_free(&ud);
	}
	return replaced;
}

/*
 * The order the tables are replaced in.  Each replace is atomic but the
 * set of them is not: a run killed between two leaves the first ones
 * replaced.  A NOTRACK rule live without its untracked accept drops the
 * untracked traffic in a stateful filter; an accept live without its
 * NOTRACK rule matches nothing.  So, per family, the filter tables go
 * first when the change leaves accepts in them, and last when it takes
 * them away: every moment in between is safe.
 */
static bool family_keeps_accepts(const struct ipt_plan *ip, unsigned family)
{
	for (size_t i = 0; i < ip->n; i++)
		if (ip->v[i].family == family && strcmp(ip->v[i].name, "raw") && ip->v[i].want.rules.n)
			return true;
	return false;
}

static int commit_order(const void *a, const void *b, void *ctx)
{
	const struct tbl *x = a, *y = b;
	const bool *accepts_first = ctx;
	int raw_x = !strcmp(x->name, "raw"), raw_y = !strcmp(y->name, "raw");

	if (x->family != y->family || raw_x == raw_y)
		return tbl_order(a, b);
	/* raw against a filter table of the same family */
	return accepts_first[x->family == FAMILY_IPV6] == (bool)raw_x ? 1 : -1;
}

static int ipt_commit(struct backend *b, struct plan *p, struct diag *d)
{
	struct ipt_plan *ip = p->priv;
	_cleanup_strbuf_ struct strbuf undo_errors;
	struct diag cd; /* why a table failed, until we know what else to say */
	size_t failed, replaced;
	int r = 0;

	strbuf_init(&undo_errors);
	diag_init(&cd);
	forget_last_read(b);
	bool accepts_first[2] = {family_keeps_accepts(ip, FAMILY_IPV4), family_keeps_accepts(ip, FAMILY_IPV6)};
	qsort_r(ip->v, ip->n, sizeof(*ip->v), commit_order, accepts_first);
	bool replaced_one = false;
	for (failed = 0; failed < ip->n; failed++) {
		if (!ip->v[failed].dirty)
			continue;
		/* the test seam between two replaces (txn.c) */
		if (replaced_one)
			txn_test_pause("between-tables");
		if ((r = replace_table(b, &ip->v[failed], &ip->v[failed].want, true, &cd)) < 0)
			break;
		replaced_one = true;
	}
	if (r == 0) {
		diag_free(&cd);
		return 0;
	}
	replaced = undo_tables(b, ip, failed, &undo_errors);
	if (undo_errors.len || undo_errors.oom)
		r = diag_fail(d, DIAG_KERNEL, -r, NULL,
			      "%s; putting back the tables already replaced failed too%s: the kernel now holds part "
			      "of the change, run the command again",
			      cd.msg, undo_errors.data ? undo_errors.data : "");
	else if (r == -EAGAIN)
		/* The kernel refuses a replace with EAGAIN when the table
		 * changed since we read it (someone ignored the xtables lock).
		 * Nothing of ours is applied now: plan again. */
		r = -ERESTART;
	else
		r = diag_fail(d, cd.kind, -r, NULL, "%s; %s", cd.msg,
			      replaced
				  ? "the tables already replaced were put back as they were, so nothing was applied"
				  : "nothing was applied");
	diag_free(&cd);
	return r;
}

/*
 * After commit(): one fresh read of every table, compared with what the
 * plan wanted, as plan() would compare it, without building the wanted
 * rules a second time (131,000 of them for a 10,000-port policy).  The
 * read is kept for owned() and generation().
 */
static int ipt_verify(struct backend *b, const struct plan *p, uint64_t *generation, struct diag *d)
{
	const struct ipt_plan *planned = p->priv;
	struct ipt_plan *now = calloc(1, sizeof(*now));
	struct plan check = {0};
	bool differs = false;
	int r;

	if (!now)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	r = read_all(b, now, READ_BORROW, generation, d);
	for (size_t i = 0; r == 0 && i < planned->n; i++) {
		const struct tbl *want = &planned->v[i];
		struct tbl *live = find_table(now, want->family, want->name);
		if (!live && !(live = plan_add_table(now, want->family, want->name))) {
			r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
			break;
		}
		/* the live table with the plan's wanted rules, borrowed */
		struct tbl both = *live;
		both.want = want->want;
		if (diff_table(b, &both, &check) < 0)
			r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
		differs |= both.dirty;
	}
	if (r == 0 && differs)
		r = diag_fail(d, DIAG_KERNEL, EIO, NULL,
			      "verification failed: after the commit the live ruleset still differs (%s)",
			      check.n_diff ? check.diff[0] : "no detail");
	plan_free_diff(&check);
	if (r < 0) {
		ipt_plan_data_free(now);
		free(now);
		return r;
	}
	qsort(now->v, now->n, sizeof(*now->v), tbl_order);
	forget_last_read(b);
	b->last_read = now;
	return 0;
}

static int ipt_generation(struct backend *b, uint64_t *out, struct diag *d)
{
	struct ipt_plan ip = {0};
	int r;

	if (b->last_read) {
		*out = b->last_read->generation;
		return 0;
	}
	r = read_all(b, &ip, READ_CLOSE, out, d);
	ipt_plan_data_free(&ip);
	return r;
}

/* Copies a NUL-terminated name into a field of n bytes. */
static void put_name(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);

	len = len < n - 1 ? len : n - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static int owned_from(const struct backend *b, const struct ipt_plan *ip, bool with_rules, struct owned_list *out,
		      struct diag *d)
{
	uint64_t digest = 0;

	for (size_t i = 0; i < ip->n; i++) {
		const struct tbl *t = &ip->v[i];
		const char *mixed_chain = NULL;
		/* only tables that hold something of ours in the digest count:
		 * loading another table (iptables -t mangle -S does) changes
		 * nothing of ours */
		bool table_mixed = t->live.chain[HOOK_PREROUTING] || t->live.chain[HOOK_OUTPUT];
		if (table_mixed)
			digest = hash_mix_str(hash_mix_str(digest, family_name(t->family)), t->name);
		for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++)
			if (t->live.chain[h])
				digest = hash_mix_str(digest, b->chain[h]);
		for (size_t j = 0; j < t->live.rules.n; j++) {
			const struct ipt_rule *lr = &t->live.rules.v[j];
			const char *comment;
			struct owned_object *o;
			bool own_chain = our_hook(b, lr->chain) >= 0;
			bool jump = !own_chain && our_hook(b, ipt_rule_target(lr)) >= 0;
			/* What our rules are, never where others' rules put them:
			 * a rule inserted ahead of a jump or an accept of ours
			 * moves it without changing it.  The accepts sit in
			 * others' chains, whose owners may reload them (owned.h),
			 * so they are not in the digest at all. */
			if (own_chain || jump) {
				if (!table_mixed)
					digest = hash_mix_str(hash_mix_str(digest, family_name(t->family)), t->name);
				table_mixed = true;
				/* rules come chain by chain, in order */
				if (!mixed_chain || strcmp(mixed_chain, lr->chain))
					digest = hash_mix_str(digest, mixed_chain = lr->chain);
				digest = hash_mix_u64(digest, lr->key);
			}
			if (own_chain && !with_rules) {
				out->rules++;
				continue;
			}
			comment = ipt_entry_comment(t->family, lr->e);
			o = owned_list_add(out);
			if (!o)
				return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
			o->kind = own_chain ? OWNED_RULE : jump ? OWNED_JUMP : OWNED_ACCEPT;
			put_name(o->family, sizeof(o->family), family_name(t->family));
			put_name(o->table, sizeof(o->table), t->name);
			put_name(o->chain, sizeof(o->chain), lr->chain);
			put_name(o->comment, sizeof(o->comment), comment ? comment : "");
			o->handle = lr->pos;
			o->not_first = o->kind == OWNED_ACCEPT && lr->pos != 1;
			o->has_counter = true;
			o->packets = lr->packets;
			o->bytes = lr->bytes;
		}
	}
	/* "xxh3p" for a digest with neither positions nor accepts; "xxh3"
	 * digests had both, and are not comparable with these */
	snprintf(out->digest, sizeof(out->digest), "xxh3p:%016" PRIx64, digest);
	return 0;
}

static int ipt_owned(struct backend *b, bool with_rules, struct owned_list *out, struct diag *d)
{
	struct ipt_plan ip = {0};
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (!b->last_read) {
		r = read_all(b, &ip, READ_CLOSE, NULL, d);
		qsort(ip.v, ip.n, sizeof(*ip.v), tbl_order);
	}
	if (r == 0)
		r = owned_from(b, b->last_read ? b->last_read : &ip, with_rules, out, d);
	if (r < 0)
		owned_list_free(out);
	ipt_plan_data_free(&ip);
	return r;
}

/* For --backend auto: the legacy tables this namespace has, and whether
 * anything is in them.  Only tables already loaded are opened, so probing
 * creates none. */
static int ipt_probe_tables(struct probe_list *out, struct diag *d)
{
	int r = 0;

	memset(out, 0, sizeof(*out));
	for (size_t f = 0; r == 0 && f < 2; f++) {
		char **names;
		size_t n;
		r = ipt_loaded_tables(families[f], &names, &n, d);
		for (size_t i = 0; r == 0 && i < n; i++) {
			struct probe_table *pt = probe_list_add(out);
			struct ipt_blob s;
			if (!pt) {
				r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
				break;
			}
			snprintf(pt->family, sizeof(pt->family), "%s", family_name(families[f]));
			snprintf(pt->name, sizeof(pt->name), "%s", names[i]);
			r = open_blob(&s, families[f], names[i], d);
			for (size_t c = 0; r == 0 && c < s.n_chains; c++) {
				const char *policy = s.chains[c].builtin ? s.chains[c].policy : NULL;
				if (!s.chains[c].builtin)
					pt->n_chains++;
				else if (!policy || strcmp(policy, "ACCEPT"))
					pt->in_use = true; /* a DROP policy filters with no rule at all */
				pt->n_rules += s.chains[c].n;
			}
			ipt_blob_free(&s);
			pt->in_use |= pt->n_rules || pt->n_chains;
		}
		ipt_names_free(names, n);
	}
	if (r < 0)
		probe_list_free(out);
	return r;
}

static int ipt_render(const struct ruleset *rs, struct strbuf *out)
{
	int r = emit_iptables_text(rs, FAMILY_IPV4, out);

	if (r == 0)
		r = emit_iptables_text(rs, FAMILY_IPV6, out);
	return r;
}

static int ipt_open(struct backend **out, const struct backend_options *opt, struct diag *d)
{
	struct backend *b = calloc(1, sizeof(*b));

	if (!b)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	snprintf(b->tag, sizeof(b->tag), "%s", opt->table);
	for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++)
		iptables_chain_name_for(opt->table, h, b->chain[h], sizeof(b->chain[h]));
	/* held from the first read to the last commit, like iptables-restore */
	b->lock_fd = xtables_lock_take(opt->lock_timeout_ms, d);
	if (b->lock_fd < 0) {
		int r = b->lock_fd;
		free(b);
		return r;
	}
	*out = b;
	return 0;
}

static void ipt_close(struct backend *b)
{
	if (!b)
		return;
	forget_last_read(b);
	if (b->lock_fd >= 0)
		close(b->lock_fd);
	free(b);
}

const struct backend_ops ipt_backend_ops = {
    .name = "iptables",
    .tables = BACKEND_TABLES_LEGACY,
    .probe = ipt_probe_tables,
    .open = ipt_open,
    .close = ipt_close,
    .plan = ipt_plan,
    .commit = ipt_commit,
    .plan_free = ipt_plan_free,
    .verify = ipt_verify,
    .generation = ipt_generation,
    .owned = ipt_owned,
    .render = ipt_render,
};

/* ------------------------------------------------------------------ */
/* for the tests                                                        */

static bool same_ours(const struct ours *x, const struct ours *y)
{
	if (x->chain[0] != y->chain[0] || x->chain[1] != y->chain[1] || x->rules.n != y->rules.n)
		return false;
	for (size_t i = 0; i < x->rules.n; i++) {
		const struct ipt_rule *a = &x->rules.v[i], *c = &y->rules.v[i];
		if (strcmp(a->chain, c->chain) || a->pos != c->pos || a->key != c->key || !ipt_rule_same(a, c) ||
		    a->packets != c->packets || a->bytes != c->bytes)
			return false;
	}
	return true;
}

int ipt_backend_read_check(const char *tag, FILE *out, struct diag *d)
{
	struct backend b = {.lock_fd = -1};
	int differ = 0, r = 0;

	snprintf(b.tag, sizeof(b.tag), "%s", tag);
	for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++)
		iptables_chain_name_for(tag, h, b.chain[h], sizeof(b.chain[h]));
	for (size_t f = 0; r == 0 && f < 2; f++) {
		char **names;
		size_t n;
		r = ipt_loaded_tables(families[f], &names, &n, d);
		for (size_t i = 0; r == 0 && i < n; i++) {
			struct ipt_snap snap;
			struct ipt_blob blob = {0};
			struct ours via_snap = {0}, via_blob = {0};
			uint64_t h_snap = 0, h_blob = 0;
			size_t chains = 0;
			r = ipt_snap_open(&snap, families[f], names[i], d);
			if (r == 0)
				r = read_snap(&b, &snap, false, &via_snap, &h_snap, d);
			ipt_snap_close(&snap);
			if (r == 0)
				r = open_blob(&blob, families[f], names[i], d);
			if (r == 0)
				r = read_blob(&b, &blob, names[i], false, &via_blob, &h_blob, d);
			chains = blob.n_chains;
			ipt_blob_free(&blob);
			if (r == 0) {
				bool same = h_snap == h_blob && same_ours(&via_snap, &via_blob);
				differ += !same;
				fprintf(out,
					"%s %s chains=%zu rules-of-ours=%zu digest libiptc=%016" PRIx64
					" blob=%016" PRIx64 " %s\n",
					family_name(families[f]), names[i], chains, via_blob.rules.n, h_snap, h_blob,
					same ? "same" : "DIFFER");
			}
			ours_free(&via_snap);
			ours_free(&via_blob);
		}
		ipt_names_free(names, n);
	}
	return r < 0 ? r : differ;
}
