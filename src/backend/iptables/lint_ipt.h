/*
 * The legacy iptables reader of the linter, through libiptc (ipt_transport):
 * the foreign notrack rules of the raw tables (CT --notrack, NOTRACK) and,
 * when asked, the filter chains an untracked packet meets (INPUT, FORWARD,
 * OUTPUT, with the chains they jump to inlined), for IPv4 and IPv6.  Only
 * tables the kernel has loaded are read: opening one would create it.
 *
 * It reads no NAT, state or helper users yet (the legacy lint, issue 19):
 * what it hands over is enough for the foreign notrack check.
 */
#pragma once
#include <stdbool.h>

#include "util/diag.h"
#include "lint/lint.h"

struct lint_ipt_options {
	const char *tag;	   /* the comment our rules carry: read as if they were not there */
	const char *our_chains[2]; /* our raw chains (prerouting, output): skipped */
	bool filter;		   /* also the filter chains (the iptables backend's accept goes there) */
};

/* Appends to out.  A table that cannot be read becomes a note; only running
 * out of memory fails. */
int lint_ipt_read(const struct lint_ipt_options *o, struct lint_input *out, struct diag *d);
