/* console_admin: the console's audit of actions and its admin pages (issue
 * 21). /console/audit lists what `herald audit actions` lists, through the
 * same store function and filter (who, action, since, until as query
 * parameters), newest first, paged by keyset: a page of AUDIT_PAGE_ROWS
 * ends with a link before=ID (its last row's id), so that a deep page
 * reads what the first does; any role may read it.
 *
 * /console/users and /console/apikeys are an admin's, to read and to post
 * (the route's least role, checked before a form's body is read); a form
 * names its action (add, role, remove; create, revoke) and goes through
 * hd_con_form's CSRF check first, then the library functions `herald
 * user` and `herald apikey` call (hd_serve_user_add hashes with Argon2id;
 * hd_serve_apikey_create keeps only the key's SHA-256), so the checks and
 * their messages are the CLI's. A refused form is the page again with the
 * message (nothing written); a done one is noted in the audit and
 * redirected (303) to the page. An admin cannot remove themself or change
 * their own role (another admin does), so a console always keeps one. A
 * new key is shown once, on the answer to its form (every answer is
 * Cache-Control: no-store), and wiped from this file's memory after; the
 * passwords of a form are wiped before it is released. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "herald/serve.h"
#include "herald/time.h"
#include "console_int.h"

#define AUDIT_PAGE_ROWS 50

static const char *const audit_params[] = {"who", "action", "since", "until"};
#define NAUDIT (sizeof audit_params / sizeof audit_params[0])
static const char *const scopes[] = {"send", "contacts", "events", "read", "inbox"};
#define NSCOPES (sizeof scopes / sizeof scopes[0])

static const char *given(const char *v)
{
    return v && *v ? v : NULL;
}

static const char *query(const struct hd_con *c, const char *key)
{
    return c->r->arg ? c->r->arg(c->r->ud, key) : NULL;
}

/* Whether a form's failure is its own (bad input: the page again with
 * the message), not the store's; and the status that says so. */
static bool refused(int rc)
{
    return rc == HD_E_INVALID || rc == HD_E_USAGE || rc == HD_E_PARSE || rc == HD_E_CONFIG ||
           rc == HD_E_EXISTS || rc == HD_E_NOTFOUND;
}

static int refused_status(int rc)
{
    return rc == HD_E_NOTFOUND ? 404 : rc == HD_E_EXISTS ? 409 : 400;
}

/* ---- the audit ---- */

struct audit_rows {
    json_t *list;
    int64_t shown, last;
    bool more, admin;
    bool by_who; /* the page is filtered by who */
};

static int audit_row(void *ud, const struct hd_action *x)
{
    struct audit_rows *w = ud;
    char at[24];
    /* what was typed as an unknown name may be a password typed in the
     * wrong field: an admin's to see, and to search for (a viewer's who=
     * filter found such a row, so any guess could be confirmed: a review) */
    bool hidden = !w->admin && strcmp(x->action, "login_failed") == 0 && x->detail &&
                  strcmp(x->detail, "unknown user") == 0;
    if (hidden && w->by_who)
        return 0;
    if (w->shown == AUDIT_PAGE_ROWS) {
        w->more = true;
        return 1;
    }
    w->shown++;
    w->last = x->id;
    hd_time_format_iso(x->at, at, sizeof at);
    const char *who = hidden ? "(an unknown name)" : x->who;
    json_array_append_new(
        w->list, json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)x->id, "at", at,
                           "when", (json_int_t)x->at, "who", who, "action", x->action, "detail",
                           x->detail ? x->detail : "", "from", x->addr ? x->addr : ""));
    return 0;
}

