/*
 * The command line: parses arguments, calls the library, prints, and is the
 * only place that decides exit codes.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <time.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "ops.h"
#include "exit_codes.h"
#include "policy.h"
#include "ruleset.h"

#ifndef NOTRACKCTL_VERSION
#define NOTRACKCTL_VERSION "0.0.0"
#endif

static const char exit_code_help[] =
	"Exit codes:\n"
	"  0  success, or nothing to change\n"
	"  1  changes found (diff, apply --check)\n"
	"  2  usage error\n"
	"  3  invalid policy\n"
	"  4  lint conflict: NAT or state matching would break\n"
	"  5  the kernel refused the change; nothing was applied\n"
	"  6  lock timeout\n"
	"  7  permission denied (needs CAP_NET_ADMIN, or unsafe file permissions)\n"
	"  8  a commit-confirmed apply is pending\n"
	"  9  state directory unreadable or inconsistent\n"
	"  10 other system error\n";

struct global_options {
	bool quiet;
	bool json;
	const char *table;
	const char *state_dir;
	const char *backend;
	int lock_timeout_ms;
};

/* Options every kernel-facing command takes; their short codes are above 0x100
 * so they never clash with a command's own letters. */
enum {
	OPT_JSON = 0x100,
	OPT_STATE_DIR,
	OPT_BACKEND,
	OPT_LOCK_TIMEOUT,
	OPT_TABLE,
};
#define COMMON_OPTIONS                                                                                      \
	{ "json", no_argument, NULL, OPT_JSON }, { "state-dir", required_argument, NULL, OPT_STATE_DIR },   \
		{ "backend", required_argument, NULL, OPT_BACKEND },                                          \
		{ "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },                                \
		{ "table", required_argument, NULL, OPT_TABLE }, { "quiet", no_argument, NULL, 'q' }

static const char common_help[] =
	"      --json            print one JSON document on stdout\n"
	"      --state-dir DIR   state directory (default /var/lib/notrackctl,\n"
	"                        or $NOTRACKCTL_STATE_DIR)\n"
	"      --backend NAME    nft (default)\n"
	"      --lock-timeout S  wait at most S seconds for another run (default 30)\n"
	"      --table NAME      table and ownership tag (default notrackctl)\n"
	"  -q, --quiet           print less\n"
	"  -h, --help            show this help\n";

/* Returns 1 if the option was a common one, 0 if not, or an exit code < 0. */
static int parse_common(int c, const char *arg, struct global_options *g)
{
	char *end;
	long v;

	switch (c) {
	case OPT_JSON: g->json = true; return 1;
	case OPT_STATE_DIR: g->state_dir = arg; return 1;
	case OPT_BACKEND: g->backend = arg; return 1;
	case OPT_TABLE: g->table = arg; return 1;
	case 'q': g->quiet = true; return 1;
	case OPT_LOCK_TIMEOUT:
		v = strtol(arg, &end, 10);
		if (*end || v < 0 || v > 86400)
			return -1;
		g->lock_timeout_ms = (int)v * 1000;
		return 1;
	}
	return 0;
}

static int exit_code_for(const struct diag *d)
{
	switch (d->kind) {
	case DIAG_NONE: return EXIT_OK;
	case DIAG_USAGE: return EXIT_USAGE;
	case DIAG_POLICY: return EXIT_INVALID_POLICY;
	case DIAG_CONFLICT: return EXIT_CONFLICT;
	case DIAG_KERNEL: return EXIT_KERNEL;
	case DIAG_LOCK: return EXIT_LOCK;
	case DIAG_PERMISSION: return EXIT_PERMISSION;
	case DIAG_PENDING: return EXIT_PENDING;
	case DIAG_STATE: return EXIT_STATE;
	case DIAG_SYSTEM: return EXIT_SYSTEM;
	}
	return EXIT_SYSTEM;
}

/* One line: "FILE:LINE:COL: PATH: message" when the place is known. */
static void print_error(const struct diag *d)
{
	if (d->file[0] && d->line)
		fprintf(stderr, "%s:%u:%u: %s%s%s\n", d->file, d->line, d->col, d->path, d->path[0] ? ": " : "",
			d->msg);
	else if (d->file[0])
		fprintf(stderr, "notrackctl: %s: %s\n", d->file, d->msg);
	else
		fprintf(stderr, "notrackctl: %s\n", d->msg);
}

static void print_warnings(const struct diag *d)
{
	for (size_t i = 0; i < d->n_warnings; i++) {
		const struct diag_warning *w = &d->warnings[i];
		if (d->file[0] && w->line)
			fprintf(stderr, "%s:%u:%u: warning: %s%s%s\n", d->file, w->line, w->col, w->path,
				w->path[0] ? ": " : "", w->msg);
		else
			fprintf(stderr, "notrackctl: warning: %s\n", w->msg);
	}
}

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "notrackctl%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'notrackctl %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
	return EXIT_USAGE;
}

