#include "diagnostics/ct_dump.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/*
 * A dump reply is one skb per recv.  The kernel sizes dump skbs from the
 * largest recv buffer it has seen on the socket, capped at 32 KiB, so a
 * 64 KiB buffer never truncates a message.
 */
#define CT_RECV_BUFSIZE 65536

const char *ct_tcp_state_name(uint8_t state)
{
	static const char *const names[] = {
	    [TCP_CONNTRACK_NONE] = "NONE",
	    [TCP_CONNTRACK_SYN_SENT] = "SYN_SENT",
	    [TCP_CONNTRACK_SYN_RECV] = "SYN_RECV",
	    [TCP_CONNTRACK_ESTABLISHED] = "ESTABLISHED",
	    [TCP_CONNTRACK_FIN_WAIT] = "FIN_WAIT",
	    [TCP_CONNTRACK_CLOSE_WAIT] = "CLOSE_WAIT",
	    [TCP_CONNTRACK_LAST_ACK] = "LAST_ACK",
	    [TCP_CONNTRACK_TIME_WAIT] = "TIME_WAIT",
	    [TCP_CONNTRACK_CLOSE] = "CLOSE",
	    /* index 9 was LISTEN; the kernel now uses it for a simultaneous open */
	    [TCP_CONNTRACK_SYN_SENT2] = "SYN_SENT2",
	};

	if (state < sizeof(names) / sizeof(names[0]))
		return names[state];
	return "UNKNOWN";
}

/* ------------------------------------------------------------------ */
/* decoding                                                             */

/* Collects the attributes of one nesting level; invalid ones are skipped
 * rather than failing the whole entry, so a newer kernel's additions or an
 * odd attribute cost that attribute only. */
struct attrs {
	const struct nlattr *tb[CTA_MAX + 1];
	int max;
};
_Static_assert(CTA_STATS_MAX <= CTA_MAX && CTA_TUPLE_MAX <= CTA_MAX && CTA_PROTO_MAX <= CTA_MAX &&
		   CTA_PROTOINFO_TCP_MAX <= CTA_MAX && CTA_STATS_GLOBAL_MAX <= CTA_MAX,
	       "every nesting level fits struct attrs");

static int attr_cb(const struct nlattr *attr, void *data)
{
	struct attrs *a = data;
	int type = mnl_attr_get_type(attr);

	if (type <= a->max)
		a->tb[type] = attr;
	return MNL_CB_OK;
}

static void parse_nested(const struct nlattr *nest, int max, struct attrs *a)
{
	memset(a, 0, sizeof(*a));
	a->max = max;
	if (mnl_attr_validate(nest, MNL_TYPE_NESTED) == 0)
		mnl_attr_parse_nested(nest, attr_cb, a);
}

static bool get_u8(const struct nlattr *attr, uint8_t *out)
{
	if (!attr || mnl_attr_validate(attr, MNL_TYPE_U8) < 0)
		return false;
	*out = mnl_attr_get_u8(attr);
	return true;
}

static bool get_be16(const struct nlattr *attr, uint16_t *out)
{
	if (!attr || mnl_attr_validate(attr, MNL_TYPE_U16) < 0)
		return false;
	*out = ntohs(mnl_attr_get_u16(attr));
	return true;
}

static bool get_be32(const struct nlattr *attr, uint32_t *out)
{
	if (!attr || mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
		return false;
	*out = ntohl(mnl_attr_get_u32(attr));
	return true;
}

static bool get_addr(const struct nlattr *attr, size_t len, uint8_t out[16])
{
	if (!attr || mnl_attr_validate2(attr, MNL_TYPE_BINARY, len) < 0)
		return false;
	memcpy(out, mnl_attr_get_payload(attr), len);
	return true;
}

static bool proto_has_ports(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_SCTP:
	case IPPROTO_DCCP: return true;
	}
	return false;
}

