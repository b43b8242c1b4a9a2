/*
 * What nft_build makes survives the trip through netlink, and lint's nft
 * decoder reads it back: every rule and set of a compiled policy is
 * serialised into the netlink message the kernel would get (libnftnl's
 * nlmsg builders), parsed back as a dump would be, and compared in the
 * canonical text the backend's plan compares with.  Then the parsed rules,
 * moved into someone else's table, go through lint_nft_decode(), which must
 * see each of our notrack rules as a foreign notrack.  And a foreign rule
 * kept as its message, cut by lint_nft_rule_compact(), reads as the same
 * rule parsed.  No kernel, no root.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdlib.h>
#include <string.h>

#include "backend/nft/lint_nft.h"
#include "backend/nft/nft_build.h"
#include "testlib.h"

#define POLICY                                                                                                         \
	"{\"version\": 1, \"notrack\": {\"loopback\": true, \"services\": [{\"proto\": \"tcp\", \"ports\": [80, 443, " \
	"8000, 8001, 8002], \"peers\": [\"10.0.0.0/8\", \"2001:db8::/32\"]}], \"upstreams\": [{\"proto\": \"udp\", "   \
	"\"ports\": [53], \"addresses\": [\"192.0.2.53\"]}]}, \"keep_tracked\": [{\"reason\": \"nat\", \"proto\": "    \
	"\"tcp\", \"ports\": [8443], \"role\": \"service\"}]}"

struct built {
	struct ruleset rs;
	struct nft_desired desired;
};

static struct built *build(void)
{
	struct built *b = calloc(1, sizeof(*b));
	struct policy_source src;
	struct diag d;

	assert_non_null(b);
	tl_source_from_string(&src, "roundtrip.json", POLICY);
	diag_init(&d);
	assert_int_equal(tl_compile_source(&src, NULL, &b->rs, &d), 0);
	diag_free(&d);
	policy_source_free(&src);
	assert_int_equal(nft_build_desired(&b->rs, &b->desired), 0);
	assert_true(b->desired.n_rules > 5);
	assert_true(b->desired.n_sets > 2);
	return b;
}

static void built_free(struct built *b)
{
	nft_desired_free(&b->desired);
	ruleset_free(&b->rs);
	free(b);
}

/* r as the kernel would receive it, parsed back as a dump would give it */
static struct nftnl_rule *rule_roundtrip(const struct nftnl_rule *r)
{
	static char buf[1 << 16];
	struct nftnl_rule *back = nftnl_rule_alloc();
	struct nlmsghdr *nlh;

	assert_non_null(back);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, (uint16_t)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY),
				    NLM_F_CREATE, 1);
	nftnl_rule_nlmsg_build_payload(nlh, (struct nftnl_rule *)r);
	assert_int_equal(nftnl_rule_nlmsg_parse(nlh, back), 0);
	return back;
}

static char *canon_rule(const struct nftnl_rule *r)
{
	struct strbuf sb;

	strbuf_init(&sb);
	assert_int_equal(nft_rule_canon(r, &sb), 0);
	strbuf_putc(&sb, '\0');
	return strbuf_take(&sb);
}

static void test_rules_survive_netlink(void **state)
{
	struct built *b = *state = build();

	for (size_t i = 0; i < b->desired.n_rules; i++) {
		struct nftnl_rule *back = rule_roundtrip(b->desired.rules[i]);
		char *want = canon_rule(b->desired.rules[i]), *got = canon_rule(back);
		char cbuf[256];

		assert_string_equal(got, want);
		/* the comment (userdata) names the policy entry; the owned list and
		 * metrics are read from it */
		assert_non_null(nft_rule_comment(back, cbuf, sizeof(cbuf)));
		assert_non_null(strstr(cbuf, "notrackctl"));
		free(want);
		free(got);
		nftnl_rule_free(back);
	}
	built_free(b);
	*state = NULL;
}

/* A request numbers the elements in its list (1, 2, ...: libnftnl's
 * builder does, and so does our batch), and the kernel takes any number;
 * a dump tags each one NFTA_LIST_ELEM, and that is what the parser wants. */
static void as_dumped(struct nlmsghdr *nlh)
{
	struct nlattr *a, *e;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
	{
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(e, a) e->nla_type = (uint16_t)((e->nla_type & NLA_F_NESTED) | NFTA_LIST_ELEM);
	}
}

/* A set with its elements, the way a dump hands it over: the set message,
 * then the element message, each parsed. */
