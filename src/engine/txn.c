#include "engine/txn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * A test seam.  With NOTRACKCTL_TEST_SYNC_DIR set, a run stops at named
 * points and waits (up to 10 s) for the test.  The first transaction of a
 * run stops at "before-commit" (planned, journaled, batch not sent) and at
 * "after-commit" (the kernel holds the change, nothing recorded yet).  The
 * other points stop only where the test asks, with DIR/POINT.wait:
 * "between-tables" (ipt_backend.c), "after-save", "before-clear",
 * "expire-locked" and "confirm-locked" (ops.c).  At each it creates
 * DIR/POINT and waits for DIR/POINT.go.  The tests use it to change the ruleset under a stale plan
 * (the genid check), to kill the run at every step (the intent journal)
 * and to order two runs.  Unset, as always outside tests, it costs one
 * getenv().
 */
void txn_test_pause(const char *point)
{
	const char *dir = getenv("NOTRACKCTL_TEST_SYNC_DIR");
	char path[4096];
	int fd;

	if (!dir || !*dir)
		return;
	if (strcmp(point, "before-commit") && strcmp(point, "after-commit")) {
		snprintf(path, sizeof(path), "%s/%s.wait", dir, point);
		if (access(path, F_OK) != 0)
			return;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, point);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/%s.go", dir, point);
	for (int i = 0; i < 1000 && access(path, F_OK) != 0; i++)
		usleep(10 * 1000);
}

void txn_result_free(struct txn_result *res)
{
	for (size_t i = 0; i < res->n_diff; i++)
		free(res->diff[i]);
	free(res->diff);
	memset(res, 0, sizeof(*res));
}

static int outcome_from_kernel(const struct backend_ops *ops, struct backend *b, const struct ruleset *desired,
			       struct txn_result *res, struct diag *d)
{
	char lost[DIAG_MSG_MAX];
	struct plan p;
	int r;

	snprintf(lost, sizeof(lost), "%s", d->msg);
	r = ops->plan(b, desired, &p, d);
	if (r < 0)
		return r;
	if (p.changed) {
		ops->plan_free(&p);
		return diag_fail(d, DIAG_KERNEL, EIO, NULL, "%s; reading the ruleset back shows nothing was applied",
				 lost);
	}
	ops->plan_free(&p);
	res->committed = true;
	d->kind = DIAG_NONE;
	return diag_warn(d, "", "%s; reading the ruleset back shows the change is in place", lost);
}

int txn_run(const struct backend_ops *ops, struct backend *b, const struct ruleset *desired, bool check_only,
	    struct txn_result *res, struct diag *d)
{
	return txn_run_hooked(ops, b, desired, check_only, NULL, res, d);
}

int txn_run_hooked(const struct backend_ops *ops, struct backend *b, const struct ruleset *desired, bool check_only,
		   const struct txn_hooks *hooks, struct txn_result *res, struct diag *d)
{
	struct plan p;
	int r;

	memset(res, 0, sizeof(*res));
	for (;;) {
		r = ops->plan(b, desired, &p, d);
		if (r < 0)
			return r;
		/* hand the description over; the plan keeps its batch */
		res->changed = p.changed;
		res->diff = p.diff;
		res->n_diff = p.n_diff;
		res->kernel_generation = p.generation_before;
		p.diff = NULL;
		p.n_diff = 0;
		if (!p.changed || check_only) {
			ops->plan_free(&p);
			return 0;
		}
		if (res->restarts == 0) {
			if (hooks && hooks->before_commit) {
				r = hooks->before_commit(hooks->ctx, d);
				if (r < 0) {
					ops->plan_free(&p);
					return r;
				}
			}
			txn_test_pause("before-commit");
		}
		r = ops->commit(b, &p, d);
		if (r == -EINPROGRESS) {
			/* the kernel decided, we did not hear what: the batch is
			 * atomic, so reading back tells all or nothing */
			ops->plan_free(&p);
			r = outcome_from_kernel(ops, b, desired, res, d);
			if (r < 0)
				return r;
			break;
		}
		if (r == 0) {
			res->committed = true;
			txn_test_pause("after-commit");
			if (ops->verify) {
				r = ops->verify(b, &p, &res->kernel_generation, d);
				ops->plan_free(&p);
				return r;
			}
		}
		ops->plan_free(&p);
		if (r != -ERESTART)
			break;
		/* Someone committed between our read and our batch: the kernel
		 * refused the whole batch.  Read again and re-plan on top of it. */
		if (++res->restarts > TXN_MAX_RESTARTS)
			return diag_fail(
			    d, DIAG_KERNEL, EAGAIN, NULL,
			    "the ruleset changed under us %d times in a row; nothing was applied, try again",
			    TXN_MAX_RESTARTS);
		for (size_t i = 0; i < res->n_diff; i++)
			free(res->diff[i]);
		free(res->diff);
		res->diff = NULL;
		res->n_diff = 0;
	}
	if (r < 0)
		return r;

	/* Verify by reading back: planning again must find nothing to do. */
	r = ops->plan(b, desired, &p, d);
	if (r < 0)
		return r;
	if (p.changed) {
		r = diag_fail(d, DIAG_KERNEL, EIO, NULL,
			      "verification failed: after the commit the live ruleset still differs (%s)",
			      p.n_diff ? p.diff[0] : "no detail");
		ops->plan_free(&p);
		return r;
	}
	res->kernel_generation = p.generation_before;
	ops->plan_free(&p);
	return 0;
}
