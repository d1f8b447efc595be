#!/usr/bin/python3
"""sign_callbacks.py: the Twilio status callbacks of bench/receipts.sh and
bench/serve_cg.sh. Reads "MESSAGE_ID GATEWAY_ID" lines (a message's
accepted row) and prints one "delivered" callback a message, for the URL
Twilio would call (PUBLIC_URL/hooks/twilio/p?m=ID), as
"PATH<TAB>X-Twilio-Signature<TAB>BODY", signed by tests/twilio_sign.py
(Python's hmac, not herald's code).

usage: sign_callbacks.py TESTS_DIR AUTH_TOKEN PUBLIC_URL ACCOUNT_SID < ids"""
import sys
import urllib.parse

sys.path.insert(0, sys.argv[1])
from twilio_sign import signature  # noqa: E402

token, public, sid = sys.argv[2:5]
for line in sys.stdin:
    m, gw = line.split()
    path = "/hooks/twilio/p?m=" + m
    params = [("MessageSid", gw), ("MessageStatus", "delivered"), ("AccountSid", sid)]
    print("%s\t%s\t%s" % (path, signature(token, public + path, params),
                          urllib.parse.urlencode(params)))
