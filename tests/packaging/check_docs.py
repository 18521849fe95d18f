#!/usr/bin/python3
"""The man pages against the programs and the code they describe.

  check_docs.py render BUILD_MAN_DIR
      every page renders with MANWIDTH=80 man --warnings -l, no warning
  check_docs.py flags SRC BUILD
      every program meson installs has a page; every flag in each
      program's --help output, and every flag its argument parsers compare
      an argument with, appears in its page
  check_docs.py keys SRC BUILD
      every key ftpd_config_set() accepts (ftp/server/config.c) is in
      sockserv-ftpd.conf(5) and in the packaged config with the same
      default, and the page names no key the code lacks
  check_docs.py headers SRC
      every function, macro, class object and typedef name of each public
      header (libsockserv/include/sockserv/) appears in its page
  check_docs.py example SRC
      libsockserv(3)'s example is tests/install/user_program.c, which the
      install tests build and run
"""
import glob
import json
import os
import re
import subprocess
import sys

PROGRAMS = {  # program (build path) -> its page
    "ftp/server/sockserv-ftpd": "sockserv-ftpd.8.scd",
    "ftp/client/sockserv-ftp": "sockserv-ftp.1.scd",
    "examples/echo/echo-server": "echo-server.1.scd",
    "examples/echo/echo-client": "echo-client.1.scd",
    "examples/ssh/ssh-demo": "ssh-demo.1.scd",
    "examples/ssh/ssh-demo-server": "ssh-demo-server.1.scd",
}
# program -> the sources of its argument parsers (its own files only:
# ftp/client/*.c also holds the shell's command options, which its page
# documents too).  A flag --help forgets (-h, a --flag=VALUE form) is still
# one the program accepts.
PARSERS = {
    "ftp/server/sockserv-ftpd": ["ftp/server/main.c", "ftp/server/usercli.c",
                                 "ftp/server/dbcli.c"],
    "ftp/client/sockserv-ftp": ["ftp/client/*.c"],
    "examples/echo/echo-server": ["examples/echo/echo_server.c", "examples/echo/cli.c"],
    "examples/echo/echo-client": ["examples/echo/echo_client.c", "examples/echo/cli.c"],
    "examples/ssh/ssh-demo": ["examples/ssh/ssh-demo.c"],
    "examples/ssh/ssh-demo-server": ["examples/ssh/ssh-demo-server.c"],
}
# The calls that compare an argument with a flag in these parsers.
FLAG_CALL = re.compile(r"\b(?:strn?cmp|IS|cli_match|flag_value|take_segments)\(([^;{}]*)")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def unescape(scd):
    return scd.replace("\\_", "_").replace("\\*", "*").replace("\\\\", "\\")


def render(mandir):
    pages = sorted(f for f in os.listdir(mandir) if re.search(r"\.\d$", f))
    if not pages:
        fail("no pages in " + mandir)
    for page in pages:
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        r = subprocess.run(["man", "--warnings", "-l", os.path.join(mandir, page)],
                           env=env, capture_output=True, text=True)
        if r.returncode != 0 or r.stderr.strip():
            fail("%s: man says: %s" % (page, r.stderr.strip() or r.returncode))
        elif len(r.stdout) < 200:
            fail("%s: rendered to almost nothing" % page)
    print("%d pages render without warnings" % len(pages))


def parsed_flags(src, prog):
    """The flags the program's argument parsers compare arguments with."""
    found = set()
    for pattern in PARSERS[prog]:
        for path in glob.glob(os.path.join(src, pattern)):
            for call in FLAG_CALL.finditer(open(path).read()):
                found |= set(re.findall(r'"(--?[A-Za-z][\w-]*)=?"', call.group(1)))
    if not found:
        fail("no flags found in the parsers of %s (%s)" % (prog, PARSERS[prog]))
    return found


def installed_programs(build):
    """Every program meson installs has a page here, in section 8 when it
    goes to sbin, else 1."""
    targets = json.load(open(os.path.join(build, "meson-info", "intro-targets.json")))
    pages = {os.path.basename(p): page for p, page in PROGRAMS.items()}
    for t in targets:
        if t["type"] != "executable" or not t["installed"]:
            continue
        page = pages.get(t["name"])
        want = "8" if "/sbin/" in t["install_filename"][0] else "1"
        if not page:
            fail("%s is installed but PROGRAMS in check_docs.py gives it no page"
                 % t["name"])
        elif page.split(".")[-2] != want:
            fail("%s is installed to %s, so its page is section %s, not %s"
                 % (t["name"], t["install_filename"][0], want, page))


def flags(src, build):
    installed_programs(build)
    for prog, page in PROGRAMS.items():
        found = parsed_flags(src, prog)
        exe = os.path.join(build, prog)
        if os.path.exists(exe):  # else a part not built here
            r = subprocess.run([exe, "--help"], capture_output=True, text=True,
                               timeout=30)
            text = r.stdout + r.stderr
            listed = set(re.findall(r"(?<![\w/-])(--?[A-Za-z][\w-]*)", text))
            if not listed:
                fail("%s --help lists no flags" % prog)
            found |= listed
        found = sorted(found)
        doc = unescape(open(os.path.join(src, "man", page)).read())
        missing = [f for f in found
                   if not re.search(r"\*%s\*" % re.escape(f), doc)]
        for f in missing:
            fail("%s accepts %s but %s does not document it (as *%s*)"
                 % (os.path.basename(prog), f, page, f))
        if not missing:
            print("%s: %d flags, all in %s" % (os.path.basename(prog), len(found), page))


