#!/usr/bin/python3
"""X-Twilio-Signature, as Twilio documents it, for test_receipts: an
implementation that is not herald's (Python's hmac, hashlib and base64).

usage: twilio_sign.py TOKEN URL BODY   prints the signature of a form body
       twilio_sign.py --example        prints the signature of Twilio's
                                       documented example
       twilio_sign.py --post TOKEN PUBLIC_URL PORT N OUT
                                       posts N signed status callbacks (sids
                                       SMload0, SMload1, ...) to herald serve
                                       on 127.0.0.1:PORT, one at a time, and
                                       writes "SID STATUS" for each answered
                                       to OUT (flushed); stops at the first
                                       connection error

The signed text is the full URL (query included) followed by each POST
parameter's name and value, sorted by name, with no separators; the MAC is
HMAC-SHA1 keyed by the auth token, in base64."""
import base64
import hashlib
import hmac
import sys
import http.client
import urllib.parse


def signature(token, url, params):
    text = url + "".join(k + v for k, v in sorted(params))
    mac = hmac.new(token.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def post(token, public, port, n, out):
    path = "/hooks/twilio/sms"
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
    with open(out, "w") as f:
        for i in range(int(n)):
            params = [("MessageSid", "SMload%d" % i), ("MessageStatus", "delivered"),
                      ("AccountSid", "AC1")]
            body = urllib.parse.urlencode(params)
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       "X-Twilio-Signature": signature(token, public + path, params)}
            try:
                conn.request("POST", path, body, headers)
                status = conn.getresponse()
                status.read()
            except OSError:
                return
            f.write("SMload%d %d\n" % (i, status.status))
            f.flush()


def main():
    if sys.argv[1] == "--post":
        post(*sys.argv[2:7])
        return
    if sys.argv[1:] == ["--example"]:
        # Twilio's webhook security guide: auth token 12345
        params = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675310"),
                  ("Digits", "1234"), ("From", "+14158675310"), ("To", "+18005551212")]
        print(signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params))
        return
    token, url, body = sys.argv[1:4]
    print(signature(token, url, urllib.parse.parse_qsl(body, keep_blank_values=True)))


if __name__ == "__main__":  # bench/receipts.sh imports signature()
    main()
