/* cmd_template: `herald template list|lint|preview|render`. Preview renders
 * every part exactly as a message would get it (strict: a missing variable
 * is an error), with the SMS encoding and segments and the push payload
 * sizes; lint checks every file, part, variant and partial without data. */
#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "herald/token.h"
#include "herald/dispatch.h"
#include "herald/driver.h"
#include "herald/html.h"
#include "herald/markdown.h"
#include "herald/mustache.h"
#include "herald/sms.h"
#include "herald/store.h"
#include "herald/tpl.h"
#include "herald/units.h"

static const char template_usage[] =
    "usage: herald template list [--format table|csv|json|jsonl]\n"
    "       herald template lint [NAME...]\n"
    "       herald template preview NAME (--contact ID | --data FILE.json) [--channel C]\n"
    "                               [--locale L] [--variant V]\n"
    "                               [--format table|csv|json|jsonl] [--json]\n"
    "       herald template render FILE|- [--data FILE.json] [--partials DIR] [--strict]\n"
    "                              [--escape html|none]\n"
    "\n"
    "list     templates in the templates folder: channels, locales, variants, category\n"
    "lint     checks every template (or the named ones), every locale file, variant and\n"
    "         partial; lists every problem and exits 1 if there is any error\n"
    "preview  renders every part for a stored contact or a JSON data file, with the\n"
    "         SMS encoding and segment count, push payload sizes and warnings\n"
    "render   plain Mustache: FILE rendered with --data to standard output\n"
    "         (HTML-escaped like the Mustache spec unless --escape none)\n";

static int open_set(struct hd_ctx *ctx, struct hd_tpl_set **set)
{
    struct hd_err err = {0};
    if (hd_tpl_set_open(ctx->cfg->templates, set, &err) < 0)
        return cmd_fail(ctx, &err);
    return EXIT_OK;
}

/* ---- list --------------------------------------------------------------- */

static void channels_text(unsigned ch, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int c = 0; c < HD_CH_COUNT; c++)
        if (ch & (1u << c))
            n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? "," : "", hd_channel_name(c));
}

static int list_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const char *const cols[] = {"name",     "channels",    "locales", "variants",
                                       "category", "description", NULL};
    int format, rc;
    if (cli_parse_format("template list", template_usage, 0, "", argc, argv, &format, &rc) < 0)
        return rc;
    struct hd_tpl_set *set;
    struct hd_err err = {0};
    char **names;
    size_t n;
    if ((rc = open_set(ctx, &set)) != EXIT_OK)
        return rc;
    if (hd_tpl_set_names(set, &names, &n, &err) < 0) {
        hd_tpl_set_free(set);
        return cmd_fail(ctx, &err);
    }
    json_t *arr = json_array();
    if (format == FMT_TABLE)
        printf("%-14s %-16s %-14s %-10s %-14s %s\n", "NAME", "CHANNELS", "LOCALES", "VARIANTS",
               "CATEGORY", "DESCRIPTION");
    for (size_t i = 0; i < n; i++) {
        const struct hd_tpl *t;
        struct hd_tpl_info info;
        char chs[64], locs[256] = "", vars[128] = "";
        if (hd_tpl_get(set, names[i], &t, &err) < 0) {
            fprintf(stderr, "herald: %s\n", err.msg);
            rc = EXIT_FAIL;
            continue;
        }
        hd_tpl_get_info(t, &info);
        channels_text(info.channels, chs, sizeof chs);
        json_t *o = json_object(), *jl = json_array(), *jv = json_array();
        for (size_t k = 0; k < info.nlocales; k++) {
            size_t l = strlen(locs);
            snprintf(locs + l, sizeof locs - l, "%s%s", k ? "," : "", info.locales[k]);
            json_array_append_new(jl, json_string(info.locales[k]));
        }
        for (size_t k = 0; k < info.nvariants; k++) {
            size_t l = strlen(vars);
            snprintf(vars + l, sizeof vars - l, "%s%s", k ? "," : "", info.variants[k]);
            json_array_append_new(jv, json_string(info.variants[k]));
        }
        if (format == FMT_TABLE)
            printf("%-14s %-16s %-14s %-10s %-14s %s\n", info.name, chs, locs[0] ? locs : "-",
                   vars[0] ? vars : "-", hd_category_name(info.category), info.description);
        json_object_set_new(o, "name", json_string(info.name));
        json_t *jc = json_array();
        for (int ch = 0; ch < HD_CH_COUNT; ch++)
            if (info.channels & (1u << ch))
                json_array_append_new(jc, json_string(hd_channel_name(ch)));
        json_object_set_new(o, "channels", jc);
        json_object_set_new(o, "locales", jl);
        json_object_set_new(o, "variants", jv);
        json_object_set_new(o, "category", json_string(hd_category_name(info.category)));
        json_object_set_new(o, "description", json_string(info.description));
        json_array_append_new(arr, o);
    }
    if (format != FMT_TABLE)
        cmd_out_all(format, cols, json_incref(arr));
    json_decref(arr);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    hd_tpl_set_free(set);
    return rc;
}

