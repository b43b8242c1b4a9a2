#!/bin/bash
# The iptables backend under valgrind --leak-check=full: one pass of every
# kernel-facing command against legacy tables with foreign rules, so an
# invalid read or write, uninitialised memory handed to libiptc or the
# kernel, or a leak fails the test.
# apply runs with --allow-conflicts: the iptables backend lints, and the
# foreign NAT built here is caught by these policies on purpose (lint-cases
# and lint-legacy-docker test the legacy lint itself).
. "$(dirname "$0")/ipt-lib.sh"
need_commands valgrind

legacy_foreign
vg() {
	valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
		--error-exitcode=99 --track-fds=no "$bin" "$@"
}
run 0 vg apply --allow-conflicts -q --backend iptables "$src/policies/nginx.json"
run 0 vg apply --allow-conflicts -q "$src/policies/nginx.json"
run 1 vg diff --verbose "$src/policies/dns.json"
run 0 vg apply --allow-conflicts -q --json "$src/policies/dns.json"
run 0 vg status
run 0 vg status --json
run 0 vg rollback
run 0 vg remove
run 0 vg rollback
run 0 vg restore
run 5 vg apply --allow-conflicts --backend iptables "$src/tests/cases/valid/accept-chains.json"
echo "PASS"
