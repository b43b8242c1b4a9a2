#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * One object notrackctl owns in the kernel, as read back from it: a rule in
 * our own table or chains, or an untracked accept we inserted into someone
 * else's chain.  The counters say how much traffic it let bypass conntrack.
 */
enum owned_kind {
	OWNED_RULE,   /* a return or notrack rule in our own table / chains */
	OWNED_ACCEPT, /* an untracked accept at the head of a foreign filter chain */
	OWNED_JUMP,   /* iptables: the jump from a built-in chain into ours; every packet passes it */
};

struct owned_object {
	enum owned_kind kind;
	char family[8]; /* nft: inet, ip, ip6; iptables: ipv4, ipv6 */
	char table[64];
	char chain[64];
	uint64_t handle; /* nft rule handle; iptables rule number (1-based) */
	char comment[128];
	bool not_first; /* an accept that is no longer at the head of its chain */
	bool has_counter;
	uint64_t packets, bytes;
};

struct owned_list {
	struct owned_object *v;
	size_t n;
	/* Digest of our own table or chains (rules, sets, chains), counters and
	 * handles left out: it changes only when they do, whoever changed them.
	 * The accepts in other tables are not in it: whoever owns those tables
	 * may reload them (firewalld does), and that is not tampering with ours. */
	char digest[24];
	/* OWNED_RULE objects counted but not in v: read without them (see
	 * backend.h), or loaded from a generation, which keeps only their
	 * count (state.c). */
	size_t rules;
};

/* A digest may name how it was made, as "xxh3:<hex>" (the iptables
 * backend's); the older form is FNV-1a's bare hex.  Two digests made
 * differently say nothing about each other. */
static inline bool digest_comparable(const char *a, const char *b)
{
	const char *ca = strchr(a, ':'), *cb = strchr(b, ':');
	size_t la = ca ? (size_t)(ca - a) : 0, lb = cb ? (size_t)(cb - b) : 0;

	return la == lb && !strncmp(a, b, la);
}

void owned_list_free(struct owned_list *l);
/* Appends a zeroed object and returns it, or NULL when out of memory. */
struct owned_object *owned_list_add(struct owned_list *l);
