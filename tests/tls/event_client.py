#!/usr/bin/python3
"""Python's ssl module against an event-mode (EventMixIn) TLS server.

usage: event_client.py MODE HOST PORT CAFILE

  big       1 MiB of patterned bytes written (non-blocking, one thread) while the
            echo is read back; every byte compared; then close_notify both
            ways (unwrap)
  quit      "QUIT\\n" -> "BYE\\n", then the server's close: it must be a
            close_notify (suppress_ragged_eofs off: a bare EOF raises)
  starttls  a plaintext line, "STARTTLS\\n" -> "OK\\n", then TLS on the same
            socket: a line echoed, "VERSION\\n" answered
  pieces    the whole TLS conversation through a memory BIO, sent to the
            server one byte per send() (TCP_NODELAY): records arrive in
            pieces

Prints "ok <detail>" and exits 0, or prints what went wrong and exits 1.
"""
import select
import socket
import ssl
import sys
import time


def context(cafile):
    return ssl.create_default_context(cafile=cafile)


def read_exact(conn, n):
    out = b""
    while len(out) < n:
        b = conn.recv(min(65536, n - len(out)))
        if not b:
            break
        out += b
    return out


def read_line(conn):
    out = b""
    while not out.endswith(b"\n"):
        b = conn.recv(1)
        if not b:
            break
        out += b
    return out


def big(host, port, cafile):
    # One thread, the socket non-blocking: writing and reading the echo at
    # once without two threads on one SSL object, which OpenSSL does not
    # allow (a reader thread racing the writer saw a spurious EOF).
    ctx = context(cafile)
    conn = ctx.wrap_socket(socket.create_connection((host, port), timeout=30),
                           server_hostname="localhost")
    data = bytes((i * 7 + (i >> 12)) & 0xFF for i in range(1 << 20))
    conn.setblocking(False)
    sent, back = 0, bytearray()
    deadline = time.monotonic() + 60
    while len(back) < len(data):
        if time.monotonic() > deadline:
            return f"timeout: {sent} bytes sent, {len(back)} back"
        writing = sent < len(data)
        select.select([conn], [conn] if writing else [], [], 1.0)
        if writing:
            try:
                sent += conn.send(data[sent:sent + 65536])
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass  # the same bytes again, once the socket is ready
        while True:
            try:
                b = conn.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            if not b:
                return f"echo differs: the server closed after {len(back)} bytes"
            back += b
    if back != data:
        first = next((i for i in range(min(len(back), len(data)))
                      if back[i] != data[i]), min(len(back), len(data)))
        return f"echo differs: {len(back)} bytes back, first difference at {first}"
    conn.settimeout(30)
    version = conn.version()
    conn.unwrap()  # close_notify both ways
    conn.close()
    return f"ok {version} {len(back)}"


def quit_(host, port, cafile):
    ctx = context(cafile)
    conn = ctx.wrap_socket(socket.create_connection((host, port), timeout=30),
                           server_hostname="localhost",
                           suppress_ragged_eofs=False)
    conn.sendall(b"QUIT\n")
    line = read_line(conn)
    if line != b"BYE\n":
        return f"reply {line!r}"
    try:
        rest = conn.recv(100)
    except ssl.SSLEOFError as e:
        return f"the server closed without close_notify ({e})"
    if rest != b"":
        return f"more after BYE: {rest!r}"
    conn.close()
    return "ok close_notify"


def starttls(host, port, cafile):
    raw = socket.create_connection((host, port), timeout=30)
    raw.sendall(b"plain line\n")
    if read_line(raw) != b"plain line\n":
        return "plaintext echo failed"
    raw.sendall(b"STARTTLS\n")
    line = read_line(raw)  # byte at a time: not one TLS byte taken
    if line != b"OK\n":
        return f"STARTTLS reply {line!r}"
    conn = context(cafile).wrap_socket(raw, server_hostname="localhost")
    conn.sendall(b"secret line\n")
    if read_line(conn) != b"secret line\n":
        return "echo over TLS failed"
    conn.sendall(b"VERSION\n")
    version = read_line(conn).decode().strip()
    conn.unwrap()
    conn.close()
    return f"ok {version}"


def pieces(host, port, cafile):
    sock = socket.create_connection((host, port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = context(cafile).wrap_bio(incoming, outgoing,
                                   server_hostname="localhost")
    sent = 0

    def push():
        nonlocal sent
        data = outgoing.read()
        for i in range(len(data)):
            sock.sendall(data[i:i + 1])
        sent += len(data)

    def pull():
        b = sock.recv(65536)
        if not b:
            raise ConnectionError("server closed")
        incoming.write(b)

    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            push()
            pull()
    push()
    msg = b"in pieces " * 1000 + b"\n"
    obj.write(msg)
    push()
    back = b""
    while len(back) < len(msg):
        try:
            back += obj.read(65536)
        except ssl.SSLWantReadError:
            pull()
    if back != msg:
        return f"echo differs ({len(back)} bytes)"
    return f"ok {obj.version()} {sent}"


def main():
    mode, host, port, cafile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    fn = {"big": big, "quit": quit_, "starttls": starttls, "pieces": pieces}[mode]
    result = fn(host, port, cafile)
    print(result)
    return 0 if result.startswith("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
