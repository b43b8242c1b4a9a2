#include "lint/lint_sel.h"
#include "util/hash.h"
#include "util/slot_index.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* big-endian values of a fixed width                                   */

static int val_cmp(const uint8_t *a, const uint8_t *b, unsigned w)
{
	return memcmp(a, b, w);
}

/* v += 1; returns true on overflow (v was the maximum) */
static bool val_inc(uint8_t *v, unsigned w)
{
	for (unsigned i = w; i-- > 0;)
		if (++v[i] != 0)
			return false;
	return true;
}

/* v -= 1; returns true on underflow (v was zero) */
static bool val_dec(uint8_t *v, unsigned w)
{
	for (unsigned i = w; i-- > 0;)
		if (v[i]-- != 0)
			return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* value sets                                                           */

void lint_ranges_free(struct lint_ranges *r)
{
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

int lint_ranges_copy(struct lint_ranges *dst, const struct lint_ranges *src)
{
	dst->any = src->any;
	dst->n = src->n;
	dst->v = NULL;
	if (!src->n)
		return 0;
	dst->v = malloc(src->n * sizeof(*dst->v));
	if (!dst->v) {
		dst->n = 0;
		return -ENOMEM;
	}
	memcpy(dst->v, src->v, src->n * sizeof(*dst->v));
	return 0;
}

/* qsort() takes no context; notrackctl is single-threaded */
static unsigned sort_width;

static int range_order(const void *a, const void *b)
{
	return val_cmp(((const struct lint_range *)a)->lo, ((const struct lint_range *)b)->lo, sort_width);
}

int lint_ranges_set(struct lint_ranges *r, const struct lint_range *v, size_t n, unsigned width)
{
	struct lint_range *out = n ? malloc(n * sizeof(*out)) : NULL;

	if (n && !out)
		return -ENOMEM;
	if (n)
		memcpy(out, v, n * sizeof(*out));
	return lint_ranges_take(r, out, n, width);
}

int lint_ranges_take(struct lint_ranges *r, struct lint_range *out, size_t n, unsigned width)
{
	size_t m = 0;

	sort_width = width;
	/* the compiled policy's ranges come sorted: look before sorting 10,000 */
	size_t sorted = 1;
	while (sorted < n && range_order(&out[sorted - 1], &out[sorted]) <= 0)
		sorted++;
	if (sorted < n)
		qsort(out, n, sizeof(*out), range_order);
	for (size_t i = 0; i < n; i++) {
		if (val_cmp(out[i].lo, out[i].hi, width) > 0)
			continue; /* an inverted range holds nothing */
		if (m) {
			/* merge when it overlaps or touches the previous one */
			uint8_t next[LINT_VAL_MAX];
			memcpy(next, out[m - 1].hi, width);
			bool top = val_inc(next, width);
			if (top || val_cmp(out[i].lo, next, width) <= 0) {
				if (val_cmp(out[i].hi, out[m - 1].hi, width) > 0)
					memcpy(out[m - 1].hi, out[i].hi, width);
				continue;
			}
		}
		out[m++] = out[i];
	}
	lint_ranges_free(r);
	r->any = false;
	r->n = m;
	r->v = out;
	if (!m) {
		free(out);
		r->v = NULL;
	}
	return 0;
}

bool lint_ranges_empty(const struct lint_ranges *r)
{
	return !r->any && r->n == 0;
}

int lint_ranges_and(struct lint_ranges *a, const struct lint_ranges *b, unsigned width)
{
	struct lint_range *out;
	size_t i = 0, j = 0, m = 0;

	if (b->any)
		return 0;
	if (a->any)
		return lint_ranges_copy(a, b);
	out = malloc((a->n + b->n + 1) * sizeof(*out));
	if (!out)
		return -ENOMEM;
	while (i < a->n && j < b->n) {
		const struct lint_range *x = &a->v[i], *y = &b->v[j];
		const uint8_t *lo = val_cmp(x->lo, y->lo, width) > 0 ? x->lo : y->lo;
		const uint8_t *hi = val_cmp(x->hi, y->hi, width) < 0 ? x->hi : y->hi;
		if (val_cmp(lo, hi, width) <= 0) {
			memset(&out[m], 0, sizeof(out[m]));
			memcpy(out[m].lo, lo, width);
			memcpy(out[m].hi, hi, width);
			m++;
		}
		if (val_cmp(x->hi, y->hi, width) < 0)
			i++;
		else
			j++;
	}
	free(a->v);
	a->v = out;
	a->n = m;
	return 0;
}

int lint_ranges_not(struct lint_ranges *r, unsigned width)
{
	struct lint_range *out;
	uint8_t next[LINT_VAL_MAX] = {0};
	bool done = false;
	size_t m = 0;

	if (r->any) {
		/* the complement of everything is nothing */
		r->any = false;
		lint_ranges_free(r);
		return 0;
	}
	out = malloc((r->n + 1) * sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < r->n && !done; i++) {
		if (val_cmp(next, r->v[i].lo, width) < 0) {
			memset(&out[m], 0, sizeof(out[m]));
			memcpy(out[m].lo, next, width);
			memcpy(out[m].hi, r->v[i].lo, width);
			val_dec(out[m].hi, width);
			m++;
		}
		memcpy(next, r->v[i].hi, width);
		done = val_inc(next, width);
	}
	if (!done) {
		memset(&out[m], 0, sizeof(out[m]));
		memcpy(out[m].lo, next, width);
		memset(out[m].hi, 0xff, width);
		m++;
	}
	free(r->v);
	r->v = out;
	r->n = m;
	return 0;
}

bool lint_ranges_subset(const struct lint_ranges *a, const struct lint_ranges *b, unsigned width)
{
	size_t j = 0;

	if (b->any)
		return true;
	if (a->any)
		return false;
	/* b's ranges neither overlap nor touch, so each of a's must fit in one */
	for (size_t i = 0; i < a->n; i++) {
		while (j < b->n && val_cmp(b->v[j].hi, a->v[i].lo, width) < 0)
			j++;
		if (j == b->n || val_cmp(b->v[j].lo, a->v[i].lo, width) > 0 ||
		    val_cmp(b->v[j].hi, a->v[i].hi, width) < 0)
			return false;
	}
	return true;
}

void lint_range_prefix(struct lint_range *out, const uint8_t *addr, unsigned prefix, unsigned width)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < width; i++) {
		unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);
		out->lo[i] = addr[i] & mask;
		out->hi[i] = (uint8_t)(addr[i] | (uint8_t)~mask);
	}
}

