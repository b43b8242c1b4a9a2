/*
 * The analyser: pure, no sockets, no files.  See lint.h for the packet paths
 * it follows.
 */
#include "lint/lint.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* the input                                                            */

static void *grow_array(void *p, size_t n, size_t size)
{
	/* doubles when n reaches a power of two */
	if (n && (n & (n - 1)))
		return p;
	return realloc(p, (n ? n * 2 : 8) * size);
}

/* Appends one zeroed element to *arr (of *n) and returns it, or NULL. */
static void *push(void *arr, size_t *n, size_t size)
{
	void **slot = arr, *p = grow_array(*slot, *n, size);

	if (!p)
		return NULL;
	*slot = p;
	p = (char *)p + (*n)++ * size;
	memset(p, 0, size);
	return p;
}

static int add_line(char ***lines, size_t *n, const char *fmt, va_list ap)
{
	char **p = grow_array(*lines, *n, sizeof(**lines));

	if (!p)
		return -ENOMEM;
	*lines = p;
	if (vasprintf(&p[*n], fmt, ap) < 0)
		return -ENOMEM;
	(*n)++;
	return 0;
}

int lint_input_add_note(struct lint_input *in, const char *fmt, ...)
{
	va_list ap;
	int r;

	for (size_t i = 0; i < in->n_notes; i++) {
		/* the same note for many rules is said once */
		char *probe;
		va_start(ap, fmt);
		r = vasprintf(&probe, fmt, ap);
		va_end(ap);
		if (r < 0)
			return -ENOMEM;
		r = strcmp(probe, in->notes[i]);
		free(probe);
		if (r == 0)
			return 0;
	}
	va_start(ap, fmt);
	r = add_line(&in->notes, &in->n_notes, fmt, ap);
	va_end(ap);
	return r;
}

int lint_report_add_note(struct lint_report *rep, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = add_line(&rep->notes, &rep->n_notes, fmt, ap);
	va_end(ap);
	return r;
}

struct ct_user *lint_input_add_user(struct lint_input *in)
{
	struct ct_user *u = push(&in->users, &in->n_users, sizeof(*u));

	if (!u)
		return NULL;
	lint_sel_init(&u->sel, FAMILY_BOTH);
	u->to_addr[LINT_AF4].any = u->to_addr[LINT_AF6].any = u->to_port.any = true;
	u->chain_index = -1;
	return u;
}

struct lint_chain *lint_input_add_chain(struct lint_input *in)
{
	return push(&in->chains, &in->n_chains, sizeof(struct lint_chain));
}

struct lint_notrack *lint_input_add_notrack(struct lint_input *in)
{
	struct lint_notrack *n = push(&in->notracks, &in->n_notracks, sizeof(*n));

	if (n)
		lint_sel_init(&n->sel, FAMILY_BOTH);
	return n;
}

int lint_input_take_notracks(struct lint_input *dst, struct lint_input *src)
{
	for (size_t i = 0; i < src->n_notracks; i++) {
		struct lint_notrack *n = push(&dst->notracks, &dst->n_notracks, sizeof(*n));
		if (!n)
			return -ENOMEM;
		*n = src->notracks[i]; /* the selector's ranges move with it */
		memset(&src->notracks[i].sel, 0, sizeof(src->notracks[i].sel));
	}
	src->n_notracks = 0;
	return 0;
}

int lint_chain_add_rule(struct lint_chain *c, enum lint_verdict v, const struct lint_sel *sel, const char *rule)
{
	struct lint_vrule *vr = push(&c->rules, &c->n_rules, sizeof(*vr));

	if (!vr)
		return -ENOMEM;
	vr->verdict = v;
	snprintf(vr->rule, sizeof(vr->rule), "%s", rule);
	if (lint_sel_copy(&vr->sel, sel) < 0) {
		c->n_rules--;
		return -ENOMEM;
	}
	return 0;
}

void lint_input_free(struct lint_input *in)
{
	for (size_t i = 0; i < in->n_users; i++) {
		struct ct_user *u = &in->users[i];
		lint_sel_free(&u->sel);
		lint_ranges_free(&u->to_addr[0]);
		lint_ranges_free(&u->to_addr[1]);
		lint_ranges_free(&u->to_port);
	}
	for (size_t i = 0; i < in->n_chains; i++) {
		for (size_t j = 0; j < in->chains[i].n_rules; j++)
			lint_sel_free(&in->chains[i].rules[j].sel);
		free(in->chains[i].rules);
	}
	for (size_t i = 0; i < in->n_notracks; i++)
		lint_sel_free(&in->notracks[i].sel);
	free(in->notracks);
	for (size_t i = 0; i < in->n_notes; i++)
		free(in->notes[i]);
	lint_ranges_free(&in->local[0]);
	lint_ranges_free(&in->local[1]);
	free(in->users);
	free(in->chains);
	free(in->notes);
	memset(in, 0, sizeof(*in));
}

void lint_report_free(struct lint_report *r)
{
	for (size_t i = 0; i < r->n_notes; i++)
		free(r->notes[i]);
	free(r->notes);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

const char *lint_kind_name(enum lint_kind k)
{
	switch (k) {
	case LINT_NAT: return "nat";
	case LINT_STATE: return "state";
	case LINT_CT: return "conntrack";
	case LINT_UNCOVERED: return "uncovered_drop";
	case LINT_FOREIGN: return "foreign_notrack";
	}
	return "unknown";
}

const char *ct_need_name(enum ct_need n)
{
	switch (n) {
	case CT_NEED_DNAT: return "DNAT";
	case CT_NEED_REDIRECT: return "REDIRECT";
	case CT_NEED_SNAT: return "SNAT";
	case CT_NEED_MASQUERADE: return "MASQUERADE";
	case CT_NEED_STATE: return "ct state rule";
	case CT_NEED_HELPER: return "ct helper";
	case CT_NEED_MARK: return "ct mark";
	case CT_NEED_ZONE: return "ct zone";
	case CT_NEED_OTHER: return "conntrack match";
	}
	return "conntrack user";
}

/* ------------------------------------------------------------------ */
/* host addresses                                                       */

static bool range_in_prefix(const struct lint_range *r, const struct lint_host_addr *a, unsigned w)
{
	struct lint_range net;

	lint_range_prefix(&net, a->addr, a->prefix, w);
	return memcmp(r->lo, net.lo, w) >= 0 && memcmp(r->hi, net.hi, w) <= 0;
}

static bool addr_in_ranges(const uint8_t *addr, const struct lint_ranges *rs, unsigned w)
{
	for (size_t i = 0; i < rs->n; i++)
		if (memcmp(addr, rs->v[i].lo, w) >= 0 && memcmp(addr, rs->v[i].hi, w) <= 0)
			return true;
	return false;
}

/* The one interface whose connected subnet holds every address of rs, or NULL. */
static const char *subnet_interface(const struct lint_ranges *rs, enum lint_af af, const struct lint_host_addr *addrs,
				    size_t n)
{
	unsigned w = lint_af_width(af);
	const char *found = NULL;

	if (rs->any || !rs->n)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool all = addrs[i].af == af;
		for (size_t j = 0; all && j < rs->n; j++)
			all = range_in_prefix(&rs->v[j], &addrs[i], w);
		if (!all)
			continue;
		if (found && strcmp(found, addrs[i].ifname))
			return NULL; /* two interfaces claim it: do not guess */
		found = addrs[i].ifname;
	}
	return found;
}

