#include "diagnostics/advise_ports.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/ct_timeouts.h"

#define PORTS 65536

static int slot(uint8_t proto)
{
	return proto == IPPROTO_TCP ? 0 : proto == IPPROTO_UDP ? 1 : -1;
}

int advise_ports_init(struct advise_ports *p)
{
	memset(p, 0, sizeof(*p));
	p->cell = calloc(2 * PORTS, sizeof(*p->cell)); /* 3 MiB, only for --write-policy */
	return p->cell ? 0 : -ENOMEM;
}

void advise_ports_free(struct advise_ports *p)
{
	free(p->cell);
	memset(p, 0, sizeof(*p));
}

static bool port_in(const struct selector *s, uint16_t port)
{
	if (!s->n_ports)
		return true;
	for (size_t i = 0; i < s->n_ports; i++)
		if (port >= s->ports[i].first && port <= s->ports[i].last)
			return true;
	return false;
}

/* An entry narrowed by address or interface keeps only part of a port's
 * traffic tracked: the table cannot tell which part, so it is not counted. */
static bool whole_port(const struct selector *s)
{
	return !s->n_peers && !s->n_addresses && !s->n_interfaces;
}

/* Either role matches the original destination port of some direction:
 * service the dport of arriving packets, upstream the dport of sent ones. */
static bool kept(const struct policy *pol, const struct ct_entry *e)
{
	for (size_t i = 0; pol && i < pol->n_keep; i++) {
		const struct selector *s = &pol->keep[i];
		if ((!s->proto || s->proto == e->proto) && whole_port(s) && port_in(s, e->dport))
			return true;
	}
	return false;
}

void advise_ports_add(struct advise_ports *p, const struct policy *policy, const struct ct_entry *e)
{
	int k = slot(e->proto);
	/* SRC_NAT/DST_NAT are set only when a NAT rule changed the tuple;
	 * the *_DONE bits are set for every entry that passed a NAT hook */
	bool nat = e->status & (IPS_SRC_NAT | IPS_DST_NAT);

	if (k < 0 || !e->has_ports || (!nat && !kept(policy, e)))
		return;
	struct advise_port_cell *c = &p->cell[k * PORTS + e->dport];
	c->entries++;
	c->nat += nat;
	if (e->proto == IPPROTO_TCP) {
		c->time_wait += e->tcp_state == TCP_CONNTRACK_TIME_WAIT;
		c->close += e->tcp_state == TCP_CONNTRACK_CLOSE;
	} else if (e->status & IPS_ASSURED) {
		c->udp_stream++; /* the kernel gives an assured UDP entry the stream timeout */
	} else {
		c->udp_unreplied++;
	}
	p->counted++;
}

/* The global timeouts an object would replace, by the key it has there. */
static const struct {
	enum advise_timeout adv;
	const char *key;
} globals[] = {
    {ADV_TCP_ESTABLISHED, "established"},
    {ADV_TCP_TIME_WAIT, "time_wait"},
    {ADV_TCP_CLOSE_WAIT, "close_wait"},
    {ADV_TCP_FIN_WAIT, "fin_wait"},
    {ADV_TCP_SYN_SENT, "syn_sent"},
    {ADV_TCP_SYN_RECV, "syn_recv"},
    {ADV_UDP, "udp"},
    {ADV_UDP_STREAM, "udp_stream"},
};

static void propose(struct advise_port_item *it, const char *key, uint32_t value, uint64_t entries,
		    const uint64_t global[ADV_TIMEOUTS])
{
	uint64_t group = it->c.entries;

	/* integer test: the state holds ADVISE_PORT_STATE_PERCENT of the group */
	if (entries * 100 < group * ADVISE_PORT_STATE_PERCENT)
		return;
	for (size_t i = 0; i < sizeof(globals) / sizeof(globals[0]); i++)
		if (!strcmp(globals[i].key, key) && global[globals[i].adv] <= value)
			return; /* already as short, or shorter, for everyone */
	it->t[it->n].key = key;
	it->t[it->n].value = value;
	it->t[it->n].entries = entries;
	it->t[it->n].pinned = false;
	it->n++;
}

