#!/bin/bash
# The --json envelope (docs/json.md), for every command that --help lists,
# against the real kernel:
#  - stdout is exactly one JSON object whose first two keys are "command"
#    (the command's name) and "version" (notrackctl --version's), and whose
#    last is "error";
#  - "error" is null when the command exits 0 (or 1 for diff and
#    apply --check, which report changes), and {code, kind, message, ...}
#    with code = the exit status when it fails, also for a failure before
#    the command printed its own document (a usage error, a missing
#    generation);
#  - the commands' own fields are still there.
. "$(dirname "$0")/lib.sh"
need_commands jq
pol=$src/policies/nginx.json
stateful_filter
version=$("$bin" --version)
version=${version#notrackctl }

# envelope WANT_EXIT COMMAND_NAME FIELD ARGS...: runs notrackctl --json ARGS,
# checks the envelope, and that FIELD (a jq path) of the command is there.
envelope() {
	local want=$1 name=$2 field=$3
	shift 3
	run "$want" ntc --json "$@"
	jq -e -s 'length == 1' "$work/out" >/dev/null || fail "$*: not one JSON document: $(head -c 2000 "$work/out")"
	assert_eq "$(jq -c '[keys_unsorted[0], keys_unsorted[1], keys_unsorted[-1]]' "$work/out")" \
		'["command","version","error"]' "$*: envelope keys"
	assert_eq "$(jq -r .command "$work/out")" "$name" "$*: command"
	assert_eq "$(jq -r .version "$work/out")" "$version" "$*: version"
	if [ "$want" = 0 ] || { [ "$want" = 1 ] && [ "$field" = .changed ]; }; then
		assert_eq "$(jq -c .error "$work/out")" null "$*: error"
	else
		assert_eq "$(jq -r '.error.code' "$work/out")" "$want" "$*: error.code"
		assert_eq "$(jq -r '.error.message | length > 0' "$work/out")" true "$*: error.message"
	fi
	[ "$field" = - ] || jq -e "$field | type != \"null\"" "$work/out" >/dev/null ||
		fail "$*: no $field: $(head -c 2000 "$work/out")"
	echo "ok   --json $* (exit $want)"
}

envelope 0 compile .compiled compile -q "$pol"
envelope 0 lint .findings lint "$pol"
envelope 0 generations .generations generations
envelope 1 diff .changed diff "$pol"
envelope 0 apply .diff apply "$pol" --confirm 60
envelope 0 confirm .cancelled_confirmation confirm
envelope 0 status .table status
envelope 0 top .entries top
envelope 0 advise .sizes.change advise
envelope 0 restore .generation restore
envelope 0 remove .diff remove
envelope 0 rollback .diff rollback
# failures: the envelope with only the error, and the exit code in it
envelope 9 rollback - rollback --to 7
envelope 3 compile - compile "$work/missing.json"
envelope 2 status - status --bogus
envelope 0 metrics .metrics metrics
# metrics: the families of the Prometheus text, sample for sample
ntc metrics >"$work/prom" || fail "metrics failed"
jq -r '.metrics[] | .name as $n | .samples[] | "\($n) \(.value)"' "$work/out" >"$work/json-samples"
sed -n 's/^\([a-z_]*\)\({[^}]*}\)\{0,1\} \([0-9]*\)$/\1 \3/p' "$work/prom" >"$work/text-samples"
assert_eq "$(cut -d' ' -f1 "$work/json-samples" | uniq)" "$(cut -d' ' -f1 "$work/text-samples" | uniq)" \
	"metrics --json: the text's families"
assert_eq "$(jq -r '.metrics[] | select(.name == "notrackctl_rules") | .samples[] |
	select(.labels.role == "notrack") | .value' "$work/out")" \
	"$(sed -n 's/^notrackctl_rules{role="notrack"} //p' "$work/prom")" "metrics --json: notrack rules"
envelope 2 metrics - metrics --bogus
envelope 2 null - bogus-command
# every command --help lists is covered above
"$bin" --help >"$work/help"
sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' "$work/help" >"$work/commands"
for c in $(cat "$work/commands"); do
	grep -q "^envelope [0-9] $c " "$0" || fail "json-envelope.sh does not check '$c'"
done
echo "PASS"
