/* config_serve: the [serve] section, the HTTP service's keys (listen,
 * public_url, the signing secret and the previous one, body_limit,
 * connection_limit, timeout, unsubscribe_valid, unsubscribe_mailto, the
 * TLS certificate and key files, the web origins whose pages may read the
 * in-app inbox). Each key is checked as it is read, and
 * the one pair that depends on each other (tls_cert_file, tls_key_file)
 * once the file is read; the secrets are
 * loaded at once, by reference only (secret_env / secret_file), like a
 * provider's. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_int.h"
#include "herald/token.h"
#include "herald/valid.h"

/* the secrets are 2 to 2 + HD_SERVE_SECRETS - 1, in the order of secrets[] */
static const char *const keys[] = {"listen",
                                   "public_url",
                                   "secret",
                                   "previous_secret",
                                   "metrics_token",
                                   "body_limit",
                                   "connection_limit",
                                   "timeout",
                                   "unsubscribe_valid",
                                   "metrics_allow",
                                   "unsubscribe_mailto",
                                   "tls_cert_file",
                                   "tls_key_file",
                                   "inbox_origins",
                                   "console_session",
                                   "trusted_proxies",
                                   "connections_per_client"};
#define NKEYS (sizeof keys / sizeof keys[0])

void hd_cfg_serve_defaults(struct hd_serve_cfg *s)
{
    memset(s, 0, sizeof *s);
    s->listen = hd_xstrdup("127.0.0.1:8025");
    s->body_limit = 1 << 20;
    s->connection_limit = 256;
    s->connections_per_client = 32;
    s->timeout = 30;
    s->unsubscribe_valid = 400 * 86400;
    s->console_session = 12 * 3600;
    char why[16];
    if (hd_cidr_list_parse("127.0.0.1/32 ::1/128", &s->metrics_allow, &s->nmetrics_allow, why,
                           sizeof why) < 0 ||
        hd_cidr_list_parse("127.0.0.1/32 ::1/128", &s->trusted_proxies, &s->ntrusted_proxies, why,
                           sizeof why) < 0)
        HD_BUG("the default address ranges: %s", why);
}

static int bad(char *why, size_t n, const char *fmt, const char *key, const char *v)
{
    snprintf(why, n, fmt, key, v);
    return -1;
}

/* HOST:PORT, HOST an address or a name, [IPv6]:PORT. */
static int check_listen(const char *v)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v || !colon[1] || strlen(colon + 1) > 5)
        return -1;
    for (const char *p = colon + 1; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    long port = strtol(colon + 1, NULL, 10);
    if (port < 1 || port > 65535)
        return -1;
    if (v[0] == '[' && colon[-1] != ']')
        return -1;
    for (const char *p = v; p < colon; p++)
        if (isspace((unsigned char)*p) || *p == '/')
            return -1;
    return 0;
}

bool hd_cfg_listen_ok(const char *v, bool any_port)
{
    const char *colon = strrchr(v, ':');
    if (any_port && colon && strcmp(colon + 1, "0") == 0) { /* the kernel's pick */
        char with[300];
        snprintf(with, sizeof with, "%.*s:1", (int)(colon - v), v);
        return hd_cfg_listen_ok(with, false);
    }
    return check_listen(v) == 0;
}

static int check_url(struct hd_serve_cfg *s, const char *v)
{
    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        return -1;
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '>' || *p == '<' || *p == '"' || *p == '?' ||
            *p == '#' || (unsigned char)*p >= 0x7f)
            return -1;
    size_t n = strlen(v);
    while (n > 8 && v[n - 1] == '/')
        n--;
    if (n > HD_PUBLIC_URL_MAX)
        return -1;
    free(s->public_url);
    s->public_url = hd_xstrndup(v, n);
    return 0;
}

/* An address for List-Unsubscribe's mailto: URI: a valid email whose
 * local part is ASCII (the header is ASCII; the domain becomes its
 * A-label) and holds nothing a mailto: URI would need to escape. */
