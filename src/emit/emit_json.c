/* IR → JSON, for scripts that want the compiled result without parsing nft. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>

#include "emit/emit.h"

static const char *field_name(enum field f)
{
	return f == FIELD_SOURCE ? "source" : "destination";
}

static json_t *ports_json(const struct port_set *s)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < s->n; i++) {
		const struct port_range *p = &s->ranges[i];
		if (p->first == p->last) {
			json_array_append_new(a, json_integer(p->first));
		} else {
			char buf[16];
			snprintf(buf, sizeof(buf), "%u-%u", p->first, p->last);
			json_array_append_new(a, json_string(buf));
		}
	}
	return a;
}

static json_t *cidrs_json(const struct addr_set *s)
{
	json_t *a = json_array();
	char buf[64];

	for (size_t i = 0; a && i < s->n; i++) {
		cidr_format(&s->cidrs[i], buf, sizeof(buf));
		json_array_append_new(a, json_string(buf));
	}
	return a;
}

static json_t *families_json(unsigned mask)
{
	json_t *a = json_array();

	if (mask & FAMILY_IPV4)
		json_array_append_new(a, json_string("ipv4"));
	if (mask & FAMILY_IPV6)
		json_array_append_new(a, json_string("ipv6"));
	return a;
}

static json_t *lines_json(char **lines, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(lines[i]));
	return a;
}

static json_t *rule_json(const struct ruleset *rs, const struct rule *r)
{
	json_t *o = json_object();
	char comment[128], ifn[32];

	json_object_set_new(o, "chain", json_string(rule_chain_name(r)));
	json_object_set_new(o, "verdict",
			    json_string(r->verdict == VERDICT_NOTRACK	   ? "notrack"
					: r->verdict == VERDICT_CT_TIMEOUT ? "ct_timeout"
									   : "return"));
	if (r->verdict == VERDICT_CT_TIMEOUT)
		json_object_set_new(o, "ct_timeout", json_string(rs->timeouts[r->ct_timeout].name));
	json_object_set_new(o, "families", families_json(r->family));
	if (r->has_ifname) {
		snprintf(ifn, sizeof(ifn), "%s%s", r->ifname.name, r->ifname.wildcard ? "+" : "");
		json_object_set_new(o,
				    r->ifname_invert ? (r->hook == HOOK_PREROUTING ? "iifname_not" : "oifname_not")
				    : r->hook == HOOK_PREROUTING ? "iifname"
								 : "oifname",
				    json_string(ifn));
	}
	if (r->proto)
		json_object_set_new(o, "proto", json_string(proto_name(r->proto)));
	if (r->port_set >= 0) {
		json_t *m = json_object();
		json_object_set_new(m, "field", json_string(field_name(r->port_field)));
		json_object_set_new(m, "set", json_string(rs->port_sets[r->port_set].name));
		json_object_set_new(o, "port", m);
	}
	if (r->peer_set >= 0) {
		json_t *m = json_object();
		json_object_set_new(m, "field", json_string(field_name(r->peer_field)));
		json_object_set_new(m, "set", json_string(rs->addr_sets[r->peer_set].name));
		json_object_set_new(o, "peer", m);
	}
	if (r->local_set >= 0) {
		json_t *m = json_object();
		json_object_set_new(m, "field", json_string(field_name(r->local_field)));
		json_object_set_new(m, "set", json_string(rs->addr_sets[r->local_set].name));
		json_object_set_new(o, "local", m);
	}
	/* proto and port describe the packet the error carries, as this host sent it */
	if (r->icmp_error)
		json_object_set_new(o, "icmp_error", json_true());
	if (r->scope != SCOPE_ANY)
		json_object_set_new(o, "scope",
				    json_string(r->scope == SCOPE_LOCAL_DEST ? "local_destination" : "own_socket"));
	rule_comment(rs, r, comment, sizeof(comment));
	json_object_set_new(o, "comment", json_string(comment));
	json_object_set_new(o, "origin", json_string(r->origin));
	return o;
}

