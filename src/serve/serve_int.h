/* serve_int: what the files of src/serve share: the pages (pages.c), the
 * unsubscribe route (unsub.c) and the preference centre (prefs.c), called
 * by the server (server.c). */
#ifndef HERALD_SERVE_INT_H
#define HERALD_SERVE_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "herald/buf.h"
#include "herald/config.h"
#include "herald/form.h"
#include "herald/log.h"
#include "herald/store.h"
#include "herald/time.h"
#include "herald/token.h"

enum page { PAGE_CONFIRM, PAGE_DONE, PAGE_INVALID, PAGE_PREFS, PAGE_PREFS_DONE, PAGE_COUNT };
enum lang { LANG_EN, LANG_ZH, LANG_COUNT };

struct hd_pages;
/* Compiles templates/pages/NAME.mustache (required) and NAME.zh-CN.mustache
 * (optional, else English) under dir. */
int hd_pages_load(const char *dir, struct hd_pages **out, struct hd_err *err);
void hd_pages_free(struct hd_pages *p);
/* English, or Simplified Chinese for a locale of language zh. */
int hd_pages_lang(const char *locale);
/* Renders the page with data (an object; "lang" is added) into out, HTML
 * escaped. Thread-safe. */
int hd_pages_render(const struct hd_pages *p, int page, int lang, json_t *data, struct hd_buf *out,
                    struct hd_err *err);
/* A channel and a category in words of the language ("email", "营销"). */
const char *hd_pages_channel(int lang, int channel);
const char *hd_pages_category(int lang, int category);

/* The routes (server.c); R_NONE is any other path. */
enum route { R_HEALTH, R_READY, R_UNSUB, R_METRICS, R_PREFS, R_HOOK, R_NONE, R_COUNT };
#define HTTP_CODES 500 /* statuses 100 to 599, counted per route */

struct hd_clicks;

/* The server's shared state. */
struct hd_srv {
    const struct hd_config *cfg;
    const char *db_path;
    struct hd_log *log;
    const struct hd_clock *clock;
    struct hd_pages *pages;
    struct hd_token_key keys[2]; /* current, previous (len 0 when none) */
    pthread_mutex_t mu;          /* guards st (one connection for every worker) and the log */
    struct hd_store *st;         /* opened on first need; NULL after a failure */
    long inflight;               /* requests begun and not completed (atomic) */
    uint64_t http[R_COUNT][HTTP_CODES]; /* requests answered; atomic adds and loads */
    struct hd_clicks *clicks;           /* the one-click writer (clicks.c) */
    pthread_mutex_t metrics_mu;         /* guards metrics_st: one scrape at a time */
    struct hd_store *metrics_st;        /* GET /metrics' own read-only connection */
};

/* What a route answers: status, body, its type, an Allow header. */
struct hd_answer {
    int status;
    const char *type; /* Content-Type */
    struct hd_buf body;
    const char *allow; /* for 405, else NULL */
};

/* A request to /u/TOKEN or /p/TOKEN. The token is checked when the
 * headers are in (verify), the body afterwards. */
struct hd_unsub {
    int fault; /* enum hd_token_fault */
    struct hd_token tok;
    char text[HD_TOKEN_MAX]; /* the token as given, when it verified ("" else) */
    int lang;
};
void hd_unsub_verify(struct hd_srv *s, const char *token, size_t len, const char *accept_lang,
                     struct hd_unsub *u);
/* A bad token's answer: a page (html) or a line of text, 400, 403 or 410. */
void hd_unsub_invalid(struct hd_srv *s, struct hd_unsub *u, bool html, struct hd_answer *a);
/* GET: the page (confirm, or invalid); never writes. */
void hd_unsub_get(struct hd_srv *s, struct hd_unsub *u, struct hd_answer *a);
/* POST with the body read (len bytes): records the opt-out. */
void hd_unsub_post(struct hd_srv *s, struct hd_unsub *u, const char *body, size_t len,
                   struct hd_answer *a);
/* Renders page which with data (consumed) into a: status, or 500 when the
 * page fails to render (logged). */
void hd_srv_page(struct hd_srv *s, struct hd_answer *a, int status, int which, int lang,
                 json_t *data);
/* A 503 for a store that cannot be reached (logged; call with s->mu held). */
void hd_srv_unavailable(struct hd_srv *s, struct hd_answer *a, const struct hd_err *err);

/* The preference centre (prefs.c): its form body is at most PREFS_BODY_MAX
 * bytes (a CSRF token and a few checkboxes take about 150). GET shows the
 * form and never writes; POST checks the form's CSRF token and applies
 * the changes. */
