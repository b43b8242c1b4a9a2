/*
 * The iptables size bound (ipt_size.h): the count it makes from the IR
 * alone is exactly the number of entries the libiptc builder makes, for
 * ports with ranges (two multiport slots), peers, local addresses and both
 * families; and the limit holds at 250,000 and refuses at 250,001+, naming
 * the entry that multiplies.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit/ipt_build.h"
#include "emit/ipt_size.h"
#include "testlib.h"

struct compiled {
	struct policy_source src;
	struct ruleset rs;
	struct diag d;
};

static void compile_text(struct compiled *c, const char *text)
{
	memset(c, 0, sizeof(*c));
	tl_source_from_string(&c->src, "inline.json", text);
	diag_init(&c->d);
	assert_int_equal(tl_compile_source(&c->src, NULL, &c->rs, &c->d), 0);
}

static void compiled_free(struct compiled *c)
{
	ruleset_free(&c->rs);
	diag_free(&c->d);
	policy_source_free(&c->src);
}

static uint64_t built(const struct ruleset *rs, unsigned family)
{
	uint64_t n = 0;

	for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++) {
		struct ipt_rule_list l = {0};
		assert_int_equal(ipt_build_chain_rules(rs, family, h, h == HOOK_PREROUTING ? "T-PRE" : "T-OUT", &l), 0);
		n += l.n;
		ipt_rule_list_free(&l);
	}
	return n;
}

static void test_count_matches_builder(void **state)
{
	static const char *const policies[] = {
	    "{\"version\":1,\"notrack\":{\"loopback\":true,\"services\":[{\"proto\":\"tcp\",\"ports\":[80,443]}]}}",
	    /* 12 single ports and 5 ranges: 22 slots, two lists */
	    "{\"version\":1,\"notrack\":{\"services\":[{\"proto\":\"udp\",\"ports\":[1,3,5,7,9,11,13,15,17,19,21,23,"
	    "\"100-110\",\"200-210\",\"300-310\",\"400-410\",\"500-510\"],\"peers\":[\"10.0.0.0/8\",\"192.0.2.0/"
	    "24\",\"fd00::/8\"],\"addresses\":[\"192.0.2.1\",\"192.0.2.2\",\"fd00::1\"]}]},"
	    "\"keep_tracked\":[{\"reason\":\"nat\",\"interfaces\":[\"docker0\",\"br-+\"]}]}",
	    "{\"version\":1,\"families\":[\"ipv6\"],\"notrack\":{\"upstreams\":[{\"proto\":\"tcp\",\"ports\":[\"1-"
	    "65535\"],\"peers\":[\"2001:db8::/32\",\"fd00::/8\"]}]}}",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		struct compiled c;
		compile_text(&c, policies[i]);
		assert_int_equal(ipt_size_count(&c.rs, FAMILY_IPV4), built(&c.rs, FAMILY_IPV4));
		assert_int_equal(ipt_size_count(&c.rs, FAMILY_IPV6), built(&c.rs, FAMILY_IPV6));
		assert_int_equal(ipt_size_check(&c.rs, &c.d), 0);
		compiled_free(&c);
	}
}

/* One IPv4 service: npeers peers x 250 addresses x 1 port list, per hook. */
static char *wide_policy(unsigned npeers)
{
	size_t size = 64 + (size_t)(npeers + 250) * 24;
	char *t = malloc(size), *p = t;

	assert_non_null(t);
	p += sprintf(p, "{\"version\":1,\"families\":[\"ipv4\"],\"notrack\":{\"services\":[{\"proto\":\"tcp\","
			"\"ports\":[80],\"peers\":[");
	for (unsigned i = 0; i < npeers; i++)
		p += sprintf(p, "%s\"10.%u.%u.0/24\"", i ? "," : "", i / 256, i % 256);
	p += sprintf(p, "],\"addresses\":[");
	for (unsigned i = 0; i < 250; i++)
		p += sprintf(p, "%s\"192.168.%u.%u\"", i ? "," : "", i / 200, i % 200 + 1);
	sprintf(p, "]}]}}");
	return t;
}

static void test_limit(void **state)
{
	struct compiled c;
	char *text;

	(void)state;
	/* 2 x 499 x 250 = 249,500, the route_localnet guard and one ICMP error rule */
	text = wide_policy(499);
	compile_text(&c, text);
	assert_int_equal(ipt_size_count(&c.rs, FAMILY_IPV4), 249502);
	assert_int_equal(ipt_size_check(&c.rs, &c.d), 0);
	compiled_free(&c);
	free(text);

	text = wide_policy(500); /* 250,002 */
	compile_text(&c, text);
	assert_true(ipt_size_check(&c.rs, &c.d) < 0);
	assert_int_equal(c.d.kind, DIAG_POLICY);
	assert_string_equal(c.d.path, "$.notrack.services[0]");
	assert_non_null(strstr(c.d.msg, "would load 250002 IPv4 rules (limit 250000 per family)"));
	assert_non_null(strstr(c.d.msg, "500 peers x 250 addresses x 1 multiport lists = 125000 rules per hook"));
	compiled_free(&c);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_count_matches_builder),
	    cmocka_unit_test(test_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
