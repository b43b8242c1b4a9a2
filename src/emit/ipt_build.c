#include "emit/ipt_build.h"

#include <errno.h>
#include <libiptc/libip6tc.h>
#include <libiptc/libiptc.h>
#include <linux/netfilter/xt_CT.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_multiport.h>
#include <linux/netfilter/xt_socket.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter/xt_u32.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit/emit.h"
#include "util/hash.h"

/* The revisions iptables 1.8 picks on any kernel since 4.x: the newest one
 * both it and the kernel know.  A different revision is a different rule to
 * iptables-save, so these are part of what "the same rule" means. */
enum {
	MULTIPORT_REV = 1, /* struct xt_multiport_v1: ranges allowed */
	COMMENT_REV = 0,
	CONNTRACK_REV = 3, /* struct xt_conntrack_mtinfo3 */
	CT_REV = 2,	   /* struct xt_ct_target_info_v1 */
	ADDRTYPE_REV = 1,  /* struct xt_addrtype_info_v1: IPv6 too */
	TCP_REV = 0,
	SOCKET_REV = 3, /* struct xt_socket_mtinfo3 */
	U32_REV = 0,
};

/* Large enough for the biggest entry we build: an ip6t_entry, the u32
 * match of an ICMP error rule (about 2 KiB), addrtype or socket, comment
 * and the CT target. */
#define ENTRY_ROOM 4096

struct entry_buf {
	unsigned family;
	size_t len;
	_Alignas(8) unsigned char b[ENTRY_ROOM];
};

static size_t header_size(unsigned family)
{
	return family == FAMILY_IPV4 ? sizeof(struct ipt_entry) : sizeof(struct ip6t_entry);
}

/* ipt_entry and ip6t_entry differ only in their ip header; the fields after
 * it have the same types and order. */
#define ENTRY_FIELD(family, e, field)                                                                                  \
	((family) == FAMILY_IPV4 ? &((struct ipt_entry *)(e))->field : &((struct ip6t_entry *)(e))->field)

/* Zeroes only what is used: a large policy builds 131,000 entries. */
static void eb_init(struct entry_buf *eb, unsigned family)
{
	memset(eb->b, 0, header_size(family));
	eb->family = family;
	eb->len = header_size(family);
	*ENTRY_FIELD(family, eb->b, target_offset) = (uint16_t)eb->len;
	*ENTRY_FIELD(family, eb->b, next_offset) = (uint16_t)eb->len;
}

/*
 * Appends a match, or the target (which comes last), with `size` bytes of
 * zeroed info and returns the info.  A match and a target share their
 * layout: size, name, revision, then the info.
 */
static void *eb_ext(struct entry_buf *eb, bool target, const char *name, uint8_t rev, size_t size)
{
	struct xt_entry_match *m = (struct xt_entry_match *)(eb->b + eb->len);
	size_t start = eb->len, total = XT_ALIGN(sizeof(*m)) + XT_ALIGN(size);

	memset(m, 0, total);
	m->u.match_size = (uint16_t)total;
	memcpy(m->u.user.name, name, strnlen(name, sizeof(m->u.user.name) - 1));
	m->u.user.revision = rev;
	eb->len += total;
	*ENTRY_FIELD(eb->family, eb->b, target_offset) = (uint16_t)(target ? start : eb->len);
	*ENTRY_FIELD(eb->family, eb->b, next_offset) = (uint16_t)eb->len;
	return m->data;
}

static void *eb_match(struct entry_buf *eb, const char *name, uint8_t rev, size_t size)
{
	return eb_ext(eb, false, name, rev, size);
}

static void *eb_target(struct entry_buf *eb, const char *name, uint8_t rev, size_t size)
{
	return eb_ext(eb, true, name, rev, size);
}

/* A standard target names a verdict (ACCEPT, RETURN) or a chain to jump to;
 * libiptc resolves the name when the entry is added, like iptables does. */
static void eb_standard(struct entry_buf *eb, const char *label)
{
	eb_target(eb, label, 0, sizeof(int));
}

