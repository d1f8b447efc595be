/* receipt: a gateway's report on a message, applied (issue 19).
 *
 * A report's message (the callback URL names it: m=N, which the driver
 * put there) is looked up first with its accepted row in the delivery log,
 * which must carry the gateway's id (one statement, hd_store_receipt_target),
 * then the report is kept (store/receipts.c, once per provider, gateway id
 * and status): already marked applied when its message was found, so that
 * its row is written once, and applied only if that insert added it (a copy
 * sent again adds nothing). Not found, it stays pending and
 * hd_receipts_retry applies it when the message appears. Its meaning comes
 * from the provider's type and is computed again whenever it is applied,
 * so a pending report needs nothing but what the gateway said: meaning()
 * gives the state it moves to (or none: queued, sent), the log's reason
 * word, and whether the address is at fault. Applying is one transaction:
 * the state moves through hd_state_move (an illegal move, a report out of
 * order, is logged as ignored and the state kept), a log row with outcome
 * "receipt" is written, and the address is suppressed (a bad number, a
 * hard bounce, a complaint; soft bounces once soft_bounce_limit of them
 * came within soft_bounce_window) with the reason and the message; a
 * complaint also opts the contact out of marketing on the channel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "herald/buf.h"
#include "herald/dispatch.h"
#include "herald/valid.h"

/* What a report means for its message and address. */
struct meaning {
    int to;               /* the state it moves to, or -1 (a step on the way) */
    const char *word;     /* the log's reason word */
    const char *suppress; /* the suppression's reason, or NULL */
    bool soft;            /* a soft bounce: suppresses only past the limit */
    bool complaint;
    bool optout;       /* the recipient unsubscribed through the sender's link */
    const char *about; /* the code in words, or NULL */
};

/* A code's meaning: bad says the address is at fault. */
struct code {
    const char *code, *about;
    bool bad;
};

/* Twilio's error codes of an undelivered SMS: 30003, 30005 and 30006 say
 * the number is unreachable, unknown or a landline (the address's fault);
 * 30007 is the carrier's filter, and the rest are not the number's fault. */
static const struct code twilio_codes[] = {
    {"30001", "queue overflow", false},
    {"30002", "account suspended", false},
    {"30003", "unreachable destination handset", true},
    {"30004", "message blocked", false},
    {"30005", "unknown destination handset", true},
    {"30006", "landline or unreachable carrier", true},
    {"30007", "message filtered by the carrier", false},
    {"30008", "unknown error", false},
    {"30009", "missing segment", false},
    {"30010", "message price exceeds max price", false},
    {NULL, NULL, false},
};

/* The carriers' report codes that Aliyun's err_code and Tencent's errmsg
 * pass on (China Mobile's CMPP words, shared by the other carriers'
 * gateways): a number that does not exist or is wrong is the address's
 * fault; a handset off, a line suspended or a filter is not. */
static const struct code cn_codes[] = {
    {"MN:0001", "number does not exist", true},
    {"DB:0101", "wrong number", true},
    {"CB:0001", "invalid number", true},
    {"CB:0053", "subscriber does not exist", true},
    {"isv.MOBILE_NUMBER_ILLEGAL", "invalid number", true},
    {"DB:0102", "line suspended", false},
    {"EXPIRED", "handset off or out of coverage", false},
    {"REJECTD", "rejected by the carrier", false},
    {"UNDELIV", "not deliverable now", false},
    {NULL, NULL, false},
};

/* An SMS gateway's report: delivered (Tencent's SUCCESS), undelivered
 * (failed, Tencent's FAIL), the code looked up in codes. */
static void sms_meaning(const char *status, const char *code, const struct code *codes,
                        struct meaning *m)
{
    if (strcmp(status, "delivered") == 0 || strcmp(status, "SUCCESS") == 0) {
        m->to = HD_ST_DELIVERED;
        m->word = "delivered";
    } else if (strcmp(status, "undelivered") == 0 || strcmp(status, "failed") == 0 ||
               strcmp(status, "FAIL") == 0) {
        m->to = HD_ST_UNDELIVERED;
        m->word = "undelivered";
    }
    for (const struct code *k = codes; code && k->code; k++)
        if (strcmp(code, k->code) == 0) {
            m->about = k->about;
            if (k->bad && m->to == HD_ST_UNDELIVERED)
                m->suppress = "invalid_number";
        }
}

