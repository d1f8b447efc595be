/* unsub: /u/TOKEN. The token is checked from the path alone when the
 * headers are in (no database read, no body read for a bad one); then GET
 * shows a page and never writes (mail scanners fetch links), and POST with
 * the RFC 8058 body `List-Unsubscribe=One-Click` (form-urlencoded, or a
 * multipart/form-data part, as RFC 8058 prefers) records the opt-out for
 * the token's contact, channel and category, with source "unsubscribe"
 * (the server hands such a click to clicks.c's group commit, and answers
 * it with hd_unsub_clicked; hd_unsub_post writes the others itself).
 * The page's own button posts the same body plus `&via=page`, and gets the
 * confirmation page instead of the plain 200 a mail client gets. Nothing
 * from the request reaches a page but through the HTML-escaping renderer,
 * and the token is never logged. The confirmation links to the
 * preference centre (prefs.c), /p/ with the same token. */
#include <stdio.h>
#include <string.h>

#include "serve_int.h"

static const char rfc_body[] = "List-Unsubscribe=One-Click";
static const char page_body[] = "List-Unsubscribe=One-Click&via=page";

/* What the recipient will no longer get, in words. */
static const char *what(int lang, int channel, int category, char *buf, size_t n)
{
    snprintf(buf, n, lang == LANG_ZH ? "%s%s" : "%s %s", hd_pages_category(lang, category),
             hd_pages_channel(lang, channel));
    return buf;
}

void hd_unsub_verify(struct hd_srv *s, const char *token, size_t len, const char *accept_lang,
                     struct hd_unsub *u)
{
    memset(u, 0, sizeof *u);
    u->lang = hd_pages_lang(accept_lang);
    u->fault = hd_token_verify_set(token, len, &s->keyset, hd_clock_now(s->clock),
                                   s->cfg->serve.unsubscribe_valid, &u->tok, NULL);
    if (!u->fault && len < sizeof u->text) { /* a verified token is exactly 75 bytes */
        memcpy(u->text, token, len);
        u->text[len] = '\0';
    }
}

void hd_srv_page(struct hd_srv *s, struct hd_answer *a, int status, int which, int lang,
                 json_t *data)
{
    struct hd_err err = {0};
    a->status = status;
    a->type = "text/html; charset=utf-8";
    if (hd_pages_render(s->pages, which, lang, data, &a->body, &err) < 0) {
        pthread_mutex_lock(&s->mu);
        hd_log_error(s->log, "serve: page: %s", err.msg);
        pthread_mutex_unlock(&s->mu);
        a->status = 500;
        a->type = "text/plain; charset=utf-8";
        a->body.len = 0;
        hd_buf_adds(&a->body, "internal error: the page could not be rendered\n");
    }
    json_decref(data);
}

static int fault_status(int fault)
{
    return fault == HD_TOKEN_EXPIRED ? 410 : fault == HD_TOKEN_FORGED ? 403 : 400;
}

void hd_unsub_invalid(struct hd_srv *s, struct hd_unsub *u, bool html, struct hd_answer *a)
{
    if (!html) {
        a->status = fault_status(u->fault);
        a->type = "text/plain; charset=utf-8";
        hd_buf_addf(&a->body, "this link is %s\n",
                    u->fault == HD_TOKEN_EXPIRED ? "expired" : "not valid");
        return;
    }
    hd_srv_page(s, a, fault_status(u->fault), PAGE_INVALID, u->lang,
                json_pack("{s:b}", "expired", u->fault == HD_TOKEN_EXPIRED));
}

void hd_srv_unavailable(struct hd_srv *s, struct hd_answer *a, const struct hd_err *err)
{
    /* a failure that set no message still says what happened */
    if (err && err->msg[0])
        hd_log_error(s->log, "serve: %s", err->msg);
    else
        hd_log_error(s->log, "serve: the store failed without a reason (error code %d)",
                     err ? err->code : 0);
    a->status = 503;
    a->type = "text/plain; charset=utf-8";
    hd_buf_adds(&a->body, "the service cannot reach its database: try again later\n");
}

/* The contact's locale and consent; -1 after answering 503 (store down). */
static int contact(struct hd_srv *s, struct hd_unsub *u, int *status, struct hd_answer *a)
{
    struct hd_err err = {0};
    char locale[64] = "";
    struct hd_store *st = hd_srv_store(s, &err);
    int rc = st ? hd_store_link_contact(st, u->tok.contact, u->tok.message, u->tok.channel,
                                        u->tok.category, locale, sizeof locale, status, &err)
                : HD_E_STORE;
    if (rc == HD_E_NOTFOUND) {
        *status = HD_CONSENT_OPTED_OUT; /* erased: nothing more goes to them */
        u->gone = true;
        return 0;
    }
    if (rc < 0) {
        hd_srv_unavailable(s, a, &err);
        return -1;
    }
    if (*locale)
        u->lang = hd_pages_lang(locale);
    return 0;
}

