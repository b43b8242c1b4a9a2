#!/bin/bash
# notrackctl metrics against the real kernel, in a throwaway namespace with a
# client namespace behind a veth pair:
#  - promtool check metrics accepts the output, before and after an apply;
#  - under a known load (40 tracked UDP flows), notrackctl_conntrack_entries
#    equals conntrack -C, and the summed counters equal conntrack -S;
#  - N datagrams through the untracked path (udp/7000, an input chain whose
#    policy is drop) raise the entry's bypass counter and our accept's
#    counter by at least N, and all N arrive, while datagrams to udp/7001
#    (tracked, not accepted) stay blocked;
#  - --textfile writes DIR/notrackctl.prom, 0644, nothing else left behind,
#    with only the capabilities notrackctl-metrics.service leaves it;
#    a real node_exporter on 127.0.0.1 in this namespace, reading that
#    directory, serves every sample of it with the same value;
#  - drift: a rule someone adds to our table, or our accept removed, sets
#    notrackctl_drift to 1; pending: apply --confirm sets the gauge and the
#    deadline, confirm clears them; without privileges, the table from
#    procfs, the other sections marked failed, exit 7;
#  - every family printed is documented in the man page.
#
# Usage: metrics-nft.sh NOTRACKCTL [SOURCE_DIR]
set -euo pipefail
. "$(dirname "$0")/diag-lib.sh"
diag_begin "$@"
need_commands promtool prometheus-node-exporter setpriv
tool="$(dirname "$(realpath "$0")")/metrics-tool.py"
src=$(cd "$(dirname "$(realpath "$0")")/../.." && pwd)
N=100

m() { "$bin" metrics --state-dir "$state" "$@"; }
val() { python3 "$tool" value "$@"; }
check() { # check FILE: promtool's lint of the exposition
	promtool check metrics <"$1" >"$work/promtool.out" 2>&1 || fail "promtool check metrics: $(cat "$work/promtool.out")"
	echo "ok   promtool check metrics accepts $(grep -c '^# TYPE' "$1") families"
}

# the client: a namespace of its own behind a veth pair
named_netns client i21-metrics
ip link add v0 type veth peer name v1 netns "$client"
ip addr add 10.9.1.1/24 dev v0
ip link set v0 up
ip -n "$client" addr add 10.9.1.2/24 dev v1
ip -n "$client" link set v1 up
ip -n "$client" link set lo up
# this host's firewall: tracked udp/9999 is let in, everything else new is dropped
nft -f - <<'NFT'
table inet guard {
	chain in { type filter hook input priority 0; policy drop;
		ct state established,related accept
		iif lo accept
		udp dport 9999 accept
	}
}
NFT

# 1. nothing applied
m >"$work/m0.txt"
check "$work/m0.txt"
expect_eq "generation before" "$(val "$work/m0.txt" notrackctl_generation)" 0
expect_eq "backend" "$(val "$work/m0.txt" notrackctl_info backend=nft)" 1
expect_eq "no rules" "$(val "$work/m0.txt" notrackctl_rules role=notrack)" 0
grep -q '^notrackctl_drift' "$work/m0.txt" && fail "a drift gauge with nothing applied"

cat >"$work/policy.json" <<'JSON'
{"version": 1, "notrack": {"services": [{"proto": "udp", "ports": [7000]}]}, "untracked_accept": "auto"}
JSON
"$bin" apply -q --state-dir "$state" "$work/policy.json" >/dev/null 2>"$work/err" || fail "apply: $(cat "$work/err")"
m >"$work/m1.txt"
check "$work/m1.txt"
entry=(entry='$.notrack.services[0]' hook=prerouting family=inet)
accept=(family=inet table=guard chain=in)
b0=$(val "$work/m1.txt" notrackctl_bypass_packets_total "${entry[@]}")
a0=$(val "$work/m1.txt" notrackctl_untracked_accept_packets_total "${accept[@]}")
expect_eq "generation" "$(val "$work/m1.txt" notrackctl_generation)" 1
expect_eq "drift after apply" "$(val "$work/m1.txt" notrackctl_drift)" 0

# 2. three bare FINs for no connection, which conntrack counts invalid (so
# the counters compared below are not all zero); then the known load: 40
# tracked flows, then 20 datagrams that must stay
# blocked, then N through the untracked path
python3 - <<'PY'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
for _ in range(3):
    s.sendto(struct.pack("!HHIIBBHHH", 12345, 9, 1, 0, 0x50, 0x01, 1024, 0, 0), ("127.0.0.1", 0))
