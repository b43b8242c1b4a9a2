/*
 * Valid policies, table-driven: every tests/cases/valid/NAME.json compiles
 * (without host checks) and each emitter's output matches its golden file
 * byte for byte: NAME.nft, NAME.ipt4, NAME.ipt6 and NAME.ir.json in
 * tests/golden.  NOTRACKCTL_UPDATE_GOLDEN=1 rewrites the goldens; review the
 * diff before committing it.  argv[1] and argv[2] override the directories.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "emit/emit.h"
#include "testlib.h"

static const char *cases_dir = NOTRACKCTL_CASES_DIR "/valid";
static const char *golden_dir = NOTRACKCTL_GOLDEN_DIR;

struct emitter {
	const char *ext;
	int (*emit)(const struct ruleset *rs, const struct diag *d, struct strbuf *out);
};

static int emit_nft(const struct ruleset *rs, const struct diag *d, struct strbuf *out)
{
	(void)d;
	return emit_nft_text(rs, out);
}

static int emit_ipt4(const struct ruleset *rs, const struct diag *d, struct strbuf *out)
{
	(void)d;
	return emit_iptables_text(rs, FAMILY_IPV4, out);
}

static int emit_ipt6(const struct ruleset *rs, const struct diag *d, struct strbuf *out)
{
	(void)d;
	return emit_iptables_text(rs, FAMILY_IPV6, out);
}

static const struct emitter emitters[] = {
    {".nft", emit_nft},
    {".ipt4", emit_ipt4},
    {".ipt6", emit_ipt6},
    {".ir.json", emit_json},
};

static void test_valid_case(void **state)
{
	const char *name = *state;
	char *json = tl_path(cases_dir, name, ".json");
	struct ruleset rs;
	struct diag d;
	char err[DIAG_MSG_MAX + DIAG_PATH_MAX + 64];

	diag_init(&d);
	if (tl_compile_file(json, NULL, &rs, &d) < 0) {
		tl_format_error(&d, err, sizeof(err));
		fail_msg("%s: %s", json, err);
	}
	for (size_t i = 0; i < sizeof(emitters) / sizeof(emitters[0]); i++) {
		char *golden = tl_path(golden_dir, name, emitters[i].ext);
		_cleanup_strbuf_ struct strbuf out;

		strbuf_init(&out);
		/* per-traffic timeouts: the iptables emitter refuses them (ipt_size.h) */
		if (rs.n_timeouts && !strncmp(emitters[i].ext, ".ipt", 4)) {
			assert_int_equal(emitters[i].emit(&rs, &d, &out), -EOPNOTSUPP);
			free(golden);
			continue;
		}
		assert_int_equal(emitters[i].emit(&rs, &d, &out), 0);
		tl_check_golden(golden, out.data, out.len);
		free(golden);
	}
	ruleset_free(&rs);
	diag_free(&d);
	free(json);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		cases_dir = argv[1];
	if (argc > 2)
		golden_dir = argv[2];
	return tl_run_cases("valid policies", cases_dir, 12, test_valid_case) ? 1 : 0;
}
