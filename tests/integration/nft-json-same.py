#!/usr/bin/env python3
"""Compares rulesets dumped by `nft -j list ruleset`, handles left out, sets
taken by name (a table lists them in the order they were created) and their
elements as a multiset (a hash set lists them in hash order).

  nft-json-same.py A B       exit 0 if the same, 1 with the differences on stderr
  nft-json-same.py --serve   reads "A<TAB>B" lines, answers each with a line:
                             "same", or "differ: ..." (one process for a whole test)
"""
import json
import sys


def load(path):
    objs = []
    for o in json.load(open(path))["nftables"]:
        if "metainfo" in o:
            continue
        (kind, body), = o.items()
        body = {k: v for k, v in body.items() if k != "handle"}
        if kind == "set" and "elem" in body:
            body["elem"] = sorted(json.dumps(e, sort_keys=True) for e in body["elem"])
        objs.append((kind, body))
    sets = sorted((o for o in objs if o[0] == "set"), key=lambda o: o[1]["name"])
    return sets + [o for o in objs if o[0] != "set"]


def compare(a_path, b_path):
    a, b = load(a_path), load(b_path)
    if a == b:
        return None
    lines = []
    for x in a:
        if x not in b:
            lines.append("only in %s: %s" % (a_path, json.dumps(x)[:300]))
    for x in b:
        if x not in a:
            lines.append("only in %s: %s" % (b_path, json.dumps(x)[:300]))
    return "; ".join(lines) or "the same objects in another order"


def main():
    if sys.argv[1:] == ["--serve"]:
        for line in sys.stdin:
            a, b = line.rstrip("\n").split("\t")
            d = compare(a, b)
            print("same" if d is None else "differ: " + d.replace("\n", " "), flush=True)
        return 0
    d = compare(sys.argv[1], sys.argv[2])
    if d is not None:
        print(d, file=sys.stderr)
        return 1
    return 0


sys.exit(main())
