#include "engine/state.h"

#include "util/hash.h"
#include "util/host.h"
#include "util/lockfile.h"
#include "util/trust.h"
#include "util/strbuf.h"
#include "engine/ct_sysctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATE_FORMAT 1
#define STATE_FILE_MAX (64u * 1024 * 1024)

static int sys_fail(struct diag *d, int err, const char *path, const char *what)
{
	enum diag_kind kind = (err == EACCES || err == EPERM) ? DIAG_PERMISSION : DIAG_STATE;

	diag_set_file(d, path);
	return diag_fail(d, kind, err, NULL, "%s: %s", what, strerror(err));
}

static int ensure_dir(const char *path, struct diag *d)
{
	struct stat s;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return sys_fail(d, errno, path, "cannot create the state directory");
	if (lstat(path, &s) < 0)
		return sys_fail(d, errno, path, "cannot read the state directory");
	if (!S_ISDIR(s.st_mode)) {
		diag_set_file(d, path);
		return diag_fail(d, DIAG_STATE, ENOTDIR, NULL, "is not a directory (a symlink is refused too)");
	}
	/* who can write the state can steer a rollback: the directory and every
	 * one above it must be root's and closed to others */
	return trust_check_path(path, d);
}

int state_open(struct state *st, const char *dir, struct diag *d)
{
	char gen[4200];
	int r;

	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
	if (strlen(dir) >= sizeof(st->dir) - 64)
		return diag_fail(d, DIAG_USAGE, ENAMETOOLONG, NULL, "state directory path is too long");
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	r = ensure_dir(st->dir, d);
	if (r < 0)
		return r;
	snprintf(gen, sizeof(gen), "%s/gen", st->dir);
	return ensure_dir(gen, d);
}

void state_close(struct state *st)
{
	struct diag ignored;

	/* a path that set `current` and did not get to the clear */
	diag_init(&ignored);
	state_sync(st, &ignored);
	diag_free(&ignored);
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* releases the flock */
	st->lock_fd = -1;
}

int state_lock(struct state *st, int timeout_ms, struct diag *d)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/lock", st->dir);
	fd = lockfile_take(path, O_RDWR | O_NOFOLLOW, timeout_ms);
	if (fd == -ETIMEDOUT) {
		diag_set_file(d, path);
		return diag_fail(d, DIAG_LOCK, ETIMEDOUT, NULL,
				 "another notrackctl holds this lock; gave up after %d ms", timeout_ms);
	}
	if (fd < 0)
		return sys_fail(d, -fd, path, "cannot lock");
	st->lock_fd = fd;
	return 0;
}

/* temp file, fsync, rename, fsync of the directory: a crash leaves either
 * the old file or the new one, never a torn one.  Without `durable`, no
 * fsync: readers still see the old file or the new one, but a crash may
 * lose the new one. */
static int write_replace(const char *dir, const char *name, const char *data, size_t len, bool durable, struct diag *d)
{
	char path[4200], tmp[4300];
	int fd, dfd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%d", dir, name, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return sys_fail(d, errno, tmp, "cannot create");
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = sys_fail(d, errno, tmp, "cannot write");
			goto fail;
		}
		off += (size_t)n;
	}
	if (durable && fsync(fd) < 0) {
		r = sys_fail(d, errno, tmp, "cannot fsync");
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = sys_fail(d, errno, tmp, "cannot close");
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = sys_fail(d, errno, path, "cannot rename into place");
		goto fail;
	}
	if (!durable)
		return 0;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		r = sys_fail(d, errno, dir, "cannot fsync the directory");
		if (dfd >= 0)
			close(dfd);
		return r;
	}
	close(dfd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return r;
}

/* A cache (the stamp, the live record, what the backend knew) is written
 * over in place: creating a file costs more than writing one (ext4 looks
 * through its recently deleted inodes for every new one), and a reader
 * already treats a torn cache, which fails its checksum, as absent.  A file
 * that is not ours, or that others could read, is replaced instead. */
static int write_cache(const char *dir, const char *name, const char *data, size_t len, struct diag *d)
{
	char path[4200];
	struct stat s;
	size_t off = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &s) < 0 || !S_ISREG(s.st_mode) || s.st_uid != geteuid() || (s.st_mode & 077) ||
	    s.st_nlink != 1) {
		if (fd >= 0)
			close(fd);
		return write_replace(dir, name, data, len, false, d);
	}
	while (off < len) {
		ssize_t n = pwrite(fd, data + off, len - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off < len || ftruncate(fd, (off_t)len) < 0) {
		int e = errno;
		close(fd);
		unlink(path); /* a torn cache reads as absent anyway: leave none */
		return sys_fail(d, e ? e : EIO, path, "cannot write");
	}
	close(fd);
	return 0;
}

static int fsync_dir(const char *dir, struct diag *d)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0 || fsync(dfd) < 0) {
		int r = sys_fail(d, errno, dir, "cannot fsync the directory");
		if (dfd >= 0)
			close(dfd);
		return r;
	}
	close(dfd);
	return 0;
}

