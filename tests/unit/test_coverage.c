/*
 * Coverage: would a compiled policy have notracked the packet that created
 * a conntrack entry?  Policies are written inline and compiled as the CLI
 * does; entries are built by hand; the host has lo and eth0 (10.0.0.5,
 * 2001:db8::5).
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "diagnostics/coverage.h"
#include "testlib.h"

static struct host_addr local_addrs[3];
static const struct cov_host host = {local_addrs, 3};

static int setup_host(void **state)
{
	(void)state;
	memset(local_addrs, 0, sizeof(local_addrs));
	local_addrs[0].family = FAMILY_IPV4;
	inet_pton(AF_INET, "127.0.0.1", local_addrs[0].addr);
	strcpy(local_addrs[0].ifname, "lo");
	local_addrs[1].family = FAMILY_IPV4;
	inet_pton(AF_INET, "10.0.0.5", local_addrs[1].addr);
	strcpy(local_addrs[1].ifname, "eth0");
	local_addrs[2].family = FAMILY_IPV6;
	inet_pton(AF_INET6, "2001:db8::5", local_addrs[2].addr);
	strcpy(local_addrs[2].ifname, "eth0");
	return 0;
}

/* An entry of the given protocol from src:sport to dst:dport. */
static struct ct_entry flow(uint8_t proto, const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	struct ct_entry e = {.proto = proto, .tcp_state = CT_TCP_STATE_NONE};

	e.family = strchr(src, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(e.family, src, e.src), 1);
	assert_int_equal(inet_pton(e.family, dst, e.dst), 1);
	e.has_ports = proto == IPPROTO_TCP || proto == IPPROTO_UDP;
	if (e.has_ports) {
		e.sport = sport;
		e.dport = dport;
	}
	return e;
}

struct compiled {
	struct policy_source src;
	struct ruleset rs;
};

static struct compiled *compile(const char *text)
{
	struct compiled *c = calloc(1, sizeof(*c));
	struct compile_options opt = {0};
	struct diag d;
	char err[DIAG_MSG_MAX + DIAG_PATH_MAX + 64];

	assert_non_null(c);
	diag_init(&d);
	tl_source_from_string(&c->src, "inline.json", text);
	if (tl_compile_source(&c->src, &opt, &c->rs, &d) < 0) {
		tl_format_error(&d, err, sizeof(err));
		fail_msg("does not compile: %s", err);
	}
	diag_free(&d);
	return c;
}

static void compiled_free(struct compiled *c)
{
	ruleset_free(&c->rs);
	policy_source_free(&c->src);
	free(c);
}

/* The outcome, and the origin of the deciding rule ("" if none). */
static enum cov_outcome eval(const struct compiled *c, struct ct_entry e, const char **origin)
{
	struct cov_verdict v = coverage_eval(&c->rs, &host, &e);

	*origin = v.rule >= 0 ? c->rs.rules[v.rule].origin : "";
	return v.outcome;
}

#define assert_outcome(c, e, want, want_origin)                                                                        \
	do {                                                                                                           \
		const char *origin_;                                                                                   \
		assert_int_equal(eval(c, e, &origin_), want);                                                          \
		assert_string_equal(origin_, want_origin);                                                             \
	} while (0)

static const char nginx[] = "{\"version\":1,\"notrack\":{\"loopback\":true,"
			    "\"services\":[{\"proto\":\"tcp\",\"ports\":[80,443]}]},"
			    "\"keep_tracked\":[{\"reason\":\"state\",\"proto\":\"tcp\",\"ports\":[22],"
			    "\"role\":\"service\"}]}";

