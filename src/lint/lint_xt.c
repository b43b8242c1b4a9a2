/*
 * The xt matches both iptables readers meet: iptables-nft's compat "match"
 * expressions (lint_nft.c) and legacy entries read through libiptc
 * (lint_ipt.c) carry the same structs.  Pure.
 */
#include "lint/lint_xt.h"

#include <errno.h>
#include <netinet/in.h> /* before the linux headers, which need in.h's types */
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_CT.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_multiport.h>
#include <linux/netfilter/xt_state.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void xt_words(struct lint_xt *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void xt_words(struct lint_xt *x, const char *fmt, ...)
{
	size_t len = strlen(x->words);
	va_list ap;

	if (len && len < sizeof(x->words) - 1)
		x->words[len++] = ' ';
	va_start(ap, fmt);
	vsnprintf(x->words + len, sizeof(x->words) - len, fmt, ap);
	va_end(ap);
}

void lint_ct_state_words(uint32_t m, char *buf, size_t size)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {{LINT_CT_INVALID, "invalid"},
		     {LINT_CT_ESTABLISHED, "established"},
		     {LINT_CT_RELATED, "related"},
		     {LINT_CT_NEW, "new"},
		     {LINT_CT_UNTRACKED, "untracked"}};
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (m & names[i].bit)
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s", len ? "," : "",
						names[i].name);
}

void lint_xt_set_state(struct lint_xt *x, uint32_t mask)
{
	char words[80];

	x->ct_state |= mask & LINT_CT_ALL;
	lint_ct_state_words(mask & LINT_CT_ALL, words, sizeof(words));
	xt_words(x, "ct state %s", words);
}

static int and_port_list(struct lint_xt *x, bool source, const struct lint_range *rg, size_t n, bool invert)
{
	struct lint_ranges set = {0};
	int e = lint_ranges_set(&set, rg, n, LINT_PORT_WIDTH);

	if (e == 0 && invert)
		e = lint_ranges_not(&set, LINT_PORT_WIDTH);
	if (e == 0)
		e = lint_sel_and_ports(x->sel, source, &set);
	lint_ranges_free(&set);
	return e;
}

static int xt_multiport(struct lint_xt *x, uint32_t rev, const uint8_t *info, uint32_t len)
{
	struct lint_range rg[XT_MULTI_PORTS] = {0};
	size_t n = 0;
	uint8_t flags, count;
	bool invert = false;

	if (rev == 0 && len >= sizeof(struct xt_multiport)) {
		const struct xt_multiport *m = (const void *)info;
		flags = m->flags;
		count = m->count > XT_MULTI_PORTS ? XT_MULTI_PORTS : m->count;
		for (uint8_t i = 0; i < count; i++)
			lint_range_port(&rg[n++], m->ports[i], m->ports[i]);
	} else if (rev >= 1 && len >= sizeof(struct xt_multiport_v1)) {
		const struct xt_multiport_v1 *m = (const void *)info;
		flags = m->flags;
		count = m->count > XT_MULTI_PORTS ? XT_MULTI_PORTS : m->count;
		invert = m->invert;
		/* pflags[i] set: ports[i] and ports[i+1] are a range */
		for (uint8_t i = 0; i < count; i++) {
			if (m->pflags[i] && i + 1 < count) {
				lint_range_port(&rg[n++], m->ports[i], m->ports[i + 1]);
				i++;
			} else {
				lint_range_port(&rg[n++], m->ports[i], m->ports[i]);
			}
		}
	} else {
		x->widened = true;
		return 0;
	}
	if (flags == XT_MULTIPORT_EITHER) {
		x->widened = true; /* source or destination: no single field to constrain */
		return 0;
	}
	return and_port_list(x, flags == XT_MULTIPORT_SOURCE, rg, n, invert);
}

