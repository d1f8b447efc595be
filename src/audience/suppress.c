/* suppress: address normal forms for the suppression list, and bulk
 * suppression lists from CSV. An import reads the file once, through the
 * transcoder and the streaming CSV reader, inside one transaction: rows go
 * to the store until the first bad one, after which the rest are only
 * checked (so every bad row is listed) and the transaction is rolled back. */
#include "herald/suppress.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "herald/config.h"
#include "herald/csv.h"
#include "herald/progress.h"
#include "herald/transcode.h"

static int looks_like_phone(const char *s)
{
    if (*s == '+')
        s++;
    if (!isdigit((unsigned char)*s))
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s) && !strchr(" -.()/", *s))
            return 0;
    return 1;
}

int hd_suppress_address(struct hd_valid *v, const char *address, int channel, const char *region,
                        int *channel_out, char *out, size_t size)
{
    if (channel < 0)
        channel = strchr(address, '@')        ? HD_CH_EMAIL
                  : looks_like_phone(address) ? HD_CH_SMS
                                              : HD_CH_PUSH;
    *channel_out = channel;
    if (channel == HD_CH_EMAIL) {
        if (hd_valid_email(v, address, out, size) < 0)
            return -1;
        for (char *p = out; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        return 0;
    }
    if (channel == HD_CH_SMS)
        return hd_valid_phone(v, address, region, out, size);
    size_t n = strlen(address);
    if (n == 0 || n > 4096 || n + 1 > size) {
        snprintf(out, size, "not a push token");
        return -1;
    }
    int hex = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)address[i];
        if (!isalnum(c) && !strchr("-_:.", c)) {
            snprintf(out, size, "not an address, phone number or push token");
            return -1;
        }
        hex &= isxdigit(c) != 0;
    }
    for (size_t i = 0; i <= n; i++)
        out[i] = hex ? (char)tolower((unsigned char)address[i]) : address[i];
    return 0;
}

const char *hd_suppress_why(struct hd_valid *v, const char *address, int channel,
                            const char *region, const char *region_hint, int *channel_out,
                            char *out, size_t size, char *why, size_t wsize)
{
    int rc = hd_suppress_address(v, address, channel, region, channel_out, out, size);
    if (rc == 0)
        return NULL;
    bool hint = rc == HD_VALID_NO_REGION && region_hint;
    snprintf(why, wsize, "'%.60s' is not a valid %s address: %s%s%s%s", address,
             hd_channel_name(*channel_out), out, hint ? " (set " : "", hint ? region_hint : "",
             hint ? ")" : "");
    return why;
}

int hd_suppress_reason_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_' && *s != '-')
            return 0;
    return 1;
}

/* ---- bulk import ------------------------------------------------------------ */

enum { COL_ADDRESS, COL_CHANNEL, COL_REASON, NCOLS };

struct simp {
    const struct hd_suppress_import_opts *o;
    const char *name;
    struct hd_valid *v;
    ptrdiff_t col[NCOLS]; /* the header's index of each, or -1 */
    size_t ncols;
    bool writing; /* no bad row yet: rows still go to the store */
    unsigned listed;
    struct hd_suppress_import_result *res;
};

static int sup_header(struct simp *si, const struct hd_csv_record *rec, struct hd_err *err)
{
    static const char *const names[NCOLS] = {"address", "channel", "reason"};
    for (int c = 0; c < NCOLS; c++)
        si->col[c] = -1;
    si->ncols = rec->nfields;
    for (size_t i = 0; i < rec->nfields; i++) {
        char h[16];
        const char *f = rec->fields[i] + strspn(rec->fields[i], " \t");
        size_t n = strcspn(f, " \t");
        int c = 0;
        snprintf(h, sizeof h, "%.*s", (int)n, f);
        for (; c < NCOLS && strcasecmp(h, names[c]) != 0; c++)
            ;
        if (c == NCOLS || f[n + strspn(f + n, " \t")] != '\0')
            return hd_err_setpos(err, HD_E_PARSE, si->name, (int)rec->line, 0,
                                 "column '%s' is not address, channel or reason", rec->fields[i]);
        if (si->col[c] >= 0)
            return hd_err_setpos(err, HD_E_PARSE, si->name, (int)rec->line, 0,
                                 "column '%s' appears twice in the header", names[c]);
        si->col[c] = (ptrdiff_t)i;
    }
    if (si->col[COL_ADDRESS] < 0)
        return hd_err_setpos(err, HD_E_PARSE, si->name, (int)rec->line, 0,
                             "the header has no 'address' column (address,channel,reason)");
    return 0;
}

