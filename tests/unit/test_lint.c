/*
 * The linter's analyser, table-driven, no kernel: a policy (compiled for
 * real), the conntrack users and filter chains a reader would hand over
 * (written in a small text form below), and the findings expected.  Plus the
 * selector algebra underneath and the host-address refinement.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "lint/lint.h"
#include "testlib.h"

/* ------------------------------------------------------------------ */
/* the text form                                                        */

/*
 * A selector: space-separated tokens.
 *   family=ip|ip6|inet  proto=tcp|udp  sport=A[-B][,C...]  dport=...
 *   sport!=... dport!=...  saddr=CIDR[,CIDR]  daddr=...  daddr!=CIDR
 *   iif=NAME iif!=NAME oif=NAME oif!=NAME   (a trailing + is a wildcard)
 * A user adds:
 *   need=dnat|redirect|snat|masq|state|helper|mark|zone
 *   hooks=pre,in,fwd,out,post  to=ADDR  toport=A[-B]  place=local|remote
 *   toif=NAME  state=new,established,related,invalid,untracked  accept  widened
 *   pktmark (gated by a packet mark)  ctwrite (sets the ct mark)
 *   tohost (fib daddr type local, --dst-type LOCAL)
 * A chain: "hook=input family=inet table=T chain=C policy=drop owner | accept
 *   <selector> | drop <selector> ..."
 */

static uint8_t proto_of(const char *s)
{
	if (!strcmp(s, "tcp"))
		return IPPROTO_TCP;
	if (!strcmp(s, "udp"))
		return IPPROTO_UDP;
	fail_msg("unknown proto %s", s);
	return 0;
}

static void parse_ports(const char *v, bool neg, struct lint_ranges *out)
{
	struct lint_range r[16];
	size_t n = 0;
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", v);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned a, b;
		if (sscanf(t, "%u-%u", &a, &b) != 2)
			b = a = (unsigned)atoi(t);
		lint_range_port(&r[n++], (uint16_t)a, (uint16_t)b);
	}
	assert_int_equal(lint_ranges_set(out, r, n, LINT_PORT_WIDTH), 0);
	if (neg)
		assert_int_equal(lint_ranges_not(out, LINT_PORT_WIDTH), 0);
}

static unsigned parse_addrs(const char *v, bool neg, struct lint_ranges *out)
{
	struct lint_range r[16];
	size_t n = 0;
	char buf[256], *save = NULL;
	unsigned af = strchr(v, ':') ? FAMILY_IPV6 : FAMILY_IPV4;

	snprintf(buf, sizeof(buf), "%s", v);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint8_t addr[16] = {0};
		char *slash = strchr(t, '/');
		unsigned prefix = af == FAMILY_IPV4 ? 32 : 128;
		if (slash) {
			*slash = '\0';
			prefix = (unsigned)atoi(slash + 1);
		}
		assert_int_equal(inet_pton(af == FAMILY_IPV4 ? AF_INET : AF_INET6, t, addr), 1);
		lint_range_prefix(&r[n++], addr, prefix, family_addr_len(af));
	}
	assert_int_equal(lint_ranges_set(out, r, n, family_addr_len(af)), 0);
	if (neg)
		assert_int_equal(lint_ranges_not(out, family_addr_len(af)), 0);
	return af;
}

static void parse_if(struct lint_sel *s, bool in, const char *v, bool neg)
{
	char name[LINT_IFNAME_MAX];
	size_t len;

	snprintf(name, sizeof(name), "%s", v);
	len = strlen(name);
	bool wild = len && name[len - 1] == '+';
	if (wild)
		name[len - 1] = '\0';
	lint_sel_add_if(s, in, name, wild, neg);
}

static unsigned parse_family(const char *v)
{
	return !strcmp(v, "ip") ? FAMILY_IPV4 : !strcmp(v, "ip6") ? FAMILY_IPV6 : FAMILY_BOTH;
}

/* Applies one selector token; returns false if it is not a selector token. */
static bool sel_token(struct lint_sel *s, const char *key, const char *op, const char *v)
{
	bool neg = !strcmp(op, "!=");
	struct lint_ranges t = {0};

	if (!strcmp(key, "family")) {
		s->family = parse_family(v);
	} else if (!strcmp(key, "proto")) {
		lint_sel_and_proto(s, proto_of(v));
	} else if (!strcmp(key, "sport") || !strcmp(key, "dport")) {
		parse_ports(v, neg, &t);
		assert_int_equal(lint_sel_and_ports(s, key[0] == 's', &t), 0);
	} else if (!strcmp(key, "saddr") || !strcmp(key, "daddr")) {
		unsigned af = parse_addrs(v, neg, &t);
		assert_int_equal(lint_sel_and_addrs(s, key[0] == 's', af, &t), 0);
	} else if (!strcmp(key, "iif") || !strcmp(key, "oif")) {
		parse_if(s, key[0] == 'i', v, neg);
	} else {
		return false;
	}
	lint_ranges_free(&t);
	return true;
}

/* Splits "key=v", "key!=v" or "flag". */
static void split_token(char *tok, char **key, const char **op, char **val)
{
	char *eq = strchr(tok, '=');

	*key = tok;
	*op = "";
	*val = (char *)"";
	if (!eq)
		return;
	*val = eq + 1;
	if (eq > tok && eq[-1] == '!') {
		eq[-1] = '\0';
		*op = "!=";
	} else {
		*op = "=";
	}
	*eq = '\0';
}

static void parse_sel_tokens(struct lint_sel *s, char *text)
{
	char *save = NULL;

	for (char *tok = strtok_r(text, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *key, *val;
		const char *op;
		split_token(tok, &key, &op, &val);
		if (!sel_token(s, key, op, val))
			fail_msg("unknown selector token %s", key);
	}
}

static unsigned parse_hooks(const char *v)
{
	unsigned h = 0;

	h |= strstr(v, "pre") ? LINT_HOOK_PREROUTING : 0;
	h |= strstr(v, "in") ? LINT_HOOK_INPUT : 0;
	h |= strstr(v, "fwd") ? LINT_HOOK_FORWARD : 0;
	h |= strstr(v, "out") ? LINT_HOOK_OUTPUT : 0;
	h |= strstr(v, "post") ? LINT_HOOK_POSTROUTING : 0;
	return h;
}

static uint32_t parse_state(const char *v)
{
	uint32_t m = 0;

	m |= strstr(v, "new") ? LINT_CT_NEW : 0;
	m |= strstr(v, "established") ? LINT_CT_ESTABLISHED : 0;
	m |= strstr(v, "related") ? LINT_CT_RELATED : 0;
	m |= strstr(v, "invalid") ? LINT_CT_INVALID : 0;
	m |= strstr(v, "untracked") ? LINT_CT_UNTRACKED : 0;
	return m;
}

static enum ct_need parse_need(const char *v)
{
	static const struct {
		const char *name;
		enum ct_need need;
	} needs[] = {{"dnat", CT_NEED_DNAT},	   {"redirect", CT_NEED_REDIRECT}, {"snat", CT_NEED_SNAT},
		     {"masq", CT_NEED_MASQUERADE}, {"state", CT_NEED_STATE},	   {"helper", CT_NEED_HELPER},
		     {"mark", CT_NEED_MARK},	   {"zone", CT_NEED_ZONE}};
	for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++)
		if (!strcmp(needs[i].name, v))
			return needs[i].need;
	fail_msg("unknown need %s", v);
	return CT_NEED_OTHER;
}

#define MAX_ITEMS 4 /* users, chains and notracks of a case */

/* chain: the user's chain, "C" and its number in the case */
static struct ct_user *parse_user_in(struct lint_input *in, const char *spec, size_t chain)
{
	struct ct_user *u = lint_input_add_user(in);
	char buf[512], *save = NULL;

