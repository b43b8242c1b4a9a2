/*
 * Invalid policies, table-driven: every tests/cases/invalid/NAME.json must be
 * rejected with DIAG_POLICY and the one line in NAME.expect, which is what
 * `notrackctl compile NAME.json` prints minus the "NAME.json:" prefix.
 * The case directory can be given as argv[1].
 *
 * Also: files too big to be a policy, read from disk and from a pipe.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

static const char *cases_dir = NOTRACKCTL_CASES_DIR "/invalid";

static void test_invalid_case(void **state)
{
	const char *name = *state;
	char *json = tl_path(cases_dir, name, ".json"), *expect_path = tl_path(cases_dir, name, ".expect");
	char *expect = tl_read_file(expect_path, NULL);
	char got[DIAG_MSG_MAX + DIAG_PATH_MAX + 64];
	struct ruleset rs;
	struct diag d;
	int r;

	if (!expect)
		fail_msg("%s: missing; it holds the expected error line", expect_path);
	diag_init(&d);
	r = tl_compile_file(json, NULL, &rs, &d);
	tl_format_error(&d, got, sizeof(got));
	strcat(got, "\n");
	if (r == 0)
		ruleset_free(&rs);
	diag_free(&d);
	assert_true(r < 0);
	assert_int_equal(d.kind, DIAG_POLICY);
	assert_string_equal(got, expect);
	free(expect);
	free(expect_path);
	free(json);
}

/* ------------------------------------------------------------------ */
/* size limit                                                         */

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/notrackctl-test-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/big.json", tmpdir);
	unlink(path);
	return rmdir(tmpdir);
}

/* A valid policy padded with spaces to `size` bytes; returns how much the
 * reader took before it went away. */
static size_t write_padded_policy(int fd, size_t size)
{
	static const char head[] = "{\"version\": 1, \"notrack\": {\"loopback\": true}}";
	char block[65536];
	size_t done = 0;

	memset(block, ' ', sizeof(block));
	assert_int_equal(write(fd, head, sizeof(head) - 1), (ssize_t)sizeof(head) - 1);
	done = sizeof(head) - 1;
	while (done < size) {
		size_t n = size - done < sizeof(block) ? size - done : sizeof(block);
		ssize_t w = write(fd, block, n);
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	return done;
}

/* Writes tmpdir/big.json of the given size and returns its path. */
static const char *big_policy_file(size_t size)
{
	static char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/big.json", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write_padded_policy(fd, size), size);
	assert_int_equal(close(fd), 0);
	return path;
}

static void test_file_at_limit_is_read(void **state)
{
	struct ruleset rs;
	struct diag d;

	(void)state;
	diag_init(&d);
	assert_int_equal(tl_compile_file(big_policy_file(POLICY_MAX_BYTES), NULL, &rs, &d), 0);
	ruleset_free(&rs);
	diag_free(&d);
}

static void test_file_over_limit(void **state)
{
	const char *path = big_policy_file(POLICY_MAX_BYTES + 1);
	char msg[128];
	struct ruleset rs;
	struct diag d;

	(void)state;
	diag_init(&d);
	assert_int_equal(tl_compile_file(path, NULL, &rs, &d), -EFBIG);
	assert_int_equal(d.kind, DIAG_POLICY);
	assert_string_equal(d.file, path);
	assert_int_equal(d.line, 0);
	snprintf(msg, sizeof(msg), "file is %u bytes; a policy may be at most %u bytes", POLICY_MAX_BYTES + 1,
		 POLICY_MAX_BYTES);
	assert_string_equal(d.msg, msg);
	diag_free(&d);
}

/* A pipe has no size to check up front: the reader must stop by itself.  The
 * writer would send 256 MiB and reports how much was taken from it. */
static void test_pipe_over_limit_stops_reading(void **state)
{
	const size_t endless = (size_t)256 << 20;
	int data[2], report[2], saved_stdin, status;
	size_t written = 0;
	struct policy_source src;
	struct diag d;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(data), 0);
	assert_int_equal(pipe(report), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		close(data[0]);
		close(report[0]);
		written = write_padded_policy(data[1], endless);
		_exit(write(report[1], &written, sizeof(written)) == sizeof(written) ? 0 : 1);
	}
	close(report[1]);
	close(data[1]);
	saved_stdin = dup(STDIN_FILENO);
	assert_true(saved_stdin >= 0);
	assert_int_equal(dup2(data[0], STDIN_FILENO), STDIN_FILENO);
	close(data[0]);

	diag_init(&d);
	assert_int_equal(policy_source_read(&src, "-", &d), -EFBIG);
	assert_int_equal(d.kind, DIAG_POLICY);
	assert_string_equal(d.file, "-");
	assert_non_null(strstr(d.msg, "a policy may be at most 4194304 bytes"));
	policy_source_free(&src);
	diag_free(&d);

	/* closing our end makes the writer fail with EPIPE and exit */
	assert_int_equal(dup2(saved_stdin, STDIN_FILENO), STDIN_FILENO);
	close(saved_stdin);
	assert_int_equal(read(report[0], &written, sizeof(written)), sizeof(written));
	close(report[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* the limit, plus what the pipe buffered */
	assert_true(written > POLICY_MAX_BYTES);
	assert_true(written < 2 * POLICY_MAX_BYTES);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest limits[] = {
	    cmocka_unit_test(test_file_at_limit_is_read),
	    cmocka_unit_test(test_file_over_limit),
	    cmocka_unit_test(test_pipe_over_limit_stops_reading),
	};
	int failed;

	if (argc > 1)
		cases_dir = argv[1];
	failed = tl_run_cases("invalid policies", cases_dir, 50, test_invalid_case);
	failed += cmocka_run_group_tests_name("size limit", limits, make_tmpdir, remove_tmpdir);
	return failed ? 1 : 0;
}
