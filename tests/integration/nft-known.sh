#!/bin/bash
# What the last run knew (issue 22): a run leaves our sets' elements in the
# state directory (DIR/known) with the kernel generation id they hold at,
# and the next run plans from them instead of dumping the sets while the id
# has not moved.  Checked against the real kernel:
#  - a one-port change and its rollback right after an apply dump no
#    elements (the transport's dump log), send one small batch, and leave
#    exactly what a fresh apply of the same policy leaves;
#  - a foreign edit moves the generation id: the next apply, of another
#    policy, dumps the set again and the result is still exactly the policy;
#  - a damaged DIR/known is not believed; a wrong one that gets a batch
#    refused is not believed again;
#  - the same state directory used from another network namespace, whose
#    generation id reads the same number, is not believed either.
. "$(dirname "$0")/lib.sh"

export NOTRACKCTL_TEST_BATCH_LOG=$work/batches NOTRACKCTL_TEST_DUMP_LOG=$work/dumps

# the policies: 2,000 random ports, then one port changed at a time
python3 - "$work" <<-'PY'
	import json, random, sys
	rng = random.Random(22)
	ports = sorted(rng.sample(range(1024, 60000), 2000))
	used = set(ports)
	alone = [x for x in ports if x - 1 not in used and x + 1 not in used]
	def write(name, ps):
	    p = {"version": 1, "name": "known", "notrack": {"services": [
	        {"proto": "tcp", "ports": sorted(ps), "peers": ["10.1.0.0/16", "10.2.3.4"]}]}}
	    json.dump(p, open("%s/%s.json" % (sys.argv[1], name), "w"))
	write("p0", ports)
	write("p1", [x for x in ports if x != alone[10]] + [61001])
	write("p2", [x for x in ports if x != alone[20]] + [61002])
	write("p3", [x for x in ports if x != alone[30]] + [61003])
	write("p4", [x for x in ports if x != alone[40]] + [61004])
	open("%s/gone" % sys.argv[1], "w").write("%d\n" % alone[50])
	# CRLF, a backslash, quotes and UTF-8: the recorded policy text escaped as jansson escapes it
	p = {"version": 1, "name": "crlf", "notrack": {"services": [
	    {"proto": "tcp", "ports": ports[:1500], "peers": ["10.1.0.0/16"], "comment": "a \\ \"quoted\" \u00e9"}]}}
	open("%s/p5.json" % sys.argv[1], "w", newline="", encoding="utf-8").write(json.dumps(p, indent=1, ensure_ascii=False).replace("\n", "\r\n"))
PY

# a second namespace for the fresh applies
named_netns fresh ntc-known
ip netns exec "$fresh" ip link set lo up

# exact POLICY WHAT: the kernel here holds what a fresh apply of POLICY gives
exact() {
	ip netns exec "$fresh" nft flush ruleset
	rm -rf "$work/fresh-state"
	ip netns exec "$fresh" env NOTRACKCTL_STATE_DIR="$work/fresh-state" NOTRACKCTL_TEST_BATCH_LOG= \
		NOTRACKCTL_TEST_DUMP_LOG= "$bin" apply -q "$1" >/dev/null || fail "$2: the fresh apply failed"
	nft -j list ruleset >"$work/here.json"
	ip netns exec "$fresh" nft -j list ruleset >"$work/there.json"
	python3 "$checkout/tests/integration/nft-json-same.py" "$work/here.json" "$work/there.json" 2>"$work/why" ||
		fail "$2: the ruleset is not what a fresh apply gives: $(cat "$work/why")"
}

# dumps WANT WHAT: WANT lines in the dump log since it was emptied
dumps() { assert_eq "$(wc -l <"$NOTRACKCTL_TEST_DUMP_LOG")" "$1" "$2: element dumps"; }
fresh_logs() { : >"$NOTRACKCTL_TEST_BATCH_LOG"; : >"$NOTRACKCTL_TEST_DUMP_LOG"; }
small_batch() {
	assert_eq "$(wc -l <"$NOTRACKCTL_TEST_BATCH_LOG")" 1 "$1: batches"
	assert_eq "$(awk '{print $4}' "$NOTRACKCTL_TEST_BATCH_LOG")" 6 "$1: messages (a delete and an add in both sets)"
}

fresh_logs
run 0 ntc apply -q "$work/p0.json"
[ -s "$NOTRACKCTL_STATE_DIR/known" ] || fail "the first apply left no DIR/known"

# a one-port change and its rollback: planned from what the last run knew
fresh_logs
run 0 ntc apply "$work/p1.json"
assert_contains "$work/out" "+61001" "the diff of the one-port change"
dumps 0 "a one-port change right after an apply"
small_batch "a one-port change"
exact "$work/p1.json" "after the one-port change"
fresh_logs
run 0 ntc rollback
dumps 0 "the rollback of a one-port change"
small_batch "the rollback of a one-port change"
exact "$work/p0.json" "after the rollback"