PY
ip netns exec "$client" python3 "$traffic" udp 10.9.1.2 10.9.1.1 9999 40 20000
python3 "$tool" recv "$work/ready" 7000 7001 "$N" >"$work/recv.out" &
recv=$!
for _ in $(seq 100); do [ -e "$work/ready" ] && break; sleep 0.05; done
[ -e "$work/ready" ] || fail "the receiver did not start"
ip netns exec "$client" python3 "$traffic" udp 10.9.1.2 10.9.1.1 7001 20 30000
ip netns exec "$client" python3 "$traffic" udp 10.9.1.2 10.9.1.1 7000 "$N" 40000
wait "$recv" || fail "the receiver failed"
read -r got blocked <"$work/recv.out"
expect_eq "datagrams through the untracked path" "$got" "$N"
expect_eq "datagrams to the blocked port" "$blocked" 0

m >"$work/m2.txt"
conntrack -C >"$work/C"
check "$work/m2.txt"
expect_eq "entries = conntrack -C" "$(val "$work/m2.txt" notrackctl_conntrack_entries)" "$(cat "$work/C")"
[ "$(cat "$work/C")" -ge 40 ] || fail "only $(cat "$work/C") entries for 40 tracked flows"
expect_eq "max" "$(val "$work/m2.txt" notrackctl_conntrack_max)" "$(sysctl -n net.netfilter.nf_conntrack_max)"
expect_eq "buckets" "$(val "$work/m2.txt" notrackctl_conntrack_buckets)" \
	"$(sysctl -n net.netfilter.nf_conntrack_buckets)"
conntrack -S 2>/dev/null | awk '{for (i = 2; i <= NF; i++) {split($i, kv, "="); n[kv[1]] += kv[2]}}
	END {print n["found"], n["invalid"], n["insert"], n["insert_failed"], n["drop"], n["early_drop"],
		n["error"], n["search_restart"]}' >"$work/S.ct"
for c in found invalid insert insert_failed drop early_drop error search_restart; do
	printf '%s ' "$(val "$work/m2.txt" "notrackctl_conntrack_${c}_total")"
done | sed 's/ $//' >"$work/S.ours"
echo >>"$work/S.ours"
diff -u "$work/S.ct" "$work/S.ours" || fail "the counters differ from conntrack -S"
echo "ok   counters = conntrack -S ($(cat "$work/S.ours"))"
[ "$(val "$work/m2.txt" notrackctl_conntrack_invalid_total)" -ge 3 ] || fail "the 3 invalid FINs were not counted"
b1=$(val "$work/m2.txt" notrackctl_bypass_packets_total "${entry[@]}")
a1=$(val "$work/m2.txt" notrackctl_untracked_accept_packets_total "${accept[@]}")
[ $((b1 - b0)) -ge "$N" ] || fail "bypass counter grew by $((b1 - b0)) after $N packets"
echo "ok   bypass counter grew by $((b1 - b0)) >= $N"
[ $((a1 - a0)) -ge "$N" ] || fail "accept counter grew by $((a1 - a0)) after $N packets"
echo "ok   untracked accept counter grew by $((a1 - a0)) >= $N"
# the same numbers as nft -j says, for our prerouting rule
nft -j list chain inet notrackctl prerouting | jq '[.nftables[].rule? | select(. != null) | .expr[]
	| .counter? | select(. != null) | .packets] | add' >"$work/nftpk"
[ "$(cat "$work/nftpk")" -ge "$b1" ] || fail "nft -j says $(cat "$work/nftpk") packets, metrics $b1"

# 3. the textfile, read by a real node_exporter
mkdir "$work/prom"
rc=0
m --textfile "$work/nonexistent" >/dev/null 2>"$work/err" || rc=$?
expect_eq "--textfile into a missing directory" "$rc" 10
grep -q "nonexistent/notrackctl.prom" "$work/err" || fail "the error does not name the file: $(cat "$work/err")"
# with only the capabilities notrackctl-metrics.service leaves it
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$src/dist/systemd/notrackctl-metrics.service" |
	tr 'A-Z ' 'a-z\n' | sed -n 's/^cap_/+/p' | paste -sd, -)
[ -n "$caps" ] || fail "no CapabilityBoundingSet in notrackctl-metrics.service"
setpriv --bounding-set="-all,$caps" "$bin" metrics --state-dir "$state" --textfile "$work/prom" >"$work/stdout" ||
	fail "metrics with the unit's capabilities ($caps) failed"
echo "ok   metrics --textfile with only the unit's capabilities ($caps)"
[ ! -s "$work/stdout" ] || fail "--textfile also printed: $(head -3 "$work/stdout")"
expect_eq "textfile directory" "$(ls -A "$work/prom")" notrackctl.prom
expect_eq "textfile mode" "$(stat -c %a "$work/prom/notrackctl.prom")" 644
check "$work/prom/notrackctl.prom"
prometheus-node-exporter --web.listen-address=127.0.0.1:9100 --collector.disable-defaults --collector.textfile \
	--collector.textfile.directory="$work/prom" >"$work/node.log" 2>&1 &
node=$!
defer "kill $node 2>/dev/null"
python3 "$tool" scrape http://127.0.0.1:9100/metrics "$work/scraped" ||
	fail "cannot scrape node_exporter: $(tail -5 "$work/node.log")"
