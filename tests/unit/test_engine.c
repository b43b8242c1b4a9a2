/*
 * The engine (engine/ops.c, txn.c, state.c) against an in-memory kernel
 * (tests/lib/fake_backend.c): no root, no namespace.  Each test gets a
 * fresh state directory and an empty fake kernel, and checks what both hold
 * afterwards: the kernel's text, the current generation, leftovers such as
 * an intent or a pending confirmation.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "emit/emit.h"
#include "compile/compile_source.h"
#include "engine/ops.h"
#include "engine/state.h"
#include "fake_backend.h"
#include "testlib.h"

#define POLICY_A "{\"version\": 1, \"notrack\": {\"services\": [{\"proto\": \"tcp\", \"ports\": [80, 443]}]}}"
#define POLICY_B "{\"version\": 1, \"notrack\": {\"services\": [{\"proto\": \"tcp\", \"ports\": [8080]}]}}"

struct fixture {
	char dir[256];
	char state_dir[300];
	struct op_config cfg;
};

static const char *const expire_argv[] = {"/bin/true", NULL};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char kernel[300];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/notrackctl-engine-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->state_dir, sizeof(f->state_dir), "%s/state", f->dir);
	snprintf(kernel, sizeof(kernel), "%s/kernel", f->dir);
	fake_kernel_init(kernel);
	f->cfg.state_dir = f->state_dir;
	f->cfg.backend = &fake_backend_ops;
	f->cfg.lock_timeout_ms = 0;
	f->cfg.lint_backend_only = true;
	f->cfg.expire_argv = expire_argv;
	/* a detached process, not systemd-run, and one that does nothing:
	 * the tests run expiry themselves */
	setenv("NOTRACKCTL_CONFIRM_TIMER", "process", 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* The text the kernel would hold for a policy. */
static char *rendered(const char *policy)
{
	struct policy_source src;
	struct ruleset rs;
	struct strbuf sb;
	struct diag d;

	tl_source_from_string(&src, "p.json", policy);
	diag_init(&d);
	assert_int_equal(compile_source(&src, NULL, false, &rs, &d), 0);
	strbuf_init(&sb);
	assert_int_equal(emit_nft_text(&rs, &sb), 0);
	strbuf_putc(&sb, '\0');
	ruleset_free(&rs);
	diag_free(&d);
	policy_source_free(&src);
	return strbuf_take(&sb);
}

static void assert_kernel_holds(const char *policy)
{
	char *want = policy ? rendered(policy) : strdup("");
	char *live;
	uint64_t g;

	fake_kernel_read(&live, &g);
	assert_string_equal(live, want);
	free(live);
	free(want);
}

static uint64_t current_generation(const struct fixture *f)
{
	struct state st;
	uint64_t n = 0;
	struct diag d;

	diag_init(&d);
	assert_int_equal(state_open(&st, f->state_dir, &d), 0);
	assert_int_equal(state_current(&st, &n, &d), 0);
	state_close(&st);
	diag_free(&d);
	return n;
}

static bool state_file_exists(const struct fixture *f, const char *name)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/%s", f->state_dir, name);
	return access(path, F_OK) == 0;
}

/* Runs apply; returns its result code, with res and d freed. */
static int apply_with(const struct op_config *cfg, const char *policy, struct op_result *keep)
{
	struct policy_source src;
	struct op_result res;
	struct diag d;
	int r;

	tl_source_from_string(&src, "p.json", policy);
	diag_init(&d);
	r = op_apply(cfg, &src, &res, &d);
	if (keep)
		*keep = res;
	else
		op_result_free(&res);
	diag_free(&d);
	policy_source_free(&src);
	return r;
}

static int apply(struct fixture *f, const char *policy)
{
	return apply_with(&f->cfg, policy, NULL);
}

static int rollback(struct fixture *f, bool force)
{
	struct op_config cfg = f->cfg;
	struct op_result res;
	struct diag d;
	int r;

	cfg.force = force;
	diag_init(&d);
	r = op_rollback(&cfg, false, 0, &res, &d);
	op_result_free(&res);
	diag_free(&d);
	return r;
}

static int restore(struct fixture *f)
{
	struct op_result res;
	struct diag d;
	int r;

	diag_init(&d);
	r = op_restore(&f->cfg, &res, &d);
	op_result_free(&res);
	diag_free(&d);
	return r;
}

static void test_apply_and_rollback(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(apply(f, POLICY_A), 0);
	assert_kernel_holds(POLICY_A);
	uint64_t first = current_generation(f);
	assert_true(first > 0);
	assert_int_equal(apply(f, POLICY_B), 0);
	assert_kernel_holds(POLICY_B);
	assert_true(current_generation(f) > first);

	/* back to A exactly, then to nothing */
	assert_int_equal(rollback(f, false), 0);
	assert_kernel_holds(POLICY_A);
	assert_int_equal(current_generation(f), first);
	assert_int_equal(rollback(f, false), 0);
	assert_kernel_holds(NULL);
	assert_int_equal(current_generation(f), 0);
	assert_false(state_file_exists(f, "intent.json"));
}

