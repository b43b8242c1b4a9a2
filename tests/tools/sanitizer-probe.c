/* A program that exits 1, as a refused notrackctl command does, after a
 * leak or undefined behaviour, under ASan and UBSan: the suite must not
 * take its report for a refusal (tests/integration/sanitizer-guard.sh). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *kept;

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "leak")) {
		kept = malloc(64);
		kept = NULL; /* the only pointer is gone: a definite leak at exit */
	} else if (argc > 1 && !strcmp(argv[1], "overflow")) {
		volatile int big = INT_MAX;
		printf("%d\n", big + argc); /* signed overflow: undefined */
	}
	fprintf(stderr, "probe: refused\n");
	return 1;
}
