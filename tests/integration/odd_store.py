"""A store that answers with what no real store should: for fault injection.

HEAD answers with the headers given as a JSON object in ODD_HEAD (206 when
they include Content-Range, else 200); GET ignores Range and answers 200 with
the first body of the JSON object ODD_BODIES whose name the request's path
and query contain, else ODD_BODY (default "odd store body\n"). Every request is
written to stderr as "METHOD PATH range=RANGE". Listens on 127.0.0.1 on a free
port and prints the port on stdout.
"""
import http.server
import json
import os
import sys

HEAD = json.loads(os.environ.get("ODD_HEAD", "{}"))
BODY = os.environ.get("ODD_BODY", "odd store body\n").encode()
BODIES = json.loads(os.environ.get("ODD_BODIES", "{}"))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def note(self):
        sys.stderr.write("%s %s range=%s\n" % (self.command, self.path, self.headers.get("Range")))
        sys.stderr.flush()

    def do_HEAD(self):
        self.note()
        self.send_response(206 if "Content-Range" in HEAD else 200)
        for name, value in HEAD.items():
            self.send_header(name, value)
        self.end_headers()

    def do_GET(self):
        self.note()
        body = next((b.encode() for k, b in BODIES.items() if k in self.path), BODY)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"odd"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
