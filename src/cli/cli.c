/*
 * The command line: parses the global options, dispatches to a command, and
 * holds what every command prints the same way.  The commands themselves live
 * in cli_*.c.
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_common.h"
#include "emit/emit.h"
#include "emit/ipt_lower.h"
#include "cli/exit_codes.h"
#include "util/trust.h"
#include "policy/policy.h"

#ifndef NOTRACKCTL_VERSION
#define NOTRACKCTL_VERSION "0.0.0"
#endif

static const char exit_code_help[] = "Exit codes:\n"
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
				     "  10 other system error\n"
				     "  11 rollback refused: someone else changed what notrackctl owns\n"
				     "  12 confirm came too late: the change was not confirmed in time\n";

const char cli_common_help[] = "      --json            print one JSON document on stdout\n"
			       "      --state-dir DIR   state directory (default /var/lib/notrackctl,\n"
			       "                        or $NOTRACKCTL_STATE_DIR)\n"
			       "      --backend NAME    auto (default): decided from the live kernel;\n"
			       "                        nft, or iptables (iptables-legacy via libiptc)\n"
			       "      --verbose         say which backend was chosen and why\n"
			       "      --lock-timeout S  wait at most S seconds for another run (default 30;\n"
			       "                        0: do not wait)\n"
			       "      --table NAME      table and ownership tag (default notrackctl)\n"
			       "      --insecure-permissions\n"
			       "                        accept a policy or state that others could\n"
			       "                        have written (warns instead of refusing)\n"
			       "  -q, --quiet           print less\n"
			       "  -h, --help            show this help\n";

/* Returns 1 if the option was a common one, 0 if not, or an exit code < 0. */
int cli_parse_common(const char *cmd, int c, const char *arg, struct global_options *g)
{
	char *end;
	long v;

	switch (c) {
	case OPT_JSON: g->json = true; return 1;
	case OPT_STATE_DIR: g->state_dir = arg; return 1;
	case OPT_BACKEND: g->backend = arg; return 1;
	case OPT_TABLE:
		if (!ruleset_valid_table_name(arg))
			return -cli_usage_error(
			    cmd, "table name '%s' must be lower-case letters, digits and '_', under 24 bytes", arg);
		g->table = arg;
		return 1;
	case OPT_INSECURE: trust_set_insecure(true); return 1;
	case 'q': g->quiet = true; return 1;
	case OPT_VERBOSE: g->verbose = true; return 1;
	case OPT_LOCK_TIMEOUT:
		v = strtol(arg, &end, 10);
		if (!*arg || *end || v < 0 || v > 86400)
			return -cli_usage_error(cmd, "bad value '%s'", arg);
		g->lock_timeout_ms = (int)v * 1000;
		return 1;
	}
	return 0;
}

int cli_exit_code(const struct diag *d)
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
	case DIAG_DRIFT: return EXIT_DRIFT;
	case DIAG_EXPIRED: return EXIT_EXPIRED;
	case DIAG_SYSTEM: return EXIT_SYSTEM;
	}
	return EXIT_SYSTEM;
}

/* One line: "FILE:LINE:COL: PATH: message" when the place is known. */
/*
 * The --json envelope (docs/json.md): every command's document is one object
 * that starts with "command" and "version" and ends with "warnings" and
 * "error".  A command that fails before it printed its document (a usage
 * error, a state directory it cannot read) still prints one, with the last
 * error it reported, so a consumer never has to parse stderr.
 */
static struct {
	const char *command; /* NULL until the command is known */
	bool printed;
	bool failed;
	int code;	   /* the exit code, for a failure that reported no error */
	struct diag error; /* the last error reported; its warnings are unused */
} json_env;

static void json_env_record(const struct diag *d)
{
	json_env.failed = true;
	json_env.error = *d;
	json_env.error.warnings = NULL;
	json_env.error.n_warnings = 0;
}

void cli_print_error(const struct diag *d)
{
	json_env_record(d);
	if (d->file[0] && d->line)
		fprintf(stderr, "%s:%u:%u: %s%s%s\n", d->file, d->line, d->col, d->path, d->path[0] ? ": " : "",
			d->msg);
	else if (d->file[0])
		fprintf(stderr, "notrackctl: %s: %s\n", d->file, d->msg);
	else
		fprintf(stderr, "notrackctl: %s\n", d->msg);
}

void cli_print_warnings(const struct diag *d)
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

