/* console_seg: the console's segments (issue 21): the list with each
 * segment's count, and a rule editor (segments/new, segments/NAME) whose
 * count and sample of matching contacts follow the rule as one types. The
 * editor's script asks segments/check?rule=... (JSON: count, sample, or
 * an error with its line and column), debounced; without a script the
 * form's Check button answers the same numbers in the page (a GET for a
 * viewer, a POST beside Save for an operator, so that the CSRF field never
 * lands in a URL). A rule is read as `herald segment define` reads it
 * (hd_seg_load_checked: an attribute no import has seen is an error, in
 * words naming the closest), counted by hd_store_seg_count and sampled by
 * hd_store_seg_each in id order; saving calls hd_seg_define, the CLI's
 * own, and is recorded in the audit of actions. A rule is at most
 * SEG_RULE_MAX bytes (its form then fits the console's body limit
 * escaped), a longer one is refused with 413 before it is parsed. A
 * parse error is shown on the rule itself: the text before the place,
 * the character at it, and the rest, each escaped by Mustache. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/segment.h"
#include "console_int.h"

#define SEG_RULE_MAX 1024 /* bytes; x3 escaped + csrf + name < CONSOLE_BODY_MAX */
#define SEG_SAMPLE 5      /* contacts shown beside the count */

/* ---- checking a rule ---- */

struct check {
    int64_t n;
    json_t *sample;
    struct hd_err err; /* err.code != 0: the rule is refused (err.msg says why) */
};

static int sample_row(void *ud, const struct hd_contact *k)
{
    json_array_append_new(ud,
                          json_pack("{s:s,s:s,s:s}", "id", k->ext_id, "email",
                                    k->email ? k->email : "", "phone", k->phone ? k->phone : ""));
    return 0;
}

/* Parses, counts and samples rule into k (s->mu held); a refusal is k's,
 * and only the store's own failure is returned. */
static int check_rule(struct hd_con *c, struct hd_store *st, const char *name, const char *rule,
                      struct check *k)
{
    struct hd_seg_node *ast = NULL;
    int64_t now = hd_clock_now(c->s->clock);
    int rc = hd_seg_load_checked(st, name, rule, now, false, &ast, &k->err);
    k->sample = json_array();
    if (rc == 0 && (rc = hd_store_seg_count(st, ast, now, &k->n, &k->err)) == 0)
        rc = hd_store_seg_each(st, ast, now, SEG_SAMPLE, false, sample_row, k->sample, &k->err);
    hd_segast_free(ast);
    if (rc == HD_E_NOMEM || rc == HD_E_IO)
        return rc;
    return 0;
}

/* The first line of a refusal's message (the rest repeats the rule). */
static json_t *first_line(const char *msg)
{
    return json_stringn(msg, strcspn(msg, "\n"));
}

/* The rule's text split at the error's line and column (characters). */
static json_t *marked(const char *rule, int line, int column)
{
    const char *p = rule;
    for (int l = 1; l < line && *p; p++)
        if (*p == '\n')
            l++;
    for (int col = 1; col < column && *p && *p != '\n'; col++)
        for (p++; ((unsigned char)*p & 0xC0) == 0x80; p++)
            ;
    size_t at = *p && *p != '\n' ? 1 : 0;
    while (at && ((unsigned char)p[at] & 0xC0) == 0x80)
        at++;
    return json_pack("{s:s%,s:s%,s:s}", "before", rule, (size_t)(p - rule), "at", at ? p : " ",
                     at ? at : 1, "after", p + at);
}

static json_t *check_json(const struct check *k, const char *rule)
{
    if (k->err.code) {
        json_t *e = json_pack("{s:o,s:i,s:i}", "message", first_line(k->err.msg), "line",
                              k->err.line, "column", k->err.column);
        if (k->err.line > 0) {
            json_object_set_new(e, "mark", marked(rule, k->err.line, k->err.column));
            json_object_set_new(e, "at", json_true());
        }
        return json_pack("{s:o}", "error", e);
    }
    return json_pack("{s:I,s:O,s:b}", "count", (json_int_t)k->n, "sample", k->sample, "none",
                     json_array_size(k->sample) == 0);
}

/* The rule without the carriage returns a textarea sends. */
static char *rule_text(const char *v)
{
    char *s = hd_xstrdup(v ? v : ""), *o = s;
    for (const char *p = s; *p; p++)
        if (*p != '\r')
            *o++ = *p;
    *o = '\0';
    return s;
}

