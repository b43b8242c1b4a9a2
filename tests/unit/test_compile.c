/*
 * The compiler on the IR level: directions, ordering, port collapsing, the
 * exposure summary and the warnings (overlap, missing interface, nothing
 * notracked), with policies written inline.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "emit/emit.h"
#include "emit/ipt_lower.h"
#include "testlib.h"

/* One compiled inline policy; fixture state for a test. */
struct compiled {
	struct policy_source src;
	struct ruleset rs;
	struct diag d;
	int r;
};

static struct compiled *compile_text(const char *text, const struct compile_options *opt)
{
	struct compiled *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	tl_source_from_string(&c->src, "inline.json", text);
	diag_init(&c->d);
	c->r = tl_compile_source(&c->src, opt, &c->rs, &c->d);
	return c;
}

/* Compiles text and fails the test, showing the error, if it does not compile. */
static struct compiled *compile_ok(const char *text, const struct compile_options *opt)
{
	struct compiled *c = compile_text(text, opt);
	char err[DIAG_MSG_MAX + DIAG_PATH_MAX + 64];

	if (c->r < 0) {
		tl_format_error(&c->d, err, sizeof(err));
		fail_msg("does not compile: %s", err);
	}
	return c;
}

static void compiled_free(struct compiled *c)
{
	ruleset_free(&c->rs);
	diag_free(&c->d);
	policy_source_free(&c->src);
	free(c);
}

static int teardown(void **state)
{
	if (*state)
		compiled_free(*state);
	*state = NULL;
	return 0;
}

/* The rules on hook h, in order. */
static const struct rule *nth_rule(const struct ruleset *rs, enum hook h, size_t n)
{
	size_t seen = 0;

	for (size_t i = 0; i < rs->n_rules; i++)
		if (rs->rules[i].hook == h && seen++ == n)
			return &rs->rules[i];
	fail_msg("no rule %zu on %s", n, hook_name(h));
	return NULL;
}

/* ------------------------------------------------------------------ */
/* directions                                                          */

static const char service_and_upstream[] =
    "{\n"
    "  \"version\": 1,\n"
    "  \"families\": [\"ipv4\"],\n"
    "  \"notrack\": {\n"
    "    \"services\": [{ \"proto\": \"tcp\", \"ports\": [443],\n"
    "                   \"peers\": [\"192.0.2.0/24\"], \"addresses\": [\"198.51.100.1\"],\n"
    "                   \"interfaces\": [\"eth0\"] }],\n"
    "    \"upstreams\": [{ \"proto\": \"udp\", \"ports\": [53], \"peers\": [\"10.96.0.10\"] }]\n"
    "  }\n"
    "}\n";

/* Which packet field each match of a rule looks at, per hook. */
static const struct {
	const char *origin;
	enum field port, peer, local; /* on prerouting; output is the mirror image */
} directions[] = {
    /* a client sends to our port on our address; our reply goes the other way */
    {"$.notrack.services[0]", FIELD_DEST, FIELD_SOURCE, FIELD_DEST},
    /* the upstream answers from its port; what we send goes to it */
    {"$.notrack.upstreams[0]", FIELD_SOURCE, FIELD_SOURCE, FIELD_NONE},
};

static enum field mirror(enum field f)
{
	return f == FIELD_NONE ? FIELD_NONE : f == FIELD_DEST ? FIELD_SOURCE : FIELD_DEST;
}

