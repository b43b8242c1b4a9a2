/*
 * The only code that speaks ctnetlink (NFNL_SUBSYS_CTNETLINK): it streams the
 * conntrack table of the caller's network namespace one entry at a time, and
 * reads the per-CPU and global statistics.  Nothing is kept between entries:
 * the caller aggregates as the dump goes.  The diagnostics reach it through
 * struct ct_ops, so tests can feed them entries without a kernel.
 *
 * A dump is not a snapshot: the kernel walks its hash table bucket by bucket
 * while entries come and go, so an entry created or removed meanwhile may or
 * may not be seen.  On a busy table the total can differ slightly from the
 * count read just before.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include <libmnl/libmnl.h>

#include "util/diag.h"

/* The TCP state of an entry that is not TCP, or whose state was not sent. */
#define CT_TCP_STATE_NONE 0xff

/* One conntrack entry, as far as the diagnostics need it: the original
 * direction's tuple (the packet that created the entry), the TCP state and
 * the status bits. */
struct ct_entry {
	uint8_t family;	   /* AF_INET or AF_INET6 */
	uint8_t proto;	   /* IPPROTO_* of the original tuple */
	uint8_t tcp_state; /* TCP_CONNTRACK_*, or CT_TCP_STATE_NONE */
	bool has_ports;	   /* tcp, udp, udplite, sctp, dccp */
	uint8_t src[16];   /* network byte order; IPv4 uses the first 4 bytes */
	uint8_t dst[16];   /* network byte order */
	uint16_t sport;	   /* host byte order; 0 without ports */
	uint16_t dport;	   /* host byte order; 0 without ports */
	uint32_t status;   /* IPS_* bits (linux/netfilter/nf_conntrack_common.h) */
};

/* The per-CPU counters (conntrack -S), summed over CPUs. */
struct ct_counters {
	uint64_t found, invalid, insert, insert_failed, drop, early_drop, error, search_restart, clash_resolve,
	    chaintoolong;
	unsigned cpus; /* how many CPUs reported */
};

/* The namespace's entry count and the limit, from IPCTNL_MSG_CT_GET_STATS. */
struct ct_global {
	uint64_t count;
	uint64_t max;
	bool has_max; /* CTA_STATS_GLOBAL_MAX_ENTRIES is absent before Linux 4.20 */
};

/* Called once per entry; a negative return stops the dump and is returned. */
typedef int (*ct_entry_cb)(const struct ct_entry *e, void *data);

struct ct_ops {
	/* Streams every entry of both families to cb. */
	int (*dump)(ct_entry_cb cb, void *data, struct diag *d);
	int (*counters)(struct ct_counters *out, struct diag *d);
	int (*global)(struct ct_global *out, struct diag *d);
};

/* The kernel, over a NETLINK_NETFILTER socket. */
extern const struct ct_ops ct_netlink_ops;

/* Decodes one IPCTNL_MSG_CT_NEW message of a dump.  Returns 0, or -EINVAL for
 * a message without a usable original tuple.  Exposed for the unit tests. */
int ct_parse_entry(const struct nlmsghdr *nlh, struct ct_entry *e);
/* Adds one IPCTNL_MSG_CT_GET_STATS_CPU message to the sums. */
int ct_parse_counters(const struct nlmsghdr *nlh, struct ct_counters *sum);

/* The kernel's name of a TCP conntrack state, as conntrack -L prints it. */
const char *ct_tcp_state_name(uint8_t state);
