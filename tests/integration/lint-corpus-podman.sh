#!/bin/bash
# The Podman/netavark rows of the lint case table (tests/lint-corpus/cases)
# are true, with traffic.  netavark's masquerade of the host's own and
# hairpin connections is gated by mark 0x2000, which only its port-forward
# chain sets; lint follows the mark to those writers.  Namespaces stand in
# for the hosts:
#
#   lan 192.168.1.2 --eth1-- this host --podman0-- container 10.88.0.2 (:80,
#                                                  published as :8080)
#
#  1. clean: the LAN untracked, with the published port and everything
#     addressed to this host's LAN and bridge addresses (the masquerade's
#     replies) kept tracked.  Lint calls it clean (before lint followed the
#     mark, the gated masquerade was a false alarm here), apply goes ahead, and the published port, the container's masqueraded connection
#     to the LAN and the hairpin (the container to its own published port)
#     keep working.
#  2. refused: the whole LAN untracked (router-lan.json).  Lint reports the
#     DNAT and the subnet's masquerade, not the gated one; applied anyway,
#     the LAN's connection to the published port and the container's
#     connection to the LAN break, and the hairpin keeps working.
#  3. refused: lo untracked (minimal.json): the host's own connection to the
#     published port (netavark DNATs it on output) breaks.
#  4. no miss: podman0 untracked: the gated masquerade is reported, and the
#     hairpin it serves breaks.
#  5. conservative: with no writer of the mark in the ruleset, a writer that
#     marks every packet or one whose value is not known (ct mark), the gate
#     is open and the masquerade is reported as before.
. "$(dirname "$0")/lib.sh"
need_commands nsenter sysctl

corpus=$src/tests/lint-corpus
dnat=nat@nv_2f259bab_10_88_0_0_nm16_dnat
masq=nat@nv_2f259bab_10_88_0_0_nm16

sysctl -qw net.ipv4.ip_forward=1
peer lan0 192.168.1.2/24 eth1 192.168.1.1/24
lan=$peer_pid
peer ctr0 10.88.0.2/16 podman0 10.88.0.1/16
container=$peer_pid
# netavark sets route_localnet on its bridge, for the 127.0.0.1 DNAT
sysctl -qw net.ipv4.conf.podman0.route_localnet=1
ip link set lo up

serve "$container" 10.88.0.2 80
serve "$lan" 192.168.1.2 9000
nft -f "$corpus/podman-netavark.nft"
wait_for "$lan" 192.168.1.1 8080

# traffic LABEL PUBLISHED OUTBOUND HAIRPIN: replies out of 3 for each
traffic() {
	assert_eq "$(count "$lan" 192.168.1.1 8080 3)" "$2" "$1: the LAN to the published port"
	assert_eq "$(count "$container" 192.168.1.2 9000 3)" "$3" "$1: the container to the LAN (masqueraded)"
	assert_eq "$(count "$container" 192.168.1.1 8080 3)" "$4" "$1: the container to its own published port (hairpin)"
}
# findings POLICY: the sorted kind@chain tokens of lint --json, in $work/tokens
findings() {
	run "$2" ntc lint --json "$1"
	cp "$work/out" "$work/lint.json"
	python3 "$src/tests/tools/lint-corpus.py" findings "$work/lint.json" >"$work/tokens"
}

traffic "podman, before" 3 3 3
assert_eq "$(python3 "$tcpload" connect 127.0.0.1 8080 3)" 3 "podman, before: this host to 127.0.0.1:8080"

# --- 1. clean -------------------------------------------------------------
cat >"$work/lan-kept.json" <<'JSON'
{ "version": 1, "notrack": { "interfaces": ["eth1"] },
  "keep_tracked": [{ "reason": "nat", "interfaces": ["eth1"], "proto": "tcp", "ports": [8080], "role": "service" },
    { "reason": "nat", "interfaces": ["eth1"], "addresses": ["10.88.0.1/32", "192.168.1.1/32"] }],
  "untracked_accept": "auto" }
JSON
findings "$work/lan-kept.json" 0
assert_eq "$(cat "$work/tokens")" "-" "podman + the LAN untracked, the published port and this host's LAN address kept: findings"
run 0 ntc apply "$work/lan-kept.json"
traffic "podman + the LAN untracked, the published port and this host's LAN address kept" 3 3 3
run 0 ntc remove

# --- 2. refused: the whole LAN untracked -----------------------------------
findings "$src/tests/lint-corpus/policies/router-lan.json" 4
assert_eq "$(cat "$work/tokens")" "$masq,$dnat" "podman + router-lan.json: findings"
assert_not_contains "$work/lint.json" '"chain": "POSTROUTING"' "podman + router-lan.json: the mark-gated masquerade"
run 0 ntc apply --allow-conflicts "$src/tests/lint-corpus/policies/router-lan.json"
traffic "podman + router-lan.json" 0 0 3
run 0 ntc remove

# --- 3. refused: lo untracked ----------------------------------------------
findings "$src/policies/minimal.json" 4
assert_eq "$(cat "$work/tokens")" "$dnat" "podman + minimal.json: findings"
run 0 ntc apply --allow-conflicts "$src/policies/minimal.json"
assert_eq "$(python3 "$tcpload" connect 127.0.0.1 8080 3)" 0 "podman + minimal.json: this host to 127.0.0.1:8080"
traffic "podman + minimal.json" 3 3 3
run 0 ntc remove

# --- 4. no miss: podman0 untracked -------------------------------------------
# the container's own packets are untracked now: the gated masquerade is
# reported (its writer sees the container subnet), and the hairpin breaks
cat >"$work/podman0.json" <<'JSON'
{ "version": 1, "notrack": { "interfaces": ["podman0"] }, "untracked_accept": "auto" }
JSON
findings "$work/podman0.json" 4
assert_eq "$(cat "$work/tokens")" "nat@POSTROUTING,$masq,$dnat" "podman + podman0 untracked: findings"
run 0 ntc apply --allow-conflicts "$work/podman0.json"
assert_eq "$(count "$container" 192.168.1.1 8080 3)" 0 "podman + podman0 untracked: the hairpin"
run 0 ntc remove

# --- 5. the gate stays open when its writers are not known --------------------
# (lint only: each is today's answer, the finding the mark would have hidden)
postrouting_found() {
	findings "$src/tests/lint-corpus/policies/router-lan.json" 4
	assert_eq "$(cat "$work/tokens")" "$1" "podman + router-lan.json, $2: findings"
}
nft flush chain inet netavark NETAVARK-HOSTPORT-SETMARK
postrouting_found "nat@POSTROUTING,$masq,$dnat" "no rule sets the mark"
nft -f - <<'NFT'
table ip other {
	chain pre {
		type filter hook prerouting priority mangle; policy accept;
		meta mark set 0x00002000
	}
}
NFT
postrouting_found "nat@POSTROUTING,$masq,$dnat" "another table marks every packet"
nft flush chain ip other pre
nft add rule ip other pre meta mark set 0x00004000
nft add rule inet netavark NETAVARK-HOSTPORT-SETMARK meta mark set meta mark or 0x00002000
postrouting_found "$masq,$dnat" "another table sets other bits only"
nft flush chain ip other pre
nft add rule ip other pre meta mark set ct mark
postrouting_found "conntrack@pre,nat@POSTROUTING,$masq,$dnat" "another table restores the mark from the ct mark"
echo "PASS: podman/netavark: the clean policy keeps all traffic; router-lan, minimal and podman0 break what lint says"
