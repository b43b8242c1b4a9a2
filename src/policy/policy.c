#include "policy/policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/jsonpos.h"
#include "policy/ct_keys.h"

/* ------------------------------------------------------------------ */
/* reading the file                                                     */

static int read_bounded(int fd, char **out, size_t *out_len, size_t limit, size_t *seen)
{
	size_t cap = 64 * 1024, len = 0;
	char *buf = malloc(cap + 1);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap > limit) {
				/* we already hold limit+1 bytes: the file is too big */
				free(buf);
				*seen = len;
				return -EFBIG;
			}
			size_t ncap = cap * 2;
			char *nbuf = realloc(buf, ncap + 1);
			if (!nbuf) {
				free(buf);
				return -ENOMEM;
			}
			buf = nbuf;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > limit) {
			free(buf);
			*seen = len;
			return -EFBIG;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

int policy_source_read(struct policy_source *src, const char *file, struct diag *d)
{
	bool is_stdin = strcmp(file, "-") == 0;
	struct stat st;
	size_t seen = 0;
	int fd, r;

	memset(src, 0, sizeof(*src));
	diag_set_file(d, file);
	src->file = strdup(file);
	if (!src->file)
		return diag_fail(d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	fd = is_stdin ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return diag_fail(d, DIAG_POLICY, errno, NULL, "cannot open policy: %s", strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = diag_fail(d, DIAG_POLICY, errno, NULL, "cannot stat policy: %s", strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = diag_fail(d, DIAG_POLICY, EISDIR, NULL, "is a directory, not a policy file");
		goto out;
	}
	if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > POLICY_MAX_BYTES) {
		r = diag_fail(d, DIAG_POLICY, EFBIG, NULL, "file is %jd bytes; a policy may be at most %u bytes",
			      (intmax_t)st.st_size, POLICY_MAX_BYTES);
		goto out;
	}
	r = read_bounded(fd, &src->text, &src->len, POLICY_MAX_BYTES, &seen);
	if (r == -EFBIG)
		r = diag_fail(d, DIAG_POLICY, EFBIG, NULL, "more than %u bytes; a policy may be at most %u bytes",
			      POLICY_MAX_BYTES, POLICY_MAX_BYTES);
	else if (r < 0)
		r = diag_fail(d, DIAG_POLICY, -r, NULL, "cannot read policy: %s", strerror(-r));
out:
	if (!is_stdin)
		close(fd);
	return r;
}

void policy_source_free(struct policy_source *src)
{
	free(src->file);
	free(src->text);
	memset(src, 0, sizeof(*src));
}

/* ------------------------------------------------------------------ */
/* names                                                                */

const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_SCTP: return "sctp";
	case IPPROTO_DCCP: return "dccp";
	default: return "any";
	}
}

void cidr_format(const struct cidr *c, char *buf, size_t size)
{
	char addr[INET6_ADDRSTRLEN];
	int af = family_to_af(c->family);
	unsigned full = 8 * family_addr_len(c->family);

	inet_ntop(af, c->addr, addr, sizeof(addr));
	if (c->prefix == full)
		snprintf(buf, size, "%s", addr);
	else
		snprintf(buf, size, "%s/%u", addr, c->prefix);
}

/* ------------------------------------------------------------------ */
/* parser context                                                       */

struct parser {
	struct diag *d;
	unsigned families;
};

static const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

/* Messages quote what the admin wrote; a control character in a key or value
 * must neither split the one-line error nor reach the terminal. */
static void scrub_controls(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static int fail(struct parser *p, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct parser *p, const char *path, const char *fmt, ...)
{
	char msg[DIAG_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	scrub_controls(msg);
	return diag_fail(p->d, DIAG_POLICY, EINVAL, path, "%s", msg);
}

static int type_error(struct parser *p, const char *path, const char *want, const json_t *got)
{
	return fail(p, path, "expected %s, got %s", want, json_type_name(got));
}

static void child_key(char *out, size_t size, const char *parent, const char *key)
{
	snprintf(out, size, "%s", parent);
	jsonpos_append_key(out, size, key);
}

static void child_index(char *out, size_t size, const char *parent, size_t i)
{
	snprintf(out, size, "%s", parent);
	jsonpos_append_index(out, size, i);
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[33], cur[33];

	if (la > 32 || lb > 32)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, sizeof(cur));
	}
	return prev[lb];
}

/* Rejects keys not in `allowed` (NULL-terminated): a typo must never silently
 * widen or narrow what is notracked. */
static int check_keys(struct parser *p, const char *path, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		const char *best = NULL;
		size_t best_dist = 3;
		bool ok = false;
		char kp[DIAG_PATH_MAX], list[256] = "";

		for (size_t i = 0; allowed[i]; i++) {
			if (strcmp(key, allowed[i]) == 0) {
				ok = true;
				break;
			}
			size_t dist = edit_distance(key, allowed[i]);
			if (dist < best_dist) {
				best_dist = dist;
				best = allowed[i];
			}
			size_t n = strlen(list);
			snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", allowed[i]);
		}
		if (ok)
			continue;
		child_key(kp, sizeof(kp), path, key);
		if (best)
			return fail(p, kp, "unknown key \"%s\" (did you mean \"%s\"?)", key, best);
		return fail(p, kp, "unknown key \"%s\" (expected one of: %s)", key, list);
	}
	return 0;
}

static int need_object(struct parser *p, const char *path, json_t *v)
{
	return json_is_object(v) ? 0 : type_error(p, path, "an object", v);
}

/* Fetches an array member; absent is fine (returns 0 with *out NULL), empty is not. */
static int get_nonempty_array(struct parser *p, const char *path, json_t *obj, const char *key, json_t **out,
			      const char *empty_hint)
{
	char kp[DIAG_PATH_MAX];
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v)
		return 0;
	child_key(kp, sizeof(kp), path, key);
	if (!json_is_array(v))
		return type_error(p, kp, "an array", v);
	if (json_array_size(v) == 0)
		return fail(p, kp, "empty list%s%s", empty_hint ? "; " : "", empty_hint ? empty_hint : "");
	*out = v;
	return 0;
}

