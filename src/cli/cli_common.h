/*
 * What the command files share: the global options, the options every
 * kernel-facing command takes, and the one way errors, warnings and the
 * exposure summary are printed.  Only the CLI decides exit codes.
 */
#pragma once
#include <stdbool.h>
#include <getopt.h>
#include <jansson.h>

#include "util/diag.h"
#include "lint/lint.h"
#include "compile/ruleset.h"

struct global_options {
	bool quiet;
	bool verbose; /* say which backend was chosen and why */
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
	OPT_VERBOSE,
	OPT_INSECURE,
};
#define COMMON_OPTIONS                                                                                                 \
	{"json", no_argument, NULL, OPT_JSON}, {"state-dir", required_argument, NULL, OPT_STATE_DIR},                  \
	    {"backend", required_argument, NULL, OPT_BACKEND},                                                         \
	    {"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},                                               \
	    {"table", required_argument, NULL, OPT_TABLE}, {"verbose", no_argument, NULL, OPT_VERBOSE},                \
	    {"insecure-permissions", no_argument, NULL, OPT_INSECURE},                                                 \
	{                                                                                                              \
		"quiet", no_argument, NULL, 'q'                                                                        \
	}

extern const char cli_common_help[];

/* The option loop's shared part for command cmd (NULL: before any
 * command): 1 if c was a common option, 0 if not, or minus the exit code
 * after printing the usage error for a bad value. */
int cli_parse_common(const char *cmd, int c, const char *arg, struct global_options *g);
int cli_exit_code(const struct diag *d);
/* One line: "FILE:LINE:COL: PATH: message" when the place is known. */
void cli_print_error(const struct diag *d);
void cli_print_warnings(const struct diag *d);
/* Prints "notrackctl CMD: <fmt with arg>" and a hint; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, const char *arg);
/* The rule counts, the exposure summary and what stays tracked, on stderr. */
/* backend: where the rules go ("nft", "iptables"); NULL for compile (nft's view). */
void cli_print_exposure(const struct ruleset *rs, const char *file, const char *backend);
/* The --json envelope (docs/json.md): prints "command" and "version", the
 * fields of body (which it frees), "warnings" (d's; body's own, or [], when d
 * is NULL) and "error" (null, or {code, kind, message, file, path, line, col}
 * from d, or else from the last error cli_print_error reported). */
void cli_json_print(json_t *body, const struct diag *d, bool failed);
/* The stable name of an error kind in --json output. */
const char *cli_diag_kind_name(enum diag_kind k);

/* Lint findings on stderr, one line each: as warnings, or as the reason a
 * command failed; and as a --json array. */
void cli_print_lint(const struct lint_report *rep, bool as_warnings);
/* The exposure a foreign notrack rule adds (apply --allow-conflicts). */
void cli_print_lint_exposure(const struct lint_report *rep);
json_t *cli_lint_json(const struct lint_report *rep);

/* One function per command: argv[0] is the command name. */
int cmd_compile(int argc, char **argv, struct global_options *g);
int cmd_apply(int argc, char **argv, struct global_options *g);
int cmd_diff(int argc, char **argv, struct global_options *g);
int cmd_rollback(int argc, char **argv, struct global_options *g);
int cmd_remove(int argc, char **argv, struct global_options *g);
int cmd_restore(int argc, char **argv, struct global_options *g);
int cmd_generations(int argc, char **argv, struct global_options *g);
int cmd_confirm(int argc, char **argv, struct global_options *g);
int cmd_lint(int argc, char **argv, struct global_options *g);
/* Internal: what the timer of apply --confirm runs. */
int cmd_confirm_expire(int argc, char **argv, struct global_options *g);
/* cli_diag.c: read-only diagnostics */
int cmd_status(int argc, char **argv, struct global_options *g);
int cmd_top(int argc, char **argv, struct global_options *g);
int cmd_advise(int argc, char **argv, struct global_options *g);
/* cli_metrics.c: the status report in the Prometheus text format */
int cmd_metrics(int argc, char **argv, struct global_options *g);
