/*
 * IR → iptables-restore --noflush text.  iptables has no sets without ipset,
 * so ports go into multiport lists of at most 15 slots and each address gets a
 * rule of its own.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "emit.h"

void iptables_chain_name_for(const char *table, enum hook h, char *buf, size_t size)
{
	size_t n = 0;

	for (const char *c = table; *c && n + 1 < size; c++)
		buf[n++] = (char)toupper((unsigned char)*c);
	buf[n] = '\0';
	snprintf(buf + n, size - n, "%s", h == HOOK_PREROUTING ? "-PRE" : "-OUT");
}

void iptables_chain_name(const struct ruleset *rs, enum hook h, char *buf, size_t size)
{
	iptables_chain_name_for(rs->table, h, buf, size);
}

/* Returns how many ranges from `start` fit into one multiport match. */
static size_t multiport_chunk(const struct port_set *s, size_t start)
{
	size_t slots = 0, i = start;

	while (i < s->n) {
		size_t need = s->ranges[i].first == s->ranges[i].last ? 1 : 2;
		if (slots + need > MULTIPORT_MAX_SLOTS)
			break;
		slots += need;
		i++;
	}
	return i - start;
}

size_t iptables_port_lists(const struct port_set *s)
{
	size_t lists = 0;

	for (size_t start = 0; start < s->n; start += multiport_chunk(s, start))
		lists++;
	return lists;
}

int iptables_for_each_variant(const struct ruleset *rs, const struct rule *r, iptables_variant_fn fn, void *ctx)
{
	const struct addr_set *peers = r->peer_set >= 0 ? &rs->addr_sets[r->peer_set] : NULL;
	const struct addr_set *locals = r->local_set >= 0 ? &rs->addr_sets[r->local_set] : NULL;
	const struct port_set *ps = r->port_set >= 0 ? &rs->port_sets[r->port_set] : NULL;
	size_t np = peers ? peers->n : 1, nl = locals ? locals->n : 1;
	int ret = 0;

	for (size_t pi = 0; ret == 0 && pi < np; pi++) {
		for (size_t li = 0; ret == 0 && li < nl; li++) {
			struct iptables_variant v = {
			    .rule = r,
			    .peer = peers ? &peers->cidrs[pi] : NULL,
			    .local = locals ? &locals->cidrs[li] : NULL,
			    .ports = ps,
			};
			if (!ps) {
				ret = fn(rs, &v, ctx);
				continue;
			}
			for (v.pstart = 0; ret == 0 && v.pstart < ps->n; v.pstart += v.pcount) {
				v.pcount = multiport_chunk(ps, v.pstart);
				ret = fn(rs, &v, ctx);
			}
		}
	}
	return ret;
}

void iptables_variant_text(const struct ruleset *rs, const struct iptables_variant *v, const char *chain,
			   struct strbuf *out)
{
	const struct rule *r = v->rule;
	char buf[64], comment[128];
	bool in = r->hook == HOOK_PREROUTING;

	strbuf_printf(out, "-A %s", chain);
	if (r->has_ifname)
		strbuf_printf(out, " %s %s%s", in ? "-i" : "-o", r->ifname.name, r->ifname.wildcard ? "+" : "");
	if (v->peer) {
		cidr_format(v->peer, buf, sizeof(buf));
		strbuf_printf(out, " %s %s", r->peer_field == FIELD_SOURCE ? "-s" : "-d", buf);
	}
	if (v->local) {
		cidr_format(v->local, buf, sizeof(buf));
		strbuf_printf(out, " %s %s", r->local_field == FIELD_SOURCE ? "-s" : "-d", buf);
	}
	if (r->proto)
		strbuf_printf(out, " -p %s", proto_name(r->proto));
	if (v->ports) {
		strbuf_printf(out, " -m multiport --%s ", r->port_field == FIELD_SOURCE ? "sports" : "dports");
		for (size_t i = v->pstart; i < v->pstart + v->pcount; i++) {
			const struct port_range *p = &v->ports->ranges[i];
			if (p->first == p->last)
				strbuf_printf(out, "%s%u", i == v->pstart ? "" : ",", p->first);
			else
				strbuf_printf(out, "%s%u:%u", i == v->pstart ? "" : ",", p->first, p->last);
		}
	}
	rule_comment(rs, r, comment, sizeof(comment));
	strbuf_printf(out, " -m comment --comment \"%s\" -j %s", comment,
		      r->verdict == VERDICT_NOTRACK ? "CT --notrack" : "RETURN");
}