static struct nftnl_set *set_roundtrip(const struct nftnl_set *s, const struct nft_elems *elems)
{
	static char buf[1 << 18];
	struct nftnl_set *with = nftnl_set_alloc(), *back = nftnl_set_alloc();
	struct nlmsghdr *nlh;

	assert_non_null(with);
	assert_non_null(back);
	/* a copy of s to add the elements to (libnftnl exports no clone) */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE, 1);
	nftnl_set_nlmsg_build_payload(nlh, (struct nftnl_set *)s);
	assert_int_equal(nftnl_set_nlmsg_parse(nlh, with), 0);
	for (size_t i = 0; i < elems->n; i++) {
		struct nftnl_set_elem *e = nftnl_set_elem_alloc();
		uint8_t key[NFT_KEY_MAX];
		assert_non_null(e);
		nft_key_bytes(&elems->v[i], key);
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, elems->v[i].len);
		if (elems->v[i].end)
			nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
		nftnl_set_elem_add(with, e);
	}
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE, 1);
	nftnl_set_nlmsg_build_payload(nlh, with);
	assert_int_equal(nftnl_set_nlmsg_parse(nlh, back), 0);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSETELEM, NFPROTO_INET, NLM_F_CREATE, 2);
	nftnl_set_elems_nlmsg_build_payload(nlh, with);
	as_dumped(nlh);
	assert_int_equal(nftnl_set_elems_nlmsg_parse(nlh, back), 0);
	nftnl_set_free(with);
	return back;
}

static char *canon_set(const struct nftnl_set *s, struct nft_elems *elems)
{
	struct strbuf sb;

	strbuf_init(&sb);
	assert_int_equal(nft_set_canon(s, elems, &sb), 0);
	strbuf_putc(&sb, '\0');
	return strbuf_take(&sb);
}

static void test_sets_survive_netlink(void **state)
{
	struct built *b = *state = build();
	size_t with_elements = 0;

	for (size_t i = 0; i < b->desired.n_sets; i++) {
		struct nftnl_set *back = set_roundtrip(b->desired.sets[i], &b->desired.set_elems[i]);
		struct nft_elems want = {0}, got = {0};
		char *w, *g;

		assert_int_equal(nft_elems_copy(&want, &b->desired.set_elems[i]), 0);
		assert_int_equal(nft_elems_from_set(&got, back), 0);
		assert_int_equal(got.n, want.n);
		with_elements += got.n > 0;
		w = canon_set(b->desired.sets[i], &want);
		g = canon_set(back, &got);
		assert_string_equal(g, w);
		free(w);
		free(g);
		nft_elems_free(&want);
		nft_elems_free(&got);
		nftnl_set_free(back);
	}
	assert_true(with_elements > 2);
	built_free(b);
	*state = NULL;
}

/* Our rules, parsed back and put in someone else's table, are what lint
 * calls foreign notracks: one for each notrack rule, on its hook. */