/* ---- lint ------------------------------------------------------------------ */

struct lint_out {
    int errors, warnings;
};

static void print_issue(void *ud, const struct hd_tpl_issue *is)
{
    struct lint_out *lo = ud;
    if (is->error)
        lo->errors++;
    else
        lo->warnings++;
    if (is->where[0])
        printf("%s: %s: %s\n", is->where, is->error ? "error" : "note", is->msg);
    else
        printf("%s\n", is->msg); /* the message carries its position */
}

static int lint_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    struct hd_tpl_set *set;
    struct hd_err err = {0};
    struct lint_out lo = {0};
    int rc, k = cli_operands("template lint", template_usage, argc, argv, CLI_NARGS_ANY, NULL, &rc);
    if (k < 0)
        return rc;
    argc -= k - 1, argv += k - 1; /* the NAMEs from argv[1] */
    if ((rc = open_set(ctx, &set)) != EXIT_OK)
        return rc;
    hd_preview_lint_setup(ctx->cfg, set);
    char **names = NULL;
    size_t n = 0;
    bool all = argc < 2;
    if (all && hd_tpl_set_names(set, &names, &n, &err) < 0) {
        hd_tpl_set_free(set);
        return cmd_fail(ctx, &err);
    }
    for (size_t i = 0; i < (all ? n : (size_t)argc - 1); i++)
        hd_tpl_lint(set, all ? names[i] : argv[i + 1], print_issue, &lo);
    hd_tpl_lint_partials(set, print_issue, &lo);
    size_t checked = all ? n : (size_t)argc - 1;
    char nt[48], ne[48], nn[48];
    printf("%s checked: %s, %s\n",
           hd_units_count((long long)checked, "template", NULL, nt, sizeof nt),
           hd_units_count(lo.errors, "error", NULL, ne, sizeof ne),
           hd_units_count(lo.warnings, "note", NULL, nn, sizeof nn));
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    hd_tpl_set_free(set);
    return lo.errors ? EXIT_FAIL : EXIT_OK;
}

/* ---- preview --------------------------------------------------------------------- */

static json_t *data_from_file(struct hd_ctx *ctx, const char *path, struct hd_err *err)
{
    json_error_t je;
    json_t *d = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!d) {
        hd_err_setpos(err, HD_E_PARSE, path, je.line, je.column, "%s", je.text);
        return NULL;
    }
    if (!json_is_object(d)) {
        hd_err_setpos(err, HD_E_PARSE, path, 1, 1, "the data must be a JSON object");
        json_decref(d);
        return NULL;
    }
    /* the same shape as for a contact: variables below, the data on top */
    json_t *full = hd_tpl_data(NULL, ctx->cfg, NULL, NULL, NULL);
    json_object_update(full, d);
    if (!json_object_get(d, "contact"))
        json_object_set(full, "contact", d);
    json_decref(d);
    return full;
}

