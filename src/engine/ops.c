#include "engine/ops.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/confirm_timer.h"
#include "emit/emit.h"
#include "emit/ipt_lower.h"
#include "backend/iptables/lint_ipt.h"
#include "emit/ipt_size.h"
#include "engine/ct_sysctl.h"
#include "engine/listeners.h"
#include "engine/stamp.h"
#include "compile/compile_source.h"
#include "util/host.h"

#define DEFAULT_LOCK_TIMEOUT_MS 30000

static const char *cfg_table(const struct op_config *cfg)
{
	return cfg->table ? cfg->table : RULESET_DEFAULT_TABLE;
}

void op_result_free(struct op_result *res)
{
	txn_result_free(&res->txn);
	ruleset_free(&res->rs);
	lint_report_free(&res->lint);
	ct_values_free(&res->ct_from);
	ct_values_free(&res->ct_to);
	memset(res, 0, sizeof(*res));
}

struct session {
	struct state st;
	struct backend *b;
	bool st_open;
};

/* How a run treats a change an earlier run left journaled: every run
 * finishes or drops it when the kernel says which; restore also resolves
 * what nothing else can, since it puts the current generation back anyway. */
enum recovery {
	RECOVER_OR_FAIL,
	RECOVER_RESTORING,
};

static int recover_interrupted(const struct op_config *cfg, struct session *s, enum recovery mode, struct diag *d);

/* What DIR/known holds for (state.h): the backend's bytes are only about
 * this boot's kernel, in this network namespace, for this table. */
static int known_tag(const struct op_config *cfg, char *out, size_t size)
{
	char boot[40];
	uint64_t cookie;

	if (!cfg->backend->known_load || host_boot_id(boot) < 0 || host_netns_cookie(&cookie) < 0)
		return -1;
	snprintf(out, size, "boot %s netns %" PRIu64 " backend %s table %s", boot, cookie, cfg->backend->name,
		 cfg_table(cfg));
	return 0;
}

/* A large set changed a little is planned from what the last run knew
 * rather than dumped again, while the kernel's generation says it holds. */
static void known_load(const struct op_config *cfg, struct session *s)
{
	char tag[256], *data;
	size_t len;

	if (known_tag(cfg, tag, sizeof(tag)) == 0 && state_known_read(&s->st, tag, &data, &len) == 0) {
		cfg->backend->known_load(s->b, data, len);
		free(data);
	}
}

static void known_save(const struct op_config *cfg, struct session *s)
{
	_cleanup_strbuf_ struct strbuf blob;
	struct diag ignored;
	char tag[256];

	strbuf_init(&blob);
	if (known_tag(cfg, tag, sizeof(tag)) < 0 || cfg->backend->known_save(s->b, &blob) < 0 || !blob.len)
		return;
	diag_init(&ignored);
	state_known_write(&s->st, tag, blob.data, blob.len, &ignored);
	diag_free(&ignored);
}

static int session_open_for(const struct op_config *cfg, bool lock, enum recovery mode, struct session *s,
			    struct diag *d)
{
	const struct backend_options bo = {
	    .table = cfg_table(cfg),
	    .lock_timeout_ms = cfg->lock_timeout_ms >= 0 ? cfg->lock_timeout_ms : DEFAULT_LOCK_TIMEOUT_MS,
	};
	int r;

	memset(s, 0, sizeof(*s));
	s->st.lock_fd = -1;
	r = state_open(&s->st, cfg->state_dir ? cfg->state_dir : STATE_DEFAULT_DIR, d);
	if (r < 0)
		return r;
	s->st_open = true;
	/* one writer at a time: the lock spans read, plan, commit and record */
	if (lock) {
		r = state_lock(&s->st, bo.lock_timeout_ms, d);
		if (r < 0)
			return r;
	}
	r = cfg->backend->open(&s->b, &bo, d);
	if (r == 0)
		known_load(cfg, s);
	if (r == 0 && lock)
		r = recover_interrupted(cfg, s, mode, d);
	return r;
}

static void session_close(const struct op_config *cfg, struct session *s)
{
	/* only a writer, holding the lock, leaves what it knew */
	if (s->b && s->st.lock_fd >= 0)
		known_save(cfg, s);
	if (s->b)
		cfg->backend->close(s->b);
	if (s->st_open)
		state_close(&s->st);
}

/* Every operation starts here: a session (locked for writers) and the
 * current generation, which is also where it ends unless it changes. */
static int session_begin_for(const struct op_config *cfg, bool lock, enum recovery mode, struct session *s,
			     struct op_result *res, struct diag *d)
{
	int r = session_open_for(cfg, lock, mode, s, d);

	if (r == 0)
		r = state_current(&s->st, &res->generation_from, d);
	res->generation_to = res->generation_from;
	return r;
}

static int session_begin(const struct op_config *cfg, bool lock, struct session *s, struct op_result *res,
			 struct diag *d)
{
	return session_begin_for(cfg, lock, RECOVER_OR_FAIL, s, res, d);
}

/*
 * Notes what generation `number` looks like now that this run made it live
 * (state.h, struct live_record), from our objects as just read.  Best
 * effort: without the record a later rollback compares with the
 * generation file, as before it existed.
 */
static void note_live(struct session *s, uint64_t number, uint64_t kernel_generation, const char *owned_digest)
{
	struct live_record l = {.generation = number, .kernel_generation = kernel_generation};
	struct diag ignored;

	if (host_boot_id(l.boot_id) < 0)
		return;
	snprintf(l.owned_digest, sizeof(l.owned_digest), "%s", owned_digest);
	diag_init(&ignored);
	state_live_write(&s->st, &l, &ignored);
	diag_free(&ignored);
}

static void note_live_now(const struct op_config *cfg, struct session *s, uint64_t number, uint64_t kernel_generation)
{
	struct owned_list now;
	struct diag ignored;

	diag_init(&ignored);
	if (cfg->backend->owned(s->b, false, &now, &ignored) == 0) {
		note_live(s, number, kernel_generation, now.digest);
		owned_list_free(&now);
	}
	diag_free(&ignored);
}

/* Records what is now live as a new generation and makes it current. */
static int record(const struct op_config *cfg, struct session *s, const char *action, const struct policy_source *src,
		  const char *src_digest, const struct ruleset *rs, struct op_result *res, struct diag *d)
{
	struct generation g = {0};
	struct strbuf text;
	uint64_t last;
	int r;

	r = state_last(&s->st, &last, d);
	if (r < 0)
		return r;
	strbuf_init(&text);
	text.limit = STATE_COMPILED_MAX;
	if (rs)
		cfg->backend->render(rs, &text);
	g.compiled_omitted = text.over_limit;
	g.number = (last > res->generation_from ? last : res->generation_from) + 1;
	g.parent = res->generation_from;
	snprintf(g.action, sizeof(g.action), "%s", action);
	snprintf(g.backend, sizeof(g.backend), "%s", cfg->backend->name);
	snprintf(g.table, sizeof(g.table), "%s", cfg_table(cfg));
	g.time = (int64_t)time(NULL);
	g.policy_file = src ? src->file : NULL;
	g.policy = src ? src->text : NULL;
	if (src && src_digest)
		snprintf(g.policy_digest, sizeof(g.policy_digest), "%s", src_digest);
	else if (src)
		digest_text(src->text, src->len, g.policy_digest);
	else
		snprintf(g.policy_digest, sizeof(g.policy_digest), "none");
	g.kernel_generation = res->txn.kernel_generation;
	g.compiled = text.oom ? NULL : text.data;
	r = cfg->backend->owned(s->b, false, &g.owned, d);
	if (r == 0)
		r = state_save(&s->st, &g, d);
	strbuf_free(&text);
	if (r == 0) {
		txn_test_pause("after-save");
		/* the journal's clear, which follows, makes it durable */
		r = state_set_current_then_clear(&s->st, g.number, d);
	}
	if (r == 0) {
		res->generation_to = g.number;
		note_live(s, g.number, g.kernel_generation, g.owned.digest);
	}
	owned_list_free(&g.owned);
	return r;
}