static void test_services_and_keep(void **state)
{
	struct compiled *c = compile(nginx);

	(void)state;
	/* a client reaches our web server: prerouting, dport 443 */
	assert_outcome(c, flow(IPPROTO_TCP, "198.51.100.7", 40000, "10.0.0.5", 443), COV_AVOIDED,
		       "$.notrack.services[0]");
	assert_outcome(c, flow(IPPROTO_TCP, "2001:db8::77", 40000, "2001:db8::5", 80), COV_AVOIDED,
		       "$.notrack.services[0]");
	/* ssh is kept tracked: the return rule comes first */
	assert_outcome(c, flow(IPPROTO_TCP, "198.51.100.7", 40000, "10.0.0.5", 22), COV_TRACKED, "$.keep_tracked[0]");
	/* udp/443 is not in the policy */
	assert_outcome(c, flow(IPPROTO_UDP, "198.51.100.7", 40000, "10.0.0.5", 443), COV_TRACKED, "");
	/* icmp has no ports: no service rule can match it */
	assert_outcome(c, flow(IPPROTO_ICMP, "198.51.100.7", 0, "10.0.0.5", 0), COV_TRACKED, "");
	/* this host connects out to a remote :443: output, sport is ephemeral,
	 * so the service rule (tcp sport 80,443) does not match; the loopback
	 * rule cannot match either, a remote destination never leaves on lo */
	assert_outcome(c, flow(IPPROTO_TCP, "10.0.0.5", 50000, "203.0.113.9", 443), COV_TRACKED, "");
	/* a router forwards a client's connection to a server behind it:
	 * dport 443, but not addressed to this host, so not a service's */
	assert_outcome(c, flow(IPPROTO_TCP, "198.51.100.7", 40000, "192.0.2.80", 443), COV_TRACKED, "");
	assert_outcome(c, flow(IPPROTO_TCP, "2001:db8::77", 40000, "2001:db8:1::80", 80), COV_TRACKED, "");
	/* to 127.0.0.1 from a LAN neighbour (route_localnet): never untracked */
	assert_outcome(c, flow(IPPROTO_TCP, "10.0.0.9", 40000, "127.0.0.1", 80), COV_TRACKED, "");
	compiled_free(c);
}

/* A whole interface takes forwarded traffic too. */
static void test_forwarded_interface(void **state)
{
	struct compiled *c = compile("{\"version\":1,\"notrack\":{\"interfaces\":[\"eth0\"]}}");

	(void)state;
	assert_outcome(c, flow(IPPROTO_TCP, "198.51.100.7", 40000, "192.0.2.80", 443), COV_UNDECIDABLE, "");
	assert_outcome(c, flow(IPPROTO_TCP, "198.51.100.7", 40000, "10.0.0.5", 443), COV_AVOIDED,
		       "$.notrack.interfaces[0]");
	compiled_free(c);
}

static void test_loopback(void **state)
{
	struct compiled *c = compile(nginx);

	(void)state;
	/* local to local leaves on lo, whatever the addresses */
	assert_outcome(c, flow(IPPROTO_TCP, "127.0.0.1", 50000, "127.0.0.1", 8080), COV_AVOIDED, "$.notrack.loopback");
	assert_outcome(c, flow(IPPROTO_UDP, "127.0.1.2", 50000, "127.0.0.53", 53), COV_AVOIDED, "$.notrack.loopback");
	assert_outcome(c, flow(IPPROTO_TCP, "10.0.0.5", 50000, "10.0.0.5", 3306), COV_AVOIDED, "$.notrack.loopback");
	assert_outcome(c, flow(IPPROTO_TCP, "::1", 50000, "::1", 8080), COV_AVOIDED, "$.notrack.loopback");
	/* to local ssh: the keep rule on output is tcp sport 22 (the server's
	 * replies), so the client's first packet meets the loopback rule */
	assert_outcome(c, flow(IPPROTO_TCP, "127.0.0.1", 50000, "127.0.0.1", 22), COV_AVOIDED, "$.notrack.loopback");
	compiled_free(c);
}

/* A loopback connection to a local service is created on output, where the
 * service's rule matches the source port: only loopback avoids it. */
