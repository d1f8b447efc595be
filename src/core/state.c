/* state: the message state machine: a names table, a table of the legal
 * moves (legal[from] is a bit set of the states it may go to), and the one
 * function that changes a state and refuses any other move. */
#include "herald/state.h"

#include <string.h>

static const char *const names[HD_ST_COUNT] = {
    "queued",     "sending",       "sent",      "delivered",  "undelivered", "failed",
    "retry_wait", "deferred",      "held_out",  "suppressed", "no_channel",  "capped",
    "expired",    "render_failed", "cancelled", "bounced",    "complained"};

const char *hd_state_name(int state)
{
    return state >= 0 && state < HD_ST_COUNT ? names[state] : "?";
}

int hd_state_parse(const char *name)
{
    for (int i = 0; i < HD_ST_COUNT; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

#define B(s) (1u << (s))

/* legal[from]: the states it may move to */
static const unsigned legal[HD_ST_COUNT] = {
    [HD_ST_QUEUED] = B(HD_ST_SENDING) | B(HD_ST_DEFERRED) | B(HD_ST_HELD_OUT) |
                     B(HD_ST_SUPPRESSED) | B(HD_ST_NO_CHANNEL) | B(HD_ST_CAPPED) |
                     B(HD_ST_EXPIRED) | B(HD_ST_RENDER_FAILED) | B(HD_ST_CANCELLED),
    /* a lease that ran out (crash) puts a sending message back in the
     * queue; a claimed message is rendered after its claim commits
     * (dispatch/claim.c), so a render that fails ends a sending one; and
     * one claimed and not yet handed to a gateway when its campaign is
     * cancelled ends cancelled (dispatch/write.c's hd_dsp_put_back: the
     * move was missing, and a dispatcher that met it stopped with an
     * error) */
    [HD_ST_SENDING] = B(HD_ST_SENT) | B(HD_ST_RETRY_WAIT) | B(HD_ST_FAILED) | B(HD_ST_QUEUED) |
                      B(HD_ST_DEFERRED) | B(HD_ST_RENDER_FAILED) | B(HD_ST_CANCELLED),
    /* receipts: a complaint may come after a delivery report, never the
     * other way round, and nothing else follows a final report */
    [HD_ST_SENT] =
        B(HD_ST_DELIVERED) | B(HD_ST_UNDELIVERED) | B(HD_ST_BOUNCED) | B(HD_ST_COMPLAINED),
    [HD_ST_DELIVERED] = B(HD_ST_COMPLAINED),
    [HD_ST_RETRY_WAIT] = B(HD_ST_QUEUED) | B(HD_ST_EXPIRED) | B(HD_ST_CANCELLED),
    [HD_ST_DEFERRED] = B(HD_ST_QUEUED) | B(HD_ST_EXPIRED) | B(HD_ST_CANCELLED),
};

bool hd_state_terminal(int state)
{
    return state >= 0 && state < HD_ST_COUNT &&
           (state == HD_ST_SENT || state == HD_ST_DELIVERED || !legal[state]);
}

bool hd_state_failure(int state)
{
    return state == HD_ST_FAILED || state == HD_ST_UNDELIVERED || state == HD_ST_RENDER_FAILED ||
           state == HD_ST_BOUNCED;
}

bool hd_state_can(int from, int to)
{
    return from >= 0 && from < HD_ST_COUNT && to >= 0 && to < HD_ST_COUNT && (legal[from] & B(to));
}

int hd_state_move(int *state, int to, struct hd_err *err)
{
    if (!hd_state_can(*state, to))
        return hd_err_set(err, HD_E_INVALID, "a message cannot go from %s to %s",
                          hd_state_name(*state), hd_state_name(to));
    *state = to;
    return 0;
}
