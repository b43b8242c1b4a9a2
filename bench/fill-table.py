#!/usr/bin/env python3
"""Fills this network namespace's conntrack table with TOTAL unanswered UDP
flows from loopback addresses, for bench/top.  Sources follow a Zipf
distribution over SOURCES addresses in 127.16.0.0/12 (the first source sends
the most), each flow from its own source port, to one of a few destination
ports on 127.0.0.1: so the table has a realistic head and a long tail, and
more distinct sources than `top` has counters when SOURCES > 32768.

  fill-table.py TOTAL SOURCES
"""
import socket
import sys


def main():
    total, sources = int(sys.argv[1]), int(sys.argv[2])
    harmonic = sum(1.0 / k for k in range(1, sources + 1))
    dports = (53, 123, 443, 5353, 8080)
    made = 0
    for k in range(1, sources + 1):
        # flows of source k, rounded so the sum reaches total exactly
        want = round(total * (1.0 / k) / harmonic) if k < sources else total - made
        want = max(1, min(want, total - made, 60000))
        a = 0x7F100000 + k  # 127.16.0.0 + k
        src = socket.inet_ntoa(a.to_bytes(4, "big"))
        for i in range(want):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((src, 2000 + i))
            s.sendto(b"x", ("127.0.0.1", dports[(k + i) % len(dports)]))
            s.close()
        made += want
        if made >= total:
            break
    print(made)


if __name__ == "__main__":
    main()
