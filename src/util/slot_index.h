/*
 * An open-addressing index over items kept elsewhere (an array, a list of
 * pointers): a slot holds an item's number + 1, 0 is free; linear probing;
 * grown to stay at most half full, so a probe always ends.  The caller
 * hashes and compares: the index keeps no keys, which lets lint's chain
 * lookup, its merged users and its interned interface lists share it.
 *
 *	for (k = slot_index_first(t, h); t->slot[k]; k = slot_index_next(t, k))
 *		if (same(item(t->slot[k] - 1), key)) return ...;
 *	slot_index_put(t, k, new_item);   (after slot_index_reserve)
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct slot_index {
	uint32_t *slot; /* item + 1; 0: free */
	size_t cap;	/* a power of two, or 0 before the first reserve */
	size_t n;	/* slots in use */
};

/* hash of item number `item` (the same function the probes use) */
typedef uint64_t (*slot_index_hash)(const void *ctx, size_t item);

/* Room for `more` further items: grows, rehashing every item, so that the
 * index stays at most half full.  -ENOMEM leaves it as it was. */
int slot_index_reserve(struct slot_index *t, size_t more, slot_index_hash hash, const void *ctx);
void slot_index_free(struct slot_index *t);

static inline size_t slot_index_first(const struct slot_index *t, uint64_t h)
{
	return (size_t)h & (t->cap - 1);
}

static inline size_t slot_index_next(const struct slot_index *t, size_t k)
{
	return (k + 1) & (t->cap - 1);
}

/* Fills the free slot k, the one a probe ended at. */
static inline void slot_index_put(struct slot_index *t, size_t k, size_t item)
{
	t->slot[k] = (uint32_t)(item + 1);
	t->n++;
}
