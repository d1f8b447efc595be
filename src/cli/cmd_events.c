/* cmd_events: herald events import, the events herald stats --goal counts
 * and behaviour segments read, from CSV or JSON Lines, all or nothing. The import itself
 * is hd_events_import (audit/events.c); this file picks the format and
 * prints the counts. */
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "herald/audit.h"
#include "herald/store.h"
#include "herald/transcode.h"
#include "herald/units.h"

static const char events_usage[] =
    "usage: herald events import FILE|- [--format csv|jsonl] [--encoding ENC]\n"
    "\n"
    "Loads events for herald stats --goal and behaviour segments (did, sum, last):\n"
    "one per row, with the contact's external id, the event's name, its time, an\n"
    "optional value and properties. CSV needs a header naming the columns contact,\n"
    "event, time and value (also accepted: contact_id/id, name, at/timestamp);\n"
    "JSON Lines takes objects with those keys. Times are ISO 8601 or Unix seconds.\n"
    "Properties: a 'properties' column or key holding a JSON object, or else the\n"
    "other columns or keys (in CSV a cell that reads as a number is a number).\n"
    "The format follows the file's extension (.jsonl, .ndjson) unless --format says.\n"
    "The file is UTF-8 unless --encoding names another (gbk, big5, shift_jis,\n"
    "latin1, ...); a file that is not is refused whole, with the line and a guess.\n"
    "\n"
    "All or nothing: a bad row stops the import with its line and nothing is\n"
    "written. Events of unknown contacts are skipped and counted; an event already\n"
    "there (same contact, name, time and value) is not added twice.\n";

struct events_args {
    int format;
    const char *encoding;
};

static int events_opt(void *ud, int id, const char *arg)
{
    struct events_args *a = ud;
    if (id == 'e') {
        a->encoding = arg;
        return 0;
    }
    a->format = cmd_parse_format(arg, false);
    if (a->format != FMT_CSV && a->format != FMT_JSONL)
        return cmd_usage("events import", events_usage, "--format: '%s' is not csv or jsonl", arg);
    return 0;
}

int cmd_events(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"format", true, 'f', 0}, {"encoding", true, 'e', 0}, {0}};
    static const struct cli_spec spec = {"events import", events_usage, opts, 0, NULL, NULL};
    struct events_args a = {.format = -1};
    int rc, i;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return cmd_help(events_usage);
    if (argc < 2 || strcmp(argv[1], "import") != 0)
        return cmd_usage("events", events_usage, "the subcommand is import");
    argc--, argv++;
    if ((i = cli_parse_n(&spec, 1, "one FILE (or -) is needed", argc, argv, events_opt, &a, &rc)) <
        0)
        return rc;
    int format = a.format;
    if (i + 1 != argc)
        return cmd_usage("events import", events_usage, "one FILE (or -) is needed");
    if (!ctx->store)
        return cmd_help(events_usage);
    const char *path = argv[i];
    size_t len = strlen(path);
    if (format < 0)
        format = (len > 6 && strcmp(path + len - 6, ".jsonl") == 0) ||
                         (len > 7 && strcmp(path + len - 7, ".ndjson") == 0)
                     ? FMT_JSONL
                     : FMT_CSV;
    bool in = strcmp(path, "-") == 0;
    const char *name = in ? "stdin" : path;
    struct hd_err err = {0};
    FILE *f = in ? stdin : fopen(path, "rb");
    if (!f) {
        hd_err_set(&err, HD_E_IO, "cannot open '%s': %s", path, strerror(errno));
        return cmd_fail(ctx, &err);
    }
    /* as UTF-8, checked whole before a row is read: bytes that are not
     * were stored as they came, and a property holding them was dropped
     * (a review) */
    FILE *text = NULL;
    struct hd_events_result im;
    rc = hd_transcode_open(f, name, a.encoding, "--encoding", &text, &err);
    if (rc == 0)
        rc =
            hd_events_import(ctx->store, text, name, format == FMT_JSONL, ctx->progress, &im, &err);
    if (text && text != f)
        fclose(text);
    if (!in)
        fclose(f);
    if (rc < 0)
        return cmd_fail(ctx, &err);
    char n[48];
    printf("imported %s from %s (%lld already there",
           hd_units_count(im.added, "event", NULL, n, sizeof n), name, (long long)im.duplicate);
    if (im.unknown)
        printf("; %lld of unknown contacts skipped, the first '%s'", (long long)im.unknown,
               im.first_unknown);
    printf(")\n");
    return EXIT_OK;
}
