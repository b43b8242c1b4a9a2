/* strbuf: the growable text buffer every emitter writes into. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

static void test_empty(void **state)
{
	struct strbuf sb;
	char *s;

	(void)state;
	strbuf_init(&sb);
	assert_null(sb.data);
	assert_int_equal(sb.len, 0);
	strbuf_reset(&sb);    /* fine on an empty buffer */
	s = strbuf_take(&sb); /* an empty string, not NULL */
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	assert_null(sb.data);
	strbuf_free(&sb);
}

static void test_appends_grow_and_terminate(void **state)
{
	_cleanup_strbuf_ struct strbuf sb;
	char expect[10001];

	(void)state;
	strbuf_init(&sb);
	for (size_t i = 0; i < 10000; i++) {
		assert_int_equal(strbuf_putc(&sb, (char)('a' + i % 26)), 0);
		expect[i] = (char)('a' + i % 26);
	}
	expect[10000] = '\0';
	assert_int_equal(sb.len, 10000);
	assert_true(sb.cap > sb.len);
	assert_string_equal(sb.data, expect);

	strbuf_reset(&sb);
	assert_int_equal(sb.len, 0);
	assert_string_equal(sb.data, "");
	assert_int_equal(strbuf_puts(&sb, "ab"), 0);
	assert_int_equal(strbuf_putn(&sb, "cd\0ef", 5), 0); /* bytes, NULs included */
	assert_int_equal(sb.len, 7);
	assert_memory_equal(sb.data, "abcd\0ef", 8);
}

static void test_printf(void **state)
{
	_cleanup_strbuf_ struct strbuf sb;
	char big[1000];

	(void)state;
	strbuf_init(&sb);
	assert_int_equal(strbuf_printf(&sb, "%s/%u", "tcp", 443u), 0);
	assert_int_equal(strbuf_printf(&sb, "%s", ""), 0);
	assert_int_equal(strbuf_printf(&sb, ",%05d", 7), 0);
	assert_string_equal(sb.data, "tcp/443,00007");
	assert_int_equal(sb.len, strlen("tcp/443,00007"));
	/* longer than the first allocation in one go */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(strbuf_printf(&sb, "[%s]", big), 0);
	assert_int_equal(sb.len, 13 + 1001);
	assert_int_equal(sb.data[sb.len - 1], ']');
	assert_int_equal(sb.data[sb.len], '\0');
}

static void test_take_hands_over(void **state)
{
	struct strbuf sb;
	char *s;

	(void)state;
	strbuf_init(&sb);
	strbuf_puts(&sb, "rule");
	s = strbuf_take(&sb);
	assert_string_equal(s, "rule");
	assert_null(sb.data);
	assert_int_equal(sb.len, 0);
	/* the buffer is usable again */
	strbuf_puts(&sb, "next");
	assert_string_equal(sb.data, "next");
	strbuf_free(&sb);
	free(s);
}

/* Once an allocation failed, every later append fails and take gives NULL,
 * so an emitter can check once at the end. */
static void test_oom_is_sticky(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb);
	strbuf_puts(&sb, "partial");
	sb.oom = 1;
	assert_int_equal(strbuf_puts(&sb, "more"), -ENOMEM);
	assert_int_equal(strbuf_putc(&sb, 'x'), -ENOMEM);
	assert_int_equal(strbuf_printf(&sb, "%d", 1), -ENOMEM);
	assert_string_equal(sb.data, "partial");
	assert_null(strbuf_take(&sb));
	assert_null(sb.data); /* take freed it */
}

/* A size that cannot be allocated fails cleanly and sets oom. */
static void test_impossible_size(void **state)
{
	_cleanup_strbuf_ struct strbuf sb;

	(void)state;
	strbuf_init(&sb);
	strbuf_puts(&sb, "x");
	assert_int_equal(strbuf_putn(&sb, "", SIZE_MAX - 1), -ENOMEM);
	assert_true(sb.oom);
	assert_int_equal(sb.len, 1);
}

/* A limit stops the text at a size: the append that would pass it fails
 * and every later one too, and over_limit says why. */
static void test_limit(void **state)
{
	_cleanup_strbuf_ struct strbuf sb;

	(void)state;
	strbuf_init(&sb);
	sb.limit = 8;
	assert_int_equal(strbuf_puts(&sb, "12345678"), 0);
	assert_false(sb.over_limit);
	assert_int_equal(strbuf_putc(&sb, '9'), -ENOMEM);
	assert_true(sb.over_limit);
	assert_int_equal(strbuf_puts(&sb, ""), -ENOMEM);
	assert_string_equal(sb.data, "12345678");
	assert_int_equal(sb.len, 8);

	/* printf checks the limit against what it formats, exactly: up to
	 * the limit fits, one byte more does not, whatever the capacity */
	strbuf_free(&sb);
	sb.limit = 300;
	for (int i = 0; i < 240; i++)
		strbuf_putc(&sb, 'x');
	assert_int_equal(strbuf_printf(&sb, "%s", "0123456789"), 0);
	assert_int_equal(sb.len, 250);
	assert_int_equal(strbuf_printf(&sb, "%050d", 7), 0);
	assert_int_equal(sb.len, 300);
	assert_false(sb.over_limit);
	assert_int_equal(strbuf_printf(&sb, "%d", 1), -ENOMEM);
	assert_true(sb.over_limit);
	assert_int_equal(sb.len, 300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),	  cmocka_unit_test(test_appends_grow_and_terminate),
	    cmocka_unit_test(test_printf),	  cmocka_unit_test(test_take_hands_over),
	    cmocka_unit_test(test_oom_is_sticky), cmocka_unit_test(test_impossible_size),
	    cmocka_unit_test(test_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
