#!/usr/bin/env python3
"""Helpers for tests/integration/lint-corpus.sh (the lint case table).

  lint-corpus.py cases TABLE
      the table's rows as 'layout policy exit findings', one a line
  lint-corpus.py findings LINT_JSON
      the findings of `notrackctl lint --json` as sorted, unique
      'kind@chain' tokens joined by ',' ('-' for none): the same on every
      backend, since iptables-nft and legacy iptables name chains alike
  lint-corpus.py check ROWS OUT_DIR
      ROWS: lines 'LINT_JSON layout policy findings' (the policy's path
      after the source root given as $LINT_CORPUS_SRC); fails naming the
      first row whose findings differ.  Then, for each distinct (policy,
      keep_tracked entry) the findings suggest, writes a copy of the policy
      with that entry added to OUT_DIR and prints its path (one Python start
      per layout: the table has many rows)
"""
import json
import os
import re
import sys


def cases(path):
    for line in open(path):
        line = line.split("#", 1)[0].split()
        if not line:
            continue
        if len(line) != 4:
            sys.exit("%s: a row needs layout, policy, exit and findings: %s" % (path, line))
        print(" ".join(line))


def findings(path):
    print(tokens(json.load(open(path))))


def fragments(message):
    """The JSON objects after 'such as' in a finding's message."""
    out = []
    for m in re.finditer(r"such as (\{)", message):
        depth, start = 0, m.start(1)
        for i in range(start, len(message)):
            depth += {"{": 1, "}": -1}.get(message[i], 0)
            if depth == 0:
                out.append(json.loads(message[start : i + 1]))
                break
    return out


def tokens(doc):
    got = sorted({"%s@%s" % (f["kind"], f["chain"]) for f in doc.get("findings", [])})
    return ",".join(got) if got else "-"


def check(rows, out_dir):
    src = os.environ["LINT_CORPUS_SRC"]
    seen = []
    for line in open(rows):
        lint_json, layout, policy, want = line.split()
        doc = json.load(open(lint_json))
        got = tokens(doc)
        if got != want:
            msgs = "\n  ".join(f["message"] for f in doc.get("findings", []))
            sys.exit("%s x %s: findings %s, want %s:\n  %s" % (layout, policy, got, want, msgs))
        for f in doc.get("findings", []):
            for frag in fragments(f["message"]):
                if (policy, frag) not in seen:
                    seen.append((policy, frag))
    for n, (policy, frag) in enumerate(seen):
        p = json.load(open(os.path.join(src, policy)))
        p.setdefault("keep_tracked", []).append(frag)
        path = os.path.join(out_dir, "suggested-%d.json" % n)
        with open(path, "w") as out:
            json.dump(p, out, indent=1)
        print(path, json.dumps(frag))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"cases": cases, "findings": findings, "check": check}[cmd](*args)