/* CTA_TUPLE_ORIG: { CTA_TUPLE_IP: { src, dst }, CTA_TUPLE_PROTO: { num, ports } } */
static int parse_tuple(const struct nlattr *nest, struct ct_entry *e)
{
	struct attrs tuple, ip, proto;
	bool ok;

	parse_nested(nest, CTA_TUPLE_MAX, &tuple);
	if (!tuple.tb[CTA_TUPLE_IP] || !tuple.tb[CTA_TUPLE_PROTO])
		return -EINVAL;
	parse_nested(tuple.tb[CTA_TUPLE_IP], CTA_IP_MAX, &ip);
	if (e->family == AF_INET)
		ok = get_addr(ip.tb[CTA_IP_V4_SRC], 4, e->src) && get_addr(ip.tb[CTA_IP_V4_DST], 4, e->dst);
	else
		ok = get_addr(ip.tb[CTA_IP_V6_SRC], 16, e->src) && get_addr(ip.tb[CTA_IP_V6_DST], 16, e->dst);
	if (!ok)
		return -EINVAL;
	parse_nested(tuple.tb[CTA_TUPLE_PROTO], CTA_PROTO_MAX, &proto);
	if (!get_u8(proto.tb[CTA_PROTO_NUM], &e->proto))
		return -EINVAL;
	if (proto_has_ports(e->proto))
		e->has_ports = get_be16(proto.tb[CTA_PROTO_SRC_PORT], &e->sport) &&
			       get_be16(proto.tb[CTA_PROTO_DST_PORT], &e->dport);
	if (!e->has_ports)
		e->sport = e->dport = 0;
	return 0;
}

int ct_parse_entry(const struct nlmsghdr *nlh, struct ct_entry *e)
{
	const struct nfgenmsg *nfg;
	struct attrs top = {.max = CTA_MAX};
	int r;

	memset(e, 0, sizeof(*e));
	e->tcp_state = CT_TCP_STATE_NONE;
	if (nlh->nlmsg_len < NLMSG_SPACE(sizeof(*nfg)))
		return -EINVAL;
	nfg = mnl_nlmsg_get_payload(nlh);
	if (nfg->nfgen_family != AF_INET && nfg->nfgen_family != AF_INET6)
		return -EINVAL;
	e->family = nfg->nfgen_family;
	if (mnl_attr_parse(nlh, sizeof(*nfg), attr_cb, &top) < 0 || !top.tb[CTA_TUPLE_ORIG])
		return -EINVAL;
	r = parse_tuple(top.tb[CTA_TUPLE_ORIG], e);
	if (r < 0)
		return r;
	get_be32(top.tb[CTA_STATUS], &e->status);
	/* CTA_PROTOINFO: { CTA_PROTOINFO_TCP: { CTA_PROTOINFO_TCP_STATE } } */
	if (e->proto == IPPROTO_TCP && top.tb[CTA_PROTOINFO]) {
		struct attrs pi, tcp;
		parse_nested(top.tb[CTA_PROTOINFO], CTA_PROTOINFO_MAX, &pi);
		if (pi.tb[CTA_PROTOINFO_TCP]) {
			parse_nested(pi.tb[CTA_PROTOINFO_TCP], CTA_PROTOINFO_TCP_MAX, &tcp);
			get_u8(tcp.tb[CTA_PROTOINFO_TCP_STATE], &e->tcp_state);
		}
	}
	return 0;
}

