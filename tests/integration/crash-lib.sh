# Sourced by the crash-consistency tests (crash-contract.sh, and
# bench/kill-contract), after lib.sh, with $backend set to nft or iptables.
# Gives:
#   boot_firewall      the foreign rules a host has at boot, for $backend
#   reboot             what a reboot does to the kernel: every rule gone
#                      (nft flush ruleset, every legacy table flushed), the
#                      boot firewall back, and a new boot id for notrackctl
#   kernel NAME        the whole ruleset as $backend's tools print it,
#                      counters left out, in $work/NAME.k
#   label_of GEN       which policy generation GEN holds (none, nginx, dns)
#   learn LABEL        applies LABEL on a clean kernel, checks our rules
#                      against what `compile` prints, and keeps the whole
#                      ruleset as $work/want-LABEL.k
#   assert_holds WHAT  the kernel holds exactly generation `current`, and the
#                      state directory is consistent (no journal, every
#                      generation file readable)
#   sync_kill POINT CMD...  runs CMD with the sync seam, releases every
#                      point but POINT, and SIGKILLs it there

nb() { "$bin" --backend "$backend" "$@"; }
export NOTRACKCTL_TEST_BOOT_ID=boot-0
boots=0

boot_firewall() {
	if [ "$backend" = nft ]; then
		stateful_filter
	else
		iptables-legacy -w -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
		iptables-legacy -w -A INPUT -p tcp --dport 22 -j ACCEPT
		iptables-legacy -w -P INPUT DROP
		ip6tables-legacy -w -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
		iptables-legacy -w -t raw -A OUTPUT -p udp --dport 123 -j CT --notrack
	fi
}

reboot() {
	local t f
	nft flush ruleset
	for f in iptables-legacy ip6tables-legacy; do
		for t in raw filter; do
			"$f" -w -t "$t" -F
			"$f" -w -t "$t" -X
		done
		"$f" -w -P INPUT ACCEPT
	done
	boot_firewall
	boots=$((boots + 1))
	export NOTRACKCTL_TEST_BOOT_ID=boot-$boots
}

kernel() {
	{
		nft_ruleset
		iptables-legacy-save
		ip6tables-legacy-save
	} 2>&1 | grep -v '^#' | sed -E -e 's/counter packets [0-9]+ bytes [0-9]+/counter/' \
		-e 's/\[[0-9]+:[0-9]+\]/[]/' >"$work/$1.k"
}

current_gen() { cat "$NOTRACKCTL_STATE_DIR/current" 2>/dev/null | head -n 1 || echo 0; }

label_of() {
	[ "$1" != 0 ] || {
		echo none
		return
	}
	python3 - "$NOTRACKCTL_STATE_DIR/gen/$1.json" <<-'PY'
		import json, os, sys
		g = json.load(open(sys.argv[1]))
		print(os.path.basename(g["policy_file"]).split(".")[0] if g.get("policy_file") else "none")
	PY
}

# ours_compiled LABEL: what `compile` prints for our own rules; ours_live:
# the same part of what the kernel holds.  iptables: our chains' rules,
# per family; nft: our table.
ours_compiled() {
	if [ "$backend" = nft ]; then
		ntc compile -q "$src/policies/$1.json" 2>/dev/null >"$work/compiled-raw"
		awk '/^table inet notrackctl \{/{p=1} p{print} p && /^}/{exit}' "$work/compiled-raw" |
			awk -f "$checkout/tests/tools/nft-canon.awk"
	else
		ntc compile -q --format iptables "$src/policies/$1.json" 2>/dev/null | sed 's/"//g' |
			awk '/IPv6/{six=1} /^-A NOTRACKCTL-/{print (six ? "6" : "4") " " $0}' | sort -s -k1,1 -k3,3
	fi
}
ours_live() {
	if [ "$backend" = nft ]; then
		nft list table inet notrackctl >"$work/nft-raw"
		awk -f "$checkout/tests/tools/nft-canon.awk" "$work/nft-raw" |
			sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/'
	else
		{
			iptables-legacy-save -t raw | sed 's/^/4 /'
			ip6tables-legacy-save -t raw | sed 's/^/6 /'
		} | sed 's/"//g' | grep '^[46] -A NOTRACKCTL-' | sort -s -k1,1 -k3,3
	fi
}

