/*
 * What nft_build makes survives the trip through netlink, and lint's nft
 * decoder reads it back: every rule and set of a compiled policy is
 * serialised into the netlink message the kernel would get (libnftnl's
 * nlmsg builders), parsed back as a dump would be, and compared in the
 * canonical text the backend's plan compares with.  Then the parsed rules,
 * moved into someone else's table, go through lint_nft_decode(), which must
 * see each of our notrack rules as a foreign notrack.  No kernel, no root.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rules_survive_netlink),
	    cmocka_unit_test(test_sets_survive_netlink),
	    cmocka_unit_test(test_lint_reads_what_we_build),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
