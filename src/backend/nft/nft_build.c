#include "backend/nft/nft_build.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <libnftnl/expr.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit/emit.h"
#include "util/family.h"

_Static_assert((int)FAMILY_NFPROTO_INET == (int)NFPROTO_INET && (int)FAMILY_NFPROTO_IPV4 == (int)NFPROTO_IPV4 &&
		   (int)FAMILY_NFPROTO_IPV6 == (int)NFPROTO_IPV6,
	       "util/family.h spells out the kernel's NFPROTO_* values");

/* nft's datatype ids (src/datatype.h in nftables), stored in the set so that
 * `nft list` prints the elements as ports and addresses */
enum {
	NFT_TYPE_INTEGER = 4,
	NFT_TYPE_IPADDR = 7,
	NFT_TYPE_IP6ADDR = 8,
	NFT_TYPE_INET_SERVICE = 13,
	NFT_TYPE_ICMP_TYPE = 14,
	NFT_TYPE_ICMPV6_TYPE = 29,
};

/* nft's own numbers in a typeof set's userdata (src/expression.h and
 * src/datatype.h in nftables): the payload expression and big endian */
enum {
	NFT_EXPR_TYPE_PAYLOAD = 7,
	NFT_BYTEORDER_BIG_ENDIAN = 2,
};

/* offsets of the fields we match, relative to the header's start */
enum {
	IPV4_SADDR_OFFSET = 12,
	IPV4_DADDR_OFFSET = 16,
	IPV6_SADDR_OFFSET = 8,
	IPV6_DADDR_OFFSET = 24,
	L4_SPORT_OFFSET = 0, /* tcp, udp, sctp and dccp all start with sport, dport */
	L4_DPORT_OFFSET = 2,
	TCP_FLAGS_OFFSET = 13,
	TCP_FLAG_ACK_BIT = 0x10,
};

static void add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (e)
		nftnl_rule_add_expr(r, e);
}

static struct nftnl_expr *meta_load(uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (!e)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	return e;
}

static struct nftnl_expr *cmp(uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (!e)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	return e;
}

static struct nftnl_expr *payload_load(uint32_t base, uint32_t offset, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (!e)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	return e;
}

static struct nftnl_expr *bitwise_mask(const void *mask, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	static const uint8_t zero[16];

	if (!e)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	return e;
}

static struct nftnl_expr *lookup(const char *set, uint32_t set_id)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	if (!e)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
	return e;
}

static struct nftnl_expr *verdict(int v)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (!e)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)v);
	return e;
}

static void add_u8_meta_match(struct nftnl_rule *r, uint32_t key, uint8_t value)
{
	add(r, meta_load(key));
	add(r, cmp(NFT_CMP_EQ, &value, 1));
}

static void add_ifname(struct nftnl_rule *r, enum hook h, const struct ifname *ifn, bool invert)
{
	char name[IFNAMSIZ] = {0};

	snprintf(name, sizeof(name), "%s", ifn->name);
	add(r, meta_load(h == HOOK_PREROUTING ? NFT_META_IIFNAME : NFT_META_OIFNAME));
	/* a wildcard compares only the prefix; an exact name includes the NUL padding */
	add(r, cmp(invert ? NFT_CMP_NEQ : NFT_CMP_EQ, name, ifn->wildcard ? (uint32_t)strlen(name) : IFNAMSIZ));
}

/* What emit_nft writes as "fib daddr type local", "tcp flags & ack == ack"
 * and "socket wildcard 0" (see put_scope there for why). */
static void add_scope(struct nftnl_rule *r, const struct rule *ir)
{
	if (ir->scope == SCOPE_LOCAL_DEST) {
		uint32_t local = RTN_LOCAL;
		struct nftnl_expr *e = nftnl_expr_alloc("fib");
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
			nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
			nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
		}
		add(r, e);
		add(r, cmp(NFT_CMP_EQ, &local, sizeof(local)));
	} else if (ir->scope == SCOPE_OWN_SOCKET) {
		uint8_t ack = TCP_FLAG_ACK_BIT, zero = 0;
		if (ir->proto == IPPROTO_TCP && !ir->icmp_error) {
			add(r, payload_load(NFT_PAYLOAD_TRANSPORT_HEADER, TCP_FLAGS_OFFSET, 1));
			add(r, bitwise_mask(&ack, 1));
			add(r, cmp(NFT_CMP_EQ, &ack, 1));
		}
		struct nftnl_expr *e = nftnl_expr_alloc("socket");
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, NFT_SOCKET_WILDCARD);
			nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_DREG, NFT_REG_1);
		}
		add(r, e);
		add(r, cmp(NFT_CMP_EQ, &zero, 1));
	}
}

