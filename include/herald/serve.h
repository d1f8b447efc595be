/* serve: herald's HTTP service (herald serve): one-click unsubscribe (RFC
 * 8058) and the unsubscribe page at /u/TOKEN, /healthz and /readyz, on
 * libmicrohttpd with its internal epoll thread and a small pool of
 * workers. Every request is bounded ([serve] body_limit, connection_limit,
 * timeout) and logged at debug as one line without its token; a stop asked
 * for by the caller finishes the requests in flight and refuses new ones. */
#ifndef HERALD_SERVE_H
#define HERALD_SERVE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "herald/config.h"
#include "herald/err.h"
#include "herald/log.h"
#include "herald/time.h"

struct hd_serve_opts {
    const char *listen;    /* ADDR:PORT, or NULL for [serve] listen; port 0 picks one */
    bool (*stopped)(void); /* polled; true asks for a graceful stop */
    FILE *announce;        /* gets "listening on http[s]://ADDR:PORT\n" once bound; may be NULL */
    const char *db_password; /* PostgreSQL: [herald] database_password for db_path, or NULL;
                              * borrowed until hd_serve_free */
};

struct hd_serve;

/* Binds (the [serve] TLS files read and checked first, when set), starts
 * the workers and announces the address; *out then serves until
 * hd_serve_wait. cfg, db_path, log and clock are borrowed until
 * hd_serve_free; o is copied. */
int hd_serve_start(const struct hd_config *cfg, const char *db_path, struct hd_log *log,
                   const struct hd_clock *clock, const struct hd_serve_opts *o,
                   struct hd_serve **out, struct hd_err *err);
/* Blocks until o->stopped() says so, then stops gracefully: no new
 * connections, the requests in flight finish (up to [serve] timeout). */
void hd_serve_wait(struct hd_serve *srv);
/* Stops at once if still running, and frees (the TLS key wiped). NULL is fine. */
void hd_serve_free(struct hd_serve *srv);

/* hd_serve_start, hd_serve_wait and hd_serve_free: serves until o->stopped() says so. The store at
 * db_path is opened when a request first needs it (so /healthz answers while the database is away).
 * cfg, log and clock are borrowed. */
int hd_serve_run(const struct hd_config *cfg, const char *db_path, struct hd_log *log,
                 const struct hd_clock *clock, const struct hd_serve_opts *o, struct hd_err *err);

/* Writes a new random 32-byte secret to path, as hex (or base64), with mode
 * 0600; HD_E_EXISTS when the file exists (it is never overwritten). */
int hd_serve_init_secret(const char *path, bool base64, struct hd_err *err);

/* The JSON API's keys (serve/api_keys.c). A new key for name, with scopes
 * (a comma list of send, contacts, events, read, inbox) and rate ("100/s" when
 * NULL), written to key (NUL-terminated; shown once, never stored: the
 * store keeps its SHA-256). HD_E_EXISTS for a name taken, HD_E_INVALID for
 * a bad scope or rate. */
#define HD_APIKEY_TEXT 47
struct hd_store;
int hd_serve_apikey_create(struct hd_store *st, const char *name, const char *scopes,
                           const char *rate, int64_t now, char key[HD_APIKEY_TEXT],
                           struct hd_err *err);

/* The console's users (serve/console_auth.c, issue 21). add checks the
 * name (1 to 63 of letters, digits, . _ @ -), the role (viewer, operator,
 * admin) and the password (8 to 1024 bytes), hashes it with Argon2id and
 * stores the user: HD_E_INVALID, HD_E_EXISTS, nothing written then. passwd
 * sets a new password and ends the user's sessions; HD_E_NOTFOUND for no
 * such user. The password is borrowed (the caller wipes it). */
int hd_serve_user_add(struct hd_store *st, const char *name, const char *role,
                      const char *password, int64_t now, struct hd_err *err);
/* The same with the password's Argon2id hash made beforehand (by
 * hd_console_hash, without any lock held); hash NULL checks only. */
int hd_serve_user_add_hashed(struct hd_store *st, const char *name, const char *role,
                             const char *hash, int64_t now, struct hd_err *err);
int hd_serve_user_passwd(struct hd_store *st, const char *name, const char *password, int64_t now,
                         struct hd_err *err);
/* A user's role (viewer, operator, admin): HD_E_INVALID for another
 * word, HD_E_NOTFOUND for no such user. Sessions read it at each request. */
int hd_serve_user_role(struct hd_store *st, const char *name, const char *role, struct hd_err *err);
/* A user's console language (en, zh-CN) and IANA zone: NULL keeps one, ""
 * clears it (the browser's language, [herald] timezone). HD_E_INVALID for
 * a bad value, HD_E_NOTFOUND for no such user; nothing written then. */
int hd_serve_user_prefs(struct hd_store *st, const char *name, const char *lang, const char *zone,
                        struct hd_err *err);

/* A contact token of the in-app inbox (serve/api_inbox.c), the one
 * minting `herald inbox token` and POST /api/v1/inbox/tokens share: ttl
 * a duration (NULL: 1h), at most 24h; the contact must exist in st; key
 * is [serve]'s current secret. Writes the token to out (size at least
 * HD_CTOKEN_MAX) and its expiry (Unix seconds) to *expires. HD_E_USAGE
 * for a bad ttl (the message starts "ttl: "), HD_E_CONFIG without a
 * secret, HD_E_NOTFOUND for an unknown contact, HD_E_INVALID for an id
 * too long. The token is a secret: the caller wipes it. */
struct hd_token_key;
int hd_serve_inbox_token(struct hd_store *st, const struct hd_token_key *key, const char *contact,
                         const char *ttl, int64_t now, char *out, size_t size, int64_t *expires,
                         struct hd_err *err);

#endif