static int check_mailto(struct hd_serve_cfg *s, const char *v, char *why, size_t n)
{
    char wire[320];
    bool utf8_local = false;
    struct hd_valid *val = hd_valid_new();
    int rc = hd_valid_email_ascii(val, v, wire, sizeof wire, &utf8_local);
    hd_valid_free(val);
    if (rc < 0) {
        snprintf(why, n, "unsubscribe_mailto: '%s' is not an email address: %s", v, wire);
        return -1;
    }
    if (utf8_local || strcspn(wire, "?#%&,<>\"\\[] ") != strlen(wire))
        return bad(why, n,
                   "%s: '%s' has a character a mailto: link would have to escape (give a plain "
                   "ASCII address such as unsubscribe@example.com)",
                   "unsubscribe_mailto", v);
    free(s->unsubscribe_mailto);
    s->unsubscribe_mailto = hd_xstrdup(wire);
    return 0;
}

/* A byte count: digits, optionally followed by k or M (binary). */
static int parse_size(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*v))
        return -1;
    long long x = strtoll(v, &end, 10);
    int64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1024 * 1024, end++;
    if (errno || *end || x < 1 || x > (1LL << 30) / mul)
        return -1;
    *out = x * mul;
    return 0;
}

static int secret_key(struct hd_serve_cfg *s, int which, const char *key, const char *v, int line,
                      bool env, char *why, size_t n)
{
    struct hd_cfg_secret *sec = &s->secrets[which];
    char reason[600];
    if (sec->via)
        return bad(why, n, "give either %s_env or %s_file, not both", keys[2 + which],
                   keys[2 + which]);
    if (!*v)
        return bad(why, n, "%s: give a %s", key, env ? "variable name" : "file path");
    /* a secret file not made yet is no error until something signs or
     * checks a link: `herald init` makes it */
    bool missing = !env && access(v, F_OK) < 0 && errno == ENOENT;
    if (!missing && hd_cfg_secret_read(v, env, &sec->value, &sec->len, reason, sizeof reason) < 0) {
        snprintf(why, n, "%s: %s", key, reason);
        return -1;
    }
    sec->name = hd_xstrdup(keys[2 + which]);
    sec->via = hd_xstrdup(key);
    sec->ref = hd_xstrdup(v);
    sec->line = line;
    return 0;
}

/* inbox_origins: web origins (scheme://host[:port], no path), separated by
 * spaces or commas, kept one space apart; "none" is none. */
static int check_origins(struct hd_serve_cfg *s, const char *key, const char *v, char *why,
                         size_t n)
{
    struct hd_buf b;
    hd_buf_init(&b);
    for (const char *p = v; *p;) {
        size_t len = strcspn(p, " ,");
        char one[300];
        snprintf(one, sizeof one, "%.*s", (int)(len < 299 ? len : 299), p);
        bool http = strncmp(one, "http://", 7) == 0, https = strncmp(one, "https://", 8) == 0;
        const char *host = one + (https ? 8 : 7);
        if (len && !(len == 4 && strncmp(p, "none", 4) == 0) &&
            (len > 256 || !(http || https) || !*host ||
             strcspn(host, "/?#\"<>' ") != strlen(host))) {
            hd_buf_release(&b);
            return bad(why, n, "%s: '%s' is not an origin such as https://app.example.com", key,
                       one);
        }
        if (len && !(len == 4 && strncmp(p, "none", 4) == 0))
            hd_buf_addf(&b, "%s%s", b.len ? " " : "", one);
        p += len;
        p += strspn(p, " ,");
    }
    free(s->inbox_origins);
    s->inbox_origins = b.len ? hd_buf_detach(&b, NULL) : NULL;
    hd_buf_release(&b);
    return 0;
}

bool hd_cfg_serve_origin_ok(const struct hd_serve_cfg *s, const char *origin)
{
    size_t n = origin ? strlen(origin) : 0;
    for (const char *p = s->inbox_origins; n && p && *p;) {
        size_t len = strcspn(p, " ");
        if (len == n && memcmp(p, origin, n) == 0)
            return true;
        p += len + (p[len] == ' ');
    }
    return false;
}