static bool has_positive_if(const struct lint_ifs *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (!s->v[i].neg)
			return true;
	return false;
}

static void place_dnat(struct ct_user *u, const struct lint_host_addr *addrs, size_t n)
{
	for (int f = 0; f < 2; f++) {
		const struct lint_ranges *to = &u->to_addr[f];
		unsigned w = lint_af_width((enum lint_af)f);
		bool local = false, exact = to->n == 1 && !memcmp(to->v[0].lo, to->v[0].hi, w);
		const char *ifname;

		if (to->any || !to->n)
			continue;
		for (size_t i = 0; i < n; i++)
			if (addrs[i].af == (enum lint_af)f && addr_in_ranges(addrs[i].addr, to, w))
				local = true;
		ifname = subnet_interface(to, (enum lint_af)f, addrs, n);
		if ((local && exact) || (ifname && !strcmp(ifname, "lo"))) {
			u->to_place = LINT_PLACE_LOCAL;
		} else if (!local) {
			u->to_place = LINT_PLACE_REMOTE;
			if (ifname) {
				u->to_if.n = 0;
				snprintf(u->to_if.v[0].name, sizeof(u->to_if.v[0].name), "%s", ifname);
				u->to_if.v[0].wildcard = u->to_if.v[0].neg = false;
				u->to_if.n = 1;
			}
		}
	}
}

/* This host's own addresses: each one, and all of lo's subnets (127.0.0.0/8). */
static void local_addresses(struct lint_input *in, const struct lint_host_addr *addrs, size_t n)
{
	struct lint_range *v = calloc(n + 1, sizeof(*v));

	if (!v)
		return; /* then they stay unknown: only less precise */
	for (int f = 0; f < 2; f++) {
		unsigned w = lint_af_width((enum lint_af)f);
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (addrs[i].af == (enum lint_af)f)
				lint_range_prefix(&v[m++], addrs[i].addr,
						  strcmp(addrs[i].ifname, "lo") ? w * 8 : addrs[i].prefix, w);
		if (lint_ranges_set(&in->local[f], v, m, w) < 0)
			in->local[f].n = 0;
	}
	free(v);
}

void lint_input_apply_host(struct lint_input *in, const struct lint_host_addr *addrs, size_t n)
{
	local_addresses(in, addrs, n);
	for (size_t i = 0; i < in->n_users; i++) {
		struct ct_user *u = &in->users[i];
		unsigned fam = u->sel.family & FAMILY_BOTH;

		if ((u->need == CT_NEED_DNAT) && u->to_place == LINT_PLACE_UNKNOWN)
			place_dnat(u, addrs, n);
		/* only one family, and sources pinned to one connected subnet */
		if (fam != FAMILY_IPV4 && fam != FAMILY_IPV6)
			continue;
		if (has_positive_if(&u->sel.iif))
			continue;
		enum lint_af af = fam == FAMILY_IPV4 ? LINT_AF4 : LINT_AF6;
		const char *ifname = subnet_interface(&u->sel.saddr[af], af, addrs, n);
		if (ifname)
			lint_sel_add_if(&u->sel, true, ifname, false, false);
	}
}

/* ------------------------------------------------------------------ */
/* our rules as selectors                                               */

static int port_ranges(const struct port_set *ps, struct lint_ranges *out)
{
	struct lint_range *v = calloc(ps->n ? ps->n : 1, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < ps->n; i++)
		lint_range_port(&v[i], ps->ranges[i].first, ps->ranges[i].last);
	r = lint_ranges_set(out, v, ps->n, LINT_PORT_WIDTH);
	free(v);
	return r;
}

static int addr_ranges(const struct addr_set *as, struct lint_ranges *out)
{
	unsigned w = as->family == FAMILY_IPV4 ? LINT_V4_WIDTH : LINT_V6_WIDTH;
	struct lint_range *v = calloc(as->n ? as->n : 1, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < as->n; i++)
		lint_range_prefix(&v[i], as->cidrs[i].addr, as->cidrs[i].prefix, w);
	r = lint_ranges_set(out, v, as->n, w);
	free(v);
	return r;
}

static int and_addr_set(struct lint_sel *s, const struct ruleset *rs, int set, enum field f)
{
	struct lint_ranges t = {0};
	const struct addr_set *as;
	int r;

	if (set < 0 || f == FIELD_NONE)
		return 0;
	as = &rs->addr_sets[set];
	r = addr_ranges(as, &t);
	if (r == 0)
		r = lint_sel_and_addrs(s, f == FIELD_SOURCE, as->family == FAMILY_IPV4 ? LINT_AF4 : LINT_AF6, &t);
	lint_ranges_free(&t);
	return r;
}

/* Exactly what one of our rules matches. */
/* `ports`: each port set's ranges, made by the first rule that uses it
 * (10,000 ports are looked up by several rules). */
static int ir_sel(const struct ruleset *rs, const struct rule *ru, struct lint_ranges *ports, bool *made,
		  struct lint_sel *s)
{
	int r = 0;

	lint_sel_init(s, ru->family ? ru->family : FAMILY_BOTH);
	lint_sel_and_proto(s, ru->proto);
	if (ru->port_set >= 0 && ru->port_field != FIELD_NONE) {
		if (!made[ru->port_set])
			r = port_ranges(&rs->port_sets[ru->port_set], &ports[ru->port_set]);
		made[ru->port_set] = r == 0;
		if (r == 0)
			r = lint_sel_and_ports(s, ru->port_field == FIELD_SOURCE, &ports[ru->port_set]);
	}
	if (r == 0)
		r = and_addr_set(s, rs, ru->peer_set, ru->peer_field);
	if (r == 0)
		r = and_addr_set(s, rs, ru->local_set, ru->local_field);
	if (ru->has_ifname)
		lint_sel_add_if(s, ru->hook == HOOK_PREROUTING, ru->ifname.name, ru->ifname.wildcard, false);
	return r;
}

static unsigned hook_dirs(enum hook h)
{
	return h == HOOK_PREROUTING ? LINT_DIR_IIF : LINT_DIR_OIF;
}

/* ------------------------------------------------------------------ */
/* probes: the packets of a conntrack user, where our rules see them    */

struct probe {
	enum hook hook;
	bool reply;
	/* 1 << enum rule_scope: the scopes of our rules its packets can meet.
	 * A forwarded packet is not addressed to this host (no services), and
	 * no packet of a flow someone else's NAT translates belongs to one of
	 * this host's sockets (no upstream replies). */
	unsigned scopes;
	struct lint_sel sel;
};

#define SCOPES_ALL (1u << SCOPE_ANY | 1u << SCOPE_LOCAL_DEST | 1u << SCOPE_OWN_SOCKET)
#define SCOPES_FORWARDED (1u << SCOPE_ANY)

struct probes {
	struct probe v[6];
	size_t n;
};

static void probes_free(struct probes *p)
{
	for (size_t i = 0; i < p->n; i++)
		lint_sel_free(&p->v[i].sel);
	p->n = 0;
}