/* The same policy again: the no-op stamp proves nothing changed without
 * planning (the fake's generation is exact), and nothing is recorded. */
static void test_noop_skips_planning(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(apply(f, POLICY_A), 0);
	uint64_t gen = current_generation(f);
	unsigned plans = fake.plans, commits = fake.commits;

	assert_int_equal(apply(f, POLICY_A), 0);
	assert_int_equal(fake.plans, plans);
	assert_int_equal(fake.commits, commits);
	assert_int_equal(current_generation(f), gen);

	/* someone else touched our table: the stamp no longer holds, the
	 * engine plans and puts the policy back */
	fake_kernel_foreign_edit("table inet notrackctl { }\n");
	assert_int_equal(apply(f, POLICY_A), 0);
	assert_true(fake.plans > plans);
	assert_kernel_holds(POLICY_A);
}

/* A refused commit changes nothing: not the kernel, not the state. */
static void test_refused_commit(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(apply(f, POLICY_A), 0);
	uint64_t gen = current_generation(f);

	fake.refuse_errno = EPERM;
	assert_true(apply(f, POLICY_B) < 0);
	fake.refuse_errno = 0;
	assert_kernel_holds(POLICY_A);
	assert_int_equal(current_generation(f), gen);
	assert_false(state_file_exists(f, "intent.json"));
}

/* Someone commits between our plan and our commit: plan again. */
static void test_restarts(void **state)
{
	struct fixture *f = *state;
	struct op_result res;

	fake.restarts = 2;
	assert_int_equal(apply_with(&f->cfg, POLICY_A, &res), 0);
	assert_int_equal(res.txn.restarts, 2);
	op_result_free(&res);
	assert_kernel_holds(POLICY_A);

	/* a ruleset that never holds still: give up, change nothing */
	uint64_t gen = current_generation(f);
	fake.restarts = TXN_MAX_RESTARTS + 5;
	assert_true(apply(f, POLICY_B) < 0);
	fake.restarts = 0;
	assert_kernel_holds(POLICY_A);
	assert_int_equal(current_generation(f), gen);
}

/* The batch went out and no answer came back: the engine reads the kernel
 * to learn what happened, and records exactly that. */
static void test_unknown_outcome(void **state)
{
	struct fixture *f = *state;

	fake.unknown = FAKE_UNKNOWN_APPLIED;
	assert_int_equal(apply(f, POLICY_A), 0);
	assert_kernel_holds(POLICY_A);
	uint64_t gen = current_generation(f);
	assert_true(gen > 0);

	fake.unknown = FAKE_UNKNOWN_LOST;
	assert_true(apply(f, POLICY_B) < 0);
	assert_kernel_holds(POLICY_A);
	assert_int_equal(current_generation(f), gen);
	assert_false(state_file_exists(f, "intent.json"));
}

/* A child applies and dies at the chosen step; returns its exit status. */
static int apply_and_die(struct fixture *f, const char *policy, enum fake_crash when)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		fake.crash = when;
		apply(f, policy);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Killed after the kernel took the change, before it was recorded: the
 * next run finds the intent, sees the kernel holds it, and records it. */
static void test_killed_after_commit(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(apply(f, POLICY_A), 0);
	uint64_t gen = current_generation(f);
	assert_int_equal(apply_and_die(f, POLICY_B, FAKE_CRASH_AFTER_COMMIT), FAKE_CRASH_STATUS);
	assert_true(state_file_exists(f, "intent.json"));
	assert_kernel_holds(POLICY_B);

	/* any writer finishes it first; then a rollback goes to A */
	assert_int_equal(rollback(f, false), 0);
	assert_false(state_file_exists(f, "intent.json"));
	assert_kernel_holds(POLICY_A);
	assert_int_equal(current_generation(f), gen);
}

/* Killed with the batch unsent: the intent is dropped, nothing changed. */
static void test_killed_before_commit(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(apply(f, POLICY_A), 0);
	uint64_t gen = current_generation(f);
	assert_int_equal(apply_and_die(f, POLICY_B, FAKE_CRASH_BEFORE_COMMIT), FAKE_CRASH_STATUS);
	assert_kernel_holds(POLICY_A);

	assert_int_equal(restore(f), 0);
	assert_false(state_file_exists(f, "intent.json"));
	assert_kernel_holds(POLICY_A);
	assert_int_equal(current_generation(f), gen);
}

