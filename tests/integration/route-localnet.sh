#!/bin/bash
# Loopback-only services stay out of the LAN's reach where route_localnet
# is on (Kubernetes nodes; CVE-2020-8558).  On R, net.ipv4.conf.all.
# route_localnet=1 (in this test's namespace only) and a KUBE-FIREWALL-style
# drop of 127.0.0.0/8 from non-loopback sources that conntrack has not seen
# (as kube-proxy writes it); a service listens on 127.0.0.1:8080.  A LAN
# neighbour X sends to 127.0.0.1:8080 through R.  After applying
# policies/nginx.json (services 80, 443, 8080 and loopback), with the nft
# backend and then with --backend iptables, X still cannot connect, while
# R's own loopback connections to :8080 work and stay untracked.
. "$(dirname "$0")/ipt-lib.sh"
. "$(dirname "$0")/topo.sh"

host_new x
link x eth0 192.0.2.2/24 here ext 192.0.2.1/24
sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.ext.route_localnet=1 net.ipv4.conf.all.rp_filter=0 \
	net.ipv4.conf.ext.rp_filter=0
# X sends 127.0.0.1 to R: without its own loopback routes, and allowed to
# route 127.0.0.0/8 out of eth0
on x ip addr flush dev lo
on x sysctl -qw net.ipv4.conf.eth0.route_localnet=1 net.ipv4.conf.all.route_localnet=1
on x ip route add 127.0.0.0/8 via 192.0.2.1 dev eth0
serve_on here 127.0.0.1 8080

nft_firewall() {
	nft -f - <<-'EOF'
		table inet filter {
			chain input {
				type filter hook input priority filter; policy accept;
				ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct state != { established, related } ct status != dnat drop
			}
		}
	EOF
}

ipt_firewall() {
	ipt4 -A INPUT -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
}

check() {
	local what=$1
	assert_eq "$(reach x 127.0.0.1 8080 1)" 0 "$what: X connecting to R's 127.0.0.1:8080 (must stay blocked)"
	ct_flush
	assert_eq "$(reach here 127.0.0.1 8080 10)" 10 "$what: R's own connections to 127.0.0.1:8080"
	case $what in
	before) assert_ge "$(ct_count)" 10 "$what: conntrack entries of R's loopback connections" ;;
	*) assert_eq "$(ct_count)" 0 "$what: conntrack entries of R's loopback connections" ;;
	esac
}

# The path is real: without the drop X does reach the loopback service.
assert_eq "$(reach x 127.0.0.1 8080 1)" 1 "X connecting to 127.0.0.1:8080 with no firewall at all"

# lint (the other half of issue 14) does not model the guard: the rules
# are what is under test here, so a conflict report must not stop them
nft_firewall
check before
run 0 ntc apply --allow-conflicts "$src/policies/nginx.json"
check "nft apply"
nft flush ruleset

rm -rf "$NOTRACKCTL_STATE_DIR"
ipt_firewall
run 0 ntc apply --allow-conflicts --backend iptables "$src/policies/nginx.json"
check "iptables apply"

# IPv6 needs no guard, which is why notrackctl writes none: the kernel drops
# a packet to ::1 that arrives on a non-loopback interface in ipv6_rcv(),
# before the prerouting hook (RFC 4291 2.5.3), while IPv4's 127.0.0.1 does
# reach prerouting.  X sends raw frames to R's MAC; counters at priority
# -400, before anything else could see them, tell which ones arrived.
ip addr add 2001:db8:9::1/64 dev ext nodad
on x ip addr add 2001:db8:9::2/64 dev eth0 nodad
nft -f - <<-'NFT'
	table inet seen {
		chain pre {
			type filter hook prerouting priority -400; policy accept;
			ip6 daddr ::1 counter
			ip6 daddr 2001:db8:9::1 counter
			ip daddr 127.0.0.1 counter
		}
	}
NFT
on x python3 "$src/tests/tools/send-frames.py" eth0 "$(ip -br link show ext | awk '{print $3}')" 5 \
	2001:db8:9::2:::1 2001:db8:9::2:2001:db8:9::1 192.0.2.2:127.0.0.1
counted() { # DADDR: packets the early counter saw for it
	nft list chain inet seen pre >"$work/seen"
	sed -n "s/.*daddr $1 counter packets \([0-9]*\) .*/\1/p" "$work/seen"
}
controls_arrived() { [ "$(counted 2001:db8:9::1)" = 5 ] && [ "$(counted 127.0.0.1)" = 5 ]; }
wait_until 5 "the control frames to 2001:db8:9::1 and 127.0.0.1 reached prerouting" controls_arrived
assert_eq "$(counted ::1)" 0 "IPv6 frames to ::1 from X that reached prerouting"
echo "PASS"