/* An existing regular file of ours, private, with one name; else -1. */
static int open_own(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW);
	struct stat s;

	if (fd >= 0 && (fstat(fd, &s) < 0 || !S_ISREG(s.st_mode) || s.st_uid != geteuid() || (s.st_mode & 077) ||
			s.st_nlink != 1)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/*
 * write_replace(), durable, for the files every change rewrites (current,
 * the intent journal): through a spare file kept next to it (DIR/.NAME.spare),
 * written in place and fsynced, then exchanged with the file (or renamed to
 * it, when there is none) and the directory fsynced.  The same guarantee,
 * old file or new, never torn; but no inode is made and none freed, which on
 * ext4 was most of what writing a small file cost.  Without a usable spare,
 * or a filesystem that cannot exchange, it is write_replace() (and a spare
 * is left for next time).
 */
static int write_via_spare_as(const char *dir, const char *name, const char *data, size_t len, bool sync_dir,
			      struct diag *d)
{
	char path[4200], spare[4300];
	size_t off = 0;
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(spare, sizeof(spare), "%s/.%s.spare", dir, name);
	/* Not O_TRUNC: truncating to zero frees the spare's blocks (on ext4 with
	 * discard, a synchronous discard) only for the write to allocate them
	 * again.  The spare is nobody's record until it is exchanged, so the
	 * bytes are written over in place and the tail cut before the fsync. */
	fd = open_own(spare, O_WRONLY);
	if (fd < 0) {
		r = write_replace(dir, name, data, len, true, d);
		if (r == 0 && (fd = open(spare, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) >= 0)
			close(fd);
		return r;
	}
	errno = 0;
	while (off < len) {
		ssize_t n = pwrite(fd, data + off, len - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off < len || ftruncate(fd, (off_t)len) < 0 || fsync(fd) < 0) {
		r = sys_fail(d, off < len && errno == 0 ? EIO : errno, spare, "cannot write");
		close(fd);
		return r;
	}
	close(fd);
	if (renameat2(AT_FDCWD, spare, AT_FDCWD, path, RENAME_EXCHANGE) < 0 && rename(spare, path) < 0)
		return sys_fail(d, errno, path, "cannot rename into place");
	return sync_dir ? fsync_dir(dir, d) : 0;
}

static int write_via_spare(const char *dir, const char *name, const char *data, size_t len, struct diag *d)
{
	return write_via_spare_as(dir, name, data, len, true, d);
}

static int write_atomic(const char *dir, const char *name, const char *data, size_t len, struct diag *d)
{
	return write_replace(dir, name, data, len, true, d);
}

static int read_small(const char *path, char **out, size_t *len, struct diag *d)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat s;
	char *buf;
	size_t off = 0;

	if (fd < 0)
		return errno == ENOENT ? -ENOENT : sys_fail(d, errno, path, "cannot open");
	if (fstat(fd, &s) < 0 || !S_ISREG(s.st_mode) || (uint64_t)s.st_size > STATE_FILE_MAX) {
		close(fd);
		diag_set_file(d, path);
		return diag_fail(d, DIAG_STATE, EINVAL, NULL, "not a regular state file of sane size");
	}
	int r = trust_check_stat(&s, path, d);
	if (r < 0) {
		close(fd);
		return r;
	}
	buf = malloc((size_t)s.st_size + 1);
	if (!buf) {
		close(fd);
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	}
	while (off < (size_t)s.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)s.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	*out = buf;
	*len = off;
	return 0;
}

int state_current(struct state *st, uint64_t *number, struct diag *d)
{
	char path[4200], *text, *end;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/current", st->dir);
	r = read_small(path, &text, &len, d);
	if (r == -ENOENT) {
		*number = 0;
		return 0;
	}
	if (r < 0)
		return r;
	errno = 0;
	*number = strtoull(text, &end, 10);
	if (errno || end == text || (*end && *end != '\n')) {
		free(text);
		diag_set_file(d, path);
		return diag_fail(d, DIAG_STATE, EINVAL, NULL, "damaged: expected a generation number");
	}
	free(text);
	return 0;
}

static int set_current(struct state *st, uint64_t number, bool sync_dir, struct diag *d)
{
	char text[32];
	int r;

	snprintf(text, sizeof(text), "%" PRIu64 "\n", number);
	/* without a usable spare the write is write_replace(), synced anyway */
	r = write_via_spare_as(st->dir, "current", text, strlen(text), sync_dir, d);
	if (r == 0)
		st->dir_unsynced = !sync_dir;
	return r;
}

int state_set_current(struct state *st, uint64_t number, struct diag *d)
{
	return set_current(st, number, true, d);
}

int state_set_current_then_clear(struct state *st, uint64_t number, struct diag *d)
{
	return set_current(st, number, false, d);
}

int state_sync(struct state *st, struct diag *d)
{
	int r = st->dir_unsynced ? fsync_dir(st->dir, d) : 0;

	if (r == 0)
		st->dir_unsynced = false;
	return r;
}

static int parse_gen_name(const char *name, uint64_t *n)
{
	char *end;

	if (name[0] < '0' || name[0] > '9')
		return -EINVAL;
	*n = strtoull(name, &end, 10);
	return strcmp(end, ".json") == 0 ? 0 : -EINVAL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int state_list(struct state *st, uint64_t **numbers, size_t *n, struct diag *d)
{
	char path[4200];
	struct dirent *e;
	DIR *dir;

	*numbers = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "%s/gen", st->dir);
	dir = opendir(path);
	if (!dir)
		return sys_fail(d, errno, path, "cannot list generations");
	while ((e = readdir(dir))) {
		uint64_t num, *p;
		if (parse_gen_name(e->d_name, &num) < 0)
			continue;
		p = realloc(*numbers, (*n + 1) * sizeof(*p));
		if (!p) {
			closedir(dir);
			return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
		}
		*numbers = p;
		p[(*n)++] = num;
	}
	closedir(dir);
	if (*n > 1)
		qsort(*numbers, *n, sizeof(**numbers), cmp_u64);
	return 0;
}

int state_last(struct state *st, uint64_t *number, struct diag *d)
{
	uint64_t *nums;
	size_t n;
	int r = state_list(st, &nums, &n, d);

	if (r < 0)
		return r;
	*number = n ? nums[n - 1] : 0;
	free(nums);
	return 0;
}

void generation_free(struct generation *g)
{
	free(g->policy_file);
	free(g->policy);
	free(g->compiled);
	owned_list_free(&g->owned);
	memset(g, 0, sizeof(*g));
}

static const char *owned_kind_name(enum owned_kind k)
{
	return k == OWNED_ACCEPT ? "accept" : k == OWNED_JUMP ? "jump" : "rule";
}

/*
 * The objects later runs look up one by one (accepts, jumps) are kept
 * whole; the rules of our own table or chains only as a count, as the
 * digest covers them already.  Without sets an iptables policy can be
 * 131,000 rules: 56 MB of JSON per generation, read back by every
 * `generations` and rollback.
 */
static json_t *owned_json(const struct owned_list *l)
{
	json_t *a = json_array();
	json_int_t rules = (json_int_t)l->rules;

	for (size_t i = 0; a && i < l->n; i++) {
		const struct owned_object *o = &l->v[i];
		if (o->kind == OWNED_RULE) {
			rules++;
			continue;
		}
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "kind", owned_kind_name(o->kind),
						   "family", o->family, "table", o->table, "chain", o->chain, "handle",
						   (json_int_t)o->handle, "comment", o->comment));
	}
	return json_pack("{s:s,s:I,s:o}", "digest", l->digest, "rules", rules, "objects", a);
}

