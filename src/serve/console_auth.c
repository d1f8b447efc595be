/* console_auth: the console's passwords and users (issue 21). A password
 * is hashed with Argon2id (libargon2, RFC 9106) and kept in its encoded
 * form, $argon2id$v=19$m=19456,t=2,p=1$SALT$HASH, which carries its own
 * parameters: a hash made with other parameters still verifies, and a
 * change of these applies to passwords set afterwards. The parameters are
 * OWASP's recommended minimum for Argon2id (19 MiB, 2 passes, one lane):
 * about 30 ms a login on one core, so a worker of herald serve is busy for
 * that long and an attacker's guesses cost the same. Each hash has a
 * random 16-byte salt. Names are 1 to 63 bytes of letters, digits and
 * . _ @ - (they are shown in pages and listed in the audit); passwords 8
 * to 1024 bytes. The caller wipes its password; the buffers here are
 * wiped before they are let go. */
#include <argon2.h>
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "herald/serve.h"
#include "herald/store.h"
#include "herald/time.h"
#include "serve_int.h"

#define T_COST 2
#define M_COST_KIB 19456
#define LANES 1
#define SALT_LEN 16
#define HASH_LEN 32
#define PW_MIN 8
#define PW_MAX 1024

int hd_console_hash(const char *password, size_t len, char out[HD_PWHASH_MAX], struct hd_err *err)
{
    unsigned char salt[SALT_LEN];
    if (len < PW_MIN || len > PW_MAX)
        return hd_err_set(err, HD_E_INVALID, "a password has %d to %d bytes (this one has %zu)",
                          PW_MIN, PW_MAX, len);
    if (RAND_bytes(salt, sizeof salt) != 1)
        return hd_err_set(err, HD_E_FAIL, "no random bytes for a salt (OpenSSL's RAND_bytes)");
    int rc = argon2id_hash_encoded(T_COST, M_COST_KIB, LANES, password, len, salt, sizeof salt,
                                   HASH_LEN, out, HD_PWHASH_MAX);
    if (rc != ARGON2_OK)
        return hd_err_set(err, HD_E_FAIL, "hashing the password: %s", argon2_error_message(rc));
    return 0;
}

bool hd_console_verify(const char *encoded, const char *password, size_t len)
{
    return len <= PW_MAX && strncmp(encoded, "$argon2id$", 10) == 0 &&
           argon2id_verify(encoded, password, len) == ARGON2_OK;
}

static int check_name(const char *name, struct hd_err *err)
{
    size_t n = strlen(name);
    bool ok = n > 0 && n < 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)name[i]) || strchr("._@-", name[i]);
    if (!ok)
        return hd_err_set(err, HD_E_INVALID,
                          "a user name has 1 to 63 letters, digits, '.', '_', '@' or '-'");
    return 0;
}

int hd_serve_user_add_hashed(struct hd_store *st, const char *name, const char *role,
                             const char *hash, int64_t now, struct hd_err *err)
{
    int r = hd_role_parse(role), rc;
    if ((rc = check_name(name, err)) < 0)
        return rc;
    if (r < 0)
        return hd_err_set(err, HD_E_INVALID, "unknown role '%s' (viewer, operator or admin)",
                          role ? role : "");
    struct hd_user u;
    if (hd_store_user_find(st, name, &u, NULL) == 0)
        rc = hd_err_set(err, HD_E_EXISTS, "a user named '%s' exists", name);
    else if (hash)
        rc = hd_store_user_add(st, name, r, hash, now, err);
    OPENSSL_cleanse(&u, sizeof u);
    return rc;
}

int hd_serve_user_add(struct hd_store *st, const char *name, const char *role, const char *password,
                      int64_t now, struct hd_err *err)
{
    char hash[HD_PWHASH_MAX];
    int rc = hd_serve_user_add_hashed(st, name, role, NULL, now, err);
    if (rc == 0 && (rc = hd_console_hash(password, strlen(password), hash, err)) == 0)
        rc = hd_serve_user_add_hashed(st, name, role, hash, now, err);
    OPENSSL_cleanse(hash, sizeof hash);
    return rc;
}

int hd_serve_user_passwd(struct hd_store *st, const char *name, const char *password, int64_t now,
                         struct hd_err *err)
{
    char hash[HD_PWHASH_MAX];
    struct hd_user u;
    int rc = hd_store_user_find(st, name, &u, err);
    if (rc == 0 && (rc = hd_console_hash(password, strlen(password), hash, err)) == 0)
        rc = hd_store_user_passwd(st, name, hash, now, err);
    OPENSSL_cleanse(hash, sizeof hash);
    OPENSSL_cleanse(&u, sizeof u);
    return rc;
}

/* A user's role, by its name (viewer, operator, admin). */
int hd_serve_user_role(struct hd_store *st, const char *name, const char *role, struct hd_err *err)
{
    int r = hd_role_parse(role);
    if (r < 0)
        return hd_err_set(err, HD_E_INVALID, "unknown role '%s' (viewer, operator or admin)",
                          role ? role : "");
    return hd_store_user_role(st, name, r, err);
}

/* A user's own settings: the console's language (en or zh-CN) and IANA
 * zone, each checked before anything is written. */
int hd_serve_user_prefs(struct hd_store *st, const char *name, const char *lang, const char *zone,
                        struct hd_err *err)
{
    if (lang && *lang && strcmp(lang, "en") != 0 && strcmp(lang, "zh-CN") != 0)
        return hd_err_set(err, HD_E_INVALID, "unknown language '%s' (en or zh-CN)", lang);
    if (zone && *zone && !hd_time_zone_valid(zone))
        return hd_err_set(err, HD_E_INVALID, "'%s' is not an IANA time zone (%s)", zone,
                          hd_time_zone_hint(zone));
    return hd_store_user_prefs(st, name, lang, zone, err);
}
