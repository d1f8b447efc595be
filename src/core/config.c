/* config: a small INI reader of our own, then checking against the schema
 * below.
 *
 * The reader reads the dialect inih (Debian's build) read, which existing
 * files rely on, but lines of any length up to HD_CONFIG_LINE_MAX (inih
 * refused lines over 198 characters, so a long http body could not be
 * configured): comment lines start with ';' or '#', a ';' after a space ends
 * a value, '=' or ':' separates key and value, an indented line continues the
 * key above it (each such line is the key given again), and the first error
 * wins, except that a syntax error gives way to a later error of meaning.
 * Provider keys are kept raw until the whole file is read, because their
 * meaning depends on `type`, which may come last. */
#include "herald/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "herald/log.h"
#include "herald/time.h"
#include "herald/units.h"
#include "herald/valid.h"
#include "config_int.h"

static const char *const channel_names[HD_CH_COUNT] = {"email", "sms", "push", "inbox", "wechat"};
static const char *const category_names[HD_CAT_COUNT] = {"marketing", "transactional"};

const char *hd_channel_name(int ch)
{
    return ch >= 0 && ch < HD_CH_COUNT ? channel_names[ch] : "?";
}

int hd_channel_parse(const char *s)
{
    /* NULL too (a JSON value that is no string): none, never a crash (a
     * review took the service down with "channels": [null]) */
    for (int i = 0; s && i < HD_CH_COUNT; i++)
        if (strcmp(s, channel_names[i]) == 0)
            return i;
    return -1;
}

const char *hd_category_name(int cat)
{
    return cat >= 0 && cat < HD_CAT_COUNT ? category_names[cat] : "?";
}

int hd_category_parse(const char *s)
{
    for (int i = 0; s && i < HD_CAT_COUNT; i++)
        if (strcmp(s, category_names[i]) == 0)
            return i;
    return -1;
}

/* ---- schema ---------------------------------------------------------- */

enum kind {
    K_STR,    /* any text */
    K_URL,    /* http:// or https:// */
    K_ENUM,   /* one of choices, separated by '|' */
    K_BOOL,   /* yes/no/true/false/on/off/1/0 */
    K_PORT,   /* 1..65535 */
    K_SECRET, /* only as KEY_env or KEY_file */
    K_REPEAT, /* text, may be given several times */
};

struct keydef {
    const char *type; /* provider type */
    const char *key;
    enum kind kind;
    const char *choices;
    bool required;
};

static const char *const provider_types[] = {"outbox", "smtp",     "twilio",     "http",
                                             "fcm",    "apns",     "aliyun_sms", "tencent_sms",
                                             "jpush",  "hms_push", "wechat",     "inbox"};

static const struct keydef provider_keys[] = {
    {"outbox", "path", K_STR, NULL, false},
    {"outbox", "bounce_address", K_STR, NULL, false},
    /* a mail sender's events (serve/hooks_esp.c): "mail" is smtp and outbox */
    {"mail", "esp", K_ENUM, "ses|sendgrid|mailgun|postmark", false},
    {"mail", "event_public_key", K_STR, NULL, false},
    {"mail", "event_public_key_file", K_STR, NULL, false},
    {"mail", "webhook_signing_key", K_SECRET, NULL, false},
    {"mail", "webhook_user", K_STR, NULL, false},
    {"mail", "webhook_password", K_SECRET, NULL, false},
    {"mail", "sns_topics", K_STR, NULL, false},
    {"outbox", "ca_file", K_STR, NULL, false}, /* for the SNS fetches */
    {"smtp", "host", K_STR, NULL, true},
    {"smtp", "port", K_PORT, NULL, false},
    {"smtp", "starttls", K_ENUM, "required|optional|none", false},
    {"smtp", "tls_verify", K_BOOL, NULL, false},
    {"smtp", "implicit_tls", K_BOOL, NULL, false},
    {"smtp", "ca_file", K_STR, NULL, false},
    {"smtp", "username", K_STR, NULL, false},
    {"smtp", "password", K_SECRET, NULL, false},
    {"smtp", "from", K_STR, NULL, false},
    {"smtp", "reply_to", K_STR, NULL, false},
    {"smtp", "helo", K_STR, NULL, false},
    {"smtp", "unsubscribe_url", K_URL, NULL, false},
    {"smtp", "unsubscribe_mailto", K_STR, NULL, false},
    {"smtp", "bounce_address", K_STR, NULL, false},
    {"twilio", "base_url", K_URL, NULL, false},
    {"twilio", "account_sid", K_STR, NULL, true},
    {"twilio", "auth_token", K_SECRET, NULL, true},
    {"twilio", "from", K_STR, NULL, false},
    {"twilio", "messaging_service_sid", K_STR, NULL, false},
    {"twilio", "status_callback", K_URL, NULL, false},
    {"twilio", "ca_file", K_STR, NULL, false},
    {"http", "url", K_URL, NULL, true},
    {"http", "method", K_ENUM, "POST|PUT|PATCH|GET", false},
    {"http", "header", K_REPEAT, NULL, false},
    {"http", "body", K_STR, NULL, false},
    {"http", "body_format", K_ENUM, "json|form", false},
    {"http", "accepted_status", K_STR, NULL, false},
    {"http", "throttled_status", K_STR, NULL, false},
    {"http", "permanent_status", K_STR, NULL, false},
    {"http", "message_id_pointer", K_STR, NULL, false},
    {"http", "api_key", K_SECRET, NULL, false},
    {"http", "ca_file", K_STR, NULL, false},
    /* its delivery reports to herald serve (config_receipt.c) */
    {"http", "receipt_format", K_ENUM, "json|form", false},
    {"http", "receipt_id", K_STR, NULL, false},
    {"http", "receipt_ref", K_STR, NULL, false},
    {"http", "receipt_status", K_STR, NULL, false},
    {"http", "receipt_code", K_STR, NULL, false},
    {"http", "receipt_reason", K_STR, NULL, false},
    {"http", "receipt_status_map", K_STR, NULL, false},
    {"http", "receipt_secret", K_SECRET, NULL, false},
    {"http", "receipt_signature_header", K_STR, NULL, false},
    {"http", "receipt_timestamp_header", K_STR, NULL, false},
    {"http", "receipt_signature_encoding", K_ENUM, "hex|base64", false},
    {"http", "receipt_tolerance", K_STR, NULL, false},
    {"fcm", "service_account", K_SECRET, NULL, true},
    {"fcm", "project_id", K_STR, NULL, false},
    {"fcm", "base_url", K_URL, NULL, false},
    {"fcm", "ca_file", K_STR, NULL, false},
    {"apns", "key", K_SECRET, NULL, true},
    {"apns", "key_id", K_STR, NULL, true},
    {"apns", "team_id", K_STR, NULL, true},
    {"apns", "topic", K_STR, NULL, true},
    {"apns", "environment", K_ENUM, "production|sandbox", false},
    {"apns", "base_url", K_URL, NULL, false},
    {"apns", "ca_file", K_STR, NULL, false},
    {"aliyun_sms", "access_key_id", K_STR, NULL, true},
    {"aliyun_sms", "access_key_secret", K_SECRET, NULL, true},
    {"aliyun_sms", "sign_name", K_STR, NULL, true},
    {"aliyun_sms", "base_url", K_URL, NULL, false},
    {"aliyun_sms", "ca_file", K_STR, NULL, false},
    {"aliyun_sms", "callback_token", K_SECRET, NULL, false},
    {"tencent_sms", "secret_id", K_STR, NULL, true},
    {"tencent_sms", "secret_key", K_SECRET, NULL, true},
    {"tencent_sms", "sdk_app_id", K_STR, NULL, true},
    {"tencent_sms", "sign_name", K_STR, NULL, true},
    {"tencent_sms", "region", K_STR, NULL, false},
    {"tencent_sms", "base_url", K_URL, NULL, false},
    {"tencent_sms", "ca_file", K_STR, NULL, false},
    {"tencent_sms", "callback_token", K_SECRET, NULL, false},
    {"jpush", "app_key", K_STR, NULL, true},
    {"jpush", "master_secret", K_SECRET, NULL, true},
    {"jpush", "apns_production", K_BOOL, NULL, false},
    {"jpush", "base_url", K_URL, NULL, false},
    {"jpush", "ca_file", K_STR, NULL, false},
    {"hms_push", "app_id", K_STR, NULL, true},
    {"hms_push", "client_id", K_STR, NULL, false},
    {"hms_push", "client_secret", K_SECRET, NULL, true},
    {"hms_push", "click_action", K_STR, NULL, false},
    {"hms_push", "base_url", K_URL, NULL, false},
    {"hms_push", "auth_url", K_URL, NULL, false},
    {"hms_push", "ca_file", K_STR, NULL, false},
    {"wechat", "app_id", K_STR, NULL, true},
    {"wechat", "app_secret", K_SECRET, NULL, true},
    {"wechat", "miniprogram_app_id", K_STR, NULL, false},
    {"wechat", "base_url", K_URL, NULL, false},
    {"wechat", "ca_file", K_STR, NULL, false},
};

