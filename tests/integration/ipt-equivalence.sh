#!/bin/bash
# What the libiptc backend loads is what `notrackctl compile --format
# iptables` prints: for every valid test policy and every shipped one, the
# text goes through iptables-legacy-restore / ip6tables-legacy-restore, then
# (after a reset) the policy is applied with --backend iptables, and
# iptables-legacy-save / ip6tables-legacy-save must print the same bytes for
# both.  Two independent paths into the kernel: iptables' own parser and
# extensions, and our entry builder.
. "$(dirname "$0")/ipt-lib.sh"
need_commands iptables-legacy-restore ip6tables-legacy-restore

reset_legacy() {
	local t
	for t in raw filter; do
		ipt4 -t "$t" -F
		ipt4 -t "$t" -X
		ipt6 -t "$t" -F
		ipt6 -t "$t" -X
	done
}

# Both paths find the same tables loaded (an "auto" accept goes only into
# a filter table that is in use), and the chains a policy names exist.
prepare() {
	local c
	reset_legacy
	for c in input forward; do
		ipt4 -N "$c"
		ipt6 -N "$c"
	done
}

n=0
equivalence_policies >"$work/policies"
while read -r policy <&3; do
	n=$((n + 1))
	name=$(basename "$policy" .json)
	# per-traffic timeouts: refused by this backend (nft-timeouts.sh checks how)
	if grep -q '"timeouts"' "$policy"; then
		run 3 ntc apply -q --backend iptables "$policy"
		continue
	fi
	prepare
	"$bin" compile -q --no-host-check --format iptables --family ipv4 "$policy" >"$work/$name.ipt4"
	"$bin" compile -q --no-host-check --format iptables --family ipv6 "$policy" >"$work/$name.ipt6"
	iptables-legacy-restore -w --noflush <"$work/$name.ipt4" || fail "iptables-legacy-restore refused $name"
	ip6tables-legacy-restore -w --noflush <"$work/$name.ipt6" || fail "ip6tables-legacy-restore refused $name"
	legacy_snapshot "$name-restore"
	prepare
	rm -rf "$NOTRACKCTL_STATE_DIR"
	run 0 ntc apply -q --backend iptables "$policy"
	legacy_snapshot "$name-libiptc"
	assert_same_legacy "$name-restore" "$name-libiptc"
	grep -q -- '-j CT --notrack' "$work/$name-libiptc.ipt4" "$work/$name-libiptc.ipt6" ||
		[ "$name" = notrack-nothing ] || fail "$name: no notrack rule loaded at all"
done 3<"$work/policies"
[ "$n" -ge 15 ] || fail "only $n policies found"
echo "$n policies: iptables-legacy-save identical for both paths"
echo "PASS"
