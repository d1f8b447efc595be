/* segment: lexer and recursive-descent parser for the rule language.
 *
 *   expr     := and ("or" and)*
 *   and      := unary ("and" unary)*
 *   unary    := "not" unary | "(" expr ")" | predicate
 *   predicate:= reachable(CH[, CAT]) | opted_in(CH[, CAT]) | in_segment("name")
 *             | value ( OP value | ["not"] "in" "(" value, ... ")"
 *                     | "contains" value | "starts_with" value | "exists"
 *                     | "is" ["not"] "null" | ["not"] "between" value "and" value
 *                     | nothing: a boolean attribute on its own )
 *   value    := term (("+" | "-") term)*
 *   term     := STRING | NUMBER | DURATION | DATE | true | false | now | today
 *             | days_since(field) | days_until(field) | "-" NUMBER | field
 *
 * Keywords are case-insensitive. Date arithmetic (now - 30d) is folded while
 * parsing. Typing then checks each comparison against the attribute types the
 * store recorded at import, and in_segment() references are replaced by the
 * referenced rule's tree, with a stack of names to catch cycles. */
#include "herald/segment.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "herald/config.h"
#include "herald/time.h"
#include "herald/units.h"

/* What SQLite takes: expressions at most 1,000 deep, and parentheses only
 * so deep (its parser's stack holds 100 entries). The SQL writes a chain of
 * one operator flat, so what counts is how often and/or alternate and
 * "not" or a group nests, which MAX_NESTING bounds after in_segment()
 * expansion; MAX_TERMS bounds the length of a chain. */
#define MAX_TERMS 250
#define MAX_NESTING 24

enum tk {
    TK_EOF,
    TK_IDENT,
    TK_STRING,
    TK_NUMBER,
    TK_DURATION,
    TK_DATE,
    TK_LP,
    TK_RP,
    TK_COMMA,
    TK_OP,
    TK_PLUS,
    TK_MINUS,
};

struct token {
    enum tk type;
    size_t start, end; /* in the source */
    int line, col;
    enum hd_seg_op op;
    double num;
    bool is_int; /* TK_NUMBER: an integer, exactly i */
    int64_t i;
    int64_t t;
    bool date_only;
    int64_t months; /* TK_DURATION in calendar months (mo, y), num then 0 */
    char *str;      /* TK_STRING (unescaped), TK_IDENT */
};

struct parser {
    const char *src;
    size_t pos;
    int line, col;
    struct token tok; /* current */
    const struct hd_seg_opts *opts;
    struct hd_err *err;
    int rc;
    int depth;
    int terms; /* conditions joined by and/or so far */
};

/* ---- errors ------------------------------------------------------------------ */

/* "segment 'x': L:C: message" + the line of the expression + a caret. */
static int fail_at(struct parser *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(struct parser *p, int line, int col, const char *fmt, ...)
{
    if (p->rc < 0)
        return p->rc;
    char msg[400], who[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->opts->name)
        snprintf(who, sizeof who, "segment '%s'", p->opts->name);
    else
        snprintf(who, sizeof who, "expression");
    /* the source line, with control characters shown as spaces */
    const char *s = p->src;
    for (int l = 1; l < line && *s; s++)
        if (*s == '\n')
            l++;
    size_t n = strcspn(s, "\n");
    char shown[300], caret[300];
    size_t k = 0, c = 0;
    for (size_t i = 0; i < n && k < sizeof shown - 4; i++)
        shown[k++] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
    shown[k] = '\0';
    for (int i = 1; i < col && c < sizeof caret - 2; i++)
        caret[c++] = ' ';
    caret[c++] = '^';
    caret[c] = '\0';
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_addf(&b, "%s: %d:%d: %s\n  %s\n  %s", who, line, col, msg, shown, caret);
    hd_err_setpos(p->err, HD_E_PARSE, NULL, line, col, "%s", b.data);
    snprintf(p->err->msg, sizeof p->err->msg, "%s", b.data); /* without a position prefix */
    hd_buf_release(&b);
    p->rc = HD_E_PARSE;
    return p->rc;
}

#define FAIL_TOK(p, ...) fail_at((p), (p)->tok.line, (p)->tok.col, __VA_ARGS__)

/* ---- lexer --------------------------------------------------------------------- */

static void advance_pos(struct parser *p, size_t to)
{
    while (p->pos < to) {
        unsigned char c = (unsigned char)p->src[p->pos++];
        if (c == '\n') {
            p->line++;
            p->col = 1;
        } else if ((c & 0xC0) != 0x80) {
            p->col++;
        }
    }
}

static bool ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.';
}

static void tok_release(struct token *t)
{
    free(t->str);
    t->str = NULL;
}

static int lex_string(struct parser *p)
{
    struct hd_buf b;
    size_t i = p->pos + 1;
    hd_buf_init(&b);
    for (;;) {
        char c = p->src[i];
        if (!c || c == '\n') {
            hd_buf_release(&b);
            return FAIL_TOK(p, "unterminated string: a closing '\"' is missing");
        }
        if (c == '"')
            break;
        if (c == '\\') {
            char e = p->src[i + 1];
            switch (e) {
            case '"':
                hd_buf_addc(&b, '"');
                break;
            case '\\':
                hd_buf_addc(&b, '\\');
                break;
            case 'n':
                hd_buf_addc(&b, '\n');
                break;
            case 't':
                hd_buf_addc(&b, '\t');
                break;
            case 'u': {
                unsigned cp = 0;
                for (int k = 2; k < 6; k++) {
                    char h = p->src[i + k];
                    if (!isxdigit((unsigned char)h)) {
                        hd_buf_release(&b);
                        advance_pos(p, i);
                        p->tok.line = p->line;
                        p->tok.col = p->col;
                        return FAIL_TOK(p, "bad escape: write \\u and four hex digits");
                    }
                    cp = cp * 16 +
                         (unsigned)(isdigit((unsigned char)h) ? h - '0' : (tolower(h) - 'a' + 10));
                }
                if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
                    cp = 0xFFFD;
                char u[3];
                if (cp < 0x80) {
                    hd_buf_addc(&b, (char)cp);
                } else if (cp < 0x800) {
                    u[0] = (char)(0xC0 | (cp >> 6));
                    u[1] = (char)(0x80 | (cp & 0x3F));
                    hd_buf_add(&b, u, 2);
                } else {
                    u[0] = (char)(0xE0 | (cp >> 12));
                    u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    u[2] = (char)(0x80 | (cp & 0x3F));
                    hd_buf_add(&b, u, 3);
                }
                i += 4;
                break;
            }
            default:
                hd_buf_release(&b);
                advance_pos(p, i);
                p->tok.line = p->line;
                p->tok.col = p->col;
                return FAIL_TOK(p, "bad escape '\\%c' (use \\\", \\\\, \\n, \\t or \\uXXXX)",
                                e ? e : ' ');
            }
            i += 2;
            continue;
        }
        hd_buf_addc(&b, c);
        i++;
    }
    p->tok.type = TK_STRING;
    p->tok.str = hd_buf_detach(&b, NULL);
    p->tok.end = i + 1;
    return 0;
}

/* A number as the number model has it (segast.h): an integer literal that
 * fits in 64 bits exactly, any other to 15 significant digits. */
static void set_number(struct token *t, const char *buf, bool decimal)
{
    errno = 0;
    long long v = decimal ? 0 : strtoll(buf, NULL, 10);
    t->is_int = !decimal && errno != ERANGE;
    t->i = t->is_int ? (int64_t)v : 0;
    t->num = t->is_int ? (double)v : hd_segast_decimal(strtod(buf, NULL));
}

/* Calendar units: 3mo, 1y (a month is not a number of seconds). buf is
 * the whole duration, unit its letters; end: where it ends in the source.
 * 1 with a duration token, 0 when the unit is not a calendar one, or the
 * error. */
static int lex_months(struct parser *p, const char *buf, const char *unit, size_t ulen, size_t end)
{
    if (!(ulen == 2 && strncasecmp(unit, "mo", 2) == 0) &&
        !(ulen == 1 && tolower((unsigned char)*unit) == 'y'))
        return 0;
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno || v <= 0 || v > 12000)
        return FAIL_TOK(p, "'%s' is not a duration (1 to 12000 months, or 1000y)", buf);
    p->tok.type = TK_DURATION;
    p->tok.months = ulen == 1 ? v * 12 : v;
    p->tok.end = end;
    return 1;
}

