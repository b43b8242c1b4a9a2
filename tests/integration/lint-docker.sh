#!/bin/bash
# A Docker-like host, linted and applied without --allow-conflicts, with
# real traffic through it:
#
#   outside netns 192.0.2.2 --eth0-- this host 192.0.2.1 --docker0-- container 172.17.0.2
#   (a server on :80)                (its own server on :80)          (a server on :443)
#
#   DNAT eth0:8443 -> 172.17.0.2:443, masquerade of 172.17.0.0/16, a forward
#   chain with policy drop,
# once in native nft (ct state established,related accept; ct status dnat
# accept) and once in Docker's own iptables-nft layout (DOCKER-USER,
# DOCKER-FORWARD, DOCKER, the addrtype jump in nat).  Policy: services tcp
# 80, 443, 8443 and keep_tracked nat tcp/8443 (and the shipped
# docker-host policies lint clean too).  Services match only what is
# addressed to this host, so the container's connections to an outside :80
# (forwarded, masqueraded) and the forward chain are none of the policy's
# business: lint exits 0, apply succeeds, and
#   - the published port works (the DNAT stays tracked),
#   - the container reaches the outside :80 through the masquerade,
#   - the host's own :80 works and leaves no conntrack entry.
. "$(dirname "$0")/lib.sh"
need_commands nsenter iptables-nft sysctl

# serve PID ADDR PORT: tcpload's echo server in a peer, stopped at exit
serve() {
	nsenter -t "$1" -n python3 "$tcpload" serve "$2" "$3" &
	defer "kill $! 2>/dev/null; wait $! 2>/dev/null"
}
# count PID ADDR PORT N: how many of N connections from PID got their reply
count() { in_peer "$1" python3 "$tcpload" connect "$2" "$3" "$4" || true; }
wait_for() {
	local i
	for i in $(seq 100); do
		[ "$(count "$@" 1)" = 1 ] && return 0
		sleep 0.1
	done
	fail "no answer from $2:$3"
}
# entries_to ADDR PORT: conntrack entries whose original destination is ADDR:PORT
entries_to() {
	conntrack -L -p tcp --orig-dst "$1" --dport "$2" >"$work/ct.txt" 2>/dev/null || true
	grep -c '^tcp' "$work/ct.txt" || true
}

sysctl -qw net.ipv4.ip_forward=1
peer ct0 172.17.0.2/16 docker0 172.17.0.1/16
container=$peer_pid
peer out0 192.0.2.2/24 eth0 192.0.2.1/24
outside=$peer_pid
serve "$container" 172.17.0.2 443
serve "$outside" 192.0.2.2 80
start_server 80 192.0.2.1

cat >"$work/policy.json" <<'JSON'
{
  "version": 1,
  "notrack": { "services": [{ "proto": "tcp", "ports": [80, 443, 8443] }] },
  "keep_tracked": [{ "reason": "nat", "proto": "tcp", "ports": [8443], "role": "service" }]
}
JSON

# check LAYOUT: the traffic before, lint, apply, the traffic after
check() {
	local name=$1
	wait_for "$outside" 192.0.2.1 8443
	wait_for "$container" 192.0.2.2 80
	ct_flush
	assert_eq "$(count "$outside" 192.0.2.1 80 20)" 20 "$name: the host's own :80 before apply"
	assert_ge "$(entries_to 192.0.2.1 80)" 20 "$name: conntrack entries of the host's :80 before apply"

	run 0 ntc lint "$work/policy.json"
	assert_contains "$work/out" "clean" "$name: lint"
	# and the shipped docker-host policy (its services on eth0)
	run 0 ntc lint "$src/policies/docker-host.json"
	run 0 ntc lint "$src/examples/docker-host/policy.json"
	run 0 ntc apply "$work/policy.json"
	assert_not_contains "$work/err" "lint" "$name: apply of a clean policy"

	ct_flush
	assert_eq "$(count "$outside" 192.0.2.1 8443 20)" 20 "$name: the published port after apply"
	assert_eq "$(count "$container" 192.0.2.2 80 20)" 20 "$name: the container's masqueraded :80 after apply"
	assert_eq "$(count "$outside" 192.0.2.1 80 20)" 20 "$name: the host's own :80 after apply"
	assert_eq "$(entries_to 192.0.2.1 80)" 0 "$name: conntrack entries of the host's :80 after apply"
	run 0 ntc remove
}

# 1. native nft, as Docker 29 or a hand-written host firewall
nft -f - <<'NFT'
table ip nat {
	chain prerouting {
		type nat hook prerouting priority dstnat;
		iifname "eth0" tcp dport 8443 dnat to 172.17.0.2:443
	}
	chain postrouting {
		type nat hook postrouting priority srcnat;
		ip saddr 172.17.0.0/16 oifname != "docker0" masquerade
	}
}
table inet filter {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		ct status dnat accept
		iifname "docker0" oifname "eth0" accept
	}
}
NFT
check "nft"
nft flush ruleset

# 2. Docker's own iptables-nft layout (Docker 28)
ipt() { iptables-nft -w "$@"; }
ipt -N DOCKER
ipt -N DOCKER-USER
ipt -N DOCKER-FORWARD
ipt -P FORWARD DROP
ipt -A FORWARD -j DOCKER-USER
ipt -A FORWARD -j DOCKER-FORWARD
ipt -A DOCKER-USER -j RETURN
ipt -A DOCKER-FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
ipt -A DOCKER-FORWARD -o docker0 -j DOCKER
ipt -A DOCKER-FORWARD -i docker0 -j ACCEPT
ipt -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 443 -j ACCEPT
ipt -t nat -N DOCKER
ipt -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
ipt -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
ipt -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
ipt -t nat -A DOCKER -i docker0 -j RETURN
ipt -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8443 -j DNAT --to-destination 172.17.0.2:443
check "iptables-nft"
echo "PASS"
