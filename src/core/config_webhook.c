/* config_webhook: the [webhook NAME] sections (issue 20), where herald
 * posts signed batches of events: url (http or https), events (a comma
 * list of sent, delivered, bounced, complained, unsubscribed, opened,
 * failed; all when not given), the signing secret by reference like every
 * secret (secret_env or secret_file, read as the file is read and wiped
 * when the configuration is freed), batch (events per request), max_age
 * (how long an event is tried before it expires), timeout, and the
 * backoff's retry_base and retry_max. A section is added on its first key
 * and checked whole once the file is read (url and secret required). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "herald/buf.h"
#include "herald/units.h"

static const char *const event_names[HD_WH_COUNT + 1] = {
    "sent", "delivered", "bounced", "complained", "unsubscribed", "opened", "failed", "test"};

const char *hd_webhook_event_name(int type)
{
    return type >= 0 && type <= HD_WH_COUNT ? event_names[type] : "?";
}

int hd_webhook_event_parse(const char *s)
{
    for (int i = 0; i < HD_WH_COUNT; i++)
        if (strcmp(s, event_names[i]) == 0)
            return i;
    return -1;
}

static const char *const keys[] = {"url",     "events",  "secret_env", "secret_file", "batch",
                                   "max_age", "timeout", "retry_base", "retry_max",   NULL};

static bool valid_name(const char *s)
{
    if (!*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return false;
    return true;
}

static struct hd_webhook_cfg *find_or_add(struct hd_config *cfg, const char *name, int line)
{
    for (size_t i = 0; i < cfg->nwebhooks; i++)
        if (strcmp(cfg->webhooks[i].name, name) == 0)
            return &cfg->webhooks[i];
    HD_GROW(cfg->webhooks, cfg->nwebhooks);
    struct hd_webhook_cfg *w = &cfg->webhooks[cfg->nwebhooks++];
    *w = (struct hd_webhook_cfg){.name = hd_xstrdup(name),
                                 .events = (1u << HD_WH_COUNT) - 1,
                                 .batch = 100,
                                 .max_age = 3 * 86400,
                                 .timeout = 10,
                                 .retry_base = 10,
                                 .retry_max = 600,
                                 .line = line};
    return w;
}

void hd_cfg_webhook_url_shown(const char *url, char *out, size_t size)
{
    const char *host = strstr(url, "://");
    if (!host) { /* no scheme: not a URL herald takes; nothing of it shown */
        snprintf(out, size, "%s", *url ? "..." : "");
        return;
    }
    size_t scheme = (size_t)(host + 3 - url), auth = strcspn(host + 3, "/?#");
    const char *h = host + 3;
    for (size_t i = 0; i < auth; i++) /* past the last '@' */
        if (host[3 + i] == '@')
            h = host + 4 + i;
    size_t hn = auth - (size_t)(h - (host + 3));
    const char *rest = h + hn;
    snprintf(out, size, "%.*s%.*s%s", (int)scheme, url, (int)hn, h,
             !*rest ? "" : strcmp(rest, "/") == 0 ? "/" : "/...");
}

/* A URL herald may put on a request line: http(s), no blank or control byte. */
static int check_url(const char *v, char *why, size_t n)
{
    if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0) {
        char shown[256];
        hd_cfg_webhook_url_shown(v, shown, sizeof shown);
        snprintf(why, n, "url: '%s' is not an http:// or https:// URL", shown);
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= ' ' || *p == 0x7f) {
            snprintf(why, n, "url: a URL has no blanks or control characters");
            return -1;
        }
    return 0;
}

static int parse_events(const char *v, unsigned *out, char *why, size_t n)
{
    char word[32];
    unsigned set = 0;
    for (const char *p = v; *p;) {
        size_t len = strcspn(p, ", \t");
        if (len && len < sizeof word) {
            memcpy(word, p, len);
            word[len] = '\0';
            int t = hd_webhook_event_parse(word);
            if (t < 0) {
                snprintf(why, n,
                         "events: unknown event '%s' (known: sent, delivered, bounced, "
                         "complained, unsubscribed, opened, failed)",
                         word);
                return -1;
            }
            set |= 1u << t;
        } else if (len) {
            snprintf(why, n, "events: unknown event '%.*s'", (int)len, p);
            return -1;
        }
        p += len;
        p += strspn(p, ", \t");
    }
    if (!set) {
        snprintf(why, n, "events: give at least one event (sent, delivered, ...)");
        return -1;
    }
    *out = set;
    return 0;
}

static void secret_release(struct hd_cfg_secret *s)
{
    if (s->value)
        hd_wipe(s->value, s->len);
    free(s->value);
    free(s->name);
    free(s->via);
    free(s->ref);
    memset(s, 0, sizeof *s);
}

static int set_secret(struct hd_webhook_cfg *w, const char *key, const char *v, int line, char *why,
                      size_t n)
{
    char *value = NULL, reason[300];
    size_t len = 0;
    if (!*v) {
        snprintf(why, n, "%s: give a %s", key, key[7] == 'e' ? "variable name" : "file path");
        return -1;
    }
    if (w->secret.value) {
        snprintf(why, n, "%s: the secret is given twice (secret_env or secret_file, not both)",
                 key);
        return -1;
    }
    if (hd_cfg_secret_read(v, key[7] == 'e', &value, &len, reason, sizeof reason) < 0) {
        snprintf(why, n, "%s: %s", key, reason);
        return -1;
    }
    w->secret = (struct hd_cfg_secret){
        hd_xstrdup("secret"), hd_xstrdup(key), hd_xstrdup(v), value, len, line};
    return 0;
}

