/*
 * Helpers shared by the unit tests: reading files, listing the case
 * directories, running a policy through parse + compile the way the CLI
 * does, formatting the one-line error, and golden-file comparison.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "util/diag.h"
#include "policy/policy.h"
#include "compile/ruleset.h"

/* Set NOTRACKCTL_UPDATE_GOLDEN=1 to rewrite golden files instead of comparing. */
#define TL_UPDATE_GOLDEN_ENV "NOTRACKCTL_UPDATE_GOLDEN"

/* "DIR/NAME.EXT"; aborts the test on allocation failure.  Caller frees. */
char *tl_path(const char *dir, const char *name, const char *ext);

/* Whole file, NUL-terminated; NULL if it cannot be read.  Caller frees. */
char *tl_read_file(const char *path, size_t *len);

/* Sorted names (without the suffix) of the files in dir ending in suffix.
 * Returns the count; *names is a NULL-terminated array, freed with tl_free_names. */
size_t tl_list_cases(const char *dir, const char *suffix, char ***names);
void tl_free_names(char **names);

/* Runs fn once per DIR/NAME.json, as a cmocka group of tests named NAME whose
 * state is NAME.  Returns the number of failures; fewer than min_cases files
 * count as a failure too (a wrong directory must not pass). */
int tl_run_cases(const char *group, const char *dir, size_t min_cases, void (*fn)(void **state));

/* A policy source made from a string, named `file` in messages. */
void tl_source_from_string(struct policy_source *src, const char *file, const char *text);

/* The pipeline as the CLI runs it: parse, compile, locate.  src must be
 * loaded; on success *rs holds the ruleset.  Warnings stay in d. */
int tl_compile_source(const struct policy_source *src, const struct compile_options *opt, struct ruleset *rs,
		      struct diag *d);
/* Reads file first (policy_source_read), then as above; frees the source. */
int tl_compile_file(const char *file, const struct compile_options *opt, struct ruleset *rs, struct diag *d);

/* "LINE:COL: PATH: MSG", the CLI's error line without the file name. */
void tl_format_error(const struct diag *d, char *buf, size_t size);

/* Compares text with the golden file, or rewrites it when
 * NOTRACKCTL_UPDATE_GOLDEN=1.  Fails the running cmocka test on a mismatch,
 * naming the first line that differs. */
void tl_check_golden(const char *golden_path, const char *text, size_t len);

/* The number of rules on one hook. */
size_t tl_count_rules(const struct ruleset *rs, enum hook h);