static void add_addr_match(struct nftnl_rule *r, const struct addr_set *s, enum field f, uint32_t set_id,
			   bool check_family)
{
	bool v4 = s->family == FAMILY_IPV4;
	uint32_t len = v4 ? 4 : 16;
	uint32_t off = v4 ? (f == FIELD_SOURCE ? IPV4_SADDR_OFFSET : IPV4_DADDR_OFFSET)
			  : (f == FIELD_SOURCE ? IPV6_SADDR_OFFSET : IPV6_DADDR_OFFSET);

	/* in an inet table the network header is only known after the family check */
	if (check_family)
		add_u8_meta_match(r, NFT_META_NFPROTO, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
	if (!addr_set_is_inline(s)) {
		add(r, payload_load(NFT_PAYLOAD_NETWORK_HEADER, off, len));
		add(r, lookup(s->name, set_id));
		return;
	}
	const struct cidr *c = &s->cidrs[0];
	if (c->prefix == 0)
		return; /* 0.0.0.0/0 or ::/0: the family check is the whole match */
	/* like nft: load only the bytes the prefix covers, mask a partial last byte */
	uint32_t bytes = (c->prefix + 7u) / 8u;
	add(r, payload_load(NFT_PAYLOAD_NETWORK_HEADER, off, bytes));
	if (c->prefix % 8) {
		uint8_t mask[16] = {0};
		for (unsigned b = 0; b < c->prefix; b++)
			mask[b / 8] |= (uint8_t)(0x80 >> (b % 8));
		add(r, bitwise_mask(mask, bytes));
	}
	add(r, cmp(NFT_CMP_EQ, c->addr, bytes));
}

static void add_port_match(struct nftnl_rule *r, const struct port_set *s, enum field f, uint8_t proto, uint32_t set_id)
{
	add_u8_meta_match(r, NFT_META_L4PROTO, proto);
	add(r, payload_load(NFT_PAYLOAD_TRANSPORT_HEADER, f == FIELD_SOURCE ? L4_SPORT_OFFSET : L4_DPORT_OFFSET, 2));
	if (!port_set_is_inline(s)) {
		add(r, lookup(s->name, set_id));
		return;
	}
	uint16_t first = htons(s->ranges[0].first), last = htons(s->ranges[0].last);
	if (first == last) {
		add(r, cmp(NFT_CMP_EQ, &first, 2));
		return;
	}
	/* as nft writes "dport 30000-65535": two compares, not a range expression */
	add(r, cmp(NFT_CMP_GTE, &first, 2));
	add(r, cmp(NFT_CMP_LTE, &last, 2));
}

static int set_comment(struct nftnl_rule *r, const char *comment)
{
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);

	if (!ud)
		return -ENOMEM;
	if (!nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, comment)) {
		nftnl_udata_buf_free(ud);
		return -ENOMEM;
	}
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
	return 0;
}

/* Set ids tie lookups to sets created in the same batch; any unique number works. */
static uint32_t port_set_id(size_t i)
{
	return (uint32_t)(1 + i);
}
static uint32_t addr_set_id(size_t i)
{
	return (uint32_t)(0x10000 + i);
}
static uint32_t icmp_copy_set_id(size_t i)
{
	return (uint32_t)(0x20000 + i);
}
static uint32_t icmp_types_set_id(bool v4)
{
	return v4 ? 0x30000 : 0x30001;
}

/* What emit_nft writes as "icmp type @icmp_errors @th,64,8 0x45 @th,136,8 6
 * @th,224,16 @svc0_ports_icmp" (and the ICMPv6 form): see put_icmp_match. */
static void add_icmp_match(struct nftnl_rule *r, const struct ruleset *rs, const struct rule *ir)
{
	bool v4 = ir->family == FAMILY_IPV4;

	add_u8_meta_match(r, NFT_META_NFPROTO, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
	add_u8_meta_match(r, NFT_META_L4PROTO, v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	add(r, payload_load(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1));
	add(r, lookup(v4 ? ICMP_ERRORS_SET : ICMPV6_ERRORS_SET, icmp_types_set_id(v4)));
	if (v4) {
		uint8_t v = ICMP_INNER_IPV4_NO_OPTIONS;
		add(r, payload_load(NFT_PAYLOAD_TRANSPORT_HEADER, ICMP_INNER_VERSION_IHL, 1));
		add(r, cmp(NFT_CMP_EQ, &v, 1));
	}
	if (ir->proto) {
		add(r, payload_load(NFT_PAYLOAD_TRANSPORT_HEADER, v4 ? ICMP_INNER_PROTO : ICMPV6_INNER_NEXTHDR, 1));
		add(r, cmp(NFT_CMP_EQ, &ir->proto, 1));
	}
	if (ir->port_set >= 0) {
		const struct port_set *ps = &rs->port_sets[ir->port_set];
		char name[RULESET_NAME_MAX + 8];
		add(r, payload_load(NFT_PAYLOAD_TRANSPORT_HEADER, icmp_inner_port_offset(ir), 2));
		if (port_set_is_inline(ps)) {
			uint16_t first = htons(ps->ranges[0].first), last = htons(ps->ranges[0].last);
			if (first == last) {
				add(r, cmp(NFT_CMP_EQ, &first, 2));
			} else {
				add(r, cmp(NFT_CMP_GTE, &first, 2));
				add(r, cmp(NFT_CMP_LTE, &last, 2));
			}
			return;
		}
		snprintf(name, sizeof(name), "%s_icmp", ps->name);
		add(r, lookup(name, icmp_copy_set_id((size_t)ir->port_set)));
	}
}

static struct nftnl_rule *build_rule(const struct ruleset *rs, const struct rule *ir)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	char comment[128];

	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, rs->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, rule_chain_name(ir));
	if (ir->icmp_error) {
		if (ir->has_ifname)
			add_ifname(r, ir->hook, &ir->ifname, false);
		add_icmp_match(r, rs, ir);
		goto verdict;
	}
	if (ir->family != FAMILY_BOTH && ir->peer_set < 0 && ir->local_set < 0)
		add_u8_meta_match(r, NFT_META_NFPROTO, family_to_nfproto(ir->family));
	if (ir->has_ifname && !ir->ifname_invert)
		add_ifname(r, ir->hook, &ir->ifname, false);
	/* peers and local addresses of one rule always share a family: check it once */
	if (ir->peer_set >= 0)
		add_addr_match(r, &rs->addr_sets[ir->peer_set], ir->peer_field, addr_set_id((size_t)ir->peer_set),
			       true);
	if (ir->local_set >= 0)
		add_addr_match(r, &rs->addr_sets[ir->local_set], ir->local_field, addr_set_id((size_t)ir->local_set),
			       ir->peer_set < 0);
	if (ir->port_set >= 0)
		add_port_match(r, &rs->port_sets[ir->port_set], ir->port_field, ir->proto,
			       port_set_id((size_t)ir->port_set));
	else if (ir->proto)
		add_u8_meta_match(r, NFT_META_L4PROTO, ir->proto);
	if (ir->has_ifname && ir->ifname_invert)
		add_ifname(r, ir->hook, &ir->ifname, true);
verdict:
	add_scope(r, ir);
	add(r, nftnl_expr_alloc("counter"));
	if (ir->verdict == VERDICT_CT_TIMEOUT) {
		struct nftnl_expr *e = nftnl_expr_alloc("objref");
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_CT_TIMEOUT);
			nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, rs->timeouts[ir->ct_timeout].name);
		}
		add(r, e);
		/* the first matching entry's timeouts win (emit_nft.c) */
		add(r, verdict(NFT_RETURN));
		goto comment;
	}
	/* notrack only attaches the untracked template; the return ends our
	 * chain so later rules neither see nor count the packet again */
	if (ir->verdict == VERDICT_NOTRACK)
		add(r, nftnl_expr_alloc("notrack"));
	add(r, verdict(NFT_RETURN));
