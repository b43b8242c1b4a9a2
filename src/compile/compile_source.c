#include "compile/compile_source.h"

#include "util/host.h"

static bool interface_here(const struct ifname *ifn, void *ctx)
{
	(void)ctx;
	return host_interface_exists(ifn->name, ifn->wildcard);
}

int compile_source(const struct policy_source *src, const char *table, bool host_checks, struct ruleset *rs,
		   struct diag *d)
{
	static const struct compile_host host = {.interface_exists = interface_here};
	struct compile_options opt = {.table = table, .host = host_checks ? &host : NULL};
	struct policy pol;
	int r;

	r = policy_parse(src, &pol, d);
	if (r == 0) {
		r = compile_policy(&pol, &opt, rs, d);
		policy_free(&pol);
	}
	policy_locate(src, d);
	return r;
}
