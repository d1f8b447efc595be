/* mustache: a Mustache template engine (the official spec 1.4, with the
 * optional inheritance and dynamic-names modules) with herald's extensions:
 * filters ({{ name | default "friend" | upper }}), strict rendering (a
 * missing variable is an error naming file, line and column), and escaping
 * chosen per render (HTML parts escape, SMS and push parts do not).
 *
 * A template is compiled once into a tree and rendered many times; rendering
 * reads the data as jansson values and allocates only for filter output. */
#ifndef HERALD_MUSTACHE_H
#define HERALD_MUSTACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/buf.h"
#include "herald/err.h"

struct hd_mst;
struct hd_fmt;

/* Where the source text sits, for messages: the file name and the line and
 * column of its first byte (a template file's part starts mid-file). */
struct hd_mst_opts {
    const char *file; /* NULL: "template" */
    int line;         /* 0 means 1 */
    int col;          /* 0 means 1 */
};

/* Finds a partial (or parent) by name. Returns 0 with *out set, HD_E_NOTFOUND
 * when there is no such partial, or another negative code with err set. The
 * template stays owned by the resolver and must outlive the render. */
typedef int (*hd_mst_partial_fn)(void *ud, const char *name, const struct hd_mst **out,
                                 struct hd_err *err);

/* How to render. */
struct hd_mst_env {
    bool escape_html; /* HTML-escape {{name}} (not {{{name}}} or {{&name}}) */
    /* Another escape for {{name}} (JSON string contents, form encoding);
     * used when escape_html is false. NULL: none. */
    void (*escape)(struct hd_buf *out, const char *s, size_t n);
    bool strict;               /* missing variables and partials are errors */
    const char *part;          /* named in strict errors, e.g. "sms"; may be NULL */
    const char *locale;        /* BCP 47, for filters; NULL means "en" */
    const char *timezone;      /* IANA, for the date filters; NULL means "UTC" */
    int64_t now;               /* seconds, for days_until and days_since */
    struct hd_fmt *fmt;        /* formatter cache for the ICU filters; required if used */
    hd_mst_partial_fn partial; /* NULL: no partials */
    void *partial_ud;
    /* Contexts under the data, outermost first: a name the data lacks is
     * looked up in them, as in enclosing sections. NULL: none. */
    const json_t *const *below;
    size_t nbelow;
};

/* Compiles src (len bytes). On error, err has the file, line and column. */
int hd_mst_compile(const char *src, size_t len, const struct hd_mst_opts *opts, struct hd_mst **out,
                   struct hd_err *err);
void hd_mst_free(struct hd_mst *t);

/* Appends the rendering of t against data (any JSON value) to out. On error
 * out may hold part of the output; callers discard it. */
int hd_mst_render(const struct hd_mst *t, const json_t *data, const struct hd_mst_env *env,
                  struct hd_buf *out, struct hd_err *err);

/* Calls cb for every partial or parent named literally in t (not dynamic
 * names), with its position, so that a linter can check they exist. A
 * non-zero return stops the walk and is returned. */
typedef int (*hd_mst_ref_cb)(void *ud, const char *name, int line, int col);
int hd_mst_each_partial(const struct hd_mst *t, hd_mst_ref_cb cb, void *ud);

/* Whether rendering t could look name up: a tag names it (as any part of a
 * dotted name), or t holds a partial, a parent, a dynamic name or the
 * implicit iterator, which could stand for anything. false for NULL. */
bool hd_mst_may_use(const struct hd_mst *t, const char *name);

/* A cache of ICU formatters (numbers, currencies, dates) by locale and zone,
 * so that a million renders open each formatter once. Not thread-safe. */
struct hd_fmt *hd_fmt_new(void);
void hd_fmt_free(struct hd_fmt *f);

#endif
