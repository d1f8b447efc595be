/* cmd_bounces: herald bounces fetch, the bounce mailbox read once (issue
 * 19): the mailbox is --maildir or --imap, else [bounces] maildir or
 * imap_url; dispatch/mailbox.c reads, applies and marks each mail, and
 * this file prints the summary line (and, with --dry-run, one line a
 * mail, nothing applied). herald run's poll is here too: with [bounces]
 * poll set, a thread beside the dispatcher, on a store connection of its
 * own, fetches the configured mailbox every poll seconds until the run
 * stops (a failed fetch is logged and tried again next time), with the
 * configuration it started with (a reload does not reach it; the retired
 * configurations live until the run ends). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "herald/dispatch.h"

static const char bounces_usage[] =
    "usage: herald bounces fetch [--maildir DIR | --imap URL] [--dry-run]\n"
    "\n"
    "Reads the bounce mailbox that [provider NAME] bounce_address (VERP) sends\n"
    "bounces to: a Maildir (new/ and cur/) or an IMAP folder (imaps://host/INBOX,\n"
    "with [bounces] username and password_env or password_file), else [bounces]\n"
    "maildir or imap_url. Each delivery status notification (RFC 3464), complaint\n"
    "(RFC 5965 ARF) or plain bounce is applied to the message its VERP address\n"
    "names: the message bounces or is complained about, and the address is\n"
    "suppressed by the bounce rules. A mail applied is marked (Maildir: moved to\n"
    "cur/ with the S flag; IMAP: \\Seen and HeraldDone) and never read again; a\n"
    "mail that is no bounce is left in place and counted. --dry-run prints what\n"
    "each mail says and changes nothing.\n";

struct fetch_args {
    const char *maildir, *imap;
    bool dry;
};

static int fetch_opt(void *ud, int id, const char *arg)
{
    struct fetch_args *a = ud;
    if (id == 'm')
        a->maildir = arg;
    else if (id == 'i')
        a->imap = arg;
    else
        a->dry = true;
    return 0;
}

/* The mailbox of cfg, for one fetch on store st. */
static void mailbox_of(struct hd_ctx *ctx, const struct hd_config *cfg, struct hd_store *st,
                       struct hd_receipt_ctx *c, struct hd_mailbox *mb)
{
    const struct hd_bounces_cfg *bc = &cfg->bounces;
    *c = (struct hd_receipt_ctx){.st = st,
                                 .cfg = cfg,
                                 .soft_bounce_limit = (int)cfg->receipts.soft_bounce_limit,
                                 .soft_bounce_window = cfg->receipts.soft_bounce_window};
    *mb = (struct hd_mailbox){.c = c,
                              .maildir = bc->maildir,
                              .imap_url = bc->imap_url,
                              .username = bc->username,
                              .password = bc->password,
                              .ca_file = bc->ca_file,
                              .log = &ctx->log,
                              .now_ms = hd_clock_now_ms(&ctx->clock)};
}

