#!/bin/bash
# Randomized fault injection against the real kernel.  Each trial runs one
# apply, remove or rollback with one injected fault: the N-th call of a
# netlink, libiptc or state-directory system call fails with EPERM,
# ENOBUFS, EMSGSIZE, ERESTART, EINTR, ENOSPC or EIO (tests/fault/libfault.c,
# by LD_PRELOAD, in front of the unchanged binary).  After every trial:
#  - notrackctl exited cleanly (no crash, a documented exit code);
#  - the kernel holds the complete old state or the complete new one;
#  - the state directory holds exactly what the kernel holds: a fault-free
#    `restore` (which first repairs an interrupted change from its journal)
#    changes nothing in the kernel, and leaves no journal behind.
#
# Usage: fault-random.sh NOTRACKCTL SOURCE_DIR LIBFAULT [TRIALS [BACKEND]]
# TRIALS counts trials in which the fault really fired (default 1000);
# BACKEND is nft (default) or iptables (libiptc, read back with
# iptables-legacy-save and ip6tables-legacy-save).
# (apply runs with --allow-conflicts: the policies catch the Docker-like NAT
# built here on purpose; nft-lint tests the linter.)
. "$(dirname "$0")/lib.sh"
libfault=$(readlink -f "${3:?usage: $0 NOTRACKCTL SOURCE_DIR LIBFAULT [TRIALS [BACKEND]]}")
want=${4:-1000}
backend=${5:-nft}

if [ "$backend" = iptables ]; then
	need_commands iptables-legacy iptables-legacy-save ip6tables-legacy ip6tables-legacy-save
	for t in iptables-legacy ip6tables-legacy; do
		$t -w -P INPUT DROP
		$t -w -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
		$t -w -N DOCKER
		$t -w -A FORWARD -o docker0 -j DOCKER
		$t -w -t nat -A POSTROUTING -o eth9 -j MASQUERADE
	done
	# the kernel's rules as the legacy tools see them, counters left out
	ruleset() { { iptables-legacy-save; ip6tables-legacy-save; } 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'; }
	calls=(getsockopt setsockopt open write fsync rename unlink)
else
	stateful_filter
	docker_like
	ruleset() { nft_ruleset 2>/dev/null; }
	calls=(sendmsg sendto recv setsockopt open write fsync rename unlink)
fi
ntc() { "$bin" --backend "$backend" "$@"; }
policies=(nginx dns)
# The rulesets the kernel can hold: nothing of ours, or one of the policies.
for p in "${policies[@]}"; do
	run 0 ntc apply -q --allow-conflicts "$src/policies/$p.json"
	ruleset >"$work/is-$p.nft"
	run 0 ntc remove
done
# after a remove: a legacy raw table, once loaded, stays (empty)
ruleset >"$work/none.nft"
run 0 ntc rollback # back to the last policy: a rollback target exists from the start

errnos=(EPERM ENOBUFS EMSGSIZE ERESTART EINTR ENOSPC EIO)
declare -A max_nth=([sendmsg]=2 [sendto]=30 [recv]=60 [getsockopt]=50 [setsockopt]=9 [open]=14 [write]=4 [fsync]=8
	[rename]=4 [unlink]=2)

state_now() { # which known ruleset the kernel holds: none, is-nginx, is-dns, or mixed
	ruleset >"$work/now.nft"
	local s
	for s in none "${policies[@]/#/is-}"; do
		cmp -s "$work/now.nft" "$work/$s.nft" && { echo "$s"; return; }
	done
	echo mixed
}

fired=0 trials=0 outcomes_old=0 outcomes_new=0
while [ "$fired" -lt "$want" ]; do
	trials=$((trials + 1))
	[ "$trials" -le $((want * 4)) ] || fail "only $fired of $trials trials hit their fault"
	before=$(state_now)
	[ "$before" != mixed ] || fail "trial $trials starts from an unknown ruleset"
	case $((RANDOM % 4)) in
	0 | 1)
		case $before in
		is-nginx) p=dns ;;
		is-dns) p=nginx ;;
		*) p=${policies[RANDOM % 2]} ;;
		esac
		op=(apply -q --allow-conflicts "$src/policies/$p.json") target=is-$p
		;;
	2) op=(remove) target=none ;;
	3) op=(rollback) target=unknown ;;
	esac
	call=${calls[RANDOM % ${#calls[@]}]}
	nth=$((RANDOM % ${max_nth[$call]} + 1))
	err=${errnos[RANDOM % ${#errnos[@]}]}
	rm -f "$work/hit"
	code=0
	FAULT_CALL=$call FAULT_NTH=$nth FAULT_ERRNO=$err FAULT_HIT_FILE=$work/hit LD_PRELOAD=$libfault \
		"$bin" --backend "$backend" "${op[@]}" >"$work/out" 2>"$work/err" || code=$?
	what="trial $trials: ${op[*]} with $call #$nth failing $err (exit $code)"
	[ "$code" -le 11 ] || fail "$what: crashed: $(cat "$work/err")"
	[ -e "$work/hit" ] && fired=$((fired + 1))
	after=$(state_now)
	[ "$after" != mixed ] || fail "$what: the kernel holds a mix: $(cat "$work/now.nft"); stderr: $(cat "$work/err")"
	if [ "$after" = "$before" ]; then
		outcomes_old=$((outcomes_old + 1))
	else
		outcomes_new=$((outcomes_new + 1))
		[ "$target" = unknown ] || [ "$after" = "$target" ] || fail "$what: went to $after, not $target"
	fi
	# The state must describe the kernel: a fault-free restore repairs an
	# interrupted change from the journal, then finds nothing to do.
	"$bin" --backend "$backend" restore >"$work/rout" 2>"$work/rerr" || fail "$what: the restore after it failed: $(cat "$work/rerr")"
	grep -q "^unchanged\|^restored generation" "$work/rout" || fail "$what: restore said: $(cat "$work/rout")"
	[ "$(state_now)" = "$after" ] || fail "$what: the state did not hold what the kernel held ($after); restore: $(cat "$work/rout" "$work/rerr")"
	[ ! -e "$NOTRACKCTL_STATE_DIR/intent.json" ] || fail "$what: the journal is left after restore"
	if grep -q "^restored generation" "$work/rout" && ! grep -q "interrupted" "$work/rerr"; then
		fail "$what: restore changed the kernel: $(cat "$work/rout")"
	fi
done
echo "PASS ($backend): $fired faults fired in $trials trials; $outcomes_old left the old state, $outcomes_new the new one"
