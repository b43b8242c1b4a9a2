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

/* iptables multiport takes at most 15 ports, a range counting as two. */
#define MULTIPORT_MAX_SLOTS 15
