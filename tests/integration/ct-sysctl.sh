#!/bin/bash
# The policy's "conntrack" section, read back from /proc/sys/net/netfilter
# in the test's own namespace (the timeouts are per namespace there):
#  - apply sets the values, a later apply releases a key it no longer names
#    back to the exact value it had before notrackctl set it;
#  - status and diff show a value someone changed behind our back;
#  - rollback puts back exactly what was there, down to generation 0;
#  - restore after a simulated reboot (a fresh namespace: default values,
#    empty ruleset, same state directory) brings rules and values back;
#  - a value this namespace cannot write (nf_conntrack_max) is refused in
#    one line naming the key, and nothing is applied;
#  - max and buckets through the sysctl-root seam (never the host's);
#  - a write the kernel refuses puts back the values and the rules;
#  - advise --write-policy puts its recommendation into a policy apply takes;
#  - a run killed at each step of the change leaves values and state
#    agreeing once the next command (or a restore after a reboot) ran.
. "$(dirname "$0")/lib.sh"
backend=nft
. "$(dirname "$0")/crash-lib.sh"

P=/proc/sys/net/netfilter
val() { cat "$P/nf_conntrack_$1"; }
# values KEY=VALUE...: each named value is what the kernel holds
values() {
	local kv
	for kv in "$@"; do
		assert_eq "$(val "${kv%%=*}")" "${kv#*=}" "nf_conntrack_${kv%%=*} ($what)"
	done
}
policy() { # policy NAME CONNTRACK-JSON
	printf '{"version": 1, "notrack": {"services": [{"proto": "tcp", "ports": [80]}]},\n "conntrack": %s}\n' \
		"$2" >"$work/$1.json"
}
policy a '{"tcp_timeout_time_wait": 30, "udp_timeout": 20}'
policy b '{"tcp_timeout_time_wait": 40, "tcp_timeout_established": 600}'
policy bad '{"tcp_timeout_time_wait": 50, "max": 1000}'
stateful_filter

# a value that is not the kernel default before we manage it: what goes back
echo 33 >"$P/nf_conntrack_udp_timeout"
est0=$(val tcp_timeout_established)
tw0=$(val tcp_timeout_time_wait)
snapshot boot

run 0 ntc apply "$work/a.json"
assert_contains "$work/out" "~ conntrack.udp_timeout: 33 -> 20" "apply a reports the change"
what="after apply a" values tcp_timeout_time_wait=30 udp_timeout=20 tcp_timeout_established="$est0"
snapshot applied-a
run 0 ntc apply "$work/b.json"
what="after apply b" values tcp_timeout_time_wait=40 udp_timeout=33 tcp_timeout_established=600
run 0 ntc apply "$work/b.json"
assert_contains "$work/out" "unchanged" "apply b again"

# drift: someone else changes a managed value
echo 41 >"$P/nf_conntrack_tcp_timeout_time_wait"
run 0 ntc status
assert_contains "$work/out" "CHANGED since by someone else" "status shows drift"
assert_contains "$work/out" "now 41  (drift)" "status names the drifted value"
run 0 ntc status --json
python3 -c '
import json, sys
d = {c["key"]: c for c in json.load(open(sys.argv[1]))["conntrack"]}
assert d["tcp_timeout_time_wait"] == {"key": "tcp_timeout_time_wait", "set": 40, "now": 41, "drift": True}, d
assert d["tcp_timeout_established"]["drift"] is False, d' "$work/out" || fail "status --json drift: $(cat "$work/out")"
run 1 ntc diff "$work/b.json"
assert_contains "$work/out" "~ conntrack.tcp_timeout_time_wait: 41 -> 40" "diff shows drift"
what="diff changes nothing" values tcp_timeout_time_wait=41

# rollback: exactly what was there
run 0 ntc rollback
what="rollback to a" values tcp_timeout_time_wait=30 udp_timeout=20 tcp_timeout_established="$est0"
snapshot rolled-a
assert_same_rules applied-a rolled-a
run 0 ntc rollback
what="rollback to 0" values tcp_timeout_time_wait="$tw0" udp_timeout=33 tcp_timeout_established="$est0"
[ ! -e "$NOTRACKCTL_STATE_DIR/conntrack.json" ] || fail "the baseline is left after rolling back to 0"
snapshot rolled-0
assert_same_rules boot rolled-0