static int probe_add(struct probes *p, enum hook h, bool reply, unsigned scopes, const struct lint_sel *sel)
{
	struct probe *pr = &p->v[p->n];

	if (lint_sel_copy(&pr->sel, sel) < 0)
		return -ENOMEM;
	/* A packet that arrives on lo was sent by this host and met our output
	 * chain first.  If it was tracked there it keeps its conntrack entry,
	 * and a notrack at prerouting leaves a packet that has one alone (nft's
	 * notrack and xt's CT --notrack both do); if it was not, the output
	 * probe says so.  So prerouting never decides for lo. */
	if (h == HOOK_PREROUTING)
		lint_sel_add_if(&pr->sel, true, "lo", false, true);
	pr->hook = h;
	pr->reply = reply;
	pr->scopes = scopes;
	p->n++;
	return 0;
}

/* What a rule on prerouting or input sees arriving on lo was caught, if at
 * all, on output, leaving through lo.  (NAT is left out: for such a packet
 * it was decided on output already.) */
static int loopback_probe(struct probes *p, const struct lint_sel *o)
{
	const struct lint_if not_lo = {.name = "lo", .neg = true};
	struct lint_sel lo;
	int e;

	if (lint_ifs_implies(&o->iif, &not_lo))
		return 0; /* it never sees lo */
	e = lint_sel_copy(&lo, o);
	if (e < 0)
		return e;
	lo.iif.n = 0;
	lo.oif.n = 0;
	lint_sel_add_if(&lo, false, "lo", false, false);
	e = probe_add(p, HOOK_OUTPUT, false, SCOPES_ALL, &lo);
	lint_sel_free(&lo);
	return e;
}

static bool is_nat(enum ct_need n)
{
	return n == CT_NEED_DNAT || n == CT_NEED_REDIRECT || n == CT_NEED_SNAT || n == CT_NEED_MASQUERADE;
}

static bool is_dnat(enum ct_need n)
{
	return n == CT_NEED_DNAT || n == CT_NEED_REDIRECT;
}

static int ephemeral(struct lint_ranges *out)
{
	struct lint_range r;

	lint_range_port(&r, LINT_EPHEMERAL_FIRST, LINT_EPHEMERAL_LAST);
	return lint_ranges_set(out, &r, 1, LINT_PORT_WIDTH);
}

static bool below_ephemeral(const struct lint_ranges *r)
{
	return !r->any && r->n && (unsigned)(r->v[r->n - 1].hi[0] << 8 | r->v[r->n - 1].hi[1]) < LINT_EPHEMERAL_FIRST;
}

/* A rule that names one side's port below the ephemeral range (tcp dport 22)
 * names a service: the other side's port is the client's. */
static int client_port(struct lint_sel *o)
{
	struct lint_ranges *other = NULL;
	int e;

	if (o->sport.any && below_ephemeral(&o->dport))
		other = &o->sport;
	else if (o->dport.any && below_ephemeral(&o->sport))
		other = &o->dport;
	if (!other)
		return 0;
	e = ephemeral(other);
	other->any = false;
	return e;
}

/* The reply direction of a NAT flow, as it enters this host's raw chains. */
static int reply_sel(const struct ct_user *u, const struct lint_sel *o, struct lint_sel *r)
{
	bool dnat = is_dnat(u->need);
	int e = 0;

	lint_sel_init(r, o->family);
	lint_sel_and_proto(r, o->proto);
	r->none = o->none;
	/* source: the new destination of a DNAT, else the original destination */
	for (int f = 0; f < 2; f++) {
		const struct lint_ranges *src = dnat && !u->to_addr[f].any ? &u->to_addr[f] : &o->daddr[f];
		const struct lint_ranges *dst = dnat ? &o->saddr[f] : &u->to_addr[f];
		lint_ranges_free(&r->saddr[f]);
		lint_ranges_free(&r->daddr[f]);
		e |= lint_ranges_copy(&r->saddr[f], src);
		e |= lint_ranges_copy(&r->daddr[f], dst);
	}
	lint_ranges_free(&r->sport);
	lint_ranges_free(&r->dport);
	e |= lint_ranges_copy(&r->sport, dnat && !u->to_port.any ? &u->to_port : &o->dport);
	e |= lint_ranges_copy(&r->dport, !dnat && !u->to_port.any ? &u->to_port : &o->sport);
	/* the reply arrives where the original left, and leaves where it arrived */
	if (dnat) {
		r->iif = u->to_if;
		r->oif = o->iif;
	} else {
		r->iif = o->oif;
		r->oif = o->iif;
	}
	for (int f = 0; f < 2; f++)
		if (lint_ranges_empty(&r->saddr[f]) || lint_ranges_empty(&r->daddr[f]))
			r->family &= ~lint_af_family((enum lint_af)f);
	return e ? -ENOMEM : 0;
}

/* A forwarded packet is not addressed to this host. */
static int not_to_this_host(struct lint_sel *s, const struct lint_ranges local[2])
{
	for (int f = 0; f < 2; f++) {
		struct lint_ranges t = {0};
		int e;
		if (!local[f].n)
			continue;
		e = lint_ranges_copy(&t, &local[f]);
		if (e == 0)
			e = lint_ranges_not(&t, lint_af_width((enum lint_af)f));
		if (e == 0)
			e = lint_ranges_and(&s->daddr[f], &t, lint_af_width((enum lint_af)f));
		lint_ranges_free(&t);
		if (e < 0)
			return e;
		if (lint_ranges_empty(&s->daddr[f]))
			s->family &= ~lint_af_family((enum lint_af)f);
	}
	return 0;
}

/* What a service's rule matches: addressed to this host (when its
 * addresses are known). */
static int to_this_host(struct lint_sel *s, const struct lint_ranges local[2])
{
	for (int f = 0; f < 2; f++) {
		int e;
		if (!local[f].n)
			continue;
		e = lint_ranges_and(&s->daddr[f], &local[f], lint_af_width((enum lint_af)f));
		if (e < 0)
			return e;
		if (lint_ranges_empty(&s->daddr[f]))
			s->family &= ~lint_af_family((enum lint_af)f);
	}
	return 0;
}

