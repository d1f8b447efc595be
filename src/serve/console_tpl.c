/* console_tpl: the console's templates (issue 21). The list shows every
 * template of [herald] templates with what `herald template lint` finds
 * (hd_tpl_lint after hd_preview_lint_setup, as the CLI does). A
 * template's page previews it for a locale, a variant and a real contact
 * (found by its id, else by email or phone through the segment engine, so
 * no new query), rendered strictly by hd_preview_run, the function
 * `herald template preview` prints: the email's subject and text part,
 * its HTML in a sandboxed frame, the SMS with its encoding, segments and
 * cost, the push as a phone shows it, the inbox message, and errors at
 * their line and column. The frame's own answer
 * (templates/NAME/html) is the HTML alone under a policy of its own: a
 * CSP sandbox without scripts, nothing fetched but data: images and
 * inline styles, and framed only by the console (frame-ancestors 'self',
 * X-Frame-Options SAMEORIGIN; the console's pages say 'none'). The
 * store's mutex is held only to find the contact; templates are read and
 * rendered without it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/dispatch.h"
#include "herald/tpl.h"
#include "console_int.h"

#define Q_MAX 256 /* the longest locale, variant or contact the form takes */

static const char frame_csp[] = "sandbox; default-src 'none'; img-src data:; "
                                "style-src 'unsafe-inline'; frame-ancestors 'self'";

/* ---- the list ---- */

static void lint_issue(void *ud, const struct hd_tpl_issue *is)
{
    json_t *list = ud;
    json_array_append_new(
        list, json_pack("{s:b,s:s,s:s}", "error", is->error, "where", is->where, "msg", is->msg));
}

static json_t *channel_words(int lang, unsigned channels)
{
    struct hd_buf b;
    hd_buf_init(&b);
    for (int ch = 0; ch < HD_CH_COUNT; ch++)
        if (channels & (1u << ch))
            hd_buf_addf(&b, "%s%s",
                        !b.len            ? ""
                        : lang == LANG_ZH ? "、"
                                          : ", ",
                        hd_pages_channel(lang, ch));
    json_t *s = json_stringn(b.data ? b.data : "", b.len);
    hd_buf_release(&b);
    return s;
}

static json_t *joined(const char *const *v, size_t n)
{
    struct hd_buf b;
    hd_buf_init(&b);
    for (size_t i = 0; i < n; i++)
        hd_buf_addf(&b, "%s%s", i ? ", " : "", v[i]);
    json_t *s = json_string(b.len ? b.data : "-");
    hd_buf_release(&b);
    return s;
}

/* One template's row: what it offers and its lint findings. */
static json_t *template_row(struct hd_tpl_set *set, const char *name, int lang)
{
    json_t *issues = json_array(), *o;
    int errors = hd_tpl_lint(set, name, lint_issue, issues);
    const struct hd_tpl *t;
    struct hd_tpl_info info;
    o = json_pack("{s:s,s:o,s:i,s:i,s:b}", "name", name, "url",
                  hd_con_url("/console/templates/", name), "errors", errors, "notes",
                  (int)json_array_size(issues) - errors, "ok", json_array_size(issues) == 0);
    json_object_set_new(o, "issues", issues);
    json_object_set_new(o, "bad", json_boolean(errors > 0));
    json_object_set_new(o, "one_error", json_boolean(errors == 1));
    json_object_set_new(o, "one_note", json_boolean(json_array_size(issues) - errors == 1));
    if (hd_tpl_get(set, name, &t, NULL) == 0) {
        hd_tpl_get_info(t, &info);
        json_object_set_new(o, "description", json_string(info.description));
        json_object_set_new(o, "category", json_string(hd_pages_category(lang, info.category)));
        json_object_set_new(o, "channels", channel_words(lang, info.channels));
        json_object_set_new(o, "locales", joined(info.locales, info.nlocales));
        json_object_set_new(o, "variants", joined(info.variants, info.nvariants));
    }
    return o;
}

