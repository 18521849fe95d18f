#!/usr/bin/python3
"""bench/run.py - run every echo server against loadgen and compare.

For each scenario and each server: start a fresh server, read its
"listening on ADDR" line, drive it with loadgen, and record

  * what loadgen saw: operations/s, MB/s, p50/p99 latency;
  * the server's own CPU time per operation: utime+stime+cutime+cstime from
    /proc/PID/stat before and after the load (cutime/cstime hold the forked
    children once the server has reaped them, which the runner waits for);
  * its memory: VmHWM of the server process, and for servers that fork the
    peak of the summed VmRSS of the server and all its children, sampled
    every 20 ms (and exactly at the pause of the idle scenario).

Each run is repeated (--reps, default 3) and the best value of each figure
is kept (highest rate, lowest CPU, lowest memory; the latencies are those of
the run with the highest rate).  Ratios are computed against the references
measured in the same invocation.

    /usr/bin/python3 bench/run.py --build build-bench [--reps 3]
        [--only SCENARIO,...] [--servers NAME,...] [--json FILE]
"""
import argparse
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# name, title, loadgen arguments, unit of one operation, servers it needs
SCENARIOS = [
    ("c1", "1 conn x 20,000 x 64 B",
     ["--conns", "1", "--rounds", "20000", "--size", "64"], "round trip", None),
    ("c50", "50 conns x 2,000 x 64 B",
     ["--conns", "50", "--rounds", "2000", "--size", "64"], "round trip", None),
    ("big", "8 conns x 2,000 x 64 KiB",
     ["--conns", "8", "--rounds", "2000", "--size", "65536"], "round trip", None),
    ("connect", "connect-only x 5,000 (4 in flight)",
     ["--connect", "5000", "--conns", "4"], "connection", None),
    ("idle", "10,000 idle + 100 active x 200 x 64 B",
     ["--idle", "10000", "--conns", "100", "--rounds", "200", "--size", "64",
      "--hold"], "round trip", None),
    ("udp", "UDP: 10 sockets x 1,000 x 64 B",
     ["--udp", "--conns", "10", "--rounds", "1000", "--size", "64"],
     "round trip", None),
    ("big1", "1 conn x 2,000 x 64 KiB (plaintext)",
     ["--conns", "1", "--rounds", "2000", "--size", "65536"], "round trip",
     "tls-pair"),
    ("tls", "TLS: 1 conn x 2,000 x 64 KiB",
     ["--conns", "1", "--rounds", "2000", "--size", "65536", "--tls"],
     "round trip", "tls"),
    ("tls-c50", "TLS: 50 conns x 2,000 x 64 B",
     ["--conns", "50", "--rounds", "2000", "--size", "64", "--tls"],
     "round trip", "tls"),
    ("tls-idle", "TLS: 10,000 idle + 100 active x 200 x 64 B",
     ["--idle", "10000", "--conns", "100", "--rounds", "200", "--size", "64",
      "--hold", "--tls"], "round trip", "tls"),
]

# Scenarios that hold thousands of connections open.
IDLE_SCENARIOS = {"idle", "tls-idle"}

# Modes that cannot hold 10,000 connections by design: sync serves one at a
# time, forking stops accepting at max_children (40, as in Python), the pool
# serves as many connections at once as it has workers.
ONE_AT_A_TIME = {"sync", "forking", "pool"}

MAX_SECONDS = "10"
POOL_WORKERS = 64  # per loadgen run: a slow server is cut off, and marked


# --- /proc ----------------------------------------------------------------

