/*
 * The diagnostics commands: status, top and advise.  They only read, and
 * this file only parses options and prints: the numbers come from
 * inspect.c, the arithmetic from advise.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_backend.h"
#include "cli/cli_common.h"
#include "cli/exit_codes.h"
#include "diagnostics/inspect.h"
#include "diagnostics/metrics.h"
#include "compile/compile_source.h"
#include "engine/ops.h"
#include "util/strbuf.h"
#include "engine/state.h"

/* ------------------------------------------------------------------ */
/* shared                                                               */

static const char *diag_state_dir(const struct global_options *g)
{
	const char *dir = g->state_dir ? g->state_dir : getenv("NOTRACKCTL_STATE_DIR");

	return dir && *dir ? dir : NULL;
}

/* 1234567 -> "1,234,567" */
static const char *num(uint64_t v, char buf[32])
{
	char digits[24];
	int n = snprintf(digits, sizeof(digits), "%" PRIu64, v), o = 0;

	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

static double percent(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* Percentages in JSON: one decimal, so the documents stay readable and diffable. */
static json_t *json_percent(double p)
{
	return json_real((double)(int64_t)(p * 10.0 + 0.5) / 10.0);
}

/* status, top and advise report no policy warnings: the envelope's list stays empty */
static void print_json_doc(json_t *o, const struct diag *failed)
{
	cli_json_print(o, failed, failed != NULL);
}

static json_t *json_error(const struct diag *d)
{
	if (d->kind == DIAG_NONE)
		return json_null();
	return json_pack("{s:i,s:s,s:s}", "code", cli_exit_code(d), "kind", cli_diag_kind_name(d->kind), "message",
			 d->msg);
}

static int parse_count(const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;

	errno = 0;
	if (!*arg || *arg == '-')
		return -1;
	*out = strtoull(arg, &end, 10);
	return errno || *end || *out < min || *out > max ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* status                                                               */

static const char status_help[] = "Usage: notrackctl status [OPTIONS]\n"
				  "\n"
				  "How full the conntrack table is (count, max, buckets and the drop\n"
				  "counters), which backend and generation are in use, and for every rule\n"
				  "notrackctl owns the packets and bytes it let bypass conntrack. Reads\n"
				  "only; the rules and ctnetlink need CAP_NET_ADMIN, the table use does not.\n"
				  "Warns when the table is 80% full, when the count exceeds 75% of the\n"
				  "hash buckets, and when packets were dropped because it was full.\n"
				  "Above 64 rules, sums them per policy entry and hook (--verbose lists\n"
				  "every rule), and says whether our rules or accepts drifted since the\n"
				  "current generation was applied.\n"
				  "\n"
				  "Options:\n";

#define BAR_WIDTH 40

static void print_bar(double pct)
{
	int filled = (int)(pct * BAR_WIDTH / 100.0 + 0.5);

	if (filled > BAR_WIDTH)
		filled = BAR_WIDTH;
	putchar('[');
	for (int i = 0; i < BAR_WIDTH; i++)
		putchar(i < filled ? '#' : '.');
	putchar(']');
}

static void print_table_use(const struct table_use *t)
{
	char a[32], b[32];

	printf("conntrack table (this network namespace)\n");
	printf("  entries      %s", num(t->count, a));
	if (t->has_max) {
		printf(" of %s max  %5.1f%%  ", num(t->max, b), t->health.use_percent);
		print_bar(t->health.use_percent);
	}
	putchar('\n');
	if (t->has_buckets)
		printf("  buckets      %s  (entries are %.1f%% of buckets)\n", num(t->buckets, a),
		       t->health.buckets_percent);
	if (t->has_counters) {
		char c[32], e[32];
		printf("  counters     drop %s  early_drop %s  insert_failed %s  chaintoolong %s\n",
		       num(t->counters.drop, a), num(t->counters.early_drop, b), num(t->counters.insert_failed, c),
		       num(t->counters.chaintoolong, e));
		printf("               (summed over %u CPUs, from %s; count from %s)\n", t->counters.cpus,
		       t->counters_source, t->count_source);
	} else {
		printf("  counters     unavailable\n");
	}
}

/* The warnings, one line each, as text lines shared by text and JSON. */
static size_t table_warnings(const struct table_use *t, char lines[3][256])
{
	char a[32], b[32];
	size_t n = 0;

	if (t->health.warn_full)
		snprintf(lines[n++], 256, "the table is %.1f%% full (%s of %s): at 100%% new connections are dropped",
			 t->health.use_percent, num(t->count, a), num(t->max, b));
	if (t->health.warn_chains)
		snprintf(lines[n++], 256,
			 "entries exceed 75%% of the hash buckets (%s of %s): hash chains are getting long; raise "
			 "the hash size (see advise)",
			 num(t->count, a), num(t->buckets, b));
	if (t->health.warn_drops)
		snprintf(lines[n++], 256,
			 "%s packets were dropped and %s entries evicted early because the table was full "
			 "(since boot)",
			 num(t->counters.drop, a), num(t->counters.early_drop, b));
	return n;
}

static const char *role_name(enum owned_role r)
{
	switch (r) {
	case OWNED_ROLE_NOTRACK: return "notrack";
	case OWNED_ROLE_KEEP: return "keep_tracked";
	case OWNED_ROLE_ACCEPT: return "untracked_accept";
	case OWNED_ROLE_JUMP: return "jump";
	case OWNED_ROLE_TIMEOUT: return "ct_timeout";
	}
	return "notrack";
}

/* Above this many objects, status sums the rules per policy entry unless
 * --verbose: a 10,000-port iptables policy is 131,000 rules, and the sums
 * are what an operator reads anyway. */
#define STATUS_RULES_LISTED 64

static void print_status_sums(const struct status_report *rep, const char *table)
{
	struct entry_sums s;
	char a[32], b[32];

	if (metrics_entry_sums(&rep->owned, table, &s) < 0) {
		printf("  out of memory\n");
		return;
	}
	printf("  %zu objects, the rules summed per policy entry and hook (--verbose lists them)\n", rep->owned.n);
	int w_hook = (int)strlen("HOOK/CHAIN"), w_origin = (int)strlen("ORIGIN");
	for (size_t i = 0; i < s.n; i++) {
		int h = (int)strlen(s.v[i].hook), g = (int)strlen(*s.v[i].origin ? s.v[i].origin : "-");
		w_hook = h > w_hook ? h : w_hook;
		w_origin = g > w_origin ? g : w_origin;
	}
	printf("  %-10s %-*s %-16s %-*s %8s %14s %16s\n", "FAMILY", w_hook, "HOOK/CHAIN", "ROLE", w_origin, "ORIGIN",
	       "RULES", "PACKETS", "BYTES");
	for (size_t i = 0; i < s.n; i++) {
		const struct entry_sum *e = &s.v[i];
		printf("  %-10s %-*s %-16s %-*s %8zu %14s %16s\n", e->family, w_hook, e->hook, role_name(e->role),
		       w_origin, *e->origin ? e->origin : "-", e->rules, e->has_counter ? num(e->packets, a) : "-",
		       e->has_counter ? num(e->bytes, b) : "-");
	}
	entry_sums_free(&s);
}

static void print_status_conntrack(const struct status_report *rep)
{
	if (rep->ct_err.kind != DIAG_NONE) {
		printf("  conntrack    unavailable: %s\n", rep->ct_err.msg);
		return;
	}
	if (!rep->ct_want.n)
		return;
	printf("  conntrack    %zu value%s set, %s\n", rep->ct_want.n, rep->ct_want.n == 1 ? "" : "s",
	       rep->ct_drift ? "CHANGED since by someone else ('notrackctl restore' sets them again)" : "all hold");
	for (size_t i = 0; i < rep->ct_want.n; i++) {
		const struct ct_value *w = &rep->ct_want.v[i], *now = ct_values_find(&rep->ct_live, w->key);
		char live[32] = "unreadable";
		if (now)
			snprintf(live, sizeof(live), "%lld", now->value);
		printf("    %-32s set %-12lld now %s%s\n", w->key, w->value, live,
		       now && now->value == w->value ? "" : "  (drift)");
	}
}

static void print_status_text(const struct status_report *rep, const char *backend, const char *reason,
			      const char *table, bool verbose)
{
	char warnings[3][256], a[32], b[32];
	size_t n_warn = 0;

	if (rep->table_err.kind == DIAG_NONE) {
		print_table_use(&rep->table);
		n_warn = table_warnings(&rep->table, warnings);
	} else {
		printf("conntrack table: unavailable: %s\n", rep->table_err.msg);
	}
	for (size_t i = 0; i < n_warn; i++)
		printf("warning: %s\n", warnings[i]);

	printf("\nnotrackctl\n");
	printf("  backend      %s (%s)\n", backend ? backend : "none", reason);
	if (rep->state_err.kind != DIAG_NONE) {
		printf("  generation   unavailable: %s%s%s\n", rep->state_err.file, rep->state_err.file[0] ? ": " : "",
		       rep->state_err.msg);
	} else if (!rep->generation) {
		printf("  generation   0 (nothing applied)\n");
	} else {
		char when[32] = "?";
		time_t t = (time_t)rep->applied_time;
		struct tm tm;
		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
		printf("  generation   %" PRIu64 " (%s, %s)\n", rep->generation, when,
		       rep->policy_file ? rep->policy_file : "removed");
	}
	printf("  pending      %s\n", rep->pending);
	if (rep->has_drift)
		printf("  drift        %s\n", rep->drift ? rep->drift_what : "none");

	print_status_conntrack(rep);

	printf("\nrules we own (table %s)\n", table);
	if (rep->rules_err.kind != DIAG_NONE) {
		printf("  unavailable: %s\n", rep->rules_err.msg);
		return;
	}
	if (!rep->owned.n) {
		printf("  none\n");
		return;
	}
	bool list = verbose || rep->owned.n <= STATUS_RULES_LISTED;
	if (!list)
		print_status_sums(rep, table);
	/* the columns as wide as their longest cell: origins such as
	 * "notrack.services[0] (icmp errors)" and chains such as
	 * "inet notrackctl timeout_prerouting" are longer than most */
	int w_chain = (int)strlen("CHAIN"), w_origin = (int)strlen("ORIGIN");
	for (size_t i = 0; list && i < rep->owned.n; i++) {
		const struct owned_object *o = &rep->owned.v[i];
		int c = snprintf(NULL, 0, "%s %s %s", o->family, o->table, o->chain);
		int g = (int)strlen(*inspect_owned_origin(o) ? inspect_owned_origin(o) : "-");
		w_chain = c > w_chain ? c : w_chain;
		w_origin = g > w_origin ? g : w_origin;
	}
	if (list)
		printf("  %-*s %-16s %-*s %14s %16s\n", w_chain, "CHAIN", "ROLE", w_origin, "ORIGIN", "PACKETS",
		       "BYTES");
	for (size_t i = 0; list && i < rep->owned.n; i++) {
		const struct owned_object *o = &rep->owned.v[i];
		char chain[160];
		snprintf(chain, sizeof(chain), "%s %s %s", o->family, o->table, o->chain);
		printf("  %-*s %-16s %-*s %14s %16s\n", w_chain, chain, role_name(inspect_owned_role(o)), w_origin,
		       *inspect_owned_origin(o) ? inspect_owned_origin(o) : "-",
		       o->has_counter ? num(o->packets, a) : "-", o->has_counter ? num(o->bytes, b) : "-");
	}
	printf("  bypassed conntrack: %s packets, %s bytes\n", num(rep->bypassed_packets, a),
	       num(rep->bypassed_bytes, b));
}

static json_t *table_json(const struct table_use *t)
{
	char warnings[3][256];
	size_t n = table_warnings(t, warnings);
	json_t *w = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(w, json_string(warnings[i]));
	return json_pack(
	    "{s:I,s:o,s:o,s:o,s:o,s:s,s:o,s:o}", "count", (json_int_t)t->count, "max",
	    t->has_max ? json_integer((json_int_t)t->max) : json_null(), "buckets",
	    t->has_buckets ? json_integer((json_int_t)t->buckets) : json_null(), "use_percent",
	    t->has_max ? json_percent(t->health.use_percent) : json_null(), "buckets_percent",
	    t->has_buckets ? json_percent(t->health.buckets_percent) : json_null(), "count_source", t->count_source,
	    "counters",
	    t->has_counters
		? json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:s}", "drop", (json_int_t)t->counters.drop, "early_drop",
			    (json_int_t)t->counters.early_drop, "insert_failed", (json_int_t)t->counters.insert_failed,
			    "chaintoolong", (json_int_t)t->counters.chaintoolong, "invalid",
			    (json_int_t)t->counters.invalid, "insert", (json_int_t)t->counters.insert, "found",
			    (json_int_t)t->counters.found, "cpus", (int)t->counters.cpus, "source", t->counters_source)
		: json_null(),
	    "warnings", w);
}

/* The rules summed per policy entry and hook, as the text shows them at scale. */
static json_t *entries_json(const struct status_report *rep, const char *table)
{
	struct entry_sums s;
	json_t *a = json_array();

	if (metrics_entry_sums(&rep->owned, table, &s) < 0)
		return a;
	for (size_t i = 0; i < s.n; i++) {
		const struct entry_sum *e = &s.v[i];
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:o,s:o}", "family", e->family, "table",
						   e->table, "hook", e->hook, "role", role_name(e->role), "origin",
						   e->origin, "rules", (json_int_t)e->rules, "packets",
						   e->has_counter ? json_integer((json_int_t)e->packets) : json_null(),
						   "bytes",
						   e->has_counter ? json_integer((json_int_t)e->bytes) : json_null()));
	}
	entry_sums_free(&s);
	return a;
}

