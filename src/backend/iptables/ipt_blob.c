#include "backend/iptables/ipt_blob.h"

#include <errno.h>
#include <netinet/in.h> /* before the kernel's headers, which defer to it */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include "policy/policy.h"

/* the kernel's get-info answers are the same struct for both families */
_Static_assert(sizeof(struct ipt_getinfo) == sizeof(struct ip6t_getinfo), "getinfo layouts differ");
_Static_assert(offsetof(struct ipt_getinfo, size) == offsetof(struct ip6t_getinfo, size), "getinfo layouts differ");

#define FETCH_ATTEMPTS 3 /* the table replaced between the two calls: ask again */

static const char *const hook_names[NF_INET_NUMHOOKS] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};

struct layout {
	const unsigned char *entries;
	size_t size;
	unsigned valid_hooks;
	unsigned hook_entry[NF_INET_NUMHOOKS], underflow[NF_INET_NUMHOOKS];
};

static void entry_offsets(unsigned family, const void *e, unsigned *target, unsigned *next)
{
	if (family == FAMILY_IPV4) {
		const struct ipt_entry *x = e;
		*target = x->target_offset;
		*next = x->next_offset;
	} else {
		const struct ip6t_entry *x = e;
		*target = x->target_offset;
		*next = x->next_offset;
	}
}