int emit_json(const struct ruleset *rs, const struct diag *d, struct strbuf *out)
{
	json_t *root = json_object(), *sets = json_array(), *rules = json_array(), *ua = json_object();
	char *text;
	int r = 0;

	if (!root || !sets || !rules || !ua) {
		r = -ENOMEM;
		goto out;
	}
	json_object_set_new(root, "table", json_string(rs->table));
	json_object_set_new(root, "families", families_json(rs->families));
	for (size_t i = 0; i < rs->n_port_sets; i++) {
		json_t *s = json_object();
		json_object_set_new(s, "name", json_string(rs->port_sets[i].name));
		json_object_set_new(s, "type", json_string("inet_service"));
		json_object_set_new(s, "inline", json_boolean(port_set_is_inline(&rs->port_sets[i])));
		json_object_set_new(s, "representation",
				    json_string(port_set_is_inline(&rs->port_sets[i])	   ? "inline"
						: rs->port_sets[i].repr == PORT_SET_BITMAP ? "bitmap"
						: rs->port_sets[i].repr == PORT_SET_HASH   ? "hash"
											   : "interval"));
		json_object_set_new(s, "elements", ports_json(&rs->port_sets[i]));
		json_array_append_new(sets, s);
	}
	for (size_t i = 0; i < rs->n_addr_sets; i++) {
		const struct addr_set *as = &rs->addr_sets[i];
		json_t *s = json_object();
		json_object_set_new(s, "name", json_string(as->name));
		json_object_set_new(s, "type", json_string(as->family == FAMILY_IPV4 ? "ipv4_addr" : "ipv6_addr"));
		json_object_set_new(s, "inline", json_boolean(addr_set_is_inline(as)));
		json_object_set_new(s, "elements", cidrs_json(as));
		json_array_append_new(sets, s);
	}
	json_object_set_new(root, "sets", sets);
	sets = NULL;
	/* in chain order, the guards among them */
	for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++)
		for (size_t i = 0; i < rs->n_chain[h]; i++)
			json_array_append_new(rules, rule_json(rs, rs->chain[h][i]));
	for (size_t i = 0; i < rs->n_timeout_rules; i++)
		json_array_append_new(rules, rule_json(rs, &rs->timeout_rules[i]));
	json_object_set_new(root, "rules", rules);
	rules = NULL;
	/* only with per-traffic timeouts: the IR of other policies is unchanged */
	if (rs->n_timeouts) {
		json_t *objs = json_array();
		for (size_t i = 0; i < rs->n_timeouts; i++) {
			const struct ct_timeout_obj *t = &rs->timeouts[i];
			json_t *o = json_object(), *pol = json_object();
			for (unsigned k = 0; k < ct_timeout_states(t->t.proto); k++)
				json_object_set_new(pol, ct_timeout_key_at(t->t.proto, k)->name,
						    json_integer(t->t.value[k]));
			json_object_set_new(o, "name", json_string(t->name));
			json_object_set_new(o, "proto", json_string(proto_name(t->t.proto)));
			json_object_set_new(o, "policy", pol);
			json_object_set_new(o, "origin", json_string(t->t.path));
			json_array_append_new(objs, o);
		}
		json_object_set_new(root, "ct_timeouts", objs);
	}

	json_object_set_new(ua, "mode",
			    json_string(rs->accept_mode == UNTRACKED_ACCEPT_AUTO   ? "auto"
					: rs->accept_mode == UNTRACKED_ACCEPT_NONE ? "none"
										   : "list"));
	if (rs->accept_mode == UNTRACKED_ACCEPT_AUTO) {
		json_t *hooks = json_array();
		for (size_t i = 0; i < 3; i++)
			if (rs->accept_hooks & (1u << i))
				json_array_append_new(hooks,
						      json_string((const char *[]){"input", "forward", "output"}[i]));
		json_object_set_new(ua, "hooks", hooks);
	}
	if (rs->accept_mode == UNTRACKED_ACCEPT_LIST) {
		json_t *chains = json_array();
		for (size_t i = 0; i < rs->n_accept_chains; i++) {
			const struct chain_ref *c = &rs->accept_chains[i];
			json_array_append_new(chains, json_pack("{s:s,s:s,s:s}", "family", family_nft_name(c->family),
								"table", c->table, "chain", c->chain));
		}
		json_object_set_new(ua, "chains", chains);
	}
	json_object_set_new(root, "untracked_accept", ua);
	ua = NULL;
	json_object_set_new(root, "exposure", lines_json(rs->exposure, rs->n_exposure));
	json_object_set_new(root, "kept_tracked", lines_json(rs->kept, rs->n_kept));
	if (rs->n_conntrack) {
		/* sysctl values, written after the rules: no part of the ruleset */
		json_t *ct = json_object();
		for (size_t i = 0; i < rs->n_conntrack; i++)
			json_object_set_new(ct, rs->conntrack[i].key, json_integer((json_int_t)rs->conntrack[i].value));
		json_object_set_new(root, "conntrack", ct);
	}
	if (d) {
		json_t *w = json_array();
		for (size_t i = 0; i < d->n_warnings; i++)
			json_array_append_new(w, json_pack("{s:s,s:s,s:I,s:I}", "path", d->warnings[i].path, "message",
							   d->warnings[i].msg, "line", (json_int_t)d->warnings[i].line,
							   "col", (json_int_t)d->warnings[i].col));
		json_object_set_new(root, "warnings", w);
	}
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text) {
		r = -ENOMEM;
		goto out;
	}
	strbuf_puts(out, text);
	strbuf_putc(out, '\n');
	free(text);
	r = out->oom ? -ENOMEM : 0;
out:
	json_decref(sets);
	json_decref(rules);
	json_decref(ua);
	json_decref(root);
	return r;
}
