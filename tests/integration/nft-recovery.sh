#!/bin/bash
# A run killed (SIGKILL) at the worst moments, and a state directory that
# cannot be written, against the real kernel.  The state and the kernel
# never disagree for good:
#  - killed after journaling but before the batch: the kernel is unchanged,
#    and the next run drops the interrupted change and says so;
#  - killed after the kernel took the batch but before it was recorded: the
#    next run records it and says so;
#  - the generation file cannot be written after the commit: the kernel is
#    put back to the previous generation at once, and the error says so.
. "$(dirname "$0")/lib.sh"
need_commands chattr

stateful_filter
run 0 ntc apply -q "$src/policies/nginx.json"
snapshot gen1
sync=$work/sync

# kill_at POINT POLICY: starts an apply, kills it with SIGKILL at POINT.
kill_at() {
	rm -rf "$sync"
	mkdir "$sync"
	[ "$1" = before-commit ] || touch "$sync/before-commit.go"
	NOTRACKCTL_TEST_SYNC_DIR=$sync "$bin" apply -q "$2" >/dev/null 2>&1 &
	local pid=$! i
	for i in $(seq 500); do [ -e "$sync/$1" ] && break; sleep 0.01; done
	[ -e "$sync/$1" ] || fail "apply never reached $1"
	kill -KILL $pid
	wait $pid 2>/dev/null || true
	[ -e "$NOTRACKCTL_STATE_DIR/intent.json" ] || fail "no intent journaled before $1"
}

# 1. Killed before the commit.
kill_at before-commit "$src/policies/dns.json"
snapshot killed1
assert_same_snapshot gen1 killed1
run 0 ntc apply "$src/policies/minimal.json"
assert_contains "$work/err" "an earlier apply was interrupted before the kernel took it; dropped it" "the next run"
[ ! -e "$NOTRACKCTL_STATE_DIR/intent.json" ] || fail "intent.json left after recovery"
run 0 ntc generations --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); g=d["generations"]; assert d["current"] == 2 and [x["policy_digest"] for x in g][0] != g[1]["policy_digest"] and len(g) == 2, d' "$work/out" ||
	fail "generations after recovering from a kill before commit: $(cat "$work/out")"

# 2. Killed after the commit, before it was recorded.
kill_at after-commit "$src/policies/dns.json"
run 0 ntc diff "$src/policies/dns.json" # the kernel holds dns, state still says minimal
run 0 ntc apply "$src/policies/dns.json"
assert_contains "$work/err" "an earlier apply was interrupted after the kernel took it; recorded it now (current generation 3)" "the next run"
assert_contains "$work/out" "unchanged (generation 3)" "the apply after recovery"
run 0 ntc rollback
assert_contains "$work/out" "rolled back: generation 3 -> 2" "rollback of the recovered generation"
run 0 ntc diff "$src/policies/minimal.json"

# Killed in the middle of a rollback, after its commit.
rm -rf "$sync"
mkdir "$sync"
touch "$sync/before-commit.go"
NOTRACKCTL_TEST_SYNC_DIR=$sync "$bin" rollback >/dev/null 2>&1 &
pid=$!
for i in $(seq 500); do [ -e "$sync/after-commit" ] && break; sleep 0.01; done
kill -KILL $pid
wait $pid 2>/dev/null || true
run 0 ntc generations --json
run 0 ntc restore
assert_contains "$work/err" "an earlier rollback was interrupted after the kernel took it; recorded it now (current generation 1)" "recovery of a rollback"
run 0 ntc diff "$src/policies/nginx.json"

# 3. The generation file cannot be written after the commit.
snapshot gen1again
chattr +i "$NOTRACKCTL_STATE_DIR/gen"
defer "chattr -i '$NOTRACKCTL_STATE_DIR/gen' 2>/dev/null"
run 7 ntc apply "$src/policies/dns.json"
assert_contains "$work/err" "the kernel was put back to generation 1" "apply whose generation cannot be recorded"
chattr -i "$NOTRACKCTL_STATE_DIR/gen"
snapshot compensated
assert_same_rules gen1again compensated
[ ! -e "$NOTRACKCTL_STATE_DIR/intent.json" ] || fail "intent.json left after compensation"
run 0 ntc diff "$src/policies/nginx.json"
echo "PASS"
