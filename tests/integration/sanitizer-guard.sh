#!/bin/bash
# A sanitizer report must fail an integration test even where the command
# was expected to fail anyway.  A stand-in for an integration test (it
# sources lib.sh, as they do) runs `run 1 PROBE` against a probe that leaks
# or overflows and then exits 1: that test must fail, and name the report.
# With nothing wrong (PROBE clean), the same test passes.
#
# Usage: sanitizer-guard.sh SANITIZER_PROBE SOURCE_DIR   (ctest sets the
# sanitizers' options, as for every _asan test)
set -euo pipefail
. "$(dirname "$0")/../lib/netns.sh"
[ $# = 2 ] || { echo "usage: $0 SANITIZER_PROBE SOURCE_DIR" >&2; exit 2; }
[ -n "${ASAN_OPTIONS:-}" ] && [ -n "${UBSAN_OPTIONS:-}" ] || fail "ASAN_OPTIONS and UBSAN_OPTIONS are not set (run under ctest)"
probe=$(readlink -f "$1")
work=$(mktemp -d)
defer rm -rf "$work"
private_checkout "$(cd "$2" && pwd)" "$work/src"
cat >"$work/src/tests/integration/stand-in.sh" <<'SH'
#!/bin/bash
. "$(dirname "$0")/lib.sh"
run 1 "$bin" "$PROBE_CASE"
assert_contains "$work/err" "probe: refused" "the probe's own message"
echo PASS
SH
chmod +x "$work/src/tests/integration/stand-in.sh"

for c in clean leak overflow; do
	code=0
	PROBE_CASE=$c "$work/src/tests/integration/stand-in.sh" "$probe" "$work/src" >"$work/$c.log" 2>&1 || code=$?
	if [ "$c" = clean ]; then
		[ "$code" = 0 ] || fail "with a clean probe the stand-in fails (exit $code): $(cat "$work/$c.log")"
	else
		[ "$code" = 1 ] || fail "$c: the stand-in exits $code, want 1: $(cat "$work/$c.log")"
		grep -qE 'FAIL: (sanitizer report|.*a sanitizer report)' "$work/$c.log" ||
			fail "$c: the failure does not show the report: $(cat "$work/$c.log")"
	fi
	echo "ok   $c"
done

# The exit codes themselves: unique, never the 1 of a refusal.
code=0
"$probe" leak >/dev/null 2>&1 || code=$?
[ "$code" = 86 ] || fail "a leak exits $code under ASAN_OPTIONS=$ASAN_OPTIONS, want 86"
code=0
"$probe" overflow >/dev/null 2>&1 || code=$?
[ "$code" = 87 ] || fail "undefined behaviour exits $code under UBSAN_OPTIONS=$UBSAN_OPTIONS, want 87"
echo "ok   exit codes: 86 for ASan and leaks, 87 for UBSan"
echo "PASS"
