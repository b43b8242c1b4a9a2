/*
 * The lint command, and how lint findings are printed wherever they show up
 * (lint itself, and apply/diff, which run the same lint first).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_backend.h"
#include "cli/cli_common.h"
#include "cli/exit_codes.h"
#include "engine/ops.h"

void cli_print_lint(const struct lint_report *rep, bool as_warnings)
{
	for (size_t i = 0; i < rep->n; i++)
		fprintf(stderr, "notrackctl: %slint: %s\n", as_warnings ? "warning: " : "", rep->v[i].msg);
	for (size_t i = 0; i < rep->n_notes; i++)
		fprintf(stderr, "notrackctl: note: lint: %s\n", rep->notes[i]);
}

void cli_print_lint_exposure(const struct lint_report *rep)
{
	bool any = false;

	for (size_t i = 0; i < rep->n; i++) {
		if (rep->v[i].kind != LINT_FOREIGN)
			continue;
		if (!any)
			fprintf(stderr,
				"Also accepted now: another rule untracks it, and the untracked accept cannot tell "
				"it from ours:\n");
		any = true;
		fprintf(stderr, "  - %s\n", rep->v[i].exposure);
	}
}

json_t *cli_lint_json(const struct lint_report *rep)
{
	json_t *a = json_array();

	for (size_t i = 0; i < rep->n; i++) {
		const struct lint_finding *f = &rep->v[i];
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:s}", "kind", lint_kind_name(f->kind),
						   "policy_entry", f->origin, "family", f->family, "table", f->table,
						   "chain", f->chain, "rule", f->rule, "reply", f->reply, "message",
						   f->msg));
	}
	return a;
}

static json_t *notes_json(const struct lint_report *rep)
{
	json_t *a = json_array();

	for (size_t i = 0; i < rep->n_notes; i++)
		json_array_append_new(a, json_string(rep->notes[i]));
	return a;
}

static void print_lint_json(const char *file, const char *backend, bool offline, const struct op_result *res,
			    const struct diag *d, bool failed)
{
	json_t *o = json_object();

	json_object_set_new(o, "policy", json_string(file ? file : ""));
	json_object_set_new(o, "backend", json_string(backend));
	json_object_set_new(o, "offline", json_boolean(offline));
	json_object_set_new(o, "checked_live_ruleset", json_boolean(!failed && !res->lint_skipped));
	json_object_set_new(o, "clean", json_boolean(!failed && res->lint.n == 0));
	json_object_set_new(o, "findings", cli_lint_json(&res->lint));
	json_object_set_new(o, "notes", notes_json(&res->lint));
	cli_json_print(o, d, failed);
}

static const char lint_help[] = "Usage: notrackctl lint [OPTIONS] POLICY\n"
				"\n"
				"Check POLICY against the live ruleset, changing nothing: report every\n"
				"rule that needs conntrack (masquerade, SNAT, DNAT, redirect, ct state,\n"
				"ct helper, ct mark, ct zone, Docker's published ports, kube-proxy) that a\n"
				"notrack rule of the policy would catch and no keep_tracked entry\n"
				"protects, every filter chain that would drop untracked packets where\n"
				"untracked_accept does not reach, and every foreign notrack rule whose\n"
				"packets the untracked accept would newly let through. One line per\n"
				"finding. 'apply' runs the same check first and refuses unless\n"
				"--allow-conflicts.\n"
				"Exits 0 when clean, 4 when something would break, 3 for an invalid policy.\n"
				"\n"
				"Options:\n"
				"      --offline         check the policy alone: no kernel, no privileges\n";

int cmd_lint(int argc, char **argv, struct global_options *g)
{
	static const struct option opts[] = {
	    {"offline", no_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    COMMON_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct policy_source src = {0};
	struct op_result res = {0};
	struct op_config cfg = {0};
	struct backend_choice cb = {0};
	const char *backend;
	bool offline = false;
	struct diag d;
	int c, r = 0, code;

	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		int k = cli_parse_common("lint", c, optarg, g);
		if (k < 0)
			return -k;
		if (k)
			continue;
		switch (c) {
		case 'o': offline = true; break;
		case 'h': printf("%s%s", lint_help, cli_common_help); return EXIT_OK;
		default: return cli_usage_error("lint", "%s", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("lint", "%s", optind == argc ? "missing POLICY" : "too many arguments");
	if ((code = cli_backend_check_name("lint", g)))
		return code;
	diag_init(&d);
	/* offline reads no kernel, not even to pick a backend */
	if (!offline)
		r = cli_backend_choose(g, &cb, &d);
	cfg.backend = cb.ops;
	cfg.table = g->table;
	cfg.lock_timeout_ms = g->lock_timeout_ms;
	cfg.host_checks = !offline;
	backend = offline ? "none" : cb.ops ? cb.ops->name : "none";
	if (r == 0)
		r = policy_source_read(&src, argv[optind], &d);
	if (r == 0)
		r = op_lint(&cfg, &src, offline, &res, &d);
	code = r < 0 ? cli_exit_code(&d) : res.lint.n ? EXIT_CONFLICT : EXIT_OK;
	if (g->verbose && !g->json && cb.ops)
		cli_backend_explain(&cb, stderr);
	if (g->json) {
		print_lint_json(src.file, backend, offline, &res, &d, r < 0);
	} else if (r < 0) {
		cli_print_error(&d);
	} else {
		for (size_t i = 0; i < res.lint.n; i++)
			printf("error: %s\n", res.lint.v[i].msg);
		for (size_t i = 0; i < res.lint.n_notes; i++)
			printf("note: %s\n", res.lint.notes[i]);
		if (res.lint.n)
			printf("%s: %zu error%s against the live %s ruleset\n", src.file, res.lint.n,
			       res.lint.n == 1 ? "" : "s", backend);
		else if (offline)
			printf("%s: the policy is valid (offline: nothing else was checked)\n", src.file);
		else if (!res.lint_skipped)
			printf("%s: clean: nothing it notracks needs conntrack in the live %s ruleset\n", src.file,
			       backend);
	}
	if (!g->json && (r == 0 || d.n_warnings))
		cli_print_warnings(&d);
	op_result_free(&res);
	policy_source_free(&src);
	cli_backend_free(&cb);
	diag_free(&d);
	return code;
}
