#!/usr/bin/env python3
"""A small TCP forwarder, standing in for docker-proxy in the namespace tests.

  tcpforward.py HOST PORT TO_HOST TO_PORT

Listens on HOST:PORT and copies each connection both ways to TO_HOST:TO_PORT,
as Docker's userland proxy does for a published port.
"""
import socket
import socketserver
import sys
import threading


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class Forward(socketserver.BaseRequestHandler):
    def handle(self):
        up = socket.create_connection((TO[0], TO[1]), timeout=5)
        t = threading.Thread(target=pipe, args=(up, self.request), daemon=True)
        t.start()
        pipe(self.request, up)
        t.join(5)
        up.close()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    TO = (sys.argv[3], int(sys.argv[4]))
    with Server((sys.argv[1], int(sys.argv[2])), Forward) as srv:
        srv.serve_forever()
