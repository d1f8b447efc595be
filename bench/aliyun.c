/* aliyun: the Aliyun SMS benchmark's herald side: N messages through the
 * aliyun_sms driver alone (no dispatcher) to the mock (tests/mock/aliyun.js)
 * on 127.0.0.1:PORT over CONNS connections, each request signed anew
 * (ACS3-HMAC-SHA256, a fresh nonce). Prints messages/s and how many were
 * accepted. With "request", prints one request signed the same way, for
 * wrk to post again and again: its path and query on the first line, then
 * its headers, one "Name: value" a line.
 *   usage: aliyun PORT N CONNS      (the secret in $BENCH_ALI_SECRET)
 *          aliyun request PORT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "herald/buf.h"
#include "herald/config.h"
#include "herald/driver.h"
#include "herald/log.h"
#include "herald/sign.h"
#include "drive.h"

#define KEY_ID "LTAI5tHeraldBenchKey1"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const struct hd_msg proto = {
    .channel = HD_CH_SMS,
    .category = HD_CAT_MARKETING,
    .to = "+8613800000001",
    .body = "【赫拉德】张三，您的会员将于3天后到期",
    .sms_template = "SMS_154950909",
    .sms_params = "{\"name\":\"张三\",\"days\":\"3\"}",
    .created = 1795334400,
};

static void param(struct hd_buf *q, const char *name, const char *value)
{
    if (q->len)
        hd_buf_addc(q, '&');
    hd_sign_pct(q, name);
    hd_buf_addc(q, '=');
    hd_sign_pct(q, value);
}

/* The request the driver makes for proto (aliyun.c: the query sorted by
 * name, the same signed headers), signed now. */
static int print_request(const char *port)
{
    const char *secret = getenv("BENCH_ALI_SECRET");
    if (!secret)
        return 2;
    char host[64], date[32], id[40], nonce[40];
    snprintf(host, sizeof host, "127.0.0.1:%s", port);
    hd_uuid(id);
    hd_uuid(nonce);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    struct hd_buf q, auth;
    hd_buf_init(&q);
    hd_buf_init(&auth);
    param(&q, "OutId", id);
    param(&q, "PhoneNumbers", proto.to);
    param(&q, "SignName", "赫拉德");
    param(&q, "TemplateCode", proto.sms_template);
    param(&q, "TemplateParam", proto.sms_params);
    hd_buf_addc(&q, '\0');
    const struct hd_sign_hdr h[] = {{"host", host},
                                    {"x-acs-action", "SendSms"},
                                    {"x-acs-content-sha256", EMPTY_SHA256},
                                    {"x-acs-date", date},
                                    {"x-acs-signature-nonce", nonce},
                                    {"x-acs-version", "2017-05-25"}};
    hd_sign_acs3(&auth, KEY_ID, secret, "POST", "/", q.data, h, 6, EMPTY_SHA256);
    hd_buf_addc(&auth, '\0');
    printf("/?%s\n", q.data);
    for (size_t i = 1; i < 6; i++)
        printf("%s: %s\n", h[i].name, h[i].value);
    printf("Authorization: %s\n", auth.data);
    hd_buf_release(&q);
    hd_buf_release(&auth);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "request") == 0)
        return print_request(argv[2]);
    if (argc != 4) {
        fprintf(stderr, "usage: aliyun PORT N CONNS | aliyun request PORT\n");
        return 2;
    }
    char conf[1024];
    snprintf(conf, sizeof conf,
             "[provider aliyun]\ntype = aliyun_sms\nbase_url = http://127.0.0.1:%s\n"
             "connections = %s\naccess_key_id = " KEY_ID "\n"
             "access_key_secret_env = BENCH_ALI_SECRET\nsign_name = 赫拉德\n",
             argv[1], argv[3]);
    struct hd_msg m = proto;
    return drive("aliyun", conf, &m, atol(argv[2]), 8000);
}
