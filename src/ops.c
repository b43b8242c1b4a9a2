#include "ops.h"

#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emit.h"

#define DEFAULT_LOCK_TIMEOUT_MS 30000

static const char *cfg_table(const struct op_config *cfg)
{
	return cfg->table ? cfg->table : RULESET_DEFAULT_TABLE;
}

static bool host_interface_exists(const struct ifname *ifn, void *ctx)
{
	struct if_nameindex *list, *i;
	bool found = false;

	(void)ctx;
	if (!ifn->wildcard)
		return if_nametoindex(ifn->name) != 0;
	list = if_nameindex();
	if (!list)
		return true; /* cannot tell: do not warn */
	for (i = list; i->if_index && !found; i++)
		found = strncmp(i->if_name, ifn->name, strlen(ifn->name)) == 0;
	if_freenameindex(list);
	return found;
}

int op_compile(const struct policy_source *src, const char *table, bool host_checks, struct ruleset *rs, struct diag *d)
{
	static const struct compile_host host = {.interface_exists = host_interface_exists};
	struct compile_options opt = {.table = table, .host = host_checks ? &host : NULL};
	struct policy pol;
	int r;

	r = policy_parse(src, &pol, d);
	if (r == 0) {
		r = compile_policy(&pol, &opt, rs, d);
		policy_free(&pol);
	}
	policy_locate(src, d);
	return r;
}

void op_result_free(struct op_result *res)
{
	txn_result_free(&res->txn);
	ruleset_free(&res->rs);
	memset(res, 0, sizeof(*res));
}

struct session {
	struct state st;
	struct backend *b;
	bool st_open;
};