/* Keys every provider has; parsed into struct fields. */
static const char *const common_keys[] = {"type",        "rate",      "burst",
                                          "connections", "timeout",   "max_attempts",
                                          "retry_base",  "retry_max", "cost_per_segment"};

/* ---- parse state ------------------------------------------------------ */

struct raw_provider {
    struct hd_cfg_kv *kv;
    size_t nkv;
};

struct parse {
    const char *name; /* file name for messages */
    int line;
    int section_line; /* line of the latest [section] header */
    struct hd_config *cfg;
    struct raw_provider *raw; /* parallel to cfg->providers */
    struct hd_err *err;
    int rc;                 /* first error */
    unsigned herald_seen;   /* bit per [herald] key */
    unsigned dispatch_seen; /* bit per [dispatch] key */
    unsigned receipts_seen; /* bit per [receipts] key */
    int rules_line;         /* the line of bounce_rules, 0 when not given */
    bool on_cap_seen;
    bool journal_seen;
    bool lint_seen;
};

static int fail(struct parse *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parse *ps, const char *fmt, ...)
{
    if (ps->rc < 0)
        return 0;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ps->rc = hd_err_setpos(ps->err, HD_E_CONFIG, ps->name, ps->line, 0, "%s", msg);
    return 0;
}

static void kv_push(struct hd_cfg_kv **arr, size_t *n, const char *key, const char *value, int line)
{
    HD_GROW(*arr, *n);
    (*arr)[*n].key = hd_xstrdup(key);
    (*arr)[*n].value = hd_xstrdup(value);
    (*arr)[*n].line = line;
    (*n)++;
}

static void kv_free(struct hd_cfg_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static bool valid_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return false;
    return true;
}

static int parse_bool(const char *v)
{
    static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false",
                                                                                "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(v, yes[i]) == 0)
            return 1;
        if (strcmp(v, no[i]) == 0)
            return 0;
    }
    return -1;
}

static bool in_choices(const char *v, const char *choices)
{
    size_t n = strlen(v);
    const char *c = choices;
    while (*c) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncmp(c, v, n) == 0)
            return true;
        c += len + (bar != NULL);
    }
    return false;
}

static int parse_uint(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*v))
        return -1;
    unsigned long x = strtoul(v, &end, 10);
    if (errno || *end || x < min || x > max)
        return -1;
    *out = (uint32_t)x;
    return 0;
}

/* ---- sections ---------------------------------------------------------- */

static const char *const herald_keys[] = {"database",
                                          "templates",
                                          "timezone",
                                          "locale",
                                          "default_region",
                                          "log_level",
                                          "busy_timeout",
                                          "database_password_env",
                                          "database_password_file"};

static void set_str(char **field, const char *v)
{
    free(*field);
    *field = hd_xstrdup(v);
}

/* Whether the query key k[0..n), percent-decoded as libpq decodes it,
 * is "password" (in any case: libpq refuses the other spellings, but
 * such a value is a password all the same). */
static bool key_is_password(const char *k, size_t n)
{
    static const char want[] = "password";
    size_t j = 0;
    for (size_t i = 0; i < n; i++, j++) {
        int c = (unsigned char)k[i];
        if (c == '%' && i + 2 < n && isxdigit((unsigned char)k[i + 1]) &&
            isxdigit((unsigned char)k[i + 2])) {
            char hex[3] = {k[i + 1], k[i + 2], 0};
            c = (int)strtol(hex, NULL, 16);
            i += 2;
        }
        if (j >= sizeof want - 1 || tolower(c) != want[j])
            return false;
    }
    return j == sizeof want - 1;
}

static const char pw_inline[] =
    "the password must not be written in the URI: use database_password_env (an environment "
    "variable), database_password_file (a file) or ~/.pgpass";

const char *hd_config_db_problem(const char *v)
{
    const char *p;
    if (strncmp(v, "postgresql://", 13) == 0)
        p = v + 13;
    else if (strncmp(v, "postgres://", 11) == 0)
        p = v + 11;
    else if (strncasecmp(v, "postgresql://", 13) == 0 || strncasecmp(v, "postgres://", 11) == 0)
        return "write the scheme in lower case, postgresql:// or postgres:// (libpq reads no "
               "other spelling)";
    else
        return NULL;
    /* libpq ends the user-info at the first @ before any / (not at ? or #) */
    size_t n = strcspn(p, "@/");
    if (p[n] == '@') {
        if (memchr(p, ':', n))
            return pw_inline;
        p += n + 1;
    }
    const char *q = strchr(p, '?');
    while (q) {
        const char *k = q + 1;
        size_t klen = strcspn(k, "=&");
        if (key_is_password(k, klen))
            return pw_inline;
        q = strchr(k, '&');
    }
    return NULL;
}

/* database_password_env or database_password_file */
static int herald_password(struct parse *ps, const char *key, const char *v)
{
    struct hd_cfg_secret *sec = &ps->cfg->database_password;
    bool env = strcmp(key, "database_password_env") == 0;
    char why[600];
    if (sec->via)
        return fail(ps, "give either database_password_env or database_password_file, not both");
    if (!*v)
        return fail(ps, "%s: give a %s", key, env ? "variable name" : "file path");
    if (hd_cfg_secret_read(v, env, &sec->value, &sec->len, why, sizeof why) < 0)
        return fail(ps, "%s: %s", key, why);
    sec->name = hd_xstrdup("database_password");
    sec->via = hd_xstrdup(key);
    sec->ref = hd_xstrdup(v);
    sec->line = ps->line;
    return 0;
}

static int on_herald(struct parse *ps, const char *key, const char *v)
{
    struct hd_config *cfg = ps->cfg;
    size_t i, n = sizeof herald_keys / sizeof herald_keys[0];
    for (i = 0; i < n && strcmp(key, herald_keys[i]) != 0; i++)
        ;
    if (i == n)
        return fail(ps,
                    "unknown key '%s' in [herald] (known: database, database_password_env|"
                    "_file, templates, timezone, locale, default_region, log_level, "
                    "busy_timeout)",
                    key);
    if (ps->herald_seen & (1u << i))
        return fail(ps, "duplicate key '%s' in [herald]", key);
    ps->herald_seen |= 1u << i;
    struct hd_err e;
    if (strncmp(key, "database_password_", 18) == 0)
        return herald_password(ps, key, v);
    if (strcmp(key, "database") == 0 || strcmp(key, "templates") == 0) {
        if (!*v)
            return fail(ps, "'%s' must not be empty", key);
        const char *bad = strcmp(key, "database") == 0 ? hd_config_db_problem(v) : NULL;
        if (bad)
            return fail(ps, "database: %s", bad);
        set_str(strcmp(key, "database") == 0 ? &cfg->database : &cfg->templates, v);
    } else if (strcmp(key, "timezone") == 0) {
        if (!hd_time_zone_valid(v))
            return fail(ps, "timezone: '%s' is not an IANA time zone (%s)", v,
                        hd_time_zone_hint(v));
        set_str(&cfg->timezone, v);
    } else if (strcmp(key, "locale") == 0) {
        char norm[64];
        struct hd_valid *val = hd_valid_new();
        int bad = hd_valid_locale(val, v, norm, sizeof norm);
        hd_valid_free(val);
        if (bad)
            return fail(ps, "locale: '%s' is %s", v, norm);
        set_str(&cfg->locale, norm);
    } else if (strcmp(key, "default_region") == 0) {
        if (strlen(v) != 2 || !isalpha((unsigned char)v[0]) || !isalpha((unsigned char)v[1]))
            return fail(ps, "default_region: '%s' is not a two-letter region code (e.g. CN, US)",
                        v);
        char r[3] = {(char)toupper((unsigned char)v[0]), (char)toupper((unsigned char)v[1]), 0};
        if (!hd_valid_region_known(r))
            return fail(ps,
                        "default_region: '%s' is not a region whose phone numbering herald "
                        "knows (see the README for the list)",
                        v);
        set_str(&cfg->default_region, r);
    } else if (strcmp(key, "log_level") == 0) {
        int lv = hd_log_level_parse(v);
        if (lv < 0)
            return fail(ps, "log_level: '%s' is not one of error, warn, info, debug", v);
        cfg->log_level = lv;
    } else {
        if (hd_units_duration(v, &cfg->busy_timeout, &e) < 0)
            return fail(ps, "busy_timeout: %s", e.msg);
        /* SQLite takes milliseconds in an int: 25 days wrapped to "do not
         * wait"; a day is already far longer than any lock should be held */
        if (cfg->busy_timeout > 86400)
            return fail(ps, "busy_timeout: '%s' is longer than the longest wait, 1d", v);
    }
    return 1;
}

