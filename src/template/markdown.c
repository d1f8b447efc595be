/* markdown: the inbox body's Markdown subset to safe HTML (markdown.h).
 *
 * Two passes of one shape: blocks, then spans. The block pass walks the
 * text a line at a time: a blank line ends a paragraph or a list, a line
 * that starts with "- ", "* " or "N. " is a list item (a list opens on
 * its first and closes on a blank line or a line of the other kind), and
 * any other line joins the open paragraph. The span pass renders one
 * block's text: "**" and "*" open strong and em only when a closing mark
 * follows in the same block, "[text](url)" is a link only when the URL is
 * http(s) and clean, and everything else goes through esc(), which is the
 * only writer of the block's bytes. Spans nest to MAX_DEPTH and links do
 * not nest, so the output is balanced whatever the input. */
#include "herald/markdown.h"

#include <string.h>
#include <strings.h>

#define MAX_DEPTH 4

static void esc(struct hd_buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '<':
            hd_buf_adds(out, "&lt;");
            break;
        case '>':
            hd_buf_adds(out, "&gt;");
            break;
        case '&':
            hd_buf_adds(out, "&amp;");
            break;
        case '"':
            hd_buf_adds(out, "&quot;");
            break;
        case '\'':
            hd_buf_adds(out, "&#39;");
            break;
        case '\0':
            break; /* never in a page */
        default:
            hd_buf_addc(out, s[i]);
        }
    }
}

bool hd_md_url_ok(const char *url, size_t n)
{
    size_t skip = n >= 8 && strncasecmp(url, "https://", 8) == 0  ? 8
                  : n >= 7 && strncasecmp(url, "http://", 7) == 0 ? 7
                                                                  : 0;
    if (!skip || n == skip || url[skip] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= ' ' || c >= 0x7f || strchr("\"'<>\\`", c))
            return false;
    }
    return true;
}

/* Where the closing mark (len 1 or 2) of a span opened at s[from] is, or 0:
 * not escaped, not at the very next byte. */
static size_t closer(const char *s, size_t n, size_t from, const char *mark, size_t len)
{
    for (size_t i = from + 1; i + len <= n; i++) {
        if (s[i] == '\\') {
            i++;
            continue;
        }
        if (memcmp(s + i, mark, len) == 0 && !(len == 1 && i + 1 < n && s[i + 1] == '*'))
            return i;
        if (len == 1 && s[i] == '*' && i + 1 < n && s[i + 1] == '*')
            i++; /* a strong mark inside em is not em's end */
    }
    return 0;
}

/* Whether "[text](url)" starts at s[0]: its text's end (*mid) and its
 * URL (*url, *url_len); the length of the whole, or 0. */
static size_t link_at(const char *s, size_t n, size_t *mid, const char **url, size_t *url_len)
{
    size_t m = 0;
    int nest = 0;
    for (size_t i = 1; i < n && !m; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '[')
            nest++;
        else if (s[i] == ']' && nest-- == 0)
            m = i;
    }
    if (!m || m + 1 >= n || s[m + 1] != '(')
        return 0;
    const char *u = s + m + 2, *end = memchr(u, ')', n - (m + 2));
    if (!end || !hd_md_url_ok(u, (size_t)(end - u)))
        return 0;
    *mid = m;
    *url = u;
    *url_len = (size_t)(end - u);
    return (size_t)(end - s) + 1;
}

