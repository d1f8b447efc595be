/* api_messages: POST /api/v1/messages (a transactional send) and GET
 * /api/v1/messages/ID (its state, attempts and log rows).
 *
 * A send names a template, a contact (its id, or an object: the contact
 * is checked as an import row is and upserted, its id the object's "id"
 * or else "~" and its address), data for the template, an optional
 * channel order (else the template's channels), a category
 * (transactional by default) and an optional send_at. Everything that
 * needs no store is checked on the worker (422 naming the field); the send
 * then waits, suspended, for the group commit of clicks.c, whose one
 * transaction keeps every send that arrived meanwhile (with a transaction
 * a send, bench/api.sh measured 2,300 sends/s; batched, with cached
 * statements and keys read on their own connection, 16,000): there the
 * Idempotency-Key is looked up (the
 * first answer again for the same body, 409 for another), the contact
 * found (422 when there is none), the message queued through
 * store/apisend.c and the key's answer kept, so that the key's check and
 * its keeping are one step. Delivery is herald run's: the same claim,
 * checks, renderer and drivers as any campaign, in the lane the
 * dispatcher serves first. */
#include <stdio.h>
#include <string.h>

#include "api_int.h"
#include "herald/audit.h"
#include "herald/driver.h"
#include "herald/import.h"
#include "herald/state.h"
#include "herald/tpl.h"

struct send {
    const char *tpl;
    json_t *contact; /* string or object */
    int category;
    int channels[HD_CH_COUNT], nchannels;
    int64_t not_before;
    char *data; /* JSON text, or NULL */
};

/* The template, and its channels when none were asked for. */
static int check_template(struct hd_api_call *c, struct send *m, json_t *chans, struct hd_answer *a)
{
    struct hd_err err = {0};
    struct hd_tpl_info info;
    int rc = -1;
    if (hd_api_template(c->s, m->tpl, &info, &err) < 0) {
        hd_api_problem(a, 422, "template", "no template '%s' (or it does not load: %s)", m->tpl,
                       err.msg);
        goto out;
    }
    if (!chans) {
        for (int ch = 0; ch < HD_CH_COUNT; ch++)
            if (info.channels & (1u << ch))
                m->channels[m->nchannels++] = ch;
    }
    for (int i = 0; i < m->nchannels; i++)
        if (!(info.channels & (1u << m->channels[i]))) {
            hd_api_problem(a, 422, "channels", "template '%s' has no %s parts", m->tpl,
                           hd_channel_name(m->channels[i]));
            goto out;
        }
    if (m->nchannels == 0) {
        hd_api_problem(a, 422, "template", "template '%s' has no parts for any channel", m->tpl);
        goto out;
    }
    /* what the dispatcher asks of a campaign before it claims (links) */
    struct hd_campaign camp = {.name = (char *)"api",
                               .tpl = (char *)m->tpl,
                               .category = m->category,
                               .nchannels = m->nchannels};
    memcpy(camp.channels, m->channels, sizeof camp.channels);
    if (hd_dispatch_links_ready(c->s->cfg, &camp, &err) < 0) {
        hd_api_problem(a, 422, "category", "%s", err.msg);
        goto out;
    }
    rc = 0;
out:
    return rc;
}

static int read_channels(json_t *chans, struct send *m, struct hd_answer *a)
{
    size_t i;
    json_t *v;
    if (!json_is_array(chans) || json_array_size(chans) == 0 ||
        json_array_size(chans) > HD_CH_COUNT) {
        hd_api_problem(a, 422, "channels", "channels is a list of email, sms, push and inbox");
        return -1;
    }
    json_array_foreach(chans, i, v)
    {
        int ch = hd_channel_parse(json_string_value(v));
        for (int k = 0; ch >= 0 && k < m->nchannels; k++)
            if (m->channels[k] == ch)
                ch = -1;
        if (ch < 0) {
            hd_api_problem(
                a, 422, "channels",
                "channels[%zu] is not email, sms, push, inbox or wechat (or named twice)", i);
            return -1;
        }
        m->channels[m->nchannels++] = ch;
    }
    return 0;
}

