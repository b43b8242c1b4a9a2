/*
 * libFuzzer harness: raw bytes as a policy file, through everything that
 * reads it without a kernel: parse, locate the error (line, column, JSON
 * path), compile, and every emitter (nft text, iptables text for both
 * families, the IR as JSON), the nft object builder and the libiptc entry
 * builder (with the canonical form of every entry).  Built with clang
 * -fsanitize=fuzzer,address,undefined by tests/fuzz/run; any crash, leak or
 * UBSan report stops it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/diag.h"
#include "emit/emit.h"
#include "emit/ipt_build.h"
#include "backend/nft/nft_build.h"
#include "policy/policy.h"
#include "compile/ruleset.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_source src = {0};
	struct compile_options opt = {0};
	struct ruleset rs = {0};
	struct policy pol;
	struct diag d;
	int r;

	if (size > POLICY_MAX_BYTES)
		return 0;
	src.file = "fuzz.json";
	src.text = malloc(size + 1);
	if (!src.text)
		return 0;
	memcpy(src.text, data, size);
	src.text[size] = '\0';
	src.len = size;
	diag_init(&d);
	r = policy_parse(&src, &pol, &d);
	if (r == 0) {
		r = compile_policy(&pol, &opt, &rs, &d);
		policy_free(&pol);
	}
	policy_locate(&src, &d);
	if (r == 0) {
		struct strbuf out;
		struct nft_desired nd;

		strbuf_init(&out);
		emit_nft_text(&rs, &out);
		emit_iptables_text(&rs, FAMILY_IPV4, &out);
		emit_iptables_text(&rs, FAMILY_IPV6, &out);
		emit_json(&rs, &d, &out);
		strbuf_free(&out);
		if (nft_build_desired(&rs, &nd) == 0)
			nft_desired_free(&nd);
		for (unsigned f = FAMILY_IPV4; f <= FAMILY_IPV6; f <<= 1) {
			for (enum hook h = HOOK_PREROUTING; h <= HOOK_OUTPUT; h++) {
				struct ipt_rule_list l = {0};
				ipt_build_chain_rules(&rs, f, h, h == HOOK_PREROUTING ? "F-PRE" : "F-OUT", &l);
				ipt_rule_list_free(&l);
			}
		}
		ruleset_free(&rs);
	}
	diag_free(&d);
	free(src.text);
	return 0;
}
