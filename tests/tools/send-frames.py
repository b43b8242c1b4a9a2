#!/usr/bin/env python3
"""Sends raw Ethernet frames carrying UDP to port 8080, bypassing the
sender's own routing (which would never send 127.0.0.1 or ::1 out of an
interface), so a test can see what the receiver's kernel does with them.

    send-frames.py IFACE DST_MAC COUNT SRC:DST [SRC:DST ...]

Each SRC:DST pair (IPv4 or IPv6; the last colon separates them for IPv6)
is sent COUNT times."""
import socket
import struct
import sys


def ipv4_checksum(header):
    total = sum(struct.unpack("!10H", header))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def frame(dst_mac, src_mac, src, dst):
    udp = struct.pack("!HHHH", 40000, 8080, 8, 0)
    if ":" in dst or ":" in src:
        ip = struct.pack("!IHBB", 0x60000000, len(udp), 17, 64)
        ip += socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
        return dst_mac + src_mac + b"\x86\xdd" + ip + udp
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, socket.inet_aton(src),
                     socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", ipv4_checksum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + udp


def split_pair(pair):
    if pair.count(":") == 1:
        return pair.split(":")
    # IPv6: SRC:DST where DST may itself start with "::"
    for i in range(len(pair)):
        if pair[i] != ":":
            continue
        src, dst = pair[:i], pair[i + 1:]
        try:
            socket.inet_pton(socket.AF_INET6, src)
            socket.inet_pton(socket.AF_INET6, dst)
            return src, dst
        except OSError:
            continue
    sys.exit(f"send-frames.py: cannot split {pair!r} into two addresses")


def main():
    iface, dst_mac, count = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), int(sys.argv[3])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src_mac = s.getsockname()[4]
    frames = [frame(dst_mac, src_mac, *split_pair(p)) for p in sys.argv[4:]]
    for _ in range(count):
        for f in frames:
            s.send(f)


main()
