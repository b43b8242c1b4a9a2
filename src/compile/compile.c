/*
 * Policy → rule IR.  Everything about directions, families, exceptions and
 * the exposure summary lives here; nothing here touches the system.
 *
 * Directions: a raw-priority prerouting chain sees packets arriving at this
 * host, an output chain sees packets it sends.  Conntrack decides at
 * priority -200 whether to track; a notrack at -300 (raw) marks the skb with
 * the untracked template first.  Both directions of a flow must be notracked,
 * or the reply direction would create an entry on its own.
 */
#include "compile/ruleset.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

struct compiler {
	const struct policy *pol;
	struct ruleset *rs;
	struct diag *d;
	size_t cap_rules, cap_port_sets, cap_addr_sets, cap_icmp_rules;
};

#define GROW(arr, n, cap)                                                                                              \
	({                                                                                                             \
		int _r = 0;                                                                                            \
		if ((n) == (cap)) {                                                                                    \
			size_t _nc = (cap) ? (cap)*2 : 16;                                                             \
			void *_p = realloc((arr), _nc * sizeof(*(arr)));                                               \
			if (_p) {                                                                                      \
				(arr) = _p;                                                                            \
				(cap) = _nc;                                                                           \
			} else {                                                                                       \
				_r = -ENOMEM;                                                                          \
			}                                                                                              \
		}                                                                                                      \
		_r;                                                                                                    \
	})

const char *hook_name(enum hook h)
{
	return h == HOOK_PREROUTING ? "prerouting" : "output";
}

bool ruleset_valid_table_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= RULESET_NAME_MAX - 8 || !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
			return false;
	/* nft's grammar reserves these words; a table named after one needs quoting */
	return strcmp(name, "notrack") && strcmp(name, "untracked");
}

const char *timeout_chain_name(enum hook h)
{
	return h == HOOK_PREROUTING ? "timeout_prerouting" : "timeout_output";
}

const char *rule_chain_name(const struct rule *r)
{
	return r->verdict == VERDICT_CT_TIMEOUT ? timeout_chain_name(r->hook) : hook_name(r->hook);
}

void rule_comment(const struct ruleset *rs, const struct rule *r, char *buf, size_t size)
{
	const char *origin = r->origin;

	if (origin[0] == '$' && origin[1] == '.')
		origin += 2;
	snprintf(buf, size, "%s %s", rs->table, origin);
}

