#include "backend/iptables/ipt_transport.h"

#include <errno.h>
#include <libiptc/libip6tc.h>
#include <libiptc/libiptc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

struct ipt_transport_ops ipt_transport_ops = {
    .commit = ipt_transport_real_commit,
};

#define V4(t) ((t)->family == FAMILY_IPV4)
/* Calls the libip4tc or libip6tc function of the same name. */
#define TC(t, fn, ...) (V4(t) ? iptc_##fn(__VA_ARGS__) : ip6tc_##fn(__VA_ARGS__))

const char *ipt_family_label(unsigned family)
{
	return family_label(family);
}

/* Maps a libiptc failure to a diag.  libiptc leaves errno 0 when its own
 * structures and the kernel's disagree (an iptables/kernel mismatch). */
static int tc_fail(struct ipt_snap *t, int err, const char *what, const char *chain, struct diag *d)
{
	const char *tool = V4(t) ? "iptables" : "ip6tables";

	if (err == EPERM || err == EACCES)
		return diag_fail(d, DIAG_PERMISSION, err, NULL, "%s table %s: %s: needs CAP_NET_ADMIN (run as root)",
				 tool, t->name, what);
	if (!err)
		err = EPROTO;
	return diag_fail(d, DIAG_KERNEL, err, NULL, "%s table %s%s%s: %s: %s", tool, t->name, chain ? ", chain " : "",
			 chain ? chain : "", what, V4(t) ? iptc_strerror(err) : ip6tc_strerror(err));
}

int ipt_loaded_tables(unsigned family, char ***names, size_t *n, struct diag *d)
{
	const char *path = family == FAMILY_IPV4 ? "/proc/net/ip_tables_names" : "/proc/net/ip6_tables_names";
	char line[64], **v = NULL;
	FILE *f;

	*names = NULL;
	*n = 0;
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0; /* x_tables is not loaded: no table exists */
		return diag_fail(d, errno == EACCES ? DIAG_PERMISSION : DIAG_SYSTEM, errno, NULL,
				 "cannot read %s: %s%s", path, strerror(errno),
				 errno == EACCES ? " (run as root)" : "");
	}
	while (fgets(line, sizeof(line), f)) {
		char **p;
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		p = realloc(v, (*n + 1) * sizeof(*v));
		if (!p || !(p[*n] = strdup(line))) {
			if (p)
				v = p;
			ipt_names_free(v, *n);
			fclose(f);
			*n = 0;
			return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
		}
		v = p;
		(*n)++;
	}
	fclose(f);
	*names = v;
	return 0;
}

bool ipt_names_contain(char **names, size_t n, const char *table)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], table))
			return true;
	return false;
}

void ipt_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int ipt_snap_open(struct ipt_snap *t, unsigned family, const char *name, struct diag *d)
{
	memset(t, 0, sizeof(*t));
	t->family = family;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->h = TC(t, init, name);
	if (!t->h) {
		int err = errno;
		/* init reports an unknown table as ENOENT (or EINVAL on old kernels) */
		if (err == ENOENT || err == EINVAL)
			return diag_fail(d, DIAG_KERNEL, err, NULL, "%s has no table %s",
					 V4(t) ? "iptables" : "ip6tables", name);
		return tc_fail(t, err, "cannot read the table", NULL, d);
	}
	return 0;
}

void ipt_snap_close(struct ipt_snap *t)
{
	if (t->h) {
		if (V4(t))
			iptc_free(t->h);
		else
			ip6tc_free(t->h);
	}
	t->h = NULL;
}

int ipt_transport_real_commit(struct ipt_snap *t)
{
	return TC(t, commit, t->h) ? 0 : -(errno ? errno : EPROTO);
}

int ipt_snap_commit(struct ipt_snap *t, struct diag *d)
{
	int r = ipt_transport_ops.commit(t);

	if (r < 0)
		return tc_fail(t, -r, "the kernel refused the new table", NULL, d);
	return 0;
}

const char *ipt_snap_first_chain(struct ipt_snap *t)
{
	return TC(t, first_chain, t->h);
}

const char *ipt_snap_next_chain(struct ipt_snap *t)
{
	return TC(t, next_chain, t->h);
}

bool ipt_snap_builtin(struct ipt_snap *t, const char *chain)
{
	return TC(t, builtin, chain, t->h) != 0;
}

const char *ipt_snap_policy(struct ipt_snap *t, const char *chain)
{
	struct xt_counters c;

	return TC(t, get_policy, chain, &c, t->h);
}

const void *ipt_snap_first_rule(struct ipt_snap *t, const char *chain)
{
	return V4(t) ? (const void *)iptc_first_rule(chain, t->h) : (const void *)ip6tc_first_rule(chain, t->h);
}

const void *ipt_snap_next_rule(struct ipt_snap *t, const void *prev)
{
	return V4(t) ? (const void *)iptc_next_rule(prev, t->h) : (const void *)ip6tc_next_rule(prev, t->h);
}

const char *ipt_snap_target(struct ipt_snap *t, const void *e)
{
	return TC(t, get_target, e, t->h);
}

int ipt_snap_create_chain(struct ipt_snap *t, const char *chain, struct diag *d)
{
	if (!TC(t, create_chain, chain, t->h))
		return tc_fail(t, errno, "cannot create the chain", chain, d);
	return 0;
}

int ipt_snap_flush_chain(struct ipt_snap *t, const char *chain, struct diag *d)
{
	if (!TC(t, flush_entries, chain, t->h))
		return tc_fail(t, errno, "cannot flush the chain", chain, d);
	return 0;
}

int ipt_snap_delete_chain(struct ipt_snap *t, const char *chain, struct diag *d)
{
	if (!TC(t, delete_chain, chain, t->h))
		return tc_fail(t, errno, "cannot delete the chain", chain, d);
	return 0;
}

/* libiptc counts rules from 0; iptables and we count from 1 */
int ipt_snap_insert_rule(struct ipt_snap *t, const char *chain, const void *e, unsigned pos, struct diag *d)
{
	if (!TC(t, insert_entry, chain, e, pos - 1, t->h))
		return tc_fail(t, errno, "cannot insert a rule", chain, d);
	return 0;
}

int ipt_snap_append_rule(struct ipt_snap *t, const char *chain, const void *e, struct diag *d)
{
	if (!TC(t, append_entry, chain, e, t->h))
		return tc_fail(t, errno, "cannot append a rule", chain, d);
	return 0;
}

int ipt_snap_delete_rule(struct ipt_snap *t, const char *chain, unsigned pos, struct diag *d)
{
	if (!TC(t, delete_num_entry, chain, pos - 1, t->h))
		return tc_fail(t, errno, "cannot delete a rule", chain, d);
	return 0;
}
