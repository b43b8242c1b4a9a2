/*
 * Would a policy have kept this conntrack entry from being created?  Pure:
 * the caller supplies the compiled rules, the entry and the host's local
 * addresses; nothing here reads the system.
 *
 * An entry is created by the first packet of its original direction, at
 * the hook where that packet meets conntrack: output for a packet this host
 * sends, prerouting for one that arrives (or is forwarded).  The entry is
 * avoided when that packet is notracked there, i.e. when the first of our
 * rules on that hook that matches it is a notrack rule rather than a
 * keep_tracked return.  Entries carry no interfaces, so they are inferred:
 *   - the packet was sent by this host when its source is a local address
 *     (127.0.0.0/8 and ::1 count as local, on lo);
 *   - a sent packet whose destination is local leaves on lo, as Linux routes
 *     every local destination through lo;
 *   - an arriving packet came in on the interface that holds its destination
 *     address (127.0.0.0/8 and ::1: lo).  This is the strong host model; a
 *     host that accepts packets for one interface's address on another
 *     breaks it;
 *   - an arriving packet to an address that is not local was forwarded:
 *     services and upstream replies never take it (their rules match only
 *     what is addressed to this host, or this host's own sockets);
 *   - otherwise the interface is unknown (a forwarded packet, or one sent to
 *     a remote address: that needs a route lookup), but it is not lo, which
 *     carries only what the host sends to itself.  A rule that names another
 *     interface then cannot be decided, and neither can the entry unless
 *     every outcome agrees.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "diagnostics/ct_dump.h"
#include "compile/ruleset.h"
#include "util/host.h"

/* The host's local addresses, from host_addrs() or a test. */
struct cov_host {
	const struct host_addr *addrs;
	size_t n;
};

enum cov_outcome {
	COV_TRACKED,	 /* the policy would still track it */
	COV_AVOIDED,	 /* a notrack rule would have caught its first packet */
	COV_UNDECIDABLE, /* depends on an interface the entry does not tell */
};

struct cov_verdict {
	enum cov_outcome outcome;
	int rule; /* index into rs->rules of the deciding rule; -1 if none */
};

struct cov_verdict coverage_eval(const struct ruleset *rs, const struct cov_host *host, const struct ct_entry *e);

/* Counts outcomes over a stream of entries. */
struct coverage {
	const struct ruleset *rs;
	const struct cov_host *host;
	uint64_t total, avoided, tracked, undecidable;
	uint64_t *by_rule; /* avoided entries per deciding rule, rs->n_rules long */
};

int coverage_init(struct coverage *c, const struct ruleset *rs, const struct cov_host *host);
void coverage_add(struct coverage *c, const struct ct_entry *e);
void coverage_free(struct coverage *c);
