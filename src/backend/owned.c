#include "backend/owned.h"

#include <stdlib.h>
#include <string.h>

void owned_list_free(struct owned_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

struct owned_object *owned_list_add(struct owned_list *l)
{
	/* grows by doubling when n reaches a power of two */
	if (!l->n || !(l->n & (l->n - 1))) {
		struct owned_object *v = realloc(l->v, (l->n ? l->n * 2 : 8) * sizeof(*v));
		if (!v)
			return NULL;
		l->v = v;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	return &l->v[l->n++];
}
