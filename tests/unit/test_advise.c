/*
 * The advice arithmetic against values computed by hand: the kernel's
 * default hash size for several RAM sizes, the sizing rules for several RAM
 * and slab sizes, the memory formula, the status thresholds and the timeout
 * advice.  Each expected number is worked out in the comment above it.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "diagnostics/advise.h"
#include "util/strbuf.h"
#include "engine/ct_sysctl.h"

#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)

static void test_kernel_default_buckets(void **state)
{
	(void)state;
	/* RAM / 16384 / 8: 64 MiB -> 512, raised to the minimum of 1024 */
	assert_int_equal(advise_kernel_default_buckets(64 * MIB), 1024);
	/* 512 MiB = 536870912 / 131072 = 4096 */
	assert_int_equal(advise_kernel_default_buckets(512 * MIB), 4096);
	/* exactly 1 GiB is not above 1 GiB: 1073741824 / 131072 = 8192 */
	assert_int_equal(advise_kernel_default_buckets(GIB), 8192);
	/* above 1 GiB: 65536 */
	assert_int_equal(advise_kernel_default_buckets(GIB + 4096), 65536);
	assert_int_equal(advise_kernel_default_buckets(2 * GIB), 65536);
	/* exactly 4 GiB is not above 4 GiB */
	assert_int_equal(advise_kernel_default_buckets(4 * GIB), 65536);
	/* above 4 GiB: 262144, as on this 24 GiB VM */
	assert_int_equal(advise_kernel_default_buckets(4 * GIB + 4096), 262144);
	assert_int_equal(advise_kernel_default_buckets(24 * GIB), 262144);
}

static void test_memory_formula(void **state)
{
	(void)state;
	/* 262144 x 256 + 262144 x 8 = 67108864 + 2097152 = 69206016 (66.0 MiB) */
	assert_int_equal(advise_memory(262144, 262144, 256), 69206016);
	/* 65536 x 352 + 16384 x 8 = 23068672 + 131072 = 23199744 */
	assert_int_equal(advise_memory(65536, 16384, 352), 23199744);
	assert_int_equal(advise_memory(0, 0, 256), 0);
}

/* 2 GiB, 256-byte entries, a peak of 30000 in a table of 65536: enough. */
static void test_sizes_enough_room(void **state)
{
	struct advise_input in = {
	    .ram = 2 * GIB, .objsize = 256, .count = 10000, .peak = 30000, .max = 65536, .buckets = 65536};
	struct advise_sizes s;

	(void)state;
	advise_sizes(&in, &s);
	assert_int_equal(s.kernel_default, 65536);
	assert_int_equal(s.demand, 30000);
	/* 2 x 30000 = 60000 -> next power of two 65536 */
	assert_int_equal(s.target, 65536);
	/* 2147483648 / 16 / (256 + 8) = 508400 -> largest power of two below: 262144 */
	assert_int_equal(s.cap, 262144);
	assert_int_equal(s.max, 65536);
	assert_int_equal(s.buckets, 65536);
	assert_false(s.change);
	assert_false(s.capped);
	assert_false(s.table_was_full);
	/* 65536 x 256 + 65536 x 8 = 16777216 + 524288 */
	assert_int_equal(s.memory, 17301504);
	assert_int_equal(s.memory_now, 17301504);
}

/* 8 GiB, 320-byte entries, 200000 entries now in 262144: grow. */
static void test_sizes_grow(void **state)
{
	struct advise_input in = {.ram = 8 * GIB, .objsize = 320, .count = 200000, .max = 262144, .buckets = 262144};
	struct advise_sizes s;

	(void)state;
	advise_sizes(&in, &s);
	assert_int_equal(s.kernel_default, 262144);
	/* no peak given: the count is the demand */
	assert_int_equal(s.demand, 200000);
	/* 400000 -> 524288 */
	assert_int_equal(s.target, 524288);
	/* 8589934592 / 16 / 328 = 1636801 -> 1048576 */
	assert_int_equal(s.cap, 1048576);
	assert_int_equal(s.max, 524288);
	assert_int_equal(s.buckets, 524288);
	assert_true(s.change);
	assert_false(s.capped);
	/* 524288 x 320 + 524288 x 8 = 167772160 + 4194304 */
	assert_int_equal(s.memory, 171966464);
	/* 262144 x 320 + 262144 x 8 = 83886080 + 2097152 */
	assert_int_equal(s.memory_now, 85983232);
}

