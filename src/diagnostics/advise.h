/*
 * The arithmetic behind `status` warnings and `advise`: pure functions of
 * numbers read elsewhere, so each rule can be checked by hand in a test.
 *
 * Memory of the table (the admins' back-of-the-envelope formula, with the
 * real sizes):
 *     max * objsize + buckets * sizeof(bucket head)
 * objsize is the nf_conntrack slab's object size (/proc/slabinfo); a bucket
 * head is one pointer (struct hlist_nulls_head).  Entries are allocated as
 * they are needed, so max * objsize is what a full table costs; the buckets
 * are allocated up front.  Extensions (accounting, timestamps, helpers) are
 * allocated separately and not counted.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"
#include "policy/policy.h"

/* Used when /proc/slabinfo cannot be read (it is root-only) or does not list
 * the cache (slab merging).  struct nf_conn is 256 bytes on the 6.x kernels
 * we measured and 352 on older ones; the larger value makes the memory shown
 * an upper bound rather than an underestimate. */
#define ADVISE_DEFAULT_OBJSIZE 352
#define ADVISE_BUCKET_SIZE 8 /* struct hlist_nulls_head: one pointer (64-bit) */

/* status warns at these */
#define ADVISE_WARN_USE_PERCENT 80     /* count / max */
#define ADVISE_WARN_BUCKETS_PERCENT 75 /* count / buckets: chains get long */

/* Table use, in percent of max and of buckets, and the warnings it earns. */
struct table_health {
	double use_percent;	/* count / max; 0 when max is unknown */
	double buckets_percent; /* count / buckets; 0 when buckets is unknown */
	bool warn_full;		/* use_percent >= ADVISE_WARN_USE_PERCENT */
	bool warn_chains;	/* count > ADVISE_WARN_BUCKETS_PERCENT % of buckets */
	bool warn_drops;	/* drop or early_drop is not zero */
};

void advise_table_health(uint64_t count, uint64_t max, uint64_t buckets, uint64_t drops, struct table_health *h);

/* Bytes for a table of max entries and this many buckets. */
uint64_t advise_memory(uint64_t max, uint64_t buckets, uint64_t objsize);

/*
 * The kernel's own default hash size for a machine with this much RAM (Linux
 * 5.15 and later, 64-bit): RAM / 16384 bytes per bucket head, 65536 above
 * 1 GiB, 262144 above 4 GiB, at least 1024.  nf_conntrack_max then defaults
 * to the same number, which keeps the average chain at 2 entries in a full
 * table, as every entry is hashed twice (original and reply direction).
 */
uint64_t advise_kernel_default_buckets(uint64_t ram);

struct advise_input {
	uint64_t ram;	  /* bytes */
	uint64_t objsize; /* bytes per entry */
	uint64_t count;	  /* entries now */
	uint64_t peak;	  /* the highest count seen; count if nothing better is known */
	uint64_t max;	  /* nf_conntrack_max now */
	uint64_t buckets; /* nf_conntrack_buckets now */
	uint64_t drops;	  /* drop + early_drop since boot, over all CPUs */
};

/*
 * The sizing rules:
 *  1. demand = max(peak, count); if the kernel ever dropped a packet or
 *     evicted an entry because the table was full (drops > 0), demand was at
 *     least the current max.
 *  2. target = 2 * demand, rounded up to a power of two: room for a burst as
 *     large again as the worst one seen.
 *  3. max = the larger of the current max and the target (a lower max saves
 *     nothing until entries exist, and lowering it can only cause drops), but
 *     no more entries than fit in 1/16 of RAM with their buckets (`capped`);
 *     past that, notracking traffic is the answer, not a bigger table.
 *  4. buckets = max (one bucket head per entry: the kernel's default ratio),
 *     or the current number if that is already larger.
 */
