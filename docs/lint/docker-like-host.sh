#!/bin/sh
# The host docs/lint.md lints: Docker's published port 8080, its rules written
# with iptables-nft exactly as Docker writes them, and an inet filter table
# that rate-limits new ssh connections and drops what it does not accept.
# The docs test runs it in a throwaway network namespace; never on a host.
set -e
# the host's own address on eth0 (a veth stands in for the NIC): published
# ports are reached there
ip link add eth0 type veth peer name eth0-peer
ip addr add 192.0.2.10/24 dev eth0
ip link set eth0 up
ip link set eth0-peer up
iptables-nft -w -t nat -N DOCKER
iptables-nft -w -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
iptables-nft -w -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
iptables-nft -w -t nat -A DOCKER ! -i docker0 -p tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
nft -f - <<'NFT'
table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iifname "lo" accept
		tcp dport 22 ct state new limit rate 10/minute accept
		tcp dport { 80, 443, 8080 } accept
	}
}
NFT
