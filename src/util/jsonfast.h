/*
 * json_loadb(text, len, JSON_REJECT_DUPLICATES, ...) without jansson's
 * character-at-a-time reader, for the plain JSON policies are made of.
 * Returns the same tree, or NULL when it declines the text (anything
 * outside its subset, valid or not, and any error): the caller then calls
 * json_loadb(), which parses it or reports the error as it always did.
 */
#pragma once
#include <jansson.h>
#include <stddef.h>

json_t *jsonfast_loadb(const char *text, size_t len);
