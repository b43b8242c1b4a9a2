/* jsonpos: mapping JSON paths to positions and positions back to paths. */
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

#include "util/jsonpos.h"

static const char doc[] =
    "{\n"
    "  \"version\": 1,\n"
    "  \"notrack\": {\n"
    "    \"services\": [\n"
    "      { \"proto\": \"tcp\", \"ports\": [80, \"8000-8099\", 443] },\n"
    "      { \"proto\": \"udp\", \"ports\": [53], \"peers\": [\"10.0.0.0/8\"] }\n"
    "    ]\n"
    "  },\n"
    "  \"we\\\"ird\": {\"a\\\\b\": [1], \"x.y\": 2, \"t\\tab\": 3, \"\\u00e9t\\u00E9\": 4, \"\\ud83d\\ude00\": 5},\n"
    "  \"caf\xc3\xa9\": {\"na\xc3\xafve\": [true, {\"k\": null}]}\n"
    "}\n";

struct find_case {
	const char *path;
	int r;
	unsigned line, col;
};

static void check_find(const char *text, const struct find_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned line = 0, col = 0;
		int r = jsonpos_find(text, strlen(text), cases[i].path, &line, &col);
		if (r != cases[i].r || line != cases[i].line || col != cases[i].col)
			fail_msg("%s: got %d at %u:%u, want %d at %u:%u", cases[i].path, r, line, col, cases[i].r,
				 cases[i].line, cases[i].col);
	}
}

static void test_find_members_and_elements(void **state)
{
	static const struct find_case cases[] = {
	    {"$", 0, 1, 1},
	    {"$.version", 0, 2, 3},
	    {"$.notrack", 0, 3, 3},
	    {"$.notrack.services", 0, 4, 5},
	    {"$.notrack.services[0]", 0, 5, 7},
	    {"$.notrack.services[0].proto", 0, 5, 9},
	    {"$.notrack.services[0].ports[0]", 0, 5, 35},
	    {"$.notrack.services[0].ports[1]", 0, 5, 39},
	    {"$.notrack.services[0].ports[2]", 0, 5, 52},
	    {"$.notrack.services[1]", 0, 6, 7},
	    {"$.notrack.services[1].peers[0]", 0, 6, 50},
	};

	(void)state;
	check_find(doc, cases, sizeof(cases) / sizeof(cases[0]));
}

/* A path that is not there points at the deepest member or element that is. */
static void test_find_missing(void **state)
{
	static const struct find_case cases[] = {
	    {"$.nothing", -ENOENT, 1, 1},
	    {"$.notrack.services[2]", -ENOENT, 4, 5},
	    {"$.notrack.services[0].peers", -ENOENT, 5, 7},
	    {"$.notrack.services[0].ports[3]", -ENOENT, 5, 25},
	    {"$.version[0]", -ENOENT, 2, 3},
	};

	(void)state;
	check_find(doc, cases, sizeof(cases) / sizeof(cases[0]));
}

/* Keys with quotes, backslashes, dots, control characters and \u escapes,
 * written in paths the way jsonpos_append_key writes them. */
static void test_find_escaped_keys(void **state)
{
	static const struct find_case cases[] = {
	    {"$[\"we\\\"ird\"]", 0, 9, 3},
	    {"$[\"we\\\"ird\"][\"a\\\\b\"][0]", 0, 9, 24},
	    {"$[\"we\\\"ird\"][\"x.y\"]", 0, 9, 28},
	    {"$[\"we\\\"ird\"][\"t\\u0009ab\"]", 0, 9, 38},
	    {"$[\"we\\\"ird\"][\"\xc3\xa9t\xc3\xa9\"]", 0, 9, 50},
	    {"$[\"we\\\"ird\"][\"\xf0\x9f\x98\x80\"]", 0, 9, 70},
	    {"$[\"caf\xc3\xa9\"]", 0, 10, 3},
	    {"$[\"caf\xc3\xa9\"][\"na\xc3\xafve\"][1].k", 0, 10, 29},
	};
	char path[128] = "$";

	(void)state;
	check_find(doc, cases, sizeof(cases) / sizeof(cases[0]));
	/* the same paths, built */
	jsonpos_append_key(path, sizeof(path), "we\"ird");
	jsonpos_append_key(path, sizeof(path), "t\tab");
	assert_string_equal(path, cases[3].path);
}

