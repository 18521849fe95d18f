#!/usr/bin/python3
"""An FTP proxy that cuts the link once, after N data bytes.

Usage: cutproxy.py TARGET_HOST TARGET_PORT CUT_AFTER

Prints "listening on 127.0.0.1:PORT" when ready.  Control connections are
relayed to the target; 229/227 replies are rewritten so the data connection
also goes through here.  When the data bytes relayed in one session (either
direction) reach CUT_AFTER, that session's data and control connections
are all dropped, as a network failure would; this happens once, later
sessions are relayed untouched.  Writes "cut at N" on stderr when it cuts.

The server's order is kept: a transfer's data reaches the client only after
the 1xx reply the server sent before it.  Control and data are relayed by
different threads, and without this a loaded machine can relay a whole
megabyte into the client's socket buffer while the 150 still waits here; the
cut then drops the 150, the client never learns that the transfer started
and rightly keeps nothing, and the cut is not "in the middle of a file".
For the same reason an upload's cut lets the server read every byte that
passed before its control connection goes (see let_server_read).
"""
import re
import select
import socket
import sys
import threading

lock = threading.Lock()
state = {"cut_done": False}
# How long data waits for its 1xx reply before going anyway (a server that
# sends none must not hang here).
PRELIM_WAIT_S = 30
# How long a cut upload waits for the server to read what passed.
DRAIN_WAIT_S = 10


def close_all(socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass


class Session:
    def __init__(self, client, target, cut_after):
        self.client = client
        self.target = target
        self.cut_after = cut_after
        self.socks = [client]
        self.data_bytes = 0
        self.dead = False
        # 1xx replies relayed to the client so far, and its condition.
        self.prelims = 0
        self.relayed = threading.Condition(lock)

    def track(self, s):
        with lock:
            if self.dead:
                close_all([s])
                return False
            self.socks.append(s)
            return True

    def count(self, n):
        """Adds n data bytes; returns how many may pass before the cut."""
        with lock:
            if self.dead:
                return 0
            if state["cut_done"]:
                return n
            room = self.cut_after - self.data_bytes
            self.data_bytes += n
            if self.data_bytes < self.cut_after:
                return n
            state["cut_done"] = True
            self.dead = True
            print("cut at %d" % self.cut_after, file=sys.stderr, flush=True)
            return max(room, 0)

    def kill(self):
        with lock:
            self.dead = True
            self.relayed.notify_all()
            socks = list(self.socks)
        close_all(socks)

    def relayed_prelim(self):
        with lock:
            self.prelims += 1
            self.relayed.notify_all()

    def wait_prelim(self, n):
        """Waits until n 1xx replies were relayed (or the session died)."""
        with lock:
            self.relayed.wait_for(lambda: self.dead or self.prelims >= n,
                                  PRELIM_WAIT_S)

    def let_server_read(self, dst):
        """An upload was cut: the server gets an end of file after what
        passed, and the control connection goes only once the server closed
        the data connection (read it all) or after DRAIN_WAIT_S.  Closing
        both at once lets a server that handles the control connection's
        end first drop bytes it had not read yet (pyftpdlib kept anything
        from 0 to all of them), which no real cut makes it do: a cut the
        server never hears of leaves it reading what arrived."""
        try:
            dst.shutdown(socket.SHUT_WR)
            select.select([dst], [], [], DRAIN_WAIT_S)
        except (OSError, ValueError):
            pass

    def pump_data(self, src, dst, prelim=None, upload=False):
        """Relays src to dst; with prelim, the first bytes wait for that
        many 1xx replies to have reached the client."""
        try:
            while True:
                buf = src.recv(65536)
                if not buf:
                    break
                if prelim is not None:
                    self.wait_prelim(prelim)
                    prelim = None
                allowed = self.count(len(buf))
                if allowed:
                    dst.sendall(buf[:allowed])
                if allowed < len(buf) or self.dead:
                    if upload:
                        self.let_server_read(dst)
                    self.kill()
                    return
        except OSError:
            pass
        # A normal end of the data stream: pass the EOF on.
        for s in (dst,):
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def open_data(self, port):
        """A listener that relays one data connection to target:port.  Its
        transfer's 1xx is the next one the server sends."""
        with lock:
            prelim = self.prelims + 1
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        if not self.track(lsock):
            return None

        def run():
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            finally:
                lsock.close()
            try:
                s = socket.create_connection((self.target[0], port), timeout=10)
                s.settimeout(None)
            except OSError:
                c.close()
                return
            if not (self.track(c) and self.track(s)):
                return
            threading.Thread(target=self.pump_data, args=(s, c, prelim),
                             daemon=True).start()
            threading.Thread(target=self.pump_data, args=(c, s, None, True),
                             daemon=True).start()

        threading.Thread(target=run, daemon=True).start()
        return lsock.getsockname()[1]

    def rewrite(self, line):
        m = re.match(rb"^229 (.*)\(\|\|\|(\d+)\|\)(.*)$", line)
        if m:
            port = self.open_data(int(m.group(2)))
            if port:
                return b"229 %s(|||%d|)%s" % (m.group(1), port, m.group(3))
        m = re.match(rb"^227 (.*?)(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)(.*)$", line)
        if m:
            port = self.open_data(int(m.group(6)) * 256 + int(m.group(7)))
            if port:
                return b"227 %s127,0,0,1,%d,%d%s" % (m.group(1), port // 256,
                                                      port % 256, m.group(8))
        return line

    def run(self):
        try:
            server = socket.create_connection(self.target, timeout=10)
            server.settimeout(None)
        except OSError:
            self.kill()
            return
        if not self.track(server):
            return

        def up():
            try:
                while True:
                    buf = self.client.recv(65536)
                    if not buf:
                        break
                    if not self.dead:  # cut: nothing more reaches either side
                        server.sendall(buf)
            except OSError:
                pass
            self.kill()

        threading.Thread(target=up, daemon=True).start()
        pending = b""
        try:
            while True:
                buf = server.recv(65536)
                if not buf:
                    break
                pending += buf
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if self.dead:
                        continue  # the reply to a cut upload stays here
                    self.client.sendall(self.rewrite(line.rstrip(b"\r")) + b"\r\n")
                    if re.match(rb"^1\d\d ", line):
                        self.relayed_prelim()
        except OSError:
            pass
        self.kill()


def main():
    host, port, cut = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    print("listening on 127.0.0.1:%d" % lsock.getsockname()[1], flush=True)
    while True:
        c, _ = lsock.accept()
        sess = Session(c, (host, port), cut)
        threading.Thread(target=sess.run, daemon=True).start()


if __name__ == "__main__":
    main()
