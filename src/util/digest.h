/*
 * FNV-1a, 64 bits, printed as 16 hex digits.  It detects a changed policy, a
 * damaged state file or a changed set of owned objects; it is not a security
 * hash, and nothing here relies on it being one.
 */
#pragma once
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>

#define DIGEST_SIZE 24

static inline void digest_text(const char *text, size_t len, char out[DIGEST_SIZE])
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)text[i];
		h *= 0x100000001b3ull;
	}
	snprintf(out, DIGEST_SIZE, "%016" PRIx64, h);
}
