#!/bin/bash
# The command line around compile: exit codes, the one-line error on stderr
# with nothing on stdout, and that `compile` prints what the emitters print
# (the golden files).  Needs no privileges.
#
# Usage: check-cli.sh NOTRACKCTL CASES_DIR
set -euo pipefail
. "$(dirname "$0")/../lib/netns.sh"

[ $# = 2 ] || { echo "usage: $0 NOTRACKCTL CASES_DIR" >&2; exit 2; }
bin=$1
cases=$2
golden=$cases/../golden
work=$(mktemp -d)
defer rm -rf "$work"

# run WANT_EXIT ARGS...: runs notrackctl, output in $work/out and $work/err
run() {
	local want=$1 got=0
	shift
	"$bin" "$@" >"$work/out" 2>"$work/err" || got=$?
	[ "$got" = "$want" ] || fail "notrackctl $*: exit $got, want $want; stderr: $(cat "$work/err")"
}

# An invalid policy: exactly the expected line on stderr, nothing on stdout, exit 3.
for name in port-70000 json-truncated unknown-key-escaped never-match-service; do
	policy=$cases/invalid/$name.json
	run 3 compile "$policy"
	[ ! -s "$work/out" ] || fail "$name: stdout is not empty"
	[ "$(wc -l <"$work/err")" = 1 ] || fail "$name: stderr is not one line: $(cat "$work/err")"
	[ "$(cat "$work/err")" = "$policy:$(cat "$cases/invalid/$name.expect")" ] ||
		fail "$name: stderr is '$(cat "$work/err")'"
done
echo "ok   invalid policies: one line on stderr, exit 3"

# The same from stdin names the file "-".
run 3 compile - <"$cases/invalid/port-70000.json"
[ "$(cat "$work/err")" = "-:$(cat "$cases/invalid/port-70000.expect")" ] || fail "stdin: $(cat "$work/err")"
echo "ok   invalid policy on stdin"

run 3 compile "$work/does-not-exist.json"
grep -q "cannot open policy" "$work/err" || fail "missing file: $(cat "$work/err")"
echo "ok   missing policy file"

# Help and version.
run 0 --help
grep -q '^Usage: notrackctl' "$work/out" || fail "--help prints no usage"
grep -q 'Exit codes' "$work/out" || fail "--help does not document the exit codes"
run 0 help
run 0 compile --help
grep -q '^Usage: notrackctl compile' "$work/out" || fail "compile --help prints no usage"
run 0 --version
grep -Eq '^notrackctl [0-9]+\.[0-9]+\.[0-9]+$' "$work/out" || fail "--version: $(cat "$work/out")"
echo "ok   --help, help, compile --help, --version"

# Usage errors.
run 2 frobnicate
grep -q "unknown command 'frobnicate'" "$work/err" || fail "unknown command: $(cat "$work/err")"
run 2
run 2 --no-such-option
run 2 compile
run 2 compile a.json b.json
run 2 compile --format yaml "$cases/valid/loopback-only.json"
run 2 compile --format iptables --family ipv5 "$cases/valid/loopback-only.json"
run 2 --table Bad-Name compile "$cases/valid/loopback-only.json"
# an unknown --backend is refused by every command that takes one, before
# anything reads the kernel or the state directory
for cmd in apply diff lint rollback remove restore confirm status; do
	case $cmd in
	apply | diff | lint) run 2 "$cmd" --backend nftables "$cases/valid/loopback-only.json" ;;
	*) run 2 "$cmd" --backend nftables ;;
	esac
	[ "$(head -1 "$work/err")" = "notrackctl $cmd: unknown backend 'nftables' (auto, nft or iptables)" ] ||
		fail "$cmd --backend nftables: $(cat "$work/err")"
done
# a bad value of a common option, before the command or after it
for args in "--lock-timeout x status" "status --lock-timeout 86401" "rollback --lock-timeout=" \
	"apply --lock-timeout -1 $cases/valid/loopback-only.json"; do
	# shellcheck disable=SC2086
	run 2 $args
	grep -q "bad value" "$work/err" || fail "$args: $(cat "$work/err")"
done
echo "ok   usage errors exit 2"

# compile prints exactly what the emitters print.
for policy in "$cases"/valid/*.json; do
	name=$(basename "$policy" .json)
	run 0 compile --no-host-check -q "$policy"
	cmp -s "$work/out" "$golden/$name.nft" || fail "$name: compile output differs from $name.nft"
	if grep -q '"timeouts"' "$policy"; then
		# per-traffic timeouts: iptables is refused, naming the entry, printing nothing
		run 3 compile --no-host-check -q --format iptables --family ipv4 "$policy"
		grep -q 'timeouts: the iptables backend does not set per-traffic timeouts' "$work/err" ||
			fail "$name: --format iptables: $(cat "$work/err")"
		[ ! -s "$work/out" ] || fail "$name: --format iptables printed rules it refused"
	else
		run 0 compile --no-host-check -q --format iptables --family ipv4 "$policy"
		cmp -s "$work/out" "$golden/$name.ipt4" || fail "$name: --family ipv4 output differs from $name.ipt4"
		run 0 compile --no-host-check -q --format iptables --family ipv6 "$policy"
		cmp -s "$work/out" "$golden/$name.ipt6" || fail "$name: --family ipv6 output differs from $name.ipt6"
	fi
	run 0 compile --no-host-check -q --format json "$policy"
	cmp -s "$work/out" "$golden/$name.ir.json" || fail "$name: --format json output differs from $name.ir.json"
	[ ! -s "$work/err" ] || grep -q warning "$work/err" || fail "$name: -q printed $(cat "$work/err")"
done
echo "ok   compile output matches the goldens"

# Without -q the exposure summary goes to stderr, never to stdout.
run 0 compile --no-host-check "$cases/valid/nginx-edge.json"
grep -q '^Exposure:' "$work/err" || fail "no exposure summary on stderr"
grep -q 'all traffic on lo' "$work/err" || fail "exposure summary misses loopback"
! grep -q 'Exposure' "$work/out" || fail "exposure summary on stdout"
echo "ok   exposure summary on stderr"

# --json: one document on stdout, also for an invalid policy, with the
# error's place in it.
run 3 compile --json "$cases/invalid/port-70000.json"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
e = d["error"]
assert d["changed"] is False and d["compiled"] is None, d
assert (e["code"], e["kind"], e["path"], e["line"], e["col"]) == (3, "invalid_policy", "$.notrack.services[0].ports[1]", 6, 23), e
assert e["message"] == "port 70000 is out of range 1-65535", e' "$work/out" ||
	fail "compile --json of an invalid policy: $(cat "$work/out")"
run 0 compile --json "$cases/valid/nginx-edge.json"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["error"] is None and d["compiled"]["table"] == "notrackctl" and d["exposure"], d' "$work/out" ||
	fail "compile --json of a valid policy: $(cat "$work/out")"
echo "ok   compile --json"
echo "all passed"
