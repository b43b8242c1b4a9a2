/*
 * The iptables lowering (ipt_lower.h): IR rules → iptables rules.  iptables
 * has no sets without ipset, so ports go into multiport lists of at most 15
 * slots and each address gets a rule of its own.
 */
#include <ctype.h>
#include <errno.h>
#include <linux/netfilter/xt_u32.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "emit/emit.h"
#include "emit/ipt_lower.h"

void iptables_chain_name_for(const char *table, enum hook h, char *buf, size_t size)
{
	size_t n = 0;

	for (const char *c = table; *c && n + 1 < size; c++)
		buf[n++] = (char)toupper((unsigned char)*c);
	buf[n] = '\0';
	snprintf(buf + n, size - n, "%s", h == HOOK_PREROUTING ? "-PRE" : "-OUT");
}

void iptables_chain_name(const struct ruleset *rs, enum hook h, char *buf, size_t size)
{
	iptables_chain_name_for(rs->table, h, buf, size);
}

const char *const iptables_raw_builtin[2] = {"PREROUTING", "OUTPUT"};

void iptables_jump_text(struct strbuf *out, const char *builtin, const char *tag, const char *chain)
{
	strbuf_printf(out, "-I %s 1 -m comment --comment \"%s\" -j %s", builtin, tag, chain);
}

void iptables_accept_text(struct strbuf *out, const char *chain, const char *tag)
{
	strbuf_printf(out, "-I %s 1 -m conntrack --ctstate UNTRACKED -m comment --comment \"%s\" -j ACCEPT", chain,
		      tag);
}

size_t iptables_auto_accept_chains(const struct ruleset *rs, const char *chains[3])
{
	static const char *const names[] = {"INPUT", "FORWARD", "OUTPUT"};
	static const unsigned hooks[] = {ACCEPT_HOOK_INPUT, ACCEPT_HOOK_FORWARD, ACCEPT_HOOK_OUTPUT};
	size_t n = 0;

	for (size_t i = 0; i < 3; i++)
		if (rs->accept_hooks & hooks[i])
			chains[n++] = names[i];
	return n;
}

/* Returns how many ranges from `start` fit into one multiport match. */
static size_t multiport_chunk(const struct port_set *s, size_t start)
{
	size_t slots = 0, i = start;

	while (i < s->n) {
		size_t need = s->ranges[i].first == s->ranges[i].last ? 1 : 2;
		if (slots + need > MULTIPORT_MAX_SLOTS)
			break;
		slots += need;
		i++;
	}
	return i - start;
}

/* How many of the ranges from `start` one rule of r holds: a multiport
 * match, or the values of one u32 test for an ICMP error rule. */
static size_t port_chunk(const struct rule *r, const struct port_set *s, size_t start)
{
	if (r->icmp_error)
		return s->n - start < U32_MAX_VALUES ? s->n - start : U32_MAX_VALUES;
	return multiport_chunk(s, start);
}

size_t iptables_port_lists(const struct rule *r, const struct port_set *s)
{
	size_t lists = 0;

	for (size_t start = 0; start < s->n; start += port_chunk(r, s, start))
		lists++;
	return lists;
}

int iptables_for_each_variant(const struct ruleset *rs, const struct rule *r, iptables_variant_fn fn, void *ctx)
{
	const struct addr_set *peers = r->peer_set >= 0 ? &rs->addr_sets[r->peer_set] : NULL;
	const struct addr_set *locals = r->local_set >= 0 ? &rs->addr_sets[r->local_set] : NULL;
	const struct port_set *ps = r->port_set >= 0 ? &rs->port_sets[r->port_set] : NULL;
	size_t np = peers ? peers->n : 1, nl = locals ? locals->n : 1;
	int ret = 0;

	for (size_t pi = 0; ret == 0 && pi < np; pi++) {
		for (size_t li = 0; ret == 0 && li < nl; li++) {
			struct iptables_variant v = {
			    .rule = r,
			    .peer = peers ? &peers->cidrs[pi] : NULL,
			    .local = locals ? &locals->cidrs[li] : NULL,
			    .ports = ps,
			};
			if (!ps) {
				ret = fn(rs, &v, ctx);
				continue;
			}
			for (v.pstart = 0; ret == 0 && v.pstart < ps->n; v.pstart += v.pcount) {
				v.pcount = port_chunk(r, ps, v.pstart);
				ret = fn(rs, &v, ctx);
			}
		}
	}
	return ret;
}

