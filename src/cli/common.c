/* common: helpers the commands share: the option parser, error and usage
 * reporting, option values, output formats, and opening the store.
 *
 * The option parser turns a command's table into getopt_long's, so every
 * command accepts options the same way (abbreviations, --name=VALUE,
 * options after operands) and reports a bad one with the same lines. */
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "herald/store.h"

int cmd_fail(struct hd_ctx *ctx, const struct hd_err *err)
{
    (void)ctx;
    fprintf(stderr, "herald: %s\n", err->msg[0] ? err->msg : "failed");
    return err->code == HD_E_USAGE ? EXIT_USAGE : EXIT_FAIL;
}

int cmd_usage(const char *cmd, const char *use, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "herald %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", use);
    return EXIT_USAGE;
}

int cmd_help(const char *use)
{
    fputs(use, stdout);
    return EXIT_OK;
}

enum { MAX_OPTS = 31 };

int cli_parse(const struct cli_spec *spec, int argc, char **argv, cli_opt_cb cb, void *ud, int *rc)
{
    struct option opts[MAX_OPTS + 1];
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
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, spec->shorts ? spec->shorts : "h", opts, NULL)) != -1) {
        if (c == 'h') {
            *rc = cmd_help(spec->usage);
            return -1;
        }
        if (c == '?' || c == ':') {
            *rc = cmd_usage(spec->cmd, spec->usage, "%s", spec->bad ? spec->bad : "bad option");
            return -1;
        }
        if ((*rc = cb(ud, c, optarg)) != 0)
            return -1;
    }
    return optind;
}

int cli_flag(void *ud, int id, const char *arg)
{
    (void)id, (void)arg;
    *(bool *)ud = true;
    return 0;
}

int cmd_parse_format(const char *s, bool allow_table)
{
    if (allow_table && strcmp(s, "table") == 0)
        return FMT_TABLE;
    if (strcmp(s, "csv") == 0)
        return FMT_CSV;
    if (strcmp(s, "json") == 0)
        return FMT_JSON;
    if (strcmp(s, "jsonl") == 0)
        return FMT_JSONL;
    return -1;
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

int cmd_open_store(struct hd_ctx *ctx, struct hd_err *err)
{
    if (ctx->store) /* already open: one command may need it in two places */
        return 0;
    struct hd_store_opts opts = {.busy_timeout_ms = ctx->cfg ? ctx->cfg->busy_timeout * 1000 : 0};
    return hd_store_open(hd_ctx_db_path(ctx), &opts, &ctx->store, err);
}

/* A contact as a JSON object (attributes parsed back into JSON). */
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
    json_object_set_new(o, "created_at", json_string(cmd_time(k->created_at, t, sizeof t)));
    json_object_set_new(o, "updated_at", json_string(cmd_time(k->updated_at, t, sizeof t)));
    json_t *attrs = json_loads(k->attrs ? k->attrs : "{}", 0, NULL);
    json_object_set_new(o, "attributes", attrs ? attrs : json_object());
    if (k->nconsent) {
        json_t *arr = json_array();
        for (size_t i = 0; i < k->nconsent; i++) {
            const struct hd_consent *c = &k->consent[i];
            json_t *e = json_object();
            json_object_set_new(e, "channel", json_string(hd_channel_name(c->channel)));
            json_object_set_new(e, "category", json_string(hd_category_name(c->category)));
            json_object_set_new(
                e, "status",
                json_string(c->status == HD_CONSENT_OPTED_OUT ? "opted_out" : "opted_in"));
            json_object_set_new(e, "source", json_string(c->source));
            json_object_set_new(e, "updated_at", json_string(cmd_time(c->updated_at, t, sizeof t)));
            if (c->message_id) {
                json_object_set_new(e, "message_id", json_integer(c->message_id));
                json_object_set_new(e, "campaign",
                                    c->campaign ? json_string(c->campaign) : json_null());
            }
            json_array_append_new(arr, e);
        }
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
    hd_buf_addc(b, last ? '\n' : ',');
}

void cmd_contacts_begin(struct cmd_contact_out *co, int format)
{
    co->format = format;
    co->n = 0;
    hd_buf_init(&co->line);
    if (format == FMT_CSV)
        puts("id,email,phone,locale,timezone,fcm_token,apns_token,created_at,updated_at,"
             "attributes");
    else if (format == FMT_JSON)
        fputs("[", stdout);
    else if (format == FMT_TABLE)
        printf("%-16s %-30s %-16s %-7s %-20s %s\n", "ID", "EMAIL", "PHONE", "LOCALE", "TIMEZONE",
               "ATTRIBUTES");
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
        const char *cells[] = {k->ext_id,    k->email,      k->phone, k->locale, k->timezone,
                               k->fcm_token, k->apns_token, c,        u,         k->attrs};
        for (size_t i = 0; i < 10; i++)
            csv_cell(&co->line, cells[i], i == 9);
        fputs(co->line.data, stdout);
    } else {
        printf("%-16.16s %-30.30s %-16s %-7s %-20.20s %s\n", k->ext_id, k->email ? k->email : "-",
               k->phone ? k->phone : "-", k->locale ? k->locale : "-",
               k->timezone ? k->timezone : "-", k->attrs);
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
