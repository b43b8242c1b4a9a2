/*
 * Per-traffic conntrack timeouts of a keep_tracked entry ("timeouts"): the
 * names a policy uses, the kernel's state index of each (the order of
 * NFTNL_CTTIMEOUT_TCP_* and NFTNL_CTTIMEOUT_UDP_*) and the value nft
 * fills in for a state the policy leaves out.  Pure.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CT_TIMEOUT_STATES 11 /* NFTNL_CTTIMEOUT_TCP_MAX: the larger of TCP's and UDP's */
#define CT_TIMEOUT_MIN 1
/* the kernel keeps timeout * HZ in an unsigned int; with HZ 1000 this fits */
#define CT_TIMEOUT_MAX 2147483

struct ct_timeout_key {
	const char *name;     /* in the policy: "time_wait", "udp_stream" */
	uint8_t proto;	      /* IPPROTO_TCP or IPPROTO_UDP */
	unsigned index;	      /* the kernel's state index */
	const char *nft_name; /* in nft's "policy = { ... }" */
	const char *code;     /* in an object's name: "tw" */
	uint32_t dflt;	      /* nft's (and the kernel's built-in) default, seconds */
};

/* A keep_tracked entry's timeouts; proto 0 when it has none. */
struct ct_timeouts {
	uint8_t proto;
	uint16_t given; /* bit i: value[i] was written in the policy */
	uint32_t value[CT_TIMEOUT_STATES];
	char path[96]; /* "$.keep_tracked[0].timeouts" */
};

/* The key named `name` (for either protocol), or NULL. */
const struct ct_timeout_key *ct_timeout_key(const char *name);
/* Every key's name, NULL-terminated. */
const char *const *ct_timeout_names(void);
/* The key of `proto` with state index `index`, or NULL. */
const struct ct_timeout_key *ct_timeout_key_at(uint8_t proto, unsigned index);
/* The number of states of proto (11 for TCP, 2 for UDP; 0 otherwise). */
unsigned ct_timeout_states(uint8_t proto);
/* Fills the states the policy left out with their defaults. */
void ct_timeouts_fill(struct ct_timeouts *t);
/* The object name, after its content: "ct_tcp_tw5_est600". */
void ct_timeouts_name(const struct ct_timeouts *t, char *buf, size_t size);
