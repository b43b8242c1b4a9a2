/* jsonfast: the tree jansson would build, or a decline; never a tree where
 * jansson reports an error. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonfast.h"

static size_t n_accepted, n_compared;

/* jsonfast agrees with json_loadb(): the same members in the same order,
 * or it declined.  Returns whether it accepted. */
static bool agrees(const char *text, size_t len)
{
	json_error_t jerr;
	json_t *slow = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *fast = jsonfast_loadb(text, len);
	bool accepted = fast != NULL;

	n_compared++;
	if (fast) {
		char *a, *b;
		n_accepted++;
		if (!slow)
			fail_msg("jsonfast accepted what jansson refuses (%s): %.*s", jerr.text, (int)len, text);
		assert_true(json_equal(slow, fast));
		a = json_dumps(slow, JSON_COMPACT | JSON_ENCODE_ANY);
		b = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
		assert_non_null(a);
		assert_non_null(b);
		assert_string_equal(a, b);
		free(a);
		free(b);
	}
	json_decref(slow);
	json_decref(fast);
	return accepted;
}

static bool agrees_str(const char *text)
{
	return agrees(text, strlen(text));
}

static void test_plain_policy_accepted(void **state)
{
	(void)state;
	assert_true(agrees_str("{\"version\": 1, \"notrack\": {\"services\": [{\"proto\": \"tcp\", \"ports\": [80, "
			       "\"8000-8099\", 443], \"peers\": [\"10.0.0.0/8\"]}]}, \"x\": [true, false, null, "
			       "-0, 0, -12, 999999999999999999, {}, []]}"));
	assert_true(agrees_str(" \t\r\n[ ] \n"));
	assert_true(agrees_str("{\"caf\xc3\xa9\": \"na\xc3\xafve\"}"));
	assert_true(agrees_str("[[[[[[[[1]]]]]]]]"));
}

/* Everything outside the subset is declined, valid or not, so that jansson
 * parses it or reports the error as before. */
static void test_declined(void **state)
{
	(void)state;
	static const char *const cases[] = {
	    "{\"a\": \"x\\ny\"}", /* an escape */
	    "{\"a\\u0000b\": 1}", /* an escaped NUL in a key */
	    "{\"a\": 1.5}",	  /* a real */
	    "{\"a\": 1e3}",	  /* an exponent */
	    "{\"a\": 1E3}",
	    "{\"a\": 1234567890123456789}",  /* 19 digits */
	    "{\"a\": 99999999999999999999}", /* too big for jansson too */
	    "{\"a\": 1, \"a\": 2}",	     /* a duplicate key */
	    "{\"a\": 01}",		     /* a leading zero */
	    "{\"a\": -}",
	    "{\"a\": +1}",
	    "{\"a\": .5}",
	    "{\"a\": 1,}", /* a trailing comma */
	    "[1,]",
	    "[1 2]",
	    "{\"a\" 1}",
	    "{a: 1}",
	    "{\"a\": tru}",
	    "{\"a\": truex}",
	    "{\"a\": nul}",
	    "{\"a\": \"\x01\"}",	 /* a control character */
	    "{\"a\": \"\xc3\"}",	 /* broken UTF-8 */
	    "{\"a\": \"\xed\xa0\x80\"}", /* a surrogate in UTF-8 */
	    "{\"a\": \"\xc0\xaf\"}",	 /* overlong */
	    "{\"\xff\": 1}",
	    "{\"a\": 1} x", /* something after the value */
	    "{\"a\": 1}}",
	    "1", /* not an object or an array */
	    "\"s\"",
	    "true",
	    "",
	    "   ",
	    "{",
	    "[",
	    "{\"a\": [1, 2",
	    "{\"a\": \"open",
	    "{\"a\"",
	    "{\"a\":",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_false(agrees_str(cases[i]));
	/* nesting beyond what the fast path takes, within jansson's limit */
	char deep[400];
	memset(deep, '[', 200);
	memset(deep + 200, ']', 200);
	assert_false(agrees(deep, sizeof(deep)));
}

/* Every byte of a policy changed, removed or cut in turn: wherever jsonfast
 * accepts, jansson builds the same tree. */
static void test_mutations(void **state)
{
	static const char base[] = "{\"version\": 1, \"notrack\": {\"services\": [{\"proto\": \"udp\", \"ports\": "
				   "[53, 5353, \"6000-6010\"], \"peers\": [\"192.0.2.0/24\", \"2001:db8::/32\"]}], "
				   "\"keep_tracked\": [{\"ports\": [0, -1, 22]}]}, \"t\": true, \"n\": null}";
	static const char bytes[] = "{}[]\",:0123456789-+.eE \\tfnux\x01\x80\xff";
	char buf[sizeof(base)];
	size_t len = sizeof(base) - 1;

	(void)state;

	n_accepted = n_compared = 0;
	for (size_t i = 0; i < len; i++) {
		for (size_t b = 0; b < sizeof(bytes) - 1; b++) {
			memcpy(buf, base, len);
			buf[i] = bytes[b];
			agrees(buf, len);
		}
		memcpy(buf, base, i); /* without byte i */
		memcpy(buf + i, base + i + 1, len - i - 1);
		agrees(buf, len - 1);
		agrees(base, i); /* cut at i */
	}
	/* most mutations break the text; enough of them must not, or this
	 * checks nothing */
	assert_true(n_accepted > len);
}

static int check_file(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	size_t n = strlen(path);
	if (type != FTW_F || n < 5 || strcmp(path + n - 5, ".json"))
		return 0;
	FILE *f = fopen(path, "rb");
	char *text = malloc(1 << 20);
	size_t len;
	assert_non_null(f);
	assert_non_null(text);
	len = fread(text, 1, 1 << 20, f);
	fclose(f);
	agrees(text, len);
	free(text);
	return 0;
}

/* The policies, cases and examples of this tree. */
static void test_corpus(void **state)
{
	static const char *const dirs[] = {"", "/../../examples", "/../../policies", "/../lint-corpus",
					   "/../lint-cases"};
	char dir[4096];

	(void)state;
	n_accepted = n_compared = 0;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(dir, sizeof(dir), "%s%s", NOTRACKCTL_CASES_DIR, dirs[i]);
		nftw(dir, check_file, 16, FTW_PHYS);
	}
	assert_true(n_compared > 20);
	assert_true(n_accepted > n_compared / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_policy_accepted),
	    cmocka_unit_test(test_declined),
	    cmocka_unit_test(test_mutations),
	    cmocka_unit_test(test_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