static void test_directions(void **state)
{
	struct compiled *c = *state = compile_ok(service_and_upstream, NULL);

	for (size_t i = 0; i < sizeof(directions) / sizeof(directions[0]); i++) {
		const struct rule *in = nth_rule(&c->rs, HOOK_PREROUTING, i), *out = nth_rule(&c->rs, HOOK_OUTPUT, i);
		assert_string_equal(in->origin, directions[i].origin);
		assert_string_equal(out->origin, directions[i].origin);
		assert_int_equal(in->port_field, directions[i].port);
		assert_int_equal(in->peer_field, directions[i].peer);
		assert_int_equal(in->local_field, directions[i].local);
		assert_int_equal(out->port_field, mirror(directions[i].port));
		assert_int_equal(out->peer_field, mirror(directions[i].peer));
		assert_int_equal(out->local_field, mirror(directions[i].local));
		assert_int_equal(in->port_set, out->port_set); /* one set, both directions */
		assert_int_equal(in->verdict, VERDICT_NOTRACK);
	}
	/* interfaces: iifname on the way in, oifname on the way out (the emitters' choice) */
	assert_true(nth_rule(&c->rs, HOOK_PREROUTING, 0)->has_ifname);
	assert_string_equal(nth_rule(&c->rs, HOOK_OUTPUT, 0)->ifname.name, "eth0");
	assert_false(nth_rule(&c->rs, HOOK_PREROUTING, 1)->has_ifname);
	assert_int_equal(nth_rule(&c->rs, HOOK_OUTPUT, 1)->proto, IPPROTO_UDP);
}

static void test_keep_tracked_comes_first(void **state)
{
	struct compiled *c = *state =
	    compile_ok("{\"version\": 1,"
		       " \"notrack\": {\"loopback\": true,"
		       "   \"services\": [{\"proto\": \"tcp\", \"ports\": [22, 80]}]},"
		       " \"keep_tracked\": [{\"reason\": \"nat\", \"interfaces\": [\"docker0\"]},"
		       "   {\"reason\": \"state\", \"proto\": \"tcp\", \"ports\": [22],"
		       "    \"role\": \"service\"}]}",
		       NULL);

	for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++) {
		assert_int_equal(tl_count_rules(&c->rs, h), 4);
		assert_int_equal(nth_rule(&c->rs, h, 0)->verdict, VERDICT_RETURN);
		assert_int_equal(nth_rule(&c->rs, h, 1)->verdict, VERDICT_RETURN);
		assert_int_equal(nth_rule(&c->rs, h, 2)->verdict, VERDICT_NOTRACK);
		assert_int_equal(nth_rule(&c->rs, h, 3)->verdict, VERDICT_NOTRACK);
	}
	/* role "service": the kept port is the destination on the way in only */
	assert_int_equal(nth_rule(&c->rs, HOOK_PREROUTING, 1)->port_field, FIELD_DEST);
	assert_int_equal(nth_rule(&c->rs, HOOK_OUTPUT, 1)->port_field, FIELD_SOURCE);
}

/* A keep entry with role "any" and ports returns on both port fields. */
static void test_keep_role_any_both_fields(void **state)
{
	struct compiled *c = *state = compile_ok("{\"version\": 1, \"notrack\": {\"loopback\": true},"
						 " \"keep_tracked\": [{\"reason\": \"nat\", \"proto\": \"tcp\","
						 "   \"ports\": [\"30000-32767\"], \"role\": \"any\"}]}",
						 NULL);

	assert_int_equal(nth_rule(&c->rs, HOOK_PREROUTING, 0)->port_field, FIELD_DEST);
	assert_int_equal(nth_rule(&c->rs, HOOK_PREROUTING, 1)->port_field, FIELD_SOURCE);
	assert_int_equal(nth_rule(&c->rs, HOOK_PREROUTING, 1)->verdict, VERDICT_RETURN);
	assert_int_equal(nth_rule(&c->rs, HOOK_PREROUTING, 2)->verdict, VERDICT_NOTRACK);
}

/* ------------------------------------------------------------------ */
/* large port lists                                                    */

