/*
 * The only code that calls libiptc.  libip4tc and libip6tc have the same
 * calls under two prefixes; a table here knows its family and picks the
 * right one.  A table is a snapshot: ipt_snap_open() reads the whole table
 * from the kernel, edits change only the snapshot, and ipt_snap_commit()
 * replaces the kernel's table with it in one setsockopt.  libiptc has no
 * locking of its own: callers hold the xtables lock (xtables_lock.h).
 *
 * Commits go through an ops table so tests can make the N-th one fail.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"
#include "emit/ipt_build.h"

struct xtc_handle;

struct ipt_snap {
	unsigned family; /* FAMILY_IPV4 or FAMILY_IPV6 */
	char name[IPT_CHAIN_MAX];
	struct xtc_handle *h;
};

struct ipt_transport_ops {
	/* Returns 0 or a negative errno. */
	int (*commit)(struct ipt_snap *t);
};

/* The real libiptc commit; tests may replace it. */
extern struct ipt_transport_ops ipt_transport_ops;
int ipt_transport_real_commit(struct ipt_snap *t);

/* "IPv4" or "IPv6", for messages. */
const char *ipt_family_label(unsigned family);

/*
 * The tables this namespace has instantiated, from /proc/net/ip_tables_names
 * or ip6_tables_names.  Reading those files loads nothing, whereas opening a
 * table with libiptc makes the kernel create it if it was not there yet: so
 * everything that only looks must ask here first.  No x_tables at all means
 * no tables.
 */
int ipt_loaded_tables(unsigned family, char ***names, size_t *n, struct diag *d);
bool ipt_names_contain(char **names, size_t n, const char *table);
void ipt_names_free(char **names, size_t n);

/* Reads the table (creating it in the kernel if it was not loaded). */
int ipt_snap_open(struct ipt_snap *t, unsigned family, const char *name, struct diag *d);
void ipt_snap_close(struct ipt_snap *t);
/* Replaces the kernel's table with the edited snapshot; the snapshot is used up. */
int ipt_snap_commit(struct ipt_snap *t, struct diag *d);

/* Reading the snapshot.  Chains come in the kernel's order, rules in chain order. */
const char *ipt_snap_first_chain(struct ipt_snap *t);
const char *ipt_snap_next_chain(struct ipt_snap *t);
bool ipt_snap_builtin(struct ipt_snap *t, const char *chain);
/* The policy of a built-in chain, or NULL. */
const char *ipt_snap_policy(struct ipt_snap *t, const char *chain);
const void *ipt_snap_first_rule(struct ipt_snap *t, const char *chain);
const void *ipt_snap_next_rule(struct ipt_snap *t, const void *prev);
/* What the rule does: a chain name, ACCEPT, RETURN ..., or an extension target's name. */
const char *ipt_snap_target(struct ipt_snap *t, const void *e);

/* Editing the snapshot; positions are 1-based like iptables' rule numbers. */
int ipt_snap_create_chain(struct ipt_snap *t, const char *chain, struct diag *d);
int ipt_snap_flush_chain(struct ipt_snap *t, const char *chain, struct diag *d);
int ipt_snap_delete_chain(struct ipt_snap *t, const char *chain, struct diag *d);
int ipt_snap_insert_rule(struct ipt_snap *t, const char *chain, const void *e, unsigned pos, struct diag *d);
int ipt_snap_append_rule(struct ipt_snap *t, const char *chain, const void *e, struct diag *d);
int ipt_snap_delete_rule(struct ipt_snap *t, const char *chain, unsigned pos, struct diag *d);
