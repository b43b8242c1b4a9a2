/*
 * The nftables backend.  Our rules live in one table, inet <table>, which we
 * replace as a whole; the only objects we place elsewhere are the tagged
 * untracked-accept rules at the head of other tables' filter chains, because
 * an accept in our own table would not save a packet from a drop in theirs.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "util/hash.h"
#include "emit/emit.h"
#include "backend/nft/lint_nft.h"
#include "backend/nft/nft_build.h"
#include "backend/nft/nft_transport.h"
#include "util/seqdiff.h"

#define NFT_TABLE_F_OWNER_FLAG 0x2 /* NFT_TABLE_F_OWNER: only the owning process may change the table */
#define DUMP_RETRIES 5

/* ------------------------------------------------------------------ */
/* the live ruleset                                                     */

struct live_table {
	uint32_t family;
	char name[256];
	uint32_t flags;
	bool xtables;	  /* managed by iptables-nft */
	bool filter_base; /* it has a base chain of type filter */
};

struct live_chain {
	uint32_t family;
	/* "table\0name\0type\0", one allocation that table starts: a
	 * kube-proxy host has a chain per service, 5,000 of them at 10,000 rules */
	char *table;
	const char *name;
	bool base;
	uint32_t hooknum;
	int32_t prio;
	uint32_t policy;
	const char *type; /* base chains: "filter", "nat", "route"; "" otherwise */
};

struct live_rule {
	struct nftnl_rule *r;	    /* NULL: only raw (see struct rule_dump) */
	const struct nlmsghdr *raw; /* in struct live's msgs */
	uint32_t family;
	const char *table, *chain;
	uint64_t handle;
	size_t position; /* index within its chain */
	bool ours;	 /* an untracked accept we inserted (tag comment) */
	bool xt;	 /* uses an iptables compat expression */
};

/* Blocks that the linter's kept messages (keep_raw()) are packed into, freed
 * together: 10,000 of them were as many allocations, each with its header. */
struct msg_block {
	struct msg_block *next;
	size_t used, size;
	char data[];
};

#define MSG_BLOCK_SIZE (64 * 1024)

struct live {
	uint32_t genid;
	struct live_table *tables;
	size_t n_tables;
	struct live_chain *chains;
	size_t n_chains;
	struct live_rule *rules;
	size_t n_rules;
	struct msg_block *msgs;
	struct nftnl_set **sets; /* sets of our table (the linter's read: everyone's, with elements) */
	size_t n_sets;
	struct nft_elems *elems; /* the elements of our sets, one for each of sets[] as read_once() read them */
	size_t n_elems;
	struct nftnl_obj **objs; /* the stateful objects of our table (ct timeout) */
	size_t n_objs;
	bool keep_anonymous; /* set_cb: keep anonymous sets too (the linter wants everyone's) */
	bool have_table;
	/* Rules read only from the tables a commit of ours can have changed
	 * (see keep_committed()): enough to verify it and to plan again, not
	 * for the linter, which reads everyone's. */
	bool partial;
};

struct backend {
	struct nft_sock sock;
	char table[RULESET_NAME_MAX];
	/* The last complete read of the ruleset, kept for the next read in this
	 * run: if the generation id has not moved, nothing has changed, and the
	 * verification, the record of what we own and the next plan all see the
	 * same ruleset without dumping 10,000 set elements again. */
	struct live cache;
	bool cached;
	/* Set while reading right after our own commit: the elements of our
	 * sets are these, not dumped again (see keep_committed()). */
	const struct nft_desired *elems_from;
	/* Our sets' elements as an earlier run last read them, at generation
	 * known_genid (known_load()).  While the generation id still reads
	 * that, nobody has committed since, so they are what a dump would
	 * return: a small change to a large set is planned without dumping it. */
	struct known_set *known;
	size_t n_known;
	uint32_t known_genid;
	/* the bytes known_load() was handed, parsed when first needed: a
	 * no-op apply never reads the set, and should not parse them */
	char *known_raw;
	size_t known_len;
	bool known_refused; /* a batch planned in this run was refused (nft_commit()) */
	bool lint_reading;  /* reading for the linter (see struct rule_dump) */
};

struct known_set {
	char name[NFT_SET_MAXNAMELEN];
	struct nft_elems elems;
};

static void live_free(struct live *l)
{
	for (size_t i = 0; i < l->n_chains; i++)
		free(l->chains[i].table);
	for (size_t i = 0; i < l->n_rules; i++) {
		if (l->rules[i].r)
			nftnl_rule_free(l->rules[i].r);
	}
	while (l->msgs) {
		struct msg_block *m = l->msgs;
		l->msgs = m->next;
		free(m);
	}
	for (size_t i = 0; i < l->n_sets; i++)
		nftnl_set_free(l->sets[i]);
	for (size_t i = 0; i < l->n_elems; i++)
		nft_elems_free(&l->elems[i]);
	for (size_t i = 0; i < l->n_objs; i++)
		nftnl_obj_free(l->objs[i]);
	free(l->objs);
	free(l->elems);
	free(l->tables);
	free(l->chains);
	free(l->rules);
	free(l->sets);
	memset(l, 0, sizeof(*l));
}

static void *grow(void *p, size_t n, size_t size)
{
	/* grows by doubling when n reaches a power of two */
	if (n && (n & (n - 1)))
		return p;
	return realloc(p, (n ? n * 2 : 8) * size);
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct live *l = data;
	struct nftnl_table *t = nftnl_table_alloc();
	struct live_table *lt;
	void *p;

	if (!t)
		return MNL_CB_ERROR;
	if (nftnl_table_nlmsg_parse(nlh, t) < 0)
		goto err;
	p = grow(l->tables, l->n_tables, sizeof(*l->tables));
	if (!p)
		goto err;
	l->tables = p;
	lt = &l->tables[l->n_tables++];
	memset(lt, 0, sizeof(*lt));
	lt->family = nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY);
	snprintf(lt->name, sizeof(lt->name), "%s", nftnl_table_get_str(t, NFTNL_TABLE_NAME));
	lt->flags = nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS);
	nftnl_table_free(t);
	return MNL_CB_OK;
err:
	nftnl_table_free(t);
	return MNL_CB_ERROR;
}

static int chain_names(struct live_chain *lc, const char *table, const char *name, const char *type)
{
	size_t lt = strlen(table) + 1, ln = strlen(name) + 1, ly = strlen(type) + 1;
	char *p = malloc(lt + ln + ly);

	if (!p)
		return -ENOMEM;
	memcpy(p, table, lt);
	memcpy(p + lt, name, ln);
	memcpy(p + lt + ln, type, ly);
	lc->table = p;
	lc->name = p + lt;
	lc->type = p + lt + ln;
	return 0;
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct live *l = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct live_chain *lc;
	void *p;

	if (!c)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) < 0)
		goto err;
	p = grow(l->chains, l->n_chains, sizeof(*l->chains));
	if (!p)
		goto err;
	l->chains = p;
	lc = &l->chains[l->n_chains];
	memset(lc, 0, sizeof(*lc));
	lc->family = nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY);
	lc->base = nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM);
	if (chain_names(lc, nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), nftnl_chain_get_str(c, NFTNL_CHAIN_NAME),
			lc->base && nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE) ? nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE)
									    : "") < 0)
		goto err;
	l->n_chains++;
	if (lc->base) {
		lc->hooknum = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
		lc->prio = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
		lc->policy =
		    nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) ? nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) : NF_ACCEPT;
	}
	nftnl_chain_free(c);
	return MNL_CB_OK;
err:
	nftnl_chain_free(c);
	return MNL_CB_ERROR;
}

static int xt_expr_cb(struct nftnl_expr *e, void *data)
{
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	if (name && (!strcmp(name, "match") || !strcmp(name, "target")))
		*(bool *)data = true;
	return 0;
}

/*
 * With raw_foreign (the linter's read), a rule that no plan looks at (not
 * ours, in a table without a filter base chain that is not ours either) is
 * kept as its netlink message, cut to what the linter reads of it
 * (lint_nft_rule_compact()), and decoded where the linter meets it:
 * kube-proxy's nat table at 10,000 rules is 8 MB of parsed expressions, or
 * 5.5 MB of whole messages (iptables-nft's comment match carries 256 bytes).
 */
struct rule_dump {
	struct live *l;
	const char *tag;
	bool raw_foreign;
	size_t cursor; /* the chain the last rule was in: rules come chain by chain */
};

/* The live chain a rule is in, for names that outlive its parsed form. */
static const struct live_chain *rule_chain(struct rule_dump *rd, uint32_t family, const char *table, const char *chain)
{
	const struct live *l = rd->l;

	for (size_t k = 0; k < l->n_chains; k++) {
		size_t i = (rd->cursor + k) % l->n_chains;
		const struct live_chain *c = &l->chains[i];
		if (c->family == family && !strcmp(c->name, chain) && !strcmp(c->table, table)) {
			rd->cursor = i;
			return c;
		}
	}
	return NULL;
}

static bool plan_reads(const struct rule_dump *rd, const struct live_rule *lr)
{
	if (lr->ours || (lr->family == NFPROTO_INET && !strcmp(lr->table, rd->tag)))
		return true;
	for (size_t t = 0; t < rd->l->n_tables; t++)
		if (rd->l->tables[t].family == lr->family && !strcmp(rd->l->tables[t].name, lr->table))
			return rd->l->tables[t].filter_base;
	return true;
}

/* What rule_cb() reads of a rule's message before deciding to parse it. */
struct rule_head {
	struct live_rule lr;
	const void *udata;
	uint32_t udata_len;
};

static int rule_head_cb(const struct nlattr *a, void *data)
{
	struct rule_head *h = data;

	switch (mnl_attr_get_type(a)) {
	case NFTA_RULE_TABLE:
	case NFTA_RULE_CHAIN:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
			return MNL_CB_ERROR;
		if (mnl_attr_get_type(a) == NFTA_RULE_TABLE)
			h->lr.table = mnl_attr_get_str(a);
		else
			h->lr.chain = mnl_attr_get_str(a);
		break;
	case NFTA_RULE_HANDLE:
		if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
			return MNL_CB_ERROR;
		h->lr.handle = be64toh(mnl_attr_get_u64(a));
		break;
	case NFTA_RULE_USERDATA:
		h->udata = mnl_attr_get_payload(a);
		h->udata_len = mnl_attr_get_payload_len(a);
		break;
	}
	return MNL_CB_OK;
}

/*
 * The linter's read (see struct rule_dump): a rule no plan reads, kept as its
 * message alone, without parsing it here.  0 when it was not (the caller
 * parses it), 1 when it was, or a negative errno.
 */