comment:
	rule_comment(rs, ir, comment, sizeof(comment));
	if (set_comment(r, comment) < 0)
		goto fail;
	return r;
fail:
	nftnl_rule_free(r);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* sets                                                                 */

/*
 * Interval sets hold boundaries, not ranges: a start element where a matching
 * interval begins and an INTERVAL_END element one past its last value.  Like
 * nft, we open with an end element at zero so the gap below the first range
 * is explicit, and leave out the end of a range that reaches the maximum.
 */
static int add_port_elems(struct nft_elems *s, const struct port_set *ps)
{
	uint16_t zero = 0;
	int r = 0;

	if (ps->repr != PORT_SET_INTERVAL) {
		/* a hash or a bitmap holds single ports, no boundaries */
		for (size_t i = 0; r == 0 && i < ps->n; i++)
			for (unsigned p = ps->ranges[i].first; r == 0 && p <= ps->ranges[i].last; p++) {
				uint16_t key = htons((uint16_t)p);
				r = nft_elems_add(s, &key, 2, false);
			}
		return r;
	}

	if (ps->ranges[0].first != 0)
		r = nft_elems_add(s, &zero, 2, true);
	for (size_t i = 0; r == 0 && i < ps->n; i++) {
		uint16_t first = htons(ps->ranges[i].first), after = htons((uint16_t)(ps->ranges[i].last + 1));
		r = nft_elems_add(s, &first, 2, false);
		if (r == 0 && ps->ranges[i].last != 65535)
			r = nft_elems_add(s, &after, 2, true);
	}
	return r;
}

/* Adds one to a big-endian number; returns true on overflow. */
static bool be_increment(uint8_t *v, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (++v[i] != 0)
			return false;
	return true;
}

static int add_addr_elems(struct nft_elems *s, const struct addr_set *as)
{
	uint32_t len = family_addr_len(as->family);
	static const uint8_t zero[16];
	int r = 0;

	if (memcmp(as->cidrs[0].addr, zero, len) != 0)
		r = nft_elems_add(s, zero, len, true);
	for (size_t i = 0; r == 0 && i < as->n; i++) {
		const struct cidr *c = &as->cidrs[i];
		uint8_t last[16];
		memcpy(last, c->addr, sizeof(last));
		for (unsigned b = c->prefix; b < len * 8; b++)
			last[b / 8] |= (uint8_t)(0x80 >> (b % 8));
		r = nft_elems_add(s, c->addr, len, false);
		if (r == 0 && !be_increment(last, len))
			r = nft_elems_add(s, last, len, true);
	}
	return r;
}

/*
 * What nft stores for "typeof @th,OFFSET,LEN": the key's byte order and the
 * raw payload it was declared from, so that `nft list` shows the set as
 * nft itself would have made it.
 */
static int set_typeof_raw(struct nftnl_set *s, uint32_t base, uint32_t offset_bits, uint32_t len_bits)
{
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
	struct nftnl_udata *typeof_nest, *data_nest;
	int r = -ENOMEM;

	if (!ud)
		return -ENOMEM;
	if (!nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, NFT_BYTEORDER_BIG_ENDIAN))
		goto out;
	typeof_nest = nftnl_udata_nest_start(ud, NFTNL_UDATA_SET_KEY_TYPEOF);
	if (!typeof_nest || !nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_TYPEOF_EXPR, NFT_EXPR_TYPE_PAYLOAD))
		goto out;
	data_nest = nftnl_udata_nest_start(ud, NFTNL_UDATA_SET_TYPEOF_DATA);
	/* nft's payload udata: protocol description (none: raw), template,
	 * base (nft counts from 1 where the kernel counts from 0), offset and
	 * length in bits */
	if (!data_nest || !nftnl_udata_put_u32(ud, 0, 0) || !nftnl_udata_put_u32(ud, 1, 0) ||
	    !nftnl_udata_put_u32(ud, 2, base + 1) || !nftnl_udata_put_u32(ud, 3, offset_bits) ||
	    !nftnl_udata_put_u32(ud, 4, len_bits))
		goto out;
	nftnl_udata_nest_end(ud, data_nest);
	nftnl_udata_nest_end(ud, typeof_nest);
	nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
	r = 0;
out:
	nftnl_udata_buf_free(ud);
	return r;
}

/* A plain set of 16-bit keys is the kernel's bitmap; NFT_SET_EVAL
 * ("dynamic", never updated from the packet path) makes it choose its rhash
 * instead, which loads in linear time (ruleset.h, struct port_set). */
static uint32_t port_set_flags(const struct port_set *ps)
{
	switch (ps->repr) {
	case PORT_SET_BITMAP: return 0;
	case PORT_SET_HASH: return NFT_SET_EVAL;
	default: return NFT_SET_INTERVAL;
	}
}

static struct nftnl_set *new_set(const struct ruleset *rs, const char *name, uint32_t id, uint32_t type, uint32_t len,
				 uint32_t flags)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, rs->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, len);
	return s;
}

/* ------------------------------------------------------------------ */