/* One u32 test: a location (a list of numbers joined by operators) and the values. */
static struct xt_u32_test *u32_test(struct xt_u32 *u, const uint32_t *nums, const uint8_t *ops, size_t n)
{
	struct xt_u32_test *t = &u->tests[u->ntests++];

	for (size_t i = 0; i < n; i++) {
		t->location[i].number = nums[i];
		t->location[i].nextop = ops[i];
	}
	t->nnums = (uint8_t)n;
	return t;
}

static void u32_value(struct xt_u32_test *t, uint32_t min, uint32_t max)
{
	t->value[t->nvalues].min = min;
	t->value[t->nvalues++].max = max;
}

/*
 * u32 reads 32-bit words: a location starts with an offset from the
 * network header, shifts and masks the word it reads, and "@" moves to the
 * offset held in the value so far.  IPv4: "0>>22&0x3c" is the header length,
 * so "0>>22&0x3c@N" reads the word N bytes into the ICMP header.  IPv6 has
 * a fixed header: the outer next header must be ICMPv6 itself (byte 6),
 * with no extension headers, so the ICMPv6 header is at 40.
 */
void iptables_icmp_u32(const struct iptables_variant *v, struct xt_u32 *u)
{
	const struct rule *r = v->rule;
	bool v4 = r->family == FAMILY_IPV4;
	/* a word at offset `at` of the ICMP header, shifted right and masked */
	uint32_t at_nums[5] = {0, 22, 0x3c, 0, 0};
	const uint8_t at_ops[5] = {0, XT_U32_RIGHTSH, XT_U32_AND, XT_U32_AT, XT_U32_RIGHTSH};
	const uint8_t and_ops[6] = {0, XT_U32_RIGHTSH, XT_U32_AND, XT_U32_AT, XT_U32_RIGHTSH, XT_U32_AND};
	const uint8_t v6_ops[3] = {0, XT_U32_RIGHTSH, XT_U32_AND};
	struct xt_u32_test *t;
	size_t n;
	const unsigned char *types = icmp_error_types_of(r->family, &n);

	memset(u, 0, sizeof(*u));
	if (v4) {
		t = u32_test(u, (uint32_t[]){0, 22, 0x3c, 0, 24}, at_ops, 5);
	} else {
		t = u32_test(u, (uint32_t[]){4, 8, 0xff}, v6_ops, 3);
		u32_value(t, IPPROTO_ICMPV6, IPPROTO_ICMPV6);
		t = u32_test(u, (uint32_t[]){40, 24}, v6_ops, 2);
	}
	/* the error types, adjacent ones as one range */
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		while (j + 1 < n && types[j + 1] == types[j] + 1)
			j++;
		u32_value(t, types[i], types[j]);
		i = j;
	}
	if (v4) {
		at_nums[3] = ICMP_INNER_VERSION_IHL, at_nums[4] = 24;
		t = u32_test(u, at_nums, at_ops, 5);
		u32_value(t, ICMP_INNER_IPV4_NO_OPTIONS, ICMP_INNER_IPV4_NO_OPTIONS);
	}
	if (r->proto) {
		/* the byte before the protocol (TTL, payload length) comes with it */
		if (v4)
			t = u32_test(u, (uint32_t[]){0, 22, 0x3c, ICMP_INNER_PROTO - 1, 16, 0xff}, and_ops, 6);
		else
			t = u32_test(u, (uint32_t[]){40 + ICMPV6_INNER_NEXTHDR - 2, 8, 0xff}, v6_ops, 3);
		u32_value(t, r->proto, r->proto);
	}
	if (v->ports) {
		unsigned off = (v4 ? ICMP_INNER_L4 : 40 + ICMPV6_INNER_L4);
		/* one word holds both ports: the source port is its high half */
		if (v4 && r->port_field == FIELD_SOURCE)
			t = u32_test(u, (uint32_t[]){0, 22, 0x3c, off, 16}, at_ops, 5);
		else if (v4)
			t = u32_test(u, (uint32_t[]){0, 22, 0x3c, off, 0xffff},
				     (const uint8_t[]){0, XT_U32_RIGHTSH, XT_U32_AND, XT_U32_AT, XT_U32_AND}, 5);
		else if (r->port_field == FIELD_SOURCE)
			t = u32_test(u, (uint32_t[]){off, 16}, v6_ops, 2);
		else
			t = u32_test(u, (uint32_t[]){off, 0xffff}, (const uint8_t[]){0, XT_U32_AND}, 2);
		for (size_t i = v->pstart; i < v->pstart + v->pcount; i++)
			u32_value(t, v->ports->ranges[i].first, v->ports->ranges[i].last);
	}
}

