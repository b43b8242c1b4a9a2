/*
 * --backend auto: which backend fits this host, decided from the live
 * kernel and explained in words.
 *
 *   legacy tables in use, no nftables rules      → iptables (libiptc)
 *   nftables only: native tables, or the ip/ip6 tables iptables-nft
 *   manages (Debian 12, RHEL 8+, Docker)         → nft
 *   both                                         → refuse: split brain
 *   nothing                                      → nft
 *
 * Probing never creates anything: legacy tables are listed from
 * /proc/net/ip{,6}_tables_names and only tables already there are read,
 * because asking libiptc (or iptables-legacy) for a table makes the kernel
 * instantiate it.  nftables is only dumped.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "backend.h"

/* One table as a probe saw it. */
struct probe_table {
	char family[8];	 /* legacy: ipv4, ipv6; nft: ip, ip6, inet, arp, bridge, netdev */
	char name[256];	 /* nft table names may be that long */
	size_t n_chains; /* legacy: user-defined chains; nft: all chains */
	size_t n_rules;
	bool in_use;	   /* legacy: rules, user chains or a policy other than ACCEPT; nft: any chain */
	bool iptables_nft; /* nft: a table iptables-nft manages */
};

struct probe_list {
	struct probe_table *v;
	size_t n;
};

/* The probes, one per backend, in the backend's own file. */
int ipt_probe_tables(struct probe_list *out, struct diag *d);
int nft_probe_tables(struct probe_list *out, struct diag *d);
void probe_list_free(struct probe_list *l);
/* Appends a zeroed table; NULL when out of memory. */
struct probe_table *probe_list_add(struct probe_list *l);

struct backend_detection {
	const struct backend_ops *ops; /* the decision; NULL when refused */
	char reason[1024];	       /* why, in one sentence */
	bool kernel_empty;	       /* no rules anywhere: the default was taken */
	struct probe_list legacy, nft; /* what was found */
};

/* Probes the kernel and decides.  A split brain fails with DIAG_USAGE and
 * names what was found in both; d->warnings say it loudly. */
int backend_detect(struct backend_detection *out, struct diag *d);
void backend_detection_free(struct backend_detection *det);
/* "ipv4 filter (3 rules, 1 chain)", "ip filter (iptables-nft, 2 rules)". */
void probe_table_describe(const struct probe_table *t, char *buf, size_t size);