static void test_large_port_list_is_one_rule_per_direction(void **state)
{
	char *file = tl_path(NOTRACKCTL_CASES_DIR "/valid", "large-ports", ".json");
	struct compiled *c = calloc(1, sizeof(*c));
	const struct port_set *ps;

	assert_non_null(c);
	*state = c;
	diag_init(&c->d);
	assert_int_equal(tl_compile_file(file, NULL, &c->rs, &c->d), 0);
	free(file);
	assert_int_equal(tl_count_rules(&c->rs, HOOK_PREROUTING), 1);
	assert_int_equal(tl_count_rules(&c->rs, HOOK_OUTPUT), 1);
	assert_int_equal(c->rs.n_port_sets, 1);
	ps = &c->rs.port_sets[nth_rule(&c->rs, HOOK_PREROUTING, 0)->port_set];
	/* 99 runs of 100 contiguous ports collapse into ranges; 100 single ports stay */
	assert_int_equal(ps->n, 199);
	for (size_t i = 0; i < 99; i++) {
		assert_int_equal(ps->ranges[i].first, 10000 + i * 200);
		assert_int_equal(ps->ranges[i].last, 10000 + i * 200 + 99);
	}
	for (size_t i = 99; i < 199; i++) {
		assert_int_equal(ps->ranges[i].first, 40000 + (i - 99) * 2);
		assert_int_equal(ps->ranges[i].last, ps->ranges[i].first);
	}
	assert_false(port_set_is_inline(ps));
	assert_string_equal(c->rs.exposure[0],
			    "tcp/10000-10099,10200-10299,10400-10499,10600-10699,10800-10899,"
			    "11000-11099,... (10000 ports in 199 ranges) served by this host"
			    " (packets addressed to this host's own addresses; traffic it forwards stays tracked)");
}

static void test_adjacent_ports_and_ranges_merge(void **state)
{
	struct compiled *c = *state =
	    compile_ok("{\"version\": 1, \"notrack\": {\"services\": [{\"proto\": \"udp\","
		       " \"ports\": [82, 80, \"83-90\", 81, 92, \"93-95\", 65535, \"65530-65534\"]}]}}",
		       NULL);
	const struct port_set *ps = &c->rs.port_sets[0];

	assert_int_equal(ps->n, 3);
	assert_int_equal(ps->ranges[0].first, 80);
	assert_int_equal(ps->ranges[0].last, 90);
	assert_int_equal(ps->ranges[1].first, 92);
	assert_int_equal(ps->ranges[1].last, 95);
	assert_int_equal(ps->ranges[2].first, 65530);
	assert_int_equal(ps->ranges[2].last, 65535);
	assert_string_equal(c->rs.exposure[0],
			    "udp/80-90,92-95,65530-65535 served by this host"
			    " (packets addressed to this host's own addresses; traffic it forwards stays tracked)");
}

/* ------------------------------------------------------------------ */
/* exposure summary                                                    */

#define SERVED " (packets addressed to this host's own addresses; traffic it forwards stays tracked)"
#define REPLIES " (replies for this host's own sockets; connections it forwards or masquerades stay tracked)"

