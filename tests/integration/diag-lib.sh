# shellcheck shell=bash
# Sourced by the diag-*.sh tests: the namespace, conntrack switched on in
# it, known traffic (diag-traffic.py), and checks.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/netns.sh
. "$here/../lib/netns.sh"
traffic="$here/diag-traffic.py"
export traffic

# diag_begin "$@": checks the arguments (NOTRACKCTL [SOURCE_DIR], as every
# integration test is called), re-runs the script in
# a new network namespace, and sets bin, work (a temporary directory,
# removed at exit) and state (a state directory path inside it).
diag_begin() {
	[ $# = 1 ] || [ $# = 2 ] || {
		echo "usage: $0 NOTRACKCTL [SOURCE_DIR]" >&2
		exit 2
	}
	enter_netns "$@"
	need_commands nft conntrack jq python3 ip
	bin=$(realpath "$1")
	work=$(mktemp -d)
	defer rm -rf "$work"
	watch_sanitizers "$work/sanitizer"
	state=$work/state
	# audit lines go to a file of the test's own, not to the host's syslog
	export NOTRACKCTL_AUDIT_FILE=$work/audit.log
	export bin work state
	diag_start_conntrack
}

# Conntrack only runs in a namespace once a rule needs it: a ct state rule
# on input and output, in a table of the test's own.  IPv6 is switched off
# in this namespace so that no router solicitation or DAD adds an entry.
diag_start_conntrack() {
	sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip link set lo up
	nft -f - <<-'NFT'
		table inet diagtest {
			chain in { type filter hook input priority 0; ct state established,related accept; }
			chain out { type filter hook output priority 0; ct state established,related accept; }
		}
	NFT
}

# A veth pair whose v0 holds 10.9.0.1/24, with a fixed neighbour 10.9.0.2,
# so packets to 10.9.0.2 leave through v0 without ARP.  Both ends stay in
# this namespace; what arrives on v1 is dropped as a martian.
diag_add_veth() {
	ip link add v0 type veth peer name v1
	ip addr add 10.9.0.1/24 dev v0
	ip link set v0 up
	ip link set v1 up
	ip neigh replace 10.9.0.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent
}

# Waits (at most 5 s) until no TCP entry is between states: every close has
# been answered.
diag_wait_settled() {
	for _ in $(seq 50); do
		# to a file first: grep -q would quit at the first match and
		# conntrack, still writing, would die of SIGPIPE (141 under pipefail)
		conntrack -L -p tcp >"$work/settle" 2>/dev/null || fail "conntrack -L -p tcp failed"
		grep -Eq 'SYN_SENT|SYN_RECV|FIN_WAIT|CLOSE_WAIT|LAST_ACK' "$work/settle" || return 0
		sleep 0.1
	done
	fail "TCP entries did not settle: $(awk '{print $4}' "$work/settle" | sort | uniq -c)"
}

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
	echo "ok   $1 = $3"
}

# The number of entries conntrack -L lists with the given filter arguments.
ct_count() {
	conntrack -L "$@" 2>/dev/null | wc -l
}
