#!/bin/bash
# Rollback that never clobbers, with real concurrent changes:
#  - someone else changed notrackctl's own table: rollback refuses (exit
#    11) and changes nothing; --force rolls back;
#  - others changed only their own objects: rollback restores ours and
#    leaves theirs as they are now, not as they were;
#  - the automatic rollback of --confirm refuses the same way, and leaves
#    the confirmation pending for the admin.
. "$(dirname "$0")/lib.sh"

stateful_filter
run 0 ntc apply -q "$src/policies/nginx.json"
snapshot gen1
run 0 ntc apply -q "$src/policies/dns.json"

# 1. A change inside our own table.
nft add rule inet notrackctl prerouting tcp dport 1234 counter notrack comment '"hand-made"'
snapshot tampered
run 11 ntc rollback
assert_contains "$work/err" "someone else changed notrackctl's own rules since generation 2" "rollback over a change to our table"
snapshot after-refusal
assert_same_snapshot tampered after-refusal
run 0 ntc rollback --force
snapshot forced
assert_same_rules gen1 forced

# 2. Changes to others' objects only: theirs stay as they are now.
run 0 ntc apply -q "$src/policies/dns.json"
nft add rule inet filter input tcp dport 2222 counter accept comment '"theirs, added later"'
nft add table ip newcomer
nft add chain ip newcomer c
run 0 ntc rollback --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["foreign_changes"] is True and d["generation"] == 1, d' "$work/out" ||
	fail "rollback after foreign changes: $(cat "$work/out")"
nft list chain inet filter input >"$work/input"
assert_contains "$work/input" 'comment "theirs, added later"' "their new rule after rollback"
nft list table ip newcomer >/dev/null || fail "their new table is gone after rollback"
run 0 ntc diff "$src/policies/nginx.json"
nft delete table ip newcomer
nft delete rule inet filter input handle "$(nft -a list chain inet filter input | sed -n 's/.*theirs, added later" # handle \([0-9]*\)/\1/p')"
snapshot back-to-gen1
assert_same_rules gen1 back-to-gen1

# 3. The automatic rollback of --confirm refuses over a change to our table,
#    and the confirmation ends all the same: nothing stays pending, and
#    status and a late confirm say what happened.
run 0 ntc apply --confirm 5 "$src/policies/dns.json"
nft add rule inet notrackctl output udp sport 4321 counter notrack comment '"hand-made"'
snapshot tampered2
# the timer ran (and refused): its audit line, written when it is done
wait_until 30 "the timer's confirm-expire audit line" grep -q ': confirm-expire ' "$NOTRACKCTL_AUDIT_FILE"
grep ': confirm-expire ' "$NOTRACKCTL_AUDIT_FILE" >"$work/expire-audit"
assert_contains "$work/expire-audit" "result=error" "the refused automatic rollback's audit line"
[ -e "$NOTRACKCTL_STATE_DIR/expired.json" ] || fail "the expiry left no record"
[ ! -e "$NOTRACKCTL_STATE_DIR/pending.json" ] || fail "the refused automatic rollback left the confirmation pending"
snapshot after-deadline
assert_same_snapshot tampered2 after-deadline
run 0 ntc status
assert_contains "$work/out" "its rollback was refused" "status after a refused expiry"
run 12 ntc confirm
assert_contains "$work/err" "its rollback was refused" "a late confirm after a refused expiry"
run 0 ntc rollback --force
[ ! -e "$NOTRACKCTL_STATE_DIR/pending.json" ] || fail "pending.json left after rollback --force"
snapshot final
assert_same_rules gen1 final
echo "PASS"