/* Other providers report in herald's own words: delivered, undelivered,
 * bounced (classed by the bounce rules from the code and the reason:
 * hard, soft, or none, which is not the address's fault), complained. */
static void plain_meaning(const struct hd_bounce_rules *rules, const struct hd_receipt *r,
                          struct meaning *m)
{
    const char *status = r->status;
    if (strcmp(status, "delivered") == 0) {
        m->to = HD_ST_DELIVERED;
        m->word = "delivered";
    } else if (strcmp(status, "undelivered") == 0) {
        m->to = HD_ST_UNDELIVERED;
        m->word = "undelivered";
    } else if (strcmp(status, "bounced") == 0) {
        struct hd_bounce b;
        bool dotted = r->code && strchr(r->code, '.');
        hd_bounce_classify(rules, dotted ? r->code : NULL, dotted || !r->code ? 0 : atoi(r->code),
                           r->reason, &b);
        m->to = HD_ST_BOUNCED;
        /* none (not the address's fault) has a word of its own: soft
         * bounces are counted by theirs */
        m->word = b.severity == HD_BOUNCE_HARD   ? "bounced_hard"
                  : b.severity == HD_BOUNCE_SOFT ? "bounced_soft"
                                                 : "bounced_other";
        m->suppress = b.severity == HD_BOUNCE_NONE   ? NULL
                      : b.severity == HD_BOUNCE_HARD ? "hard_bounce"
                                                     : "soft_bounce";
        m->soft = b.severity == HD_BOUNCE_SOFT;
        m->about = hd_bounce_class_name(b.cls);
    } else if (strcmp(status, "complained") == 0) {
        m->to = HD_ST_COMPLAINED;
        m->word = "complained";
        m->suppress = "complaint";
        m->complaint = true;
    } else if (strcmp(status, "unsubscribed") == 0) {
        m->optout = true; /* "opened" and the rest: a log row, the state kept */
    }
}

/* An http gateway's word, through its receipt_status_map: herald's
 * outcomes; failed and invalid are undelivered, invalid the number's
 * fault; a word the map does not know is logged, the state kept. */
static void http_meaning(const struct hd_receipt_ctx *c, const struct hd_provider_cfg *p,
                         const struct hd_receipt *r, struct meaning *m)
{
    int o = hd_http_receipt_outcome(p->receipt, r->status);
    struct hd_receipt k = *r;
    if (o < 0 || o == HD_HTTP_SENT)
        return;
    k.status =
        o == HD_HTTP_FAILED || o == HD_HTTP_INVALID ? "undelivered" : hd_http_outcome_name(o);
    plain_meaning(c->cfg->receipts.bounce_rules, &k, m);
    if (o == HD_HTTP_INVALID) {
        m->suppress = "invalid_number";
        m->about = "invalid number";
    } else if (o == HD_HTTP_FAILED) {
        m->about = "failed at the gateway";
    }
}

static void meaning(const struct hd_receipt_ctx *c, const struct hd_receipt *r, struct meaning *m)
{
    const struct hd_provider_cfg *p = hd_config_provider(c->cfg, r->provider);
    memset(m, 0, sizeof *m);
    m->to = -1;
    m->word = r->status;
    if (p && p->receipt)
        http_meaning(c, p, r, m);
    else if (p && strcmp(p->type, "twilio") == 0)
        sms_meaning(r->status, r->code, twilio_codes, m);
    else if (p && (strcmp(p->type, "aliyun_sms") == 0 || strcmp(p->type, "tencent_sms") == 0))
        sms_meaning(r->status, r->code, cn_codes, m);
    else
        plain_meaning(c->cfg->receipts.bounce_rules, r, m);
}

/* Whether this report puts the address on the suppression list now: at
 * once, or for a soft bounce when it is the limit's. */
