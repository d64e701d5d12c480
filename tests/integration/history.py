"""Randomized histories against the real stack, checked for what retention
and alerts must never do (in the spirit of Jepsen's checkers).

Each history is a random sequence of what pipelines, people and clusters do
to two stores (the stack's versitygw, "default", indexed from its events; a
second versitygw, "mirror", indexed by backfill), each behind a fault proxy
(faultproxy.py) that logs every request artifact-watch makes and injects
faults on chosen ones: uploads and rewrites in a versioned and an
unversioned bucket, model folders whose metadata.json declares their
training data, promotions to stage production, deletions by people, events
lost (the consumer group moved past them), backfills, plans saved and
applied later under other rules, two applies at once, SIGKILL of an apply
with DELETEs in flight, 503/403/slow answers and HEADs without ETag or size,
bytes rotted on the store's disk, scrubs.

The invariants, checked against the stores' own answers:
  I1 nothing protected is deleted: at the moment of each apply, no DELETE
     removed a version that a protect rule (stage: production) or keep_last
     kept, and every model left after the apply still has its training data;
  I2 no current version is deleted by version id (only noncurrent rules send
     those here; the proxy asks the store what is current just before);
  I3 every DELETE reaching a store had a pending audit row of that store for
     that object, committed before it (the proxy asks PostgreSQL) — so no
     request for a row of one store reaches the other, and nothing vanishes
     without a record;
  I4 after a drain and a backfill, the index agrees with each store's listing
     (what is live, what is deleted, which version is current);
  I5 after a scrub, every rotted object still there has an open
     checksum_mismatch alert, and no open alert names bytes that are fine;
  I6 no artifact-watch process crashed.

Usage: history.py --histories N --seed S [--verbose] (needs the stack's
settings in the environment, AW_BIN, ITEST_BIN, and the mirror's and the
proxies' addresses: run it through history.sh or bench/history.sh).
"""
import argparse
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request

import botocore.config
import botocore.session

AW_BIN = os.environ["AW_BIN"]
ITEST_BIN = os.environ["ITEST_BIN"]
TOPIC = os.environ["AW_KAFKA_TOPIC"]
DISK = os.path.join(os.environ["AW_STACK_DIR"], "s3", "data")
PROXY = {"default": os.environ["HISTORY_PROXY_DEFAULT"], "mirror": os.environ["HISTORY_PROXY_MIRROR"]}
MIRROR = {"endpoint": os.environ["HISTORY_MIRROR_URL"], "key": os.environ["HISTORY_MIRROR_KEY"],
          "secret": os.environ["HISTORY_MIRROR_SECRET"]}
STORES_FILE = os.environ["HISTORY_STORES_FILE"]


def client(endpoint, key, secret):
    return botocore.session.get_session().create_client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}))


S3 = {"default": client(os.environ["AWS_ENDPOINT_URL_S3"], os.environ["AWS_ACCESS_KEY_ID"],
                        os.environ["AWS_SECRET_ACCESS_KEY"]),
      "mirror": client(MIRROR["endpoint"], MIRROR["key"], MIRROR["secret"])}


