#include "engine/backend_choice.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/state.h"

bool backend_name_valid(const char *name)
{
	return !name || !strcmp(name, "auto") || backend_by_name(name);
}

/*
 * An empty kernel says nothing about the host: right after boot, before
 * `restore` put our rules back, every table is empty, yet the current
 * generation was applied with some backend and must be restored with it.
 * So with nothing in the kernel, the current generation's backend wins
 * over the default.  Any trouble reading the state leaves the default:
 * the command itself will report it.
 */
static void follow_generation(const char *dir, struct backend_choice *c)
{
	struct generation gen = {0};
	const struct backend_ops *ops;
	struct state st;
	uint64_t current = 0;
	struct diag d;
	char gen_dir[4200];
	struct stat sb;

	/* read, never create: status must leave no state directory behind */
	dir = dir && *dir ? dir : STATE_DEFAULT_DIR;
	snprintf(gen_dir, sizeof(gen_dir), "%s/gen", dir);
	if (stat(gen_dir, &sb) < 0)
		return;
	diag_init(&d);
	if (state_open(&st, dir, &d) == 0) {
		if (state_current(&st, &current, &d) == 0 && current && state_load(&st, current, &gen, &d) == 0 &&
		    (ops = backend_by_name(gen.backend)) && ops != c->ops) {
			c->ops = ops;
			snprintf(c->det.reason, sizeof(c->det.reason),
				 "no rules in nftables or iptables-legacy, and the current generation %" PRIu64
				 " was applied with the %s backend: %s",
				 current, ops->name, ops->name);
		}
		generation_free(&gen);
		state_close(&st);
	}
	diag_free(&d);
}

int backend_choose(const char *requested, const char *state_dir, struct backend_choice *c, struct diag *d)
{
	int r;

	memset(c, 0, sizeof(*c));
	c->requested = requested ? requested : "auto";
	if (strcmp(c->requested, "auto")) {
		c->ops = backend_by_name(c->requested);
		return c->ops ? 0 : diag_fail(d, DIAG_USAGE, EINVAL, NULL, "unknown backend '%s'", c->requested);
	}
	c->detected = true;
	r = backend_detect(&c->det, d);
	c->ops = r == 0 ? c->det.ops : NULL;
	if (r == 0 && c->det.kernel_empty)
		follow_generation(state_dir, c);
	return r;
}

void backend_choice_free(struct backend_choice *c)
{
	backend_detection_free(&c->det);
	memset(c, 0, sizeof(*c));
}