static int one_key(struct hd_serve_cfg *s, size_t i, const char *key, const char *v, char *why,
                   size_t n)
{
    struct hd_err e = {0};
    switch (i) {
    case 0:
        if (check_listen(v) < 0)
            return bad(why, n, "%s: '%s' is not ADDRESS:PORT (e.g. 127.0.0.1:8025)", key, v);
        free(s->listen);
        s->listen = hd_xstrdup(v);
        return 0;
    case 10:
        return check_mailto(s, v, why, n);
    case 13:
        return check_origins(s, key, v, why, n);
    case 9:
    case 15: {
        char reason[200];
        struct hd_cidr **c = i == 9 ? &s->metrics_allow : &s->trusted_proxies;
        free(*c);
        *c = NULL;
        if (hd_cidr_list_parse(v, c, i == 9 ? &s->nmetrics_allow : &s->ntrusted_proxies, reason,
                               sizeof reason) < 0)
            return bad(why, n, "%s: %s (give CIDRs such as 127.0.0.1/32 ::1/128, or none)", key,
                       reason);
        return 0;
    }
    case 11:
    case 12: {
        char **f = i == 11 ? &s->tls_cert_file : &s->tls_key_file;
        if (!*v)
            return bad(why, n, "%s: give a file path%s", key, "");
        *f = hd_xstrdup(v);
        return 0;
    }
    case 1:
        if (check_url(s, v) < 0)
            return bad(why, n,
                       "%s: '%s' is not an http:// or https:// URL of at most 200 bytes without "
                       "spaces, query or fragment",
                       key, v);
        return 0;
    case 5:
        if (parse_size(v, &s->body_limit) < 0)
            return bad(why, n, "%s: '%s' is not a size from 1 to 1G bytes (e.g. 1M, 64k)", key, v);
        return 0;
    case 6:
    case 16: {
        char *end = NULL;
        errno = 0;
        unsigned long x = isdigit((unsigned char)*v) ? strtoul(v, &end, 10) : 0;
        if ((!x && i == 6) || !end || errno || *end || x > 65536)
            return bad(why, n,
                       i == 6 ? "%s: '%s' is not a number from 1 to 65536"
                              : "%s: '%s' is not a number from 0 (no limit) to 65536",
                       key, v);
        *(i == 6 ? &s->connection_limit : &s->connections_per_client) = (uint32_t)x;
        return 0;
    }
    default: {
        int64_t *f = i == 7 ? &s->timeout : i == 14 ? &s->console_session : &s->unsubscribe_valid;
        if (hd_units_duration(v, f, &e) < 0 || *f <= 0) {
            snprintf(why, n, "%s: %s", key, e.code ? e.msg : "must be longer than 0s");
            return -1;
        }
        return 0;
    }
    }
}

int hd_cfg_serve_key(struct hd_serve_cfg *s, const char *key, const char *v, int line, char *why,
                     size_t n)
{
    size_t len = strlen(key), i;
    bool env = len > 4 && strcmp(key + len - 4, "_env") == 0;
    bool file = len > 5 && strcmp(key + len - 5, "_file") == 0;
    char base[64];
    snprintf(base, sizeof base, "%.*s", (int)(len - (env ? 4 : file ? 5 : 0)), key);
    /* a key ending in _file is a secret's, or one of the TLS files */
    for (i = 0; i < NKEYS && strcmp(key, keys[i]) != 0; i++)
        ;
    if (i == NKEYS || i < 2 + HD_SERVE_SECRETS)
        for (i = 0; i < NKEYS && strcmp(base, keys[i]) != 0; i++)
            ;
    else
        env = file = false;
    bool secret = i >= 2 && i < 2 + HD_SERVE_SECRETS;
    if (i == NKEYS || secret != (env || file))
        return bad(why, n,
                   "unknown key '%s' in [serve] (known: listen, public_url, secret_env|_file, "
                   "previous_secret_env|_file, metrics_token_env|_file, body_limit, "
                   "connection_limit, timeout, unsubscribe_valid, unsubscribe_mailto, "
                   "metrics_allow, tls_cert_file, tls_key_file, inbox_origins, console_session, "
                   "trusted_proxies, connections_per_client%s)",
                   key, secret ? "; a secret is never written inline" : "");
    if (secret)
        return secret_key(s, (int)i - 2, key, v, line, env, why, n);
    if (s->seen & (1u << i))
        return bad(why, n, "duplicate key '%s' in [serve]%s", key, "");
    s->seen |= 1u << i;
    if ((i == 10 || i == 11) && !s->tls_line)
        s->tls_line = line;
    return one_key(s, i, key, v, why, n);
}

