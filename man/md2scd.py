#!/usr/bin/python3
"""Drafts a header's man page from its doc/api page:

    man/md2scd.py doc/api/upgrade.md > man/sockserv-upgrade.3.scd

The header pages (sockserv-<header>.3.scd) were made this way once and are
kept by hand since; use it for a new header, then add the page to
man/meson.build.  tests/packaging checks that the page renders without
warnings and names everything the header declares.

Markdown to scdoc: headings become sections, fenced code stays literal,
`code` becomes bold, tables become one indented entry per row, links to
other doc/api pages become their man pages.
"""
import os
import re
import sys


def page_name(md):
    base = os.path.basename(md)[:-3]
    return {"sockserv": "sockserv", "README": "libsockserv",
            "architecture": "libsockserv"}.get(base, "sockserv-" + base)


def esc(t):
    return t.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")


def inline(t):
    out = []
    for part in re.split(r"(`[^`]*`)", t.replace("\\|", "|")):
        if len(part) >= 2 and part[0] == part[-1] == "`":
            code = part[1:-1]
            out.append("*" + esc(code) + "*" if code.strip() else esc(code))
            continue
        links = []

        def link(m):
            url = os.path.basename(m.group(2)).split("#")[0]
            if url.endswith(".md"):
                links.append(page_name(url))
                return "\x03%d\x03" % (len(links) - 1)
            return m.group(1)
        part = re.sub(r"\[([^\]]*)\]\(([^)]*)\)", link, part)
        part = re.sub(r"\*\*([^*]+)\*\*", "\x01\\1\x01", part)
        part = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", "\x02\\1\x02", part)
        part = esc(part).replace("\x01", "*").replace("\x02", "_")
        part = re.sub("\x03(\\d+)\x03", lambda m: "*%s*(3)" % links[int(m.group(1))], part)
        out.append(part)
    return "".join(out)


def convert(md):
    lines = open(md).read().split("\n")
    name = page_name(md)
    m = re.match(r"#\s*`([^`]*)`\s*—\s*(.*)", lines[0])
    desc = inline(m.group(2)).replace("*", "") if m else name
    o = ['%s(3) "libsockserv" "libsockserv manual"' % name, "", "# NAME", "",
         "%s - %s" % (name, desc), ""]
    i = 1
    while i < len(lines) and not lines[i].startswith("```"):
        i += 1
    o += ["# SYNOPSIS", "", "```"]
    i += 1
    while not lines[i].startswith("```"):
        o.append(lines[i].replace("\\", "\\\\"))
        i += 1
    o += ["```", "", "# DESCRIPTION", ""]
    i += 1
    para = []

    def flush():
        items = []
        for x in para:
            if x.startswith("- ") or re.match(r"\d+\. ", x) or not items:
                items.append(x.strip())
            else:
                items[-1] += " " + x.strip()
        for it in items:
            if it.startswith("- "):
                o.append("- " + inline(it[2:]))
            elif re.match(r"\d+\. ", it):
                n, rest = it.split(" ", 1)
                o.append(n + " " + inline(rest))
            else:
                o.append(inline(it))
        if para:
            o.append("")
        para.clear()

    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            flush()
            o.append("```")
            i += 1
            while not lines[i].startswith("```"):
                o.append(lines[i].replace("\t", "    ").replace("\\", "\\\\"))
                i += 1
            o += ["```", ""]
            i += 1
        elif line.startswith("#"):
            flush()
            level = len(line) - len(line.lstrip("#"))
            title = line.lstrip("#").strip().replace("`", "")
            o += ["# " + title.upper() if level <= 2 else "## " + title, ""]
            i += 1
        elif line.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip() for c in re.split(r"(?<!\\)\|", lines[i].strip())[1:-1]])
                i += 1
            head = rows[0]
            for r in rows[1:]:
                if all(set(c) <= set("-: ") for c in r):
                    continue
                o.append(inline(r[0]) if r[0].startswith("`") else "*" + inline(r[0]) + "*")
                cells = [(inline(h) + ": " if len(head) > 2 else "") + inline(c)
                         for h, c in zip(head[1:], r[1:])]
                # scdoc: "++" breaks the line; the first cell's tab indents all
                o.append(" ++\n".join(["\t" + cells[0]] + cells[1:]))
                o.append("")
        elif not line.strip():
            flush()
            i += 1
        else:
            para.append(line)
            i += 1
    flush()
    while o and o[-1] == "":
        o.pop()
    o += ["", "# SEE ALSO", "", "libsockserv(3), sockserv(3)"]
    return "\n".join(o) + "\n"


sys.stdout.write(convert(sys.argv[1]))