static int build_probes(const struct ct_user *u, const struct lint_ranges host[2], struct probes *p)
{
	bool arriving = u->hooks & (LINT_HOOK_PREROUTING | LINT_HOOK_INPUT | LINT_HOOK_FORWARD | LINT_HOOK_POSTROUTING);
	/* a rule that names an input interface never sees a packet this host sends */
	bool local = (u->hooks & (LINT_HOOK_OUTPUT | LINT_HOOK_POSTROUTING)) && !has_positive_if(&u->sel.iif);
	bool source_nat = u->need == CT_NEED_SNAT || u->need == CT_NEED_MASQUERADE;
	struct lint_sel o, r;
	int e;

	p->n = 0;
	e = lint_sel_copy(&o, &u->sel);
	if (e < 0)
		return e;
	if (is_nat(u->need) && o.sport.any) {
		/* a NAT rule sees the first packet of a flow: its source port is the client's */
		e = ephemeral(&o.sport);
		o.sport.any = false;
	} else {
		e = client_port(&o);
	}
	if (e == 0 && is_nat(u->need) && (u->hooks & (LINT_HOOK_PREROUTING | LINT_HOOK_INPUT)))
		/* NAT on arrival is never decided for a packet arriving on lo: its
		 * flow began on output (see probe_add) */
		lint_sel_add_if(&o, true, "lo", false, true);
	if (e == 0 && source_nat)
		/* source NAT of a packet to this host itself (out through lo) changes
		 * nothing that matters; without this every loopback notrack would
		 * "break" Docker's masquerade */
		lint_sel_add_if(&o, false, "lo", false, true);
	if (e == 0 && arriving && !(u->hooks & (LINT_HOOK_PREROUTING | LINT_HOOK_INPUT))) {
		/* only forwarded packets reach it from prerouting */
		struct lint_sel fwd;
		e = lint_sel_copy(&fwd, &o);
		if (e == 0)
			e = not_to_this_host(&fwd, host);
		if (e == 0)
			e = probe_add(p, HOOK_PREROUTING, false, SCOPES_FORWARDED, &fwd);
		lint_sel_free(&fwd);
	} else if (e == 0 && arriving) {
		/* the first packet of a flow NAT translates has no socket here yet */
		e = probe_add(p, HOOK_PREROUTING, false,
			      is_nat(u->need) ? SCOPES_ALL & ~(1u << SCOPE_OWN_SOCKET) : SCOPES_ALL, &o);
	}
	if (e == 0 && !is_nat(u->need) && (u->hooks & (LINT_HOOK_PREROUTING | LINT_HOOK_INPUT)))
		e = loopback_probe(p, &o);
	/* a source NAT on postrouting sees local packets too, but the ones that
	 * matter are forwarded: its replies come before its local packets, so
	 * that a finding names the likelier breakage */
	if (e == 0 && local && !(source_nat && arriving))
		e = probe_add(p, HOOK_OUTPUT, false, SCOPES_ALL, &o);
	if (e == 0 && is_nat(u->need)) {
		bool to_local, to_remote;
		if (is_dnat(u->need)) {
			enum lint_place pl = u->need == CT_NEED_REDIRECT ? LINT_PLACE_LOCAL : u->to_place;
			to_local = pl != LINT_PLACE_REMOTE;
			to_remote = pl != LINT_PLACE_LOCAL;
		} else {
			/* replies to a source NAT come from elsewhere, unless it
			 * was done on input (then this host answers) */
			to_local = u->hooks & LINT_HOOK_INPUT;
			to_remote = u->hooks & LINT_HOOK_POSTROUTING;
		}
		/* A reply arriving for a source NAT is addressed to this host
		 * until conntrack reverses the NAT, but it belongs to no socket
		 * here; a DNAT's reply goes back to the client, which is this
		 * host only when the flow began here (on output). */
		unsigned reply_scopes = 1u << SCOPE_ANY;
		if (!is_dnat(u->need) || (u->hooks & LINT_HOOK_OUTPUT))
			reply_scopes |= 1u << SCOPE_LOCAL_DEST;
		e = reply_sel(u, &o, &r);
		if (e == 0 && to_remote)
			e = probe_add(p, HOOK_PREROUTING, true, reply_scopes, &r);
		if (e == 0 && to_local)
			e = probe_add(p, HOOK_OUTPUT, true, SCOPES_ALL, &r);
		lint_sel_free(&r);
	}
	if (e == 0 && local && source_nat && arriving)
		e = probe_add(p, HOOK_OUTPUT, false, SCOPES_ALL, &o);
	lint_sel_free(&o);
	if (e < 0)
		probes_free(p);
	return e;
}

/*
 * What is not worth a finding:
 *  - a ct state rule with nothing but the state (ct state established,related
 *    accept; ct state invalid drop): it is generic, and the untracked accept
 *    (or, where it is missing, the uncovered-chain check) handles what our
 *    rules change about it;
 *  - a rule that accepts only established/related packets: untracked packets
 *    never matched it, and the untracked accept takes them instead;
 *  - a rule for invalid packets only: untracked packets are not invalid;
 *  - a rule that matches untracked packets too (e.g. our own accept).
 */
static bool state_user_is_noise(const struct ct_user *u)
{
	if (u->need != CT_NEED_STATE)
		return false;
	if (lint_sel_is_any(&u->sel))
		return true;
	if (!u->ct_state)
		return false;
	if (u->ct_state & LINT_CT_UNTRACKED)
		return true;
	if (!(u->ct_state & ~(LINT_CT_ESTABLISHED | LINT_CT_RELATED)) && u->accepts)
		return true;
	return !(u->ct_state & ~LINT_CT_INVALID);
}

/* ------------------------------------------------------------------ */
/* findings                                                             */

struct analysis {
	const struct ruleset *rs;
	const struct lint_input *in;
	const struct lint_ranges *local; /* this host's addresses, by family */
	struct lint_sel *sels;		 /* one per IR rule */
	struct lint_report *out;
};

static bool chain_gets_accept(const struct ruleset *rs, const struct lint_chain *c);
static const char *dropper(const struct lint_chain *c, size_t from, const struct lint_sel *x, unsigned dirs);
static int to_this_host(struct lint_sel *s, const struct lint_ranges local[2]);

static struct lint_finding *add_finding(struct lint_report *out)
{
	return push(&out->v, &out->n, sizeof(struct lint_finding));
}

static bool have_finding(const struct lint_report *out, const char *origin, const char *family, const char *table,
			 const char *chain, const char *rule)
{
	for (size_t i = 0; i < out->n; i++) {
		const struct lint_finding *f = &out->v[i];
		if (!strcmp(f->origin, origin) && !strcmp(f->family, family) && !strcmp(f->table, table) &&
		    !strcmp(f->chain, chain) && !strcmp(f->rule, rule))
			return true;
	}
	return false;
}

static const char *entry_kind(const char *origin)
{
	if (strstr(origin, ".services"))
		return "service";
	if (strstr(origin, ".upstreams"))
		return "upstream";
	if (strstr(origin, ".interfaces"))
		return "interface entry";
	return "entry";
}

/* "$.notrack.services[0] (prerouting: tcp dport 8080)" */
static void describe_ours(const struct analysis *a, size_t i, struct strbuf *out)
{
	const struct rule *ru = &a->rs->rules[i];

	strbuf_printf(out, "%s (%s: ", ru->origin, hook_name(ru->hook));
	if (lint_sel_is_any(&a->sels[i]))
		strbuf_puts(out, "all traffic");
	else
		lint_sel_format(&a->sels[i], out);
	strbuf_putc(out, ')');
}

static const char *proto_word(uint8_t p)
{
	switch (p) {
	case 6: return "tcp";
	case 17: return "udp";
	case 132: return "sctp";
	case 33: return "dccp";
	}
	return NULL;
}

static void ports_json(const struct lint_ranges *ports, struct strbuf *out)
{
	strbuf_puts(out, "[");
	for (size_t i = 0; i < ports->n; i++) {
		unsigned lo = (unsigned)(ports->v[i].lo[0] << 8 | ports->v[i].lo[1]);
		unsigned hi = (unsigned)(ports->v[i].hi[0] << 8 | ports->v[i].hi[1]);
		if (lo == hi)
			strbuf_printf(out, "%s%u", i ? ", " : "", lo);
		else
			strbuf_printf(out, "%s\"%u-%u\"", i ? ", " : "", lo, hi);
	}
	strbuf_puts(out, "]");
}

