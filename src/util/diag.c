#include "util/diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void diag_init(struct diag *d)
{
	memset(d, 0, sizeof(*d));
}

void diag_free(struct diag *d)
{
	free(d->warnings);
	d->warnings = NULL;
	d->n_warnings = 0;
}

void diag_set_file(struct diag *d, const char *file)
{
	snprintf(d->file, sizeof(d->file), "%s", file ? file : "");
}

int diag_fail(struct diag *d, enum diag_kind kind, int err, const char *path, const char *fmt, ...)
{
	va_list ap;

	if (err < 0)
		err = -err;
	if (err == 0)
		err = EINVAL;
	d->kind = kind;
	d->err = err;
	snprintf(d->path, sizeof(d->path), "%s", path ? path : "");
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	return -err;
}

int diag_warn(struct diag *d, const char *path, const char *fmt, ...)
{
	struct diag_warning *w;
	va_list ap;

	w = realloc(d->warnings, (d->n_warnings + 1) * sizeof(*w));
	if (!w)
		return -ENOMEM;
	d->warnings = w;
	w = &w[d->n_warnings++];
	memset(w, 0, sizeof(*w));
	snprintf(w->path, sizeof(w->path), "%s", path ? path : "");
	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
	return 0;
}
