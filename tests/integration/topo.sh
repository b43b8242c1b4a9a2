# Sourced after lib.sh by the tests that need more hosts than the one
# notrackctl runs on: each extra host is a network namespace held by a
# sleeping process (no names in /run/netns, so parallel tests never meet),
# entered with nsenter.  The test's own namespace is the host under test.
need_commands nsenter unshare

# host_new NAME: a fresh namespace for host NAME, with lo up.
host_new() {
	local name=$1 pid i
	unshare -n sleep infinity &
	pid=$!
	defer "kill $pid 2>/dev/null"
	# bounded: the child has unshared once its namespace differs from ours
	for i in $(seq 200); do
		[ "$(readlink /proc/$pid/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break
		sleep 0.01
	done
	[ "$(readlink /proc/$pid/ns/net)" != "$(readlink /proc/self/ns/net)" ] || fail "host $name: no namespace"
	eval "host_pid_$name=$pid"
	on "$name" ip link set lo up
}

# on NAME CMD...: runs CMD on host NAME ("here" is the host under test).
on() {
	local name=$1 pid
	shift
	if [ "$name" = here ]; then
		"$@"
		return
	fi
	eval "pid=\$host_pid_$name"
	nsenter -t "$pid" -n -- "$@"
}

# link HOST_A IF_A ADDRS_A HOST_B IF_B ADDRS_B: a veth pair between two
# hosts, each end up with its addresses (comma-separated CIDRs; IPv6 ones
# without duplicate address detection, so they are usable at once).
link() {
	local a=$1 ifa=$2 addrs_a=$3 b=$4 ifb=$5 addrs_b=$6 tmp=v$$x$RANDOM
	ip link add "$tmp" type veth peer name "${tmp}y"
	_link_end "$a" "$tmp" "$ifa" "$addrs_a"
	_link_end "$b" "${tmp}y" "$ifb" "$addrs_b"
}

_link_end() {
	local host=$1 dev=$2 name=$3 addrs=$4 pid addr
	if [ "$host" != here ]; then
		eval "pid=\$host_pid_$host"
		ip link set "$dev" netns "$pid"
	fi
	on "$host" ip link set "$dev" name "$name"
	for addr in ${addrs//,/ }; do
		case $addr in
		*:*) on "$host" ip -6 addr add "$addr" dev "$name" nodad ;;
		*) on "$host" ip addr add "$addr" dev "$name" ;;
		esac
	done
	on "$host" ip link set "$name" up
}

# serve_on HOST ADDR PORT: the echo server on HOST, stopped at exit; waits
# until it accepts (from HOST itself).
serve_on() {
	local host=$1 addr=$2 port=$3 i pid
	if [ "$host" = here ]; then
		python3 "$tcpload" serve "$addr" "$port" &
	else
		eval "pid=\$host_pid_$host"
		nsenter -t "$pid" -n -- python3 "$tcpload" serve "$addr" "$port" &
	fi
	defer "kill $! 2>/dev/null; wait $! 2>/dev/null"
	[ "$addr" = "::" ] && addr=::1
	[ "$addr" = "0.0.0.0" ] && addr=127.0.0.1
	for i in $(seq 100); do
		on "$host" python3 "$tcpload" connect "$addr" "$port" 1 >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	fail "the echo server on $host $addr:$port did not come up"
}

# reach FROM ADDR PORT N: how many of N connections from host FROM to
# ADDR:PORT got their reply.
reach() {
	on "$1" python3 "$tcpload" connect "$2" "$3" "$4" || true
}

# router_hosts: this host as router R between outside X (192.0.2.0/24,
# 2001:db8:1::/64, on R's "ext") and inside I (10.0.0.0/24,
# 2001:db8:2::/64, on R's "lan"), forwarding on; I routes through R, X
# knows no route to the inside.
router_hosts() {
	host_new x
	host_new i
	link x eth0 192.0.2.2/24,2001:db8:1::2/64 here ext 192.0.2.1/24,2001:db8:1::1/64
	link i eth0 10.0.0.2/24,2001:db8:2::2/64 here lan 10.0.0.1/24,2001:db8:2::1/64
	on i ip route add default via 10.0.0.1
	on i ip -6 route add default via 2001:db8:2::1
	sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

# router_firewall nft|ipt [PORT]: R's stateful filter: input and forward
# drop by default, established and related accepted, LAN->out allowed;
# PORT, if given, open on input.  "ipt" writes it with iptables-legacy.
router_firewall() {
	local port=${2:-} t
	if [ "$1" = nft ]; then
		nft -f - <<-EOT
			table inet filter {
				chain input {
					type filter hook input priority filter; policy drop;
					ct state established,related accept
					iifname "lo" accept
					meta l4proto ipv6-icmp accept
					${port:+tcp dport $port accept}
				}
				chain forward {
					type filter hook forward priority filter; policy drop;
					ct state established,related accept
					iifname "lan" oifname "ext" accept
				}
			}
		EOT
		return
	fi
	for t in ipt4 ipt6; do
		$t -P INPUT DROP
		$t -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
		$t -A INPUT -i lo -j ACCEPT
		[ -z "$port" ] || $t -A INPUT -p tcp --dport "$port" -j ACCEPT
		$t -P FORWARD DROP
		$t -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
		$t -A FORWARD -i lan -o ext -j ACCEPT
	done
	ipt6 -A INPUT -p ipv6-icmp -j ACCEPT
}
