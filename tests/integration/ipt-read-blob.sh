#!/bin/bash
# The iptables backend reads a table two ways: the plan, the verification,
# generation() and owned() through the kernel's blob, the commit through a
# libiptc snapshot, which must still be the table the plan read (the same
# digest).  On a host with user chains made out of name order, accepts of
# ours listed in chains of four tables, foreign rules in every table and
# both families, a kube-proxy-like nat table and a DROP policy:
#  - ipt-read-check finds the same digest and the same rules of ours both
#    ways in every table, before and after each apply;
#  - the digest is a digest: a rule added to a table changes it;
#  - applies that add to, change and take from those tables commit and
#    verify (a digest that differed would make every commit "changed since
#    it was read").
. "$(dirname "$0")/ipt-lib.sh"
[ -x "${NOTRACKCTL_READ_CHECK:-}" ] || skip "NOTRACKCTL_READ_CHECK does not name tools/ipt-read-check"

# check NAME: both readers agree on every loaded table; the lines in $work/NAME
check() {
	"$NOTRACKCTL_READ_CHECK" notrackctl >"$work/$1" 2>"$work/$1.err" ||
		fail "$1: the readers differ (exit $?): $(cat "$work/$1" "$work/$1.err")"
	assert_not_contains "$work/$1" DIFFER "$1"
	[ "$(grep -c ' same$' "$work/$1")" -ge "$2" ] || fail "$1: fewer than $2 tables read: $(cat "$work/$1")"
}
# digest NAME FAMILY TABLE: the digest the check NAME read for that table
digest() { awk -v f="$2" -v t="$3" '$1 == f && $2 == t {print $6}' "$work/$1"; }
# ours NAME FAMILY TABLE: how many rules of ours it found there
ours() { awk -v f="$2" -v t="$3" '$1 == f && $2 == t {sub("rules-of-ours=", "", $4); print $4}' "$work/$1"; }

legacy_foreign
# user chains made out of name order (libiptc lists them sorted), in mangle
# and nat of both families, and a chain whose name sorts before the built-ins'
for c in zeta-m alpha-m MID-m; do
	ipt4 -t mangle -N "$c"
	ipt4 -t mangle -A "$c" -p tcp --dport 443 -j MARK --set-mark 0x1
done
ipt4 -t mangle -A PREROUTING -j zeta-m
ipt4 -t mangle -A OUTPUT -j alpha-m
ipt4 -t mangle -A alpha-m -j MID-m
ipt4 -t mangle -N 0-first
ipt4 -t mangle -A FORWARD -m comment --comment "a comment" -j 0-first
ipt6 -t mangle -N b6
ipt6 -t mangle -N a6
ipt6 -t mangle -A PREROUTING -j b6
ipt6 -t mangle -A b6 -p udp --dport 53 -j RETURN
ipt6 -t nat -N svc6
ipt6 -t nat -A OUTPUT -p tcp --dport 80 -j svc6
ipt6 -t nat -A svc6 -p tcp -j DNAT --to-destination '[fd00::2]:8080'
ipt6 -P FORWARD DROP
python3 "$checkout/bench/gen-kube.py" 200 | sed -e '/^\*nat/,$!d' >"$work/kube.rules"
# the kube chains go into nat beside Docker's (--noflush keeps those)
iptables-legacy-restore -w --noflush <"$work/kube.rules"

check none 7
assert_eq "$(ours none ipv4 filter)" 0 "rules of ours before any apply"

# the digest follows the table
ipt4 -t mangle -A zeta-m -j RETURN
check moved 7
[ "$(digest none ipv4 mangle)" != "$(digest moved ipv4 mangle)" ] || fail "a rule added to mangle left its digest"
assert_eq "$(digest none ipv4 nat)" "$(digest moved ipv4 nat)" "nat's digest, mangle changed"

cat >"$work/listed.json" <<'JSON'
{
  "version": 1,
  "notrack": { "services": [ { "proto": "tcp", "ports": [ 22, 8443 ] } ] },
  "untracked_accept": [
    { "family": "ip", "table": "filter", "chain": "INPUT" },
    { "family": "ip", "table": "filter", "chain": "f2b-sshd" },
    { "family": "ip", "table": "mangle", "chain": "alpha-m" },
    { "family": "ip", "table": "nat", "chain": "DOCKER" },
    { "family": "ip6", "table": "mangle", "chain": "b6" },
    { "family": "ip6", "table": "filter", "chain": "FORWARD" }
  ]
}
JSON
run 0 ntc apply -q --allow-conflicts --backend iptables "$work/listed.json"
check applied 8
for t in "ipv4 filter 2" "ipv4 mangle 1" "ipv4 nat 1" "ipv6 mangle 1" "ipv6 filter 1"; do
	set -- $t
	assert_eq "$(ours applied "$1" "$2")" "$3" "rules of ours in $1 $2"
done
[ "$(ours applied ipv4 raw)" -ge 4 ] || fail "our raw rules: $(cat "$work/applied")"
legacy_snapshot applied
assert_contains "$work/applied.ipt4" '-A alpha-m -m conntrack --ctstate UNTRACKED -m comment --comment notrackctl -j ACCEPT' "the accept in mangle"
assert_contains "$work/applied.ipt4" '-A DOCKER -m conntrack --ctstate UNTRACKED -m comment --comment notrackctl -j ACCEPT' "the accept in nat"

# unchanged, then a change that moves accepts between tables and chains
run 0 ntc apply --backend iptables --allow-conflicts "$work/listed.json"
assert_contains "$work/out" "unchanged" "the same policy again"
sed -e 's/"alpha-m"/"zeta-m"/' -e '/"nat"/d' -e 's/8443/8444/' "$work/listed.json" >"$work/moved.json"
run 0 ntc apply -q --allow-conflicts --backend iptables "$work/moved.json"
check changed 8
assert_eq "$(ours changed ipv4 nat)" 0 "rules of ours in nat after the accept left"
legacy_snapshot changed
assert_contains "$work/changed.ipt4" '-A zeta-m -m conntrack --ctstate UNTRACKED -m comment --comment notrackctl -j ACCEPT' "the accept moved"
assert_not_contains "$work/changed.ipt4" '-A alpha-m -m conntrack' "the old accept"

run 0 ntc remove --backend iptables
check removed 8
for t in raw filter mangle nat; do
	assert_eq "$(ours removed ipv4 "$t")" 0 "rules of ours in ipv4 $t after remove"
done
[ -z "${READ_BLOB_SHOW:-}" ] || cat "$work/applied" "$work/changed" >&2
echo "PASS"
