/*
 * The legacy iptables reader of the linter (see lint_ipt.h).  A rule is an
 * ipt_entry (ip6t_entry): the ip header part (addresses with masks,
 * interfaces with masks, protocol, inversion flags), then its matches, then
 * its target.  The matches are the same xt structs iptables-nft stores in
 * its compat expressions, so lint_xt decodes them for both readers.
 */
#include "backend/iptables/lint_ipt.h"

#include <errno.h>
#include <libiptc/libip6tc.h>
#include <libiptc/libiptc.h>
#include <linux/netfilter/xt_CT.h>
#include <stdio.h>
#include <string.h>

#include "emit/ipt_build.h"
#include "backend/iptables/ipt_transport.h"
#include "lint/lint_xt.h"

#define MAX_DEPTH 16 /* jump nesting followed, as in the nft reader */

struct reader {
	const struct lint_ipt_options *o;
	struct ipt_snap *t;
	struct lint_input *out;
	unsigned hook;		   /* LINT_HOOK_* of the built-in chain being walked */
	struct lint_chain *filter; /* the filter chain being described, or NULL (raw) */
	int err;
};

/* One entry: what it selects and what it needs from conntrack. */
struct entry {
	struct lint_sel sel;
	struct lint_xt xt;
};

static int and_prefix(struct lint_sel *s, bool source, enum lint_af af, const uint8_t *addr, const uint8_t *mask,
		      bool invert, bool *widened)
{
	unsigned w = lint_af_width(af), bits = 0;
	struct lint_ranges set = {0};
	struct lint_range rg;
	bool ended = false;
	int e;

	for (unsigned i = 0; i < w * 8; i++) {
		bool one = mask[i / 8] & (0x80 >> (i % 8));
		if (one && ended) {
			*widened = true; /* not a prefix: left out */
			return 0;
		}
		bits += one;
		ended |= !one;
	}
	if (!bits)
		return 0; /* any address */
	lint_range_prefix(&rg, addr, bits, w);
	e = lint_ranges_set(&set, &rg, 1, w);
	if (e == 0 && invert)
		e = lint_ranges_not(&set, w);
	if (e == 0)
		e = lint_sel_and_addrs(s, source, af, &set);
	lint_ranges_free(&set);
	return e;
}

/* iptables stores "eth+" as "eth" with a mask that ends where the name
 * does, and "eth0" with a mask that covers its NUL too. */
static void and_iface(struct lint_sel *s, bool in, const char *name, const unsigned char *mask, bool invert)
{
	size_t len = strnlen(name, IFNAMSIZ);

	if (!len)
		return;
	lint_sel_add_if(s, in, name, len < IFNAMSIZ && !mask[len], invert);
}

static int decode_header(unsigned family, const void *e, struct entry *x)
{
	bool wide = false;
	int r;

	if (family == FAMILY_IPV4) {
		const struct ipt_ip *ip = &((const struct ipt_entry *)e)->ip;
		r = and_prefix(&x->sel, true, LINT_AF4, (const uint8_t *)&ip->src, (const uint8_t *)&ip->smsk,
			       ip->invflags & IPT_INV_SRCIP, &wide);
		if (r == 0)
			r = and_prefix(&x->sel, false, LINT_AF4, (const uint8_t *)&ip->dst, (const uint8_t *)&ip->dmsk,
				       ip->invflags & IPT_INV_DSTIP, &wide);
		and_iface(&x->sel, true, ip->iniface, ip->iniface_mask, ip->invflags & IPT_INV_VIA_IN);
		and_iface(&x->sel, false, ip->outiface, ip->outiface_mask, ip->invflags & IPT_INV_VIA_OUT);
		if (ip->proto && !(ip->invflags & XT_INV_PROTO))
			lint_sel_and_proto(&x->sel, (uint8_t)ip->proto);
	} else {
		const struct ip6t_ip6 *ip = &((const struct ip6t_entry *)e)->ipv6;
		r = and_prefix(&x->sel, true, LINT_AF6, (const uint8_t *)&ip->src, (const uint8_t *)&ip->smsk,
			       ip->invflags & IP6T_INV_SRCIP, &wide);
		if (r == 0)
			r = and_prefix(&x->sel, false, LINT_AF6, (const uint8_t *)&ip->dst, (const uint8_t *)&ip->dmsk,
				       ip->invflags & IP6T_INV_DSTIP, &wide);
		and_iface(&x->sel, true, ip->iniface, ip->iniface_mask, ip->invflags & IP6T_INV_VIA_IN);
		and_iface(&x->sel, false, ip->outiface, ip->outiface_mask, ip->invflags & IP6T_INV_VIA_OUT);
		if ((ip->flags & IP6T_F_PROTO) && !(ip->invflags & IP6T_INV_PROTO))
			lint_sel_and_proto(&x->sel, (uint8_t)ip->proto);
	}
	x->xt.widened |= wide;
	return r;
}

