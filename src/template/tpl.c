/* tpl: template files. Each file is read whole, checked for UTF-8, split into
 * its header and parts, and every part compiled (JSON parts: every string
 * leaf compiled) with positions relative to the file, so that errors read
 * "recall.tmpl:12:9: ...". Partials are compiled on first use and kept per
 * (name, locale). Rendering picks, for a part, the most specific locale file
 * that has it, preferring the variant's version within a file. */
#include "herald/tpl.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "herald/html.h"
#include "herald/json.h"
#include "herald/sms.h"
#include "herald/time.h"
#include "herald/valid.h"

static const char *const part_names[HD_PART_COUNT] = {
    "email.subject",     "email.text",         "email.html",  "sms",
    "push.title",        "push.body",          "push.data",   "push.fcm",
    "push.apns",         "sms.template_code",  "sms.params",  "sms.approved_text",
    "push.click_action", "wechat.template_id", "wechat.data", "wechat.url",
    "wechat.page",       "inbox.title",        "inbox.body",  "inbox.url",
    "inbox.expires"};

const char *hd_tpl_part_name(int part)
{
    return part >= 0 && part < HD_PART_COUNT ? part_names[part] : "?";
}

int hd_tpl_part_parse(const char *s)
{
    for (int i = 0; i < HD_PART_COUNT; i++)
        if (strcmp(s, part_names[i]) == 0)
            return i;
    return -1;
}

int hd_tpl_part_channel(int part)
{
    if (part >= HD_PART_INBOX_TITLE)
        return HD_CH_INBOX;
    if (part >= HD_PART_WECHAT_TEMPLATE_ID)
        return HD_CH_WECHAT;
    return part <= HD_PART_EMAIL_HTML ? HD_CH_EMAIL
           : part == HD_PART_SMS ||
                   (part >= HD_PART_SMS_TEMPLATE_CODE && part <= HD_PART_SMS_APPROVED_TEXT)
               ? HD_CH_SMS
               : HD_CH_PUSH;
}

bool hd_tpl_part_is_json(int part)
{
    return part == HD_PART_PUSH_DATA || part == HD_PART_PUSH_FCM || part == HD_PART_PUSH_APNS ||
           part == HD_PART_SMS_PARAMS || part == HD_PART_WECHAT_DATA;
}

/* ---- structures ------------------------------------------------------------ */

struct part {
    int kind;
    char *variant; /* NULL for the default */
    int line;      /* of the "---" line */
    bool empty;    /* nothing but blank space in the file */
    struct hd_mst *mst;
    json_t *json;         /* JSON parts: the shape */
    struct hd_mst **leaf; /* JSON parts: compiled string leaves, in walk order */
    size_t nleaf;
};

struct tfile {
    char *display; /* "recall.zh-CN.tmpl" */
    char *locale;  /* NULL for the base file */
    char *description, *from, *reply_to;
    int category; /* -1 when not set */
    bool urgent;  /* "urgent: true": quiet hours do not hold it (base file only) */
    struct part *parts;
    size_t nparts;
};

struct hd_tpl {
    char *name;
    struct hd_tpl_set *set;
    struct tfile *files; /* [0] is the base file; the rest sorted by locale */
    size_t nfiles;
    unsigned kinds; /* 1 << part for each part some file has */
};

struct pentry {
    char *key;          /* "name|locale" */
    struct hd_mst *mst; /* NULL: no such partial */
};

struct hd_tpl_set {
    char *dir;
    struct hd_tpl **tpls;
    size_t ntpls;
    struct pentry *partials;
    size_t npartials;
    size_t sms_max; /* lint: the fewest characters an SMS provider accepts; 0: no limit */
    /* lint: each parse error is told here and the parse goes on (NULL: the
     * first error ends it) */
    void (*collect)(void *ud, const struct hd_err *e);
    void *collect_ud;
    char sms_max_who[160];  /* which provider that is */
    /* lint: what a zh-CN marketing SMS must carry; "" for 回T退订 (the
     * configuration refuses a longer one, so it is never cut) */
    char sms_optout_zh[HD_SMS_OPTOUT_MAX + 1];
    struct sms_prov {       /* lint: the SMS channel's providers and what they need */
        char who[160];
        int need; /* enum hd_sms_need */
        size_t max_param;
    } sms_prov[8];
    size_t nsms_prov;
};

static bool valid_name(const char *s)
{
    if (!*s || strlen(s) > 100)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return false;
    return true;
}

/* ---- set --------------------------------------------------------------------- */

int hd_tpl_set_open(const char *dir, struct hd_tpl_set **out, struct hd_err *err)
{
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return hd_err_set(err, HD_E_NOTFOUND,
                          "templates folder '%s' does not exist (set [herald] templates)", dir);
    struct hd_tpl_set *s = hd_xcalloc(1, sizeof *s);
    s->dir = hd_xstrdup(dir);
    *out = s;
    return 0;
}

static void part_release(struct part *p)
{
    free(p->variant);
    hd_mst_free(p->mst);
    json_decref(p->json);
    for (size_t i = 0; i < p->nleaf; i++)
        hd_mst_free(p->leaf[i]);
    free(p->leaf);
}

static void tfile_release(struct tfile *f)
{
    free(f->display);
    free(f->locale);
    free(f->description);
    free(f->from);
    free(f->reply_to);
    for (size_t i = 0; i < f->nparts; i++)
        part_release(&f->parts[i]);
    free(f->parts);
}

static void tpl_free(struct hd_tpl *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nfiles; i++)
        tfile_release(&t->files[i]);
    free(t->files);
    free(t->name);
    free(t);
}

void hd_tpl_set_sms_optout_zh(struct hd_tpl_set *set, const char *wording)
{
    snprintf(set->sms_optout_zh, sizeof set->sms_optout_zh, "%s", wording ? wording : "");
}

void hd_tpl_set_sms_limit(struct hd_tpl_set *set, size_t max_chars, const char *who)
{
    set->sms_max = max_chars;
    snprintf(set->sms_max_who, sizeof set->sms_max_who, "%s", who ? who : "the provider");
}

void hd_tpl_set_sms_provider(struct hd_tpl_set *set, const char *who, int need,
                             size_t max_param_chars)
{
    if (set->nsms_prov == sizeof set->sms_prov / sizeof set->sms_prov[0])
        return;
    struct sms_prov *p = &set->sms_prov[set->nsms_prov++];
    snprintf(p->who, sizeof p->who, "%s", who);
    p->need = need;
    p->max_param = max_param_chars;
}

void hd_tpl_set_free(struct hd_tpl_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ntpls; i++)
        tpl_free(s->tpls[i]);
    free(s->tpls);
    for (size_t i = 0; i < s->npartials; i++) {
        free(s->partials[i].key);
        hd_mst_free(s->partials[i].mst);
    }
    free(s->partials);
    free(s->dir);
    free(s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files in dir whose names are PREFIX + something + SUFFIX. */
static int list_dir(const char *dir, const char *prefix, const char *suffix, char ***out, size_t *n,
                    struct hd_err *err)
{
    DIR *d = opendir(dir);
    *out = NULL;
    *n = 0;
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return hd_err_set(err, HD_E_IO, "cannot read folder '%s': %s", dir, strerror(errno));
    }
    struct dirent *e;
    size_t pl = strlen(prefix), sl = strlen(suffix);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= pl + sl || strncmp(e->d_name, prefix, pl) != 0 ||
            strcmp(e->d_name + l - sl, suffix) != 0)
            continue;
        HD_GROW(*out, *n);
        (*out)[(*n)++] = hd_xstrdup(e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_str);
    return 0;
}

int hd_tpl_set_names(struct hd_tpl_set *set, char ***names, size_t *n, struct hd_err *err)
{
    char **files;
    size_t nf;
    int rc = list_dir(set->dir, "", ".tmpl", &files, &nf, err);
    *names = NULL;
    *n = 0;
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < nf; i++) {
        char *dot = strchr(files[i], '.');
        if (dot && strcmp(dot, ".tmpl") == 0) { /* NAME.tmpl, not NAME.LOCALE.tmpl */
            *dot = '\0';
            HD_GROW(*names, *n);
            (*names)[(*n)++] = files[i];
        } else {
            free(files[i]);
        }
    }
    free(files);
    return 0;
}

/* ---- parsing a file -------------------------------------------------------------- */

