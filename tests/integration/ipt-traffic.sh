#!/bin/bash
# Real traffic through a stateful legacy filter (INPUT policy DROP, ctstate
# RELATED,ESTABLISHED accepted, port 8080 allowed), IPv4 and IPv6, to a TCP
# server on loopback, counted by conntrack itself:
#  - before apply, 250 connections leave at least 250 entries (the
#    conntrack match is what makes conntrack run in this namespace);
#  - after apply with --backend iptables, 250 connections all succeed (the
#    untracked accept lets them through the DROP policy) and leave no entry;
#  - the counters on our rules saw the packets (iptables -L -v, status
#    --json, and what the generation recorded);
#  - after rollback, entries appear again.
. "$(dirname "$0")/ipt-lib.sh"

for t in ipt4 ipt6; do
	$t -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
	$t -A INPUT -p tcp -m tcp --dport 8080 -j ACCEPT
	$t -P INPUT DROP
done
ipt6 -A INPUT -p ipv6-icmp -j ACCEPT
ipt4 -t raw -L -n >/dev/null # raw exists on a real host; rollback then restores it exactly
ipt6 -t raw -L -n >/dev/null
start_server 8080 127.0.0.1
start_server 8080 ::1
legacy_snapshot before

ct_flush
connections 200
connections 50 8080 ::1
before=$(ct_count)
echo "entries before apply: $before"
assert_ge "$before" 250 "conntrack entries for 250 tracked connections"

run 0 ntc apply --backend iptables "$src/policies/nginx.json"
ct_flush
connections 200
connections 50 8080 ::1
assert_eq "$(ct_count)" 0 "conntrack entries after apply"
conntrack -L >"$work/ct-after" 2>/dev/null
[ ! -s "$work/ct-after" ] || fail "conntrack -L lists entries after apply: $(head "$work/ct-after")"

# The kernel's counters on our rules: the loopback notrack rule in each
# family, and the untracked accept in INPUT.
packets() { # TOOL TABLE CHAIN COMMENT
	"$1" -w -t "$2" -L "$3" -n -v -x >"$work/counters"
	awk -v c="$4" 'index($0, "/* " c " */") { print $1; exit }' "$work/counters"
}
assert_ge "$(packets iptables-legacy raw NOTRACKCTL-PRE 'notrackctl notrack.loopback')" 1000 "IPv4 packets counted by the loopback notrack rule"
assert_ge "$(packets ip6tables-legacy raw NOTRACKCTL-PRE 'notrackctl notrack.loopback')" 250 "IPv6 packets counted by the loopback notrack rule"
assert_ge "$(packets iptables-legacy filter INPUT notrackctl)" 1000 "IPv4 packets let through by the untracked accept"
assert_ge "$(packets ip6tables-legacy filter INPUT notrackctl)" 250 "IPv6 packets let through by the untracked accept"

# status (auto) picks this backend, lists our rules with those counters,
# and counts as bypassed only what our notrack rules matched, not every
# packet the jumps into our chains saw.
run 0 ntc status --json
python3 - "$work/out" <<'PY' || fail "status with the iptables backend: $(cat "$work/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["backend"] == "iptables" and "iptables-legacy tables are in use" in d["backend_decision"]["reason"], d["backend_decision"]
rules = d["rules"]
jumps = [r for r in rules if r["role"] == "jump"]
assert sorted((r["family"], r["chain"]) for r in jumps) == [("ipv4", "OUTPUT"), ("ipv4", "PREROUTING"), ("ipv6", "OUTPUT"), ("ipv6", "PREROUTING")], jumps
lo = [r for r in rules if r["origin"] == "notrack.loopback" and r["family"] == "ipv4" and r["chain"] == "NOTRACKCTL-PRE"]
assert len(lo) == 1 and lo[0]["packets"] >= 1000, lo
notrack = sum(r["packets"] for r in rules if r["role"] == "notrack")
assert d["bypassed"]["packets"] == notrack, (d["bypassed"], notrack)
assert all(r["handle"] == 1 for r in jumps + [r for r in rules if r["role"] == "untracked_accept"]), rules
PY

# A re-apply records what we own: the accepts and jumps one by one, the
# rules of our own chains as their number (the digest covers them).
run 0 ntc apply --backend iptables "$src/policies/dns.json"
ours=$( (iptables-legacy-save -t raw; ip6tables-legacy-save -t raw) | grep -c '^-A NOTRACKCTL-')
python3 - "$NOTRACKCTL_STATE_DIR/gen/2.json" "$ours" <<'PY' || fail "generation 2 does not record what we own"
import json, sys
g = json.load(open(sys.argv[1]))
owned = g["owned"]["objects"]
acc = [o for o in owned if o["kind"] == "accept" and o["family"] == "ipv4" and o["chain"] == "INPUT"]
assert len(acc) == 1 and acc[0]["table"] == "filter" and acc[0]["comment"] == "notrackctl", owned
assert sorted((o["family"], o["chain"]) for o in owned if o["kind"] == "jump") == [("ipv4", "OUTPUT"), ("ipv4", "PREROUTING"), ("ipv6", "OUTPUT"), ("ipv6", "PREROUTING")], owned
assert not [o for o in owned if o["kind"] == "rule"], owned
assert g["owned"]["rules"] == int(sys.argv[2]) > 0, (g["owned"]["rules"], sys.argv[2])
PY
run 0 ntc rollback --backend iptables
run 0 ntc rollback --backend iptables
legacy_snapshot rolled-back
sed -i 's/\[[0-9]*:[0-9]*\]/[counters]/' "$work/before.ipt4" "$work/before.ipt6" "$work/rolled-back.ipt4" "$work/rolled-back.ipt6"
assert_same_legacy before rolled-back
ct_flush
connections 200
assert_ge "$(ct_count)" 200 "conntrack entries after rollback"
echo "PASS"