static json_t *templates_data(struct hd_con *c, struct hd_err *err)
{
    struct hd_tpl_set *set = NULL;
    char **names = NULL;
    size_t n = 0;
    if (hd_tpl_set_open(c->s->cfg->templates, &set, err) < 0 ||
        hd_tpl_set_names(set, &names, &n, err) < 0) {
        hd_tpl_set_free(set);
        return NULL;
    }
    hd_preview_lint_setup(c->s->cfg, set);
    json_t *list = json_array(), *partials = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(list, template_row(set, names[i], c->lang));
        free(names[i]);
    }
    free(names);
    hd_tpl_lint_partials(set, lint_issue, partials);
    hd_tpl_set_free(set);
    return json_pack("{s:o,s:b,s:b,s:o}", "templates", list, "none", n == 0, "has_partials",
                     json_array_size(partials) > 0, "partials", partials);
}

void hd_con_templates(struct hd_con *c)
{
    struct hd_err err = {0};
    json_t *data = templates_data(c, &err);
    if (!data) {
        hd_log_error(c->s->log, "serve: console: templates: %s", err.msg);
        hd_con_plain(c->a, 500, "the templates folder cannot be read (see the service's log)\n");
        return;
    }
    hd_con_page(c, 200, PAGE_CONSOLE_TEMPLATES, data);
}

/* ---- a template's preview ---- */

/* One preview: the query, the template, the contact and what rendered. */
struct view {
    const char *name, *locale, *variant, *contact; /* the query's ("" when absent) */
    struct hd_tpl_set *set;
    const struct hd_tpl *t;
    struct hd_tpl_info info;
    struct hd_contact k;
    bool found;          /* k is a stored contact */
    const char *problem; /* why there is no preview, in words for the page */
    struct hd_err perr;  /* the template's own error (a file that does not parse) */
    struct hd_fmt *fmt;
    json_t *data;
    struct hd_tpl_req req;
    struct hd_preview pv;
};

static const char *query(const struct hd_con *c, const char *key)
{
    const char *v = c->r->arg ? c->r->arg(c->r->ud, key) : NULL;
    return v && strlen(v) < Q_MAX ? v : "";
}

static void view_release(struct view *v)
{
    hd_preview_release(&v->pv);
    json_decref(v->data);
    hd_fmt_free(v->fmt);
    hd_contact_release(&v->k);
    hd_tpl_set_free(v->set);
}

static int first_contact(void *ud, const struct hd_contact *k)
{
    *(char **)ud = hd_xstrdup(k->ext_id);
    return 1;
}

/* The contact's id for an email (any case) or phone given instead of an
 * id, as the contacts page's search finds it (it was a segment rule
 * `email == "..."`, which missed an address typed in capitals: a review),
 * or the first contact when none is given. */
static int contact_id(struct hd_store *st, const char *q, char **id, struct hd_err *err)
{
    *id = NULL;
    int rc = *q ? hd_store_contact_search(st, q, 1, first_contact, id, err)
                : hd_store_contact_each(st, 1, first_contact, id, err);
    return rc < 0 ? rc : 0;
}

/* v->k from the query's contact: its id, else its email or phone, else
 * the first contact (s->mu held); HD_E_NOTFOUND when none is. */
static int lookup(struct hd_store *st, struct view *v, struct hd_err *err)
{
    char *id = NULL;
    int rc = *v->contact ? hd_store_contact_get(st, v->contact, &v->k, err) : HD_E_NOTFOUND;
    if (rc != HD_E_NOTFOUND)
        return rc;
    hd_contact_release(&v->k);
    memset(&v->k, 0, sizeof v->k);
    if ((rc = contact_id(st, v->contact, &id, err)) == 0)
        rc = id ? hd_store_contact_get(st, id, &v->k, err) : HD_E_NOTFOUND;
    free(id);
    return rc;
}

/* v->k for the query (with the store's mutex held); -1 after answering
 * 503. */
static int view_contact(struct hd_con *c, struct view *v)
{
    struct hd_err err = {0};
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    int rc = st ? lookup(st, v, &err) : HD_E_STORE;
    if (rc < 0 && rc != HD_E_NOTFOUND)
        hd_srv_unavailable(c->s, c->a, &err);
    pthread_mutex_unlock(&c->s->mu);
    if (rc < 0 && rc != HD_E_NOTFOUND)
        return -1;
    v->found = rc == 0;
    if (!v->found)
        v->problem = *v->contact ? "no_contact" : "no_contacts";
    return 0;
}

/* Whether s is "" or one of list's n values. */
static bool one_of(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; *s && i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return !*s;
}

