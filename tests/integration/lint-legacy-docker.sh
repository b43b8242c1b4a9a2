#!/bin/bash
# A Docker-like host whose rules are in legacy iptables (Docker 27/28 on a
# host switched to iptables-legacy), end to end with real traffic:
#
#   outside netns 192.0.2.2 --eth0-- this host 192.0.2.1 --docker0-- container 172.17.0.2
#   (a server on :80)                (its own server on :80)          (a server on :443)
#
#   nat: PREROUTING/OUTPUT -m addrtype --dst-type LOCAL -j DOCKER,
#        DOCKER -i docker0 -j RETURN, DNAT eth0:8443 -> 172.17.0.2:443,
#        MASQUERADE of 172.17.0.0/16; filter: FORWARD policy DROP with
#        Docker's DOCKER-USER / DOCKER-FORWARD / DOCKER chains.
#
# 1. A policy that untracks the published port 8443: lint and apply refuse
#    on both backends (exit 4, naming the port and Docker's DNAT), and the
#    legacy tables and nftables are left byte for byte as they were.
# 2. --allow-conflicts applies it anyway, and the published port stops
#    answering, as lint said it would.
# 3. The fixed policy (keep_tracked nat tcp/8443) lints clean and applies:
#    the published port and the container's masqueraded traffic work, and
#    the host's own :80 leaves no conntrack entry.
# 4. A mixed host: legacy INPUT drops what is not established.  The nft
#    backend puts no accept there, so lint --backend nft reports that this
#    host's untracked replies from an upstream :80 would be dropped, and
#    --allow-conflicts shows them dropped; the iptables backend's accept goes
#    there: clean, and the connections work.
# 5. The nft backend's no-op apply ("unchanged", lint skipped since nothing
#    moved nftables' generation) notices a legacy rule added since: the
#    legacy tables are part of what it verified.
. "$(dirname "$0")/ipt-lib.sh"
need_commands nsenter sysctl

docker_topology

docker28_layout iptables-legacy

wait_for "$outside" 192.0.2.1 8443
wait_for "$container" 192.0.2.2 80
assert_eq "$(count "$outside" 192.0.2.1 8443 20)" 20 "the published port before anything"

cat >"$work/conflict.json" <<'JSON'
{ "version": 1, "notrack": { "services": [{ "proto": "tcp", "ports": [80, 443, 8443] }] } }
JSON
cat >"$work/fixed.json" <<'JSON'
{
  "version": 1,
  "notrack": { "services": [{ "proto": "tcp", "ports": [80, 443, 8443] }] },
  "keep_tracked": [{ "reason": "nat", "proto": "tcp", "ports": [8443], "role": "service" }]
}
JSON
dnat='ip nat DOCKER (iifname != "docker0" tcp dport 8443 dnat to 172.17.0.2:443)'

# 1. refused, nothing changed: the iptables backend, and the nft backend on
# this (then mixed) host
legacy_snapshot before
for backend in iptables nft; do
	run 4 ntc --backend "$backend" lint "$work/conflict.json"
	assert_contains "$work/out" "$dnat" "lint --backend $backend names Docker's DNAT"
	assert_contains "$work/out" '"ports": [8443]' "lint --backend $backend suggests keeping 8443 tracked"
	run 4 ntc --backend "$backend" apply "$work/conflict.json"
	assert_contains "$work/err" "$dnat" "apply --backend $backend names Docker's DNAT"
	assert_contains "$work/err" "nothing was applied" "apply --backend $backend"
	legacy_snapshot "refused-$backend"
	assert_same_legacy before "refused-$backend"
done
assert_eq "$(count "$outside" 192.0.2.1 8443 20)" 20 "the published port after the refusals"

# 2. what lint predicted: applied anyway, the published port breaks
run 0 ntc --backend iptables apply --allow-conflicts "$work/conflict.json"
assert_contains "$work/err" "$dnat" "apply --allow-conflicts warns"
ct_flush
assert_eq "$(count "$outside" 192.0.2.1 8443 5)" 0 "the published port with 8443 untracked"
run 0 ntc --backend iptables remove

# 3. the fixed policy
run 0 ntc --backend iptables lint "$work/fixed.json"
run 0 ntc --backend iptables apply "$work/fixed.json"
assert_not_contains "$work/err" "lint" "apply of the fixed policy"
ct_flush
assert_eq "$(count "$outside" 192.0.2.1 8443 20)" 20 "the published port after apply"
assert_eq "$(count "$container" 192.0.2.2 80 20)" 20 "the container's masqueraded :80 after apply"
assert_eq "$(count "$outside" 192.0.2.1 80 20)" 20 "the host's own :80 after apply"
assert_eq "$(entries_to 192.0.2.1 80)" 0 "conntrack entries of the host's :80 after apply"
run 0 ntc --backend iptables remove

# 4. the mixed host
ipt4 -P INPUT DROP
ipt4 -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
cat >"$work/upstream.json" <<'JSON'
{ "version": 1, "notrack": { "upstreams": [{ "proto": "tcp", "ports": [80], "peers": ["192.0.2.2"] }] } }
JSON
mine() { python3 "$tcpload" connect 192.0.2.2 80 "$1" || true; }
assert_eq "$(mine 5)" 5 "this host's connections to the upstream before apply"
run 4 ntc --backend nft lint "$work/upstream.json"
assert_contains "$work/out" "iptables-legacy filter INPUT" "lint --backend nft names the legacy chain"
assert_contains "$work/out" "the nft backend puts no accept into legacy iptables chains" "lint --backend nft says why"
run 0 ntc --backend nft apply --allow-conflicts "$work/upstream.json"
ct_flush
assert_eq "$(mine 5)" 0 "this host's connections to the upstream, replies untracked, nft backend"
run 0 ntc --backend nft remove
run 0 ntc --backend iptables lint "$work/upstream.json"
run 0 ntc --backend iptables apply "$work/upstream.json"
ct_flush
assert_eq "$(mine 20)" 20 "this host's connections to the upstream, replies untracked, iptables backend"
run 0 ntc --backend iptables remove

# 5. the no-op apply and a legacy change
cat >"$work/p8444.json" <<'JSON'
{ "version": 1, "notrack": { "services": [{ "proto": "tcp", "ports": [8444], "interfaces": ["eth0"] }] } }
JSON
run 0 ntc --backend nft apply "$work/p8444.json"
run 0 ntc --backend nft apply "$work/p8444.json"
assert_contains "$work/out" "unchanged" "the second apply"
ipt4 -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8444 -j DNAT --to-destination 172.17.0.2:443
run 4 ntc --backend nft apply "$work/p8444.json"
assert_contains "$work/err" "tcp dport 8444 dnat to 172.17.0.2:443" "the apply after a legacy DNAT was added"
run 0 ntc --backend nft remove
echo "PASS"
