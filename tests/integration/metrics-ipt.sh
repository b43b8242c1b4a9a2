#!/bin/bash
# notrackctl metrics and status with the iptables backend (legacy tables
# through libiptc), in a throwaway namespace:
#  - the per-entry sums name the hook from our chains (NOTRACKCTL-PRE/-OUT)
#    and the family (ipv4, ipv6); after N datagrams on loopback the
#    loopback entry's bypass counters grew by at least N and equal what
#    iptables-legacy-save -c says, summed over that entry's rules; our
#    accept in filter INPUT counted them too;
#  - entries equals conntrack -C; promtool check metrics accepts the output;
#  - a rule inserted ahead of our accept in INPUT is drift, and status
#    names it;
#  - status sums a policy of hundreds of rules per policy entry and hook,
#    and lists every rule with --verbose.
. "$(dirname "$0")/ipt-lib.sh"
need_commands promtool jq
tool=$src/tests/integration/metrics-tool.py
val() { python3 "$tool" value "$@"; }
N=50

# the host: stateful INPUT whose policy is drop, which also starts conntrack
ipt4 -P INPUT DROP
ipt4 -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
ipt6 -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
# loopback, and 100 scattered tcp ports for 12 peers: hundreds of rules
python3 - >"$work/policy.json" <<'PY'
import json
print(json.dumps({"version": 1, "notrack": {"loopback": True, "services": [
    {"proto": "tcp", "ports": list(range(2001, 2201, 2)),
     "peers": ["10.7.%d.1" % i for i in range(12)]}]}, "untracked_accept": "auto"}))
PY
run 0 ntc apply --backend iptables "$work/policy.json"

# N datagrams on loopback, through the untracked path (no listener: the
# counters are what matters here, not delivery)
python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[1])): s.sendto(b"x", ("127.0.0.1", 7000))' "$N"

run 0 ntc metrics --backend iptables
cp "$work/out" "$work/m.txt"
conntrack -C >"$work/C"
promtool check metrics <"$work/m.txt" >"$work/promtool.out" 2>&1 || fail "promtool: $(cat "$work/promtool.out")"
echo "ok   promtool check metrics"
assert_eq "$(val "$work/m.txt" notrackctl_conntrack_entries)" "$(cat "$work/C")" "entries = conntrack -C"
assert_eq "$(val "$work/m.txt" notrackctl_info backend=iptables)" 1 "info names the backend"
iptables-legacy-save -c -t raw >"$work/raw.ipt4"
for hook in prerouting output; do
	chain=NOTRACKCTL-PRE
	[ "$hook" = output ] && chain=NOTRACKCTL-OUT
	want=$(awk -v c="$chain" '$2 == "-A" && $3 == c && /"notrackctl notrack.loopback"/ {
		split(substr($1, 2, length($1) - 2), pb, ":"); n += pb[1]} END {print n + 0}' "$work/raw.ipt4")
	got=$(val "$work/m.txt" notrackctl_bypass_packets_total entry='$.notrack.loopback' hook=$hook family=ipv4)
	assert_eq "$got" "$want" "loopback bypass packets on $hook = iptables-legacy-save -c"
	assert_ge "$got" "$N" "loopback bypass packets on $hook"
done
got=$(val "$work/m.txt" notrackctl_untracked_accept_packets_total family=ipv4 table=filter chain=INPUT)
assert_ge "$got" "$N" "our accept's packets in filter INPUT"
assert_eq "$(val "$work/m.txt" notrackctl_drift)" 0 "drift"

# drift: fail2ban or a Docker restart inserting a rule ahead of our accept
ipt4 -I INPUT 1 -s 192.0.2.99 -j DROP
run 0 ntc metrics --backend iptables
assert_eq "$(val "$work/out" notrackctl_drift)" 1 "drift with a rule ahead of our accept"
run 0 ntc status --backend iptables
assert_contains "$work/out" "drift        our untracked accept in ipv4 filter INPUT is no longer first in its chain" \
	"status names the accept"
ipt4 -D INPUT 1
run 0 ntc metrics --backend iptables
assert_eq "$(val "$work/out" notrackctl_drift)" 0 "drift once that rule is gone"

# status: sums per entry and hook; --verbose lists every rule
rules=$(grep -c -- '-A NOTRACKCTL-PRE .*"notrackctl notrack.services\[0\]"' "$work/raw.ipt4")
assert_ge "$rules" 40 "rules of services[0] in NOTRACKCTL-PRE (twice that with output: over the 64 status lists)"
run 0 ntc status --backend iptables
grep -q 'objects, the rules summed per policy entry and hook' "$work/out" || fail "status does not sum: $(cat "$work/out")"
awk '$1 == "ipv4" && $2 == "prerouting" && $4 == "notrack.services[0]" && $5 ~ /^[0-9]+$/ {print $5}' "$work/out" >"$work/n"
assert_eq "$(cat "$work/n")" "$rules" "status: the rules of services[0] on prerouting, summed"
lines=$(wc -l <"$work/out")
run 0 ntc status --backend iptables --json
assert_eq "$(jq '.entries[] | select(.family == "ipv4" and .hook == "prerouting" and .origin == "notrack.services[0]")
	| .rules' "$work/out")" "$rules" "status --json: the rules of services[0] on prerouting, summed"
run 0 ntc status --backend iptables --verbose
assert_ge "$(grep -c 'notrack.services\[0\]' "$work/out")" "$((2 * rules))" "status --verbose rule lines"
[ "$lines" -lt 40 ] || fail "status printed $lines lines for $rules rules"
echo "all checks passed"
