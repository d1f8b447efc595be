/* tokens: the one-click benchmark's links. Reads "MESSAGE_ID CONTACT_ID"
 * lines (the queued messages of a materialized campaign, which the bench
 * script selects with the sqlite3 CLI) on stdin and prints, one a line,
 * the path /u/TOKEN of each message's unsubscribe link: the same
 * hd_token_links the dispatcher calls when it renders the message (email,
 * marketing, issued at NOW, signed with CONFIG's [serve] secret), so the
 * server checks exactly what a recipient's mail client would post.
 *   usage: tokens CONFIG NOW < pairs > paths */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/config.h"
#include "herald/token.h"

int main(int argc, char **argv)
{
    struct hd_config *cfg = NULL;
    struct hd_err err = {0};
    if (argc != 3) {
        fprintf(stderr, "usage: tokens CONFIG NOW < pairs > paths\n");
        return 2;
    }
    if (hd_config_load(argv[1], &cfg, &err) < 0) {
        fprintf(stderr, "tokens: %s\n", err.msg);
        return 1;
    }
    int64_t now = strtoll(argv[2], NULL, 10);
    size_t base = cfg->serve.public_url ? strlen(cfg->serve.public_url) : 0;
    long long msg, contact;
    long n = 0;
    char url[HD_LINK_MAX];
    while (scanf("%lld %lld", &msg, &contact) == 2) {
        struct hd_token t = {contact, msg, HD_CH_EMAIL, HD_CAT_MARKETING, 0};
        if (!hd_token_links(&cfg->serve, &t, now, url, NULL)) {
            fprintf(stderr, "tokens: [serve] needs public_url and a secret\n");
            hd_config_free(cfg);
            return 1;
        }
        puts(url + base);
        n++;
    }
    hd_config_free(cfg);
    return n > 0 ? 0 : 1;
}
