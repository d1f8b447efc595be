/* console: the web console at /console/ (issue 21), server-rendered pages
 * for the people who run campaigns. A route table names each page, its
 * methods and the least role that may use it; every request is checked
 * against it (the session's user and role read from the store each
 * time), and one without a live session is sent to /console/login.
 *
 * Login: GET /console/login sets a pre-session cookie (a random nonce) and
 * puts an HMAC of it under the link secret (hd_token_csrf, domain
 * separated by a label) in the form; a POST without both, or with another
 * pair, is 403 before anything is read. A name and password then go
 * through a throttle (CONSOLE_FAILS failed logins in CONSOLE_WINDOW per
 * account, or per client address, answer 429 with Retry-After), read from
 * audit_actions where every failure lands; an unknown name verifies a
 * dummy hash (made by the first sign-in) so that the answer takes as long as for a known one. The
 * store's mutex is not held while Argon2 runs. A success makes a session:
 * 32 random bytes in an HttpOnly, SameSite=Strict cookie scoped to
 * /console/ (Secure when public_url is https or herald serves TLS itself),
 * of which the store keeps
 * the SHA-256, with [serve] console_session's expiry and a random CSRF
 * secret that every state-changing form carries (POST /console/logout).
 * Every answer carries a Content-Security-Policy that allows no inline
 * script and no other origin. A route has a least role to read it and
 * one to post to it: a campaign's page (campaigns/NAME) is a viewer's to
 * read, its pause, resume and cancel an operator's, checked before the
 * form is read (hd_console_gate), then the session's CSRF secret
 * (hd_con_form). Before any page runs, its path, query and form are
 * checked to be UTF-8 (text_ok), the only text jansson and the stores
 * take: other bytes are 400 naming the field. The pages' own data and
 * handlers live in console_*.c, sharing console_int.h. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "herald/valid.h"
#include "console_int.h"

#define CONSOLE_FAILS 5
#define CONSOLE_WINDOW (15 * 60)
#define PRE_AGE 3600 /* seconds a login form's nonce lives */
#define COOKIE_SESSION "herald_session"
#define COOKIE_PRE "herald_login"
#define LOGIN_LABEL "herald console login v1:"

/* img-src data: also covers the pages' "no icon", <link rel="icon"
 * href="data:,">, without which a browser asks for /favicon.ico */
static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "frame-src 'self'; img-src 'self' data:; form-action 'self'; "
                          "frame-ancestors 'none'";

static void login_get(struct hd_con *c);
static void login_post(struct hd_con *c);
static void logout(struct hd_con *c);
static void stylesheet(struct hd_con *c);
static void script(struct hd_con *c);

/* One page: its path after /console/ (one ending in '/' is a prefix,
 * followed by a name), methods and least role to read it and to post to
 * it (-1: open). */
