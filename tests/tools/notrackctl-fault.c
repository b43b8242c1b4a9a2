/*
 * notrackctl with a fault in the libiptc transport, for the integration
 * tests:
 *
 *   notrackctl-fault WHICH ERRNO [notrackctl arguments...]
 *
 * WHICH names the table commits that fail: numbers (2 or 2,3: the N-th
 * commit of the run, from 1, counting the commits that put tables back)
 * or FAMILY/TABLE (ipv4/filter: every commit of that table).  The failing commit sends nothing to the kernel and
 * returns -ERRNO, exactly as a refused libiptc commit does.
 *
 * Everything else is the real command line and the real backend.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "backend/iptables/ipt_transport.h"
#include "policy/policy.h"

static const char *which;
static int fail_errno;
static unsigned commits;

static bool should_fail(const struct ipt_snap *t)
{
	char name[64];
	const char *p = which;
	char *end;

	commits++;
	snprintf(name, sizeof(name), "%s/%s", t->family == FAMILY_IPV4 ? "ipv4" : "ipv6", t->name);
	if (!strcmp(name, which))
		return true;
	/* a comma-separated list of commit numbers */
	while (*p) {
		unsigned long n = strtoul(p, &end, 10);
		if (end == p)
			return false;
		if (n == commits)
			return true;
		p = *end == ',' ? end + 1 : end;
	}
	return false;
}

static int faulty_commit(struct ipt_snap *t)
{
	if (should_fail(t)) {
		fprintf(stderr, "notrackctl-fault: failing commit %u (%s %s) with %s\n", commits,
			t->family == FAMILY_IPV4 ? "ipv4" : "ipv6", t->name, strerror(fail_errno));
		return -fail_errno;
	}
	return ipt_transport_real_commit(t);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s WHICH ERRNO [notrackctl arguments...]\n", argv[0]);
		return 2;
	}
	which = argv[1];
	fail_errno = atoi(argv[2]);
	if (fail_errno <= 0) {
		fprintf(stderr, "%s: ERRNO must be a positive number\n", argv[0]);
		return 2;
	}
	ipt_transport_ops.commit = faulty_commit;
	argv[2] = argv[0];
	return cli_main(argc - 2, argv + 2);
}