struct preview {
    struct hd_preview pv;
    bool json;  /* a record, not the parts as text */
    int format; /* enum cmd_format: how the record prints */
};

static void show_part(void *ud, const char *name, const char *text, const char *extra)
{
    const struct preview *p = ud;
    if (!p->json)
        printf("== %s%s%s\n%s\n\n", name, extra ? "   " : "", extra ? extra : "", text);
}

struct preview_args {
    const char *contact_id, *data_path, *locale, *variant;
    int channel;
    struct preview *pv;
};

static int preview_opt(void *ud, int id, const char *arg)
{
    struct preview_args *a = ud;
    switch (id) {
    case 'c':
        a->contact_id = arg;
        break;
    case 'd':
        a->data_path = arg;
        break;
    case 'C':
        if ((a->channel = hd_channel_parse(arg)) < 0)
            return cmd_usage("template preview", template_usage,
                             "--channel: '%s' is not email, sms, push, inbox or wechat", arg);
        break;
    case 'l':
        a->locale = arg;
        break;
    case 'v':
        a->variant = arg;
        break;
    case 'f':
        if (cmd_format_arg("template preview", arg, FMTS_ALL, &a->pv->format) != 0)
            return EXIT_USAGE;
        a->pv->json = a->pv->format != FMT_TABLE;
        break;
    default: /* 'j' */
        a->pv->json = true;
        a->pv->format = FMT_JSON;
    }
    return 0;
}

/* The data to render with: the stored contact's, or the file's; the
 * request's locale and zone from --locale, else the contact (or the data's
 * "locale" and "timezone"), else the configuration. */
static int preview_data(struct hd_ctx *ctx, const struct preview_args *a, struct hd_contact *k,
                        json_t **out, struct hd_tpl_req *req, struct hd_fmt *fmt,
                        struct hd_err *err)
{
    json_t *data;
    if (a->contact_id) {
        if (cmd_open_store(ctx, err) < 0 ||
            hd_store_contact_get(ctx->store, a->contact_id, k, err) < 0)
            return -1;
        *out = data = hd_preview_data(ctx->cfg, hd_clock_now(&ctx->clock), k);
        hd_tpl_req_init(req, k, ctx->cfg, hd_clock_now(&ctx->clock), data, fmt);
    } else if (!(*out = data = data_from_file(ctx, a->data_path, err))) {
        return -1;
    } else {
        json_t *l = json_object_get(data, "locale"), *z = json_object_get(data, "timezone");
        hd_tpl_req_init(req, NULL, ctx->cfg, hd_clock_now(&ctx->clock), data, fmt);
        if (json_is_string(l))
            req->locale = json_string_value(l);
        if (json_is_string(z))
            req->timezone = json_string_value(z);
    }
    if (a->locale)
        req->locale = a->locale;
    req->variant = a->variant;
    return 0;
}

/* The preview as JSON, or the push sizes and its notes (errors to
 * stderr) after the parts. */
static void preview_end(const struct preview *p, const struct hd_tpl_info *info,
                        const struct hd_tpl_req *req)
{
    const struct hd_preview *pv = &p->pv;
    if (p->json) {
        json_t *o = json_pack("{s:s,s:s,s:s?,s:s,s:O,s:O,s:O}", "template", info->name, "locale",
                              req->locale, "variant", req->variant, "timezone", req->timezone,
                              "parts", pv->parts, "warnings", pv->warnings, "errors", pv->errors);
        if (pv->sms)
            json_object_set(o, "sms", pv->sms);
        if (pv->push)
            json_object_set(o, "push", pv->push);
        cmd_out_one(p->format, NULL, o);
    } else {
        size_t i;
        json_t *w;
        if (pv->push)
            printf("push payload: FCM %lld bytes, APNs %lld bytes (limit %d)\n\n",
                   (long long)json_integer_value(json_object_get(pv->push, "fcm_bytes")),
                   (long long)json_integer_value(json_object_get(pv->push, "apns_bytes")),
                   HD_PUSH_MAX_PAYLOAD);
        json_array_foreach(pv->warnings, i, w) printf("note: %s\n", json_string_value(w));
        json_array_foreach(pv->errors, i, w) fprintf(stderr, "herald: %s\n", json_string_value(w));
    }
}