/* Strict: a generation whose owned list cannot be read is not used at all. */
static int owned_from_json(json_t *v, struct owned_list *l)
{
	json_t *objs = json_object_get(v, "objects"), *o;
	const char *digest;
	json_int_t rules = 0;
	size_t i;

	/* "rules" is absent from generations recorded before it was kept as
	 * a count: their rule objects are counted below */
	if (!json_is_object(v) || !json_is_array(objs) ||
	    json_unpack(v, "{s:s,s?I}", "digest", &digest, "rules", &rules) < 0 || rules < 0 ||
	    strlen(digest) >= sizeof(l->digest))
		return -EINVAL;
	l->rules = (size_t)rules;
	snprintf(l->digest, sizeof(l->digest), "%s", digest);
	json_array_foreach(objs, i, o)
	{
		const char *kind, *family, *table, *chain, *comment;
		json_int_t handle;
		struct owned_object *ob;

		if (json_unpack(o, "{s:s,s:s,s:s,s:s,s:I,s:s}", "kind", &kind, "family", &family, "table", &table,
				"chain", &chain, "handle", &handle, "comment", &comment) < 0)
			return -EINVAL;
		if (strcmp(kind, "accept") && strcmp(kind, "jump")) {
			l->rules++; /* kept as a count, as owned_json() writes it */
			continue;
		}
		ob = owned_list_add(l);
		if (!ob)
			return -ENOMEM;
		ob->kind = !strcmp(kind, "accept") ? OWNED_ACCEPT : OWNED_JUMP;
		snprintf(ob->family, sizeof(ob->family), "%s", family);
		snprintf(ob->table, sizeof(ob->table), "%s", table);
		snprintf(ob->chain, sizeof(ob->chain), "%s", chain);
		snprintf(ob->comment, sizeof(ob->comment), "%s", comment);
		ob->handle = (uint64_t)handle;
	}
	return 0;
}

static json_t *generation_body(const struct generation *g)
{
	json_t *body = json_pack("{s:i,s:I,s:I,s:s,s:s,s:s,s:I,s:s?,s:s?,s:s,s:I,s:s?}", "format", STATE_FORMAT,
				 "generation", (json_int_t)g->number, "parent", (json_int_t)g->parent, "action",
				 g->action, "backend", g->backend, "table", g->table, "time", (json_int_t)g->time,
				 "policy_file", g->policy_file, "policy", g->policy, "policy_digest", g->policy_digest,
				 "kernel_generation", (json_int_t)g->kernel_generation, "compiled", g->compiled);

	if (body)
		json_object_set_new(body, "owned", owned_json(&g->owned));
	if (body && g->compiled_omitted)
		json_object_set_new(body, "compiled_omitted", json_true());
	return body;
}

/* Whether any of the 8 bytes at p is below 0x20, a quote or a backslash
 * (bit tricks on one word: each test is exact for "any byte"). */
static inline bool word_needs_escape(const char *p)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t x, quote, bslash;

	memcpy(&x, p, 8);
	quote = x ^ (ones * '"');
	bslash = x ^ (ones * '\\');
	return (((x - ones * 0x20) & ~x) | ((quote - ones) & ~quote) | ((bslash - ones) & ~bslash)) & highs;
}

/* A JSON string as json_dumps() writes it (neither JSON_ENSURE_ASCII nor
 * JSON_ESCAPE_SLASH): quote, backslash and control characters escaped,
 * every other byte as it is. */
