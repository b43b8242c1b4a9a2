#include "util/seqdiff.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Above this many cells the table would cost more memory than a diff is
 * worth; such chains are compared position by position instead. */
#define SEQDIFF_MAX_CELLS (16u * 1024 * 1024)

static int positional(size_t na, size_t nb, seqdiff_same_fn same, seqdiff_cb cb, void *ctx)
{
	size_t n = na > nb ? na : nb;
	int r = 0;

	for (size_t i = 0; r == 0 && i < n; i++) {
		if (i < na && i < nb && same(i, i, ctx)) {
			r = cb(SEQDIFF_SAME, i, i, ctx);
			continue;
		}
		if (i < na)
			r = cb(SEQDIFF_DELETE, i, i, ctx);
		if (r == 0 && i < nb)
			r = cb(SEQDIFF_INSERT, i, i, ctx);
	}
	return r;
}

int seqdiff_by(size_t na, size_t nb, seqdiff_same_fn same, seqdiff_cb cb, void *ctx)
{
	size_t w = nb + 1, i = 0, j = 0;
	uint32_t *len;
	int r = 0;

	if ((na + 1) > SEQDIFF_MAX_CELLS / w)
		return positional(na, nb, same, cb, ctx);
	/* len[i][j]: length of the longest common subsequence of a[i..] and b[j..] */
	len = calloc((na + 1) * w, sizeof(*len));
	if (!len)
		return -ENOMEM;
	for (size_t x = na; x-- > 0;)
		for (size_t y = nb; y-- > 0;)
			len[x * w + y] = same(x, y, ctx)			      ? len[(x + 1) * w + y + 1] + 1
					 : len[(x + 1) * w + y] >= len[x * w + y + 1] ? len[(x + 1) * w + y]
										      : len[x * w + y + 1];
	while (r == 0 && (i < na || j < nb)) {
		if (i < na && j < nb && same(i, j, ctx))
			r = cb(SEQDIFF_SAME, i++, j++, ctx);
		else if (j >= nb || (i < na && len[(i + 1) * w + j] >= len[i * w + j + 1]))
			r = cb(SEQDIFF_DELETE, i++, j, ctx);
		else
			r = cb(SEQDIFF_INSERT, i, j++, ctx);
	}
	free(len);
	return r;
}

/* the string form: the caller's callback sees the same indices */
struct strings {
	const char *const *a, *const *b;
	seqdiff_cb cb;
	void *ctx;
};

static bool same_string(size_t ia, size_t ib, void *data)
{
	const struct strings *s = data;

	return !strcmp(s->a[ia], s->b[ib]);
}

static int forward(enum seqdiff_op op, size_t ia, size_t ib, void *data)
{
	const struct strings *s = data;

	return s->cb(op, ia, ib, s->ctx);
}

int seqdiff(const char *const *a, size_t na, const char *const *b, size_t nb, seqdiff_cb cb, void *ctx)
{
	struct strings s = {.a = a, .b = b, .cb = cb, .ctx = ctx};

	return seqdiff_by(na, nb, same_string, forward, &s);
}
