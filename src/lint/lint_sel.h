/*
 * Packet selectors for the linter: what a rule can match, as a product of
 * per-field sets (family, layer 4 protocol, ports, addresses, interface
 * names).  Both sides of the lint speak it: our compiled rules and the foreign
 * rules read from the kernel (by any backend).
 *
 * A selector read from a foreign rule is conservative: every packet the rule
 * can match is in it, and a constraint the reader cannot decode is left out,
 * which only makes the set bigger.  So "the selectors do not intersect" proves
 * the rules never meet, and "ours covers theirs" proves ours takes every one of
 * their packets.  The algebra is exact on its own representation.
 *
 * Pure: no sockets, no files.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "util/strbuf.h"

#define LINT_VAL_MAX 16 /* widest value: an IPv6 address */
#define LINT_IF_MAX 6	/* interface constraints kept per direction; more are dropped (widening) */
#define LINT_IFNAME_MAX 16

enum {
	LINT_PORT_WIDTH = 2,
	LINT_V4_WIDTH = 4,
	LINT_V6_WIDTH = 16,
};

/* A closed interval of big-endian unsigned values of a fixed width. */
struct lint_range {
	uint8_t lo[LINT_VAL_MAX], hi[LINT_VAL_MAX];
};

/* A set of values: any (no constraint), or disjoint, ascending, non-adjacent
 * ranges, where n == 0 is the empty set. */
struct lint_ranges {
	struct lint_range *v;
	uint32_t n; /* 32 bits: a lint user holds nine of these (kept small) */
	bool any;
};

/* One interface-name constraint: equal to name, or (wildcard) starting with
 * it; neg inverts it.  A list of them means all must hold. */
struct lint_if {
	char name[LINT_IFNAME_MAX];
	bool wildcard, neg;
};

struct lint_ifs {
	uint8_t n; /* at most LINT_IF_MAX */
	struct lint_if v[LINT_IF_MAX];
};

/*
 * A selector's interface lists are interned: one shared, immutable copy of
 * each distinct list (lint_ifs_intern), and NULL for none.  Inline they were
 * 2 x 109 bytes of every selector, and a kube-proxy host hands the analyser a
 * selector per service and hook, nearly all of them with no interface at all
 * and the rest with a handful of distinct lists.  Shared and never changed in
 * place, they are copied with the selector as plain pointers and never
 * freed (the pool lives as long as the process, which is one command).
 */
struct lint_sel {
	unsigned family; /* FAMILY_IPV4 | FAMILY_IPV6; 0: matches nothing */
	uint8_t proto;	 /* IPPROTO_*, 0: any */
	bool none;	 /* proven to match nothing (e.g. tcp and udp at once) */
	/* only packets addressed to this host (fib daddr type local, -m addrtype
	 * --dst-type LOCAL); lint_input_apply_host narrows daddr to its addresses */
	bool to_host;
	struct lint_ranges sport, dport;
	struct lint_ranges saddr[FAMILY_SLOTS], daddr[FAMILY_SLOTS]; /* indexed by family_index() */
	const struct lint_ifs *iif, *oif;			     /* interned; NULL: no constraint */
};

/* Which interface directions matter where a selector is compared: a raw
 * prerouting rule sees only iifname, a raw output rule only oifname. */
enum {
	LINT_DIR_IIF = 1 << 0,
	LINT_DIR_OIF = 1 << 1,
};

void lint_ranges_free(struct lint_ranges *r);
int lint_ranges_copy(struct lint_ranges *dst, const struct lint_ranges *src);
/* Replaces r with the union of v[0..n) (any order, may overlap). */
int lint_ranges_set(struct lint_ranges *r, const struct lint_range *v, size_t n, unsigned width);
/* The same, taking v (malloc()ed, freed here when nothing is left) instead
 * of copying it. */
int lint_ranges_take(struct lint_ranges *r, struct lint_range *v, size_t n, unsigned width);
/* a := a ∩ b */
int lint_ranges_and(struct lint_ranges *a, const struct lint_ranges *b, unsigned width);
/* r := complement of r */
int lint_ranges_not(struct lint_ranges *r, unsigned width);
/* a ⊆ b */
bool lint_ranges_subset(const struct lint_ranges *a, const struct lint_ranges *b, unsigned width);
bool lint_ranges_empty(const struct lint_ranges *r);
/* Ranges of a prefix (prefix bits of addr), of a port interval. */
void lint_range_prefix(struct lint_range *out, const uint8_t *addr, unsigned prefix, unsigned width);
void lint_range_port(struct lint_range *out, uint16_t first, uint16_t last);

/* Everything of these families. */
void lint_sel_init(struct lint_sel *s, unsigned family);
void lint_sel_free(struct lint_sel *s);
int lint_sel_copy(struct lint_sel *dst, const struct lint_sel *src);
/* a := a ∩ b.  Interface constraints beyond LINT_IF_MAX are dropped, which
 * widens a (still conservative). */
int lint_sel_and(struct lint_sel *a, const struct lint_sel *b);
/* Intersects one field with a set; the address forms also pin the family. */
int lint_sel_and_ports(struct lint_sel *s, bool source, const struct lint_ranges *r);
int lint_sel_and_addrs(struct lint_sel *s, bool source, unsigned af, const struct lint_ranges *r);
void lint_sel_and_proto(struct lint_sel *s, uint8_t proto);
void lint_sel_and_family(struct lint_sel *s, unsigned family);
/* Adds an interface constraint (iif when in, else oif); -ENOMEM leaves s
 * without it (wider). */
int lint_sel_add_if(struct lint_sel *s, bool in, const char *name, bool wildcard, bool neg);

/* Whether s can match no packet, looking only at the interface directions in dirs. */
bool lint_sel_empty(const struct lint_sel *s, unsigned dirs);
/* Whether every packet of x (that can exist) is matched by k; interface
 * directions outside dirs are ignored. */
bool lint_sel_covers(const struct lint_sel *k, const struct lint_sel *x, unsigned dirs);
/* Whether no constraint at all is set besides the family. */
bool lint_sel_is_any(const struct lint_sel *s);

/* Interface constraints: satisfiable, and "every name allowed by x passes c"
 * (NULL: no constraint). */
bool lint_ifs_satisfiable(const struct lint_ifs *c);
bool lint_ifs_implies(const struct lint_ifs *x, const struct lint_if *c);
/* The shared copy of c (its names compared up to their NUL), NULL for an
 * empty list; *out unchanged and -ENOMEM when it cannot be made. */
int lint_ifs_intern(const struct lint_ifs *c, const struct lint_ifs **out);

/* nft-like text: 'iifname != "docker0" ip saddr 172.17.0.0/16 tcp dport 8081'.
 * Empty for a selector without constraints. */
int lint_sel_format(const struct lint_sel *s, struct strbuf *out);
/* One value set as text: ports "80", "1000-2000", "{ 53, 5000-5010 }";
 * addresses as prefixes where they are aligned. */
int lint_ranges_format(const struct lint_ranges *r, unsigned width, struct strbuf *out);
/* An address set as quoted CIDR prefixes, '"10.0.0.0/8", "192.168.0.0/16"',
 * the form a policy takes: the count, -E2BIG if it needs more than max,
 * -EINVAL for "any" or the empty set. */
int lint_ranges_prefixes(const struct lint_ranges *r, unsigned width, size_t max, struct strbuf *out);
