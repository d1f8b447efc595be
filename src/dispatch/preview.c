/* preview: what `herald template preview` and the console's template page
 * show of a template for one contact (or data), built once for both. Every
 * part the channel uses is rendered strictly through hd_render_each, as a
 * message would get it, one part's error not stopping the others; each
 * part is kept (pv->parts) and handed to the caller's show callback with a
 * note in words (the SMS encoding and segments, "derived from
 * email.html"), the SMS's numbers (pv->sms), the push payload's sizes as
 * FCM and APNs would see them (pv->push), warnings, and errors with their
 * line and column when the renderer knew them (pv->where). The data for a
 * contact carries unsubscribe and preference links of the dispatcher's
 * shape, signed with a key no service holds, so a preview's link never
 * unsubscribes anyone. Lint's setup (the SMS providers' limits and needs,
 * the zh-CN opt-out wording) lives here too: the CLI and the console lint
 * alike. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/dispatch.h"
#include "herald/markdown.h"
#include "herald/sms.h"
#include "herald/token.h"

void hd_preview_init(struct hd_preview *pv, hd_preview_show_fn show, void *ud)
{
    *pv = (struct hd_preview){.parts = json_object(),
                              .warnings = json_array(),
                              .errors = json_array(),
                              .where = json_array(),
                              .show = show,
                              .ud = ud};
}

void hd_preview_release(struct hd_preview *pv)
{
    if (!pv)
        return;
    json_decref(pv->parts);
    json_decref(pv->warnings);
    json_decref(pv->errors);
    json_decref(pv->where);
    json_decref(pv->sms);
    json_decref(pv->push);
    memset(pv, 0, sizeof *pv);
}

static void note(struct hd_preview *p, bool error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void note(struct hd_preview *p, bool error, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(error ? p->errors : p->warnings, json_string(msg));
    if (error)
        json_array_append_new(p->where, json_pack("{s:i,s:i}", "line", 0, "column", 0));
}

static void show_part(struct hd_preview *p, const char *name, const char *text, const char *extra)
{
    json_object_set_new(p->parts, name, json_string(text));
    if (p->show)
        p->show(p->ud, name, text, extra);
}

/* One run: the preview, and the push parts kept for the sizes. */
struct run {
    struct hd_preview *pv;
    char *title, *body;
    json_t *pdata;
};

static void sms_info(struct hd_preview *pv, const struct hd_render_part *p, char *extra,
                     size_t size)
{
    struct hd_sms_info si;
    const char *name = hd_tpl_part_name(p->part);
    hd_sms_analyze(p->text, p->len, &si);
    snprintf(extra, size, "(%s, %zu characters, %zu segment%s)", hd_sms_encoding_name(si.encoding),
             si.chars, si.segments, si.segments == 1 ? "" : "s");
    if (!pv->sms) /* the sms part's, else the approved text's */
        pv->sms = json_pack("{s:s,s:i,s:i,s:i}", "encoding", hd_sms_encoding_name(si.encoding),
                            "characters", (json_int_t)si.chars, "units", (json_int_t)si.units,
                            "segments", (json_int_t)si.segments);
    if (si.encoding == HD_SMS_UCS2 && si.first_non_gsm[0])
        note(pv, false, "%s: UCS-2 (70 characters a segment) because of '%s'", name,
             si.first_non_gsm);
    if (si.segments > 1)
        note(pv, false, "%s: %zu segments are billed as %zu messages", name, si.segments,
             si.segments);
}

static void render_error(struct hd_preview *pv, const struct hd_err *e)
{
    json_array_append_new(pv->errors, json_string(e->msg));
    json_array_append_new(pv->where, json_pack("{s:i,s:i}", "line", e->line, "column", e->column));
}

