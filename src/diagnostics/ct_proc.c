#include "diagnostics/ct_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#define CT_PROC_TEXT_MAX (1u << 20)

int ct_proc_read_text(const char *path, char **text)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int fd, r = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		free(buf);
		return r;
	}
	/* procfs files report size 0, so read until EOF */
	for (;;) {
		ssize_t n;
		if (len + 1 == cap) {
			char *p = cap >= CT_PROC_TEXT_MAX ? NULL : realloc(buf, cap * 2);
			if (!p) {
				r = cap >= CT_PROC_TEXT_MAX ? -EFBIG : -ENOMEM;
				break;
			}
			buf = p;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[len] = '\0';
	*text = buf;
	return 0;
}

int ct_proc_read_u64(const char *path, uint64_t *out)
{
	char buf[64], *end;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	errno = 0;
	*out = strtoull(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n'))
		return -EINVAL;
	return 0;
}

int ct_proc_sysctl(const char *name, uint64_t *out)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", CT_PROC_SYSCTL_DIR, name);
	return ct_proc_read_u64(path, out);
}

/* Where each named column of the stat file goes; unknown columns are ignored. */
static uint64_t *stat_field(struct ct_counters *c, const char *name, size_t len)
{
	static const struct {
		const char *name;
		size_t offset;
	} map[] = {
	    {"found", offsetof(struct ct_counters, found)},
	    {"invalid", offsetof(struct ct_counters, invalid)},
	    {"insert", offsetof(struct ct_counters, insert)},
	    {"insert_failed", offsetof(struct ct_counters, insert_failed)},
	    {"drop", offsetof(struct ct_counters, drop)},
	    {"early_drop", offsetof(struct ct_counters, early_drop)},
	    /* ctnetlink calls these error, clash_resolve and chaintoolong */
	    {"icmp_error", offsetof(struct ct_counters, error)},
	    {"search_restart", offsetof(struct ct_counters, search_restart)},
	    {"clashres", offsetof(struct ct_counters, clash_resolve)},
	    {"chainlength", offsetof(struct ct_counters, chaintoolong)},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strlen(map[i].name) == len && !strncmp(map[i].name, name, len))
			return (uint64_t *)((char *)c + map[i].offset);
	return NULL;
}

#define STAT_COLUMNS_MAX 32

int ct_proc_parse_stat(const char *text, struct ct_counters *sum)
{
	uint64_t *cols[STAT_COLUMNS_MAX];
	size_t n_cols = 0;
	const char *p = text;

	memset(sum, 0, sizeof(*sum));
	/* the header: column names separated by blanks */
	while (*p && *p != '\n') {
		const char *w;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '\n')
			break;
		w = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		if (n_cols == STAT_COLUMNS_MAX)
			return -EINVAL;
		cols[n_cols++] = stat_field(sum, w, (size_t)(p - w));
	}
	if (!n_cols || *p != '\n')
		return -EINVAL;
	p++;
	/* one row per CPU */
	while (*p) {
		size_t i = 0;
		for (; i < n_cols; i++) {
			char *end;
			uint64_t v;
			while (*p == ' ' || *p == '\t')
				p++;
			errno = 0;
			v = strtoull(p, &end, 16);
			if (end == p || errno)
				return -EINVAL;
			p = end;
			if (cols[i])
				*cols[i] += v;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p && *p != '\n')
			return -EINVAL;
		if (*p)
			p++;
		sum->cpus++;
	}
	return sum->cpus ? 0 : -EINVAL;
}

int ct_proc_parse_slab(const char *text, const char *name, uint64_t *objsize)
{
	size_t len = strlen(name);

	/* "name <active_objs> <num_objs> <objsize> <objperslab> ..." */
	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		uint64_t active, total, size;
		if (strncmp(line, name, len) || (line[len] != ' ' && line[len] != '\t'))
			continue;
		if (sscanf(line + len, "%" SCNu64 " %" SCNu64 " %" SCNu64, &active, &total, &size) != 3 || !size)
			return -EINVAL;
		*objsize = size;
		return 0;
	}
	return -ENOENT;
}

int ct_proc_ram(uint64_t *bytes)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return -errno;
	*bytes = (uint64_t)si.totalram * si.mem_unit;
	return 0;
}
