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
#include "herald/dispatch.h"
#include "herald/form.h"
#include "herald/log.h"
#include "herald/store.h"
#include "herald/time.h"
#include "herald/token.h"

enum page {
    PAGE_CONFIRM,
    PAGE_DONE,
    PAGE_INVALID,
    PAGE_PREFS,
    PAGE_PREFS_DONE,
    PAGE_CONSOLE_LOGIN, /* the console's (optional: see hd_pages_has) */
    PAGE_CONSOLE_OVERVIEW,
    PAGE_CONSOLE_CAMPAIGN,
    PAGE_CONSOLE_LOG,
    PAGE_CONSOLE_NEW,
    PAGE_CONSOLE_CONTACTS,
    PAGE_CONSOLE_CONTACT,
    PAGE_CONSOLE_TEMPLATES,
    PAGE_CONSOLE_TEMPLATE,
    PAGE_CONSOLE_SEGMENTS,
    PAGE_CONSOLE_SEGMENT,
    PAGE_CONSOLE_SETTINGS,
    PAGE_CONSOLE_AUDIT,
    PAGE_CONSOLE_USERS,
    PAGE_CONSOLE_APIKEYS,
    PAGE_CONSOLE_APIKEY, /* a new key, shown once */
    PAGE_COUNT
};
#define PAGE_FIRST_OPTIONAL PAGE_CONSOLE_LOGIN
enum lang { LANG_EN, LANG_ZH, LANG_COUNT };

struct hd_pages;
/* Compiles templates/pages/NAME.mustache (required) and NAME.zh-CN.mustache
 * (optional, else English) under dir. */
int hd_pages_load(const char *dir, struct hd_pages **out, struct hd_err *err);
void hd_pages_free(struct hd_pages *p);
/* Whether page has its English template (the console's pages may be
 * missing from an operator's own templates folder). */
bool hd_pages_has(const struct hd_pages *p, int page);
/* The console's stylesheet (templates/pages/console.css), or NULL. */
const struct hd_buf *hd_pages_css(const struct hd_pages *p);
/* The console's script (templates/pages/console.js), or NULL. */
const struct hd_buf *hd_pages_js(const struct hd_pages *p);
/* English, or Simplified Chinese for a locale of language zh. */
int hd_pages_lang(const char *locale);
/* Renders the page with data (an object; "lang" is added) into out, HTML
 * escaped, dates in the zone data's "zone" names (none: UTC). Thread-safe. */
int hd_pages_render(const struct hd_pages *p, int page, int lang, json_t *data, struct hd_buf *out,
                    struct hd_err *err);
/* A channel and a category in words of the language ("email", "营销"). */
const char *hd_pages_channel(int lang, int channel);
const char *hd_pages_category(int lang, int category);

/* The routes (server.c); R_NONE is any other path. */
enum route {
    R_HEALTH,
    R_READY,
    R_UNSUB,
    R_METRICS,
    R_PREFS,
    R_HOOK,
    R_INBOX,
    R_API,
    R_CONSOLE,
    R_NONE,
    R_COUNT
};
#define HTTP_CODES 500 /* statuses 100 to 599, counted per route */

struct hd_clicks;

/* The server's shared state. */
struct hd_srv {
    const struct hd_config *cfg;
    const char *db_path;
    const char *db_password; /* PostgreSQL's, for every connection the service opens */
    struct hd_log *log;
    const struct hd_clock *clock;
    struct hd_pages *pages;
    struct hd_token_key keys[2]; /* current, previous (len 0 when none) */
    /* keys, ready for verifying links (token.h) */
    struct hd_token_keyset keyset;
    /* by the index of cfg->providers: each Twilio provider's auth token,
     * ready for checking signatures (form.h) */
    struct hd_twilio_key *twilio_keys;
    size_t ntwilio_keys;
    pthread_mutex_t mu;          /* guards st (one connection for every worker) and the log */
    struct hd_store *st;         /* opened on first need; NULL after a failure */
    long inflight;               /* requests begun and not completed (atomic) */
    uint64_t http[R_COUNT][HTTP_CODES]; /* requests answered; atomic adds and loads */
    struct hd_clicks *clicks;           /* the one-click writer (clicks.c) */
    pthread_mutex_t metrics_mu;         /* guards metrics_st: one scrape at a time */
    struct hd_store *metrics_st;        /* GET /metrics' own read-only connection */
    int scrape_pause_ms;                /* HERALD_TEST_SCRAPE_MS, for the first scrape */
    struct hd_sns *sns;                 /* SNS signing keys by URL (hooks_sns.c) */
    struct hd_peers *peers;             /* connections by client address (peers.c) */
    struct hd_api *api;                 /* the JSON API's rate limits (api.c) */
    /* the campaign page's numbers (console_campaign.c): read on a
     * read-only connection of their own, never holding mu, and kept a
     * while by campaign */
    pthread_mutex_t con_mu;          /* guards con_st and con_stats */
    struct hd_store *con_st;         /* opened on first need */
    struct hd_con_stats *con_stats;  /* NULL until the first */
    char console_dummy[HD_PWHASH_MAX];  /* verified for an unknown user (console.c) */
    pthread_mutex_t console_mu;         /* guards console_dummy, made at the first login */
    pthread_mutex_t login_mu;           /* one console login at a time (its throttle) */
    bool console_secure;                /* public_url is https: cookies get Secure */
    int wal_pages;           /* the WAL's pages after st's last commit (atomic) */
    struct hd_store *ckpt_st; /* the main loop's checkpoint connection (checkpoint.c) */
};

