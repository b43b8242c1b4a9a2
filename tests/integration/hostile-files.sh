#!/bin/bash
# Hostile files and privilege (sshd StrictModes for policies and state):
# whoever can write a policy or the state can open the firewall through us.
#  - a policy writable by group or others, owned by another user, in a
#    directory owned by another user, or reached through a symlink in a
#    directory others can write to or a symlink another user owns: apply
#    refuses (exit 7), nothing applied;
#  - --insecure-permissions applies it, with a warning;
#  - a state file others can write to is refused too;
#  - compile needs no privileges and makes no such demand;
#  - without CAP_NET_ADMIN, apply says so in one line (exit 7).
. "$(dirname "$0")/lib.sh"
need_commands setpriv

stateful_filter
snapshot before
cp "$src/policies/nginx.json" "$work/policy.json"

chmod 0664 "$work/policy.json"
run 7 ntc apply "$work/policy.json"
assert_contains "$work/err" "writable by group or others (mode 0664)" "a group-writable policy"
assert_eq "$(wc -l <"$work/err")" 1 "lines on stderr"
run 0 ntc compile -q "$work/policy.json"
chmod 0644 "$work/policy.json"

chown nobody "$work/policy.json"
run 7 ntc apply "$work/policy.json"
assert_contains "$work/err" "owned by uid 65534, not by root" "a policy owned by nobody"
chown root "$work/policy.json"

mkdir "$work/theirs"
cp "$work/policy.json" "$work/theirs/policy.json"
chown nobody "$work/theirs"
run 7 ntc apply "$work/theirs/policy.json"
assert_contains "$work/err" "the directory $work/theirs above it is owned by uid 65534" "a policy in nobody's directory"

mkdir -m 0777 "$work/public"
chmod 0777 "$work/public" # no sticky bit: anyone can replace the link
ln -s "$work/policy.json" "$work/public/link.json"
run 7 ntc apply "$work/public/link.json"
assert_contains "$work/err" "reached through the symlink $work/public/link.json" "a symlink in a world-writable directory"
# A symlink someone else owns, in a sticky directory (as in /tmp), where
# only its owner can replace it: its owner can point it anywhere.
chmod 0711 "$work" # nobody must reach the sticky directory
mkdir -m 1777 "$work/sticky"
chmod 1777 "$work/sticky"
setpriv --reuid=65534 --regid=65534 --clear-groups ln -s "$work/policy.json" "$work/sticky/theirs.json"
run 7 ntc apply "$work/sticky/theirs.json"
assert_contains "$work/err" "reached through the symlink $work/sticky/theirs.json, owned by uid 65534, not by root" "a symlink owned by nobody"
snapshot refused
assert_same_snapshot before refused

chmod 0666 "$work/policy.json"
run 0 ntc apply --insecure-permissions "$work/policy.json"
assert_contains "$work/err" "writable by group or others (mode 0666): chmod go-w (accepted: --insecure-permissions)" "--insecure-permissions"
chmod 0644 "$work/policy.json"

# A state file others could have written is not trusted either.
chmod 0666 "$NOTRACKCTL_STATE_DIR/gen/1.json"
run 7 ntc rollback
assert_contains "$work/err" "writable by group or others" "a world-writable generation file"
chmod 0600 "$NOTRACKCTL_STATE_DIR/gen/1.json"
run 0 ntc rollback
snapshot back
assert_same_snapshot before back

# No CAP_NET_ADMIN: one line that says what is missing.
run 7 setpriv --bounding-set=-net_admin "$bin" apply "$work/policy.json"
assert_eq "$(cat "$work/err")" "notrackctl: cannot read the ruleset generation: needs CAP_NET_ADMIN (run as root)" "apply without CAP_NET_ADMIN"
run 0 setpriv --bounding-set=-net_admin "$bin" compile -q "$work/policy.json"
snapshot unprivileged
assert_same_snapshot before unprivileged
echo "PASS"
