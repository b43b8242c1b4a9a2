#!/bin/bash
# The lint case table (tests/lint-corpus/cases): real tools' rulesets
# (tests/lint-corpus/*.ipt, *.nft, each naming its source and version)
# against the shipped policies and a few of the corpus' own.  For every row
# lint must give exactly the exit code and the findings (kind@chain) the
# table says, and every keep_tracked entry a finding suggests must make a
# policy that applies.  No traffic here: lint-corpus-traffic.sh shows that
# the findings are true.
#
# The table does not depend on the backend: LINT_CORPUS_BACKEND=legacy loads
# the iptables layouts with iptables-legacy-restore instead of
# iptables-nft-restore and lints with --backend iptables (the nft layouts
# are then left out).
. "$(dirname "$0")/lib.sh"
need_commands iptables-nft-restore

corpus=$src/tests/lint-corpus
tool=$src/tests/tools/lint-corpus.py
backend=${LINT_CORPUS_BACKEND:-nft}

# the interfaces the layouts name, with addresses, as on such a host
for spec in "eth0 192.0.2.1/24" "eth1 192.168.1.1/24" "docker0 172.17.0.1/16" \
	"tailscale0 100.64.0.1/10" "cni0 10.244.0.1/24" "nodelocaldns 169.254.20.10/32" \
	"wg0 10.8.0.1/24" "virbr0 192.168.122.1/24" "incusbr0 10.80.0.1/24" \
	"podman0 10.88.0.1/16"; do
	set -- $spec
	ip link add "$1" type veth peer name "$1-p"
	ip addr add "$2" dev "$1"
	ip link set "$1" up
	ip link set "$1-p" up
done

load() {
	nft flush ruleset
	iptables-legacy-save >/dev/null 2>&1 && for t in raw nat filter mangle; do
		iptables-legacy -t "$t" -F 2>/dev/null || true
		iptables-legacy -t "$t" -X 2>/dev/null || true
	done
	case $1 in
	*.nft) nft -f "$1" ;;
	*.ipt) if [ "$backend" = legacy ]; then iptables-legacy-restore <"$1"; else iptables-nft-restore <"$1"; fi ;;
	esac
}

python3 "$tool" cases "$corpus/cases" >"$work/cases"
export LINT_CORPUS_SRC=$src
mkdir -p "$work/res" "$work/sugg"
rows=0 suggestions=0

# check_layout: the rows lint ran for the loaded layout ($work/rows), then
# every suggestion their findings make: it compiles and applies
check_layout() {
	[ -s "$work/rows" ] || return 0
	python3 "$tool" check "$work/rows" "$work/sugg" >"$work/sugg.txt" || fail "lint case table: see above"
	while read -r p frag; do
		echo "  suggestion for $p: $frag" >&2
		run 0 ntc compile "$p"
		run 0 ntc apply --allow-conflicts "$p"
		run 0 ntc remove
		suggestions=$((suggestions + 1))
	done <"$work/sugg.txt"
	rm -f "$work/rows" "$work/sugg"/*
}

answers_local() { [ "$(python3 "$tcpload" connect 127.0.0.1 "$1" 1)" = 1 ]; }
current=
while read -r layout policy want_exit want; do
	files=("$corpus/$layout".*)
	file=${files[0]}
	[ -f "$file" ] || fail "cases: no layout $layout in $corpus"
	if [ "$backend" = legacy ] && [ "${file##*.}" = nft ]; then
		continue
	fi
	if [ "$layout" != "$current" ]; then
		check_layout
		load "$file"
		current=$layout
		# "# listen: tcp PORT" in a layout: a daemon of the tool listens
		# there (docker-proxy); a stand-in listens for the rows of that layout
		[ -z "${listener:-}" ] || { kill "$listener" 2>/dev/null; wait "$listener" 2>/dev/null || true; }
		listener=
		port=$(sed -n 's/^# listen: tcp \([0-9]*\)$/\1/p' "$file")
		if [ -n "$port" ]; then
			python3 "$tcpload" serve 0.0.0.0 "$port" &
			listener=$!
			defer "kill $listener 2>/dev/null; wait $listener 2>/dev/null"
			wait_until 10 "the stand-in for the daemon on $port" answers_local "$port"
		fi
	fi
	echo "case: $layout × $policy" >&2
	args=(lint --json)
	[ "$backend" = legacy ] && args+=(--backend iptables)
	run "$want_exit" ntc "${args[@]}" "$src/$policy"
	rows=$((rows + 1))
	cp "$work/out" "$work/res/$rows.json"
	echo "$work/res/$rows.json $layout $policy $want" >>"$work/rows"
done <"$work/cases"
check_layout
[ "$rows" -gt 0 ] || fail "no case ran"
echo "PASS: $rows cases, $suggestions suggestions applied ($backend)"