static int on_provider(struct parse *ps, const char *name, const char *key, const char *v)
{
    struct hd_config *cfg = ps->cfg;
    if (!valid_name(name))
        return fail(ps, "provider name '%s' may use only letters, digits, '_', '-' and '.'", name);
    size_t i;
    for (i = 0; i < cfg->nproviders && strcmp(cfg->providers[i].name, name) != 0; i++)
        ;
    if (i == cfg->nproviders) {
        HD_GROW(cfg->providers, i);
        HD_GROW(ps->raw, i);
        memset(&cfg->providers[i], 0, sizeof cfg->providers[i]);
        memset(&ps->raw[i], 0, sizeof ps->raw[i]);
        cfg->providers[i].name = hd_xstrdup(name);
        cfg->providers[i].line = ps->section_line;
        cfg->nproviders++;
    }
    struct raw_provider *raw = &ps->raw[i];
    if (strcmp(key, "header") != 0)
        for (size_t k = 0; k < raw->nkv; k++)
            if (strcmp(raw->kv[k].key, key) == 0)
                return fail(ps, "duplicate key '%s' in [provider %s] (first on line %d)", key, name,
                            raw->kv[k].line);
    kv_push(&raw->kv, &raw->nkv, key, v, ps->line);
    return 1;
}

static int on_channel(struct parse *ps, const char *chname, const char *key, const char *v)
{
    int ch = hd_channel_parse(chname);
    if (ch < 0)
        return fail(ps,
                    "unknown channel '%s' in section name (known: email, sms, push, inbox, "
                    "wechat)",
                    chname);
    if (strcmp(key, "providers") != 0)
        return fail(ps, "unknown key '%s' in [channel %s] (known: providers)", key, chname);
    struct hd_config *cfg = ps->cfg;
    if (cfg->channels[ch].line)
        return fail(ps, "duplicate key 'providers' in [channel %s]", chname);
    cfg->channels[ch].line = ps->line;
    const char *p = v;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ')
            p++;
        if (p == start)
            break;
        char *name = hd_xstrndup(start, (size_t)(p - start));
        struct hd_config *c = cfg;
        HD_GROW(c->channels[ch].providers, c->channels[ch].n);
        c->channels[ch].providers[c->channels[ch].n++] = name;
    }
    if (cfg->channels[ch].n == 0)
        return fail(ps, "[channel %s] providers: name at least one provider", chname);
    return 1;
}

/* "marketing" or "marketing.sms" -> category and channel (-1 for all). */
static int scope(struct parse *ps, const char *section, const char *key, int *cat, int *ch)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", key);
    char *dot = strchr(buf, '.');
    *ch = -1;
    if (dot) {
        *dot = '\0';
        if ((*ch = hd_channel_parse(dot + 1)) < 0)
            return fail(ps,
                        "unknown channel '%s' in key '%s' in [%s] (known: email, sms, push, inbox, "
                        "wechat)",
                        dot + 1, key, section);
    }
    if ((*cat = hd_category_parse(buf)) < 0)
        return fail(ps,
                    "unknown key '%s' in [%s] (write CATEGORY or CATEGORY.CHANNEL, "
                    "e.g. marketing or marketing.sms)",
                    key, section);
    return 1;
}

static int on_caps(struct parse *ps, const char *key, const char *v)
{
    struct hd_config *cfg = ps->cfg;
    struct hd_err e;
    if (strcmp(key, "on_cap") == 0) {
        if (ps->on_cap_seen)
            return fail(ps, "duplicate key 'on_cap' in [caps]");
        ps->on_cap_seen = true;
        if (strcmp(v, "drop") == 0)
            cfg->on_cap = HD_ON_CAP_DROP;
        else if (strcmp(v, "defer") == 0)
            cfg->on_cap = HD_ON_CAP_DEFER;
        else
            return fail(ps, "on_cap: '%s' is not one of drop, defer", v);
        return 1;
    }
    int cat, ch;
    if (!scope(ps, "caps", key, &cat, &ch))
        return 0;
    for (size_t i = 0; i < cfg->ncaps; i++)
        if (cfg->caps[i].category == cat && cfg->caps[i].channel == ch)
            return fail(ps, "duplicate key '%s' in [caps] (first on line %d)", key,
                        cfg->caps[i].line);
    struct hd_cap cap;
    if (hd_units_cap(v, &cap, &e) < 0)
        return fail(ps, "%s: %s", key, e.msg);
    HD_GROW(cfg->caps, cfg->ncaps);
    cfg->caps[cfg->ncaps++] = (struct hd_cap_rule){cat, ch, cap, ps->line};
    return 1;
}

static int on_quiet(struct parse *ps, const char *key, const char *v)
{
    struct hd_config *cfg = ps->cfg;
    struct hd_err e;
    int cat, ch;
    if (!scope(ps, "quiet_hours", key, &cat, &ch))
        return 0;
    for (size_t i = 0; i < cfg->nquiet; i++)
        if (cfg->quiet[i].category == cat && cfg->quiet[i].channel == ch)
            return fail(ps, "duplicate key '%s' in [quiet_hours] (first on line %d)", key,
                        cfg->quiet[i].line);
    struct hd_window w;
    if (hd_units_window(v, &w, &e) < 0)
        return fail(ps, "%s: %s", key, e.msg);
    HD_GROW(cfg->quiet, cfg->nquiet);
    cfg->quiet[cfg->nquiet++] = (struct hd_quiet_rule){cat, ch, w, ps->line};
    return 1;
}