static int oom(struct compiler *c)
{
	return diag_fail(c->d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
}

static int add_port_set(struct compiler *c, const char *prefix, const struct selector *s, int *index)
{
	struct port_set *ps;

	if (GROW(c->rs->port_sets, c->rs->n_port_sets, c->cap_port_sets) < 0)
		return oom(c);
	ps = &c->rs->port_sets[c->rs->n_port_sets];
	memset(ps, 0, sizeof(*ps));
	/* prefixes are short ("svc12"); the bound is for -Wformat-truncation */
	snprintf(ps->name, sizeof(ps->name), "%.*s_ports", (int)sizeof(ps->name) - 7, prefix);
	ps->ranges = malloc(s->n_ports * sizeof(*ps->ranges));
	if (!ps->ranges)
		return oom(c);
	memcpy(ps->ranges, s->ports, s->n_ports * sizeof(*ps->ranges));
	ps->n = s->n_ports;
	/* Measured with 10,000 random ports (bench/sets): an interval set loads
	 * fast but a lookup walks an rbtree, about 0.65 us per miss; a plain set
	 * of 16-bit keys becomes a bitmap that loads in 0.4 s; a dynamic set is
	 * the kernel's rhash, as fast to load as an interval set and under 100 ns
	 * per lookup.  A hash needs every port of a range as an element, so wide
	 * ranges (30000-32767) stay intervals. */
	size_t ports = 0;
	for (size_t i = 0; i < ps->n; i++)
		ports += (size_t)ps->ranges[i].last - ps->ranges[i].first + 1;
	if (ports > PORT_SET_HASH_MAX_PORTS || ports > PORT_SET_HASH_EXPANSION * ps->n)
		ps->repr = PORT_SET_INTERVAL;
	else /* the lookup every packet pays: the cheapest for the sizes real hosts have */
		ps->repr = ports <= PORT_SET_BITMAP_MAX_PORTS ? PORT_SET_BITMAP : PORT_SET_HASH;
	*index = (int)c->rs->n_port_sets++;
	return 0;
}

/* Adds the addresses of one family as a set; *index stays -1 if there are none. */
static int add_addr_set(struct compiler *c, const char *prefix, const char *what, const struct cidr *cidrs, size_t n,
			unsigned family, int *index)
{
	struct addr_set *as;
	size_t count = 0;

	*index = -1;
	for (size_t i = 0; i < n; i++)
		count += cidrs[i].family == family;
	if (!count)
		return 0;
	if (GROW(c->rs->addr_sets, c->rs->n_addr_sets, c->cap_addr_sets) < 0)
		return oom(c);
	as = &c->rs->addr_sets[c->rs->n_addr_sets];
	memset(as, 0, sizeof(*as));
	snprintf(as->name, sizeof(as->name), "%s_%s%s", prefix, what, family == FAMILY_IPV4 ? "4" : "6");
	as->family = family;
	as->cidrs = malloc(count * sizeof(*as->cidrs));
	if (!as->cidrs)
		return oom(c);
	for (size_t i = 0; i < n; i++)
		if (cidrs[i].family == family)
			as->cidrs[as->n++] = cidrs[i];
	*index = (int)c->rs->n_addr_sets++;
	return 0;
}

static int add_rule(struct compiler *c, const struct rule *r)
{
	if (GROW(c->rs->rules, c->rs->n_rules, c->cap_rules) < 0)
		return oom(c);
	c->rs->rules[c->rs->n_rules++] = *r;
	return 0;
}

static bool same_icmp_rule(const struct rule *a, const struct rule *b)
{
	return a->verdict == b->verdict && a->scope == b->scope && a->family == b->family &&
	       a->has_ifname == b->has_ifname &&
	       (!a->has_ifname ||
		(a->ifname.wildcard == b->ifname.wildcard && !strcmp(a->ifname.name, b->ifname.name))) &&
	       a->proto == b->proto && a->port_set == b->port_set && a->port_field == b->port_field &&
	       !strcmp(a->origin, b->origin);
}

/*
 * The ICMP errors about the packets output rule `out` lets leave, one rule a
 * family.  A notrack rule of a service or upstream untracks them (scoped
 * like the entry: addressed to this host, or about one of its own sockets;
 * the socket lookup of an ICMP error is done on the embedded packet); an
 * exception with a protocol or addresses returns them first, so that errors
 * about what it keeps tracked (NAT) stay RELATED and get their NAT undone.
 * The embedded addresses are not compared: an exception with addresses
 * keeps every error about its protocol and ports tracked, a notrack entry
 * with addresses untracks errors about its ports from any address.
 */
static int add_icmp_rules(struct compiler *c, const struct rule *out, enum rule_scope scope)
{
	static const unsigned families[2] = {FAMILY_IPV4, FAMILY_IPV6};
	struct ruleset *rs = c->rs;

	if (out->verdict == VERDICT_NOTRACK ? scope == SCOPE_ANY
					    : !out->proto && out->peer_set < 0 && out->local_set < 0)
		return 0; /* whole interfaces: their prerouting rules take every ICMP error too */
	for (size_t f = 0; f < 2; f++) {
		struct rule r = *out;
		if (!(out->family & families[f]))
			continue;
		r.hook = HOOK_PREROUTING;
		r.icmp_error = true;
		r.scope = out->verdict == VERDICT_NOTRACK ? scope : SCOPE_ANY;
		r.family = families[f];
		r.peer_set = r.local_set = -1;
		r.peer_field = r.local_field = FIELD_NONE;
		snprintf(r.origin, sizeof(r.origin), "%.*s (icmp errors)", (int)sizeof(r.origin) - 16, out->origin);
		if (rs->n_icmp_rules && same_icmp_rule(&rs->icmp_rules[rs->n_icmp_rules - 1], &r))
			continue;
		if (GROW(rs->icmp_rules, rs->n_icmp_rules, c->cap_icmp_rules) < 0)
			return oom(c);
		rs->icmp_rules[rs->n_icmp_rules++] = r;
		if (r.port_set >= 0 && !port_set_is_inline(&rs->port_sets[r.port_set]))
			rs->port_sets[r.port_set].icmp_copy = true;
	}
	return 0;
}

/* Emits the rules of one selector for one hook: one per interface, role and
 * family that the selector needs. */
static int compile_selector_hook(struct compiler *c, const struct selector *s, enum verdict v, enum hook h,
				 enum rule_scope scope, int port_set, const int peer_sets[2], const int local_sets[2])
{
	static const unsigned families[2] = {FAMILY_IPV4, FAMILY_IPV6};
	static const enum role roles[2] = {ROLE_SERVICE, ROLE_UPSTREAM};
	bool incoming = h == HOOK_PREROUTING;

	for (size_t ri = 0; ri < 2; ri++) {
		enum field port_field = FIELD_NONE;

		if (s->n_ports) {
			if (!(s->role & roles[ri]))
				continue;
			/* a service's port is the destination of what arrives and the source of what leaves */
			bool dest = (roles[ri] == ROLE_SERVICE) == incoming;
			port_field = dest ? FIELD_DEST : FIELD_SOURCE;
		} else if (ri > 0) {
			break;
		}
		for (size_t fi = 0; fi < 3; fi++) {
			struct rule r = {
			    .hook = h,
			    .verdict = v,
			    .scope = incoming ? scope : SCOPE_ANY,
			    .proto = s->proto,
			    .port_field = port_field,
			    .port_set = port_set,
			    .peer_set = -1,
			    .local_set = -1,
			};
			bool addressed = s->n_peers || s->n_addresses;

			snprintf(r.origin, sizeof(r.origin), "%s", s->path);
			if (fi == 2) {
				/* one family-neutral rule when no address pins the family */
				if (addressed)
					break;
				r.family = c->pol->families;
			} else {
				if (!addressed || !(c->pol->families & families[fi]))
					continue;
				if (s->n_peers && peer_sets[fi] < 0)
					continue;
				if (s->n_addresses && local_sets[fi] < 0)
					continue;
				r.family = families[fi];
				r.peer_set = peer_sets[fi];
				r.local_set = local_sets[fi];
				/* the remote end is the source of what arrives, the destination of what leaves */
				r.peer_field = r.peer_set < 0 ? FIELD_NONE : incoming ? FIELD_SOURCE : FIELD_DEST;
				r.local_field = r.local_set < 0 ? FIELD_NONE : incoming ? FIELD_DEST : FIELD_SOURCE;
			}
			size_t n_if = s->n_interfaces ? s->n_interfaces : 1;
			for (size_t ii = 0; ii < n_if; ii++) {
				if (s->n_interfaces) {
					r.has_ifname = true;
					r.ifname = s->interfaces[ii];
				}
				int e = add_rule(c, &r);
				if (e == 0 && !incoming)
					e = add_icmp_rules(c, &r, scope);
				if (e < 0)
					return e;
			}
		}
	}
	return 0;
}

struct selector_sets {
	int ports;
	int peers[2];
	int locals[2];
};

static int compile_selector_sets(struct compiler *c, const struct selector *s, const char *prefix,
				 struct selector_sets *out)
{
	int r;

	out->ports = -1;
	if (s->n_ports) {
		r = add_port_set(c, prefix, s, &out->ports);
		if (r < 0)
			return r;
	}
	r = add_addr_set(c, prefix, "peers", s->peers, s->n_peers, FAMILY_IPV4, &out->peers[0]);
	if (r == 0)
		r = add_addr_set(c, prefix, "peers", s->peers, s->n_peers, FAMILY_IPV6, &out->peers[1]);
	if (r == 0)
		r = add_addr_set(c, prefix, "addrs", s->addresses, s->n_addresses, FAMILY_IPV4, &out->locals[0]);
	if (r == 0)
		r = add_addr_set(c, prefix, "addrs", s->addresses, s->n_addresses, FAMILY_IPV6, &out->locals[1]);
	return r;
}

/* ------------------------------------------------------------------ */
/* describing selectors in plain words                                 */

static void describe_ports(struct strbuf *sb, const struct port_range *p, size_t n)
{
	size_t shown = n > 8 ? 6 : n, total = 0;

	for (size_t i = 0; i < n; i++)
		total += (size_t)p[i].last - p[i].first + 1;
	for (size_t i = 0; i < shown; i++) {
		if (p[i].first == p[i].last)
			strbuf_printf(sb, "%s%u", i ? "," : "", p[i].first);
		else
			strbuf_printf(sb, "%s%u-%u", i ? "," : "", p[i].first, p[i].last);
	}
	if (shown < n)
		strbuf_printf(sb, ",... (%zu ports in %zu ranges)", total, n);
}

static void describe_cidrs(struct strbuf *sb, const struct cidr *c, size_t n)
{
	size_t shown = n > 5 ? 4 : n;
	char buf[64];

	for (size_t i = 0; i < shown; i++) {
		cidr_format(&c[i], buf, sizeof(buf));
		strbuf_printf(sb, "%s%s", i ? ", " : "", buf);
	}
	if (shown < n)
		strbuf_printf(sb, " and %zu more", n - shown);
}

static void describe_ifnames(struct strbuf *sb, const struct ifname *ifs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		strbuf_printf(sb, "%s%s%s", i ? (i + 1 == n ? " or " : ", ") : "", ifs[i].name,
			      ifs[i].wildcard ? "+" : "");
}

static void describe_selector(struct strbuf *sb, const struct selector *s, enum role kind)
{
	if (s->proto && s->n_ports) {
		strbuf_printf(sb, "%s/", proto_name(s->proto));
		describe_ports(sb, s->ports, s->n_ports);
	} else if (s->proto) {
		strbuf_printf(sb, "all %s", proto_name(s->proto));
	} else {
		strbuf_puts(sb, "all traffic");
	}
	if (kind == ROLE_SERVICE)
		strbuf_puts(sb, " served by this host");
	else if (kind == ROLE_UPSTREAM)
		strbuf_puts(sb, " to upstreams");
	else if (s->n_ports && s->role == ROLE_SERVICE)
		strbuf_puts(sb, " served by this host");
	else if (s->n_ports && s->role == ROLE_UPSTREAM)
		strbuf_puts(sb, " to upstreams");
	if (s->n_addresses) {
		strbuf_puts(sb, kind == ROLE_UPSTREAM ? " from local " : " at ");
		describe_cidrs(sb, s->addresses, s->n_addresses);
	}
	if (s->n_peers) {
		strbuf_puts(sb, kind == ROLE_UPSTREAM  ? " at "
				: kind == ROLE_SERVICE ? " for clients in "
						       : " with peers ");
		describe_cidrs(sb, s->peers, s->n_peers);
	}
	if (s->n_interfaces) {
		strbuf_puts(sb, " on ");
		describe_ifnames(sb, s->interfaces, s->n_interfaces);
	}
}

static int push_line(struct compiler *c, char ***lines, size_t *n, struct strbuf *sb)
{
	char **p = realloc(*lines, (*n + 1) * sizeof(**lines));
	char *text = strbuf_take(sb);

	if (!p || !text) {
		free(text);
		if (p)
			*lines = p;
		return oom(c);
	}
	*lines = p;
	(*lines)[(*n)++] = text;
	return 0;
}

/* ------------------------------------------------------------------ */
/* overlap between what is notracked and what must stay tracked        */

enum overlap {
	OVERLAP_NONE,
	OVERLAP_PARTIAL,
	OVERLAP_FULL,
};

static enum overlap combine(enum overlap a, enum overlap b)
{
	return a < b ? a : b;
}

/* True when both selectors constrain the same dimension and the constraints
 * meet: "port 22 is a service and kept tracked".  An overlap that exists only
 * because one side leaves a dimension open is how keep_tracked is meant to
 * carve exceptions out of broad notrack entries, and is not worth a warning. */
static bool explicit_meet(const struct selector *n, const struct selector *k)
{
	return (n->n_ports && k->n_ports) || (n->n_peers && k->n_peers) || (n->n_addresses && k->n_addresses) ||
	       (n->n_interfaces && k->n_interfaces);
}

static bool ifname_covers(const struct ifname *outer, const struct ifname *inner)
{
	if (!outer->wildcard)
		return !inner->wildcard && !strcmp(outer->name, inner->name);
	return !strncmp(outer->name, inner->name, strlen(outer->name));
}

static bool ifname_meets(const struct ifname *a, const struct ifname *b)
{
	return ifname_covers(a, b) || ifname_covers(b, a);
}

static enum overlap overlap_ifnames(const struct ifname *n, size_t nn, const struct ifname *k, size_t nk)
{
	bool all = true, any = false;

	if (!nk)
		return OVERLAP_FULL;
	if (!nn)
		return OVERLAP_PARTIAL;
	for (size_t i = 0; i < nn; i++) {
		bool covered = false, met = false;
		for (size_t j = 0; j < nk; j++) {
			covered |= ifname_covers(&k[j], &n[i]);
			met |= ifname_meets(&k[j], &n[i]);
		}
		all &= covered;
		any |= met;
	}
	return all ? OVERLAP_FULL : any ? OVERLAP_PARTIAL : OVERLAP_NONE;
}

static bool prefix_covers(const struct cidr *outer, const struct cidr *inner)
{
	if (outer->family != inner->family || outer->prefix > inner->prefix)
		return false;
	for (unsigned bit = 0; bit < outer->prefix; bit++) {
		uint8_t m = (uint8_t)(0x80 >> (bit % 8));
		if ((outer->addr[bit / 8] & m) != (inner->addr[bit / 8] & m))
			return false;
	}
	return true;
}

static enum overlap overlap_cidrs(const struct cidr *n, size_t nn, const struct cidr *k, size_t nk)
{
	bool all = true, any = false;

	if (!nk)
		return OVERLAP_FULL;
	if (!nn)
		return OVERLAP_PARTIAL;
	for (size_t i = 0; i < nn; i++) {
		bool covered = false, met = false;
		for (size_t j = 0; j < nk; j++) {
			covered |= prefix_covers(&k[j], &n[i]);
			met |= prefix_covers(&k[j], &n[i]) || prefix_covers(&n[i], &k[j]);
		}
		all &= covered;
		any |= met;
	}
	return all ? OVERLAP_FULL : any ? OVERLAP_PARTIAL : OVERLAP_NONE;
}

static enum overlap overlap_ports(const struct selector *n, const struct selector *k)
{
	bool all = true, any = false;

	if (!k->n_ports)
		return OVERLAP_FULL;
	if (!n->n_ports)
		return OVERLAP_PARTIAL;
	if (!(n->role & k->role))
		return OVERLAP_NONE;
	for (size_t i = 0; i < n->n_ports; i++) {
		/* how much of n's range i lies inside k's ranges */
		unsigned inside = 0, width = (unsigned)n->ports[i].last - n->ports[i].first + 1;
		for (size_t j = 0; j < k->n_ports; j++) {
			unsigned lo = n->ports[i].first > k->ports[j].first ? n->ports[i].first : k->ports[j].first;
			unsigned hi = n->ports[i].last < k->ports[j].last ? n->ports[i].last : k->ports[j].last;
			if (lo <= hi)
				inside += hi - lo + 1;
		}
		all &= inside == width;
		any |= inside > 0;
	}
	if (!any)
		return OVERLAP_NONE;
	/* a keep entry for one role only leaves the other role of n notracked */
	return all && (n->role & ~k->role) == 0 ? OVERLAP_FULL : OVERLAP_PARTIAL;
}

static enum overlap overlap_selectors(const struct selector *n, const struct selector *k)
{
	enum overlap o = OVERLAP_FULL;

	if (k->proto && n->proto != k->proto)
		return n->proto ? OVERLAP_NONE : OVERLAP_PARTIAL;
	o = combine(o, overlap_ports(n, k));
	o = combine(o, overlap_cidrs(n->peers, n->n_peers, k->peers, k->n_peers));
	o = combine(o, overlap_cidrs(n->addresses, n->n_addresses, k->addresses, k->n_addresses));
	return combine(o, overlap_ifnames(n->interfaces, n->n_interfaces, k->interfaces, k->n_interfaces));
}

/* Refuses notrack entries that keep_tracked swallows whole, and warns about
 * partial overlaps: the kept part stays tracked, the rest does not. */
static int check_overlaps(struct compiler *c, const struct selector *n, const char *what)
{
	bool partial = false;
	size_t partial_with = 0;

	for (size_t k = 0; k < c->pol->n_keep; k++) {
		const struct selector *keep = &c->pol->keep[k];
		enum overlap o = overlap_selectors(n, keep);

		if (o == OVERLAP_FULL)
			return diag_fail(c->d, DIAG_POLICY, EINVAL, n->path,
					 "%s can never match: everything it selects is kept tracked by %s", what,
					 keep->path);
		if (o == OVERLAP_PARTIAL && !partial && explicit_meet(n, keep)) {
			partial = true;
			partial_with = k;
		}
	}
	if (partial) {
		const struct selector *keep = &c->pol->keep[partial_with];
		if (diag_warn(c->d, n->path, "%s overlaps %s (%s): traffic matching both stays tracked", what,
			      keep->path, keep->reason == KEEP_NAT ? "nat" : "state") < 0)
			return oom(c);
	}
	return 0;
}

static int warn_missing_interfaces(struct compiler *c, const struct compile_host *host, const char *path,
				   const struct ifname *ifs, size_t n)
{
	if (!host || !host->interface_exists)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ip[DIAG_PATH_MAX];
		if (host->interface_exists(&ifs[i], host->ctx))
			continue;
		snprintf(ip, sizeof(ip), "%s[%zu]", path, i);
		if (diag_warn(c->d, ip, "interface \"%s%s\" does not exist on this host (yet); the rule waits for it",
			      ifs[i].name, ifs[i].wildcard ? "+" : "") < 0)
			return oom(c);
	}
	return 0;
}