struct jwalk {
    struct part *p;
    const char *file;
    int line;
    struct hd_err *err;
    int rc;
};

/* Compiles every string leaf of v, in walk order. */
static void compile_leaves(struct jwalk *w, json_t *v)
{
    if (w->rc < 0)
        return;
    if (json_is_string(v)) {
        struct hd_mst *m;
        struct hd_mst_opts o = {.file = w->file, .line = w->line};
        if ((w->rc = hd_mst_compile(json_string_value(v), json_string_length(v), &o, &m, w->err)) <
            0)
            return;
        HD_GROW(w->p->leaf, w->p->nleaf);
        w->p->leaf[w->p->nleaf++] = m;
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) compile_leaves(w, x);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) compile_leaves(w, x);
    }
}

/* FCM refuses these data keys: "from", "message_type", "google.*", "gcm.*". */
static bool fcm_reserved(const char *k)
{
    return strcmp(k, "from") == 0 || strcmp(k, "message_type") == 0 ||
           strncmp(k, "google.", 7) == 0 || strncmp(k, "gcm.", 4) == 0;
}

/* What FCM and herald accept in push.data and push.fcm, checked once when
 * the template loads (keys are never templates): push.data is a map of
 * strings without FCM's reserved keys; push.fcm holds the members of an
 * FCM message that herald does not set itself. */
static int check_push_keys(const struct tfile *f, const struct part *p, int line,
                           struct hd_err *err)
{
    static const char *const fcm_known[] = {"notification", "android", "webpush", "apns",
                                            "fcm_options"};
    const char *k;
    json_t *x;
    if (p->kind == HD_PART_PUSH_DATA) {
        json_object_foreach(p->json, k, x)
        {
            if (!json_is_string(x))
                return hd_err_setpos(
                    err, HD_E_PARSE, f->display, line, 1,
                    "push.data: the value of '%s' must be a string (FCM data is a map of strings)",
                    k);
            if (fcm_reserved(k))
                return hd_err_setpos(err, HD_E_PARSE, f->display, line, 1,
                                     "push.data: the key '%s' is reserved by FCM (from, "
                                     "message_type, google.*, gcm.*), which refuses the message",
                                     k);
        }
    }
    if (p->kind != HD_PART_PUSH_FCM)
        return 0;
    json_object_foreach(p->json, k, x)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof fcm_known / sizeof *fcm_known; i++)
            known |= strcmp(k, fcm_known[i]) == 0;
        if (strcmp(k, "data") == 0)
            return hd_err_setpos(err, HD_E_PARSE, f->display, line, 1,
                                 "push.fcm: 'data' is for herald to set (write push.data)");
        if (!known)
            return hd_err_setpos(err, HD_E_PARSE, f->display, line, 1,
                                 "push.fcm: '%s' is not for a template to set (known: "
                                 "notification, android, webpush, apns, fcm_options)",
                                 k);
        if (strcmp(k, "notification") == 0 &&
            (!json_is_object(x) || json_object_get(x, "title") || json_object_get(x, "body")))
            return hd_err_setpos(err, HD_E_PARSE, f->display, line, 1,
                                 "push.fcm: notification must be an object without title or "
                                 "body (write push.title and push.body)");
    }
    return 0;
}

/* sms.params: an object or a list whose every value is a string (each a
 * template): what the gateways take as template parameters. */
static bool sms_params_shape(const json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x) if (!json_is_string(x)) return false;
        return true;
    }
    if (!json_is_array(v))
        return false;
    json_array_foreach(v, i, x) if (!json_is_string(x)) return false;
    return true;
}

/* wechat.data: an object whose every value is a string or an object of
 * a string value and an optional string color (what WeChat takes). */
static bool wechat_data_shape(const json_t *v)
{
    const char *k, *k2;
    json_t *x, *y;
    json_object_foreach((json_t *)v, k, x)
    {
        if (json_is_string(x))
            continue;
        if (!json_is_object(x) || !json_is_string(json_object_get(x, "value")))
            return false;
        json_object_foreach(x, k2, y) if (!json_is_string(y) || (strcmp(k2, "value") &&
                                                                 strcmp(k2, "color"))) return false;
    }
    return true;
}

static int compile_part(struct tfile *f, struct part *p, const char *body, size_t len, int line,
                        struct hd_err *err)
{
    p->empty = len == 0;
    if (!hd_tpl_part_is_json(p->kind)) {
        struct hd_mst_opts o = {.file = f->display, .line = line};
        return hd_mst_compile(body, len, &o, &p->mst, err);
    }
    json_error_t je;
    p->json = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!p->json)
        return hd_err_setpos(err, HD_E_PARSE, f->display, line + je.line - 1, je.column,
                             "%s: not valid JSON: %s", part_names[p->kind], je.text);
    if (p->kind == HD_PART_SMS_PARAMS) {
        if (!sms_params_shape(p->json))
            return hd_err_setpos(err, HD_E_PARSE, f->display, line, 1,
                                 "sms.params: must be a JSON object of strings (named "
                                 "parameters) or a list of strings (ordered parameters)");
    } else if (!json_is_object(p->json)) {
        return hd_err_setpos(err, HD_E_PARSE, f->display, line, 1, "%s: must be a JSON object",
                             part_names[p->kind]);
    } else if (p->kind == HD_PART_WECHAT_DATA && !wechat_data_shape(p->json)) {
        return hd_err_setpos(err, HD_E_PARSE, f->display, line, 1,
                             "wechat.data: each value must be a string or an object of a "
                             "string value and color");
    }
    int rc = check_push_keys(f, p, line, err);
    if (rc < 0)
        return rc;
    struct jwalk w = {p, f->display, line, err, 0};
    compile_leaves(&w, p->json);
    return w.rc;
}

static int header_line(struct tfile *f, const char *line, size_t n, int lineno, bool base,
                       struct hd_err *err)
{
    const char *colon = memchr(line, ':', n);
    if (!colon)
        return hd_err_setpos(err, HD_E_PARSE, f->display, lineno, 0,
                             "expected 'key: value' in the header, or a '--- PART' line");
    size_t kl = (size_t)(colon - line), vs = kl + 1;
    while (kl && isspace((unsigned char)line[kl - 1]))
        kl--;
    while (vs < n && isspace((unsigned char)line[vs]))
        vs++;
    size_t ve = n;
    while (ve > vs && isspace((unsigned char)line[ve - 1]))
        ve--;
    char key[32];
    if (kl >= sizeof key)
        kl = sizeof key - 1;
    memcpy(key, line, kl);
    key[kl] = '\0';
    char *value = hd_xstrndup(line + vs, ve - vs);
    char **slot = NULL;
    if (strcmp(key, "description") == 0)
        slot = &f->description;
    else if (strcmp(key, "from") == 0)
        slot = &f->from;
    else if (strcmp(key, "reply_to") == 0)
        slot = &f->reply_to;
    else if (strcmp(key, "category") == 0) {
        int cat = hd_category_parse(value);
        free(value);
        if (!base)
            return hd_err_setpos(err, HD_E_PARSE, f->display, lineno, 0,
                                 "category is set in the base file only");
        if (cat < 0)
            return hd_err_setpos(err, HD_E_PARSE, f->display, lineno, 0,
                                 "category must be marketing or transactional");
        f->category = cat;
        return 0;
    } else if (strcmp(key, "urgent") == 0) {
        bool yes = strcmp(value, "true") == 0, no = strcmp(value, "false") == 0;
        free(value);
        if (!base)
            return hd_err_setpos(err, HD_E_PARSE, f->display, lineno, 0,
                                 "urgent is set in the base file only");
        if (!yes && !no)
            return hd_err_setpos(err, HD_E_PARSE, f->display, lineno, 0,
                                 "urgent must be true or false");
        f->urgent = yes;
        return 0;
    } else {
        free(value);
        return hd_err_setpos(err, HD_E_PARSE, f->display, lineno, 0,
                             "unknown header key '%s' (known: description, category, from, "
                             "reply_to, urgent)",
                             key);
    }
    if (*slot) {
        free(value);
        return hd_err_setpos(err, HD_E_PARSE, f->display, lineno, 0, "duplicate header key '%s'",
                             key);
    }
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            free(value);
            return hd_err_setpos(err, HD_E_PARSE, f->display, lineno, 0,
                                 "header '%s' holds a control character", key);
        }
    *slot = value;
    return 0;
}

