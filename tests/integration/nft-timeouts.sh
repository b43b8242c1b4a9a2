#!/bin/bash
# Per-traffic timeouts of a keep_tracked entry (nft ct timeout objects),
# with real connections, read back from the kernel:
#  - tcp/8443 with "time_wait": 5: its TIME_WAIT entries have at most 5 s
#    left in `conntrack -L`, while tcp/9000 keeps the namespace's global
#    timeout, for connections from a peer (prerouting), for connections
#    this host opens (output), and over IPv6 (::1);
#  - `nft -j list ruleset` holds the object and both timeout chains;
#  - an object someone else adds to our table is drift (status, diff), and
#    the next apply removes it;
#  - a changed value replaces the object (its name is its content);
#  - where entries overlap, the first one with timeouts decides;
#  - rollback removes the objects and the timeout chains, and new
#    connections get the global timeout again;
#  - restore after a simulated reboot brings them back, byte-identical;
#  - the iptables backend refuses the policy, naming the JSON path, and
#    applies nothing;
#  - lint notes a foreign notrack rule that untracks the entry's traffic
#    (the timeouts would do nothing there).
. "$(dirname "$0")/lib.sh"

stateful_filter
nft add rule inet filter input tcp dport '{ 8443, 9000 }' accept
peer cli 10.20.0.2/24 veth-cli 10.20.0.1/24
cli_pid=$peer_pid

global=$(cat /proc/sys/net/netfilter/nf_conntrack_tcp_timeout_time_wait)
[ "$global" -gt 5 ] || fail "the namespace's global time_wait is $global: nothing to tell apart"

# policy FILE TIME_WAIT: tcp/80 untracked, tcp/8443 kept with its timeouts
policy() {
	cat >"$1" <<-EOF
		{
		  "version": 1,
		  "notrack": { "services": [ { "proto": "tcp", "ports": [80] } ] },
		  "keep_tracked": [
		    { "reason": "nat", "proto": "tcp", "ports": [8443], "timeouts": { "time_wait": $2 } }
		  ]
		}
	EOF
}
policy "$work/pol-tw5.json" 5
policy "$work/pol-tw7.json" 7
cat >"$work/pol-plain.json" <<-'EOF'
	{
	  "version": 1,
	  "notrack": { "services": [ { "proto": "tcp", "ports": [80] } ] },
	  "keep_tracked": [ { "reason": "nat", "proto": "tcp", "ports": [8443] } ]
	}
EOF

# servers here (inbound) and in the peer (for what this host opens)
for port in 8443 9000; do
	start_server "$port" 0.0.0.0
	start_server "$port" ::1 # IPv6: one object (l3proto inet) serves both families
	# nsenter itself (it execs the server), not a function's subshell: that is what defer kills
	nsenter -t "$cli_pid" -n python3 "$tcpload" serve 0.0.0.0 "$port" &
	defer "kill $! 2>/dev/null; wait $! 2>/dev/null"
done
for port in 8443 9000; do
	wait_until 10 "the peer's server on $port" sh -c "python3 '$tcpload' connect 10.20.0.2 $port 1 >/dev/null 2>&1"
done

# time_wait_left PORT FILE: the seconds left of every TIME_WAIT entry to
# PORT, one a line (conntrack -L prints them after the protocol number).
time_wait_left() {
	conntrack -L -p tcp --dport "$1" --state TIME_WAIT >"$work/ct-list" 2>/dev/null || true
	awk '{ print $3 }' "$work/ct-list" >"$2"
}
count_at_least() { time_wait_left "$1" "$work/left"; [ "$(wc -l <"$work/left")" -ge "$2" ]; }

# traffic WHO EXPECT8443: 4 connections to each port, from the peer
# (inbound) or from here (outbound); then the TIME_WAIT entries of 8443
# must have at most EXPECT8443 s left (and, when that is the global
# timeout, more than 5 s), and those of 9000 more than 5 s and at most the
# global timeout.  These are the timeouts the kernel set, not measured
# durations: a global 120 s entry read within a few seconds has over 5 left.
# connect_round WHO: 4 connections to each of 8443 and 9000, from the peer
# (inbound), from here to the peer (outbound) or over ::1 (loopback6); the
# seconds their TIME_WAIT entries have left go to $work/left8443, left9000
connect_round() {
	local who=$1 port ok
	ct_flush
	for port in 8443 9000; do
		if [ "$who" = inbound ]; then
			ok=$(in_peer "$cli_pid" python3 "$tcpload" connect 10.20.0.1 "$port" 4) || true
		elif [ "$who" = loopback6 ]; then
			ok=$(python3 "$tcpload" connect ::1 "$port" 4) || true
		else
			ok=$(python3 "$tcpload" connect 10.20.0.2 "$port" 4) || true
		fi
		assert_eq "$ok" 4 "$who connections to $port"
	done
	wait_until 10 "$who: TIME_WAIT entries for 8443" count_at_least 8443 4
	time_wait_left 8443 "$work/left8443"
	wait_until 10 "$who: TIME_WAIT entries for 9000" count_at_least 9000 4
	time_wait_left 9000 "$work/left9000"
}

