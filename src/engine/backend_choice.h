/*
 * Which backend a kernel-facing command uses: the one named with --backend,
 * or (auto, the default) the one backend_detect() picks from the live
 * kernel, except on an empty kernel, where the current generation's backend
 * wins (see backend_choose()).
 */
#pragma once
#include <stdbool.h>

#include "backend/backend_detect.h"

struct backend_choice {
	const char *requested; /* "auto", or a registered backend's name */
	const struct backend_ops *ops;
	bool detected; /* auto: det holds what the probes found */
	struct backend_detection det;
};

/* True when name is "auto" (or NULL) or names a registered backend. */
bool backend_name_valid(const char *name);
/* Decides.  state_dir: the state directory (NULL: the default), read to
 * follow the current generation; never created.  Fails (d filled, ops NULL)
 * when auto cannot decide or probing fails. */
int backend_choose(const char *requested, const char *state_dir, struct backend_choice *out, struct diag *d);
void backend_choice_free(struct backend_choice *c);