	assert_non_null(u);
	snprintf(u->family, sizeof(u->family), "ip");
	snprintf(buf, sizeof(buf), "C%zu", chain);
	assert_int_equal(lint_user_set_text(u, "nat", buf, spec), 0);
	u->sel.family = FAMILY_IPV4;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *key, *val;
		const char *op;
		split_token(tok, &key, &op, &val);
		if (!strcmp(key, "family"))
			snprintf(u->family, sizeof(u->family), "%s", val);
		if (sel_token(&u->sel, key, op, val))
			continue;
		if (!strcmp(key, "need")) {
			u->need = parse_need(val);
		} else if (!strcmp(key, "hooks")) {
			u->hooks = parse_hooks(val);
		} else if (!strcmp(key, "to")) {
			struct lint_ranges t = {0};
			unsigned af = parse_addrs(val, false, &t);
			lint_ranges_free(&u->to_addr[family_index(af)]);
			u->to_addr[family_index(af)] = t;
		} else if (!strcmp(key, "toport")) {
			parse_ports(val, false, &u->to_port);
		} else if (!strcmp(key, "place")) {
			u->to_place = !strcmp(val, "local") ? LINT_PLACE_LOCAL : LINT_PLACE_REMOTE;
		} else if (!strcmp(key, "toif")) {
			struct lint_ifs t = {.n = 1};
			snprintf(t.v[0].name, sizeof(t.v[0].name), "%s", val);
			assert_int_equal(lint_ifs_intern(&t, &u->to_if), 0);
		} else if (!strcmp(key, "state")) {
			u->ct_state = parse_state(val);
		} else if (!strcmp(key, "accept")) {
			u->accepts = true;
		} else if (!strcmp(key, "widened")) {
			u->widened = true;
		} else if (!strcmp(key, "pktmark")) {
			u->pkt_mark = true;
		} else if (!strcmp(key, "ctwrite")) {
			u->ct_write = true;
		} else if (!strcmp(key, "tohost")) {
			u->sel.to_host = true;
		} else if (!strcmp(key, "limited")) {
			u->limited = true;
		} else if (!strcmp(key, "at")) {
			/* at=CHAIN:POS: in the CHAIN-th chain of the case, before its POS-th rule */
			assert_int_equal(sscanf(val, "%ld:%zu", &u->chain_index, &u->chain_pos), 2);
		} else {
			fail_msg("unknown user token %s", key);
		}
	}
	return u;
}

static void parse_user(struct lint_input *in, const char *spec)
{
	parse_user_in(in, spec, in->n_users + 1);
}

/* How analyse_text builds the users: as the case says, or met from every
 * hook, one user each, hook by hook (all prerouting ones first, as a reader
 * walks its base chains), and then also sealed (lint_input_seal_user): each
 * rule becomes one user met five times, which must not change a word of the
 * report. */
static enum { USERS_AS_IS, USERS_SPLIT, USERS_SEALED } users_mode;

static void parse_users(struct lint_input *in, const char *const *users)
{
	if (users_mode == USERS_AS_IS) {
		for (size_t i = 0; users && i < MAX_ITEMS && users[i]; i++)
			parse_user(in, users[i]);
		return;
	}
	for (unsigned hook = LINT_HOOK_PREROUTING; hook <= LINT_HOOK_POSTROUTING; hook <<= 1) {
		for (size_t i = 0; users && i < MAX_ITEMS && users[i]; i++) {
			struct ct_user *u = parse_user_in(in, users[i], i + 1);
			u->hooks = hook;
			if (users_mode == USERS_SEALED)
				assert_int_equal(lint_input_seal_user(in), 0);
		}
	}
}

static unsigned family_of_chain(const struct lint_chain *c)
{
	return c->family;
}

static void parse_chain(struct lint_input *in, const char *spec)
{
	struct lint_chain *c = lint_input_add_chain(in);
	char buf[1024], *save = NULL, *rules;

	assert_non_null(c);
	c->family = FAMILY_BOTH;
	snprintf(c->family_name, sizeof(c->family_name), "inet");
	snprintf(c->table, sizeof(c->table), "filter");
	snprintf(c->chain, sizeof(c->chain), "input");
	c->hook = LINT_HOOK_INPUT;
	snprintf(buf, sizeof(buf), "%s", spec);
	rules = strchr(buf, '|');
	if (rules)
		*rules++ = '\0';
	for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *key, *val;
		const char *op;
		split_token(tok, &key, &op, &val);
		if (!strcmp(key, "hook")) {
			c->hook = parse_hooks(val);
		} else if (!strcmp(key, "family")) {
			c->family = family_from_nft_name(val) ? family_from_nft_name(val) : FAMILY_BOTH;
			snprintf(c->family_name, sizeof(c->family_name), "%s", val);
		} else if (!strcmp(key, "table")) {
			snprintf(c->table, sizeof(c->table), "%s", val);
		} else if (!strcmp(key, "chain")) {
			snprintf(c->chain, sizeof(c->chain), "%s", val);
		} else if (!strcmp(key, "policy")) {
			c->policy_drop = !strcmp(val, "drop");
		} else if (!strcmp(key, "owner")) {
			c->owner_locked = true;
		} else {
			fail_msg("unknown chain token %s", key);
		}
	}
	save = NULL;
	for (char *seg = rules ? strtok_r(rules, "|", &save) : NULL; seg; seg = strtok_r(NULL, "|", &save)) {
		while (*seg == ' ')
			seg++;
		bool accept = !strncmp(seg, "accept", 6);
		char *sel_text = seg + (accept ? 6 : 4);
		char rule[256];
		struct lint_sel s;
		snprintf(rule, sizeof(rule), "%s", seg);
		lint_sel_init(&s, family_of_chain(c));
		parse_sel_tokens(&s, sel_text);
		assert_int_equal(lint_chain_add_rule(c, accept ? LINT_V_ACCEPT : LINT_V_DROP, &s, rule), 0);
		lint_sel_free(&s);
	}
}

/* A foreign notrack rule: "hook=pre|out legacy <selector>", in ip raw PREROUTING or OUTPUT. */
static void parse_notrack(struct lint_input *in, const char *spec)
{
	struct lint_notrack *n = lint_input_add_notrack(in);
	char buf[512], *save = NULL;

	assert_non_null(n);
	n->hook = LINT_HOOK_PREROUTING;
	n->sel.family = FAMILY_IPV4;
	snprintf(n->family, sizeof(n->family), "ip");
	snprintf(n->table, sizeof(n->table), "raw");
	snprintf(n->rule, sizeof(n->rule), "%s", spec);
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *key, *val;
		const char *op;
		split_token(tok, &key, &op, &val);
		if (sel_token(&n->sel, key, op, val))
			continue;
		if (!strcmp(key, "hook"))
			n->hook = parse_hooks(val);
		else if (!strcmp(key, "legacy"))
			n->legacy = true;
		else
			fail_msg("unknown notrack token %s", key);
	}
	snprintf(n->chain, sizeof(n->chain), "%s", n->hook == LINT_HOOK_OUTPUT ? "OUTPUT" : "PREROUTING");
}

/* ------------------------------------------------------------------ */
/* the cases                                                            */

struct lint_case {
	const char *name;
	const char *policy; /* JSON with ' for " */
	const char *users[MAX_ITEMS];
	const char *chains[MAX_ITEMS];
	const char *want; /* "ORIGIN KIND[ reply]; ..." sorted, "" for none */
	const char *notracks[MAX_ITEMS];
};

#define P(body) "{'version': 1, " body "}"