/* The request's fields: 0, or -1 with a 422 in a. */
static int read_send(struct hd_api_call *c, struct send *m, struct hd_answer *a)
{
    json_t *j = c->json, *v;
    memset(m, 0, sizeof *m);
    m->category = HD_CAT_TRANSACTIONAL;
    m->not_before = hd_clock_now(c->s->clock);
    if (!json_is_object(j)) {
        hd_api_problem(a, 422, NULL, "the body must be a JSON object");
        return -1;
    }
    const char *known[] = {"template", "contact", "data", "channels", "category", "send_at"};
    const char *key;
    json_object_foreach(j, key, v)
    {
        size_t k = 0;
        while (k < 6 && strcmp(key, known[k]) != 0)
            k++;
        if (k == 6) {
            hd_api_problem(a, 422, key, "'%s' is not a field of a message", key);
            return -1;
        }
    }
    m->tpl = json_string_value(json_object_get(j, "template"));
    if (!m->tpl || !*m->tpl || strchr(m->tpl, '/') || strlen(m->tpl) > 100) {
        hd_api_problem(a, 422, "template", "template is required: a template's name");
        return -1;
    }
    m->contact = json_object_get(j, "contact");
    if (!json_is_string(m->contact) && !json_is_object(m->contact)) {
        hd_api_problem(a, 422, "contact", "contact is required: an id, or an object");
        return -1;
    }
    if ((v = json_object_get(j, "category")) &&
        (!json_is_string(v) || (m->category = hd_category_parse(json_string_value(v))) < 0)) {
        hd_api_problem(a, 422, "category", "category is transactional or marketing");
        return -1;
    }
    if ((v = json_object_get(j, "send_at")) &&
        (!json_is_string(v) || hd_time_parse_iso(json_string_value(v), &m->not_before, NULL) < 0)) {
        hd_api_problem(a, 422, "send_at", "send_at is an ISO 8601 time");
        return -1;
    }
    if ((v = json_object_get(j, "data")) && !json_is_object(v)) {
        hd_api_problem(a, 422, "data", "data is an object of the template's variables");
        return -1;
    }
    if (v)
        m->data = json_dumps(v, JSON_COMPACT);
    if ((v = json_object_get(j, "channels")) && read_channels(v, m, a) < 0)
        return -1;
    return check_template(c, m, v, a);
}

/* An inline contact upserted (as an import row, in its own transaction):
 * its row id; -1 with a answered when it is bad. One with an "id" would
 * rewrite that contact (its address, where the message then goes): that
 * is the contacts scope's to do, not a sender's. */
static int inline_contact(struct hd_api_call *c, json_t *who, int64_t *id, struct hd_answer *a)
{
    struct hd_err err = {0};
    char field[64] = "", fname[80], ext[400];
    if (json_object_get(who, "id") && !(c->key.scopes & API_CONTACTS)) {
        hd_api_problem(a, 403, "contact.id",
                       "an inline contact with an id updates that contact: a key with the "
                       "contacts scope may, or name the contact by its id alone");
        return -1;
    }
    json_t *o = json_deep_copy(who);
    const char *addr = json_string_value(json_object_get(o, "email"));
    if (!addr)
        addr = json_string_value(json_object_get(o, "phone"));
    if (!json_object_get(o, "id") && addr) {
        snprintf(ext, sizeof ext, "~%s", addr);
        json_object_set_new(o, "id", json_string(ext));
    }
    json_t *idv = json_object_get(o, "id");
    if (json_is_integer(idv))
        snprintf(ext, sizeof ext, "%lld", (long long)json_integer_value(idv));
    else
        snprintf(ext, sizeof ext, "%s", json_is_string(idv) ? json_string_value(idv) : "");
    struct hd_import_opts io = {.path = "-", .default_region = c->s->cfg->default_region};
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    int rc =
        st ? hd_import_one(st, o, &io, hd_clock_now(c->s->clock), field, sizeof field, NULL, &err)
           : HD_E_STORE;
    if (rc == 0)
        rc = hd_store_contact_ref(st, ext, id, &err);
    pthread_mutex_unlock(&c->s->mu);
    json_decref(o);
    if (rc < 0) {
        snprintf(fname, sizeof fname, "contact.%s", field[0] ? field : "id");
        hd_api_fail(c, a, &err, rc == HD_E_INVALID || rc == HD_E_PARSE ? fname : "contact");
        return -1;
    }
    return 0;
}

