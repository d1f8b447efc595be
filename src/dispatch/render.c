/* render: one message's template parts for its channel, as the driver
 * wants them. Shared by the dispatcher, `provider test` and the campaign
 * estimate; `template preview` renders through hd_render_each, the same
 * steps part by part, so one part's error does not hide the others. */
#include <stdlib.h>
#include <string.h>

#include "herald/dispatch.h"
#include "herald/driver.h"
#include "herald/html.h"
#include "herald/markdown.h"
#include "herald/sms.h"

void hd_rendered_release(struct hd_rendered *r)
{
    if (!r)
        return;
    for (int i = 0; i < HD_PART_COUNT; i++)
        free(r->part[i]);
    free(r->from);
    free(r->reply_to);
    memset(r, 0, sizeof *r);
}

/* Nothing but blank space: an SMS of it costs a segment and says nothing.
 * (Stops at the first other byte: one look for a real message.) */
static bool blank(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    return !*s;
}

/* A push may be data only (a silent push): any of its parts makes one. */
static bool push_parts(const struct hd_rendered *r)
{
    for (int part = HD_PART_PUSH_TITLE; part <= HD_PART_PUSH_APNS; part++)
        if (r->part[part])
            return true;
    return r->part[HD_PART_PUSH_CLICK] != NULL;
}

/* An SMS has free text (sms, or the approved text sent as it is), or an
 * approved template's code; what it has must not render blank. */
static int sms_parts(const struct hd_rendered *r, const char *name, struct hd_err *err)
{
    const char *text = r->part[HD_PART_SMS], *code = r->part[HD_PART_SMS_TEMPLATE_CODE];
    if (!text && !code && !r->part[HD_PART_SMS_APPROVED_TEXT])
        return hd_err_set(err, HD_E_INVALID, "template '%s' has no sms part", name);
    if (text && blank(text))
        return hd_err_set(err, HD_E_INVALID, "template '%s': the sms part is empty once rendered",
                          name);
    if (code && blank(code))
        return hd_err_set(err, HD_E_INVALID,
                          "template '%s': sms.template_code is empty once rendered", name);
    return 0;
}

/* Trims blank space at both ends of *s, in place. */
static void trim(char *s)
{
    size_t n = strlen(s), i = 0;
    while (n && strchr(" \t\r\n", s[n - 1]))
        n--;
    while (i < n && strchr(" \t\r\n", s[i]))
        i++;
    memmove(s, s + i, n - i);
    s[n - i] = '\0';
}

/* An inbox message: a title or a body; the body's Markdown made HTML, the
 * link http(s), the expiry a duration. */
static int inbox_parts(struct hd_rendered *r, const char *name, struct hd_err *err)
{
    char **body = &r->part[HD_PART_INBOX_BODY], *url = r->part[HD_PART_INBOX_URL],
         *ttl = r->part[HD_PART_INBOX_EXPIRES];
    if (!r->part[HD_PART_INBOX_TITLE] && !*body)
        return hd_err_set(err, HD_E_INVALID, "template '%s' has no inbox parts", name);
    if (*body) {
        struct hd_buf b;
        hd_buf_init(&b);
        hd_md_render(*body, strlen(*body), &b);
        free(*body);
        *body = hd_buf_detach(&b, NULL);
    }
    if (url)
        trim(url);
    if (url && *url && !hd_md_url_ok(url, strlen(url)))
        return hd_err_set(err, HD_E_INVALID,
                          "template '%s': inbox.url is not an http or https link once rendered",
                          name);
    if (ttl)
        trim(ttl);
    struct hd_err e = {0};
    if (ttl && *ttl && hd_units_duration(ttl, &r->inbox_ttl, &e) < 0)
        return hd_err_set(err, HD_E_INVALID, "template '%s': inbox.expires: %s", name, e.msg);
    return 0;
}

