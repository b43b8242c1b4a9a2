#include "policy/ct_keys.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Timeouts are seconds the kernel stores as an int of jiffies
 * (proc_dointvec_jiffies): beyond INT_MAX / HZ it refuses the write, and
 * HZ is at most 1000.  Zero would expire every entry at its next packet.
 */
#define T_MAX (INT_MAX / 1000)
#define TIMEOUT(n)                                                                                                     \
	{                                                                                                              \
		n, 1, T_MAX, "seconds"                                                                                 \
	}
#define FLAG(n)                                                                                                        \
	{                                                                                                              \
		n, 0, 1, "0 or 1"                                                                                      \
	}

static const struct ct_key keys[] = {
    /* the table: nf_conntrack_max is the namespace's limit (read-only
     * outside the initial namespace on this kernel), buckets the hash
     * size, which only the initial namespace can resize */
    {"max", 0, INT_MAX, "entries"},
    {"buckets", 1, 1 << 26, "hash buckets"},
    {"expect_max", 1, INT_MAX, "expectations"},
    TIMEOUT("tcp_timeout_syn_sent"),
    TIMEOUT("tcp_timeout_syn_recv"),
    TIMEOUT("tcp_timeout_established"),
    TIMEOUT("tcp_timeout_fin_wait"),
    TIMEOUT("tcp_timeout_close_wait"),
    TIMEOUT("tcp_timeout_last_ack"),
    TIMEOUT("tcp_timeout_time_wait"),
    TIMEOUT("tcp_timeout_close"),
    TIMEOUT("tcp_timeout_max_retrans"),
    TIMEOUT("tcp_timeout_unacknowledged"),
    TIMEOUT("udp_timeout"),
    TIMEOUT("udp_timeout_stream"),
    TIMEOUT("icmp_timeout"),
    TIMEOUT("icmpv6_timeout"),
    TIMEOUT("generic_timeout"),
    TIMEOUT("gre_timeout"),
    TIMEOUT("gre_timeout_stream"),
    TIMEOUT("sctp_timeout_closed"),
    TIMEOUT("sctp_timeout_cookie_wait"),
    TIMEOUT("sctp_timeout_cookie_echoed"),
    TIMEOUT("sctp_timeout_established"),
    TIMEOUT("sctp_timeout_shutdown_sent"),
    TIMEOUT("sctp_timeout_shutdown_recd"),
    TIMEOUT("sctp_timeout_shutdown_ack_sent"),
    TIMEOUT("sctp_timeout_heartbeat_sent"),
    TIMEOUT("frag6_timeout"),
    {"frag6_high_thresh", 0, INT_MAX, "bytes"},
    {"frag6_low_thresh", 0, INT_MAX, "bytes"},
    /* stored in a u8 by the kernel (proc_dou8vec_minmax) */
    {"tcp_max_retrans", 0, 255, "retransmissions"},
    {"log_invalid", 0, 255, "a protocol number, 0 (none) or 255 (all)"},
    {"events", 0, 2, "0, 1 or 2"},
    FLAG("acct"),
    FLAG("checksum"),
    FLAG("timestamp"),
    FLAG("tcp_loose"),
    FLAG("tcp_be_liberal"),
    FLAG("tcp_ignore_invalid_rst"),
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

const struct ct_key *ct_sysctl_key(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (!strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

const char *const *ct_sysctl_names(void)
{
	static const char *names[N_KEYS + 1];

	if (!names[0])
		for (size_t i = 0; i < N_KEYS; i++)
			names[i] = keys[i].name;
	return names;
}

void ct_values_free(struct ct_values *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

struct ct_value *ct_values_find(const struct ct_values *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].key, key))
			return &l->v[i];
	return NULL;
}

int ct_values_set(struct ct_values *l, const char *key, long long value)
{
	struct ct_value *v = ct_values_find(l, key), *grown;

	if (!v) {
		grown = realloc(l->v, (l->n + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		l->v = grown;
		v = &l->v[l->n++];
		memset(v, 0, sizeof(*v));
		snprintf(v->key, sizeof(v->key), "%s", key);
	}
	v->value = value;
	return 0;
}

void ct_values_del(struct ct_values *l, const char *key)
{
	struct ct_value *v = ct_values_find(l, key);

	if (!v)
		return;
	*v = l->v[--l->n];
}
