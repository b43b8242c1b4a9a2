#include "diagnostics/coverage.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* A rule matches, does not, or cannot be decided from the entry. */
enum tri {
	TRI_NO,
	TRI_YES,
	TRI_UNKNOWN,
};

/* The packet that created the entry, as the rules see it. */
struct flow {
	enum hook hook;
	const char *ifname; /* iif at prerouting, oif at output; NULL: unknown */
	bool not_lo;	    /* unknown, but certainly not lo */
	/* prerouting: whether it was addressed to this host (known only when
	 * the host's addresses are), else it was forwarded */
	bool to_local, to_local_known;
	/* prerouting: to 127.0.0.0/8 or ::1 from elsewhere (route_localnet):
	 * arrived on an interface other than lo, and no rule of ours untracks
	 * that */
	bool loopback_from_outside;
	unsigned family; /* FAMILY_IPV4 or FAMILY_IPV6 */
	const struct ct_entry *e;
};

static bool is_loopback(uint8_t family, const uint8_t *a)
{
	static const uint8_t v6_loopback[16] = {[15] = 1};

	if (family == AF_INET)
		return a[0] == 127;
	return !memcmp(a, v6_loopback, 16);
}

/* The interface holding a local address, or NULL if the address is not ours. */
static const char *local_ifname(const struct cov_host *h, uint8_t family, const uint8_t *a)
{
	unsigned f = family_from_af(family);

	if (is_loopback(family, a))
		return "lo";
	for (size_t i = 0; h && i < h->n; i++)
		if (h->addrs[i].family == f && !memcmp(h->addrs[i].addr, a, family_addr_len(f)))
			return h->addrs[i].ifname;
	return NULL;
}

static void flow_of(const struct cov_host *h, const struct ct_entry *e, struct flow *f)
{
	const char *dst_if = local_ifname(h, e->family, e->dst);

	memset(f, 0, sizeof(*f));
	f->e = e;
	f->family = e->family == AF_INET ? FAMILY_IPV4 : FAMILY_IPV6;
	if (local_ifname(h, e->family, e->src)) {
		f->hook = HOOK_OUTPUT;
		f->ifname = dst_if ? "lo" : NULL;
	} else {
		f->hook = HOOK_PREROUTING;
		f->ifname = dst_if;
		f->to_local = dst_if != NULL;
		f->to_local_known = h && h->n;
		if (is_loopback(e->family, e->dst)) {
			f->ifname = NULL;
			f->loopback_from_outside = true;
		}
	}
	/* lo carries only what this host sends to itself: a packet to a remote
	 * address leaves elsewhere, one from a remote source came in elsewhere */
	f->not_lo = !f->ifname;
}

static bool port_in(const struct port_set *s, uint16_t port)
{
	for (size_t i = 0; i < s->n; i++)
		if (port >= s->ranges[i].first && port <= s->ranges[i].last)
			return true;
	return false;
}

static bool cidr_contains(const struct cidr *c, const uint8_t *a)
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (memcmp(c->addr, a, full))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (c->addr[full] & mask) == (a[full] & mask);
}

static bool addr_in(const struct addr_set *s, unsigned family, const uint8_t *a)
{
	if (s->family != family)
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (cidr_contains(&s->cidrs[i], a))
			return true;
	return false;
}

static bool ifname_matches(const struct ifname *want, const char *have)
{
	if (want->wildcard)
		return !strncmp(want->name, have, strlen(want->name));
	return !strcmp(want->name, have);
}

static const uint8_t *field_addr(const struct flow *f, enum field which)
{
	return which == FIELD_SOURCE ? f->e->src : f->e->dst;
}

static enum tri match(const struct ruleset *rs, const struct rule *r, const struct flow *f)
{
	const struct ct_entry *e = f->e;

	if (!(r->family & f->family))
		return TRI_NO;
	/* services take only what is addressed to this host, upstream replies
	 * only this host's own sockets' (ruleset.h): neither a forwarded packet */
	if (f->hook == HOOK_PREROUTING && r->scope != SCOPE_ANY && f->to_local_known && !f->to_local)
		return TRI_NO;
	if (f->loopback_from_outside && r->verdict == VERDICT_NOTRACK)
		return TRI_NO;
	if (r->proto && r->proto != e->proto)
		return TRI_NO;
	if (r->port_set >= 0) {
		if (!e->has_ports)
			return TRI_NO;
		if (!port_in(&rs->port_sets[r->port_set], r->port_field == FIELD_SOURCE ? e->sport : e->dport))
			return TRI_NO;
	}
	if (r->peer_set >= 0 && !addr_in(&rs->addr_sets[r->peer_set], f->family, field_addr(f, r->peer_field)))
		return TRI_NO;
	if (r->local_set >= 0 && !addr_in(&rs->addr_sets[r->local_set], f->family, field_addr(f, r->local_field)))
		return TRI_NO;
	/* the interface last: any other mismatch decides the rule anyway */
	if (r->has_ifname) {
		if (!f->ifname)
			return f->not_lo && !r->ifname.wildcard && !strcmp(r->ifname.name, "lo") ? TRI_NO : TRI_UNKNOWN;
		if (!ifname_matches(&r->ifname, f->ifname))
			return TRI_NO;
	}
	return TRI_YES;
}

static enum cov_outcome outcome_of(enum verdict v)
{
	return v == VERDICT_NOTRACK ? COV_AVOIDED : COV_TRACKED;
}

struct cov_verdict coverage_eval(const struct ruleset *rs, const struct cov_host *host, const struct ct_entry *e)
{
	struct flow f;
	/* the verdicts of the undecidable rules met so far: if one of them
	 * matched, it would have decided instead */
	bool unknown[2] = {false, false};

	flow_of(host, e, &f);
	for (size_t i = 0; i < rs->n_rules; i++) {
		const struct rule *r = &rs->rules[i];
		if (r->hook != f.hook)
			continue;
		switch (match(rs, r, &f)) {
		case TRI_NO: break;
		case TRI_UNKNOWN: unknown[outcome_of(r->verdict)] = true; break;
		case TRI_YES: {
			enum cov_outcome o = outcome_of(r->verdict);
			if (unknown[o == COV_AVOIDED ? COV_TRACKED : COV_AVOIDED])
				return (struct cov_verdict){COV_UNDECIDABLE, -1};
			return (struct cov_verdict){o, (int)i};
		}
		}
	}
	/* the end of our chain: conntrack sees the packet */
	if (unknown[COV_AVOIDED])
		return (struct cov_verdict){COV_UNDECIDABLE, -1};
	return (struct cov_verdict){COV_TRACKED, -1};
}

int coverage_init(struct coverage *c, const struct ruleset *rs, const struct cov_host *host)
{
	memset(c, 0, sizeof(*c));
	c->rs = rs;
	c->host = host;
	c->by_rule = calloc(rs->n_rules ? rs->n_rules : 1, sizeof(*c->by_rule));
	return c->by_rule ? 0 : -ENOMEM;
}

void coverage_add(struct coverage *c, const struct ct_entry *e)
{
	struct cov_verdict v = coverage_eval(c->rs, c->host, e);

	c->total++;
	switch (v.outcome) {
	case COV_AVOIDED:
		c->avoided++;
		if (v.rule >= 0)
			c->by_rule[v.rule]++;
		break;
	case COV_TRACKED: c->tracked++; break;
	case COV_UNDECIDABLE: c->undecidable++; break;
	}
}

void coverage_free(struct coverage *c)
{
	free(c->by_rule);
	memset(c, 0, sizeof(*c));
}