/* "backend" is the name, as in apply's and lint's output; the decision and
 * its reason are "backend_decision", the same object apply prints */
static void print_status_json(const struct status_report *rep, const struct backend_choice *cb, const char *table)
{
	json_t *o = json_object(), *rules = json_array();

	json_object_set_new(o, "table", rep->table_err.kind == DIAG_NONE ? table_json(&rep->table) : json_null());
	json_object_set_new(o, "table_error", json_error(&rep->table_err));
	json_object_set_new(o, "backend", cb->ops ? json_string(cb->ops->name) : json_null());
	json_object_set_new(o, "backend_decision", cli_backend_json(cb));
	json_object_set_new(o, "generation",
			    rep->state_err.kind == DIAG_NONE ? json_integer((json_int_t)rep->generation) : json_null());
	json_object_set_new(o, "policy_file", rep->policy_file ? json_string(rep->policy_file) : json_null());
	json_object_set_new(o, "applied_time",
			    rep->applied_time ? json_integer((json_int_t)rep->applied_time) : json_null());
	json_object_set_new(o, "state_error", json_error(&rep->state_err));
	if (rep->has_pending)
		json_object_set_new(o, "pending",
				    json_pack("{s:s,s:I,s:I,s:I,s:s,s:s}", "token", rep->pending_detail.token,
					      "generation", (json_int_t)rep->pending_detail.generation, "rollback_to",
					      (json_int_t)rep->pending_detail.rollback_to, "deadline",
					      (json_int_t)rep->pending_detail.deadline, "timer",
					      rep->pending_detail.timer, "timer_id", rep->pending_detail.timer_id));
	else
		json_object_set_new(o, "pending", json_null());
	json_object_set_new(o, "drift",
			    rep->has_drift ? json_pack("{s:b,s:s}", "changed", rep->drift, "what", rep->drift_what)
					   : json_null());
	if (rep->has_expired)
		json_object_set_new(o, "expired",
				    json_pack("{s:s,s:I,s:I,s:b,s:s}", "token", rep->expired.token, "generation",
					      (json_int_t)rep->expired.generation, "rolled_back_to",
					      (json_int_t)rep->expired.rolled_back, "refused", rep->expired.refused,
					      "reason", rep->expired.reason));
	else
		json_object_set_new(o, "expired", json_null());
	json_t *ct = json_array();
	for (size_t i = 0; i < rep->ct_want.n; i++) {
		const struct ct_value *w = &rep->ct_want.v[i], *now = ct_values_find(&rep->ct_live, w->key);
		json_array_append_new(ct, json_pack("{s:s,s:I,s:o,s:b}", "key", w->key, "set", (json_int_t)w->value,
						    "now", now ? json_integer((json_int_t)now->value) : json_null(),
						    "drift", !now || now->value != w->value));
	}
	json_object_set_new(o, "conntrack", ct);
	json_object_set_new(o, "conntrack_error", json_error(&rep->ct_err));
	json_object_set_new(o, "nft_table", json_string(table));
	for (size_t i = 0; i < rep->owned.n; i++) {
		const struct owned_object *r = &rep->owned.v[i];
		json_array_append_new(
		    rules, json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:o,s:o}", "family", r->family, "table", r->table,
				     "chain", r->chain, "handle", (json_int_t)r->handle, "comment", r->comment,
				     "origin", inspect_owned_origin(r), "role", role_name(inspect_owned_role(r)),
				     "packets", r->has_counter ? json_integer((json_int_t)r->packets) : json_null(),
				     "bytes", r->has_counter ? json_integer((json_int_t)r->bytes) : json_null()));
	}
	json_object_set_new(o, "rules", rep->rules_err.kind == DIAG_NONE ? rules : (json_decref(rules), json_null()));
	json_object_set_new(o, "entries", rep->rules_err.kind == DIAG_NONE ? entries_json(rep, table) : json_null());
	json_object_set_new(o, "bypassed",
			    json_pack("{s:I,s:I}", "packets", (json_int_t)rep->bypassed_packets, "bytes",
				      (json_int_t)rep->bypassed_bytes));
	json_object_set_new(o, "rules_error", json_error(&rep->rules_err));
	/* the top-level error is the section that decides the exit code: the first that failed */
	const struct diag *errs[] = {&rep->table_err, &rep->state_err, &rep->rules_err}, *first = NULL;
	for (size_t i = 0; i < 3 && !first; i++)
		if (errs[i]->kind != DIAG_NONE)
			first = errs[i];
	print_json_doc(o, first);
}

