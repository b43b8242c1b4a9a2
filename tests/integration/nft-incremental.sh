#!/bin/bash
# Incremental applies (issue 22), against the real kernel:
#  - a property test: a 10,000-port policy, then EDITS random edits
#    (incremental-edits.py: ports and ranges added and removed, ports
#    switched to ranges and back, peers added and dropped, a set that flips
#    between a hash and intervals), each applied on top of the last.  After
#    every edit, `nft -j list ruleset` (handles left out) equals what a fresh
#    apply of the same policy gives in a second namespace, and the batch that
#    went out (read from the transport's log) stays under 8 KiB.  Then
#    rollback through every generation, with the same checks;
#  - a foreign edit: someone deletes an element of our set; the next apply
#    puts it back and its diff says so;
#  - the diff and the batch of a one-port change and of its rollback:
#    "+NEW -OLD", one batch of six messages (the port set and its copy for
#    ICMP errors, a delete and an add each).
#
# NOTRACKCTL_TEST_EDITS and NOTRACKCTL_TEST_SEED override the defaults (200, 1).
. "$(dirname "$0")/lib.sh"

edits=${NOTRACKCTL_TEST_EDITS:-200}
seed=${NOTRACKCTL_TEST_SEED:-1}
export NOTRACKCTL_TEST_BATCH_LOG=$work/batches

# the second namespace, for the fresh applies; emptied before each one
named_netns fresh ntc-fresh
ip netns exec "$fresh" ip link set lo up
in_fresh() { ip netns exec "$fresh" env NOTRACKCTL_STATE_DIR="$work/fresh-state" NOTRACKCTL_TEST_BATCH_LOG= "$@"; }

# dump FILE: our table as the kernel holds it, in nft's JSON, without handles
dump() { nft -j list ruleset >"$1"; }
dump_fresh() { in_fresh nft -j list ruleset >"$1"; }

# same A B WHAT: the same ruleset (nft-json-same.py: handles left out, sets
# by name, elements as a multiset), asked of one comparing process
coproc SAME { python3 "$src/tests/integration/nft-json-same.py" --serve; }
defer "kill $SAME_PID 2>/dev/null"
same() {
	local answer
	printf '%s\t%s\n' "$1" "$2" >&"${SAME[1]}"
	read -r answer <&"${SAME[0]}" || fail "$3: the comparing process is gone"
	[ "$answer" = same ] || fail "$3 (seed $seed): the rulesets $answer"
}

# last_batch_ok WHAT: exactly one batch went out since the log was emptied, and it was small
last_batch_ok() {
	local n bytes
	n=$(wc -l <"$NOTRACKCTL_TEST_BATCH_LOG")
	assert_eq "$n" 1 "$1: batches sent"
	bytes=$(awk '{print $2}' "$NOTRACKCTL_TEST_BATCH_LOG")
	[ "$bytes" -le 8192 ] || fail "$1: a batch of $bytes bytes (want at most 8 KiB): $(cat "$work/out")"
}

mkdir "$work/p"
python3 "$src/tests/integration/incremental-edits.py" "$work/p" 10000 "$edits" "$seed"

# ---------------------------------------------------------------- the one-port change, the foreign edit
run 0 ntc apply -q "$work/p/p000.json"
assert_contains "$work/out" "changed: generation 0 -> 1" "the first apply"
# one port out (one with no neighbours, so it is a set element of its own), one in
python3 - "$work/p/p000.json" "$work/one.json" >"$work/one.txt" <<-'PY'
	import json, sys
	p = json.load(open(sys.argv[1]))
	ports = p["notrack"]["services"][0]["ports"]
	used = set(x for x in ports if isinstance(x, int))
	old = [x for x in ports if isinstance(x, int) and x - 1 not in used and x + 1 not in used][100]
	new = 61000
	ports.remove(old)
	ports.append(new)
	json.dump(p, open(sys.argv[2], "w"))
	print(old, new)
