#!/bin/bash
# 8 notrackctl processes applying different policies at once, for a while,
# with foreign writers (nft add rule, iptables-nft -w) in a loop beside them.
# Afterwards:
#  - every run ended in success or a clear, documented error;
#  - the ruleset holds the policy of the last successful apply, and every
#    foreign rule that was written;
#  - no foreign write failed because of us.
#
# Usage: stress-concurrency.sh NOTRACKCTL SOURCE_DIR [SECONDS]   (default 30)
# (apply runs with --allow-conflicts: the policies catch the Docker-like NAT
# built here on purpose; nft-lint tests the linter.)
. "$(dirname "$0")/lib.sh"
need_commands iptables-nft
seconds=${3:-30}

stateful_filter
docker_like
policies=(nginx dns k8s-nodelocaldns minimal docker-host)
end=$((SECONDS + seconds))

worker() {
	local id=$1 n=0 p code
	while [ $SECONDS -lt $end ]; do
		p=${policies[RANDOM % ${#policies[@]}]}
		code=0
		"$bin" apply -q --allow-conflicts --json --lock-timeout 20 "$src/policies/$p.json" >"$work/w$id.$n.json" 2>"$work/w$id.$n.err" || code=$?
		echo "$code $p $n" >>"$work/w$id.log"
		n=$((n + 1))
	done
}
foreign_nft() {
	local n=0
	while [ $SECONDS -lt $end ]; do
		if nft add rule inet filter input tcp dport $((20000 + n)) accept comment "\"foreign-nft-$n\""; then
			echo ok >>"$work/fnft.log"
		else
			echo FAILED >>"$work/fnft.log"
		fi
		n=$((n + 1))
		sleep 0.05
	done
}
foreign_ipt() {
	local n=0
	while [ $SECONDS -lt $end ]; do
		if iptables-nft -w 5 -A DOCKER -p tcp --dport $((30000 + n)) -m comment --comment "foreign-ipt-$n" -j ACCEPT; then
			echo ok >>"$work/fipt.log"
		else
			echo FAILED >>"$work/fipt.log"
		fi
		n=$((n + 1))
		sleep 0.05
	done
}

pids=()
for i in $(seq 8); do
	worker "$i" &
	pids+=($!)
done
foreign_nft &
pids+=($!)
foreign_ipt &
pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done

# Every run: success, or a documented error that says what happened.
runs=$(cat "$work"/w*.log | wc -l)
ok=$(cat "$work"/w*.log | awk '$1 == 0' | wc -l)
bad=$(cat "$work"/w*.log | awk '$1 != 0 && $1 != 5 && $1 != 6' | wc -l)
[ "$bad" = 0 ] || fail "runs ended with undocumented errors: $(cat "$work"/w*.log | awk '$1 != 0 && $1 != 5 && $1 != 6' | head -3); e.g.: $(grep -hv warning "$work"/w*.err | head -5)"
for f in "$work"/w*.err; do
	[ -s "$f" ] || continue
	n=$(grep -c . "$f")
	# a clear error is one line (warnings aside)
	[ "$(grep -vc 'warning' "$f")" -le 1 ] || fail "a run printed more than one error line: $(cat "$f")"
done
[ "$ok" -ge 8 ] || fail "only $ok of $runs applies succeeded"

# The last successful apply is the highest generation recorded.
run 0 ntc generations --json
last=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); g=d["generations"]; assert d["current"] == g[-1]["generation"], d; print(g[-1]["policy_file"])' "$work/out") ||
	fail "generations: $(cat "$work/out")"
run 0 ntc diff "$last"

# Every foreign rule that was written is there, and none of the writes failed.
grep -q FAILED "$work/fnft.log" "$work/fipt.log" && fail "a foreign write failed: $(grep -c FAILED "$work/fnft.log" "$work/fipt.log")"
nft list ruleset >"$work/final.nft"
want_nft=$(grep -c ok "$work/fnft.log")
want_ipt=$(grep -c ok "$work/fipt.log")
assert_eq "$(grep -c 'comment "foreign-nft-' "$work/final.nft")" "$want_nft" "foreign nft rules in the final ruleset"
iptables-nft-save >"$work/final.ipt" 2>&1
assert_eq "$(grep -c -- '--comment foreign-ipt-' "$work/final.ipt")" "$want_ipt" "foreign iptables-nft rules in the final ruleset"
assert_not_contains "$work/final.ipt" "incompatible" "iptables-nft-save at the end"
echo "PASS: $runs applies ($ok succeeded), $want_nft nft and $want_ipt iptables-nft foreign rules, all kept"
