/* cmd_bounces: herald bounces fetch, the bounce mailbox read once (issue
 * 19): the mailbox is --maildir or --imap, else [bounces] maildir or
 * imap_url; dispatch/mailbox.c reads, applies and marks each mail, and
 * this file prints the summary line (and, with --dry-run, one line a
 * mail, nothing applied). */
#include <stdio.h>
#include <string.h>

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
    if (!ctx->store)
        return cmd_help(bounces_usage);
    const struct hd_config *cfg = ctx->cfg;
    const struct hd_bounces_cfg *bc = &cfg->bounces;
    struct hd_receipt_ctx c = {.st = ctx->store,
                               .cfg = cfg,
                               .soft_bounce_limit = (int)cfg->receipts.soft_bounce_limit,
                               .soft_bounce_window = cfg->receipts.soft_bounce_window};
    struct hd_progress p;
    hd_progress_init(&p, ctx->progress, stderr, "mails", 0);
    struct hd_mailbox mb = {.c = &c,
                            .maildir = a.maildir ? a.maildir
                                       : a.imap  ? NULL
                                                 : bc->maildir,
                            .imap_url = a.imap ? a.imap : bc->imap_url,
                            .username = bc->username,
                            .password = bc->password,
                            .ca_file = bc->ca_file,
                            .dry_run = a.dry,
                            .log = &ctx->log,
                            .progress = &p,
                            .now_ms = hd_clock_now_ms(&ctx->clock)};
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
