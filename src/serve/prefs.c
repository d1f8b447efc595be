/* prefs: the preference centre, /p/TOKEN, with the token of the message's
 * unsubscribe link (checked the same way, from the path alone). GET shows,
 * in the contact's locale, a form with a row per channel: marketing with a
 * checkbox (ticked while the contact consents), transactional shown as it
 * is (it cannot be refused here), and a "stop all marketing" box;
 * GET never writes. The form carries a CSRF token bound to the link's
 * token (hd_token_csrf: an HMAC with the current secret under a label of
 * its own; the previous secret's is still taken during a rotation), which
 * a page of another site cannot read; POST refuses with
 * 403 a body without it or with another, before anything is read or
 * written. A POST's body is one small form (hd_form_parse: a bad escape is
 * 400, and so is a field this form does not have); the boxes ticked are
 * the marketing channels wanted, a box not ticked is an opt-out, and only the
 * channels whose consent changes get a row, in one transaction, each with
 * source "preferences", the message and campaign of the link and the time.
 * The answer is a page that says what is now on and off. */
#include <stdio.h>
#include <string.h>

#include "herald/form.h"
#include "serve_int.h"

static const char source[] = "preferences";

/* What a POST asked for. */
struct form {
    bool csrf_ok; /* csrf matched: decided inside the callback */
    int ncsrf;
    bool want[HD_CH_COUNT]; /* marketing boxes ticked */
    bool stop_all;
    const char *unknown;   /* a field this form does not have (NULL: none) */
    char unknown_name[32]; /* its name, cut, non-printable bytes as '?' */
    struct hd_srv *s;
    const struct hd_unsub *u;
};

static int field(void *ud, const char *key, const char *value)
{
    struct form *f = ud;
    int ch;
    if (strcmp(key, "csrf") == 0) {
        f->ncsrf++;
        /* a page served before a secret rotation still posts */
        const struct hd_token_key *k = f->s->keys;
        size_t n = strlen(f->u->text);
        f->csrf_ok = f->ncsrf == 1 && (hd_token_csrf_ok(&k[0], f->u->text, n, value) ||
                                       (k[1].len && hd_token_csrf_ok(&k[1], f->u->text, n, value)));
    } else if (strcmp(key, "marketing") == 0 && (ch = hd_channel_parse(value)) >= 0) {
        f->want[ch] = true;
    } else if (strcmp(key, "stop_all") == 0) {
        f->stop_all = true;
    } else if (!f->unknown) {
        snprintf(f->unknown_name, sizeof f->unknown_name, "%s", key);
        for (char *p = f->unknown_name; *p; p++)
            if ((unsigned char)*p < ' ' || *p == 0x7f)
                *p = '?';
        f->unknown = f->unknown_name;
    }
    return 0;
}

static void plain(struct hd_answer *a, int status, const char *msg)
{
    a->status = status;
    a->type = "text/plain; charset=utf-8";
    hd_buf_adds(&a->body, msg);
}

/* The contact's locale (into u->lang) and consent; -1 after answering. */
static int load(struct hd_srv *s, struct hd_unsub *u, int status[HD_CH_COUNT][HD_CAT_COUNT],
                struct hd_answer *a)
{
    struct hd_err err = {0};
    char locale[64] = "";
    struct hd_store *st = hd_srv_store(s, &err);
    int rc = st ? hd_store_link_prefs(st, u->tok.contact, u->tok.message, locale, sizeof locale,
                                      status, &err)
                : HD_E_STORE;
    if (rc == HD_E_NOTFOUND) { /* deleted: as unsubscribed, with nothing to change */
        u->gone = true;
        hd_srv_page(s, a, 410, PAGE_DONE, u->lang, hd_unsub_about(u, true));
        return -1;
    }
    if (rc < 0) {
        hd_srv_unavailable(s, a, &err);
        return -1;
    }
    if (*locale)
        u->lang = hd_pages_lang(locale);
    return 0;
}

/* The channels the page offers: email, SMS and push. The in-app inbox's
 * consent is left to the app that shows it (and the command line): a form
 * served before the inbox existed would otherwise opt its reader out of it
 * by leaving out a box it never showed. */
#define PREF_CHANNELS HD_CH_INBOX
_Static_assert(HD_CH_INBOX == 3 && HD_CH_WECHAT > HD_CH_INBOX, "the page's channels come first");

/* The page's data: a row per channel, marketing on or off. */
static json_t *rows(const struct hd_unsub *u, int status[HD_CH_COUNT][HD_CAT_COUNT])
{
    json_t *list = json_array();
    bool any = false;
    for (int ch = 0; ch < PREF_CHANNELS; ch++) {
        bool on = status[ch][HD_CAT_MARKETING] != HD_CONSENT_OPTED_OUT;
        any |= on;
        /* transactional is shown as it is: not refusable here, but an
         * opt-out recorded elsewhere (cli) is not hidden */
        bool tr = status[ch][HD_CAT_TRANSACTIONAL] != HD_CONSENT_OPTED_OUT;
        json_array_append_new(list, json_pack("{s:s,s:s,s:b,s:b}", "channel", hd_channel_name(ch),
                                              "label", hd_pages_channel(u->lang, ch), "marketing",
                                              on, "transactional", tr));
    }
    return json_pack("{s:o,s:b}", "channels", list, "none", !any);
}

