#!/bin/bash
# Concurrency with the iptables backend, against the real kernel:
#  - two notrackctl runs at once both finish, one after the other, and the
#    state directory and the kernel agree afterwards;
#  - an xtables lock held elsewhere makes apply --lock-timeout 1 give up
#    with exit 6, naming the lock file, and change nothing;
#  - an `iptables-legacy -w` started while we sit between plan and commit
#    waits for our xtables lock and lands after us: nothing is re-planned;
#  - a writer that ignores the lock and changes a table between our read
#    and our commit: the table we replace first goes through, the changed
#    one no longer matches what we planned against, so the first is put
#    back and we re-read, re-plan and commit on top; the foreign rule
#    survives;
#  - the kernel refusing a replace with EAGAIN (injected) does the same.
# apply runs with --allow-conflicts: the iptables backend lints, and the
# foreign NAT built here is caught by these policies on purpose (lint-cases
# and lint-legacy-docker test the legacy lint itself).
. "$(dirname "$0")/ipt-lib.sh"
need_commands flock

legacy_foreign

# Two runs at once, with different policies.
ntc apply --allow-conflicts -q --json --backend iptables "$src/policies/nginx.json" >"$work/a.json" 2>"$work/a.err" &
a=$!
ntc apply --allow-conflicts -q --json --backend iptables "$src/policies/dns.json" >"$work/b.json" 2>"$work/b.err" &
b=$!
wait $a || fail "first concurrent apply failed: $(cat "$work/a.err")"
wait $b || fail "second concurrent apply failed: $(cat "$work/b.err")"
gens=$(python3 -c 'import json,sys; print(" ".join(sorted(str(json.load(open(f))["generation"]) for f in sys.argv[1:])))' "$work/a.json" "$work/b.json")
assert_eq "$gens" "1 2" "generations the two runs recorded"
last=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("nginx" if d["generation"] == 2 else "dns")' "$work/a.json")
run 0 ntc diff --backend iptables "$src/policies/$last.json"
legacy_snapshot settled

# The xtables lock held by someone else.
hold_lock "$XTABLES_LOCKFILE"
run 6 ntc apply --allow-conflicts --backend iptables --lock-timeout 1 "$src/policies/minimal.json"
assert_contains "$work/err" "waiting for the xtables lock $XTABLES_LOCKFILE" "the lock timeout names the xtables lock"
assert_eq "$(wc -l <"$work/err")" 1 "lines on stderr for a lock timeout"
release_lock
legacy_snapshot after-lock
assert_same_legacy settled after-lock

# A well-behaved iptables waits for us.
sync=$work/sync1
mkdir "$sync"
NOTRACKCTL_TEST_SYNC_DIR=$sync ntc apply --allow-conflicts --json --backend iptables "$src/policies/k8s-nodelocaldns.json" >"$work/c.json" 2>"$work/c.err" &
c=$!
for i in $(seq 500); do [ -e "$sync/before-commit" ] && break; sleep 0.01; done
[ -e "$sync/before-commit" ] || fail "apply never reached its commit"
ipt4 -t raw -A PREROUTING -s 192.0.2.1/32 -m comment --comment "waited for the lock" -j ACCEPT &
w=$!
# it waits for the xtables lock that the paused apply holds: a blocked
# flock on that file, and its rule not in the kernel yet
wait_until 10 "iptables-legacy -w blocked on the xtables lock" lock_waiter "$XTABLES_LOCKFILE"
iptables-legacy-save -t raw >"$work/raw-while-waiting"
assert_not_contains "$work/raw-while-waiting" "waited for the lock" "the waiting writer's rule before we let go"
touch "$sync/before-commit.go" "$sync/after-commit.go"
wait $c || fail "apply with a waiting iptables failed: $(cat "$work/c.err")"
wait $w || fail "the waiting iptables-legacy failed"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["changed"] and d["restarts"] == 0, d' "$work/c.json" ||
	fail "apply re-planned although the other writer waited: $(cat "$work/c.json")"
iptables-legacy-save -t raw >"$work/raw"
assert_contains "$work/raw" '-A PREROUTING -s 192.0.2.1/32 -m comment --comment "waited for the lock" -j ACCEPT' "the waiting writer's rule"
run 0 ntc diff --backend iptables "$src/policies/k8s-nodelocaldns.json"

# A writer that ignores the lock, on the second table we replace (IPv6 raw,
# after IPv4 raw): our plan is stale.
sync=$work/sync2
mkdir "$sync"
NOTRACKCTL_TEST_SYNC_DIR=$sync ntc apply --allow-conflicts --json --backend iptables "$src/policies/nginx.json" >"$work/d.json" 2>"$work/d.err" &
c=$!
for i in $(seq 500); do [ -e "$sync/before-commit" ] && break; sleep 0.01; done
[ -e "$sync/before-commit" ] || fail "apply never reached its commit"
XTABLES_LOCKFILE=$work/another.lock ip6tables-legacy -w -t raw -A PREROUTING -s 2001:db8::1/128 -m comment --comment "ignored the lock" -j ACCEPT
touch "$sync/before-commit.go" "$sync/after-commit.go"
wait $c || fail "apply with a lock-ignoring writer failed: $(cat "$work/d.err")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["changed"] and d["restarts"] == 1 and d["error"] is None, d' "$work/d.json" ||
	fail "the stale replace was not detected and re-planned: $(cat "$work/d.json")"
ip6tables-legacy-save -t raw >"$work/raw6"
assert_contains "$work/raw6" '-A PREROUTING -s 2001:db8::1/128 -m comment --comment "ignored the lock" -j ACCEPT' "the foreign rule after our commit"
assert_eq "$(first_line "$work/raw6" '^-A PREROUTING')" "-A PREROUTING -m comment --comment notrackctl -j NOTRACKCTL-PRE" \
	"the first rule of raw PREROUTING (IPv6)"
run 0 ntc diff --backend iptables "$src/policies/nginx.json"

# Rolling back keeps both foreign rules.
run 0 ntc rollback --backend iptables
assert_contains "$work/out" "rolled back" "rollback"
iptables-legacy-save -t raw >"$work/raw4-rolled-back"
ip6tables-legacy-save -t raw >"$work/raw6-rolled-back"
assert_contains "$work/raw4-rolled-back" 'waited for the lock' "the IPv4 foreign rule after rollback"
assert_contains "$work/raw6-rolled-back" 'ignored the lock' "the IPv6 foreign rule after rollback"

# The kernel's own check: a replace refused with EAGAIN (the number of
# rules moved in the instant between our last read and our replace; here
# injected on the second commit) puts the first table back and plans again.
run 0 fault 2 11 apply --allow-conflicts --backend iptables --json "$src/policies/dns.json"
assert_contains "$work/err" "failing commit 2" "the injected EAGAIN"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["changed"] and d["restarts"] == 1 and d["error"] is None, d' "$work/out" ||
	fail "an EAGAIN from the kernel was not re-planned: $(cat "$work/out")"
run 0 ntc diff --backend iptables "$src/policies/dns.json"
echo "PASS"