static int xt_tcpudp(struct lint_xt *x, const char *name, const uint8_t *info, uint32_t len)
{
	const uint16_t *spts, *dpts;
	uint8_t inv;
	struct lint_range rg;
	int e;

	if (!strcmp(name, "tcp") && len >= sizeof(struct xt_tcp)) {
		const struct xt_tcp *t = (const void *)info;
		spts = t->spts, dpts = t->dpts, inv = t->invflags;
		lint_sel_and_proto(x->sel, IPPROTO_TCP);
	} else if (len >= sizeof(struct xt_udp)) {
		const struct xt_udp *u = (const void *)info;
		spts = u->spts, dpts = u->dpts, inv = u->invflags;
		lint_sel_and_proto(x->sel, IPPROTO_UDP);
	} else {
		x->widened = true;
		return 0;
	}
	/* -p tcp without ports stores 0-65535: any port, not a constraint */
	e = 0;
	if (spts[0] != 0 || spts[1] != 65535 || (inv & XT_TCP_INV_SRCPT)) {
		lint_range_port(&rg, spts[0], spts[1]);
		e = and_port_list(x, true, &rg, 1, inv & XT_TCP_INV_SRCPT);
	}
	if (e == 0 && (dpts[0] != 0 || dpts[1] != 65535 || (inv & XT_TCP_INV_DSTPT))) {
		lint_range_port(&rg, dpts[0], dpts[1]);
		e = and_port_list(x, false, &rg, 1, inv & XT_TCP_INV_DSTPT);
	}
	return e;
}

/* xt conntrack's state bits: like nft's, but untracked is bit 8 and bits 6
 * and 7 are SNAT and DNAT status. */
static uint32_t xt_conntrack_states(uint16_t m)
{
	return (m & 0x0f) | ((m & XT_CONNTRACK_STATE_UNTRACKED) ? LINT_CT_UNTRACKED : 0);
}

static void xt_conntrack(struct lint_xt *x, uint32_t rev, const uint8_t *info, uint32_t len)
{
	uint16_t flags, invflags, state;

	if (rev == 1 && len >= sizeof(struct xt_conntrack_mtinfo1)) {
		const struct xt_conntrack_mtinfo1 *m = (const void *)info;
		flags = m->match_flags, invflags = m->invert_flags, state = m->state_mask;
	} else if (rev == 2 && len >= sizeof(struct xt_conntrack_mtinfo2)) {
		const struct xt_conntrack_mtinfo2 *m = (const void *)info;
		flags = m->match_flags, invflags = m->invert_flags, state = m->state_mask;
	} else if (rev == 3 && len >= sizeof(struct xt_conntrack_mtinfo3)) {
		const struct xt_conntrack_mtinfo3 *m = (const void *)info;
		flags = m->match_flags, invflags = m->invert_flags, state = m->state_mask;
	} else {
		x->needs |= 1u << CT_NEED_OTHER;
		xt_words(x, "-m conntrack");
		return;
	}
	if ((flags & XT_CONNTRACK_STATE) && !(state & (XT_CONNTRACK_STATE_SNAT | XT_CONNTRACK_STATE_DNAT))) {
		uint32_t m = xt_conntrack_states(state);
		x->needs |= 1u << CT_NEED_STATE;
		lint_xt_set_state(x, (invflags & XT_CONNTRACK_STATE) ? ~m : m);
	} else if ((flags & XT_CONNTRACK_STATE) && (invflags & XT_CONNTRACK_STATE)) {
		/* ! --ctstate RELATED,ESTABLISHED,DNAT (KUBE-FIREWALL): a packet
		 * of a flow nobody NATed (a new or an untracked one) matches
		 * unless its state is named; only NATed flows differ, and those
		 * are what the NAT rules' own findings are about */
		x->needs |= 1u << CT_NEED_STATE;
		lint_xt_set_state(x, ~xt_conntrack_states(state));
		if (state & XT_CONNTRACK_STATE_SNAT)
			xt_words(x, "ct status != snat");
		if (state & XT_CONNTRACK_STATE_DNAT)
			xt_words(x, "ct status != dnat");
	} else if (flags & XT_CONNTRACK_STATE) {
		x->needs |= 1u << CT_NEED_OTHER;
		xt_words(x, "-m conntrack --ctstate SNAT/DNAT");
	}
	if (flags & ~(XT_CONNTRACK_STATE | XT_CONNTRACK_STATE_ALIAS)) {
		x->needs |= 1u << CT_NEED_OTHER;
		xt_words(x, "-m conntrack (status, tuple or expiry)");
	}
}