static int warn_missing_selector_interfaces(struct compiler *c, const struct compile_host *host,
					    const struct selector *s)
{
	char path[DIAG_PATH_MAX];

	snprintf(path, sizeof(path), "%s.interfaces", s->path);
	return warn_missing_interfaces(c, host, path, s->interfaces, s->n_interfaces);
}

/* ------------------------------------------------------------------ */

/* loopback and whole interfaces are selectors without ports */
static void whole_interface_selector(struct selector *s, const char *path, struct ifname *ifn)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%.*s", (int)sizeof(s->path) - 1, path);
	s->role = ROLE_ANY;
	s->interfaces = ifn;
	s->n_interfaces = 1;
}

static int compile_list(struct compiler *c, const struct selector *list, size_t n, const char *prefix, enum verdict v,
			enum role kind)
{
	for (size_t i = 0; i < n; i++) {
		const struct selector *s = &list[i];
		struct selector_sets sets;
		char name[RULESET_NAME_MAX];
		int r;

		snprintf(name, sizeof(name), "%s%zu", prefix, i);
		r = compile_selector_sets(c, s, name, &sets);
		if (r < 0)
			return r;
		/* exceptions may be broader than what they carve out of: they keep tracked */
		/* The kernel's socket lookup (nft socket, xt_socket) knows only
		 * TCP and UDP: an sctp or dccp reply would never match it and
		 * stay tracked while what we send is not, so those upstreams
		 * fall back to "addressed to this host". */
		bool socket_lookup = s->proto == IPPROTO_TCP || s->proto == IPPROTO_UDP;
		enum rule_scope scope = v == VERDICT_RETURN			 ? SCOPE_ANY
					: kind == ROLE_SERVICE || !socket_lookup ? SCOPE_LOCAL_DEST
										 : SCOPE_OWN_SOCKET;
		for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++) {
			r = compile_selector_hook(c, s, v, h, scope, sets.ports, sets.peers, sets.locals);
			if (r < 0)
				return r;
		}
		if (v == VERDICT_RETURN)
			continue;
		_cleanup_strbuf_ struct strbuf sb;
		strbuf_init(&sb);
		describe_selector(&sb, s, kind);
		/* what the fib and socket lookups leave out (see emit_nft.c, put_scope) */
		if (kind == ROLE_SERVICE)
			strbuf_puts(&sb, " (packets addressed to this host's own addresses; traffic it forwards "
					 "stays tracked)");
		else if (scope == SCOPE_OWN_SOCKET)
			strbuf_puts(&sb, " (replies for this host's own sockets; connections it forwards or "
					 "masquerades stay tracked)");
		else
			strbuf_puts(&sb, " (replies addressed to this host's own addresses, masqueraded ones "
					 "included: the socket lookup knows only tcp and udp; traffic it forwards "
					 "stays tracked)");
		r = push_line(c, &c->rs->exposure, &c->rs->n_exposure, &sb);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* guards and chain order                                               */

static bool port_sets_meet(const struct ruleset *rs, int a, int b)
{
	if (a < 0 || b < 0)
		return true;
	const struct port_set *pa = &rs->port_sets[a], *pb = &rs->port_sets[b];
	for (size_t i = 0; i < pa->n; i++)
		for (size_t j = 0; j < pb->n; j++)
			if (pa->ranges[i].first <= pb->ranges[j].last && pb->ranges[j].first <= pa->ranges[i].last)
				return true;
	return false;
}

/* Whether an error both ICMP error rules could match exists. */
static bool icmp_rules_meet(const struct ruleset *rs, const struct rule *a, const struct rule *b)
{
	return a->family == b->family && (!a->proto || !b->proto || a->proto == b->proto) &&
	       (!a->has_ifname || !b->has_ifname || ifname_meets(&a->ifname, &b->ifname)) &&
	       (a->port_field == b->port_field || a->port_set < 0 || b->port_set < 0) &&
	       port_sets_meet(rs, a->port_set, b->port_set);
}

static int describe_icmp(struct compiler *c)
{
	bool any = false;

	for (size_t i = 0; i < c->rs->n_icmp_rules; i++)
		any |= c->rs->icmp_rules[i].verdict == VERDICT_NOTRACK;
	if (!any)
		return 0;
	_cleanup_strbuf_ struct strbuf sb;
	strbuf_init(&sb);
	strbuf_puts(&sb, "ICMP and ICMPv6 errors (destination unreachable, time exceeded, parameter problem, packet "
			 "too big) addressed to this host about the services and upstreams above, matched by the "
			 "protocol and port of the packet they carry, not by its addresses");
	return push_line(c, &c->rs->exposure, &c->rs->n_exposure, &sb);
}

/* An exception for ICMP errors that no ICMP notrack rule could take is only
 * cost on the datapath: drop it, then mark the port sets still looked up. */
static void prune_icmp_rules(struct ruleset *rs)
{
	size_t n = 0;

	for (size_t i = 0; i < rs->n_icmp_rules; i++) {
		const struct rule *r = &rs->icmp_rules[i];
		bool needed = r->verdict == VERDICT_NOTRACK;
		for (size_t j = 0; !needed && j < rs->n_icmp_rules; j++)
			needed =
			    rs->icmp_rules[j].verdict == VERDICT_NOTRACK && icmp_rules_meet(rs, r, &rs->icmp_rules[j]);
		if (needed)
			rs->icmp_rules[n++] = *r;
	}
	rs->n_icmp_rules = n;
	for (size_t i = 0; i < rs->n_port_sets; i++)
		rs->port_sets[i].icmp_copy = false;
	for (size_t i = 0; i < n; i++) {
		int ps = rs->icmp_rules[i].port_set;
		if (ps >= 0 && !port_set_is_inline(&rs->port_sets[ps]))
			rs->port_sets[ps].icmp_copy = true;
	}
}

static const struct cidr loopback_net4 = {.family = FAMILY_IPV4, .prefix = 8, .addr = {127}};

/* Whether prerouting rule r can notrack a packet of `family` addressed to
 * that family's loopback network that arrives on an interface other than lo. */
static bool reaches_loopback_from_outside(const struct ruleset *rs, const struct rule *r, unsigned family,
					  const struct cidr *lo)
{
	if (r->hook != HOOK_PREROUTING || r->verdict != VERDICT_NOTRACK || !(r->family & family))
		return false;
	if (r->has_ifname && !r->ifname_invert && !r->ifname.wildcard && !strcmp(r->ifname.name, "lo"))
		return false;
	if (r->local_set >= 0 && r->local_field == FIELD_DEST) {
		const struct addr_set *as = &rs->addr_sets[r->local_set];
		if (as->family != family)
			return false;
		for (size_t i = 0; i < as->n; i++)
			if (prefix_covers(&as->cidrs[i], lo) || prefix_covers(lo, &as->cidrs[i]))
				return true;
		return false;
	}
	return true;
}

/*
 * With net.ipv4.conf.*.route_localnet=1 (kube-proxy sets it for NodePorts
 * on localhost) the kernel delivers a packet to 127.0.0.1 that arrived on
 * eth0; "fib daddr type local" is true for it.  Such packets must stay
 * tracked so that a conntrack-based guard (kube-proxy's KUBE-FIREWALL,
 * CVE-2020-8558) still sees them: one return, after the exceptions and
 * before any notrack rule that could match them.
 *
 * IPv4 only.  IPv6 has no route_localnet: ipv6_rcv() drops a packet to ::1
 * that arrived on anything but a loopback device (RFC 4291 2.5.3) before
 * the prerouting hook runs, so an IPv6 guard would only cost every packet
 * a rule (tests/integration/route-localnet.sh shows such packets never
 * reach prerouting, even at priority -400).
 */
static int add_guards(struct compiler *c)
{
	struct ruleset *rs = c->rs;
	bool need = false;
	struct rule *g;
	int set, r;

	for (size_t i = 0; !need && (rs->families & FAMILY_IPV4) && i < rs->n_rules; i++)
		need = reaches_loopback_from_outside(rs, &rs->rules[i], FAMILY_IPV4, &loopback_net4);
	for (size_t i = 0; !need && (rs->families & FAMILY_IPV4) && i < rs->n_icmp_rules; i++)
		need = reaches_loopback_from_outside(rs, &rs->icmp_rules[i], FAMILY_IPV4, &loopback_net4);
	if (!need)
		return 0;
	rs->guards = calloc(1, sizeof(*rs->guards));
	if (!rs->guards)
		return oom(c);
	r = add_addr_set(c, "guard", "lo", &loopback_net4, 1, FAMILY_IPV4, &set);
	if (r < 0)
		return r;
	g = &rs->guards[0];
	*g = (struct rule){
	    .hook = HOOK_PREROUTING,
	    .verdict = VERDICT_RETURN,
	    .scope = SCOPE_ANY,
	    .family = FAMILY_IPV4,
	    .has_ifname = true,
	    .ifname_invert = true,
	    .ifname = {.name = "lo"},
	    .port_set = -1,
	    .peer_set = -1,
	    .local_field = FIELD_DEST,
	    .local_set = set,
	};
	snprintf(g->origin, sizeof(g->origin), "route_localnet guard");
	rs->n_guards = 1;
	return 0;
}

/* Exceptions, then the guards, then the notrack rules, then the ICMP
 * error rules (their exceptions first). */
static int order_chains(struct compiler *c)
{
	struct ruleset *rs = c->rs;

	for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++) {
		size_t n = 0;
		rs->chain[h] = calloc(rs->n_rules + rs->n_guards + rs->n_icmp_rules + 1, sizeof(*rs->chain[h]));
		if (!rs->chain[h])
			return oom(c);
		for (size_t i = 0; i < rs->n_rules; i++)
			if (rs->rules[i].hook == h && rs->rules[i].verdict == VERDICT_RETURN)
				rs->chain[h][n++] = &rs->rules[i];
		for (size_t i = 0; i < rs->n_guards; i++)
			if (rs->guards[i].hook == h)
				rs->chain[h][n++] = &rs->guards[i];
		for (size_t i = 0; i < rs->n_rules; i++)
			if (rs->rules[i].hook == h && rs->rules[i].verdict != VERDICT_RETURN)
				rs->chain[h][n++] = &rs->rules[i];
		/* last: other packets fail their first compares (the protocol) */
		for (int v = VERDICT_RETURN; v <= VERDICT_NOTRACK; v++)
			for (size_t i = 0; i < rs->n_icmp_rules; i++)
				if (rs->icmp_rules[i].hook == h && rs->icmp_rules[i].verdict == (enum verdict)v)
					rs->chain[h][n++] = &rs->icmp_rules[i];
		rs->n_chain[h] = n;
	}
	return 0;
}

