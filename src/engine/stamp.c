#include "engine/stamp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend/iptables/lint_ipt.h"
#include "util/hash.h"
#include "util/host.h"

/* Everything the backend builds from, field by field (no struct padding),
 * the binary that builds it, and the host addresses lint reads. */
static int compiled_identity(const struct backend_ops *ops, const struct ruleset *rs, char out[DIGEST_SIZE])
{
	struct fnv f = fnv_init();
	struct stat exe;

	if (stat("/proc/self/exe", &exe) < 0)
		return -1;
	fnv_u64(&f, (uint64_t)exe.st_dev);
	fnv_u64(&f, (uint64_t)exe.st_ino);
	fnv_u64(&f, (uint64_t)exe.st_size);
	fnv_u64(&f, (uint64_t)exe.st_mtim.tv_sec);
	fnv_u64(&f, (uint64_t)exe.st_mtim.tv_nsec);
	fnv_str(&f, ops->name);
	fnv_str(&f, rs->table);
	fnv_u64(&f, rs->families);
	fnv_u64(&f, (uint64_t)rs->accept_mode);
	for (size_t i = 0; i < rs->n_accept_chains; i++) {
		fnv_u64(&f, (uint64_t)rs->accept_chains[i].family);
		fnv_str(&f, rs->accept_chains[i].table);
		fnv_str(&f, rs->accept_chains[i].chain);
		fnv_str(&f, rs->accept_chains[i].path);
	}
	fnv_u64(&f, rs->n_port_sets);
	for (size_t i = 0; i < rs->n_port_sets; i++) {
		fnv_str(&f, rs->port_sets[i].name);
		fnv_u64(&f, rs->port_sets[i].n);
		fnv_u64(&f, (uint64_t)rs->port_sets[i].repr);
		/* the ranges (two uint16_t each, no padding) in one piece with
		 * XXH3: 8,456 of them through FNV-1a's multiply a byte were 1%
		 * of a one-port change; the identity names this binary anyway,
		 * so its form may change with it */
		fnv_u64(&f, hash64(rs->port_sets[i].ranges, rs->port_sets[i].n * sizeof(*rs->port_sets[i].ranges)));
	}
	fnv_u64(&f, rs->n_addr_sets);
	for (size_t i = 0; i < rs->n_addr_sets; i++) {
		const struct addr_set *a = &rs->addr_sets[i];
		fnv_str(&f, a->name);
		fnv_u64(&f, a->family);
		fnv_u64(&f, a->n);
		for (size_t j = 0; j < a->n; j++) {
			fnv_u64(&f, (uint64_t)a->cidrs[j].family << 8 | a->cidrs[j].prefix);
			fnv_add(&f, a->cidrs[j].addr, sizeof(a->cidrs[j].addr));
		}
	}
	fnv_u64(&f, rs->accept_hooks);
	fnv_u64(&f, rs->n_rules);
	for (size_t i = 0; i < rs->n_rules; i++) {
		const struct rule *r = &rs->rules[i];
		fnv_u64(&f, (uint64_t)r->hook);
		fnv_u64(&f, (uint64_t)r->verdict);
		fnv_u64(&f, (uint64_t)r->scope);
		fnv_u64(&f, r->family);
		fnv_u64(&f, r->has_ifname);
		fnv_str(&f, r->has_ifname ? r->ifname.name : "");
		fnv_u64(&f, r->has_ifname && r->ifname.wildcard);
		fnv_u64(&f, r->proto);
		fnv_u64(&f, (uint64_t)r->port_field);
		fnv_u64(&f, (uint64_t)(int64_t)r->port_set);
		fnv_u64(&f, (uint64_t)r->peer_field);
		fnv_u64(&f, (uint64_t)(int64_t)r->peer_set);
		fnv_u64(&f, (uint64_t)r->local_field);
		fnv_u64(&f, (uint64_t)(int64_t)r->local_set);
		fnv_str(&f, r->origin);
	}
	/* per-traffic timeouts: the objects, and which rules attach which
	 * (each is a copy of a keep_tracked rule hashed above) */
	fnv_u64(&f, rs->n_timeouts);
	for (size_t i = 0; i < rs->n_timeouts; i++) {
		fnv_str(&f, rs->timeouts[i].name);
		fnv_add(&f, rs->timeouts[i].t.value, sizeof(rs->timeouts[i].t.value));
	}
	fnv_u64(&f, rs->n_timeout_rules);
	for (size_t i = 0; i < rs->n_timeout_rules; i++) {
		fnv_u64(&f, (uint64_t)rs->timeout_rules[i].hook);
		fnv_u64(&f, (uint64_t)rs->timeout_rules[i].ct_timeout);
		fnv_str(&f, rs->timeout_rules[i].origin);
	}
	/* lint reads this host's addresses too, and they change without a commit */
	struct host_addr *addrs;
	size_t n;
	host_addrs(&addrs, &n);
	for (size_t i = 0; i < n; i++) {
		fnv_str(&f, addrs[i].ifname);
		fnv_u64(&f, (uint64_t)addrs[i].family << 8 | addrs[i].prefix);
		fnv_add(&f, addrs[i].addr, sizeof(addrs[i].addr));
	}
	free(addrs);
	/* and the legacy tables, which it reads too (on a mixed host) */
	fnv_u64(&f, lint_ipt_fingerprint());
	fnv_hex(&f, out);
	return 0;
}

int stamp_here(const struct backend_ops *ops, const char *table, const struct ruleset *rs, struct verified_stamp *v)
{
	int r;

	memset(v, 0, sizeof(*v));
	if (!ops->exact_generation)
		return -1;
	r = host_boot_id(v->boot_id);
	if (r < 0 || host_netns_cookie(&v->netns_cookie) < 0)
		r = -1; /* before Linux 5.14: no cookie, no stamp */
	snprintf(v->backend, sizeof(v->backend), "%s", ops->name);
	snprintf(v->table, sizeof(v->table), "%s", table);
	if (r == 0)
		r = compiled_identity(ops, rs, v->compiled);
	return r;
}

bool stamp_unchanged(const struct backend_ops *ops, struct backend *b, struct state *st,
		     const struct verified_stamp *here, uint64_t *generation)
{
	struct verified_stamp last;
	struct diag scratch;
	bool same;

	if (state_stamp_read(st, &last) < 0)
		return false;
	same = !strcmp(last.boot_id, here->boot_id) && last.netns_cookie == here->netns_cookie &&
	       !strcmp(last.backend, here->backend) && !strcmp(last.table, here->table) &&
	       !strcmp(last.compiled, here->compiled);
	if (!same)
		return false;
	diag_init(&scratch);
	same = ops->generation(b, generation, &scratch) == 0 && *generation == last.kernel_generation;
	diag_free(&scratch);
	return same;
}