/* ------------------------------------------------------------------ */
/* ports                                                                */

static int parse_port_number(struct parser *p, const char *path, const char *s, const char *end, uint16_t *out)
{
	long long v = 0;

	if (s == end)
		return -EINVAL;
	for (const char *c = s; c < end; c++) {
		if (!isdigit((unsigned char)*c))
			return -EINVAL;
		if (v < 100000)
			v = v * 10 + (*c - '0');
	}
	if (v < 1 || v > 65535)
		return fail(p, path, "port %.*s is out of range 1-65535", (int)(end - s), s);
	*out = (uint16_t)v;
	return 0;
}

static int parse_port(struct parser *p, const char *path, json_t *v, struct port_range *out)
{
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);
		if (n < 1 || n > 65535)
			return fail(p, path, "port %lld is out of range 1-65535", (long long)n);
		out->first = out->last = (uint16_t)n;
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);
		const char *dash = memchr(s, '-', len);
		int r;

		if (len > 16)
			return fail(p, path, "port \"%.16s...\" is not a port or a range like \"8000-8099\"", s);
		if (!dash) {
			r = parse_port_number(p, path, s, s + len, &out->first);
			if (r == -EINVAL && p->d->kind == DIAG_NONE)
				return fail(p, path, "port \"%s\" is not a port or a range like \"8000-8099\"", s);
			out->last = out->first;
			return r;
		}
		r = parse_port_number(p, path, s, dash, &out->first);
		if (r == 0)
			r = parse_port_number(p, path, dash + 1, s + len, &out->last);
		if (r == -EINVAL && p->d->kind == DIAG_NONE)
			return fail(p, path, "port \"%s\" is not a port or a range like \"8000-8099\"", s);
		if (r < 0)
			return r;
		if (out->first > out->last)
			return fail(p, path, "port range \"%s\" is reversed; write \"%u-%u\"", s, out->last,
				    out->first);
		return 0;
	}
	if (json_is_real(v)) {
		double x = json_real_value(v);
		/* 80.0 and 8e1 are whole, but %g would print them as "80" */
		if (x > -1e15 && x < 1e15 && x == (double)(long long)x)
			return fail(p, path, "port %g is written as a real number; write it as an integer", x);
		return fail(p, path, "port %g is not a whole number", x);
	}
	return type_error(p, path, "a port number or a \"first-last\" range string", v);
}

struct indexed_range {
	struct port_range r;
	size_t index;
};

static int cmp_indexed_range(const void *a, const void *b)
{
	const struct indexed_range *x = a, *y = b;

	if (x->r.first != y->r.first)
		return x->r.first < y->r.first ? -1 : 1;
	return x->index < y->index ? -1 : (x->index > y->index);
}

static void format_range(char *buf, size_t size, struct port_range r)
{
	if (r.first == r.last)
		snprintf(buf, size, "%u", r.first);
	else
		snprintf(buf, size, "%u-%u", r.first, r.last);
}

static int parse_ports(struct parser *p, const char *path, json_t *arr, struct selector *sel)
{
	size_t n = json_array_size(arr);
	struct indexed_range *tmp = calloc(n, sizeof(*tmp));
	char ep[DIAG_PATH_MAX];
	int r = 0;

	if (!tmp)
		return diag_fail(p->d, DIAG_SYSTEM, ENOMEM, path, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(arr, i);
		tmp[i].index = i;
		/* the common case without formatting its path: a policy can list
		 * 10,000 ports, and a no-op apply parses them all */
		if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 65535) {
			tmp[i].r.first = tmp[i].r.last = (uint16_t)json_integer_value(v);
			continue;
		}
		child_index(ep, sizeof(ep), path, i);
		r = parse_port(p, ep, v, &tmp[i].r);
		if (r < 0)
			goto out;
	}
	/* a list written in order (what tools generate) is already in the
	 * order qsort gives: ascending, no two with the same first port */
	size_t sorted = 1;
	while (sorted < n && tmp[sorted].r.first > tmp[sorted - 1].r.last)
		sorted++;
	if (sorted < n)
		qsort(tmp, n, sizeof(*tmp), cmp_indexed_range);
	for (size_t i = 1; i < n; i++) {
		if (tmp[i].r.first > tmp[i - 1].r.last)
			continue;
		/* report at whichever of the two the admin wrote later */
		struct indexed_range *later = tmp[i].index > tmp[i - 1].index ? &tmp[i] : &tmp[i - 1];
		struct indexed_range *earlier = later == &tmp[i] ? &tmp[i - 1] : &tmp[i];
		char a[16], b[16];
		format_range(a, sizeof(a), later->r);
		format_range(b, sizeof(b), earlier->r);
		child_index(ep, sizeof(ep), path, later->index);
		if (later->r.first == earlier->r.first && later->r.last == earlier->r.last)
			r = fail(p, ep, "duplicate port %s (already at [%zu])", a, earlier->index);
		else
			r = fail(p, ep, "port %s overlaps %s at [%zu]", a, b, earlier->index);
		goto out;
	}
	sel->ports = malloc(n * sizeof(*sel->ports));
	if (!sel->ports) {
		r = diag_fail(p->d, DIAG_SYSTEM, ENOMEM, path, "out of memory");
		goto out;
	}
	/* Adjacent ranges (80, 81, 82) are merged: the kernel sees one interval. */
	sel->n_ports = 0;
	for (size_t i = 0; i < n; i++) {
		if (sel->n_ports && sel->ports[sel->n_ports - 1].last + 1 == tmp[i].r.first)
			sel->ports[sel->n_ports - 1].last = tmp[i].r.last;
		else
			sel->ports[sel->n_ports++] = tmp[i].r;
	}
out:
	free(tmp);
	return r;
}