/*
 * An object holds every state: one the policy leaves out gets the kernel's
 * built-in default, not this host's sysctl.  Where the host changed a
 * global (established 3600 instead of 5 days), the object would silently
 * undo it for this traffic, so the host's value is written in too.
 */
static void pin_globals(struct advise_port_item *it, const uint64_t global[ADV_TIMEOUTS])
{
	for (size_t i = 0; i < sizeof(globals) / sizeof(globals[0]) && it->n < ADVISE_PORT_KEYS; i++) {
		const struct ct_timeout_key *k = ct_timeout_key(globals[i].key);
		bool have = false;
		if (!k || k->proto != it->proto || global[globals[i].adv] == k->dflt ||
		    global[globals[i].adv] > CT_TIMEOUT_MAX || global[globals[i].adv] < CT_TIMEOUT_MIN)
			continue;
		for (size_t j = 0; j < it->n; j++)
			have |= !strcmp(it->t[j].key, k->name);
		if (have)
			continue;
		it->t[it->n].key = k->name;
		it->t[it->n].value = (uint32_t)global[globals[i].adv];
		it->t[it->n].entries = 0;
		it->t[it->n].pinned = true;
		it->n++;
	}
}

static size_t proposals(const struct advise_port_item *it)
{
	size_t n = 0;

	for (size_t i = 0; i < it->n; i++)
		n += !it->t[i].pinned;
	return n;
}

size_t advise_port_timeouts(const struct advise_ports *p, uint64_t total, const uint64_t global[ADV_TIMEOUTS],
			    struct advise_port_item out[ADVISE_PORT_MAX])
{
	size_t n = 0;

