/*
 * The state directory: one file per generation plus a pointer to the current
 * one, written atomically, serialised by an flock.  Layout:
 *   DIR/lock            flock(2) target for every run that may write
 *   DIR/current         the current generation number
 *   DIR/gen/N.json      generation N: policy, compiled rules, metadata
 *   DIR/pending.json    a commit-confirmed apply awaiting confirmation
 *   DIR/intent.json     the change under way: written before the batch goes
 *                       out, removed once it is recorded, so a run killed in
 *                       between is finished or undone by the next one
 *   DIR/live.json       what the current generation looked like in the kernel
 *                       the last time a run made it live (boot, digest)
 *   DIR/expired.json    the last commit-confirmed apply that was not confirmed
 * Generation 0 is "nothing of ours in the kernel" and has no file.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "util/diag.h"
#include "util/hash.h"
#include "backend/owned.h"

#define STATE_DEFAULT_DIR "/var/lib/notrackctl"

struct state {
	char dir[4096];
	int lock_fd;
	/* a rename in dir is visible but not yet durable (state_set_current_then_clear) */
	bool dir_unsynced;
};

/* The compiled text kept in a generation, at most: it is there for people
 * to read, and beyond this `compile` of the recorded policy prints it (a
 * 10,000-port iptables policy is 29 MB of text, 131,000 lines). */
#define STATE_COMPILED_MAX (256u * 1024)

struct generation {
	uint64_t number;
	uint64_t parent;
	char action[16]; /* apply, remove */
	char backend[16];
	char table[32];
	int64_t time;	   /* seconds since the epoch */
	char *policy_file; /* where the policy came from; NULL for remove */
	char *policy;	   /* the policy text; NULL for remove */
	char policy_digest[24];
	uint64_t kernel_generation; /* ruleset generation id after the commit */
	char *compiled;		    /* the backend's text of what was applied, for people */
	bool compiled_omitted;	    /* it was longer than STATE_COMPILED_MAX: not kept */
	/* what we owned in the kernel right after the commit: the accepts'
	 * chains and handles, and the digest a later rollback compares with */
	struct owned_list owned;
};

/* Creates the directory (0700) if needed and refuses one that others could
 * write to.  Does not lock. */
int state_open(struct state *st, const char *dir, struct diag *d);
void state_close(struct state *st);
/* Takes the exclusive lock, waiting at most timeout_ms. */
int state_lock(struct state *st, int timeout_ms, struct diag *d);

int state_current(struct state *st, uint64_t *number, struct diag *d);
int state_set_current(struct state *st, uint64_t number, struct diag *d);
/*
 * The same, when state_intent_clear() follows at once: `current` is
 * written and fsynced and renamed into place, but the directory is synced
 * only by the clear, for both renames (or by state_sync()).  Until then
 * the new `current` is not committed (state.md): a power loss may keep the
 * old one, as it would have before the write.  One fsync of the directory
 * less per change.
 */
int state_set_current_then_clear(struct state *st, uint64_t number, struct diag *d);
/* Makes every rename in the directory durable, if one is not yet. */
int state_sync(struct state *st, struct diag *d);
/* The highest generation number on disk (0 if none). */
int state_last(struct state *st, uint64_t *number, struct diag *d);
int state_load(struct state *st, uint64_t number, struct generation *g, struct diag *d);
int state_save(struct state *st, const struct generation *g, struct diag *d);
/* Lists generation numbers in ascending order. */
int state_list(struct state *st, uint64_t **numbers, size_t *n, struct diag *d);
void generation_free(struct generation *g);

/*
 * What a run last verified to be live: in boot `boot_id`, network namespace
 * `netns_cookie`, at the kernel's ruleset generation `kernel_generation`,
 * backend `backend` held exactly the compiled ruleset `compiled` (a digest
 * of the rule IR and of the notrackctl binary).  A cache that lets a no-op
 * apply answer without dumping the ruleset (ops.c), never a record: a stamp
 * that is missing, damaged or not trusted reads as absent.
 */
struct verified_stamp {
	char boot_id[40];
	uint64_t netns_cookie;
	uint64_t kernel_generation;
	char backend[16];
	char table[32];
	char compiled[DIGEST_SIZE];
};

/* 0, or -1 when there is no usable stamp (nothing is reported). */
int state_stamp_read(struct state *st, struct verified_stamp *v);
/* Replaces the stamp (DIR/verified).  Not fsynced: a stamp only holds for
 * the boot it was written in, and a crash ends that boot. */
int state_stamp_write(struct state *st, const struct verified_stamp *v, struct diag *d);

/*
 * What the backend knew of its own objects when the last run ended
 * (backend.h, known_save), under `tag` (ops.c: the boot, the network
 * namespace, the backend and the table it holds for).  DIR/known, a cache
 * like the stamp: not fsynced, and one that is missing, damaged, not
 * trusted or written under another tag reads as absent (-1).
 */
