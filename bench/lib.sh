# Sourced by bench/nginx-table-full, bench/apply and bench/datapath: the
# optimised binary, the machine line, medians and the conntrack counters.
# Like tests/lib/netns.sh, nothing here touches the host's own namespace.

bench_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Builds an optimised notrackctl in build-bench/ unless NOTRACKCTL names one;
# exports NOTRACKCTL.  Call before entering the namespace.
bench_binary() {
	if [ -z "${NOTRACKCTL:-}" ]; then
		cmake -S "$bench_repo" -B "$bench_repo/build-bench" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
			-DNOTRACKCTL_TESTS=OFF >/dev/null
		cmake --build "$bench_repo/build-bench" -j2 --target notrackctl >/dev/null
		export NOTRACKCTL=$bench_repo/build-bench/notrackctl
	fi
}

# One line about this machine, for every result.
bench_machine() {
	echo "$(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; shared with other engineers' builds"
}

bench_commit() {
	git -C "$bench_repo" describe --always --dirty 2>/dev/null || echo unknown
}

# median [COLUMN] < numbers: the middle value (the lower one of an even count)
median() { awk -v c="${1:-1}" '{print $c}' | sort -g | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]; else print "nan"}'; }

# ratio A B: A / B with two decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "nan"}'; }

# The conntrack statistics of this namespace, summed over CPUs (the file is hex).
ct_stat() { # ct_stat COLUMN-NAME
	local header col=0 i sum=0 row
	read -r -a header </proc/net/stat/nf_conntrack
	for i in "${!header[@]}"; do [ "${header[$i]}" = "$1" ] && col=$i; done
	while read -r -a row; do
		[ "${row[0]}" = entries ] && continue
		sum=$((sum + 16#${row[$col]}))
	done </proc/net/stat/nf_conntrack
	echo "$sum"
}
ct_count() { cat /proc/sys/net/netfilter/nf_conntrack_count; }

# now_ns: a monotonic-enough wall clock in nanoseconds
now_ns() { date +%s%N; }
