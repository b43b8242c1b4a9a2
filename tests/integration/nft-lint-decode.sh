#!/bin/bash
# The linter's nft reader against rulesets the kernel really holds: native
# nft (anonymous and named sets, verdict maps into other chains, ct state,
# ct helper objects, ct mark, ct zone, dnat/snat/masquerade/redirect, a dnat
# through a map), a kube-proxy-like table (concatenated verdict map into
# endpoint chains), and iptables-nft's xt encodings (multiport, state,
# connmark, CT --helper, REDIRECT).  lint --json must name each conntrack
# user the policy catches, and none of those it does not.  No traffic.
. "$(dirname "$0")/lib.sh"
need_commands iptables-nft
# an address besides lo's: what arrives from outside for 127.0.0.0/8 stays
# tracked (the route_localnet guard), so a service meets NAT only here
ip link add host0 type veth peer name host0p
ip addr add 192.0.2.1/24 dev host0
ip link set host0 up

nft -f - <<'NFT'
table inet fw {
	set allowed { type ipv4_addr; flags interval; elements = { 10.0.0.0/8, 192.168.1.1 } }
	ct helper ftp-std { type "ftp" protocol tcp; }
	chain smtp {
		ct mark 0x5 accept
		ct state != established drop
	}
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		ct state invalid drop
		iifname "lo" accept
		tcp dport 22 ct state new limit rate 10/minute accept
		ip saddr @allowed tcp dport { 80, 443, 8000-8100 } accept
		iifname "veth*" tcp dport != 22 drop
		tcp dport vmap { 25 : jump smtp, 587 : goto smtp }
	}
	chain pre {
		type filter hook prerouting priority raw;
		tcp dport 21 ct helper set "ftp-std"
		udp dport 9999 ct zone set 3
	}
}
table ip nat2 {
	chain pre {
		type nat hook prerouting priority dstnat;
		tcp dport 8081 dnat to 172.17.0.2:80
		udp dport 53 dnat to 10.0.0.1-10.0.0.3
		tcp dport 3128 redirect to :8080
		ip daddr 1.2.3.4 dnat to tcp dport map { 80 : 10.0.0.5, 443 : 10.0.0.6 }
	}
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "eth0" masquerade
		ip saddr 10.0.0.0/12 tcp dport 80 snat to 1.2.3.4:1000-2000
	}
}
table ip kube-proxy {
	map service-ips {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 10.96.0.10 . udp . 53 : goto service-dns }
	}
	chain endpoint-a {
		meta l4proto udp dnat to 10.244.0.5:53
	}
	chain service-dns {
		numgen random mod 2 vmap { 0 : goto endpoint-a, 1 : goto endpoint-a }
	}
	chain services {
		ip daddr . meta l4proto . th dport vmap @service-ips
	}
	chain nat-prerouting {
		type nat hook prerouting priority dstnat;
		jump services
	}
}
NFT
iptables-nft -w -t nat -A PREROUTING -p udp -m multiport --dports 5000:5010,6000 -j DNAT --to-destination 10.1.1.1:7000
iptables-nft -w -t nat -A PREROUTING -p tcp --dport 2121 -j REDIRECT --to-ports 21
iptables-nft -w -A INPUT -p tcp --dport 2222 -m state --state NEW -j ACCEPT
iptables-nft -w -A INPUT -p tcp --dport 4444 -m connmark --mark 1 -j ACCEPT
iptables-nft -w -t raw -A PREROUTING -p tcp --dport 2121 -j CT --helper ftp
# kube-proxy in iptables mode: the service's address and port are on the jump
iptables-nft -w -t nat -N KUBE-SERVICES
iptables-nft -w -t nat -N KUBE-SEP-APISERVER
iptables-nft -w -t nat -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
iptables-nft -w -t nat -A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j KUBE-SEP-APISERVER
iptables-nft -w -t nat -A KUBE-SEP-APISERVER -p tcp -m tcp -j DNAT --to-destination 192.168.0.10:6443

# finds POLICY WANT... NOT...: lint --json of the policy names every WANT
# ("kind table chain" with words of the rule) and no NOT; it exits 4 when it
# found anything, 0 when not.
check() {
	local policy=$1 rc=0
	shift
	printf '%s\n' "$policy" >"$work/p.json"
	ntc lint --json "$work/p.json" >"$work/out" 2>"$work/err" || rc=$?
	python3 - "$work/out" "$rc" "$@" <<-'PY' || fail "lint --json of $policy (exit $rc): $(cat "$work/out" "$work/err")"
		import json, sys
		d = json.load(open(sys.argv[1]))
		if int(sys.argv[2]) != (4 if d["findings"] else 0):
		    sys.exit("exit %s with %d findings" % (sys.argv[2], len(d["findings"])))
		del sys.argv[2]
		got = [" ".join([f["kind"], f["family"], f["table"], f["chain"], f["rule"], f["policy_entry"]]) for f in d["findings"]]
		for want in sys.argv[2:]:
		    neg = want.startswith("!")
		    words = want.lstrip("!").split("|")
		    hit = any(all(w in g for w in words) for g in got)
		    if hit == neg:
		        sys.exit("%s %s in:\n  %s" % ("unexpected" if neg else "missing", want, "\n  ".join(got)))
	PY
}

