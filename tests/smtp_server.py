#!/usr/bin/python3
"""A scriptable SMTP server for herald's tests, on aiosmtpd (a real SMTP
server implementation): STARTTLS or implicit TLS, AUTH PLAIN/LOGIN (or one
of them, --auth-mechanisms), and
replies chosen by the recipient's local part:

    tempfail@  450 4.2.0   busy@     421 4.3.2 (and closes)
    full@      452 4.2.2   later@    451 4.3.0
    reject@    550 5.7.1   nouser@   550 5.1.1   nodomain@ 550 5.1.2
    syntax@    501 5.1.3   badsender@ 553 5.1.8  utf8@     553 5.6.7
    gone@      550 without an enhanced code ("user unknown")
    datafail@  554 5.6.0 at DATA     datatemp@ 451 4.3.0 at DATA

With --tempfail PCT (and --seed), that share of recipients is refused
at random with 451 4.3.0; with --log FILE, each accepted message adds a
line "<ms> <recipient> <Message-ID> <X-Herald-Message>" ("-" without one)
and nothing else is written (load tests).

Every accepted message is written to OUT/N.eml, and OUT/N.json holds what
Python's email package makes of it (headers decoded, parts, encodings, the
longest line), so the C tests check herald's MIME with an independent
parser. Prints "READY <port>" once listening; stops on SIGTERM or when
stdin closes.
"""
import argparse, email, email.parser, json, os, random, signal, socket, ssl, sys, threading, time, warnings
from email import policy
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

RCPT = {"tempfail": "450 4.2.0 mailbox busy", "busy": "421 4.3.2 service shutting down",
        "full": "452 4.2.2 mailbox full", "later": "451 4.3.0 try later",
        "reject": "550 5.7.1 policy rejection", "nouser": "550 5.1.1 no such user",
        "nodomain": "550 5.1.2 no such domain",
        "syntax": "501 5.1.3 bad recipient address syntax",
        "badsender": "553 5.1.8 sender address rejected: domain not found",
        "utf8": "553 5.6.7 non-ASCII addresses are not permitted",
        "nouser-ü": "550 5.1.1 no such user",
        "gone": "550 Requested action not taken: user unknown"}
DATA = {"datafail": "554 5.6.0 message content rejected",
        "datatemp": "451 4.3.0 temporary failure in data"}


class Handler:
    def __init__(self, out, tempfail=0.0, seed=1, log=None):
        self.out, self.n, self.lock = out, 0, threading.Lock()
        self.tempfail, self.rng = tempfail / 100.0, random.Random(seed)
        self.log = open(log, "a", buffering=1) if log else None

    async def handle_RCPT(self, server, session, envelope, address, options):
        local = address.split("@")[0].lower()
        if local in RCPT:
            return RCPT[local]
        if self.tempfail and self.rng.random() < self.tempfail:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        for r in envelope.rcpt_tos:
            local = r.split("@")[0].lower()
            if local in DATA:
                return DATA[local]
        with self.lock:
            self.n += 1
            n = self.n
        raw = envelope.original_content or envelope.content
        if self.log:
            # the two headers only: parsing the whole message (its parts)
            # was most of this server's time in the load tests
            head = raw.split(b"\r\n\r\n", 1)[0]
            m = email.parser.BytesHeaderParser(policy=policy.compat32).parsebytes(head)
            for r in envelope.rcpt_tos:
                self.log.write("%d %s %s %s\n" % (int(time.time() * 1000), r, m.get("Message-ID"),
                                                   m.get("X-Herald-Message", "-")))
            return "250 2.0.0 Ok: queued as H%06d" % n
        base = os.path.join(self.out, str(n))
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        head = raw.split(b"\r\n\r\n", 1)[0]
        # RFC 6532 (SMTPUTF8): a header with 8-bit bytes is UTF-8 text
        m = (email.message_from_string(raw.decode("utf-8"), policy=policy.default)
             if any(b >= 0x80 for b in head)
             else email.message_from_bytes(raw, policy=policy.default))
        info = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                "mail_options": envelope.mail_options,
                "auth": bool(getattr(session, "authenticated", False)),
                "tls": session.ssl is not None
                or server.transport.get_extra_info("ssl_object") is not None,
                "headers": {k: str(v) for k, v in m.items()},
                "content_type": m.get_content_type(),
                "max_line": max(len(l) for l in raw.split(b"\r\n")),
                "bare_lf": raw.count(b"\n") - raw.count(b"\r\n"), "parts": []}
        for part in m.walk():
            if part.get_content_maintype() == "text":
                info["parts"].append({"type": part.get_content_type(),
                                      "charset": part.get_content_charset(),
                                      "encoding": part.get("Content-Transfer-Encoding"),
                                      # the wire uses CRLF; compare text with LF
                                      "text": part.get_content().replace("\r\n", "\n")})
        with open(base + ".json.tmp", "w") as f:
            json.dump(info, f, ensure_ascii=False)
        os.rename(base + ".json.tmp", base + ".json")
        return "250 2.0.0 Ok: queued as H%06d" % n


def main():
    warnings.simplefilter("ignore")  # aiosmtpd's deprecation notices
    import logging
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--cert"), ap.add_argument("--key")
    ap.add_argument("--implicit", action="store_true", help="TLS from the first byte")
    ap.add_argument("--require-tls", action="store_true")
    ap.add_argument("--auth", help="user:password; AUTH is then required")
    ap.add_argument("--auth-mechanisms", default="PLAIN,LOGIN",
                    help="the mechanisms offered (comma-separated, of PLAIN and LOGIN)")
    ap.add_argument("--tempfail", type=float, default=0.0, help="percent refused with 451")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log", help="log accepted messages here instead of writing them")
    ap.add_argument("--smtputf8", action="store_true", help="offer SMTPUTF8 (RFC 6531)")
    a = ap.parse_args()
    ctx = None
    if a.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
    # aiosmtpd's Controller offers SMTPUTF8 unless told not to
    kw = {"enable_SMTPUTF8": a.smtputf8}
    if a.auth:
        user, pw = a.auth.split(":", 1)

        def check(server, session, envelope, mechanism, data):
            ok = data.login.decode() == user and data.password.decode() == pw
            return AuthResult(success=ok, handled=False)
        kw.update(authenticator=check, auth_required=True, auth_require_tls=bool(ctx),
                  auth_exclude_mechanism=[m for m in ("PLAIN", "LOGIN")
                                          if m not in a.auth_mechanisms.split(",")])
    if ctx and a.implicit:
        kw["ssl_context"] = ctx
    elif ctx:
        kw.update(tls_context=ctx, require_starttls=a.require_tls)
    # aiosmtpd cannot listen on port 0: take a free port from the kernel
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    c = Controller(Handler(a.out, a.tempfail, a.seed, a.log), hostname="127.0.0.1", port=port, **kw)
    if ctx and a.implicit:
        # its start-up self-check would wrap the socket with the server's own
        # context; check with a client context instead
        def trigger():
            cctx = ssl.create_default_context()
            cctx.check_hostname, cctx.verify_mode = False, ssl.CERT_NONE
            with socket.create_connection(("127.0.0.1", port), 1.0) as raw:
                with cctx.wrap_socket(raw) as t:
                    t.recv(1024)
        c._trigger_server = trigger
    c.start()
    print("READY %d" % port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    # every file is written and closed (the log is line-buffered); the
    # controller's stop could wait on a session the client left, so exit
    os._exit(0)


if __name__ == "__main__":
    main()