/* ------------------------------------------------------------------ */
/* journaled changes                                                    */

/*
 * What one change wants the kernel to hold (NULL: nothing of ours), and
 * what it records afterwards.  Every change to the kernel goes through
 * run_change(): the intent is journaled before the batch goes out and
 * cleared once the result is recorded, so that a run killed in between (or
 * a state directory that fails to write) never leaves the kernel and the
 * state disagreeing for good.
 */
struct change {
	struct intent in;
	const struct ruleset *desired;
	const struct policy_source *src; /* apply: the policy recorded with the generation */
	const char *src_digest;		 /* its digest, when the caller has it already */
};

static int finish_change(const struct op_config *cfg, struct session *s, const struct change *c, struct op_result *res,
			 struct diag *d)
{
	const char *action = c->in.action;

	if (!strcmp(action, "apply") || !strcmp(action, "remove"))
		return res->txn.changed || res->ct_changed
			   ? record(cfg, s, action, c->src, c->src_digest, c->desired, res, d)
			   : 0;
	/* rollback, restore: the target generation becomes current */
	if (c->in.to != res->generation_from) {
		int r = state_set_current(&s->st, c->in.to, d);
		if (r < 0)
			return r;
	}
	res->generation_to = c->in.to;
	note_live_now(cfg, s, c->in.to, res->txn.kernel_generation);
	return 0;
}

/* Generation n's rules, compiled again (empty for 0 or a remove). */
struct loaded {
	struct generation gen;
	struct policy_source src;
	struct op_result res;
};

static void loaded_free(struct loaded *l)
{
	generation_free(&l->gen);
	policy_source_free(&l->src);
	op_result_free(&l->res);
}

static int load_generation_rules(const struct op_config *cfg, struct session *s, uint64_t to, struct generation *target,
				 struct policy_source *src, struct op_result *res, struct diag *d);

static int load(const struct op_config *cfg, struct session *s, uint64_t n, struct loaded *l, struct diag *d)
{
	memset(l, 0, sizeof(*l));
	return n ? load_generation_rules(cfg, s, n, &l->gen, &l->src, &l->res, d) : 0;
}

static const struct ruleset *loaded_rules(const struct loaded *l)
{
	return l->res.rs.table[0] ? &l->res.rs : NULL;
}

/* The kernel took the change but the state could not record it: put
 * generation `from` back so the two agree again. */
static int compensate(const struct op_config *cfg, struct session *s, uint64_t from, struct diag *d)
{
	struct txn_result tr;
	struct loaded l;
	struct diag cd;
	int r;

	diag_init(&cd);
	r = load(cfg, s, from, &l, &cd);
	if (r == 0)
		r = txn_run(cfg->backend, s->b, loaded_rules(&l), false, &tr, &cd);
	if (r == 0)
		txn_result_free(&tr);
	/* the failed write may have gone as far as pointing current elsewhere */
	if (r == 0)
		r = state_set_current(&s->st, from, &cd);
	if (r == 0) {
		size_t n = strlen(d->msg);
		snprintf(d->msg + n, sizeof(d->msg) - n, "; the kernel was put back to generation %" PRIu64, from);
	} else {
		size_t n = strlen(d->msg);
		snprintf(d->msg + n, sizeof(d->msg) - n,
			 "; putting generation %" PRIu64 " back failed too (%s): the next run repairs it", from,
			 cd.msg);
	}
	loaded_free(&l);
	diag_free(&cd);
	return r;
}

struct journal {
	struct session *s;
	const struct intent *in;
	bool written;
};

static int journal_before_commit(void *ctx, struct diag *d)
{
	struct journal *j = ctx;
	int r = state_intent_write(&j->s->st, j->in, d);

	j->written = r == 0;
	return r;
}

/* ------------------------------------------------------------------ */
/* the conntrack sysctls                                                */

/*
 * The "conntrack" section's values go in after the rule transaction, as
 * part of the same change: the baseline (what the kernel held before we
 * first set a key) is saved first, then the values are written, and a
 * failure anywhere after puts back both the values and the rules.
 */
struct ct_step {
	struct ct_values old_baseline; /* as the change found it */
	struct ct_values before;       /* every value it wrote, as it was */
	bool wrote;
};

static void ct_step_free(struct ct_step *cs)
{
	ct_values_free(&cs->old_baseline);
	ct_values_free(&cs->before);
}

static const struct ct_value *change_ct(const struct change *c, size_t *n)
{
	*n = c->desired ? c->desired->n_conntrack : 0;
	return c->desired ? c->desired->conntrack : NULL;
}

static int note_ct_change(struct op_result *res, const char *key, long long from, long long to, struct diag *d)
{
	res->ct_changed = true;
	if (ct_values_set(&res->ct_from, key, from) < 0 || ct_values_set(&res->ct_to, key, to) < 0)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	return 0;
}

/* Before anything changes: every value can be written here.  A check-only
 * run also says which values would change. */
static int ct_plan(const struct op_config *cfg, struct session *s, const struct change *c, struct op_result *res,
		   struct diag *d)
{
	struct ct_values base;
	size_t n;
	const struct ct_value *want = change_ct(c, &n);
	int r = ct_sysctl_check(want, n, d);

	if (r < 0 || !cfg->check_only)
		return r;
	for (size_t i = 0; r == 0 && i < n; i++) {
		long long now;
		r = ct_sysctl_read(want[i].key, &now, d);
		if (r == 0 && now != want[i].value)
			r = note_ct_change(res, want[i].key, now, want[i].value, d);
	}
	if (r == 0)
		r = state_ct_baseline_read(&s->st, &base, d);
	if (r < 0)
		return r;
	for (size_t i = 0; r == 0 && i < base.n; i++) {
		bool kept = false;
		long long now;
		for (size_t k = 0; k < n; k++)
			kept = kept || !strcmp(want[k].key, base.v[i].key);
		if (!kept)
			r = ct_sysctl_read(base.v[i].key, &now, d);
		if (!kept && r == 0 && now != base.v[i].value)
			r = note_ct_change(res, base.v[i].key, now, base.v[i].value, d);
	}
	ct_values_free(&base);
	return r;
}

static int ct_step_run(struct session *s, const struct change *c, struct ct_step *cs, struct op_result *res,
		       struct diag *d)
{
	struct ct_values base;
	size_t n, before_release;
	const struct ct_value *want = change_ct(c, &n);
	bool grew = false;
	int r = state_ct_baseline_read(&s->st, &base, d);

