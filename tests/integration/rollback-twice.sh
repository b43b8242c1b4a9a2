#!/bin/bash
# No false tampering reports, for one backend (nft or iptables): after
# apply -> remove -> rollback -> rollback, with nothing else touching the
# ruleset, no rollback says an accept of ours is gone or that others changed
# anything: a rollback that put our accepts back gave them new handles, and
# the live record (live.json) says what it left.  The kernel ends as it
# started.
#
# Usage: rollback-twice.sh NOTRACKCTL SOURCE_DIR nft|iptables
. "$(dirname "$0")/lib.sh"
backend=${3:-nft}
need_commands iptables-legacy iptables-legacy-save ip6tables-legacy ip6tables-legacy-save
. "$(dirname "$0")/crash-lib.sh"

reboot
kernel before
run 0 nb apply -q --allow-conflicts "$src/policies/nginx.json"
kernel applied
run 0 nb remove
for step in 1 2; do
	run 0 nb rollback --json
	assert_not_contains "$work/err" "is gone" "rollback $step"
	assert_not_contains "$work/err" "someone else" "rollback $step"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["foreign_changes"] is False, d' "$work/out" ||
		fail "rollback $step reports foreign changes: $(cat "$work/out")"
	kernel "step$step"
done
assert_same_file "$work/applied.k" "$work/step1.k" "the kernel after the first rollback (generation 1)"
assert_same_file "$work/before.k" "$work/step2.k" "the kernel after the second rollback (generation 0)"
echo "PASS"