/* A number, a duration (30d) or a date (2026-01-31[T...]). */
static int lex_number(struct parser *p)
{
    size_t i = p->pos;
    const char *s = p->src;
    if (isdigit((unsigned char)s[i]) && isdigit((unsigned char)s[i + 1]) &&
        isdigit((unsigned char)s[i + 2]) && isdigit((unsigned char)s[i + 3]) && s[i + 4] == '-') {
        size_t e = i;
        while (s[e] && (isalnum((unsigned char)s[e]) || strchr("-:+.", s[e])))
            e++;
        char buf[64];
        if (e - i >= sizeof buf)
            return FAIL_TOK(p, "'%.*s' is not a date", (int)(e - i), s + i);
        memcpy(buf, s + i, e - i);
        buf[e - i] = '\0';
        enum hd_time_kind kind;
        if (hd_time_parse_iso(buf, &p->tok.t, &kind) < 0)
            return FAIL_TOK(p,
                            "'%s' is not an ISO 8601 date or time (write 2026-01-31 or "
                            "2026-01-31T09:00:00Z)",
                            buf);
        p->tok.type = TK_DATE;
        p->tok.date_only = kind == HD_TIME_DATE;
        p->tok.end = e;
        return 0;
    }
    size_t e = i;
    while (isdigit((unsigned char)s[e]))
        e++;
    bool decimal = false;
    if (s[e] == '.' && isdigit((unsigned char)s[e + 1])) {
        decimal = true;
        e++;
        while (isdigit((unsigned char)s[e]))
            e++;
    }
    /* an exponent, as import reads numbers: 1e6, 2.5E-3 */
    size_t x = e + 1;
    if ((s[e] == 'e' || s[e] == 'E') && (s[x] == '+' || s[x] == '-'))
        x++; /* read past s[e] only when it is not the end */
    if ((s[e] == 'e' || s[e] == 'E') && isdigit((unsigned char)s[x])) {
        decimal = true;
        for (e = x; isdigit((unsigned char)s[e]);)
            e++;
    }
    size_t u = e;
    while (isalpha((unsigned char)s[u]))
        u++;
    if (u > e) {
        char buf[64];
        if (u - i >= sizeof buf || decimal)
            return FAIL_TOK(p, "'%.*s' is not a duration (write 30d, 12h, 90s)", (int)(u - i),
                            s + i);
        memcpy(buf, s + i, u - i);
        buf[u - i] = '\0';
        int64_t secs;
        int months = lex_months(p, buf, s + e, u - e, u);
        if (months != 0)
            return months < 0 ? months : 0;
        if (hd_units_duration(buf, &secs, NULL) < 0)
            return FAIL_TOK(p, "'%s' is not a duration (write 30d, 12h, 90s, 15m or 2w)", buf);
        p->tok.type = TK_DURATION;
        p->tok.num = (double)secs;
        p->tok.end = u;
        return 0;
    }
    char buf[64];
    if (e - i >= sizeof buf)
        return FAIL_TOK(p, "number too long");
    memcpy(buf, s + i, e - i);
    buf[e - i] = '\0';
    p->tok.type = TK_NUMBER;
    set_number(&p->tok, buf, decimal);
    p->tok.end = e;
    return 0;
}

/* An operator: = (or ==), !=, <, <=, <> (!=), > or >=, at s. */
static int lex_op(struct parser *p, const char *s)
{
    char c = *s;
    p->tok.type = TK_OP;
    switch (c) {
    case '=':
        p->tok.op = SEG_EQ;
        if (s[1] == '=')
            p->tok.end++;
        return 0;
    case '!':
        if (s[1] != '=')
            return FAIL_TOK(p, "unexpected '!' (write != or not)");
        p->tok.op = SEG_NE;
        p->tok.end++;
        return 0;
    default: /* '<' or '>' */
        if (s[1] == '=') {
            p->tok.op = c == '<' ? SEG_LE : SEG_GE;
            p->tok.end++;
        } else if (c == '<' && s[1] == '>') {
            p->tok.op = SEG_NE;
            p->tok.end++;
        } else {
            p->tok.op = c == '<' ? SEG_LT : SEG_GT;
        }
        return 0;
    }
}

/* Reads the next token into p->tok. */
static int next(struct parser *p)
{
    tok_release(&p->tok);
    advance_pos(p, p->tok.end > p->pos ? p->tok.end : p->pos);
    while (p->src[p->pos] && isspace((unsigned char)p->src[p->pos]))
        advance_pos(p, p->pos + 1);
    memset(&p->tok, 0, sizeof p->tok);
    p->tok.start = p->tok.end = p->pos;
    p->tok.line = p->line;
    p->tok.col = p->col;
    const char *s = p->src + p->pos;
    char c = *s;
    if (!c) {
        p->tok.type = TK_EOF;
        return 0;
    }
    p->tok.end = p->pos + 1;
    switch (c) {
    case '(':
        p->tok.type = TK_LP;
        return 0;
    case ')':
        p->tok.type = TK_RP;
        return 0;
    case ',':
        p->tok.type = TK_COMMA;
        return 0;
    case '+':
        p->tok.type = TK_PLUS;
        return 0;
    case '-':
        p->tok.type = TK_MINUS;
        return 0;
    case '"':
        return lex_string(p);
    case '=':
    case '!':
    case '<':
    case '>':
        return lex_op(p, s);
    default:
        break;
    }
    if (isdigit((unsigned char)c))
        return lex_number(p);
    if (isalpha((unsigned char)c) || c == '_') {
        size_t e = p->pos;
        while (ident_char(p->src[e]))
            e++;
        p->tok.type = TK_IDENT;
        p->tok.str = hd_xstrndup(s, e - p->pos);
        p->tok.end = e;
        return 0;
    }
    if (c == '\'')
        return FAIL_TOK(p, "strings take double quotes: \"...\"");
    if ((unsigned char)c >= 0x80)
        return FAIL_TOK(p, "unexpected character (names are letters, digits and '_'; text goes in "
                           "double quotes)");
    return FAIL_TOK(p, "unexpected character '%c'", c);
}

static bool is_kw(const struct token *t, const char *kw)
{
    return t->type == TK_IDENT && strcasecmp(t->str, kw) == 0;
}

static const char *const keywords[] = {
    "and",     "or",   "not",   "in",  "contains", "starts_with", "exists", "is",        "null",
    "between", "true", "false", "now", "today",    "ieq",         "iin",    "ends_with", "matches"};

static bool is_keyword(const struct token *t)
{
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (is_kw(t, keywords[i]))
            return true;
    return false;
}

/* How the current token reads in a message. */
static void describe(const struct parser *p, char *buf, size_t size)
{
    const struct token *t = &p->tok;
    switch (t->type) {
    case TK_EOF:
        snprintf(buf, size, "the end");
        break;
    case TK_STRING:
        snprintf(buf, size, "a string");
        break;
    default:
        snprintf(buf, size, "'%.*s'", (int)(t->end - t->start), p->src + t->start);
        break;
    }
}

/* ---- parser ----------------------------------------------------------------------- */

static struct hd_seg_node *parse_expr(struct parser *p);
static struct hd_seg_node *parse_value(struct parser *p);

static const char *const op_text[] = {"=", "!=", "<", "<=", ">", ">=", "+", "-"};

static struct hd_seg_node *node_at(enum hd_seg_type type, const struct token *t)
{
    return hd_segast_new(type, t->line, t->col);
}

static bool valid_path(const char *s)
{
    /* name(.name)*, each part a letter or '_' then letters, digits, '_' */
    const char *part = s;
    for (const char *q = s;; q++) {
        if (*q == '.' || *q == '\0') {
            if (q == part || isdigit((unsigned char)*part))
                return false;
            if (!*q)
                return true;
            part = q + 1;
        }
    }
}

static struct hd_seg_node *parse_field(struct parser *p)
{
    static const struct {
        const char *name;
        enum hd_seg_field f;
    } builtins[] = {{"id", SEGF_ID},
                    {"email", SEGF_EMAIL},
                    {"phone", SEGF_PHONE},
                    {"locale", SEGF_LOCALE},
                    {"timezone", SEGF_TIMEZONE},
                    {"created_at", SEGF_CREATED_AT},
                    {"updated_at", SEGF_UPDATED_AT}};
    struct hd_seg_node *n = node_at(SEG_FIELD, &p->tok);
    const char *name = p->tok.str;
    if (!valid_path(name) || strlen(name) > 200) {
        fail_at(p, p->tok.line, p->tok.col,
                "'%s' is not a field or attribute name (letters, digits and '_', parts "
                "separated by '.')",
                name);
        hd_segast_free(n);
        return NULL;
    }
    n->field = SEGF_ATTR;
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (strcmp(name, builtins[i].name) == 0)
            n->field = builtins[i].f;
    if (n->field == SEGF_ATTR)
        n->path = hd_xstrdup(name);
    next(p);
    return n;
}

