/*
 * A fast path in front of json_loadb() for the JSON a policy is made of.
 *
 * jansson reads a character at a time through a stream that tracks lines,
 * columns and UTF-8 state, copies each token into a buffer and converts
 * numbers with strtoll(): for a 70 KB policy of 10,000 ports that was the
 * largest single cost of an apply that changes one port.  This parser walks
 * the bytes directly and builds the same jansson values with jansson's own
 * constructors.  It accepts only a subset it can decide on its own (strings
 * without escapes or control characters, integers of at most 18 digits, no
 * duplicate keys, modest nesting) and declines everything else, valid or
 * not, so that json_loadb() parses it and reports any error exactly as
 * before.  For what it accepts, json_loadb(..., JSON_REJECT_DUPLICATES)
 * would build an equal tree, members in the same order.
 */
#include "util/jsonfast.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* jansson refuses nesting deeper than 2048; well inside that is plenty */
#define JSONFAST_MAX_DEPTH 64

struct fast {
	const char *p, *end;
};

static json_t *value(struct fast *f, unsigned depth);

/* the four whitespace characters of RFC 8259, as jansson's lexer has them */
static void skip_ws(struct fast *f)
{
	while (f->p < f->end && (*f->p == ' ' || *f->p == '\n' || *f->p == '\t' || *f->p == '\r'))
		f->p++;
}

/* A string without escapes or control characters: its bytes between the
 * quotes, or false to decline. */
static bool plain_string(struct fast *f, const char **start, size_t *len)
{
	const char *s;

	if (f->p == f->end || *f->p != '"')
		return false;
	s = ++f->p;
	while (f->p < f->end && *f->p != '"') {
		unsigned char c = (unsigned char)*f->p;
		if (c < 0x20 || c == '\\')
			return false;
		f->p++;
	}
	if (f->p == f->end)
		return false;
	*start = s;
	*len = (size_t)(f->p - s);
	f->p++;
	return true;
}

static json_t *string(struct fast *f)
{
	const char *s;
	size_t len;

	/* json_stringn() checks UTF-8 as jansson's lexer does: NULL declines */
	return plain_string(f, &s, &len) ? json_stringn(s, len) : NULL;
}

/* -?(0|[1-9][0-9]*), at most 18 digits (no overflow), not followed by a
 * fraction or an exponent (a real: declined). */
static json_t *integer(struct fast *f)
{
	bool neg = false;
	uint64_t v = 0;
	size_t digits = 0;

	if (*f->p == '-') {
		neg = true;
		f->p++;
	}
	if (f->p == f->end || *f->p < '0' || *f->p > '9')
		return NULL;
	if (*f->p == '0' && f->p + 1 < f->end && f->p[1] >= '0' && f->p[1] <= '9')
		return NULL; /* a leading zero: jansson's error, not ours */
	while (f->p < f->end && *f->p >= '0' && *f->p <= '9') {
		v = v * 10 + (uint64_t)(*f->p++ - '0');
		if (++digits > 18)
			return NULL;
	}
	if (f->p < f->end && (*f->p == '.' || *f->p == 'e' || *f->p == 'E'))
		return NULL;
	return json_integer(neg ? -(json_int_t)v : (json_int_t)v);
}

static json_t *literal(struct fast *f, const char *word, json_t *(*make)(void))
{
	size_t n = strlen(word);

	if ((size_t)(f->end - f->p) < n || memcmp(f->p, word, n))
		return NULL;
	f->p += n;
	return make();
}

/* After a member: 1 past the closing bracket, 0 past a comma, -1 to decline. */
static int next_member(struct fast *f, char close)
{
	skip_ws(f);
	if (f->p == f->end)
		return -1;
	if (*f->p == close) {
		f->p++;
		return 1;
	}
	if (*f->p++ != ',')
		return -1;
	skip_ws(f);
	return 0;
}

/* One member of an object: "key": value, added to o. */
static bool object_member(struct fast *f, json_t *o, unsigned depth)
{
	const char *k;
	size_t klen;
	json_t *v;

	/* a duplicate key is jansson's error to report */
	if (!plain_string(f, &k, &klen) || memchr(k, '\0', klen) || json_object_getn(o, k, klen))
		return false;
	skip_ws(f);
	if (f->p == f->end || *f->p++ != ':')
		return false;
	skip_ws(f);
	v = value(f, depth + 1);
	/* json_object_setn_new() checks the key's UTF-8 */
	return v && json_object_setn_new(o, k, klen, v) == 0;
}

/* An array or an object, at its opening bracket. */
static json_t *container(struct fast *f, unsigned depth)
{
	bool object = *f->p == '{';
	char close = object ? '}' : ']';
	json_t *c = object ? json_object() : json_array();
	int r = 0;

	f->p++;
	skip_ws(f);
	if (c && f->p < f->end && *f->p == close) {
		f->p++;
		return c;
	}
	while (c && r == 0) {
		if (object) {
			if (!object_member(f, c, depth))
				break;
		} else {
			json_t *v = value(f, depth + 1);
			if (!v || json_array_append_new(c, v) < 0)
				break;
		}
		r = next_member(f, close);
	}
	if (r == 1)
		return c;
	json_decref(c);
	return NULL;
}

static json_t *value(struct fast *f, unsigned depth)
{
	if (f->p == f->end || depth > JSONFAST_MAX_DEPTH)
		return NULL;
	switch (*f->p) {
	case '{':
	case '[': return container(f, depth);
	case '"': return string(f);
	case 't': return literal(f, "true", json_true);
	case 'f': return literal(f, "false", json_false);
	case 'n': return literal(f, "null", json_null);
	default: return integer(f);
	}
}

json_t *jsonfast_loadb(const char *text, size_t len)
{
	struct fast f = {text, text + len};
	json_t *root;

	skip_ws(&f);
	/* without JSON_DECODE_ANY, jansson wants an object or an array */
	if (f.p == f.end || (*f.p != '{' && *f.p != '['))
		return NULL;
	root = value(&f, 0);
	if (!root)
		return NULL;
	skip_ws(&f);
	if (f.p != f.end) { /* something after the value: jansson's error */
		json_decref(root);
		return NULL;
	}
	return root;
}