static int keep_raw(struct rule_dump *rd, const struct nlmsghdr *nlh)
{
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	struct rule_head h = {.lr.family = g->nfgen_family};
	char comment[NFT_USERDATA_MAXLEN];
	const char *c = NULL;
	const struct live_chain *lc;
	struct live *l = rd->l;
	void *p;

	if (mnl_attr_parse(nlh, sizeof(*g), rule_head_cb, &h) < 0 || !h.lr.table || !h.lr.chain)
		return 0;
	if (h.udata)
		c = nft_udata_comment(h.udata, h.udata_len, comment, sizeof(comment));
	h.lr.ours = c && strcmp(c, rd->tag) == 0;
	if (plan_reads(rd, &h.lr) || !(lc = rule_chain(rd, h.lr.family, h.lr.table, h.lr.chain)))
		return 0;
	h.lr.table = lc->table;
	h.lr.chain = lc->name;
	size_t room = LINT_NFT_COMPACT_MAX(nlh);
	if (!l->msgs || l->msgs->size - l->msgs->used < room) {
		size_t size = room > MSG_BLOCK_SIZE ? room : MSG_BLOCK_SIZE;
		struct msg_block *m = malloc(sizeof(*m) + size);
		if (!m)
			return -ENOMEM;
		*m = (struct msg_block){.next = l->msgs, .size = size};
		l->msgs = m;
	}
	h.lr.raw = (const struct nlmsghdr *)(l->msgs->data + l->msgs->used);
	size_t len = lint_nft_rule_compact(nlh, l->msgs->data + l->msgs->used, &h.lr.xt);
	if (!len)
		return 0; /* parsed instead */
	p = grow(l->rules, l->n_rules, sizeof(*l->rules));
	if (!p)
		return -ENOMEM;
	l->msgs->used += NLMSG_ALIGN(len);
	l->rules = p;
	l->rules[l->n_rules++] = h.lr;
	return 1;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rule_dump *rd = data;
	struct live *l = rd->l;
	struct nftnl_rule *r;
	struct live_rule *lr;
	char comment[NFT_USERDATA_MAXLEN];
	void *p;
	int k = rd->raw_foreign ? keep_raw(rd, nlh) : 0;

	if (k != 0)
		return k < 0 ? MNL_CB_ERROR : MNL_CB_OK;
	r = nftnl_rule_alloc();
	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) < 0) {
		nftnl_rule_free(r);
		return MNL_CB_ERROR;
	}
	p = grow(l->rules, l->n_rules, sizeof(*l->rules));
	if (!p) {
		nftnl_rule_free(r);
		return MNL_CB_ERROR;
	}
	l->rules = p;
	lr = &l->rules[l->n_rules++];
	memset(lr, 0, sizeof(*lr));
	lr->r = r;
	lr->family = nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY);
	lr->table = nftnl_rule_get_str(r, NFTNL_RULE_TABLE);
	lr->chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
	lr->handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
	const char *c = nft_rule_comment(r, comment, sizeof(comment));
	lr->ours = c && strcmp(c, rd->tag) == 0;
	nftnl_expr_foreach(r, xt_expr_cb, &lr->xt);
	return MNL_CB_OK;
}

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct live *l = data;
	struct nftnl_set *s = nftnl_set_alloc();
	void *p;

	if (!s)
		return MNL_CB_ERROR;
	if (nftnl_set_nlmsg_parse(nlh, s) < 0) {
		nftnl_set_free(s);
		return MNL_CB_ERROR;
	}
	/* anonymous sets belong to a rule and are compared through it */
	if (!l->keep_anonymous && (nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS)) {
		nftnl_set_free(s);
		return MNL_CB_OK;
	}
	p = grow(l->sets, l->n_sets, sizeof(*l->sets));
	if (!p) {
		nftnl_set_free(s);
		return MNL_CB_ERROR;
	}
	l->sets = p;
	l->sets[l->n_sets++] = s;
	return MNL_CB_OK;
}

static int obj_cb(const struct nlmsghdr *nlh, void *data)
{
	struct live *l = data;
	struct nftnl_obj *o = nftnl_obj_alloc();
	void *p;

	if (!o)
		return MNL_CB_ERROR;
	if (nftnl_obj_nlmsg_parse(nlh, o) < 0) {
		nftnl_obj_free(o);
		return MNL_CB_ERROR;
	}
	p = grow(l->objs, l->n_objs, sizeof(*l->objs));
	if (!p) {
		nftnl_obj_free(o);
		return MNL_CB_ERROR;
	}
	l->objs = p;
	l->objs[l->n_objs++] = o;
	return MNL_CB_OK;
}

static int setelem_cb(const struct nlmsghdr *nlh, void *data)
{
	return nftnl_set_elems_nlmsg_parse(nlh, data) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

/* The key and interval-end bit of one NFTA_LIST_ELEM. */
static int elem_key(const struct nlattr *elem, struct nft_elems *out)
{
	const struct nlattr *a, *v;
	const void *key = NULL;
	uint32_t len = 0, flags = 0;

	mnl_attr_for_each_nested(a, elem)
	{
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_FLAGS && mnl_attr_get_payload_len(a) == 4)
			flags = ntohl(mnl_attr_get_u32(a));
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_KEY)
			continue;
		mnl_attr_for_each_nested(v, a)
		{
			if (mnl_attr_get_type(v) == NFTA_DATA_VALUE) {
				key = mnl_attr_get_payload(v);
				len = mnl_attr_get_payload_len(v);
			}
		}
	}
	if (!key)
		return -EPROTO;
	return nft_elems_add(out, key, len, flags & NFT_SET_ELEM_INTERVAL_END);
}

/* Our sets' elements straight into plain keys (see struct nft_elems). */
static int setelem_keys_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a, *e;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
	{
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(e, a)
		{
			if (elem_key(e, data) < 0)
				return MNL_CB_ERROR;
		}
	}
	return MNL_CB_OK;
}

static int dump_kind(struct backend *b, uint16_t type, uint16_t family, mnl_cb_t cb, void *data,
		     void (*filter)(struct nlmsghdr *, void *), void *filter_data, struct diag *d)
{
	char buf[4096] = {0}; /* netlink padding must not carry stack garbage to the kernel */
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, type, family, NLM_F_DUMP, 0);

	if (filter)
		filter(nlh, filter_data);
	return nft_dump(&b->sock, nlh, cb, data, d);
}

static void set_filter(struct nlmsghdr *nlh, void *data)
{
	struct nftnl_set *s = nftnl_set_alloc();

	nftnl_set_set_str(s, NFTNL_SET_TABLE, data);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
}

static void obj_filter(struct nlmsghdr *nlh, void *data)
{
	struct nftnl_obj *o = nftnl_obj_alloc();

	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, data);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
}

static void setelem_filter(struct nlmsghdr *nlh, void *data)
{
	nftnl_set_elems_nlmsg_build_payload(nlh, data);
}

static bool is_our_table(const struct backend *b, uint32_t family, const char *name)
{
	return family == NFPROTO_INET && strcmp(name, b->table) == 0;
}

/*
 * iptables-nft keeps its rules in ip and ip6 tables named like iptables'
 * tables, with base chains named like its built-in chains.  It translates
 * the matches it can into native expressions, so a table of iptables-nft
 * may hold no xt expression at all (only "-p tcp --dport 22 -j ACCEPT"),
 * yet a native "ct state" rule placed there still makes iptables-nft-save
 * give up on the whole table.  Its shape tells it apart.
 */
static bool iptables_nft_shape(const struct live *l, const struct live_table *t)
{
	static const char *const tables[] = {"filter", "raw", "mangle", "nat", "security"};
	static const char *const chains[] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};
	bool named = false;

	if (t->family != NFPROTO_IPV4 && t->family != NFPROTO_IPV6)
		return false;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		named |= !strcmp(t->name, tables[i]);
	for (size_t i = 0; named && i < l->n_chains; i++) {
		const struct live_chain *c = &l->chains[i];
		if (c->family != t->family || strcmp(c->table, t->name) || !c->base)
			continue;
		for (size_t j = 0; j < sizeof(chains) / sizeof(chains[0]); j++)
			if (!strcmp(c->name, chains[j]))
				return true;
	}
	return false;
}

/* The elements of the desired set that the kernel's set `s` is, by name and kind. */
static const struct nft_elems *find_desired_elems(const struct nft_desired *dd, const struct nftnl_set *s)
{
	const char *name = nftnl_set_get_str(s, NFTNL_SET_NAME);

	for (size_t i = 0; i < dd->n_sets; i++)
		if (!strcmp(nftnl_set_get_str(dd->sets[i], NFTNL_SET_NAME), name))
			return nft_set_same_kind(s, dd->sets[i]) ? &dd->set_elems[i] : NULL;
	return NULL;
}

/*
 * A test seam.  With NOTRACKCTL_TEST_DUMP_LOG set to a file, every dump of
 * one of our sets' elements appends "elements NAME" to it: the tests check
 * that a change planned from what the last run knew dumps nothing, and that
 * anything else still does.  Unset, it costs one getenv() per dump.
 */
static void dump_log(const struct nftnl_set *s)
{
	const char *path = getenv("NOTRACKCTL_TEST_DUMP_LOG");
	FILE *f;

	if (!path || !*path || !(f = fopen(path, "ae")))
		return;
	fprintf(f, "elements %s\n", nftnl_set_get_str(s, NFTNL_SET_NAME));
	fclose(f);
}

static void known_parse(struct backend *b);
static void known_free(struct backend *b);

/* Moves the elements of our set `s` as an earlier run knew them into
 * `out`, if the generation has not moved since: 1, else 0.  Taken once: a
 * later read at the same generation finds the cache (read_live()) or dumps. */
static int take_known(struct backend *b, uint32_t genid, const struct nftnl_set *s, struct nft_elems *out)
{
	const char *name = nftnl_set_get_str(s, NFTNL_SET_NAME);

	if (b->known_raw)
		known_parse(b);
	for (size_t i = 0; b->n_known && genid == b->known_genid && i < b->n_known; i++)
		if (!strcmp(b->known[i].name, name)) {
			*out = b->known[i].elems;
			memset(&b->known[i].elems, 0, sizeof(b->known[i].elems));
			b->known[i].name[0] = '\0'; /* no set is named "" */
			return 1;
		}
	return 0;
}

static void rule_table_filter(struct nlmsghdr *nlh, void *data)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, data);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
}

static void rule_chain_filter(struct nlmsghdr *nlh, void *data)
{
	const struct live_chain *c = data;
	struct nftnl_rule *r = nftnl_rule_alloc();

	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, c->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, c->name);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
}

static bool same_table(uint32_t family, const char *table, uint32_t f2, const char *t2)
{
	return family == f2 && !strcmp(table, t2);
}

struct nft_plan;
static bool committed_table(const struct backend *b, const struct live *l, const struct nft_plan *np,
			    const struct live_table *t);

/*
 * The kernel dumps rules in skbs of at most 32 KiB, and each one after the
 * first starts by walking the table (or the one chain asked for) from its
 * first rule to where the last one stopped: a dump costs the square of its
 * rules.  kube-proxy's table at 50,000 rules is 25,000 chains; asked chain
 * by chain (the kernel finds a named chain by hash), only the longest
 * chain's square remains, at a round trip per chain.  Below this many chains
 * a table is dumped whole, which is as fast there.
 */
#define LARGE_TABLE_CHAINS 1000

/* Whether t (any table, when NULL) has LARGE_TABLE_CHAINS or more chains. */
static bool large_table(const struct live *l, const struct live_table *t)
{
	size_t run = 0;

	/* the kernel lists chains table by table */
	for (size_t i = 0; i < l->n_chains; i++) {
		const struct live_chain *c = &l->chains[i], *prev = i ? &l->chains[i - 1] : NULL;
		if (t && !same_table(c->family, c->table, t->family, t->name))
			continue;
		run = prev && same_table(c->family, c->table, prev->family, prev->table) ? run + 1 : 1;
		if (run >= LARGE_TABLE_CHAINS)
			return true;
	}
	return false;
}

/* The rules, table by table (only committed_table()'s if committed), a
 * large table chain by chain. */
static int dump_rules_by_table(struct backend *b, struct live *l, const struct nft_plan *committed,
			       struct rule_dump *rd, struct diag *d)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < l->n_tables; i++) {
		const struct live_table *t = &l->tables[i];
		if (committed && !committed_table(b, l, committed, t)) {
			l->partial = true;
			continue;
		}
		if (!large_table(l, t)) {
			r = dump_kind(b, NFT_MSG_GETRULE, (uint16_t)t->family, rule_cb, rd, rule_table_filter,
				      (void *)t->name, d);
			continue;
		}
		for (size_t j = 0; r == 0 && j < l->n_chains; j++)
			if (same_table(l->chains[j].family, l->chains[j].table, t->family, t->name))
				r = dump_kind(b, NFT_MSG_GETRULE, (uint16_t)t->family, rule_cb, rd, rule_chain_filter,
					      &l->chains[j], d);
	}
	return r;
}

/*
 * Reads the ruleset.  With committed (a plan just committed), only the rules
 * of the tables that commit can have changed (committed_table()): a
 * kube-proxy host's 10,000 NAT rules are not dumped and parsed again to
 * verify an untracked accept in its filter table.
 */
