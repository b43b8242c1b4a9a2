#include "testlib.h"

/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *tl_path(const char *dir, const char *name, const char *ext)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s%s", dir, name, ext) >= 0);
	return p;
}

char *tl_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (cap - n < 4096) {
			char *nb = realloc(buf, cap + 65536);
			assert_non_null(nb);
			buf = nb;
			cap += 65536;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	assert_false(ferror(f));
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t tl_list_cases(const char *dir, const char *suffix, char ***names)
{
	size_t n = 0, slen = strlen(suffix);
	DIR *d = opendir(dir);
	struct dirent *e;

	*names = calloc(1, sizeof(**names));
	assert_non_null(*names);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len <= slen || strcmp(e->d_name + len - slen, suffix) != 0)
			continue;
		char **nn = realloc(*names, (n + 2) * sizeof(**names));
		assert_non_null(nn);
		*names = nn;
		(*names)[n] = strndup(e->d_name, len - slen);
		assert_non_null((*names)[n]);
		(*names)[++n] = NULL;
	}
	closedir(d);
	qsort(*names, n, sizeof(**names), cmp_names);
	return n;
}

void tl_free_names(char **names)
{
	for (char **p = names; p && *p; p++)
		free(*p);
	free(names);
}

int tl_run_cases(const char *group, const char *dir, size_t min_cases, void (*fn)(void **state))
{
	struct CMUnitTest *tests;
	char **names;
	size_t n = tl_list_cases(dir, ".json", &names);
	int failed;

	if (n < min_cases) {
		fprintf(stderr, "%s: %zu cases; expected at least %zu\n", dir, n, min_cases);
		tl_free_names(names);
		return 1;
	}
	tests = calloc(n, sizeof(*tests));
	assert_non_null(tests);
	for (size_t i = 0; i < n; i++)
		tests[i] = (struct CMUnitTest){.name = names[i], .test_func = fn, .initial_state = names[i]};
	failed = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
	free(tests);
	tl_free_names(names);
	return failed;
}

void tl_source_from_string(struct policy_source *src, const char *file, const char *text)
{
	memset(src, 0, sizeof(*src));
	src->file = strdup(file);
	src->text = strdup(text);
	assert_non_null(src->file);
	assert_non_null(src->text);
	src->len = strlen(text);
}

int tl_compile_source(const struct policy_source *src, const struct compile_options *opt, struct ruleset *rs,
		      struct diag *d)
{
	struct policy pol;
	int r;

	memset(rs, 0, sizeof(*rs));
	r = policy_parse(src, &pol, d);
	if (r == 0) {
		r = compile_policy(&pol, opt, rs, d);
		policy_free(&pol);
	}
	policy_locate(src, d);
	return r;
}

int tl_compile_file(const char *file, const struct compile_options *opt, struct ruleset *rs, struct diag *d)
{
	struct policy_source src;
	int r;

	memset(rs, 0, sizeof(*rs));
	r = policy_source_read(&src, file, d);
	if (r == 0)
		r = tl_compile_source(&src, opt, rs, d);
	policy_source_free(&src);
	return r;
}

void tl_format_error(const struct diag *d, char *buf, size_t size)
{
	snprintf(buf, size, "%u:%u: %s: %s", d->line, d->col, d->path, d->msg);
}

/* The line of s around offset: its start and its length. */
static const char *line_at(const char *s, size_t len, size_t offset, int *line_len)
{
	size_t start = offset, end = offset;

	while (start > 0 && s[start - 1] != '\n')
		start--;
	while (end < len && s[end] != '\n')
		end++;
	*line_len = (int)(end - start);
	return s + start;
}

void tl_check_golden(const char *golden_path, const char *text, size_t len)
{
	const char *update = getenv(TL_UPDATE_GOLDEN_ENV), *gl, *tl;
	size_t glen = 0, off = 0, line = 1;
	int gn, tn;
	char *golden;

	if (update && strcmp(update, "1") == 0) {
		FILE *f = fopen(golden_path, "wb");
		if (!f)
			fail_msg("cannot write %s: %s", golden_path, strerror(errno));
		assert_int_equal(fwrite(text, 1, len, f), len);
		assert_int_equal(fclose(f), 0);
		return;
	}
	golden = tl_read_file(golden_path, &glen);
	if (!golden)
		fail_msg("%s: missing (run with %s=1 to create it, then review it)", golden_path, TL_UPDATE_GOLDEN_ENV);
	if (glen == len && memcmp(golden, text, len) == 0) {
		free(golden);
		return;
	}
	for (; off < glen && off < len && golden[off] == text[off]; off++)
		line += golden[off] == '\n';
	gl = line_at(golden, glen, off, &gn);
	tl = line_at(text, len, off, &tn);
	print_error("%s:%zu: first difference\n  golden: %.*s\n  actual: %.*s\n", golden_path, line, gn, gl, tn, tl);
	free(golden);
	fail_msg("%s does not match (%s=1 rewrites it)", golden_path, TL_UPDATE_GOLDEN_ENV);
}

size_t tl_count_rules(const struct ruleset *rs, enum hook h)
{
	size_t n = 0;

	for (size_t i = 0; i < rs->n_rules; i++)
		n += rs->rules[i].hook == h;
	return n;
}
