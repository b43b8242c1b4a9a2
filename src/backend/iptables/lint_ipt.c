/*
 * The legacy iptables reader of the linter (see lint_ipt.h).  A rule is an
 * ipt_entry (ip6t_entry): the ip header part (addresses with masks,
 * interfaces with masks, protocol, inversion flags), then its matches, then
 * its target.  The matches and targets are the same xt structs iptables-nft
 * stores in its compat expressions, so lint_xt decodes them for both readers.
 *
 * The table is read as the kernel's blob (ipt_blob.h), not through libiptc,
 * whose own copy of every entry doubled what lint held on a kube-proxy host.
 * Two passes.  The first builds a small index: each chain's entries, and the
 * user chain each one jumps to (a jump looked up per visit by name would cost
 * a search each time).  The second walks every built-in chain, carrying the conditions
 * of the jumps down into the chains they reach, and decodes each entry where
 * it meets it: a decoded entry is a few hundred bytes, and kube-proxy's
 * tables hold tens of thousands, nearly all met once.
 */
#include "backend/iptables/lint_ipt.h"

#include <errno.h>
#include <libiptc/libip6tc.h>
#include <libiptc/libiptc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit/ipt_build.h"
#include "backend/iptables/ipt_blob.h"
#include "backend/iptables/ipt_transport.h"
#include "lint/lint_xt.h"
#include "util/hash.h"

#define MAX_DEPTH 16 /* jump nesting followed, as in the nft reader */

/* One entry, decoded on its own. */
struct entry {
	const void *e;
	const char *label;
	struct lint_sel sel;
	struct lint_xt xt;
	struct lint_xt_tg tg;
	long jump; /* the user chain it jumps or goes to (index into the table's chains), or -1 */
	bool go;   /* -g: a goto */
	bool skip; /* ours, or no target: read as if it were not there */
};

struct chain {
	const char *name;
	bool builtin;
	const char *policy; /* built-in chains: ACCEPT or DROP */
	size_t first, n;    /* its entries: the blob's rules[first .. first + n) */
	size_t at;	    /* its index in the blob's chains */
};

struct table {
	struct ipt_blob *t;
	const char *name;
	struct chain *chains; /* sorted by name; the blob's rules[].jump index this */
	size_t n;
};

struct reader {
	const struct lint_ipt_options *o;
	struct table *tb;
	struct lint_input *out;
	unsigned hook; /* LINT_HOOK_* of the built-in chain being walked */
	long filter;   /* index into out->chains of the filter chain being described, or -1 */
};

/* ------------------------------------------------------------------ */
/* one entry                                                            */

static int and_prefix(struct lint_sel *s, bool source, unsigned af, const uint8_t *addr, const uint8_t *mask,
		      bool invert, bool *widened)
{
	unsigned w = family_addr_len(af), bits = 0;
	struct lint_ranges set = {0};
	struct lint_range rg;
	bool ended = false;
	int e;

	for (unsigned i = 0; i < w * 8; i++) {
		bool one = mask[i / 8] & (0x80 >> (i % 8));
		if (one && ended) {
			*widened = true; /* not a prefix: left out */
			return 0;
		}
		bits += one;
		ended |= !one;
	}
	if (!bits)
		return 0; /* any address */
	lint_range_prefix(&rg, addr, bits, w);
	e = lint_ranges_set(&set, &rg, 1, w);
	if (e == 0 && invert)
		e = lint_ranges_not(&set, w);
	if (e == 0)
		e = lint_sel_and_addrs(s, source, af, &set);
	lint_ranges_free(&set);
	return e;
}

/* iptables stores "eth+" as "eth" with a mask that ends where the name
 * does, and "eth0" with a mask that covers its NUL too. */
static int and_iface(struct lint_sel *s, bool in, const char *name, const unsigned char *mask, bool invert)
{
	size_t len = strnlen(name, IFNAMSIZ);

	return len ? lint_sel_add_if(s, in, name, len < IFNAMSIZ && !mask[len], invert) : 0;
}

