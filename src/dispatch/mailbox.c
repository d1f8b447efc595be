/* mailbox: the bounce mailbox read (issue 19), for `herald bounces fetch`
 * and herald run's poll. Each mail is parsed (core/dsn.c) and applied as a
 * receipt through hd_receipt_take: the provider is the one that sent the
 * message, else the one whose bounce_address the VERP address came back
 * to (else the first with a bounce_address), the gateway id
 * HD_RECEIPT_MAILBOX and the message's
 * number, so the same bounce read twice is one report. A mail is marked
 * done only once its report is durable: in a Maildir it moves from new/ to
 * cur/ with the S (seen) flag, and a mail in cur/ with S is not read
 * again; over IMAP (libcurl: UID SEARCH, UID FETCH, UID STORE) it gets
 * \Seen and the keyword HeraldDone, and only mails without the keyword
 * are read. A mail that is no bounce, or names no message of herald's, is
 * left where it is and counted. VERP numbers are sequential, so anyone can
 * mail bounces+N@: a report is applied only when the recipient it names
 * (Final-Recipient, Original-Recipient, ARF's Original-Rcpt-To, else the
 * returned original's To) is, in the suppression list's normal form, the
 * address the message's accepted row says it went to; one that names
 * another, or none, is left and counted like a mail that is no bounce,
 * with a warning that gives the message's number and no address. One
 * whose message is not known yet cannot be checked: it is not kept
 * pending (hd_receipts_retry would apply it unchecked later) but left
 * unmarked, counted pending, and read again by the next fetch. With
 * dry_run nothing is applied or moved: each mail's reading is printed. */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "herald/dispatch.h"
#include "herald/dsn.h"

/* The provider a bounce is about: the one that sent its message, when the
 * store knows it and the configuration still has it (two providers may
 * share a bounce address, and a complaint may name only the message: a
 * review found either kept pending for good under the other provider);
 * else the one whose bounce_address the VERP address came back to, else
 * the first with a bounce_address; *out is NULL when none has one. */
static int provider_of(struct hd_mailbox *mb, const struct hd_dsn *d, const char **out,
                       struct hd_err *err)
{
    const struct hd_config *cfg = mb->c->cfg;
    char base[320], sent_by[128];
    int rc = hd_store_msg_sent_by(mb->c->st, d->ref, sent_by, sizeof sent_by, err);
    const struct hd_provider_cfg *p = sent_by[0] ? hd_config_provider(cfg, sent_by) : NULL;
    *out = p ? p->name : NULL;
    if (rc < 0 || p)
        return rc;
    if (!d->verp[0] || !hd_dsn_verp_ref(d->verp, base, sizeof base))
        base[0] = '\0';
    for (size_t i = 0; i < cfg->nproviders; i++) {
        const char *b = hd_provider_get(&cfg->providers[i], "bounce_address");
        if (!b)
            continue;
        if (!*out)
            *out = cfg->providers[i].name;
        if (base[0] && strcasecmp(b, base) == 0) {
            *out = cfg->providers[i].name;
            break;
        }
    }
    return 0;
}

/* Whether the report's recipient is the address t's message went to: an
 * email's accepted row (its address at send time, the one a suppression
 * would take, whatever the contact's address is now), compared in the
 * suppression list's normal form (hd_feedback_form: the domain checked,
 * the whole address in lower case). */
static bool same_recipient(const struct hd_dsn *d, const struct hd_receipt_found *t)
{
    char a[4200], b[4200];
    return t->channel == HD_CH_EMAIL && d->recipient[0] && t->address[0] &&
           strcmp(hd_feedback_form(d->recipient, HD_CH_EMAIL, a, sizeof a),
                  hd_feedback_form(t->address, HD_CH_EMAIL, b, sizeof b)) == 0;
}

/* hd_receipt_take for a report of the mailbox, its recipient checked
 * first: *result is -1 when it is not applied (left, with a warning), and
 * *kept says whether the mail may be marked. */
