#!/bin/bash
# The findings of the lint case table (tests/lint-corpus/cases) are true:
# for each class of finding, the layout from the corpus is loaded, lint
# reports it, the policy is applied anyway (--allow-conflicts), and the
# traffic the finding names really breaks or really gets in; for the clean
# row beside it, nothing breaks.  Namespaces stand in for the hosts:
#
#   outside 192.0.2.2 --eth0-- this host --docker0-- container 172.17.0.2
#   lan 192.168.1.2   --eth1--            --tailscale0-- tailnet 100.64.0.2
#
#  1. nat, loopback entry vs a published port (Docker 29, no proxy): this
#     host's own connection to its :8080 is no longer DNATed to the
#     container; docker-host.json lints clean and the published port, the
#     container's masquerade and the host's own :80 keep working.
#     With the userland proxy (Docker 28, a forwarder standing in for
#     docker-proxy) lint says so in a note, and the connection still works.
#  2. nat "may break", a UDP client that keeps its port through the
#     masquerade (Docker 28): an NTP service on eth0 catches the replies of a
#     container that sends from port 123; a container client on an ephemeral
#     port is fine.  Nothing in the ruleset says such a client exists, so
#     lint says it in a note, and exits 0.
#  3. state (security), Tailscale's stateful filtering: untracked, LAN hosts
#     get new packets into the tailnet, which ts-forward drops today.
#  4. clean, kube-proxy's KUBE-FIREWALL (CVE-2020-8558): a service on eth0
#     lints clean, since the route_localnet guard keeps a neighbour's packets
#     to 127.0.0.0/8 tracked, and the neighbour stays out.
#  5. nat, Docker's hairpin masquerade (the port after DNAT): untracking
#     the LAN leaves a container's connection to its own published port
#     alone (no finding, it works); untracking docker0 breaks it (found).
#     And a DNAT behind --dst-type LOCAL never takes what eth0 forwards to
#     the container's own address (Docker's raw table drops that): clean,
#     and the published port keeps working.
#  6. conntrack (ct mark), wg-quick full-tunnel client: untracking lo
#     leaves the tunnel alone (lint clean, the tunnel works); untracking the
#     tunnel's own UDP breaks it (a note: its port is not in the ruleset).
. "$(dirname "$0")/lib.sh"
need_commands nsenter iptables-nft iptables-nft-restore sysctl

corpus=$src/tests/lint-corpus
udp=$src/tests/lib/udpprobe.py

serve() {
	nsenter -t "$1" -n python3 "$tcpload" serve "$2" "$3" &
	defer "kill $! 2>/dev/null; wait $! 2>/dev/null"
}
count() { in_peer "$1" python3 "$tcpload" connect "$2" "$3" "$4" || true; }
udp_echo() {
	nsenter -t "$1" -n python3 "$udp" echo "$2" "$3" &
	defer "kill $! 2>/dev/null; wait $! 2>/dev/null"
}
udp_count() { in_peer "$1" python3 "$udp" send "$2" "$3" "$4" ${5:+"$5"} || true; }
answers_here() { [ "$(python3 "$tcpload" connect "$1" "$2" 1)" = 1 ]; }
# answers COUNTER PID ADDR PORT: COUNTER (count, udp_count) gets one reply
answers() { [ "$("$1" "$2" "$3" "$4" 1)" = 1 ]; }
# wait_tcp PID ADDR PORT / wait_udp ...: bounded, until a server answers
wait_tcp() { wait_until 10 "no answer from $2:$3" answers count "$@"; }
wait_udp() { wait_until 10 "no udp answer from $2:$3" answers udp_count "$@"; }
reset_rules() {
	nft flush ruleset
}
# lint_finds POLICY KIND@CHAIN: lint exits 4 and names that finding
lint_finds() {
	run 4 ntc lint --json "$1"
	cp "$work/out" "$work/lint.json"
	python3 "$src/tests/tools/lint-corpus.py" findings "$work/lint.json" >"$work/tokens"
	assert_contains "$work/tokens" "$2" "lint of $1"
}