static void test_local_client_of_local_service(void **state)
{
	struct compiled *c =
	    compile("{\"version\":1,\"notrack\":{\"services\":[{\"proto\":\"tcp\",\"ports\":[8080]}]}}");

	(void)state;
	assert_outcome(c, flow(IPPROTO_TCP, "127.0.0.1", 50000, "127.0.0.1", 8080), COV_TRACKED, "");
	/* ...while the same policy covers remote clients */
	assert_outcome(c, flow(IPPROTO_TCP, "198.51.100.7", 50000, "10.0.0.5", 8080), COV_AVOIDED,
		       "$.notrack.services[0]");
	compiled_free(c);
}

static void test_upstreams_with_peers(void **state)
{
	struct compiled *c = compile("{\"version\":1,\"notrack\":{\"upstreams\":[{\"proto\":\"udp\",\"ports\":[53],"
				     "\"peers\":[\"10.0.0.0/24\",\"2001:db8:53::/48\"]}]}}");

	(void)state;
	/* this host asks its resolver: output, daddr in the peers, dport 53 */
	assert_outcome(c, flow(IPPROTO_UDP, "10.0.0.5", 40000, "10.0.0.53", 53), COV_AVOIDED, "$.notrack.upstreams[0]");
	assert_outcome(c, flow(IPPROTO_UDP, "2001:db8::5", 40000, "2001:db8:53::1", 53), COV_AVOIDED,
		       "$.notrack.upstreams[0]");
	/* another resolver, another port, another family's prefix */
	assert_outcome(c, flow(IPPROTO_UDP, "10.0.0.5", 40000, "10.0.1.53", 53), COV_TRACKED, "");
	assert_outcome(c, flow(IPPROTO_UDP, "10.0.0.5", 40000, "10.0.0.53", 5353), COV_TRACKED, "");
	assert_outcome(c, flow(IPPROTO_UDP, "2001:db8::5", 40000, "2001:db8:54::1", 53), COV_TRACKED, "");
	/* a resolver querying us is not an upstream */
	assert_outcome(c, flow(IPPROTO_UDP, "10.0.0.53", 40000, "10.0.0.5", 53), COV_TRACKED, "");
	compiled_free(c);
}

static void test_interfaces(void **state)
{
	struct compiled *c = compile("{\"version\":1,\"notrack\":{\"services\":[{\"proto\":\"tcp\",\"ports\":[80],"
				     "\"interfaces\":[\"eth+\"]}]}}");

	(void)state;
	/* arrives for eth0's address: in on eth0, and eth+ matches it */
	assert_outcome(c, flow(IPPROTO_TCP, "198.51.100.7", 40000, "10.0.0.5", 80), COV_AVOIDED,
		       "$.notrack.services[0]");
	/* forwarded: a service never takes it, whatever the interface */
	assert_outcome(c, flow(IPPROTO_TCP, "198.51.100.7", 40000, "192.0.2.1", 80), COV_TRACKED, "");
	/* but a packet another rule term rules out is decided anyway */
	assert_outcome(c, flow(IPPROTO_TCP, "198.51.100.7", 40000, "192.0.2.1", 81), COV_TRACKED, "");
	/* to a local address on lo: in on lo, not eth+ */
	assert_outcome(c, flow(IPPROTO_TCP, "10.0.0.5", 40000, "127.0.0.1", 80), COV_TRACKED, "");
	compiled_free(c);
}

/* An undecidable keep rule before a matching notrack rule: if the keep rule
 * matched, the entry would be tracked, so nothing can be said. */
