#!/bin/bash
# iptables backend (libip4tc/libip6tc), read back with iptables-legacy-save
# and ip6tables-legacy-save, with a legacy host's foreign rules present
# (Docker, fail2ban, the admin's own):
#  - apply puts our chains in raw, jumped to first from PREROUTING and
#    OUTPUT, and exactly one untracked accept first in filter INPUT,
#    FORWARD and OUTPUT, in both families; the foreign rules stay exactly
#    as they were;
#  - a second apply commits nothing (a notrackctl whose first commit would
#    fail still succeeds) and says "unchanged", also in --json;
#  - apply + rollback leaves both families byte-identical;
#  - 5 applies of different policies and 5 rollbacks, and remove +
#    rollback, too;
#  - a table loaded since (mangle) does not make rollback refuse.
# apply runs with --allow-conflicts: the foreign NAT rules built here are
# caught by these policies on purpose (lint-cases and lint-legacy-docker
# test the legacy lint itself).
. "$(dirname "$0")/ipt-lib.sh"

legacy_foreign
legacy_snapshot before

# with a whole interface, so that forward chains get the accept too
policy=$work/nginx-lan.json
nginx_lan "$policy"

run 0 ntc apply --backend iptables --allow-conflicts "$policy"
assert_contains "$work/out" "changed: generation 0 -> 1" "first apply"
legacy_snapshot applied

for f in ipt4 ipt6; do
	s=$work/applied.$f
	# the first rule of each built-in chain is ours, and only one is
	for c in PREROUTING OUTPUT; do
		sed -n '/^\*raw/,/^COMMIT/p' "$s" >"$work/raw.$f"
		assert_eq "$(first_line "$work/raw.$f" "^-A $c ")" "-A $c -m comment --comment notrackctl -j NOTRACKCTL-${c:0:3}" \
			"$f: the first rule of raw $c"
	done
	for c in INPUT FORWARD OUTPUT; do
		sed -n '/^\*filter/,/^COMMIT/p' "$s" >"$work/filter.$f"
		assert_eq "$(first_line "$work/filter.$f" "^-A $c ")" \
			"-A $c -m conntrack --ctstate UNTRACKED -m comment --comment notrackctl -j ACCEPT" "$f: the first rule of filter $c"
		assert_eq "$(sed -n '/^\*filter/,/^COMMIT/p' "$s" | grep -c -- "^-A $c .*--comment notrackctl -j ACCEPT")" 1 \
			"$f: our accepts in filter $c"
	done
	got=$(grep -- '^-A NOTRACKCTL-PRE ' "$s" | sed 's/.*--comment "\([^"]*\)".*-j \(.*\)$/\1 -> \2/')
	# the route_localnet guard is IPv4's: IPv6 drops ::1 from outside before prerouting
	guard=
	[ "$f" = ipt4 ] && guard='
notrackctl route_localnet guard -> RETURN'
	want="notrackctl keep_tracked[0] -> RETURN$guard"'
notrackctl notrack.loopback -> CT --notrack
notrackctl notrack.interfaces[0] -> CT --notrack
notrackctl notrack.services[0] -> CT --notrack
notrackctl notrack.services[0] (icmp errors) -> CT --notrack'
	assert_eq "$got" "$want" "$f: rules of NOTRACKCTL-PRE"
done
# Taking our lines out leaves the foreign rules byte for byte.
without_ours applied
assert_same_legacy before applied-foreign

# Idempotency: nothing to do, nothing committed.
run 0 fault 1 5 apply --backend iptables --allow-conflicts "$policy"
assert_contains "$work/out" "unchanged (generation 1)" "second apply"
run 0 ntc apply --backend iptables --allow-conflicts --json "$policy"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["changed"] is False and d["generation"] == 1 and d["diff"] == [] and d["error"] is None and d["backend"] == "iptables", d' "$work/out" ||
	fail "apply --json of an unchanged policy: $(cat "$work/out")"
legacy_snapshot again
assert_same_legacy applied again

