/* console_settings: a user's own settings (issue 21): the console's
 * language (English or Simplified Chinese, else the browser's
 * Accept-Language) and the IANA time zone its dates and times are shown
 * in (else [herald] timezone). GET shows the form with today's date
 * formatted the way the pages will show it; POST (any role: a user sets
 * their own, never another's) checks the form's CSRF field first
 * (hd_con_form), then both values through hd_serve_user_prefs, which
 * `herald user set` calls too, and records the change in the audit. A bad
 * value is the form again with its reason (400), nothing written. */
#include <stdio.h>
#include <string.h>

#include "herald/serve.h"
#include "console_int.h"

/* A few zones offered as suggestions (the field takes any IANA id). */
static const char *const zones[] = {
    "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei",      "Asia/Singapore",      "Asia/Tokyo",
    "Europe/London", "Europe/Berlin",  "America/New_York", "America/Los_Angeles", "UTC"};

static json_t *settings_data(const struct hd_con *c, const char *lang, const char *zone)
{
    json_t *z = json_array();
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++)
        json_array_append_new(z, json_string(zones[i]));
    const char *service = c->s->cfg->timezone ? c->s->cfg->timezone : "UTC";
    return json_pack("{s:b,s:b,s:b,s:s,s:s,s:o,s:I}", "lang_none", !*lang, "lang_en",
                     strcmp(lang, "en") == 0, "lang_zh", strcmp(lang, "zh-CN") == 0, "my_zone",
                     zone, "service_zone", service, "zones", z, "now",
                     (json_int_t)hd_clock_now(c->s->clock));
}

void hd_con_settings_get(struct hd_con *c)
{
    json_t *data = settings_data(c, c->sess.user.lang, c->sess.user.zone);
    const char *saved = c->r->arg ? c->r->arg(c->r->ud, "saved") : NULL;
    if (saved)
        json_object_set_new(data, "saved", json_true());
    hd_con_page(c, 200, PAGE_CONSOLE_SETTINGS, data);
}

void hd_con_settings_post(struct hd_con *c)
{
    struct hd_err err = {0};
    struct hd_form f;
    char detail[128];
    if (hd_con_form(c, &f) < 0)
        return;
    const char *lang = hd_form_get(&f, "lang"), *zone = hd_form_get(&f, "zone");
    if (!lang || !zone) {
        hd_form_release(&f);
        hd_con_plain(c->a, 400, "bad form body: give lang and zone\n");
        return;
    }
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    int rc = st ? hd_serve_user_prefs(st, c->sess.user.name, lang, zone, &err) : HD_E_STORE;
    if (rc == 0) {
        snprintf(detail, sizeof detail, "lang=%s zone=%s", lang, zone);
        hd_con_note(c, st, c->sess.user.name, "settings", detail);
    } else if (rc != HD_E_INVALID) {
        hd_srv_unavailable(c->s, c->a, &err);
    }
    pthread_mutex_unlock(&c->s->mu);
    if (rc == 0) {
        hd_con_redirect(c->a, "/console/settings?saved=1");
    } else if (rc == HD_E_INVALID) {
        json_t *data = settings_data(c, lang, zone);
        json_object_set_new(data, "error", json_string(err.msg));
        hd_con_page(c, 400, PAGE_CONSOLE_SETTINGS, data);
    }
    hd_form_release(&f);
}