/* The one positive interface constraint of a set, or NULL. */
static const struct lint_if *single_if(const struct lint_ifs *s)
{
	const struct lint_if *found = NULL;

	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].neg)
			continue;
		if (found)
			return NULL;
		found = &s->v[i];
	}
	return found;
}

/*
 * A keep_tracked entry that would keep the caught packets (x) tracked, in the
 * policy's own terms, tried in this order: the ports the foreign rule names
 * (original direction only: a reply's ports are the other way round), the
 * interface the packets arrive on, the remote addresses.  False if there is
 * nothing narrower than the protocol, which would keep the whole entry
 * tracked.
 */
static bool suggest_keep(const struct ct_user *u, const struct probe *p, const struct lint_sel *x, struct strbuf *out)
{
	const char *proto = proto_word(x->proto);
	const struct lint_if *ifn = p->hook == HOOK_PREROUTING ? single_if(&x->iif) : single_if(&x->oif);
	bool in = p->hook == HOOK_PREROUTING;
	unsigned fam = x->family & FAMILY_BOTH;
	enum lint_af af = fam == FAMILY_IPV6 ? LINT_AF6 : LINT_AF4;
	const struct lint_ranges *peers = in ? &x->saddr[af] : &x->daddr[af];

	strbuf_printf(out, "{\"reason\": \"%s\"", is_nat(u->need) ? "nat" : "state");
	if (proto && !p->reply && (!u->sel.dport.any || !u->sel.sport.any) &&
	    (u->sel.dport.any ? u->sel.sport.n : u->sel.dport.n) <= 8) {
		bool dport = !u->sel.dport.any;
		/* arriving for a local port is what services name; leaving for one, upstreams */
		strbuf_printf(out, ", \"proto\": \"%s\", \"ports\": ", proto);
		ports_json(dport ? &u->sel.dport : &u->sel.sport, out);
		strbuf_printf(out, ", \"role\": \"%s\"", dport == in ? "service" : "upstream");
	} else if (ifn) {
		strbuf_printf(out, ", \"interfaces\": [\"%s%s\"]", ifn->name, ifn->wildcard ? "+" : "");
	} else if ((fam == FAMILY_IPV4 || fam == FAMILY_IPV6) && !peers->any && peers->n && peers->n <= 4) {
		strbuf_puts(out, ", \"peers\": [");
		for (size_t i = 0; i < peers->n; i++) {
			struct lint_ranges one = {.n = 1, .v = (struct lint_range *)&peers->v[i]};
			strbuf_printf(out, "%s\"", i ? ", " : "");
			lint_ranges_format(&one, lint_af_width(af), out);
			strbuf_putc(out, '"');
		}
		strbuf_putc(out, ']');
	} else {
		/* nothing narrower to offer: the protocol alone would keep the whole entry tracked */
		return false;
	}
	strbuf_putc(out, '}');
	return true;
}

static int report_user(struct analysis *a, const struct ct_user *u, size_t rule_i, const struct probe *p,
		       const struct lint_sel *x, size_t partly_by, const char *then)
{
	const struct rule *ru = &a->rs->rules[rule_i];
	_cleanup_strbuf_ struct strbuf m = {0};
	struct lint_finding *f;
	const char *what = ct_need_name(u->need);

	if (have_finding(a->out, ru->origin, u->family, u->table, u->chain, u->rule))
		return 0;
	f = add_finding(a->out);
	if (!f)
		return -ENOMEM;
	f->kind = is_nat(u->need) ? LINT_NAT : u->need == CT_NEED_STATE || then ? LINT_STATE : LINT_CT;
	snprintf(f->origin, sizeof(f->origin), "%s", ru->origin);
	snprintf(f->family, sizeof(f->family), "%s", u->family);
	snprintf(f->table, sizeof(f->table), "%s", u->table);
	snprintf(f->chain, sizeof(f->chain), "%s", u->chain);
	snprintf(f->rule, sizeof(f->rule), "%s", u->rule);
	f->reply = p->reply;
	strbuf_init(&m);
	describe_ours(a, rule_i, &m);
	strbuf_printf(&m, " would catch %s%s%s in %s %s %s (%s)", p->reply ? "the replies of " : "",
		      u->kube ? "kube-proxy's " : "the ", what, u->family, u->table, u->chain, u->rule);
	if (p->reply) {
		strbuf_puts(&m, ", packets ");
		lint_sel_format(&p->sel, &m);
	}
	switch (f->kind) {
	case LINT_NAT: strbuf_puts(&m, ": NAT would break for that traffic."); break;
	case LINT_STATE:
		if (then) {
			const struct lint_chain *c = &a->in->chains[u->chain_index];
			strbuf_printf(&m,
				      ": untracked, that traffic would skip this accept and be dropped further down "
				      "(%s), so it would stop working",
				      then);
			if (c->owner_locked && a->rs->accept_mode == UNTRACKED_ACCEPT_AUTO)
				strbuf_printf(
				    &m,
				    "; table %s %s is owned by another process, which alone may change it, so "
				    "the untracked accept cannot go there",
				    c->family_name, c->table);
			strbuf_putc(&m, '.');
		} else
			strbuf_puts(&m, ": that rule would no longer see the traffic (it would be bypassed).");
		break;
	default:
		strbuf_printf(
		    &m, ": the %s would be lost for that traffic (untracked packets have no conntrack entry).", what);
		break;
	}
	if (partly_by != (size_t)-1)
		strbuf_printf(&m, " %s keeps only part of it tracked.", a->rs->rules[partly_by].origin);
	{
		_cleanup_strbuf_ struct strbuf k = {0};
		if (suggest_keep(u, p, x, &k))
			strbuf_printf(&m, " Add a keep_tracked entry such as %s, or narrow the %s.", k.data,
				      entry_kind(ru->origin));
		else
			strbuf_printf(&m,
				      " Add a keep_tracked entry for that traffic (by interfaces, peers or ports), "
				      "or narrow the %s.",
				      entry_kind(ru->origin));
	}
	if (u->widened)
		strbuf_puts(&m,
			    " (Part of that rule could not be decoded and was taken to match more: this may be a false "
			    "alarm.)");
	snprintf(f->msg, sizeof(f->msg), "%s", m.data ? m.data : "");
	return m.oom ? -ENOMEM : 0;
}

/*
 * An accept that needs a conntrack entry (ct state new accept, ct status
 * dnat accept) in a filter chain: bypassing it changes nothing when our
 * untracked accept sits at the head of that same base chain (ufw's
 * ufw-track-output, reached from OUTPUT), and nothing either when the rest
 * of the chain accepts what skips it (firewalld's iifname lo accept, or the
 * opened port's accept).  NULL then; otherwise what drops it instead.
 */
