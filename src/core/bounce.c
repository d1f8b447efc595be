/* bounce: the bounce rules table and the classifier (see bounce.h).
 *
 * The table is three lists (status, reply, keyword) in file order; a
 * pattern ending in '*' matches as a prefix, a keyword anywhere in the
 * text, ignoring ASCII case. Classifying looks for the codes in the text
 * when the caller has none ("550 5.1.1 <a@b>: user unknown"), then tries
 * the lists in that order: the first match of the first list that has one
 * decides. A bad line is refused with its file and line number, and the
 * whole table with it: a half-read table would classify silently wrong. */
#include "herald/bounce.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "herald/buf.h"

enum { M_STATUS, M_REPLY, M_KEYWORD, M_COUNT };

struct rule {
    char *pattern;
    int cls, severity;
};

struct hd_bounce_rules {
    struct rule *v[M_COUNT];
    size_t n[M_COUNT];
};

static const char *const class_names[HD_BOUNCE_COUNT] = {
    "invalid_recipient", "mailbox_full", "message_too_large", "spam_block", "policy", "dns",
    "transient",         "unknown"};
static const char *const severity_names[] = {"hard", "soft", "none"};
static const char *const match_names[M_COUNT] = {"status", "reply", "keyword"};

const char *hd_bounce_class_name(int cls)
{
    return cls >= 0 && cls < HD_BOUNCE_COUNT ? class_names[cls] : "?";
}

const char *hd_bounce_severity_name(int severity)
{
    return severity >= 0 && severity <= HD_BOUNCE_NONE ? severity_names[severity] : "?";
}

static int find(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

void hd_bounce_rules_free(struct hd_bounce_rules *r)
{
    if (!r)
        return;
    for (int m = 0; m < M_COUNT; m++) {
        for (size_t i = 0; i < r->n[m]; i++)
            free(r->v[m][i].pattern);
        free(r->v[m]);
    }
    free(r);
}

/* One line's four fields, split at tabs in place; -1 unless exactly four. */
static int fields(char *line, char *f[4])
{
    int n = 0;
    for (char *p = line; n < 4; n++) {
        f[n] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            return n == 3 ? 0 : -1;
        *tab = '\0';
        p = tab + 1;
    }
    return -1;
}

static int add_line(struct hd_bounce_rules *r, char *line, const char *name, int ln,
                    struct hd_err *err)
{
    char *f[4];
    if (fields(line, f) < 0)
        return hd_err_set(err, HD_E_PARSE,
                          "%s:%d: a rule is four fields separated by tabs: match, pattern, "
                          "class, severity",
                          name, ln);
    int m = find(match_names, M_COUNT, f[0]), cls = find(class_names, HD_BOUNCE_COUNT, f[2]),
        sev = find(severity_names, 3, f[3]);
    if (m < 0)
        return hd_err_set(err, HD_E_PARSE, "%s:%d: '%s' is not status, reply or keyword", name, ln,
                          f[0]);
    if (!*f[1])
        return hd_err_set(err, HD_E_PARSE, "%s:%d: the pattern is empty", name, ln);
    if (cls < 0)
        return hd_err_set(err, HD_E_PARSE, "%s:%d: '%s' is not a bounce class", name, ln, f[2]);
    if (sev < 0)
        return hd_err_set(err, HD_E_PARSE, "%s:%d: '%s' is not hard, soft or none", name, ln, f[3]);
    HD_GROW(r->v[m], r->n[m]);
    r->v[m][r->n[m]++] = (struct rule){hd_xstrdup(f[1]), cls, sev};
    return 0;
}

int hd_bounce_rules_parse(const char *text, const char *name, struct hd_bounce_rules **out,
                          struct hd_err *err)
{
    struct hd_bounce_rules *r = hd_xcalloc(1, sizeof *r);
    char *copy = hd_xstrdup(text), *line = copy, *next;
    int rc = 0;
    for (int ln = 1; rc == 0 && line && *line; ln++, line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line[strcspn(line, "\r")] = '\0';
        if (*line && *line != '#')
            rc = add_line(r, line, name, ln, err);
    }
    free(copy);
    if (rc < 0) {
        hd_bounce_rules_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int hd_bounce_rules_load(const char *path, struct hd_bounce_rules **out, struct hd_err *err)
{
    struct hd_buf b;
    hd_buf_init(&b);
    if (hd_buf_read_file(&b, path) < 0) {
        hd_buf_release(&b);
        return hd_err_set(err, HD_E_IO, "bounce rules '%s': cannot read it", path);
    }
    int rc = hd_bounce_rules_parse(b.data ? b.data : "", path, out, err);
    hd_buf_release(&b);
    return rc;
}

extern const char *const hd_bounce_rules_builtin[];

int hd_bounce_rules_builtin_load(struct hd_bounce_rules **out, struct hd_err *err)
{
    struct hd_buf b;
    hd_buf_init(&b);
    for (size_t i = 0; hd_bounce_rules_builtin[i]; i++)
        hd_buf_adds(&b, hd_bounce_rules_builtin[i]);
    int rc = hd_bounce_rules_parse(b.data, "the built-in bounce-rules.tsv", out, err);
    hd_buf_release(&b);
    return rc;
}

/* ---- classifying ------------------------------------------------------------------------ */

static bool code_match(const char *pattern, const char *code)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*')
        return strncmp(pattern, code, n - 1) == 0;
    return strcmp(pattern, code) == 0;
}

/* Whether word occurs in text, ASCII case ignored. */
static bool has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = text; *p; p++)
        if (strncasecmp(p, word, n) == 0)
            return true;
    return false;
}