PY
read -r old new <"$work/one.txt"
: >"$NOTRACKCTL_TEST_BATCH_LOG"
run 0 ntc apply "$work/one.json"
assert_contains "$work/out" "~ set svc0_ports: +$new -$old" "the diff of a one-port change"
assert_contains "$work/out" "~ set svc0_ports_icmp: +$new -$old" "the diff of its ICMP-error copy"
last_batch_ok "a one-port change"
msgs=$(awk '{print $4}' "$NOTRACKCTL_TEST_BATCH_LOG")
assert_eq "$msgs" 6 "messages of a one-port change (begin, delete and add in both sets, end)"
# rolling it back is a one-port change too
: >"$NOTRACKCTL_TEST_BATCH_LOG"
run 0 ntc rollback
assert_contains "$work/out" "~ set svc0_ports: +$old -$new" "the diff of the rollback"
last_batch_ok "the rollback of a one-port change"
assert_eq "$(awk '{print $4}' "$NOTRACKCTL_TEST_BATCH_LOG")" 6 "messages of the rollback"
run 0 ntc apply --json "$work/one.json"
assert_contains "$work/out" "~ set svc0_ports: +$new -$old" "the --json diff"
run 0 ntc apply -q "$work/p/p000.json"

# someone else deletes an element of our set: the next apply puts it back
nft delete element inet notrackctl svc0_ports "{ $old }"
: >"$NOTRACKCTL_TEST_BATCH_LOG"
run 0 ntc apply "$work/p/p000.json"
assert_contains "$work/out" "~ set svc0_ports: +$old" "the diff after a foreign delete"
last_batch_ok "the repair of a foreign delete"
nft list set inet notrackctl svc0_ports >"$work/set.txt"
grep -qw -- "$old" "$work/set.txt" || fail "port $old is not back in svc0_ports"
# and a foreign element added to the peers' interval set is taken out again
nft add element inet notrackctl svc0_peers4 '{ 172.16.0.0/12 }'
run 0 ntc apply "$work/p/p000.json"
assert_contains "$work/out" "~ set svc0_peers4: -172.16.0.0/12" "the diff after a foreign add"
in_fresh "$bin" apply -q "$work/p/p000.json" >/dev/null
dump "$work/a.json"
dump_fresh "$work/b.json"
same "$work/a.json" "$work/b.json" "after the foreign edits"
ntc remove -q >/dev/null
rm -rf "$NOTRACKCTL_STATE_DIR"

# ---------------------------------------------------------------- the property test
declare -A gen_of # policy number -> generation
run 0 ntc apply -q "$work/p/p000.json"
gen_of[0]=1
cp "$work/b.json" "$work/fresh-0.json" # the fresh apply of p000 above
for k in $(seq 1 "$edits"); do
	f=$(printf '%s/p/p%03d.json' "$work" "$k")
	: >"$NOTRACKCTL_TEST_BATCH_LOG"
	run 0 ntc apply "$f"
	g=$(sed -n 's/^changed: generation [0-9]* -> \([0-9]*\)$/\1/p' "$work/out")
	[ -n "$g" ] || fail "edit $k (seed $seed) changed nothing: $(head -c 500 "$work/out")"
	gen_of[$k]=$g
	cat "$work/out" >>"$work/diffs"
	last_batch_ok "edit $k (seed $seed)"
	dump "$work/a.json"
	in_fresh nft flush ruleset
	rm -rf "$work/fresh-state"
	in_fresh "$bin" apply -q "$f" >/dev/null
	dump_fresh "$work/fresh-$k.json"
	same "$work/a.json" "$work/fresh-$k.json" "edit $k"
done

# the edits went through every kind of change in place (seed 1, 200 edits)
if [ "$seed" = 1 ] && [ "$edits" -ge 200 ]; then
	for kind in "~ set svc0_ports: +" "~ set svc0_ports: -" "created again as intervals" "created again as a hash" \
		"+ set " "- set " "+ rule " "- rule "; do
		assert_contains "$work/diffs" "$kind" "the kinds of change the edits made"
	done
fi

# back through every generation, one rollback at a time
for k in $(seq $((edits - 1)) -1 0); do
	: >"$NOTRACKCTL_TEST_BATCH_LOG"
	run 0 ntc rollback
	assert_contains "$work/out" "-> ${gen_of[$k]}" "rollback to the generation of edit $k"
	last_batch_ok "the rollback to edit $k (seed $seed)"
	dump "$work/a.json"
	same "$work/a.json" "$work/fresh-$k.json" "rolled back to edit $k"
done
echo "PASS"
