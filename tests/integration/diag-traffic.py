#!/usr/bin/env python3
"""Known traffic for the diagnostics tests: every flow has its own source
port, chosen here, so each one is exactly one conntrack entry.

  diag-traffic.py udp SRC DST DPORT COUNT FIRST_SPORT
      COUNT datagrams from SRC:FIRST_SPORT.. to DST:DPORT (nobody answers).
  diag-traffic.py tcp-closed SRC DST DPORT COUNT FIRST_SPORT
      COUNT connections to a listener on DST:DPORT, each closed by the
      client first, then the server: conntrack leaves them in TIME_WAIT.
  diag-traffic.py tcp-hold SRC DST DPORT COUNT FIRST_SPORT READY_FILE
      COUNT connections kept open (ESTABLISHED) until SIGTERM; READY_FILE
      is created once all are up.

Only addresses of this network namespace are used; every loop is bounded.
"""
import resource
import signal
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def udp(src, dst, dport, count, first):
    for i in range(count):
        s = socket.socket(family(src), socket.SOCK_DGRAM)
        s.bind((src, first + i))
        s.sendto(b"x", (dst, dport))
        s.close()


def listener(dst, dport, backlog):
    srv = socket.socket(family(dst), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((dst, dport))
    srv.listen(backlog)
    return srv


def connect(src, dst, dport, sport):
    c = socket.socket(family(src), socket.SOCK_STREAM)
    c.bind((src, sport))
    c.connect((dst, dport))
    return c


def tcp_closed(src, dst, dport, count, first):
    srv = listener(dst, dport, 16)
    for i in range(count):
        c = connect(src, dst, dport, first + i)
        conn, _ = srv.accept()
        c.close()  # the client's FIN first...
        if conn.recv(1) != b"":
            sys.exit("expected EOF")
        conn.close()  # ...then the server's, and the client's last ACK
    srv.close()


def tcp_hold(src, dst, dport, count, first, ready):
    resource.setrlimit(resource.RLIMIT_NOFILE, (4 * count + 64, 4 * count + 64))
    srv = listener(dst, dport, count)
    held = []
    for i in range(count):
        held.append(connect(src, dst, dport, first + i))
        held.append(srv.accept()[0])
    open(ready, "w").close()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    time.sleep(600)  # the test kills us long before this


def main():
    kind, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    dport, count, first = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    if kind == "udp":
        udp(src, dst, dport, count, first)
    elif kind == "tcp-closed":
        tcp_closed(src, dst, dport, count, first)
    elif kind == "tcp-hold":
        tcp_hold(src, dst, dport, count, first, sys.argv[7])
    else:
        sys.exit("unknown kind " + kind)


if __name__ == "__main__":
    main()
