#!/usr/bin/python3
"""An FTP server nobody on the team wrote (pyftpdlib), for the client tests.

Usage: ftpserver.py ROOT [--host H] [--user U --password P] [--plain]
                         [--bad-hash] [--x-path-only CMD,...]
                         [--throttle BYTES_PER_S] [--list-only]
                         [--dos-list] [--tls CERT KEY]

Prints "listening on HOST:PORT" (port 0 is bound, the real port printed)
when ready, then serves until killed.  One user (default alice/secret) with
full rights on ROOT.

Default mode adds what pyftpdlib lacks: HASH with OPTS HASH and RANG byte
ranges (draft-bryan-ftpext-hash, draft-bryan-ftp-range: RANG's end is
inclusive, "RANG 1 0" resets, HASH uses the range up) and XSHA256 / XSHA1 /
XMD5 with an optional "START END" range (end exclusive, as ProFTPD's
mod_digest), all listed in FEAT.  --plain serves stock pyftpdlib (no
checksums at all).  --bad-hash makes whole-file checksums lie, to test how
the client reports a mismatch.  --x-path-only XSHA256,... makes the named
X* commands take a path only, as some servers do while FEAT lists them: a
range gets "550", and "refused ranged XSHA256" is printed on stdout (so a
test can count how often the client asked); FEAT then lists X* only, not
HASH or RANG.  --throttle paces every data connection to BYTES_PER_S
(pyftpdlib's ThrottledDTPHandler), as a server with a per-connection limit
does.  --list-only takes MLSD and MLST away, so the client must parse
LIST.  --dos-list also writes LIST in the DOS/IIS format
("03-04-21  05:06AM  <DIR>  name", "... 1,234 name"; UTC times to the
minute) instead of pyftpdlib's "ls -l" one.  --tls serves FTPS with pyftpdlib's
TLS_FTPHandler (pyOpenSSL): AUTH TLS, PBSZ, PROT, TLS required on control
and data connections; it does not require session reuse.
"""
import argparse
import hashlib
import os
import stat
import sys
import time

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import FTPHandler, ThrottledDTPHandler, proto_cmds
from pyftpdlib.servers import FTPServer

ALGOS = {"SHA-256": "sha256", "SHA-1": "sha1", "MD5": "md5"}
XCMDS = {"XSHA256": "sha256", "XSHA1": "sha1", "XMD5": "md5"}


