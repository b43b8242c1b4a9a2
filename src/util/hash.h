/*
 * Every hash notrackctl computes, none of them a security hash (nothing
 * relies on one being hard to collide on purpose):
 *  - FNV-1a, 64 bits, for what is written down and compared across runs
 *    (the digest of a policy, of a state file, of a set of owned objects,
 *    the no-op stamp's identity of a compiled ruleset): its value must not
 *    change between versions, and it is printed as 16 hex digits;
 *  - xxHash (XXH3), 64 bits, for keys compared within one run: the iptables
 *    backend reads every rule of every loaded table on each plan, 131,000
 *    of them for a large policy, and FNV-1a over their text cost more than
 *    libiptc's read.
 */
#pragma once
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

/* ------------------------------------------------------------------ */
/* FNV-1a: stable, printed                                              */

#define DIGEST_SIZE 24

struct fnv {
	uint64_t h;
};

static inline struct fnv fnv_init(void)
{
	return (struct fnv){0xcbf29ce484222325ull};
}

static inline void fnv_add(struct fnv *f, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++) {
		f->h ^= c[i];
		f->h *= 0x100000001b3ull;
	}
}

static inline void fnv_u64(struct fnv *f, uint64_t v)
{
	fnv_add(f, &v, sizeof(v));
}

/* With its terminating NUL, so that "ab","c" and "a","bc" differ. */
static inline void fnv_str(struct fnv *f, const char *s)
{
	fnv_add(f, s, strlen(s) + 1);
}

static inline void fnv_hex(const struct fnv *f, char out[DIGEST_SIZE])
{
	snprintf(out, DIGEST_SIZE, "%016" PRIx64, f->h);
}

static inline void digest_text(const char *text, size_t len, char out[DIGEST_SIZE])
{
	struct fnv f = fnv_init();

	fnv_add(&f, text, len);
	fnv_hex(&f, out);
}

/* ------------------------------------------------------------------ */
/* XXH3: fast, within one run                                           */

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