int cli_usage_error(const char *cmd, const char *fmt, const char *arg)
{
	struct diag d;

	diag_init(&d);
	diag_fail(&d, DIAG_USAGE, EINVAL, NULL, fmt, arg);
	json_env_record(&d);
	diag_free(&d);
	fprintf(stderr, "notrackctl%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'notrackctl %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
	return EXIT_USAGE;
}

void cli_print_exposure(const struct ruleset *rs, const char *file, const char *backend)
{
	size_t n_rules[2] = {0, 0}, n_sets = 0;
	char where[128];

	/* every rule of our chains: the guards and ICMP error rules too */
	n_rules[HOOK_PREROUTING] = rs->n_chain[HOOK_PREROUTING];
	n_rules[HOOK_OUTPUT] = rs->n_chain[HOOK_OUTPUT];
	for (size_t i = 0; i < rs->n_port_sets; i++)
		n_sets += !port_set_is_inline(&rs->port_sets[i]) + rs->port_sets[i].icmp_copy;
	n_sets += ruleset_has_icmp(rs, FAMILY_IPV4) + ruleset_has_icmp(rs, FAMILY_IPV6);
	for (size_t i = 0; i < rs->n_addr_sets; i++)
		n_sets += !addr_set_is_inline(&rs->addr_sets[i]);
	if (backend && !strcmp(backend, "iptables")) {
		/* no sets in iptables: a set's elements become rules of their own */
		char pre[RULESET_NAME_MAX + 8], out[RULESET_NAME_MAX + 8];
		iptables_chain_name(rs, HOOK_PREROUTING, pre, sizeof(pre));
		iptables_chain_name(rs, HOOK_OUTPUT, out, sizeof(out));
		snprintf(where, sizeof(where), "chains %s and %s in the raw tables", pre, out);
		n_sets = 0;
	} else {
		snprintf(where, sizeof(where), "table inet %s", rs->table);
	}
	fprintf(stderr, "notrackctl: %s: %zu prerouting and %zu output rule%s, %zu set%s, %s\n", file, n_rules[0],
		n_rules[1], n_rules[1] == 1 ? "" : "s", n_sets, n_sets == 1 ? "" : "s", where);
	if (rs->n_exposure) {
		fprintf(stderr, "Exposure: this traffic is no longer tracked, so no ct state rule sees it%s:\n",
			rs->accept_mode == UNTRACKED_ACCEPT_NONE
			    ? ""
			    : "; the untracked accept lets it through the filter chains");
		for (size_t i = 0; i < rs->n_exposure; i++)
			fprintf(stderr, "  - %s\n", rs->exposure[i]);
	}
	if (rs->n_kept) {
		fprintf(stderr, "Still tracked (checked first):\n");
		for (size_t i = 0; i < rs->n_kept; i++)
			fprintf(stderr, "  - %s\n", rs->kept[i]);
	}
	if (rs->n_conntrack) {
		fprintf(stderr, "Conntrack settings (written after the rules by apply, not part of them):\n");
		for (size_t i = 0; i < rs->n_conntrack; i++)
			fprintf(stderr, "  - net.netfilter.nf_conntrack_%s = %lld\n", rs->conntrack[i].key,
				rs->conntrack[i].value);
	}
	if (rs->n_timeouts) {
		fprintf(stderr, "Per-traffic timeouts (ct timeout objects, for connections that start after the "
				"apply):\n");
		for (size_t i = 0; i < rs->n_timeouts; i++)
			fprintf(stderr, "  - %s from %s\n", rs->timeouts[i].name, rs->timeouts[i].t.path);
	}
	if (rs->accept_mode == UNTRACKED_ACCEPT_NONE && rs->n_exposure)
		fprintf(stderr, "Note: untracked_accept is \"none\": a filter chain that accepts only ct state "
				"established will drop this traffic.\n");
}

const char *cli_diag_kind_name(enum diag_kind k)
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
	case DIAG_DRIFT: return "drift";
	case DIAG_EXPIRED: return "confirmation_expired";
	case DIAG_SYSTEM: return "system";
	}
	return "system";
}

/* ------------------------------------------------------------------ */

struct command {
	const char *name;
	int (*run)(int argc, char **argv, struct global_options *g);
	const char *summary;
};

