#!/usr/bin/env python3
"""UDP flows that conntrack sees as streams, for the timeout tests.

  udpflow.py echo HOST PORT
      echo every datagram back to its sender, forever
  udpflow.py flows HOST STOP_FILE PORT...
      one socket per PORT; every 0.2 s a datagram to HOST:PORT and a read of
      the echo, until STOP_FILE exists (at most 20 s); prints how many
      echoes came back per port

The kernel makes a UDP entry a stream (ASSURED, nf_conntrack_udp_timeout_stream)
only for a packet of a flow that has seen a reply and is over 2 s old, so
the caller polls conntrack -L for [ASSURED] and then creates STOP_FILE.
"""
import os
import socket
import sys
import time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def echo(host, port):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.bind((host, port))
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(data, peer)


def flows(host, stop, ports):
    socks = []
    for port in ports:
        s = socket.socket(family(host), socket.SOCK_DGRAM)
        s.settimeout(0.2)
        s.connect((host, port))
        socks.append(s)
    got = [0] * len(ports)
    deadline = time.monotonic() + 20
    while not os.path.exists(stop) and time.monotonic() < deadline:
        for i, s in enumerate(socks):
            try:
                s.send(b"x")
                if s.recv(2048) == b"x":
                    got[i] += 1
            except OSError:
                pass
        time.sleep(0.2)
    print(" ".join("%d:%d" % (p, n) for p, n in zip(ports, got)))
    return 0 if all(got) else 1


def main(argv):
    if len(argv) == 4 and argv[1] == "echo":
        echo(argv[2], int(argv[3]))
        return 0
    if len(argv) >= 5 and argv[1] == "flows":
        return flows(argv[2], argv[3], [int(p) for p in argv[4:]])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
