/*
 * 64-bit keys for comparing and for change detection, from xxHash (XXH3):
 * the iptables backend reads every rule of every loaded table on each plan,
 * 131,000 of them for a large policy, and FNV-1a over their text cost more
 * than libiptc's read.  Not a security hash; nothing relies on it being one.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <xxhash.h>

static inline uint64_t hash64(const void *p, size_t n)
{
	return XXH3_64bits(p, n);
}

/* Chains n more bytes onto h: the result depends on everything mixed in
 * before, in order. */
static inline uint64_t hash_mix(uint64_t h, const void *p, size_t n)
{
	return XXH3_64bits_withSeed(p, n, h);
}

static inline uint64_t hash_mix_str(uint64_t h, const char *s)
{
	return hash_mix(h, s, strlen(s) + 1);
}

static inline uint64_t hash_mix_u64(uint64_t h, uint64_t v)
{
	return hash_mix(h, &v, sizeof(v));
}