static int duration(const char *key, const char *v, int64_t min, int64_t *out, char *why, size_t n)
{
    if (hd_units_duration(v, out, NULL) < 0 || *out < min) {
        snprintf(why, n, "%s: '%.100s' is not a duration of at least %llds (90s, 5m, 3d)", key, v,
                 (long long)min);
        return -1;
    }
    return 0;
}

static int set_key(struct hd_webhook_cfg *w, int k, const char *v, int line, char *why, size_t n)
{
    const char *key = keys[k];
    switch (k) {
    case 0:
        if (check_url(v, why, n) < 0)
            return -1;
        free(w->url);
        w->url = hd_xstrdup(v);
        return 0;
    case 1:
        return parse_events(v, &w->events, why, n);
    case 2:
    case 3:
        return set_secret(w, key, v, line, why, n);
    case 4: {
        char *end;
        long b = strtol(v, &end, 10);
        if (end == v || *end || b < 1 || b > 10000) {
            snprintf(why, n, "batch: '%.100s' is not a number of events from 1 to 10000", v);
            return -1;
        }
        w->batch = (uint32_t)b;
        return 0;
    }
    case 5:
        return duration(key, v, 60, &w->max_age, why, n);
    case 6:
        return duration(key, v, 1, &w->timeout, why, n);
    case 7:
        return duration(key, v, 1, &w->retry_base, why, n);
    default:
        return duration(key, v, 1, &w->retry_max, why, n);
    }
}

int hd_cfg_webhook_key(struct hd_config *cfg, const char *name, const char *key, const char *v,
                       int section_line, char *why, size_t n)
{
    if (!valid_name(name)) {
        snprintf(why, n,
                 "webhook name '%.100s' may use only letters, digits, '_', '-' and '.' (up to 64)",
                 name);
        return -1;
    }
    int k;
    for (k = 0; keys[k] && strcmp(keys[k], key) != 0; k++)
        ;
    if (!keys[k]) {
        snprintf(why, n,
                 "unknown key '%.100s' in [webhook %s] (known: url, events, secret_env, "
                 "secret_file, batch, max_age, timeout, retry_base, retry_max)",
                 key, name);
        return -1;
    }
    struct hd_webhook_cfg *w = find_or_add(cfg, name, section_line);
    if (w->seen & (1u << k)) {
        snprintf(why, n, "duplicate key '%s' in [webhook %s]", key, name);
        return -1;
    }
    w->seen |= 1u << k;
    return set_key(w, k, v, section_line, why, n);
}

int hd_cfg_webhooks_check(const struct hd_config *cfg, int *line, char *why, size_t n)
{
    for (size_t i = 0; i < cfg->nwebhooks; i++) {
        const struct hd_webhook_cfg *w = &cfg->webhooks[i];
        const char *missing = !w->url            ? "url"
                              : !w->secret.value ? "secret_env or secret_file"
                                                 : NULL;
        *line = w->line;
        if (missing) {
            snprintf(why, n, "[webhook %s] needs %s", w->name, missing);
            return -1;
        }
        if (w->retry_max < w->retry_base) {
            snprintf(why, n, "[webhook %s] retry_max is shorter than retry_base", w->name);
            return -1;
        }
    }
    return 0;
}

const struct hd_webhook_cfg *hd_config_webhook(const struct hd_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nwebhooks; i++)
        if (strcmp(cfg->webhooks[i].name, name) == 0)
            return &cfg->webhooks[i];
    return NULL;
}

void hd_cfg_webhooks_release(struct hd_config *cfg)
{
    for (size_t i = 0; i < cfg->nwebhooks; i++) {
        free(cfg->webhooks[i].name);
        free(cfg->webhooks[i].url);
        secret_release(&cfg->webhooks[i].secret);
    }
    free(cfg->webhooks);
    cfg->webhooks = NULL;
    cfg->nwebhooks = 0;
}

void hd_cfg_webhooks_dump(const struct hd_config *cfg, struct hd_buf *out)
{
    char a[32], b[32], c[32], d[32];
    for (size_t i = 0; i < cfg->nwebhooks; i++) {
        const struct hd_webhook_cfg *w = &cfg->webhooks[i];
        char url[300];
        hd_cfg_webhook_url_shown(w->url, url, sizeof url);
        hd_buf_addf(out, "\n[webhook %s]\nurl = %s%s\nevents = ", w->name, url,
                    strcmp(url, w->url) ? " ; shown cut: its path, query or password may be secret"
                                        : "");
        for (int t = 0, first = 1; t < HD_WH_COUNT; t++)
            if (w->events & (1u << t)) {
                hd_buf_addf(out, "%s%s", first ? "" : ", ", event_names[t]);
                first = 0;
            }
        hd_units_format_duration(w->max_age, a, sizeof a);
        hd_units_format_duration(w->timeout, b, sizeof b);
        hd_units_format_duration(w->retry_base, c, sizeof c);
        hd_units_format_duration(w->retry_max, d, sizeof d);
        hd_buf_addf(out,
                    "\nbatch = %u\nmax_age = %s\ntimeout = %s\nretry_base = %s\nretry_max = %s\n"
                    "%s = %s ; secret = **** (loaded, %zu bytes)\n",
                    w->batch, a, b, c, d, w->secret.via, w->secret.ref, w->secret.len);
    }
}