int cmd_status(int argc, char **argv, struct global_options *g)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    COMMON_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct status_config cfg = {.ct = &ct_netlink_ops, .table = g->table};
	struct status_report rep;
	struct backend_choice cb;
	struct diag bd;
	const char *reason, *table;
	int c, k, code = EXIT_OK;

	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		if ((k = cli_parse_common("status", c, optarg, g)) < 0)
			return -k;
		if (k)
			continue;
		if (c == 'h') {
			printf("%s%s", status_help, cli_common_help);
			return EXIT_OK;
		}
		return cli_usage_error("status", "%s", "invalid option");
	}
	if (optind != argc)
		return cli_usage_error("status", "%s", "too many arguments");
	if ((code = cli_backend_check_name("status", g)))
		return code;
	/* the decision auto makes, and why, is part of the status */
	diag_init(&bd);
	cli_backend_choose(g, &cb, &bd);
	reason = cb.detected ? cb.det.reason : "named with --backend";
	cfg.backend = cb.ops;
	cfg.table = g->table;
	cfg.state_dir = diag_state_dir(g);
	cfg.lock_timeout_ms = g->lock_timeout_ms;
	table = g->table ? g->table : RULESET_DEFAULT_TABLE;
	inspect_status(&cfg, &rep);
	if (!cb.ops) /* no backend: the rules section reports why */
		diag_fail(&rep.rules_err, bd.kind, bd.err, NULL, "%s", bd.msg);
	if (g->verbose && !g->json)
		cli_backend_explain(&cb, stderr);
	if (g->json)
		print_status_json(&rep, &cb, table);
	else
		print_status_text(&rep, cb.ops ? cb.ops->name : NULL, reason, table, g->verbose);
	if (!g->json)
		cli_print_warnings(&bd);
	/* every section is printed; the first that failed decides the exit code */
	const struct diag *errs[] = {&rep.table_err, &rep.state_err, &rep.rules_err};
	for (size_t i = 0; i < 3 && code == EXIT_OK; i++) {
		if (errs[i]->kind != DIAG_NONE) {
			if (!g->json)
				cli_print_error(errs[i]);
			code = cli_exit_code(errs[i]);
		}
	}
	status_report_free(&rep);
	cli_backend_free(&cb);
	diag_free(&bd);
	return code;
}

