#!/bin/bash
# One pass of the commands that talk to the kernel, each under
# valgrind --leak-check=full --error-exitcode=1: any invalid read or write,
# use of uninitialised memory, or leak fails the test.
. "$(dirname "$0")/lib.sh"
need_commands valgrind

stateful_filter
docker_like
# another tool's notrack rule: the input policy drop takes udp/9999 until our
# untracked accept would let it through, so lint refuses
nft -f - <<'NFT'
table ip other {
	chain pre {
		type filter hook prerouting priority raw;
		udp dport 9999 notrack
	}
}
NFT
vg() {
	valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
		--error-exitcode=99 --track-fds=no "$bin" "$@"
}
# nginx.json's accept would open udp/9999: lint refuses it, --allow-conflicts applies
run 4 vg apply -q "$src/policies/nginx.json"
run 0 vg apply -q --allow-conflicts "$src/policies/nginx.json"
run 0 vg apply -q --allow-conflicts "$src/policies/nginx.json"
run 1 vg diff "$src/policies/dns.json"
run 0 vg apply -q --allow-conflicts --json "$src/policies/dns.json"
run 0 vg generations
run 0 vg generations --json
run 0 vg rollback
run 0 vg remove
run 0 vg rollback
run 0 vg restore
run 0 vg confirm
run 3 vg compile "$src/tests/cases/invalid/port-70000.json"
run 0 vg compile -q --format iptables "$src/policies/docker-host.json"
for extra in status advise; do
	run 0 vg "$extra"
	run 0 vg "$extra" --json
done
run 0 vg top
run 4 vg lint "$src/policies/nginx.json"
run 4 vg lint --json "$src/policies/nginx.json"
run 0 vg lint --offline "$src/policies/nginx.json"
echo "PASS"