	if (r < 0 || (!n && !base.n))
		return r;
	for (size_t i = 0; r == 0 && i < base.n; i++)
		if (ct_values_set(&cs->old_baseline, base.v[i].key, base.v[i].value) < 0)
			r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	if (r == 0)
		r = ct_sysctl_note_baseline(want, n, &base, &grew, d);
	if (r == 0 && grew)
		r = state_ct_baseline_write(&s->st, &base, d);
	before_release = base.n;
	if (r == 0) {
		txn_test_pause("before-sysctl");
		r = ct_sysctl_apply(want, n, &base, &cs->before, &res->ct_changed, d);
	}
	if (r == 0) {
		cs->wrote = true;
	} else if (grew) {
		/* ct_sysctl_apply() put back what it wrote: so goes the baseline */
		struct diag ignored;
		diag_init(&ignored);
		state_ct_baseline_write(&s->st, &cs->old_baseline, &ignored);
		diag_free(&ignored);
	}
	/* read back: what the kernel holds now is what the change reports */
	for (size_t i = 0; r == 0 && i < cs->before.n; i++) {
		long long now;
		r = ct_sysctl_read(cs->before.v[i].key, &now, d);
		if (r == 0)
			r = note_ct_change(res, cs->before.v[i].key, cs->before.v[i].value, now, d);
	}
	if (r == 0)
		txn_test_pause("after-sysctl");
	/* keys released: their values are back, so they leave the baseline */
	if (r == 0 && base.n != before_release)
		r = state_ct_baseline_write(&s->st, &base, d);
	ct_values_free(&base);
	return r;
}

/* A later step failed: the values go back as the change found them. */
static void ct_step_undo(struct session *s, struct ct_step *cs, struct diag *d)
{
	struct diag ud;

	diag_init(&ud);
	if (cs->wrote && ct_sysctl_undo(&cs->before, &ud) == 0)
		state_ct_baseline_write(&s->st, &cs->old_baseline, &ud);
	if (ud.kind != DIAG_NONE) {
		size_t len = strlen(d->msg);
		snprintf(d->msg + len, sizeof(d->msg) - len, "; putting the conntrack values back failed: %s", ud.msg);
	}
	diag_free(&ud);
}

/* Whether applying `rs` would write a conntrack value: one it sets differs
 * from the live value, or one we set is no longer wanted.  Unreadable
 * counts as different: the change itself then says why. */
static bool ct_differs(struct session *s, const struct ruleset *rs)
{
	struct ct_values base;
	struct diag scratch;
	bool differs = false;

	diag_init(&scratch);
	if (state_ct_baseline_read(&s->st, &base, &scratch) < 0) {
		diag_free(&scratch);
		return true;
	}
	size_t n = rs ? rs->n_conntrack : 0;

	for (size_t i = 0; !differs && i < n; i++) {
		long long now;
		differs = ct_sysctl_read(rs->conntrack[i].key, &now, &scratch) < 0 || now != rs->conntrack[i].value;
	}
	for (size_t i = 0; !differs && i < base.n; i++) {
		bool kept = false;
		for (size_t k = 0; k < n; k++)
			kept = kept || !strcmp(rs->conntrack[k].key, base.v[i].key);
		differs = !kept;
	}
	ct_values_free(&base);
	diag_free(&scratch);
	return differs;
}

/* Recovery: makes the conntrack values those of `desired` (NULL: none of
 * ours), as an interrupted change left them half done. */
static int ct_settle(struct session *s, const struct ruleset *desired, struct diag *d)
{
	struct change c = {.desired = desired};
	struct op_result res = {0};
	struct ct_step cs = {0};
	int r = ct_step_run(s, &c, &cs, &res, d);

	ct_step_free(&cs);
	ct_values_free(&res.ct_from);
	ct_values_free(&res.ct_to);
	return r;
}

static int run_change(const struct op_config *cfg, struct session *s, struct change *c, struct op_result *res,
		      struct diag *d)
{
	struct journal j = {.s = s, .in = &c->in};
	struct txn_hooks hooks = {.before_commit = journal_before_commit, .ctx = &j};
	struct ct_step cs = {0};
	struct diag ignored;
	int r;

	r = ct_plan(cfg, s, c, res, d);
	if (r < 0)
		return r;
	if (cfg->check_only)
		return txn_run(cfg->backend, s->b, c->desired, true, &res->txn, d);
	c->in.from = res->generation_from;
	host_boot_id(c->in.boot_id);
	snprintf(c->in.backend, sizeof(c->in.backend), "%s", cfg->backend->name);
	snprintf(c->in.table, sizeof(c->in.table), "%s", cfg_table(cfg));
	r = txn_run_hooked(cfg->backend, s->b, c->desired, false, &hooks, &res->txn, d);
	/* a change of values alone commits no rules, so nothing journaled it
	 * yet: it must be, before the first value is written */
	if (r == 0 && !j.written && ct_differs(s, c->desired))
		r = journal_before_commit(&j, d);
	if (r == 0)
		r = ct_step_run(s, c, &cs, res, d);
	if (r == 0)
		r = finish_change(cfg, s, c, res, d);
	if (r < 0)
		ct_step_undo(s, &cs, d);
	ct_step_free(&cs);
	if (r < 0 && res->txn.committed && compensate(cfg, s, c->in.from, d) < 0)
		return r; /* the journal stays: the next run sees and repairs what the kernel holds */
	if (j.written) {
		/* a journal entry that will not go away is harmless: the next
		 * run finds the state already agreeing with the kernel */
		if (r == 0)
			txn_test_pause("before-clear");
		diag_init(&ignored);
		state_intent_clear(&s->st, &ignored);
		diag_free(&ignored);
	}
	/* record() left `current` for the clear to make durable: whatever
	 * became of the clear, it must be before the change is reported */
	if (r == 0)
		r = state_sync(&s->st, d);
	return r;
}

/* The journal cannot be read: restore sets it aside (it only ever helps to
 * record a change, and restore records none); anything else names restore. */
static int damaged_journal(struct session *s, enum recovery mode, struct diag *rd, struct diag *d)
{
	char from[4200], to[4300];

	if (mode != RECOVER_RESTORING) {
		diag_set_file(d, rd->file);
		return diag_fail(d, rd->kind, rd->err, NULL,
				 "%.300s; run 'notrackctl restore': it puts the current generation back and sets the "
				 "journal aside",
				 rd->msg);
	}
	snprintf(from, sizeof(from), "%s/intent.json", s->st.dir);
	snprintf(to, sizeof(to), "%s.damaged", from);
	if (rename(from, to) < 0)
		return diag_fail(d, DIAG_STATE, errno, NULL, "cannot set the damaged journal %s aside: %s", from,
				 strerror(errno));
	return diag_warn(d, "", "the journal of an interrupted change is damaged (%s); set it aside as %s", rd->msg,
			 to);
}

/*
 * A run was killed (or its state write failed, and so did the repair)
 * between journaling a change and clearing the journal.  What follows
 * decides on the facts, in this order:
 *  - it was written in another boot (the boot id moved): the kernel started
 *    empty since, so it holds neither side; the state's current generation
 *    is what was last committed, and stays;
 *  - the journal names another backend or table: only a run there can
 *    probe the right place, so name it;
 *  - otherwise the batch is atomic, so the kernel holds either the change
 *    or what was there before: find out which by planning against each,
 *    then record the one it holds;
 *  - it holds neither: someone changed our rules meanwhile.  Restore puts
 *    the current generation back over it (that is its job at boot); every
 *    other command says so and names restore.
 */
