/* IR → nft syntax. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "emit/emit.h"

static const char *l4_name(unsigned char proto)
{
	return proto_name(proto);
}

/* A port or range, in hex for the raw payload key of an "_icmp" copy (nft
 * prints a typeof @th integer so). */
/* A port (at most 0xffff: 6 characters) written at p; returns the end. */
static char *port_text(char *p, unsigned v, bool hex)
{
	/* by hand: a printf per port was most of rendering 10,000 of them */
	char buf[8], *e = buf + sizeof(buf), *d = e;

	/* constant divisors: the compiler multiplies instead of dividing,
	 * which a base held in a variable cost on 20,000 ports */
	if (hex) {
		do {
			*--d = "0123456789abcdef"[v & 15];
			v >>= 4;
		} while (v && d > buf);
		*p++ = '0';
		*p++ = 'x';
	} else {
		do {
			*--d = (char)('0' + v % 10);
			v /= 10;
		} while (v && d > buf);
	}
	memcpy(p, d, (size_t)(e - d));
	return p + (e - d);
}

/* "first" or "first-last" at p (at most PORT_RANGE_TEXT characters). */
#define PORT_RANGE_TEXT 16
static char *port_range_text(char *p, const struct port_range *r, bool hex)
{
	p = port_text(p, r->first, hex);
	if (r->last != r->first) {
		*p++ = '-';
		p = port_text(p, r->last, hex);
	}
	return p;
}

static void put_port_range(struct strbuf *out, const struct port_range *r, bool hex)
{
	char buf[PORT_RANGE_TEXT];

	strbuf_putn(out, buf, (size_t)(port_range_text(buf, r, hex) - buf));
}

/* The elements of a port set as nft lists them: 16 to a line, each line
 * made in a buffer and appended whole (three appends a port were most of
 * rendering 10,000 of them). */
static void put_elements_ports(struct strbuf *out, const struct port_set *s, bool hex)
{
	static const char wrap[] = ",\n\t\t\t     ";
	char line[sizeof(wrap) + 16 * (2 + PORT_RANGE_TEXT)], *p = line;
	size_t k = 0;

	for (size_t i = 0; i < s->n; i++) {
		bool interval = s->repr == PORT_SET_INTERVAL;
		/* a hash holds single ports */
		unsigned last = interval ? s->ranges[i].first : s->ranges[i].last;
		for (unsigned port = s->ranges[i].first; port <= last; port++, k++) {
			struct port_range r = interval ? s->ranges[i] : (struct port_range){port, port};
			if (k % 16 == 0 && k) {
				strbuf_putn(out, line, (size_t)(p - line));
				p = line;
				memcpy(p, wrap, sizeof(wrap) - 1);
				p += sizeof(wrap) - 1;
			} else if (k) {
				*p++ = ',';
				*p++ = ' ';
			}
			p = port_range_text(p, &r, hex);
		}
	}
	strbuf_putn(out, line, (size_t)(p - line));
}

/* The error types by the names nft lists them with, one to a line as nft
 * puts symbolic values. */
static const char *icmp_type_name(unsigned family, unsigned type)
{
	if (family == FAMILY_IPV4)
		switch (type) {
		case 3: return "destination-unreachable";
		case 11: return "time-exceeded";
		case 12: return "parameter-problem";
		}
	else
		switch (type) {
		case 1: return "destination-unreachable";
		case 2: return "packet-too-big";
		case 3: return "time-exceeded";
		case 4: return "parameter-problem";
		}
	return NULL;
}

static void put_elements_addrs(struct strbuf *out, const struct addr_set *s)
{
	char buf[64];

	for (size_t i = 0; i < s->n; i++) {
		cidr_format(&s->cidrs[i], buf, sizeof(buf));
		strbuf_puts(out, i == 0 ? "" : (i % 8 == 0 ? ",\n\t\t\t     " : ", "));
		strbuf_puts(out, buf);
	}
}

static void put_addr_match(struct strbuf *out, const struct ruleset *rs, enum field f, int set)
{
	const struct addr_set *s;
	char buf[64];

	if (f == FIELD_NONE || set < 0)
		return;
	s = &rs->addr_sets[set];
	strbuf_printf(out, "%s %s ", family_nft_name(s->family), f == FIELD_SOURCE ? "saddr" : "daddr");
	if (addr_set_is_inline(s)) {
		cidr_format(&s->cidrs[0], buf, sizeof(buf));
		strbuf_printf(out, "%s ", buf);
	} else {
		strbuf_printf(out, "@%s ", s->name);
	}
}

static void put_ifname(struct strbuf *out, const struct rule *r, const char *op)
{
	strbuf_printf(out, "%s %s\"%s%s\" ", r->hook == HOOK_PREROUTING ? "iifname" : "oifname", op, r->ifname.name,
		      r->ifname.wildcard ? "*" : "");
}

