/*
 * Facts about this host that the kernel keeps outside netfilter: its
 * interfaces and addresses, this boot and this network namespace.  The
 * compiler's interface check, lint, coverage and the engine's no-op stamp
 * read them here, and only here.
 */
#pragma once
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOST_BOOT_ID_SIZE 40

/* An address of an interface of this host. */
struct host_addr {
	char ifname[IF_NAMESIZE];
	unsigned family; /* FAMILY_IPV4 or FAMILY_IPV6 */
	uint8_t addr[16];
	unsigned prefix; /* of the connected subnet */
};

/* This host's IPv4 and IPv6 addresses, in getifaddrs(3)'s order; *out is
 * freed by the caller.  0 or a negative errno (then *out is NULL, *n 0). */
int host_addrs(struct host_addr **out, size_t *n);

/* Whether an interface of this name exists (wildcard: one whose name begins
 * with it).  True when it cannot tell, so that nobody is warned wrongly. */
bool host_interface_exists(const char *name, bool wildcard);

/*
 * This boot's identity: /proc/sys/kernel/random/boot_id, which the kernel
 * draws anew at every boot.  A record made under another boot id describes
 * a kernel that no longer exists: its ruleset started empty since.  Tests
 * simulate a reboot with NOTRACKCTL_TEST_BOOT_ID (a seam, like the sync
 * points in txn.c).  0, or -1 with out empty when it cannot be read.
 */
int host_boot_id(char out[HOST_BOOT_ID_SIZE]);

/* This network namespace's cookie (Linux 5.14 and later), unique in a boot.
 * 0, or -1 when the kernel has none. */
int host_netns_cookie(uint64_t *out);