/* path?the given filters[&before=id] */
static json_t *audit_link(const char *const *v, int64_t before)
{
    struct hd_buf b;
    char sep = '?';
    hd_buf_init(&b);
    hd_buf_adds(&b, "/console/audit");
    for (size_t i = 0; i < NAUDIT; i++) {
        if (!given(v[i]))
            continue;
        hd_buf_addf(&b, "%c%s=", sep, audit_params[i]);
        hd_buf_add_uri(&b, v[i], strlen(v[i]));
        sep = '&';
    }
    if (before)
        hd_buf_addf(&b, "%cbefore=%" PRId64, sep, before);
    json_t *s = json_stringn(b.data, b.len);
    hd_buf_release(&b);
    return s;
}

/* The query's filter into f; false with the reason in out when bad. */
static bool audit_filter(const struct hd_con *c, const char *const *v, struct hd_action_filter *f,
                         json_t *out)
{
    const char *before = query(c, "before");
    int64_t id = 0;
    bool id_ok = !given(before) || hd_con_digits(before, strlen(before), &id);
    f->who = given(v[0]);
    f->action = given(v[1]);
    if ((given(v[2]) && hd_time_parse_iso(v[2], &f->since, NULL) < 0) ||
        (given(v[3]) && hd_time_parse_iso(v[3], &f->until, NULL) < 0)) {
        json_object_set_new(out, "error",
                            json_string("since and until take an ISO 8601 time or date "
                                        "(2026-11-22 or 2026-11-22T09:00:00Z)"));
        return false;
    }
    if (!id_ok) {
        json_object_set_new(out, "error", json_string("before takes an action's id"));
        return false;
    }
    f->before_id = id;
    f->limit = AUDIT_PAGE_ROWS + 1;
    return true;
}

static json_t *audit_data(struct hd_con *c, struct hd_store *st, struct hd_err *err)
{
    const char *v[NAUDIT];
    struct hd_action_filter f = {0};
    json_t *out = json_object(), *filter = json_object();
    for (size_t i = 0; i < NAUDIT; i++) {
        v[i] = query(c, audit_params[i]);
        json_object_set_new(filter, audit_params[i], json_string(v[i] ? v[i] : ""));
    }
    json_object_set_new(out, "filter", filter);
    if (!audit_filter(c, v, &f, out))
        return out;
    struct audit_rows w = {
        .list = json_array(), .admin = c->sess.user.role >= HD_ROLE_ADMIN, .by_who = f.who != NULL};
    if (hd_store_action_each(st, &f, audit_row, &w, err) < 0) {
        json_decref(w.list);
        json_decref(out);
        return NULL;
    }
    json_object_set_new(out, "rows", w.list);
    json_object_set_new(out, "no_rows", json_boolean(w.shown == 0));
    if (f.before_id)
        json_object_set_new(out, "newest", audit_link(v, 0));
    if (w.more)
        json_object_set_new(out, "older", audit_link(v, w.last));
    return out;
}

void hd_con_audit(struct hd_con *c)
{
    json_t *data = hd_con_load(c, audit_data);
    if (data)
        hd_con_page(c, json_object_get(data, "error") ? 400 : 200, PAGE_CONSOLE_AUDIT, data);
}

/* ---- users ---- */

static int user_row(void *ud, const struct hd_user *u)
{
    json_t *list = ((json_t **)ud)[0];
    const char *me = json_string_value(((json_t **)ud)[1]);
    json_t *roles = json_array();
    for (int r = 0; r < HD_ROLE_COUNT; r++)
        json_array_append_new(
            roles, json_pack("{s:s, s:b}", "value", hd_role_name(r), "selected", r == u->role));
    json_array_append_new(
        list, json_pack("{s:s, s:s, s:o, s:s, s:s, s:I, s:b}", "name", u->name, "role",
                        hd_role_name(u->role), "roles", roles, "lang", u->lang, "zone", u->zone,
                        "created", (json_int_t)u->created_at, "me", strcmp(u->name, me) == 0));
    return 0;
}

