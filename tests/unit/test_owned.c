/* What a generation keeps of the objects we own, and which owned digests
 * can be compared with each other. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/owned.h"
#include "engine/state.h"

static void test_digest_formats(void **state)
{
	(void)state;
	/* the same way of making them: comparable, equal or not */
	assert_true(digest_comparable("xxh3:06ce47e69e7d7a37", "xxh3:74716eba014aba06"));
	assert_true(digest_comparable("7d5df2bc6c3d0efc", "fd75a61c66348f34"));
	/* an older notrackctl's bare FNV-1a hex against a named one: not */
	assert_false(digest_comparable("7d5df2bc6c3d0efc", "xxh3:74716eba014aba06"));
	assert_false(digest_comparable("xxh3:74716eba014aba06", "7d5df2bc6c3d0efc"));
	assert_false(digest_comparable("xxh3:1", "xxh4:1"));
	assert_true(digest_comparable("", ""));
}

static void add(struct owned_list *l, enum owned_kind kind, const char *chain, uint64_t handle)
{
	struct owned_object *o = owned_list_add(l);

	assert_non_null(o);
	o->kind = kind;
	snprintf(o->family, sizeof(o->family), "ipv4");
	snprintf(o->table, sizeof(o->table), kind == OWNED_ACCEPT ? "filter" : "raw");
	snprintf(o->chain, sizeof(o->chain), "%s", chain);
	snprintf(o->comment, sizeof(o->comment), "notrackctl");
	o->handle = handle;
}

/* A generation keeps the accepts and jumps one by one and the rules of our
 * own chains as a count, and that count survives a load and a save again. */
static void test_generation_keeps_rules_as_a_count(void **state)
{
	char dir[] = "/tmp/test_owned.XXXXXX";
	struct generation g = {0}, back = {0}, again = {0};
	struct state st;
	struct diag d;

	(void)state;
	assert_non_null(mkdtemp(dir));
	diag_init(&d);
	assert_int_equal(state_open(&st, dir, &d), 0);
	g.number = 1;
	snprintf(g.action, sizeof(g.action), "apply");
	snprintf(g.backend, sizeof(g.backend), "iptables");
	snprintf(g.table, sizeof(g.table), "notrackctl");
	snprintf(g.policy_digest, sizeof(g.policy_digest), "none");
	g.compiled_omitted = true;
	add(&g.owned, OWNED_JUMP, "PREROUTING", 1);
	for (unsigned i = 1; i <= 5; i++)
		add(&g.owned, OWNED_RULE, "NOTRACKCTL-PRE", i);
	add(&g.owned, OWNED_ACCEPT, "INPUT", 1);
	snprintf(g.owned.digest, sizeof(g.owned.digest), "xxh3:0123456789abcdef");
	assert_int_equal(state_save(&st, &g, &d), 0);

	assert_int_equal(state_load(&st, 1, &back, &d), 0);
	assert_int_equal(back.owned.rules, 5);
	assert_int_equal(back.owned.n, 2);
	assert_int_equal(back.owned.v[0].kind, OWNED_JUMP);
	assert_int_equal(back.owned.v[1].kind, OWNED_ACCEPT);
	assert_string_equal(back.owned.digest, "xxh3:0123456789abcdef");
	assert_true(back.compiled_omitted);
	assert_null(back.compiled);

	/* saved again as loaded: still 5, not counted twice */
	back.number = 2;
	assert_int_equal(state_save(&st, &back, &d), 0);
	assert_int_equal(state_load(&st, 2, &again, &d), 0);
	assert_int_equal(again.owned.rules, 5);
	assert_int_equal(again.owned.n, 2);

	generation_free(&g);
	generation_free(&back);
	generation_free(&again);
	state_close(&st);
	diag_free(&d);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_digest_formats),
	    cmocka_unit_test(test_generation_keeps_rules_as_a_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
