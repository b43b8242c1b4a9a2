/*
 * IR → libiptc entries.  An entry is a struct ipt_entry (IPv4) or struct
 * ip6t_entry (IPv6) followed by its matches and its target, in one block.
 * We build each one exactly as iptables builds it from the line that
 * emit_iptables prints (same matches, revisions, sizes and field values),
 * so iptables-legacy-save shows the same rules whichever way they were
 * loaded.  Pure: nothing here talks to the kernel.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emit/emit.h"
#include "emit/ipt_lower.h"
#include "compile/ruleset.h"
#include "util/strbuf.h"

#define IPT_CHAIN_MAX 32 /* XT_TABLE_MAXNAMELEN, with the NUL */

/* One rule as we compare and load it, built by us or read from the kernel. */
struct ipt_rule {
	char chain[IPT_CHAIN_MAX];
	unsigned family;
	unsigned pos; /* 1-based rule number in its chain, as iptables -L --line-numbers counts */
	void *e;      /* the entry, normalised (see ipt_entry_normalise) */
	uint64_t key; /* ipt_entry_key(e): equal keys first, then ipt_entry_same() */
	/* For people: an iptables line we want, or what a live rule says.
	 * Made when first asked for (ipt_rule_text): a plan compares 131,000
	 * rules for a large policy and shows none of them when nothing changed. */
	char *text;
	/* A rule borrowed from a libiptc snapshot (ipt_rule_list_borrow): e is
	 * the snapshot's own bytes, not normalised and not ours to free, valid
	 * while the snapshot is open; label is what iptc_get_target() said. */
	bool borrowed;
	const char *label;
	const struct ruleset *rs; /* with v: what a built rule's text is made from */
	struct iptables_variant v;
	uint64_t packets, bytes;
};

struct ipt_rule_list {
	struct ipt_rule *v;
	size_t n;
};

void ipt_rule_list_free(struct ipt_rule_list *l);
/* Appends a rule and takes ownership of e and of text (both freed on
 * failure; text may be NULL, see ipt_rule_text); the key is computed here.
 * Returns the rule or NULL. */
struct ipt_rule *ipt_rule_list_add(struct ipt_rule_list *l, unsigned family, const char *chain, unsigned pos, void *e,
				   char *text);

/* Appends a rule as it stands in an open libiptc snapshot, without copying
 * or normalising it: for reads that only compare and count.  Returns the
 * rule or NULL. */
struct ipt_rule *ipt_rule_list_borrow(struct ipt_rule_list *l, unsigned family, const char *chain, unsigned pos,
				      const void *e, const char *label);
/* The target's name, or the label of a borrowed jump or verdict. */
const char *ipt_rule_target(const struct ipt_rule *r);
/* The rule's text, made on first use; "?" when out of memory. */
const char *ipt_rule_text(struct ipt_rule *r);
/* Whether two rules are the same rule to iptables. */
bool ipt_rule_same(const struct ipt_rule *a, const struct ipt_rule *b);

/* Appends the rules of our chain for hook h (only those of `family`) in IR order. */
int ipt_build_chain_rules(const struct ruleset *rs, unsigned family, enum hook h, const char *chain,
			  struct ipt_rule_list *out);
/* "-m comment --comment TAG -j CHAIN": the jump from a built-in chain into ours. */
void *ipt_build_jump(unsigned family, const char *tag, const char *chain);
/* "-m conntrack --ctstate UNTRACKED -m comment --comment TAG -j ACCEPT". */
void *ipt_build_accept(unsigned family, const char *tag);

/* Size of the whole entry (its next_offset). */
size_t ipt_entry_size(unsigned family, const void *e);
/* Where the entry's counters are: they differ only in the header's size. */
const void *ipt_entry_counters(unsigned family, const void *e, uint64_t *packets, uint64_t *bytes);
/* The comment of a "-m comment" match, or NULL when there is none. */
const char *ipt_entry_comment(unsigned family, const void *e);
/* The target's name as stored: after ipt_entry_normalise, a verdict's or chain's label too. */
const char *ipt_entry_target_name(unsigned family, const void *e);
/*
 * A copy of e fit for comparing and for loading again: libiptc hands back
 * jumps and standard verdicts as a target with an empty name and a kernel
 * offset; the copy carries the label instead (`label` is what
 * iptc_get_target() said: a chain name, ACCEPT, RETURN ...), the way
 * iptables itself passes them in.  Counters and the back pointer are zeroed.
 */
void *ipt_entry_normalise(unsigned family, const void *e, const char *label);
/*
 * A key that is equal for two entries when iptables sees the same rule: over
 * the ip header fields, then each match and the target by name, revision,
 * size and the bytes userspace owns (counters and kernel-only bytes are left
 * out).  `label` is for an entry as libiptc hands it out (what
 * iptc_get_target() said), NULL for a normalised one: a jump or a verdict is
 * keyed by its label either way, never by the kernel's offset.
 */
uint64_t ipt_entry_key(unsigned family, const void *e, const char *label);
/* Whether two entries are the same rule: the bytes the key covers,
 * compared.  The labels are as for ipt_entry_key(). */
bool ipt_entry_same(unsigned family, const void *a, const char *label_a, const void *b, const char *label_b);