static const char *cell(const struct simp *si, const struct hd_csv_record *rec, int c)
{
    const char *s = si->col[c] < 0 ? "" : rec->fields[si->col[c]];
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Checks one row into s (norm holds its address); NULL, or the reason in why. */
static const char *sup_check(struct simp *si, const struct hd_csv_record *rec,
                             struct hd_suppression *s, char *norm, size_t size, char *why,
                             size_t wsize)
{
    const char *addr = cell(si, rec, COL_ADDRESS), *ch = cell(si, rec, COL_CHANNEL);
    s->reason = *cell(si, rec, COL_REASON) ? cell(si, rec, COL_REASON) : si->o->reason;
    s->channel = -1;
    if (rec->nfields != si->ncols)
        snprintf(why, wsize, "expected %zu fields as in the header, found %zu", si->ncols,
                 rec->nfields);
    else if (!*addr)
        snprintf(why, wsize, "field 'address' is empty");
    else if (*ch && ((s->channel = hd_channel_parse(ch)) < 0 || s->channel == HD_CH_INBOX))
        snprintf(why, wsize, "field 'channel': '%.60s' is not email, sms, push or wechat", ch);
    else if (!hd_suppress_reason_valid(s->reason))
        snprintf(why, wsize, "field 'reason': '%.60s' should be a word of a-z, 0-9, '_' or '-'",
                 s->reason);
    else
        return hd_suppress_why(si->v, addr, s->channel, si->o->default_region, si->o->region_hint,
                               &s->channel, norm, size, why, wsize);
    return why;
}

static int sup_row(struct simp *si, struct hd_store *st, const struct hd_csv_record *rec,
                   int64_t now, struct hd_err *err)
{
    struct hd_suppression s = {.created_at = now};
    char norm[4200], why[4400];
    unsigned max = si->o->max_errors ? si->o->max_errors : 20;
    si->res->rows++;
    s.address = norm;
    if (sup_check(si, rec, &s, norm, sizeof norm, why, sizeof why)) {
        if (si->listed++ < max)
            fprintf(si->o->msgs, "%s:%ld: %s\n", si->name, rec->line, why);
        si->res->rejected++;
        si->writing = false;
        return 0;
    }
    if (!si->writing)
        return 0;
    int rc = hd_store_suppress_add(st, &s, err);
    si->res->suppressed += rc == 0;
    return rc;
}

static int sup_rows(struct simp *si, struct hd_store *st, FILE *f, int64_t now, struct hd_err *err)
{
    struct hd_csv *csv = hd_csv_new(f, si->name);
    struct hd_csv_record rec;
    int rc = hd_csv_next(csv, &rec, err);
    if (rc == 0)
        rc = hd_err_setpos(err, HD_E_PARSE, si->name, 1, 0,
                           "the file is empty (it needs a header: address,channel,reason)");
    if (rc > 0)
        rc = sup_header(si, &rec, err);
    /* rows, and the bytes read toward the file's size for the ETA */
    struct stat sb;
    struct hd_progress p;
    hd_progress_init(&p, si->o->progress, stderr, "rows",
                     fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0);
    while (rc >= 0 && (rc = hd_csv_next(csv, &rec, err)) == 1) {
        rc = sup_row(si, st, &rec, now, err);
        hd_progress_update(&p, (uint64_t)si->res->rows, hd_csv_offset(csv));
    }
    hd_progress_finish(&p);
    hd_csv_free(csv);
    return rc;
}

int hd_suppress_import(struct hd_store *st, const struct hd_suppress_import_opts *o, int64_t now,
                       struct hd_suppress_import_result *res, struct hd_err *err)
{
    bool from_stdin = strcmp(o->path, "-") == 0;
    struct simp si = {.o = o, .name = from_stdin ? "stdin" : o->path, .res = res, .writing = true};
    FILE *raw = from_stdin ? stdin : fopen(o->path, "rb"), *f = NULL;
    bool began = false;
    int rc;
    memset(res, 0, sizeof *res);
    if (!raw) {
        rc = hd_err_set(err, HD_E_IO, "cannot open '%s': %s", o->path, strerror(errno));
        goto out;
    }
    if ((rc = hd_transcode_open(raw, si.name, o->encoding, o->encoding_hint, &f, err)) < 0 ||
        (rc = hd_store_begin(st, err)) < 0)
        goto out;
    began = true;
    si.v = hd_valid_new();
    if ((rc = sup_rows(&si, st, f, now, err)) < 0)
        goto out;
    unsigned max = o->max_errors ? o->max_errors : 20;
    if (si.listed > max)
        fprintf(o->msgs, "%s: ... and %u more invalid rows\n", si.name, si.listed - max);
    if (res->rejected) {
        res->suppressed = 0;
        rc = hd_err_set(err, HD_E_INVALID,
                        "%s: %lld of %lld rows are invalid; nothing was written (fix them and "
                        "import the file again)",
                        si.name, (long long)res->rejected, (long long)res->rows);
        goto out;
    }
    began = false;
    rc = hd_store_commit(st, err);
out:
    if (began)
        hd_store_rollback(st);
    if (rc < 0)
        res->suppressed = 0;
    hd_valid_free(si.v);
    if (f && f != raw)
        fclose(f);
    if (raw && !from_stdin)
        fclose(raw);
    return rc;
}