static void test_lint_reads_what_we_build(void **state)
{
	struct built *b = *state = build();
	const struct lint_nft_table table = {.family = NFPROTO_INET, .name = "other"};
	const struct lint_nft_chain chains[2] = {
	    {.family = NFPROTO_INET,
	     .table = "other",
	     .name = "prerouting",
	     .base = true,
	     .hooknum = NF_INET_PRE_ROUTING,
	     .policy = NF_ACCEPT,
	     .type = "filter",
	     .prio = -300},
	    {.family = NFPROTO_INET,
	     .table = "other",
	     .name = "output",
	     .base = true,
	     .hooknum = NF_INET_LOCAL_OUT,
	     .policy = NF_ACCEPT,
	     .type = "filter",
	     .prio = -300},
	};
	size_t n = b->desired.n_rules, notracks[2] = {0, 0};
	struct lint_nft_rule *rules = calloc(n, sizeof(*rules));
	struct nftnl_set **sets = calloc(b->desired.n_sets, sizeof(*sets));
	struct lint_input in = {0};

	assert_non_null(rules);
	assert_non_null(sets);
	for (size_t i = 0; i < b->desired.n_sets; i++) {
		sets[i] = set_roundtrip(b->desired.sets[i], &b->desired.set_elems[i]);
		nftnl_set_set_str(sets[i], NFTNL_SET_TABLE, "other");
	}
	for (size_t i = 0; i < n; i++) {
		const struct rule *ir = b->desired.ir_rules[i];
		struct nftnl_rule *back = rule_roundtrip(b->desired.rules[i]);
		nftnl_rule_set_str(back, NFTNL_RULE_TABLE, "other");
		rules[i] = (struct lint_nft_rule){.r = back,
						  .family = NFPROTO_INET,
						  .table = "other",
						  .chain = ir->hook == HOOK_PREROUTING ? "prerouting" : "output",
						  .handle = i + 1};
		if (ir->verdict == VERDICT_NOTRACK)
			notracks[ir->hook == HOOK_PREROUTING ? 0 : 1]++;
	}
	struct lint_nft_view view = {
	    .tables = &table,
	    .n_tables = 1,
	    .chains = chains,
	    .n_chains = 2,
	    .rules = rules,
	    .n_rules = n,
	    .sets = sets,
	    .n_sets = b->desired.n_sets,
	    .our_table = "notrackctl",
	};
	assert_int_equal(lint_nft_decode(&view, &in), 0);
	size_t seen[2] = {0, 0};
	for (size_t i = 0; i < in.n_notracks; i++) {
		assert_string_equal(in.notracks[i].table, "other");
		seen[in.notracks[i].hook == LINT_HOOK_PREROUTING ? 0 : 1]++;
	}
	assert_true(notracks[0] > 0 && notracks[1] > 0);
	assert_int_equal(seen[0], notracks[0]);
	assert_int_equal(seen[1], notracks[1]);

	/* and in our own table they are ours: skipped */
	lint_input_free(&in);
	memset(&in, 0, sizeof(in));
	view.our_table = "other";
	assert_int_equal(lint_nft_decode(&view, &in), 0);
	assert_int_equal(in.n_notracks, 0);
	lint_input_free(&in);

	for (size_t i = 0; i < n; i++)
		nftnl_rule_free((struct nftnl_rule *)rules[i].r);
	for (size_t i = 0; i < b->desired.n_sets; i++)
		nftnl_set_free(sets[i]);
	free(rules);
	free(sets);
	built_free(b);
	*state = NULL;
}

/* ------------------------------------------------------------------ */
/* a foreign rule kept as its message, cut to what lint reads           */

static struct nftnl_expr *expr_u32s(const char *name, uint16_t a1, uint32_t v1, uint16_t a2, uint32_t v2)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	assert_non_null(e);
	if (a1)
		nftnl_expr_set_u32(e, a1, v1);
	if (a2)
		nftnl_expr_set_u32(e, a2, v2);
	return e;
}

static struct nftnl_expr *expr_cmp_eq(const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr_u32s("cmp", NFTNL_EXPR_CMP_SREG, NFT_REG_1, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);

	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	return e;
}

static struct nftnl_expr *expr_load(uint32_t base, uint32_t off, uint32_t len)
{
	struct nftnl_expr *e = expr_u32s("payload", NFTNL_EXPR_PAYLOAD_BASE, base, NFTNL_EXPR_PAYLOAD_OFFSET, off);

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	return e;
}

/* iptables-nft's kube-proxy rules: "-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp
 * -m comment --comment ... -m tcp --dport 80 -j KUBE-SVC-X", and the
 * service chain's DNAT (native here), each with a counter. */
static struct nftnl_rule *kube_rule(bool service)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	const uint8_t tcp = IPPROTO_TCP, addr[4] = {10, 96, 0, 1}, to[4] = {10, 244, 0, 1};
	const uint16_t dport = htons(80), to_port = htons(8080);
	struct nftnl_expr *e;

	assert_non_null(r);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_IPV4);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "nat");
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, service ? "KUBE-SERVICES" : "KUBE-SVC-X");
	nftnl_rule_add_expr(r,
			    expr_u32s("meta", NFTNL_EXPR_META_KEY, NFT_META_L4PROTO, NFTNL_EXPR_META_DREG, NFT_REG_1));
	nftnl_rule_add_expr(r, expr_cmp_eq(&tcp, 1));
	if (service) {
		nftnl_rule_add_expr(r, expr_load(NFT_PAYLOAD_NETWORK_HEADER, 16, 4));
		nftnl_rule_add_expr(r, expr_cmp_eq(addr, 4));
		char *info = calloc(1, 256); /* struct xt_comment_info; libnftnl takes it */
		assert_non_null(info);
		strcpy(info, "default/kubernetes:https cluster IP");
		e = expr_u32s("match", NFTNL_EXPR_MT_REV, 0, 0, 0);
		nftnl_expr_set_str(e, NFTNL_EXPR_MT_NAME, "comment");
		nftnl_expr_set(e, NFTNL_EXPR_MT_INFO, info, 256);
		nftnl_rule_add_expr(r, e);
		nftnl_rule_add_expr(r, expr_load(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2));
		nftnl_rule_add_expr(r, expr_cmp_eq(&dport, 2));
	}
	nftnl_rule_add_expr(r, nftnl_expr_alloc("counter"));
	if (service) {
		e = expr_u32s("immediate", NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT, NFTNL_EXPR_IMM_VERDICT,
			      (uint32_t)NFT_JUMP);
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, "KUBE-SVC-X");
		nftnl_rule_add_expr(r, e);
		return r;
	}
	e = expr_u32s("immediate", NFTNL_EXPR_IMM_DREG, NFT_REG_1, 0, 0);
	nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, to, 4);
	nftnl_rule_add_expr(r, e);
	e = expr_u32s("immediate", NFTNL_EXPR_IMM_DREG, NFT_REG_2, 0, 0);
	nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &to_port, 2);
	nftnl_rule_add_expr(r, e);
	e = expr_u32s("nat", NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
	nftnl_rule_add_expr(r, e);
	return r;
}

