/*
 * The iptables backend's two readers of a legacy table, side by side, for
 * the integration tests (ipt-read-blob.sh):
 *
 *   ipt-read-check TAG
 *
 * Every loaded table of both families is read through a libiptc snapshot
 * (what the commit reads) and through the kernel's blob (what the plan and
 * the verification read); one line per table.  Exit 0 when every table gave
 * the same digest and the same rules of TAG both ways, 1 when one did not,
 * 2 when a table could not be read.
 */
#include <stdio.h>

#include "backend/iptables/ipt_backend.h"

int main(int argc, char **argv)
{
	struct diag d;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: %s TAG\n", argv[0]);
		return 2;
	}
	diag_init(&d);
	r = ipt_backend_read_check(argv[1], stdout, &d);
	if (r < 0)
		fprintf(stderr, "ipt-read-check: %s\n", d.msg);
	diag_free(&d);
	return r < 0 ? 2 : r ? 1 : 0;
}
