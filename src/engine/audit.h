/*
 * The audit trail: one syslog line for every run that changed, or tried to
 * change, what notrackctl owns.  Security teams read these to answer "who
 * opened the firewall, and when": the user (uid, the sudo caller, the login
 * uid that survives su and sudo), the generations from and to, the digest
 * of the policy in force, and the result.
 */
#pragma once
#include "util/diag.h"
#include "engine/ops.h"

/* action: apply, rollback, remove, restore, confirm, confirm-expire.
 * r: the operation's return value; d: its diagnostics when r < 0. */
void audit_log(const char *action, const char *backend, const char *table, const struct op_result *res, int r,
	       const struct diag *d);