static void put_json_string(struct strbuf *out, const char *s, size_t len)
{
	size_t run = 0;

	strbuf_putc(out, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c;
		char u[8];
		/* eight bytes at a time while none of them needs escaping: most
		 * of a 237 KB generation is plain text */
		while (len - i >= 8 && !word_needs_escape(s + i))
			i += 8;
		if (i == len)
			break;
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		strbuf_putn(out, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': strbuf_puts(out, "\\\""); break;
		case '\\': strbuf_puts(out, "\\\\"); break;
		case '\b': strbuf_puts(out, "\\b"); break;
		case '\f': strbuf_puts(out, "\\f"); break;
		case '\n': strbuf_puts(out, "\\n"); break;
		case '\r': strbuf_puts(out, "\\r"); break;
		case '\t': strbuf_puts(out, "\\t"); break;
		default: snprintf(u, sizeof(u), "\\u%04X", c); strbuf_puts(out, u);
		}
	}
	strbuf_putn(out, s + run, len - run);
	strbuf_putc(out, '"');
}

/*
 * json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT), byte for byte, with the
 * large strings of the top level (a generation's policy and compiled text)
 * escaped here: jansson escapes them a character at a time, which was most
 * of recording a 10,000-port generation.  They are dumped as placeholders
 * and put in afterwards.  NULL when out of memory.
 */
static char *dump_compact(json_t *body)
{
	static const char *const big[] = {"compiled", "policy"}; /* in sorted order */
	enum { N_BIG = sizeof(big) / sizeof(big[0]) };
	_cleanup_strbuf_ struct strbuf out;
	json_t *kept[N_BIG] = {0};
	char needle[N_BIG][64];
	const char *at;
	char *text;

	strbuf_init(&out);
	for (size_t i = 0; i < N_BIG; i++) {
		json_t *v = json_object_get(body, big[i]);
		char mark[32];
		if (!json_is_string(v) || json_string_length(v) < 4096)
			continue;
		/* a control character: no policy text or path holds one unescaped */
		snprintf(mark, sizeof(mark), "\001notrackctl-big-%zu\001", i);
		snprintf(needle[i], sizeof(needle[i]), "\"%s\":\"\\u0001notrackctl-big-%zu\\u0001\"", big[i], i);
		kept[i] = json_incref(v);
		json_object_set_new(body, big[i], json_string(mark));
	}
	text = json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT);
	at = text;
	for (size_t i = 0; text && i < N_BIG; i++) {
		const char *hit;
		if (!kept[i])
			continue;
		hit = strstr(at, needle[i]);
		if (!hit) { /* cannot be: dump it the slow way */
			free(text);
			text = NULL;
			break;
		}
		strbuf_putn(&out, at, (size_t)(hit - at));
		strbuf_printf(&out, "\"%s\":", big[i]);
		put_json_string(&out, json_string_value(kept[i]), json_string_length(kept[i]));
		at = hit + strlen(needle[i]);
	}
	for (size_t i = 0; i < N_BIG; i++)
		if (kept[i])
			json_object_set_new(body, big[i], kept[i]);
	if (!text || at == text)
		return text ? text : json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT);
	strbuf_puts(&out, at);
	free(text);
	if (out.oom)
		return NULL;
	text = out.data;
	strbuf_init(&out);
	return text;
}

/*
 * A state file's checksum: XXH3, "xxh3:" and 16 hex digits.  Files written
 * before it carry FNV-1a (digest_text(), bare hex), and readers still take
 * those.  FNV-1a goes a byte at a time through a dependent multiply: over
 * a 10,000-port generation (237 KB), its journal, and the known-objects
 * cache written and read, that was 1.5 to 2 ms of every small change.
 * Like FNV, it detects damage and hand edits, not an attacker (who can
 * write the state directory can steer a rollback anyway: trust.h).
 */
#define SUM_PREFIX "xxh3:"

static void state_sum(const char *text, size_t len, char out[DIGEST_SIZE])
{
	snprintf(out, DIGEST_SIZE, SUM_PREFIX "%016" PRIx64, hash64(text, len));
}

/* Whether sum is text's checksum, in either form. */
static bool state_sum_matches(const char *sum, const char *text, size_t len)
{
	char want[DIGEST_SIZE];

	if (!strncmp(sum, SUM_PREFIX, strlen(SUM_PREFIX)))
		state_sum(text, len, want);
	else
		digest_text(text, len, want);
	return !strcmp(sum, want);
}

/* The checksum covers the body as serialised with sorted keys, so a damaged
 * or hand-edited file is detected before it can steer anything.  Takes body.
 * Without `durable`, see write_replace(). */
enum write_how {
	WRITE_CACHE,   /* write_cache() */
	WRITE_DURABLE, /* write_replace(), durable */
	WRITE_SPARE,   /* write_via_spare() */
};

static int write_checksummed_as(const char *dir, const char *name, json_t *body, enum write_how how, struct diag *d)
{
	char digest[DIGEST_SIZE], *text, *out;
	size_t len, n;
	int r;

	if (!body)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	text = dump_compact(body);
	if (!text) {
		json_decref(body);
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	}
	json_decref(body);
	len = strlen(text);
	state_sum(text, len, digest);
	/* the file is that very text with the checksum in front: serialising a
	 * 200 KB generation a second time, indented, cost more than its fsync
	 * (a reader finds the key wherever it is) */
	out = len >= 2 ? malloc(len + DIGEST_SIZE + 32) : NULL;
	if (!out) {
		free(text);
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	}
	n = (size_t)sprintf(out, "{\"checksum\":\"%s\"%s%s\n", digest, len > 2 ? "," : "", text + 1);
	free(text);
	r = how == WRITE_CACHE	 ? write_cache(dir, name, out, n, d)
	    : how == WRITE_SPARE ? write_via_spare(dir, name, out, n, d)
				 : write_replace(dir, name, out, n, true, d);
	free(out);
	return r;
}

