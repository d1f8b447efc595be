/* mustache: compiler and renderer.
 *
 * Compilation is three passes over the source. The scanner cuts it into
 * tokens (text is cut after every newline, so a text token holds at most one
 * line end), honouring delimiter changes. The line pass then finds
 * standalone lines: a line holding only whitespace and tags that print
 * nothing (sections, closings, comments, delimiters, partials, parents,
 * blocks) is dropped whole, and its leading whitespace becomes the
 * indentation of a partial, parent or block on it. The tree pass matches
 * opening and closing tags and builds the node tree; blocks whose opening
 * tag stood alone are then "dedented" (spec 1.4: block indentation is
 * removed where a block is written and added where it is expanded).
 *
 * Rendering walks the tree with a context stack of jansson values. Partials,
 * parents and blocks on standalone lines add indentation, which is written
 * before every non-empty line of template text (never inside data). Parents
 * push their block arguments on an override stack; a block renders the
 * outermost override of its name, or its own content. */
#include "mst_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 100

/* ---- tokens ------------------------------------------------------------ */

enum tok_type {
    T_TEXT,
    T_VAR,
    T_RAW,
    T_SECTION,
    T_INVERTED,
    T_CLOSE,
    T_PARTIAL,
    T_PARENT,
    T_BLOCK,
    T_COMMENT,
    T_DELIM,
};

struct token {
    enum tok_type type;
    size_t start, end;   /* the whole token in the source */
    size_t cstart, cend; /* T_TEXT: the text; tags: the trimmed content */
    int line, col;
    bool drop; /* text on a standalone line */
    bool standalone;
    bool close_nl;       /* T_CLOSE on a standalone line that ends in a newline */
    size_t istart, iend; /* indentation of a standalone line (source span) */
};

struct compiler {
    const char *src;
    size_t len;
    const char *file;
    int line0, col0;
    struct token *tok;
    size_t ntok, cap;
    struct hd_err *err;
};

static bool is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* Line and column (in characters, not bytes) of offset pos. */
static void position(const struct compiler *c, size_t pos, int *line, int *col)
{
    int l = c->line0, k = c->col0;
    for (size_t i = 0; i < pos && i < c->len; i++) {
        unsigned char b = (unsigned char)c->src[i];
        if (b == '\n') {
            l++;
            k = 1;
        } else if ((b & 0xC0) != 0x80) {
            k++;
        }
    }
    *line = l;
    *col = k;
}