/* ------------------------------------------------------------------ */

/* Loads, parses and compiles one policy file; on failure the diag is located. */
static int load_and_compile(const char *file, const struct global_options *g, bool host_checks,
			    struct policy_source *src, struct ruleset *rs, struct diag *d)
{
	int r = policy_source_read(src, file, d);

	if (r < 0)
		return r;
	return op_compile(src, g->table, host_checks, rs, d);
}

static void print_exposure(const struct ruleset *rs, const char *file)
{
	size_t n_rules[2] = { 0, 0 }, n_sets = 0;

	for (size_t i = 0; i < rs->n_rules; i++)
		n_rules[rs->rules[i].hook]++;
	for (size_t i = 0; i < rs->n_port_sets; i++)
		n_sets += !port_set_is_inline(&rs->port_sets[i]);
	for (size_t i = 0; i < rs->n_addr_sets; i++)
		n_sets += !addr_set_is_inline(&rs->addr_sets[i]);
	fprintf(stderr, "notrackctl: %s: %zu prerouting and %zu output rule%s, %zu set%s, table inet %s\n", file,
		n_rules[0], n_rules[1], n_rules[1] == 1 ? "" : "s", n_sets, n_sets == 1 ? "" : "s", rs->table);
	if (rs->n_exposure) {
		fprintf(stderr, "Exposure: this traffic is no longer tracked, so no ct state rule sees it%s:\n",
			rs->accept_mode == UNTRACKED_ACCEPT_NONE ? ""
								  : "; the untracked accept lets it through the filter chains");
		for (size_t i = 0; i < rs->n_exposure; i++)
			fprintf(stderr, "  - %s\n", rs->exposure[i]);
	}
	if (rs->n_kept) {
		fprintf(stderr, "Still tracked (checked first):\n");
		for (size_t i = 0; i < rs->n_kept; i++)
			fprintf(stderr, "  - %s\n", rs->kept[i]);
	}
	if (rs->accept_mode == UNTRACKED_ACCEPT_NONE && rs->n_exposure)
		fprintf(stderr, "Note: untracked_accept is \"none\": a filter chain that accepts only ct state "
				"established will drop this traffic.\n");
}

/* ------------------------------------------------------------------ */
/* compile                                                              */

static const char compile_help[] =
	"Usage: notrackctl compile [OPTIONS] POLICY\n"
	"\n"
	"Compile POLICY (a file, or - for stdin) and print the rules it stands for.\n"
	"Needs no privileges and changes nothing. The exposure summary and any\n"
	"warnings go to stderr.\n"
	"\n"
	"Options:\n"
	"  -f, --format FORMAT   nft (default): nft -f input for table inet notrackctl\n"
	"                        iptables: iptables-restore --noflush input\n"
	"                        json: the compiled rules as JSON\n"
	"      --family FAMILY   with --format iptables: ipv4 or ipv6 only\n"
	"                        (default: both, as two documents with headers)\n"
	"      --no-host-check   do not warn about interfaces missing on this host\n"
	"  -q, --quiet           print no exposure summary\n"
	"  -h, --help            show this help\n";