static int write_checksummed(const char *dir, const char *name, json_t *body, struct diag *d)
{
	return write_checksummed_as(dir, name, body, WRITE_DURABLE, d);
}

/* Reads a file written by write_checksummed() and checks its checksum.
 * -ENOENT without touching d when it does not exist.  On success d->file
 * is left naming it, for the caller's content checks. */
static int read_checksummed(const char *path, json_t **out, struct diag *d)
{
	char *text = NULL, *canon = NULL;
	json_error_t jerr;
	json_t *root, *sum;
	size_t len;
	int r;

	*out = NULL;
	r = read_small(path, &text, &len, d);
	if (r < 0)
		return r;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	diag_set_file(d, path);
	if (!root || !json_is_object(root)) {
		r = diag_fail(d, DIAG_STATE, EINVAL, NULL, "damaged state file (line %d: %s); left for the admin",
			      jerr.line, root ? "not an object" : jerr.text);
		json_decref(root);
		return r;
	}
	sum = json_incref(json_object_get(root, "checksum"));
	json_object_del(root, "checksum");
	canon = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
	if (!canon || !json_is_string(sum) || !state_sum_matches(json_string_value(sum), canon, strlen(canon))) {
		r = diag_fail(d, DIAG_STATE, EBADMSG, NULL,
			      "checksum mismatch: the file is damaged or was edited; left for the admin");
		json_decref(root);
		root = NULL;
	}
	json_decref(sum);
	free(canon);
	*out = root;
	return r;
}

/* read_checksummed() of DIR/name. */
static int read_state_json(struct state *st, const char *name, json_t **out, struct diag *d)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", st->dir, name);
	return read_checksummed(path, out, d);
}

int state_save(struct state *st, const struct generation *g, struct diag *d)
{
	char name[64], dir[4200];

	snprintf(name, sizeof(name), "%" PRIu64 ".json", g->number);
	snprintf(dir, sizeof(dir), "%s/gen", st->dir);
	return write_checksummed(dir, name, generation_body(g), d);
}

static char *dup_opt(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

int state_load(struct state *st, uint64_t number, struct generation *g, struct diag *d)
{
	char path[4200];
	json_error_t jerr;
	json_t *root = NULL;
	int r;

	memset(g, 0, sizeof(*g));
	snprintf(path, sizeof(path), "%s/gen/%" PRIu64 ".json", st->dir, number);
	r = read_checksummed(path, &root, d);
	if (r == -ENOENT) {
		diag_set_file(d, path);
		return diag_fail(d, DIAG_STATE, ENOENT, NULL, "generation %" PRIu64 " does not exist", number);
	}
	if (r < 0)
		goto out;
	json_int_t fmt = 0, num = 0, parent = 0, tm = 0, kgen = 0;
	const char *action = NULL, *backend = NULL, *table = NULL, *pdig = NULL;
	if (json_unpack_ex(root, &jerr, 0, "{s:I,s:I,s:I,s:s,s:s,s:s,s:I,s:s,s:I}", "format", &fmt, "generation", &num,
			   "parent", &parent, "action", &action, "backend", &backend, "table", &table, "time", &tm,
			   "policy_digest", &pdig, "kernel_generation", &kgen) < 0 ||
	    fmt != STATE_FORMAT || (uint64_t)num != number) {
		r = diag_fail(d, DIAG_STATE, EINVAL, NULL, "unexpected content (%s); left for the admin",
			      fmt != STATE_FORMAT ? "unknown format" : jerr.text);
		goto out;
	}
	g->number = (uint64_t)num;
	g->parent = (uint64_t)parent;
	g->time = tm;
	g->kernel_generation = (uint64_t)kgen;
	snprintf(g->action, sizeof(g->action), "%s", action);
	snprintf(g->backend, sizeof(g->backend), "%s", backend);
	snprintf(g->table, sizeof(g->table), "%s", table);
	snprintf(g->policy_digest, sizeof(g->policy_digest), "%s", pdig);
	g->policy_file = dup_opt(root, "policy_file");
	g->policy = dup_opt(root, "policy");
	g->compiled = dup_opt(root, "compiled");
	g->compiled_omitted = json_is_true(json_object_get(root, "compiled_omitted"));
	if (owned_from_json(json_object_get(root, "owned"), &g->owned) < 0) {
		r = diag_fail(d, DIAG_STATE, EINVAL, NULL, "unexpected content (owned objects); left for the admin");
		goto out;
	}
	d->file[0] = '\0';
out:
	if (r < 0)
		generation_free(g);
	json_decref(root);
	return r;
}

int state_pending_read(struct state *st, struct pending *p, struct diag *d)
{
	char path[4200], *text;
	const char *token, *timer, *timer_id, *boot_id = "";
	json_int_t gen, to, created, deadline, boot_deadline_ms = 0;
	json_error_t jerr;
	json_t *root;
	size_t len;
	int r;

	memset(p, 0, sizeof(*p));
	snprintf(path, sizeof(path), "%s/pending.json", st->dir);
	r = read_small(path, &text, &len, d);
	if (r < 0)
		return r;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!root ||
	    json_unpack_ex(root, &jerr, JSON_STRICT, "{s:s,s:I,s:I,s:I,s:I,s:s,s:s,s?I,s?s}", "token", &token,
			   "generation", &gen, "rollback_to", &to, "created", &created, "deadline", &deadline, "timer",
			   &timer, "timer_id", &timer_id, "boot_deadline_ms", &boot_deadline_ms, "boot_id",
			   &boot_id) < 0 ||
	    strlen(boot_id) >= sizeof(p->boot_id) || strlen(token) != PENDING_TOKEN_LEN ||
	    strlen(timer) >= sizeof(p->timer) || strlen(timer_id) >= sizeof(p->timer_id) || gen < 0 || to < 0) {
		json_decref(root);
		diag_set_file(d, path);
		return diag_fail(d, DIAG_STATE, EINVAL, NULL, "damaged (%s); left for the admin", jerr.text);
	}
	snprintf(p->token, sizeof(p->token), "%s", token);
	snprintf(p->timer, sizeof(p->timer), "%s", timer);
	snprintf(p->timer_id, sizeof(p->timer_id), "%s", timer_id);
	p->generation = (uint64_t)gen;
	p->rollback_to = (uint64_t)to;
	p->created = created;
	p->deadline = deadline;
	p->boot_deadline_ms = boot_deadline_ms;
	snprintf(p->boot_id, sizeof(p->boot_id), "%s", boot_id);
	json_decref(root);
	return 0;
}