# a foreign edit moves the generation id: the set is read again, the result is the policy
gone=$(cat "$work/gone")
nft delete element inet notrackctl svc0_ports "{ $gone }"
fresh_logs
run 0 ntc apply "$work/p2.json"
assert_contains "$work/out" "+$gone" "the diff puts back what someone else deleted"
[ "$(wc -l <"$NOTRACKCTL_TEST_DUMP_LOG")" -ge 1 ] || fail "after a foreign edit the set was not read again"
exact "$work/p2.json" "after a foreign edit and another policy"

# a damaged DIR/known reads as absent
printf 'x' >>"$NOTRACKCTL_STATE_DIR/known"
fresh_logs
run 0 ntc apply -q "$work/p3.json"
[ "$(wc -l <"$NOTRACKCTL_TEST_DUMP_LOG")" -ge 1 ] || fail "a damaged DIR/known was believed"
exact "$work/p3.json" "after a damaged DIR/known"

# A record that is wrong but intact (made by hand here: it cannot happen
# otherwise) claims a port the kernel's set lacks.  The batch planned from
# it is refused; the run leaves a record nobody believes, and the next one
# reads the kernel and applies exactly the policy.
python3 - "$NOTRACKCTL_STATE_DIR/known" <<-'PY'
	import struct, sys
	path = sys.argv[1]
	raw = open(path, "rb").read()
	head, data = raw.split(b"\n", 1)
	words = head.split(b" ")
	assert data[:4] == b"NTK1"
	genid, nsets = struct.unpack_from("<II", data, 4)
	at, out = 12, data[:12]
	for _ in range(nsets):
	    (nl,) = struct.unpack_from("<I", data, at)
	    name = data[at + 4:at + 4 + nl]
	    (n,) = struct.unpack_from("<I", data, at + 4 + nl)
	    at += 8 + nl
	    elems = b""
	    for _ in range(n):
	        kl = data[at]
	        elems += data[at:at + 2 + kl]
	        at += 2 + kl
	    if name == b"svc0_ports":
	        elems += bytes([2, 0]) + struct.pack(">H", 62000)
	        n += 1
	    out += struct.pack("<I", nl) + name + struct.pack("<I", n) + elems
	# the sum: XXH3 (64 bits) of the bytes, from the library notrackctl uses
	import ctypes
	xxh = ctypes.CDLL("libxxhash.so.0")
	xxh.XXH3_64bits.restype = ctypes.c_uint64
	xxh.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
	words[words.index(b"len") + 1] = str(len(out)).encode()
	words[words.index(b"sum") + 1] = b"xxh3:%016x" % xxh.XXH3_64bits(out, len(out))
	open(path, "wb").write(b" ".join(words) + b"\n" + out)
PY
fresh_logs
run 5 ntc apply -q "$work/p2.json"
assert_contains "$work/err" "refused deleting elements of set svc0_ports" "the refusal"
dumps 0 "the apply planned from a wrong record"
fresh_logs
run 0 ntc apply -q "$work/p2.json"
[ "$(wc -l <"$NOTRACKCTL_TEST_DUMP_LOG")" -ge 1 ] || fail "after a refused batch the record was believed again"
exact "$work/p2.json" "after a refused batch"

# a generation whose policy text needs escaping reads back (its checksum holds)
run 0 ntc apply -q "$work/p5.json"
g=$(sed -n 's/^changed: generation [0-9]* -> \([0-9]*\)$/\1/p' "$work/out")
[ -n "$g" ] || fail "no generation for the CRLF policy: $(cat "$work/out")"
run 0 ntc rollback
run 0 ntc rollback --to "$g"
exact "$work/p5.json" "after rolling forward to the CRLF policy"

# Two fresh namespaces, one commit each, read the same generation id.  One
# state directory used from both: B's run leaves what B holds; A's next run
# must not take it for what A holds.
named_netns ns_a ntc-known-a
named_netns ns_b ntc-known-b
in_ns() { local ns=ns_$1; shift; ip netns exec "${!ns}" env NOTRACKCTL_STATE_DIR="$work/shared" "$@"; }
in_ns a "$bin" apply -q "$work/p0.json" >/dev/null || fail "apply in namespace A"
in_ns b "$bin" apply -q "$work/p3.json" >/dev/null || fail "apply in namespace B"
fresh_logs
in_ns a "$bin" apply -q "$work/p4.json" >"$work/out" 2>"$work/err" || fail "apply in namespace A again: $(cat "$work/err")"
[ "$(wc -l <"$NOTRACKCTL_TEST_DUMP_LOG")" -ge 1 ] || fail "namespace A believed what namespace B's run knew"
in_ns a nft -j list ruleset >"$work/a.json"
ip netns exec "$fresh" nft flush ruleset
rm -rf "$work/fresh-state"
ip netns exec "$fresh" env NOTRACKCTL_STATE_DIR="$work/fresh-state" NOTRACKCTL_TEST_BATCH_LOG= NOTRACKCTL_TEST_DUMP_LOG= \
	"$bin" apply -q "$work/p4.json" >/dev/null || fail "the fresh apply of p4"
ip netns exec "$fresh" nft -j list ruleset >"$work/there.json"
python3 "$checkout/tests/integration/nft-json-same.py" "$work/a.json" "$work/there.json" 2>"$work/why" ||
	fail "namespace A does not hold p4: $(cat "$work/why")"
echo "ok"
