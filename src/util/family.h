/*
 * The address families, in one encoding: a bit each, so a set of them (a
 * rule that matches both, the families a ruleset needs, an nftables table of
 * family inet) is the same type.  The kernel's encodings (AF_*, NFPROTO_*)
 * and the names users and tools read are converted at the edges, with the
 * functions below.  Arrays with one slot per family (lint's address sets)
 * are indexed by family_index().
 */
#pragma once
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

enum family_mask {
	FAMILY_IPV4 = 1 << 0,
	FAMILY_IPV6 = 1 << 1,
	FAMILY_BOTH = FAMILY_IPV4 | FAMILY_IPV6,
};

/* The slot of FAMILY_IPV4 or FAMILY_IPV6 in an array of FAMILY_SLOTS, and
 * back: IPv4 first. */
#define FAMILY_SLOTS 2
static inline unsigned family_index(unsigned family)
{
	return family == FAMILY_IPV6;
}

static inline unsigned family_at(unsigned index)
{
	return index ? FAMILY_IPV6 : FAMILY_IPV4;
}

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

/* The policy's and the JSON output's names: ipv4, ipv6, inet (both). */
static inline const char *family_name(unsigned mask)
{
	switch (mask) {
	case FAMILY_IPV4: return "ipv4";
	case FAMILY_IPV6: return "ipv6";
	default: return "inet";
	}
}

/* For messages: IPv4, IPv6. */
static inline const char *family_label(unsigned family)
{
	return family == FAMILY_IPV4 ? "IPv4" : "IPv6";
}

/* nftables' names of its table families: ip, ip6, inet (both). */
static inline const char *family_nft_name(unsigned mask)
{
	return mask == FAMILY_IPV4 ? "ip" : mask == FAMILY_IPV6 ? "ip6" : "inet";
}

/* 0 when s is none of ip, ip6, inet. */
static inline unsigned family_from_nft_name(const char *s)
{
	return !strcmp(s, "ip") ? FAMILY_IPV4 : !strcmp(s, "ip6") ? FAMILY_IPV6 : !strcmp(s, "inet") ? FAMILY_BOTH : 0;
}

/* The kernel's NFPROTO_* values (uapi, fixed), spelled out here because
 * <linux/netfilter.h> cannot be included beside <netinet/in.h>; nft_build.c
 * checks them against the kernel's header. */
enum {
	FAMILY_NFPROTO_INET = 1,
	FAMILY_NFPROTO_IPV4 = 2,
	FAMILY_NFPROTO_IPV6 = 10,
};

/* NFPROTO_IPV4, NFPROTO_IPV6, NFPROTO_INET (both). */
static inline unsigned family_to_nfproto(unsigned mask)
{
	return mask == FAMILY_IPV4   ? FAMILY_NFPROTO_IPV4
	       : mask == FAMILY_IPV6 ? FAMILY_NFPROTO_IPV6
				     : FAMILY_NFPROTO_INET;
}

/* 0 for the families that carry no IP (arp, bridge, netdev). */
static inline unsigned family_from_nfproto(unsigned nfproto)
{
	return nfproto == FAMILY_NFPROTO_IPV4	? FAMILY_IPV4
	       : nfproto == FAMILY_NFPROTO_IPV6 ? FAMILY_IPV6
	       : nfproto == FAMILY_NFPROTO_INET ? FAMILY_BOTH
						: 0;
}
