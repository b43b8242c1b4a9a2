#!/bin/bash
# Lint and apply on a ufw host: Debian's ufw (on iptables-nft), confined to
# this test's namespaces: its own network namespace, and a private mount
# namespace with a tmpfs on /run and copies of /etc/ufw and /etc/default/ufw
# bind-mounted over the machine's (whose IPT_SYSCTL points at an empty file:
# ufw changes no sysctl).  ufw enabled, default deny incoming, 22/tcp and
# 8080/tcp allowed:
#  1. policies/nginx.json lints clean: ufw's ufw-track-input/-output rules
#     (-m conntrack --ctstate NEW -j ACCEPT) come after our untracked accept
#     at the head of INPUT and OUTPUT, so skipping them changes nothing;
#  2. it applies without --allow-conflicts, and loopback connections to
#     :8080 leave no conntrack entry (they left one each before);
#  3. after `ufw reload` our accepts are still in place, diff finds nothing
#     to do, and the connections still leave no entry.
[ -n "${LINT_UFW_MNTNS:-}" ] || exec unshare -m --propagation private env LINT_UFW_MNTNS=1 "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_commands ufw iptables-nft iptables-nft-save
mount -t tmpfs tmpfs /run || skip "cannot mount a private /run"
cp -a /etc/ufw "$work/etc-ufw"
mount --bind "$work/etc-ufw" /etc/ufw
: >"$work/sysctl.conf"
sed "s|^IPT_SYSCTL=.*|IPT_SYSCTL=$work/sysctl.conf|" /etc/default/ufw >"$work/default-ufw"
mount --bind "$work/default-ufw" /etc/default/ufw
grep -q "^IPT_SYSCTL=$work/sysctl.conf" /etc/default/ufw || fail "the private /etc/default/ufw is not in place"

ufw default deny incoming >/dev/null
ufw allow 22/tcp >/dev/null
ufw allow 8080/tcp >/dev/null
ufw --force enable >"$work/ufw.out" 2>&1 || fail "ufw enable: $(cat "$work/ufw.out")"
iptables-nft-save >"$work/ufw.rules"
assert_contains "$work/ufw.rules" "-A ufw-track-output -p tcp -m conntrack --ctstate NEW -j ACCEPT" "ufw's rules"
assert_contains "$work/ufw.rules" ":INPUT DROP" "ufw's input policy"

start_server 8080
ct_flush
connections 20
assert_ge "$(ct_count)" 20 "conntrack entries of 20 loopback connections before apply"

# 1. and 2.
run 0 ntc lint "$src/policies/nginx.json"
assert_contains "$work/out" "clean" "lint of nginx.json on ufw"
run 0 ntc apply "$src/policies/nginx.json"
ct_flush
connections 20
assert_eq "$(ct_count)" 0 "conntrack entries of 20 loopback connections after apply"

# our_accepts FILE: the chains whose first rule is our untracked accept
our_accepts() {
	iptables-nft-save >"$1.save"
	ip6tables-nft-save >>"$1.save"
	awk '/^\*/ { t = $1 } /^-A / { if (!seen[t $2]++) print t, $2, ($0 ~ /notrackctl/ ? "ours" : "other") }' \
		"$1.save" >"$1"
}
our_accepts "$work/before-reload"
assert_contains "$work/before-reload" "*filter INPUT ours" "our accept heads INPUT"
assert_contains "$work/before-reload" "*filter OUTPUT ours" "our accept heads OUTPUT"

# 3. ufw reload
ufw reload >"$work/ufw.out" 2>&1 || fail "ufw reload: $(cat "$work/ufw.out")"
our_accepts "$work/after-reload"
assert_same_file "$work/before-reload" "$work/after-reload" "the heads of the chains after ufw reload"
run 0 ntc diff "$src/policies/nginx.json"
ct_flush
connections 20
assert_eq "$(ct_count)" 0 "conntrack entries of 20 loopback connections after ufw reload"
echo "PASS"
