/* common: helpers the commands share: the option parser, error and usage
 * reporting, option values, output formats, tables, and opening the store.
 *
 * The option parser turns a command's table into getopt_long's, so every
 * command accepts options the same way (abbreviations, --name=VALUE,
 * options after operands) and reports a bad one with the same lines.
 *
 * A table's cells are padded by the columns a terminal gives their text
 * (ICU's East Asian width: a Chinese character takes two, a combining mark
 * none), not by bytes as printf's %-16s does, and a control character in a
 * value (a CRM's ESC or CR) is written as its escape, never sent. */
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "herald/store.h"
#include "herald/valid.h"

int cmd_fail(struct hd_ctx *ctx, const struct hd_err *err)
{
    (void)ctx;
    fprintf(stderr, "herald: %s\n", err->msg[0] ? err->msg : "failed");
    return err->code == HD_E_USAGE ? EXIT_USAGE : EXIT_FAIL;
}

void cmd_audit_note(struct hd_ctx *ctx, const char *what, const char *detail)
{
    const char *who = getenv("USER");
    struct hd_action a = {0,    hd_clock_now(&ctx->clock), who && *who ? who : "cli", what, detail,
                          "cli"};
    struct hd_err err = {0};
    if (hd_store_action_add(ctx->store, &a, &err) < 0)
        fprintf(stderr, "herald: warning: the audit did not record it: %s\n", err.msg);
}

int cmd_usage(const char *cmd, const char *use, const char *fmt, ...)
{
    va_list ap;
    (void)use; /* --help prints it; an error points there in one line */
    fprintf(stderr, "herald %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'herald %s --help'.\n", cmd);
    return EXIT_USAGE;
}

int cmd_help(const char *use)
{
    fputs(use, stdout);
    return EXIT_OK;
}

int cmd_subcommand(const char *cmd, const char *use, const char *const *subs, int argc, char **argv,
                   int *rc)
{
    if (argc < 2) {
        char list[256] = "";
        size_t n = 0;
        while (subs[n])
            n++;
        for (size_t i = 0; i < n; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     i == 0       ? ""
                     : i + 1 == n ? " or "
                                  : ", ",
                     subs[i]);
        *rc = cmd_usage(cmd, use, "give a subcommand: %s", list);
        return -1;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        *rc = cmd_help(use);
        return -1;
    }
    for (int i = 0; subs[i]; i++)
        if (strcmp(argv[1], subs[i]) == 0)
            return i;
    *rc = cmd_usage(cmd, use, "unknown subcommand '%s'", argv[1]);
    return -1;
}

enum { MAX_OPTS = 31 };

/* What main deferred until a command line has parsed: opening the store,
 * or the error of a configuration or a store that did not open
 * (cli_defer_store, cli_defer_error). The one
 * piece of state main hands the parser, so that --help and a bad option
 * never depend on the database or the configuration file. */
static struct {
    struct hd_ctx *ctx;
    bool store, failed;
    struct hd_err err;
} deferred;

void cli_defer_store(struct hd_ctx *ctx)
{
    deferred.ctx = ctx;
    deferred.store = true;
}

void cli_defer_error(struct hd_ctx *ctx, const struct hd_err *err)
{
    if (deferred.failed) /* the first is the one to tell */
        return;
    deferred.ctx = ctx;
    deferred.failed = true;
    deferred.err = *err;
}

int cli_ready(int *rc)
{
    struct hd_ctx *ctx = deferred.ctx;
    struct hd_err err = deferred.err;
    bool store = deferred.store, failed = deferred.failed;
    memset(&deferred, 0, sizeof deferred);
    if (failed || (store && cmd_open_store(ctx, &err) < 0)) {
        *rc = cmd_fail(ctx, &err);
        return -1;
    }
    return 0;
}

/* Whether an abbreviation fits more than one of the command's long options;
 * which: those, "--campaign, --contact". */
