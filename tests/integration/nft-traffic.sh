#!/bin/bash
# Real traffic through a stateful filter (drop policy, ct state
# established,related accept, port 8080 allowed) to a TCP server on
# loopback, counted by conntrack itself:
#  - before apply, 200 connections leave at least 200 entries;
#  - after apply, 200 connections all succeed (the untracked accept lets
#    them through) and leave no entry at all;
#  - after rollback, entries appear again.
# Also IPv6 on ::1, and that our rules' counters saw the packets.
. "$(dirname "$0")/lib.sh"

stateful_filter
nft add rule inet filter input ip6 nexthdr ipv6-icmp accept
start_server 8080 127.0.0.1
start_server 8080 ::1

ct_flush
connections 200
connections 50 8080 ::1
before=$(ct_count)
echo "entries before apply: $before"
assert_ge "$before" 200 "conntrack entries for 200 + 50 tracked connections"

run 0 ntc apply "$src/policies/nginx.json"
ct_flush
connections 200
connections 50 8080 ::1
assert_eq "$(ct_count)" 0 "conntrack entries after apply"
conntrack -L >"$work/ct" 2>/dev/null || true
[ ! -s "$work/ct" ] || fail "conntrack -L lists entries after apply: $(head "$work/ct")"

# The counters on our rules in the kernel saw those packets.
nft list chain inet notrackctl prerouting >"$work/chain"
packets=$(grep 'notrack.loopback' "$work/chain" | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
assert_ge "${packets:-0}" 1000 "packets counted by the loopback notrack rule"
# The first matching rule takes the packet: the service rule after the
# loopback rule never sees loopback traffic, so no packet is counted twice.
packets=$(grep 'notrack.services\[0\]"' "$work/chain" | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
assert_eq "$packets" 0 "packets counted by the service rule behind the loopback rule"
packets=$(nft list chain inet filter input | sed -n 's/.*ct state untracked counter packets \([0-9]*\).*/\1/p')
assert_ge "${packets:-0}" 1000 "packets let through by the untracked accept"

run 0 ntc rollback
ct_flush
connections 200
assert_ge "$(ct_count)" 200 "conntrack entries after rollback"
echo "PASS"
