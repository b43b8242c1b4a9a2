#!/usr/bin/env python3
"""UDP traffic for the namespace tests.

  udpprobe.py echo HOST PORT            echo every datagram back, forever
  udpprobe.py send HOST PORT N [SPORT [MARK]]
                                        N datagrams, one at a time, from
                                        SPORT (an ephemeral port if left
                                        out or 0), with the socket's packet
                                        mark MARK (SO_MARK, as WireGuard's
                                        FwMark); prints how many were echoed

A client that binds a fixed source port (NTP's 123, IKE's 500) is what a
source NAT keeps the port of.  Bounded: each datagram waits 1 s at most.
"""
import socket
import sys


def echo(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(data, peer)


def send(host, port, n, sport=0, mark=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if mark:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
    s.bind(("0.0.0.0", sport))
    s.settimeout(1.0)
    ok = 0
    for i in range(n):
        msg = b"probe %d" % i
        try:
            s.sendto(msg, (host, port))
            while True:
                data, _ = s.recvfrom(2048)
                if data == msg:
                    ok += 1
                    break
        except (socket.timeout, ConnectionRefusedError):
            pass
    print(ok)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "echo":
        echo(args[0], int(args[1]))
    elif cmd == "send":
        send(args[0], int(args[1]), int(args[2]), int(args[3]) if len(args) > 3 else 0, int(args[4]) if len(args) > 4 else 0)
    else:
        sys.exit(__doc__)
