#!/usr/bin/env python3
"""Writes the policies of nft-incremental's property test into DIR:
p000.json, a policy of PORTS random tcp ports (some of them ranges) with
peers, and p001.json ... pNNN.json, each one random edit away from the one
before: ports and ranges added and removed, single ports switched to ranges
and back, peers added and dropped (down to none and back), and a small udp
service whose port set flips between a hash and intervals.  Every edit
changes the compiled ruleset.  Seeded, so a failure can be replayed.

  incremental-edits.py DIR PORTS EDITS SEED
"""
import json
import random
import sys


def items_ports(items):
    for it in items:
        if isinstance(it, int):
            yield it
        else:
            a, b = map(int, it.split("-"))
            yield from range(a, b + 1)


class Service:
    def __init__(self, rng, proto, lo, hi):
        self.rng, self.proto, self.lo, self.hi = rng, proto, lo, hi
        self.items = []
        self.used = set()
        self.peers = []

    def free(self, a, b):
        # one apart from everything, so the compiler never merges the new item into a neighbour
        return a >= self.lo and b <= self.hi and not any(p in self.used for p in range(a - 1, b + 2))

    def add(self, item):
        self.items.append(item)
        self.used.update(items_ports([item]))

    def remove(self, item):
        self.items.remove(item)
        self.used.difference_update(items_ports([item]))

    def add_port(self):
        while True:
            p = self.rng.randint(self.lo, self.hi)
            if self.free(p, p):
                return self.add(p)

    def add_range(self, width):
        while True:
            a = self.rng.randint(self.lo, self.hi - width)
            if self.free(a, a + width):
                return self.add("%d-%d" % (a, a + width))

    def pick(self, kind):
        cands = [i for i in self.items if isinstance(i, kind)]
        return self.rng.choice(cands) if cands else None

    def policy(self):
        s = {"proto": self.proto, "ports": sorted(self.items, key=lambda i: int(str(i).split("-")[0]))}
        if self.peers:
            s["peers"] = sorted(self.peers)
        return s


def main():
    out, n_ports, n_edits, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    big = Service(rng, "tcp", 1024, 60000)
    small = Service(rng, "udp", 2000, 9000)
    while len(big.used) < n_ports:
        if rng.random() < 0.05:
            big.add_range(rng.randint(1, 8))
        else:
            big.add_port()
    big.peers = ["10.%d.%d.0/24" % (rng.randint(0, 255), rng.randint(0, 255)) for _ in range(3)]
    small.add_port()
    small.add_port()

    def peer():
        return "192.168.%d.%d" % (rng.randint(0, 255), rng.randint(1, 254))

    def edit():
        svc = big if rng.random() < 0.75 else small
        kind = rng.choice(["add_port", "remove_port", "add_range", "remove_range", "to_range", "to_port",
                           "add_peer", "drop_peer"])
        if kind == "add_port":
            svc.add_port()
        elif kind == "add_range":
            svc.add_range(rng.randint(1, 1500) if svc is small else rng.randint(1, 8))
        elif kind in ("remove_port", "remove_range"):
            it = svc.pick(int if kind == "remove_port" else str)
            if it is None or len(svc.items) < 2:
                return False
            svc.remove(it)
        elif kind == "to_range":
            it = svc.pick(int)
            if it is None:
                return False
            svc.remove(it)
            w = rng.randint(1, 1500) if svc is small else rng.randint(1, 8)
            if not svc.free(it, it + w):
                svc.add(it)
                return False
            svc.add("%d-%d" % (it, it + w))
        elif kind == "to_port":
            it = svc.pick(str)
            if it is None:
                return False
            svc.remove(it)
            svc.add(int(it.split("-")[0]))
        elif kind == "add_peer":
            p = peer()
            if p in svc.peers:
                return False
            svc.peers.append(p)
        elif kind == "drop_peer":
            if not svc.peers:
                return False
            svc.peers.remove(rng.choice(svc.peers))
        return True

    def write(k):
        pol = {
            "version": 1,
            "name": "incremental-%03d" % k,
            "families": ["ipv4"],
            "notrack": {"services": [big.policy(), small.policy()]},
            "untracked_accept": "none",
        }
        with open("%s/p%03d.json" % (out, k), "w") as f:
            json.dump(pol, f)

    write(0)
    for k in range(1, n_edits + 1):
        for _ in range(rng.randint(1, 2)):
            while not edit():
                pass
        write(k)


main()
