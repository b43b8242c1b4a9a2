#!/usr/bin/env python3
"""Rewrites checksummed state files (gen/N.json, intent.json) as notrackctl
wrote them before their checksums were XXH3: the checksum is FNV-1a 64 over
the body as jansson writes it compact with sorted keys, as bare hex, and the
file is indented.  Usage: state-fnv-sum.py FILE..."""
import json
import sys

for path in sys.argv[1:]:
    g = json.load(open(path))
    del g["checksum"]
    body = json.dumps(g, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    h = 0xCBF29CE484222325
    for b in body:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    g["checksum"] = "%016x" % h
    json.dump(g, open(path, "w"), sort_keys=True, indent=2)
