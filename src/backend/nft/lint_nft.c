/*
 * The nftables reader of the linter: rules' netlink messages -> conntrack
 * users and filter chains (see lint_nft.h).  Every base chain is walked,
 * each rule decoded where the walk meets it (its selector, what it needs
 * from conntrack, its verdict and jumps), carrying the conditions of the
 * jumps down into the chains they reach, so that Docker's DNAT in the
 * DOCKER chain is attributed to the prerouting and output hooks of the nat
 * base chains that jump there, with their conditions.
 *
 * Registers are tracked the way nft_do_chain() uses them: a load names what
 * a register holds (a port, an address prefix, an interface name, the ct
 * state), and the cmp/range/lookup that follows constrains that field.  An
 * expression we do not know may have loaded anything, so it forgets every
 * register; a compare on a register we know nothing about widens the rule.
 */
#include "backend/nft/lint_nft.h"
#include "lint/lint_xt.h"
#include "util/hash.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SLOTS 16   /* 32-bit register slots: NFT_REG_1..4 are 4 slots each */
#define MAX_DEPTH 16 /* jump nesting followed; nf_tables itself allows 16 */
#define CT_ALL_STATES (LINT_CT_INVALID | LINT_CT_ESTABLISHED | LINT_CT_RELATED | LINT_CT_NEW | LINT_CT_UNTRACKED)

enum rkind {
	R_NONE,	   /* unknown content */
	R_CONT,	   /* the tail of a wider load into an earlier slot */
	R_L4PROTO, /* meta l4proto, ip protocol, ip6 nexthdr */
	R_NFPROTO,
	R_IFNAME, /* meta iifname / oifname */
	R_ADDR,	  /* a prefix of ip/ip6 saddr/daddr */
	R_PORT,	  /* th sport/dport */
	R_CTSTATE,
	R_CTOTHER,  /* another ct key: compares on it do not select packets in our terms */
	R_IMM,	    /* immediate data (NAT addresses and ports) */
	R_MAPDATA,  /* the result of a map lookup */
	R_ADDRTYPE, /* fib ... type: compares on it are left out without calling the rule widened (below) */
	R_RANDOM,   /* numgen, jhash: picks one of several targets; every target is reachable */
	R_MARK,	    /* meta mark */
	R_MARKOR,   /* meta mark | C: data holds C, the bits it sets */
};

struct reg {
	enum rkind kind;
	unsigned len;
	bool source; /* R_ADDR, R_PORT: the source field; R_IFNAME: iifname */
	unsigned af;
	bool masked;
	uint8_t mask[16];
	uint8_t data[16];
};

struct decoded {
	struct lint_sel sel;
	bool widened;
	unsigned needs; /* 1 << enum ct_need */
	uint32_t ct_state;
	struct lint_ranges to_addr[2], to_port;
	bool dnat_known_place;
	int verdict; /* NF_ACCEPT, NF_DROP, NFT_JUMP, NFT_GOTO, NFT_RETURN; NFT_CONTINUE: none */
	bool vmap_drop;
	bool limited;	    /* a limit or quota: not every packet it selects is accepted */
	bool from_host;	    /* fib saddr type local, -m addrtype --src-type LOCAL: only what this host sends */
	bool pkt_mark;	    /* meta mark X (X != 0): only packets a socket or a rule marked */
	bool ct_write;	    /* ct mark set ... */
	uint32_t mark_gate; /* meta mark & M == V, meta mark V: the bits V it needs set */
	bool mark_write;    /* meta mark set ... */
	bool mark_any;	    /* ... to a value not known: any bits */
	uint32_t mark_bits; /* ... else the bits it sets */
	bool nat_random;    /* fully-random: the port is always picked anew */
	char **targets;	    /* chains jumped or gone to */
	size_t n_targets;
	/* per target: a condition of its own (a concatenated verdict map's key,
	 * e.g. kube-proxy's ip daddr . meta l4proto . th dport), or NULL */
	struct lint_sel **target_sel;
	bool notrack;
	char action[160]; /* the non-selector part in words */
	const struct lint_nft_rule *src;
};

struct decoder {
	const struct lint_nft_view *v;
	struct lint_input *out;
	const struct lint_nft_rule *rule;
	unsigned table_family; /* FAMILY_* of the table */
	struct reg regs[N_SLOTS];
	struct decoded *d;
	uint32_t hooknum_hint;
	int err;
};

/*
 * Netlink attributes, read inline: the decoder visits every attribute of
 * every rule it meets, and libmnl's accessors are each a call through the
 * PLT (a tenth of a kube-proxy lint).  Same checks as mnl_attr_ok().
 */
static inline uint16_t attr_type(const struct nlattr *a)
{
	return a->nla_type & NLA_TYPE_MASK;
}

static inline uint16_t attr_len(const struct nlattr *a)
{
	return a->nla_len > MNL_ATTR_HDRLEN ? (uint16_t)(a->nla_len - MNL_ATTR_HDRLEN) : 0;
}

static inline const void *attr_data(const struct nlattr *a)
{
	return (const char *)a + MNL_ATTR_HDRLEN;
}

static inline bool attr_ok(const struct nlattr *a, const char *end)
{
	return end - (const char *)a >= (ptrdiff_t)sizeof(*a) && a->nla_len >= sizeof(*a) &&
	       a->nla_len <= end - (const char *)a;
}

static inline const struct nlattr *attr_next(const struct nlattr *a)
{
	return (const struct nlattr *)((const char *)a + MNL_ALIGN(a->nla_len));
}

static inline uint32_t attr_be32(const struct nlattr *a)
{
	uint32_t v;

	memcpy(&v, attr_data(a), sizeof(v));
	return ntohl(v);
}

/* every attribute nested in nest */
#define FOR_NESTED(a, nest)                                                                                            \
	for ((a) = attr_data(nest); attr_ok((a), (const char *)attr_data(nest) + attr_len(nest)); (a) = attr_next(a))

/*
 * One expression of a rule, read straight from the rule's netlink message
 * (NFTA_LIST_ELEM { NFTA_EXPR_NAME, NFTA_EXPR_DATA { ... } }): its
 * attributes by type (those we read are all below XA_MAX; NFTA_HASH_MAX,
 * the largest, is 9).  libnftnl's parse allocated
 * each expression and looked its ops up by name, most of the decode's time
 * on a kube-proxy host; we need a handful of fields from each.
 */
#define XA_MAX 15

struct xattrs {
	const char *name;
	const struct nlattr *tb[XA_MAX + 1];
	char str[NFT_NAME_MAXLEN]; /* a string attribute without its NUL (below) */
};

static bool xa_has(struct xattrs *e, uint16_t t)
{
	return e->tb[t] != NULL;
}

/* A u32 attribute in host order; 0 when absent, as libnftnl's getters */
static uint32_t xa_u32(struct xattrs *e, uint16_t t)
{
	const struct nlattr *a = e->tb[t];

	return a && attr_len(a) >= sizeof(uint32_t) ? attr_be32(a) : 0;
}

/* A string attribute.  The kernel's dumps end them with a NUL; libnftnl's
 * builder (a rule handed over parsed, decode_rule) leaves some without one
 * (netlink's NLA_STRING need not have it), so those are copied out. */
static const char *attr_str(const struct nlattr *a, char *buf, size_t size)
{
	uint16_t len = a ? attr_len(a) : 0;

	if (!a)
		return NULL;
	if (len && memchr(attr_data(a), 0, len))
		return attr_data(a);
	snprintf(buf, size, "%.*s", (int)len, (const char *)attr_data(a));
	return buf;
}

static const char *xa_str(struct xattrs *e, uint16_t t)
{
	return attr_str(e->tb[t], e->str, sizeof(e->str));
}

/* An attribute's bytes as they are (xt info structs) */
static const uint8_t *xa_bin(struct xattrs *e, uint16_t t, uint32_t *len)
{
	const struct nlattr *a = e->tb[t];

	*len = a ? attr_len(a) : 0;
	return a ? attr_data(a) : NULL;
}

/* The first attribute of type t nested in a, or NULL */
static const struct nlattr *nested(const struct nlattr *a, uint16_t t)
{
	const struct nlattr *n;

	FOR_NESTED(n, a)
	{
		if (attr_type(n) == t)
			return n;
	}
	return NULL;
}

/* A data attribute's value (NFTA_DATA_VALUE inside it: cmp, range,
 * bitwise and immediate operands) */
static const uint8_t *xa_data(struct xattrs *e, uint16_t t, uint32_t *len)
{
	const struct nlattr *v = e->tb[t] ? nested(e->tb[t], NFTA_DATA_VALUE) : NULL;

	*len = v ? attr_len(v) : 0;
	return v ? attr_data(v) : NULL;
}

/* An immediate's verdict (NFTA_DATA_VERDICT { CODE, CHAIN }); false when
 * it loads data instead */
static bool xa_verdict(struct xattrs *e, uint16_t t, int *code, const char **chain)
{
	const struct nlattr *v = e->tb[t] ? nested(e->tb[t], NFTA_DATA_VERDICT) : NULL, *c;

	*chain = NULL;
	if (!v)
		return false;
	c = nested(v, NFTA_VERDICT_CODE);
	if (!c || attr_len(c) < sizeof(uint32_t))
		return false; /* no code: not a verdict we can name (0 would read as drop) */
	*code = (int)attr_be32(c);
	*chain = attr_str(nested(v, NFTA_VERDICT_CHAIN), e->str, sizeof(e->str));
	return true;
}