static struct nftnl_chain *build_chain(const struct ruleset *rs, enum hook h, bool timeout)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		return NULL;
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, rs->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, timeout ? timeout_chain_name(h) : hook_name(h));
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, h == HOOK_PREROUTING ? NF_INET_PRE_ROUTING : NF_INET_LOCAL_OUT);
	/* raw priority: before conntrack (-200) looks at the packet; the
	 * timeout chains after it (ruleset.h, TIMEOUT_CHAIN_PRIORITY) */
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, timeout ? TIMEOUT_CHAIN_PRIORITY : -300);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	return c;
}

struct nftnl_obj *nft_build_timeout_obj(const char *table, const struct ct_timeout_obj *o)
{
	struct nftnl_obj *ob = nftnl_obj_alloc();
	uint32_t values[CT_TIMEOUT_STATES] = {0};

	if (!ob)
		return NULL;
	nftnl_obj_set_u32(ob, NFTNL_OBJ_FAMILY, NFPROTO_INET);
	nftnl_obj_set_str(ob, NFTNL_OBJ_TABLE, table);
	nftnl_obj_set_str(ob, NFTNL_OBJ_NAME, o->name);
	nftnl_obj_set_u32(ob, NFTNL_OBJ_TYPE, NFT_OBJECT_CT_TIMEOUT);
	/* l3proto inet: one object serves IPv4 and IPv6, as nft's "l3proto inet" */
	nftnl_obj_set_u16(ob, NFTNL_OBJ_CT_TIMEOUT_L3PROTO, NFPROTO_INET);
	nftnl_obj_set_u8(ob, NFTNL_OBJ_CT_TIMEOUT_L4PROTO, o->t.proto);
	/* every state, the ones the policy left out at their defaults: the
	 * kernel takes what it is sent, and nft sends the same */
	memcpy(values, o->t.value, sizeof(values));
	nftnl_obj_set_data(ob, NFTNL_OBJ_CT_TIMEOUT_ARRAY, values, sizeof(values));
	return ob;
}

int nft_build_desired(const struct ruleset *rs, struct nft_desired *d)
{
	memset(d, 0, sizeof(*d));
	d->table = nftnl_table_alloc();
	if (!d->table)
		goto oom;
	nftnl_table_set_u32(d->table, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(d->table, NFTNL_TABLE_NAME, rs->table);

	/* each port set may have its ICMP-error copy, and each family its set of error types */
	size_t max_sets = 2 * rs->n_port_sets + rs->n_addr_sets + 2 + 1;
	d->sets = calloc(max_sets, sizeof(*d->sets));
	d->set_elems = calloc(max_sets, sizeof(*d->set_elems));
	if (!d->sets || !d->set_elems)
		goto oom;
	for (size_t i = 0; i < rs->n_port_sets; i++) {
		const struct port_set *ps = &rs->port_sets[i];
		if (port_set_is_inline(ps))
			continue;
		struct nftnl_set *s =
		    new_set(rs, ps->name, port_set_id(i), NFT_TYPE_INET_SERVICE, 2, port_set_flags(ps));
		if (!s)
			goto oom;
		if (add_port_elems(&d->set_elems[d->n_sets], ps) < 0)
			goto oom;
		d->sets[d->n_sets++] = s;
	}
	for (size_t i = 0; i < rs->n_port_sets; i++) {
		const struct port_set *ps = &rs->port_sets[i];
		char name[RULESET_NAME_MAX + 8];
		if (!ps->icmp_copy)
			continue;
		snprintf(name, sizeof(name), "%s_icmp", ps->name);
		struct nftnl_set *s = new_set(rs, name, icmp_copy_set_id(i), NFT_TYPE_INTEGER, 2, port_set_flags(ps));
		if (!s)
			goto oom;
		if (set_typeof_raw(s, NFT_PAYLOAD_TRANSPORT_HEADER, ICMP_INNER_L4 * 8, 16) < 0 ||
		    add_port_elems(&d->set_elems[d->n_sets], ps) < 0) {
			nftnl_set_free(s);
			goto oom;
		}
		d->sets[d->n_sets++] = s;
	}
	for (unsigned family = FAMILY_IPV4; family <= FAMILY_IPV6; family <<= 1) {
		bool v4 = family == FAMILY_IPV4;
		size_t n;
		const unsigned char *types = icmp_error_types_of(family, &n);
		if (!ruleset_has_icmp(rs, family))
			continue;
		struct nftnl_set *s = new_set(rs, v4 ? ICMP_ERRORS_SET : ICMPV6_ERRORS_SET, icmp_types_set_id(v4),
					      v4 ? NFT_TYPE_ICMP_TYPE : NFT_TYPE_ICMPV6_TYPE, 1, 0);
		if (!s)
			goto oom;
		for (size_t t = 0; t < n; t++)
			if (nft_elems_add(&d->set_elems[d->n_sets], &types[t], 1, false) < 0) {
				nftnl_set_free(s);
				goto oom;
			}
		d->sets[d->n_sets++] = s;
	}
	for (size_t i = 0; i < rs->n_addr_sets; i++) {
		const struct addr_set *as = &rs->addr_sets[i];
		bool v4 = as->family == FAMILY_IPV4;
		if (addr_set_is_inline(as))
			continue;
		struct nftnl_set *s = new_set(rs, as->name, addr_set_id(i), v4 ? NFT_TYPE_IPADDR : NFT_TYPE_IP6ADDR,
					      v4 ? 4 : 16, NFT_SET_INTERVAL);
		if (!s)
			goto oom;
		if (add_addr_elems(&d->set_elems[d->n_sets], as) < 0)
			goto oom;
		d->sets[d->n_sets++] = s;
	}
	for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++) {
		d->chains[d->n_chains] = build_chain(rs, h, false);
		if (!d->chains[d->n_chains++])
			goto oom;
	}
	d->objs = calloc(rs->n_timeouts + 1, sizeof(*d->objs));
	if (!d->objs)
		goto oom;
	for (size_t i = 0; i < rs->n_timeouts; i++) {
		d->objs[d->n_objs] = nft_build_timeout_obj(rs->table, &rs->timeouts[i]);
		if (!d->objs[d->n_objs++])
			goto oom;
	}
	for (enum hook h = HOOK_PREROUTING; rs->n_timeouts && h <= HOOK_OUTPUT; h++) {
		d->chains[d->n_chains] = build_chain(rs, h, true);
		if (!d->chains[d->n_chains++])
			goto oom;
	}
	size_t total = rs->n_chain[HOOK_PREROUTING] + rs->n_chain[HOOK_OUTPUT] + rs->n_timeout_rules;
	d->rules = calloc(total + 1, sizeof(*d->rules));
	d->ir_rules = calloc(total + 1, sizeof(*d->ir_rules));
	if (!d->rules || !d->ir_rules)
		goto oom;
	/* grouped by chain, each chain's rules in the order the kernel walks them */
	for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++) {
		for (size_t i = 0; i < rs->n_chain[h]; i++) {
			d->rules[d->n_rules] = build_rule(rs, rs->chain[h][i]);
			if (!d->rules[d->n_rules])
				goto oom;
			d->ir_rules[d->n_rules++] = rs->chain[h][i];
		}
	}
	for (size_t i = 0; i < rs->n_timeout_rules; i++) {
		d->rules[d->n_rules] = build_rule(rs, &rs->timeout_rules[i]);
		if (!d->rules[d->n_rules])
			goto oom;
		d->ir_rules[d->n_rules++] = &rs->timeout_rules[i];
	}
	return 0;