static void eb_comment(struct entry_buf *eb, const char *comment)
{
	struct xt_comment_info *c = eb_match(eb, "comment", COMMENT_REV, sizeof(*c));

	size_t n = strlen(comment);

	memcpy(c->comment, comment, n < sizeof(c->comment) - 1 ? n : sizeof(c->comment) - 1);
}

static void *eb_take(const struct entry_buf *eb)
{
	void *e = malloc(eb->len);

	if (e)
		memcpy(e, eb->b, eb->len);
	return e;
}

/* ------------------------------------------------------------------ */
/* the ip header                                                        */

/* iptables' interface match: an exact name compares its NUL too, a name
 * ending in '+' compares only the prefix; the '+' stays in the name. */
static void put_iface(const struct ifname *ifn, char name[IFNAMSIZ], unsigned char mask[IFNAMSIZ])
{
	size_t len = strnlen(ifn->name, IFNAMSIZ - 1);

	/* the policy allows no name that would not fit with its '+' */
	memcpy(name, ifn->name, len);
	if (ifn->wildcard && len < IFNAMSIZ - 1)
		name[len] = '+';
	memset(mask, 0xff, ifn->wildcard ? len : len + 1);
}

static void prefix_mask(unsigned prefix, uint8_t *mask, size_t bytes)
{
	memset(mask, 0, bytes);
	for (unsigned b = 0; b < prefix && b < bytes * 8; b++)
		mask[b / 8] |= (uint8_t)(0x80 >> (b % 8));
}

static void put_addr(const struct cidr *c, void *addr, void *mask, size_t bytes)
{
	prefix_mask(c->prefix, mask, bytes);
	memcpy(addr, c->addr, bytes);
}

/* The fields both ip headers have, wherever each keeps them. */
struct ip_fields {
	char *iniface, *outiface;
	unsigned char *iniface_mask, *outiface_mask;
	void *src, *dst, *smsk, *dmsk;
	size_t addr_len;
	uint8_t *invflags;
};

static void put_ip(const struct ip_fields *f, const struct iptables_variant *v)
{
	const struct rule *r = v->rule;

	/* IPT_INV_VIA_IN and IP6T_INV_VIA_IN (and the _OUT pair) are the same bits */
	if (r->has_ifname && r->ifname_invert)
		*f->invflags |= r->hook == HOOK_PREROUTING ? IPT_INV_VIA_IN : IPT_INV_VIA_OUT;
	if (r->has_ifname) {
		if (r->hook == HOOK_PREROUTING)
			put_iface(&r->ifname, f->iniface, f->iniface_mask);
		else
			put_iface(&r->ifname, f->outiface, f->outiface_mask);
	}
	if (v->peer)
		put_addr(v->peer, r->peer_field == FIELD_SOURCE ? f->src : f->dst,
			 r->peer_field == FIELD_SOURCE ? f->smsk : f->dmsk, f->addr_len);
	if (v->local)
		put_addr(v->local, r->local_field == FIELD_SOURCE ? f->src : f->dst,
			 r->local_field == FIELD_SOURCE ? f->smsk : f->dmsk, f->addr_len);
}

static void ip4_header(struct ipt_ip *ip, const struct iptables_variant *v)
{
	const struct ip_fields f = {ip->iniface, ip->outiface, ip->iniface_mask, ip->outiface_mask,
				    &ip->src,	 &ip->dst,     &ip->smsk,	 &ip->dmsk,
				    4,		 &ip->invflags};

	put_ip(&f, v);
	ip->proto = v->rule->icmp_error ? IPPROTO_ICMP : v->rule->proto;
}

static void ip6_header(struct ip6t_ip6 *ip, const struct iptables_variant *v)
{
	const struct ip_fields f = {ip->iniface, ip->outiface, ip->iniface_mask, ip->outiface_mask,
				    &ip->src,	 &ip->dst,     &ip->smsk,	 &ip->dmsk,
				    16,		 &ip->invflags};

	put_ip(&f, v);
	/* unlike IPv4, ip6_tables looks at proto only when this flag says so */
	if (v->rule->proto || v->rule->icmp_error) {
		ip->proto = v->rule->icmp_error ? IPPROTO_ICMPV6 : v->rule->proto;
		ip->flags |= IP6T_F_PROTO;
	}
}