/* GET segments/check?rule=...[&name=...]: the check as JSON. */
void hd_con_segment_check(struct hd_con *c)
{
    struct hd_err err = {0};
    struct check k = {0};
    const char *rule = c->r->arg ? c->r->arg(c->r->ud, "rule") : NULL;
    const char *name = c->r->arg ? c->r->arg(c->r->ud, "name") : NULL;
    if (!rule || strlen(rule) > SEG_RULE_MAX) {
        hd_con_plain(c->a, rule ? 413 : 400,
                     rule ? "the rule is too long\n" : "give the rule as ?rule=\n");
        return;
    }
    char *text = rule_text(rule);
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    int rc = st ? check_rule(c, st, name && hd_seg_name_valid(name) ? name : NULL, text, &k)
                : HD_E_STORE;
    if (rc < 0)
        hd_srv_unavailable(c->s, c->a, st ? &k.err : &err);
    pthread_mutex_unlock(&c->s->mu);
    if (rc == 0) {
        json_t *o = check_json(&k, text);
        char *s = json_dumps(o, JSON_COMPACT);
        c->a->status = 200;
        c->a->type = "application/json";
        hd_buf_adds(&c->a->body, s);
        free(s);
        json_decref(o);
    }
    json_decref(k.sample);
    free(text);
}

/* ---- the list ---- */

struct list {
    struct hd_con *c;
    struct hd_store *st;
    json_t *rows;
};

static int list_row(void *ud, const char *name, const char *expr, int64_t updated)
{
    struct list *w = ud;
    struct check k = {0};
    char t[32];
    hd_time_format_iso(updated, t, sizeof t);
    int rc = check_rule(w->c, w->st, name, expr, &k);
    json_t *o = json_pack("{s:s,s:o,s:s,s:s}", "name", name, "url",
                          hd_con_url("/console/segments/", name), "rule", expr, "changed", t);
    if (k.err.code)
        json_object_set_new(o, "error", first_line(k.err.msg));
    else
        json_object_set_new(o, "count", json_integer(k.n));
    json_array_append_new(w->rows, o);
    json_decref(k.sample);
    return rc;
}

static json_t *segments_data(struct hd_con *c, struct hd_store *st, struct hd_err *err)
{
    struct list w = {c, st, json_array()};
    if (hd_store_segment_each(st, list_row, &w, err) < 0) {
        json_decref(w.rows);
        return NULL;
    }
    return json_pack("{s:o,s:b}", "segments", w.rows, "none", json_array_size(w.rows) == 0);
}

void hd_con_segments(struct hd_con *c)
{
    json_t *data = hd_con_load(c, segments_data);
    if (data)
        hd_con_page(c, 200, PAGE_CONSOLE_SEGMENTS, data);
}

/* ---- the editor ---- */

/* The segment the path names, or NULL for segments/new. */
static const char *segment_name(const struct hd_con *c)
{
    const char *n = c->r->rest + strlen("segments/");
    return strcmp(c->r->rest, "segments/new") == 0 ? NULL : n;
}

/* One editor: the path's segment, the rule shown and whether to check it. */
struct editor {
    const char *name; /* the path's, or the form's new name */
    const char *rule; /* given: a form's or the query's; NULL: the stored one */
    bool is_new, check;
    const char *fault; /* a save refused: its message */
};

static json_t *editor_page(struct hd_con *c, struct hd_store *st, const struct editor *e,
                           struct hd_err *err)
{
    char *stored = NULL;
    struct check k = {0};
    if (!e->is_new && hd_store_segment_get(st, e->name, &stored, err) < 0)
        return NULL;
    const char *rule = e->rule ? e->rule : stored ? stored : "";
    json_t *d = json_pack("{s:s,s:b,s:s,s:i}", "name", e->name ? e->name : "", "is_new", e->is_new,
                          "rule", rule, "max", SEG_RULE_MAX);
    json_object_set_new(d, "action", json_string("/console/segments/new"));
    if (!e->is_new)
        json_object_set_new(d, "action", hd_con_url("/console/segments/", e->name));
    if (e->fault)
        json_object_set_new(d, "fault", json_string(e->fault));
    if ((e->check || !e->is_new) && *rule && strlen(rule) <= SEG_RULE_MAX &&
        check_rule(c, st, e->is_new ? NULL : e->name, rule, &k) == 0) {
        json_t *r = check_json(&k, rule); /* the page shows what the script would */
        json_object_update(d, r);
        json_object_set_new(d, "ok", json_boolean(!k.err.code));
        json_decref(r);
    }
    json_decref(k.sample);
    free(stored);
    return d;
}

/* hd_con_load's loader cannot take an argument: the editor rides in a
 * struct beside the console's. */
