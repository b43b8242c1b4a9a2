#!/bin/bash
# The state directory, against the real kernel:
#  - rollback --to N goes straight to generation N;
#  - a state directory others can write to is refused, and nothing is applied;
#  - a lock held by another process times out with exit 6, naming the lock;
#  - a damaged generation file fails its checksum: rollback refuses with
#    exit 9 and leaves the kernel alone.
. "$(dirname "$0")/lib.sh"
need_commands flock

stateful_filter
snapshot empty
for p in nginx dns minimal; do
	run 0 ntc apply -q "$src/policies/$p.json"
done
run 0 ntc rollback --to 1
assert_contains "$work/out" "rolled back: generation 3 -> 1" "rollback --to 1"
run 0 ntc diff "$src/policies/nginx.json"
run 9 ntc rollback --to 7
assert_contains "$work/err" "generation 7 does not exist" "rollback to a generation that does not exist"
snapshot at1

# Others can write the state: refused before anything is read or applied.
chmod 0777 "$NOTRACKCTL_STATE_DIR"
run 7 ntc apply "$src/policies/dns.json"
assert_contains "$work/err" "writable by group or others" "a world-writable state directory"
chmod 0700 "$NOTRACKCTL_STATE_DIR"
snapshot after-refusal
assert_same_snapshot at1 after-refusal

# Another run holds the lock until told to let go.
hold_lock "$NOTRACKCTL_STATE_DIR/lock"
run 6 ntc apply --lock-timeout 1 "$src/policies/dns.json"
assert_contains "$work/err" "$NOTRACKCTL_STATE_DIR/lock" "the lock timeout names the lock"
release_lock
snapshot after-lock
assert_same_snapshot at1 after-lock

# A damaged generation is never used.
sed -i 's/8080/8081/' "$NOTRACKCTL_STATE_DIR/gen/1.json"
run 0 ntc apply -q "$src/policies/dns.json"
run 9 ntc rollback --to 1
assert_contains "$work/err" "checksum mismatch" "rollback to a damaged generation"
run 0 ntc diff "$src/policies/dns.json"

# The audit trail: one line per run that could change the kernel, in
# syslog, or (as here: lib.sh) in the file NOTRACKCTL_AUDIT_FILE names.
audit=$NOTRACKCTL_AUDIT_FILE
[ -s "$audit" ] || fail "the applies above left no audit line in $audit"
: >"$audit"
SUDO_USER=alice run 0 ntc apply -q "$src/policies/nginx.json"
assert_eq "$(wc -l <"$audit")" 1 "audit lines after one apply"
assert_contains "$audit" "notrackctl[" "audit line of an apply"
assert_contains "$audit" "]: apply uid=0 euid=0" "audit line of an apply"
assert_contains "$audit" "sudo_user=alice backend=nft table=notrackctl generation=4->5 policy=" "audit line of an apply"
assert_contains "$audit" "result=changed" "audit line of an apply"
assert_not_contains "$work/err" "uid=" "the audit line goes to the file only"
run 0 ntc diff "$src/policies/nginx.json"
assert_eq "$(wc -l <"$audit")" 1 "audit lines after a diff, which changes nothing"
run 9 ntc rollback --to 1
assert_eq "$(wc -l <"$audit")" 2 "audit lines after a failed rollback"
tail -1 "$audit" >"$work/last"
assert_contains "$work/last" "rollback uid=0" "audit line of a failed rollback"
assert_contains "$work/last" "result=error msg=" "audit line of a failed rollback"
echo "PASS"
