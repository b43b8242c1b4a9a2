/*
 * The conntrack sysctl step against plain files (NOTRACKCTL_TEST_SYSCTL_ROOT):
 * the baseline a first apply records, releasing a key back to it, undo, the
 * drift count, and the checks that refuse before anything is written.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/ct_sysctl.h"

static char root[64];

static void put(const char *key, long long v)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/nf_conntrack_%s", root, key);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%lld\n", v);
	fclose(f);
}

static long long get(const char *key)
{
	struct diag d;
	long long v = -1;

	diag_init(&d);
	assert_int_equal(ct_sysctl_read(key, &v, &d), 0);
	diag_free(&d);
	return v;
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/notrackctl-ct-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	setenv("NOTRACKCTL_TEST_SYSCTL_ROOT", root, 1);
	put("max", 262144);
	put("buckets", 65536);
	put("tcp_timeout_time_wait", 120);
	return 0;
}

static int teardown(void **state)
{
	char path[256];
	const char *keys[] = {"max", "buckets", "tcp_timeout_time_wait"};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/nf_conntrack_%s", root, keys[i]);
		unlink(path);
	}
	unsetenv("NOTRACKCTL_TEST_SYSCTL_ROOT");
	return rmdir(root);
}

static struct ct_value val(const char *key, long long v)
{
	struct ct_value c = {.value = v};

	snprintf(c.key, sizeof(c.key), "%s", key);
	snprintf(c.path, sizeof(c.path), "$.conntrack.%s", key);
	return c;
}

static void test_apply_release_undo(void **state)
{
	struct ct_value want[] = {val("max", 524288), val("tcp_timeout_time_wait", 30)};
	struct ct_values base = {0}, before = {0};
	struct diag d;
	bool grew, changed;

	(void)state;
	diag_init(&d);
	assert_int_equal(ct_sysctl_check(want, 2, &d), 0);
	assert_int_equal(ct_sysctl_note_baseline(want, 2, &base, &grew, &d), 0);
	assert_true(grew);
	assert_int_equal(base.n, 2);
	assert_int_equal(ct_values_find(&base, "max")->value, 262144);
	assert_int_equal(ct_sysctl_apply(want, 2, &base, &before, &changed, &d), 0);
	assert_true(changed);
	assert_int_equal(get("max"), 524288);
	assert_int_equal(get("tcp_timeout_time_wait"), 30);
	assert_int_equal(ct_sysctl_drift(want, 2, 1, &d), 0);

	/* someone changes one behind our back: one drift warning */
	put("tcp_timeout_time_wait", 45);
	assert_int_equal(ct_sysctl_drift(want, 2, 1, &d), 1);
	assert_int_equal(d.n_warnings, 1);
	assert_non_null(strstr(d.warnings[0].msg, "is 45, generation 1 set 30"));

	/* the next change names only buckets: max and time_wait go back to
	 * exactly what they were before we first set them */
	struct ct_value next[] = {val("buckets", 131072)};
	struct ct_values before2 = {0};
	assert_int_equal(ct_sysctl_note_baseline(next, 1, &base, &grew, &d), 0);
	assert_int_equal(ct_sysctl_apply(next, 1, &base, &before2, &changed, &d), 0);
	assert_int_equal(get("max"), 262144);
	assert_int_equal(get("tcp_timeout_time_wait"), 120);
	assert_int_equal(get("buckets"), 131072);
	assert_int_equal(base.n, 1);
	assert_string_equal(base.v[0].key, "buckets");
	assert_int_equal(base.v[0].value, 65536);

	/* and undoing that change puts the values it found back */
	assert_int_equal(ct_sysctl_undo(&before2, &d), 0);
	assert_int_equal(get("max"), 524288);
	assert_int_equal(get("tcp_timeout_time_wait"), 45);
	assert_int_equal(get("buckets"), 65536);
	ct_values_free(&base);
	ct_values_free(&before);
	ct_values_free(&before2);
	diag_free(&d);
}

/* a refused write part-way: what was written goes back before it returns */
static void test_refused_write_is_undone(void **state)
{
	struct ct_value want[] = {val("max", 1000), val("tcp_timeout_time_wait", 10)};
	struct ct_values base = {0}, before = {0};
	struct diag d;
	bool grew, changed;

	(void)state;
	diag_init(&d);
	setenv("NOTRACKCTL_TEST_SYSCTL_FAIL", "tcp_timeout_time_wait", 1);
	assert_int_equal(ct_sysctl_note_baseline(want, 2, &base, &grew, &d), 0);
	assert_int_equal(ct_sysctl_apply(want, 2, &base, &before, &changed, &d), -EIO);
	unsetenv("NOTRACKCTL_TEST_SYSCTL_FAIL");
	assert_int_equal(d.kind, DIAG_KERNEL);
	assert_non_null(strstr(d.msg, "refused 10"));
	assert_int_equal(get("max"), 262144);
	ct_values_free(&base);
	ct_values_free(&before);
	diag_free(&d);
}

static void test_missing_key_is_refused(void **state)
{
	struct ct_value want[] = {val("gre_timeout", 30)}; /* no file for it here */
	struct diag d;

	(void)state;
	diag_init(&d);
	assert_int_equal(ct_sysctl_check(want, 1, &d), -ENOENT);
	assert_string_equal(d.path, "$.conntrack.gre_timeout");
	assert_non_null(strstr(d.msg, "this kernel has no net.netfilter.nf_conntrack_gre_timeout"));
	diag_free(&d);
}

static void test_key_table(void **state)
{
	const char *const *names = ct_sysctl_names();
	size_t n = 0;

	(void)state;
	for (; names[n]; n++)
		assert_ptr_equal(ct_sysctl_key(names[n])->name, names[n]);
	assert_true(n >= 30);
	assert_null(ct_sysctl_key("count")); /* read-only: never a setting */
	assert_int_equal(ct_sysctl_key("tcp_timeout_time_wait")->min, 1);
	assert_int_equal(ct_sysctl_key("tcp_loose")->max, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_apply_release_undo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_write_is_undone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_key_is_refused, setup, teardown),
	    cmocka_unit_test(test_key_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
