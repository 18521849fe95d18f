#!/usr/bin/python3
"""Drives sockserv-ftpd through HAProxy with Python's ftplib, every socket
bound to a loopback address of its own, so the server can only know the
client's address from the PROXY header.

usage: proxy_client.py HOST PORT USER PASSWORD HOME CLIENT_IP OTHER_IP LIMITED_IP
HOST:PORT is HAProxy's frontend (it forwards only the control port; the
data connections go straight to the node, from CLIENT_IP too).  Prints OK
and exits 0 when every step behaved; raises (exit 1) otherwise.
"""
import ftplib
import io
import os
import sys


def connect(host, port, source):
    ftp = ftplib.FTP(source_address=(source, 0), timeout=20)
    # Use the address the node announces in 227, not HAProxy's.
    ftp.trust_server_pasv_ipv4_address = True
    ftp.connect(host, port)
    return ftp


def main():
    host, port, user, password, home, client_ip, other_ip, limited_ip = \
        sys.argv[1:9]
    port = int(port)
    data = os.urandom(1024 * 1024 + 3)

    ftp = connect(host, port, client_ip)
    ftp.login(user, password)
    status = ftp.sendcmd("STAT")
    assert "Connected from %s:" % client_ip in status, status

    # Passive: the node checks that the data connection comes from the
    # client's address (the header's), not HAProxy's.
    ftp.set_pasv(True)
    ftp.storbinary("STOR pasv.bin", io.BytesIO(data))
    with open(os.path.join(home, "pasv.bin"), "rb") as f:
        assert f.read() == data, "stored bytes differ"
    out = io.BytesIO()
    ftp.retrbinary("RETR pasv.bin", out.write)
    assert out.getvalue() == data

    # Active: PORT names the client's address, which must be the header's.
    ftp.set_pasv(False)
    out = io.BytesIO()
    ftp.retrbinary("RETR pasv.bin", out.write)
    assert out.getvalue() == data

    # A PORT to another host than the client's is refused.
    try:
        ftp.sendcmd("PORT 127,0,0,9,7,208")
        raise AssertionError("PORT to a foreign host accepted")
    except ftplib.error_perm as e:
        assert str(e).startswith("5"), e
    ftp.quit()

    # Failed logins count against the client's address, not HAProxy's:
    # OTHER_IP gets banned, CLIENT_IP goes on logging in.
    for _ in range(2):
        bad = connect(host, port, other_ip)
        try:
            bad.login("mallory", "wrong")
            raise AssertionError("wrong password accepted")
        except (ftplib.error_perm, ftplib.error_temp):
            pass  # 530, or 421 once the failure that bans is counted
        bad.close()
    try:
        connect(host, port, other_ip)
        raise AssertionError("banned address got a session")
    except ftplib.error_temp as e:
        assert str(e).startswith("421"), e
    ftp = connect(host, port, client_ip)
    ftp.login(user, password)

    # max_sessions_per_ip (2 here) counts the client's address too: a
    # third session from LIMITED_IP is refused while CLIENT_IP has one.
    held = [connect(host, port, limited_ip) for _ in range(2)]
    try:
        connect(host, port, limited_ip)
        raise AssertionError("third session from one address accepted")
    except ftplib.error_temp as e:
        assert "from your address" in str(e), e
    for h in held:
        h.quit()
    ftp.quit()
    print("OK")


if __name__ == "__main__":
    main()