static int fail_at(struct compiler *c, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(struct compiler *c, size_t pos, const char *fmt, ...)
{
    char msg[600];
    int line, col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    position(c, pos, &line, &col);
    return hd_err_setpos(c->err, HD_E_PARSE, c->file, line, col, "%s", msg);
}

static struct token *push(struct compiler *c, enum tok_type type, size_t start, size_t end)
{
    if (c->ntok == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->tok = hd_xrealloc(c->tok, c->cap * sizeof *c->tok);
    }
    struct token *t = &c->tok[c->ntok++];
    memset(t, 0, sizeof *t);
    t->type = type;
    t->start = start;
    t->end = end;
    return t;
}

/* Pushes text [a, b) cut after each newline. */
static void push_text(struct compiler *c, size_t a, size_t b)
{
    while (a < b) {
        const char *nl = memchr(c->src + a, '\n', b - a);
        size_t e = nl ? (size_t)(nl - c->src) + 1 : b;
        struct token *t = push(c, T_TEXT, a, e);
        t->cstart = a;
        t->cend = e;
        a = e;
    }
}

static void trim(const char *s, size_t *a, size_t *b)
{
    while (*a < *b && isspace((unsigned char)s[*a]))
        (*a)++;
    while (*b > *a && isspace((unsigned char)s[*b - 1]))
        (*b)--;
}

/* The current delimiters, changed by {{=<% %>=}} tags. */
struct delims {
    char otag[16], ctag[16];
    size_t olen;
};

/* The type of tag a sigil (the character after the opening delimiter)
 * gives, or T_VAR when it is no sigil but the name's first character. */
static enum tok_type sigil_type(char sig)
{
    switch (sig) {
    case '{':
        return T_RAW;
    case '&':
        return T_RAW;
    case '#':
        return T_SECTION;
    case '^':
        return T_INVERTED;
    case '/':
        return T_CLOSE;
    case '>':
        return T_PARTIAL;
    case '<':
        return T_PARENT;
    case '$':
        return T_BLOCK;
    case '!':
        return T_COMMENT;
    case '=':
        return T_DELIM;
    default:
        return T_VAR;
    }
}

/* Applies a delimiter change whose trimmed content is [a, cend): "<% %>",
 * two words, neither with '=' nor whitespace. */
static int set_delims(struct compiler *c, struct delims *dl, size_t tstart, size_t a, size_t cend)
{
    size_t b = a;
    while (b < cend && !isspace((unsigned char)c->src[b]))
        b++;
    size_t d = b;
    while (d < cend && isspace((unsigned char)c->src[d]))
        d++;
    size_t na = b - a, nd = cend - d;
    if (na == 0 || nd == 0 || d == b || na >= sizeof dl->otag || nd >= sizeof dl->ctag ||
        memchr(c->src + a, '=', na) || memchr(c->src + d, '=', nd) ||
        hd_memfind(c->src + d, nd, " ", 1) || hd_memfind(c->src + d, nd, "\t", 1))
        return fail_at(c, tstart,
                       "bad delimiter change: write {{=<%% %%>=}}, two delimiters "
                       "without '=' or spaces");
    memcpy(dl->otag, c->src + a, na);
    dl->otag[na] = '\0';
    dl->olen = na;
    memcpy(dl->ctag, c->src + d, nd);
    dl->ctag[nd] = '\0';
    return 0;
}

/* Pushes the tag whose opening delimiter starts at tstart; *pos becomes the
 * offset just after its closing delimiter. */
static int scan_tag(struct compiler *c, struct delims *dl, size_t tstart, size_t *pos)
{
    size_t p = tstart + dl->olen;
    if (p >= c->len)
        return fail_at(c, tstart, "unclosed tag: '%s' without '%s'", dl->otag, dl->ctag);
    char sig = c->src[p];
    enum tok_type type = sigil_type(sig);
    char closer[20];
    if (type == T_VAR)
        sig = 0;
    else
        p++;
    /* the closing delimiter; {{{x}}} and {{=a b=}} have an extra character */
    if (sig == '{' || sig == '=')
        snprintf(closer, sizeof closer, "%c%s", sig == '{' ? '}' : '=', dl->ctag);
    else
        snprintf(closer, sizeof closer, "%s", dl->ctag);
    size_t cl = strlen(closer);
    const char *e = hd_memfind(c->src + p, c->len - p, closer, cl);
    if (!e) {
        if (sig == '{')
            return fail_at(c, tstart, "unclosed tag: '%s{' needs '}%s'", dl->otag, dl->ctag);
        return fail_at(c, tstart, "unclosed tag: '%s' without '%s'", dl->otag, dl->ctag);
    }
    size_t cstart = p, cend = (size_t)(e - c->src), tend = cend + cl;
    trim(c->src, &cstart, &cend);
    struct token *t = push(c, type, tstart, tend);
    t->cstart = cstart;
    t->cend = cend;
    position(c, tstart, &t->line, &t->col);
    if (type == T_DELIM) {
        int rc = set_delims(c, dl, tstart, cstart, cend);
        if (rc < 0)
            return rc;
    } else if (type != T_COMMENT && cstart == cend) {
        return fail_at(c, tstart, "empty tag: a name is missing");
    }
    *pos = tend;
    return 0;
}

static int scan(struct compiler *c)
{
    struct delims dl = {"{{", "}}", 2};
    size_t pos = 0;
    while (pos < c->len) {
        const char *o = hd_memfind(c->src + pos, c->len - pos, dl.otag, dl.olen);
        if (!o) {
            push_text(c, pos, c->len);
            break;
        }
        size_t tstart = (size_t)(o - c->src);
        push_text(c, pos, tstart);
        int rc = scan_tag(c, &dl, tstart, &pos);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- standalone lines ---------------------------------------------------- */

static bool prints_nothing(enum tok_type t)
{
    return t != T_TEXT && t != T_VAR && t != T_RAW;
}

static void standalone_lines(struct compiler *c)
{
    size_t i = 0;
    while (i < c->ntok) {
        size_t j = i; /* the line is tokens [i, j] */
        while (j < c->ntok) {
            const struct token *t = &c->tok[j];
            if (t->type == T_TEXT && c->src[t->cend - 1] == '\n')
                break;
            j++;
        }
        size_t last = j < c->ntok ? j : c->ntok - 1;
        bool tag = false, other = false, nl = j < c->ntok;
        for (size_t k = i; k <= last; k++) {
            const struct token *t = &c->tok[k];
            if (t->type == T_TEXT) {
                for (size_t b = t->cstart; b < t->cend; b++) {
                    char ch = c->src[b];
                    if (!is_ws(ch) && ch != '\n' && !(ch == '\r' && b + 1 < t->cend))
                        other = true;
                }
            } else if (prints_nothing(t->type)) {
                tag = true;
            } else {
                other = true;
            }
        }
        if (tag && !other) {
            size_t istart = c->tok[i].start, iend = istart;
            if (c->tok[i].type == T_TEXT)
                iend = c->tok[i].cend;
            for (size_t k = i; k <= last; k++) {
                struct token *t = &c->tok[k];
                if (t->type == T_TEXT) {
                    t->drop = true;
                    continue;
                }
                t->standalone = true;
                t->close_nl = nl;
                t->istart = istart;
                t->iend = iend;
            }
        }
        i = last + 1;
    }
}

/* ---- names and filters ------------------------------------------------------ */

static int parse_name(struct compiler *c, const struct token *t, size_t a, size_t b,
                      bool allow_dynamic, struct mst_name *nm)
{
    memset(nm, 0, sizeof *nm);
    if (allow_dynamic && a < b && c->src[a] == '*') {
        nm->dynamic = true;
        a++;
        while (a < b && isspace((unsigned char)c->src[a]))
            a++;
    }
    if (a == b)
        return fail_at(c, t->start, "empty tag: a name is missing");
    for (size_t i = a; i < b; i++)
        if (isspace((unsigned char)c->src[i]))
            return fail_at(c, t->start,
                           "bad tag name '%.*s': a name has no spaces (filters follow a '|')",
                           (int)(b - a), c->src + a);
    nm->full = hd_xstrndup(c->src + a, b - a);
    if (strcmp(nm->full, ".") == 0) {
        nm->dot = true;
        return 0;
    }
    nm->seg_buf = hd_xstrndup(c->src + a, b - a);
    size_t n = 1;
    for (char *p = nm->seg_buf; *p; p++)
        n += *p == '.';
    nm->seg = hd_xcalloc(n, sizeof *nm->seg);
    nm->seglen = hd_xcalloc(n, sizeof *nm->seglen);
    char *p = nm->seg_buf;
    for (size_t k = 0; k < n; k++) {
        char *dot = strchr(p, '.');
        if (dot)
            *dot = '\0';
        nm->seg[k] = p;
        nm->seglen[k] = strlen(p);
        if (nm->seglen[k] == 0)
            return fail_at(c, t->start, "bad tag name '%s': an empty part between dots", nm->full);
        p = dot ? dot + 1 : p + nm->seglen[k];
    }
    nm->nseg = n;
    return 0;
}

static void name_release(struct mst_name *nm)
{
    free(nm->full);
    free(nm->seg_buf);
    free(nm->seg);
    free(nm->seglen);
}

/* Splits "name | f1 a | f2" at the '|' outside quotes. */
static int parse_tag_content(struct compiler *c, const struct token *t, struct mst_node *n,
                             bool allow_dynamic)
{
    size_t a = t->cstart, b = t->cend, i = a;
    char quote = 0; /* inside "..." or '...' a '|' is text */
    while (i < b && (quote || c->src[i] != '|')) {
        if ((c->src[i] == '"' || c->src[i] == '\'') && (i == a || c->src[i - 1] != '\\'))
            quote = quote == c->src[i] ? 0 : quote ? quote : c->src[i];
        i++;
    }
    size_t ne = i;
    trim(c->src, &a, &ne);
    int rc = parse_name(c, t, a, ne, allow_dynamic, &n->name);
    if (rc < 0)
        return rc;
    while (i < b) {
        size_t fs = ++i;
        quote = 0;
        while (i < b && (quote || c->src[i] != '|')) {
            if ((c->src[i] == '"' || c->src[i] == '\'') && c->src[i - 1] != '\\')
                quote = quote == c->src[i] ? 0 : quote ? quote : c->src[i];
            i++;
        }
        size_t fe = i;
        trim(c->src, &fs, &fe);
        char why[300];
        HD_GROW(n->filters, n->nfilters);
        struct mst_filter *f = &n->filters[n->nfilters];
        if (mst_filter_parse(c->src + fs, fe - fs, f, why, sizeof why) < 0)
            return fail_at(c, t->start, "%s", why);
        n->nfilters++;
    }
    return 0;
}

/* ---- tree ------------------------------------------------------------------- */

static void node_release(struct mst_node *n);

static void kids_release(struct mst_node *kids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        node_release(&kids[i]);
    free(kids);
}

static void node_release(struct mst_node *n)
{
    free(n->text);
    name_release(&n->name);
    for (size_t i = 0; i < n->nfilters; i++)
        mst_filter_release(&n->filters[i]);
    free(n->filters);
    kids_release(n->kids, n->nkids);
    free(n->indent);
}

static struct mst_node *add_kid(struct mst_node *parent)
{
    HD_GROW(parent->kids, parent->nkids);
    struct mst_node *n = &parent->kids[parent->nkids++];
    memset(n, 0, sizeof *n);
    return n;
}

static const char *open_sigil(enum tok_type t)
{
    switch (t) {
    case T_SECTION:
        return "#";
    case T_INVERTED:
        return "^";
    case T_PARENT:
        return "<";
    case T_BLOCK:
        return "$";
    default:
        return "";
    }
}

static int build(struct compiler *c, size_t *i, struct mst_node *parent, const struct token *opener,
                 const struct mst_name *open_name);

/* A closing tag t: it must close opener, the section whose kids are being
 * built. */
static int close_section(struct compiler *c, const struct token *t, struct mst_node *parent,
                         const struct token *opener, const struct mst_name *open_name)
{
    size_t a = t->cstart, b = t->cend;
    if (!opener)
        return fail_at(c, t->start, "unexpected closing tag '{{/%.*s}}': no section is open",
                       (int)(b - a), c->src + a);
    const char *want = open_name->full;
    size_t wl = strlen(want);
    bool dyn = open_name->dynamic;
    /* {{/name}} closes {{#name | filters}}, and {{/ *x}} closes {{< *x}} */
    if (dyn && a < b && c->src[a] == '*') {
        a++;
        while (a < b && isspace((unsigned char)c->src[a]))
            a++;
    }
    size_t ne = a;
    while (ne < b && c->src[ne] != '|' && !isspace((unsigned char)c->src[ne]))
        ne++;
    if (ne - a != wl || memcmp(c->src + a, want, wl) != 0)
        return fail_at(c, t->start,
                       "mismatched closing tag '{{/%.*s}}': '{{%s%s}}' opened at %d:%d "
                       "is still open",
                       (int)(t->cend - t->cstart), c->src + t->cstart, open_sigil(opener->type),
                       want, opener->line, opener->col);
    parent->restore_nl = t->standalone && t->close_nl;
    return 0;
}

/* Inside a parent only block arguments count: a section there is still
 * parsed (so that its closing tag is matched), then thrown away. */
static int skip_in_parent(struct compiler *c, size_t *i, const struct token *t)
{
    if (t->type == T_SECTION || t->type == T_INVERTED || t->type == T_PARENT) {
        struct mst_node skip = {.type = N_SECTION};
        int rc = parse_tag_content(c, t, &skip, t->type == T_PARENT);
        if (rc == 0)
            rc = build(c, i, &skip, t, &skip.name);
        node_release(&skip);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void add_text(struct compiler *c, struct mst_node *parent, const struct token *t)
{
    if (parent->nkids && parent->kids[parent->nkids - 1].type == N_TEXT) {
        /* one node for a run of lines: fewer, longer appends when rendering */
        struct mst_node *prev = &parent->kids[parent->nkids - 1];
        size_t add = t->cend - t->cstart;
        prev->text = hd_xrealloc(prev->text, prev->len + add + 1);
        memcpy(prev->text + prev->len, c->src + t->cstart, add);
        prev->len += add;
        prev->text[prev->len] = '\0';
        return;
    }
    struct mst_node *n = add_kid(parent);
    n->type = N_TEXT;
    n->text = hd_xstrndup(c->src + t->cstart, t->cend - t->cstart);
    n->len = t->cend - t->cstart;
    n->bol = t->cstart == 0 || c->src[t->cstart - 1] == '\n';
    position(c, t->cstart, &n->line, &n->col);
}

/* Builds the kids of the section, inverted section, parent or block just
 * added as parent's last kid, up to its closing tag t opened. */
static int build_section(struct compiler *c, size_t *i, struct mst_node *parent,
                         const struct token *t)
{
    /* the node may move while its kids are added: keep an index */
    size_t idx = parent->nkids - 1;
    struct mst_node tmp = parent->kids[idx];
    memset(&parent->kids[idx], 0, sizeof tmp);
    int rc = build(c, i, &tmp, t, &tmp.name);
    parent->kids[idx] = tmp;
    if (rc < 0)
        return rc;
    if (*i > c->ntok || (c->tok[*i - 1].type != T_CLOSE))
        return fail_at(c, t->start, "unclosed section: '{{%s%s}}' has no '{{/%s}}'",
                       open_sigil(t->type), parent->kids[idx].name.full,
                       parent->kids[idx].name.full);
    return 0;
}

/* Adds a tag (variable, section, partial, parent or block) to parent. */
static int add_tag(struct compiler *c, size_t *i, struct mst_node *parent, const struct token *t)
{
    static const enum mst_node_type map[] = {
        [T_VAR] = N_VAR,           [T_RAW] = N_RAW,         [T_SECTION] = N_SECTION,
        [T_INVERTED] = N_INVERTED, [T_PARTIAL] = N_PARTIAL, [T_PARENT] = N_PARENT,
        [T_BLOCK] = N_BLOCK};
    struct mst_node *n = add_kid(parent);
    n->line = t->line;
    n->col = t->col;
    n->type = map[t->type];
    n->standalone = t->standalone;
    if (t->standalone) {
        n->indent = hd_xstrndup(c->src + t->istart, t->iend - t->istart);
        n->indent_len = t->iend - t->istart;
    }
    bool dyn_ok = t->type == T_PARTIAL || t->type == T_PARENT;
    int rc = parse_tag_content(c, t, n, dyn_ok);
    if (rc < 0)
        return rc;
    if ((t->type == T_PARTIAL || t->type == T_PARENT || t->type == T_BLOCK) && n->nfilters)
        return fail_at(c, t->start, "filters apply to variables and sections, not to '%s%s'",
                       t->type == T_PARTIAL ? ">" : open_sigil(t->type), n->name.full);
    if (t->type == T_SECTION || t->type == T_INVERTED || t->type == T_PARENT || t->type == T_BLOCK)
        return build_section(c, i, parent, t);
    return 0;
}

/* Builds parent's kids from tokens starting at *i, up to the close tag of
 * opener (or the end when opener is NULL). */
static int build(struct compiler *c, size_t *i, struct mst_node *parent, const struct token *opener,
                 const struct mst_name *open_name)
{
    while (*i < c->ntok) {
        const struct token *t = &c->tok[(*i)++];
        int rc;
        if (t->drop || t->type == T_COMMENT || t->type == T_DELIM)
            continue;
        if (t->type == T_CLOSE)
            return close_section(c, t, parent, opener, open_name);
        if (parent->type == N_PARENT && t->type != T_BLOCK) {
            if ((rc = skip_in_parent(c, i, t)) < 0)
                return rc;
            continue;
        }
        if (t->type == T_TEXT) {
            add_text(c, parent, t);
            continue;
        }
        if ((rc = add_tag(c, i, parent, t)) < 0)
            return rc;
    }
    if (opener)
        return fail_at(c, opener->start, "unclosed section: '{{%s%s}}' has no '{{/%s}}'",
                       open_sigil(opener->type), open_name->full, open_name->full);
    return 0;
}

/* Removes prefix p (n bytes) from every line start in the subtree. */
static void dedent(struct mst_node *kids, size_t nkids, const char *p, size_t n, bool at_bol)
{
    for (size_t k = 0; k < nkids; k++) {
        struct mst_node *x = &kids[k];
        if (x->type == N_TEXT) {
            struct hd_buf b;
            hd_buf_init(&b);
            bool bol = x->bol || (k == 0 && at_bol);
            for (size_t i = 0; i < x->len;) {
                if (bol && x->len - i >= n && memcmp(x->text + i, p, n) == 0)
                    i += n;
                const char *nl = memchr(x->text + i, '\n', x->len - i);
                size_t e = nl ? (size_t)(nl - x->text) + 1 : x->len;
                hd_buf_add(&b, x->text + i, e - i);
                i = e;
                bol = true;
            }
            free(x->text);
            x->text = hd_buf_detach(&b, &x->len);
        } else if (x->indent && x->indent_len >= n && memcmp(x->indent, p, n) == 0) {
            memmove(x->indent, x->indent + n, x->indent_len - n + 1);
            x->indent_len -= n;
        }
        if (x->kids && x->type != N_BLOCK)
            dedent(x->kids, x->nkids, p, n, false);
        else if (x->kids)
            dedent(x->kids, x->nkids, p, n, x->standalone);
    }
}

/* Spec 1.4: a block whose opening tag stands alone takes its indentation from
 * its first line of content (or from the tag when it is empty); that much is
 * removed from its lines here and added back wherever it is expanded. */
static void reindent_blocks(struct mst_node *kids, size_t nkids)
{
    for (size_t k = 0; k < nkids; k++) {
        struct mst_node *x = &kids[k];
        if (x->type == N_BLOCK && x->standalone) {
            const char *ind = x->indent ? x->indent : "";
            size_t n = x->indent_len;
            if (x->nkids) {
                const struct mst_node *f = &x->kids[0];
                if (f->type == N_TEXT) {
                    n = 0;
                    while (n < f->len && is_ws(f->text[n]))
                        n++;
                    ind = f->text;
                } else {
                    ind = f->indent ? f->indent : "";
                    n = f->indent_len;
                }
            }
            char *copy = hd_xstrndup(ind, n);
            dedent(x->kids, x->nkids, copy, n, true);
            free(x->indent);
            x->indent = copy;
            x->indent_len = n;
        }
        if (x->kids)
            reindent_blocks(x->kids, x->nkids);
    }
}

/* Blocks may be rendered from another template (as overrides), so each
 * remembers its own file for messages. */
static void set_block_file(struct mst_node *kids, size_t n, const char *file)
{
    for (size_t i = 0; i < n; i++) {
        if (kids[i].type == N_BLOCK)
            kids[i].file = file;
        if (kids[i].kids)
            set_block_file(kids[i].kids, kids[i].nkids, file);
    }
}

int hd_mst_compile(const char *src, size_t len, const struct hd_mst_opts *opts, struct hd_mst **out,
                   struct hd_err *err)
{
    struct compiler c = {.src = src, .len = len, .err = err};
    c.file = opts && opts->file ? opts->file : "template";
    c.line0 = opts && opts->line > 0 ? opts->line : 1;
    c.col0 = opts && opts->col > 0 ? opts->col : 1;
    struct hd_mst *t = hd_xcalloc(1, sizeof *t);
    t->file = hd_xstrdup(c.file);
    t->root.type = N_SECTION;
    size_t i = 0;
    int rc = scan(&c);
    if (rc == 0) {
        standalone_lines(&c);
        rc = build(&c, &i, &t->root, NULL, NULL);
    }
    free(c.tok);
    if (rc < 0) {
        hd_mst_free(t);
        return rc;
    }
    reindent_blocks(t->root.kids, t->root.nkids);
    set_block_file(t->root.kids, t->root.nkids, t->file);
    *out = t;
    return 0;
}

void hd_mst_free(struct hd_mst *t)
{
    if (!t)
        return;
    node_release(&t->root);
    free(t->file);
    free(t);
}

static int each_partial(const struct mst_node *kids, size_t n, hd_mst_ref_cb cb, void *ud)
{
    for (size_t i = 0; i < n; i++) {
        const struct mst_node *x = &kids[i];
        int rc;
        if ((x->type == N_PARTIAL || x->type == N_PARENT) && !x->name.dynamic &&
            (rc = cb(ud, x->name.full, x->line, x->col)) != 0)
            return rc;
        if (x->kids && (rc = each_partial(x->kids, x->nkids, cb, ud)) != 0)
            return rc;
    }
    return 0;
}

int hd_mst_each_partial(const struct hd_mst *t, hd_mst_ref_cb cb, void *ud)
{
    return each_partial(t->root.kids, t->root.nkids, cb, ud);
}

static bool may_use(const struct mst_node *kids, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        const struct mst_node *x = &kids[i];
        if (x->type == N_PARTIAL || x->type == N_PARENT || x->name.dynamic || x->name.dot)
            return true; /* what they stand for is not in t */
        for (size_t s = 0; s < x->name.nseg; s++)
            if (x->name.seglen[s] == strlen(name) &&
                memcmp(x->name.seg[s], name, x->name.seglen[s]) == 0)
                return true;
        if (x->kids && may_use(x->kids, x->nkids, name))
            return true;
    }
    return false;
}

bool hd_mst_may_use(const struct hd_mst *t, const char *name)
{
    return t && may_use(t->root.kids, t->root.nkids, name);
}

/* ---- rendering ------------------------------------------------------------------ */

struct render {
    const struct hd_mst_env *env;
    struct hd_buf *out;
    const json_t **ctx; /* the context stack: ctx_inline until it outgrows it */
    size_t nctx, capctx;
    const json_t *ctx_inline[8];
    struct hd_buf indent;
    bool bol;
    const struct mst_node **ovr; /* parents whose block arguments are in force, outermost first */
    size_t novr, capovr;
    int depth;
    const char *file; /* of the template being rendered, for messages */
    struct hd_buf tmp, tmp2;
    struct hd_err *err;
};

static void ctx_push(struct render *r, const json_t *v)
{
    if (r->nctx == r->capctx) {
        const json_t **grown = hd_xmalloc(r->capctx * 2 * sizeof *grown);
        memcpy(grown, r->ctx, r->nctx * sizeof *grown);
        if (r->ctx != r->ctx_inline)
            free(r->ctx);
        r->ctx = grown;
        r->capctx *= 2;
    }
    r->ctx[r->nctx++] = v;
}

static const json_t *lookup(const struct render *r, const struct mst_name *nm)
{
    if (nm->dot)
        return r->nctx ? r->ctx[r->nctx - 1] : NULL;
    const json_t *v = NULL;
    for (size_t i = r->nctx; i-- > 0;) {
        const json_t *c = r->ctx[i];
        if (json_is_object(c) && (v = json_object_getn(c, nm->seg[0], nm->seglen[0])) != NULL)
            break;
    }
    for (size_t k = 1; v && k < nm->nseg; k++)
        v = json_is_object(v) ? json_object_getn(v, nm->seg[k], nm->seglen[k]) : NULL;
    return v;
}

static bool truthy(const json_t *v)
{
    if (!v)
        return false;
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE:
        return false;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    default:
        return true;
    }
}

/* Writes the indentation if a template line starts here. */
static inline void line_start(struct render *r)
{
    if (r->bol) {
        if (r->indent.len)
            hd_buf_add(r->out, r->indent.data, r->indent.len);
        r->bol = false;
    }
}

static void emit_text(struct render *r, const char *s, size_t n)
{
    if (!r->indent.len) {
        hd_buf_add(r->out, s, n);
        r->bol = n && s[n - 1] == '\n';
        return;
    }
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) + 1 : n;
        bool empty = s[i] == '\n' || (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n');
        if (!empty)
            line_start(r);
        hd_buf_add(r->out, s + i, e - i);
        r->bol = nl != NULL;
        i = e;
    }
}

static void add_number(struct hd_buf *b, double d)
{
    char tmp[64];
    if (d == (double)(long long)d && d > -1e15 && d < 1e15)
        snprintf(tmp, sizeof tmp, "%lld", (long long)d);
    else
        snprintf(tmp, sizeof tmp, "%.15g", d);
    hd_buf_adds(b, tmp);
}

/* The value as text into b; false when it has no text (missing, null, object). */
static bool value_text(const json_t *v, struct hd_buf *b)
{
    if (!v)
        return false;
    switch (json_typeof(v)) {
    case JSON_STRING:
        hd_buf_add(b, json_string_value(v), json_string_length(v));
        return true;
    case JSON_INTEGER:
        hd_buf_addf(b, "%lld", (long long)json_integer_value(v));
        return true;
    case JSON_REAL:
        add_number(b, json_real_value(v));
        return true;
    case JSON_TRUE:
        hd_buf_adds(b, "true");
        return true;
    case JSON_FALSE:
        hd_buf_adds(b, "false");
        return true;
    default:
        return false;
    }
}

/* Which bytes HTML escaping replaces: & < > " ' */
static const unsigned char html_special[256] = {
    ['&'] = 1, ['<'] = 1, ['>'] = 1, ['"'] = 1, ['\''] = 1};

static void add_html(struct hd_buf *out, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (!html_special[(unsigned char)s[i]])
            continue;
        const char *rep;
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        default:
            rep = "&#39;";
            break;
        }
        hd_buf_add(out, s + start, i - start);
        hd_buf_adds(out, rep);
        start = i + 1;
    }
    hd_buf_add(out, s + start, n - start);
}