/* A value that is one token (a string, number, duration or date), or a
 * negative number. */
static struct hd_seg_node *parse_literal(struct parser *p)
{
    struct token *t = &p->tok;
    struct hd_seg_node *n = NULL;
    char what[64];
    switch (t->type) {
    case TK_STRING:
        n = node_at(SEG_STRING, t);
        n->str = t->str;
        t->str = NULL;
        break;
    case TK_NUMBER:
        n = node_at(SEG_NUMBER, t);
        n->num = t->num;
        n->is_int = t->is_int;
        n->i = t->i;
        break;
    case TK_DURATION:
        n = node_at(SEG_DURATION, t);
        n->num = t->num;
        n->i = t->months;
        break;
    case TK_DATE:
        n = node_at(SEG_TIME, t);
        n->t = t->t;
        n->date_only = t->date_only;
        break;
    case TK_MINUS: {
        struct token m = *t;
        next(p);
        if (p->tok.type != TK_NUMBER) {
            fail_at(p, m.line, m.col, "'-' here must be followed by a number");
            return NULL;
        }
        n = node_at(SEG_NUMBER, &m);
        n->num = -p->tok.num;
        n->is_int = p->tok.is_int;
        n->i = -p->tok.i;
        break;
    }
    default:
        describe(p, what, sizeof what);
        FAIL_TOK(p, "expected a value, found %s", what);
        return NULL;
    }
    next(p);
    return n;
}

/* true, false, now or today. */
static struct hd_seg_node *parse_constant(struct parser *p)
{
    struct token *t = &p->tok;
    struct hd_seg_node *n;
    if (is_kw(t, "true") || is_kw(t, "false")) {
        n = node_at(SEG_BOOL, t);
        n->b = is_kw(t, "true");
    } else {
        n = node_at(SEG_TIME, t);
        n->t = p->opts->now;
        if (is_kw(t, "today")) {
            n->t -= ((n->t % 86400) + 86400) % 86400;
            n->date_only = true;
        }
    }
    next(p);
    return n;
}

/* The ')' that closes a call's arguments, and past it. */
static int close_paren(struct parser *p)
{
    char what[64];
    if (p->tok.type != TK_RP) {
        describe(p, what, sizeof what);
        return FAIL_TOK(p, "expected ')', found %s", what);
    }
    next(p);
    return 0;
}

/* ---- events: did(), count() ... last() ------------------------------------------------ */

/* True when the current token is the identifier name followed by '(': a
 * call, so an attribute may still be called "last" or "count". */
static bool is_call(const struct parser *p, const char *name)
{
    if (!is_kw(&p->tok, name))
        return false;
    size_t i = p->tok.end;
    while (isspace((unsigned char)p->src[i]))
        i++;
    return p->src[i] == '(';
}

/* Which aggregate (enum hd_seg_agg) the current token calls, or -1. */
static int agg_call(const struct parser *p)
{
    for (int a = SEGA_COUNT; a <= SEGA_FIRST; a++)
        if (is_call(p, hd_segast_agg_name((enum hd_seg_agg)a)))
            return a;
    return -1;
}

/* "within D" (the current token is "within"): events from now - D on. */
static int parse_within(struct parser *p, struct hd_seg_node *n)
{
    next(p);
    if (p->tok.type != TK_DURATION)
        return FAIL_TOK(p, "expected a duration after 'within' (within 30d)");
    n->windowed = true;
    n->t = hd_time_add_months(p->opts->now - (int64_t)p->tok.num, -p->tok.months);
    next(p);
    return 0;
}

/* "count OP N" in did() (the current token is "count"). */
static int parse_did_count(struct parser *p, struct hd_seg_node *n)
{
    next(p);
    if (p->tok.type != TK_OP)
        return FAIL_TOK(p, "expected a comparison after 'count' (count >= 3)");
    n->op = p->tok.op;
    next(p);
    if (p->tok.type != TK_NUMBER || !p->tok.is_int || p->tok.i < 0 || p->tok.i > 1000000000)
        return FAIL_TOK(p, "the count is compared with a whole number (count >= 3)");
    n->i = p->tok.i;
    next(p);
    return 0;
}

/* A string argument that is a name: the event's (any text) or a
 * property's (a path as attributes have), moved into *dst. */
static int parse_name_arg(struct parser *p, char **dst, bool property)
{
    char what[64];
    describe(p, what, sizeof what);
    if (p->tok.type != TK_STRING || !*p->tok.str)
        return FAIL_TOK(p, "expected %s name in double quotes, found %s",
                        property ? "a property" : "an event", what);
    static const char word[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.";
    const char *s = p->tok.str;
    if (property && (!valid_path(s) || strspn(s, word) != strlen(s) || strlen(s) > 200))
        return FAIL_TOK(p, "'%s' is not a property name (letters, digits and '_')", p->tok.str);
    *dst = p->tok.str;
    p->tok.str = NULL;
    next(p);
    return 0;
}

/* fn("event"[, "property"][, count OP N][, within D]), from the name on;
 * prop: the property is required; count: did()'s count is allowed. */
static int parse_event_args(struct parser *p, struct hd_seg_node *n, bool prop, bool count)
{
    const char *fn = n->type == SEG_DID ? "did" : hd_segast_agg_name(n->agg);
    char what[64];
    next(p);
    if (p->tok.type != TK_LP)
        return FAIL_TOK(p, "%s needs an event name in parentheses: %s(\"purchase\")", fn, fn);
    next(p);
    if (parse_name_arg(p, &n->str, false) < 0)
        return p->rc;
    if (prop && p->tok.type != TK_COMMA)
        return FAIL_TOK(p, "%s needs a property after the event: %s(\"purchase\", \"amount\")", fn,
                        fn);
    if (prop && (next(p) < 0 || parse_name_arg(p, &n->path, true) < 0))
        return p->rc;
    bool counted = false;
    while (p->tok.type == TK_COMMA) {
        next(p);
        if (is_kw(&p->tok, "within") && !n->windowed) {
            if (parse_within(p, n) < 0)
                return p->rc;
        } else if (count && is_kw(&p->tok, "count") && !counted) {
            counted = true;
            if (parse_did_count(p, n) < 0)
                return p->rc;
        } else {
            describe(p, what, sizeof what);
            return FAIL_TOK(p, "expected %s, found %s",
                            count ? "'count OP N' or 'within D'" : "'within D'", what);
        }
    }
    return close_paren(p);
}

/* did("event"[, count OP N][, within D]): by default count >= 1. */
static struct hd_seg_node *parse_did(struct parser *p)
{
    struct hd_seg_node *n = node_at(SEG_DID, &p->tok);
    n->op = SEG_GE;
    n->i = 1;
    if (parse_event_args(p, n, false, true) < 0) {
        hd_segast_free(n);
        return NULL;
    }
    return n;
}

/* count, sum, min, max, avg (numbers) or last, first (dates) of events. */
static struct hd_seg_node *parse_event_value(struct parser *p, enum hd_seg_agg agg)
{
    bool time = agg == SEGA_LAST || agg == SEGA_FIRST;
    struct hd_seg_node *n = node_at(time ? SEG_EV_TIME : SEG_EV_AGG, &p->tok);
    n->agg = agg;
    if (parse_event_args(p, n, !time && agg != SEGA_COUNT, false) < 0) {
        hd_segast_free(n);
        return NULL;
    }
    return n;
}

/* ---- messages: received(), messaged, converted(), bounced, complained ---------------- */

/* True when the current token is the word name standing alone as a
 * condition: followed by the end, ')', "and" or "or". So "bounced = true"
 * still compares an attribute called bounced. */
static bool is_bare(const struct parser *p, const char *name)
{
    if (!is_kw(&p->tok, name))
        return false;
    const char *s = p->src + p->tok.end;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s || *s == ')')
        return true;
    size_t n = 0;
    while (ident_char(s[n]))
        n++;
    return (n == 3 && strncasecmp(s, "and", 3) == 0) || (n == 2 && strncasecmp(s, "or", 2) == 0);
}

/* "channel CH" (the current token is "channel"): a name or a string. */
static int parse_msg_channel(struct parser *p, struct hd_seg_node *n)
{
    char what[64];
    next(p);
    if ((p->tok.type != TK_IDENT && p->tok.type != TK_STRING) ||
        (n->channel = hd_channel_parse(p->tok.str)) < 0) {
        describe(p, what, sizeof what);
        return FAIL_TOK(p, "expected a channel (email, sms, push, inbox or wechat) after 'channel', found %s",
                        what);
    }
    next(p);
    return 0;
}