/* most cases have no foreign notrack rules: they leave notracks out */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct lint_case cases[] = {
    /* DNAT, as Docker publishes a port */
    {"dnat caught",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [8081]}]}"),
     {"need=dnat hooks=pre proto=tcp dport=8081 iif!=docker0 to=172.17.0.2 toport=80 place=remote toif=docker0"},
     {NULL},
     "$.notrack.services[0] nat"},
    {"dnat kept tracked",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': ['8000-8100']}]}, 'keep_tracked': [{'reason': 'nat', "
       "'proto': 'tcp', 'ports': [8081], 'role': 'service'}]"),
     {"need=dnat hooks=pre proto=tcp dport=8081 iif!=docker0 to=172.17.0.2 toport=80 place=remote toif=docker0"},
     {NULL},
     ""},
    {"dnat partly kept tracked",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': ['8000-8200']}]}, 'keep_tracked': [{'reason': 'nat', "
       "'proto': 'tcp', 'ports': ['8000-8050'], 'role': 'service'}]"),
     {"need=dnat hooks=pre proto=tcp dport=8000-8100 to=172.17.0.2 place=remote"},
     {NULL},
     "$.notrack.services[0] nat"},
    {"dnat port range misses",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [9000, '8101-8200']}]}"),
     {"need=dnat hooks=pre proto=tcp dport=8000-8100 to=172.17.0.2 place=remote"},
     {NULL},
     ""},
    {"dnat, IPv6",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [8081]}]}"),
     {"need=dnat hooks=pre family=ip6 proto=tcp dport=8081 to=fd00::2 toport=80 place=remote"},
     {NULL},
     "$.notrack.services[0] nat"},
    {"dnat, IPv6, policy for IPv4 only",
     P("'families': ['ipv4'], 'notrack': {'services': [{'proto': 'tcp', 'ports': [8081]}]}"),
     {"need=dnat hooks=pre family=ip6 proto=tcp dport=8081 to=fd00::2 toport=80 place=remote"},
     {NULL},
     ""},
    {"dnat, IPv6 peers of the other family",
     P("'notrack': {'upstreams': [{'proto': 'tcp', 'ports': [80], 'peers': ['172.17.0.0/16']}]}"),
     {"need=dnat hooks=pre family=ip6 proto=tcp dport=8081 to=fd00::2 toport=80 place=remote"},
     {NULL},
     ""},
    {"dnat other protocol",
     P("'notrack': {'services': [{'proto': 'udp', 'ports': [8081]}]}"),
     {"need=dnat hooks=pre proto=tcp dport=8081 to=172.17.0.2 toport=80 place=remote"},
     {NULL},
     ""},
    {"dnat target port is not the published one",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80]}]}"),
     {"need=dnat hooks=pre proto=tcp dport=8081 iif!=docker0 to=172.17.0.2 toport=80 place=remote toif=docker0"},
     {NULL},
     ""},
    {"dnat replies caught by an upstream",
     P("'notrack': {'upstreams': [{'proto': 'tcp', 'ports': [80]}]}"),
     {"need=dnat hooks=pre proto=tcp dport=8081 iif!=docker0 to=172.17.0.2 toport=80 place=remote toif=docker0"},
     {NULL},
     ""}, /* the container's replies go to the remote client: no socket of this host's */
    {"dnat upstream peer elsewhere",
     P("'notrack': {'upstreams': [{'proto': 'tcp', 'ports': [80], 'peers': ['10.0.0.0/8']}]}"),
     {"need=dnat hooks=pre proto=tcp dport=8081 to=172.17.0.2 toport=80 place=remote"},
     {NULL},
     ""},
    {"dnat replies caught on the container interface",
     P("'notrack': {'interfaces': ['docker0']}"),
     {"need=dnat hooks=pre proto=tcp dport=8081 iif!=docker0 to=172.17.0.2 toport=80 place=remote toif=docker0"},
     {NULL},
     "$.notrack.interfaces[0] nat reply"},
    {"dnat on another interface",
     P("'notrack': {'interfaces': ['eth1']}"),
     {"need=dnat hooks=pre proto=tcp dport=8081 iif=eth0 to=172.17.0.2 toport=80 place=remote toif=docker0"},
     {NULL},
     ""},
    {"dnat of local traffic and loopback",
     P("'notrack': {'loopback': true}"),
     {"need=dnat hooks=out proto=tcp dport=8081 daddr!=127.0.0.0/8 to=172.17.0.2 toport=80 place=remote"},
     {NULL},
     "$.notrack.loopback nat"},
    {"redirect replies leave from this host",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [8080]}]}"),
     {"need=redirect hooks=pre proto=tcp dport=3128 toport=8080"},
     {NULL},
     "$.notrack.services[0] nat reply"},
    /* source NAT */
    {"masquerade of forwarded traffic to a served port",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80]}]}"),
     {"need=masq hooks=post saddr=172.17.0.0/16 oif!=docker0 iif=docker0"},
     {NULL},
     ""}, /* a service matches only what is addressed to this host */
    {"masquerade and a service on another interface",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80], 'interfaces': ['eth0']}]}"),
     {"need=masq hooks=post saddr=172.17.0.0/16 oif!=docker0 iif=docker0"},
     {NULL},
     ""},
    {"masquerade replies on a notracked interface",
     P("'notrack': {'interfaces': ['eth0']}"),
     {"need=masq hooks=post saddr=172.17.0.0/16 oif!=docker0 iif=docker0"},
     {NULL},
     "$.notrack.interfaces[0] nat reply"},
    {"masquerade replies from a notracked upstream",
     P("'notrack': {'upstreams': [{'proto': 'tcp', 'ports': [443]}]}"),
     {"need=masq hooks=post saddr=172.17.0.0/16 oif!=docker0 iif=docker0"},
     {NULL},
     ""}, /* upstream replies are only those of this host's own sockets */
    {"masquerade and loopback",
     P("'notrack': {'loopback': true}"),
     {"need=masq hooks=post saddr=172.17.0.0/16 oif!=docker0 iif=docker0"},
     {NULL},
     ""},
    {"snat of local traffic to a notracked upstream",
     P("'notrack': {'upstreams': [{'proto': 'tcp', 'ports': [443]}]}"),
     {"need=snat hooks=post proto=tcp to=10.0.0.1"},
     {NULL},
     "$.notrack.upstreams[0] nat"}, /* this host's own connections, caught on output */
    {"snat, other family",
     P("'families': ['ipv6'], 'notrack': {'upstreams': [{'proto': 'tcp', 'ports': [443]}]}"),
     {"need=snat hooks=post proto=tcp to=10.0.0.1"},
     {NULL},
     ""},
    /* ct state */
    {"ct state new guards ssh",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': ['1-1024']}]}"),
     {"need=state hooks=in family=inet proto=tcp dport=22 state=new accept"},
     {NULL},
     "$.notrack.services[0] state"},
    {"ct state new kept tracked",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': ['1-1024']}]}, 'keep_tracked': [{'reason': 'state', "
       "'proto': 'tcp', 'ports': [22], 'role': 'service'}]"),
     {"need=state hooks=in family=inet proto=tcp dport=22 state=new accept"},
     {NULL},
     ""},
    {"plain ct state is what the untracked accept handles",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80]}]}"),
     {"need=state hooks=in family=inet state=established,related accept",
      "need=state hooks=in family=inet state=invalid"},
     {NULL},
     ""},
    {"established accept with a selector is not a conflict",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80]}]}"),
     {"need=state hooks=fwd oif=docker0 state=established,related accept"},
     {NULL},
     ""},
    {"ct state on output",
     P("'notrack': {'upstreams': [{'proto': 'udp', 'ports': [53]}]}"),
     {"need=state hooks=out proto=udp dport=53 state=new accept"},
     {NULL},
     "$.notrack.upstreams[0] state"},
    /* loopback: what arrives on lo was decided on output */
    {"ct state on input meets loopback on output",
     P("'notrack': {'loopback': true}"),
     {"need=state hooks=in family=inet proto=tcp dport=22 state=new accept"},
     {NULL},
     "$.notrack.loopback state"},
    {"ct state on another interface and loopback",
     P("'notrack': {'loopback': true}"),
     {"need=state hooks=in family=inet iif=eth0 proto=tcp dport=22 state=new accept"},
     {NULL},
     ""},
    {"dnat on prerouting never sees loopback",
     P("'notrack': {'loopback': true}"),
     {"need=dnat hooks=pre proto=tcp dport=8081 iif!=docker0 to=172.17.0.2 toport=80 place=remote toif=docker0"},
     {NULL},
     ""},
    {"a service's output rule and a local client",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': ['1-1024']}]}"),
     {"need=state hooks=out family=inet proto=tcp dport=22 state=new accept"},
     {NULL},
     ""},
    /* helpers, marks, zones */
    {"ftp helper",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': ['20-25']}]}"),
     {"need=helper hooks=pre proto=tcp dport=21"},
     {NULL},
     "$.notrack.services[0] conntrack"},
    {"ftp helper, ports apart",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': ['22-25']}]}"),
     {"need=helper hooks=pre proto=tcp dport=21"},
     {NULL},
     ""},
    {"ct mark restore with no selector",
     P("'notrack': {'loopback': true}"),
     {"need=mark hooks=pre"},
     {NULL},
     "$.notrack.loopback conntrack"},
    /* interface names */
    {"wildcard user, exact notrack",
     P("'notrack': {'interfaces': ['veth1']}"),
     {"need=state hooks=pre iif=veth+ proto=tcp dport=80 state=new"},
     {NULL},
     "$.notrack.interfaces[0] state"},
    {"wildcard user, other interface",
     P("'notrack': {'interfaces': ['eth0', 've+']}"),
     {"need=zone hooks=pre iif=veth+"},
     {NULL},
     "$.notrack.interfaces[1] conntrack"},
    {"negated interface excludes the only one",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80], 'interfaces': ['eth0']}]}"),
     {"need=state hooks=in iif!=eth0 proto=tcp dport=80 state=new"},
     {NULL},
     ""},
    {"negated interface and a wildcard notrack",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80], 'interfaces': ['eth+']}]}"),
     {"need=state hooks=in iif!=eth0 proto=tcp dport=80 state=new"},
     {NULL},
     "$.notrack.services[0] state"},
    {"negated wildcard covers the notracked interface",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80], 'interfaces': ['eth1']}]}"),
     {"need=state hooks=in iif!=eth+ proto=tcp dport=80 state=new"},
     {NULL},
     ""},
    {"keep_tracked by interface protects a wildcard",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80]}]}, 'keep_tracked': [{'reason': 'state', "
       "'interfaces': ['br-+']}]"),
     {"need=state hooks=in iif=br-abc+ proto=tcp dport=80 state=new"},
     {NULL},
     ""},
    /* filter chains that drop untracked packets */
    {"owner-flagged chain with auto",
     P("'notrack': {'upstreams': [{'proto': 'tcp', 'ports': [8080]}]}"),
     {NULL},
     {"table=firewalld chain=filter_INPUT policy=drop owner | accept proto=tcp dport=22"},
     "$.notrack.upstreams[0] uncovered_drop"},
    {"a service the chain drops tracked too",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [8080]}]}"),
     {NULL},
     {"table=firewalld chain=filter_INPUT policy=drop owner | accept proto=tcp dport=22"},
     ""},
    {"writable chain with auto",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [8080]}]}"),
     {NULL},
     {"table=filter chain=input policy=drop"},
     ""},
    {"none leaves a drop chain uncovered",
     P("'notrack': {'upstreams': [{'proto': 'tcp', 'ports': [8080]}]}, 'untracked_accept': 'none'"),
     {NULL},
     {"policy=drop", "hook=output chain=output"},
     "$.notrack.upstreams[0] uncovered_drop"},
    {"none, and a service's replies leave through a drop chain",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [8080]}]}, 'untracked_accept': 'none'"),
     {NULL},
     {"hook=output chain=output policy=drop"},
     "$.notrack.services[0] uncovered_drop"},
    {"a stateless accept lets the untracked packets through",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [8080]}]}, 'untracked_accept': 'none'"),
     {NULL},
     {"policy=drop | accept proto=tcp dport=8000-9000"},
     ""},
    {"a listed chain is covered, an unlisted one is not",
     P("'notrack': {'upstreams': [{'proto': 'tcp', 'ports': [8080]}]}, 'untracked_accept': [{'family': 'inet', "
       "'table': 'filter', 'chain': 'input'}]"),
     {NULL},
     {"policy=drop", "family=ip table=other chain=INPUT policy=drop"},
     "$.notrack.upstreams[0] uncovered_drop"},
    {"a drop rule for other traffic",
     P("'notrack': {'upstreams': [{'proto': 'tcp', 'ports': [8080, 23]}]}, 'untracked_accept': 'none'"),
     {NULL},
     {"| drop proto=tcp sport=23", "chain=input2 | drop proto=tcp sport=24"},
     "$.notrack.upstreams[0] uncovered_drop"},
    {"a chain of the other family",
     P("'families': ['ipv4'], 'notrack': {'services': [{'proto': 'tcp', 'ports': [8080]}]}, "
       "'untracked_accept': 'none'"),
     {NULL},
     {"family=ip6 table=filter chain=INPUT policy=drop"},
     ""},
    /* what only forwarded traffic meets */
    {"a forward chain's state rules and a services-only policy",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80, 443]}]}"),
     {"need=state hooks=fwd proto=tcp dport=80 state=new accept", "need=zone hooks=fwd proto=tcp dport=443"},
     {"hook=fwd chain=forward policy=drop"},
     ""},
    {"a forward chain and a whole interface",
     P("'notrack': {'interfaces': ['eth1']}, 'untracked_accept': 'none'"),
     {NULL},
     {"hook=fwd chain=forward policy=drop"},
     "$.notrack.interfaces[0] uncovered_drop"},
    /* an accept that needs conntrack, bypassed */
    {"ufw: a new accept our accept precedes in the same base chain",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [8080]}]}"),
     {"need=state hooks=out family=ip proto=tcp state=new accept at=0:0"},
     {"hook=out family=ip table=filter chain=OUTPUT"},
     ""},
    {"a rate-limited new accept, even behind our accept",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [22]}]}"),
     {"need=state hooks=in family=ip proto=tcp dport=22 state=new accept limited at=0:0"},
     {"family=ip table=filter chain=INPUT"},
     "$.notrack.services[0] state"},
    {"firewalld: the rest of the chain accepts what skips ct status dnat accept",
     P("'notrack': {'loopback': true, 'services': [{'proto': 'tcp', 'ports': [8080]}]}"),
     {"need=state hooks=in state=new accept at=0:0"},
     {"table=firewalld chain=filter_INPUT owner | accept iif=lo | accept proto=tcp dport=8080 | drop"},
     ""},
    {"firewalld: the rest of the chain rejects what skips it",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [8081]}]}"),
     {"need=state hooks=in proto=tcp state=new accept at=0:1"},
     {"table=firewalld chain=filter_INPUT owner | accept iif=lo | drop"},
     "$.notrack.services[0] state"},
    {"firewalld: a service port it rejects anyway, behind ct status dnat accept",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80]}]}"),
     {"need=state hooks=in accept at=0:0"},
     {"table=firewalld chain=filter_INPUT owner | accept iif=lo | accept proto=tcp dport=8080 | drop"},
     ""},
    {"firewalld: an upstream's replies reach the final reject",
     P("'notrack': {'upstreams': [{'proto': 'tcp', 'ports': [80, 443]}]}"),
     {NULL},
     {"table=firewalld chain=filter_INPUT owner | accept iif=lo | accept proto=tcp dport=8080 | drop"},
     "$.notrack.upstreams[0] uncovered_drop"},
    /* foreign notrack rules */
    {"a foreign notrack and an input policy drop",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80]}]}"),
     {NULL},
     {"table=filter chain=input policy=drop"},
     "$.untracked_accept foreign_notrack",
     {"proto=udp dport=9999"}},
    {"a foreign notrack of traffic the chain accepts anyway",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80]}]}"),
     {NULL},
     {"table=filter chain=input policy=drop | accept proto=udp dport=9000-10000"},
     "",
     {"proto=udp dport=9999"}},
    {"a foreign notrack of what the policy untracks anyway",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80, 81]}]}"),
     {NULL},
     {"table=filter chain=input policy=drop"},
     "",
     {"proto=tcp dport=80"}},
    {"a foreign notrack, kept tracked by the policy",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80, 81]}]}, 'keep_tracked': [{'reason': 'state', "
       "'proto': 'tcp', 'ports': [80], 'role': 'service'}]"),
     {NULL},
     {"table=filter chain=input policy=drop"},
     "$.untracked_accept foreign_notrack",
     {"proto=tcp dport=80"}},
    {"a foreign notrack in a chain without our accept",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80]}]}, 'untracked_accept': 'none'"),
     {NULL},
     {"table=filter chain=input policy=drop | accept proto=tcp dport=80"},
     "",
     {"proto=udp dport=9999"}},
    {"a foreign notrack on output and a drop rule",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80]}]}"),
     {NULL},
     {"table=filter chain=input policy=drop", "hook=out chain=output | drop proto=udp"},
     "$.untracked_accept foreign_notrack",
     {"hook=out legacy proto=udp dport=9999"}},
    {"a foreign notrack of forwarded traffic and a services-only policy",
     P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80]}]}"),
     {NULL},
     {"hook=fwd chain=forward policy=drop"},
     "",
     {"proto=udp dport=9999"}},
};
#pragma GCC diagnostic pop

