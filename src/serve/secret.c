/* secret: `herald serve init-secret`: 32 random bytes from OpenSSL's
 * generator, written as hex (64 characters) or base64 and a line end to a
 * new file created with mode 0600 (O_EXCL: an existing file, which may be
 * the secret every sent link was signed with, is never replaced). The
 * service uses the file's text as the HMAC key, whichever form it is in. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "herald/buf.h"
#include "herald/serve.h"

int hd_serve_init_secret(const char *path, bool base64, struct hd_err *err)
{
    unsigned char raw[32];
    char text[100];
    size_t n = 0;
    if (RAND_bytes(raw, sizeof raw) != 1)
        return hd_err_set(err, HD_E_FAIL, "the random generator failed");
    if (base64) {
        n = (size_t)EVP_EncodeBlock((unsigned char *)text, raw, sizeof raw);
    } else {
        for (size_t i = 0; i < sizeof raw; i++)
            n += (size_t)snprintf(text + n, sizeof text - n, "%02x", raw[i]);
    }
    text[n++] = '\n';
    hd_wipe(raw, sizeof raw);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), rc = 0;
    if (fd < 0) {
        int e = errno;
        hd_wipe(text, sizeof text);
        return hd_err_set(err, e == EEXIST ? HD_E_EXISTS : HD_E_IO,
                          e == EEXIST ? "'%s' exists: it is not overwritten (links signed with it "
                                        "would stop working); remove it first if you mean to"
                                      : "cannot create '%s': %s",
                          path, strerror(e));
    }
    if (write(fd, text, n) != (ssize_t)n || fsync(fd) < 0) {
        rc = hd_err_set(err, HD_E_IO, "cannot write '%s': %s", path, strerror(errno));
        unlink(path);
    }
    close(fd);
    hd_wipe(text, sizeof text);
    return rc;
}
