#!/bin/bash
# apply --confirm, against the real kernel:
#  - unconfirmed, it rolls back by itself at the deadline, to a byte-identical
#    ruleset, even after its timer got the SIGHUP a dying SSH session sends;
#  - a second apply meanwhile is refused (exit 8) and changes nothing;
#  - confirm keeps the change and stops the timer; rollback cancels it too;
#  - confirm with nothing pending says so and exits 0.
# apply runs with --allow-conflicts: the foreign NAT rules built here are
# caught by these policies on purpose (nft-lint tests the linter itself).
. "$(dirname "$0")/lib.sh"

stateful_filter
nat_table
snapshot before

pending_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$NOTRACKCTL_STATE_DIR/pending.json" "$1"; }
wait_gone() { # wait_gone FILE SECONDS
	local i
	for i in $(seq $(($2 * 10))); do [ -e "$1" ] || return 0; sleep 0.1; done
	fail "$1 still there after $2 s"
}
timer_alive() { kill -0 "$1" 2>/dev/null && grep -q confirm-expire "/proc/$1/cmdline" 2>/dev/null; }
timer_gone() { ! timer_alive "$1"; }

# 1. Not confirmed: rolled back at the deadline, SIGHUP or not.  (The
# deadline leaves room for the checks made while it is pending.)
run 0 ntc apply --allow-conflicts --json --confirm 5 "$src/policies/nginx.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c=d["confirm"]; assert d["changed"] and c["generation"] == 1 and c["rollback_to"] == 0 and len(c["token"]) == 16 and c["timer"] == "process", d' "$work/out" ||
	fail "apply --confirm --json: $(cat "$work/out")"
timer=$(pending_field timer_id)
timer_alive "$timer" || fail "no timer process $timer"
kill -HUP "$timer"
run 8 ntc apply --allow-conflicts "$src/policies/dns.json"
assert_contains "$work/err" "awaits confirmation" "apply while a confirmation is pending"
snapshot while-pending
nft list table inet notrackctl >/dev/null || fail "our table is missing while pending"
# only the timer that got the SIGHUP can roll back: it survived it
wait_gone "$NOTRACKCTL_STATE_DIR/pending.json" 30
wait_until 10 "the timer process $timer to exit after its rollback" timer_gone "$timer"
snapshot expired
assert_same_snapshot before expired
run 0 ntc generations --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["current"] == 0, d' "$work/out" || fail "current generation after expiry: $(cat "$work/out")"

# 2. Confirmed: the change stays, the timer is gone.
run 0 ntc apply --allow-conflicts --confirm 60 "$src/policies/nginx.json"
token=$(pending_field token)
timer=$(pending_field timer_id)

run 9 ntc confirm 0123456789abcdef
assert_contains "$work/err" "does not match" "confirm with a wrong token"
run 0 ntc confirm "$token"
assert_contains "$work/out" "confirmed: generation 2 stays" "confirm"
[ ! -e "$NOTRACKCTL_STATE_DIR/pending.json" ] || fail "pending.json left after confirm"
# with the timer gone nothing can roll back at the deadline
wait_until 10 "the timer to exit after confirm" timer_gone "$timer"
run 0 ntc diff "$src/policies/nginx.json"
run 0 ntc confirm
assert_contains "$work/out" "nothing awaits confirmation" "confirm with nothing pending"

# 3. rollback cancels a pending confirmation.
run 0 ntc apply --allow-conflicts --confirm 60 "$src/policies/dns.json"
timer=$(pending_field timer_id)
run 0 ntc rollback --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["cancelled_confirmation"] is True and d["generation"] == 2, d' "$work/out" ||
	fail "rollback of a pending apply: $(cat "$work/out")"
[ ! -e "$NOTRACKCTL_STATE_DIR/pending.json" ] || fail "pending.json left after rollback"
wait_until 10 "the timer to exit after rollback" timer_gone "$timer"
run 0 ntc diff "$src/policies/nginx.json"
echo "PASS"
