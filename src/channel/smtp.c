/* smtp: email over SMTP. Each worker sends its batch of messages in one
 * SMTP session of herald's own (smtp_session.c: one connection, one
 * EHLO/STARTTLS/AUTH, the messages pipelined), then reads every message's
 * reverse-path, recipient and data status and maps them per RFC 5321 and
 * RFC 3463:
 *   2xx accepted (the server's reply text becomes the gateway id),
 *   4xx and any 4.x.x temporary, 5xx permanent, 5.1.x after MAIL FROM a
 *   bad address (except 5.1.3, a refusal of how the address was written,
 *   and 5.1.7/5.1.8, the sender's), no connection, a dropped connection or
 *   a TLS failure temporary. Addresses go out with a non-ASCII domain as
 *   its A-label; a message whose envelope has a non-ASCII local part needs
 *   SMTPUTF8: MAIL FROM says so when the server offers it, and otherwise
 *   the message fails unsent (permanent, "smtputf8_unsupported", the
 *   address not suppressed).
 * With bounce_address set, the envelope sender is that address with the
 * message's number in it (VERP, hd_mime_verp: bounces+N@domain), and the
 * mail carries X-Herald-Message: N, so that herald bounces
 * fetch can tell which message a bounce is about.
 * TLS uses our own SSL_CTX (ca_file or the system store); an unverifiable
 * or mismatched certificate is refused unless tls_verify = no (logged once
 * as a warning), and implicit TLS (port 465) is TLS from the first byte. */
#include "smtp_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "herald/mime.h"
#include "herald/time.h"
#include "herald/valid.h"

static void conf_free(struct smtp_conf *c)
{
    if (!c)
        return;
    free(c->host);
    free(c->username);
    free(c->from);
    free(c->reply_to);
    free(c->helo);
    free(c->unsub_url);
    free(c->unsub_mailto);
    free(c->bounce);
    free(c->ca_file);
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    free(c);
}

static int sm_init(const struct hd_provider_cfg *cfg, struct hd_log *log, void **conf,
                   struct hd_err *err)
{
    struct smtp_conf *c = hd_xcalloc(1, sizeof *c);
    const char *v;
    c->log = log;
    c->host = hd_xstrdup(hd_provider_get(cfg, "host"));
    c->port = (v = hd_provider_get(cfg, "port")) ? atoi(v) : 587;
    v = hd_provider_get(cfg, "starttls");
    const char *imp = hd_provider_get(cfg, "implicit_tls");
    bool implicit = imp ? (strcmp(imp, "yes") == 0 || strcmp(imp, "true") == 0 ||
                           strcmp(imp, "on") == 0 || strcmp(imp, "1") == 0)
                        : c->port == 465;
    c->tls = implicit                           ? TLS_IMPLICIT
             : !v || strcmp(v, "required") == 0 ? TLS_REQUIRED
             : strcmp(v, "optional") == 0       ? TLS_OPTIONAL
                                                : TLS_NONE;
    v = hd_provider_get(cfg, "tls_verify");
    c->verify = !v || (strcmp(v, "no") != 0 && strcmp(v, "false") != 0 && strcmp(v, "off") != 0 &&
                       strcmp(v, "0") != 0);
    c->username = hd_xstrdup(hd_provider_get(cfg, "username"));
    const struct hd_cfg_secret *pw = hd_provider_secret(cfg, "password");
    c->password = pw ? pw->value : NULL;
    if (c->username && !c->password) {
        conf_free(c);
        return hd_err_set(err, HD_E_CONFIG,
                          "username is set but no password_env or "
                          "password_file");
    }
    c->from = hd_xstrdup(hd_provider_get(cfg, "from"));
    c->reply_to = hd_xstrdup(hd_provider_get(cfg, "reply_to"));
    c->helo = hd_xstrdup(hd_provider_get(cfg, "helo"));
    c->unsub_url = hd_xstrdup(hd_provider_get(cfg, "unsubscribe_url"));
    c->unsub_mailto = hd_xstrdup(hd_provider_get(cfg, "unsubscribe_mailto"));
    c->bounce = hd_xstrdup(hd_provider_get(cfg, "bounce_address"));
    char verp[320];
    if (c->bounce && hd_mime_verp(c->bounce, 1, verp, sizeof verp) < 0) {
        conf_free(c);
        return hd_err_set(err, HD_E_CONFIG, "bounce_address '%s' is not an email address",
                          hd_provider_get(cfg, "bounce_address"));
    }
    snprintf(c->esp, sizeof c->esp, "%s", (v = hd_provider_get(cfg, "esp")) ? v : "");
    c->timeout = cfg->timeout > 0 ? (long)cfg->timeout : 30;
    if (c->tls != TLS_NONE) {
        c->ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
        /* TLS 1.3 too: libesmtp, which herald used before its own
         * session, stalled for the whole timeout after a TLS 1.3 handshake
         * (the server's session tickets sat read in OpenSSL's buffer while
         * it polled the socket), so TLS 1.2 was the ceiling; the session
         * reads only through SSL_read, which takes the tickets in passing */
        const char *ca = hd_provider_get(cfg, "ca_file");
        c->ca_file = hd_xstrdup(ca);
        if (ca ? SSL_CTX_load_verify_locations(c->ctx, ca, NULL) != 1
               : SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
            conf_free(c);
            return hd_err_set(err, HD_E_CONFIG, "cannot load the CA certificates%s%s",
                              ca ? " in " : "", ca ? ca : "");
        }
        if (!c->verify)
            hd_log_warn(log,
                        "provider '%s': tls_verify = no: the server's certificate is not "
                        "checked, so anyone on the path can read and change mail",
                        cfg->name);
    }
    if (c->helo)
        snprintf(c->helo_name, sizeof c->helo_name, "%s", c->helo);
    else if (gethostname(c->helo_name, sizeof c->helo_name - 1) < 0 || !c->helo_name[0])
        snprintf(c->helo_name, sizeof c->helo_name, "localhost");
    *conf = c;
    return 0;
}