# restore after a simulated reboot: a fresh namespace has the default
# values and an empty ruleset; the state directory stays
run 0 ntc apply -q "$work/b.json"
nft list table inet notrackctl >"$work/ours-b"
cat >"$work/reboot.sh" <<EOF
set -e
[ "\$(cat $P/nf_conntrack_tcp_timeout_time_wait)" = 120 ] || { echo "not a fresh namespace"; exit 3; }
"$bin" restore >&2
cat $P/nf_conntrack_tcp_timeout_time_wait $P/nf_conntrack_tcp_timeout_established
nft list table inet notrackctl
EOF
unshare -n -- bash "$work/reboot.sh" >"$work/reboot.out" 2>"$work/reboot.err" || fail "restore after a reboot: $(cat "$work/reboot.err" "$work/reboot.out")"
assert_eq "$(sed -n 1,2p "$work/reboot.out" | tr '\n' ' ')" "40 600 " "values after restore in the rebooted namespace"
sed -n '3,$p' "$work/reboot.out" >"$work/ours-reboot"
assert_same_file "$work/ours-b" "$work/ours-reboot" "our table after restore in the rebooted namespace"

# a value this namespace cannot write: one line, nothing applied
snapshot before-bad
gens=$(ls "$NOTRACKCTL_STATE_DIR/gen" | wc -l)
run 7 ntc apply "$work/bad.json"
assert_eq "$(wc -l <"$work/err")" 1 "the refusal is one line"
assert_contains "$work/err" 'bad.json:2:' "the refusal names the file and line"
assert_contains "$work/err" '$.conntrack.max: net.netfilter.nf_conntrack_max cannot be written here' "the refusal names the key"
what="nothing applied" values tcp_timeout_time_wait=40
snapshot after-bad
assert_same_rules before-bad after-bad
assert_eq "$(ls "$NOTRACKCTL_STATE_DIR/gen" | wc -l)" "$gens" "generations after the refusal"

# a write the kernel refuses half-way: values and rules go back
policy c '{"tcp_timeout_time_wait": 45, "udp_timeout": 21}'
sed -i 's/"ports": \[80\]/"ports": [80, 443]/' "$work/c.json"
NOTRACKCTL_TEST_SYSCTL_FAIL=udp_timeout run 5 ntc apply "$work/c.json"
assert_contains "$work/err" "the kernel refused 21" "the refused write is named"
assert_contains "$work/err" "the kernel was put back to generation" "the rules went back"
what="after the refused write" values tcp_timeout_time_wait=40 udp_timeout=33
assert_not_contains "$NOTRACKCTL_STATE_DIR/conntrack.json" udp_timeout "the baseline after the refused write"
snapshot after-fault
assert_same_rules before-bad after-fault
assert_eq "$(ls "$NOTRACKCTL_STATE_DIR/gen" | wc -l)" "$gens" "generations after the refused write"

# max and buckets, which only the initial namespace can write, through the
# seam: plain files stand in for /proc/sys/net/netfilter
root=$work/sysroot
mkdir "$root"
for f in "$P"/nf_conntrack_*; do cat "$f" >"$root/${f##*/}"; done
echo 262144 >"$root/nf_conntrack_max"
echo 65536 >"$root/nf_conntrack_buckets"
policy big '{"max": 524288, "buckets": 131072}'
export NOTRACKCTL_TEST_SYSCTL_ROOT=$root NOTRACKCTL_STATE_DIR=$work/state-seam
run 0 ntc apply "$work/big.json"
assert_eq "$(cat "$root/nf_conntrack_max") $(cat "$root/nf_conntrack_buckets")" "524288 131072" "max and buckets set"
run 0 ntc rollback
assert_eq "$(cat "$root/nf_conntrack_max") $(cat "$root/nf_conntrack_buckets")" "262144 65536" "max and buckets rolled back"
policy huge '{"buckets": 0}'
run 3 ntc apply "$work/huge.json"
assert_contains "$work/err" '$.conntrack.buckets: 0 is out of range for buckets' "buckets out of range"

