#!/bin/bash
# A batch the kernel refuses part-way is refused whole: a policy that names
# an accept chain that does not exist gets as far as the kernel (the table,
# its sets and rules come first in the batch, then the accepts), the kernel
# answers ENOENT for that one message, and nothing at all is applied.  The
# error names the rule it came from.
# apply runs with --allow-conflicts: the foreign NAT rules built here are
# caught by these policies on purpose (nft-lint tests the linter itself).
. "$(dirname "$0")/lib.sh"

stateful_filter
nat_table
run 0 ntc apply --allow-conflicts "$src/policies/minimal.json"
snapshot before

cat >"$work/bad-chain.json" <<'JSON'
{
  "version": 1,
  "notrack": { "loopback": true, "services": [{ "proto": "tcp", "ports": [80, 443] }] },
  "keep_tracked": [{ "reason": "nat", "peers": ["10.88.0.0/16"] }],
  "untracked_accept": [
    { "family": "inet", "table": "filter", "chain": "input" },
    { "family": "inet", "table": "filter", "chain": "no_such_chain" }
  ]
}
JSON
run 5 ntc apply "$work/bad-chain.json"
assert_eq "$(wc -l <"$work/err")" 1 "lines on stderr for a refused batch"
assert_contains "$work/err" "the kernel refused the untracked accept for inet filter no_such_chain" "error"
assert_contains "$work/err" "nothing was applied" "error"
snapshot after
assert_same_snapshot before after

# The JSON form carries the same error for automation.
run 5 ntc apply --json "$work/bad-chain.json"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["changed"] is False, d
assert d["error"]["code"] == 5 and d["error"]["kind"] == "kernel_refused", d
assert "no_such_chain" in d["error"]["message"], d' "$work/out" || fail "apply --json of a refused batch: $(cat "$work/out")"

# The state directory did not move either.
run 0 ntc generations --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["current"] == 1 and len(d["generations"]) == 1, d' "$work/out" ||
	fail "generations after a refused apply: $(cat "$work/out")"
snapshot after2
assert_same_snapshot before after2
echo "PASS"