/* Trims trailing blank space; text and html parts keep one final newline. */
static size_t part_length(const char *body, size_t len, int kind)
{
    while (len && isspace((unsigned char)body[len - 1]))
        len--;
    (void)kind;
    return len;
}

/* The error for a file that is not valid UTF-8, on the line of its first
 * byte that is not ASCII. */
static int not_utf8(const struct tfile *f, const char *text, size_t len, struct hd_err *err)
{
    size_t ok = 0;
    int l = 1;
    while (ok < len && hd_valid_utf8(text + ok, 1) && (unsigned char)text[ok] < 0x80) {
        l += text[ok] == '\n';
        ok++;
    }
    return hd_err_setpos(err, HD_E_PARSE, f->display, l, 0, "the file is not valid UTF-8");
}

/* Reads a separator line "--- email.html @b" (n bytes) into spec
 * ("email.html", size bytes at most) and *variant ("b", inside spec, or
 * NULL). */
static int part_spec(const struct tfile *f, const char *line, size_t n, int lineno, char *spec,
                     size_t size, char **variant, struct hd_err *err)
{
    size_t sl = n - 4 < size - 1 ? n - 4 : size - 1;
    memcpy(spec, line + 4, sl);
    spec[sl] = '\0';
    char *at = strchr(spec, '@'), *v = NULL;
    if (at) {
        *at = '\0';
        v = at + 1;
        while (*v == ' ')
            v++;
        size_t vl = strlen(v);
        while (vl && isspace((unsigned char)v[vl - 1]))
            v[--vl] = '\0';
        for (const char *p = v; *p; p++)
            if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_')
                return hd_err_setpos(err, HD_E_PARSE, f->display, lineno, 0,
                                     "variant '%s' may use only a-z, 0-9 and '_'", v);
        if (!*v)
            return hd_err_setpos(err, HD_E_PARSE, f->display, lineno, 0,
                                 "a variant name is missing after '@'");
    }
    size_t pl = strlen(spec);
    while (pl && isspace((unsigned char)spec[pl - 1]))
        spec[--pl] = '\0';
    *variant = v;
    return 0;
}

/* Adds the part a separator line (n bytes) begins, as *cur; its body is
 * compiled when the next separator or the end is reached. */
static int start_part(struct tfile *f, const char *line, size_t n, int lineno, struct part **cur,
                      struct hd_err *err)
{
    char spec[128], *variant = NULL;
    int rc = part_spec(f, line, n, lineno, spec, sizeof spec, &variant, err);
    if (rc < 0)
        return rc;
    int kind = hd_tpl_part_parse(spec);
    if (kind < 0)
        return hd_err_setpos(err, HD_E_PARSE, f->display, lineno, 0,
                             "unknown part '%s' (known: email.subject, email.text, "
                             "email.html, sms, sms.template_code, sms.params, "
                             "sms.approved_text, push.title, push.body, push.data, "
                             "push.fcm, push.apns, push.click_action, wechat.template_id, "
                             "wechat.data, wechat.url, wechat.page, inbox.title, "
                             "inbox.body, inbox.url, inbox.expires)",
                             spec);
    for (size_t k = 0; k < f->nparts; k++)
        if (f->parts[k].kind == kind &&
            ((!variant && !f->parts[k].variant) ||
             (variant && f->parts[k].variant && strcmp(variant, f->parts[k].variant) == 0)))
            return hd_err_setpos(err, HD_E_PARSE, f->display, lineno, 0,
                                 "part '%s%s%s' appears twice (first on line %d)", spec,
                                 variant ? " @" : "", variant ? variant : "", f->parts[k].line);
    HD_GROW(f->parts, f->nparts);
    *cur = &f->parts[f->nparts++];
    memset(*cur, 0, sizeof **cur);
    (*cur)->kind = kind;
    (*cur)->variant = variant ? hd_xstrdup(variant) : NULL;
    (*cur)->line = lineno;
    return 0;
}

/* A parse error where the parse may go on: linting (set->collect), it is
 * reported and the parse carries on with the next line or part, so that a
 * file's every error is told; otherwise it ends the parse. *failed keeps
 * the first error's code either way. */
static bool go_on(const struct hd_tpl_set *set, int rc, const struct hd_err *err, int *failed)
{
    if (!*failed)
        *failed = rc;
    if (!set || !set->collect)
        return false;
    set->collect(set->collect_ud, err);
    return true;
}

/* The part ended by a separator or the end of the file: compiled. */
static int end_part(const struct hd_tpl_set *set, struct tfile *f, struct part **cur,
                    const char *body, size_t blen, int body_line, struct hd_err *err, int *failed)
{
    int rc = 0;
    if (*cur) {
        blen = part_length(body, blen, (*cur)->kind);
        if ((rc = compile_part(f, *cur, body, blen, body_line, err)) < 0 &&
            go_on(set, rc, err, failed))
            rc = 0;
    }
    *cur = NULL;
    return rc;
}

static int parse_file(const struct hd_tpl_set *set, struct tfile *f, const char *text, size_t len,
                      bool base, struct hd_err *err)
{
    size_t i = 0, body_start = 0;
    int lineno = 0, rc, failed = 0, body_line = 0;
    struct part *cur = NULL;
    bool skip = false; /* in the body of a part that did not start (linting) */
    f->category = -1;
    if (!hd_valid_utf8(text, len))
        return not_utf8(f, text, len, err);
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i <= len) {
        const char *line = text + i;
        const char *nl = i < len ? memchr(line, '\n', len - i) : NULL;
        size_t n = nl ? (size_t)(nl - line) : len - i;
        bool at_end = i == len;
        lineno++;
        if (n && line[n - 1] == '\r')
            n--;
        bool sep = n >= 4 && memcmp(line, "--- ", 4) == 0;
        if ((sep || at_end) && (rc = end_part(set, f, &cur, text + body_start, i - body_start,
                                              body_line, err, &failed)) < 0)
            return rc;
        if (at_end)
            break;
        if (sep) {
            if ((rc = start_part(f, line, n, lineno, &cur, err)) < 0 &&
                !go_on(set, rc, err, &failed))
                return rc;
            skip = rc < 0;
            body_start = nl ? (size_t)(nl - text) + 1 : len;
            body_line = lineno + 1;
        } else if (!f->nparts && !skip) {
            size_t ws = 0;
            while (ws < n && isspace((unsigned char)line[ws]))
                ws++;
            if (ws < n && line[ws] != '#' &&
                (rc = header_line(f, line, n, lineno, base, err)) < 0 &&
                !go_on(set, rc, err, &failed))
                return rc;
        }
        i = nl ? (size_t)(nl - text) + 1 : len;
    }
    if (base && f->category < 0 &&
        !go_on(set,
               hd_err_setpos(err, HD_E_PARSE, f->display, 1, 0,
                             "the header has no 'category: marketing' or 'category: "
                             "transactional'"),
               err, &failed))
        return failed;
    return failed;
}

static int load_file(struct hd_tpl_set *set, const char *fname, struct tfile *f, bool base,
                     struct hd_err *err)
{
    char path[4096];
    struct hd_buf b;
    snprintf(path, sizeof path, "%s/%s", set->dir, fname);
    f->display = hd_xstrdup(fname);
    hd_buf_init(&b);
    if (hd_buf_read_file(&b, path) < 0) {
        int e = errno;
        hd_buf_release(&b);
        return hd_err_set(err, e == ENOENT ? HD_E_NOTFOUND : HD_E_IO, "cannot read '%s': %s", path,
                          strerror(e));
    }
    int rc = parse_file(set, f, b.data, b.len, base, err);
    hd_buf_release(&b);
    return rc;
}