static json_t *users_data(struct hd_con *c, struct hd_store *st, struct hd_err *err)
{
    json_t *list = json_array(), *me = json_string(c->sess.user.name);
    json_t *ud[2] = {list, me};
    int rc = hd_store_user_each(st, user_row, ud, err);
    json_decref(me);
    if (rc < 0) {
        json_decref(list);
        return NULL;
    }
    return json_pack("{s:o}", "users", list);
}

/* The page again with a refused form's message (and its fields but the
 * passwords); status from the error's kind. */
static void users_refused(struct hd_con *c, const struct hd_err *e, const struct hd_form *f)
{
    json_t *data = hd_con_load(c, users_data);
    if (!data)
        return;
    const char *name = hd_form_get(f, "name"), *role = hd_form_get(f, "role");
    const char *act = hd_form_get(f, "action");
    json_object_set_new(data, "error", json_string(e->msg));
    if (act && strcmp(act, "add") == 0) { /* the add form as it was sent */
        char key[24];
        json_object_set_new(data, "new_name", json_string(name ? name : ""));
        snprintf(key, sizeof key, "new_%s", hd_role_parse(role) >= 0 ? role : "none");
        json_object_set_new(data, key, json_true());
    }
    hd_con_page(c, refused_status(e->code), PAGE_CONSOLE_USERS, data);
}

static void users_get_saved(struct hd_con *c, json_t *data)
{
    const char *done = query(c, "done");
    if (done &&
        (strcmp(done, "add") == 0 || strcmp(done, "role") == 0 || strcmp(done, "remove") == 0)) {
        char key[16];
        snprintf(key, sizeof key, "done_%s", done);
        json_object_set_new(data, key, json_true());
        const char *name = query(c, "name");
        json_object_set_new(data, "done_name", json_string(name ? name : ""));
    }
}

void hd_con_users_get(struct hd_con *c)
{
    json_t *data = hd_con_load(c, users_data);
    if (!data)
        return;
    users_get_saved(c, data);
    hd_con_page(c, 200, PAGE_CONSOLE_USERS, data);
}

/* Wipes the form's password fields before it is released. */
static void wipe_passwords(struct hd_form *f)
{
    for (size_t i = 0; i < f->n; i++)
        if (strncmp(f->v[i].name, "password", 8) == 0)
            OPENSSL_cleanse(f->v[i].value, strlen(f->v[i].value));
}

/* A new user's password hashed before the store's mutex is taken
 * (Argon2id's tenth of a second would hold every click and page), when
 * the form adds one with two equal passwords; else hash stays "" and the
 * add, if any, gives the CLI's message. */
static void pre_hash(const struct hd_form *f, char hash[HD_PWHASH_MAX])
{
    const char *act = hd_form_get(f, "action"), *pw = hd_form_get(f, "password");
    const char *again = hd_form_get(f, "password2");
    if (act && strcmp(act, "add") == 0 && pw && again && strcmp(pw, again) == 0 &&
        hd_console_hash(pw, strlen(pw), hash, NULL) < 0)
        hash[0] = '\0';
}

/* One of the users form's actions with the store (s->mu held); the
 * audit's action and detail into what and detail when done. */
