#!/bin/bash
# A newcomer's run: `git clone` as a normal user, then `sudo ./scripts/test`.
# The checkout belongs to that user, and notrackctl refuses to apply a policy
# that another user owns (src/util/trust.c), so a test that applies its fixtures
# straight from the checkout fails there while it passes on a root-owned one.
#
# This copies the checkout into a directory owned by nobody and runs a few
# integration tests from that copy, as the suite runs them (notrackctl
# binary, source directory).  tests/fresh/run does the same on a fresh
# Debian 12 root with the whole suite.
#
# Usage: user-clone.sh NOTRACKCTL SOURCE_DIR
set -euo pipefail
. "$(dirname "$0")/../lib/netns.sh"
[ $# = 2 ] || { echo "usage: $0 NOTRACKCTL SOURCE_DIR" >&2; exit 2; }
[ "$(id -u)" = 0 ] || skip "needs root (chown, and the tests' network namespaces)"
bin=$(readlink -f "$1")
work=$(mktemp -d)
defer rm -rf "$work"
clone=$work/home/newcomer/notrackctl
private_checkout "$(cd "$2" && pwd)" "$clone"
chown -R nobody: "$work/home"

# the premise: notrackctl refuses a fixture of this clone
code=0
unshare -n -- "$bin" --state-dir "$work/state" apply -q "$clone/policies/nginx.json" >"$work/out" 2>&1 || code=$?
[ "$code" = 7 ] || fail "applying a policy owned by nobody: exit $code, want 7 (refused): $(cat "$work/out")"

for t in nft-noop ipt-equivalence; do
	code=0
	"$clone/tests/integration/$t.sh" "$bin" "$clone" >"$work/$t.log" 2>&1 || code=$?
	[ "$code" = 0 ] || fail "$t from a clone owned by nobody: exit $code: $(tail -5 "$work/$t.log")"
	echo "ok   $t from a clone owned by nobody"
done
echo "PASS"
