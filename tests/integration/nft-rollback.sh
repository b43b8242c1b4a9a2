#!/bin/bash
# nft backend, read back from the kernel with nft, nft -j and iptables-nft-save:
#  - apply with foreign tables present (a stateful inet filter, an ip nat
#    table, Docker's rules through iptables-nft) puts our table at raw
#    priority and exactly one tagged untracked accept first in every filter
#    chain on input/forward/output, in the encoding each table needs;
#  - a second apply sends nothing (nft monitor sees no event) and says so;
#  - apply + rollback leaves the ruleset byte-identical;
#  - 5 applies of different policies and 5 rollbacks leave it byte-identical.
# apply runs with --allow-conflicts: the foreign NAT rules built here are
# caught by these policies on purpose (nft-lint tests the linter itself).
. "$(dirname "$0")/lib.sh"
need_commands iptables-nft iptables-nft-save

stateful_filter
nat_table
docker_like
snapshot before

# with a whole interface, so that forward chains get the accept too
policy=$work/nginx-lan.json
nginx_lan "$policy"

run 0 ntc apply --allow-conflicts "$policy"
assert_contains "$work/out" "changed: generation 0 -> 1" "first apply"
snapshot applied

# What the kernel now holds, read by nft itself.
python3 - "$work/applied.json" <<'PY'
import json, sys
rs = [o for o in json.load(open(sys.argv[1]))["nftables"] if "metainfo" not in o]
def fail(msg):
    sys.exit("FAIL: " + msg)
chains = {(o["chain"]["family"], o["chain"]["table"], o["chain"]["name"]): o["chain"] for o in rs if "chain" in o}
rules = {}
for o in rs:
    if "rule" in o:
        r = o["rule"]
        rules.setdefault((r["family"], r["table"], r["chain"]), []).append(r)
for name, hook in (("prerouting", "prerouting"), ("output", "output")):
    c = chains.get(("inet", "notrackctl", name))
    if not c or c.get("hook") != hook or c.get("prio") != -300 or c.get("type") != "filter":
        fail("inet notrackctl %s is not a filter chain on %s at priority raw: %r" % (name, hook, c))
    got = [r.get("comment") for r in rules.get(("inet", "notrackctl", name), [])]
    want = ["notrackctl keep_tracked[0]", "notrackctl notrack.loopback", "notrackctl notrack.interfaces[0]",
            "notrackctl notrack.services[0]"]
    if name == "prerouting":
        want[1:1] = ["notrackctl route_localnet guard"]  # IPv4 only: IPv6 needs none
        want += ["notrackctl notrack.services[0] (icmp errors)"] * 2
    if got != want:
        fail("rules of %s: %r, want %r" % (name, got, want))
# every foreign filter chain on input/forward/output starts with our accept, once
targets = [k for k, c in chains.items() if k[1] != "notrackctl" and c.get("type") == "filter"
           and c.get("hook") in ("input", "forward", "output")]
want_targets = {("inet", "filter", "input"), ("inet", "filter", "output"),
                ("ip", "filter", "FORWARD")}  # iptables-nft makes only the base chains it uses
if set(targets) != want_targets:
    fail("filter chains found %r, want %r" % (sorted(targets), sorted(want_targets)))
for k in targets:
    rl = rules.get(k, [])
    ours = [i for i, r in enumerate(rl) if r.get("comment") == "notrackctl"]
    if ours != [0]:
        fail("%s: our accept at positions %r, want exactly [0]" % (" ".join(k), ours))
    exprs = json.dumps(rl[0]["expr"])
    if k[0] == "ip":
        # iptables-nft's chains need the xt compat match, not a native ct expression
        if '"xt"' not in exprs or '"ct"' in exprs:
            fail("%s: accept is not xt-encoded: %s" % (" ".join(k), exprs))
    elif '"untracked"' not in exprs or '"accept"' not in exprs:
        fail("%s: accept is not 'ct state untracked accept': %s" % (" ".join(k), exprs))
# nothing foreign lost a rule
PY

