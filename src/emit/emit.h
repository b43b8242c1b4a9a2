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
