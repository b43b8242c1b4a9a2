#include "diagnostics/advise.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define GIB (1024ull * 1024 * 1024)

void advise_table_health(uint64_t count, uint64_t max, uint64_t buckets, uint64_t drops, struct table_health *h)
{
	memset(h, 0, sizeof(*h));
	if (max) {
		h->use_percent = 100.0 * (double)count / (double)max;
		/* integer test, so 80 % means exactly count * 100 >= max * 80 */
		h->warn_full = count * 100 >= max * ADVISE_WARN_USE_PERCENT;
	}
	if (buckets) {
		h->buckets_percent = 100.0 * (double)count / (double)buckets;
		h->warn_chains = count * 100 > buckets * ADVISE_WARN_BUCKETS_PERCENT;
	}
	h->warn_drops = drops > 0;
}

uint64_t advise_memory(uint64_t max, uint64_t buckets, uint64_t objsize)
{
	return max * objsize + buckets * ADVISE_BUCKET_SIZE;
}

uint64_t advise_kernel_default_buckets(uint64_t ram)
{
	uint64_t b = ram / 16384 / ADVISE_BUCKET_SIZE;

	if (ram > 4 * GIB)
		b = 262144;
	else if (ram > GIB)
		b = 65536;
	return b < 1024 ? 1024 : b;
}