/* A reboot empties the kernel; restore brings back the current generation. */
static void test_restore_after_reboot(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(apply(f, POLICY_A), 0);
	assert_int_equal(apply(f, POLICY_B), 0);
	uint64_t gen = current_generation(f);
	fake_kernel_reboot();
	assert_kernel_holds(NULL);
	assert_int_equal(restore(f), 0);
	assert_kernel_holds(POLICY_B);
	assert_int_equal(current_generation(f), gen);
	/* and again: restore of what is there changes nothing */
	unsigned commits = fake.commits;
	assert_int_equal(restore(f), 0);
	assert_int_equal(fake.commits, commits);
}

/* Someone else changed our table since we applied it: rollback refuses
 * (it would throw their change away) unless forced. */
static void test_rollback_refuses_foreign_change(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(apply(f, POLICY_A), 0);
	assert_int_equal(apply(f, POLICY_B), 0);
	fake_kernel_foreign_edit("table inet notrackctl { chain theirs { } }\n");
	assert_true(rollback(f, false) < 0);
	char *live;
	uint64_t g;
	fake_kernel_read(&live, &g);
	assert_string_equal(live, "table inet notrackctl { chain theirs { } }\n");
	free(live);
	assert_int_equal(rollback(f, true), 0);
	assert_kernel_holds(POLICY_A);
}

static int confirm(struct fixture *f, const char *token)
{
	struct op_result res;
	struct diag d;
	int r;

	diag_init(&d);
	r = op_confirm(&f->cfg, token, &res, &d);
	op_result_free(&res);
	diag_free(&d);
	return r;
}

/* apply --confirm: kept when confirmed; rolled back when the deadline
 * passes unconfirmed. */
static void test_confirm_and_expiry(void **state)
{
	struct fixture *f = *state;
	struct op_config cfg = f->cfg;
	struct op_result res;
	struct diag d;

	assert_int_equal(apply(f, POLICY_A), 0);
	uint64_t gen_a = current_generation(f);

	cfg.confirm_seconds = 1;
	assert_int_equal(apply_with(&cfg, POLICY_B, &res), 0);
	assert_true(res.has_pending);
	op_result_free(&res);
	assert_true(state_file_exists(f, "pending.json"));
	assert_int_equal(confirm(f, NULL), 0);
	assert_false(state_file_exists(f, "pending.json"));
	assert_kernel_holds(POLICY_B);
	uint64_t gen_b = current_generation(f);

	/* unconfirmed: the timer's command rolls back once the deadline passed */
	assert_int_equal(apply_with(&cfg, POLICY_A, &res), 0);
	assert_true(res.has_pending);
	char token[sizeof(res.pending.token)];
	memcpy(token, res.pending.token, sizeof(token));
	op_result_free(&res);
	assert_kernel_holds(POLICY_A);
	diag_init(&d);
	assert_int_equal(op_confirm_expire(&f->cfg, token, &res, &d), 0);
	op_result_free(&res);
	diag_free(&d);
	assert_kernel_holds(POLICY_B);
	assert_int_equal(current_generation(f), gen_b);
	assert_false(state_file_exists(f, "pending.json"));
	/* a late confirm finds nothing to keep, and changes nothing */
	assert_true(confirm(f, token) < 0);
	assert_kernel_holds(POLICY_B);
	assert_true(gen_b > gen_a);
}

/* Both backends list a chain's rule changes through the same cap: at most
 * PLAN_DIFF_CHAIN_LINES_MAX lines, then one line that counts the rest. */
static void test_diff_cap(void **state)
{
	struct plan p = {0};
	struct plan_diff_cap under = {.p = &p}, over = {.p = &p};

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(plan_diff_cap_add(&under, "+ rule a: %d", i), 0);
	assert_int_equal(plan_diff_cap_end(&under, "a"), 0);
	assert_int_equal(p.n_diff, 3); /* no count line when nothing was left out */
	for (int i = 0; i < PLAN_DIFF_CHAIN_LINES_MAX + 5; i++)
		assert_int_equal(plan_diff_cap_add(&over, "- rule b: %d", i), 0);
	assert_true(plan_diff_cap_full(&over)); /* a caller may skip formatting: counted too */
	assert_int_equal(plan_diff_cap_end(&over, "b"), 0);
	assert_int_equal(p.n_diff, 3 + PLAN_DIFF_CHAIN_LINES_MAX + 1);
	assert_string_equal(p.diff[3 + PLAN_DIFF_CHAIN_LINES_MAX - 1], "- rule b: 999");
	assert_string_equal(p.diff[p.n_diff - 1], "~ chain b: 6 more rule changes not listed");
	plan_free_diff(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_diff_cap),
	    cmocka_unit_test_setup_teardown(test_apply_and_rollback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_noop_skips_planning, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restarts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_outcome, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_killed_after_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_killed_before_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restore_after_reboot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rollback_refuses_foreign_change, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_confirm_and_expiry, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