static int render_fail(struct render *r, const struct mst_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int render_fail(struct render *r, const struct mst_node *n, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->env->part)
        return hd_err_setpos(r->err, HD_E_INVALID, r->file, n->line, n->col, "%s (%s)", msg,
                             r->env->part);
    return hd_err_setpos(r->err, HD_E_INVALID, r->file, n->line, n->col, "%s", msg);
}

/* Runs the tag's filters over v; the result is in *val (text in r->tmp). */
static int apply_filters(struct render *r, const struct mst_node *n, const json_t *v,
                         struct mst_val *val)
{
    hd_buf_reset(&r->tmp);
    val->s = &r->tmp;
    if (v && json_is_number(v)) {
        val->type = V_NUM;
        val->num = json_number_value(v);
    } else if (v && json_is_boolean(v)) {
        val->type = V_BOOL;
        val->b = json_is_true(v);
    } else if (value_text(v, &r->tmp)) {
        val->type = V_STR;
    } else {
        val->type = V_MISSING;
    }
    for (size_t i = 0; i < n->nfilters; i++) {
        char why[300];
        if (mst_filter_apply(&n->filters[i], r->env, val, &r->tmp2, why, sizeof why) < 0)
            return render_fail(r, n, "'%s': %s", n->name.full, why);
    }
    return 0;
}

