/* Exit codes: decided only by the CLI; documented in --help and README.md. */
#pragma once

enum exit_code {
	EXIT_OK = 0,	  /* success, or nothing to change */
	EXIT_CHANGES = 1, /* diff / apply --check: changes would be made */
	EXIT_USAGE = 2,	  /* bad command line */
	EXIT_INVALID_POLICY = 3,
	EXIT_CONFLICT = 4,   /* lint: NAT or state matching would break */
	EXIT_KERNEL = 5,     /* the kernel refused the change; nothing was applied */
	EXIT_LOCK = 6,	     /* timed out waiting for a lock */
	EXIT_PERMISSION = 7, /* needs CAP_NET_ADMIN, or unsafe file permissions */
	EXIT_PENDING = 8,    /* a commit-confirmed apply awaits confirmation */
	EXIT_STATE = 9,	     /* state directory unreadable or inconsistent */
	EXIT_SYSTEM = 10,    /* any other system error */
	EXIT_DRIFT = 11,     /* rollback refused: someone else changed our objects */
	EXIT_EXPIRED = 12,   /* confirm too late: the change was rolled back */
};
