#include "fake_backend.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emit/emit.h"
#include "util/hash.h"
#include "util/strbuf.h"

struct fake_script fake;
static char kernel_dir[4096];

struct backend {
	char table[64];
};

static void path_of(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", kernel_dir, name);
}

/* Written whole and renamed into place, as a kernel commit is all or nothing. */
static void write_file(const char *name, const char *text)
{
	char path[4200], tmp[4300];
	FILE *f;

	path_of(path, sizeof(path), name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
		abort();
}

static char *read_file(const char *name)
{
	char path[4200];
	struct strbuf sb;
	char buf[4096];
	size_t n;
	FILE *f;

	path_of(path, sizeof(path), name);
	strbuf_init(&sb);
	f = fopen(path, "r");
	if (f) {
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			strbuf_putn(&sb, buf, n);
		fclose(f);
	}
	strbuf_putc(&sb, '\0');
	if (sb.oom)
		abort();
	return strbuf_take(&sb);
}

void fake_kernel_read(char **text, uint64_t *generation)
{
	char *g = read_file("generation");

	*generation = strtoull(g, NULL, 10);
	free(g);
	*text = read_file("rules");
}

static void kernel_write(const char *text, uint64_t generation)
{
	char g[32];

	/* rules first: a reader that sees the new generation sees the new rules */
	write_file("rules", text);
	snprintf(g, sizeof(g), "%" PRIu64 "\n", generation);
	write_file("generation", g);
}

void fake_kernel_init(const char *dir)
{
	snprintf(kernel_dir, sizeof(kernel_dir), "%s", dir);
	mkdir(dir, 0700);
	memset(&fake, 0, sizeof(fake));
	kernel_write("", 1);
}

void fake_kernel_foreign_edit(const char *text)
{
	char *old;
	uint64_t g;

	fake_kernel_read(&old, &g);
	free(old);
	kernel_write(text, g + 1);
}

void fake_kernel_reboot(void)
{
	char *old;
	uint64_t g;

	fake_kernel_read(&old, &g);
	free(old);
	/* a new boot numbers its generations afresh; far away from the old
	 * ones, so a stale recorded id can never match by chance */
	kernel_write("", g + 1000);
}

static int fake_open(struct backend **out, const struct backend_options *opt, struct diag *d)
{
	struct backend *b = calloc(1, sizeof(*b));

	(void)d;
	if (!b)
		return -ENOMEM;
	snprintf(b->table, sizeof(b->table), "%s", opt->table ? opt->table : "");
	fake.opens++;
	*out = b;
	return 0;
}

static void fake_close(struct backend *b)
{
	free(b);
}

static int desired_text(const struct ruleset *desired, char **out)
{
	struct strbuf sb;

	strbuf_init(&sb);
	if (desired)
		emit_nft_text(desired, &sb);
	strbuf_putc(&sb, '\0');
	if (sb.oom) {
		strbuf_free(&sb);
		return -ENOMEM;
	}
	*out = strbuf_take(&sb);
	return 0;
}

static int fake_plan(struct backend *b, const struct ruleset *desired, struct plan *out, struct diag *d)
{
	char *live, *want;
	uint64_t g;
	int r;

	(void)b;
	(void)d;
	fake.plans++;
	memset(out, 0, sizeof(*out));
	r = desired_text(desired, &want);
	if (r < 0)
		return r;
	fake_kernel_read(&live, &g);
	out->generation_before = g;
	out->changed = strcmp(live, want) != 0;
	if (out->changed)
		r = plan_add_diff(out, "~ table %s", desired ? "replaced" : "removed");
	free(live);
	if (r < 0 || !out->changed) {
		free(want);
		return r;
	}
	out->priv = want;
	return 0;
}

static int fake_commit(struct backend *b, struct plan *p, struct diag *d)
{
	char *live;
	uint64_t g;

	(void)b;
	fake.commits++;
	if (fake.crash == FAKE_CRASH_BEFORE_COMMIT)
		_exit(FAKE_CRASH_STATUS);
	if (fake.refuse_errno)
		return diag_fail(d, DIAG_KERNEL, fake.refuse_errno, NULL, "fake kernel: commit refused");
	fake_kernel_read(&live, &g);
	if (fake.restarts) {
		/* someone else committed first: same rules, the generation moved */
		fake.restarts--;
		kernel_write(live, g + 1);
		free(live);
		return -ERESTART;
	}
	free(live);
	if (g != p->generation_before)
		return -ERESTART;
	if (fake.unknown != FAKE_UNKNOWN_LOST)
		kernel_write(p->priv, g + 1);
	if (fake.crash == FAKE_CRASH_AFTER_COMMIT)
		_exit(FAKE_CRASH_STATUS);
	if (fake.unknown != FAKE_UNKNOWN_OFF) {
		fake.unknown = FAKE_UNKNOWN_OFF;
		return -EINPROGRESS;
	}
	return 0;
}

static void fake_plan_free(struct plan *p)
{
	plan_free_diff(p);
	free(p->priv);
	p->priv = NULL;
}

static int fake_generation(struct backend *b, uint64_t *out, struct diag *d)
{
	char *live;

	(void)b;
	(void)d;
	fake_kernel_read(&live, out);
	free(live);
	return 0;
}

/* One OWNED_RULE per line of our table, and a digest of the whole text:
 * it changes when the table does, whoever changed it. */
static int fake_owned(struct backend *b, bool with_rules, struct owned_list *out, struct diag *d)
{
	char *live, *line, *save = NULL;
	uint64_t g;

	(void)b;
	(void)d;
	memset(out, 0, sizeof(*out));
	fake_kernel_read(&live, &g);
	snprintf(out->digest, sizeof(out->digest), "fake:%016" PRIx64, *live ? hash64(live, strlen(live)) : 0);
	for (line = strtok_r(live, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct owned_object *o;
		out->rules++;
		if (!with_rules)
			continue;
		o = owned_list_add(out);
		if (!o) {
			free(live);
			return -ENOMEM;
		}
		o->kind = OWNED_RULE;
		snprintf(o->family, sizeof(o->family), "inet");
		snprintf(o->table, sizeof(o->table), "fake");
		o->handle = out->rules;
		snprintf(o->comment, sizeof(o->comment), "%.120s", line);
	}
	free(live);
	return 0;
}

/* The fake kernel holds no one else's rules: nothing to lint against. */
static int fake_lint_read(struct backend *b, struct lint_input *out, struct diag *d)
{
	(void)b;
	(void)out;
	(void)d;
	return 0;
}

static int fake_probe(struct probe_list *out, struct diag *d)
{
	(void)out;
	(void)d;
	return 0;
}

const struct backend_ops fake_backend_ops = {
    .name = "fake",
    .tables = BACKEND_TABLES_NFT,
    .probe = fake_probe,
    .open = fake_open,
    .close = fake_close,
    .plan = fake_plan,
    .commit = fake_commit,
    .plan_free = fake_plan_free,
    .generation = fake_generation,
    .exact_generation = true,
    .owned = fake_owned,
    .render = emit_nft_text,
    .lint_read = fake_lint_read,
};
