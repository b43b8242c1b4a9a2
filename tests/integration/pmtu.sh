#!/bin/bash
# Path MTU discovery keeps working for what a policy untracks (issue 14).
# This host S serves 200 kB over HTTP on :8080 behind a stateful filter
# whose first rule drops ct state invalid; client C sits behind router M,
# whose link towards C has an MTU of 1280 (C's own end has 1500, so C
# announces an MSS that does not fit).  S's full-size segments make M send
# "fragmentation needed" / "packet too big" to S.  Conntrack finds no flow
# for an error about an untracked connection and calls it INVALID; unless
# the error is untracked too, the invalid drop takes it and the transfer
# stalls.  After applying policies/nginx.json, with the nft backend and
# with --backend iptables, IPv4 and IPv6: 3 out of 3 fetches complete, S's
# ICMP error rules counted the errors they untracked, and the fetches
# themselves leave no conntrack entry.
. "$(dirname "$0")/ipt-lib.sh"
. "$(dirname "$0")/topo.sh"

host_new m
host_new c
link here eth0 10.0.1.1/24,2001:db8:1::1/64 m s 10.0.1.2/24,2001:db8:1::2/64
link m c 10.1.0.1/24,2001:db8:9::1/64 c eth0 ""
on m ip link set c mtu 1280
on m sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip route add 10.1.0.0/24 via 10.0.1.2
ip -6 route add 2001:db8:9::/64 via 2001:db8:1::2

head -c 200000 /dev/urandom >"$work/blob"
(cd "$work" && exec python3 -m http.server --bind :: 8080 >/dev/null 2>&1) &
defer "kill $! 2>/dev/null; wait $! 2>/dev/null"
for i in $(seq 100); do
	python3 -c 'import socket; socket.create_connection(("::1", 8080), timeout=1).close()' 2>/dev/null && break
	sleep 0.05
done

# Each phase uses fresh client addresses: S remembers a learnt path MTU per
# destination, and a remembered one would need no ICMP error at all.
phase=10
next_client() {
	phase=$((phase + 1))
	on c ip addr add "10.1.0.$phase/24" dev eth0
	on c ip -6 addr add "2001:db8:9::$phase/64" dev eth0 nodad
	on c ip route replace default via 10.1.0.1
	on c ip -6 route replace default via 2001:db8:9::1
}

# fetches SRC URL: how many of 3 fetches from C (bound to SRC) return all 200 kB.
fetches() {
	on c python3 - "$1" "$2" <<-'PY' || true
		import http.client, sys, urllib.parse
		src, url = sys.argv[1], urllib.parse.urlsplit(sys.argv[2])
		ok = 0
		for _ in range(3):
		    try:
		        h = http.client.HTTPConnection(url.hostname, url.port, timeout=4, source_address=(src, 0))
		        h.request("GET", url.path)
		        ok += len(h.getresponse().read()) == 200000
		        h.close()
		    except OSError:
		        pass
		print(ok)
	PY
}

check() {
	local what=$1
	next_client
	ct_flush
	assert_eq "$(fetches "10.1.0.$phase" http://10.0.1.1:8080/blob)" 3 "$what: IPv4 fetches of 200 kB through the 1280 hop"
	assert_eq "$(fetches "2001:db8:9::$phase" "http://[2001:db8:1::1]:8080/blob")" 3 \
		"$what: IPv6 fetches of 200 kB through the 1280 hop"
	conntrack -L -p tcp --dport 8080 >"$work/ct" 2>/dev/null || true
	case $what in
	before*) assert_ge "$(grep -c . "$work/ct" || true)" 6 "$what: entries of the tracked fetches" ;;
	*) assert_eq "$(grep -c . "$work/ct" || true)" 0 "$what: entries of the untracked fetches" ;;
	esac
}

nft -f - <<-'NFT'
	table inet filter {
		chain input {
			type filter hook input priority filter; policy drop;
			ct state invalid drop
			ct state established,related accept
			iifname "lo" accept
			icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
			tcp dport 8080 accept
		}
	}
NFT
check "before (nft)"
run 0 ntc apply "$src/policies/nginx.json"
check "nft apply"
nft list chain inet notrackctl prerouting >"$work/chain"
for family in icmp icmpv6; do
	packets=$(sed -n "s/^.*$family type .*counter packets \([0-9]*\) .*notrack return.*/\1/p" "$work/chain" | head -1)
	assert_ge "${packets:-0}" 1 "ICMP errors ($family) untracked by the ICMP rule"
done
nft flush ruleset

rm -rf "$NOTRACKCTL_STATE_DIR"
for t in ipt4 ipt6; do
	$t -P INPUT DROP
	$t -A INPUT -m conntrack --ctstate INVALID -j DROP
	$t -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
	$t -A INPUT -i lo -j ACCEPT
	$t -A INPUT -p tcp --dport 8080 -j ACCEPT
done
ipt6 -A INPUT -p ipv6-icmp --icmpv6-type neighbour-solicitation -j ACCEPT
ipt6 -A INPUT -p ipv6-icmp --icmpv6-type neighbour-advertisement -j ACCEPT
check "before (iptables)"
run 0 ntc apply --backend iptables "$src/policies/nginx.json"
check "iptables apply"
iptables-legacy -t raw -L NOTRACKCTL-PRE -v -x -n >"$work/chain4"
ip6tables-legacy -t raw -L NOTRACKCTL-PRE -v -x -n >"$work/chain6"
for f in chain4 chain6; do
	packets=$(awk '/icmp errors/ && /CT notrack/ {print $1; exit}' "$work/$f")
	assert_ge "${packets:-0}" 1 "ICMP errors untracked by the iptables ICMP rule ($f)"
done
echo "PASS"
