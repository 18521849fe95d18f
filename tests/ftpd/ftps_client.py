#!/usr/bin/python3
"""Python's ftplib.FTP_TLS against sockserv-ftpd (run by test_ftps.c).

usage: ftps_client.py HOST PORT USER PASSWORD HOME WORKDIR MODE [tls12]

MODE
  stock     stock FTP_TLS, whose data connections do not resume the control
            connection's TLS session: with require_tls_reuse on (the
            default) the first transfer must be refused with 522 and
            "session reuse required"; prints "REFUSED <reply>".
  stock-ok  stock FTP_TLS against a server with require_tls_reuse = no:
            auth, prot_p, list, retr, stor must all work.
  reuse     a small FTP_TLS subclass whose data connections pass session=
            of the control socket: the same operations must work with
            reuse required, in passive and in active (PORT) mode.
tls12: pin TLS 1.2 and turn tickets off, so resumption uses TLS 1.2
session ids.

Prints "OK" at the end when every check passed; any failure raises.
"""
import ftplib
import hashlib
import io
import os
import ssl
import sys


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """Data connections resume the control connection's TLS session."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
        return conn, size


def context(tls12):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main():
    host, port, user, pw, home, work, mode = sys.argv[1:8]
    tls12 = len(sys.argv) > 8 and sys.argv[8] == "tls12"
    cls = ReusingFTP_TLS if mode == "reuse" else ftplib.FTP_TLS
    ftp = cls(context=context(tls12), timeout=20)
    ftp.connect(host, int(port))
    feat = ftp.sendcmd("FEAT")
    check("AUTH TLS" in feat and "PBSZ" in feat and "PROT" in feat, feat)
    ftp.auth()                       # AUTH TLS
    ftp.login(user, pw)
    ftp.prot_p()                     # PBSZ 0 + PROT P
    version = ftp.sock.version()
    if tls12:
        check(version == "TLSv1.2", version)

    data = os.urandom(300000)
    with open(os.path.join(home, "py-down.bin"), "wb") as f:
        f.write(data)

    if mode == "stock":
        try:
            ftp.retrlines("LIST", lambda line: None)
        except ftplib.error_perm as e:
            print("REFUSED", e)
            ftp.quit()
            print("OK")
            return
        raise AssertionError("LIST worked without session reuse")

    lines = []
    ftp.retrlines("LIST", lines.append)
    check(any(l.endswith(" py-down.bin") for l in lines), lines)
    buf = io.BytesIO()
    ftp.retrbinary("RETR py-down.bin", buf.write)
    check(buf.getvalue() == data, "RETR content differs")
    up = os.urandom(200001)
    ftp.storbinary("STOR py-up.bin", io.BytesIO(up))
    with open(os.path.join(home, "py-up.bin"), "rb") as f:
        check(hashlib.sha256(f.read()).digest() == hashlib.sha256(up).digest(),
              "STOR content differs")
    # a second round on the same control connection: the tickets move on
    buf = io.BytesIO()
    ftp.retrbinary("RETR py-up.bin", buf.write)
    check(buf.getvalue() == up, "second RETR differs")
    names = ftp.nlst()
    check("py-up.bin" in names, names)
    # active mode (PORT): the server connects, and is still the TLS server
    ftp.set_pasv(False)
    buf = io.BytesIO()
    ftp.retrbinary("RETR py-down.bin", buf.write)
    check(buf.getvalue() == data, "active RETR differs")
    ftp.storbinary("STOR py-active.bin", io.BytesIO(up))
    with open(os.path.join(home, "py-active.bin"), "rb") as f:
        check(f.read() == up, "active STOR differs")
    ftp.set_pasv(True)
    print("version", version)
    ftp.quit()
    print("OK")


if __name__ == "__main__":
    main()
