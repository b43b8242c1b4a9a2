#include "diagnostics/inspect.h"

#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "diagnostics/ct_proc.h"
#include "compile/compile_source.h"
#include "engine/state.h"

/* ------------------------------------------------------------------ */
/* table use                                                            */

int inspect_table(const struct ct_ops *ct, struct table_use *t, struct diag *d)
{
	struct ct_global g;
	struct diag ignored;
	char *text = NULL;
	int r;

	memset(t, 0, sizeof(*t));
	diag_init(&ignored);
	/* ctnetlink first: it is the kernel's own interface, and the count it
	 * gives is this namespace's.  procfs says the same when ctnetlink is
	 * missing or refused. */
	if (ct->global(&g, &ignored) == 0) {
		t->count = g.count;
		t->max = g.max;
		t->has_max = g.has_max;
		t->count_source = "ctnetlink";
	} else {
		r = ct_proc_sysctl("nf_conntrack_count", &t->count);
		if (r < 0) {
			diag_free(&ignored);
			return diag_fail(d, DIAG_SYSTEM, -r, NULL,
					 "cannot read the conntrack count (%s): %s/nf_conntrack_count: %s", ignored.msg,
					 CT_PROC_SYSCTL_DIR, strerror(-r));
		}
		t->count_source = "proc";
	}
	diag_free(&ignored);
	/* in a network namespace nf_conntrack_max reads as the global value,
	 * which is also the limit the namespace's own count is held to */
	if (!t->has_max)
		t->has_max = ct_proc_sysctl("nf_conntrack_max", &t->max) == 0;
	t->has_buckets = ct_proc_sysctl("nf_conntrack_buckets", &t->buckets) == 0;

	diag_init(&ignored);
	if (ct->counters(&t->counters, &ignored) == 0 && t->counters.cpus) {
		t->has_counters = true;
		t->counters_source = "ctnetlink";
	} else if (ct_proc_read_text(CT_PROC_STAT_FILE, &text) == 0) {
		t->has_counters = ct_proc_parse_stat(text, &t->counters) == 0;
		t->counters_source = "proc";
		free(text);
	}
	diag_free(&ignored);
	advise_table_health(t->count, t->has_max ? t->max : 0, t->has_buckets ? t->buckets : 0,
			    t->has_counters ? t->counters.drop + t->counters.early_drop : 0, &t->health);
	return 0;
}

/* ------------------------------------------------------------------ */
/* status                                                               */

const char *inspect_owned_origin(const struct owned_object *o)
{
	/* the comment is "<table> <origin without $.>", or "<table>" for an accept */
	const char *space = strchr(o->comment, ' ');

	return space ? space + 1 : "";
}

enum owned_role inspect_owned_role(const struct owned_object *o)
{
	if (o->kind == OWNED_ACCEPT)
		return OWNED_ROLE_ACCEPT;
	if (o->kind == OWNED_JUMP)
		return OWNED_ROLE_JUMP;
	if (!strncmp(o->chain, "timeout_", strlen("timeout_")))
		return OWNED_ROLE_TIMEOUT;
	/* the route_localnet guard keeps tracked like an exception, though no
	 * policy entry wrote it */
	if (!strncmp(inspect_owned_origin(o), "keep_tracked", strlen("keep_tracked")) ||
	    !strncmp(inspect_owned_origin(o), "route_localnet", strlen("route_localnet")))
		return OWNED_ROLE_KEEP;
	return OWNED_ROLE_NOTRACK;
}

static const char *state_dir_or_default(const char *dir)
{
	return dir ? dir : STATE_DEFAULT_DIR;
}

/* A state directory that does not exist means nothing was ever applied; it
 * is not created just to be read. */