void lint_range_port(struct lint_range *out, uint16_t first, uint16_t last)
{
	memset(out, 0, sizeof(*out));
	out->lo[0] = (uint8_t)(first >> 8);
	out->lo[1] = (uint8_t)first;
	out->hi[0] = (uint8_t)(last >> 8);
	out->hi[1] = (uint8_t)last;
}

/* ------------------------------------------------------------------ */
/* interface names                                                      */

/* Does the name (exact) satisfy the pattern p (ignoring p.neg)? */
static bool name_matches(const char *name, const struct lint_if *p)
{
	return p->wildcard ? strncmp(name, p->name, strlen(p->name)) == 0 : strcmp(name, p->name) == 0;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ------------------------------------------------------------------ */
/* the pool of interned interface lists                                 */

/*
 * The distinct lists, found through a slot index.  Global: the algebra has
 * no context to carry it, and notrackctl is single-threaded (like sort_width
 * above).  What it holds stays reachable until exit: selectors point into it.
 */
static struct {
	struct lint_ifs **list; /* each its own allocation: selectors keep the pointers */
	size_t n, cap;
	struct slot_index index;
} pool;

/* c with every name zero-padded and duplicates dropped, so that equal lists
 * compare equal byte for byte. */
static void ifs_canonical(const struct lint_ifs *c, struct lint_ifs *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < c->n && i < LINT_IF_MAX; i++) {
		struct lint_if *d = &t->v[t->n];
		bool dup = false;
		memcpy(d->name, c->v[i].name, strnlen(c->v[i].name, sizeof(d->name)));
		d->wildcard = c->v[i].wildcard;
		d->neg = c->v[i].neg;
		for (size_t j = 0; j < t->n && !dup; j++)
			dup = !memcmp(&t->v[j], d, sizeof(*d));
		if (dup)
			memset(d, 0, sizeof(*d));
		else
			t->n++;
	}
}

