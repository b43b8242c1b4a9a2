/*
 * IR → iptables-restore --noflush text, from the rules the iptables lowering
 * (ipt_lower.h) makes: what the iptables backend loads, as text.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "emit/emit.h"
#include "emit/ipt_lower.h"

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

static bool chain_in_family(unsigned cf, unsigned family)
{
	return (cf & family) != 0;
}

int emit_iptables_text(const struct ruleset *rs, unsigned family, struct strbuf *out)
{
	if (rs->n_timeouts)
		return -EOPNOTSUPP; /* refused before: ipt_size_check() */
	const char *tool = family == FAMILY_IPV4 ? "iptables" : "ip6tables";
	char chains[2][RULESET_NAME_MAX + 8];

	if (family != FAMILY_IPV4 && family != FAMILY_IPV6)
		return -EINVAL;
	strbuf_printf(out, "# notrackctl: %s-restore --noflush input (%s)\n", tool, family_label(family));
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
		for (size_t i = 0; i < rs->n_chain[h]; i++) {
			const struct rule *r = rs->chain[h][i];
			struct text_ctx t = {.out = out, .chain = chains[h]};
			if (r->family & family)
				iptables_for_each_variant(rs, r, put_variant, &t);
		}
	}
	for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++) {
		iptables_jump_text(out, iptables_raw_builtin[h], rs->table, chains[h]);
		strbuf_putc(out, '\n');
	}
	strbuf_puts(out, "COMMIT\n");

	switch (rs->accept_mode) {
	case UNTRACKED_ACCEPT_AUTO:
		if (!rs->accept_hooks) {
			strbuf_puts(out, "# untracked_accept \"auto\": the policy untracks nothing, so no accept is "
					 "inserted\n");
			break;
		}
		strbuf_puts(out, "*filter\n");
		const char *filter[3];
		for (size_t i = 0, n = iptables_auto_accept_chains(rs, filter); i < n; i++) {
			iptables_accept_text(out, filter[i], rs->table);
			strbuf_putc(out, '\n');
		}
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
				if (chain_in_family(cj->family, family) && !strcmp(cj->table, c->table)) {
					iptables_accept_text(out, cj->chain, rs->table);
					strbuf_putc(out, '\n');
				}
			}
			strbuf_puts(out, "COMMIT\n");
		}
		break;
	}
	return out->oom ? -ENOMEM : 0;
}
