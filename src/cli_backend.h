/*
 * Which backend a kernel-facing command uses: the one named with --backend,
 * or (auto, the default) the one backend_detect() picks from the live
 * kernel.  The decision and its reason are printed with --verbose and put
 * into --json output.
 */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "backend_detect.h"
#include "cli_common.h"

struct cli_backend {
	const char *requested; /* "auto", "nft" or "iptables" */
	const struct backend_ops *ops;
	bool detected; /* auto: det holds what the probes found */
	struct backend_detection det;
};

/* 0 when --backend names a backend at all (auto, nft, iptables), else the
 * usage error for cmd, printed; checked before anything runs. */
int cli_backend_check_name(const char *cmd, const struct global_options *g);
/* Decides.  Fails (d filled, ops NULL) when auto cannot decide or probing fails. */
int cli_backend_choose(const struct global_options *g, struct cli_backend *cb, struct diag *d);
void cli_backend_free(struct cli_backend *cb);
/* {"requested", "backend", "reason", "legacy_tables", "nft_tables"} */
json_t *cli_backend_json(const struct cli_backend *cb);
/* What was decided and why, for --verbose. */
void cli_backend_explain(const struct cli_backend *cb, FILE *f);
