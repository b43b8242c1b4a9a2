#include "util/jsonpos.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSONPOS_MAX_TRACKED_DEPTH 64

struct cursor {
	const char *text;
	size_t len;
	size_t pos;
};

static void skip_ws(struct cursor *c)
{
	while (c->pos < c->len && strchr(" \t\r\n", c->text[c->pos]) && c->text[c->pos])
		c->pos++;
}

static bool at(struct cursor *c, char ch)
{
	return c->pos < c->len && c->text[c->pos] == ch;
}

/* Skips a string starting at its opening quote; leaves pos after the closing quote. */
static void skip_string(struct cursor *c)
{
	c->pos++;
	while (c->pos < c->len && c->text[c->pos] != '"') {
		if (c->text[c->pos] == '\\')
			c->pos++;
		c->pos++;
	}
	if (c->pos < c->len)
		c->pos++;
}

/* Skips any value; the text was already validated, so brackets balance. */
static void skip_value(struct cursor *c)
{
	size_t depth = 0;

	skip_ws(c);
	do {
		if (c->pos >= c->len)
			return;
		char ch = c->text[c->pos];
		if (ch == '"') {
			skip_string(c);
		} else if (ch == '[' || ch == '{') {
			depth++;
			c->pos++;
		} else if (ch == ']' || ch == '}') {
			if (depth == 0)
				return;
			depth--;
			c->pos++;
		} else if (depth == 0 && (ch == ',' || ch == ':')) {
			return;
		} else {
			c->pos++;
		}
		if (depth > 0)
			continue;
		/* a scalar at depth 0 ends at a delimiter */
		while (c->pos < c->len && !strchr(",]} \t\r\n", c->text[c->pos]))
			c->pos++;
		return;
	} while (1);
}

/* Reads the 4 hex digits of a \u escape; -1 if they are not all there. */
static long hex4(const char *s, size_t avail)
{
	long v = 0;

	if (avail < 4)
		return -1;
	for (size_t i = 0; i < 4; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -1;
		v = v * 16 + (isdigit((unsigned char)s[i]) ? s[i] - '0' : tolower((unsigned char)s[i]) - 'a' + 10);
	}
	return v;
}

/* Decodes the \u escape at text[p] (just past the backslash), a surrogate
 * pair included, as UTF-8 into out.  Returns the byte count and advances *p to
 * its last character; 0 if it is malformed or a NUL. */
static size_t decode_u_escape(const struct cursor *c, size_t *p, char out[4])
{
	static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0}; /* by UTF-8 length */
	long cp = hex4(c->text + *p + 1, c->len - *p - 1), lo;
	size_t n;

	if (cp <= 0) /* \u0000 can never equal a key */
		return 0;
	*p += 4;
	if (cp >= 0xD800 && cp < 0xDC00) {
		if (*p + 2 >= c->len || c->text[*p + 1] != '\\' || c->text[*p + 2] != 'u')
			return 0;
		lo = hex4(c->text + *p + 3, c->len - *p - 3);
		if (lo < 0xDC00 || lo >= 0xE000)
			return 0;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		*p += 6;
	}
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
	for (size_t i = n - 1; i > 0; i--, cp >>= 6)
		out[i] = (char)(0x80 | (cp & 0x3F));
	out[0] = (char)(lead[n] | cp);
	return n;
}

/* Decodes the JSON string whose opening quote is at text[pos] into out,
 * cut to fit and always terminated.  Returns false if it was cut or holds an
 * escape that cannot be part of a key. */