static const struct page_route {
    const char *path;
    const char *allow;
    int role, post_role;
    hd_con_fn get, post;
} routes[] = {
    {"", "GET, HEAD", HD_ROLE_VIEWER, HD_ROLE_VIEWER, hd_con_overview, NULL},
    {"login", "GET, HEAD, POST", -1, -1, login_get, login_post},
    {"logout", "POST", HD_ROLE_VIEWER, HD_ROLE_VIEWER, NULL, logout},
    /* before campaigns/, whose prefix it matches: "new" is no campaign's name */
    {"campaigns/new", "GET, HEAD, POST", HD_ROLE_OPERATOR, HD_ROLE_OPERATOR, hd_con_new_get,
     hd_con_new_post},
    {"campaigns/", "GET, HEAD, POST", HD_ROLE_VIEWER, HD_ROLE_OPERATOR, hd_con_campaign_get,
     hd_con_campaign_post},
    {"log", "GET, HEAD", HD_ROLE_VIEWER, HD_ROLE_VIEWER, hd_con_log, NULL},
    {"contacts", "GET, HEAD", HD_ROLE_VIEWER, HD_ROLE_VIEWER, hd_con_contacts, NULL},
    {"contacts/", "GET, HEAD, POST", HD_ROLE_VIEWER, HD_ROLE_OPERATOR, hd_con_contact_get,
     hd_con_contact_post},
    {"templates", "GET, HEAD", HD_ROLE_VIEWER, HD_ROLE_VIEWER, hd_con_templates, NULL},
    {"templates/*/html", "GET, HEAD", HD_ROLE_VIEWER, HD_ROLE_VIEWER, hd_con_template_html, NULL},
    {"templates/", "GET, HEAD", HD_ROLE_VIEWER, HD_ROLE_VIEWER, hd_con_template, NULL},
    {"segments", "GET, HEAD", HD_ROLE_VIEWER, HD_ROLE_VIEWER, hd_con_segments, NULL},
    {"segments/check", "GET, HEAD", HD_ROLE_VIEWER, HD_ROLE_VIEWER, hd_con_segment_check, NULL},
    {"segments/new", "GET, HEAD, POST", HD_ROLE_VIEWER, HD_ROLE_OPERATOR, hd_con_segment_get,
     hd_con_segment_post},
    {"segments/", "GET, HEAD, POST", HD_ROLE_VIEWER, HD_ROLE_OPERATOR, hd_con_segment_get,
     hd_con_segment_post},
    {"static/console.js", "GET, HEAD", -1, -1, script, NULL},
    {"log.csv", "GET, HEAD", HD_ROLE_VIEWER, HD_ROLE_VIEWER, hd_con_log_csv, NULL},
    {"settings", "GET, HEAD, POST", HD_ROLE_VIEWER, HD_ROLE_VIEWER, hd_con_settings_get,
     hd_con_settings_post},
    {"audit", "GET, HEAD", HD_ROLE_VIEWER, HD_ROLE_VIEWER, hd_con_audit, NULL},
    {"users", "GET, HEAD, POST", HD_ROLE_ADMIN, HD_ROLE_ADMIN, hd_con_users_get, hd_con_users_post},
    {"apikeys", "GET, HEAD, POST", HD_ROLE_ADMIN, HD_ROLE_ADMIN, hd_con_apikeys_get,
     hd_con_apikeys_post},
    {"static/console.css", "GET, HEAD", -1, -1, stylesheet, NULL},
};
#define NROUTES (sizeof routes / sizeof routes[0])

/* Whether rest is pattern's: a '*' in it stands for one name (no '/'). */
static bool matches(const char *pattern, const char *rest)
{
    const char *star = strchr(pattern, '*');
    size_t pre = (size_t)(star - pattern), name = 0;
    if (strncmp(rest, pattern, pre) != 0)
        return false;
    name = strcspn(rest + pre, "/");
    return name > 0 && strcmp(rest + pre + name, star + 1) == 0;
}

static const struct page_route *route_of(const char *rest)
{
    for (size_t i = 0; i < NROUTES; i++) {
        size_t n = strlen(routes[i].path);
        if (strchr(routes[i].path, '*')) {
            if (matches(routes[i].path, rest))
                return &routes[i];
            continue;
        }
        bool prefix = n && routes[i].path[n - 1] == '/';
        if (prefix ? strncmp(rest, routes[i].path, n) == 0 && rest[n] && !strchr(rest + n, '/')
                   : strcmp(rest, routes[i].path) == 0)
            return &routes[i];
    }
    return NULL;
}

bool hd_console_posts(const char *rest)
{
    const struct page_route *r = route_of(rest);
    return r && r->post;
}

int hd_console_init(struct hd_srv *s, struct hd_err *err)
{
    (void)err;
    s->console_secure =
        s->cfg->serve.tls_cert_file ||
        (s->cfg->serve.public_url && strncmp(s->cfg->serve.public_url, "https://", 8) == 0);
    return 0;
}

/* The hash an unknown user's password is checked against, made by the
 * first sign-in (whoever's, so that the first answer takes as long for a
 * known name as for an unknown one) rather than at start, where Argon2's
 * tenth of a second delayed every `herald serve`; "" when no random bytes
 * came, and nothing then verifies. */
