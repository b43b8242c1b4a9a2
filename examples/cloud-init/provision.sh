#!/bin/sh
# Provisioning for a fresh Debian 12 host: install notrackctl, apply a
# policy, and have it restored at every boot.  Safe to run again: an
# unchanged policy changes nothing.
#
#   provision.sh POLICY [DEB]
#
# POLICY  the policy to apply (it is checked before anything changes)
# DEB     a notrackctl .deb to install when notrackctl is not installed yet
set -eu
policy=${1:?usage: provision.sh POLICY [DEB]}
deb=${2:-}
notrackctl=${NOTRACKCTL:-notrackctl}
systemctl=${SYSTEMCTL:-systemctl}

if ! command -v "$notrackctl" >/dev/null 2>&1; then
	[ -n "$deb" ] || { echo "provision.sh: notrackctl is not installed and no .deb was given" >&2; exit 2; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y "$deb"
fi

# A bad policy stops here, with the file, line, column and JSON path of the
# problem, before anything is applied.
"$notrackctl" compile -q "$policy" >/dev/null
"$notrackctl" apply --json "$policy"

# Restore the rules at boot, where systemd runs.
if [ -d /run/systemd/system ]; then
	"$systemctl" enable notrackctl-restore.service
fi
