#include "util/topk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct topk_slot {
	uint8_t key[TOPK_KEY_SIZE];
	uint32_t count;
	uint32_t error;
	uint32_t next; /* next slot in the hash chain, index + 1 */
	uint32_t pos;  /* position in the heap */
	uint32_t hash; /* of key: compared before the key, and finds the chain again */
};

int topk_init(struct topk *t, size_t capacity)
{
	memset(t, 0, sizeof(*t));
	if (!capacity || capacity > UINT32_MAX / 2)
		return -EINVAL;
	t->capacity = capacity;
	/* load factor at most 1/2 keeps chains short */
	t->n_buckets = 1;
	while (t->n_buckets < capacity * 2)
		t->n_buckets <<= 1;
	t->slots = calloc(capacity, sizeof(*t->slots));
	t->heap = calloc(capacity, sizeof(*t->heap));
	t->buckets = calloc(t->n_buckets, sizeof(*t->buckets));
	if (!t->slots || !t->heap || !t->buckets) {
		topk_free(t);
		return -ENOMEM;
	}
	/* a per-run seed: sources chosen by someone else cannot be made to
	 * collide into one long chain on purpose */
	t->seed = ((uint64_t)time(NULL) << 32) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)t->slots;
	return 0;
}

void topk_free(struct topk *t)
{
	free(t->slots);
	free(t->heap);
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

static uint64_t hash_key(const struct topk *t, const uint8_t *key)
{
	uint64_t h = t->seed ^ 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < TOPK_KEY_SIZE; i += 4) {
		uint32_t w;
		memcpy(&w, key + i, sizeof(w));
		h ^= w;
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return h;
}

static void heap_swap(struct topk *t, size_t a, size_t b)
{
	uint32_t sa = t->heap[a], sb = t->heap[b];

	t->heap[a] = sb;
	t->heap[b] = sa;
	t->slots[sb].pos = (uint32_t)a;
	t->slots[sa].pos = (uint32_t)b;
}

static uint32_t heap_count(const struct topk *t, size_t i)
{
	return t->slots[t->heap[i]].count;
}

/* A count only grows, so a slot only ever moves down the min-heap. */
static void heap_down(struct topk *t, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < t->n && heap_count(t, l) < heap_count(t, m))
			m = l;
		if (r < t->n && heap_count(t, r) < heap_count(t, m))
			m = r;
		if (m == i)
			return;
		heap_swap(t, i, m);
		i = m;
	}
}

static void heap_up(struct topk *t, size_t i)
{
	while (i > 0 && heap_count(t, (i - 1) / 2) > heap_count(t, i)) {
		heap_swap(t, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void chain_unlink(struct topk *t, uint32_t slot)
{
	uint32_t *link = &t->buckets[t->slots[slot].hash & (t->n_buckets - 1)];

	while (*link && *link != slot + 1)
		link = &t->slots[*link - 1].next;
	if (*link)
		*link = t->slots[slot].next;
}

void topk_add(struct topk *t, const void *key, size_t len)
{
	uint8_t k[TOPK_KEY_SIZE] = {0};
	uint32_t *head, i, h;
	struct topk_slot *s;

	memcpy(k, key, len < TOPK_KEY_SIZE ? len : TOPK_KEY_SIZE);
	t->total++;
	h = (uint32_t)hash_key(t, k);
	head = &t->buckets[h & (t->n_buckets - 1)];
	for (i = *head; i; i = t->slots[i - 1].next) {
		s = &t->slots[i - 1];
		if (s->hash == h && !memcmp(s->key, k, TOPK_KEY_SIZE)) {
			s->count++;
			heap_down(t, s->pos);
			return;
		}
	}
	if (t->n < t->capacity) {
		/* room left: a new exact counter */
		i = (uint32_t)t->n++;
		s = &t->slots[i];
		memcpy(s->key, k, TOPK_KEY_SIZE);
		s->count = 1;
		s->error = 0;
		s->pos = i;
		t->heap[i] = i;
		heap_up(t, i);
	} else {
		/* full: the smallest counter is handed to the new key, which
		 * may have occurred up to that many times unseen */
		i = t->heap[0];
		s = &t->slots[i];
		chain_unlink(t, i);
		memcpy(s->key, k, TOPK_KEY_SIZE);
		s->error = s->count;
		s->count++;
		heap_down(t, 0);
		t->overflowed = true;
	}
	s->hash = h;
	s->next = *head;
	*head = i + 1;
}

/* Does a rank before b? */
static bool ranks_before(const struct topk_slot *a, const struct topk_item *b)
{
	if (a->count != b->count)
		return a->count > b->count;
	return memcmp(a->key, b->key, TOPK_KEY_SIZE) < 0;
}

size_t topk_top(const struct topk *t, size_t n, struct topk_item *out)
{
	size_t got = 0;

	/* insertion into a sorted array of at most n: n is small (a screenful) */
	for (size_t i = 0; i < t->n; i++) {
		const struct topk_slot *s = &t->slots[i];
		size_t at = got;
		while (at > 0 && ranks_before(s, &out[at - 1]))
			at--;
		if (at >= n)
			continue;
		if (got < n)
			got++;
		memmove(&out[at + 1], &out[at], (got - 1 - at) * sizeof(*out));
		memcpy(out[at].key, s->key, TOPK_KEY_SIZE);
		out[at].count = s->count;
		out[at].error = s->error;
	}
	return got;
}