/* ------------------------------------------------------------------ */
/* rules                                                                */

/* multiport holds up to 15 slots; a range takes two, flagged in pflags,
 * and ports are in host byte order. */
static void put_multiport(struct entry_buf *eb, const struct iptables_variant *v)
{
	struct xt_multiport_v1 *mp = eb_match(eb, "multiport", MULTIPORT_REV, sizeof(*mp));
	unsigned n = 0;

	mp->flags = v->rule->port_field == FIELD_SOURCE ? XT_MULTIPORT_SOURCE : XT_MULTIPORT_DESTINATION;
	for (size_t i = v->pstart; i < v->pstart + v->pcount; i++) {
		const struct port_range *p = &v->ports->ranges[i];
		mp->ports[n] = p->first;
		if (p->first != p->last) {
			mp->pflags[n++] = 1;
			mp->ports[n] = p->last;
		}
		n++;
	}
	mp->count = (uint8_t)n;
}

/* "-m addrtype --dst-type LOCAL", or "-m tcp --tcp-flags ACK ACK" (TCP)
 * and "-m socket": emit_iptables prints the same, in the same order. */
static void put_scope(struct entry_buf *eb, const struct rule *r)
{
	if (r->scope == SCOPE_LOCAL_DEST) {
		struct xt_addrtype_info_v1 *at = eb_match(eb, "addrtype", ADDRTYPE_REV, sizeof(*at));
		at->dest = XT_ADDRTYPE_LOCAL;
	} else if (r->scope == SCOPE_OWN_SOCKET) {
		if (r->proto == IPPROTO_TCP && !r->icmp_error) {
			struct xt_tcp *tcp = eb_match(eb, "tcp", TCP_REV, sizeof(*tcp));
			tcp->spts[1] = tcp->dpts[1] = 0xffff;
			tcp->flg_mask = tcp->flg_cmp = 0x10; /* ACK */
		}
		/* no flags: without XT_SOCKET_NOWILDCARD the kernel ignores
		 * sockets bound to 0.0.0.0 or :: */
		eb_match(eb, "socket", SOCKET_REV, sizeof(struct xt_socket_mtinfo3));
	}
}

struct build_ctx {
	unsigned family;
	const char *chain;
	struct ipt_rule_list *out;
	const struct rule *commented; /* whose comment `comment` holds: every variant of a rule shares it */
	char comment[128];
};

static int build_variant(const struct ruleset *rs, const struct iptables_variant *v, void *data)
{
	struct build_ctx *ctx = data;
	struct entry_buf eb;
	struct ipt_rule *added;

	eb_init(&eb, ctx->family);
	if (ctx->family == FAMILY_IPV4)
		ip4_header(&((struct ipt_entry *)eb.b)->ip, v);
	else
		ip6_header(&((struct ip6t_entry *)eb.b)->ipv6, v);
	if (v->rule->icmp_error)
		iptables_icmp_u32(v, eb_match(&eb, "u32", U32_REV, sizeof(struct xt_u32)));
	else if (v->ports)
		put_multiport(&eb, v);
	put_scope(&eb, v->rule);
	if (ctx->commented != v->rule) {
		rule_comment(rs, v->rule, ctx->comment, sizeof(ctx->comment));
		ctx->commented = v->rule;
	}
	eb_comment(&eb, ctx->comment);
	if (v->rule->verdict == VERDICT_NOTRACK) {
		struct xt_ct_target_info_v1 *ct = eb_target(&eb, "CT", CT_REV, sizeof(*ct));
		ct->flags = XT_CT_NOTRACK;
	} else {
		eb_standard(&eb, "RETURN");
	}
	added = ipt_rule_list_add(ctx->out, ctx->family, ctx->chain, (unsigned)ctx->out->n + 1, eb_take(&eb), NULL);
	if (!added)
		return -ENOMEM;
	added->rs = rs;
	added->v = *v;
	return 0;
}

int ipt_build_chain_rules(const struct ruleset *rs, unsigned family, enum hook h, const char *chain,
			  struct ipt_rule_list *out)
{
	struct build_ctx ctx = {.family = family, .chain = chain, .out = out};
	int r = 0;

