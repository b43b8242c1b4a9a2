#!/bin/bash
# An upstreams policy on a NAT router untracks only the router's own
# connections (issue 14): R masquerades inside I's connections to outside X,
# and R itself talks to X:443 under a policy of upstreams tcp/443 at X.  A
# reply to I's masqueraded connection is addressed to R until conntrack
# undoes the NAT, so a rule that looked only at addresses and ports would
# untrack it and break I's connection.  With the nft backend and then with
# --backend iptables, IPv4 and IPv6:
#  - I's connections to X:443 keep working (5 out of 5);
#  - R's own connections to X:443 all work and leave no conntrack entry.
. "$(dirname "$0")/ipt-lib.sh"
. "$(dirname "$0")/topo.sh"

router_hosts
serve_on x :: 443

policy=$work/upstream.json
echo '{"version":1,"notrack":{"upstreams":[{"proto":"tcp","ports":[443],"peers":["192.0.2.2","2001:db8:1::2"]}]}}' >"$policy"

nat() {
	nft -f - <<-'EOF'
		table inet nat {
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "ext" masquerade
			}
		}
	EOF
}

# R's own entries towards X:443 (I's masqueraded ones start at I's address)
own_entries() {
	conntrack -L -p tcp --dport 443 -s "$1" >"$work/ct" 2>/dev/null || true
	grep -c . "$work/ct" || true
}

check() {
	local what=$1 x r
	for pair in "192.0.2.2 192.0.2.1" "2001:db8:1::2 2001:db8:1::1"; do
		set -- $pair
		x=$1 r=$2
		ct_flush
		assert_eq "$(reach i "$x" 443 5)" 5 "$what: I's masqueraded connections to $x:443"
		assert_eq "$(reach here "$x" 443 20)" 20 "$what: R's own connections to $x:443"
		case $what in
		before*) assert_ge "$(own_entries "$r")" 20 "$what: R's entries towards $x:443" ;;
		*) assert_eq "$(own_entries "$r")" 0 "$what: R's entries towards $x:443" ;;
		esac
	done
}

# lint judges this setup in the other half of issue 14; here it is the
# rules that are under test, so a conflict report must not stop them
nat
router_firewall nft
check before
run 0 ntc apply --allow-conflicts "$policy"
check "nft apply"
nft list chain inet filter forward >"$work/forward"
assert_not_contains "$work/forward" "untracked" "the forward chain after an upstreams apply"
nft delete table inet filter
nft delete table inet notrackctl

rm -rf "$NOTRACKCTL_STATE_DIR"
router_firewall ipt
check "before (iptables)"
run 0 ntc apply --allow-conflicts --backend iptables "$policy"
check "iptables apply"
echo "PASS"