static int state_exists(const char *dir, bool *exists, struct diag *d)
{
	struct stat s;

	*exists = stat(dir, &s) == 0;
	if (!*exists && errno != ENOENT) {
		diag_set_file(d, dir);
		return diag_fail(d, errno == EACCES ? DIAG_PERMISSION : DIAG_STATE, errno, NULL,
				 "cannot read the state directory: %s", strerror(errno));
	}
	return 0;
}

/* The current generation's number and, if there is one, the generation. */
static int read_current(const char *dir, bool *exists, uint64_t *number, struct generation *g, struct diag *d)
{
	struct state st;
	int r;

	*number = 0;
	memset(g, 0, sizeof(*g));
	r = state_exists(dir, exists, d);
	if (r < 0 || !*exists)
		return r;
	r = state_open(&st, dir, d);
	if (r < 0)
		return r;
	r = state_current(&st, number, d);
	if (r == 0 && *number)
		r = state_load(&st, *number, g, d);
	state_close(&st);
	return r;
}

static void status_state(const struct status_config *cfg, struct status_report *rep)
{
	struct generation g;

	if (read_current(state_dir_or_default(cfg->state_dir), &rep->has_state_dir, &rep->generation, &g,
			 &rep->state_err) < 0)
		return;
	if (g.policy_file)
		rep->policy_file = strdup(g.policy_file);
	rep->applied_time = g.time;
	/* kept for the drift check once the rules are read */
	rep->recorded = g.owned;
	memset(&g.owned, 0, sizeof(g.owned));
	snprintf(rep->recorded_backend, sizeof(rep->recorded_backend), "%s", g.backend);
	snprintf(rep->recorded_table, sizeof(rep->recorded_table), "%s", g.table);
	generation_free(&g);
}

static void status_rules(const struct status_config *cfg, struct status_report *rep)
{
	const struct backend_options bo = {
	    .table = cfg->table ? cfg->table : RULESET_DEFAULT_TABLE,
	    .lock_timeout_ms = cfg->lock_timeout_ms >= 0 ? cfg->lock_timeout_ms : 30000,
	};
	struct backend *b = NULL;

	if (!cfg->backend || cfg->backend->open(&b, &bo, &rep->rules_err) < 0)
		return;
	if (cfg->backend->owned(b, true, &rep->owned, &rep->rules_err) == 0) {
		for (size_t i = 0; i < rep->owned.n; i++) {
			const struct owned_object *o = &rep->owned.v[i];
			if (o->has_counter && inspect_owned_role(o) == OWNED_ROLE_NOTRACK) {
				rep->bypassed_packets += o->packets;
				rep->bypassed_bytes += o->bytes;
			}
		}
	}
	cfg->backend->close(b);
}

/* A commit-confirmed apply that waits for confirmation, from the state
 * directory (read, never created). */