/* ------------------------------------------------------------------ */
/* addresses                                                            */

static bool prefix_contains(const struct cidr *outer, const struct cidr *inner)
{
	if (outer->family != inner->family || outer->prefix > inner->prefix)
		return false;
	for (unsigned bit = 0; bit < outer->prefix; bit++) {
		uint8_t mask = (uint8_t)(0x80 >> (bit % 8));
		if ((outer->addr[bit / 8] & mask) != (inner->addr[bit / 8] & mask))
			return false;
	}
	return true;
}

static int parse_cidr(struct parser *p, const char *path, json_t *v, const char *what, struct cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	const char *s;
	unsigned full;

	if (!json_is_string(v))
		return type_error(p, path, "an address string such as \"10.0.0.0/8\" or \"fd00::/8\"", v);
	s = json_string_value(v);
	if (json_string_length(v) >= sizeof(buf) || strlen(s) != json_string_length(v))
		return fail(p, path, "\"%.40s\" is not an IPv4 or IPv6 address or prefix", s);
	memset(out, 0, sizeof(*out));
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = FAMILY_IPV4;
		full = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = FAMILY_IPV6;
		full = 128;
	} else {
		return fail(p, path, "\"%s\" is not an IPv4 or IPv6 address or prefix", s);
	}
	out->prefix = (uint8_t)full;
	if (slash) {
		const char *d = slash + 1;
		unsigned long pl = 0;
		if (!*d || strlen(d) > 3)
			return fail(p, path, "\"%s\" has a bad prefix length", s);
		for (const char *c = d; *c; c++) {
			if (!isdigit((unsigned char)*c))
				return fail(p, path, "\"%s\" has a bad prefix length", s);
			pl = pl * 10 + (unsigned long)(*c - '0');
		}
		if (pl > full)
			return fail(p, path, "prefix length /%lu in \"%s\" is over %u", pl, s, full);
		out->prefix = (uint8_t)pl;
	}
	for (unsigned bit = out->prefix; bit < full; bit++) {
		if (out->addr[bit / 8] & (0x80 >> (bit % 8))) {
			struct cidr net = *out;
			char fixed[INET6_ADDRSTRLEN + 8];
			for (unsigned b = out->prefix; b < full; b++)
				net.addr[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
			cidr_format(&net, fixed, sizeof(fixed));
			if (!strchr(fixed, '/'))
				snprintf(fixed + strlen(fixed), sizeof(fixed) - strlen(fixed), "/%u", net.prefix);
			return fail(p, path, "%s \"%s\" has host bits set; did you mean \"%s\"?", what, s, fixed);
		}
	}
	if (!(p->families & out->family))
		return fail(p, path, "%s \"%s\" is %s, but families is [\"%s\"]", what, s, family_label(out->family),
			    family_name(p->families));
	return 0;
}

struct indexed_cidr {
	struct cidr c;
	size_t index;
};

static int cmp_indexed_cidr(const void *a, const void *b)
{
	const struct indexed_cidr *x = a, *y = b;
	int r;

	if (x->c.family != y->c.family)
		return x->c.family < y->c.family ? -1 : 1;
	r = memcmp(x->c.addr, y->c.addr, sizeof(x->c.addr));
	if (r)
		return r;
	if (x->c.prefix != y->c.prefix)
		return x->c.prefix < y->c.prefix ? -1 : 1;
	return x->index < y->index ? -1 : (x->index > y->index);
}

/* Sorted by family then address; overlapping prefixes are refused because an
 * nftables interval set cannot hold them and they always mean a mistake. */
