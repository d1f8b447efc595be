/* importmap: the column map and the id set of an import (import_int.h).
 * A map is a short list read once per file, so a header looks it up by a
 * linear scan; the id set is a power-of-two open-addressing table kept at
 * most half full, of 8-byte slots (a hash and an index) pointing to entries
 * (the id's place in one arena of ids, and its line), so a check costs one
 * hash however many rows came before. */
#include "import_int.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "herald/hash.h"

struct hd_idslot {
    uint32_t hash;  /* of the id */
    uint32_t entry; /* index in entries + 1; 0 for an empty slot */
};

struct hd_identry {
    size_t off; /* the id in the arena */
    long line;
};

/* ---- the map ------------------------------------------------------------- */

static char *trimmed(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return hd_xstrndup(s, n);
}

static bool known_target(const char *to, const char *const *fields, bool (*is_attr)(const char *))
{
    for (size_t i = 0; fields[i]; i++)
        if (strcmp(to, fields[i]) == 0)
            return true;
    return strcmp(to, "updated_at") != 0 && is_attr(to);
}

/* One "FROM=TO" of n bytes at p, added to m. */
static int parse_item(struct hd_imap *m, const char *p, size_t n, const char *opt,
                      const char *const *fields, bool (*is_attr)(const char *), struct hd_err *err)
{
    const char *eq = memchr(p, '=', n);
    if (!eq)
        return hd_err_set(err, HD_E_USAGE, "%s: '%.*s' should be HEADER=FIELD, e.g. 'Mobile=phone'",
                          opt, (int)n, p);
    char *from = trimmed(p, (size_t)(eq - p)), *to = trimmed(eq + 1, (size_t)(p + n - eq - 1));
    int rc = 0;
    if (!*from)
        rc = hd_err_set(err, HD_E_USAGE, "%s: '%.*s' names no header before '='", opt, (int)n, p);
    else if (!known_target(to, fields, is_attr))
        rc = hd_err_set(
            err, HD_E_USAGE,
            "%s: '%s' is not a herald field (id, email, phone, locale, timezone, "
            "fcm_token, apns_token, jpush_id, hms_token, wechat_openid, created_at, country) or an "
            "attribute name "
            "(letters, digits and '_', starting with a letter)",
            opt, to);
    for (size_t i = 0; rc == 0 && i < m->n; i++)
        if (strcasecmp(m->items[i].from, from) == 0)
            rc = hd_err_set(err, HD_E_USAGE, "%s: header '%s' is mapped twice", opt, from);
    if (rc < 0) {
        free(from);
        free(to);
        return rc;
    }
    HD_GROW(m->items, m->n);
    m->items[m->n++] = (struct hd_imap_item){from, to, false};
    return 0;
}

int hd_imap_parse(struct hd_imap *m, const char *spec, const char *opt, const char *const *fields,
                  bool (*is_attr)(const char *), struct hd_err *err)
{
    const char *p = spec;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        size_t blank = 0;
        while (blank < n && isspace((unsigned char)p[blank]))
            blank++;
        int rc = blank == n ? 0 : parse_item(m, p, n, opt, fields, is_attr, err);
        if (rc < 0)
            return rc;
        p += n + (comma != NULL);
    }
    return 0;
}

const char *hd_imap_target(struct hd_imap *m, const char *header)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcasecmp(m->items[i].from, header) == 0) {
            m->items[i].used = true;
            return m->items[i].to;
        }
    return NULL;
}

size_t hd_imap_missing(const struct hd_imap *m, struct hd_buf *out)
{
    size_t lines = 0;
    for (size_t i = 0; i < m->n; i++) {
        const char *to = m->items[i].to;
        bool first = true, found = false;
        for (size_t j = 0; j < m->n; j++)
            if (strcmp(m->items[j].to, to) == 0) {
                first &= j >= i;
                found |= m->items[j].used;
            }
        if (!first || found)
            continue;
        hd_buf_addf(out, "no column for '%s' (looked for ", to);
        for (size_t j = i, k = 0; j < m->n; j++)
            if (strcmp(m->items[j].to, to) == 0)
                hd_buf_addf(out, "%s'%s'", k++ ? ", " : "", m->items[j].from);
        hd_buf_adds(out, ")\n");
        lines++;
    }
    return lines;
}

void hd_imap_release(struct hd_imap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->items[i].from);
        free(m->items[i].to);
    }
    free(m->items);
    m->items = NULL;
    m->n = 0;
}

/* ---- the ids of a file ------------------------------------------------------ */

void hd_idset_init(struct hd_idset *s)
{
    memset(s, 0, sizeof *s);
    hd_buf_init(&s->arena);
}

/* The slot holding id (of hash h), or the empty one where it would go.
 * Only a slot whose hash matches sends the probe to the entry and the
 * arena, so a new id costs about one cache miss. */
static struct hd_idslot *probe(const struct hd_idset *s, const char *id, uint32_t h)
{
    size_t k = h & s->mask;
    while (s->slot[k].entry &&
           (s->slot[k].hash != h ||
            strcmp(s->arena.data + s->entries[s->slot[k].entry - 1].off, id) != 0))
        k = (k + 1) & s->mask;
    return &s->slot[k];
}

static void grow(struct hd_idset *s)
{
    size_t size = s->slot ? 2 * (s->mask + 1) : 1024;
    struct hd_idslot *slot = hd_xcalloc(size, sizeof *slot);
    for (size_t k = 0; s->slot && k <= s->mask; k++) {
        size_t j = s->slot[k].hash & (size - 1);
        if (!s->slot[k].entry)
            continue;
        while (slot[j].entry)
            j = (j + 1) & (size - 1);
        slot[j] = s->slot[k];
    }
    free(s->slot);
    s->slot = slot;
    s->mask = size - 1;
}

long hd_idset_add(struct hd_idset *s, const char *id, long line)
{
    uint32_t h = (uint32_t)hd_hash64(id, strlen(id), 0);
    if (2 * (s->count + 1) > (s->slot ? s->mask + 1 : 0))
        grow(s);
    struct hd_idslot *slot = probe(s, id, h);
    if (slot->entry)
        return s->entries[slot->entry - 1].line;
    HD_GROW(s->entries, s->count);
    s->entries[s->count++] = (struct hd_identry){s->arena.len, line};
    *slot = (struct hd_idslot){h, (uint32_t)s->count};
    hd_buf_add(&s->arena, id, strlen(id) + 1);
    return 0;
}

void hd_idset_release(struct hd_idset *s)
{
    free(s->slot);
    free(s->entries);
    hd_buf_release(&s->arena);
    memset(s, 0, sizeof *s);
}