static const char *bypassed_accept(const struct analysis *a, const struct ct_user *u, const struct rule *ru,
				   const struct lint_sel *x, unsigned dirs, bool *same)
{
	const struct lint_chain *c;

	*same = false;
	/* tcp dport 22 ct state new limit rate 10/minute accept: untracked, ssh
	 * is accepted without the limit, whatever the rest of the chain does */
	if (!u->accepts || u->limited || u->chain_index < 0 || (size_t)u->chain_index >= a->in->n_chains ||
	    (u->need != CT_NEED_STATE && u->need != CT_NEED_OTHER))
		return NULL;
	c = &a->in->chains[u->chain_index];
	/* A service's packets belong to connections clients open: tracked, the
	 * first one is new, and an accept that cannot take a new packet
	 * (established, related, ct status dnat) never let such a connection
	 * in; the rest of it the chain treats as it treats the first. */
	if (chain_gets_accept(a->rs, c) || (ru->scope == SCOPE_LOCAL_DEST && !(u->ct_state & LINT_CT_NEW))) {
		*same = true;
		return NULL;
	}
	const char *why = dropper(c, u->chain_pos, x, dirs);
	*same = why == NULL;
	return why;
}

static int check_user(struct analysis *a, const struct ct_user *u)
{
	const struct ruleset *rs = a->rs;
	struct probes p;
	int e;

	if (state_user_is_noise(u))
		return 0;
	e = build_probes(u, a->local, &p);
	for (size_t pi = 0; e == 0 && pi < p.n; pi++) {
		const struct probe *pr = &p.v[pi];
		unsigned dirs = hook_dirs(pr->hook);
		for (size_t i = 0; e == 0 && i < rs->n_rules; i++) {
			const struct rule *ru = &rs->rules[i];
			struct lint_sel x;
			bool kept = false, same = false;
			size_t partly = (size_t)-1;
			const char *then;

			if (ru->hook != pr->hook || ru->verdict != VERDICT_NOTRACK || !(pr->scopes & (1u << ru->scope)))
				continue;
			e = lint_sel_copy(&x, &pr->sel);
			if (e == 0)
				e = lint_sel_and(&x, &a->sels[i]);
			if (e == 0 && ru->scope == SCOPE_LOCAL_DEST)
				e = to_this_host(&x, a->local);
			if (e < 0 || lint_sel_empty(&x, dirs)) {
				lint_sel_free(&x);
				continue;
			}
			/* keep_tracked rules before it return the packet first */
			for (size_t k = 0; k < i && !kept; k++) {
				const struct rule *kr = &rs->rules[k];
				if (kr->hook != ru->hook || kr->verdict != VERDICT_RETURN)
					continue;
				kept = lint_sel_covers(&a->sels[k], &x, dirs);
				if (!kept && partly == (size_t)-1) {
					struct lint_sel y;
					if (lint_sel_copy(&y, &x) == 0) {
						if (lint_sel_and(&y, &a->sels[k]) == 0 && !lint_sel_empty(&y, dirs))
							partly = k;
						lint_sel_free(&y);
					}
				}
			}
			then = kept ? NULL : bypassed_accept(a, u, ru, &x, dirs, &same);
			if (!kept && !same)
				e = report_user(a, u, i, pr, &x, partly, then);
			lint_sel_free(&x);
		}
	}
	probes_free(&p);
	return e;
}

/* ------------------------------------------------------------------ */
/* filter chains that would drop untracked packets                      */

static const char *chain_family_str(enum chain_family f)
{
	return f == CHAIN_FAMILY_IP ? "ip" : f == CHAIN_FAMILY_IP6 ? "ip6" : "inet";
}

static unsigned accept_hook_of(unsigned lint_hook)
{
	return lint_hook == LINT_HOOK_INPUT	? ACCEPT_HOOK_INPUT
	       : lint_hook == LINT_HOOK_FORWARD ? ACCEPT_HOOK_FORWARD
	       : lint_hook == LINT_HOOK_OUTPUT	? ACCEPT_HOOK_OUTPUT
						: 0;
}

/* Whether untracked packets of this policy can reach the chain's hook at all
 * (services and upstream replies are this host's own: never forwarded). */
static bool chain_reached(const struct ruleset *rs, const struct lint_chain *c)
{
	return rs->accept_hooks & accept_hook_of(c->hook);
}

static bool chain_covered(const struct ruleset *rs, const struct lint_chain *c)
{
	switch (rs->accept_mode) {
	case UNTRACKED_ACCEPT_AUTO: return !c->owner_locked && chain_reached(rs, c);
	case UNTRACKED_ACCEPT_NONE: return false;
	case UNTRACKED_ACCEPT_LIST:
		for (size_t i = 0; i < rs->n_accept_chains; i++) {
			const struct chain_ref *r = &rs->accept_chains[i];
			if (r->family == c->family && !strcmp(r->table, c->table) && !strcmp(r->chain, c->chain))
				return true;
		}
		return false;
	}
	return false;
}

/* Whether our untracked accept sits at the head of the chain. */
static bool chain_gets_accept(const struct ruleset *rs, const struct lint_chain *c)
{
	return chain_covered(rs, c);
}

static unsigned family_of(enum chain_family f)
{
	return f == CHAIN_FAMILY_IP ? FAMILY_IPV4 : f == CHAIN_FAMILY_IP6 ? FAMILY_IPV6 : FAMILY_BOTH;
}

/* The rule that drops x first (from rules[from] on), "policy drop", or NULL
 * if x is accepted or passes.  An accept counts only if it takes all of x; a
 * drop counts if it takes any of it. */
static const char *dropper(const struct lint_chain *c, size_t from, const struct lint_sel *x, unsigned dirs)
{
	for (size_t i = from; i < c->n_rules; i++) {
		const struct lint_vrule *v = &c->rules[i];
		if (v->verdict == LINT_V_ACCEPT) {
			if (lint_sel_covers(&v->sel, x, dirs))
				return NULL;
			continue;
		}
		struct lint_sel y;
		bool meets = false;
		if (lint_sel_copy(&y, x) == 0) {
			meets = lint_sel_and(&y, &v->sel) == 0 && !lint_sel_empty(&y, dirs);
			lint_sel_free(&y);
		}
		if (meets)
			return v->rule;
	}
	return c->policy_drop ? "policy drop" : NULL;
}