/* received(["campaign"][, channel CH][, within D]) or messaged(...), from
 * the "(" on; any order after the campaign. */
static int parse_msg_args(struct parser *p, struct hd_seg_node *n, const char *fn)
{
    char what[64];
    next(p);
    bool first = true;
    while (p->tok.type != TK_RP) {
        if (!first && p->tok.type != TK_COMMA)
            break;
        if (!first)
            next(p);
        if (first && p->tok.type == TK_STRING && strcmp(fn, "received") == 0) {
            if (parse_name_arg(p, &n->str, false) < 0)
                return p->rc;
        } else if (is_kw(&p->tok, "within") && !n->windowed) {
            if (parse_within(p, n) < 0)
                return p->rc;
        } else if (is_kw(&p->tok, "channel") && n->channel < 0) {
            if (parse_msg_channel(p, n) < 0)
                return p->rc;
        } else {
            describe(p, what, sizeof what);
            return FAIL_TOK(p, "expected %s'channel CH' or 'within D' in %s(), found %s",
                            first && strcmp(fn, "received") == 0 ? "a campaign's name, " : "", fn,
                            what);
        }
        first = false;
    }
    return close_paren(p);
}

/* converted("campaign", "event"[, within D]), from the "(" on: by default
 * within 7 days of the run, as stats --goal counts. */
static int parse_converted(struct parser *p, struct hd_seg_node *n)
{
    next(p);
    if (parse_name_arg(p, &n->str, false) < 0)
        return p->rc;
    if (p->tok.type != TK_COMMA)
        return FAIL_TOK(p, "converted needs a campaign and an event: converted(\"recall\", "
                           "\"purchase\")");
    next(p);
    if (parse_name_arg(p, &n->path, false) < 0)
        return p->rc;
    n->i = 7 * 86400;
    if (p->tok.type == TK_COMMA) {
        next(p);
        if (!is_kw(&p->tok, "within"))
            return FAIL_TOK(p, "expected 'within D' in converted()");
        next(p);
        if (p->tok.type != TK_DURATION || p->tok.num <= 0)
            return FAIL_TOK(p, "expected a duration after 'within' (within 7d)");
        n->i = (int64_t)p->tok.num;
        next(p);
    }
    return close_paren(p);
}

/* A predicate on the messages herald sent, or NULL with p->rc unset when
 * the current token starts none. */
static struct hd_seg_node *parse_message(struct parser *p)
{
    struct hd_seg_node *n = NULL;
    bool neg = is_bare(p, "never_messaged");
    if (is_call(p, "opened")) {
        FAIL_TOK(p, "opened takes no arguments: it is true once any email of the contact's was "
                    "reported opened");
        return NULL;
    }
    if (is_bare(p, "bounced") || is_bare(p, "complained") || is_bare(p, "opened")) {
        n = node_at(is_kw(&p->tok, "bounced")      ? SEG_BOUNCED
                    : is_kw(&p->tok, "complained") ? SEG_COMPLAINED
                                                   : SEG_OPENED,
                    &p->tok);
        next(p);
        return n;
    }
    if (is_call(p, "converted")) {
        n = node_at(SEG_CONVERTED, &p->tok);
        next(p);
        if (parse_converted(p, n) < 0)
            goto fail;
        return n;
    }
    if (!neg && !is_call(p, "received") && !is_call(p, "messaged") && !is_bare(p, "messaged"))
        return NULL;
    n = node_at(SEG_MESSAGED, &p->tok);
    n->channel = -1;
    const char *fn = is_kw(&p->tok, "received") ? "received" : "messaged";
    next(p);
    if (!neg && p->tok.type == TK_LP && parse_msg_args(p, n, fn) < 0)
        goto fail;
    if (neg) {
        struct hd_seg_node *k = node_at(SEG_NOT, &p->tok);
        hd_segast_add(k, n);
        n = k;
    }
    return n;
fail:
    hd_segast_free(n);
    return NULL;
}

/* The functions of a date: days_since, days_until and months_until take
 * a field or last()/first(); year, month, day and weekday also a constant
 * (now, today, a date, arithmetic on them), folded into a number. */
static const struct {
    const char *name;
    enum hd_seg_type type;
    enum hd_seg_part part;
} date_fns[] = {{"days_since", SEG_DAYS_SINCE, 0},      {"days_until", SEG_DAYS_UNTIL, 0},
                {"months_until", SEG_MONTHS_UNTIL, 0},  {"year", SEG_DATEPART, SEGP_YEAR},
                {"month", SEG_DATEPART, SEGP_MONTH},    {"day", SEG_DATEPART, SEGP_DAY},
                {"weekday", SEG_DATEPART, SEGP_WEEKDAY}};

/* Which date function the current token calls, or -1. */
static int date_call(const struct parser *p)
{
    for (size_t i = 0; i < sizeof date_fns / sizeof date_fns[0]; i++)
        if (is_call(p, date_fns[i].name) ||
            (i < 2 && is_kw(&p->tok, date_fns[i].name))) /* days_since without '(' is an error */
            return (int)i;
    return -1;
}

/* The argument of a date function, at the token after '('. */
static struct hd_seg_node *parse_date_arg(struct parser *p, bool constant)
{
    char what[64];
    int agg = agg_call(p);
    if (agg >= 0)
        return parse_event_value(p, (enum hd_seg_agg)agg);
    if (constant && (p->tok.type == TK_DATE || is_kw(&p->tok, "now") || is_kw(&p->tok, "today") ||
                     is_kw(&p->tok, "local_today")))
        return parse_value(p);
    if (p->tok.type != TK_IDENT || is_keyword(&p->tok)) {
        describe(p, what, sizeof what);
        FAIL_TOK(p, "expected a field name or last()/first(), found %s", what);
        return NULL;
    }
    return parse_field(p);
}

static void describe_fail_local(struct parser *p, const char *fn)
{
    char what[64];
    describe(p, what, sizeof what);
    FAIL_TOK(p, "expected local_today after ',' in %s (%s(x, local_today)), found %s", fn, fn,
             what);
}

static struct hd_seg_node *parse_date_fn(struct parser *p, int which)
{
    struct token f = p->tok;
    f.str = NULL;
    const char *fn = date_fns[which].name;
    next(p);
    if (p->tok.type != TK_LP) {
        fail_at(p, f.line, f.col, "%s needs a field in parentheses: %s(last_active)", fn, fn);
        return NULL;
    }
    next(p);
    struct hd_seg_node *n = node_at(date_fns[which].type, &f);
    n->part = date_fns[which].part;
    struct hd_seg_node *arg = parse_date_arg(p, n->type == SEG_DATEPART);
    if (!arg) {
        hd_segast_free(n);
        return NULL;
    }
    hd_segast_add(n, arg);
    if ((n->type == SEG_DAYS_SINCE || n->type == SEG_DAYS_UNTIL) && p->tok.type == TK_COMMA) {
        next(p); /* days_until(x, local_today): from the contact's own today */
        if (!is_kw(&p->tok, "local_today")) {
            describe_fail_local(p, fn);
            hd_segast_free(n);
            return NULL;
        }
        n->local = true;
        next(p);
    }
    if (close_paren(p) < 0) {
        hd_segast_free(n);
        return NULL;
    }
    if (arg->type == SEG_TIME) { /* month(today): a number */
        n->type = SEG_NUMBER;
        n->is_int = true;
        n->i = hd_segast_part(n->part, arg->t);
        n->num = (double)n->i;
        n->nkids = 0;
        hd_segast_free(arg);
    }
    return n;
}

/* length(field). */
static struct hd_seg_node *parse_length(struct parser *p)
{
    char what[64];
    struct hd_seg_node *n = node_at(SEG_LENGTH, &p->tok);
    next(p);
    next(p); /* the '(' is_call saw */
    if (p->tok.type != TK_IDENT || is_keyword(&p->tok)) {
        describe(p, what, sizeof what);
        FAIL_TOK(p, "expected a field name, found %s", what);
        hd_segast_free(n);
        return NULL;
    }
    struct hd_seg_node *f = parse_field(p);
    if (f)
        hd_segast_add(n, f);
    if (!f || close_paren(p) < 0) {
        hd_segast_free(n);
        return NULL;
    }
    return n;
}