static int take(struct hd_mailbox *mb, const struct hd_dsn *d, const struct hd_receipt *r,
                const char *name, int *result, bool *kept, struct hd_err *err)
{
    struct hd_receipt_found t;
    int rc = hd_store_begin(mb->c->st, err);
    *result = -1;
    *kept = false;
    if (rc < 0)
        return rc;
    if ((rc = hd_receipt_look(mb->c, r, &t, err)) < 0)
        goto out;
    if (!t.found) {
        *result = HD_RCPT_PENDING; /* nothing to check it against: read again */
        hd_log_info(mb->log, "bounce mailbox: %s left: message %lld is not known yet", name,
                    (long long)d->ref);
    } else if (!same_recipient(d, &t)) {
        hd_log_warn(mb->log,
                    "bounce mailbox: %s left: message %lld: %s the address it was sent to: "
                    "not applied (a forged report?)",
                    name, (long long)d->ref,
                    d->recipient[0] ? "the recipient it names does not match"
                                    : "it names no recipient to check against");
    } else if ((rc = hd_receipt_keep_found(mb->c, r, &t, mb->now_ms, result, err)) == 0) {
        *kept = true;
    }
out:
    if (rc == 0 && *kept && (rc = hd_store_commit(mb->c->st, err)) == 0)
        return 0;
    hd_store_rollback(mb->c->st); /* a failure, or a report only read */
    *kept = false;
    return rc;
}

/* Reads one mail and applies it: *done says whether it may be marked
 * (also for mailbox_imap.c). */
int hd_mailbox_one(struct hd_mailbox *mb, const char *text, size_t len, const char *name,
                   bool *done, struct hd_err *err)
{
    struct hd_dsn d;
    struct hd_err pe = {0};
    *done = false;
    mb->sum.read++;
    if (hd_dsn_parse(text, len, mb->c->cfg->receipts.bounce_rules, &d, &pe) < 0 || !d.ref) {
        mb->sum.unparseable++;
        hd_log_info(mb->log, "bounce mailbox: %s left: %s", name,
                    pe.msg[0] ? pe.msg : "it names no message of herald's");
        return 0;
    }
    const char *provider;
    int rc = provider_of(mb, &d, &provider, err);
    if (rc < 0)
        return rc;
    if (!provider)
        return hd_err_set(err, HD_E_CONFIG,
                          "no provider has a bounce_address (set one on the SMTP provider)");
    static const char *const status[] = {"bounced", "complained", "delayed"};
    if (mb->dry_run) {
        printf("%s: %s message %lld %s %s %s %s (%s)\n", name, hd_dsn_kind_name(d.kind),
               (long long)d.ref, d.recipient[0] ? d.recipient : "-", d.status[0] ? d.status : "-",
               hd_bounce_class_name(d.bounce.cls), hd_bounce_severity_name(d.bounce.severity),
               d.diagnostic);
        return 0;
    }
    char gid[64];
    snprintf(gid, sizeof gid, HD_RECEIPT_MAILBOX "%lld", (long long)d.ref);
    struct hd_receipt r = {.message = d.ref,
                           .provider = provider,
                           .gateway_id = gid,
                           .status = status[d.kind],
                           .code = d.status[0] ? d.status : NULL,
                           .reason = d.diagnostic[0] ? d.diagnostic : NULL,
                           .received_ms = mb->now_ms};
    int result;
    if ((rc = take(mb, &d, &r, name, &result, done, err)) < 0)
        return rc;
    int64_t *n[] = {&mb->sum.applied, &mb->sum.pending, &mb->sum.duplicate};
    (*(result < 0 ? &mb->sum.unparseable : n[result]))++;
    return 0;
}

/* The name a mail in cur/ gets with the S flag ("NAME:2,FS"), flags kept
 * in ASCII order; false when it has it already. */