static int read_once(struct backend *b, struct live *l, const struct nft_plan *committed, struct diag *d)
{
	struct rule_dump rd = {.l = l, .tag = b->table, .raw_foreign = b->lint_reading};
	uint32_t genid_after;
	int r;

	r = nft_get_genid(&b->sock, &l->genid, d);
	if (r == 0)
		r = dump_kind(b, NFT_MSG_GETTABLE, NFPROTO_UNSPEC, table_cb, l, NULL, NULL, d);
	if (r == 0)
		r = dump_kind(b, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, chain_cb, l, NULL, NULL, d);
	for (size_t i = 0; r == 0 && i < l->n_chains; i++) {
		const struct live_chain *c = &l->chains[i];
		for (size_t t = 0; c->base && !strcmp(c->type, "filter") && t < l->n_tables; t++)
			if (same_table(c->family, c->table, l->tables[t].family, l->tables[t].name))
				l->tables[t].filter_base = true;
	}
	if (r == 0 && !committed && !large_table(l, NULL))
		r = dump_kind(b, NFT_MSG_GETRULE, NFPROTO_UNSPEC, rule_cb, &rd, NULL, NULL, d);
	else if (r == 0)
		r = dump_rules_by_table(b, l, committed, &rd, d);
	if (r < 0)
		return r;
	for (size_t i = 0; i < l->n_tables; i++)
		l->have_table |= is_our_table(b, l->tables[i].family, l->tables[i].name);
	if (l->have_table) {
		r = dump_kind(b, NFT_MSG_GETSET, NFPROTO_INET, set_cb, l, set_filter, b->table, d);
		/* the ct timeout objects: a few, read whole each time */
		if (r == 0)
			r = dump_kind(b, NFT_MSG_GETOBJ, NFPROTO_INET, obj_cb, l, obj_filter, b->table, d);
		l->elems = calloc(l->n_sets + 1, sizeof(*l->elems));
		if (r == 0 && !l->elems)
			r = -ENOMEM;
		for (size_t i = 0; r == 0 && i < l->n_sets; i++) {
			const struct nft_elems *known =
			    b->elems_from ? find_desired_elems(b->elems_from, l->sets[i]) : NULL;
			l->n_elems++;
			if (known)
				r = nft_elems_copy(&l->elems[i], known);
			else if (!b->elems_from && take_known(b, l->genid, l->sets[i], &l->elems[i]))
				r = 0;
			else {
				dump_log(l->sets[i]);
				r = dump_kind(b, NFT_MSG_GETSETELEM, NFPROTO_INET, setelem_keys_cb, &l->elems[i],
					      setelem_filter, l->sets[i], d);
			}
		}
		if (r < 0)
			return r;
	}
	/* positions, and which tables iptables-nft manages */
	for (size_t i = 0; i < l->n_rules; i++) {
		struct live_rule *lr = &l->rules[i], *prev = i ? &l->rules[i - 1] : NULL;
		/* the kernel dumps table by table, chain by chain, rules in order */
		if (prev && prev->family == lr->family && !strcmp(prev->table, lr->table) &&
		    !strcmp(prev->chain, lr->chain))
			lr->position = prev->position + 1;
		if (!lr->xt)
			continue;
		for (size_t t = 0; t < l->n_tables; t++)
			if (l->tables[t].family == lr->family && !strcmp(l->tables[t].name, lr->table))
				l->tables[t].xtables = true;
	}
	for (size_t t = 0; t < l->n_tables; t++)
		l->tables[t].xtables |= iptables_nft_shape(l, &l->tables[t]);
	/* a dump is not atomic across object kinds: make sure nothing moved meanwhile */
	r = nft_get_genid(&b->sock, &genid_after, d);
	if (r < 0)
		return r;
	return genid_after == l->genid ? 0 : -EINTR;
}

/* Hands a complete read over to the backend's cache (see struct backend). */
static void live_keep(struct backend *b, struct live *l)
{
	if (b->cached)
		live_free(&b->cache);
	b->cache = *l;
	b->cached = true;
	memset(l, 0, sizeof(*l));
}

/* A read of the ruleset, the cached one if nothing was committed since it;
 * every table's rules when all (see struct live's partial). */
static int read_live(struct backend *b, struct live *l, bool all, struct diag *d)
{
	int r = -EINTR;

	live_free(l);
	if (b->cached) {
		uint32_t genid;
		r = nft_get_genid(&b->sock, &genid, d);
		if (r < 0)
			return r;
		if (genid == b->cache.genid && (!all || !b->cache.partial)) {
			*l = b->cache;
			memset(&b->cache, 0, sizeof(b->cache));
			b->cached = false;
			return 0;
		}
		live_free(&b->cache);
		b->cached = false;
		r = -EINTR;
	}
	for (int attempt = 0; attempt < DUMP_RETRIES && r == -EINTR; attempt++) {
		live_free(l);
		r = read_once(b, l, NULL, d);
	}
	if (r == -EINTR)
		return diag_fail(d, DIAG_KERNEL, EAGAIN, NULL,
				 "the ruleset kept changing while it was being read (%d attempts); try again",
				 DUMP_RETRIES);
	return r;
}

/* ------------------------------------------------------------------ */
/* planning                                                             */

struct accept_target {
	uint32_t family;
	char table[256];
	char chain[256];
	bool xtables;
	char origin[POLICY_PATH_MAX]; /* the policy entry that named the chain, "" for auto */
};

struct nft_plan {
	struct backend *b;
	struct live live;
	struct nft_desired desired;
	bool have_desired;
	bool delete_table, create_table;
	struct live_rule **accept_deletes;
	size_t n_accept_deletes;
	struct accept_target *accept_inserts;
	size_t n_accept_inserts;
	char tag[RULESET_NAME_MAX];
	const struct ruleset *rs; /* what was planned for, NULL: nothing of ours */
	bool live_complete;	  /* live is a whole, consistent read: worth keeping */
	/* Our table changed in place rather than deleted and created again:
	 * the batch carries only what differs (see diff_table()). */
	bool incremental;
	struct set_change *set_changes;
	size_t n_set_changes;
	struct live_rule **rule_deletes;
	size_t n_rule_deletes;
	struct rule_insert *rule_inserts;
	size_t n_rule_inserts;
};

enum set_change_kind {
	SET_ADD,     /* a new set */
	SET_DEL,     /* a set we no longer want */
	SET_REBUILD, /* its type or flags changed: deleted and created again */
	SET_ELEMS,   /* the same kind of set: elements deleted and added */
};

struct set_change {
	enum set_change_kind kind;
	const struct nftnl_set *want; /* SET_ADD, SET_REBUILD, SET_ELEMS */
	struct nft_elems *want_elems; /* its elements */
	const struct nftnl_set *have; /* SET_DEL, SET_REBUILD, SET_ELEMS */
	struct nft_set_delta delta;   /* SET_ELEMS */
};

/* A desired rule that is not live: it goes right before the live rule
 * with handle `before`, or at the end of its chain when that is 0.  Runs
 * inserted before the same rule keep their order. */
struct rule_insert {
	size_t want; /* index into nft_desired.rules */
	uint64_t before;
};

/*
 * Whether a read right after the commit of np must hold the rules of this
 * table: ours; one with a filter base chain (where an automatic untracked
 * accept goes); one the policy names a chain of; one the plan put an accept
 * into or took one out of.  Our commit changed nothing elsewhere, and the
 * read it was planned on found no accept of ours elsewhere to keep.
 */
static bool committed_table(const struct backend *b, const struct live *l, const struct nft_plan *np,
			    const struct live_table *t)
{
	if (is_our_table(b, t->family, t->name))
		return true;
	for (size_t i = 0; i < l->n_chains; i++)
		if (l->chains[i].base && !strcmp(l->chains[i].type, "filter") &&
		    same_table(l->chains[i].family, l->chains[i].table, t->family, t->name))
			return true;
	for (size_t i = 0; np->rs && i < np->rs->n_accept_chains; i++)
		if (!strcmp(np->rs->accept_chains[i].table, t->name))
			return true;
	for (size_t i = 0; i < np->n_accept_inserts; i++)
		if (same_table(np->accept_inserts[i].family, np->accept_inserts[i].table, t->family, t->name))
			return true;
	for (size_t i = 0; i < np->n_accept_deletes; i++)
		if (same_table(np->accept_deletes[i]->family, np->accept_deletes[i]->table, t->family, t->name))
			return true;
	return false;
}

static const char *family_str(uint32_t f)
{
	switch (f) {
	case NFPROTO_INET: return "inet";
	case NFPROTO_IPV4: return "ip";
	case NFPROTO_IPV6: return "ip6";
	case NFPROTO_ARP: return "arp";
	case NFPROTO_BRIDGE: return "bridge";
	case NFPROTO_NETDEV: return "netdev";
	default: return "unknown";
	}
}

static const char *hook_str(uint32_t h)
{
	static const char *const names[] = {"prerouting", "input", "forward", "output", "postrouting"};
	return h < 5 ? names[h] : "ingress";
}

static int chain_canon(const struct live_chain *c, struct strbuf *out)
{
	return strbuf_printf(out, "chain %s type %s hook %s prio %d policy %u\n", c->name, c->type,
			     hook_str(c->hooknum), c->prio, c->policy);
}

static int desired_chain_canon(const struct nftnl_chain *c, struct strbuf *out)
{
	return strbuf_printf(out, "chain %s type %s hook %s prio %d policy %u\n",
			     nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE),
			     hook_str(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM)),
			     nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY));
}

static const struct nftnl_chain *find_desired_chain(const struct nft_desired *dd, const char *name)
{
	for (size_t i = 0; i < dd->n_chains; i++)
		if (!strcmp(nftnl_chain_get_str(dd->chains[i], NFTNL_CHAIN_NAME), name))
			return dd->chains[i];
	return NULL;
}

/* An object as the kernel holds it: name, type, and for a ct timeout its
 * protocol and every state's timeout (the kernel dumps them all). */
static int obj_canon(struct nftnl_obj *o, struct strbuf *out)
{
	uint32_t len = 0;
	const uint32_t *v = NULL;

	strbuf_printf(out, "obj %s type %u", nftnl_obj_get_str(o, NFTNL_OBJ_NAME),
		      nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE));
	if (nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE) == NFT_OBJECT_CT_TIMEOUT) {
		strbuf_printf(out, " l4 %u", nftnl_obj_get_u8(o, NFTNL_OBJ_CT_TIMEOUT_L4PROTO));
		v = nftnl_obj_get_data(o, NFTNL_OBJ_CT_TIMEOUT_ARRAY, &len);
		/* only the protocol's own states: the rest of the array is unused */
		for (unsigned i = 0; v && i < ct_timeout_states(nftnl_obj_get_u8(o, NFTNL_OBJ_CT_TIMEOUT_L4PROTO)) &&
				     (i + 1) * sizeof(*v) <= len;
		     i++)
			strbuf_printf(out, " %u", v[i]);
	}
	return strbuf_putc(out, '\n');
}

static struct nftnl_obj *find_obj(struct nftnl_obj *const *objs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(nftnl_obj_get_str(objs[i], NFTNL_OBJ_NAME), name))
			return objs[i];
	return NULL;
}

static const struct nftnl_set *find_set(struct nftnl_set *const *sets, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(nftnl_set_get_str(sets[i], NFTNL_SET_NAME), name))
			return sets[i];
	return NULL;
}

static bool live_rule_in_our_table(const struct backend *b, const struct live_rule *lr)
{
	return is_our_table(b, lr->family, lr->table);
}

/* The diff lists at most this many elements of one set, then a count. */
#define SET_DIFF_ELEMS_MAX 16

struct rule_diff_op {
	enum seqdiff_op op;
	size_t ia, ib;
};