static struct hd_seg_node *parse_term(struct parser *p)
{
    struct token *t = &p->tok;
    char what[64];
    if (p->rc < 0)
        return NULL;
    if (t->type != TK_IDENT)
        return parse_literal(p);
    if (is_kw(t, "true") || is_kw(t, "false") || is_kw(t, "now") || is_kw(t, "today"))
        return parse_constant(p);
    if (is_kw(t, "local_today")) {
        struct hd_seg_node *n = node_at(SEG_LOCAL_TODAY, t);
        next(p);
        return n;
    }
    int fn = date_call(p);
    if (fn >= 0)
        return parse_date_fn(p, fn);
    if (is_call(p, "length"))
        return parse_length(p);
    int agg = agg_call(p);
    if (agg >= 0)
        return parse_event_value(p, (enum hd_seg_agg)agg);
    if (is_keyword(t)) {
        describe(p, what, sizeof what);
        FAIL_TOK(p, "expected a value, found the keyword %s", what);
        return NULL;
    }
    return parse_field(p);
}

/* term (("+" | "-") term)*: only a time plus or minus a duration, folded. */
static struct hd_seg_node *parse_value(struct parser *p)
{
    struct hd_seg_node *a = parse_term(p);
    while (a && (p->tok.type == TK_PLUS || p->tok.type == TK_MINUS)) {
        struct token op = p->tok;
        next(p);
        if (p->tok.type == TK_EOF) {
            fail_at(p, op.line, op.col, "expected a duration after '%c'",
                    op.type == TK_PLUS ? '+' : '-');
            hd_segast_free(a);
            return NULL;
        }
        struct hd_seg_node *b = parse_term(p);
        if (!b) {
            hd_segast_free(a);
            return NULL;
        }
        if (a->type == SEG_LOCAL_TODAY && b->type == SEG_DURATION && (int64_t)b->num % 86400 == 0) {
            /* months first, then days: kept, as the day is the contact's */
            a->i += op.type == TK_PLUS ? b->i : -b->i;
            a->t += op.type == TK_PLUS ? (int64_t)b->num : -(int64_t)b->num;
            hd_segast_free(b);
            continue;
        }
        if (a->type != SEG_TIME || b->type != SEG_DURATION) {
            fail_at(p, op.line, op.col,
                    "arithmetic is for dates: a date or now/today plus or minus a duration "
                    "(now - 30d)");
            hd_segast_free(a);
            hd_segast_free(b);
            return NULL;
        }
        int64_t d = (int64_t)b->num;
        if (b->i)
            a->t = hd_time_add_months(a->t, op.type == TK_PLUS ? b->i : -b->i);
        a->t += op.type == TK_PLUS ? d : -d;
        if (d % 86400)
            a->date_only = false;
        hd_segast_free(b);
    }
    return a;
}

static int parse_channel_args(struct parser *p, struct hd_seg_node *n, const char *fn)
{
    char what[64];
    next(p); /* the name */
    if (p->tok.type != TK_LP)
        return FAIL_TOK(p, "%s needs a channel in parentheses: %s(email)", fn, fn);
    next(p);
    if (p->tok.type != TK_IDENT || (n->channel = hd_channel_parse(p->tok.str)) < 0) {
        describe(p, what, sizeof what);
        return FAIL_TOK(p, "expected a channel (email, sms, push, inbox or wechat), found %s", what);
    }
    next(p);
    if (p->tok.type == TK_COMMA) {
        next(p);
        if (p->tok.type != TK_IDENT || (n->category = hd_category_parse(p->tok.str)) < 0) {
            describe(p, what, sizeof what);
            return FAIL_TOK(p, "expected a category (marketing or transactional), found %s", what);
        }
        next(p);
    }
    return close_paren(p);
}

/* in_segment("name"). */
static struct hd_seg_node *parse_in_segment(struct parser *p)
{
    char what[64];
    struct hd_seg_node *n = node_at(SEG_IN_SEGMENT, &p->tok);
    next(p);
    if (p->tok.type != TK_LP) {
        FAIL_TOK(p, "in_segment needs a segment name: in_segment(\"churn_risk\")");
        hd_segast_free(n);
        return NULL;
    }
    next(p);
    if (p->tok.type != TK_STRING || !hd_seg_name_valid(p->tok.str)) {
        FAIL_TOK(p, "expected a segment name in double quotes");
        hd_segast_free(n);
        return NULL;
    }
    n->path = p->tok.str;
    p->tok.str = NULL;
    next(p);
    if (p->tok.type != TK_RP) {
        describe(p, what, sizeof what);
        FAIL_TOK(p, "expected ')', found %s", what);
        hd_segast_free(n);
        return NULL;
    }
    next(p);
    return n;
}

/* The predicates below follow a value v, which they own (and free on
 * error). This one: v OP value. */
static struct hd_seg_node *parse_compare(struct parser *p, struct hd_seg_node *v)
{
    struct token op = p->tok;
    next(p);
    if (p->tok.type == TK_EOF || p->tok.type == TK_RP ||
        (p->tok.type == TK_IDENT && (is_kw(&p->tok, "and") || is_kw(&p->tok, "or")))) {
        fail_at(p, op.line, op.col + (int)(op.end - op.start), "expected a value after '%s'",
                op_text[op.op]);
        hd_segast_free(v);
        return NULL;
    }
    struct hd_seg_node *w = parse_value(p);
    if (!w) {
        hd_segast_free(v);
        return NULL;
    }
    struct hd_seg_node *n = node_at(SEG_CMP, &op);
    n->op = op.op;
    hd_segast_add(n, v);
    hd_segast_add(n, w);
    return n;
}

/* Parses a value into n's next child; on an error frees n (and what it
 * holds) and returns false. */
static bool add_value(struct parser *p, struct hd_seg_node *n)
{
    struct hd_seg_node *w = parse_value(p);
    if (!w) {
        hd_segast_free(n);
        return false;
    }
    hd_segast_add(n, w);
    return true;
}

/* v [not] in (value, ...). */
static struct hd_seg_node *parse_in_list(struct parser *p, struct hd_seg_node *v, bool neg)
{
    char what[64];
    struct hd_seg_node *n = node_at(SEG_IN, &p->tok);
    n->negated = neg;
    hd_segast_add(n, v);
    next(p);
    if (p->tok.type != TK_LP) {
        describe(p, what, sizeof what);
        FAIL_TOK(p, "expected '(' after 'in', found %s", what);
        hd_segast_free(n);
        return NULL;
    }
    do {
        next(p);
        if (p->tok.type == TK_RP && n->nkids == 1) {
            FAIL_TOK(p, "an empty list: give at least one value");
            hd_segast_free(n);
            return NULL;
        }
        if (!add_value(p, n))
            return NULL;
    } while (p->tok.type == TK_COMMA);
    if (p->tok.type != TK_RP) {
        describe(p, what, sizeof what);
        FAIL_TOK(p, "expected ',' or ')' in the list, found %s", what);
        hd_segast_free(n);
        return NULL;
    }
    next(p);
    return n;
}

/* v [not] between A and B. */
static struct hd_seg_node *parse_between(struct parser *p, struct hd_seg_node *v, bool neg)
{
    char what[64];
    struct hd_seg_node *n = node_at(SEG_BETWEEN, &p->tok);
    n->negated = neg;
    hd_segast_add(n, v);
    next(p);
    if (!add_value(p, n))
        return NULL;
    if (!is_kw(&p->tok, "and")) {
        describe(p, what, sizeof what);
        FAIL_TOK(p, "expected 'and' in 'between A and B', found %s", what);
        hd_segast_free(n);
        return NULL;
    }
    next(p);
    return add_value(p, n) ? n : NULL;
}

/* v contains, starts_with, ends_with or matches a value. */
static struct hd_seg_node *parse_contains(struct parser *p, struct hd_seg_node *v)
{
    enum hd_seg_type type = is_kw(&p->tok, "contains")    ? SEG_CONTAINS
                            : is_kw(&p->tok, "ends_with") ? SEG_ENDS_WITH
                            : is_kw(&p->tok, "matches")   ? SEG_MATCHES
                                                          : SEG_STARTS_WITH;
    struct hd_seg_node *n = node_at(type, &p->tok);
    hd_segast_add(n, v);
    next(p);
    return add_value(p, n) ? n : NULL;
}