struct text_ctx {
	struct strbuf *out;
	const char *chain;
};

static int put_variant(const struct ruleset *rs, const struct iptables_variant *v, void *ctx)
{
	struct text_ctx *t = ctx;

	iptables_variant_text(rs, v, t->chain, t->out);
	strbuf_putc(t->out, '\n');
	/* a full buffer stays full: no point formatting the rest */
	return t->out->oom ? -ENOMEM : 0;
}

static bool chain_in_family(enum chain_family cf, unsigned family)
{
	return cf == CHAIN_FAMILY_INET || (cf == CHAIN_FAMILY_IP) == (family == FAMILY_IPV4);
}

int emit_iptables_text(const struct ruleset *rs, unsigned family, struct strbuf *out)
{
	static const char *const builtin[] = {"PREROUTING", "OUTPUT"};
	const char *tool = family == FAMILY_IPV4 ? "iptables" : "ip6tables";
	char chains[2][RULESET_NAME_MAX + 8];

	if (family != FAMILY_IPV4 && family != FAMILY_IPV6)
		return -EINVAL;
	strbuf_printf(out, "# notrackctl: %s-restore --noflush input (%s)\n", tool,
		      family == FAMILY_IPV4 ? "IPv4" : "IPv6");
	if (!(rs->families & family)) {
		strbuf_printf(out, "# the policy's families exclude %s: nothing to load\n", family_name(family));
		return out->oom ? -ENOMEM : 0;
	}
	strbuf_puts(out, "*raw\n");
	for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++) {
		iptables_chain_name(rs, h, chains[h], sizeof(chains[h]));
		strbuf_printf(out, ":%s - [0:0]\n", chains[h]);
	}
	for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++) {
		for (size_t i = 0; i < rs->n_rules; i++) {
			const struct rule *r = &rs->rules[i];
			struct text_ctx t = {.out = out, .chain = chains[h]};
			if (r->hook == h && (r->family & family))
				iptables_for_each_variant(rs, r, put_variant, &t);
		}
	}
	for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++)
		strbuf_printf(out, "-I %s 1 -m comment --comment \"%s\" -j %s\n", builtin[h], rs->table, chains[h]);
	strbuf_puts(out, "COMMIT\n");

	switch (rs->accept_mode) {
	case UNTRACKED_ACCEPT_AUTO:
		strbuf_puts(out, "*filter\n");
		for (size_t i = 0; i < 3; i++)
			strbuf_printf(
			    out, "-I %s 1 -m conntrack --ctstate UNTRACKED -m comment --comment \"%s\" -j ACCEPT\n",
			    (const char *[]){"INPUT", "FORWARD", "OUTPUT"}[i], rs->table);
		strbuf_puts(out, "COMMIT\n");
		break;
	case UNTRACKED_ACCEPT_NONE:
		strbuf_puts(out, "# untracked_accept \"none\": no accept rule is inserted\n");
		break;
	case UNTRACKED_ACCEPT_LIST:
		/* one block per table, in the order the policy names them */
		for (size_t i = 0; i < rs->n_accept_chains; i++) {
			const struct chain_ref *c = &rs->accept_chains[i];
			bool seen = false;
			if (!chain_in_family(c->family, family))
				continue;
			for (size_t j = 0; j < i; j++)
				seen |= chain_in_family(rs->accept_chains[j].family, family) &&
					!strcmp(rs->accept_chains[j].table, c->table);
			if (seen)
				continue;
			strbuf_printf(out, "*%s\n", c->table);
			for (size_t j = i; j < rs->n_accept_chains; j++) {
				const struct chain_ref *cj = &rs->accept_chains[j];
				if (chain_in_family(cj->family, family) && !strcmp(cj->table, c->table))
					strbuf_printf(
					    out,
					    "-I %s 1 -m conntrack --ctstate UNTRACKED -m comment --comment \"%s\" "
					    "-j ACCEPT\n",
					    cj->chain, rs->table);
			}
			strbuf_puts(out, "COMMIT\n");
		}
		break;
	}
	return out->oom ? -ENOMEM : 0;
}