sysctl -qw net.ipv4.ip_forward=1
peer out0 192.0.2.2/24 eth0 192.0.2.1/24
outside=$peer_pid
peer ct0 172.17.0.2/16 docker0 172.17.0.1/16
container=$peer_pid
peer lan0 192.168.1.2/24 eth1 192.168.1.1/24
lan=$peer_pid
peer ts0 100.64.0.2/10 tailscale0 100.64.0.1/10
tailnet=$peer_pid

# --- 1. Docker 29: a loopback entry vs the published port ---------------
serve "$container" 172.17.0.2 80
start_server 80 192.0.2.1
nft -f "$corpus/docker-29-nft.nft"
wait_tcp "$outside" 192.0.2.1 8080
assert_eq "$(python3 "$tcpload" connect 192.0.2.1 8080 3)" 3 "docker 29: the host's own connection to its published port, before"
lint_finds "$src/policies/minimal.json" "nat@nat-prerouting-and-output"
run 0 ntc apply --allow-conflicts "$src/policies/minimal.json"
assert_eq "$(python3 "$tcpload" connect 192.0.2.1 8080 3)" 0 "docker 29: the host's own connection to its published port, loopback untracked"
run 0 ntc remove
# the clean row: docker-host.json
run 0 ntc lint "$src/policies/docker-host.json"
run 0 ntc apply "$src/policies/docker-host.json"
assert_eq "$(count "$outside" 192.0.2.1 8080 3)" 3 "docker 29 + docker-host.json: the published port"
assert_eq "$(count "$outside" 192.0.2.1 80 3)" 3 "docker 29 + docker-host.json: the host's own :80"
run 0 ntc remove
reset_rules

# --- 1b. Docker 28 with the userland proxy: the same connection reaches ----
# docker-proxy (a forwarder stands in for it), so loopback lints clean
nsenter -t "$$" -n python3 "$src/tests/lib/tcpforward.py" 0.0.0.0 8080 172.17.0.2 80 &
proxy=$!
defer "kill $proxy 2>/dev/null; wait $proxy 2>/dev/null"
wait_until 10 "the docker-proxy stand-in" answers_here 127.0.0.1 8080
iptables-nft-restore <"$corpus/docker-28-proxy.ipt"
run 0 ntc lint "$src/policies/minimal.json"
assert_contains "$work/out" "docker-proxy" "docker 28 + proxy: lint's note"
run 0 ntc apply "$src/policies/minimal.json"
assert_eq "$(python3 "$tcpload" connect 192.0.2.1 8080 3)" 3 "docker 28 + proxy, loopback untracked: the host's own connection to its published port"
assert_eq "$(count "$outside" 192.0.2.1 8080 3)" 3 "docker 28 + proxy, loopback untracked: the published port from outside"
run 0 ntc remove
reset_rules
# (the layouts below have no proxy: nothing may answer on 8080 but the DNAT)
kill "$proxy"
wait "$proxy" 2>/dev/null || true

# --- 2. Docker 28: a UDP client that keeps port 123 through the masquerade -
udp_echo "$outside" 192.0.2.2 9999
iptables-nft-restore <"$corpus/docker-28-noproxy.ipt"
wait_udp "$container" 192.0.2.2 9999
assert_eq "$(udp_count "$container" 192.0.2.2 9999 3 123)" 3 "docker 28: container NTP client (source port 123), before"
# only possible (nothing in the ruleset says a client sends from 123): a
# note that names the condition, no finding, and apply goes ahead
run 0 ntc lint --json "$src/tests/lint-corpus/policies/ntp-eth0.json"
python3 "$src/tests/tools/lint-corpus.py" findings "$work/out" >"$work/tokens"
assert_eq "$(cat "$work/tokens")" "-" "docker 28 + NTP service on eth0: findings"
assert_contains "$work/out" "only for a client behind it that sends from one of those ports itself (NTP 123" \
	"docker 28 + NTP service on eth0: the note"
