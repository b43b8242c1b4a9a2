/* Growable, always NUL-terminated text buffer used by every emitter. */
#pragma once
#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *data;
	size_t len;
	size_t cap;
	int oom; /* sticky: once an append fails every later one is a no-op */
	/* 0: none.  Otherwise an append that would make len pass it fails
	 * like one that runs out of memory, with over_limit set. */
	size_t limit;
	int over_limit;
};

void strbuf_init(struct strbuf *sb);
void strbuf_free(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
int strbuf_putc(struct strbuf *sb, char c);
int strbuf_puts(struct strbuf *sb, const char *s);
int strbuf_putn(struct strbuf *sb, const char *s, size_t n);
int strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Returns the text and hands ownership to the caller; the buffer is left empty. */
char *strbuf_take(struct strbuf *sb);

static inline void strbuf_cleanup(struct strbuf *sb)
{
	strbuf_free(sb);
}
#define _cleanup_strbuf_ __attribute__((cleanup(strbuf_cleanup)))
