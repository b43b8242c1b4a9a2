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
#include "diagnostics/advise_ports.h"
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <netinet/in.h>
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

/* ------------------------------------------------------------------ */
/* per-traffic timeouts                                                 */

static const uint64_t kernel_globals[ADV_TIMEOUTS] = {
    [ADV_TCP_ESTABLISHED] = 432000,
    [ADV_TCP_TIME_WAIT] = 120,
    [ADV_TCP_CLOSE_WAIT] = 60,
    [ADV_TCP_FIN_WAIT] = 120,
    [ADV_TCP_SYN_SENT] = 120,
    [ADV_TCP_SYN_RECV] = 60,
    [ADV_UDP] = 30,
    [ADV_UDP_STREAM] = 120,
};

static struct advise_port_cell *cell(struct advise_ports *p, int udp, uint16_t port)
{
	return &p->cell[udp * 65536 + port];
}

static void test_port_thresholds(void **state)
{
	struct advise_ports p;
	struct advise_port_item out[ADVISE_PORT_MAX];

	(void)state;
	assert_int_equal(advise_ports_init(&p), 0);
	*cell(&p, 0, 8080) = (struct advise_port_cell){.entries = 1000, .nat = 1000, .time_wait = 1000};
	/* 1000 of 5000 is exactly 20 % and exactly 1000 entries: proposed */
	assert_int_equal(advise_port_timeouts(&p, 5000, kernel_globals, out), 1);
	assert_int_equal(out[0].proto, IPPROTO_TCP);
	assert_int_equal(out[0].port, 8080);
	assert_int_equal(out[0].n, 1);
	assert_string_equal(out[0].t[0].key, "time_wait");
	assert_int_equal(out[0].t[0].value, ADVISE_PORT_TIME_WAIT);
	assert_int_equal(out[0].t[0].entries, 1000);
	assert_false(out[0].t[0].pinned);
	/* 1000 of 5001 is under 20 % (100000 < 100020) */
	assert_int_equal(advise_port_timeouts(&p, 5001, kernel_globals, out), 0);
	/* 999 entries are under the minimum, whatever their share */
	cell(&p, 0, 8080)->entries = 999;
	cell(&p, 0, 8080)->time_wait = 999;
	assert_int_equal(advise_port_timeouts(&p, 999, kernel_globals, out), 0);
	advise_ports_free(&p);
}

static void test_port_states_and_pins(void **state)
{
	struct advise_ports p;
	struct advise_port_item out[ADVISE_PORT_MAX];
	uint64_t g[ADV_TIMEOUTS];

	(void)state;
	assert_int_equal(advise_ports_init(&p), 0);
	/* mostly ESTABLISHED: a group, but nothing to shorten */
	*cell(&p, 0, 5432) = (struct advise_port_cell){.entries = 3000, .nat = 3000, .time_wait = 599};
	/* UDP: 800 unreplied and 400 streams of 1200, both >= 20 % */
	*cell(&p, 1, 53) = (struct advise_port_cell){.entries = 1200, .udp_unreplied = 800, .udp_stream = 400};
	assert_int_equal(advise_port_timeouts(&p, 5000, kernel_globals, out), 2);
	/* largest first */
	assert_int_equal(out[0].port, 5432);
	assert_int_equal(out[0].n, 0); /* 599 of 3000 in TIME_WAIT: under 20 % */
	assert_int_equal(out[1].proto, IPPROTO_UDP);
	assert_int_equal(out[1].n, 2);
	assert_string_equal(out[1].t[0].key, "udp");
	assert_int_equal(out[1].t[0].value, ADVISE_PORT_UDP);
	assert_string_equal(out[1].t[1].key, "udp_stream");
	assert_int_equal(out[1].t[1].value, ADVISE_PORT_UDP_STREAM);

	/* a host whose globals are already short gets no proposal; one whose
	 * established is 3600 gets it pinned in the object, which would
	 * otherwise reset it to the built-in 5 days for this traffic */
	memcpy(g, kernel_globals, sizeof(g));
	g[ADV_UDP] = 10;
	g[ADV_UDP_STREAM] = 60;
	assert_int_equal(advise_port_timeouts(&p, 5000, g, out), 2);
	assert_int_equal(out[1].n, 0);
	memset(p.cell, 0, 2 * 65536 * sizeof(*p.cell));
	*cell(&p, 0, 8080) = (struct advise_port_cell){.entries = 2000, .nat = 2000, .time_wait = 1900};
	g[ADV_TCP_ESTABLISHED] = 3600;
	assert_int_equal(advise_port_timeouts(&p, 5000, g, out), 1);
	assert_int_equal(out[0].n, 2);
	assert_string_equal(out[0].t[0].key, "time_wait");
	assert_string_equal(out[0].t[1].key, "established");
	assert_int_equal(out[0].t[1].value, 3600);
	assert_true(out[0].t[1].pinned);
	advise_ports_free(&p);
}

