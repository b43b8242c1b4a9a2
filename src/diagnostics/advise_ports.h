/*
 * advise --write-policy, per traffic: which tracked (protocol, port) groups
 * dominate the table, and the keep_tracked "timeouts" that shorten their
 * life without touching the host's global timeouts.
 *
 * Only traffic the policy cannot untrack counts: entries the kernel NATed
 * (IPS_SRC_NAT or IPS_DST_NAT: a published port's DNAT, a masqueraded
 * client), and entries a keep_tracked entry of the policy keeps tracked.
 * Anything else is better untracked than given short timeouts (top
 * --policy shows how much that saves).  Groups are by the original
 * direction's destination port: the port the timeout rules match, at
 * priority -150, before the DNAT (-100) rewrites it.
 */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diagnostics/advise.h"
#include "diagnostics/ct_dump.h"
#include "policy/policy.h"
#include "util/strbuf.h"

/* A group earns a proposal when it holds at least this share of all the
 * table's entries and at least this many entries: below that the table is
 * not its problem. */
#define ADVISE_PORT_SHARE_PERCENT 20
#define ADVISE_PORT_MIN_ENTRIES 1000
/* and a state of the group earns its timeout at this share of the group */
#define ADVISE_PORT_STATE_PERCENT 20
/* The values proposed, in seconds (see advise_ports.c for why). */
#define ADVISE_PORT_TIME_WAIT 10
#define ADVISE_PORT_UDP 10
#define ADVISE_PORT_UDP_STREAM 60
/* The most proposals one run makes (one group needs 20 % of the table, so
 * five at most can qualify). */
#define ADVISE_PORT_MAX 5

struct advise_port_cell {
	uint32_t entries;
	uint32_t nat; /* of those, NATed by the kernel; the rest a keep_tracked entry keeps */
	uint32_t time_wait, close;
	uint32_t udp_unreplied, udp_stream;
};

/* Counts of the entries that must stay tracked, by tcp/udp and port. */
struct advise_ports {
	struct advise_port_cell *cell; /* [2][65536]: tcp, udp */
	uint64_t counted;
};

int advise_ports_init(struct advise_ports *p);
void advise_ports_free(struct advise_ports *p);
/* Counts e when it is NATed or `policy` (may be NULL) keeps it tracked. */
void advise_ports_add(struct advise_ports *p, const struct policy *policy, const struct ct_entry *e);

#define ADVISE_PORT_KEYS 8

struct advise_port_item {
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;
	struct advise_port_cell c;
	uint64_t total; /* entries in the whole table */
	double share_percent;
	size_t n;
	struct {
		const char *key; /* a keep_tracked "timeouts" key */
		uint32_t value;
		uint64_t entries; /* in the state it times; 0 for a pinned global */
		bool pinned;	  /* not a proposal: this host's global value, which the object would lose */
	} t[ADVISE_PORT_KEYS];
};

/*
 * The proposals, largest group first.  global[] holds the global timeouts
 * in force after the advice (the current sysctls, or the recommended value
 * where advise changes one): a state is only shortened where its global is
 * longer than the proposed value, and a state the object would otherwise
 * reset to the kernel's built-in default (an object holds every state) is
 * pinned at its global value.  Returns how many were written to out.
 */
size_t advise_port_timeouts(const struct advise_ports *p, uint64_t total, const uint64_t global[ADV_TIMEOUTS],
			    struct advise_port_item out[ADVISE_PORT_MAX]);

/*
 * Puts the proposals into root (the policy being written; pol is its
 * parsed form): into the keep_tracked entry that selects exactly that
 * protocol and port (a "timeouts" key it already has is kept), or as a new
 * entry.  One line per proposal goes to notes; a group that an earlier
 * entry with timeouts already covers is left alone, and said so.  Returns
 * how many groups went into root, or -ENOMEM.
 */
int advise_ports_merge(json_t *root, const struct policy *pol, const struct advise_port_item *items, size_t n,
		       struct strbuf *notes);
