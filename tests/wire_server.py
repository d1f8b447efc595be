#!/usr/bin/env python3
"""wire_server: an HTTP/1.1 server for test_wire, written on Python's
sockets (not herald's code), that answers each request by its path with
the framing or fault the path names, byte for byte as written below, and
logs every request it reads (one JSON line: connection number, method,
path, headers, body) to --log. With --cert and --key it speaks TLS.
Prints "READY <port>" once listening; stops when stdin closes.

Paths:
  /len        200, Content-Length
  /chunked    200, chunked in three chunks with an extension and a trailer
  /split      200, Content-Length, written a byte at a time
  /close      200, Connection: close, then closes
  /http10     HTTP/1.0 200 without a length: the body runs to the close
  /interim    100 Continue, then 200
  /retry      429, Retry-After: 7
  /retrydate  503, Retry-After as an HTTP date 30 s ahead
  /nocontent  204 (no body, no length)
  /drop       closes without an answer
  /dropreused closes without an answer when the connection answered before
  /slow       answers after 3 s
  /bighead    200 with a 70 KiB header
  /badchunk   200, chunked with a size that is not hex
  /garbage    an answer that is not HTTP
  /echo       200, the request's body back
  /head       200 with Content-Length: 5 and no body (as to HEAD)
  /304len     304 with Content-Length: 1234, no body
  /204chunked 204 with Transfer-Encoding: chunked, no body
  /twocl      two Content-Length headers that differ
  /tegzip     Transfer-Encoding: gzip with a Content-Length: to the close
  /chunkblank chunked with a blank chunk-size line
  /chunkneg   chunked with a chunk size of -1
  /lf         a head whose lines end in bare LF
  /closeafter 200 with a length, then closes without saying so
"""
import argparse
import email.utils
import json
import socket
import ssl
import sys
import threading
import time

p = argparse.ArgumentParser()
p.add_argument("--log", required=True)
p.add_argument("--cert")
p.add_argument("--key")
a = p.parse_args()

lock = threading.Lock()
logf = open(a.log, "a", buffering=1)
ctx = None
if a.cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)


def read_request(f):
    line = f.readline()
    if not line:
        return None
    method, path, _ = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers = []
    length = 0
    while True:
        h = f.readline().decode("latin-1")
        if h in ("\r\n", "\n", ""):
            break
        name, _, value = h.rstrip("\r\n").partition(":")
        headers.append([name, value.strip()])
        if name.lower() == "content-length":
            length = int(value)
    body = f.read(length) if length else b""
    return method, path, headers, body


def answer(conn, path, body, served):
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
    if path == "/len":
        conn.sendall(ok + b"Content-Length: 5\r\n\r\nhello")
    elif path == "/chunked":
        conn.sendall(ok + b"Transfer-Encoding: chunked\r\n\r\n"
                     b"4;ext=1\r\nwiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
                     b"0\r\nX-Trailer: t\r\n\r\n")
    elif path == "/split":
        for b in ok + b"Content-Length: 5\r\n\r\nsplit":
            conn.sendall(bytes([b]))
            time.sleep(0.001)
    elif path == "/close":
        conn.sendall(ok + b"Connection: close\r\nContent-Length: 3\r\n\r\nbye")
        return False
    elif path == "/http10":
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end")
        return False
    elif path == "/interim":
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" + ok + b"Content-Length: 2\r\n\r\nok")
    elif path == "/retry":
        conn.sendall(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\n"
                     b"X-Rate-Limit-Remaining: 0\r\nContent-Length: 0\r\n\r\n")
    elif path == "/retrydate":
        when = email.utils.formatdate(time.time() + 30, usegmt=True).encode()
        conn.sendall(b"HTTP/1.1 503 Busy\r\nRetry-After: " + when +
                     b"\r\nContent-Length: 0\r\n\r\n")
    elif path == "/nocontent":
        conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    elif path == "/drop" or (path == "/dropreused" and served > 0):
        return False
    elif path == "/dropreused":
        conn.sendall(ok + b"Content-Length: 5\r\n\r\nfresh")
    elif path == "/slow":
        time.sleep(3)
        conn.sendall(ok + b"Content-Length: 4\r\n\r\nslow")
    elif path == "/bighead":
        conn.sendall(ok + b"X-Big: " + b"b" * (70 * 1024) + b"\r\nContent-Length: 0\r\n\r\n")
    elif path == "/badchunk":
        conn.sendall(ok + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nnope\r\n0\r\n\r\n")
        return False
    elif path == "/garbage":
        conn.sendall(b"SMTP 220 hello\r\n\r\n")
        return False
    elif path == "/head":
        conn.sendall(ok + b"Content-Length: 5\r\n\r\n")
    elif path == "/304len":
        conn.sendall(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n")
    elif path == "/204chunked":
        conn.sendall(b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n")
    elif path == "/twocl":
        conn.sendall(ok + b"Content-Length: 5\r\nContent-Length: 3\r\n\r\nabcde")
        return False
    elif path == "/tegzip":
        conn.sendall(ok + b"Transfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabcdef")
        return False
    elif path == "/chunkblank":
        conn.sendall(ok + b"Transfer-Encoding: chunked\r\n\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        return False
    elif path == "/chunkneg":
        conn.sendall(ok + b"Transfer-Encoding: chunked\r\n\r\n-1\r\nabc\r\n0\r\n\r\n")
        return False
    elif path == "/lf":
        conn.sendall(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nlf")
    elif path == "/closeafter":
        conn.sendall(ok + b"Content-Length: 4\r\n\r\ndone")
        return False
    elif path == "/echo":
        conn.sendall(ok + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    else:
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    return True


def serve(conn, number):
    try:
        if ctx:
            conn = ctx.wrap_socket(conn, server_side=True)
        f = conn.makefile("rb")
        served = 0
        while True:
            req = read_request(f)
            if req is None:
                break
            method, path, headers, body = req
            with lock:
                logf.write(json.dumps({"conn": number, "method": method, "path": path,
                                       "headers": headers,
                                       "body": body.decode("latin-1")}) + "\n")
            if not answer(conn, path, body, served):
                break
            served += 1
    except (OSError, ssl.SSLError, ValueError):
        pass
    finally:
        conn.close()


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
print("READY %d" % srv.getsockname()[1], flush=True)


def accept():
    n = 0
    while True:
        c, _ = srv.accept()
        n += 1
        threading.Thread(target=serve, args=(c, n), daemon=True).start()


threading.Thread(target=accept, daemon=True).start()
sys.stdin.read()
