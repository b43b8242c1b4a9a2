/*
 * The ports this network namespace's sockets listen on: TCP sockets in
 * LISTEN and UDP sockets that are bound but not connected, IPv4 and IPv6
 * (lint's lint_input_listening).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct listeners {
	uint16_t *tcp, *udp;
	size_t n_tcp, n_udp;
};

/*
 * Fills l (free with listeners_free).  Asks the kernel with sock_diag and,
 * where that is not available, reads /proc/net/{tcp,udp}[6]; ports it cannot
 * read stay unknown (lint then only reports more).  0, or -ENOMEM.
 */
int listeners_read(struct listeners *l);
void listeners_free(struct listeners *l);