static void test_undecidable_keep(void **state)
{
	struct compiled *c = compile("{\"version\":1,\"notrack\":{\"services\":[{\"proto\":\"tcp\",\"ports\":[80]}]},"
				     "\"keep_tracked\":[{\"reason\":\"nat\",\"interfaces\":[\"docker0\"]}]}");

	(void)state;
	/* forwarded to a container: a service never takes it */
	assert_outcome(c, flow(IPPROTO_TCP, "198.51.100.7", 40000, "172.17.0.2", 80), COV_TRACKED, "");
	/* for our own address the interface is known (eth0): the keep rule does not match */
	assert_outcome(c, flow(IPPROTO_TCP, "198.51.100.7", 40000, "10.0.0.5", 80), COV_AVOIDED,
		       "$.notrack.services[0]");
	/* an undecidable keep rule and no notrack rule: tracked either way */
	assert_outcome(c, flow(IPPROTO_TCP, "198.51.100.7", 40000, "172.17.0.2", 81), COV_TRACKED, "");
	compiled_free(c);
	/* a whole interface does take forwarded traffic: undecidable after the keep rule */
	c = compile("{\"version\":1,\"notrack\":{\"interfaces\":[\"eth+\"]},"
		    "\"keep_tracked\":[{\"reason\":\"nat\",\"interfaces\":[\"docker0\"]}]}");
	assert_outcome(c, flow(IPPROTO_TCP, "198.51.100.7", 40000, "172.17.0.2", 80), COV_UNDECIDABLE, "");
	compiled_free(c);
}

static void test_families(void **state)
{
	struct compiled *c = compile("{\"version\":1,\"families\":[\"ipv4\"],\"notrack\":{\"services\":[{\"proto\":"
				     "\"udp\",\"ports\":[\"5000-5010\"]}]}}");

	(void)state;
	assert_outcome(c, flow(IPPROTO_UDP, "198.51.100.7", 40000, "10.0.0.5", 5000), COV_AVOIDED,
		       "$.notrack.services[0]");
	assert_outcome(c, flow(IPPROTO_UDP, "198.51.100.7", 40000, "10.0.0.5", 5010), COV_AVOIDED,
		       "$.notrack.services[0]");
	assert_outcome(c, flow(IPPROTO_UDP, "198.51.100.7", 40000, "10.0.0.5", 5011), COV_TRACKED, "");
	/* an IPv4-only policy leaves IPv6 tracked */
	assert_outcome(c, flow(IPPROTO_UDP, "2001:db8::77", 40000, "2001:db8::5", 5000), COV_TRACKED, "");
	compiled_free(c);
}

static void test_counting(void **state)
{
	struct compiled *c = compile(nginx);
	struct coverage cov;

	(void)state;
	assert_int_equal(coverage_init(&cov, &c->rs, &host), 0);
	coverage_add(&cov, &(struct ct_entry){0}); /* family 0: IPv6 all-zero, tracked */
	for (int i = 0; i < 3; i++) {
		struct ct_entry e = flow(IPPROTO_TCP, "198.51.100.7", 40000, "10.0.0.5", 443);
		coverage_add(&cov, &e);
	}
	struct ct_entry lo = flow(IPPROTO_UDP, "127.0.0.1", 1, "127.0.0.1", 2);
	coverage_add(&cov, &lo);
	assert_int_equal(cov.total, 5);
	assert_int_equal(cov.avoided, 4);
	assert_int_equal(cov.tracked, 1);
	assert_int_equal(cov.undecidable, 0);
	uint64_t services = 0, loopback = 0;
	for (size_t i = 0; i < c->rs.n_rules; i++) {
		if (!strcmp(c->rs.rules[i].origin, "$.notrack.services[0]"))
			services += cov.by_rule[i];
		if (!strcmp(c->rs.rules[i].origin, "$.notrack.loopback"))
			loopback += cov.by_rule[i];
	}
	assert_int_equal(services, 3);
	assert_int_equal(loopback, 1);
	coverage_free(&cov);
	compiled_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_services_and_keep),
	    cmocka_unit_test(test_loopback),
	    cmocka_unit_test(test_local_client_of_local_service),
	    cmocka_unit_test(test_upstreams_with_peers),
	    cmocka_unit_test(test_interfaces),
	    cmocka_unit_test(test_forwarded_interface),
	    cmocka_unit_test(test_undecidable_keep),
	    cmocka_unit_test(test_families),
	    cmocka_unit_test(test_counting),
	};
	return cmocka_run_group_tests(tests, setup_host, NULL);
}