/* 1 GiB, the 352-byte default, and the kernel dropped packets: the demand
 * was at least the old max. */
static void test_sizes_after_overflow(void **state)
{
	struct advise_input in = {
	    .ram = GIB, .objsize = 352, .count = 7000, .peak = 7000, .max = 8192, .buckets = 8192, .drops = 12};
	struct advise_sizes s;

	(void)state;
	advise_sizes(&in, &s);
	assert_int_equal(s.kernel_default, 8192);
	assert_true(s.table_was_full);
	assert_int_equal(s.demand, 8192);
	/* 2 x 8192 = 16384, already a power of two */
	assert_int_equal(s.target, 16384);
	/* 1073741824 / 16 / 360 = 186413 -> 131072 */
	assert_int_equal(s.cap, 131072);
	assert_int_equal(s.max, 16384);
	assert_int_equal(s.buckets, 16384);
	assert_true(s.change);
	/* 16384 x 352 + 16384 x 8 = 5767168 + 131072 */
	assert_int_equal(s.memory, 5898240);
}

/* 256 MiB cannot hold twice a peak of 150000: capped, and the admin's
 * larger max is kept rather than lowered to the cap. */
static void test_sizes_capped(void **state)
{
	struct advise_input in = {.ram = 256 * MIB,
				  .objsize = 256,
				  .count = 100000,
				  .peak = 150000,
				  .max = 65536,
				  .buckets = 2048,
				  .drops = 5};
	struct advise_sizes s;

	(void)state;
	advise_sizes(&in, &s);
	/* 268435456 / 131072 = 2048 */
	assert_int_equal(s.kernel_default, 2048);
	/* the peak is above the old max, so the peak stands */
	assert_int_equal(s.demand, 150000);
	/* 300000 -> 524288 */
	assert_int_equal(s.target, 524288);
	/* 268435456 / 16 / 264 = 63550 -> 32768 */
	assert_int_equal(s.cap, 32768);
	assert_true(s.capped);
	assert_int_equal(s.max, 65536);
	/* the buckets still grow to one per entry */
	assert_int_equal(s.buckets, 65536);
	assert_true(s.change);
	/* 65536 x 256 + 65536 x 8 */
	assert_int_equal(s.memory, 17301504);
	/* 65536 x 256 + 2048 x 8 = 16777216 + 16384 */
	assert_int_equal(s.memory_now, 16793600);
}

/* More buckets than entries are kept: shrinking them saves little and
 * lengthens chains. */
static void test_sizes_keep_larger_buckets(void **state)
{
	struct advise_input in = {.ram = 16 * GIB, .objsize = 256, .count = 10, .max = 65536, .buckets = 262144};
	struct advise_sizes s;

	(void)state;
	advise_sizes(&in, &s);
	/* 2 x 10 = 20 -> 32 */
	assert_int_equal(s.target, 32);
	assert_int_equal(s.max, 65536);
	assert_int_equal(s.buckets, 262144);
	assert_false(s.change);
}

static void test_table_health(void **state)
{
	struct table_health h;

	(void)state;
	/* 80 % of 262144 is 209715.2: 209715 is below, 209716 is at or above */
	advise_table_health(209715, 262144, 0, 0, &h);
	assert_false(h.warn_full);
	advise_table_health(209716, 262144, 0, 0, &h);
	assert_true(h.warn_full);
	/* 75 % of 262144 buckets is exactly 196608: warn only above it */
	advise_table_health(196608, 0, 262144, 0, &h);
	assert_false(h.warn_chains);
	advise_table_health(196609, 0, 262144, 0, &h);
	assert_true(h.warn_chains);
	/* 131072 of 262144 is 50.0 % */
	advise_table_health(131072, 262144, 262144, 1, &h);
	assert_true(h.use_percent > 49.999 && h.use_percent < 50.001);
	assert_true(h.warn_drops);
	assert_false(h.warn_full);
	/* unknown max and buckets: no percentages, no warnings */
	advise_table_health(5, 0, 0, 0, &h);
	assert_false(h.warn_full || h.warn_chains || h.warn_drops);
	assert_true(h.use_percent == 0.0);
}

