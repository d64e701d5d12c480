#!/usr/bin/env python3
"""Compares a folder tree with what the index holds for it.

usage: folder_index.py ROOT STORE

Walks ROOT as a file store lists it (no link followed; regular files whose
relative path is UTF-8 and at most 1024 bytes) and hashes every file, then
asks PostgreSQL (psql, PG* variables) for the current version of each key of
STORE's bucket (ROOT's last component): present, not deleted, and its
SHA-256. Prints each difference and exits 1 if there is any, else prints the
number of files that agree.
"""
import hashlib
import os
import subprocess
import sys


def tree(root):
    files = {}
    for d, dirs, names in os.walk(root, followlinks=False):
        for n in names:
            p = os.path.join(d, n)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            rel = os.path.relpath(p, root).encode("utf-8", "surrogateescape")
            try:
                rel.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if len(rel) > 1024:
                continue
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            files[rel] = h.hexdigest()
    return files


def index(store, bucket):
    sql = (
        "SELECT encode(convert_to(v.key, 'UTF8'), 'hex'), encode(v.sha256, 'hex')"
        " FROM (SELECT DISTINCT key FROM aw.object_versions WHERE store = :'s'"
        "       AND bucket = :'b') k"
        " JOIN aw.object_versions v ON v.id = aw.current_version(:'s', :'b', k.key)"
        " WHERE NOT v.deleted AND v.state = 'present'"
    )
    out = subprocess.run(
        ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-v", "s=" + store, "-v", "b=" + bucket],
        input=sql, capture_output=True, text=True, check=True,
    ).stdout
    rows = {}
    for line in out.splitlines():
        k, _, sha = line.partition("|")
        rows[bytes.fromhex(k)] = sha
    return rows


def main():
    root, store = os.path.realpath(sys.argv[1]), sys.argv[2]
    want, have = tree(root), index(store, os.path.basename(root))
    bad = 0
    for k in sorted(set(want) | set(have)):
        if want.get(k) != have.get(k):
            bad += 1
            print("differs: %r: on disk %s, indexed %s" % (k, want.get(k), have.get(k)))
    if bad:
        sys.exit(1)
    print("%d files agree" % len(want))


if __name__ == "__main__":
    main()