oom:
	nft_desired_free(d);
	return -ENOMEM;
}

void nft_desired_free(struct nft_desired *d)
{
	if (d->table)
		nftnl_table_free(d->table);
	for (size_t i = 0; i < d->n_sets; i++)
		nftnl_set_free(d->sets[i]);
	/* one more than n_sets may hold elements: the set being built when memory ran out */
	for (size_t i = 0; d->set_elems && i <= d->n_sets; i++)
		nft_elems_free(&d->set_elems[i]);
	free(d->set_elems);
	for (size_t i = 0; i < 4; i++)
		if (d->chains[i])
			nftnl_chain_free(d->chains[i]);
	for (size_t i = 0; d->objs && i < d->n_objs; i++)
		if (d->objs[i])
			nftnl_obj_free(d->objs[i]);
	free(d->objs);
	for (size_t i = 0; i < d->n_rules; i++)
		nftnl_rule_free(d->rules[i]);
	free(d->sets);
	free(d->rules);
	free(d->ir_rules);
	memset(d, 0, sizeof(*d));
}

struct nftnl_rule *nft_build_accept_rule(int family, const char *table, const char *chain, const char *tag,
					 bool xtables_compat)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, (uint32_t)family);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	if (xtables_compat) {
		/* iptables-nft stores "-m conntrack --ctstate UNTRACKED" as an xt
		 * match that the kernel runs through xt_conntrack; a native ct
		 * expression here would make iptables-nft-save give up on the table */
		struct xt_conntrack_mtinfo3 *info = calloc(1, sizeof(*info));
		struct nftnl_expr *m = nftnl_expr_alloc("match");
		if (!info || !m) {
			free(info);
			if (m)
				nftnl_expr_free(m);
			nftnl_rule_free(r);
			return NULL;
		}
		info->match_flags = XT_CONNTRACK_STATE;
		info->state_mask = XT_CONNTRACK_STATE_UNTRACKED;
		nftnl_expr_set_str(m, NFTNL_EXPR_MT_NAME, "conntrack");
		nftnl_expr_set_u32(m, NFTNL_EXPR_MT_REV, 3);
		/* libnftnl keeps this pointer and frees it with the expression */
		nftnl_expr_set(m, NFTNL_EXPR_MT_INFO, info, sizeof(*info));
		add(r, m);
	} else {
		uint32_t mask = NFT_CT_STATE_UNTRACKED, zero = 0;
		struct nftnl_expr *ct = nftnl_expr_alloc("ct");
		if (ct) {
			nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
			nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_DREG, NFT_REG_1);
		}
		add(r, ct);
		add(r, bitwise_mask(&mask, 4));
		add(r, cmp(NFT_CMP_NEQ, &zero, 4));
	}
	add(r, nftnl_expr_alloc("counter"));
	add(r, verdict(NF_ACCEPT));
	if (set_comment(r, tag) < 0) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* canonical forms                                                      */

static int canon_expr_cb(struct nftnl_expr *e, void *data)
{
	struct strbuf *out = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	char buf[512];

	/* counter values change with traffic; whether a counter is there does not */
	if (name && strcmp(name, "counter") == 0) {
		strbuf_puts(out, "[counter]");
		return 0;
	}
	if (name && strcmp(name, "lookup") == 0) {
		/* the set id only links a batch's objects; the kernel does not keep it */
		strbuf_printf(
		    out, "[lookup %s sreg %u flags %u]", nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET),
		    nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_SREG),
		    nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS) ? nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) : 0);
		return 0;
	}
	nftnl_expr_snprintf(buf, sizeof(buf), e, NFTNL_OUTPUT_DEFAULT, 0);
	strbuf_printf(out, "[%s %s]", name ? name : "?", buf);
	return 0;
}

const char *nft_rule_comment(const struct nftnl_rule *r, char *buf, size_t size)
{
	const void *data;
	uint32_t len;

	if (!nftnl_rule_is_set(r, NFTNL_RULE_USERDATA))
		return NULL;
	data = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
	return nft_udata_comment(data, len, buf, size);
}

const char *nft_udata_comment(const void *data, uint32_t len, char *buf, size_t size)
{
	const struct nftnl_udata *attr;
	struct nftnl_udata_buf *ud;

	ud = nftnl_udata_buf_alloc(len);
	if (!ud)
		return NULL;
	nftnl_udata_buf_put(ud, data, len);
	buf[0] = '\0';
	nftnl_udata_for_each(ud, attr)
	{
		if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT && nftnl_udata_len(attr) > 0) {
			size_t n = nftnl_udata_len(attr) < size ? nftnl_udata_len(attr) : size;
			memcpy(buf, nftnl_udata_get(attr), n);
			buf[n - 1] = '\0';
		}
	}
	nftnl_udata_buf_free(ud);
	return buf[0] ? buf : NULL;
}

