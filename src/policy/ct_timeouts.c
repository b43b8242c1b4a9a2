#include "policy/ct_timeouts.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/*
 * The defaults are the values nft itself sends for a state its "policy"
 * leaves out (nft --debug=mnl on this machine); listing prints only the
 * states that differ from them.  Sending the same keeps compile's text and
 * apply's objects equal.  They are the kernel's built-in defaults, not the
 * host's nf_conntrack_*_timeout sysctls: an object holds every state.
 */
static const struct ct_timeout_key keys[] = {
    {"syn_sent", IPPROTO_TCP, 0, "syn_sent", "ss", 120},	   {"syn_recv", IPPROTO_TCP, 1, "syn_recv", "sr", 60},
    {"established", IPPROTO_TCP, 2, "established", "est", 432000}, {"fin_wait", IPPROTO_TCP, 3, "fin_wait", "fw", 120},
    {"close_wait", IPPROTO_TCP, 4, "close_wait", "cw", 60},	   {"last_ack", IPPROTO_TCP, 5, "last_ack", "la", 30},
    {"time_wait", IPPROTO_TCP, 6, "time_wait", "tw", 120},	   {"close", IPPROTO_TCP, 7, "close", "cl", 10},
    {"syn_sent2", IPPROTO_TCP, 8, "syn_sent2", "ss2", 120},	   {"retrans", IPPROTO_TCP, 9, "retrans", "re", 300},
    {"unacknowledged", IPPROTO_TCP, 10, "unack", "un", 300},	   {"udp", IPPROTO_UDP, 0, "unreplied", "u", 30},
    {"udp_stream", IPPROTO_UDP, 1, "replied", "us", 120},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

const struct ct_timeout_key *ct_timeout_key(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (!strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

const char *const *ct_timeout_names(void)
{
	static const char *names[N_KEYS + 1];

	for (size_t i = 0; i < N_KEYS; i++)
		names[i] = keys[i].name;
	return names;
}

const struct ct_timeout_key *ct_timeout_key_at(uint8_t proto, unsigned index)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].proto == proto && keys[i].index == index)
			return &keys[i];
	return NULL;
}

unsigned ct_timeout_states(uint8_t proto)
{
	return proto == IPPROTO_TCP ? 11 : proto == IPPROTO_UDP ? 2 : 0;
}

void ct_timeouts_fill(struct ct_timeouts *t)
{
	for (unsigned i = 0; i < ct_timeout_states(t->proto); i++)
		if (!(t->given & (1u << i)))
			t->value[i] = ct_timeout_key_at(t->proto, i)->dflt;
}

void ct_timeouts_name(const struct ct_timeouts *t, char *buf, size_t size)
{
	size_t n = (size_t)snprintf(buf, size, "ct_%s", t->proto == IPPROTO_TCP ? "tcp" : "udp");

	/* only what the policy wrote: the rest are the fixed defaults */
	for (unsigned i = 0; i < ct_timeout_states(t->proto) && n < size; i++)
		if (t->given & (1u << i))
			n += (size_t)snprintf(buf + n, size - n, "_%s%u", ct_timeout_key_at(t->proto, i)->code,
					      t->value[i]);
}