static void sm_fini(void *conf)
{
    conf_free(conf);
}

/* The RFC 3463 code at the start of a reply's text ("5.7.8 ..."): its
 * class, subject and detail, each 0 when there is none. */
static void enhanced(const struct hd_smtp_reply *st, int *ec, int *es, int *ed)
{
    *ec = *es = *ed = 0;
    if (sscanf(st->text, "%d.%d.%d", ec, es, ed) != 3 || *ec < 2 || *ec > 5)
        *ec = *es = *ed = 0;
}

static void map_status(const struct hd_smtp_reply *st, struct hd_result *r, const char *stage)
{
    int code = st->code;
    const char *text = st->text;
    char clean[400];
    size_t n = 0;
    for (const char *p = text; *p && n < sizeof clean - 1; p++)
        if (*p != '\r' && *p != '\n')
            clean[n++] = *p;
    clean[n] = '\0';
    if (code >= 200 && code < 300) {
        hd_result_set(r, HD_OUT_ACCEPTED, code, "%s", clean);
        /* "2.0.0 Ok: queued as 4Xy7" names the message; else keep the reply */
        const char *q = strstr(clean, "queued as ");
        snprintf(r->gateway_id, sizeof r->gateway_id, "%.255s", q ? q + 10 : clean);
        return;
    }
    int ec, es, ed;
    enhanced(st, &ec, &es, &ed);
    bool temp = (code >= 400 && code < 500) || ec == 4;
    /* X.1.3 (the address's syntax) and X.6.7 (a non-ASCII address, RFC
     * 6531) refuse how herald wrote the address, not the mailbox: such a
     * reply never suppresses it (issue 15) */
    bool encoding = (es == 1 && ed == 3) || (es == 6 && ed == 7);
    hd_result_set(
        r, temp ? HD_OUT_TEMPORARY : HD_OUT_PERMANENT, code, "%s refused: %d %s%s", stage, code,
        clean, encoding ? " (the server refused how the address was written: not suppressed)" : "");
    /* X.1.7 and X.1.8 are the sender's address (Postfix can say so at RCPT
     * TO), and no MAIL FROM refusal is the recipient's fault */
    if (!temp && ec == 5 && es == 1 && !encoding && ed != 7 && ed != 8 &&
        strcmp(stage, "MAIL FROM") != 0)
        r->bad_address = true;
}

/* A message's text, once built; its digest still to take. */
struct body {
    struct hd_buf text;
    bool built;
};

/* A message's envelope, as on the wire. */
struct envelope {
    char from[320], rcpt[320];
};

/* The messages of one sm_send call and what the session makes of them;
 * index i is the same message in every array. */
enum route { R_NONE, R_SESSION, R_UTF8 }; /* R_NONE: its result is set; R_UTF8: SMTPUTF8 */

struct batch {
    size_t n;
    struct hd_valid *valid; /* ICU state, made for the first non-ASCII domain */
    struct body *bodies;
    struct envelope *env;
    enum route *route;
    struct hd_result *results;
};

/* Message i's text into its body, with From as given and the envelope's
 * recipient rcpt. */