static int render_kids(struct render *r, const struct mst_node *kids, size_t n);

static int render_var(struct render *r, const struct mst_node *n)
{
    const json_t *v = lookup(r, &n->name);
    const char *s;
    size_t len;
    if (n->nfilters) {
        struct mst_val val;
        int rc = apply_filters(r, n, v, &val);
        if (rc < 0)
            return rc;
        if (val.type == V_NUM) {
            hd_buf_reset(&r->tmp);
            add_number(&r->tmp, val.num);
        } else if (val.type == V_BOOL) {
            hd_buf_reset(&r->tmp);
            hd_buf_adds(&r->tmp, val.b ? "true" : "false");
        } else if (val.type == V_MISSING) {
            if (r->env->strict)
                return render_fail(r, n, "missing variable '%s'", n->name.full);
            hd_buf_reset(&r->tmp);
        }
        s = r->tmp.data;
        len = r->tmp.len;
    } else if (v && json_is_string(v)) {
        s = json_string_value(v);
        len = json_string_length(v);
    } else {
        hd_buf_reset(&r->tmp);
        if (!value_text(v, &r->tmp) && r->env->strict)
            return render_fail(r, n, "missing variable '%s'", n->name.full);
        s = r->tmp.data;
        len = r->tmp.len;
    }
    line_start(r);
    if (n->type == N_VAR && r->env->escape_html)
        add_html(r->out, s, len);
    else if (n->type == N_VAR && r->env->escape)
        r->env->escape(r->out, s, len);
    else
        hd_buf_add(r->out, s, len);
    return 0;
}

