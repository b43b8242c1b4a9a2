/*
 * An in-memory stand-in for the kernel, behind the real backend_ops
 * interface, so the engine (engine/ops.c, txn.c, state.c) runs without root
 * and without a namespace.
 *
 * The "kernel" holds one thing: the text of our table (what the backend's
 * render() makes of the ruleset applied) and a ruleset generation id that
 * moves on every change, as nftables' does.  It lives in files under a
 * directory, so a child process can change it and die at a chosen step
 * and its parent can then see what the next run makes of it.
 *
 * The script (struct fake_script) makes commits refuse, answer -ERESTART as
 * if someone else committed first, leave their outcome unknown, or kill
 * the process before or after the kernel changed.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"

enum fake_unknown {
	FAKE_UNKNOWN_OFF,
	FAKE_UNKNOWN_APPLIED, /* -EINPROGRESS, and the kernel did take the change */
	FAKE_UNKNOWN_LOST,    /* -EINPROGRESS, and it did not */
};

enum fake_crash {
	FAKE_CRASH_OFF,
	FAKE_CRASH_BEFORE_COMMIT, /* the process dies with the batch unsent */
	FAKE_CRASH_AFTER_COMMIT,  /* it dies right after the kernel took it */
};

/* _exit() status of a process killed by the script */
#define FAKE_CRASH_STATUS 99

struct fake_script {
	int refuse_errno;	   /* commit fails with -refuse_errno; nothing changes */
	unsigned restarts;	   /* this many commits find the generation moved (-ERESTART) */
	enum fake_unknown unknown; /* the next commit's outcome is unknown */
	enum fake_crash crash;	   /* the next commit kills the process */
	/* what the engine asked for, counted */
	unsigned opens, plans, commits;
};

extern struct fake_script fake;
extern const struct backend_ops fake_backend_ops;

/* An empty kernel in dir (created if needed), and a clean script. */
void fake_kernel_init(const char *dir);
/* Our table's text as the kernel holds it ("" when none) and the generation
 * id.  Caller frees *text. */
void fake_kernel_read(char **text, uint64_t *generation);
/* Someone else replaces our table's text: the generation moves. */
void fake_kernel_foreign_edit(const char *text);
/* A reboot: nothing of ours in the kernel, a new generation id. */
void fake_kernel_reboot(void);
