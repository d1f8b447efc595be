#!/usr/bin/python3
"""dsn.py: make bench's reference for DSN parsing (issue 19): Python's email
package parses the same mails as bench/dsn.c, round robin, N times in all,
from memory: email.message_from_bytes, then a walk of the parts reading
each delivery-status block's Status, Final-Recipient and Diagnostic-Code
and each feedback-report's Feedback-Type (less than herald does: no
classification, no VERP, no non-standard bounces). Prints parses per
second and how many were bounces, complaints and neither.

  usage: dsn.py N FILE...
"""
import email
import sys
import time


def read(data):
    msg = email.message_from_bytes(data)
    kind = 3
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            for block in part.get_payload():
                if block.get("Status") or block.get("Final-Recipient"):
                    block.get("Diagnostic-Code")
                    kind = 0
        elif ctype == "message/feedback-report":
            for block in part.get_payload() if part.is_multipart() else [part]:
                block.get("Feedback-Type")
            kind = 1
    return kind


def main(argv):
    n = int(argv[0])
    files = [open(p, "rb").read() for p in argv[1:]]
    kinds = [0, 0, 0, 0]
    t0 = time.perf_counter()
    for i in range(n):
        kinds[read(files[i % len(files)])] += 1
    t = time.perf_counter() - t0
    print("%.0f %d %d %d" % (n / t, kinds[0], kinds[1], kinds[3]))


if __name__ == "__main__":
    main(sys.argv[1:])