static int at_fault(const struct hd_receipt_ctx *c, const struct meaning *m,
                    const struct hd_receipt_found *t, int64_t now_ms, bool *yes, struct hd_err *err)
{
    *yes = m->suppress != NULL;
    if (!m->soft || !*yes)
        return 0;
    int64_t n = 0, window = c->soft_bounce_window > 0 ? c->soft_bounce_window : 30 * 86400;
    int limit = c->soft_bounce_limit > 0 ? c->soft_bounce_limit : 3;
    int rc = hd_store_receipt_count(c->st, t->contact, m->word, now_ms - window * 1000, &n, err);
    *yes = rc == 0 && n + 1 >= limit;
    return rc;
}

/* The contact's marketing opt-out on the channel: a complaint's, or an
 * unsubscribe the sender took. */
static int opt_out(const struct hd_receipt_ctx *c, const struct hd_receipt_found *t,
                   const char *source, int64_t now_ms, struct hd_err *err)
{
    bool changed;
    struct hd_link_change k = {t->contact,           t->message, t->channel,   HD_CAT_MARKETING,
                               HD_CONSENT_OPTED_OUT, source,     now_ms / 1000};
    return t->contact > 0 ? hd_store_link_consent(c->st, &k, &changed, err) : 0;
}

/* The suppression, and a complaint's opt-out. */
static int suppress(const struct hd_receipt_ctx *c, const struct meaning *m,
                    const struct hd_receipt_found *t, const char *detail, int64_t now_ms,
                    struct hd_err *err)
{
    char norm[4200];
    struct hd_suppression s = {.address =
                                   hd_feedback_form(t->address, t->channel, norm, sizeof norm),
                               .channel = t->channel,
                               .reason = m->soft ? "soft_bounce" : m->suppress,
                               .created_at = now_ms / 1000,
                               .detail = detail,
                               .message = t->message};
    int rc = hd_store_suppress_add(c->st, &s, err);
    if (rc == 0 && m->complaint)
        rc = opt_out(c, t, "complaint", now_ms, err);
    return rc;
}

/* The move, checked: *to is where the message is after the report. */
static int move_state(const struct hd_receipt_ctx *c, const struct meaning *m,
                      const struct hd_receipt_found *t, int64_t now_ms, int *to, char *note,
                      size_t size, struct hd_err *err)
{
    int cur = t->state, rc;
    *to = cur;
    if (m->to < 0)
        return 0;
    struct hd_err why = {0};
    int st = cur;
    if (hd_state_move(&st, m->to, &why) < 0) {
        snprintf(note, size, " (ignored: %.200s)", why.msg);
        return 0;
    }
    if ((rc = hd_store_msg_receipt(c->st, t->message, cur, st, now_ms / 1000, err)) < 0)
        return rc;
    *to = st;
    return 0;
}

/* A code of digits only (Twilio's 30005) is the log row's code; an
 * enhanced status code (5.1.1) stays in its text. */
static bool numeric(const char *code)
{
    return code && *code && strspn(code, "0123456789") == strlen(code) && strlen(code) < 10;
}

/* Printable ASCII (or NULL): what both write alike. */
static bool printable(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

/* The log row's detail, what jansson's compact dump of {gateway_status,
 * code (when given), received_at_ms} gives; written directly when the
 * gateway's words are printable ASCII (a service applies a receipt per callback,
 * and packing and dumping a jansson object cost 4% of it; the time's
 * digits are written by hand, hd_buf_addf's "%lld" cost 1,100
 * instructions), else by jansson, which refuses what is not UTF-8. The
 * caller frees it. */
static char *detail_json(const struct hd_receipt *r)
{
    if (!printable(r->status) || !printable(r->code)) {
        json_t *d = json_pack("{s:s, s:s?, s:I}", "gateway_status", r->status, "code", r->code,
                              "received_at_ms", (json_int_t)r->received_ms);
        char *dj = json_dumps(d, JSON_COMPACT);
        json_decref(d);
        return dj;
    }
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_adds(&b, "{\"gateway_status\":");
    hd_buf_add_json_str(&b, r->status, strlen(r->status));
    if (r->code) {
        hd_buf_adds(&b, ",\"code\":");
        hd_buf_add_json_str(&b, r->code, strlen(r->code));
    }
    char n[24], *p = n + sizeof n;
    uint64_t v = r->received_ms < 0 ? 0 - (uint64_t)r->received_ms : (uint64_t)r->received_ms;
    do
        *--p = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    if (r->received_ms < 0)
        *--p = '-';
    hd_buf_adds(&b, ",\"received_at_ms\":");
    hd_buf_add(&b, p, (size_t)(n + sizeof n - p));
    hd_buf_addc(&b, '}');
    return hd_buf_detach(&b, NULL);
}

/* parts joined into out, cut to fit as snprintf would (which cost 1,700
 * instructions a receipt here, for the seven "%s") */
static void join_cut(char *out, size_t size, const char *const *parts, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n && w + 1 < size; i++) {
        size_t k = strnlen(parts[i], size - 1 - w);
        memcpy(out + w, parts[i], k);
        w += k;
    }
    out[w] = '\0';
}