# diff: 0 for no change, 1 for some, and it changes nothing
run 0 ntc diff --backend iptables "$policy"
run 1 ntc diff --backend iptables "$src/policies/dns.json"
assert_contains "$work/out" "+ rule ipv4 raw: -A NOTRACKCTL-PRE -p udp -m multiport --dports 53" "diff against dns"
legacy_snapshot after-diff
assert_same_legacy applied after-diff

# The generation records what we own, with counters, per family.
run 0 ntc generations --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); g=d["generations"][0]; assert g["backend"] == "iptables", g' "$work/out" ||
	fail "generation 1 is not recorded as the iptables backend's: $(cat "$work/out")"

run 0 ntc rollback --backend iptables
assert_contains "$work/out" "rolled back: generation 1 -> 0" "rollback"
legacy_snapshot rolled-back
assert_same_legacy before rolled-back

# Five different policies, then five rollbacks.
for p in nginx dns docker-host k8s-nodelocaldns minimal; do
	run 0 ntc apply --backend iptables --allow-conflicts "$src/policies/$p.json"
	run 0 ntc diff --backend iptables "$src/policies/$p.json"
done
for i in 1 2 3 4 5; do
	run 0 ntc rollback --backend iptables
done
legacy_snapshot five
assert_same_legacy before five

# remove takes everything of ours away; rollback brings it back.
run 0 ntc apply --backend iptables --allow-conflicts "$src/policies/nginx.json"
legacy_snapshot reapplied
run 0 ntc remove --backend iptables
legacy_snapshot removed
assert_same_legacy before removed
run 0 ntc rollback --backend iptables
legacy_snapshot back
assert_same_legacy reapplied back

# A table loaded after a generation was recorded (listing one loads it)
# holds nothing of ours: the rollback's check for others' changes to our
# rules must not take it for one.
run 0 ntc apply --backend iptables --allow-conflicts "$src/policies/dns.json"
ip6tables-legacy -w -t mangle -S >/dev/null
grep -q '^mangle$' /proc/net/ip6_tables_names || fail "listing ip6tables mangle did not load it"
run 0 ntc rollback --backend iptables
assert_not_contains "$work/err" "someone else changed" "rollback after a table was loaded"
legacy_snapshot back-again
for f in ipt4 ipt6; do
	grep -i notrackctl "$work/reapplied.$f" >"$work/ours-reapplied.$f"
	grep -i notrackctl "$work/back-again.$f" >"$work/ours-back-again.$f"
	assert_same_file "$work/ours-reapplied.$f" "$work/ours-back-again.$f" "our $f rules after the rollback"
done

# A generation from before the digest of our rules named its making (bare
# FNV-1a hex): rollback cannot compare it, says so, and goes ahead.
run 0 ntc apply --backend iptables --allow-conflicts "$src/policies/dns.json"
gen=$(head -n 1 "$NOTRACKCTL_STATE_DIR/current")
rm -f "$NOTRACKCTL_STATE_DIR/live.json" # that notrackctl kept no live record
python3 - "$NOTRACKCTL_STATE_DIR/gen/$gen.json" <<'PY' || fail "cannot rewrite generation $gen as an older one"
import json, sys
path = sys.argv[1]
g = json.load(open(path))
g["owned"]["digest"] = "7d5df2bc6c3d0efc"
json.dump(g, open(path, "w"))
PY
# with the checksum an older notrackctl wrote (FNV-1a)
python3 "$src/tests/tools/state-fnv-sum.py" "$NOTRACKCTL_STATE_DIR/gen/$gen.json" || fail "cannot checksum generation $gen"
run 0 ntc rollback --backend iptables
assert_contains "$work/err" "was recorded by an older notrackctl" "rollback of a generation with an old digest"
legacy_snapshot back-old
for f in ipt4 ipt6; do
	grep -i notrackctl "$work/back-old.$f" >"$work/ours-back-old.$f"
	assert_same_file "$work/ours-reapplied.$f" "$work/ours-back-old.$f" "our $f rules after the rollback"
done

# With our rules in the kernel, auto picks this backend by itself.
run 0 ntc diff --verbose "$src/policies/nginx.json"
assert_contains "$work/err" "backend iptables (auto)" "auto with our legacy rules present"
echo "PASS"
