/*
 * Whom notrackctl trusts with the firewall.  It runs as root and applies
 * what a policy file and its state directory say, so whoever can write
 * those can open the firewall.  Like sshd's StrictModes, a file or
 * directory is trusted only if it, and every directory above it, is owned
 * by root (or by us) and writable by nobody else, and if no symlink on the
 * way sits in a directory that others can write to.
 */
#pragma once
#include <stdbool.h>
#include <sys/stat.h>

#include "util/diag.h"

/* --insecure-permissions: report what would be refused as a warning and go
 * on.  Set once by the CLI. */
void trust_set_insecure(bool insecure);
/* Whether --insecure-permissions was given (the confirmation timer's
 * command must carry it on). */
bool trust_insecure(void);

/* Checks path (a policy file, the state directory) as described above.
 * A path that does not exist passes: opening it fails with its own error. */
int trust_check_path(const char *path, struct diag *d);

/* The owner and mode check alone, for a file already opened (fstat). */
int trust_check_stat(const struct stat *st, const char *path, struct diag *d);