/* ------------------------------------------------------------------ */
/* top                                                                  */

static const char top_help[] = "Usage: notrackctl top [OPTIONS]\n"
			       "\n"
			       "Read the conntrack table over ctnetlink, one entry at a time (never the\n"
			       "whole table in memory), and show the entries by family, protocol and TCP\n"
			       "state; the most frequent original-direction sources, destination ports\n"
			       "and (source, destination port) pairs; and the share of entries the\n"
			       "current policy, and a candidate policy, would have kept out of the table.\n"
			       "Needs CAP_NET_ADMIN. On a terminal, a large table shows progress on stderr.\n"
			       "\n"
			       "Options:\n"
			       "  -n, --top N           rows per top list (default 10, at most 1000)\n"
			       "  -p, --policy FILE     also estimate what the policy in FILE would avoid\n"
			       "      --progress        show progress on stderr even without a terminal\n"
			       "      --no-progress     never show progress\n";

#define PROGRESS_MIN_ENTRIES 50000 /* smaller tables read in well under a second */

struct progress {
	bool enabled;
	struct timespec last;
	bool shown;
};

static void show_progress(uint64_t done, uint64_t expected, void *ctx)
{
	struct progress *p = ctx;
	struct timespec now;
	char a[32], b[32];

	if (!p->enabled)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* ten updates a second at most, like pv */
	if (p->shown && (now.tv_sec - p->last.tv_sec) * 1000000000L + (now.tv_nsec - p->last.tv_nsec) < 100000000L)
		return;
	p->last = now;
	p->shown = true;
	if (expected)
		fprintf(stderr, "\rnotrackctl: reading conntrack: %s of about %s entries (%3.0f%%)", num(done, a),
			num(expected, b), done >= expected ? 100.0 : percent(done, expected));
	else
		fprintf(stderr, "\rnotrackctl: reading conntrack: %s entries", num(done, a));
	fflush(stderr);
}

static void end_progress(struct progress *p)
{
	if (p->shown)
		fprintf(stderr, "\r\033[K");
}

static const char *proto_label(uint8_t proto, char buf[16])
{
	switch (proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
	case IPPROTO_DCCP: return proto_name(proto);
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	case IPPROTO_UDPLITE: return "udplite";
	case IPPROTO_GRE: return "gre";
	case IPPROTO_ESP: return "esp";
	}
	snprintf(buf, 16, "%u", proto);
	return buf;
}

static const char *addr_text(uint8_t family, const uint8_t *addr, char buf[INET6_ADDRSTRLEN])
{
	if (!inet_ntop(family, addr, buf, INET6_ADDRSTRLEN))
		snprintf(buf, INET6_ADDRSTRLEN, "?");
	return buf;
}

/* One policy's coverage: what it notracks, and how much of the table that is. */
struct cov_view {
	const char *label; /* "current policy", "candidate policy" */
	const char *file;
	uint64_t generation; /* current only */
	const struct ruleset *rs;
	const struct coverage *cov;
};

/* Avoided entries summed per policy entry (one entry compiles to several rules). */
static size_t by_origin(const struct cov_view *v, const char **origins, uint64_t *counts)
{
	size_t n = 0;

	for (size_t i = 0; i < v->rs->n_rules; i++) {
		size_t j;
		if (!v->cov->by_rule[i])
			continue;
		for (j = 0; j < n && strcmp(origins[j], v->rs->rules[i].origin); j++)
			;
		if (j == n) {
			origins[n] = v->rs->rules[i].origin;
			counts[n++] = 0;
		}
		counts[j] += v->cov->by_rule[i];
	}
	return n;
}

static void print_coverage_text(const struct cov_view *v)
{
	const struct coverage *c = v->cov;
	const char **origins = calloc(v->rs->n_rules + 1, sizeof(*origins));
	uint64_t *counts = calloc(v->rs->n_rules + 1, sizeof(*counts));
	char a[32], b[32];

	if (!origins || !counts)
		goto out;
	printf("%s", v->label);
	if (v->generation)
		printf(" (generation %" PRIu64 ", %s)", v->generation, v->file);
	else
		printf(" (%s)", v->file);
	printf(":\n  %.1f%% of entries (%s of %s) are ", percent(c->avoided, c->total), num(c->avoided, a),
	       num(c->total, b));
	for (size_t i = 0; i < v->rs->n_exposure; i++)
		printf("%s%s", i ? "; " : "", v->rs->exposure[i]);
	if (!v->rs->n_exposure)
		printf("nothing (the policy notracks nothing)");
	printf(": covered by the policy, so they would not exist\n");
	size_t n = by_origin(v, origins, counts);
	for (size_t i = 0; i < n; i++)
		printf("    %-40s %12s  %5.1f%%\n", origins[i], num(counts[i], a), percent(counts[i], c->total));
	if (c->undecidable)
		printf("  %.1f%% (%s) not decidable: an interface-scoped rule, and the entry does not tell the "
		       "interface\n",
		       percent(c->undecidable, c->total), num(c->undecidable, a));
out:
	free(origins);
	free(counts);
}

static json_t *coverage_json(const struct cov_view *v)
{
	const struct coverage *c = v->cov;
	const char **origins = calloc(v->rs->n_rules + 1, sizeof(*origins));
	uint64_t *counts = calloc(v->rs->n_rules + 1, sizeof(*counts));
	json_t *covers = json_array(), *rules = json_array();

	for (size_t i = 0; i < v->rs->n_exposure; i++)
		json_array_append_new(covers, json_string(v->rs->exposure[i]));
	if (origins && counts) {
		size_t n = by_origin(v, origins, counts);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(
			    rules, json_pack("{s:s,s:I}", "origin", origins[i], "entries", (json_int_t)counts[i]));
	}
	free(origins);
	free(counts);
	return json_pack("{s:s,s:o,s:I,s:I,s:o,s:I,s:I,s:o,s:o,s:o}", "policy_file", v->file, "generation",
			 v->generation ? json_integer((json_int_t)v->generation) : json_null(), "entries",
			 (json_int_t)c->total, "avoided", (json_int_t)c->avoided, "avoided_percent",
			 json_percent(percent(c->avoided, c->total)), "tracked", (json_int_t)c->tracked, "undecidable",
			 (json_int_t)c->undecidable, "undecidable_percent",
			 json_percent(percent(c->undecidable, c->total)), "covers", covers, "by_origin", rules);
}

