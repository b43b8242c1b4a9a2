/*
 * The only code that talks nfnetlink.  It opens the socket, reads the
 * ruleset generation id, runs dumps, and sends one batch per transaction,
 * reading every ack and mapping kernel errors back to the object that caused
 * them.  Sends and receives go through an ops table so tests can inject
 * faults.
 */
#pragma once
#include <stdbool.h>
#include <libmnl/libmnl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/diag.h"

struct nl_ops {
	ssize_t (*sendmsg)(int fd, const struct msghdr *msg, int flags);
	ssize_t (*recv)(int fd, void *buf, size_t len, int flags);
};

/* The real system calls; tests may replace this table. */
extern struct nl_ops nl_ops;

struct nft_sock {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	/* replies are read into it; kept for the socket's life: reading a
	 * large table chain by chain is thousands of dumps */
	char *rbuf;
};

int nft_sock_open(struct nft_sock *s, struct diag *d);
void nft_sock_close(struct nft_sock *s);

/* The ruleset generation: it changes with every committed batch, anyone's. */
int nft_get_genid(struct nft_sock *s, uint32_t *genid, struct diag *d);

/* Runs a dump request (NLM_F_DUMP already set by the caller) and calls cb for
 * every reply.  -EINTR means the kernel flagged the dump as interrupted by a
 * concurrent change (NLM_F_DUMP_INTR): re-read. */
int nft_dump(struct nft_sock *s, struct nlmsghdr *req, mnl_cb_t cb, void *data, struct diag *d);

/* A batch under construction: batch-begin (with genid) ... batch-end. */
struct nft_batch {
	char *buf;
	size_t len, cap;
	uint32_t first_seq;
	uint32_t n_msgs; /* object messages, not counting begin/end */
	char **labels;	 /* per object message: what it creates or deletes */
	int oom;
	/* Sent without batch-end: the kernel checks every message as for a
	 * commit, answers the errors, then aborts (what `nft -c` does). */
	bool check_only;
};

int nft_batch_init(struct nft_batch *b, struct nft_sock *s, uint32_t genid);
/* Reserves room for one message and returns its buffer; fill it with
 * nftnl_nlmsg_build_hdr() and a payload builder, then call nft_batch_commit_msg(). */
char *nft_batch_reserve(struct nft_batch *b, size_t room);
uint32_t nft_batch_next_seq(struct nft_batch *b);
int nft_batch_commit_msg(struct nft_batch *b, const char *label);
void nft_batch_free(struct nft_batch *b);

/* Sends the batch in one sendmsg and reads every ack.  Returns 0, -ERESTART
 * when the generation moved since genid was read (nothing applied),
 * -EINPROGRESS when the batch went out but its answer could not be read
 * (the caller reads the ruleset to learn the outcome), or another negative
 * errno with the refused object named in the diag. */
int nft_batch_send(struct nft_sock *s, struct nft_batch *b, struct diag *d);
