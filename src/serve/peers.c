/* peers: the connections each client address holds, so that one address
 * cannot take the whole of [serve] connection_limit. A client that opened
 * 260 connections and sent a header line on each every few seconds kept
 * every other client out for as long as it liked (a review did: the idle
 * timeout starts again at every byte). libmicrohttpd asks hd_peers_admit
 * before it takes a connection and tells hd_peers_note when one starts and
 * ends; an address at [serve] connections_per_client is refused at once
 * (the connection closed, nothing answered), and the trusted proxies are
 * never held to it, since every client behind one shares its address.
 * The addresses are few (at most the connection limit at a time), so a
 * small array searched in order, under a mutex taken only when a
 * connection starts or ends, is enough. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "serve_int.h"

struct peer {
    unsigned char addr[16]; /* IPv6, an IPv4 address as IPv4-mapped */
    unsigned n;             /* its connections now; 0: a free slot */
};

struct hd_peers {
    pthread_mutex_t mu;
    unsigned per_client;
    const struct hd_serve_cfg *cfg; /* the trusted proxies */
    struct peer *v;
    size_t n;
};

struct hd_peers *hd_peers_new(const struct hd_serve_cfg *cfg)
{
    struct hd_peers *p = hd_xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    p->per_client = cfg->connections_per_client;
    p->cfg = cfg;
    return p;
}

void hd_peers_free(struct hd_peers *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->mu);
    free(p->v);
    free(p);
}

/* sa's address as 16 bytes; false for another family. */
static bool key_of(const struct sockaddr *sa, unsigned char out[16])
{
    if (sa && sa->sa_family == AF_INET6) {
        memcpy(out, ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr, 16);
        return true;
    }
    if (sa && sa->sa_family == AF_INET) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        memcpy(out, mapped, 12);
        memcpy(out + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return true;
    }
    return false;
}

/* The slot of addr, or NULL; *free_slot is the first free one (or NULL). */
static struct peer *find(struct hd_peers *p, const unsigned char addr[16], struct peer **free_slot)
{
    *free_slot = NULL;
    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i].n && memcmp(p->v[i].addr, addr, 16) == 0)
            return &p->v[i];
        if (!p->v[i].n && !*free_slot)
            *free_slot = &p->v[i];
    }
    return NULL;
}

bool hd_peers_admit(struct hd_peers *p, const struct sockaddr *sa)
{
    unsigned char k[16];
    if (!p->per_client || !key_of(sa, k) ||
        hd_cidr_match(p->cfg->trusted_proxies, p->cfg->ntrusted_proxies, sa))
        return true;
    struct peer *free_slot;
    pthread_mutex_lock(&p->mu);
    const struct peer *e = find(p, k, &free_slot);
    bool ok = !e || e->n < p->per_client;
    pthread_mutex_unlock(&p->mu);
    return ok;
}

void hd_peers_note(struct hd_peers *p, const struct sockaddr *sa, bool started)
{
    unsigned char k[16];
    if (!p->per_client || !key_of(sa, k))
        return;
    struct peer *free_slot;
    pthread_mutex_lock(&p->mu);
    struct peer *e = find(p, k, &free_slot);
    if (started) {
        if (!e && !free_slot) {
            HD_GROW(p->v, p->n);
            free_slot = &p->v[p->n++];
        }
        if (!e) {
            e = free_slot;
            memcpy(e->addr, k, 16);
            e->n = 0;
        }
        e->n++;
    } else if (e) {
        e->n--;
    }
    pthread_mutex_unlock(&p->mu);
}