traffic() {
	local who=$1 want=$2
	connect_round "$who"
	awk -v max="$want" '$1 > max { bad = 1 } END { exit bad }' "$work/left8443" ||
		fail "$who: TIME_WAIT to 8443 has more than $want s left: $(tr '\n' ' ' <"$work/left8443")"
	# without our timeouts, 8443 must keep the global one too, not just stay under it
	[ "$want" != "$global" ] || awk '$1 <= 5 { bad = 1 } END { exit bad }' "$work/left8443" ||
		fail "$who: TIME_WAIT to 8443 should keep the global $global s: $(tr '\n' ' ' <"$work/left8443")"
	awk -v g="$global" '$1 <= 5 || $1 > g { bad = 1 } END { exit bad }' "$work/left9000" ||
		fail "$who: TIME_WAIT to 9000 should keep the global $global s: $(tr '\n' ' ' <"$work/left9000")"
	echo "$who: 8443 left $(sort -rn "$work/left8443" | tr '\n' ' ')s (want <= $want), 9000 left $(sort -n "$work/left9000" | tr '\n' ' ')s (global $global)"
}

# objects FILE: our table's ct timeout objects and chains, from nft -j
objects() {
	nft -j list ruleset >"$work/ruleset.json"
	python3 - "$work/ruleset.json" >"$1" <<-'PY'
		import json, sys
		for o in json.load(open(sys.argv[1]))["nftables"]:
		    if "ct timeout" in o and o["ct timeout"]["table"] == "notrackctl":
		        t = o["ct timeout"]
		        print("object", t["name"], t["protocol"], json.dumps(t["policy"], sort_keys=True))
		    if "chain" in o and o["chain"]["table"] == "notrackctl":
		        c = o["chain"]
		        print("chain", c["name"], c.get("hook"), c.get("prio"))
		    if "rule" in o and o["rule"]["table"] == "notrackctl" and o["rule"]["chain"].startswith("timeout_"):
		        r = o["rule"]
		        ref = [e["ct timeout"] for e in r["expr"] if "ct timeout" in e]
		        print("rule", r["chain"], *ref)
	PY
}

# same_rules A B: snapshots A and B hold the same rules, counters aside
# (the untracked accepts in the filter table count the traffic in between)
same_rules() {
	local f
	for f in "$1" "$2"; do
		sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/' "$work/$f.nft" >"$work/$f.nocount"
	done
	assert_same_file "$work/$1.nocount" "$work/$2.nocount" "nft list ruleset without counters ($1 vs $2)"
}

# 1. generation 1 without timeouts: nothing changes for 8443
run 0 ntc apply -q "$work/pol-plain.json"
objects "$work/obj-plain"
assert_not_contains "$work/obj-plain" "object" "objects of a policy without timeouts"
snapshot plain # before traffic: snapshots hold counters
traffic inbound "$global"

# 2. generation 2 with time_wait 5
run 0 ntc apply "$work/pol-tw5.json"
assert_contains "$work/out" "changed: generation 1 -> 2" "apply with timeouts"
snapshot tw5
objects "$work/obj-tw5"
assert_contains "$work/obj-tw5" 'object ct_tcp_tw5 tcp {"time_wait": 5}' "the ct timeout object"
assert_contains "$work/obj-tw5" "chain timeout_prerouting prerouting -150" "the prerouting timeout chain"
assert_contains "$work/obj-tw5" "chain timeout_output output -150" "the output timeout chain"
assert_contains "$work/obj-tw5" "rule timeout_prerouting ct_tcp_tw5" "a prerouting rule using the object"
assert_contains "$work/obj-tw5" "rule timeout_output ct_tcp_tw5" "an output rule using the object"
traffic inbound 5
traffic outbound 5
traffic loopback6 5
run 0 ntc apply "$work/pol-tw5.json"
assert_contains "$work/out" "unchanged" "a second apply of the same timeouts"