static int preview_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"contact", true, 'c', 0}, {"data", true, 'd', 0},
                                          {"channel", true, 'C', 0}, {"locale", true, 'l', 0},
                                          {"variant", true, 'v', 0}, {"json", false, 'j', 0},
                                          {"format", true, 'f', 0},  {0}};
    static const struct cli_spec spec = {"template preview", template_usage, opts, 0, NULL, NULL};
    struct preview pv = {0};
    struct preview_args a = {.channel = -1, .pv = &pv};
    int rc, i = cli_parse_n(&spec, 1, "give one template NAME", argc, argv, preview_opt, &a, &rc);
    if (i < 0)
        return rc;
    if (!a.contact_id == !a.data_path)
        return cmd_usage("template preview", template_usage,
                         "give either --contact ID or --data FILE.json");
    struct hd_err err = {0};
    struct hd_tpl_set *set = NULL;
    const struct hd_tpl *t;
    struct hd_contact k = {0};
    struct hd_fmt *fmt = hd_fmt_new();
    struct hd_tpl_req req = {0};
    json_t *data = NULL;
    struct hd_tpl_info info;
    if ((rc = open_set(ctx, &set)) != EXIT_OK)
        goto out;
    if (hd_tpl_get(set, argv[i], &t, &err) < 0 ||
        preview_data(ctx, &a, &k, &data, &req, fmt, &err) < 0) {
        rc = cmd_fail(ctx, &err);
        goto out;
    }
    hd_preview_init(&pv.pv, show_part, &pv);
    hd_tpl_get_info(t, &info);
    if (!pv.json)
        printf("template %s (%s), locale %s%s%s, zone %s%s%s\n\n", info.name,
               hd_category_name(info.category), req.locale, a.variant ? ", variant " : "",
               a.variant ? a.variant : "", req.timezone, a.contact_id ? ", contact " : "",
               a.contact_id ? a.contact_id : "");
    hd_preview_run(&pv.pv, t, a.channel, &req);
    preview_end(&pv, &info, &req);
    rc = json_array_size(pv.pv.errors) ? EXIT_FAIL : EXIT_OK;
out:
    hd_preview_release(&pv.pv);
    json_decref(data);
    hd_fmt_free(fmt);
    hd_contact_release(&k);
    hd_tpl_set_free(set);
    return rc;
}

/* ---- render ------------------------------------------------------------------------ */

struct dir_partials {
    const char *dir;
    char **names;
    struct hd_mst **mst;
    size_t n;
};

static int dir_partial(void *ud, const char *name, const struct hd_mst **out, struct hd_err *err)
{
    struct dir_partials *dp = ud;
    for (size_t i = 0; i < dp->n; i++)
        if (strcmp(dp->names[i], name) == 0) {
            *out = dp->mst[i];
            return 0;
        }
    if (!dp->dir || strchr(name, '/') || strstr(name, ".."))
        return HD_E_NOTFOUND;
    char path[4096];
    struct hd_buf b;
    struct hd_mst *m;
    snprintf(path, sizeof path, "%s/%s.mustache", dp->dir, name);
    hd_buf_init(&b);
    if (hd_buf_read_file(&b, path) < 0) {
        hd_buf_release(&b);
        return HD_E_NOTFOUND;
    }
    struct hd_mst_opts o = {.file = path};
    int rc = hd_mst_compile(b.data, b.len, &o, &m, err);
    hd_buf_release(&b);
    if (rc < 0)
        return rc;
    HD_GROW(dp->names, dp->n);
    HD_GROW(dp->mst, dp->n);
    dp->names[dp->n] = hd_xstrdup(name);
    dp->mst[dp->n++] = m;
    *out = m;
    return 0;
}

struct render_args {
    const char *data_path;
    struct dir_partials *dp;
    struct hd_mst_env *env;
};