static void test_exposure_lines(void **state)
{
	struct compiled *c = *state = compile_ok(
	    "{\"version\": 1, \"notrack\": {\"loopback\": true, \"interfaces\": [\"eth1\", \"veth+\"],"
	    " \"services\": [{\"proto\": \"tcp\", \"ports\": [80, 443], \"interfaces\": [\"eth0\", \"eth2\", "
	    "\"bond0\"]},"
	    "   {\"proto\": \"udp\", \"ports\": [53], \"addresses\": [\"169.254.20.10\"],"
	    "    \"peers\": [\"10.0.0.0/8\", \"fd00::/8\"]}],"
	    " \"upstreams\": [{\"proto\": \"tcp\", \"ports\": [5432], \"addresses\": [\"10.2.0.1\"],"
	    "   \"peers\": [\"10.2.0.5\", \"10.3.0.0/24\", \"10.4.0.0/24\", \"10.5.0.0/24\", \"10.6.0.0/24\","
	    "   \"10.7.0.0/24\"]}]},"
	    " \"keep_tracked\": [{\"reason\": \"nat\", \"interfaces\": [\"docker0\"]},"
	    "   {\"reason\": \"state\", \"proto\": \"udp\", \"interfaces\": [\"eth9\"]},"
	    "   {\"reason\": \"state\", \"proto\": \"tcp\", \"ports\": [22], \"peers\": [\"192.0.2.0/24\"]}]}",
	    NULL);
	static const char *const exposure[] = {
	    "all traffic on lo (loopback)",
	    "all traffic on eth1, including traffic this host forwards",
	    "all traffic on every interface whose name starts with veth, including traffic this host forwards",
	    "tcp/80,443 served by this host on eth0, eth2 or bond0" SERVED,
	    "udp/53 served by this host at 169.254.20.10 for clients in 10.0.0.0/8, fd00::/8" SERVED,
	    "tcp/5432 to upstreams from local 10.2.0.1 at 10.2.0.5, 10.3.0.0/24, 10.4.0.0/24, 10.5.0.0/24 and 2 "
	    "more" REPLIES,
	    "ICMP and ICMPv6 errors (destination unreachable, time exceeded, parameter problem, packet too big) "
	    "addressed to this host about the services and upstreams above, matched by the protocol and port of the "
	    "packet they carry, not by its addresses",
	};
	static const char *const kept[] = {
	    "all traffic on docker0 (nat)",
	    "all udp on eth9 (state)",
	    "tcp/22 with peers 192.0.2.0/24 (state)",
	};

	assert_int_equal(c->rs.n_exposure, sizeof(exposure) / sizeof(exposure[0]));
	for (size_t i = 0; i < c->rs.n_exposure; i++)
		assert_string_equal(c->rs.exposure[i], exposure[i]);
	assert_int_equal(c->rs.n_kept, sizeof(kept) / sizeof(kept[0]));
	for (size_t i = 0; i < c->rs.n_kept; i++)
		assert_string_equal(c->rs.kept[i], kept[i]);
}

/* ------------------------------------------------------------------ */
/* warnings                                                            */

static void assert_warning(const struct diag *d, size_t i, const char *path, unsigned line, unsigned col,
			   const char *msg)
{
	assert_true(i < d->n_warnings);
	assert_string_equal(d->warnings[i].path, path);
	assert_int_equal(d->warnings[i].line, line);
	assert_int_equal(d->warnings[i].col, col);
	assert_string_equal(d->warnings[i].msg, msg);
}

static void assert_one_warning(const struct diag *d, const char *path, unsigned line, unsigned col, const char *msg)
{
	assert_int_equal(d->n_warnings, 1);
	assert_warning(d, 0, path, line, col, msg);
}

static void test_warning_port_served_and_kept(void **state)
{
	struct compiled *c = *state = compile_ok("{\n"
						 "  \"version\": 1,\n"
						 "  \"notrack\": {\n"
						 "    \"services\": [\n"
						 "      { \"proto\": \"tcp\", \"ports\": [22, 80, 443] }\n"
						 "    ]\n"
						 "  },\n"
						 "  \"keep_tracked\": [\n"
						 "    { \"reason\": \"state\", \"proto\": \"tcp\", \"ports\": [22] }\n"
						 "  ]\n"
						 "}\n",
						 NULL);

	assert_int_equal(c->d.kind, DIAG_NONE);
	assert_one_warning(&c->d, "$.notrack.services[0]", 5, 7,
			   "service overlaps $.keep_tracked[0] (state): traffic matching both stays tracked");
}

/* keep_tracked carving a port out of a whole interface is what it is for: no warning */
static void test_no_warning_for_carve_out(void **state)
{
	struct compiled *c = *state = compile_ok("{\"version\": 1, \"notrack\": {\"interfaces\": [\"eth1\"]},"
						 " \"keep_tracked\": [{\"reason\": \"state\", \"proto\": \"tcp\","
						 "   \"ports\": [22]}]}",
						 NULL);

	assert_int_equal(c->d.n_warnings, 0);
}

struct fake_host {
	const char *const *present;
	unsigned calls;
};

static bool fake_interface_exists(const struct ifname *ifn, void *ctx)
{
	struct fake_host *h = ctx;

	h->calls++;
	for (const char *const *p = h->present; *p; p++)
		if (!strcmp(*p, ifn->name))
			return true;
	return false;
}

