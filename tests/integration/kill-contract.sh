#!/bin/bash
# The crash-consistency contract under random kills: apply, rollback,
# remove, restore (after a reboot) and the automatic rollback of a
# confirmation, each SIGKILLed after a random 0-20 ms (wherever it is:
# planning, the commit, writing the state), then at random either the next
# command (a rerun of the same one) or a reboot and restore.  Each time, the
# kernel must hold exactly the generation `current` names, which must be
# the one before or the one after the change, and the state directory must
# be consistent.  crash-contract.sh does the same for every step, one by one.
#
# Usage: kill-contract.sh NOTRACKCTL SOURCE_DIR nft|iptables TRIALS
# (bench/kill-contract runs it with 200 per backend and records the outcome)
. "$(dirname "$0")/lib.sh"
backend=${3:-nft}
want=${4:-200}
need_commands iptables-legacy iptables-legacy-save ip6tables-legacy ip6tables-legacy-save
. "$(dirname "$0")/crash-lib.sh"
export NOTRACKCTL_AUDIT_FILE=$work/audit

for l in none nginx dns; do learn "$l"; done
rm -rf "$NOTRACKCTL_STATE_DIR"
reboot

declare -A seen
mid=0 journaled=0
for trial in $(seq "$want"); do
	baseline
	from=$(current_gen)
	ops=(apply rollback remove restore expire)
	op=${ops[RANDOM % 5]}
	case $op in
	apply) cmd=(apply -q --allow-conflicts "$src/policies/dns.json") ;;
	rollback) cmd=(rollback) ;;
	remove) cmd=(remove) ;;
	restore)
		reboot
		cmd=(restore)
		;;
	expire)
		run 0 nb apply --json --allow-conflicts --confirm 2 "$src/policies/dns.json"
		python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["confirm"]; print(c["token"], c["timer_id"])' "$work/out" >"$work/confirm"
		read -r token timer <"$work/confirm"
		kill -KILL "$timer" 2>/dev/null || true
		[ -e "$NOTRACKCTL_STATE_DIR/pending.json" ] ||
			fail "trial $trial: nothing pending after apply --confirm: $(cat "$work/out" "$work/err" "$work/audit"; nb generations)"
		# past the deadline, so that the kill lands in the rollback
		until nb status >"$work/st" 2>&1 && grep -q 'deadline passed' "$work/st"; do sleep 0.1; done
		cmd=(confirm-expire "$token")
		;;
	esac
	"$bin" --backend "$backend" "${cmd[@]}" >/dev/null 2>&1 &
	pid=$!
	sleep "$(printf '0.%03d' $((RANDOM % 20)))"
	kill -KILL $pid 2>/dev/null && mid=$((mid + 1))
	wait $pid 2>/dev/null || true
	[ ! -e "$NOTRACKCTL_STATE_DIR/intent.json" ] || journaled=$((journaled + 1))
	[ "$backend" != iptables ] || notrack_has_accept "trial $trial: $op"
	mode=$([ $((RANDOM % 2)) = 0 ] && echo a || echo b)
	what="trial $trial: $op killed ($mode)"
	if [ $mode = a ] && [ "$op" = rollback ]; then
		next_command "$what" nb confirm # a rerun would roll back once more
	elif [ $mode = a ]; then
		next_command "$what" nb "${cmd[@]}"
	else
		reboot
		run 0 nb restore
	fi
	assert_holds "$what"
	label=$(label_of "$(current_gen)")
	case $op:$label in
	apply:nginx | apply:dns | rollback:nginx | rollback:dns | remove:nginx | remove:none | restore:nginx) ;;
	expire:nginx) [ ! -e "$NOTRACKCTL_STATE_DIR/pending.json" ] || fail "$what: still pending" ;;
	*) fail "$what: the state names $label, neither the generation before nor the one after" ;;
	esac
	seen[$op:$mode:$label]=$((${seen[$op:$mode:$label]:-0} + 1))
done
echo "PASS: $want random kills on $backend ($mid while running, $journaled left a journal); outcomes:"
for k in $(printf '%s\n' "${!seen[@]}" | sort); do echo "  $k ${seen[$k]}"; done
