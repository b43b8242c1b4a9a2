/*
 * Bounded top-N counting (topk) and the per-entry aggregation built on it
 * (ct_agg): exact counts while the keys fit, the Space-Saving guarantees
 * once they do not, and the order of ties.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <netinet/in.h>
#include <string.h>

#include "diagnostics/ct_agg.h"
#include "util/topk.h"

static void add_u32(struct topk *t, uint32_t key, unsigned times)
{
	uint8_t k[4];

	k[0] = (uint8_t)(key >> 24);
	k[1] = (uint8_t)(key >> 16);
	k[2] = (uint8_t)(key >> 8);
	k[3] = (uint8_t)key;
	for (unsigned i = 0; i < times; i++)
		topk_add(t, k, sizeof(k));
}

static uint32_t key_u32(const struct topk_item *it)
{
	return (uint32_t)it->key[0] << 24 | (uint32_t)it->key[1] << 16 | (uint32_t)it->key[2] << 8 | it->key[3];
}

static void test_exact_while_it_fits(void **state)
{
	struct topk t;
	struct topk_item top[5];

	(void)state;
	assert_int_equal(topk_init(&t, 100), 0);
	/* key k occurs k times, interleaved, for k = 1..100: exactly fills it */
	for (unsigned round = 1; round <= 100; round++)
		for (uint32_t k = round; k <= 100; k++)
			add_u32(&t, k, 1);
	assert_false(t.overflowed);
	assert_int_equal(t.total, 5050);
	assert_int_equal(topk_top(&t, 5, top), 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(key_u32(&top[i]), 100 - i);
		assert_int_equal(top[i].count, 100 - i);
		assert_int_equal(top[i].error, 0);
	}
	topk_free(&t);
}

static void test_ties_in_key_order(void **state)
{
	struct topk t;
	struct topk_item top[4];

	(void)state;
	assert_int_equal(topk_init(&t, 16), 0);
	add_u32(&t, 30, 2);
	add_u32(&t, 10, 2);
	add_u32(&t, 20, 2);
	add_u32(&t, 5, 1);
	add_u32(&t, 40, 3);
	assert_int_equal(topk_top(&t, 4, top), 4);
	assert_int_equal(key_u32(&top[0]), 40);
	assert_int_equal(key_u32(&top[1]), 10);
	assert_int_equal(key_u32(&top[2]), 20);
	assert_int_equal(key_u32(&top[3]), 30);
	/* asking for more than there is returns what there is */
	struct topk_item all[10];
	assert_int_equal(topk_top(&t, 10, all), 5);
	assert_int_equal(key_u32(&all[4]), 5);
	topk_free(&t);
}

/*
 * 64 counters, a stream of 20000 keys: three heavy hitters (3000, 2000 and
 * 1000 occurrences) among 14000 keys seen once.  Every key above
 * total / capacity = 312.5 must be found, and each reported count c with
 * error e must bracket the real count: c - e <= real <= c.
 */
static void test_space_saving_guarantees(void **state)
{
	struct topk t;
	struct topk_item top[3];
	const uint32_t heavy[3] = {0xaaaa, 0xbbbb, 0xcccc};
	const unsigned real[3] = {3000, 2000, 1000};
	uint32_t noise = 1;

	(void)state;
	assert_int_equal(topk_init(&t, 64), 0);
	/* the heavy keys spread over the stream, between runs of noise */
	for (int chunk = 0; chunk < 1000; chunk++) {
		for (int h = 0; h < 3; h++)
			add_u32(&t, heavy[h], real[h] / 1000);
		for (int i = 0; i < 14; i++)
			add_u32(&t, 0x100000 + noise++, 1);
	}
	assert_int_equal(t.total, 20000);
	assert_true(t.overflowed);
	assert_int_equal(topk_top(&t, 3, top), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(key_u32(&top[i]), heavy[i]);
		assert_true(top[i].count >= real[i]);
		assert_true(top[i].count - top[i].error <= real[i]);
		/* the overestimate is at most total / capacity */
		assert_true(top[i].error <= 20000 / 64);
	}
	topk_free(&t);
}

static struct ct_entry entry(uint8_t proto, const char *src, uint16_t dport, uint8_t tcp_state, uint32_t status)
{
	struct ct_entry e = {.proto = proto, .tcp_state = tcp_state, .status = status};

	e.family = strchr(src, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(e.family, src, e.src), 1);
	e.has_ports = proto != IPPROTO_ICMP;
	e.sport = e.has_ports ? 40000 : 0;
	e.dport = e.has_ports ? dport : 0;
	return e;
}