struct ed_con {
    struct hd_con c;
    const struct editor *e;
};

static json_t *editor_load(struct hd_con *c, struct hd_store *st, struct hd_err *err)
{
    return editor_page(c, st, ((struct ed_con *)c)->e, err);
}

static void editor_answer(struct hd_con *c, int status, const struct editor *e)
{
    struct ed_con ec = {*c, e};
    json_t *data = hd_con_load(&ec.c, editor_load);
    OPENSSL_cleanse(&ec.c.sess.csrf, sizeof ec.c.sess.csrf); /* the copy's secrets */
    OPENSSL_cleanse(ec.c.sid, sizeof ec.c.sid);
    if (data)
        hd_con_page(c, status, PAGE_CONSOLE_SEGMENT, data);
}

void hd_con_segment_get(struct hd_con *c)
{
    const char *rule = c->r->arg ? c->r->arg(c->r->ud, "rule") : NULL;
    const char *name = c->r->arg ? c->r->arg(c->r->ud, "name") : NULL;
    char *text = rule ? rule_text(rule) : NULL;
    struct editor e = {segment_name(c), text, !segment_name(c), rule != NULL, NULL};
    if (e.is_new)
        e.name = name && strlen(name) <= 64 ? name : "";
    if (text && strlen(text) > SEG_RULE_MAX)
        hd_con_plain(c->a, 413, "the rule is too long\n");
    else
        editor_answer(c, 200, &e);
    free(text);
}

/* Saves the form's rule as `herald segment define [--replace]` does
 * (s->mu held); 0, or the refusal in err (*missing: the path's segment is
 * gone). */
static int save(struct hd_con *c, struct hd_store *st, const struct editor *e, bool *missing,
                struct hd_err *err)
{
    char *stored = NULL;
    int64_t n = 0;
    int rc = 0;
    if (!e->is_new && (rc = hd_store_segment_get(st, e->name, &stored, err)) < 0) {
        *missing = rc == HD_E_NOTFOUND;
        return rc;
    }
    free(stored);
    rc = hd_seg_define(st, e->name, e->rule, hd_clock_now(c->s->clock), !e->is_new, false, &n, err);
    if (rc == 0) {
        hd_con_note(c, st, c->sess.user.name, e->is_new ? "segment_define" : "segment_replace",
                    e->name);
        hd_log_info(c->s->log, "serve: console: '%s' %s segment '%s' from %s", c->sess.user.name,
                    e->is_new ? "defined" : "changed", e->name, c->r->addr);
    }
    return rc;
}

static bool store_fault(int rc)
{
    return rc == HD_E_STORE || rc == HD_E_NOMEM || rc == HD_E_IO;
}

static void save_answer(struct hd_con *c, struct editor *e)
{
    struct hd_err err = {0};
    bool missing = false;
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    int rc = st ? save(c, st, e, &missing, &err) : HD_E_STORE;
    if (store_fault(rc))
        hd_srv_unavailable(c->s, c->a, &err);
    pthread_mutex_unlock(&c->s->mu);
    if (rc == 0) {
        hd_con_redirect_to(c, "/console/segments/", e->name);
    } else if (missing) {
        hd_con_plain(c->a, 404, "no such segment\n");
    } else if (!store_fault(rc)) {
        err.msg[strcspn(err.msg, "\n")] = '\0'; /* the rule and caret are the page's */
        e->fault = err.msg;
        e->check = true;
        editor_answer(c, rc == HD_E_EXISTS ? 409 : 422, e);
    }
}

/* POST segments/new or segments/NAME: do=check shows the numbers, do=save
 * stores the rule (an operator's, its CSRF field checked first). */
void hd_con_segment_post(struct hd_con *c)
{
    struct hd_form f;
    if (hd_con_form(c, &f) < 0)
        return;
    const char *rule = hd_form_get(&f, "rule"), *act = hd_form_get(&f, "do");
    const char *name = hd_form_get(&f, "name");
    char *text = rule_text(rule);
    struct editor e = {segment_name(c), text, !segment_name(c), true, NULL};
    if (e.is_new)
        e.name = name ? name : "";
    if (!rule || !act || (strcmp(act, "check") != 0 && strcmp(act, "save") != 0))
        hd_con_plain(c->a, 400, "bad form body: give rule and do=check or do=save\n");
    else if (strlen(text) > SEG_RULE_MAX)
        hd_con_plain(c->a, 413, "the rule is too long\n");
    else if (strcmp(act, "check") == 0)
        editor_answer(c, 200, &e);
    else
        save_answer(c, &e);
    free(text);
    hd_form_release(&f);
}
