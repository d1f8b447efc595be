/* config_receipt: an http provider's receipt_* keys (issue 19), which
 * describe the delivery reports its gateway posts to herald serve
 * (serve/hooks_http.c): the body's format (json or form), where the
 * report's fields are (RFC 6901 pointers for json, field names for a
 * form: the gateway's id, herald's echoed ref, the status, the code and
 * the reason), the status words in herald's outcomes
 * (receipt_status_map = DELIVRD:delivered,UNDELIV:undelivered), and the
 * signature: hex (or base64) HMAC-SHA256 with receipt_secret (by _env or
 * _file, like every secret) over the timestamp header, ".", and the raw
 * body, within receipt_tolerance of now. The keys are checked here once,
 * each error naming its own line, and kept parsed on the provider; a
 * provider with receipt keys but no secret is an error, since herald takes
 * no unsigned reports. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "herald/json.h"

static const char *const outcome_names[HD_HTTP_COUNT] = {
    "sent", "delivered", "undelivered", "failed", "invalid", "bounced", "complained"};

const char *hd_http_outcome_name(int o)
{
    return o >= 0 && o < HD_HTTP_COUNT ? outcome_names[o] : NULL;
}

int hd_http_receipt_outcome(const struct hd_http_receipt *r, const char *word)
{
    for (size_t i = 0; r && word && i < r->nmap; i++)
        if (strcmp(r->map[i].word, word) == 0)
            return r->map[i].outcome;
    for (int o = 0; r && word && !r->nmap && o < HD_HTTP_COUNT; o++)
        if (strcmp(outcome_names[o], word) == 0)
            return o; /* no map: herald's own words */
    return -1;
}

void hd_cfg_http_receipt_free(struct hd_http_receipt *r)
{
    if (!r)
        return;
    free(r->id);
    free(r->ref);
    free(r->status);
    free(r->code);
    free(r->reason);
    free(r->sig_header);
    free(r->ts_header);
    for (size_t i = 0; i < r->nmap; i++)
        free(r->map[i].word);
    free(r->map);
    free(r);
}

/* The line of p's key (0 when absent). */
static int line_of(const struct hd_provider_cfg *p, const char *key)
{
    for (size_t i = 0; i < p->nkv; i++)
        if (strcmp(p->kv[i].key, key) == 0)
            return p->kv[i].line;
    return 0;
}

/* A field's place: a pointer (json) or a name (form), copied into *out. */
static int field(const struct hd_provider_cfg *p, bool form, const char *key, char **out, int *line,
                 char *why, size_t n)
{
    const char *v = hd_provider_get(p, key);
    char reason[400];
    if (!v)
        return 0;
    *line = line_of(p, key);
    if (!form && (!*v || hd_json_pointer_check(v, reason, sizeof reason) < 0)) {
        snprintf(why, n, "%s: %s", key, *v ? reason : "'' names the whole body, not a field");
        return -1;
    }
    if (form && !*v) {
        snprintf(why, n, "%s: give the form field's name", key);
        return -1;
    }
    *out = hd_xstrdup(v);
    return 0;
}

static int header_name(const struct hd_provider_cfg *p, const char *key, const char *dflt,
                       char **out, int *line, char *why, size_t n)
{
    const char *v = hd_provider_get(p, key);
    bool ok = !v || *v;
    for (const char *c = v; ok && c && *c; c++)
        ok = isalnum((unsigned char)*c) || strchr("!#$%&'*+-.^_`|~", *c);
    if (!ok) {
        *line = line_of(p, key);
        snprintf(why, n, "%s: '%s' is not a header name", key, v);
        return -1;
    }
    *out = hd_xstrdup(v ? v : dflt);
    return 0;
}

