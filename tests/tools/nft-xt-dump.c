/*
 * Prints the xt compat expressions of every rule in one nftables chain, with
 * their info bytes in hex:
 *
 *   nft-xt-dump FAMILY TABLE CHAIN
 *   handle 4 match conntrack rev 3 0100...
 *
 * nft --debug=netlink shows only the name and revision of an xt match; a
 * test needs the bytes to check that our accept rule carries exactly the
 * info iptables-nft writes for "-m conntrack --ctstate UNTRACKED".
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct want {
	const char *table, *chain;
};

struct ctx {
	const struct want *w;
	uint64_t handle;
};

static int expr_cb(struct nftnl_expr *e, void *data)
{
	struct ctx *c = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	const unsigned char *info;
	uint32_t len = 0;
	bool match;

	if (!name || (strcmp(name, "match") && strcmp(name, "target")))
		return 0;
	match = !strcmp(name, "match");
	printf("handle %llu %s %s rev %u ", (unsigned long long)c->handle, name,
	       nftnl_expr_get_str(e, match ? NFTNL_EXPR_MT_NAME : NFTNL_EXPR_TG_NAME),
	       nftnl_expr_get_u32(e, match ? NFTNL_EXPR_MT_REV : NFTNL_EXPR_TG_REV));
	info = nftnl_expr_get(e, match ? NFTNL_EXPR_MT_INFO : NFTNL_EXPR_TG_INFO, &len);
	for (uint32_t i = 0; info && i < len; i++)
		printf("%02x", info[i]);
	printf("\n");
	return 0;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct want *w = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct ctx c = {.w = w};

	if (!r || nftnl_rule_nlmsg_parse(nlh, r) < 0)
		return MNL_CB_ERROR;
	if (!strcmp(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), w->table) &&
	    !strcmp(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), w->chain)) {
		c.handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
		nftnl_expr_foreach(r, expr_cb, &c);
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

int main(int argc, char **argv)
{
	static char buf[65536];
	struct want w;
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)time(NULL), portid;
	uint16_t family;
	int n;

	if (argc != 4) {
		fprintf(stderr, "usage: %s FAMILY TABLE CHAIN\n", argv[0]);
		return 2;
	}
	family = !strcmp(argv[1], "ip") ? NFPROTO_IPV4 : !strcmp(argv[1], "ip6") ? NFPROTO_IPV6 : NFPROTO_INET;
	w.table = argv[2];
	w.chain = argv[3];
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("netlink");
		return 1;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, family, NLM_F_DUMP, seq);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		perror("send");
		return 1;
	}
	while ((n = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		n = mnl_cb_run(buf, (size_t)n, seq, portid, rule_cb, &w);
		if (n <= 0)
			break;
	}
	mnl_socket_close(nl);
	return n < 0 ? 1 : 0;
}