static void put_u32(struct strbuf *out, const struct xt_u32 *u)
{
	static const char *const ops[] = {
	    [XT_U32_AND] = "&", [XT_U32_LEFTSH] = "<<", [XT_U32_RIGHTSH] = ">>", [XT_U32_AT] = "@"};

	/* in hex, as iptables-save prints it, so the two read the same */
	strbuf_puts(out, " -m u32 --u32 \"");
	for (size_t i = 0; i < u->ntests; i++) {
		const struct xt_u32_test *t = &u->tests[i];
		strbuf_puts(out, i ? "&&" : "");
		for (size_t k = 0; k < t->nnums; k++)
			strbuf_printf(out, "%s0x%x", k ? ops[t->location[k].nextop] : "", t->location[k].number);
		strbuf_putc(out, '=');
		for (size_t k = 0; k < t->nvalues; k++) {
			if (t->value[k].min == t->value[k].max)
				strbuf_printf(out, "%s0x%x", k ? "," : "", t->value[k].min);
			else
				strbuf_printf(out, "%s0x%x:0x%x", k ? "," : "", t->value[k].min, t->value[k].max);
		}
	}
	strbuf_putc(out, '"');
}

/* An address as iptables-save writes it, with its prefix length even for a
 * single host ("::1/128"), so that what compile prints is what the kernel
 * reads back. */
static void put_addr(struct strbuf *out, const char *flag, const struct cidr *c)
{
	char buf[64];

	cidr_format(c, buf, sizeof(buf));
	strbuf_printf(out, " %s %s", flag, buf);
	if (!strchr(buf, '/'))
		strbuf_printf(out, "/%u", (unsigned)c->prefix);
}

void iptables_variant_text(const struct ruleset *rs, const struct iptables_variant *v, const char *chain,
			   struct strbuf *out)
{
	const struct rule *r = v->rule;
	char comment[128];
	bool in = r->hook == HOOK_PREROUTING;

	strbuf_printf(out, "-A %s", chain);
	if (r->has_ifname && !r->ifname_invert)
		strbuf_printf(out, " %s %s%s", in ? "-i" : "-o", r->ifname.name, r->ifname.wildcard ? "+" : "");
	if (v->peer)
		put_addr(out, r->peer_field == FIELD_SOURCE ? "-s" : "-d", v->peer);
	if (v->local)
		put_addr(out, r->local_field == FIELD_SOURCE ? "-s" : "-d", v->local);
	if (r->has_ifname && r->ifname_invert)
		strbuf_printf(out, " ! %s %s%s", in ? "-i" : "-o", r->ifname.name, r->ifname.wildcard ? "+" : "");
	if (r->icmp_error) {
		struct xt_u32 u;
		strbuf_puts(out, r->family == FAMILY_IPV4 ? " -p icmp" : " -p ipv6-icmp");
		iptables_icmp_u32(v, &u);
		put_u32(out, &u);
	} else if (r->proto) {
		strbuf_printf(out, " -p %s", proto_name(r->proto));
	}
	if (v->ports && !r->icmp_error) {
		strbuf_printf(out, " -m multiport --%s ", r->port_field == FIELD_SOURCE ? "sports" : "dports");
		for (size_t i = v->pstart; i < v->pstart + v->pcount; i++) {
			const struct port_range *p = &v->ports->ranges[i];
			if (p->first == p->last)
				strbuf_printf(out, "%s%u", i == v->pstart ? "" : ",", p->first);
			else
				strbuf_printf(out, "%s%u:%u", i == v->pstart ? "" : ",", p->first, p->last);
		}
	}
	/* the lookups after the cheap matches: see put_scope in emit_nft.c.
	 * xt_socket without --nowildcard ignores sockets bound to 0.0.0.0 or
	 * ::, like nft's "socket wildcard 0". */
	if (r->scope == SCOPE_LOCAL_DEST)
		strbuf_puts(out, " -m addrtype --dst-type LOCAL");
	else if (r->scope == SCOPE_OWN_SOCKET)
		strbuf_puts(out, r->proto == IPPROTO_TCP && !r->icmp_error ? " -m tcp --tcp-flags ACK ACK -m socket"
									   : " -m socket");
	rule_comment(rs, r, comment, sizeof(comment));
	strbuf_printf(out, " -m comment --comment \"%s\" -j %s", comment,
		      r->verdict == VERDICT_NOTRACK ? "CT --notrack" : "RETURN");
}