static int render_section(struct render *r, const struct mst_node *n)
{
    const json_t *v = lookup(r, &n->name);
    bool yes;
    if (n->nfilters) {
        struct mst_val val;
        int rc = apply_filters(r, n, v, &val);
        if (rc < 0)
            return rc;
        yes = val.type == V_BOOL ? val.b : val.type == V_STR ? val.s->len > 0 : val.type == V_NUM;
        if (n->type == N_INVERTED)
            yes = !yes;
        return yes ? render_kids(r, n->kids, n->nkids) : 0;
    }
    yes = truthy(v);
    if (n->type == N_INVERTED)
        return yes ? 0 : render_kids(r, n->kids, n->nkids);
    if (!yes)
        return 0;
    int rc = 0;
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e)
        {
            ctx_push(r, e);
            rc = render_kids(r, n->kids, n->nkids);
            r->nctx--;
            if (rc < 0)
                break;
        }
        return rc;
    }
    ctx_push(r, v);
    rc = render_kids(r, n->kids, n->nkids);
    r->nctx--;
    return rc;
}

/* Finds the partial a tag names (looking up a dynamic name in the data). */
static int resolve(struct render *r, const struct mst_node *n, const struct hd_mst **t)
{
    const char *name = n->name.full;
    *t = NULL;
    if (n->name.dynamic) {
        const json_t *v = lookup(r, &n->name);
        if (!v || !json_is_string(v)) {
            if (r->env->strict)
                return render_fail(r, n, "dynamic partial name '%s' is not a string in the data",
                                   n->name.full);
            return 0;
        }
        name = json_string_value(v);
    }
    if (!r->env->partial)
        goto missing;
    int rc = r->env->partial(r->env->partial_ud, name, t, r->err);
    if (rc == HD_E_NOTFOUND)
        goto missing;
    return rc;
missing:
    *t = NULL;
    if (r->env->strict)
        return render_fail(r, n, "unknown partial '%s'", name);
    return 0;
}

