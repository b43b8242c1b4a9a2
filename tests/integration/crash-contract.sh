#!/bin/bash
# The crash-consistency contract (README, "State, rollback and crashes"),
# step by step, for one backend (nft or iptables):
#   for every step of apply, rollback, remove, restore and confirm-expiry,
#   the run is SIGKILLed there (the sync seam), then
#   (a) the next command runs: it recovers by itself, or names the command
#       that does, and that command works;
#   (b) the host "reboots" (every rule gone, the boot firewall back, a new
#       boot id) and `restore` runs: it exits 0;
#   and each time the kernel holds exactly the generation `current` names
#   (the whole ruleset, as nft and iptables-*-save print it, against a
#   clean apply of that policy whose rules matched what `compile` prints),
#   and the state directory is consistent.
# Also: a journal that comes back after its unlink (a power loss), on the
# first generation and a later one; damaged, truncated and stray state
# files; a journal of another backend.
#
# Usage: crash-contract.sh NOTRACKCTL SOURCE_DIR nft|iptables [timeouts]
. "$(dirname "$0")/lib.sh"
backend=${3:-nft}
need_commands iptables-legacy iptables-legacy-save ip6tables-legacy ip6tables-legacy-save
. "$(dirname "$0")/crash-lib.sh"

# "timeouts": the same contract where the dns generation also holds a ct
# timeout object and the timeout chains (a keep_tracked entry with
# "timeouts"), so every kill also falls between creating and removing them.
# $src is this test's private copy of the checkout.
if [ "${4:-}" = timeouts ]; then
	[ "$backend" = nft ] || fail "per-traffic timeouts are nft only"
	python3 - "$src/policies/dns.json" <<-'PY'
		import json, sys
		p = json.load(open(sys.argv[1]))
		p["keep_tracked"] = [{"reason": "nat", "proto": "tcp", "ports": [8443], "timeouts": {"time_wait": 5}}]
		json.dump(p, open(sys.argv[1], "w"), indent=2)
	PY
fi

for l in none nginx dns; do learn "$l"; done

# The first generation's journal comes back after its unlink (a power loss
# right after apply): restore keeps generation 1, and so does a later one.
rm -rf "$NOTRACKCTL_STATE_DIR"
reboot
sync_kill before-clear nb apply -q --allow-conflicts "$src/policies/nginx.json"
cp "$NOTRACKCTL_STATE_DIR/intent.json" "$work/intent.kept"
run 0 nb confirm
[ ! -e "$NOTRACKCTL_STATE_DIR/intent.json" ] || fail "the journal was not cleared"
cp "$work/intent.kept" "$NOTRACKCTL_STATE_DIR/intent.json"
reboot
run 0 nb restore
assert_contains "$work/err" "interrupted before a restart" "restore after the journal came back"
assert_eq "$(current_gen)" 1 "current after the first generation's journal came back"
assert_holds "journal back on generation 1"
sync_kill before-clear nb apply -q --allow-conflicts "$src/policies/dns.json"
run 0 nb confirm
cp "$work/intent.kept" "$NOTRACKCTL_STATE_DIR/intent.json" # from generation 0, in boot-1
reboot
run 0 nb restore
assert_eq "$(current_gen)" 2 "current after a journal came back"
assert_holds "journal back on generation 2"