static int user_action(struct hd_con *c, struct hd_store *st, const struct hd_form *f,
                       const char *hash, const char **what, char *detail, size_t size,
                       struct hd_err *err)
{
    const char *act = hd_form_get(f, "action"), *name = hd_form_get(f, "name");
    const char *role = hd_form_get(f, "role"), *pw = hd_form_get(f, "password");
    const char *again = hd_form_get(f, "password2");
    if (!act || !name)
        return hd_err_set(err, HD_E_INVALID, "bad form: give action and name");
    bool me = strcmp(name, c->sess.user.name) == 0;
    snprintf(detail, size, "%s", name);
    if (strcmp(act, "add") == 0) {
        *what = "user_add";
        if (hd_role_parse(role) < 0)
            return hd_err_set(err, HD_E_INVALID, "unknown role '%s' (viewer, operator or admin)",
                              role ? role : "");
        if (!pw || !again || strcmp(pw, again) != 0)
            return hd_err_set(err, HD_E_INVALID, "the two passwords differ: nothing was changed");
        return hash[0]
                   ? hd_serve_user_add_hashed(st, name, role, hash, hd_clock_now(c->s->clock), err)
                   : hd_serve_user_add(st, name, role, pw, hd_clock_now(c->s->clock), err);
    }
    if (strcmp(act, "role") == 0) {
        *what = "user_role";
        snprintf(detail, size, "%s: %s", name, role ? role : "");
        return me ? hd_err_set(err, HD_E_INVALID,
                               "you cannot change your own role: another admin can")
                  : hd_serve_user_role(st, name, role, err);
    }
    if (strcmp(act, "remove") == 0) {
        *what = "user_remove";
        return me ? hd_err_set(err, HD_E_INVALID, "you cannot remove yourself: another admin can")
                  : hd_store_user_remove(st, name, err);
    }
    return hd_err_set(err, HD_E_INVALID, "unknown action '%s' (add, role or remove)", act);
}

void hd_con_users_post(struct hd_con *c)
{
    struct hd_err err = {0};
    struct hd_form f;
    char detail[160];
    const char *what = NULL;
    char hash[HD_PWHASH_MAX] = "";
    if (hd_con_form(c, &f) < 0)
        return;
    pre_hash(&f, hash);
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    int rc = st ? user_action(c, st, &f, hash, &what, detail, sizeof detail, &err) : HD_E_STORE;
    OPENSSL_cleanse(hash, sizeof hash);
    if (rc == 0)
        hd_con_note(c, st, c->sess.user.name, what, detail);
    else if (!refused(rc))
        hd_srv_unavailable(c->s, c->a, &err);
    pthread_mutex_unlock(&c->s->mu);
    wipe_passwords(&f);
    if (rc == 0) {
        hd_log_info(c->s->log, "serve: console: %s by '%s': %s", what, c->sess.user.name, detail);
        hd_con_redirect_to(c,
                           strcmp(what, "user_add") == 0    ? "/console/users?done=add&name="
                           : strcmp(what, "user_role") == 0 ? "/console/users?done=role&name="
                                                            : "/console/users?done=remove&name=",
                           hd_form_get(&f, "name"));
    } else if (!c->a->status) {
        users_refused(c, &err, &f);
    }
    hd_form_release(&f);
}

/* ---- API keys ---- */

static int key_row(void *ud, const struct hd_apikey *k)
{
    json_array_append_new(ud, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:b}", "name", k->name,
                                        "prefix", k->prefix, "scopes", k->scopes, "rate", k->rate,
                                        "created", (json_int_t)k->created_at, "revoked",
                                        (json_int_t)k->revoked_at, "live", k->revoked_at == 0));
    return 0;
}

static json_t *keys_data(struct hd_con *c, struct hd_store *st, struct hd_err *err)
{
    json_t *list = json_array(), *boxes = json_array();
    (void)c;
    if (hd_store_apikey_each(st, key_row, list, err) < 0) {
        json_decref(list);
        json_decref(boxes);
        return NULL;
    }
    for (size_t i = 0; i < NSCOPES; i++)
        json_array_append_new(boxes, json_pack("{s:s}", "scope", scopes[i]));
    return json_pack("{s:o, s:o, s:b}", "keys", list, "scope_boxes", boxes, "no_keys",
                     json_array_size(list) == 0);
}

void hd_con_apikeys_get(struct hd_con *c)
{
    json_t *data = hd_con_load(c, keys_data);
    if (!data)
        return;
    const char *done = query(c, "done");
    if (done && strcmp(done, "revoke") == 0)
        json_object_set_new(data, "done_revoke", json_true());
    hd_con_page(c, 200, PAGE_CONSOLE_APIKEYS, data);
}

/* The form's checked scopes as the CLI's comma list ("" when none, or one
 * that is not a scope: the library then names it). */
