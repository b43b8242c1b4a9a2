#!/bin/bash
# The example alerting rules: promtool check rules accepts them, promtool
# test rules shows each tested alert firing where it should and nowhere
# else, and every notrackctl_ metric they use is documented in the man page
# (metrics-nft.sh checks that the program prints what the man page lists).
#
# Usage: check-prometheus.sh SOURCE_DIR
set -euo pipefail
. "$(dirname "$0")/../lib/netns.sh"
[ $# = 1 ] || { echo "usage: $0 SOURCE_DIR" >&2; exit 2; }
dir=$(cd "$1/examples/prometheus" && pwd)
man=$1/dist/man/notrackctl.8
need_commands promtool
work=$(mktemp -d)
defer rm -rf "$work"

promtool check rules "$dir/notrackctl-alerts.yml" >"$work/out" 2>&1 || fail "promtool check rules: $(cat "$work/out")"
echo "ok   promtool check rules: $(grep -o '[0-9]* rules found' "$work/out")"
(cd "$dir" && promtool test rules notrackctl-alerts.test.yml) >"$work/out" 2>&1 ||
	fail "promtool test rules: $(cat "$work/out")"
echo "ok   promtool test rules"
grep -o 'notrackctl_[a-z_]*' "$dir/notrackctl-alerts.yml" | sort -u >"$work/names"
[ -s "$work/names" ] || fail "no notrackctl_ metric in the rules"
while read -r n; do
	grep -qw -- "$n" "$man" || fail "the rules use $n, which the man page does not document"
done <"$work/names"
echo "ok   the $(wc -l <"$work/names") metrics the rules use are in the man page"
echo "PASS"