/* --src-type LOCAL (Docker's masquerade of the host's own connections into
 * a bridge): the rule sees only what this host sends.  --dst-type LOCAL
 * (Docker's and kube-proxy's jumps to their DNATs): only what is addressed
 * to this host, so a DNAT behind it never takes a packet routed to a
 * container's own address. */
static void xt_addrtype(struct lint_xt *x, uint32_t rev, const void *info, size_t len)
{
	if (rev == 1 && len >= sizeof(struct xt_addrtype_info_v1)) {
		const struct xt_addrtype_info_v1 *a = info;
		if (a->source == XT_ADDRTYPE_LOCAL && !(a->flags & XT_ADDRTYPE_INVERT_SOURCE)) {
			x->from_host = true;
			xt_words(x, "-m addrtype --src-type LOCAL");
		}
		if (a->dest == XT_ADDRTYPE_LOCAL && !(a->flags & XT_ADDRTYPE_INVERT_DEST))
			x->sel->to_host = true;
	}
}

int lint_xt_match(struct lint_xt *x, const char *name, uint32_t rev, const void *info, size_t len)
{
	int r = 0;

	if (!strcmp(name, "conntrack")) {
		xt_conntrack(x, rev, info, (uint32_t)len);
	} else if (!strcmp(name, "state") && len >= sizeof(struct xt_state_info)) {
		x->needs |= 1u << CT_NEED_STATE;
		lint_xt_set_state(x, ((const struct xt_state_info *)(const void *)info)->statemask);
	} else if (!strcmp(name, "connmark")) {
		x->needs |= 1u << CT_NEED_MARK;
		xt_words(x, "-m connmark");
	} else if (!strcmp(name, "helper")) {
		x->needs |= 1u << CT_NEED_HELPER;
		xt_words(x, "-m helper");
	} else if (!strcmp(name, "connbytes") || !strcmp(name, "connlabel") || !strcmp(name, "connlimit") ||
		   !strcmp(name, "cluster")) {
		x->needs |= 1u << CT_NEED_OTHER;
		xt_words(x, "-m %s", name);
	} else if (!strcmp(name, "multiport")) {
		r = xt_multiport(x, rev, info, (uint32_t)len);
	} else if (!strcmp(name, "tcp") || !strcmp(name, "udp")) {
		r = xt_tcpudp(x, name, info, (uint32_t)len);
	} else if (!strcmp(name, "limit") || !strcmp(name, "hashlimit") || !strcmp(name, "recent") ||
		   !strcmp(name, "statistic")) {
		/* statistic --mode random: kube-proxy's choice of endpoint, a share
		 * of the packets like a rate, not a property of them */
		x->limited = true;
	} else if (!strcmp(name, "addrtype")) {
		xt_addrtype(x, rev, info, len);
	} else if (strcmp(name, "comment")) {
		x->widened = true; /* mark, set, ...: left out */
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* targets                                                              */

void lint_xt_tg_init(struct lint_xt_tg *t)
{
	memset(t, 0, sizeof(*t));
	t->to_addr[family_index(FAMILY_IPV4)].any = t->to_addr[family_index(FAMILY_IPV6)].any = t->to_port.any = true;
}

void lint_xt_tg_free(struct lint_xt_tg *t)
{
	for (unsigned f = 0; f < FAMILY_SLOTS; f++)
		lint_ranges_free(&t->to_addr[f]);
	lint_ranges_free(&t->to_port);
}

static void tg_words(struct lint_xt_tg *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tg_words(struct lint_xt_tg *t, const char *fmt, ...)
{
	size_t len = strlen(t->words);
	va_list ap;

	if (len && len < sizeof(t->words) - 1)
		t->words[len++] = ' ';
	va_start(ap, fmt);
	vsnprintf(t->words + len, sizeof(t->words) - len, fmt, ap);
	va_end(ap);
}

int lint_nat_words(const char *verb, const struct lint_ranges to_addr[2], const struct lint_ranges *to_port,
		   struct strbuf *out)
{
	bool any = true;

	strbuf_puts(out, verb);
	for (unsigned f = 0; f < FAMILY_SLOTS; f++) {
		if (to_addr[f].any)
			continue;
		/* as nft writes it: an IPv6 address with a port goes in brackets */
		bool brackets = family_at(f) == FAMILY_IPV6 && !to_port->any;
		strbuf_puts(out, any ? " to " : ", ");
		strbuf_puts(out, brackets ? "[" : "");
		lint_ranges_format(&to_addr[f], family_addr_len(family_at(f)), out);
		strbuf_puts(out, brackets ? "]" : "");
		any = false;
	}
	if (!to_port->any) {
		strbuf_puts(out, any ? " to :" : ":");
		lint_ranges_format(to_port, LINT_PORT_WIDTH, out);
	}
	return out->oom ? -ENOMEM : 0;
}

/* The NAT range of an xt target: rev 0 is IPv4's multi-range compat struct,
 * rev 1 nf_nat_range, rev 2 nf_nat_range2 (its first fields are the same).
 * Addresses and ports are stored in network order, as the selectors keep them. */
static int xt_nat_range(struct lint_xt_tg *t, uint32_t rev, const uint8_t *info, size_t len, unsigned family)
{
	uint8_t amin[16] = {0}, amax[16] = {0}, pmin[2], pmax[2];
	unsigned af = family == FAMILY_IPV6 ? FAMILY_IPV6 : FAMILY_IPV4;
	unsigned flags, w = family_addr_len(af);
	struct lint_range rg;
	int e = 0;

	if (rev == 0 && family == FAMILY_IPV4 && len >= sizeof(struct nf_nat_ipv4_multi_range_compat)) {
		const struct nf_nat_ipv4_multi_range_compat *m = (const void *)info;
		flags = m->range[0].flags;
		memcpy(amin, &m->range[0].min_ip, 4);
		memcpy(amax, &m->range[0].max_ip, 4);
		memcpy(pmin, &m->range[0].min.all, 2);
		memcpy(pmax, &m->range[0].max.all, 2);
	} else if (len >= sizeof(struct nf_nat_range)) { /* ip6t REDIRECT rev 0 is one too */
		const struct nf_nat_range *m = (const void *)info;
		flags = m->flags;
		memcpy(amin, &m->min_addr, w);
		memcpy(amax, &m->max_addr, w);
		memcpy(pmin, &m->min_proto.all, 2);
		memcpy(pmax, &m->max_proto.all, 2);
	} else {
		return 0; /* not known: any */
	}
	if (flags & NF_NAT_RANGE_MAP_IPS) {
		memset(&rg, 0, sizeof(rg));
		memcpy(rg.lo, amin, w);
		memcpy(rg.hi, amax, w);
		e = lint_ranges_set(&t->to_addr[family_index(af)], &rg, 1, w);
	}
	if (e == 0 && (flags & NF_NAT_RANGE_PROTO_SPECIFIED)) {
		lint_range_port(&rg, (uint16_t)(pmin[0] << 8 | pmin[1]), (uint16_t)(pmax[0] << 8 | pmax[1]));
		e = lint_ranges_set(&t->to_port, &rg, 1, LINT_PORT_WIDTH);
	}
	/* A source NAT that picks the port at random (fully-random,
	 * kube-proxy's --random-fully) maps a flow to any port from 1024 up,
	 * never keeping the client's: its replies can arrive at any of them. */
	if (e == 0 && (flags & NF_NAT_RANGE_PROTO_RANDOM_FULLY) && t->to_port.any) {
		lint_range_port(&rg, 1024, 65535);
		t->nat_random = true;
		tg_words(t, "fully-random");
		e = lint_ranges_set(&t->to_port, &rg, 1, LINT_PORT_WIDTH);
	}
	return e;
}

static int xt_nat(struct lint_xt_tg *t, const char *name, uint32_t rev, const void *info, size_t len, unsigned family,
		  bool before_routing)
{
	enum ct_need n = !strcmp(name, "DNAT")	       ? CT_NEED_DNAT
			 : !strcmp(name, "SNAT")       ? CT_NEED_SNAT
			 : !strcmp(name, "REDIRECT")   ? CT_NEED_REDIRECT
			 : !strcmp(name, "MASQUERADE") ? CT_NEED_MASQUERADE
			 /* NETMAP rewrites the destination before routing, the source after */
			 : before_routing ? CT_NEED_DNAT
					  : CT_NEED_SNAT;
	_cleanup_strbuf_ struct strbuf sb = {0};
	int e = 0;

	t->needs |= 1u << n;
	if (info && strcmp(name, "NETMAP"))
		e = xt_nat_range(t, rev, info, len, family);
	if (n == CT_NEED_MASQUERADE || n == CT_NEED_REDIRECT) {
		/* the new address is the interface's or this host's: not a range we know */
		for (unsigned f = 0; f < FAMILY_SLOTS; f++) {
			lint_ranges_free(&t->to_addr[f]);
			t->to_addr[f].any = true;
		}
	}
	strbuf_init(&sb);
	if (e == 0)
		e = lint_nat_words(n == CT_NEED_DNAT	   ? "dnat"
				   : n == CT_NEED_SNAT	   ? "snat"
				   : n == CT_NEED_REDIRECT ? "redirect"
							   : "masquerade",
				   t->to_addr, &t->to_port, &sb);
	if (e == 0)
		tg_words(t, "%s", sb.data ? sb.data : "");
	return e;
}

int lint_xt_target(struct lint_xt_tg *t, const char *name, uint32_t rev, const void *info, size_t len, unsigned family,
		   bool before_routing)
{
	if (!strcmp(name, "DNAT") || !strcmp(name, "SNAT") || !strcmp(name, "MASQUERADE") ||
	    !strcmp(name, "REDIRECT") || !strcmp(name, "NETMAP"))
		return xt_nat(t, name, rev, info, len, family, before_routing);
	if (!strcmp(name, "CT") && info && len >= sizeof(struct xt_ct_target_info)) {
		/* xt_ct_target_info and its _v1 begin with the same fields */
		const struct xt_ct_target_info *ct = info;
		if (ct->flags & XT_CT_NOTRACK) {
			t->notrack = true;
		} else if (ct->helper[0]) {
			t->needs |= 1u << CT_NEED_HELPER;
			tg_words(t, "-j CT --helper %.16s", ct->helper);
		} else if (ct->zone) {
			t->needs |= 1u << CT_NEED_ZONE;
			tg_words(t, "-j CT --zone %u", ct->zone);
		} else {
			t->needs |= 1u << CT_NEED_OTHER;
			tg_words(t, "-j CT");
		}
	} else if (!strcmp(name, "NOTRACK")) {
		t->notrack = true;
	} else if (!strcmp(name, "CONNMARK")) {
		t->needs |= 1u << CT_NEED_MARK;
		tg_words(t, "-j CONNMARK");
	} else if (!strcmp(name, "CONNSECMARK")) {
		t->needs |= 1u << CT_NEED_OTHER;
		tg_words(t, "-j CONNSECMARK");
	} else if (!strcmp(name, "REJECT")) {
		t->reject = true;
		tg_words(t, "reject");
	}
	return 0;
}
