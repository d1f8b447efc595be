/* logrow: one row of the delivery log as the commands and the API show
 * it (issue 20: one function feeds herald log, history and why, and GET
 * /api/v1/messages/ID and /api/v1/contacts/ID/history): its cells in a
 * fixed column order (CSV), and as a JSON object whose numbers are numbers
 * and whose absent values are left out. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/audit.h"
#include "herald/buf.h"
#include "herald/state.h"
#include "herald/time.h"

const char *const hd_audit_log_cols[HD_AUDIT_LOG_NCOLS] = {
    "id",      "at",      "campaign",   "run",        "contact",  "message", "variant",
    "attempt", "channel", "provider",   "address",    "outcome",  "reason",  "state",
    "code",    "text",    "gateway_id", "latency_ms", "segments", "cost",    "detail",
};

/* "2026-11-22T09:00:00.123Z" */
void hd_audit_time_ms(int64_t ms, char *buf, size_t size)
{
    char t[32];
    hd_time_format_iso(ms / 1000, t, sizeof t);
    snprintf(buf, size, "%.19s.%03dZ", t, (int)(ms % 1000));
}

void hd_audit_log_cells(const struct hd_log_row *r, struct hd_audit_log_cells *c)
{
    char(*num)[32] = c->num;
    hd_audit_time_ms(r->at_ms, c->at, sizeof c->at);
    snprintf(num[0], sizeof num[0], "%lld", (long long)r->id);
    snprintf(num[1], sizeof num[1], "%lld", (long long)r->run_seq);
    snprintf(num[2], sizeof num[2], "%lld", (long long)r->message);
    snprintf(num[3], sizeof num[3], "%d", r->attempt);
    num[4][0] = '\0';
    if (r->code)
        snprintf(num[4], sizeof num[4], "%d", r->code);
    num[5][0] = num[6][0] = num[7][0] = '\0';
    if (r->done_ms && r->provider && strcmp(r->outcome, "skipped") != 0 &&
        strcmp(r->outcome, "receipt") != 0) /* a receipt took no request */
        snprintf(num[5], sizeof num[5], "%lld", (long long)(r->done_ms - r->at_ms));
    if (r->segments > 0) {
        snprintf(num[6], sizeof num[6], "%d", r->segments);
        snprintf(num[7], sizeof num[7], "%.6g", r->cost);
    }
    const char *cells[HD_AUDIT_LOG_NCOLS] = {num[0],        c->at,
                                             r->campaign,   num[1],
                                             r->contact,    num[2],
                                             r->variant,    num[3],
                                             r->channel,    r->provider,
                                             r->address,    r->outcome,
                                             r->reason,     hd_state_name(r->state),
                                             num[4],        r->text,
                                             r->gateway_id, num[5],
                                             num[6],        num[7],
                                             r->detail};
    memcpy(c->cell, cells, sizeof cells);
}

void hd_audit_log_csv_header(struct hd_buf *b)
{
    for (size_t i = 0; i < HD_AUDIT_LOG_NCOLS; i++)
        hd_buf_addf(b, "%s%s", hd_audit_log_cols[i], i + 1 < HD_AUDIT_LOG_NCOLS ? "," : "\r\n");
}

/* Whether a spreadsheet would take v as a formula: its first character
 * is = + - @, a tab or a CR, and it is neither a number nor "-". */
static bool formula_like(const char *v)
{
    char *end;
    if (!strchr("=+-@\t\r", v[0]) || !v[0] || strcmp(v, "-") == 0)
        return false;
    (void)strtod(v, &end);
    return *end != '\0';
}

void hd_audit_log_csv_row(struct hd_buf *b, const struct hd_audit_log_cells *c, bool sheet)
{
    for (size_t i = 0; i < HD_AUDIT_LOG_NCOLS; i++) {
        const char *v = c->cell[i] ? c->cell[i] : "";
        if (sheet && formula_like(v)) { /* kept as text: a quote first (OWASP's advice) */
            struct hd_buf t;
            hd_buf_init(&t);
            hd_buf_addc(&t, '\'');
            hd_buf_adds(&t, v);
            hd_buf_add_csv_field(b, t.data, t.len);
            hd_buf_release(&t);
        } else {
            hd_buf_add_csv_field(b, v, strlen(v));
        }
        hd_buf_adds(b, i + 1 < HD_AUDIT_LOG_NCOLS ? "," : "\r\n");
    }
}

/* The row as a JSON object's text: numbers as numbers, absent values left
 * out, the detail (JSON already) as it is. */
void hd_audit_log_object(struct hd_buf *b, const struct hd_audit_log_cells *c)
{
    static const bool numeric[HD_AUDIT_LOG_NCOLS] = {
        [0] = true,  [3] = true,  [5] = true,  [7] = true,
        [14] = true, [17] = true, [18] = true, [19] = true};
    hd_buf_addc(b, '{');
    bool first = true;
    for (size_t i = 0; i < HD_AUDIT_LOG_NCOLS; i++) {
        const char *v = c->cell[i];
        if (!v || !*v)
            continue;
        hd_buf_addf(b, "%s\"%s\":", first ? "" : ",", hd_audit_log_cols[i]);
        first = false;
        if (numeric[i] || i == HD_AUDIT_LOG_NCOLS - 1)
            hd_buf_adds(b, v);
        else
            hd_buf_add_json_str(b, v, strlen(v));
    }
    hd_buf_addc(b, '}');
}

json_t *hd_audit_log_json(const struct hd_log_row *r)
{
    struct hd_audit_log_cells c;
    struct hd_buf b;
    hd_buf_init(&b);
    hd_audit_log_cells(r, &c);
    hd_audit_log_object(&b, &c);
    json_t *o = json_loadb(b.data, b.len, 0, NULL);
    hd_buf_release(&b);
    return o ? o : json_object();
}
