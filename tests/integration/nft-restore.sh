#!/bin/bash
# restore, as notrackctl-restore.service runs it at boot: the namespace
# stands in for a fresh boot (empty ruleset, state directory kept).
#  - the current generation comes back exactly, and a second restore
#    changes nothing;
#  - an apply that was never confirmed does not come back: its
#    predecessor does (and a confirm after that fails, exit 12);
#  - a damaged state is reported (exit 9) and nothing is applied.
. "$(dirname "$0")/lib.sh"

stateful_filter
snapshot boot
run 0 ntc apply -q "$src/policies/nginx.json"
snapshot applied

# "Reboot": the kernel forgets everything, the state directory stays.
nft flush ruleset
stateful_filter
snapshot fresh
assert_same_rules boot fresh
run 0 ntc restore
assert_contains "$work/out" "restored generation 1" "restore"
snapshot restored
assert_same_rules applied restored
run 0 ntc restore
assert_contains "$work/out" "unchanged (generation 1)" "a second restore"

# An unconfirmed apply, then a "reboot" before its deadline.
run 0 ntc apply -q --confirm 60 "$src/policies/dns.json"
kill "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["timer_id"])' "$NOTRACKCTL_STATE_DIR/pending.json")"
nft flush ruleset
stateful_filter
export NOTRACKCTL_TEST_BOOT_ID=after-reboot # the seam: a new boot id, as a reboot gives
run 0 ntc restore
assert_contains "$work/err" "generation 2 was never confirmed before the restart; restoring generation 1" "restore of an unconfirmed apply"
snapshot restored2
assert_same_rules applied restored2
[ ! -e "$NOTRACKCTL_STATE_DIR/pending.json" ] || fail "pending.json left after restore"
run 0 ntc generations --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["current"] == 1, d' "$work/out" || fail "current after restore: $(cat "$work/out")"
run 12 ntc confirm # the change it would keep is gone
assert_contains "$work/err" "was not confirmed in time and was rolled back to 1" "confirm after the restart"

# In the same boot, before its deadline, restore puts the pending change
# back and leaves it pending: its timer still runs.
run 0 ntc apply -q --confirm 60 "$src/policies/dns.json"
snapshot pending-dns
nft flush ruleset
stateful_filter
run 0 ntc restore
snapshot restored-pending
assert_same_rules pending-dns restored-pending
[ -e "$NOTRACKCTL_STATE_DIR/pending.json" ] || fail "restore in the same boot ended the confirmation"
run 0 ntc confirm
assert_contains "$work/out" "confirmed: generation" "confirm after a restore in the same boot"

# A damaged state: nothing is applied.
nft flush ruleset
stateful_filter
printf '{"truncated": ' >"$NOTRACKCTL_STATE_DIR/gen/1.json"
run 9 ntc restore
assert_contains "$work/err" "damaged" "restore from a damaged generation"
snapshot after-damage
assert_same_rules boot after-damage
echo "PASS"