run 0 ntc apply "$src/tests/lint-corpus/policies/ntp-eth0.json"
assert_eq "$(udp_count "$container" 192.0.2.2 9999 3 123)" 0 "docker 28 + NTP service on eth0: the container's client on port 123"
assert_eq "$(udp_count "$container" 192.0.2.2 9999 3)" 3 "docker 28 + NTP service on eth0: a container client on an ephemeral port"
run 0 ntc remove
reset_rules

# --- 3. Tailscale's stateful filtering, bypassed ---------------------------
# what reaches the tailnet host, counted there
in_peer "$tailnet" nft -f - <<'NFT'
table inet seen {
	chain input {
		type filter hook input priority filter;
		ip saddr 192.168.1.2 udp dport 9999 counter
	}
}
NFT
seen() {
	in_peer "$tailnet" nft list chain inet seen input >"$work/seen"
	sed -n 's/.*counter packets \([0-9]*\).*/\1/p' "$work/seen"
}
# what ts-forward's stateful drop took, counted here
dropped() {
	iptables-nft -w -t filter -S ts-forward -v >"$work/tsf"
	sed -n 's/.*--ctstate RELATED,ESTABLISHED -c \([0-9]*\) [0-9]* -j DROP.*/\1/p' "$work/tsf"
}
dropped_3() { [ "$(dropped)" -ge 3 ]; }
seen_3() { [ "$(seen)" -ge 3 ]; }
iptables-nft-restore <"$corpus/tailscale-subnet.ipt"
in_peer "$lan" python3 "$udp" send 100.64.0.2 9999 3 >/dev/null
wait_until 5 "tailscale: the stateful drop never saw the LAN's packets" dropped_3
assert_eq "$(seen)" 0 "tailscale: LAN packets into the tailnet, before"
lint_finds "$src/tests/lint-corpus/policies/router-lan.json" "state@ts-forward"
assert_contains "$work/lint.json" "security:" "tailscale: the finding says it opens access"
run 0 ntc apply --allow-conflicts "$src/tests/lint-corpus/policies/router-lan.json"
in_peer "$lan" python3 "$udp" send 100.64.0.2 9999 3 >/dev/null
wait_until 5 "tailscale: the LAN's packets did not get in once untracked" seen_3
run 0 ntc remove
reset_rules

# --- 4. KUBE-FIREWALL's localnet guard stays (CVE-2020-8558) ------------
# kube-proxy sets route_localnet, so a neighbour can address 127.0.0.0/8
# through eth0; the outside host routes 127.0.0.2 to us instead of its lo.
# A service on eth0 would untrack such packets and our accept would take
# them before KUBE-FIREWALL, but the compiled route_localnet guard keeps
# them tracked: lint is clean, and the neighbour stays out.
sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.eth0.route_localnet=1
in_peer "$outside" sh -c 'sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.out0.route_localnet=1 &&
	ip route del local 127.0.0.0/8 dev lo table local && ip route add 127.0.0.2/32 via 192.0.2.1'
start_server 80 127.0.0.2
# without kube-proxy's rules the neighbour gets in: the path is real
assert_eq "$(count "$outside" 127.0.0.2 80 1)" 1 "route_localnet: a neighbour to 127.0.0.2:80, no firewall"
iptables-nft-restore <"$corpus/kube-proxy-ipt.ipt"
assert_eq "$(count "$outside" 127.0.0.2 80 1)" 0 "kube-proxy: a neighbour to 127.0.0.2:80, before"
cat >"$work/web-eth0.json" <<'JSON'
{ "version": 1, "notrack": { "services": [{ "proto": "tcp", "ports": [80], "interfaces": ["eth0"] }] } }
JSON
run 0 ntc lint "$work/web-eth0.json"
run 0 ntc apply "$work/web-eth0.json"
assert_eq "$(count "$outside" 127.0.0.2 80 1)" 0 "kube-proxy + tcp 80 on eth0: a neighbour to 127.0.0.2:80 stays out"
assert_eq "$(count "$outside" 192.0.2.1 80 3)" 3 "kube-proxy + tcp 80 on eth0: the service itself"
run 0 ntc remove

