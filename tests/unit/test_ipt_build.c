/*
 * The libiptc entry builder, without a kernel: the entries it makes for
 * policies written inline, field by field as iptables would fill them, the
 * multiport split, and the key and bytes that decide "same rule".
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libiptc/libip6tc.h>
#include <libiptc/libiptc.h>
#include <linux/netfilter/xt_CT.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_multiport.h>
#include <linux/netfilter/xt_u32.h>
#include <stdlib.h>
#include <string.h>

#include "emit/ipt_build.h"
#include "testlib.h"

struct built {
	struct policy_source src;
	struct ruleset rs;
	struct diag d;
	struct ipt_rule_list rules;
};

/* Compiles text and builds the rules of our chain for hook h in family f. */
static struct built *build(const char *text, unsigned family, enum hook h)
{
	struct built *b = calloc(1, sizeof(*b));

	assert_non_null(b);
	tl_source_from_string(&b->src, "inline.json", text);
	diag_init(&b->d);
	assert_int_equal(tl_compile_source(&b->src, NULL, &b->rs, &b->d), 0);
	assert_int_equal(ipt_build_chain_rules(&b->rs, family, h, h == HOOK_PREROUTING ? "T-PRE" : "T-OUT", &b->rules),
			 0);
	return b;
}

static int teardown(void **state)
{
	struct built *b = *state;

	if (b) {
		ipt_rule_list_free(&b->rules);
		ruleset_free(&b->rs);
		diag_free(&b->d);
		policy_source_free(&b->src);
		free(b);
	}
	return 0;
}

/* The n-th match of an entry, or the target when n is past the matches. */
static const struct xt_entry_match *ext(unsigned family, const void *e, size_t n, bool *is_target)
{
	size_t off = family == FAMILY_IPV4 ? sizeof(struct ipt_entry) : sizeof(struct ip6t_entry);
	size_t target = family == FAMILY_IPV4 ? ((const struct ipt_entry *)e)->target_offset
					      : ((const struct ip6t_entry *)e)->target_offset;

	while (n-- > 0 && off < target)
		off += ((const struct xt_entry_match *)((const char *)e + off))->u.match_size;
	*is_target = off >= target;
	return (const void *)((const char *)e + off);
}

static void assert_ext(unsigned family, const void *e, size_t n, const char *name, unsigned rev, size_t info_size,
		       bool target)
{
	bool is_target;
	const struct xt_entry_match *m = ext(family, e, n, &is_target);

	assert_true(is_target == target);
	assert_string_equal(m->u.user.name, name);
	assert_int_equal(m->u.user.revision, rev);
	assert_int_equal(m->u.match_size, XT_ALIGN(sizeof(*m)) + XT_ALIGN(info_size));
}

