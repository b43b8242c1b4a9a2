#include "diagnostics/ct_agg.h"

#include <linux/netfilter/nf_conntrack_common.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/*
 * Key layout, so that byte order is the order people expect:
 *   [0] family  [1..16] address  [17] protocol  [18..19] port, big-endian
 * A source key leaves protocol and port zero; a port key leaves family and
 * address zero (tcp/443 counts IPv4 and IPv6 together).
 */
#define KEY_FAMILY 0
#define KEY_ADDR 1
#define KEY_PROTO 17
#define KEY_PORT 18
_Static_assert(KEY_PORT + 2 == TOPK_KEY_SIZE, "the key fills TOPK_KEY_SIZE");

int ct_agg_init(struct ct_agg *a, size_t capacity)
{
	memset(a, 0, sizeof(*a));
	if (!capacity)
		return 0;
	for (int k = 0; k < CT_TOP_KINDS; k++) {
		int r = topk_init(&a->tops[k], capacity);
		if (r < 0) {
			ct_agg_free(a);
			return r;
		}
	}
	a->with_tops = true;
	return 0;
}

void ct_agg_free(struct ct_agg *a)
{
	if (a->with_tops)
		for (int k = 0; k < CT_TOP_KINDS; k++)
			topk_free(&a->tops[k]);
	a->with_tops = false;
}

static void key_addr(uint8_t *key, const struct ct_entry *e)
{
	key[KEY_FAMILY] = e->family;
	memcpy(key + KEY_ADDR, e->src, e->family == AF_INET ? 4 : 16);
}

static void key_port(uint8_t *key, const struct ct_entry *e)
{
	key[KEY_PROTO] = e->proto;
	key[KEY_PORT] = (uint8_t)(e->dport >> 8);
	key[KEY_PORT + 1] = (uint8_t)e->dport;
}

void ct_agg_add(struct ct_agg *a, const struct ct_entry *e)
{
	a->total++;
	if (e->family == AF_INET)
		a->ipv4++;
	else
		a->ipv6++;
	a->proto[e->proto]++;
	if (e->proto == IPPROTO_TCP && e->tcp_state != CT_TCP_STATE_NONE)
		a->tcp_state[e->tcp_state < CT_AGG_TCP_OTHER ? e->tcp_state : CT_AGG_TCP_OTHER]++;
	if (!(e->status & IPS_SEEN_REPLY)) {
		a->unreplied++;
		a->udp_unreplied += e->proto == IPPROTO_UDP;
	}
	if (e->status & IPS_ASSURED) {
		a->assured++;
		a->udp_assured += e->proto == IPPROTO_UDP;
	}
	if (!a->with_tops)
		return;

	uint8_t key[TOPK_KEY_SIZE] = {0};
	key_addr(key, e);
	topk_add(&a->tops[CT_TOP_SOURCES], key, sizeof(key));
	if (!e->has_ports)
		return; /* icmp and the like: no port to count */
	key_port(key, e);
	topk_add(&a->tops[CT_TOP_PAIRS], key, sizeof(key));
	memset(key, 0, KEY_PROTO);
	topk_add(&a->tops[CT_TOP_DPORTS], key, sizeof(key));
}

bool ct_agg_top_exact(const struct ct_agg *a, enum ct_top_kind kind)
{
	return !a->with_tops || !a->tops[kind].overflowed;
}

size_t ct_agg_top(const struct ct_agg *a, enum ct_top_kind kind, size_t n, struct ct_top_row *out)
{
	struct topk_item items[CT_AGG_TOP_MAX];
	size_t got;

	if (!a->with_tops)
		return 0;
	got = topk_top(&a->tops[kind], n < CT_AGG_TOP_MAX ? n : CT_AGG_TOP_MAX, items);
	for (size_t i = 0; i < got; i++) {
		const uint8_t *k = items[i].key;
		memset(&out[i], 0, sizeof(out[i]));
		out[i].family = k[KEY_FAMILY];
		memcpy(out[i].addr, k + KEY_ADDR, 16);
		out[i].proto = k[KEY_PROTO];
		out[i].port = (uint16_t)(k[KEY_PORT] << 8 | k[KEY_PORT + 1]);
		out[i].count = items[i].count;
		out[i].error = items[i].error;
	}
	return got;
}
