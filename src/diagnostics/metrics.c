#include "diagnostics/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit/emit.h"
#include "emit/ipt_lower.h"
#include "diagnostics/prom.h"
#include "compile/ruleset.h"

/* ------------------------------------------------------------------ */
/* sums per policy entry                                                */

/* Our own chains are named after their hook: the hook itself in the nft
 * table, TABLE-PRE / TABLE-OUT in the iptables raw tables. */
static const char *rule_hook(const struct owned_object *o, const char *table)
{
	char ipt[RULESET_NAME_MAX + 8];

	if (o->kind != OWNED_RULE)
		return o->chain;
	for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++) {
		iptables_chain_name_for(table, h, ipt, sizeof(ipt));
		if (!strcmp(o->chain, hook_name(h)) || !strcmp(o->chain, ipt))
			return hook_name(h);
	}
	return o->chain;
}

static int sum_cmp(const void *a, const void *b)
{
	const struct entry_sum *x = a, *y = b;
	int c;

	if (x->role != y->role)
		return x->role < y->role ? -1 : 1;
	if ((c = strcmp(x->family, y->family)) || (c = strcmp(x->table, y->table)) || (c = strcmp(x->hook, y->hook)))
		return c;
	return strcmp(x->origin, y->origin);
}

int metrics_entry_sums(const struct owned_list *l, const char *table, struct entry_sums *out)
{
	struct entry_sum *v;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (!table)
		table = RULESET_DEFAULT_TABLE;
	v = calloc(l->n ? l->n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		const struct owned_object *o = &l->v[i];
		struct entry_sum *s = &v[n];
		s->role = inspect_owned_role(o);
		/* a timeout rule counts packets conntrack already saw: no series of its own */
		if (s->role == OWNED_ROLE_JUMP || s->role == OWNED_ROLE_TIMEOUT)
			continue;
		s->origin = s->role == OWNED_ROLE_ACCEPT ? "" : inspect_owned_origin(o);
		s->hook = rule_hook(o, table);
		s->family = o->family;
		s->table = o->table;
		s->rules = 1;
		s->has_counter = o->has_counter;
		s->packets = o->packets;
		s->bytes = o->bytes;
		n++;
	}
	qsort(v, n, sizeof(*v), sum_cmp);
	/* merge each run of equal keys into its first element */
	out->n = 0;
	for (size_t i = 0; i < n; i++) {
		struct entry_sum *last = out->n ? &v[out->n - 1] : NULL;
		if (last && !sum_cmp(last, &v[i])) {
			last->rules += v[i].rules;
			last->packets += v[i].packets;
			last->bytes += v[i].bytes;
			last->has_counter |= v[i].has_counter;
		} else {
			v[out->n++] = v[i];
		}
	}
	out->v = v;
	return 0;
}

