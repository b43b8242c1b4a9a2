/*
 * The analyser: pure, no sockets, no files.  See lint.h for the packet paths
 * it follows.
 */
#include "lint/lint.h"
#include "lint/lint_xt.h"
#include "util/hash.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* the input                                                            */

/*
 * Grows an array of n elements when n reaches its capacity: 8, then a
 * quarter more each time (the capacity follows from n, so none is stored).
 * Doubling left up to half of a large array reserved; the untouched part is
 * never resident, but what realloc() copies through the heap is: at 10,000
 * kube-proxy rules a quarter at a time is 0.3 MiB less RSS (13.3 -> 13.0 MiB
 * nft, 11.7 -> 11.4 MiB legacy), for a few more reallocs of a growing array.
 */
static void *grow_array(void *p, size_t n, size_t size)
{
	size_t cap = 8;

	while (cap < n)
		cap += cap / 4;
	if (n && cap != n)
		return p;
	return realloc(p, (n ? n + n / 4 : 8) * size);
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
	struct lint_meet *m = push(&in->meets, &in->n_meets, sizeof(*m));
	struct ct_user *u;

	if (!m)
		return NULL;
	u = push(&in->users, &in->n_users, sizeof(*u));
	if (!u) {
		in->n_meets--;
		return NULL;
	}
	m->user = (uint32_t)(in->n_users - 1);
	lint_sel_init(&u->sel, FAMILY_BOTH);
	u->to_addr[family_index(FAMILY_IPV4)].any = u->to_addr[family_index(FAMILY_IPV6)].any = u->to_port.any = true;
	u->chain_index = -1;
	return u;
}

/* ------------------------------------------------------------------ */
/* one user for a rule met from several hooks                           */

/* Of what user_same() compares: the text and the value sets, so that one
 * rule reached by many paths with other selectors spreads out.  (Once per
 * user a reader hands over: the sets that hold no value are mixed in by
 * their shape alone.) */
static uint64_t user_hash(const struct ct_user *u)
{
	const struct lint_ranges *sets[] = {&u->sel.sport,    &u->sel.dport,	&u->sel.saddr[0],
					    &u->sel.saddr[1], &u->sel.daddr[0], &u->sel.daddr[1],
					    &u->to_addr[0],   &u->to_addr[1],	&u->to_port};
	uint64_t shape = u->need, h;

	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		shape = shape * 31 + (sets[i]->any ? 1 : 2 + (uint64_t)sets[i]->n);
	h = hash64(&shape, sizeof(shape));
	/* table, chain and rule: one allocation, in that order (lint_user_set_text) */
	if (u->table)
		h = hash_mix(h, u->table, (size_t)(u->rule + strlen(u->rule) + 1 - u->table));
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		if (sets[i]->n)
			h = hash_mix(h, sets[i]->v, sets[i]->n * sizeof(*sets[i]->v));
	return h;
}

static bool ranges_same(const struct lint_ranges *a, const struct lint_ranges *b)
{
	return a->any == b->any && a->n == b->n && (!a->n || !memcmp(a->v, b->v, a->n * sizeof(*a->v)));
}

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/*
 * Everything but the hooks.  The fields that are not pointers are compared
 * as bytes, on copies whose pointers and hooks are cleared: a field added
 * later is compared without being listed here.  Users are zeroed when made
 * (push()), so their padding compares equal; where it did not, two users
 * would only stay apart, which is safe.  Interface lists are interned: the
 * same list is the same pointer.
 */
static bool user_same(const struct ct_user *a, const struct ct_user *b)
{
	struct ct_user x, y;

	if (!str_same(a->table, b->table) || !str_same(a->chain, b->chain) || !str_same(a->rule, b->rule) ||
	    !ranges_same(&a->sel.sport, &b->sel.sport) || !ranges_same(&a->sel.dport, &b->sel.dport) ||
	    !ranges_same(&a->to_port, &b->to_port))
		return false;
	for (unsigned f = 0; f < FAMILY_SLOTS; f++)
		if (!ranges_same(&a->sel.saddr[f], &b->sel.saddr[f]) ||
		    !ranges_same(&a->sel.daddr[f], &b->sel.daddr[f]) || !ranges_same(&a->to_addr[f], &b->to_addr[f]))
			return false;
	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	struct ct_user *both[] = {&x, &y};
	for (int i = 0; i < 2; i++) {
		struct ct_user *c = both[i];
		c->hooks = 0;
		c->table = c->chain = c->rule = NULL;
		c->sel.sport.v = c->sel.dport.v = c->to_port.v = NULL;
		for (unsigned f = 0; f < FAMILY_SLOTS; f++)
			c->sel.saddr[f].v = c->sel.daddr[f].v = c->to_addr[f].v = NULL;
	}
	return !memcmp(&x, &y, sizeof(x));
}

static uint64_t sealed_hash(const void *ctx, size_t item)
{
	return user_hash(&((const struct lint_input *)ctx)->users[item]);
}

int lint_input_seal_user(struct lint_input *in)
{
	size_t last, h;
	struct ct_user *u;
	struct lint_meet *m;

	if (!in->n_users || !in->n_meets)
		return 0;
	last = in->n_users - 1;
	u = &in->users[last];
	m = &in->meets[in->n_meets - 1];
	if (m->user != last || m->hooks)
		return 0; /* not a user just added: left as it is */
	m->hooks = u->hooks;
	if (u->mark_gate)
		return 0;
	if (slot_index_reserve(&in->sealed, 1, sealed_hash, in) < 0)
		return 0; /* (then it stays a user of its own, as before) */
	for (h = slot_index_first(&in->sealed, user_hash(u)); in->sealed.slot[h]; h = slot_index_next(&in->sealed, h)) {
		struct ct_user *same = &in->users[in->sealed.slot[h] - 1];
		if (!user_same(same, u))
			continue;
		same->hooks |= u->hooks;
		m->user = in->sealed.slot[h] - 1;
		lint_user_free(u);
		in->n_users--;
		return 0;
	}
	slot_index_put(&in->sealed, h, last);
	return 0;
}

void lint_input_drop_last_user(struct lint_input *in)
{
	size_t last, k = 0;

	if (!in->n_users)
		return;
	last = in->n_users - 1;
	if (in->n_meets && in->meets[in->n_meets - 1].user == last && !in->meets[in->n_meets - 1].hooks) {
		/* never sealed (a copy the nft reader made): its one meeting is
		 * the last, and nothing was merged into it */
		in->n_meets--;
	} else {
		for (size_t i = 0; i < in->n_meets; i++)
			if (in->meets[i].user != last)
				in->meets[k++] = in->meets[i];
		in->n_meets = k;
		/* a sealed one leaves the index behind: later users are not
		 * merged with earlier ones any more (only the memory it would
		 * save is lost) */
		for (size_t i = 0; i < in->sealed.cap; i++)
			if (in->sealed.slot[i] == last + 1) {
				slot_index_free(&in->sealed);
				break;
			}
	}
	lint_user_free(&in->users[last]);
	in->n_users--;
}

