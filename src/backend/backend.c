/* Helpers every backend shares. */
#include "backend/backend.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int plan_add_diff(struct plan *p, const char *fmt, ...)
{
	char **lines = realloc(p->diff, (p->n_diff + 1) * sizeof(*lines));
	va_list ap;
	int n;

	if (!lines)
		return -ENOMEM;
	p->diff = lines;
	va_start(ap, fmt);
	n = vasprintf(&lines[p->n_diff], fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	p->n_diff++;
	return 0;
}

bool plan_diff_cap_full(struct plan_diff_cap *c)
{
	if (c->lines < PLAN_DIFF_CHAIN_LINES_MAX)
		return false;
	c->more++;
	return true;
}

int plan_diff_cap_add(struct plan_diff_cap *c, const char *fmt, ...)
{
	char *line;
	va_list ap;
	int n;

	if (plan_diff_cap_full(c))
		return 0;
	c->lines++;
	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	n = plan_add_diff(c->p, "%s", line);
	free(line);
	return n;
}

int plan_diff_cap_end(struct plan_diff_cap *c, const char *chain)
{
	if (!c->more)
		return 0;
	return plan_add_diff(c->p, "~ chain %s: %zu more rule changes not listed", chain, c->more);
}

void plan_free_diff(struct plan *p)
{
	for (size_t i = 0; i < p->n_diff; i++)
		free(p->diff[i]);
	free(p->diff);
	p->diff = NULL;
	p->n_diff = 0;
}

void probe_list_free(struct probe_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

struct probe_table *probe_list_add(struct probe_list *l)
{
	struct probe_table *v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return NULL;
	l->v = v;
	memset(&v[l->n], 0, sizeof(v[l->n]));
	return &v[l->n++];
}