/* CLOCK_BOOTTIME in ms: monotonic, counts suspended time, never stepped. */
int64_t state_boot_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_BOOTTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Milliseconds until a pending confirmation's deadline (<= 0: passed), on
 * the boot-time clock when the deadline was set in this boot. */
int64_t state_pending_left_ms(const struct pending *p)
{
	char boot[40];

	if (p->boot_deadline_ms > 0 && host_boot_id(boot) == 0 && !strcmp(boot, p->boot_id))
		return p->boot_deadline_ms - state_boot_ms();
	/* recorded without a boot-time deadline, or in another boot (its
	 * clock is gone): the wall clock is all there is */
	return (p->deadline - (int64_t)time(NULL)) * 1000;
}

int state_pending_write(struct state *st, const struct pending *p, struct diag *d)
{
	json_t *o =
	    json_pack("{s:s,s:I,s:I,s:I,s:I,s:s,s:s,s:I,s:s}", "token", p->token, "generation",
		      (json_int_t)p->generation, "rollback_to", (json_int_t)p->rollback_to, "created",
		      (json_int_t)p->created, "deadline", (json_int_t)p->deadline, "timer", p->timer, "timer_id",
		      p->timer_id, "boot_deadline_ms", (json_int_t)p->boot_deadline_ms, "boot_id", p->boot_id);
	char *text = o ? json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(2)) : NULL;
	int r;

	json_decref(o);
	if (!text)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	r = write_atomic(st->dir, "pending.json", text, strlen(text), d);
	free(text);
	return r;
}

/* Unlinks DIR/name and makes that durable: an unlink lives in the
 * directory, so it survives a power loss only once the directory is synced. */
static int unlink_durable(const char *dir, const char *name, struct diag *d)
{
	char path[4200];
	int dfd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : sys_fail(d, errno, path, "cannot remove");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		int r = sys_fail(d, errno, dir, "cannot fsync the directory");
		if (dfd >= 0)
			close(dfd);
		return r;
	}
	close(dfd);
	return 0;
}

int state_pending_clear(struct state *st, struct diag *d)
{
	/* the removal must be durable before we report a confirmation */
	return unlink_durable(st->dir, "pending.json", d);
}

/* ------------------------------------------------------------------ */
/* the intent journal                                                   */

void intent_free(struct intent *in)
{
	free(in->policy_file);
	free(in->policy);
	memset(in, 0, sizeof(*in));
}

int state_intent_write(struct state *st, const struct intent *in, struct diag *d)
{
	return write_checksummed_as(st->dir, "intent.json",
				    json_pack("{s:i,s:s,s:I,s:I,s:s?,s:s?,s:s,s:s,s:s}", "format", STATE_FORMAT,
					      "action", in->action, "from", (json_int_t)in->from, "to",
					      (json_int_t)in->to, "policy_file", in->policy_file, "policy", in->policy,
					      "boot_id", in->boot_id, "backend", in->backend, "table", in->table),
				    WRITE_SPARE, d);
}

int state_intent_read(struct state *st, struct intent *in, struct diag *d)
{
	json_error_t jerr;
	json_int_t fmt, from, to;
	const char *action, *boot_id = "", *backend = "", *table = "";
	json_t *root;
	int r;

	memset(in, 0, sizeof(*in));
	r = read_state_json(st, "intent.json", &root, d);
	if (r < 0)
		return r;
	if (json_unpack_ex(root, &jerr, 0, "{s:I,s:s,s:I,s:I,s?s,s?s,s?s}", "format", &fmt, "action", &action, "from",
			   &from, "to", &to, "boot_id", &boot_id, "backend", &backend, "table", &table) < 0 ||
	    fmt != STATE_FORMAT || from < 0 || to < 0 || strlen(action) >= sizeof(in->action) ||
	    strlen(boot_id) >= sizeof(in->boot_id) || strlen(backend) >= sizeof(in->backend) ||
	    strlen(table) >= sizeof(in->table)) {
		json_decref(root);
		return diag_fail(d, DIAG_STATE, EINVAL, NULL, "unexpected content (%s); left for the admin", jerr.text);
	}
	snprintf(in->action, sizeof(in->action), "%s", action);
	in->from = (uint64_t)from;
	in->to = (uint64_t)to;
	in->policy_file = dup_opt(root, "policy_file");
	in->policy = dup_opt(root, "policy");
	snprintf(in->boot_id, sizeof(in->boot_id), "%s", boot_id);
	snprintf(in->backend, sizeof(in->backend), "%s", backend);
	snprintf(in->table, sizeof(in->table), "%s", table);
	json_decref(root);
	d->file[0] = '\0';
	return 0;
}

