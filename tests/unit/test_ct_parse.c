/*
 * What the diagnostics read, without a kernel: ctnetlink messages built
 * here with libmnl the way the kernel lays them out, the procfs texts, and
 * the top operation driven through a stand-in struct ct_ops.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <string.h>

#include "diagnostics/ct_dump.h"
#include "diagnostics/ct_proc.h"
#include "diagnostics/inspect.h"

static char buf[8192];

static struct nlmsghdr *start(uint8_t msg, uint8_t family)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | msg;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	return nlh;
}

/* CTA_TUPLE_ORIG (or another tuple) as the kernel nests it. */
static void put_tuple(struct nlmsghdr *nlh, uint16_t type, uint8_t family, const char *src, const char *dst,
		      uint8_t proto, uint16_t sport, uint16_t dport, size_t addr_len_override)
{
	uint8_t s[16], d[16];
	size_t len = family == AF_INET ? 4 : 16;
	struct nlattr *tuple, *ip, *pr;

	assert_int_equal(inet_pton(family, src, s), 1);
	assert_int_equal(inet_pton(family, dst, d), 1);
	if (addr_len_override)
		len = addr_len_override;
	tuple = mnl_attr_nest_start(nlh, type);
	ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	mnl_attr_put(nlh, family == AF_INET ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, len, s);
	mnl_attr_put(nlh, family == AF_INET ? CTA_IP_V4_DST : CTA_IP_V6_DST, len, d);
	mnl_attr_nest_end(nlh, ip);
	pr = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, proto);
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(sport));
		mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(dport));
	} else if (proto == IPPROTO_ICMP) {
		mnl_attr_put_u16(nlh, CTA_PROTO_ICMP_ID, htons(7));
		mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_TYPE, 8);
		mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_CODE, 0);
	}
	mnl_attr_nest_end(nlh, pr);
	mnl_attr_nest_end(nlh, tuple);
}

static void put_tcp_state(struct nlmsghdr *nlh, uint8_t state)
{
	struct nlattr *pi = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
	struct nlattr *tcp = mnl_attr_nest_start(nlh, CTA_PROTOINFO_TCP);

	mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_STATE, state);
	mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, 7);
	mnl_attr_nest_end(nlh, tcp);
	mnl_attr_nest_end(nlh, pi);
}

static void test_parse_tcp_v4(void **state)
{
	struct nlmsghdr *nlh = start(IPCTNL_MSG_CT_NEW, AF_INET);
	struct ct_entry e;
	char a[INET6_ADDRSTRLEN];

	(void)state;
	put_tuple(nlh, CTA_TUPLE_ORIG, AF_INET, "192.0.2.1", "10.0.0.5", IPPROTO_TCP, 40000, 443, 0);
	/* the reply tuple is reversed; it must not be taken for the original */
	put_tuple(nlh, CTA_TUPLE_REPLY, AF_INET, "10.0.0.5", "192.0.2.1", IPPROTO_TCP, 443, 40000, 0);
	mnl_attr_put_u32(nlh, CTA_STATUS, htonl(IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED));
	mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(119));
	put_tcp_state(nlh, TCP_CONNTRACK_TIME_WAIT);
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(0));

	assert_int_equal(ct_parse_entry(nlh, &e), 0);
	assert_int_equal(e.family, AF_INET);
	assert_int_equal(e.proto, IPPROTO_TCP);
	assert_true(e.has_ports);
	assert_string_equal(inet_ntop(AF_INET, e.src, a, sizeof(a)), "192.0.2.1");
	assert_string_equal(inet_ntop(AF_INET, e.dst, a, sizeof(a)), "10.0.0.5");
	assert_int_equal(e.sport, 40000);
	assert_int_equal(e.dport, 443);
	assert_int_equal(e.tcp_state, TCP_CONNTRACK_TIME_WAIT);
	assert_int_equal(e.status, IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED);
	assert_string_equal(ct_tcp_state_name(e.tcp_state), "TIME_WAIT");
}