static size_t header_size(unsigned family)
{
	return family == FAMILY_IPV4 ? sizeof(struct ipt_entry) : sizeof(struct ip6t_entry);
}

static const struct xt_entry_target *decode(unsigned family, const void *e, const struct lint_sel *carried,
					    struct entry *x, int *err)
{
	const unsigned char *base = e;
	size_t off = header_size(family);
	size_t target = family == FAMILY_IPV4 ? ((const struct ipt_entry *)e)->target_offset
					      : ((const struct ip6t_entry *)e)->target_offset;

	memset(x, 0, sizeof(*x));
	*err = lint_sel_copy(&x->sel, carried);
	x->xt.sel = &x->sel;
	if (*err == 0)
		*err = decode_header(family, e, x);
	while (*err == 0 && off + sizeof(struct xt_entry_match) <= target) {
		const struct xt_entry_match *m = (const void *)(base + off);
		if (m->u.match_size < sizeof(*m))
			break; /* malformed: never loop forever */
		*err = lint_xt_match(&x->xt, m->u.user.name, m->u.user.revision, m->data, m->u.match_size - sizeof(*m));
		off += m->u.match_size;
	}
	return (const void *)(base + target);
}

static bool is_notrack(const struct xt_entry_target *t)
{
	if (!strcmp(t->u.user.name, "NOTRACK"))
		return true;
	/* xt_ct_target_info and its _v1 begin with the same flags */
	return !strcmp(t->u.user.name, "CT") && t->u.target_size >= sizeof(*t) + sizeof(uint16_t) &&
	       (((const struct xt_ct_target_info *)(const void *)t->data)->flags & XT_CT_NOTRACK);
}

static void words(const struct lint_sel *s, const char *action, unsigned pos, char *buf, size_t size)
{
	struct strbuf sb;

	struct lint_sel shown = *s; /* the table's family goes without saying */

	shown.family = FAMILY_BOTH;
	strbuf_init(&sb);
	lint_sel_format(&shown, &sb);
	strbuf_printf(&sb, "%s%s, rule %u", sb.len ? " " : "", action, pos);
	snprintf(buf, size, "%s", sb.data ? sb.data : action);
	strbuf_free(&sb);
}

static int add_notrack(struct reader *rd, const char *chain, unsigned pos, const struct lint_sel *sel)
{
	struct lint_notrack *n = lint_input_add_notrack(rd->out);

	if (!n)
		return -ENOMEM;
	n->hook = rd->hook;
	n->legacy = true;
	snprintf(n->family, sizeof(n->family), "%s", rd->t->family == FAMILY_IPV4 ? "ip" : "ip6");
	snprintf(n->table, sizeof(n->table), "raw");
	snprintf(n->chain, sizeof(n->chain), "%s", chain);
	words(sel, "notrack", pos, n->rule, sizeof(n->rule));
	lint_sel_free(&n->sel);
	return lint_sel_copy(&n->sel, sel);
}

/* What an untracked packet meets (the nft reader's rule, lint.h): accepts
 * that need no conntrack entry or take untracked ones too, and drops unless
 * they need a state other than untracked.  An accept with a match we could
 * not read is left out: it might not take the packet. */
static int add_vrule(struct reader *rd, const struct entry *x, const char *label, const char *target, unsigned pos)
{
	bool untracked_too = x->xt.ct_state & LINT_CT_UNTRACKED;
	bool only_state = x->xt.needs == (1u << CT_NEED_STATE);
	bool drop = !strcmp(label, "DROP") || !strcmp(target, "REJECT");
	char text[LINT_RULE_MAX];

	if (!strcmp(label, "ACCEPT") && !x->xt.widened && !x->xt.limited &&
	    (!x->xt.needs || (only_state && untracked_too))) {
		words(&x->sel, "accept", pos, text, sizeof(text));
		return lint_chain_add_rule(rd->filter, LINT_V_ACCEPT, &x->sel, text);
	}
	if (drop && !(only_state && x->xt.ct_state && !untracked_too)) {
		words(&x->sel, !strcmp(label, "DROP") ? "drop" : "reject", pos, text, sizeof(text));
		return lint_chain_add_rule(rd->filter, LINT_V_DROP, &x->sel, text);
	}
	return 0;
}

static bool ours(const struct reader *rd, const char *chain, const void *e, const char *label)
{
	const char *comment = ipt_entry_comment(rd->t->family, e);

	for (int h = 0; h < 2; h++)
		if (rd->o->our_chains[h] &&
		    (!strcmp(chain, rd->o->our_chains[h]) || (label && !strcmp(label, rd->o->our_chains[h]))))
			return true;
	return comment && rd->o->tag && !strcmp(comment, rd->o->tag);
}