static const char *dummy_hash(struct hd_srv *s)
{
    unsigned char junk[24];
    char pw[49];
    struct hd_err err = {0};
    pthread_mutex_lock(&s->console_mu);
    if (!s->console_dummy[0] && RAND_bytes(junk, sizeof junk) == 1) {
        for (size_t i = 0; i < sizeof junk; i++)
            snprintf(pw + 2 * i, 3, "%02x", junk[i]);
        if (hd_console_hash(pw, strlen(pw), s->console_dummy, &err) < 0)
            s->console_dummy[0] = '\0';
        OPENSSL_cleanse(pw, sizeof pw);
        OPENSSL_cleanse(junk, sizeof junk);
    }
    pthread_mutex_unlock(&s->console_mu);
    return s->console_dummy;
}

void hd_con_plain(struct hd_answer *a, int status, const char *msg)
{
    a->status = status;
    a->type = "text/plain; charset=utf-8";
    a->body.len = 0;
    hd_buf_adds(&a->body, msg);
}

void hd_con_redirect(struct hd_answer *a, const char *to)
{
    a->status = 303;
    a->type = "text/plain; charset=utf-8";
    snprintf(a->location, sizeof a->location, "%s", to);
    hd_buf_addf(&a->body, "see %s\n", to);
}

static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static bool random_hex(char out[65])
{
    unsigned char b[32];
    if (RAND_bytes(b, sizeof b) != 1)
        return false;
    hex(b, sizeof b, out);
    OPENSSL_cleanse(b, sizeof b);
    return true;
}

/* The value of cookie name in the Cookie header when it is 64 hex
 * digits (all the console sets), else "". */
static void cookie(const struct hd_console_req *r, const char *name, char out[65])
{
    const char *h = r->header(r->ud, "Cookie");
    size_t n = strlen(name);
    out[0] = '\0';
    for (const char *p = h; p && *p;) {
        p += strspn(p, " \t;");
        if (strncmp(p, name, n) == 0 && p[n] == '=' &&
            strspn(p + n + 1, "0123456789abcdef") == 64 &&
            (!p[n + 65] || p[n + 65] == ';' || p[n + 65] == ' ')) {
            memcpy(out, p + n + 1, 64);
            out[64] = '\0';
            return;
        }
        p = strchr(p, ';');
    }
}

static void set_cookie(struct hd_con *c, int i, const char *name, const char *value, int64_t age)
{
    snprintf(c->a->cookies[i], sizeof c->a->cookies[i],
             "%s=%s; Path=/console/; Max-Age=%lld; HttpOnly; SameSite=Strict%s", name, value,
             (long long)age, c->s->console_secure ? "; Secure" : "");
}

static void id_hash(const char sid[65], unsigned char out[32])
{
    SHA256((const unsigned char *)sid, 64, out);
}

/* Records an action (call with s->mu held); a failure is logged only. */
void hd_con_note(struct hd_con *c, struct hd_store *st, const char *who, const char *what,
                 const char *detail)
{
    struct hd_err err = {0};
    struct hd_action act = {0, hd_clock_now(c->s->clock), who, what, detail, c->r->addr};
    if (!st || hd_store_action_add(st, &act, &err) < 0)
        hd_log_error(c->s->log, "serve: console: recording '%s': %s", what, err.msg);
}

/* The session of the request's cookie, into c (authed); -1 after
 * answering 503 when the store is away. */
static int session(struct hd_con *c)
{
    struct hd_err err = {0};
    unsigned char h[32];
    cookie(c->r, COOKIE_SESSION, c->sid);
    if (!c->sid[0])
        return 0;
    id_hash(c->sid, h);
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    int rc =
        st ? hd_store_session_find(st, h, hd_clock_now(c->s->clock), &c->sess, &err) : HD_E_STORE;
    if (rc < 0 && rc != HD_E_NOTFOUND)
        hd_srv_unavailable(c->s, c->a, &err);
    pthread_mutex_unlock(&c->s->mu);
    c->authed = rc == 0;
    if (c->authed && c->sess.user.lang[0]) /* the user's setting wins over the browser's */
        c->lang = hd_pages_lang(c->sess.user.lang);
    return rc < 0 && rc != HD_E_NOTFOUND ? -1 : 0;
}

