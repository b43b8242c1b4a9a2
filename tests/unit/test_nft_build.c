/* The set parts of the nft emitter: the canonical text that owned digests
 * are made of, and the element difference an in-place change sends. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <linux/netfilter/nf_tables.h>
#include <string.h>

#include "backend/nft/nft_build.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_canon_unchanged_form),
	    cmocka_unit_test(test_delta_intervals),
	    cmocka_unit_test(test_delta_hash_and_cap),
	    cmocka_unit_test(test_delta_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
