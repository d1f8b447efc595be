#!/usr/bin/env python3
"""Mints an in-app inbox contact token the way README documents it, with
Python's hmac and nothing of herald's:

    payload = "v1." + CONTACT + "." + EXPIRY
    key     = HMAC-SHA256(secret, "herald inbox token v1")
    token   = b64url(payload) + "." + b64url(HMAC-SHA256(key, payload))

usage: inbox_token.py SECRET_FILE CONTACT EXPIRY_UNIX
(the secret is the file's bytes without trailing line ends)."""
import base64
import hashlib
import hmac
import sys


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def main():
    path, contact, expiry = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(path, "rb") as f:
        secret = f.read().rstrip(b"\r\n")
    key = hmac.new(secret, b"herald inbox token v1", hashlib.sha256).digest()
    payload = ("v1.%s.%d" % (contact, expiry)).encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    print(b64url(payload) + "." + b64url(mac))


if __name__ == "__main__":
    main()