/* Whether a report may blame the address though the message's move is
 * refused: it failed already (a hard bounce after a soft one, which made
 * it bounced; a bad number after another undelivered report), or it is an
 * email the receiving server took and may still bounce. A handset's
 * "delivered" is the last word on an SMS: a later failure is out of order. */
static bool blames_late(const struct hd_receipt_found *t)
{
    return t->state == HD_ST_BOUNCED || t->state == HD_ST_COMPLAINED ||
           t->state == HD_ST_UNDELIVERED ||
           (t->state == HD_ST_DELIVERED && t->channel == HD_CH_EMAIL);
}

/* Applies r to t's message; r's row is marked applied first unless it
 * was kept so (r->applied_ms: new in this transaction). */
static int apply(const struct hd_receipt_ctx *c, const struct hd_receipt *r,
                 const struct hd_receipt_found *t, int64_t now_ms, struct hd_err *err)
{
    struct meaning m;
    meaning(c, r, &m);
    char note[300] = "", text[1200], detail[1400];
    int to, rc;
    bool sup = false, first = r->applied_ms != 0;
    /* a pending one is marked first, and only if still pending: another
     * process that applied it meanwhile wins, and it is never applied twice */
    if (!first &&
        ((rc = hd_store_receipt_done(c->st, r->id, t->message, now_ms, &first, err)) < 0 || !first))
        return rc;
    if ((rc = move_state(c, &m, t, now_ms, &to, note, sizeof note, err)) < 0)
        return rc;
    /* a report may come after another that moved the message already: an
     * email's bounce after its "delivered" (the receiving server took it,
     * then bounced it), a hard bounce after a soft one. The message stays
     * where it is, the address is still at fault; another refused move is
     * ignored whole */
    bool late = *note && blames_late(t);
    if ((!*note || late) && (rc = at_fault(c, &m, t, now_ms, &sup, err)) < 0)
        return rc;
    sup = sup && t->address[0]; /* a deleted contact's address is erased */
    if (late && sup && t->state == HD_ST_DELIVERED)
        snprintf(note, sizeof note, " (after its delivery: the message stays delivered)");
    else if (late && sup)
        snprintf(note, sizeof note, " (the message stays %s)", hd_state_name(t->state));
    /* ", address suppressed" only after something: a complaint may have
     * neither code nor reason */
    const char *said = !sup                              ? ""
                       : r->code || r->reason || m.about ? ", address suppressed"
                                                         : "address suppressed";
    const char *parts[] = {r->code ? r->code : "",
                           r->code && (m.about || r->reason) ? " " : "",
                           r->reason ? r->reason : "",
                           r->reason && m.about ? "; " : "",
                           m.about ? m.about : "",
                           said,
                           note};
    join_cut(text, sizeof text, parts, sizeof parts / sizeof *parts);
    if (sup) {
        snprintf(detail, sizeof detail, "%.40s: %.1200s", m.word, text);
        if ((rc = suppress(c, &m, t, detail, now_ms, err)) < 0)
            return rc;
    }
    if (m.optout && (rc = opt_out(c, t, "unsubscribe", now_ms, err)) < 0)
        return rc;
    char *dj = detail_json(r);
    struct hd_attempt a = {.message = t->message,
                           .campaign = t->campaign,
                           .run = t->run,
                           .contact = t->contact,
                           .variant = t->variant[0] ? t->variant : NULL,
                           .state = to,
                           .attempt = t->attempt,
                           .at_ms = r->gateway_ms ? r->gateway_ms : r->received_ms,
                           .done_ms = r->received_ms,
                           .channel = t->channel,
                           .provider = r->provider,
                           .address = t->address[0] ? t->address : NULL,
                           .outcome = "receipt",
                           .reason = m.word,
                           .code = numeric(r->code) ? atoi(r->code) : 0,
                           .text = text,
                           .gateway_id = NULL, /* the accepted row has it: one row per id */
                           .detail = dj};
    rc = hd_store_attempt_add(c->st, &a, err);
    free(dj);
    return rc;
}