static uint64_t ifs_hash(const struct lint_ifs *t)
{
	return hash64(t, sizeof(*t));
}

static uint64_t pool_hash(const void *ctx, size_t item)
{
	(void)ctx;
	return ifs_hash(pool.list[item]);
}

int lint_ifs_intern(const struct lint_ifs *c, const struct lint_ifs **out)
{
	struct lint_ifs t, **list;
	size_t k;

	if (!c || !c->n) {
		*out = NULL;
		return 0;
	}
	ifs_canonical(c, &t);
	if (slot_index_reserve(&pool.index, 1, pool_hash, NULL) < 0)
		return -ENOMEM;
	for (k = slot_index_first(&pool.index, ifs_hash(&t)); pool.index.slot[k]; k = slot_index_next(&pool.index, k)) {
		const struct lint_ifs *same = pool.list[pool.index.slot[k] - 1];
		if (!memcmp(same, &t, sizeof(t))) {
			*out = same;
			return 0;
		}
	}
	if (pool.n == pool.cap) {
		size_t cap = pool.cap ? pool.cap * 2 : 64;
		if (!(list = realloc(pool.list, cap * sizeof(*list))))
			return -ENOMEM;
		pool.list = list;
		pool.cap = cap;
	}
	list = pool.list;
	list[pool.n] = malloc(sizeof(t));
	if (!list[pool.n])
		return -ENOMEM;
	*list[pool.n] = t;
	slot_index_put(&pool.index, k, pool.n);
	*out = list[pool.n++];
	return 0;
}

/* A working copy of an interned list (NULL: empty). */
static void ifs_load(const struct lint_ifs *p, struct lint_ifs *t)
{
	if (p)
		*t = *p;
	else
		t->n = 0;
}

/*
 * Exact for this language (names of any length): with an exact positive
 * name, test that one name against everything; with only prefix positives,
 * the longest prefix L must extend every other, and the set L* survives
 * unless a negative prefix covers it whole (a negative exact name removes one
 * name of infinitely many, and no union of prefixes covers L* unless one of
 * them does, since L itself must be matched).
 */
bool lint_ifs_satisfiable(const struct lint_ifs *c)
{
	const struct lint_if *exact = NULL;
	const char *longest = "";

	if (!c)
		return true;
	for (size_t i = 0; i < c->n; i++) {
		if (c->v[i].neg)
			continue;
		if (!c->v[i].wildcard && !exact)
			exact = &c->v[i];
		if (c->v[i].wildcard && strlen(c->v[i].name) > strlen(longest))
			longest = c->v[i].name;
	}
	for (size_t i = 0; i < c->n; i++) {
		const struct lint_if *p = &c->v[i];
		if (exact) {
			if (name_matches(exact->name, p) == p->neg)
				return false;
		} else if (!p->neg) {
			if (!starts_with(longest, p->name))
				return false;
		} else if (p->wildcard && starts_with(longest, p->name)) {
			return false;
		}
	}
	return true;
}

bool lint_ifs_implies(const struct lint_ifs *x, const struct lint_if *c)
{
	struct lint_ifs t;

	/* x implies c exactly when x and not-c cannot both hold */
	ifs_load(x, &t);
	if (t.n == LINT_IF_MAX)
		return false; /* no room to test: cannot prove it */
	t.v[t.n] = *c;
	t.v[t.n].neg = !c->neg;
	t.n++;
	return !lint_ifs_satisfiable(&t);
}

