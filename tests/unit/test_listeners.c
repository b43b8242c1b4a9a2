/*
 * listeners_read() against sockets this test opens on loopback: a TCP
 * listener on IPv4 and one on IPv6, a bound UDP socket, and the sockets that
 * must not count (a TCP socket bound but not listening, a connected UDP
 * socket).  The same answer from sock_diag and from /proc/net, where
 * NOTRACKCTL_TEST_NO_SOCK_DIAG sends it.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/listeners.h"

/* A socket on loopback, bound to a port the kernel picks; returns the fd
 * and that port. */
static int sock_on(int family, int type, uint16_t *port)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int fd = socket(family, type | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port =
	    ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static bool has(const uint16_t *v, size_t n, uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == port)
			return true;
	return false;
}

static void check(bool proc)
{
	uint16_t t4, t6, u4, closed, conn, peer;
	int fds[6], nfd = 0;
	struct listeners l;

	if (proc)
		setenv("NOTRACKCTL_TEST_NO_SOCK_DIAG", "1", 1);
	else
		unsetenv("NOTRACKCTL_TEST_NO_SOCK_DIAG");
	fds[nfd++] = sock_on(AF_INET, SOCK_STREAM, &t4);
	assert_int_equal(listen(fds[nfd - 1], 4), 0);
	fds[nfd++] = sock_on(AF_INET6, SOCK_STREAM, &t6);
	assert_int_equal(listen(fds[nfd - 1], 4), 0);
	fds[nfd++] = sock_on(AF_INET, SOCK_DGRAM, &u4);
	fds[nfd++] = sock_on(AF_INET, SOCK_STREAM, &closed); /* bound, not listening */
	fds[nfd++] = sock_on(AF_INET, SOCK_DGRAM, &peer);
	fds[nfd++] = sock_on(AF_INET, SOCK_DGRAM, &conn); /* connected: not a server */
	{
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(peer)};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(connect(fds[nfd - 1], (struct sockaddr *)&a, sizeof(a)), 0);
	}

	assert_int_equal(listeners_read(&l), 0);
	assert_true(has(l.tcp, l.n_tcp, t4));
	assert_true(has(l.tcp, l.n_tcp, t6));
	assert_false(has(l.tcp, l.n_tcp, closed));
	assert_true(has(l.udp, l.n_udp, u4));
	assert_true(has(l.udp, l.n_udp, peer));
	assert_false(has(l.udp, l.n_udp, conn));
	listeners_free(&l);
	while (nfd > 0)
		close(fds[--nfd]);
}

static void from_sock_diag(void **state)
{
	(void)state;
	check(false);
}

static void from_proc(void **state)
{
	(void)state;
	check(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(from_sock_diag),
	    cmocka_unit_test(from_proc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
