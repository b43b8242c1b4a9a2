/*
 * IR → libnftnl objects: the table, its sets with their elements, the two
 * raw-priority base chains and their rules, and the untracked-accept rule
 * for other tables' chains.  Pure: nothing here talks to the kernel.
 */
#pragma once
#include <libnftnl/chain.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <endian.h>
#include <stdbool.h>
#include <string.h>

#include "compile/ruleset.h"
#include "util/strbuf.h"

/* NF_CT_STATE_UNTRACKED_BIT in the kernel's ct state bitmask */
#define NFT_CT_STATE_UNTRACKED 0x40u

/* A set's elements as plain boundaries: 10,000 ports read back as
 * libnftnl elements were 10,000 allocations of a few hundred bytes each. */
struct nft_key {
	/* The key's bytes, big-endian, zero past len: for sorting, and the
	 * only copy of them (24 bytes an element, not 40: 20,000 of them for
	 * 10,000 ports, several lists an apply, every page of them faulted in). */
	uint64_t hi, lo;
	uint8_t len;
	bool end; /* NFT_SET_ELEM_INTERVAL_END */
};

#define NFT_KEY_MAX 16u

/* Byte i (< NFT_KEY_MAX) of the key. */
static inline uint8_t nft_key_byte(const struct nft_key *k, unsigned i)
{
	return (uint8_t)((i < 8 ? k->hi >> (56 - 8 * i) : k->lo >> (56 - 8 * (i - 8))) & 0xff);
}

/* The key's bytes into out (NFT_KEY_MAX of them, zero past len). */
static inline void nft_key_bytes(const struct nft_key *k, uint8_t *out)
{
	uint64_t hi = htobe64(k->hi), lo = htobe64(k->lo);

	memcpy(out, &hi, 8);
	memcpy(out + 8, &lo, 8);
}

/* Orders the boundaries of a list are known to be ascending in (see
 * sort_boundaries()): the end of one interval before the start of the next
 * at an equal key, or after it (the canonical text's order).  Any change
 * to the list clears them; the look that sets them was most of planning
 * twice and recording the same 20,000 boundaries. */
#define NFT_SORTED_END_FIRST 1u
#define NFT_SORTED_CANON 2u

struct nft_elems {
	struct nft_key *v;
	size_t n, cap;
	unsigned sorted; /* NFT_SORTED_*; 0: not known */
};

struct nft_desired {
	struct nftnl_table *table;
	struct nftnl_set **sets;     /* named sets, without elements */
	struct nft_elems *set_elems; /* the elements of each of sets[], in the order they are sent */
	size_t n_sets;
	/* prerouting and output (by enum hook), then the timeout chains when
	 * the policy has per-traffic timeouts */
	struct nftnl_chain *chains[4];
	size_t n_chains;
	struct nftnl_obj **objs; /* the ct timeout objects, before the rules that use them */
	size_t n_objs;
	struct nftnl_rule **rules;    /* in IR order; chain attribute says which */
	const struct rule **ir_rules; /* the IR rule each one came from */
	size_t n_rules;
};

int nft_build_desired(const struct ruleset *rs, struct nft_desired *out);
/* The ct timeout object of one timeout policy of rs, in table inet `table`. */
struct nftnl_obj *nft_build_timeout_obj(const char *table, const struct ct_timeout_obj *o);
void nft_desired_free(struct nft_desired *d);

/* "ct state untracked counter accept" tagged with comment `tag`.  When the
 * chain belongs to iptables-nft, the match is encoded as iptables-nft itself
 * encodes "-m conntrack --ctstate UNTRACKED", or iptables-nft-save breaks. */
struct nftnl_rule *nft_build_accept_rule(int family, const char *table, const char *chain, const char *tag,
					 bool xtables_compat);

/* Canonical text of a rule's expressions with counter values left out, so a
 * rule read back from the kernel compares equal to the one we built. */
int nft_rule_canon(const struct nftnl_rule *r, struct strbuf *out);
int nft_elems_add(struct nft_elems *l, const void *key, uint32_t len, bool end);
/* Room for n more without growing: a list whose size is known up front. */
int nft_elems_reserve(struct nft_elems *l, size_t n);
int nft_elems_from_set(struct nft_elems *l, const struct nftnl_set *s);
int nft_elems_copy(struct nft_elems *dst, const struct nft_elems *src);
void nft_elems_free(struct nft_elems *l);

/* Canonical text of a set: name, type, flags (from s) and sorted elements
 * (which it sorts in place). */
int nft_set_canon(const struct nftnl_set *s, struct nft_elems *elems, struct strbuf *out);
/*
 * The element change that turns one of our sets, as the kernel holds it
 * (`have`, sorted in place), into the set we want, when both have the same type and flags.
 * An interval set is compared interval by interval, not boundary by
 * boundary: the kernel refuses a boundary that would split or overlap a
 * live interval (ENOTEMPTY), so a changed interval is deleted whole and its
 * successor added whole, and the deletions go first in the batch.
 */
struct nft_elem_item;
struct nft_set_delta {
	struct nft_elem_item *del, *add; /* whole items: an element, or an interval */
	size_t n_del, n_add;
	uint32_t key_type;
};

/* True when the kernel can change `have` into `want` element by element:
 * same key type, key length and flags. */
bool nft_set_same_kind(const struct nftnl_set *have, const struct nftnl_set *want);
int nft_set_delta(struct nft_elems *have, const struct nftnl_set *want, struct nft_elems *want_elems,
		  struct nft_set_delta *out);
void nft_set_delta_free(struct nft_set_delta *d);
/* The elements to delete (del) or add (!del), in the order to send them. */
int nft_set_delta_elems(const struct nft_set_delta *d, bool del, struct nft_elems *out);
/* "+8001 -8000" for people: at most `max` items listed (the sentinel
 * boundary below the first interval is not one), then "and N more". */
int nft_set_delta_text(const struct nft_set_delta *d, size_t max, struct strbuf *out);

/* The comment in a rule's userdata, or NULL. */
const char *nft_rule_comment(const struct nftnl_rule *r, char *buf, size_t size);
/* The same, from a rule's NFTA_RULE_USERDATA bytes. */
const char *nft_udata_comment(const void *data, uint32_t len, char *buf, size_t size);
