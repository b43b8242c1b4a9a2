#!/bin/bash
# iptables backend with a policy of thousands of rules (iptables has no sets:
# 1,000 random ports for 30 peers are over 4,000 rules), next to a legacy
# host's foreign rules:
#  - apply loads exactly what `compile --format iptables` prints, and says
#    so in one line per chain, with its size;
#  - the generation keeps the accepts and jumps, the number of rules in our
#    chains and not their text (it is over 256 KiB): a small file;
#  - a re-apply is unchanged; a diff of two changed ports lists only those
#    rules; a diff against other ports lists 1,000 rule changes per chain
#    and counts the rest;
#  - apply of the changed policy and two rollbacks leave both families
#    byte-identical to before, with the foreign rules as they were.
# apply runs with --allow-conflicts: legacy_foreign's masquerade catches the
# replies of this policy's peers on purpose (the lint has tests of its own).
. "$(dirname "$0")/ipt-lib.sh"

# gen PORTS PEERS SEED SHIFT: a policy with PORTS random tcp ports (each
# moved by SHIFT) and PEERS random peers
gen() {
	python3 - "$@" <<'PY'
import json, random, sys
ports, peers, seed, shift = (int(a) for a in sys.argv[1:])
rng = random.Random(seed)
p = sorted(rng.sample(range(1024, 60000), ports))
p = [x + shift for x in p]
addrs = sorted({"10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)) for _ in range(peers)})
print(json.dumps({"version": 1, "name": "large", "families": ["ipv4"],
                  "notrack": {"services": [{"proto": "tcp", "ports": p, "peers": addrs}]},
                  "untracked_accept": "auto"}))
PY
}
gen 1000 30 7 0 >"$work/large.json"
# two ports moved: the same policy but for them
python3 - "$work/large.json" >"$work/two.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
ports = p["notrack"]["services"][0]["ports"]
ports[10] += 1 if ports[10] + 1 not in ports else 0
ports[500] += 1 if ports[500] + 1 not in ports else 0
print(json.dumps(p))
PY
gen 1000 30 8 0 >"$work/other.json"

legacy_foreign
legacy_snapshot before

ntc compile --format iptables "$work/large.json" >"$work/large.ipt" 2>/dev/null
# iptables-save spells a host address with its /32
sed -n '1,/^COMMIT/p' "$work/large.ipt" | grep '^-A NOTRACKCTL-' |
	sed -E 's#-([sd]) ([0-9.]+) #-\1 \2/32 #' >"$work/want.rules"
pre=$(grep -c '^-A NOTRACKCTL-PRE ' "$work/want.rules")
out=$(grep -c '^-A NOTRACKCTL-OUT ' "$work/want.rules")
assert_ge "$pre" 2000 "rules in the compiled prerouting chain"

run 0 ntc apply --backend iptables --allow-conflicts "$work/large.json"
assert_contains "$work/out" "+ chain ipv4 raw NOTRACKCTL-PRE: $pre rules" "apply's line for the new chain"
assert_contains "$work/out" "+ chain ipv4 raw NOTRACKCTL-OUT: $out rules" "apply's line for the new chain"
assert_ge 20 "$(wc -l <"$work/out")" "apply's output lines"
legacy_snapshot applied
# (iptables-save lists user chains by name: OUT before PRE)
{ grep '^-A NOTRACKCTL-PRE ' "$work/applied.ipt4"; grep '^-A NOTRACKCTL-OUT ' "$work/applied.ipt4"; } >"$work/live.rules"
assert_same_file "$work/want.rules" "$work/live.rules" "our chains, as compile prints them"
without_ours applied
without_ours before
assert_same_file "$work/before-foreign.ipt4" "$work/applied-foreign.ipt4" "foreign IPv4 rules"
assert_same_file "$work/before-foreign.ipt6" "$work/applied-foreign.ipt6" "foreign IPv6 rules"

gen1=$NOTRACKCTL_STATE_DIR/gen/1.json
[ "$(stat -c %s "$gen1")" -lt 200000 ] || fail "generation 1 is $(stat -c %s "$gen1") bytes"
python3 - "$gen1" "$((pre + out))" <<'PY' || fail "generation 1 does not record what we own"
import json, sys
g = json.load(open(sys.argv[1]))
assert g["compiled_omitted"] is True and g.get("compiled") is None, {k: g[k] for k in g if k != "policy"}
assert g["owned"]["rules"] == int(sys.argv[2]), (g["owned"]["rules"], sys.argv[2])
kinds = sorted(o["kind"] for o in g["owned"]["objects"])
# a services policy untracks nothing forwarded: accepts in INPUT and OUTPUT only
assert kinds == ["accept"] * 2 + ["jump"] * 2, kinds
PY

run 0 ntc apply --backend iptables --allow-conflicts "$work/large.json"
assert_contains "$work/out" "unchanged (generation 1)" "re-apply"

# Each moved port changes one multiport rule per peer and direction: as
# many lines as diff(1) finds between the two compiled texts (both are
# shortest edit scripts, and their length is unique).
run 1 ntc diff --backend iptables "$work/two.json"
changes=$(grep -c '^  [-+] rule ipv4 raw' "$work/out" || true)
want=$(diff <(sed -n '1,/^COMMIT/p' "$work/large.ipt") \
	<(ntc compile --format iptables "$work/two.json" 2>/dev/null | sed -n '1,/^COMMIT/p') | grep -c '^[<>]' || true)
assert_ge "$want" 2 "lines diff(1) finds for two moved ports"
assert_eq "$changes" "$want" "rule lines in the diff of two moved ports"
assert_not_contains "$work/out" "not listed" "diff of two moved ports"

run 1 ntc diff --backend iptables "$work/other.json"
assert_contains "$work/out" "more rule changes not listed" "diff against other ports"
assert_eq "$(grep -c '^  [-+] rule ipv4 raw NOTRACKCTL-PRE\|^  [-+] rule ipv4 raw: -A NOTRACKCTL-PRE' "$work/out")" 1000 \
	"rule lines listed for the prerouting chain"

run 0 ntc apply --backend iptables --allow-conflicts "$work/other.json"
legacy_snapshot other
grep '^-A NOTRACKCTL-' "$work/other.ipt4" | wc -l >"$work/n"
ntc compile --format iptables "$work/other.json" 2>/dev/null | sed -n '1,/^COMMIT/p' | grep -c '^-A NOTRACKCTL-' |
	diff -q - "$work/n" >/dev/null || fail "the other policy's rules are not what compile prints"

run 0 ntc rollback --backend iptables
legacy_snapshot back1
assert_same_legacy applied back1
run 0 ntc rollback --backend iptables
legacy_snapshot back0
assert_same_legacy before back0
run 0 ntc generations
assert_eq "$(grep -c 'apply' "$work/out")" 2 "generations listed"
echo "PASS"
