#!/usr/bin/env python3
"""Runs the lint case table (tests/lint-cases/*.case, see its README) against
both backends, in the calling test's network namespace:

    lint-cases.py NOTRACKCTL CASES_DIR WORK_DIR [CASE...]

For each case: the rules are loaded through iptables-nft and linted with
--backend nft, then loaded through iptables-legacy and linted with --backend
iptables.  Both runs must meet the [expect] lines, exit 4 exactly when they
found something, and give the same findings.  Prints one line per case and
run; exits 1 on the first failure, with what differed."""
import json
import os
import subprocess
import sys

# The built-in chains of each legacy table, to empty a table with restore.
BUILTIN = {
    "raw": ["PREROUTING", "OUTPUT"],
    "mangle": ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
    "nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
    "filter": ["INPUT", "FORWARD", "OUTPUT"],
    "security": ["INPUT", "FORWARD", "OUTPUT"],
}
SECTIONS = ("policy", "rules", "rules6", "expect")
FIELDS = ("kind", "policy_entry", "family", "table", "chain", "rule", "reply", "message")


def parse(path):
    case, cur = {s: "" for s in SECTIONS}, None
    with open(path) as f:
        for line in f:
            s = line.strip()
            if s.startswith("[") and s.endswith("]") and s[1:-1] in SECTIONS:
                cur = s[1:-1]
            elif cur and not (cur in ("policy", "expect") and (not s or s.startswith("#"))):
                case[cur] += line
            elif cur is None and s and not s.startswith("#"):
                sys.exit("%s: text before the first section: %s" % (path, s))
    if not case["policy"] or not case["expect"]:
        sys.exit("%s: [policy] and [expect] are required" % path)
    return case


def run(cmd, stdin=None):
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if p.returncode:
        sys.exit("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr))
    return p.stdout


def reset():
    """Empties nftables and every loaded legacy table (each one is ours: the
    calling test made this namespace)."""
    run(["nft", "flush", "ruleset"])
    for fam, tool in (("ip", "iptables-legacy-restore"), ("ip6", "ip6tables-legacy-restore")):
        names = "/proc/net/%s_tables_names" % fam
        loaded = open(names).read().split() if os.path.exists(names) else []
        text = ""
        for t in loaded:
            text += "*%s\n%sCOMMIT\n" % (t, "".join(":%s ACCEPT [0:0]\n" % c for c in BUILTIN.get(t, [])))
        if text:
            run([tool, "-w"], text)


def lint(binary, backend, policy_file, work):
    p = subprocess.run([binary, "--backend", backend, "lint", "--json", policy_file],
                       capture_output=True, text=True)
    try:
        d = json.loads(p.stdout)
    except ValueError:
        sys.exit("lint --backend %s: exit %d, no JSON: %s %s" % (backend, p.returncode, p.stdout, p.stderr))
    if "Sanitizer" in p.stderr or "runtime error:" in p.stderr:
        sys.exit("lint --backend %s: a sanitizer report: %s" % (backend, p.stderr))
    return p.returncode, d


def check_expect(name, backend, rc, d, expect):
    got = [" ".join([f["kind"], f["family"], f["table"], f["chain"], f["rule"], f["policy_entry"]])
           for f in d["findings"]]
    problems = []
    if rc != (4 if d["findings"] else 0):
        problems.append("exit %d with %d findings" % (rc, len(d["findings"])))
    if not d.get("checked_live_ruleset"):
        problems.append("the live ruleset was not checked: %s" % d.get("notes"))
    for want in expect.split("\n"):
        want = want.strip()
        if not want:
            continue
        if want == "clean":
            if got:
                problems.append("want clean")
            continue
        neg = want.startswith("!")
        words = want.lstrip("!").split("|")
        hit = any(all(w in g for w in words) for g in got)
        if hit == neg:
            problems.append("%s %s" % ("unexpected" if neg else "missing", want))
    if problems:
        sys.exit("%s, --backend %s: %s\n  findings:\n  %s\n  notes: %s" %
                 (name, backend, "; ".join(problems), "\n  ".join(got) or "(none)", d.get("notes")))


def main():
    binary, cases_dir, work = sys.argv[1:4]
    names = sys.argv[4:] or sorted(f[:-5] for f in os.listdir(cases_dir) if f.endswith(".case"))
    for name in names:
        case = parse(os.path.join(cases_dir, name + ".case"))
        policy_file = os.path.join(work, name + ".json")
        with open(policy_file, "w") as f:
            f.write(case["policy"])
        seen = {}
        for backend, flavour in (("nft", "nft"), ("iptables", "legacy")):
            reset()
            if case["rules"]:
                run(["iptables-%s-restore" % flavour, "-w"], case["rules"])
            if case["rules6"]:
                run(["ip6tables-%s-restore" % flavour, "-w"], case["rules6"])
            rc, d = lint(binary, backend, policy_file, work)
            check_expect(name, backend, rc, d, case["expect"])
            seen[backend] = sorted(tuple(str(f[k]) for k in FIELDS) for f in d["findings"])
            print("%-22s %-8s exit %d, %d finding(s)" % (name, backend, rc, len(d["findings"])))
        if seen["nft"] != seen["iptables"]:
            only_nft = [f for f in seen["nft"] if f not in seen["iptables"]]
            only_ipt = [f for f in seen["iptables"] if f not in seen["nft"]]
            sys.exit("%s: the backends disagree\n  only nft:\n    %s\n  only iptables:\n    %s" %
                     (name, "\n    ".join(" | ".join(f) for f in only_nft),
                      "\n    ".join(" | ".join(f) for f in only_ipt)))
    reset()


main()
