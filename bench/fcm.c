/* fcm: the push benchmark's herald side: N messages through the FCM driver
 * alone (no dispatcher) to 127.0.0.1:PORT over CONNS connections, keeping
 * at most 8,000 queued, with the service account SA (whose token_uri is a
 * local stub). Prints messages/s and how many were accepted.
 *   usage: fcm PORT N CONNS SA
 *          fcm body   (prints the request body one message makes, so that
 *                      wrk can post the same bytes) */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/config.h"
#include "herald/driver.h"
#include "herald/log.h"
#include "drive.h"

static const struct hd_msg proto = {
    .channel = HD_CH_PUSH,
    .category = HD_CAT_MARKETING,
    .to = "cX9bench_device_token_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
          "0123456789abcdefghijklmnopqrstuvwxyz0123456789",
    .title = "We miss you, Ann",
    .body = "Your cart is waiting: 20% off everything until Sunday.",
    .data = "{\"deep_link\":\"app://cart\",\"campaign\":\"winback-7\"}",
    .created = 1795334400,
};

/* The same JSON the driver builds for proto (fcm.c: message, token,
 * notification, data as strings). */
static int print_body(void)
{
    json_t *data = json_loads(proto.data, 0, NULL);
    json_t *msg = json_pack("{s:s,s:{s:s,s:s},s:O}", "token", proto.to, "notification", "title",
                            proto.title, "body", proto.body, "data", data);
    json_t *root = json_pack("{s:o}", "message", msg);
    char *s = json_dumps(root, JSON_COMPACT);
    fputs(s, stdout);
    free(s);
    json_decref(root);
    json_decref(data);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "body") == 0)
        return print_body();
    if (argc != 5) {
        fprintf(stderr, "usage: fcm PORT N CONNS SA | fcm body\n");
        return 2;
    }
    long n = atol(argv[2]);
    char conf[4096];
    snprintf(conf, sizeof conf,
             "[provider fcm]\ntype = fcm\nbase_url = http://127.0.0.1:%s\nconnections = %s\n"
             "service_account_file = %s\n",
             argv[1], argv[3], argv[4]);
    struct hd_msg m = proto;
    int rc = drive("fcm", conf, &m, n, 8000);
    return rc;
}
