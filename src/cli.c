/*
 * The command line: parses arguments, calls the library, prints, and is the
 * only place that decides exit codes.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
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
	const char *table;
};

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

static bool host_interface_exists(const struct ifname *ifn, void *ctx)
{
	struct if_nameindex *list, *i;
	bool found = false;

	(void)ctx;
	if (!ifn->wildcard)
		return if_nametoindex(ifn->name) != 0;
	list = if_nameindex();
	if (!list)
		return true; /* cannot tell: do not warn */
	for (i = list; i->if_index && !found; i++)
		found = strncmp(i->if_name, ifn->name, strlen(ifn->name)) == 0;
	if_freenameindex(list);
	return found;
}

/* Loads, parses and compiles one policy file; on failure the diag is located. */
static int load_and_compile(const char *file, const struct global_options *g, bool host_checks,
			    struct policy_source *src, struct ruleset *rs, struct diag *d)
{
	static const struct compile_host host = { .interface_exists = host_interface_exists };
	struct compile_options opt = { .table = g->table, .host = host_checks ? &host : NULL };
	struct policy pol;
	int r;

	r = policy_source_read(src, file, d);
	if (r < 0)
		return r;
	r = policy_parse(src, &pol, d);
	if (r == 0) {
		r = compile_policy(&pol, &opt, rs, d);
		policy_free(&pol);
	}
	policy_locate(src, d);
	return r;
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

struct command {
	const char *name;
	int (*run)(int argc, char **argv, struct global_options *g);
	const char *summary;
};

static const struct command commands[] = {
	{ "compile", cmd_compile, "print the rules a policy stands for (nft, iptables or json); changes nothing" },
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