static int render_opt(void *ud, int id, const char *arg)
{
    struct render_args *a = ud;
    switch (id) {
    case 'd':
        a->data_path = arg;
        break;
    case 'p':
        a->dp->dir = arg;
        break;
    case 's':
        a->env->strict = true;
        break;
    default: /* 'e' */
        if (strcmp(arg, "html") != 0 && strcmp(arg, "none") != 0)
            return cmd_usage("template render", template_usage,
                             "--escape: '%s' is not html or none", arg);
        a->env->escape_html = strcmp(arg, "html") == 0;
    }
    return 0;
}

/* The template's text, from the file or standard input. */
static int read_source(const char *path, struct hd_buf *src, struct hd_err *err)
{
    if (strcmp(path, "-") == 0) {
        char chunk[8192];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
            hd_buf_add(src, chunk, n);
        return 0;
    }
    if (hd_buf_read_file(src, path) < 0)
        return hd_err_set(err, HD_E_IO, "cannot read '%s': %s", path, strerror(errno));
    return 0;
}

static int render_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"data", true, 'd', 0},
                                          {"partials", true, 'p', 0},
                                          {"strict", false, 's', 0},
                                          {"escape", true, 'e', 0},
                                          {0}};
    static const struct cli_spec spec = {"template render", template_usage, opts, 0, NULL, NULL};
    struct dir_partials dp = {0};
    struct hd_mst_env env = {.escape_html = true,
                             .locale = ctx->cfg->locale,
                             .timezone = ctx->cfg->timezone,
                             .now = hd_clock_now(&ctx->clock)};
    struct render_args a = {NULL, &dp, &env};
    int rc,
        i = cli_parse_n(&spec, 1, "give one template FILE (or -)", argc, argv, render_opt, &a, &rc);
    if (i < 0)
        return rc;
    rc = EXIT_OK;
    if (i + 1 != argc)
        return cmd_usage("template render", template_usage, "give one template FILE (or -)");
    const char *path = argv[i], *data_path = a.data_path;
    struct hd_err err = {0};
    struct hd_buf src, out;
    struct hd_mst *m = NULL;
    json_t *data = NULL;
    hd_buf_init(&src);
    hd_buf_init(&out);
    if (read_source(path, &src, &err) < 0)
        goto fail;
    if (data_path) {
        json_error_t je;
        if (!(data = json_load_file(data_path, 0, &je))) {
            hd_err_setpos(&err, HD_E_PARSE, data_path, je.line, je.column, "%s", je.text);
            goto fail;
        }
    } else {
        data = json_object();
    }
    struct hd_mst_opts o = {.file = strcmp(path, "-") == 0 ? "stdin" : path};
    env.fmt = hd_fmt_new();
    env.partial = dir_partial;
    env.partial_ud = &dp;
    if (hd_mst_compile(src.data, src.len, &o, &m, &err) < 0 ||
        hd_mst_render(m, data, &env, &out, &err) < 0)
        goto fail;
    fwrite(out.data, 1, out.len, stdout);
    goto out;
fail:
    rc = cmd_fail(ctx, &err);
out:
    hd_mst_free(m);
    hd_fmt_free(env.fmt);
    json_decref(data);
    hd_buf_release(&src);
    hd_buf_release(&out);
    for (size_t k = 0; k < dp.n; k++) {
        free(dp.names[k]);
        hd_mst_free(dp.mst[k]);
    }
    free(dp.names);
    free(dp.mst);
    return rc;
}

int cmd_template(struct hd_ctx *ctx, int argc, char **argv)
{
    if (argc < 2)
        return cmd_usage("template", template_usage, "give a subcommand");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || !ctx->cfg)
        return cmd_help(template_usage);
    if (strcmp(sub, "list") == 0)
        return list_cmd(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "lint") == 0)
        return lint_cmd(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "preview") == 0)
        return preview_cmd(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "render") == 0)
        return render_cmd(ctx, argc - 1, argv + 1);
    return cmd_usage("template", template_usage, "unknown subcommand '%s'", sub);
}
