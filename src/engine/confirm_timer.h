/*
 * The timer behind `apply --confirm`: at the deadline it runs the given
 * command (notrackctl confirm-expire TOKEN), which rolls back unless the
 * apply was confirmed meanwhile.  It must outlive the caller's terminal and
 * SSH session, so it is either a transient systemd timer (outside any login
 * session's scope) or, where systemd does not manage this namespace, a
 * detached process in a session of its own that ignores SIGHUP.
 */
#pragma once
#include <stdint.h>

#include "util/diag.h"
#include "engine/state.h"

/* Arms the timer: argv runs at p->deadline under systemd, or at once as
 * the detached process, which must then wait for the deadline itself.
 * Fills p->timer and p->timer_id.  argv[0] must be an absolute path. */
int confirm_timer_arm(struct pending *p, char *const argv[], struct diag *d);

/* Best effort: stops an armed timer early.  The expiry re-checks the
 * pending file under the lock anyway, so a timer that escapes this does
 * nothing. */
void confirm_timer_cancel(const struct pending *p);