/* The two getsockopt() calls: the table's shape, then its entries. */
static int fetch(struct ipt_blob *b, const char *table, struct layout *lo)
{
	bool v4 = b->family == FAMILY_IPV4;
	int level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
	size_t head = v4 ? offsetof(struct ipt_get_entries, entrytable) : offsetof(struct ip6t_get_entries, entrytable);
	int fd = socket(v4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	int r = -EAGAIN;

	if (fd < 0)
		return -errno;
	for (int attempt = 0; attempt < FETCH_ATTEMPTS && r == -EAGAIN; attempt++) {
		struct ipt_getinfo info = {0};
		socklen_t len = sizeof(info);
		snprintf(info.name, sizeof(info.name), "%s", table);
		if (getsockopt(fd, level, v4 ? IPT_SO_GET_INFO : IP6T_SO_GET_INFO, &info, &len) < 0) {
			r = -errno;
			break;
		}
		free(b->buf);
		b->buf = calloc(1, head + info.size);
		if (!b->buf) {
			r = -ENOMEM;
			break;
		}
		if (v4) {
			struct ipt_get_entries *g = b->buf;
			snprintf(g->name, sizeof(g->name), "%s", table);
			g->size = info.size;
		} else {
			struct ip6t_get_entries *g = b->buf;
			snprintf(g->name, sizeof(g->name), "%s", table);
			g->size = info.size;
		}
		len = (socklen_t)(head + info.size);
		/* EAGAIN: the size no longer matches, someone replaced the table */
		if (getsockopt(fd, level, v4 ? IPT_SO_GET_ENTRIES : IP6T_SO_GET_ENTRIES, b->buf, &len) < 0) {
			r = -errno;
			continue;
		}
		lo->entries = (const unsigned char *)b->buf + head;
		lo->size = info.size;
		lo->valid_hooks = info.valid_hooks;
		memcpy(lo->hook_entry, info.hook_entry, sizeof(lo->hook_entry));
		memcpy(lo->underflow, info.underflow, sizeof(lo->underflow));
		r = 0;
	}
	close(fd);
	return r;
}

static const char *verdict_label(int v)
{
	switch (v) {
	case -NF_ACCEPT - 1: return "ACCEPT";
	case -NF_DROP - 1: return "DROP";
	case -NF_QUEUE - 1: return "QUEUE";
	case XT_RETURN: return "RETURN";
	default: return NULL;
	}
}

static int hook_at(const struct layout *lo, size_t off)
{
	for (int h = 0; h < NF_INET_NUMHOOKS; h++)
		if ((lo->valid_hooks & (1u << h)) && lo->hook_entry[h] == off)
			return h;
	return -1;
}

static const struct xt_entry_target *entry_target(unsigned family, const struct layout *lo, size_t off, unsigned *next)
{
	size_t hdr = family == FAMILY_IPV4 ? sizeof(struct ipt_entry) : sizeof(struct ip6t_entry);
	unsigned to;

	if (off + hdr > lo->size)
		return NULL;
	entry_offsets(family, lo->entries + off, &to, next);
	if (to < hdr || *next < to + sizeof(struct xt_entry_target) || off + *next > lo->size)
		return NULL;
	/* x_tables checked all of this when the table was loaded; checked
	 * again because every later read (verdicts, chain names) trusts it */
	const struct xt_entry_target *t = (const struct xt_entry_target *)(lo->entries + off + to);
	size_t size = t->u.target_size;
	if (size < sizeof(*t) || to + size > *next || !memchr(t->u.user.name, 0, sizeof(t->u.user.name)))
		return NULL;
	if (!strcmp(t->u.user.name, XT_STANDARD_TARGET) && size < sizeof(struct xt_standard_target))
		return NULL;
	if (!strcmp(t->u.user.name, XT_ERROR_TARGET) &&
	    (size < sizeof(struct xt_error_target) ||
	     !memchr(((const struct xt_error_target *)t)->errorname, 0, XT_FUNCTION_MAXNAMELEN)))
		return NULL;
	return t;
}

static bool is_error(const struct xt_entry_target *t)
{
	return !strcmp(t->u.user.name, XT_ERROR_TARGET);
}

static int standard_verdict(const struct xt_entry_target *t)
{
	return ((const struct xt_standard_target *)t)->verdict;
}

static void *grow(void *v, size_t n, size_t size)
{
	/* doubles when n reaches a power of two (from 64) */
	if (n && (n < 64 || (n & (n - 1))))
		return v;
	return realloc(v, (n < 64 ? 64 : n * 2) * size);
}

static struct ipt_blob_chain *add_chain(struct ipt_blob *b, const char *name, bool builtin, size_t body)
{
	struct ipt_blob_chain *c = grow(b->chains, b->n_chains, sizeof(*c));

	if (!c)
		return NULL;
	b->chains = c;
	c = &c[b->n_chains++];
	*c = (struct ipt_blob_chain){.name = name, .builtin = builtin, .first = b->n_rules, .body = body};
	return c;
}

/* The user chain a jump to this offset enters (chains are in offset order). */
static const struct ipt_blob_chain *chain_at(const struct ipt_blob *b, size_t body)
{
	for (size_t lo = 0, hi = b->n_chains; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->chains[mid].body == body && !b->chains[mid].builtin)
			return &b->chains[mid];
		if (b->chains[mid].body < body || (b->chains[mid].body == body && b->chains[mid].builtin))
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Cuts the blob into chains and rules; jumps[i] is rule i's jump offset
 * (SIZE_MAX: none), resolved once every chain is known. */
static int cut(struct ipt_blob *b, const struct layout *lo, size_t **jumps)
{
	struct ipt_blob_chain *cur = NULL;
	int hook = -1;
	unsigned next;

	for (size_t off = 0; off < lo->size; off += next) {
		const struct xt_entry_target *t = entry_target(b->family, lo, off, &next);
		int h = hook_at(lo, off);
		if (!t)
			return -EPROTO;
		/* a chain starts only where the one before it ended (its
		 * underflow, or a user chain's foot before the next head) */
		if ((h >= 0 || is_error(t)) && cur)
			return -EPROTO;
		if (h >= 0) {
			if (!(cur = add_chain(b, hook_names[h], true, off)))
				return -ENOMEM;
			hook = h;
		}
		if (is_error(t)) {
			if (off + next == lo->size)
				break; /* the table's end */
			if (!(cur = add_chain(b, (const char *)t->data, false, off + next)))
				return -ENOMEM;
			hook = -1;
			continue;
		}
		if (!cur)
			return -EPROTO;
		bool std = !strcmp(t->u.user.name, XT_STANDARD_TARGET);
		if (hook >= 0 && off == lo->underflow[hook]) {
			cur->policy = std ? verdict_label(standard_verdict(t)) : NULL;
			cur->n = b->n_rules - cur->first;
			cur = NULL;
			continue;
		}
		unsigned after;
		const struct xt_entry_target *nt =
		    off + next < lo->size ? entry_target(b->family, lo, off + next, &after) : NULL;
		if (hook < 0 && nt && is_error(nt)) { /* a user chain's foot */
			cur->n = b->n_rules - cur->first;
			cur = NULL;
			continue;
		}
		struct ipt_blob_rule *r = grow(b->rules, b->n_rules, sizeof(*r));
		size_t *j = grow(*jumps, b->n_rules, sizeof(*j));
		if (r)
			b->rules = r;
		if (j)
			*jumps = j;
		if (!r || !j)
			return -ENOMEM;
		int v = std ? standard_verdict(t) : 0;
		j[b->n_rules] = std && v >= 0 && (size_t)v != off + next ? (size_t)v : SIZE_MAX;
		r[b->n_rules++] = (struct ipt_blob_rule){.e = lo->entries + off,
							 .jump = -1,
							 .label = !std				? t->u.user.name
								  : v >= 0 || !verdict_label(v) ? ""
												: verdict_label(v)};
	}
	return cur ? -EPROTO : 0;
}

int ipt_blob_read(struct ipt_blob *b, unsigned family, const char *table)
{
	struct layout lo = {0};
	size_t *jumps = NULL;
	int r;

	memset(b, 0, sizeof(*b));
	b->family = family;
	r = fetch(b, table, &lo);
	if (r == 0)
		r = cut(b, &lo, &jumps);
	for (size_t i = 0; r == 0 && i < b->n_rules; i++) {
		if (jumps[i] == SIZE_MAX)
			continue;
		const struct ipt_blob_chain *c = chain_at(b, jumps[i]);
		if (!c) {
			r = -EPROTO;
		} else {
			b->rules[i].label = c->name;
			b->rules[i].jump = c - b->chains;
		}
	}
	free(jumps);
	if (r < 0)
		ipt_blob_free(b);
	return r;
}

int ipt_blob_chain_order(const struct ipt_blob *b, size_t **order)
{
	size_t *v = malloc((b->n_chains + 1) * sizeof(*v)), n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t c = 0; c < b->n_chains; c++) {
		const struct ipt_blob_chain *x = &b->chains[c];
		size_t at = n;
		/* libiptc's __iptcc_p_add_chain(): a built-in chain, or a user
		 * chain after a built-in one or after a smaller name, goes last;
		 * any other before the first user chain whose name is not smaller */
		if (!x->builtin && n && !b->chains[v[n - 1]].builtin && strcmp(x->name, b->chains[v[n - 1]].name) <= 0)
			for (at = 0; at < n; at++)
				if (!b->chains[v[at]].builtin && strcmp(x->name, b->chains[v[at]].name) <= 0)
					break;
		memmove(&v[at + 1], &v[at], (n - at) * sizeof(*v));
		v[at] = c;
		n++;
	}
	*order = v;
	return 0;
}

const struct ipt_blob_chain *ipt_blob_find_chain(const struct ipt_blob *b, const char *name)
{
	for (size_t c = 0; c < b->n_chains; c++)
		if (!strcmp(b->chains[c].name, name))
			return &b->chains[c];
	return NULL;
}

void ipt_blob_free(struct ipt_blob *b)
{
	free(b->buf);
	free(b->names);
	free(b->chains);
	free(b->rules);
	memset(b, 0, sizeof(*b));
}

/* Moves one rule's bytes down to `to` (never above where they are), leaving
 * out the matches `drop` names; returns its new size.  Every match is judged
 * before a byte moves: the judge may read the whole entry. */
static size_t compact_rule(unsigned family, unsigned char *to, const unsigned char *e, ipt_blob_drop_fn *drop,
			   void *ctx)
{
	size_t hdr = family == FAMILY_IPV4 ? sizeof(struct ipt_entry) : sizeof(struct ip6t_entry);
	/* a match is at least 32 bytes of an entry of at most 64 KiB */
	uint8_t gone[65536 / sizeof(struct xt_entry_match) / 8] = {0};
	unsigned target, next, w, k = 0;

	entry_offsets(family, e, &target, &next);
	for (unsigned off = (unsigned)hdr; drop && off + sizeof(struct xt_entry_match) <= target; k++) {
		const struct xt_entry_match *m = (const void *)(e + off);
		if (m->u.match_size < sizeof(*m) || off + m->u.match_size > target)
			break; /* malformed: the rest is kept as it is, as the readers see it */
		if (drop(family, e, m, ctx))
			gone[k / 8] |= (uint8_t)(1u << (k % 8));
		off += m->u.match_size;
	}
	memmove(to, e, hdr);
	w = (unsigned)hdr;
	k = 0;
	for (unsigned off = (unsigned)hdr; off < target; k++) {
		const struct xt_entry_match *m = (const void *)(e + off);
		unsigned size = target - off;
		if (off + sizeof(*m) <= target && m->u.match_size >= sizeof(*m) && off + m->u.match_size <= target)
			size = m->u.match_size;
		if (!(gone[k / 8] & (1u << (k % 8)))) {
			memmove(to + w, e + off, size);
			w += size;
		}
		off += size;
	}
	memmove(to + w, e + target, next - target);
	if (family == FAMILY_IPV4) {
		struct ipt_entry *x = (void *)to;
		x->target_offset = (uint16_t)w;
		x->next_offset = (uint16_t)(w + next - target);
	} else {
		struct ip6t_entry *x = (void *)to;
		x->target_offset = (uint16_t)w;
		x->next_offset = (uint16_t)(w + next - target);
	}
	return w + next - target;
}

int ipt_blob_compact(struct ipt_blob *b, ipt_blob_drop_fn *drop, void *ctx)
{
	size_t names = 0, w = 0, *at;
	unsigned char *buf = b->buf, *nb;
	char *pool;

	if (!buf || b->names)
		return 0;
	for (size_t i = 0; i < b->n_chains; i++)
		if (!b->chains[i].builtin)
			names += strlen(b->chains[i].name) + 1;
	pool = malloc(names + 1);
	at = malloc((b->n_rules + 1) * sizeof(*at));
	if (!pool || !at) {
		free(pool);
		free(at);
		return -ENOMEM;
	}
	/* the names first: they live in the chains' head entries, which go */
	names = 0;
	for (size_t i = 0; i < b->n_chains; i++) {
		if (b->chains[i].builtin)
			continue;
		size_t len = strlen(b->chains[i].name) + 1;
		memcpy(pool + names, b->chains[i].name, len);
		b->chains[i].name = pool + names;
		names += len;
	}
	/* the rules are in the blob's order, so each moves down, never onto
	 * bytes not yet read */
	for (size_t i = 0; i < b->n_rules; i++) {
		const unsigned char *e = b->rules[i].e;
		unsigned target, next;
		entry_offsets(b->family, e, &target, &next);
		/* a target's own name (an extension's): found again below */
		if (b->rules[i].label == (const char *)((const struct xt_entry_target *)(e + target))->u.user.name)
			b->rules[i].label = NULL;
		else if (b->rules[i].jump >= 0)
			b->rules[i].label = b->chains[b->rules[i].jump].name;
		at[i] = w;
		w += compact_rule(b->family, buf + w, e, drop, ctx);
	}
	if (!w) {
		free(buf);
		buf = NULL;
	} else if ((nb = realloc(buf, w))) {
		buf = nb; /* a failed shrink leaves the block as it was */
	}
	b->buf = buf;
	b->names = pool;
	for (size_t i = 0; i < b->n_rules; i++) {
		unsigned target, next;
		b->rules[i].e = buf + at[i];
		entry_offsets(b->family, b->rules[i].e, &target, &next);
		if (!b->rules[i].label)
			b->rules[i].label = ((const struct xt_entry_target *)(buf + at[i] + target))->u.user.name;
	}
	free(at);
	return 0;
}

int ipt_blob_keep_chains(struct ipt_blob *b)
{
	for (size_t i = 0; i < b->n_chains; i++)
		b->chains[i].first = b->chains[i].n = 0;
	free(b->rules);
	b->rules = NULL;
	b->n_rules = 0;
	if (b->names) { /* compacted before: the names are safe already */
		free(b->buf);
		b->buf = NULL;
		return 0;
	}
	return ipt_blob_compact(b, NULL, NULL);
}
