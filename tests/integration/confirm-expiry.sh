#!/bin/bash
# apply --confirm always ends, for one backend (nft or iptables):
#  1. rules others insert at the head of the same chains (fail2ban, Docker),
#     append or delete there do not stop the automatic rollback; theirs
#     stay, ours go, and the timer's own audit line names the generations;
#  2. --insecure-permissions and XTABLES_LOCKFILE reach the timer's command;
#  3. a confirm after the deadline fails with exit code 12, whether the
#     rollback ran already or is due (its timer died: confirm runs it);
#  4. confirm and the expiry cannot both win, in either order (sync seams):
#     the expiry holds the lock from its pending check to its rollback.
#
# Usage: confirm-expiry.sh NOTRACKCTL SOURCE_DIR nft|iptables
. "$(dirname "$0")/lib.sh"
backend=${3:-nft}
need_commands iptables-legacy iptables-legacy-save ip6tables-legacy ip6tables-legacy-save
. "$(dirname "$0")/crash-lib.sh"
export NOTRACKCTL_AUDIT_FILE=$work/audit
pol=$src/policies/nginx.json

reboot
kernel before
pending_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$NOTRACKCTL_STATE_DIR/pending.json" "$1"; }
# wait_for FILE: the expiry ran (bounded); FILE must not be there before
wait_for() {
	local i
	for i in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.05; done
	fail "$1 never appeared"
}
# foreign rules inserted at the head of the chains ours are in, appended,
# and deleted (fail2ban, Docker, an admin)
foreign_insert() {
	if [ "$backend" = nft ]; then
		nft insert rule inet filter input ip saddr 192.0.2.7 counter drop comment '"f2b"'
		nft insert rule inet filter output ip daddr 192.0.2.8 counter accept
		nft add rule inet filter input tcp dport 2222 accept
		nft delete rule inet filter input handle \
			"$(nft -a list chain inet filter input | sed -n 's/.*tcp dport 8080 accept # handle \([0-9]*\)$/\1/p')"
	else
		iptables-legacy -w -I INPUT 1 -s 192.0.2.7 -j DROP
		iptables-legacy -w -t raw -I PREROUTING 1 -s 192.0.2.9 -j ACCEPT
		iptables-legacy -w -A INPUT -p tcp --dport 2222 -j ACCEPT
		iptables-legacy -w -D INPUT -p tcp --dport 22 -j ACCEPT
		ip6tables-legacy -w -I INPUT 1 -s 2001:db8::7 -j DROP
	fi
}

# 1. Foreign inserts at the head do not stop the expiry.
foreign_insert
kernel theirs
reboot
run 0 nb apply -q --allow-conflicts --confirm 2 "$pol"
foreign_insert
wait_for "$NOTRACKCTL_STATE_DIR/expired.json"
[ ! -e "$NOTRACKCTL_STATE_DIR/pending.json" ] || fail "still pending after the expiry"
assert_eq "$(current_gen)" 0 "current after the expiry"
kernel expired
# ours are gone; theirs stay exactly as they were
assert_same_file "$work/theirs.k" "$work/expired.k" "the ruleset after the expiry (theirs only)"
assert_contains "$work/audit" "confirm-expire uid=0" "the automatic rollback's audit line"
assert_contains "$work/audit" "generation=1->0" "the automatic rollback's audit line"
run 0 nb status
assert_contains "$work/out" "generation 1 was not confirmed in time and was rolled back to 0" "status after the expiry"
# 3a. a late confirm fails, with or without the token
run 12 nb confirm
assert_contains "$work/err" "too late: generation 1 was not confirmed in time" "a late confirm"
run 0 nb rollback --force --to 0 # back to the boot ruleset for what follows
reboot
kernel before

# 2. --insecure-permissions reaches the timer: a state directory others
#    can write to is accepted by it too, and it rolls back.
chmod 0770 "$NOTRACKCTL_STATE_DIR"
run 7 nb apply -q --allow-conflicts --confirm 1 "$pol"
rm "$NOTRACKCTL_STATE_DIR/expired.json" # the last one's: wait for this one's
run 0 nb --insecure-permissions apply -q --allow-conflicts --confirm 3 "$pol"
grep -q -- --insecure-permissions "/proc/$(pending_field timer_id)/cmdline" || fail "the timer lacks --insecure-permissions"
tr '\0' '\n' <"/proc/$(pending_field timer_id)/environ" >"$work/timer.env"
assert_contains "$work/timer.env" "XTABLES_LOCKFILE=$XTABLES_LOCKFILE" "the timer's environment"
wait_for "$NOTRACKCTL_STATE_DIR/expired.json"
kernel after-insecure
assert_same_file "$work/before.k" "$work/after-insecure.k" "the ruleset after an --insecure-permissions expiry"
chmod 0700 "$NOTRACKCTL_STATE_DIR"

