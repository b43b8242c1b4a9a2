#!/bin/bash
# The transcripts the documentation shows (```console blocks in README.md and
# docs/*.md; tests/docs/docs_examples.py says how they are marked) run for
# real, and print what the text says they print, with the exit status it
# shows.  Each file runs in a fresh network namespace of its own, with a
# private state directory, from a root-owned copy of the source tree.
#
# Usage: check-examples.sh NOTRACKCTL SOURCE_DIR
set -euo pipefail
. "$(dirname "$0")/../lib/netns.sh"
[ $# = 2 ] || { echo "usage: $0 NOTRACKCTL SOURCE_DIR" >&2; exit 2; }
[ "$(id -u)" = 0 ] || skip "needs root for a network namespace"
need_commands unshare python3 ip nft
bin=$(readlink -f "$1")
checkout=$(cd "$2" && pwd)
py=$checkout/tests/docs/docs_examples.py
work=$(mktemp -d)
defer rm -rf "$work"
chmod 755 "$work"
private_checkout "$checkout" "$work/src"
mkdir "$work/bin"
ln -s "$bin" "$work/bin/notrackctl"

n=0
for f in "$checkout/README.md" "$checkout"/docs/*.md; do
	[ -f "$f" ] || continue
	grep -q '^```console' "$f" || continue
	name=${f#"$checkout"/}
	python3 "$py" script "$f" >"$work/script"
	rm -rf "$work/state"
	# the namespace is new and empty: the transcript sees no rule but its own
	(cd "$work/src" && PATH="$work/bin:$PATH" NOTRACKCTL_STATE_DIR="$work/state" \
		NOTRACKCTL_AUDIT_FILE="$work/audit.log" NOTRACKCTL_CONFIRM_TIMER=process \
		XTABLES_LOCKFILE="$work/xtables.lock" \
		unshare -n -- bash -c 'ip link set lo up && exec bash "$0"' "$work/script") >"$work/output" 2>&1 || true
	python3 "$py" compare "$f" "$work/output" >"$work/bad" || fail "$name: the text and the program disagree:
$(cat "$work/bad")"
	echo "ok   $name"
	n=$((n + 1))
done
[ "$n" -ge 1 ] || fail "no console transcript found in README.md or docs/"
echo "PASS"
