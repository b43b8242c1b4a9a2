#include "util/slot_index.h"

#include <errno.h>
#include <stdlib.h>

int slot_index_reserve(struct slot_index *t, size_t more, slot_index_hash hash, const void *ctx)
{
	size_t cap = t->cap ? t->cap : 16;
	uint32_t *slot;

	if (more > UINT32_MAX - t->n)
		return -EOVERFLOW;
	while ((t->n + more) * 2 > cap)
		cap *= 2;
	if (cap == t->cap)
		return 0;
	slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slot[i])
			continue;
		size_t k = (size_t)hash(ctx, t->slot[i] - 1) & (cap - 1);
		while (slot[k])
			k = (k + 1) & (cap - 1);
		slot[k] = t->slot[i];
	}
	free(t->slot);
	t->slot = slot;
	t->cap = cap;
	return 0;
}

void slot_index_free(struct slot_index *t)
{
	free(t->slot);
	*t = (struct slot_index){0};
}