static bool ambiguous(const struct cli_spec *spec, const char *abbrev, char *which, size_t size)
{
    size_t len = strlen(abbrev), n = 0, w = 0;
    for (const struct cli_opt *o = spec->opts; o && o->name; o++)
        if ((!spec->mask || !o->in || (o->in & spec->mask)) && strncmp(o->name, abbrev, len) == 0 &&
            w < size)
            w += (size_t)snprintf(which + w, size - w, "%s--%s", n++ ? ", " : "", o->name);
    return n > 1;
}

/* The one line for what getopt refused: the option as given (without a
 * value after '='), and whether it lacked a value or had one it takes not. */
static int bad_option(const struct cli_spec *spec, int c, char **argv)
{
    char name[64];
    const char *given = optind > 0 ? argv[optind - 1] : "";
    if (optopt && optopt < 256 && strncmp(given, "--", 2) != 0)
        snprintf(name, sizeof name, "-%c", optopt);
    else
        snprintf(name, sizeof name, "%.*s", (int)strcspn(given, "="), given);
    if (c == ':')
        return cmd_usage(spec->cmd, NULL, "option '%s' needs a value", name);
    if (optopt && strchr(given, '='))
        return cmd_usage(spec->cmd, NULL, "option '%s' takes no value", name);
    char which[256] = "";
    if (!optopt && strncmp(name, "--", 2) == 0 && ambiguous(spec, name + 2, which, sizeof which))
        return cmd_usage(spec->cmd, NULL, "option '%s' is ambiguous (%s)", name, which);
    return cmd_usage(spec->cmd, NULL, "unknown option '%s'", name);
}

int cli_parse(const struct cli_spec *spec, int argc, char **argv, cli_opt_cb cb, void *ud, int *rc)
{
    return cli_parse_n(spec, CLI_NARGS_ANY, NULL, argc, argv, cb, ud, rc);
}

int cli_parse_n(const struct cli_spec *spec, int nargs, const char *msg, int argc, char **argv,
                cli_opt_cb cb, void *ud, int *rc)
{
    struct option opts[MAX_OPTS + 1];
    char shorts[64];
    size_t n = 0;
    for (const struct cli_opt *o = spec->opts; o && o->name; o++) {
        if (spec->mask && o->in && !(o->in & spec->mask))
            continue;
        if (n == MAX_OPTS - 1)
            HD_BUG("%s: more than %d options", spec->cmd, MAX_OPTS - 1);
        opts[n++] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL, o->id};
    }
    opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    opts[n] = (struct option){0, 0, 0, 0};
    /* ':' first: a missing value is told from an unknown option */
    snprintf(shorts, sizeof shorts, ":%s", spec->shorts ? spec->shorts : "h");
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
        if (c == 'h') {
            *rc = cmd_help(spec->usage);
            return -1;
        }
        if (c == '?' || c == ':') {
            *rc = bad_option(spec, c, argv);
            return -1;
        }
        if ((*rc = cb(ud, c, optarg)) != 0)
            return -1;
    }
    if (nargs == CLI_NARGS_LATER) /* the handler checks its operands, then cli_ready */
        return optind;
    if (nargs >= 0 && argc - optind != nargs) {
        *rc = argc - optind > nargs
                  ? cmd_usage(spec->cmd, NULL, "unexpected argument '%s'", argv[optind + nargs])
                  : cmd_usage(spec->cmd, NULL, "%s", msg);
        return -1;
    }
    return cli_ready(rc) < 0 ? -1 : optind;
}

int cli_operands(const char *cmd, const char *usage, int argc, char **argv, int nargs,
                 const char *msg, int *rc)
{
    static const struct cli_opt none[] = {{0}};
    const struct cli_spec spec = {cmd, usage, none, 0, NULL, NULL};
    return cli_parse_n(&spec, nargs, msg, argc, argv, NULL, NULL, rc);
}

int cli_flag(void *ud, int id, const char *arg)
{
    (void)id, (void)arg;
    *(bool *)ud = true;
    return 0;
}

static const char *const format_names[] = {"table", "csv", "json", "jsonl"};

int cmd_parse_format(const char *s, bool allow_table)
{
    for (int f = allow_table ? FMT_TABLE : FMT_CSV; f <= FMT_JSONL; f++)
        if (strcmp(s, format_names[f]) == 0)
            return f;
    return -1;
}