static size_t count_exprs(const struct nlmsghdr *nlh)
{
	const struct nlattr *a, *el;
	size_t n = 0;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
	{
		if (mnl_attr_get_type(a) != NFTA_RULE_EXPRESSIONS)
			continue;
		mnl_attr_for_each_nested(el, a)
		{
			n++;
		}
	}
	return n;
}

/* The same rules, handed over parsed and kept as their cut messages, give
 * lint the same users: PREROUTING and OUTPUT both jump to KUBE-SERVICES. */
static void test_kept_message_reads_the_same(void **state)
{
	const struct lint_nft_table table = {.family = NFPROTO_IPV4, .name = "nat"};
	const struct lint_nft_chain chains[4] = {
	    {NFPROTO_IPV4, "nat", "PREROUTING", true, NF_INET_PRE_ROUTING, NF_ACCEPT, "nat", -100},
	    {NFPROTO_IPV4, "nat", "OUTPUT", true, NF_INET_LOCAL_OUT, NF_ACCEPT, "nat", -100},
	    {NFPROTO_IPV4, "nat", "KUBE-SERVICES", false, 0, 0, "", 0},
	    {NFPROTO_IPV4, "nat", "KUBE-SVC-X", false, 0, 0, "", 0},
	};
	struct nftnl_rule *parsed[4];
	struct lint_nft_rule rules[2][4];
	struct nlmsghdr *kept[4];
	struct lint_input in[2] = {{0}};
	static char buf[1 << 16];
	bool xt;

	(void)state;
	for (int i = 0; i < 4; i++) {
		/* the base chains' jumps, then the two kube-proxy rules */
		if (i < 2) {
			parsed[i] = nftnl_rule_alloc();
			assert_non_null(parsed[i]);
			nftnl_rule_set_u32(parsed[i], NFTNL_RULE_FAMILY, NFPROTO_IPV4);
			nftnl_rule_set_str(parsed[i], NFTNL_RULE_TABLE, "nat");
			nftnl_rule_set_str(parsed[i], NFTNL_RULE_CHAIN, chains[i].name);
			struct nftnl_expr *e = expr_u32s("immediate", NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT,
							 NFTNL_EXPR_IMM_VERDICT, (uint32_t)NFT_JUMP);
			nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, "KUBE-SERVICES");
			nftnl_rule_add_expr(parsed[i], e);
		} else {
			parsed[i] = kube_rule(i == 2);
		}
		struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_IPV4, 0, 1);
		nftnl_rule_nlmsg_build_payload(nlh, parsed[i]);
		xt = false;
		kept[i] = malloc(LINT_NFT_COMPACT_MAX(nlh));
		assert_non_null(kept[i]);
		size_t len = lint_nft_rule_compact(nlh, kept[i], &xt);
		assert_int_equal(len, kept[i]->nlmsg_len);
		/* the counter goes, and the comment match with its 256 bytes */
		assert_int_equal(count_exprs(kept[i]), count_exprs(nlh) - (i < 2 ? 0 : i == 2 ? 2 : 1));
		assert_true(kept[i]->nlmsg_len < nlh->nlmsg_len || i < 2);
		assert_int_equal(xt, i == 2);
		for (int k = 0; k < 2; k++)
			rules[k][i] = (struct lint_nft_rule){.r = k ? NULL : parsed[i],
							     .raw = k ? kept[i] : NULL,
							     .family = NFPROTO_IPV4,
							     .table = "nat",
							     .chain = chains[i].name,
							     .handle = (uint64_t)i + 1};
	}
	for (int k = 0; k < 2; k++) {
		const struct lint_nft_view view = {.tables = &table,
						   .n_tables = 1,
						   .chains = chains,
						   .n_chains = 4,
						   .rules = rules[k],
						   .n_rules = 4,
						   .our_table = "notrackctl"};
		assert_int_equal(lint_nft_decode(&view, &in[k]), 0);
	}
	/* the DNAT, with the jump's conditions, from both hooks */
	unsigned hooks = 0;
	assert_true(in[0].n_users >= 1);
	assert_int_equal(in[1].n_users, in[0].n_users);
	for (size_t u = 0; u < in[0].n_users; u++) {
		const struct ct_user *p = &in[0].users[u], *q = &in[1].users[u];
		assert_int_equal(q->need, CT_NEED_DNAT);
		assert_int_equal(q->need, p->need);
		assert_int_equal(q->hooks, p->hooks);
		assert_int_equal(q->widened, p->widened);
		assert_false(q->widened);
		assert_string_equal(q->chain, "KUBE-SVC-X");
		assert_string_equal(q->rule, p->rule);
		assert_non_null(strstr(q->rule, "dnat to 10.244.0.1:8080"));
		assert_true(q->kube);
		assert_int_equal(q->sel.dport.n, 1);
		assert_int_equal(q->sel.daddr[family_index(FAMILY_IPV4)].n, 1);
		hooks |= q->hooks;
	}
	assert_int_equal(hooks, (1u << NF_INET_PRE_ROUTING) | (1u << NF_INET_LOCAL_OUT));
	for (int k = 0; k < 2; k++)
		lint_input_free(&in[k]);
	for (int i = 0; i < 4; i++) {
		nftnl_rule_free(parsed[i]);
		free(kept[i]);
	}
}

