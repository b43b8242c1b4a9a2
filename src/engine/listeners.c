#include "engine/listeners.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>

/* the kernel's TCP states (include/net/tcp_states.h): an unconnected UDP
 * socket is in TCP_CLOSE, which /proc/net/udp prints as 07 */
enum { STATE_CLOSE = 7, STATE_LISTEN = 10 };

struct ports {
	uint16_t *v;
	size_t n, cap;
};

static int ports_add(struct ports *p, uint16_t port)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		uint16_t *v = realloc(p->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = port;
	return 0;
}

/* One /proc/net/{tcp,udp}[6] table's ports whose sockets are in `state`. */
static int proc_ports(const char *path, unsigned state, struct ports *p)
{
	FILE *f = fopen(path, "re");
	char line[512];
	int r = 0;

	if (!f)
		return 0; /* then those stay unknown: lint only reports more */
	while (r == 0 && fgets(line, sizeof(line), f)) {
		char local[64];
		unsigned port, st;
		if (sscanf(line, " %*u: %63[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", local, &port, &st) == 3 && st == state)
			r = ports_add(p, (uint16_t)port);
	}
	fclose(f);
	return r;
}

static int diag_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return MNL_CB_ERROR;
	return ports_add(data, ntohs(m->id.idiag_sport)) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

/*
 * The same ports from the kernel's sock_diag.  Reading /proc/net/tcp walks
 * every bucket of the host's established-connection hash, which is sized
 * for the machine's memory whatever this namespace holds: on a 23 GiB VM
 * that was a fifth of a small apply.  A sock_diag dump asking for listening
 * sockets only walks the listening hash, and one for UDP the UDP table; both
 * are limited to the asking socket's network namespace, as /proc/net is, and
 * filter on the same socket state and family.  -1 when it cannot answer
 * (no sock_diag for this protocol): the caller reads /proc instead.
 */
static int diag_ports(struct mnl_socket *nl, unsigned seq, int family, int protocol, unsigned state, struct ports *p)
{
	char buf[32768];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *req;
	unsigned pid = mnl_socket_get_portid(nl);
	size_t before = p->n;
	ssize_t n;
	int r;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = (uint8_t)family;
	req->sdiag_protocol = (uint8_t)protocol;
	req->idiag_states = 1u << state;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		r = n < 0 ? MNL_CB_ERROR : mnl_cb_run(buf, (size_t)n, seq, pid, diag_cb, p);
	} while (r > MNL_CB_STOP);
	if (r == MNL_CB_STOP)
		return 0;
	p->n = before; /* a partial answer is no answer */
	return -1;
}

int listeners_read(struct listeners *l)
{
	static const struct {
		int family, protocol;
		unsigned state;
		const char *proc;
	} q[] = {
	    {AF_INET, IPPROTO_TCP, STATE_LISTEN, "/proc/net/tcp"},
	    {AF_INET6, IPPROTO_TCP, STATE_LISTEN, "/proc/net/tcp6"},
	    {AF_INET, IPPROTO_UDP, STATE_CLOSE, "/proc/net/udp"},
	    {AF_INET6, IPPROTO_UDP, STATE_CLOSE, "/proc/net/udp6"},
	};
	struct mnl_socket *nl =
	    getenv("NOTRACKCTL_TEST_NO_SOCK_DIAG") ? NULL : mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	struct ports tcp = {0}, udp = {0};
	unsigned seq = (unsigned)time(NULL);
	int r = 0;

	memset(l, 0, sizeof(*l));
	if (nl && mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		nl = NULL;
	}
	for (size_t i = 0; r == 0 && i < sizeof(q) / sizeof(q[0]); i++) {
		struct ports *p = q[i].protocol == IPPROTO_TCP ? &tcp : &udp;
		if (!nl || diag_ports(nl, seq + (unsigned)i, q[i].family, q[i].protocol, q[i].state, p) < 0)
			r = proc_ports(q[i].proc, q[i].state, p);
	}
	if (nl)
		mnl_socket_close(nl);
	if (r < 0) {
		free(tcp.v);
		free(udp.v);
		return r;
	}
	*l = (struct listeners){.tcp = tcp.v, .udp = udp.v, .n_tcp = tcp.n, .n_udp = udp.n};
	return 0;
}

void listeners_free(struct listeners *l)
{
	free(l->tcp);
	free(l->udp);
	memset(l, 0, sizeof(*l));
}
