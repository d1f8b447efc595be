#!/usr/bin/python3
"""sns_mock: Amazon SNS's side of an SES subscription for test_esp, with
keys made for the test (Python's cryptography, not herald's code).

  sns_mock.py serve        makes a test CA (ca.pem), a certificate for
                           127.0.0.1 signed by it, and an RSA signing key
                           (sns_key.pem) whose certificate it serves over
                           HTTPS at /cert.pem; a path under /down/ is
                           answered 503 (SNS unreachable); every GET is a
                           line of sns.log; prints READY PORT
  sns_mock.py sign FILE    FILE holds an SNS message without its
                           signature (SignatureVersion 1 or 2 set): prints
                           it signed as SNS signs (SHA1withRSA or
                           SHA256withRSA over the canonical string)
"""
import base64
import datetime
import http.server
import ipaddress
import json
import ssl
import sys
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID


def cert(subject, key, issuer, issuer_key, ca, san=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
         .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1))
         .not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def pem(c):
    return c.public_bytes(serialization.Encoding.PEM)


def serve():
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = cert("herald test CA", ca_key, "herald test CA", ca_key, True)
    tls_key = ec.generate_private_key(ec.SECP256R1())
    tls = cert("127.0.0.1", tls_key, "herald test CA", ca_key, False,
               [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    sig_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sig = cert("sns.us-east-1.amazonaws.com", sig_key, "herald test CA", ca_key, False)
    with open("ca.pem", "wb") as f:
        f.write(pem(ca))
    with open("sns_key.pem", "wb") as f:
        f.write(sig_key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    with open("tls.pem", "wb") as f:
        f.write(pem(tls) + tls_key.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    log = open("sns.log", "a", buffering=1)

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            log.write(self.path + "\n")
            if self.path.startswith("/down/"):
                self.send_error(503)
                return
            body = pem(sig) if self.path == "/cert.pem" else b"<ConfirmSubscriptionResponse/>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain("tls.pem")
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("READY %d" % srv.server_address[1], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stdin.read()


def sign(path):
    with open(path) as f:
        m = json.load(f)
    keys = (["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
            if m["Type"] == "Notification" else
            ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"])
    text = "".join("%s\n%s\n" % (k, m[k]) for k in keys if k in m)
    with open("sns_key.pem", "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    h = hashes.SHA1() if m["SignatureVersion"] == "1" else hashes.SHA256()
    m["Signature"] = base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), h)).decode()
    print(json.dumps(m))


if __name__ == "__main__":
    serve() if sys.argv[1] == "serve" else sign(sys.argv[2])
