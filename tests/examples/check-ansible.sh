#!/bin/bash
# examples/ansible, run for real with ansible-core against this machine
# (connection local) inside a throwaway network namespace:
#  - the first run reports changed=1 and the kernel holds the policy;
#  - the second run reports changed=0;
#  - a check-mode run with another policy reports changed but changes
#    nothing in the kernel;
#  - the confirm task leaves no confirmation pending.
. "$(dirname "$0")/../integration/lib.sh"
need_commands ansible-playbook

stateful_filter
play() {
	ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
		ansible-playbook -i localhost, -c local "$src/examples/ansible/playbook.yml" \
		-e notrackctl_hosts=localhost -e ansible_become=false -e ansible_python_interpreter=/usr/bin/python3 \
		-e "notrackctl_bin=$bin" -e "notrackctl_policy_dest=$work/policy.json" \
		-e "{\"notrackctl_args\": [\"--state-dir\", \"$NOTRACKCTL_STATE_DIR\"]}" "$@"
}
recap() { sed -n 's/^localhost *: .*changed=\([0-9]*\).*failed=\([0-9]*\).*/changed=\1 failed=\2/p' "$work/out"; }

run 0 play
assert_eq "$(recap)" "changed=2 failed=0" "first run (policy copied, rules applied)"
run 0 ntc diff "$src/examples/ansible/files/nginx.json"
[ ! -e "$NOTRACKCTL_STATE_DIR/pending.json" ] || fail "the confirm task left a confirmation pending"

run 0 play
assert_eq "$(recap)" "changed=0 failed=0" "second run"

snapshot before-check
run 0 play --check -e "notrackctl_policy_src=$src/policies/dns.json"
assert_eq "$(recap)" "changed=2 failed=0" "check-mode run with another policy"
snapshot after-check
assert_same_snapshot before-check after-check
echo "PASS"
