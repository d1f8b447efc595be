/* config: herald's one INI file, read by a small reader of its own (lines
 * up to HD_CONFIG_LINE_MAX bytes) and checked against a schema of sections
 * and keys. Unknown sections and keys are errors with file and line.
 * Secrets come only by reference (KEY_env names an environment variable,
 * KEY_file a file) and are loaded at start-up; an inline secret, a missing
 * variable or an unreadable file is an error that names the key, never the
 * value. Without a file, built-in defaults describe a working install that
 * sends through the outbox driver. Also here: the channel and category
 * vocabulary shared by every layer. */
#ifndef HERALD_CONFIG_H
#define HERALD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

#include "herald/bounce.h"
#include "herald/buf.h"
#include "herald/err.h"
#include "herald/units.h"

/* inbox: the in-app inbox (issue 20); its messages stay in the store.
 * wechat: WeChat official account template messages (issue 24), to the
 * contact's wechat_openid */
enum hd_channel { HD_CH_EMAIL, HD_CH_SMS, HD_CH_PUSH, HD_CH_INBOX, HD_CH_WECHAT, HD_CH_COUNT };
enum hd_category { HD_CAT_MARKETING, HD_CAT_TRANSACTIONAL, HD_CAT_COUNT };
enum hd_on_cap { HD_ON_CAP_DROP, HD_ON_CAP_DEFER };

const char *hd_channel_name(int ch);   /* "email", "sms", "push", "inbox", "wechat" */
int hd_channel_parse(const char *s);   /* -1 when unknown or NULL */
const char *hd_category_name(int cat); /* "marketing", "transactional" */
int hd_category_parse(const char *s);  /* -1 when unknown or NULL */

/* One key = value line as written. */
struct hd_cfg_kv {
    char *key;
    char *value;
    int line; /* 0 for a built-in default */
};

/* A secret loaded through KEY_env or KEY_file. */
struct hd_cfg_secret {
    char *name;  /* the secret's key without suffix: "password" */
    char *via;   /* the key that named it: "password_env" or "password_file" */
    char *ref;   /* the variable name or the path (not secret) */
    char *value; /* the secret itself; wiped on free; never print it */
    size_t len;
    int line;
};

/* What an http provider's report means (receipt_status_map's right-hand
 * side): a step on the way (sent), or where the message ends. */
enum hd_http_outcome {
    HD_HTTP_SENT,        /* accepted further on: logged, the state kept */
    HD_HTTP_DELIVERED,   /* on the handset */
    HD_HTTP_UNDELIVERED, /* not delivered, not the number's fault */
    HD_HTTP_FAILED,      /* the gateway gave up: undelivered, not the number's fault */
    HD_HTTP_INVALID,     /* the number is bad: undelivered, and suppressed */
    HD_HTTP_BOUNCED,     /* a bounce, classed by the bounce rules */
    HD_HTTP_COMPLAINED,  /* the recipient complained: suppressed, opted out */
    HD_HTTP_COUNT
};
/* "sent", "delivered", ...; NULL out of range. */
const char *hd_http_outcome_name(int o);

/* One entry of receipt_status_map: the gateway's word and its meaning. */
struct hd_http_status {
    char *word;
    int outcome; /* enum hd_http_outcome */
};

/* An http provider's callbacks, from its receipt_* keys (config_receipt.c):
 * present only when receipt_secret is set. Strings are owned. */
struct hd_http_receipt {
    bool form;                    /* receipt_format = form (else json) */
    char *id, *ref, *status;      /* pointers (json) or field names (form): the gateway's
                                   * id, herald's echoed ref ("N:UUID"), the status; id or
                                   * ref may be NULL, not both */
    char *code, *reason;          /* optional, NULL when not given */
    char *sig_header, *ts_header; /* default X-Signature, X-Timestamp */
    bool base64;                  /* receipt_signature_encoding = base64 (else hex) */
    int64_t tolerance;            /* seconds either side of now; default 300 */
    struct hd_http_status *map;   /* receipt_status_map, in order */
    size_t nmap;
};
/* The outcome of a gateway's word by the map (case as written), or -1. */
int hd_http_receipt_outcome(const struct hd_http_receipt *r, const char *word);