static int recover_interrupted(const struct op_config *cfg, struct session *s, enum recovery mode, struct diag *d)
{
	struct op_result res = {0}, probe = {0};
	struct policy_source src = {0};
	struct loaded target = {0}, before = {0};
	struct change c = {0};
	char boot[40];
	uint64_t current;
	struct diag rd;
	int r;

	diag_init(&rd);
	r = state_intent_read(&s->st, &c.in, &rd);
	if (r == -ENOENT) {
		diag_free(&rd);
		return 0;
	}
	if (r < 0) {
		r = damaged_journal(s, mode, &rd, d);
		diag_free(&rd);
		return r;
	}
	diag_free(&rd);
	r = state_current(&s->st, &current, d);
	if (r < 0)
		goto out;
	if (c.in.boot_id[0] && host_boot_id(boot) == 0 && strcmp(boot, c.in.boot_id)) {
		r = diag_warn(d, "",
			      "an earlier %s was interrupted before a restart; the kernel forgot it, and generation "
			      "%" PRIu64 " stays current%s",
			      c.in.action, current,
			      mode == RECOVER_RESTORING ? "" : " ('notrackctl restore' puts it back)");
		goto done_if_ok;
	}
	if (c.in.backend[0] && (strcmp(c.in.backend, cfg->backend->name) || strcmp(c.in.table, cfg_table(cfg)))) {
		r = diag_fail(d, DIAG_STATE, EXDEV, NULL,
			      "an earlier %s with the %s backend on table %s was interrupted; only a run there can "
			      "tell what the kernel holds: run 'notrackctl --backend %s --table %s restore'",
			      c.in.action, c.in.backend, c.in.table, c.in.backend, c.in.table);
		goto out;
	}
	if (!strcmp(c.in.action, "apply") && c.in.policy) {
		src.file = strdup(c.in.policy_file ? c.in.policy_file : "interrupted apply");
		src.text = strdup(c.in.policy);
		if (!src.file || !src.text) {
			r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
			goto out;
		}
		src.len = strlen(src.text);
		r = compile_source(&src, cfg_table(cfg), false, &res.rs, d);
		c.desired = &res.rs;
		c.src = &src;
	} else if (strcmp(c.in.action, "remove")) {
		r = load(cfg, s, c.in.to, &target, d);
		c.desired = loaded_rules(&target);
	}
	if (r == 0)
		r = txn_run(cfg->backend, s->b, c.desired, true, &probe.txn, d);
	if (r < 0)
		goto out;
	res.generation_from = c.in.from;
	if (!probe.txn.changed) {
		/* the kernel holds the change: record it as that run would have,
		 * unless it got that far itself */
		if (current != c.in.from)
			goto done;
		res.txn.changed = true;
		res.txn.kernel_generation = probe.txn.kernel_generation;
		/* the conntrack values come after the rules: write them again
		 * (a no-op when that run got to them) before recording */
		r = ct_settle(s, c.desired, d);
		if (r == 0)
			r = finish_change(cfg, s, &c, &res, d);
		if (r == 0)
			r = diag_warn(d, "",
				      "an earlier %s was interrupted after the kernel took it; recorded it now "
				      "(current generation %" PRIu64 ")",
				      c.in.action, res.generation_to);
		goto done_if_ok;
	}
	txn_result_free(&probe.txn);
	r = load(cfg, s, c.in.from, &before, d);
	if (r == 0)
		r = txn_run(cfg->backend, s->b, loaded_rules(&before), true, &probe.txn, d);
	if (r < 0)
		goto out;
	if (probe.txn.changed && !strcmp(c.in.action, "restore")) {
		/* a restore goes from the current generation to itself: the
		 * kernel did not hold it when it started, and does not now */
		r = diag_warn(d, "", "an earlier restore was interrupted before the kernel took it; dropped it%s",
			      mode == RECOVER_RESTORING ? "" : " (run 'notrackctl restore' to finish it)");
		goto done_if_ok;
	}
	if (probe.txn.changed) {
		if (mode == RECOVER_RESTORING || cfg->force) {
			r = diag_warn(d, "",
				      "an earlier %s was interrupted, and the kernel holds neither its result nor "
				      "generation %" PRIu64 "; dropped the interrupted record",
				      c.in.action, c.in.from);
			goto done_if_ok;
		}
		r = diag_fail(
		    d, DIAG_STATE, ESTALE, NULL,
		    "an earlier %s was interrupted, and the kernel now holds neither its result nor generation "
		    "%" PRIu64 " (someone changed our rules meanwhile?); see 'notrackctl diff POLICY', then run "
		    "'notrackctl restore' to put generation %" PRIu64 " back and drop the interrupted record",
		    c.in.action, c.in.from, current);
		goto out;
	}
	/* the kernel holds what was there before: so must the state, and the
	 * conntrack values, which that run may have begun to write */
	r = ct_settle(s, loaded_rules(&before), d);
	if (r == 0 && current != c.in.from)
		r = state_set_current(&s->st, c.in.from, d);
	if (r == 0)
		r = diag_warn(d, "", "an earlier %s was interrupted before the kernel took it; dropped it",
			      c.in.action);
done_if_ok:
	if (r < 0)
		goto out;
done:
	r = state_intent_clear(&s->st, d);
out:
	txn_result_free(&probe.txn);
	op_result_free(&res);
	loaded_free(&target);
	loaded_free(&before);
	policy_source_free(&src);
	intent_free(&c.in);
	return r;
}