static int on_var(struct parse *ps, const char *key, const char *v)
{
    struct hd_config *cfg = ps->cfg;
    if (!isalpha((unsigned char)key[0]) && key[0] != '_')
        return fail(ps, "template variable '%s' must start with a letter or '_'", key);
    for (const char *p = key; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return fail(ps, "template variable '%s' may use only letters, digits and '_'", key);
    for (size_t i = 0; i < cfg->nvars; i++)
        if (strcmp(cfg->vars[i].key, key) == 0)
            return fail(ps, "duplicate key '%s' in [template_vars] (first on line %d)", key,
                        cfg->vars[i].line);
    kv_push(&cfg->vars, &cfg->nvars, key, v, ps->line);
    return 1;
}

/* [import] map = HEADER=FIELD,...: checked by the import, which knows the
 * fields; indented lines continue it, each read as one more item list. */
static int on_import(struct parse *ps, const char *key, const char *v)
{
    struct hd_config *cfg = ps->cfg;
    if (strcmp(key, "map") != 0)
        return fail(ps, "unknown key '%s' in [import] (known: map)", key);
    if (!cfg->import.map) {
        set_str(&cfg->import.map, v);
        cfg->import.line = ps->line;
        return 1;
    }
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_addf(&b, "%s,%s", cfg->import.map, v);
    free(cfg->import.map);
    cfg->import.map = hd_buf_detach(&b, NULL);
    return 1;
}

/* [log] journal = auto | yes | no */
static int on_log(struct parse *ps, const char *key, const char *v)
{
    static const char *const modes[] = {"auto", "yes", "no"}; /* enum hd_log_journal */
    if (strcmp(key, "journal") != 0)
        return fail(ps, "unknown key '%s' in [log] (known: journal)", key);
    if (ps->journal_seen)
        return fail(ps, "duplicate key 'journal' in [log]");
    ps->journal_seen = true;
    for (int i = 0; i < 3; i++)
        if (strcmp(v, modes[i]) == 0) {
            ps->cfg->log_journal = i;
            return 1;
        }
    return fail(ps, "journal: '%s' is not one of auto, yes, no", v);
}

/* [dispatch]: the circuit breaker's rate and window, how long a node
 * sharing a PostgreSQL store may go without a heartbeat before what it
 * holds is taken back, and how often such a node looks for work when
 * idle. */
static int on_dispatch(struct parse *ps, const char *key, const char *v)
{
    static const char *const keys[] = {"pause_on_failure_rate", "failure_window", "node_lease",
                                       "poll"};
    struct hd_config *cfg = ps->cfg;
    int i = -1;
    for (int k = 0; k < 4 && i < 0; k++)
        if (strcmp(key, keys[k]) == 0)
            i = k;
    if (i < 0)
        return fail(ps,
                    "unknown key '%s' in [dispatch] (known: pause_on_failure_rate, "
                    "failure_window, node_lease, poll)",
                    key);
    if (ps->dispatch_seen & (1u << i))
        return fail(ps, "duplicate key '%s' in [dispatch]", key);
    ps->dispatch_seen |= 1u << i;
    if (i == 3) {
        struct hd_err e = {0};
        if (hd_units_duration(v, &cfg->idle_poll, &e) < 0 || cfg->idle_poll < 1 ||
            cfg->idle_poll > 3600)
            return fail(ps, "poll: '%s' is not a duration from 1 second to 1 hour (1s, 30s)", v);
        return 1;
    }
    if (i == 2) {
        struct hd_err e = {0};
        if (hd_units_duration(v, &cfg->node_lease, &e) < 0 || cfg->node_lease < 2)
            return fail(ps, "node_lease: '%s' is not a duration of 2 seconds or more (30s, 2m)", v);
        return 1;
    }
    if (i == 1) {
        if (parse_uint(v, 1, 1000000, &cfg->failure_window) < 0)
            return fail(ps, "failure_window: '%s' is not a count from 1 to 1000000", v);
        return 1;
    }
    char *end;
    errno = 0;
    double rate = strtod(v, &end);
    if (errno || end == v || *end || !(rate >= 0 && rate <= 1))
        return fail(ps,
                    "pause_on_failure_rate: '%s' is not a share from 0 to 1 (0.5: half of the "
                    "window; 0: never pause)",
                    v);
    cfg->pause_on_failure_rate = rate;
    return 1;
}

/* [lint] sms_optout_zh: the opt-out wording a zh-CN marketing SMS must carry. */
static int on_lint(struct parse *ps, const char *key, const char *v)
{
    if (strcmp(key, "sms_optout_zh") != 0)
        return fail(ps, "unknown key '%s' in [lint] (known: sms_optout_zh)", key);
    if (ps->lint_seen)
        return fail(ps, "duplicate key 'sms_optout_zh' in [lint]");
    ps->lint_seen = true;
    if (!*v)
        return fail(ps, "sms_optout_zh: give the wording (default 回T退订)");
    if (strlen(v) > HD_SMS_OPTOUT_MAX) /* template lint keeps it whole (tpl.c) */
        return fail(ps, "sms_optout_zh: %zu bytes, over %d: a shorter wording", strlen(v),
                    HD_SMS_OPTOUT_MAX);
    free(ps->cfg->sms_optout_zh);
    ps->cfg->sms_optout_zh = hd_xstrdup(v);
    return 1;
}

/* [receipts]: when soft bounces suppress an address. */
static int on_receipts(struct parse *ps, const char *key, const char *v)
{
    static const char *const keys[] = {"soft_bounce_limit", "soft_bounce_window", "bounce_rules"};
    struct hd_config *cfg = ps->cfg;
    int i = -1;
    for (int k = 0; k < 3; k++)
        if (strcmp(key, keys[k]) == 0)
            i = k;
    if (i < 0)
        return fail(ps,
                    "unknown key '%s' in [receipts] (known: soft_bounce_limit, "
                    "soft_bounce_window, bounce_rules)",
                    key);
    if (ps->receipts_seen & (1u << i))
        return fail(ps, "duplicate key '%s' in [receipts]", key);
    ps->receipts_seen |= 1u << i;
    if (i == 0) {
        if (parse_uint(v, 1, 1000, &cfg->receipts.soft_bounce_limit) < 0)
            return fail(ps, "soft_bounce_limit: '%s' is not a count from 1 to 1000", v);
        return 1;
    }
    if (i == 2) {
        set_str(&cfg->receipts.bounce_rules_path, v);
        ps->rules_line = ps->line;
        return 1;
    }
    if (hd_units_duration(v, &cfg->receipts.soft_bounce_window, NULL) < 0 ||
        cfg->receipts.soft_bounce_window <= 0)
        return fail(ps, "soft_bounce_window: '%s' is not a duration (30d)", v);
    return 1;
}

static int on_serve(struct parse *ps, const char *key, const char *v)
{
    char why[768];
    if (hd_cfg_serve_key(&ps->cfg->serve, key, v, ps->line, why, sizeof why) < 0)
        return fail(ps, "%s", why);
    return 1;
}

static int on_bounces(struct parse *ps, const char *key, const char *v)
{
    char why[400];
    if (hd_cfg_bounces_key(&ps->cfg->bounces, key, v, why, sizeof why) < 0)
        return fail(ps, "%s", why);
    return 1;
}

static int on_webhook(struct parse *ps, const char *name, const char *key, const char *v)
{
    char why[600];
    if (hd_cfg_webhook_key(ps->cfg, name, key, v, ps->section_line, why, sizeof why) < 0)
        return fail(ps, "%s", why);
    return 1;
}

static int handler(struct parse *ps, const char *section, const char *key, const char *value)
{
    if (ps->rc < 0)
        return 0;
    if (!*section)
        return fail(ps, "key '%s' is outside any section (put it under [herald])", key);
    if (strcmp(section, "herald") == 0)
        return on_herald(ps, key, value);
    if (strncmp(section, "provider ", 9) == 0)
        return on_provider(ps, section + 9, key, value);
    if (strncmp(section, "channel ", 8) == 0)
        return on_channel(ps, section + 8, key, value);
    if (strcmp(section, "caps") == 0)
        return on_caps(ps, key, value);
    if (strcmp(section, "quiet_hours") == 0)
        return on_quiet(ps, key, value);
    if (strcmp(section, "template_vars") == 0)
        return on_var(ps, key, value);
    if (strcmp(section, "import") == 0)
        return on_import(ps, key, value);
    if (strcmp(section, "log") == 0)
        return on_log(ps, key, value);
    if (strcmp(section, "dispatch") == 0)
        return on_dispatch(ps, key, value);
    if (strcmp(section, "serve") == 0)
        return on_serve(ps, key, value);
    if (strcmp(section, "receipts") == 0)
        return on_receipts(ps, key, value);
    if (strcmp(section, "lint") == 0)
        return on_lint(ps, key, value);
    if (strcmp(section, "bounces") == 0)
        return on_bounces(ps, key, value);
    if (strncmp(section, "webhook ", 8) == 0)
        return on_webhook(ps, section + 8, key, value);
    return fail(
        ps,
        "unknown section [%s] (known: herald, log, dispatch, serve, receipts, bounces, lint, "
        "provider NAME, channel email|sms|push|inbox|wechat, caps, quiet_hours, template_vars, "
        "import, webhook NAME)",
        section);
}

/* ---- the INI reader ------------------------------------------------------ */

static char *lskip(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    return s;
}

static char *rstrip(char *s)
{
    char *p = s + strlen(s);
    while (p > s && isspace((unsigned char)p[-1]))
        *--p = '\0';
    return s;
}

/* The first of chars, or of an inline comment (';' after a space), or the
 * end of s. */
static char *find_chars_or_comment(char *s, const char *chars)
{
    bool was_space = false;
    while (*s && !(chars && strchr(chars, *s)) && !(was_space && *s == ';')) {
        was_space = isspace((unsigned char)*s);
        s++;
    }
    return s;
}

struct ini {
    const char *section; /* "" before the first [section] */
    const char *key;     /* the latest key of the section, "" if none */
    int syntax_line;     /* first line that is neither, 0 if none */
};

/* One line, split in place; calls handler() for a key. */
static void ini_line(struct parse *ps, struct ini *in, char *line)
{
    char *start = lskip(rstrip(line)), *end;
    if (!*start || *start == ';' || *start == '#')
        return;
    if (*in->key && start > line) { /* a continuation, taken whole */
        handler(ps, in->section, in->key, start);
        return;
    }
    if (*start == '[') {
        end = find_chars_or_comment(start + 1, "]");
        if (*end == ']') {
            *end = '\0';
            in->section = start + 1;
            in->key = "";
        } else if (!in->syntax_line) {
            in->syntax_line = ps->line;
        }
        return;
    }
    end = find_chars_or_comment(start, "=:");
    if (*end != '=' && *end != ':') {
        if (!in->syntax_line)
            in->syntax_line = ps->line;
        return;
    }
    *end = '\0';
    char *value = end + 1;
    *find_chars_or_comment(value, NULL) = '\0';
    in->key = rstrip(start);
    handler(ps, in->section, in->key, rstrip(lskip(value)));
}

/* Reads text (after a BOM) line by line; ps->line is the line being read,
 * ps->section_line the latest that starts with '['. */
static void ini_read(struct parse *ps, const char *text)
{
    struct ini in = {"", "", 0};
    if (strncmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3;
    char *copy = hd_xstrdup(text), *p = copy;
    while (*p && ps->rc == 0) {
        char *nl = strchr(p, '\n'), *next = nl ? nl + 1 : p + strlen(p);
        size_t len = (size_t)(next - p) - (nl != NULL);
        ps->line++;
        if (nl)
            *nl = '\0';
        if (len > HD_CONFIG_LINE_MAX) {
            fail(ps, "line too long (at most %d characters)", HD_CONFIG_LINE_MAX);
            break;
        }
        if (p[strspn(p, " \t")] == '[')
            ps->section_line = ps->line;
        ini_line(ps, &in, p);
        p = next;
    }
    if (ps->rc == 0 && in.syntax_line) {
        ps->line = in.syntax_line;
        fail(ps, "syntax error (expected [section] or key = value)");
    }
    free(copy);
}

/* ---- providers, once the whole file is read ----------------------------- */

int hd_cfg_secret_read(const char *ref, bool is_env, char **value, size_t *len, char *why, size_t n)
{
    if (is_env) {
        const char *e = getenv(ref);
        if (!e || !*e) {
            snprintf(why, n, "environment variable '%s' is not set", ref);
            return -1;
        }
        *value = hd_xstrdup(e);
        *len = strlen(e);
        return 0;
    }
    struct hd_buf b;
    hd_buf_init(&b);
    if (hd_buf_read_file(&b, ref) < 0) {
        int e = errno;
        hd_wipe(b.data, b.cap);
        hd_buf_release(&b);
        snprintf(why, n, "cannot read '%s': %s", ref, strerror(e));
        return -1;
    }
    while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
        b.data[--b.len] = '\0';
    if (b.len == 0) {
        hd_buf_release(&b);
        snprintf(why, n, "'%s' is empty", ref);
        return -1;
    }
    *value = hd_buf_detach(&b, len);
    return 0;
}

static int load_secret(struct parse *ps, struct hd_provider_cfg *p, const char *name,
                       const struct hd_cfg_kv *kv, bool is_env)
{
    char *value = NULL, why[600];
    size_t len = 0;
    ps->line = kv->line;
    if (!*kv->value)
        return fail(ps, "[provider %s] %s: give a %s", p->name, kv->key,
                    is_env ? "variable name" : "file path");
    if (hd_cfg_secret_read(kv->value, is_env, &value, &len, why, sizeof why) < 0)
        return fail(ps, "[provider %s] %s: %s", p->name, kv->key, why);
    HD_GROW(p->secrets, p->nsecrets);
    p->secrets[p->nsecrets++] = (struct hd_cfg_secret){
        hd_xstrdup(name), hd_xstrdup(kv->key), hd_xstrdup(kv->value), value, len, kv->line};
    return 1;
}

/* Whether a key of ktype is one of type's: "mail" keys are smtp's and
 * outbox's. */
static bool type_has(const char *ktype, const char *type)
{
    return strcmp(ktype, type) == 0 || (strcmp(ktype, "mail") == 0 &&
                                        (strcmp(type, "smtp") == 0 || strcmp(type, "outbox") == 0));
}

static const struct keydef *find_key(const char *type, const char *key)
{
    for (size_t i = 0; i < sizeof provider_keys / sizeof provider_keys[0]; i++)
        if (type_has(provider_keys[i].type, type) && strcmp(provider_keys[i].key, key) == 0)
            return &provider_keys[i];
    return NULL;
}

static void known_keys(const char *type, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof provider_keys / sizeof provider_keys[0]; i++) {
        const struct keydef *k = &provider_keys[i];
        if (!type_has(k->type, type))
            continue;
        int w = snprintf(buf + n, size - n, "%s%s%s", n ? ", " : "", k->key,
                         k->kind == K_SECRET ? "_env|_file" : "");
        if (w < 0 || (size_t)w >= size - n)
            return;
        n += (size_t)w;
    }
}

static int common_key(struct parse *ps, struct hd_provider_cfg *p, const struct hd_cfg_kv *kv)
{
    struct hd_err e;
    const char *k = kv->key, *v = kv->value;
    ps->line = kv->line;
    if (strcmp(k, "type") == 0)
        return 1;
    if (strcmp(k, "rate") == 0) {
        if (hd_units_rate(v, &p->rate, &e) < 0)
            return fail(ps, "[provider %s] rate: %s", p->name, e.msg);
    } else if (strcmp(k, "burst") == 0) {
        if (parse_uint(v, 1, 1000000, &p->burst) < 0)
            return fail(ps, "[provider %s] burst: '%s' is not a number from 1 to 1000000", p->name,
                        v);
    } else if (strcmp(k, "connections") == 0) {
        if (parse_uint(v, 1, 1024, &p->connections) < 0)
            return fail(ps, "[provider %s] connections: '%s' is not a number from 1 to 1024",
                        p->name, v);
    } else if (strcmp(k, "max_attempts") == 0) {
        if (parse_uint(v, 1, 100, &p->max_attempts) < 0)
            return fail(ps, "[provider %s] max_attempts: '%s' is not a number from 1 to 100",
                        p->name, v);
    } else if (strcmp(k, "timeout") == 0 || strcmp(k, "retry_base") == 0 ||
               strcmp(k, "retry_max") == 0) {
        int64_t *f = k[0] == 't' ? &p->timeout : k[6] == 'b' ? &p->retry_base : &p->retry_max;
        if (hd_units_duration(v, f, &e) < 0)
            return fail(ps, "[provider %s] %s: %s", p->name, k, e.msg);
    } else {
        char *end;
        errno = 0;
        p->cost_per_segment = strtod(v, &end);
        if (errno || end == v || *end || p->cost_per_segment < 0)
            return fail(ps, "[provider %s] cost_per_segment: '%s' is not a non-negative number",
                        p->name, v);
    }
    return 1;
}

static bool is_common(const char *key)
{
    for (size_t i = 0; i < sizeof common_keys / sizeof common_keys[0]; i++)
        if (strcmp(key, common_keys[i]) == 0)
            return true;
    return false;
}

/* Sets p->type from the raw keys; it must name a known driver. Like every
 * check below, returns 1, or 0 after fail(). */
static int provider_type(struct parse *ps, struct hd_provider_cfg *p,
                         const struct raw_provider *raw)
{
    for (size_t i = 0; i < raw->nkv; i++)
        if (strcmp(raw->kv[i].key, "type") == 0)
            p->type = hd_xstrdup(raw->kv[i].value);
    ps->line = p->line;
    if (!p->type)
        return fail(ps,
                    "[provider %s] has no 'type' (one of outbox, smtp, twilio, http, fcm, "
                    "apns, aliyun_sms, tencent_sms, jpush, hms_push, wechat, inbox)",
                    p->name);
    size_t t, nt = sizeof provider_types / sizeof provider_types[0];
    for (t = 0; t < nt && strcmp(p->type, provider_types[t]) != 0; t++)
        ;
    if (t == nt) {
        for (size_t i = 0; i < raw->nkv; i++)
            if (strcmp(raw->kv[i].key, "type") == 0)
                ps->line = raw->kv[i].line;
        return fail(ps,
                    "[provider %s] type: '%s' is not one of outbox, smtp, twilio, http, fcm, "
                    "apns, aliyun_sms, tencent_sms, jpush, hms_push, wechat, inbox",
                    p->name, p->type);
    }
    return 1;
}

/* A key the type does not know as written: NAME_env or NAME_file for a
 * secret NAME (loaded), or else an unknown key. */
static int secret_key(struct parse *ps, struct hd_provider_cfg *p, const struct hd_cfg_kv *kv)
{
    size_t n = strlen(kv->key);
    bool env = n > 4 && strcmp(kv->key + n - 4, "_env") == 0;
    bool file = n > 5 && strcmp(kv->key + n - 5, "_file") == 0;
    char base[64];
    snprintf(base, sizeof base, "%.*s", (int)(n - (env ? 4 : file ? 5 : 0)), kv->key);
    const struct keydef *def = (env || file) ? find_key(p->type, base) : NULL;
    if (def && def->kind == K_SECRET) {
        if (hd_provider_secret(p, base))
            return fail(ps, "[provider %s] give either %s_env or %s_file, not both", p->name, base,
                        base);
        return load_secret(ps, p, base, kv, env);
    }
    char known[700];
    known_keys(p->type, known, sizeof known);
    return fail(ps,
                "unknown key '%s' in [provider %s] of type %s (known: %s, and the "
                "common type, rate, burst, connections, timeout, max_attempts, "
                "retry_base, retry_max, cost_per_segment)",
                kv->key, p->name, p->type, known);
}

/* Checks the value of a key the type knows, by its kind. */
static int check_value(struct parse *ps, const struct hd_provider_cfg *p,
                       const struct hd_cfg_kv *kv, const struct keydef *def)
{
    const char *v = kv->value;
    switch (def->kind) {
    case K_URL:
        if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
            return fail(ps, "[provider %s] %s: '%s' is not an http:// or https:// URL", p->name,
                        kv->key, v);
        break;
    case K_ENUM:
        if (!in_choices(v, def->choices))
            return fail(ps, "[provider %s] %s: '%s' is not one of %s", p->name, kv->key, v,
                        def->choices);
        break;
    case K_BOOL:
        if (parse_bool(v) < 0)
            return fail(ps, "[provider %s] %s: '%s' is not yes or no", p->name, kv->key, v);
        break;
    case K_PORT: {
        uint32_t port;
        if (parse_uint(v, 1, 65535, &port) < 0)
            return fail(ps, "[provider %s] %s: '%s' is not a port number", p->name, kv->key, v);
        break;
    }
    default:
        break;
    }
    return 1;
}

/* One key of the provider's section: a common key, a secret by reference,
 * or a key of its type. */
static int provider_key(struct parse *ps, struct hd_provider_cfg *p, const struct hd_cfg_kv *kv)
{
    ps->line = kv->line;
    if (is_common(kv->key))
        return common_key(ps, p, kv);
    const struct keydef *def = find_key(p->type, kv->key);
    if (def && def->kind == K_SECRET)
        return fail(ps,
                    "[provider %s] '%s' must not be written inline: use %s_env (an "
                    "environment variable) or %s_file (a file)",
                    p->name, kv->key, kv->key, kv->key);
    if (!def)
        return secret_key(ps, p, kv);
    if (!check_value(ps, p, kv, def))
        return 0;
    kv_push(&p->kv, &p->nkv, kv->key, kv->value, kv->line);
    return 1;
}

/* Every key the type requires is there. */
static int required_keys(struct parse *ps, const struct hd_provider_cfg *p)
{
    for (size_t i = 0; i < sizeof provider_keys / sizeof provider_keys[0]; i++) {
        const struct keydef *k = &provider_keys[i];
        if (!k->required || !type_has(k->type, p->type))
            continue;
        bool have = k->kind == K_SECRET ? hd_provider_secret(p, k->key) != NULL
                                        : hd_provider_get(p, k->key) != NULL;
        ps->line = p->line;
        if (!have && k->kind == K_SECRET)
            return fail(ps, "[provider %s] of type %s needs '%s_env' or '%s_file'", p->name,
                        p->type, k->key, k->key);
        if (!have)
            return fail(ps, "[provider %s] of type %s needs '%s'", p->name, p->type, k->key);
    }
    return 1;
}

static int check_provider(struct parse *ps, struct hd_provider_cfg *p, struct raw_provider *raw)
{
    if (!provider_type(ps, p, raw))
        return 0;
    for (size_t i = 0; i < raw->nkv; i++)
        if (!provider_key(ps, p, &raw->kv[i]))
            return 0;
    if (!required_keys(ps, p))
        return 0;
    char why[600];
    if (strcmp(p->type, "http") == 0 && hd_cfg_http_receipt(p, &ps->line, why, sizeof why) < 0)
        return fail(ps, "[provider %s] %s", p->name, why);
    if (!p->burst) {
        double per = hd_units_rate_per_sec(&p->rate);
        p->burst = per < 1 ? 1 : per > 1000000 ? 1000000 : (uint32_t)per;
    }
    return 1;
}

/* ---- load --------------------------------------------------------------- */

static void provider_defaults(struct hd_provider_cfg *p)
{
    p->rate = (struct hd_rate){100, 1};
    p->connections = 4;
    p->timeout = 30;
    p->max_attempts = 5;
    p->retry_base = 30;
    p->retry_max = 3600;
}

static struct hd_config *defaults(void)
{
    struct hd_config *cfg = hd_xcalloc(1, sizeof *cfg);
    struct hd_paths where;
    hd_paths_get(&where);
    cfg->database = hd_xstrdup(where.database);
    cfg->templates = hd_xstrdup(where.templates);
    cfg->timezone = hd_xstrdup("UTC");
    cfg->locale = hd_xstrdup("en");
    cfg->log_level = HD_LOG_INFO;
    cfg->busy_timeout = 5;
    cfg->on_cap = HD_ON_CAP_DROP;
    cfg->pause_on_failure_rate = 0.5;
    cfg->failure_window = 100;
    cfg->node_lease = 30;
    cfg->idle_poll = 1;
    cfg->receipts.soft_bounce_limit = 3;
    cfg->receipts.soft_bounce_window = 30 * 86400;
    hd_cfg_serve_defaults(&cfg->serve);
    cfg->sms_optout_zh = hd_xstrdup("回T退订");
    return cfg;
}

/* No [provider] in the file: the outbox serves every channel. */
static void default_outbox(struct hd_config *cfg)
{
    cfg->providers = hd_xcalloc(1, sizeof *cfg->providers);
    struct hd_provider_cfg *p = &cfg->providers[0];
    provider_defaults(p);
    p->name = hd_xstrdup("outbox");
    p->type = hd_xstrdup("outbox");
    p->burst = 100;
    struct hd_paths where;
    hd_paths_get(&where);
    kv_push(&p->kv, &p->nkv, "path", where.outbox, 0);
    cfg->nproviders = 1;
    for (int ch = 0; ch < HD_CH_COUNT; ch++) {
        if (ch == HD_CH_INBOX)
            continue; /* default_inbox's */
        cfg->channels[ch].providers = hd_xcalloc(1, sizeof(char *));
        cfg->channels[ch].providers[0] = hd_xstrdup("outbox");
        cfg->channels[ch].n = 1;
    }
}

/* The inbox is built in: a provider "inbox" of type inbox (nothing to
 * configure: its messages stay in the store) unless the file names a
 * provider "inbox" of its own, and [channel inbox] is that provider unless
 * the file says otherwise. Line 0: a default. */
static void default_inbox(struct hd_config *cfg)
{
    if (!hd_config_provider(cfg, "inbox")) {
        HD_GROW(cfg->providers, cfg->nproviders);
        struct hd_provider_cfg *p = &cfg->providers[cfg->nproviders++];
        memset(p, 0, sizeof *p);
        provider_defaults(p);
        p->name = hd_xstrdup("inbox");
        p->type = hd_xstrdup("inbox");
        p->rate = (struct hd_rate){100000, 1};
        p->burst = 100000;
    }
    if (cfg->channels[HD_CH_INBOX].n > 0)
        return;
    cfg->channels[HD_CH_INBOX].providers = hd_xcalloc(1, sizeof(char *));
    cfg->channels[HD_CH_INBOX].providers[0] = hd_xstrdup("inbox");
    cfg->channels[HD_CH_INBOX].n = 1;
}

/* A Twilio provider without status_callback reports to herald serve's
 * hook when [serve] public_url is set (a built-in default: line 0). */
static void twilio_callbacks(struct hd_config *cfg)
{
    for (size_t i = 0; cfg->serve.public_url && i < cfg->nproviders; i++) {
        struct hd_provider_cfg *p = &cfg->providers[i];
        if (strcmp(p->type, "twilio") != 0 || hd_provider_get(p, "status_callback"))
            continue;
        struct hd_buf url;
        hd_buf_init(&url);
        hd_buf_addf(&url, "%s/hooks/twilio/%s", cfg->serve.public_url, p->name);
        kv_push(&p->kv, &p->nkv, "status_callback", url.data, 0);
        hd_buf_release(&url);
    }
}

/* The bounce rules, read now: a file given and unreadable (or any bad
 * rule) is the configuration's error; when the default file is absent
 * (herald run from another folder than the source tree's), the rules
 * built into herald from it: without any, every 5xx was a hard bounce and
 * suppressed its address (a review suppressed a full mailbox so). */
static void bounce_rules(struct parse *ps)
{
    struct hd_config *cfg = ps->cfg;
    struct hd_paths where;
    struct hd_err e = {0};
    hd_paths_get(&where);
    if (!cfg->receipts.bounce_rules_path)
        cfg->receipts.bounce_rules_path = hd_xstrdup(where.bounce_rules);
    const char *path = cfg->receipts.bounce_rules_path;
    if (!ps->rules_line && access(path, F_OK) != 0) {
        if (hd_bounce_rules_builtin_load(&cfg->receipts.bounce_rules, &e) < 0)
            HD_BUG("%s", e.msg);
        free(cfg->receipts.bounce_rules_path);
        cfg->receipts.bounce_rules_path = NULL; /* the dump says so */
        return;
    }
    if (hd_bounce_rules_load(path, &cfg->receipts.bounce_rules, &e) < 0) {
        ps->line = ps->rules_line;
        fail(ps, "[receipts] bounce_rules: %s", e.msg);
    }
}

int hd_config_parse(const char *text, const char *name, struct hd_config **out, struct hd_err *err)
{
    struct hd_config *cfg = defaults();
    struct parse ps = {.name = name, .cfg = cfg, .err = err};
    size_t n0;
    ini_read(&ps, text);
    char why[300];
    if (ps.rc == 0 && hd_cfg_serve_check(&cfg->serve, why, sizeof why) < 0) {
        ps.line = cfg->serve.tls_line;
        fail(&ps, "%s", why);
    }
    if (ps.rc == 0 && hd_cfg_webhooks_check(cfg, &ps.line, why, sizeof why) < 0)
        fail(&ps, "%s", why);
    n0 = cfg->nproviders;
    for (size_t i = 0; i < n0; i++)
        provider_defaults(&cfg->providers[i]);
    for (size_t i = 0; i < n0 && ps.rc == 0; i++)
        check_provider(&ps, &cfg->providers[i], &ps.raw[i]);
    for (size_t i = 0; i < n0; i++)
        kv_free(ps.raw[i].kv, ps.raw[i].nkv);
    free(ps.raw);
    if (ps.rc == 0)
        twilio_callbacks(cfg);
    if (ps.rc == 0)
        bounce_rules(&ps);
    if (ps.rc == 0 && cfg->nproviders == 0) {
        bool any = false;
        for (int ch = 0; ch < HD_CH_COUNT; ch++)
            any |= cfg->channels[ch].n > 0;
        if (!any)
            default_outbox(cfg);
    }
    if (ps.rc == 0)
        default_inbox(cfg);
    for (int ch = 0; ch < HD_CH_COUNT && ps.rc == 0; ch++) {
        for (size_t i = 0; i < cfg->channels[ch].n && ps.rc == 0; i++) {
            if (!hd_config_provider(cfg, cfg->channels[ch].providers[i])) {
                ps.line = cfg->channels[ch].line;
                fail(&ps, "[channel %s] providers: no [provider %s] is defined",
                     hd_channel_name(ch), cfg->channels[ch].providers[i]);
            }
        }
    }
    if (ps.rc < 0) {
        hd_config_free(cfg);
        return ps.rc;
    }
    *out = cfg;
    return 0;
}

int hd_config_load(const char *path, struct hd_config **out, struct hd_err *err)
{
    if (!path) {
        struct hd_config *cfg = defaults();
        default_outbox(cfg);
        default_inbox(cfg);
        char why[768];
        if (hd_cfg_serve_builtin(&cfg->serve, why, sizeof why) < 0) {
            hd_config_free(cfg);
            return hd_err_set(err, HD_E_CONFIG, "built-in [serve]: %s", why);
        }
        *out = cfg;
        return 0;
    }
    struct hd_buf b;
    hd_buf_init(&b);
    if (hd_buf_read_file(&b, path) < 0) {
        int e = errno;
        hd_buf_release(&b);
        return hd_err_set(err, HD_E_CONFIG, "cannot read configuration '%s': %s", path,
                          strerror(e));
    }
    if (memchr(b.data, '\0', b.len)) {
        hd_buf_release(&b);
        return hd_err_set(err, HD_E_CONFIG,
                          "cannot read configuration '%s': it is not a text "
                          "file",
                          path);
    }
    int rc = hd_config_parse(b.data, path, out, err);
    hd_buf_release(&b);
    if (rc == 0)
        (*out)->path = hd_xstrdup(path);
    return rc;
}

const char *hd_config_find(const char *explicit_path, const char *sysconf_path)
{
    if (explicit_path)
        return explicit_path;
    const char *env = getenv("HERALD_CONFIG");
    if (env && *env)
        return env;
    struct hd_paths where;
    hd_paths_get(&where);
    if (!sysconf_path)
        sysconf_path = where.sysconf;
    FILE *f = where.installed ? NULL : fopen("etc/herald.conf", "r");
    if (f) {
        fclose(f);
        return "etc/herald.conf";
    }
    if (sysconf_path && (f = fopen(sysconf_path, "r")) != NULL) {
        fclose(f);
        return sysconf_path;
    }
    return NULL;
}

void hd_config_free(struct hd_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->database);
    hd_wipe(cfg->database_password.value, cfg->database_password.len);
    free(cfg->database_password.value);
    free(cfg->database_password.name);
    free(cfg->database_password.via);
    free(cfg->database_password.ref);
    free(cfg->templates);
    free(cfg->timezone);
    free(cfg->locale);
    free(cfg->default_region);
    free(cfg->import.map);
    free(cfg->receipts.bounce_rules_path);
    hd_bounce_rules_free(cfg->receipts.bounce_rules);
    for (size_t i = 0; i < cfg->nproviders; i++) {
        struct hd_provider_cfg *p = &cfg->providers[i];
        free(p->name);
        free(p->type);
        kv_free(p->kv, p->nkv);
        for (size_t s = 0; s < p->nsecrets; s++) {
            hd_wipe(p->secrets[s].value, p->secrets[s].len);
            free(p->secrets[s].value);
            free(p->secrets[s].name);
            free(p->secrets[s].via);
            free(p->secrets[s].ref);
        }
        free(p->secrets);
        hd_cfg_http_receipt_free(p->receipt);
    }
    free(cfg->providers);
    for (int ch = 0; ch < HD_CH_COUNT; ch++) {
        for (size_t i = 0; i < cfg->channels[ch].n; i++)
            free(cfg->channels[ch].providers[i]);
        free(cfg->channels[ch].providers);
    }
    free(cfg->caps);
    free(cfg->quiet);
    kv_free(cfg->vars, cfg->nvars);
    hd_cfg_serve_release(&cfg->serve);
    hd_cfg_bounces_release(&cfg->bounces);
    hd_cfg_webhooks_release(cfg);
    free(cfg->sms_optout_zh);
    free(cfg);
}

