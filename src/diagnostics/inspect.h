/*
 * The diagnostics operations behind `status`, `top` and `advise`.  Each
 * gathers what ctnetlink, procfs, the backend and the state directory say
 * into one report; the CLI only prints it.  They only read: nothing here
 * writes to the kernel, to a sysctl or to the state directory (`advise
 * --write FILE` writes FILE, through inspect_write_file, and nothing else).
 */
#pragma once
#include "engine/ct_sysctl.h"
#include <stdbool.h>
#include <stdint.h>

#include "diagnostics/advise.h"
#include "diagnostics/advise_ports.h"
#include "backend/backend.h"
#include "diagnostics/coverage.h"
#include "diagnostics/ct_agg.h"
#include "diagnostics/ct_dump.h"
#include "util/diag.h"
#include "backend/owned.h"
#include "engine/state.h"
#include "compile/ruleset.h"

/* How full the table is, and where each number came from. */
struct table_use {
	uint64_t count, max, buckets;
	bool has_max, has_buckets;
	const char *count_source; /* "ctnetlink" or "proc" */
	struct ct_counters counters;
	bool has_counters;
	const char *counters_source; /* "ctnetlink" or "proc" */
	struct table_health health;
};

/* Prefers ctnetlink and falls back to procfs; fails only when not even the
 * count can be read. */
int inspect_table(const struct ct_ops *ct, struct table_use *t, struct diag *d);

/* What one rule we own did, by what it is for (from its comment). */
enum owned_role {
	OWNED_ROLE_NOTRACK, /* its packets bypassed conntrack */
	OWNED_ROLE_KEEP,    /* keep_tracked: its packets went on to conntrack */
	OWNED_ROLE_ACCEPT,  /* an untracked accept in someone else's chain */
	OWNED_ROLE_JUMP,    /* iptables: the jump into our chain; it sees every packet */
	OWNED_ROLE_TIMEOUT, /* sets a keep_tracked entry's ct timeout; after conntrack, so no bypass */
};
enum owned_role inspect_owned_role(const struct owned_object *o);
/* The policy entry an owned rule comes from ("notrack.services[0]"), or "". */
const char *inspect_owned_origin(const struct owned_object *o);

struct status_config {
	const struct ct_ops *ct;
	const struct backend_ops *backend; /* NULL: none could be chosen; rules are skipped */
	const char *table;		   /* NULL: RULESET_DEFAULT_TABLE */
	const char *state_dir;		   /* NULL: STATE_DEFAULT_DIR */
	int lock_timeout_ms;		   /* for a backend lock (iptables: the xtables lock); < 0: 30 s */
};

struct status_report {
	struct table_use table;
	struct diag table_err; /* kind DIAG_NONE when the table could be read */

	uint64_t generation;  /* 0: nothing of ours applied */
	bool has_state_dir;   /* false: never applied here */
	char *policy_file;    /* of the current generation; NULL if none */
	int64_t applied_time; /* seconds since the epoch; 0 if none */
	char pending[384];    /* a commit-confirmed apply waiting, in words, or "none" */
	bool has_pending;
	struct pending pending_detail;
	bool has_expired; /* nothing pending, and the last confirmation expired */
	struct expired expired;
	struct diag state_err;

	struct owned_list owned;
	uint64_t bypassed_packets, bypassed_bytes; /* summed over the notrack rules */
	struct diag rules_err;

	/* What the current generation recorded right after its commit, and
	 * whether the kernel still holds it: drift is true when our rules'
	 * digest changed or one of our untracked accepts is gone or no longer
	 * first in its chain.  has_drift is false when there is nothing to
	 * compare (nothing applied, another backend or table, a section failed). */
	struct owned_list recorded;
	char recorded_backend[16], recorded_table[32];
	bool has_drift, drift;
	char drift_what[256];

	/* The current generation's "conntrack" values and what the kernel
	 * holds now (a key that cannot be read is missing from ct_live);
	 * ct_drift counts the values someone changed since. */
	struct ct_values ct_want, ct_live;
	size_t ct_drift;
	struct diag ct_err;
};