/* A pending confirmation blocks every other change but its own resolution. */
static int refuse_if_pending(struct session *s, struct diag *d)
{
	struct pending p;
	char when[32] = "?";
	time_t t;
	struct tm tm;
	int r = state_pending_read(&s->st, &p, d);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	t = (time_t)p.deadline;
	if (localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (state_pending_left_ms(&p) <= 0)
		return diag_fail(d, DIAG_PENDING, EBUSY, NULL,
				 "generation %" PRIu64 " was not confirmed by %s, and its timer has not rolled it back "
				 "(it died, or is about to): run 'notrackctl rollback' to undo it",
				 p.generation, when);
	return diag_fail(d, DIAG_PENDING, EBUSY, NULL,
			 "generation %" PRIu64 " awaits confirmation until %s (token %s): run 'notrackctl confirm' "
			 "to keep it or 'notrackctl rollback' to undo it first",
			 p.generation, when, p.token);
}

/* Ends a pending confirmation after a rollback or remove made it moot.
 * The expiry itself is the timer's command: cancelling the timer there
 * would kill the very process that is rolling back (before its audit line). */
static int end_pending(struct session *s, bool stop_timer, struct op_result *res, struct diag *d)
{
	struct pending p;
	int r = state_pending_read(&s->st, &p, d);

	if (r == -ENOENT)
		return 0;
	if (r == 0)
		r = state_pending_clear(&s->st, d);
	if (r == 0) {
		if (stop_timer)
			confirm_timer_cancel(&p);
		res->pending = p;
		res->cancelled_pending = true;
	}
	return r;
}

static int cancel_pending(struct session *s, struct op_result *res, struct diag *d)
{
	return end_pending(s, true, res, d);
}

static int random_token(char out[PENDING_TOKEN_LEN + 1], struct diag *d)
{
	unsigned char raw[PENDING_TOKEN_LEN / 2];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return diag_fail(d, DIAG_SYSTEM, errno ? errno : EIO, NULL, "cannot make a token: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/*
 * The safety net goes up before the change: the pending file and the timer
 * exist before the batch is sent, so there is no moment at which a change is
 * live without its automatic rollback.  If the apply then fails, the net is
 * taken down again; a timer that fires for a generation that never became
 * current does nothing.
 */
static int arm_confirmation(const struct op_config *cfg, struct session *s, struct op_result *res, struct diag *d)
{
	struct pending *p = &res->pending;
	const char *argv[64];
	uint64_t last;
	size_t n = 0;
	int r;

	r = state_last(&s->st, &last, d);
	if (r == 0)
		r = random_token(p->token, d);
	if (r < 0)
		return r;
	p->generation = (last > res->generation_from ? last : res->generation_from) + 1;
	p->rollback_to = res->generation_from;
	p->created = (int64_t)time(NULL);
	p->deadline = p->created + cfg->confirm_seconds;
	p->boot_deadline_ms = state_boot_ms() + (int64_t)cfg->confirm_seconds * 1000;
	host_boot_id(p->boot_id);
	snprintf(p->timer, sizeof(p->timer), "none");
	r = state_pending_write(&s->st, p, d);
	if (r < 0)
		return r;
	for (; cfg->expire_argv[n] && n < 62; n++)
		argv[n] = cfg->expire_argv[n];
	argv[n++] = p->token;
	argv[n] = NULL;
	r = confirm_timer_arm(p, (char *const *)argv, d);
	if (r == 0)
		r = state_pending_write(&s->st, p, d);
	if (r < 0) {
		struct diag ignored;
		diag_init(&ignored);
		state_pending_clear(&s->st, &ignored);
		diag_free(&ignored);
		return r;
	}
	res->has_pending = true;
	return 0;
}

/* The ports this host listens on, for lint_input_listening. */
static int host_listeners(struct lint_input *in)
{
	struct listeners l;
	int r = listeners_read(&l);

	if (r < 0)
		return r;
	r = lint_input_listening(in, l.tcp, l.n_tcp, l.udp, l.n_udp);
	listeners_free(&l);
	return r;
}

/* The legacy tables.  For the iptables backend, whose accept goes into
 * the legacy filter chains, those chains are described as ours to cover; for
 * the nft backend (a mixed host) they are someone else's. */
static int lint_read_legacy(const struct op_config *cfg, const struct ruleset *rs, bool ours, struct lint_input *in,
			    struct diag *d)
{
	char pre[RULESET_NAME_MAX + 8], out[RULESET_NAME_MAX + 8];
	struct lint_ipt_options o = {
	    .tag = cfg_table(cfg), .our_chains = {pre, out}, .filter = true, .foreign_filter = !ours, .users = true};

	iptables_chain_name(rs, HOOK_PREROUTING, pre, sizeof(pre));
	iptables_chain_name(rs, HOOK_OUTPUT, out, sizeof(out));
	return lint_ipt_read(&o, in, d);
}

/* The nftables ruleset's conntrack users and notrack rules (native, and
 * iptables-nft's), for a backend that does not write nftables: its filter
 * chains are left out, since that backend's accept never goes there. */
static int lint_read_nft_foreign(const struct op_config *cfg, struct lint_input *in, struct diag *d)
{
	const struct backend_options bo = {.table = cfg_table(cfg), .lock_timeout_ms = cfg->lock_timeout_ms};
	struct lint_input all = {0};
	struct backend *nb = NULL;
	int r = nft_backend_ops.open(&nb, &bo, d);

	if (r == 0)
		r = nft_backend_ops.lint_read(nb, &all, d);
	if (r == 0 && (lint_input_take_notracks(in, &all) < 0 || lint_input_take_users(in, &all) < 0))
		r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	lint_input_free(&all);
	if (nb)
		nft_backend_ops.close(nb);
	return r;
}

/* The live half of lint: the backends read, this host's addresses refine,
 * the analyser judges.  Both rulesets are read whichever backend applies:
 * nftables (with iptables-nft) and legacy iptables are both enforced, and an
 * untracked packet is untracked whoever untracked it. */
static int lint_live(const struct op_config *cfg, struct backend *b, struct op_result *res, struct diag *d)
{
	struct lint_input in = {0};
	struct host_addr *addrs;
	size_t n;
	int r;

	if (!cfg->backend->lint_read) {
		r = lint_read_legacy(cfg, &res->rs, true, &in, d);
		if (r == 0)
			r = lint_read_nft_foreign(cfg, &in, d);
	} else {
		r = cfg->backend->lint_read(b, &in, d);
		if (r == 0 && !cfg->lint_backend_only)
			r = lint_read_legacy(cfg, &res->rs, false, &in, d);
	}
	if (r < 0) {
		lint_input_free(&in);
		return r;
	}
	host_addrs(&addrs, &n); /* without them lint only guesses less */
	lint_input_apply_host(&in, addrs, n);
	free(addrs);
	if (host_listeners(&in) < 0) {
		lint_input_free(&in);
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	}
	r = lint_analyse(&res->rs, &in, &res->lint);
	lint_input_free(&in);
	if (r < 0)
		return diag_fail(d, DIAG_SYSTEM, -r, NULL, "lint: %s", strerror(-r));
	return 0;
}

int op_lint(const struct op_config *cfg, const struct policy_source *src, bool offline, struct op_result *res,
	    struct diag *d)
{
	struct backend *b = NULL;
	int r;

	memset(res, 0, sizeof(*res));
	r = compile_source(src, cfg_table(cfg), cfg->host_checks, &res->rs, d);
	if (r < 0)
		return r;
	if (offline) {
		res->lint_skipped = true;
		r = lint_offline(&res->rs, &res->lint);
		return r < 0 ? diag_fail(d, DIAG_SYSTEM, -r, NULL, "out of memory") : 0;
	}
	/* reading needs no state directory and not our lock: nothing is changed
	 * (a backend may still take its tools' lock to read, as iptables does) */
	const struct backend_options bo = {
	    .table = cfg_table(cfg),
	    .lock_timeout_ms = cfg->lock_timeout_ms >= 0 ? cfg->lock_timeout_ms : DEFAULT_LOCK_TIMEOUT_MS,
	};
	r = cfg->backend->open(&b, &bo, d);
	if (r == 0)
		r = lint_live(cfg, b, res, d);
	if (b)
		cfg->backend->close(b);
	return r;
}

/* apply runs the same lint first: conflicts stop it, unless allowed (then,
 * like with --check, they are reported as warnings). */
static int lint_before_apply(const struct op_config *cfg, struct session *s, struct op_result *res, struct diag *d)
{
	int r = lint_live(cfg, s->b, res, d);

	if (r < 0 || !res->lint.n || cfg->allow_conflicts || cfg->check_only)
		return r;
	return diag_fail(d, DIAG_CONFLICT, EEXIST, NULL,
			 "lint found %zu conflict%s between the policy and the live ruleset (listed above); nothing "
			 "was applied. Fix the policy, or apply anyway with --allow-conflicts",
			 res->lint.n, res->lint.n == 1 ? "" : "s");
}

/* ------------------------------------------------------------------ */
/* the no-op apply                                                      */

/*
 * Applying the policy that is already live is the common case (configuration
 * management runs apply every few minutes), and planning it dumps every set
 * element from the kernel: 20,000 of them for 10,000 ports.  So a run that
 * has verified what is live leaves a stamp (state.h): this boot, this network
 * namespace, this binary and this compiled ruleset were live at this ruleset
 * generation.  Every nftables commit, anyone's, moves the generation id; while
 * it reads the same in the same boot and namespace, nothing was committed,
 * and a plan would find exactly what the last one found: nothing to do.
 * Anything else (no stamp, another boot, namespace, binary or ruleset, a moved
 * generation, a backend whose generation does not cover its plan) plans as
 * usual.  The stamp itself is engine/stamp.c.
 */

int op_apply(const struct op_config *cfg, const struct policy_source *src, struct op_result *res, struct diag *d)
{
	struct verified_stamp here;
	struct session s;
	int r;

	memset(res, 0, sizeof(*res));
	digest_text(src->text, src->len, res->policy_digest);
	r = compile_source(src, cfg_table(cfg), cfg->host_checks, &res->rs, d);
	/* before any lock is taken or rule built: what iptables cannot hold */
	if (r == 0 && cfg->backend == &ipt_backend_ops && (r = ipt_size_check(&res->rs, d)) < 0)
		policy_locate(src, d);
	if (r < 0)
		return r;
	r = session_begin(cfg, !cfg->check_only, &s, res, d);
	if (r == 0 && !cfg->check_only)
		r = refuse_if_pending(&s, d);
	/* the no-op apply, when nothing was committed since a run verified (and
	 * linted, cleanly) this ruleset: lint and plan would find what they found */
	/* conntrack values are no part of the ruleset's stamp: someone may
	 * have changed them since, so an apply that sets any always looks */
	bool stampable = !cfg->check_only && cfg->confirm_seconds <= 0 && !res->rs.n_conntrack &&
			 (r < 0 || !ct_differs(&s, &res->rs)) &&
			 stamp_here(cfg->backend, cfg_table(cfg), &res->rs, &here) == 0;
	if (r == 0 && stampable && stamp_unchanged(cfg->backend, s.b, &s.st, &here, &res->txn.kernel_generation))
		goto out;
	size_t warnings = d->n_warnings;
	if (r == 0)
		r = lint_before_apply(cfg, &s, res, d);
	if (r == 0 && cfg->confirm_seconds > 0 && !cfg->check_only) {
		/* an unchanged apply has nothing to confirm */
		r = txn_run(cfg->backend, s.b, &res->rs, true, &res->txn, d);
		if (r == 0 && (res->txn.changed || ct_differs(&s, &res->rs))) {
			txn_result_free(&res->txn);
			r = arm_confirmation(cfg, &s, res, d);
		} else {
			goto out;
		}
	}
	if (r == 0) {
		struct change c = {.desired = &res->rs, .src = src, .src_digest = res->policy_digest};
		snprintf(c.in.action, sizeof(c.in.action), "apply");
		c.in.policy_file = src->file;
		c.in.policy = src->text;
		r = run_change(cfg, &s, &c, res, d);
		/* a conntrack value this kernel or namespace refuses names its key */
		if (r < 0 && d->path[0])
			policy_locate(src, d);
	}
	/* a lint or a plan that had anything to say (say, a chain it cannot
	 * reach) must say it again next time, so it leaves no stamp; nor does a
	 * failed stamp fail the apply: the next run just plans */
	if (r == 0 && stampable && d->n_warnings == warnings && !res->lint.n && !res->lint.n_notes &&
	    !res->lint_skipped) {
		struct diag ignored;
		here.kernel_generation = res->txn.kernel_generation;
		diag_init(&ignored);
		state_stamp_write(&s.st, &here, &ignored);
		diag_free(&ignored);
	}
	if (r == 0 && !cfg->check_only) {
		/* a new change: a confirm now is about it, not an old expiry */
		struct diag ignored;
		diag_init(&ignored);
		state_expired_clear(&s.st, &ignored);
		diag_free(&ignored);
	}
	if (r < 0 && res->has_pending) {
		struct diag ignored;
		diag_init(&ignored);
		cancel_pending(&s, res, &ignored);
		diag_free(&ignored);
		res->has_pending = res->cancelled_pending = false;
	}
out:
	session_close(cfg, &s);
	return r;
}

int op_remove(const struct op_config *cfg, struct op_result *res, struct diag *d)
{
	struct session s;
	int r;

	memset(res, 0, sizeof(*res));
	r = session_begin(cfg, !cfg->check_only, &s, res, d);
	if (r == 0) {
		struct change c = {.in = {.action = "remove"}};
		r = run_change(cfg, &s, &c, res, d);
	}
	if (r == 0 && !cfg->check_only)
		r = cancel_pending(&s, res, d);
	session_close(cfg, &s);
	return r;
}

/*
 * Someone else may have deleted an accept we inserted since the current
 * generation was recorded: firewalld reloading its table does exactly that.
 * There is then nothing of ours to delete there; say so and carry on.
 */
static int warn_vanished(const struct op_config *cfg, struct session *s, const struct generation *cur, struct diag *d)
{
	struct owned_list now;
	int r = cfg->backend->owned(s->b, false, &now, d);

	if (r < 0)
		return r;
	for (size_t i = 0; r == 0 && i < cur->owned.n; i++) {
		const struct owned_object *o = &cur->owned.v[i];
		bool live = false;

		if (o->kind != OWNED_ACCEPT)
			continue;
		/* by what it is, never by its handle or position: a rule
		 * inserted before it moves it, and a rollback that put it
		 * back gave it a new handle */
		for (size_t j = 0; j < now.n && !live; j++)
			live = now.v[j].kind == OWNED_ACCEPT && !strcmp(now.v[j].family, o->family) &&
			       !strcmp(now.v[j].table, o->table) && !strcmp(now.v[j].chain, o->chain);
		if (!live)
			r = diag_warn(d, "",
				      "our untracked accept in %s %s %s is gone: someone else removed it since "
				      "generation %" PRIu64 "; nothing to undo there",
				      o->family, o->table, o->chain, cur->number);
	}
	owned_list_free(&now);
	return r;
}

/*
 * Rollback restores our objects, and only ours.  The current generation
 * recorded the digest of our table as it stood after its commit (or, once a
 * rollback or restore made it live again, the live record did): if it
 * differs now, someone else changed our rules, and restoring an older
 * generation over their change would silently undo it, so we refuse unless
 * forced.  When only others' objects changed (the kernel's ruleset
 * generation moved, our digest did not), we go ahead and leave theirs as
 * they are now.
 *
 * A kernel that was reset is not a change to our rules: after a reboot
 * (another boot id than the one the generation went live in) or a flush,
 * nothing of ours is there, and nobody's change can be undone by going on.
 */
static int check_untouched(const struct op_config *cfg, struct session *s, const struct generation *cur,
			   struct op_result *res, struct diag *d)
{
	struct owned_list now;
	struct live_record live;
	const char *digest = cur->owned.digest;
	uint64_t kgen = cur->kernel_generation, genid = 0;
	char boot[40] = "";
	bool reset;
	int r = cfg->backend->owned(s->b, false, &now, d);

	if (r < 0)
		return r;
	if (state_live_read(&s->st, &live) == 0 && live.generation == cur->number) {
		digest = live.owned_digest;
		kgen = live.kernel_generation;
	}
	host_boot_id(boot);
	reset = (!now.n && !now.rules) || (live.boot_id[0] && boot[0] && strcmp(live.boot_id, boot));
	if (reset && strcmp(now.digest, digest)) {
		r = diag_warn(d, "",
			      "%s since generation %" PRIu64 " was made live; not a change to our rules, so "
			      "nothing to refuse",
			      !now.n && !now.rules ? "nothing of ours is in the kernel (a reboot or a flush)"
						   : "the kernel was restarted",
			      cur->number);
	} else if (!digest_comparable(now.digest, digest)) {
		/* a generation recorded by a notrackctl that digested our rules
		 * another way: nothing to compare with, so nothing to refuse */
		r = diag_warn(d, "",
			      "generation %" PRIu64 " was recorded by an older notrackctl whose digest of our rules "
			      "cannot be compared with this one's; rolling back without checking for others' "
			      "changes to them",
			      cur->number);
	} else if (strcmp(now.digest, digest) && !cfg->force) {
		r = diag_fail(d, DIAG_DRIFT, ESTALE, NULL,
			      "someone else changed notrackctl's own rules since generation %" PRIu64
			      " was applied (digest %s, now %s); refusing to roll back over their change. "
			      "Look with 'notrackctl diff', or roll back anyway with --force",
			      cur->number, digest, now.digest);
	}
	owned_list_free(&now);
	if (r < 0)
		return r;
	r = cfg->backend->generation(s->b, &genid, d);
	if (r == 0 && !reset && genid != kgen)
		res->foreign_changes = true;
	return r;
}

/*
 * Loads generation `to` and compiles its recorded policy again, exactly as
 * it was applied, into res->rs.  Refuses a generation of another backend
 * or table: restoring it here would create objects nobody asked for.
 */
static int load_generation_rules(const struct op_config *cfg, struct session *s, uint64_t to, struct generation *target,
				 struct policy_source *src, struct op_result *res, struct diag *d)
{
	char name[64];
	int r = state_load(&s->st, to, target, d);

	if (r < 0)
		return r;
	if (strcmp(target->backend, cfg->backend->name))
		return diag_fail(d, DIAG_STATE, EINVAL, NULL,
				 "generation %" PRIu64 " was applied with the %s backend, not %s; use --backend %s", to,
				 target->backend, cfg->backend->name, target->backend);
	if (strcmp(target->table, cfg_table(cfg)))
		return diag_fail(d, DIAG_STATE, EINVAL, NULL, "generation %" PRIu64 " was applied to table %s, not %s",
				 to, target->table, cfg_table(cfg));
	snprintf(res->policy_digest, sizeof(res->policy_digest), "%s", target->policy_digest);
	if (!target->policy)
		return 0; /* a "remove" generation: nothing of ours */
	snprintf(name, sizeof(name), "generation %" PRIu64, to);
	src->file = strdup(name);
	if (!src->file)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	src->text = target->policy;
	src->len = strlen(target->policy);
	target->policy = NULL;
	return compile_source(src, cfg_table(cfg), false, &res->rs, d);
}

/* The rollback, in a session already open and locked (res->generation_from
 * read).  An expiry passes stop_timer false: it is the timer. */
static int rollback_in(const struct op_config *cfg, struct session *s, bool has_to, uint64_t to, bool stop_timer,
		       struct op_result *res, struct diag *d)
{
	struct generation cur = {0}, target = {0};
	struct policy_source src = {0};
	int r = 0;

	if (!has_to && res->generation_from == 0) {
		r = diag_fail(d, DIAG_STATE, ENOENT, NULL,
			      "nothing to roll back: no generation is current (see 'notrackctl generations')");
		goto out;
	}
	if (res->generation_from != 0) {
		r = state_load(&s->st, res->generation_from, &cur, d);
		if (r < 0)
			goto out;
		if (!has_to)
			to = cur.parent;
		r = warn_vanished(cfg, s, &cur, d);
		if (r < 0)
			goto out;
	}
	if (to != 0) {
		r = load_generation_rules(cfg, s, to, &target, &src, res, d);
		if (r < 0)
			goto out;
	}
	if (res->generation_from != 0) {
		r = check_untouched(cfg, s, &cur, res, d);
		if (r < 0)
			goto out;
	}
	{
		struct change c = {.in = {.action = "rollback", .to = to},
				   .desired = to && res->rs.table[0] ? &res->rs : NULL};
		r = run_change(cfg, s, &c, res, d);
	}
	if (r == 0 && !cfg->check_only)
		r = end_pending(s, stop_timer, res, d);
out:
	generation_free(&cur);
	generation_free(&target);
	policy_source_free(&src);
	return r;
}

int op_rollback(const struct op_config *cfg, bool has_to, uint64_t to, struct op_result *res, struct diag *d)
{
	struct session s;
	int r;

	memset(res, 0, sizeof(*res));
	r = session_begin(cfg, !cfg->check_only, &s, res, d);
	if (r == 0)
		r = rollback_in(cfg, &s, has_to, to, true, res, d);
	session_close(cfg, &s);
	return r;
}

int op_pending(const struct op_config *cfg, struct pending *p, struct diag *d)
{
	struct state st;
	int r = state_open(&st, cfg->state_dir ? cfg->state_dir : STATE_DEFAULT_DIR, d);

	if (r < 0)
		return r;
	r = state_pending_read(&st, p, d);
	state_close(&st);
	return r;
}

/*
 * The deadline passed and p is still pending: roll back to p.rollback_to,
 * under the lock the caller took before it read p, so that a confirm can
 * neither slip in between nor win after.  The change ends here:
 *  - rolled back, recorded in expired.json (a late confirm fails on it);
 *  - or, when someone else changed our own rules since (the rollback
 *    refuses to undo their change), the pending state is cleared all the
 *    same, and expired.json, syslog and status say that p.generation stayed;
 *  - a rollback that fails (the kernel refused it) leaves it pending, past
 *    its deadline: apply then names rollback, and confirm tries again.
 * A timer for an apply that never became current has nothing to undo.
 */
static int expire_locked(const struct op_config *cfg, struct session *s, const struct pending *p, bool stop_timer,
			 struct op_result *res, struct diag *d)
{
	struct expired e = {.generation = p->generation, .time = (int64_t)time(NULL)};
	struct diag ignored;
	int r;

	snprintf(e.token, sizeof(e.token), "%s", p->token);
	res->pending = *p;
	if (res->generation_from != p->generation) {
		res->nothing_pending = true;
		return state_pending_clear(&s->st, d);
	}
	r = rollback_in(cfg, s, true, p->rollback_to, stop_timer, res, d);
	e.rolled_back = r == 0 ? res->generation_to : res->generation_from;
	if (r < 0 && d->kind != DIAG_DRIFT) {
		/* not a refusal but a failure (the kernel, memory, the state):
		 * the rollback is still due, so the confirmation stays */
		size_t n = strlen(d->msg);
		snprintf(d->msg + n, sizeof(d->msg) - n,
			 "; generation %" PRIu64 " stays pending: 'notrackctl rollback' undoes it", p->generation);
		return r;
	}
	if (r < 0) {
		e.refused = true;
		snprintf(e.reason, sizeof(e.reason), "%s", d->msg);
		diag_init(&ignored);
		if (state_pending_clear(&s->st, &ignored) == 0) {
			size_t n = strlen(d->msg);
			snprintf(d->msg + n, sizeof(d->msg) - n,
				 "; the confirmation of generation %" PRIu64 " is over all the same: it stays live "
				 "unconfirmed (see 'notrackctl status')",
				 p->generation);
			if (stop_timer)
				confirm_timer_cancel(p);
		}
		diag_free(&ignored);
	}
	diag_init(&ignored);
	state_expired_write(&s->st, &e, &ignored);
	diag_free(&ignored);
	return r;
}

static int expired_fail(const struct expired *e, struct diag *d)
{
	char when[32] = "?";
	time_t t = (time_t)e->time;
	struct tm tm;

	if (localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (e->refused)
		return diag_fail(d, DIAG_EXPIRED, ETIME, NULL,
				 "generation %" PRIu64 " was not confirmed in time (%s); its rollback was refused, so "
				 "it stays, unconfirmed: %s",
				 e->generation, when, e->reason);
	return diag_fail(d, DIAG_EXPIRED, ETIME, NULL,
			 "too late: generation %" PRIu64 " was not confirmed in time and was rolled back to %" PRIu64
			 " at %s; apply it again to keep it",
			 e->generation, e->rolled_back, when);
}

int op_confirm(const struct op_config *cfg, const char *token, struct op_result *res, struct diag *d)
{
	struct expired e;
	struct session s;
	int r;

	memset(res, 0, sizeof(*res));
	r = session_begin(cfg, true, &s, res, d);
	if (r == 0)
		r = state_pending_read(&s.st, &res->pending, d);
	if (r == -ENOENT) {
		/* nothing pending: already confirmed, never asked, or expired */
		r = state_expired_read(&s.st, &e, d);
		if (r == 0 && (!token || !strcmp(token, e.token)))
			r = expired_fail(&e, d);
		else if (r == 0 || r == -ENOENT)
			r = 0;
		res->nothing_pending = r == 0;
	} else if (r == 0 && token && strcmp(token, res->pending.token)) {
		r = diag_fail(d, DIAG_STATE, EINVAL, NULL,
			      "token %s does not match the pending confirmation of generation %" PRIu64, token,
			      res->pending.generation);
	} else if (r == 0 && state_pending_left_ms(&res->pending) <= 0) {
		/* the deadline passed: the expiry is due (or its timer died);
		 * do what it does, and fail as a late confirm */
		struct pending p = res->pending;
		r = expire_locked(cfg, &s, &p, true, res, d);
		if (r == 0 && state_expired_read(&s.st, &e, d) == 0)
			r = expired_fail(&e, d);
	} else if (r == 0) {
		r = state_pending_clear(&s.st, d);
		if (r == 0) {
			confirm_timer_cancel(&res->pending);
			res->cancelled_pending = true;
			txn_test_pause("confirm-locked"); /* still holding the lock */
		}
	}
	session_close(cfg, &s);
	return r;
}

int op_confirm_expire(const struct op_config *cfg, const char *token, struct op_result *res, struct diag *d)
{
	struct pending p;
	struct session s;
	int64_t left;
	int r;

	memset(res, 0, sizeof(*res));
	/* wait for the deadline without holding the lock */
	r = op_pending(cfg, &p, d);
	if (r == -ENOENT || (r == 0 && strcmp(p.token, token))) {
		res->nothing_pending = true;
		return 0;
	}
	if (r < 0)
		return r;
	while ((left = state_pending_left_ms(&p)) > 0) {
		struct timespec nap = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000};
		nanosleep(&nap, NULL);
	}

	/* from here to the end of the rollback, one lock: a confirm either
	 * ran before (the pending file is gone) or waits and finds it over */
	r = session_begin(cfg, true, &s, res, d);
	if (r == 0)
		r = state_pending_read(&s.st, &p, d);
	if (r == 0 && strcmp(p.token, token))
		r = -ENOENT;
	if (r == -ENOENT) {
		res->nothing_pending = true; /* confirmed meanwhile */
		r = 0;
	} else if (r == 0) {
		txn_test_pause("expire-locked");
		r = expire_locked(cfg, &s, &p, false, res, d);
	}
	session_close(cfg, &s);
	return r;
}

int op_restore(const struct op_config *cfg, struct op_result *res, struct diag *d)
{
	struct generation target = {0};
	struct policy_source src = {0};
	struct pending p;
	struct session s;
	uint64_t to;
	int r;

	memset(res, 0, sizeof(*res));
	r = session_begin_for(cfg, !cfg->check_only, RECOVER_RESTORING, &s, res, d);
	/* a state that cannot be read in full is not acted on at boot: every
	 * generation's checksum first, as documented */
	if (r == 0)
		r = state_verify_all(&s.st, d);
	if (r < 0)
		goto out;
	to = res->generation_from;
	/* A change that was never confirmed must not come back with a reboot:
	 * its timer died with the old boot, so do what it would have done.  In
	 * the boot it was applied in, before its deadline, it stays pending. */
	bool pending = false, undo = false;
	char boot[40] = "";
	r = state_pending_read(&s.st, &p, d);
	if (r == 0) {
		pending = true;
		host_boot_id(boot);
		undo = p.generation == to && (strcmp(p.boot_id, boot) || state_pending_left_ms(&p) <= 0);
	} else if (r == -ENOENT) {
		r = 0;
	}
	if (undo) {
		r = diag_warn(d, "",
			      "generation %" PRIu64 " was never confirmed %s; restoring generation %" PRIu64
			      " instead, as its timer would have",
			      p.generation, strcmp(p.boot_id, boot) ? "before the restart" : "by its deadline",
			      p.rollback_to);
		to = p.rollback_to;
	}
	if (r == 0 && to != 0)
		r = load_generation_rules(cfg, &s, to, &target, &src, res, d);
	if (r == 0) {
		struct change c = {.in = {.action = "restore", .to = to},
				   .desired = to && res->rs.table[0] ? &res->rs : NULL};
		r = run_change(cfg, &s, &c, res, d);
	}
	/* a pending confirmation this restore did not undo is about another
	 * generation (its apply never became current), or still running */
	if (r == 0 && !cfg->check_only && pending && (undo || p.generation != to))
		r = cancel_pending(&s, res, d);
	if (r == 0 && !cfg->check_only && undo) {
		/* a confirm that comes now is too late (exit 12) */
		struct expired e = {.generation = p.generation, .rolled_back = to, .time = (int64_t)time(NULL)};
		struct diag ignored;
		snprintf(e.token, sizeof(e.token), "%s", p.token);
		diag_init(&ignored);
		state_expired_write(&s.st, &e, &ignored);
		diag_free(&ignored);
	}
	if (r == 0)
		res->generation_to = to;
out:
	generation_free(&target);
	policy_source_free(&src);
	session_close(cfg, &s);
	return r;
}