static int decode_header(unsigned family, const void *e, struct entry *x)
{
	bool wide = false;
	int r;

	if (family == FAMILY_IPV4) {
		const struct ipt_ip *ip = &((const struct ipt_entry *)e)->ip;
		r = and_prefix(&x->sel, true, FAMILY_IPV4, (const uint8_t *)&ip->src, (const uint8_t *)&ip->smsk,
			       ip->invflags & IPT_INV_SRCIP, &wide);
		if (r == 0)
			r = and_prefix(&x->sel, false, FAMILY_IPV4, (const uint8_t *)&ip->dst,
				       (const uint8_t *)&ip->dmsk, ip->invflags & IPT_INV_DSTIP, &wide);
		if (r == 0)
			r = and_iface(&x->sel, true, ip->iniface, ip->iniface_mask, ip->invflags & IPT_INV_VIA_IN);
		if (r == 0)
			r = and_iface(&x->sel, false, ip->outiface, ip->outiface_mask, ip->invflags & IPT_INV_VIA_OUT);
		if (ip->proto && !(ip->invflags & XT_INV_PROTO))
			lint_sel_and_proto(&x->sel, (uint8_t)ip->proto);
		x->go = ip->flags & IPT_F_GOTO;
	} else {
		const struct ip6t_ip6 *ip = &((const struct ip6t_entry *)e)->ipv6;
		r = and_prefix(&x->sel, true, FAMILY_IPV6, (const uint8_t *)&ip->src, (const uint8_t *)&ip->smsk,
			       ip->invflags & IP6T_INV_SRCIP, &wide);
		if (r == 0)
			r = and_prefix(&x->sel, false, FAMILY_IPV6, (const uint8_t *)&ip->dst,
				       (const uint8_t *)&ip->dmsk, ip->invflags & IP6T_INV_DSTIP, &wide);
		if (r == 0)
			r = and_iface(&x->sel, true, ip->iniface, ip->iniface_mask, ip->invflags & IP6T_INV_VIA_IN);
		if (r == 0)
			r = and_iface(&x->sel, false, ip->outiface, ip->outiface_mask, ip->invflags & IP6T_INV_VIA_OUT);
		if ((ip->flags & IP6T_F_PROTO) && !(ip->invflags & IP6T_INV_PROTO))
			lint_sel_and_proto(&x->sel, (uint8_t)ip->proto);
		x->go = ip->flags & IP6T_F_GOTO;
	}
	x->xt.widened |= wide;
	return r;
}

/* The hook a built-in chain is on, by its name; 0: not one we know. */
static unsigned builtin_hook(const char *name)
{
	static const struct {
		const char *name;
		unsigned hook;
	} hooks[] = {{"PREROUTING", LINT_HOOK_PREROUTING},
		     {"INPUT", LINT_HOOK_INPUT},
		     {"FORWARD", LINT_HOOK_FORWARD},
		     {"OUTPUT", LINT_HOOK_OUTPUT},
		     {"POSTROUTING", LINT_HOOK_POSTROUTING}};

	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		if (!strcmp(name, hooks[i].name))
			return hooks[i].hook;
	return 0;
}

/* NETMAP rewrites the destination before routing, the source after: in a
 * user chain, where the hook is not known (0), it is taken for a source NAT,
 * as the nft reader takes it. */
static int decode(const struct lint_ipt_options *o, const struct table *tb, const char *chain, unsigned hook,
		  const struct ipt_blob_rule *ref, struct entry *x)
{
	unsigned family = tb->t->family;
	const unsigned char *base = ref->e;
	size_t off = family == FAMILY_IPV4 ? sizeof(struct ipt_entry) : sizeof(struct ip6t_entry);
	size_t target = family == FAMILY_IPV4 ? ((const struct ipt_entry *)ref->e)->target_offset
					      : ((const struct ip6t_entry *)ref->e)->target_offset;
	const struct xt_entry_target *t = (const void *)(base + target);
	const char *comment = ipt_entry_comment(family, ref->e);
	int err;

	memset(x, 0, sizeof(*x));
	lint_sel_init(&x->sel, family);
	x->xt.sel = &x->sel;
	lint_xt_tg_init(&x->tg);
	x->e = ref->e;
	x->label = ref->label;
	x->jump = ref->jump;
	if (!x->label) {
		x->skip = true;
		return 0;
	}
	for (int h = 0; h < 2; h++)
		if (o->our_chains[h] && (!strcmp(chain, o->our_chains[h]) || !strcmp(x->label, o->our_chains[h])))
			x->skip = true;
	if (comment && o->tag && !strcmp(comment, o->tag))
		x->skip = true;
	if (x->skip)
		return 0;
	err = decode_header(family, x->e, x);
	while (err == 0 && off + sizeof(struct xt_entry_match) <= target) {
		const struct xt_entry_match *m = (const void *)(base + off);
		if (m->u.match_size < sizeof(*m))
			break; /* malformed: never loop forever */
		err = lint_xt_match(&x->xt, m->u.user.name, m->u.user.revision, m->data, m->u.match_size - sizeof(*m));
		off += m->u.match_size;
	}
	if (err == 0 && t->u.target_size >= sizeof(*t) && t->u.user.name[0] && strcmp(t->u.user.name, "ERROR"))
		err = lint_xt_target(&x->tg, t->u.user.name, t->u.user.revision, t->data, t->u.target_size - sizeof(*t),
				     family, hook == LINT_HOOK_PREROUTING || hook == LINT_HOOK_OUTPUT);
	return err;
}