/*
 * A keep_tracked entry's timeouts: one object per distinct content, and a
 * copy of each of the entry's return rules (same selectors) that attaches
 * it.  The kernel attaches a timeout only to a connection it has not yet
 * confirmed, so only connections that start after an apply get it.
 */
static int add_timeouts(struct compiler *c)
{
	struct ruleset *rs = c->rs;
	const struct policy *pol = c->pol;
	size_t n_sel = 0;

	for (size_t i = 0; i < pol->n_keep; i++)
		n_sel += pol->keep[i].timeouts.proto != 0;
	if (!n_sel)
		return 0;
	rs->timeouts = calloc(n_sel, sizeof(*rs->timeouts));
	rs->timeout_rules = calloc(rs->n_rules + 1, sizeof(*rs->timeout_rules));
	if (!rs->timeouts || !rs->timeout_rules)
		return oom(c);
	for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++) {
		for (size_t i = 0; i < pol->n_keep; i++) {
			const struct selector *s = &pol->keep[i];
			char name[CT_TIMEOUT_NAME_MAX];
			size_t k;

			if (!s->timeouts.proto)
				continue;
			ct_timeouts_name(&s->timeouts, name, sizeof(name));
			for (k = 0; k < rs->n_timeouts && strcmp(rs->timeouts[k].name, name); k++)
				;
			if (k == rs->n_timeouts) {
				snprintf(rs->timeouts[k].name, sizeof(rs->timeouts[k].name), "%s", name);
				rs->timeouts[k].t = s->timeouts;
				rs->n_timeouts++;
			}
			for (size_t j = 0; j < rs->n_rules; j++) {
				const struct rule *r = &rs->rules[j];
				if (r->hook != h || r->verdict != VERDICT_RETURN || strcmp(r->origin, s->path))
					continue;
				struct rule *t = &rs->timeout_rules[rs->n_timeout_rules++];
				*t = *r;
				t->verdict = VERDICT_CT_TIMEOUT;
				t->ct_timeout = (int)k;
			}
		}
	}
	return 0;
}