void entry_sums_free(struct entry_sums *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------------ */
/* the exposition                                                       */

static void render_table(const struct table_use *t, struct prom_out *sb)
{
	prom_single(sb, "notrackctl_conntrack_entries", PROM_GAUGE,
		    "Entries in this network namespace's conntrack table.", t->count);
	if (t->has_max)
		prom_single(sb, "notrackctl_conntrack_max", PROM_GAUGE,
			    "Limit on conntrack entries (nf_conntrack_max); new connections are dropped at it.",
			    t->max);
	if (t->has_buckets)
		prom_single(sb, "notrackctl_conntrack_buckets", PROM_GAUGE,
			    "Size of the conntrack hash table (nf_conntrack_buckets).", t->buckets);
	if (!t->has_counters)
		return;
	/* the kernel's per-CPU statistics (conntrack -S), summed over CPUs */
	const struct {
		const char *name, *help;
		uint64_t v;
	} c[] = {
	    {"notrackctl_conntrack_found_total", "Lookups that found an existing entry.", t->counters.found},
	    {"notrackctl_conntrack_invalid_total", "Packets conntrack could not track (malformed or out of window).",
	     t->counters.invalid},
	    {"notrackctl_conntrack_insert_total", "Entries inserted into the table.", t->counters.insert},
	    {"notrackctl_conntrack_insert_failed_total",
	     "Entries that could not be inserted (a clash or a full chain).", t->counters.insert_failed},
	    {"notrackctl_conntrack_drop_total", "Packets dropped because the table was full.", t->counters.drop},
	    {"notrackctl_conntrack_early_drop_total", "Entries evicted early to make room because the table was full.",
	     t->counters.early_drop},
	    {"notrackctl_conntrack_error_total", "Packets with errors seen by conntrack (ICMP errors included).",
	     t->counters.error},
	    {"notrackctl_conntrack_search_restart_total", "Table lookups restarted because the table was resized.",
	     t->counters.search_restart},
	    {"notrackctl_conntrack_clash_resolve_total", "Insert clashes that were resolved.",
	     t->counters.clash_resolve},
	    {"notrackctl_conntrack_chaintoolong_total", "Inserts refused because a hash chain was too long.",
	     t->counters.chaintoolong},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		prom_single(sb, c[i].name, PROM_COUNTER, c[i].help, c[i].v);
}

static void render_state(const struct status_report *rep, struct prom_out *sb)
{
	prom_single(sb, "notrackctl_generation", PROM_GAUGE, "The current generation; 0 when nothing was applied.",
		    rep->generation);
	if (rep->applied_time > 0)
		prom_single(sb, "notrackctl_generation_timestamp_seconds", PROM_GAUGE,
			    "When the current generation was applied, in seconds since the epoch.",
			    (uint64_t)rep->applied_time);
	prom_single(sb, "notrackctl_pending_confirmation", PROM_GAUGE,
		    "1 while an apply --confirm waits for confirmation, else 0.", rep->has_pending);
	if (rep->has_pending && rep->pending_detail.deadline > 0)
		prom_single(sb, "notrackctl_pending_confirmation_deadline_timestamp_seconds", PROM_GAUGE,
			    "When the pending apply is rolled back unless confirmed, in seconds since the epoch.",
			    (uint64_t)rep->pending_detail.deadline);
}

/* One family per counter of the sums of a role, labelled by entry or chain. */
static void render_sums(const struct entry_sums *s, enum owned_role role, const char *name, const char *help, int bytes,
			struct prom_out *sb)
{
	char entry[sizeof(((struct owned_object *)0)->comment) + 2];
	int announced = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct entry_sum *e = &s->v[i];
		uint64_t value = bytes ? e->bytes : e->packets;
		/* a rule without a policy entry is not one of ours to count: someone
		 * added it to our table, and notrackctl_drift says so */
		if (e->role != role || !e->has_counter || (role != OWNED_ROLE_ACCEPT && !*e->origin))
			continue;
		if (!announced++)
			prom_family(sb, name, PROM_COUNTER, help);
		if (role == OWNED_ROLE_ACCEPT) {
			const char *labels[] = {"family", e->family, "table", e->table, "chain", e->hook, NULL};
			prom_sample(sb, name, labels, value);
			continue;
		}
		/* The entry's JSON path, as errors and warnings name it.  An entry's
		 * ICMP-error rules ("notrack.services[0] (icmp errors)") are part of
		 * what it lets bypass conntrack: the sort puts them right after the
		 * entry's own rules, and one series holds both. */
		size_t path = strcspn(e->origin, " ");
		while (i + 1 < s->n && s->v[i + 1].role == role && s->v[i + 1].has_counter &&
		       !strcmp(s->v[i + 1].family, e->family) && !strcmp(s->v[i + 1].hook, e->hook) &&
		       !strncmp(s->v[i + 1].origin, e->origin, path) && s->v[i + 1].origin[path] == ' ') {
			i++;
			value += bytes ? s->v[i].bytes : s->v[i].packets;
		}
		if (!strncmp(e->origin, "notrack", 7) || !strncmp(e->origin, "keep_tracked", 12))
			snprintf(entry, sizeof(entry), "$.%.*s", (int)path, e->origin);
		else /* the route_localnet guard: no policy entry wrote it */
			snprintf(entry, sizeof(entry), "%s", e->origin);
		const char *labels[] = {"entry", entry, "hook", e->hook, "family", e->family, NULL};
		prom_sample(sb, name, labels, value);
	}
}

static void render_rules(const struct status_report *rep, const struct entry_sums *s, struct prom_out *sb)
{
	static const enum owned_role roles[] = {OWNED_ROLE_NOTRACK, OWNED_ROLE_KEEP, OWNED_ROLE_ACCEPT};
	static const char *const role_names[] = {"notrack", "keep_tracked", "untracked_accept"};
	size_t count[3] = {0, 0, 0};

	for (size_t i = 0; i < s->n; i++)
		for (size_t r = 0; r < 3; r++)
			if (s->v[i].role == roles[r])
				count[r] += s->v[i].rules;
	prom_family(sb, "notrackctl_rules", PROM_GAUGE, "Rules notrackctl owns in the kernel, by role.");
	for (size_t r = 0; r < 3; r++) {
		const char *labels[] = {"role", role_names[r], NULL};
		prom_sample(sb, "notrackctl_rules", labels, count[r]);
	}
	render_sums(s, OWNED_ROLE_NOTRACK, "notrackctl_bypass_packets_total",
		    "Packets our NOTRACK rules let bypass conntrack, by policy entry, hook and family.", 0, sb);
	render_sums(s, OWNED_ROLE_NOTRACK, "notrackctl_bypass_bytes_total",
		    "Bytes our NOTRACK rules let bypass conntrack, by policy entry, hook and family.", 1, sb);
	render_sums(s, OWNED_ROLE_KEEP, "notrackctl_keep_tracked_packets_total",
		    "Packets a keep_tracked exception sent on to conntrack, by policy entry, hook and family.", 0, sb);
	render_sums(s, OWNED_ROLE_KEEP, "notrackctl_keep_tracked_bytes_total",
		    "Bytes a keep_tracked exception sent on to conntrack, by policy entry, hook and family.", 1, sb);
	render_sums(s, OWNED_ROLE_ACCEPT, "notrackctl_untracked_accept_packets_total",
		    "Untracked packets our accept let through a filter chain, by family, table and chain.", 0, sb);
	render_sums(s, OWNED_ROLE_ACCEPT, "notrackctl_untracked_accept_bytes_total",
		    "Bytes of untracked packets our accept let through a filter chain, by family, table and chain.", 1,
		    sb);
	if (rep->has_drift)
		prom_single(sb, "notrackctl_drift", PROM_GAUGE,
			    "1 when our rules changed, or an untracked accept of ours is gone or no longer first, "
			    "since the current generation was applied; else 0.",
			    rep->drift);
}

static int render(const struct status_report *rep, const struct metrics_info *info, struct prom_out *out)
{
	const char *table = info->table ? info->table : RULESET_DEFAULT_TABLE;
	struct entry_sums sums = {0};
	int rules_ok = rep->rules_err.kind == DIAG_NONE;

	prom_family(out, "notrackctl_info", PROM_GAUGE, "Always 1; the labels say which notrackctl and backend.");
	{
		const char *labels[] = {"version", info->version, "backend", info->backend ? info->backend : "none",
					"table",   table,	  NULL};
		prom_sample(out, "notrackctl_info", labels, 1);
	}
	if (rules_ok && metrics_entry_sums(&rep->owned, table, &sums) < 0)
		return -ENOMEM;
	/* a section that failed has no samples; this says which */
	prom_family(out, "notrackctl_collector_success", PROM_GAUGE,
		    "1 when the section could be read on this run, else 0 (its metrics are then absent).");
	const struct {
		const char *name;
		const struct diag *err;
	} sect[] = {{"conntrack", &rep->table_err}, {"state", &rep->state_err}, {"rules", &rep->rules_err}};
	for (size_t i = 0; i < 3; i++) {
		const char *labels[] = {"collector", sect[i].name, NULL};
		prom_sample(out, "notrackctl_collector_success", labels, sect[i].err->kind == DIAG_NONE);
	}
	if (rep->table_err.kind == DIAG_NONE)
		render_table(&rep->table, out);
	if (rep->state_err.kind == DIAG_NONE)
		render_state(rep, out);
	if (rules_ok)
		render_rules(rep, &sums, out);
	entry_sums_free(&sums);
	return 0;
}

int metrics_render(const struct status_report *rep, const struct metrics_info *info, struct strbuf *out)
{
	struct prom_out o = {.text = out};

	return render(rep, info, &o) < 0 || out->oom ? -ENOMEM : 0;
}

int metrics_render_json(const struct status_report *rep, const struct metrics_info *info, json_t **out)
{
	struct prom_out o = {.families = json_array()};

	if (!o.families || render(rep, info, &o) < 0) {
		json_decref(o.families);
		return -ENOMEM;
	}
	*out = o.families;
	return 0;
}

int metrics_write_textfile(const char *dir, const char *text, struct diag *d)
{
	char path[4096];

	if (snprintf(path, sizeof(path), "%s/%s", dir, METRICS_TEXTFILE_NAME) >= (int)sizeof(path))
		return diag_fail(d, DIAG_USAGE, ENAMETOOLONG, NULL, "%s: path too long", dir);
	return inspect_write_file(path, text, d);
}
