#!/usr/bin/env python3
"""Writes a benchmark policy: one tcp service entry with PORTS random ports
(1024-65535, seeded, so every run and every tool gets the same ones) for
PEERS random IPv4 peers in 10.0.0.0/8 (none: PEERS 0), IPv4 only, untracked_accept "none"
so that `notrackctl apply` and `nft -f` on the compiled text do the same.

Random ports are not contiguous on purpose; where two happen to be adjacent
the compiler merges them into a range, as it must.

  gen-policy.py PORTS PEERS [SEED [EXCLUDED-PORT...]]

EXCLUDED-PORT: ports the sample must not contain (bench/datapath keeps its
own traffic ports out, so that traffic is looked up and missed).
"""
import json
import random
import sys


def main():
    ports, peers = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
    excluded = set(int(p) for p in sys.argv[4:])
    chosen = sorted(rng.sample([p for p in range(1024, 65536) if p not in excluded], ports))
    nets = sorted(rng.sample(range(1, 1 << 24), peers))
    policy = {
        "version": 1,
        "name": "bench-%d-ports" % ports,
        "families": ["ipv4"],
        "notrack": {
            "services": [
                {
                    "proto": "tcp",
                    "ports": chosen,
                }
            ]
        },
        "untracked_accept": "none",
    }
    if nets:
        policy["notrack"]["services"][0]["peers"] = ["10.%d.%d.%d" % (n >> 16, (n >> 8) & 255, n & 255) for n in nets]
    json.dump(policy, sys.stdout)
    print()


if __name__ == "__main__":
    main()
