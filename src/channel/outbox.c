/* outbox: the provider that sends nothing. Email is written as RFC 5322
 * .eml files into a Maildir (PATH/email: written to tmp/, synced, renamed
 * into new/, so a reader never sees half a message); SMS and push messages
 * are appended as one JSON line each to PATH/sms.jsonl and PATH/push.jsonl,
 * holding everything that would have been sent. It always accepts; a
 * message that could not be built (a header injection) is refused as a real
 * driver would refuse it. With bounce_address set, each .eml starts with
 * the Return-Path an MTA would write on delivery: the VERP envelope sender
 * the SMTP driver would use. What it writes is the contacts' addresses and
 * messages, so folders are made 0700 and files 0600 whatever the umask. */
#include "driver_int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "herald/json.h"
#include "herald/mime.h"
#include "herald/sms.h"
#include "herald/time.h"

struct outbox {
    char *path;
    char *bounce; /* bounce_address: a Return-Path under VERP, or NULL */
    struct hd_log *log;
    pthread_mutex_t mu; /* appends to the JSON Lines files */
    unsigned long seq;
    char esp[16]; /* the sender whose event headers the mail carries, or "" */
};

static int mkdirs(const char *path, struct hd_err *err)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0700) < 0 && errno != EEXIST)
                return hd_err_set(err, HD_E_IO, "cannot create folder '%s': %s", buf,
                                  strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

static int ob_init(const struct hd_provider_cfg *cfg, struct hd_log *log, void **conf,
                   struct hd_err *err)
{
    const char *path = hd_provider_get(cfg, "path");
    struct outbox *o = hd_xcalloc(1, sizeof *o);
    o->path = hd_xstrdup(path ? path : "var/outbox");
    o->bounce = hd_xstrdup(hd_provider_get(cfg, "bounce_address"));
    snprintf(o->esp, sizeof o->esp, "%s", (path = hd_provider_get(cfg, "esp")) ? path : "");
    o->log = log;
    static const char *const sub[] = {"", "/email/tmp", "/email/new", "/email/cur"};
    for (size_t i = 0; i < 4; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s%s", o->path, sub[i]);
        if (mkdirs(p, err) < 0) {
            free(o->path);
            free(o->bounce);
            free(o);
            return HD_E_IO;
        }
    }
    pthread_mutex_init(&o->mu, NULL);
    *conf = o;
    return 0;
}

static void ob_fini(void *conf)
{
    struct outbox *o = conf;
    pthread_mutex_destroy(&o->mu);
    free(o->path);
    free(o->bounce);
    free(o);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void send_email(struct outbox *o, const struct hd_msg *m, struct hd_result *r)
{
    struct hd_mail mail;
    hd_mail_of(&mail, m, m->from ? m->from : "herald <herald@localhost.invalid>", m->reply_to);
    /* as the SMTP driver writes it to a server that offers SMTPUTF8 */
    mail.smtputf8 = true;
    mail.esp = o->esp[0] ? o->esp : NULL;
    struct hd_buf b;
    struct hd_err e = {0};
    char tmp[4200], dst[4200], name[256], verp[320];
    hd_buf_init(&b);
    /* the envelope sender, as an MTA records it on delivery */
    if (o->bounce && hd_mime_verp(o->bounce, m->ref, verp, sizeof verp) == 0)
        hd_buf_addf(&b, "Return-Path: <%s>\r\n", verp);
    if (hd_mime_build(&mail, &b, &e) < 0) {
        hd_result_set(r, HD_OUT_PERMANENT, 0, "%s", e.msg);
        hd_buf_release(&b);
        return;
    }
    hd_sha256_hex(b.data, b.len, r->digest);
    pthread_mutex_lock(&o->mu);
    unsigned long seq = o->seq++;
    pthread_mutex_unlock(&o->mu);
    snprintf(name, sizeof name, "%lld.%s.%lu.herald.eml", (long long)m->created, m->id, seq);
    snprintf(tmp, sizeof tmp, "%s/email/tmp/%s", o->path, name);
    snprintf(dst, sizeof dst, "%s/email/new/%s", o->path, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write_all(fd, b.data, b.len) < 0 || fsync(fd) < 0 || close(fd) < 0 ||
        rename(tmp, dst) < 0) {
        hd_result_set(r, HD_OUT_TEMPORARY, 0, "outbox: cannot write '%s': %s", tmp,
                      strerror(errno));
        if (fd >= 0)
            unlink(tmp);
    } else {
        hd_result_set(r, HD_OUT_ACCEPTED, 250, "written to %s", dst);
        snprintf(r->gateway_id, sizeof r->gateway_id, "%s", name);
    }
    hd_buf_release(&b);
}

/* A push's fields: the platform, title, body, data, the template's part
 * for the token's platform, and a WeChat template message's id, data and
 * page. */
static void push_fields(json_t *j, const struct hd_msg *m)
{
    json_object_set_new(j, "platform", json_string(hd_push_platform_name(m->platform)));
    if (m->title)
        json_object_set_new(j, "title", json_string(m->title));
    if (m->body)
        json_object_set_new(j, "body", json_string(m->body));
    json_t *data = m->data ? hd_json_object_loads(m->data, strlen(m->data)) : NULL;
    if (data)
        json_object_set_new(j, "data", data);
    /* the template's push.fcm or push.apns, for the token's platform
     * (JPush and Huawei take neither) */
    const char *part = m->platform == HD_PUSH_APNS  ? m->apns
                       : m->platform == HD_PUSH_FCM ? m->fcm
                                                    : NULL;
    json_t *x = part ? hd_json_object_loads(part, strlen(part)) : NULL;
    if (x)
        json_object_set_new(j, m->platform == HD_PUSH_APNS ? "apns" : "fcm", x);
    if (m->wechat_template) {
        json_t *w = json_pack("{s:s}", "template_id", m->wechat_template);
        json_t *wd =
            m->wechat_data ? hd_json_object_loads(m->wechat_data, strlen(m->wechat_data)) : NULL;
        if (wd)
            json_object_set_new(w, "data", wd);
        if (m->wechat_url)
            json_object_set_new(w, "url", json_string(m->wechat_url));
        if (m->wechat_page)
            json_object_set_new(w, "page", json_string(m->wechat_page));
        json_object_set_new(j, "wechat", w);
    }
}

static void send_line(struct outbox *o, const struct hd_msg *m, struct hd_result *r)
{
    char t[32], path[4200];
    json_t *j = json_object();
    hd_time_format_iso(m->created, t, sizeof t);
    json_object_set_new(j, "id", json_string(m->id));
    json_object_set_new(j, "time", json_string(t));
    json_object_set_new(j, "channel", json_string(hd_channel_name(m->channel)));
    json_object_set_new(j, "category", json_string(hd_category_name(m->category)));
    json_object_set_new(j, "to", json_string(m->to));
    if (m->channel == HD_CH_SMS) {
        struct hd_sms_info si;
        hd_sms_analyze(m->body ? m->body : "", m->body ? strlen(m->body) : 0, &si);
        if (m->from)
            json_object_set_new(j, "from", json_string(m->from));
        json_object_set_new(j, "body", json_string(m->body ? m->body : ""));
        json_object_set_new(j, "encoding", json_string(hd_sms_encoding_name(si.encoding)));
        json_object_set_new(j, "segments", json_integer((json_int_t)si.segments));
        /* an approved-template gateway's request: the code and parameters */
        json_t *params = m->sms_params ? json_loads(m->sms_params, 0, NULL) : NULL;
        if (m->sms_template)
            json_object_set_new(j, "template_code", json_string(m->sms_template));
        if (params)
            json_object_set_new(j, "params", params);
    } else {
        push_fields(j, m);
    }
    char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    size_t n = strlen(line);
    hd_sha256_hex(line, n, r->digest);
    snprintf(path, sizeof path, "%s/%s.jsonl", o->path, hd_channel_name(m->channel));
    pthread_mutex_lock(&o->mu);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    line[n] = '\n';
    int bad = fd < 0 || write_all(fd, line, n + 1) < 0;
    if (fd >= 0 && close(fd) < 0)
        bad = 1;
    pthread_mutex_unlock(&o->mu);
    if (bad) {
        hd_result_set(r, HD_OUT_TEMPORARY, 0, "outbox: cannot append to '%s': %s", path,
                      strerror(errno));
    } else {
        hd_result_set(r, HD_OUT_ACCEPTED, 0, "appended to %s", path);
        snprintf(r->gateway_id, sizeof r->gateway_id, "%s", m->id);
    }
    free(line);
}

static void ob_send(void *conf, void **conn, const struct hd_msg *const *msgs, size_t n,
                    struct hd_result *results)
{
    (void)conn;
    struct outbox *o = conf;
    for (size_t i = 0; i < n; i++) {
        int64_t t0 = hd_clock_mono_ms();
        if (msgs[i]->channel == HD_CH_EMAIL)
            send_email(o, msgs[i], &results[i]);
        else
            send_line(o, msgs[i], &results[i]);
        results[i].latency_ms = hd_clock_mono_ms() - t0;
    }
}

const struct hd_drv_ops hd_drv_outbox = {
    .type = "outbox",
    .channels = 1u << HD_CH_EMAIL | 1u << HD_CH_SMS | 1u << HD_CH_PUSH | 1u << HD_CH_WECHAT,
    .batch = 16,
    .init = ob_init,
    .fini = ob_fini,
    .send = ob_send,
};