# 3b. The timer died; the deadline passed: confirm runs the rollback and
#     fails as late.
run 0 nb apply -q --allow-conflicts --confirm 3 "$pol"
kill -KILL "$(pending_field timer_id)"
until nb status >"$work/st" 2>&1 && grep -q 'deadline passed' "$work/st"; do sleep 0.05; done
run 8 nb apply -q --allow-conflicts "$src/policies/dns.json"
assert_contains "$work/err" "its timer has not rolled it back" "apply while an expiry is overdue"
assert_contains "$work/err" "'notrackctl rollback'" "apply while an expiry is overdue"
run 12 nb confirm
assert_contains "$work/err" "too late" "confirm after the deadline, timer dead"
tail -n 1 "$work/audit" >"$work/last-audit"
assert_contains "$work/last-audit" "confirm uid=0" "the late confirm's audit line"
assert_contains "$work/last-audit" "->0 policy=" "the late confirm's audit line names the rollback it did"
kernel after-late
assert_same_file "$work/before.k" "$work/after-late.k" "the ruleset after a late confirm"
run 0 nb apply -q --allow-conflicts "$pol" # a new change: confirm is about it now
run 0 nb confirm
assert_contains "$work/out" "nothing awaits confirmation" "confirm after a plain apply"
run 0 nb remove

# 4a. The expiry took the lock first: confirm waits, then finds it over.
run 0 nb apply -q --allow-conflicts --confirm 3 "$pol"
token=$(pending_field token)
kill -KILL "$(pending_field timer_id)"
rm -rf "$work/sync" && mkdir "$work/sync"
touch "$work/sync/before-commit.go" "$work/sync/after-commit.go" "$work/sync/expire-locked.wait"
NOTRACKCTL_TEST_SYNC_DIR=$work/sync "$bin" --backend "$backend" confirm-expire "$token" >"$work/exp.out" 2>&1 &
exp=$!
for i in $(seq 400); do [ -e "$work/sync/expire-locked" ] && break; sleep 0.05; done
[ -e "$work/sync/expire-locked" ] || fail "the expiry never took the lock"
nb confirm "$token" >"$work/conf.out" 2>&1 &
conf=$!
touch "$work/sync/expire-locked.go"
wait $exp || fail "the expiry failed: $(cat "$work/exp.out")"
got=0
wait $conf || got=$?
assert_eq "$got" 12 "confirm behind the expiry: $(cat "$work/conf.out")"
assert_contains "$work/exp.out" "rolled back" "the expiry that won"
kernel after-4a
assert_same_file "$work/before.k" "$work/after-4a.k" "the ruleset after the expiry won"

# 4b. confirm took the lock first (before the deadline): the expiry finds
#     nothing to undo.
run 0 nb apply -q --allow-conflicts --confirm 3 "$pol"
kernel applied
token=$(pending_field token)
kill -KILL "$(pending_field timer_id)"
rm -rf "$work/sync" && mkdir "$work/sync"
touch "$work/sync/confirm-locked.wait"
NOTRACKCTL_TEST_SYNC_DIR=$work/sync "$bin" --backend "$backend" confirm "$token" >"$work/conf.out" 2>&1 &
conf=$!
for i in $(seq 400); do [ -e "$work/sync/confirm-locked" ] && break; sleep 0.05; done
[ -e "$work/sync/confirm-locked" ] || fail "confirm never got there: $(cat "$work/conf.out")"
"$bin" --backend "$backend" confirm-expire "$token" >"$work/exp.out" 2>&1 &
exp=$!
touch "$work/sync/confirm-locked.go"
wait $conf || fail "confirm failed: $(cat "$work/conf.out")"
wait $exp || fail "the expiry failed: $(cat "$work/exp.out")"
assert_contains "$work/conf.out" "confirmed: generation" "confirm that won"
assert_contains "$work/exp.out" "nothing awaits confirmation" "the expiry behind confirm"
kernel after-4b
assert_same_file "$work/applied.k" "$work/after-4b.k" "the ruleset after confirm won"
echo "PASS"
