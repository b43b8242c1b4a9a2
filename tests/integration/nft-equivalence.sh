#!/bin/bash
# What `apply` installs with libnftnl is what `compile` prints: for every
# valid test policy and every shipped one, compile's nft text is loaded with
# `nft -f`, then (after a reset) the policy is applied, and `nft -j list
# ruleset` must hold the same objects for both, once handles and counter
# values are taken out and set elements sorted (a hash set lists its
# elements in the kernel's own order).  Two independent paths into the
# kernel: nft's parser and evaluator, and our libnftnl builder.  The
# lookups that tell this host's own traffic from forwarded traffic (fib,
# socket, tcp flags) are part of what is compared.
. "$(dirname "$0")/lib.sh"

# The foreign filter chains a policy's untracked_accept names (and, for
# "auto", one of each hook), as another firewall would have them.
prepare() {
	nft flush ruleset
	nft -f - <<-'EOT'
		table inet filter {
			chain input { type filter hook input priority filter; policy accept; }
			chain forward { type filter hook forward priority filter; policy accept; }
			chain output { type filter hook output priority filter; policy accept; }
		}
	EOT
	{ grep '^insert rule ' "$1" || true; } >"$work/inserts"
	local family table chain hook
	while read -r _ _ family table chain _; do
		case $chain in input | INPUT) hook=input ;; output | OUTPUT) hook=output ;; *) hook=forward ;; esac
		nft add table "$family" "$table"
		nft list chain "$family" "$table" "$chain" >/dev/null 2>&1 ||
			nft add chain "$family" "$table" "$chain" "{ type filter hook $hook priority 0; }"
	done <"$work/inserts"
}

normalise() {
	python3 - "$1" "$2" <<-'EOT'
		import json, sys
		def walk(x):
		    if isinstance(x, dict):
		        out = {}
		        for k, v in x.items():
		            if k == "handle":
		                continue
		            if k == "counter" and isinstance(v, dict):
		                v = {"packets": 0, "bytes": 0}
		            out[k] = walk(v)
		        if "elem" in out and isinstance(out["elem"], list):
		            out["elem"] = sorted(out["elem"], key=lambda e: json.dumps(e, sort_keys=True))
		        return out
		    if isinstance(x, list):
		        return [walk(v) for v in x]
		    return x
		d = json.load(open(sys.argv[1]))
		items = [walk(i) for i in d["nftables"] if "metainfo" not in i]
		json.dump(items, open(sys.argv[2], "w"), indent=1, sort_keys=True)
	EOT
}

# expressions FILE: every rule of our table as the kernel holds it, one
# netlink expression a line (registers, offsets, lengths, data), counters
# zeroed: the JSON above is what nft makes of them, this is what they are.
expressions() {
	nft --debug=netlink list table inet notrackctl >"$work/netlink" 2>&1
	sed -n -e 's/\[ counter pkts [0-9]* bytes [0-9]* \]/[ counter ]/' -e '/^  \[/p' -e '/^inet notrackctl [a-z]* [0-9]/s/ [0-9 ]*$//p' \
		"$work/netlink" >"$1"
}

# listing FILE: `nft list table` without counter values and set elements
# (the JSON compares those, sorted): what a person reviewing the live
# ruleset reads, set declarations (type or typeof, flags) included.
listing() {
	nft list table inet notrackctl >"$work/listing"
	python3 - "$work/listing" "$1" <<-'EOT'
		import re, sys
		text = open(sys.argv[1]).read()
		text = re.sub(r"elements = \{[^}]*\}", "elements = {...}", text)
		text = re.sub(r"counter packets \d+ bytes \d+", "counter", text)
		open(sys.argv[2], "w").write(text)
	EOT
}

n=0
equivalence_policies >"$work/policies"
while read -r policy <&3; do
	n=$((n + 1))
	name=$(basename "$policy" .json)
	"$bin" compile -q --no-host-check "$policy" >"$work/$name.nft"
	prepare "$work/$name.nft"
	# "auto" is decided at apply time: the text only describes it; apply
	# puts the accepts in, so the compile side gets them the same way
	nft -f "$work/$name.nft" || fail "nft -f refused compile's output for $name"
	nft -j list table inet notrackctl >"$work/$name-text.json"
	normalise "$work/$name-text.json" "$work/$name-text.norm"
	expressions "$work/$name-text.exprs"
	listing "$work/$name-text.list"
	prepare "$work/$name.nft"
	rm -rf "$NOTRACKCTL_STATE_DIR"
	run 0 ntc apply -q "$policy"
	nft -j list table inet notrackctl >"$work/$name-apply.json"
	normalise "$work/$name-apply.json" "$work/$name-apply.norm"
	expressions "$work/$name-apply.exprs"
	listing "$work/$name-apply.list"
	assert_same_file "$work/$name-text.norm" "$work/$name-apply.norm" "$name: table inet notrackctl, compile | nft -f vs apply"
	assert_same_file "$work/$name-text.exprs" "$work/$name-apply.exprs" "$name: rule expressions, compile | nft -f vs apply"
	assert_same_file "$work/$name-text.list" "$work/$name-apply.list" "$name: nft list table, compile | nft -f vs apply"
	# the lookups are really there (the policies with services or upstreams)
	if grep -q 'notrack.services' "$work/$name.nft"; then
		grep -q '"fib"' "$work/$name-apply.norm" || fail "$name: no fib lookup installed for a service"
	fi
	if grep -q 'notrack.upstreams' "$work/$name.nft"; then
		grep -q '"socket"' "$work/$name-apply.norm" || fail "$name: no socket lookup installed for an upstream"
	fi
done 3<"$work/policies"
[ "$n" -ge 15 ] || fail "only $n policies found"
echo "$n policies: nft -j list identical for compile | nft -f and apply"
echo "PASS"