/* The shared header's nav item a page marks (aria-current: "page" on the
 * item's own page, "true" on a page under it). */
static const struct {
    int page;
    const char *key, *current;
} nav_marks[] = {
    {PAGE_CONSOLE_OVERVIEW, "cur_overview", "page"},
    {PAGE_CONSOLE_CAMPAIGN, "cur_overview", "true"},
    {PAGE_CONSOLE_NEW, "cur_new", "page"},
    {PAGE_CONSOLE_LOG, "cur_log", "page"},
    {PAGE_CONSOLE_CONTACTS, "cur_contacts", "page"},
    {PAGE_CONSOLE_CONTACT, "cur_contacts", "true"},
    {PAGE_CONSOLE_TEMPLATES, "cur_templates", "page"},
    {PAGE_CONSOLE_TEMPLATE, "cur_templates", "true"},
    {PAGE_CONSOLE_SEGMENTS, "cur_segments", "page"},
    {PAGE_CONSOLE_SEGMENT, "cur_segments", "true"},
    {PAGE_CONSOLE_AUDIT, "cur_audit", "page"},
    {PAGE_CONSOLE_USERS, "cur_users", "page"},
    {PAGE_CONSOLE_APIKEYS, "cur_apikeys", "page"},
    {PAGE_CONSOLE_APIKEY, "cur_apikeys", "true"},
    {PAGE_CONSOLE_SETTINGS, "cur_settings", "page"},
};

/* What the shared header (partials/console-head) shows of the user. */
static void head_data(const struct hd_con *c, int which, json_t *data)
{
    for (size_t i = 0; i < sizeof nav_marks / sizeof nav_marks[0]; i++)
        if (nav_marks[i].page == which)
            json_object_set_new(data, nav_marks[i].key, json_string(nav_marks[i].current));
    json_object_set_new(data, "user", json_string(c->sess.user.name));
    json_object_set_new(data, "role", json_string(hd_role_name(c->sess.user.role)));
    json_object_set_new(data, "role_word",
                        json_string(hd_console_role_word(c->lang, c->sess.user.role)));
    json_object_set_new(data, "csrf", json_string(c->sess.csrf));
    json_object_set_new(data, "operator", json_boolean(c->sess.user.role >= HD_ROLE_OPERATOR));
    json_object_set_new(data, "admin", json_boolean(c->sess.user.role >= HD_ROLE_ADMIN));
}

void hd_con_page(struct hd_con *c, int status, int which, json_t *data)
{
    if (!hd_pages_has(c->s->pages, which)) {
        json_decref(data);
        hd_con_plain(c->a, 503,
                     "the console's pages are missing: copy templates/pages/console-*.mustache "
                     "and console.css into [herald] templates/pages\n");
        return;
    }
    /* the times of the page in the user's zone, else the service's */
    const char *zone = c->authed && c->sess.user.zone[0] ? c->sess.user.zone
                       : c->s->cfg->timezone             ? c->s->cfg->timezone
                                                         : "UTC";
    json_object_set_new(data, "zone", json_string(zone));
    if (c->authed)
        head_data(c, which, data);
    hd_con_words(data, c->lang);
    hd_srv_page(c->s, c->a, status, which, c->lang, data);
}

json_t *hd_con_load(struct hd_con *c, hd_con_load_fn fn)
{
    struct hd_err err = {0};
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    json_t *data = st ? fn(c, st, &err) : NULL;
    if (!data && err.code == HD_E_NOTFOUND) {
        hd_con_plain(c->a, 404, "");
        hd_buf_addf(&c->a->body, "%s\n", err.msg[0] ? err.msg : "not found");
    } else if (!data && st && !err.code) { /* no store's failure: one of ours */
        hd_log_error(c->s->log, "serve: console: the page /console/%s failed to be made",
                     c->r->rest);
        hd_con_plain(c->a, 500, "internal error: the page failed to be made\n");
    } else if (!data) {
        hd_srv_unavailable(c->s, c->a, &err);
    }
    pthread_mutex_unlock(&c->s->mu);
    return data;
}