struct rule_diff {
	const struct ruleset *rs;
	struct plan *p;
	const char *chain;
	const struct rule **want_ir; /* desired rules of this chain, IR */
	size_t *want_idx;	     /* their index in nft_desired.rules */
	struct live_rule **have;     /* live rules of this chain */
	struct rule_diff_op *ops;    /* the edit script, in chain order */
	size_t n_ops;
	bool differs;
	struct plan_diff_cap cap; /* the lines of this chain's changes */
};

static int rule_diff_cb(enum seqdiff_op op, size_t ia, size_t ib, void *ctx)
{
	struct rule_diff *rd = ctx;
	char comment[NFT_USERDATA_MAXLEN];

	rd->ops[rd->n_ops++] = (struct rule_diff_op){op, ia, ib};
	if (op == SEQDIFF_SAME)
		return 0;
	rd->differs = true;
	if (plan_diff_cap_full(&rd->cap))
		return 0; /* counted, not formatted */
	if (op == SEQDIFF_DELETE)
		return plan_diff_cap_add(&rd->cap, "- rule %s: handle %llu comment \"%s\"", rd->chain,
					 (unsigned long long)rd->have[ia]->handle,
					 nft_rule_comment(rd->have[ia]->r, comment, sizeof(comment)) ?: "");
	_cleanup_strbuf_ struct strbuf text;
	strbuf_init(&text);
	emit_nft_rule(rd->rs, rd->want_ir[ib], &text);
	return text.oom ? -ENOMEM : plan_diff_cap_add(&rd->cap, "+ rule %s: %s", rd->chain, text.data ? text.data : "");
}

/* Turns one chain's edit script into deletes by handle and inserts placed
 * before the next rule that stays. */
static int plan_rule_edits(struct nft_plan *np, const struct rule_diff *rd)
{
	uint64_t before = 0;
	uint64_t *anchors = calloc(rd->n_ops + 1, sizeof(*anchors));
	int r = 0;

	if (!anchors)
		return -ENOMEM;
	for (size_t k = rd->n_ops; k-- > 0;) {
		if (rd->ops[k].op == SEQDIFF_SAME)
			before = rd->have[rd->ops[k].ia]->handle;
		anchors[k] = before;
	}
	for (size_t k = 0; r == 0 && k < rd->n_ops; k++) {
		const struct rule_diff_op *o = &rd->ops[k];
		if (o->op == SEQDIFF_DELETE) {
			struct live_rule **p =
			    realloc(np->rule_deletes, (np->n_rule_deletes + 1) * sizeof(*np->rule_deletes));
			if (!p)
				r = -ENOMEM;
			else
				(np->rule_deletes = p)[np->n_rule_deletes++] = rd->have[o->ia];
		} else if (o->op == SEQDIFF_INSERT) {
			struct rule_insert *p =
			    realloc(np->rule_inserts, (np->n_rule_inserts + 1) * sizeof(*np->rule_inserts));
			if (!p)
				r = -ENOMEM;
			else
				(np->rule_inserts = p)[np->n_rule_inserts++] =
				    (struct rule_insert){rd->want_idx[o->ib], anchors[k]};
		}
	}
	free(anchors);
	return r;
}

/* A live rule that looks up a set being deleted or created again must go
 * too: the kernel binds a lookup to the set object, not to its name. */
static bool uses_replaced_set(const struct nft_plan *np, const char *canon)
{
	char needle[300];

	for (size_t i = 0; i < np->n_set_changes; i++) {
		const struct set_change *c = &np->set_changes[i];
		if (c->kind != SET_DEL && c->kind != SET_REBUILD)
			continue;
		snprintf(needle, sizeof(needle), "[lookup %s ", nftnl_set_get_str(c->have, NFTNL_SET_NAME));
		if (strstr(canon, needle))
			return true;
	}
	return false;
}

/* Canonical strings of the live rules of one of our chains against the
 * desired ones, so the diff lists only what really differs. */
static int diff_chain_rules(struct backend *b, struct nft_plan *np, struct rule_diff *rd)
{
	struct live *l = &np->live;
	struct nft_desired *dd = &np->desired;
	size_t n_have = 0, n_want = 0;
	char **have_c = calloc(l->n_rules + 1, sizeof(char *)), **want_c = calloc(dd->n_rules + 1, sizeof(char *));
	int r = -ENOMEM;

	rd->have = calloc(l->n_rules + 1, sizeof(*rd->have));
	rd->want_ir = calloc(dd->n_rules + 1, sizeof(*rd->want_ir));
	rd->want_idx = calloc(dd->n_rules + 1, sizeof(*rd->want_idx));
	rd->ops = calloc(l->n_rules + dd->n_rules + 1, sizeof(*rd->ops));
	if (!have_c || !want_c || !rd->have || !rd->want_ir || !rd->want_idx || !rd->ops)
		goto out;
	for (size_t j = 0; j < l->n_rules; j++) {
		struct strbuf c;
		if (!live_rule_in_our_table(b, &l->rules[j]) || strcmp(l->rules[j].chain, rd->chain))
			continue;
		strbuf_init(&c);
		if (nft_rule_canon(l->rules[j].r, &c) < 0)
			goto out;
		if (uses_replaced_set(np, c.data ? c.data : ""))
			strbuf_puts(&c, " (its set is replaced)"); /* matches no desired rule */
		rd->have[n_have] = &l->rules[j];
		have_c[n_have++] = strbuf_take(&c);
	}
	for (size_t i = 0; i < dd->n_rules; i++) {
		struct strbuf c;
		if (strcmp(rule_chain_name(dd->ir_rules[i]), rd->chain))
			continue;
		strbuf_init(&c);
		if (nft_rule_canon(dd->rules[i], &c) < 0)
			goto out;
		rd->want_ir[n_want] = dd->ir_rules[i];
		rd->want_idx[n_want] = i;
		want_c[n_want++] = strbuf_take(&c);
	}
	rd->cap = (struct plan_diff_cap){.p = rd->p};
	r = seqdiff((const char *const *)have_c, n_have, (const char *const *)want_c, n_want, rule_diff_cb, rd);
	if (r == 0)
		r = plan_diff_cap_end(&rd->cap, rd->chain);
	if (r == 0)
		r = plan_rule_edits(np, rd);
out:
	for (size_t i = 0; have_c && i < n_have; i++)
		free(have_c[i]);
	for (size_t i = 0; want_c && i < n_want; i++)
		free(want_c[i]);
	free(have_c);
	free(want_c);
	free(rd->have);
	free(rd->want_ir);
	free(rd->want_idx);
	free(rd->ops);
	return r;
}