/* Adds c to the working list s: whether s changed. */
static bool ifs_add(struct lint_ifs *s, const struct lint_if *c)
{
	for (size_t i = 0; i < s->n; i++)
		if (!memcmp(&s->v[i], c, sizeof(*c)))
			return false;
	/* dropping a constraint widens the set: still conservative */
	if (s->n == LINT_IF_MAX)
		return false;
	s->v[s->n++] = *c;
	return true;
}

int lint_sel_add_if(struct lint_sel *s, bool in, const char *name, bool wildcard, bool neg)
{
	const struct lint_ifs **slot = in ? &s->iif : &s->oif;
	struct lint_ifs t;
	struct lint_if c;

	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	c.wildcard = wildcard;
	c.neg = neg;
	ifs_load(*slot, &t);
	return ifs_add(&t, &c) ? lint_ifs_intern(&t, slot) : 0;
}

/* *a := *a and b, both interned (b's list has no duplicates) */
static int ifs_and(const struct lint_ifs **a, const struct lint_ifs *b)
{
	struct lint_ifs t;
	bool changed = false;

	if (!b || *a == b)
		return 0;
	if (!*a) {
		*a = b;
		return 0;
	}
	ifs_load(*a, &t);
	for (size_t i = 0; i < b->n; i++)
		changed |= ifs_add(&t, &b->v[i]);
	return changed ? lint_ifs_intern(&t, a) : 0;
}

/* ------------------------------------------------------------------ */
/* selectors                                                            */

void lint_sel_init(struct lint_sel *s, unsigned family)
{
	memset(s, 0, sizeof(*s));
	s->family = family;
	s->sport.any = s->dport.any = true;
	for (unsigned f = 0; f < FAMILY_SLOTS; f++)
		s->saddr[f].any = s->daddr[f].any = true;
}

void lint_sel_free(struct lint_sel *s)
{
	lint_ranges_free(&s->sport);
	lint_ranges_free(&s->dport);
	for (unsigned f = 0; f < FAMILY_SLOTS; f++) {
		lint_ranges_free(&s->saddr[f]);
		lint_ranges_free(&s->daddr[f]);
	}
}

int lint_sel_copy(struct lint_sel *dst, const struct lint_sel *src)
{
	int r = 0;

	*dst = *src;
	r |= lint_ranges_copy(&dst->sport, &src->sport);
	r |= lint_ranges_copy(&dst->dport, &src->dport);
	for (unsigned f = 0; f < FAMILY_SLOTS; f++) {
		r |= lint_ranges_copy(&dst->saddr[f], &src->saddr[f]);
		r |= lint_ranges_copy(&dst->daddr[f], &src->daddr[f]);
	}
	if (r) {
		lint_sel_free(dst);
		return -ENOMEM;
	}
	return 0;
}

void lint_sel_and_proto(struct lint_sel *s, uint8_t proto)
{
	if (!proto)
		return;
	if (s->proto && s->proto != proto)
		s->none = true;
	s->proto = proto;
}

void lint_sel_and_family(struct lint_sel *s, unsigned family)
{
	s->family &= family;
}

int lint_sel_and_ports(struct lint_sel *s, bool source, const struct lint_ranges *r)
{
	return lint_ranges_and(source ? &s->sport : &s->dport, r, LINT_PORT_WIDTH);
}

/* A family whose addresses became empty can no longer match. */
static void prune_families(struct lint_sel *s)
{
	for (unsigned f = 0; f < FAMILY_SLOTS; f++)
		if (lint_ranges_empty(&s->saddr[f]) || lint_ranges_empty(&s->daddr[f]))
			s->family &= ~family_at(f);
}