const struct hd_provider_cfg *hd_config_provider(const struct hd_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nproviders; i++)
        if (strcmp(cfg->providers[i].name, name) == 0)
            return &cfg->providers[i];
    return NULL;
}

const char *hd_provider_get(const struct hd_provider_cfg *p, const char *key)
{
    for (size_t i = 0; i < p->nkv; i++)
        if (strcmp(p->kv[i].key, key) == 0)
            return p->kv[i].value;
    return NULL;
}

bool hd_provider_bool(const struct hd_provider_cfg *p, const char *key, bool dflt)
{
    const char *v = hd_provider_get(p, key);
    return v ? parse_bool(v) == 1 : dflt;
}

const struct hd_cfg_secret *hd_provider_secret(const struct hd_provider_cfg *p, const char *name)
{
    for (size_t i = 0; i < p->nsecrets; i++)
        if (strcmp(p->secrets[i].name, name) == 0)
            return &p->secrets[i];
    return NULL;
}

void hd_config_register_secrets(const struct hd_config *cfg, struct hd_log *log)
{
    for (size_t i = 0; i < cfg->nproviders; i++)
        for (size_t s = 0; s < cfg->providers[i].nsecrets; s++)
            hd_log_add_secret(log, cfg->providers[i].secrets[s].value);
    for (int k = 0; k < HD_SERVE_SECRETS; k++)
        if (cfg->serve.secrets[k].value)
            hd_log_add_secret(log, cfg->serve.secrets[k].value);
    for (size_t i = 0; i < cfg->nwebhooks; i++)
        hd_log_add_secret(log, cfg->webhooks[i].secret.value);
    if (cfg->database_password.value)
        hd_log_add_secret(log, cfg->database_password.value);
}

