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

#include "lint.h"

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

/* One match, by name, revision and its info struct; 0 or -ENOMEM. */
int lint_xt_match(struct lint_xt *x, const char *name, uint32_t rev, const void *info, size_t len);
/* Records a state mask (and says it in words). */
void lint_xt_set_state(struct lint_xt *x, uint32_t mask);
/* "established,related" */
void lint_ct_state_words(uint32_t m, char *buf, size_t size);
