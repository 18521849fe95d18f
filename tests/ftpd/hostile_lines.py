#!/usr/bin/python3
"""Writes the malformed and hostile command lines that test_hardening.c
replays against sockserv-ftpd (doc/security.md lists the kinds).

usage: hostile_lines.py OUTFILE

One line per command, raw bytes, ended by LF; the replayer sends each with
CRLF after it, so a line may hold NUL, CR, Telnet IAC bytes or invalid
UTF-8, but never LF.  Lines starting with "#!" are directions for the
replayer, not sent: "#!anon" (a fresh connection, not logged in) and
"#!login" (a fresh connection logged in as alice).  The home of alice has a
symlink "escape" to a directory outside it, which the test checksums.
"""
import sys

# Every command the server knows (commands.c), and some it does not.
COMMANDS = [
    "ABOR", "ACCT", "ADAT", "ALLO", "APPE", "AUTH", "CCC", "CDUP", "CONF",
    "CWD", "DELE", "ENC", "EPRT", "EPSV", "FEAT", "HASH", "HELP", "LIST",
    "MDTM", "MFMT", "MIC", "MKD", "MLSD", "MLST", "MODE", "NLST", "NOOP", "OPTS",
    "PASV", "PBSZ", "PORT", "PROT", "PWD", "RANG", "REIN", "REST", "RETR",
    "RMD", "RNFR", "RNTO", "SITE", "SIZE", "SMNT", "STAT", "STOR", "STOU",
    "STRU", "SYST", "TYPE", "XCRC", "XCUP", "XCWD", "XMD5", "XMKD", "XPWD",
    "XRMD", "XSHA1", "XSHA256",
    # unknown or odd verbs
    "SITE EXEC", "XXXX", "LPRT", "LPSV", "MFMX", "HOST", "LANG", "CLNT",
]
# Commands that would end the session or log in again are sent where the
# replayer expects it (USER/PASS/QUIT have their own lines below).
NO_BULK = {"AUTH"}  # "AUTH x" answers 504; AUTH TLS would start a handshake

ESCAPES = [
    b"..", b"../..", b"../../../../../../etc/passwd", b"/../../outside",
    b"/..", b"escape/secret.txt", b"escape/../escape/secret.txt",
    b"./escape", b"~", b"~root", b"~/../..", b"..\\..\\windows",
    b"%2e%2e/%2e%2e/etc", b"/etc/shadow", b"//etc//passwd",
    b"a/" * 400 + b"b", b"dir/\x00/etc", b"\x00", b"x\x00y",
    b"\xc0\xae\xc0\xae/\xc0\xae\xc0\xae",  # overlong UTF-8 for "../.."
    b"\xff\xfe\xfd", b"\xed\xa0\x80",       # invalid UTF-8, a surrogate
    b"name\rwith\rcr", b"*", b"?", b"[a-z]*", b"-la ../..",
    b"$(id)", b"`id`", b"|id", b";id", b"%s%s%s%n%n", b"%x" * 40,
]


def out(lines, b):
    assert b"\n" not in b
    lines.append(b)