/* Whether the message number alone finds r's message: a mail sender's
 * event names the number herald wrote in the mail (X-Herald-Message and
 * the sender's own echo, hooks_esp.c), or its own id of the message, which
 * gateway_ids turned into the number, and the event is signed as a whole;
 * the SMTP server's queue id on the accepted row is not the id the
 * sender's events carry. message is the number found, not r's own: a
 * pending event kept with the sender's id alone has none (and, looked for
 * by that id on the accepted row, was never applied: a review found it). */
static bool by_message(const struct hd_receipt_ctx *c, const struct hd_receipt *r, int64_t message)
{
    const struct hd_provider_cfg *p = hd_config_provider(c->cfg, r->provider);
    return message && p &&
           (strcmp(p->type, "smtp") == 0 || strcmp(p->type, "outbox") == 0 || p->receipt ||
            strcmp(p->type, "inbox") == 0); /* a read, by herald serve's own inbox API */
}

bool hd_receipt_keeps_ids(const struct hd_provider_cfg *p)
{
    return p && (p->receipt || ((strcmp(p->type, "smtp") == 0 || strcmp(p->type, "outbox") == 0) &&
                                hd_provider_get(p, "esp")));
}

/* A report that names no message of ours: the one the gateway's id (a
 * mail sender's: its own id of the message) was recorded for at send
 * time (gateway_ids), when the provider keeps them. */
static int message_of(const struct hd_receipt_ctx *c, const struct hd_receipt *r, int64_t *message,
                      struct hd_err *err)
{
    *message = r->message;
    if (*message || !hd_receipt_keeps_ids(hd_config_provider(c->cfg, r->provider)))
        return 0;
    return hd_store_gateway_id_find(c->st, r->provider,
                                    r->provider_id ? r->provider_id : r->gateway_id, message, err);
}

/* The message r is about (the number its callback named, with the
 * gateway's id on its accepted row, found through the contact's index):
 * t->found says whether. A bounce mailbox's report, and a mail sender's
 * event, carry the message's number only. */
static int find_target(const struct hd_receipt_ctx *c, const struct hd_receipt *r,
                       struct hd_receipt_found *t, struct hd_err *err)
{
    int64_t message = 0;
    struct hd_receipt_target row;
    memset(t, 0, sizeof *t);
    int rc = message_of(c, r, &message, err);
    if (rc < 0 || !message)
        return rc;
    bool mailbox = strncmp(r->gateway_id, HD_RECEIPT_MAILBOX, strlen(HD_RECEIPT_MAILBOX)) == 0;
    bool mail = mailbox || by_message(c, r, message);
    if ((rc = hd_store_receipt_target(c->st, message, r->provider, mail ? NULL : r->gateway_id,
                                      &row, &t->found, err)) < 0 ||
        !t->found)
        return rc;
    t->message = row.message;
    t->campaign = row.campaign;
    t->run = row.run;
    t->contact = row.contact;
    t->attempt = row.attempt;
    t->state = row.state;
    t->channel = row.channel[0] ? hd_channel_parse(row.channel) : -1;
    memcpy(t->variant, row.variant, sizeof t->variant);
    memcpy(t->address, row.address, sizeof t->address);
    return 0;
}

int hd_receipt_look(const struct hd_receipt_ctx *c, const struct hd_receipt *r,
                    struct hd_receipt_found *t, struct hd_err *err)
{
    int64_t of = 0;
    int rc = message_of(c, r, &of, err);
    struct hd_receipt k = *r;
    k.message = of;
    if (rc == 0 && of)
        rc = find_target(c, &k, t, err);
    else
        memset(t, 0, sizeof *t);
    t->of = of;
    return rc;
}