int nft_rule_canon(const struct nftnl_rule *r, struct strbuf *out)
{
	char comment[NFT_USERDATA_MAXLEN];

	nftnl_expr_foreach((struct nftnl_rule *)r, canon_expr_cb, out);
	strbuf_printf(out, " comment=%s", nft_rule_comment(r, comment, sizeof(comment)) ?: "");
	return out->oom ? -ENOMEM : 0;
}

/* ------------------------------------------------------------------ */
/* element changes                                                      */

enum item_kind {
	ITEM_SINGLE,   /* an element of a set without intervals */
	ITEM_INTERVAL, /* a start boundary and the end boundary one past its last value */
	ITEM_OPEN,     /* a start boundary whose interval reaches the maximum key */
	ITEM_LONE_END, /* an end boundary alone: the explicit gap below the first interval */
};

/* Zeroed before filling, so that memcmp() compares items. */
struct nft_elem_item {
	uint8_t start[16];
	uint8_t end[16];
	uint8_t len;
	uint8_t kind;
};

static int cmp_key(const struct nft_key *x, const struct nft_key *y)
{
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

static int cmp_boundary(const void *a, const void *b)
{
	const struct nft_key *x = a, *y = b;
	int c = cmp_key(x, y);

	/* at equal keys the end of one interval comes before the start of the next */
	return c ? c : (int)y->end - (int)x->end;
}

/* Sorted as the text "<hex key>/<interval end bit>" sorts (the keys of one
 * set have one length, and lowercase hex sorts as the bytes do), without
 * making and sorting 20,000 strings for 10,000 ports. */
static int cmp_boundary_canon(const void *a, const void *b)
{
	const struct nft_key *x = a, *y = b;
	int c = cmp_key(x, y);

	return c ? c : (int)x->end - (int)y->end;
}

static int cmp_item(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct nft_elem_item));
}

int nft_elems_reserve(struct nft_elems *l, size_t n)
{
	struct nft_key *p;

	if (l->cap - l->n >= n)
		return 0;
	p = realloc(l->v, (l->n + n) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	l->v = p;
	l->cap = l->n + n;
	return 0;
}

int nft_elems_add(struct nft_elems *l, const void *key, uint32_t len, bool end)
{
	uint8_t bytes[NFT_KEY_MAX] = {0};
	uint64_t hi, lo;
	struct nft_key *k;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct nft_key *p = realloc(l->v, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->v = p;
		l->cap = cap;
	}
	k = &l->v[l->n++];
	l->sorted = 0;
	memset(k, 0, sizeof(*k));
	k->len = (uint8_t)(len < NFT_KEY_MAX ? len : NFT_KEY_MAX);
	k->end = end;
	if (key && k->len == 2) {
		/* a port, 20,000 times an apply: no copy of a length known only here */
		const uint8_t *b = key;
		k->hi = (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48;
		return 0;
	}
	if (key)
		memcpy(bytes, key, k->len);
	memcpy(&hi, bytes, 8);
	memcpy(&lo, bytes + 8, 8);
	k->hi = be64toh(hi);
	k->lo = be64toh(lo);
	return 0;
}

void nft_elems_free(struct nft_elems *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int elem_cb(struct nftnl_set_elem *e, void *data)
{
	const void *key;
	uint32_t len = 0;

	key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
	return nft_elems_add(data, key, len,
			     nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
				 (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END));
}

int nft_elems_copy(struct nft_elems *dst, const struct nft_elems *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->v = malloc((src->n + 1) * sizeof(*dst->v));
	if (!dst->v)
		return -ENOMEM;
	if (src->n)
		memcpy(dst->v, src->v, src->n * sizeof(*dst->v));
	dst->n = dst->cap = src->n;
	dst->sorted = src->sorted;
	return 0;
}

int nft_elems_from_set(struct nft_elems *l, const struct nftnl_set *s)
{
	memset(l, 0, sizeof(*l));
	if (nftnl_set_elem_foreach((struct nftnl_set *)s, elem_cb, l) < 0) {
		nft_elems_free(l);
		return -ENOMEM;
	}
	return 0;
}

/* Sorting 10,000 ports with qsort() was most of a one-port change's
 * planning: a set of ports (2-byte keys, every key and end bit once, as in
 * any set) is sorted by marking a bitmap of key and end bit instead.
 * Returns false, having changed nothing, for anything else. */
static bool sort_ports(struct nft_elems *l, bool end_first)
{
	enum { WORDS = 65536 * 2 / 64 };
	uint64_t *bits;
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].len != 2)
			return false;
	bits = calloc(WORDS, sizeof(*bits));
	if (!bits)
		return false;
	for (size_t i = 0; i < l->n; i++) {
		unsigned port = (unsigned)(l->v[i].hi >> 48);
		unsigned bit = port << 1 | (l->v[i].end != end_first);
		if (bits[bit / 64] & (1ull << (bit % 64))) {
			free(bits); /* twice the same: leave it to qsort() */
			return false;
		}
		bits[bit / 64] |= 1ull << (bit % 64);
	}
	for (unsigned w = 0; w < WORDS; w++)
		for (uint64_t m = bits[w]; m; m &= m - 1) {
			unsigned bit = w * 64 + (unsigned)__builtin_ctzll(m);
			struct nft_key *k = &l->v[n++];
			unsigned port = bit >> 1;
			memset(k, 0, sizeof(*k));
			k->hi = (uint64_t)port << 48; /* as nft_elems_add() makes it */
			k->len = 2;
			k->end = (bit & 1) != end_first;
		}
	free(bits);
	return true;
}

/* Ascending by key; at equal keys the end boundary first when end_first
 * (where one interval ends, the next may start), else last (the canonical
 * text's order).  The kernel dumps an interval set in descending order, and
 * we build ours ascending: look before paying for a sort. */
static void sort_boundaries(struct nft_elems *l, bool end_first)
{
	int (*order)(const void *, const void *) = end_first ? cmp_boundary : cmp_boundary_canon;
	unsigned want = end_first ? NFT_SORTED_END_FIRST : NFT_SORTED_CANON;
	bool asc = true, desc = true, asc_other = true;
	size_t i;

	if (l->sorted & want)
		return;
	/* the order spelled out, not called through `order`: this look runs
	 * over 20,000 boundaries, and an indirect call per pair was most of
	 * it.  The other order is looked at on the way: the two differ only
	 * where one interval ends at the key the next starts at. */
	for (i = 1; i < l->n && (asc || desc); i++) {
		const struct nft_key *x = &l->v[i - 1], *y = &l->v[i];
		int c = cmp_key(x, y), e = (int)y->end - (int)x->end;
		int mine = c ? c : end_first ? e : -e, other = c ? c : end_first ? -e : e;
		asc &= mine <= 0;
		desc &= mine >= 0;
		asc_other &= other <= 0;
	}
	if (asc) {
		l->sorted |= want | (asc_other ? NFT_SORTED_END_FIRST + NFT_SORTED_CANON - want : 0);
		return;
	}
	if (desc) {
		for (size_t a = 0, b = l->n - 1; a < b; a++, b--) {
			struct nft_key t = l->v[a];
			l->v[a] = l->v[b];
			l->v[b] = t;
		}
	} else if (!sort_ports(l, end_first)) {
		qsort(l->v, l->n, sizeof(*l->v), order);
	}
	l->sorted = want;
}

/* A set's elements as sorted items: boundaries paired into intervals. */
static int set_items(bool interval, struct nft_elems *l, struct nft_elem_item **out, size_t *n_out)
{
	struct nft_elem_item *items = calloc(l->n + 1, sizeof(*items));
	size_t n = 0;

	if (!items)
		return -ENOMEM;
	sort_boundaries(l, true);
	for (size_t i = 0; i < l->n; i++) {
		struct nft_elem_item *it = &items[n++];
		it->len = l->v[i].len;
		nft_key_bytes(&l->v[i], it->start);
		if (!interval) {
			it->kind = ITEM_SINGLE;
		} else if (l->v[i].end) {
			it->kind = ITEM_LONE_END;
		} else if (i + 1 < l->n && l->v[i + 1].end) {
			it->kind = ITEM_INTERVAL;
			nft_key_bytes(&l->v[++i], it->end);
		} else {
			it->kind = ITEM_OPEN;
		}
	}
	/* sorted boundaries make sorted items: nothing to sort again */
	*out = items;
	*n_out = n;
	return 0;
}

bool nft_set_same_kind(const struct nftnl_set *have, const struct nftnl_set *want)
{
	static const uint16_t attrs[] = {NFTNL_SET_KEY_TYPE, NFTNL_SET_KEY_LEN, NFTNL_SET_FLAGS};

	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (nftnl_set_get_u32(have, attrs[i]) != nftnl_set_get_u32(want, attrs[i]))
			return false;
	return true;
}

void nft_set_delta_free(struct nft_set_delta *d)
{
	free(d->del);
	free(d->add);
	memset(d, 0, sizeof(*d));
}

static bool same_boundaries(const struct nft_elems *a, const struct nft_elems *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].len != b->v[i].len || a->v[i].end != b->v[i].end || a->v[i].hi != b->v[i].hi ||
		    a->v[i].lo != b->v[i].lo)
			return false;
	return true;
}

