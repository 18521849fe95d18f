#!/usr/bin/python3
"""The metrics page through the Prometheus project's own Python client
parser (Debian's python3-prometheus-client), run by test_metrics.c.

usage: prom_check.py < PAGE

Every family must have its HELP and TYPE (counter or gauge; a sample
without a TYPE line comes back "unknown"), every counter sample must end
in _total.  Prints "OK <families> <samples>"; anything else raises.
"""
import sys

from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read()
families = samples = 0
for family in text_string_to_metric_families(text):
    families += 1
    if family.type not in ("counter", "gauge"):
        raise SystemExit("%s: type %s" % (family.name, family.type))
    if not family.documentation:
        raise SystemExit("%s: no HELP" % family.name)
    for s in family.samples:
        if family.type == "counter" and not s.name.endswith("_total"):
            raise SystemExit("counter sample %s" % s.name)
        samples += 1
# The parser adds _total to a counter's samples whose TYPE line lacks it:
# the page's own TYPE lines are checked here.
for line in text.splitlines():
    if line.startswith("# TYPE ") and line.endswith(" counter"):
        name = line.split()[2]
        if not name.endswith("_total"):
            raise SystemExit("counter %s does not end in _total" % name)
print("OK %d %d" % (families, samples))