/*
 * After the cheap matches, the lookups that tell this host's own traffic
 * from what it forwards (nothing is routed yet at priority raw):
 *  - a service's packet must be addressed to a local address (the fib
 *    lookup); forwarded packets to the same port stay tracked;
 *  - an upstream's reply must belong to a socket of this host bound to a
 *    specific address ("socket wildcard 0": no socket, or a listener on
 *    0.0.0.0 or ::, does not match), so the reply to a LAN client's
 *    masqueraded connection, addressed to this host until conntrack
 *    undoes the NAT, stays tracked.  For TCP only segments with ACK set: a
 *    SYN from the upstream's address and port must never reach a listener
 *    bound to a specific address untracked.
 */
static void put_scope(struct strbuf *out, const struct rule *r)
{
	if (r->scope == SCOPE_LOCAL_DEST) {
		strbuf_puts(out, "fib daddr type local ");
	} else if (r->scope == SCOPE_OWN_SOCKET) {
		if (r->proto == IPPROTO_TCP && !r->icmp_error)
			strbuf_puts(out, "tcp flags & ack == ack ");
		strbuf_puts(out, "socket wildcard 0 ");
	}
}

/*
 * An ICMP error about a packet we sent: its type, then the embedded packet
 * by raw payload offsets from the ICMP header (see emit.h).  A port list is
 * looked up in the set's "_icmp" copy, whose key is that raw payload.
 */
static void put_icmp_match(struct strbuf *out, const struct ruleset *rs, const struct rule *r)
{
	bool v4 = r->family == FAMILY_IPV4;

	strbuf_printf(out, "%s type @%s ", v4 ? "icmp" : "icmpv6", v4 ? ICMP_ERRORS_SET : ICMPV6_ERRORS_SET);
	if (v4)
		strbuf_printf(out, "@th,%u,8 0x%x ", ICMP_INNER_VERSION_IHL * 8, ICMP_INNER_IPV4_NO_OPTIONS);
	if (r->proto)
		strbuf_printf(out, "@th,%u,8 0x%x ", (v4 ? ICMP_INNER_PROTO : ICMPV6_INNER_NEXTHDR) * 8, r->proto);
	if (r->port_set >= 0) {
		const struct port_set *ps = &rs->port_sets[r->port_set];
		strbuf_printf(out, "@th,%u,16 ", icmp_inner_port_offset(r) * 8);
		if (port_set_is_inline(ps)) {
			put_port_range(out, &ps->ranges[0], true);
			strbuf_putc(out, ' ');
		} else {
			strbuf_printf(out, "@%s_icmp ", ps->name);
		}
	}
}

void emit_nft_rule(const struct ruleset *rs, const struct rule *r, struct strbuf *out)
{
	char comment[128];

	if (r->icmp_error) {
		if (r->has_ifname)
			put_ifname(out, r, "");
		put_icmp_match(out, rs, r);
		put_scope(out, r);
		rule_comment(rs, r, comment, sizeof(comment));
		strbuf_printf(out, "counter %s comment \"%s\"",
			      r->verdict == VERDICT_NOTRACK ? "notrack return" : "return", comment);
		return;
	}

	/* an address match already pins the family; otherwise say it when only one is wanted */
	if (r->family != FAMILY_BOTH && r->peer_set < 0 && r->local_set < 0)
		strbuf_printf(out, "meta nfproto %s ", family_name(r->family));
	if (r->has_ifname && !r->ifname_invert)
		put_ifname(out, r, "");
	put_addr_match(out, rs, r->peer_field, r->peer_set);
	put_addr_match(out, rs, r->local_field, r->local_set);
	/* a negated interface after the address: most packets already fail that */
	if (r->has_ifname && r->ifname_invert)
		put_ifname(out, r, "!= ");
	if (r->port_set >= 0) {
		const struct port_set *ps = &rs->port_sets[r->port_set];
		strbuf_printf(out, "%s %s ", l4_name(r->proto), r->port_field == FIELD_SOURCE ? "sport" : "dport");
		if (port_set_is_inline(ps)) {
			put_port_range(out, &ps->ranges[0], false);
			strbuf_putc(out, ' ');
		} else {
			strbuf_printf(out, "@%s ", ps->name);
		}
	} else if (r->proto) {
		strbuf_printf(out, "meta l4proto %s ", l4_name(r->proto));
	}
	put_scope(out, r);
	rule_comment(rs, r, comment, sizeof(comment));
	if (r->verdict == VERDICT_CT_TIMEOUT) {
		/* the return: where entries overlap, the first one's timeouts
		 * win, as its return wins in the raw chain */
		strbuf_printf(out, "counter ct timeout set \"%s\" return comment \"%s\"",
			      rs->timeouts[r->ct_timeout].name, comment);
		return;
	}
	/* notrack does not end the chain; the return after it does, so the first
	 * matching rule takes the packet and each counter counts it once */
	strbuf_printf(out, "counter %s comment \"%s\"", r->verdict == VERDICT_NOTRACK ? "notrack return" : "return",
		      comment);
}