bool hd_con_digits(const char *v, size_t len, int64_t *out)
{
    int64_t n = 0;
    if (!v || len < 1 || len > 18)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        n = n * 10 + (v[i] - '0');
    }
    *out = n;
    return true;
}

json_t *hd_con_url(const char *prefix, const char *name)
{
    struct hd_buf u;
    hd_buf_init(&u);
    hd_buf_adds(&u, prefix);
    hd_buf_add_uri(&u, name, strlen(name));
    json_t *s = json_stringn(u.data, u.len);
    hd_buf_release(&u);
    return s;
}

void hd_con_redirect_to(struct hd_con *c, const char *prefix, const char *name)
{
    struct hd_buf u;
    hd_buf_init(&u);
    hd_buf_adds(&u, prefix);
    hd_buf_add_uri(&u, name, strlen(name));
    hd_con_redirect(c->a, u.len < sizeof c->a->location ? u.data : "/console/");
    hd_buf_release(&u);
}

static void not_allowed(struct hd_answer *a, const struct page_route *rt)
{
    a->allow = rt->allow;
    hd_con_plain(a, 405, "method not allowed\n");
}

/* Whether c's session may use route rt (post: its form) with fn; else c's
 * answer says why: the sign-in page, 404, 405, 403. */
static bool allowed(struct hd_con *c, const struct page_route *rt, bool post, hd_con_fn fn)
{
    if (session(c) < 0)
        return false;
    if (!c->authed)
        hd_con_redirect(c->a, "/console/login");
    else if (!rt)
        hd_con_plain(c->a, 404, "not found\n");
    else if (!fn)
        not_allowed(c->a, rt);
    else if (c->sess.user.role < (post ? rt->post_role : rt->role))
        hd_con_plain(c->a, 403, "forbidden: your role may not do this\n");
    else
        return true;
    return false;
}

/* The first field, of the query or the form, whose name or value is not
 * UTF-8 (text_ok). */
struct not_text {
    bool found, in_name; /* in_name: the field's name itself */
    char name[72];       /* the field's name, cut at a character */
};

static int utf8_field(void *ud, const char *key, const char *value)
{
    struct not_text *t = ud;
    size_t n = strlen(key);
    if (hd_valid_utf8(key, n) && hd_valid_utf8(value, strlen(value)))
        return 0;
    t->found = true;
    t->in_name = !hd_valid_utf8(key, n);
    for (n = n > 64 ? 64 : n; n && ((unsigned char)key[n] & 0xC0) == 0x80; n--)
        ;
    snprintf(t->name, sizeof t->name, "%.*s", (int)n, key);
    return 1;
}

/* Whether the request's path, query and form are UTF-8, checked here for
 * every page before it runs: the pages hand them to jansson, which takes
 * no other text (a value it refused was a NULL page, answered 503 with an
 * empty error: a review), and to the store. Else 400 naming the field. A
 * body that is no form is left to the page's own answer. */
static bool text_ok(struct hd_con *c)
{
    const struct hd_console_req *r = c->r;
    struct not_text t = {0};
    if (!hd_valid_utf8(r->rest, strlen(r->rest))) {
        hd_con_plain(c->a, 400, "bad request: the path is not UTF-8\n");
        return false;
    }
    if (!(r->args && r->args(r->ud, utf8_field, &t)) && r->body)
        hd_form_parse(r->body, r->len, utf8_field, &t, NULL);
    if (!t.found)
        return true;
    if (t.in_name) {
        hd_con_plain(c->a, 400, "bad request: a field's name is not UTF-8\n");
    } else {
        hd_con_plain(c->a, 400, "");
        hd_buf_addf(&c->a->body, "bad request: the value of %s is not UTF-8\n", t.name);
    }
    return false;
}

