#include "util/trust.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool insecure_ok;

void trust_set_insecure(bool insecure)
{
	insecure_ok = insecure;
}

bool trust_insecure(void)
{
	return insecure_ok;
}

/* msg is complete; `path` is what the user named (shown as the file). */
static int refuse(struct diag *d, const char *path, const char *msg)
{
	if (insecure_ok)
		return diag_warn(d, "", "%s: %s (accepted: --insecure-permissions)", path, msg);
	diag_set_file(d, path);
	return diag_fail(d, DIAG_PERMISSION, EPERM, NULL, "%s; refusing it (--insecure-permissions overrides)", msg);
}

static bool owner_ok(const struct stat *st)
{
	return st->st_uid == 0 || st->st_uid == geteuid();
}

/* Others can replace entries of a directory they can write to, unless the
 * sticky bit limits that to each entry's owner (as on /tmp). */
static bool dir_others_can_replace(const struct stat *st)
{
	return (st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX);
}

/* The owner and mode of one file or directory; `what` names it in the
 * message when it is not the file itself ("" for the file). */
static int check_one(const struct stat *st, const char *path, const char *what, struct diag *d)
{
	char msg[DIAG_MSG_MAX];

	if (!owner_ok(st)) {
		snprintf(msg, sizeof(msg), "%.300s%sowned by uid %u, not by root", what, what[0] ? " is " : "",
			 (unsigned)st->st_uid);
		return refuse(d, path, msg);
	}
	if (S_ISDIR(st->st_mode) ? dir_others_can_replace(st) : (st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(msg, sizeof(msg), "%.300s%swritable by group or others (mode %04o): chmod go-w", what,
			 what[0] ? " is " : "", (unsigned)(st->st_mode & 07777));
		return refuse(d, path, msg);
	}
	return 0;
}

int trust_check_stat(const struct stat *st, const char *path, struct diag *d)
{
	return check_one(st, path, "", d);
}

/* Every directory from the one holding `real` up to /. */
static int check_parents(const char *path, const char *real, struct diag *d)
{
	char dir[PATH_MAX], what[PATH_MAX + 32];
	struct stat st;
	int r = 0;

	snprintf(dir, sizeof(dir), "%s", real);
	for (char *slash = strrchr(dir, '/'); r == 0 && slash; slash = strrchr(dir, '/')) {
		slash[slash == dir ? 1 : 0] = '\0';
		if (stat(dir, &st) < 0)
			return 0;
		snprintf(what, sizeof(what), "the directory %s above it", dir);
		r = check_one(&st, path, what, d);
		if (!strcmp(dir, "/"))
			break;
	}
	return r;
}

/* A symlink is as trustworthy as the directory it sits in. */
static int check_symlinks(const char *path, struct diag *d)
{
	char abs[PATH_MAX], prefix[PATH_MAX];
	struct stat st;
	size_t n;

	if (path[0] == '/')
		snprintf(abs, sizeof(abs), "%s", path);
	else if (!getcwd(prefix, sizeof(prefix)) ||
		 snprintf(abs, sizeof(abs), "%s/%s", prefix, path) >= (int)sizeof(abs))
		return 0;
	n = strlen(abs);
	for (size_t i = 1; i <= n; i++) {
		if (abs[i] != '/' && abs[i] != '\0')
			continue;
		memcpy(prefix, abs, i);
		prefix[i] = '\0';
		if (lstat(prefix, &st) < 0 || !S_ISLNK(st.st_mode))
			continue;
		/* its owner can point it elsewhere at any time, even in a
		 * sticky directory (/tmp), where only the owner may */
		if (!owner_ok(&st)) {
			char msg[DIAG_MSG_MAX];
			snprintf(msg, sizeof(msg), "reached through the symlink %.400s, owned by uid %u, not by root",
				 prefix, (unsigned)st.st_uid);
			return refuse(d, path, msg);
		}
		/* the directory holding the link */
		char holder[PATH_MAX], real[PATH_MAX];
		snprintf(holder, sizeof(holder), "%s", prefix);
		char *slash = strrchr(holder, '/');
		if (slash == holder)
			slash[1] = '\0';
		else if (slash)
			*slash = '\0';
		if (realpath(holder, real) && stat(real, &st) == 0 && (!owner_ok(&st) || dir_others_can_replace(&st))) {
			char msg[DIAG_MSG_MAX];
			snprintf(msg, sizeof(msg),
				 "reached through the symlink %.400s in a directory others can write to", prefix);
			return refuse(d, path, msg);
		}
	}
	return 0;
}

int trust_check_path(const char *path, struct diag *d)
{
	char real[PATH_MAX];
	struct stat st;
	int r;

	if (!strcmp(path, "-"))
		return 0; /* standard input: the caller chose to pipe it */
	r = check_symlinks(path, d);
	if (r < 0 || !realpath(path, real) || stat(real, &st) < 0)
		return r;
	r = check_one(&st, path, "", d);
	if (r == 0)
		r = check_parents(path, real, d);
	return r;
}