int cmd_region_opt(const char *cmd, const char *usage, const char *arg, const char **out)
{
    if (!hd_valid_region_known(arg))
        return cmd_usage(cmd, usage,
                         "--default-region: '%s' is not a region herald knows (two letters, e.g. "
                         "CN, US, GB)",
                         arg);
    *out = arg;
    return 0;
}

int cmd_format_arg(const char *cmd, const char *arg, unsigned allowed, int *format)
{
    char names[64] = "";
    size_t len = 0;
    for (int f = FMT_TABLE; f <= FMT_JSONL; f++) {
        if (!(allowed & FMT_BIT(f)))
            continue;
        if (strcmp(arg, format_names[f]) == 0) {
            *format = f;
            return 0;
        }
        len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "",
                                format_names[f]);
    }
    return cmd_usage(cmd, NULL, "--format: '%s' is not one of %s", arg, names);
}

int cli_parse_format(const char *cmd, const char *usage, int nargs, const char *msg, int argc,
                     char **argv, int *format, int *rc)
{
    static const struct cli_opt opts[] = {CMD_FORMAT_OPTS, {0}};
    const struct cli_spec spec = {cmd, usage, opts, 0, NULL, NULL};
    struct cmd_format_args a = {cmd, FMTS_ALL, FMT_TABLE};
    int i = cli_parse_n(&spec, nargs, msg, argc, argv, cmd_format_cb, &a, rc);
    *format = a.format;
    return i;
}

int cmd_format_cb(void *ud, int id, const char *arg)
{
    struct cmd_format_args *a = ud;
    if (id == 'j') { /* --json: the older spelling of --format json */
        a->format = FMT_JSON;
        return 0;
    }
    return cmd_format_arg(a->cmd, arg, a->allowed, &a->format);
}

long long cmd_parse_count(const char *s)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    long long v = strtoll(s, &end, 10);
    return *end ? -1 : v;
}

const char *cmd_time(long long t, char *buf, unsigned size)
{
    hd_time_format_iso(t, buf, size);
    return buf;
}

const char *cmd_run_fired(const struct hd_run *r, char *buf, unsigned size)
{
    char due[32];
    if (r->created_at < r->fire_at + 60)
        return cmd_time(r->fire_at, buf, size);
    hd_time_format_iso(r->created_at, buf, size);
    hd_time_format_iso(r->fire_at, due, sizeof due);
    size_t n = strlen(buf);
    snprintf(buf + n, size - n, " (due %s)", due);
    return buf;
}

const char *cmd_db_password(const struct hd_ctx *ctx, const char *target)
{
    if (!ctx->cfg || !ctx->cfg->database || !target || strcmp(ctx->cfg->database, target) != 0)
        return NULL;
    return ctx->cfg->database_password.value;
}

int cmd_open_store(struct hd_ctx *ctx, struct hd_err *err)
{
    if (ctx->store) /* already open: one command may need it in two places */
        return 0;
    const char *path = hd_ctx_db_path(ctx);
    struct hd_store_opts opts = {.busy_timeout_ms = ctx->cfg ? ctx->cfg->busy_timeout * 1000 : 0,
                                 .password = cmd_db_password(ctx, path)};
    return hd_store_open(path, &opts, &ctx->store, err);
}

/* A contact as a JSON object (attributes parsed back into JSON). */
json_t *cmd_consent_json(const struct hd_consent *c)
{
    char t[32];
    json_t *e = json_object();
    json_object_set_new(e, "channel", json_string(hd_channel_name(c->channel)));
    json_object_set_new(e, "category", json_string(hd_category_name(c->category)));
    json_object_set_new(e, "status",
                        json_string(c->status == HD_CONSENT_OPTED_OUT ? "opted_out" : "opted_in"));
    json_object_set_new(e, "source", json_string(c->source));
    json_object_set_new(e, "updated_at", json_string(cmd_time(c->updated_at, t, sizeof t)));
    if (c->message_id) {
        json_object_set_new(e, "message_id", json_integer(c->message_id));
        json_object_set_new(e, "campaign", c->campaign ? json_string(c->campaign) : json_null());
    }
    return e;
}

