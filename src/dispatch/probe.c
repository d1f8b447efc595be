/* probe: one test message through one provider (`herald provider test`),
 * sent as a campaign's would be: the channel is the one given, else the only
 * one the provider's type carries, else the address's form; the address is
 * checked and normalised as an import would; the text is a template
 * rendered by hd_render (strictly for a stored contact, leniently with the
 * template variables alone) or a short built-in one; the driver gets the
 * message and is polled, with a bound, for its result. */
#include <stdio.h>
#include <string.h>

#include "herald/dispatch.h"
#include "herald/sms.h"
#include "herald/valid.h"

int hd_probe_init(const struct hd_config *cfg, const char *provider, const char *to, int channel,
                  struct hd_probe *p, struct hd_err *err)
{
    memset(p, 0, sizeof *p);
    if (!(p->provider = hd_config_provider(cfg, provider)))
        return hd_err_set(err, HD_E_NOTFOUND, "no [provider %s] in the configuration", provider);
    const char *type = p->provider->type;
    if (channel < 0) {
        int served = 0, last = -1;
        for (int ch = 0; ch < HD_CH_COUNT; ch++)
            if (hd_driver_serves(type, ch))
                served++, last = ch;
        channel = served == 1                                        ? last
                  : strchr(to, '@')                                  ? HD_CH_EMAIL
                  : (to[0] == '+' || (to[0] >= '0' && to[0] <= '9')) ? HD_CH_SMS
                                                                     : HD_CH_PUSH;
    }
    p->channel = channel;
    if (!hd_driver_serves(type, channel))
        return hd_err_set(err, HD_E_USAGE, "provider '%s' (%s) does not carry %s",
                          p->provider->name, type, hd_channel_name(channel));
    /* the inbox's driver takes every message and the dispatcher's writer
     * stores it for its contact: a test here would say "accepted" and
     * store nothing (a review took it at its word) */
    if (channel == HD_CH_INBOX)
        return hd_err_set(err, HD_E_USAGE,
                          "provider '%s' is the in-app inbox: there is no gateway to try, and "
                          "only a send stores a message for a contact (a campaign or the API "
                          "with the inbox channel)",
                          p->provider->name);
    bool token = channel != HD_CH_EMAIL && channel != HD_CH_SMS, blank = !*to;
    for (const char *c = to; token && *c; c++)
        blank |= (unsigned char)*c <= ' ' || (unsigned char)*c == 0x7f;
    if (token && blank)
        return hd_err_set(err, HD_E_USAGE, "--to: '%s' is not a %s %s (empty, or with a space)", to,
                          hd_channel_name(channel),
                          channel == HD_CH_WECHAT ? "OpenID" : "device token");
    struct hd_valid *v = hd_valid_new();
    char *addr = p->address;
    size_t size = sizeof p->address;
    int bad = channel == HD_CH_EMAIL ? hd_valid_email(v, to, addr, size)
              : channel == HD_CH_SMS ? hd_valid_phone(v, to, cfg->default_region, addr, size)
                                     : (snprintf(addr, size, "%s", to), 0);
    hd_valid_free(v);
    if (bad)
        return hd_err_set(err, HD_E_USAGE, "--to: '%s' is not a %s address (%s)", to,
                          hd_channel_name(channel), addr);
    return 0;
}

static int render_parts(const struct hd_config *cfg, const struct hd_probe_text *t, int channel,
                        struct hd_msg *m, struct hd_rendered *out, struct hd_err *err)
{
    struct hd_tpl_set *set = NULL;
    const struct hd_tpl *tpl;
    struct hd_fmt *fmt = hd_fmt_new();
    json_t *camp = json_pack("{s:s}", "name", "provider test");
    json_t *data =
        hd_tpl_data(t->contact, cfg, camp, m->id, "https://unsubscribe.example.invalid/test");
    struct hd_tpl_req req;
    int rc;
    hd_tpl_req_init(&req, t->contact, cfg, t->now, data, fmt);
    req.variant = t->variant;
    req.lenient = t->contact == NULL;
    if ((rc = hd_tpl_set_open(cfg->templates, &set, err)) == 0 &&
        (rc = hd_tpl_get(set, t->tpl, &tpl, err)) == 0 &&
        (rc = hd_render(tpl, channel, &req, out, err)) == 0)
        m->category = out->category;
    json_decref(camp);
    json_decref(data);
    hd_fmt_free(fmt);
    hd_tpl_set_free(set);
    return rc;
}

/* The message's text: the template rendered, or a short built-in one. */
static int message_text(const struct hd_config *cfg, const struct hd_probe *p,
                        const struct hd_probe_text *t, struct hd_msg *m, struct hd_rendered *owned,
                        char *text, size_t size, struct hd_err *err)
{
    if (t->tpl) {
        if (render_parts(cfg, t, p->channel, m, owned, err) < 0)
            return -1;
        hd_rendered_msg(owned, p->channel, m);
        if (m->category == HD_CAT_MARKETING)
            m->unsubscribe_url = "https://unsubscribe.example.invalid/test";
        return 0;
    }
    if (p->channel == HD_CH_SMS && hd_driver_sms_need(p->provider->type) != HD_SMS_TEXT)
        return hd_err_set(err, HD_E_USAGE,
                          "provider '%s' (%s) sends only templates approved at the gateway: "
                          "give --template NAME (one with sms.template_code)",
                          p->provider->name, p->provider->type);
    char when[32];
    hd_time_format_iso(m->created, when, sizeof when);
    snprintf(text, size,
             "This is a test message from herald, sent through provider "
             "'%s' at %s.\n",
             p->provider->name, when);
    m->subject = "herald test message";
    m->text = text;
    m->title = "herald test";
    m->body = p->channel == HD_CH_SMS ? "herald test message" : "A test message from herald.";
    return 0;
}

struct outcome {
    struct hd_result *r;
    bool got;
};

static void keep(void *ud, const struct hd_result *r)
{
    struct outcome *o = ud;
    *o->r = *r;
    o->got = true;
}

int hd_probe_send(const struct hd_config *cfg, struct hd_log *log, const struct hd_probe *p,
                  const struct hd_probe_text *t, struct hd_probe_result *out, struct hd_err *err)
{
    const struct hd_provider_cfg *prov = p->provider;
    struct hd_rendered owned = {0};
    struct hd_driver *d = NULL;
    struct outcome o = {&out->r, false};
    char text[512];
    struct hd_msg m = {.channel = p->channel,
                       .to = p->address,
                       .category = HD_CAT_TRANSACTIONAL,
                       .created = t->now,
                       .platform = hd_driver_push_platform(prov->type) > 0
                                       ? hd_driver_push_platform(prov->type)
                                       : HD_PUSH_FCM};
    int rc;
    hd_uuid(m.id);
    snprintf(out->id, sizeof out->id, "%s", m.id);
    if ((rc = message_text(cfg, p, t, &m, &owned, text, sizeof text, err)) < 0 ||
        (rc = hd_driver_open(prov, log, &d, err)) < 0 || (rc = hd_driver_submit(d, &m, err)) < 0)
        goto out;
    int64_t deadline = hd_clock_mono_ms() + (prov->timeout + 30) * 1000;
    while (!o.got && hd_clock_mono_ms() < deadline)
        hd_driver_poll(d, 500, keep, &o);
    if (!o.got)
        rc = hd_err_set(err, HD_E_FAIL, "no result from provider '%s' in time", prov->name);
out:
    hd_driver_free(d);
    hd_rendered_release(&owned);
    return rc;
}