static int report_chain(struct analysis *a, const struct lint_chain *c, size_t rule_i, const char *why)
{
	const struct ruleset *rs = a->rs;
	const struct rule *ru = &rs->rules[rule_i];
	_cleanup_strbuf_ struct strbuf m = {0};
	struct lint_finding *f;

	if (have_finding(a->out, ru->origin, c->family_name, c->table, c->chain, why))
		return 0;
	f = add_finding(a->out);
	if (!f)
		return -ENOMEM;
	f->kind = LINT_UNCOVERED;
	snprintf(f->origin, sizeof(f->origin), "%s", ru->origin);
	snprintf(f->family, sizeof(f->family), "%s", c->family_name);
	snprintf(f->table, sizeof(f->table), "%s", c->table);
	snprintf(f->chain, sizeof(f->chain), "%s", c->chain);
	snprintf(f->rule, sizeof(f->rule), "%s", why);
	strbuf_init(&m);
	strbuf_puts(&m, "the untracked packets of ");
	describe_ours(a, rule_i, &m);
	strbuf_printf(&m, " would be dropped by %s %s %s (%s), and untracked_accept does not cover that chain: ",
		      c->family_name, c->table, c->chain, why);
	if (rs->accept_mode == UNTRACKED_ACCEPT_NONE)
		strbuf_puts(&m, "it is \"none\". Use \"auto\", list this chain, or narrow the entry.");
	else if (rs->accept_mode == UNTRACKED_ACCEPT_LIST)
		strbuf_printf(&m,
			      "it does not list it. Add {\"family\": \"%s\", \"table\": \"%s\", \"chain\": \"%s\"}, "
			      "or narrow the entry.",
			      chain_family_str(c->family), c->table, c->chain);
	else
		strbuf_printf(&m,
			      "table %s %s is owned by another process (e.g. firewalld), which alone may change it. "
			      "Have its owner accept \"ct state untracked\" there, or narrow the entry.",
			      c->family_name, c->table);
	snprintf(f->msg, sizeof(f->msg), "%s", m.data ? m.data : "");
	return m.oom ? -ENOMEM : 0;
}

static int check_chain(struct analysis *a, const struct lint_chain *c)
{
	const struct ruleset *rs = a->rs;
	enum hook h = c->hook == LINT_HOOK_OUTPUT ? HOOK_OUTPUT : HOOK_PREROUTING;
	unsigned dirs = hook_dirs(h);
	int e = 0;

	if (chain_covered(rs, c) || !chain_reached(rs, c))
		return 0;
	for (size_t i = 0; e == 0 && i < rs->n_rules; i++) {
		const struct rule *ru = &rs->rules[i];
		struct lint_sel x;
		const char *why;

		if (ru->hook != h || ru->verdict != VERDICT_NOTRACK)
			continue;
		if (c->hook == LINT_HOOK_FORWARD && ru->scope != SCOPE_ANY)
			continue; /* this host's own traffic is not forwarded */
		/* A service's connections are opened by clients: tracked, their
		 * first packet meets the same stateless rules as the untracked
		 * ones do, so a drop that takes them dropped that first packet
		 * too.  What untracking changes there is an accept that needed
		 * the state (ct state new accept): check_user's finding. */
		if (ru->scope == SCOPE_LOCAL_DEST)
			continue;
		e = lint_sel_copy(&x, &a->sels[i]);
		if (e < 0)
			break;
		lint_sel_and_family(&x, family_of(c->family));
		if (!lint_sel_empty(&x, dirs) && (why = dropper(c, 0, &x, dirs)))
			e = report_chain(a, c, i, why);
		lint_sel_free(&x);
	}
	return e;
}

/* ------------------------------------------------------------------ */
/* foreign notrack rules our accept would open                          */

/* Whether the policy untracks all of x anyway, where chain c sees it: a
 * notrack rule of ours that covers it, with no keep_tracked entry before it
 * that takes any of it. */
static bool ours_anyway(const struct analysis *a, enum hook h, const struct lint_chain *c, const struct lint_sel *x,
			unsigned dirs)
{
	const struct ruleset *rs = a->rs;

	for (size_t i = 0; i < rs->n_rules; i++) {
		const struct rule *ru = &rs->rules[i];
		if (ru->hook != h || ru->verdict != VERDICT_NOTRACK)
			continue;
		/* services cover only what is addressed to this host, upstream
		 * replies only some of it: neither covers forwarded traffic */
		if (ru->scope == SCOPE_OWN_SOCKET || (ru->scope == SCOPE_LOCAL_DEST && c->hook != LINT_HOOK_INPUT))
			continue;
		if (!lint_sel_covers(&a->sels[i], x, dirs))
			continue;
		bool kept = false;
		for (size_t k = 0; k < i && !kept; k++) {
			struct lint_sel y;
			if (rs->rules[k].hook != h || rs->rules[k].verdict != VERDICT_RETURN ||
			    lint_sel_copy(&y, x) < 0)
				continue;
			kept = lint_sel_and(&y, &a->sels[k]) == 0 && !lint_sel_empty(&y, dirs);
			lint_sel_free(&y);
		}
		if (!kept)
			return true;
	}
	return false;
}

/* shown: the packets in words (without the host's addresses, which x, the
 * ones the chain meets, may be narrowed to) */
static int report_foreign(struct analysis *a, const struct lint_notrack *n, const struct lint_chain *c,
			  const struct lint_sel *shown, const char *why)
{
	_cleanup_strbuf_ struct strbuf m = {0}, what = {0};
	const char *towards = c->hook == LINT_HOOK_INPUT     ? " arriving for this host"
			      : c->hook == LINT_HOOK_FORWARD ? " forwarded through this host"
							     : " sent by this host";
	struct lint_finding *f;

	if (have_finding(a->out, "$.untracked_accept", n->family, n->table, n->chain, n->rule))
		return 0;
	f = add_finding(a->out);
	if (!f)
		return -ENOMEM;
	f->kind = LINT_FOREIGN;
	snprintf(f->origin, sizeof(f->origin), "$.untracked_accept");
	snprintf(f->family, sizeof(f->family), "%s", n->family);
	snprintf(f->table, sizeof(f->table), "%s", n->table);
	snprintf(f->chain, sizeof(f->chain), "%s", n->chain);
	snprintf(f->rule, sizeof(f->rule), "%s", n->rule);
	strbuf_init(&m);
	strbuf_init(&what);
	struct lint_sel words = *shown; /* an ip or ip6 table's family goes without saying */
	if (strcmp(n->family, "inet"))
		words.family = FAMILY_BOTH;
	if (lint_sel_is_any(&words))
		strbuf_puts(&what, "all traffic");
	else
		lint_sel_format(&words, &what);
	strbuf_puts(&what, towards);
	strbuf_printf(&m,
		      "another rule untracks traffic that a filter chain drops today: %s%s %s %s (%s) untracks %s, "
		      "which %s%s %s %s drops (%s). The untracked accept this policy puts at the head of that chain "
		      "($.untracked_accept) would accept it, so it would become reachable. Remove or narrow that "
		      "notrack rule, or leave "
		      "the chain out of untracked_accept (a list of chains, or \"none\").",
		      n->legacy ? "iptables-legacy " : "", n->family, n->table, n->chain, n->rule, what.data,
		      c->legacy ? "iptables-legacy " : "", c->family_name, c->table, c->chain, why);
	snprintf(f->msg, sizeof(f->msg), "%s", m.data ? m.data : "");
	strbuf_reset(&m);
	strbuf_printf(&m, "%s, untracked by %s%s %s %s (%s), now accepted by %s%s %s %s", what.data,
		      n->legacy ? "iptables-legacy " : "", n->family, n->table, n->chain, n->rule,
		      c->legacy ? "iptables-legacy " : "", c->family_name, c->table, c->chain);
	snprintf(f->exposure, sizeof(f->exposure), "%s", m.data ? m.data : "");
	return m.oom || what.oom ? -ENOMEM : 0;
}

