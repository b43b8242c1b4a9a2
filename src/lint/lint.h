/*
 * The NAT/state linter.  A backend's reader turns the live ruleset into a
 * backend-neutral list of conntrack users (NAT, ct state, helpers, marks,
 * zones, kube-proxy) and of filter chains; the pure analyser here intersects
 * them with the compiled policy's notrack rules and says, in plain words, what
 * would break.
 *
 *   kernel --backend reader--> struct lint_input --lint_analyse(IR)--> findings
 *
 * Packet paths decide which rules meet.  Our notrack rules run at raw
 * priority on prerouting (every arriving packet, local or forwarded) and
 * output (every locally generated packet).  A packet notracked there has no
 * conntrack entry afterwards, so:
 *   - a rule on prerouting, input or forward meets our prerouting rules;
 *   - a rule on output meets our output rules;
 *   - a rule on postrouting meets both (forwarded and local packets);
 *   - NAT also needs the replies of the flows it translated: a DNAT's replies
 *     come from the new destination, a source NAT's replies go to the new
 *     source; both are checked where those replies enter (prerouting if they
 *     arrive, output if this host sends them).
 * Our keep_tracked rules come first in the same chains: a packet they return
 * is never notracked.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lint/lint_sel.h"
#include "policy/policy.h"
#include "compile/ruleset.h"
#include "util/host.h"
#include "util/slot_index.h"

/* Netfilter hooks, as bits (1 << NF_INET_*). */
enum {
	LINT_HOOK_PREROUTING = 1 << 0,
	LINT_HOOK_INPUT = 1 << 1,
	LINT_HOOK_FORWARD = 1 << 2,
	LINT_HOOK_OUTPUT = 1 << 3,
	LINT_HOOK_POSTROUTING = 1 << 4,
};

/*
 * The client's port of a connection someone else opened, and the port a
 * source NAT keeps, are taken to be ephemeral: 32768-65535 covers Linux's
 * default range (32768-60999) and the IANA one (49152-65535).  Without this a
 * service on port 8080 would "catch" the replies of every NAT flow whose
 * client happened to pick 8080 as its source port.
 */
#define LINT_EPHEMERAL_FIRST 32768
#define LINT_EPHEMERAL_LAST 65535

/* ct state bits, as nft and the xt state/conntrack matches (after mapping) use them */
enum {
	LINT_CT_INVALID = 1 << 0,
	LINT_CT_ESTABLISHED = 1 << 1,
	LINT_CT_RELATED = 1 << 2,
	LINT_CT_NEW = 1 << 3,
	LINT_CT_UNTRACKED = 1 << 6,
};

enum ct_need {
	CT_NEED_DNAT,
	CT_NEED_REDIRECT,
	CT_NEED_SNAT,
	CT_NEED_MASQUERADE,
	CT_NEED_STATE,	/* ct state / -m state / -m conntrack --ctstate */
	CT_NEED_HELPER, /* ct helper assignment or match, CT --helper */
	CT_NEED_MARK,	/* ct mark, CONNMARK, -m connmark */
	CT_NEED_ZONE,	/* ct zone, CT --zone */
	CT_NEED_OTHER,	/* any other conntrack match or target (status, expiration, ...) */
};

/* Whether a DNAT's new destination is this host. */
enum lint_place {
	LINT_PLACE_UNKNOWN,
	LINT_PLACE_LOCAL,
	LINT_PLACE_REMOTE,
};

#define LINT_NAME_MAX 64
#define LINT_RULE_MAX 256

/* One foreign rule that needs conntrack.  A kube-proxy host hands over one
 * per service (5,000 at 10,000 rules, each met from two hooks), so it is
 * kept small: text out of line, interface lists interned, the flags
 * together. */
