#include "cli_backend.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "state.h"

int cli_backend_check_name(const char *cmd, const struct global_options *g)
{
	const char *name = g->backend;

	if (!name || !strcmp(name, "auto") || !strcmp(name, "nft") || !strcmp(name, "iptables"))
		return 0;
	return cli_usage_error(cmd, "unknown backend '%s' (auto, nft or iptables)", name);
}

/*
 * An empty kernel says nothing about the host: right after boot, before
 * `restore` put our rules back, every table is empty, yet the current
 * generation was applied with some backend and must be restored with it.
 * So with nothing in the kernel, the current generation's backend wins
 * over the default.  Any trouble reading the state leaves the default:
 * the command itself will report it.
 */
static void follow_generation(const struct global_options *g, struct cli_backend *cb)
{
	const char *dir = g->state_dir ? g->state_dir : getenv("NOTRACKCTL_STATE_DIR");
	struct generation gen = {0};
	struct state st;
	uint64_t current = 0;
	struct diag d;

	char gen_dir[4200];
	struct stat sb;

	/* read, never create: status must leave no state directory behind */
	dir = dir && *dir ? dir : STATE_DEFAULT_DIR;
	snprintf(gen_dir, sizeof(gen_dir), "%s/gen", dir);
	if (stat(gen_dir, &sb) < 0)
		return;
	diag_init(&d);
	if (state_open(&st, dir, &d) == 0) {
		if (state_current(&st, &current, &d) == 0 && current && state_load(&st, current, &gen, &d) == 0 &&
		    !strcmp(gen.backend, ipt_backend_ops.name)) {
			cb->ops = &ipt_backend_ops;
			snprintf(cb->det.reason, sizeof(cb->det.reason),
				 "no rules in nftables or iptables-legacy, and the current generation %" PRIu64
				 " was applied with the iptables backend: iptables",
				 current);
		}
		generation_free(&gen);
		state_close(&st);
	}
	diag_free(&d);
}

int cli_backend_choose(const struct global_options *g, struct cli_backend *cb, struct diag *d)
{
	int r;

	memset(cb, 0, sizeof(*cb));
	cb->requested = g->backend ? g->backend : "auto";
	if (!strcmp(cb->requested, "nft")) {
		cb->ops = &nft_backend_ops;
		return 0;
	}
	if (!strcmp(cb->requested, "iptables")) {
		cb->ops = &ipt_backend_ops;
		return 0;
	}
	cb->detected = true;
	r = backend_detect(&cb->det, d);
	cb->ops = r == 0 ? cb->det.ops : NULL;
	if (r == 0 && cb->det.kernel_empty)
		follow_generation(g, cb);
	return r;
}

void cli_backend_free(struct cli_backend *cb)
{
	backend_detection_free(&cb->det);
	memset(cb, 0, sizeof(*cb));
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

json_t *cli_backend_json(const struct cli_backend *cb)
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

void cli_backend_explain(const struct cli_backend *cb, FILE *f)
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