/* The template and the preview of the query; -1 after answering. */
static int view_open(struct hd_con *c, struct view *v, const char *name)
{
    struct hd_err err = {0};
    v->name = name;
    v->locale = query(c, "locale");
    v->variant = query(c, "variant");
    v->contact = query(c, "contact");
    if (hd_tpl_set_open(c->s->cfg->templates, &v->set, &err) < 0) {
        hd_log_error(c->s->log, "serve: console: templates: %s", err.msg);
        hd_con_plain(c->a, 500, "the templates folder cannot be read (see the service's log)\n");
        return -1;
    }
    int rc = hd_tpl_get(v->set, name, &v->t, &v->perr);
    if (rc == HD_E_NOTFOUND) {
        hd_con_plain(c->a, 404, "no such template\n");
        return -1;
    }
    if (rc < 0) { /* a file that does not parse: the page says where */
        v->problem = "broken";
        return 0;
    }
    hd_tpl_get_info(v->t, &v->info);
    if (!one_of(v->locale, v->info.locales, v->info.nlocales) ||
        !one_of(v->variant, v->info.variants, v->info.nvariants)) {
        v->problem = "bad_choice";
        return 0;
    }
    if (view_contact(c, v) < 0)
        return -1;
    if (!v->found)
        return 0;
    v->fmt = hd_fmt_new();
    int64_t now = hd_clock_now(c->s->clock);
    v->data = hd_preview_data(c->s->cfg, now, &v->k);
    hd_tpl_req_init(&v->req, &v->k, c->s->cfg, now, v->data, v->fmt);
    if (*v->locale)
        v->req.locale = v->locale;
    v->req.variant = *v->variant ? v->variant : NULL;
    hd_preview_init(&v->pv, NULL, NULL);
    hd_preview_run(&v->pv, v->t, -1, &v->req);
    return 0;
}

/* The query again, for the frame's address: locale, variant, contact. */
static json_t *frame_url(const struct view *v)
{
    struct hd_buf u;
    const char *keys[] = {"locale", "variant", "contact"};
    const char *vals[] = {v->locale, v->variant, v->k.ext_id ? v->k.ext_id : ""};
    hd_buf_init(&u);
    hd_buf_adds(&u, "/console/templates/");
    hd_buf_add_uri(&u, v->name, strlen(v->name));
    hd_buf_adds(&u, "/html");
    for (size_t i = 0; i < 3; i++) {
        hd_buf_addf(&u, "%c%s=", i ? '&' : '?', keys[i]);
        hd_buf_add_uri(&u, vals[i], strlen(vals[i]));
    }
    json_t *s = json_stringn(u.data, u.len);
    hd_buf_release(&u);
    return s;
}

static json_t *choices(const char *const *list, size_t n, const char *chosen)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            a, json_pack("{s:s,s:b}", "value", list[i], "selected", strcmp(list[i], chosen) == 0));
    return a;
}

static const char *part(const struct view *v, const char *name)
{
    return json_string_value(json_object_get(v->pv.parts, name));
}

/* {"a": part a, ...} of the parts named, or NULL when none rendered. */
static json_t *parts_of(const struct view *v, const char *const *names, const char *const *keys,
                        size_t n)
{
    json_t *o = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *s = part(v, names[i]);
        if (!s)
            continue;
        if (!o)
            o = json_object();
        json_object_set_new(o, keys[i], json_string(s));
    }
    return o;
}

static void add_sms(struct hd_con *c, const struct view *v, json_t *out)
{
    static const char *const names[] = {"sms", "sms.approved_text", "sms.template_code"};
    static const char *const keys[] = {"text", "approved", "code"};
    json_t *sms = parts_of(v, names, keys, 3);
    if (!sms)
        return;
    if (v->pv.sms) {
        json_int_t segs = json_integer_value(json_object_get(v->pv.sms, "segments"));
        char cost[32];
        snprintf(cost, sizeof cost, "%.4f", hd_preview_sms_cost(c->s->cfg, segs));
        json_object_update(sms, v->pv.sms);
        json_object_set_new(sms, "cost", json_string(cost));
    }
    json_object_set_new(out, "sms", sms);
}