static void spans(struct hd_buf *out, const char *s, size_t n, int depth, bool in_link)
{
    size_t i = 0, text = 0; /* text: the start of the plain run */
    while (i < n) {
        size_t used = 0, len = 0, end = 0;
        if (s[i] == '\\' && i + 1 < n && s[i + 1] && strchr("\\*[]()_-#`", s[i + 1])) {
            esc(out, s + text, i - text);
            text = ++i; /* the next byte is plain text */
            i++;
            continue;
        }
        if (depth < MAX_DEPTH && s[i] == '*') {
            len = i + 1 < n && s[i + 1] == '*' ? 2 : 1;
            end = closer(s, n, i + len - 1, len == 2 ? "**" : "*", len);
        }
        if (end > i + len) {
            esc(out, s + text, i - text);
            hd_buf_adds(out, len == 2 ? "<strong>" : "<em>");
            spans(out, s + i + len, end - i - len, depth + 1, in_link);
            hd_buf_adds(out, len == 2 ? "</strong>" : "</em>");
            i = text = end + len;
            continue;
        }
        const char *url;
        size_t mid, ulen;
        if (depth < MAX_DEPTH && !in_link && s[i] == '[' &&
            (used = link_at(s + i, n - i, &mid, &url, &ulen)) > 0) {
            esc(out, s + text, i - text);
            hd_buf_adds(out, "<a href=\"");
            esc(out, url, ulen);
            hd_buf_adds(out, "\" rel=\"noopener noreferrer\">");
            spans(out, s + i + 1, mid - 1, depth + 1, true);
            hd_buf_adds(out, "</a>");
            i = text = i + used;
            continue;
        }
        i += len ? len : 1;
    }
    esc(out, s + text, n - text);
}

/* The kind of list a line starts (0 none, 'u' or 'o') and where its text begins. */
static int item(const char *l, size_t n, size_t *start)
{
    size_t i = 0;
    while (i < n && i < 3 && l[i] == ' ')
        i++;
    if (i + 1 < n && (l[i] == '-' || l[i] == '*') && l[i + 1] == ' ') {
        *start = i + 2;
        return 'u';
    }
    size_t d = i;
    while (d < n && d - i < 9 && l[d] >= '0' && l[d] <= '9')
        d++;
    if (d > i && d + 1 < n && l[d] == '.' && l[d + 1] == ' ') {
        *start = d + 2;
        return 'o';
    }
    return 0;
}

static bool blank(const char *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (l[i] != ' ' && l[i] != '\t' && l[i] != '\r')
            return false;
    return true;
}

/* The open block: a paragraph's lines gathered in para, or a list. */
struct block {
    struct hd_buf para;
    int list; /* 0, 'u' or 'o' */
};

static void close_para(struct block *b, struct hd_buf *out)
{
    if (!b->para.len)
        return;
    hd_buf_adds(out, "<p>");
    spans(out, b->para.data, b->para.len, 0, false);
    hd_buf_adds(out, "</p>\n");
    hd_buf_reset(&b->para);
}

static void close_list(struct block *b, struct hd_buf *out)
{
    if (b->list)
        hd_buf_adds(out, b->list == 'u' ? "</ul>\n" : "</ol>\n");
    b->list = 0;
}

void hd_md_render(const char *md, size_t n, struct hd_buf *out)
{
    struct block b = {.list = 0};
    hd_buf_init(&b.para);
    for (size_t at = 0; at < n;) {
        const char *l = md + at, *nl = memchr(l, '\n', n - at);
        size_t len = nl ? (size_t)(nl - l) : n - at, start = 0;
        at += len + (nl != NULL);
        while (len && l[len - 1] == '\r')
            len--;
        int kind = blank(l, len) ? 0 : item(l, len, &start);
        if (blank(l, len)) {
            close_para(&b, out);
            close_list(&b, out);
        } else if (kind) {
            close_para(&b, out);
            if (b.list != kind) {
                close_list(&b, out);
                hd_buf_adds(out, kind == 'u' ? "<ul>\n" : "<ol>\n");
                b.list = kind;
            }
            hd_buf_adds(out, "<li>");
            spans(out, l + start, len - start, 0, false);
            hd_buf_adds(out, "</li>\n");
        } else {
            close_list(&b, out);
            if (b.para.len)
                hd_buf_addc(&b.para, '\n');
            hd_buf_add(&b.para, l, len);
        }
    }
    close_para(&b, out);
    close_list(&b, out);
    hd_buf_release(&b.para);
}
