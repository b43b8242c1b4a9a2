/*
 * The difference between two sequences of strings as a shortest edit
 * script (longest common subsequence), so that a diff shows only the rules
 * that really changed, in chain order.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

enum seqdiff_op {
	SEQDIFF_SAME,	/* a[ia] == b[ib] */
	SEQDIFF_DELETE, /* a[ia] is not in b */
	SEQDIFF_INSERT, /* b[ib] is not in a */
};

typedef int (*seqdiff_cb)(enum seqdiff_op op, size_t ia, size_t ib, void *ctx);

/* Calls cb for every element of a and b, in order.  Returns 0, -ENOMEM, or
 * the first negative value cb returned. */
int seqdiff(const char *const *a, size_t na, const char *const *b, size_t nb, seqdiff_cb cb, void *ctx);

/* The same over any two sequences: same(ia, ib, ctx) says whether a[ia] and
 * b[ib] are equal (the iptables backend compares rules by a key first, and
 * by their bytes only when the keys agree). */
typedef bool (*seqdiff_same_fn)(size_t ia, size_t ib, void *ctx);
int seqdiff_by(size_t na, size_t nb, seqdiff_same_fn same, seqdiff_cb cb, void *ctx);
