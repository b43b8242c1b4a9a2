/*
 * The metrics command: the status report as Prometheus text, on stdout or
 * into node_exporter's textfile directory.  It reads what `status` reads
 * (ctnetlink's count and statistics messages, never a table dump; the state
 * directory; our rules' counters), so its cost does not grow with the
 * conntrack table.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_backend.h"
#include "cli/cli_common.h"
#include "cli/exit_codes.h"
#include "diagnostics/metrics.h"

#ifndef NOTRACKCTL_VERSION
#define NOTRACKCTL_VERSION "0.0.0"
#endif

static const char metrics_help[] =
    "Usage: notrackctl metrics [--textfile DIR] [OPTIONS]\n"
    "\n"
    "Print conntrack and notrackctl metrics in the Prometheus text format:\n"
    "table use and the kernel's per-CPU counters (from ctnetlink, never a table\n"
    "dump), the packets and bytes each policy entry let bypass conntrack, the\n"
    "generation, a pending confirmation and drift. Reads only; needs\n"
    "CAP_NET_ADMIN for ctnetlink and the rules. Every metric is described in\n"
    "notrackctl(8).\n"
    "\n"
    "Options:\n"
    "      --textfile DIR    write DIR/" METRICS_TEXTFILE_NAME " atomically instead, for\n"
    "                        node_exporter's textfile collector\n";

enum { OPT_TEXTFILE = 0x200 };

int cmd_metrics(int argc, char **argv, struct global_options *g)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"textfile", required_argument, NULL, OPT_TEXTFILE},
	    COMMON_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	const char *textfile = NULL, *dir;
	struct status_config cfg = {.ct = &ct_netlink_ops};
	struct metrics_info info = {.version = NOTRACKCTL_VERSION};
	_cleanup_strbuf_ struct strbuf text;
	struct status_report rep;
	struct backend_choice cb;
	struct diag bd, wd;
	int c, k, code;

	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		if ((k = cli_parse_common("metrics", c, optarg, g)) < 0)
			return -k;
		if (k)
			continue;
		if (c == OPT_TEXTFILE) {
			textfile = optarg;
			continue;
		}
		if (c == 'h') {
			printf("%s%s", metrics_help, cli_common_help);
			return EXIT_OK;
		}
		return cli_usage_error("metrics", "%s", "invalid option");
	}
	if (optind != argc)
		return cli_usage_error("metrics", "%s", "too many arguments");
	if (textfile && !*textfile)
		return cli_usage_error("metrics", "%s", "--textfile needs a directory");
	if ((code = cli_backend_check_name("metrics", g)))
		return code;
	dir = g->state_dir ? g->state_dir : getenv("NOTRACKCTL_STATE_DIR");
	diag_init(&bd);
	diag_init(&wd);
	strbuf_init(&text);
	cli_backend_choose(g, &cb, &bd);
	if (g->verbose)
		cli_backend_explain(&cb, stderr);
	cfg.backend = cb.ops;
	cfg.table = g->table;
	cfg.state_dir = dir && *dir ? dir : NULL;
	cfg.lock_timeout_ms = g->lock_timeout_ms;
	info.backend = cb.ops ? cb.ops->name : NULL;
	info.table = g->table;
	inspect_status(&cfg, &rep);
	if (!cb.ops) /* no backend: the rules section says why */
		diag_fail(&rep.rules_err, bd.kind, bd.err, NULL, "%s", bd.msg);
	if ((!g->json || textfile) && metrics_render(&rep, &info, &text) < 0) {
		code = EXIT_SYSTEM;
		fprintf(stderr, "notrackctl: out of memory\n");
		goto out;
	}
	/* what could be read is written even when a section failed (its
	 * notrackctl_collector_success is 0); the exit code still says so */
	if (textfile) {
		if (metrics_write_textfile(textfile, text.data, &wd) < 0) {
			cli_print_error(&wd);
			code = cli_exit_code(&wd);
			goto out;
		}
	} else if (!g->json) {
		fputs(text.data, stdout);
	}
	const struct diag *errs[] = {&rep.table_err, &rep.state_err, &rep.rules_err};
	for (size_t i = 0; i < 3 && code == EXIT_OK; i++) {
		if (errs[i]->kind != DIAG_NONE) {
			cli_print_error(errs[i]);
			code = cli_exit_code(errs[i]);
		}
	}
	if (g->json) {
		/* the same families, samples and labels as the text */
		json_t *families;
		if (metrics_render_json(&rep, &info, &families) < 0) {
			code = EXIT_SYSTEM;
			fprintf(stderr, "notrackctl: out of memory\n");
			goto out;
		}
		cli_json_print(json_pack("{s:s?,s:o}", "textfile", textfile, "metrics", families), NULL,
			       code != EXIT_OK);
	}
out:
	status_report_free(&rep);
	cli_backend_free(&cb);
	diag_free(&bd);
	diag_free(&wd);
	return code;
}
