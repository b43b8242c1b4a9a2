/*
 * What procfs says about conntrack, for when ctnetlink is not enough or not
 * there: the per-namespace count, limit and hash size, the per-CPU counters
 * in /proc/net/stat/nf_conntrack (the fallback for ctnetlink's statistics),
 * the timeouts, the nf_conntrack slab's object size and the machine's RAM.
 * The parsers take text, so the unit tests need no /proc.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "diagnostics/ct_dump.h"

#define CT_PROC_SYSCTL_DIR "/proc/sys/net/netfilter"
#define CT_PROC_STAT_FILE "/proc/net/stat/nf_conntrack"
#define CT_PROC_SLABINFO "/proc/slabinfo"

/* Reads one unsigned decimal number from a file such as a sysctl.  Returns 0
 * or a negative errno (-EINVAL for text that is not a number). */
int ct_proc_read_u64(const char *path, uint64_t *out);
/* The same for net.netfilter.NAME, e.g. "nf_conntrack_buckets". */
int ct_proc_sysctl(const char *name, uint64_t *out);

/*
 * Sums the per-CPU rows of /proc/net/stat/nf_conntrack.  The first line names
 * the columns, which differ between kernels, so columns are found by name;
 * each further line is one CPU in hexadecimal.  The "entries" column is the
 * namespace-wide count repeated on every row and is not summed.
 */
int ct_proc_parse_stat(const char *text, struct ct_counters *sum);

/* The object size of the slab cache named name in /proc/slabinfo text
 * ("nf_conntrack"); -ENOENT when the cache is not listed. */
int ct_proc_parse_slab(const char *text, const char *name, uint64_t *objsize);

/* Reads a whole small file (at most 1 MiB), NUL-terminated.  Caller frees. */
int ct_proc_read_text(const char *path, char **text);

/* Total RAM of the machine in bytes. */
int ct_proc_ram(uint64_t *bytes);