int lint_sel_and_addrs(struct lint_sel *s, bool source, unsigned af, const struct lint_ranges *r)
{
	int e =
	    lint_ranges_and(source ? &s->saddr[family_index(af)] : &s->daddr[family_index(af)], r, family_addr_len(af));

	/* an address of one family is a match on that family */
	s->family &= af;
	prune_families(s);
	return e;
}

int lint_sel_and(struct lint_sel *a, const struct lint_sel *b)
{
	int r = 0;

	a->family &= b->family;
	a->none |= b->none;
	a->to_host |= b->to_host;
	lint_sel_and_proto(a, b->proto);
	r |= lint_ranges_and(&a->sport, &b->sport, LINT_PORT_WIDTH);
	r |= lint_ranges_and(&a->dport, &b->dport, LINT_PORT_WIDTH);
	for (unsigned f = 0; f < FAMILY_SLOTS; f++) {
		r |= lint_ranges_and(&a->saddr[f], &b->saddr[f], family_addr_len(family_at(f)));
		r |= lint_ranges_and(&a->daddr[f], &b->daddr[f], family_addr_len(family_at(f)));
	}
	prune_families(a);
	r |= ifs_and(&a->iif, b->iif);
	r |= ifs_and(&a->oif, b->oif);
	return r ? -ENOMEM : 0;
}

bool lint_sel_empty(const struct lint_sel *s, unsigned dirs)
{
	if (s->none || !(s->family & FAMILY_BOTH))
		return true;
	if (lint_ranges_empty(&s->sport) || lint_ranges_empty(&s->dport))
		return true;
	if ((dirs & LINT_DIR_IIF) && !lint_ifs_satisfiable(s->iif))
		return true;
	if ((dirs & LINT_DIR_OIF) && !lint_ifs_satisfiable(s->oif))
		return true;
	return false;
}

static bool ifs_cover(const struct lint_ifs *k, const struct lint_ifs *x)
{
	for (size_t i = 0; k && i < k->n; i++)
		if (!lint_ifs_implies(x, &k->v[i]))
			return false;
	return true;
}

bool lint_sel_covers(const struct lint_sel *k, const struct lint_sel *x, unsigned dirs)
{
	if (lint_sel_empty(x, dirs))
		return true;
	if (k->none || (x->family & ~k->family))
		return false;
	if (k->proto && x->proto != k->proto)
		return false;
	/* k takes only packets addressed to this host: x is inside it only
	 * when it is as well (the addresses themselves are not known here) */
	if (k->to_host && !x->to_host)
		return false;
	if (!lint_ranges_subset(&x->sport, &k->sport, LINT_PORT_WIDTH) ||
	    !lint_ranges_subset(&x->dport, &k->dport, LINT_PORT_WIDTH))
		return false;
	for (unsigned f = 0; f < FAMILY_SLOTS; f++) {
		unsigned w = family_addr_len(family_at(f));
		if (!(x->family & family_at(f)))
			continue;
		if (!lint_ranges_subset(&x->saddr[f], &k->saddr[f], w) ||
		    !lint_ranges_subset(&x->daddr[f], &k->daddr[f], w))
			return false;
	}
	if ((dirs & LINT_DIR_IIF) && !ifs_cover(k->iif, x->iif))
		return false;
	if ((dirs & LINT_DIR_OIF) && !ifs_cover(k->oif, x->oif))
		return false;
	return true;
}