static void test_warning_missing_interfaces(void **state)
{
	static const char *const present[] = {"eth0", "eth1", "docker", NULL};
	struct fake_host fake = {.present = present};
	struct compile_host host = {.interface_exists = fake_interface_exists, .ctx = &fake};
	struct compile_options opt = {.host = &host};
	struct compiled *c = *state =
	    compile_ok("{\n"
		       "  \"version\": 1,\n"
		       "  \"notrack\": {\n"
		       "    \"interfaces\": [\"eth1\", \"wg0\"],\n"
		       "    \"services\": [\n"
		       "      { \"proto\": \"tcp\", \"ports\": [80],\n"
		       "        \"interfaces\": [\"eth0\", \"bond0\"] }\n"
		       "    ]\n"
		       "  },\n"
		       "  \"keep_tracked\": [\n"
		       "    { \"reason\": \"nat\", \"interfaces\": [\"docker+\", \"docker0\"] }\n"
		       "  ]\n"
		       "}\n",
		       &opt);
	const struct diag *d = &c->d;

	/* every interface named anywhere is asked about once */
	assert_int_equal(fake.calls, 6);
	assert_int_equal(d->n_warnings, 3);
	assert_warning(d, 0, "$.keep_tracked[0].interfaces[1]", 11, 50,
		       "interface \"docker0\" does not exist on this host (yet); the rule waits for it");
	assert_warning(d, 1, "$.notrack.interfaces[1]", 4, 28,
		       "interface \"wg0\" does not exist on this host (yet); the rule waits for it");
	assert_warning(d, 2, "$.notrack.services[0].interfaces[1]", 7, 32,
		       "interface \"bond0\" does not exist on this host (yet); the rule waits for it");
	/* the rules are there all the same */
	assert_int_equal(tl_count_rules(&c->rs, HOOK_PREROUTING), 6);
}

static void test_warning_notracks_nothing(void **state)
{
	struct compiled *c = *state = compile_ok("{\"version\": 1,\n \"notrack\": {\"loopback\": false}}", NULL);

	assert_int_equal(c->rs.n_rules, 0);
	assert_int_equal(c->rs.n_exposure, 0);
	assert_one_warning(&c->d, "$.notrack", 2, 2, "the policy notracks nothing");
}

/* ------------------------------------------------------------------ */
/* options                                                             */

static void test_table_name_option(void **state)
{
	struct compile_options opt = {.table = "nt_test"};
	struct compiled *c = *state = compile_ok("{\"version\": 1, \"notrack\": {\"loopback\": true}}", &opt);
	char comment[128], chain[64];

	assert_string_equal(c->rs.table, "nt_test");
	rule_comment(&c->rs, &c->rs.rules[0], comment, sizeof(comment));
	assert_string_equal(comment, "nt_test notrack.loopback");
	iptables_chain_name(&c->rs, HOOK_OUTPUT, chain, sizeof(chain));
	assert_string_equal(chain, "NT_TEST-OUT");
}

static void test_bad_table_name_is_a_usage_error(void **state)
{
	static const char *const bad[] = {
	    "", "Upper", "9lives", "has-dash", "notrack", "untracked", "a_name_that_is_far_too_long", NULL};
	struct compiled *c;

	for (const char *const *name = bad; *name; name++) {
		struct compile_options opt = {.table = *name};
		c = compile_text("{\"version\": 1, \"notrack\": {\"loopback\": true}}", &opt);
		assert_int_equal(c->r, -EINVAL);
		assert_int_equal(c->d.kind, DIAG_USAGE);
		compiled_free(c);
	}
	*state = NULL;
}

/* ------------------------------------------------------------------ */
/* this host's own traffic: scopes, accept hooks, guards, ICMP errors   */