	if (!p->cell || !total)
		return 0;
	for (int k = 0; k < 2; k++)
		for (uint32_t port = 0; port < PORTS; port++) {
			const struct advise_port_cell *c = &p->cell[k * PORTS + port];
			/* integer test, so the threshold is exact */
			if (c->entries < ADVISE_PORT_MIN_ENTRIES ||
			    (uint64_t)c->entries * 100 < total * ADVISE_PORT_SHARE_PERCENT || n == ADVISE_PORT_MAX)
				continue;
			struct advise_port_item *it = &out[n++];
			memset(it, 0, sizeof(*it));
			it->proto = k ? IPPROTO_UDP : IPPROTO_TCP;
			it->port = (uint16_t)port;
			it->c = *c;
			it->total = total;
			it->share_percent = 100.0 * c->entries / (double)total;
			/*
			 * Only states of closed or one-sided traffic are shortened:
			 *  - TIME_WAIT (120 s) lets conntrack recognise a late segment or
			 *    a retransmitted FIN of a closed connection; the endpoints
			 *    keep their own TIME_WAIT in the socket, and a new SYN on the
			 *    same tuple reopens the entry anyway.  10 s covers the
			 *    first five retransmissions of a lost last ACK's FIN (the
			 *    RTO starts at 200 ms and doubles); a later one is INVALID.
			 *  - unreplied UDP (30 s): a flood or requests nobody answers;
			 *    10 s still covers DNS's 5 s retries.
			 *  - replied UDP (120 s): 60 s, as advise recommends globally;
			 *    a NATed stream idle for longer loses its mapping.
			 * ESTABLISHED is never shortened here: live connections would
			 * break, and the remedy for them is a bigger table.
			 */
			if (it->proto == IPPROTO_TCP) {
				propose(it, "time_wait", ADVISE_PORT_TIME_WAIT, c->time_wait, global);
			} else {
				propose(it, "udp", ADVISE_PORT_UDP, c->udp_unreplied, global);
				propose(it, "udp_stream", ADVISE_PORT_UDP_STREAM, c->udp_stream, global);
			}
			if (it->n)
				pin_globals(it, global);
		}
	/* largest first; a handful of items */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && out[j].c.entries > out[j - 1].c.entries; j--) {
			struct advise_port_item t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

/* ------------------------------------------------------------------ */
/* into the policy                                                      */

static const char *group_proto(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : "udp";
}

/* "tcp/8080: 3021 of 3400 entries (88.9 %), 3021 NATed; 2998 in TIME_WAIT, 0 in CLOSE" */
static void describe(const struct advise_port_item *it, struct strbuf *out)
{
	const struct advise_port_cell *c = &it->c;

	strbuf_printf(out, "%s/%u: %" PRIu32 " of %" PRIu64 " entries (%.1f %%)", group_proto(it->proto), it->port,
		      c->entries, it->total, it->share_percent);
	if (c->nat)
		strbuf_printf(out, ", %" PRIu32 " NATed", c->nat);
	if (c->entries > c->nat)
		strbuf_printf(out, ", %" PRIu32 " kept tracked by the policy", c->entries - c->nat);
	if (it->proto == IPPROTO_TCP)
		strbuf_printf(out, "; %" PRIu32 " in TIME_WAIT, %" PRIu32 " in CLOSE", c->time_wait, c->close);
	else
		strbuf_printf(out, "; %" PRIu32 " unreplied, %" PRIu32 " streams", c->udp_unreplied, c->udp_stream);
}

static void describe_timeouts(const struct advise_port_item *it, struct strbuf *out)
{
	for (size_t i = 0; i < it->n; i++)
		strbuf_printf(out, "%s%s=%" PRIu32 "%s", i ? ", " : "", it->t[i].key, it->t[i].value,
			      it->t[i].pinned ? " (this host's global, kept)" : "");
}

/* The keep_tracked entry that selects exactly proto/port and nothing
 * narrower, or -1.  A role narrows too: a "service" entry's rules match the
 * port as the destination of arriving packets only, so connections this
 * host opens to it would not get the timeouts; the grouping cannot tell
 * the directions apart, so only role any is the same selector. */
static long exact_entry(const struct policy *pol, const struct advise_port_item *it)
{
	for (size_t i = 0; pol && i < pol->n_keep; i++) {
		const struct selector *s = &pol->keep[i];
		if (s->proto == it->proto && whole_port(s) && s->role == ROLE_ANY && s->n_ports == 1 &&
		    s->ports[0].first == it->port && s->ports[0].last == it->port)
			return (long)i;
	}
	return -1;
}

/* An entry before `before` with timeouts that matches all of the port's
 * traffic: the first entry with timeouts that matches decides, so ours
 * would never act.  (One that matches part of it leaves ours the rest.) */
static long shadowing_entry(const struct policy *pol, const struct advise_port_item *it, size_t before)
{
	for (size_t i = 0; pol && i < pol->n_keep && i < before; i++) {
		const struct selector *s = &pol->keep[i];
		if (s->timeouts.proto == it->proto && (!s->proto || s->proto == it->proto) && whole_port(s) &&
		    s->role == ROLE_ANY && port_in(s, it->port))
			return (long)i;
	}
	return -1;
}

/* A notrack entry that selects some of the port: a new keep_tracked entry
 * for the whole port would take that traffic back from it (keep_tracked
 * returns come first), or leave it nothing to match at all, which the
 * parser refuses.  A host that serves the port itself and NATs it for
 * others (a router's own 443 and its LAN's) needs a narrower entry, by
 * hand. */
static const struct selector *untracking_entry(const struct policy *pol, const struct advise_port_item *it)
{
	const struct selector *lists[] = {pol ? pol->services : NULL, pol ? pol->upstreams : NULL};
	size_t counts[] = {pol ? pol->n_services : 0, pol ? pol->n_upstreams : 0};

	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; i < counts[l]; i++)
			if ((!lists[l][i].proto || lists[l][i].proto == it->proto) && port_in(&lists[l][i], it->port))
				return &lists[l][i];
	return NULL;
}