/* The first "D.D{1,3}.D{1,3}" with D 2, 4 or 5 in text, standing alone. */
static void find_status(const char *text, char *out, size_t size)
{
    for (const char *p = text; *p; p++) {
        int a, b, len = 0;
        if ((p > text && !isspace((unsigned char)p[-1]) && p[-1] != '#' && p[-1] != '(') ||
            !strchr("245", *p) || p[1] != '.')
            continue;
        if (sscanf(p, "%1d.%3d.%3d%n", &a, &b, &(int){0}, &len) == 3 && len > 4 &&
            (!p[len] || !isdigit((unsigned char)p[len]))) {
            snprintf(out, size, "%.*s", len, p);
            return;
        }
    }
}

/* The reply code a text starts with, after any "... refused: " prefix. */
static int find_reply(const char *text)
{
    const char *p = strstr(text, "refused: ");
    p = p ? p + 9 : text;
    while (*p == ' ')
        p++;
    /* strchr finds the terminating NUL too: an empty rest is no code */
    if (*p && strchr("245", *p) && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
        !isdigit((unsigned char)p[3]))
        return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    return 0;
}

static bool try_list(const struct hd_bounce_rules *r, int m, const char *s, struct hd_bounce *out)
{
    for (size_t i = 0; s && *s && i < r->n[m]; i++) {
        const struct rule *x = &r->v[m][i];
        if (m == M_KEYWORD ? has_word(s, x->pattern) : code_match(x->pattern, s)) {
            out->cls = x->cls;
            out->severity = x->severity;
            return true;
        }
    }
    return false;
}

void hd_bounce_classify(const struct hd_bounce_rules *r, const char *status, int reply,
                        const char *text, struct hd_bounce *out)
{
    memset(out, 0, sizeof *out);
    if (status)
        snprintf(out->status, sizeof out->status, "%s", status);
    else if (text)
        find_status(text, out->status, sizeof out->status);
    out->reply = reply ? reply : text ? find_reply(text) : 0;
    out->cls = HD_BOUNCE_UNKNOWN;
    bool perm = out->status[0] == '5' || (out->reply >= 500 && out->reply < 600);
    out->severity = !r && perm ? HD_BOUNCE_HARD : HD_BOUNCE_SOFT;
    if (!r)
        return;
    char code[8];
    snprintf(code, sizeof code, "%d", out->reply);
    if (try_list(r, M_STATUS, out->status, out) || (out->reply && try_list(r, M_REPLY, code, out)))
        return;
    try_list(r, M_KEYWORD, text, out);
}