struct hd_provider_cfg {
    char *name;           /* from [provider NAME] */
    char *type;           /* outbox, smtp, twilio, http, fcm, apns, aliyun_sms, tencent_sms,
                           * jpush, hms_push, wechat, inbox */
    int line;             /* line of its first key */
    struct hd_cfg_kv *kv; /* every non-secret key except the common ones below */
    size_t nkv;
    struct hd_cfg_secret *secrets;
    size_t nsecrets;
    struct hd_rate rate;     /* default 100/s */
    uint32_t burst;          /* token-bucket depth; default = rate per second, >= 1 */
    uint32_t connections;    /* parallel connections / in-flight bound; default 4 */
    int64_t timeout;         /* seconds per request; default 30 */
    uint32_t max_attempts;   /* default 5 */
    int64_t retry_base;      /* seconds; default 30 */
    int64_t retry_max;       /* seconds; default 3600 */
    double cost_per_segment; /* for estimates (SMS); default 0 */
    /* an http provider's receipt_* keys, or NULL */
    struct hd_http_receipt *receipt;
};

struct hd_cap_rule {
    int category; /* enum hd_category */
    int channel;  /* enum hd_channel, or -1 for all channels */
    struct hd_cap cap;
    int line;
};

struct hd_quiet_rule {
    int category; /* enum hd_category */
    int channel;  /* enum hd_channel, or -1 for all channels */
    struct hd_window window;
    int line;
};

#define HD_VERSION "0.1.0" /* herald --version, herald_build_info */

#define HD_SERVE_SECRETS 3
#define HD_SERVE_METRICS_TOKEN 2 /* secrets[]'s index of metrics_token */

/* An address range: family AF_INET or AF_INET6, the address in network
 * order (4 or 16 bytes used), the prefix length. */
struct hd_cidr {
    int family;
    unsigned char addr[16];
    int bits;
};
/* Parses CIDRs separated by spaces or commas (an address alone is /32 or
 * /128; "none" is the empty list) into a new array *out (caller frees).
 * -1 with why filled on a bad one. */
int hd_cidr_list_parse(const char *v, struct hd_cidr **out, size_t *n, char *why, size_t why_size);
/* Whether the socket address (IPv4, IPv6, or IPv4-mapped IPv6) is in one of the ranges. */
bool hd_cidr_match(const struct hd_cidr *c, size_t n, const struct sockaddr *sa);
void hd_cidr_format(const struct hd_cidr *c, char *out, size_t size);

/* [serve]: the HTTP service (herald serve) and the links it answers. */
struct hd_serve_cfg {
    char *listen;     /* ADDR:PORT; default 127.0.0.1:8025 */
    char *public_url; /* the base URL of links, no trailing '/'; NULL when unset */
    struct hd_cfg_secret secrets[HD_SERVE_SECRETS]; /* the signing secret, the previous one,
                                                     * the metrics bearer token;
                                                     * value NULL when not given */
    int64_t body_limit;                             /* bytes; default 1 MiB */
    uint32_t connection_limit;                      /* default 256 */
    uint32_t connections_per_client; /* at once from one address (0: any); default 32 */
    int64_t timeout;                                /* seconds a connection may idle; default 30 */
    int64_t unsubscribe_valid;     /* seconds a link token is valid; default 400d */
    char *unsubscribe_mailto;      /* List-Unsubscribe's mailto address (ASCII), or NULL */
    struct hd_cidr *metrics_allow; /* who may GET /metrics without the token */
    size_t nmetrics_allow;         /* default 127.0.0.1/32 and ::1/128 */
    /* peers whose X-Forwarded-For names the client (a proxy in front) */
    struct hd_cidr *trusted_proxies;
    size_t ntrusted_proxies;       /* default 127.0.0.1/32 and ::1/128 */
    char *tls_cert_file;           /* PEM certificate chain, or NULL: plain HTTP */
    char *tls_key_file;            /* its PEM private key; set exactly when tls_cert_file is */
    int tls_line;                  /* the line of the first of the two, for errors */
    char *inbox_origins; /* web origins that may read /api/v1/inbox (CORS), one space apart,
                          * or NULL: none */
    int64_t console_session; /* seconds a console login lasts; default 12h */
    unsigned seen;       /* keys given, for duplicates */
};

/* Whether v is ADDRESS:PORT as [serve] listen takes it (a port from 1 to
 * 65535; with any_port, as --listen takes it, 0 too: the kernel picks). */
bool hd_cfg_listen_ok(const char *v, bool any_port);

/* Whether origin (an Origin header, may be NULL) is one of [serve]
 * inbox_origins, exactly. */
