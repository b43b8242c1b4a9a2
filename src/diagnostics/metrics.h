/*
 * What `metrics` and `status` report about the rules we own, summed the way
 * an operator reads them: one line per policy entry and hook instead of one
 * per kernel rule (an iptables policy with 10,000 ports is 131,000 rules),
 * and the Prometheus text of a status report.  Pure: the numbers come from
 * inspect_status(), nothing here reads the kernel or a file.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "diagnostics/inspect.h"
#include "util/strbuf.h"
#include "diagnostics/prom.h"

/* The rules of one role that come from one policy entry and sit on one hook
 * (our own rules), or the untracked accepts in one foreign chain. */
struct entry_sum {
	enum owned_role role;
	const char *origin; /* "notrack.services[0]", "" for accepts; points into the owned list */
	const char *hook;   /* "prerouting", "output"; for accepts and unknown chains, the chain */
	const char *family; /* the backend's: inet, ip, ip6 (nft); ipv4, ipv6 (iptables) */
	const char *table;
	size_t rules;
	uint64_t packets, bytes;
	int has_counter; /* at least one of the rules has a counter */
};

struct entry_sums {
	struct entry_sum *v;
	size_t n;
};

/* Groups the owned objects (jumps left out: every packet passes them).
 * table is the ownership tag the rules were read with (NULL: the default).
 * The sums come sorted by role, family, hook, origin.  0 or -ENOMEM. */
int metrics_entry_sums(const struct owned_list *l, const char *table, struct entry_sums *out);
void entry_sums_free(struct entry_sums *s);

struct metrics_info {
	const char *backend; /* NULL: none could be chosen */
	const char *table;   /* NULL: the default */
	const char *version;
};

/* The Prometheus text of a status report; families with nothing to say (a
 * section that could not be read) are left out, and
 * notrackctl_collector_success says which.  0 or -ENOMEM. */
int metrics_render(const struct status_report *rep, const struct metrics_info *info, struct strbuf *out);
/* The same families as a JSON array (see struct prom_out), for --json. */
int metrics_render_json(const struct status_report *rep, const struct metrics_info *info, json_t **out);

/* Writes text to DIR/notrackctl.prom atomically (node_exporter's textfile
 * collector reads only *.prom, so the temporary file is never read). */
#define METRICS_TEXTFILE_NAME "notrackctl.prom"
int metrics_write_textfile(const char *dir, const char *text, struct diag *d);
