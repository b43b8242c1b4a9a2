/* The Prometheus text of a status report (prom.c, metrics.c): escaping,
 * one HELP and TYPE per family with its samples together, and the sums
 * per policy entry and hook that both metrics and status print. */
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

#include "diagnostics/metrics.h"
#include "diagnostics/prom.h"

static void test_escaping(void **state)
{
	_cleanup_strbuf_ struct strbuf sb;
	const char *labels[] = {"a", "x\"y\\z\nw", "b", "", NULL};
	struct prom_out o = {.text = &sb};

	(void)state;
	strbuf_init(&sb);
	prom_family(&o, "t_total", PROM_COUNTER, "back\\slash \"quoted\"\nnewline");
	prom_sample(&o, "t_total", labels, 18446744073709551615ull);
	prom_sample(&o, "t_total", NULL, 0);
	/* HELP escapes backslash and newline only; a label value the quote too */
	assert_string_equal(sb.data, "# HELP t_total back\\\\slash \"quoted\"\\nnewline\n"
				     "# TYPE t_total counter\n"
				     "t_total{a=\"x\\\"y\\\\z\\nw\",b=\"\"} 18446744073709551615\n"
				     "t_total 0\n");
}

static struct owned_object *add(struct owned_list *l, enum owned_kind kind, const char *family, const char *table,
				const char *chain, const char *comment, uint64_t packets)
{
	struct owned_object *o = owned_list_add(l);

	assert_non_null(o);
	o->kind = kind;
	snprintf(o->family, sizeof(o->family), "%s", family);
	snprintf(o->table, sizeof(o->table), "%s", table);
	snprintf(o->chain, sizeof(o->chain), "%s", chain);
	snprintf(o->comment, sizeof(o->comment), "%s", comment);
	o->has_counter = true;
	o->packets = packets;
	o->bytes = packets * 100;
	return o;
}

static void test_sums(void **state)
{
	struct owned_list l = {0};
	struct entry_sums s;

	(void)state;
	/* iptables: one entry split over several rules per chain and family */
	for (int i = 0; i < 3; i++)
		add(&l, OWNED_RULE, "ipv4", "raw", "NOTRACKCTL-PRE", "notrackctl notrack.services[0]", 10);
	add(&l, OWNED_RULE, "ipv6", "raw", "NOTRACKCTL-PRE", "notrackctl notrack.services[0]", 7);
	add(&l, OWNED_RULE, "ipv4", "raw", "NOTRACKCTL-OUT", "notrackctl notrack.services[0]", 5);
	add(&l, OWNED_RULE, "ipv4", "raw", "NOTRACKCTL-PRE", "notrackctl keep_tracked[0]", 2);
	add(&l, OWNED_JUMP, "ipv4", "raw", "PREROUTING", "notrackctl", 999);
	add(&l, OWNED_ACCEPT, "ipv4", "filter", "INPUT", "notrackctl", 4);
	add(&l, OWNED_ACCEPT, "ipv4", "filter", "INPUT", "notrackctl", 1);
	assert_int_equal(metrics_entry_sums(&l, NULL, &s), 0);
	/* sorted by role, family, table, hook, origin; the jump left out */
	assert_int_equal(s.n, 5);
	assert_int_equal(s.v[0].role, OWNED_ROLE_NOTRACK);
	assert_string_equal(s.v[0].family, "ipv4");
	assert_string_equal(s.v[0].hook, "output");
	assert_int_equal(s.v[0].packets, 5);
	assert_string_equal(s.v[1].hook, "prerouting");
	assert_string_equal(s.v[1].origin, "notrack.services[0]");
	assert_int_equal(s.v[1].rules, 3);
	assert_int_equal(s.v[1].packets, 30);
	assert_int_equal(s.v[1].bytes, 3000);
	assert_string_equal(s.v[2].family, "ipv6");
	assert_int_equal(s.v[2].packets, 7);
	assert_int_equal(s.v[3].role, OWNED_ROLE_KEEP);
	assert_int_equal(s.v[4].role, OWNED_ROLE_ACCEPT);
	assert_string_equal(s.v[4].hook, "INPUT");
	assert_int_equal(s.v[4].rules, 2);
	assert_int_equal(s.v[4].packets, 5);
	entry_sums_free(&s);
	owned_list_free(&l);
}

/* metrics --json: the text's families in its order, each with as many
 * samples as the text has lines of it, and the same labels and values. */
static void check_json_like_text(const struct status_report *rep, const struct metrics_info *info, const char *text)
{
	json_t *families, *family, *sample;
	size_t i, j;
	const char *at = text;

	assert_int_equal(metrics_render_json(rep, info, &families), 0);
	json_array_foreach(families, i, family)
	{
		const char *name = json_string_value(json_object_get(family, "name"));
		char head[256], line[512];
		snprintf(head, sizeof(head), "# HELP %s %s\n# TYPE %s %s\n", name,
			 json_string_value(json_object_get(family, "help")), name,
			 json_string_value(json_object_get(family, "type")));
		at = strstr(at, head);
		assert_non_null(at);
		at += strlen(head);
		json_array_foreach(json_object_get(family, "samples"), j, sample)
		{
			json_t *labels = json_object_get(sample, "labels");
			const char *key;
			json_t *value;
			int n = snprintf(line, sizeof(line), "%s", name);
			json_object_foreach(labels, key, value) n +=
			    snprintf(line + n, sizeof(line) - (size_t)n, "%s%s=\"%s\"",
				     json_object_size(labels) && n == (int)strlen(name) ? "{" : ",", key,
				     json_string_value(value));
			snprintf(line + n, sizeof(line) - (size_t)n, "%s %lld\n", json_object_size(labels) ? "}" : "",
				 (long long)json_integer_value(json_object_get(sample, "value")));
			assert_memory_equal(at, line, strlen(line));
			at += strlen(line);
		}
	}
	assert_string_equal(at, ""); /* and nothing else */
	json_decref(families);
}