static int build_body(const struct smtp_conf *c, const struct hd_msg *m, const char *from,
                      const char *rcpt, bool utf8, struct batch *b, size_t i, struct hd_err *e)
{
    struct hd_mail mail;
    hd_mail_of(&mail, m, from, m->reply_to ? m->reply_to : c->reply_to);
    mail.to = rcpt;
    mail.valid = &b->valid;
    mail.smtputf8 = utf8;
    mail.esp = c->esp[0] ? c->esp : NULL;
    if (m->category == HD_CAT_MARKETING) {
        if (!mail.unsubscribe_url)
            mail.unsubscribe_url = c->unsub_url;
        if (!mail.unsubscribe_mailto)
            mail.unsubscribe_mailto = c->unsub_mailto;
    }
    if (hd_mime_build(&mail, &b->bodies[i].text, e) < 0)
        return -1;
    b->bodies[i].built = true;
    return 0;
}

/* The digest of every message built, taken together: eight side by side
 * where the processor makes that cheaper (hd_sha256_hex_many). */
static void digest_bodies(struct batch *b)
{
    struct hd_digest_job *jobs = hd_xcalloc(b->n, sizeof *jobs);
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->bodies[i].built)
            jobs[n++] = (struct hd_digest_job){b->bodies[i].text.data, b->bodies[i].text.len,
                                               b->results[i].digest};
    hd_sha256_hex_many(jobs, n);
    free(jobs);
}

/* Builds each message for the session, or sets it aside for SMTPUTF8
 * when its envelope has a non-ASCII local part; a message that cannot be
 * built gets its result now. Returns how many go in the session. */
static size_t add_messages(const struct smtp_conf *c, const struct hd_msg *const *msgs,
                           struct batch *b)
{
    size_t queued = 0;
    for (size_t i = 0; i < b->n; i++) {
        const struct hd_msg *m = msgs[i];
        const char *from = m->from ? m->from : c->from;
        struct hd_err e = {0};
        char given[320], sender[320], envelope[320], rcpt[320];
        bool utf8_from, utf8_rcpt;
        hd_buf_init(&b->bodies[i].text);
        if (!from || hd_mime_address(from, given, sizeof given) < 0) {
            hd_result_set(&b->results[i], HD_OUT_PERMANENT, 0,
                          "no From address (set 'from' in the template or the provider)");
            continue;
        }
        /* VERP: bounces come back to bounce_address with the message's number */
        if (!c->bounce || hd_mime_verp(c->bounce, m->ref, sender, sizeof sender) < 0)
            memcpy(sender, given, sizeof given);
        if (hd_mime_wire_address(&b->valid, sender, true, envelope, sizeof envelope, &utf8_from,
                                 &e) < 0 ||
            hd_mime_wire_address(&b->valid, m->to, true, rcpt, sizeof rcpt, &utf8_rcpt, &e) < 0 ||
            build_body(c, m, from, rcpt, utf8_from || utf8_rcpt, b, i, &e) < 0) {
            hd_result_set(&b->results[i], HD_OUT_PERMANENT, 0, "%s", e.msg);
            continue;
        }
        memcpy(b->env[i].from, envelope, sizeof envelope);
        memcpy(b->env[i].rcpt, rcpt, sizeof rcpt);
        b->route[i] = utf8_from || utf8_rcpt ? R_UTF8 : R_SESSION;
        queued++;
    }
    digest_bodies(b);
    return queued;
}

/* The provider, not the message, is at fault (issue 16, item 5): the
 * dispatcher pauses it and the message waits without spending an attempt. */
static void provider_fault(struct hd_result *r, int code, const char *text)
{
    hd_result_set(r, HD_OUT_THROTTLED, code, "%s", text);
    r->provider_fault = true;
    r->retry_after_ms = HD_PROVIDER_FAULT_PAUSE_MS;
}

/* The result of a message the session said nothing about: the session
 * failed before it. */
static void session_failed(struct hd_result *r, const struct hd_smtp_outcome *o)
{
    if (o->tls_err[0])
        provider_fault(r, 0, o->tls_err);
    else if (o->auth_err[0])
        provider_fault(r, atoi(o->auth_err + sizeof "authentication failed: " - 1), o->auth_err);
    else if (o->greeted)
        hd_result_set(r, HD_OUT_TEMPORARY, 0, "the server ended the session (%s)",
                      o->why[0] ? o->why : "no reply");
    else
        hd_result_set(r, HD_OUT_TEMPORARY, 0, "%s", o->why[0] ? o->why : "no session");
}

/* A refusal for want of authentication: 530 (RFC 4954), 535, or X.7.0 /
 * X.7.8 / X.7.9 / X.7.11 (authentication required, credentials invalid,
 * mechanism too weak, encryption required). After a refused AUTH, any
 * X.7.x (a relay denied at RCPT TO) is for want of it too. */