static int parse_cidrs(struct parser *p, const char *path, json_t *arr, const char *what, struct cidr **out,
		       size_t *n_out)
{
	size_t n = json_array_size(arr);
	struct indexed_cidr *tmp = calloc(n, sizeof(*tmp));
	char ep[DIAG_PATH_MAX];
	int r = 0;

	if (!tmp)
		return diag_fail(p->d, DIAG_SYSTEM, ENOMEM, path, "out of memory");
	for (size_t i = 0; i < n; i++) {
		child_index(ep, sizeof(ep), path, i);
		r = parse_cidr(p, ep, json_array_get(arr, i), what, &tmp[i].c);
		if (r < 0)
			goto out;
		tmp[i].index = i;
	}
	qsort(tmp, n, sizeof(*tmp), cmp_indexed_cidr);
	/* after sorting, a prefix that contains others directly precedes them */
	for (size_t i = 1; i < n; i++) {
		for (size_t j = i; j-- > 0;) {
			if (tmp[j].c.family != tmp[i].c.family)
				break;
			if (!prefix_contains(&tmp[j].c, &tmp[i].c))
				continue;
			struct indexed_cidr *later = tmp[i].index > tmp[j].index ? &tmp[i] : &tmp[j];
			struct indexed_cidr *earlier = later == &tmp[i] ? &tmp[j] : &tmp[i];
			char a[64], b[64];
			cidr_format(&later->c, a, sizeof(a));
			cidr_format(&earlier->c, b, sizeof(b));
			child_index(ep, sizeof(ep), path, later->index);
			if (later->c.prefix == earlier->c.prefix)
				r = fail(p, ep, "duplicate %s %s (already at [%zu])", what, a, earlier->index);
			else
				r = fail(p, ep, "%s %s overlaps %s at [%zu]", what, a, b, earlier->index);
			goto out;
		}
	}
	*out = malloc(n * sizeof(**out));
	if (!*out) {
		r = diag_fail(p->d, DIAG_SYSTEM, ENOMEM, path, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		(*out)[i] = tmp[i].c;
	*n_out = n;
out:
	free(tmp);
	return r;
}

/* ------------------------------------------------------------------ */
/* interfaces                                                           */

static int parse_ifname(struct parser *p, const char *path, json_t *v, struct ifname *out)
{
	const char *s;
	size_t len;

	if (!json_is_string(v))
		return type_error(p, path, "an interface name string", v);
	s = json_string_value(v);
	len = json_string_length(v);
	if (len == 0)
		return fail(p, path, "interface name is empty");
	if (len > POLICY_IFNAME_MAX)
		return fail(p, path, "interface name \"%.20s%s\" is %zu bytes; Linux allows at most %d", s,
			    len > 20 ? "..." : "", len, POLICY_IFNAME_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '/' || c == ':' || c == '"' || c == '\'' || c == '\\' || c == '`' || isspace(c) || c < 0x20 ||
		    c == 0x7f)
			return fail(p, path,
				    "interface name \"%s\" contains a character Linux or the firewall refuses "
				    "(/, :, quotes, backslash, whitespace or control)",
				    s);
		if (c == '+' && i != len - 1)
			return fail(p, path, "interface name \"%s\": '+' is a wildcard and may only come last", s);
		/* nft reads a trailing '*' in iifname "eth*" as a wildcard while
		 * the kernel compares the name we install byte for byte: one
		 * meaning everywhere, so only '+' says wildcard */
		if (c == '*' && i == len - 1)
			return fail(p, path, "interface name \"%s\": '*' is not a wildcard; write \"%.*s+\"", s, (int)i,
				    s);
		if (c == '*')
			return fail(p, path,
				    "interface name \"%s\": '*' is not a wildcard; a trailing '+' matches every name "
				    "with that prefix",
				    s);
	}
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return fail(p, path, "\"%s\" is not a valid interface name", s);
	if (strcmp(s, "+") == 0)
		return fail(p, path, "interface \"+\" would match every interface; list the interfaces instead");
	memset(out, 0, sizeof(*out));
	out->wildcard = s[len - 1] == '+';
	memcpy(out->name, s, out->wildcard ? len - 1 : len);
	return 0;
}

static bool same_ifname(const struct ifname *x, const struct ifname *y)
{
	return x->wildcard == y->wildcard && !strcmp(x->name, y->name);
}

static int parse_ifnames(struct parser *p, const char *path, json_t *arr, struct ifname **out, size_t *n_out)
{
	size_t n = json_array_size(arr);
	char ep[DIAG_PATH_MAX];

	*out = calloc(n, sizeof(**out));
	if (!*out)
		return diag_fail(p->d, DIAG_SYSTEM, ENOMEM, path, "out of memory");
	*n_out = n;
	for (size_t i = 0; i < n; i++) {
		int r;
		child_index(ep, sizeof(ep), path, i);
		r = parse_ifname(p, ep, json_array_get(arr, i), &(*out)[i]);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++) {
			if (same_ifname(&(*out)[i], &(*out)[j]))
				return fail(p, ep, "duplicate interface \"%s\" (already at [%zu])",
					    json_string_value(json_array_get(arr, i)), j);
		}
	}
	/* not sorted: later stages name interfaces by their index in the file */
	return 0;
}

/* ------------------------------------------------------------------ */
/* selectors                                                            */

static int parse_proto(struct parser *p, const char *path, json_t *v, uint8_t *out)
{
	static const struct {
		const char *name;
		uint8_t proto;
	} protos[] = {
	    {"tcp", IPPROTO_TCP},
	    {"udp", IPPROTO_UDP},
	    {"sctp", IPPROTO_SCTP},
	    {"dccp", IPPROTO_DCCP},
	};

	if (!json_is_string(v))
		return type_error(p, path, "a protocol name string", v);
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (strcmp(json_string_value(v), protos[i].name) == 0) {
			*out = protos[i].proto;
			return 0;
		}
	}
	return fail(p, path, "proto \"%.32s\" is not one of tcp, udp, sctp, dccp", json_string_value(v));
}

static int parse_comment(struct parser *p, const char *path, json_t *obj)
{
	char kp[DIAG_PATH_MAX];
	json_t *v = json_object_get(obj, "comment");

	if (!v)
		return 0;
	child_key(kp, sizeof(kp), path, "comment");
	if (!json_is_string(v))
		return type_error(p, kp, "a string", v);
	if (json_string_length(v) > 256)
		return fail(p, kp, "comment is %zu bytes; at most 256", json_string_length(v));
	return 0;
}

enum selector_kind {
	SELECTOR_SERVICE,
	SELECTOR_UPSTREAM,
	SELECTOR_KEEP,
};

static bool same_ports(const struct selector *a, const struct selector *b)
{
	return a->n_ports == b->n_ports && (!a->n_ports || !memcmp(a->ports, b->ports, a->n_ports * sizeof(*a->ports)));
}

static bool same_cidrs(const struct cidr *a, size_t na, const struct cidr *b, size_t nb)
{
	return na == nb && (!na || !memcmp(a, b, na * sizeof(*a)));
}

/* Interface lists are in file order and free of duplicates: compare as sets. */
static bool same_ifnames(const struct ifname *a, size_t na, const struct ifname *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		bool found = false;
		for (size_t j = 0; j < nb && !found; j++)
			found = same_ifname(&a[i], &b[j]);
		if (!found)
			return false;
	}
	return true;
}

static bool same_selector(const struct selector *a, const struct selector *b)
{
	return a->proto == b->proto && a->role == b->role && same_ports(a, b) &&
	       same_cidrs(a->peers, a->n_peers, b->peers, b->n_peers) &&
	       same_cidrs(a->addresses, a->n_addresses, b->addresses, b->n_addresses) &&
	       same_ifnames(a->interfaces, a->n_interfaces, b->interfaces, b->n_interfaces);
}

/*
 * A keep_tracked entry's "timeouts": conntrack state timeouts, in seconds,
 * for the connections the entry keeps (a ct timeout object of nftables).
 * The kernel holds a timeout policy per protocol, so the entry must name
 * tcp or udp and every key must be one of that protocol's states.
 */
