#include <malloc.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
	/* A run is short and its large buffers (10,000 set elements, a
	 * generation's text) come and go several times: keep freed memory in
	 * the heap for the next one instead of returning it to the kernel and
	 * faulting fresh pages in again (glibc maps blocks of 128 KiB and more
	 * on their own by default). */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
	return cli_main(argc, argv);
}