static void test_parse_udp_v6_and_icmp(void **state)
{
	struct nlmsghdr *nlh = start(IPCTNL_MSG_CT_NEW, AF_INET6);
	struct ct_entry e;
	char a[INET6_ADDRSTRLEN];

	(void)state;
	put_tuple(nlh, CTA_TUPLE_ORIG, AF_INET6, "2001:db8::1", "2001:db8::53", IPPROTO_UDP, 5353, 53, 0);
	assert_int_equal(ct_parse_entry(nlh, &e), 0);
	assert_int_equal(e.family, AF_INET6);
	assert_string_equal(inet_ntop(AF_INET6, e.src, a, sizeof(a)), "2001:db8::1");
	assert_int_equal(e.dport, 53);
	assert_int_equal(e.tcp_state, CT_TCP_STATE_NONE);
	assert_int_equal(e.status, 0); /* no CTA_STATUS: nothing seen */

	nlh = start(IPCTNL_MSG_CT_NEW, AF_INET);
	put_tuple(nlh, CTA_TUPLE_ORIG, AF_INET, "192.0.2.1", "10.0.0.5", IPPROTO_ICMP, 0, 0, 0);
	assert_int_equal(ct_parse_entry(nlh, &e), 0);
	assert_int_equal(e.proto, IPPROTO_ICMP);
	assert_false(e.has_ports);
	assert_int_equal(e.sport, 0);
	assert_int_equal(e.dport, 0);
}

static void test_parse_refuses_damaged(void **state)
{
	struct nlmsghdr *nlh;
	struct ct_entry e;

	(void)state;
	/* no original tuple */
	nlh = start(IPCTNL_MSG_CT_NEW, AF_INET);
	mnl_attr_put_u32(nlh, CTA_STATUS, htonl(IPS_CONFIRMED));
	assert_int_equal(ct_parse_entry(nlh, &e), -EINVAL);
	/* a 3-byte IPv4 address */
	nlh = start(IPCTNL_MSG_CT_NEW, AF_INET);
	put_tuple(nlh, CTA_TUPLE_ORIG, AF_INET, "192.0.2.1", "10.0.0.5", IPPROTO_UDP, 1, 2, 3);
	assert_int_equal(ct_parse_entry(nlh, &e), -EINVAL);
	/* a family the table does not hold */
	nlh = start(IPCTNL_MSG_CT_NEW, AF_UNSPEC);
	assert_int_equal(ct_parse_entry(nlh, &e), -EINVAL);
	/* shorter than the nfgenmsg header */
	nlh = mnl_nlmsg_put_header(buf);
	assert_int_equal(ct_parse_entry(nlh, &e), -EINVAL);
}

static void test_parse_counters(void **state)
{
	struct ct_counters sum = {0};
	struct nlmsghdr *nlh;

	(void)state;
	for (uint32_t cpu = 0; cpu < 2; cpu++) {
		nlh = start(IPCTNL_MSG_CT_GET_STATS_CPU, AF_UNSPEC);
		mnl_attr_put_u32(nlh, CTA_STATS_FOUND, htonl(100 + cpu));
		mnl_attr_put_u32(nlh, CTA_STATS_INSERT, htonl(1000));
		mnl_attr_put_u32(nlh, CTA_STATS_INSERT_FAILED, htonl(3));
		mnl_attr_put_u32(nlh, CTA_STATS_DROP, htonl(cpu ? 310 : 0));
		mnl_attr_put_u32(nlh, CTA_STATS_EARLY_DROP, htonl(7));
		mnl_attr_put_u32(nlh, CTA_STATS_CHAIN_TOOLONG, htonl(cpu));
		assert_int_equal(ct_parse_counters(nlh, &sum), 0);
	}
	assert_int_equal(sum.cpus, 2);
	assert_int_equal(sum.found, 201);
	assert_int_equal(sum.insert, 2000);
	assert_int_equal(sum.insert_failed, 6);
	assert_int_equal(sum.drop, 310);
	assert_int_equal(sum.early_drop, 14);
	assert_int_equal(sum.chaintoolong, 1);
	assert_int_equal(sum.invalid, 0);
}