reset_rules

# --- 5. Docker 28: the hairpin masquerade matches the port after DNAT -------
# "MASQ TO OWN PORT" (-s 172.17.0.2 -d 172.17.0.2 --dport 80) takes the
# container's connection to its own published port 8080 once the DNAT made
# it 172.17.0.2:80.  Untracking the router's LAN (eth1) does not touch it:
# lint names no finding for it, and the connection keeps working.
# Untracking docker0 does break it: lint says so, and it stops.
iptables-nft-restore <"$corpus/docker-28-noproxy.ipt"
wait_tcp "$container" 192.0.2.1 8080
assert_eq "$(count "$container" 192.0.2.1 8080 3)" 3 "docker 28: a container to its own published port, before"
hairpin_rule="ip saddr 172.17.0.2 ip daddr 172.17.0.2 tcp dport 80 masquerade"
run 4 ntc lint --json "$src/tests/lint-corpus/policies/router-lan.json"
assert_not_contains "$work/out" "$hairpin_rule" "docker 28 + LAN untracked: the hairpin masquerade"
run 0 ntc apply --allow-conflicts "$src/tests/lint-corpus/policies/router-lan.json"
assert_eq "$(count "$container" 192.0.2.1 8080 3)" 3 "docker 28 + LAN untracked: a container to its own published port"
run 0 ntc remove
cat >"$work/docker0.json" <<'JSON'
{ "version": 1, "notrack": { "interfaces": ["docker0"] }, "untracked_accept": "auto" }
JSON
lint_finds "$work/docker0.json" "nat@POSTROUTING"
assert_contains "$work/lint.json" "$hairpin_rule" "docker 28 + docker0 untracked: the hairpin masquerade's replies"
run 0 ntc apply --allow-conflicts "$work/docker0.json"
assert_eq "$(count "$container" 192.0.2.1 8080 3)" 0 "docker 28 + docker0 untracked: a container to its own published port"
run 0 ntc remove
# Docker's DNAT is reached only for this host's addresses (--dst-type
# LOCAL), and its raw table drops what is routed to the container's own
# address from elsewhere: untracking what eth0 forwards, with everything
# addressed to this host kept tracked, meets no DNAT.  Lint is clean, the
# published port keeps working, and direct access stays dropped.
in_peer "$outside" ip route add 172.17.0.0/16 via 192.0.2.1
assert_eq "$(count "$outside" 172.17.0.2 80 1)" 0 "docker 28: direct access to the container from outside, before"
cat >"$work/eth0-forward.json" <<'JSON'
{ "version": 1, "notrack": { "interfaces": ["eth0"] },
  "keep_tracked": [{ "reason": "nat", "interfaces": ["eth0"],
    "addresses": ["127.0.0.0/8", "192.0.2.1/32", "172.17.0.1/32", "192.168.1.1/32", "100.64.0.1/32"] }],
  "untracked_accept": "auto" }
JSON
run 0 ntc lint --json "$work/eth0-forward.json"
python3 "$src/tests/tools/lint-corpus.py" findings "$work/out" >"$work/tokens"
assert_eq "$(cat "$work/tokens")" "-" "docker 28 + eth0's forwarded traffic untracked: findings"
run 0 ntc apply "$work/eth0-forward.json"
assert_eq "$(count "$outside" 192.0.2.1 8080 3)" 3 "docker 28 + eth0's forwarded traffic untracked: the published port"
assert_eq "$(count "$outside" 172.17.0.2 80 1)" 0 "docker 28 + eth0's forwarded traffic untracked: direct access"
run 0 ntc remove
reset_rules