int state_intent_clear(struct state *st, struct diag *d)
{
	char path[4200], spare[4300];

	/* renamed to the spare the next journal entry is written into (see
	 * write_via_spare()), as durably as removing it */
	snprintf(path, sizeof(path), "%s/intent.json", st->dir);
	snprintf(spare, sizeof(spare), "%s/.intent.json.spare", st->dir);
	if (rename(path, spare) < 0) {
		int r = errno == ENOENT ? 0 : unlink_durable(st->dir, "intent.json", d);
		return r < 0 ? r : state_sync(st, d);
	}
	/* one fsync for this rename and a `current` renamed just before */
	st->dir_unsynced = true;
	return state_sync(st, d);
}

/* ------------------------------------------------------------------ */
/* the live record and the expired confirmation                         */

int state_live_read(struct state *st, struct live_record *l)
{
	const char *boot_id, *digest;
	json_int_t gen, kgen;
	struct diag scratch;
	json_t *root;
	int r;

	memset(l, 0, sizeof(*l));
	diag_init(&scratch);
	r = read_state_json(st, "live.json", &root, &scratch);
	diag_free(&scratch);
	if (r < 0)
		return -ENOENT;
	r = json_unpack(root, "{s:I,s:s,s:I,s:s}", "generation", &gen, "boot_id", &boot_id, "kernel_generation", &kgen,
			"owned_digest", &digest) < 0 ||
		    gen < 0 || strlen(boot_id) >= sizeof(l->boot_id) || strlen(digest) >= sizeof(l->owned_digest)
		? -ENOENT
		: 0;
	if (r == 0) {
		l->generation = (uint64_t)gen;
		l->kernel_generation = (uint64_t)kgen;
		snprintf(l->boot_id, sizeof(l->boot_id), "%s", boot_id);
		snprintf(l->owned_digest, sizeof(l->owned_digest), "%s", digest);
	}
	json_decref(root);
	return r;
}

int state_live_write(struct state *st, const struct live_record *l, struct diag *d)
{
	/* not fsynced: it describes this boot's kernel, which a crash ends */
	return write_checksummed_as(st->dir, "live.json",
				    json_pack("{s:i,s:I,s:s,s:I,s:s}", "format", STATE_FORMAT, "generation",
					      (json_int_t)l->generation, "boot_id", l->boot_id, "kernel_generation",
					      (json_int_t)l->kernel_generation, "owned_digest", l->owned_digest),
				    WRITE_CACHE, d);
}

int state_expired_read(struct state *st, struct expired *e, struct diag *d)
{
	const char *token, *reason;
	json_int_t gen, back, tm;
	int refused;
	json_t *root;
	int r;

	memset(e, 0, sizeof(*e));
	r = read_state_json(st, "expired.json", &root, d);
	if (r < 0)
		return r;
	if (json_unpack(root, "{s:s,s:I,s:I,s:I,s:b,s:s}", "token", &token, "generation", &gen, "rolled_back", &back,
			"time", &tm, "refused", &refused, "reason", &reason) < 0 ||
	    strlen(token) != PENDING_TOKEN_LEN || gen < 0 || back < 0) {
		json_decref(root);
		return diag_fail(d, DIAG_STATE, EINVAL, NULL, "unexpected content; left for the admin");
	}
	snprintf(e->token, sizeof(e->token), "%s", token);
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
	e->generation = (uint64_t)gen;
	e->rolled_back = (uint64_t)back;
	e->time = tm;
	e->refused = refused;
	json_decref(root);
	d->file[0] = '\0';
	return 0;
}

int state_expired_write(struct state *st, const struct expired *e, struct diag *d)
{
	return write_checksummed(st->dir, "expired.json",
				 json_pack("{s:i,s:s,s:I,s:I,s:I,s:b,s:s}", "format", STATE_FORMAT, "token", e->token,
					   "generation", (json_int_t)e->generation, "rolled_back",
					   (json_int_t)e->rolled_back, "time", (json_int_t)e->time, "refused",
					   (int)e->refused, "reason", e->reason),
				 d);
}

int state_expired_clear(struct state *st, struct diag *d)
{
	return unlink_durable(st->dir, "expired.json", d);
}

int state_verify_all(struct state *st, struct diag *d)
{
	uint64_t *nums;
	size_t n;
	int r = state_list(st, &nums, &n, d);

	for (size_t i = 0; r == 0 && i < n; i++) {
		struct generation g;
		r = state_load(st, nums[i], &g, d);
		if (r == 0)
			generation_free(&g);
	}
	free(nums);
	return r;
}

/* ------------------------------------------------------------------ */
/* the verified stamp                                                   */

/* sscanf's view of the line stamp_text() writes (without its sum) */
static const char stamp_format[] =
    "notrackctl-verified 1 boot %39s netns %" SCNu64 " generation %" SCNu64 " backend %15s table %31s compiled %23s";

