"""Prints one line "N passed, N failed" over meson test logs.

Each Criterion (or crlite) executable counts as the tests it ran, read from
its "Synthesis:" line; any other test counts as one.  Exits 1 when any
failed or a log is missing."""
import json
import re
import sys

SYNTH = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+)"
                   r"(?: \| Crashing: (\d+))?")
passed = failed = 0
for build in sys.argv[1:]:
    try:
        lines = open(f"{build}/meson-logs/testlog.json").read().splitlines()
    except OSError:
        print(f"{build}: no test log", file=sys.stderr)
        failed += 1
        continue
    for line in lines:
        t = json.loads(line)
        ok = t["result"] in ("OK", "EXPECTEDFAIL", "SKIP")
        m = SYNTH.search(t.get("stdout", "") + t.get("stderr", ""))
        if m:
            p, f = int(m.group(2)), int(m.group(3)) + int(m.group(4) or 0)
            passed += p
            failed += f if f or ok else 1
        elif t["result"] == "SKIP":
            continue
        else:
            passed += ok
            failed += not ok
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
