#!/usr/bin/python3
"""bench/soak.py - many FTP sessions against one sockserv-ftpd for minutes.

Starts its own sockserv-ftpd (port 0, a temp data dir, the certificate the
server generates there on its first run, users made with `sockserv-ftpd
user add` at the test KDF cost), then runs SESSIONS client threads until
the time is up.  Each thread connects (plain or FTPS, alternately), logs in
(sometimes with a wrong password first), does a random run of operations,
quits and starts again:

  list    LIST of its own directory: the names must be the files it has
  mlsd    MLSD of the same: names and sizes must match
  put     STOR of new random bytes; SIZE and XSHA256 must match
  get     RETR of one of its files: every byte is compared
  cut_put STOR cut off by a TCP reset part-way; the server answers 426
          and keeps a prefix, SIZE says how much, REST + STOR sends the
          rest, XSHA256 of the whole file must match
  cut_get RETR cut off by a reset, then REST + RETR of the rest: the two
          parts together must be the file
  dele    DELE of one of its files; the next listing must not show it
  badpass a wrong password (530), then the right one on the same connection

FTPS sessions use PROT P and resume the control connection's TLS session
on data connections (the server requires it by default).

A sampler process reads, every second, the server's RSS (VmRSS summed
over the process tree, so the forked sessions count in forking mode; this
counts the pages the children share once per child), its PSS (shared pages
divided among the processes: the honest total of a forked tree), the open
fds (summed likewise), the processes and threads, and the RSS and fds of
the listening process alone.  At the end it prints the operations done, the
errors by kind (the expected ones apart), and those figures before the
first session, at the start, after the warm-up and at the end, with the
least-squares slope after the warm-up, then once every session has ended.
The exit status is 1 if any unexpected error happened, a byte did not
match, an operation was never done, or the server died or did not exit 0
on SIGTERM.

    /usr/bin/python3 bench/soak.py --build build [--sessions 200]
        [--seconds 600] [--warmup 60] [--modes threading,forking]
        [--json FILE]
"""
import argparse
import ftplib
import hashlib
import json
import os
import queue
import random
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "tests", "ftpd")]
from ftps_client import ReusingFTP_TLS  # noqa: E402 (data conns resume TLS)
from run import tree  # noqa: E402 (the server's process tree in /proc)

SIZES = [0, 1, 100, 1500, 4096, 65536, 100000, 262144, 1048576]
MAX_FILES = 6            # per session: bounds the disk and the listings
OPS = ["list", "mlsd", "put", "get", "get", "cut_put", "cut_get", "dele"]
EXPECTED = {"530 wrong password", "426 after cut"}
TIMEOUT = 120            # seconds a client waits: the CPU is shared


# --- /proc ------------------------------------------------------------------

def status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "Threads"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def pss_kib(pid):
    """Proportional set size: shared pages divided among the processes
    that map them, so that a forked tree is not counted once per child."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def sample(pid):
    rss = pss = fds = threads = 0
    pids = tree(pid)
    for p in pids:
        st = status(p)
        rss += st.get("VmRSS", 0)
        pss += pss_kib(p)
        threads += st.get("Threads", 0)
        fds += fd_count(p)
    # The listening process alone as well: in forking mode its sessions
    # come and go, and a leak of the parent would hide in their sum.
    return {"rss_kib": rss, "pss_kib": pss, "fds": fds, "procs": len(pids),
            "threads": threads, "main_rss_kib": status(pid).get("VmRSS", 0),
            "main_fds": fd_count(pid)}


def sample_forever(pid):
    """The sampler process: one JSON line per second on stdout until the
    server is gone or stdin closes, stamped with CLOCK_MONOTONIC (the same
    clock in every process).  A process of its own,
    because in the client process 200 busy threads share one interpreter
    lock and a sampler thread there gets its turn every two seconds or so.
    Late on a loaded machine, it skips the seconds it missed."""
    t0 = time.monotonic()
    while os.path.exists(f"/proc/{pid}"):
        s = sample(pid)
        s["mono"] = time.monotonic()
        s["load"] = loadavg()
        try:
            print(json.dumps(s), flush=True)
        except BrokenPipeError:
            return
        now = time.monotonic() - t0
        pause = int(now) + 1 - now
        if pause > 0 and select.select([sys.stdin], [], [], pause)[0]:
            return


class Sampler(threading.Thread):
    """Collects the sampler process's lines; t is seconds since start."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.samples, self.t_start, self.ready = [], None, threading.Event()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--sample", str(pid)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self):
        for line in self.proc.stdout:
            s = json.loads(line)
            self.ready.set()
            if self.t_start is not None:     # not the one that says ready
                s["t"] = round(s["mono"] - self.t_start, 2)
                self.samples.append(s)
        self.ready.set()

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait()
        self.join()


