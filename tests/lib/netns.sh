# Sourced by the test scripts: skip codes, a throwaway network namespace and
# deferred cleanup.  Nothing here may touch the host's own namespace.

SKIP=77

# Runs at exit, last registered first.  A deferred check that finds a
# problem calls deferred_fail: every deferred command still runs, then the
# test fails.
_deferred=()
_deferred_failures=
defer() { _deferred=("$*" "${_deferred[@]}"); }
deferred_fail() { _deferred_failures+="FAIL: $*"$'\n'; }
_run_deferred() {
	local cmd
	for cmd in "${_deferred[@]}"; do eval "$cmd" || true; done
	if [ -n "$_deferred_failures" ]; then
		printf '%s' "$_deferred_failures" >&2
		exit 1
	fi
}
trap _run_deferred EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

_netns_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# ci_skip_allowed NAME: NAME is on the short list of tests that may skip
# under CI (tests/ci-skips).
ci_skip_allowed() {
	[ -n "$1" ] && awk -v n="$1" '$1 == n { found = 1 } END { exit !found }' "$_netns_lib/../ci-skips"
}

# Under CI a skip is a failure, unless the test (ctest sets
# NOTRACKCTL_TEST_NAME) is on tests/ci-skips: ctest counts a skip as passed,
# so a machine that cannot run the tests would otherwise be green.
skip() {
	if [ -n "${CI:-}" ] && ! ci_skip_allowed "${NOTRACKCTL_TEST_NAME:-}"; then
		echo "FAIL: would skip, but CI is set and ${NOTRACKCTL_TEST_NAME:-this test} is not in tests/ci-skips: $*" >&2
		exit 1
	fi
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

# named_netns VAR PREFIX: creates the named network namespace PREFIX-PID
# (this shell's PID), deletes it at exit and sets VAR to its name.  Named
# namespaces live in /run/netns, outside the test's own namespace, so one
# whose test was killed (ctest's timeout sends SIGKILL, and no trap runs)
# would stay for good: any PREFIX-...-PID whose PID no longer runs is
# deleted first.  A PID that was reused keeps its namespace, which errs on
# the side of leaving something alone.
named_netns() {
	local var=$1 prefix=$2 ns pid
	while read -r ns _; do
		case $ns in "$prefix"-*) ;; *) continue ;; esac
		pid=${ns##*-}
		case $pid in '' | *[!0-9]*) continue ;; esac
		[ -d "/proc/$pid" ] || ip netns del "$ns" 2>/dev/null || true
	done < <(ip netns list)
	ip netns add "$prefix-$$" || fail "ip netns add $prefix-$$"
	defer ip netns del "$prefix-$$"
	printf -v "$var" '%s' "$prefix-$$"
}

# watch_sanitizers DIR: in a test run under ASan or UBSan (ctest sets their
# options for the _asan tests), their reports go to files in DIR rather
# than to stderr, where a command's expected failure could hide them (a
# report alone does not fail a run that was meant to fail anyway); at exit,
# any report fails the test.  DIR must outlive the check (register its
# removal before calling this).
watch_sanitizers() {
	[ -n "${ASAN_OPTIONS:-}${UBSAN_OPTIONS:-}" ] || return 0
	mkdir -p "$1"
	export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}log_path=$1/asan"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}${UBSAN_OPTIONS:+:}log_path=$1/ubsan"
	defer _check_sanitizers "$1"
}
_check_sanitizers() {
	local f
	for f in "$1"/*; do
		[ -s "$f" ] && deferred_fail "sanitizer report ${f##*/}:
$(head -c 4000 "$f")"
	done
	return 0
}

# private_checkout FROM TO: a copy of the checkout FROM (without build
# directories) at TO, owned by root and writable by no one else.  notrackctl
# applies only policies that root or the caller owns, in directories no one
# else can write to: a newcomer's clone belongs to them and `sudo
# ./scripts/test` runs as root, so tests apply their fixtures from here,
# never from the checkout.
private_checkout() {
	local from=$1 to=$2 e
	mkdir -p "$to"
	for e in "$from"/*; do
		case ${e##*/} in build* | cmake-build*) continue ;; esac
		cp -R "$e" "$to/"
	done
	chmod -R go-w "$to"
}

# as_nobody BIN ARGS...: runs a copy of the binary BIN as the user nobody.
# The build directory may sit where nobody cannot reach it (a private /root),
# so the copy lives in a directory of its own that nobody can enter; it goes
# at exit.  Fails, rather than leaving the check out, when nobody cannot run
# the copy.
as_nobody() {
	local b=$1
	shift
	if [ -z "${_nobody_dir:-}" ]; then
		command -v setpriv >/dev/null || fail "setpriv not found (util-linux)"
		_nobody_dir=$(mktemp -d)
		defer rm -rf "$_nobody_dir"
		chmod 755 "$_nobody_dir"
	fi
	[ -x "$_nobody_dir/${b##*/}" ] || install -m 755 "$b" "$_nobody_dir/${b##*/}"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$_nobody_dir/${b##*/}" --version >/dev/null ||
		fail "the user nobody cannot run $_nobody_dir/${b##*/}"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$_nobody_dir/${b##*/}" "$@"
}

# Skips unless every named command exists.
need_commands() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || skip "$c not found"
	done
}