/* v is [not] null ("is null" is "not exists"), or v is [not] empty. */
static struct hd_seg_node *parse_is_null(struct parser *p, struct hd_seg_node *v)
{
    char what[64];
    struct hd_seg_node *n = node_at(SEG_EXISTS, &p->tok);
    hd_segast_add(n, v);
    next(p);
    bool isnot = is_kw(&p->tok, "not");
    if (isnot)
        next(p);
    if (is_kw(&p->tok, "empty")) { /* is [not] empty */
        n->type = SEG_EMPTY;
        n->negated = isnot;
        next(p);
        return n;
    }
    if (!is_kw(&p->tok, "null")) {
        describe(p, what, sizeof what);
        FAIL_TOK(p, "expected 'null' or 'empty' after 'is', found %s", what);
        hd_segast_free(n);
        return NULL;
    }
    n->negated = !isnot;
    next(p);
    return n;
}

/* What follows the value v that began at start: a comparison, [not] in,
 * [not] between, contains, starts_with, exists, is [not] null, or nothing
 * (a field alone tests that it is true). */
static struct hd_seg_node *parse_condition(struct parser *p, struct hd_seg_node *v,
                                           const struct token *start)
{
    char what[64];
    bool neg = false;
    if (p->tok.type == TK_OP)
        return parse_compare(p, v);
    if (is_kw(&p->tok, "ieq")) {
        p->tok.type = TK_OP;
        p->tok.op = SEG_EQ;
        struct hd_seg_node *n = parse_compare(p, v);
        if (n)
            n->nocase = true;
        return n;
    }
    if (is_kw(&p->tok, "not")) {
        neg = true;
        next(p);
        if (!is_kw(&p->tok, "in") && !is_kw(&p->tok, "iin") && !is_kw(&p->tok, "between")) {
            describe(p, what, sizeof what);
            FAIL_TOK(p, "expected 'in', 'iin' or 'between' after 'not', found %s", what);
            hd_segast_free(v);
            return NULL;
        }
    }
    if (is_kw(&p->tok, "in") || is_kw(&p->tok, "iin")) {
        bool nocase = is_kw(&p->tok, "iin");
        struct hd_seg_node *n = parse_in_list(p, v, neg);
        if (n)
            n->nocase = nocase;
        return n;
    }
    if (is_kw(&p->tok, "between"))
        return parse_between(p, v, neg);
    if (is_kw(&p->tok, "contains") || is_kw(&p->tok, "starts_with") ||
        is_kw(&p->tok, "ends_with") || is_kw(&p->tok, "matches"))
        return parse_contains(p, v);
    if (is_kw(&p->tok, "exists")) {
        struct hd_seg_node *n = node_at(SEG_EXISTS, &p->tok);
        hd_segast_add(n, v);
        next(p);
        return n;
    }
    if (is_kw(&p->tok, "is"))
        return parse_is_null(p, v);
    if (v->type == SEG_FIELD) {
        struct hd_seg_node *n = node_at(SEG_TRUTHY, start);
        hd_segast_add(n, v);
        return n;
    }
    describe(p, what, sizeof what);
    fail_at(p, p->tok.line, p->tok.col,
            "expected a comparison (=, !=, <, <=, >, >=, in, "
            "between, contains, starts_with, exists, is null), "
            "found %s",
            what);
    hd_segast_free(v);
    return NULL;
}

static struct hd_seg_node *parse_predicate(struct parser *p)
{
    struct token *t = &p->tok;
    if (t->type == TK_IDENT &&
        (strcasecmp(t->str, "reachable") == 0 || strcasecmp(t->str, "opted_in") == 0)) {
        bool reach = strcasecmp(t->str, "reachable") == 0;
        struct hd_seg_node *n = node_at(reach ? SEG_REACHABLE : SEG_OPTED_IN, t);
        if (parse_channel_args(p, n, reach ? "reachable" : "opted_in") < 0) {
            hd_segast_free(n);
            return NULL;
        }
        return n;
    }
    if (t->type == TK_IDENT && strcasecmp(t->str, "in_segment") == 0)
        return parse_in_segment(p);
    if (is_call(p, "did"))
        return parse_did(p);
    struct hd_seg_node *m = parse_message(p);
    if (m || p->rc < 0)
        return m;
    struct token start = *t;
    start.str = NULL;
    struct hd_seg_node *v = parse_value(p);
    if (!v)
        return NULL;
    return parse_condition(p, v, &start);
}

static struct hd_seg_node *parse_unary(struct parser *p)
{
    char what[64];
    if (p->rc < 0)
        return NULL;
    if (++p->depth > MAX_NESTING) {
        FAIL_TOK(p, "the rule nests more than %d levels deep", MAX_NESTING);
        return NULL;
    }
    struct hd_seg_node *n = NULL;
    if (is_kw(&p->tok, "not")) {
        n = node_at(SEG_NOT, &p->tok);
        next(p);
        struct hd_seg_node *k = parse_unary(p);
        if (!k) {
            hd_segast_free(n);
            n = NULL;
        } else {
            hd_segast_add(n, k);
        }
    } else if (p->tok.type == TK_LP) {
        struct token lp = p->tok;
        next(p);
        n = parse_expr(p);
        if (n && p->tok.type != TK_RP) {
            describe(p, what, sizeof what);
            fail_at(p, p->tok.line, p->tok.col, "expected ')' to close the '(' at %d:%d, found %s",
                    lp.line, lp.col, what);
            hd_segast_free(n);
            n = NULL;
        } else if (n) {
            next(p);
        }
    } else if (p->tok.type == TK_EOF) {
        FAIL_TOK(p, "expected a condition, found the end");
    } else {
        n = parse_predicate(p);
    }
    p->depth--;
    return p->rc < 0 ? (hd_segast_free(n), NULL) : n;
}

static struct hd_seg_node *parse_binary(struct parser *p, bool or)
{
    struct hd_seg_node *a = or ? parse_binary(p, false) : parse_unary(p);
    while (a && is_kw(&p->tok, or ? "or" : "and")) {
        if (++p->terms >= MAX_TERMS) { /* terms counts the joins: 250 conditions, 249 */
            FAIL_TOK(p,
                     "a rule may join at most %d conditions with and/or (define parts as "
                     "segments and use in_segment)",
                     MAX_TERMS);
            hd_segast_free(a);
            return NULL;
        }
        struct hd_seg_node *n = node_at(or ? SEG_OR : SEG_AND, &p->tok);
        next(p);
        struct hd_seg_node *b = or ? parse_binary(p, false) : parse_unary(p);
        if (!b) {
            hd_segast_free(n);
            hd_segast_free(a);
            return NULL;
        }
        hd_segast_add(n, a);
        hd_segast_add(n, b);
        a = n;
    }
    return a;
}

static struct hd_seg_node *parse_expr(struct parser *p)
{
    return parse_binary(p, true);
}

/* ---- typing -------------------------------------------------------------------------- */

static const char *vtype_name(enum hd_seg_vtype t)
{
    switch (t) {
    case SEGV_STRING:
        return "a string";
    case SEGV_NUMBER:
        return "a number";
    case SEGV_BOOL:
        return "a boolean";
    case SEGV_DATE:
        return "a date";
    case SEGV_ARRAY:
        return "a list";
    default:
        return "untyped";
    }
}

static enum hd_seg_vtype value_type(const struct hd_seg_node *n)
{
    switch (n->type) {
    case SEG_STRING:
        return SEGV_STRING;
    case SEG_NUMBER:
    case SEG_DAYS_SINCE:
    case SEG_DAYS_UNTIL:
    case SEG_MONTHS_UNTIL:
    case SEG_DATEPART:
    case SEG_LENGTH:
    case SEG_EV_AGG:
        return SEGV_NUMBER;
    case SEG_EV_TIME:
        return SEGV_DATE;
    case SEG_BOOL:
        return SEGV_BOOL;
    case SEG_TIME:
    case SEG_LOCAL_TODAY:
        return SEGV_DATE;
    case SEG_FIELD:
        return n->vtype;
    default:
        return SEGV_ANY;
    }
}

static const char *field_label(const struct hd_seg_node *f, char *buf, size_t size)
{
    static const char *const names[] = {"?",      "id",       "email",      "phone",
                                        "locale", "timezone", "created_at", "updated_at"};
    snprintf(buf, size, "%s", f->field == SEGF_ATTR ? f->path : names[f->field]);
    return buf;
}

/* How a value that a comparison starts with reads in a message: plan,
 * days_since(last_active), sum("purchase", "amount"). */
static const char *subject_label(const struct hd_seg_node *n, char *buf, size_t size)
{
    char inner[200];
    switch (n->type) {
    case SEG_DAYS_SINCE:
    case SEG_DAYS_UNTIL:
    case SEG_MONTHS_UNTIL:
    case SEG_DATEPART:
    case SEG_LENGTH:
        snprintf(buf, size, "%s(%s)", hd_segast_fn_name(n),
                 subject_label(n->kids[0], inner, sizeof inner));
        return buf;
    case SEG_EV_AGG:
    case SEG_EV_TIME:
        snprintf(buf, size, "%s(\"%s\"%s%s%s)", hd_segast_agg_name(n->agg), n->str,
                 n->path ? ", \"" : "", n->path ? n->path : "", n->path ? "\"" : "");
        return buf;
    default:
        return field_label(n, buf, size);
    }
}

