#!/bin/bash
# Someone else's notrack rule and our untracked accept, with real traffic:
#
#   client netns 192.0.2.2 --ext0-- this netns 192.0.2.1 (udp echo on 9999)
#
# Another tool's raw rule untracks udp/9999, and the input chain drops what
# it does not accept (policy drop): udp/9999 is dropped before we apply.  Our
# untracked accept cannot tell those packets from ours, so a tcp/80 policy
# would open udp/9999.  lint must name that rule (exit 4), apply must refuse
# like for any other conflict and change nothing, and apply
# --allow-conflicts must go ahead and say what is now reachable, which the
# traffic then confirms.  Three places the foreign rule can live:
#   1. an nft table of its own (native notrack), the nft backend;
#   2. iptables-nft's raw table (xt CT --notrack), the nft backend;
#   3. the legacy raw table, with the legacy filter table's INPUT policy
#      drop, and --backend iptables (which lints nothing else yet).
. "$(dirname "$0")/lib.sh"
need_commands nsenter iptables-nft iptables-legacy iptables-legacy-save ip6tables-legacy

peer cl0 192.0.2.2/24 ext0 192.0.2.1/24
client=$peer_pid

# a udp echo server on this host, and a client that counts the answers
cat >"$work/udp.py" <<'PY'
import socket, sys
if sys.argv[1] == "serve":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[2], int(sys.argv[3])))
    while True:
        data, peer = s.recvfrom(512)
        s.sendto(data, peer)
host, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
got = 0
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    s.sendto(b"ping %d" % i, (host, port))
    try:
        got += s.recv(512) == b"ping %d" % i
    except OSError:
        pass
    s.close()
print(got)
PY
python3 "$work/udp.py" serve 192.0.2.1 9999 &
defer "kill $! 2>/dev/null; wait $! 2>/dev/null"
answers() { nsenter -t "$client" -n python3 "$work/udp.py" connect 192.0.2.1 9999 3; }

cat >"$work/p80.json" <<'JSON'
{ "version": 1, "notrack": { "services": [{ "proto": "tcp", "ports": [80] }] } }
JSON

# the server answers at all (no firewall yet)
for i in $(seq 50); do
	[ "$(answers)" = 3 ] && break
	[ "$i" = 50 ] && fail "the udp echo server never answered"
done

# case NAME BACKEND WANT...: udp/9999 is dropped now; lint and apply refuse
# naming WANT (words of the message); --allow-conflicts applies, says what
# is reachable, and it is.
case_refused() {
	local name=$1 backend=$2
	shift 2
	assert_eq "$(answers)" 0 "$name: udp/9999 answers before apply (the foreign notrack is dropped by input)"
	run 4 ntc --backend "$backend" lint "$work/p80.json"
	for w in "$@" "udp dport 9999" "policy drop" "would become reachable"; do
		assert_contains "$work/out" "$w" "$name: lint names the foreign rule"
	done
	run 4 ntc --backend "$backend" lint --json "$work/p80.json"
	python3 -c '
import json, sys
f = json.load(open(sys.argv[1]))["findings"]
assert [x["kind"] for x in f] == ["foreign_notrack"], f
assert f[0]["policy_entry"] == "$.untracked_accept" and "9999" in f[0]["rule"], f' "$work/out" ||
		fail "$name: lint --json: $(cat "$work/out")"
	nft list ruleset >"$work/before.nft"
	iptables-legacy-save | grep -v '^#' >"$work/before.ipt" || true
	run 4 ntc --backend "$backend" apply "$work/p80.json"
	assert_contains "$work/err" "udp dport 9999" "$name: apply names the foreign rule"
	assert_contains "$work/err" "nothing was applied" "$name: apply refuses"
	nft list ruleset >"$work/after.nft"
	iptables-legacy-save | grep -v '^#' >"$work/after.ipt" || true
	assert_same_file "$work/before.nft" "$work/after.nft" "$name: nft ruleset after the refused apply"
	assert_same_file "$work/before.ipt" "$work/after.ipt" "$name: legacy tables after the refused apply"
	assert_eq "$(answers)" 0 "$name: udp/9999 answers after the refused apply"
	run 0 ntc --backend "$backend" apply --allow-conflicts "$work/p80.json"
	assert_contains "$work/err" "Also accepted now" "$name: apply --allow-conflicts says what is reachable"
	assert_contains "$work/err" "udp dport 9999 arriving for this host" "$name: ... in words"
	# what lint predicted: the foreign notrack's traffic gets through now
	assert_eq "$(answers)" 3 "$name: udp/9999 answers after apply --allow-conflicts"
	run 0 ntc --backend "$backend" remove
}

# 1. a native nft notrack in a table of its own
nft -f - <<'NFT'
table ip other {
	chain pre {
		type filter hook prerouting priority raw;
		udp dport 9999 notrack
	}
}
table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		tcp dport 22 accept
	}
}
NFT
case_refused "nft notrack" nft "ip other pre (udp dport 9999 notrack, handle" "inet filter input"
# and one that only untracks what the policy untracks anyway is no finding
nft flush table ip other
nft add rule ip other pre tcp dport 80 notrack
run 0 ntc lint "$work/p80.json"
nft delete table ip other

# 2. iptables-nft's raw table
iptables-nft -w -t raw -A PREROUTING -p udp --dport 9999 -j CT --notrack
case_refused "iptables-nft CT --notrack" nft "ip raw PREROUTING (udp dport 9999 notrack, handle" "inet filter input"
nft flush ruleset

# 3. the legacy raw and filter tables, and the iptables backend
iptables-legacy -w -t raw -A PREROUTING -p udp --dport 9999 -j CT --notrack
iptables-legacy -w -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
iptables-legacy -w -A INPUT -p tcp --dport 22 -j ACCEPT
iptables-legacy -w -P INPUT DROP
case_refused "legacy CT --notrack" iptables "iptables-legacy ip raw PREROUTING (udp dport 9999 notrack, rule 1)" \
	"iptables-legacy ip filter INPUT"

# 4. IPv6: a NOTRACK in the legacy raw table, and a drop in a chain INPUT
# jumps to (no traffic: the names are the point)
ip6tables-legacy -w -t raw -A PREROUTING -p udp --dport 9999 -j NOTRACK
ip6tables-legacy -w -N MYINPUT
ip6tables-legacy -w -A INPUT -j MYINPUT
ip6tables-legacy -w -A MYINPUT -p udp -s 2001:db8::/32 -j DROP
run 4 ntc --backend iptables lint "$work/p80.json"
assert_contains "$work/out" "iptables-legacy ip6 raw PREROUTING (udp dport 9999 notrack, rule 1)" "IPv6: the rule"
assert_contains "$work/out" "iptables-legacy ip6 filter INPUT drops (ip6 saddr 2001:db8::/32" "IPv6: the drop"
echo "PASS"