static void entry(struct ct_entry *e, uint8_t proto, uint16_t dport, uint32_t status, uint8_t tcp_state)
{
	memset(e, 0, sizeof(*e));
	e->family = 2; /* AF_INET */
	e->proto = proto;
	e->has_ports = true;
	e->dport = dport;
	e->status = status;
	e->tcp_state = tcp_state;
}

static void parse(const char *text, struct policy *pol)
{
	struct policy_source src = {.file = (char *)"p.json", .text = (char *)text, .len = strlen(text)};
	struct diag d;

	diag_init(&d);
	assert_int_equal(policy_parse(&src, pol, &d), 0);
	diag_free(&d);
}

static void test_port_counting(void **state)
{
	struct advise_ports p;
	struct policy pol;
	struct ct_entry e;

	(void)state;
	parse("{\"version\":1,\"keep_tracked\":[{\"reason\":\"state\",\"proto\":\"udp\",\"ports\":[\"5000-6000\"]},"
	      "{\"reason\":\"state\",\"proto\":\"tcp\",\"ports\":[7000],\"peers\":[\"10.0.0.0/8\"]}]}",
	      &pol);
	assert_int_equal(advise_ports_init(&p), 0);
	/* DNATed: counted (only the NAT bits that say a tuple changed count) */
	entry(&e, IPPROTO_TCP, 8080, IPS_DST_NAT | IPS_DST_NAT_DONE | IPS_SRC_NAT_DONE, TCP_CONNTRACK_TIME_WAIT);
	advise_ports_add(&p, &pol, &e);
	entry(&e, IPPROTO_TCP, 8080, IPS_DST_NAT_DONE | IPS_SRC_NAT_DONE, TCP_CONNTRACK_TIME_WAIT);
	advise_ports_add(&p, &pol, &e);
	/* kept by the policy's udp range: counted; an assured one as a stream */
	entry(&e, IPPROTO_UDP, 5353, 0, 0);
	advise_ports_add(&p, &pol, &e);
	entry(&e, IPPROTO_UDP, 5353, IPS_ASSURED | IPS_SEEN_REPLY, 0);
	advise_ports_add(&p, &pol, &e);
	/* kept only for some peers: the table cannot tell which, not counted */
	entry(&e, IPPROTO_TCP, 7000, 0, TCP_CONNTRACK_TIME_WAIT);
	advise_ports_add(&p, &pol, &e);
	assert_int_equal(p.counted, 3);
	assert_int_equal(cell(&p, 0, 8080)->entries, 1);
	assert_int_equal(cell(&p, 0, 8080)->nat, 1);
	assert_int_equal(cell(&p, 0, 8080)->time_wait, 1);
	assert_int_equal(cell(&p, 1, 5353)->entries, 2);
	assert_int_equal(cell(&p, 1, 5353)->udp_unreplied, 1);
	assert_int_equal(cell(&p, 1, 5353)->udp_stream, 1);
	assert_int_equal(cell(&p, 0, 7000)->entries, 0);
	advise_ports_free(&p);
	policy_free(&pol);
}

static struct advise_port_item tw_item(uint16_t port)
{
	struct advise_port_item it = {.proto = IPPROTO_TCP, .port = port, .total = 4000, .share_percent = 50, .n = 1};

