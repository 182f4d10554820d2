#!/usr/bin/env python3
"""Plays the MTA's side of the milter protocol (version 6) against a running milter.

One message per connection: option negotiation, connect, HELO, the {auth_authen} macro
(as Postfix sends it for an authenticated sender), MAIL FROM, every RCPT TO, the header
fields, end of headers, the body in chunks, end of message. Every command asks for a
reply (no SMFIP_NR_* flags are offered), and the reply is checked.

  milter_client.py SOCKET --in MSG.eml --out RESULT.eml [--auth SENDER] [--from ADDR]
                   [--rcpt ADDR ...] [--rcpt-range FMT N]
--rcpt-range adds N recipients FMT % i (e.g. 'p%d@clinic.test' 1500).
RESULT.eml is the message as the MTA would deliver it: the header fields it sent, the
ones the milter added, and the replaced body (or the original one). Prints one JSON line:
{"verdict": "c", "replaced": true, "added": [["X-Trueopen", "tracked"]]}.
Exits 1 on a protocol error.
"""
import argparse
import json
import socket
import struct
import sys


def die(msg):
    sys.stderr.write('milter_client: %s\n' % msg)
    sys.exit(1)


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(60)
        self.s.connect(path)

    def send(self, cmd, data=b''):
        self.s.sendall(struct.pack('>I', len(data) + 1) + cmd + data)

    def read_exact(self, n):
        b = b''
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                die('connection closed by the milter')
            b += c
        return b

    def reply(self):
        (n,) = struct.unpack('>I', self.read_exact(4))
        if n == 0:
            die('empty packet')
        d = self.read_exact(n)
        return d[:1], d[1:]

    def expect_continue(self, what):
        cmd, _ = self.reply()
        if cmd != b'c':
            die('%s: expected continue, got %r' % (what, cmd))


def z(*parts):
    """NUL-terminated strings back to back."""
    return b''.join((p.encode() if isinstance(p, str) else p) + b'\0' for p in parts)


def split_message(raw):
    """Header fields (name, value with folds as LF + continuation) and the body."""
    sep = raw.find(b'\r\n\r\n')
    if sep < 0:
        die('the message has no blank line after its header')
    head, body = raw[:sep + 2], raw[sep + 4:]
    fields = []
    for line in head.split(b'\r\n')[:-1]:
        if line[:1] in (b' ', b'\t') and fields:
            fields[-1][1] += b'\n' + line
        else:
            name, _, value = line.partition(b':')
            fields.append([name, value[1:] if value.startswith(b' ') else value])
    return fields, body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('socket')
    ap.add_argument('--in', dest='inp', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--auth')
    ap.add_argument('--from', dest='mail_from', default='news@sender.test')
    ap.add_argument('--rcpt', action='append', default=[])
    ap.add_argument('--rcpt-range', nargs=2, action='append', default=[])
    a = ap.parse_args()
    rcpts = list(a.rcpt)
    for fmt, n in a.rcpt_range:
        rcpts += [fmt % i for i in range(int(n))]
    raw = open(a.inp, 'rb').read()
    fields, body = split_message(raw)

    c = Conn(a.socket)
    c.send(b'O', struct.pack('>III', 6, 0x1ff, 0))
    cmd, _ = c.reply()
    if cmd != b'O':
        die('negotiation: got %r' % cmd)
    c.send(b'C', z('client.test') + b'4' + struct.pack('>H', 25) + z('127.0.0.1'))
    c.expect_continue('connect')
    c.send(b'H', z('client.test'))
    c.expect_continue('helo')
    if a.auth:
        c.send(b'D', b'M' + z('{auth_authen}', a.auth))
    c.send(b'M', z('<%s>' % a.mail_from))
    c.expect_continue('mail from')
    for r in rcpts:
        c.send(b'R', z('<%s>' % r))
        c.expect_continue('rcpt to')
    for name, value in fields:
        c.send(b'L', z(name, value))
        c.expect_continue('header')
    c.send(b'N')
    c.expect_continue('end of header')
    for off in range(0, len(body), 65535):
        c.send(b'B', body[off:off + 65535])
        c.expect_continue('body')
    c.send(b'E')
    replaced, new_body, added = False, b'', []
    while True:
        cmd, d = c.reply()
        if cmd == b'b':
            replaced = True
            new_body += d
        elif cmd == b'h':
            name, value = d.split(b'\0')[:2]
            added.append([name, value])
        else:
            verdict = cmd
            break
    c.send(b'Q')
    c.s.close()
    out = b''.join(n + b': ' + v.replace(b'\n', b'\r\n') + b'\r\n' for n, v in fields)
    out += b''.join(n + b': ' + v + b'\r\n' for n, v in added)
    out += b'\r\n' + (new_body if replaced else body)
    open(a.out, 'wb').write(out)
    print(json.dumps({'verdict': verdict.decode(), 'replaced': replaced,
                      'added': [[n.decode(), v.decode()] for n, v in added]}))


if __name__ == '__main__':
    main()
