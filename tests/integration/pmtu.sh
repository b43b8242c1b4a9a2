#!/bin/bash
# Path MTU discovery keeps working for what a policy untracks (issue 14).
# This host S serves 200 kB over HTTP on :8080 behind a stateful filter
# whose first rule drops ct state invalid; client C sits behind router M,
# whose link towards C has an MTU of 1280 (C's own end has 1500, so C
# announces an MSS that does not fit).  S's full-size segments make M send
# "fragmentation needed" / "packet too big" to S.  Conntrack finds no flow
# for an error about an untracked connection and calls it INVALID; unless
# the error is untracked too, the invalid drop takes it and the transfer
# stalls.  After applying policies/nginx.json plus an upstream (tcp/9000,
# a sink on C), with the nft backend and with --backend iptables, IPv4 and
# IPv6: 3 out of 3 fetches of 200 kB from S complete, and 3 out of 3
# uploads of 200 kB from S to C (the errors then concern S's own socket,
# found by the socket lookup of the embedded packet); S's ICMP error rules
# counted the errors they untracked, and neither leaves a conntrack entry.
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
policy=$work/nginx-upstream.json
python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); p["notrack"]["upstreams"]=[{"proto":"tcp","ports":[9000]}]; json.dump(p, open(sys.argv[2], "w"))' \
	"$src/policies/nginx.json" "$policy"
# the sink on C: reads 200 kB, answers with how many bytes it got (nsenter
# itself in the background, so that the kill at exit reaches python)
nsenter -t "$host_pid_c" -n -- python3 -c '
import socket, socketserver
class H(socketserver.StreamRequestHandler):
    def handle(self):
        n = 0
        while n < 200000:
            b = self.rfile.read1(65536)
            if not b:
                break
            n += len(b)
        self.wfile.write(b"%d\n" % n)
class S(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6
    allow_reuse_address = True
    daemon_threads = True
S(("::", 9000), H).serve_forever()
' &
defer "kill $! 2>/dev/null; wait $! 2>/dev/null"
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
	# and one for the uploads: the fetches teach S the path MTU to the first
	on c ip addr add "10.1.0.$((phase + 100))/24" dev eth0
	on c ip -6 addr add "2001:db8:9::$((phase + 100))/64" dev eth0 nodad
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

# uploads DST: how many of 3 uploads of 200 kB from S to C's sink arrive whole.
uploads() {
	python3 - "$1" <<-'PY' || true
		import socket, sys
		ok = 0
		for _ in range(3):
		    try:
		        with socket.create_connection((sys.argv[1], 9000), timeout=4) as s:
		            s.sendall(b"x" * 200000)
		            s.shutdown(socket.SHUT_WR)
		            ok += s.makefile("rb").readline() == b"200000\n"
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
	assert_eq "$(uploads "10.1.0.$((phase + 100))")" 3 "$what: IPv4 uploads of 200 kB through the 1280 hop"
	assert_eq "$(uploads "2001:db8:9::$((phase + 100))")" 3 "$what: IPv6 uploads of 200 kB through the 1280 hop"
	conntrack -L -p tcp >"$work/ct" 2>/dev/null || true
	case $what in
	before*) assert_ge "$(grep -c . "$work/ct" || true)" 12 "$what: entries of the tracked connections" ;;
	*) assert_eq "$(grep -c . "$work/ct" || true)" 0 "$what: entries of the untracked connections" ;;
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
run 0 ntc apply "$policy"
check "nft apply"
nft list chain inet notrackctl prerouting >"$work/chain"
for entry in services upstreams; do
	for family in icmp icmpv6; do
		packets=$(sed -n "s/^.*$family type .*counter packets \([0-9]*\) .*notrack.$entry.0. (icmp errors).*/\1/p" \
			"$work/chain")
		assert_ge "${packets:-0}" 1 "ICMP errors ($family) about the $entry entry untracked by its ICMP rule"
	done
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
run 0 ntc apply --backend iptables "$policy"
check "iptables apply"
iptables-legacy -t raw -L NOTRACKCTL-PRE -v -x -n >"$work/chain4"
ip6tables-legacy -t raw -L NOTRACKCTL-PRE -v -x -n >"$work/chain6"
for f in chain4 chain6; do
	for entry in services upstreams; do
		packets=$(awk -v e="notrack.$entry" 'index($0, e) && /icmp errors/ && /CT notrack/ {print $1; exit}' "$work/$f")
		assert_ge "${packets:-0}" 1 "ICMP errors about the $entry entry untracked by its iptables ICMP rule ($f)"
	done
done
echo "PASS"