static int cmd_compile(int argc, char **argv, struct global_options *g)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' }, { "family", required_argument, NULL, 'F' },
		{ "no-host-check", no_argument, NULL, 'H' }, { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	const char *format = "nft";
	unsigned family = FAMILY_BOTH;
	bool host_checks = true;
	struct policy_source src = { 0 };
	struct ruleset rs = { 0 };
	struct strbuf out;
	struct diag d;
	int c, r, code;

	while ((c = getopt_long(argc, argv, "+f:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			if (strcmp(format, "nft") && strcmp(format, "iptables") && strcmp(format, "json"))
				return usage_error("compile", "unknown format '%s' (nft, iptables or json)", optarg);
			break;
		case 'F':
			if (!strcmp(optarg, "ipv4"))
				family = FAMILY_IPV4;
			else if (!strcmp(optarg, "ipv6"))
				family = FAMILY_IPV6;
			else
				return usage_error("compile", "unknown family '%s' (ipv4 or ipv6)", optarg);
			break;
		case 'H': host_checks = false; break;
		case 'q': g->quiet = true; break;
		case 'h': fputs(compile_help, stdout); return EXIT_OK;
		default: return usage_error("compile", "%s", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return usage_error("compile", "%s", optind == argc ? "missing POLICY" : "too many arguments");

	diag_init(&d);
	strbuf_init(&out);
	r = load_and_compile(argv[optind], g, host_checks, &src, &rs, &d);
	if (r == 0) {
		if (!strcmp(format, "nft")) {
			r = emit_nft_text(&rs, &out);
		} else if (!strcmp(format, "json")) {
			r = emit_json(&rs, &d, &out);
		} else {
			for (unsigned f = FAMILY_IPV4; r == 0 && f <= FAMILY_IPV6; f <<= 1) {
				if (!(family & f))
					continue;
				if (family == FAMILY_BOTH && f == FAMILY_IPV6)
					strbuf_putc(&out, '\n');
				r = emit_iptables_text(&rs, f, &out);
			}
		}
		if (r < 0)
			diag_fail(&d, DIAG_SYSTEM, r, NULL, "cannot render the rules: %s", strerror(-r));
	}
	if (r < 0) {
		print_error(&d);
		code = exit_code_for(&d);
	} else {
		fwrite(out.data, 1, out.len, stdout);
		if (!g->quiet)
			print_exposure(&rs, src.file);
		print_warnings(&d);
		code = fflush(stdout) == 0 ? EXIT_OK : EXIT_SYSTEM;
	}
	strbuf_free(&out);
	ruleset_free(&rs);
	policy_source_free(&src);
	diag_free(&d);
	return code;
}

/* ------------------------------------------------------------------ */
/* kernel-facing commands                                               */

static const char *diag_kind_name(enum diag_kind k)
{
	switch (k) {
	case DIAG_NONE: return "none";
	case DIAG_USAGE: return "usage";
	case DIAG_POLICY: return "invalid_policy";
	case DIAG_CONFLICT: return "lint_conflict";
	case DIAG_KERNEL: return "kernel_refused";
	case DIAG_LOCK: return "lock_timeout";
	case DIAG_PERMISSION: return "permission";
	case DIAG_PENDING: return "pending_confirmation";
	case DIAG_STATE: return "state";
	case DIAG_SYSTEM: return "system";
	}
	return "system";
}

static json_t *lines_json(char **lines, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(lines[i]));
	return a;
}

/* One JSON document with the fields automation relies on; see README "JSON output". */
static void print_json(const struct global_options *g, const char *backend, const struct op_result *res,
		       const struct diag *d, int failed)
{
	json_t *o = json_object(), *w = json_array();
	char *text;

	json_object_set_new(o, "changed", json_boolean(!failed && res->txn.changed));
	json_object_set_new(o, "generation", json_integer((json_int_t)res->generation_to));
	json_object_set_new(o, "previous_generation", json_integer((json_int_t)res->generation_from));
	json_object_set_new(o, "backend", json_string(backend));
	json_object_set_new(o, "table", json_string(g->table ? g->table : RULESET_DEFAULT_TABLE));
	json_object_set_new(o, "diff", lines_json(res->txn.diff, res->txn.n_diff));
	json_object_set_new(o, "exposure", lines_json(res->rs.exposure, res->rs.n_exposure));
	for (size_t i = 0; i < d->n_warnings; i++)
		json_array_append_new(w, json_pack("{s:s,s:s,s:I,s:I}", "path", d->warnings[i].path, "message",
						   d->warnings[i].msg, "line", (json_int_t)d->warnings[i].line, "col",
						   (json_int_t)d->warnings[i].col));
	json_object_set_new(o, "warnings", w);
	if (failed)
		json_object_set_new(o, "error",
				    json_pack("{s:i,s:s,s:s,s:s,s:s,s:I,s:I}", "code", exit_code_for(d), "kind",
					      diag_kind_name(d->kind), "message", d->msg, "file", d->file, "path",
					      d->path, "line", (json_int_t)d->line, "col", (json_int_t)d->col));
	else
		json_object_set_new(o, "error", json_null());
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text)
		puts(text);
	free(text);
	json_decref(o);
}

static int resolve_backend(const struct global_options *g, const struct backend_ops **ops)
{
	if (!g->backend || !strcmp(g->backend, "auto") || !strcmp(g->backend, "nft")) {
		*ops = &nft_backend_ops;
		return 0;
	}
	return -1;
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

/* Prints the outcome of a kernel-facing operation and returns the exit code. */
static int report(const char *command, const struct global_options *g, const struct op_config *cfg,
		  struct op_result *res, struct diag *d, int r, bool check)
{
	int code = r < 0 ? exit_code_for(d) : EXIT_OK;

	if (r < 0)
		print_error(d);
	else if (check && res->txn.changed)
		code = EXIT_CHANGES;
	if (g->json) {
		print_json(g, cfg->backend->name, res, d, r < 0);
	} else if (r == 0) {
		if (!res->txn.changed)
			printf("unchanged (generation %" PRIu64 ")\n", res->generation_to);
		else if (check)
			printf("would change:\n");
		else if (!strcmp(command, "rollback"))
			printf("rolled back: generation %" PRIu64 " -> %" PRIu64 "\n", res->generation_from,
			       res->generation_to);
		else
			printf("changed: generation %" PRIu64 " -> %" PRIu64 "\n", res->generation_from,
			       res->generation_to);
		if (res->txn.changed && !g->quiet)
			print_diff_lines(stdout, res);
		if (!res->txn.changed && !strcmp(command, "rollback"))
			printf("current generation is now %" PRIu64 "\n", res->generation_to);
	}
	if (r == 0 || d->n_warnings)
		print_warnings(d);
	return code;
}

static const char apply_help[] =
	"Usage: notrackctl apply [OPTIONS] POLICY\n"
	"\n"
	"Compile POLICY and make the kernel match it in one transaction. Prints\n"
	"'unchanged' when the kernel already matches (nothing is sent), or\n"
	"'changed' with the difference. Every change is recorded as a new\n"
	"generation in the state directory.\n"
	"\n"
	"Options:\n"
	"      --check           report what would change and change nothing\n"
	"                        (exit 1 when something would change)\n";

static const char diff_help[] = "Usage: notrackctl diff [OPTIONS] POLICY\n"
				"\n"
				"Show what 'apply POLICY' would change. Exits 0 when nothing would\n"
				"change and 1 when something would, like diff(1).\n"
				"\n"
				"Options:\n";

static int run_apply(int argc, char **argv, struct global_options *g, bool diff_mode)
{
	static const struct option opts[] = {
		{ "check", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = diff_mode ? "diff" : "apply";
	const struct backend_ops *ops;
	struct policy_source src = { 0 };
	struct op_result res = { 0 };
	struct op_config cfg;
	bool check = diff_mode;
	struct diag d;
	int c, r, code;

	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		int k = parse_common(c, optarg, g);
		if (k < 0)
			return usage_error(cmd, "bad value '%s'", optarg);
		if (k)
			continue;
		switch (c) {
		case 'c':
			if (diff_mode)
				return usage_error(cmd, "%s", "invalid option");
			check = true;
			break;
		case 'h':
			printf("%s%s", diff_mode ? diff_help : apply_help, common_help);
			return EXIT_OK;
		default: return usage_error(cmd, "%s", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return usage_error(cmd, "%s", optind == argc ? "missing POLICY" : "too many arguments");
	if (resolve_backend(g, &ops) < 0)
		return usage_error(cmd, "unknown backend '%s' (nft or auto)", g->backend);
	fill_config(g, ops, &cfg);
	cfg.check_only = check;
	diag_init(&d);
	r = policy_source_read(&src, argv[optind], &d);
	if (r == 0)
		r = op_apply(&cfg, &src, &res, &d);
	code = report(cmd, g, &cfg, &res, &d, r, check);
	if (r == 0 && !g->quiet && !g->json && res.txn.changed && !check && res.rs.n_exposure)
		print_exposure(&res.rs, src.file);
	op_result_free(&res);
	policy_source_free(&src);
	diag_free(&d);
	return code;
}

static int cmd_apply(int argc, char **argv, struct global_options *g) { return run_apply(argc, argv, g, false); }
static int cmd_diff(int argc, char **argv, struct global_options *g) { return run_apply(argc, argv, g, true); }

static const char rollback_help[] =
	"Usage: notrackctl rollback [OPTIONS]\n"
	"\n"
	"Return the kernel to the previous generation (the one the current\n"
	"generation was applied on top of), in one transaction. Rolling back\n"
	"past the first generation removes everything notrackctl owns. Rules\n"
	"notrackctl does not own are never touched.\n"
	"\n"
	"Options:\n"
	"      --to N            go to generation N (0: nothing of ours)\n"
	"      --check           report what would change and change nothing\n";

static const char remove_help[] = "Usage: notrackctl remove [OPTIONS]\n"
				  "\n"
				  "Remove everything notrackctl owns from the kernel: its table and the\n"
				  "untracked-accept rules it inserted. Recorded as a generation, so\n"
				  "'rollback' brings the rules back.\n"
				  "\n"
				  "Options:\n"
				  "      --check           report what would change and change nothing\n";

static int run_rollback_remove(int argc, char **argv, struct global_options *g, bool remove)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "check", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = remove ? "remove" : "rollback";
	const struct backend_ops *ops;
	struct op_result res = { 0 };
	struct op_config cfg;
	bool check = false, has_to = false;
	uint64_t to = 0;
	struct diag d;
	int c, r, code;

	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		int k = parse_common(c, optarg, g);
		char *end;
		if (k < 0)
			return usage_error(cmd, "bad value '%s'", optarg);
		if (k)
			continue;
		switch (c) {
		case 't':
			if (remove)
				return usage_error(cmd, "%s", "invalid option");
			errno = 0;
			to = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-')
				return usage_error(cmd, "--to takes a generation number, not '%s'", optarg);
			has_to = true;
			break;
		case 'c': check = true; break;
		case 'h':
			printf("%s%s", remove ? remove_help : rollback_help, common_help);
			return EXIT_OK;
		default: return usage_error(cmd, "%s", "invalid option");
		}
	}
	if (optind != argc)
		return usage_error(cmd, "%s", "too many arguments");
	if (resolve_backend(g, &ops) < 0)
		return usage_error(cmd, "unknown backend '%s' (nft or auto)", g->backend);
	fill_config(g, ops, &cfg);
	cfg.check_only = check;
	diag_init(&d);
	r = remove ? op_remove(&cfg, &res, &d) : op_rollback(&cfg, has_to, to, &res, &d);
	code = report(cmd, g, &cfg, &res, &d, r, check);
	op_result_free(&res);
	diag_free(&d);
	return code;
}

static int cmd_rollback(int argc, char **argv, struct global_options *g)
{
	return run_rollback_remove(argc, argv, g, false);
}
static int cmd_remove(int argc, char **argv, struct global_options *g) { return run_rollback_remove(argc, argv, g, true); }

static const char generations_help[] = "Usage: notrackctl generations [OPTIONS]\n"
				       "\n"
				       "List the recorded generations, oldest first; '*' marks the current one.\n"
				       "\n"
				       "Options:\n";

static int cmd_generations(int argc, char **argv, struct global_options *g)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct state st;
	uint64_t *nums = NULL, current = 0;
	size_t n = 0;
	struct diag d;
	json_t *arr = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		int k = parse_common(c, optarg, g);
		if (k < 0)
			return usage_error("generations", "bad value '%s'", optarg);
		if (k)
			continue;
		if (c == 'h') {
			printf("%s%s", generations_help, common_help);
			return EXIT_OK;
		}
		return usage_error("generations", "%s", "invalid option");
	}
	if (optind != argc)
		return usage_error("generations", "%s", "too many arguments");
	diag_init(&d);
	const char *dir = g->state_dir ? g->state_dir : getenv("NOTRACKCTL_STATE_DIR");
	r = state_open(&st, dir && *dir ? dir : STATE_DEFAULT_DIR, &d);
	if (r == 0)
		r = state_current(&st, &current, &d);
	if (r == 0)
		r = state_list(&st, &nums, &n, &d);
	if (r < 0) {
		print_error(&d);
		diag_free(&d);
		return exit_code_for(&d);
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
			printf("%-3s %-6" PRIu64 " %-6" PRIu64 " %-8s %-20s %-16s %s\n", gen.number == current ? "*" : "",
			       gen.number, gen.parent, gen.action, when, gen.policy_digest,
			       gen.policy_file ? gen.policy_file : "-");
		generation_free(&gen);
		diag_free(&gd);
	}
	if (arr) {
		json_t *o = json_pack("{s:I,s:o}", "current", (json_int_t)current, "generations", arr);
		char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (text)
			puts(text);
		free(text);
		json_decref(o);
	} else if (current == 0) {
		printf("current generation: 0 (nothing of ours applied)\n");
	}
	free(nums);
	state_close(&st);
	diag_free(&d);
	return EXIT_OK;
}

/* ------------------------------------------------------------------ */

struct command {
	const char *name;
	int (*run)(int argc, char **argv, struct global_options *g);
	const char *summary;
};

static const struct command commands[] = {
	{ "compile", cmd_compile, "print the rules a policy stands for (nft, iptables or json); changes nothing" },
	{ "apply", cmd_apply, "make the kernel match a policy in one transaction; records a generation" },
	{ "diff", cmd_diff, "show what apply would change (exit 1 if anything)" },
	{ "rollback", cmd_rollback, "return to the previous (or --to N) generation" },
	{ "remove", cmd_remove, "remove everything notrackctl owns from the kernel" },
	{ "generations", cmd_generations, "list the recorded generations" },
};

static void print_main_help(FILE *f)
{
	fprintf(f, "Usage: notrackctl [--table NAME] COMMAND [OPTIONS] [ARGS]\n"
		   "\n"
		   "Keeps the conntrack table from filling up: compiles a JSON policy into\n"
		   "raw-table NOTRACK rules and manages them in the kernel.\n"
		   "\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n"
		   "Global options:\n"
		   "      --table NAME  nft table and ownership tag (default notrackctl,\n"
		   "                    or $NOTRACKCTL_TABLE)\n"
		   "  -h, --help        show this help; 'notrackctl COMMAND --help' for a command\n"
		   "  -V, --version     print the version\n"
		   "\n%s",
		exit_code_help);
}

int cli_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "table", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct global_options g = { .table = getenv("NOTRACKCTL_TABLE") };
	int c;

	if (g.table && !*g.table)
		g.table = NULL;
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 't': g.table = optarg; break;
		case 'h': print_main_help(stdout); return EXIT_OK;
		case 'V': printf("notrackctl %s\n", NOTRACKCTL_VERSION); return EXIT_OK;
		default: return usage_error(NULL, "%s", "invalid option");
		}
	}
	if (optind >= argc) {
		print_main_help(stderr);
		return EXIT_USAGE;
	}
	if (g.table && !ruleset_valid_table_name(g.table))
		return usage_error(NULL, "table name '%s' must be lower-case letters, digits and '_', under 24 bytes",
				   g.table);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;
			optind = 0; /* GNU getopt: 0 fully reinitialises for the sub-command */
			return commands[i].run(sub_argc, sub_argv, &g);
		}
	}
	if (!strcmp(argv[optind], "help")) {
		print_main_help(stdout);
		return EXIT_OK;
	}
	return usage_error(NULL, "unknown command '%s'", argv[optind]);
}