static void stamp_text(const struct verified_stamp *v, char *buf, size_t size)
{
	char sum[DIGEST_SIZE];
	int n = snprintf(buf, size,
			 "notrackctl-verified 1 boot %s netns %" PRIu64 " generation %" PRIu64
			 " backend %s table %s compiled %s",
			 v->boot_id, v->netns_cookie, v->kernel_generation, v->backend, v->table, v->compiled);

	if (n < 0 || (size_t)n >= size)
		return;
	digest_text(buf, (size_t)n, sum);
	snprintf(buf + n, size - (size_t)n, " sum %s\n", sum);
}

int state_stamp_read(struct state *st, struct verified_stamp *v)
{
	char path[4200], again[512], *text = NULL;
	struct diag scratch;
	size_t len;
	int r;

	memset(v, 0, sizeof(*v));
	snprintf(path, sizeof(path), "%s/verified", st->dir);
	diag_init(&scratch);
	r = read_small(path, &text, &len, &scratch); /* the same trust checks as every state file */
	diag_free(&scratch);
	if (r < 0)
		return -1;
	r = sscanf(text, stamp_format, v->boot_id, &v->netns_cookie, &v->kernel_generation, v->backend, v->table,
		   v->compiled) == 6
		? 0
		: -1;
	/* the whole line must be exactly what we would write: no torn or edited stamp */
	if (r == 0) {
		stamp_text(v, again, sizeof(again));
		r = strcmp(text, again) == 0 ? 0 : -1;
	}
	free(text);
	if (r < 0)
		memset(v, 0, sizeof(*v));
	return r;
}

int state_stamp_write(struct state *st, const struct verified_stamp *v, struct diag *d)
{
	char text[512];

	stamp_text(v, text, sizeof(text));
	return write_cache(st->dir, "verified", text, strlen(text), d);
}

/* ------------------------------------------------------------------ */
/* what the backend knew                                                */

/* "notrackctl-known 2 TAG len N sum S\n" and then the N bytes, S their
 * state_sum() (version 1, with FNV-1a, reads as absent: a cache). */
static int known_header(const char *tag, const char *data, size_t len, char *out, size_t size)
{
	char sum[DIGEST_SIZE];
	int n;

	state_sum(data, len, sum);
	n = snprintf(out, size, "notrackctl-known 2 %s len %zu sum %s\n", tag, len, sum);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

int state_known_read(struct state *st, const char *tag, char **data, size_t *len)
{
	char path[4200], header[512], *text = NULL, *nl;
	struct diag scratch;
	size_t n;
	int r;

	*data = NULL;
	*len = 0;
	snprintf(path, sizeof(path), "%s/known", st->dir);
	diag_init(&scratch);
	r = read_small(path, &text, &n, &scratch); /* the same trust checks as every state file */
	diag_free(&scratch);
	if (r < 0)
		return -1;
	nl = memchr(text, '\n', n < sizeof(header) ? n : sizeof(header));
	if (nl) {
		size_t head = (size_t)(nl - text) + 1;
		/* the header must be exactly what writing these bytes under this tag gives */
		r = known_header(tag, nl + 1, n - head, header, sizeof(header));
		if (r == (int)head && !memcmp(header, text, head)) {
			memmove(text, nl + 1, n - head);
			*data = text;
			*len = n - head;
			return 0;
		}
	}
	free(text);
	return -1;
}

int state_known_write(struct state *st, const char *tag, const char *data, size_t len, struct diag *d)
{
	char header[512];
	int h = known_header(tag, data, len, header, sizeof(header));
	char *text = h < 0 ? NULL : malloc((size_t)h + len);
	int r;

	if (!text)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "cannot write the known-objects cache");
	memcpy(text, header, (size_t)h);
	memcpy(text + h, data, len);
	/* not fsynced: it only holds for the boot it was written in */
	r = write_cache(st->dir, "known", text, (size_t)h + len, d);
	free(text);
	return r;
}

/* ------------------------------------------------------------------ */
/* the conntrack baseline                                               */

int state_ct_baseline_read(struct state *st, struct ct_values *out, struct diag *d)
{
	json_t *root, *base, *v;
	const char *key;
	int r;

	memset(out, 0, sizeof(*out));
	r = read_state_json(st, "conntrack.json", &root, d);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	base = json_object_get(root, "baseline");
	if (!json_is_object(base))
		r = diag_fail(d, DIAG_STATE, EINVAL, NULL, "unexpected content; left for the admin");
	json_object_foreach(base, key, v)
	{
		if (r < 0)
			break;
		if (!json_is_integer(v) || strlen(key) >= CT_KEY_MAX)
			r = diag_fail(d, DIAG_STATE, EINVAL, NULL, "unexpected content at \"%s\"; left for the admin",
				      key);
		else if (ct_values_set(out, key, json_integer_value(v)) < 0)
			r = diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	}
	json_decref(root);
	if (r < 0)
		ct_values_free(out);
	else
		d->file[0] = '\0';
	return r;
}

int state_ct_baseline_write(struct state *st, const struct ct_values *l, struct diag *d)
{
	json_t *base;

	if (!l->n)
		return unlink_durable(st->dir, "conntrack.json", d);
	base = json_object();
	for (size_t i = 0; base && i < l->n; i++)
		json_object_set_new(base, l->v[i].key, json_integer(l->v[i].value));
	return write_checksummed(st->dir, "conntrack.json",
				 base ? json_pack("{s:i,s:o}", "format", STATE_FORMAT, "baseline", base) : NULL, d);
}
