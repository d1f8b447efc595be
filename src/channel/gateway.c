/* gateway: `type = http`, a generic HTTP gateway for the many SMS providers
 * without a driver of their own and for chat webhooks (Slack, WeCom,
 * DingTalk). The URL, each header and the body are Mustache templates over
 * the message: id, ref ("N:UUID", the message's number and id, which a
 * gateway that echoes it back lets the receipts match), to, channel, category, title, body,
 * subject, text, data (the push data's JSON text) and api_key (the secret). The body escapes
 * {{name}} for JSON string contents or for a form (body_format); the URL
 * escapes for a form; headers are not escaped, and a header whose value
 * would hold a line break refuses the message. Every request carries
 * Idempotency-Key: <message id>. The response status decides the class
 * (accepted_status, throttled_status, permanent_status; anything else is
 * temporary) and message_id_pointer (RFC 6901, core/jptr.c) finds the
 * gateway's id. The receipt_* keys are the service's (serve/hooks_http.c). */
#include "http_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "herald/json.h"
#include "herald/mustache.h"

struct range {
    long lo, hi;
};

struct ranges {
    struct range *r;
    size_t n;
};

struct gw {
    struct hd_mst *url, *body;
    struct hd_mst **hdr_tpl; /* rendered values of header[] */
    char **hdr_name;
    size_t nhdr;
    bool form, has_ctype;
    const char *method;
    struct ranges ok, throttled, permanent;
    char *pointer;
    const char *api_key; /* borrowed secret */
    struct hd_buf scratch;
};

static const char default_json[] =
    "{\"id\":\"{{id}}\",\"to\":\"{{to}}\",\"title\":\"{{title}}\",\"body\":\"{{body}}\"}";
static const char default_form[] = "id={{id}}&to={{to}}&body={{body}}";

static int parse_ranges(const char *key, const char *s, const char *dflt, struct ranges *out,
                        struct hd_err *err)
{
    const char *p = s ? s : dflt;
    while (*p) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p)
            goto bad;
        p = end;
        if (*p == '-') {
            hi = strtol(p + 1, &end, 10);
            if (end == p + 1)
                goto bad;
            p = end;
        }
        if (lo < 100 || hi > 599 || lo > hi)
            goto bad;
        HD_GROW(out->r, out->n);
        out->r[out->n++] = (struct range){lo, hi};
        while (*p == ' ')
            p++;
        if (*p == ',')
            p++;
        while (*p == ' ')
            p++;
    }
    return 0;
bad:
    return hd_err_set(err, HD_E_CONFIG,
                      "%s: '%s' is not a list of HTTP statuses or ranges (e.g. 200-299,304)", key,
                      s);
}

static bool in_ranges(const struct ranges *rs, long status)
{
    for (size_t i = 0; i < rs->n; i++)
        if (status >= rs->r[i].lo && status <= rs->r[i].hi)
            return true;
    return false;
}

static void gw_fini(void *pc)
{
    struct gw *g = pc;
    if (!g)
        return;
    hd_mst_free(g->url);
    hd_mst_free(g->body);
    for (size_t i = 0; i < g->nhdr; i++) {
        hd_mst_free(g->hdr_tpl[i]);
        free(g->hdr_name[i]);
    }
    free(g->hdr_tpl);
    free(g->hdr_name);
    free(g->ok.r);
    free(g->throttled.r);
    free(g->permanent.r);
    free(g->pointer);
    hd_buf_release(&g->scratch);
    free(g);
}

static int compile(const char *src, const char *what, struct hd_mst **out, struct hd_err *err)
{
    struct hd_mst_opts o = {.file = what};
    return hd_mst_compile(src, strlen(src), &o, out, err);
}

static int gw_setup(struct gw *g, const struct hd_provider_cfg *cfg, struct hd_err *err)
{
    const char *v = hd_provider_get(cfg, "body_format");
    g->form = v && strcmp(v, "form") == 0;
    g->method = hd_provider_get(cfg, "method");
    if (!g->method)
        g->method = "POST";
    const struct hd_cfg_secret *key = hd_provider_secret(cfg, "api_key");
    g->api_key = key ? key->value : NULL;
    if (compile(hd_provider_get(cfg, "url"), "url", &g->url, err) < 0)
        return -1;
    v = hd_provider_get(cfg, "body");
    if (compile(v ? v : g->form ? default_form : default_json, "body", &g->body, err) < 0)
        return -1;
    for (size_t i = 0; i < cfg->nkv; i++) {
        if (strcmp(cfg->kv[i].key, "header") != 0)
            continue;
        const char *line = cfg->kv[i].value, *colon = strchr(line, ':');
        size_t nlen = colon ? (size_t)(colon - line) : 0;
        bool ok = nlen > 0;
        for (size_t k = 0; k < nlen && ok; k++)
            ok = line[k] > 0x20 && line[k] < 0x7f;
        if (!ok)
            return hd_err_set(err, HD_E_CONFIG,
                              "header: '%s' is not 'Name: value' (a token, a colon, a value)",
                              line);
        const char *val = colon + 1;
        while (*val == ' ' || *val == '\t')
            val++;
        HD_GROW(g->hdr_tpl, g->nhdr);
        HD_GROW(g->hdr_name, g->nhdr);
        g->hdr_name[g->nhdr] = hd_xstrndup(line, nlen);
        g->hdr_tpl[g->nhdr] = NULL;
        g->nhdr++;
        if (compile(val, "header", &g->hdr_tpl[g->nhdr - 1], err) < 0)
            return -1;
        if (strcasecmp(g->hdr_name[g->nhdr - 1], "Content-Type") == 0)
            g->has_ctype = true;
    }
    if (parse_ranges("accepted_status", hd_provider_get(cfg, "accepted_status"), "200-299", &g->ok,
                     err) < 0 ||
        parse_ranges("throttled_status", hd_provider_get(cfg, "throttled_status"), "429",
                     &g->throttled, err) < 0 ||
        parse_ranges("permanent_status", hd_provider_get(cfg, "permanent_status"), "400-499",
                     &g->permanent, err) < 0)
        return -1;
    v = hd_provider_get(cfg, "message_id_pointer");
    char why[300];
    if (v && *v && hd_json_pointer_check(v, why, sizeof why) < 0)
        return hd_err_set(err, HD_E_CONFIG, "message_id_pointer: %s", why);
    g->pointer = hd_xstrdup(v);
    return 0;
}

