/*
 * Counting the most frequent keys of a stream in bounded memory.
 *
 * Exact top-N over a stream needs one counter per distinct key, and a
 * conntrack table of millions of entries can have millions of distinct
 * sources, so exact counting has no memory bound.  This is the Space-Saving
 * algorithm (Metwally, Agrawal and El Abbadi, 2005): at most `capacity` keys
 * are counted, in a hash table.  While the stream has no more distinct keys
 * than that, every count is exact.  After that, a new key takes the place of
 * the key with the smallest count and inherits that count, remembered as the
 * new key's possible overestimate (`error`).  Then:
 *   - every key whose real count exceeds total / capacity is in the table;
 *   - a reported count c with error e means the real count is in [c - e, c].
 * The smallest count is found with a min-heap over the counters, so an update
 * costs O(log capacity).  Memory: 40 bytes per counter, 4 in the heap and 8
 * to 16 in the hash buckets (at most half full), allocated once by topk_init.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOPK_KEY_SIZE 20

struct topk_item {
	uint8_t key[TOPK_KEY_SIZE];
	uint32_t count;
	uint32_t error; /* the real count is at least count - error */
};

struct topk_slot;

struct topk {
	size_t capacity, n;
	struct topk_slot *slots;
	uint32_t *buckets; /* slot index + 1; 0 = empty */
	uint32_t *heap;	   /* slot indices, a min-heap by count */
	size_t n_buckets;  /* a power of two */
	uint64_t seed;
	uint64_t total;	 /* keys added */
	bool overflowed; /* some key was evicted: counts may be overestimates */
};

/* 0 or -ENOMEM.  capacity is at least 1. */
int topk_init(struct topk *t, size_t capacity);
void topk_free(struct topk *t);
/* Counts one occurrence of key (len <= TOPK_KEY_SIZE bytes; shorter keys are
 * padded with zeros). */
void topk_add(struct topk *t, const void *key, size_t len);
/* The n largest counts, largest first; equal counts in ascending key order.
 * Returns how many were written to out (at most n). */
size_t topk_top(const struct topk *t, size_t n, struct topk_item *out);
