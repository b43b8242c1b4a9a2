/*
 * The address families, in one encoding: a bit each, so a set of them (a
 * rule that matches both, the families a ruleset needs) is the same type.
 * The kernel's encodings (AF_*, NFPROTO_*) and the names the user and the
 * backends read are converted at the edges, with the functions below.
 */
#pragma once
#include <stdbool.h>
#include <sys/socket.h>

enum family_mask {
	FAMILY_IPV4 = 1 << 0,
	FAMILY_IPV6 = 1 << 1,
	FAMILY_BOTH = FAMILY_IPV4 | FAMILY_IPV6,
};

/* AF_INET or AF_INET6 (a socket address, getifaddrs, a conntrack entry) to
 * FAMILY_IPV4 or FAMILY_IPV6; 0 for any other. */
static inline unsigned family_from_af(int af)
{
	return af == AF_INET ? FAMILY_IPV4 : af == AF_INET6 ? FAMILY_IPV6 : 0;
}

static inline int family_to_af(unsigned family)
{
	return family == FAMILY_IPV4 ? AF_INET : AF_INET6;
}

/* Bytes of an address of one family. */
static inline unsigned family_addr_len(unsigned family)
{
	return family == FAMILY_IPV4 ? 4 : 16;
}