# --- 6. wg-quick full-tunnel client: the ct mark restore is the tunnel's ---
# As wg-quick sets it up (wireguard-tools' add_default): unmarked traffic
# goes through table 51820 (default dev wg0), the WireGuard socket's own UDP
# carries the FwMark 51820 and takes the main table to its endpoint, and the
# ct mark restore gives the endpoint's replies that mark back, so the strict
# reverse-path check (src_valid_mark) looks them up in the main table too.
# No WireGuard in this kernel: a UDP socket with SO_MARK 51820 stands in for
# its socket, and a veth to a namespace for the tunnel.
peer vpn0 10.8.0.1/24 wg0 10.8.0.2/24
vpn=$peer_pid
in_peer "$outside" ip addr add 198.51.100.2/32 dev lo
in_peer "$vpn" ip addr add 203.0.113.5/32 dev lo
ip route add default via 192.0.2.2
ip route add default dev wg0 table 51820
ip rule add not fwmark 51820 table 51820
ip rule add table main suppress_prefixlength 0
sysctl -qw net.ipv4.conf.all.src_valid_mark=1 net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1
udp_echo "$outside" 198.51.100.2 51820
udp_echo "$vpn" 203.0.113.5 9999
udp_echo "$$" 127.0.0.53 53
tunnel() { python3 "$udp" send 198.51.100.2 51820 "$1" 51821 51820 || true; }
through() { python3 "$udp" send 203.0.113.5 9999 "$1" || true; }
stub() { python3 "$udp" send 127.0.0.53 53 "$1" || true; }
nft -f "$corpus/wg-quick-client.nft"
tunnel_up() { [ "$(tunnel 1)" = 1 ]; }
through_up() { [ "$(through 1)" = 1 ]; }
wait_until 10 "wg-quick client: no answer from the endpoint" tunnel_up
wait_until 10 "wg-quick client: no answer through the tunnel" through_up
assert_eq "$(tunnel 3)" 3 "wg-quick client: the tunnel's UDP to its endpoint, before"
# the setup is real: without the restore the endpoint's replies fail the
# reverse-path check
nft delete chain ip wg-quick-wg0 premangle
assert_eq "$(tunnel 3)" 0 "wg-quick client: the tunnel's UDP without the ct mark restore"
nft flush ruleset
nft -f "$corpus/wg-quick-client.nft"
assert_eq "$(tunnel 3)" 3 "wg-quick client: the tunnel's UDP, restore back"
# loopback only: lint is clean, and the tunnel, the traffic through it and
# a stub resolver on 127.0.0.53 keep working
run 0 ntc lint --json "$src/policies/minimal.json"
python3 "$src/tests/tools/lint-corpus.py" findings "$work/out" >"$work/tokens"
assert_eq "$(cat "$work/tokens")" "-" "wg-quick client + minimal.json: findings"
assert_not_contains "$work/out" "wg-quick-wg0" "wg-quick client + minimal.json: no note either"
run 0 ntc apply "$src/policies/minimal.json"
conntrack -F 2>/dev/null # a tunnel that starts after apply
assert_eq "$(tunnel 3)" 3 "wg-quick client + loopback untracked: the tunnel's UDP"
assert_eq "$(through 3)" 3 "wg-quick client + loopback untracked: traffic through the tunnel"
assert_eq "$(stub 3)" 3 "wg-quick client + loopback untracked: the stub resolver on 127.0.0.53"
run 0 ntc remove
# untracking the tunnel's own UDP does break it: the note says so, and
# names the condition (which port the socket uses is not in the ruleset)
cat >"$work/wg-port.json" <<'JSON'
{ "version": 1, "notrack": { "upstreams": [{ "proto": "udp", "ports": [51820] }] } }
JSON
run 0 ntc lint --json "$work/wg-port.json"
assert_contains "$work/out" "only the flows whose packets a socket marks carry that ct mark" "wg-quick client + the tunnel's port: the note"
run 0 ntc apply "$work/wg-port.json"
# (the entry of the tunnel's earlier datagrams would still restore the mark
# for its replies: a tunnel that starts after apply has none)
conntrack -F 2>/dev/null
assert_eq "$(tunnel 3)" 0 "wg-quick client + the tunnel's UDP untracked: the tunnel"
run 0 ntc remove

echo "PASS"
