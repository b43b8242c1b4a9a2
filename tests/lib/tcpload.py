#!/usr/bin/env python3
"""Real TCP traffic for the namespace tests and the demo.

  tcpload.py serve HOST PORT         echo one line per connection, forever
  tcpload.py connect HOST PORT N     N sequential connections; prints how many
                                     got their line echoed back

Each connection is a full handshake, one request, one reply and a close, so
with conntrack running every one of them leaves an entry (ESTABLISHED, then
TIME_WAIT) that `conntrack -C` counts.  The client is bounded: N connections,
each with a 2 s timeout.
"""
import socket
import socketserver
import sys


class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.readline())


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 512


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def serve(host, port):
    Server.address_family = family(host)
    with Server((host, port), Echo) as srv:
        srv.serve_forever()


def connect(host, port, n):
    ok = 0
    for i in range(n):
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                s.sendall(b"ping %d\n" % i)
                if s.makefile("rb").readline() == b"ping %d\n" % i:
                    ok += 1
        except OSError:
            pass
    print(ok)
    return 0 if ok == n else 1


def main(argv):
    if len(argv) == 4 and argv[1] == "serve":
        serve(argv[2], int(argv[3]))
        return 0
    if len(argv) == 5 and argv[1] == "connect":
        return connect(argv[2], int(argv[3]), int(argv[4]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