/* Every family is announced once, before its samples, and a failed
 * section leaves its families out and says so. */
static void test_render(void **state)
{
	struct status_report rep;
	struct metrics_info info = {.backend = "nft", .version = "1.2.3"};
	_cleanup_strbuf_ struct strbuf sb;
	char *p;

	(void)state;
	memset(&rep, 0, sizeof(rep));
	diag_init(&rep.table_err);
	diag_init(&rep.state_err);
	diag_init(&rep.rules_err);
	rep.table.count = 42;
	rep.table.has_max = true;
	rep.table.max = 100;
	rep.generation = 3;
	add(&rep.owned, OWNED_RULE, "inet", "notrackctl", "prerouting", "notrackctl notrack.loopback", 11);
	add(&rep.owned, OWNED_RULE, "inet", "notrackctl", "output", "notrackctl notrack.loopback", 12);
	add(&rep.owned, OWNED_RULE, "inet", "notrackctl", "output", "", 13); /* someone else's */
	diag_fail(&rep.state_err, DIAG_PERMISSION, 13, NULL, "no");
	strbuf_init(&sb);
	assert_int_equal(metrics_render(&rep, &info, &sb), 0);
	assert_non_null(strstr(sb.data, "notrackctl_info{version=\"1.2.3\",backend=\"nft\",table=\"notrackctl\"} 1\n"));
	assert_non_null(strstr(sb.data, "notrackctl_conntrack_entries 42\n"));
	assert_non_null(strstr(sb.data, "notrackctl_conntrack_max 100\n"));
	assert_null(strstr(sb.data, "notrackctl_conntrack_buckets"));
	assert_null(strstr(sb.data, "notrackctl_conntrack_drop_total"));
	assert_non_null(strstr(sb.data, "notrackctl_collector_success{collector=\"state\"} 0\n"));
	assert_null(strstr(sb.data, "notrackctl_generation"));
	p = strstr(sb.data, "# TYPE notrackctl_bypass_packets_total counter\n");
	assert_non_null(p);
	/* the samples follow their TYPE line directly */
	assert_ptr_equal(strchr(p, '\n') + 1, strstr(p, "notrackctl_bypass_packets_total{"));
	assert_non_null(strstr(sb.data, "notrackctl_bypass_packets_total{entry=\"$.notrack.loopback\",hook=\"output\","
					"family=\"inet\"} 12\n"));
	assert_null(strstr(sb.data, "entry=\"$.\""));
	assert_null(strstr(sb.data, "notrackctl_drift"));
	/* each family once */
	for (const char *q = sb.data; (q = strstr(q, "# TYPE ")); q++) {
		char name[128];
		assert_int_equal(sscanf(q, "# TYPE %127s", name), 1);
		char *again = strstr(q + 1, "# TYPE ");
		while (again) {
			char other[128];
			assert_int_equal(sscanf(again, "# TYPE %127s", other), 1);
			assert_string_not_equal(name, other);
			again = strstr(again + 1, "# TYPE ");
		}
	}
	check_json_like_text(&rep, &info, sb.data);
	owned_list_free(&rep.owned);
	diag_free(&rep.state_err);
}

/* The cost must not grow with the table: what metrics reads comes from
 * ctnetlink's count and statistics messages, never from a dump. */
static int no_dump(ct_entry_cb cb, void *data, struct diag *d)
{
	(void)cb;
	(void)data;
	(void)d;
	fail_msg("metrics dumped the conntrack table");
	return -EIO;
}

static int fake_counters(struct ct_counters *out, struct diag *d)
{
	(void)d;
	memset(out, 0, sizeof(*out));
	out->drop = 7;
	out->early_drop = 3;
	out->cpus = 2;
	return 0;
}

static int fake_global(struct ct_global *out, struct diag *d)
{
	(void)d;
	out->count = 262144;
	out->max = 262144;
	out->has_max = true;
	return 0;
}

static void test_no_dump(void **state)
{
	static const struct ct_ops ops = {.dump = no_dump, .counters = fake_counters, .global = fake_global};
	struct status_config cfg = {.ct = &ops, .state_dir = "/nonexistent/notrackctl-test-state"};
	struct metrics_info info = {.version = "t"};
	_cleanup_strbuf_ struct strbuf sb;
	struct status_report rep;

	(void)state;
	strbuf_init(&sb);
	inspect_status(&cfg, &rep);
	assert_int_equal(metrics_render(&rep, &info, &sb), 0);
	assert_non_null(strstr(sb.data, "notrackctl_conntrack_entries 262144\n"));
	assert_non_null(strstr(sb.data, "notrackctl_conntrack_drop_total 7\n"));
	assert_non_null(strstr(sb.data, "notrackctl_conntrack_early_drop_total 3\n"));
	assert_non_null(strstr(sb.data, "notrackctl_generation 0\n"));
	status_report_free(&rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_sums),
	    cmocka_unit_test(test_render),
	    cmocka_unit_test(test_no_dump),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