# advise --write-policy: the recommendation goes into an existing policy,
# which keeps everything else, and apply takes it
cp "$work/a.json" "$work/adv.json"
run 0 ntc advise --json --peak 300000 --ram $((16 << 30)) --write-policy "$work/adv.json"
python3 - "$work/out" "$work/adv.json" "$work/a.json" <<-'PY' || fail "advise --write-policy: $(cat "$work/out" "$work/adv.json")"
	import json, sys
	rep, pol, orig = (json.load(open(f)) for f in sys.argv[1:])
	want = {"max": rep["sizes"]["max"], "buckets": rep["sizes"]["buckets"]}
	assert want["max"] >= 600000, rep["sizes"]
	assert rep["policy_values"] == want, rep["policy_values"]
	assert pol["conntrack"] == dict(orig["conntrack"], **want), pol
	assert pol["notrack"] == orig["notrack"], pol
PY
max=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["conntrack"]["max"])' "$work/adv.json")
run 0 ntc apply "$work/adv.json"
assert_eq "$(cat "$root/nf_conntrack_max")" "$max" "max after applying advise's policy"
unset NOTRACKCTL_TEST_SYSCTL_ROOT
export NOTRACKCTL_STATE_DIR=$work/state
# without the seam, in this namespace: max and buckets are left out, said so,
# and a policy with nothing to hold is not created
run 0 ntc advise --write-policy "$work/adv-ns.json"
assert_contains "$work/out" "left out max" "advise in a namespace"
assert_contains "$work/out" "nothing to write to" "advise in a namespace"
[ ! -e "$work/adv-ns.json" ] || fail "advise created a policy with nothing in it"

# the iptables backend: the same step after its libiptc commit
if command -v iptables-legacy-save >/dev/null; then
	run 0 ntc remove
	what="remove" values tcp_timeout_time_wait="$tw0" udp_timeout=33 tcp_timeout_established="$est0"
	export NOTRACKCTL_STATE_DIR=$work/state-ipt
	run 0 ntc --backend iptables apply "$work/a.json"
	what="iptables backend, apply" values tcp_timeout_time_wait=30 udp_timeout=20
	iptables-legacy-save -t raw >"$work/ipt-raw"
	assert_contains "$work/ipt-raw" "NOTRACKCTL" "iptables backend: rules applied"
	run 0 ntc --backend iptables rollback
	what="iptables backend, rollback" values tcp_timeout_time_wait="$tw0" udp_timeout=33
	export NOTRACKCTL_STATE_DIR=$work/state
fi

# killed at each step of an apply that changes only values: the next
# command settles them as the generation `current` names, and so does a
# restore after a reboot
gen_value() { # gen_value KEY: the value the current generation's policy sets (or the baseline)
	python3 - "$NOTRACKCTL_STATE_DIR" "$1" <<-'PY'
		import json, sys
		d, key = sys.argv[1], sys.argv[2]
		cur = int(open(d + "/current").read())
		pol = json.loads(json.load(open("%s/gen/%d.json" % (d, cur)))["policy"]) if cur else {}
		print(pol.get("conntrack", {}).get(key, "unset"))
	PY
}
for point in before-sysctl after-sysctl after-save before-clear; do
	run 0 ntc apply -q "$work/a.json"
	sync_kill "$point" "$bin" apply -q "$work/b.json"
	run 0 ntc confirm # the next command, a writer: it recovers first
	[ ! -e "$NOTRACKCTL_STATE_DIR/intent.json" ] || fail "$point: the journal is left"
	want=$(gen_value tcp_timeout_time_wait)
	what="killed at $point, then the next command" values tcp_timeout_time_wait="$want"
	want=$(gen_value tcp_timeout_established)
	[ "$want" != unset ] || want=$est0
	what="killed at $point, then the next command" values tcp_timeout_established="$want"
	# the same kill, then a reboot (a fresh namespace) and restore
	run 0 ntc apply -q "$work/a.json"
	sync_kill "$point" "$bin" apply -q "$work/b.json"
	unshare -n -- sh -c '"$1" restore >&2 && cat "$2"' sh "$bin" "$P/nf_conntrack_tcp_timeout_time_wait" \
		>"$work/reboot.out" 2>"$work/reboot.err" || fail "$point: restore after a reboot: $(cat "$work/reboot.err")"
	[ ! -e "$NOTRACKCTL_STATE_DIR/intent.json" ] || fail "$point: the journal is left after restore"
	assert_eq "$(cat "$work/reboot.out")" "$(gen_value tcp_timeout_time_wait)" "killed at $point, then reboot and restore"
done
echo "PASS"