static void entry_free(struct entry *x)
{
	lint_sel_free(&x->sel);
	lint_xt_tg_free(&x->tg);
}

/* The rule in words, as the nft reader says an iptables-nft rule: its own
 * selector (not the conditions of the jumps to it), what it does to
 * conntrack, and its verdict. */
static void rule_words(const struct entry *x, char *buf, size_t size)
{
	struct lint_sel shown = x->sel;
	struct strbuf sb;
	const char *l = x->label;

	shown.family = FAMILY_BOTH; /* the table's family goes without saying */
	strbuf_init(&sb);
	lint_sel_format(&shown, &sb);
	if (x->xt.words[0])
		strbuf_printf(&sb, "%s%s", sb.len ? " " : "", x->xt.words);
	if (x->tg.words[0])
		strbuf_printf(&sb, "%s%s", sb.len ? " " : "", x->tg.words);
	if (!strcmp(l, "ACCEPT") || !strcmp(l, "DROP") || !strcmp(l, "RETURN"))
		strbuf_printf(&sb, "%s%s", sb.len ? " " : "",
			      !strcmp(l, "ACCEPT") ? "accept"
			      : !strcmp(l, "DROP") ? "drop"
						   : "return");
	else if (x->jump >= 0)
		strbuf_printf(&sb, "%s%s %s", sb.len ? " " : "", x->go ? "goto" : "jump", l);
	snprintf(buf, size, "%s", sb.data ? sb.data : "");
	strbuf_free(&sb);
}

/* ------------------------------------------------------------------ */
/* what it hands the analyser                                           */

static bool is_kube(const char *chain)
{
	return !strncmp(chain, "KUBE-", 5);
}

static bool is_nat(enum ct_need n)
{
	return n == CT_NEED_DNAT || n == CT_NEED_SNAT || n == CT_NEED_MASQUERADE || n == CT_NEED_REDIRECT;
}

static int add_user(struct reader *rd, const char *chain, const struct entry *x, enum ct_need n,
		    const struct lint_sel *sel, bool kube, bool widened)
{
	struct ct_user *u = lint_input_add_user(rd->out);
	char words[LINT_RULE_MAX];
	int e;

	if (!u)
		return -ENOMEM;
	u->need = n;
	u->hooks = rd->hook;
	snprintf(u->family, sizeof(u->family), "%s", family_nft_name(rd->tb->t->family));
	rule_words(x, words, sizeof(words));
	e = lint_user_set_text(u, rd->tb->name, chain, words);
	lint_sel_free(&u->sel);
	if (e == 0)
		e = lint_sel_copy(&u->sel, sel);
	if (e == 0 && (n == CT_NEED_DNAT || n == CT_NEED_SNAT))
		for (int f = 0; f < FAMILY_SLOTS && e == 0; f++)
			e = lint_ranges_copy(&u->to_addr[f], &x->tg.to_addr[f]);
	if (e == 0 && is_nat(n))
		e = lint_ranges_copy(&u->to_port, &x->tg.to_port);
	u->ct_state = n == CT_NEED_STATE ? x->xt.ct_state : 0;
	u->accepts = !strcmp(x->label, "ACCEPT");
	u->limited = x->xt.limited;
	u->from_host = x->xt.from_host;
	u->nat_random = x->tg.nat_random;
	if (rd->filter >= 0) {
		/* what an untracked packet that skips this rule meets next */
		u->chain_index = rd->filter;
		u->chain_pos = rd->out->chains[rd->filter].n_rules;
	}
	u->kube = kube;
	u->widened = widened;
	return e < 0 ? e : lint_input_seal_user(rd->out);
}

