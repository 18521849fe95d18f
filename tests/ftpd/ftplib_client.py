#!/usr/bin/python3
"""Drives sockserv-ftpd with Python's ftplib, a client nobody here wrote.

usage: ftplib_client.py HOST PORT USER PASSWORD HOME WORKDIR
HOME is the user's home on the server's disk (to check what arrived),
WORKDIR a scratch directory.  Prints OK and exits 0 when every step
behaved as the RFCs say; raises (exit 1) otherwise.
"""
import ftplib
import hashlib
import io
import os
import sys


def main():
    host, port, user, password, home, work = sys.argv[1:7]
    port = int(port)
    data = os.urandom(3 * 1024 * 1024 + 5)

    ftp = ftplib.FTP()
    ftp.connect(host, port, timeout=20)
    ftp.login(user, password)
    assert ftp.pwd() == "/"
    print(ftp.sendcmd("FEAT").splitlines()[0])

    ftp.mkd("py")
    ftp.cwd("py")
    assert ftp.pwd() == "/py"
    ftp.storbinary("STOR data.bin", io.BytesIO(data))
    with open(os.path.join(home, "py", "data.bin"), "rb") as f:
        assert f.read() == data, "stored bytes differ"
    assert ftp.size("data.bin") == len(data)

    out = io.BytesIO()
    ftp.retrbinary("RETR data.bin", out.write)
    assert out.getvalue() == data

    # resume a download: REST + RETR
    out = io.BytesIO()
    ftp.retrbinary("RETR data.bin", out.write, rest=1000000)
    assert out.getvalue() == data[1000000:]

    # resume an upload: REST + STOR from the size already there
    ftp.storbinary("STOR half.bin", io.BytesIO(data[:1234567]))
    off = ftp.size("half.bin")
    assert off == 1234567
    ftp.storbinary("STOR half.bin", io.BytesIO(data[off:]), rest=off)
    with open(os.path.join(home, "py", "half.bin"), "rb") as f:
        assert hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest()

    names = ftp.nlst()
    assert "data.bin" in names and "half.bin" in names, names
    facts = dict(ftp.mlsd())
    assert facts["data.bin"]["type"] == "file"
    assert int(facts["data.bin"]["size"]) == len(data)
    lines = []
    ftp.retrlines("LIST", lines.append)
    assert any(line.endswith(" data.bin") for line in lines), lines

    # MFMT (draft-somers-ftp-mfxx), what a mirroring client sends after an
    # upload; MDTM, MLST and MLSD then show the time that was set.
    assert " MFMT" in ftp.sendcmd("FEAT")
    resp = ftp.sendcmd("MFMT 20210304050607 data.bin")
    assert resp == "213 Modify=20210304050607; data.bin", resp
    assert ftp.sendcmd("MDTM data.bin") == "213 20210304050607"
    assert "modify=20210304050607;" in ftp.sendcmd("MLST data.bin")
    assert dict(ftp.mlsd())["data.bin"]["modify"] == "20210304050607"
    mtime = os.stat(os.path.join(home, "py", "data.bin")).st_mtime
    assert int(mtime) == 1614834367, mtime
    for bad, code in (("MFMT 20211304050607 data.bin", "501"),
                      ("MFMT 20210304050607 missing.bin", "550"),
                      ("MFMT 20210304050607 /", "550")):
        try:
            ftp.sendcmd(bad)
            raise AssertionError(bad + " accepted")
        except ftplib.error_perm as e:
            assert str(e).startswith(code), (bad, e)

    ftp.rename("half.bin", "whole.bin")
    assert "whole.bin" in ftp.nlst()
    ftp.delete("whole.bin")
    assert "whole.bin" not in ftp.nlst()
    try:
        ftp.sendcmd("RNTO x")
        raise AssertionError("RNTO without RNFR accepted")
    except ftplib.error_perm as e:
        assert str(e).startswith("503"), e
    try:
        ftp.size("nope")
        raise AssertionError("SIZE of a missing file")
    except ftplib.error_perm as e:
        assert str(e).startswith("550"), e

    # abort(): ABOR sent as TCP urgent data in the middle of a download
    with open(os.path.join(home, "py", "big.bin"), "wb") as f:
        f.truncate(64 * 1024 * 1024)
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR big.bin")
    conn.recv(8192)
    resp = ftp.abort()
    assert resp[:3] in ("426", "225", "226"), resp
    conn.close()
    if resp.startswith("426"):
        assert ftp.voidresp().startswith("226")
    assert ftp.voidcmd("NOOP").startswith("200")

    ftp.cwd("/")
    ftp.mkd("empty")
    ftp.rmd("empty")
    ftp.quit()
    print("OK")


if __name__ == "__main__":
    main()
