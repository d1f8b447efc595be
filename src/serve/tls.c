/* tls: the certificate and key of [serve] tls_cert_file / tls_key_file,
 * read when the service starts and handed to libmicrohttpd as PEM text.
 * libmicrohttpd (GnuTLS underneath) reports a bad file only as a generic
 * failure to start, so they are checked here first with OpenSSL, which
 * herald links anyway: a file that is missing or unreadable, holds no PEM
 * certificate, no unencrypted PEM private key, or a key that is not the
 * certificate's, is refused with a message that names the file. The key's
 * text is a secret: it never reaches a message, and its buffer is wiped
 * when it is refused (the caller wipes it when the service stops). */
#include <errno.h>
#include <microhttpd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

#include "serve_int.h"

static int read_pem(const char *key, const char *path, struct hd_buf *b, struct hd_err *err)
{
    if (hd_buf_read_file(b, path) < 0)
        return hd_err_set(err, HD_E_CONFIG, "[serve] %s '%s': cannot read it: %s", key, path,
                          strerror(errno));
    if (b->len == 0 || memchr(b->data, '\0', b->len))
        return hd_err_set(err, HD_E_CONFIG, "[serve] %s '%s' is %s, not PEM text", key, path,
                          b->len ? "binary" : "empty");
    return 0;
}

/* an encrypted key would ask for a passphrase: there is none to give */
static int no_passphrase(char *buf, int size, int rw, void *u)
{
    (void)buf, (void)size, (void)rw, (void)u;
    return -1;
}

static int check_pair(const struct hd_serve_cfg *c, const struct hd_buf *cert,
                      const struct hd_buf *key, struct hd_err *err)
{
    int rc = 0;
    BIO *cb = BIO_new_mem_buf(cert->data, (int)cert->len);
    BIO *kb = BIO_new_mem_buf(key->data, (int)key->len);
    X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = x && kb ? PEM_read_bio_PrivateKey(kb, NULL, no_passphrase, NULL) : NULL;
    if (!x)
        rc = hd_err_set(err, HD_E_CONFIG,
                        "[serve] tls_cert_file '%s' holds no PEM certificate (-----BEGIN "
                        "CERTIFICATE-----)",
                        c->tls_cert_file);
    else if (!k)
        rc = hd_err_set(err, HD_E_CONFIG,
                        "[serve] tls_key_file '%s' holds no unencrypted PEM private key "
                        "(-----BEGIN PRIVATE KEY-----; remove a passphrase with 'openssl pkey')",
                        c->tls_key_file);
    else if (X509_check_private_key(x, k) != 1)
        rc = hd_err_set(err, HD_E_CONFIG,
                        "[serve] tls_key_file '%s' is not the private key of the certificate in "
                        "tls_cert_file '%s'",
                        c->tls_key_file, c->tls_cert_file);
    EVP_PKEY_free(k);
    X509_free(x);
    BIO_free(kb);
    BIO_free(cb);
    ERR_clear_error();
    return rc;
}

int hd_srv_tls_load(const struct hd_serve_cfg *c, struct hd_buf *cert, struct hd_buf *key,
                    struct hd_err *err)
{
    int rc;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return hd_err_set(err, HD_E_CONFIG,
                          "[serve] tls_cert_file is set, but this libmicrohttpd was built "
                          "without TLS: remove the TLS keys and put herald behind nginx or "
                          "Caddy (see README)");
    if ((rc = read_pem("tls_cert_file", c->tls_cert_file, cert, err)) < 0 ||
        (rc = read_pem("tls_key_file", c->tls_key_file, key, err)) < 0 ||
        (rc = check_pair(c, cert, key, err)) < 0) {
        hd_wipe(key->data, key->len);
        key->len = 0;
    }
    return rc;
}
