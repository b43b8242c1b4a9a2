#!/usr/bin/env python3
"""Reads `nft -j list ruleset` JSON on stdin and writes it with the sets and
maps of each table sorted by name (nft-canon.awk does the same for the text
form).

Why: the kernel lists a table's sets in the order they were created.  An
apply that changes a set in place (or adds one) leaves it after the sets
that stayed, so a table that went through a history of applies lists its
sets in another order than a fresh apply of the same policy, though both
hold the same sets, elements and rules.  Tests that compare the kernel's
ruleset with an expected one compare this form; everything else (chains,
rules, their order, handles) is left as nft printed it.
"""
import json
import sys


def canon_json(doc):
    items = doc.get("nftables", [])
    at = [k for k, o in enumerate(items) if "set" in o or "map" in o]
    key = lambda o: (lambda v: (v.get("family"), v.get("table"), v.get("name")))(o.get("set") or o.get("map"))
    for k, o in zip(at, sorted((items[k] for k in at), key=key)):
        items[k] = o
    return doc


def main():
    data = sys.stdin.read()
    if data.strip():
        sys.stdout.write(json.dumps(canon_json(json.loads(data))) + "\n")


if __name__ == "__main__":
    main()