# someone else's object in our table: drift, and the next apply removes it
nft add ct timeout inet notrackctl extra '{ protocol udp; policy = { unreplied: 9 }; }'
run 0 ntc status
assert_contains "$work/out" "our rules changed since generation 2" "status with a foreign object in our table"
run 1 ntc diff "$work/pol-tw5.json"
assert_contains "$work/out" "- ct timeout extra" "diff with a foreign object in our table"
run 0 ntc apply -q "$work/pol-tw5.json"
objects "$work/obj-repaired"
assert_not_contains "$work/obj-repaired" "extra" "the foreign object after apply"
assert_contains "$work/obj-repaired" "object ct_tcp_tw5" "our object after the repair"

# 3. a changed value: a new object, the old one gone
run 0 ntc apply -q "$work/pol-tw7.json"
objects "$work/obj-tw7"
assert_contains "$work/obj-tw7" 'object ct_tcp_tw7 tcp {"time_wait": 7}' "the changed object"
assert_not_contains "$work/obj-tw7" "ct_tcp_tw5" "the old object after a change"
traffic outbound 7

# overlapping entries: the first with timeouts that matches decides (8443
# is in both; 9000 only in the second)
python3 - "$work/pol-overlap.json" <<-'PY'
	import json, sys
	p = {"version": 1, "notrack": {"services": [{"proto": "tcp", "ports": [80]}]},
	     "keep_tracked": [{"reason": "nat", "proto": "tcp", "ports": [8443], "timeouts": {"time_wait": 5}},
	                      {"reason": "nat", "proto": "tcp", "ports": ["8000-9000"], "timeouts": {"time_wait": 7}}]}
	json.dump(p, open(sys.argv[1], "w"))
PY
run 0 ntc apply -q "$work/pol-overlap.json"
connect_round outbound
awk '$1 > 5 { bad = 1 } END { exit bad }' "$work/left8443" ||
	fail "overlap: 8443 should have the first entry's 5 s: $(tr '\n' ' ' <"$work/left8443")"
awk '$1 <= 5 || $1 > 7 { bad = 1 } END { exit bad }' "$work/left9000" ||
	fail "overlap: 9000 should have the second entry's 7 s: $(tr '\n' ' ' <"$work/left9000")"
echo "overlap: 8443 left $(sort -rn "$work/left8443" | tr '\n' ' ')s, 9000 left $(sort -rn "$work/left9000" | tr '\n' ' ')s"

# 4. rollback four times (overlap, 7, repaired 5, 5): back to generation 1, no objects, no timeout chains
run 0 ntc rollback
run 0 ntc rollback
run 0 ntc rollback
run 0 ntc rollback
run 0 ntc generations --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["current"] == 1, d' "$work/out" ||
	fail "current after the rollbacks: $(cat "$work/out")"
objects "$work/obj-rolled"
assert_not_contains "$work/obj-rolled" "object" "objects after rollback to generation 1"
assert_not_contains "$work/obj-rolled" "timeout_" "timeout chains after rollback to generation 1"
snapshot rolled
same_rules plain rolled
traffic inbound "$global"
traffic outbound "$global"

# 5. restore after a "reboot": apply tw5 again, forget the kernel's ruleset
run 0 ntc apply -q "$work/pol-tw5.json"
snapshot tw5-again
same_rules tw5 tw5-again
nft flush ruleset
stateful_filter
nft add rule inet filter input tcp dport '{ 8443, 9000 }' accept
run 0 ntc restore
snapshot restored
same_rules tw5 restored
traffic inbound 5

# 6. the iptables backend refuses, naming the entry, and applies nothing
save_without_dates "$work/legacy-before" iptables-legacy-save -t raw
run 3 ntc apply --backend iptables "$work/pol-tw5.json"
assert_contains "$work/err" '$.keep_tracked[0].timeouts' "the iptables refusal's JSON path"
assert_contains "$work/err" "does not set per-traffic timeouts" "the iptables refusal"
save_without_dates "$work/legacy-after" iptables-legacy-save -t raw
assert_same_file "$work/legacy-before" "$work/legacy-after" "iptables raw table after the refusal"
# 7. lint: a foreign notrack rule on the same traffic makes the timeouts
# useless there, and lint says so in a note (nothing breaks: exit 0)
nft add table inet other
nft add chain inet other raw '{ type filter hook prerouting priority raw; }'
nft add rule inet other raw tcp dport 8443 notrack
run 0 ntc lint "$work/pol-tw5.json"
assert_contains "$work/out" '$.keep_tracked[0].timeouts: inet other raw (tcp dport 8443 notrack' "lint's note on a foreign notrack"
assert_contains "$work/out" "the timeouts (ct_tcp_tw5) have no effect there" "lint's note on a foreign notrack"
run 0 ntc lint "$work/pol-plain.json"
assert_not_contains "$work/out" "timeouts" "lint of a policy without timeouts"
echo "PASS"