int cmd_bounces(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"maildir", true, 'm', 0}, {"imap", true, 'i', 0}, {"dry-run", false, 'n', 0}, {0}};
    static const struct cli_spec spec = {"bounces fetch", bounces_usage, opts, 0, NULL, NULL};
    struct fetch_args a = {0};
    int rc;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return cmd_help(bounces_usage);
    if (argc < 2 || strcmp(argv[1], "fetch") != 0)
        return cmd_usage("bounces", bounces_usage, "the subcommand is fetch");
    argc--, argv++;
    if (cli_parse_n(&spec, 0, NULL, argc, argv, fetch_opt, &a, &rc) < 0)
        return rc;
    if (a.maildir && a.imap)
        return cmd_usage("bounces fetch", bounces_usage, "give --maildir or --imap, not both");
    char why[300];
    if (a.imap && hd_cfg_imap_url_check(a.imap, why, sizeof why) < 0)
        return cmd_usage("bounces fetch", bounces_usage, "--imap: %s", why);
    if (!ctx->store)
        return cmd_help(bounces_usage);
    struct hd_receipt_ctx c;
    struct hd_mailbox mb;
    struct hd_progress p;
    mailbox_of(ctx, ctx->cfg, ctx->store, &c, &mb);
    hd_progress_init(&p, ctx->progress, stderr, "mails", 0);
    if (a.maildir || a.imap) {
        mb.maildir = a.maildir;
        mb.imap_url = a.imap;
    }
    mb.dry_run = a.dry;
    mb.progress = &p;
    struct hd_err err = {0};
    rc = hd_mailbox_fetch(&mb, &err);
    hd_progress_finish(&p);
    if (rc < 0)
        return cmd_fail(ctx, &err);
    printf("%s%lld read: %lld applied, %lld pending (message not known yet), %lld already "
           "applied, %lld left (not a bounce)\n",
           a.dry ? "dry run: " : "", (long long)mb.sum.read, (long long)mb.sum.applied,
           (long long)mb.sum.pending, (long long)mb.sum.duplicate, (long long)mb.sum.unparseable);
    return EXIT_OK;
}

/* ---- herald run's poll ---------------------------------------------------------------- */

/* Milliseconds on the monotonic clock: the poll's interval is real time,
 * whatever the context's clock says (tests fix it). */
static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *poll_main(void *ud)
{
    struct cli_bounces_poll *bp = ud;
    struct hd_ctx *ctx = bp->ctx;
    int64_t every_ms = bp->cfg->bounces.poll * 1000, next = 0;
    struct timespec nap = {0, 100 * 1000 * 1000};
    while (!cli_stopped() && !bp->stop) {
        int64_t now = mono_ms();
        if (now < next) {
            nanosleep(&nap, NULL);
            continue;
        }
        next = now + every_ms;
        struct hd_receipt_ctx c;
        struct hd_mailbox mb;
        struct hd_err err = {0};
        mailbox_of(ctx, bp->cfg, bp->st, &c, &mb);
        if (hd_mailbox_fetch(&mb, &err) < 0)
            hd_log_error(&ctx->log, "bounce mailbox: %s (tried again in %llds)", err.msg,
                         (long long)bp->cfg->bounces.poll);
        else if (mb.sum.read)
            hd_log_info(&ctx->log,
                        "bounce mailbox: %lld read, %lld applied, %lld pending, %lld already "
                        "applied, %lld left",
                        (long long)mb.sum.read, (long long)mb.sum.applied,
                        (long long)mb.sum.pending, (long long)mb.sum.duplicate,
                        (long long)mb.sum.unparseable);
    }
    return NULL;
}

int cli_bounces_poll_start(struct hd_ctx *ctx, struct cli_bounces_poll *bp, struct hd_err *err)
{
    memset(bp, 0, sizeof *bp);
    const struct hd_bounces_cfg *bc = &ctx->cfg->bounces;
    if (bc->poll <= 0 || (!bc->maildir && !bc->imap_url))
        return 0;
    struct hd_store_opts o = {.busy_timeout_ms = ctx->cfg->busy_timeout * 1000,
                              .password = cmd_db_password(ctx, hd_ctx_db_path(ctx))};
    int rc = hd_store_open(hd_ctx_db_path(ctx), &o, &bp->st, err);
    if (rc < 0)
        return rc;
    bp->ctx = ctx;
    bp->cfg = ctx->cfg;
    if (pthread_create(&bp->th, NULL, poll_main, bp) != 0) {
        hd_store_free(bp->st);
        bp->st = NULL;
        return hd_err_set(err, HD_E_IO, "cannot start the bounce mailbox's thread");
    }
    bp->running = true;
    return 0;
}

void cli_bounces_poll_stop(struct cli_bounces_poll *bp)
{
    if (!bp->running)
        return;
    bp->stop = 1;
    pthread_join(bp->th, NULL);
    hd_store_free(bp->st);
    bp->running = false;
}