def proc_cpu_ticks(pid):
    """utime+stime+cutime+cstime of pid, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    # fields[0] is state (field 3); utime is field 14 -> index 11
    return sum(int(x) for x in fields[11:15])


def proc_status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children_of(pid):
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def tree(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children_of(p)
    return out


def tree_rss_kib(pid):
    return sum(proc_status(p, "VmRSS") for p in tree(pid))


class Sampler(threading.Thread):
    """Peak of the summed VmRSS over a forking server's process tree.  Only
    for servers that fork: walking /proc/PID/task/*/children of a server with
    10,000 threads every 20 ms would take CPU from the server measured."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, tree_rss_kib(self.pid))
            self.stop.wait(0.02)


# --- servers ---------------------------------------------------------------

class Server:
    def __init__(self, name, argv, kind, forks=False, udp_argv=None,
                 tls_argv=None, mode=None):
        self.name, self.argv, self.kind, self.mode = name, argv, kind, mode
        self.forks, self.udp_argv, self.tls_argv = forks, udp_argv, tls_argv


def echo_servers(echo, tlsdir, prefix=""):
    """The modes this echo-server has (from its --help), as servers."""
    helptext = subprocess.run([echo, "--help"], capture_output=True,
                              text=True).stdout
    modes = ["sync", "threading", "forking"]
    if re.search(r"\bpool\b", helptext):
        modes.append("pool")
    if re.search(r"\buv\b", helptext):
        modes.append("uv")
    tls = "--tls-cert" in helptext and tlsdir is not None
    out = []
    for m in modes:
        argv = [echo, "--mode", m]
        if m == "pool":
            # Enough workers for the 50 connections of the busiest scenario:
            # fewer would serve them in turns and measure the queue instead.
            argv += ["--workers", str(POOL_WORKERS), "--queue", "128"]
        out.append(Server(prefix + m, argv, "lib", forks=(m == "forking"), mode=m,
                          udp_argv=["--proto", "udp"],
                          tls_argv=["--tls-cert", os.path.join(tlsdir, "cert.pem"),
                                    "--tls-key", os.path.join(tlsdir, "key.pem")]
                          if tls else None))
    return out, modes, tls


def find_servers(build, tlsdir, echo=None):
    py = "/usr/bin/python3"
    b = lambda p: os.path.join(build, p)
    refs = [
        Server("py-threading", [py, os.path.join(HERE, "ref_python.py")], "ref",
               udp_argv=["--udp"]),
        Server("c-threads", [b("bench/ref_threads")], "ref", udp_argv=["--udp"]),
        Server("c-epoll", [b("bench/ref_epoll")], "ref", udp_argv=["--udp"]),
    ]
    echo = echo or b("examples/echo/echo-server")
    lib, modes, tls = echo_servers(echo, tlsdir)
    out = refs + lib
    return out, modes, tls


def make_cert():
    d = tempfile.mkdtemp(prefix="sockserv-bench-")
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", os.path.join(d, "key.pem"),
         "-out", os.path.join(d, "cert.pem")], capture_output=True)
    return d if r.returncode == 0 else None


def start(server, extra):
    argv = server.argv + extra + ["--listen", "127.0.0.1:0"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    deadline = time.monotonic() + 10
    line = ""
    while time.monotonic() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 0.5)
        if r:
            line = p.stdout.readline()
            m = re.match(r"listening on (\S+)", line)
            if m:
                return p, m.group(1)
            if not line:
                break
    p.kill()
    raise RuntimeError(f"{server.name}: no 'listening on' line "
                       f"({line!r}; {p.stderr.read()[-500:]!r})")


def stop(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def quiesce(pid, forks, deadline_s=6.0):
    """Waits until the requests are over: children reaped (their CPU time
    then shows in cutime/cstime), and neither the CPU time nor the number
    of threads moving for 90 ms (a pool's workers stay, a thread per request
    goes)."""
    end = time.monotonic() + deadline_s
    last, still = None, 0
    while time.monotonic() < end:
        now = (proc_cpu_ticks(pid), proc_status(pid, "Threads"))
        if not (forks and children_of(pid)) and now == last:
            still += 1
            if still >= 3:
                return
        else:
            still = 0
        last = now
        time.sleep(0.03)


def one_run(loadgen, server, scen):
    name, title, args, unit, need = scen
    extra = []
    if name == "udp":
        extra = server.udp_argv
    elif need == "tls":
        extra = server.tls_argv
    p, addr = start(server, extra)
    pid = p.pid
    sampler = Sampler(pid)
    if server.forks:
        sampler.start()
    cpu0 = proc_cpu_ticks(pid)
    lg = subprocess.Popen([loadgen, "--addr", addr, "--max-seconds",
                           MAX_SECONDS] + args,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    hold_rss = None
    held_rss_kib = None
    try:
        if "--hold" in args:
            line = lg.stdout.readline()
            if line.strip() != "idle ready":
                raise RuntimeError(f"loadgen: {line!r} {lg.stderr.read()!r}")
            quiesce(pid, False, 2.0)
            cpu0 = proc_cpu_ticks(pid)
            lg.stdin.write("\n")
            lg.stdin.flush()
            out = lg.stdout.readline()
            if lg.stdout.readline().strip() != "holding":
                raise RuntimeError(f"loadgen: {lg.stderr.read()!r}")
            cpu1 = proc_cpu_ticks(pid)
            hold_rss = tree_rss_kib(pid) if server.forks else None
            held_rss_kib = proc_status(pid, "VmRSS")
            lg.stdin.write("\n")
            lg.stdin.close()
        else:
            out = lg.stdout.readline()
        _, status, ru = os.wait4(lg.pid, 0)
        lg.returncode = os.waitstatus_to_exitcode(status)
        err = lg.stderr.read()
        if lg.returncode != 0:
            raise RuntimeError(f"loadgen failed: {err.strip()}")
        if "--hold" not in args:
            quiesce(pid, server.forks)
            cpu1 = proc_cpu_ticks(pid)
        sampler.stop.set()
        if sampler.is_alive():
            sampler.join()
        res = json.loads(out)
        res["server_cpu_s"] = (cpu1 - cpu0) / CLK_TCK
        res["cpu_us_per_op"] = (res["server_cpu_s"] * 1e6 / res["ops"]
                                if res["ops"] else None)
        res["loadgen_cpu_s"] = ru.ru_utime + ru.ru_stime
        res["hwm_mib"] = proc_status(pid, "VmHWM") / 1024
        res["tree_rss_mib"] = max(sampler.peak, hold_rss or 0) / 1024
        # VmRSS while every connection is still open (the --hold pause):
        # what the idle connections cost, without the peak of opening them.
        res["held_rss_mib"] = (held_rss_kib / 1024 if held_rss_kib is not None
                               else None)
        return res
    finally:
        sampler.stop.set()
        if lg.poll() is None:
            lg.kill()
            lg.wait()
        stop(p)


def best(runs):
    ok = [r for r in runs if r]
    if not ok:
        return None
    top = max(ok, key=lambda r: r["ops_per_s"])
    b = dict(top)
    b["cpu_us_per_op"] = min(r["cpu_us_per_op"] for r in ok)
    b["hwm_mib"] = min(r["hwm_mib"] for r in ok)
    b["tree_rss_mib"] = min(r["tree_rss_mib"] for r in ok)
    held = [r["held_rss_mib"] for r in ok if r.get("held_rss_mib") is not None]
    b["held_rss_mib"] = min(held) if held else None
    b["truncated"] = any(r["truncated"] for r in ok)
    b["reps"] = len(ok)
    return b


def fmt(x, nd=1):
    if x is None:
        return "-"
    if x >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{nd}f}"


def ratio(a, b):
    return a / b if a is not None and b else None


def print_table(title, unit, rows, refs, out):
    out.append(f"\n### {title}\n")
    out.append(f"| server | {unit}s/s | MB/s | p50 µs | p99 µs | server CPU "
               f"µs/{unit} | RSS MiB | rate vs py / C-thr / epoll "
               f"| CPU vs py / C-thr / epoll |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---|---|")
    for name, r in rows:
        if r is None:
            out.append(f"| {name} | failed | | | | | | | |")
            continue
        rr = " / ".join(fmt(ratio(r["ops_per_s"], refs[k]["ops_per_s"]), 2)
                        if refs.get(k) else "-"
                        for k in ("py-threading", "c-threads", "c-epoll"))
        cr = " / ".join(fmt(ratio(r["cpu_us_per_op"], refs[k]["cpu_us_per_op"]), 2)
                        if refs.get(k) else "-"
                        for k in ("py-threading", "c-threads", "c-epoll"))
        mem = fmt(r["hwm_mib"])
        if name == "forking":
            mem += f" (tree {fmt(r['tree_rss_mib'])})"
        mark = f" (cut at {MAX_SECONDS} s)" if r.get("truncated") else ""
        out.append(f"| {name} | {fmt(r['ops_per_s'])}{mark} | "
                   f"{fmt(r['mb_per_s'])} | {fmt(r['p50_us'])} | "
                   f"{fmt(r['p99_us'])} | {fmt(r['cpu_us_per_op'], 2)} | {mem} "
                   f"| {rr} | {cr} |")


def targets(res):
    """The issue's targets, measured: (text, measured ratio, bound, ok)."""
    def g(s, n, k):
        r = res.get(s, {}).get(n)
        return r[k] if r else None
    out = []

    def check(text, a, b, bound, higher_is_better):
        q = ratio(a, b)
        if q is None:
            out.append((text, None, bound, None))
        else:
            out.append((text, q, bound, q >= bound if higher_is_better else q <= bound))
    check("threading CPU/round trip at 50 conns vs C threads (<= 1.1)",
          g("c50", "threading", "cpu_us_per_op"), g("c50", "c-threads", "cpu_us_per_op"), 1.1, False)
    check("threading connections/s vs C threads (>= 0.9)",
          g("connect", "threading", "ops_per_s"), g("connect", "c-threads", "ops_per_s"), 0.9, True)
    check("sync round trips/s at 1 conn vs C threads (>= 0.9)",
          g("c1", "sync", "ops_per_s"), g("c1", "c-threads", "ops_per_s"), 0.9, True)
    check("sync CPU/round trip at 1 conn vs C threads (<= 1.1)",
          g("c1", "sync", "cpu_us_per_op"), g("c1", "c-threads", "cpu_us_per_op"), 1.1, False)
    check("pool connections/s vs threading (>= 1.3)",
          g("connect", "pool", "ops_per_s"), g("connect", "threading", "ops_per_s"), 1.3, True)
    check("uv CPU/round trip at 50 conns vs epoll (<= 1.2)",
          g("c50", "uv", "cpu_us_per_op"), g("c50", "c-epoll", "cpu_us_per_op"), 1.2, False)
    check("uv round trips/s at 50 conns vs epoll (>= 0.9)",
          g("c50", "uv", "ops_per_s"), g("c50", "c-epoll", "ops_per_s"), 0.9, True)
    uvrss = g("idle", "uv", "hwm_mib")
    out.append(("uv RSS with 10,000 idle + 100 active (<= 16 MiB)", uvrss, 16,
                None if uvrss is None else uvrss <= 16))
    check("threading MB/s at 8 x 64 KiB vs C threads (>= 0.9)",
          g("big", "threading", "mb_per_s"), g("big", "c-threads", "mb_per_s"), 0.9, True)
    check("uv MB/s at 8 x 64 KiB vs epoll (>= 0.9)",
          g("big", "uv", "mb_per_s"), g("big", "c-epoll", "mb_per_s"), 0.9, True)
    for m in ("threading", "uv", "pool", "sync"):
        if g("tls", m, "mb_per_s"):
            check(f"TLS {m} MB/s at 1 x 64 KiB vs plaintext {m} (>= 0.5)",
                  g("tls", m, "mb_per_s"), g("big1", m, "mb_per_s"), 0.5, True)
            # A plaintext mode that stalls makes the line above meaningless;
            # the plaintext C reference is the rate TLS should keep half of.
            check(f"TLS {m} MB/s at 1 x 64 KiB vs plaintext C threads (>= 0.5)",
                  g("tls", m, "mb_per_s"), g("big1", "c-threads", "mb_per_s"), 0.5, True)
    return out


def tls_vs_threading(res, out):
    """The event mode with TLS against threading with TLS, both from this
    run (the machine is shared: only ratios from one run compare)."""
    def g(s, n, k):
        r = res.get(s, {}).get(n)
        return r.get(k) if r else None
    rows = [
        ("server CPU µs per round trip, TLS, 50 conns x 64 B",
         "tls-c50", "cpu_us_per_op"),
        ("server CPU µs per round trip, TLS, 1 conn x 64 KiB",
         "tls", "cpu_us_per_op"),
        ("round trips/s, TLS, 50 conns x 64 B", "tls-c50", "ops_per_s"),
        ("server CPU µs per round trip, TLS, 100 active beside 10,000 idle",
         "tls-idle", "cpu_us_per_op"),
        ("server RSS MiB, 10,000 idle TLS + 100 active, all open",
         "tls-idle", "held_rss_mib"),
        ("server peak RSS (VmHWM) MiB, same run", "tls-idle", "hwm_mib"),
    ]
    if not any(g(s, "uv", k) for _, s, k in rows):
        return
    out.append("\n### TLS: event mode (uv) against threading, same run\n")
    out.append("| figure | uv | threading | uv / threading |")
    out.append("|---|---:|---:|---:|")
    for text, s, k in rows:
        u, t = g(s, "uv", k), g(s, "threading", k)
        out.append(f"| {text} | {fmt(u, 2)} | {fmt(t, 2)} | "
                   f"{fmt(ratio(u, t), 2)} |")


def machine():
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["cores"] = os.cpu_count()
    info["kernel"] = os.uname().release
    info["load"] = os.getloadavg()
    try:
        with open("/etc/debian_version") as f:
            info["debian"] = f.read().strip()
    except OSError:
        pass
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build-bench")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", help="comma-separated scenario names: " +
                    ",".join(s[0] for s in SCENARIOS))
    ap.add_argument("--servers", help="comma-separated server names")
    ap.add_argument("--json", help="write all results to this file")
    ap.add_argument("--echo", help="echo-server to measure (default: the "
                    "one in --build)")
    ap.add_argument("--also", action="append", default=[],
                    metavar="LABEL=PATH", help="measure another echo-server "
                    "(a patched build) too, its modes named LABEL-MODE")
    a = ap.parse_args()

    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    tlsdir = make_cert()
    servers, modes, tls = find_servers(a.build, tlsdir, a.echo)
    for spec in a.also:
        label, _, path = spec.partition("=")
        servers += echo_servers(path, tlsdir, label + "-")[0]
    if a.servers:
        want = a.servers.split(",")
        servers = [s for s in servers if s.name in want]
    loadgen = os.path.join(a.build, "bench/loadgen")
    scen = [s for s in SCENARIOS if not a.only or s[0] in a.only.split(",")]
    m = machine()
    print(f"# machine: {m}", file=sys.stderr)
    print(f"# echo-server modes: {' '.join(modes)}; TLS: {tls}", file=sys.stderr)

    results = {}
    t_all = time.monotonic()
    for s in scen:
        name, title, args, unit, need = s
        todo = []
        for srv in servers:
            if need == "tls" and not srv.tls_argv:
                continue
            if need == "tls-pair" and (not tls or (srv.kind == "lib" and not srv.tls_argv)):
                continue
            if name in IDLE_SCENARIOS and srv.mode in ONE_AT_A_TIME:
                continue
            todo.append(srv)
        runs = {srv.name: [] for srv in todo}
        # Repetitions go round the servers, so that a burst of load from
        # elsewhere on the machine hits one run of several servers rather
        # than all the runs of one.
        for rep in range(a.reps):
            for srv in todo:
                t = time.monotonic()
                try:
                    r = one_run(loadgen, srv, s)
                except Exception as e:  # noqa: BLE001 - report and go on
                    print(f"  {name} {srv.name}: {e}", file=sys.stderr)
                    r = None
                runs[srv.name].append(r)
                print(f"  {name:8} {srv.name:13} rep {rep + 1}: "
                      + (f"{r['ops_per_s']:10.0f}/s cpu {r['cpu_us_per_op']:.2f} µs"
                         f" hwm {r['hwm_mib']:.1f} MiB"
                         f"{' TRUNC' if r['truncated'] else ''}" if r else "failed")
                      + f" ({time.monotonic() - t:.1f} s)", file=sys.stderr)
        results[name] = {k: best(v) for k, v in runs.items()}

    out = [f"Machine: {m.get('cpu')}, {m['cores']} cores, Linux {m['kernel']}, "
           f"Debian {m.get('debian', '?')}; load average at the end "
           f"{os.getloadavg()[0]:.1f}; {a.reps} runs each, best kept; "
           f"total {time.monotonic() - t_all:.0f} s."]
    for s in scen:
        name, title, args, unit, need = s
        rows = list(results[name].items())
        refs = {k: v for k, v in results[name].items()
                if k in ("py-threading", "c-threads", "c-epoll") and v}
        print_table(title, unit, rows, refs, out)
    tls_vs_threading(results, out)
    out.append("\n### Targets\n")
    out.append("| target | measured | bound | met |")
    out.append("|---|---:|---:|---|")
    for text, q, bound, ok in targets(results):
        out.append(f"| {text} | {fmt(q, 2)} | {bound} | "
                   f"{'-' if ok is None else 'yes' if ok else '**no**'} |")
    print("\n".join(out))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": m, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