int hd_receipt_keep_found(const struct hd_receipt_ctx *c, const struct hd_receipt *r,
                          const struct hd_receipt_found *t, int64_t now_ms, int *result,
                          struct hd_err *err)
{
    struct hd_receipt k = *r;
    bool added = false;
    /* kept under its message when that is known now (by the gateway's id,
     * for the providers that keep them), so that a copy sent again meets
     * the row it duplicates (store/receipts.c); its message looked up
     * first, so that a report applied now is written once, as applied */
    k.message = t->of;
    k.applied_ms = t->found ? now_ms : 0;
    int rc = hd_store_receipt_add(c->st, &k, &k.id, &added, err);
    if (rc == 0 && added && t->found)
        rc = apply(c, &k, t, now_ms, err);
    if (rc == 0)
        *result = !added ? HD_RCPT_DUPLICATE : t->found ? HD_RCPT_APPLIED : HD_RCPT_PENDING;
    return rc;
}

int hd_receipt_keep(const struct hd_receipt_ctx *c, const struct hd_receipt *r, int64_t now_ms,
                    int *result, struct hd_err *err)
{
    struct hd_receipt_found t;
    int rc = hd_receipt_look(c, r, &t, err);
    return rc < 0 ? rc : hd_receipt_keep_found(c, r, &t, now_ms, result, err);
}

int hd_receipt_take(const struct hd_receipt_ctx *c, const struct hd_receipt *r, int64_t now_ms,
                    int *result, struct hd_err *err)
{
    int rc = hd_store_begin(c->st, err);
    if (rc < 0)
        return rc;
    if ((rc = hd_receipt_keep(c, r, now_ms, result, err)) == 0)
        rc = hd_store_commit(c->st, err);
    if (rc < 0)
        hd_store_rollback(c->st);
    return rc;
}

/* A report waits this long for its message: a gateway reports within
 * minutes of the send, so an older one is about a message herald did not
 * send (another sender on the account); it stays in the table, not retried. */
#define RETRY_HORIZON_MS (24 * 3600 * 1000LL)

/* The pending reports, copied: applying one changes the rows a statement
 * over them would still be reading. */
struct pending {
    struct hd_receipt *v;
    size_t n;
};

static char *dup_or_null(const char *s)
{
    return s ? hd_xstrdup(s) : NULL;
}

static int keep_pending(void *ud, const struct hd_receipt *r)
{
    struct pending *p = ud;
    HD_GROW(p->v, p->n);
    struct hd_receipt *k = &p->v[p->n++];
    *k = *r;
    k->provider = dup_or_null(r->provider);
    k->gateway_id = dup_or_null(r->gateway_id);
    k->status = dup_or_null(r->status);
    k->code = dup_or_null(r->code);
    k->reason = dup_or_null(r->reason);
    k->provider_id = dup_or_null(r->provider_id);
    return 0;
}

static void pending_release(struct pending *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free((char *)p->v[i].provider);
        free((char *)p->v[i].gateway_id);
        free((char *)p->v[i].status);
        free((char *)p->v[i].code);
        free((char *)p->v[i].reason);
        free((char *)p->v[i].provider_id);
    }
    free(p->v);
}

/* One pending report whose message was found, looked up again and
 * applied in its own transaction: the lookups before take no write lock,
 * and the state it moves from is read under it. */
static int apply_found(const struct hd_receipt_ctx *c, const struct hd_receipt *r, int64_t now_ms,
                       bool *applied, struct hd_err *err)
{
    struct hd_receipt_found t = {0};
    int rc = hd_store_begin(c->st, err);
    if (rc == 0 && (rc = find_target(c, r, &t, err)) == 0 && t.found)
        rc = apply(c, r, &t, now_ms, err);
    if (rc == 0)
        rc = hd_store_commit(c->st, err);
    if (rc < 0)
        hd_store_rollback(c->st);
    *applied = rc == 0 && t.found;
    return rc;
}

