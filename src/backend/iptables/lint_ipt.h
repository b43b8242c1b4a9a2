/*
 * The legacy iptables reader of the linter, through libiptc (ipt_transport):
 * every table the kernel has loaded (raw, mangle, nat, filter, security),
 * IPv4 and IPv6, turned into the same struct lint_input the nftables reader
 * makes, so the one analyser (lint.c) judges both alike:
 *   - conntrack users: NAT targets, state/conntrack/connmark/helper matches,
 *     CT --helper/--zone, CONNMARK, on the hooks of the built-in chains that
 *     reach them, with the conditions of the jumps on the way;
 *   - foreign notrack rules of the raw tables (CT --notrack, NOTRACK);
 *   - when asked, the filter chains an untracked packet meets (INPUT,
 *     FORWARD, OUTPUT, with the chains they jump to inlined).
 * Only tables the kernel has loaded are read: opening one would create it.
 * A rule reads the same as it does through iptables-nft (lint_xt decodes the
 * matches and targets for both), and says itself in the same words.
 */
#pragma once
#include <stdbool.h>

#include "util/diag.h"
#include "lint/lint.h"

struct lint_ipt_options {
	const char *tag;	   /* the comment our rules carry: read as if they were not there */
	const char *our_chains[2]; /* our raw chains (prerouting, output): skipped */
	bool filter;		   /* describe the filter chains (the iptables backend's accept goes there) */
	bool foreign_filter;	   /* filter: the chains are someone else's (our accept is not put there) */
	bool users;		   /* the conntrack users of every table, not only the raw tables' notracks */
};

/* Appends to out.  A table that cannot be read becomes a note; only running
 * out of memory fails. */
int lint_ipt_read(const struct lint_ipt_options *o, struct lint_input *out, struct diag *d);

/* A fingerprint of every loaded legacy table's rules (counters left out), or
 * 0 when none is loaded: lint reads them, and they change without moving
 * nftables' generation, so apply's "nothing changed since" stamp holds it.
 * A table that cannot be read is folded in as such. */
uint64_t lint_ipt_fingerprint(void);