static bool seen_name(const char *name, char *out, size_t n)
{
    const char *info = strstr(name, ":2,");
    if (!info) {
        snprintf(out, n, "%s:2,S", name);
        return true;
    }
    if (strchr(info + 3, 'S'))
        return false;
    size_t k = (size_t)(info + 3 - name), o = 0;
    const char *f = info + 3;
    snprintf(out, n, "%.*s", (int)k, name);
    o = strlen(out);
    while (*f && *f < 'S' && o + 2 < n)
        out[o++] = *f++;
    out[o++] = 'S';
    snprintf(out + o, n - o, "%s", f);
    return true;
}

static int maildir_one(struct hd_mailbox *mb, const char *sub, const char *name, struct hd_err *err)
{
    char path[4352], dst[4352], seen[512];
    if (!seen_name(name, seen, sizeof seen))
        return 0; /* done before */
    snprintf(path, sizeof path, "%s/%s/%s", mb->maildir, sub, name);
    snprintf(dst, sizeof dst, "%s/cur/%s", mb->maildir, seen);
    struct hd_buf b;
    hd_buf_init(&b);
    if (hd_buf_read_file(&b, path) < 0) {
        /* gone meanwhile, or one that is no mail (a folder, a file it may
         * not read): left and counted, the rest still read (a review saw
         * one folder in new/ stop every bounce) */
        int e = errno;
        hd_buf_release(&b);
        if (e != ENOENT) {
            mb->sum.read++;
            mb->sum.unparseable++;
            hd_log_warn(mb->log, "bounce mailbox: %s left: cannot read it: %s", path, strerror(e));
        }
        return 0;
    }
    bool done = false;
    int rc = hd_mailbox_one(mb, b.data ? b.data : "", b.len, name, &done, err);
    hd_buf_release(&b);
    if (rc == 0 && done && rename(path, dst) < 0)
        rc = hd_err_set(err, HD_E_IO, "cannot move '%s' to '%s': %s", path, dst, strerror(errno));
    if (mb->progress)
        hd_progress_update(mb->progress, (uint64_t)mb->sum.read, (uint64_t)mb->sum.read);
    return rc;
}

static int maildir_fetch(struct hd_mailbox *mb, struct hd_err *err)
{
    static const char *const subs[] = {"new", "cur"};
    int rc = 0;
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/%s", mb->maildir, subs[i]);
        DIR *d = opendir(dir);
        if (!d)
            return hd_err_set(err, HD_E_IO, "cannot read the Maildir folder '%s': %s", dir,
                              strerror(errno));
        /* the names first: a mail moved into cur/ is not to be met again */
        char **names = NULL;
        size_t nn = 0, cap = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            if (nn == cap)
                names = hd_xrealloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);
            names[nn++] = hd_xstrdup(e->d_name);
        }
        closedir(d);
        for (size_t k = 0; k < nn; k++) {
            if (rc == 0)
                rc = maildir_one(mb, subs[i], names[k], err);
            free(names[k]);
        }
        free(names);
    }
    return rc;
}

int hd_mailbox_fetch(struct hd_mailbox *mb, struct hd_err *err)
{
    memset(&mb->sum, 0, sizeof mb->sum);
    int rc = mb->maildir    ? maildir_fetch(mb, err)
             : mb->imap_url ? hd_mailbox_imap(mb, err)
                            : hd_err_set(err, HD_E_CONFIG,
                                         "no bounce mailbox: give --maildir or --imap, or set "
                                         "[bounces] maildir or imap_url");
    /* reports kept earlier whose message is known now (herald serve does
     * the same for the gateways') */
    int64_t late = 0;
    if (rc == 0 && !mb->dry_run && (rc = hd_receipts_retry(mb->c, mb->now_ms, &late, err)) == 0 &&
        late)
        hd_log_info(mb->log, "bounce mailbox: %lld pending reports applied", (long long)late);
    return rc;
}
