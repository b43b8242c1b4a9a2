#include "util/strbuf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(struct strbuf *sb)
{
	memset(sb, 0, sizeof(*sb));
}

void strbuf_free(struct strbuf *sb)
{
	free(sb->data);
	strbuf_init(sb);
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->data)
		sb->data[0] = '\0';
}

static int strbuf_reserve(struct strbuf *sb, size_t extra)
{
	size_t need, cap;
	char *p;

	if (sb->oom)
		return -ENOMEM;
	if (extra > SIZE_MAX / 2 - sb->len - 1)
		goto fail;
	need = sb->len + extra + 1;
	if (sb->limit && need > sb->limit + 1) {
		sb->over_limit = 1;
		goto fail;
	}
	if (need <= sb->cap)
		return 0;
	cap = sb->cap ? sb->cap : 256;
	while (cap < need)
		cap *= 2;
	p = realloc(sb->data, cap);
	if (!p)
		goto fail;
	sb->data = p;
	sb->cap = cap;
	return 0;
fail:
	sb->oom = 1;
	return -ENOMEM;
}

int strbuf_putn(struct strbuf *sb, const char *s, size_t n)
{
	int r = strbuf_reserve(sb, n);

	if (r < 0)
		return r;
	memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
	return 0;
}

int strbuf_puts(struct strbuf *sb, const char *s)
{
	return strbuf_putn(sb, s, strlen(s));
}

int strbuf_putc(struct strbuf *sb, char c)
{
	return strbuf_putn(sb, &c, 1);
}

int strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list copy;
	size_t room;
	int n, r;

	if (sb->limit) {
		/* measured first, so the limit is checked against exactly what
		 * would be appended */
		va_copy(copy, ap);
		n = vsnprintf(NULL, 0, fmt, copy);
		va_end(copy);
		if (n < 0)
			return -EINVAL;
		r = strbuf_reserve(sb, (size_t)n);
		if (r < 0)
			return r;
		vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
		sb->len += (size_t)n;
		return 0;
	}
	/* format straight into the free space; only when it does not fit, grow
	 * and format again (one pass instead of measuring first, every time) */
	r = strbuf_reserve(sb, 64);
	if (r < 0)
		return r;
	room = sb->cap - sb->len;
	va_copy(copy, ap);
	n = vsnprintf(sb->data + sb->len, room, fmt, copy);
	va_end(copy);
	if (n < 0) {
		sb->data[sb->len] = '\0';
		return -EINVAL;
	}
	if ((size_t)n >= room) {
		r = strbuf_reserve(sb, (size_t)n);
		if (r < 0) {
			sb->data[sb->len] = '\0';
			return r;
		}
		vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	}
	sb->len += (size_t)n;
	return 0;
}

int strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = strbuf_vprintf(sb, fmt, ap);
	va_end(ap);
	return r;
}

char *strbuf_take(struct strbuf *sb)
{
	char *p;

	if (sb->oom) {
		strbuf_free(sb);
		return NULL;
	}
	if (!sb->data) {
		/* never written to: hand over an empty string */
		if (strbuf_reserve(sb, 0) < 0)
			return NULL;
		sb->data[0] = '\0';
	}
	p = sb->data;
	strbuf_init(sb);
	return p;
}
