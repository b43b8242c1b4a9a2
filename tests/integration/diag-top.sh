#!/bin/bash
# notrackctl top against known traffic in a throwaway network namespace:
# 5,000 UDP flows and 2,000 TCP connections on loopback plus 100 UDP flows
# out of a veth.  Asserts the exact counts by protocol and TCP state, the
# exact top lists and the coverage of the current and of two candidate
# policies, and cross-checks them with conntrack -C and conntrack -L.
#
# Usage: diag-top.sh NOTRACKCTL
set -euo pipefail
. "$(dirname "$0")/diag-lib.sh"
diag_begin "$@"
diag_add_veth

# UDP on loopback: nobody answers, so the entries stay (raise the 30 s
# timeout of this namespace so a slow run cannot lose any)
sysctl -qw net.netfilter.nf_conntrack_udp_timeout=600
python3 "$traffic" udp 127.0.1.1 127.0.0.1 5353 2000 20000
python3 "$traffic" udp 127.0.1.2 127.0.0.1 5353 1500 20000
python3 "$traffic" udp 127.0.1.3 127.0.0.1 5354 1000 20000
python3 "$traffic" udp 127.0.1.4 127.0.0.1 5355 500 20000
# UDP out of v0 to a remote address
python3 "$traffic" udp 10.9.0.1 10.9.0.2 53 100 20000
# TCP on loopback: 1,500 closed (TIME_WAIT), 500 held open (ESTABLISHED)
python3 "$traffic" tcp-closed 127.0.2.1 127.0.0.1 8080 1200 30000
python3 "$traffic" tcp-closed 127.0.2.3 127.0.0.1 8080 300 30000
python3 "$traffic" tcp-hold 127.0.2.2 127.0.0.1 8443 500 30000 "$work/ready" &
holder=$!
defer "kill $holder 2>/dev/null; wait $holder 2>/dev/null"
for _ in $(seq 100); do [ -e "$work/ready" ] && break; sleep 0.1; done
[ -e "$work/ready" ] || fail "the TCP holder did not get ready"
diag_wait_settled

# the current policy: notrack this host's queries to port 5353
cat >"$work/current.json" <<'JSON'
{"version": 1, "notrack": {"upstreams": [{"proto": "udp", "ports": [5353]}]}}
JSON
"$bin" apply -q --state-dir "$state" "$work/current.json" >/dev/null

"$bin" top --json -n 10 --state-dir "$state" >"$work/top.json"
j() { jq -r "$1" "$work/top.json"; }

# totals: ours, conntrack -C and conntrack -L agree, and match what we made
expect_eq "conntrack -C" "$(conntrack -C)" 7100
expect_eq "entries" "$(j .entries)" 7100
expect_eq "families" "$(j '"\(.families.ipv4) \(.families.ipv6)"')" "7100 0"
expect_eq "udp entries" "$(j '.protocols[] | select(.proto == "udp") | .entries')" 5100
expect_eq "udp = conntrack -L -p udp" "$(ct_count -p udp)" 5100
expect_eq "tcp entries" "$(j '.protocols[] | select(.proto == "tcp") | .entries')" 2000
expect_eq "tcp = conntrack -L -p tcp" "$(ct_count -p tcp)" 2000
expect_eq "protocols" "$(j '.protocols | length')" 2

# TCP states: exact, and each equal to what conntrack -L says
expect_eq "TIME_WAIT" "$(j .tcp_states.TIME_WAIT)" 1500
expect_eq "ESTABLISHED" "$(j .tcp_states.ESTABLISHED)" 500
conntrack -L -p tcp 2>/dev/null | awk '{n[$4]++} END {for (s in n) print s, n[s]}' | sort >"$work/states.ct"
j '.tcp_states | to_entries[] | select(.value > 0) | "\(.key) \(.value)"' | sort >"$work/states.ours"
diff -u "$work/states.ct" "$work/states.ours" || fail "TCP states differ from conntrack -L"
echo "ok   TCP states = conntrack -L"
expect_eq "unreplied udp" "$(j .udp_unreplied)" 5100

# top lists: exact, ties in address / protocol order
expect_eq "top sources" "$(j '[.top.sources.rows[] | "\(.address)=\(.entries)"] | join(" ")')" \
	"127.0.1.1=2000 127.0.1.2=1500 127.0.2.1=1200 127.0.1.3=1000 127.0.1.4=500 127.0.2.2=500 127.0.2.3=300 10.9.0.1=100"
expect_eq "top destination ports" \
	"$(j '[.top.destination_ports.rows[] | "\(.proto)/\(.port)=\(.entries)"] | join(" ")')" \
	"udp/5353=3500 tcp/8080=1500 udp/5354=1000 tcp/8443=500 udp/5355=500 udp/53=100"