# --- the server ------------------------------------------------------------

def run_quiet(argv, env, stdin=None):
    p = subprocess.run(argv, env=env, input=stdin, capture_output=True,
                       text=True, timeout=60)
    if p.returncode != 0:
        sys.exit(f"{' '.join(argv)}: status {p.returncode}: "
                 f"{p.stdout}{p.stderr}")


class Server:
    def __init__(self, ftpd, mode, sessions, users, tmp):
        self.data = os.path.join(tmp, mode)
        self.env = dict(os.environ, SOCKSERV_FTPD_TEST_FAST_KDF="1")
        self.users = []
        for i in range(users):
            name, pw = f"soak{i}", f"pw-{i}-{random.getrandbits(32):x}"
            run_quiet([ftpd, "--data-dir", self.data, "user", "add", name,
                       "--home", os.path.join(self.data, "home", name),
                       "--quota", "unlimited"], self.env, pw + "\n")
            self.users.append((name, pw))
        self.log = os.path.join(self.data, "ftpd.log")
        # Limits sized for the run: every session of the run at once (and
        # its reconnects) from one host; short failed-login delays, no ban,
        # so that wrong passwords stay a small part of the mix; and the
        # client's patience for timeouts: with 200 sessions on one
        # interpreter lock at a load of 80, a TLS handshake took more than
        # the default 10 s (the server then ends it, as it should).
        argv = [ftpd, "--data-dir", self.data, "--listen", "127.0.0.1:0",
                "--" + mode, "--log-file", self.log]
        for kv in (f"max_sessions={sessions + 50}", "max_sessions_per_ip=0",
                   "max_sessions_per_user=0", "max_pasv_listeners=1000",
                   "login_fail_delay=0.05", "login_fail_delay_max=0.2",
                   "ban_after_failures=0", f"data_timeout={TIMEOUT}",
                   f"idle_timeout={TIMEOUT * 2}",
                   f"tls_handshake_timeout={TIMEOUT}"):
            argv += ["--set", kv]
        # stderr is kept: a sanitizer build reports there.
        self.stderr = os.path.join(self.data, "ftpd.stderr")
        with open(self.stderr, "wb") as err:
            self.proc = subprocess.Popen(argv, env=self.env, text=True,
                                         stdout=subprocess.PIPE, stderr=err)
        # A thread reads stdout (so that the server never blocks on it)
        # and hands over the port of the first plain listener.
        found = queue.Queue()
        threading.Thread(target=self.read_stdout, args=(found,),
                         daemon=True).start()
        try:
            self.port = found.get(timeout=60)
        except queue.Empty:
            self.proc.kill()
            sys.exit("sockserv-ftpd: no 'listening on' line in 60 s")
        if self.port is None:
            sys.exit(f"sockserv-ftpd exited ({self.proc.wait()}) before "
                     "listening; see " + self.log)

    def read_stdout(self, found):
        port = None
        for line in self.proc.stdout:
            if (port is None and line.startswith("listening on ")
                    and "://" not in line):
                port = int(line.rsplit(":", 1)[1])
                found.put(port)
        if port is None:
            found.put(None)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return "killed after 60 s"


# --- clients ---------------------------------------------------------------

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops, self.errors, self.examples = {}, {}, {}
        self.bytes_up = self.bytes_down = 0

    def op(self, name, up=0, down=0):
        with self.lock:
            self.ops[name] = self.ops.get(name, 0) + 1
            self.bytes_up += up
            self.bytes_down += down

    def error(self, kind, detail=""):
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1
            self.examples.setdefault(kind, detail[:300])

    def total(self):
        with self.lock:
            return sum(self.ops.values())

    def unexpected(self):
        return {k: v for k, v in self.errors.items() if k not in EXPECTED}


class Mismatch(Exception):
    """A byte, a size, a digest or a listing differs from what was sent."""


def reset(conn):
    """Close with a TCP reset: a cut, not the end of a stream upload."""
    raw = conn
    if isinstance(conn, ssl.SSLSocket):
        raw = socket.socket(fileno=conn.detach())
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()


