#!/bin/bash
# Per-traffic UDP timeouts of a keep_tracked entry, with real datagrams, read
# back from the kernel: udp/5353 with "udp": 5 and "udp_stream": 15.
#  - unreplied entries of 5353 have at most 5 s left in `conntrack -L`,
#    those of udp/5454 more than 5 s and at most the global
#    nf_conntrack_udp_timeout;
#  - streams (replied, over 2 s old: [ASSURED]) of 5353 at most 15 s, those
#    of 5454 more than 15 s and at most the global
#    nf_conntrack_udp_timeout_stream;
#  - both for datagrams from a peer (prerouting) and for those this host
#    sends (output).
. "$(dirname "$0")/lib.sh"

udpflow=$src/tests/integration/udpflow.py
traffic_py=$src/tests/integration/diag-traffic.py
stateful_filter
nft add rule inet filter input udp dport '{ 5353, 5454 }' accept
peer cli 10.20.0.2/24 veth-cli 10.20.0.1/24
cli_pid=$peer_pid
in_peer "$cli_pid" nft -f - <<-'EOF'
	table inet filter {
		chain input {
			type filter hook input priority filter; policy accept;
			ct state established,related accept
		}
	}
EOF

unreplied=$(cat /proc/sys/net/netfilter/nf_conntrack_udp_timeout)
stream=$(cat /proc/sys/net/netfilter/nf_conntrack_udp_timeout_stream)
[ "$unreplied" -gt 5 ] && [ "$stream" -gt 15 ] || fail "global udp $unreplied, stream $stream: nothing to tell apart"

cat >"$work/pol.json" <<-'EOF'
	{
	  "version": 1,
	  "notrack": { "services": [ { "proto": "tcp", "ports": [80] } ] },
	  "keep_tracked": [
	    { "reason": "nat", "proto": "udp", "ports": [5353], "timeouts": { "udp": 5, "udp_stream": 15 } }
	  ]
	}
EOF
run 0 ntc apply -q "$work/pol.json"
nft -j list ruleset >"$work/ruleset.json"
python3 - "$work/ruleset.json" <<-'PY' || fail "no udp ct timeout object: $(cat "$work/ruleset.json")"
	import json, sys
	objs = [o["ct timeout"] for o in json.load(open(sys.argv[1]))["nftables"] if "ct timeout" in o]
	assert any(o["protocol"] == "udp" and o["policy"] == {"unreplied": 5, "replied": 15} for o in objs), objs
PY

# left PORT SRC WHAT FILE: seconds left of the entries to PORT from SRC
# whose flags match WHAT (UNREPLIED or ASSURED), one a line
left() {
	conntrack -L -p udp --dport "$1" --orig-src "$2" >"$work/ct-list" 2>/dev/null || true
	grep -F "[$3]" "$work/ct-list" | awk '{ print $3 }' >"$4" || true
}
# within FILE LOW HIGH WHAT: every line of FILE is > LOW and <= HIGH, and there is one
within() {
	[ -s "$1" ] || fail "$4: no entries"
	awk -v lo="$2" -v hi="$3" '$1 <= lo || $1 > hi { bad = 1 } END { exit bad }' "$1" ||
		fail "$4: $(tr '\n' ' ' <"$1")s left, want more than $2 and at most $3"
	echo "$4: $(tr '\n' ' ' <"$1")s left"
}

# 1. unreplied: nobody listens yet, so no reply comes back
ct_flush
in_peer "$cli_pid" python3 "$traffic_py" udp 10.20.0.2 10.20.0.1 5353 3 40000
in_peer "$cli_pid" python3 "$traffic_py" udp 10.20.0.2 10.20.0.1 5454 3 40000
python3 "$traffic_py" udp 10.20.0.1 10.20.0.2 5353 3 41000
python3 "$traffic_py" udp 10.20.0.1 10.20.0.2 5454 3 41000
for who in 10.20.0.2:inbound 10.20.0.1:outbound; do
	left 5353 "${who%%:*}" UNREPLIED "$work/l5353"
	within "$work/l5353" 0 5 "${who#*:} unreplied udp/5353"
	left 5454 "${who%%:*}" UNREPLIED "$work/l5454"
	within "$work/l5454" 5 "$unreplied" "${who#*:} unreplied udp/5454"
done

# 2. streams: echo servers here and in the peer, a flow to each
ct_flush
for port in 5353 5454; do
	python3 "$udpflow" echo 0.0.0.0 "$port" &
	defer "kill $! 2>/dev/null; wait $! 2>/dev/null"
	nsenter -t "$cli_pid" -n python3 "$udpflow" echo 0.0.0.0 "$port" &
	defer "kill $! 2>/dev/null; wait $! 2>/dev/null"
done
nsenter -t "$cli_pid" -n python3 "$udpflow" flows 10.20.0.1 "$work/stop" 5353 5454 >"$work/in.out" &
in_flows=$!
defer "kill $in_flows 2>/dev/null"
python3 "$udpflow" flows 10.20.0.2 "$work/stop" 5353 5454 >"$work/out.out" &
out_flows=$!
defer "kill $out_flows 2>/dev/null"
# assured() : all four flows are streams
assured() {
	conntrack -L -p udp >"$work/ct-all" 2>/dev/null || true
	[ "$(grep -cE 'dport=(5353|5454) .*\[ASSURED\]' "$work/ct-all")" -ge 4 ]
}
wait_until 15 "four assured UDP streams" assured
touch "$work/stop"
wait "$in_flows" || fail "inbound flows lost their echoes: $(cat "$work/in.out")"
wait "$out_flows" || fail "outbound flows lost their echoes: $(cat "$work/out.out")"
for who in 10.20.0.2:inbound 10.20.0.1:outbound; do
	left 5353 "${who%%:*}" ASSURED "$work/s5353"
	within "$work/s5353" 0 15 "${who#*:} stream udp/5353"
	left 5454 "${who%%:*}" ASSURED "$work/s5454"
	within "$work/s5454" 15 "$stream" "${who#*:} stream udp/5454"
done
echo "PASS"