static void test_scopes_and_accept_hooks(void **state)
{
	struct compiled *c = *state =
	    compile_ok("{\"version\": 1, \"notrack\": {\"services\": [{\"proto\": \"tcp\", \"ports\": [80]}],"
		       " \"upstreams\": [{\"proto\": \"udp\", \"ports\": [53]}]}}",
		       NULL);

	for (size_t i = 0; i < c->rs.n_rules; i++) {
		const struct rule *r = &c->rs.rules[i];
		bool svc = strstr(r->origin, "services") != NULL;
		/* prerouting only: only locally generated packets reach output */
		assert_int_equal(r->scope, r->hook == HOOK_OUTPUT ? SCOPE_ANY
					   : svc		  ? SCOPE_LOCAL_DEST
								  : SCOPE_OWN_SOCKET);
	}
	/* nothing forwarded is untracked: no accept in forward chains */
	assert_int_equal(c->rs.accept_hooks, ACCEPT_HOOK_INPUT | ACCEPT_HOOK_OUTPUT);
	compiled_free(c);

	/* the socket lookup knows only tcp and udp: sctp replies addressed to this host */
	*state = c = compile_ok(
	    "{\"version\": 1, \"notrack\": {\"upstreams\": [{\"proto\": \"sctp\", \"ports\": [3868]}]}}", NULL);
	assert_int_equal(c->rs.rules[0].hook, HOOK_PREROUTING);
	assert_int_equal(c->rs.rules[0].scope, SCOPE_LOCAL_DEST);
	compiled_free(c);

	*state = c = compile_ok("{\"version\": 1, \"notrack\": {\"interfaces\": [\"eth1\"]}}", NULL);
	assert_int_equal(c->rs.accept_hooks, ACCEPT_HOOK_INPUT | ACCEPT_HOOK_FORWARD | ACCEPT_HOOK_OUTPUT);
	compiled_free(c);

	*state = c = compile_ok("{\"version\": 1, \"notrack\": {\"loopback\": true}}", NULL);
	assert_int_equal(c->rs.accept_hooks, ACCEPT_HOOK_INPUT | ACCEPT_HOOK_OUTPUT);
}

static void test_localnet_guard(void **state)
{
	struct compiled *c = *state = compile_ok(
	    "{\"version\": 1, \"notrack\": {\"loopback\": true, \"services\": [{\"proto\": \"tcp\", \"ports\": "
	    "[8080]}]}, \"keep_tracked\": [{\"reason\": \"state\", \"proto\": \"tcp\", \"ports\": [22], \"role\": "
	    "\"service\"}]}",
	    NULL);
	const struct rule *const *pre = c->rs.chain[HOOK_PREROUTING];

	/* after the exception, before the first notrack rule; IPv4 only (the
	 * kernel drops IPv6 to ::1 from outside before prerouting) */
	assert_int_equal(c->rs.n_guards, 1);
	assert_ptr_equal(pre[0], &c->rs.rules[0]);
	assert_ptr_equal(pre[1], &c->rs.guards[0]);
	assert_int_equal(pre[2]->verdict, VERDICT_NOTRACK);
	{
		const struct rule *g = &c->rs.guards[0];
		const struct addr_set *as = &c->rs.addr_sets[g->local_set];
		assert_int_equal(g->verdict, VERDICT_RETURN);
		assert_int_equal(g->family, FAMILY_IPV4);
		assert_true(g->has_ifname && g->ifname_invert);
		assert_string_equal(g->ifname.name, "lo");
		assert_int_equal(g->local_field, FIELD_DEST);
		assert_int_equal(as->n, 1);
		assert_int_equal(as->cidrs[0].prefix, 8);
	}
	compiled_free(c);

	/* nothing that could take 127.0.0.1 from outside: no guard */
	*state = c = compile_ok("{\"version\": 1, \"notrack\": {\"loopback\": true, \"services\": [{\"proto\": "
				"\"tcp\", \"ports\": [80], \"interfaces\": [\"lo\"]}]}}",
				NULL);
	assert_int_equal(c->rs.n_guards, 0);
	compiled_free(c);

	/* a local address away from 127.0.0.0/8 does not keep the ICMP error
	 * rules (which compare no address) from needing the guard */
	*state = c = compile_ok("{\"version\": 1, \"notrack\": {\"services\": [{\"proto\": \"tcp\", \"ports\": "
				"[80], \"addresses\": [\"192.0.2.1\"]}]}, \"families\": [\"ipv4\"]}",
				NULL);
	assert_int_equal(c->rs.n_guards, 1);
}

