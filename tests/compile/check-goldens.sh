#!/bin/bash
# The emitted rules must load: inside a throwaway network namespace, every
# golden .nft file goes through `nft -c -f`, every .ipt4/.ipt6 file through
# iptables-legacy-restore / ip6tables-legacy-restore --test --noflush, and
# every policy shipped under policies/ and examples/ compiles and passes
# `nft -c`.  Needs root; exits 77 (skip) when it cannot make the namespace.
#
# Usage: check-goldens.sh NOTRACKCTL SOURCE_DIR
set -euo pipefail
. "$(dirname "$0")/../lib/netns.sh"

[ $# = 2 ] || { echo "usage: $0 NOTRACKCTL SOURCE_DIR" >&2; exit 2; }
enter_netns "$@"
need_commands nft iptables-legacy iptables-legacy-restore ip6tables-legacy ip6tables-legacy-restore

bin=$1
src=$2
golden=$src/tests/golden
work=$(mktemp -d)
defer rm -rf "$work"
# the xtables lock is a file shared by every namespace: keep ours private
export XTABLES_LOCKFILE=$work/xtables.lock
failures=0

# Resets the namespace's ruleset between files.
reset_rules() {
	nft flush ruleset
	local t
	for t in filter raw; do
		iptables-legacy -t "$t" -F && iptables-legacy -t "$t" -X
		ip6tables-legacy -t "$t" -F && ip6tables-legacy -t "$t" -X
	done
}

# For "insert rule FAMILY TABLE CHAIN ..." lines, creates those foreign
# tables and base chains, as another firewall would have.
make_foreign_nft_chains() {
	local family table chain hook
	{ grep '^insert rule ' "$1" || true; } | while read -r _ _ family table chain _; do
		case $chain in input | INPUT) hook=input ;; output | OUTPUT) hook=output ;; *) hook=forward ;; esac
		nft add table "$family" "$table"
		nft add chain "$family" "$table" "$chain" "{ type filter hook $hook priority 0; }"
	done
}

# For "-I CHAIN 1" lines in a *TABLE block, creates CHAIN unless the table
# has it built in.
make_foreign_ipt_chains() {
	local tool=$1 file=$2 table="" line chain
	while read -r line; do
		case $line in
		\**) table=${line#\*} ;;
		"-I "*)
			chain=$(set -- $line; echo "$2")
			"$tool" -t "$table" -S "$chain" >/dev/null 2>&1 || "$tool" -t "$table" -N "$chain"
			;;
		esac
	done <"$file"
}

check() {
	local what=$1
	shift
	local out
	if out=$("$@" 2>&1); then
		echo "ok   $what"
	else
		echo "FAIL $what: $*" >&2
		echo "$out" | sed 's/^/     /' >&2
		failures=$((failures + 1))
	fi
}

check_nft_file() {
	reset_rules
	make_foreign_nft_chains "$2"
	check "$1" nft -c -f "$2"
}

shopt -s nullglob
goldens=("$golden"/*.nft)
[ ${#goldens[@]} -gt 0 ] || fail "no golden files in $golden"
for f in "${goldens[@]}"; do
	check_nft_file "nft -c $(basename "$f")" "$f"
done
ipt=("$golden"/*.ipt4 "$golden"/*.ipt6)
# every golden case has its nft, IPv4 and IPv6 output (and IR); a case
# with per-traffic timeouts has no iptables output (the backend refuses it)
cases=("$golden"/*.ir.json)
n_timeouts=$(grep -l '"ct_timeouts"' "${cases[@]}" | wc -l)
[ ${#goldens[@]} = ${#cases[@]} ] && [ ${#ipt[@]} = $((2 * (${#cases[@]} - n_timeouts))) ] ||
	fail "${#cases[@]} golden cases but ${#goldens[@]} .nft and ${#ipt[@]} .ipt4/.ipt6 files"
for f in "${ipt[@]}"; do
	case $f in *.ipt4) tool=iptables-legacy ;; *) tool=ip6tables-legacy ;; esac
	reset_rules
	make_foreign_ipt_chains "$tool" "$f"
	check "$tool-restore --test $(basename "$f")" "$tool-restore" --test --noflush "$f"
done

# Shipped policies; a JSON schema is not a policy.
n=0
while IFS= read -r -d '' policy; do
	n=$((n + 1))
	rel=${policy#"$src"/}
	out=$work/policy-$n.nft
	if "$bin" compile --no-host-check -q "$policy" >"$out" 2>"$work/err"; then
		check_nft_file "compile + nft -c $rel" "$out"
	else
		echo "FAIL compile $rel: exit $?" >&2
		sed 's/^/     /' "$work/err" >&2
		failures=$((failures + 1))
	fi
done < <(find "$src/policies" "$src/examples" -name '*.json' ! -name 'schema.json' -print0 | sort -z)
echo "$n shipped policies"
# find's errors are not hidden: counted independently, from the globs
shipped=("$src"/policies/*.json)
[ "$n" -ge $((${#shipped[@]} - 1)) ] && [ "$n" -ge 1 ] ||
	fail "checked $n shipped policies, but policies/ alone holds ${#shipped[@]} (schema.json included)"

[ "$failures" = 0 ] || fail "$failures check(s) failed"
echo "all loaded"
