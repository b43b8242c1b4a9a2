#!/bin/bash
# Lint and apply on a kube-proxy host with a large nat table (bench/gen-kube.py:
# 1,200 services, 1,200 KUBE-SVC-* chains) and a NodePort (the lint case
# kube-nodeport) in it, on both backends.  The readers take their large-host
# paths here: nft dumps a table of 1,000 chains or more chain by chain, keeps
# the rules no plan reads as netlink messages, and verifies a commit from the
# tables it can have changed; legacy iptables reads the kernel's blob.
#
# 1. nft (iptables-nft): a policy that untracks the NodePort is refused by
#    lint and apply (exit 4, naming the endpoint's DNAT and the masquerade),
#    nothing applied.
# 2. The policy without it lints clean and applies: our table and the
#    untracked accept at the head of filter INPUT are read back, the nat
#    table is as it was, and applying it again changes nothing.
# 3. The same rules in legacy iptables: the same finding, kind for kind and
#    chain for chain.
. "$(dirname "$0")/ipt-lib.sh"
need_commands iptables-nft-restore iptables-nft-save iptables-legacy-restore jq
ip link add eth0 type veth peer name eth0-peer
ip addr add 192.0.2.10/24 dev eth0
ip link set eth0 up

# the generated table with the NodePort case's chains and rules added to it,
# and a stateful filter INPUT (where the untracked accept goes)
python3 "$src/bench/gen-kube.py" 2400 >"$work/kube.rules"
python3 - "$work/kube.rules" "$src/tests/lint-cases/kube-nodeport.case" >"$work/host.rules" <<'PY'
import sys
base = open(sys.argv[1]).read().splitlines()
case = open(sys.argv[2]).read().split("[rules]\n")[1].split("[expect]")[0].splitlines()
have = set(base)
extra = [l for l in case if l.startswith((":KUBE", "-A KUBE")) and l not in have]
out, in_nat = [], False
for line in base:
    in_nat = in_nat or line == "*nat"
    if line == "COMMIT" and in_nat:
        out += [l for l in extra if l.startswith(":")] + [l for l in extra if l.startswith("-A")]
        in_nat = False
    out.append(line)
print("\n".join(out))
print("*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]")
print("-A INPUT -i lo -j ACCEPT\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
print("-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT")
PY
echo '{"version": 1, "notrack": {"services": [{"proto": "tcp", "ports": [22, 30080]}]}}' >"$work/conflict.json"
echo '{"version": 1, "notrack": {"services": [{"proto": "tcp", "ports": [22]}]}}' >"$work/fixed.json"

# findings as "kind chain", sorted
findings() { jq -r '.findings[] | "\(.kind) \(.chain)"' "$work/out" | sort >"$work/$1"; }

# 1. refused on nft
iptables-nft-restore -w <"$work/host.rules"
save_without_dates "$work/nat.before" iptables-nft-save -t nat
chains=$(grep -c '^:KUBE-SVC-' "$work/nat.before")
assert_ge "$chains" 1000 "KUBE-SVC chains in the nat table"
nft_ruleset >"$work/nft.before"
run 4 ntc --backend nft lint --json "$work/conflict.json"
findings nft.findings
# the endpoint's DNAT, and KUBE-POSTROUTING's masquerade (of what the
# NodePort forwards)
assert_eq "$(cat "$work/nft.findings")" "nat KUBE-POSTROUTING
nat KUBE-SEP-AAAA" "nft lint's findings"
run 4 ntc --backend nft apply "$work/conflict.json"
cat "$work/out" "$work/err" >"$work/said"
assert_contains "$work/said" "KUBE-SEP-AAAA" "the refused apply names the DNAT"
nft_ruleset >"$work/nft.after"
assert_same_file "$work/nft.before" "$work/nft.after" "the ruleset after a refused apply"

# 2. clean, applied, read back
run 0 ntc --backend nft lint "$work/fixed.json"
assert_contains "$work/out" "clean" "lint of the fixed policy"
run 0 ntc --backend nft apply "$work/fixed.json"
cat "$work/out" "$work/err" >"$work/said"
assert_contains "$work/said" "changed:" "the first apply"
nft list table inet notrackctl >"$work/ours" || fail "our table is not there after apply"
assert_contains "$work/ours" "notrack" "our table"
iptables-nft-save -t filter >"$work/filter"
first=$(grep -m1 '^-A INPUT' "$work/filter")
case $first in
*UNTRACKED*ACCEPT*) ;;
*) fail "the first INPUT rule is not the untracked accept: $first" ;;
esac
save_without_dates "$work/nat.after" iptables-nft-save -t nat
assert_same_file "$work/nat.before" "$work/nat.after" "the nat table after apply"
run 0 ntc --backend nft apply "$work/fixed.json"
cat "$work/out" "$work/err" >"$work/said"
assert_not_contains "$work/said" "changed:" "a second apply of the same policy"
run 0 ntc --backend nft remove

# 3. the same rules in legacy iptables: the same finding
nft flush ruleset
iptables-legacy-restore -w <"$work/host.rules"
run 4 ntc --backend iptables lint --json "$work/conflict.json"
findings ipt.findings
assert_same_file "$work/nft.findings" "$work/ipt.findings" "legacy lint's findings against nft's"
run 0 ntc --backend iptables lint "$work/fixed.json"
echo "PASS"
