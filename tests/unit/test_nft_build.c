/* The set parts of the nft emitter: the canonical text that owned digests
 * are made of, and the element difference an in-place change sends. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <linux/netfilter/nf_tables.h>
#include <string.h>

#include "backend/nft/nft_build.h"
#include "testlib.h"

enum { TYPE_IPADDR = 7, TYPE_SERVICE = 13 };

static struct nftnl_set *new_set(uint32_t type, uint32_t len, uint32_t flags)
{
	struct nftnl_set *s = nftnl_set_alloc();

	assert_non_null(s);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, "t");
	nftnl_set_set_str(s, NFTNL_SET_NAME, "s");
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, 1);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, len);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	return s;
}

static void elem(struct nftnl_set *s, const void *key, uint32_t len, bool end)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	assert_non_null(e);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len);
	if (end)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
	nftnl_set_elem_add(s, e);
}

static void port(struct nftnl_set *s, unsigned p, bool end)
{
	uint16_t k = htons((uint16_t)p);
	elem(s, &k, 2, end);
}

/* ports [first, last] as interval boundaries, in the order given */
static void range(struct nftnl_set *s, unsigned first, unsigned last)
{
	port(s, first, false);
	port(s, last + 1, true);
}

static char *delta_text(const struct nftnl_set *have, const struct nftnl_set *want, size_t max, size_t *n_del,
			size_t *n_add)
{
	struct nft_set_delta d;
	struct nft_elems h, w;
	struct strbuf t;

	strbuf_init(&t);
	assert_int_equal(nft_elems_from_set(&h, have), 0);
	assert_int_equal(nft_elems_from_set(&w, want), 0);
	assert_int_equal(nft_set_delta(&h, want, &w, &d), 0);
	nft_elems_free(&h);
	nft_elems_free(&w);
	assert_int_equal(nft_set_delta_text(&d, max, &t), 0);
	*n_del = d.n_del;
	*n_add = d.n_add;
	nft_set_delta_free(&d);
	return strbuf_take(&t);
}

static void test_canon_unchanged_form(void **state)
{
	struct nftnl_set *s = new_set(TYPE_SERVICE, 2, NFT_SET_INTERVAL);
	struct strbuf t;

	(void)state;
	/* given as the kernel dumps them, descending; listed ascending, each
	 * boundary as hex key and end bit */
	range(s, 9000, 9000);
	range(s, 8000, 8005);
	port(s, 0, true);
	struct nft_elems e;
	strbuf_init(&t);
	assert_int_equal(nft_elems_from_set(&e, s), 0);
	assert_int_equal(nft_set_canon(s, &e, &t), 0);
	nft_elems_free(&e);
	assert_string_equal(t.data, "set s type 13 len 2 flags 4: 0000/1 1f40/0 1f46/1 2328/0 2329/1");
	strbuf_free(&t);
	nftnl_set_free(s);
}

static void test_delta_intervals(void **state)
{
	struct nftnl_set *have = new_set(TYPE_SERVICE, 2, NFT_SET_INTERVAL);
	struct nftnl_set *want = new_set(TYPE_SERVICE, 2, NFT_SET_INTERVAL);
	size_t n_del, n_add;
	char *text;

	(void)state;
	port(have, 0, true);
	range(have, 8000, 8005);
	range(have, 9000, 9000);
	port(have, 65000, false); /* open to 65535 */
	port(want, 0, true);
	range(want, 8000, 8010); /* grown: the old interval goes, whole */
	range(want, 9000, 9000);
	port(want, 65000, false);
	range(want, 100, 100);
	text = delta_text(have, want, 16, &n_del, &n_add);
	assert_string_equal(text, " +100 +8000-8010 -8000-8005");
	assert_int_equal(n_del, 1);
	assert_int_equal(n_add, 2);
	free(text);
	/* nothing differs: nothing to send, whatever order the elements came in */
	text = delta_text(want, want, 16, &n_del, &n_add);
	assert_int_equal(n_del + n_add, 0);
	free(text);
	nftnl_set_free(have);
	nftnl_set_free(want);
}