/* A send checked, waiting for the group commit, and then its answer. */
struct hd_api_send_req {
    struct send m;   /* the fields; tpl and data owned */
    char *ext;       /* the contact's external id, or NULL (inline: contact) */
    int64_t contact; /* the contact's row, once known */
    char *idem;      /* the Idempotency-Key, or NULL */
    unsigned char hash[32];
    struct hd_answer ans; /* what it is answered, once kept */
};

void hd_api_send_free(struct hd_api_send_req *q)
{
    if (!q)
        return;
    free((char *)q->m.tpl);
    free(q->m.data);
    free(q->ext);
    free(q->idem);
    hd_buf_release(&q->ans.body);
    free(q);
}

/* Sets q's answer to status and the text body (JSON, or a problem). */
static void answer_with(struct hd_api_send_req *q, int status, const char *body)
{
    hd_buf_release(&q->ans.body);
    q->ans = (struct hd_answer){.status = status, .type = "application/json"};
    hd_buf_init(&q->ans.body);
    hd_buf_adds(&q->ans.body, body);
    hd_buf_adds(&q->ans.body, "\n");
}

int hd_api_send_keep(struct hd_srv *s, struct hd_store *st, struct hd_api_call *c,
                     struct hd_api_send_req *q, struct hd_err *err)
{
    struct hd_answer p = {0};
    int64_t id = 0, now = hd_clock_now(s->clock);
    int rc = 0;
    if (q->idem) { /* the first answer, or 409 for another body */
        bool same = false;
        int status = 0;
        char *kept = NULL;
        rc = hd_store_idem_get(st, c->key.id, q->idem, q->hash, now, &same, &status, &kept, err);
        if (rc == 0 && same)
            answer_with(q, status, kept);
        else if (rc == 0)
            hd_api_problem(&p, 409, NULL,
                           "Idempotency-Key '%s' was used with another body: use a new key",
                           q->idem);
        free(kept);
        if (rc != HD_E_NOTFOUND)
            goto out;
        rc = 0;
    }
    if (!q->contact && (rc = hd_store_api_contact(st, q->ext, &q->contact, err)) < 0) {
        if (rc == HD_E_NOTFOUND)
            hd_api_problem(&p, 422, "contact", "no contact with id '%s'", q->ext);
        rc = rc == HD_E_NOTFOUND ? 0 : rc;
        goto out;
    }
    struct hd_api_send m = {.contact = q->contact,
                            .tpl = q->m.tpl,
                            .category = q->m.category,
                            .channels = q->m.channels,
                            .nchannels = q->m.nchannels,
                            .data = q->m.data,
                            .key_id = c->key.id,
                            .not_before = q->m.not_before,
                            .now = now};
    if ((rc = hd_store_api_send(st, &m, &id, err)) < 0)
        goto out;
    char body[96];
    snprintf(body, sizeof body, "{\"id\":%lld,\"state\":\"queued\"}", (long long)id);
    if (q->idem &&
        (rc = hd_store_idem_put(st, c->key.id, q->idem, q->hash, 202, body, now, err)) < 0)
        goto out;
    answer_with(q, 202, body);
out:
    if (p.status) { /* a problem: the answer, not the batch's failure */
        hd_buf_release(&q->ans.body);
        q->ans = p;
    }
    return rc;
}

void hd_api_send_answer(struct hd_api_call *c, struct hd_api_send_req *q, int rc,
                        struct hd_answer *a)
{
    if (rc < 0) {
        struct hd_err err = {.code = HD_E_STORE};
        snprintf(err.msg, sizeof err.msg, "the message was not queued");
        hd_api_fail(c, a, &err, NULL);
        return;
    }
    *a = q->ans;
    hd_buf_init(&q->ans.body); /* a owns the body now */
}

int hd_api_send_status(const struct hd_api_send_req *q, int rc)
{
    return rc < 0 ? 503 : q->ans.status;
}

/* An Idempotency-Key already answered: that answer (or 409 for another
 * body) at once, before an inline contact is written, so that a retry or
 * a refused request changes no contact. The group commit looks again
 * (hd_api_send_keep), for two requests with one key at the same time. */
