/* smtp: the email benchmark's herald side: N messages of about SIZE bytes
 * through the SMTP driver alone (no dispatcher) to 127.0.0.1:PORT over
 * CONNS connections, keeping at most 4,000 queued. Prints messages/s and
 * how many were accepted.
 *   usage: smtp PORT N CONNS SIZE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/config.h"
#include "herald/driver.h"
#include "herald/log.h"
#include "drive.h"

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: smtp PORT N CONNS SIZE\n");
        return 2;
    }
    long n = atol(argv[2]), size = atol(argv[4]);
    char conf[512];
    snprintf(conf, sizeof conf,
             "[provider sink]\ntype = smtp\nhost = 127.0.0.1\nport = %s\nstarttls = none\n"
             "from = Bench <bench@example.com>\nconnections = %s\n",
             argv[1], argv[3]);
    char *text = malloc((size_t)size + 1);
    for (long i = 0; i < size; i++)
        text[i] = i % 72 == 71 ? '\n' : (char)('a' + i % 26);
    text[size] = '\0';
    struct hd_msg m = {.channel = HD_CH_EMAIL,
                       .to = "sink@example.com",
                       .subject = "herald bench",
                       .text = text,
                       .created = 1795334400};
    int rc = drive("sink", conf, &m, n, 4000);
    free(text);
    return rc;
}
