"""A fault proxy between artifact-watch and a real S3 server (versitygw).

Every request is forwarded as it came (its Host header and SigV4 signature
untouched, so the server checks them) and logged; rules inject the faults a
real store and network produce, on chosen requests only:

  {"method": "DELETE", "key": "^models/", "query": "versionId", "bucket": "^b",
   "action": "status", "status": 503, "code": "SlowDown", "times": 1}
  action status      answer with that status and an S3 error body (not forwarded)
  action delay       forward after "ms" milliseconds
  action strip_etag  forward; drop the ETag header of the answer
  action strip_size  forward; drop Content-Length of a HEAD's answer too
  action drop        close the connection without an answer

A rule matches when every regular expression it has (method, bucket, key,
query) finds a match; "times" (default: every time) counts its uses down.
The first matching rule that has uses left applies.

Control, on the same port (no bucket name can start with "__"):
  PUT /__proxy/rules   body: a JSON list of rules, replacing the old ones
  GET /__proxy/log     the log so far, one JSON object per line
  PUT /__proxy/clear   empties the log

Each log line: {"t": seconds, "method", "bucket", "key", "query",
"if_match", "status" (null while in flight), "fault", "done"} and, for a DELETE that names a versionId,
"current": the version id a HEAD without versionId found current just before
the DELETE was forwarded ("" when the key had no current version), so a test
can tell whether a current version was deleted. With AW_PROXY_PG_CHECK set to
a SQL query text, each forwarded DELETE first runs it through psql with the
bucket, key and version id as :'bucket', :'key' and :'version' (and
AW_PROXY_STORE as :'store') and logs its one-line answer as "pg": what the
database held at that moment.

Usage: faultproxy.py UPSTREAM_URL  (prints the port it listens on)
"""
import http.client
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse

UPSTREAM = urllib.parse.urlsplit(sys.argv[1])
PG_CHECK = os.environ.get("AW_PROXY_PG_CHECK")
lock = threading.Lock()
rules = []
log = []
local = threading.local()


def upstream():
    c = getattr(local, "conn", None)
    if c is None:
        c = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=60)
        local.conn = c
    return c


def forward(method, path, headers, body):
    """Sends the request upstream; returns (status, reason, headers, body)."""
    for attempt in range(2):
        c = upstream()
        try:
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
            return r.status, r.reason, r.getheaders(), data
        except (http.client.HTTPException, OSError):
            c.close()
            local.conn = None
            if attempt:
                raise


def pick(method, bucket, key, query):
    with lock:
        for r in rules:
            if r.get("times", -1) == 0:
                continue
            ok = all(
                re.search(r[f], v) for f, v in
                (("method", method), ("bucket", bucket), ("key", key), ("query", query))
                if f in r)
            if ok:
                if r.get("times", -1) > 0:
                    r["times"] -= 1
                return r
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body=b"", headers=(), reason=None):
        self.send_response(status, reason)
        sent_length = False
        for k, v in headers:
            lk = k.lower()
            if lk in ("transfer-encoding", "connection"):
                continue
            if lk == "content-length":
                sent_length = True
            self.send_header(k, v)
        if not sent_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def control(self, body):
        global rules
        if self.path == "/__proxy/rules" and self.command == "PUT":
            with lock:
                rules = json.loads(body or b"[]")
            return self.reply(204)
        if self.path == "/__proxy/log" and self.command == "GET":
            with lock:
                text = "".join(json.dumps(e) + "\n" for e in log)
            return self.reply(200, text.encode(), [("Content-Type", "application/x-ndjson")])
        if self.path == "/__proxy/clear" and self.command == "PUT":
            with lock:
                log.clear()
            return self.reply(204)
        return self.reply(404)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        if self.path.startswith("/__proxy/"):
            return self.control(body)
        parts = urllib.parse.urlsplit(self.path)
        segs = parts.path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(segs[0])
        key = urllib.parse.unquote(segs[1]) if len(segs) > 1 else ""
        entry = {"t": time.time(), "method": self.command, "bucket": bucket, "key": key,
                 "query": parts.query, "if_match": self.headers.get("If-Match")}
        rule = pick(self.command, bucket, key, parts.query)
        action = rule["action"] if rule else None
        entry["fault"] = action
        entry["status"] = None  # until the answer: in flight
        with lock:
            log.append(entry)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        q = urllib.parse.parse_qs(parts.query)
        if self.command == "DELETE" and "versionId" in q and action not in ("status", "drop"):
            # the oracle: what is current for this key right now
            st, _, hh, _ = forward("HEAD", "/" + segs[0] + "/" + (segs[1] if len(segs) > 1 else ""),
                                   {k: v for k, v in headers.items() if k.lower() == "host"}, None)
            entry["current"] = dict((k.lower(), v) for k, v in hh).get("x-amz-version-id", "") \
                if st == 200 else ""
        if self.command == "DELETE" and PG_CHECK and action not in ("status", "drop"):
            vid = q.get("versionId", [""])[0]
            out = subprocess.run(["psql", "-X", "-At", "-v", "bucket=" + bucket, "-v", "key=" + key,
                                  "-v", "version=" + vid, "-v",
                                  "store=" + os.environ.get("AW_PROXY_STORE", "")],
                                 input=PG_CHECK, capture_output=True, text=True)
            entry["pg"] = (out.stdout or out.stderr).strip()
        try:
            if action == "status":
                code = rule.get("code", "InternalError")
                status = int(rule.get("status", 503))
                xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                       "<Message>injected by the fault proxy</Message></Error>" % code).encode()
                entry["status"] = status
                return self.reply(status, xml, [("Content-Type", "application/xml")])
            if action == "drop":
                entry["status"] = 0
                self.close_connection = True
                return
            if action == "delay":
                time.sleep(rule.get("ms", 1000) / 1000.0)
            status, reason, hh, data = forward(self.command, self.path, headers, body)
            entry["status"] = status
            if action in ("strip_etag", "strip_size"):
                hh = [(k, v) for k, v in hh if k.lower() != "etag"]
            if action == "strip_size" and self.command == "HEAD":
                # an answer that says nothing of the object's size either
                self.send_response(status, reason)
                for k, v in hh:
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.end_headers()
                self.close_connection = True
                return
            return self.reply(status, data, hh, reason)
        finally:
            entry["done"] = time.time()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = handle_any

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
