/*
 * The Prometheus text exposition format (version 0.0.4), as node_exporter's
 * textfile collector and every scraper read it: a family is announced once
 * with # HELP and # TYPE, and all its samples follow it, together.  Pure
 * text: no kernel, no files.
 */
#pragma once
#include <jansson.h>
#include <stdint.h>

#include "util/strbuf.h"

/* Where the families go: the exposition format, or the same families as
 * JSON for `metrics --json` (exactly one of the two is set). */
struct prom_out {
	struct strbuf *text;
	/* an array of {"name", "type", "help", "samples": [{"labels": {...},
	 * "value"}]}, one per family, in the text's order */
	json_t *families;
};

enum prom_type {
	PROM_GAUGE,
	PROM_COUNTER,
};

/* "# HELP name help" and "# TYPE name type".  help is escaped (backslash,
 * newline) as the format requires. */
void prom_family(struct prom_out *o, const char *name, enum prom_type type, const char *help);

/* One sample line: name{l1="v1",...} value.  labels holds name, value pairs
 * and ends with a NULL name; NULL labels means none.  Values are escaped
 * (backslash, double quote, newline). */
void prom_sample(struct prom_out *o, const char *name, const char *const *labels, uint64_t value);

/* A family with exactly one unlabelled sample. */
void prom_single(struct prom_out *o, const char *name, enum prom_type type, const char *help, uint64_t value);