static void test_service_ipv4(void **state)
{
	struct built *b = *state = build("{\"version\": 1, \"notrack\": {\"services\": [{\"proto\": \"tcp\", "
					 "\"ports\": [80, 443], \"peers\": [\"203.0.113.0/24\"], "
					 "\"interfaces\": [\"eth0\"]}]}, \"untracked_accept\": \"none\"}",
					 FAMILY_IPV4, HOOK_PREROUTING);
	const struct ipt_entry *e;
	const struct xt_multiport_v1 *mp;
	const struct xt_ct_target_info_v1 *ct;
	bool t;

	/* the route_localnet guard first: 127.0.0.0/8 not arriving on lo stays
	 * tracked; the ICMP errors about the service last */
	assert_int_equal(b->rules.n, 3);
	assert_string_equal(ipt_rule_text(&b->rules.v[0]),
			    "-A T-PRE -d 127.0.0.0/8 ! -i lo -m comment --comment \"notrackctl route_localnet guard\" "
			    "-j RETURN");
	e = b->rules.v[0].e;
	assert_string_equal(e->ip.iniface, "lo");
	assert_memory_equal(e->ip.iniface_mask, "\xff\xff\xff\0", 4);
	assert_int_equal(e->ip.invflags, IPT_INV_VIA_IN);
	assert_int_equal(ntohl(e->ip.dst.s_addr), 0x7f000000);
	assert_int_equal(ntohl(e->ip.dmsk.s_addr), 0xff000000);
	assert_string_equal(b->rules.v[1].chain, "T-PRE");
	assert_int_equal(b->rules.v[1].pos, 2);
	assert_string_equal(
	    ipt_rule_text(&b->rules.v[1]),
	    "-A T-PRE -i eth0 -s 203.0.113.0/24 -p tcp -m multiport --dports 80,443 "
	    "-m addrtype --dst-type LOCAL -m comment --comment \"notrackctl notrack.services[0]\" -j CT "
	    "--notrack");
	e = b->rules.v[1].e;
	/* -i eth0: the name and its NUL compare */
	assert_string_equal(e->ip.iniface, "eth0");
	assert_memory_equal(e->ip.iniface_mask, "\xff\xff\xff\xff\xff\0", 6);
	assert_int_equal(e->ip.outiface[0], 0);
	assert_int_equal(ntohl(e->ip.src.s_addr), 0xcb007100);
	assert_int_equal(ntohl(e->ip.smsk.s_addr), 0xffffff00);
	assert_int_equal(e->ip.dmsk.s_addr, 0);
	assert_int_equal(e->ip.proto, IPPROTO_TCP);
	assert_int_equal(e->ip.flags, 0);
	assert_int_equal(e->ip.invflags, 0);

	assert_ext(FAMILY_IPV4, e, 0, "multiport", 1, sizeof(*mp), false);
	mp = (const void *)ext(FAMILY_IPV4, e, 0, &t)->data;
	assert_int_equal(mp->flags, XT_MULTIPORT_DESTINATION);
	assert_int_equal(mp->count, 2);
	assert_int_equal(mp->ports[0], 80); /* host byte order, like iptables */
	assert_int_equal(mp->ports[1], 443);
	/* only packets addressed to this host: forwarded ones stay tracked */
	assert_ext(FAMILY_IPV4, e, 1, "addrtype", 1, sizeof(struct xt_addrtype_info_v1), false);
	const struct xt_addrtype_info_v1 *at = (const void *)ext(FAMILY_IPV4, e, 1, &t)->data;
	assert_int_equal(at->dest, XT_ADDRTYPE_LOCAL);
	assert_int_equal(at->source, 0);
	assert_int_equal(at->flags, 0);
	assert_ext(FAMILY_IPV4, e, 2, "comment", 0, sizeof(struct xt_comment_info), false);
	assert_string_equal(((const struct xt_comment_info *)ext(FAMILY_IPV4, e, 2, &t)->data)->comment,
			    "notrackctl notrack.services[0]");
	assert_ext(FAMILY_IPV4, e, 3, "CT", 2, sizeof(*ct), true);
	ct = (const void *)ext(FAMILY_IPV4, e, 3, &t)->data;
	assert_int_equal(ct->flags, XT_CT_NOTRACK);
	assert_int_equal(e->next_offset,
			 e->target_offset + XT_ALIGN(sizeof(struct xt_entry_target)) + XT_ALIGN(sizeof(*ct)));
	assert_string_equal(ipt_entry_comment(FAMILY_IPV4, e), "notrackctl notrack.services[0]");

	/* an ICMP error about what the service sent: its source port is 80 or 443 */
	assert_string_equal(ipt_rule_text(&b->rules.v[2]),
			    "-A T-PRE -i eth0 -p icmp -m u32 --u32 \"0x0>>0x16&0x3c@0x0>>0x18=0x3,0xb:0xc&&"
			    "0x0>>0x16&0x3c@0x8>>0x18=0x45&&0x0>>0x16&0x3c@0x10>>0x10&0xff=0x6&&"
			    "0x0>>0x16&0x3c@0x1c>>0x10=0x50,0x1bb\" -m addrtype --dst-type LOCAL -m comment "
			    "--comment \"notrackctl notrack.services[0] (icmp errors)\" -j CT --notrack");
	e = b->rules.v[2].e;
	assert_int_equal(e->ip.proto, IPPROTO_ICMP);
	assert_int_equal(e->ip.src.s_addr, 0); /* the embedded addresses are not compared */
	assert_ext(FAMILY_IPV4, e, 0, "u32", 0, sizeof(struct xt_u32), false);
	const struct xt_u32 *u = (const void *)ext(FAMILY_IPV4, e, 0, &t)->data;
	assert_int_equal(u->ntests, 4);
	assert_int_equal(u->tests[3].nnums, 5);
	assert_int_equal(u->tests[3].location[3].nextop, XT_U32_AT);
	assert_int_equal(u->tests[3].location[3].number, 28);
	assert_int_equal(u->tests[3].nvalues, 2);
	assert_int_equal(u->tests[3].value[1].min, 443);
	assert_int_equal(u->tests[3].value[1].max, 443);
	assert_ext(FAMILY_IPV4, e, 1, "addrtype", 1, sizeof(struct xt_addrtype_info_v1), false);
}