static int parse_timeouts(struct parser *p, const char *path, json_t *obj, struct selector *sel)
{
	struct ct_timeouts *t = &sel->timeouts;
	char kp[DIAG_PATH_MAX];
	const char *key;
	json_t *v;
	int r;

	child_key(kp, sizeof(kp), path, "timeouts");
	r = need_object(p, kp, obj);
	if (r < 0)
		return r;
	r = check_keys(p, kp, obj, ct_timeout_names());
	if (r < 0)
		return r;
	if (!json_object_size(obj))
		return fail(p, kp, "\"timeouts\" is empty; leave it out to keep the global timeouts");
	if (sel->proto && sel->proto != IPPROTO_TCP && sel->proto != IPPROTO_UDP)
		return fail(p, kp, "\"timeouts\" are for tcp or udp entries; this entry's proto is %s",
			    proto_name(sel->proto));
	if (!sel->proto)
		return fail(p, kp,
			    "\"timeouts\" needs \"proto\": \"tcp\" or \"udp\" (a timeout policy is per protocol)");
	snprintf(t->path, sizeof(t->path), "%.*s", (int)sizeof(t->path) - 1, kp);
	t->proto = sel->proto;
	json_object_foreach(obj, key, v)
	{
		const struct ct_timeout_key *k = ct_timeout_key(key);
		char vp[DIAG_PATH_MAX];
		json_int_t n;

		child_key(vp, sizeof(vp), kp, key);
		if (k->proto != sel->proto)
			return fail(p, vp, "\"%s\" is a %s timeout, but this entry's proto is %s", key,
				    proto_name(k->proto), proto_name(sel->proto));
		if (!json_is_integer(v))
			return type_error(p, vp, "an integer number of seconds", v);
		n = json_integer_value(v);
		if (n < CT_TIMEOUT_MIN || n > CT_TIMEOUT_MAX)
			return fail(p, vp, "%lld is out of range for %s: %d to %d (seconds)", (long long)n, key,
				    CT_TIMEOUT_MIN, CT_TIMEOUT_MAX);
		t->value[k->index] = (uint32_t)n;
		t->given |= (uint16_t)(1u << k->index);
	}
	ct_timeouts_fill(t);
	return 0;
}

static int parse_selector(struct parser *p, const char *path, json_t *obj, enum selector_kind kind,
			  struct selector *sel)
{
	static const char *const notrack_keys[] = {"proto",	 "ports",   "peers", "addresses",
						   "interfaces", "comment", NULL};
	static const char *const keep_keys[] = {"reason",     "proto", "ports",	  "peers",    "addresses",
						"interfaces", "role",  "comment", "timeouts", NULL};
	char kp[DIAG_PATH_MAX];
	json_t *v, *arr;
	int r;

	/* entry paths are short ("$.notrack.upstreams[12]"); say so for -Wformat-truncation */
	snprintf(sel->path, sizeof(sel->path), "%.*s", (int)sizeof(sel->path) - 1, path);
	r = need_object(p, path, obj);
	if (r < 0)
		return r;
	r = check_keys(p, path, obj, kind == SELECTOR_KEEP ? keep_keys : notrack_keys);
	if (r < 0)
		return r;
	r = parse_comment(p, path, obj);
	if (r < 0)
		return r;

	if (kind == SELECTOR_KEEP) {
		v = json_object_get(obj, "reason");
		child_key(kp, sizeof(kp), path, "reason");
		if (!v)
			return fail(p, path, "missing required key \"reason\" (\"nat\" or \"state\")");
		if (!json_is_string(v))
			return type_error(p, kp, "\"nat\" or \"state\"", v);
		if (strcmp(json_string_value(v), "nat") == 0)
			sel->reason = KEEP_NAT;
		else if (strcmp(json_string_value(v), "state") == 0)
			sel->reason = KEEP_STATE;
		else
			return fail(p, kp, "reason \"%.32s\" is not \"nat\" or \"state\"", json_string_value(v));
	}

	v = json_object_get(obj, "proto");
	if (v) {
		child_key(kp, sizeof(kp), path, "proto");
		r = parse_proto(p, kp, v, &sel->proto);
		if (r < 0)
			return r;
	} else if (kind != SELECTOR_KEEP) {
		return fail(p, path, "missing required key \"proto\" (tcp, udp, sctp or dccp)");
	}

	r = get_nonempty_array(p, path, obj, "ports", &arr,
			       kind == SELECTOR_KEEP ? "leave \"ports\" out to match any port"
						     : "list at least one port");
	if (r < 0)
		return r;
	if (arr) {
		if (!sel->proto)
			return fail(p, path, "\"ports\" needs \"proto\": ports mean nothing without a protocol");
		child_key(kp, sizeof(kp), path, "ports");
		r = parse_ports(p, kp, arr, sel);
		if (r < 0)
			return r;
	} else if (kind != SELECTOR_KEEP) {
		return fail(p, path,
			    "missing required key \"ports\"; to stop tracking everything on an interface use "
			    "$.notrack.interfaces");
	}

	r = get_nonempty_array(p, path, obj, "peers", &arr, "leave \"peers\" out to match any remote address");
	if (r < 0)
		return r;
	if (arr) {
		child_key(kp, sizeof(kp), path, "peers");
		r = parse_cidrs(p, kp, arr, "peer", &sel->peers, &sel->n_peers);
		if (r < 0)
			return r;
	}
	r = get_nonempty_array(p, path, obj, "addresses", &arr, "leave \"addresses\" out to match any local address");
	if (r < 0)
		return r;
	if (arr) {
		child_key(kp, sizeof(kp), path, "addresses");
		r = parse_cidrs(p, kp, arr, "address", &sel->addresses, &sel->n_addresses);
		if (r < 0)
			return r;
	}
	/* Peers and local addresses of different families can never meet in one packet. */
	if (sel->n_peers && sel->n_addresses) {
		unsigned pf = 0, af = 0;
		for (size_t i = 0; i < sel->n_peers; i++)
			pf |= sel->peers[i].family;
		for (size_t i = 0; i < sel->n_addresses; i++)
			af |= sel->addresses[i].family;
		if (!(pf & af))
			return fail(p, path, "peers are %s only and addresses %s only: no packet can match both",
				    family_name(pf), family_name(af));
	}
	r = get_nonempty_array(p, path, obj, "interfaces", &arr, "leave \"interfaces\" out to match any interface");
	if (r < 0)
		return r;
	if (arr) {
		child_key(kp, sizeof(kp), path, "interfaces");
		r = parse_ifnames(p, kp, arr, &sel->interfaces, &sel->n_interfaces);
		if (r < 0)
			return r;
	}

