#!/bin/bash
# The Debian package: `cpack -G DEB` builds it with the real library
# packages as dependencies, and it installs, works, and removes and purges
# cleanly.  The install happens in a copy-on-write overlay of / inside a
# private mount namespace, so the host's dpkg database and files are never
# touched: the overlay and everything in it vanish with this script.
#
# Usage: check-deb.sh SOURCE_DIR
set -euo pipefail
. "$(dirname "$0")/../lib/netns.sh"

[ $# = 1 ] || { echo "usage: $0 SOURCE_DIR" >&2; exit 2; }
# a failing step names itself, rather than ending the test in silence
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
src=$(cd "$1" && pwd)
[ "$(id -u)" = 0 ] || skip "needs root for a mount namespace"
need_commands cpack dpkg dpkg-deb dpkg-shlibdeps unshare systemd-analyze objdump ldconfig file
work=$(mktemp -d)
defer rm -rf "$work"

cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNOTRACKCTL_TESTS=OFF >/dev/null
cmake --build "$work/build" -j2 >/dev/null
(cd "$work/build" && cpack -G DEB >"$work/cpack.log" 2>&1) || fail "cpack failed: $(tail -20 "$work/cpack.log")"
deb=$(ls "$work"/build/notrackctl_*.deb)

# Every library the binary links must come from a package named in Depends.
dpkg-deb -f "$deb" Depends >"$work/depends"
objdump -p "$work/build/notrackctl" | awk '/NEEDED/ {print $2}' >"$work/needed"
[ -s "$work/needed" ] || fail "objdump found no NEEDED entries"
# (each reader takes a whole file: `ldconfig -p | awk '... exit'` killed
# ldconfig with SIGPIPE, 141 under pipefail, on a fresh machine)
ldconfig -p >"$work/ldconfig"
while read -r soname; do
	path=$(awk -v s="$soname" '$1 == s && /x86-64|x86_64|64bit/ {print $NF; exit}' "$work/ldconfig")
	[ -n "$path" ] || path=$(awk -v s="$soname" '$1 == s {print $NF; exit}' "$work/ldconfig")
	[ -n "$path" ] || fail "ldconfig -p does not know $soname"
	dpkg -S "$(readlink -f "$path")" >"$work/dpkg-S" 2>/dev/null || dpkg -S "$path" >"$work/dpkg-S" ||
		fail "no package owns $path"
	pkg=$(awk -F: '{print $1; exit}' "$work/dpkg-S")
	grep -q "\b$pkg\b" "$work/depends" || fail "the binary links $soname (package $pkg) but Depends says: $(cat "$work/depends")"
done <"$work/needed"
dpkg-deb -c "$deb" | awk '{print $6}' >"$work/files"
for f in ./usr/sbin/notrackctl ./usr/share/man/man8/notrackctl.8.gz ./usr/share/man/man5/notrackctl-policy.5.gz \
	./usr/share/bash-completion/completions/notrackctl ./lib/systemd/system/notrackctl-restore.service \
	./lib/systemd/system/notrackctl-metrics.service ./lib/systemd/system/notrackctl-metrics.timer \
	./etc/notrackctl/example-nginx.json ./usr/share/notrackctl/schema.json; do
	grep -qxF "$f" "$work/files" || fail "the package lacks $f: $(cat "$work/files")"
done

# Install, use, remove and purge, in a throwaway overlay of /.
mkdir -p "$work/upper" "$work/ovl" "$work/root"
cp "$deb" "$work/upper/"
unshare -m -- bash -euo pipefail -c '
	trap "echo \"FAIL: in the overlay: \$BASH_COMMAND\" >&2" ERR
	work=$1 deb=$(basename "$2")
	fail() { echo "FAIL: $*" >&2; exit 1; }
	mount --make-rprivate /
	mount -t overlay overlay -o "lowerdir=/,upperdir=$work/upper,workdir=$work/ovl" "$work/root"
	mount -t proc proc "$work/root/proc"
	mount -t tmpfs tmpfs "$work/root/tmp"
	mount -t tmpfs tmpfs "$work/root/run"
	in_root() { chroot "$work/root" "$@"; }
	in_root dpkg -i "/$deb" >/dev/null || fail "dpkg -i failed"
	version=$(in_root notrackctl --version) || fail "the installed binary does not run"
	[[ $version == "notrackctl "* ]] || fail "the installed binary says: $version"
	in_root notrackctl compile -q /etc/notrackctl/example-nginx.json >/dev/null || fail "compile of the installed example failed"
	for u in notrackctl-restore.service notrackctl-metrics.service notrackctl-metrics.timer; do
		in_root systemd-analyze verify --man=no /lib/systemd/system/$u || fail "systemd-analyze verify rejects $u"
	done
	# what the metrics unit runs, in a network namespace of its own (it only
	# reads, but nothing here looks at the host): the textfile appears, and
	# dpkg -r takes it away so node_exporter does not serve it frozen
	prom=/var/lib/prometheus/node-exporter
	mkdir -p "$work/root$prom"
	cmd=$(sed -n "s/^ExecStart=//p" "$work/root/lib/systemd/system/notrackctl-metrics.service")
	unshare -n chroot "$work/root" $cmd || fail "the metrics unit'"'"'s command failed: $cmd"
	grep -q "^notrackctl_generation 0$" "$work/root$prom/notrackctl.prom" || fail "no metrics in $prom"
	[ -f "$work/root/usr/share/man/man8/notrackctl.8.gz" ] || fail "no man page after install"
	in_root dpkg -r notrackctl >/dev/null || fail "dpkg -r failed"
	[ ! -e "$work/root/usr/sbin/notrackctl" ] || fail "the binary is left after dpkg -r"
	[ ! -e "$work/root$prom/notrackctl.prom" ] || fail "the metrics textfile is left after dpkg -r"
	[ -e "$work/root/etc/notrackctl/example-nginx.json" ] || fail "dpkg -r removed a conffile"
	in_root dpkg -P notrackctl >/dev/null || fail "dpkg -P failed"
	[ ! -e "$work/root/etc/notrackctl/example-nginx.json" ] || fail "the conffile is left after purge"
	in_root dpkg -s notrackctl >/dev/null 2>&1 && fail "dpkg still knows the package after purge"
	exit 0
' check-deb "$work" "$deb"
echo "PASS"
