/*
 * The compiler as the commands use it: policy text in, IR out, with the
 * interface check made against this host (compile_policy itself is pure).
 */
#pragma once
#include <stdbool.h>

#include "compile/ruleset.h"
#include "policy/policy.h"

/* Reads, parses and compiles; the diag is located in the source on failure.
 * host_checks: warn about interfaces missing on this host. */
int compile_source(const struct policy_source *src, const char *table, bool host_checks, struct ruleset *rs,
		   struct diag *d);
