/*
 * Emitters turn the rule IR into text.  They are pure, so tests compare their
 * output byte for byte with golden files.
 */
#pragma once
#include "compile/ruleset.h"
#include "util/strbuf.h"

/* `nft -f` input: replaces table inet <table> atomically and shows the
 * untracked-accept insertions (or explains that "auto" is decided at apply time). */
int emit_nft_text(const struct ruleset *rs, struct strbuf *out);

/* One rule in nft syntax, without indentation or newline. */
void emit_nft_rule(const struct ruleset *rs, const struct rule *r, struct strbuf *out);

/* iptables-restore --noflush input for one family (FAMILY_IPV4 or FAMILY_IPV6). */
int emit_iptables_text(const struct ruleset *rs, unsigned family, struct strbuf *out);

/* The IR as a JSON document, for scripts. */
int emit_json(const struct ruleset *rs, const struct diag *warnings, struct strbuf *out);

/* iptables chain names derived from the table name, e.g. NOTRACKCTL-PRE. */
void iptables_chain_name(const struct ruleset *rs, enum hook h, char *buf, size_t size);
void iptables_chain_name_for(const char *table, enum hook h, char *buf, size_t size);
/* The built-in chains of raw that jump into ours, by enum hook. */
extern const char *const iptables_raw_builtin[2];

/*
 * The rules outside our chains, in iptables' words and without a newline:
 * emit_iptables_text prints them, and the iptables backend shows them in its
 * plan for the entries ipt_build_jump() and ipt_build_accept() make.
 */
/* "-I BUILTIN 1 -m comment --comment "TAG" -j CHAIN" */
void iptables_jump_text(struct strbuf *out, const char *builtin, const char *tag, const char *chain);
/* "-I CHAIN 1 -m conntrack --ctstate UNTRACKED -m comment --comment "TAG" -j ACCEPT" */
void iptables_accept_text(struct strbuf *out, const char *chain, const char *tag);
/* The filter chains untracked_accept "auto" inserts the accept into: of
 * INPUT, FORWARD and OUTPUT (in that order) those on rs->accept_hooks, where
 * this policy's untracked packets arrive.
 * Returns how many names it put into chains. */
size_t iptables_auto_accept_chains(const struct ruleset *rs, const char *chains[3]);

/*
 * One iptables rule of an IR rule.  iptables has no sets without ipset, so an
 * IR rule becomes one rule per peer address, per local address and per
 * multiport chunk of its port set.  The text emitter and the libiptc backend
 * walk the same variants, so what one prints is what the other loads.
 */
struct iptables_variant {
	const struct rule *rule;
	const struct cidr *peer, *local; /* NULL: no address match on that side */
	const struct port_set *ports;	 /* NULL: no port match */
	size_t pstart, pcount;		 /* the ranges of `ports` this rule's multiport holds */
};

typedef int (*iptables_variant_fn)(const struct ruleset *rs, const struct iptables_variant *v, void *ctx);

/* How many rules r's port set takes in iptables: multiport lists, or u32
 * value lists for an ICMP error rule. */
size_t iptables_port_lists(const struct rule *r, const struct port_set *s);
/* Calls fn for every variant of r in order; stops at the first non-zero return and returns it. */
int iptables_for_each_variant(const struct ruleset *rs, const struct rule *r, iptables_variant_fn fn, void *ctx);
/* The variant as an iptables-restore line ("-A CHAIN ..."), without the newline. */
void iptables_variant_text(const struct ruleset *rs, const struct iptables_variant *v, const char *chain,
			   struct strbuf *out);

/* iptables multiport takes at most 15 ports, a range counting as two. */
#define MULTIPORT_MAX_SLOTS 15
/* a u32 test compares with at most 10 values or ranges (XT_U32_MAXSIZE) */
#define U32_MAX_VALUES 10

struct xt_u32;
/*
 * The u32 match of an ICMP error rule's variant (rule.icmp_error): the
 * error types, then the embedded packet's header, protocol and ports at
 * their offsets (see below).  iptables_variant_text prints it as the
 * "--u32" argument; libiptc loads the struct.
 */
void iptables_icmp_u32(const struct iptables_variant *v, struct xt_u32 *out);

/*
 * ICMP error rules (rule.icmp_error): where the embedded packet lies,
 * counted from the start of the ICMP or ICMPv6 header.  An IPv4 error
 * carries the original IP header (its first byte 0x45 when it has no
 * options, the only case matched) and at least 8 bytes of what followed;
 * an ICMPv6 error the whole IPv6 header (extension headers are not
 * looked through: such errors stay tracked).
 */
enum {
	ICMP_INNER_VERSION_IHL = 8, /* 0x45 */
	ICMP_INNER_PROTO = 17,
	ICMP_INNER_L4 = 28,
	ICMPV6_INNER_NEXTHDR = 14,
	ICMPV6_INNER_L4 = 48,
};
#define ICMP_INNER_IPV4_NO_OPTIONS 0x45

/* the named sets of error types the ICMP error rules look up */
#define ICMP_ERRORS_SET "icmp_errors"
#define ICMPV6_ERRORS_SET "icmpv6_errors"
/* destination unreachable, time exceeded, parameter problem */
static const unsigned char icmp_error_types[] = {3, 11, 12};
/* destination unreachable, packet too big, time exceeded, parameter problem */
static const unsigned char icmpv6_error_types[] = {1, 2, 3, 4};

static inline const unsigned char *icmp_error_types_of(unsigned family, size_t *n)
{
	*n = family == FAMILY_IPV4 ? sizeof(icmp_error_types) : sizeof(icmpv6_error_types);
	return family == FAMILY_IPV4 ? icmp_error_types : icmpv6_error_types;
}

/* Offset of the embedded packet's port a rule compares, from the ICMP header. */
static inline unsigned icmp_inner_port_offset(const struct rule *r)
{
	return (r->family == FAMILY_IPV4 ? ICMP_INNER_L4 : ICMPV6_INNER_L4) + (r->port_field == FIELD_DEST ? 2 : 0);
}

/* Whether rs has ICMP error rules of `family`. */
static inline bool ruleset_has_icmp(const struct ruleset *rs, unsigned family)
{
	for (size_t i = 0; i < rs->n_icmp_rules; i++)
		if (rs->icmp_rules[i].family == family)
			return true;
	return false;
}