static void json_part(struct run *run, const struct hd_render_part *p)
{
    char *s = json_dumps(p->json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    show_part(run->pv, hd_tpl_part_name(p->part), s, NULL);
    free(s);
    if (p->part == HD_PART_PUSH_DATA)
        run->pdata = json_incref(p->json);
}

static void preview_part(void *ud, const struct hd_render_part *p)
{
    struct run *run = ud;
    struct hd_preview *pv = run->pv;
    char extra[200] = "";
    if (p->err) {
        render_error(pv, p->err);
        return;
    }
    if (p->json) {
        json_part(run, p);
        return;
    }
    if (p->derived) {
        show_part(pv, "email.text", p->text, "(derived from email.html)");
        note(pv, false, "email.text is derived from email.html");
        return;
    }
    if (p->part == HD_PART_SMS || p->part == HD_PART_SMS_APPROVED_TEXT)
        sms_info(pv, p, extra, sizeof extra);
    if (p->part == HD_PART_EMAIL_SUBJECT)
        for (size_t i = 0; i < p->len; i++)
            if ((unsigned char)p->text[i] < 0x20 || p->text[i] == 0x7f) {
                note(pv, true, "email.subject holds a control character");
                break;
            }
    if (p->part == HD_PART_PUSH_TITLE)
        run->title = hd_xstrdup(p->text);
    if (p->part == HD_PART_PUSH_BODY)
        run->body = hd_xstrdup(p->text);
    show_part(pv, hd_tpl_part_name(p->part), p->text, extra[0] ? extra : NULL);
    if (p->part == HD_PART_INBOX_BODY) { /* what the inbox will hold */
        struct hd_buf html;
        hd_buf_init(&html);
        hd_md_render(p->text, p->len, &html);
        show_part(pv, "inbox.body.html", html.data, "(the Markdown as the inbox keeps it)");
        hd_buf_release(&html);
    }
}

/* The push payload's sizes as FCM and APNs would see them. */
static void push_sizes(struct run *run)
{
    struct hd_preview *pv = run->pv;
    if (!run->title && !run->body && !run->pdata)
        return;
    size_t fcm, apns;
    hd_tpl_push_sizes(run->title, run->body, run->pdata, &fcm, &apns);
    pv->push = json_pack("{s:i,s:i,s:i}", "fcm_bytes", (json_int_t)fcm, "apns_bytes",
                         (json_int_t)apns, "limit", HD_PUSH_MAX_PAYLOAD);
    if (fcm > HD_PUSH_MAX_PAYLOAD || apns > HD_PUSH_MAX_PAYLOAD)
        note(pv, true, "push payload over %d bytes", HD_PUSH_MAX_PAYLOAD);
}

void hd_preview_run(struct hd_preview *pv, const struct hd_tpl *t, int channel,
                    const struct hd_tpl_req *req)
{
    struct run run = {.pv = pv};
    hd_render_each(t, channel, req, preview_part, &run);
    push_sizes(&run);
    free(run.title);
    free(run.body);
    json_decref(run.pdata);
}

/* The links a message to contact k would carry, of the dispatcher's
 * shape (public_url/u/TOKEN) but under a key no service holds; without
 * [serve] public_url, placeholders. */
static void links(const struct hd_config *cfg, int64_t now, const struct hd_contact *k,
                  json_t *data)
{
    const char *base = cfg->serve.public_url;
    char tok[HD_TOKEN_MAX], link[HD_LINK_MAX];
    struct hd_token t = {k->id, 0, HD_CH_EMAIL, HD_CAT_MARKETING, now / 86400};
    hd_token_make(&t, &(struct hd_token_key){"preview", 7}, tok);
    static const char *const kinds[] = {"unsubscribe_url", "u", "preferences_url", "p"};
    for (int i = 0; i < 4; i += 2) {
        snprintf(link, sizeof link, "%s/%s/%s", base ? base : "https://unsubscribe.example.invalid",
                 kinds[i + 1], tok);
        json_object_set_new(data, kinds[i], json_string(link));
    }
}

json_t *hd_preview_data(const struct hd_config *cfg, int64_t now, const struct hd_contact *k)
{
    json_t *campaign = json_pack("{s:s}", "name", "preview");
    json_t *data = hd_tpl_data(k, cfg, campaign, "00000000-0000-4000-8000-000000000000",
                               "https://unsubscribe.example.invalid/preview");
    json_decref(campaign);
    links(cfg, now, k, data);
    return data;
}

void hd_preview_lint_setup(const struct hd_config *cfg, struct hd_tpl_set *set)
{
    size_t max = 0;
    char who[160] = "";
    for (size_t i = 0; i < cfg->channels[HD_CH_SMS].n; i++) {
        const struct hd_provider_cfg *p =
            hd_config_provider(cfg, cfg->channels[HD_CH_SMS].providers[i]);
        size_t n = p ? hd_driver_max_chars(p->type, HD_CH_SMS) : 0;
        if (n && (!max || n < max)) {
            max = n;
            snprintf(who, sizeof who, "provider '%s' (%s)", p->name, p->type);
        }
        if (p) { /* and what each needs: free text or an approved template */
            char name[160];
            snprintf(name, sizeof name, "provider '%s' (%s)", p->name, p->type);
            hd_tpl_set_sms_provider(set, name, hd_driver_sms_need(p->type),
                                    hd_driver_sms_param_max(p->type));
        }
    }
    if (max)
        hd_tpl_set_sms_limit(set, max, who);
    hd_tpl_set_sms_optout_zh(set, cfg->sms_optout_zh);
}

double hd_preview_sms_cost(const struct hd_config *cfg, int64_t segments)
{
    if (cfg->channels[HD_CH_SMS].n == 0)
        return 0;
    const struct hd_provider_cfg *p =
        hd_config_provider(cfg, cfg->channels[HD_CH_SMS].providers[0]);
    return p ? (double)segments * p->cost_per_segment : 0;
}