/* Reads each section on its own: a section that fails (say, rules without
 * CAP_NET_ADMIN) records its error in the report and the others still run. */
void inspect_status(const struct status_config *cfg, struct status_report *rep);
void status_report_free(struct status_report *rep);

/* The policy of the current generation, compiled; *present is false when
 * nothing is applied.  Reads the state directory without creating it. */
int inspect_current_policy(const char *state_dir, const char *table, bool *present, uint64_t *generation, char **file,
			   struct ruleset *rs, struct diag *d);

/* The host's local addresses by interface, for coverage.  Caller frees. */
int inspect_host(struct host_addr **addrs, size_t *n, struct diag *d);

#define TOP_POLICIES 2 /* [0] the current policy, [1] a candidate */

struct top_request {
	const struct ct_ops *ct;
	size_t capacity; /* counters per top list; 0: counts only */
	const struct ruleset *policies[TOP_POLICIES];
	const struct cov_host *host;
	/* called every 1024 entries and once at the end; expected is the count
	 * before the dump started (entries come and go while it runs) */
	void (*progress)(uint64_t done, uint64_t expected, void *ctx);
	void *progress_ctx;
};

struct top_report {
	uint64_t expected;
	struct ct_agg agg;
	struct coverage cov[TOP_POLICIES];
	bool has_cov[TOP_POLICIES];
};

int inspect_top(const struct top_request *req, struct top_report *rep, struct diag *d);
void top_report_free(struct top_report *rep);

struct advise_request {
	const struct ct_ops *ct;
	uint64_t peak;	    /* a peak the caller knows of (--peak); 0 if none */
	unsigned sample_ms; /* watch the count this long for a peak; 0: do not */
	uint64_t objsize;   /* 0: read /proc/slabinfo, else the default */
	uint64_t ram;	    /* 0: this machine's */
	/* count the traffic that must stay tracked by tcp/udp port, for
	 * per-traffic timeouts; policy (may be NULL) says what it keeps */
	bool per_port;
	const struct policy *policy;
};

struct advise_report {
	struct table_use table;
	uint64_t ram;
	uint64_t objsize;
	const char *objsize_source; /* "slabinfo", "default" or "given" */
	uint64_t peak;		    /* the peak used: max of count, sampled and given */
	struct advise_sizes sizes;
	struct ct_agg agg; /* counts only */
	uint64_t timeouts[ADV_TIMEOUTS];
	struct advise_mix mix;
	struct advise_timeout_item items[ADV_TIMEOUTS];
	size_t n_items;
	/* per_port only: the global timeouts after the advice, and the groups */
	uint64_t global_after[ADV_TIMEOUTS];
	struct advise_ports ports;
	struct advise_port_item port_items[ADVISE_PORT_MAX];
	size_t n_port_items;
};

int inspect_advise(const struct advise_request *req, struct advise_report *rep, struct diag *d);
void advise_report_free(struct advise_report *rep);

/* Writes text to path through a temporary file in the same directory,
 * fsync and rename(2), then fsyncs the directory; mode 0644.  A reader sees
 * the old file or the new one, never a part. */
int inspect_write_file(const char *path, const char *text, struct diag *d);

/*
 * advise --write-policy: puts `v` (n values) into the "conntrack" section of
 * the policy at path, keeping everything else in it, or writes a new policy
 * holding only that section.  A value this kernel or namespace cannot write
 * (max and buckets in a container) is left out of the file and of `v` (*n
 * counts what is left), with one line in `notes` saying why, so that apply
 * accepts the result here.  With nothing left a new file is not created.  The result is parsed
 * before it replaces the file; an existing file that is not a valid policy
 * is refused with its error.  The per-traffic proposals `ports` go into
 * keep_tracked (advise_ports_merge), with their lines in `notes`;
 * *n_ports then counts those that went into the file.
 */
int inspect_write_policy(const char *path, struct ct_value *v, size_t *n, const struct advise_port_item *ports,
			 size_t *n_ports, struct strbuf *notes, struct diag *d);