/* A ct timeout object as nft lists it: only the states that differ from
 * nft's defaults (ct_timeouts.h), which are the ones the policy wrote. */
static void put_timeout_obj(struct strbuf *out, const struct ct_timeout_obj *o)
{
	bool first = true;

	strbuf_printf(out, "\tct timeout %s {\n\t\tprotocol %s\n\t\tl3proto inet\n\t\tpolicy = { ", o->name,
		      proto_name(o->t.proto));
	for (unsigned i = 0; i < ct_timeout_states(o->t.proto); i++) {
		const struct ct_timeout_key *k = ct_timeout_key_at(o->t.proto, i);
		if (o->t.value[i] == k->dflt)
			continue;
		strbuf_printf(out, "%s%s : %u", first ? "" : ", ", k->nft_name, o->t.value[i]);
		first = false;
	}
	strbuf_puts(out, " }\n\t}\n");
}

static void put_timeout_chain(struct strbuf *out, const struct ruleset *rs, enum hook h)
{
	strbuf_printf(out, "\tchain %s {\n", timeout_chain_name(h));
	/* "mangle" is nft's name for -150 (TIMEOUT_CHAIN_PRIORITY), the one
	 * `nft list` prints back */
	strbuf_printf(out, "\t\ttype filter hook %s priority mangle; policy accept;\n", hook_name(h));
	for (size_t i = 0; i < rs->n_timeout_rules; i++) {
		if (rs->timeout_rules[i].hook != h)
			continue;
		strbuf_puts(out, "\t\t");
		emit_nft_rule(rs, &rs->timeout_rules[i], out);
		strbuf_putc(out, '\n');
	}
	strbuf_puts(out, "\t}\n");
}

static void put_chain(struct strbuf *out, const struct ruleset *rs, enum hook h)
{
	strbuf_printf(out, "\tchain %s {\n", hook_name(h));
	strbuf_printf(out, "\t\ttype filter hook %s priority raw; policy accept;\n", hook_name(h));
	for (size_t i = 0; i < rs->n_chain[h]; i++) {
		strbuf_puts(out, "\t\t");
		emit_nft_rule(rs, rs->chain[h][i], out);
		strbuf_putc(out, '\n');
	}
	strbuf_puts(out, "\t}\n");
}

static const char *accept_hooks_words(unsigned hooks)
{
	switch (hooks) {
	case ACCEPT_HOOK_INPUT | ACCEPT_HOOK_FORWARD | ACCEPT_HOOK_OUTPUT: return "input, forward and output";
	case ACCEPT_HOOK_INPUT | ACCEPT_HOOK_OUTPUT: return "input and output";
	case ACCEPT_HOOK_INPUT | ACCEPT_HOOK_FORWARD: return "input and forward";
	case ACCEPT_HOOK_FORWARD | ACCEPT_HOOK_OUTPUT: return "forward and output";
	case ACCEPT_HOOK_INPUT: return "input";
	case ACCEPT_HOOK_FORWARD: return "forward";
	case ACCEPT_HOOK_OUTPUT: return "output";
	}
	return "no";
}

/* How the kernel is to hold a port set (ruleset.h, struct port_set): a
 * plain set is its bitmap, "dynamic" its rhash, "interval" its rbtree. */
static const char *port_set_flags_line(const struct port_set *s)
{
	switch (s->repr) {
	case PORT_SET_BITMAP: return "";
	case PORT_SET_HASH: return "\t\tflags dynamic\n";
	default: return "\t\tflags interval\n";
	}
}