# iptables-nft still reads its tables, and shows our rule as its own syntax.
iptables-nft-save >"$work/save" 2>&1
assert_not_contains "$work/save" "incompatible" "iptables-nft-save after apply"
for chain in FORWARD; do
	grep -qE -- "^-A $chain -m conntrack --ctstate UNTRACKED -m comment --comment \"?notrackctl\"? -j ACCEPT$" "$work/save" ||
		fail "iptables-nft-save does not show our accept in $chain: $(grep -- "-A $chain" "$work/save")"
done
iptables-nft -w -L INPUT -n >/dev/null || fail "iptables -L fails after apply"

# Idempotency: the same policy again sends no batch.  nft monitor prints an
# event for every committed change, anyone's.
# mark_seen NAME: nft monitor has printed the creation of table NAME.
# start_mark: creates and deletes table monitor_start, seen or not, until
# the monitor (which may not listen yet) has printed it.
mark_seen() { grep -q "^add table inet $1" "$work/events"; }
start_mark() {
	nft add table inet monitor_start
	nft delete table inet monitor_start
	mark_seen monitor_start
}
# Marks before and after, as events of their own, tell when the monitor
# listens and when it has printed everything up to the end.
nft monitor >"$work/events" 2>&1 &
monitor=$!
defer "kill $monitor 2>/dev/null"
wait_until 10 "nft monitor reporting the start mark" start_mark
run 0 ntc apply --allow-conflicts "$policy"
assert_contains "$work/out" "unchanged (generation 1)" "second apply"
run 0 ntc apply --allow-conflicts --json "$policy"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["changed"] is False and d["generation"] == 1 and d["diff"] == [] and d["error"] is None, d' "$work/out" ||
	fail "apply --json of an unchanged policy: $(cat "$work/out")"
nft add table inet monitor_end
wait_until 10 "nft monitor reporting the end mark" mark_seen monitor_end
kill $monitor
wait $monitor 2>/dev/null || true
sed -n '/^delete table inet monitor_start/,/^add table inet monitor_end/p' "$work/events" |
	grep -v -e monitor_start -e monitor_end -e '^# ' >"$work/between" || true
[ ! -s "$work/between" ] || fail "an unchanged apply changed the ruleset: $(cat "$work/between")"
nft delete table inet monitor_end
snapshot again
assert_same_snapshot applied again

# diff: 0 for no change, 1 for some, like diff(1)
run 0 ntc diff "$policy"
run 1 ntc diff "$src/policies/dns.json"
assert_contains "$work/out" "+ rule" "diff against another policy"
snapshot after-diff
assert_same_snapshot applied after-diff

run 0 ntc rollback
assert_contains "$work/out" "rolled back: generation 1 -> 0" "rollback"
snapshot rolled-back
assert_same_snapshot before rolled-back

# Five different policies, then five rollbacks.
for p in nginx dns docker-host k8s-nodelocaldns minimal; do
	run 0 ntc apply --allow-conflicts "$src/policies/$p.json"
	run 0 ntc diff "$src/policies/$p.json"
done
run 0 ntc generations
assert_eq "$(grep -c '^\*' "$work/out")" 1 "generations marks one as current"
for i in 1 2 3 4 5; do
	run 0 ntc rollback
done
snapshot five
assert_same_snapshot before five
run 9 ntc rollback
assert_contains "$work/err" "nothing to roll back" "a rollback past the first generation"

# An accept of ours that someone else deleted (firewalld reloading its
# table does that) is reported, and rollback carries on.
run 0 ntc apply --allow-conflicts "$src/policies/nginx.json"
handle=$(nft -a list chain inet filter input | sed -n 's/.*comment "notrackctl" # handle \([0-9]*\)$/\1/p')
[ -n "$handle" ] || fail "no accept of ours in inet filter input"
nft delete rule inet filter input handle "$handle"
run 0 ntc rollback
assert_contains "$work/err" "our untracked accept in inet filter input is gone" "rollback after a foreign delete"
snapshot vanished
assert_same_snapshot before vanished

# remove takes away everything we own, and rollback brings it back.
run 0 ntc apply --allow-conflicts "$src/policies/nginx.json"
snapshot reapplied
run 0 ntc remove
snapshot removed
assert_same_snapshot before removed
run 0 ntc rollback
snapshot back
assert_same_file "$work/reapplied.nft" "$work/back.nft" "ruleset after remove + rollback"
echo "PASS"
