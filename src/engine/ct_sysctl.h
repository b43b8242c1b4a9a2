/*
 * The policy's "conntrack" section: the net.netfilter.nf_conntrack_*
 * sysctls it may set, their ranges, and reading and writing them.
 *
 * The table of keys is pure (the parser uses it); reading and writing go
 * through one directory, /proc/sys/net/netfilter, or the directory named by
 * NOTRACKCTL_TEST_SYSCTL_ROOT, a test seam: in a network namespace the
 * timeouts are per namespace and writable, but nf_conntrack_max, _buckets
 * and _expect_max belong to the initial namespace and are read-only there,
 * so their logic is tested against plain files.  NOTRACKCTL_TEST_SYSCTL_FAIL
 * names a key whose writes fail (EIO), to test compensation.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "policy/ct_keys.h"
#include "util/diag.h"

/* The directory the sysctls are read from and written to. */
const char *ct_sysctl_root(void);

/* Reads net.netfilter.nf_conntrack_<key>.  -ENOENT when this kernel has no
 * such sysctl; d says which. */
int ct_sysctl_read(const char *key, long long *out, struct diag *d);
int ct_sysctl_write(const char *key, long long value, struct diag *d);

/*
 * Checks, before anything changes, that every value can be written here: the
 * sysctl exists on this kernel and may be opened for writing (in a network
 * namespace or a container some are read-only).  The refusal is one line
 * naming the key and its JSON path.
 */
int ct_sysctl_check(const struct ct_value *want, size_t n, struct diag *d);

/* Adds to `baseline` the live value of every key of `want` it lacks (the
 * first time we manage a key); *grew says whether it did.  The caller
 * saves the baseline before ct_sysctl_apply() writes anything. */
int ct_sysctl_note_baseline(const struct ct_value *want, size_t n, struct ct_values *baseline, bool *grew,
			    struct diag *d);

/*
 * Makes the kernel hold `want` (n values) and puts every key of `baseline`
 * that `want` no longer names back to the value it had before we first set
 * it, dropping it from `baseline`.  Every key of `want` must be in
 * `baseline` already (ct_sysctl_note_baseline).  `before`
 * receives the value of every key this call touched as it was just before,
 * so a failure later in the same change can undo it (ct_sysctl_undo).
 * On failure, what it already wrote is put back before it returns.
 * *changed says whether any value differed.
 */
int ct_sysctl_apply(const struct ct_value *want, size_t n, struct ct_values *baseline, struct ct_values *before,
		    bool *changed, struct diag *d);
/* Writes `before` back (best effort; the first failure is reported). */
int ct_sysctl_undo(const struct ct_values *before, struct diag *d);

/*
 * Drift: the keys of `want` whose live value is not the wanted one.  One
 * warning line per key ("conntrack.max is 262144, generation N set 524288");
 * returns how many drifted, or a negative errno.
 */
int ct_sysctl_drift(const struct ct_value *want, size_t n, unsigned long long generation, struct diag *d);
