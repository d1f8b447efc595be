/* fuzz_esp: libFuzzer target for the mail senders' event parsers (issue
 * 19), called as herald serve calls them once a request's signature is
 * checked: the input's first byte picks the sender (SendGrid's array of
 * events, Mailgun's event-data, Postmark's record, or an SNS envelope
 * whose Message is SES's notification), the rest is the body. A body is
 * signed by the sender, but the parsers must not trust its shape: never
 * crash, never read out of bounds, at most EVENTS_MAX events, each with a
 * status in herald's words and its strings NUL-terminated, a sender's id
 * cut to its buffer. Seed corpus: tests/fuzz/corpus/esp, the events of
 * tests/test_esp.c and test_esp_ids.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/serve/serve_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct hd_esp_event *e)
{
    static const char *const words[] = {"delivered", "bounced",      "undelivered", "complained",
                                        "opened",    "unsubscribed", "deferred"};
    bool known = false;
    for (size_t i = 0; e->status && i < sizeof words / sizeof *words; i++)
        known |= strcmp(e->status, words[i]) == 0;
    if (!known || e->message < 0)
        abort();
    const char *s[] = {e->gid, e->pid, e->code, e->reason};
    for (size_t i = 0; i < 4; i++)
        if (s[i] && strlen(s[i]) > 1u << 20)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const route[] = {"sendgrid/p", "mailgun/p", "postmark/p", "ses/p"};
    if (size < 1)
        return 0;
    int which = data[0] % 4;
    json_t *body = json_loadb((const char *)data + 1, size - 1, 0, NULL), *msg = NULL;
    if (which == 3) {
        struct hd_esp_event ev = {0};
        if (hd_sns_event_of(body, &msg, &ev) == 1)
            check(&ev);
    } else {
        struct hd_esp_events *ev = calloc(1, sizeof *ev);
        hd_esp_events_of(hd_esp_route(route[which]), body, ev);
        if (ev->n > EVENTS_MAX)
            abort();
        for (size_t i = 0; i < ev->n; i++) {
            check(&ev->v[i]);
            if (ev->v[i].pid && strlen(ev->v[i].pid) >= sizeof ev->pids[0] &&
                (const void *)ev->v[i].pid >= (const void *)ev->pids &&
                (const void *)ev->v[i].pid < (const void *)(ev + 1))
                abort();
        }
        free(ev);
    }
    json_decref(msg);
    json_decref(body);
    return 0;
}