static const struct command commands[] = {
    {"compile", cmd_compile, "print the rules a policy stands for (nft, iptables or json); changes nothing"},
    {"lint", cmd_lint, "check a policy against the live NAT and stateful rules; changes nothing"},
    {"apply", cmd_apply, "make the kernel match a policy in one transaction; records a generation"},
    {"diff", cmd_diff, "show what apply would change (exit 1 if anything)"},
    {"rollback", cmd_rollback, "return to the previous (or --to N) generation"},
    {"remove", cmd_remove, "remove everything notrackctl owns from the kernel"},
    {"generations", cmd_generations, "list the recorded generations"},
    {"status", cmd_status, "table use, drop counters, generation and our rules' counters"},
    {"top", cmd_top, "what fills the conntrack table, and what a policy would save"},
    {"advise", cmd_advise, "recommend nf_conntrack_max, hash size and timeouts; changes nothing"},
    {"metrics", cmd_metrics, "conntrack and notrackctl metrics for Prometheus (text or --textfile DIR)"},
    {"restore", cmd_restore, "make the kernel hold the current generation again (at boot)"},
    {"confirm", cmd_confirm, "keep what 'apply --confirm' applied, and stop its timer"},
    /* internal, run by the timer of apply --confirm: not listed */
    {"confirm-expire", cmd_confirm_expire, NULL},
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
		if (commands[i].summary)
			fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\n"
		"Options (before the command, or after it and its arguments, up to --):\n"
		"%s"
		"  -V, --version         print the version\n"
		"\n%s",
		cli_common_help, exit_code_help);
}

int cli_main(int argc, char **argv)
{
	/* the options every command takes are accepted before the command too:
	 * `notrackctl --json --state-dir D status` */
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    COMMON_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct global_options g = {.table = getenv("NOTRACKCTL_TABLE"), .lock_timeout_ms = -1};
	int c, code;

	if (g.table && !*g.table)
		g.table = NULL;
	while ((c = getopt_long(argc, argv, "+qhV", opts, NULL)) != -1) {
		int k = cli_parse_common(NULL, c, optarg, &g);
		if (k < 0)
			return -k;
		if (k)
			continue;
		switch (c) {
		case 'h': print_main_help(stdout); return EXIT_OK;
		case 'V': printf("notrackctl %s\n", NOTRACKCTL_VERSION); return EXIT_OK;
		default: return cli_usage_error(NULL, "%s", "invalid option");
		}
	}
	if (optind >= argc) {
		print_main_help(stderr);
		return EXIT_USAGE;
	}
	if (g.table && !ruleset_valid_table_name(g.table))
		return cli_usage_error(
		    NULL, "table name '%s' must be lower-case letters, digits and '_', under 24 bytes", g.table);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;
			optind = 0; /* GNU getopt: 0 fully reinitialises for the sub-command */
			json_env.command = commands[i].name;
			code = commands[i].run(sub_argc, sub_argv, &g);
			if (g.json && !json_env.printed && code != EXIT_OK) {
				json_env.code = code;
				cli_json_print(json_object(), NULL, true);
			}
			return code;
		}
	}
	if (!strcmp(argv[optind], "help")) {
		print_main_help(stdout);
		return EXIT_OK;
	}
	code = cli_usage_error(NULL, "unknown command '%s'", argv[optind]);
	if (g.json) /* the envelope, with "command": null */
		cli_json_print(json_object(), NULL, true);
	return code;
}

void cli_json_print(json_t *body, const struct diag *d, bool failed)
{
	json_t *o = json_pack("{s:s?,s:s}", "command", json_env.command, "version", NOTRACKCTL_VERSION);
	json_t *w = json_array();
	char *text;

	/* the command's own fields keep their order, after the envelope's */
	json_object_update(o, body);
	json_decref(body);
	if (!d && failed && json_env.failed)
		d = &json_env.error;
	for (size_t i = 0; d && i < d->n_warnings; i++)
		json_array_append_new(w, json_pack("{s:s,s:s,s:I,s:I}", "path", d->warnings[i].path, "message",
						   d->warnings[i].msg, "line", (json_int_t)d->warnings[i].line, "col",
						   (json_int_t)d->warnings[i].col));
	/* a document without its own warnings (status, top, advise) gets an empty list */
	if (!json_object_get(o, "warnings") || d)
		json_object_set_new(o, "warnings", w);
	else
		json_decref(w);
	if (failed && d)
		json_object_set_new(o, "error",
				    json_pack("{s:i,s:s,s:s,s:s,s:s,s:I,s:I}", "code", cli_exit_code(d), "kind",
					      cli_diag_kind_name(d->kind), "message", d->msg, "file", d->file, "path",
					      d->path, "line", (json_int_t)d->line, "col", (json_int_t)d->col));
	else if (failed)
		json_object_set_new(o, "error",
				    json_pack("{s:i,s:s,s:s}", "code", json_env.code, "kind",
					      cli_diag_kind_name(DIAG_SYSTEM), "message", "failed"));
	else
		json_object_set_new(o, "error", json_null());
	json_env.printed = true;
	/* percentages are rounded to one decimal: six digits print them as written */
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	if (text)
		puts(text);
	free(text);
	json_decref(o);
}
