#!/usr/bin/python3
"""esp_sign: signs mail senders' webhook requests for test_esp, with an
implementation that is not herald's (Python's hmac and the cryptography
package), as each sender documents it.

  esp_sign.py keygen KEY.pem          a P-256 key (its public key in PEM in
                                      KEY.pem.pub); prints the public key as
                                      SendGrid shows it (base64 DER SPKI)
  esp_sign.py sendgrid KEY.pem TS FILE  base64 DER ECDSA-SHA256 of TS + the
                                      file's bytes (X-Twilio-Email-Event-
                                      Webhook-Signature)
  esp_sign.py mailgun KEY TS TOKEN    hex HMAC-SHA256 of TS + TOKEN
"""
import base64
import hashlib
import hmac
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def main(argv):
    if argv[0] == "keygen":
        key = ec.generate_private_key(ec.SECP256R1())
        with open(argv[1], "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        der = key.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo)
        with open(argv[1] + ".pub", "wb") as f:
            f.write(key.public_key().public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo))
        print(base64.b64encode(der).decode())
    elif argv[0] == "sendgrid":
        with open(argv[1], "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        with open(argv[3], "rb") as f:
            body = f.read()
        sig = key.sign(argv[2].encode() + body, ec.ECDSA(hashes.SHA256()))
        print(base64.b64encode(sig).decode())
    elif argv[0] == "mailgun":
        print(hmac.new(argv[1].encode(), (argv[2] + argv[3]).encode(),
                       hashlib.sha256).hexdigest())
    else:
        sys.exit("esp_sign.py: unknown mode " + argv[0])


if __name__ == "__main__":
    main(sys.argv[1:])