def content(seed, size):
    return random.Random(seed).randbytes(size)


def expect(cond, what):
    if not cond:
        raise Mismatch(what)


class Session:
    def __init__(self, idx, server, tls, stats, deadline):
        self.idx, self.server, self.tls = idx, server, tls
        self.stats, self.deadline = stats, deadline
        self.user, self.pw = server.users[idx % len(server.users)]
        self.dir, self.need_dir = f"s{idx}", True
        self.files = {}          # name -> (seed, size)
        self.serial = 0
        self.rng = random.Random(idx)
        self.ctx, self.doing, self.since = None, "", 0.0
        self.ctrl_port, self.dumped = 0, False
        if tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE

    # one connection: login, 5-20 operations, QUIT
    def connection(self):
        if self.tls:
            ftp = ReusingFTP_TLS(context=self.ctx, timeout=TIMEOUT)
        else:
            ftp = ftplib.FTP(timeout=TIMEOUT)
        try:
            self.doing, self.since = "connect", time.monotonic()
            ftp.connect("127.0.0.1", self.server.port)
            self.ctrl_port = ftp.sock.getsockname()[1]
            if self.tls:
                ftp.auth()
            if self.rng.random() < 0.1:
                try:
                    ftp.login(self.user, self.pw + "x")
                    raise Mismatch("wrong password accepted")
                except ftplib.error_perm as e:
                    expect(str(e).startswith("530"), f"wrong password: {e}")
                    self.stats.error("530 wrong password")
                    self.stats.op("badpass")
            self.doing, self.since = "login", time.monotonic()
            ftp.login(self.user, self.pw)
            if self.tls:
                ftp.prot_p()
            self.stats.op("login")
            if self.need_dir:
                try:
                    ftp.mkd(self.dir)
                except ftplib.error_perm:
                    pass     # made before a failure cut that connection
                self.need_dir = False
            ftp.cwd(self.dir)
            for _ in range(self.rng.randint(5, 20)):
                if time.monotonic() > self.deadline:
                    break
                self.one(ftp)
            self.doing, self.since = "quit", time.monotonic()
            ftp.quit()
        finally:
            ftp.close()

    def one(self, ftp):
        op = self.rng.choice(OPS)
        if op in ("get", "cut_get", "dele") and not self.files:
            op = "put"
        if op in ("put", "cut_put") and len(self.files) >= MAX_FILES:
            op = "dele"
        self.doing, self.since = op, time.monotonic()
        getattr(self, op)(ftp)

    def new_file(self):
        self.serial += 1
        name = f"f{self.serial}.bin"
        return name, (self.idx << 32) | self.serial, self.rng.choice(SIZES)

    def check_whole(self, ftp, name, data):
        size = ftp.size(name)
        expect(size == len(data), f"SIZE {name} {size} != {len(data)}")
        resp = ftp.sendcmd(f"XSHA256 {name}")
        expect(resp.split()[1].lower() == hashlib.sha256(data).hexdigest(),
               f"XSHA256 {name}: {resp}")

    def put(self, ftp):
        name, seed, size = self.new_file()
        data = content(seed, size)
        ftp.voidcmd("TYPE I")
        with ftp.transfercmd(f"STOR {name}") as conn:
            conn.sendall(data)
            if isinstance(conn, ssl.SSLSocket):
                conn.unwrap()
        ftp.voidresp()
        self.files[name] = (seed, size)
        self.check_whole(ftp, name, data)
        self.stats.op("put", up=size)

    def pick(self):
        name = self.rng.choice(sorted(self.files))
        seed, size = self.files[name]
        return name, content(seed, size)

    def get(self, ftp):
        name, data = self.pick()
        got = bytearray()
        ftp.retrbinary(f"RETR {name}", got.extend)
        expect(got == data, f"RETR {name}: {len(got)} bytes differ "
               f"from the {len(data)} sent")
        self.stats.op("get", down=len(got))

    def cut_reply(self, ftp, what):
        """The reply to a transfer cut off by a reset: 426, or 226 when
        the server had already finished."""
        try:
            resp = ftp.getresp()
            expect(resp.startswith("226"), f"{what}: {resp}")
        except ftplib.error_temp as e:
            expect(str(e).startswith("426"), f"{what}: {e}")
            self.stats.error("426 after cut")

    def cut_put(self, ftp):
        name, seed, size = self.new_file()
        size = max(size, 65536)
        data = content(seed, size)
        cut = self.rng.randint(1, size - 1)
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd(f"STOR {name}")
        conn.sendall(data[:cut])
        reset(conn)
        self.cut_reply(ftp, f"STOR {name} cut at {cut}")
        try:
            kept = ftp.size(name)
        except ftplib.error_perm:
            kept = 0         # nothing was kept: start again
        expect(0 <= kept <= cut, f"{name}: kept {kept} of {cut} sent")
        with ftp.transfercmd(f"STOR {name}", rest=kept) as conn:
            conn.sendall(data[kept:])
            if isinstance(conn, ssl.SSLSocket):
                conn.unwrap()
        ftp.voidresp()
        self.files[name] = (seed, size)
        self.check_whole(ftp, name, data)
        self.stats.op("cut_put", up=cut + size - kept)

    def cut_get(self, ftp):
        name, data = self.pick()
        if len(data) < 2:
            return self.get(ftp)
        want = self.rng.randint(1, len(data) - 1)
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd(f"RETR {name}")
        head = bytearray()
        while len(head) < want:
            chunk = conn.recv(min(65536, want - len(head)))
            if not chunk:
                break
            head += chunk
        reset(conn)
        self.cut_reply(ftp, f"RETR {name} cut at {want}")
        expect(head == data[:len(head)], f"RETR {name}: first part differs")
        tail = bytearray()
        ftp.retrbinary(f"RETR {name}", tail.extend, rest=len(head))
        expect(head + tail == data, f"REST {len(head)} RETR {name}: "
               f"{len(head)}+{len(tail)} bytes differ from {len(data)}")
        self.stats.op("cut_get", down=len(head) + len(tail))

    def dele(self, ftp):
        name = self.rng.choice(sorted(self.files))
        ftp.delete(name)
        del self.files[name]
        self.stats.op("dele")

    def list(self, ftp):
        lines = []
        ftp.retrlines("LIST", lines.append)
        names = {ln.split(None, 8)[-1] for ln in lines if ln.strip()}
        expect(names == set(self.files), f"LIST {sorted(names)} != "
               f"{sorted(self.files)}")
        self.stats.op("list")

    def mlsd(self, ftp):
        seen = {}
        for name, facts in ftp.mlsd(facts=["type", "size"]):
            if facts.get("type") == "file":
                seen[name] = int(facts["size"])
        want = {n: size for n, (_, size) in self.files.items()}
        expect(seen == want, f"MLSD {seen} != {want}")
        self.stats.op("mlsd")

    def run(self):
        while time.monotonic() < self.deadline:
            try:
                self.connection()
                self.since = 0.0
            except Mismatch as e:
                self.stats.error("mismatch", f"s{self.idx} {self.doing}: {e}")
                self.resync()
            except ftplib.all_errors as e:
                kind = type(e).__name__
                text = str(e)
                if text[:3].isdigit():
                    kind += " " + text[:3]
                self.stats.error(kind, f"s{self.idx} {self.doing}: {text}")
                self.resync()

    def resync(self):
        """After an unexpected error the files may not be what this side
        thinks: forget them, and go on in a new directory."""
        self.serial += 1
        self.files, self.dir, self.need_dir = {}, f"s{self.idx}-{self.serial}", True