int lint_user_set_text(struct ct_user *u, const char *table, const char *chain, const char *rule)
{
	/* cut as the findings that quote them are, so that they compare equal */
	size_t lt = strnlen(table, LINT_NAME_MAX - 1), lc = strnlen(chain, LINT_NAME_MAX - 1);
	size_t lr = strnlen(rule, LINT_RULE_MAX - 1);
	char *p = malloc(lt + lc + lr + 3);

	if (!p)
		return -ENOMEM;
	free((char *)u->table);
	u->table = p;
	u->chain = p + lt + 1;
	u->rule = p + lt + lc + 2;
	memcpy(p, table, lt);
	p[lt] = '\0';
	memcpy((char *)u->chain, chain, lc);
	p[lt + 1 + lc] = '\0';
	memcpy((char *)u->rule, rule, lr);
	p[lt + lc + 2 + lr] = '\0';
	return 0;
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

int lint_input_take_users(struct lint_input *dst, struct lint_input *src)
{
	size_t base = dst->n_users;

	for (size_t i = 0; i < src->n_meets; i++) {
		struct lint_meet *m = push(&dst->meets, &dst->n_meets, sizeof(*m));
		if (!m)
			return -ENOMEM;
		m->user = (uint32_t)(base + src->meets[i].user);
		m->hooks = src->meets[i].hooks;
	}
	src->n_meets = 0;
	for (size_t i = 0; i < src->n_users; i++) {
		struct ct_user *u = push(&dst->users, &dst->n_users, sizeof(*u));
		if (!u)
			return -ENOMEM;
		*u = src->users[i];  /* the ranges move with it */
		u->chain_index = -1; /* src's chains stay behind */
		memset(&src->users[i], 0, sizeof(src->users[i]));
	}
	src->n_users = 0;
	slot_index_free(&src->sealed);
	return 0;
}

int lint_chain_add_rule(struct lint_chain *c, enum lint_verdict v, const struct lint_sel *sel, const char *rule)
{
	struct lint_vrule *vr = push(&c->rules, &c->n_rules, sizeof(*vr));

	if (!vr)
		return -ENOMEM;
	vr->verdict = v;
	vr->rule = strndup(rule, LINT_RULE_MAX - 1);
	if (!vr->rule || lint_sel_copy(&vr->sel, sel) < 0) {
		free(vr->rule);
		c->n_rules--;
		return -ENOMEM;
	}
	return 0;
}

void lint_user_free(struct ct_user *u)
{
	free((char *)u->table); /* table, chain and rule */
	u->table = u->chain = u->rule = NULL;
	lint_sel_free(&u->sel);
	for (unsigned f = 0; f < FAMILY_SLOTS; f++)
		lint_ranges_free(&u->to_addr[f]);
	lint_ranges_free(&u->to_port);
}

void lint_input_free(struct lint_input *in)
{
	for (size_t i = 0; i < in->n_users; i++)
		lint_user_free(&in->users[i]);
	for (size_t i = 0; i < in->n_chains; i++) {
		for (size_t j = 0; j < in->chains[i].n_rules; j++) {
			lint_sel_free(&in->chains[i].rules[j].sel);
			free(in->chains[i].rules[j].rule);
		}
		free(in->chains[i].rules);
	}
	for (size_t i = 0; i < in->n_notracks; i++)
		lint_sel_free(&in->notracks[i].sel);
	free(in->notracks);
	for (size_t i = 0; i < in->n_notes; i++)
		free(in->notes[i]);
	lint_ranges_free(&in->local[0]);
	lint_ranges_free(&in->local[1]);
	lint_ranges_free(&in->listen_tcp);
	lint_ranges_free(&in->listen_udp);
	free(in->users);
	free(in->meets);
	slot_index_free(&in->sealed);
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

static bool range_in_prefix(const struct lint_range *r, const struct host_addr *a, unsigned w)
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
static const char *subnet_interface(const struct lint_ranges *rs, unsigned af, const struct host_addr *addrs, size_t n)
{
	unsigned w = family_addr_len(af);
	const char *found = NULL;

	if (rs->any || !rs->n)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool all = addrs[i].family == af;
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
	for (size_t i = 0; s && i < s->n; i++)
		if (!s->v[i].neg)
			return true;
	return false;
}

static void place_dnat(struct ct_user *u, const struct host_addr *addrs, size_t n)
{
	for (unsigned f = 0; f < FAMILY_SLOTS; f++) {
		const struct lint_ranges *to = &u->to_addr[f];
		unsigned w = family_addr_len(family_at(f));
		bool local = false, exact = to->n == 1 && !memcmp(to->v[0].lo, to->v[0].hi, w);
		const char *ifname;

		if (to->any || !to->n)
			continue;
		for (size_t i = 0; i < n; i++)
			if (addrs[i].family == family_at(f) && addr_in_ranges(addrs[i].addr, to, w))
				local = true;
		ifname = subnet_interface(to, family_at(f), addrs, n);
		if ((local && exact) || (ifname && !strcmp(ifname, "lo"))) {
			u->to_place = LINT_PLACE_LOCAL;
		} else if (!local) {
			u->to_place = LINT_PLACE_REMOTE;
			if (ifname) {
				struct lint_ifs t = {.n = 1};
				snprintf(t.v[0].name, sizeof(t.v[0].name), "%s", ifname);
				/* out of memory it stays unknown: only less precise */
				(void)lint_ifs_intern(&t, &u->to_if);
			}
		}
	}
}

/* Whether a masquerade can send packets of family af out of interface name:
 * not lo, not one the rule excludes (! -o docker0), and one with a subnet
 * of that family a route can lead through (an interface holding only a /32,
 * such as NodeLocal DNSCache's 169.254.20.10, has none). */
static bool masquerade_leaves_by(const struct ct_user *u, const char *name, unsigned af, const struct host_addr *addrs,
				 size_t n)
{
	struct lint_ifs t = {0};
	bool routed = false;

	if (u->sel.oif)
		t = *u->sel.oif;
	if (!strcmp(name, "lo"))
		return false;
	if (t.n == LINT_IF_MAX)
		return true; /* no room to test the name: it may */
	snprintf(t.v[t.n].name, sizeof(t.v[t.n].name), "%s", name);
	t.v[t.n].wildcard = t.v[t.n].neg = false;
	t.n++;
	if (!lint_ifs_satisfiable(&t))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(addrs[i].ifname, name) && addrs[i].family == af &&
		    addrs[i].prefix < family_addr_len(af) * 8)
			routed = true;
	return routed;
}

/* A masquerade picks an address of the interface the packet leaves by: its
 * replies come back to one of those, never to another address of this host
 * (a service's 169.254.20.10, docker0's for "! -o docker0"). */
static void masquerade_to(struct ct_user *u, const struct host_addr *addrs, size_t n)
{
	if (!n)
		return; /* the host's addresses are not known */
	for (size_t k = 0; u->sel.oif && k < u->sel.oif->n; k++) {
		const struct lint_if *o = &u->sel.oif->v[k];
		bool present = false;
		for (size_t i = 0; i < n && !o->neg; i++)
			present |= o->wildcard ? !strncmp(addrs[i].ifname, o->name, strlen(o->name))
					       : !strcmp(addrs[i].ifname, o->name);
		if (!o->neg && !present)
			return; /* -o eth0, not there (yet): its address is not known */
	}
	for (unsigned f = 0; f < FAMILY_SLOTS; f++) {
		struct lint_range *v = calloc(n + 1, sizeof(*v));
		unsigned w = family_addr_len(family_at(f));
		size_t m = 0;
		if (!v)
			return; /* then it stays "any": only less precise */
		for (size_t i = 0; i < n; i++)
			if (addrs[i].family == family_at(f) &&
			    masquerade_leaves_by(u, addrs[i].ifname, family_at(f), addrs, n))
				lint_range_prefix(&v[m++], addrs[i].addr, w * 8, w);
		if (lint_ranges_set(&u->to_addr[f], v, m, w) < 0)
			u->to_addr[f].any = true;
		free(v);
	}
}

static int ports_set(struct lint_ranges *r, const uint16_t *ports, size_t n)
{
	struct lint_range *v = calloc(n + 1, sizeof(*v));
	int e;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		lint_range_port(&v[i], ports[i], ports[i]);
	e = lint_ranges_set(r, v, n, LINT_PORT_WIDTH);
	free(v);
	return e;
}

int lint_input_listening(struct lint_input *in, const uint16_t *tcp, size_t n_tcp, const uint16_t *udp, size_t n_udp)
{
	int e = ports_set(&in->listen_tcp, tcp, n_tcp);

	return e < 0 ? e : ports_set(&in->listen_udp, udp, n_udp);
}

/*
 * A source NAT whose destinations sit in one connected subnet (Docker's and
 * Incus' hairpin masquerade: -s 172.17.0.2 -d 172.17.0.2) sends them out of
 * that subnet's interface, and their replies come back in by it.  Without
 * this the replies would be looked for on every interface, and a policy for
 * another one (a router's LAN) would seem to catch them.  The same
 * approximation as a source pinned to a subnet: a route more specific than
 * the connected one could lead elsewhere.
 */
static void source_nat_leaves_by(struct ct_user *u, const struct host_addr *addrs, size_t n)
{
	unsigned fam = u->sel.family & FAMILY_BOTH;
	unsigned af = fam == FAMILY_IPV4 ? FAMILY_IPV4 : FAMILY_IPV6;
	const char *ifname;

	if ((fam != FAMILY_IPV4 && fam != FAMILY_IPV6) || has_positive_if(u->sel.oif))
		return;
	ifname = subnet_interface(&u->sel.daddr[family_index(af)], af, addrs, n);
	if (ifname && strcmp(ifname, "lo"))
		lint_sel_add_if(&u->sel, false, ifname, false, false);
}

/* This host's own addresses: each one, and all of lo's subnets (127.0.0.0/8). */
static void local_addresses(struct lint_input *in, const struct host_addr *addrs, size_t n)
{
	struct lint_range *v = calloc(n + 1, sizeof(*v));

	if (!v)
		return; /* then they stay unknown: only less precise */
	for (unsigned f = 0; f < FAMILY_SLOTS; f++) {
		unsigned w = family_addr_len(family_at(f));
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (addrs[i].family == family_at(f))
				lint_range_prefix(&v[m++], addrs[i].addr,
						  strcmp(addrs[i].ifname, "lo") ? w * 8 : addrs[i].prefix, w);
		if (lint_ranges_set(&in->local[f], v, m, w) < 0)
			in->local[f].n = 0;
	}
	free(v);
}

static int to_this_host(struct lint_sel *s, const struct lint_ranges local[FAMILY_SLOTS]);

void lint_input_apply_host(struct lint_input *in, const struct host_addr *addrs, size_t n)
{
	local_addresses(in, addrs, n);
	for (size_t i = 0; i < in->n_users; i++) {
		struct ct_user *u = &in->users[i];
		unsigned fam = u->sel.family & FAMILY_BOTH;

		/* fib daddr type local, --dst-type LOCAL: this host's addresses
		 * (out of memory, the selector stays as wide as it was) */
		if (u->sel.to_host && n)
			(void)to_this_host(&u->sel, in->local);
		if ((u->need == CT_NEED_DNAT) && u->to_place == LINT_PLACE_UNKNOWN)
			place_dnat(u, addrs, n);
		if (u->need == CT_NEED_SNAT || u->need == CT_NEED_MASQUERADE)
			source_nat_leaves_by(u, addrs, n);
		if (u->need == CT_NEED_MASQUERADE)
			masquerade_to(u, addrs, n);
		/* only one family, and sources pinned to one connected subnet */
		if (fam != FAMILY_IPV4 && fam != FAMILY_IPV6)
			continue;
		if (has_positive_if(u->sel.iif))
			continue;
		unsigned af = fam == FAMILY_IPV4 ? FAMILY_IPV4 : FAMILY_IPV6;
		const char *ifname = subnet_interface(&u->sel.saddr[family_index(af)], af, addrs, n);
		if (ifname)
			lint_sel_add_if(&u->sel, true, ifname, false, false);
	}
}

/* ------------------------------------------------------------------ */
/* our rules as selectors                                               */

static int port_ranges(const struct port_set *ps, struct lint_ranges *out)
{
	struct lint_range *v = calloc(ps->n ? ps->n : 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < ps->n; i++)
		lint_range_port(&v[i], ps->ranges[i].first, ps->ranges[i].last);
	/* 10,000 ports are 320 KB of ranges: not copied again */
	return lint_ranges_take(out, v, ps->n, LINT_PORT_WIDTH);
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
		r = lint_sel_and_addrs(s, f == FIELD_SOURCE, as->family == FAMILY_IPV4 ? FAMILY_IPV4 : FAMILY_IPV6, &t);
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
	if (r == 0 && ru->has_ifname)
		r = lint_sel_add_if(s, ru->hook == HOOK_PREROUTING, ru->ifname.name, ru->ifname.wildcard,
				    ru->ifname_invert);
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
	bool kept_port;	  /* a source NAT's reply to a client port outside the ephemeral range */
	bool socket_mark; /* a ct mark that only a marking socket's flows carry (socket_marked()) */
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
	if (h == HOOK_PREROUTING && lint_sel_add_if(&pr->sel, true, "lo", false, true) < 0) {
		lint_sel_free(&pr->sel);
		return -ENOMEM;
	}
	pr->hook = h;
	pr->reply = reply;
	pr->kept_port = false;
	pr->socket_mark = false;
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

	if (lint_ifs_implies(o->iif, &not_lo))
		return 0; /* it never sees lo */
	e = lint_sel_copy(&lo, o);
	if (e < 0)
		return e;
	lo.iif = lo.oif = NULL;
	e = lint_sel_add_if(&lo, false, "lo", false, false);
	if (e == 0)
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
	for (unsigned f = 0; f < FAMILY_SLOTS; f++) {
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
	/* A source NAT to a port range keeps the client's port when it is in
	 * the range and free (libvirt's "masquerade to :1024-65535"): replies
	 * come back to the client's port, or to one of the range when it had to
	 * move.  Only fully-random always picks anew. */
	if (!e && !dnat && !u->to_port.any && !u->nat_random) {
		struct lint_ranges kept = {0};
		e |= lint_ranges_copy(&kept, &o->sport);
		e |= lint_ranges_and(&kept, &u->to_port, LINT_PORT_WIDTH);
		if (!e && !lint_ranges_empty(&kept)) {
			lint_ranges_free(&r->dport);
			r->dport = kept;
		} else {
			lint_ranges_free(&kept);
		}
	}
	/* the reply arrives where the original left, and leaves where it arrived */
	if (dnat) {
		r->iif = u->to_if;
		r->oif = o->iif;
	} else {
		r->iif = o->oif;
		r->oif = o->iif;
	}
	for (unsigned f = 0; f < FAMILY_SLOTS; f++)
		if (lint_ranges_empty(&r->saddr[f]) || lint_ranges_empty(&r->daddr[f]))
			r->family &= ~family_at(f);
	return e ? -ENOMEM : 0;
}

/* A forwarded packet is not addressed to this host. */
static int not_to_this_host(struct lint_sel *s, const struct lint_ranges local[FAMILY_SLOTS])
{
	for (unsigned f = 0; f < FAMILY_SLOTS; f++) {
		struct lint_ranges t = {0};
		int e;
		if (!local[f].n)
			continue;
		e = lint_ranges_copy(&t, &local[f]);
		if (e == 0)
			e = lint_ranges_not(&t, family_addr_len(family_at(f)));
		if (e == 0)
			e = lint_ranges_and(&s->daddr[f], &t, family_addr_len(family_at(f)));
		lint_ranges_free(&t);
		if (e < 0)
			return e;
		if (lint_ranges_empty(&s->daddr[f]))
			s->family &= ~family_at(f);
	}
	return 0;
}

/* What a service's rule matches: addressed to this host (when its
 * addresses are known). */
static int to_this_host(struct lint_sel *s, const struct lint_ranges local[FAMILY_SLOTS])
{
	for (unsigned f = 0; f < FAMILY_SLOTS; f++) {
		int e;
		if (!local[f].n)
			continue;
		e = lint_ranges_and(&s->daddr[f], &local[f], family_addr_len(family_at(f)));
		if (e < 0)
			return e;
		if (lint_ranges_empty(&s->daddr[f]))
			s->family &= ~family_at(f);
	}
	return 0;
}

/* Whether every destination of s is an address of this host (its
 * addresses known, at least one family left). */
static bool to_own_address(const struct lint_sel *s, const struct lint_ranges local[FAMILY_SLOTS])
{
	bool any = false;

	for (unsigned f = 0; f < FAMILY_SLOTS; f++) {
		if (!(s->family & family_at(f)))
			continue;
		if (!local[f].n || s->daddr[f].any ||
		    !lint_ranges_subset(&s->daddr[f], &local[f], family_addr_len(family_at(f))))
			return false;
		any = true;
	}
	return any;
}

/*
 * A source NAT on postrouting from one address to that same address (Docker's
 * "MASQ TO OWN PORT", Incus' hairpin masquerade).  A machine never routes a
 * packet to itself through another host, so every packet it takes was
 * addressed elsewhere when it arrived, to a port this host publishes, and
 * a DNAT turned it back to its sender; its address and port are the ones
 * after that DNAT.  Our raw rules saw the packet before the DNAT, so its
 * original direction is the DNAT's to check (there, by the port it had
 * then); comparing ours with the port after DNAT would be wrong both ways.
 */
static bool hairpin(const struct ct_user *u)
{
	unsigned fam = u->sel.family & FAMILY_BOTH;
	unsigned af = fam == FAMILY_IPV4 ? FAMILY_IPV4 : FAMILY_IPV6;
	const struct lint_ranges *s = &u->sel.saddr[family_index(af)], *d = &u->sel.daddr[family_index(af)];
	unsigned w = family_addr_len(af);

	if (u->need != CT_NEED_SNAT && u->need != CT_NEED_MASQUERADE)
		return false;
	if ((fam != FAMILY_IPV4 && fam != FAMILY_IPV6) || u->hooks != LINT_HOOK_POSTROUTING)
		return false;
	if (s->any || d->any || s->n != 1 || d->n != 1)
		return false;
	return !memcmp(s->v[0].lo, s->v[0].hi, w) && !memcmp(s->v[0].lo, d->v[0].lo, w) &&
	       !memcmp(d->v[0].lo, d->v[0].hi, w);
}

/*
 * kept_port: the flow's client port is not taken to be ephemeral.  A
 * source NAT keeps the client's port whenever it is free, and UDP clients
 * often bind a fixed one (NTP 123, IKE 500/4500, WireGuard's ListenPort,
 * SIP 5060): their replies come back to that port.
 */
static int build_probes(const struct ct_user *u, const struct lint_ranges host[FAMILY_SLOTS], bool kept_port,
			struct probes *p)
{
	/* a rule for what this host sends (fib saddr type local) never sees a
	 * forwarded packet, even on postrouting */
	bool arriving =
	    (u->hooks & (LINT_HOOK_PREROUTING | LINT_HOOK_INPUT | LINT_HOOK_FORWARD | LINT_HOOK_POSTROUTING)) &&
	    !u->from_host;
	/* a rule that names an input interface never sees a packet this host sends */
	bool local = (u->hooks & (LINT_HOOK_OUTPUT | LINT_HOOK_POSTROUTING)) && !has_positive_if(u->sel.iif);
	/* this host's own packets already carry an address of the interface
	 * they leave by, the one a masquerade would pick: it changes nothing
	 * for them (an SNAT to another address does) */
	if (u->need == CT_NEED_MASQUERADE)
		local = false;
	bool source_nat = u->need == CT_NEED_SNAT || u->need == CT_NEED_MASQUERADE;
	struct lint_sel o, r;
	int e;

	p->n = 0;
	/* A masquerade of what this host sends into an interface (Docker's
	 * "MASQUERADE FROM HOST" on its bridges) changes only packets whose
	 * source is not already that interface's address: the host picks it
	 * for its own connections out there.  What is left are loopback-sourced
	 * flows a DNAT sent into the bridge (route_localnet), and that DNAT is
	 * a conntrack user of its own, checked where our rules meet it. */
	if (u->from_host && u->need == CT_NEED_MASQUERADE)
		return 0;
	e = lint_sel_copy(&o, &u->sel);
	if (e < 0)
		return e;
	if (kept_port) {
		e = 0;
	} else if (is_nat(u->need) && o.sport.any) {
		/* a NAT rule sees the first packet of a flow: its source port is the client's */
		e = ephemeral(&o.sport);
		o.sport.any = false;
	} else {
		e = client_port(&o);
	}
	if (e == 0 && is_nat(u->need) && (u->hooks & (LINT_HOOK_PREROUTING | LINT_HOOK_INPUT)))
		/* NAT on arrival is never decided for a packet arriving on lo: its
		 * flow began on output (see probe_add) */
		e = lint_sel_add_if(&o, true, "lo", false, true);
	if (e == 0 && source_nat)
		/* source NAT of a packet to this host itself (out through lo) changes
		 * nothing that matters; without this every loopback notrack would
		 * "break" Docker's masquerade */
		e = lint_sel_add_if(&o, false, "lo", false, true);
	bool forwarded_only = arriving && !(u->hooks & (LINT_HOOK_PREROUTING | LINT_HOOK_INPUT));
	/* a hairpin: nothing arrives as it matches, only its replies are probed */
	if (e == 0 && forwarded_only && !hairpin(u)) {
		/* only forwarded packets reach it from prerouting */
		struct lint_sel fwd;
		e = lint_sel_copy(&fwd, &o);
		if (e == 0)
			e = not_to_this_host(&fwd, host);
		if (e == 0)
			e = probe_add(p, HOOK_PREROUTING, false, SCOPES_FORWARDED, &fwd);
		lint_sel_free(&fwd);
	} else if (e == 0 && arriving && !forwarded_only) {
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
		for (size_t i = 0; i < p->n; i++)
			p->v[i].kept_port = kept_port && p->v[i].reply;
		lint_sel_free(&r);
	}
	if (e == 0 && local && source_nat && arriving)
		e = probe_add(p, HOOK_OUTPUT, false, SCOPES_ALL, &o);
	lint_sel_free(&o);
	for (size_t i = 0; e == 0 && i < p->n; i++)
		if (p->v[i].hook == HOOK_OUTPUT && !p->v[i].reply && to_own_address(&p->v[i].sel, host))
			/* this host routes a packet for one of its own addresses
			 * through lo (the local table), whatever the rule says */
			e = lint_sel_add_if(&p->v[i].sel, false, "lo", false, false);
	/* a kept port matters where the replies come back; the flow's own
	 * packets were probed already, with the client's port as it is */
	for (size_t i = 0, n = p->n; e == 0 && kept_port && i < n; i++) {
		if (p->v[i].reply)
			continue;
		lint_sel_free(&p->v[i].sel);
		memmove(&p->v[i], &p->v[i + 1], (n - i - 1) * sizeof(p->v[0]));
		p->n = --n;
		i--;
	}
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
	struct lint_sel *guard_sels;	 /* one per route_localnet guard (rs->guards) */
	struct lint_report *out;
};

static bool chain_gets_accept(const struct ruleset *rs, const struct lint_chain *c);
static const char *dropper(const struct lint_chain *c, size_t from, const struct lint_sel *x, unsigned dirs);
static int to_this_host(struct lint_sel *s, const struct lint_ranges local[FAMILY_SLOTS]);

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

/* A new finding for (origin, where): NULL with *dup set if there is one
 * already, NULL alone when out of memory. */
static struct lint_finding *new_finding(struct lint_report *out, enum lint_kind kind, const char *origin,
					const char *family, const char *table, const char *chain, const char *rule,
					bool *dup)
{
	struct lint_finding *f;

	*dup = have_finding(out, origin, family, table, chain, rule);
	if (*dup || !(f = add_finding(out)))
		return NULL;
	f->kind = kind;
	snprintf(f->origin, sizeof(f->origin), "%s", origin);
	snprintf(f->family, sizeof(f->family), "%s", family);
	snprintf(f->table, sizeof(f->table), "%s", table);
	snprintf(f->chain, sizeof(f->chain), "%s", chain);
	snprintf(f->rule, sizeof(f->rule), "%s", rule);
	return f;
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

	for (size_t i = 0; s && i < s->n; i++) {
		if (s->v[i].neg)
			continue;
		if (found)
			return NULL;
		found = &s->v[i];
	}
	return found;
}

/* One keep_tracked candidate: its text, and the packets it keeps where the
 * probe meets our rule. */
struct keep_try {
	struct strbuf text;
	struct lint_sel sel;
};

static int keep_cidrs(struct keep_try *t, const char *field, const struct lint_ranges *r, unsigned af, bool src,
		      size_t max)
{
	struct lint_sel *k = &t->sel;
	int e;

	strbuf_printf(&t->text, ", \"%s\": [", field);
	if (lint_ranges_prefixes(r, family_addr_len(af), max, &t->text) <= 0)
		return -1;
	strbuf_putc(&t->text, ']');
	e = lint_sel_and_addrs(k, src, af, r);
	return e < 0 ? e : 0;
}

/*
 * A keep_tracked entry that would keep the caught packets (x) tracked, in the
 * policy's own terms, tried in this order: the ports the foreign rule names
 * (original direction only: a reply's ports are the other way round), this
 * host's addresses it names (with the interface), the interface the packets
 * arrive on, the remote addresses.  Each must compile (addresses as CIDR
 * prefixes) and must leave some of our entry (ours) untracked: a suggestion
 * that would keep all of it tracked is no suggestion.  False if none fits.
 */
static bool suggest_keep(const struct ct_user *u, const struct probe *p, const struct lint_sel *x,
			 const struct lint_sel *ours, struct strbuf *out)
{
	const char *proto = proto_word(x->proto);
	const struct lint_if *ifn = p->hook == HOOK_PREROUTING ? single_if(x->iif) : single_if(x->oif);
	bool in = p->hook == HOOK_PREROUTING;
	unsigned fam = x->family & FAMILY_BOTH, dirs = hook_dirs(p->hook);
	unsigned af = fam == FAMILY_IPV6 ? FAMILY_IPV6 : FAMILY_IPV4;
	bool one_family = fam == FAMILY_IPV4 || fam == FAMILY_IPV6;
	const struct lint_ranges *peers = in ? &x->saddr[family_index(af)] : &x->daddr[family_index(af)];
	const struct lint_ranges *mine = in ? &x->daddr[family_index(af)] : &x->saddr[family_index(af)];
	bool found = false;

	for (int c = 0; c < 5 && !found; c++) {
		struct keep_try t = {0};
		bool ok = true;
		strbuf_init(&t.text);
		lint_sel_init(&t.sel, FAMILY_BOTH);
		strbuf_printf(&t.text, "{\"reason\": \"%s\"", is_nat(u->need) ? "nat" : "state");
		switch (c) {
		case 0: /* the ports */
			ok = proto && !p->reply && (!u->sel.dport.any || !u->sel.sport.any) &&
			     (u->sel.dport.any ? u->sel.sport.n : u->sel.dport.n) <= 8;
			if (ok) {
				bool dport = !u->sel.dport.any;
				/* arriving for a local port is what services name; leaving for one, upstreams */
				strbuf_printf(&t.text, ", \"proto\": \"%s\", \"ports\": ", proto);
				ports_json(dport ? &u->sel.dport : &u->sel.sport, &t.text);
				strbuf_printf(&t.text, ", \"role\": \"%s\"", dport == in ? "service" : "upstream");
				lint_sel_and_proto(&t.sel, x->proto);
				ok = lint_sel_and_ports(&t.sel, !dport, dport ? &u->sel.dport : &u->sel.sport) == 0;
			}
			break;
		case 1: /* the interface and this host's addresses (KUBE-FIREWALL's 127.0.0.0/8) */
		case 2: /* the interface */
		case 3: /* this host's addresses */
			ok = (c == 3 || ifn) && (c == 2 || (one_family && !mine->any));
			if (ok && c != 3) {
				strbuf_printf(&t.text, ", \"interfaces\": [\"%s%s\"]", ifn->name,
					      ifn->wildcard ? "+" : "");
				ok = lint_sel_add_if(&t.sel, in, ifn->name, ifn->wildcard, false) == 0;
			}
			if (ok && c != 2)
				ok = keep_cidrs(&t, "addresses", mine, af, !in, 4) == 0;
			break;
		default: /* the remote addresses */
			ok = one_family && !peers->any && keep_cidrs(&t, "peers", peers, af, in, 8) == 0;
			break;
		}
		strbuf_putc(&t.text, '}');
		if (ok && !t.text.oom && !lint_sel_covers(&t.sel, ours, dirs)) {
			strbuf_puts(out, t.text.data);
			found = true;
		}
		strbuf_cleanup(&t.text);
		lint_sel_free(&t.sel);
	}
	return found;
}

/*
 * What needs something the ruleset does not show is said in a note, which
 * does not refuse the policy: the finding just added (the last one) becomes
 * the note.  Two cases:
 *  - a client port a source NAT keeps is a finding only where the ruleset
 *    gives evidence of it (the NAT rule names that source port: then the
 *    first pass, with the port as the rule says, reports it).  Otherwise a
 *    client behind the NAT only *could* bind port 53 or 123;
 *  - a ct mark only a marking socket's flows carry (socket_marked()): which
 *    ports and interface that socket uses is not in the ruleset.
 */
static int finding_to_note(struct lint_report *out, const char *msg)
{
	out->n--;
	for (size_t i = 0; i < out->n_notes; i++)
		if (!strcmp(out->notes[i], msg))
			return 0;
	return lint_report_add_note(out, "%s", msg);
}

static int report_user(struct analysis *a, const struct ct_user *u, size_t rule_i, const struct probe *p,
		       const struct lint_sel *x, size_t partly_by, const char *then)
{
	const struct rule *ru = &a->rs->rules[rule_i];
	_cleanup_strbuf_ struct strbuf m = {0};
	struct lint_finding *f;
	const char *what = ct_need_name(u->need);

	bool dup;

	f = new_finding(a->out,
			is_nat(u->need)			   ? LINT_NAT
			: u->need == CT_NEED_STATE || then ? LINT_STATE
							   : LINT_CT,
			ru->origin, u->family, u->table, u->chain, u->rule, &dup);
	if (!f)
		return dup ? 0 : -ENOMEM;
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
	case LINT_NAT:
		if (p->kept_port)
			strbuf_puts(&m,
				    ": NAT may break for that traffic, but only for a client behind it that sends from "
				    "one of those ports itself (NTP 123, IKE 500/4500, WireGuard, SIP 5060): it keeps "
				    "that port through the source NAT, and its replies would be caught. Nothing in the "
				    "ruleset says such a client exists, so this does not refuse the policy; if one "
				    "does, keep its traffic tracked.");
		else
			strbuf_puts(&m, ": NAT would break for that traffic.");
		break;
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
		if (p->socket_mark)
			strbuf_puts(&m,
				    " But only the flows whose packets a socket marks carry that ct mark (wg-quick's "
				    "FwMark: the tunnel's own UDP to its endpoint), and it breaks only if the policy "
				    "untracks that flow. Nothing in the ruleset says which ports or interface it uses, "
				    "so this does not refuse the policy; if it does, keep the tunnel's UDP tracked.");
		break;
	}
	if (partly_by != (size_t)-1)
		strbuf_printf(&m, " %s keeps only part of it tracked.", a->rs->rules[partly_by].origin);
	{
		_cleanup_strbuf_ struct strbuf k = {0};
		if (suggest_keep(u, p, x, &a->sels[rule_i], &k))
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
	if (m.oom)
		return -ENOMEM;
	if (p->kept_port || p->socket_mark)
		return finding_to_note(a->out, m.data);
	snprintf(f->msg, sizeof(f->msg), "%s", m.data);
	return 0;
}

static bool within_loopback_net(const struct lint_ranges *r)
{
	static const uint8_t lo_net[4] = {127, 0, 0, 0};
	struct lint_range net;

	lint_range_prefix(&net, lo_net, 8, LINT_V4_WIDTH);
	return !r->any && r->n && memcmp(r->v[0].lo, net.lo, 4) >= 0 && memcmp(r->v[r->n - 1].hi, net.hi, 4) <= 0;
}

/* The finding of state_drop_bypassed(): who gets in. */
static int report_opened(struct analysis *a, const struct ct_user *u, size_t rule_i, const struct probe *p,
			 const struct lint_sel *x, size_t partly_by)
{
	const struct rule *ru = &a->rs->rules[rule_i];
	const struct lint_chain *c = &a->in->chains[u->chain_index];
	_cleanup_strbuf_ struct strbuf m = {0}, k = {0};
	struct lint_finding *f;
	char states[80];

	bool dup;

	f = new_finding(a->out, LINT_STATE, ru->origin, u->family, u->table, u->chain, u->rule, &dup);
	if (!f)
		return dup ? 0 : -ENOMEM;
	strbuf_init(&m);
	strbuf_init(&k);
	lint_ct_state_words(~u->ct_state & (LINT_CT_INVALID | LINT_CT_ESTABLISHED | LINT_CT_RELATED | LINT_CT_NEW),
			    states, sizeof(states));
	strbuf_puts(&m, "security: ");
	describe_ours(a, rule_i, &m);
	strbuf_printf(&m,
		      " would open what %s drop in %s %s %s (%s) keeps out: today it drops these packets unless "
		      "their connection is %s; untracked, the untracked accept at the head of %s %s %s takes them "
		      "before they reach it. So ",
		      u->kube ? "kube-proxy's" : "the", u->family, u->table, u->chain, u->rule, states, c->family_name,
		      c->table, c->chain);
	/* in the rules' own terms, without the probe's bookkeeping (not lo, not to this host) */
	struct lint_sel words;
	if (lint_sel_copy(&words, &u->sel) == 0) {
		if (lint_sel_and(&words, &a->sels[rule_i]) == 0)
			lint_sel_format(&words, &k);
		lint_sel_free(&words);
	}
	strbuf_printf(&m, "%s would get in", k.len ? k.data : "that traffic");
	if (within_loopback_net(&x->daddr[family_index(FAMILY_IPV4)]))
		strbuf_puts(&m, ": a neighbour could reach services bound only to 127.0.0.1 (what this rule guards "
				"against, CVE-2020-8558)");
	else if (!x->daddr[family_index(FAMILY_IPV4)].any || !x->daddr[family_index(FAMILY_IPV6)].any ||
		 has_positive_if(x->oif))
		strbuf_puts(&m, ": new connections to those hosts, which only they could open before");
	strbuf_putc(&m, '.');
	if (partly_by != (size_t)-1)
		strbuf_printf(&m, " %s keeps only part of it tracked.", a->rs->rules[partly_by].origin);
	strbuf_reset(&k);
	if (suggest_keep(u, p, x, &a->sels[rule_i], &k))
		strbuf_printf(&m, " Add a keep_tracked entry such as %s, or narrow the %s.", k.data,
			      entry_kind(ru->origin));
	else
		strbuf_printf(&m, " Add a keep_tracked entry for that traffic, or narrow the %s.",
			      entry_kind(ru->origin));
	snprintf(f->msg, sizeof(f->msg), "%s", m.data ? m.data : "");
	return m.oom || k.oom ? -ENOMEM : 0;
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

/* Whether a packet this host sends leaves through lo: then its destination
 * is one of this host's addresses (a ClusterIP or an outside address is
 * routed elsewhere, whatever port it names). */
static bool leaves_by_lo(const struct lint_sel *x)
{
	const struct lint_if lo = {.name = "lo"};

	return lint_ifs_implies(x->oif, &lo);
}

/*
 * A drop that needs a state (! ct state established,related drop:
 * Tailscale's stateful filtering, KUBE-FIREWALL's localnet guard) takes
 * untracked packets too, but only if they reach it: where our untracked
 * accept sits at the head of its base chain, they are accepted first, and
 * what the drop keeps out today gets in.  Only arriving packets: a drop of
 * what this host sends keeps nobody out.
 */
static bool state_drop_bypassed(const struct analysis *a, const struct ct_user *u)
{
	const uint32_t all = LINT_CT_INVALID | LINT_CT_ESTABLISHED | LINT_CT_RELATED | LINT_CT_NEW | LINT_CT_UNTRACKED;

	if (u->need != CT_NEED_STATE || u->accepts || !(u->ct_state & LINT_CT_UNTRACKED) ||
	    (u->ct_state & all) == all || u->chain_index < 0 || (size_t)u->chain_index >= a->in->n_chains)
		return false;
	if (!(u->hooks & (LINT_HOOK_PREROUTING | LINT_HOOK_INPUT | LINT_HOOK_FORWARD)))
		return false;
	return chain_gets_accept(a->rs, &a->in->chains[u->chain_index]);
}

/*
 * A ct mark save gated by a packet mark (wg-quick's full-tunnel client:
 * "meta l4proto udp meta mark 0xca6c ct mark set meta mark" on postrouting),
 * and a restore ("meta mark set ct mark" on prerouting) when every ct mark
 * writer of the ruleset is such a save.  The ct mark is then set only on the
 * flows whose packets a socket marked (SO_MARK: WireGuard's FwMark); on
 * every other flow the restore finds no ct mark, and untracked it changes
 * nothing.  Restoring that mark on the tunnel's replies is what lets them
 * pass the strict reverse-path check (src_valid_mark) instead of being
 * looked up through the tunnel's own routing table.  Such a socket's peer
 * is another host, so its flow never leaves or arrives through lo.  With no
 * writer at all, the restore is checked as it stands: a ct mark may be set
 * from outside the ruleset (conntrack -U).
 */
static bool socket_marked(const struct lint_input *in, const struct ct_user *u)
{
	size_t writers = 0;

	if (u->need != CT_NEED_MARK)
		return false;
	if (u->ct_write)
		return u->pkt_mark;
	for (size_t i = 0; i < in->n_users; i++) {
		const struct ct_user *w = &in->users[i];
		if (w->need != CT_NEED_MARK || !w->ct_write)
			continue;
		if (!w->pkt_mark)
			return false;
		writers++;
	}
	return writers > 0;
}

static int check_probes(struct analysis *a, const struct ct_user *u, struct probes *pp, bool opens);

/* socket_marked(): checked without lo, and what meets it is a note */
static int check_socket_marked(struct analysis *a, const struct ct_user *u)
{
	struct ct_user nolo = *u;
	struct probes p;
	int e;

	e = lint_sel_copy(&nolo.sel, &u->sel);
	if (e < 0)
		return e;
	e = lint_sel_add_if(&nolo.sel, true, "lo", false, true);
	if (e == 0)
		e = lint_sel_add_if(&nolo.sel, false, "lo", false, true);
	if (e == 0)
		e = build_probes(&nolo, a->local, false, &p);
	else
		p.n = 0;
	for (size_t i = 0; e == 0 && i < p.n; i++)
		p.v[i].socket_mark = true;
	if (e == 0)
		e = check_probes(a, &nolo, &p, false);
	probes_free(&p);
	lint_sel_free(&nolo.sel);
	return e;
}

static int check_user(struct analysis *a, const struct ct_user *u)
{
	bool opens = state_drop_bypassed(a, u);
	struct probes p;
	int e;

	if (!opens && state_user_is_noise(u))
		return 0;
	if (socket_marked(a->in, u))
		return check_socket_marked(a, u);
	e = build_probes(u, a->local, false, &p);
	if (e == 0)
		e = check_probes(a, u, &p, opens);
	probes_free(&p);
	/* a source NAT without a port range that can take UDP: its clients on
	 * fixed ports (kept_port above) */
	if (e == 0 && (u->need == CT_NEED_SNAT || u->need == CT_NEED_MASQUERADE) && u->to_port.any && !u->from_host &&
	    (u->sel.proto == 0 || u->sel.proto == IPPROTO_UDP) && u->sel.sport.any) {
		struct ct_user udp = *u;
		e = lint_sel_copy(&udp.sel, &u->sel);
		if (e == 0) {
			lint_sel_and_proto(&udp.sel, IPPROTO_UDP);
			e = build_probes(&udp, a->local, true, &p);
			if (e == 0)
				e = check_probes(a, &udp, &p, opens);
			probes_free(&p);
			lint_sel_free(&udp.sel);
		}
	}
	return e;
}

/* Whether the route_localnet guards (returns before every notrack rule:
 * what arrives for 127.0.0.0/8 or ::1 on another interface than lo stays
 * tracked) keep all of x tracked. */
static bool guarded(const struct analysis *a, enum hook h, const struct lint_sel *x, unsigned dirs)
{
	for (size_t g = 0; g < a->rs->n_guards; g++)
		if (a->rs->guards[g].hook == h && lint_sel_covers(&a->guard_sels[g], x, dirs))
			return true;
	return false;
}

/*
 * This host's own connection that an untracked packet keeps from a DNAT
 * (it leaves through lo, for a port of its own) still reaches a server when
 * a local socket listens on every port it names: Docker's docker-proxy
 * holds each published port for exactly that.  Said in a note, not a
 * finding.
 */
static int served_locally(struct analysis *a, const struct ct_user *u, const struct probe *pr, const struct lint_sel *x,
			  bool *served)
{
	const struct lint_ranges *l = x->proto == IPPROTO_TCP	? &a->in->listen_tcp
				      : x->proto == IPPROTO_UDP ? &a->in->listen_udp
								: NULL;
	_cleanup_strbuf_ struct strbuf m = {0};

	*served = is_dnat(u->need) && pr->hook == HOOK_OUTPUT && !pr->reply && l && !lint_ranges_empty(l) &&
		  !x->dport.any && !lint_ranges_empty(&x->dport) && leaves_by_lo(x) &&
		  lint_ranges_subset(&x->dport, l, LINT_PORT_WIDTH);
	if (!*served)
		return 0;
	strbuf_init(&m);
	strbuf_printf(&m, "this host's own connections to %s port ", proto_word(x->proto));
	lint_ranges_format(&x->dport, LINT_PORT_WIDTH, &m);
	strbuf_printf(&m,
		      ", untracked, skip the DNAT in %s %s %s (%s) and reach the local socket listening there instead "
		      "(docker-proxy, with Docker's userland proxy)",
		      u->family, u->table, u->chain, u->rule);
	if (m.oom)
		return -ENOMEM;
	for (size_t i = 0; i < a->out->n_notes; i++)
		if (!strcmp(a->out->notes[i], m.data))
			return 0;
	return lint_report_add_note(a->out, "%s", m.data);
}

static int check_probes(struct analysis *a, const struct ct_user *u, struct probes *pp, bool opens)
{
	const struct ruleset *rs = a->rs;
	const struct probes p = *pp;
	int e = 0;

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
			if (opens && pr->hook != HOOK_PREROUTING)
				continue;
			e = lint_sel_copy(&x, &pr->sel);
			if (e == 0)
				e = lint_sel_and(&x, &a->sels[i]);
			if (e == 0 && (ru->scope == SCOPE_LOCAL_DEST || (pr->hook == HOOK_OUTPUT && leaves_by_lo(&x))))
				e = to_this_host(&x, a->local);
			if (e < 0 || lint_sel_empty(&x, dirs)) {
				lint_sel_free(&x);
				continue;
			}
			bool served = false;
			e = served_locally(a, u, pr, &x, &served);
			if (e < 0 || served) {
				lint_sel_free(&x);
				continue;
			}
			/* keep_tracked rules and the guards before it return the packet first */
			kept = guarded(a, ru->hook, &x, dirs);
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
			then = kept || opens ? NULL : bypassed_accept(a, u, ru, &x, dirs, &same);
			if (!kept && opens)
				e = report_opened(a, u, i, pr, &x, partly);
			else if (!kept && !same)
				e = report_user(a, u, i, pr, &x, partly, then);
			lint_sel_free(&x);
		}
	}
	return e;
}

/* ------------------------------------------------------------------ */
/* filter chains that would drop untracked packets                      */

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

	bool dup;

	f = new_finding(a->out, LINT_UNCOVERED, ru->origin, c->family_name, c->table, c->chain, why, &dup);
	if (!f)
		return dup ? 0 : -ENOMEM;
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
			      family_nft_name(c->family), c->table, c->chain);
	else if (c->legacy)
		strbuf_printf(&m,
			      "the nft backend puts no accept into legacy iptables chains. Accept \"-m conntrack "
			      "--ctstate UNTRACKED\" at the head of iptables-legacy %s %s, use the iptables backend, "
			      "or narrow the entry.",
			      c->table, c->chain);
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
		lint_sel_and_family(&x, c->family);
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
		/* (the route_localnet guards are left out: what they keep, packets
		 * from outside for 127.0.0.0/8, is a martian unless route_localnet
		 * is on, and then kube-proxy's own guard is what matters) */
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
		lint_sel_and_family(&shown, c->family);
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
	size_t guards_made = 0;
	a.sels = calloc(rs->n_rules + 1, sizeof(*a.sels));
	struct lint_ranges *ports = calloc(rs->n_port_sets + 1, sizeof(*ports));
	bool *ports_made = calloc(rs->n_port_sets + 1, sizeof(*ports_made));
	a.guard_sels = calloc(rs->n_guards + 1, sizeof(*a.guard_sels));
	if (!a.sels || !ports || !ports_made || !a.guard_sels) {
		free(a.sels);
		free(ports);
		free(ports_made);
		free(a.guard_sels);
		return -ENOMEM;
	}
	for (; e == 0 && made < rs->n_rules; made++)
		e = ir_sel(rs, &rs->rules[made], ports, ports_made, &a.sels[made]);
	for (; e == 0 && guards_made < rs->n_guards; guards_made++)
		e = ir_sel(rs, &rs->guards[guards_made], ports, ports_made, &a.guard_sels[guards_made]);
	for (size_t i = 0; i < rs->n_port_sets; i++)
		lint_ranges_free(&ports[i]);
	free(ports);
	free(ports_made);
	for (size_t i = 0; e == 0 && !foreign_only && i < in->n_meets; i++) {
		const struct lint_meet *m = &in->meets[i];
		struct ct_user one;
		if (m->user >= in->n_users)
			continue; /* (cannot happen: a dropped user takes its meetings) */
		one = in->users[m->user];
		if (m->hooks)
			one.hooks = m->hooks; /* as the user it was before it was merged */
		e = check_user(&a, &one);
	}
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
	for (size_t i = 0; i < guards_made; i++)
		lint_sel_free(&a.guard_sels[i]);
	free(a.sels);
	free(a.guard_sels);
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