int hd_tpl_get(struct hd_tpl_set *set, const char *name, const struct hd_tpl **out,
               struct hd_err *err)
{
    for (size_t i = 0; i < set->ntpls; i++)
        if (strcmp(set->tpls[i]->name, name) == 0) {
            *out = set->tpls[i];
            return 0;
        }
    if (!valid_name(name))
        return hd_err_set(err, HD_E_NOTFOUND,
                          "'%s' is not a template name (letters, digits, '_' and '-')", name);
    struct hd_tpl *t = hd_xcalloc(1, sizeof *t);
    t->name = hd_xstrdup(name);
    t->set = set;
    char fname[256], prefix[256], **locs = NULL;
    size_t nlocs = 0;
    int rc;
    snprintf(fname, sizeof fname, "%s.tmpl", name);
    t->files = hd_xcalloc(1, sizeof *t->files);
    t->nfiles = 1;
    /* linting, the locale files are read after an error in the base file */
    int failed = rc = load_file(set, fname, &t->files[0], true, err);
    if (rc < 0 && (rc == HD_E_NOTFOUND || !set->collect)) {
        if (rc == HD_E_NOTFOUND)
            hd_err_set(err, HD_E_NOTFOUND, "no template '%s' (no file %s/%s)", name, set->dir,
                       fname);
        goto fail;
    }
    snprintf(prefix, sizeof prefix, "%s.", name);
    if ((rc = list_dir(set->dir, prefix, ".tmpl", &locs, &nlocs, err)) < 0)
        goto fail;
    for (size_t i = 0; i < nlocs; i++) {
        size_t l = strlen(locs[i]);
        char tag[64], norm[128];
        size_t tl = l - strlen(prefix) - 5;
        if (tl == 0 || tl >= sizeof tag)
            continue;
        memcpy(tag, locs[i] + strlen(prefix), tl);
        tag[tl] = '\0';
        struct hd_valid *v = hd_valid_new();
        int bad = hd_valid_locale(v, tag, norm, sizeof norm);
        hd_valid_free(v);
        if (bad) {
            rc = hd_err_setpos(err, HD_E_PARSE, locs[i], 0, 0,
                               "'%s' in the file name is not a BCP 47 locale (%s)", tag, norm);
            goto fail;
        }
        HD_GROW(t->files, t->nfiles);
        struct tfile *f = &t->files[t->nfiles++];
        memset(f, 0, sizeof *f);
        f->locale = hd_xstrdup(norm);
        if ((rc = load_file(set, locs[i], f, false, err)) < 0 && !set->collect)
            goto fail;
        failed = failed < 0 ? failed : rc;
    }
    if ((rc = failed) < 0)
        goto fail;
    for (size_t i = 0; i < nlocs; i++)
        free(locs[i]);
    free(locs);
    for (size_t i = 0; i < t->nfiles; i++)
        for (size_t k = 0; k < t->files[i].nparts; k++)
            t->kinds |= 1u << t->files[i].parts[k].kind;
    HD_GROW(set->tpls, set->ntpls);
    set->tpls[set->ntpls++] = t;
    *out = t;
    return 0;
fail:
    for (size_t i = 0; i < nlocs; i++)
        free(locs[i]);
    free(locs);
    tpl_free(t);
    return rc;
}

/* ---- lookups ------------------------------------------------------------------------ */

/* The locale chain of a tag: zh-Hant-TW, zh-Hant, zh (at most 4). */
static size_t locale_chain(const char *locale, char chain[4][64])
{
    size_t n = 0;
    if (!locale || !*locale)
        return 0;
    hd_strcpy_cut(chain[0], sizeof chain[0], locale); /* six times a render */
    n = 1;
    while (n < 4) {
        char *dash = strrchr(chain[n - 1], '-');
        if (!dash)
            break;
        memcpy(chain[n], chain[n - 1], (size_t)(dash - chain[n - 1]));
        chain[n][dash - chain[n - 1]] = '\0';
        n++;
    }
    return n;
}

static const struct tfile *file_for(const struct hd_tpl *t, const char *locale)
{
    for (size_t i = 1; i < t->nfiles; i++)
        if (strcasecmp(t->files[i].locale, locale) == 0)
            return &t->files[i];
    return NULL;
}

static const struct part *part_in(const struct tfile *f, int kind, const char *variant)
{
    const struct part *plain = NULL;
    for (size_t i = 0; i < f->nparts; i++) {
        const struct part *p = &f->parts[i];
        if (p->kind != kind)
            continue;
        if (!p->variant)
            plain = p;
        else if (variant && strcmp(p->variant, variant) == 0)
            return p;
    }
    return plain;
}

static const struct part *find_part(const struct hd_tpl *t, int kind, const char *locale,
                                    const char *variant, const struct tfile **from)
{
    char chain[4][64];
    if (!(t->kinds & (1u << kind))) { /* no file has it: no need to look */
        if (from)
            *from = &t->files[0];
        return NULL;
    }
    size_t n = locale_chain(locale, chain);
    for (size_t i = 0; i < n; i++) {
        const struct tfile *f = file_for(t, chain[i]);
        const struct part *p = f ? part_in(f, kind, variant) : NULL;
        if (p) {
            if (from)
                *from = f;
            return p;
        }
    }
    if (from)
        *from = &t->files[0];
    return part_in(&t->files[0], kind, variant);
}

bool hd_tpl_has_part(const struct hd_tpl *t, int part, const char *locale, const char *variant)
{
    return find_part(t, part, locale, variant, NULL) != NULL;
}

bool hd_tpl_may_use(const struct hd_tpl *t, int channel, const char *name)
{
    for (size_t f = 0; f < t->nfiles; f++)
        for (size_t i = 0; i < t->files[f].nparts; i++) {
            const struct part *p = &t->files[f].parts[i];
            if (hd_tpl_part_channel(p->kind) != channel)
                continue;
            if (hd_mst_may_use(p->mst, name))
                return true;
            for (size_t l = 0; l < p->nleaf; l++)
                if (hd_mst_may_use(p->leaf[l], name))
                    return true;
        }
    return false;
}

const char *hd_tpl_header(const struct hd_tpl *t, const char *key, const char *locale)
{
    char chain[4][64];
    size_t n = locale_chain(locale, chain);
    for (size_t i = 0; i <= n; i++) {
        const struct tfile *f = i < n ? file_for(t, chain[i]) : &t->files[0];
        if (!f)
            continue;
        const char *v = strcmp(key, "from") == 0          ? f->from
                        : strcmp(key, "reply_to") == 0    ? f->reply_to
                        : strcmp(key, "description") == 0 ? f->description
                                                          : NULL;
        if (v)
            return v;
    }
    return NULL;
}

void hd_tpl_get_info(const struct hd_tpl *t, struct hd_tpl_info *info)
{
    memset(info, 0, sizeof *info);
    info->name = t->name;
    info->description = t->files[0].description ? t->files[0].description : "";
    info->category = t->files[0].category;
    info->urgent = t->files[0].urgent;
    info->parts = t->kinds;
    for (size_t i = 0; i < t->nfiles; i++) {
        const struct tfile *f = &t->files[i];
        if (f->locale && info->nlocales < 32)
            info->locales[info->nlocales++] = f->locale;
        for (size_t k = 0; k < f->nparts; k++) {
            const struct part *p = &f->parts[k];
            info->channels |= 1u << hd_tpl_part_channel(p->kind);
            if (!p->variant)
                continue;
            bool seen = false;
            for (size_t v = 0; v < info->nvariants; v++)
                seen |= strcmp(info->variants[v], p->variant) == 0;
            if (!seen && info->nvariants < 16)
                info->variants[info->nvariants++] = p->variant;
        }
    }
}

/* ---- partials ---------------------------------------------------------------------- */

struct presolve {
    struct hd_tpl_set *set;
    char chain[4][64];
    size_t nchain;
};

static struct pentry *pcache(struct hd_tpl_set *set, const char *key)
{
    for (size_t i = 0; i < set->npartials; i++)
        if (strcmp(set->partials[i].key, key) == 0)
            return &set->partials[i];
    return NULL;
}

/* The partial NAME for one locale (or the base when locale is ""). */
static int partial_for(struct hd_tpl_set *set, const char *name, const char *locale,
                       const struct hd_mst **out, struct hd_err *err)
{
    char key[256], fname[256], path[4096];
    /* "NAME|LOCALE" (cut as snprintf would), copied by hand: the lookup
     * runs for each partial of each message, and the format cost 800
     * instructions of it */
    size_t k = 0;
    for (const char *const *p = (const char *const[]){name, "|", locale, NULL}; *p; p++)
        for (const char *c = *p; *c && k < sizeof key - 1; c++)
            key[k++] = *c;
    key[k] = '\0';
    struct pentry *e = pcache(set, key);
    if (e) {
        *out = e->mst;
        return e->mst ? 0 : HD_E_NOTFOUND;
    }
    snprintf(fname, sizeof fname, "partials/%s%s%s.mustache", name, *locale ? "." : "", locale);
    snprintf(path, sizeof path, "%s/%s", set->dir, fname);
    struct hd_buf b;
    struct hd_mst *m = NULL;
    hd_buf_init(&b);
    int rc = 0;
    if (hd_buf_read_file(&b, path) < 0) {
        if (errno != ENOENT)
            rc = hd_err_set(err, HD_E_IO, "cannot read '%s': %s", path, strerror(errno));
    } else if (!hd_valid_utf8(b.data, b.len)) {
        rc = hd_err_setpos(err, HD_E_PARSE, fname, 0, 0, "the file is not valid UTF-8");
    } else {
        struct hd_mst_opts o = {.file = fname};
        rc = hd_mst_compile(b.data, b.len, &o, &m, err);
    }
    hd_buf_release(&b);
    if (rc < 0)
        return rc;
    HD_GROW(set->partials, set->npartials);
    set->partials[set->npartials++] = (struct pentry){hd_xstrdup(key), m};
    *out = m;
    return m ? 0 : HD_E_NOTFOUND;
}