/* The layout of this VM's kernel (6.18), with counts filled in. */
static const char stat_text[] =
    "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  "
    "expect_new expect_create expect_delete search_restart\n"
    "00040000  00000001 0000000a 00000000 00000002 00000000 00000000 00000000 000003e8 00000003 00000136 00000007 "
    "00000000  00000000 00000000 00000000 00000004\n"
    "00040000  00000000 00000005 00000000 00000001 00000000 00000000 00000002 000003e8 00000000 00000000 00000001 "
    "00000009  00000000 00000000 00000000 00000000\n";

static void test_proc_stat(void **state)
{
	struct ct_counters c;

	(void)state;
	assert_int_equal(ct_proc_parse_stat(stat_text, &c), 0);
	assert_int_equal(c.cpus, 2);
	assert_int_equal(c.found, 15);
	assert_int_equal(c.invalid, 3);
	assert_int_equal(c.insert, 2000);
	assert_int_equal(c.insert_failed, 3);
	assert_int_equal(c.drop, 310);
	assert_int_equal(c.early_drop, 8);
	assert_int_equal(c.error, 9);
	assert_int_equal(c.search_restart, 4);
	assert_int_equal(c.clash_resolve, 1);
	assert_int_equal(c.chaintoolong, 2);
	/* an older layout with other columns: found by name */
	assert_int_equal(ct_proc_parse_stat("entries searched found drop\n00000001 00000010 00000002 00000001\n", &c),
			 0);
	assert_int_equal(c.found, 2);
	assert_int_equal(c.drop, 1);
	/* damaged: a short row, a non-hex value, no rows */
	assert_int_equal(ct_proc_parse_stat("entries drop\n00000001\n", &c), -EINVAL);
	assert_int_equal(ct_proc_parse_stat("entries drop\n00000001 zz\n", &c), -EINVAL);
	assert_int_equal(ct_proc_parse_stat("entries drop\n", &c), -EINVAL);
	assert_int_equal(ct_proc_parse_stat("", &c), -EINVAL);
}

static void test_proc_slab(void **state)
{
	static const char slab[] =
	    "slabinfo - version: 2.1\n"
	    "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables ...\n"
	    "nf_conntrack_expect      0      0    208   19    1 : tunables    0    0    0 : slabdata      0      0     "
	    " 0\n"
	    "nf_conntrack          96    160    256   16    1 : tunables    0    0    0 : slabdata     10     10      "
	    "0\n";
	uint64_t size = 0;

	(void)state;
	assert_int_equal(ct_proc_parse_slab(slab, "nf_conntrack", &size), 0);
	assert_int_equal(size, 256);
	assert_int_equal(ct_proc_parse_slab(slab, "nf_conntrack_expect", &size), 0);
	assert_int_equal(size, 208);
	assert_int_equal(ct_proc_parse_slab(slab, "nf_conn", &size), -ENOENT);
	assert_int_equal(ct_proc_parse_slab("nf_conntrack x y z\n", "nf_conntrack", &size), -EINVAL);
}

/* ------------------------------------------------------------------ */
/* inspect_top through a stand-in for the kernel                        */