	it.c = (struct advise_port_cell){.entries = 2000, .nat = 2000, .time_wait = 1900};
	it.t[0].key = "time_wait";
	it.t[0].value = 10;
	it.t[0].entries = 1900;
	return it;
}

static void test_port_merge(void **state)
{
	const char *text =
	    "{\"version\":1,\"keep_tracked\":["
	    "{\"reason\":\"nat\",\"proto\":\"tcp\",\"ports\":[8080],\"timeouts\":{\"established\":600}},"
	    "{\"reason\":\"nat\",\"proto\":\"tcp\",\"ports\":[\"9000-9100\"],\"timeouts\":{\"time_wait\":30}},"
	    "{\"reason\":\"nat\",\"proto\":\"tcp\",\"ports\":[9050],\"timeouts\":{\"time_wait\":5}},"
	    "{\"reason\":\"nat\",\"proto\":\"tcp\",\"ports\":[443],\"role\":\"service\"}]}";
	struct advise_port_item items[3] = {tw_item(8080), tw_item(9050), tw_item(443)};
	struct policy pol;
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr), *keep;
	struct strbuf notes;

	(void)state;
	parse(text, &pol);
	strbuf_init(&notes);
	/* 8080: into entry 0, which keeps its established; 9050: entry 1
	 * decides first, left alone; 443: a new entry, as entry 3 is only for
	 * arriving packets (role service) */
	assert_int_equal(advise_ports_merge(root, &pol, items, 3, &notes), 2);
	keep = json_object_get(root, "keep_tracked");
	assert_int_equal(json_array_size(keep), 5);
	assert_null(json_object_get(json_array_get(keep, 3), "timeouts"));
	json_t *t0 = json_object_get(json_array_get(keep, 0), "timeouts");
	assert_int_equal(json_integer_value(json_object_get(t0, "time_wait")), 10);
	assert_int_equal(json_integer_value(json_object_get(t0, "established")), 600);
	json_t *t2 = json_object_get(json_array_get(keep, 2), "timeouts");
	assert_int_equal(json_integer_value(json_object_get(t2, "time_wait")), 5);
	json_t *e3 = json_array_get(keep, 4);
	assert_string_equal(json_string_value(json_object_get(e3, "reason")), "nat");
	assert_int_equal(json_integer_value(json_array_get(json_object_get(e3, "ports"), 0)), 443);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(e3, "timeouts"), "time_wait")), 10);
	assert_non_null(strstr(notes.data, "tcp/9050: 2000 of 4000 entries (50.0 %), 2000 NATed; 1900 in TIME_WAIT, 0 "
					   "in CLOSE: left alone, $.keep_tracked[1] sets timeouts for it first"));
	assert_non_null(strstr(notes.data, "timeouts into $.keep_tracked[0]: time_wait=10"));
	assert_non_null(strstr(notes.data, "new $.keep_tracked[4] with timeouts: time_wait=10"));
	strbuf_free(&notes);
	json_decref(root);
	policy_free(&pol);
}

static void test_port_merge_untracked(void **state)
{
	/* a router: its own 443 untracked, its LAN's 443 masqueraded */
	const char *text = "{\"version\":1,\"notrack\":{\"services\":[{\"proto\":\"tcp\",\"ports\":[443],"
			   "\"addresses\":[\"192.0.2.1\"]}]}}";
	struct advise_port_item items[1] = {tw_item(443)};
	struct policy pol;
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr);
	struct strbuf notes;

	(void)state;
	parse(text, &pol);
	strbuf_init(&notes);
	assert_int_equal(advise_ports_merge(root, &pol, items, 1, &notes), 0);
	assert_null(json_object_get(root, "keep_tracked"));
	assert_non_null(strstr(notes.data, "left alone, $.notrack.services[0] untracks tcp/443 too"));
	strbuf_free(&notes);
	json_decref(root);
	policy_free(&pol);
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
	    cmocka_unit_test(test_port_thresholds),
	    cmocka_unit_test(test_port_states_and_pins),
	    cmocka_unit_test(test_port_counting),
	    cmocka_unit_test(test_port_merge),
	    cmocka_unit_test(test_port_merge_untracked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