static int resolve_partial(void *ud, const char *name, const struct hd_mst **out,
                           struct hd_err *err)
{
    struct presolve *ps = ud;
    int rc;
    if (!valid_name(name))
        return HD_E_NOTFOUND;
    for (size_t i = 0; i < ps->nchain; i++)
        if ((rc = partial_for(ps->set, name, ps->chain[i], out, err)) != HD_E_NOTFOUND)
            return rc;
    return partial_for(ps->set, name, "", out, err);
}

/* ---- rendering --------------------------------------------------------------------- */

/* A variable in an inbox message's body is text: its Markdown marks are
 * escaped (the renderer's backslash) and its line ends become spaces, so
 * that a contact's attribute or an API call's data cannot make a link, a
 * list or emphasis in the operator's message ({{{name}}} puts Markdown in
 * on purpose). */
static void md_escape(struct hd_buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] && strchr("\\*[]()_-#`", s[i]))
            hd_buf_addc(out, '\\');
        hd_buf_addc(out, s[i] == '\n' || s[i] == '\r' ? ' ' : s[i]);
    }
}

static void env_for(const struct hd_tpl *t, int kind, const struct hd_tpl_req *req,
                    struct presolve *ps, struct hd_mst_env *env)
{
    ps->set = t->set;
    ps->nchain = locale_chain(req->locale, ps->chain);
    memset(env, 0, sizeof *env);
    env->escape_html = kind == HD_PART_EMAIL_HTML;
    env->escape = kind == HD_PART_INBOX_BODY ? md_escape : NULL;
    env->strict = !req->lenient;
    env->part = part_names[kind];
    env->locale = req->locale;
    env->timezone = req->timezone;
    env->now = req->now;
    env->fmt = req->fmt;
    env->partial = resolve_partial;
    env->partial_ud = ps;
    env->below = req->below;
    env->nbelow = req->nbelow;
}

int hd_tpl_render(const struct hd_tpl *t, int kind, const struct hd_tpl_req *req,
                  struct hd_buf *out, struct hd_err *err)
{
    const struct part *p = find_part(t, kind, req->locale, req->variant, NULL);
    if (!p || !p->mst)
        return hd_err_set(err, HD_E_NOTFOUND, "template '%s' has no part %s", t->name,
                          part_names[kind]);
    struct presolve ps;
    struct hd_mst_env env;
    env_for(t, kind, req, &ps, &env);
    return hd_mst_render(p->mst, req->data, &env, out, err);
}

struct jrender {
    const struct part *p;
    size_t next;
    const struct hd_mst_env *env;
    const json_t *data;
    struct hd_buf leaf;
    struct hd_err *err;
};

/* Writes v as compact JSON text with each string leaf rendered, straight
 * into out: no tree is built (push data is rendered for every message). */
static int write_leaves(struct jrender *r, const json_t *v, struct hd_buf *out)
{
    int rc = 0;
    const char *k;
    json_t *x;
    size_t i;
    switch (json_typeof(v)) {
    case JSON_STRING:
        hd_buf_reset(&r->leaf);
        if ((rc = hd_mst_render(r->p->leaf[r->next++], r->data, r->env, &r->leaf, r->err)) < 0)
            return rc;
        hd_buf_add_json_str(out, r->leaf.len ? r->leaf.data : "", r->leaf.len);
        return 0;
    case JSON_OBJECT:
        hd_buf_addc(out, '{');
        i = 0;
        json_object_foreach((json_t *)v, k, x)
        {
            if (i++)
                hd_buf_addc(out, ',');
            hd_buf_add_json_str(out, k, strlen(k));
            hd_buf_addc(out, ':');
            if ((rc = write_leaves(r, x, out)) < 0)
                return rc;
        }
        hd_buf_addc(out, '}');
        return 0;
    case JSON_ARRAY:
        hd_buf_addc(out, '[');
        json_array_foreach(v, i, x)
        {
            if (i)
                hd_buf_addc(out, ',');
            if ((rc = write_leaves(r, x, out)) < 0)
                return rc;
        }
        hd_buf_addc(out, ']');
        return 0;
    default: {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        hd_buf_adds(out, t ? t : "null");
        free(t);
        return 0;
    }
    }
}

int hd_tpl_render_json_text(const struct hd_tpl *t, int kind, const struct hd_tpl_req *req,
                            struct hd_buf *out, struct hd_err *err)
{
    const struct part *p = find_part(t, kind, req->locale, req->variant, NULL);
    if (!p || !p->json)
        return hd_err_set(err, HD_E_NOTFOUND, "template '%s' has no part %s", t->name,
                          part_names[kind]);
    struct presolve ps;
    struct hd_mst_env env;
    env_for(t, kind, req, &ps, &env);
    struct jrender r = {.p = p, .env = &env, .data = req->data, .err = err};
    hd_buf_init(&r.leaf);
    int rc = write_leaves(&r, p->json, out);
    hd_buf_release(&r.leaf);
    return rc;
}

int hd_tpl_render_json(const struct hd_tpl *t, int kind, const struct hd_tpl_req *req, json_t **out,
                       struct hd_err *err)
{
    struct hd_buf b;
    json_error_t je;
    hd_buf_init(&b);
    int rc = hd_tpl_render_json_text(t, kind, req, &b, err);
    *out = NULL;
    if (rc == 0 && !(*out = json_loadb(b.data, b.len, 0, &je)))
        rc = hd_err_set(err, HD_E_INVALID, "template '%s': part %s is not JSON once rendered: %s",
                        t->name, part_names[kind], je.text);
    hd_buf_release(&b);
    return rc;
}

/* ---- data ------------------------------------------------------------------------------ */

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v)
        json_object_set_new(o, k, json_string(v));
}

json_t *hd_tpl_vars(const struct hd_config *cfg)
{
    json_t *d = json_object();
    for (size_t i = 0; cfg && i < cfg->nvars; i++)
        set_str(d, cfg->vars[i].key, cfg->vars[i].value);
    return d;
}

json_t *hd_tpl_contact(const struct hd_contact *c)
{
    json_t *contact = NULL;
    char t[32];
    if (c && c->attrs && (contact = hd_json_object_loads(c->attrs, strlen(c->attrs))) &&
        !json_is_object(contact)) {
        json_decref(contact);
        contact = NULL;
    }
    if (!contact)
        contact = json_object();
    if (!c)
        return contact;
    set_str(contact, "id", c->ext_id);
    set_str(contact, "email", c->email);
    set_str(contact, "phone", c->phone);
    set_str(contact, "locale", c->locale);
    set_str(contact, "timezone", c->timezone);
    hd_time_format_iso(c->created_at, t, sizeof t);
    set_str(contact, "created_at", t);
    return contact;
}

json_t *hd_tpl_top(json_t *contact, const json_t *campaign, const char *message_id,
                   const char *unsubscribe_url)
{
    json_t *d = json_object(), *msg = json_object();
    json_object_set(d, "contact", contact);
    /* shared, not copied: templates only read it */
    json_object_set_new(d, "campaign", campaign ? json_incref((json_t *)campaign) : json_object());
    set_str(msg, "id", message_id);
    json_object_set_new(d, "message", msg);
    set_str(d, "unsubscribe_url", unsubscribe_url);
    return d;
}

json_t *hd_tpl_data(const struct hd_contact *c, const struct hd_config *cfg, const json_t *campaign,
                    const char *message_id, const char *unsubscribe_url)
{
    json_t *d = hd_tpl_vars(cfg), *contact = hd_tpl_contact(c);
    if (c)
        json_object_update(d, contact);
    json_t *top = hd_tpl_top(contact, campaign, message_id, unsubscribe_url);
    json_object_update(d, top);
    json_decref(top);
    json_decref(contact);
    return d;
}

