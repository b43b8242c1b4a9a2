/*
 * Decoding the xt matches (tcp, udp, multiport, conntrack, state, connmark,
 * helper, ...) into a linter selector and what the rule needs from
 * conntrack.  Shared by the iptables-nft reader (compat expressions) and the
 * legacy reader (libiptc entries): both hand over the same structs.  Pure.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lint/lint.h"

#define LINT_CT_ALL (LINT_CT_INVALID | LINT_CT_ESTABLISHED | LINT_CT_RELATED | LINT_CT_NEW | LINT_CT_UNTRACKED)

struct lint_xt {
	struct lint_sel *sel; /* narrowed by what the matches select */
	bool widened;	      /* a match was left out (the selector is wider than the rule) */
	unsigned needs;	      /* 1 << enum ct_need */
	uint32_t ct_state;    /* LINT_CT_* the state matches take */
	bool limited;	      /* a limit, hashlimit or recent match: selects by rate, left out */
	bool from_host;	      /* -m addrtype --src-type LOCAL: only packets this host sends */
	char words[160];      /* the conntrack part in words */
};

/* What an xt target does to conntrack: the NAT targets (DNAT, SNAT,
 * MASQUERADE, REDIRECT, NETMAP), CT (--notrack, --helper, --zone), NOTRACK,
 * CONNMARK, CONNSECMARK, and REJECT (a drop). */
struct lint_xt_tg {
	unsigned needs;				/* 1 << enum ct_need */
	struct lint_ranges to_addr[2], to_port; /* NAT: the new address and port (any: not known) */
	bool nat_random;			/* fully-random: to_port is where any flow may land */
	bool notrack;
	bool reject;
	char words[160]; /* in words, as the nft reader says it: "dnat to 172.17.0.2:80" */
};

/* One match, by name, revision and its info struct; 0 or -ENOMEM. */
int lint_xt_match(struct lint_xt *x, const char *name, uint32_t rev, const void *info, size_t len);
/* Init before lint_xt_target, free after. */
void lint_xt_tg_init(struct lint_xt_tg *t);
void lint_xt_tg_free(struct lint_xt_tg *t);
/* One target, by name, revision and its info struct, in a table of family
 * (FAMILY_IPV4 or FAMILY_IPV6) reached before routing (prerouting, output:
 * NETMAP rewrites the destination there, the source elsewhere); 0 or -ENOMEM.
 * A target that concerns neither conntrack nor the verdict leaves t as it was. */
int lint_xt_target(struct lint_xt_tg *t, const char *name, uint32_t rev, const void *info, size_t len, unsigned family,
		   bool before_routing);
/* "dnat to 10.0.0.1-10.0.0.3:80": a NAT's verb and where it maps to, as nft writes it. */
int lint_nat_words(const char *verb, const struct lint_ranges to_addr[2], const struct lint_ranges *to_port,
		   struct strbuf *out);
/* Records a state mask (and says it in words). */
void lint_xt_set_state(struct lint_xt *x, uint32_t mask);
/* "established,related" */
void lint_ct_state_words(uint32_t m, char *buf, size_t size);