def main():
    lines = []
    # --- before login ---------------------------------------------------
    out(lines, b"#!anon")
    for c in COMMANDS:
        out(lines, c.encode())
        out(lines, c.encode() + b" x")
        out(lines, c.encode() + b" ../../../etc/passwd")
    out(lines, b"USER")
    out(lines, b"PASS")
    out(lines, b"PASS nouser")
    out(lines, b"USER " + b"u" * 1000)
    out(lines, b"USER alice\x00root")
    out(lines, b"USER ../../root")
    out(lines, b"USER alice")
    out(lines, b"PASS wrong")
    out(lines, b"USER root")
    out(lines, b"PASS %s%s%n")
    out(lines, b"RETR /etc/passwd")
    out(lines, b"AUTH")
    out(lines, b"AUTH SSLv2")
    out(lines, b"AUTH " + b"T" * 500)
    out(lines, b"PBSZ 0")
    out(lines, b"PROT P")
    out(lines, b"CCC")
    # line shapes
    out(lines, b"")
    out(lines, b" ")
    out(lines, b" NOOP")
    out(lines, b"NOOP ")
    out(lines, b"\t\tNOOP")
    out(lines, b"noop")
    out(lines, b"NoOp")
    out(lines, b"N" * 9)
    out(lines, b"NOOP" * 600)                      # long, still one line
    out(lines, b"NOOP " + b"A" * 5000)              # over max_line_length
    out(lines, b"X" * 100000)                      # far over it
    out(lines, b"NO\x00OP")
    out(lines, b"\x00")
    out(lines, b"\x00" * 100)
    out(lines, b"NOOP\x00trailing")
    out(lines, b"NOOP\rQUIT")
    out(lines, b"\r")
    out(lines, b"\r\r\r")
    out(lines, b"\xff\xf4\xff\xf2ABOR")             # Telnet IP DM ABOR
    out(lines, b"\xff\xff\xff")
    out(lines, b"\xff")
    out(lines, b"\xff\xfb\x01NOOP")                 # IAC WILL ECHO, NOOP
    out(lines, b"\xff\xfd\x18\xff\xfe\x1fSYST")     # IAC DO, IAC DONT, SYST
    out(lines, b"\xfe\xff\xfe\xff")
    out(lines, b"\xef\xbb\xbfNOOP")                 # a UTF-8 BOM
    out(lines, b"\xc3\xa9\xc3\xa9")
    out(lines, b"\x1b[2J\x1b[HNOOP")               # terminal escapes
    out(lines, b"GET / HTTP/1.1")
    out(lines, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a TLS hello
    out(lines, b"SSH-2.0-OpenSSH_9.0")

    # --- after login: every command with missing/extra/huge arguments ----
    out(lines, b"#!login")
    for c in COMMANDS:
        if c in NO_BULK:
            continue
        out(lines, c.encode())
        out(lines, c.encode() + b" x y z")
        out(lines, c.encode() + b" " + b"Z" * 1500)
    out(lines, b"TYPE I")
    for path in ESCAPES:
        for c in (b"CWD", b"RETR", b"SIZE", b"MDTM", b"DELE", b"RMD", b"MKD",
                  b"MLST", b"STAT", b"RNFR", b"HASH", b"XCRC"):
            out(lines, c + b" " + path)
        # MFMT changes what the tree hash of the outside sees (mtimes)
        out(lines, b"MFMT 20000101000000 " + path)
    out(lines, b"CWD /")
    # numbers out of range, signs, garbage
    for l in [b"REST -1", b"REST 99999999999999999999999", b"REST 0x10",
              b"REST 1e9", b"REST  5", b"REST 0", b"ALLO -5", b"ALLO 1 R 2",
              b"ALLO 99999999999999999999", b"RANG 5 1",
              b"RANG 18446744073709551616 1", b"RANG -1 -1", b"RANG 1 0",
              b"MFMT 99999999999999999999 x", b"MFMT -0000101000000 x",
              b"MFMT 20000101000000.9999999999999 x", b"MFMT 00000000000000 x",
              b"MFMT 20000101000000\x00 x", b"MFMT 20000101000000  ",
              b"MODE Z", b"MODE", b"TYPE X", b"TYPE L 7", b"TYPE A T",
              b"TYPE E", b"TYPE I", b"STRU R", b"STRU P",
              b"OPTS MLST " + b";" * 1000, b"OPTS MLST type;;;size;x;",
              b"OPTS HASH NOPE", b"OPTS UTF8 MAYBE", b"OPTS", b"OPTS " + b"O" * 1500,
              b"SITE QUOTA x", b"SITE CHMOD 777 /", b"SITE EXEC /bin/sh",
              b"SITE", b"SITE " + b"\xff" * 20, b"HELP " + b"A" * 1000,
              b"HELP \x00", b"XCRC \"unterminated", b"XCRC \"a\" 5 1",
              b"XSHA256 \"\" 0 99999999999999999999", b"HASH",
              b"EPSV 3", b"EPSV ALLX", b"EPSV -1",
              b"PORT 999,1,1,1,1,1", b"PORT 127,0,0,1,0,0", b"PORT 127,0,0,1,0,21",
              b"PORT 127,0,0,1,255,255,1", b"PORT ,,,,,", b"PORT 10,0,0,1,4,1",
              b"PORT 127,0,0,2,4,1", b"PORT 255,255,255,255,255,255",
              b"PORT -1,0,0,1,4,1", b"PORT 127,0,0,1,4,1",
              b"EPRT |1|127.0.0.1|0|", b"EPRT |2|::1|70000|", b"EPRT ||||",
              b"EPRT |1|127.0.0.1|65536|", b"EPRT |1|127.0.0.1|80|",
              b"EPRT |1|10.0.0.1|5000|", b"EPRT |1|999.0.0.1|5000|",
              b"EPRT |3|x|5000|", b"EPRT x1x127.0.0.1x5000x",
              b"EPRT |1|127.0.0.1|5000", b"EPRT " + b"|" * 200,
              b"PROT P", b"PBSZ 0", b"CCC", b"AUTH TLS-X", b"USER bob",
              b"PASS bob", b"REIN", b"ACCT x"]:
        out(lines, l)
    # data commands: no data connection prepared, then one nobody opens
    out(lines, b"RETR nothing")
    out(lines, b"LIST")
    out(lines, b"PORT 127,0,0,1,4,1")   # nothing listens on 1025
    out(lines, b"RETR nothing")
    out(lines, b"STOR escape/planted.txt")
    out(lines, b"PASV")
    out(lines, b"LIST ../../..")        # nobody connects: data_timeout
    out(lines, b"EPSV")
    out(lines, b"STOR ../../../planted.txt")
    out(lines, b"EPSV ALL")
    out(lines, b"PASV")
    out(lines, b"PORT 127,0,0,1,4,1")
    # renames and removals that try to leave the home
    for l in [b"RNFR .", b"RNTO ../x", b"RNFR escape", b"RNTO ../../y",
              b"RNFR ../../outside", b"RNTO mine", b"RNTO z",
              b"RNFR escape/secret.txt", b"RNTO stolen.txt",
              b"DELE escape/secret.txt", b"RMD escape", b"RMD /",
              b"RMD .", b"DELE /", b"MKD escape/newdir", b"MKD ../../newdir",
              b"STOU ../x", b"STOU escape/x", b"APPE escape/secret.txt",
              b"CWD escape", b"CDUP", b"PWD"]:
        out(lines, l)
    # the end of the session: QUIT, then commands on a fresh one
    out(lines, b"QUIT")
    out(lines, b"#!login")
    out(lines, b"NOOP")
    out(lines, b"#!anon")
    for i in range(3):          # max_login_failures: the third ends it
        out(lines, b"USER alice")
        out(lines, b"PASS not-the-password")
    out(lines, b"#!anon")
    out(lines, b"NOOP")

    with open(sys.argv[1], "wb") as f:
        for l in lines:
            f.write(l + b"\n")
    sent = sum(1 for l in lines if not l.startswith(b"#!"))
    print(sent)


if __name__ == "__main__":
    main()