static int add_timeouts(json_t *t, const struct advise_port_item *it, struct strbuf *notes)
{
	for (size_t i = 0; i < it->n; i++) {
		json_t *have = json_object_get(t, it->t[i].key);
		if (have) {
			strbuf_printf(notes, "    %s: the policy's %s=%" JSON_INTEGER_FORMAT " is kept\n", it->t[i].key,
				      it->t[i].key, json_integer_value(have));
			continue;
		}
		if (json_object_set_new(t, it->t[i].key, json_integer(it->t[i].value)) < 0)
			return -ENOMEM;
	}
	return 0;
}

static json_t *new_entry(const struct advise_port_item *it)
{
	char comment[160];

	snprintf(comment, sizeof(comment), "notrackctl advise: %" PRIu32 " of %" PRIu64 " entries", it->c.entries,
		 it->total);
	return json_pack("{s:s,s:s,s:[i],s:s,s:{}}", "reason", it->c.nat ? "nat" : "state", "proto",
			 group_proto(it->proto), "ports", (int)it->port, "comment", comment, "timeouts");
}

int advise_ports_merge(json_t *root, const struct policy *pol, const struct advise_port_item *items, size_t n,
		       struct strbuf *notes)
{
	json_t *keep = json_object_get(root, "keep_tracked");
	size_t merged = 0;

	if (n)
		strbuf_printf(notes,
			      "per-traffic timeouts (a NATed or kept-tracked tcp/udp port with >= %d %% and >= %d "
			      "entries of the table):\n",
			      ADVISE_PORT_SHARE_PERCENT, ADVISE_PORT_MIN_ENTRIES);
	for (size_t i = 0; i < n; i++) {
		const struct advise_port_item *it = &items[i];
		long exact = exact_entry(pol, it), shadow;
		json_t *entry, *t;

		strbuf_puts(notes, "  ");
		describe(it, notes);
		if (!proposals(it)) {
			strbuf_puts(notes, ": no timeout proposed (most entries are live connections; a shorter "
					   "timeout would break them)\n");
			continue;
		}
		shadow = shadowing_entry(pol, it, exact < 0 ? (pol ? pol->n_keep : 0) : (size_t)exact);
		if (shadow >= 0) {
			strbuf_printf(notes, ": left alone, $.keep_tracked[%ld] sets timeouts for it first\n", shadow);
			continue;
		}
		const struct selector *untracks = exact < 0 ? untracking_entry(pol, it) : NULL;
		if (untracks) {
			strbuf_printf(
			    notes,
			    ": left alone, %s untracks %s/%u too, and a keep_tracked entry for the whole port "
			    "would override it; add one narrowed by peers or addresses by hand\n",
			    untracks->path, group_proto(it->proto), it->port);
			continue;
		}
		if (!keep) {
			keep = json_array();
			if (!keep || json_object_set_new(root, "keep_tracked", keep) < 0)
				return -ENOMEM;
		}
		if (exact >= 0) {
			entry = json_array_get(keep, (size_t)exact);
			strbuf_printf(notes, ": timeouts into $.keep_tracked[%ld]: ", exact);
		} else {
			entry = new_entry(it);
			if (!entry || json_array_append_new(keep, entry) < 0)
				return -ENOMEM;
			strbuf_printf(notes, ": new $.keep_tracked[%zu] with timeouts: ", json_array_size(keep) - 1);
		}
		describe_timeouts(it, notes);
		strbuf_putc(notes, '\n');
		t = json_object_get(entry, "timeouts");
		if (!t) {
			t = json_object();
			if (!t || json_object_set_new(entry, "timeouts", t) < 0)
				return -ENOMEM;
		}
		if (add_timeouts(t, it, notes) < 0)
			return -ENOMEM;
		merged++;
	}
	return notes->oom ? -ENOMEM : (int)merged;
}