struct ct_user {
	enum ct_need need;
	unsigned hooks; /* LINT_HOOK_*: the base chains that reach the rule */
	char family[8]; /* the table's family as its tools name it: "ip", "ip6", "inet" */
	/* Where the rule sits, and the rule in words ('iifname != "docker0" tcp
	 * dport 8081 dnat to 172.17.0.2:80'): one allocation that table starts,
	 * set by lint_user_set_text(). */
	const char *table, *chain, *rule;
	struct lint_sel sel; /* the packets it can match (original direction), jump conditions included */
	struct lint_ranges to_addr[FAMILY_SLOTS]; /* NAT: the new address (any: not known), by family_index() */
	struct lint_ranges to_port;		  /* NAT: the new port (any: unchanged or not known) */
	/* DNAT: the interface toward the new destination, if known (one name at
	 * most: lint_input_apply_host knows one), interned like a selector's */
	const struct lint_ifs *to_if;
	enum lint_place to_place; /* DNAT: is the new destination this host? */
	uint32_t ct_state;	  /* CT_NEED_STATE: LINT_CT_* matched; 0 = not known */
	uint32_t mark_gate;	  /* the packet-mark bits it needs set (meta mark & M == V); 0: none */
	/* Where it sits in a filter chain (in->chains[chain_index], before the
	 * chain's rules[chain_pos]), or chain_index < 0: what an untracked packet that
	 * skips it meets next. */
	long chain_index;
	size_t chain_pos;
	bool accepts;	 /* its verdict is accept */
	bool limited;	 /* it also has a limit or quota: skipping it lifts that */
	bool kube;	 /* kube-proxy's table or chains */
	bool from_host;	 /* it matches only packets this host sends (fib saddr type local, --src-type LOCAL) */
	bool pkt_mark;	 /* it matches only packets that carry a given packet mark (meta mark 0xca6c) */
	bool ct_write;	 /* CT_NEED_MARK: it sets the ct mark (ct mark set ...), rather than reading it */
	bool nat_random; /* source NAT, fully-random: to_port is where any flow may land */
	bool widened;	 /* part of it could not be decoded and was left out */
};

enum lint_verdict {
	LINT_V_ACCEPT,
	LINT_V_DROP, /* drop or reject */
};

/* A rule of a filter chain that an untracked packet can meet.  Readers leave
 * out what cannot concern one: accepts that need a conntrack entry (unless
 * they match untracked) and drops that need a state other than untracked. */
struct lint_vrule {
	enum lint_verdict verdict;
	struct lint_sel sel;
	/* in words, cut at LINT_RULE_MAX - 1 bytes; an allocation of its own,
	 * as a firewall's filter chain can hold thousands */
	char *rule;
};

/* A foreign base chain of type filter on input, forward or output. */
struct lint_chain {
	unsigned family; /* ip: FAMILY_IPV4, ip6: FAMILY_IPV6, inet: FAMILY_BOTH */
	char family_name[8];
	char table[LINT_NAME_MAX];
	char chain[LINT_NAME_MAX];
	unsigned hook;		  /* one LINT_HOOK_* */
	bool policy_drop;	  /* what reaches its end is dropped */
	bool owner_locked;	  /* only another process may change the table (nft owner flag, firewalld) */
	bool legacy;		  /* a legacy iptables chain (libiptc), not an nftables one */
	struct lint_vrule *rules; /* in evaluation order, jumped-to chains inlined */
	size_t n_rules;
};

/*
 * A foreign rule that untracks packets: nft notrack, xt CT --notrack or
 * NOTRACK (iptables-nft's compat target, or a legacy raw table).  Its
 * packets are untracked like ours, so our untracked accept takes them too:
 * whatever a filter chain dropped of them before, it now accepts.
 */
struct lint_notrack {
	unsigned hook; /* LINT_HOOK_PREROUTING or LINT_HOOK_OUTPUT */
	bool legacy;   /* in a legacy iptables table */
	char family[8];
	char table[LINT_NAME_MAX];
	char chain[LINT_NAME_MAX];
	char rule[LINT_RULE_MAX]; /* in words, with its handle or rule number */
	struct lint_sel sel;	  /* the packets it untracks, jump conditions included */
};

/*
 * One meeting of a conntrack user: a base chain's walk reached it.  A rule
 * reached from several base chains with the same selector (kube-proxy's
 * DNATs, from PREROUTING and from OUTPUT) is one user whose hooks hold them
 * all (lint_input_seal_user), met once from each: the analyser checks the
 * meetings in the order the reader made them, each as the user with that
 * meeting's hooks alone, which is what it saw when every meeting was a user
 * of its own.
 */
struct lint_meet {
	uint32_t user;	/* in->users[user] */
	unsigned hooks; /* LINT_HOOK_*; 0: the user's own (not sealed) */
};

/* What a backend reader hands the analyser. */
struct lint_input {
	struct ct_user *users;
	size_t n_users;
	struct lint_meet *meets; /* every user's, in the order they were met */
	size_t n_meets;
	struct slot_index sealed; /* lint_input_seal_user's index of the sealed users, by content */
	struct lint_chain *chains;
	size_t n_chains;
	struct lint_notrack *notracks;
	size_t n_notracks;
	char **notes; /* what could not be read, in words */
	size_t n_notes;
	/* This host's own addresses, by family_index() (lint_input_apply_host);
	 * empty when not known.  A forwarded packet is not addressed to them. */
	struct lint_ranges local[FAMILY_SLOTS];
	/* Ports a socket of this host listens on, TCP and UDP (lint_input_listening);
	 * empty when not known. */
	struct lint_ranges listen_tcp, listen_udp;
};