static int walk(struct reader *rd, const char *chain, const struct lint_sel *carried, int depth)
{
	unsigned pos = 0;
	int e = 0;

	for (const void *en = ipt_snap_first_rule(rd->t, chain); en && e == 0; en = ipt_snap_next_rule(rd->t, en)) {
		const char *label = ipt_snap_target(rd->t, en);
		const struct xt_entry_target *t;
		struct entry x;

		pos++;
		if (!label || ours(rd, chain, en, label))
			continue;
		t = decode(rd->t->family, en, carried, &x, &e);
		if (e == 0 && !lint_sel_empty(&x.sel, LINT_DIR_IIF | LINT_DIR_OIF)) {
			if (ipt_snap_is_chain(rd->t, label) && !ipt_snap_builtin(rd->t, label)) {
				if (depth < MAX_DEPTH)
					e = walk(rd, label, &x.sel, depth + 1);
				else
					e = lint_input_add_note(rd->out,
								"jumps nested deeper than %d in %s %s were not "
								"followed",
								MAX_DEPTH, ipt_family_label(rd->t->family),
								rd->t->name);
			} else if (!rd->filter && is_notrack(t)) {
				e = add_notrack(rd, chain, pos, &x.sel);
			} else if (rd->filter) {
				e = add_vrule(rd, &x, label, t->u.user.name, pos);
			}
		}
		lint_sel_free(&x.sel);
	}
	return e;
}

static int read_raw(struct reader *rd)
{
	static const struct {
		const char *chain;
		unsigned hook;
	} hooks[] = {{"PREROUTING", LINT_HOOK_PREROUTING}, {"OUTPUT", LINT_HOOK_OUTPUT}};
	int e = 0;

	for (size_t i = 0; i < 2 && e == 0; i++) {
		struct lint_sel any;
		if (!ipt_snap_is_chain(rd->t, hooks[i].chain))
			continue;
		lint_sel_init(&any, rd->t->family);
		rd->hook = hooks[i].hook;
		rd->filter = NULL;
		e = walk(rd, hooks[i].chain, &any, 0);
		lint_sel_free(&any);
	}
	return e;
}

static int read_filter(struct reader *rd)
{
	static const struct {
		const char *chain;
		unsigned hook;
	} hooks[] = {{"INPUT", LINT_HOOK_INPUT}, {"FORWARD", LINT_HOOK_FORWARD}, {"OUTPUT", LINT_HOOK_OUTPUT}};
	int e = 0;

	for (size_t i = 0; i < 3 && e == 0; i++) {
		const char *policy = ipt_snap_policy(rd->t, hooks[i].chain);
		struct lint_chain *c;
		struct lint_sel any;
		if (!ipt_snap_is_chain(rd->t, hooks[i].chain))
			continue;
		c = lint_input_add_chain(rd->out);
		if (!c)
			return -ENOMEM;
		c->family = rd->t->family == FAMILY_IPV4 ? CHAIN_FAMILY_IP : CHAIN_FAMILY_IP6;
		snprintf(c->family_name, sizeof(c->family_name), "%s", rd->t->family == FAMILY_IPV4 ? "ip" : "ip6");
		snprintf(c->table, sizeof(c->table), "filter");
		snprintf(c->chain, sizeof(c->chain), "%s", hooks[i].chain);
		c->hook = hooks[i].hook;
		c->policy_drop = policy && !strcmp(policy, "DROP");
		c->legacy = true;
		lint_sel_init(&any, rd->t->family);
		rd->hook = hooks[i].hook;
		rd->filter = c;
		e = walk(rd, hooks[i].chain, &any, 0);
		lint_sel_free(&any);
	}
	return e;
}

static int read_table(struct reader *rd, unsigned family, const char *name, struct diag *d)
{
	struct ipt_snap t = {0};
	struct diag ignored;
	int e;

	diag_init(&ignored);
	e = ipt_snap_open(&t, family, name, &ignored);
	if (e < 0) {
		e = lint_input_add_note(rd->out,
					"the legacy %s %s table could not be read (%s): its rules were not "
					"checked",
					ipt_family_label(family), name, strerror(-e));
		diag_free(&ignored);
		return e < 0 ? diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory") : 0;
	}
	diag_free(&ignored);
	rd->t = &t;
	e = !strcmp(name, "raw") ? read_raw(rd) : read_filter(rd);
	ipt_snap_close(&t);
	rd->t = NULL;
	return e < 0 ? diag_fail(d, DIAG_SYSTEM, -e, NULL, "lint: %s", strerror(-e)) : 0;
}

int lint_ipt_read(const struct lint_ipt_options *o, struct lint_input *out, struct diag *d)
{
	static const unsigned families[] = {FAMILY_IPV4, FAMILY_IPV6};
	struct reader rd = {.o = o, .out = out};
	int e = 0;

	for (size_t f = 0; f < 2 && e == 0; f++) {
		char **names;
		size_t n;
		e = ipt_loaded_tables(families[f], &names, &n, d);
		if (e < 0)
			return e;
		if (ipt_names_contain(names, n, "raw"))
			e = read_table(&rd, families[f], "raw", d);
		if (e == 0 && o->filter && ipt_names_contain(names, n, "filter"))
			e = read_table(&rd, families[f], "filter", d);
		ipt_names_free(names, n);
	}
	return e;
}
