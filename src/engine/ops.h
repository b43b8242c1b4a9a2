/*
 * The user-level operations: apply, diff, rollback, remove and the
 * generation history.  Each ties the compiler, a backend, the transaction
 * and the state directory together; the CLI only prints what they return.
 */
#pragma once
#include "backend/backend.h"
#include "lint/lint.h"
#include "policy/policy.h"
#include "compile/ruleset.h"
#include "engine/state.h"
#include "engine/txn.h"
#include "engine/ct_sysctl.h"

struct op_config {
	const char *table;     /* NULL: RULESET_DEFAULT_TABLE */
	const char *state_dir; /* NULL: STATE_DEFAULT_DIR */
	const struct backend_ops *backend;
	int lock_timeout_ms; /* < 0: the default (30 s); 0: do not wait */
	bool check_only;     /* plan and report; change nothing, record nothing */
	bool host_checks;    /* warn about interfaces missing on this host */
	bool force;	     /* rollback even though someone changed our objects */
	/* apply: go ahead although lint found conflicts (they become warnings) */
	bool allow_conflicts;
	/* apply --confirm: seconds until the automatic rollback (0: none), and
	 * the command the timer runs then, without the token (appended). */
	int confirm_seconds;
	const char *const *expire_argv;
	/* Lint reads foreign rules only through `backend`, not also from the
	 * legacy tables and nftables beside it: for a backend that stands in
	 * for the whole kernel (the engine's tests). */
	bool lint_backend_only;
};

struct op_result {
	struct txn_result txn;
	uint64_t generation_from, generation_to;
	struct ruleset rs; /* what was compiled (empty for remove) */
	bool has_pending;  /* apply --confirm: awaiting confirmation */
	struct pending pending;
	bool cancelled_pending; /* rollback / remove / confirm ended a pending confirmation */
	bool foreign_changes;	/* others changed the ruleset since the current generation */
	bool nothing_pending;	/* confirm: there was nothing to confirm */
	bool ct_changed;	/* conntrack sysctl values were (or, checking, would be) written */
	/* each conntrack value written (or that would be): from, to (same order) */
	struct ct_values ct_from, ct_to;
	struct lint_report lint; /* apply, diff, lint: what the linter found */
	bool lint_skipped;	 /* the backend cannot lint (yet), or lint --offline */
	/* digest of the policy now in force ("none" when nothing of ours is) */
	char policy_digest[DIGEST_SIZE];
};

int op_apply(const struct op_config *cfg, const struct policy_source *src, struct op_result *res, struct diag *d);
/* to == 0 with has_to false: the current generation's parent. */
int op_rollback(const struct op_config *cfg, bool has_to, uint64_t to, struct op_result *res, struct diag *d);
int op_remove(const struct op_config *cfg, struct op_result *res, struct diag *d);
/* Keeps the pending apply; token NULL confirms whatever is pending. */
int op_confirm(const struct op_config *cfg, const char *token, struct op_result *res, struct diag *d);
/* Run by the timer: waits for the deadline, then rolls back unless the
 * apply with this token was confirmed meanwhile. */
int op_confirm_expire(const struct op_config *cfg, const char *token, struct op_result *res, struct diag *d);
/* Makes the kernel hold the current generation again, as at boot, when
 * nothing of ours is there: no new generation, no digest guard.  An apply
 * that was never confirmed is not restored; its predecessor is. */
int op_restore(const struct op_config *cfg, struct op_result *res, struct diag *d);
/* The pending confirmation, if any: 0, -ENOENT, or an error in d. */
int op_pending(const struct op_config *cfg, struct pending *p, struct diag *d);
void op_result_free(struct op_result *res);

/* Compiles the policy and lints it against the live ruleset (offline: the
 * policy alone, no kernel, no privileges).  Findings go to res->lint; the
 * CLI decides what they mean for the exit code. */
int op_lint(const struct op_config *cfg, const struct policy_source *src, bool offline, struct op_result *res,
	    struct diag *d);