static void status_pending(const struct status_config *cfg, struct status_report *rep)
{
	struct state st;
	struct diag d;
	char when[32] = "?";
	struct tm tm;
	time_t t;

	snprintf(rep->pending, sizeof(rep->pending), "none");
	if (!rep->has_state_dir)
		return;
	diag_init(&d);
	if (state_open(&st, state_dir_or_default(cfg->state_dir), &d) == 0) {
		if (state_pending_read(&st, &rep->pending_detail, &d) == 0) {
			rep->has_pending = true;
			t = (time_t)rep->pending_detail.deadline;
			if (localtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			snprintf(rep->pending, sizeof(rep->pending),
				 "generation %" PRIu64 " until %s%s, then back to %" PRIu64 " (token %s)",
				 rep->pending_detail.generation, when,
				 state_pending_left_ms(&rep->pending_detail) <= 0 ? " (deadline passed)" : "",
				 rep->pending_detail.rollback_to, rep->pending_detail.token);
		} else if (state_expired_read(&st, &rep->expired, &d) == 0) {
			/* the last one that was not confirmed in time, until the next apply */
			rep->has_expired = true;
			if (rep->expired.refused)
				snprintf(rep->pending, sizeof(rep->pending),
					 "none; generation %" PRIu64 " was not confirmed in time, and its rollback "
					 "was refused: it stays live, unconfirmed (%.100s)",
					 rep->expired.generation, rep->expired.reason);
			else
				snprintf(rep->pending, sizeof(rep->pending),
					 "none; generation %" PRIu64
					 " was not confirmed in time and was rolled back to "
					 "%" PRIu64,
					 rep->expired.generation, rep->expired.rolled_back);
		}
		state_close(&st);
	}
	diag_free(&d);
}

/* An accept the generation recorded, found live by where it sits (an
 * iptables rule's number moves when others insert before it). */
static const struct owned_object *live_accept(const struct owned_list *live, const struct owned_object *o)
{
	for (size_t i = 0; i < live->n; i++) {
		const struct owned_object *l = &live->v[i];
		if (l->kind == OWNED_ACCEPT && !strcmp(l->family, o->family) && !strcmp(l->table, o->table) &&
		    !strcmp(l->chain, o->chain))
			return l;
	}
	return NULL;
}

/*
 * Compares the kernel with what the current generation recorded.  The
 * digest covers our own table or chains; the accepts in others' chains are
 * not in it (their owners may reload them), but an accept that is gone, or
 * that someone put another rule before, no longer lets untracked packets
 * through, which is what an operator needs to hear about.
 */
static void status_drift(const struct status_config *cfg, struct status_report *rep)
{
	if (!rep->generation || rep->state_err.kind != DIAG_NONE || rep->rules_err.kind != DIAG_NONE || !cfg->backend ||
	    strcmp(rep->recorded_backend, cfg->backend->name) ||
	    strcmp(rep->recorded_table, cfg->table ? cfg->table : RULESET_DEFAULT_TABLE) ||
	    !digest_comparable(rep->recorded.digest, rep->owned.digest))
		return;
	rep->has_drift = true;
	/* the accepts first: the iptables digest also moves when one of them
	 * does, and "no longer first in INPUT" says more than a digest */
	for (size_t i = 0; i < rep->recorded.n; i++) {
		const struct owned_object *o = &rep->recorded.v[i], *l;
		if (o->kind != OWNED_ACCEPT)
			continue;
		l = live_accept(&rep->owned, o);
		if (!l || l->not_first) {
			rep->drift = true;
			snprintf(rep->drift_what, sizeof(rep->drift_what), "our untracked accept in %s %s %s is %s",
				 o->family, o->table, o->chain, l ? "no longer first in its chain" : "gone");
			return;
		}
	}
	if (strcmp(rep->recorded.digest, rep->owned.digest)) {
		rep->drift = true;
		snprintf(rep->drift_what, sizeof(rep->drift_what),
			 "our rules changed since generation %" PRIu64 " (digest %s, now %s)", rep->generation,
			 rep->recorded.digest, rep->owned.digest);
	}
}

/* The conntrack values the current generation set, and whether they still
 * hold: a sysctl.d file, kube-proxy or an admin may have changed them. */
static void status_conntrack(const struct status_config *cfg, struct status_report *rep)
{
	struct ruleset rs = {0};
	uint64_t gen;
	bool present;
	char *file;

	if (inspect_current_policy(cfg->state_dir, cfg->table, &present, &gen, &file, &rs, &rep->ct_err) < 0)
		return;
	free(file);
	for (size_t i = 0; present && i < rs.n_conntrack; i++) {
		const struct ct_value *w = &rs.conntrack[i];
		struct diag rd;
		long long now;

		diag_init(&rd);
		if (ct_values_set(&rep->ct_want, w->key, w->value) < 0) {
			diag_fail(&rep->ct_err, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
			diag_free(&rd);
			break;
		}
		if (ct_sysctl_read(w->key, &now, &rd) == 0)
			ct_values_set(&rep->ct_live, w->key, now);
		if (rd.kind != DIAG_NONE || now != w->value)
			rep->ct_drift++;
		diag_free(&rd);
	}
	ruleset_free(&rs);
}

void inspect_status(const struct status_config *cfg, struct status_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	diag_init(&rep->table_err);
	diag_init(&rep->state_err);
	diag_init(&rep->rules_err);
	diag_init(&rep->ct_err);
	inspect_table(cfg->ct, &rep->table, &rep->table_err);
	status_state(cfg, rep);
	status_pending(cfg, rep);
	status_rules(cfg, rep);
	status_drift(cfg, rep);
	status_conntrack(cfg, rep);
}

void status_report_free(struct status_report *rep)
{
	free(rep->policy_file);
	owned_list_free(&rep->owned);
	owned_list_free(&rep->recorded);
	diag_free(&rep->table_err);
	diag_free(&rep->state_err);
	diag_free(&rep->rules_err);
	diag_free(&rep->ct_err);
	ct_values_free(&rep->ct_want);
	ct_values_free(&rep->ct_live);
	memset(rep, 0, sizeof(*rep));
}

/* ------------------------------------------------------------------ */
/* top                                                                  */

int inspect_current_policy(const char *state_dir, const char *table, bool *present, uint64_t *generation, char **file,
			   struct ruleset *rs, struct diag *d)
{
	struct policy_source src = {0};
	struct generation g;
	bool exists;
	int r;

	*present = false;
	*file = NULL;
	r = read_current(state_dir_or_default(state_dir), &exists, generation, &g, d);
	if (r < 0)
		return r;
	if (!*generation || !g.policy) { /* nothing applied, or a remove */
		generation_free(&g);
		return 0;
	}
	src.file = g.policy_file ? g.policy_file : "(current generation)";
	src.text = g.policy;
	src.len = strlen(g.policy);
	/* compiled as it was applied: same table, no host checks (those only warn) */
	r = compile_source(&src, g.table[0] ? g.table : table, false, rs, d);
	if (r == 0) {
		*present = true;
		*file = strdup(src.file);
	}
	generation_free(&g);
	return r;
}

int inspect_host(struct host_addr **addrs, size_t *n, struct diag *d)
{
	int r = host_addrs(addrs, n);

	if (r < 0)
		return diag_fail(d, DIAG_SYSTEM, -r, NULL, "cannot list the local addresses: %s", strerror(-r));
	return 0;
}

struct top_ctx {
	const struct top_request *req;
	struct top_report *rep;
};

static int top_entry(const struct ct_entry *e, void *data)
{
	struct top_ctx *c = data;

	ct_agg_add(&c->rep->agg, e);
	for (int i = 0; i < TOP_POLICIES; i++)
		if (c->rep->has_cov[i])
			coverage_add(&c->rep->cov[i], e);
	if (c->req->progress && !(c->rep->agg.total & 1023))
		c->req->progress(c->rep->agg.total, c->rep->expected, c->req->progress_ctx);
	return 0;
}

int inspect_top(const struct top_request *req, struct top_report *rep, struct diag *d)
{
	struct top_ctx c = {.req = req, .rep = rep};
	struct ct_global g;
	struct diag ignored;
	int r;

	memset(rep, 0, sizeof(*rep));
	if (ct_agg_init(&rep->agg, req->capacity) < 0)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	for (int i = 0; i < TOP_POLICIES; i++) {
		if (!req->policies[i])
			continue;
		if (coverage_init(&rep->cov[i], req->policies[i], req->host) < 0) {
			top_report_free(rep);
			return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
		}
		rep->has_cov[i] = true;
	}
	/* the count before the dump, for the progress display only */
	diag_init(&ignored);
	if (req->ct->global(&g, &ignored) == 0)
		rep->expected = g.count;
	else
		ct_proc_sysctl("nf_conntrack_count", &rep->expected);
	diag_free(&ignored);

	r = req->ct->dump(top_entry, &c, d);
	if (req->progress)
		req->progress(rep->agg.total, rep->expected, req->progress_ctx);
	if (r < 0)
		top_report_free(rep);
	return r;
}

void top_report_free(struct top_report *rep)
{
	ct_agg_free(&rep->agg);
	for (int i = 0; i < TOP_POLICIES; i++)
		if (rep->has_cov[i])
			coverage_free(&rep->cov[i]);
	memset(rep, 0, sizeof(*rep));
}

/* ------------------------------------------------------------------ */
/* advise                                                               */

struct advise_dump {
	struct ct_agg *agg;
	struct advise_ports *ports; /* NULL: not asked for */
	const struct policy *policy;
};

static int advise_entry(const struct ct_entry *e, void *data)
{
	struct advise_dump *ad = data;

	ct_agg_add(ad->agg, e);
	if (ad->ports)
		advise_ports_add(ad->ports, ad->policy, e);
	return 0;
}

/* Polls the count every 100 ms for sample_ms and returns the largest seen. */
static uint64_t sample_peak(const struct ct_ops *ct, unsigned sample_ms)
{
	uint64_t peak = 0;

	for (unsigned waited = 0; waited < sample_ms; waited += 100) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		struct ct_global g;
		struct diag ignored;
		uint64_t count;
		diag_init(&ignored);
		if (ct->global(&g, &ignored) == 0)
			count = g.count;
		else if (ct_proc_sysctl("nf_conntrack_count", &count) < 0)
			count = 0;
		diag_free(&ignored);
		if (count > peak)
			peak = count;
		nanosleep(&ts, NULL);
	}
	return peak;
}

/* Entries per timeout: each TCP state has its own, UDP has two. */
static void timeout_mix(const struct ct_agg *a, struct advise_mix *mix)
{
	memset(mix, 0, sizeof(*mix));
	mix->total = a->total;
	mix->entries[ADV_TCP_ESTABLISHED] = a->tcp_state[TCP_CONNTRACK_ESTABLISHED];
	mix->entries[ADV_TCP_TIME_WAIT] = a->tcp_state[TCP_CONNTRACK_TIME_WAIT];
	mix->entries[ADV_TCP_CLOSE_WAIT] = a->tcp_state[TCP_CONNTRACK_CLOSE_WAIT];
	mix->entries[ADV_TCP_FIN_WAIT] = a->tcp_state[TCP_CONNTRACK_FIN_WAIT];
	mix->entries[ADV_TCP_SYN_SENT] = a->tcp_state[TCP_CONNTRACK_SYN_SENT] + a->tcp_state[TCP_CONNTRACK_SYN_SENT2];
	mix->entries[ADV_TCP_SYN_RECV] = a->tcp_state[TCP_CONNTRACK_SYN_RECV];
	/* a UDP entry uses the stream timeout once it is assured */
	mix->entries[ADV_UDP] = a->proto[IPPROTO_UDP] - a->udp_assured;
	mix->entries[ADV_UDP_STREAM] = a->udp_assured;
}

int inspect_advise(const struct advise_request *req, struct advise_report *rep, struct diag *d)
{
	struct advise_input in = {0};
	char *text = NULL;
	int r;

	memset(rep, 0, sizeof(*rep));
	r = inspect_table(req->ct, &rep->table, d);
	if (r < 0)
		return r;
	rep->ram = req->ram;
	if (!rep->ram && ct_proc_ram(&rep->ram) < 0)
		return diag_fail(d, DIAG_SYSTEM, errno, NULL, "cannot read the amount of RAM: %s", strerror(errno));
	rep->objsize = req->objsize;
	rep->objsize_source = "given";
	if (!rep->objsize) {
		rep->objsize = ADVISE_DEFAULT_OBJSIZE;
		rep->objsize_source = "default";
		/* root-only on most systems; the default then stands in */
		if (ct_proc_read_text(CT_PROC_SLABINFO, &text) == 0 &&
		    ct_proc_parse_slab(text, "nf_conntrack", &rep->objsize) == 0)
			rep->objsize_source = "slabinfo";
		free(text);
	}
	for (int t = 0; t < ADV_TIMEOUTS; t++)
		if (ct_proc_sysctl(advise_timeout_sysctl(t), &rep->timeouts[t]) < 0)
			rep->timeouts[t] = advise_timeout_default(t);

	if (ct_agg_init(&rep->agg, 0) < 0)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	if (req->per_port && advise_ports_init(&rep->ports) < 0)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	struct advise_dump ad = {&rep->agg, req->per_port ? &rep->ports : NULL, req->policy};
	r = req->ct->dump(advise_entry, &ad, d);
	if (r < 0)
		return r;

	rep->peak = rep->table.count > req->peak ? rep->table.count : req->peak;
	if (rep->agg.total > rep->peak)
		rep->peak = rep->agg.total;
	if (req->sample_ms) {
		uint64_t sampled = sample_peak(req->ct, req->sample_ms);
		if (sampled > rep->peak)
			rep->peak = sampled;
	}
	in.ram = rep->ram;
	in.objsize = rep->objsize;
	in.count = rep->table.count;
	in.peak = rep->peak;
	in.max = rep->table.max;
	in.buckets = rep->table.has_buckets ? rep->table.buckets : rep->table.max;
	in.drops = rep->table.has_counters ? rep->table.counters.drop + rep->table.counters.early_drop : 0;
	advise_sizes(&in, &rep->sizes);

	timeout_mix(&rep->agg, &rep->mix);
	/* under pressure: the table is at least half full, or has overflowed */
	rep->mix.pressure = in.drops > 0 || (in.max && rep->peak * 2 >= in.max);
	rep->n_items = advise_timeouts(&rep->mix, rep->timeouts, rep->items);
	if (!req->per_port)
		return 0;
	memcpy(rep->global_after, rep->timeouts, sizeof(rep->global_after));
	for (size_t i = 0; i < rep->n_items; i++)
		if (rep->items[i].change)
			rep->global_after[rep->items[i].which] = rep->items[i].recommended;
	rep->n_port_items = advise_port_timeouts(&rep->ports, rep->agg.total, rep->global_after, rep->port_items);
	return 0;
}

void advise_report_free(struct advise_report *rep)
{
	ct_agg_free(&rep->agg);
	advise_ports_free(&rep->ports);
	memset(rep, 0, sizeof(*rep));
}

/* The rename is durable only once the directory that holds the new name is
 * on disk too: until then a crash may bring back the old file, or none. */
static int sync_parent(const char *path, struct diag *d)
{
	const char *slash = strrchr(path, '/');
	char dir[4200];
	int fd, err = 0;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		err = errno;
	if (fd >= 0)
		close(fd);
	if (err) {
		diag_set_file(d, dir);
		return diag_fail(d, DIAG_SYSTEM, err, NULL, "cannot sync the directory: %s", strerror(err));
	}
	return 0;
}

int inspect_write_file(const char *path, const char *text, struct diag *d)
{
	char tmp[4200];
	FILE *f;
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.notrackctl-%d.tmp", path, (int)getpid()) >= (int)sizeof(tmp))
		return diag_fail(d, DIAG_USAGE, ENAMETOOLONG, NULL, "%s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	/* open's mode is filtered by the umask, and a root shell's 077 would leave a
	 * sysctl.d file or a textfile that node_exporter (not root) cannot read:
	 * set the documented 0644 explicitly. */
	if (fd >= 0 && fchmod(fd, 0644) < 0) {
		err = errno;
		close(fd);
		unlink(tmp);
		diag_set_file(d, path);
		return diag_fail(d, DIAG_SYSTEM, err, NULL, "cannot set mode 0644: %s", strerror(err));
	}
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		err = errno;
		if (fd >= 0)
			close(fd);
		diag_set_file(d, path);
		return diag_fail(d, err == EACCES ? DIAG_PERMISSION : DIAG_SYSTEM, err, NULL, "cannot write: %s",
				 strerror(err));
	}
	/* a sysctl.d file read half-written at boot would be worse than none */
	if (fputs(text, f) == EOF || fflush(f) == EOF || fsync(fileno(f)) < 0)
		err = errno;
	if (fclose(f) == EOF && !err)
		err = errno;
	if (!err && rename(tmp, path) < 0)
		err = errno;
	if (err) {
		unlink(tmp);
		diag_set_file(d, path);
		return diag_fail(d, err == EACCES ? DIAG_PERMISSION : DIAG_SYSTEM, err, NULL, "cannot write: %s",
				 strerror(err));
	}
	return sync_parent(path, d);
}

/* The policy to write into: the file's, checked, or a new one. */
static int policy_to_edit(const char *path, json_t **root, struct policy *pol, struct diag *d)
{
	struct policy_source src = {0};
	json_error_t jerr;
	int r;

	memset(pol, 0, sizeof(*pol));
	if (access(path, F_OK) < 0) {
		*root = json_pack("{s:i}", "version", POLICY_VERSION);
		return *root ? 0 : diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	}
	r = policy_source_read(&src, path, d);
	if (r == 0)
		r = policy_parse(&src, pol, d);
	if (r < 0) {
		policy_locate(&src, d);
		policy_source_free(&src);
		return r;
	}
	*root = json_loadb(src.text, src.len, JSON_REJECT_DUPLICATES, &jerr);
	policy_source_free(&src);
	if (*root)
		return 0;
	policy_free(pol);
	return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
}

int inspect_write_policy(const char *path, struct ct_value *v, size_t *n, const struct advise_port_item *ports,
			 size_t *n_ports, struct strbuf *notes, struct diag *d)
{
	struct policy_source check = {.file = (char *)path};
	bool exists = access(path, F_OK) == 0;
	struct policy pol, old;
	json_t *root, *ct;
	char *text = NULL;
	size_t kept = 0;
	int r = policy_to_edit(path, &root, &old, d);

	if (r < 0)
		return r;
	r = advise_ports_merge(root, exists ? &old : NULL, ports, *n_ports, notes);
	policy_free(&old);
	if (r < 0) {
		json_decref(root);
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	}
	*n_ports = (size_t)r;
	ct = json_object_get(root, "conntrack");
	if (!ct) {
		ct = json_object();
		json_object_set_new(root, "conntrack", ct);
	}
	for (size_t i = 0; i < *n; i++) {
		struct diag probe;
		diag_init(&probe);
		if (ct_sysctl_check(&v[i], 1, &probe) < 0) {
			strbuf_printf(notes, "left out %s = %lld: %s\n", v[i].key, v[i].value,
				      probe.err == ENOENT
					  ? "this kernel has no such setting"
					  : "it cannot be written in this network namespace or container; "
					    "set it on the host");
		} else {
			json_object_set_new(ct, v[i].key, json_integer((json_int_t)v[i].value));
			v[kept++] = v[i];
		}
		diag_free(&probe);
	}
	*n = kept;
	if (!kept && !exists && !*n_ports) {
		json_decref(root);
		return 0;
	}
	if (!json_object_size(ct))
		json_object_del(root, "conntrack");
	text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (!text || notes->oom) {
		free(text);
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	}
	/* what apply will read must parse, or nothing is written */
	check.text = text;
	check.len = strlen(text);
	r = policy_parse(&check, &pol, d);
	if (r == 0) {
		policy_free(&pol);
		size_t len = strlen(text);
		char *line = realloc(text, len + 2);
		if (!line) {
			free(text);
			return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
		}
		text = line;
		memcpy(text + len, "\n", 2);
		r = inspect_write_file(path, text, d);
	}
	free(text);
	return r;
}