int hd_receipts_retry(const struct hd_receipt_ctx *c, int64_t now_ms, int64_t *applied,
                      struct hd_err *err)
{
    struct pending p = {0};
    int rc = hd_store_receipts_pending(c->st, now_ms - RETRY_HORIZON_MS, keep_pending, &p, err);
    *applied = 0;
    for (size_t i = 0; rc == 0 && i < p.n; i++) {
        struct hd_receipt_found t;
        bool done = false;
        if ((rc = find_target(c, &p.v[i], &t, err)) == 0 && t.found &&
            (rc = apply_found(c, &p.v[i], now_ms, &done, err)) == 0 && done)
            ++*applied;
    }
    pending_release(&p);
    return rc;
}

/* ---- replies ----------------------------------------------------------------------------- */

/* The words a whole reply may be (case aside, spaces and a closing '.' or
 * '!' around, in full width too): Twilio's and the CTIA's opt-out and
 * opt-in keywords, and zh-CN's T, TD and 退订 (opt out), 订阅 (subscribe). */
static const char *const stop_words[] = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END",
                                         "QUIT", "T",       "TD",          "退订"};
static const char *const start_words[] = {"START", "UNSTOP", "订阅"};

static bool one_of(const char *s, size_t n, const char *const *words, size_t nwords)
{
    for (size_t i = 0; i < nwords; i++)
        if (strlen(words[i]) == n && strncasecmp(s, words[i], n) == 0)
            return true;
    return false;
}

/* The reply with what a phone's input method types in full width folded:
 * the full-width forms of ASCII (U+FF01 to U+FF5E) as ASCII, the
 * ideographic space (U+3000) and the no-break space (U+00A0) as spaces and
 * the ideographic full stop (U+3002) as '.', into out; false when it does
 * not fit (no keyword is that long). */
static bool fold_width(const char *body, char *out, size_t size)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)body; *p; w++) {
        if (w + 1 >= size)
            return false;
        if (p[0] == 0xef && p[1] == 0xbc && p[2] >= 0x81 && p[2] <= 0xbf)
            out[w] = (char)(p[2] - 0x60), p += 3; /* U+FF01 '!' .. U+FF3F '_' */
        else if (p[0] == 0xef && p[1] == 0xbd && p[2] >= 0x80 && p[2] <= 0x9e)
            out[w] = (char)(p[2] - 0x20), p += 3; /* U+FF40 '`' .. U+FF5E '~' */
        else if (p[0] == 0xe3 && p[1] == 0x80 && (p[2] == 0x80 || p[2] == 0x82))
            out[w] = p[2] == 0x80 ? ' ' : '.', p += 3;
        else if (p[0] == 0xc2 && p[1] == 0xa0)
            out[w] = ' ', p += 2;
        else
            out[w] = (char)*p++;
    }
    out[w] = '\0';
    return true;
}

/* The reply's keyword: 1 stop, 2 start, 0 none. */
static int keyword(const char *body)
{
    char folded[256];
    if (!fold_width(body, folded, sizeof folded))
        return 0;
    const char *s = folded;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n' ||
                 s[n - 1] == '.' || s[n - 1] == '!'))
        n--;
    if (one_of(s, n, stop_words, sizeof stop_words / sizeof *stop_words))
        return 1;
    return one_of(s, n, start_words, sizeof start_words / sizeof *start_words) ? 2 : 0;
}

int hd_receipt_reply(const struct hd_receipt_ctx *c, const char *from, const char *body,
                     int64_t now_ms, int *what, int64_t *n, struct hd_err *err)
{
    char phone[64];
    *n = 0;
    *what = keyword(body ? body : "");
    if (!*what)
        return 0;
    struct hd_valid *v = hd_valid_new();
    int bad = hd_valid_phone(v, from ? from : "", NULL, phone, sizeof phone);
    hd_valid_free(v);
    if (bad)
        return hd_err_set(err, HD_E_INVALID, "From: '%s' is not a phone number", from ? from : "");
    return hd_store_phone_consent(c->st, phone, HD_CAT_MARKETING,
                                  *what == 1 ? HD_CONSENT_OPTED_OUT : HD_CONSENT_OPTED_IN, "reply",
                                  now_ms / 1000, n, err);
}
