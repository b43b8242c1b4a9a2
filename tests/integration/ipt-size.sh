#!/bin/bash
# A bound on the iptables expansion: a 15 KB policy of 400 peers x 400
# addresses x 300 ports would be 6.4 million iptables rules.
#  - compile --format iptables and apply --backend iptables refuse it with
#    one line (file, line, column, the JSON path of the entry that
#    multiplies, its factors), exit 3, before building anything: the legacy
#    tables and the state stay as they were;
#  - the nft backend is unaffected (sets): compile and apply work;
#  - a policy just under the limit still applies on iptables.
. "$(dirname "$0")/ipt-lib.sh"

python3 - "$work" <<'PY'
import json, sys
def policy(npeers, naddrs, nports):
    return {"version": 1, "name": "big", "families": ["ipv4"], "notrack": {"services": [{
        "proto": "tcp", "ports": [1000 + 3 * i for i in range(nports)],
        "peers": ["10.%d.%d.0/24" % (i // 256, i % 256) for i in range(npeers)],
        "addresses": ["192.168.%d.%d" % (i // 200, i % 200 + 1) for i in range(naddrs)]}]}}
# 2 hooks x 400 x 400 x 20 lists = 6,400,000, the guard and 30 ICMP error rules
json.dump(policy(400, 400, 300), open(sys.argv[1] + "/huge.json", "w"))
# 2 hooks x 50 x 50 x 3 lists = 15,000 rules, plus the route_localnet guard
# and 5 ICMP error rules (45 ports, 10 to a u32 test; they match no address)
json.dump(policy(50, 50, 45), open(sys.argv[1] + "/fits.json", "w"))
PY

legacy_foreign
legacy_snapshot before
run 3 ntc compile --format iptables "$work/huge.json"
[ "$(wc -l <"$work/err")" = 1 ] || fail "the refusal is not one line: $(cat "$work/err")"
assert_contains "$work/err" "$work/huge.json:1:" "the refusal names the file and line"
assert_contains "$work/err" '$.notrack.services[0]: the iptables backend would load 6400031 IPv4 rules (limit 250000 per family)' "the refusal"
assert_contains "$work/err" "400 peers x 400 addresses x 20 multiport lists" "the factors"
[ ! -s "$work/out" ] || fail "compile printed rules it refused"
run 3 ntc apply --backend iptables "$work/huge.json"
assert_contains "$work/err" "limit 250000 per family" "apply --backend iptables"
legacy_snapshot after
assert_same_legacy before after
[ ! -e "$NOTRACKCTL_STATE_DIR/gen/1.json" ] || fail "a refused apply recorded a generation"

# nft: sets, so no bound
run 0 ntc compile -q "$work/huge.json"
run 0 ntc apply -q --backend nft --allow-conflicts "$work/huge.json"
run 0 ntc remove --backend nft

run 0 ntc apply -q --backend iptables "$work/fits.json"
n=$(iptables-legacy-save -t raw | grep -c '^-A NOTRACKCTL-' || true)
assert_eq "$n" 15006 "iptables rules of a policy under the limit"
echo "PASS"