# --- figures ---------------------------------------------------------------

def slope_per_min(points):
    """Least-squares slope of (t seconds, y) points, per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return 60 * sum((t - mt) * (y - my) for t, y in points) / var


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else 0


def figures(samples, warmup, seconds):
    # "start": the first sample once the sessions had a second to connect
    load = [s for s in samples if 1 <= s["t"] <= seconds] or samples[-1:]
    after = [s for s in load if s["t"] >= warmup] or load[-1:]
    out = {}
    for key in ("rss_kib", "pss_kib", "fds", "threads", "procs",
                "main_rss_kib", "main_fds"):
        first_min = [s[key] for s in after if s["t"] < after[0]["t"] + 60]
        last_min = [s[key] for s in after if s["t"] > after[-1]["t"] - 60]
        out[key] = {
            "start": load[0][key],
            "after_warmup": after[0][key],
            "end": load[-1][key],
            "min": min(s[key] for s in after),
            "max": max(s[key] for s in after),
            "median_first_min": median(first_min),
            "median_last_min": median(last_min),
            "slope_per_min": round(slope_per_min(
                [(s["t"], s[key]) for s in after]), 2),
        }
    out["load"] = {"mean": round(sum(s["load"] for s in load) / len(load), 1),
                   "max": max(s["load"] for s in load)}
    return out


def report(mode, args, stats, figs, idle0, idle1, elapsed, status, log_tail):
    p = print
    total = sum(stats.ops.values())
    p(f"== {mode}: {args.sessions} sessions, {elapsed:.0f} s, "
      f"warm-up {args.warmup:.0f} s, {os.cpu_count()} CPUs, "
      f"load average {figs['load']['mean']} mean, {figs['load']['max']} max")
    p(f"operations: {total} ({total / elapsed:.1f}/s), "
      f"{stats.bytes_up / 2**20:.0f} MiB up, "
      f"{stats.bytes_down / 2**20:.0f} MiB down, every byte checked")
    p("  " + ", ".join(f"{k} {v}" for k, v in sorted(stats.ops.items())))
    p("errors: " + (", ".join(f"{k}: {v}" for k, v in
                              sorted(stats.errors.items())) or "none"))
    for k, v in sorted(stats.unexpected().items()):
        p(f"  UNEXPECTED {k} x{v}, e.g. {stats.examples[k]}")
    p(f"{'':9} {'idle':>7} {'start':>7} {'warm':>7} {'end':>7} "
      f"{'min':>7} {'max':>7} {'1st min':>8} {'last min':>8} "
      f"{'slope/min':>9} {'idle':>7}")
    for key, name in (("rss_kib", "RSS KiB"), ("pss_kib", "PSS KiB"),
                      ("fds", "fds"),
                      ("threads", "threads"), ("procs", "processes"),
                      ("main_rss_kib", "main RSS"), ("main_fds", "main fds")):
        f = figs[key]
        p(f"{name:9} {idle0[key]:7} {f['start']:7} {f['after_warmup']:7} "
          f"{f['end']:7} {f['min']:7} {f['max']:7} "
          f"{f['median_first_min']:8} {f['median_last_min']:8} "
          f"{f['slope_per_min']:9} {idle1[key]:7}")
    p(f"server exit status after SIGTERM: {status}")
    if log_tail:
        p("server log lines with 'error', 'leak' or a signal:")
        for line in log_tail:
            p("  " + line)


def wait_idle(pid, mode, deadline):
    """The server after the clients have gone: sessions closed (a forked
    session's process reaped), or the deadline."""
    s = sample(pid)
    while time.monotonic() < deadline:
        if mode == "threading" or s["procs"] == 1:
            break
        time.sleep(0.2)
        s = sample(pid)
    time.sleep(1.0)          # the last session's thread finishes closing
    return sample(pid)


def bad_log_lines(paths):
    out = []
    for path in paths:
        try:
            f = open(path, errors="replace")
        except OSError:
            continue
        with f:
            for line in f:
                low = line.lower()
                if "shutting down" in low:
                    continue
                if line.startswith("    #") or any(
                        w in low for w in ("sanitizer", "leak", "signal",
                                           "abort", "assert", "runtime error",
                                           "summary")):
                    out.append(line.rstrip()[:200])
    return out[:40]


STALL = 60               # seconds one operation may take before a dump


def dump_stall(server, sess):
    """A client has waited STALL seconds: save what the server's process
    for that session is doing (its stacks, its sockets' queues) next to the
    log, since by the client's timeout the process will be gone."""
    sess.dumped = True
    ss = subprocess.run(["ss", "-tnpiH", "state", "established", "(",
                         "sport", "=", f":{server.port}", "and", "dport", "=",
                         f":{sess.ctrl_port}", ")"],
                        capture_output=True, text=True).stdout
    pids = sorted(set(re.findall(r"pid=(\d+)", ss)))
    out = [f"s{sess.idx} {sess.doing} waiting {STALL} s, control port "
           f"{sess.ctrl_port}", ss]
    for pid in pids:
        every = subprocess.run(["ss", "-tanpH"], capture_output=True,
                               text=True).stdout
        out += [ln for ln in every.splitlines() if f"pid={pid}," in ln]
        try:
            out.append(subprocess.run(
                ["gdb", "-p", pid, "-batch", "-ex", "thread apply all bt"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                timeout=120).stdout)
        except (OSError, subprocess.TimeoutExpired) as e:
            out.append(f"gdb: {e}")
    path = os.path.join(server.data, f"stall-s{sess.idx}.txt")
    with open(path, "w") as f:
        f.write("\n".join(out))
    print(f"stall: s{sess.idx} {sess.doing}: {path}", flush=True)


def run_mode(mode, args, ftpd, tmp):
    stats = Stats()
    server = Server(ftpd, mode, args.sessions, args.users, tmp)
    pid = server.proc.pid
    idle0 = sample(pid)
    sampler = Sampler(pid)
    sampler.start()
    sampler.ready.wait(60)   # the sampler's Python starts slowly under load
    start = sampler.t_start = time.monotonic()
    deadline = start + args.seconds
    sessions = [Session(i, server, i % 2 == 1, stats, deadline)
                for i in range(args.sessions)]
    threads = [threading.Thread(target=s.run, daemon=True) for s in sessions]
    for t in threads:
        t.start()
    last = start
    while any(t.is_alive() for t in threads):
        time.sleep(0.5)
        now = time.monotonic()
        for sess in sessions:
            if sess.since and now - sess.since > STALL and not sess.dumped:
                dump_stall(server, sess)
        if server.proc.poll() is not None:
            stats.error("server died", f"exit status {server.proc.returncode}")
            break
        if time.monotonic() > deadline + TIMEOUT + 30:
            stats.error("clients stuck", "sessions still running "
                        f"{TIMEOUT + 30} s after the end")
            break
        if args.progress and time.monotonic() - last >= args.progress:
            last = time.monotonic()
            s = sampler.samples[-1] if sampler.samples else {}
            print(f"[{mode} {last - start:5.0f} s] ops {stats.total()} "
                  f"rss {s.get('rss_kib')} KiB fds {s.get('fds')} "
                  f"procs {s.get('procs')} load {s.get('load')} "
                  f"errors {sum(stats.errors.values())}", flush=True)
    elapsed = time.monotonic() - start
    sampler.stop()
    alive = server.proc.poll() is None
    idle1 = wait_idle(pid, mode, time.monotonic() + 30) if alive else idle0
    figs = figures(sampler.samples, args.warmup, args.seconds)
    status = server.stop() if alive else server.proc.returncode
    if status != 0:
        stats.error("server exit status", str(status))
    report(mode, args, stats, figs, idle0, idle1, min(elapsed, args.seconds),
           status, bad_log_lines([server.log, server.stderr]))
    return {"mode": mode, "sessions": args.sessions, "seconds": args.seconds,
            "warmup": args.warmup, "ops": stats.ops,
            "bytes_up": stats.bytes_up, "bytes_down": stats.bytes_down,
            "errors": stats.errors, "unexpected": stats.unexpected(),
            "examples": stats.examples, "idle_before": idle0,
            "idle_after": idle1, "figures": figs, "exit_status": status,
            "samples": sampler.samples}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", help="meson build dir with sockserv-ftpd")
    ap.add_argument("--ftpd", help="the sockserv-ftpd program (or --build)")
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--warmup", type=float, default=60)
    ap.add_argument("--modes", default="threading,forking")
    ap.add_argument("--progress", type=float, default=0,
                    help="print a line every this many seconds")
    ap.add_argument("--json", help="write the figures and samples here")
    ap.add_argument("--sample", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sample:
        return sample_forever(args.sample)
    ftpd = args.ftpd or os.path.join(args.build or "build", "ftp", "server",
                                     "sockserv-ftpd")
    if not os.access(ftpd, os.X_OK):
        sys.exit(f"{ftpd}: not found (give --build or --ftpd)")
    args.warmup = min(args.warmup, args.seconds / 2)
    results, failed = [], False
    tmp = tempfile.mkdtemp(prefix="soak-")
    try:
        for mode in args.modes.split(","):
            r = run_mode(mode, args, ftpd, tmp)
            results.append(r)
            need = {"login", "put", "get", "list", "mlsd", "dele", "cut_put",
                    "cut_get"}
            if args.seconds >= 3 and not need <= set(r["ops"]):
                print(f"{mode}: no {sorted(need - set(r['ops']))} done")
                failed = True
            data = os.path.join(tmp, mode)
            if r["unexpected"]:
                # The server's log says why: keep it, not the homes.
                failed = True
                shutil.rmtree(os.path.join(data, "home"), ignore_errors=True)
                print(f"{mode}: server log and stderr kept in {data}")
            else:
                shutil.rmtree(data, ignore_errors=True)
    finally:
        if not failed:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print("FAILED" if failed else "OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