/* A quoted ISO date where a date is expected becomes a date. */
static void coerce_date(struct hd_seg_node *v)
{
    enum hd_time_kind kind;
    int64_t t;
    if (v->type == SEG_STRING && hd_time_parse_iso(v->str, &t, &kind) == 0) {
        v->type = SEG_TIME;
        v->t = t;
        v->date_only = kind == HD_TIME_DATE;
        free(v->str);
        v->str = NULL;
    }
}

static bool is_subject(const struct hd_seg_node *n)
{
    return n->type == SEG_FIELD || n->type == SEG_DAYS_SINCE || n->type == SEG_DAYS_UNTIL ||
           n->type == SEG_MONTHS_UNTIL || n->type == SEG_DATEPART || n->type == SEG_EV_AGG ||
           n->type == SEG_EV_TIME || n->type == SEG_LENGTH;
}

/* local_today, or a part of it: a value per contact. */
static bool is_local(const struct hd_seg_node *n)
{
    return n->type == SEG_LOCAL_TODAY ||
           (n->type == SEG_DATEPART && n->kids[0]->type == SEG_LOCAL_TODAY);
}

static int check_literal(struct parser *p, const struct hd_seg_node *field, struct hd_seg_node *lit)
{
    char name[256];
    enum hd_seg_vtype ft = value_type(field);
    if (is_subject(lit) && !is_local(lit))
        return fail_at(p, lit->line, lit->col,
                       "compare a field with a value, not with another field");
    if (lit->type == SEG_DURATION)
        return fail_at(p, lit->line, lit->col,
                       "a duration alone is not a value here (write now - 30d, or "
                       "days_since(x) >= 30)");
    if (ft == SEGV_DATE)
        coerce_date(lit);
    enum hd_seg_vtype lt = value_type(lit);
    if (ft == SEGV_ANY || ft == lt)
        return 0;
    subject_label(field, name, sizeof name);
    if (ft == SEGV_ARRAY)
        return fail_at(p, lit->line, lit->col,
                       "'%s' is a list: test it with contains (%s contains \"x\")", name, name);
    return fail_at(p, lit->line, lit->col, "'%s' is %s; it cannot be compared with %s", name,
                   vtype_name(ft), vtype_name(lt));
}

/* Edit distance of a and b (at most 64 bytes each counted), for suggestions. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strnlen(a, 64), lb = strnlen(b, 64), row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best =
                diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* An attribute no contact has had: an error with the closest known ones. */
static int check_known(struct parser *p, const struct hd_seg_node *f)
{
    const struct hd_seg_opts *o = p->opts;
    size_t head = strcspn(f->path, "."), best[3] = {0}, dist[3], nbest = 0;
    char *name = hd_xstrndup(f->path, head);
    for (size_t i = 0; i < o->nknown; i++)
        if (strcmp(o->known[i], name) == 0) {
            free(name);
            return 0;
        }
    /* up to three names within a third of the length (at least 2 edits) */
    size_t limit = head / 3 > 2 ? head / 3 : 2;
    for (size_t i = 0; i < o->nknown; i++) {
        size_t d = distance(name, o->known[i]), k;
        if (d > limit)
            continue;
        for (k = nbest; k > 0 && dist[k - 1] > d; k--)
            if (k < 3)
                best[k] = best[k - 1], dist[k] = dist[k - 1];
        if (k < 3) {
            best[k] = i, dist[k] = d;
            nbest += nbest < 3;
        }
    }
    struct hd_buf hint;
    hd_buf_init(&hint);
    for (size_t k = 0; k < nbest; k++)
        hd_buf_addf(&hint, "%s'%s'",
                    k == 0           ? " (did you mean "
                    : k + 1 == nbest ? " or "
                                     : ", ",
                    o->known[best[k]]);
    if (nbest)
        hd_buf_adds(&hint, "?)");
    fail_at(p, f->line, f->col,
            "no contact has an attribute '%s'%s; if it is still to come, use --allow-unknown", name,
            nbest ? hint.data : "");
    hd_buf_release(&hint);
    free(name);
    return p->rc;
}

static bool day_count_node(const struct hd_seg_node *n)
{
    return n->type == SEG_DAYS_SINCE || n->type == SEG_DAYS_UNTIL || n->type == SEG_MONTHS_UNTIL;
}

/* ieq and iin compare text: a string field (or untyped) with strings. */
static int check_nocase(struct parser *p, const struct hd_seg_node *n)
{
    char name[256];
    const struct hd_seg_node *f = n->kids[0];
    enum hd_seg_vtype t = value_type(f);
    const char *op = n->type == SEG_CMP ? "ieq" : "iin";
    if (f->type != SEG_FIELD || (t != SEGV_ANY && t != SEGV_STRING))
        return fail_at(p, f->line, f->col, "'%s' is %s; %s compares strings",
                       subject_label(f, name, sizeof name), vtype_name(t), op);
    for (size_t i = 1; i < n->nkids; i++)
        if (n->kids[i]->type != SEG_STRING)
            return fail_at(p, n->kids[i]->line, n->kids[i]->col, "%s needs strings on its right",
                           op);
    return 0;
}

/* A comparison, in, between: a subject on the left, values of its type on
 * the right; local_today (a value per contact) only on the right, wherever
 * today may be, but not against a day count (a number). */
static int check_comparison(struct parser *p, struct hd_seg_node *n)
{
    struct hd_seg_node *subject = n->kids[0];
    bool local = false;
    for (size_t i = 1; i < n->nkids; i++)
        local |= is_local(n->kids[i]);
    if (is_local(subject) || (local && day_count_node(subject)))
        return fail_at(p, n->line, n->col,
                       "local_today is a value for a field: birthday = local_today, "
                       "due between local_today and local_today + 1w, month(x) in "
                       "(month(local_today)); it is not the subject, nor a day count");
    if (!is_subject(subject))
        return fail_at(p, subject->line, subject->col,
                       "a comparison starts with a field (plan = \"gold\"), not a value");
    for (size_t i = 1; i < n->nkids; i++)
        if (check_literal(p, subject, n->kids[i]) < 0)
            return p->rc;
    if (n->type == SEG_CMP && value_type(subject) == SEGV_BOOL && n->op != SEG_EQ &&
        n->op != SEG_NE)
        return fail_at(p, n->line, n->col, "a boolean can only be tested with = or !=");
    if (n->nocase)
        return check_nocase(p, n);
    return 0;
}

/* length(), is empty, contains, starts_with, ends_with, matches: a field of
 * a type they work on, and a string (contains: or a number) on the right. */
static int check_text(struct parser *p, struct hd_seg_node *n)
{
    char name[256];
    switch (n->type) {
    case SEG_LENGTH:
    case SEG_EMPTY: {
        struct hd_seg_node *f = n->kids[0];
        enum hd_seg_vtype t = value_type(f);
        const char *what = n->type == SEG_LENGTH ? "length()" : "is empty";
        if (f->type != SEG_FIELD)
            return fail_at(p, f->line, f->col, "%s tests a field", what);
        if (t == SEGV_ANY || t == SEGV_STRING || t == SEGV_ARRAY)
            return 0;
        return fail_at(p, f->line, f->col, "'%s' is %s; %s works on lists and strings",
                       field_label(f, name, sizeof name), vtype_name(t), what);
    }
    case SEG_CONTAINS:
    case SEG_STARTS_WITH:
    case SEG_ENDS_WITH:
    case SEG_MATCHES: {
        struct hd_seg_node *f = n->kids[0], *v = n->kids[1];
        const char *op = n->type == SEG_CONTAINS      ? "contains"
                         : n->type == SEG_STARTS_WITH ? "starts_with"
                         : n->type == SEG_ENDS_WITH   ? "ends_with"
                                                      : "matches";
        if (f->type != SEG_FIELD)
            return fail_at(p, f->line, f->col, "%s needs a field on its left", op);
        enum hd_seg_vtype t = value_type(f);
        if (v->type != SEG_STRING && !(n->type == SEG_CONTAINS && v->type == SEG_NUMBER))
            return fail_at(p, v->line, v->col, "%s needs a string on its right", op);
        if (t == SEGV_ANY || t == SEGV_STRING || (t == SEGV_ARRAY && n->type == SEG_CONTAINS))
            return 0;
        return fail_at(p, f->line, f->col, "'%s' is %s; %s works on %s",
                       field_label(f, name, sizeof name), vtype_name(t), op,
                       n->type == SEG_CONTAINS ? "strings and lists" : "strings");
    }
    default:
        return 0;
    }
}