void hd_console_answer(struct hd_srv *s, const struct hd_console_req *r, struct hd_answer *a)
{
    struct hd_con c = {.s = s, .r = r, .a = a};
    const struct page_route *rt = route_of(r->rest);
    bool post = strcmp(r->method, "POST") == 0;
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    hd_con_fn fn = !rt ? NULL : post ? rt->post : get ? rt->get : NULL;
    a->csp = csp;
    c.lang = hd_pages_lang(r->header(r->ud, "Accept-Language"));
    if (rt && rt->role < 0) { /* open pages need no session */
        if (!fn)
            not_allowed(a, rt);
        else if (text_ok(&c))
            fn(&c);
        return;
    }
    if (allowed(&c, rt, post, fn) && text_ok(&c))
        fn(&c);
    OPENSSL_cleanse(&c.sess.csrf, sizeof c.sess.csrf);
    OPENSSL_cleanse(c.sid, sizeof c.sid);
}

bool hd_console_gate(struct hd_srv *s, const struct hd_console_req *r, struct hd_answer *a)
{
    struct hd_con c = {.s = s, .r = r, .a = a};
    const struct page_route *rt = route_of(r->rest);
    a->csp = csp;
    c.lang = hd_pages_lang(r->header(r->ud, "Accept-Language"));
    if (rt && rt->role < 0) /* open pages (the sign-in form) check their own form */
        return true;
    bool ok = allowed(&c, rt, true, rt ? rt->post : NULL);
    OPENSSL_cleanse(&c.sess.csrf, sizeof c.sess.csrf);
    OPENSSL_cleanse(c.sid, sizeof c.sid);
    if (ok)
        hd_buf_release(&a->body);
    return ok;
}

static void stylesheet(struct hd_con *c)
{
    const struct hd_buf *css = hd_pages_css(c->s->pages);
    if (!css) {
        hd_con_plain(c->a, 404, "no console.css in [herald] templates/pages\n");
        return;
    }
    c->a->status = 200;
    c->a->type = "text/css; charset=utf-8";
    hd_buf_add(&c->a->body, css->data, css->len);
}

static void script(struct hd_con *c)
{
    const struct hd_buf *js = hd_pages_js(c->s->pages);
    if (!js) {
        hd_con_plain(c->a, 404, "no console.js in [herald] templates/pages\n");
        return;
    }
    c->a->status = 200;
    c->a->type = "text/javascript; charset=utf-8";
    hd_buf_add(&c->a->body, js->data, js->len);
}

/* ---- login and logout ---- */

static void login_form(struct hd_con *c, int status, const char *error)
{
    char nonce[65], csrf[HD_CSRF_LEN + 1], text[sizeof LOGIN_LABEL + 64];
    if (!random_hex(nonce)) {
        hd_con_plain(c->a, 500, "no random bytes\n");
        return;
    }
    snprintf(text, sizeof text, "%s%s", LOGIN_LABEL, nonce);
    hd_token_csrf(&c->s->keys[0], text, strlen(text), csrf);
    set_cookie(c, 0, COOKIE_PRE, nonce, PRE_AGE);
    json_t *data = json_pack("{s:s}", "csrf", csrf);
    if (error)
        json_object_set_new(data, error, json_true());
    OPENSSL_cleanse(csrf, sizeof csrf);
    hd_con_page(c, status, PAGE_CONSOLE_LOGIN, data);
}

static void login_get(struct hd_con *c)
{
    login_form(c, 200, NULL);
}

/* A login form's fields (borrowed from the parse). */
struct login {
    char name[64];
    char *password; /* heap, wiped */
    size_t pwlen;
    char csrf[HD_CSRF_LEN + 1];
    int n;
    bool unknown, too_long;
};

static int login_field(void *ud, const char *key, const char *value)
{
    struct login *f = ud;
    f->n++;
    if (strcmp(key, "name") == 0) {
        f->too_long |= strlen(value) >= sizeof f->name;
        snprintf(f->name, sizeof f->name, "%s", value);
    } else if (strcmp(key, "password") == 0 && !f->password) {
        f->pwlen = strlen(value);
        f->password = hd_xstrdup(value);
    } else if (strcmp(key, "csrf") == 0) {
        snprintf(f->csrf, sizeof f->csrf, "%s", value);
    } else {
        f->unknown = true;
    }
    return 0;
}