static void json_quotes(char *s)
{
	for (; *s; s++)
		if (*s == '\'')
			*s = '"';
}

static int finding_order(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Compiles the policy, builds the reader's input from the text forms (NULL-
 * terminated lists), refines it with host addresses if given, analyses. */
static void analyse_text(const char *name, const char *policy, const char *const *users, const char *const *chains,
			 const char *const *notracks, const struct host_addr *addrs, size_t n_addrs,
			 struct lint_report *rep)
{
	struct policy_source src;
	struct ruleset rs;
	struct lint_input in = {0};
	struct diag d;
	char *text = strdup(policy), err[1024];

	assert_non_null(text);
	json_quotes(text);
	tl_source_from_string(&src, "inline.json", text);
	diag_init(&d);
	if (tl_compile_source(&src, NULL, &rs, &d) < 0) {
		tl_format_error(&d, err, sizeof(err));
		fail_msg("%s: policy does not compile: %s", name, err);
	}
	parse_users(&in, users);
	for (size_t i = 0; chains && i < MAX_ITEMS && chains[i]; i++)
		parse_chain(&in, chains[i]);
	for (size_t i = 0; notracks && i < MAX_ITEMS && notracks[i]; i++)
		parse_notrack(&in, notracks[i]);
	if (addrs)
		lint_input_apply_host(&in, addrs, n_addrs);
	assert_int_equal(lint_analyse(&rs, &in, rep), 0);
	lint_input_free(&in);
	ruleset_free(&rs);
	diag_free(&d);
	policy_source_free(&src);
	free(text);
}