void cmd_consent_line(const struct hd_consent *c)
{
    char t[32];
    printf("  %-5s %-14s %-10s by %s at %s", hd_channel_name(c->channel),
           hd_category_name(c->category),
           c->status == HD_CONSENT_OPTED_OUT ? "opted out" : "opted in", c->source,
           cmd_time(c->updated_at, t, sizeof t));
    /* a complaint names the message complained of, not a link of it */
    bool link = strcmp(c->source, "complaint") != 0;
    if (c->message_id)
        printf(" (%smessage %lld, campaign '%s')", link ? "link of " : "", (long long)c->message_id,
               c->campaign ? c->campaign : "?");
    putchar('\n');
}

json_t *cmd_contact_json(const struct hd_contact *k)
{
    char t[32];
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(k->ext_id));
    json_object_set_new(o, "email", k->email ? json_string(k->email) : json_null());
    json_object_set_new(o, "phone", k->phone ? json_string(k->phone) : json_null());
    json_object_set_new(o, "locale", k->locale ? json_string(k->locale) : json_null());
    json_object_set_new(o, "timezone", k->timezone ? json_string(k->timezone) : json_null());
    json_object_set_new(o, "fcm_token", k->fcm_token ? json_string(k->fcm_token) : json_null());
    json_object_set_new(o, "apns_token", k->apns_token ? json_string(k->apns_token) : json_null());
    json_object_set_new(o, "jpush_id", k->jpush_id ? json_string(k->jpush_id) : json_null());
    json_object_set_new(o, "hms_token", k->hms_token ? json_string(k->hms_token) : json_null());
    json_object_set_new(o, "wechat_openid",
                        k->wechat_openid ? json_string(k->wechat_openid) : json_null());
    json_object_set_new(o, "created_at", json_string(cmd_time(k->created_at, t, sizeof t)));
    json_object_set_new(o, "updated_at", json_string(cmd_time(k->updated_at, t, sizeof t)));
    json_t *attrs = json_loads(k->attrs ? k->attrs : "{}", 0, NULL);
    json_object_set_new(o, "attributes", attrs ? attrs : json_object());
    if (k->nconsent) {
        json_t *arr = json_array();
        for (size_t i = 0; i < k->nconsent; i++)
            json_array_append_new(arr, cmd_consent_json(&k->consent[i]));
        json_object_set_new(o, "consent", arr);
    }
    return o;
}

