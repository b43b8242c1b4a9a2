#!/bin/bash
# The NAT/state linter against the real kernel, with Docker's real
# iptables-nft rules and real traffic through them:
#
#   client netns 192.0.2.2 --ext0-- this netns 192.0.2.1 --docker0-- container netns 172.17.0.2
#                                   DNAT tcp 8081 -> 172.17.0.2:80 (iptables-nft, as Docker)
#
#  1. lint catches the conflict: a policy that notracks tcp 8000-8100 arriving
#     on ext0 catches the published port; lint exits 4 naming the DNAT, and
#     apply refuses (exit 4) with nothing applied;
#  2. with keep_tracked for 8081, lint is clean, apply works, and a real
#     connection through the DNAT to the container succeeds, while 8080 on
#     this host really is untracked;
#  3. without keep_tracked, apply --allow-conflicts goes ahead, and the very
#     same connection fails: the linter was right, not noisy;
# plus: a policy that catches nothing lints clean; a firewalld-like table with
# the owner flag, whose input chain drops what is not ct-state accepted, is
# reported as an error (auto cannot write there), and it really drops the
# untracked traffic; lint --offline needs no privileges, plain lint does.
. "$(dirname "$0")/lib.sh"
need_commands nsenter iptables-nft sysctl

# wait_until WHAT CMD...: CMD succeeds within 30 s (the machine may be busy).
wait_until() {
	local what=$1 i
	shift
	for i in $(seq 300); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "$what did not happen within 30 s"
}

sysctl -qw net.ipv4.ip_forward=1
peer ct0 172.17.0.2/16 docker0 172.17.0.1/16
container=$peer_pid
peer cl0 192.0.2.2/24 ext0 192.0.2.1/24
client=$peer_pid
docker_like

# the container's web server, and a server on this host's 8080
# (nsenter execs the server, so $! is the server itself)
nsenter -t "$container" -n python3 "$tcpload" serve 172.17.0.2 80 &
defer "kill $! 2>/dev/null; wait $! 2>/dev/null"
start_server 8080 192.0.2.1

# through_dnat N: how many of N connections from the client through the
# published port got their reply from the container
through_dnat() { in_peer "$client" python3 "$tcpload" connect 192.0.2.1 8081 "$1" || true; }

wait_until "the container's server" in_peer "$container" python3 "$tcpload" connect 172.17.0.2 80 1
dnat_works() { [ "$(through_dnat 1)" = 1 ]; }
wait_until "a connection through the DNAT" dnat_works
assert_eq "$(through_dnat 20)" 20 "connections through the DNAT before anything is applied"

cat >"$work/catches.json" <<'JSON'
{
  "version": 1,
  "notrack": { "services": [{ "proto": "tcp", "ports": ["8000-8100"], "interfaces": ["ext0"] }] }
}
JSON
cat >"$work/kept.json" <<'JSON'
{
  "version": 1,
  "notrack": { "services": [{ "proto": "tcp", "ports": ["8000-8100"], "interfaces": ["ext0"] }] },
  "keep_tracked": [{ "reason": "nat", "proto": "tcp", "ports": [8081], "role": "service" }]
}
JSON

# 1. the linter catches the conflict
snapshot before
run 4 ntc lint "$work/catches.json"
assert_contains "$work/out" '$.notrack.services[0]' "lint names the policy entry"
assert_contains "$work/out" 'would catch the DNAT in ip nat DOCKER' "lint names the DNAT and where it is"
assert_contains "$work/out" 'tcp dport 8081 dnat to 172.17.0.2:80' "lint shows the DNAT rule"
assert_contains "$work/out" '"ports": [8081]' "lint suggests the keep_tracked entry"
assert_eq "$(grep -c '^error: ' "$work/out")" 1 "lint findings (one line each)"
run 4 ntc lint --json "$work/catches.json"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["clean"] is False and d["error"] is None, d
f = d["findings"]
assert len(f) == 1 and f[0]["kind"] == "nat" and f[0]["table"] == "nat" and f[0]["chain"] == "DOCKER", f
assert f[0]["policy_entry"] == "$.notrack.services[0]" and not f[0]["reply"], f' "$work/out" ||
	fail "lint --json: $(cat "$work/out")"
run 4 ntc apply "$work/catches.json"
assert_contains "$work/err" "would catch the DNAT in ip nat DOCKER" "apply lists the conflict"
assert_contains "$work/err" "nothing was applied" "apply refuses"
snapshot refused
assert_same_snapshot before refused