static void test_line_col_counts_characters(void **state)
{
	static const char text[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z\n\nx";
	unsigned line, col;

	(void)state;
	jsonpos_line_col(text, strlen(text), 0, &line, &col);
	assert_true(line == 1 && col == 1);
	jsonpos_line_col(text, strlen(text), 10, &line, &col); /* 'z' after three multi-byte characters */
	assert_true(line == 1 && col == 5);
	jsonpos_line_col(text, strlen(text), 11, &line, &col); /* the newline itself */
	assert_true(line == 1 && col == 6);
	jsonpos_line_col(text, strlen(text), 12, &line, &col);
	assert_true(line == 2 && col == 1);
	jsonpos_line_col(text, strlen(text), 13, &line, &col);
	assert_true(line == 3 && col == 1);
	jsonpos_line_col(text, strlen(text), 999, &line, &col); /* clamped to the end */
	assert_true(line == 3 && col == 2);
}

struct path_at_case {
	const char *text;
	const char *mark; /* the offset is where this substring starts */
	const char *path;
};

static void test_path_at(void **state)
{
	static const struct path_at_case cases[] = {
	    {"{\"a\": 1}", "{", "$"},
	    {"{\"a\": 1}", "1", "$.a"},
	    {"{\"a\": [1, 2, 3]}", "3", "$.a[2]"},
	    {"{\"a\": {\"b\": [true, {\"c\": x}]}}", "x", "$.a.b[1].c"},
	    {"{\"a\": 1, \"b\": 2}", "2", "$.b"},
	    {"{\"a\": 1, }", "}", "$"},
	    {"{\"a\": [1], \"b\": [2, {\"k\": 3}, 4]}", "4", "$.b[2]"},
	    {"{\"k[]\": {\"q\\\"\": 0}}", "0", "$[\"k[]\"][\"q\\\"\"]"},
	    {"{\"\\u00e9\\n\": [0, 1]}", "1", "$[\"\xc3\xa9\\u000a\"][1]"},
	    {"{\"s\": \"a,b]}\", \"t\": 1}", "1", "$.t"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *text = cases[i].text;
		char path[256];
		jsonpos_path_at(text, strlen(text), (size_t)(strstr(text, cases[i].mark) - text), path, sizeof(path));
		assert_string_equal(path, cases[i].path);
	}
}

/* Nesting deeper than tracked gives the tracked part and says it is cut. */
static void test_path_at_too_deep(void **state)
{
	char text[300], path[512];

	(void)state;
	memset(text, '[', 200);
	jsonpos_path_at(text, 200, 200, path, sizeof(path));
	assert_int_equal(strlen(path), 1 + 64 * 3 + 3);
	assert_string_equal(path + strlen(path) - 6, "[0]...");
}

static void test_token_start(void **state)
{
	static const char text[] = "{\"key\": tru, \"s\\\"q\": 12345, [\"open";
	size_t len = strlen(text);

	(void)state;
	assert_int_equal(jsonpos_token_start(text, len, 0), 0);
	assert_int_equal(jsonpos_token_start(text, len, 1), 0);		/* '{' */
	assert_int_equal(jsonpos_token_start(text, len, 6), 1);		/* "key" */
	assert_int_equal(jsonpos_token_start(text, len, 11), 8);	/* tru */
	assert_int_equal(jsonpos_token_start(text, len, 19), 13);	/* "s\"q" */
	assert_int_equal(jsonpos_token_start(text, len, 20), 19);	/* ':' */
	assert_int_equal(jsonpos_token_start(text, len, 26), 21);	/* 12345 */
	assert_int_equal(jsonpos_token_start(text, len, len), 29);	/* the string left open */
	assert_int_equal(jsonpos_token_start(text, len, len + 10), 29); /* clamped */
}

static void test_append_key_and_index(void **state)
{
	static const struct {
		const char *key, *want;
	} cases[] = {
	    {"ports", "$.ports"},
	    {"keep_tracked", "$.keep_tracked"},
	    {"x-y", "$.x-y"},
	    {"9lives", "$[\"9lives\"]"},
	    {"", "$[\"\"]"},
	    {"a.b", "$[\"a.b\"]"},
	    {"q\"uote", "$[\"q\\\"uote\"]"},
	    {"back\\slash", "$[\"back\\\\slash\"]"},
	    {"new\nline\x1b", "$[\"new\\u000aline\\u001b\"]"},
	    {"caf\xc3\xa9", "$[\"caf\xc3\xa9\"]"},
	};
	char path[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "$");
		jsonpos_append_key(path, sizeof(path), cases[i].key);
		assert_string_equal(path, cases[i].want);
	}
	snprintf(path, sizeof(path), "$.a");
	jsonpos_append_index(path, sizeof(path), 12);
	assert_string_equal(path, "$.a[12]");
	/* never overflows: a full buffer stays terminated */
	snprintf(path, 8, "$");
	jsonpos_append_key(path, 8, "a very long key");
	assert_true(strlen(path) < 8);
	jsonpos_append_index(path, 8, 123456789);
	assert_true(strlen(path) < 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find_members_and_elements),
	    cmocka_unit_test(test_find_missing),
	    cmocka_unit_test(test_find_escaped_keys),
	    cmocka_unit_test(test_line_col_counts_characters),
	    cmocka_unit_test(test_path_at),
	    cmocka_unit_test(test_path_at_too_deep),
	    cmocka_unit_test(test_token_start),
	    cmocka_unit_test(test_append_key_and_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
