#include "backend/backend_detect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct backend_ops *const backend_registry[] = {&nft_backend_ops, &ipt_backend_ops, NULL};

const struct backend_ops *backend_by_name(const char *name)
{
	for (size_t i = 0; name && backend_registry[i]; i++)
		if (!strcmp(backend_registry[i]->name, name))
			return backend_registry[i];
	return NULL;
}

void backend_detection_free(struct backend_detection *det)
{
	probe_list_free(&det->legacy);
	probe_list_free(&det->nft);
	memset(det, 0, sizeof(*det));
}

void probe_table_describe(const struct probe_table *t, char *buf, size_t size)
{
	/* legacy tables always have their built-in chains: count the others */
	bool legacy = !strncmp(t->family, "ipv", 3);

	/* names are cut to fit a line: nft allows 256 bytes, a message has less room */
	snprintf(buf, size, "%s %.96s (%s%zu rule%s, %zu %schain%s)", t->family, t->name,
		 t->iptables_nft ? "iptables-nft, " : "", t->n_rules, t->n_rules == 1 ? "" : "s", t->n_chains,
		 legacy ? "user " : "", t->n_chains == 1 ? "" : "s");
}

/* "a, b and c" of the tables that pass the filter; returns how many. */
static size_t list_tables(const struct probe_list *l, bool in_use, int iptables_nft, char *buf, size_t size)
{
	size_t n = 0, len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		const struct probe_table *t = &l->v[i];
		char one[160];
		if (t->in_use != in_use || (iptables_nft >= 0 && t->iptables_nft != (bool)iptables_nft))
			continue;
		probe_table_describe(t, one, sizeof(one));
		if (len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", n ? ", " : "", one);
		n++;
	}
	return n;
}

int backend_detect(struct backend_detection *out, struct diag *d)
{
	char legacy[200], native[200], xt[200], idle[200];
	size_t n_legacy, n_native, n_xt, n_idle;
	int r;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; backend_registry[i]; i++) {
		const struct backend_ops *ops = backend_registry[i];

		r = ops->probe(ops->tables == BACKEND_TABLES_LEGACY ? &out->legacy : &out->nft, d);
		if (r < 0)
			return r;
	}
	n_legacy = list_tables(&out->legacy, true, -1, legacy, sizeof(legacy));
	n_idle = list_tables(&out->legacy, false, -1, idle, sizeof(idle));
	n_native = list_tables(&out->nft, true, false, native, sizeof(native));
	n_xt = list_tables(&out->nft, true, true, xt, sizeof(xt));

	if (n_legacy && (n_native || n_xt)) {
		/* Both are enforced: a packet must pass the legacy tables and the
		 * nftables chains.  Which one the admin meant to manage is not
		 * something to guess. */
		r = diag_warn(d, "", "split brain: iptables-legacy tables in use: %s", legacy);
		if (r == 0)
			r = diag_warn(d, "", "split brain: nftables tables in use: %s%s%s", native,
				      n_native && n_xt ? ", " : "", xt);
		if (r < 0)
			return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
		snprintf(out->reason, sizeof(out->reason),
			 "both iptables-legacy and nftables rules are in use; refusing to guess");
		return diag_fail(d, DIAG_USAGE, EINVAL, NULL,
				 "both iptables-legacy (%s) and nftables (%s%s%s) hold rules on this host, and both "
				 "filter every packet; choose with --backend iptables or --backend nft",
				 legacy, native, n_native && n_xt ? ", " : "", xt);
	}
	if (n_legacy) {
		out->ops = &ipt_backend_ops;
		snprintf(out->reason, sizeof(out->reason),
			 "iptables-legacy tables are in use (%s) and nftables holds no rules: iptables backend "
			 "through libiptc",
			 legacy);
	} else if (n_xt) {
		out->ops = &nft_backend_ops;
		snprintf(out->reason, sizeof(out->reason),
			 "iptables-nft manages %s%s%s: nft backend, with the accepts in iptables-nft's tables "
			 "encoded as iptables-nft encodes them",
			 xt, n_native ? "; native nftables tables: " : "", native);
	} else if (n_native) {
		out->ops = &nft_backend_ops;
		snprintf(out->reason, sizeof(out->reason),
			 "native nftables tables are in use (%s) and no iptables-legacy table is: nft backend", native);
	} else {
		out->ops = &nft_backend_ops;
		out->kernel_empty = true;
		snprintf(out->reason, sizeof(out->reason),
			 "no rules in nftables or iptables-legacy: nft backend, the default");
	}
	if (n_idle) {
		size_t len = strlen(out->reason);
		snprintf(out->reason + len, sizeof(out->reason) - len,
			 " (iptables-legacy tables loaded but empty, not counted: %s)", idle);
	}
	return 0;
}