	sel->role = kind == SELECTOR_SERVICE ? ROLE_SERVICE : kind == SELECTOR_UPSTREAM ? ROLE_UPSTREAM : ROLE_ANY;
	v = json_object_get(obj, "role");
	if (v) {
		child_key(kp, sizeof(kp), path, "role");
		if (!json_is_string(v))
			return type_error(p, kp, "\"service\", \"upstream\" or \"any\"", v);
		if (strcmp(json_string_value(v), "service") == 0)
			sel->role = ROLE_SERVICE;
		else if (strcmp(json_string_value(v), "upstream") == 0)
			sel->role = ROLE_UPSTREAM;
		else if (strcmp(json_string_value(v), "any") == 0)
			sel->role = ROLE_ANY;
		else
			return fail(p, kp, "role \"%.32s\" is not \"service\", \"upstream\" or \"any\"",
				    json_string_value(v));
		if (!sel->n_ports)
			return fail(p, kp, "\"role\" says which side \"ports\" are on, but this entry has no ports");
	}
	if (kind == SELECTOR_KEEP && !sel->proto && !sel->n_peers && !sel->n_addresses && !sel->n_interfaces)
		return fail(p, path,
			    "keep_tracked entry matches all traffic; give it proto, ports, peers, addresses or "
			    "interfaces (to notrack nothing, remove the notrack section)");
	if (kind == SELECTOR_KEEP && (v = json_object_get(obj, "timeouts")))
		return parse_timeouts(p, path, v, sel);
	return 0;
}

static int parse_selector_list(struct parser *p, const char *parent, json_t *obj, const char *key,
			       enum selector_kind kind, struct selector **out, size_t *n_out)
{
	char path[DIAG_PATH_MAX], ep[DIAG_PATH_MAX];
	json_t *arr;
	size_t n;
	int r;

