/*
 * The nftables reader of the linter: turns a dump of the live ruleset (the
 * rules' netlink messages, or libnftnl objects) into the backend-neutral
 * struct lint_input.  Pure: the nft backend dumps, this only decodes, so
 * tests can feed it objects.
 *
 * It understands native nft expressions (payload, meta, cmp, range, bitwise,
 * lookup in anonymous and named sets and maps, ct, nat, masq, redir, objref,
 * immediate verdicts) and the xt compat expressions iptables-nft writes
 * (match conntrack/state/multiport/tcp/udp/connmark/helper, target
 * DNAT/SNAT/MASQUERADE/REDIRECT/NETMAP/CT/CONNMARK/REJECT).  Whatever it
 * cannot decode it leaves out of the selector, which widens it.
 */
#pragma once
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lint/lint.h"

struct lint_nft_table {
	uint32_t family; /* NFPROTO_* */
	const char *name;
	uint32_t flags; /* NFT_TABLE_F_* */
};

struct lint_nft_chain {
	uint32_t family;
	const char *table, *name;
	bool base;
	uint32_t hooknum; /* NF_INET_* */
	uint32_t policy;  /* NF_ACCEPT / NF_DROP */
	const char *type; /* "filter", "nat", "route" */
	int32_t prio;	  /* base chains: before conntrack (-200) a notrack takes effect */
};

struct lint_nft_rule {
	/* NULL: only raw, the rule's netlink message, read where the walk meets
	 * it; else the parsed rule, whose message is built there (one decoder) */
	const struct nftnl_rule *r;
	uint32_t family;
	const char *table, *chain;
	uint64_t handle;
	bool ours; /* our untracked accept in a foreign chain: read as if it were not there */
	const struct nlmsghdr *raw;
};

struct lint_nft_view {
	const struct lint_nft_table *tables;
	size_t n_tables;
	const struct lint_nft_chain *chains;
	size_t n_chains;
	const struct lint_nft_rule *rules; /* in kernel order */
	size_t n_rules;
	struct nftnl_set *const *sets; /* every set and map, anonymous ones too, with elements */
	size_t n_sets;
	const char *our_table; /* inet <our_table> is ours and skipped */
};

/* NFT_TABLE_F_OWNER: only the process that created the table may change it. */
#define LINT_NFT_TABLE_F_OWNER 0x2

int lint_nft_decode(const struct lint_nft_view *v, struct lint_input *out);

/*
 * A rule's message (a kernel dump's) cut to what lint_nft_decode() reads of
 * it: the header and the expressions, less those the decoder passes over
 * (counters, iptables-nft's comment match with its 256-byte info struct),
 * for struct lint_nft_rule.raw.  Written to buf, which has room for
 * LINT_NFT_COMPACT_MAX(nlh) bytes; returns its length (0: not a rule's
 * message).  xt is set when the rule holds an xt compat expression
 * (iptables-nft's).
 */
#define LINT_NFT_COMPACT_MAX(nlh) ((size_t)(nlh)->nlmsg_len + 4)
size_t lint_nft_rule_compact(const struct nlmsghdr *nlh, void *buf, bool *xt);
