#!/bin/bash
# examples/cloud-init: provision.sh in a throwaway network namespace, and
# user-data.yaml as cloud-init would read it.
#  - provision.sh applies the policy; run again, it changes nothing;
#  - with a bad policy it stops with the error's place and applies nothing;
#  - user-data.yaml is valid YAML; the script it writes is provision.sh
#    byte for byte, and the policy it writes compiles.
. "$(dirname "$0")/../integration/lib.sh"

stateful_filter
export NOTRACKCTL=$bin SYSTEMCTL=true
# the namespace is not systemd's: provision.sh must not try to enable units
run 0 sh "$src/examples/cloud-init/provision.sh" "$src/policies/nginx.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["changed"] is True and d["generation"] == 1, d' "$work/out" ||
	fail "first provisioning: $(cat "$work/out")"
run 0 ntc diff "$src/policies/nginx.json"
run 0 sh "$src/examples/cloud-init/provision.sh" "$src/policies/nginx.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["changed"] is False, d' "$work/out" ||
	fail "second provisioning: $(cat "$work/out")"
snapshot good
run 3 sh "$src/examples/cloud-init/provision.sh" "$src/tests/cases/invalid/port-70000.json"
assert_contains "$work/err" "port-70000.json:6:23: \$.notrack.services[0].ports[1]" "provisioning with a bad policy"
snapshot after-bad
assert_same_snapshot good after-bad

python3 - "$src/examples/cloud-init/user-data.yaml" "$src/examples/cloud-init/provision.sh" "$work/ud-policy.json" <<'PY'
import sys, yaml
text = open(sys.argv[1]).read()
assert text.startswith("#cloud-config\n"), "user-data must start with #cloud-config"
d = yaml.safe_load(text)
files = {f["path"]: f for f in d["write_files"]}
script = files["/usr/local/sbin/notrackctl-provision"]
assert script["content"] == open(sys.argv[2]).read(), "the script in user-data.yaml is not provision.sh"
assert script["permissions"] == "0755"
open(sys.argv[3], "w").write(files["/etc/notrackctl/policy.json"]["content"])
assert d["runcmd"][0][0] == "/usr/local/sbin/notrackctl-provision"
PY
run 0 ntc compile -q "$work/ud-policy.json"
echo "PASS"
