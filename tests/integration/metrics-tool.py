#!/usr/bin/env python3
"""Helpers for metrics.sh, so the shell does no parsing of its own.

  metrics-tool.py value FILE NAME [LABEL=VALUE...]
      Prints the value of the one sample of NAME whose labels include the
      given ones (exactly one must match).
  metrics-tool.py same OURS SCRAPED
      Every sample in OURS (our text) is in SCRAPED (node_exporter's
      /metrics) with the same value; node_exporter prints floats its own
      way, so values compare as numbers.
  metrics-tool.py scrape URL OUT
      GETs URL into OUT, retrying for at most 10 s while nothing listens
      yet (node_exporter was just started).
  metrics-tool.py recv READY OPEN BLOCKED N
      Binds udp 0.0.0.0:OPEN and :BLOCKED, creates READY, then reads until N
      datagrams came to OPEN (at most 10 s) and prints "OPEN-COUNT
      BLOCKED-COUNT".  The sender sends to BLOCKED first, on the same path,
      so by the time all N arrived the blocked ones met their verdict.
"""
import re
import select
import socket
import sys
import time
import urllib.request

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            if not m:
                sys.exit("not a sample line in %s: %r" % (path, line))
            labels = dict(LABEL.findall(m.group(3) or ""))
            out.append((m.group(1), labels, float(m.group(4))))
    return out


def value(path, name, want):
    want = dict(a.split("=", 1) for a in want)
    hits = [v for n, l, v in samples(path) if n == name and all(l.get(k) == x for k, x in want.items())]
    if len(hits) != 1:
        sys.exit("%d samples of %s %s in %s" % (len(hits), name, want, path))
    print("%d" % hits[0] if hits[0] == int(hits[0]) else hits[0])


def same(ours, scraped):
    have = {(n, tuple(sorted(l.items()))): v for n, l, v in samples(scraped)}
    n = 0
    for name, labels, v in samples(ours):
        key = (name, tuple(sorted(labels.items())))
        if key not in have:
            sys.exit("node_exporter does not serve %s %s" % (name, labels))
        if have[key] != v:
            sys.exit("%s %s: node_exporter says %s, the file %s" % (name, labels, have[key], v))
        n += 1
    print(n)


def scrape(url, out):
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                data = r.read()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    with open(out, "wb") as f:
        f.write(data)


def recv(ready, open_port, blocked_port, n):
    socks = {}
    for port in (open_port, blocked_port):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
        s.setblocking(False)
        socks[s] = port
    open(ready, "w").close()
    got = {open_port: 0, blocked_port: 0}
    deadline = time.monotonic() + 10
    while got[open_port] < n and time.monotonic() < deadline:
        r, _, _ = select.select(list(socks), [], [], 0.5)
        for s in r:
            while True:
                try:
                    s.recv(2048)
                except BlockingIOError:
                    break
                got[socks[s]] += 1
    print(got[open_port], got[blocked_port])


def main():
    cmd = sys.argv[1]
    if cmd == "value":
        value(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif cmd == "same":
        same(sys.argv[2], sys.argv[3])
    elif cmd == "scrape":
        scrape(sys.argv[2], sys.argv[3])
    elif cmd == "recv":
        recv(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
