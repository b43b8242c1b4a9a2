/*
 * The keys of the policy's "conntrack" section: the writable
 * net.netfilter.nf_conntrack_* sysctls without the prefix, with their
 * ranges, and lists of key = value pairs.  Pure: engine/ct_sysctl.h reads
 * and writes them.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

struct ct_key {
	const char *name; /* the sysctl without "nf_conntrack_" */
	long long min, max;
	const char *unit; /* for messages: "seconds", "entries", "0 or 1"... */
};

/* The key named `name`, or NULL. */
const struct ct_key *ct_sysctl_key(const char *name);
/* Every key's name, NULL-terminated (for unknown-key suggestions). */
const char *const *ct_sysctl_names(void);

/* A list of key = value pairs (the baseline: what the kernel held before we
 * managed a key, and what an apply read before writing). */
struct ct_values {
	struct ct_value *v;
	size_t n;
};

void ct_values_free(struct ct_values *l);
/* The entry for key, or NULL. */
struct ct_value *ct_values_find(const struct ct_values *l, const char *key);
int ct_values_set(struct ct_values *l, const char *key, long long value);
void ct_values_del(struct ct_values *l, const char *key);
