/* slot_index: the open-addressing index lint's chains, merged users and
 * interned interface lists share. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/slot_index.h"

#define N 5000

static uint64_t keys[N];

static uint64_t key_hash(const void *ctx, size_t item)
{
	const unsigned *shift = ctx;
	return keys[item] >> *shift;
}

/* the probe every caller writes: item of key, or -1 */
static long find(const struct slot_index *t, uint64_t key, unsigned shift)
{
	for (size_t k = slot_index_first(t, key >> shift); t->slot[k]; k = slot_index_next(t, k))
		if (keys[t->slot[k] - 1] == key)
			return (long)t->slot[k] - 1;
	return -1;
}

static void fill_and_find(unsigned shift)
{
	struct slot_index t = {0};

	for (size_t i = 0; i < N; i++) {
		keys[i] = (uint64_t)i * 2654435761u + 7;
		assert_int_equal(slot_index_reserve(&t, 1, key_hash, &shift), 0);
		assert_int_equal(find(&t, keys[i], shift), -1);
		size_t k = slot_index_first(&t, keys[i] >> shift);
		while (t.slot[k])
			k = slot_index_next(&t, k);
		slot_index_put(&t, k, i);
		/* at most half full after every insert, so probes end */
		assert_true(t.n * 2 <= t.cap);
	}
	assert_int_equal(t.n, N);
	/* every item survives the rehashes of its growth */
	for (size_t i = 0; i < N; i++)
		assert_int_equal(find(&t, keys[i], shift), (long)i);
	assert_int_equal(find(&t, 1, shift), -1);
	slot_index_free(&t);
	assert_null(t.slot);
	assert_int_equal(t.cap, 0);
}

static void test_spread_hash(void **state)
{
	(void)state;
	fill_and_find(0);
}

/* every key in one chain of probes: still exact, only slower */
static void test_colliding_hash(void **state)
{
	(void)state;
	fill_and_find(63);
}

static void test_reserve_many(void **state)
{
	struct slot_index t = {0};
	unsigned shift = 0;

	(void)state;
	assert_int_equal(slot_index_reserve(&t, 1000, key_hash, &shift), 0);
	assert_true(t.cap >= 2000);
	assert_int_equal(t.n, 0);
	slot_index_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spread_hash),
	    cmocka_unit_test(test_colliding_hash),
	    cmocka_unit_test(test_reserve_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
