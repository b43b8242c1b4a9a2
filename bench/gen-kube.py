#!/usr/bin/env python3
"""A kube-proxy-like nat table (iptables mode) in iptables-restore syntax,
for bench/lint:  gen-kube.py RULES

RULES foreign rules in all: one service is a rule in KUBE-SERVICES that
jumps (on its ClusterIP and port) to KUBE-SVC-<n>, which DNATs to an
endpoint, so RULES / 2 services; plus KUBE-POSTROUTING's masquerade of
marked packets and the PREROUTING/OUTPUT/POSTROUTING jumps.  Deterministic."""
import sys

rules = int(sys.argv[1])
services = max(1, (rules - 5) // 2)
out = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
       ":POSTROUTING ACCEPT [0:0]", ":KUBE-SERVICES - [0:0]", ":KUBE-POSTROUTING - [0:0]"]
out += [":KUBE-SVC-%06d - [0:0]" % i for i in range(services)]
out += ['-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-A KUBE-POSTROUTING -j MASQUERADE --random-fully"]
for i in range(services):
    ip = "10.96.%d.%d" % (i // 250, i % 250 + 1)
    ep = "10.244.%d.%d" % (i // 250, i % 250 + 1)
    out.append("-A KUBE-SERVICES -d %s/32 -p tcp -m comment --comment \"ns/svc-%d\" -m tcp --dport 80 "
               "-j KUBE-SVC-%06d" % (ip, i, i))
    out.append("-A KUBE-SVC-%06d -p tcp -m tcp -j DNAT --to-destination %s:8080" % (i, ep))
out.append("COMMIT")
print("\n".join(out))