int hd_cfg_serve_check(const struct hd_serve_cfg *s, char *why, size_t n)
{
    if (!s->tls_cert_file != !s->tls_key_file)
        return bad(why, n, "[serve] %s is set without %s: give both, or neither for plain HTTP",
                   s->tls_cert_file ? "tls_cert_file" : "tls_key_file",
                   s->tls_cert_file ? "tls_key_file" : "tls_cert_file");
    return 0;
}

int hd_cfg_serve_builtin(struct hd_serve_cfg *s, char *why, size_t n)
{
    if (hd_cfg_serve_key(s, "public_url", "http://127.0.0.1:8025", 0, why, n) < 0)
        return -1;
    struct hd_paths where;
    hd_paths_get(&where);
    return hd_cfg_serve_key(s, "secret_file", where.secret, 0, why, n);
}

void hd_cfg_serve_release(struct hd_serve_cfg *s)
{
    free(s->listen);
    free(s->public_url);
    free(s->unsubscribe_mailto);
    free(s->metrics_allow);
    free(s->trusted_proxies);
    free(s->tls_cert_file);
    free(s->tls_key_file);
    free(s->inbox_origins);
    for (int k = 0; k < HD_SERVE_SECRETS; k++) {
        struct hd_cfg_secret *sec = &s->secrets[k];
        if (sec->value)
            hd_wipe(sec->value, sec->len);
        free(sec->value);
        free(sec->name);
        free(sec->via);
        free(sec->ref);
    }
    memset(s, 0, sizeof *s);
}

static void dump_cidrs(struct hd_buf *out, const char *key, const struct hd_cidr *c, size_t n)
{
    hd_buf_addf(out, "%s =%s", key, n ? "" : " none");
    for (size_t i = 0; i < n; i++) {
        char a[64];
        hd_cidr_format(&c[i], a, sizeof a);
        hd_buf_addf(out, " %s", a);
    }
    hd_buf_adds(out, "\n");
}

void hd_cfg_serve_dump(const struct hd_serve_cfg *s, struct hd_buf *out)
{
    char t[64];
    hd_buf_addf(out, "\n[serve]\nlisten = %s\n", s->listen);
    if (s->public_url)
        hd_buf_addf(out, "public_url = %s\n", s->public_url);
    else
        hd_buf_adds(out, "; public_url is not set: messages carry no unsubscribe link\n");
    for (int k = 0; k < HD_SERVE_SECRETS; k++)
        if (s->secrets[k].value)
            hd_buf_addf(out, "%s = %s ; %s = **** (loaded, %zu bytes)\n", s->secrets[k].via,
                        s->secrets[k].ref, s->secrets[k].name, s->secrets[k].len);
        else if (s->secrets[k].via)
            hd_buf_addf(out, "%s = %s ; the file does not exist yet: herald init makes it\n",
                        s->secrets[k].via, s->secrets[k].ref);
    hd_buf_addf(out, "body_limit = %lld\nconnection_limit = %u\nconnections_per_client = %u\n",
                (long long)s->body_limit, s->connection_limit, s->connections_per_client);
    hd_units_format_duration(s->timeout, t, sizeof t);
    hd_buf_addf(out, "timeout = %s\n", t);
    hd_units_format_duration(s->unsubscribe_valid, t, sizeof t);
    hd_buf_addf(out, "unsubscribe_valid = %s\n", t);
    if (s->unsubscribe_mailto)
        hd_buf_addf(out, "unsubscribe_mailto = %s\n", s->unsubscribe_mailto);
    dump_cidrs(out, "metrics_allow", s->metrics_allow, s->nmetrics_allow);
    dump_cidrs(out, "trusted_proxies", s->trusted_proxies, s->ntrusted_proxies);
    if (s->tls_cert_file)
        hd_buf_addf(out, "tls_cert_file = %s\ntls_key_file = %s\n", s->tls_cert_file,
                    s->tls_key_file);
    if (s->inbox_origins)
        hd_buf_addf(out, "inbox_origins = %s\n", s->inbox_origins);
    hd_units_format_duration(s->console_session, t, sizeof t);
    hd_buf_addf(out, "console_session = %s\n", t);
}