int state_known_read(struct state *st, const char *tag, char **data, size_t *len);
int state_known_write(struct state *st, const char *tag, const char *data, size_t len, struct diag *d);

/*
 * A commit-confirmed apply: generation `generation` is live, and unless
 * someone confirms with `token` before `deadline`, the timer rolls back to
 * `rollback_to`.
 */
#define PENDING_TOKEN_LEN 16

struct pending {
	char token[PENDING_TOKEN_LEN + 1]; /* hex */
	uint64_t generation;
	uint64_t rollback_to;
	int64_t created, deadline; /* seconds since the epoch, for people */
	/* The deadline that counts: CLOCK_BOOTTIME milliseconds in boot boot_id.
	 * The wall clock may be stepped (NTP, an admin) while a change waits;
	 * the boot-time clock only moves forward, suspended time included. */
	int64_t boot_deadline_ms;
	char boot_id[40];
	char timer[16];	   /* "systemd" or "process" */
	char timer_id[80]; /* systemd unit, or the process id */
};

/* -ENOENT (without touching d) when nothing is pending. */
int state_pending_read(struct state *st, struct pending *p, struct diag *d);
int state_pending_write(struct state *st, const struct pending *p, struct diag *d);
int state_pending_clear(struct state *st, struct diag *d);
/* CLOCK_BOOTTIME in milliseconds. */
int64_t state_boot_ms(void);
/* Milliseconds until p's deadline (<= 0: it passed): on the boot-time clock
 * when p was armed in this boot, else on the wall clock. */
int64_t state_pending_left_ms(const struct pending *p);

/* A change under way (see intent.json above). */
struct intent {
	char action[16];	    /* apply, remove, rollback, restore */
	uint64_t from;		    /* the current generation when it started */
	uint64_t to;		    /* rollback, restore: the generation it goes to */
	char *policy_file, *policy; /* apply: the policy */
	/* where and when it ran: the boot (see host_boot_id), the backend and
	 * the table; empty in journals written before they were recorded */
	char boot_id[40];
	char backend[16];
	char table[32];
};

/* -ENOENT (without touching d) when no change is under way. */
int state_intent_read(struct state *st, struct intent *in, struct diag *d);
int state_intent_write(struct state *st, const struct intent *in, struct diag *d);
/* Removes the journal durably: a journal that came back after a power loss
 * would make a finished change look interrupted. */
int state_intent_clear(struct state *st, struct diag *d);
void intent_free(struct intent *in);

/*
 * The current generation as a run last made it live: which generation, in
 * which boot, at which kernel ruleset generation, and the digest of our
 * objects right after.  A generation file keeps these as of its own apply;
 * a rollback or restore that makes an older generation live again writes
 * them here, so the next rollback compares with what it really left.
 * Best effort: a missing, damaged or other generation's record reads as
 * absent (-ENOENT).
 */
struct live_record {
	uint64_t generation;
	char boot_id[40];
	uint64_t kernel_generation;
	char owned_digest[24];
};

int state_live_read(struct state *st, struct live_record *l);
int state_live_write(struct state *st, const struct live_record *l, struct diag *d);

/*
 * A commit-confirmed apply that was not confirmed in time: what its expiry
 * did (rolled back, or refused because someone changed our own rules), so
 * that a late `confirm` fails and `status` says so.  Kept until the next
 * apply.
 */
struct expired {
	char token[PENDING_TOKEN_LEN + 1];
	uint64_t generation;  /* the apply that was not confirmed */
	uint64_t rolled_back; /* the generation now current */
	int64_t time;
	bool refused;	  /* the rollback was refused: generation stays live */
	char reason[512]; /* why it was refused */
};

int state_expired_read(struct state *st, struct expired *e, struct diag *d);
int state_expired_write(struct state *st, const struct expired *e, struct diag *d);
int state_expired_clear(struct state *st, struct diag *d);

/* Loads every generation file: 0, or the first that cannot be read in
 * full or fails its checksum (restore refuses to act on such a state). */
int state_verify_all(struct state *st, struct diag *d);

/*
 * DIR/conntrack.json: for every net.netfilter.nf_conntrack_* value a
 * generation set, the value the kernel held before notrackctl first set it
 * (ct_sysctl.h).  A key leaves it when no generation in force sets it any
 * more and its value was put back.  Written before the values, so a run
 * killed in between never loses what to put back.
 */
struct ct_values;
/* An absent file reads as an empty list. */
int state_ct_baseline_read(struct state *st, struct ct_values *out, struct diag *d);
/* An empty list removes the file. */
int state_ct_baseline_write(struct state *st, const struct ct_values *l, struct diag *d);
