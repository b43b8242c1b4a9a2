#include "emit/ipt_size.h"

#include "emit/emit.h"
#include "emit/ipt_lower.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* What one rule of the IR becomes in one family. */
struct expansion {
	uint64_t peers, locals, lists;
};

static struct expansion expand(const struct ruleset *rs, const struct rule *r)
{
	struct expansion e = {1, 1, 1};

	if (r->peer_set >= 0)
		e.peers = rs->addr_sets[r->peer_set].n;
	if (r->local_set >= 0)
		e.locals = rs->addr_sets[r->local_set].n;
	if (r->port_set >= 0)
		e.lists = iptables_port_lists(r, &rs->port_sets[r->port_set]);
	return e;
}

static uint64_t product(const struct expansion *e)
{
	return e->peers * e->locals * e->lists;
}

/* The total for one family, and the rule that multiplies most. */
static uint64_t count(const struct ruleset *rs, unsigned family, const struct rule **worst, uint64_t *worst_n)
{
	uint64_t total = 0;

	*worst = NULL;
	*worst_n = 0;
	if (!(rs->families & family))
		return 0;
	/* every rule the emitters write: the policy's, the route_localnet
	 * guards and the ICMP error rules, in both chains */
	for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++) {
		for (size_t i = 0; i < rs->n_chain[h]; i++) {
			const struct rule *r = rs->chain[h][i];
			struct expansion e;
			if (!(r->family & family))
				continue;
			e = expand(rs, r);
			total += product(&e);
			if (product(&e) > *worst_n) {
				*worst_n = product(&e);
				*worst = r;
			}
		}
	}
	return total;
}

uint64_t ipt_size_count(const struct ruleset *rs, unsigned family)
{
	const struct rule *worst;
	uint64_t worst_n;

	return count(rs, family, &worst, &worst_n);
}

int ipt_size_check(const struct ruleset *rs, struct diag *d)
{
	static const unsigned families[] = {FAMILY_IPV4, FAMILY_IPV6};

	/* The CT target's --timeout needs a cttimeout object made through
	 * nfnetlink_cttimeout, a kernel object outside the tables libiptc
	 * replaces, so it would not be part of the one atomic commit nor of
	 * a rollback: refused rather than half managed. */
	if (rs->n_timeouts)
		return diag_fail(d, DIAG_POLICY, EOPNOTSUPP, rs->timeouts[0].t.path,
				 "the iptables backend does not set per-traffic timeouts; use --backend nft, or "
				 "remove \"timeouts\" (or set the global ones in the \"conntrack\" section)");

	for (size_t f = 0; f < 2; f++) {
		const struct rule *worst;
		uint64_t worst_n, total = count(rs, families[f], &worst, &worst_n);

		if (total <= IPT_MAX_RULES_PER_FAMILY)
			continue;
		struct expansion w = expand(rs, worst);
		return diag_fail(d, DIAG_POLICY, E2BIG, worst->origin,
				 "the iptables backend would load %llu %s rules (limit %u per family): this entry "
				 "alone is %llu peers x %llu addresses x %llu multiport lists = %llu rules per hook; "
				 "iptables has no sets, so use --backend nft, or split the peers or addresses",
				 (unsigned long long)total, family_label(families[f]), IPT_MAX_RULES_PER_FAMILY,
				 (unsigned long long)w.peers, (unsigned long long)w.locals, (unsigned long long)w.lists,
				 (unsigned long long)worst_n);
	}
	return 0;
}
