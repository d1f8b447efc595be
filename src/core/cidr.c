/* cidr: address ranges, for [serve] metrics_allow. A range is kept as
 * family, address bytes and prefix length; matching compares the first
 * bits bytes-wise. An IPv4 peer that reaches an IPv6 socket arrives as
 * ::ffff:a.b.c.d and is matched as the IPv4 address it is. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "herald/config.h"

static int parse_one(const char *text, struct hd_cidr *c)
{
    char addr[64];
    const char *slash = strchr(text, '/');
    size_t n = slash ? (size_t)(slash - text) : strlen(text);
    if (n == 0 || n >= sizeof addr)
        return -1;
    memcpy(addr, text, n);
    addr[n] = '\0';
    memset(c, 0, sizeof *c);
    if (inet_pton(AF_INET, addr, c->addr) == 1)
        c->family = AF_INET, c->bits = 32;
    else if (inet_pton(AF_INET6, addr, c->addr) == 1)
        c->family = AF_INET6, c->bits = 128;
    else
        return -1;
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || b < 0 || b > c->bits)
            return -1;
        c->bits = (int)b;
    }
    return 0;
}

int hd_cidr_list_parse(const char *v, struct hd_cidr **out, size_t *n, char *why, size_t why_size)
{
    struct hd_cidr *list = NULL;
    size_t count = 0;
    const char *sep = " \t,";
    *out = NULL;
    *n = 0;
    if (strcmp(v, "none") == 0)
        return 0;
    for (const char *p = v + strspn(v, sep); *p; p += strspn(p, sep)) {
        size_t len = strcspn(p, sep);
        char one[64];
        snprintf(one, sizeof one, "%.*s", (int)len, p);
        HD_GROW(list, count);
        if (len >= sizeof one || parse_one(one, &list[count]) < 0) {
            snprintf(why, why_size, "'%.*s' is not an address range", (int)len, p);
            free(list);
            return -1;
        }
        count++;
        p += len;
    }
    *out = list;
    *n = count;
    return 0;
}

static bool in_range(const struct hd_cidr *c, const unsigned char *a)
{
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, a, (size_t)full) != 0)
        return false;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (a[full] & mask);
}

bool hd_cidr_match(const struct hd_cidr *c, size_t n, const struct sockaddr *sa)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const unsigned char *a;
    int family = sa ? sa->sa_family : AF_UNSPEC;
    if (family == AF_INET) {
        a = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    } else if (family == AF_INET6) {
        a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        if (memcmp(a, mapped, sizeof mapped) == 0)
            family = AF_INET, a += 12;
    } else {
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (c[i].family == family && in_range(&c[i], a))
            return true;
    return false;
}

void hd_cidr_format(const struct hd_cidr *c, char *out, size_t size)
{
    char a[INET6_ADDRSTRLEN];
    if (!inet_ntop(c->family, c->addr, a, sizeof a))
        snprintf(a, sizeof a, "?");
    snprintf(out, size, "%s/%d", a, c->bits);
}
