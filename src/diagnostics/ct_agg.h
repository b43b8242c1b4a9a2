/*
 * Streaming aggregation of conntrack entries: one call per entry as the dump
 * goes, fixed memory whatever the table size.  Counts entries by family,
 * protocol, TCP state and reply status exactly, and the most frequent
 * original-direction sources, destination ports and (source, destination
 * port) pairs in bounded memory (topk.h explains when those are exact).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diagnostics/ct_dump.h"
#include "util/topk.h"

/* TCP states are counted by their kernel number, 0..9; anything else
 * (a newer kernel's state) is counted in the last slot. */
#define CT_AGG_TCP_STATES 11
#define CT_AGG_TCP_OTHER (CT_AGG_TCP_STATES - 1)

/*
 * Keys counted per dimension.  32768 keys take about 1.6 MiB per dimension,
 * about 5 MiB for all three, which keeps `top` under its 16 MiB budget for
 * any table size.  Below that many distinct keys every count is exact.
 */
#define CT_AGG_TOP_CAPACITY 32768
/* The longest top list one can ask for. */
#define CT_AGG_TOP_MAX 1000

enum ct_top_kind {
	CT_TOP_SOURCES,
	CT_TOP_DPORTS,
	CT_TOP_PAIRS, /* (source address, destination port) */
	CT_TOP_KINDS,
};

struct ct_agg {
	uint64_t total;
	uint64_t ipv4, ipv6;
	uint64_t proto[256];
	uint64_t tcp_state[CT_AGG_TCP_STATES];
	uint64_t unreplied;	/* no reply seen yet (IPS_SEEN_REPLY clear) */
	uint64_t udp_unreplied; /* of those, UDP */
	uint64_t assured;	/* IPS_ASSURED: not evicted early when the table is full */
	uint64_t udp_assured;	/* UDP streams: these time out after udp_timeout_stream */
	bool with_tops;
	struct topk tops[CT_TOP_KINDS];
};

/* One row of a top list, decoded from its key. */
struct ct_top_row {
	uint8_t family; /* AF_INET, AF_INET6; 0 for ports, which count both */
	uint8_t addr[16];
	uint8_t proto; /* 0 for sources */
	uint16_t port;
	uint32_t count;
	uint32_t error; /* the real count is at least count - error */
};

/* capacity 0: no top lists, only the counts (advise). */
int ct_agg_init(struct ct_agg *a, size_t capacity);
void ct_agg_free(struct ct_agg *a);
void ct_agg_add(struct ct_agg *a, const struct ct_entry *e);
/* Are the counts of this top list exact (no key was ever evicted)? */
bool ct_agg_top_exact(const struct ct_agg *a, enum ct_top_kind kind);
/* The n most frequent keys of one kind, most frequent first; equal counts in
 * ascending address / protocol / port order; n is capped at CT_AGG_TOP_MAX.
 * Returns how many rows were written. */
size_t ct_agg_top(const struct ct_agg *a, enum ct_top_kind kind, size_t n, struct ct_top_row *out);