static void run_case(void **state)
{
	const struct lint_case *c = *state;
	struct lint_report rep;
	char got[2048] = "", *lines[64];

	analyse_text(c->name, c->policy, c->users, c->chains, c->notracks, NULL, 0, &rep);
	assert_true(rep.n < 64);
	for (size_t i = 0; i < rep.n; i++) {
		assert_true(asprintf(&lines[i], "%s %s%s", rep.v[i].origin, lint_kind_name(rep.v[i].kind),
				     rep.v[i].reply ? " reply" : "") > 0);
		/* every message names the policy entry and the foreign chain */
		assert_non_null(strstr(rep.v[i].msg, rep.v[i].origin));
		assert_non_null(strstr(rep.v[i].msg, rep.v[i].chain));
	}
	qsort(lines, rep.n, sizeof(lines[0]), finding_order);
	for (size_t i = 0; i < rep.n; i++) {
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? "; " : "", lines[i]);
		free(lines[i]);
	}
	if (strcmp(got, c->want)) {
		for (size_t i = 0; i < rep.n; i++)
			print_message("  %s\n", rep.v[i].msg);
		fail_msg("%s: findings '%s', want '%s'", c->name, got, c->want);
	}
	lint_report_free(&rep);
}

static void assert_same_report(const char *name, const struct lint_report *a, const struct lint_report *b)
{
	if (a->n != b->n)
		fail_msg("%s: %zu findings split, %zu sealed", name, a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct lint_finding *x = &a->v[i], *y = &b->v[i];
		assert_int_equal(x->kind, y->kind);
		assert_int_equal(x->reply, y->reply);
		assert_string_equal(x->origin, y->origin);
		assert_string_equal(x->family, y->family);
		assert_string_equal(x->table, y->table);
		assert_string_equal(x->chain, y->chain);
		assert_string_equal(x->rule, y->rule);
		assert_string_equal(x->msg, y->msg);
		assert_string_equal(x->exposure, y->exposure);
	}
	assert_int_equal(a->n_notes, b->n_notes);
	for (size_t i = 0; i < a->n_notes; i++)
		assert_string_equal(a->notes[i], b->notes[i]);
}

/* Every case of the table with its users met from every hook: sealed (a
 * rule met from five hooks is one user, met five times) or not, the same
 * report, in the same order, word for word. */
static void run_case_sealed(void **state)
{
	const struct lint_case *c = *state;
	struct lint_report split, sealed;

	users_mode = USERS_SPLIT;
	analyse_text(c->name, c->policy, c->users, c->chains, c->notracks, NULL, 0, &split);
	users_mode = USERS_SEALED;
	analyse_text(c->name, c->policy, c->users, c->chains, c->notracks, NULL, 0, &sealed);
	users_mode = USERS_AS_IS;
	assert_same_report(c->name, &split, &sealed);
	lint_report_free(&split);
	lint_report_free(&sealed);
}

/* What seals into one user and what does not. */
static void test_seal(void **state)
{
	struct lint_input in = {0};
	const char *dnat = "need=dnat proto=tcp dport=8081 to=172.17.0.2 toport=80";
	struct ct_user *u;

	(void)state;
	/* the same DNAT from prerouting, then output: one user, met twice */
	u = parse_user_in(&in, dnat, 1);
	u->hooks = LINT_HOOK_PREROUTING;
	assert_int_equal(lint_input_seal_user(&in), 0);
	/* another port: a user of its own */
	u = parse_user_in(&in, "need=dnat proto=tcp dport=8082 to=172.17.0.2 toport=80", 1);
	u->hooks = LINT_HOOK_PREROUTING;
	assert_int_equal(lint_input_seal_user(&in), 0);
	u = parse_user_in(&in, dnat, 1);
	u->hooks = LINT_HOOK_OUTPUT;
	assert_int_equal(lint_input_seal_user(&in), 0);
	assert_int_equal(in.n_users, 2);
	assert_int_equal(in.n_meets, 3);
	assert_int_equal(in.users[0].hooks, LINT_HOOK_PREROUTING | LINT_HOOK_OUTPUT);
	assert_int_equal(in.meets[0].user, 0);
	assert_int_equal(in.meets[0].hooks, LINT_HOOK_PREROUTING);
	assert_int_equal(in.meets[2].user, 0);
	assert_int_equal(in.meets[2].hooks, LINT_HOOK_OUTPUT);
	/* the same rule by another path (an interface on the way): apart */
	u = parse_user_in(&in, dnat, 1);
	u->hooks = LINT_HOOK_OUTPUT;
	assert_int_equal(lint_sel_add_if(&u->sel, false, "eth0", false, false), 0);
	assert_int_equal(lint_input_seal_user(&in), 0);
	assert_int_equal(in.n_users, 3);
	/* a packet-mark gate is the nft reader's to rewrite: never merged */
	for (int i = 0; i < 2; i++) {
		u = parse_user_in(&in, dnat, 2);
		u->hooks = i ? LINT_HOOK_OUTPUT : LINT_HOOK_PREROUTING;
		u->mark_gate = 0x2000;
		assert_int_equal(lint_input_seal_user(&in), 0);
	}
	assert_int_equal(in.n_users, 5);
	/* sealing twice, or a user not just added, changes nothing */
	assert_int_equal(lint_input_seal_user(&in), 0);
	assert_int_equal(in.n_users, 5);
	/* dropping the last user takes its meeting */
	lint_input_drop_last_user(&in);
	assert_int_equal(in.n_users, 4);
	assert_int_equal(in.n_meets, 5);
	for (size_t i = 0; i < in.n_meets; i++)
		assert_true(in.meets[i].user < in.n_users);
	/* a copy never sealed: its one meeting goes, the merged ones stay */
	parse_user_in(&in, dnat, 3);
	assert_int_equal(in.n_meets, 6);
	lint_input_drop_last_user(&in);
	assert_int_equal(in.n_users, 4);
	assert_int_equal(in.n_meets, 5);
	assert_int_equal(in.meets[2].user, 0);
	assert_int_equal(in.meets[2].hooks, LINT_HOOK_OUTPUT);
	/* and the index still merges */
	u = parse_user_in(&in, dnat, 1);
	u->hooks = LINT_HOOK_INPUT;
	assert_int_equal(lint_input_seal_user(&in), 0);
	assert_int_equal(in.n_users, 4);
	assert_int_equal(in.users[0].hooks, LINT_HOOK_PREROUTING | LINT_HOOK_OUTPUT | LINT_HOOK_INPUT);
	lint_input_free(&in);
}