/* A set without intervals: a merge walk over the sorted keys, items made
 * only for the few that differ. */
static int single_delta(const struct nft_elems *have, const struct nft_elems *want, struct nft_set_delta *out)
{
	size_t i = 0, j = 0;

	/* malloc, not calloc: of 10,000 slots only the changed ones are touched */
	out->del = malloc((have->n + 1) * sizeof(*out->del));
	out->add = malloc((want->n + 1) * sizeof(*out->add));
	if (!out->del || !out->add)
		return -ENOMEM;
	while (i < have->n || j < want->n) {
		int c = i == have->n ? 1 : j == want->n ? -1 : cmp_boundary(&have->v[i], &want->v[j]);
		const struct nft_key *k = c < 0 ? &have->v[i] : &want->v[j];
		struct nft_elem_item *it;
		if (c == 0) {
			i++;
			j++;
			continue;
		}
		it = c < 0 ? &out->del[out->n_del++] : &out->add[out->n_add++];
		memset(it, 0, sizeof(*it));
		it->len = k->len;
		nft_key_bytes(k, it->start);
		it->kind = ITEM_SINGLE;
		c < 0 ? i++ : j++;
	}
	return 0;
}

int nft_set_delta(struct nft_elems *have, const struct nftnl_set *want, struct nft_elems *want_elems,
		  struct nft_set_delta *out)
{
	bool interval = nftnl_set_get_u32(want, NFTNL_SET_FLAGS) & NFT_SET_INTERVAL;
	struct nft_elem_item *h = NULL, *w = NULL;
	size_t nh = 0, nw = 0, i = 0, j = 0;
	int r;