static void form_scopes(const struct hd_form *f, struct hd_buf *out)
{
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->v[i].name, "scope") != 0)
            continue;
        if (out->len)
            hd_buf_adds(out, ",");
        hd_buf_adds(out, f->v[i].value);
    }
}

/* One of the keys form's actions (s->mu held); key the new one. */
static int key_action(struct hd_con *c, struct hd_store *st, const struct hd_form *f,
                      const char **what, char *detail, size_t size, char key[HD_APIKEY_TEXT],
                      struct hd_err *err)
{
    const char *act = hd_form_get(f, "action"), *name = hd_form_get(f, "name");
    const char *rate = given(hd_form_get(f, "rate"));
    int64_t now = hd_clock_now(c->s->clock);
    if (!act || !name)
        return hd_err_set(err, HD_E_INVALID, "bad form: give action and name");
    if (strcmp(act, "revoke") == 0) {
        *what = "apikey_revoke";
        snprintf(detail, size, "%s", name);
        return hd_store_apikey_revoke(st, name, now, err);
    }
    if (strcmp(act, "create") != 0)
        return hd_err_set(err, HD_E_INVALID, "unknown action '%s' (create or revoke)", act);
    struct hd_buf sc;
    hd_buf_init(&sc);
    form_scopes(f, &sc);
    *what = "apikey_create";
    snprintf(detail, size, "%s (%s, %s)", name, sc.len ? sc.data : "", rate ? rate : "100/s");
    int rc = sc.len ? hd_serve_apikey_create(st, name, sc.data, rate, now, key, err)
                    : hd_err_set(err, HD_E_INVALID,
                                 "create needs a scope (send,contacts,events,read,inbox)");
    hd_buf_release(&sc);
    return rc;
}

static void keys_refused(struct hd_con *c, const struct hd_err *e, const struct hd_form *f)
{
    json_t *data = hd_con_load(c, keys_data);
    if (!data)
        return;
    const char *name = hd_form_get(f, "name"), *rate = hd_form_get(f, "rate");
    json_object_set_new(data, "error", json_string(e->msg));
    json_object_set_new(data, "new_name", json_string(name ? name : ""));
    json_object_set_new(data, "new_rate", json_string(rate ? rate : ""));
    hd_con_page(c, refused_status(e->code), PAGE_CONSOLE_APIKEYS, data);
}

/* The answer that shows a new key, once. */
static void key_shown(struct hd_con *c, const char *name, const char *key)
{
    json_t *data = json_pack("{s:s, s:s}", "name", name, "key", key);
    hd_con_page(c, 201, PAGE_CONSOLE_APIKEY, data);
}

void hd_con_apikeys_post(struct hd_con *c)
{
    struct hd_err err = {0};
    struct hd_form f;
    char detail[256], key[HD_APIKEY_TEXT] = "";
    const char *what = NULL;
    if (hd_con_form(c, &f) < 0)
        return;
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    int rc = st ? key_action(c, st, &f, &what, detail, sizeof detail, key, &err) : HD_E_STORE;
    if (rc == 0)
        hd_con_note(c, st, c->sess.user.name, what, detail);
    else if (!refused(rc))
        hd_srv_unavailable(c->s, c->a, &err);
    pthread_mutex_unlock(&c->s->mu);
    if (rc == 0 && key[0]) {
        hd_log_info(c->s->log, "serve: console: API key '%s' created by '%s'",
                    hd_form_get(&f, "name"), c->sess.user.name);
        key_shown(c, hd_form_get(&f, "name"), key);
    } else if (rc == 0) {
        hd_log_info(c->s->log, "serve: console: API key '%s' revoked by '%s'",
                    hd_form_get(&f, "name"), c->sess.user.name);
        hd_con_redirect(c->a, "/console/apikeys?done=revoke");
    } else if (!c->a->status) {
        keys_refused(c, &err, &f);
    }
    hd_wipe(key, sizeof key);
    hd_form_release(&f);
}
