#!/bin/bash
# The command line, against the real kernel:
#  - --lock-timeout 0 does not wait: with the state lock (or, for iptables,
#    the xtables lock) held by someone else, the command gives up at once,
#    "after 0 ms", and changes nothing;
#  - every command takes its options before or after its arguments, up to
#    "--" (after which everything is an argument).
. "$(dirname "$0")/lib.sh"
need_commands iptables-legacy-save
pol=$src/policies/nginx.json
stateful_filter
run 0 ntc generations # creates the state directory

# hold_lock FILE: one process holds flock(FILE) until killed ($holder)
hold_lock() {
	python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)' "$1" >"$work/held" &
	holder=$!
	defer "kill $holder 2>/dev/null"
	for i in $(seq 200); do [ -s "$work/held" ] && return 0; sleep 0.02; done
	fail "could not take $1"
}

# --lock-timeout 0 with the state lock held
hold_lock "$NOTRACKCTL_STATE_DIR/lock"
snapshot before
run 6 ntc --lock-timeout 0 apply "$pol"
assert_contains "$work/err" "gave up after 0 ms" "apply --lock-timeout 0"
run 6 ntc rollback --lock-timeout 0
assert_contains "$work/err" "gave up after 0 ms" "rollback --lock-timeout 0"
snapshot after
assert_same_snapshot before after
kill $holder
wait $holder 2>/dev/null || true

# the xtables lock, for the iptables backend
hold_lock "$XTABLES_LOCKFILE"
run 6 ntc apply --backend iptables --lock-timeout 0 "$pol"
assert_contains "$work/err" "timed out after 0.000 s waiting for the xtables lock" "iptables --lock-timeout 0"
kill $holder
wait $holder 2>/dev/null || true

# options after the arguments
run 0 ntc compile "$pol" --table other -q
assert_contains "$work/out" "table inet other {" "compile POLICY --table"
run 2 ntc compile "$pol" --table Bad
assert_contains "$work/err" "table name 'Bad'" "compile POLICY --table Bad"
run 1 ntc diff "$pol" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["changed"] is True, d' "$work/out" || fail "diff POLICY --json: $(cat "$work/out")"
run 1 ntc apply "$pol" --check --allow-conflicts
run 0 ntc apply "$pol" --allow-conflicts --confirm 60 -q
assert_contains "$work/out" "awaiting confirmation" "apply POLICY --confirm 60"
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$NOTRACKCTL_STATE_DIR/pending.json")
run 0 ntc confirm "$token" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["cancelled_confirmation"] is True, d' "$work/out" || fail "confirm TOKEN --json: $(cat "$work/out")"
run 1 ntc rollback --check
run 0 ntc status --json
run 0 ntc lint "$pol" --offline
# "--" ends the options: what follows is a file name
run 3 ntc compile -- --table
assert_contains "$work/err" "--table" "compile -- --table"
echo "PASS"
