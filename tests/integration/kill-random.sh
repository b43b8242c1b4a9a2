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
	nft list ruleset >"$work/now.nft" 2>/dev/null
	local s
	for s in none "${policies[@]/#/is-}"; do
		cmp -s "$work/now.nft" "$work/$s.nft" && { echo "$s"; return; }
	done
	echo mixed
}

killed_mid=0 repaired=0
for trial in $(seq "$want"); do
	before=$(state_now)
	case $((RANDOM % 4)) in
	0 | 1)
		case $before in
		is-nginx) p=dns ;;
		is-dns) p=nginx ;;
		*) p=${policies[RANDOM % 2]} ;;
		esac
		op=(apply -q --allow-conflicts "$src/policies/$p.json")
		;;
	2) op=(remove) ;;
	3) op=(rollback) ;;
	esac
	"$bin" "${op[@]}" >/dev/null 2>&1 &
	pid=$!
	# a run takes a few milliseconds: kill it somewhere inside
	sleep "$(printf '0.%03d' $((RANDOM % 12)))"
	kill -KILL $pid 2>/dev/null && killed_mid=$((killed_mid + 1))
	wait $pid 2>/dev/null || true
	what="trial $trial: ${op[*]} killed"
	after=$(state_now)
	[ "$after" != mixed ] || fail "$what: the kernel holds a mix: $(cat "$work/now.nft")"
	[ -e "$NOTRACKCTL_STATE_DIR/intent.json" ] && repaired=$((repaired + 1))
	"$bin" restore >"$work/rout" 2>"$work/rerr" || fail "$what: the next run failed: $(cat "$work/rerr")"
	[ "$(state_now)" = "$after" ] ||
		fail "$what: the state did not describe the kernel ($after): $(cat "$work/rout" "$work/rerr")"
	[ ! -e "$NOTRACKCTL_STATE_DIR/intent.json" ] || fail "$what: the journal is left after the next run"
done
echo "PASS: $want kills ($killed_mid while running, $repaired left a journal the next run repaired)"