int ct_parse_counters(const struct nlmsghdr *nlh, struct ct_counters *sum)
{
	struct attrs a = {.max = CTA_STATS_MAX};
	static const struct {
		int type;
		size_t offset;
	} fields[] = {
	    {CTA_STATS_FOUND, offsetof(struct ct_counters, found)},
	    {CTA_STATS_INVALID, offsetof(struct ct_counters, invalid)},
	    {CTA_STATS_INSERT, offsetof(struct ct_counters, insert)},
	    {CTA_STATS_INSERT_FAILED, offsetof(struct ct_counters, insert_failed)},
	    {CTA_STATS_DROP, offsetof(struct ct_counters, drop)},
	    {CTA_STATS_EARLY_DROP, offsetof(struct ct_counters, early_drop)},
	    {CTA_STATS_ERROR, offsetof(struct ct_counters, error)},
	    {CTA_STATS_SEARCH_RESTART, offsetof(struct ct_counters, search_restart)},
	    {CTA_STATS_CLASH_RESOLVE, offsetof(struct ct_counters, clash_resolve)},
	    {CTA_STATS_CHAIN_TOOLONG, offsetof(struct ct_counters, chaintoolong)},
	};

	if (nlh->nlmsg_len < NLMSG_SPACE(sizeof(struct nfgenmsg)) ||
	    mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, &a) < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		uint32_t v;
		if (get_be32(a.tb[fields[i].type], &v))
			*(uint64_t *)((char *)sum + fields[i].offset) += v;
	}
	sum->cpus++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* the socket                                                           */

static int errno_diag(struct diag *d, int err, const char *what)
{
	if (err == EPERM || err == EACCES)
		return diag_fail(d, DIAG_PERMISSION, err, NULL, "%s: needs CAP_NET_ADMIN (run as root)", what);
	if (err == EOPNOTSUPP || err == EPROTONOSUPPORT)
		return diag_fail(d, DIAG_SYSTEM, err, NULL, "%s: this kernel has no ctnetlink (nf_conntrack_netlink)",
				 what);
	return diag_fail(d, DIAG_SYSTEM, err, NULL, "%s: %s", what, strerror(err));
}

static void close_sock(struct mnl_socket **nl)
{
	if (*nl)
		mnl_socket_close(*nl);
}
#define _cleanup_mnl_ __attribute__((cleanup(close_sock)))

static void free_buf(char **p)
{
	free(*p);
}

/* What one request's replies are handed to. */
struct reply_ctx {
	ct_entry_cb entry_cb; /* dumps of entries */
	void *data;
	struct ct_counters *counters; /* per-CPU statistics */
	struct ct_global *global;     /* global statistics */
	int cb_error;		      /* what entry_cb returned when it stopped the dump */
};

static int reply_cb(const struct nlmsghdr *nlh, void *data)
{
	struct reply_ctx *c = data;
	uint16_t msg = NFNL_MSG_TYPE(nlh->nlmsg_type);

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK)
		return MNL_CB_OK;
	if (c->entry_cb && msg == IPCTNL_MSG_CT_NEW) {
		struct ct_entry e;
		int r;
		/* an entry the kernel sends without a usable tuple is skipped */
		if (ct_parse_entry(nlh, &e) < 0)
			return MNL_CB_OK;
		r = c->entry_cb(&e, c->data);
		if (r < 0) {
			c->cb_error = r;
			return MNL_CB_STOP;
		}
	} else if (c->counters && msg == IPCTNL_MSG_CT_GET_STATS_CPU) {
		ct_parse_counters(nlh, c->counters);
	} else if (c->global && msg == IPCTNL_MSG_CT_GET_STATS) {
		struct attrs a = {.max = CTA_STATS_GLOBAL_MAX};
		uint32_t v;
		if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, &a) < 0)
			return MNL_CB_ERROR;
		if (get_be32(a.tb[CTA_STATS_GLOBAL_ENTRIES], &v))
			c->global->count = v;
		if (get_be32(a.tb[CTA_STATS_GLOBAL_MAX_ENTRIES], &v)) {
			c->global->max = v;
			c->global->has_max = true;
		}
	}
	return MNL_CB_OK;
}

/* Opens a socket and sends one ctnetlink request, built in buf. */
static int send_request(struct mnl_socket **out, char *buf, uint8_t msg, uint16_t flags, uint32_t seq, const char *what,
			struct diag *d)
{
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		return errno_diag(d, errno, what);
	*out = nl;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return errno_diag(d, errno, what);

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | msg;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC; /* both families */
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return errno_diag(d, errno, what);
	return 0;
}