static int session_open(const struct op_config *cfg, bool lock, struct session *s, struct diag *d)
{
	const struct backend_options bo = {
	    .table = cfg_table(cfg),
	    .lock_timeout_ms = cfg->lock_timeout_ms > 0 ? cfg->lock_timeout_ms : DEFAULT_LOCK_TIMEOUT_MS,
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
	return cfg->backend->open(&s->b, &bo, d);
}

static void session_close(const struct op_config *cfg, struct session *s)
{
	if (s->b)
		cfg->backend->close(s->b);
	if (s->st_open)
		state_close(&s->st);
}

/* Records what is now live as a new generation and makes it current. */
static int record(const struct op_config *cfg, struct session *s, const char *action, const struct policy_source *src,
		  const struct ruleset *rs, struct op_result *res, struct diag *d)
{
	struct generation g = {0};
	struct strbuf text;
	uint64_t last;
	int r;

	r = state_last(&s->st, &last, d);
	if (r < 0)
		return r;
	strbuf_init(&text);
	if (rs)
		cfg->backend->render(rs, &text);
	g.number = (last > res->generation_from ? last : res->generation_from) + 1;
	g.parent = res->generation_from;
	snprintf(g.action, sizeof(g.action), "%s", action);
	snprintf(g.backend, sizeof(g.backend), "%s", cfg->backend->name);
	snprintf(g.table, sizeof(g.table), "%s", cfg_table(cfg));
	g.time = (int64_t)time(NULL);
	g.policy_file = src ? src->file : NULL;
	g.policy = src ? src->text : NULL;
	if (src)
		digest_text(src->text, src->len, g.policy_digest);
	else
		snprintf(g.policy_digest, sizeof(g.policy_digest), "none");
	g.kernel_generation = res->txn.kernel_generation;
	g.compiled = text.data;
	r = cfg->backend->owned(s->b, &g.owned, d);
	if (r == 0)
		r = state_save(&s->st, &g, d);
	owned_list_free(&g.owned);
	strbuf_free(&text);
	if (r == 0)
		r = state_set_current(&s->st, g.number, d);
	if (r == 0)
		res->generation_to = g.number;
	return r;
}

int op_apply(const struct op_config *cfg, const struct policy_source *src, struct op_result *res, struct diag *d)
{
	struct session s;
	int r;

	memset(res, 0, sizeof(*res));
	r = op_compile(src, cfg_table(cfg), cfg->host_checks, &res->rs, d);
	if (r < 0)
		return r;
	r = session_open(cfg, !cfg->check_only, &s, d);
	if (r == 0)
		r = state_current(&s.st, &res->generation_from, d);
	res->generation_to = res->generation_from;
	if (r == 0)
		r = txn_run(cfg->backend, s.b, &res->rs, cfg->check_only, &res->txn, d);
	if (r == 0 && res->txn.changed && !cfg->check_only)
		r = record(cfg, &s, "apply", src, &res->rs, res, d);
	session_close(cfg, &s);
	return r;
}

int op_remove(const struct op_config *cfg, struct op_result *res, struct diag *d)
{
	struct session s;
	int r;

	memset(res, 0, sizeof(*res));
	r = session_open(cfg, !cfg->check_only, &s, d);
	if (r == 0)
		r = state_current(&s.st, &res->generation_from, d);
	res->generation_to = res->generation_from;
	if (r == 0)
		r = txn_run(cfg->backend, s.b, NULL, cfg->check_only, &res->txn, d);
	if (r == 0 && res->txn.changed && !cfg->check_only)
		r = record(cfg, &s, "remove", NULL, NULL, res, d);
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
	int r = cfg->backend->owned(s->b, &now, d);

	if (r < 0)
		return r;
	for (size_t i = 0; r == 0 && i < cur->owned.n; i++) {
		const struct owned_object *o = &cur->owned.v[i];
		bool live = false;

		if (o->kind != OWNED_ACCEPT)
			continue;
		for (size_t j = 0; j < now.n && !live; j++)
			live = now.v[j].kind == OWNED_ACCEPT && now.v[j].handle == o->handle &&
			       !strcmp(now.v[j].family, o->family) && !strcmp(now.v[j].table, o->table) &&
			       !strcmp(now.v[j].chain, o->chain);
		if (!live)
			r = diag_warn(d, "",
				      "our untracked accept in %s %s %s (handle %" PRIu64 ") is gone: someone else "
				      "removed it since generation %" PRIu64 "; nothing to undo there",
				      o->family, o->table, o->chain, o->handle, cur->number);
	}
	owned_list_free(&now);
	return r;
}

int op_rollback(const struct op_config *cfg, bool has_to, uint64_t to, struct op_result *res, struct diag *d)
{
	struct generation cur = {0}, target = {0};
	struct policy_source src = {0};
	struct session s;
	int r;

	memset(res, 0, sizeof(*res));
	r = session_open(cfg, !cfg->check_only, &s, d);
	if (r == 0)
		r = state_current(&s.st, &res->generation_from, d);
	if (r < 0)
		goto out;
	if (!has_to && res->generation_from == 0) {
		r = diag_fail(d, DIAG_STATE, ENOENT, NULL,
			      "nothing to roll back: no generation is current (see 'notrackctl generations')");
		goto out;
	}
	if (res->generation_from != 0) {
		r = state_load(&s.st, res->generation_from, &cur, d);
		if (r < 0)
			goto out;
		if (!has_to)
			to = cur.parent;
		r = warn_vanished(cfg, &s, &cur, d);
		if (r < 0)
			goto out;
	}
	if (to != 0) {
		char name[64];
		r = state_load(&s.st, to, &target, d);
		if (r < 0)
			goto out;
		if (strcmp(target.backend, cfg->backend->name)) {
			r = diag_fail(d, DIAG_STATE, EINVAL, NULL,
				      "generation %" PRIu64
				      " was applied with the %s backend, not %s; use --backend %s",
				      to, target.backend, cfg->backend->name, target.backend);
			goto out;
		}
		if (strcmp(target.table, cfg_table(cfg))) {
			r = diag_fail(d, DIAG_STATE, EINVAL, NULL,
				      "generation %" PRIu64 " was applied to table %s, not %s", to, target.table,
				      cfg_table(cfg));
			goto out;
		}
		if (target.policy) {
			/* the recorded policy is compiled again exactly as it was applied */
			snprintf(name, sizeof(name), "generation %" PRIu64, to);
			src.file = strdup(name);
			src.text = target.policy;
			src.len = strlen(target.policy);
			target.policy = NULL;
			if (!src.file) {
				r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
				goto out;
			}
			r = op_compile(&src, cfg_table(cfg), false, &res->rs, d);
			if (r < 0)
				goto out;
		}
	}
	r = txn_run(cfg->backend, s.b, to && res->rs.table[0] ? &res->rs : NULL, cfg->check_only, &res->txn, d);
	if (r == 0 && !cfg->check_only) {
		r = state_set_current(&s.st, to, d);
		if (r == 0)
			res->generation_to = to;
	}
out:
	generation_free(&cur);
	generation_free(&target);
	policy_source_free(&src);
	session_close(cfg, &s);
	return r;
}
