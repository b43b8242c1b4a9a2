/*
 * What the transaction needs from a backend: read the live state and plan a
 * change toward a compiled ruleset, then commit that plan as one kernel
 * transaction.  The transaction code (txn.c) is shared; backends differ only
 * in how they read and write the kernel.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "util/diag.h"
#include "backend/owned.h"
#include "compile/ruleset.h"
#include "util/strbuf.h"

struct backend;
struct lint_input;

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

void probe_list_free(struct probe_list *l);
/* Appends a zeroed table; NULL when out of memory. */
struct probe_table *probe_list_add(struct probe_list *l);

/* Which tables a backend's probe reads: --backend auto weighs legacy
 * iptables tables against nftables ones. */
enum backend_tables {
	BACKEND_TABLES_NFT,
	BACKEND_TABLES_LEGACY,
};

struct plan {
	bool changed;
	char **diff; /* human lines: "+ ...", "- ...", "~ ..." */
	size_t n_diff;
	uint64_t generation_before; /* the kernel's ruleset generation the plan was made against */
	void *priv;		    /* backend-specific: the batch to send */
};

struct backend_options {
	const char *table;   /* the ownership tag: nft table name, iptables chain prefix and comment */
	int lock_timeout_ms; /* how long open() may wait for a lock the backend needs */
};

struct backend_ops {
	const char *name;
	enum backend_tables tables;
	/* Lists the tables this backend's kernel interface holds, for
	 * --backend auto and status.  Never creates anything. */
	int (*probe)(struct probe_list *out, struct diag *d);
	/* Connects, and takes any lock the backend's tools share (iptables: the
	 * xtables lock), held until close(). */
	int (*open)(struct backend **out, const struct backend_options *opt, struct diag *d);
	void (*close)(struct backend *b);
	/* Reads the kernel and plans the change to `desired`; NULL desired means
	 * remove everything we own.  Warnings go to d->warnings. */
	int (*plan)(struct backend *b, const struct ruleset *desired, struct plan *out, struct diag *d);
	/* One transaction.  -ERESTART: someone changed the ruleset since plan(),
	 * nothing was applied, plan again.  -EINPROGRESS: the change was sent
	 * but its outcome is unknown; the caller reads the kernel to find out. */
	int (*commit)(struct backend *b, struct plan *p, struct diag *d);
	void (*plan_free)(struct plan *p);
	/* Optional; NULL: the transaction verifies by planning again.  After a
	 * successful commit(p), reads the kernel and checks that it holds what
	 * p planned: 0 and the kernel's generation now, or -EIO with the first
	 * difference.  For backends whose plan() is costly to build twice. */
	int (*verify)(struct backend *b, const struct plan *p, uint64_t *generation, struct diag *d);
	/* The kernel's current ruleset generation. */
	int (*generation)(struct backend *b, uint64_t *out, struct diag *d);
	/* True when every change to anything plan() reads moves that generation
	 * (nftables' generation id does): an unchanged generation then means an
	 * unchanged plan, and a no-op apply may skip reading (ops.c). */
	bool exact_generation;
	/* Everything we own now, in kernel order, with counters.  Without
	 * with_rules, the rules of our own table or chains are only counted
	 * (out->rules) and digested: a caller that wants the digest, the
	 * accepts and the jumps is spared 131,000 objects for a large
	 * iptables policy. */
	int (*owned)(struct backend *b, bool with_rules, struct owned_list *out, struct diag *d);
	/* The text form of a compiled ruleset for this backend, kept in each
	 * generation so a person can read what was applied. */
	int (*render)(const struct ruleset *rs, struct strbuf *out);
	/* Optional; NULL: this backend cannot lint yet.  Reads the live ruleset
	 * as the linter's backend-neutral input (lint.h): every foreign rule that
	 * needs conntrack, and every foreign filter chain an untracked packet
	 * can meet.  Changes nothing. */
	int (*lint_read)(struct backend *b, struct lint_input *out, struct diag *d);
	/* Optional, with an exact generation: what the backend last read of its
	 * own objects and the generation it read it at, as bytes for the next
	 * run (ops.c keeps them in the state directory).  Nothing to say: 0 and
	 * out left empty. */
	int (*known_save)(struct backend *b, struct strbuf *out);
	/* Hands such bytes back.  The backend believes them only while the
	 * generation reads what they say, and ignores bytes it cannot parse. */
	void (*known_load)(struct backend *b, const char *data, size_t len);
};

extern const struct backend_ops nft_backend_ops;
extern const struct backend_ops ipt_backend_ops;

/* helpers shared by backends */
int plan_add_diff(struct plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void plan_free_diff(struct plan *p);

/* One chain's rule changes in the diff are listed up to this many lines,
 * then counted in one line (both backends): a plan that rewrites a large
 * chain must not print a line per rule. */
#define PLAN_DIFF_CHAIN_LINES_MAX 1000

struct plan_diff_cap {
	struct plan *p;
	size_t lines, more;
};

/* True, and the line counted, once the cap is reached: for a caller whose
 * line is costly to format. */
bool plan_diff_cap_full(struct plan_diff_cap *c);
/* Adds a line to the diff, or counts it once the cap is reached. */
int plan_diff_cap_add(struct plan_diff_cap *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "~ chain CHAIN: N more rule changes not listed" when any were counted. */
int plan_diff_cap_end(struct plan_diff_cap *c, const char *chain);
