#include "cli/cli_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_backend_check_name(const char *cmd, const struct global_options *g)
{
	if (backend_name_valid(g->backend))
		return 0;
	return cli_usage_error(cmd, "unknown backend '%s' (auto, nft or iptables)", g->backend);
}

int cli_backend_choose(const struct global_options *g, struct backend_choice *cb, struct diag *d)
{
	return backend_choose(g->backend, g->state_dir ? g->state_dir : getenv("NOTRACKCTL_STATE_DIR"), cb, d);
}

void cli_backend_free(struct backend_choice *cb)
{
	backend_choice_free(cb);
}

static json_t *tables_json(const struct probe_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->n; i++) {
		const struct probe_table *t = &l->v[i];
		json_array_append_new(a, json_pack("{s:s,s:s,s:I,s:I,s:b,s:b}", "family", t->family, "name", t->name,
						   "chains", (json_int_t)t->n_chains, "rules", (json_int_t)t->n_rules,
						   "in_use", t->in_use, "iptables_nft", t->iptables_nft));
	}
	return a;
}

json_t *cli_backend_json(const struct backend_choice *cb)
{
	json_t *o = json_object();

	json_object_set_new(o, "requested", json_string(cb->requested));
	json_object_set_new(o, "backend", cb->ops ? json_string(cb->ops->name) : json_null());
	json_object_set_new(o, "reason", json_string(cb->detected ? cb->det.reason : "named with --backend"));
	if (cb->detected) {
		json_object_set_new(o, "legacy_tables", tables_json(&cb->det.legacy));
		json_object_set_new(o, "nft_tables", tables_json(&cb->det.nft));
	}
	return o;
}

void cli_backend_explain(const struct backend_choice *cb, FILE *f)
{
	char line[400];

	if (!cb->detected) {
		fprintf(f, "notrackctl: backend %s (named with --backend)\n", cb->requested);
		return;
	}
	fprintf(f, "notrackctl: backend %s (auto): %s\n", cb->ops ? cb->ops->name : "none", cb->det.reason);
	for (size_t i = 0; i < cb->det.legacy.n; i++) {
		probe_table_describe(&cb->det.legacy.v[i], line, sizeof(line));
		fprintf(f, "  iptables-legacy: %s%s\n", line, cb->det.legacy.v[i].in_use ? "" : ", empty");
	}
	for (size_t i = 0; i < cb->det.nft.n; i++) {
		probe_table_describe(&cb->det.nft.v[i], line, sizeof(line));
		fprintf(f, "  nftables: %s\n", line);
	}
	if (!cb->det.legacy.n && !cb->det.nft.n)
		fprintf(f, "  no tables in iptables-legacy or nftables\n");
}
