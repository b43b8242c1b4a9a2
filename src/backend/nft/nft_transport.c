#include "backend/nft/nft_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

struct nl_ops nl_ops = {
    .sendmsg = sendmsg,
    .recv = recv,
};

static int errno_diag(struct diag *d, int err, const char *what)
{
	enum diag_kind kind = (err == EPERM || err == EACCES) ? DIAG_PERMISSION : DIAG_SYSTEM;

	diag_set_file(d, NULL); /* about the kernel, not about the policy file read before */
	if (kind == DIAG_PERMISSION)
		return diag_fail(d, kind, err, NULL, "%s: needs CAP_NET_ADMIN (run as root)", what);
	return diag_fail(d, kind, err, NULL, "%s: %s", what, strerror(err));
}

int nft_sock_open(struct nft_sock *s, struct diag *d)
{
	int one = 1;

	memset(s, 0, sizeof(*s));
	s->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!s->nl)
		return errno_diag(d, errno, "cannot open a netfilter netlink socket");
	if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		nft_sock_close(s);
		return errno_diag(d, e, "cannot bind the netfilter netlink socket");
	}
	s->portid = mnl_socket_get_portid(s->nl);
	/* extended acks name the attribute the kernel disliked; old kernels ignore this */
	mnl_socket_setsockopt(s->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	s->seq = (uint32_t)time(NULL);
	return 0;
}

void nft_sock_close(struct nft_sock *s)
{
	if (s->nl)
		mnl_socket_close(s->nl);
	s->nl = NULL;
	free(s->rbuf);
	s->rbuf = NULL;
}

/* Reads replies to one request until DONE or the final ack. */
static int receive_replies(struct nft_sock *s, uint32_t seq, mnl_cb_t cb, void *data, bool *interrupted)
{
	const size_t bufsize = 65536; /* the kernel sizes dump skbs to at most 32 KiB */
	char *buf = s->rbuf ? s->rbuf : (s->rbuf = malloc(bufsize));
	int r = MNL_CB_OK;

	if (!buf)
		return -ENOMEM;
	while (r > 0) {
		ssize_t n = nl_ops.recv(mnl_socket_get_fd(s->nl), buf, bufsize, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		int left = (int)n; /* mnl_nlmsg_next() consumes it */
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; r > 0 && mnl_nlmsg_ok(h, left);
		     h = mnl_nlmsg_next(h, &left)) {
			/* A reply to an earlier request on this socket (its reader
			 * stopped early, say on an error) is not ours: skip it
			 * rather than fail on the sequence number. */
			if (h->nlmsg_seq != seq)
				continue;
			/* The ruleset changed while the kernel dumped it, so the
			 * result will be read again.  libmnl stops at such a
			 * message, but the dump must be read to its end: a socket
			 * whose dump is still running answers the next one with
			 * EBUSY. */
			if (h->nlmsg_flags & NLM_F_DUMP_INTR)
				*interrupted = true;
			if (*interrupted) {
				if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
					r = MNL_CB_STOP;
				continue;
			}
			errno = 0;
			r = mnl_cb_run(h, h->nlmsg_len, seq, s->portid, cb, data);
			if (r == MNL_CB_ERROR)
				r = errno ? -errno : -EPROTO;
		}
	}
	return r < 0 ? r : 0;
}

int nft_dump(struct nft_sock *s, struct nlmsghdr *req, mnl_cb_t cb, void *data, struct diag *d)
{
	bool interrupted = false;
	int r;

	req->nlmsg_seq = ++s->seq;
	if (mnl_socket_sendto(s->nl, req, req->nlmsg_len) < 0)
		return errno_diag(d, errno, "cannot ask the kernel for the ruleset");
	errno = 0;
	r = receive_replies(s, req->nlmsg_seq, cb, data, &interrupted);
	if (r < 0) {
		if (r == -ENOENT) /* nothing of that kind exists */
			return 0;
		return errno_diag(d, -r, "cannot read the ruleset");
	}
	return interrupted ? -EINTR : 0;
}

static int genid_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *gen = nftnl_gen_alloc();

	if (!gen)
		return MNL_CB_ERROR;
	if (nftnl_gen_nlmsg_parse(nlh, gen) < 0) {
		nftnl_gen_free(gen);
		return MNL_CB_ERROR;
	}
	*(uint32_t *)data = nftnl_gen_get_u32(gen, NFTNL_GEN_ID);
	nftnl_gen_free(gen);
	return MNL_CB_OK;
}