/* Feeds one received buffer to reply_cb.  Returns 1 when the exchange goes
 * on, 0 when it is over, or a negative error (the diag is filled). */
static int run_buffer(const char *buf, ssize_t n, int err, uint32_t seq, uint32_t portid, struct reply_ctx *c,
		      const char *what, struct diag *d)
{
	int r;

	if (n < 0)
		return errno_diag(d, err, what);
	errno = 0;
	r = mnl_cb_run(buf, (size_t)n, seq, portid, reply_cb, c);
	if (r == MNL_CB_ERROR)
		return errno_diag(d, errno ? errno : EPROTO, what);
	if (c->cb_error)
		return c->cb_error; /* the caller's callback filled the diag */
	return r == MNL_CB_STOP ? 0 : 1;
}

/* Receives, one buffer at a time, until the exchange is over. */
static int receive_all(struct mnl_socket *nl, char *buf, uint32_t seq, struct reply_ctx *c, const char *what,
		       struct diag *d)
{
	int r;

	do {
		ssize_t n = mnl_socket_recvfrom(nl, buf, CT_RECV_BUFSIZE);
		if (n < 0 && errno == EINTR)
			continue;
		r = run_buffer(buf, n, errno, seq, mnl_socket_get_portid(nl), c, what, d);
	} while (r > 0);
	return r;
}

/*
 * Sends one ctnetlink request and feeds every reply to reply_cb until the
 * kernel says DONE (dumps) or acks (single requests).  Nothing is kept
 * between receives: the buffer is reused for each skb.
 */
static int request(uint8_t msg, uint16_t flags, struct reply_ctx *c, const char *what, struct diag *d)
{
	_cleanup_mnl_ struct mnl_socket *nl = NULL;
	__attribute__((cleanup(free_buf))) char *buf = NULL;
	uint32_t seq = (uint32_t)time(NULL);
	int r;

	buf = malloc(CT_RECV_BUFSIZE);
	if (!buf)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	r = send_request(&nl, buf, msg, flags, seq, what, d);
	if (r < 0)
		return r;
	return receive_all(nl, buf, seq, c, what, d);
}

/* ------------------------------------------------------------------ */
/* the pipelined dump                                                   */

/*
 * The kernel fills the next skb of a dump inside the recv that takes the
 * previous one, so a single thread alternates: the kernel fills, then we
 * decode and aggregate, then the kernel fills again.  A receiver thread that
 * only calls recv lets the kernel fill on one CPU while the caller's thread
 * decodes on another.  The two share a ring of CT_PIPE_SLOTS buffers
 * (512 KiB in all), so memory stays bounded whatever the table size; the
 * callback still runs on the caller's thread, in the kernel's order.
 */
#define CT_PIPE_SLOTS 8

struct pipe {
	struct mnl_socket *nl;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *bufs; /* CT_PIPE_SLOTS buffers of CT_RECV_BUFSIZE */
	ssize_t len[CT_PIPE_SLOTS];
	int err[CT_PIPE_SLOTS];
	unsigned head; /* buffers received (the receiver's count) */
	unsigned tail; /* buffers consumed */
	bool stop;     /* the consumer is done: receive no more */
};

/* Whether a received buffer ends the dump: it holds DONE or an error, or
 * is malformed (the consumer will say so). */
static bool ends_dump(const char *buf, ssize_t n)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int len = (int)n;

	if (n <= 0)
		return true;
	for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
		if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR)
			return true;
	return len != 0;
}