static bool decode_string(const struct cursor *c, size_t pos, char *out, size_t size)
{
	size_t p = pos + 1, k = 0;
	bool ok = true;

	while (p < c->len && c->text[p] != '"') {
		char buf[4] = {c->text[p]};
		size_t n = 1;

		if (buf[0] == '\\' && p + 1 < c->len) {
			p++;
			switch (c->text[p]) {
			case 'n': buf[0] = '\n'; break;
			case 't': buf[0] = '\t'; break;
			case 'r': buf[0] = '\r'; break;
			case 'b': buf[0] = '\b'; break;
			case 'f': buf[0] = '\f'; break;
			case 'u': n = decode_u_escape(c, &p, buf); break;
			default: buf[0] = c->text[p]; break;
			}
		}
		if (n == 0 || k + n >= size) {
			ok = false;
			break;
		}
		memcpy(out + k, buf, n);
		k += n;
		p++;
	}
	out[k] = '\0';
	return ok;
}

struct component {
	bool is_index;
	size_t index;
	char key[128];
};

/* Parses the next path component after "$"; returns false at the end. */
static bool next_component(const char **p, struct component *out)
{
	const char *s = *p;
	size_t n = 0;

	if (*s == '.') {
		s++;
		while (*s && *s != '.' && *s != '[' && n + 1 < sizeof(out->key))
			out->key[n++] = *s++;
		out->key[n] = '\0';
		out->is_index = false;
	} else if (s[0] == '[' && s[1] == '"') {
		s += 2;
		while (*s && !(s[0] == '"' && s[1] == ']') && n + 1 < sizeof(out->key)) {
			/* jsonpos_append_key writes control characters as \u00XX */
			long ctl = s[0] == '\\' && s[1] == 'u' ? hex4(s + 2, strnlen(s + 2, 4)) : -1;

			if (ctl > 0 && ctl < 0x80) {
				out->key[n++] = (char)ctl;
				s += 6;
				continue;
			}
			if (*s == '\\' && s[1])
				s++;
			out->key[n++] = *s++;
		}
		out->key[n] = '\0';
		if (*s)
			s += 2;
		out->is_index = false;
	} else if (*s == '[') {
		out->index = strtoul(s + 1, (char **)&s, 10);
		if (*s == ']')
			s++;
		out->is_index = true;
	} else {
		return false;
	}
	*p = s;
	return true;
}

size_t jsonpos_token_start(const char *text, size_t len, size_t end)
{
	struct cursor c = {text, len, 0};
	size_t start = 0;

	if (end > len)
		end = len;
	while (c.pos < end) {
		char ch = text[c.pos];

		start = c.pos;
		if (ch == '"')
			skip_string(&c);
		else if (strchr("{}[]:, \t\r\n", ch))
			c.pos++;
		else
			while (c.pos < len && !strchr("{}[]:,\" \t\r\n", text[c.pos]))
				c.pos++;
	}
	return start;
}

void jsonpos_line_col(const char *text, size_t len, size_t offset, unsigned *line, unsigned *col)
{
	unsigned l = 1, cl = 1;

	if (offset > len)
		offset = len;
	for (size_t i = 0; i < offset; i++) {
		unsigned char ch = (unsigned char)text[i];
		if (ch == '\n') {
			l++;
			cl = 1;
		} else if ((ch & 0xC0) != 0x80) {
			cl++;
		}
	}
	*line = l;
	*col = cl;
}

int jsonpos_find(const char *text, size_t len, const char *path, unsigned *line, unsigned *col)
{
	struct cursor c = {text, len, 0};
	struct component comp;
	const char *p = path;
	size_t found = 0;
	int r = 0;

	skip_ws(&c);
	found = c.pos;
	if (*p == '$')
		p++;
	while (next_component(&p, &comp)) {
		bool hit = false;

		skip_ws(&c);
		if (!comp.is_index && at(&c, '{')) {
			c.pos++;
			for (;;) {
				skip_ws(&c);
				if (!at(&c, '"'))
					break;
				size_t key_pos = c.pos;
				char key[sizeof(comp.key) + 1];
				bool match = decode_string(&c, c.pos, key, sizeof(key)) && !strcmp(key, comp.key);
				skip_string(&c);
				skip_ws(&c);
				if (at(&c, ':'))
					c.pos++;
				if (match) {
					found = key_pos;
					hit = true;
					break;
				}
				skip_value(&c);
				skip_ws(&c);
				if (!at(&c, ','))
					break;
				c.pos++;
			}
		} else if (comp.is_index && at(&c, '[')) {
			c.pos++;
			for (size_t i = 0;; i++) {
				skip_ws(&c);
				if (at(&c, ']') || c.pos >= c.len)
					break;
				if (i == comp.index) {
					found = c.pos;
					hit = true;
					break;
				}
				skip_value(&c);
				skip_ws(&c);
				if (!at(&c, ','))
					break;
				c.pos++;
			}
		}
		if (!hit) {
			r = -ENOENT;
			break;
		}
	}
	jsonpos_line_col(text, len, found, line, col);
	return r;
}

