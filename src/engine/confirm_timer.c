#include "engine/confirm_timer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * systemd-run starts its unit in PID 1's network namespace.  Run from any
 * other namespace (a container, a test), its rollback would hit the wrong
 * ruleset, so the systemd timer is used only where our namespace is PID 1's.
 */
static bool systemd_manages_us(void)
{
	struct stat self, init;

	if (getenv("NOTRACKCTL_CONFIRM_TIMER") && !strcmp(getenv("NOTRACKCTL_CONFIRM_TIMER"), "process"))
		return false;
	if (access("/run/systemd/system", F_OK) != 0)
		return false;
	if (stat("/proc/self/ns/net", &self) < 0 || stat("/proc/1/ns/net", &init) < 0)
		return false;
	return self.st_ino == init.st_ino && self.st_dev == init.st_dev;
}

static int run_wait(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

static int arm_systemd(struct pending *p, char *const argv[], int64_t seconds)
{
	char unit[64], active[48];
	char *cmd[64];
	size_t n = 0;

	snprintf(unit, sizeof(unit), "notrackctl-confirm-%s", p->token);
	snprintf(active, sizeof(active), "--on-active=%llds", (long long)seconds);
	cmd[n++] = "systemd-run";
	cmd[n++] = "--quiet";
	cmd[n++] = "--collect";
	cmd[n++] = "--unit";
	cmd[n++] = unit;
	cmd[n++] = active;
	cmd[n++] = "--timer-property=AccuracySec=1s";
	/* the unit starts with systemd's environment, not ours: the xtables
	 * lock must be the one every other iptables user here takes */
	char lockenv[4200];
	const char *lock = getenv("XTABLES_LOCKFILE");
	if (lock && *lock) {
		snprintf(lockenv, sizeof(lockenv), "--setenv=XTABLES_LOCKFILE=%s", lock);
		cmd[n++] = lockenv;
	}
	cmd[n++] = "--";
	for (size_t i = 0; argv[i] && n < 63; i++)
		cmd[n++] = argv[i];
	cmd[n] = NULL;
	if (run_wait(cmd) < 0)
		return -ECHILD;
	snprintf(p->timer, sizeof(p->timer), "systemd");
	snprintf(p->timer_id, sizeof(p->timer_id), "%s.timer", unit);
	return 0;
}

/* The detached waiter: runs in a session of its own with no terminal,
 * ignores SIGHUP, holds no descriptor of ours (above all not the state
 * lock, which would otherwise stay locked until it exits), and becomes the
 * expiry command at once; that command waits for the deadline itself, and
 * its command line (with the token) identifies it for cancellation. */
static void waiter(char *const argv[])
{
	int null;

	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (chdir("/") < 0)
		_exit(1);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	execv(argv[0], argv);
	_exit(127);
}

static int arm_process(struct pending *p, char *const argv[])
{
	int fds[2], status;
	pid_t child, grandchild = 0;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	child = fork();
	if (child < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (child == 0) {
		/* a new session: no controlling terminal whose hangup reaches us */
		setsid();
		grandchild = fork();
		if (grandchild == 0) {
			/* The timer lives until the deadline: it must not keep our
			 * flocks (the state directory's, the xtables lock) held
			 * through an inherited descriptor, or the confirm that
			 * follows the apply finds the lock taken.  Every descriptor
			 * but the pipe goes before the parent hears from us, so
			 * none is left by the time the apply returns. */
			pid_t self = getpid();
			close(fds[0]);
			if (fds[1] > STDERR_FILENO + 1)
				close_range(STDERR_FILENO + 1, (unsigned)fds[1] - 1, 0);
			close_range((unsigned)fds[1] + 1, ~0u, 0);
			if (write(fds[1], &self, sizeof(self)) != sizeof(self))
				_exit(1);
			close(fds[1]);
			waiter(argv);
		}
		_exit(grandchild > 0 ? 0 : 1);
	}
	close(fds[1]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (read(fds[0], &grandchild, sizeof(grandchild)) != sizeof(grandchild) || grandchild <= 0) {
		close(fds[0]);
		return -ECHILD;
	}
	close(fds[0]);
	snprintf(p->timer, sizeof(p->timer), "process");
	snprintf(p->timer_id, sizeof(p->timer_id), "%d", (int)grandchild);
	return 0;
}

int confirm_timer_arm(struct pending *p, char *const argv[], struct diag *d)
{
	struct timespec now;
	int64_t seconds;

	/* the boot-time clock: the deadline was set on it (ops.c) */
	clock_gettime(CLOCK_BOOTTIME, &now);
	int64_t left_ms = p->boot_deadline_ms - ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
	seconds = left_ms > 0 ? (left_ms + 999) / 1000 : 1; /* systemd-run counts whole seconds */
	if (systemd_manages_us() && arm_systemd(p, argv, seconds) == 0)
		return 0;
	/* no systemd here, or systemd-run failed: the detached process */
	if (arm_process(p, argv) == 0)
		return 0;
	return diag_fail(d, DIAG_SYSTEM, ECHILD, NULL, "cannot start the confirmation timer");
}

/* The pid is ours only while its command line still carries the token. */
static bool process_is_our_waiter(pid_t pid, const char *token)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return strstr(buf, token) != NULL;
}

void confirm_timer_cancel(const struct pending *p)
{
	if (!strcmp(p->timer, "systemd")) {
		char *cmd[] = {"systemctl", "stop", (char *)p->timer_id, NULL};
		run_wait(cmd);
	} else if (!strcmp(p->timer, "process")) {
		pid_t pid = (pid_t)atoi(p->timer_id);
		if (pid > 1 && process_is_our_waiter(pid, p->token))
			kill(pid, SIGTERM);
	}
}
