# Sourced by the test scripts: skip codes, a throwaway network namespace and
# deferred cleanup.  Nothing here may touch the host's own namespace.

SKIP=77

# Runs at exit, last registered first.
_deferred=()
defer() { _deferred=("$*" "${_deferred[@]}"); }
_run_deferred() {
	local cmd
	for cmd in "${_deferred[@]}"; do eval "$cmd" || true; done
}
trap _run_deferred EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: $*" >&2
	exit "$SKIP"
}

# Re-runs the calling script inside a new network namespace, as root; skips
# when that is not possible.  Call as: enter_netns "$@"
#
# The re-run checks that it really is somewhere new, failing closed: its
# namespace differs from the one it was started in, and holds no interface
# but lo.  (/proc/1/ns/net cannot serve as the reference: it is often
# unreadable even to root in a container.)
enter_netns() {
	local here
	here=$(readlink /proc/self/ns/net) || fail "cannot read /proc/self/ns/net"
	if [ -n "${NOTRACKCTL_OUTER_NETNS:-}" ]; then
		[ "$here" != "$NOTRACKCTL_OUTER_NETNS" ] || fail "not in a new network namespace; refusing to go on"
		[ "$(grep -c : /proc/net/dev)" = 1 ] && grep -q '^ *lo:' /proc/net/dev ||
			fail "this namespace has interfaces besides lo, so it is not a fresh one; refusing to go on"
		return 0
	fi
	[ "$(id -u)" = 0 ] || skip "needs root for a network namespace"
	command -v unshare >/dev/null || skip "unshare not found"
	unshare -n true 2>/dev/null || skip "cannot create a network namespace (unshare -n)"
	NOTRACKCTL_OUTER_NETNS=$here exec unshare -n -- "$0" "$@"
}

# Skips unless every named command exists.
need_commands() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || skip "$c not found"
	done
}
