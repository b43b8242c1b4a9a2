#!/bin/bash
# notrackctl advise in a throwaway network namespace with a TIME_WAIT-heavy
# table: the inputs against sysctl, /proc/slabinfo and conntrack -C, the
# memory formula with the real sizes, the advice with and without pressure,
# and that nothing but --write FILE is ever written: no sysctl changes.
#
# Usage: diag-advise.sh NOTRACKCTL
set -euo pipefail
. "$(dirname "$0")/diag-lib.sh"
diag_begin "$@"
python3 "$traffic" tcp-closed 127.0.4.1 127.0.0.1 8080 300 30000
python3 "$traffic" udp 127.0.4.2 127.0.0.1 5353 100 20000
diag_wait_settled
expect_eq "conntrack -C" "$(conntrack -C)" 400

# every netfilter sysctl of this namespace, to show that advise changes
# none.  Only the writable ones are this namespace's own: the read-only ones
# (nf_conntrack_max, _buckets, _expect_max, _count) show the host's global
# values, which are not this test's to watch.
snapshot() {
	find /proc/sys/net/netfilter -type f -perm -u=w -print0 | sort -z | xargs -0 grep -H . 2>/dev/null || true
}
snapshot >"$work/before"
[ -s "$work/before" ] || fail "no writable netfilter sysctl in this namespace"

# nf_conntrack_max and _buckets are global: read before and after advise,
# and advise's inputs must be one of the two readings (the host could
# change them in between; the sizes are then checked against advise's own)
global_limits() { echo "$(sysctl -n net.netfilter.nf_conntrack_max) $(sysctl -n net.netfilter.nf_conntrack_buckets)"; }
limits_before=$(global_limits)
objsize=$(awk '$1 == "nf_conntrack" {print $4}' /proc/slabinfo)
[ -n "$objsize" ] || skip "no nf_conntrack line in /proc/slabinfo (slab merging?)"

mkdir "$work/cwd"
(cd "$work/cwd" && "$bin" advise --json) >"$work/a1.json"
limits_after=$(global_limits)
j() { jq -r "$1" "$work/a1.json"; }
expect_eq "count" "$(j .inputs.count)" 400
expect_eq "objsize from slabinfo" "$(j '"\(.inputs.objsize) \(.inputs.objsize_source)"')" "$objsize slabinfo"
max=$(j .inputs.max)
buckets=$(j .inputs.buckets)
[ "$max $buckets" = "$limits_before" ] || [ "$max $buckets" = "$limits_after" ] ||
	fail "advise read max and buckets '$max $buckets'; sysctl read '$limits_before' before and '$limits_after' after"
echo "ok   max and buckets as sysctl reads them"
expect_eq "memory now = max x objsize + buckets x 8" "$(j .sizes.memory_now)" $((max * objsize + buckets * 8))
# a peak of 400 needs 1024 slots: the current max is kept
expect_eq "target" "$(j .sizes.target)" 1024
expect_eq "recommended max" "$(j .sizes.max)" "$max"
expect_eq "change" "$(j .sizes.change)" false
expect_eq "pressure" "$(j .pressure)" false
# TIME_WAIT holds 75 % but there is no pressure: keep the defaults
expect_eq "time_wait share" \
	"$(j '.timeouts[] | select(.sysctl == "nf_conntrack_tcp_timeout_time_wait") | "\(.share_percent) \(.change)"')" \
	"75 false"
expect_eq "udp share" "$(j '.timeouts[] | select(.sysctl == "nf_conntrack_udp_timeout") | .share_percent')" 25
[ -z "$(ls -A "$work/cwd")" ] || fail "advise without --write wrote: $(ls -A "$work/cwd")"
echo "ok   nothing written without --write"

# a peak of 200,000 (from monitoring): 400,000 rounded up to 524,288, one
# bucket each; and the table is under pressure, so TIME_WAIT is shortened
# under a root shell's umask 077 too, the file is 0644 (as documented)
(umask 077 && "$bin" advise --json --peak 200000 --write "$work/90-conntrack.conf" >"$work/a2.json")
expect_eq "--write mode under umask 077" "$(stat -c %a "$work/90-conntrack.conf")" 644
j() { jq -r "$1" "$work/a2.json"; }
expect_eq "demand" "$(j .sizes.demand)" 200000
expect_eq "recommended max" "$(j .sizes.max)" 524288
expect_eq "recommended buckets" "$(j .sizes.buckets)" 524288
expect_eq "memory = 524288 x (objsize + 8)" "$(j .sizes.memory)" $((524288 * (objsize + 8)))
expect_eq "pressure" "$(j .pressure)" true
expect_eq "time_wait advice" \
	"$(j '.timeouts[] | select(.sysctl == "nf_conntrack_tcp_timeout_time_wait") | "\(.current) -> \(.recommended)"')" \
	"120 -> 60"
expect_eq "risk stated" "$(j '[.timeouts[] | select(.change) | .risk | length > 20] | all')" true
cmp -s "$work/90-conntrack.conf" <(jq -j .sysctl_file "$work/a2.json") || fail "the written file differs from the printed one"
grep -qx 'net.netfilter.nf_conntrack_max = 524288' "$work/90-conntrack.conf" || fail "no max in the file"
grep -qx 'net.netfilter.nf_conntrack_buckets = 524288' "$work/90-conntrack.conf" || fail "no buckets in the file"
grep -qx 'net.netfilter.nf_conntrack_tcp_timeout_time_wait = 60' "$work/90-conntrack.conf" ||
	fail "no time_wait in the file"
grep -q 'echo 524288 > /sys/module/nf_conntrack/parameters/hashsize' "$work/90-conntrack.conf" ||
	fail "no hashsize line in the file"
expect_eq "file mode" "$(stat -c %a "$work/90-conntrack.conf")" 644
# the file is what sysctl.d(5) reads: comments, blank lines and KEY = VALUE
# for keys that exist here (checked by reading /proc/sys, never by loading
# the file: sysctl -p would set them, even with -N)
while IFS= read -r line; do
	case $line in
	'' | '#'*) ;;
	*)
		[[ $line =~ ^net\.netfilter\.([a-z_]+)\ =\ [0-9]+$ ]] || fail "not a sysctl line: $line"
		[ -e "/proc/sys/net/netfilter/${BASH_REMATCH[1]}" ] || fail "no such sysctl: $line"
		;;
	esac
done <"$work/90-conntrack.conf"
echo "ok   the file is KEY = VALUE lines of existing sysctls"

snapshot >"$work/after"
diff -u "$work/before" "$work/after" || fail "a sysctl changed"
echo "ok   no sysctl changed"

# the text form ends with the same file
"$bin" advise --peak 200000 >"$work/a2.txt"
grep -q '^  recommended    max 524,288, buckets 524,288: ' "$work/a2.txt" || fail "advise text: $(cat "$work/a2.txt")"
grep -q 'what could break: ' "$work/a2.txt" || fail "advise text names no risk"
echo "ok   advise text"
rc=0
"$bin" advise --peak lots >/dev/null 2>&1 || rc=$?
expect_eq "bad --peak exit" "$rc" 2
echo "all checks passed"