/* The page's data; preferences is the preference centre's link, relative
 * (../p/TOKEN) so that it holds behind any public_url path; none for a
 * deleted contact, whose preferences are gone with it. */
json_t *hd_unsub_about(const struct hd_unsub *u, bool already)
{
    char buf[128], prefs[HD_TOKEN_MAX + 8];
    snprintf(prefs, sizeof prefs, "../p/%s", u->text);
    return json_pack("{s:s,s:s,s:s,s:b,s:s?}", "what",
                     what(u->lang, u->tok.channel, u->tok.category, buf, sizeof buf), "channel",
                     hd_channel_name(u->tok.channel), "category", hd_category_name(u->tok.category),
                     "already", already, "preferences", u->gone ? NULL : prefs);
}

void hd_unsub_get(struct hd_srv *s, struct hd_unsub *u, struct hd_answer *a)
{
    int status = 0;
    if (u->fault) {
        hd_unsub_invalid(s, u, true, a);
        return;
    }
    pthread_mutex_lock(&s->mu);
    int rc = contact(s, u, &status, a);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0)
        return;
    bool already = status == HD_CONSENT_OPTED_OUT;
    hd_srv_page(s, a, 200, already ? PAGE_DONE : PAGE_CONFIRM, u->lang, hd_unsub_about(u, already));
}

void hd_unsub_note(struct hd_srv *s, const struct hd_token *t)
{
    hd_log_info(s->log, "serve: contact %lld opted out of %s %s (link of message %lld)",
                (long long)t->contact, hd_category_name(t->category), hd_channel_name(t->channel),
                (long long)t->message);
}

bool hd_unsub_is_oneclick(const char *body, size_t len, const char *ctype)
{
    return (len == strlen(rfc_body) && memcmp(body, rfc_body, len) == 0) ||
           hd_form_multipart_has(ctype, body, len, "List-Unsubscribe", "One-Click");
}

static void unsubscribed(struct hd_answer *a)
{
    a->status = 200;
    a->type = "text/plain; charset=utf-8";
    hd_buf_adds(&a->body, "unsubscribed\n");
}

void hd_unsub_clicked(struct hd_srv *s, const struct hd_click *c, struct hd_answer *a)
{
    if (c->rc < 0) {
        struct hd_err err = {0};
        hd_err_set(&err, c->rc, "the opt-out was not recorded");
        pthread_mutex_lock(&s->mu);
        hd_srv_unavailable(s, a, &err);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    unsubscribed(a);
}

void hd_unsub_post(struct hd_srv *s, struct hd_unsub *u, const char *body, size_t len,
                   const char *ctype, struct hd_answer *a)
{
    bool from_page = len == strlen(page_body) && memcmp(body, page_body, len) == 0;
    bool rfc = hd_unsub_is_oneclick(body, len, ctype);
    if (u->fault) {
        hd_unsub_invalid(s, u, from_page, a);
        return;
    }
    if (!rfc && !from_page) {
        a->status = 400;
        a->type = "text/plain; charset=utf-8";
        hd_buf_adds(&a->body, "the body must be List-Unsubscribe=One-Click (RFC 8058), "
                              "form-urlencoded or multipart/form-data\n");
        return;
    }
    struct hd_err err = {0};
    bool changed = false;
    int status = 0, rc;
    pthread_mutex_lock(&s->mu);
    struct hd_store *st = hd_srv_store(s, &err);
    struct hd_link_change c = {u->tok.contact,        u->tok.message,       u->tok.channel,
                               u->tok.category,       HD_CONSENT_OPTED_OUT, "unsubscribe",
                               hd_clock_now(s->clock)};
    rc = st ? hd_store_link_consent(st, &c, &changed, &err) : HD_E_STORE;
    if (rc < 0)
        hd_srv_unavailable(s, a, &err);
    else
        rc = contact(s, u, &status, a);
    if (rc == 0 && changed)
        hd_unsub_note(s, &u->tok);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0)
        return;
    if (rfc) {
        unsubscribed(a);
        return;
    }
    hd_srv_page(s, a, 200, PAGE_DONE, u->lang, hd_unsub_about(u, !changed));
}