/* Renders kids with extra indentation when the tag stood alone. */
static int render_indented(struct render *r, const struct mst_node *n, const char *file,
                           const struct mst_node *kids, size_t nkids)
{
    size_t mark = r->indent.len, out_mark = r->out->len;
    const char *saved_file = r->file;
    if (++r->depth > MAX_DEPTH) {
        r->depth--;
        return render_fail(r, n, "partials nested more than %d deep: does '%s' include itself?",
                           MAX_DEPTH, n->name.full);
    }
    if (n->standalone) {
        if (n->indent_len) /* none is common, and would allocate */
            hd_buf_add(&r->indent, n->indent, n->indent_len);
        r->bol = true;
    }
    r->file = file;
    int rc = render_kids(r, kids, nkids);
    r->file = saved_file;
    if (rc == 0 && n->type == N_BLOCK && n->restore_nl && r->out->len > out_mark &&
        r->out->data[r->out->len - 1] != '\n') {
        hd_buf_addc(r->out, '\n');
        r->bol = true;
    }
    r->indent.len = mark;
    if (r->indent.cap)
        r->indent.data[mark] = '\0';
    r->depth--;
    return rc;
}

static const struct mst_node *find_override(const struct render *r, const struct mst_name *nm)
{
    for (size_t i = 0; i < r->novr; i++) {
        const struct mst_node *p = r->ovr[i];
        for (size_t k = 0; k < p->nkids; k++)
            if (p->kids[k].type == N_BLOCK && strcmp(p->kids[k].name.full, nm->full) == 0)
                return &p->kids[k];
    }
    return NULL;
}