static uint64_t pow2_at_least(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static uint64_t pow2_at_most(uint64_t v)
{
	uint64_t p = 1;

	if (!v)
		return 0;
	while (p <= v / 2)
		p <<= 1;
	return p;
}

void advise_sizes(const struct advise_input *in, struct advise_sizes *out)
{
	memset(out, 0, sizeof(*out));
	out->kernel_default = advise_kernel_default_buckets(in->ram);
	out->max_now = in->max;
	out->buckets_now = in->buckets;
	out->table_was_full = in->drops > 0;
	out->demand = in->peak > in->count ? in->peak : in->count;
	if (out->table_was_full && in->max > out->demand)
		out->demand = in->max;
	out->target = pow2_at_least(2 * (out->demand ? out->demand : 1));
	/* RAM / 16 for entries with one bucket head each */
	out->cap = pow2_at_most(in->ram / 16 / (in->objsize + ADVISE_BUCKET_SIZE));

	out->max = in->max > out->target ? in->max : out->target;
	if (out->max > out->cap && out->target > in->max) {
		out->capped = true;
		out->max = in->max > out->cap ? in->max : out->cap;
	}
	out->buckets = in->buckets > out->max ? in->buckets : out->max;
	out->memory_now = advise_memory(in->max, in->buckets, in->objsize);
	out->memory = advise_memory(out->max, out->buckets, in->objsize);
	out->change = out->max != in->max || out->buckets != in->buckets;
}

/* ------------------------------------------------------------------ */
/* timeouts                                                             */

struct timeout_rule {
	const char *sysctl;
	uint64_t kernel_default;
	uint64_t recommended; /* under pressure; = default when we never suggest a change */
	const char *why_default;
	const char *risk;
	const char *note;
};

static const struct timeout_rule timeout_rules[ADV_TIMEOUTS] = {
    [ADV_TCP_ESTABLISHED] =
	{
	    "nf_conntrack_tcp_timeout_established",
	    432000,
	    86400,
	    "5 days, so that idle connections with no traffic and no keep-alive (ssh sessions, database "
	    "pools, long polls) keep their entry; TCP keep-alive probes start only after 2 hours",
	    "a connection idle for longer than the timeout loses its entry: under NAT its translation is "
	    "gone and the connection breaks; a filter that accepts only ct state established drops its "
	    "next packet when nf_conntrack_tcp_loose is 0",
	    "only entries of peers that vanished without a FIN or RST go away sooner; if the ESTABLISHED "
	    "entries are live connections, no timeout helps: notrack them (see top --policy) or raise "
	    "nf_conntrack_max",
	},
    [ADV_TCP_TIME_WAIT] =
	{
	    "nf_conntrack_tcp_timeout_time_wait",
	    120,
	    60,
	    "120 s = 2 x MSL (maximum segment lifetime, 60 s on Linux), so a late duplicate segment of the "
	    "closed connection, or the peer's retransmitted FIN when the last ACK was lost, is still "
	    "recognised",
	    "60 s equals Linux's own TCP TIME_WAIT; a peer with a longer MSL that retransmits its FIN after "
	    "60 s sees it dropped as INVALID and lingers in LAST_ACK until it gives up",
	    "TIME_WAIT entries are closed connections: short connections to a local service (ports "
	    "80/443) are the classic case for notrack",
	},
    [ADV_TCP_CLOSE_WAIT] =
	{
	    "nf_conntrack_tcp_timeout_close_wait",
	    60,
	    60,
	    "60 s for the local application to close its side after the peer closed",
	    "nothing is changed",
	    "many CLOSE_WAIT entries mean an application that does not close its sockets; fix the "
	    "application, the timeout is already short",
	},
    [ADV_TCP_FIN_WAIT] =
	{
	    "nf_conntrack_tcp_timeout_fin_wait",
	    120,
	    60,
	    "120 s = 2 x MSL for the peer's FIN after ours",
	    "60 s equals Linux's tcp_fin_timeout; a peer that sends its FIN later sees it dropped as "
	    "INVALID",
	    NULL,
	},
    [ADV_TCP_SYN_SENT] =
	{
	    "nf_conntrack_tcp_timeout_syn_sent",
	    120,
	    60,
	    "120 s covers every SYN retry of one connect(): with tcp_syn_retries = 6 Linux retries after "
	    "1, 3, 7, 15, 31 and 63 s and gives up after 127 s",
	    "a connection attempt still retrying after 60 s gets a new entry; under NAT its later retries "
	    "may leave with another source port",
	    "many SYN_SENT entries mean connections to unreachable destinations, or a scan from this host",
	},
    [ADV_TCP_SYN_RECV] =
	{
	    "nf_conntrack_tcp_timeout_syn_recv",
	    60,
	    60,
	    "60 s for the final ACK of the handshake",
	    "nothing is changed",
	    "many SYN_RECV entries mean a SYN flood or lost handshakes: enable SYN cookies and notrack "
	    "the service's port, so a flood costs no entries at all",
	},
    [ADV_UDP] =
	{
	    "nf_conntrack_udp_timeout",
	    30,
	    10,
	    "30 s for a reply, or for the next packet of a flow that is not yet a stream, to arrive: "
	    "enough for DNS retries (5 s each) and slow request/response protocols",
	    "a reply or next packet more than 10 s later creates a new entry: under NAT it cannot be "
	    "translated back, and a filter that accepts only ct state established drops it",
	    "request/response UDP such as DNS is the best case for notrack",
	},
    [ADV_UDP_STREAM] =
	{
	    "nf_conntrack_udp_timeout_stream",
	    120,
	    60,
	    "120 s for UDP flows that have seen traffic both ways (VPNs, QUIC, RTP) to pause",
	    "a NATed UDP stream that idles for more than 60 s (a VPN without keep-alive, a paused call) "
	    "loses its mapping and must be re-established by the endpoints",
	    NULL,
	},
};

const char *advise_timeout_sysctl(enum advise_timeout t)
{
	return timeout_rules[t].sysctl;
}

uint64_t advise_timeout_default(enum advise_timeout t)
{
	return timeout_rules[t].kernel_default;
}

size_t advise_timeouts(const struct advise_mix *mix, const uint64_t current[ADV_TIMEOUTS],
		       struct advise_timeout_item out[ADV_TIMEOUTS])
{
	size_t n = 0;

	if (!mix->total)
		return 0;
	for (int t = 0; t < ADV_TIMEOUTS; t++) {
		const struct timeout_rule *rule = &timeout_rules[t];
		uint64_t entries = mix->entries[t];
		struct advise_timeout_item *it;

		/* integer tests, so the thresholds are exact */
		if (entries * 100 < mix->total * ADVISE_TIMEOUT_MENTION_PERCENT)
			continue;
		it = &out[n++];
		memset(it, 0, sizeof(*it));
		it->which = (enum advise_timeout)t;
		it->current = current[t];
		it->recommended = current[t];
		it->share_percent = 100.0 * (double)entries / (double)mix->total;
		it->why_default = rule->why_default;
		it->risk = rule->risk;
		it->note = rule->note;
		if (mix->pressure && entries * 100 >= mix->total * ADVISE_TIMEOUT_SHARE_PERCENT &&
		    current[t] > rule->recommended) {
			it->recommended = rule->recommended;
			it->change = true;
		}
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* rendering                                                            */

void advise_format_bytes(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, size, "%" PRIu64 " B", bytes);
		return;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, units[u]);
}

int advise_render_hashsize(uint64_t buckets, const char *prefix, struct strbuf *out)
{
	strbuf_printf(out,
		      "%snow, without a reboot:   echo %" PRIu64 " > /sys/module/nf_conntrack/parameters/hashsize\n",
		      prefix, buckets);
	strbuf_printf(out,
		      "%sat boot, modular kernel: echo 'options nf_conntrack hashsize=%" PRIu64
		      "' > /etc/modprobe.d/nf_conntrack.conf\n",
		      prefix, buckets);
	strbuf_printf(out,
		      "%sat boot, built-in:       add nf_conntrack.hashsize=%" PRIu64 " to the kernel command line\n",
		      prefix, buckets);
	return out->oom ? -ENOMEM : 0;
}

#define COMMENT_WIDTH 96

/* Writes text as "# " comment lines, wrapped at word boundaries. */
static void put_comment(struct strbuf *out, const char *text)
{
	while (*text) {
		size_t len = strlen(text), cut = len;
		if (len > COMMENT_WIDTH - 2) {
			cut = COMMENT_WIDTH - 2;
			while (cut > 0 && text[cut] != ' ')
				cut--;
			if (!cut)
				cut = COMMENT_WIDTH - 2; /* one long word: cut it */
		}
		strbuf_puts(out, "# ");
		strbuf_putn(out, text, cut);
		strbuf_putc(out, '\n');
		text += cut;
		while (*text == ' ')
			text++;
	}
}

int advise_render_sysctl(const struct advise_sizes *s, uint64_t objsize, const struct advise_timeout_item *items,
			 size_t n, const char *when, struct strbuf *out)
{
	char mem[32];

	advise_format_bytes(s->memory, mem, sizeof(mem));
	strbuf_printf(out, "# %s\n", ADVISE_SYSCTL_FILE);
	strbuf_printf(out, "# Written by notrackctl advise on %s.\n", when);
	strbuf_puts(out, "# Load with: sysctl --system.  The net.netfilter keys exist only once nf_conntrack is\n"
			 "# loaded: on a modular kernel, list nf_conntrack in /etc/modules-load.d/ first.\n\n");
	if (s->capped)
		strbuf_printf(out,
			      "# %" PRIu64 " entries: the most that fits in 1/16 of RAM.  Twice the demand of %" PRIu64
			      " would be %" PRIu64 ": notrack traffic rather than grow the table further.\n",
			      s->max, s->demand, s->target);
	else if (s->max == s->max_now)
		strbuf_printf(out, "# %" PRIu64 " entries, as now: room for twice the demand of %" PRIu64 ".\n", s->max,
			      s->demand);
	else
		strbuf_printf(
		    out, "# %" PRIu64 " entries: twice the demand of %" PRIu64 "%s, rounded up to a power of two.\n",
		    s->max, s->demand, s->table_was_full ? " (the table overflowed: at least the old max)" : "");
	strbuf_printf(out, "# A full table costs %s (%" PRIu64 " x %" PRIu64 " B + %" PRIu64 " x %d B).\n", mem, s->max,
		      objsize, s->buckets, ADVISE_BUCKET_SIZE);
	strbuf_printf(out, "net.netfilter.nf_conntrack_max = %" PRIu64 "\n", s->max);
	strbuf_puts(out, "# One hash bucket per entry, the kernel's own ratio.  Writable only in the initial\n"
			 "# network namespace; or set it as hashsize:\n");
	advise_render_hashsize(s->buckets, "#   ", out);
	strbuf_printf(out, "net.netfilter.nf_conntrack_buckets = %" PRIu64 "\n", s->buckets);
	for (size_t i = 0; i < n; i++) {
		const struct advise_timeout_item *it = &items[i];
		if (!it->change)
			continue;
		char text[1024];
		snprintf(text, sizeof(text), "%.0f%% of entries; default %" PRIu64 " s: %s.", it->share_percent,
			 advise_timeout_default(it->which), it->why_default);
		strbuf_putc(out, '\n');
		put_comment(out, text);
		snprintf(text, sizeof(text), "Risk: %s.", it->risk);
		put_comment(out, text);
		strbuf_printf(out, "net.netfilter.%s = %" PRIu64 "\n", advise_timeout_sysctl(it->which),
			      it->recommended);
	}
	return out->oom ? -ENOMEM : 0;
}

static void policy_value(struct ct_value *v, const char *sysctl, uint64_t value)
{
	const char *prefix = "nf_conntrack_";

	if (!strncmp(sysctl, prefix, strlen(prefix)))
		sysctl += strlen(prefix);
	memset(v, 0, sizeof(*v));
	snprintf(v->key, sizeof(v->key), "%s", sysctl);
	snprintf(v->path, sizeof(v->path), "$.conntrack.%s", v->key);
	v->value = (long long)value;
}

size_t advise_policy_values(const struct advise_sizes *s, const struct advise_timeout_item *items, size_t n,
			    struct ct_value out[ADVISE_POLICY_VALUES])
{
	size_t k = 0;

	/* pinned even when unchanged, as in the sysctl.d file: a boot with
	 * another default must not shrink the table under its demand */
	policy_value(&out[k++], "nf_conntrack_max", s->max);
	policy_value(&out[k++], "nf_conntrack_buckets", s->buckets);
	for (size_t i = 0; i < n && k < ADVISE_POLICY_VALUES; i++)
		if (items[i].change)
			policy_value(&out[k++], advise_timeout_sysctl(items[i].which), items[i].recommended);
	return k;
}