static void test_delta_hash_and_cap(void **state)
{
	struct nftnl_set *have = new_set(TYPE_SERVICE, 2, NFT_SET_EVAL);
	struct nftnl_set *want = new_set(TYPE_SERVICE, 2, NFT_SET_EVAL);
	size_t n_del, n_add;
	char *text;

	(void)state;
	port(have, 80, false);
	port(have, 443, false);
	port(want, 8080, false);
	port(want, 80, false);
	text = delta_text(have, want, 16, &n_del, &n_add);
	assert_string_equal(text, " +8080 -443");
	free(text);
	for (unsigned p = 1000; p < 1020; p++)
		port(want, p, false);
	text = delta_text(have, want, 3, &n_del, &n_add);
	assert_string_equal(text, " +1000 +1001 +1002 and 19 more");
	assert_int_equal(n_add, 21);
	free(text);
	nftnl_set_free(have);
	nftnl_set_free(want);
}

static void test_delta_addresses(void **state)
{
	struct nftnl_set *have = new_set(TYPE_IPADDR, 4, NFT_SET_INTERVAL);
	struct nftnl_set *want = new_set(TYPE_IPADDR, 4, NFT_SET_INTERVAL);
	uint8_t zero[4] = {0}, a[4] = {10, 0, 0, 0}, a_end[4] = {10, 0, 1, 0}, b[4] = {10, 0, 2, 5},
		b_end[4] = {10, 0, 2, 6}, c[4] = {10, 0, 3, 1}, c_end[4] = {10, 0, 3, 4};
	size_t n_del, n_add;
	char *text;

	(void)state;
	elem(have, zero, 4, true);
	elem(have, a, 4, false);
	elem(have, a_end, 4, true);
	elem(want, zero, 4, true);
	elem(want, b, 4, false);
	elem(want, b_end, 4, true);
	elem(want, c, 4, false);
	elem(want, c_end, 4, true);
	text = delta_text(have, want, 16, &n_del, &n_add);
	assert_string_equal(text, " +10.0.2.5 +10.0.3.1-10.0.3.3 -10.0.0.0/24");
	free(text);
	assert_true(nft_set_same_kind(have, want));
	nftnl_set_free(want);
	want = new_set(TYPE_IPADDR, 4, 0);
	assert_false(nft_set_same_kind(have, want));
	nftnl_set_free(have);
	nftnl_set_free(want);
}

/* keep_tracked "timeouts": parsed, filled with nft's defaults, named after
 * what the policy wrote, shared by entries that write the same, and built
 * into objects, timeout chains and objref rules. */