int nft_get_genid(struct nft_sock *s, uint32_t *genid, struct diag *d)
{
	char buf[4096] = {0}; /* netlink padding must not carry stack garbage to the kernel */
	struct nlmsghdr *nlh;
	bool interrupted = false;
	int r;

	/* with an ack the reply ends in an explicit "done"; without it there is no end marker to stop at */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, ++s->seq);
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return errno_diag(d, errno, "cannot read the ruleset generation");
	errno = 0;
	r = receive_replies(s, nlh->nlmsg_seq, genid_cb, genid, &interrupted);
	if (r < 0)
		return errno_diag(d, -r, "cannot read the ruleset generation");
	return 0;
}

/* ------------------------------------------------------------------ */
/* batches                                                              */

static int batch_grow(struct nft_batch *b, size_t room)
{
	size_t cap = b->cap ? b->cap : 65536;
	char *p;

	if (b->oom)
		return -ENOMEM;
	if (b->len + room <= b->cap)
		return 0;
	while (cap < b->len + room)
		cap *= 2;
	p = realloc(b->buf, cap);
	if (!p) {
		b->oom = 1;
		return -ENOMEM;
	}
	/* netlink headers must be zero where builders do not write */
	memset(p + b->cap, 0, cap - b->cap);
	b->buf = p;
	b->cap = cap;
	return 0;
}

static void put_batch_marker(struct nft_batch *b, uint16_t type, uint32_t seq, const uint32_t *genid)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	if (batch_grow(b, 4096) < 0)
		return;
	nlh = mnl_nlmsg_put_header(b->buf + b->len);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(NFNL_SUBSYS_NFTABLES);
	/* With a genid in batch-begin the kernel refuses the whole batch with
	 * ERESTART if anyone committed since we read the ruleset. */
	if (genid)
		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(*genid));
	b->len += nlh->nlmsg_len;
}

int nft_batch_init(struct nft_batch *b, struct nft_sock *s, uint32_t genid)
{
	memset(b, 0, sizeof(*b));
	b->first_seq = ++s->seq;
	put_batch_marker(b, NFNL_MSG_BATCH_BEGIN, b->first_seq, &genid);
	return b->oom ? -ENOMEM : 0;
}

char *nft_batch_reserve(struct nft_batch *b, size_t room)
{
	if (batch_grow(b, room) < 0)
		return NULL;
	return b->buf + b->len;
}

uint32_t nft_batch_next_seq(struct nft_batch *b)
{
	return b->first_seq + 1 + b->n_msgs;
}

int nft_batch_commit_msg(struct nft_batch *b, const char *label)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)(b->buf + b->len);
	char **labels;

	labels = realloc(b->labels, (b->n_msgs + 1) * sizeof(*labels));
	if (!labels) {
		b->oom = 1;
		return -ENOMEM;
	}
	b->labels = labels;
	b->labels[b->n_msgs] = strdup(label);
	if (!b->labels[b->n_msgs]) {
		b->oom = 1;
		return -ENOMEM;
	}
	b->n_msgs++;
	b->len += nlh->nlmsg_len;
	return 0;
}

void nft_batch_free(struct nft_batch *b)
{
	for (uint32_t i = 0; i < b->n_msgs; i++)
		free(b->labels[i]);
	free(b->labels);
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

struct ack_state {
	struct nft_batch *b;
	int first_error;
	uint32_t error_seq;
	char ext_msg[256];
};

static void parse_ext_ack(const struct nlmsghdr *nlh, struct ack_state *st)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	size_t off = sizeof(*nlh) + sizeof(*err);
	const struct nlattr *attr;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	/* unless capped, the kernel echoes the whole offending message first */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
	if (off >= nlh->nlmsg_len)
		return;
	for (attr = (const struct nlattr *)((const char *)nlh + off);
	     mnl_attr_ok(attr, (int)(nlh->nlmsg_len - ((const char *)attr - (const char *)nlh)));
	     attr = mnl_attr_next(attr)) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG)
			snprintf(st->ext_msg, sizeof(st->ext_msg), "%s", (const char *)mnl_attr_get_payload(attr));
	}
}

