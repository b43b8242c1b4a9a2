/*
 * Diagnostics: every fallible function returns 0 or a negative errno and, on
 * failure, fills one struct diag with what went wrong and where.  The CLI is
 * the only place that turns a diag into text and an exit code.
 */
#pragma once
#include <stddef.h>

#define DIAG_PATH_MAX 256
#define DIAG_MSG_MAX 512
#define DIAG_FILE_MAX 256

enum diag_kind {
	DIAG_NONE = 0,
	DIAG_USAGE,	 /* bad command line */
	DIAG_POLICY,	 /* the policy file is invalid */
	DIAG_CONFLICT,	 /* lint found NAT/state that a notrack rule would break */
	DIAG_KERNEL,	 /* the kernel refused a change */
	DIAG_LOCK,	 /* a lock could not be taken in time */
	DIAG_PERMISSION, /* missing privilege or unsafe file permissions */
	DIAG_PENDING,	 /* a commit-confirmed apply is waiting */
	DIAG_STATE,	 /* the state directory is unreadable or inconsistent */
	DIAG_DRIFT,	 /* someone else changed the objects we own */
	DIAG_SYSTEM,	 /* any other operating-system error */
	DIAG_EXPIRED,	 /* confirm came after the deadline: the change is gone */
};

struct diag_warning {
	char path[DIAG_PATH_MAX]; /* JSON path the warning is about, "" if none */
	char msg[DIAG_MSG_MAX];
	unsigned line, col; /* filled in by policy_locate(); 0 when unknown */
};

struct diag {
	enum diag_kind kind;
	int err;		  /* positive errno of the failure */
	char file[DIAG_FILE_MAX]; /* file the error is about, "" if none */
	unsigned line, col;	  /* 1-based; 0 when unknown */
	char path[DIAG_PATH_MAX]; /* JSON path, "" if none */
	char msg[DIAG_MSG_MAX];
	struct diag_warning *warnings;
	size_t n_warnings;
};

void diag_init(struct diag *d);
void diag_free(struct diag *d);
/* Records a failure and returns -err so callers can write `return diag_fail(...)`. */
int diag_fail(struct diag *d, enum diag_kind kind, int err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Appends a warning; returns -ENOMEM if it cannot be stored. */
int diag_warn(struct diag *d, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_set_file(struct diag *d, const char *file);
