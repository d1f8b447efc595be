#!/usr/bin/python3
"""check_mail: what Python's email package makes of messages a mail server
stored, for tests/test_postfix.c. Each file named on the command line is
parsed with email.policy.strict (any defect raises) and every header is
read through it (header defects surface only when a header is parsed);
then parsed again with the default policy to list the defects by name.
Prints one JSON object per file, in order:

  {"file", "strict": "ok" or the exception, "defects": [...],
   "headers": {"From", "To", "Subject", "Message-ID", "List-Unsubscribe",
               "List-Unsubscribe-Post"} (decoded; null when absent),
   "text": the text/plain part, "links": the href of every <a> of the
   text/html part (tests/test_browser.c), "max_header_line", "max_ew_line"}

where max_ew_line is the longest header line holding an encoded-word.
A message whose header holds 8-bit bytes (RFC 6532, sent with SMTPUTF8)
must be UTF-8 there; it is then parsed as text, since the bytes parser
reads 8-bit header bytes as undecodable.
"""
import email
import json
import sys
from email import policy
from html.parser import HTMLParser

NAMES = ("From", "To", "Subject", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post")


class Links(HTMLParser):
    """The href of every <a>, as a mail client would follow it."""

    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href"]


def parse(raw, pol):
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    if any(b >= 0x80 for b in head):
        return email.message_from_string(raw.decode("utf-8"), policy=pol)
    return email.message_from_bytes(raw, policy=pol)


def check(path):
    raw = open(path, "rb").read()
    out = {"file": path, "strict": "ok"}
    try:
        m = parse(raw, policy.strict)
        for _, value in m.items():
            str(value)
        out["headers"] = {k: str(m[k]) if m[k] is not None else None for k in NAMES}
        body = m.get_body(("plain",))
        out["text"] = body.get_content() if body is not None else None
        html = m.get_body(("html",))
        links = Links()
        if html is not None:
            links.feed(html.get_content())
        out["links"] = links.hrefs
    except Exception as e:  # the strict policy raises on the first defect
        out["strict"] = "%s: %s" % (type(e).__name__, e)
    d = parse(raw, policy.default)
    defects = [type(x).__name__ for x in d.defects]
    for name, value in d.items():
        defects += ["%s: %s" % (name, type(x).__name__) for x in getattr(value, "defects", ())]
    out["defects"] = defects
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].split(b"\n")
    out["max_header_line"] = max(len(l) for l in head)
    out["max_ew_line"] = max([len(l) for l in head if b"=?" in l] or [0])
    return out


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(json.dumps(check(p), ensure_ascii=False))