static bool answered_before(struct hd_api_call *c, const char *idem, const unsigned char hash[32],
                            struct hd_answer *a)
{
    struct hd_err err = {0};
    bool same = false;
    int status = 0, rc = HD_E_NOTFOUND;
    char *kept = NULL;
    if (!idem)
        return false;
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    if (st)
        rc = hd_store_idem_get(st, c->key.id, idem, hash, hd_clock_now(c->s->clock), &same, &status,
                               &kept, &err);
    pthread_mutex_unlock(&c->s->mu);
    if (rc == 0 && same) {
        *a = (struct hd_answer){.status = status, .type = "application/json"};
        hd_buf_init(&a->body);
        hd_buf_adds(&a->body, kept);
        hd_buf_adds(&a->body, "\n");
    } else if (rc == 0) {
        hd_api_problem(a, 409, NULL,
                       "Idempotency-Key '%s' was used with another body: use a new key", idem);
    } else if (rc != HD_E_NOTFOUND) {
        hd_api_fail(c, a, &err, NULL);
    }
    free(kept);
    return rc != HD_E_NOTFOUND;
}

void hd_api_messages_post(struct hd_api_call *c, struct hd_answer *a)
{
    struct send m = {0};
    int64_t contact = 0;
    const char *idem = c->header(c->hud, "Idempotency-Key");
    if (idem && (!*idem || strlen(idem) > 255)) {
        hd_api_problem(a, 422, "Idempotency-Key", "an Idempotency-Key is 1 to 255 characters");
        return;
    }
    if (idem && !hd_api_idem_claim(c, idem)) {
        hd_api_problem(a, 409, NULL,
                       "a request with Idempotency-Key '%s' is in progress: retry once it is "
                       "answered",
                       idem);
        return;
    }
    unsigned char hash[32];
    if (idem) /* the body's hash is for the key's answer alone */
        hd_sha256(c->body, c->len, hash);
    if (read_send(c, &m, a) < 0 ||
        (json_is_object(m.contact) &&
         (answered_before(c, idem, hash, a) || inline_contact(c, m.contact, &contact, a) < 0))) {
        free(m.data);
        return;
    }
    /* kept by the group commit of clicks.c (hd_api_send_keep) */
    struct hd_api_send_req *q = hd_xcalloc(1, sizeof *q);
    q->m = m;
    q->m.tpl = hd_xstrdup(m.tpl);
    q->ext = hd_xstrdup(json_string_value(m.contact));
    q->contact = contact;
    q->idem = hd_xstrdup(idem);
    if (idem)
        memcpy(q->hash, hash, sizeof hash);
    hd_buf_init(&q->ans.body);
    *c->send = q;
}

struct rows {
    json_t *arr;
};

static int add_row(void *ud, const struct hd_log_row *r)
{
    json_array_append_new(((struct rows *)ud)->arr, hd_audit_log_json(r));
    return 0;
}

void hd_api_messages_get(struct hd_api_call *c, struct hd_answer *a)
{
    struct hd_err err = {0};
    struct hd_api_msg m;
    char *end;
    long long id = strtoll(c->arg, &end, 10);
    if (*end || id <= 0) {
        hd_api_problem(a, 404, NULL, "no message '%s'", c->arg);
        return;
    }
    struct rows r = {json_array()};
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    struct hd_log_filter f = {.message = id, .oldest_first = true};
    /* a read key reads any message; a send key the ones it sent */
    int64_t key = c->key.scopes & API_READ ? 0 : c->key.id;
    int rc = st ? hd_store_api_msg(st, id, key, &m, &err) : HD_E_STORE;
    if (rc == 0) {
        /* the message's rows, found through its contact's index */
        f.contact = m.contact;
        rc = hd_store_log_query(st, &f, add_row, &r, &err);
    }
    pthread_mutex_unlock(&c->s->mu);
    if (rc < 0) {
        json_decref(r.arr);
        hd_api_fail(c, a, &err, NULL);
        return;
    }
    char at[32];
    hd_time_format_iso(m.created_at, at, sizeof at);
    json_t *o = json_pack("{s:I, s:s, s:i, s:s, s:s, s:s, s:o}", "id", (json_int_t)m.id, "state",
                          hd_state_name(m.state), "attempts", m.attempts, "template", m.tpl,
                          "category", m.category, "created_at", at, "log", r.arr);
    if (m.channel >= 0)
        json_object_set_new(o, "channel", json_string(hd_channel_name(m.channel)));
    hd_api_json(a, 200, o);
}