/*
 * A foreign notrack rule untracks its packets exactly as ours do, and our
 * untracked accept cannot tell them apart: in every chain that gets our
 * accept, what the chain dropped of them before (its policy, or a drop or
 * reject they met) is now accepted.  Prerouting's untracked packets reach
 * input (addressed to this host) and forward (the rest); output's reach
 * output.  Traffic the policy untracks anyway is its own exposure.
 */
static int check_foreign(struct analysis *a, const struct lint_notrack *n)
{
	enum hook h = n->hook == LINT_HOOK_OUTPUT ? HOOK_OUTPUT : HOOK_PREROUTING;
	int e = 0;

	for (size_t i = 0; e == 0 && i < a->in->n_chains; i++) {
		const struct lint_chain *c = &a->in->chains[i];
		unsigned dirs = c->hook == LINT_HOOK_INPUT     ? LINT_DIR_IIF
				: c->hook == LINT_HOOK_FORWARD ? LINT_DIR_IIF | LINT_DIR_OIF
							       : LINT_DIR_OIF;
		struct lint_sel x, shown;
		const char *why;

		if ((h == HOOK_OUTPUT) != (c->hook == LINT_HOOK_OUTPUT) || !chain_gets_accept(a->rs, c))
			continue;
		e = lint_sel_copy(&shown, &n->sel);
		if (e < 0)
			break;
		lint_sel_and_family(&shown, family_of(c->family));
		e = lint_sel_copy(&x, &shown);
		if (e < 0) {
			lint_sel_free(&shown);
			break;
		}
		if (c->hook == LINT_HOOK_INPUT)
			e = to_this_host(&x, a->local);
		else if (c->hook == LINT_HOOK_FORWARD)
			e = not_to_this_host(&x, a->local);
		if (e == 0 && !lint_sel_empty(&x, dirs) && !ours_anyway(a, h, c, &x, dirs) &&
		    (why = dropper(c, 0, &x, dirs)))
			e = report_foreign(a, n, c, &shown, why);
		lint_sel_free(&x);
		lint_sel_free(&shown);
	}
	return e;
}

/*
 * A keep_tracked entry's timeouts (ct timeout objects) reach only packets
 * that get a conntrack entry.  A foreign notrack rule untracks its packets
 * whatever our chain did before or after it (a return leaves only our own
 * chain), so where it meets the entry's traffic the timeouts do nothing:
 * a note, since nothing breaks.
 */
static int check_timeouts_untracked(struct analysis *a, const struct lint_notrack *n)
{
	const struct ruleset *rs = a->rs;
	enum hook h = n->hook == LINT_HOOK_OUTPUT ? HOOK_OUTPUT : HOOK_PREROUTING;
	unsigned dirs = h == HOOK_OUTPUT ? LINT_DIR_OIF : LINT_DIR_IIF;
	int e = 0;

	for (size_t i = 0; e == 0 && i < rs->n_rules; i++) {
		const struct rule *ru = &rs->rules[i];
		const struct ct_timeout_obj *t = NULL;
		struct lint_sel x;

		if (ru->hook != h || ru->verdict != VERDICT_RETURN)
			continue;
		for (size_t k = 0; k < rs->n_timeout_rules && !t; k++)
			if (!strcmp(rs->timeout_rules[k].origin, ru->origin))
				t = &rs->timeouts[rs->timeout_rules[k].ct_timeout];
		if (!t || lint_sel_copy(&x, &n->sel) < 0)
			continue;
		bool meet = lint_sel_and(&x, &a->sels[i]) == 0 && !lint_sel_empty(&x, dirs);
		lint_sel_free(&x);
		if (!meet)
			continue;
		_cleanup_strbuf_ struct strbuf note;
		strbuf_init(&note);
		strbuf_printf(&note,
			      "%s: %s%s %s %s (%s) untracks some of this entry's traffic on %s; the timeouts (%s) have "
			      "no effect there: an untracked packet gets no conntrack entry",
			      t->t.path, n->legacy ? "iptables-legacy " : "", n->family, n->table, n->chain, n->rule,
			      hook_name(h), t->name);
		if (note.oom)
			return -ENOMEM;
		bool seen = false;
		for (size_t k = 0; k < a->out->n_notes && !seen; k++)
			seen = !strcmp(a->out->notes[k], note.data);
		if (!seen)
			e = lint_report_add_note(a->out, "%s", note.data);
	}
	return e;
}

/* ------------------------------------------------------------------ */

static int copy_notes(struct lint_report *out, char *const *notes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char **p = grow_array(out->notes, out->n_notes, sizeof(*p));
		if (!p)
			return -ENOMEM;
		out->notes = p;
		p[out->n_notes] = strdup(notes[i]);
		if (!p[out->n_notes])
			return -ENOMEM;
		out->n_notes++;
	}
	return 0;
}

static int analyse(const struct ruleset *rs, const struct lint_input *in, bool foreign_only, struct lint_report *out)
{
	struct analysis a = {.rs = rs, .in = in, .local = in->local, .out = out};
	size_t made = 0;
	int e = 0;

	memset(out, 0, sizeof(*out));
	a.sels = calloc(rs->n_rules + 1, sizeof(*a.sels));
	struct lint_ranges *ports = calloc(rs->n_port_sets + 1, sizeof(*ports));
	bool *ports_made = calloc(rs->n_port_sets + 1, sizeof(*ports_made));
	if (!a.sels || !ports || !ports_made) {
		free(a.sels);
		free(ports);
		free(ports_made);
		return -ENOMEM;
	}
	for (; e == 0 && made < rs->n_rules; made++)
		e = ir_sel(rs, &rs->rules[made], ports, ports_made, &a.sels[made]);
	for (size_t i = 0; i < rs->n_port_sets; i++)
		lint_ranges_free(&ports[i]);
	free(ports);
	free(ports_made);
	for (size_t i = 0; e == 0 && !foreign_only && i < in->n_users; i++)
		e = check_user(&a, &in->users[i]);
	for (size_t i = 0; e == 0 && !foreign_only && i < in->n_chains; i++)
		e = check_chain(&a, &in->chains[i]);
	for (size_t i = 0; e == 0 && i < in->n_notracks; i++)
		e = check_foreign(&a, &in->notracks[i]);
	for (size_t i = 0; e == 0 && rs->n_timeouts && i < in->n_notracks; i++)
		e = check_timeouts_untracked(&a, &in->notracks[i]);
	if (e == 0)
		e = copy_notes(out, in->notes, in->n_notes);
	for (size_t i = 0; i < made; i++)
		lint_sel_free(&a.sels[i]);
	free(a.sels);
	if (e < 0)
		lint_report_free(out);
	return e;
}

int lint_analyse(const struct ruleset *rs, const struct lint_input *in, struct lint_report *out)
{
	return analyse(rs, in, false, out);
}

int lint_analyse_foreign(const struct ruleset *rs, const struct lint_input *in, struct lint_report *out)
{
	return analyse(rs, in, true, out);
}

int lint_offline(const struct ruleset *rs, struct lint_report *out)
{
	static const char *const note =
	    "offline: the live ruleset was not read, so NAT, ct state, ct helper/mark/zone rules and filter chains "
	    "that would drop untracked packets were not checked; only the policy was";
	char *n = (char *)note;

	(void)rs;
	memset(out, 0, sizeof(*out));
	return copy_notes(out, &n, 1);
}