	memset(out, 0, sizeof(*out));
	out->key_type = nftnl_set_get_u32(want, NFTNL_SET_KEY_TYPE);
	sort_boundaries(have, true);
	sort_boundaries(want_elems, true);
	/* the common answers first: nothing changed (every verification after
	 * our own commit), or a few keys of a plain set */
	if (same_boundaries(have, want_elems)) {
		out->del = calloc(1, sizeof(*out->del));
		out->add = calloc(1, sizeof(*out->add));
		r = out->del && out->add ? 0 : -ENOMEM;
		goto out;
	}
	if (!interval) {
		r = single_delta(have, want_elems, out);
		goto out;
	}
	r = set_items(interval, have, &h, &nh);
	if (r == 0)
		r = set_items(interval, want_elems, &w, &nw);
	if (r < 0)
		goto out;
	/* both sorted: a merge walk; what only one side has is the change */
	out->del = calloc(nh + 1, sizeof(*out->del));
	out->add = calloc(nw + 1, sizeof(*out->add));
	if (!out->del || !out->add) {
		r = -ENOMEM;
		goto out;
	}
	while (i < nh || j < nw) {
		int c = i == nh ? 1 : j == nw ? -1 : cmp_item(&h[i], &w[j]);
		if (c == 0) {
			i++;
			j++;
		} else if (c < 0) {
			out->del[out->n_del++] = h[i++];
		} else {
			out->add[out->n_add++] = w[j++];
		}
	}
out:
	free(h);
	free(w);
	if (r < 0)
		nft_set_delta_free(out);
	return r;
}

int nft_set_delta_elems(const struct nft_set_delta *d, bool del, struct nft_elems *s)
{
	const struct nft_elem_item *items = del ? d->del : d->add;
	size_t n = del ? d->n_del : d->n_add;
	int r = 0;

	memset(s, 0, sizeof(*s));
	/* ascending, each interval's start before its end: every boundary
	 * added then meets only whole intervals around it */
	for (size_t i = 0; r == 0 && i < n; i++) {
		const struct nft_elem_item *it = &items[i];
		r = nft_elems_add(s, it->start, it->len, it->kind == ITEM_LONE_END);
		if (r == 0 && it->kind == ITEM_INTERVAL)
			r = nft_elems_add(s, it->end, it->len, true);
	}
	if (r < 0)
		nft_elems_free(s);
	return r;
}

/* One less, big-endian. */
static void be_decrement(uint8_t *v, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (v[i]-- != 0)
			return;
}

/* The prefix length when [first, last] is exactly one CIDR block, else -1. */
static int cidr_prefix(const uint8_t *first, const uint8_t *last, size_t len)
{
	size_t bits = len * 8, p = 0;

	while (p < bits && !((first[p / 8] ^ last[p / 8]) & (0x80 >> (p % 8))))
		p++;
	for (size_t b = p; b < bits; b++) {
		uint8_t m = (uint8_t)(0x80 >> (b % 8));
		if ((first[b / 8] & m) || !(last[b / 8] & m))
			return -1;
	}
	return (int)p;
}

static void put_key(struct strbuf *out, uint32_t type, const uint8_t *key, size_t len)
{
	char buf[INET6_ADDRSTRLEN];

	/* a port, or a port of the ICMP-error copy (a raw 16-bit payload key) */
	if ((type == NFT_TYPE_INET_SERVICE || type == NFT_TYPE_INTEGER) && len == 2)
		strbuf_printf(out, "%u", (unsigned)key[0] << 8 | key[1]);
	else if (type == NFT_TYPE_IPADDR && len == 4 && inet_ntop(AF_INET, key, buf, sizeof(buf)))
		strbuf_puts(out, buf);
	else if (type == NFT_TYPE_IP6ADDR && len == 16 && inet_ntop(AF_INET6, key, buf, sizeof(buf)))
		strbuf_puts(out, buf);
	else
		for (size_t i = 0; i < len; i++)
			strbuf_printf(out, "%02x", key[i]);
}

static void put_item(struct strbuf *out, uint32_t type, const struct nft_elem_item *it, char sign)
{
	uint8_t last[16];
	int prefix;

	strbuf_printf(out, " %c", sign);
	put_key(out, type, it->start, it->len);
	if (it->kind == ITEM_SINGLE)
		return;
	if (it->kind == ITEM_OPEN) {
		memset(last, 0xff, sizeof(last));
	} else {
		memcpy(last, it->end, sizeof(last));
		be_decrement(last, it->len);
	}
	if (!memcmp(last, it->start, it->len))
		return;
	prefix = type == NFT_TYPE_INET_SERVICE || type == NFT_TYPE_INTEGER ? -1 : cidr_prefix(it->start, last, it->len);
	if (prefix >= 0) {
		strbuf_printf(out, "/%d", prefix);
		return;
	}
	strbuf_putc(out, '-');
	put_key(out, type, last, it->len);
}

int nft_set_delta_text(const struct nft_set_delta *d, size_t max, struct strbuf *out)
{
	size_t listed = 0, total = 0;

	for (int pass = 0; pass < 2; pass++) {
		const struct nft_elem_item *items = pass ? d->del : d->add;
		size_t n = pass ? d->n_del : d->n_add;
		for (size_t i = 0; i < n; i++) {
			if (items[i].kind == ITEM_LONE_END)
				continue;
			total++;
			if (listed < max) {
				put_item(out, d->key_type, &items[i], pass ? '-' : '+');
				listed++;
			}
		}
	}
	if (total > listed)
		strbuf_printf(out, " and %zu more", total - listed);
	return out->oom ? -ENOMEM : 0;
}

int nft_set_canon(const struct nftnl_set *s, struct nft_elems *elems, struct strbuf *out)
{
	static const char digits[] = "0123456789abcdef";
	struct nft_elems *l = elems;
	char text[2 * NFT_KEY_MAX + 4];

	strbuf_printf(out, "set %s type %u len %u flags %u:", nftnl_set_get_str(s, NFTNL_SET_NAME),
		      nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE), nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN),
		      nftnl_set_get_u32(s, NFTNL_SET_FLAGS));
	sort_boundaries(l, false);
	for (size_t i = 0; i < l->n; i++) {
		size_t n = 0;
		text[n++] = ' ';
		for (size_t k = 0; k < l->v[i].len; k++) {
			uint8_t byte = nft_key_byte(&l->v[i], (unsigned)k);
			text[n++] = digits[byte >> 4];
			text[n++] = digits[byte & 0xf];
		}
		text[n++] = '/';
		text[n++] = l->v[i].end ? '1' : '0';
		strbuf_putn(out, text, n);
	}
	return out->oom ? -ENOMEM : 0;
}
