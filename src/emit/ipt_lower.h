/*
 * The iptables lowering, one module for the emitter (emit_iptables.c, the
 * iptables-restore text) and for the iptables backend (ipt_build.c makes the
 * same rules as libiptc entries): our chains' names, the variants an IR rule
 * becomes, their text, and the rules outside our chains (the jumps into
 * ours, the untracked accept and the chains "auto" puts it into).  Pure.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "compile/ruleset.h"
#include "util/strbuf.h"

/* iptables chain names derived from the table name, e.g. NOTRACKCTL-PRE. */
void iptables_chain_name(const struct ruleset *rs, enum hook h, char *buf, size_t size);
void iptables_chain_name_for(const char *table, enum hook h, char *buf, size_t size);
/* The built-in chains of raw that jump into ours, by enum hook. */
extern const char *const iptables_raw_builtin[2];

/*
 * The rules outside our chains, in iptables' words and without a newline:
 * emit_iptables_text prints them, and the iptables backend shows them in its
 * plan for the entries ipt_build_jump() and ipt_build_accept() make.
 */
/* "-I BUILTIN 1 -m comment --comment "TAG" -j CHAIN" */
void iptables_jump_text(struct strbuf *out, const char *builtin, const char *tag, const char *chain);
/* "-I CHAIN 1 -m conntrack --ctstate UNTRACKED -m comment --comment "TAG" -j ACCEPT" */
void iptables_accept_text(struct strbuf *out, const char *chain, const char *tag);
/* The filter chains untracked_accept "auto" inserts the accept into: of
 * INPUT, FORWARD and OUTPUT (in that order) those on rs->accept_hooks, where
 * this policy's untracked packets arrive.
 * Returns how many names it put into chains. */
size_t iptables_auto_accept_chains(const struct ruleset *rs, const char *chains[3]);

/*
 * One iptables rule of an IR rule.  iptables has no sets without ipset, so an
 * IR rule becomes one rule per peer address, per local address and per
 * multiport chunk of its port set.  The text emitter and the libiptc backend
 * walk the same variants, so what one prints is what the other loads.
 */
struct iptables_variant {
	const struct rule *rule;
	const struct cidr *peer, *local; /* NULL: no address match on that side */
	const struct port_set *ports;	 /* NULL: no port match */
	size_t pstart, pcount;		 /* the ranges of `ports` this rule's multiport holds */
};

typedef int (*iptables_variant_fn)(const struct ruleset *rs, const struct iptables_variant *v, void *ctx);

/* How many rules r's port set takes in iptables: multiport lists, or u32
 * value lists for an ICMP error rule. */
size_t iptables_port_lists(const struct rule *r, const struct port_set *s);
/* Calls fn for every variant of r in order; stops at the first non-zero return and returns it. */
int iptables_for_each_variant(const struct ruleset *rs, const struct rule *r, iptables_variant_fn fn, void *ctx);
/* The variant as an iptables-restore line ("-A CHAIN ..."), without the newline. */
void iptables_variant_text(const struct ruleset *rs, const struct iptables_variant *v, const char *chain,
			   struct strbuf *out);

/* iptables multiport takes at most 15 ports, a range counting as two. */
#define MULTIPORT_MAX_SLOTS 15
/* a u32 test compares with at most 10 values or ranges (XT_U32_MAXSIZE) */
#define U32_MAX_VALUES 10

struct xt_u32;
/*
 * The u32 match of an ICMP error rule's variant (rule.icmp_error): the
 * error types, then the embedded packet's header, protocol and ports at
 * their offsets (see emit.h).  iptables_variant_text prints it as the
 * "--u32" argument; libiptc loads the struct.
 */
void iptables_icmp_u32(const struct iptables_variant *v, struct xt_u32 *out);
