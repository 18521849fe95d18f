#!/usr/bin/python3
"""An independent TLS client for the tests: Python's ssl module.

usage: tls_client.py HOST PORT CAFILE [--expect-fail]
Sends a few lines and a 200 kB block to an echo server over TLS, checks
every byte back, prints "ok <version>" and exits 0.  With --expect-fail the
handshake must fail certificate verification: prints "refused <reason>".
"""
import socket
import ssl
import sys


def main():
    host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    expect_fail = "--expect-fail" in sys.argv[4:]
    ctx = ssl.create_default_context(cafile=cafile)
    raw = socket.create_connection((host, port), timeout=10)
    try:
        conn = ctx.wrap_socket(raw, server_hostname="localhost")
    except ssl.SSLCertVerificationError as e:
        if expect_fail:
            print("refused", e.verify_message)
            return 0
        raise
    if expect_fail:
        print("handshake succeeded but should not have")
        return 1
    with conn:
        f = conn.makefile("rwb")
        for line in (b"hello from python\n", b"second line\n"):
            f.write(line)
            f.flush()
            back = f.readline()
            if back != line:
                print("mismatch", back)
                return 1
        block = bytes((i * 31) & 0xFF for i in range(200000)).replace(b"\n", b"x") + b"\n"
        f.write(block)
        f.flush()
        back = f.readline()
        if back != block:
            print("block mismatch", len(back))
            return 1
        version = conn.version()
        conn.unwrap()  # close_notify both ways
    print("ok", version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