static int type_check(struct parser *p, struct hd_seg_node *n)
{
    char name[256];
    if (n->type == SEG_FIELD && n->field == SEGF_ATTR && p->opts->known && check_known(p, n) < 0)
        return p->rc;
    if (n->type == SEG_FIELD) {
        if (n->field == SEGF_CREATED_AT || n->field == SEGF_UPDATED_AT)
            n->vtype = SEGV_DATE;
        else if (n->field != SEGF_ATTR)
            n->vtype = SEGV_STRING;
        else if (p->opts->type_of && !strchr(n->path, '.'))
            n->vtype = p->opts->type_of(p->opts->type_ud, n->path);
        return 0;
    }
    for (size_t i = 0; i < n->nkids; i++)
        if (type_check(p, n->kids[i]) < 0)
            return p->rc;
    switch (n->type) {
    case SEG_DAYS_SINCE:
    case SEG_DAYS_UNTIL:
    case SEG_MONTHS_UNTIL:
    case SEG_DATEPART: {
        enum hd_seg_vtype t = value_type(n->kids[0]);
        if (t != SEGV_DATE && t != SEGV_ANY)
            return fail_at(p, n->kids[0]->line, n->kids[0]->col, "%s needs a date; '%s' is %s",
                           hd_segast_fn_name(n), subject_label(n->kids[0], name, sizeof name),
                           vtype_name(t));
        return 0;
    }
    case SEG_CMP:
    case SEG_BETWEEN:
    case SEG_IN:
        return check_comparison(p, n);
    case SEG_LENGTH:
    case SEG_EMPTY:
    case SEG_CONTAINS:
    case SEG_STARTS_WITH:
    case SEG_ENDS_WITH:
    case SEG_MATCHES:
        return check_text(p, n);
    case SEG_EXISTS:
        if (n->kids[0]->type != SEG_FIELD)
            return fail_at(p, n->kids[0]->line, n->kids[0]->col, "exists and is null test a field");
        return 0;
    case SEG_TRUTHY: {
        enum hd_seg_vtype t = value_type(n->kids[0]);
        if (t != SEGV_BOOL && t != SEGV_ANY)
            return fail_at(p, n->line, n->col, "'%s' is %s, not a boolean: compare it (%s = ...)",
                           field_label(n->kids[0], name, sizeof name), vtype_name(t), name);
        return 0;
    }
    default:
        return 0;
    }
}

/* ---- in_segment expansion ---------------------------------------------------------------- */

struct expand {
    const char *stack[32];
    size_t depth;
};

static int expand(struct parser *p, struct hd_seg_node **slot, struct expand *ex)
{
    struct hd_seg_node *n = *slot;
    for (size_t i = 0; i < n->nkids; i++)
        if (expand(p, &n->kids[i], ex) < 0)
            return p->rc;
    if (n->type != SEG_IN_SEGMENT)
        return 0;
    for (size_t i = 0; i < ex->depth; i++)
        if (strcmp(ex->stack[i], n->path) == 0) {
            char chain[512] = "";
            size_t len = 0;
            for (size_t k = i; k < ex->depth; k++)
                len += (size_t)snprintf(chain + len, sizeof chain - len, "%s -> ", ex->stack[k]);
            snprintf(chain + len, sizeof chain - len, "%s", n->path);
            return fail_at(p, n->line, n->col, "in_segment(\"%s\") makes a cycle: %s", n->path,
                           chain);
        }
    if (!p->opts->lookup)
        return fail_at(p, n->line, n->col, "in_segment(\"%s\"): no stored segments here", n->path);
    if (ex->depth == sizeof ex->stack / sizeof ex->stack[0])
        return fail_at(p, n->line, n->col, "in_segment() nests more than 32 segments deep");
    char *expr = NULL;
    struct hd_err e = {0};
    int rc = p->opts->lookup(p->opts->lookup_ud, n->path, &expr, &e);
    if (rc == HD_E_NOTFOUND)
        return fail_at(p, n->line, n->col, "in_segment(\"%s\"): no segment '%s'", n->path, n->path);
    if (rc < 0)
        return fail_at(p, n->line, n->col, "in_segment(\"%s\"): %s", n->path, e.msg);
    struct hd_seg_opts sub = *p->opts;
    sub.name = n->path;
    sub.known = NULL; /* checked when that segment was defined */
    struct parser q = {.src = expr, .line = 1, .col = 1, .opts = &sub, .err = &e};
    struct hd_seg_node *tree = NULL;
    if (next(&q) == 0)
        tree = parse_expr(&q);
    if (tree && q.tok.type != TK_EOF)
        fail_at(&q, q.tok.line, q.tok.col, "unexpected text after the rule");
    ex->stack[ex->depth++] = n->path;
    if (q.rc == 0)
        type_check(&q, tree);
    int sub_rc = q.rc;
    tok_release(&q.tok);
    if (sub_rc == 0) {
        /* expand the referenced tree with the same stack, to catch cycles;
         * messages then quote the referenced segment's rule */
        q.err = p->err;
        sub_rc = expand(&q, &tree, ex);
        if (sub_rc < 0)
            p->rc = sub_rc;
    } else {
        p->rc = sub_rc;
        *p->err = e;
    }
    free(expr);
    ex->depth--;
    if (p->rc < 0) {
        hd_segast_free(tree);
        return p->rc;
    }
    hd_segast_free(n);
    *slot = tree;
    return 0;
}

/* Nesting as the SQL will have it: a chain of one operator is one level. */
static int nesting(const struct hd_seg_node *n, enum hd_seg_type parent)
{
    int d = 0;
    bool chain = (n->type == SEG_AND || n->type == SEG_OR) && n->type == parent;
    for (size_t i = 0; i < n->nkids; i++) {
        int k = nesting(n->kids[i], n->type);
        if (k > d)
            d = k;
    }
    return chain ? d : d + 1;
}

int hd_seg_parse(const char *expr, const struct hd_seg_opts *opts, struct hd_seg_node **out,
                 struct hd_err *err)
{
    struct hd_err local;
    struct parser p = {.src = expr, .line = 1, .col = 1, .opts = opts, .err = err ? err : &local};
    struct hd_seg_node *tree = NULL;
    if (next(&p) == 0)
        tree = parse_expr(&p);
    if (tree && p.tok.type != TK_EOF) {
        char what[64];
        describe(&p, what, sizeof what);
        FAIL_TOK(&p, "expected 'and', 'or' or the end, found %s", what);
    }
    if (p.rc == 0)
        type_check(&p, tree);
    if (p.rc == 0) {
        struct expand ex = {.depth = 0};
        if (opts->name && hd_seg_name_valid(opts->name))
            ex.stack[ex.depth++] = opts->name;
        expand(&p, &tree, &ex);
    }
    if (p.rc == 0 && nesting(tree, SEG_NOT) > MAX_NESTING)
        fail_at(&p, 1, 1,
                "the rule, with the segments it uses, nests more than %d levels "
                "deep: simplify it",
                MAX_NESTING);
    tok_release(&p.tok);
    if (p.rc < 0) {
        hd_segast_free(tree);
        return p.rc;
    }
    *out = tree;
    return 0;
}

int hd_seg_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
            return 0;
    return 1;
}

static void collect_refs(const struct hd_seg_node *n, char ***names, size_t *count)
{
    if (n->type == SEG_IN_SEGMENT) {
        HD_GROW(*names, *count);
        (*names)[(*count)++] = hd_xstrdup(n->path);
    }
    for (size_t i = 0; i < n->nkids; i++)
        collect_refs(n->kids[i], names, count);
}

int hd_seg_parse_refs(const char *expr, char ***names, size_t *n, struct hd_err *err)
{
    struct hd_seg_opts o = {0};
    struct hd_err local;
    struct parser p = {.src = expr, .line = 1, .col = 1, .opts = &o, .err = err ? err : &local};
    struct hd_seg_node *tree = NULL;
    *names = NULL;
    *n = 0;
    if (next(&p) == 0)
        tree = parse_expr(&p);
    tok_release(&p.tok);
    if (!tree)
        return p.rc < 0 ? p.rc : HD_E_PARSE;
    collect_refs(tree, names, n);
    hd_segast_free(tree);
    return 0;
}