static void add_parts(struct hd_con *c, const struct view *v, json_t *out)
{
    static const char *const email[] = {"email.subject", "email.text"};
    static const char *const email_k[] = {"subject", "text"};
    static const char *const push[] = {"push.title", "push.body"};
    static const char *const push_k[] = {"title", "body"};
    static const char *const inbox[] = {"inbox.title", "inbox.body", "inbox.url",
                                        "inbox.body.html"};
    static const char *const inbox_k[] = {"title", "body", "url", "html"};
    json_t *e = parts_of(v, email, email_k, 2), *p = parts_of(v, push, push_k, 2);
    if (e && part(v, "email.html"))
        json_object_set_new(e, "frame", frame_url(v));
    if (e)
        json_object_set_new(out, "email", e);
    add_sms(c, v, out);
    if (p && v->pv.push)
        json_object_update(p, v->pv.push);
    if (p)
        json_object_set_new(out, "push", p);
    json_t *in = parts_of(v, inbox, inbox_k, 4);
    if (in)
        json_object_set_new(out, "inbox", in);
}

static json_t *errors_of(const struct view *v)
{
    json_t *a = json_array(), *e;
    size_t i;
    json_array_foreach(v->pv.errors, i, e)
    {
        json_t *w = json_array_get(v->pv.where, i), *o = json_pack("{s:O}", "message", e);
        if (json_integer_value(json_object_get(w, "line")) > 0)
            json_object_set(o, "at", w);
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *view_page(struct hd_con *c, const struct view *v)
{
    json_t *d = json_pack("{s:s,s:o,s:s,s:s,s:s}", "name", v->name, "url",
                          hd_con_url("/console/templates/", v->name), "contact", v->contact,
                          "locale", v->locale, "variant", v->variant);
    if (v->problem) {
        json_object_set_new(d, v->problem, json_true());
        json_object_set_new(d, "problem", json_true());
    }
    if (v->perr.code) {
        json_t *b = json_pack("{s:s}", "message", v->perr.msg);
        if (v->perr.line > 0)
            json_object_set_new(
                b, "at", json_pack("{s:i,s:i}", "line", v->perr.line, "column", v->perr.column));
        json_object_set_new(d, "broken_at", b);
    }
    if (v->t) {
        json_object_set_new(d, "description", json_string(v->info.description));
        json_object_set_new(d, "locales", choices(v->info.locales, v->info.nlocales, v->locale));
        json_object_set_new(d, "variants",
                            choices(v->info.variants, v->info.nvariants, v->variant));
    }
    if (!v->found)
        return d;
    json_object_set_new(d, "shown",
                        json_pack("{s:s,s:s,s:s}", "id", v->k.ext_id, "locale",
                                  v->req.locale ? v->req.locale : "", "zone",
                                  v->req.timezone ? v->req.timezone : ""));
    add_parts(c, v, d);
    json_object_set_new(d, "errors", errors_of(v));
    json_object_set_new(d, "has_errors", json_boolean(json_array_size(v->pv.errors) > 0));
    json_object_set_new(d, "warnings", json_incref(v->pv.warnings));
    json_object_set_new(d, "has_warnings", json_boolean(json_array_size(v->pv.warnings) > 0));
    return d;
}

static const char *template_name(const struct hd_con *c)
{
    return c->r->rest + strlen("templates/");
}

void hd_con_template(struct hd_con *c)
{
    struct view v = {0};
    if (view_open(c, &v, template_name(c)) == 0)
        hd_con_page(c, 200, PAGE_CONSOLE_TEMPLATE, view_page(c, &v));
    view_release(&v);
}

/* The email's HTML as the frame shows it, under the frame's own policy. */
void hd_con_template_html(struct hd_con *c)
{
    struct view v = {0};
    char name[Q_MAX];
    const char *rest = template_name(c);
    size_t n = strcspn(rest, "/");
    snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), rest);
    if (view_open(c, &v, name) == 0) {
        const char *html = v.found ? part(&v, "email.html") : NULL;
        if (!html) {
            hd_con_plain(c->a, 404, "no email.html to show for this template and contact\n");
        } else {
            c->a->status = 200;
            c->a->type = "text/html; charset=utf-8";
            c->a->csp = frame_csp;
            c->a->same_origin_frame = true;
            hd_buf_adds(&c->a->body, html);
        }
    }
    view_release(&v);
}