static void login_release(struct login *f)
{
    if (f->password) {
        OPENSSL_cleanse(f->password, f->pwlen);
        free(f->password);
    }
    OPENSSL_cleanse(f, sizeof *f);
}

static bool login_csrf_ok(struct hd_con *c, const struct login *f)
{
    char nonce[65], text[sizeof LOGIN_LABEL + 64];
    cookie(c->r, COOKIE_PRE, nonce);
    if (!nonce[0] || !f->csrf[0])
        return false;
    snprintf(text, sizeof text, "%s%s", LOGIN_LABEL, nonce);
    const struct hd_token_key *k = c->s->keys;
    return hd_token_csrf_ok(&k[0], text, strlen(text), f->csrf) ||
           (k[1].len && hd_token_csrf_ok(&k[1], text, strlen(text), f->csrf));
}

/* The throttle; true after answering 429 (s->mu held). */
static bool throttled(struct hd_con *c, struct hd_store *st, const char *who)
{
    struct hd_err err = {0};
    struct hd_login_failures lf = {0};
    int64_t now = hd_clock_now(c->s->clock);
    if (hd_store_login_failures(st, who, c->r->addr, now - CONSOLE_WINDOW, &lf, &err) < 0) {
        hd_srv_unavailable(c->s, c->a, &err);
        return true;
    }
    if (lf.by_who < CONSOLE_FAILS && lf.by_addr < CONSOLE_FAILS)
        return false;
    int64_t oldest = lf.by_who >= CONSOLE_FAILS ? lf.oldest_who : lf.oldest_addr;
    int64_t wait = oldest + CONSOLE_WINDOW - now;
    c->a->retry_after = wait > 0 ? (int)wait : 1;
    hd_con_plain(c->a, 429, "too many failed logins: try again later\n");
    /* not the name: it may be a password typed in the wrong field (the
     * audit page shows it to admins alone; a review found it here) */
    hd_log_warn(c->s->log,
                "serve: console: login throttled from %s (%lld failed by that name, %lld from "
                "that address, in the window)",
                c->r->addr, (long long)lf.by_who, (long long)lf.by_addr);
    return true;
}

/* A new session for u: the cookie and the row; -1 after answering. */
static int open_session(struct hd_con *c, struct hd_store *st, const struct hd_user *u)
{
    struct hd_err err = {0};
    char sid[65], csrf[65];
    unsigned char h[32];
    int64_t now = hd_clock_now(c->s->clock), age = c->s->cfg->serve.console_session;
    if (!random_hex(sid) || !random_hex(csrf)) {
        hd_con_plain(c->a, 500, "no random bytes\n");
        return -1;
    }
    id_hash(sid, h);
    int rc = hd_store_session_add(st, h, u->id, now, now + age, csrf, &err);
    if (rc < 0)
        hd_srv_unavailable(c->s, c->a, &err);
    else
        set_cookie(c, 0, COOKIE_SESSION, sid, age);
    OPENSSL_cleanse(sid, sizeof sid);
    OPENSSL_cleanse(csrf, sizeof csrf);
    return rc < 0 ? -1 : 0;
}

/* Checks the password against the user's hash, or the dummy one for an
 * unknown user, without the store's mutex. */
static bool check_password(struct hd_con *c, const struct login *f, bool *known)
{
    struct hd_err err = {0};
    struct hd_user u;
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    *known = st && hd_store_user_find(st, f->name, &u, &err) == 0;
    pthread_mutex_unlock(&c->s->mu);
    const char *dummy = dummy_hash(c->s), *hash = *known ? u.hash : dummy;
    bool ok = hd_console_verify(hash, f->password ? f->password : "", f->pwlen) && *known;
    OPENSSL_cleanse(&u, sizeof u);
    return ok;
}