static int render_kids(struct render *r, const struct mst_node *kids, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct mst_node *x = &kids[i];
        switch (x->type) {
        case N_TEXT:
            emit_text(r, x->text, x->len);
            break;
        case N_VAR:
        case N_RAW:
            rc = render_var(r, x);
            break;
        case N_SECTION:
        case N_INVERTED:
            rc = render_section(r, x);
            break;
        case N_PARTIAL: {
            const struct hd_mst *t;
            if ((rc = resolve(r, x, &t)) == 0 && t)
                rc = render_indented(r, x, t->file, t->root.kids, t->root.nkids);
            break;
        }
        case N_PARENT: {
            const struct hd_mst *t;
            if ((rc = resolve(r, x, &t)) < 0 || !t)
                break;
            if (r->novr == r->capovr) {
                r->capovr = r->capovr ? r->capovr * 2 : 8;
                r->ovr = hd_xrealloc(r->ovr, r->capovr * sizeof *r->ovr);
            }
            r->ovr[r->novr++] = x;
            rc = render_indented(r, x, t->file, t->root.kids, t->root.nkids);
            r->novr--;
            break;
        }
        case N_BLOCK: {
            const struct mst_node *o = find_override(r, &x->name);
            const struct mst_node *content = o ? o : x;
            rc = render_indented(r, x, content->file, content->kids, content->nkids);
            break;
        }
        default:
            HD_BUG("node type %d", (int)x->type);
        }
    }
    return rc;
}

int hd_mst_render(const struct hd_mst *t, const json_t *data, const struct hd_mst_env *env,
                  struct hd_buf *out, struct hd_err *err)
{
    struct render r = {.env = env, .out = out, .file = t->file, .err = err, .bol = true};
    r.ctx = r.ctx_inline;
    r.capctx = sizeof r.ctx_inline / sizeof r.ctx_inline[0];
    hd_buf_init(&r.indent);
    hd_buf_init(&r.tmp);
    hd_buf_init(&r.tmp2);
    for (size_t i = 0; i < env->nbelow; i++)
        ctx_push(&r, env->below[i]);
    ctx_push(&r, data);
    int rc = render_kids(&r, t->root.kids, t->root.nkids);
    if (r.ctx != r.ctx_inline)
        free(r.ctx);
    free(r.ovr);
    hd_buf_release(&r.indent);
    hd_buf_release(&r.tmp);
    hd_buf_release(&r.tmp2);
    return rc;
}