expect_eq "node_exporter textfile errors" "$(val "$work/scraped" node_textfile_scrape_error)" 0
n=$(python3 "$tool" same "$work/prom/notrackctl.prom" "$work/scraped") || fail "node_exporter differs"
echo "ok   node_exporter serves all $n samples of the textfile with the same values"
expect_eq "entries via node_exporter" "$(val "$work/scraped" notrackctl_conntrack_entries)" "$(cat "$work/C")"
expect_eq "bypass via node_exporter" "$(val "$work/scraped" notrackctl_bypass_packets_total "${entry[@]}")" \
	"$(val "$work/prom/notrackctl.prom" notrackctl_bypass_packets_total "${entry[@]}")"
kill "$node"
wait "$node" 2>/dev/null || true

# 4. drift: a rule someone adds to our table, then our accept removed
nft add rule inet notrackctl prerouting udp dport 7002 counter
m >"$work/m3.txt"
expect_eq "drift with a foreign rule in our table" "$(val "$work/m3.txt" notrackctl_drift)" 1
"$bin" status --state-dir "$state" >"$work/st.txt"
grep -q '^  drift        our rules changed since generation 1' "$work/st.txt" || fail "status: $(cat "$work/st.txt")"
h=$(nft -a list chain inet notrackctl prerouting | sed -n 's/.*dport 7002 counter .*# handle \([0-9]*\)$/\1/p')
nft delete rule inet notrackctl prerouting handle "$h"
expect_eq "drift once it is gone" "$(m | python3 "$tool" value /dev/stdin notrackctl_drift)" 0
h=$(nft -a list chain inet guard in | sed -n 's/.*comment "notrackctl" # handle \([0-9]*\)$/\1/p')
nft delete rule inet guard in handle "$h"
m >"$work/m4.txt"
expect_eq "drift without our accept" "$(val "$work/m4.txt" notrackctl_drift)" 1
"$bin" status --state-dir "$state" >"$work/st.txt"
grep -q '^  drift        our untracked accept in inet guard in is gone' "$work/st.txt" ||
	fail "status: $(cat "$work/st.txt")"

# 5. a pending confirmation
now=$(date +%s)
# a root-owned copy: the checkout may belong to a normal user, whose files
# notrackctl refuses to apply (the trust check)
install -m 0644 -o root -g root "$src/policies/minimal.json" "$work/minimal.json"
"$bin" apply -q --state-dir "$state" --confirm 300 "$work/minimal.json" >"$work/apply.out" 2>&1 ||
	fail "apply --confirm: $(cat "$work/apply.out")"
m >"$work/m5.txt"
check "$work/m5.txt"
expect_eq "pending" "$(val "$work/m5.txt" notrackctl_pending_confirmation)" 1
deadline=$(val "$work/m5.txt" notrackctl_pending_confirmation_deadline_timestamp_seconds)
[ "$deadline" -ge $((now + 300)) ] && [ "$deadline" -le $(($(date +%s) + 300)) ] ||
	fail "deadline $deadline is not 300 s after the apply ($now)"
expect_eq "generation while pending" "$(val "$work/m5.txt" notrackctl_generation)" 2
"$bin" confirm --state-dir "$state" >/dev/null 2>&1
m >"$work/m6.txt"
expect_eq "pending after confirm" "$(val "$work/m6.txt" notrackctl_pending_confirmation)" 0
grep -q deadline "$work/m6.txt" && fail "a deadline without a pending confirmation"

# 6. without privileges: the table from procfs, the rest marked failed, exit 7
if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups "$bin" --version >/dev/null 2>&1
then
	rc=0
	setpriv --reuid=65534 --regid=65534 --clear-groups "$bin" metrics --state-dir "$state" \
		>"$work/m7.txt" 2>"$work/err" || rc=$?
	expect_eq "unprivileged exit" "$rc" 7
	check "$work/m7.txt"
	expect_eq "unprivileged entries (procfs)" "$(val "$work/m7.txt" notrackctl_conntrack_entries)" "$(conntrack -C)"
	expect_eq "unprivileged rules section" "$(val "$work/m7.txt" notrackctl_collector_success collector=rules)" 0
	grep -q '^notrackctl_bypass' "$work/m7.txt" && fail "bypass counters without the rules"
	echo "ok   unprivileged: $(head -1 "$work/err")"
else
	echo "skip unprivileged metrics: the binary is not runnable as nobody"
fi

# every family printed here is documented in the man page
cat "$work"/m*.txt | sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p' | sort -u >"$work/families"
while read -r f; do
	grep -qw -- "$f" "$src/dist/man/notrackctl.8" || fail "the man page does not document $f"
done <"$work/families"
echo "ok   the man page documents all $(wc -l <"$work/families") families printed"
echo "all checks passed"
