#!/usr/bin/env python3
"""An independent TSIG client (RFC 8945, HMAC-SHA256) for the e2e tests:
signs an SOA query with Python's hmac, its time shifted by SKEW seconds,
sends it over UDP and checks the MAC of the answer's TSIG.

Usage: tsig_client.py PORT ZONE KEY_NAME SECRET_BASE64 SKEW
Prints: RCODE TSIG_ERROR OTHER_LEN verified|unsigned|bad-mac
"""

import base64
import hashlib
import hmac
import socket
import struct
import sys
import time


def name(text):
    labels = [label for label in text.strip(".").split(".") if label]
    return b"".join(bytes([len(l)]) + l.lower().encode() for l in labels) + b"\0"


def main():
    port, zone, key_name, secret, skew = sys.argv[1:6]
    secret = base64.b64decode(secret)
    qid = 0x4242
    message = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + name(zone) + struct.pack(">HH", 6, 1)
    signed_at = int(time.time()) + int(skew)
    key, algorithm = name(key_name), name("hmac-sha256")
    when = struct.pack(">HIH", signed_at >> 32, signed_at & 0xFFFFFFFF, 300)
    variables = key + struct.pack(">HI", 255, 0) + algorithm + when + struct.pack(">HH", 0, 0)
    mac = hmac.new(secret, message + variables, hashlib.sha256).digest()
    rdata = algorithm + when + struct.pack(">H", len(mac)) + mac + struct.pack(">HHH", qid, 0, 0)
    record = key + struct.pack(">HHIH", 250, 255, 0, len(rdata)) + rdata
    query = message[:10] + struct.pack(">H", 1) + message[12:] + record

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(query, ("127.0.0.1", int(port)))
        answer = sock.recv(65535)
    rcode = answer[3] & 0x0F
    start = answer.rfind(key + struct.pack(">HH", 250, 255))
    if start < 0:
        print(rcode, "-", "-", "unsigned")
        return
    at = start + len(key) + 10
    at = answer.index(b"\0", at) + 1  # past the algorithm name
    fields = answer[at:]
    time_and_fudge = fields[:8]
    mac_len = struct.unpack(">H", fields[8:10])[0]
    their_mac = fields[10 : 10 + mac_len]
    _original, error, other_len = struct.unpack(">HHH", fields[10 + mac_len : 16 + mac_len])
    other = fields[16 + mac_len : 16 + mac_len + other_len]
    if mac_len == 0:
        print(rcode, error, other_len, "unsigned")
        return
    body = answer[:start]
    additionals = struct.unpack(">H", body[10:12])[0] - 1
    body = body[:10] + struct.pack(">H", additionals) + body[12:]
    covered = key + struct.pack(">HI", 255, 0) + algorithm + time_and_fudge
    covered += struct.pack(">HH", error, other_len) + other
    expected = hmac.new(secret, struct.pack(">H", len(mac)) + mac + body + covered, hashlib.sha256).digest()
    print(rcode, error, other_len, "verified" if hmac.compare_digest(expected, their_mac) else "bad-mac")


if __name__ == "__main__":
    main()