	r = get_nonempty_array(p, parent, obj, key, &arr, "leave the key out instead");
	if (r < 0 || !arr)
		return r;
	child_key(path, sizeof(path), parent, key);
	n = json_array_size(arr);
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return diag_fail(p->d, DIAG_SYSTEM, ENOMEM, path, "out of memory");
	*n_out = n;
	for (size_t i = 0; i < n; i++) {
		child_index(ep, sizeof(ep), path, i);
		r = parse_selector(p, ep, json_array_get(arr, i), kind, &(*out)[i]);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (same_selector(&(*out)[i], &(*out)[j]))
				return fail(p, ep, "duplicate entry: same as %s", (*out)[j].path);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* untracked_accept                                                     */

static bool valid_nft_name(const char *s, size_t len)
{
	if (len == 0 || len > 63 || (!isalpha((unsigned char)s[0]) && s[0] != '_'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

static int parse_chain_ref(struct parser *p, const char *path, json_t *obj, struct chain_ref *out)
{
	static const char *const keys[] = {"family", "table", "chain", NULL};
	static const char *const fields[] = {"family", "table", "chain"};
	char kp[DIAG_PATH_MAX];
	int r;

	snprintf(out->path, sizeof(out->path), "%.*s", (int)sizeof(out->path) - 1, path);
	r = need_object(p, path, obj);
	if (r < 0)
		return r;
	r = check_keys(p, path, obj, keys);
	if (r < 0)
		return r;
	for (size_t i = 0; i < 3; i++) {
		json_t *v = json_object_get(obj, fields[i]);
		const char *s;

		child_key(kp, sizeof(kp), path, fields[i]);
		if (!v)
			return fail(p, path, "missing required key \"%s\"", fields[i]);
		if (!json_is_string(v))
			return type_error(p, kp, "a string", v);
		s = json_string_value(v);
		if (i == 0) {
			out->family = family_from_nft_name(s);
			if (!out->family)
				return fail(p, kp, "family \"%.32s\" is not inet, ip or ip6", s);
			continue;
		}
		if (!valid_nft_name(s, json_string_length(v)))
			return fail(
			    p, kp,
			    "\"%.64s\" is not a valid %s name (letters, digits, '_', '-', '.'; at most 63 bytes)", s,
			    fields[i]);
		snprintf(i == 1 ? out->table : out->chain, sizeof(out->table), "%s", s);
	}
	return 0;
}

static int parse_untracked_accept(struct parser *p, json_t *root, struct policy *pol)
{
	json_t *v = json_object_get(root, "untracked_accept");
	const char *path = "$.untracked_accept";
	char ep[DIAG_PATH_MAX];

	pol->untracked_accept = UNTRACKED_ACCEPT_AUTO;
	if (!v)
		return 0;
	if (json_is_string(v)) {
		if (strcmp(json_string_value(v), "auto") == 0)
			return 0;
		if (strcmp(json_string_value(v), "none") == 0) {
			pol->untracked_accept = UNTRACKED_ACCEPT_NONE;
			return 0;
		}
		return fail(p, path, "\"%.32s\" is not \"auto\", \"none\" or a list of chains", json_string_value(v));
	}
	if (!json_is_array(v))
		return type_error(p, path, "\"auto\", \"none\" or a list of chains", v);
	if (json_array_size(v) == 0)
		return fail(p, path, "empty list; write \"none\" to insert no accept rule");
	pol->untracked_accept = UNTRACKED_ACCEPT_LIST;
	pol->n_accept_chains = json_array_size(v);
	pol->accept_chains = calloc(pol->n_accept_chains, sizeof(*pol->accept_chains));
	if (!pol->accept_chains)
		return diag_fail(p->d, DIAG_SYSTEM, ENOMEM, path, "out of memory");
	for (size_t i = 0; i < pol->n_accept_chains; i++) {
		struct chain_ref *c = &pol->accept_chains[i];
		int r;

		child_index(ep, sizeof(ep), path, i);
		r = parse_chain_ref(p, ep, json_array_get(v, i), c);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++) {
			struct chain_ref *o = &pol->accept_chains[j];
			if (o->family == c->family && !strcmp(o->table, c->table) && !strcmp(o->chain, c->chain))
				return fail(p, ep, "duplicate chain (already at [%zu])", j);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* top level                                                            */

static int parse_families(struct parser *p, json_t *root, struct policy *pol)
{
	char ep[DIAG_PATH_MAX];
	json_t *arr;
	int r;

	pol->families = FAMILY_BOTH;
	r = get_nonempty_array(p, "$", root, "families", &arr, "leave \"families\" out for both");
	if (r < 0 || !arr)
		return r;
	pol->families = 0;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *v = json_array_get(arr, i);
		unsigned f;

		child_index(ep, sizeof(ep), "$.families", i);
		if (!json_is_string(v))
			return type_error(p, ep, "\"ipv4\" or \"ipv6\"", v);
		if (strcmp(json_string_value(v), "ipv4") == 0)
			f = FAMILY_IPV4;
		else if (strcmp(json_string_value(v), "ipv6") == 0)
			f = FAMILY_IPV6;
		else
			return fail(p, ep, "family \"%.32s\" is not \"ipv4\" or \"ipv6\"", json_string_value(v));
		if (pol->families & f)
			return fail(p, ep, "duplicate family \"%s\"", json_string_value(v));
		pol->families |= f;
	}
	return 0;
}

static int parse_header(struct parser *p, json_t *root, struct policy *pol)
{
	json_t *v = json_object_get(root, "version");

	if (!v)
		return fail(p, "$", "missing required key \"version\" (this notrackctl reads version %d)",
			    POLICY_VERSION);
	if (!json_is_integer(v))
		return type_error(p, "$.version", "the integer 1", v);
	if (json_integer_value(v) != POLICY_VERSION)
		return fail(p, "$.version", "version %lld is not supported; this notrackctl reads version %d",
			    (long long)json_integer_value(v), POLICY_VERSION);
	pol->version = POLICY_VERSION;

	v = json_object_get(root, "name");
	if (v) {
		const char *s;
		if (!json_is_string(v))
			return type_error(p, "$.name", "a string", v);
		s = json_string_value(v);
		if (json_string_length(v) == 0 || json_string_length(v) > POLICY_NAME_MAX)
			return fail(p, "$.name", "name must be 1 to %d bytes", POLICY_NAME_MAX);
		for (const char *c = s; *c; c++)
			if (!isalnum((unsigned char)*c) && !strchr("._-", *c))
				return fail(p, "$.name", "name \"%s\" may hold only letters, digits, '.', '_' and '-'",
					    s);
		snprintf(pol->name, sizeof(pol->name), "%s", s);
	}
	v = json_object_get(root, "description");
	if (v) {
		if (!json_is_string(v))
			return type_error(p, "$.description", "a string", v);
		if (json_string_length(v) > 1024)
			return fail(p, "$.description", "description is %zu bytes; at most 1024",
				    json_string_length(v));
	}
	return 0;
}

static int parse_notrack(struct parser *p, json_t *root, struct policy *pol)
{
	static const char *const keys[] = {"loopback", "interfaces", "services", "upstreams", NULL};
	json_t *nt = json_object_get(root, "notrack"), *v, *arr;
	int r;

	if (!nt)
		return 0;
	r = need_object(p, "$.notrack", nt);
	if (r < 0)
		return r;
	r = check_keys(p, "$.notrack", nt, keys);
	if (r < 0)
		return r;
	v = json_object_get(nt, "loopback");
	if (v) {
		if (!json_is_boolean(v))
			return type_error(p, "$.notrack.loopback", "true or false", v);
		pol->loopback = json_is_true(v);
	}
	r = get_nonempty_array(p, "$.notrack", nt, "interfaces", &arr, "leave the key out instead");
	if (r < 0)
		return r;
	if (arr) {
		r = parse_ifnames(p, "$.notrack.interfaces", arr, &pol->interfaces, &pol->n_interfaces);
		if (r < 0)
			return r;
	}
	r = parse_selector_list(p, "$.notrack", nt, "services", SELECTOR_SERVICE, &pol->services, &pol->n_services);
	if (r < 0)
		return r;
	return parse_selector_list(p, "$.notrack", nt, "upstreams", SELECTOR_UPSTREAM, &pol->upstreams,
				   &pol->n_upstreams);
}

/*
 * The "conntrack" section: net.netfilter.nf_conntrack_* values, by their
 * name without the prefix.  Only the names and ranges are checked here;
 * whether this kernel has the sysctl and lets us write it is for apply.
 */
static int parse_conntrack(struct parser *p, json_t *root, struct policy *pol)
{
	json_t *ct = json_object_get(root, "conntrack"), *v;
	char kp[DIAG_PATH_MAX];
	const char *key;
	int r;

	if (!ct)
		return 0;
	r = need_object(p, "$.conntrack", ct);
	if (r < 0)
		return r;
	json_object_foreach(ct, key, v)
	{
		child_key(kp, sizeof(kp), "$.conntrack", key);
		if (!strncmp(key, "nf_conntrack_", 13) && ct_sysctl_key(key + 13))
			return fail(p, kp, "write \"%s\" without the \"nf_conntrack_\" prefix", key + 13);
		if (!ct_sysctl_key(key)) {
			const char *const *names = ct_sysctl_names(), *best = NULL;
			size_t best_dist = 4;

			for (size_t i = 0; names[i]; i++) {
				size_t dist = edit_distance(key, names[i]);
				if (dist < best_dist) {
					best_dist = dist;
					best = names[i];
				}
			}
			/* the module parameter admins know the hash size by */
			if (!strcmp(key, "hashsize"))
				best = "buckets";
			if (!strcmp(key, "count"))
				return fail(p, kp, "\"count\" is read-only: the number of entries, not a setting");
			if (best)
				return fail(p, kp, "unknown key \"%s\" (did you mean \"%s\"?)", key, best);
			return fail(p, kp,
				    "unknown key \"%s\" (expected a net.netfilter.nf_conntrack_* setting without the "
				    "prefix, such as max or tcp_timeout_time_wait)",
				    key);
		}
	}
	pol->conntrack = calloc(json_object_size(ct) ? json_object_size(ct) : 1, sizeof(*pol->conntrack));
	if (!pol->conntrack)
		return diag_fail(p->d, DIAG_SYSTEM, ENOMEM, NULL, "out of memory");
	json_object_foreach(ct, key, v)
	{
		const struct ct_key *k = ct_sysctl_key(key);
		struct ct_value *cv = &pol->conntrack[pol->n_conntrack];
		long long n;

		child_key(kp, sizeof(kp), "$.conntrack", key);
		if (!json_is_integer(v))
			return type_error(p, kp, "an integer", v);
		n = json_integer_value(v);
		if (n < k->min || n > k->max)
			return fail(p, kp, "%lld is out of range for %s: %lld to %lld (%s)", n, key, k->min, k->max,
				    k->unit);
		snprintf(cv->key, sizeof(cv->key), "%s", key);
		child_key(cv->path, sizeof(cv->path), "$.conntrack", key);
		cv->value = n;
		pol->n_conntrack++;
	}
	return 0;
}

/* jansson reports the offset just past the offending token (or the end of the
 * file), and its columns point at the token's last character.  The path is
 * taken there, so it names the member being read; the line and column are
 * those of the token's first character, where an editor should jump. */
static int syntax_error(const struct policy_source *src, const json_error_t *jerr, struct diag *d)
{
	size_t end = jerr->position > 0 ? (size_t)jerr->position : 0, off = end;
	const char *eof = strstr(jerr->text, "near end of file");
	char path[DIAG_PATH_MAX];
	int r;

	/* with no token to quote, jansson says "near end of file": point past the last byte */
	if (!eof || eof[strlen("near end of file")] != '\0')
		off = jsonpos_token_start(src->text, src->len, end);
	jsonpos_path_at(src->text, src->len, end, path, sizeof(path));
	r = diag_fail(d, DIAG_POLICY, EINVAL, path, "invalid JSON: %s", jerr->text);
	scrub_controls(d->msg);
	jsonpos_line_col(src->text, src->len, off, &d->line, &d->col);
	return r;
}

int policy_parse(const struct policy_source *src, struct policy *pol, struct diag *d)
{
	static const char *const keys[] = {"version",	       "name",	    "description",
					   "families",	       "notrack",   "keep_tracked",
					   "untracked_accept", "conntrack", NULL};
	struct parser p = {.d = d};
	json_error_t jerr;
	json_t *root;
	int r;

	memset(pol, 0, sizeof(*pol));
	diag_set_file(d, src->file);
	if (src->len == 0 || strspn(src->text, " \t\r\n") == src->len)
		return diag_fail(d, DIAG_POLICY, EINVAL, "$", "file is empty; a policy is a JSON object");
	if (memchr(src->text, '\0', src->len)) {
		size_t off = (size_t)((const char *)memchr(src->text, '\0', src->len) - src->text);
		char path[DIAG_PATH_MAX];

		jsonpos_path_at(src->text, src->len, off, path, sizeof(path));
		r = diag_fail(d, DIAG_POLICY, EINVAL, path,
			      "invalid JSON: NUL byte in the file (is this a binary file?)");
		jsonpos_line_col(src->text, src->len, off, &d->line, &d->col);
		return r;
	}
	root = json_loadb(src->text, src->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return syntax_error(src, &jerr, d);
	r = need_object(&p, "$", root);
	if (r < 0)
		goto out;
	r = check_keys(&p, "$", root, keys);
	if (r < 0)
		goto out;
	r = parse_header(&p, root, pol);
	if (r < 0)
		goto out;
	r = parse_families(&p, root, pol);
	if (r < 0)
		goto out;
	p.families = pol->families;
	r = parse_notrack(&p, root, pol);
	if (r < 0)
		goto out;
	r = parse_selector_list(&p, "$", root, "keep_tracked", SELECTOR_KEEP, &pol->keep, &pol->n_keep);
	if (r < 0)
		goto out;
	r = parse_untracked_accept(&p, root, pol);
	if (r < 0)
		goto out;
	r = parse_conntrack(&p, root, pol);
out:
	json_decref(root);
	if (r < 0)
		policy_free(pol);
	return r;
}

static void selectors_free(struct selector *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(s[i].ports);
		free(s[i].peers);
		free(s[i].addresses);
		free(s[i].interfaces);
	}
	free(s);
}

void policy_free(struct policy *p)
{
	free(p->interfaces);
	selectors_free(p->services, p->n_services);
	selectors_free(p->upstreams, p->n_upstreams);
	selectors_free(p->keep, p->n_keep);
	free(p->accept_chains);
	free(p->conntrack);
	memset(p, 0, sizeof(*p));
}

void policy_locate(const struct policy_source *src, struct diag *d)
{
	diag_set_file(d, src->file);
	if (d->line == 0 && d->path[0] && src->text)
		jsonpos_find(src->text, src->len, d->path, &d->line, &d->col);
	for (size_t i = 0; i < d->n_warnings; i++) {
		struct diag_warning *w = &d->warnings[i];
		if (w->line == 0 && w->path[0] && src->text)
			jsonpos_find(src->text, src->len, w->path, &w->line, &w->col);
	}
}