static bool is_identifier(const char *key)
{
	if (!*key || isdigit((unsigned char)*key))
		return false;
	for (const char *s = key; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

void jsonpos_append_key(char *path, size_t path_size, const char *key)
{
	size_t n = strlen(path);

	if (n >= path_size)
		return;
	if (is_identifier(key)) {
		snprintf(path + n, path_size - n, ".%s", key);
		return;
	}
	snprintf(path + n, path_size - n, "[\"");
	n = strlen(path);
	for (const char *s = key; *s && n + 9 < path_size; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 || ch == 0x7f) {
			n += (size_t)snprintf(path + n, path_size - n, "\\u%04x", ch);
			continue;
		}
		if (ch == '"' || ch == '\\')
			path[n++] = '\\';
		path[n++] = (char)ch;
	}
	path[n] = '\0';
	snprintf(path + n, path_size - n, "\"]");
}

void jsonpos_append_index(char *path, size_t path_size, size_t index)
{
	size_t n = strlen(path);

	if (n < path_size)
		snprintf(path + n, path_size - n, "[%zu]", index);
}

struct frame {
	bool is_object;
	bool have_key;
	size_t index;
	char key[64];
};

void jsonpos_path_at(const char *text, size_t len, size_t offset, char *path, size_t path_size)
{
	struct frame stack[JSONPOS_MAX_TRACKED_DEPTH];
	size_t depth = 0, untracked = 0;
	bool expect_key = false;

	if (offset > len)
		offset = len;
	for (size_t i = 0; i < offset; i++) {
		char ch = text[i];
		struct frame *top = depth ? &stack[depth - 1] : NULL;

		if (ch == '"') {
			struct cursor c = {text, len, i};

			if (top && !untracked && top->is_object && expect_key) {
				decode_string(&c, i, top->key, sizeof(top->key));
				top->have_key = true;
				expect_key = false;
			}
			skip_string(&c);
			i = c.pos - 1 < offset ? c.pos - 1 : offset;
		} else if (ch == '{' || ch == '[') {
			if (depth < JSONPOS_MAX_TRACKED_DEPTH && !untracked) {
				stack[depth].is_object = ch == '{';
				stack[depth].have_key = false;
				stack[depth].index = 0;
				depth++;
				expect_key = ch == '{';
			} else {
				untracked++;
			}
		} else if (ch == '}' || ch == ']') {
			if (untracked)
				untracked--;
			else if (depth)
				depth--;
			expect_key = false;
		} else if (ch == ',' && top && !untracked) {
			if (top->is_object) {
				top->have_key = false;
				expect_key = true;
			} else {
				top->index++;
			}
		}
	}
	snprintf(path, path_size, "$");
	for (size_t d = 0; d < depth; d++) {
		if (stack[d].is_object) {
			if (stack[d].have_key)
				jsonpos_append_key(path, path_size, stack[d].key);
		} else {
			jsonpos_append_index(path, path_size, stack[d].index);
		}
	}
	/* deeper than we track: say so rather than name a shallower value */
	if (untracked) {
		size_t n = strlen(path);
		snprintf(path + n, path_size - n, "...");
	}
}
