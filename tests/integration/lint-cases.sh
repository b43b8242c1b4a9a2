#!/bin/bash
# The lint case table (tests/lint-cases) against both backends: each case's
# foreign rules, written once in iptables-save syntax, are loaded through
# iptables-nft and linted with --backend nft, then through iptables-legacy
# and linted with --backend iptables.  Both must give the expected findings,
# and the same ones (messages included).  No traffic: lint-legacy-docker.sh
# and the nft tests carry the traffic behind the finding classes.
. "$(dirname "$0")/lib.sh"
need_commands iptables-nft-restore ip6tables-nft-restore iptables-legacy-restore ip6tables-legacy-restore

# the interfaces the cases name, with this host's addresses on them (veths:
# this kernel has no dummy driver; their peers stay down and unused)
for i in eth0 eth1 docker0; do ip link add "$i" type veth peer name "$i-peer"; done
ip addr add 192.0.2.10/24 dev eth0
ip addr add 2001:db8::10/64 dev eth0 nodad
ip addr add 172.17.0.1/16 dev docker0
ip addr add fd00:17::1/64 dev docker0 nodad
for i in eth0 eth1 docker0; do ip link set "$i" up; done

python3 "$checkout/tests/tools/lint-cases.py" "$bin" "$checkout/tests/lint-cases" "$work" "${@:3}" ||
	fail "the lint case table"
echo "PASS"