static void defaults(uint64_t current[ADV_TIMEOUTS])
{
	for (int t = 0; t < ADV_TIMEOUTS; t++)
		current[t] = advise_timeout_default(t);
}

static void test_timeouts_under_pressure(void **state)
{
	struct advise_mix mix = {.total = 1000, .pressure = true};
	struct advise_timeout_item items[ADV_TIMEOUTS];
	uint64_t current[ADV_TIMEOUTS];
	size_t n;

	(void)state;
	defaults(current);
	mix.entries[ADV_TCP_TIME_WAIT] = 600;	/* 60 %: change */
	mix.entries[ADV_TCP_ESTABLISHED] = 250; /* 25 %: change */
	mix.entries[ADV_UDP] = 100;		/* 10 %: mentioned, below the 20 % to change */
	mix.entries[ADV_TCP_SYN_SENT] = 40;	/* 4 %: not mentioned */
	mix.entries[ADV_TCP_CLOSE_WAIT] = 10;	/* 1 %: not mentioned */
	n = advise_timeouts(&mix, current, items);
	assert_int_equal(n, 3);
	/* in enum order */
	assert_int_equal(items[0].which, ADV_TCP_ESTABLISHED);
	assert_true(items[0].change);
	assert_int_equal(items[0].current, 432000);
	assert_int_equal(items[0].recommended, 86400);
	assert_true(items[0].share_percent > 24.999 && items[0].share_percent < 25.001);
	assert_int_equal(items[1].which, ADV_TCP_TIME_WAIT);
	assert_true(items[1].change);
	assert_int_equal(items[1].current, 120);
	assert_int_equal(items[1].recommended, 60);
	assert_int_equal(items[2].which, ADV_UDP);
	assert_false(items[2].change);
	assert_int_equal(items[2].recommended, 30);
	/* every item says what could break and why the default is what it is */
	for (size_t i = 0; i < n; i++)
		assert_true(items[i].risk && *items[i].risk && items[i].why_default && *items[i].why_default);
	assert_string_equal(advise_timeout_sysctl(ADV_TCP_TIME_WAIT), "nf_conntrack_tcp_timeout_time_wait");
}

/* The recommendation as a policy's conntrack section: keys the parser
 * knows, within its ranges, max and buckets first, then each change. */
static void test_policy_values(void **state)
{
	struct advise_mix mix = {.total = 1000, .pressure = true};
	struct advise_timeout_item items[ADV_TIMEOUTS];
	struct advise_sizes sizes = {.max = 524288, .buckets = 131072};
	struct ct_value v[ADVISE_POLICY_VALUES];
	uint64_t current[ADV_TIMEOUTS];
	size_t n, k;

	(void)state;
	defaults(current);
	mix.entries[ADV_TCP_TIME_WAIT] = 600;
	mix.entries[ADV_UDP] = 100; /* mentioned, not changed: not in the section */
	n = advise_timeouts(&mix, current, items);
	k = advise_policy_values(&sizes, items, n, v);
	assert_int_equal(k, 3);
	assert_string_equal(v[0].key, "max");
	assert_int_equal(v[0].value, 524288);
	assert_string_equal(v[1].key, "buckets");
	assert_int_equal(v[1].value, 131072);
	assert_string_equal(v[2].key, "tcp_timeout_time_wait");
	assert_int_equal(v[2].value, 60);
	assert_string_equal(v[2].path, "$.conntrack.tcp_timeout_time_wait");
	for (size_t i = 0; i < k; i++) {
		const struct ct_key *key = ct_sysctl_key(v[i].key);
		assert_non_null(key);
		assert_true(v[i].value >= key->min && v[i].value <= key->max);
	}
}

