/* test_esp_parse: the mail senders' event parsers without a server
 * (hd_esp_events_of, hd_sns_event_of; issue 19), on what fuzz_esp found:
 * a time out of range (Mailgun's 1e93 seconds, SendGrid's largest
 * integer) made the event's time an undefined conversion; it must be 0,
 * "not said", and the event kept. Also the sender's own ids cut out of
 * their text: SendGrid's sg_message_id before its filter suffix, Mailgun's
 * Message-ID's UUID. */
#include "testutil.h"

#include "../src/serve/serve_int.h"

static struct hd_esp_events *parse(const char *route, const char *text)
{
    struct hd_esp_events *ev = hd_xcalloc(1, sizeof *ev);
    json_t *body = json_loads(text, 0, NULL);
    assert_non_null(body);
    hd_esp_events_of(hd_esp_route(route), body, ev);
    /* the events borrow from body: the test copies what it checks first */
    json_decref(body);
    return ev;
}

static void test_esp_parse_times(void **state)
{
    (void)state;
    struct hd_esp_events *ev =
        parse("mailgun/p", "{\"event-data\":{\"event\":\"delivered\",\"id\":\"a\",\"timestamp\":"
                           "1.73333e+93}}");
    assert_int_equal(ev->n, 1);
    assert_int_equal(ev->v[0].at_ms, 0);
    free(ev);
    ev = parse("mailgun/p",
               "{\"event-data\":{\"event\":\"delivered\",\"id\":\"a\",\"timestamp\":-5.5}}");
    assert_int_equal(ev->v[0].at_ms, 0);
    free(ev);
    ev = parse("mailgun/p", "{\"event-data\":{\"event\":\"delivered\",\"id\":\"a\",\"timestamp\":"
                            "1795000200.5}}");
    assert_int_equal(ev->v[0].at_ms, 1795000200500LL);
    free(ev);
    ev = parse("sendgrid/p", "[{\"event\":\"delivered\",\"timestamp\":9223372036854775807},"
                             "{\"event\":\"open\",\"timestamp\":1795000000}]");
    assert_int_equal(ev->n, 2);
    assert_int_equal(ev->v[0].at_ms, 0);
    assert_int_equal(ev->v[1].at_ms, 1795000000000LL);
    free(ev);
}

static void test_esp_parse_ids(void **state)
{
    (void)state;
    json_t *body = json_loads("[{\"event\":\"bounce\",\"sg_event_id\":\"e1\",\"sg_message_id\":"
                              "\"H000001.filterdrecv-5bf4c9c-1\"},{\"event\":\"delivered\"}]",
                              0, NULL);
    struct hd_esp_events *ev = hd_xcalloc(1, sizeof *ev);
    hd_esp_events_of(hd_esp_route("sendgrid/p"), body, ev);
    assert_int_equal(ev->n, 2);
    assert_string_equal(ev->v[0].pid, "H000001");
    assert_string_equal(ev->v[0].status, "bounced");
    assert_null(ev->v[1].pid);
    json_decref(body);
    free(ev);
    body = json_loads("{\"event-data\":{\"event\":\"complained\",\"id\":\"m\",\"message\":"
                      "{\"headers\":{\"message-id\":\"<0b5c-uuid@example.com>\"}}}}",
                      0, NULL);
    ev = hd_xcalloc(1, sizeof *ev);
    hd_esp_events_of(hd_esp_route("mailgun/p"), body, ev);
    assert_string_equal(ev->v[0].pid, "0b5c-uuid");
    json_decref(body);
    free(ev);
    /* SES through SNS: the event and mail.messageId */
    body = json_loads("{\"Type\":\"Notification\",\"MessageId\":\"s1\",\"Message\":"
                      "\"{\\\"notificationType\\\":\\\"Complaint\\\",\\\"mail\\\":"
                      "{\\\"messageId\\\":\\\"0100-abc\\\"}}\"}",
                      0, NULL);
    json_t *msg = NULL;
    struct hd_esp_event e;
    assert_int_equal(hd_sns_event_of(body, &msg, &e), 1);
    assert_string_equal(e.status, "complained");
    assert_string_equal(e.pid, "0100-abc");
    json_decref(msg);
    json_decref(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_esp_parse_times),
        cmocka_unit_test(test_esp_parse_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