static void test_icmp_error_rules(void **state)
{
	struct compiled *c = *state =
	    compile_ok("{\"version\": 1, \"notrack\": {\"services\": [{\"proto\": \"tcp\", \"ports\": [80, 443], "
		       "\"interfaces\": [\"eth0\"]}], \"upstreams\": [{\"proto\": \"udp\", \"ports\": [53]}]},"
		       " \"keep_tracked\": [{\"reason\": \"nat\", \"proto\": \"tcp\", \"ports\": [443], \"role\": "
		       "\"service\"}, {\"reason\": \"state\", \"proto\": \"tcp\", \"ports\": [22]}]}",
		       NULL);
	size_t returns = 0, notracks = 0;

	for (size_t i = 0; i < c->rs.n_icmp_rules; i++) {
		const struct rule *r = &c->rs.icmp_rules[i];
		assert_true(r->icmp_error);
		assert_int_equal(r->hook, HOOK_PREROUTING);
		assert_true(r->family == FAMILY_IPV4 || r->family == FAMILY_IPV6);
		assert_int_equal(r->peer_set, -1);
		assert_int_equal(r->local_set, -1);
		if (r->verdict == VERDICT_RETURN) {
			/* 443 meets the service's ports; 22 meets no ICMP notrack rule */
			assert_non_null(strstr(r->origin, "keep_tracked[0]"));
			returns++;
			continue;
		}
		notracks++;
		if (strstr(r->origin, "services")) {
			/* the port as the service sent it: its source port, on eth0 */
			assert_int_equal(r->port_field, FIELD_SOURCE);
			assert_int_equal(r->scope, SCOPE_LOCAL_DEST);
			assert_true(r->has_ifname);
			assert_true(c->rs.port_sets[r->port_set].icmp_copy);
		} else {
			assert_int_equal(r->port_field, FIELD_DEST);
			assert_int_equal(r->scope, SCOPE_OWN_SOCKET);
			assert_int_equal(r->proto, IPPROTO_UDP);
		}
	}
	assert_int_equal(returns, 2);
	assert_int_equal(notracks, 4);
	/* the ICMP rules close the prerouting chain, their exceptions first */
	size_t n = c->rs.n_chain[HOOK_PREROUTING];
	assert_true(c->rs.chain[HOOK_PREROUTING][n - 5]->icmp_error);
	assert_int_equal(c->rs.chain[HOOK_PREROUTING][n - 6]->verdict, VERDICT_RETURN);
	assert_true(c->rs.chain[HOOK_PREROUTING][n - 6]->icmp_error);
	/* and the summary says so */
	assert_non_null(strstr(c->rs.exposure[c->rs.n_exposure - 1], "ICMP and ICMPv6 errors"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_directions, teardown),
	    cmocka_unit_test_teardown(test_keep_tracked_comes_first, teardown),
	    cmocka_unit_test_teardown(test_keep_role_any_both_fields, teardown),
	    cmocka_unit_test_teardown(test_large_port_list_is_one_rule_per_direction, teardown),
	    cmocka_unit_test_teardown(test_adjacent_ports_and_ranges_merge, teardown),
	    cmocka_unit_test_teardown(test_exposure_lines, teardown),
	    cmocka_unit_test_teardown(test_warning_port_served_and_kept, teardown),
	    cmocka_unit_test_teardown(test_no_warning_for_carve_out, teardown),
	    cmocka_unit_test_teardown(test_warning_missing_interfaces, teardown),
	    cmocka_unit_test_teardown(test_warning_notracks_nothing, teardown),
	    cmocka_unit_test_teardown(test_table_name_option, teardown),
	    cmocka_unit_test_teardown(test_bad_table_name_is_a_usage_error, teardown),
	    cmocka_unit_test_teardown(test_scopes_and_accept_hooks, teardown),
	    cmocka_unit_test_teardown(test_localnet_guard, teardown),
	    cmocka_unit_test_teardown(test_icmp_error_rules, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
