#!/bin/bash
# Concurrency, against the real kernel:
#  - two notrackctl runs at once both finish, one after the other (the
#    state lock), and the state directory and the kernel agree afterwards;
#  - a foreign `nft add rule` that lands between our read and our commit
#    makes the kernel refuse our stale batch (the genid in batch-begin);
#    we re-read, re-plan and commit on top of it, and the foreign rule
#    survives.
# apply runs with --allow-conflicts: the foreign NAT rules built here are
# caught by these policies on purpose (nft-lint tests the linter itself).
. "$(dirname "$0")/lib.sh"

stateful_filter
nat_table

# Two runs at once, with different policies.
ntc apply --allow-conflicts -q --json "$src/policies/nginx.json" >"$work/a.json" 2>"$work/a.err" &
a=$!
ntc apply --allow-conflicts -q --json "$src/policies/dns.json" >"$work/b.json" 2>"$work/b.err" &
b=$!
wait $a || fail "first concurrent apply failed: $(cat "$work/a.err")"
wait $b || fail "second concurrent apply failed: $(cat "$work/b.err")"
gens=$(python3 -c 'import json,sys; print(" ".join(sorted(str(json.load(open(f))["generation"]) for f in sys.argv[1:])))' "$work/a.json" "$work/b.json")
assert_eq "$gens" "1 2" "generations the two runs recorded"
last=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("nginx" if d["generation"] == 2 else "dns")' "$work/a.json")
run 0 ntc diff "$src/policies/$last.json"
run 0 ntc generations --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["current"] == 2 and [g["parent"] for g in d["generations"]] == [0, 1], d' "$work/out" ||
	fail "generations after two concurrent applies: $(cat "$work/out")"

# A foreign change between plan and commit.
sync=$work/sync
mkdir "$sync"
NOTRACKCTL_TEST_SYNC_DIR=$sync ntc apply --allow-conflicts --json "$src/policies/k8s-nodelocaldns.json" >"$work/c.json" 2>"$work/c.err" &
c=$!
for i in $(seq 500); do [ -e "$sync/before-commit" ] && break; sleep 0.01; done
[ -e "$sync/before-commit" ] || fail "apply never reached its commit"
nft add rule inet filter input tcp dport 9999 counter accept comment '"added by someone else"'
touch "$sync/before-commit.go" "$sync/after-commit.go"
wait $c || fail "apply with a concurrent foreign change failed: $(cat "$work/c.err")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["changed"] and d["restarts"] == 1, d' "$work/c.json" ||
	fail "the stale batch was not detected and re-planned: $(cat "$work/c.json")"
nft list chain inet filter input >"$work/input"
assert_contains "$work/input" 'comment "added by someone else"' "the foreign rule after our commit"
assert_eq "$(grep -c 'comment "notrackctl"' "$work/input")" 1 "our accepts in inet filter input"
[[ $(sed -n '4p' "$work/input") == *'ct state untracked'* ]] || fail "our accept is not first: $(cat "$work/input")"
run 0 ntc diff "$src/policies/k8s-nodelocaldns.json"

# Rolling back keeps the foreign rule too.
run 0 ntc rollback
nft list chain inet filter input >"$work/input"
assert_contains "$work/input" 'comment "added by someone else"' "the foreign rule after rollback"
run 0 ntc diff "$src/policies/$last.json"
echo "PASS"