static void test_timeouts_no_pressure_or_already_short(void **state)
{
	struct advise_mix mix = {.total = 1000, .pressure = false};
	struct advise_timeout_item items[ADV_TIMEOUTS];
	uint64_t current[ADV_TIMEOUTS];
	size_t n;

	(void)state;
	defaults(current);
	mix.entries[ADV_TCP_TIME_WAIT] = 1000;
	n = advise_timeouts(&mix, current, items);
	assert_int_equal(n, 1);
	assert_false(items[0].change);
	/* under pressure, but already shorter than we would recommend */
	mix.pressure = true;
	current[ADV_TCP_TIME_WAIT] = 30;
	n = advise_timeouts(&mix, current, items);
	assert_int_equal(n, 1);
	assert_false(items[0].change);
	assert_int_equal(items[0].recommended, 30);
	/* exactly 20 % is enough to change; 5 % exactly is mentioned */
	current[ADV_TCP_TIME_WAIT] = 120;
	mix.entries[ADV_TCP_TIME_WAIT] = 200;
	mix.entries[ADV_UDP_STREAM] = 50;
	n = advise_timeouts(&mix, current, items);
	assert_int_equal(n, 2);
	assert_true(items[0].change);
	assert_int_equal(items[1].which, ADV_UDP_STREAM);
	assert_false(items[1].change);
	/* an empty table: nothing to say */
	mix.total = 0;
	assert_int_equal(advise_timeouts(&mix, current, items), 0);
}

static void test_render_sysctl(void **state)
{
	struct advise_input in = {.ram = 8 * GIB, .objsize = 320, .count = 200000, .max = 262144, .buckets = 262144};
	struct advise_mix mix = {.total = 1000, .pressure = true};
	struct advise_timeout_item items[ADV_TIMEOUTS];
	uint64_t current[ADV_TIMEOUTS];
	struct advise_sizes s;
	_cleanup_strbuf_ struct strbuf sb;
	size_t n;

	(void)state;
	defaults(current);
	mix.entries[ADV_TCP_TIME_WAIT] = 700;
	advise_sizes(&in, &s);
	n = advise_timeouts(&mix, current, items);
	strbuf_init(&sb);
	assert_int_equal(advise_render_sysctl(&s, 320, items, n, "2025-01-01 00:00 UTC", &sb), 0);
	assert_non_null(strstr(sb.data, "\nnet.netfilter.nf_conntrack_max = 524288\n"));
	assert_non_null(strstr(sb.data, "\nnet.netfilter.nf_conntrack_buckets = 524288\n"));
	assert_non_null(strstr(sb.data, "\nnet.netfilter.nf_conntrack_tcp_timeout_time_wait = 60\n"));
	assert_non_null(strstr(sb.data, "echo 524288 > /sys/module/nf_conntrack/parameters/hashsize"));
	assert_non_null(strstr(sb.data, "options nf_conntrack hashsize=524288"));
	/* every line is a comment, blank, or key = value: sysctl --system reads it */
	for (char *line = sb.data; *line;) {
		char *end = strchr(line, '\n');
		assert_non_null(end);
		if (end > line && *line != '#')
			assert_non_null(strstr(line, " = "));
		line = end + 1;
	}
}

static void test_format_bytes(void **state)
{
	char buf[32];

	(void)state;
	advise_format_bytes(512, buf, sizeof(buf));
	assert_string_equal(buf, "512 B");
	advise_format_bytes(69206016, buf, sizeof(buf));
	assert_string_equal(buf, "66.0 MiB");
	advise_format_bytes(3 * GIB / 2, buf, sizeof(buf));
	assert_string_equal(buf, "1.5 GiB");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kernel_default_buckets),
	    cmocka_unit_test(test_memory_formula),
	    cmocka_unit_test(test_sizes_enough_room),
	    cmocka_unit_test(test_sizes_grow),
	    cmocka_unit_test(test_sizes_after_overflow),
	    cmocka_unit_test(test_sizes_capped),
	    cmocka_unit_test(test_sizes_keep_larger_buckets),
	    cmocka_unit_test(test_table_health),
	    cmocka_unit_test(test_timeouts_under_pressure),
	    cmocka_unit_test(test_timeouts_no_pressure_or_already_short),
	    cmocka_unit_test(test_render_sysctl),
	    cmocka_unit_test(test_policy_values),
	    cmocka_unit_test(test_format_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