void hd_tpl_push_sizes(const char *title, const char *body, const json_t *data, size_t *fcm,
                       size_t *apns)
{
    json_t *n = json_object(), *f = json_object(), *aps = json_object(), *alert = json_object(),
           *a = json_object();
    /* as the drivers send them: empty title and body left out, and a push
     * with neither is data-only (no notification; APNs content-available) */
    set_str(n, "title", title && *title ? title : NULL);
    set_str(n, "body", body && *body ? body : NULL);
    if (json_object_size(n))
        json_object_set(f, "notification", n);
    if (data)
        json_object_set(f, "data", (json_t *)data);
    if (json_object_size(n)) {
        json_object_update(alert, n);
        json_object_set(aps, "alert", alert);
    } else {
        json_object_set_new(aps, "content-available", json_integer(1));
    }
    json_decref(n);
    json_decref(alert);
    json_object_set_new(a, "aps", aps);
    if (data)
        json_object_update(a, (json_t *)data);
    char *s1 = json_dumps(f, JSON_COMPACT), *s2 = json_dumps(a, JSON_COMPACT);
    *fcm = s1 ? strlen(s1) : 0;
    *apns = s2 ? strlen(s2) : 0;
    free(s1);
    free(s2);
    json_decref(f);
    json_decref(a);
}

/* ---- lint ---------------------------------------------------------------------------------- */

struct lint {
    hd_tpl_issue_cb cb;
    void *ud;
    int errors;
    struct hd_tpl_set *set;
    const char *file;
};

static void issue(struct lint *l, bool error, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void issue(struct lint *l, bool error, const char *where, const char *fmt, ...)
{
    struct hd_tpl_issue is = {.error = error};
    va_list ap;
    snprintf(is.where, sizeof is.where, "%s", where);
    va_start(ap, fmt);
    vsnprintf(is.msg, sizeof is.msg, fmt, ap);
    va_end(ap);
    l->errors += error;
    l->cb(l->ud, &is);
}

static void issue_err(struct lint *l, const struct hd_err *e)
{
    struct hd_tpl_issue is = {.error = true};
    /* the message already starts with its position */
    snprintf(is.msg, sizeof is.msg, "%s", e->msg);
    l->errors++;
    l->cb(l->ud, &is);
}

static int check_ref(void *ud, const char *name, int line, int col)
{
    struct lint *l = ud;
    const struct hd_mst *m;
    struct hd_err e = {0};
    struct presolve ps = {.set = l->set};
    char where[300];
    snprintf(where, sizeof where, "%s:%d:%d", l->file, line, col);
    int rc = resolve_partial(&ps, name, &m, &e);
    if (rc == HD_E_NOTFOUND)
        issue(l, true, where, "unknown partial '%s' (no file partials/%s.mustache)", name, name);
    else if (rc < 0)
        issue_err(l, &e);
    else
        hd_mst_each_partial(m, check_ref, l); /* partials of partials */
    return 0;
}

static bool valid_address(const char *s)
{
    char out[320];
    const char *lt = strrchr(s, '<'), *gt = strrchr(s, '>');
    struct hd_valid *v = hd_valid_new();
    bool ok;
    if (lt && gt && gt > lt && gt[1] == '\0') {
        char addr[320];
        size_t n = (size_t)(gt - lt - 1);
        ok = n < sizeof addr;
        if (ok) {
            memcpy(addr, lt + 1, n);
            addr[n] = '\0';
            ok = hd_valid_email(v, addr, out, sizeof out) == 0;
        }
    } else {
        ok = hd_valid_email(v, s, out, sizeof out) == 0;
    }
    hd_valid_free(v);
    return ok;
}

/* A file's from or reply_to (key), when set: an address, with a display
 * name channel/mime.c takes whole. */
static void lint_mailbox(struct lint *l, const struct tfile *f, const char *key, const char *v)
{
    char name[HD_DISPLAY_NAME_MAX + 1];
    if (!v)
        return;
    if (!valid_address(v))
        issue(l, true, f->display, "%s: '%s' is not an address (write Name <user@example.com>)",
              key, v);
    else if (hd_valid_display_name(v, name, sizeof name) < 0)
        issue(l, true, f->display, "%s: the display name is longer than %d bytes", key,
              HD_DISPLAY_NAME_MAX);
}

/* An sms part that is empty is never worth sending; one whose fixed text
 * alone is over what a provider of the channel accepts never goes. */
static void lint_sms_limits(struct lint *l, const struct hd_tpl_set *set, const char *where,
                            const struct part *p, const struct hd_sms_info *si)
{
    const char *name = part_names[p->kind];
    if (p->empty)
        issue(l, true, where, "%s%s%s: the part is empty; an empty SMS is never sent", name,
              p->variant ? " @" : "", p->variant ? p->variant : "");
    else if (set->sms_max && si->chars > set->sms_max && p->kind == HD_PART_SMS)
        issue(l, true, where,
              "sms%s%s: the fixed text alone is %zu characters, over the %zu that %s accepts",
              p->variant ? " @" : "", p->variant ? p->variant : "", si->chars, set->sms_max,
              set->sms_max_who);
}

/* The characters (code points) of a JSON string. */
static size_t value_chars(const json_t *x)
{
    struct hd_sms_info si;
    hd_sms_analyze(json_string_value(x), json_string_length(x), &si);
    return si.chars;
}

/* sms.params against each approved-template provider of the channel: the
 * shape its API takes (named: an object; ordered: a list), and each
 * value's fixed text within the gateway's documented limit. */
static void lint_sms_params(struct lint *l, const struct hd_tpl *t, const struct tfile *f,
                            const struct part *p)
{
    char where[300];
    snprintf(where, sizeof where, "%s:%d", f->display, p->line);
    const char *v = p->variant ? " @" : "", *vn = p->variant ? p->variant : "";
    struct hd_fmt *fmt = hd_fmt_new();
    json_t *data = json_object(), *got = NULL;
    struct hd_tpl_req req = {
        .locale = f->locale, .variant = p->variant, .data = data, .fmt = fmt, .lenient = true};
    struct hd_err e = {0};
    if (hd_tpl_render_json(t, HD_PART_SMS_PARAMS, &req, &got, &e) < 0)
        issue_err(l, &e);
    for (size_t i = 0; got && i < t->set->nsms_prov; i++) {
        const struct sms_prov *sp = &t->set->sms_prov[i];
        if (sp->need == HD_SMS_NAMED && !json_is_object(got))
            issue(l, true, where, "sms.params%s%s: %s takes named parameters: write an object", v,
                  vn, sp->who);
        if (sp->need == HD_SMS_ORDERED && !json_is_array(got))
            issue(l, true, where,
                  "sms.params%s%s: %s takes parameters in order: write a list of strings", v, vn,
                  sp->who);
        const char *k;
        json_t *x;
        void *it = json_is_object(got) ? json_object_iter(got) : NULL;
        for (size_t n = 0; sp->max_param && n < json_array_size(got); n++) {
            x = json_array_get(got, n);
            size_t c = value_chars(x);
            if (c > sp->max_param)
                issue(l, true, where,
                      "sms.params%s%s: parameter %zu is %zu characters before any data, over "
                      "the %zu %s accepts",
                      v, vn, n + 1, c, sp->max_param, sp->who);
        }
        for (; sp->max_param && it; it = json_object_iter_next(got, it)) {
            k = json_object_iter_key(it);
            x = json_object_iter_value(it);
            size_t c = value_chars(x);
            if (c > sp->max_param)
                issue(l, true, where,
                      "sms.params%s%s: '%s' is %zu characters before any data, over the %zu "
                      "%s accepts",
                      v, vn, k, c, sp->max_param, sp->who);
        }
    }
    json_decref(got);
    json_decref(data);
    hd_fmt_free(fmt);
}

/* What each provider of the SMS channel needs of a template with SMS
 * parts: an approved-template gateway its sms.template_code (and for the
 * estimate, sms.approved_text); a free-text one an sms part or the
 * approved text to send. */
static void lint_sms_providers(struct lint *l, const struct hd_tpl *t)
{
    unsigned k = t->kinds;
    bool text = k & (1u << HD_PART_SMS), approved = k & (1u << HD_PART_SMS_APPROVED_TEXT),
         code = k & (1u << HD_PART_SMS_TEMPLATE_CODE);
    bool warned = false;
    for (size_t i = 0; i < t->set->nsms_prov; i++) {
        const struct sms_prov *sp = &t->set->sms_prov[i];
        if (sp->need == HD_SMS_TEXT && !text && !approved)
            issue(l, true, t->files[0].display,
                  "%s sends free text: add an sms part (or sms.approved_text, sent as it is)",
                  sp->who);
        if (sp->need != HD_SMS_TEXT && !code)
            issue(l, true, t->files[0].display,
                  "%s sends only templates approved at the gateway: add sms.template_code "
                  "(and sms.params when the template has variables)",
                  sp->who);
        if (sp->need != HD_SMS_TEXT && code && !approved && !warned) {
            warned = true;
            issue(l, false, t->files[0].display,
                  "no sms.approved_text: the preview, segments and cost of %s's messages "
                  "are estimated from the sms part, or not at all",
                  sp->who);
        }
    }
    if ((k & (1u << HD_PART_SMS_PARAMS)) && !code)
        issue(l, true, t->files[0].display, "sms.params without sms.template_code");
}

/* Simplified Chinese for mainland China: zh, zh-CN, zh-Hans[-...]. */
static bool zh_cn(const char *locale)
{
    return locale && (strcasecmp(locale, "zh") == 0 || strcasecmp(locale, "zh-CN") == 0 ||
                      strncasecmp(locale, "zh-Hans", 7) == 0);
}

/* China's SMS rules: a marketing SMS says how to opt out, in the words
 * [lint] sms_optout_zh configures. */
static void lint_sms_optout_zh(struct lint *l, const struct hd_tpl *t, const struct tfile *f,
                               const char *where, const char *text)
{
    const char *w = *t->set->sms_optout_zh ? t->set->sms_optout_zh : "回T退订";
    if (t->files[0].category == HD_CAT_MARKETING && zh_cn(f->locale) && !strstr(text, w))
        issue(l, true, where,
              "sms: a zh-CN marketing SMS must carry the opt-out wording '%s' (China's SMS "
              "rules; [lint] sms_optout_zh sets the wording)",
              w);
}

/* Whether part p, rendered for locale (its partials that locale's), shows
 * one of the links: rendered with a marker for both. */
static bool links_shown(const struct hd_tpl *t, const struct part *p, const char *locale)
{
    static const char mark[] = "herald-lint-link-marker";
    struct hd_fmt *fmt = hd_fmt_new();
    json_t *data = json_pack("{s:s, s:s}", "unsubscribe_url", mark, "preferences_url", mark);
    struct hd_tpl_req req = {
        .locale = locale, .variant = p->variant, .data = data, .fmt = fmt, .lenient = true};
    struct presolve ps;
    struct hd_mst_env env;
    struct hd_buf out;
    struct hd_err e = {0};
    hd_buf_init(&out);
    env_for(t, p->kind, &req, &ps, &env);
    bool shown = hd_mst_render(p->mst, data, &env, &out, &e) < 0 ||
                 strstr(out.data ? out.data : "", mark) != NULL;
    hd_buf_release(&out);
    json_decref(data);
    hd_fmt_free(fmt);
    return shown;
}

/* The locales of the set's partials (partials/NAME.LOCALE.mustache) and of
 * t's files, each once, into v (n of them, at most max). */
static size_t lint_locales(const struct hd_tpl *t, char (*v)[64], size_t max)
{
    size_t n = 0;
    for (size_t i = 1; i < t->nfiles && n < max; i++)
        snprintf(v[n++], sizeof *v, "%s", t->files[i].locale);
    char path[4096];
    snprintf(path, sizeof path, "%s/partials", t->set->dir);
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d)) != NULL && n < max;) {
        const char *dot = strchr(e->d_name, '.'), *ext = strrchr(e->d_name, '.');
        if (!dot || dot == ext || strcmp(ext, ".mustache") != 0 || (size_t)(ext - dot - 1) >= 64)
            continue;
        char loc[64];
        snprintf(loc, sizeof loc, "%.*s", (int)(ext - dot - 1), dot + 1);
        size_t k = 0;
        while (k < n && strcmp(v[k], loc) != 0)
            k++;
        if (k == n)
            snprintf(v[n++], sizeof *v, "%s", loc);
    }
    if (d)
        closedir(d);
    return n;
}