static struct set_change *add_set_change(struct nft_plan *np, enum set_change_kind kind, size_t want,
					 const struct nftnl_set *have)
{
	struct set_change *c = realloc(np->set_changes, (np->n_set_changes + 1) * sizeof(*c));

	if (!c)
		return NULL;
	np->set_changes = c;
	c = &c[np->n_set_changes++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	if (want < np->desired.n_sets) {
		c->want = np->desired.sets[want];
		c->want_elems = &np->desired.set_elems[want];
	}
	c->have = have;
	return c;
}

static const char *set_kind_str(const struct nftnl_set *s)
{
	return nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_INTERVAL ? "intervals" : "a hash";
}

static size_t ls_index(const struct live *l, const struct nftnl_set *s)
{
	size_t i = 0;

	while (l->sets[i] != s)
		i++;
	return i;
}

/* One of our sets against the one we want: nothing, its elements, or the set. */
static int diff_set(struct nft_plan *np, struct plan *p, size_t wi, const struct nftnl_set *have,
		    struct nft_elems *have_elems, struct strbuf *want_c)
{
	const struct nftnl_set *want = np->desired.sets[wi];
	const char *name = nftnl_set_get_str(want, NFTNL_SET_NAME);
	struct set_change *c;
	int r;

	if (!nft_set_same_kind(have, want)) {
		if (!add_set_change(np, SET_REBUILD, wi, have))
			return -ENOMEM;
		return plan_add_diff(p, "~ set %s: created again as %s", name, set_kind_str(want)) < 0 ? -ENOMEM : 1;
	}
	c = add_set_change(np, SET_ELEMS, wi, have);
	if (!c)
		return -ENOMEM;
	/* no difference in elements: the same set (nft_set_canon() compares the same) */
	r = nft_set_delta(have_elems, want, c->want_elems, &c->delta);
	if (r < 0)
		return r;
	if (!c->delta.n_del && !c->delta.n_add) {
		nft_set_delta_free(&c->delta);
		np->n_set_changes--;
		return 0;
	}
	strbuf_reset(want_c);
	strbuf_printf(want_c, "~ set %s:", name);
	nft_set_delta_text(&c->delta, SET_DIFF_ELEMS_MAX, want_c);
	if (want_c->oom)
		return -ENOMEM;
	return plan_add_diff(p, "%s", want_c->data) < 0 ? -ENOMEM : 1;
}

/* Compares our table with what we want, object by object, says how it
 * differs and plans the change of each set and rule.  Returns 0 if nothing
 * differs, 1 if the table can be changed in place, 2 if its chains differ
 * and it must be created again. */
static int diff_table(struct backend *b, struct nft_plan *np, const struct ruleset *rs, struct plan *p)
{
	struct live *l = &np->live;
	struct nft_desired *dd = &np->desired;
	_cleanup_strbuf_ struct strbuf want, have;
	bool differs = false, chains_differ = false;
	int r = 0;

	strbuf_init(&want);
	strbuf_init(&have);
	/* chains */
	for (size_t i = 0; i < dd->n_chains; i++) {
		const char *name = nftnl_chain_get_str(dd->chains[i], NFTNL_CHAIN_NAME);
		const struct live_chain *lc = NULL;
		for (size_t j = 0; j < l->n_chains; j++)
			if (is_our_table(b, l->chains[j].family, l->chains[j].table) &&
			    !strcmp(l->chains[j].name, name))
				lc = &l->chains[j];
		strbuf_reset(&want);
		strbuf_reset(&have);
		desired_chain_canon(dd->chains[i], &want);
		if (lc)
			chain_canon(lc, &have);
		if (!lc || strcmp(want.data, have.data)) {
			chains_differ = true;
			r |= plan_add_diff(p, "%c chain %s", lc ? '~' : '+', name);
		}
	}
	for (size_t j = 0; j < l->n_chains; j++) {
		const struct live_chain *lc = &l->chains[j];
		if (is_our_table(b, lc->family, lc->table) && !find_desired_chain(dd, lc->name)) {
			chains_differ = true;
			r |= plan_add_diff(p, "- chain %s", lc->name);
		}
	}
	/* ct timeout objects: any difference replaces the table (see the
	 * timeout chains' rules below), which also drops one nobody uses */
	for (size_t i = 0; i < dd->n_objs; i++) {
		const char *name = nftnl_obj_get_str(dd->objs[i], NFTNL_OBJ_NAME);
		struct nftnl_obj *lo = find_obj(l->objs, l->n_objs, name);
		strbuf_reset(&want);
		strbuf_reset(&have);
		obj_canon(dd->objs[i], &want);
		if (lo)
			obj_canon(lo, &have);
		if (!lo || strcmp(want.data, have.data)) {
			chains_differ = true;
			r |= plan_add_diff(p, "%c ct timeout %s", lo ? '~' : '+', name);
		}
	}
	for (size_t j = 0; j < l->n_objs; j++) {
		const char *name = nftnl_obj_get_str(l->objs[j], NFTNL_OBJ_NAME);
		if (!find_obj(dd->objs, dd->n_objs, name)) {
			chains_differ = true;
			r |= plan_add_diff(p, "- %s %s",
					   nftnl_obj_get_u32(l->objs[j], NFTNL_OBJ_TYPE) == NFT_OBJECT_CT_TIMEOUT
					       ? "ct timeout"
					       : "object",
					   name);
		}
	}
	/* sets: what differs is changed in place, element by element where it can */
	for (size_t i = 0; r >= 0 && i < dd->n_sets; i++) {
		const char *name = nftnl_set_get_str(dd->sets[i], NFTNL_SET_NAME);
		const struct nftnl_set *ls = find_set(l->sets, l->n_sets, name);
		if (ls) {
			/* read_once() read the elements of every set it listed */
			struct nft_elems *le = &l->elems[ls_index(l, ls)];
			int c = diff_set(np, p, i, ls, le, &want);
			r = c < 0 ? c : r;
			differs |= c > 0;
			continue;
		}
		differs = true;
		if (!add_set_change(np, SET_ADD, i, NULL))
			return -ENOMEM;
		r |= plan_add_diff(p, "+ set %s", name);
	}
	for (size_t i = 0; r >= 0 && i < l->n_sets; i++) {
		const char *name = nftnl_set_get_str(l->sets[i], NFTNL_SET_NAME);
		if (!find_set(dd->sets, dd->n_sets, name)) {
			differs = true;
			if (!add_set_change(np, SET_DEL, SIZE_MAX, l->sets[i]))
				return -ENOMEM;
			r |= plan_add_diff(p, "- set %s", name);
		}
	}
	/* rules, chain by chain, as a shortest edit script */
	for (size_t i = 0; i < dd->n_chains && r == 0; i++) {
		struct rule_diff rd = {.rs = rs, .p = p, .chain = nftnl_chain_get_str(dd->chains[i], NFTNL_CHAIN_NAME)};
		r = diff_chain_rules(b, np, &rd);
		differs |= rd.differs;
		/* A timeout rule names its object, and the object's name is its
		 * content: a changed rule there may need an object the table
		 * lacks, and leaves one unused.  The objects are not compared
		 * or changed in place: the table is replaced, in the same
		 * single batch. */
		if (rd.differs && i >= 2)
			chains_differ = true;
	}
	if (r < 0 || want.oom || have.oom)
		return -ENOMEM;
	return chains_differ ? 2 : differs ? 1 : 0;
}

static int add_target(struct nft_plan *np, struct accept_target **targets, size_t *n, uint32_t family,
		      const char *table, const char *chain)
{
	struct accept_target *t = realloc(*targets, (*n + 1) * sizeof(*t));

	if (!t)
		return -ENOMEM;
	*targets = t;
	t = &t[(*n)++];
	memset(t, 0, sizeof(*t));
	t->family = family;
	snprintf(t->table, sizeof(t->table), "%s", table);
	snprintf(t->chain, sizeof(t->chain), "%s", chain);
	for (size_t i = 0; i < np->live.n_tables; i++)
		if (np->live.tables[i].family == family && !strcmp(np->live.tables[i].name, table))
			t->xtables = np->live.tables[i].xtables;
	return 0;
}

/* Where the untracked accept must sit: every filter chain on the hooks in
 * rs->accept_hooks (input, output, and forward only when a whole interface
 * is notracked) of tables we do not own ("auto"), or the chains the policy
 * names. */
static int accept_targets(struct backend *b, struct nft_plan *np, const struct ruleset *rs,
			  struct accept_target **targets, size_t *n, struct diag *d)
{
	const struct live *l = &np->live;
	int r = 0;

	if (!rs)
		return 0;
	if (rs->accept_mode == UNTRACKED_ACCEPT_LIST) {
		for (size_t i = 0; r == 0 && i < rs->n_accept_chains; i++) {
			const struct chain_ref *c = &rs->accept_chains[i];
			uint32_t f = family_to_nfproto(c->family);
			r = add_target(np, targets, n, f, c->table, c->chain);
			if (r == 0)
				snprintf((*targets)[*n - 1].origin, sizeof((*targets)[*n - 1].origin), "%s", c->path);
		}
		return r;
	}
	if (rs->accept_mode != UNTRACKED_ACCEPT_AUTO)
		return 0;
	for (size_t i = 0; r == 0 && i < l->n_chains; i++) {
		const struct live_chain *c = &l->chains[i];
		if (!c->base || strcmp(c->type, "filter") || is_our_table(b, c->family, c->table))
			continue;
		if (c->family != NFPROTO_INET && c->family != NFPROTO_IPV4 && c->family != NFPROTO_IPV6)
			continue;
		/* only where this policy's untracked packets can arrive: a
		 * forward accept for a services-only policy would accept other
		 * tools' untracked forwarded packets, and nothing of ours */
		unsigned want = c->hooknum == NF_INET_LOCAL_IN	  ? ACCEPT_HOOK_INPUT
				: c->hooknum == NF_INET_FORWARD	  ? ACCEPT_HOOK_FORWARD
				: c->hooknum == NF_INET_LOCAL_OUT ? ACCEPT_HOOK_OUTPUT
								  : 0;
		if (!(want & rs->accept_hooks))
			continue;
		bool owned = false;
		for (size_t t = 0; t < l->n_tables; t++)
			if (l->tables[t].family == c->family && !strcmp(l->tables[t].name, c->table))
				owned = l->tables[t].flags & NFT_TABLE_F_OWNER_FLAG;
		if (owned) {
			/* e.g. firewalld: only the owning process may change the table */
			r = diag_warn(
			    d, "$.untracked_accept",
			    "table %s %s is owned by another process; cannot insert the untracked accept into "
			    "chain %s: untracked packets may be dropped there",
			    family_str(c->family), c->table, c->name);
			continue;
		}
		r = add_target(np, targets, n, c->family, c->table, c->name);
	}
	return r;
}

static int push_delete(struct nft_plan *np, struct live_rule *lr)
{
	struct live_rule **p = realloc(np->accept_deletes, (np->n_accept_deletes + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	np->accept_deletes = p;
	p[np->n_accept_deletes++] = lr;
	return 0;
}

static int plan_accepts(struct backend *b, struct nft_plan *np, const struct ruleset *rs, struct plan *p,
			struct diag *d)
{
	struct accept_target *targets = NULL;
	size_t n_targets = 0;
	struct live *l = &np->live;
	int r;

	r = accept_targets(b, np, rs, &targets, &n_targets, d);
	for (size_t t = 0; r == 0 && t < n_targets; t++) {
		struct accept_target *tg = &targets[t];
		struct nftnl_rule *want =
		    nft_build_accept_rule((int)tg->family, tg->table, tg->chain, np->tag, tg->xtables);
		_cleanup_strbuf_ struct strbuf wc, hc;
		size_t ours = 0;
		bool in_sync = false;

		strbuf_init(&wc);
		strbuf_init(&hc);
		if (!want)
			return -ENOMEM;
		nft_rule_canon(want, &wc);
		nftnl_rule_free(want);
		for (size_t i = 0; i < l->n_rules; i++) {
			struct live_rule *lr = &l->rules[i];
			if (!lr->ours || lr->family != tg->family || strcmp(lr->table, tg->table) ||
			    strcmp(lr->chain, tg->chain))
				continue;
			ours++;
			strbuf_reset(&hc);
			nft_rule_canon(lr->r, &hc);
			in_sync = lr->position == 0 && !strcmp(hc.data, wc.data);
		}
		if (ours == 1 && in_sync)
			continue;
		/* not there, not first any more, or doubled: put exactly one back at the head */
		for (size_t i = 0; r == 0 && i < l->n_rules; i++) {
			struct live_rule *lr = &l->rules[i];
			if (lr->ours && lr->family == tg->family && !strcmp(lr->table, tg->table) &&
			    !strcmp(lr->chain, tg->chain))
				r = push_delete(np, lr);
		}
		struct accept_target *ins = realloc(np->accept_inserts, (np->n_accept_inserts + 1) * sizeof(*ins));
		if (!ins)
			r = -ENOMEM;
		if (r < 0)
			break;
		np->accept_inserts = ins;
		ins[np->n_accept_inserts++] = *tg;
		r = plan_add_diff(p, "%c untracked accept at the head of %s %s %s%s", ours ? '~' : '+',
				  family_str(tg->family), tg->table, tg->chain,
				  tg->xtables ? " (iptables-nft encoding)" : "");
	}
	/* ours in chains that are no longer targets */
	for (size_t i = 0; r == 0 && i < l->n_rules; i++) {
		struct live_rule *lr = &l->rules[i];
		bool target = false;
		if (!lr->ours || live_rule_in_our_table(b, lr))
			continue;
		for (size_t t = 0; t < n_targets; t++)
			target |= targets[t].family == lr->family && !strcmp(targets[t].table, lr->table) &&
				  !strcmp(targets[t].chain, lr->chain);
		if (target)
			continue;
		r = push_delete(np, lr);
		if (r == 0)
			r = plan_add_diff(p, "- untracked accept in %s %s %s (handle %llu)", family_str(lr->family),
					  lr->table, lr->chain, (unsigned long long)lr->handle);
	}
	free(targets);
	return r;
}

static void nft_plan_free(struct plan *p)
{
	struct nft_plan *np = p->priv;

	if (np) {
		if (np->live_complete)
			live_keep(np->b, &np->live);
		live_free(&np->live);
		if (np->have_desired)
			nft_desired_free(&np->desired);
		free(np->accept_deletes);
		free(np->accept_inserts);
		for (size_t i = 0; i < np->n_set_changes; i++)
			nft_set_delta_free(&np->set_changes[i].delta);
		free(np->set_changes);
		free(np->rule_deletes);
		free(np->rule_inserts);
		free(np);
	}
	plan_free_diff(p);
	memset(p, 0, sizeof(*p));
}

/* With `reuse`, the desired objects built by an earlier plan of the same
 * ruleset, taken over (the batch leaves them as it found them). */
/*
 * Whether this kernel takes a ct timeout object (nft_ct's objects exist
 * only with CONFIG_NF_CONNTRACK_TIMEOUT): the first object in a table of
 * its own, in a batch the kernel checks and then aborts, so nothing is
 * created.  Asked only when our table holds none yet; where one lives, the
 * kernel has the feature.
 */
static int put_object(struct nft_batch *bt, uint16_t type, uint16_t family, uint16_t flags, const char *label,
		      void (*build)(struct nlmsghdr *, const void *), const void *obj);
static void build_table(struct nlmsghdr *nlh, const void *o);
static void build_obj(struct nlmsghdr *nlh, const void *o);

static int probe_ct_timeout(struct backend *b, const struct ruleset *rs, struct diag *d)
{
	char table[RULESET_NAME_MAX + 8], label[64];
	struct nftnl_table *t = nftnl_table_alloc();
	struct nftnl_obj *o = NULL;
	struct nft_batch bt;
	struct diag scratch;
	int r;

	snprintf(table, sizeof(table), "%s_probe", b->table);
	if (!t || !(o = nft_build_timeout_obj(table, &rs->timeouts[0]))) {
		r = -ENOMEM;
		goto out;
	}
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	r = nft_batch_init(&bt, &b->sock, 0);
	bt.check_only = true; /* validated, then aborted: nothing is created */
	snprintf(label, sizeof(label), "table inet %s", table);
	if (r == 0)
		r = put_object(&bt, NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_CREATE, label, build_table, t);
	if (r == 0)
		r = put_object(&bt, NFT_MSG_NEWOBJ, NFPROTO_INET, NLM_F_CREATE, "a ct timeout object", build_obj, o);
	if (r < 0) {
		nft_batch_free(&bt);
		goto out;
	}
	diag_init(&scratch);
	r = nft_batch_send(&b->sock, &bt, &scratch);
	nft_batch_free(&bt);
	/* genid 0: the kernel checks no generation (the batch commits
	 * nothing); an ERESTART would say nothing about ct timeout objects,
	 * and the commit's own answer will */
	if (r < 0 && r != -ERESTART && scratch.kind != DIAG_PERMISSION)
		r = diag_fail(d, DIAG_KERNEL, EOPNOTSUPP, NULL,
			      "this kernel refuses nft ct timeout objects (%s): the per-traffic timeouts of %s need "
			      "CONFIG_NF_CONNTRACK_TIMEOUT; remove \"timeouts\" from the policy, or set the global "
			      "ones in its \"conntrack\" section; nothing was applied",
			      strerror(scratch.err), rs->timeouts[0].t.path);
	else if (r < 0 && scratch.kind == DIAG_PERMISSION)
		r = diag_fail(d, DIAG_PERMISSION, scratch.err, NULL, "%s", scratch.msg);
	else
		r = 0;
	diag_free(&scratch);
out:
	if (t)
		nftnl_table_free(t);
	if (o)
		nftnl_obj_free(o);
	return r == -ENOMEM ? diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory") : r;
}

static int plan_from(struct backend *b, const struct ruleset *rs, struct nft_desired *reuse, struct plan *p,
		     struct diag *d)
{
	struct nft_plan *np = calloc(1, sizeof(*np));
	int r;

	memset(p, 0, sizeof(*p));
	if (!np)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	p->priv = np;
	snprintf(np->tag, sizeof(np->tag), "%s", b->table);
	np->b = b;
	r = read_live(b, &np->live, false, d);
	if (r < 0)
		goto fail;
	np->live_complete = true;
	p->generation_before = np->live.genid;
	np->rs = rs;
	if (rs && reuse) {
		np->desired = *reuse;
		memset(reuse, 0, sizeof(*reuse));
		np->have_desired = true;
	} else if (rs) {
		r = nft_build_desired(rs, &np->desired);
		if (r < 0)
			goto oom;
		np->have_desired = true;
	}
	if (rs && !np->live.have_table) {
		np->create_table = true;
		r = plan_add_diff(p, "+ table inet %s: %zu rules, %zu sets", b->table, np->desired.n_rules,
				  np->desired.n_sets);
	} else if (!rs && np->live.have_table) {
		np->delete_table = true;
		r = plan_add_diff(p, "- table inet %s", b->table);
	} else if (rs) {
		r = diff_table(b, np, rs, p);
		np->incremental = r == 1;
		if (r == 2)
			np->delete_table = np->create_table = true;
		r = r < 0 ? r : 0;
	}
	if (r < 0)
		goto oom;
	/* per-traffic timeouts for the first time: refuse now, in one line,
	 * where the kernel cannot hold them */
	if (rs && rs->n_timeouts && !np->live.n_objs && np->create_table) {
		r = probe_ct_timeout(b, rs, d);
		if (r < 0)
			goto fail;
	}
	r = plan_accepts(b, np, rs, p, d);
	if (r < 0)
		goto oom;
	p->changed =
	    np->create_table || np->delete_table || np->incremental || np->n_accept_deletes || np->n_accept_inserts;
	return 0;
oom:
	r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
fail:
	nft_plan_free(p);
	return r;
}

static int nft_plan(struct backend *b, const struct ruleset *rs, struct plan *p, struct diag *d)
{
	return plan_from(b, rs, NULL, p, d);
}

/* Planning again must find nothing to do; the desired objects are the
 * committed plan's, not built a second time. */
static int nft_verify(struct backend *b, const struct plan *p, uint64_t *generation, struct diag *d)
{
	struct nft_plan *np = p->priv;
	bool reuse = np->have_desired;
	struct plan again;
	int r;

	np->have_desired = false; /* plan_from() takes them over */
	r = plan_from(b, np->rs, reuse ? &np->desired : NULL, &again, d);
	if (r < 0)
		return r;
	if (again.changed)
		r = diag_fail(d, DIAG_KERNEL, EIO, NULL,
			      "verification failed: after the commit the live ruleset still differs (%s)",
			      again.n_diff ? again.diff[0] : "no detail");
	else
		*generation = again.generation_before;
	nft_plan_free(&again);
	return r;
}

/* ------------------------------------------------------------------ */
/* committing                                                           */

#define MSG_ROOM (128 * 1024)
#define ELEMS_PER_MSG 1024

static int put_object(struct nft_batch *bt, uint16_t type, uint16_t family, uint16_t flags, const char *label,
		      void (*build)(struct nlmsghdr *, const void *), const void *obj)
{
	char *buf = nft_batch_reserve(bt, MSG_ROOM);
	struct nlmsghdr *nlh;

	if (!buf)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buf, type, family, flags, nft_batch_next_seq(bt));
	build(nlh, obj);
	return nft_batch_commit_msg(bt, label);
}

static void build_table(struct nlmsghdr *nlh, const void *o)
{
	nftnl_table_nlmsg_build_payload(nlh, o);
}
static void build_chain(struct nlmsghdr *nlh, const void *o)
{
	nftnl_chain_nlmsg_build_payload(nlh, o);
}
static void build_set(struct nlmsghdr *nlh, const void *o)
{
	nftnl_set_nlmsg_build_payload(nlh, (void *)o);
}
static void build_obj(struct nlmsghdr *nlh, const void *o)
{
	nftnl_obj_nlmsg_build_payload(nlh, (void *)o);
}
static void build_rule(struct nlmsghdr *nlh, const void *o)
{
	nftnl_rule_nlmsg_build_payload(nlh, (void *)o);
}

/* Elements go in messages of ELEMS_PER_MSG, so no single message outgrows a
 * page-sized kernel allocation however large the set is. */
/* One element, as nftnl_set_elem_nlmsg_build() would write it. */
static void put_elem(struct nlmsghdr *nlh, const struct nft_key *k, int index)
{
	struct nlattr *elem = mnl_attr_nest_start(nlh, (uint16_t)index), *key;
	uint8_t bytes[NFT_KEY_MAX];

	if (k->end)
		mnl_attr_put_u32(nlh, NFTA_SET_ELEM_FLAGS, htonl(NFT_SET_ELEM_INTERVAL_END));
	key = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
	nft_key_bytes(k, bytes);
	mnl_attr_put(nlh, NFTA_DATA_VALUE, k->len, bytes);
	mnl_attr_nest_end(nlh, key);
	mnl_attr_nest_end(nlh, elem);
}

static int put_set_elems(struct nft_batch *bt, uint16_t type, const char *what, const struct nftnl_set *s,
			 const struct nft_elems *elems, bool new_set)
{
	char label[300];
	size_t e = 0;
	int r = 0;

	snprintf(label, sizeof(label), "%s set %s", what, nftnl_set_get_str(s, NFTNL_SET_NAME));
	while (e < elems->n && r == 0) {
		char *buf = nft_batch_reserve(bt, MSG_ROOM);
		struct nlmsghdr *nlh;
		struct nlattr *list;
		int i = 0;

		if (!buf)
			return -ENOMEM;
		nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0,
					    nft_batch_next_seq(bt));
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, nftnl_set_get_str(s, NFTNL_SET_TABLE));
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, nftnl_set_get_str(s, NFTNL_SET_NAME));
		/* an existing set is found by name; the id names one created in this batch */
		if (new_set && nftnl_set_is_set(s, NFTNL_SET_ID))
			mnl_attr_put_u32(nlh, NFTA_SET_ELEM_LIST_SET_ID, htonl(nftnl_set_get_u32(s, NFTNL_SET_ID)));
		list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
		for (; e < elems->n && i < ELEMS_PER_MSG; e++)
			put_elem(nlh, &elems->v[e], ++i);
		mnl_attr_nest_end(nlh, list);
		r = nft_batch_commit_msg(bt, label);
	}
	return r;
}