static void dump_scope(struct hd_buf *out, int cat, int ch)
{
    hd_buf_adds(out, hd_category_name(cat));
    if (ch >= 0)
        hd_buf_addf(out, ".%s", hd_channel_name(ch));
}

/* key = value as the reader reads it back. A value that starts with ';'
 * must follow the '=' without a blank, or it would read as a comment. A
 * value with an inline comment (a ';' after a blank) came from a
 * continuation line, which the reader takes whole, right after a value of
 * the same key (prev): it is written as a continuation again. */
static void dump_kv(struct hd_buf *out, const char *key, const char *v, const char *prev)
{
    if (prev && strcmp(prev, key) == 0 && *find_chars_or_comment((char *)v, NULL))
        hd_buf_addf(out, "    %s\n", v);
    else
        hd_buf_addf(out, *v == ';' ? "%s =%s\n" : "%s = %s\n", key, v);
}

void hd_config_dump(const struct hd_config *cfg, struct hd_buf *out)
{
    char tmp[64];
    hd_buf_addf(out, "; effective configuration, from %s\n",
                cfg->path ? cfg->path : "built-in defaults");
    hd_buf_adds(out, "[herald]\n");
    dump_kv(out, "database", cfg->database, NULL);
    if (cfg->database_password.via)
        hd_buf_addf(out, "%s = %s ; database_password = **** (loaded, %zu bytes)\n",
                    cfg->database_password.via, cfg->database_password.ref,
                    cfg->database_password.len);
    dump_kv(out, "templates", cfg->templates, NULL);
    dump_kv(out, "timezone", cfg->timezone, NULL);
    dump_kv(out, "locale", cfg->locale, NULL);
    if (cfg->default_region)
        dump_kv(out, "default_region", cfg->default_region, NULL);
    else
        hd_buf_adds(out, "; default_region is not set: national phone numbers are rejected\n");
    hd_units_format_duration(cfg->busy_timeout, tmp, sizeof tmp);
    hd_buf_addf(out, "log_level = %s\nbusy_timeout = %s\n", hd_log_level_name(cfg->log_level), tmp);
    hd_buf_addf(out, "\n[log]\njournal = %s\n",
                cfg->log_journal == HD_JOURNAL_YES  ? "yes"
                : cfg->log_journal == HD_JOURNAL_NO ? "no"
                                                    : "auto");
    for (size_t i = 0; i < cfg->nproviders; i++) {
        const struct hd_provider_cfg *p = &cfg->providers[i];
        hd_buf_addf(out, "\n[provider %s]\ntype = %s\n", p->name, p->type);
        hd_units_format_rate(&p->rate, tmp, sizeof tmp);
        hd_buf_addf(out, "rate = %s\nburst = %u\nconnections = %u\n", tmp, p->burst,
                    p->connections);
        hd_units_format_duration(p->timeout, tmp, sizeof tmp);
        hd_buf_addf(out, "timeout = %s\nmax_attempts = %u\n", tmp, p->max_attempts);
        hd_units_format_duration(p->retry_base, tmp, sizeof tmp);
        hd_buf_addf(out, "retry_base = %s\n", tmp);
        hd_units_format_duration(p->retry_max, tmp, sizeof tmp);
        hd_buf_addf(out, "retry_max = %s\ncost_per_segment = %g\n", tmp, p->cost_per_segment);
        for (size_t k = 0; k < p->nkv; k++)
            dump_kv(out, p->kv[k].key, p->kv[k].value, k ? p->kv[k - 1].key : NULL);
        for (size_t s = 0; s < p->nsecrets; s++)
            hd_buf_addf(out, "%s = %s ; %s = **** (loaded, %zu bytes)\n", p->secrets[s].via,
                        p->secrets[s].ref, p->secrets[s].name, p->secrets[s].len);
    }
    for (int ch = 0; ch < HD_CH_COUNT; ch++) {
        hd_buf_addf(out, "\n[channel %s]\n", hd_channel_name(ch));
        if (cfg->channels[ch].n == 0) {
            hd_buf_addf(out, "; no provider: %s messages end as no_channel\n", hd_channel_name(ch));
            continue;
        }
        hd_buf_adds(out, "providers = ");
        for (size_t i = 0; i < cfg->channels[ch].n; i++)
            hd_buf_addf(out, "%s%s", i ? ", " : "", cfg->channels[ch].providers[i]);
        hd_buf_addc(out, '\n');
    }
    hd_buf_addf(out, "\n[caps]\non_cap = %s\n", cfg->on_cap == HD_ON_CAP_DEFER ? "defer" : "drop");
    for (size_t i = 0; i < cfg->ncaps; i++) {
        dump_scope(out, cfg->caps[i].category, cfg->caps[i].channel);
        hd_units_format_duration(cfg->caps[i].cap.window, tmp, sizeof tmp);
        hd_buf_addf(out, " = %u/%s\n", cfg->caps[i].cap.count, tmp);
    }
    hd_buf_adds(out, "\n[quiet_hours]\n");
    for (size_t i = 0; i < cfg->nquiet; i++) {
        const struct hd_window *w = &cfg->quiet[i].window;
        dump_scope(out, cfg->quiet[i].category, cfg->quiet[i].channel);
        hd_buf_addf(out, " = %02d:%02d-%02d:%02d\n", w->start / 60, w->start % 60, w->end / 60,
                    w->end % 60);
    }
    hd_buf_addf(out, "\n[dispatch]\npause_on_failure_rate = %g\nfailure_window = %u\n",
                cfg->pause_on_failure_rate, cfg->failure_window);
    char lease[32];
    hd_units_format_duration(cfg->node_lease, lease, sizeof lease);
    hd_buf_addf(out, "node_lease = %s\n", lease);
    hd_units_format_duration(cfg->idle_poll, lease, sizeof lease);
    hd_buf_addf(out, "poll = %s\n", lease);
    char win[32];
    hd_units_format_duration(cfg->receipts.soft_bounce_window, win, sizeof win);
    hd_buf_addf(out, "\n[receipts]\nsoft_bounce_limit = %u\nsoft_bounce_window = %s\n",
                cfg->receipts.soft_bounce_limit, win);
    if (cfg->receipts.bounce_rules_path)
        hd_buf_addf(out, "bounce_rules = %s\n", cfg->receipts.bounce_rules_path);
    else
        hd_buf_adds(out, "; bounce_rules: no file where herald looks; the rules built into it "
                         "(etc/bounce-rules.tsv's) are used\n");
    hd_buf_adds(out, "\n[template_vars]\n");
    for (size_t i = 0; i < cfg->nvars; i++)
        dump_kv(out, cfg->vars[i].key, cfg->vars[i].value, NULL);
    if (cfg->import.map)
        hd_buf_addf(out, "\n[import]\nmap = %s\n", cfg->import.map);
    hd_cfg_serve_dump(&cfg->serve, out);
    hd_buf_addf(out, "\n[lint]\nsms_optout_zh = %s\n", cfg->sms_optout_zh);
    hd_cfg_webhooks_dump(cfg, out);
}