int hd_render(const struct hd_tpl *t, int channel, const struct hd_tpl_req *req,
              struct hd_rendered *out, struct hd_err *err)
{
    static const int parts[HD_CH_COUNT][6] = {
        {HD_PART_EMAIL_SUBJECT, HD_PART_EMAIL_TEXT, HD_PART_EMAIL_HTML, -1, -1, -1},
        {HD_PART_SMS, HD_PART_SMS_TEMPLATE_CODE, HD_PART_SMS_APPROVED_TEXT, -1, -1, -1},
        {HD_PART_PUSH_TITLE, HD_PART_PUSH_BODY, HD_PART_PUSH_CLICK, -1, -1, -1},
        {HD_PART_INBOX_TITLE, HD_PART_INBOX_BODY, HD_PART_INBOX_URL, HD_PART_INBOX_EXPIRES, -1, -1},
        {HD_PART_WECHAT_TEMPLATE_ID, HD_PART_WECHAT_URL, HD_PART_WECHAT_PAGE, -1, -1, -1}};
    struct hd_tpl_info info;
    int rc = 0;
    memset(out, 0, sizeof *out);
    hd_tpl_get_info(t, &info);
    out->category = info.category;
    for (int i = 0; i < 6; i++) {
        int part = parts[channel][i];
        struct hd_buf b;
        if (part < 0 || !hd_tpl_has_part(t, part, req->locale, req->variant))
            continue;
        hd_buf_init(&b);
        if ((rc = hd_tpl_render(t, part, req, &b, err)) < 0) {
            hd_buf_release(&b);
            goto out;
        }
        out->part[part] = hd_buf_detach(&b, NULL);
    }
    for (int part = HD_PART_PUSH_DATA; part < HD_PART_COUNT; part++) {
        struct hd_buf b;
        if (hd_tpl_part_channel(part) != channel || !hd_tpl_part_is_json(part) ||
            !(info.parts & (1u << part)) || !hd_tpl_has_part(t, part, req->locale, req->variant))
            continue;
        hd_buf_init(&b);
        if ((rc = hd_tpl_render_json_text(t, part, req, &b, err)) < 0) {
            hd_buf_release(&b);
            goto out;
        }
        out->part[part] = hd_buf_detach(&b, NULL);
    }
    char **text = &out->part[HD_PART_EMAIL_TEXT];
    const char *html = out->part[HD_PART_EMAIL_HTML];
    if (channel == HD_CH_EMAIL && !*text && html) {
        struct hd_buf b;
        hd_buf_init(&b);
        hd_html_to_text(html, strlen(html), &b);
        *text = hd_buf_detach(&b, NULL);
    }
    if (channel == HD_CH_EMAIL) { /* only an email has a sender */
        const char *from = hd_tpl_header(t, "from", req->locale),
                   *reply = hd_tpl_header(t, "reply_to", req->locale);
        out->from = from ? hd_xstrdup(from) : NULL;
        out->reply_to = reply ? hd_xstrdup(reply) : NULL;
    }
    if (channel == HD_CH_EMAIL && !out->part[HD_PART_EMAIL_SUBJECT])
        rc = hd_err_set(err, HD_E_INVALID, "template '%s' has no email parts", info.name);
    else if (channel == HD_CH_SMS)
        rc = sms_parts(out, info.name, err);
    else if (channel == HD_CH_PUSH && !push_parts(out))
        rc = hd_err_set(err, HD_E_INVALID, "template '%s' has no push parts", info.name);
    else if (channel == HD_CH_INBOX)
        rc = inbox_parts(out, info.name, err);
    else if (channel == HD_CH_WECHAT && !out->part[HD_PART_WECHAT_TEMPLATE_ID])
        rc = hd_err_set(err, HD_E_INVALID, "template '%s' has no wechat.template_id", info.name);
out:
    if (rc < 0)
        hd_rendered_release(out);
    return rc;
}

