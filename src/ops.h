/*
 * The user-level operations: apply, diff, rollback, remove and the
 * generation history.  Each ties the compiler, a backend, the transaction
 * and the state directory together; the CLI only prints what they return.
 */
#pragma once
#include "backend.h"
#include "policy.h"
#include "ruleset.h"
#include "state.h"
#include "txn.h"

struct op_config {
	const char *table;     /* NULL: RULESET_DEFAULT_TABLE */
	const char *state_dir; /* NULL: STATE_DEFAULT_DIR */
	const struct backend_ops *backend;
	int lock_timeout_ms;
	bool check_only;  /* plan and report; change nothing, record nothing */
	bool host_checks; /* warn about interfaces missing on this host */
};

struct op_result {
	struct txn_result txn;
	uint64_t generation_from, generation_to;
	struct ruleset rs; /* what was compiled (empty for remove) */
};

int op_apply(const struct op_config *cfg, const struct policy_source *src, struct op_result *res, struct diag *d);
/* to == 0 with has_to false: the current generation's parent. */
int op_rollback(const struct op_config *cfg, bool has_to, uint64_t to, struct op_result *res, struct diag *d);
int op_remove(const struct op_config *cfg, struct op_result *res, struct diag *d);
void op_result_free(struct op_result *res);

/* Reads, parses and compiles; the diag is located in the source on failure. */
int op_compile(const struct policy_source *src, const char *table, bool host_checks, struct ruleset *rs,
	       struct diag *d);