static int put_set_delta(struct nft_batch *bt, const struct set_change *c, bool del)
{
	struct nft_elems elems;
	int r;

	if (!(del ? c->delta.n_del : c->delta.n_add))
		return 0;
	r = nft_set_delta_elems(&c->delta, del, &elems);
	if (r < 0)
		return r;
	r = put_set_elems(bt, del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM,
			  del ? "deleting elements of" : "adding elements to", c->want, &elems, false);
	nft_elems_free(&elems);
	return r;
}

static int put_rule_delete(struct nft_batch *bt, const struct live_rule *lr, const char *label)
{
	struct nftnl_rule *del = nftnl_rule_alloc();
	int r;

	if (!del)
		return -ENOMEM;
	nftnl_rule_set_u32(del, NFTNL_RULE_FAMILY, lr->family);
	nftnl_rule_set_str(del, NFTNL_RULE_TABLE, lr->table);
	nftnl_rule_set_str(del, NFTNL_RULE_CHAIN, lr->chain);
	nftnl_rule_set_u64(del, NFTNL_RULE_HANDLE, lr->handle);
	r = put_object(bt, NFT_MSG_DELRULE, (uint16_t)lr->family, 0, label, build_rule, del);
	nftnl_rule_free(del);
	return r;
}

/*
 * Our table changed in place, in an order the kernel accepts at every step:
 * rules go before the sets they look up, element deletions before the
 * additions that may reuse their keys, new sets before the rules that look
 * them up.
 */
static int build_incremental(struct nft_plan *np, struct nft_batch *bt)
{
	struct nft_desired *dd = &np->desired;
	char label[800];
	int r = 0;

	for (size_t i = 0; r == 0 && i < np->n_rule_deletes; i++) {
		snprintf(label, sizeof(label), "deleting rule handle %llu of chain %s",
			 (unsigned long long)np->rule_deletes[i]->handle, np->rule_deletes[i]->chain);
		r = put_rule_delete(bt, np->rule_deletes[i], label);
	}
	for (size_t i = 0; r == 0 && i < np->n_set_changes; i++) {
		const struct set_change *c = &np->set_changes[i];
		if (c->kind == SET_DEL || c->kind == SET_REBUILD) {
			struct nftnl_set *del = nftnl_set_alloc();
			if (!del)
				return -ENOMEM;
			nftnl_set_set_u32(del, NFTNL_SET_FAMILY, NFPROTO_INET);
			nftnl_set_set_str(del, NFTNL_SET_TABLE, nftnl_set_get_str(c->have, NFTNL_SET_TABLE));
			nftnl_set_set_str(del, NFTNL_SET_NAME, nftnl_set_get_str(c->have, NFTNL_SET_NAME));
			snprintf(label, sizeof(label), "deleting set %s", nftnl_set_get_str(c->have, NFTNL_SET_NAME));
			r = put_object(bt, NFT_MSG_DELSET, NFPROTO_INET, 0, label, build_set, del);
			nftnl_set_free(del);
		} else if (c->kind == SET_ELEMS) {
			r = put_set_delta(bt, c, true);
		}
	}
	for (size_t i = 0; r == 0 && i < np->n_set_changes; i++) {
		const struct set_change *c = &np->set_changes[i];
		if (c->kind == SET_ADD || c->kind == SET_REBUILD) {
			snprintf(label, sizeof(label), "set %s", nftnl_set_get_str(c->want, NFTNL_SET_NAME));
			r = put_object(bt, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE, label, build_set, c->want);
			if (r == 0)
				r = put_set_elems(bt, NFT_MSG_NEWSETELEM, "the elements of", c->want, c->want_elems,
						  true);
		} else if (c->kind == SET_ELEMS) {
			r = put_set_delta(bt, c, false);
		}
	}
	for (size_t i = 0; r == 0 && i < np->n_rule_inserts; i++) {
		const struct rule_insert *in = &np->rule_inserts[i];
		struct nftnl_rule *rule = dd->rules[in->want];
		uint16_t flags = NLM_F_CREATE;
		snprintf(label, sizeof(label), "the %s rule from %s", rule_chain_name(dd->ir_rules[in->want]),
			 dd->ir_rules[in->want]->origin);
		/* with a position and no NLM_F_APPEND the kernel inserts before
		 * that rule; with neither, at the head: so append at the end */
		if (in->before)
			nftnl_rule_set_u64(rule, NFTNL_RULE_POSITION, in->before);
		else
			flags |= NLM_F_APPEND;
		r = put_object(bt, NFT_MSG_NEWRULE, NFPROTO_INET, flags, label, build_rule, rule);
		nftnl_rule_unset(rule, NFTNL_RULE_POSITION);
	}
	return r;
}