int compile_policy(const struct policy *pol, const struct compile_options *opt, struct ruleset *rs, struct diag *d)
{
	struct compiler c = {.pol = pol, .rs = rs, .d = d};
	const struct compile_host *host = opt ? opt->host : NULL;
	const char *table = opt && opt->table ? opt->table : RULESET_DEFAULT_TABLE;
	struct ifname lo = {.name = "lo"};
	struct selector whole;
	char path[DIAG_PATH_MAX];
	int r;

	memset(rs, 0, sizeof(*rs));
	if (!ruleset_valid_table_name(table))
		return diag_fail(d, DIAG_USAGE, EINVAL, NULL,
				 "table name \"%s\" must be lower-case letters, digits and '_', under 24 bytes", table);
	snprintf(rs->table, sizeof(rs->table), "%s", table);
	rs->families = pol->families;
	rs->accept_mode = pol->untracked_accept;
	if (pol->n_accept_chains) {
		rs->accept_chains = malloc(pol->n_accept_chains * sizeof(*rs->accept_chains));
		if (!rs->accept_chains)
			return oom(&c);
		memcpy(rs->accept_chains, pol->accept_chains, pol->n_accept_chains * sizeof(*rs->accept_chains));
		rs->n_accept_chains = pol->n_accept_chains;
	}
	if (pol->n_conntrack) {
		rs->conntrack = malloc(pol->n_conntrack * sizeof(*rs->conntrack));
		if (!rs->conntrack)
			return oom(&c);
		memcpy(rs->conntrack, pol->conntrack, pol->n_conntrack * sizeof(*rs->conntrack));
		rs->n_conntrack = pol->n_conntrack;
	}

	/* 1. exceptions first: an early return means conntrack still sees the packet */
	r = compile_list(&c, pol->keep, pol->n_keep, "keep", VERDICT_RETURN, ROLE_ANY);
	if (r < 0)
		goto fail;
	for (size_t k = 0; k < pol->n_keep; k++) {
		_cleanup_strbuf_ struct strbuf sb;
		strbuf_init(&sb);
		describe_selector(&sb, &pol->keep[k], ROLE_ANY);
		strbuf_printf(&sb, " (%s)", pol->keep[k].reason == KEEP_NAT ? "nat" : "state");
		r = push_line(&c, &rs->kept, &rs->n_kept, &sb);
		if (r < 0)
			goto fail;
		snprintf(path, sizeof(path), "%s.interfaces", pol->keep[k].path);
		r = warn_missing_interfaces(&c, host, path, pol->keep[k].interfaces, pol->keep[k].n_interfaces);
		if (r < 0)
			goto fail;
	}

	/* 2. loopback and whole interfaces */
	if (pol->loopback) {
		whole_interface_selector(&whole, "$.notrack.loopback", &lo);
		r = check_overlaps(&c, &whole, "loopback");
		if (r == 0)
			r = compile_selector_hook(&c, &whole, VERDICT_NOTRACK, HOOK_PREROUTING, SCOPE_ANY, -1,
						  (int[]){-1, -1}, (int[]){-1, -1});
		if (r == 0)
			r = compile_selector_hook(&c, &whole, VERDICT_NOTRACK, HOOK_OUTPUT, SCOPE_ANY, -1,
						  (int[]){-1, -1}, (int[]){-1, -1});
		if (r < 0)
			goto fail;
		_cleanup_strbuf_ struct strbuf sb;
		strbuf_init(&sb);
		strbuf_puts(&sb, "all traffic on lo (loopback)");
		r = push_line(&c, &rs->exposure, &rs->n_exposure, &sb);
		if (r < 0)
			goto fail;
	}
	for (size_t i = 0; i < pol->n_interfaces; i++) {
		struct ifname ifn = pol->interfaces[i];
		snprintf(path, sizeof(path), "$.notrack.interfaces[%zu]", i);
		whole_interface_selector(&whole, path, &ifn);
		if (pol->loopback && !ifn.wildcard && !strcmp(ifn.name, "lo")) {
			r = diag_fail(
			    d, DIAG_POLICY, EINVAL, path,
			    "interface \"lo\" is already notracked by $.notrack.loopback; remove one of them");
			goto fail;
		}
		r = check_overlaps(&c, &whole, "interface");
		if (r == 0)
			r = compile_selector_hook(&c, &whole, VERDICT_NOTRACK, HOOK_PREROUTING, SCOPE_ANY, -1,
						  (int[]){-1, -1}, (int[]){-1, -1});
		if (r == 0)
			r = compile_selector_hook(&c, &whole, VERDICT_NOTRACK, HOOK_OUTPUT, SCOPE_ANY, -1,
						  (int[]){-1, -1}, (int[]){-1, -1});
		if (r < 0)
			goto fail;
		_cleanup_strbuf_ struct strbuf sb;
		strbuf_init(&sb);
		strbuf_printf(&sb, "all traffic on %s%s, including traffic this host forwards",
			      ifn.wildcard ? "every interface whose name starts with " : "", ifn.name);
		r = push_line(&c, &rs->exposure, &rs->n_exposure, &sb);
		if (r < 0)
			goto fail;
	}
	r = warn_missing_interfaces(&c, host, "$.notrack.interfaces", pol->interfaces, pol->n_interfaces);
	if (r < 0)
		goto fail;

	/* 3. services and upstreams */
	for (size_t i = 0; i < pol->n_services; i++) {
		r = check_overlaps(&c, &pol->services[i], "service");
		if (r == 0)
			r = warn_missing_selector_interfaces(&c, host, &pol->services[i]);
		if (r < 0)
			goto fail;
	}
	for (size_t i = 0; i < pol->n_upstreams; i++) {
		r = check_overlaps(&c, &pol->upstreams[i], "upstream");
		if (r == 0)
			r = warn_missing_selector_interfaces(&c, host, &pol->upstreams[i]);
		if (r < 0)
			goto fail;
	}
	r = compile_list(&c, pol->services, pol->n_services, "svc", VERDICT_NOTRACK, ROLE_SERVICE);
	if (r == 0)
		r = compile_list(&c, pol->upstreams, pol->n_upstreams, "up", VERDICT_NOTRACK, ROLE_UPSTREAM);
	if (r < 0)
		goto fail;

	prune_icmp_rules(rs);
	r = describe_icmp(&c);
	if (r == 0)
		r = add_guards(&c);
	if (r == 0)
		r = order_chains(&c);
	if (r == 0)
		r = add_timeouts(&c);
	if (r < 0)
		goto fail;
	rs->accept_hooks = ruleset_accept_hooks(rs);
	if (!rs->n_exposure && !rs->n_conntrack && diag_warn(d, "$.notrack", "the policy notracks nothing") < 0) {
		r = oom(&c);
		goto fail;
	}
	return 0;
fail:
	ruleset_free(rs);
	return r;
}

