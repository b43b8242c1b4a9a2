#include "util/host.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/family.h"

int host_addrs(struct host_addr **out, size_t *n)
{
	struct ifaddrs *list, *i;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (getifaddrs(&list) < 0)
		return -errno;
	for (i = list; i; i = i->ifa_next)
		k++;
	*out = calloc(k + 1, sizeof(**out));
	if (!*out) {
		freeifaddrs(list);
		return -ENOMEM;
	}
	for (i = list; i; i = i->ifa_next) {
		struct host_addr *a = &(*out)[*n];
		const uint8_t *addr, *mask;
		unsigned len;
		if (!i->ifa_addr || !i->ifa_netmask ||
		    (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			addr = (const uint8_t *)&((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
			mask = (const uint8_t *)&((const struct sockaddr_in *)(const void *)i->ifa_netmask)->sin_addr;
		} else {
			addr = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr;
			mask = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)i->ifa_netmask)->sin6_addr;
		}
		a->family = family_from_af(i->ifa_addr->sa_family);
		len = family_addr_len(a->family);
		snprintf(a->ifname, sizeof(a->ifname), "%s", i->ifa_name);
		memcpy(a->addr, addr, len);
		for (unsigned b = 0; b < len * 8 && (mask[b / 8] & (0x80 >> (b % 8))); b++)
			a->prefix++;
		(*n)++;
	}
	freeifaddrs(list);
	return 0;
}

bool host_interface_exists(const char *name, bool wildcard)
{
	struct if_nameindex *list, *i;
	bool found = false;

	if (!wildcard)
		return if_nametoindex(name) != 0;
	list = if_nameindex();
	if (!list)
		return true; /* cannot tell: do not warn */
	for (i = list; i->if_index && !found; i++)
		found = strncmp(i->if_name, name, strlen(name)) == 0;
	if_freenameindex(list);
	return found;
}

int host_boot_id(char out[HOST_BOOT_ID_SIZE])
{
	const char *seam = getenv("NOTRACKCTL_TEST_BOOT_ID");
	FILE *f;
	int r;

	out[0] = '\0';
	if (seam && *seam) {
		snprintf(out, HOST_BOOT_ID_SIZE, "%s", seam);
		return 0;
	}
	f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (!f)
		return -1;
	r = fscanf(f, "%39s", out) == 1 ? 0 : -1;
	fclose(f);
	if (r < 0)
		out[0] = '\0';
	return r;
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

int host_netns_cookie(uint64_t *out)
{
	socklen_t len = sizeof(*out);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r = fd < 0 || getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, out, &len) < 0 ? -1 : 0;

	if (fd >= 0)
		close(fd);
	return r;
}