static int build_batch(struct backend *b, struct nft_plan *np, struct nft_batch *bt)
{
	struct nft_desired *dd = &np->desired;
	char label[800];
	int r = 0;

	/* our accepts first: deleting by handle must see the chain as it was read */
	for (size_t i = 0; r == 0 && i < np->n_accept_deletes; i++) {
		struct live_rule *lr = np->accept_deletes[i];
		snprintf(label, sizeof(label), "deleting our untracked accept in %s %s %s", family_str(lr->family),
			 lr->table, lr->chain);
		r = put_rule_delete(bt, lr, label);
	}
	if (r == 0 && np->incremental)
		r = build_incremental(np, bt);
	if (r == 0 && np->delete_table) {
		struct nftnl_table *t = nftnl_table_alloc();
		if (!t)
			return -ENOMEM;
		nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, b->table);
		snprintf(label, sizeof(label), "deleting table inet %s", b->table);
		r = put_object(bt, NFT_MSG_DELTABLE, NFPROTO_INET, 0, label, build_table, t);
		nftnl_table_free(t);
	}
	if (r == 0 && np->create_table) {
		snprintf(label, sizeof(label), "table inet %s", b->table);
		r = put_object(bt, NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_CREATE, label, build_table, dd->table);
		for (size_t i = 0; r == 0 && i < dd->n_sets; i++) {
			snprintf(label, sizeof(label), "set %s", nftnl_set_get_str(dd->sets[i], NFTNL_SET_NAME));
			r = put_object(bt, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE, label, build_set, dd->sets[i]);
			if (r == 0)
				r = put_set_elems(bt, NFT_MSG_NEWSETELEM, "the elements of", dd->sets[i],
						  &dd->set_elems[i], true);
		}
		for (size_t i = 0; r == 0 && i < dd->n_objs; i++) {
			/* the kernel's answer where the feature is missing is a bare
			 * EOPNOTSUPP or ENOENT: say what it needs, and for which entry */
			snprintf(label, sizeof(label),
				 "the ct timeout object %s (for %s; per-traffic timeouts need a kernel with "
				 "CONFIG_NF_CONNTRACK_TIMEOUT)",
				 nftnl_obj_get_str(dd->objs[i], NFTNL_OBJ_NAME),
				 np->rs && i < np->rs->n_timeouts ? np->rs->timeouts[i].t.path : "keep_tracked");
			r = put_object(bt, NFT_MSG_NEWOBJ, NFPROTO_INET, NLM_F_CREATE, label, build_obj, dd->objs[i]);
		}
		for (size_t i = 0; r == 0 && i < dd->n_chains; i++) {
			snprintf(label, sizeof(label), "chain %s",
				 nftnl_chain_get_str(dd->chains[i], NFTNL_CHAIN_NAME));
			r = put_object(bt, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE, label, build_chain,
				       dd->chains[i]);
		}
		for (size_t i = 0; r == 0 && i < dd->n_rules; i++) {
			snprintf(label, sizeof(label), "the %s rule from %s", rule_chain_name(dd->ir_rules[i]),
				 dd->ir_rules[i]->origin);
			r = put_object(bt, NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_CREATE | NLM_F_APPEND, label,
				       build_rule, dd->rules[i]);
		}
	}
	for (size_t i = 0; r == 0 && i < np->n_accept_inserts; i++) {
		struct accept_target *t = &np->accept_inserts[i];
		struct nftnl_rule *acc = nft_build_accept_rule((int)t->family, t->table, t->chain, np->tag, t->xtables);
		if (!acc)
			return -ENOMEM;
		snprintf(label, sizeof(label), "the untracked accept for %s %s %s%s%s%s", family_str(t->family),
			 t->table, t->chain, t->origin[0] ? " (" : "", t->origin, t->origin[0] ? ")" : "");
		/* no NLM_F_APPEND and no position: the kernel inserts at the head */
		r = put_object(bt, NFT_MSG_NEWRULE, (uint16_t)t->family, NLM_F_CREATE, label, build_rule, acc);
		nftnl_rule_free(acc);
	}
	return r;
}

/*
 * After our batch, the next plan (the transaction's verification, the
 * record of what we own) would dump every element again: 20,000 of them for
 * 10,000 ports.  When the generation id moved by exactly one, our batch was
 * the only commit since the read it was planned on (it carried that read's
 * generation id, so the kernel would have refused it after any other), and
 * our sets hold exactly the elements we wanted.  Tables, chains, rules and
 * set headers are read back as usual, since they are few; the elements come
 * from the plan.  Anything else (another commit since, a failed
 * read) leaves no cache, and the next plan reads everything.
 */
static void keep_committed(struct backend *b, struct nft_plan *np)
{
	struct live l = {0};
	struct diag scratch;
	uint32_t genid;

	np->live_complete = false; /* the read before the commit is stale now */
	diag_init(&scratch);
	if (nft_get_genid(&b->sock, &genid, &scratch) == 0 && genid == np->live.genid + 1) {
		b->elems_from = np->have_desired ? &np->desired : NULL;
		if (read_once(b, &l, np, &scratch) == 0 && l.genid == genid)
			live_keep(b, &l);
		b->elems_from = NULL;
	}
	live_free(&l);
	diag_free(&scratch);
}

static int nft_commit(struct backend *b, struct plan *p, struct diag *d)
{
	struct nft_plan *np = p->priv;
	struct nft_batch bt;
	int r;

	r = nft_batch_init(&bt, &b->sock, np->live.genid);
	if (r == 0)
		r = build_batch(b, np, &bt);
	if (r < 0) {
		nft_batch_free(&bt);
		return diag_fail(d, DIAG_SYSTEM, -r, NULL, "cannot build the batch: %s", strerror(-r));
	}
	r = nft_batch_send(&b->sock, &bt, d);
	nft_batch_free(&bt);
	if (r == 0)
		keep_committed(b, np);
	/* The kernel refused the batch without anyone committing meanwhile:
	 * if what the last run knew was wrong (it cannot be, short of a bug or
	 * a hand-made file), it would be believed again and refused again for
	 * as long as the generation id stands.  Leave a record nobody
	 * believes, so that the next run reads the kernel. */
	if (r < 0 && r != -ERESTART && r != -EINPROGRESS) {
		known_free(b);
		b->known_refused = true;
	}
	return r;
}

static int nft_generation(struct backend *b, uint64_t *out, struct diag *d)
{
	uint32_t genid;
	int r = nft_get_genid(&b->sock, &genid, d);

	if (r == 0)
		*out = genid;
	return r;
}

static int counter_cb(struct nftnl_expr *e, void *data)
{
	struct owned_object *o = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	if (name && !strcmp(name, "counter")) {
		o->has_counter = true;
		o->packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		o->bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
	}
	return 0;
}

struct set_ref {
	const char *name;
	size_t i;
};

static int cmp_set_ref(const void *a, const void *b)
{
	return strcmp(((const struct set_ref *)a)->name, ((const struct set_ref *)b)->name);
}

static int cmp_obj_name(const void *a, const void *b)
{
	return strcmp(nftnl_obj_get_str(*(struct nftnl_obj **)a, NFTNL_OBJ_NAME),
		      nftnl_obj_get_str(*(struct nftnl_obj **)b, NFTNL_OBJ_NAME));
}

static int nft_owned(struct backend *b, bool with_rules, struct owned_list *out, struct diag *d)
{
	_cleanup_strbuf_ struct strbuf canon;
	struct live l = {0};
	int r;

	memset(out, 0, sizeof(*out));
	strbuf_init(&canon);
	r = read_live(b, &l, false, d);
	if (r < 0)
		goto out;
	/* the digest covers our chains, sets and rules in kernel order, without
	 * counters or handles; the accepts we placed in other tables are listed
	 * one by one instead, because their tables' owners may legitimately
	 * flush them (see owned.h) */
	for (size_t i = 0; i < l.n_chains; i++)
		if (is_our_table(b, l.chains[i].family, l.chains[i].table))
			chain_canon(&l.chains[i], &canon);
	/* sets by name: a table lists them in the order they were created, and
	 * a set added in place comes last whatever the policy's order */
	struct set_ref *by_name = calloc(l.n_sets + 1, sizeof(*by_name));
	if (!by_name) {
		r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < l.n_sets; i++)
		by_name[i] = (struct set_ref){nftnl_set_get_str(l.sets[i], NFTNL_SET_NAME), i};
	qsort(by_name, l.n_sets, sizeof(*by_name), cmp_set_ref);
	for (size_t k = 0; k < l.n_sets; k++) {
		nft_set_canon(l.sets[by_name[k].i], &l.elems[by_name[k].i], &canon);
		strbuf_putc(&canon, '\n');
	}
	free(by_name);
	/* objects by name too; none for a policy without timeouts, so its
	 * digest reads as before */
	if (l.n_objs) /* qsort's base must not be NULL, even for no elements */
		qsort(l.objs, l.n_objs, sizeof(*l.objs), cmp_obj_name);
	for (size_t k = 0; k < l.n_objs; k++)
		obj_canon(l.objs[k], &canon);
	for (size_t i = 0; i < l.n_rules; i++) {
		struct live_rule *lr = &l.rules[i];
		bool mine = live_rule_in_our_table(b, lr);
		struct owned_object *o;

		if (!mine && !lr->ours)
			continue;
		if (mine && !with_rules) {
			out->rules++;
			strbuf_printf(&canon, "%s ", lr->chain);
			nft_rule_canon(lr->r, &canon);
			strbuf_putc(&canon, '\n');
			continue;
		}
		o = owned_list_add(out);
		if (!o) {
			r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
			goto out;
		}
		o->kind = mine ? OWNED_RULE : OWNED_ACCEPT;
		snprintf(o->family, sizeof(o->family), "%s", family_str(lr->family));
		snprintf(o->table, sizeof(o->table), "%s", lr->table);
		snprintf(o->chain, sizeof(o->chain), "%s", lr->chain);
		o->handle = lr->handle;
		nft_rule_comment(lr->r, o->comment, sizeof(o->comment));
		nftnl_expr_foreach(lr->r, counter_cb, o);
		o->not_first = o->kind == OWNED_ACCEPT && lr->position != 0;
		if (o->kind == OWNED_ACCEPT)
			continue;
		strbuf_printf(&canon, "%s ", o->chain);
		nft_rule_canon(lr->r, &canon);
		strbuf_putc(&canon, '\n');
	}
	if (canon.oom) {
		r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
		goto out;
	}
	/* "nft2:" names this form (sets by name): a digest of the older form,
	 * in kernel order, cannot be compared with it (digest_comparable()) */
	char hex[DIGEST_SIZE];
	digest_text(canon.data ? canon.data : "", canon.len, hex);
	snprintf(out->digest, sizeof(out->digest), "nft2:%.16s", hex);
out:
	if (r < 0)
		owned_list_free(out);
	else
		live_keep(b, &l);
	live_free(&l);
	return r;
}

/* ------------------------------------------------------------------ */
/* the linter's view                                                    */

static int read_all_sets(struct backend *b, struct live *l, struct diag *d)
{
	size_t kept = 0;
	int r;

	/* read_live() kept only our sets (the caller has put them aside): dump
	 * every set and map of every table, anonymous ones too, since foreign
	 * rules look their ports and addresses up in them.  Our own sets the
	 * linter never looks at (it skips our table), and they can be the
	 * largest: their elements are not read again. */
	l->keep_anonymous = true;
	r = dump_kind(b, NFT_MSG_GETSET, NFPROTO_UNSPEC, set_cb, l, NULL, NULL, d);
	for (size_t i = 0; i < l->n_sets; i++) {
		struct nftnl_set *s = l->sets[i];
		if (is_our_table(b, nftnl_set_get_u32(s, NFTNL_SET_FAMILY), nftnl_set_get_str(s, NFTNL_SET_TABLE)))
			nftnl_set_free(s);
		else
			l->sets[kept++] = s;
	}
	l->n_sets = kept;
	for (size_t i = 0; r == 0 && i < l->n_sets; i++)
		r = dump_kind(b, NFT_MSG_GETSETELEM, (uint16_t)nftnl_set_get_u32(l->sets[i], NFTNL_SET_FAMILY),
			      setelem_cb, l->sets[i], setelem_filter, l->sets[i], d);
	return r;
}