/* What an untracked packet meets (the nft reader's rule, struct lint_vrule):
 * accepts that need no conntrack entry or take untracked ones too, and drops
 * unless they need a state other than untracked.  An accept with a match we
 * could not read is left out: it might not take the packet. */
static int add_vrule(struct reader *rd, const struct entry *x, const struct lint_sel *sel, bool widened)
{
	unsigned needs = x->xt.needs | x->tg.needs;
	bool untracked_too = x->xt.ct_state & LINT_CT_UNTRACKED;
	bool only_state = needs == (1u << CT_NEED_STATE);
	bool drop = !strcmp(x->label, "DROP") || x->tg.reject;
	struct lint_chain *c = &rd->out->chains[rd->filter];
	char text[LINT_RULE_MAX];

	if (!strcmp(x->label, "ACCEPT") && !widened && !x->xt.limited && (!needs || (only_state && untracked_too))) {
		rule_words(x, text, sizeof(text));
		return lint_chain_add_rule(c, LINT_V_ACCEPT, sel, text);
	}
	if (drop && !(only_state && x->xt.ct_state && !untracked_too)) {
		rule_words(x, text, sizeof(text));
		return lint_chain_add_rule(c, LINT_V_DROP, sel, text);
	}
	return 0;
}

static int add_notrack(struct reader *rd, const char *chain, unsigned pos, const struct entry *x,
		       const struct lint_sel *sel)
{
	struct lint_notrack *n;
	char words[LINT_RULE_MAX - 24];

	/* the raw table runs before conntrack; CT and NOTRACK are refused elsewhere */
	if (strcmp(rd->tb->name, "raw") || !(rd->hook & (LINT_HOOK_PREROUTING | LINT_HOOK_OUTPUT)))
		return 0;
	n = lint_input_add_notrack(rd->out);
	if (!n)
		return -ENOMEM;
	n->hook = rd->hook;
	n->legacy = true;
	snprintf(n->family, sizeof(n->family), "%s", family_nft_name(rd->tb->t->family));
	snprintf(n->table, sizeof(n->table), "raw");
	snprintf(n->chain, sizeof(n->chain), "%s", chain);
	rule_words(x, words, sizeof(words));
	snprintf(n->rule, sizeof(n->rule), "%s%snotrack, rule %u", words, words[0] ? " " : "", pos);
	lint_sel_free(&n->sel);
	return lint_sel_copy(&n->sel, sel);
}

static int walk(struct reader *rd, const struct chain *c, const struct lint_sel *carried, int depth, bool kube,
		bool widened)
{
	unsigned hook = c->builtin ? rd->hook : 0;
	int e = 0;

	kube |= is_kube(c->name);
	for (size_t i = 0; i < c->n && e == 0; i++) {
		struct entry x;
		struct lint_sel s = {0};
		bool wide;

		e = decode(rd->o, rd->tb, c->name, hook, &rd->tb->t->rules[c->first + i], &x);
		if (e == 0 && !x.skip)
			e = lint_sel_copy(&s, carried);
		if (e == 0 && !x.skip)
			e = lint_sel_and(&s, &x.sel);
		wide = widened || x.xt.widened;
		/* a rule of ours, or one no packet that gets here matches, is passed over */
		if (e == 0 && !x.skip && !lint_sel_empty(&s, LINT_DIR_IIF | LINT_DIR_OIF)) {
			unsigned needs = x.tg.notrack ? 0 : x.xt.needs | x.tg.needs;
			for (int n = 0; n <= CT_NEED_OTHER && e == 0 && rd->o->users; n++)
				if (needs & (1u << n))
					e = add_user(rd, c->name, &x, (enum ct_need)n, &s, kube, wide);
			if (e == 0 && rd->filter >= 0 && !x.tg.notrack)
				e = add_vrule(rd, &x, &s, wide);
			if (e == 0 && x.tg.notrack)
				e = add_notrack(rd, c->name, (unsigned)i + 1, &x, &s);
			if (e == 0 && x.jump >= 0 && depth < MAX_DEPTH)
				e = walk(rd, &rd->tb->chains[x.jump], &s, depth + 1, kube, wide);
			else if (e == 0 && x.jump >= 0)
				e = lint_input_add_note(
				    rd->out,
				    "jumps nested deeper than %d in the legacy %s %s table were not "
				    "followed",
				    MAX_DEPTH, ipt_family_label(rd->tb->t->family), rd->tb->name);
		}
		lint_sel_free(&s);
		entry_free(&x);
	}
	return e;
}

