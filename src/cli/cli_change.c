/*
 * The commands that change the kernel or read its history: apply, diff,
 * rollback, remove and generations.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/audit.h"
#include "cli/cli_backend.h"
#include "cli/cli_common.h"
#include "util/trust.h"
#include "cli/exit_codes.h"
#include "engine/ops.h"
#include "engine/state.h"

/* ------------------------------------------------------------------ */
/* kernel-facing commands                                               */

static json_t *lines_json(char **lines, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(lines[i]));
	return a;
}

/* One JSON document with the fields automation relies on; see README "JSON output". */
static void print_json(const struct global_options *g, const struct backend_choice *cb, const struct op_result *res,
		       const struct diag *d, int failed)
{
	json_t *o = json_object();

	json_t *ct = json_array();

	json_object_set_new(o, "changed", json_boolean(!failed && (res->txn.changed || res->ct_changed)));
	json_object_set_new(o, "generation", json_integer((json_int_t)res->generation_to));
	json_object_set_new(o, "previous_generation", json_integer((json_int_t)res->generation_from));
	json_object_set_new(o, "backend", cb->ops ? json_string(cb->ops->name) : json_null());
	json_object_set_new(o, "backend_decision", cli_backend_json(cb));
	json_object_set_new(o, "table", json_string(g->table ? g->table : RULESET_DEFAULT_TABLE));
	json_object_set_new(o, "diff", lines_json(res->txn.diff, res->txn.n_diff));
	/* how often the ruleset moved between our read and our commit */
	json_object_set_new(o, "restarts", json_integer((json_int_t)res->txn.restarts));
	json_object_set_new(o, "exposure", lines_json(res->rs.exposure, res->rs.n_exposure));
	json_object_set_new(o, "lint", cli_lint_json(&res->lint));
	if (res->has_pending)
		json_object_set_new(o, "confirm",
				    json_pack("{s:s,s:I,s:I,s:I,s:s,s:s}", "token", res->pending.token, "generation",
					      (json_int_t)res->pending.generation, "rollback_to",
					      (json_int_t)res->pending.rollback_to, "deadline",
					      (json_int_t)res->pending.deadline, "timer", res->pending.timer,
					      "timer_id", res->pending.timer_id));
	else
		json_object_set_new(o, "confirm", json_null());
	json_object_set_new(o, "cancelled_confirmation", json_boolean(res->cancelled_pending));
	json_object_set_new(o, "foreign_changes", json_boolean(res->foreign_changes));
	for (size_t i = 0; i < res->ct_from.n; i++)
		json_array_append_new(ct, json_pack("{s:s,s:I,s:I}", "key", res->ct_from.v[i].key, "from",
						    (json_int_t)res->ct_from.v[i].value, "to",
						    (json_int_t)res->ct_to.v[i].value));
	json_object_set_new(o, "conntrack", ct);
	cli_json_print(o, d, failed);
}

static void fill_config(const struct global_options *g, const struct backend_ops *ops, struct op_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->table = g->table;
	cfg->state_dir = g->state_dir ? g->state_dir : getenv("NOTRACKCTL_STATE_DIR");
	if (cfg->state_dir && !*cfg->state_dir)
		cfg->state_dir = NULL;
	cfg->backend = ops;
	cfg->lock_timeout_ms = g->lock_timeout_ms;
	cfg->host_checks = true;
}

static void print_diff_lines(FILE *f, const struct op_result *res)
{
	for (size_t i = 0; i < res->txn.n_diff; i++)
		fprintf(f, "  %s\n", res->txn.diff[i]);
}