bool hd_cfg_serve_origin_ok(const struct hd_serve_cfg *s, const char *origin);

/* [bounces]: the bounce mailbox (issue 19; config_bounces.c). */
struct hd_bounces_cfg {
    char *maildir;  /* a local Maildir, or NULL */
    char *imap_url; /* imaps://host/FOLDER, or NULL */
    char *username;
    char *password; /* password_env or password_file's value, or NULL (wiped when freed) */
    char *ca_file;  /* NULL: the system's store */
    int64_t poll;   /* seconds between herald run's fetches; 0: never */
};
/* Whether v is an imap:// or imaps:// URL without a user or password in
 * it (they have keys of their own, kept out of messages): -1 with why. */
int hd_cfg_imap_url_check(const char *v, char *why, size_t n);

/* The events an outbound webhook may carry (issue 20), in the order of
 * hd_webhook_event_name; a webhook's events are a set of (1 << type). */
enum hd_webhook_event {
    HD_WH_SENT,
    HD_WH_DELIVERED,
    HD_WH_BOUNCED,
    HD_WH_COMPLAINED,
    HD_WH_UNSUBSCRIBED,
    HD_WH_OPENED,
    HD_WH_FAILED,
    HD_WH_COUNT
};
const char *hd_webhook_event_name(int type); /* "sent", ...; "test" for HD_WH_COUNT */
int hd_webhook_event_parse(const char *s);   /* -1 when unknown */
/* A webhook's URL as it may be shown (config check, webhook list, an
 * error): its scheme and host, a user and password before the host left
 * out and the rest cut to "/...", as receivers such as Slack's carry their
 * secret in the path or query. */
void hd_cfg_webhook_url_shown(const char *url, char *out, size_t size);

/* [webhook NAME]: where herald posts signed batches of events (issue 20;
 * config_webhook.c). */
struct hd_webhook_cfg {
    char *name;                  /* from [webhook NAME] */
    char *url;                   /* http:// or https:// */
    unsigned events;             /* a set of (1 << enum hd_webhook_event); default all */
    struct hd_cfg_secret secret; /* secret_env or secret_file; value wiped on free */
    uint32_t batch;              /* events per request; default 100 */
    int64_t max_age;             /* seconds an event is tried before it expires; default 3d */
    int64_t timeout;             /* seconds per request; default 10 */
    int64_t retry_base;          /* the first retry's delay in seconds; default 10 */
    int64_t retry_max;           /* the longest delay in seconds; default 10m */
    int line;                    /* the line of its [webhook NAME] */
    unsigned seen;               /* keys given, for duplicates */
};

struct hd_config {
    char *path;           /* the file read, or NULL when only defaults apply */
    char *database;       /* [herald] database; default var/herald.db */
    struct hd_cfg_secret database_password; /* [herald] database_password_env or _file:
                                               a PostgreSQL database's; value wiped on free */
    char *templates;      /* [herald] templates; default templates */
    char *timezone;       /* [herald] timezone; default UTC */
    char *locale;         /* [herald] locale; default en */
    char *default_region; /* [herald] default_region, ISO 3166 alpha-2, or NULL */
    int log_level;        /* [herald] log_level; default info */
    int log_journal;      /* [log] journal: enum hd_log_journal; default auto */
    int64_t busy_timeout; /* [herald] busy_timeout in seconds; default 5 */
    struct hd_provider_cfg *providers;
    size_t nproviders;
    struct {
        char **providers; /* names, in order of preference */
        size_t n;
        int line;
    } channels[HD_CH_COUNT];
    struct hd_cap_rule *caps;
    size_t ncaps;
    int on_cap; /* enum hd_on_cap; default drop */
    struct hd_quiet_rule *quiet;
    size_t nquiet;
    struct hd_cfg_kv *vars; /* [template_vars] */
    size_t nvars;
    struct {
        char *map; /* [import] map: HEADER=FIELD,... as written (the import checks it), or NULL */
        int line;  /* the line of map = */
    } import;
    /* [dispatch]: the circuit breaker pauses a campaign when at least this
     * share (0 < rate <= 1; 0: never) of its last failure_window finished
     * messages failed (render_failed, or failed at the gateway); defaults
     * 0.5 and 100 */
    double pause_on_failure_rate;
    uint32_t failure_window;
    /* [dispatch] node_lease: on a PostgreSQL store, what a node holds goes
     * back to the queue once its heartbeat is this many seconds old; 30 */
    int64_t node_lease;
    /* [dispatch] poll: on a PostgreSQL store, an idle `herald run` looks
     * for work this many seconds apart, and at once when a wake-up comes
     * (LISTEN/NOTIFY); 1 */
    int64_t idle_poll;
    struct hd_serve_cfg serve; /* [serve] */
    struct {
        uint32_t soft_bounce_limit;           /* soft bounces within the window that suppress; 3 */
        int64_t soft_bounce_window;           /* seconds; 30 days */
        char *bounce_rules_path;              /* bounce_rules, or the default (hd_paths) */
        struct hd_bounce_rules *bounce_rules; /* read with the configuration; NULL when the
                                               * default file is absent */
    } receipts;                               /* [receipts] */
    char *sms_optout_zh;                      /* [lint] sms_optout_zh; default 回T退订 */
#define HD_SMS_OPTOUT_MAX 255 /* bytes of sms_optout_zh at most */
    struct hd_bounces_cfg bounces;            /* [bounces] */
    struct hd_webhook_cfg *webhooks;          /* [webhook NAME], in file order */
    size_t nwebhooks;
};

