# Sourced by the iptables-backend integration tests, after lib.sh (whose
# namespace, $work, ntc, run and asserts they use).  Adds what legacy
# iptables needs: a byte-exact view of the legacy tables, a host's worth of
# foreign legacy rules, and the fault-injecting notrackctl.
. "$(dirname "$0")/lib.sh"
need_commands iptables-legacy iptables-legacy-save ip6tables-legacy ip6tables-legacy-save

ipt4() { iptables-legacy -w "$@"; }
ipt6() { ip6tables-legacy -w "$@"; }

# fault WHICH ERRNO ARGS...: notrackctl whose WHICH-th table commit (or
# every commit of table FAMILY/TABLE) fails with ERRNO without reaching the
# kernel.  See tests/tools/notrackctl-fault.c.
fault() {
	[ -x "${NOTRACKCTL_FAULT:-}" ] || skip "NOTRACKCTL_FAULT does not name the fault-injecting notrackctl"
	"$NOTRACKCTL_FAULT" "$@"
}

# legacy_snapshot NAME: iptables-legacy-save and ip6tables-legacy-save,
# without the date comments (a failed save fails the test), and the nft
# ruleset.
legacy_snapshot() {
	save_without_dates "$work/$1.ipt4" iptables-legacy-save
	save_without_dates "$work/$1.ipt6" ip6tables-legacy-save
	nft_ruleset >"$work/$1.nft"
}

# lock_waiter FILE: someone is blocked in flock(2) on FILE (a "->" line of
# /proc/locks names the waiter, with FILE's inode).
lock_waiter() {
	local ino
	ino=$(stat -c %i "$1")
	grep -qE -- "-> FLOCK .*:$ino " /proc/locks
}

# assert_same_legacy A B: the kernel held byte-identical legacy tables (and
# nftables did not move).
assert_same_legacy() {
	[ -s "$work/$1.ipt4" ] || [ -s "$work/$2.ipt4" ] || fail "legacy snapshots $1 and $2 are both empty"
	assert_same_file "$work/$1.ipt4" "$work/$2.ipt4" "iptables-legacy-save ($1 vs $2)"
	assert_same_file "$work/$1.ipt6" "$work/$2.ipt6" "ip6tables-legacy-save ($1 vs $2)"
	assert_same_file "$work/$1.nft" "$work/$2.nft" "nft list ruleset ($1 vs $2)"
}

# without_ours NAME: a snapshot with every line of ours taken out: what is
# left must be the foreign rules exactly as they were.
without_ours() {
	local f
	for f in ipt4 ipt6; do
		grep -v -e 'notrackctl' -e 'NOTRACKCTL' "$work/$1.$f" >"$work/$1-foreign.$f" || true
	done
	cp "$work/$1.nft" "$work/$1-foreign.nft"
}

# What a legacy host has: Docker's chains and NAT, a fail2ban jail, the
# admin's stateful rules and a notrack of their own in raw, for both
# families.  Raw and filter are loaded in both families, as on a real host.
legacy_foreign() {
	ipt4 -N DOCKER
	ipt4 -N DOCKER-USER
	ipt4 -A DOCKER-USER -j RETURN
	ipt4 -A FORWARD -j DOCKER-USER
	ipt4 -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
	ipt4 -A FORWARD -o docker0 -j DOCKER
	ipt4 -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
	ipt4 -t nat -N DOCKER
	ipt4 -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
	ipt4 -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
	ipt4 -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8081 -j DNAT --to-destination 172.17.0.2:80
	ipt4 -t raw -A PREROUTING -d 172.17.0.2/32 ! -i docker0 -j DROP
	ipt4 -t raw -A OUTPUT -p udp -m udp --dport 123 -j CT --notrack
	ipt4 -N f2b-sshd
	ipt4 -A f2b-sshd -s 203.0.113.7/32 -j REJECT --reject-with icmp-port-unreachable
	ipt4 -A f2b-sshd -j RETURN
	ipt4 -A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd
	ipt4 -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
	ipt4 -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
	ipt4 -A OUTPUT -m comment --comment "admin: keep" -j ACCEPT
	ipt6 -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
	ipt6 -A INPUT -p ipv6-icmp -j ACCEPT
	ipt6 -t raw -A PREROUTING -s fd00::/8 -j ACCEPT
}