static void set(json_t *o, const char *k, const char *v)
{
    if (v)
        json_object_set_new(o, k, json_string(v));
}

static void add_form(struct hd_buf *out, const char *s, size_t n)
{
    hd_buf_add_form(out, s, n);
}

static int render(struct hd_mst *t, const json_t *data,
                  void (*esc)(struct hd_buf *, const char *, size_t), struct hd_buf *out,
                  struct hd_err *err)
{
    struct hd_mst_env env = {.escape = esc, .strict = false};
    return hd_mst_render(t, data, &env, out, err);
}

static int gw_build(void *pc, struct hx_req *q, struct hd_result *r)
{
    struct gw *g = pc;
    const struct hd_msg *m = q->m;
    json_t *data = json_object();
    char ref[HX_OUT_ID_MAX];
    hx_out_id(m, ref);
    set(data, "id", m->id);
    set(data, "ref", ref);
    set(data, "to", m->to);
    set(data, "channel", hd_channel_name(m->channel));
    set(data, "category", hd_category_name(m->category));
    set(data, "title", m->title);
    set(data, "body", m->body);
    set(data, "subject", m->subject);
    set(data, "text", m->text);
    set(data, "data", m->data ? m->data : "{}");
    set(data, "api_key", g->api_key);
    struct hd_err err = {0};
    int rc = render(g->url, data, add_form, &q->url, &err);
    for (size_t i = 0; rc == 0 && i < q->url.len; i++)
        if ((unsigned char)q->url.data[i] <= 0x20 || q->url.data[i] == 0x7f)
            rc = hd_err_set(&err, HD_E_INVALID, "the URL would hold a space or control character");
    if (rc == 0)
        rc = render(g->body, data, g->form ? add_form : hd_buf_add_json_esc, &q->body, &err);
    for (size_t i = 0; rc == 0 && i < g->nhdr; i++) {
        hd_buf_reset(&g->scratch);
        rc = render(g->hdr_tpl[i], data, NULL, &g->scratch, &err);
        hd_buf_addc(&g->scratch, '\0');
        if (rc == 0 && hx_header(q, g->hdr_name[i], g->scratch.data) < 0)
            rc =
                hd_err_set(&err, HD_E_INVALID, "header %s would hold a line break", g->hdr_name[i]);
        hd_wipe(g->scratch.data, g->scratch.len);
    }
    json_decref(data);
    if (rc < 0) {
        hd_result_init(r, m);
        hd_result_set(r, HD_OUT_PERMANENT, 0, "request not built: %s", err.msg);
        return -1;
    }
    hd_buf_addc(&q->url, '\0');
    q->url.len--;
    if (!g->has_ctype)
        hx_header(q, "Content-Type",
                  g->form ? "application/x-www-form-urlencoded" : "application/json");
    hx_header(q, "Idempotency-Key", m->id);
    q->method = g->method;
    return 0;
}

static int gw_finish(void *pc, struct hx *h, struct hx_req *q, long status, struct hd_result *r)
{
    (void)h;
    struct gw *g = pc;
    int outcome = in_ranges(&g->ok, status)          ? HD_OUT_ACCEPTED
                  : in_ranges(&g->throttled, status) ? HD_OUT_THROTTLED
                  : in_ranges(&g->permanent, status) ? HD_OUT_PERMANENT
                                                     : HD_OUT_TEMPORARY;
    char text[200];
    hd_buf_addc(&q->resp, '\0');
    q->resp.len--;
    hx_copy_text(text, sizeof text, q->resp.len ? q->resp.data : "(no body)");
    hd_result_set(r, outcome, (int)status, "HTTP %ld: %s", status, text);
    if (outcome == HD_OUT_ACCEPTED && g->pointer && *g->pointer) {
        json_t *j = hx_json(q);
        const json_t *id = hd_json_pointer(j, g->pointer);
        if (json_is_string(id))
            hx_copy_text(r->gateway_id, sizeof r->gateway_id, json_string_value(id));
        else if (json_is_integer(id))
            snprintf(r->gateway_id, sizeof r->gateway_id, "%lld",
                     (long long)json_integer_value(id));
        json_decref(j);
    }
    return 0;
}

static const struct hx_proto gw_proto = {.build = gw_build, .finish = gw_finish, .fini = gw_fini};

static int gw_init(const struct hd_provider_cfg *cfg, struct hd_log *log, void **conf,
                   struct hd_err *err)
{
    struct gw *g = hd_xcalloc(1, sizeof *g);
    hd_buf_init(&g->scratch);
    if (gw_setup(g, cfg, err) < 0) {
        gw_fini(g);
        return -1;
    }
    return hx_open(cfg, log, &gw_proto, g, 1, conf, err);
}

const struct hd_drv_ops hd_drv_http = {
    .type = "http",
    .channels = 1u << HD_CH_SMS | 1u << HD_CH_PUSH,
    .init = gw_init,
    .fini = hx_close,
    .loop = hx_loop,
    .wake = hx_wake,
    .loop_threads = hx_lanes,
};
