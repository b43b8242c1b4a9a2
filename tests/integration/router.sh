#!/bin/bash
# A router's firewall keeps its meaning (issue 14): R sits between outside X
# (192.0.2.0/24, 2001:db8:1::/64) and inside I (10.0.0.0/24,
# 2001:db8:2::/64); its forward policy is drop, with established,related
# accepted and LAN->out allowed.  I and R both serve tcp/80.  After applying
# a services policy for tcp/80 on R, with the nft backend and then with
# --backend iptables, for IPv4 and IPv6:
#  - X still cannot reach I:80 (the forwarded SYN stays tracked and meets
#    the forward policy; no untracked accept was put into forward);
#  - X reaches R's own :80 20 times out of 20, and R's conntrack table
#    holds no entry for it;
#  - LAN->out still works (tracked, as before).
. "$(dirname "$0")/ipt-lib.sh"
. "$(dirname "$0")/topo.sh"

router_hosts
on x ip route add default via 192.0.2.1
on x ip -6 route add default via 2001:db8:1::1

serve_on i :: 80
serve_on here :: 80
serve_on x :: 443

policy=$work/web.json
echo '{"version":1,"notrack":{"services":[{"proto":"tcp","ports":[80]}]}}' >"$policy"

# R's entries for connections to its own :80 (from X), per family
own_entries() {
	conntrack -L -p tcp --dport 80 -d "$1" >"$work/ct" 2>/dev/null || true
	grep -c . "$work/ct" || true
}

check() {
	local what=$1 got
	for pair in "10.0.0.2 192.0.2.1" "2001:db8:2::2 2001:db8:1::1"; do
		set -- $pair
		got=$(reach x "$1" 80 1)
		assert_eq "$got" 0 "$what: X connecting to the inside server $1:80 (must stay blocked)"
		ct_flush
		got=$(reach x "$2" 80 20)
		assert_eq "$got" 20 "$what: X connecting to R's own $2:80"
		case $what in before*)
			# conntrack runs here: "0 entries" after apply means something
			assert_ge "$(own_entries "$2")" 20 "$what: R's conntrack entries for X's connections to $2:80"
			continue
			;;
		esac
		assert_eq "$(own_entries "$2")" 0 "$what: R's conntrack entries for X's connections to $2:80"
	done
	# LAN -> out: tracked, and still working
	assert_eq "$(reach i 192.0.2.2 443 3)" 3 "$what: I connecting out to X:443"
	assert_eq "$(reach i 2001:db8:1::2 443 3)" 3 "$what: I connecting out to [X]:443"
}

# nft backend
router_firewall nft 80
check before
run 0 ntc apply "$policy"
check "nft apply"
nft list chain inet filter forward >"$work/forward"
assert_not_contains "$work/forward" "untracked" "the forward chain after a services-only apply"
nft list chain inet filter input >"$work/input"
assert_contains "$work/input" "ct state untracked" "the input chain after apply"
# an accept we put into forward earlier is taken out again
nft insert rule inet filter forward ct state untracked counter accept comment '"notrackctl"'
run 1 ntc diff "$policy"
assert_contains "$work/out" "untracked accept in inet filter forward" "diff names the stale forward accept"
run 0 ntc apply "$policy"
nft list chain inet filter forward >"$work/forward"
assert_not_contains "$work/forward" "untracked" "the forward chain after re-apply"
check "nft re-apply"
nft flush ruleset

# iptables backend (legacy)
rm -rf "$NOTRACKCTL_STATE_DIR"
router_firewall ipt 80
check "before (iptables)"
run 0 ntc apply --backend iptables "$policy"
check "iptables apply"
iptables-legacy-save -t filter >"$work/filter4"
ip6tables-legacy-save -t filter >"$work/filter6"
assert_not_contains "$work/filter4" "-A FORWARD -m conntrack --ctstate UNTRACKED" "iptables FORWARD after apply"
assert_not_contains "$work/filter6" "-A FORWARD -m conntrack --ctstate UNTRACKED" "ip6tables FORWARD after apply"
assert_contains "$work/filter4" "-A INPUT -m conntrack --ctstate UNTRACKED" "iptables INPUT after apply"
# an accept of ours left in FORWARD by an older notrackctl goes away
ipt4 -I FORWARD 1 -m conntrack --ctstate UNTRACKED -m comment --comment notrackctl -j ACCEPT
run 1 ntc diff --backend iptables "$policy"
assert_contains "$work/out" "- rule ipv4 filter FORWARD #1" "diff names the stale FORWARD accept"
run 0 ntc apply --backend iptables "$policy"
iptables-legacy-save -t filter >"$work/filter4"
assert_not_contains "$work/filter4" "-A FORWARD -m conntrack --ctstate UNTRACKED" "iptables FORWARD after re-apply"
check "iptables re-apply"
echo "PASS"
