#!/usr/bin/env python3
"""Requests each console page REQS times with random starts and prints the
server's time (Server-Timing: app;dur=MS) as p50, p99 and max. Used by
bench/console.sh: console_pages.py BASE N REQS."""
import random
import sys
import urllib.parse
import urllib.request

base, n, reqs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(7)
q = lambda s: urllib.parse.quote(s, safe="")
key = lambda: "s3://bench/n/%d/part.bin" % random.randint(1000, n - 1000)
alerts = list(range(1, 1001))

pages = [
    ("home (kept summary)", lambda: "/"),
    ("search sha256 prefix", lambda: "/search?q=%08x" % random.getrandbits(32)),
    ("search key prefix in a bucket", lambda: "/search?bucket=bench&q=n/%d" % random.randint(1, 99999)),
    ("object", lambda: "/object?store=bench&uri=" + q(key())),
    ("lineage up, depth 5 (SVG)", lambda: "/lineage?store=bench&dir=up&depth=5&uri=" + q(key())),
    ("lineage down, depth 5 (SVG)", lambda: "/lineage?store=bench&dir=down&depth=5&uri=" + q(key())),
    ("lineage up, depth 10 (SVG)", lambda: "/lineage?store=bench&dir=up&depth=10&uri=" + q(key())),
    ("lineage JSON up, depth 20", lambda: "/api/v1/lineage?store=bench&dir=up&depth=20&uri=" + q(key())),
    ("alerts (1,000 open)", lambda: "/alerts"),
    ("alert with blast radius", lambda: "/alert?id=%d" % random.choice(alerts)),
    ("retention", lambda: "/retention"),
    ("plan (first 1,000 of 10,000 actions)", lambda: "/plan?id=1"),
    ("search key substring (a scan)", lambda: "/search?q=/%d/" % random.randint(1, 99999)),
]


def timed(path):
    with urllib.request.urlopen(base + path, timeout=60) as r:
        r.read()
        st = r.headers.get("Server-Timing", "")
        return float(st.split("dur=")[1]) if "dur=" in st else float("nan"), r.status


print("%-38s %6s %9s %9s %9s %7s" % ("page", "reqs", "p50_ms", "p99_ms", "max_ms", "status"))
for name, make in pages:
    timed(make())  # warm: plans, caches
    ts, bad = [], 0
    for _ in range(reqs):
        try:
            t, status = timed(make())
            ts.append(t)
        except urllib.error.HTTPError as e:
            bad += 1
            ts.append(float(e.headers.get("Server-Timing", "app;dur=0").split("dur=")[1]))
    ts.sort()
    print("%-38s %6d %9.2f %9.2f %9.2f %7s" % (name, len(ts), ts[len(ts) // 2],
                                                ts[min(len(ts) - 1, int(len(ts) * 0.99))], ts[-1],
                                                "ok" if not bad else "%d err" % bad))