static int fake_dump(ct_entry_cb cb, void *data, struct diag *d)
{
	static const struct {
		uint8_t proto;
		const char *src;
		const char *dst;
		uint16_t dport;
		unsigned times;
	} flows[] = {
	    {IPPROTO_TCP, "127.0.0.1", "127.0.0.1", 8080, 3000},  /* loopback */
	    {IPPROTO_TCP, "192.0.2.1", "198.51.100.1", 80, 1000}, /* forwarded */
	    {IPPROTO_UDP, "192.0.2.9", "127.0.0.1", 53, 500},
	};

	(void)d;
	for (size_t f = 0; f < sizeof(flows) / sizeof(flows[0]); f++) {
		for (unsigned i = 0; i < flows[f].times; i++) {
			struct ct_entry e = {.family = AF_INET, .proto = flows[f].proto, .has_ports = true};
			inet_pton(AF_INET, flows[f].src, e.src);
			inet_pton(AF_INET, flows[f].dst, e.dst);
			e.sport = (uint16_t)(10000 + i);
			e.dport = flows[f].dport;
			e.tcp_state = flows[f].proto == IPPROTO_TCP ? TCP_CONNTRACK_ESTABLISHED : CT_TCP_STATE_NONE;
			int r = cb(&e, data);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int fake_counters(struct ct_counters *out, struct diag *d)
{
	(void)d;
	memset(out, 0, sizeof(*out));
	out->cpus = 1;
	return 0;
}

static int fake_global(struct ct_global *out, struct diag *d)
{
	(void)d;
	*out = (struct ct_global){.count = 4500, .max = 262144, .has_max = true};
	return 0;
}

static const struct ct_ops fake_ops = {fake_dump, fake_counters, fake_global};

static uint64_t progress_calls, progress_last;

static void on_progress(uint64_t done, uint64_t expected, void *ctx)
{
	(void)ctx;
	assert_int_equal(expected, 4500);
	assert_true(done >= progress_last);
	progress_last = done;
	progress_calls++;
}

static void test_inspect_top(void **state)
{
	/* a ruleset by hand: output, oifname lo, notrack (as loopback: true compiles) */
	struct rule rule = {.hook = HOOK_OUTPUT,
			    .verdict = VERDICT_NOTRACK,
			    .family = FAMILY_BOTH,
			    .has_ifname = true,
			    .ifname = {.name = "lo"},
			    .port_set = -1,
			    .peer_set = -1,
			    .local_set = -1,
			    .origin = "$.notrack.loopback"};
	struct ruleset rs = {.families = FAMILY_BOTH, .rules = &rule, .n_rules = 1};
	struct cov_host host = {0};
	struct top_request req = {
	    .ct = &fake_ops, .capacity = 64, .policies = {NULL, &rs}, .host = &host, .progress = on_progress};
	struct top_report rep;
	struct ct_top_row rows[3];
	struct diag d;

	(void)state;
	diag_init(&d);
	assert_int_equal(inspect_top(&req, &rep, &d), 0);
	assert_int_equal(rep.expected, 4500);
	assert_int_equal(rep.agg.total, 4500);
	assert_int_equal(rep.agg.proto[IPPROTO_TCP], 4000);
	assert_int_equal(rep.agg.tcp_state[TCP_CONNTRACK_ESTABLISHED], 4000);
	/* every 1024 entries (4 times) and once at the end */
	assert_int_equal(progress_calls, 5);
	assert_int_equal(progress_last, 4500);
	/* 3000 distinct source ports but one source address each */
	assert_int_equal(ct_agg_top(&rep.agg, CT_TOP_SOURCES, 3, rows), 3);
	assert_int_equal(rows[0].count, 3000);
	assert_int_equal(rows[1].count, 1000);
	assert_int_equal(rows[2].count, 500);
	assert_true(ct_agg_top_exact(&rep.agg, CT_TOP_SOURCES));
	/* coverage: no current policy; the candidate covers the 3000 loopback
	 * entries; the forwarded ones leave on an unknown interface, which is
	 * not lo, so they are decided (tracked), as is the udp from outside */
	assert_false(rep.has_cov[0]);
	assert_true(rep.has_cov[1]);
	assert_int_equal(rep.cov[1].total, 4500);
	assert_int_equal(rep.cov[1].avoided, 3000);
	assert_int_equal(rep.cov[1].tracked, 1500);
	assert_int_equal(rep.cov[1].undecidable, 0);
	assert_int_equal(rep.cov[1].by_rule[0], 3000);
	top_report_free(&rep);
	diag_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_tcp_v4),
	    cmocka_unit_test(test_parse_udp_v6_and_icmp),
	    cmocka_unit_test(test_parse_refuses_damaged),
	    cmocka_unit_test(test_parse_counters),
	    cmocka_unit_test(test_proc_stat),
	    cmocka_unit_test(test_proc_slab),
	    cmocka_unit_test(test_inspect_top),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