void hd_rendered_msg(const struct hd_rendered *r, int channel, struct hd_msg *m)
{
    m->subject = r->part[HD_PART_EMAIL_SUBJECT];
    m->text = r->part[HD_PART_EMAIL_TEXT];
    m->html = r->part[HD_PART_EMAIL_HTML];
    m->body = channel == HD_CH_SMS     ? hd_rendered_sms_text(r, NULL)
              : channel == HD_CH_INBOX ? r->part[HD_PART_INBOX_BODY]
                                       : r->part[HD_PART_PUSH_BODY];
    m->sms_template = r->part[HD_PART_SMS_TEMPLATE_CODE];
    m->sms_params = r->part[HD_PART_SMS_PARAMS];
    m->title = r->part[channel == HD_CH_INBOX ? HD_PART_INBOX_TITLE : HD_PART_PUSH_TITLE];
    m->data = r->part[HD_PART_PUSH_DATA];
    m->fcm = r->part[HD_PART_PUSH_FCM];
    m->apns = r->part[HD_PART_PUSH_APNS];
    m->click_action = r->part[HD_PART_PUSH_CLICK];
    m->wechat_template = r->part[HD_PART_WECHAT_TEMPLATE_ID];
    m->wechat_data = r->part[HD_PART_WECHAT_DATA];
    m->wechat_url = r->part[HD_PART_WECHAT_URL];
    m->wechat_page = r->part[HD_PART_WECHAT_PAGE];
    if (channel == HD_CH_EMAIL) { /* the template's From is an email sender */
        m->from = r->from;
        m->reply_to = r->reply_to;
    }
}

const char *hd_rendered_sms_text(const struct hd_rendered *r, const char *type)
{
    const char *text = r->part[HD_PART_SMS], *approved = r->part[HD_PART_SMS_APPROVED_TEXT];
    if (type && hd_driver_sms_need(type) != HD_SMS_TEXT)
        return approved ? approved : text;
    return text ? text : approved;
}

int hd_rendered_sms_fits(const struct hd_rendered *r, const struct hd_provider_cfg *p,
                         struct hd_err *err)
{
    size_t max = hd_driver_sms_param_max(p->type);
    const char *text = r->part[HD_PART_SMS_PARAMS];
    if (!max || !text)
        return 0;
    json_t *o = json_loads(text, 0, NULL), *v;
    const char *k;
    int rc = 0;
    json_object_foreach(o, k, v)
    {
        struct hd_sms_info si;
        hd_sms_analyze(json_string_value(v), json_string_length(v), &si);
        if (si.chars > max) {
            rc = hd_err_set(err, HD_E_INVALID,
                            "sms.params: '%s' is %zu characters, over the %zu that provider '%s' "
                            "(%s) accepts in a parameter",
                            k, si.chars, max, p->name, p->type);
            break;
        }
    }
    json_decref(o);
    return rc;
}

/* email.text made from email.html, as hd_render makes it. */
static void derive_text(struct hd_render_part *p, const struct hd_tpl *t,
                        const struct hd_tpl_req *req, struct hd_buf *html, struct hd_buf *text,
                        struct hd_err *err)
{
    hd_buf_reset(html);
    if (hd_tpl_render(t, HD_PART_EMAIL_HTML, req, html, err) < 0)
        return; /* the html part reports its own error */
    hd_buf_reset(text);
    hd_html_to_text(html->data, html->len, text);
    p->text = text->data;
    p->len = text->len;
    p->derived = true;
}

void hd_render_each(const struct hd_tpl *t, int channel, const struct hd_tpl_req *req,
                    hd_render_part_cb cb, void *ud)
{
    struct hd_buf b, text;
    struct hd_err err = {0};
    hd_buf_init(&b);
    hd_buf_init(&text);
    for (int part = 0; part < HD_PART_COUNT; part++) {
        struct hd_render_part p = {.part = part};
        if (channel >= 0 && hd_tpl_part_channel(part) != channel)
            continue;
        if (!hd_tpl_has_part(t, part, req->locale, req->variant)) {
            if (part == HD_PART_EMAIL_TEXT &&
                hd_tpl_has_part(t, HD_PART_EMAIL_HTML, req->locale, req->variant)) {
                derive_text(&p, t, req, &b, &text, &err);
                if (p.text)
                    cb(ud, &p);
            }
            continue;
        }
        hd_buf_reset(&b);
        if (hd_tpl_part_is_json(part)) {
            if (hd_tpl_render_json(t, part, req, &p.json, &err) < 0)
                p.err = &err;
        } else if (hd_tpl_render(t, part, req, &b, &err) < 0) {
            p.err = &err;
        } else {
            p.text = b.data;
            p.len = b.len;
        }
        cb(ud, &p);
        json_decref(p.json);
    }
    hd_buf_release(&b);
    hd_buf_release(&text);
}
