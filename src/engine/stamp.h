/*
 * The no-op stamp: a record that in this boot, this network namespace, this
 * binary and this compiled ruleset were live at a given ruleset generation.
 * Every nftables commit, anyone's, moves the generation id; while it reads
 * the same in the same boot and namespace, nothing was committed, and a
 * plan would find exactly what the last one found: nothing to do.
 * Anything else (no stamp, another boot, namespace, binary or ruleset, a
 * moved generation, a backend whose generation does not cover its plan)
 * plans as usual.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "compile/ruleset.h"
#include "engine/state.h"

/* The stamp this run would leave: everything but the generation.  0, or -1
 * when this backend or kernel cannot have one. */
int stamp_here(const struct backend_ops *ops, const char *table, const struct ruleset *rs, struct verified_stamp *v);

/* True when the stamp in st shows `here` live and b's generation has not
 * moved since (then *generation is that generation). */
bool stamp_unchanged(const struct backend_ops *ops, struct backend *b, struct state *st,
		     const struct verified_stamp *here, uint64_t *generation);