/* lint_nft_decode() over one kept message, in a prerouting nat chain */
static int decode_one(const struct nlmsghdr *raw)
{
	const struct lint_nft_table table = {.family = NFPROTO_IPV4, .name = "nat"};
	const struct lint_nft_chain chain = {NFPROTO_IPV4,	  "nat",     "KUBE-SERVICES", true,
					     NF_INET_PRE_ROUTING, NF_ACCEPT, "nat",	      -100};
	const struct lint_nft_rule rule = {
	    .raw = raw, .family = NFPROTO_IPV4, .table = "nat", .chain = "KUBE-SERVICES", .handle = 1};
	const struct lint_nft_view view = {.tables = &table,
					   .n_tables = 1,
					   .chains = &chain,
					   .n_chains = 1,
					   .rules = &rule,
					   .n_rules = 1,
					   .our_table = "notrackctl"};
	struct lint_input in = {0};
	int r = lint_nft_decode(&view, &in);

	lint_input_free(&in);
	return r;
}

/* The decoder reads the kernel's bytes itself now: a message with any one
 * byte changed, or cut short anywhere, is read within its bounds (the ASan
 * build checks) and decodes or fails, nothing else. */
static void test_damaged_message_stays_in_bounds(void **state)
{
	static char buf[1 << 16];
	struct nftnl_rule *r[2] = {kube_rule(true), kube_rule(false)};
	size_t decoded = 0;

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_IPV4, 0, 1);
		nftnl_rule_nlmsg_build_payload(nlh, r[k]);
		size_t len = nlh->nlmsg_len, head = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
		for (size_t i = 0; i < 3 * len; i++) {
			/* every byte flipped, then zeroed; then every length */
			struct nlmsghdr *bad = malloc(len), *kept = malloc(LINT_NFT_COMPACT_MAX(nlh));
			bool xt = false;
			assert_non_null(bad);
			assert_non_null(kept);
			memcpy(bad, nlh, len);
			if (i < 2 * len && i % len >= head)
				((uint8_t *)bad)[i % len] = i < len ? (uint8_t) ~((uint8_t *)bad)[i] : 0;
			else if (i >= 2 * len)
				bad->nlmsg_len = (uint32_t)(head + (i - 2 * len) % (len - head));
			if (lint_nft_rule_compact(bad, kept, &xt) > 0) {
				assert_true(kept->nlmsg_len <= LINT_NFT_COMPACT_MAX(bad));
				decoded += decode_one(kept) == 0;
			}
			free(bad);
			free(kept);
		}
	}
	assert_true(decoded > 0);
	for (int k = 0; k < 2; k++)
		nftnl_rule_free(r[k]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rules_survive_netlink),	    cmocka_unit_test(test_sets_survive_netlink),
	    cmocka_unit_test(test_lint_reads_what_we_build),	    cmocka_unit_test(test_kept_message_reads_the_same),
	    cmocka_unit_test(test_damaged_message_stays_in_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
