/*
 * How many rules the iptables backend would load for a compiled ruleset,
 * counted from the rule IR alone, before anything is built: iptables has no
 * sets, so every peer × every local address × every multiport list of an
 * entry is a rule of its own, per hook and family.  A 16 KB policy of 400
 * peers, 400 addresses and 300 ports is 6.4 million rules, 1.4 GB to build;
 * the limit refuses that at once instead.
 */
#pragma once
#include <stdint.h>

#include "util/diag.h"
#include "compile/ruleset.h"

/* Rules per family the iptables backend accepts (README, "Backends"). */
#define IPT_MAX_RULES_PER_FAMILY 250000u

/* The rules our chains would hold in one family (FAMILY_IPV4 or _IPV6). */
uint64_t ipt_size_count(const struct ruleset *rs, unsigned family);

/* 0, or a DIAG_POLICY failure naming the first keep_tracked "timeouts"
 * (iptables does not carry them), or one naming (as its JSON path) the entry that
 * multiplies most, with its factors, when either family would exceed the
 * limit.  The caller locates d in the policy source. */
int ipt_size_check(const struct ruleset *rs, struct diag *d);