def page_keys(src):
    """key -> default text, from sockserv-ftpd.conf(5)."""
    lines = open(os.path.join(src, "man", "sockserv-ftpd.conf.5.scd")).read().split("\n")
    keys = {}
    for i, line in enumerate(lines):
        m = re.match(r"^\*([a-z\\_]+)\*$", line)
        if not m:
            continue
        key = unescape(m.group(1))
        for nxt in lines[i + 1:i + 12]:
            d = re.match(r"^Default: (.*)\.$", nxt)
            if d:
                keys[key] = unescape(d.group(1))
                break
        else:
            fail("sockserv-ftpd.conf(5): %s has no 'Default: ...' line" % key)
    return keys


def keys(src, build):
    code = open(os.path.join(src, "ftp", "server", "config.c")).read()
    body = code[code.index("int ftpd_config_set("):]
    body = body[:body.index("\n}\n")]
    code_keys = set(re.findall(r'strcmp\(key, "([a-z_]+)"\)', body))
    if len(code_keys) < 10:
        fail("found only %d keys in ftpd_config_set()" % len(code_keys))
    doc = page_keys(src)
    bad = len(failures)
    for k in sorted(code_keys - set(doc)):
        fail("config key %s (ftp/server/config.c) is not in sockserv-ftpd.conf(5)" % k)
    for k in sorted(set(doc) - code_keys):
        fail("sockserv-ftpd.conf(5) documents %s, which config.c does not accept" % k)
    conf = open(os.path.join(build, "ftp", "server", "sockserv-ftpd.conf")).read()
    for k, d in sorted(doc.items()):
        m = re.search(r"^#?%s =(.*)$" % k, conf, re.M)
        if not m:
            fail("packaged sockserv-ftpd.conf lacks %s" % k)
            continue
        val = m.group(1).strip()
        literal = re.fullmatch(r"\*(.*)\*", d)
        if m.group(0).startswith("#") and literal and val != literal.group(1):
            fail("packaged sockserv-ftpd.conf: #%s = %s, the page says %s"
                 % (k, val, literal.group(1)))
        if d == "none" and m.group(0).startswith("#") and val:
            fail("packaged sockserv-ftpd.conf: #%s = %s, the page says none" % (k, val))
    if len(failures) == bad:
        print("%d config keys: code, page and packaged config agree" % len(code_keys))


def example(src):
    page = unescape(open(os.path.join(src, "man", "libsockserv.3.scd")).read())
    m = re.search(r"# EXAMPLE\n.*?```\n(.*?)```", page, re.S)
    prog = open(os.path.join(src, "tests", "install", "user_program.c")).read()
    if not m or m.group(1) not in prog:
        fail("libsockserv(3)'s example differs from tests/install/user_program.c")
    else:
        print("libsockserv(3)'s example is the tested program")


def headers(src):
    incdir = os.path.join(src, "libsockserv", "include", "sockserv")
    for h in sorted(os.listdir(incdir)):
        name = h[:-2]
        page = "sockserv.3.scd" if name == "sockserv" else "sockserv-%s.3.scd" % name
        try:
            doc = unescape(open(os.path.join(src, "man", page)).read())
        except OSError:
            fail("%s has no page man/%s" % (h, page))
            continue
        code = re.sub(r"/\*.*?\*/", "", open(os.path.join(incdir, h)).read(), flags=re.S)
        ids, lines, in_macro = set(), [], False
        for line in code.split("\n"):
            m = re.match(r"\s*#\s*define\s+(\w+)", line)
            if m:
                ids.add(m.group(1))
            if not (m or in_macro):
                lines.append(line)  # macro bodies only use names
            in_macro = line.rstrip().endswith("\\")
        body = "\n".join(lines)
        ids |= set(re.findall(r"\b(ss_\w+)\s*\(", body))
        ids |= set(re.findall(r"\bextern\s+const\s+\w+\s+(ss_\w+)\s*;", body))
        ids |= set(re.findall(r"}\s*(ss_\w+)\s*;", body))
        ids |= set(re.findall(r"typedef\s+[^;{}]*?\b(ss_\w+)\s*;", body))
        ids = {i for i in ids if i.lower().startswith("ss_") and not i.endswith("_H")
               and not i.startswith("SS__")}
        missing = sorted(i for i in ids if not re.search(r"\b%s\b" % re.escape(i), doc))
        for i in missing:
            fail("%s declares %s but man/%s does not mention it" % (h, i, page))
        if not missing:
            print("%s: %d names, all in %s" % (h, len(ids), page))


cmd = sys.argv[1]
{"render": lambda: render(sys.argv[2]),
 "flags": lambda: flags(sys.argv[2], sys.argv[3]),
 "keys": lambda: keys(sys.argv[2], sys.argv[3]),
 "headers": lambda: headers(sys.argv[2]),
 "example": lambda: example(sys.argv[2])}[cmd]()
sys.exit(1 if failures else 0)
