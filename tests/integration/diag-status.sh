#!/bin/bash
# notrackctl status in a throwaway network namespace, before and after an
# apply: the table use against conntrack -C, the per-CPU counters against
# conntrack -S, and every owned rule's packet and byte counters against
# nft -j; then the same command without privileges, which still reports the
# table from procfs and fails with exit 7.
#
# Usage: diag-status.sh NOTRACKCTL
set -euo pipefail
. "$(dirname "$0")/diag-lib.sh"
diag_begin "$@"

# three bare FINs for no connection over a raw socket, before loopback is
# notracked: conntrack counts them invalid, which gives the counter check
# below something to compare
python3 - <<'PY'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
for _ in range(3):
    s.sendto(struct.pack("!HHIIBBHHH", 12345, 9, 1, 0, 0x50, 0x01, 1024, 0, 0), ("127.0.0.1", 0))
PY

# nothing applied yet
"$bin" status --json --state-dir "$state" >"$work/s0.json"
j() { jq -r "$1" "$work/s0.json"; }
expect_eq "count before" "$(j .table.count)" "$(conntrack -C)"
expect_eq "max" "$(j .table.max)" "$(sysctl -n net.netfilter.nf_conntrack_max)"
expect_eq "buckets" "$(j .table.buckets)" "$(sysctl -n net.netfilter.nf_conntrack_buckets)"
expect_eq "count source" "$(j .table.count_source)" ctnetlink
expect_eq "generation before" "$(j .generation)" 0
expect_eq "rules before" "$(j '.rules | length')" 0
expect_eq "backend" "$(j '.backend')" "nft"
[[ $(j .backend_decision.reason) == *"nft backend"* ]] || fail "status does not say why it chose nft: $(j .backend_decision.reason)"
expect_eq "pending" "$(j .pending)" null
[ ! -e "$state" ] || fail "status created the state directory"
echo "ok   status did not create the state directory"

# loopback is notracked, but udp/9999 stays tracked
cat >"$work/policy.json" <<'JSON'
{"version": 1, "notrack": {"loopback": true},
 "keep_tracked": [{"reason": "state", "proto": "udp", "ports": [9999]}]}
JSON
"$bin" apply -q --state-dir "$state" "$work/policy.json" >/dev/null
python3 "$traffic" udp 127.0.3.1 127.0.0.1 9999 30 20000
python3 "$traffic" udp 127.0.3.2 127.0.0.1 7000 200 20000
python3 "$traffic" tcp-closed 127.0.3.3 127.0.0.1 8080 20 30000

"$bin" status --json --state-dir "$state" >"$work/s1.json"
j() { jq -r "$1" "$work/s1.json"; }
expect_eq "count = conntrack -C" "$(j .table.count)" "$(conntrack -C)"
expect_eq "count" "$(j .table.count)" 30
expect_eq "generation" "$(j .generation)" 1
expect_eq "policy file" "$(j .policy_file)" "$work/policy.json"
expect_eq "no errors" "$(j '[.table_error, .state_error, .rules_error] | map(select(. != null)) | length')" 0
expect_eq "no warnings" "$(j '.table.warnings | length')" 0

# the counters, summed over CPUs, are what conntrack -S says
conntrack -S 2>/dev/null | awk '{for (i = 2; i <= NF; i++) {split($i, kv, "="); n[kv[1]] += kv[2]}}
	END {print n["drop"], n["early_drop"], n["insert_failed"], n["chaintoolong"], n["invalid"], n["found"]}' \
	>"$work/S.ct"
j '.table.counters | "\(.drop) \(.early_drop) \(.insert_failed) \(.chaintoolong) \(.invalid) \(.found)"' \
	>"$work/S.ours"
diff -u "$work/S.ct" "$work/S.ours" || fail "counters differ from conntrack -S"
echo "ok   counters = conntrack -S (drop early_drop insert_failed chaintoolong invalid found: $(cat "$work/S.ours"))"
[ "$(j .table.counters.invalid)" -ge 3 ] || fail "the 3 invalid FINs were not counted"


# every rule we own, with its counters, as nft -j lists it
nft -j list ruleset | jq -r '.nftables[] | .rule? | select(. != null)
	| select(.table == "notrackctl" or ((.comment // "") | startswith("notrackctl")))
	| "\(.family) \(.table) \(.chain) \(.handle) \([.expr[] | .counter? | select(. != null)][0]
	| "\(.packets) \(.bytes)")"' | sort >"$work/rules.nft"
j '.rules[] | "\(.family) \(.table) \(.chain) \(.handle) \(.packets) \(.bytes)"' | sort >"$work/rules.ours"
[ -s "$work/rules.nft" ] || fail "nft lists no rules of ours"
diff -u "$work/rules.nft" "$work/rules.ours" || fail "rule counters differ from nft -j"
echo "ok   $(wc -l <"$work/rules.ours") rules and their counters = nft -j"
# bypassed: the notrack rules' packets; loopback saw at least the 200
# datagrams and 3 packets of each of the 20 connections on output
bypassed=$(jq -r '[.rules[] | select(.role == "notrack") | .packets] | add' "$work/s1.json")
expect_eq "bypassed packets" "$(j .bypassed.packets)" "$bypassed"
[ "$bypassed" -ge 260 ] || fail "bypassed only $bypassed packets"
keep=$(j '[.rules[] | select(.role == "keep_tracked" and .chain == "output") | .packets] | add')
expect_eq "keep_tracked output packets" "$keep" 30
expect_eq "roles" "$(j '[.rules[].role] | unique | join(",")')" "keep_tracked,notrack,untracked_accept"

# the text form
"$bin" status --state-dir "$state" >"$work/s1.txt"
grep -q '^  entries      30 of [0-9,]* max ' "$work/s1.txt" || fail "status text: $(cat "$work/s1.txt")"
grep -q '^  generation   1 (.*policy.json)$' "$work/s1.txt" || fail "status text: $(cat "$work/s1.txt")"
grep -q '^  bypassed conntrack: [0-9,]* packets' "$work/s1.txt" || fail "status text: $(cat "$work/s1.txt")"
echo "ok   status text"

# --backend: named, or refused
"$bin" status --json --backend nft --state-dir "$state" | jq -e '.backend == "nft" and .backend_decision.reason == "named with --backend"' >/dev/null ||
	fail "--backend nft is not reported as the reason"
rc=0
"$bin" status --backend pf --state-dir "$state" >/dev/null 2>&1 || rc=$?
expect_eq "unknown backend exit" "$rc" 2

# without privileges: the table from procfs, the rest refused, exit 7
rc=0
as_nobody "$bin" status --json --state-dir "$state" >"$work/s2.json" 2>/dev/null || rc=$?
expect_eq "unprivileged exit" "$rc" 7
expect_eq "unprivileged count" "$(jq -r .table.count "$work/s2.json")" 30
expect_eq "unprivileged count source" "$(jq -r .table.count_source "$work/s2.json")" proc
expect_eq "unprivileged rules" "$(jq -r .rules "$work/s2.json")" null
expect_eq "unprivileged rules error" "$(jq -r .rules_error.kind "$work/s2.json")" permission
echo "all checks passed"
