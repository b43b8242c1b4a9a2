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


docker_topology

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
docker28_layout iptables-nft
check "iptables-nft"
echo "PASS"