/* A marketing email's text and HTML parts each carry the recipient's
 * unsubscribe or preferences link (RFC 8058; Gmail's and Yahoo's bulk
 * sender rules): rendered with markers for both, one must show. A link
 * inside a section that needs data does not count. A base file's part is
 * also rendered for each locale that takes it (a locale file without its
 * own, or a partial's locale), with that locale's partials: a localized
 * footer without the link left those recipients without one while lint
 * passed (a review found it). */
static void lint_email_links(struct lint *l, const struct hd_tpl *t, const struct tfile *f,
                             const struct part *p)
{
    if (t->files[0].category != HD_CAT_MARKETING || !p->mst ||
        (p->kind != HD_PART_EMAIL_TEXT && p->kind != HD_PART_EMAIL_HTML))
        return;
    char locales[32][64], where[300];
    size_t n = f->locale ? 0 : lint_locales(t, locales, 32);
    const char *missing = links_shown(t, p, f->locale) ? NULL : f->locale ? f->locale : "";
    for (size_t i = 0; !missing && i < n; i++)
        if (find_part(t, p->kind, locales[i], p->variant, NULL) == p &&
            !links_shown(t, p, locales[i]))
            missing = locales[i];
    if (!missing)
        return;
    snprintf(where, sizeof where, "%s:%d", f->display, p->line);
    issue(l, true, where,
          "%s%s%s%s%s%s: a marketing email must carry {{unsubscribe_url}} or {{preferences_url}} "
          "(one-click unsubscribe: RFC 8058, Gmail's and Yahoo's bulk sender rules)",
          part_names[p->kind], p->variant ? " @" : "", p->variant ? p->variant : "",
          *missing && !f->locale ? " (for " : "", *missing && !f->locale ? missing : "",
          *missing && !f->locale ? ", with its partials)" : "");
}

/* Renders a part with no data (strictness off): the static text, for the
 * checks that can be made without a contact. */
static void lint_render(struct lint *l, const struct hd_tpl *t, const struct tfile *f,
                        const struct part *p)
{
    struct hd_fmt *fmt = hd_fmt_new();
    json_t *data = json_object();
    struct hd_tpl_req req = {.locale = f->locale,
                             .variant = p->variant,
                             .now = 0,
                             .data = data,
                             .fmt = fmt,
                             .lenient = true};
    struct hd_buf out;
    struct hd_err e = {0};
    char where[300];
    snprintf(where, sizeof where, "%s:%d", f->display, p->line);
    hd_buf_init(&out);
    bool sms = p->kind == HD_PART_SMS || p->kind == HD_PART_SMS_APPROVED_TEXT;
    if (p->kind == HD_PART_EMAIL_SUBJECT || sms || p->kind == HD_PART_PUSH_TITLE) {
        struct presolve ps;
        struct hd_mst_env env;
        env_for(t, p->kind, &req, &ps, &env);
        if (hd_mst_render(p->mst, data, &env, &out, &e) == 0) {
            if (p->kind == HD_PART_EMAIL_SUBJECT) {
                for (size_t i = 0; i < out.len; i++)
                    if ((unsigned char)out.data[i] < 0x20 || out.data[i] == 0x7f) {
                        issue(l, true, where,
                              "email.subject: a control character (line break "
                              "or tab) cannot go in a subject");
                        break;
                    }
            } else if (sms) {
                struct hd_sms_info si;
                const char *name = part_names[p->kind];
                hd_sms_analyze(out.data, out.len, &si);
                if (si.encoding == HD_SMS_UCS2 && si.first_non_gsm[0])
                    issue(l, false, where,
                          "%s%s%s: UCS-2 (%zu characters a %s) because of '%s'; the "
                          "fixed text alone is %zu characters, %zu segment%s",
                          name, p->variant ? " @" : "", p->variant ? p->variant : "",
                          si.per_segment, si.segments > 1 ? "part" : "segment", si.first_non_gsm,
                          si.chars, si.segments, si.segments == 1 ? "" : "s");
                else
                    issue(l, false, where,
                          "%s%s%s: GSM-7; the fixed text alone is %zu characters, %zu "
                          "segment%s",
                          name, p->variant ? " @" : "", p->variant ? p->variant : "", si.chars,
                          si.segments, si.segments == 1 ? "" : "s");
                lint_sms_limits(l, t->set, where, p, &si);
                lint_sms_optout_zh(l, t, f, where, out.data);
                if (t->files[0].category == HD_CAT_MARKETING && !strstr(out.data, "STOP") &&
                    !strstr(out.data, "退订") && !strstr(out.data, "退訂"))
                    issue(l, false, where,
                          "sms: a marketing SMS should end with an opt-out instruction "
                          "(\"Reply STOP to opt out\", \"回T退订\")");
            }
        } else {
            issue_err(l, &e);
        }
    }
    hd_buf_release(&out);
    json_decref(data);
    hd_fmt_free(fmt);
}