static void login_post(struct hd_con *c)
{
    struct hd_err err = {0};
    struct login f = {0};
    bool known = false;
    if (hd_form_parse(c->r->body, c->r->len, login_field, &f, &err) < 0 || f.unknown) {
        hd_con_plain(c->a, 400, "bad form body: give name, password and csrf\n");
        goto out;
    }
    if (!login_csrf_ok(c, &f)) {
        hd_con_plain(c->a, 403,
                     "forbidden: the form's csrf field is missing or wrong; reload the page\n");
        goto out;
    }
    for (char *p = f.name; *p; p++) /* kept in the audit: printable only */
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            *p = '?';
    /* one login at a time from the throttle's count to its failure's
     * record: logins in flight together would all pass the count */
    pthread_mutex_lock(&c->s->login_mu);
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    bool stop = !st ? (hd_srv_unavailable(c->s, c->a, &err), true) : throttled(c, st, f.name);
    pthread_mutex_unlock(&c->s->mu);
    if (stop) {
        pthread_mutex_unlock(&c->s->login_mu);
        goto out;
    }
    bool ok = !f.too_long && check_password(c, &f, &known);
    pthread_mutex_lock(&c->s->mu);
    struct hd_user u = {0};
    int rc = HD_E_STORE;
    st = hd_srv_store(c->s, &err);
    if (ok && st && (rc = hd_store_user_find(st, f.name, &u, &err)) == 0 &&
        (rc = open_session(c, st, &u)) == 0) {
        hd_con_note(c, st, f.name, "login", hd_role_name(u.role));
        hd_log_info(c->s->log, "serve: console: '%s' logged in from %s", f.name, c->r->addr);
        snprintf(c->a->cookies[1], sizeof c->a->cookies[1],
                 COOKIE_PRE "=; Path=/console/; Max-Age=0; HttpOnly; SameSite=Strict");
        hd_con_redirect(c->a, "/console/");
    } else if (!ok && st) {
        hd_con_note(c, st, f.name, "login_failed", known ? "wrong password" : "unknown user");
    } else if (ok && rc != HD_E_NOTFOUND && !c->a->status) { /* the store failed the password */
        hd_srv_unavailable(c->s, c->a, &err);
    }
    pthread_mutex_unlock(&c->s->mu);
    pthread_mutex_unlock(&c->s->login_mu);
    OPENSSL_cleanse(&u, sizeof u);
    if (!c->a->status) /* a wrong password, or a user removed meanwhile */
        login_form(c, 401, "failed");
out:
    login_release(&f);
}

int hd_con_form(struct hd_con *c, struct hd_form *f)
{
    if (hd_form_collect(c->r->body, c->r->len, f, NULL) < 0) {
        hd_form_release(f);
        hd_con_plain(c->a, 400, "bad form body\n");
        return -1;
    }
    const char *csrf = hd_form_get(f, "csrf");
    if (!csrf || strlen(csrf) != 64 || CRYPTO_memcmp(csrf, c->sess.csrf, 64) != 0) {
        hd_form_release(f);
        hd_con_plain(c->a, 403,
                     "forbidden: the form's csrf field is missing or wrong; reload the page\n");
        return -1;
    }
    return 0;
}

static void logout(struct hd_con *c)
{
    struct hd_err err = {0};
    unsigned char h[32];
    struct hd_form f;
    if (hd_con_form(c, &f) < 0)
        return;
    hd_form_release(&f);
    id_hash(c->sid, h);
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    if (!st || hd_store_session_end(st, h, &err) < 0) {
        hd_srv_unavailable(c->s, c->a, &err);
    } else {
        hd_con_note(c, st, c->sess.user.name, "logout", NULL);
        snprintf(c->a->cookies[0], sizeof c->a->cookies[0],
                 COOKIE_SESSION "=; Path=/console/; Max-Age=0; HttpOnly; SameSite=Strict%s",
                 c->s->console_secure ? "; Secure" : "");
        hd_con_redirect(c->a, "/console/login");
    }
    pthread_mutex_unlock(&c->s->mu);
}