static int lint_decode_live(struct backend *b, const struct live *l, struct lint_input *out)
{
	struct lint_nft_table *t = calloc(l->n_tables + 1, sizeof(*t));
	struct lint_nft_chain *c = calloc(l->n_chains + 1, sizeof(*c));
	struct lint_nft_rule *ru = calloc(l->n_rules + 1, sizeof(*ru));
	struct lint_nft_view v = {.tables = t,
				  .n_tables = l->n_tables,
				  .chains = c,
				  .n_chains = l->n_chains,
				  .rules = ru,
				  .n_rules = l->n_rules,
				  .sets = l->sets,
				  .n_sets = l->n_sets,
				  .our_table = b->table};
	int r = -ENOMEM;

	if (t && c && ru) {
		for (size_t i = 0; i < l->n_tables; i++)
			t[i] = (struct lint_nft_table){l->tables[i].family, l->tables[i].name, l->tables[i].flags};
		for (size_t i = 0; i < l->n_chains; i++)
			c[i] = (struct lint_nft_chain){l->chains[i].family, l->chains[i].table,	  l->chains[i].name,
						       l->chains[i].base,   l->chains[i].hooknum, l->chains[i].policy,
						       l->chains[i].type,   l->chains[i].prio};
		for (size_t i = 0; i < l->n_rules; i++)
			ru[i] = (struct lint_nft_rule){l->rules[i].r,	  l->rules[i].family, l->rules[i].table,
						       l->rules[i].chain, l->rules[i].handle, l->rules[i].ours,
						       l->rules[i].raw};
		r = lint_nft_decode(&v, out);
	}
	free(t);
	free(c);
	free(ru);
	return r;
}

/* Swaps the set lists of a read: ours (from read_live) and everyone's (for the linter). */
static void swap_sets(struct live *l, struct nftnl_set ***sets, size_t *n)
{
	struct nftnl_set **ts = l->sets;
	size_t tn = l->n_sets;

	l->sets = *sets;
	l->n_sets = *n;
	*sets = ts;
	*n = tn;
}

static int nft_lint_read(struct backend *b, struct lint_input *out, struct diag *d)
{
	struct live l = {0};
	struct nftnl_set **ours = NULL;
	size_t n_ours = 0;
	uint32_t genid = 0;
	int r = -EINTR;

	memset(out, 0, sizeof(*out));
	/* rules and sets are separate dumps: read again if anyone committed in between */
	for (int attempt = 0; attempt < DUMP_RETRIES && r == -EINTR; attempt++) {
		for (size_t i = 0; i < n_ours; i++)
			nftnl_set_free(ours[i]);
		free(ours);
		ours = NULL;
		n_ours = 0;
		b->lint_reading = true;
		r = read_live(b, &l, true, d);
		b->lint_reading = false;
		if (r == 0) {
			swap_sets(&l, &ours, &n_ours); /* ours aside, an empty list in l */
			r = read_all_sets(b, &l, d);
		}
		if (r == 0)
			r = nft_get_genid(&b->sock, &genid, d);
		if (r == 0 && genid != l.genid)
			r = -EINTR;
	}
	if (r == -EINTR)
		r = diag_fail(d, DIAG_KERNEL, EAGAIN, NULL,
			      "the ruleset kept changing while it was being read (%d attempts); try again",
			      DUMP_RETRIES);
	if (r == 0 && lint_decode_live(b, &l, out) < 0)
		r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	if (r < 0)
		lint_input_free(out);
	/* the read with our own sets put back is what plan() reads next: keep it */
	for (size_t i = 0; i < l.n_sets; i++)
		nftnl_set_free(l.sets[i]);
	free(l.sets);
	l.sets = ours;
	l.n_sets = n_ours;
	l.keep_anonymous = false;
	if (r == 0)
		live_keep(b, &l);
	live_free(&l);
	return r;
}

/* For --backend auto: every nftables table, with its chains and rules
 * counted and iptables-nft's marked.  Only dumps: creates nothing. */
static int nft_probe_tables(struct probe_list *out, struct diag *d)
{
	struct backend b = {0}; /* no tag: nothing is ours while probing */
	struct live l = {0};
	int r;

	memset(out, 0, sizeof(*out));
	r = nft_sock_open(&b.sock, d);
	if (r < 0)
		return r;
	/* only counts and the xt flag are wanted: the rules no plan reads are
	 * kept as the linter keeps them, not parsed (10,000 kube-proxy rules
	 * parsed doubled the cost of an auto-detected lint) */
	b.lint_reading = true;
	r = read_live(&b, &l, true, d);
	for (size_t i = 0; r == 0 && i < l.n_tables; i++) {
		const struct live_table *t = &l.tables[i];
		struct probe_table *pt = probe_list_add(out);
		if (!pt) {
			r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
			break;
		}
		snprintf(pt->family, sizeof(pt->family), "%s", family_str(t->family));
		snprintf(pt->name, sizeof(pt->name), "%s", t->name);
		pt->iptables_nft = t->xtables;
		for (size_t j = 0; j < l.n_chains; j++)
			pt->n_chains += l.chains[j].family == t->family && !strcmp(l.chains[j].table, t->name);
		for (size_t j = 0; j < l.n_rules; j++)
			pt->n_rules += l.rules[j].family == t->family && !strcmp(l.rules[j].table, t->name);
		pt->in_use = pt->n_chains > 0;
	}
	live_free(&l);
	nft_sock_close(&b.sock);
	if (r < 0)
		probe_list_free(out);
	return r;
}

static int nft_open(struct backend **out, const struct backend_options *opt, struct diag *d)
{
	struct backend *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	snprintf(b->table, sizeof(b->table), "%s", opt->table);
	r = nft_sock_open(&b->sock, d);
	if (r < 0) {
		free(b);
		return r;
	}
	*out = b;
	return 0;
}

/* ------------------------------------------------------------------ */
/* what the next run may take over                                      */

/*
 * The bytes: "NTK1", the generation id, the number of sets, then for each
 * set its name (length, bytes) and its elements (count, then length, end
 * bit and key bytes of each), integers little-endian.  The state directory
 * guards them with a checksum, the boot and the network namespace (ops.c);
 * the generation id is what makes them true.
 */
#define KNOWN_MAGIC "NTK1"

static void put_u32(struct strbuf *out, uint32_t v)
{
	const char le[4] = {(char)(v & 0xff), (char)(v >> 8 & 0xff), (char)(v >> 16 & 0xff), (char)(v >> 24)};

	strbuf_putn(out, le, sizeof(le));
}

static int nft_known_save(struct backend *b, struct strbuf *out)
{
	const struct live *l = &b->cache;

	if (b->known_refused)
		return strbuf_putn(out, "NTK0", 4); /* no magic: read as damaged */
	/* only a whole read: every set of ours with its elements */
	if (!b->cached || !l->have_table || l->n_elems != l->n_sets)
		return 0;
	if (b->n_known && l->genid == b->known_genid)
		return 0; /* nothing committed since: what was loaded still holds */
	strbuf_putn(out, KNOWN_MAGIC, 4);
	put_u32(out, l->genid);
	put_u32(out, (uint32_t)l->n_sets);
	for (size_t i = 0; i < l->n_sets; i++) {
		const char *name = nftnl_set_get_str(l->sets[i], NFTNL_SET_NAME);
		const struct nft_elems *e = &l->elems[i];
		put_u32(out, (uint32_t)strlen(name));
		strbuf_putn(out, name, strlen(name));
		put_u32(out, (uint32_t)e->n);
		/* the elements in one piece: 20,000 small appends cost more
		 * than the rest of the file */
		size_t size = 0, at = 0;
		for (size_t k = 0; k < e->n; k++)
			size += 2u + e->v[k].len;
		char *buf = malloc(size ? size : 1);
		if (!buf)
			return -ENOMEM;
		for (size_t k = 0; k < e->n; k++) {
			uint8_t key[NFT_KEY_MAX];
			buf[at++] = (char)e->v[k].len;
			buf[at++] = (char)e->v[k].end;
			nft_key_bytes(&e->v[k], key);
			memcpy(buf + at, key, e->v[k].len);
			at += e->v[k].len;
		}
		strbuf_putn(out, buf, size);
		free(buf);
	}
	return out->oom ? -ENOMEM : 0;
}

static void known_free(struct backend *b)
{
	for (size_t i = 0; i < b->n_known; i++)
		nft_elems_free(&b->known[i].elems);
	free(b->known);
	b->known = NULL;
	b->n_known = 0;
	free(b->known_raw);
	b->known_raw = NULL;
	b->known_len = 0;
}

struct reader {
	const unsigned char *p, *end;
	bool bad;
};

static const unsigned char *take(struct reader *rd, size_t n)
{
	const unsigned char *at = rd->p;

	if (rd->bad || (size_t)(rd->end - rd->p) < n) {
		rd->bad = true;
		return NULL;
	}
	rd->p += n;
	return at;
}

static uint32_t take_u32(struct reader *rd)
{
	const unsigned char *v = take(rd, 4);

	return v ? (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 24 : 0;
}

static void nft_known_load(struct backend *b, const char *data, size_t len)
{
	known_free(b);
	b->known_raw = malloc(len + 1);
	if (b->known_raw) {
		memcpy(b->known_raw, data, len);
		b->known_len = len;
	}
}

static void known_parse(struct backend *b)
{
	struct reader rd = {(const unsigned char *)b->known_raw, (const unsigned char *)b->known_raw + b->known_len,
			    false};
	const unsigned char *magic = take(&rd, 4);
	uint32_t n;

	if (!magic || memcmp(magic, KNOWN_MAGIC, 4))
		goto out;
	b->known_genid = take_u32(&rd);
	n = take_u32(&rd);
	/* every set takes at least 8 bytes: a count beyond that is damage */
	if (rd.bad || n > (size_t)(rd.end - rd.p) / 8 || !(b->known = calloc(n + 1, sizeof(*b->known))))
		goto out;
	for (uint32_t i = 0; i < n && !rd.bad; i++) {
		struct known_set *ks = &b->known[b->n_known++];
		uint32_t name_len = take_u32(&rd), count;
		const unsigned char *name = take(&rd, name_len);
		if (!name || name_len >= sizeof(ks->name))
			break;
		memcpy(ks->name, name, name_len);
		count = take_u32(&rd);
		/* every element takes at least 2 bytes: a count beyond that is damage */
		if (count > (size_t)(rd.end - rd.p) / 2 || nft_elems_reserve(&ks->elems, count) < 0)
			break;
		for (uint32_t k = 0; k < count && !rd.bad; k++) {
			const unsigned char *head = take(&rd, 2);
			const unsigned char *key = head ? take(&rd, head[0]) : NULL;
			if (!key || head[0] > NFT_KEY_MAX || head[1] > 1 ||
			    nft_elems_add(&ks->elems, key, head[0], head[1]) < 0)
				rd.bad = true;
		}
	}
	if (rd.bad || rd.p != rd.end || b->n_known != n)
		known_free(b); /* damaged: the next read dumps, as without it */
out:
	free(b->known_raw);
	b->known_raw = NULL;
	b->known_len = 0;
}

static void nft_close(struct backend *b)
{
	if (!b)
		return;
	if (b->cached)
		live_free(&b->cache);
	known_free(b);
	nft_sock_close(&b->sock);
	free(b);
}

const struct backend_ops nft_backend_ops = {
    .name = "nft",
    .tables = BACKEND_TABLES_NFT,
    .probe = nft_probe_tables,
    .open = nft_open,
    .close = nft_close,
    .plan = nft_plan,
    .commit = nft_commit,
    .plan_free = nft_plan_free,
    .verify = nft_verify,
    .generation = nft_generation,
    .exact_generation = true,
    .owned = nft_owned,
    .render = emit_nft_text,
    .lint_read = nft_lint_read,
    .known_save = nft_known_save,
    .known_load = nft_known_load,
};
