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

#include "backend/backend.h"

/* Every backend this build has, in the order `--backend auto` prefers
 * them, NULL-terminated.  Detection only iterates over it, so a backend
 * never calls up into the code that chooses it. */
extern const struct backend_ops *const backend_registry[];
/* The backend of that name ("nft", "iptables"), or NULL. */
const struct backend_ops *backend_by_name(const char *name);

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
