/*
 * What the iptables backend shows the tests beyond its operations
 * (backend/backend.h has those).
 */
#pragma once
#include <stdio.h>

#include "util/diag.h"

/* Every loaded legacy table read both ways the backend reads one: through a
 * libiptc snapshot (as the commit does) and through the kernel's blob (as
 * the plan and the verification do), for the rules of `tag`.  One line per
 * table to out; returns how many tables gave a different digest or different
 * rules of ours, or a negative errno. */
int ipt_backend_read_check(const char *tag, FILE *out, struct diag *d);
