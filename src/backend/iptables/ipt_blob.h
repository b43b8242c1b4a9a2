/*
 * A legacy iptables table as the kernel hands it out, read-only: the blob of
 * IPT_SO_GET_ENTRIES (IP6T_ for IPv6), chains cut out of it the way libiptc
 * cuts them.  The linter reads through this rather than through libiptc:
 * libiptc keeps the same blob and, besides it, a copy of every entry in its
 * own chain and rule heads, which on kube-proxy's 10,000-rule nat table is
 * another 4.3 MB that only editing needs.
 *
 * The layout (x_tables' translate_table() checks it on every replace):
 *   - a built-in chain starts at its hook's hook_entry offset and ends with
 *     the entry at its underflow offset, a standard target holding the
 *     policy;
 *   - a user chain is an ERROR entry whose data is its name, its rules, and
 *     a standard RETURN entry (its foot);
 *   - the table ends with an ERROR entry named "ERROR";
 *   - a standard target's verdict is -(NF_* + 1), XT_RETURN, or the offset of
 *     the entry it jumps to: the first after a user chain's ERROR entry.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct ipt_blob_rule {
	const void *e;	   /* the ipt_entry or ip6t_entry, in the blob */
	const char *label; /* as iptc_get_target() has it: ACCEPT, DROP, QUEUE, RETURN, a chain, a target, "" */
	long jump;	   /* the user chain it jumps or goes to (index into chains), or -1 */
};

struct ipt_blob_chain {
	const char *name;
	bool builtin;
	const char *policy; /* built-in chains: ACCEPT or DROP (NULL otherwise) */
	size_t first, n;    /* its rules: rules[first .. first + n) */
	size_t body;	    /* the offset a jump to it names (user chains) */
};

struct ipt_blob {
	unsigned family; /* FAMILY_IPV4 or FAMILY_IPV6 */
	void *buf;
	char *names;		       /* after ipt_blob_compact(): the user chains' names */
	struct ipt_blob_chain *chains; /* in the blob's order */
	size_t n_chains;
	struct ipt_blob_rule *rules;
	size_t n_rules;
};

/* Reads the table (the kernel instantiates it if it was not loaded: ask
 * ipt_loaded_tables() first).  A negative errno; -EPROTO for a blob whose
 * layout is not the one above. */
int ipt_blob_read(struct ipt_blob *b, unsigned family, const char *table);
void ipt_blob_free(struct ipt_blob *b);

/*
 * The chains in the order libiptc lists them (iptc_first_chain, next): the
 * built-in ones as the blob has them, each user chain put in its place by
 * name among the user chains before it, as libiptc's parser puts it (a blob
 * libiptc wrote has its user chains sorted already, so they stay as they
 * are).  *order: indexes into b->chains, to free.
 */
int ipt_blob_chain_order(const struct ipt_blob *b, size_t **order);
/* The chain of that name (built-in or not), or NULL. */
const struct ipt_blob_chain *ipt_blob_find_chain(const struct ipt_blob *b, const char *name);

/* Keeps the chains' names (and policies), gives back the rules: for a
 * reader that only asks which chains there are.  0 or -ENOMEM. */
int ipt_blob_keep_chains(struct ipt_blob *b);

/* Whether a rule's match (a struct xt_entry_match in the entry e) can go. */
typedef bool ipt_blob_drop_fn(unsigned family, const void *e, const void *match, void *ctx);

/*
 * Shrinks the blob to what a reader of the rules needs, in place, and gives
 * the rest back: every entry that is not a rule (a user chain's head and
 * foot, a built-in chain's policy, the table's end) goes, the user chains'
 * names move to a small table of their own, and `drop` (may be NULL) can
 * take matches out of the rules that remain (their target_offset and
 * next_offset follow).  rules[].e, rules[].label and chains[].name are
 * updated; the entries no longer sit where the kernel's offsets say, so
 * chains[].body means nothing afterwards.  On kube-proxy's nat table the
 * chain scaffolding and the comment matches are about 60 % of the blob.
 */
int ipt_blob_compact(struct ipt_blob *b, ipt_blob_drop_fn *drop, void *ctx);
