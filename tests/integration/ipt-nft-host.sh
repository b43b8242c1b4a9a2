#!/bin/bash
# An iptables-nft host (Debian 12, RHEL 8+: Docker writes its rules through
# iptables-nft): auto picks the nft backend, and the accepts it puts into
# iptables-nft's chains keep iptables-nft working:
#  - iptables-nft-save and ip6tables-nft-save still list their tables, with
#    no "incompatible" warning, and show our rule as
#    "-m conntrack --ctstate UNTRACKED -m comment --comment notrackctl -j ACCEPT";
#  - the xt conntrack match we send carries the very bytes iptables-nft
#    writes for that match (read back with nft-xt-dump);
#  - ip6 filter holds only a rule iptables-nft encodes natively (no xt
#    expression at all), and is still recognised as iptables-nft's;
#  - rollback leaves nft, nft -j, iptables-nft-save and ip6tables-nft-save
#    byte-identical.
# (apply runs with --allow-conflicts: nginx.json does catch Docker's NAT
# built here; nft-lint tests the linter itself.)
. "$(dirname "$0")/ipt-lib.sh"
need_commands iptables-nft iptables-nft-save ip6tables-nft ip6tables-nft-save
[ -x "${NOTRACKCTL_XT_DUMP:-}" ] || skip "NOTRACKCTL_XT_DUMP does not name nft-xt-dump"

docker_like
# iptables-nft's own encoding of the match, in a chain of its own
iptables-nft -w -N REFERENCE
iptables-nft -w -A REFERENCE -m conntrack --ctstate UNTRACKED -j ACCEPT
ip6tables-nft -w -A INPUT -p tcp --dport 22 -j ACCEPT
snapshot before
ip6tables-nft-save 2>&1 | grep -v '^#' >"$work/before.ip6tnft"

# with a whole interface, so that FORWARD gets the accept too
policy=$work/nginx-lan.json
nginx_lan "$policy"
run 0 ntc apply --allow-conflicts --json "$policy"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["backend"] == "nft" and "iptables-nft manages" in d["backend_decision"]["reason"], d' "$work/out" ||
	fail "auto did not pick nft for an iptables-nft host: $(cat "$work/out")"

iptables-nft-save >"$work/save4" 2>&1
ip6tables-nft-save >"$work/save6" 2>&1
for f in save4 save6; do
	assert_not_contains "$work/$f" "incompatible" "$f after apply"
	assert_contains "$work/$f" "*filter" "$f lists the filter table"
done
grep -qx -- "-A FORWARD -m conntrack --ctstate UNTRACKED -m comment --comment notrackctl -j ACCEPT" "$work/save4" ||
	fail "iptables-nft-save does not show our accept in FORWARD: $(cat "$work/save4")"
grep -qx -- "-A INPUT -m conntrack --ctstate UNTRACKED -m comment --comment notrackctl -j ACCEPT" "$work/save6" ||
	fail "ip6tables-nft-save does not show our accept in INPUT: $(cat "$work/save6")"
grep -- '^-A FORWARD' "$work/save4" | head -1 | grep -q 'comment notrackctl' || fail "our accept is not first in FORWARD"
iptables-nft -w -L FORWARD -n >/dev/null || fail "iptables-nft -L fails after apply"
ip6tables-nft -w -L INPUT -n >/dev/null || fail "ip6tables-nft -L fails after apply"

# Byte for byte the match iptables-nft writes.
"$NOTRACKCTL_XT_DUMP" ip filter REFERENCE | awk '$3 == "match" && $4 == "conntrack" { print $5, $6, $7 }' >"$work/theirs"
"$NOTRACKCTL_XT_DUMP" ip filter FORWARD | awk '$3 == "match" && $4 == "conntrack" { print $5, $6, $7 }' | sort -u >"$work/in-forward"
[ -s "$work/theirs" ] || fail "no conntrack match in iptables-nft's own rule"
grep -qxF -f "$work/theirs" "$work/in-forward" || fail "our conntrack match differs from iptables-nft's: $(cat "$work/theirs") vs $(cat "$work/in-forward")"
"$NOTRACKCTL_XT_DUMP" ip6 filter INPUT | awk '$3 == "match" { print $4 }' >"$work/ip6-matches"
assert_contains "$work/ip6-matches" "conntrack" "the accept in ip6 filter INPUT uses the xt match"

run 0 ntc apply --allow-conflicts "$policy"
assert_contains "$work/out" "unchanged (generation 1)" "second apply"
run 0 ntc rollback
snapshot after
ip6tables-nft-save 2>&1 | grep -v '^#' >"$work/after.ip6tnft"
assert_same_snapshot before after
assert_same_file "$work/before.ip6tnft" "$work/after.ip6tnft" "ip6tables-nft-save (before vs after)"
echo "PASS"
