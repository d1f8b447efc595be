/* pages: the HTML pages of the service, templates/pages/NAME.mustache and
 * NAME.zh-CN.mustache under the configured templates folder, so operators
 * can brand them. The console's pages and its stylesheet (console.css)
 * are optional: a templates folder of an operator's own made before the
 * console existed still starts the service, and the console says what is
 * missing. They are compiled once at start-up and rendered with
 * herald's Mustache, {{name}} HTML-escaped, not strict (a variable an
 * operator's page does not use costs nothing, one it names that we do not
 * give renders empty). The console's pages share one header and nav,
 * pages/console-head.mustache (and .zh-CN), their only partial,
 * {{>console-head}}: in pages/ rather than the message templates'
 * partials/ (whose names a campaign's template may use), so that the
 * folder an operator brands holds all of the console; optional like the
 * pages (without it a page renders no header). A compiled template is read-only, so workers render
 * concurrently. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/mustache.h"
#include "serve_int.h"

static const char *const page_names[PAGE_COUNT] = {
    "unsubscribe",      "unsubscribed",     "invalid",          "preferences", "preferences-saved",
    "console-login",    "console-overview", "console-campaign", "console-log", "console-new",
    "console-contacts", "console-contact",  "console-templates", "console-template",
    "console-segments", "console-segment",  "console-settings", "console-audit",
    "console-users",    "console-apikeys",  "console-apikey"};
static const char *const lang_tags[LANG_COUNT] = {"en", "zh-CN"};

struct hd_pages {
    struct hd_mst *t[PAGE_COUNT][LANG_COUNT]; /* NULL: use English */
    struct hd_mst *head[LANG_COUNT];          /* the console's header; NULL: English's */
    struct hd_buf css;                        /* console.css; len 0 when missing */
    struct hd_buf js;                         /* console.js; len 0 when missing */
};

static int load_one(const char *path, bool required, struct hd_mst **out, struct hd_err *err)
{
    struct hd_buf b;
    int rc = 0;
    hd_buf_init(&b);
    *out = NULL;
    if (hd_buf_read_file(&b, path) < 0) {
        if (required)
            rc = hd_err_set(err, HD_E_CONFIG,
                            "cannot read page template '%s' (is [herald] "
                            "templates the folder holding pages/?)",
                            path);
    } else {
        struct hd_mst_opts o = {.file = path};
        rc = hd_mst_compile(b.data ? b.data : "", b.len, &o, out, err);
    }
    hd_buf_release(&b);
    return rc;
}

int hd_pages_load(const char *dir, struct hd_pages **out, struct hd_err *err)
{
    struct hd_pages *p = hd_xcalloc(1, sizeof *p);
    char path[4096];
    int rc = 0;
    for (int i = 0; i < PAGE_COUNT && rc == 0; i++) {
        for (int l = 0; l < LANG_COUNT && rc == 0; l++) {
            snprintf(path, sizeof path, "%s/pages/%s%s%s.mustache", dir, page_names[i],
                     l ? "." : "", l ? lang_tags[l] : "");
            rc = load_one(path, l == LANG_EN && i < PAGE_FIRST_OPTIONAL, &p->t[i][l], err);
        }
    }
    for (int l = 0; l < LANG_COUNT && rc == 0; l++) { /* the console's header */
        snprintf(path, sizeof path, "%s/pages/console-head%s%s.mustache", dir, l ? "." : "",
                 l ? lang_tags[l] : "");
        rc = load_one(path, false, &p->head[l], err);
    }
    /* the console's stylesheet, served as it is; optional like its pages */
    hd_buf_init(&p->css);
    snprintf(path, sizeof path, "%s/pages/console.css", dir);
    if (rc == 0 && hd_buf_read_file(&p->css, path) < 0)
        p->css.len = 0;
    hd_buf_init(&p->js); /* and its script, the same way */
    snprintf(path, sizeof path, "%s/pages/console.js", dir);
    if (rc == 0 && hd_buf_read_file(&p->js, path) < 0)
        p->js.len = 0;
    if (rc < 0) {
        hd_pages_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void hd_pages_free(struct hd_pages *p)
{
    if (!p)
        return;
    for (int i = 0; i < PAGE_COUNT; i++)
        for (int l = 0; l < LANG_COUNT; l++)
            hd_mst_free(p->t[i][l]);
    for (int l = 0; l < LANG_COUNT; l++)
        hd_mst_free(p->head[l]);
    hd_buf_release(&p->css);
    hd_buf_release(&p->js);
    free(p);
}

bool hd_pages_has(const struct hd_pages *p, int page)
{
    return p->t[page][LANG_EN] != NULL;
}

const struct hd_buf *hd_pages_css(const struct hd_pages *p)
{
    return p->css.len ? &p->css : NULL;
}

const struct hd_buf *hd_pages_js(const struct hd_pages *p)
{
    return p->js.len ? &p->js : NULL;
}

int hd_pages_lang(const char *locale)
{
    return locale && strncmp(locale, "zh", 2) == 0 &&
                   (!locale[2] || locale[2] == '-' || locale[2] == '_')
               ? LANG_ZH
               : LANG_EN;
}

/* The one partial of the pages, in the page's language. */
struct head_of {
    const struct hd_pages *p;
    int lang;
};

static int head_partial(void *ud, const char *name, const struct hd_mst **out,
                        struct hd_err *err)
{
    const struct head_of *h = ud;
    (void)err;
    *out = h->p->head[h->lang] ? h->p->head[h->lang] : h->p->head[LANG_EN];
    return strcmp(name, "console-head") == 0 && *out ? 0 : HD_E_NOTFOUND;
}

int hd_pages_render(const struct hd_pages *p, int page, int lang, json_t *data, struct hd_buf *out,
                    struct hd_err *err)
{
    const struct hd_mst *t = p->t[page][lang] ? p->t[page][lang] : p->t[page][LANG_EN];
    if (!p->t[page][lang])
        lang = LANG_EN;
    json_object_set_new(data, "lang", json_string(lang_tags[lang]));
    /* dates and numbers ({{x | date ...}}, {{n | number}}) by ICU in the
     * page's language and the data's "zone" (the console's user's) */
    const char *zone = json_string_value(json_object_get(data, "zone"));
    struct head_of head = {p, lang};
    struct hd_mst_env env = {.escape_html = true,
                             .locale = lang_tags[lang],
                             .timezone = zone,
                             .fmt = hd_fmt_new(),
                             .partial = head_partial,
                             .partial_ud = &head};
    int rc = hd_mst_render(t, data, &env, out, err);
    hd_fmt_free(env.fmt);
    return rc;
}

const char *hd_pages_channel(int lang, int channel)
{
    static const char *const words[LANG_COUNT][HD_CH_COUNT] = {
        {"email", "text messages (SMS)", "push notifications", "in-app messages",
         "WeChat messages"},
        {"邮件", "短信", "推送通知", "站内信", "微信消息"}};
    return words[lang][channel];
}

const char *hd_pages_category(int lang, int category)
{
    static const char *const words[LANG_COUNT][HD_CAT_COUNT] = {{"marketing", "transactional"},
                                                                {"营销", "事务"}};
    return words[lang][category];
}
