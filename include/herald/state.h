/* state: the life of a queued message (shared vocabulary: the store keeps
 * these numbers, the dispatcher moves them), as in DESIGN.md:
 *
 *   queued -> sending -> sent -> delivered | undelivered      (receipts)
 *                                \-> bounced | complained (email receipts)
 *                                    delivered -> complained
 *     |          \-> retry_wait -> queued ...  \-> failed      (permanent / exhausted)
 *     \-> held_out | suppressed | no_channel | capped | expired | render_failed
 *   deferred (quiet hours, cap with on_cap = defer, provider paused) -> queued
 *   queued | deferred | retry_wait -> cancelled          (the campaign was cancelled)
 *
 * The numbers are stored in the database: never reorder them, only append.
 * hd_state_move is the only way a state changes: it refuses an illegal move. */
#ifndef HERALD_STATE_H
#define HERALD_STATE_H

#include <stdbool.h>

#include "herald/err.h"

enum hd_state {
    HD_ST_QUEUED,
    HD_ST_SENDING,
    HD_ST_SENT,
    HD_ST_DELIVERED,
    HD_ST_UNDELIVERED,
    HD_ST_FAILED,
    HD_ST_RETRY_WAIT,
    HD_ST_DEFERRED,
    HD_ST_HELD_OUT,
    HD_ST_SUPPRESSED,
    HD_ST_NO_CHANNEL,
    HD_ST_CAPPED,
    HD_ST_EXPIRED,
    HD_ST_RENDER_FAILED,
    HD_ST_CANCELLED,
    HD_ST_BOUNCED,
    HD_ST_COMPLAINED,
    HD_ST_COUNT
};

const char *hd_state_name(int state); /* "queued", ... */
int hd_state_parse(const char *name); /* -1 when unknown */
/* True for a state the dispatcher is done with: sent and delivered (only a
 * receipt moves them on), and every state with no way out. */
bool hd_state_terminal(int state);
/* True for a failure: the message was meant to go and did not (failed,
 * undelivered, render_failed, bounced). The other ends are a success (sent,
 * delivered) or a decision (held_out, suppressed, no_channel, capped,
 * expired, cancelled): `herald send` exits 3 for a failure, not for a
 * decision. */
bool hd_state_failure(int state);
/* True when from -> to is a legal move. */
bool hd_state_can(int from, int to);
/* Moves *state to `to`, or returns HD_E_INVALID naming both states. */
int hd_state_move(int *state, int to, struct hd_err *err);

#endif
