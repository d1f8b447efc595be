#!/usr/bin/python3
"""webhook_receiver: the other end of herald's outbound webhooks, for
test_webhook. It checks each POST's Herald-Signature the way a receiver is
told to in README (Python's hmac, independent of herald's code):

    t=UNIX,v1=HEX   HEX == HMAC-SHA256(secret, b"UNIX." + body).hexdigest()

and appends one JSON line per request to webhook.log (written before it
answers): its number n (from 1), the status it answers, whether the
signature verified, the webhook's name and the events' ids and types.

  webhook_receiver.py --secret S [--refuse N] [--hang K]

--refuse N answers 503 to the first N POSTs; --hang K records the K-th POST
and then holds its answer (up to 30 s) so the test can kill herald
mid-delivery; a bad signature is answered 401. Prints READY PORT; stops
when its stdin closes or on SIGTERM.
"""
import argparse
import hashlib
import hmac
import http.server
import json
import sys
import threading

lock = threading.Lock()
count = [0]


def verify(secret, header, body):
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts:
        return False
    mac = hmac.new(secret, parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, parts["v1"])


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ok = verify(ARGS.secret.encode(), self.headers.get("Herald-Signature", ""), body)
        with lock:
            count[0] += 1
            n = count[0]
        status = 401 if not ok else 503 if n <= ARGS.refuse else 200
        try:
            doc = json.loads(body)
        except ValueError:
            doc = {}
        events = doc.get("events", [])
        rec = {"n": n, "status": status, "verified": ok, "webhook": doc.get("webhook"),
               "ids": [e.get("id") for e in events], "types": [e.get("type") for e in events],
               "events": events}
        with lock:
            with open("webhook.log", "a") as f:
                f.write(json.dumps(rec) + "\n")
        if n == ARGS.hang:
            threading.Event().wait(30)
        text = {200: b"ok\n", 401: b"bad signature\n", 503: b"busy\n"}[status]
        self.send_response(status)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, *a):
        pass


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--secret", required=True)
    p.add_argument("--refuse", type=int, default=0)
    p.add_argument("--hang", type=int, default=0)
    ARGS = p.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("READY %d" % srv.server_address[1], flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
