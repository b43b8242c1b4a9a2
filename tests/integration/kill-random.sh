#!/bin/bash
# notrackctl killed with SIGKILL at random moments during apply, remove and
# rollback, against the real kernel.  After every kill:
#  - the kernel holds the complete old state or the complete new one;
#  - the next run (a restore) detects and repairs any mismatch between the
#    state directory and the kernel from the journal, so that afterwards
#    the state describes exactly what the kernel holds.
#
# Usage: kill-random.sh NOTRACKCTL SOURCE_DIR [TRIALS]   (default 200)
# (apply runs with --allow-conflicts: the policies catch the Docker-like NAT
# built here on purpose; nft-lint tests the linter.)
. "$(dirname "$0")/lib.sh"
want=${3:-200}

stateful_filter
docker_like
policies=(nginx dns)
snapshot none
for p in "${policies[@]}"; do
	run 0 ntc apply -q --allow-conflicts "$src/policies/$p.json"
	snapshot "is-$p"
	run 0 ntc remove
done
run 0 ntc rollback

state_now() {
	nft_ruleset >"$work/now.nft" 2>/dev/null
	local s
	for s in none "${policies[@]/#/is-}"; do
		cmp -s "$work/now.nft" "$work/$s.nft" && { echo "$s"; return; }
	done
	echo mixed
}

# Every 10th trial kills an apply that changes something at one of the two
# worst moments, through the sync seam (src/engine/txn.c): just before its batch
# goes out, or with the kernel changed and nothing recorded yet (which must
# leave the intent journal).  The others kill at a random moment.
killed_mid=0 repaired=0 at_point=0
for trial in $(seq "$want"); do
	before=$(state_now)
	case $before in
	is-nginx) other=dns ;;
	is-dns) other=nginx ;;
	*) other=${policies[RANDOM % 2]} ;;
	esac
	point=
	if [ $((trial % 10)) = 0 ]; then
		point=$([ $((trial % 20)) = 0 ] && echo after-commit || echo before-commit)
		op=(apply -q --allow-conflicts "$src/policies/$other.json")
	else
		case $((RANDOM % 4)) in
		0 | 1) op=(apply -q --allow-conflicts "$src/policies/$other.json") ;;
		2) op=(remove) ;;
		3) op=(rollback) ;;
		esac
	fi
	if [ -n "$point" ]; then
		rm -rf "$work/sync"
		mkdir "$work/sync"
		# the run pauses at before-commit first: let it through when after-commit is the point
		[ "$point" = before-commit ] || touch "$work/sync/before-commit.go"
		NOTRACKCTL_TEST_SYNC_DIR=$work/sync "$bin" "${op[@]}" >/dev/null 2>&1 &
		pid=$!
		wait_for_file "$work/sync/$point" "trial $trial: ${op[*]} at $point"
		kill -KILL $pid || fail "trial $trial: the run paused at $point was gone before the kill"
		at_point=$((at_point + 1))
	else
		"$bin" "${op[@]}" >/dev/null 2>&1 &
		pid=$!
		# a run takes a few milliseconds: kill it somewhere inside
		sleep "$(printf '0.%03d' $((RANDOM % 12)))"
		kill -KILL $pid 2>/dev/null && killed_mid=$((killed_mid + 1))
	fi
	wait $pid 2>/dev/null || true
	what="trial $trial: ${op[*]} killed${point:+ at $point}"
	after=$(state_now)
	[ "$after" != mixed ] || fail "$what: the kernel holds a mix: $(cat "$work/now.nft")"
	if [ "$point" = after-commit ]; then
		[ -e "$NOTRACKCTL_STATE_DIR/intent.json" ] || fail "$what: no intent journal left"
		[ "$after" = "is-$other" ] || fail "$what: the kernel holds $after, not the committed is-$other"
	fi
	[ -e "$NOTRACKCTL_STATE_DIR/intent.json" ] && repaired=$((repaired + 1))
	"$bin" restore >"$work/rout" 2>"$work/rerr" || fail "$what: the next run failed: $(cat "$work/rerr")"
	[ "$(state_now)" = "$after" ] ||
		fail "$what: the state did not describe the kernel ($after): $(cat "$work/rout" "$work/rerr")"
	[ ! -e "$NOTRACKCTL_STATE_DIR/intent.json" ] || fail "$what: the journal is left after the next run"
done
# the random kills must mostly land inside a run, or they test nothing
# (137 of 180 landed inside a run on the development machine)
assert_ge "$killed_mid" $((want / 4)) "random kills that landed while the run was running"
assert_ge "$repaired" $((want / 20)) "runs killed with their journal left, repaired by the next run"
echo "PASS: $want kills ($at_point at a sync point, $killed_mid of the others while running, $repaired left a journal the next run repaired)"
