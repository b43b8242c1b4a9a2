#!/bin/bash
# --backend auto, the detection matrix.  Each case is set up with the real
# tools in a namespace of its own, and must reach the right decision:
#   legacy         iptables-legacy rules                 → iptables
#   iptables-nft   iptables-nft rules (only native-encodable ones,
#                  so no xt expression gives it away)     → nft
#   native         an nft table of the admin's           → nft
#   both           legacy rules and an nft table         → refused, exit 2
#   none           nothing                               → nft
#   idle-legacy    a legacy table loaded but empty, and
#                  an nft table                          → nft
# Probing creates nothing: the legacy table list and the nft ruleset are
# the same before and after `diff`.  Then apply (auto) must put our rules
# where the decision said, and --verbose/--json must explain it.
# And a reboot: in an empty kernel, `restore` follows the backend the
# current generation was applied with.
. "$(dirname "$0")/ipt-lib.sh"
need_commands iptables-nft iptables-nft-save

policy=$src/policies/nginx.json

setup() {
	case $1 in
	legacy) ipt4 -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT ;;
	iptables-nft) iptables-nft -w -A INPUT -p tcp --dport 22 -j ACCEPT ;;
	native | idle-legacy)
		nft add table inet fw
		nft add chain inet fw input '{ type filter hook input priority 0; policy accept; }'
		nft add rule inet fw input tcp dport 22 accept
		[ "$1" = native ] || ipt4 -L -n >/dev/null # loads an empty filter table
		;;
	both)
		ipt4 -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
		nft add table inet fw
		nft add chain inet fw input '{ type filter hook input priority 0; policy accept; }'
		;;
	none) ;;
	*) fail "unknown case $1" ;;
	esac
}

tables() {
	cat /proc/net/ip_tables_names /proc/net/ip6_tables_names 2>/dev/null || true
	nft list ruleset
}

# A reboot: generation 1 was applied with the iptables backend (in one
# namespace); in a fresh, empty one, `restore` with auto must use the
# backend the generation was applied with, not the empty kernel's default.
if [ "${3:-}" = reboot-before ] || [ "${3:-}" = reboot-after ]; then
	export NOTRACKCTL_STATE_DIR=$4
	if [ "$3" = reboot-before ]; then
		run 0 ntc apply --backend iptables "$policy"
	else
		run 0 ntc restore --json
		python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["backend"] == "iptables" and "current generation 1 was applied with the iptables backend" in d["backend_decision"]["reason"], d' "$work/out" ||
			fail "restore after a reboot: $(cat "$work/out")"
		iptables-legacy-save >"$work/restored.ipt4"
		assert_contains "$work/restored.ipt4" '-A PREROUTING -m comment --comment notrackctl -j NOTRACKCTL-PRE' \
			"our legacy rules, put back by restore after a reboot"
		nft list table inet notrackctl >/dev/null 2>&1 && fail "restore after a reboot made an nft table"
	fi
	echo "PASS $3"
	exit 0
fi

# One case, in a namespace of its own (the outer run below starts it).
if [ $# -ge 3 ]; then
	case=$3 want=$4
	setup "$case"
	tables >"$work/tables-before"
	if [ "$want" = refused ]; then
		run 2 ntc diff --json --verbose "$policy"
		python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["backend"] is None and d["error"]["code"] == 2 and d["error"]["kind"] == "usage", d
assert "choose with --backend iptables or --backend nft" in d["error"]["message"], d
assert "ipv4 filter" in d["error"]["message"] and "inet fw" in d["error"]["message"], d
assert [w for w in d["warnings"] if w["message"].startswith("split brain")], d
assert d["backend_decision"]["backend"] is None, d' "$work/out" || fail "$case: --json: $(cat "$work/out")"
		run 2 ntc apply "$policy"
		assert_contains "$work/err" "both iptables-legacy (ipv4 filter" "$case: error"
		assert_contains "$work/err" "warning: split brain: iptables-legacy tables in use: ipv4 filter" "$case: warning"
		assert_contains "$work/err" "warning: split brain: nftables tables in use: inet fw" "$case: warning"
		tables >"$work/tables-after"
		assert_same_file "$work/tables-before" "$work/tables-after" "$case: tables after a refused apply"
		# an explicit backend is obeyed
		run 0 ntc apply --backend iptables "$policy"
		echo "PASS $case"
		exit 0
	fi
	run 1 ntc diff --json "$policy"
	got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["backend"], d["backend_decision"]["backend"], d["backend_decision"]["requested"])' "$work/out")
	assert_eq "$got" "$want $want auto" "$case: backend decided"
	run 1 ntc diff --verbose "$policy"
	assert_contains "$work/err" "notrackctl: backend $want (auto): " "$case: --verbose"
	tables >"$work/tables-after"
	assert_same_file "$work/tables-before" "$work/tables-after" "$case: tables after probing"
	run 0 ntc apply "$policy"
	if [ "$want" = iptables ]; then
		iptables-legacy-save >"$work/$case.ipt4"
		assert_contains "$work/$case.ipt4" '-j NOTRACKCTL-PRE' "$case: our chains in iptables-legacy"
		nft list table inet notrackctl >/dev/null 2>&1 && fail "$case: an nft table was made"
	else
		nft list table inet notrackctl >/dev/null || fail "$case: no nft table of ours"
		# iptables-legacy-save dumps only the tables already loaded
		iptables-legacy-save >"$work/$case.ipt4"
		assert_not_contains "$work/$case.ipt4" NOTRACKCTL "$case: iptables-legacy, which must not hold our chains"
	fi
	if [ "$case" = iptables-nft ]; then
		iptables-nft-save >"$work/save" 2>&1
		assert_not_contains "$work/save" "incompatible" "$case: iptables-nft-save"
		assert_contains "$work/save" "-A INPUT -m conntrack --ctstate UNTRACKED -m comment --comment notrackctl -j ACCEPT" "$case: iptables-nft-save"
	fi
	run 0 ntc rollback
	echo "PASS $case"
	exit 0
fi

for c in "legacy iptables" "iptables-nft nft" "native nft" "both refused" "none nft" "idle-legacy nft"; do
	set -- $c
	out=$(unshare -n -- "$0" "$bin" "$src" "$1" "$2" 2>&1) || fail "case $1: $out"
	echo "$out" | tail -1
done
for step in reboot-before reboot-after; do
	out=$(unshare -n -- "$0" "$bin" "$src" "$step" "$work/shared-state" 2>&1) || fail "$step: $out"
	echo "$out" | tail -1
done
echo "PASS"
