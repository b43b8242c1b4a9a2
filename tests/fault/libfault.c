/*
 * Fault injection by LD_PRELOAD, for the randomized fault tests: makes the
 * N-th call of one system-call wrapper fail with a chosen errno, and can
 * count the calls of a clean run.  It sits in front of the real libc
 * functions, so the binary under test is the one users run, unchanged.
 *
 *   FAULT_CALL=rename FAULT_NTH=2 FAULT_ERRNO=ENOSPC   fail the 2nd rename()
 *   FAULT_COUNT_FILE=PATH                               append "call count" lines at exit
 *   FAULT_HIT_FILE=PATH                                 created when the fault fires
 *
 * Calls covered: the netlink traffic (sendmsg, sendto, recv, recvfrom,
 * recvmsg), libiptc's table get/replace (getsockopt, setsockopt), and the
 * state directory's writes (open, openat, write, fsync, rename, unlink).
 * A failing call does nothing at all: the real function is not called.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

enum call {
	C_SENDMSG,
	C_SENDTO,
	C_RECV,
	C_RECVFROM,
	C_RECVMSG,
	C_GETSOCKOPT,
	C_SETSOCKOPT,
	C_OPEN,
	C_OPENAT,
	C_WRITE,
	C_FSYNC,
	C_RENAME,
	C_UNLINK,
	C_COUNT,
};

static const char *const names[C_COUNT] = {
    "sendmsg", "sendto", "recv", "recvfrom", "recvmsg", "getsockopt", "setsockopt",
    "open",    "openat", "write", "fsync",   "rename",   "unlink",
};

static unsigned long counts[C_COUNT];
static int target = -1;
static unsigned long nth;
static int fault_errno;

static int errno_by_name(const char *s)
{
	static const struct {
		const char *name;
		int value;
	} table[] = {
	    {"EPERM", EPERM},   {"ENOBUFS", ENOBUFS}, {"EMSGSIZE", EMSGSIZE}, {"ERESTART", ERESTART},
	    {"EINTR", EINTR},   {"ENOSPC", ENOSPC},   {"EIO", EIO},	      {"EAGAIN", EAGAIN},
	    {"ENOMEM", ENOMEM}, {"EBUSY", EBUSY},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(s, table[i].name))
			return table[i].value;
	return atoi(s);
}

static void report(void)
{
	const char *path = getenv("FAULT_COUNT_FILE");
	FILE *f;

	if (!path || !(f = fopen(path, "a")))
		return;
	for (int i = 0; i < C_COUNT; i++)
		if (counts[i])
			fprintf(f, "%s %lu\n", names[i], counts[i]);
	fclose(f);
}

__attribute__((constructor)) static void init(void)
{
	const char *call = getenv("FAULT_CALL");

	if (call) {
		for (int i = 0; i < C_COUNT; i++)
			if (!strcmp(call, names[i]))
				target = i;
		nth = strtoul(getenv("FAULT_NTH") ? getenv("FAULT_NTH") : "1", NULL, 10);
		fault_errno = errno_by_name(getenv("FAULT_ERRNO") ? getenv("FAULT_ERRNO") : "EIO");
	}
	if (getenv("FAULT_COUNT_FILE"))
		atexit(report);
}

/* true when this call is the one to fail */
static int hit(enum call c)
{
	counts[c]++;
	if ((int)c == target && counts[c] == nth) {
		const char *hit_file = getenv("FAULT_HIT_FILE");
		if (hit_file) {
			static int (*real_open)(const char *, int, ...);
			static int (*real_close)(int);
			if (!real_open)
				real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
			if (!real_close)
				real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
			int fd = real_open(hit_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
			if (fd >= 0)
				real_close(fd);
		}
		errno = fault_errno;
		return 1;
	}
	return 0;
}

#define REAL(ret, name, ...)                                                                                           \
	static ret (*real_##name)(__VA_ARGS__);                                                                        \
	if (!real_##name)                                                                                              \
		real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name);

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	REAL(ssize_t, sendmsg, int, const struct msghdr *, int)
	return hit(C_SENDMSG) ? -1 : real_sendmsg(fd, msg, flags);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t tolen)
{
	REAL(ssize_t, sendto, int, const void *, size_t, int, const struct sockaddr *, socklen_t)
	return hit(C_SENDTO) ? -1 : real_sendto(fd, buf, len, flags, to, tolen);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	REAL(ssize_t, recv, int, void *, size_t, int)
	return hit(C_RECV) ? -1 : real_recv(fd, buf, len, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from, socklen_t *fromlen)
{
	REAL(ssize_t, recvfrom, int, void *, size_t, int, struct sockaddr *, socklen_t *)
	return hit(C_RECVFROM) ? -1 : real_recvfrom(fd, buf, len, flags, from, fromlen);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	REAL(ssize_t, recvmsg, int, struct msghdr *, int)
	return hit(C_RECVMSG) ? -1 : real_recvmsg(fd, msg, flags);
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	REAL(int, getsockopt, int, int, int, void *, socklen_t *)
	return hit(C_GETSOCKOPT) ? -1 : real_getsockopt(fd, level, name, val, len);
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	REAL(int, setsockopt, int, int, int, const void *, socklen_t)
	return hit(C_SETSOCKOPT) ? -1 : real_setsockopt(fd, level, name, val, len);
}

int open(const char *path, int flags, ...)
{
	REAL(int, open, const char *, int, ...)
	mode_t mode = 0;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return hit(C_OPEN) ? -1 : real_open(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	REAL(int, openat, int, const char *, int, ...)
	mode_t mode = 0;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return hit(C_OPENAT) ? -1 : real_openat(dirfd, path, flags, mode);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	REAL(ssize_t, write, int, const void *, size_t)
	/* stdout and stderr are how the test reads the outcome: never fail them */
	if (fd <= STDERR_FILENO)
		return real_write(fd, buf, len);
	return hit(C_WRITE) ? -1 : real_write(fd, buf, len);
}

int fsync(int fd)
{
	REAL(int, fsync, int)
	return hit(C_FSYNC) ? -1 : real_fsync(fd);
}

int rename(const char *from, const char *to)
{
	REAL(int, rename, const char *, const char *)
	return hit(C_RENAME) ? -1 : real_rename(from, to);
}

int unlink(const char *path)
{
	REAL(int, unlink, const char *)
	return hit(C_UNLINK) ? -1 : real_unlink(path);
}
