/*
 * Emitters turn the rule IR into text.  They are pure, so tests compare their
 * output byte for byte with golden files.
 */
#pragma once
#include "ruleset.h"
#include "strbuf.h"

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

/* How many multiport lists (rules) a port set takes in iptables. */
size_t iptables_port_lists(const struct port_set *s);
/* Calls fn for every variant of r in order; stops at the first non-zero return and returns it. */
int iptables_for_each_variant(const struct ruleset *rs, const struct rule *r, iptables_variant_fn fn, void *ctx);
/* The variant as an iptables-restore line ("-A CHAIN ..."), without the newline. */
void iptables_variant_text(const struct ruleset *rs, const struct iptables_variant *v, const char *chain,
			   struct strbuf *out);

/* iptables multiport takes at most 15 ports, a range counting as two. */
#define MULTIPORT_MAX_SLOTS 15