static void test_ipv6_flags_and_wildcard(void **state)
{
	struct built *b = *state = build("{\"version\": 1, \"notrack\": {\"upstreams\": [{\"proto\": \"udp\", "
					 "\"ports\": [53], \"peers\": [\"2001:db8::/32\"], "
					 "\"interfaces\": [\"veth+\"]}]}, \"untracked_accept\": \"none\"}",
					 FAMILY_IPV6, HOOK_OUTPUT);
	const struct ip6t_entry *e;

	assert_int_equal(b->rules.n, 1);
	e = b->rules.v[0].e;
	/* -o veth+: the '+' stays in the name, only the prefix compares */
	assert_string_equal(e->ipv6.outiface, "veth+");
	assert_memory_equal(e->ipv6.outiface_mask, "\xff\xff\xff\xff\0", 5);
	assert_int_equal(e->ipv6.dst.s6_addr[0], 0x20);
	assert_int_equal(e->ipv6.dst.s6_addr[1], 0x01);
	assert_int_equal(e->ipv6.dmsk.s6_addr[3], 0xff);
	assert_int_equal(e->ipv6.dmsk.s6_addr[4], 0);
	/* ip6_tables looks at proto only with IP6T_F_PROTO, which ip6tables sets with -p */
	assert_int_equal(e->ipv6.proto, IPPROTO_UDP);
	assert_int_equal(e->ipv6.flags, IP6T_F_PROTO);
	assert_string_equal(ipt_rule_text(&b->rules.v[0]),
			    "-A T-OUT -o veth+ -d 2001:db8::/32 -p udp -m multiport --dports 53 -m "
			    "comment --comment \"notrackctl notrack.upstreams[0]\" -j CT --notrack");
}

/* 15 slots per multiport, a range taking two; the split is the emitter's. */
static void test_multiport_split(void **state)
{
	struct built *b = *state =
	    build("{\"version\": 1, \"notrack\": {\"services\": [{\"proto\": \"tcp\", \"ports\": [1, 3, 5, 7, 9, 11, "
		  "13, 15, 17, 19, 21, 23, 25, \"100-200\", 301, 303]}]}, \"untracked_accept\": \"none\"}",
		  FAMILY_IPV4, HOOK_PREROUTING);
	const struct xt_multiport_v1 *mp;
	bool t;

	/* the route_localnet guard, the two halves, then the ICMP errors: 10 ranges a u32 test */
	assert_int_equal(b->rules.n, 5);
	assert_int_equal(((const struct xt_u32 *)ext(FAMILY_IPV4, b->rules.v[3].e, 0, &t)->data)->tests[3].nvalues, 10);
	assert_int_equal(((const struct xt_u32 *)ext(FAMILY_IPV4, b->rules.v[4].e, 0, &t)->data)->tests[3].nvalues, 6);
	mp = (const void *)ext(FAMILY_IPV4, b->rules.v[1].e, 0, &t)->data;
	/* 13 single ports, then the range would need slots 14 and 15 */
	assert_int_equal(mp->count, 15);
	assert_int_equal(mp->ports[13], 100);
	assert_int_equal(mp->pflags[13], 1);
	assert_int_equal(mp->ports[14], 200);
	assert_int_equal(mp->pflags[14], 0);
	mp = (const void *)ext(FAMILY_IPV4, b->rules.v[2].e, 0, &t)->data;
	assert_int_equal(mp->count, 2);
	assert_int_equal(mp->ports[0], 301);
	assert_int_equal(mp->ports[1], 303);
	assert_int_equal(b->rules.v[2].pos, 3);
	assert_non_null(strstr(ipt_rule_text(&b->rules.v[1]), "--dports 1,3,5,7,9,11,13,15,17,19,21,23,25,100:200 "));
	assert_non_null(strstr(ipt_rule_text(&b->rules.v[2]), "--dports 301,303 "));
}

