/* cmd_rfm: herald segment rfm, RFM layering: scores every contact with
 * events of one name in a window and defines the eight classic layers as
 * segments (audience/rfm.c), then prints each layer's size. Its own file
 * so that cmd_segment.c only hands the subcommand over. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "herald/segment.h"
#include "herald/store.h"
#include "herald/units.h"

static const char rfm_usage[] =
    "usage: herald segment rfm --event NAME --value PROPERTY [--window 365d] [--scores 5]\n"
    "\n"
    "Scores each contact with NAME events in the window: recency (its last\n"
    "one), frequency (how many) and monetary (the sum of PROPERTY), each 1 to\n"
    "S by quantiles over those contacts (equal values share the lower score),\n"
    "into the attributes rfm_r, rfm_f, rfm_m and rfm_at; a contact without such\n"
    "events loses its scores. Then defines (or refreshes) the eight layers as\n"
    "segments rfm_important_value ... rfm_general_win_back (a score above S/2 is\n"
    "high) and prints their sizes.\n";

struct rfm_args {
    struct hd_rfm_opts o;
    bool value;
};

static int rfm_opt(void *ud, int id, const char *arg)
{
    struct rfm_args *a = ud;
    char *end;
    switch (id) {
    case 'e':
        a->o.event = arg;
        return 0;
    case 'v':
        a->o.value = arg;
        a->value = true;
        return 0;
    case 'w':
        if (hd_units_duration(arg, &a->o.window, NULL) < 0)
            return cmd_usage("segment rfm", rfm_usage, "--window: '%s' is not a duration (365d)",
                             arg);
        return 0;
    default: /* 's' */
        a->o.scores = (int)strtol(arg, &end, 10);
        if (*end || a->o.scores < 2 || a->o.scores > 100)
            return cmd_usage("segment rfm", rfm_usage, "--scores: give 2 to 100");
        return 0;
    }
}

int cmd_segment_rfm(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"event", true, 'e', 0},
                                          {"value", true, 'v', 0},
                                          {"window", true, 'w', 0},
                                          {"scores", true, 's', 0},
                                          {0}};
    static const struct cli_spec spec = {"segment rfm", rfm_usage, opts, 0, NULL, NULL};
    struct rfm_args a = {.o = {.window = 365 * 86400LL, .scores = 5}};
    int rc, i = cli_parse(&spec, argc, argv, rfm_opt, &a, &rc);
    if (i < 0)
        return rc;
    if (i != argc)
        return cmd_usage("segment rfm", rfm_usage, "unexpected argument '%s'", argv[i]);
    if (!a.o.event || !a.value)
        return cmd_usage("segment rfm", rfm_usage, "give --event and --value");
    a.o.now = hd_clock_now(&ctx->clock);
    struct hd_err err = {0};
    int64_t scored = 0, counts[HD_RFM_LAYERS];
    if (hd_rfm_run(ctx->store, &a.o, &scored, counts, &err) < 0)
        return cmd_fail(ctx, &err);
    printf("scored %lld contacts with '%s' events (scores 1-%d, high above %d)\n",
           (long long)scored, a.o.event, a.o.scores, a.o.scores / 2);
    printf("%-24s %3s %3s %3s %9s  %s\n", "SEGMENT", "R", "F", "M", "CONTACTS", "LAYER");
    for (int k = 0; k < HD_RFM_LAYERS; k++) {
        const struct hd_rfm_layer *l = hd_rfm_layer(k);
        printf("%-24s %3s %3s %3s %9lld  %s %s\n", l->segment, l->r ? "hi" : "lo",
               l->f ? "hi" : "lo", l->m ? "hi" : "lo", (long long)counts[k], l->zh, l->en);
    }
    return EXIT_OK;
}
