#!/bin/bash
# A change libiptc cannot complete leaves every table as it was, with a
# legacy host's foreign rules present in both families:
#  - the raw commit fails (through the transport's fault seam) after
#    the filter commit went through (the accepts go first: an accept
#    without its NOTRACK is harmless): filter is put back, both tables are
#    byte-identical to before, nothing is recorded;
#  - the first commit fails: nothing to put back; the last of four commits
#    (ipv6 raw) fails: the three before it are put back;
#  - putting back fails too: the error says the kernel holds part of the
#    change, and a later apply + rollback cleans up;
#  - the same over an applied generation: our old chains and accepts come
#    back exactly;
#  - a policy naming a chain that does not exist is refused before anything
#    is sent;
#  - without CAP_NET_ADMIN (setpriv drops it) libiptc gets EPERM: one line
#    saying "needs CAP_NET_ADMIN (run as root)", exit 7, nothing changed.
# apply runs with --allow-conflicts: the iptables backend lints, and the
# foreign NAT built here is caught by these policies on purpose (lint-cases
# and lint-legacy-docker test the legacy lint itself).
. "$(dirname "$0")/ipt-lib.sh"
need_commands setpriv

legacy_foreign
legacy_snapshot before

# The filter table of IPv4 is commit 1, its raw table commit 2.
run 5 fault ipv4/raw 5 apply --allow-conflicts --backend iptables "$src/policies/nginx.json"
assert_contains "$work/err" "failing commit 2 (ipv4 raw)" "the fault hit the raw commit after filter"
assert_contains "$work/err" "iptables table raw: the kernel refused the new table: Input/output error; the tables already replaced were put back as they were, so nothing was applied" "error"
assert_eq "$(grep -vc '^notrackctl-fault:' "$work/err")" 1 "lines of error output"
legacy_snapshot after-filter
assert_same_legacy before after-filter
run 0 ntc generations --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["current"] == 0 and d["generations"] == [], d' "$work/out" ||
	fail "a refused apply was recorded: $(cat "$work/out")"

# The first commit refused: nothing to put back.
run 5 fault 1 5 apply --allow-conflicts --backend iptables "$src/policies/nginx.json"
assert_contains "$work/err" "iptables table filter: the kernel refused the new table: Input/output error; nothing was applied" "error"
legacy_snapshot after-first
assert_same_legacy before after-first

run 5 fault 4 5 apply --allow-conflicts --backend iptables --json "$src/policies/nginx.json"
assert_contains "$work/err" "failing commit 4 (ipv6 raw)" "the fault hit the last commit"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["changed"] is False and d["error"]["kind"] == "kernel_refused" and d["error"]["code"] == 5, d
assert "put back" in d["error"]["message"], d' "$work/out" || fail "apply --json of a refused commit: $(cat "$work/out")"
legacy_snapshot after-last
assert_same_legacy before after-last

# Putting back fails too (the second commit, then the commit that would
# put raw back): say so plainly; a later apply and rollback still clean up.
run 5 fault 2,3 5 apply --allow-conflicts --backend iptables "$src/policies/nginx.json"
assert_contains "$work/err" "putting back the tables already replaced failed too" "error when the undo fails"
assert_contains "$work/err" "the kernel now holds part of the change, run the command again" "error when the undo fails"
run 0 ntc apply --allow-conflicts --backend iptables "$src/policies/nginx.json"
run 0 ntc rollback --backend iptables
legacy_snapshot after-undo-failure
assert_same_legacy before after-undo-failure

# Over an applied generation: the old chains and accepts come back.
run 0 ntc apply --allow-conflicts --backend iptables "$src/policies/nginx.json"
legacy_snapshot nginx
run 5 fault ipv6/raw 5 apply --allow-conflicts --backend iptables "$src/policies/dns.json"
assert_contains "$work/err" "failing commit 2 (ipv6 raw)" "the fault hit ipv6 raw (filter holds the same accepts: not committed)"
legacy_snapshot after-dns
assert_same_legacy nginx after-dns
run 0 ntc diff --backend iptables "$src/policies/nginx.json"

# A chain the policy names must exist: refused while planning.
cat >"$work/bad-chain.json" <<'JSON'
{
  "version": 1,
  "notrack": { "loopback": true },
  "untracked_accept": [
    { "family": "ip", "table": "filter", "chain": "INPUT" },
    { "family": "ip", "table": "filter", "chain": "no_such_chain" }
  ]
}
JSON
run 5 ntc apply --allow-conflicts --backend iptables "$work/bad-chain.json"
assert_eq "$(wc -l <"$work/err")" 1 "lines on stderr for a missing chain"
assert_contains "$work/err" "iptables table filter has no chain no_such_chain for the untracked accept" "error"
legacy_snapshot after-bad-chain
assert_same_legacy nginx after-bad-chain

# No CAP_NET_ADMIN: libiptc cannot read or replace a table.
nocap() { setpriv --inh-caps=-net_admin --bounding-set=-net_admin -- "$@"; }
run 0 ntc remove --backend iptables
legacy_snapshot removed
for backend in iptables auto; do
	run 7 nocap "$bin" apply --allow-conflicts --backend $backend "$src/policies/nginx.json"
	assert_eq "$(wc -l <"$work/err")" 1 "lines on stderr without CAP_NET_ADMIN ($backend)"
	assert_contains "$work/err" "needs CAP_NET_ADMIN (run as root)" "error without CAP_NET_ADMIN ($backend)"
	legacy_snapshot nocap-$backend
	assert_same_legacy removed nocap-$backend
done
# Also when no table is loaded yet and the first libiptc call is the commit's.
unshare -n -- setpriv --inh-caps=-net_admin --bounding-set=-net_admin -- \
	"$bin" apply --allow-conflicts --backend iptables --state-dir "$work/fresh-state" "$src/policies/nginx.json" >"$work/out" 2>"$work/err" &&
	fail "apply without CAP_NET_ADMIN in an empty namespace succeeded"
assert_contains "$work/err" "needs CAP_NET_ADMIN (run as root)" "error without CAP_NET_ADMIN in an empty namespace"
echo "PASS"
