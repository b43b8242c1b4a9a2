# Sourced by the integration tests.  Each test runs as
#   TEST NOTRACKCTL SOURCE_DIR
# re-executes itself in a fresh network namespace (enter_netns), and gets:
#   $bin      the notrackctl binary
#   $src      the source tree
#   $work     a private temp directory, removed at exit
#   ntc ...   notrackctl with a private state directory and lock file
# plus helpers that build the foreign rules a real host has, make real
# traffic, and compare what the kernel holds.
set -euo pipefail
. "$(dirname "$0")/../lib/netns.sh"

[ $# -ge 2 ] || {
	echo "usage: $0 NOTRACKCTL SOURCE_DIR" >&2
	exit 2
}
enter_netns "$@"
need_commands nft conntrack python3 ip

bin=$(readlink -f "$1")
src=$(cd "$2" && pwd)
work=$(mktemp -d)
defer rm -rf "$work"
export NOTRACKCTL_STATE_DIR=$work/state
# the xtables lock is a file shared by every namespace: keep ours private
export XTABLES_LOCKFILE=$work/xtables.lock
tcpload=$src/tests/lib/tcpload.py
ip link set lo up

ntc() { "$bin" "$@"; }

# run WANT_EXIT CMD...: runs CMD with stdout in $work/out and stderr in
# $work/err, and fails unless it exits with WANT_EXIT.
run() {
	local want=$1 got=0
	shift
	"$@" >"$work/out" 2>"$work/err" || got=$?
	[ "$got" = "$want" ] || fail "$*: exit $got, want $want; stderr: $(cat "$work/err"); stdout: $(head -c 2000 "$work/out")"
}

assert_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }
assert_ge() { [ "$1" -ge "$2" ] || fail "$3: got $1, want at least $2"; }
assert_contains() { grep -qF -- "$2" "$1" || fail "$3: '$2' not in $1: $(head -c 2000 "$1")"; }
assert_not_contains() { ! grep -qF -- "$2" "$1" || fail "$3: '$2' is in $1: $(head -c 2000 "$1")"; }

# assert_same_file A B WHAT: byte-identical, or fail with the diff.
assert_same_file() {
	cmp -s "$1" "$2" || fail "$3 differs:
$(diff -u "$1" "$2" | head -60)"
}

# snapshot NAME: the whole ruleset as nft text and JSON, and the
# iptables-nft view of it (header comments dropped: they hold the date).
snapshot() {
	nft list ruleset >"$work/$1.nft"
	nft -j list ruleset >"$work/$1.json"
	if command -v iptables-nft-save >/dev/null; then
		{ iptables-nft-save 2>&1 | grep -v '^#' || true; } >"$work/$1.iptnft"
	fi
}

# assert_same_snapshot A B: the kernel held byte-identical rulesets.
assert_same_snapshot() {
	assert_same_file "$work/$1.nft" "$work/$2.nft" "nft list ruleset ($1 vs $2)"
	assert_same_file "$work/$1.json" "$work/$2.json" "nft -j list ruleset ($1 vs $2)"
	if [ -f "$work/$1.iptnft" ]; then
		assert_same_file "$work/$1.iptnft" "$work/$2.iptnft" "iptables-nft-save ($1 vs $2)"
	fi
}

# assert_same_rules A B: the same rules, where our table was recreated in
# between (its handles, in the JSON, are new; the text has no handles).
assert_same_rules() {
	assert_same_file "$work/$1.nft" "$work/$2.nft" "nft list ruleset ($1 vs $2)"
}

# A stateful filter, as an admin writes one: drop by default, accept
# established and related, allow the service port.  The ct state rule is
# also what makes conntrack run in this namespace at all.
stateful_filter() {
	nft -f - <<-'EOF'
		table inet filter {
			chain input {
				type filter hook input priority filter; policy drop;
				ct state established,related accept
				tcp dport 8080 accept
			}
			chain output {
				type filter hook output priority filter; policy accept;
				ct state established,related,new accept
			}
		}
	EOF
}

