#!/bin/bash
# The no-op apply and its stamp (ops.c, state.h), against the real kernel:
#  - a verified apply leaves DIR/verified; the next apply of the same policy
#    answers "unchanged" from it, and so does the one after;
#  - any commit moves the generation id, so every kind of change is still
#    found: a foreign element in our set, a rule of ours deleted, a policy
#    that compiles differently; a commit elsewhere leaves it unchanged;
#  - a stamp that was edited, or is not ours to trust, is ignored.
. "$(dirname "$0")/lib.sh"

stateful_filter
run 0 ntc apply -q "$src/policies/nginx.json"
assert_contains "$work/out" "changed: generation 0 -> 1" "first apply"
[ -f "$NOTRACKCTL_STATE_DIR/verified" ] || fail "a verified apply leaves a stamp"
assert_contains "$NOTRACKCTL_STATE_DIR/verified" "backend nft table notrackctl" "the stamp"
for _ in 1 2; do
	run 0 ntc apply -q "$src/policies/nginx.json"
	assert_eq "$(cat "$work/out")" "unchanged (generation 1)" "re-apply"
done
snapshot live1

# a foreign element in our set: found and repaired
nft add element inet notrackctl svc0_ports '{ 9999 }'
run 0 ntc apply "$src/policies/nginx.json"
assert_contains "$work/out" "changed: generation 1 -> 2" "a foreign element"
assert_contains "$work/out" "~ set svc0_ports" "a foreign element"
run 0 ntc apply -q "$src/policies/nginx.json"
assert_eq "$(cat "$work/out")" "unchanged (generation 2)" "after the repair"
snapshot live2
assert_same_file "$work/live1.nft" "$work/live2.nft" "the ruleset after the repair"

# one of our accepts deleted by someone else
handle=$(nft -a list chain inet filter input | sed -n 's/.*comment "notrackctl" # handle \([0-9]*\)/\1/p')
[ -n "$handle" ] || fail "no untracked accept in inet filter input"
nft delete rule inet filter input handle "$handle"
run 0 ntc apply "$src/policies/nginx.json"
assert_contains "$work/out" "+ untracked accept at the head of inet filter input" "a deleted accept"

# a commit elsewhere: still unchanged, from a full plan, then from the stamp again
nft add table inet other
run 0 ntc apply -q "$src/policies/nginx.json"
assert_eq "$(cat "$work/out")" "unchanged (generation 3)" "after a foreign commit"
run 0 ntc apply -q "$src/policies/nginx.json"
assert_eq "$(cat "$work/out")" "unchanged (generation 3)" "after a foreign commit, again"

# a policy that compiles differently
sed 's/8080\]/8081]/' "$src/policies/nginx.json" >"$work/nginx-8081.json"
run 0 ntc apply -q "$work/nginx-8081.json"
assert_contains "$work/out" "changed: generation 3 -> 4" "another policy"
run 0 ntc apply -q "$work/nginx-8081.json"
assert_eq "$(cat "$work/out")" "unchanged (generation 4)" "another policy, again"

# an edited stamp is ignored: after one foreign commit the generation id is
# one more than the stamp says; a stamp edited to claim it fails its sum
nft add element inet notrackctl svc0_ports '{ 9999 }'
g=$(sed -n 's/.* generation \([0-9]*\) .*/\1/p' "$NOTRACKCTL_STATE_DIR/verified")
sed -i "s/ generation $g / generation $((g + 1)) /" "$NOTRACKCTL_STATE_DIR/verified"
run 0 ntc apply "$work/nginx-8081.json"
assert_contains "$work/out" "changed: generation 4 -> 5" "an edited stamp is ignored"

# a stamp others could have written is not trusted: it is ignored
chmod 0666 "$NOTRACKCTL_STATE_DIR/verified"
nft add element inet notrackctl svc0_ports '{ 9999 }'
run 0 ntc apply "$work/nginx-8081.json"
assert_contains "$work/out" "changed: generation 5 -> 6" "a group-writable stamp is not used"
echo "PASS"
