#!/usr/bin/python3
"""twilio_load: many signed Twilio status callbacks at once, for
test_receipts_kill (issue 19): Twilio's side when herald serve is killed.

usage: twilio_load.py TOKEN PUBLIC_URL PORT LIST OUT [CLIENTS]

LIST holds one message a line, "NUMBER SID" (herald's message number and
the gateway's sid, as `sqlite3 ... "SELECT message_id, gateway_id ..."`
prints them), or "NUMBER SID STATUS" for a status other than "delivered".
Each becomes a status callback (MessageStatus STATUS) for
PUBLIC_URL/hooks/twilio/sms?m=NUMBER, signed as Twilio signs it (by
twilio_sign.signature: Python's hmac, not herald's code; all signed before
the first is sent), posted to herald serve on 127.0.0.1:PORT by CLIENTS
threads (default 8), each on a keep-alive connection of its own. Every
callback answered is a line "NUMBER STATUS ANSWER" of OUT, written and
flushed only once the whole answer was read; a client whose connection
fails (the server was killed) stops, and its callback is not written.
Prints "done N" (callbacks answered) at the end."""
import http.client
import os
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from twilio_sign import signature  # noqa: E402

SID = "AC0123456789abcdef0123456789abcdef"


def load(token, public, port, path, out, clients=8):
    todo = []
    with open(path) as f:
        for line in f:
            num, sid, *status = line.split()
            hook = "/hooks/twilio/sms?m=" + num
            params = [("MessageSid", sid), ("MessageStatus", status[0] if status else "delivered"),
                      ("AccountSid", SID)]
            todo.append((num, hook, urllib.parse.urlencode(params),
                         signature(token, public + hook, params)))
    lock = threading.Lock()
    nxt = [0]
    done = [0]
    log = open(out, "w")

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=20)
        while True:
            with lock:
                if nxt[0] >= len(todo):
                    return
                num, hook, body, sig = todo[nxt[0]]
                nxt[0] += 1
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       "X-Twilio-Signature": sig}
            try:
                conn.request("POST", hook, body, headers)
                r = conn.getresponse()
                answer = r.read().decode().strip()
            except (OSError, http.client.HTTPException):
                return
            with lock:
                log.write("%s %d %s\n" % (num, r.status, answer))
                log.flush()
                done[0] += 1

    threads = [threading.Thread(target=client) for _ in range(int(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    print("done %d" % done[0])


if __name__ == "__main__":
    load(*sys.argv[1:])