static void test_agg_counts_and_tops(void **state)
{
	struct ct_agg a;
	struct ct_top_row rows[4];
	char buf[INET6_ADDRSTRLEN];
	struct ct_entry e;

	(void)state;
	assert_int_equal(ct_agg_init(&a, 1024), 0);
	for (int i = 0; i < 5; i++) {
		e = entry(IPPROTO_UDP, "10.0.0.1", 53, CT_TCP_STATE_NONE, 0);
		ct_agg_add(&a, &e);
	}
	for (int i = 0; i < 3; i++) {
		e = entry(IPPROTO_TCP, "10.0.0.2", 443, TCP_CONNTRACK_TIME_WAIT, IPS_SEEN_REPLY | IPS_ASSURED);
		ct_agg_add(&a, &e);
	}
	e = entry(IPPROTO_TCP, "2001:db8::2", 443, TCP_CONNTRACK_ESTABLISHED, IPS_SEEN_REPLY | IPS_ASSURED);
	ct_agg_add(&a, &e);
	e = entry(IPPROTO_UDP, "10.0.0.2", 53, CT_TCP_STATE_NONE, IPS_SEEN_REPLY | IPS_ASSURED);
	ct_agg_add(&a, &e);
	e = entry(IPPROTO_ICMP, "10.0.0.3", 0, CT_TCP_STATE_NONE, IPS_SEEN_REPLY);
	ct_agg_add(&a, &e);

	assert_int_equal(a.total, 11);
	assert_int_equal(a.ipv4, 10);
	assert_int_equal(a.ipv6, 1);
	assert_int_equal(a.proto[IPPROTO_UDP], 6);
	assert_int_equal(a.proto[IPPROTO_TCP], 4);
	assert_int_equal(a.proto[IPPROTO_ICMP], 1);
	assert_int_equal(a.tcp_state[TCP_CONNTRACK_TIME_WAIT], 3);
	assert_int_equal(a.tcp_state[TCP_CONNTRACK_ESTABLISHED], 1);
	assert_int_equal(a.unreplied, 5);
	assert_int_equal(a.udp_unreplied, 5);
	assert_int_equal(a.assured, 5);
	assert_int_equal(a.udp_assured, 1);

	/* sources: 10.0.0.1 x5, 10.0.0.2 x4, then 10.0.0.3 and 2001:db8::2 once
	 * each; IPv4 (family 2) sorts before IPv6 (10) on a tie */
	assert_int_equal(ct_agg_top(&a, CT_TOP_SOURCES, 4, rows), 4);
	assert_string_equal(inet_ntop(rows[0].family, rows[0].addr, buf, sizeof(buf)), "10.0.0.1");
	assert_int_equal(rows[0].count, 5);
	assert_string_equal(inet_ntop(rows[1].family, rows[1].addr, buf, sizeof(buf)), "10.0.0.2");
	assert_int_equal(rows[1].count, 4);
	assert_string_equal(inet_ntop(rows[2].family, rows[2].addr, buf, sizeof(buf)), "10.0.0.3");
	assert_string_equal(inet_ntop(rows[3].family, rows[3].addr, buf, sizeof(buf)), "2001:db8::2");

	/* destination ports count both families; icmp has none: udp/53 x6, tcp/443 x4 */
	assert_int_equal(ct_agg_top(&a, CT_TOP_DPORTS, 4, rows), 2);
	assert_int_equal(rows[0].proto, IPPROTO_UDP);
	assert_int_equal(rows[0].port, 53);
	assert_int_equal(rows[0].count, 6);
	assert_int_equal(rows[1].proto, IPPROTO_TCP);
	assert_int_equal(rows[1].port, 443);
	assert_int_equal(rows[1].count, 4);

	/* pairs: (10.0.0.1, udp/53) x5, (10.0.0.2, tcp/443) x3, then two singles */
	assert_int_equal(ct_agg_top(&a, CT_TOP_PAIRS, 4, rows), 4);
	assert_int_equal(rows[0].count, 5);
	assert_int_equal(rows[0].port, 53);
	assert_int_equal(rows[1].count, 3);
	assert_int_equal(rows[1].port, 443);
	assert_string_equal(inet_ntop(rows[1].family, rows[1].addr, buf, sizeof(buf)), "10.0.0.2");
	/* (10.0.0.2, udp/53) before (2001:db8::2, tcp/443) */
	assert_int_equal(rows[2].proto, IPPROTO_UDP);
	assert_int_equal(rows[3].family, AF_INET6);
	for (int k = 0; k < CT_TOP_KINDS; k++)
		assert_true(ct_agg_top_exact(&a, k));
	ct_agg_free(&a);
}

static void test_agg_counts_only(void **state)
{
	struct ct_agg a;
	struct ct_top_row rows[1];
	struct ct_entry e = entry(IPPROTO_UDP, "10.0.0.1", 53, CT_TCP_STATE_NONE, 0);

	(void)state;
	assert_int_equal(ct_agg_init(&a, 0), 0);
	ct_agg_add(&a, &e);
	assert_int_equal(a.total, 1);
	assert_int_equal(ct_agg_top(&a, CT_TOP_SOURCES, 1, rows), 0);
	ct_agg_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact_while_it_fits),	    cmocka_unit_test(test_ties_in_key_order),
	    cmocka_unit_test(test_space_saving_guarantees), cmocka_unit_test(test_agg_counts_and_tops),
	    cmocka_unit_test(test_agg_counts_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
