/* cmd_nodes: `herald nodes`, the dispatchers (`herald run`, `herald
 * send`) that have used this store (issue 23): each with its host, process
 * id, herald's version, when it started, its last heartbeat and how long
 * ago, its state, and the messages it holds in flight. The state is read
 * from the beat: running while it beats within [dispatch] node_lease,
 * stopped once it exited cleanly, lost when it went quiet without
 * stopping (killed, frozen, cut off), whose messages on PostgreSQL another
 * node then takes back. Oldest first, in every --format. */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "cli.h"
#include "herald/store.h"
#include "herald/time.h"

static const char nodes_usage[] =
    "usage: herald nodes [--format table|csv|json|jsonl]\n"
    "\n"
    "The dispatchers (herald run, herald send) that have used this store, oldest\n"
    "first: id, host, process id, herald's version, when it started, its last\n"
    "heartbeat and how many seconds ago, its state and the messages it holds in\n"
    "flight. A node beats once a second while it runs; it is running while its\n"
    "last beat is within [dispatch] node_lease (30s), stopped once it exited\n"
    "cleanly, and lost when it went quiet without stopping: on a PostgreSQL\n"
    "store other nodes then put what it held back in the queue.\n";

static const char *const cols[] = {"id",        "host",  "pid",   "version",   "started",
                                   "last_beat", "ago_s", "state", "in_flight", NULL};

static int nodes_opt(void *ud, int id, const char *arg)
{
    (void)id;
    return cmd_format_arg("nodes", arg, FMTS_ALL, ud);
}

static const char *node_state(const struct hd_node *n, int64_t now, int64_t lease)
{
    if (n->stopped_at)
        return "stopped";
    return now - n->heartbeat_at > lease ? "lost" : "running";
}

static void print_node(struct cmd_out *o, const struct hd_node *n, int64_t now, int64_t lease)
{
    char started[32], beat[32];
    cmd_time(n->started_at, started, sizeof started);
    cmd_time(n->heartbeat_at, beat, sizeof beat);
    long long ago = now > n->heartbeat_at ? (long long)(now - n->heartbeat_at) : 0;
    const char *state = node_state(n, now, lease);
    if (o->format == FMT_TABLE)
        printf("%-5lld %-20s %-8lld %-8s %-20s %-20s %-7lld %-8s %lld\n", (long long)n->id, n->host,
               (long long)n->pid, n->version, started, beat, ago, state, (long long)n->held);
    else
        cmd_out_row(o,
                    json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:I, s:s, s:I}", "id",
                              (json_int_t)n->id, "host", n->host, "pid", (json_int_t)n->pid,
                              "version", n->version, "started", started, "last_beat", beat, "ago_s",
                              (json_int_t)ago, "state", state, "in_flight", (json_int_t)n->held));
}

int cmd_nodes(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"format", true, 'f', 0}, {0}};
    static const struct cli_spec spec = {"nodes", nodes_usage, opts, 0, NULL, NULL};
    int format = FMT_TABLE, rc;
    struct hd_err err = {0};
    struct hd_node *nodes = NULL;
    size_t n = 0;
    struct cmd_out o;
    if (cli_parse_n(&spec, 0, NULL, argc, argv, nodes_opt, &format, &rc) < 0)
        return rc;
    if (!ctx->store)
        return cmd_help(nodes_usage);
    /* beats are wall-clock seconds, on PostgreSQL the server's */
    int64_t now = 0;
    if ((rc = hd_store_nodes_list(ctx->store, &nodes, &n, &err)) < 0 ||
        (rc = hd_store_node_clock(ctx->store, hd_clock_now_ms(NULL) / 1000, &now, &err)) < 0) {
        free(nodes);
        return cmd_fail(ctx, &err);
    }
    cmd_out_begin(&o, format, cols);
    if (format == FMT_TABLE)
        printf("%-5s %-20s %-8s %-8s %-20s %-20s %-7s %-8s %s\n", "ID", "HOST", "PID", "VERSION",
               "STARTED", "LAST BEAT", "AGO (S)", "STATE", "IN FLIGHT");
    for (size_t i = 0; i < n; i++)
        print_node(&o, &nodes[i], now, ctx->cfg->node_lease);
    cmd_out_end(&o);
    free(nodes);
    return EXIT_OK;
}