expect_eq "top pairs" \
	"$(j '[.top.source_destination_ports.rows[] | "\(.address)>\(.proto)/\(.port)=\(.entries)"] | join(" ")')" \
	"127.0.1.1>udp/5353=2000 127.0.1.2>udp/5353=1500 127.0.2.1>tcp/8080=1200 127.0.1.3>udp/5354=1000 127.0.1.4>udp/5355=500 127.0.2.2>tcp/8443=500 127.0.2.3>tcp/8080=300 10.9.0.1>udp/53=100"
expect_eq "exact" "$(j '[.top[] | objects | .exact] | all')" true
# the same source counts from conntrack -L, the way admins do it today
conntrack -L 2>/dev/null | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^src=/) {sub("src=", "", $i); n[$i]++; break}}
	END {for (a in n) print a "=" n[a]}' | sort >"$work/src.ct"
j '.top.sources.rows[] | "\(.address)=\(.entries)"' | sort >"$work/src.ours"
diff -u "$work/src.ct" "$work/src.ours" || fail "top sources differ from conntrack -L"
echo "ok   top sources = conntrack -L"

# coverage of the current policy (generation 1): the 3,500 queries to 5353
expect_eq "current generation" "$(j .coverage.current.generation)" 1
expect_eq "current avoided" "$(j .coverage.current.avoided)" 3500
expect_eq "current avoided = conntrack -L -p udp --dport 5353" "$(ct_count -p udp --dport 5353)" 3500
expect_eq "current avoided %" "$(j .coverage.current.avoided_percent)" 49.3
expect_eq "current by origin" "$(j '.coverage.current.by_origin[] | "\(.origin)=\(.entries)"')" \
	'$.notrack.upstreams[0]=3500'
expect_eq "no candidate" "$(j .coverage.candidate)" null

# candidate: loopback covers everything on lo, not what leaves through v0
cat >"$work/loopback.json" <<'JSON'
{"version": 1, "notrack": {"loopback": true}}
JSON
"$bin" top --json --state-dir "$state" --policy "$work/loopback.json" >"$work/top2.json"
k() { jq -r "$1" "$work/top2.json"; }
expect_eq "loopback avoided" "$(k .coverage.candidate.avoided)" 7000
expect_eq "loopback avoided = conntrack -L -s 127.0.0.0/8" "$(ct_count -s 127.0.0.0/8)" 7000
expect_eq "loopback avoided %" "$(k .coverage.candidate.avoided_percent)" 98.6
expect_eq "loopback tracked" "$(k .coverage.candidate.tracked)" 100
expect_eq "current still there" "$(k .coverage.current.avoided)" 3500

# candidate scoped to an interface: the 100 flows to 10.9.0.2 leave on an
# interface the entries do not tell: not decidable, and said so
cat >"$work/v0.json" <<'JSON'
{"version": 1, "notrack": {"upstreams": [{"proto": "udp", "ports": [53], "interfaces": ["v0"]}]}}
JSON
"$bin" top --json --state-dir "$state" --policy "$work/v0.json" >"$work/top3.json"
expect_eq "v0 undecidable" "$(jq -r .coverage.candidate.undecidable "$work/top3.json")" 100
expect_eq "v0 undecidable %" "$(jq -r .coverage.candidate.undecidable_percent "$work/top3.json")" 1.4
expect_eq "v0 avoided" "$(jq -r .coverage.candidate.avoided "$work/top3.json")" 0

# the table form says the same in words
"$bin" top -n 3 --state-dir "$state" --policy "$work/loopback.json" >"$work/top.txt"
grep -q "^  49.3% of entries (3,500 of 7,100) are udp/5353 to upstreams (replies for this host's own sockets;" \
	"$work/top.txt" || fail "top text: $(cat "$work/top.txt")"
grep -q '^  98.6% of entries (7,000 of 7,100) are all traffic on lo (loopback): covered by the policy' \
	"$work/top.txt" || fail "top text: $(cat "$work/top.txt")"
echo "ok   top text names the coverage"

# without a terminal, no progress on stderr
"$bin" top --state-dir "$state" >/dev/null 2>"$work/err"
[ ! -s "$work/err" ] || fail "top wrote to stderr without a terminal: $(cat "$work/err")"
echo "ok   quiet without a terminal"
# a candidate that does not compile: exit 3, its error line
echo '{"version": 1, "notrack": {"servics": []}}' >"$work/bad.json"
rc=0
"$bin" top --state-dir "$state" --policy "$work/bad.json" >/dev/null 2>"$work/err" || rc=$?
expect_eq "bad candidate exit" "$rc" 3
grep -q 'bad.json:1:28: \$.notrack.servics: unknown key' "$work/err" || fail "bad candidate: $(cat "$work/err")"
echo "all checks passed"
