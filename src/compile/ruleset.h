/*
 * The rule IR: what the compiler produces and every emitter consumes.  It is
 * backend-neutral: a rule says which hook it runs on, what it matches and
 * whether it returns early (keep tracked) or notracks.  Ports and addresses
 * live in sets shared between rules, so a service's port list is stored once
 * and referenced as dport on the way in and sport on the way out.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

#define RULESET_NAME_MAX 32
#define RULESET_DEFAULT_TABLE "notrackctl"

enum hook {
	HOOK_PREROUTING,
	HOOK_OUTPUT,
};

enum verdict {
	VERDICT_RETURN,	 /* keep_tracked: leave our chain, conntrack sees the packet */
	VERDICT_NOTRACK, /* attach the untracked template: conntrack skips the packet */
	/* in a timeout chain: attach ruleset.timeouts[rule.ct_timeout] to the
	 * connection conntrack has just created for this packet */
	VERDICT_CT_TIMEOUT,
};

/*
 * Which of the packets a prerouting notrack rule's selectors match are really
 * this host's own.  At priority raw nothing has been routed yet, so "dport 80"
 * also matches a packet a router forwards to a server behind it, and "sport
 * 443 from the upstream" also matches the reply to a LAN client's
 * masqueraded connection.  Output rules see only locally generated packets and
 * stay SCOPE_ANY.
 */
enum rule_scope {
	SCOPE_ANY,	  /* loopback, whole interfaces, exceptions, every output rule */
	SCOPE_LOCAL_DEST, /* services: addressed to one of this host's addresses */
	SCOPE_OWN_SOCKET, /* upstream replies: belonging to one of this host's sockets */
};

/* The filter hooks whose chains untracked packets of this policy can reach,
 * and where "auto" therefore puts the untracked accept. */
enum accept_hook {
	ACCEPT_HOOK_INPUT = 1 << 0,
	ACCEPT_HOOK_FORWARD = 1 << 1,
	ACCEPT_HOOK_OUTPUT = 1 << 2,
};

enum field {
	FIELD_NONE,
	FIELD_SOURCE,
	FIELD_DEST,
};

/* How the kernel holds a port set (bench/RESULTS.md, "set representations").
 * The last two hold single ports, each port of a range an element. */
enum port_set_repr {
	PORT_SET_INTERVAL, /* ranges: nft "flags interval", the kernel's rbtree */
	PORT_SET_HASH,	   /* "flags dynamic": the kernel's rhash, loaded in linear time */
	/* a plain set (no flags): a bitmap of the 65,536 ports, the cheapest
	 * lookup there is; its load time grows with the square of its elements
	 * (each insert walks the list of those already there: 0.02 s at 1,024
	 * random ports, 0.4 s at 10,000), so only up to PORT_SET_BITMAP_MAX_PORTS */
	PORT_SET_BITMAP,
};

struct port_set {
	char name[RULESET_NAME_MAX];
	struct port_range *ranges; /* disjoint, ascending, adjacent ranges merged */
	size_t n;
	enum port_set_repr repr; /* compile.c decides */
	/* ICMP error rules look the embedded port up in a copy of this set
	 * whose key is a raw payload (named "<name>_icmp"): nft's grammar
	 * refuses a raw payload against a set of type inet_service. */
	bool icmp_copy;
};

/* A port set is hashed while holding its ports one by one costs at most this
 * many times the elements of its ranges (and not more than this many ports). */
#define PORT_SET_HASH_EXPANSION 4
#define PORT_SET_HASH_MAX_PORTS 16384
#define PORT_SET_BITMAP_MAX_PORTS 256

struct addr_set {
	char name[RULESET_NAME_MAX];
	unsigned family;    /* FAMILY_IPV4 or FAMILY_IPV6 */
	struct cidr *cidrs; /* disjoint, ascending */
	size_t n;
};

/* A set with one element is written inline; the kernel then needs no set object. */
static inline bool port_set_is_inline(const struct port_set *s)
{
	return s->n == 1;
}
static inline bool addr_set_is_inline(const struct addr_set *s)
{
	return s->n == 1;
}

struct rule {
	enum hook hook;
	enum verdict verdict;
	enum rule_scope scope;
	unsigned family;    /* FAMILY_BOTH: no family match needed */
	bool has_ifname;    /* iifname on prerouting, oifname on output */
	bool ifname_invert; /* every interface but `ifname`; matched after the addresses */
	/* An ICMP or ICMPv6 error addressed to this host about a packet this
	 * host sent (v4: destination unreachable, time exceeded, parameter
	 * problem; v6: packet too big too).  proto, port_field and port_set
	 * describe that embedded packet as the output rule describes what
	 * leaves (a service's port is its source port); `family` is one
	 * family; ifname is where the error arrives; no address matches. */
	bool icmp_error;
	struct ifname ifname;
	unsigned char proto; /* IPPROTO_*, 0 = any */
	enum field port_field;
	int port_set; /* index into port_sets, -1 = none */
	enum field peer_field;
	int peer_set; /* index into addr_sets, -1 = none */
	enum field local_field;
	int local_set;
	char origin[POLICY_PATH_MAX]; /* policy entry this rule comes from */
	int ct_timeout;		      /* VERDICT_CT_TIMEOUT: index into ruleset.timeouts */
};