static void test_timeouts(void **state)
{
	static const char policy[] =
	    "{\"version\": 1, \"notrack\": {\"services\": [{\"proto\": \"tcp\", \"ports\": [80]}]},\n"
	    " \"keep_tracked\": [\n"
	    "  {\"reason\": \"nat\", \"proto\": \"tcp\", \"ports\": [8443], \"timeouts\": {\"time_wait\": 5, "
	    "\"established\": 600}},\n"
	    "  {\"reason\": \"nat\", \"proto\": \"tcp\", \"ports\": [9443], \"timeouts\": {\"established\": 600, "
	    "\"time_wait\": 5}},\n"
	    "  {\"reason\": \"state\", \"proto\": \"udp\", \"ports\": [53], \"role\": \"service\", "
	    "\"timeouts\": {\"udp_stream\": 60}},\n"
	    "  {\"reason\": \"state\", \"proto\": \"tcp\", \"ports\": [22]}]}\n";
	struct policy_source src;
	struct ruleset rs;
	struct nft_desired dd;
	struct diag d;

	(void)state;
	diag_init(&d);
	tl_source_from_string(&src, "t.json", policy);
	assert_int_equal(tl_compile_source(&src, NULL, &rs, &d), 0);
	policy_source_free(&src);
	assert_int_equal(rs.n_timeouts, 2);
	assert_string_equal(rs.timeouts[0].name, "ct_tcp_est600_tw5");
	assert_string_equal(rs.timeouts[1].name, "ct_udp_us60");
	assert_string_equal(rs.timeouts[0].t.path, "$.keep_tracked[0].timeouts");
	/* what the policy left out: nft's defaults */
	assert_int_equal(rs.timeouts[0].t.value[ct_timeout_key("syn_sent")->index], 120);
	assert_int_equal(rs.timeouts[0].t.value[ct_timeout_key("time_wait")->index], 5);
	assert_int_equal(rs.timeouts[0].t.value[ct_timeout_key("established")->index], 600);
	assert_int_equal(rs.timeouts[0].t.value[ct_timeout_key("unacknowledged")->index], 300);
	assert_int_equal(rs.timeouts[1].t.value[ct_timeout_key("udp")->index], 30);
	assert_int_equal(rs.timeouts[1].t.value[ct_timeout_key("udp_stream")->index], 60);
	/* two tcp entries x (dport, sport) x 2 hooks, one udp service entry x 2 hooks; not tcp/22 */
	assert_int_equal(rs.n_timeout_rules, 10);
	size_t to_first = 0;
	for (size_t i = 0; i < rs.n_timeout_rules; i++) {
		const struct rule *r = &rs.timeout_rules[i];
		assert_int_equal(r->verdict, VERDICT_CT_TIMEOUT);
		assert_int_equal(r->ct_timeout, r->proto == IPPROTO_UDP ? 1 : 0);
		assert_string_not_equal(r->origin, "$.keep_tracked[3]");
		to_first += !strcmp(r->origin, "$.keep_tracked[1]");
	}
	assert_int_equal(to_first, 4); /* the second entry shares the first one's object */

	assert_int_equal(nft_build_desired(&rs, &dd), 0);
	assert_int_equal(dd.n_chains, 4);
	assert_string_equal(nftnl_chain_get_str(dd.chains[2], NFTNL_CHAIN_NAME), "timeout_prerouting");
	assert_int_equal(nftnl_chain_get_s32(dd.chains[3], NFTNL_CHAIN_PRIO), -150);
	assert_int_equal(dd.n_objs, 2);
	assert_int_equal(nftnl_obj_get_u32(dd.objs[0], NFTNL_OBJ_TYPE), NFT_OBJECT_CT_TIMEOUT);
	assert_int_equal(nftnl_obj_get_u8(dd.objs[1], NFTNL_OBJ_CT_TIMEOUT_L4PROTO), IPPROTO_UDP);
	uint32_t len = 0;
	const uint32_t *v = nftnl_obj_get_data(dd.objs[0], NFTNL_OBJ_CT_TIMEOUT_ARRAY, &len);
	assert_int_equal(len, CT_TIMEOUT_STATES * sizeof(uint32_t));
	assert_int_equal(v[ct_timeout_key("time_wait")->index], 5);
	size_t objrefs = 0;
	for (size_t i = 0; i < dd.n_rules; i++) {
		_cleanup_strbuf_ struct strbuf c;
		strbuf_init(&c);
		assert_int_equal(nft_rule_canon(dd.rules[i], &c), 0);
		if (strstr(c.data, "objref")) {
			objrefs++;
			assert_non_null(strstr(nftnl_rule_get_str(dd.rules[i], NFTNL_RULE_CHAIN), "timeout_"));
		}
	}
	assert_int_equal(objrefs, rs.n_timeout_rules);
	nft_desired_free(&dd);
	ruleset_free(&rs);
	diag_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_canon_unchanged_form), cmocka_unit_test(test_timeouts),
	    cmocka_unit_test(test_delta_intervals),	 cmocka_unit_test(test_delta_hash_and_cap),
	    cmocka_unit_test(test_delta_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