# NAT as a host with containers has it, in a table of its own.
nat_table() {
	nft -f - <<-'EOF'
		table ip cni_nat {
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				ip saddr 10.88.0.0/16 oifname != "cni0" masquerade
			}
		}
	EOF
}

# What Docker writes through iptables-nft: its chains in ip filter and
# ip nat, a masquerade and a published-port DNAT.
docker_like() {
	command -v iptables-nft >/dev/null || skip "iptables-nft not found"
	iptables-nft -w -N DOCKER
	iptables-nft -w -N DOCKER-USER
	iptables-nft -w -A DOCKER-USER -j RETURN
	iptables-nft -w -A FORWARD -j DOCKER-USER
	iptables-nft -w -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
	iptables-nft -w -A FORWARD -o docker0 -j DOCKER
	iptables-nft -w -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp --dport 80 -j ACCEPT
	iptables-nft -w -t nat -N DOCKER
	iptables-nft -w -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
	iptables-nft -w -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
	iptables-nft -w -t nat -A DOCKER ! -i docker0 -p tcp --dport 8081 -j DNAT --to-destination 172.17.0.2:80
}

# start_server PORT [HOST]: the echo server, stopped at exit.
start_server() {
	local port=$1 host=${2:-127.0.0.1} i
	python3 "$tcpload" serve "$host" "$port" &
	defer "kill $! 2>/dev/null; wait $! 2>/dev/null"
	for i in $(seq 100); do
		python3 "$tcpload" connect "$host" "$port" 1 >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	fail "the echo server on $host:$port did not come up"
}

# connections N [PORT] [HOST]: N real connections; fails unless all succeed.
connections() {
	local n=$1 port=${2:-8080} host=${3:-127.0.0.1} ok
	ok=$(python3 "$tcpload" connect "$host" "$port" "$n") || true
	assert_eq "$ok" "$n" "connections to $host:$port that got their reply"
}

# peer NAME ADDR HOSTIF HOSTADDR: a network namespace behind a veth pair
# (NAME inside, HOSTIF here), held by a sleeping process whose pid is in
# $peer_pid, with a default route via HOSTADDR.
peer() {
	local name=$1 addr=$2 hostif=$3 hostaddr=$4 i
	unshare -n sleep 600 &
	peer_pid=$!
	defer "kill $peer_pid 2>/dev/null; wait $peer_pid 2>/dev/null"
	# bounded: the child has unshared once its namespace differs from ours
	# (before that, a veth moved "into" it would stay here)
	for i in $(seq 300); do
		[ "$(readlink /proc/$peer_pid/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break
		sleep 0.01
	done
	[ "$(readlink /proc/$peer_pid/ns/net)" != "$(readlink /proc/self/ns/net)" ] || fail "peer $name: no namespace"
	ip link add "$hostif" type veth peer name "$name"
	defer "ip link del $hostif 2>/dev/null"
	ip link set "$name" netns "$peer_pid"
	ip addr add "$hostaddr" dev "$hostif"
	ip link set "$hostif" up
	nsenter -t "$peer_pid" -n sh -c "ip link set lo up && ip link set $name up && ip addr add $addr dev $name &&
		ip route add default via ${hostaddr%/*}"
}

# in_peer PID CMD...: CMD in that peer's network namespace.
in_peer() {
	local pid=$1
	shift
	nsenter -t "$pid" -n "$@"
}

ct_count() { conntrack -C; }
ct_flush() { conntrack -F >/dev/null 2>&1 || true; }

# equivalence_policies: every valid test policy and every shipped one, one a
# line (the equivalence tests load each one both ways).
equivalence_policies() {
	local p
	for p in "$src"/tests/cases/valid/*.json "$src"/policies/*.json; do
		case $p in */schema.json) ;; *) echo "$p" ;; esac
	done
}

# nginx_lan FILE: policies/nginx.json plus the whole interface lan0.  Its
# forwarded traffic is untracked too, so "auto" puts the accept into
# forward chains as well as input and output.
nginx_lan() {
	python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); p["notrack"]["interfaces"]=["lan0"]; json.dump(p, open(sys.argv[2], "w"))' \
		"$src/policies/nginx.json" "$1"
}