trials=0
# trial OP POINT: kills OP at POINT, checks (a), then again and checks (b).
trial() {
	local op=$1 point=$2 mode from new expect token timer cmd
	for mode in a b; do
		baseline
		from=$(current_gen)
		case $op in
		apply) cmd=(nb apply -q --allow-conflicts "$src/policies/dns.json") ;;
		rollback) cmd=(nb rollback) ;;
		remove) cmd=(nb remove) ;;
		restore)
			reboot
			cmd=(nb restore)
			;;
		expire)
			run 0 nb apply -q --allow-conflicts --confirm 2 "$src/policies/dns.json"
			token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$NOTRACKCTL_STATE_DIR/pending.json")
			timer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["timer_id"])' "$NOTRACKCTL_STATE_DIR/pending.json")
			kill -KILL "$timer" 2>/dev/null || true
			cmd=(nb confirm-expire "$token")
			;;
		esac
		sync_kill "$point" "${cmd[@]}"
		trials=$((trials + 1))
		local what="$op killed at $point ($mode)"
		new=$(current_gen)
		case $point in
		before-clear) [ "$op" = restore ] || [ "$new" != "$from" ] || [ "$op" = expire ] ||
			fail "$what: current did not move before the journal was cleared" ;;
		*) [ "$op" = expire ] || assert_eq "$new" "$from" "$what: current before the record" ;;
		esac
		[ "$backend" != iptables ] || notrack_has_accept "$what"
		if [ $mode = a ]; then
			if [ "$op" = expire ]; then
				next_command "$what" nb confirm-expire "$token"
				assert_eq "$(label_of "$(current_gen)")" nginx "$what: the expiry's result"
				[ ! -e "$NOTRACKCTL_STATE_DIR/pending.json" ] || fail "$what: pending.json left"
			else
				next_command "$what" nb confirm
				case $op:$point in
				restore:* | *:before-commit | *:between-tables) expect=$from ;;
				*) expect=$(current_gen) ;; # recorded, checked below
				esac
				assert_eq "$(current_gen)" "$expect" "$what: current after the next command"
				case $op:$point in
				restore:* | *:before-commit | *:between-tables) want=nginx ;;
				apply:* | rollback:*) want=dns ;;
				remove:*) want=none ;;
				esac
				assert_eq "$(label_of "$(current_gen)")" "$want" "$what: the generation the state names"
			fi
		else
			reboot
			run 0 nb restore
			if [ "$op" = expire ]; then
				want=nginx # never confirmed: the generation before it
			else
				assert_eq "$(current_gen)" "$new" "$what: restore after a reboot kept the last committed generation"
			fi
		fi
		assert_holds "$what"
		[ "$op" != expire ] || [ "$mode" = a ] || assert_eq "$(label_of "$(current_gen)")" nginx "$what: restore of a change never confirmed"
	done
}

for point in before-commit after-commit after-save before-clear; do
	trial apply "$point"
	trial remove "$point"
done
for point in before-commit after-commit before-clear; do
	trial rollback "$point"
	trial restore "$point"
done
for point in expire-locked before-commit after-commit before-clear; do
	trial expire "$point"
done
# iptables replaces one table at a time: a kill between two
if [ "$backend" = iptables ]; then
	for op in apply remove rollback restore expire; do
		trial "$op" between-tables
	done
fi

# Damaged state files.  A journal of garbage: restore sets it aside and
# works; any other command names restore.
baseline
printf 'garbage' >"$NOTRACKCTL_STATE_DIR/intent.json"
run 9 nb apply -q --allow-conflicts "$src/policies/dns.json"
assert_contains "$work/err" "'notrackctl restore'" "apply over a damaged journal"
reboot
run 0 nb restore
assert_contains "$work/err" "set it aside" "restore over a damaged journal"
assert_holds "restore over a damaged journal"
# A stray temporary file a kill left mid-write is not a generation.
printf '{"trunc' >"$NOTRACKCTL_STATE_DIR/gen/.9.json.tmp.4242"
printf '{"trunc' >"$NOTRACKCTL_STATE_DIR/.current.tmp.4242"
reboot
run 0 nb restore
assert_holds "restore beside stray temporary files"
# A truncated generation, current or not: restore fails loudly, naming it,
# and applies nothing (README: it checks every generation's checksum).
for g in 1 "$(current_gen)"; do
	cp "$NOTRACKCTL_STATE_DIR/gen/$g.json" "$work/gen.kept"
	head -c 100 "$work/gen.kept" >"$NOTRACKCTL_STATE_DIR/gen/$g.json"
	reboot
	kernel booted
	run 9 nb restore
	assert_contains "$work/err" "gen/$g.json" "restore with generation $g truncated"
	kernel after
	assert_same_file "$work/booted.k" "$work/after.k" "the kernel after a refused restore"
	cp "$work/gen.kept" "$NOTRACKCTL_STATE_DIR/gen/$g.json"
	run 0 nb restore
	assert_holds "restore once generation $g is whole again"
done

# A journal of the other backend: only a run there can probe the right
# place, and the command it names works.
other=$([ "$backend" = nft ] && echo iptables || echo nft)
sync_kill before-commit nb apply -q --allow-conflicts "$src/policies/dns.json"
# (nginx: with "timeouts", the iptables backend would refuse dns before it looks)
"$bin" --backend "$other" apply -q --allow-conflicts "$src/policies/nginx.json" >"$work/out" 2>"$work/err" &&
	fail "an apply with the other backend went ahead over this backend's journal"
assert_contains "$work/err" "'notrackctl --backend $backend --table notrackctl restore'" "another backend's journal"
run 0 nb restore
assert_holds "after another backend's journal"

echo "PASS: $trials kills on $backend, each followed by the next command or a reboot and restore"