void cmd_print_json(json_t *o, bool pretty)
{
    char *s = json_dumps(o, (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_PRESERVE_ORDER |
                                JSON_REAL_PRECISION(15));
    fputs(s ? s : "null", stdout);
    free(s);
}

static void csv_cell(struct hd_buf *b, const char *s, bool last)
{
    if (s)
        hd_buf_add_csv_field(b, s, strlen(s));
    hd_buf_adds(b, last ? "\r\n" : ",");
}

/* contacts list's table: an id, an email and a zone longer than their
 * columns are cut, the rest push their row right. */
static const struct cmd_col contact_cols[] = {{16, true}, {30, true}, {16, false},
                                              {7, false}, {20, true}, {0, false}};

void cmd_contacts_begin(struct cmd_contact_out *co, int format)
{
    co->format = format;
    co->n = 0;
    hd_buf_init(&co->line);
    if (format == FMT_CSV)
        fputs("id,email,phone,locale,timezone,fcm_token,apns_token,jpush_id,hms_token,"
              "wechat_openid,created_at,updated_at,attributes\r\n",
              stdout);
    else if (format == FMT_JSON)
        fputs("[", stdout);
    else if (format == FMT_TABLE) {
        static const char *const head[] = {"ID",     "EMAIL",    "PHONE",
                                           "LOCALE", "TIMEZONE", "ATTRIBUTES"};
        cmd_row(&co->line, contact_cols, 6, head);
        fputs(co->line.data, stdout);
    }
}

int cmd_contacts_row(void *ud, const struct hd_contact *k)
{
    struct cmd_contact_out *co = ud;
    char c[32], u[32];
    cmd_time(k->created_at, c, sizeof c);
    cmd_time(k->updated_at, u, sizeof u);
    hd_buf_reset(&co->line);
    if (co->format == FMT_JSON || co->format == FMT_JSONL) {
        json_t *o = cmd_contact_json(k);
        if (co->format == FMT_JSON)
            fputs(co->n ? ",\n" : "", stdout);
        cmd_print_json(o, false);
        if (co->format == FMT_JSONL)
            putchar('\n');
        json_decref(o);
    } else if (co->format == FMT_CSV) {
        const char *cells[] = {
            k->ext_id,     k->email,    k->phone,     k->locale,        k->timezone, k->fcm_token,
            k->apns_token, k->jpush_id, k->hms_token, k->wechat_openid, c,           u,
            k->attrs};
        size_t n = sizeof cells / sizeof cells[0];
        for (size_t i = 0; i < n; i++)
            csv_cell(&co->line, cells[i], i == n - 1);
        fputs(co->line.data, stdout);
    } else {
        const char *cells[] = {k->ext_id,
                               k->email ? k->email : "-",
                               k->phone ? k->phone : "-",
                               k->locale ? k->locale : "-",
                               k->timezone ? k->timezone : "-",
                               k->attrs};
        cmd_row(&co->line, contact_cols, 6, cells);
        fputs(co->line.data, stdout);
    }
    co->n++;
    return 0;
}

void cmd_contacts_end(struct cmd_contact_out *co)
{
    if (co->format == FMT_JSON)
        fputs("]\n", stdout);
    hd_buf_release(&co->line);
}

/* ---- tables ---- */

/* The columns a terminal gives c: two for an East Asian wide or fullwidth
 * character (Chinese, Japanese, Korean, most emoji), none for a combining
 * mark, a format character (a zero-width space or joiner; not the soft
 * hyphen, which shows) or a Hangul vowel or final jamo (part of the
 * syllable before), else one. */
static int char_columns(UChar32 c)
{
    int ea = u_getIntPropertyValue(c, UCHAR_EAST_ASIAN_WIDTH);
    if (ea == U_EA_WIDE || ea == U_EA_FULLWIDTH)
        return 2;
    int type = u_charType(c), hst = u_getIntPropertyValue(c, UCHAR_HANGUL_SYLLABLE_TYPE);
    if (type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK ||
        (type == U_FORMAT_CHAR && c != 0xad) || hst == U_HST_VOWEL_JAMO ||
        hst == U_HST_TRAILING_JAMO)
        return 0;
    return 1;
}

int cmd_cell(struct hd_buf *b, const char *s, int width, bool clip)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t n = strlen(s);
    int32_t len = n > INT32_MAX ? INT32_MAX : (int32_t)n, i = 0;
    int used = 0;
    while (i < len) {
        size_t at = b->len;
        int32_t start = i;
        UChar32 c;
        int w;
        U8_NEXT(u, i, len, c);
        if (c < 0) { /* no UTF-8 character: its bytes shown, not sent */
            for (int32_t k = start; k < i; k++)
                hd_buf_addf(b, "\\x%02x", u[k]);
            w = (int)(b->len - at);
        } else if (c < 0x20) { /* as the JSON of list and --format json has it */
            char ch = (char)c;
            hd_buf_add_json_esc(b, &ch, 1);
            w = (int)(b->len - at);
        } else if (c == 0x7f || (c >= 0x80 && c < 0xa0)) { /* DEL, C1 (CSI is 0x9b) */
            hd_buf_addf(b, "\\u%04x", (unsigned)c);
            w = (int)(b->len - at);
        } else {
            hd_buf_add(b, s + start, (size_t)(i - start));
            w = char_columns(c);
        }
        if (clip && used + w > width) { /* cut before the character that would not fit */
            b->len = at;
            b->data[at] = '\0';
            break;
        }
        used += w;
    }
    for (int pad = used; pad < width; pad++)
        hd_buf_addc(b, ' ');
    return used;
}

