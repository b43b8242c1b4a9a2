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

#include "cli/cli_common.h"
#include "engine/backend_choice.h"

/* 0 when --backend names a backend at all (auto, nft, iptables), else the
 * usage error for cmd, printed; checked before anything runs. */
int cli_backend_check_name(const char *cmd, const struct global_options *g);
/* Decides.  Fails (d filled, ops NULL) when auto cannot decide or probing fails. */
int cli_backend_choose(const struct global_options *g, struct backend_choice *cb, struct diag *d);
void cli_backend_free(struct backend_choice *cb);
/* {"requested", "backend", "reason", "legacy_tables", "nft_tables"} */
json_t *cli_backend_json(const struct backend_choice *cb);
/* What was decided and why, for --verbose. */
void cli_backend_explain(const struct backend_choice *cb, FILE *f);