static bool auth_refusal(const struct hd_smtp_reply *st, const struct hd_smtp_outcome *o)
{
    int ec, es, ed;
    enhanced(st, &ec, &es, &ed);
    if (o->auth_err[0] && es == 7)
        return true;
    return st->code == 530 || st->code == 535 ||
           (es == 7 && (ed == 0 || ed == 8 || ed == 9 || ed == 11));
}

/* A command refused because the session is not authenticated: the
 * provider's fault, reported with the refusal of AUTH when there was one. */
static void auth_fault(struct hd_result *r, const struct hd_smtp_reply *st,
                       const struct hd_smtp_outcome *o, const char *stage)
{
    struct hd_result m = {0};
    map_status(st, &m, stage);
    char text[600];
    if (o->auth_err[0])
        snprintf(text, sizeof text, "%.250s; then %.250s", o->auth_err, m.text);
    else
        snprintf(text, sizeof text, "%.500s", m.text);
    provider_fault(r, st->code, text);
}

/* The result of one message the session carried: the first refusal of
 * MAIL FROM and RCPT TO, else the DATA reply. */
static void session_result(struct hd_result *r, const struct hd_smtp_item *it,
                           const struct hd_smtp_outcome *o)
{
    const struct hd_smtp_reply *rp = &it->mail, *rs = &it->rcpt_r, *ts = &it->data;
    if (rp->code >= 400 && (o->auth_err[0] || auth_refusal(rp, o)))
        auth_fault(r, rp, o, "MAIL FROM");
    else if (rp->code >= 400)
        map_status(rp, r, "MAIL FROM");
    else if (rs->code >= 400 && o->auth_err[0] && auth_refusal(rs, o))
        auth_fault(r, rs, o, "RCPT TO");
    else if (rs->code >= 400)
        map_status(rs, r, "RCPT TO");
    else if (ts->code > 0 && ts->code != 354)
        map_status(ts, r, "DATA");
    else
        session_failed(r, o);
}

static bool ascii_local(const char *addr)
{
    for (; *addr && *addr != '@'; addr++)
        if ((unsigned char)*addr >= 0x80)
            return false;
    return true;
}

/* The messages routed to the session, in one session. */
static void smtp_batch(struct smtp_conf *c, struct batch *b, size_t queued)
{
    struct hd_smtp_item *items = hd_xcalloc(queued, sizeof *items);
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->route[i] != R_NONE)
            items[k++] = (struct hd_smtp_item){.from = b->env[i].from,
                                               .rcpt = b->env[i].rcpt,
                                               .utf8 = b->route[i] == R_UTF8,
                                               .body = b->bodies[i].text.data,
                                               .len = b->bodies[i].text.len};
    struct hd_smtp_outcome o;
    hd_smtp_session(c, items, queued, &o);
    k = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->route[i] == R_NONE)
            continue;
        if (items[k].unoffered)
            hd_result_set(&b->results[i], HD_OUT_PERMANENT, 0,
                          "smtputf8_unsupported: the address '%s' has a non-ASCII local part, "
                          "which only SMTPUTF8 (RFC 6531) carries, and %s:%d does not offer "
                          "SMTPUTF8; nothing was sent (the address is not suppressed)",
                          ascii_local(b->env[i].rcpt) ? b->env[i].from : b->env[i].rcpt, c->host,
                          c->port);
        else
            session_result(&b->results[i], &items[k], &o);
        k++;
    }
    free(items);
}

static void sm_send(void *conf, void **conn, const struct hd_msg *const *msgs, size_t n,
                    struct hd_result *results)
{
    struct smtp_conf *c = conf;
    struct batch b = {n,
                      NULL,
                      hd_xcalloc(n, sizeof *b.bodies),
                      hd_xcalloc(n, sizeof *b.env),
                      hd_xcalloc(n, sizeof *b.route),
                      results};
    int64_t t0 = hd_clock_mono_ms();
    (void)conn; /* each session ends with QUIT: nothing to keep */
    size_t queued = add_messages(c, msgs, &b);
    if (queued)
        smtp_batch(c, &b, queued);
    int64_t dt = hd_clock_mono_ms() - t0;
    for (size_t i = 0; i < n; i++) {
        results[i].latency_ms = dt;
        hd_buf_release(&b.bodies[i].text);
    }
    hd_valid_free(b.valid);
    free(b.bodies);
    free(b.env);
    free(b.route);
}

const struct hd_drv_ops hd_drv_smtp = {
    .type = "smtp",
    .channels = 1u << HD_CH_EMAIL,
    .batch = 1000,
    .init = sm_init,
    .fini = sm_fini,
    .send = sm_send,
};