void cmd_row(struct hd_buf *b, const struct cmd_col *cols, size_t n, const char *const *cells)
{
    size_t end = b->len;
    for (size_t i = 0; i < n; i++) {
        if (i)
            hd_buf_addc(b, ' ');
        size_t at = b->len;
        int used = cmd_cell(b, cells[i] ? cells[i] : "", cols[i].width, cols[i].clip);
        size_t text = b->len - (size_t)(used < cols[i].width ? cols[i].width - used : 0);
        if (text > at)
            end = text;
    }
    b->len = end; /* no blanks after the last cell with text */
    hd_buf_addc(b, '\n');
}

/* ---- records as CSV, JSON or JSON Lines ---- */

static void out_header(struct cmd_out *o, json_t *first)
{
    const char *key;
    json_t *v;
    bool any = false;
    if (o->cols) {
        for (const char *const *c = o->cols; *c; c++)
            csv_cell(&o->line, *c, !c[1]);
    } else {
        json_object_foreach(first, key, v)
        {
            hd_buf_adds(&o->line, any ? "," : "");
            hd_buf_add_csv_field(&o->line, key, strlen(key));
            any = true;
        }
        hd_buf_adds(&o->line, "\r\n"); /* RFC 4180, as log, stats and history write it */
    }
    fputs(o->line.data, stdout);
    hd_buf_reset(&o->line);
}

/* A value as a CSV cell's text. */
static void csv_value(struct hd_buf *b, json_t *v)
{
    char num[40];
    const char *s = NULL;
    char *dump = NULL;
    if (json_is_string(v))
        s = json_string_value(v);
    else if (json_is_integer(v))
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v)), s = num;
    else if (json_is_real(v))
        snprintf(num, sizeof num, "%.15g", json_real_value(v)), s = num;
    else if (json_is_boolean(v))
        s = json_is_true(v) ? "true" : "false";
    else if (v && !json_is_null(v))
        s = dump = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s)
        hd_buf_add_csv_field(b, s, strlen(s));
    free(dump);
}

void cmd_out_begin(struct cmd_out *o, int format, const char *const *cols)
{
    o->format = format;
    o->n = 0;
    o->cols = cols;
    hd_buf_init(&o->line);
    if (format == FMT_CSV && cols)
        out_header(o, NULL);
    else if (format == FMT_JSON)
        fputs("[", stdout);
}

void cmd_out_row(struct cmd_out *o, json_t *row)
{
    if (o->format == FMT_JSON || o->format == FMT_JSONL) {
        fputs(o->format == FMT_JSON && o->n ? ",\n" : "", stdout);
        cmd_print_json(row, false);
        if (o->format == FMT_JSONL)
            putchar('\n');
    } else if (o->format == FMT_CSV) {
        if (!o->cols && o->n == 0)
            out_header(o, row);
        if (o->cols) {
            for (const char *const *c = o->cols; *c; c++) {
                csv_value(&o->line, json_object_get(row, *c));
                hd_buf_adds(&o->line, c[1] ? "," : "\r\n");
            }
        } else {
            const char *key;
            json_t *v;
            bool any = false;
            json_object_foreach(row, key, v)
            {
                hd_buf_adds(&o->line, any ? "," : "");
                csv_value(&o->line, v);
                any = true;
            }
            hd_buf_adds(&o->line, "\r\n");
        }
        fputs(o->line.data, stdout);
        hd_buf_reset(&o->line);
    }
    o->n++;
    json_decref(row);
}

void cmd_out_end(struct cmd_out *o)
{
    if (o->format == FMT_JSON)
        fputs("]\n", stdout);
    hd_buf_release(&o->line);
    fflush(stdout);
}

void cmd_out_one(int format, const char *const *cols, json_t *obj)
{
    if (format == FMT_JSON) {
        cmd_print_json(obj, true);
        putchar('\n');
        json_decref(obj);
        return;
    }
    struct cmd_out o;
    cmd_out_begin(&o, format, cols);
    cmd_out_row(&o, obj);
    cmd_out_end(&o);
}

void cmd_out_all(int format, const char *const *cols, json_t *arr)
{
    struct cmd_out o;
    size_t i;
    json_t *v;
    cmd_out_begin(&o, format, cols);
    json_array_foreach(arr, i, v) cmd_out_row(&o, json_incref(v));
    cmd_out_end(&o);
    json_decref(arr);
}