/* ------------------------------------------------------------------ */
/* one table                                                            */

static int chain_order(const void *a, const void *b)
{
	return strcmp(((const struct chain *)a)->name, ((const struct chain *)b)->name);
}

static void table_free(struct table *tb)
{
	free(tb->chains);
}

/* The index (see the top of the file): chains sorted by name, each with its
 * run of the blob's rules, whose jumps (resolved by the blob, once) are
 * turned into indexes of this order. */
static int index_table(struct table *tb)
{
	struct ipt_blob *b = tb->t;
	size_t *sorted_at = malloc((b->n_chains + 1) * sizeof(*sorted_at));

	tb->chains = malloc((b->n_chains + 1) * sizeof(*tb->chains));
	if (!tb->chains || !sorted_at) {
		free(sorted_at);
		return -ENOMEM;
	}
	for (size_t i = 0; i < b->n_chains; i++) {
		const struct ipt_blob_chain *c = &b->chains[i];
		tb->chains[tb->n++] = (struct chain){
		    .name = c->name, .builtin = c->builtin, .policy = c->policy, .first = c->first, .n = c->n, .at = i};
	}
	qsort(tb->chains, tb->n, sizeof(*tb->chains), chain_order);
	for (size_t i = 0; i < tb->n; i++)
		sorted_at[tb->chains[i].at] = i;
	for (size_t r = 0; r < b->n_rules; r++)
		if (b->rules[r].jump >= 0)
			b->rules[r].jump = (long)sorted_at[b->rules[r].jump];
	free(sorted_at);
	return 0;
}

static int add_filter_chain(struct reader *rd, const struct chain *c)
{
	const char *policy = c->policy;
	struct lint_chain *lc = lint_input_add_chain(rd->out);

	if (!lc)
		return -ENOMEM;
	lc->family = rd->tb->t->family;
	snprintf(lc->family_name, sizeof(lc->family_name), "%s", family_nft_name(rd->tb->t->family));
	snprintf(lc->table, sizeof(lc->table), "%s", rd->tb->name);
	snprintf(lc->chain, sizeof(lc->chain), "%s", c->name);
	lc->hook = rd->hook;
	lc->policy_drop = policy && !strcmp(policy, "DROP");
	lc->legacy = true;
	/* a backend that writes nftables puts no accept into a legacy chain */
	lc->owner_locked = rd->o->foreign_filter;
	rd->filter = (long)(lc - rd->out->chains);
	return 0;
}

static int walk_table(struct reader *rd)
{
	struct table *tb = rd->tb;
	bool raw = !strcmp(tb->name, "raw");
	int e = 0;

	for (size_t i = 0; i < tb->n && e == 0; i++) {
		const struct chain *c = &tb->chains[i];
		struct lint_sel any;
		if (!c->builtin || !(rd->hook = builtin_hook(c->name)))
			continue;
		if (!rd->o->users && !raw && !(rd->o->filter && !strcmp(tb->name, "filter")))
			continue;
		rd->filter = -1;
		if (rd->o->filter && !strcmp(tb->name, "filter") &&
		    (rd->hook & (LINT_HOOK_INPUT | LINT_HOOK_FORWARD | LINT_HOOK_OUTPUT)))
			e = add_filter_chain(rd, c);
		if (e < 0)
			break;
		lint_sel_init(&any, tb->t->family);
		e = walk(rd, c, &any, 0, false, false);
		lint_sel_free(&any);
	}
	return e;
}

/* What the analyser never reads: a comment, unless it is the one that
 * makes the rule ours (decode() reads those as if they were not there).  On
 * kube-proxy's tables every service rule carries one: 288 bytes of a
 * 488-byte entry. */
static bool drop_match(unsigned family, const void *e, const void *match, void *ctx)
{
	const struct xt_entry_match *m = match;
	const struct lint_ipt_options *o = ctx;
	const char *comment;

	if (strcmp(m->u.user.name, "comment"))
		return false;
	comment = ipt_entry_comment(family, e);
	return !o->tag || !comment || comment != (const char *)m->data || strcmp(comment, o->tag);
}