# (the untracked accept heads inet fw input, but ssh's ct state new accept
# carries a rate limit the untracked packets would skip; a services-only
# policy meets a masquerade only through the replies of a NATed UDP client
# that keeps a fixed source port, udp 53 here, which nothing in the ruleset
# says exists: a note, not a finding; never the SNAT whose port range is
# given; the concatenated verdict map sends only 10.96.0.10 udp 53
# to kube-proxy's DNAT, and that ClusterIP is no address of this host, so
# no service meets it)
check '{"version": 1, "notrack": {"services": [{"proto": "tcp", "ports": [21, 22, 25, 80, 3128, 8081]}, {"proto": "udp", "ports": [53, 9999]}]}}' \
	'state|inet fw input|tcp dport 22 ct state new' \
	'conntrack|inet fw smtp|ct mark' \
	'conntrack|inet fw pre|ct helper set "ftp-std"' \
	'conntrack|inet fw pre|udp dport 9999|services[1]' \
	'nat|ip nat2 pre|dnat to 172.17.0.2:80|services[0]' \
	'nat|ip nat2 pre|udp dport 53 dnat to 10.0.0.1-10.0.0.3|services[1]' \
	'nat|ip nat2 pre|tcp dport 3128 redirect to :8080' \
	'nat|ip nat2 pre|ip daddr 1.2.3.4' \
	'!nat|ip nat2 post|masquerade|services[1]' \
	'!ip nat2 post|snat to 1.2.3.4:1000-2000' \
	'!ip kube-proxy endpoint-a' \
	'!inet fw input|ct state established,related' \
	'!inet fw input|ct state invalid' \
	'!ip filter INPUT'
assert_contains "$work/out" 'masquerade), packets' "the kept-port note names the masquerade"
assert_contains "$work/out" "only for a client behind it that sends from one of those ports itself" "the kept-port note"

# the iptables-nft side: multiport ranges, state, connmark, CT --helper, REDIRECT
check '{"version": 1, "notrack": {"services": [{"proto": "tcp", "ports": [2121, 2222, 4444]}, {"proto": "udp", "ports": [5005]}]}}' \
	'nat|ip nat PREROUTING|udp dport { 5000-5010, 6000 } dnat to 10.1.1.1:7000|services[1]' \
	'nat|ip nat PREROUTING|tcp dport 2121 redirect to :21' \
	'!ip filter INPUT|tcp dport 2222 ct state new' \
	'conntrack|ip filter INPUT|tcp dport 4444 -m connmark' \
	'conntrack|ip raw PREROUTING|tcp dport 2121 -j CT --helper ftp' \
	'!inet fw pre' \
	'!ip nat2 pre|8081'

# the jump's conditions reach the DNAT: 443 to the service address is caught,
# 6443 (the DNAT's own new port) is not.  A service matches only what is
# addressed to this host: the service address is one of ours here, as on
# kube-proxy's IPVS nodes (there on the dummy kube-ipvs0; lo will do)
ip addr add 10.96.0.1/32 dev lo
check '{"version": 1, "notrack": {"services": [{"proto": "tcp", "ports": [443, 6443]}]}}' \
	'nat|ip nat KUBE-SEP-APISERVER|dnat to 192.168.0.10:6443'
grep -q "kube-proxy's DNAT" "$work/out" || fail "KUBE-* chains are not named as kube-proxy's: $(cat "$work/out")"
check '{"version": 1, "notrack": {"services": [{"proto": "tcp", "ports": [443], "peers": ["10.0.0.0/8"], "addresses": ["10.96.0.2"]}]}}' \
	'!ip nat2 post|masquerade' '!KUBE-SEP-APISERVER'

# a port next to them all catches none of those
check '{"version": 1, "notrack": {"services": [{"proto": "tcp", "ports": [5999], "interfaces": ["eth9"]}]}}' \
	'!ip nat2 post|masquerade' \
	'!inet fw' '!ip nat2 pre' '!ip nat PREROUTING' '!ip filter' '!ip raw' '!kube-proxy'
# a whole interface still meets the masquerade of what it forwards
check '{"version": 1, "notrack": {"interfaces": ["eth9"]}}' 'nat|ip nat2 post|masquerade' \
	'nat|ip kube-proxy endpoint-a|dnat to 10.244.0.5:53'
grep -q "kube-proxy's DNAT" "$work/out" || fail "kube-proxy's DNAT is not named as kube-proxy's: $(cat "$work/out")"
# the verdict maps (concatenated key, numgen) are read, not guessed at
grep "endpoint-a" "$work/out" >"$work/kube.txt" || true
assert_not_contains "$work/kube.txt" "false alarm" "kube-proxy's verdict maps decoded"
echo "PASS"
