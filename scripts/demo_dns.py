#!/usr/bin/env python3
"""A tiny DNS server for the demo, on loopback only: answers MX queries for the demo's
recipient domains (as their real counterparts publish them: Microsoft 365, Proofpoint,
Google Workspace, an ordinary mail host), NXDOMAIN for anything else, and never forwards
a query. Usage: demo_dns.py PORTFILE (binds 127.0.0.1 on a free port, writes the port to
PORTFILE, serves until killed or for at most --max-seconds)."""
import socket
import struct
import sys
import time

MX = {
    "contoso-health.example": ["contosohealth-example.mail.protection.outlook.com"],
    "northwind-clinic.example": ["northwindclinic-example.mail.protection.outlook.com"],
    "fabrikam-care.example": ["mxa-00291b01.gslb.pphosted.com", "mxb-00291b01.gslb.pphosted.com"],
    "woodgrove-medical.example": ["mx0a-00357f02.pphosted.com"],
    "litware-labs.example": ["aspmx.l.google.com", "alt1.aspmx.l.google.com"],
    "adatum-family.example": ["mail.adatum-family.example"],
}


def name_at(p, off):
    labels = []
    while True:
        n = p[off]
        if n == 0:
            return ".".join(labels), off + 1
        if n & 0xC0:
            raise ValueError("compressed name in a query")
        labels.append(p[off + 1 : off + 1 + n].decode("ascii", "replace"))
        off += 1 + n


def encode(name):
    out = b""
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def answer(q):
    qid, flags, qd = struct.unpack(">HHH", q[:6])
    name, off = name_at(q, 12)
    qtype, qclass = struct.unpack(">HH", q[off : off + 4])
    question = q[12 : off + 4]
    hosts = MX.get(name.lower().rstrip("."))
    if hosts is None:
        return struct.pack(">HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question
    rrs = b""
    if qtype == 15:
        for pref, h in enumerate(hosts):
            rdata = struct.pack(">H", 10 * (pref + 1)) + encode(h)
            rrs += b"\xc0\x0c" + struct.pack(">HHIH", 15, 1, 300, len(rdata)) + rdata
    n = len(hosts) if qtype == 15 else 0
    return struct.pack(">HHHHHH", qid, 0x8180, 1, n, 0, 0) + question + rrs


def main():
    portfile = sys.argv[1]
    max_s = 3600.0
    if len(sys.argv) > 3 and sys.argv[2] == "--max-seconds":
        max_s = float(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    with open(portfile, "w") as f:
        f.write(str(s.getsockname()[1]))
    s.settimeout(0.5)
    end = time.time() + max_s
    while time.time() < end:
        try:
            q, peer = s.recvfrom(512)
        except socket.timeout:
            continue
        try:
            s.sendto(answer(q), peer)
        except (ValueError, IndexError, struct.error):
            pass


if __name__ == "__main__":
    main()