/* ------------------------------------------------------------------ */
/* the algebra underneath                                               */

static char *ports_text(const char *spec, bool neg)
{
	struct lint_ranges r = {0};
	struct strbuf sb;

	strbuf_init(&sb);
	parse_ports(spec, neg, &r);
	lint_ranges_format(&r, LINT_PORT_WIDTH, &sb);
	lint_ranges_free(&r);
	return strbuf_take(&sb);
}

static void test_ranges(void **state)
{
	struct lint_ranges a = {0}, b = {0};
	char *t;

	(void)state;
	/* merged, sorted, adjacent ranges joined */
	t = ports_text("443,80,81-90,91", false);
	assert_string_equal(t, "{ 80-91, 443 }");
	free(t);
	t = ports_text("22", true);
	assert_string_equal(t, "!= 22");
	free(t);
	t = ports_text("0-65535", true);
	assert_string_equal(t, "{ }");
	free(t);
	parse_ports("1000-2000,3000-4000", false, &a);
	parse_ports("1500-3500", false, &b);
	assert_int_equal(lint_ranges_and(&a, &b, LINT_PORT_WIDTH), 0);
	assert_int_equal(a.n, 2);
	assert_true(lint_ranges_subset(&a, &b, LINT_PORT_WIDTH));
	assert_false(lint_ranges_subset(&b, &a, LINT_PORT_WIDTH));
	lint_ranges_free(&a);
	lint_ranges_free(&b);
	/* complement twice is the identity, at both ends of the space */
	parse_ports("0-10,65530-65535", false, &a);
	parse_ports("0-10,65530-65535", true, &b);
	assert_int_equal(lint_ranges_not(&b, LINT_PORT_WIDTH), 0);
	assert_true(lint_ranges_subset(&a, &b, LINT_PORT_WIDTH) && lint_ranges_subset(&b, &a, LINT_PORT_WIDTH));
	lint_ranges_free(&a);
	lint_ranges_free(&b);
	/* addresses print as prefixes where aligned */
	struct strbuf sb;
	strbuf_init(&sb);
	parse_addrs("10.0.0.0/8,192.168.1.7", false, &a);
	lint_ranges_format(&a, LINT_V4_WIDTH, &sb);
	assert_string_equal(sb.data, "{ 10.0.0.0/8, 192.168.1.7 }");
	strbuf_reset(&sb);
	parse_addrs("127.0.0.0/8", true, &b);
	lint_ranges_format(&b, LINT_V4_WIDTH, &sb);
	assert_string_equal(sb.data, "!= 127.0.0.0/8");
	strbuf_free(&sb);
	lint_ranges_free(&a);
	lint_ranges_free(&b);
}

static bool sat(const char *spec)
{
	struct lint_sel s;
	char buf[256];
	bool r;

	lint_sel_init(&s, FAMILY_BOTH);
	snprintf(buf, sizeof(buf), "%s", spec);
	parse_sel_tokens(&s, buf);
	r = lint_ifs_satisfiable(s.iif);
	lint_sel_free(&s);
	return r;
}

static void test_interfaces(void **state)
{
	(void)state;
	assert_true(sat("iif=eth0"));
	assert_false(sat("iif=eth0 iif=eth1"));
	assert_true(sat("iif=eth0 iif=eth+"));
	assert_false(sat("iif=eth0 iif!=eth+"));
	assert_true(sat("iif=eth+ iif!=eth0"));
	assert_false(sat("iif=eth1+ iif!=eth+"));
	assert_true(sat("iif=eth+ iif!=eth1+"));
	assert_false(sat("iif=eth+ iif=wlan+"));
	assert_true(sat("iif=br-+ iif=br-1+"));
	assert_true(sat("iif!=docker0 iif!=lo"));
}

/* Interface lists are interned: equal lists are one copy whoever built
 * them, a conjunction that adds nothing keeps it, the pool grows past its
 * first table, and more than LINT_IF_MAX constraints are dropped (wider). */
static void test_interned_ifs(void **state)
{
	const struct lint_ifs *first[300];
	struct lint_sel a, b;
	char name[LINT_IFNAME_MAX];

	(void)state;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 300; i++) {
			lint_sel_init(&a, FAMILY_BOTH);
			snprintf(name, sizeof(name), "veth%d", i);
			assert_int_equal(lint_sel_add_if(&a, true, name, false, false), 0);
			assert_int_equal(lint_sel_add_if(&a, true, "lo", false, true), 0);
			assert_non_null(a.iif);
			assert_int_equal(a.iif->n, 2);
			assert_string_equal(a.iif->v[0].name, name);
			if (round == 0)
				first[i] = a.iif;
			else
				assert_ptr_equal(a.iif, first[i]);
			lint_sel_free(&a);
		}
	}
	lint_sel_init(&a, FAMILY_BOTH);
	lint_sel_init(&b, FAMILY_BOTH);
	assert_int_equal(lint_sel_add_if(&a, true, "veth7", false, false), 0);
	assert_int_equal(lint_sel_add_if(&b, true, "lo", false, true), 0);
	assert_int_equal(lint_sel_and(&b, &a), 0);
	assert_int_equal(b.iif->n, 2); /* lo first: another list than veth7's */
	assert_string_equal(b.iif->v[0].name, "lo");
	const struct lint_ifs *veth7 = a.iif;
	assert_int_equal(lint_sel_and(&a, &a), 0);
	assert_ptr_equal(a.iif, veth7);
	assert_int_equal(a.iif->n, 1);
	assert_null(a.oif);
	/* veth7 and then not lo, by a conjunction: the list made above */
	struct lint_sel c;
	lint_sel_init(&c, FAMILY_BOTH);
	assert_int_equal(lint_sel_add_if(&c, true, "lo", false, true), 0);
	assert_int_equal(lint_sel_and(&a, &c), 0);
	assert_ptr_equal(a.iif, first[7]);
	lint_sel_free(&c);
	for (int i = 0; i < LINT_IF_MAX + 2; i++) {
		snprintf(name, sizeof(name), "x%d", i);
		assert_int_equal(lint_sel_add_if(&a, false, name, true, true), 0);
	}
	assert_int_equal(a.oif->n, LINT_IF_MAX);
	assert_string_equal(a.oif->v[LINT_IF_MAX - 1].name, "x5");
	assert_true(lint_sel_covers(&b, &b, LINT_DIR_IIF | LINT_DIR_OIF));
	lint_sel_free(&a);
	lint_sel_free(&b);
}

/* A rule of packets to this host (fib daddr type local, --dst-type LOCAL)
 * does not cover traffic that may go elsewhere: an accept of that kind must
 * not hide a drop of forwarded packets. */
static void test_covers_to_host(void **state)
{
	struct lint_sel local, any;

	(void)state;
	lint_sel_init(&local, FAMILY_BOTH);
	lint_sel_init(&any, FAMILY_BOTH);
	local.to_host = true;
	assert_false(lint_sel_covers(&local, &any, LINT_DIR_IIF | LINT_DIR_OIF));
	assert_true(lint_sel_covers(&any, &local, LINT_DIR_IIF | LINT_DIR_OIF));
	any.to_host = true;
	assert_true(lint_sel_covers(&local, &any, LINT_DIR_IIF | LINT_DIR_OIF));
	lint_sel_free(&local);
	lint_sel_free(&any);
}

