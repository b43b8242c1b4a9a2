/*
 * The transaction, shared by every backend: read the live state, plan, commit
 * in one kernel transaction, retry when someone else committed in between,
 * then read back and verify that what is live is what we asked for.
 */
#pragma once
#include "backend/backend.h"

#define TXN_MAX_RESTARTS 5

struct txn_result {
	bool changed;
	char **diff;
	size_t n_diff;
	unsigned restarts;	    /* plans redone because the ruleset moved */
	bool committed;		    /* the kernel accepted a batch: it now holds the change */
	uint64_t kernel_generation; /* after the commit (or as read, if unchanged) */
};

/* Called once, right before the first batch goes out (not when there is
 * nothing to change): a failure sends nothing. */
struct txn_hooks {
	int (*before_commit)(void *ctx, struct diag *d);
	void *ctx;
};

/* desired NULL: remove everything we own.  check_only: plan and report, send nothing. */
int txn_run(const struct backend_ops *ops, struct backend *b, const struct ruleset *desired, bool check_only,
	    struct txn_result *res, struct diag *d);
/* txn_run() with hooks (NULL: none). */
int txn_run_hooked(const struct backend_ops *ops, struct backend *b, const struct ruleset *desired, bool check_only,
		   const struct txn_hooks *hooks, struct txn_result *res, struct diag *d);
void txn_result_free(struct txn_result *res);

/* The test seam's sync point `point` (see txn.c): nothing unless
 * NOTRACKCTL_TEST_SYNC_DIR is set. */
void txn_test_pause(const char *point);