/* One nft "ct timeout" object: a keep_tracked entry's timeouts, named after
 * its content so that a changed policy is a changed name, and entries with
 * the same timeouts share it. */
#define CT_TIMEOUT_NAME_MAX 160
struct ct_timeout_obj {
	char name[CT_TIMEOUT_NAME_MAX];
	struct ct_timeouts t;
};

struct ruleset {
	char table[RULESET_NAME_MAX]; /* nft table name, also the ownership tag */
	unsigned families;
	struct port_set *port_sets;
	size_t n_port_sets;
	struct addr_set *addr_sets;
	size_t n_addr_sets;
	struct rule *rules; /* what the policy's entries select: lint and coverage model these */
	size_t n_rules;
	/* Returns the policy never wrote, between the keep_tracked rules and the
	 * notrack rules: a packet to 127.0.0.0/8 or ::1 that arrives on an
	 * interface other than lo stays tracked (with route_localnet on, the
	 * kernel routes it to a loopback-bound service; CVE-2020-8558). */
	struct rule *guards;
	size_t n_guards;
	/* The ICMP errors about what the notrack rules of services and
	 * upstreams untrack (and, first, returns for what keep_tracked keeps):
	 * conntrack finds no flow for an error about an untracked connection
	 * and marks it INVALID, so a "ct state invalid drop" would take it
	 * (path MTU discovery breaks); untracked, the untracked accept lets
	 * it reach its socket.  Last in prerouting. */
	struct rule *icmp_rules;
	size_t n_icmp_rules;
	/* each chain's rules in the order the kernel walks them, pointing into
	 * rules, guards and icmp_rules: what every emitter writes */
	const struct rule **chain[2];
	size_t n_chain[2];
	enum untracked_accept_mode accept_mode;
	unsigned accept_hooks; /* enum accept_hook: where untracked packets of ours can arrive */
	struct chain_ref *accept_chains;
	size_t n_accept_chains;
	char **exposure; /* plain-words lines: what bypasses stateful filtering */
	size_t n_exposure;
	char **kept; /* plain-words lines: what stays tracked and why */
	size_t n_kept;
	/* Per-traffic timeouts (keep_tracked "timeouts"): the objects, and the
	 * rules that attach them, copies of the keep_tracked entry's return
	 * rules in chains of their own after conntrack (timeout_chain_name()).
	 * Not in rules[]: lint and coverage model what is tracked, and these
	 * change nothing about that. */
	struct ct_timeout_obj *timeouts;
	size_t n_timeouts;
	struct rule *timeout_rules; /* grouped by hook, prerouting first */
	size_t n_timeout_rules;
	/* the "conntrack" section: sysctl values an apply writes after the
	 * rule transaction (ct_sysctl.h); no part of the backend's objects */
	struct ct_value *conntrack;
	size_t n_conntrack;
};

/* Host facts the compiler may consult for warnings; NULL callbacks skip them. */
struct compile_host {
	bool (*interface_exists)(const struct ifname *ifn, void *ctx);
	void *ctx;
};

struct compile_options {
	const char *table; /* NULL: RULESET_DEFAULT_TABLE */
	const struct compile_host *host;
};

/* Pure: no sockets, no files.  Warnings go to d->warnings. */
int compile_policy(const struct policy *pol, const struct compile_options *opt, struct ruleset *out, struct diag *d);
void ruleset_free(struct ruleset *rs);
/* enum accept_hook bits for rs's notrack rules (compile_policy stores it in rs->accept_hooks) */
unsigned ruleset_accept_hooks(const struct ruleset *rs);

/* The comment every rule we own carries: "<table>" for untracked accepts and
 * "<table> <origin without $.>" for rules in our own chains. */
void rule_comment(const struct ruleset *rs, const struct rule *r, char *buf, size_t size);

const char *hook_name(enum hook h);
/* The timeout chain of a hook: "timeout_prerouting", "timeout_output". */
const char *timeout_chain_name(enum hook h);
/* The chain a rule lives in. */
const char *rule_chain_name(const struct rule *r);
/* The priority of the timeout chains: after conntrack (-200) has created the
 * entry, before it is confirmed (last), which is when a timeout can still be
 * attached; mangle, so also before NAT (-100 on prerouting). */
#define TIMEOUT_CHAIN_PRIORITY (-150) /* NF_IP_PRI_MANGLE; emit_nft.c writes "mangle" */
/* Checks a table name from the environment or command line. */
bool ruleset_valid_table_name(const char *name);
