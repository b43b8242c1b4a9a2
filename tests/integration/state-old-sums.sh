#!/bin/bash
# A state directory written before the state files' checksums were XXH3
# (FNV-1a, bare hex) still works with this version:
#  - rollback to one of its generations is exact;
#  - restore after a "reboot" brings the current one back exactly;
#  - a damaged old file still fails its checksum (exit 9, nothing applied);
#  - what this version writes from then on carries the new checksum.
. "$(dirname "$0")/lib.sh"

stateful_filter
run 0 ntc apply -q "$src/policies/nginx.json"
snapshot at1
run 0 ntc apply -q "$src/policies/dns.json"
snapshot at2
grep -q '"checksum":"xxh3:' "$NOTRACKCTL_STATE_DIR/gen/2.json" || fail "generation 2 does not carry an XXH3 checksum"

# As the previous version left them.
python3 "$src/tests/tools/state-fnv-sum.py" "$NOTRACKCTL_STATE_DIR"/gen/*.json ||
	fail "cannot rewrite the generations with FNV-1a checksums"
grep -q '"checksum": "[0-9a-f]\{16\}"' "$NOTRACKCTL_STATE_DIR/gen/1.json" || fail "generation 1 was not rewritten"

run 0 ntc rollback
assert_contains "$work/out" "rolled back: generation 2 -> 1" "rollback through an old generation"
snapshot back1
assert_same_rules at1 back1
run 0 ntc rollback --to 2
snapshot back2
assert_same_rules at2 back2

# "Reboot": the kernel forgets everything, the state directory stays.
nft flush ruleset
stateful_filter
export NOTRACKCTL_TEST_BOOT_ID=after-reboot # the seam: a new boot id, as a reboot gives
run 0 ntc restore
assert_contains "$work/out" "restored generation 2" "restore of an old generation"
snapshot restored
assert_same_rules at2 restored

# A damaged old file is never used.
sed -i 's/8080/8081/' "$NOTRACKCTL_STATE_DIR/gen/1.json"
run 9 ntc rollback --to 1
assert_contains "$work/err" "checksum mismatch" "rollback to a damaged old generation"
snapshot after-refusal
assert_same_rules at2 after-refusal

run 0 ntc apply -q "$src/policies/minimal.json"
grep -q '"checksum":"xxh3:' "$NOTRACKCTL_STATE_DIR/gen/3.json" || fail "a new generation does not carry an XXH3 checksum"
run 0 ntc rollback
snapshot back-again
assert_same_rules at2 back-again
echo "PASS"