enum lint_kind {
	LINT_NAT,	/* NAT would break */
	LINT_STATE,	/* a ct state rule would be bypassed */
	LINT_CT,	/* a helper, mark or zone would be lost */
	LINT_UNCOVERED, /* a filter chain would drop untracked packets */
	LINT_FOREIGN,	/* our untracked accept would accept what a foreign notrack untracks and a chain drops */
};

struct lint_finding {
	enum lint_kind kind;
	char origin[POLICY_PATH_MAX]; /* the policy entry */
	char family[8];
	char table[LINT_NAME_MAX];
	char chain[LINT_NAME_MAX];
	char rule[LINT_RULE_MAX];
	bool reply; /* met in the reply direction */
	char msg[1400];
	char exposure[512]; /* LINT_FOREIGN: what becomes reachable, for the exposure summary */
};

struct lint_report {
	struct lint_finding *v;
	size_t n;
	char **notes;
	size_t n_notes;
};

/*
 * Refines the reader's selectors with this host's addresses (pure; the
 * caller reads them, e.g. with getifaddrs):
 *  - a rule on arriving packets that matches only sources inside one
 *    interface's connected subnet (Docker: -s 172.17.0.0/16) is taken to see
 *    them arrive on that interface.  An approximation: a spoofed or
 *    asymmetrically routed packet could arrive elsewhere;
 *  - a DNAT's new destination is local if it is one of these addresses (or on
 *    lo), remote if it holds none of them, and then reached through the
 *    interface whose subnet holds it;
 *  - they are kept as in->local: a packet to one of them is delivered here,
 *    not forwarded, so it never meets a rule for forwarded traffic (e.g. a
 *    masquerade on postrouting).
 */
void lint_input_apply_host(struct lint_input *in, const struct host_addr *addrs, size_t n);

/* The ports this host's sockets listen on (the caller reads them, e.g.
 * from /proc/net/tcp): a connection of this host's own to such a port that
 * an untracked packet keeps from its DNAT still finds a server, e.g.
 * docker-proxy behind a port Docker publishes. */
int lint_input_listening(struct lint_input *in, const uint16_t *tcp, size_t n_tcp, const uint16_t *udp, size_t n_udp);

/* Pure: every finding for this policy and this live ruleset. */
int lint_analyse(const struct ruleset *rs, const struct lint_input *in, struct lint_report *out);

/* Pure: only the foreign notrack rules of in (a backend whose other
 * conntrack users cannot be read yet still runs this part). */
int lint_analyse_foreign(const struct ruleset *rs, const struct lint_input *in, struct lint_report *out);

/* Findings that need no kernel: the policy alone (lint --offline). */
int lint_offline(const struct ruleset *rs, struct lint_report *out);

int lint_input_add_note(struct lint_input *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int lint_report_add_note(struct lint_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A new user, met once (with the hooks it will have). */
struct ct_user *lint_input_add_user(struct lint_input *in);
/* Once the reader has filled the last user in: if an earlier sealed user is
 * the same rule with the same selector, targets and place, all but the hooks,
 * the last one becomes another meeting of that one (whose hooks take its
 * own) and is freed.  Users whose packet-mark gate the nft reader rewrites
 * later, per user, are left as they are. */
int lint_input_seal_user(struct lint_input *in);
/* Removes the last user and every meeting of it. */
void lint_input_drop_last_user(struct lint_input *in);
/* Sets u's table, chain and rule text (copies, cut at LINT_NAME_MAX - 1 and
 * LINT_RULE_MAX - 1 bytes as the findings that quote them are). */
int lint_user_set_text(struct ct_user *u, const char *table, const char *chain, const char *rule);
/* Frees what a user holds (its text, selector and NAT ranges), not u. */
void lint_user_free(struct ct_user *u);
struct lint_chain *lint_input_add_chain(struct lint_input *in);
struct lint_notrack *lint_input_add_notrack(struct lint_input *in);
/* Moves src's notrack rules to the end of dst's (src keeps none). */
int lint_input_take_notracks(struct lint_input *dst, struct lint_input *src);
/* Moves src's conntrack users and their meetings to the end of dst's,
 * without their place in src's filter chains (src keeps none). */
int lint_input_take_users(struct lint_input *dst, struct lint_input *src);
int lint_chain_add_rule(struct lint_chain *c, enum lint_verdict v, const struct lint_sel *sel, const char *rule);
void lint_input_free(struct lint_input *in);
void lint_report_free(struct lint_report *r);

const char *lint_kind_name(enum lint_kind k);
const char *ct_need_name(enum ct_need n);
