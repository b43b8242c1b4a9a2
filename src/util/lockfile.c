#include "util/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define POLL_MS 20

int lockfile_take(const char *path, int open_flags, int timeout_ms)
{
	int fd = open(path, open_flags | O_CREAT | O_CLOEXEC, 0600);
	int waited = 0;

	if (fd < 0)
		return -errno;
	/* flock() cannot time out by itself; polling keeps us free of signals */
	for (;;) {
		int err;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		err = errno;
		if (err != EWOULDBLOCK && err != EINTR) {
			close(fd);
			return -err;
		}
		if (waited >= timeout_ms) {
			close(fd);
			return -ETIMEDOUT;
		}
		usleep(POLL_MS * 1000);
		waited += POLL_MS;
	}
}

const char *xtables_lock_path(void)
{
	const char *p = getenv("XTABLES_LOCKFILE");

	return p && *p ? p : XTABLES_LOCK_DEFAULT;
}

int xtables_lock_take(int timeout_ms, struct diag *d)
{
	const char *path = xtables_lock_path();
	int fd = lockfile_take(path, O_RDONLY, timeout_ms);

	if (fd == -ETIMEDOUT)
		return diag_fail(d, DIAG_LOCK, ETIMEDOUT, NULL,
				 "timed out after %d.%03d s waiting for the xtables lock %s: another iptables "
				 "process holds it (set XTABLES_LOCKFILE if your iptables uses another file)",
				 timeout_ms / 1000, timeout_ms % 1000, path);
	if (fd < 0)
		return diag_fail(d, fd == -EACCES || fd == -EPERM ? DIAG_PERMISSION : DIAG_SYSTEM, -fd, NULL,
				 "cannot take the xtables lock %s: %s", path, strerror(-fd));
	return fd;
}