static void test_keep_tracked_returns(void **state)
{
	struct built *b = *state = build("{\"version\": 1, \"notrack\": {\"loopback\": true}, \"keep_tracked\": "
					 "[{\"reason\": \"state\", \"proto\": \"tcp\", \"ports\": [22], "
					 "\"role\": \"service\"}], \"untracked_accept\": \"none\"}",
					 FAMILY_IPV4, HOOK_PREROUTING);
	const struct xt_standard_target *st;
	bool t;

	assert_int_equal(b->rules.n, 2);
	/* the exception first, as a RETURN: a standard target libiptc resolves by name */
	assert_ext(FAMILY_IPV4, b->rules.v[0].e, 2, "RETURN", 0, sizeof(int), true);
	st = (const void *)ext(FAMILY_IPV4, b->rules.v[0].e, 2, &t);
	assert_int_equal(st->target.u.target_size, sizeof(struct xt_standard_target));
	assert_ext(FAMILY_IPV4, b->rules.v[1].e, 1, "CT", 2, sizeof(struct xt_ct_target_info_v1), true);
	assert_string_equal(ipt_entry_target_name(FAMILY_IPV4, b->rules.v[0].e), "RETURN");
}

static void test_accept_and_jump(void **state)
{
	void *acc = ipt_build_accept(FAMILY_IPV6, "tag"), *jump = ipt_build_jump(FAMILY_IPV4, "tag", "TAG-PRE");
	const struct xt_conntrack_mtinfo3 *ct;
	struct xt_conntrack_mtinfo3 want;
	bool t;

	(void)state;
	assert_non_null(acc);
	assert_non_null(jump);
	assert_ext(FAMILY_IPV6, acc, 0, "conntrack", 3, sizeof(*ct), false);
	ct = (const void *)ext(FAMILY_IPV6, acc, 0, &t)->data;
	/* exactly what "-m conntrack --ctstate UNTRACKED" fills in */
	memset(&want, 0, sizeof(want));
	want.match_flags = XT_CONNTRACK_STATE;
	want.state_mask = XT_CONNTRACK_STATE_UNTRACKED;
	assert_memory_equal(ct, &want, sizeof(want));
	assert_ext(FAMILY_IPV6, acc, 1, "comment", 0, sizeof(struct xt_comment_info), false);
	assert_ext(FAMILY_IPV6, acc, 2, "ACCEPT", 0, sizeof(int), true);
	assert_string_equal(ipt_entry_comment(FAMILY_IPV6, acc), "tag");
	assert_int_equal(((const struct ip6t_entry *)acc)->ipv6.flags, 0);

	assert_ext(FAMILY_IPV4, jump, 0, "comment", 0, sizeof(struct xt_comment_info), false);
	assert_ext(FAMILY_IPV4, jump, 1, "TAG-PRE", 0, sizeof(int), true);
	free(acc);
	free(jump);
}

/* What the kernel hands back differs from what we built in counters, the
 * back pointer, the CT target's kernel pointer and, for verdicts and jumps,
 * an empty target name with an offset: none of that makes a different rule,
 * by key or by bytes. */
