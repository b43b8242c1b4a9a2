/*
 * jansson validates JSON but forgets where values were.  These helpers walk
 * the original text again to map a JSON path such as
 * "$.notrack.services[1].ports[2]" to a 1-based line and column, and a byte
 * offset (from a jansson syntax error) back to the path being parsed there.
 */
#pragma once
#include <stddef.h>

/* Position of the member (its key) or array element named by path.  Returns 0,
 * or -ENOENT if the path is not in the text (then line/col point at the
 * deepest container that was found). */
int jsonpos_find(const char *text, size_t len, const char *path, unsigned *line, unsigned *col);

/* Path of the container (and member key, if one was read) at byte offset. */
void jsonpos_path_at(const char *text, size_t len, size_t offset, char *path, size_t path_size);

/* Start of the token whose last byte is at end - 1: a string, a bare word or
 * number (valid or not), or one punctuation character.  For a string left
 * open at the end of the text, its opening quote. */
size_t jsonpos_token_start(const char *text, size_t len, size_t end);

/* Line and column of a byte offset; columns count characters, not bytes. */
void jsonpos_line_col(const char *text, size_t len, size_t offset, unsigned *line, unsigned *col);

/* Appends ".key" or "[\"key\"]" to path, whichever is valid; in the bracket
 * form '"' and '\\' are escaped and control characters written as \u00XX. */
void jsonpos_append_key(char *path, size_t path_size, const char *key);
void jsonpos_append_index(char *path, size_t path_size, size_t index);