static void action(struct decoded *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void action(struct decoded *d, const char *fmt, ...)
{
	size_t len = strlen(d->action);
	va_list ap;

	if (len && len < sizeof(d->action) - 1)
		d->action[len++] = ' ';
	va_start(ap, fmt);
	vsnprintf(d->action + len, sizeof(d->action) - len, fmt, ap);
	va_end(ap);
}

static const char *nf_family_str(uint32_t f)
{
	return f == NFPROTO_IPV4 ? "ip" : f == NFPROTO_IPV6 ? "ip6" : f == NFPROTO_INET ? "inet" : "other";
}

static unsigned table_families(uint32_t f)
{
	return family_from_nfproto(f);
}

/* ------------------------------------------------------------------ */
/* registers                                                            */

static int slot_of(uint32_t reg)
{
	if (reg >= NFT_REG_1 && reg <= NFT_REG_4)
		return (int)(reg - NFT_REG_1) * 4;
	if (reg >= NFT_REG32_00 && reg <= NFT_REG32_15)
		return (int)(reg - NFT_REG32_00);
	return -1;
}

static struct reg *reg_at(struct decoder *x, uint32_t reg)
{
	int s = slot_of(reg);

	return s < 0 ? NULL : &x->regs[s];
}

static void reg_set(struct decoder *x, uint32_t reg, const struct reg *val)
{
	int s = slot_of(reg);

	if (s < 0)
		return;
	x->regs[s] = *val;
	for (unsigned i = 1; i < (val->len + 3) / 4 && s + (int)i < N_SLOTS; i++) {
		memset(&x->regs[s + i], 0, sizeof(x->regs[0]));
		x->regs[s + i].kind = R_CONT;
	}
}

static void reg_forget_all(struct decoder *x)
{
	memset(x->regs, 0, sizeof(x->regs));
}

static void load(struct decoder *x, uint32_t reg, enum rkind kind, unsigned len)
{
	struct reg r;

	memset(&r, 0, sizeof(r));
	r.kind = kind;
	r.len = len;
	reg_set(x, reg, &r);
}

/* The family the rule is known to be about, for network-header offsets:
 * FAMILY_IPV4 or FAMILY_IPV6, or 0 while it could be either. */
static unsigned rule_af(struct decoder *x)
{
	unsigned f = x->d->sel.family & x->table_family & FAMILY_BOTH;

	return f == FAMILY_BOTH ? 0 : f;
}

static void on_payload(struct decoder *x, struct xattrs *e)
{
	uint32_t base, off, len, dreg;
	struct reg r;
	unsigned af;

	if (!xa_has(e, NFTA_PAYLOAD_DREG))
		return; /* a payload write: selects nothing */
	dreg = xa_u32(e, NFTA_PAYLOAD_DREG);
	base = xa_u32(e, NFTA_PAYLOAD_BASE);
	off = xa_u32(e, NFTA_PAYLOAD_OFFSET);
	len = xa_u32(e, NFTA_PAYLOAD_LEN);
	memset(&r, 0, sizeof(r));
	r.len = len;
	af = rule_af(x);
	if (base == NFT_PAYLOAD_NETWORK_HEADER && af == FAMILY_IPV4) {
		if (off == 9 && len == 1)
			r.kind = R_L4PROTO;
		else if ((off == 12 || off == 16) && len <= 4)
			r.kind = R_ADDR, r.source = off == 12, r.af = FAMILY_IPV4;
	} else if (base == NFT_PAYLOAD_NETWORK_HEADER && af == FAMILY_IPV6) {
		if (off == 6 && len == 1)
			r.kind = R_L4PROTO;
		else if ((off == 8 || off == 24) && len <= 16)
			r.kind = R_ADDR, r.source = off == 8, r.af = FAMILY_IPV6;
	} else if (base == NFT_PAYLOAD_TRANSPORT_HEADER && (off == 0 || off == 2) && len == 2) {
		r.kind = R_PORT;
		r.source = off == 0;
	}
	reg_set(x, dreg, &r);
}

static uint32_t u32_of(const uint8_t *data, unsigned len);

static void on_meta(struct decoder *x, struct xattrs *e)
{
	uint32_t key = xa_u32(e, NFTA_META_KEY), dreg;

	if (!xa_has(e, NFTA_META_DREG)) {
		/* meta set: changes the packet, selects nothing; a mark it sets
		 * opens the gates that test those bits (follow_marks) */
		if (key == NFT_META_MARK && xa_has(e, NFTA_META_SREG)) {
			const struct reg *r = reg_at(x, xa_u32(e, NFTA_META_SREG));
			bool known = r && (r->kind == R_IMM || r->kind == R_MARKOR) && r->len == 4;
			x->d->mark_write = true;
			x->d->mark_any |= !known;
			x->d->mark_bits |= known ? u32_of(r->data, 4) : 0;
			action(x->d, "meta mark set");
		}
		return;
	}
	dreg = xa_u32(e, NFTA_META_DREG);
	switch (key) {
	case NFT_META_L4PROTO: load(x, dreg, R_L4PROTO, 1); break;
	case NFT_META_NFPROTO: load(x, dreg, R_NFPROTO, 1); break;
	case NFT_META_MARK: load(x, dreg, R_MARK, 4); break;
	case NFT_META_IIFNAME:
	case NFT_META_OIFNAME: {
		struct reg r;
		memset(&r, 0, sizeof(r));
		r.kind = R_IFNAME;
		r.len = IFNAMSIZ;
		r.source = key == NFT_META_IIFNAME;
		reg_set(x, dreg, &r);
		break;
	}
	default: load(x, dreg, R_NONE, 4); break;
	}
}

static void on_bitwise(struct decoder *x, struct xattrs *e)
{
	struct reg *src = reg_at(x, xa_u32(e, NFTA_BITWISE_SREG));
	uint32_t dreg = xa_u32(e, NFTA_BITWISE_DREG), mlen = 0, xlen = 0;
	const uint8_t *mask = xa_data(e, NFTA_BITWISE_MASK, &mlen);
	const uint8_t * xor = xa_data(e, NFTA_BITWISE_XOR, &xlen);
	struct reg r;
	bool plain_mask = mask && mlen <= 16 && xor;
	bool shift = xa_has(e, NFTA_BITWISE_OP) && xa_u32(e, NFTA_BITWISE_OP) != NFT_BITWISE_BOOL;

	for (uint32_t i = 0; plain_mask && i < xlen; i++)
		plain_mask = xor[i] == 0;
	if (shift)
		plain_mask = false;
	/* (xlen is 4 only when the xor is there) */
	if (src && src->kind == R_MARK && !shift && !plain_mask && mask && mlen == 4 && xlen == 4) {
		/* (mark & mask) ^ xor, nft's meta mark | C: the bits of xor
		 * are the ones it can set that the packet did not carry */
		memset(&r, 0, sizeof(r));
		r.kind = R_MARKOR;
		r.len = 4;
		memcpy(r.data, xor, 4);
		reg_set(x, dreg, &r);
		return;
	}
	if (!src || !plain_mask) {
		load(x, dreg, R_NONE, 4);
		return;
	}
	r = *src;
	r.masked = true;
	memset(r.mask, 0, sizeof(r.mask));
	memcpy(r.mask, mask, mlen);
	reg_set(x, dreg, &r);
}

static int add_target(struct decoded *d, const char *chain)
{
	char **t = realloc(d->targets, (d->n_targets + 1) * sizeof(*t));
	struct lint_sel **ts;

	if (!t)
		return -ENOMEM;
	d->targets = t;
	ts = realloc(d->target_sel, (d->n_targets + 1) * sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	d->target_sel = ts;
	ts[d->n_targets] = NULL;
	t[d->n_targets] = strdup(chain);
	if (!t[d->n_targets])
		return -ENOMEM;
	d->n_targets++;
	return 0;
}

static void widen(struct decoder *x);

static void on_immediate(struct decoder *x, struct xattrs *e)
{
	uint32_t dreg = xa_u32(e, NFTA_IMMEDIATE_DREG), len = 0;
	struct decoded *d = x->d;

	if (dreg == NFT_REG_VERDICT) {
		const char *chain;
		int code;
		if (!xa_verdict(e, NFTA_IMMEDIATE_DATA, &code, &chain)) {
			widen(x); /* no verdict we can name: the rule goes on as if it had none */
			return;
		}
		d->verdict = code;
		if ((d->verdict == NFT_JUMP || d->verdict == NFT_GOTO) && chain && add_target(d, chain) < 0)
			x->err = -ENOMEM;
		return;
	}
	const void *data = xa_data(e, NFTA_IMMEDIATE_DATA, &len);
	struct reg r;
	memset(&r, 0, sizeof(r));
	r.kind = R_IMM;
	r.len = len > 16 ? 16 : len;
	if (data)
		memcpy(r.data, data, r.len);
	reg_set(x, dreg, &r);
}

/* ------------------------------------------------------------------ */
/* constraints                                                          */

static void widen(struct decoder *x)
{
	x->d->widened = true;
}

/* Leading one bits of a mask, or -1 if it is not a prefix mask. */
static int prefix_of_mask(const uint8_t *m, unsigned len)
{
	unsigned bits = 0;
	bool ended = false;

	for (unsigned i = 0; i < len * 8; i++) {
		bool one = m[i / 8] & (0x80 >> (i % 8));
		if (one && ended)
			return -1;
		if (one)
			bits++;
		else
			ended = true;
	}
	return (int)bits;
}

static int and_ranges(struct decoder *x, const struct reg *r, struct lint_ranges *set, bool invert)
{
	int e = 0;

	if (invert)
		e = lint_ranges_not(set, r->kind == R_PORT ? LINT_PORT_WIDTH : family_addr_len(r->af));
	if (e == 0)
		e = r->kind == R_PORT ? lint_sel_and_ports(&x->d->sel, r->source, set)
				      : lint_sel_and_addrs(&x->d->sel, r->source, r->af, set);
	return e;
}

/* A compare on an address prefix or port: EQ, NEQ and, for ports, order. */
static int cmp_value(struct decoder *x, const struct reg *r, uint32_t op, const uint8_t *data, unsigned len)
{
	struct lint_ranges set = {0};
	struct lint_range rg;
	int e;

	if (r->kind == R_ADDR) {
		unsigned w = family_addr_len(r->af);
		int bits = r->masked ? prefix_of_mask(r->mask, len) : (int)len * 8;
		uint8_t addr[16] = {0};
		if (bits < 0 || len > w || (op != NFT_CMP_EQ && op != NFT_CMP_NEQ)) {
			widen(x);
			return 0;
		}
		memcpy(addr, data, len);
		lint_range_prefix(&rg, addr, (unsigned)bits, w);
	} else {
		uint16_t v = (uint16_t)(data[0] << 8 | data[1]);
		if (r->masked || len != 2) {
			widen(x);
			return 0;
		}
		switch (op) {
		case NFT_CMP_EQ:
		case NFT_CMP_NEQ: lint_range_port(&rg, v, v); break;
		case NFT_CMP_LT:
			if (!v)
				return lint_sel_and_ports(&x->d->sel, r->source, &set); /* nothing */
			lint_range_port(&rg, 0, (uint16_t)(v - 1));
			break;
		case NFT_CMP_LTE: lint_range_port(&rg, 0, v); break;
		case NFT_CMP_GT:
			if (v == 65535)
				return lint_sel_and_ports(&x->d->sel, r->source, &set);
			lint_range_port(&rg, (uint16_t)(v + 1), 65535);
			break;
		case NFT_CMP_GTE: lint_range_port(&rg, v, 65535); break;
		default: widen(x); return 0;
		}
	}
	e = lint_ranges_set(&set, &rg, 1, r->kind == R_PORT ? LINT_PORT_WIDTH : family_addr_len(r->af));
	if (e == 0)
		e = and_ranges(x, r, &set, op == NFT_CMP_NEQ);
	lint_ranges_free(&set);
	return e;
}

static uint32_t u32_of(const uint8_t *data, unsigned len)
{
	uint32_t v = 0;

	memcpy(&v, data, len < 4 ? len : 4);
	return v;
}

static void set_ct_state(struct decoder *x, uint32_t mask)
{
	char words[80];

	x->d->ct_state |= mask & CT_ALL_STATES;
	lint_ct_state_words(mask & CT_ALL_STATES, words, sizeof(words));
	action(x->d, "ct state %s", words);
}

static void on_cmp(struct decoder *x, struct xattrs *e)
{
	struct reg *r = reg_at(x, xa_u32(e, NFTA_CMP_SREG));
	uint32_t op = xa_u32(e, NFTA_CMP_OP), len = 0;
	const uint8_t *data = xa_data(e, NFTA_CMP_DATA, &len);
	struct lint_sel *s = &x->d->sel;

	if (!r || !data || !len) {
		widen(x);
		return;
	}
	switch (r->kind) {
	case R_L4PROTO:
		if (op == NFT_CMP_EQ)
			lint_sel_and_proto(s, data[0]);
		break; /* != tcp: left out, wider */
	case R_NFPROTO: {
		unsigned f = data[0] == NFPROTO_IPV4 ? FAMILY_IPV4 : data[0] == NFPROTO_IPV6 ? FAMILY_IPV6 : 0;
		lint_sel_and_family(s, op == NFT_CMP_EQ ? f : op == NFT_CMP_NEQ ? ~f : FAMILY_BOTH);
		break;
	}
	case R_IFNAME: {
		char name[LINT_IFNAME_MAX] = {0};
		/* a name that ends before the compared length is exact, else it is a prefix */
		bool exact = memchr(data, 0, len) != NULL;
		memcpy(name, data, len < sizeof(name) - 1 ? len : sizeof(name) - 1);
		if (op == NFT_CMP_EQ || op == NFT_CMP_NEQ) {
			/* a lost constraint would widen the rule: for an accept
			 * that hides drops, so it is an error, not a widening */
			if (lint_sel_add_if(s, r->source, name, !exact, op == NFT_CMP_NEQ) < 0)
				x->err = -ENOMEM;
		} else
			widen(x);
		break;
	}
	case R_ADDR:
	case R_PORT:
		if (cmp_value(x, r, op, data, len) < 0)
			x->err = -ENOMEM;
		break;
	case R_CTSTATE: {
		uint32_t v = u32_of(data, len), m = r->masked ? u32_of(r->mask, 4) : 0;
		if (r->masked && v == 0)
			set_ct_state(x, op == NFT_CMP_NEQ ? m : ~m); /* ct state {a,b} / ct state != {a,b} */
		else if (!r->masked)
			set_ct_state(x, op == NFT_CMP_EQ ? v : op == NFT_CMP_NEQ ? ~v : CT_ALL_STATES);
		else
			set_ct_state(x, CT_ALL_STATES);
		break;
	}
	case R_CTOTHER:
	case R_IMM:
	case R_ADDRTYPE:
		/* fib saddr type local: packets this host sends (Docker 29's
		 * "MASQUERADE FROM HOST"); other address types stay left out */
		if (r->source && op == NFT_CMP_EQ && len >= 4 && u32_of(data, 4) == RTN_LOCAL) {
			x->d->from_host = true;
			action(x->d, "fib saddr type local");
		} else if (!r->source && op == NFT_CMP_EQ && len >= 4 && u32_of(data, 4) == RTN_LOCAL) {
			x->d->sel.to_host = true; /* fib daddr type local */
		}
		break;
	case R_MAPDATA:
	case R_RANDOM: break;
	case R_MARK:
		/* meta mark 0xca6c (wg-quick's save): only packets that carry that
		 * mark; the selector cannot hold it, so it stays wider, but the
		 * analysis knows what such a gate means */
		if (op == NFT_CMP_EQ && !r->masked && u32_of(data, len) != 0) {
			x->d->pkt_mark = true;
			x->d->mark_gate |= u32_of(data, len);
			action(x->d, "meta mark 0x%08x", u32_of(data, len));
		} else if (op == NFT_CMP_EQ && r->masked && len == 4 && u32_of(data, len) != 0) {
			/* meta mark & 0x2000 == 0x2000 (netavark's masquerade) */
			x->d->mark_gate |= u32_of(data, len);
			action(x->d, "meta mark & 0x%08x == 0x%08x", u32_of(r->mask, 4), u32_of(data, len));
		}
		widen(x);
		break;
	default: widen(x); break;
	}
}

static void on_range(struct decoder *x, struct xattrs *e)
{
	struct reg *r = reg_at(x, xa_u32(e, NFTA_RANGE_SREG));
	uint32_t op = xa_u32(e, NFTA_RANGE_OP), flen = 0, tlen = 0;
	const uint8_t *from = xa_data(e, NFTA_RANGE_FROM_DATA, &flen);
	const uint8_t *to = xa_data(e, NFTA_RANGE_TO_DATA, &tlen);
	unsigned w = r && r->kind == R_PORT ? LINT_PORT_WIDTH : r && r->kind == R_ADDR ? family_addr_len(r->af) : 0;
	struct lint_ranges set = {0};
	struct lint_range rg;

	if (!r || r->kind == R_CTOTHER)
		return;
	if (!w || r->masked || !from || !to || flen != w || tlen != w || r->len != w) {
		widen(x);
		return;
	}
	memset(&rg, 0, sizeof(rg));
	memcpy(rg.lo, from, w);
	memcpy(rg.hi, to, w);
	if (lint_ranges_set(&set, &rg, 1, w) < 0 || and_ranges(x, r, &set, op == NFT_RANGE_NEQ) < 0)
		x->err = -ENOMEM;
	lint_ranges_free(&set);
}

/* ------------------------------------------------------------------ */
/* sets and maps                                                        */

static struct nftnl_set *find_set(const struct lint_nft_view *v, uint32_t family, const char *table, const char *name)
{
	for (size_t i = 0; i < v->n_sets; i++) {
		struct nftnl_set *s = v->sets[i];
		if (nftnl_set_get_u32(s, NFTNL_SET_FAMILY) == family &&
		    !strcmp(nftnl_set_get_str(s, NFTNL_SET_TABLE), table) &&
		    !strcmp(nftnl_set_get_str(s, NFTNL_SET_NAME), name))
			return s;
	}
	return NULL;
}

struct elem_key {
	uint8_t key[16];
	bool end;
};

static int elem_order(const void *a, const void *b)
{
	const struct elem_key *x = a, *y = b;
	int c = memcmp(x->key, y->key, sizeof(x->key));

	/* at the same key, an interval's end comes before the next one's start */
	return c ? c : (int)y->end - (int)x->end;
}

/* The keys of a set as value ranges of width w.  An interval set holds each
 * interval as a start element and an end element (one past the last value). */
static int set_ranges(struct nftnl_set *s, unsigned w, struct lint_ranges *out)
{
	bool interval = nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_INTERVAL;
	struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
	struct elem_key *keys = NULL;
	struct lint_range *rg = NULL;
	size_t n = 0, m = 0;
	int e = 0;

	if (!it)
		return -ENOMEM;
	for (struct nftnl_set_elem *el = nftnl_set_elems_iter_next(it); el; el = nftnl_set_elems_iter_next(it)) {
		uint32_t klen = 0;
		const uint8_t *k = nftnl_set_elem_get(el, NFTNL_SET_ELEM_KEY, &klen);
		struct elem_key *p = realloc(keys, (n + 1) * sizeof(*p));
		if (!p) {
			e = -ENOMEM;
			break;
		}
		keys = p;
		memset(&keys[n], 0, sizeof(keys[n]));
		if (k)
			memcpy(keys[n].key, k, klen < w ? klen : w);
		keys[n].end = nftnl_set_elem_is_set(el, NFTNL_SET_ELEM_FLAGS) &&
			      (nftnl_set_elem_get_u32(el, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END);
		n++;
	}
	nftnl_set_elems_iter_destroy(it);
	if (e == 0 && n) {
		rg = calloc(n, sizeof(*rg));
		if (!rg)
			e = -ENOMEM;
	}
	if (e == 0) {
		qsort(keys, n, sizeof(*keys), elem_order);
		bool open = false;
		for (size_t i = 0; i < n; i++) {
			if (!interval) {
				memcpy(rg[m].lo, keys[i].key, w);
				memcpy(rg[m++].hi, keys[i].key, w);
			} else if (!keys[i].end) {
				if (open)
					memset(rg[m - 1].hi, 0xff, w); /* cannot happen in a sane set: be wide */
				memcpy(rg[m].lo, keys[i].key, w);
				memset(rg[m++].hi, 0xff, w);
				open = true;
			} else if (open) {
				/* the end element is one past the last value */
				uint8_t *hi = rg[m - 1].hi;
				memcpy(hi, keys[i].key, w);
				for (unsigned b = w; b-- > 0;)
					if (hi[b]-- != 0)
						break;
				open = false;
			}
		}
		e = lint_ranges_set(out, rg, m, w);
	}
	free(keys);
	free(rg);
	return e;
}

/* A verdict map: the chains it jumps to, and whether it drops. */
static int vmap_targets(struct decoder *x, struct nftnl_set *s)
{
	struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
	int e = 0;

	if (!it)
		return -ENOMEM;
	for (struct nftnl_set_elem *el = nftnl_set_elems_iter_next(it); el && e == 0;
	     el = nftnl_set_elems_iter_next(it)) {
		if (!nftnl_set_elem_is_set(el, NFTNL_SET_ELEM_VERDICT))
			continue;
		int verdict = (int)nftnl_set_elem_get_u32(el, NFTNL_SET_ELEM_VERDICT);
		if ((verdict == NFT_JUMP || verdict == NFT_GOTO) && nftnl_set_elem_is_set(el, NFTNL_SET_ELEM_CHAIN))
			e = add_target(x->d, nftnl_set_elem_get_str(el, NFTNL_SET_ELEM_CHAIN));
		if (verdict == NF_DROP)
			x->d->vmap_drop = true;
	}
	nftnl_set_elems_iter_destroy(it);
	return e;
}

/* One field of a concatenated key, exactly as the element holds it: what a
 * packet must carry to pick that element.  False when the field is not one
 * the selector speaks (then the element's condition leaves it out);
 * -ENOMEM. */
static int key_field(const struct reg *r, const uint8_t *k, struct lint_sel *s)
{
	struct lint_ranges set = {0};
	struct lint_range rg;
	bool ok = true;

	switch (r->kind) {
	case R_L4PROTO: lint_sel_and_proto(s, k[0]); return true;
	case R_IFNAME: {
		char name[LINT_IFNAME_MAX] = {0};
		memcpy(name, k, sizeof(name) - 1);
		return lint_sel_add_if(s, r->source, name, false, false) < 0 ? -ENOMEM : true;
	}
	case R_PORT:
		if (r->masked || r->len != LINT_PORT_WIDTH)
			return false;
		lint_range_port(&rg, (uint16_t)(k[0] << 8 | k[1]), (uint16_t)(k[0] << 8 | k[1]));
		ok = lint_ranges_set(&set, &rg, 1, LINT_PORT_WIDTH) == 0 && lint_sel_and_ports(s, r->source, &set) == 0;
		break;
	case R_ADDR:
		if (r->masked || r->len != family_addr_len(r->af))
			return false;
		lint_range_prefix(&rg, k, r->len * 8, r->len);
		ok = lint_ranges_set(&set, &rg, 1, r->len) == 0 && lint_sel_and_addrs(s, r->source, r->af, &set) == 0;
		break;
	default: return false;
	}
	lint_ranges_free(&set);
	return ok;
}

/*
 * A verdict map keyed by a concatenation (kube-proxy's
 * "ip daddr . meta l4proto . th dport vmap @service-ips"): each element's
 * target is reached only by packets that carry its key, so each target gets
 * the key as a condition of its own.  Without that, every service chain
 * would be reached by every packet, and every endpoint's DNAT would seem to
 * take any address and port.  Interval maps are left to the caller (wide).
 * Returns 1 when decoded, 0 when not (fields it cannot read), <0 on error.
 */
static int concat_vmap(struct decoder *x, struct nftnl_set *s, uint32_t sreg)
{
	uint32_t klen = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
	int slot = slot_of(sreg), e = 0;
	struct nftnl_set_elems_iter *it;
	bool widened = false;

	if (slot < 0 || (nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_INTERVAL))
		return 0;
	/* every field must be known, and the fields must fill the key */
	unsigned off = 0;
	for (int sl = slot; off < klen; sl += (int)((x->regs[sl].len + 3) / 4)) {
		if (sl >= N_SLOTS || x->regs[sl].kind == R_NONE || x->regs[sl].kind == R_CONT || !x->regs[sl].len)
			return 0;
		off += (x->regs[sl].len + 3) & ~3u;
	}
	if (off != klen)
		return 0;
	it = nftnl_set_elems_iter_create(s);
	if (!it)
		return -ENOMEM;
	for (struct nftnl_set_elem *el = nftnl_set_elems_iter_next(it); el && e == 0;
	     el = nftnl_set_elems_iter_next(it)) {
		uint32_t len = 0;
		const uint8_t *k = nftnl_set_elem_get(el, NFTNL_SET_ELEM_KEY, &len);
		if (!nftnl_set_elem_is_set(el, NFTNL_SET_ELEM_VERDICT) || !k || len < klen)
			continue;
		int verdict = (int)nftnl_set_elem_get_u32(el, NFTNL_SET_ELEM_VERDICT);
		if (verdict == NF_DROP)
			x->d->vmap_drop = true;
		if ((verdict != NFT_JUMP && verdict != NFT_GOTO) || !nftnl_set_elem_is_set(el, NFTNL_SET_ELEM_CHAIN))
			continue;
		struct lint_sel *ts = malloc(sizeof(*ts));
		if (!ts) {
			e = -ENOMEM;
			break;
		}
		lint_sel_init(ts, FAMILY_BOTH);
		off = 0;
		for (int sl = slot; off < klen && e == 0; sl += (int)((x->regs[sl].len + 3) / 4)) {
			int f = key_field(&x->regs[sl], k + off, ts);
			if (f < 0)
				e = f;
			else if (!f)
				widened = true;
			off += (x->regs[sl].len + 3) & ~3u;
		}
		if (e == 0)
			e = add_target(x->d, nftnl_set_elem_get_str(el, NFTNL_SET_ELEM_CHAIN));
		if (e == 0)
			x->d->target_sel[x->d->n_targets - 1] = ts;
		else {
			lint_sel_free(ts);
			free(ts);
		}
	}
	nftnl_set_elems_iter_destroy(it);
	if (widened)
		widen(x);
	return e < 0 ? e : 1;
}

static void on_lookup(struct decoder *x, struct xattrs *e)
{
	const struct lint_nft_rule *ru = x->rule;
	const char *name = xa_str(e, NFTA_LOOKUP_SET);
	struct reg *r = reg_at(x, xa_u32(e, NFTA_LOOKUP_SREG));
	struct nftnl_set *s = name ? find_set(x->v, ru->family, ru->table, name) : NULL;
	bool inv = xa_has(e, NFTA_LOOKUP_FLAGS) && (xa_u32(e, NFTA_LOOKUP_FLAGS) & NFT_LOOKUP_F_INV);
	bool has_dreg = xa_has(e, NFTA_LOOKUP_DREG);
	uint32_t dreg = has_dreg ? xa_u32(e, NFTA_LOOKUP_DREG) : 0;
	struct lint_ranges set = {0};

	if (!s) {
		widen(x);
		if (x->out && lint_input_add_note(
				  x->out, "set %s in %s %s could not be read; rules using it are taken to match more",
				  name ? name : "?", nf_family_str(ru->family), ru->table) < 0)
			x->err = -ENOMEM;
		if (has_dreg)
			load(x, dreg, R_MAPDATA, 16);
		return;
	}
	uint32_t klen = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
	bool concat = (nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_CONCAT) || (r && klen > ((r->len + 3) & ~3u));
	if (has_dreg && dreg == NFT_REG_VERDICT && !inv && r && (concat || r->kind == R_IFNAME)) {
		int c = concat_vmap(x, s, xa_u32(e, NFTA_LOOKUP_SREG));
		if (c < 0)
			x->err = c;
		if (c) {
			action(x->d, "vmap @%s", name);
			return;
		}
	}
	if (has_dreg && dreg == NFT_REG_VERDICT) {
		if (vmap_targets(x, s) < 0)
			x->err = -ENOMEM;
		action(x->d, "vmap @%s", name);
	}
	if (r && r->kind == R_RANDOM) {
		/* numgen random mod 2 vmap { 0 : goto a, 1 : goto b }: a choice, not a match */
	} else if (r && !concat && (r->kind == R_PORT || r->kind == R_ADDR) && !r->masked &&
		   r->len == (r->kind == R_PORT ? LINT_PORT_WIDTH : family_addr_len(r->af))) {
		if (set_ranges(s, r->len, &set) < 0 || and_ranges(x, r, &set, inv) < 0)
			x->err = -ENOMEM;
		lint_ranges_free(&set);
	} else if (r && !concat && r->kind == R_CTSTATE) {
		/* ct state vmap { established : accept, ... }: the states it names */
		struct lint_ranges keys = {0};
		uint32_t m = 0;
		if (set_ranges(s, 4, &keys) == 0)
			for (size_t i = 0; i < keys.n; i++)
				m |= u32_of(keys.v[i].lo, 4);
		lint_ranges_free(&keys);
		set_ct_state(x, inv ? ~m : m);
	} else if (!r || r->kind != R_CTOTHER) {
		widen(x); /* interface-name sets, protocol sets, concatenations: left out */
	}
	if (has_dreg && dreg != NFT_REG_VERDICT)
		load(x, dreg, R_MAPDATA, nftnl_set_get_u32(s, NFTNL_SET_DATA_LEN));
}

/* ------------------------------------------------------------------ */
/* what needs conntrack                                                 */

static void need(struct decoder *x, enum ct_need n)
{
	x->d->needs |= 1u << n;
}

static void on_ct(struct decoder *x, struct xattrs *e)
{
	uint32_t key = xa_u32(e, NFTA_CT_KEY);
	bool set = xa_has(e, NFTA_CT_SREG);
	enum ct_need n;

	switch (key) {
	case NFT_CT_STATE: n = CT_NEED_STATE; break;
	case NFT_CT_MARK: n = CT_NEED_MARK; break;
	case NFT_CT_ZONE: n = CT_NEED_ZONE; break;
	case NFT_CT_HELPER: n = CT_NEED_HELPER; break;
	default: n = CT_NEED_OTHER; break;
	}
	need(x, n);
	if (set) {
		x->d->ct_write |= n == CT_NEED_MARK;
		action(x->d, "ct %s set", n == CT_NEED_MARK ? "mark" : n == CT_NEED_ZONE ? "zone" : "key");
		return;
	}
	if (n != CT_NEED_STATE)
		action(x->d, "ct %s",
		       n == CT_NEED_MARK     ? "mark"
		       : n == CT_NEED_ZONE   ? "zone"
		       : n == CT_NEED_HELPER ? "helper"
					     : "match");
	load(x, xa_u32(e, NFTA_CT_DREG), n == CT_NEED_STATE ? R_CTSTATE : R_CTOTHER, 4);
}

static void on_objref(struct decoder *x, struct xattrs *e)
{
	uint32_t type = xa_has(e, NFTA_OBJREF_IMM_TYPE) ? xa_u32(e, NFTA_OBJREF_IMM_TYPE) : 0;

	if (type == NFT_OBJECT_CT_HELPER) {
		need(x, CT_NEED_HELPER);
		const char *name = xa_str(e, NFTA_OBJREF_IMM_NAME);
		action(x->d, "ct helper set \"%s\"", name ? name : "?");
	} else if (type == NFT_OBJECT_CT_TIMEOUT || type == NFT_OBJECT_CT_EXPECT) {
		need(x, CT_NEED_OTHER);
		action(x->d, "ct %s set", type == NFT_OBJECT_CT_TIMEOUT ? "timeout" : "expectation");
	}
}

/* NAT to [min, max] of addresses and/or ports held in registers. */
static int nat_to(struct decoder *x, unsigned af_family, const struct reg *amin, const struct reg *amax,
		  const struct reg *pmin, const struct reg *pmax)
{
	struct decoded *d = x->d;
	struct lint_range rg;
	int e = 0;

	for (int f = 0; f < FAMILY_SLOTS && amin; f++) {
		unsigned w = family_addr_len(family_at(f));
		if (af_family && af_family != family_at(f))
			continue;
		if (amin->kind != R_IMM || amin->len != w || (amax && (amax->kind != R_IMM || amax->len != w)))
			continue; /* from a map, or not this family: not known */
		memset(&rg, 0, sizeof(rg));
		memcpy(rg.lo, amin->data, w);
		memcpy(rg.hi, (amax ? amax : amin)->data, w);
		e |= lint_ranges_set(&d->to_addr[f], &rg, 1, w);
	}
	if (pmin && pmin->kind == R_IMM && (!pmax || pmax->kind == R_IMM)) {
		const uint8_t *hi = (pmax ? pmax : pmin)->data;
		lint_range_port(&rg, (uint16_t)(pmin->data[0] << 8 | pmin->data[1]), (uint16_t)(hi[0] << 8 | hi[1]));
		e |= lint_ranges_set(&d->to_port, &rg, 1, LINT_PORT_WIDTH);
	}
	return e ? -ENOMEM : 0;
}

/* A source NAT that picks the port at random (fully-random, kube-proxy's
 * --random-fully) maps a flow to any port from 1024 up, never keeping the
 * client's: its replies can arrive at any of them. */
static int nat_random_ports(struct decoder *x, uint32_t flags)
{
	struct lint_range rg;

	if (!(flags & NF_NAT_RANGE_PROTO_RANDOM_FULLY) || !x->d->to_port.any)
		return 0;
	lint_range_port(&rg, 1024, 65535);
	x->d->nat_random = true;
	action(x->d, "fully-random");
	return lint_ranges_set(&x->d->to_port, &rg, 1, LINT_PORT_WIDTH);
}

static const struct reg *reg_attr(struct decoder *x, struct xattrs *e, uint16_t attr)
{
	return xa_has(e, attr) ? reg_at(x, xa_u32(e, attr)) : NULL;
}

static void to_words(struct decoded *d, const char *verb)
{
	struct strbuf sb;

	strbuf_init(&sb);
	lint_nat_words(verb, d->to_addr, &d->to_port, &sb);
	action(d, "%s", sb.data ? sb.data : verb);
	strbuf_free(&sb);
}

static void on_nat(struct decoder *x, struct xattrs *e)
{
	bool dnat = xa_u32(e, NFTA_NAT_TYPE) == NFT_NAT_DNAT;
	uint32_t nf = xa_has(e, NFTA_NAT_FAMILY) ? xa_u32(e, NFTA_NAT_FAMILY) : 0;
	unsigned fam = nf == NFPROTO_IPV4 ? FAMILY_IPV4 : nf == NFPROTO_IPV6 ? FAMILY_IPV6 : 0;

	need(x, dnat ? CT_NEED_DNAT : CT_NEED_SNAT);
	if (nat_to(x, fam, reg_attr(x, e, NFTA_NAT_REG_ADDR_MIN), reg_attr(x, e, NFTA_NAT_REG_ADDR_MAX),
		   reg_attr(x, e, NFTA_NAT_REG_PROTO_MIN), reg_attr(x, e, NFTA_NAT_REG_PROTO_MAX)) < 0)
		x->err = -ENOMEM;
	to_words(x->d, dnat ? "dnat" : "snat");
}

static void on_masq_redir(struct decoder *x, struct xattrs *e, bool redir)
{
	uint16_t a_min = redir ? NFTA_REDIR_REG_PROTO_MIN : NFTA_MASQ_REG_PROTO_MIN;
	uint16_t a_max = redir ? NFTA_REDIR_REG_PROTO_MAX : NFTA_MASQ_REG_PROTO_MAX;

	need(x, redir ? CT_NEED_REDIRECT : CT_NEED_MASQUERADE);
	if (nat_to(x, 0, NULL, NULL, reg_attr(x, e, a_min), reg_attr(x, e, a_max)) < 0)
		x->err = -ENOMEM;
	if (!redir && xa_has(e, NFTA_MASQ_FLAGS) && nat_random_ports(x, xa_u32(e, NFTA_MASQ_FLAGS)) < 0)
		x->err = -ENOMEM;
	to_words(x->d, redir ? "redirect" : "masquerade");
}

/* ------------------------------------------------------------------ */
/* iptables-nft's xt compat expressions                                 */

static void on_match(struct decoder *x, struct xattrs *e)
{
	const char *name = xa_str(e, NFTA_MATCH_NAME);
	uint32_t rev = xa_u32(e, NFTA_MATCH_REV), len = 0;
	const uint8_t *info = xa_bin(e, NFTA_MATCH_INFO, &len);
	struct lint_xt xt = {.sel = &x->d->sel};

	if (!name || !info) {
		widen(x);
		return;
	}
	if (lint_xt_match(&xt, name, rev, info, len) < 0)
		x->err = -ENOMEM;
	x->d->widened |= xt.widened;
	x->d->needs |= xt.needs;
	x->d->ct_state |= xt.ct_state;
	x->d->from_host |= xt.from_host;
	x->d->limited |= xt.limited;
	if (xt.words[0])
		action(x->d, "%s", xt.words);
}

/* The target half of iptables-nft's compat expressions: lint_xt decodes
 * it for both iptables readers. */
static void on_target(struct decoder *x, struct xattrs *e)
{
	const char *name = xa_str(e, NFTA_TARGET_NAME);
	uint32_t rev = xa_u32(e, NFTA_TARGET_REV), len = 0;
	const uint8_t *info = xa_bin(e, NFTA_TARGET_INFO, &len);
	unsigned family = x->table_family == FAMILY_IPV6 ? FAMILY_IPV6 : FAMILY_IPV4;
	bool before_routing = x->hooknum_hint == NF_INET_PRE_ROUTING || x->hooknum_hint == NF_INET_LOCAL_OUT;
	struct decoded *d = x->d;
	struct lint_xt_tg t;

	if (!name)
		return;
	lint_xt_tg_init(&t);
	if (lint_xt_target(&t, name, rev, info, len, family, before_routing) < 0)
		x->err = -ENOMEM;
	d->needs |= t.needs;
	d->notrack |= t.notrack;
	if (t.reject)
		d->verdict = NF_DROP;
	if (t.needs &
	    ((1u << CT_NEED_DNAT) | (1u << CT_NEED_SNAT) | (1u << CT_NEED_MASQUERADE) | (1u << CT_NEED_REDIRECT))) {
		/* the decoded rule owns the ranges now */
		for (int f = 0; f < FAMILY_SLOTS; f++) {
			lint_ranges_free(&d->to_addr[f]);
			d->to_addr[f] = t.to_addr[f];
			t.to_addr[f] = (struct lint_ranges){.any = true};
		}
		lint_ranges_free(&d->to_port);
		d->to_port = t.to_port;
		t.to_port = (struct lint_ranges){.any = true};
		d->nat_random |= t.nat_random;
	}
	if (t.words[0])
		action(d, "%s", t.words);
	lint_xt_tg_free(&t);
}

/* ------------------------------------------------------------------ */
/* one rule                                                             */

static void on_masq(struct decoder *x, struct xattrs *e)
{
	on_masq_redir(x, e, false);
}

static void on_redir(struct decoder *x, struct xattrs *e)
{
	on_masq_redir(x, e, true);
}

static void on_notrack(struct decoder *x, struct xattrs *e)
{
	(void)e;
	x->d->notrack = true;
}

static void on_reject(struct decoder *x, struct xattrs *e)
{
	(void)e;
	x->d->verdict = NF_DROP;
	action(x->d, "reject");
}

/*
 * fib daddr type local (and iptables' -m addrtype): "to an address of this
 * host".  Docker's and netavark's nat chains jump on it.  The selector says
 * so (to_host), and lint_input_apply_host narrows the destination to this
 * host's addresses; other address types are left out, not flagged as a
 * widening.
 */
static void on_fib(struct decoder *x, struct xattrs *e)
{
	uint32_t flags = xa_has(e, NFTA_FIB_FLAGS) ? xa_u32(e, NFTA_FIB_FLAGS) : 0;
	uint32_t result = xa_has(e, NFTA_FIB_RESULT) ? xa_u32(e, NFTA_FIB_RESULT) : 0;
	struct reg r;

	if (!xa_has(e, NFTA_FIB_DREG))
		return;
	memset(&r, 0, sizeof(r));
	r.kind = R_ADDRTYPE;
	r.len = 4;
	/* fib saddr type local: the compare that follows says "sent by this host" */
	r.source = result == NFT_FIB_RESULT_ADDRTYPE && (flags & NFTA_FIB_F_SADDR);
	reg_set(x, xa_u32(e, NFTA_FIB_DREG), &r);
}

/* A limit or quota selects packets by rate, which the selector cannot say:
 * it is left out, and the rule is marked (an accept with a limit is not one
 * an untracked packet may skip for free). */
static void on_limit(struct decoder *x, struct xattrs *e)
{
	x->d->limited = true;
	action(x->d, "%s", !strcmp(e->name, "quota") ? "quota" : "limit");
}

/* Expressions that neither load a register nor select packets. */
static void on_nothing(struct decoder *x, struct xattrs *e)
{
	(void)x;
	(void)e;
}

/* numgen and jhash pick among targets (kube-proxy's endpoint choice): the
 * lookup that follows is a choice, and every target it names is reachable. */
static void on_random(struct decoder *x, struct xattrs *e)
{
	uint16_t attr = !strcmp(e->name, "hash") ? NFTA_HASH_DREG : NFTA_NG_DREG;

	if (xa_has(e, attr))
		load(x, xa_u32(e, attr), R_RANDOM, 4);
}

static const struct {
	const char *name;
	void (*fn)(struct decoder *x, struct xattrs *e);
} expr_handlers[] = {
    {"payload", on_payload},
    {"meta", on_meta},
    {"bitwise", on_bitwise},
    {"cmp", on_cmp},
    {"range", on_range},
    {"lookup", on_lookup},
    {"immediate", on_immediate},
    {"ct", on_ct},
    {"objref", on_objref},
    {"nat", on_nat},
    {"masq", on_masq},
    {"redir", on_redir},
    {"match", on_match},
    {"target", on_target},
    {"notrack", on_notrack},
    {"reject", on_reject},
    {"counter", on_nothing},
    {"log", on_nothing},
    {"limit", on_limit},
    {"quota", on_limit},
    {"dynset", on_nothing},
    {"last", on_nothing},
    {"fib", on_fib},
    {"numgen", on_random},
    {"hash", on_random},
};

/* An expression's name and data attributes. */
static void expr_parts(const struct nlattr *elem, const struct nlattr **name, const struct nlattr **data)
{
	const struct nlattr *a;

	*name = *data = NULL;
	FOR_NESTED(a, elem)
	{
		if (attr_type(a) == NFTA_EXPR_NAME)
			*name = a;
		else if (attr_type(a) == NFTA_EXPR_DATA)
			*data = a;
	}
}

static void (*expr_handler(const char *name))(struct decoder *, struct xattrs *)
{
	for (size_t i = 0; i < sizeof(expr_handlers) / sizeof(expr_handlers[0]); i++)
		if (name[0] == expr_handlers[i].name[0] && !strcmp(name, expr_handlers[i].name))
			return expr_handlers[i].fn;
	return NULL;
}

/* One expression: its attributes gathered, then its handler. */
static int on_expr(struct decoder *x, const struct nlattr *elem)
{
	struct xattrs e;
	const struct nlattr *a, *data, *name;
	void (*fn)(struct decoder *, struct xattrs *);
	char name_buf[32]; /* (the handlers' strings use e.str) */

	memset(e.tb, 0, sizeof(e.tb));
	expr_parts(elem, &name, &data);
	e.name = attr_str(name, name_buf, sizeof(name_buf));
	if (!e.name)
		return -EPROTO;
	if (data) {
		FOR_NESTED(a, data)
		{
			if (attr_type(a) <= XA_MAX)
				e.tb[attr_type(a)] = a;
		}
	}
	fn = expr_handler(e.name);
	if (fn)
		fn(x, &e);
	else
		reg_forget_all(x); /* rt, exthdr, socket, ...: whatever it loaded, into
				    * whichever register, is unknown now */
	return 0;
}

/* Whether the decoder would pass over this expression without a trace:
 * on_nothing's, and iptables-nft's comment match (lint_xt_match reads
 * nothing of it). */
static bool expr_inert(const struct nlattr *elem, bool *xt)
{
	const struct nlattr *name, *data;
	char buf[32];
	const char *n;

	expr_parts(elem, &name, &data);
	n = attr_str(name, buf, sizeof(buf));
	if (!n)
		return false;
	*xt |= !strcmp(n, "match") || !strcmp(n, "target");
	if (!data)
		return false;
	if (!strcmp(n, "match")) {
		const struct nlattr *mt = nested(data, NFTA_MATCH_NAME);
		const char *mn = attr_str(mt, buf, sizeof(buf));
		return mn && !strcmp(mn, "comment") && nested(data, NFTA_MATCH_INFO);
	}
	return expr_handler(n) == on_nothing;
}

size_t lint_nft_rule_compact(const struct nlmsghdr *nlh, void *buf, bool *xt)
{
	size_t head = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
	const struct nlattr *a, *el;
	struct nlmsghdr *out = buf;
	struct nlattr *nest;
	char *p;

	if (nlh->nlmsg_len < head)
		return 0;
	memcpy(out, nlh, head);
	nest = (struct nlattr *)((char *)out + head);
	nest->nla_type = NLA_F_NESTED | NFTA_RULE_EXPRESSIONS;
	p = (char *)nest + MNL_ATTR_HDRLEN;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
	{
		if (mnl_attr_get_type(a) != NFTA_RULE_EXPRESSIONS)
			continue;
		FOR_NESTED(el, a)
		{
			if (expr_inert(el, xt))
				continue;
			memcpy(p, el, el->nla_len);
			memset(p + el->nla_len, 0, MNL_ALIGN(el->nla_len) - el->nla_len);
			p += MNL_ALIGN(el->nla_len);
		}
	}
	nest->nla_len = (uint16_t)(p - (char *)nest);
	out->nlmsg_len = (uint32_t)(p - (char *)out);
	return out->nlmsg_len;
}

/* The expressions of a rule's message, in order. */
static int decode_msg(struct decoder *x, const struct nlmsghdr *nlh)
{
	const struct nlattr *a, *el;
	int e = 0;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
	{
		if (attr_type(a) != NFTA_RULE_EXPRESSIONS)
			continue;
		FOR_NESTED(el, a)
		{
			if (attr_type(el) != NFTA_LIST_ELEM)
				return -EPROTO;
			e = on_expr(x, el);
			if (e < 0 || x->err)
				return e < 0 ? e : x->err;
		}
	}
	return x->err;
}

static void decoded_free(struct decoded *d)
{
	lint_sel_free(&d->sel);
	for (int f = 0; f < FAMILY_SLOTS; f++)
		lint_ranges_free(&d->to_addr[f]);
	lint_ranges_free(&d->to_port);
	for (size_t i = 0; i < d->n_targets; i++) {
		free(d->targets[i]);
		if (d->target_sel && d->target_sel[i]) {
			lint_sel_free(d->target_sel[i]);
			free(d->target_sel[i]);
		}
	}
	free(d->targets);
	free(d->target_sel);
}

/* A rule handed over parsed (the plan's tables, tests) is decoded from the
 * message it builds: one decoder for both.  The kernel dumps a rule in one
 * message of a dump skb (at most 32 KiB), so its rebuilt message fits. */
#define RULE_MSG_MAX (128 * 1024)

static int decode_rule(const struct lint_nft_view *v, struct lint_input *out, const struct lint_nft_rule *ru,
		       uint32_t hooknum, char **scratch, struct decoded *d)
{
	struct decoder x = {.v = v, .out = out, .rule = ru, .d = d, .hooknum_hint = hooknum};
	const struct nlmsghdr *nlh = ru->raw;

	memset(d, 0, sizeof(*d));
	d->src = ru;
	x.table_family = table_families(ru->family);
	lint_sel_init(&d->sel, x.table_family);
	d->to_addr[0].any = d->to_addr[1].any = d->to_port.any = true;
	d->verdict = NFT_CONTINUE;
	if (ru->r) {
		struct nlmsghdr *built;
		if (!*scratch && !(*scratch = malloc(RULE_MSG_MAX)))
			return -ENOMEM;
		built = nftnl_nlmsg_build_hdr(*scratch, NFT_MSG_NEWRULE, (uint16_t)ru->family, 0, 0);
		nftnl_rule_nlmsg_build_payload(built, (struct nftnl_rule *)ru->r);
		nlh = built;
	}
	return nlh ? decode_msg(&x, nlh) : -EINVAL;
}

static const char *verdict_words(const struct decoded *d)
{
	switch (d->verdict) {
	case NF_ACCEPT: return "accept";
	case NF_DROP: return strstr(d->action, "reject") ? "" : "drop";
	case NFT_RETURN: return "return";
	case NFT_JUMP: return "jump";
	case NFT_GOTO: return "goto";
	default: return "";
	}
}

static void rule_words(const struct decoded *d, char *buf, size_t size)
{
	struct strbuf sb;
	const char *vw = verdict_words(d);

	strbuf_init(&sb);
	/* the table's family goes without saying */
	struct lint_sel own = d->sel;
	if (own.family == table_families(d->src->family))
		own.family = FAMILY_BOTH;
	lint_sel_format(&own, &sb);
	if (d->action[0])
		strbuf_printf(&sb, "%s%s", sb.len ? " " : "", d->action);
	if (vw[0])
		strbuf_printf(&sb, "%s%s", sb.len ? " " : "", vw);
	if ((d->verdict == NFT_JUMP || d->verdict == NFT_GOTO) && d->n_targets)
		strbuf_printf(&sb, " %s", d->targets[0]);
	snprintf(buf, size, "%s", sb.data ? sb.data : "");
	strbuf_free(&sb);
}

/* ------------------------------------------------------------------ */
/* walking the chains                                                   */

struct walker {
	const struct lint_nft_view *v;
	struct lint_input *out;
	bool *seen;		   /* indexed like v->rules: decoded before (its notes are out) */
	size_t *first, *count;	   /* per chain: its rules are v->rules[first .. first+count) */
	struct slot_index by_name; /* v->chains by chain_hash() (find_chain) */
	const struct lint_nft_chain *base;
	struct lint_chain *filter;   /* the filter chain being described, or NULL */
	struct mark_writer *writers; /* every meta mark set, once per path that reaches it */
	size_t n_writers;
	char *scratch; /* a parsed rule's message (decode_rule) */
	int err;
};

/* A rule that sets the packet mark, with the packets it sees on one path. */
struct mark_writer {
	struct lint_sel sel;
	unsigned hooks; /* the base chain's hook, as ct_user.hooks */
	bool any;	/* the value is not known (meta mark set ct mark) */
	uint32_t bits;	/* else the bits it can set */
};

static uint64_t chain_hash(uint32_t family, const char *table, const char *name)
{
	return hash_mix_str(hash_mix_str(hash_mix_u64(0, family), table), name);
}

/* Every jump and every run of rules looks its chain up: a hash table of
 * the chains (open addressing, at most half full).  A linear search made a
 * kube-proxy ruleset (a chain per service) quadratic, and a binary search
 * compared the long common prefixes of its KUBE-SVC-* names a dozen times
 * per jump. */
static uint64_t chain_hash_at(const void *ctx, size_t i)
{
	const struct lint_nft_chain *c = &((const struct lint_nft_view *)ctx)->chains[i];

	return chain_hash(c->family, c->table, c->name);
}

static int index_chain_names(struct walker *w)
{
	const struct lint_nft_view *v = w->v;
	int e = slot_index_reserve(&w->by_name, v->n_chains, chain_hash_at, v);

	for (size_t i = 0; i < v->n_chains && e == 0; i++) {
		size_t k = slot_index_first(&w->by_name, chain_hash_at(v, i));
		while (w->by_name.slot[k])
			k = slot_index_next(&w->by_name, k);
		slot_index_put(&w->by_name, k, i);
	}
	return e;
}

static const struct lint_nft_chain *find_chain(const struct walker *w, uint32_t family, const char *table,
					       const char *name)
{
	const struct slot_index *t = &w->by_name;

	if (!t->cap)
		return NULL;
	for (size_t k = slot_index_first(t, chain_hash(family, table, name)); t->slot[k]; k = slot_index_next(t, k)) {
		const struct lint_nft_chain *c = &w->v->chains[t->slot[k] - 1];
		if (c->family == family && !strcmp(c->name, name) && !strcmp(c->table, table))
			return c;
	}
	return NULL;
}

static bool is_kube(const char *table, const char *chain)
{
	return !strcmp(table, "kube-proxy") || !strncmp(chain, "KUBE-", 5);
}

static int emit_user(struct walker *w, const struct decoded *d, enum ct_need n, const struct lint_sel *sel, bool kube,
		     bool widened)
{
	const struct lint_nft_rule *ru = d->src;
	struct ct_user *u = lint_input_add_user(w->out);
	char words[LINT_RULE_MAX];
	int e;

	if (!u)
		return -ENOMEM;
	u->need = n;
	u->hooks = 1u << w->base->hooknum;
	snprintf(u->family, sizeof(u->family), "%s", nf_family_str(ru->family));
	rule_words(d, words, sizeof(words));
	e = lint_user_set_text(u, ru->table, ru->chain, words);
	lint_sel_free(&u->sel);
	if (e == 0)
		e = lint_sel_copy(&u->sel, sel);
	if (e == 0 && (n == CT_NEED_DNAT || n == CT_NEED_SNAT)) {
		for (int f = 0; f < FAMILY_SLOTS && e == 0; f++)
			e = lint_ranges_copy(&u->to_addr[f], &d->to_addr[f]);
	}
	if (e == 0 && (n == CT_NEED_DNAT || n == CT_NEED_SNAT || n == CT_NEED_MASQUERADE || n == CT_NEED_REDIRECT))
		e = lint_ranges_copy(&u->to_port, &d->to_port);
	u->ct_state = n == CT_NEED_STATE ? d->ct_state : 0;
	u->accepts = d->verdict == NF_ACCEPT;
	u->limited = d->limited;
	if (w->filter) {
		/* what an untracked packet that skips this rule meets next */
		u->chain_index = w->filter - w->out->chains;
		u->chain_pos = w->filter->n_rules;
	}
	u->kube = kube;
	u->widened = widened;
	u->from_host = d->from_host;
	u->pkt_mark = d->pkt_mark;
	u->mark_gate = d->mark_gate;
	u->ct_write = n == CT_NEED_MARK && d->ct_write;
	u->nat_random = d->nat_random;
	/* a source NAT on input: this host answers */
	if (n == CT_NEED_SNAT && w->base->hooknum == NF_INET_LOCAL_IN)
		u->hooks = LINT_HOOK_INPUT;
	return e < 0 ? e : lint_input_seal_user(w->out);
}

/* What an untracked packet meets in a filter chain (see struct lint_vrule). */
static int emit_vrule(struct walker *w, const struct decoded *d, const struct lint_sel *sel, bool widened)
{
	bool ct = d->needs != 0, drop = d->verdict == NF_DROP || d->vmap_drop;
	bool untracked_too = d->ct_state && (d->ct_state & LINT_CT_UNTRACKED);
	bool only_state = d->needs == (1u << CT_NEED_STATE);
	char words[LINT_RULE_MAX];

	if (!w->filter || d->notrack)
		return 0;
	/* an accept we could not read all of (meta l4proto { icmp, ipv6-icmp },
	 * a set of interface names) may take less than its selector says: it
	 * is left out, so that it never hides a drop after it */
	if (d->verdict == NF_ACCEPT && !widened && !d->limited && (!ct || (only_state && untracked_too))) {
		rule_words(d, words, sizeof(words));
		return lint_chain_add_rule(w->filter, LINT_V_ACCEPT, sel, words);
	}
	/* a drop that needs a known state other than untracked never takes one */
	if (drop && !(only_state && d->ct_state && !untracked_too)) {
		rule_words(d, words, sizeof(words));
		return lint_chain_add_rule(w->filter, LINT_V_DROP, sel, words);
	}
	return 0;
}

/* NF_IP_PRI_CONNTRACK: a notrack in a chain that runs later finds the
 * packet tracked already and does nothing. */
#define PRIO_CONNTRACK (-200)

/* A foreign notrack rule, where it takes effect: prerouting or output, in a
 * base chain that runs before conntrack. */
static int emit_notrack(struct walker *w, const struct decoded *d, const struct lint_sel *sel)
{
	const struct lint_nft_rule *ru = d->src;
	uint32_t hook = w->base->hooknum;
	struct lint_notrack *n;
	char words[LINT_RULE_MAX - 48]; /* room for the handle */

	if (hook != NF_INET_PRE_ROUTING && hook != NF_INET_LOCAL_OUT)
		return 0;
	if (w->base->prio >= PRIO_CONNTRACK)
		return 0;
	n = lint_input_add_notrack(w->out);
	if (!n)
		return -ENOMEM;
	n->hook = hook == NF_INET_LOCAL_OUT ? LINT_HOOK_OUTPUT : LINT_HOOK_PREROUTING;
	snprintf(n->family, sizeof(n->family), "%s", nf_family_str(ru->family));
	snprintf(n->table, sizeof(n->table), "%s", ru->table);
	snprintf(n->chain, sizeof(n->chain), "%s", ru->chain);
	rule_words(d, words, sizeof(words));
	snprintf(n->rule, sizeof(n->rule), "%s%snotrack, handle %" PRIu64, words, words[0] ? " " : "", ru->handle);
	lint_sel_free(&n->sel);
	return lint_sel_copy(&n->sel, sel);
}

static bool is_ours(const struct lint_nft_view *v, uint32_t family, const char *table);

/* Rule i, decoded where the walk meets it: a decoded rule is most of a
 * kilobyte, and kube-proxy's tables hold tens of thousands, nearly all met
 * once.  A rule met again is decoded again, quietly (its notes are out). */
static int decode_at(struct walker *w, const struct lint_nft_chain *c, size_t i, struct decoded *d)
{
	const struct lint_nft_rule *ru = &w->v->rules[i];
	int e;

	/* our accept in someone else's chain is read as if it were not
	 * there: what the chain does without it is the question */
	if (!table_families(ru->family) || is_ours(w->v, ru->family, ru->table) || ru->ours) {
		memset(d, 0, sizeof(*d));
		lint_sel_init(&d->sel, 0);
		return 0;
	}
	/* the hook NETMAP needs: the rule's own base chain's, if it is in one */
	e = decode_rule(w->v, w->seen[i] ? NULL : w->out, ru, c->base ? c->hooknum : NF_INET_NUMHOOKS, &w->scratch, d);
	w->seen[i] = true;
	return e;
}

static int add_writer(struct walker *w, const struct decoded *d, const struct lint_sel *sel)
{
	struct mark_writer *m = realloc(w->writers, (w->n_writers + 1) * sizeof(*m));

	if (!m)
		return -ENOMEM;
	w->writers = m;
	m = &w->writers[w->n_writers];
	m->any = d->mark_any;
	m->hooks = 1u << w->base->hooknum;
	m->bits = d->mark_bits;
	if (lint_sel_copy(&m->sel, sel) < 0) {
		lint_sel_free(&m->sel);
		return -ENOMEM;
	}
	w->n_writers++;
	return 0;
}

/* A copy of users[i] that meets only the packets writer marks, taken to
 * where dnat (users[j], or none) sends them. */
static int gated_copy(struct lint_input *out, size_t i, const struct lint_sel *orig, const struct lint_sel *writer,
		      ssize_t j)
{
	struct ct_user *dst = lint_input_add_user(out), *u = &out->users[i];
	int e = 0;

	if (!dst)
		return -ENOMEM;
	lint_sel_free(&dst->sel);
	*dst = *u;
	/* the rule's text is the user's own allocation (lint_input_free frees
	 * it): the copy gets one of its own */
	dst->table = dst->chain = dst->rule = NULL;
	if (u->table)
		e |= lint_user_set_text(dst, u->table, u->chain, u->rule);
	for (int f = 0; f < FAMILY_SLOTS; f++)
		e |= lint_ranges_copy(&dst->to_addr[f], &u->to_addr[f]);
	e |= lint_ranges_copy(&dst->to_port, &u->to_port);
	e |= lint_sel_copy(&dst->sel, orig);
	if (e == 0)
		e = lint_sel_and(&dst->sel, writer);
	if (e == 0 && j >= 0) {
		/* after the DNAT: its new address and port, no longer this host's */
		const struct ct_user *d = &out->users[j];
		dst->sel.to_host = false;
		for (int f = 0; f < FAMILY_SLOTS && e == 0; f++) {
			if (d->to_addr[f].any)
				continue;
			lint_ranges_free(&dst->sel.daddr[f]);
			e = lint_ranges_copy(&dst->sel.daddr[f], &d->to_addr[f]);
		}
		if (e == 0 && !d->to_port.any) {
			lint_ranges_free(&dst->sel.dport);
			e = lint_ranges_copy(&dst->sel.dport, &d->to_port);
		}
	}
	return e < 0 ? -ENOMEM : 0;
}

static bool nat_user(const struct ct_user *u)
{
	return u->need == CT_NEED_DNAT || u->need == CT_NEED_SNAT || u->need == CT_NEED_MASQUERADE ||
	       u->need == CT_NEED_REDIRECT;
}

/* The copies of users[i] for one writer: one per DNAT its packets can meet
 * (the gate sees them after it), and one as they are unless a DNAT
 * surely takes them all.  The DNATs are taken as they were met (the first
 * m0 meetings: a DNAT met from two hooks is one user, met twice). */
static int gate_by_writer(struct lint_input *out, size_t i, size_t m0, const struct lint_sel *orig,
			  const struct mark_writer *m)
{
	const struct lint_sel *writer = &m->sel;
	bool covered = false;
	int e = 0;

	for (size_t k = 0; k < m0 && e == 0; k++) {
		size_t j = out->meets[k].user;
		const struct ct_user *d = &out->users[j];
		unsigned hooks = out->meets[k].hooks ? out->meets[k].hooks : d->hooks;
		struct lint_sel both;
		/* prerouting and output see disjoint packets: a DNAT on the
		 * other one never meets what this writer marked */
		if (d->need != CT_NEED_DNAT || !(hooks & m->hooks) ||
		    (d->to_addr[family_index(FAMILY_IPV4)].any && d->to_addr[family_index(FAMILY_IPV6)].any))
			continue;
		e = lint_sel_copy(&both, &d->sel);
		if (e == 0)
			e = lint_sel_and(&both, writer);
		bool meets = e == 0 && !lint_sel_empty(&both, LINT_DIR_IIF | LINT_DIR_OIF);
		lint_sel_free(&both);
		if (!meets)
			continue;
		covered |= lint_sel_covers(&out->users[j].sel, writer, LINT_DIR_IIF | LINT_DIR_OIF);
		e = gated_copy(out, i, orig, writer, (ssize_t)j);
	}
	if (e == 0 && !covered)
		e = gated_copy(out, i, orig, writer, -1);
	return e;
}

/*
 * A NAT rule gated by a packet mark (meta mark & 0x2000 == 0x2000, netavark's
 * masquerade) only meets packets that a rule marked with those bits first:
 * the mark lives on the packet (skb) from the hook that sets it to every
 * later one, and starts at 0 for every packet.  When the ruleset holds the
 * writers of those bits, the rule is replaced by one copy per writer, with
 * the packets that writer sees, taken through the DNATs they meet: netavark's
 * NETAVARK-HOSTPORT-SETMARK is reached only from its port-forward chain, for
 * the container subnet and 127.0.0.1, whose packets that chain then DNATs.
 * No writer in the ruleset (a socket's SO_MARK, tc, another tool): the gate
 * stays open, as before.  A writer whose value is not known counts as one
 * that sets every bit; one on a later hook only widens (conservative).
 */
static int follow_marks(struct walker *w)
{
	struct lint_input *out = w->out;
	size_t n0 = out->n_users, m0 = out->n_meets;

	for (size_t i = 0; i < n0; i++) {
		struct ct_user *u = &out->users[i];
		struct lint_sel orig;
		size_t before = out->n_users, n = 0;
		uint32_t gate = u->mark_gate; /* (u moves when a copy is added) */
		int e;

		if (!gate || !nat_user(u))
			continue;
		for (size_t k = 0; k < w->n_writers; k++)
			n += w->writers[k].any || (w->writers[k].bits & gate);
		if (n == 0)
			continue;
		e = lint_sel_copy(&orig, &u->sel);
		for (size_t k = 0; k < w->n_writers && e == 0; k++) {
			const struct mark_writer *m = &w->writers[k];
			if (m->any || (m->bits & gate))
				e = gate_by_writer(out, i, m0, &orig, m);
		}
		lint_sel_free(&orig);
		if (e < 0)
			return e;
		/* the rule itself now stands for the last copy, and matches
		 * only what that copy matches */
		if (out->n_users > before) {
			struct ct_user *last = &out->users[out->n_users - 1];
			u = &out->users[i];
			lint_user_free(u);
			*u = *last;
			memset(last, 0, sizeof(*last)); /* (what it held is u's now) */
			lint_input_drop_last_user(out);
		}
	}
	return 0;
}

static int walk(struct walker *w, const struct lint_nft_chain *c, const struct lint_sel *carried, int depth, bool kube,
		bool widened)
{
	const struct lint_nft_view *v = w->v;
	size_t ci = (size_t)(c - v->chains);
	int e = 0;

	kube |= is_kube(c->table, c->name);
	for (size_t i = w->first[ci]; i < w->first[ci] + w->count[ci] && e == 0; i++) {
		struct decoded dd, *d = &dd;
		struct lint_sel s;

		e = decode_at(w, c, i, d);
		if (e < 0) {
			decoded_free(d);
			break;
		}
		e = lint_sel_copy(&s, carried);
		if (e == 0)
			e = lint_sel_and(&s, &d->sel);
		if (e < 0 || lint_sel_empty(&s, LINT_DIR_IIF | LINT_DIR_OIF)) {
			/* (or no packet that gets here matches it) */
			lint_sel_free(&s);
			decoded_free(d);
			if (e < 0)
				break;
			continue;
		}
		for (int n = 0; n <= CT_NEED_OTHER && e == 0 && !d->notrack; n++)
			if (d->needs & (1u << n))
				e = emit_user(w, d, (enum ct_need)n, &s, kube, widened || d->widened);
		if (e == 0)
			e = emit_vrule(w, d, &s, widened || d->widened);
		if (e == 0 && d->notrack)
			e = emit_notrack(w, d, &s);
		if (e == 0 && d->mark_write)
			e = add_writer(w, d, &s);
		for (size_t t = 0; t < d->n_targets && e == 0; t++) {
			const struct lint_nft_chain *to = find_chain(w, c->family, c->table, d->targets[t]);
			if (!to || to->base)
				continue;
			if (depth >= MAX_DEPTH) {
				e = lint_input_add_note(w->out,
							"jumps nested deeper than %d in %s %s were not followed",
							MAX_DEPTH, nf_family_str(c->family), c->table);
				continue;
			}
			/* a jump whose condition was widened widens what it reaches */
			if (d->target_sel && d->target_sel[t]) {
				struct lint_sel ts;
				e = lint_sel_copy(&ts, &s);
				if (e == 0)
					e = lint_sel_and(&ts, d->target_sel[t]);
				if (e == 0 && !lint_sel_empty(&ts, LINT_DIR_IIF | LINT_DIR_OIF))
					e = walk(w, to, &ts, depth + 1, kube, widened || d->widened);
				lint_sel_free(&ts);
				continue;
			}
			e = walk(w, to, &s, depth + 1, kube, widened || d->widened);
		}
		lint_sel_free(&s);
		decoded_free(d);
	}
	return e;
}

/* The kernel dumps rules table by table, chain by chain: one lookup per run. */
static int index_chains(struct walker *w)
{
	const struct lint_nft_view *v = w->v;

	w->first = calloc(v->n_chains + 1, sizeof(*w->first));
	w->count = calloc(v->n_chains + 1, sizeof(*w->count));
	if (!w->first || !w->count)
		return -ENOMEM;
	for (size_t i = 0; i < v->n_rules;) {
		const struct lint_nft_rule *ru = &v->rules[i];
		const struct lint_nft_chain *c = find_chain(w, ru->family, ru->table, ru->chain);
		size_t j = i + 1;
		while (j < v->n_rules && v->rules[j].family == ru->family && !strcmp(v->rules[j].table, ru->table) &&
		       !strcmp(v->rules[j].chain, ru->chain))
			j++;
		if (c && !w->count[c - v->chains]) {
			w->first[c - v->chains] = i;
			w->count[c - v->chains] = j - i;
		}
		i = j;
	}
	return 0;
}

static bool is_ours(const struct lint_nft_view *v, uint32_t family, const char *table)
{
	return family == NFPROTO_INET && v->our_table && !strcmp(table, v->our_table);
}

/*
 * Whether an accept of ours in this table cannot be counted on: the table
 * has the owner flag (only its creator may change it), or it is firewalld's.
 * firewalld 1.3 (Debian 12) sets no owner flag, so apply can insert the
 * untracked accept there, but firewalld deletes and rebuilds its whole table
 * on every reload (FlushAllOnReload, firewall-cmd --reload, a zone change),
 * and with it the accept, until the next apply; firewalld 2 flags it.
 */
static bool owner_locked(const struct lint_nft_view *v, uint32_t family, const char *table)
{
	if (!strcmp(table, "firewalld"))
		return true;
	for (size_t i = 0; i < v->n_tables; i++)
		if (v->tables[i].family == family && !strcmp(v->tables[i].name, table))
			return v->tables[i].flags & LINT_NFT_TABLE_F_OWNER;
	return false;
}

static int walk_base(struct walker *w, const struct lint_nft_chain *c)
{
	const struct lint_nft_view *v = w->v;
	bool filter =
	    !strcmp(c->type ? c->type : "", "filter") &&
	    (c->hooknum == NF_INET_LOCAL_IN || c->hooknum == NF_INET_FORWARD || c->hooknum == NF_INET_LOCAL_OUT);
	struct lint_sel any;
	int e;

	w->base = c;
	w->filter = NULL;
	if (filter) {
		w->filter = lint_input_add_chain(w->out);
		if (!w->filter)
			return -ENOMEM;
		/* arp, bridge, netdev: seen as inet, as if they carried both */
		w->filter->family = table_families(c->family) ? table_families(c->family) : FAMILY_BOTH;
		snprintf(w->filter->family_name, sizeof(w->filter->family_name), "%s", nf_family_str(c->family));
		snprintf(w->filter->table, sizeof(w->filter->table), "%s", c->table);
		snprintf(w->filter->chain, sizeof(w->filter->chain), "%s", c->name);
		w->filter->hook = 1u << c->hooknum;
		w->filter->policy_drop = c->policy == NF_DROP;
		w->filter->owner_locked = owner_locked(v, c->family, c->table);
	}
	lint_sel_init(&any, table_families(c->family));
	e = walk(w, c, &any, 0, false, false);
	lint_sel_free(&any);
	return e;
}

int lint_nft_decode(const struct lint_nft_view *v, struct lint_input *out)
{
	struct walker w = {.v = v, .out = out};
	int e = 0;

	w.seen = calloc(v->n_rules + 1, sizeof(*w.seen));
	if (!w.seen)
		return -ENOMEM;
	e = index_chain_names(&w);
	if (e == 0)
		e = index_chains(&w);
	for (size_t i = 0; i < v->n_chains && e == 0; i++) {
		const struct lint_nft_chain *c = &v->chains[i];
		if (!c->base || !table_families(c->family) || is_ours(v, c->family, c->table) ||
		    c->hooknum > NF_INET_POST_ROUTING)
			continue;
		e = walk_base(&w, c);
	}
	if (e == 0)
		e = follow_marks(&w);
	for (size_t i = 0; i < w.n_writers; i++)
		lint_sel_free(&w.writers[i].sel);
	free(w.writers);
	free(w.seen);
	free(w.first);
	free(w.count);
	slot_index_free(&w.by_name);
	free(w.scratch);
	return e;
}