	for (size_t i = 0; r == 0 && i < rs->n_chain[h]; i++)
		if (rs->chain[h][i]->family & family)
			r = iptables_for_each_variant(rs, rs->chain[h][i], build_variant, &ctx);
	return r;
}

void *ipt_build_jump(unsigned family, const char *tag, const char *chain)
{
	struct entry_buf eb;

	eb_init(&eb, family);
	eb_comment(&eb, tag);
	eb_standard(&eb, chain);
	return eb_take(&eb);
}

void *ipt_build_accept(unsigned family, const char *tag)
{
	struct xt_conntrack_mtinfo3 *ct;
	struct entry_buf eb;

	eb_init(&eb, family);
	ct = eb_match(&eb, "conntrack", CONNTRACK_REV, sizeof(*ct));
	ct->match_flags = XT_CONNTRACK_STATE;
	ct->state_mask = XT_CONNTRACK_STATE_UNTRACKED;
	eb_comment(&eb, tag);
	eb_standard(&eb, "ACCEPT");
	return eb_take(&eb);
}

/* ------------------------------------------------------------------ */
/* reading entries                                                      */

size_t ipt_entry_size(unsigned family, const void *e)
{
	return *ENTRY_FIELD(family, (void *)e, next_offset);
}

const void *ipt_entry_counters(unsigned family, const void *e, uint64_t *packets, uint64_t *bytes)
{
	const struct xt_counters *c = ENTRY_FIELD(family, (void *)e, counters);

	*packets = c->pcnt;
	*bytes = c->bcnt;
	return c;
}

/* Calls fn for each match in order, then returns the target. */
static const struct xt_entry_target *walk(unsigned family, const void *e,
					  void (*fn)(const struct xt_entry_match *m, void *ctx), void *ctx)
{
	const unsigned char *base = e;
	size_t off = header_size(family), target = *ENTRY_FIELD(family, (void *)e, target_offset);

	while (off < target) {
		const struct xt_entry_match *m = (const void *)(base + off);
		if (m->u.match_size < sizeof(*m))
			break; /* malformed: never loop forever */
		if (fn)
			fn(m, ctx);
		off += m->u.match_size;
	}
	return (const void *)(base + target);
}

static void find_comment(const struct xt_entry_match *m, void *ctx)
{
	const char **c = ctx;

	if (!*c && !strcmp(m->u.user.name, "comment") &&
	    m->u.match_size >= XT_ALIGN(sizeof(*m)) + sizeof(struct xt_comment_info))
		*c = ((const struct xt_comment_info *)m->data)->comment;
}

const char *ipt_entry_comment(unsigned family, const void *e)
{
	const char *c = NULL;

	walk(family, e, find_comment, &c);
	/* the kernel does not insist on the NUL; we only trust a terminated one */
	return c && memchr(c, '\0', XT_MAX_COMMENT_LEN) ? c : NULL;
}

const char *ipt_entry_target_name(unsigned family, const void *e)
{
	return walk(family, e, NULL, NULL)->u.user.name;
}

void *ipt_entry_normalise(unsigned family, const void *e, const char *label)
{
	size_t size = ipt_entry_size(family, e);
	unsigned char *copy = malloc(size);
	struct xt_entry_target *t;

	if (!copy)
		return NULL;
	memcpy(copy, e, size);
	memset(ENTRY_FIELD(family, copy, counters), 0, sizeof(struct xt_counters));
	*ENTRY_FIELD(family, copy, comefrom) = 0;
	*ENTRY_FIELD(family, copy, nfcache) = 0;
	t = (struct xt_entry_target *)(void *)walk(family, copy, NULL, NULL);
	if (label && t->u.user.name[0] == '\0' && t->u.target_size >= sizeof(struct xt_standard_target)) {
		memset(t->u.user.name, 0, sizeof(t->u.user.name));
		snprintf(t->u.user.name, sizeof(t->u.user.name), "%s", label);
		((struct xt_standard_target *)t)->verdict = 0;
	}
	return copy;
}

/* How many bytes of an extension's info userspace owns; the rest belongs to
 * the kernel (CT keeps a pointer to its template conntrack there). */
