#!/usr/bin/python3
"""bench/ref_pyftpdlib.py - pyftpdlib as bench/ftp's reference FTP server.

    ref_pyftpdlib.py --home DIR --user NAME --password PW
                     [--cert PEM --key PEM] [--listen 127.0.0.1:0]

pyftpdlib's own server as a user would run it: one process, its asynchronous
loop (FTPServer), a DummyAuthorizer with one user, full permissions on DIR.
With --cert, TLS_FTPHandler: explicit FTPS on request (AUTH TLS), plaintext
still allowed, as sockserv-ftpd on loopback.  No session limits (the bench
holds 1,000 sessions).  Prints "listening on HOST:PORT" when ready.
"""
import argparse
import logging
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--listen", default="127.0.0.1:0")
    a = ap.parse_args()
    # Warnings only: pyftpdlib logs every command at INFO, which would
    # measure the terminal, not the server.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    auth = DummyAuthorizer()
    auth.add_user(a.user, a.password, a.home, perm="elradfmwMT")
    if a.cert:
        class Handler(TLS_FTPHandler):
            pass
        Handler.certfile = a.cert
        Handler.keyfile = a.key
        Handler.tls_control_required = False
        Handler.tls_data_required = False
    else:
        class Handler(FTPHandler):
            pass
    Handler.authorizer = auth
    Handler.banner = "pyftpdlib ready"
    host, port = a.listen.rsplit(":", 1)
    server = FTPServer((host, int(port)), Handler)
    server.max_cons = 0
    server.max_cons_per_ip = 0
    h, p = server.socket.getsockname()[:2]
    print(f"listening on {h}:{p}", flush=True)
    server.serve_forever(handle_exit=True)


if __name__ == "__main__":
    main()