static void *receiver(void *arg)
{
	struct pipe *p = arg;

	for (;;) {
		unsigned slot;
		ssize_t n;
		int err;
		bool last;

		pthread_mutex_lock(&p->mu);
		while (p->head - p->tail == CT_PIPE_SLOTS && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		slot = p->head % CT_PIPE_SLOTS;
		pthread_mutex_unlock(&p->mu);

		do
			n = mnl_socket_recvfrom(p->nl, p->bufs + (size_t)slot * CT_RECV_BUFSIZE, CT_RECV_BUFSIZE);
		while (n < 0 && errno == EINTR);
		err = n < 0 ? errno : 0;
		last = ends_dump(p->bufs + (size_t)slot * CT_RECV_BUFSIZE, n);

		pthread_mutex_lock(&p->mu);
		p->len[slot] = n;
		p->err[slot] = err;
		p->head++;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		if (last)
			return NULL;
	}
}

/* Returns CT_NO_PIPE when nothing was sent (no memory for the ring): the
 * caller dumps on its own. */
#define CT_NO_PIPE 1

static int pipelined_dump(struct reply_ctx *c, const char *what, struct diag *d)
{
	_cleanup_mnl_ struct mnl_socket *nl = NULL;
	__attribute__((cleanup(free_buf))) char *bufs = NULL;
	struct pipe p = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	uint32_t seq = (uint32_t)time(NULL), portid;
	pthread_attr_t attr;
	pthread_t thread;
	int r;

	bufs = malloc((size_t)CT_PIPE_SLOTS * CT_RECV_BUFSIZE);
	if (!bufs)
		return CT_NO_PIPE;
	r = send_request(&nl, bufs, IPCTNL_MSG_CT_GET, NLM_F_DUMP, seq, what, d);
	if (r < 0)
		return r;
	portid = mnl_socket_get_portid(nl);
	p.nl = nl;
	p.bufs = bufs;
	r = pthread_attr_init(&attr);
	if (r == 0) {
		pthread_attr_setstacksize(&attr, 64 * 1024); /* recv only: keeps RSS small */
		r = pthread_create(&thread, &attr, receiver, &p);
		pthread_attr_destroy(&attr);
	}
	if (r != 0) /* the request is sent: receive it on this thread */
		return receive_all(nl, bufs, seq, c, what, d);

	do {
		unsigned slot;
		ssize_t n;
		int err;

		pthread_mutex_lock(&p.mu);
		while (p.head == p.tail)
			pthread_cond_wait(&p.cv, &p.mu);
		slot = p.tail % CT_PIPE_SLOTS;
		n = p.len[slot];
		err = p.err[slot];
		pthread_mutex_unlock(&p.mu);

		r = run_buffer(bufs + (size_t)slot * CT_RECV_BUFSIZE, n, err, seq, portid, c, what, d);

		pthread_mutex_lock(&p.mu);
		p.tail++;
		pthread_cond_broadcast(&p.cv);
		pthread_mutex_unlock(&p.mu);
	} while (r > 0);

	pthread_mutex_lock(&p.mu);
	p.stop = true;
	pthread_cond_broadcast(&p.cv);
	pthread_mutex_unlock(&p.mu);
	pthread_join(thread, NULL);
	return r;
}

static int netlink_dump(ct_entry_cb cb, void *data, struct diag *d)
{
	struct reply_ctx c = {.entry_cb = cb, .data = data};
	const char *what = "cannot read the conntrack table";
	int r = pipelined_dump(&c, what, d);

	if (r != CT_NO_PIPE)
		return r;
	return request(IPCTNL_MSG_CT_GET, NLM_F_DUMP, &c, what, d);
}

static int netlink_counters(struct ct_counters *out, struct diag *d)
{
	struct reply_ctx c = {.counters = out};

	/* one message per possible CPU, with the CPU number in res_id */
	memset(out, 0, sizeof(*out));
	return request(IPCTNL_MSG_CT_GET_STATS_CPU, NLM_F_DUMP, &c, "cannot read the conntrack statistics", d);
}

static int netlink_global(struct ct_global *out, struct diag *d)
{
	struct reply_ctx c = {.global = out};

	/* a plain request: one reply, then the ack we ask for ends the exchange */
	memset(out, 0, sizeof(*out));
	return request(IPCTNL_MSG_CT_GET_STATS, NLM_F_ACK, &c, "cannot read the conntrack count", d);
}

const struct ct_ops ct_netlink_ops = {
    .dump = netlink_dump,
    .counters = netlink_counters,
    .global = netlink_global,
};