struct advise_sizes {
	uint64_t kernel_default; /* buckets and max a boot without settings gives */
	uint64_t demand, target;
	uint64_t cap;	       /* most entries that fit in RAM / 16 */
	bool capped;	       /* the target was cut down to cap */
	bool table_was_full;   /* drops > 0 */
	uint64_t max, buckets; /* recommended */
	uint64_t max_now, buckets_now;
	uint64_t memory_now; /* bytes, current max and buckets */
	uint64_t memory;     /* bytes, recommended max and buckets */
	bool change;	     /* recommended differs from current */
};

void advise_sizes(const struct advise_input *in, struct advise_sizes *out);

/* ------------------------------------------------------------------ */
/* timeouts                                                             */

enum advise_timeout {
	ADV_TCP_ESTABLISHED,
	ADV_TCP_TIME_WAIT,
	ADV_TCP_CLOSE_WAIT,
	ADV_TCP_FIN_WAIT,
	ADV_TCP_SYN_SENT,
	ADV_TCP_SYN_RECV,
	ADV_UDP,	/* nf_conntrack_udp_timeout: no reply seen, or not yet a stream */
	ADV_UDP_STREAM, /* nf_conntrack_udp_timeout_stream: replied, assured */
	ADV_TIMEOUTS,
};

/* The sysctl (under net.netfilter.) and the kernel's default, in seconds. */
const char *advise_timeout_sysctl(enum advise_timeout t);
uint64_t advise_timeout_default(enum advise_timeout t);

/* What the table holds, by the state each timeout applies to. */
struct advise_mix {
	uint64_t total;
	uint64_t entries[ADV_TIMEOUTS];
	bool pressure; /* the table is or was nearly full: drops, or use >= 50 % */
};

struct advise_timeout_item {
	enum advise_timeout which;
	uint64_t current, recommended; /* seconds */
	double share_percent;	       /* of all entries */
	bool change;
	const char *why_default; /* why the default is what it is */
	const char *risk;	 /* what could break with the recommended value */
	const char *note;	 /* what else to consider; NULL if nothing */
};

/* A state is worth a timeout change when it holds at least this share of the
 * table and the table is under pressure. */
#define ADVISE_TIMEOUT_SHARE_PERCENT 20
/* and is worth a mention at all from this share */
#define ADVISE_TIMEOUT_MENTION_PERCENT 5

/*
 * One item per timeout whose state holds at least the mention share, in
 * enum order.  A change is recommended only under pressure, for a state with
 * at least ADVISE_TIMEOUT_SHARE_PERCENT of the entries, when its current
 * timeout is longer than the recommended one.  Returns the number of items.
 */
size_t advise_timeouts(const struct advise_mix *mix, const uint64_t current[ADV_TIMEOUTS],
		       struct advise_timeout_item out[ADV_TIMEOUTS]);

/* ------------------------------------------------------------------ */
/* rendering                                                            */

#define ADVISE_SYSCTL_FILE "/etc/sysctl.d/90-notrackctl-conntrack.conf"

/*
 * A ready /etc/sysctl.d/ file: nf_conntrack_max and nf_conntrack_buckets as
 * recommended (pinned even when unchanged), and each timeout change with its
 * reason and risk as comments.  `when` goes into the header.
 */
int advise_render_sysctl(const struct advise_sizes *s, uint64_t objsize, const struct advise_timeout_item *items,
			 size_t n, const char *when, struct strbuf *out);
/* The ways to set the hash size: now through sysfs, at boot through a module
 * option or the kernel command line.  Each line starts with `prefix`. */
int advise_render_hashsize(uint64_t buckets, const char *prefix, struct strbuf *out);
/* "1.5 GiB", "64.0 MiB", "512 B" */
void advise_format_bytes(uint64_t bytes, char *buf, size_t size);

/*
 * The recommendation as values of a policy's "conntrack" section: max and
 * buckets, then each timeout change, named as the section names them (the
 * sysctl without "nf_conntrack_").  Returns how many it wrote to out.
 */
#define ADVISE_POLICY_VALUES (2 + ADV_TIMEOUTS)
size_t advise_policy_values(const struct advise_sizes *s, const struct advise_timeout_item *items, size_t n,
			    struct ct_value out[ADVISE_POLICY_VALUES]);