static size_t user_size(const char *name, uint8_t rev, size_t size)
{
	if (!strcmp(name, "CT"))
		return rev == 0 ? offsetof(struct xt_ct_target_info, ct) : offsetof(struct xt_ct_target_info_v1, ct);
	return size;
}

/* The ip header bytes userspace owns: up to invflags, as the padding after
 * it is not ours to compare. */
static size_t header_user_size(unsigned family)
{
	return family == FAMILY_IPV4 ? offsetof(struct ipt_ip, invflags) + 1 : offsetof(struct ip6t_ip6, invflags) + 1;
}

/* What identifies a match or the target besides its info bytes.  The name
 * has room for a label too: libiptc allows chain names longer than an
 * extension's. */
struct ext_id {
	char kind; /* 'm' or 't' */
	uint8_t revision;
	uint16_t size;
	char name[XT_TABLE_MAXNAMELEN];
};

static void ext_id(struct ext_id *id, char kind, const char *name, size_t name_max, uint8_t rev, uint16_t size)
{
	memset(id, 0, sizeof(*id));
	id->kind = kind;
	id->revision = rev;
	id->size = size;
	memcpy(id->name, name, strnlen(name, name_max < sizeof(id->name) ? name_max : sizeof(id->name) - 1));
}

/* The info bytes of a match or target that userspace owns. */
static size_t info_user_size(const char *name, uint8_t rev, size_t total, size_t header)
{
	size_t n = total > header ? total - header : 0, u = user_size(name, rev, n);

	return u < n ? u : n;
}

static void key_match(const struct xt_entry_match *m, void *ctx)
{
	uint64_t *h = ctx;
	struct ext_id id;

	ext_id(&id, 'm', m->u.user.name, sizeof(m->u.user.name), m->u.user.revision, m->u.match_size);
	*h = hash_mix(*h, &id, sizeof(id));
	*h = hash_mix(*h, m->data, info_user_size(id.name, id.revision, m->u.match_size, XT_ALIGN(sizeof(*m))));
}

/* The target as ipt_entry_normalise() would have it: a standard target
 * that libiptc handed out with an empty name and the kernel's offset
 * reads as its label with a zero verdict. */
struct target_view {
	struct ext_id id;
	const unsigned char *data;
	size_t n;
	unsigned char buf[sizeof(struct xt_standard_target)];
};

static void target_view(unsigned family, const void *e, const char *label, struct target_view *v)
{
	const struct xt_entry_target *t = walk(family, e, NULL, NULL);
	size_t header = XT_ALIGN(sizeof(*t));

	v->n = info_user_size(t->u.user.name, t->u.user.revision, t->u.target_size, header);
	v->data = t->data;
	if (label && t->u.user.name[0] == '\0' && t->u.target_size >= sizeof(struct xt_standard_target)) {
		ext_id(&v->id, 't', label, strlen(label), t->u.user.revision, t->u.target_size);
		v->n = v->n < sizeof(v->buf) ? v->n : sizeof(v->buf);
		memcpy(v->buf, t->data, v->n);
		memset(v->buf, 0, sizeof(int));
		v->data = v->buf;
		return;
	}
	ext_id(&v->id, 't', t->u.user.name, sizeof(t->u.user.name), t->u.user.revision, t->u.target_size);
}

uint64_t ipt_entry_key(unsigned family, const void *e, const char *label)
{
	uint64_t h = hash64(e, header_user_size(family));
	struct target_view t;

	walk(family, e, key_match, &h);
	target_view(family, e, label, &t);
	h = hash_mix(h, &t.id, sizeof(t.id));
	return hash_mix(h, t.data, t.n);
}

static bool same_match(const struct xt_entry_match *a, const struct xt_entry_match *b)
{
	struct ext_id ia, ib;

	ext_id(&ia, 'm', a->u.user.name, sizeof(a->u.user.name), a->u.user.revision, a->u.match_size);
	ext_id(&ib, 'm', b->u.user.name, sizeof(b->u.user.name), b->u.user.revision, b->u.match_size);
	return !memcmp(&ia, &ib, sizeof(ia)) &&
	       !memcmp(a->data, b->data, info_user_size(ia.name, ia.revision, ia.size, XT_ALIGN(sizeof(*a))));
}