/* Untracked packets of ours reach input and output; they reach forward only
 * through a prerouting rule that matches whatever arrives on an interface
 * other than lo (a whole interface): services and upstream replies are scoped
 * to this host, and what arrives on lo is always delivered locally. */
unsigned ruleset_accept_hooks(const struct ruleset *rs)
{
	unsigned hooks = 0;

	for (size_t i = 0; i < rs->n_rules; i++) {
		const struct rule *r = &rs->rules[i];
		if (r->verdict != VERDICT_NOTRACK)
			continue;
		hooks |= ACCEPT_HOOK_INPUT | ACCEPT_HOOK_OUTPUT;
		if (r->hook == HOOK_PREROUTING && r->scope == SCOPE_ANY &&
		    !(r->has_ifname && !r->ifname.wildcard && !strcmp(r->ifname.name, "lo")))
			hooks |= ACCEPT_HOOK_FORWARD;
	}
	return hooks;
}

void ruleset_free(struct ruleset *rs)
{
	for (size_t i = 0; i < rs->n_port_sets; i++)
		free(rs->port_sets[i].ranges);
	for (size_t i = 0; i < rs->n_addr_sets; i++)
		free(rs->addr_sets[i].cidrs);
	for (size_t i = 0; i < rs->n_exposure; i++)
		free(rs->exposure[i]);
	for (size_t i = 0; i < rs->n_kept; i++)
		free(rs->kept[i]);
	free(rs->port_sets);
	free(rs->addr_sets);
	free(rs->rules);
	free(rs->guards);
	free(rs->icmp_rules);
	free(rs->chain[HOOK_PREROUTING]);
	free(rs->chain[HOOK_OUTPUT]);
	free(rs->accept_chains);
	free(rs->exposure);
	free(rs->kept);
	free(rs->conntrack);
	free(rs->timeouts);
	free(rs->timeout_rules);
	memset(rs, 0, sizeof(*rs));
}