learn() {
	reboot
	if [ "$1" != none ]; then
		run 0 nb apply -q --allow-conflicts "$src/policies/$1.json"
		ours_compiled "$1" >"$work/compiled-$1"
		ours_live >"$work/live-$1"
		assert_same_file "$work/compiled-$1" "$work/live-$1" "our rules for $1 against what compile prints"
		[ -s "$work/live-$1" ] || fail "no rules of ours for $1"
	fi
	kernel "want-$1"
	run 0 nb remove
}

assert_holds() {
	local gen label
	gen=$(current_gen)
	label=$(label_of "$gen")
	kernel now
	assert_same_file "$work/want-$label.k" "$work/now.k" "$1: the kernel against generation $gen ($label)"
	[ ! -e "$NOTRACKCTL_STATE_DIR/intent.json" ] || fail "$1: the journal is left"
	ntc generations >"$work/gens" 2>"$work/gens.err" || fail "$1: generations failed: $(cat "$work/gens.err")"
	[ ! -s "$work/gens.err" ] || fail "$1: a generation file cannot be read: $(cat "$work/gens.err")"
}

sync_kill() {
	local point=$1 p pid i
	shift
	# the binary itself, not the shell function: the kill must reach it
	[ "$1" != nb ] || set -- "$bin" --backend "$backend" "${@:2}"
	rm -rf "$work/sync"
	mkdir "$work/sync"
	for p in before-commit after-commit; do
		[ "$p" = "$point" ] || touch "$work/sync/$p.go"
	done
	touch "$work/sync/$point.wait" # the other points stop only when asked
	NOTRACKCTL_TEST_SYNC_DIR=$work/sync "$@" >"$work/killed.out" 2>&1 &
	pid=$!
	for i in $(seq 1000); do
		[ -e "$work/sync/$point" ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.01
	done
	[ -e "$work/sync/$point" ] || fail "$* never reached $point: $(cat "$work/killed.out")"
	kill -KILL $pid
	wait $pid 2>/dev/null || true
}

# notrack_has_accept WHAT: iptables, per family: while a NOTRACK rule of ours
# is live, so is our untracked accept in INPUT (the other way round is
# harmless: an accept matches nothing that is tracked).
notrack_has_accept() {
	local f
	for f in iptables-legacy-save ip6tables-legacy-save; do
		"$f" >"$work/fam.save"
		if grep -q '^-A NOTRACKCTL-PRE .*-j CT --notrack' "$work/fam.save"; then
			grep -q '^-A INPUT -m conntrack --ctstate UNTRACKED -m comment --comment notrackctl -j ACCEPT' \
				"$work/fam.save" || fail "$1: $f shows NOTRACK rules live without their accept: $(cat "$work/fam.save")"
		fi
	done
}

# baseline: dns, then nginx on top of it; nothing pending
baseline() {
	rm -f "$NOTRACKCTL_STATE_DIR/pending.json"
	run 0 nb restore
	run 0 nb apply -q --allow-conflicts "$src/policies/dns.json"
	run 0 nb apply -q --allow-conflicts "$src/policies/nginx.json"
}

# next_command WHAT CMD...: (a) runs CMD; when it (or its warning) names
# restore, runs restore, which must work.
next_command() {
	local what=$1 got=0
	shift
	"$@" >"$work/out" 2>"$work/err" || got=$?
	if grep -q "'notrackctl restore'\|'notrackctl --backend [a-z]* --table [a-z_]* restore'" "$work/err"; then
		run 0 nb restore
	elif [ "$got" != 0 ]; then
		fail "$what: the next command exited $got without naming a command that works: $(cat "$work/err")"
	fi
}