static int ack_cb(const struct nlmsghdr *nlh, struct ack_state *st)
{
	const struct nlmsgerr *err;

	if (nlh->nlmsg_type != NLMSG_ERROR)
		return 0;
	err = mnl_nlmsg_get_payload(nlh);
	if (err->error == 0)
		return 0;
	if (!st->first_error) {
		st->first_error = -err->error;
		st->error_seq = nlh->nlmsg_seq;
		parse_ext_ack(nlh, st);
	}
	return 0;
}

static const char *describe_error(int err)
{
	switch (err) {
	case ENOENT: return "it refers to a table, chain or set that does not exist";
	case EEXIST: return "it already exists";
	case EOPNOTSUPP: return "this kernel does not support it";
	case EBUSY: return "it is in use";
	case EPERM: return "operation not permitted (needs CAP_NET_ADMIN, or the table is owned by another process)";
	default: return strerror(err);
	}
}

/*
 * A test seam.  With NOTRACKCTL_TEST_BATCH_LOG set to a file, every batch
 * about to be sent appends one line to it: "batch BYTES bytes MESSAGES
 * messages", the messages counting begin and end.  The tests check with it
 * that a small change sends a small batch.  Unset, as always outside tests,
 * it costs one getenv().
 */
static void batch_log(const struct nft_batch *b)
{
	const char *path = getenv("NOTRACKCTL_TEST_BATCH_LOG");
	FILE *f;

	if (!path || !*path)
		return;
	f = fopen(path, "ae");
	if (!f)
		return;
	fprintf(f, "batch %zu bytes %u messages\n", b->len, b->n_msgs + 2);
	fclose(f);
}

int nft_batch_send(struct nft_sock *s, struct nft_batch *b, struct diag *d)
{
	struct ack_state st = {.b = b};
	size_t bufsize = 65536;
	char *rbuf = NULL;
	int fd = mnl_socket_get_fd(s->nl), r = 0;
	struct sockaddr_nl snl = {.nl_family = AF_NETLINK};

	if (!b->check_only)
		put_batch_marker(b, NFNL_MSG_BATCH_END, b->first_seq + 1 + b->n_msgs, NULL);
	if (b->oom)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory building the batch");

	/* netlink refuses a message larger than the socket's send buffer, and the
	 * acks must fit the receive buffer: size both for this batch */
	int sndbuf = (int)(b->len + 65536), rcvbuf = (int)((b->n_msgs + 2) * 1024 + 65536);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));

	batch_log(b);
	struct iovec iov = {.iov_base = b->buf, .iov_len = b->len};
	struct msghdr msg = {.msg_name = &snl, .msg_namelen = sizeof(snl), .msg_iov = &iov, .msg_iovlen = 1};
	ssize_t sent;
	do {
		sent = nl_ops.sendmsg(fd, &msg, 0);
	} while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return errno_diag(d, errno, "cannot send the batch to the kernel");

	/* The kernel processes the whole batch inside sendmsg, so every ack is
	 * already queued: drain without blocking. */
	/* From here on the kernel has decided, whatever we manage to read: a
	 * failure to read its answer (ENOBUFS: acks were dropped) leaves the
	 * outcome unknown, and the caller must read the ruleset to find out. */
	rbuf = malloc(bufsize);
	if (!rbuf)
		return diag_fail(d, DIAG_SYSTEM, EINPROGRESS, NULL,
				 "sent the batch, but ran out of memory reading the kernel's answer");
	for (;;) {
		ssize_t n = nl_ops.recv(fd, rbuf, bufsize, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			r = diag_fail(d, DIAG_SYSTEM, EINPROGRESS, NULL,
				      "sent the batch, but cannot read the kernel's answer: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		int left = (int)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left))
			ack_cb(h, &st);
	}
	if (st.first_error) {
		const char *label = "the batch";
		if (st.error_seq > b->first_seq && st.error_seq <= b->first_seq + b->n_msgs)
			label = b->labels[st.error_seq - b->first_seq - 1];
		if (st.first_error == ERESTART && st.error_seq == b->first_seq) {
			r = -ERESTART;
			goto out;
		}
		r = diag_fail(d, st.first_error == EPERM ? DIAG_PERMISSION : DIAG_KERNEL, st.first_error, NULL,
			      "the kernel refused %s: %s%s%s; nothing was applied", label,
			      describe_error(st.first_error), st.ext_msg[0] ? " - " : "", st.ext_msg);
	}
out:
	free(rbuf);
	return r;
}