bool lint_sel_is_any(const struct lint_sel *s)
{
	if (s->none || s->proto || !s->sport.any || !s->dport.any || s->iif || s->oif)
		return false;
	for (unsigned f = 0; f < FAMILY_SLOTS; f++)
		if (!s->saddr[f].any || !s->daddr[f].any)
			return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* text                                                                 */

static unsigned range_prefix_len(const struct lint_range *r, unsigned width)
{
	/* the prefix length if r is exactly one aligned prefix, else width*8+1 */
	for (unsigned p = 0; p <= width * 8; p++) {
		struct lint_range t;
		lint_range_prefix(&t, r->lo, p, width);
		if (!memcmp(t.lo, r->lo, width) && !memcmp(t.hi, r->hi, width))
			return p;
	}
	return width * 8 + 1;
}

static void format_value(const uint8_t *v, unsigned width, struct strbuf *out)
{
	char buf[INET6_ADDRSTRLEN];

	if (width == LINT_PORT_WIDTH)
		strbuf_printf(out, "%u", (unsigned)(v[0] << 8 | v[1]));
	else if (inet_ntop(width == LINT_V4_WIDTH ? AF_INET : AF_INET6, v, buf, sizeof(buf)))
		strbuf_puts(out, buf);
}

static void format_range(const struct lint_range *r, unsigned width, struct strbuf *out)
{
	unsigned p;

	format_value(r->lo, width, out);
	if (!memcmp(r->lo, r->hi, width))
		return;
	if (width != LINT_PORT_WIDTH && (p = range_prefix_len(r, width)) <= width * 8) {
		strbuf_printf(out, "/%u", p);
		return;
	}
	strbuf_putc(out, '-');
	format_value(r->hi, width, out);
}

static void format_set(const struct lint_ranges *r, unsigned width, struct strbuf *out)
{
	if (r->n == 1) {
		format_range(&r->v[0], width, out);
		return;
	}
	strbuf_puts(out, "{ ");
	for (size_t i = 0; i < r->n && i < 8; i++) {
		if (i)
			strbuf_puts(out, ", ");
		format_range(&r->v[i], width, out);
	}
	if (r->n > 8)
		strbuf_printf(out, ", ... (%zu in all)", (size_t)r->n);
	strbuf_puts(out, " }");
}

int lint_ranges_format(const struct lint_ranges *r, unsigned width, struct strbuf *out)
{
	struct lint_ranges c = {0};

	if (r->any)
		return strbuf_puts(out, "any");
	if (!r->n)
		return strbuf_puts(out, "{ }");
	/* "!= 22" reads better than two ranges around it */
	if (r->n > 1 && lint_ranges_copy(&c, r) == 0 && lint_ranges_not(&c, width) == 0 && c.n == 1) {
		strbuf_puts(out, "!= ");
		format_set(&c, width, out);
	} else {
		format_set(r, width, out);
	}
	lint_ranges_free(&c);
	return out->oom ? -ENOMEM : 0;
}

static void format_ifs(const struct lint_ifs *s, const char *key, size_t start, struct strbuf *out)
{
	for (size_t i = 0; s && i < s->n; i++)
		strbuf_printf(out, "%s%s %s\"%s%s\"", out->len > start ? " " : "", key, s->v[i].neg ? "!= " : "",
			      s->v[i].name, s->v[i].wildcard ? "*" : "");
}

int lint_sel_format(const struct lint_sel *s, struct strbuf *out)
{
	static const char *const pname[] = {
	    [IPPROTO_TCP] = "tcp",   [IPPROTO_UDP] = "udp",   [IPPROTO_SCTP] = "sctp",
	    [IPPROTO_DCCP] = "dccp", [IPPROTO_ICMP] = "icmp", [IPPROTO_ICMPV6] = "icmpv6"};
	size_t start = out->len;
	const char *proto = s->proto < sizeof(pname) / sizeof(pname[0]) ? pname[s->proto] : NULL;
	char pbuf[16];

	if (s->none)
		return strbuf_puts(out, "(matches nothing)");
	format_ifs(s->iif, "iifname", start, out);
	format_ifs(s->oif, "oifname", start, out);
	bool addressed = false;
	for (unsigned f = 0; f < FAMILY_SLOTS; f++) {
		const char *kw = family_at(f) == FAMILY_IPV4 ? "ip" : "ip6";
		for (int dir = 0; dir < 2; dir++) {
			const struct lint_ranges *r = dir == 0 ? &s->saddr[f] : &s->daddr[f];
			if (r->any || !(s->family & family_at(f)))
				continue;
			strbuf_printf(out, "%s%s %s ", out->len > start ? " " : "", kw, dir == 0 ? "saddr" : "daddr");
			lint_ranges_format(r, family_addr_len(family_at(f)), out);
			addressed = true;
		}
	}
	if (!addressed && ((s->family & FAMILY_BOTH) == FAMILY_IPV4 || (s->family & FAMILY_BOTH) == FAMILY_IPV6))
		strbuf_printf(out, "%smeta nfproto %s", out->len > start ? " " : "",
			      s->family & FAMILY_IPV4 ? "ipv4" : "ipv6");
	if (!proto && s->proto) {
		snprintf(pbuf, sizeof(pbuf), "%u", s->proto);
		proto = pbuf;
	}
	if (s->proto && s->sport.any && s->dport.any)
		strbuf_printf(out, "%smeta l4proto %s", out->len > start ? " " : "", proto);
	for (int i = 0; i < 2; i++) {
		const struct lint_ranges *p = i == 0 ? &s->sport : &s->dport;
		if (p->any)
			continue;
		strbuf_printf(out, "%s%s %s ", out->len > start ? " " : "", s->proto ? proto : "th",
			      i == 0 ? "sport" : "dport");
		lint_ranges_format(p, LINT_PORT_WIDTH, out);
	}
	return out->oom ? -ENOMEM : 0;
}

/* v += 2^bit over width big-endian bytes; false when it overflows. */
static bool add_pow2(uint8_t *v, unsigned width, unsigned bit)
{
	unsigned carry = 1u << (bit % 8);

	for (unsigned i = width - 1 - bit / 8; carry; i--) {
		unsigned sum = v[i] + carry;
		v[i] = (uint8_t)sum;
		carry = sum >> 8;
		if (i == 0)
			return carry == 0;
	}
	return true;
}

/* Whether the lowest bits bits of v are all one (ones) or all zero. */
static bool low_bits(const uint8_t *v, unsigned width, unsigned bits, bool ones)
{
	for (unsigned b = 0; b < bits; b++) {
		unsigned byte = width - 1 - b / 8;
		bool one = v[byte] & (1u << (b % 8));
		if (one != ones)
			return false;
	}
	return true;
}

int lint_ranges_prefixes(const struct lint_ranges *r, unsigned width, size_t max, struct strbuf *out)
{
	size_t n = 0;

	if (r->any || !r->n)
		return -EINVAL;
	for (size_t i = 0; i < r->n; i++) {
		uint8_t lo[LINT_VAL_MAX];
		memcpy(lo, r->v[i].lo, width);
		for (;;) {
			/* the widest block aligned at lo that ends at or before hi */
			unsigned bits = width * 8;
			while (bits > 0) {
				uint8_t end[LINT_VAL_MAX];
				if (low_bits(lo, width, bits, false)) {
					memcpy(end, lo, width);
					for (unsigned b = 0; b < bits; b++)
						end[width - 1 - b / 8] |= (uint8_t)(1u << (b % 8));
					if (memcmp(end, r->v[i].hi, width) <= 0)
						break;
				}
				bits--;
			}
			if (++n > max)
				return -E2BIG;
			strbuf_printf(out, "%s\"", n > 1 ? ", " : "");
			format_value(lo, width, out);
			strbuf_printf(out, "/%u\"", width * 8 - bits);
			/* the block's last value is hi: done; else go on after it */
			uint8_t last[LINT_VAL_MAX];
			memcpy(last, lo, width);
			for (unsigned b = 0; b < bits; b++)
				last[width - 1 - b / 8] |= (uint8_t)(1u << (b % 8));
			if (!memcmp(last, r->v[i].hi, width) || !add_pow2(lo, width, bits))
				break;
		}
	}
	return out->oom ? -ENOMEM : (int)n;
}
