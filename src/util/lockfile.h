/*
 * Exclusive flock()s with a timeout: the state directory's own lock, and the
 * xtables lock that every iptables tool takes before it reads or replaces a
 * legacy table.
 */
#pragma once
#include "util/diag.h"

#define XTABLES_LOCK_DEFAULT "/run/xtables.lock"

/* Opens path (creating it, mode 0600) and takes an exclusive flock, waiting
 * at most timeout_ms.  Returns the descriptor (close it to unlock),
 * -ETIMEDOUT, or another negative errno from open or flock. */
int lockfile_take(const char *path, int open_flags, int timeout_ms);

/* The lock file iptables uses: $XTABLES_LOCKFILE, or /run/xtables.lock. */
const char *xtables_lock_path(void);
/* Takes the xtables lock.  Returns the descriptor, or fails with a message
 * naming the lock file (DIAG_LOCK on timeout). */
int xtables_lock_take(int timeout_ms, struct diag *d);