/* receipt_status_map: WORD:OUTCOME, separated by commas. */
static int status_map(struct hd_http_receipt *r, const char *v, char *why, size_t n)
{
    const char *p = v;
    while (*p) {
        size_t len = strcspn(p, ","), w;
        char item[200];
        snprintf(item, sizeof item, "%.*s", (int)(len < sizeof item ? len : sizeof item - 1), p);
        p += len + (p[len] == ',');
        char *colon = strrchr(item, ':'), *word = item, *out = colon ? colon + 1 : NULL;
        if (colon)
            *colon = '\0';
        while (*word == ' ')
            word++;
        for (w = strlen(word); w && word[w - 1] == ' '; w--)
            word[w - 1] = '\0';
        while (out && *out == ' ')
            out++;
        for (w = out ? strlen(out) : 0; w && out[w - 1] == ' '; w--)
            out[w - 1] = '\0';
        int o = 0;
        while (out && o < HD_HTTP_COUNT && strcmp(out, outcome_names[o]) != 0)
            o++;
        if (!colon || !*word || o == HD_HTTP_COUNT) {
            snprintf(why, n,
                     "receipt_status_map: '%.*s' is not WORD:OUTCOME (OUTCOME one of sent, "
                     "delivered, undelivered, failed, invalid, bounced, complained)",
                     (int)len, p - len - (p[-1] == ','));
            return -1;
        }
        if (hd_http_receipt_outcome(r, word) >= 0) {
            snprintf(why, n, "receipt_status_map: '%s' is given twice", word);
            return -1;
        }
        HD_GROW(r->map, r->nmap);
        r->map[r->nmap++] = (struct hd_http_status){hd_xstrdup(word), o};
    }
    if (!r->nmap) {
        snprintf(why, n, "receipt_status_map: give at least one WORD:OUTCOME");
        return -1;
    }
    return 0;
}

/* The keys that are not places: the map, the tolerance, the encoding. */
static int the_rest(const struct hd_provider_cfg *p, struct hd_http_receipt *r, int *line,
                    char *why, size_t n)
{
    const char *v;
    struct hd_err e = {0};
    if ((v = hd_provider_get(p, "receipt_status_map")) != NULL) {
        *line = line_of(p, "receipt_status_map");
        if (status_map(r, v, why, n) < 0)
            return -1;
    }
    r->tolerance = 300;
    if ((v = hd_provider_get(p, "receipt_tolerance")) != NULL) {
        *line = line_of(p, "receipt_tolerance");
        if (hd_units_duration(v, &r->tolerance, &e) < 0 || r->tolerance < 1 ||
            r->tolerance > 86400) {
            snprintf(why, n, "receipt_tolerance: %s", e.msg[0] ? e.msg : "give 1s to 1d");
            return -1;
        }
    }
    v = hd_provider_get(p, "receipt_signature_encoding");
    r->base64 = v && strcmp(v, "base64") == 0;
    return 0;
}

static int read_keys(const struct hd_provider_cfg *p, struct hd_http_receipt *r, int *line,
                     char *why, size_t n)
{
    const struct hd_cfg_secret *sec = hd_provider_secret(p, "receipt_secret");
    const char *fmt = hd_provider_get(p, "receipt_format");
    r->form = fmt && strcmp(fmt, "form") == 0;
    if (field(p, r->form, "receipt_id", &r->id, line, why, n) < 0 ||
        field(p, r->form, "receipt_ref", &r->ref, line, why, n) < 0 ||
        field(p, r->form, "receipt_status", &r->status, line, why, n) < 0 ||
        field(p, r->form, "receipt_code", &r->code, line, why, n) < 0 ||
        field(p, r->form, "receipt_reason", &r->reason, line, why, n) < 0 ||
        header_name(p, "receipt_signature_header", "X-Signature", &r->sig_header, line, why, n) <
            0 ||
        header_name(p, "receipt_timestamp_header", "X-Timestamp", &r->ts_header, line, why, n) <
            0 ||
        the_rest(p, r, line, why, n) < 0)
        return -1;
    *line = sec->line;
    if (!r->status || (!r->id && !r->ref)) {
        snprintf(why, n,
                 "receipt_secret is set: give receipt_status and receipt_id or receipt_ref "
                 "(where the report says the status and which message)");
        return -1;
    }
    return 0;
}

int hd_cfg_http_receipt(struct hd_provider_cfg *p, int *line, char *why, size_t n)
{
    const struct hd_cfg_secret *sec = hd_provider_secret(p, "receipt_secret");
    int first = 0;
    for (size_t i = 0; i < p->nkv; i++)
        if (strncmp(p->kv[i].key, "receipt_", 8) == 0 && (!first || p->kv[i].line < first))
            first = p->kv[i].line;
    if (!sec) {
        *line = first;
        if (!first)
            return 0;
        snprintf(why, n,
                 "receipt_* keys need receipt_secret_env or receipt_secret_file: herald "
                 "takes no unsigned reports");
        return -1;
    }
    struct hd_http_receipt *r = hd_xcalloc(1, sizeof *r);
    if (read_keys(p, r, line, why, n) < 0) {
        hd_cfg_http_receipt_free(r);
        return -1;
    }
    p->receipt = r;
    return 0;
}
