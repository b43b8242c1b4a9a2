#include "engine/ct_sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diagnostics/ct_proc.h"

const char *ct_sysctl_root(void)
{
	const char *seam = getenv("NOTRACKCTL_TEST_SYSCTL_ROOT");

	return seam && *seam ? seam : CT_PROC_SYSCTL_DIR;
}

static void key_path(const char *key, char *buf, size_t size)
{
	snprintf(buf, size, "%s/nf_conntrack_%s", ct_sysctl_root(), key);
}

int ct_sysctl_read(const char *key, long long *out, struct diag *d)
{
	char path[512], buf[64], *end;
	ssize_t n;
	int fd, err;

	key_path(key, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		return diag_fail(d, DIAG_SYSTEM, err, NULL, "conntrack.%s: cannot read %s: %s%s", key, path,
				 strerror(err), err == ENOENT ? " (this kernel has no such setting)" : "");
	}
	n = read(fd, buf, sizeof(buf) - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return diag_fail(d, DIAG_SYSTEM, err, NULL, "conntrack.%s: cannot read %s: %s", key, path,
				 strerror(err));
	buf[n] = '\0';
	errno = 0;
	*out = strtoll(buf, &end, 10);
	if (end == buf || errno || (*end && *end != '\n'))
		return diag_fail(d, DIAG_SYSTEM, EINVAL, NULL, "conntrack.%s: %s does not hold a number", key, path);
	return 0;
}

int ct_sysctl_write(const char *key, long long value, struct diag *d)
{
	char path[512], buf[32];
	int fd, err, len;
	ssize_t n;

	key_path(key, path, sizeof(path));
	len = snprintf(buf, sizeof(buf), "%lld\n", value);
	/* a test seam: this key's writes fail, as a kernel that refuses a
	 * value would make them, to exercise compensation */
	const char *fault = getenv("NOTRACKCTL_TEST_SYSCTL_FAIL");
	if (fault && !strcmp(fault, key))
		return diag_fail(d, DIAG_KERNEL, EIO, NULL, "conntrack.%s: the kernel refused %lld for %s: %s", key,
				 value, path, strerror(EIO));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		return diag_fail(d, DIAG_SYSTEM, err, NULL, "conntrack.%s: cannot write %s: %s", key, path,
				 strerror(err));
	}
	/* one write: a sysctl parses what one write(2) carries */
	n = write(fd, buf, (size_t)len);
	err = errno;
	if (close(fd) < 0 && n == len) {
		n = -1;
		err = errno;
	}
	if (n != len)
		return diag_fail(d, DIAG_KERNEL, n < 0 ? err : EIO, NULL,
				 "conntrack.%s: the kernel refused %lld for %s: %s", key, value, path,
				 strerror(n < 0 ? err : EIO));
	return 0;
}

int ct_sysctl_check(const struct ct_value *want, size_t n, struct diag *d)
{
	for (size_t i = 0; i < n; i++) {
		char path[512];
		int fd, err;

		key_path(want[i].key, path, sizeof(path));
		/* opening for writing is the kernel's own permission check
		 * (proc_sys_permission), and writes nothing */
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		err = errno;
		if (err == ENOENT)
			return diag_fail(d, DIAG_POLICY, err, want[i].path,
					 "this kernel has no net.netfilter.nf_conntrack_%s; nothing was applied",
					 want[i].key);
		if (err == EACCES || err == EPERM || err == EROFS)
			return diag_fail(d, DIAG_PERMISSION, err, want[i].path,
					 "net.netfilter.nf_conntrack_%s cannot be written here (%s: read-only in "
					 "this network namespace or container; only the initial namespace can set "
					 "it); nothing was applied",
					 want[i].key, strerror(err));
		return diag_fail(d, DIAG_SYSTEM, err, want[i].path, "conntrack.%s: cannot open %s for writing: %s",
				 want[i].key, path, strerror(err));
	}
	return 0;
}

static bool wanted(const struct ct_value *want, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(want[i].key, key))
			return true;
	return false;
}

/* Writes key = value unless it holds that already, noting the old value in
 * `before` so that the write can be undone. */
static int set_one(const char *key, long long value, struct ct_values *before, bool *changed, struct diag *d)
{
	long long now;
	int r = ct_sysctl_read(key, &now, d);

	if (r < 0 || now == value)
		return r;
	/* a refused write left the value as it was: nothing to undo there */
	r = ct_sysctl_write(key, value, d);
	if (r < 0)
		return r;
	*changed = true;
	if (ct_values_set(before, key, now) < 0) {
		ct_sysctl_write(key, now, d);
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	}
	return 0;
}

int ct_sysctl_note_baseline(const struct ct_value *want, size_t n, struct ct_values *baseline, bool *grew,
			    struct diag *d)
{
	*grew = false;
	for (size_t i = 0; i < n; i++) {
		long long now;
		int r;

		if (ct_values_find(baseline, want[i].key))
			continue;
		/* first time we manage it: what to put back once we stop */
		r = ct_sysctl_read(want[i].key, &now, d);
		if (r < 0)
			return r;
		if (ct_values_set(baseline, want[i].key, now) < 0)
			return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
		*grew = true;
	}
	return 0;
}

int ct_sysctl_apply(const struct ct_value *want, size_t n, struct ct_values *baseline, struct ct_values *before,
		    bool *changed, struct diag *d)
{
	int r = 0;

	*changed = false;
	for (size_t i = 0; r == 0 && i < n; i++)
		r = set_one(want[i].key, want[i].value, before, changed, d);
	for (size_t i = 0; r == 0 && i < baseline->n;) {
		if (wanted(want, n, baseline->v[i].key)) {
			i++;
			continue;
		}
		r = set_one(baseline->v[i].key, baseline->v[i].value, before, changed, d);
		if (r == 0)
			ct_values_del(baseline, baseline->v[i].key); /* the last moved to i */
	}
	if (r < 0) {
		struct diag ud;
		diag_init(&ud);
		if (ct_sysctl_undo(before, &ud) < 0) {
			size_t len = strlen(d->msg);
			snprintf(d->msg + len, sizeof(d->msg) - len, "; putting the values back failed too: %s",
				 ud.msg);
		}
		diag_free(&ud);
	}
	return r;
}

int ct_sysctl_undo(const struct ct_values *before, struct diag *d)
{
	int first = 0;

	/* in reverse, so a key written twice ends at its oldest value */
	for (size_t i = before->n; i-- > 0;) {
		int r = ct_sysctl_write(before->v[i].key, before->v[i].value, d);
		if (r < 0 && !first)
			first = r;
	}
	return first;
}

int ct_sysctl_drift(const struct ct_value *want, size_t n, unsigned long long generation, struct diag *d)
{
	int drifted = 0;

	for (size_t i = 0; i < n; i++) {
		struct diag rd;
		long long now = 0;
		int r;

		diag_init(&rd);
		r = ct_sysctl_read(want[i].key, &now, &rd);
		if (r < 0)
			r = diag_warn(d, want[i].path, "%s", rd.msg);
		else if (now != want[i].value)
			r = diag_warn(d, want[i].path,
				      "conntrack.%s is %lld, generation %llu set %lld: changed since by someone else "
				      "(a sysctl.d file, kube-proxy, an admin); apply or restore sets it again",
				      want[i].key, now, generation, want[i].value);
		if (rd.kind != DIAG_NONE || now != want[i].value)
			drifted++;
		diag_free(&rd);
		if (r < 0)
			return r;
	}
	return drifted;
}
