/*
 * The policy model: what the admin wrote, validated and normalised, with the
 * JSON path of every entry kept so later stages can point back at the file.
 * Parsing knows JSON and nothing about netfilter.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/ct_timeouts.h"
#include "util/diag.h"
#include "util/family.h"

#define POLICY_VERSION 1
#define POLICY_MAX_BYTES (4u * 1024 * 1024)
#define POLICY_IFNAME_MAX 15 /* IFNAMSIZ - 1 */
#define POLICY_NAME_MAX 64
#define POLICY_PATH_MAX 96

struct port_range {
	uint16_t first, last;
};

struct cidr {
	uint8_t family; /* FAMILY_IPV4 or FAMILY_IPV6 */
	uint8_t prefix;
	uint8_t addr[16]; /* network byte order; only the first 4 bytes for IPv4 */
};

struct ifname {
	char name[POLICY_IFNAME_MAX + 1];
	bool wildcard; /* written with a trailing '+': matches every name with this prefix */
};

/* Which side of a connection a port or peer describes. */
enum role {
	ROLE_SERVICE = 1 << 0,	/* this host serves: remote → local port */
	ROLE_UPSTREAM = 1 << 1, /* this host connects out: local → remote port */
	ROLE_ANY = ROLE_SERVICE | ROLE_UPSTREAM,
};

enum keep_reason {
	KEEP_NAT,
	KEEP_STATE,
};

/*
 * A selector is one entry of services, upstreams or keep_tracked.  Ports are
 * sorted, and overlaps were rejected, so ranges are disjoint and ascending.
 */
struct selector {
	char path[POLICY_PATH_MAX]; /* e.g. "$.notrack.services[1]" */
	uint8_t proto;		    /* IPPROTO_*, 0 = any (keep_tracked without proto) */
	enum role role;
	enum keep_reason reason; /* keep_tracked only */
	struct port_range *ports;
	size_t n_ports;
	struct cidr *peers; /* remote addresses */
	size_t n_peers;
	struct cidr *addresses; /* local addresses of this host */
	size_t n_addresses;
	struct ifname *interfaces;
	size_t n_interfaces;
	struct ct_timeouts timeouts; /* keep_tracked only; proto 0: none */
};

enum untracked_accept_mode {
	UNTRACKED_ACCEPT_AUTO,
	UNTRACKED_ACCEPT_NONE,
	UNTRACKED_ACCEPT_LIST,
};

struct chain_ref {
	char path[POLICY_PATH_MAX];
	unsigned family; /* ip: FAMILY_IPV4, ip6: FAMILY_IPV6, inet: FAMILY_BOTH */
	char table[64];
	char chain[64];
};

/* One net.netfilter.nf_conntrack_<key> value of the "conntrack" section. */
#define CT_KEY_MAX 40
struct ct_value {
	char key[CT_KEY_MAX];
	long long value;
	char path[POLICY_PATH_MAX]; /* "$.conntrack.max"; "" when not from a policy */
};

struct policy {
	int version;
	char name[POLICY_NAME_MAX + 1];
	unsigned families; /* enum family_mask */
	bool loopback;
	struct ifname *interfaces;
	size_t n_interfaces;
	struct selector *services;
	size_t n_services;
	struct selector *upstreams;
	size_t n_upstreams;
	struct selector *keep;
	size_t n_keep;
	enum untracked_accept_mode untracked_accept;
	struct chain_ref *accept_chains;
	size_t n_accept_chains;
	struct ct_value *conntrack; /* in the order written */
	size_t n_conntrack;
};

/* The raw text a policy came from, kept so errors can be located in it. */
struct policy_source {
	char *file; /* name shown in messages; "-" for stdin */
	char *text;
	size_t len;
};

/* Reads a policy file (or "-" for stdin) with a size limit.  On error the diag
 * carries the file name. */
int policy_source_read(struct policy_source *src, const char *file, struct diag *d);
void policy_source_free(struct policy_source *src);

/* Parses and validates.  On error d->path names the offending JSON value;
 * policy_locate() then fills in line and column. */
int policy_parse(const struct policy_source *src, struct policy *out, struct diag *d);
void policy_free(struct policy *p);

/* Fills d->file, d->line and d->col from d->path, and likewise for warnings
 * (whose positions are appended to their messages' paths by the caller). */
void policy_locate(const struct policy_source *src, struct diag *d);

const char *proto_name(uint8_t proto);
/* Formats an address with its prefix, e.g. "10.0.0.0/8" or "fd00::/8"; a full
 * length prefix is printed as the bare address. */
void cidr_format(const struct cidr *c, char *buf, size_t size);