/* What a route answers: status, body, its type, an Allow header. */
struct hd_answer {
    int status;
    const char *type; /* Content-Type */
    struct hd_buf body;
    const char *allow; /* for 405, else NULL */
    int retry_after;   /* seconds, for a 429 or 503; 0: no Retry-After */
    /* the in-app inbox's CORS (inbox.c): the request's Origin when it is
     * one of [serve] inbox_origins, else NULL; preflight adds the methods
     * and headers allowed */
    const char *cors_origin;
    bool preflight;
    const char *www_authenticate; /* a 401's challenge (RFC 9110 section 11.6.1), or NULL */
    /* the console's (console.c): its own Content-Security-Policy (NULL:
     * the pages' default), a redirect's Location, Set-Cookie lines */
    const char *csp;
    char location[128];
    char cookies[2][224];
    bool same_origin_frame; /* X-Frame-Options: SAMEORIGIN (the email preview's frame) */
};

/* A request to /u/TOKEN or /p/TOKEN. The token is checked when the
 * headers are in (verify), the body afterwards. */
struct hd_unsub {
    int fault; /* enum hd_token_fault */
    struct hd_token tok;
    char text[HD_TOKEN_MAX]; /* the token as given, when it verified ("" else) */
    int lang;
    bool gone; /* its contact was deleted: no preferences to offer */
};
/* The data of the unsubscribed page (PAGE_DONE) and its confirmation:
 * what stops, and the preference centre's link unless u->gone. */
json_t *hd_unsub_about(const struct hd_unsub *u, bool already);
void hd_unsub_verify(struct hd_srv *s, const char *token, size_t len, const char *accept_lang,
                     struct hd_unsub *u);
/* A bad token's answer: a page (html) or a line of text, 400, 403 or 410. */
void hd_unsub_invalid(struct hd_srv *s, struct hd_unsub *u, bool html, struct hd_answer *a);
/* GET: the page (confirm, or invalid); never writes. */
void hd_unsub_get(struct hd_srv *s, struct hd_unsub *u, struct hd_answer *a);
/* POST with the body read (len bytes, sent as ctype): records the opt-out. */
void hd_unsub_post(struct hd_srv *s, struct hd_unsub *u, const char *body, size_t len,
                   const char *ctype, struct hd_answer *a);
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
    struct hd_hook *hook;   /* a status callback (hooks.c), or NULL: a click */
    struct hd_api_req *api; /* an API send (api_messages.c), or NULL */
    int result;             /* the callback's hd_receipt_result */
    void *conn;             /* the suspended struct MHD_Connection */
    bool done;              /* the batch is written (or failed): answer it */
    int rc;                 /* 0, or the batch's HD_E_* */
    bool changed;           /* a new opt-out (not a repeat) */
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
/* RFC 8058's body: List-Unsubscribe=One-Click form-urlencoded, or as a
 * part of multipart/form-data (ctype: the request's Content-Type). */
bool hd_unsub_is_oneclick(const char *body, size_t len, const char *ctype);
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
/* Aliyun and Tencent push reports in batches (a JSON array): a few hundred
 * reports of under 400 bytes each */
#define HOOK_CN_BODY_MAX (512 * 1024)

enum hd_hook_kind { HOOK_TWILIO, HOOK_ALIYUN, HOOK_TENCENT, HOOK_HTTP };

/* A request to /hooks/...: checked when the headers are in, the body then
 * gathered (up to HOOK_BODY_MAX; more sets too_long). */