static void test_format(void **state)
{
	struct lint_sel s;
	struct strbuf sb;
	char spec[] = "iif!=docker0 proto=tcp dport=8081 saddr=172.17.0.0/16";

	(void)state;
	lint_sel_init(&s, FAMILY_BOTH);
	parse_sel_tokens(&s, spec);
	strbuf_init(&sb);
	lint_sel_format(&s, &sb);
	assert_string_equal(sb.data, "iifname != \"docker0\" ip saddr 172.17.0.0/16 tcp dport 8081");
	strbuf_free(&sb);
	lint_sel_free(&s);
}

/* Docker's subnet on docker0: masquerade sources arrive there, and the DNAT
 * target is remote, behind docker0; a DNAT to this host's address is local. */
static void test_host(void **state)
{
	struct lint_input in = {0};
	struct host_addr addrs[3] = {
	    {.ifname = "lo", .family = FAMILY_IPV4, .addr = {127, 0, 0, 1}, .prefix = 8},
	    {.ifname = "docker0", .family = FAMILY_IPV4, .addr = {172, 17, 0, 1}, .prefix = 16},
	    {.ifname = "eth0", .family = FAMILY_IPV4, .addr = {192, 0, 2, 10}, .prefix = 24},
	};

	(void)state;
	parse_user(&in, "need=masq hooks=post saddr=172.17.0.0/16 oif!=docker0");
	parse_user(&in, "need=dnat hooks=pre proto=tcp dport=8081 to=172.17.0.2 toport=80");
	parse_user(&in, "need=dnat hooks=pre proto=tcp dport=8082 to=192.0.2.10 toport=80");
	parse_user(&in, "need=dnat hooks=pre proto=tcp dport=8083 to=198.51.100.1");
	parse_user(&in, "need=masq hooks=post saddr=10.0.0.0/8");
	lint_input_apply_host(&in, addrs, 3);
	assert_non_null(in.users[0].sel.iif);
	assert_int_equal(in.users[0].sel.iif->n, 1);
	assert_string_equal(in.users[0].sel.iif->v[0].name, "docker0");
	assert_false(in.users[0].sel.iif->v[0].neg);
	assert_int_equal(in.users[1].to_place, LINT_PLACE_REMOTE);
	assert_non_null(in.users[1].to_if);
	assert_string_equal(in.users[1].to_if->v[0].name, "docker0");
	assert_int_equal(in.users[2].to_place, LINT_PLACE_LOCAL);
	assert_int_equal(in.users[3].to_place, LINT_PLACE_REMOTE);
	assert_null(in.users[3].to_if);
	assert_null(in.users[4].sel.iif);
	lint_input_free(&in);
}

static size_t count_findings(const char *policy, const char *user, const struct host_addr *addrs, size_t n)
{
	const char *users[] = {user, NULL};
	struct lint_report rep;
	size_t found;

	analyse_text("count", policy, users, NULL, NULL, addrs, n, &rep);
	found = rep.n;
	lint_report_free(&rep);
	return found;
}

/* A service takes only what is addressed to this host, never forwarded
 * traffic, so a masquerade of forwarded traffic does not meet it, with or
 * without the host's addresses; a whole interface does. */
static void test_forwarded(void **state)
{
	const char *policy =
	    P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80], 'addresses': ['192.0.2.10']}]}");
	const char *masq = "need=masq hooks=post saddr=172.17.0.0/16 oif!=docker0";
	const struct host_addr addrs[] = {
	    {.ifname = "docker0", .family = FAMILY_IPV4, .addr = {172, 17, 0, 1}, .prefix = 16},
	    {.ifname = "eth0", .family = FAMILY_IPV4, .addr = {192, 0, 2, 10}, .prefix = 24},
	};

	(void)state;
	assert_int_equal(count_findings(policy, masq, NULL, 0), 0);
	assert_int_equal(count_findings(policy, masq, addrs, 2), 0);
	/* a whole interface takes forwarded traffic too */
	assert_int_equal(count_findings(P("'notrack': {'interfaces': ['docker0']}"), masq, addrs, 2), 1);
	/* a DNAT on prerouting is about packets to this host: still caught */
	assert_int_equal(
	    count_findings(policy, "need=dnat hooks=pre proto=tcp dport=80 to=172.17.0.2 place=remote", addrs, 2), 1);
}

/* A policy against some users (NULL-terminated) on a Docker host with a LAN
 * on eth1 gives that many findings and, unless notes < 0, that many notes. */
static void expect(const char *policy, const char *const *users, size_t findings, int notes);

static const struct host_addr docker_host[] = {
    {.ifname = "lo", .family = FAMILY_IPV4, .addr = {127, 0, 0, 1}, .prefix = 8},
    {.ifname = "docker0", .family = FAMILY_IPV4, .addr = {172, 17, 0, 1}, .prefix = 16},
    {.ifname = "eth0", .family = FAMILY_IPV4, .addr = {192, 0, 2, 10}, .prefix = 24},
    {.ifname = "eth1", .family = FAMILY_IPV4, .addr = {192, 168, 1, 1}, .prefix = 24},
};

static void expect(const char *policy, const char *const *users, size_t findings, int notes)
{
	struct lint_report rep;

	analyse_text("expect", policy, users, NULL, NULL, docker_host, 4, &rep);
	assert_int_equal(rep.n, findings);
	if (notes >= 0)
		assert_int_equal(rep.n_notes, (size_t)notes);
	lint_report_free(&rep);
}

/* Docker's and Incus' hairpin masquerade (-s X -d X) matches the port after
 * DNAT: a LAN interface never meets it, docker0 meets its replies. */
static void test_hairpin(void **state)
{
	const char *users[] = {"need=masq hooks=post saddr=172.17.0.2 daddr=172.17.0.2 proto=tcp dport=80", NULL};

	(void)state;
	expect(P("'notrack': {'interfaces': ['eth1']}"), users, 0, -1);
	/* a service on tcp 80 of this host: the packet had port 8080 then */
	expect(P("'notrack': {'services': [{'proto': 'tcp', 'ports': [80]}]}"), users, 0, -1);
	expect(P("'notrack': {'interfaces': ['docker0']}"), users, 1, -1);
}

/* A client port a masquerade keeps is a note unless the rule names it. */
static void test_kept_port_note(void **state)
{
	const char *plain[] = {"need=masq hooks=post saddr=172.17.0.0/16 oif!=docker0", NULL};
	const char *named[] = {"need=masq hooks=post saddr=172.17.0.0/16 oif!=docker0 proto=udp sport=123", NULL};
	const char *ntp = P("'notrack': {'services': [{'proto': 'udp', 'ports': [123], 'interfaces': ['eth0']}]}");

	(void)state;
	expect(ntp, plain, 0, 1);
	expect(ntp, named, 1, -1);
}

/* wg-quick's full-tunnel client: a ct mark save gated by the socket's mark
 * and the restore never meet lo; elsewhere they are notes.  A restore with
 * no writer in the ruleset, or a writer not gated, is checked as before. */
static void test_socket_mark(void **state)
{
	const char *wg[] = {"need=mark hooks=pre proto=udp", "need=mark hooks=post proto=udp pktmark ctwrite widened",
			    NULL};
	const char *ungated[] = {"need=mark hooks=pre proto=udp", "need=mark hooks=post proto=udp ctwrite", NULL};
	const char *lo = P("'notrack': {'loopback': true}");
	const char *upstream = P("'notrack': {'upstreams': [{'proto': 'udp', 'ports': [51820]}]}");

	(void)state;
	expect(lo, wg, 0, 0);
	expect(upstream, wg, 0, 2);
	expect(lo, ungated, 2, -1);
	expect(lo, (const char *[]){"need=mark hooks=pre proto=udp", NULL}, 1, -1);
}