# 2. with keep_tracked the NAT traffic still works after apply
run 0 ntc lint "$work/kept.json"
assert_contains "$work/out" "clean" "lint of the policy with keep_tracked"
run 0 ntc apply "$work/kept.json"
assert_not_contains "$work/err" "lint" "apply of a clean policy"
ct_flush
assert_eq "$(through_dnat 20)" 20 "connections through the DNAT with keep_tracked"
assert_eq "$(in_peer "$client" python3 "$tcpload" connect 192.0.2.1 8080 20)" 20 "connections to this host's 8080"
conntrack -L -p tcp --dport 8080 >"$work/ct8080" 2>/dev/null || true
[ ! -s "$work/ct8080" ] || fail "8080 is still tracked: $(head -3 "$work/ct8080")"
conntrack -L -p tcp --dport 8081 >"$work/ct8081" 2>/dev/null || true
grep -q 'dport=8081.*src=172.17.0.2' "$work/ct8081" || fail "the DNAT flows are not tracked: $(head -3 "$work/ct8081")"

# 3. without keep_tracked, --allow-conflicts applies, and the NAT really breaks
run 0 ntc apply --allow-conflicts "$work/catches.json"
assert_contains "$work/err" "warning: lint:" "apply --allow-conflicts warns"
assert_contains "$work/err" "would catch the DNAT in ip nat DOCKER" "apply --allow-conflicts names the DNAT"
ct_flush
assert_eq "$(through_dnat 5)" 0 "connections through the DNAT once it is notracked"
# and it is the notrack that broke it: back to keep_tracked, it works again
run 0 ntc apply "$work/kept.json"
assert_eq "$(through_dnat 5)" 5 "connections through the DNAT with keep_tracked again"
run 0 ntc remove

# a policy that catches nothing lints clean, and so does apply
cat >"$work/clean.json" <<'JSON'
{
  "version": 1,
  "notrack": { "loopback": true, "services": [{ "proto": "tcp", "ports": [8080], "interfaces": ["ext0"] }] }
}
JSON
run 0 ntc lint "$work/clean.json"
assert_contains "$work/out" "clean: nothing it notracks needs conntrack" "lint of a clean policy"
run 1 ntc apply --check "$work/clean.json"
assert_not_contains "$work/err" "lint" "apply --check of a clean policy"

# lint --offline needs no privileges; plain lint does
run 0 as_nobody "$bin" lint --offline - <"$work/catches.json"
assert_contains "$work/out" "offline" "lint --offline says what it did not check"
run 7 as_nobody "$bin" lint - <"$work/catches.json"

# A firewalld-like table: owner flag (only its creator, an `nft -i` kept
# open here, may change it), input policy drop, new connections to 8080
# accepted by ct state.  auto cannot put the untracked accept there.
mkfifo "$work/fw"
nft -i <"$work/fw" >"$work/fw.out" 2>&1 &
fw_pid=$!
exec 3>"$work/fw"
defer "exec 3>&-; kill $fw_pid 2>/dev/null; wait $fw_pid 2>/dev/null"
cat >&3 <<'NFT'
add table inet firewalld { flags owner; }
add chain inet firewalld filter_INPUT { type filter hook input priority filter + 10; policy drop; }
add rule inet firewalld filter_INPUT ct state established,related accept
add rule inet firewalld filter_INPUT iifname "lo" accept
add rule inet firewalld filter_INPUT tcp dport 8080 ct state new accept
NFT
# (read into a file first: grep -q may end the pipe early, and pipefail is on)
fw_ready() { nft list table inet firewalld >"$work/fw.nft" && grep -q 'dport 8080' "$work/fw.nft"; }
wait_until "the owner-flagged table" fw_ready
grep -q 'flags owner' "$work/fw.nft" || fail "the table has no owner flag: $(cat "$work/fw.nft" "$work/fw.out")"
assert_eq "$(in_peer "$client" python3 "$tcpload" connect 192.0.2.1 8080 5)" 5 "connections to 8080 through the owned table, tracked"

run 4 ntc lint "$work/clean.json"
assert_contains "$work/out" "be dropped further down (policy drop)" "lint names what drops it"
assert_contains "$work/out" "owned by another process" "lint says why auto cannot cover it"
grep -q "ct state rule in inet firewalld filter_INPUT (tcp dport 8080 ct state new accept)" "$work/out" ||
	fail "lint does not name the ct state rule: $(cat "$work/out")"
# and it is right: applied anyway, the untracked packets are dropped there
run 0 ntc apply --allow-conflicts "$work/clean.json"
assert_contains "$work/err" "owned by another process" "apply warns about the owned table"
assert_eq "$(in_peer "$client" python3 "$tcpload" connect 192.0.2.1 8080 3)" 0 "connections to 8080, untracked, through the owned table"
run 0 ntc remove
assert_eq "$(in_peer "$client" python3 "$tcpload" connect 192.0.2.1 8080 3)" 3 "connections to 8080 after remove"
echo "PASS"