void hd_prefs_get(struct hd_srv *s, struct hd_unsub *u, struct hd_answer *a)
{
    int status[HD_CH_COUNT][HD_CAT_COUNT];
    char csrf[HD_CSRF_LEN + 1];
    if (u->fault) {
        hd_unsub_invalid(s, u, true, a);
        return;
    }
    pthread_mutex_lock(&s->mu);
    int rc = load(s, u, status, a);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0)
        return;
    hd_token_csrf(&s->keys[0], u->text, strlen(u->text), csrf);
    json_t *data = rows(u, status);
    json_object_set_new(data, "csrf", json_string(csrf));
    hd_wipe(csrf, sizeof csrf);
    hd_srv_page(s, a, 200, PAGE_PREFS, u->lang, data);
}

/* Applies the wanted marketing state per channel, in one transaction;
 * status becomes the state after. *n counts the rows changed. */
static int apply(struct hd_srv *s, struct hd_unsub *u, const bool want[HD_CH_COUNT],
                 int status[HD_CH_COUNT][HD_CAT_COUNT], int *n, struct hd_err *err)
{
    struct hd_store *st = hd_srv_store(s, err);
    int rc = st ? hd_store_begin(st, err) : HD_E_STORE;
    *n = 0;
    for (int ch = 0; ch < PREF_CHANNELS && rc == 0; ch++) {
        bool on = status[ch][HD_CAT_MARKETING] != HD_CONSENT_OPTED_OUT, changed = false;
        if (on == want[ch])
            continue;
        struct hd_link_change c = {u->tok.contact,
                                   u->tok.message,
                                   ch,
                                   HD_CAT_MARKETING,
                                   want[ch] ? HD_CONSENT_OPTED_IN : HD_CONSENT_OPTED_OUT,
                                   source,
                                   hd_clock_now(s->clock)};
        rc = hd_store_link_consent(st, &c, &changed, err);
        status[ch][HD_CAT_MARKETING] = c.status;
        *n += changed;
    }
    if (rc == 0)
        rc = hd_store_commit(st, err);
    else if (st)
        hd_store_rollback(st);
    return rc;
}

/* Checks the form; 0, or -1 after answering 400 or 403. */
static int check(struct hd_srv *s, struct hd_unsub *u, const char *body, size_t len, struct form *f,
                 struct hd_answer *a)
{
    struct hd_err err = {0};
    *f = (struct form){.s = s, .u = u};
    if (hd_form_parse(body, len, field, f, &err) < 0) {
        a->status = 400;
        a->type = "text/plain; charset=utf-8";
        hd_buf_addf(&a->body, "bad form body: %s\n", err.msg);
        return -1;
    }
    if (!f->csrf_ok) {
        plain(a, 403, "forbidden: the form's csrf field is missing or wrong; reload the page\n");
        return -1;
    }
    if (f->unknown) {
        a->status = 400;
        a->type = "text/plain; charset=utf-8";
        hd_buf_adds(&a->body, "bad form body: unknown field '");
        hd_buf_adds(&a->body, f->unknown);
        hd_buf_adds(&a->body, "'\n");
        return -1;
    }
    if (f->stop_all)
        memset(f->want, 0, sizeof f->want);
    return 0;
}

void hd_prefs_post(struct hd_srv *s, struct hd_unsub *u, const char *body, size_t len,
                   struct hd_answer *a)
{
    struct form f;
    int status[HD_CH_COUNT][HD_CAT_COUNT], n = 0, rc;
    struct hd_err err = {0};
    if (u->fault) {
        hd_unsub_invalid(s, u, true, a);
        return;
    }
    if (check(s, u, body, len, &f, a) < 0)
        return;
    pthread_mutex_lock(&s->mu);
    rc = load(s, u, status, a);
    if (rc == 0 && (rc = apply(s, u, f.want, status, &n, &err)) < 0)
        hd_srv_unavailable(s, a, &err);
    if (rc == 0 && n)
        hd_log_info(s->log,
                    "serve: contact %lld changed %d marketing preference%s (link of "
                    "message %lld)",
                    (long long)u->tok.contact, n, n == 1 ? "" : "s", (long long)u->tok.message);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0)
        return;
    json_t *data = rows(u, status);
    json_object_set_new(data, "changed", json_integer(n));
    hd_srv_page(s, a, 200, PAGE_PREFS_DONE, u->lang, data);
}