static const char *const top_titles[CT_TOP_KINDS] = {"sources", "destination ports", "sources and destination ports"};
static const char *const top_keys[CT_TOP_KINDS] = {"sources", "destination_ports", "source_destination_ports"};

static void top_row_label(enum ct_top_kind kind, const struct ct_top_row *r, char *buf, size_t size)
{
	char addr[INET6_ADDRSTRLEN], p[16];

	switch (kind) {
	case CT_TOP_SOURCES: snprintf(buf, size, "%s", addr_text(r->family, r->addr, addr)); break;
	case CT_TOP_DPORTS: snprintf(buf, size, "%s/%u", proto_label(r->proto, p), r->port); break;
	case CT_TOP_PAIRS:
		snprintf(buf, size, "%s -> %s/%u", addr_text(r->family, r->addr, addr), proto_label(r->proto, p),
			 r->port);
		break;
	default: buf[0] = '\0';
	}
}

static void print_top_text(const struct top_report *rep, size_t n_top, const struct cov_view *views, size_t n_views)
{
	const struct ct_agg *a = &rep->agg;
	struct ct_top_row *rows = calloc(n_top ? n_top : 1, sizeof(*rows));
	char x[32], y[32], z[32];

	printf("conntrack entries: %s (ipv4 %s, ipv6 %s)\n", num(a->total, x), num(a->ipv4, y), num(a->ipv6, z));
	printf("\nby protocol\n");
	/* largest first: a selection over 256 counters */
	bool done[256] = {false};
	for (;;) {
		int best = -1;
		for (int p = 0; p < 256; p++)
			if (a->proto[p] && !done[p] && (best < 0 || a->proto[p] > a->proto[best]))
				best = p;
		if (best < 0)
			break;
		done[best] = true;
		printf("  %-12s %12s  %5.1f%%\n", proto_label((uint8_t)best, x), num(a->proto[best], y),
		       percent(a->proto[best], a->total));
	}
	if (a->proto[IPPROTO_TCP]) {
		printf("\ntcp states\n");
		for (int s = 0; s < CT_AGG_TCP_STATES; s++)
			if (a->tcp_state[s])
				printf("  %-12s %12s  %5.1f%%\n",
				       s == CT_AGG_TCP_OTHER ? "OTHER" : ct_tcp_state_name((uint8_t)s),
				       num(a->tcp_state[s], x), percent(a->tcp_state[s], a->proto[IPPROTO_TCP]));
	}
	printf("\nnot yet replied: %s (udp %s); assured: %s\n", num(a->unreplied, x), num(a->udp_unreplied, y),
	       num(a->assured, z));

	for (int k = 0; rows && k < CT_TOP_KINDS; k++) {
		size_t n = ct_agg_top(a, k, n_top, rows);
		bool exact = ct_agg_top_exact(a, k);
		printf("\ntop %zu %s%s\n", n_top, top_titles[k],
		       exact ? ""
			     : " (approximate: more distinct keys than counters; a count may be high by up to its +N)");
		for (size_t i = 0; i < n; i++) {
			char label[128], err[40] = "";
			top_row_label(k, &rows[i], label, sizeof(label));
			if (rows[i].error)
				snprintf(err, sizeof(err), " (+%s)", num(rows[i].error, x));
			printf("  %12s  %5.1f%%  %s%s\n", num(rows[i].count, y), percent(rows[i].count, a->total),
			       label, err);
		}
	}
	free(rows);

	for (size_t i = 0; i < n_views; i++) {
		printf("\n");
		print_coverage_text(&views[i]);
	}
	if (n_views)
		printf("\nCoverage infers interfaces from addresses: a packet sent to a local address leaves on lo,\n"
		       "one that arrives came in on the interface holding its destination address; otherwise an\n"
		       "interface-scoped rule is not decidable.\n");
}

static json_t *top_json(const struct top_report *rep, size_t n_top, const struct cov_view *views, size_t n_views,
			const struct cov_view *slots[TOP_POLICIES])
{
	const struct ct_agg *a = &rep->agg;
	json_t *o = json_object(), *protos = json_array(), *states = json_object(), *tops = json_object();
	struct ct_top_row *rows = calloc(n_top ? n_top : 1, sizeof(*rows));
	char p[16], addr[INET6_ADDRSTRLEN];

	(void)views;
	(void)n_views;
	json_object_set_new(o, "entries", json_integer((json_int_t)a->total));
	json_object_set_new(o, "expected_entries", json_integer((json_int_t)rep->expected));
	json_object_set_new(o, "families",
			    json_pack("{s:I,s:I}", "ipv4", (json_int_t)a->ipv4, "ipv6", (json_int_t)a->ipv6));
	for (int i = 0; i < 256; i++)
		if (a->proto[i])
			json_array_append_new(protos, json_pack("{s:s,s:i,s:I}", "proto", proto_label((uint8_t)i, p),
								"number", i, "entries", (json_int_t)a->proto[i]));
	json_object_set_new(o, "protocols", protos);
	for (int s = 0; s < CT_AGG_TCP_OTHER; s++)
		json_object_set_new(states, ct_tcp_state_name((uint8_t)s), json_integer((json_int_t)a->tcp_state[s]));
	json_object_set_new(states, "OTHER", json_integer((json_int_t)a->tcp_state[CT_AGG_TCP_OTHER]));
	json_object_set_new(o, "tcp_states", states);
	json_object_set_new(o, "unreplied", json_integer((json_int_t)a->unreplied));
	json_object_set_new(o, "udp_unreplied", json_integer((json_int_t)a->udp_unreplied));
	json_object_set_new(o, "assured", json_integer((json_int_t)a->assured));
	for (int k = 0; rows && k < CT_TOP_KINDS; k++) {
		size_t n = ct_agg_top(a, k, n_top, rows);
		json_t *list = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *row = json_object();
			if (k != CT_TOP_DPORTS)
				json_object_set_new(row, "address",
						    json_string(addr_text(rows[i].family, rows[i].addr, addr)));
			if (k != CT_TOP_SOURCES) {
				json_object_set_new(row, "proto", json_string(proto_label(rows[i].proto, p)));
				json_object_set_new(row, "port", json_integer(rows[i].port));
			}
			json_object_set_new(row, "entries", json_integer(rows[i].count));
			json_object_set_new(row, "max_overcount", json_integer(rows[i].error));
			json_array_append_new(list, row);
		}
		json_object_set_new(tops, top_keys[k],
				    json_pack("{s:b,s:o}", "exact", ct_agg_top_exact(a, k), "rows", list));
	}
	free(rows);
	json_object_set_new(tops, "capacity", json_integer(CT_AGG_TOP_CAPACITY));
	json_object_set_new(o, "top", tops);
	json_object_set_new(o, "coverage",
			    json_pack("{s:o,s:o}", "current", slots[0] ? coverage_json(slots[0]) : json_null(),
				      "candidate", slots[1] ? coverage_json(slots[1]) : json_null()));
	return o;
}

