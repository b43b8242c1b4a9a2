#!/bin/bash
# Lint and apply on a firewalld host: Debian's firewalld (1.3, nftables
# backend) running for real, confined to this test's namespaces: its own
# network namespace, a private mount namespace with a tmpfs on /run (its own
# D-Bus system bus, firewalld's runtime files, the xtables lock) and a copy
# of /etc/firewalld bind-mounted over the machine's.  8080/tcp is opened in
# the default zone.
#
#  1. policies/nginx.json lints clean and applies without --allow-conflicts,
#     and loopback connections to :8080 leave no conntrack entry (they left
#     one each before);
#  2. an upstreams tcp/80,443 policy is refused, naming firewalld's
#     filter_INPUT: its untracked replies skip the ct state accept and reach
#     the final reject, and firewalld rebuilds its table (our accept with
#     it) on every reload, so the accept cannot be counted on there;
#  3. with firewalld's default RFC3964_IPv4=yes, nginx.json gets exactly one
#     finding: the untracked IPv6 replies to 6to4 and IPv4-mapped
#     destinations that firewalld rejects in filter_OUTPUT after its ct
#     state accept (true, if rarely met: no real client has such an address).
[ -n "${LINT_FIREWALLD_MNTNS:-}" ] ||
	exec unshare -m --propagation private env LINT_FIREWALLD_MNTNS=1 "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_commands firewalld dbus-daemon
# the machine's own /run and /etc/firewalld stay untouched: ours are private
mount -t tmpfs tmpfs /run || skip "cannot mount a private /run"
mkdir -p /run/dbus
cp -a /etc/firewalld "$work/etc-firewalld"
mount --bind "$work/etc-firewalld" /etc/firewalld
cat >/etc/firewalld/zones/public.xml <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<zone>
  <short>Public</short>
  <service name="ssh"/>
  <port port="8080" protocol="tcp"/>
</zone>
XML
cat >"$work/dbus.conf" <<'XML'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="root"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
XML

# stop PID: TERM, then KILL if it does not go within 10 s
stop() {
	local pid=$1 i
	kill "$pid" 2>/dev/null || return 0
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

dbus-daemon --config-file="$work/dbus.conf" --nofork --nopidfile 2>"$work/dbus.log" &
dbus_pid=$!
defer "stop $dbus_pid"
for i in $(seq 100); do
	[ -S /run/dbus/system_bus_socket ] && break
	[ "$i" = 100 ] && fail "no D-Bus socket: $(cat "$work/dbus.log")"
	sleep 0.1
done

# start_firewalld: firewalld with the config as it stands, ready when its
# table holds the opened port
start_firewalld() {
	firewalld --nofork --nopid --log-target file --log-file "$work/firewalld.log" &
	fw_pid=$!
	defer "stop $fw_pid"
	for i in $(seq 300); do
		nft list table inet firewalld >"$work/fw.nft" 2>/dev/null && grep -q 'dport 8080' "$work/fw.nft" && return 0
		kill -0 "$fw_pid" 2>/dev/null || fail "firewalld exited: $(tail -20 "$work/firewalld.log")"
		sleep 0.1
	done
	fail "firewalld did not come up within 30 s: $(tail -20 "$work/firewalld.log")"
}
stop_firewalld() {
	stop "$fw_pid"
	nft flush ruleset
}

cat >"$work/upstreams.json" <<'JSON'
{ "version": 1, "notrack": { "upstreams": [{ "proto": "tcp", "ports": [80, 443] }] } }
JSON

# 3. the default configuration: one finding, the RFC 3964 reject
start_firewalld
run 4 ntc lint --json "$src/policies/nginx.json"
python3 -c '
import json, sys
f = json.load(open(sys.argv[1]))["findings"]
assert len(f) == 1, f
assert f[0]["kind"] == "uncovered_drop" and f[0]["chain"] == "filter_OUTPUT", f
assert "2002::/24" in f[0]["rule"] and "reject" in f[0]["rule"], f' "$work/out" ||
	fail "nginx.json with RFC3964_IPv4=yes: $(cat "$work/out")"
stop_firewalld

# 1. and 2. without it
sed -i 's/^RFC3964_IPv4=.*/RFC3964_IPv4=no/' /etc/firewalld/firewalld.conf
start_firewalld
start_server 8080
ct_flush
connections 20
assert_ge "$(ct_count)" 20 "conntrack entries of 20 loopback connections before apply"

run 0 ntc lint "$src/policies/nginx.json"
assert_contains "$work/out" "clean" "lint of nginx.json on firewalld"
run 0 ntc apply "$src/policies/nginx.json"
ct_flush
connections 20
assert_eq "$(ct_count)" 0 "conntrack entries of 20 loopback connections after apply"

run 4 ntc lint "$work/upstreams.json"
assert_contains "$work/out" "inet firewalld filter_INPUT" "lint names firewalld's chain"
assert_contains "$work/out" "reject" "lint names what drops the replies"
run 4 ntc apply "$work/upstreams.json"
assert_contains "$work/err" "nothing was applied" "apply of the upstreams policy refuses"
echo "PASS"