int emit_nft_text(const struct ruleset *rs, struct strbuf *out)
{
	bool first = true;

	strbuf_printf(out, "#!/usr/sbin/nft -f\n# notrackctl: replaces table inet %s in one transaction\n", rs->table);
	/* create-then-delete makes the delete valid whether or not the table exists */
	strbuf_printf(out, "table inet %s\ndelete table inet %s\n\n", rs->table, rs->table);
	strbuf_printf(out, "table inet %s {\n", rs->table);
	/* objects first, as `nft list` prints a table */
	for (size_t i = 0; i < rs->n_timeouts; i++) {
		strbuf_puts(out, first ? "" : "\n");
		put_timeout_obj(out, &rs->timeouts[i]);
		first = false;
	}
	for (size_t i = 0; i < rs->n_port_sets; i++) {
		const struct port_set *s = &rs->port_sets[i];
		if (port_set_is_inline(s))
			continue;
		strbuf_printf(out, "%s\tset %s {\n\t\ttype inet_service\n%s\t\telements = { ", first ? "" : "\n",
			      s->name, port_set_flags_line(s));
		put_elements_ports(out, s, false);
		strbuf_puts(out, " }\n\t}\n");
		first = false;
	}
	for (size_t i = 0; i < rs->n_port_sets; i++) {
		const struct port_set *s = &rs->port_sets[i];
		if (!s->icmp_copy)
			continue;
		/* any raw 16-bit payload will do as the type: it is an integer */
		strbuf_printf(out, "%s\tset %s_icmp {\n\t\ttypeof @th,%u,16\n%s\t\telements = { ", first ? "" : "\n",
			      s->name, ICMP_INNER_L4 * 8, port_set_flags_line(s));
		put_elements_ports(out, s, true);
		strbuf_puts(out, " }\n\t}\n");
		first = false;
	}
	for (unsigned family = FAMILY_IPV4; family <= FAMILY_IPV6; family <<= 1) {
		bool v4 = family == FAMILY_IPV4;
		size_t n;
		const unsigned char *types = icmp_error_types_of(family, &n);
		if (!ruleset_has_icmp(rs, family))
			continue;
		strbuf_printf(out, "%s\tset %s {\n\t\ttype %s\n\t\telements = { ", first ? "" : "\n",
			      v4 ? ICMP_ERRORS_SET : ICMPV6_ERRORS_SET, v4 ? "icmp_type" : "icmpv6_type");
		for (size_t i = 0; i < n; i++)
			strbuf_printf(out, "%s%s", i ? ",\n\t\t\t     " : "", icmp_type_name(family, types[i]));
		strbuf_puts(out, " }\n\t}\n");
		first = false;
	}
	for (size_t i = 0; i < rs->n_addr_sets; i++) {
		const struct addr_set *s = &rs->addr_sets[i];
		if (addr_set_is_inline(s))
			continue;
		strbuf_printf(out, "%s\tset %s {\n\t\ttype %s\n\t\tflags interval\n\t\telements = { ",
			      first ? "" : "\n", s->name, s->family == FAMILY_IPV4 ? "ipv4_addr" : "ipv6_addr");
		put_elements_addrs(out, s);
		strbuf_puts(out, " }\n\t}\n");
		first = false;
	}
	for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++) {
		if (!first)
			strbuf_putc(out, '\n');
		put_chain(out, rs, h);
		first = false;
	}
	for (enum hook h = HOOK_PREROUTING; rs->n_timeouts && h <= HOOK_OUTPUT; h++) {
		strbuf_putc(out, '\n');
		put_timeout_chain(out, rs, h);
	}
	strbuf_puts(out, "}\n");

	switch (rs->accept_mode) {
	case UNTRACKED_ACCEPT_AUTO:
		if (!rs->accept_hooks) {
			strbuf_puts(out, "\n# untracked_accept \"auto\": the policy untracks nothing, so no accept "
					 "is inserted.\n");
			break;
		}
		strbuf_printf(out,
			      "\n# untracked_accept \"auto\": decided at apply time from the live ruleset.\n"
			      "# notrackctl inserts, at position 0 of every base chain of type filter on the\n"
			      "# %s hook%s in every table it does not own:\n"
			      "#   ct state untracked counter accept comment \"%s\"\n"
			      "# (in iptables-nft tables, encoded as -m conntrack --ctstate UNTRACKED -j ACCEPT)\n",
			      accept_hooks_words(rs->accept_hooks),
			      rs->accept_hooks & (rs->accept_hooks - 1) ? "s" : "", rs->table);
		if (rs->accept_hooks && !(rs->accept_hooks & ACCEPT_HOOK_FORWARD))
			strbuf_puts(out, "# Not forward: nothing this policy untracks is forwarded.\n");
		break;
	case UNTRACKED_ACCEPT_NONE:
		strbuf_puts(out, "\n# untracked_accept \"none\": no accept rule is inserted; untracked packets meet\n"
				 "# the filter chains as they are.\n");
		break;
	case UNTRACKED_ACCEPT_LIST:
		strbuf_puts(out, "\n# untracked_accept: inserted first in these chains of other tables\n");
		for (size_t i = 0; i < rs->n_accept_chains; i++) {
			const struct chain_ref *c = &rs->accept_chains[i];
			strbuf_printf(out, "insert rule %s %s %s ct state untracked counter accept comment \"%s\"\n",
				      family_nft_name(c->family), c->table, c->chain, rs->table);
		}
		break;
	}
	return out->oom ? -ENOMEM : 0;
}