int cmd_top(int argc, char **argv, struct global_options *g)
{
	static const struct option opts[] = {
	    {"top", required_argument, NULL, 'n'},
	    {"policy", required_argument, NULL, 'p'},
	    {"progress", no_argument, NULL, 'P'},
	    {"no-progress", no_argument, NULL, 'N'},
	    {"help", no_argument, NULL, 'h'},
	    COMMON_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	const char *candidate_file = NULL;
	int progress_mode = -1; /* -1: on a terminal; 0 never; 1 always */
	uint64_t n_top = 10;
	struct ruleset current = {0}, candidate = {0};
	struct policy_source src = {0};
	struct host_addr *addrs = NULL;
	struct cov_host host = {0};
	struct top_request req = {.ct = &ct_netlink_ops, .capacity = CT_AGG_TOP_CAPACITY};
	struct top_report rep = {0};
	struct progress prog = {0};
	struct cov_view views[TOP_POLICIES];
	const struct cov_view *slots[TOP_POLICIES] = {NULL, NULL};
	size_t n_views = 0;
	bool has_current = false;
	uint64_t generation = 0;
	char *current_file = NULL;
	struct diag d;
	int c, k, r, code = EXIT_OK;

	while ((c = getopt_long(argc, argv, "qhn:p:", opts, NULL)) != -1) {
		if ((k = cli_parse_common("top", c, optarg, g)) < 0)
			return -k;
		if (k)
			continue;
		switch (c) {
		case 'n':
			if (parse_count(optarg, 1, CT_AGG_TOP_MAX, &n_top) < 0)
				return cli_usage_error("top", "-n takes a number from 1 to 1000, not '%s'", optarg);
			break;
		case 'p': candidate_file = optarg; break;
		case 'P': progress_mode = 1; break;
		case 'N': progress_mode = 0; break;
		case 'h': printf("%s%s", top_help, cli_common_help); return EXIT_OK;
		default: return cli_usage_error("top", "%s", "invalid option");
		}
	}
	if (optind != argc)
		return cli_usage_error("top", "%s", "too many arguments");

	diag_init(&d);
	/* the current policy: a state directory we cannot read only costs its coverage line */
	r = inspect_current_policy(diag_state_dir(g), g->table, &has_current, &generation, &current_file, &current, &d);
	if (r < 0) {
		fprintf(stderr, "notrackctl: warning: no coverage for the current policy: %s%s%s\n", d.file,
			d.file[0] ? ": " : "", d.msg);
		diag_free(&d);
		diag_init(&d);
	}
	if (candidate_file) {
		r = policy_source_read(&src, candidate_file, &d);
		if (r == 0)
			r = compile_source(&src, g->table, false, &candidate, &d);
		if (r < 0)
			goto fail;
	}
	if (has_current || candidate_file) {
		r = inspect_host(&addrs, &host.n, &d);
		if (r < 0)
			goto fail;
		host.addrs = addrs;
	}
	if (has_current) {
		views[n_views] = (struct cov_view){"current policy", current_file, generation, &current, NULL};
		req.policies[0] = &current;
		slots[0] = &views[n_views++];
	}
	if (candidate_file) {
		views[n_views] = (struct cov_view){"candidate policy", candidate_file, 0, &candidate, NULL};
		req.policies[1] = &candidate;
		slots[1] = &views[n_views++];
	}
	req.host = &host;
	prog.enabled = progress_mode == 1 || (progress_mode < 0 && !g->quiet && isatty(STDERR_FILENO));
	req.progress = show_progress;
	req.progress_ctx = &prog;
	if (progress_mode < 0) {
		/* only a large table earns a progress line: the count is cheap to read first */
		struct table_use t;
		struct diag ignored;
		diag_init(&ignored);
		if (prog.enabled && inspect_table(&ct_netlink_ops, &t, &ignored) == 0 && t.count < PROGRESS_MIN_ENTRIES)
			prog.enabled = false;
		diag_free(&ignored);
	}
	r = inspect_top(&req, &rep, &d);
	end_progress(&prog);
	if (r < 0)
		goto fail;
	for (int i = 0; i < TOP_POLICIES; i++)
		if (slots[i])
			((struct cov_view *)slots[i])->cov = &rep.cov[i];
	if (g->json)
		print_json_doc(top_json(&rep, n_top, views, n_views, slots), NULL);
	else
		print_top_text(&rep, n_top, views, n_views);
	goto out;
fail:
	if (src.text)
		policy_locate(&src, &d);
	cli_print_error(&d);
	code = cli_exit_code(&d);
out:
	top_report_free(&rep);
	ruleset_free(&current);
	ruleset_free(&candidate);
	policy_source_free(&src);
	free(current_file);
	free(addrs);
	diag_free(&d);
	return code;
}

/* ------------------------------------------------------------------ */
/* advise                                                               */

static const char advise_help[] = "Usage: notrackctl advise [OPTIONS]\n"
				  "\n"
				  "Recommend nf_conntrack_max, the hash size and timeouts from this machine's\n"
				  "RAM, the real size of a conntrack entry (the nf_conntrack slab), the\n"
				  "count and its peak, and the TCP state mix in the table. Shows what each\n"
				  "recommendation costs in memory and what could break. Prints a ready\n"
				  "/etc/sysctl.d/ file and the hash size settings; never changes a sysctl.\n"
				  "\n"
				  "Options:\n"
				  "      --peak N          the highest count you have seen (from monitoring)\n"
				  "      --sample S        watch the count for S seconds (at most 3600) for a peak\n"
				  "      --write FILE      also write the sysctl.d file to FILE\n"
				  "      --write-policy FILE  put the recommendation into the conntrack\n"
				  "                        section of the policy FILE (created if absent),\n"
				  "                        for apply to manage; values this namespace\n"
				  "                        cannot write are left out, and said so; where a\n"
				  "                        NATed or kept-tracked tcp/udp port holds >= 20 %%\n"
				  "                        and >= 1000 entries, its keep_tracked entry gets\n"
				  "                        short timeouts (nft backend only)\n"
				  "      --objsize BYTES   size of one entry (default: /proc/slabinfo, else 352)\n"
				  "      --ram BYTES       size the advice for this much RAM (default: this machine)\n";

static void print_advise_text(const struct advise_report *rep, const char *file_text)
{
	const struct advise_sizes *s = &rep->sizes;
	char a[32], b[32], m[32], m2[32];
	struct strbuf hs;

	advise_format_bytes(rep->ram, m, sizeof(m));
	printf("inputs\n");
	printf("  RAM            %s\n", m);
	printf("  entry size     %" PRIu64 " B (%s)\n", rep->objsize, rep->objsize_source);
	printf("  entries        %s now, peak %s", num(rep->table.count, a), num(rep->peak, b));
	printf(", max %s, buckets %s\n", num(rep->table.max, a),
	       num(rep->table.has_buckets ? rep->table.buckets : 0, b));
	if (s->table_was_full)
		printf("  the table has overflowed: drop %s, early_drop %s (since boot)\n",
		       num(rep->table.counters.drop, a), num(rep->table.counters.early_drop, b));

	printf("\nsize\n");
	advise_format_bytes(s->memory_now, m, sizeof(m));
	printf("  now            max %s, buckets %s: %s when full\n", num(rep->table.max, a),
	       num(rep->table.has_buckets ? rep->table.buckets : 0, b), m);
	advise_format_bytes(s->memory, m, sizeof(m));
	printf("  recommended    max %s, buckets %s: %s when full", num(s->max, a), num(s->buckets, b), m);
	if (s->memory > s->memory_now) {
		advise_format_bytes(s->memory - s->memory_now, m2, sizeof(m2));
		printf(" (+%s)", m2);
	}
	printf("\n  formula        max x %" PRIu64 " B + buckets x %d B\n", rep->objsize, ADVISE_BUCKET_SIZE);
	printf("  kernel default for this RAM: %s\n", num(s->kernel_default, a));
	if (!s->change)
		printf("  no change needed: the table has room for twice the demand of %s\n", num(s->demand, a));
	if (s->capped)
		printf("  capped: twice the demand (%s) needs more than 1/16 of RAM; notrack traffic instead\n"
		       "  (notrackctl top --policy shows how much a policy would save)\n",
		       num(s->target, a));

	printf("\ntimeouts (from the state mix of %s entries%s)\n", num(rep->mix.total, a),
	       rep->mix.pressure ? ", table under pressure" : ", no pressure: defaults are fine");
	if (!rep->n_items)
		printf("  no state holds 5%% of the entries or more\n");
	for (size_t i = 0; i < rep->n_items; i++) {
		const struct advise_timeout_item *it = &rep->items[i];
		printf("  %s: %.1f%% of entries, now %" PRIu64 " s", advise_timeout_sysctl(it->which),
		       it->share_percent, it->current);
		if (it->change)
			printf(" -> recommend %" PRIu64 " s\n", it->recommended);
		else
			printf(", keep\n");
		printf("    why the default: %s\n", it->why_default);
		if (it->change)
			printf("    what could break: %s\n", it->risk);
		if (it->note)
			printf("    note: %s\n", it->note);
	}

	printf("\nhash size (%s buckets)\n", num(s->buckets, a));
	strbuf_init(&hs);
	advise_render_hashsize(s->buckets, "  ", &hs);
	fputs(hs.data ? hs.data : "", stdout);
	strbuf_free(&hs);
	printf("\n%s (not written; use --write FILE):\n%s", ADVISE_SYSCTL_FILE, file_text);
}

static json_t *advise_json(const struct advise_report *rep, const char *file_text, const char *written)
{
	const struct advise_sizes *s = &rep->sizes;
	json_t *items = json_array();

	for (size_t i = 0; i < rep->n_items; i++) {
		const struct advise_timeout_item *it = &rep->items[i];
		json_array_append_new(
		    items, json_pack("{s:s,s:o,s:I,s:I,s:I,s:b,s:s,s:s,s:s?}", "sysctl",
				     advise_timeout_sysctl(it->which), "share_percent", json_percent(it->share_percent),
				     "current", (json_int_t)it->current, "recommended", (json_int_t)it->recommended,
				     "default", (json_int_t)advise_timeout_default(it->which), "change", it->change,
				     "why_default", it->why_default, "risk", it->risk, "note", it->note));
	}
	return json_pack(
	    "{s:{s:I,s:I,s:s,s:I,s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I,s:I,s:I,s:b,s:b,s:I,s:I,s:I,s:I,s:b},s:b,s:o,s:s,s:o}",
	    "inputs", "ram", (json_int_t)rep->ram, "objsize", (json_int_t)rep->objsize, "objsize_source",
	    rep->objsize_source, "count", (json_int_t)rep->table.count, "peak", (json_int_t)rep->peak, "max",
	    (json_int_t)rep->table.max, "buckets", (json_int_t)(rep->table.has_buckets ? rep->table.buckets : 0),
	    "drops", (json_int_t)(rep->table.counters.drop + rep->table.counters.early_drop), "sizes", "kernel_default",
	    (json_int_t)s->kernel_default, "demand", (json_int_t)s->demand, "target", (json_int_t)s->target, "cap",
	    (json_int_t)s->cap, "max", (json_int_t)s->max, "capped", s->capped, "table_was_full", s->table_was_full,
	    "buckets", (json_int_t)s->buckets, "memory_now", (json_int_t)s->memory_now, "memory", (json_int_t)s->memory,
	    "bucket_size", (json_int_t)ADVISE_BUCKET_SIZE, "change", s->change, "pressure", rep->mix.pressure,
	    "timeouts", items, "sysctl_file", file_text, "written", written ? json_string(written) : json_null());
}

/*
 * --write-policy: whether to look for per-traffic timeouts, and what the
 * policy keeps tracked already.  The iptables backend refuses "timeouts"
 * (its CT target needs cttimeout objects outside the atomic commit), so a
 * proposal there would only make apply fail.  Returns whether *pol holds a
 * parsed policy to free.
 */
static bool advise_per_port(const struct global_options *g, const char *policy_file, struct advise_request *req,
			    struct policy *pol, struct strbuf *notes)
{
	struct backend_choice cb = {0};
	struct policy_source src = {0};
	struct diag bd;
	bool parsed = false;

	diag_init(&bd);
	cli_backend_choose(g, &cb, &bd);
	req->per_port = !cb.ops || strcmp(cb.ops->name, "iptables");
	if (!req->per_port)
		strbuf_puts(notes, "per-traffic timeouts not proposed: the iptables backend refuses keep_tracked "
				   "\"timeouts\" (nft only)\n");
	cli_backend_free(&cb);
	diag_free(&bd);
	/* a file that does not parse is refused with its error when it is written */
	diag_init(&bd);
	if (req->per_port && access(policy_file, F_OK) == 0 && policy_source_read(&src, policy_file, &bd) == 0 &&
	    policy_parse(&src, pol, &bd) == 0) {
		req->policy = pol;
		parsed = true;
	}
	policy_source_free(&src);
	diag_free(&bd);
	return parsed;
}

static json_t *port_timeouts_json(const struct advise_report *rep)
{
	json_t *a = json_array();

	for (size_t i = 0; i < rep->n_port_items; i++) {
		const struct advise_port_item *it = &rep->port_items[i];
		json_t *t = json_object(), *pinned = json_object();
		for (size_t k = 0; k < it->n; k++)
			json_object_set_new(it->t[k].pinned ? pinned : t, it->t[k].key, json_integer(it->t[k].value));
		json_array_append_new(
		    a, json_pack("{s:s,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o}", "proto",
				 it->proto == IPPROTO_TCP ? "tcp" : "udp", "port", it->port, "entries",
				 (json_int_t)it->c.entries, "nat", (json_int_t)it->c.nat, "time_wait",
				 (json_int_t)it->c.time_wait, "close", (json_int_t)it->c.close, "udp_unreplied",
				 (json_int_t)it->c.udp_unreplied, "udp_stream", (json_int_t)it->c.udp_stream, "total",
				 (json_int_t)it->total, "share_percent", json_percent(it->share_percent), "timeouts", t,
				 "pinned", pinned));
	}
	return a;
}

int cmd_advise(int argc, char **argv, struct global_options *g)
{
	static const struct option opts[] = {
	    {"peak", required_argument, NULL, 'k'},
	    {"sample", required_argument, NULL, 's'},
	    {"write", required_argument, NULL, 'w'},
	    {"write-policy", required_argument, NULL, 'p'},
	    {"objsize", required_argument, NULL, 'o'},
	    {"ram", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    COMMON_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct advise_request req = {.ct = &ct_netlink_ops};
	struct advise_report rep = {0};
	struct policy kept_by = {0};
	bool has_kept_by = false;
	const char *write_file = NULL, *policy_file = NULL;
	struct ct_value values[ADVISE_POLICY_VALUES];
	struct strbuf notes;
	size_t n_values = 0, n_ports = 0;
	uint64_t v;
	struct strbuf text;
	char when[32] = "?";
	time_t now = time(NULL);
	struct tm tm;
	struct diag d;
	int c, k, r, code = EXIT_OK;

	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		if ((k = cli_parse_common("advise", c, optarg, g)) < 0)
			return -k;
		if (k)
			continue;
		switch (c) {
		case 'k':
			if (parse_count(optarg, 0, UINT32_MAX, &req.peak) < 0)
				return cli_usage_error("advise", "--peak takes a number of entries, not '%s'", optarg);
			break;
		case 's':
			if (parse_count(optarg, 0, 3600, &v) < 0)
				return cli_usage_error("advise", "--sample takes 0 to 3600 seconds, not '%s'", optarg);
			req.sample_ms = (unsigned)v * 1000;
			break;
		case 'w': write_file = optarg; break;
		case 'p': policy_file = optarg; break;
		case 'o':
			if (parse_count(optarg, 64, 65536, &req.objsize) < 0)
				return cli_usage_error("advise", "--objsize takes 64 to 65536 bytes, not '%s'", optarg);
			break;
		case 'r':
			if (parse_count(optarg, 64ull << 20, 1ull << 50, &req.ram) < 0)
				return cli_usage_error("advise", "--ram takes bytes (at least 64 MiB), not '%s'",
						       optarg);
			break;
		case 'h': printf("%s%s", advise_help, cli_common_help); return EXIT_OK;
		default: return cli_usage_error("advise", "%s", "invalid option");
		}
	}
	if (optind != argc)
		return cli_usage_error("advise", "%s", "too many arguments");
	diag_init(&d);
	strbuf_init(&text);
	strbuf_init(&notes);
	if (policy_file)
		has_kept_by = advise_per_port(g, policy_file, &req, &kept_by, &notes);
	r = inspect_advise(&req, &rep, &d);
	if (r == 0) {
		if (gmtime_r(&now, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
		r = advise_render_sysctl(&rep.sizes, rep.objsize, rep.items, rep.n_items, when, &text);
		if (r < 0)
			r = diag_fail(&d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	}
	/* the only write advise ever does, and only when asked */
	if (r == 0 && write_file)
		r = inspect_write_file(write_file, text.data, &d);
	if (r == 0 && policy_file) {
		n_values = advise_policy_values(&rep.sizes, rep.items, rep.n_items, values);
		n_ports = rep.n_port_items;
		if (req.per_port && !n_ports)
			strbuf_printf(
			    &notes,
			    "per-traffic timeouts: none proposed, no NATed or kept-tracked tcp/udp port holds "
			    ">= %d %% and >= %d entries of the table\n",
			    ADVISE_PORT_SHARE_PERCENT, ADVISE_PORT_MIN_ENTRIES);
		r = inspect_write_policy(policy_file, values, &n_values, rep.port_items, &n_ports, &notes, &d);
	}
	if (r < 0) {
		cli_print_error(&d);
		code = cli_exit_code(&d);
	} else if (g->json) {
		json_t *o = advise_json(&rep, text.data, write_file), *pv = json_object();
		for (size_t i = 0; i < n_values; i++)
			json_object_set_new(pv, values[i].key, json_integer((json_int_t)values[i].value));
		json_object_set_new(o, "policy_written", policy_file ? json_string(policy_file) : json_null());
		json_object_set_new(o, "policy_values", pv);
		json_object_set_new(o, "policy_notes", json_string(notes.data ? notes.data : ""));
		json_object_set_new(o, "port_timeouts", port_timeouts_json(&rep));
		print_json_doc(o, NULL);
	} else {
		print_advise_text(&rep, text.data);
		if (write_file)
			printf("\nwritten to %s; nothing was applied (run sysctl --system to apply)\n", write_file);
		if (policy_file) {
			printf("\n%s", notes.data ? notes.data : "");
			if (n_values) {
				printf("conntrack section of %s:", policy_file);
				for (size_t i = 0; i < n_values; i++)
					printf(" %s=%lld", values[i].key, values[i].value);
				printf("\n");
			}
			if (n_ports)
				printf("keep_tracked timeouts of %zu port%s into %s\n", n_ports,
				       n_ports == 1 ? "" : "s", policy_file);
			if (!n_values && !n_ports)
				printf("nothing to write to %s\n", policy_file);
			else
				printf("nothing was applied; 'notrackctl diff %s' shows the change, 'notrackctl "
				       "apply %s' makes it\n",
				       policy_file, policy_file);
		}
	}
	strbuf_free(&notes);
	strbuf_free(&text);
	advise_report_free(&rep);
	if (has_kept_by)
		policy_free(&kept_by);
	diag_free(&d);
	return code;
}
