/* seqdiff: the shortest edit script behind `diff` and apply's change list. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/seqdiff.h"

/* Renders the script as one string: "=x" same, "-x" deleted, "+x" inserted. */
struct script {
	const char *const *a, *const *b;
	char text[256];
};

static int record(enum seqdiff_op op, size_t ia, size_t ib, void *ctx)
{
	struct script *s = ctx;
	const char *v = op == SEQDIFF_INSERT ? s->b[ib] : s->a[ia];
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%s%c%s", n ? " " : "",
		 op == SEQDIFF_SAME	? '='
		 : op == SEQDIFF_DELETE ? '-'
					: '+',
		 v);
	return 0;
}

static void check(const char *const *a, size_t na, const char *const *b, size_t nb, const char *want)
{
	struct script s = {.a = a, .b = b};

	assert_int_equal(seqdiff(a, na, b, nb, record, &s), 0);
	assert_string_equal(s.text, want);
}

static void test_identical_and_empty(void **state)
{
	static const char *const x[] = {"a", "b", "c"};

	(void)state;
	check(x, 3, x, 3, "=a =b =c");
	check(x, 0, x, 0, "");
	check(x, 3, x, 0, "-a -b -c");
	check(x, 0, x, 3, "+a +b +c");
}

static void test_only_real_changes(void **state)
{
	/* nginx → dns: the loopback rule in the middle stays */
	static const char *const have[] = {"keep22", "lo", "svc80"};
	static const char *const want[] = {"lo", "udp53", "tcp53"};
	static const char *const ins_have[] = {"a", "c"};
	static const char *const ins_want[] = {"a", "b", "c"};

	(void)state;
	check(have, 3, want, 3, "-keep22 =lo -svc80 +udp53 +tcp53");
	check(ins_have, 2, ins_want, 3, "=a +b =c");
	check(ins_want, 3, ins_have, 2, "=a -b =c");
}

static void test_reorder_is_delete_and_insert(void **state)
{
	static const char *const a[] = {"x", "y"};
	static const char *const b[] = {"y", "x"};

	(void)state;
	check(a, 2, b, 2, "-x =y +x");
}

static int stop_at_second(enum seqdiff_op op, size_t ia, size_t ib, void *ctx)
{
	(void)op;
	(void)ia;
	(void)ib;
	return ++*(int *)ctx == 2 ? -EIO : 0;
}

static void test_callback_error_stops(void **state)
{
	static const char *const a[] = {"1", "2", "3"};
	int calls = 0;

	(void)state;
	assert_int_equal(seqdiff(a, 3, a, 3, stop_at_second, &calls), -EIO);
	assert_int_equal(calls, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_identical_and_empty),
	    cmocka_unit_test(test_only_real_changes),
	    cmocka_unit_test(test_reorder_is_delete_and_insert),
	    cmocka_unit_test(test_callback_error_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