struct hd_hook {
    enum hd_hook_kind kind;
    char provider[64];
    bool inbound;
    bool too_long;
    char signature[64]; /* X-Twilio-Signature as sent */
    int64_t message;    /* the message the URL names (m=N), or 0 */
    char url[2048];     /* what Twilio signed: public_url, path and query */
    struct hd_buf body;
    size_t max;          /* the body's bound: HOOK_BODY_MAX, HOOK_CN_BODY_MAX or ESP_BODY_MAX */
    int esp;             /* a mail sender's events (hooks_esp.c), 0 for Twilio */
    char auth[512];      /* the sender's signature header as sent */
    char stamp[32];      /* its timestamp header */
    char token_hash[65]; /* Mailgun: the token this request took, given back if nothing is kept */
    struct hd_form form; /* the body's fields, once parsed */
    bool parsed;
    bool looked;                  /* found holds hd_hook_look's lookup for the batch */
    struct hd_receipt_found found;
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
/* A status callback's message looked up, inside the caller's
 * transaction, before the batch's callbacks are kept (dispatch.h's
 * hd_receipt_look); h->looked says whether hd_hook_keep may use it. */
int hd_hook_look(struct hd_srv *s, struct hd_store *st, struct hd_hook *h, struct hd_err *err);
/* A status callback inside the caller's transaction (s->mu held). */
int hd_hook_keep(struct hd_srv *s, struct hd_store *st, const struct hd_hook *h, int *result,
                 struct hd_err *err);
/* The answer to a callback kept with rc (0 or HD_E_*) and result. */
void hd_hook_kept(const struct hd_hook *h, int rc, int result, struct hd_answer *a);
void hd_hook_release(struct hd_hook *h);
/* What applying receipts needs, from the service's configuration. */
struct hd_receipt_ctx hd_srv_receipt_ctx(struct hd_srv *s, struct hd_store *st);
/* An answer of text/plain msg with status. */
void hd_hook_say(struct hd_answer *a, int status, const char *msg);

/* Aliyun's and Tencent's reports (hooks_cn.c): rest is "aliyun/..." or
 * "tencent/...". The token in the path or query is checked before the body
 * is read: 0 to read it, else -1 with a set (404, 403). */
int hd_hook_cn_begin(struct hd_srv *s, const char *rest, const char *query, struct hd_hook *h,
                     struct hd_answer *a);
/* The body of h (kind HOOK_ALIYUN or HOOK_TENCENT) checked whole: the
 * array of reports (the caller frees), or NULL with why set when it is
 * not one or a report lacks its id or status (fuzz_cnreport). */
json_t *hd_hook_cn_batch(const struct hd_hook *h, char *why, size_t size);
/* The body is in: each report kept, then answered as the gateway expects. */
void hd_hook_cn_post(struct hd_srv *s, struct hd_hook *h, struct hd_answer *a);

/* A request header's value, or NULL. */
typedef const char *(*hd_header_fn)(void *ud, const char *name);

/* ---- a generic HTTP gateway's reports (hooks_http.c): /hooks/http/PROVIDER ---- */

/* Whether rest ("http/...") is a generic gateway's path. */
bool hd_hook_http_route(const char *rest);
/* The provider (an http one with receipt_secret), the signature and the
 * timestamp headers, the timestamp within receipt_tolerance: 0 to read
 * the body, else -1 with a set (404, 403). */
int hd_hook_http_begin(struct hd_srv *s, const char *rest, hd_header_fn header, void *ud,
                       struct hd_hook *h, struct hd_answer *a);
/* The body is in: the signature, then every report kept, then 200. */
void hd_hook_http_post(struct hd_srv *s, struct hd_hook *h, struct hd_answer *a);

#define HTTP_REPORTS_MAX 1000
/* One report of a gateway's, in its words; strings borrowed from the body
 * (or the buffers here, for numbers). */
struct hd_http_report {
    const char *id, *ref, *status, *code, *reason;
    char buf[4][24]; /* id, ref, code, status written from JSON numbers */
};
/* A body read by the provider's receipt keys: one report (an object, a
 * form) or a JSON array of them. */
struct hd_http_batch {
    json_t *doc;
    struct hd_form form;
    bool has_form;
    struct hd_http_report *v;
    size_t n;
};
/* Reads body (no signature checked here: the caller did) into b; every
 * report needs a status and an id or a ref, else -1 with why (nothing of
 * the batch is to be kept). Release b either way. */
int hd_http_batch_read(const struct hd_http_receipt *rc, const char *body, size_t len,
                       struct hd_http_batch *b, char *why, size_t n);
void hd_http_batch_release(struct hd_http_batch *b);
/* The message number a ref names ("N:UUID" or "N"), or 0. */
int64_t hd_http_ref_message(const char *ref);

/* ---- mail senders' events (hooks_esp.c): /hooks/ses|sendgrid|mailgun|postmark/PROVIDER ---- */

#define ESP_BODY_MAX (1024 * 1024) /* SendGrid posts events in batches; SNS up to 256 KiB */
/* Which sender rest names (its enum, > 0), or 0: not a sender's path. */
int hd_esp_route(const char *rest);
/* Like hd_hook_begin, for a sender: the provider and what authenticates
 * the request (Postmark's Basic auth checked here, before any body). */
int hd_esp_begin(struct hd_srv *s, const char *rest, hd_header_fn header, void *ud,
                 struct hd_hook *h, struct hd_answer *a);
/* The body is in: signature, then each event kept, then the answer. */
void hd_esp_post(struct hd_srv *s, struct hd_hook *h, struct hd_answer *a);
/* A sender's event in herald's words (delivered, bounced, complained,
 * opened, unsubscribed, undelivered); strings borrowed from the body. */
struct hd_esp_event {
    int64_t message; /* the number the mail carried, or 0 */
    const char *gid; /* the sender's id of the event (or message), or NULL */
    const char *pid; /* the sender's id of the message (SendGrid's X-Message-Id, the
                      * Message-ID's UUID, Postmark's MessageID, SES's messageId), or NULL */
    const char *status, *code, *reason;
    int64_t at_ms; /* when the sender says it happened, or 0 */
};
#define EVENTS_MAX 1000 /* events read at a time: a SendGrid batch may hold more */
/* A body's events and the text cut out for them, EVENTS_MAX at a time. */
struct hd_esp_events {
    struct hd_esp_event v[EVENTS_MAX];
    size_t n;
    size_t next;                /* SendGrid: the batch's event to read next (0: all read) */
    char ids[EVENTS_MAX][24];   /* a number turned id (Postmark's bounce ID) */
    char pids[EVENTS_MAX][128]; /* the sender's message id, cut out of its text */
};
/* The events of a sender's body (esp from hd_esp_route), its signature
 * checked by the caller: those herald takes, appended to ev (which starts
 * zeroed); any JSON is safe here (fuzz_esp). */
void hd_esp_events_of(int esp, json_t *body, struct hd_esp_events *ev);
/* An SNS notification's SES event, its signature checked by the caller:
 * *msg is the Message parsed (the caller frees), 1 with ev filled, or 0
 * when the notification is not an event herald takes (fuzz_esp). */
size_t hd_sns_event_of(json_t *body, json_t **msg, struct hd_esp_event *ev);
/* SES through SNS (hooks_sns.c): the topic, the signature, then a
 * subscription confirmed (an answer, -1) or a notification's event in *ev
 * (*n is 0 or 1; *body and *msg are the caller's to free), 0. -1 with an
 * answer when it is refused. */
int hd_sns_read(struct hd_srv *s, struct hd_hook *h, json_t **body, json_t **msg,
                struct hd_esp_event *ev, size_t *n, struct hd_answer *a);
/* An ISO 8601 time a sender gives, in milliseconds; 0 when none or bad. */
int64_t hd_esp_time_ms(const char *iso);
struct hd_sns;
/* The signing certificates' cache, made with the server. */
/* peers.c: the connections of each client address (see there) */
struct hd_peers *hd_peers_new(const struct hd_serve_cfg *cfg);
void hd_peers_free(struct hd_peers *p);
/* Whether a connection from sa may be taken: its address is under [serve]
 * connections_per_client, or a trusted proxy. */
bool hd_peers_admit(struct hd_peers *p, const struct sockaddr *sa);
/* A connection from sa started, or ended. */
void hd_peers_note(struct hd_peers *p, const struct sockaddr *sa, bool started);

struct hd_sns *hd_sns_new(void);
void hd_sns_free(struct hd_sns *c);

/* ---- the in-app inbox (inbox.c, issue 20) ---- */

/* A request to /api/v1/inbox (rest: what follows it, "" or "/ID/read"),
 * answered whole when its headers are in (the API reads no body): header
 * gives its headers, arg its query's arguments, both with ud. */
void hd_inbox_answer(struct hd_srv *s, const char *method, const char *rest, hd_header_fn header,
                     hd_header_fn arg, void *ud, struct hd_answer *a);
/* Whether rest (what follows /api/v1/inbox) is the inbox's: "", "/ID/read"
 * or "/ID/archive"; anything else below it (/tokens) is routed to api.c. */
bool hd_inbox_claims(const char *rest);

/* ---- the console (console.c, console_auth.c; issue 21): /console/ ---- */

/* A form's body: the largest is the users page's add, a name, a password
 * of up to 1024 bytes typed twice (3072 each escaped: a review's 1,020
 * bytes of Chinese were refused at 4096), a role and a CSRF token */
#define CONSOLE_BODY_MAX 8192
/* One request to /console/: rest is the path after "/console/", addr the
 * client's address as text, body and len a POST's form (NULL, 0 for a
 * GET). */
struct hd_console_req {
    const char *method, *rest, *addr;
    hd_header_fn header;
    void *ud;
    const char *body;
    size_t len;
    hd_header_fn arg; /* the query's arguments (ud), decoded; NULL: none */
    /* Calls fn with each of the query's arguments, decoded (value "" when
     * it has none), until fn returns non-zero, which it returns; NULL:
     * the query has none. */
    int (*args)(void *ud, hd_form_fn fn, void *fnud);
};
/* Sets what the console needs at start (its cookies' Secure flag). */
int hd_console_init(struct hd_srv *s, struct hd_err *err);
/* Whether a POST to rest is one the console reads a body for. */
bool hd_console_posts(const char *rest);
void hd_console_answer(struct hd_srv *s, const struct hd_console_req *r, struct hd_answer *a);
/* A form's POST when its headers are in: whether its session and role
 * may post it, checked before the body is read; else a is the answer. */
bool hd_console_gate(struct hd_srv *s, const struct hd_console_req *r, struct hd_answer *a);
/* The campaign page's kept numbers, freed with the server (NULL is fine). */
struct hd_con_stats;
void hd_con_stats_free(struct hd_con_stats *c);
/* A campaign's status in words of the language (console_overview.c). */
const char *hd_console_status_word(int lang, int status);
/* Argon2id (console_auth.c): the encoded hash of a password of 8 to 1024
 * bytes (HD_E_INVALID otherwise), and whether a password is encoded's. */
int hd_console_hash(const char *password, size_t len, char out[HD_PWHASH_MAX], struct hd_err *err);
bool hd_console_verify(const char *encoded, const char *password, size_t len);

/* Applies the pending receipts whose message appeared (once a second). */
void hd_hooks_retry(struct hd_srv *s);

/* The store, opened if need be; call with s->mu held. NULL with err set. */
/* The options every store the service opens shares: the busy timeout and
 * the database's password (a review's serve could not reach a PostgreSQL
 * that needs one); readonly for the read-side connections. */
struct hd_store_opts hd_srv_store_opts(const struct hd_srv *s, bool readonly);
struct hd_store *hd_srv_store(struct hd_srv *s, struct hd_err *err);
/* Once the writer's WAL holds wal_pages, a passive checkpoint on the
 * checkpoint connection (checkpoint.c); the main loop's, each tick. */
void hd_srv_checkpoint(struct hd_srv *s, int wal_pages);

/* ---- the JSON API (api.c): /api/v1/... ---- */

struct hd_api;
struct hd_api *hd_api_new(void);
void hd_api_free(struct hd_api *api);
/* One request to /api/v1/: made when the headers are in, fed the body,
 * answered when the body is in. */
struct hd_api_req;
/* rest: the path after "/api/v1/". 0 when the body is to be read (into
 * *out), else -1 with a set: 404, 405, 401, 403, 429, 415, 413, and any
 * answer of a route without a body. */
int hd_api_begin(struct hd_srv *s, const char *method, const char *rest, hd_header_fn header,
                 void *ud, int64_t content_length, struct hd_api_req **out, struct hd_answer *a);
void hd_api_body(struct hd_srv *s, struct hd_api_req *r, const char *data, size_t n);
/* The body is in: answered in a (false), or, for a send, queued in c for
 * the group commit of clicks.c with conn suspended (true); once c is done
 * the caller answers with hd_api_kept. */
bool hd_api_end(struct hd_srv *s, struct hd_api_req *r, struct hd_click *c, void *conn,
                struct hd_answer *a);
/* A send kept by a group commit (s->mu held, inside its transaction). */
int hd_api_keep(struct hd_srv *s, struct hd_store *st, struct hd_api_req *r, struct hd_err *err);
/* Its answer once its batch is written (rc: the batch's). */
void hd_api_kept(struct hd_srv *s, struct hd_api_req *r, int rc, struct hd_answer *a);
/* The status it was (or will be) answered, for the request counters. */
int hd_api_status(const struct hd_api_req *r, int rc);
void hd_api_req_free(struct hd_api_req *r);

#endif