static void print_notes(const struct op_result *res)
{
	char when[32] = "?";
	time_t t = (time_t)res->pending.deadline;
	struct tm tm;

	if (localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (res->has_pending)
		printf("awaiting confirmation: run 'notrackctl confirm %s' before %s, or generation %" PRIu64
		       " rolls back to %" PRIu64 " by itself (timer: %s %s)\n",
		       res->pending.token, when, res->pending.generation, res->pending.rollback_to, res->pending.timer,
		       res->pending.timer_id);
	if (res->cancelled_pending)
		printf("the pending confirmation of generation %" PRIu64 " is over\n", res->pending.generation);
	if (res->foreign_changes)
		printf("note: others changed their own rules since that generation; those stay as they are now\n");
}

/* Prints the outcome of a kernel-facing operation and returns the exit code. */
static int report(const char *command, const struct global_options *g, const struct backend_choice *cb,
		  struct op_result *res, struct diag *d, int r, bool check)
{
	int code = r < 0 ? cli_exit_code(d) : EXIT_OK;

	/* lint findings: the reason apply refused, or warnings; after any other
	 * failure the error alone is the point */
	if (!g->json && (r == 0 || d->kind == DIAG_CONFLICT))
		cli_print_lint(&res->lint, r == 0);
	if (g->verbose && !g->json && (cb->ops || cb->detected))
		cli_backend_explain(cb, stderr);
	/* a run that could have changed the kernel leaves an audit line */
	if (!check && strcmp(command, "diff"))
		audit_log(command, cb->ops ? cb->ops->name : "none", g->table ? g->table : RULESET_DEFAULT_TABLE, res,
			  r, d);
	if (r < 0)
		cli_print_error(d);
	else if (check && (res->txn.changed || res->ct_changed))
		code = EXIT_CHANGES;
	if (g->json) {
		print_json(g, cb, res, d, r < 0);
	} else if (r == 0) {
		bool changed = res->txn.changed || res->ct_changed;
		if (!changed)
			printf("unchanged (generation %" PRIu64 ")\n", res->generation_to);
		else if (check)
			printf("would change:\n");
		else if (!strcmp(command, "rollback"))
			printf("rolled back: generation %" PRIu64 " -> %" PRIu64 "\n", res->generation_from,
			       res->generation_to);
		else if (!strcmp(command, "restore"))
			printf("restored generation %" PRIu64 "\n", res->generation_to);
		else
			printf("changed: generation %" PRIu64 " -> %" PRIu64 "\n", res->generation_from,
			       res->generation_to);
		if (res->txn.changed && !g->quiet)
			print_diff_lines(stdout, res);
		for (size_t i = 0; !g->quiet && i < res->ct_from.n; i++)
			printf("  ~ conntrack.%s: %lld -> %lld\n", res->ct_from.v[i].key, res->ct_from.v[i].value,
			       res->ct_to.v[i].value);
		if (!changed && !strcmp(command, "rollback"))
			printf("current generation is now %" PRIu64 "\n", res->generation_to);
		print_notes(res);
	}
	if (r == 0 || d->n_warnings)
		cli_print_warnings(d);
	return code;
}

static const char apply_help[] = "Usage: notrackctl apply [OPTIONS] POLICY\n"
				 "\n"
				 "Compile POLICY and make the kernel match it in one transaction. Prints\n"
				 "'unchanged' when the kernel already matches (nothing is sent), or\n"
				 "'changed' with the difference. Every change is recorded as a new\n"
				 "generation in the state directory.\n"
				 "\n"
				 "Options:\n"
				 "      --check           report what would change and change nothing\n"
				 "                        (exit 1 when something would change)\n"
				 "      --confirm S       roll back by itself after S seconds unless\n"
				 "                        'notrackctl confirm' runs first; the timer\n"
				 "                        survives the terminal and the SSH session\n"
				 "      --allow-conflicts apply even though lint finds NAT or state\n"
				 "                        rules the policy would break (they are printed\n"
				 "                        as warnings); without it apply refuses, exit 4\n";

static const char diff_help[] = "Usage: notrackctl diff [OPTIONS] POLICY\n"
				"\n"
				"Show what 'apply POLICY' would change. Exits 0 when nothing would\n"
				"change and 1 when something would, like diff(1).\n"
				"\n"
				"Options:\n";

/*
 * What the confirmation timer runs at the deadline: this very binary, with
 * the same table, backend, state directory and permission checks, by
 * absolute paths, since the timer runs from / and, under systemd, with
 * another environment (confirm_timer.c carries XTABLES_LOCKFILE over).
 */
static int expire_command(const struct global_options *g, struct op_config *cfg, struct diag *d)
{
	static char exe[4096], dir[4096];
	static const char *argv[16];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t i = 0;

	if (n <= 0)
		return diag_fail(d, DIAG_SYSTEM, errno, NULL, "cannot find my own executable: %s", strerror(errno));
	exe[n] = '\0';
	if (!realpath(cfg->state_dir ? cfg->state_dir : STATE_DEFAULT_DIR, dir)) {
		/* not created yet: state_open() will make it, relative to here */
		if (!getcwd(dir, sizeof(dir) / 2))
			return diag_fail(d, DIAG_SYSTEM, errno, NULL, "cannot resolve the state directory");
		if (cfg->state_dir && cfg->state_dir[0] != '/')
			snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%s", cfg->state_dir);
		else
			snprintf(dir, sizeof(dir), "%s", cfg->state_dir ? cfg->state_dir : STATE_DEFAULT_DIR);
	}
	argv[i++] = exe;
	argv[i++] = "--table";
	argv[i++] = g->table ? g->table : RULESET_DEFAULT_TABLE;
	argv[i++] = "confirm-expire";
	argv[i++] = "--state-dir";
	argv[i++] = dir;
	argv[i++] = "--backend";
	argv[i++] = cfg->backend->name;
	/* a state this run accepted must not stop its own rollback */
	if (trust_insecure())
		argv[i++] = "--insecure-permissions";
	argv[i] = NULL;
	cfg->expire_argv = argv;
	return 0;
}

static int run_apply(int argc, char **argv, struct global_options *g, bool diff_mode)
{
	static const struct option opts[] = {
	    {"check", no_argument, NULL, 'c'},
	    {"confirm", required_argument, NULL, 'C'},
	    {"allow-conflicts", no_argument, NULL, 'A'},
	    {"help", no_argument, NULL, 'h'},
	    COMMON_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = diff_mode ? "diff" : "apply";
	long confirm = 0;
	char *end;
	struct backend_choice cb;
	struct policy_source src = {0};
	struct op_result res = {0};
	struct op_config cfg;
	bool check = diff_mode, allow_conflicts = false;
	struct diag d;
	int c, r, code;

	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		int k = cli_parse_common(cmd, c, optarg, g);
		if (k < 0)
			return -k;
		if (k)
			continue;
		switch (c) {
		case 'A':
			if (diff_mode)
				return cli_usage_error(cmd, "%s", "invalid option");
			allow_conflicts = true;
			break;
		case 'c':
			if (diff_mode)
				return cli_usage_error(cmd, "%s", "invalid option");
			check = true;
			break;
		case 'C':
			confirm = strtol(optarg, &end, 10);
			if (diff_mode || *end || !*optarg || confirm < 1 || confirm > 86400)
				return cli_usage_error(cmd, "--confirm takes seconds from 1 to 86400, not '%s'",
						       optarg);
			break;
		case 'h': printf("%s%s", diff_mode ? diff_help : apply_help, cli_common_help); return EXIT_OK;
		default: return cli_usage_error(cmd, "%s", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(cmd, "%s", optind == argc ? "missing POLICY" : "too many arguments");
	if ((code = cli_backend_check_name(cmd, g)))
		return code;
	diag_init(&d);
	r = cli_backend_choose(g, &cb, &d);
	fill_config(g, cb.ops, &cfg);
	cfg.check_only = check;
	cfg.allow_conflicts = allow_conflicts;
	cfg.confirm_seconds = (int)confirm;
	/* the timer gets the backend decided now, not a second detection */
	if (r == 0 && confirm && !check)
		r = expire_command(g, &cfg, &d);
	/* whoever can write the policy can open the firewall through us */
	if (r == 0 && !check)
		r = trust_check_path(argv[optind], &d);
	if (r == 0)
		r = policy_source_read(&src, argv[optind], &d);
	if (r == 0)
		r = op_apply(&cfg, &src, &res, &d);
	code = report(cmd, g, &cb, &res, &d, r, check);
	if (r == 0 && !g->quiet && !g->json && res.txn.changed && !check && res.rs.n_exposure) {
		cli_print_exposure(&res.rs, src.file, cb.ops ? cb.ops->name : NULL);
		cli_print_lint_exposure(&res.lint);
	}
	cli_backend_free(&cb);
	op_result_free(&res);
	policy_source_free(&src);
	diag_free(&d);
	return code;
}

int cmd_apply(int argc, char **argv, struct global_options *g)
{
	return run_apply(argc, argv, g, false);
}
int cmd_diff(int argc, char **argv, struct global_options *g)
{
	return run_apply(argc, argv, g, true);
}

static const char rollback_help[] = "Usage: notrackctl rollback [OPTIONS]\n"
				    "\n"
				    "Return the kernel to the previous generation (the one the current\n"
				    "generation was applied on top of), in one transaction. Rolling back\n"
				    "past the first generation removes everything notrackctl owns. Rules\n"
				    "notrackctl does not own are never touched.\n"
				    "\n"
				    "Options:\n"
				    "      --to N            go to generation N (0: nothing of ours)\n"
				    "      --check           report what would change and change nothing\n"
				    "      --force           roll back even if someone else changed\n"
				    "                        notrackctl's own rules since (exit 11 without)\n";

static const char remove_help[] = "Usage: notrackctl remove [OPTIONS]\n"
				  "\n"
				  "Remove everything notrackctl owns from the kernel: its table and the\n"
				  "untracked-accept rules it inserted. Recorded as a generation, so\n"
				  "'rollback' brings the rules back.\n"
				  "\n"
				  "Options:\n"
				  "      --check           report what would change and change nothing\n";

enum undo_kind {
	UNDO_ROLLBACK,
	UNDO_REMOVE,
	UNDO_RESTORE,
};

static const char restore_help[] = "Usage: notrackctl restore [OPTIONS]\n"
				   "\n"
				   "Make the kernel hold the current generation again, e.g. at boot\n"
				   "(notrackctl-restore.service). Records no new generation. An apply\n"
				   "that was never confirmed (apply --confirm) is not restored: its\n"
				   "predecessor is, as its timer would have done. Fails, changing\n"
				   "nothing, when the state directory cannot be read in full.\n"
				   "\n"
				   "Options:\n"
				   "      --check           report what would change and change nothing\n";

static int run_undo(int argc, char **argv, struct global_options *g, enum undo_kind kind)
{
	static const struct option opts[] = {
	    {"to", required_argument, NULL, 't'},
	    {"check", no_argument, NULL, 'c'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    COMMON_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	static const char *const names[] = {"rollback", "remove", "restore"};
	static const char *const helps[] = {rollback_help, remove_help, restore_help};
	const char *cmd = names[kind];
	struct backend_choice cb;
	struct op_result res = {0};
	struct op_config cfg;
	bool check = false, has_to = false, force = false;
	uint64_t to = 0;
	struct diag d;
	int c, r, code;

	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		int k = cli_parse_common(cmd, c, optarg, g);
		char *end;
		if (k < 0)
			return -k;
		if (k)
			continue;
		switch (c) {
		case 't':
			if (kind != UNDO_ROLLBACK)
				return cli_usage_error(cmd, "%s", "invalid option");
			errno = 0;
			to = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-')
				return cli_usage_error(cmd, "--to takes a generation number, not '%s'", optarg);
			has_to = true;
			break;
		case 'c': check = true; break;
		case 'f':
			if (kind != UNDO_ROLLBACK)
				return cli_usage_error(cmd, "%s", "invalid option");
			force = true;
			break;
		case 'h': printf("%s%s", helps[kind], cli_common_help); return EXIT_OK;
		default: return cli_usage_error(cmd, "%s", "invalid option");
		}
	}
	if (optind != argc)
		return cli_usage_error(cmd, "%s", "too many arguments");
	if ((code = cli_backend_check_name(cmd, g)))
		return code;
	diag_init(&d);
	r = cli_backend_choose(g, &cb, &d);
	fill_config(g, cb.ops, &cfg);
	cfg.check_only = check;
	cfg.force = force;
	if (r == 0 && kind == UNDO_REMOVE)
		r = op_remove(&cfg, &res, &d);
	else if (r == 0 && kind == UNDO_RESTORE)
		r = op_restore(&cfg, &res, &d);
	else if (r == 0)
		r = op_rollback(&cfg, has_to, to, &res, &d);
	code = report(cmd, g, &cb, &res, &d, r, check);
	cli_backend_free(&cb);
	op_result_free(&res);
	diag_free(&d);
	return code;
}

int cmd_rollback(int argc, char **argv, struct global_options *g)
{
	return run_undo(argc, argv, g, UNDO_ROLLBACK);
}
int cmd_remove(int argc, char **argv, struct global_options *g)
{
	return run_undo(argc, argv, g, UNDO_REMOVE);
}
int cmd_restore(int argc, char **argv, struct global_options *g)
{
	return run_undo(argc, argv, g, UNDO_RESTORE);
}

static const char generations_help[] = "Usage: notrackctl generations [OPTIONS]\n"
				       "\n"
				       "List the recorded generations, oldest first; '*' marks the current one.\n"
				       "\n"
				       "Options:\n";

int cmd_generations(int argc, char **argv, struct global_options *g)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    COMMON_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct state st;
	uint64_t *nums = NULL, current = 0;
	size_t n = 0;
	struct diag d;
	json_t *arr = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		int k = cli_parse_common("generations", c, optarg, g);
		if (k < 0)
			return -k;
		if (k)
			continue;
		if (c == 'h') {
			printf("%s%s", generations_help, cli_common_help);
			return EXIT_OK;
		}
		return cli_usage_error("generations", "%s", "invalid option");
	}
	if (optind != argc)
		return cli_usage_error("generations", "%s", "too many arguments");
	diag_init(&d);
	const char *dir = g->state_dir ? g->state_dir : getenv("NOTRACKCTL_STATE_DIR");
	r = state_open(&st, dir && *dir ? dir : STATE_DEFAULT_DIR, &d);
	if (r == 0)
		r = state_current(&st, &current, &d);
	if (r == 0)
		r = state_list(&st, &nums, &n, &d);
	if (r < 0) {
		cli_print_error(&d);
		diag_free(&d);
		return cli_exit_code(&d);
	}
	if (g->json)
		arr = json_array();
	else
		printf("%-3s %-6s %-6s %-8s %-20s %-16s %s\n", "", "GEN", "PARENT", "ACTION", "TIME (UTC)", "DIGEST",
		       "POLICY");
	for (size_t i = 0; i < n; i++) {
		struct generation gen;
		struct diag gd;
		char when[32] = "?";
		diag_init(&gd);
		if (state_load(&st, nums[i], &gen, &gd) < 0) {
			fprintf(stderr, "notrackctl: generation %" PRIu64 ": %s\n", nums[i], gd.msg);
			diag_free(&gd);
			continue;
		}
		time_t t = (time_t)gen.time;
		struct tm tm;
		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		if (arr)
			json_array_append_new(arr, json_pack("{s:I,s:I,s:b,s:s,s:s,s:s,s:s?,s:s,s:I}", "generation",
							     (json_int_t)gen.number, "parent", (json_int_t)gen.parent,
							     "current", gen.number == current, "action", gen.action,
							     "backend", gen.backend, "time", when, "policy_file",
							     gen.policy_file, "policy_digest", gen.policy_digest,
							     "kernel_generation", (json_int_t)gen.kernel_generation));
		else
			printf("%-3s %-6" PRIu64 " %-6" PRIu64 " %-8s %-20s %-16s %s\n",
			       gen.number == current ? "*" : "", gen.number, gen.parent, gen.action, when,
			       gen.policy_digest, gen.policy_file ? gen.policy_file : "-");
		generation_free(&gen);
		diag_free(&gd);
	}
	if (arr) {
		cli_json_print(json_pack("{s:I,s:o}", "current", (json_int_t)current, "generations", arr), &d, false);
	} else if (current == 0) {
		printf("current generation: 0 (nothing of ours applied)\n");
	}
	free(nums);
	state_close(&st);
	diag_free(&d);
	return EXIT_OK;
}

static const char confirm_help[] = "Usage: notrackctl confirm [OPTIONS] [TOKEN]\n"
				   "\n"
				   "Keep the generation that 'apply --confirm' put in place, and stop its\n"
				   "timer. With TOKEN, only if it is the pending one. With nothing pending\n"
				   "(already confirmed, rolled back, or an unchanged apply), says so and\n"
				   "exits 0, so automation can always run it after apply --confirm.\n"
				   "\n"
				   "Options:\n";

static int run_confirm(int argc, char **argv, struct global_options *g, bool expire)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    COMMON_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = expire ? "confirm-expire" : "confirm";
	struct backend_choice cb;
	struct op_result res = {0};
	struct op_config cfg;
	const char *token = NULL;
	struct diag d;
	int c, r, code;

	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		int k = cli_parse_common(cmd, c, optarg, g);
		if (k < 0)
			return -k;
		if (k)
			continue;
		if (c == 'h') {
			printf("%s%s", confirm_help, cli_common_help);
			return EXIT_OK;
		}
		return cli_usage_error(cmd, "%s", "invalid option");
	}
	if (argc - optind > 1 || (expire && argc - optind != 1))
		return cli_usage_error(cmd, "%s", "expected one TOKEN");
	if (optind < argc)
		token = argv[optind];
	if ((code = cli_backend_check_name(cmd, g)))
		return code;
	diag_init(&d);
	r = cli_backend_choose(g, &cb, &d);
	fill_config(g, cb.ops, &cfg);
	/* the timer waits as long as it takes for a run that holds the lock */
	if (expire && cfg.lock_timeout_ms < 0)
		cfg.lock_timeout_ms = 10 * 60 * 1000;
	if (r == 0)
		r = expire ? op_confirm_expire(&cfg, token, &res, &d) : op_confirm(&cfg, token, &res, &d);
	if (r < 0 || g->json) {
		code = report(cmd, g, &cb, &res, &d, r, false);
	} else {
		audit_log(cmd, cb.ops->name, g->table ? g->table : RULESET_DEFAULT_TABLE, &res, r, &d);
		code = EXIT_OK;
		if (res.nothing_pending)
			printf("nothing awaits confirmation\n");
		else if (expire)
			printf("not confirmed in time: rolled back to generation %" PRIu64 "\n", res.generation_to);
		else
			printf("confirmed: generation %" PRIu64 " stays\n", res.pending.generation);
		cli_print_warnings(&d);
	}
	cli_backend_free(&cb);
	op_result_free(&res);
	diag_free(&d);
	return code;
}

int cmd_confirm(int argc, char **argv, struct global_options *g)
{
	return run_confirm(argc, argv, g, false);
}
int cmd_confirm_expire(int argc, char **argv, struct global_options *g)
{
	return run_confirm(argc, argv, g, true);
}