static void test_key_ignores_kernel_bytes(void **state)
{
	struct built *b = *state = build("{\"version\": 1, \"notrack\": {\"loopback\": true}, "
					 "\"untracked_accept\": \"none\"}",
					 FAMILY_IPV4, HOOK_OUTPUT);
	const struct ipt_rule *built = &b->rules.v[0];
	struct ipt_entry *live;
	struct xt_entry_target *tg;
	void *jump, *raw, *norm;
	uint64_t jump_key;
	size_t size = ipt_entry_size(FAMILY_IPV4, built->e);
	bool t;

	live = malloc(size);
	assert_non_null(live);
	memcpy(live, built->e, size);
	live->counters.pcnt = 12;
	live->counters.bcnt = 3400;
	live->comefrom = 0x9;
	tg = (void *)((char *)live + live->target_offset);
	memset(tg->data + offsetof(struct xt_ct_target_info_v1, ct), 0xab, sizeof(void *));
	assert_true(ipt_entry_key(FAMILY_IPV4, live, NULL) == built->key);
	assert_true(ipt_entry_same(FAMILY_IPV4, live, NULL, built->e, NULL));

	/* a jump as libiptc returns it: "" and a kernel offset; keyed raw
	 * with its label, or normalised, it is the jump we built */
	jump = ipt_build_jump(FAMILY_IPV4, "tag", "TAG-OUT");
	jump_key = ipt_entry_key(FAMILY_IPV4, jump, NULL);
	size = ipt_entry_size(FAMILY_IPV4, jump);
	raw = malloc(size);
	assert_non_null(raw);
	memcpy(raw, jump, size);
	tg = (void *)((char *)raw + ((struct ipt_entry *)raw)->target_offset);
	memset(tg->u.user.name, 0, sizeof(tg->u.user.name));
	((struct xt_standard_target *)tg)->verdict = 1234;
	assert_true(ipt_entry_key(FAMILY_IPV4, raw, "TAG-OUT") == jump_key);
	assert_false(ipt_entry_key(FAMILY_IPV4, raw, "TAG-PRE") == jump_key);
	norm = ipt_entry_normalise(FAMILY_IPV4, raw, "TAG-OUT");
	assert_true(ipt_entry_key(FAMILY_IPV4, norm, NULL) == jump_key);
	assert_true(ipt_entry_same(FAMILY_IPV4, norm, NULL, jump, NULL));
	/* and borrowed as libiptc hands it out, with its label */
	assert_true(ipt_entry_same(FAMILY_IPV4, raw, "TAG-OUT", jump, NULL));
	assert_false(ipt_entry_same(FAMILY_IPV4, raw, "TAG-PRE", jump, NULL));
	assert_false(ipt_entry_same(FAMILY_IPV4, norm, NULL, built->e, NULL));

	/* while a different comment is a different rule */
	memcpy(live, built->e, ipt_entry_size(FAMILY_IPV4, built->e));
	((struct xt_comment_info *)ext(FAMILY_IPV4, live, 0, &t)->data)->comment[0] = 'N';
	assert_false(ipt_entry_key(FAMILY_IPV4, live, NULL) == built->key);
	assert_false(ipt_entry_same(FAMILY_IPV4, live, NULL, built->e, NULL));
	/* and so is another address */
	memcpy(live, built->e, ipt_entry_size(FAMILY_IPV4, built->e));
	live->ip.dst.s_addr ^= 1;
	assert_false(ipt_entry_key(FAMILY_IPV4, live, NULL) == built->key);
	assert_false(ipt_entry_same(FAMILY_IPV4, live, NULL, built->e, NULL));
	/* a rule list that borrows the raw jump: same rule, and its target
	 * reads as the label */
	struct ipt_rule_list borrowed = {0}, built_list = {0};
	assert_non_null(ipt_rule_list_borrow(&borrowed, FAMILY_IPV4, "OUTPUT", 1, raw, "TAG-OUT"));
	assert_non_null(ipt_rule_list_add(&built_list, FAMILY_IPV4, "OUTPUT", 1,
					  ipt_build_jump(FAMILY_IPV4, "tag", "TAG-OUT"), NULL));
	assert_true(borrowed.v[0].key == built_list.v[0].key);
	assert_true(ipt_rule_same(&borrowed.v[0], &built_list.v[0]));
	assert_string_equal(ipt_rule_target(&borrowed.v[0]), "TAG-OUT");
	assert_string_equal(ipt_rule_text(&borrowed.v[0]), "comment \"tag\" -j TAG-OUT");
	ipt_rule_list_free(&borrowed); /* leaves raw to us */
	ipt_rule_list_free(&built_list);
	free(norm);
	free(raw);
	free(jump);
	free(live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_service_ipv4, teardown),
	    cmocka_unit_test_teardown(test_ipv6_flags_and_wildcard, teardown),
	    cmocka_unit_test_teardown(test_multiport_split, teardown),
	    cmocka_unit_test_teardown(test_keep_tracked_returns, teardown),
	    cmocka_unit_test(test_accept_and_jump),
	    cmocka_unit_test_teardown(test_key_ignores_kernel_bytes, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
