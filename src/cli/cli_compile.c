/* notrackctl compile: policy in, rules out; no privileges, no changes. */
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
#include "emit/ipt_size.h"
#include "emit/emit.h"
#include "cli/exit_codes.h"
#include "compile/compile_source.h"
#include "engine/ops.h"
#include "policy/policy.h"

/* ------------------------------------------------------------------ */

/* Loads, parses and compiles one policy file; on failure the diag is located. */
static int load_and_compile(const char *file, const struct global_options *g, bool host_checks,
			    struct policy_source *src, struct ruleset *rs, struct diag *d)
{
	int r = policy_source_read(src, file, d);

	if (r < 0)
		return r;
	return compile_source(src, g->table, host_checks, rs, d);
}

/* ------------------------------------------------------------------ */
/* compile                                                              */

static const char compile_help[] = "Usage: notrackctl compile [OPTIONS] POLICY\n"
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
				   "      --json            one JSON document: the compiled rules (as --format\n"
				   "                        json), exposure, warnings and error\n"
				   "      --table NAME      table and ownership tag (default notrackctl)\n"
				   "  -q, --quiet           print no exposure summary\n"
				   "  -h, --help            show this help\n"
				   "Options may come before or after POLICY (up to --).\n";

/* --json: the same document shape as the kernel-facing commands, with the
 * compiled rules (the --format json document) under "compiled". */
static int print_compile_json(const struct ruleset *rs, struct diag *d, int r)
{
	_cleanup_strbuf_ struct strbuf ir;
	json_t *o = json_object(), *exposure = json_array();

	strbuf_init(&ir);
	if (r == 0 && emit_json(rs, d, &ir) < 0)
		r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "cannot render the rules");
	json_object_set_new(o, "changed", json_false());
	json_object_set_new(o, "table", r == 0 ? json_string(rs->table) : json_null());
	json_object_set_new(o, "compiled", r == 0 ? json_loads(ir.data, 0, NULL) : json_null());
	for (size_t i = 0; r == 0 && i < rs->n_exposure; i++)
		json_array_append_new(exposure, json_string(rs->exposure[i]));
	json_object_set_new(o, "exposure", exposure);
	if (r < 0)
		cli_print_error(d);
	cli_json_print(o, d, r < 0);
	return r < 0 ? cli_exit_code(d) : EXIT_OK;
}

int cmd_compile(int argc, char **argv, struct global_options *g)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"family", required_argument, NULL, 'F'},
	    {"no-host-check", no_argument, NULL, 'H'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"json", no_argument, NULL, 'j'},
	    /* the one global option compile uses: before or after POLICY */
	    {"table", required_argument, NULL, OPT_TABLE},
	    {NULL, 0, NULL, 0},
	};
	const char *format = "nft";
	unsigned family = FAMILY_BOTH;
	bool host_checks = true;
	struct policy_source src = {0};
	struct ruleset rs = {0};
	struct strbuf out;
	struct diag d;
	int c, r, code;

	while ((c = getopt_long(argc, argv, "f:qh", opts, NULL)) != -1) {
		int k = c == OPT_TABLE ? cli_parse_common("compile", c, optarg, g) : 0;
		if (k < 0)
			return -k;
		if (k)
			continue;
		switch (c) {
		case 'f':
			format = optarg;
			if (strcmp(format, "nft") && strcmp(format, "iptables") && strcmp(format, "json"))
				return cli_usage_error("compile", "unknown format '%s' (nft, iptables or json)",
						       optarg);
			break;
		case 'F':
			if (!strcmp(optarg, "ipv4"))
				family = FAMILY_IPV4;
			else if (!strcmp(optarg, "ipv6"))
				family = FAMILY_IPV6;
			else
				return cli_usage_error("compile", "unknown family '%s' (ipv4 or ipv6)", optarg);
			break;
		case 'H': host_checks = false; break;
		case 'j': g->json = true; break;
		case 'q': g->quiet = true; break;
		case 'h': fputs(compile_help, stdout); return EXIT_OK;
		default: return cli_usage_error("compile", "%s", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("compile", "%s", optind == argc ? "missing POLICY" : "too many arguments");

	diag_init(&d);
	strbuf_init(&out);
	r = load_and_compile(argv[optind], g, host_checks, &src, &rs, &d);
	/* refused before a single rule is printed (ipt_size.h) */
	if (r == 0 && !strcmp(format, "iptables") && (r = ipt_size_check(&rs, &d)) < 0)
		policy_locate(&src, &d);
	if (g->json) {
		code = print_compile_json(&rs, &d, r);
		goto out;
	}
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
		cli_print_error(&d);
		code = cli_exit_code(&d);
	} else {
		fwrite(out.data, 1, out.len, stdout);
		if (!g->quiet)
			cli_print_exposure(&rs, src.file, NULL);
		cli_print_warnings(&d);
		code = fflush(stdout) == 0 ? EXIT_OK : EXIT_SYSTEM;
	}
out:
	strbuf_free(&out);
	ruleset_free(&rs);
	policy_source_free(&src);
	diag_free(&d);
	return code;
}
