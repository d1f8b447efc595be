#!/usr/bin/python3
"""A small IMAP4rev1 server over TLS for herald's bounce mailbox test
(issue 19): the mails are the files of --box DIR in name order (UIDs 1,
2, ...); it answers CAPABILITY, LOGIN (--user and --password, anything
else refused), SELECT, UID SEARCH [UNKEYWORD K], UID FETCH N BODY[] (or
BODY.PEEK[]), UID STORE N +FLAGS (...), NOOP and LOGOUT, which is what
libcurl sends. Each mail's flags are written to --flags FILE ("UID FLAGS"
lines) after every STORE. Prints "READY <port>" once listening; stops when
stdin closes.
"""
import argparse, os, socket, ssl, sys, threading

ap = argparse.ArgumentParser()
ap.add_argument("--box", required=True)
ap.add_argument("--flags", required=True)
ap.add_argument("--user", required=True)
ap.add_argument("--password", required=True)
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
args = ap.parse_args()

names = sorted(os.listdir(args.box))
mails = {i + 1: open(os.path.join(args.box, n), "rb").read() for i, n in enumerate(names)}
flags = {uid: set() for uid in mails}
lock = threading.Lock()


def save():
    with open(args.flags + ".tmp", "w") as f:
        for uid in sorted(flags):
            f.write("%d %s\n" % (uid, " ".join(sorted(flags[uid]))))
    os.rename(args.flags + ".tmp", args.flags)


def uid_cmd(tag, words, send):
    op = words[0].upper()
    if op == "SEARCH":
        rest = [w.upper() for w in words[1:]]
        hits = sorted(flags)
        if len(rest) == 2 and rest[0] == "UNKEYWORD":
            hits = [u for u in hits if words[2] not in flags[u]]
        send(b"* SEARCH" + b"".join(b" %d" % u for u in hits) + b"\r\n")
    elif op == "FETCH":
        uid = int(words[1])
        body = mails[uid]
        if "PEEK" not in words[2].upper():
            flags[uid].add("\\Seen")
        send(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (uid, uid, len(body)) + body + b")\r\n")
    elif op == "STORE":
        uid = int(words[1])
        new = " ".join(words[3:]).strip("()").split()
        flags[uid].update(new)
        save()
        send(b"* %d FETCH (UID %d FLAGS (%s))\r\n" % (uid, uid, " ".join(sorted(flags[uid])).encode()))
    else:
        return send(b"%s BAD unknown UID command\r\n" % tag.encode())
    send(b"%s OK done\r\n" % tag.encode())


def session(conn):
    f = conn.makefile("rb")
    send = conn.sendall
    send(b"* OK herald test IMAP ready\r\n")
    authed = False
    for raw in f:
        words = raw.decode().rstrip("\r\n").split()
        if len(words) < 2:
            continue
        tag, cmd = words[0], words[1].upper()
        with lock:
            if cmd == "CAPABILITY":
                send(b"* CAPABILITY IMAP4rev1\r\n%s OK done\r\n" % tag.encode())
            elif cmd == "LOGIN":
                ok = words[2].strip('"') == args.user and words[3].strip('"') == args.password
                authed = ok
                send(b"%s %s\r\n" % (tag.encode(), b"OK logged in" if ok else b"NO bad login"))
            elif cmd in ("SELECT", "EXAMINE") and authed:
                send(b"* %d EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n%s OK [READ-WRITE] done\r\n"
                     % (len(mails), tag.encode()))
            elif cmd == "UID" and authed:
                uid_cmd(tag, words[2:], send)
            elif cmd == "NOOP":
                send(b"%s OK done\r\n" % tag.encode())
            elif cmd == "LOGOUT":
                send(b"* BYE\r\n%s OK done\r\n" % tag.encode())
                break
            else:
                send(b"%s BAD not here\r\n" % tag.encode())
    conn.close()


def serve(sock, ctx):
    while True:
        try:
            c, _ = sock.accept()
            c = ctx.wrap_socket(c, server_side=True)
        except (OSError, ssl.SSLError):
            continue
        threading.Thread(target=session, args=(c,), daemon=True).start()


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(args.cert, args.key)
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(8)
threading.Thread(target=serve, args=(sock, ctx), daemon=True).start()
save()
print("READY %d" % sock.getsockname()[1], flush=True)
sys.stdin.read()