def sql(q):
    out = subprocess.run(["psql", "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", q],
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError("psql: %s: %s" % (q[:80], out.stderr.strip()))
    return [l.split("\t") for l in out.stdout.splitlines() if l]


def proxy(store, path, data=None, method="GET"):
    req = urllib.request.Request(PROXY[store] + path, data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()


def proxy_log(store):
    return [json.loads(l) for l in proxy(store, "/__proxy/log").splitlines() if l]


class Violation(Exception):
    pass


class History:
    def __init__(self, seed, verbose):
        self.seed = seed
        self.rng = random.Random(seed)
        self.verbose = verbose
        tag = "%x%04x" % (int(time.time()) & 0xfffffff, seed & 0xffff)
        self.u = "hu-%s" % tag           # unversioned: models and data
        self.v = "hv-%s" % tag           # versioned: datasets with versions
        self.group = "history-%s" % tag
        self.ops = []
        self.violations = []
        self.rotted = {}                 # (store, bucket, key, version or "") -> rotted bytes' sha256
        self.pristine = {}               # the same -> the bytes' sha256 before they first rotted
        self.rules_version = 0
        self.notes = []
        # what the index can know: keys of the default store written or
        # deleted since the last drain (pending), and those whose events were
        # lost since the last backfill (unknown: no invariant is held there)
        self.pending = set()
        self.unknown = set()

    # ---- the world
    def log(self, what):
        now = time.time()
        took = now - getattr(self, "_last", now)
        self._last = now
        self.ops.append(what)
        if self.verbose:
            print("  [%d] %s (%.2f s)" % (self.seed, what, took), flush=True)

    def aw(self, *args, env=None, check=True, timeout=120, background=False):
        e = dict(os.environ)
        e["AWS_ENDPOINT_URL_S3"] = PROXY["default"]
        e.update(env or {})
        cmd = [AW_BIN] + list(args) + ["--log-level", "error"]
        if background:
            return subprocess.Popen(cmd, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True)
        p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout)
        self.exited(args, p.returncode, p.stderr)
        return p

    def exited(self, args, rc, err, killed=False):
        if killed and rc == -signal.SIGKILL:
            return
        if rc < 0 or rc >= 128:
            self.violate("I6", "%s crashed (status %d): %s" % (" ".join(args[:2]), rc, err[-300:]))
        elif rc not in (0, 1, 3):
            self.violate("I6", "%s exited %d: %s" % (" ".join(args[:2]), rc, err[-300:]))

    def violate(self, inv, what):
        self.violations.append("%s %s" % (inv, what))
        if self.verbose:
            print("  [%d] VIOLATION %s %s" % (self.seed, inv, what), flush=True)

    def put(self, store, bucket, key, body):
        r = S3[store].put_object(Bucket=bucket, Key=key, Body=body)
        if store == "default":
            self.pending.add((bucket, key))
        return r.get("VersionId")

    def delete(self, store, bucket, key):
        S3[store].delete_object(Bucket=bucket, Key=key)
        if store == "default":
            self.pending.add((bucket, key))

    def setup(self):
        for store in ("default", "mirror"):
            for b in (self.u, self.v):
                S3[store].create_bucket(Bucket=b)
            S3[store].put_bucket_versioning(Bucket=self.v,
                                            VersioningConfiguration={"Status": "Enabled"})
        # the group starts at the end of the topic: this history's events only
        subprocess.run([os.path.join(ITEST_BIN, "kafka_tool"), "skip", TOPIC, self.group],
                       check=True, capture_output=True)
        self.model_versions = []
        self.datasets = ["data/train-%d.csv" % i for i in range(3)]

    # ---- operations
    def op_data(self):
        store = "mirror" if self.rng.random() < 0.25 else "default"
        bucket = self.rng.choice([self.u, self.v])
        key = self.rng.choice(self.datasets)
        body = ("rows %d %f\n" % (self.seed, self.rng.random())).encode() * self.rng.randint(1, 40)
        self.put(store, bucket, key, body)
        self.log("put %s s3://%s/%s (%d bytes)" % (store, bucket, key, len(body)))

    def op_model(self):
        n = len(self.model_versions) + 1
        ver = "v1.0.%d" % n
        data = self.rng.choice([(self.u, k) for k in self.datasets] + [(self.v, k) for k in self.datasets])
        folder = "models/churn/%s/" % ver
        stage = "production" if self.rng.random() < 0.25 else "staging"
        self.put("default", self.u, folder + "model.bin", ("model %s %d\n" % (ver, self.seed)).encode())
        meta = {"stage": stage, "created_from": {"data_path": "s3://%s/%s" % data}}
        self.put("default", self.u, folder + "metadata.json", json.dumps(meta).encode())
        self.model_versions.append(ver)
        self.log("model %s (%s) from s3://%s/%s" % (ver, stage, data[0], data[1]))

    def op_promote(self):
        if not self.model_versions:
            return
        ver = self.rng.choice(self.model_versions)
        key = "models/churn/%s/metadata.json" % ver
        try:
            meta = json.loads(S3["default"].get_object(Bucket=self.u, Key=key)["Body"].read())
        except Exception:
            return
        meta["stage"] = "production"
        self.put("default", self.u, key, json.dumps(meta).encode())
        self.log("promote %s to production" % ver)

    def op_user_delete(self):
        store = "mirror" if self.rng.random() < 0.2 else "default"
        bucket = self.rng.choice([self.u, self.v])
        key = self.rng.choice(self.datasets + ["models/churn/%s/model.bin" % v for v in self.model_versions])
        self.delete(store, bucket, key)
        self.log("user deletes %s s3://%s/%s" % (store, bucket, key))

    def op_user_delete_folder(self):
        if not self.model_versions:
            return
        ver = self.rng.choice(self.model_versions)
        for f in ("model.bin", "metadata.json"):
            self.delete("default", self.u, "models/churn/%s/%s" % (ver, f))
        self.log("user deletes model folder %s" % ver)

    def op_lose_events(self):
        subprocess.run([os.path.join(ITEST_BIN, "kafka_tool"), "skip", TOPIC, self.group],
                       check=True, capture_output=True)
        self.unknown |= self.pending
        self.pending = set()
        self.log("events lost (the group moved past them)")

    def op_drain(self):
        self.aw("ingest", "--group", self.group, "--drain")
        self.pending = set()
        self.log("drain")

    def op_backfill(self):
        targets = ["s3://%s" % self.u, "s3://%s" % self.v]
        self.aw("backfill", *targets)
        self.unknown = set()
        if self.rng.random() < 0.7:
            self.aw("backfill", *targets, "--store", "mirror", "--stores", STORES_FILE)
        self.log("backfill")

    def op_rot(self):
        """A byte flipped on the store's disk, size and mtime kept."""
        objs = []
        for root, _, files in os.walk(os.path.join(DISK, self.u)):
            objs += [os.path.join(root, f) for f in files]
        if not objs:
            return
        path = self.rng.choice(sorted(objs))
        st = os.stat(path)
        if not st.st_size:
            return
        key = os.path.relpath(path, os.path.join(DISK, self.u))
        k = ("default", self.u, key)
        with open(path, "r+b") as f:
            b = bytearray(f.read())
            now = hashlib.sha256(bytes(b)).hexdigest()
            if self.rotted.get(k) != now:  # not rotted, or written again since
                self.pristine[k] = now
            b[self.rng.randrange(len(b))] ^= 0x20
            f.seek(0)
            f.write(b)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        sha = hashlib.sha256(bytes(b)).hexdigest()
        if sha == self.pristine.get(k):
            # the same byte flipped back (a small file): the bytes are fine again
            del self.rotted[k]
            self.log("rot s3://%s/%s, undoing the last one" % (self.u, key))
            return
        self.rotted[k] = sha
        self.log("rot s3://%s/%s" % (self.u, key))

    def op_scrub(self):
        self.aw("scrub", "--once", "--all", "--bucket", self.u, "--stores", STORES_FILE)
        self.log("scrub")

    # ---- rules
    def rules(self):
        self.rules_version += 1
        r = self.rng
        lines = ["version: 1", "protect_lineage: %s" % r.choice(["true", "true", "current"]),
                 "limits: {max_delete_fraction: 1}", "rules:"]
        if r.random() < 0.8:
            lines += ["  - name: production", "    match: {bucket: \"%s\", metadata: {stage: production}}" % self.u,
                      "    protect: true"]
        keep = r.randint(1, 3)
        lines += ["  - name: keep-models", "    match: {bucket: \"%s\", prefix: models/, artifact: churn}" % self.u,
                  "    keep_last: %d" % keep]
        store = r.choice(["default", "mirror", None])
        lines += ["  - name: data-expiry", "    match: {bucket: \"%s\", prefix: data/%s}" % (
            self.u, ", store: %s" % store if store else ""), "    expire_after: 1s"]
        lines += ["  - name: old-datasets", "    match: {bucket: \"%s\", prefix: data/}" % self.v,
                  "    noncurrent_expire_after: 1s"]
        if r.random() < 0.5:
            lines += ["    keep_noncurrent: %d" % r.randint(1, 2)]
        if r.random() < 0.5:
            lines += ["  - name: current-datasets", "    match: {bucket: \"%s\", prefix: data/}" % self.v,
                      "    expire_after: 1s"]
        path = "/tmp/history-%d-%d.yaml" % (self.seed, self.rules_version)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path, "\n".join(lines), keep

    def faults(self):
        rules = []
        r = self.rng
        for _ in range(r.randint(0, 3)):
            kind = r.choice(["503", "403", "delay", "strip_etag", "strip_size", "drop"])
            key = r.choice(self.datasets + ["models/churn/%s/model.bin" % v for v in self.model_versions] or ["x"])
            m = {"key": "^%s$" % re.escape(key), "times": r.randint(1, 3)}
            if kind in ("503", "403"):
                m.update(method="DELETE", action="status", status=int(kind),
                         code="SlowDown" if kind == "503" else "AccessDenied")
            elif kind == "drop":
                m.update(method="DELETE", action="drop")
            elif kind == "delay":
                m.update(method=r.choice(["HEAD", "DELETE"]), action="delay", ms=r.randint(50, 600))
            else:
                m.update(method="HEAD", action=kind)
            rules.append(m)
        return rules

    # ---- applies, checked
    def snapshot(self):
        """Every version in both stores' buckets, and the models' metadata."""
        snap = {"objects": set(), "current": {}, "meta": {}}
        for store in ("default", "mirror"):
            for b in (self.u, self.v):
                pages = S3[store].get_paginator("list_object_versions").paginate(Bucket=b)
                for page in pages:
                    for o in page.get("Versions", []):
                        vid = o.get("VersionId") or "null"
                        snap["objects"].add((store, b, o["Key"], vid))
                        if o.get("IsLatest"):
                            snap["current"][(store, b, o["Key"])] = vid
                    for o in page.get("DeleteMarkers", []):
                        if o.get("IsLatest"):
                            snap["current"][(store, b, o["Key"])] = "marker"
        for ver in self.model_versions:
            try:
                body = S3["default"].get_object(Bucket=self.u, Key="models/churn/%s/metadata.json" % ver)["Body"].read()
                snap["meta"][ver] = json.loads(body)
            except Exception:
                pass
        return snap

    def exists(self, snap, store, bucket, key):
        return any(o[:3] == (store, bucket, key) for o in snap["objects"])

    def check_apply(self, before, after, rules_text, keep, logs):
        deleted = [o for o in before["objects"] if o not in after["objects"]]
        protect = "name: production" in rules_text
        versions = sorted(self.model_versions, key=lambda v: [int(x) for x in v[1:].split(".")])
        # an artifact version is a folder with anything in it
        present = [v for v in versions if any(o[:2] == ("default", self.u) and
                                              o[2].startswith("models/churn/%s/" % v)
                                              for o in before["objects"])]
        kept = set(present[-keep:]) if keep else set()
        lost = {k for b, k in self.unknown if b == self.u}
        keep_knowable = not any(k.startswith("models/") for k in lost)
        for store, b, key, vid in deleted:
            m = re.match(r"models/churn/(v[0-9.]+)/", key)
            if m and b == self.u and store == "default":
                ver = m.group(1)
                if protect and before["meta"].get(ver, {}).get("stage") == "production" and \
                        "models/churn/%s/metadata.json" % ver not in lost:
                    self.violate("I1", "deleted %s of production model %s" % (key, ver))
                if ver in kept and keep_knowable:
                    self.violate("I1", "deleted %s of %s, one of the last %d kept" % (key, ver, keep))
        # every model left has its training data
        for ver in versions:
            mk = "models/churn/%s/model.bin" % ver
            meta = after["meta"].get(ver) or before["meta"].get(ver)
            if not meta or not self.exists(after, "default", self.u, mk) or \
                    mk in lost or "models/churn/%s/metadata.json" % ver in lost:
                continue
            src = meta.get("created_from", {}).get("data_path", "")
            m = re.match(r"s3://([^/]+)/(.*)", src)
            if not m:
                continue
            if self.exists(before, "default", m.group(1), m.group(2)) and \
                    not self.exists(after, "default", m.group(1), m.group(2)):
                if any(d[:3] == ("default", m.group(1), m.group(2)) for d in deleted):
                    self.violate("I1", "deleted %s, input of %s which stays" % (src, mk))
        for store, log in logs.items():
            for e in log:
                if e["method"] != "DELETE" or e.get("status") is None and e.get("fault") == "drop":
                    continue
                if e.get("fault") in ("status", "drop"):
                    continue
                if e.get("pg", "1") in ("", "0"):
                    self.violate("I3", "DELETE %s s3://%s/%s?%s reached store %s with no pending "
                                 "audit row of that store" % (e.get("status"), e["bucket"], e["key"],
                                                              e["query"], store))
                q = e["query"]
                if "versionId=" in q and e.get("current") and e["current"] in q:
                    self.violate("I2", "DELETE of the current version %s of s3://%s/%s" % (
                        e["current"], e["bucket"], e["key"]))

    def op_apply(self, saved=False, kill=False, twice=False):
        path, text, keep = self.rules()
        faults = self.faults()
        env = {}
        use_stores = self.rng.random() < 0.7
        extra = ["--stores", STORES_FILE] if use_stores else []
        plan_id = None
        if saved:
            out = self.aw("policy", "plan", "--rules", path, "--save", *extra).stdout
            m = re.search(r"plan (\d+) saved", out)
            plan_id = m and m.group(1)
            # things change between plan and apply
            for _ in range(self.rng.randint(0, 2)):
                self.rng.choice([self.op_promote, self.op_data, self.op_model])()
            self.op_drain()
            path, text, keep = self.rules()
        for store in PROXY:
            proxy(store, "/__proxy/clear", b"", "PUT")
        proxy("default", "/__proxy/rules", json.dumps(faults).encode(), "PUT")
        before = self.snapshot()
        if self.rng.random() < 0.7:
            self.op_drain()  # as ingest, always running, would have
        args = ["policy", "apply", "--rules", path, "--fetch-retries", "1", "--group", self.group,
                "--lag-wait", "0", "--fetch-timeout-ms", "3000", "--stop-grace-ms", "1000"] + extra
        if plan_id:
            args += ["--plan", plan_id]
        if kill or twice:
            if kill:
                slow = [{"method": "DELETE", "action": "delay", "ms": 800}]
                proxy("default", "/__proxy/rules", json.dumps(slow + faults).encode(), "PUT")
            p = self.aw(*args, background=True)
            time.sleep(self.rng.uniform(0.05, 1.5))
            if twice:
                q = self.aw(*args)
                if q.returncode == 0 and p.poll() is None:
                    self.violate("I3", "a second apply ran while one held the lock")
            if kill and p.poll() is None:
                p.send_signal(signal.SIGKILL)
            err = p.communicate(timeout=120)[1]
            self.exited(args, p.returncode, err, killed=kill)
            time.sleep(1.0)  # what the proxy held goes through, as a store that had it would act
        else:
            self.aw(*args)
        after = self.snapshot()
        logs = {s: proxy_log(s) for s in PROXY}
        if not use_stores and any(e for e in logs["mirror"]):
            self.violate("I3", "a process without the mirror in its stores sent it %d requests" % len(logs["mirror"]))
        self.check_apply(before, after, text, keep, logs)
        proxy("default", "/__proxy/rules", b"[]", "PUT")
        self.log("apply%s%s%s (%d faults, stores %s)" % (" saved plan" if saved else "", " killed" if kill else "",
                                                        " twice" if twice else "", len(faults), use_stores))

    # ---- the end
    def final_checks(self):
        proxy("default", "/__proxy/rules", b"[]", "PUT")
        time.sleep(1.0)
        # pending rows of killed runs are resolved once their requests cannot be on their way
        self.op_drain()
        self.op_backfill_all()
        self.check_index()
        self.aw("scrub", "--once", "--all", "--bucket", self.u, "--stores", STORES_FILE)
        self.check_alerts()

    def op_backfill_all(self):
        targets = ["s3://%s" % self.u, "s3://%s" % self.v]
        self.aw("backfill", *targets)
        self.aw("backfill", *targets, "--store", "mirror", "--stores", STORES_FILE)

    def check_index(self):
        for store in ("default", "mirror"):
            for b in (self.u, self.v):
                live = {}
                current = {}
                for page in S3[store].get_paginator("list_object_versions").paginate(Bucket=b):
                    for o in page.get("Versions", []):
                        live[(o["Key"], o.get("VersionId") if b == self.v else None)] = o["ETag"].strip('"')
                        if o.get("IsLatest"):
                            current[o["Key"]] = o.get("VersionId")
                    for o in page.get("DeleteMarkers", []):
                        if o.get("IsLatest"):
                            current[o["Key"]] = "marker"
                rows = sql("SELECT key, COALESCE(version_id, ''), COALESCE(etag, ''), state = 'present' AND NOT deleted,"
                           " id = aw.current_version(store, bucket, key), state FROM aw.object_versions"
                           " WHERE store = '%s' AND bucket = '%s'" % (store, b))
                if b == self.u:  # unversioned: the current version of each key
                    cur = {r[0]: r for r in rows if r[4] == "t"}
                    for key, etag in ((k[0], e) for k, e in live.items()):
                        r = cur.get(key)
                        if not r or r[3] != "t" or (r[2] and r[2] != etag):
                            self.violate("I4", "%s s3://%s/%s is in the store (ETag %s) but the index's current "
                                         "version is %s" % (store, b, key, etag, r and "|".join(r)))
                    for key, r in cur.items():
                        if r[3] == "t" and (key, None) not in live:
                            self.violate("I4", "%s s3://%s/%s is live in the index but not in the store" % (store, b, key))
                else:
                    indexed = {(r[0], r[1]) for r in rows if r[3] == "t"}
                    for (key, vid) in live:
                        if (key, vid) not in indexed:
                            self.violate("I4", "%s s3://%s/%s version %s is in the store, not live in the index" % (
                                store, b, key, vid))
                    for (key, vid) in indexed:
                        if (key, vid) not in live:
                            self.violate("I4", "%s s3://%s/%s version %s is live in the index, gone from the store" % (
                                store, b, key, vid))
                    for r in rows:
                        if r[4] == "t" and r[0] in current and current[r[0]] != "marker" and r[5] == "present" \
                                and r[1] != current[r[0]]:
                            self.violate("I4", "%s s3://%s/%s: the index's current version is %s, the store's %s" % (
                                store, b, r[0], r[1], current[r[0]]))

    def check_alerts(self):
        open_alerts = sql("SELECT kind, store, bucket, key, COALESCE(actual, '') FROM aw.alerts"
                          " WHERE state = 'open' AND bucket IN ('%s', '%s')" % (self.u, self.v))
        for (store, b, key), sha in self.rotted.items():
            try:
                body = S3[store].get_object(Bucket=b, Key=key)["Body"].read()
            except Exception:
                continue
            if hashlib.sha256(body).hexdigest() != sha:
                continue  # rewritten since it rotted
            if not any(a[0] == "checksum_mismatch" and a[2] == b and a[3] == key for a in open_alerts):
                self.violate("I5", "s3://%s/%s rotted and has no open checksum_mismatch alert" % (b, key))
        for kind, store, b, key, actual in open_alerts:
            if kind == "checksum_mismatch":
                try:
                    body = S3[store].get_object(Bucket=b, Key=key)["Body"].read()
                    fine = hashlib.sha256(body).hexdigest() != actual and (store, b, key) not in self.rotted
                except Exception:
                    fine = False
                if fine:
                    self.violate("I5", "open checksum_mismatch on s3://%s/%s, whose bytes are fine" % (b, key))
            elif kind == "missing":
                if self.exists(self.snapshot(), store, b, key):
                    self.violate("I5", "open missing alert on s3://%s/%s, which the store has" % (b, key))
            elif kind in ("bucket_unreachable", "unreadable"):
                self.violate("I5", "open %s alert on s3://%s/%s" % (kind, b, key))

    def run(self):
        self.setup()
        steps = [self.op_data, self.op_data, self.op_model, self.op_model, self.op_promote,
                 self.op_user_delete, self.op_user_delete_folder, self.op_lose_events,
                 self.op_lose_events, self.op_drain, self.op_drain,
                 self.op_backfill, self.op_rot, self.op_scrub,
                 lambda: self.op_apply(), lambda: self.op_apply(saved=True),
                 lambda: self.op_apply(kill=True), lambda: self.op_apply(twice=True)]
        for _ in range(3):
            self.op_data()
        self.op_model()
        self.op_drain()
        time.sleep(1.1)  # older than the rules' 1s
        for _ in range(self.rng.randint(6, 12)):
            self.rng.choice(steps)()
        self.op_apply()
        self.final_checks()
        return self.violations


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--histories", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    total = 0
    bad = 0
    t0 = time.time()
    for i in range(a.histories):
        seed = a.seed + i
        h = History(seed, a.verbose)
        try:
            v = h.run()
        except Exception as e:  # a harness failure is reported, not counted as a violation
            print("history %d: harness error: %r after %s" % (seed, e, h.ops[-3:]), flush=True)
            bad += 1
            continue
        total += 1
        if v:
            bad += 1
            print("history %d: %d violation(s):\n    %s\n  ops: %s" % (seed, len(v), "\n    ".join(v),
                                                                     "; ".join(h.ops)), flush=True)
        elif a.verbose:
            print("history %d: ok (%d ops)" % (seed, len(h.ops)), flush=True)
    print("histories run: %d, with violations or errors: %d, seeds %d..%d, %.1f s" % (
        total, bad, a.seed, a.seed + a.histories - 1, time.time() - t0), flush=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