bool ipt_entry_same(unsigned family, const void *a, const char *label_a, const void *b, const char *label_b)
{
	const unsigned char *pa = a, *pb = b;
	size_t oa = header_size(family), ob = oa, ta = *ENTRY_FIELD(family, (void *)a, target_offset),
	       tb = *ENTRY_FIELD(family, (void *)b, target_offset);
	struct target_view va, vb;

	if (memcmp(a, b, header_user_size(family)))
		return false;
	for (;;) {
		const struct xt_entry_match *ma = (const void *)(pa + oa), *mb = (const void *)(pb + ob);
		bool end_a = oa >= ta, end_b = ob >= tb;
		if (end_a != end_b)
			return false;
		if (end_a)
			break;
		if (ma->u.match_size < sizeof(*ma) || mb->u.match_size < sizeof(*mb))
			return false; /* malformed: never loop forever */
		if (!same_match(ma, mb))
			return false;
		oa += ma->u.match_size;
		ob += mb->u.match_size;
	}
	target_view(family, a, label_a, &va);
	target_view(family, b, label_b, &vb);
	return !memcmp(&va.id, &vb.id, sizeof(va.id)) && va.n == vb.n && !memcmp(va.data, vb.data, va.n);
}

/* ------------------------------------------------------------------ */

void ipt_rule_list_free(struct ipt_rule_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		if (!l->v[i].borrowed)
			free(l->v[i].e);
		free(l->v[i].text);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static struct ipt_rule *rule_list_append(struct ipt_rule_list *l)
{
	/* grows by doubling when n reaches a power of two */
	if (!l->n || !(l->n & (l->n - 1))) {
		struct ipt_rule *v = realloc(l->v, (l->n ? l->n * 2 : 8) * sizeof(*v));
		if (!v)
			return NULL;
		l->v = v;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	return &l->v[l->n++];
}

struct ipt_rule *ipt_rule_list_borrow(struct ipt_rule_list *l, unsigned family, const char *chain, unsigned pos,
				      const void *e, const char *label)
{
	struct ipt_rule *r = rule_list_append(l);

	if (!r)
		return NULL;
	memcpy(r->chain, chain, strnlen(chain, sizeof(r->chain) - 1));
	r->family = family;
	r->pos = pos;
	r->e = (void *)e;
	r->borrowed = true;
	r->label = label;
	r->key = ipt_entry_key(family, e, label);
	return r;
}

struct ipt_rule *ipt_rule_list_add(struct ipt_rule_list *l, unsigned family, const char *chain, unsigned pos, void *e,
				   char *text)
{
	struct ipt_rule *r = NULL;

	if (!e)
		goto fail;
	r = rule_list_append(l);
	if (!r)
		goto fail;
	memcpy(r->chain, chain, strnlen(chain, sizeof(r->chain) - 1));
	r->family = family;
	r->pos = pos;
	r->e = e;
	r->key = ipt_entry_key(family, e, NULL);
	r->text = text;
	return r;
fail:
	free(e);
	free(text);
	return NULL;
}

const char *ipt_rule_text(struct ipt_rule *r)
{
	struct strbuf text;

	if (r->text)
		return r->text;
	strbuf_init(&text);
	if (r->rs) {
		iptables_variant_text(r->rs, &r->v, r->chain, &text);
	} else {
		const char *comment = ipt_entry_comment(r->family, r->e);
		strbuf_printf(&text, "comment \"%s\" -j %s", comment ? comment : "", ipt_rule_target(r));
	}
	if (text.oom) {
		strbuf_free(&text);
		return "?";
	}
	r->text = strbuf_take(&text);
	return r->text ? r->text : "";
}

bool ipt_rule_same(const struct ipt_rule *a, const struct ipt_rule *b)
{
	return a->key == b->key && a->family == b->family && ipt_entry_same(a->family, a->e, a->label, b->e, b->label);
}

const char *ipt_rule_target(const struct ipt_rule *r)
{
	const char *name = ipt_entry_target_name(r->family, r->e);

	return !name[0] && r->label ? r->label : name;
}