static int read_table(struct reader *rd, unsigned family, const char *name, struct diag *d)
{
	struct ipt_blob t;
	struct table tb = {.t = &t, .name = name};
	int e;

	e = ipt_blob_read(&t, family, name);
	/* before the users are made: the kernel's layout costs twice the rules' */
	if (e == 0)
		e = ipt_blob_compact(&t, drop_match, (void *)rd->o);
	if (e == -ENOMEM) {
		ipt_blob_free(&t);
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	}
	if (e < 0) {
		e = lint_input_add_note(rd->out,
					"the legacy %s %s table could not be read (%s): its rules were not "
					"checked",
					ipt_family_label(family), name, strerror(-e));
		return e < 0 ? diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory") : 0;
	}
	rd->tb = &tb;
	e = index_table(&tb);
	if (e == 0)
		e = walk_table(rd);
	table_free(&tb);
	ipt_blob_free(&t);
	rd->tb = NULL;
	return e < 0 ? diag_fail(d, DIAG_SYSTEM, -e, NULL, "lint: %s", strerror(-e)) : 0;
}

int lint_ipt_read(const struct lint_ipt_options *o, struct lint_input *out, struct diag *d)
{
	static const unsigned families[] = {FAMILY_IPV4, FAMILY_IPV6};
	/* in the order iptables-legacy-save lists them */
	static const char *const tables[] = {"raw", "mangle", "nat", "filter", "security"};
	struct reader rd = {.o = o, .out = out, .filter = -1};
	int e = 0;

	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]) && e == 0; f++) {
		char **names;
		size_t n;
		e = ipt_loaded_tables(families[f], &names, &n, d);
		if (e < 0)
			return e;
		for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]) && e == 0; i++) {
			bool wanted =
			    o->users || !strcmp(tables[i], "raw") || (o->filter && !strcmp(tables[i], "filter"));
			if (wanted && ipt_names_contain(names, n, tables[i]))
				e = read_table(&rd, families[f], tables[i], d);
		}
		ipt_names_free(names, n);
	}
	return e;
}

/* ------------------------------------------------------------------ */
/* the fingerprint                                                      */

/* An entry without comefrom and its counters (the kernel's to change),
 * whose offsets are the same in ipt_entry and ip6t_entry. */
static void fp_entry(struct fnv *h, unsigned family, const void *e)
{
	const unsigned char *b = e;
	size_t head =
	    family == FAMILY_IPV4 ? offsetof(struct ipt_entry, comefrom) : offsetof(struct ip6t_entry, comefrom);
	size_t elems = family == FAMILY_IPV4 ? offsetof(struct ipt_entry, elems) : offsetof(struct ip6t_entry, elems);
	size_t next = family == FAMILY_IPV4 ? ((const struct ipt_entry *)e)->next_offset
					    : ((const struct ip6t_entry *)e)->next_offset;

	fnv_add(h, b, head);
	if (next > elems)
		fnv_add(h, b + elems, next - elems);
}

uint64_t lint_ipt_fingerprint(void)
{
	static const unsigned families[] = {FAMILY_IPV4, FAMILY_IPV6};
	struct fnv h = fnv_init();
	bool any = false;

	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		struct diag ignored;
		char **names = NULL;
		size_t n = 0;
		diag_init(&ignored);
		if (ipt_loaded_tables(families[f], &names, &n, &ignored) < 0)
			fnv_add(&h, "?", 1);
		for (size_t i = 0; i < n; i++) {
			struct ipt_blob t;
			any = true;
			fnv_add(&h, names[i], strlen(names[i]) + 1);
			if (ipt_blob_read(&t, families[f], names[i]) < 0) {
				fnv_add(&h, "?", 1);
				continue;
			}
			for (size_t c = 0; c < t.n_chains; c++) {
				const char *name = t.chains[c].name, *policy = t.chains[c].policy;
				fnv_add(&h, name, strlen(name) + 1);
				fnv_add(&h, policy ? policy : "", policy ? strlen(policy) + 1 : 1);
				for (size_t r = t.chains[c].first; r < t.chains[c].first + t.chains[c].n; r++)
					fp_entry(&h, families[f], t.rules[r].e);
			}
			ipt_blob_free(&t);
		}
		ipt_names_free(names, n);
		diag_free(&ignored);
	}
	return any ? h.h : 0;
}
