/* fuzz_tpl: libFuzzer target for template files (tpl.h has no entry point
 * for text, only a folder). Once, a temp folder gets the real partials; for
 * each input, the text up to a line "====" becomes f.tmpl and the rest, if
 * any, f.zh-CN.tmpl, and a fresh set loads template "f". Loading must
 * succeed or fail with HD_E_PARSE and a position: a file of the template
 * and a line inside it. A template that loads renders every part it has
 * (base and zh-CN, each variant, leniently) and goes through lint without
 * crashing; its parts, when rendered, may fail with a message only. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "herald/buf.h"
#include "herald/tpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void put(const char *name, const char *text, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, n, f) != n || fclose(f) != 0)
        abort();
}

static const char *const made[] = {"f.tmpl",
                                   "f.zh-CN.tmpl",
                                   "partials/footer.mustache",
                                   "partials/footer.zh-CN.mustache",
                                   "partials/layout.mustache",
                                   "partials/button.mustache",
                                   "partials",
                                   ""};

/* Removes the temp folder when libFuzzer exits normally. */
static void clean_up(void)
{
    char path[128];
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, made[i]);
        remove(path);
    }
}

static void set_up(void)
{
    static const char *const partials[][2] = {
        {"footer", "{{#unsubscribe_url}}Unsubscribe: {{unsubscribe_url}}{{/unsubscribe_url}}"},
        {"footer.zh-CN", "退订：{{unsubscribe_url}}"},
        {"layout", "<html><body>{{$body}}default{{/body}}{{>footer}}</body></html>"},
        {"button", "<a href=\"{{url}}\">{{label}}</a>"}};
    char path[128];
    snprintf(dir, sizeof dir, "/tmp/fuzz_tpl.XXXXXX");
    if (!mkdtemp(dir))
        abort();
    atexit(clean_up);
    snprintf(path, sizeof path, "%s/partials", dir);
    if (mkdir(path, 0700) != 0)
        abort();
    for (size_t i = 0; i < sizeof partials / sizeof partials[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "partials/%s.mustache", partials[i][0]);
        put(name, partials[i][1], strlen(partials[i][1]));
    }
}

static int lines(const char *s, size_t n)
{
    int l = 1;
    for (size_t i = 0; i < n; i++)
        l += s[i] == '\n';
    return l;
}

static void lint_cb(void *ud, const struct hd_tpl_issue *issue)
{
    (void)ud;
    /* an issue from an error (hd_tpl_lint's issue_err) leaves where empty:
     * its message starts with the position instead */
    if (!issue->msg[0] || (!issue->where[0] && !strchr(issue->msg, ':'))) {
        fprintf(stderr, "fuzz_tpl: lint issue without a place or a message: '%s' '%s'\n",
                issue->where, issue->msg);
        abort();
    }
}

static void render_all(const struct hd_tpl *t, json_t *data, struct hd_fmt *fmt)
{
    static const char *const locales[] = {NULL, "zh-CN"};
    struct hd_tpl_info info;
    hd_tpl_get_info(t, &info);
    for (size_t l = 0; l < 2; l++) {
        for (size_t v = 0; v <= info.nvariants; v++) {
            struct hd_tpl_req req = {.locale = locales[l],
                                     .variant = v ? info.variants[v - 1] : NULL,
                                     .timezone = "Asia/Shanghai",
                                     .now = 1795305600,
                                     .data = data,
                                     .fmt = fmt,
                                     .lenient = true};
            for (int part = 0; part < HD_PART_COUNT; part++) {
                struct hd_buf out;
                struct hd_err err;
                hd_buf_init(&out);
                int rc = hd_tpl_part_is_json(part)
                             ? hd_tpl_render_json_text(t, part, &req, &out, &err)
                             : hd_tpl_render(t, part, &req, &out, &err);
                if (rc < 0 && !err.msg[0])
                    abort();
                hd_buf_release(&out);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *ctx;
    static struct hd_fmt *fmt;
    if (!ctx) {
        set_up();
        ctx = json_loads("{\"first_name\":\"Ann\",\"n\":1234.5,\"due\":\"2026-11-22\","
                         "\"items\":[{\"x\":1}],\"unsubscribe_url\":\"https://u.example/x\"}",
                         0, NULL);
        fmt = hd_fmt_new();
    }
    const char *text = (const char *)data, *sep = NULL;
    for (size_t i = 0; i + 6 <= size && !sep; i++)
        if (memcmp(text + i, "\n====\n", 6) == 0)
            sep = text + i;
    size_t n0 = sep ? (size_t)(sep - text) + 1 : size;
    put("f.tmpl", text, n0);
    char loc[128];
    snprintf(loc, sizeof loc, "%s/f.zh-CN.tmpl", dir);
    if (sep)
        put("f.zh-CN.tmpl", sep + 6, size - n0 - 5);
    else
        unlink(loc);
    struct hd_tpl_set *set = NULL;
    const struct hd_tpl *t = NULL;
    struct hd_err err;
    if (hd_tpl_set_open(dir, &set, &err) < 0)
        abort();
    int rc = hd_tpl_get(set, "f", &t, &err);
    if (rc < 0) {
        int max = strcmp(err.file, "f.tmpl") == 0         ? lines(text, n0)
                  : strcmp(err.file, "f.zh-CN.tmpl") == 0 ? lines(sep + 6, size - n0 - 5)
                                                          : -1;
        if (rc != HD_E_PARSE || err.line < 1 || err.line > max) {
            fprintf(stderr, "fuzz_tpl: not a positioned error: %d %s:%d: %s\n", rc, err.file,
                    err.line, err.msg);
            abort();
        }
    } else {
        render_all(t, ctx, fmt);
        hd_tpl_lint(set, "f", lint_cb, NULL);
    }
    hd_tpl_set_free(set);
    return 0;
}