/* A DNAT on output for this host's own address sees only packets through
 * lo: an interface entry for eth1 never meets it, loopback does. */
static void test_own_address_output(void **state)
{
	const char *users[] = {"need=dnat hooks=out daddr=192.0.2.10 proto=tcp dport=8080 to=172.17.0.2 toport=80",
			       NULL};

	(void)state;
	expect(P("'notrack': {'interfaces': ['eth1']}"), users, 0, -1);
	expect(P("'notrack': {'loopback': true}"), users, 1, -1);
}

/* A DNAT behind --dst-type LOCAL takes only what is addressed to this host:
 * untracking what eth0 forwards, with this host's addresses kept tracked,
 * meets it no more. */
static void test_dnat_to_host(void **state)
{
	const char *fwd = P("'notrack': {'interfaces': ['eth0']}, 'keep_tracked': [{'reason': 'nat', "
			    "'interfaces': ['eth0'], 'addresses': ['127.0.0.0/8', '172.17.0.1/32', '192.0.2.10/32', "
			    "'192.168.1.1/32']}]");

	(void)state;
	expect(fwd, (const char *[]){"need=dnat hooks=pre,out proto=tcp dport=8080 to=172.17.0.2 toport=80", NULL}, 1,
	       -1);
	expect(fwd,
	       (const char *[]){"need=dnat hooks=pre,out proto=tcp dport=8080 tohost to=172.17.0.2 toport=80", NULL}, 0,
	       -1);
	/* still met where it is addressed to this host */
	expect(P("'notrack': {'interfaces': ['eth0']}"),
	       (const char *[]){"need=dnat hooks=pre proto=tcp dport=8080 tohost to=172.17.0.2 toport=80", NULL}, 1,
	       -1);
}

/* A services policy with tcp PORTS against Docker's DNAT of 8081 (rep: the findings). */
static void lint_docker_dnat(const char *ports, struct lint_report *rep)
{
	struct policy_source src;
	struct ruleset rs;
	struct lint_input in = {0};
	struct diag d;
	char text[160];

	snprintf(text, sizeof(text),
		 "{\"version\": 1, \"notrack\": {\"services\": [{\"proto\": \"tcp\", \"ports\": [%s]}]}}", ports);
	tl_source_from_string(&src, "inline.json", text);
	diag_init(&d);
	assert_int_equal(tl_compile_source(&src, NULL, &rs, &d), 0);
	parse_user(&in, "need=dnat hooks=pre proto=tcp dport=8081 iif!=docker0 to=172.17.0.2 toport=80");
	assert_int_equal(lint_user_set_text(&in.users[0], "nat", "DOCKER",
					    "iifname != \"docker0\" tcp dport 8081 dnat to 172.17.0.2:80"),
			 0);
	assert_int_equal(lint_analyse(&rs, &in, rep), 0);
	lint_input_free(&in);
	ruleset_free(&rs);
	diag_free(&d);
	policy_source_free(&src);
}

/* A suggestion that would keep all of the entry tracked is not offered
 * (compile refuses such a policy: "service can never match"). */
static void test_suggestion_never_empties(void **state)
{
	struct lint_report rep;

	(void)state;
	lint_docker_dnat("8081", &rep);
	assert_int_equal(rep.n, 1);
	assert_null(strstr(rep.v[0].msg, "such as"));
	assert_non_null(strstr(rep.v[0].msg, "or narrow the service."));
	lint_report_free(&rep);
}

/* Address sets as CIDR prefixes a policy accepts (never "a-b" ranges). */
static void test_ranges_prefixes(void **state)
{
	static const uint8_t lo[4] = {0, 0, 0, 0}, hi[4] = {126, 255, 255, 255}, one[4] = {172, 17, 0, 2};
	struct lint_range r[2];
	struct lint_ranges set = {0};
	_cleanup_strbuf_ struct strbuf out = {0};

	(void)state;
	memset(r, 0, sizeof(r));
	memcpy(r[0].lo, lo, 4);
	memcpy(r[0].hi, hi, 4);
	lint_range_prefix(&r[1], one, 32, LINT_V4_WIDTH);
	assert_int_equal(lint_ranges_set(&set, r, 2, LINT_V4_WIDTH), 0);
	strbuf_init(&out);
	assert_int_equal(lint_ranges_prefixes(&set, LINT_V4_WIDTH, 8, &out), 8);
	assert_string_equal(out.data, "\"0.0.0.0/2\", \"64.0.0.0/3\", \"96.0.0.0/4\", \"112.0.0.0/5\", "
				      "\"120.0.0.0/6\", \"124.0.0.0/7\", \"126.0.0.0/8\", \"172.17.0.2/32\"");
	strbuf_reset(&out);
	assert_int_equal(lint_ranges_prefixes(&set, LINT_V4_WIDTH, 4, &out), -E2BIG);
	lint_ranges_free(&set);
}

/* The message says what, where, why and how to fix it. */
static void test_message(void **state)
{
	struct lint_report rep;

	(void)state;
	lint_docker_dnat("80, 8081", &rep);
	assert_int_equal(rep.n, 1);
	assert_string_equal(
	    rep.v[0].msg,
	    "$.notrack.services[0] (prerouting: tcp dport { 80, 8081 }) would catch the DNAT in ip nat DOCKER "
	    "(iifname != \"docker0\" tcp dport 8081 dnat to 172.17.0.2:80): NAT would break for that "
	    "traffic. Add a keep_tracked entry such as {\"reason\": \"nat\", \"proto\": \"tcp\", "
	    "\"ports\": [8081], \"role\": \"service\"}, or narrow the service.");
	lint_report_free(&rep);
}

int main(void)
{
	struct CMUnitTest tests[2 * (sizeof(cases) / sizeof(cases[0])) + 16];
	char sealed_names[sizeof(cases) / sizeof(cases[0])][96];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		tests[n++] = (struct CMUnitTest){
		    .name = cases[i].name, .test_func = run_case, .initial_state = (void *)&cases[i]};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(sealed_names[i], sizeof(sealed_names[i]), "%s (met from every hook, sealed)", cases[i].name);
		tests[n++] = (struct CMUnitTest){
		    .name = sealed_names[i], .test_func = run_case_sealed, .initial_state = (void *)&cases[i]};
	}
	tests[n++] = (struct CMUnitTest){.name = "sealing users", .test_func = test_seal};
	tests[n++] = (struct CMUnitTest){.name = "ranges", .test_func = test_ranges};
	tests[n++] = (struct CMUnitTest){.name = "interfaces", .test_func = test_interfaces};
	tests[n++] = (struct CMUnitTest){.name = "interned_ifs", .test_func = test_interned_ifs};
	tests[n++] = (struct CMUnitTest){.name = "covers_to_host", .test_func = test_covers_to_host};
	tests[n++] = (struct CMUnitTest){.name = "format", .test_func = test_format};
	tests[n++] = (struct CMUnitTest){.name = "host addresses", .test_func = test_host};
	tests[n++] = (struct CMUnitTest){.name = "forwarded traffic", .test_func = test_forwarded};
	tests[n++] = (struct CMUnitTest){.name = "message", .test_func = test_message};
	tests[n++] =
	    (struct CMUnitTest){.name = "suggestion never empties", .test_func = test_suggestion_never_empties};
	tests[n++] = (struct CMUnitTest){.name = "ranges as prefixes", .test_func = test_ranges_prefixes};
	tests[n++] = (struct CMUnitTest){.name = "hairpin masquerade", .test_func = test_hairpin};
	tests[n++] = (struct CMUnitTest){.name = "kept client port: a note", .test_func = test_kept_port_note};
	tests[n++] = (struct CMUnitTest){.name = "socket-marked ct mark", .test_func = test_socket_mark};
	tests[n++] = (struct CMUnitTest){.name = "own address on output", .test_func = test_own_address_output};
	tests[n++] = (struct CMUnitTest){.name = "DNAT for this host's addresses", .test_func = test_dnat_to_host};
	return _cmocka_run_group_tests("lint", tests, n, NULL, NULL);
}