#define PREFS_BODY_MAX 1024
void hd_prefs_get(struct hd_srv *s, struct hd_unsub *u, struct hd_answer *a);
void hd_prefs_post(struct hd_srv *s, struct hd_unsub *u, const char *body, size_t len,
                   struct hd_answer *a);

/* A one-click opt-out, or a gateway's status callback (hook), waiting for
 * its batch (clicks.c): its request is suspended until done. */
struct hd_click {
    struct hd_token tok;
    struct hd_hook *hook; /* a status callback (hooks.c), or NULL: a click */
    int result;           /* the callback's hd_receipt_result */
    void *conn;           /* the suspended struct MHD_Connection */
    bool done;            /* the batch is written (or failed): answer it */
    int rc;               /* 0, or the batch's HD_E_* */
    bool changed;         /* a new opt-out (not a repeat) */
    struct hd_click *next;
};
/* Starts the writer thread. */
int hd_clicks_start(struct hd_srv *s, struct hd_clicks **out, struct hd_err *err);
/* Suspends c's connection and queues c; it is resumed once c->done. Call
 * from the request handler. False (nothing done) once stopping. */
bool hd_clicks_push(struct hd_clicks *b, struct hd_click *c);
/* Writes and resumes what is queued, then ends the thread (once). */
void hd_clicks_stop(struct hd_clicks *b);
/* Stops if need be, and frees; after MHD has stopped. NULL is fine. */
void hd_clicks_free(struct hd_clicks *b);
/* Whether a POST body is RFC 8058's exactly (List-Unsubscribe=One-Click). */
bool hd_unsub_is_oneclick(const char *body, size_t len);
/* A one-click's answer once its batch is done: 200, or 503. */
void hd_unsub_clicked(struct hd_srv *s, const struct hd_click *c, struct hd_answer *a);
/* Logs a new opt-out from a link; call with s->mu held. */
void hd_unsub_note(struct hd_srv *s, const struct hd_token *t);
/* GET /metrics: whether the peer may read them (an address in [serve]
 * metrics_allow, or the bearer token), and the text (metrics.c). */
bool hd_metrics_allowed(struct hd_srv *s, const struct sockaddr *peer, const char *authorization);
void hd_metrics_get(struct hd_srv *s, struct hd_answer *a);
/* [serve] tls_cert_file and tls_key_file, read into cert and key (PEM
 * text, NUL-terminated) and checked: a certificate, an unencrypted key
 * that is its key (tls.c). On failure key's text is wiped. */
int hd_srv_tls_load(const struct hd_serve_cfg *c, struct hd_buf *cert, struct hd_buf *key,
                    struct hd_err *err);
/* ---- gateways' callbacks (hooks.c) ---- */

#define HOOK_BODY_MAX 16384 /* Twilio's callbacks are well under 2 KiB */

/* A request to /hooks/...: checked when the headers are in, the body then
 * gathered (up to HOOK_BODY_MAX; more sets too_long). */
struct hd_hook {
    char provider[64];
    bool inbound;
    bool too_long;
    char signature[64]; /* X-Twilio-Signature as sent */
    int64_t message;    /* the message the URL names (m=N), or 0 */
    char url[2048];     /* what Twilio signed: public_url, path and query */
    struct hd_buf body;
    struct hd_form form; /* the body's fields, once parsed */
    bool parsed;
};
/* rest: the path after "/hooks/"; query: the raw query or NULL. 0 when the
 * body is to be read, else -1 with a set (404, 403, 503). */
int hd_hook_begin(struct hd_srv *s, const char *rest, const char *query, const char *signature,
                  struct hd_hook *h, struct hd_answer *a);
/* The body is in: the signature, then a reply is kept at once; true for a
 * status callback to be kept by the caller (hd_clicks_push, else
 * hd_hook_take), false when answered in a. */
bool hd_hook_post(struct hd_srv *s, struct hd_hook *h, struct hd_answer *a);
/* Keeps h in its own transaction (takes s->mu) and answers it. */
void hd_hook_take(struct hd_srv *s, const struct hd_hook *h, struct hd_answer *a);
/* A status callback inside the caller's transaction (s->mu held). */
int hd_hook_keep(struct hd_srv *s, struct hd_store *st, const struct hd_hook *h, int *result,
                 struct hd_err *err);
/* The answer to a callback kept with rc (0 or HD_E_*) and result. */
void hd_hook_kept(const struct hd_hook *h, int rc, int result, struct hd_answer *a);
void hd_hook_release(struct hd_hook *h);
/* Applies the pending receipts whose message appeared (once a second). */
void hd_hooks_retry(struct hd_srv *s);

/* The store, opened if need be; call with s->mu held. NULL with err set. */
struct hd_store *hd_srv_store(struct hd_srv *s, struct hd_err *err);

#endif