def digest(path, algo, start=0, end=None):
    """hex digest of bytes [start, end) of path (end None: to the end)."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        f.seek(start)
        left = None if end is None else end - start
        while left is None or left > 0:
            chunk = f.read(1 << 20 if left is None else min(1 << 20, left))
            if not chunk:
                break
            h.update(chunk)
            if left is not None:
                left -= len(chunk)
    return h.hexdigest()


class HashHandler(FTPHandler):
    proto_cmds = dict(proto_cmds)
    proto_cmds["HASH"] = dict(perm="r", auth=True, arg=True,
                              help="Syntax: HASH <SP> file-name")
    proto_cmds["RANG"] = dict(perm=None, auth=True, arg=True,
                              help="Syntax: RANG <SP> start <SP> end")
    for _x in XCMDS:
        proto_cmds[_x] = dict(perm="r", auth=True, arg=True,
                              help="Syntax: %s <SP> file-name [start end]" % _x)
    bad_hash = False
    x_path_only = ()

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._hash_algo = "SHA-256"
        self._rang = None

    def _feats(self):
        algos = ";".join(n + ("*" if n == self._hash_algo else "")
                         for n in ALGOS)
        if self.x_path_only:
            return list(XCMDS)
        return ["HASH " + algos, "RANG STREAM"] + list(XCMDS)

    def ftp_FEAT(self, line):
        self._extra_feats = self._feats()
        super().ftp_FEAT(line)

    def ftp_OPTS(self, line):
        parts = line.split()
        if parts and parts[0].upper() == "HASH":
            if len(parts) == 1:
                self.respond("200 " + self._hash_algo)
            elif len(parts) == 2 and parts[1].upper() in ALGOS:
                self._hash_algo = parts[1].upper()
                self.respond("200 " + self._hash_algo)
            else:
                self.respond("501 Unknown algorithm.")
            return
        super().ftp_OPTS(line)

    def ftp_RANG(self, line):
        try:
            start, end = (int(x) for x in line.split())
        except ValueError:
            self.respond("501 Syntax: RANG start end.")
            return
        if start == 1 and end == 0:
            self._rang = None
            self.respond("350 Range reset.")
        elif start < 0 or end < start:
            self.respond("501 Bad range.")
        else:
            self._rang = (start, end)
            self.respond("350 Restarting at %d. Ending byte at %d." % (start, end))

    def _lie(self, hexd):
        return hashlib.sha256(b"not " + hexd.encode()).hexdigest()[:len(hexd)]

    def ftp_HASH(self, path):
        rang, self._rang = self._rang, None
        if not os.path.isfile(path):
            self.respond("550 Not a file.")
            return
        size = os.path.getsize(path)
        start, end = (0, size) if rang is None else (rang[0], rang[1] + 1)
        if end > size:
            self.respond("501 Range beyond the end of the file.")
            return
        algo = ALGOS[self._hash_algo]
        hexd = digest(path, algo, start, end)
        if self.bad_hash and rang is None:
            hexd = self._lie(hexd)
        self.respond("213 %s %d-%d %s %s" % (self._hash_algo, start,
                                              end - 1 if rang else end,
                                              hexd, self.fs.fs2ftp(path)))

    def _xhash(self, cmd, path):
        algo = XCMDS[cmd]
        rng = None
        parts = path.rsplit(" ", 2)
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            rng = (int(parts[1]), int(parts[2]))
            path = parts[0]
            if cmd in self.x_path_only:
                print("refused ranged " + cmd, flush=True)
                # What such a server says: it took "path 0 N" as a name.
                self.respond("550 %s %s %s: No such file or directory." %
                             (self.fs.fs2ftp(path), parts[1], parts[2]))
                return
        if not os.path.isfile(path):
            self.respond("550 Not a file.")
            return
        size = os.path.getsize(path)
        start, end = rng if rng else (0, size)
        if end > size or start > end:
            self.respond("501 Bad range.")
            return
        hexd = digest(path, algo, start, end)
        if self.bad_hash and rng is None:
            hexd = self._lie(hexd)
        self.respond("250 " + hexd)

    def ftp_XSHA256(self, path):
        self._xhash("XSHA256", path)

    def ftp_XSHA1(self, path):
        self._xhash("XSHA1", path)

    def ftp_XMD5(self, path):
        self._xhash("XMD5", path)


class DosFS(AbstractedFS):
    """LIST lines as IIS writes them (its MS-DOS style)."""

    def format_list(self, basedir, listing, ignore_err=True):
        for name in listing:
            try:
                st = self.lstat(os.path.join(basedir, name))
            except OSError:
                if ignore_err:
                    continue
                raise
            t = time.gmtime(st.st_mtime)
            hour = t.tm_hour % 12 or 12
            when = "%02d-%02d-%02d  %02d:%02d%s" % (
                t.tm_mon, t.tm_mday, t.tm_year % 100, hour, t.tm_min,
                "PM" if t.tm_hour >= 12 else "AM")
            if stat.S_ISDIR(st.st_mode):
                what = "%-14s" % "<DIR>"
            else:
                what = "%14s" % "{:,}".format(st.st_size)
            line = "%s       %s %s\r\n" % (when, what, name)
            yield line.encode("utf8", self.cmd_channel.unicode_errors)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--bad-hash", action="store_true")
    ap.add_argument("--x-path-only", default="")
    ap.add_argument("--throttle", type=int, default=0)
    ap.add_argument("--list-only", action="store_true")
    ap.add_argument("--dos-list", action="store_true")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    a = ap.parse_args()

    auth = DummyAuthorizer()
    auth.add_user(a.user, a.password, a.root, perm="elradfmwMT")
    handler = FTPHandler if a.plain else HashHandler
    if a.tls:
        from pyftpdlib.handlers import TLS_FTPHandler
        # TLS first in the MRO; both command tables merged.
        cmds = dict(handler.proto_cmds)
        cmds.update(TLS_FTPHandler.proto_cmds)
        handler = type("TestHandler", (TLS_FTPHandler, handler),
                       {"proto_cmds": cmds})
        handler.certfile, handler.keyfile = a.tls
        handler.tls_control_required = True
        handler.tls_data_required = True
    else:
        handler = type("TestHandler", (handler,), {})
    if a.dos_list:
        handler.abstracted_fs = DosFS
    if a.list_only or a.dos_list:
        handler.proto_cmds = {k: v for k, v in handler.proto_cmds.items()
                              if k not in ("MLSD", "MLST")}
    handler.authorizer = auth
    handler.banner = "test server ready"
    handler.auth_failed_timeout = 0.01
    if not a.plain:
        handler.bad_hash = a.bad_hash
        handler.x_path_only = tuple(c for c in a.x_path_only.split(",") if c)
    if a.throttle:
        dtp = type("Throttled", (ThrottledDTPHandler,), {})
        dtp.read_limit = dtp.write_limit = a.throttle
        handler.dtp_handler = dtp
    server = FTPServer((a.host, 0), handler)
    host, port = server.socket.getsockname()[:2]
    shown = "[%s]" % host if ":" in host else host
    print("listening on %s:%d" % (shown, port), flush=True)
    import logging
    logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
    try:
        server.serve_forever(handle_exit=True)
    finally:
        server.close_all()


if __name__ == "__main__":
    sys.exit(main())