/* The longest line a configuration file may have, in bytes without the line
 * end; a longer line is an error that names this limit. */
#define HD_CONFIG_LINE_MAX 65536

/* Reads path; NULL gives the built-in defaults. The caller frees *out. */
int hd_config_load(const char *path, struct hd_config **out, struct hd_err *err);
/* Parses INI text; name stands in for the file name in messages. */
int hd_config_parse(const char *text, const char *name, struct hd_config **out, struct hd_err *err);
/* What makes the database value v unusable as written, or NULL when
 * nothing does: a postgresql:// (postgres://) URI with a password in its
 * user-info (up to the first @ before any /) or in a query key that
 * percent-decodes to "password", or the scheme not in lower case (libpq
 * reads only those two). The text never quotes v; a constant. */
const char *hd_config_db_problem(const char *v);
/* Which file to read: explicit (-c), else $HERALD_CONFIG, else etc/herald.conf
 * (not for an installed binary, see hd_paths_get) or sysconf_path (NULL: the
 * compiled-in one) if they exist, else NULL (defaults). Returns a borrowed
 * pointer to one of its arguments, the environment or a constant. */
const char *hd_config_find(const char *explicit_path, const char *sysconf_path);
void hd_config_free(struct hd_config *cfg);

/* Where herald finds its files (paths.c): an installed binary (the one
 * `make install` put in BINDIR) uses the folders compiled in at its build,
 * whatever the working directory; any other uses the source tree's
 * relative paths. Every string is a constant. */
struct hd_paths {
    bool installed;           /* the running binary is BINDIR/herald */
    const char *sysconf;      /* SYSCONFDIR/herald/herald.conf */
    const char *state;        /* LOCALSTATEDIR/lib/herald, the installed state folder */
    const char *database;     /* the default database: var/herald.db, or in state */
    const char *templates;    /* the default templates: templates, or DATADIR/herald/templates */
    const char *outbox;       /* the built-in outbox provider's folder: var/outbox, or in state */
    const char *secret;       /* the built-in link-signing secret: var/herald.secret, or in state */
    const char *bounce_rules; /* etc/bounce-rules.tsv, or DATADIR/herald/bounce-rules.tsv */
};
void hd_paths_get(struct hd_paths *p);

const struct hd_provider_cfg *hd_config_provider(const struct hd_config *cfg, const char *name);
const struct hd_webhook_cfg *hd_config_webhook(const struct hd_config *cfg, const char *name);
/* A provider's key as written, or NULL. */
const char *hd_provider_get(const struct hd_provider_cfg *p, const char *key);
/* A provider's yes/no key (checked when the configuration was read), or
 * dflt when it is not given. */
bool hd_provider_bool(const struct hd_provider_cfg *p, const char *key, bool dflt);
/* A provider's loaded secret by name ("password"), or NULL. */
const struct hd_cfg_secret *hd_provider_secret(const struct hd_provider_cfg *p, const char *name);

/* Registers every loaded secret with the logger so it is masked in log lines. */
struct hd_log;
void hd_config_register_secrets(const struct hd_config *cfg, struct hd_log *log);
/* Writes the effective configuration as INI, defaults included, secrets masked. */
void hd_config_dump(const struct hd_config *cfg, struct hd_buf *out);

#endif