/* Title, body and data together, from the fixed text, for each locale and
 * variant: FCM and APNs refuse payloads over 4,096 bytes. */
static void lint_push_size(struct lint *l, const struct hd_tpl *t)
{
    struct hd_tpl_info info;
    struct hd_fmt *fmt = hd_fmt_new();
    json_t *data = json_object();
    hd_tpl_get_info(t, &info);
    for (size_t li = 0; li <= info.nlocales; li++) {
        for (size_t vi = 0; vi <= info.nvariants; vi++) {
            struct hd_tpl_req req = {.locale = li ? info.locales[li - 1] : NULL,
                                     .variant = vi ? info.variants[vi - 1] : NULL,
                                     .data = data,
                                     .fmt = fmt,
                                     .lenient = true};
            struct hd_buf title, body;
            json_t *pd = NULL;
            struct hd_err e = {0};
            size_t fcm, apns;
            hd_buf_init(&title);
            hd_buf_init(&body);
            hd_tpl_render(t, HD_PART_PUSH_TITLE, &req, &title, &e);
            hd_tpl_render(t, HD_PART_PUSH_BODY, &req, &body, &e);
            hd_tpl_render_json(t, HD_PART_PUSH_DATA, &req, &pd, &e);
            hd_tpl_push_sizes(title.data, body.data, pd, &fcm, &apns);
            if (fcm > HD_TPL_PUSH_MAX || apns > HD_TPL_PUSH_MAX) {
                char where[300];
                snprintf(where, sizeof where, "%s%s%s", t->name, req.locale ? "." : "",
                         req.locale ? req.locale : "");
                issue(l, true, where,
                      "push payload%s%s is %zu bytes (FCM) / %zu (APNs) before any data: over "
                      "the %d-byte limit",
                      req.variant ? " @" : "", req.variant ? req.variant : "", fcm, apns,
                      HD_TPL_PUSH_MAX);
            }
            json_decref(pd);
            hd_buf_release(&title);
            hd_buf_release(&body);
        }
    }
    json_decref(data);
    hd_fmt_free(fmt);
}

/* An empty subject, or an empty body of any channel, is never worth
 * sending (an empty sms is lint_sms_limits'). */
static void lint_empty(struct lint *l, const struct tfile *f, const struct part *p)
{
    char where[300];
    if (!p->empty || (p->kind != HD_PART_EMAIL_SUBJECT && p->kind != HD_PART_EMAIL_TEXT &&
                      p->kind != HD_PART_EMAIL_HTML && p->kind != HD_PART_PUSH_BODY))
        return;
    snprintf(where, sizeof where, "%s:%d", f->display, p->line);
    issue(l, true, where, "%s%s%s: the part is empty (%s)", part_names[p->kind],
          p->variant ? " @" : "", p->variant ? p->variant : "",
          p->kind == HD_PART_EMAIL_SUBJECT ? "an email needs a subject" : "a message needs a body");
}

static void lint_file(struct lint *l, const struct hd_tpl *t, const struct tfile *f)
{
    bool has[HD_PART_COUNT] = {0};
    l->file = f->display;
    for (size_t i = 0; i < f->nparts; i++) {
        const struct part *p = &f->parts[i];
        has[p->kind] = true;
        if (p->mst)
            hd_mst_each_partial(p->mst, check_ref, l);
        for (size_t k = 0; k < p->nleaf; k++)
            hd_mst_each_partial(p->leaf[k], check_ref, l);
        lint_render(l, t, f, p);
        lint_email_links(l, t, f, p);
        lint_empty(l, f, p);
        if (p->kind == HD_PART_SMS_PARAMS)
            lint_sms_params(l, t, f, p);
    }
    lint_mailbox(l, f, "from", f->from);
    lint_mailbox(l, f, "reply_to", f->reply_to);
    if (f->locale)
        return; /* a locale file may override any subset of parts */
    if ((has[HD_PART_EMAIL_TEXT] || has[HD_PART_EMAIL_HTML]) && !has[HD_PART_EMAIL_SUBJECT])
        issue(l, true, f->display, "email parts without an email.subject");
    if (has[HD_PART_EMAIL_SUBJECT] && !has[HD_PART_EMAIL_TEXT] && !has[HD_PART_EMAIL_HTML])
        issue(l, true, f->display, "email.subject without email.text or email.html");
    if (has[HD_PART_EMAIL_HTML] && !has[HD_PART_EMAIL_TEXT])
        issue(l, false, f->display,
              "email.html without email.text: the text part will be derived from the HTML");
    if (has[HD_PART_PUSH_TITLE] || has[HD_PART_PUSH_BODY] || has[HD_PART_PUSH_DATA])
        lint_push_size(l, t);
    unsigned sms = 1u << HD_PART_SMS | 1u << HD_PART_SMS_TEMPLATE_CODE | 1u << HD_PART_SMS_PARAMS |
                   1u << HD_PART_SMS_APPROVED_TEXT;
    if (t->kinds & sms)
        lint_sms_providers(l, t);
    if (!f->nparts)
        issue(l, true, f->display, "no parts: add '--- email.subject', '--- sms', ...");
}

static void collect_issue(void *ud, const struct hd_err *e)
{
    issue_err(ud, e);
}

int hd_tpl_lint(struct hd_tpl_set *set, const char *name, hd_tpl_issue_cb cb, void *ud)
{
    struct lint l = {.cb = cb, .ud = ud, .set = set};
    const struct hd_tpl *t;
    struct hd_err e = {0};
    set->collect = collect_issue; /* every parse error told, not the first */
    set->collect_ud = &l;
    int rc = hd_tpl_get(set, name, &t, &e);
    set->collect = NULL;
    if (rc < 0) {
        if (!l.errors) /* not a parse error: no file, a bad name */
            issue_err(&l, &e);
        return l.errors;
    }
    for (size_t i = 0; i < t->nfiles; i++)
        lint_file(&l, t, &t->files[i]);
    return l.errors;
}

int hd_tpl_lint_partials(struct hd_tpl_set *set, hd_tpl_issue_cb cb, void *ud)
{
    struct lint l = {.cb = cb, .ud = ud, .set = set};
    char dir[4096], **files;
    size_t n;
    struct hd_err e = {0};
    snprintf(dir, sizeof dir, "%s/partials", set->dir);
    if (list_dir(dir, "", ".mustache", &files, &n, &e) < 0) {
        issue_err(&l, &e);
        return l.errors;
    }
    for (size_t i = 0; i < n; i++) {
        char name[256], *dot;
        snprintf(name, sizeof name, "%s", files[i]);
        dot = strchr(name, '.');
        *dot = '\0';
        const char *locale = strcmp(dot + 1, "mustache") == 0 ? "" : dot + 1;
        char loc[128];
        snprintf(loc, sizeof loc, "%s", locale);
        char *end = strstr(loc, ".mustache");
        if (end)
            *end = '\0';
        const struct hd_mst *m;
        if (!valid_name(name)) {
            char where[300];
            snprintf(where, sizeof where, "partials/%s", files[i]);
            issue(&l, true, where, "'%s' is not a partial name (letters, digits, '_' and '-')",
                  name);
        } else if (partial_for(set, name, loc, &m, &e) < 0) {
            issue_err(&l, &e);
        } else {
            char where[300];
            snprintf(where, sizeof where, "partials/%s", files[i]);
            l.file = where;
            hd_mst_each_partial(m, check_ref, &l);
        }
        free(files[i]);
    }
    free(files);
    return l.errors;
}
