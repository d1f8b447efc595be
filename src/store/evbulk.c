/* evbulk: the events import's writer (herald events import), built for
 * millions of rows in one transaction. Three things make it fast:
 *  - each contact's external id is looked up once: a hash table maps the
 *    ids seen to row ids (0: no such contact), and event names are
 *    interned in a second one, so that a row held in memory is numbers;
 *  - rows are held in batches of BATCH and each batch is written sorted by
 *    the index's key (contact, name, time; ties in file order, so the first
 *    of two equal events is the one kept, as one by one), so that the index
 *    events(contact_id, name, at, value) takes them in runs, page by page,
 *    instead of one random page per row;
 *  - the page cache is large while the writer is open (hd_store_bulk).
 * One prepared INSERT OR IGNORE adds them; what it ignores was there.
 *
 * On PostgreSQL (issue 23) the same rows in the same order go through
 * db.h, with ON CONFLICT DO NOTHING, and each new row gets the id SQLite
 * would give it (the largest so far plus one; a duplicate takes none,
 * where PostgreSQL's sequence would spend one), under a lock on the
 * events table for the import (SQLite's holds the whole database); the
 * sequence is moved past them at the end. One statement per row: a
 * multi-row form is still to come. */
#include <stdlib.h>
#include <string.h>

#include "herald/hash.h"
#include "store_int.h"
#include "db.h"

#define BATCH (1u << 19)
#define CACHE_KIB 65536
#define TEXT_MAX (1u << 30)  /* a batch's properties, so that off fits */
#define NAMES_MAX (1u << 29) /* names interned, so that name fits */

/* A string -> int64 table, open addressing; keys live in one buffer. */
struct smap {
    struct sslot {
        size_t key; /* offset in keys + 1; 0: empty */
        int64_t v;
        uint64_t h;     /* the key's hash */
        char small[16]; /* a key shorter than 16 bytes, again: compared here, in the slot's
                         * cache line, a million contacts' keys are not one cache miss more */
    } * s;
    size_t mask, n;
    struct hd_buf keys;
};

/* 32 bytes, so that the sort moves them cheaply. text holds each row's
 * properties, or one NUL for a row without: off grows with every row, and
 * is the tie-break that keeps file order. */
struct ev_row {
    int64_t contact, at;
    double value;
    uint32_t name; /* interned name << 2 | HAS_VALUE | HAS_PROPS */
    uint32_t off;  /* in text */
};
#define HAS_VALUE 1u
#define HAS_PROPS 2u

struct hd_store_events {
    struct hd_store *st;
    sqlite3_stmt *find, *add;
    struct hd_db_stmt *dfind, *dadd; /* PostgreSQL's */
    int64_t next_id;                 /* PostgreSQL: the next new event's id */
    struct smap contacts, names;
    size_t *name_at; /* each interned name's offset in names.keys */
    struct ev_row *rows;
    size_t n;
    struct hd_buf text; /* the batch's properties */
    int64_t added, duplicate;
};

static void smap_init(struct smap *m)
{
    m->mask = 1023;
    m->n = 0;
    m->s = hd_xcalloc(m->mask + 1, sizeof *m->s);
    hd_buf_init(&m->keys);
}

static void smap_release(struct smap *m)
{
    free(m->s);
    hd_buf_release(&m->keys);
}

/* The slot of k, or the empty one where it goes (its hash set). */
static struct sslot *smap_find(struct smap *m, const char *k, size_t len, uint64_t h)
{
    for (size_t i = (size_t)h & m->mask;; i = (i + 1) & m->mask) {
        struct sslot *s = &m->s[i];
        if (!s->key) {
            s->h = h;
            return s;
        }
        if (s->h != h)
            continue;
        const char *have = len < sizeof s->small ? s->small : m->keys.data + s->key - 1;
        if (memcmp(have, k, len) == 0 && have[len] == '\0')
            return s;
    }
}

/* Adds k (not there) with value v. */
static void smap_add(struct smap *m, struct sslot *s, const char *k, size_t len, int64_t v)
{
    s->key = m->keys.len + 1;
    s->v = v;
    if (len < sizeof s->small)
        memcpy(s->small, k, len + 1);
    hd_buf_add(&m->keys, k, len + 1);
    if (++m->n * 2 <= m->mask)
        return;
    struct sslot *old = m->s;
    size_t size = m->mask + 1;
    m->mask = size * 2 - 1;
    m->s = hd_xcalloc(size * 2, sizeof *m->s);
    for (size_t i = 0; i < size; i++) {
        if (!old[i].key)
            continue;
        const char *key = m->keys.data + old[i].key - 1;
        *smap_find(m, key, strlen(key), old[i].h) = old[i];
    }
    free(old);
}

static int pg_begin(struct hd_store_events *w, struct hd_err *err)
{
    struct hd_db *db = w->st->conn;
    int rc;
    if ((rc = hd_store_begin(w->st, err)) < 0)
        return rc;
    if ((rc = hd_db_exec(db, "LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE", err)) < 0 ||
        (rc = hd_db_query_int64(db, "SELECT coalesce(max(id), 0) + 1 FROM events", &w->next_id,
                                err)) < 0 ||
        (rc = hd_db_prepare(db, "SELECT id FROM contacts WHERE ext_id = ?1", &w->dfind, err)) < 0 ||
        (rc = hd_db_prepare(db,
                            "INSERT INTO events (id, contact_id, name, at, value, props) VALUES "
                            "(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                            &w->dadd, err)) < 0)
        return hd_store_dfail(err, rc, "starting the events import");
    return 0;
}

/* contact_id()'s look-up on PostgreSQL. */
static int pg_find(struct hd_store_events *w, const char *ext, int64_t *id, struct hd_err *err)
{
    int step;
    *id = 0;
    hd_db_bind_text(w->dfind, 1, ext, NULL);
    while ((step = hd_db_step(w->dfind, err)) == 1)
        *id = hd_db_col_int64(w->dfind, 0);
    hd_db_reset(w->dfind);
    return step < 0 ? hd_store_dfail(err, HD_E_STORE, "finding the event's contact") : 0;
}

/* flush()'s writes on PostgreSQL: the rows sorted, one by one. */
static int pg_flush(struct hd_store_events *w, struct hd_err *err)
{
    for (size_t i = 0; i < w->n; i++) {
        const struct ev_row *r = &w->rows[i];
        struct hd_db_stmt *s = w->dadd;
        hd_db_bind_int64(s, 1, w->next_id, NULL);
        hd_db_bind_int64(s, 2, r->contact, NULL);
        hd_db_bind_text(s, 3, w->names.keys.data + w->name_at[r->name >> 2], NULL);
        hd_db_bind_int64(s, 4, r->at, NULL);
        if (r->name & HAS_VALUE)
            hd_db_bind(s, 5, &(struct hd_db_value){.type = HD_DB_REAL, .d = r->value}, NULL);
        else
            hd_db_bind_null(s, 5, NULL);
        hd_db_bind_text(s, 6, r->name & HAS_PROPS ? w->text.data + r->off : NULL, NULL);
        int step = hd_db_step(s, err);
        int64_t changed = hd_db_changes(s);
        hd_db_reset(s);
        if (step < 0)
            return hd_store_dfail(err, HD_E_STORE, "adding an event");
        if (changed) {
            w->added++;
            w->next_id++;
        } else {
            w->duplicate++;
        }
    }
    return 0;
}

int hd_store_events_begin(struct hd_store *st, struct hd_store_events **out, struct hd_err *err)
{
    struct hd_store_events *w = hd_xcalloc(1, sizeof *w);
    int rc;
    w->st = st;
    smap_init(&w->contacts);
    smap_init(&w->names);
    hd_buf_init(&w->text);
    w->rows = hd_xmalloc(BATCH * sizeof *w->rows);
    if (hd_store_is_pg(st)) {
        if ((rc = pg_begin(w, err)) < 0) {
            hd_store_events_end(w, false, NULL, NULL, NULL);
            return rc;
        }
        *out = w;
        return 0;
    }
    if ((rc = hd_store_bulk(st, CACHE_KIB, err)) < 0 || (rc = hd_store_begin(st, err)) < 0 ||
        (rc = hd_store_prepare(st, "SELECT id FROM contacts WHERE ext_id = ?1", &w->find, err)) <
            0 ||
        (rc = hd_store_prepare(st,
                               "INSERT OR IGNORE INTO events (contact_id, name, at, value, props) "
                               "VALUES (?1, ?2, ?3, ?4, ?5)",
                               &w->add, err)) < 0) {
        hd_store_events_end(w, false, NULL, NULL, NULL);
        return rc;
    }
    *out = w;
    return 0;
}

/* The row id of the contact with external id ext, 0 when there is none. */
static int contact_id(struct hd_store_events *w, const char *ext, int64_t *id, struct hd_err *err)
{
    size_t len = strlen(ext);
    struct sslot *s = smap_find(&w->contacts, ext, len, hd_hash64(ext, len, 0));
    if (s->key) {
        *id = s->v;
        return 0;
    }
    if (w->dfind) {
        int rc = pg_find(w, ext, id, err);
        if (rc == 0)
            smap_add(&w->contacts, s, ext, len, *id);
        return rc;
    }
    sqlite3_bind_text(w->find, 1, ext, (int)len, SQLITE_STATIC);
    int step = sqlite3_step(w->find);
    *id = step == SQLITE_ROW ? sqlite3_column_int64(w->find, 0) : 0;
    sqlite3_reset(w->find);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return hd_store_fail(w->st, err, "finding the event's contact");
    smap_add(&w->contacts, s, ext, len, *id);
    return 0;
}

static int64_t name_id(struct hd_store_events *w, const char *name)
{
    size_t len = strlen(name);
    struct sslot *s = smap_find(&w->names, name, len, hd_hash64(name, len, 0));
    if (s->key)
        return s->v;
    int64_t id = (int64_t)w->names.n;
    HD_GROW(w->name_at, w->names.n);
    w->name_at[id] = w->names.keys.len;
    smap_add(&w->names, s, name, len, id);
    return id;
}

static int row_cmp(const void *pa, const void *pb)
{
    const struct ev_row *a = pa, *b = pb;
    if (a->contact != b->contact)
        return a->contact < b->contact ? -1 : 1;
    if (a->name >> 2 != b->name >> 2)
        return a->name >> 2 < b->name >> 2 ? -1 : 1;
    if (a->at != b->at)
        return a->at < b->at ? -1 : 1;
    return a->off < b->off ? -1 : a->off > b->off;
}

static int flush(struct hd_store_events *w, struct hd_err *err)
{
    qsort(w->rows, w->n, sizeof *w->rows, row_cmp);
    if (w->dadd) {
        int rc = pg_flush(w, err);
        w->n = 0;
        hd_buf_reset(&w->text);
        return rc;
    }
    for (size_t i = 0; i < w->n; i++) {
        const struct ev_row *r = &w->rows[i];
        sqlite3_bind_int64(w->add, 1, r->contact);
        sqlite3_bind_text(w->add, 2, w->names.keys.data + w->name_at[r->name >> 2], -1,
                          SQLITE_STATIC);
        sqlite3_bind_int64(w->add, 3, r->at);
        if (r->name & HAS_VALUE)
            sqlite3_bind_double(w->add, 4, r->value);
        else
            sqlite3_bind_null(w->add, 4);
        hd_store_bind_text(w->add, 5, r->name & HAS_PROPS ? w->text.data + r->off : NULL);
        int step = sqlite3_step(w->add);
        sqlite3_reset(w->add);
        if (step != SQLITE_DONE)
            return hd_store_fail(w->st, err, "adding an event");
        if (sqlite3_changes(w->st->db))
            w->added++;
        else
            w->duplicate++;
    }
    w->n = 0;
    hd_buf_reset(&w->text);
    return 0;
}

int hd_store_events_add(struct hd_store_events *w, const struct hd_event *ev, bool *known,
                        struct hd_err *err)
{
    int64_t id;
    int rc = contact_id(w, ev->contact, &id, err);
    if (rc < 0)
        return rc;
    *known = id != 0;
    if (!id)
        return 0;
    if (w->names.n >= NAMES_MAX)
        return hd_err_set(err, HD_E_INVALID, "more than %u event names", NAMES_MAX);
    struct ev_row *r = &w->rows[w->n++];
    *r = (struct ev_row){.contact = id,
                         .at = ev->at,
                         .value = ev->value,
                         .name = (uint32_t)name_id(w, ev->name) << 2 |
                                 (ev->has_value ? HAS_VALUE : 0) | (ev->props ? HAS_PROPS : 0),
                         .off = (uint32_t)w->text.len};
    hd_buf_add(&w->text, ev->props ? ev->props : "", ev->props ? strlen(ev->props) + 1 : 1);
    return w->n == BATCH || w->text.len > TEXT_MAX ? flush(w, err) : 0;
}

int hd_store_events_end(struct hd_store_events *w, bool commit, int64_t *added, int64_t *duplicate,
                        struct hd_err *err)
{
    int rc = 0;
    if (!w)
        return 0;
    if (commit && (rc = flush(w, err)) == 0 && w->dadd &&
        (rc = hd_db_exec(w->st->conn,
                         "SELECT setval(pg_get_serial_sequence('events', 'id'), "
                         "coalesce(max(id), 0) + 1, false) FROM events",
                         err)) < 0)
        hd_store_dfail(err, rc, "adding events");
    if (commit && rc == 0)
        rc = hd_store_commit(w->st, err);
    if (!commit || rc < 0)
        hd_store_rollback(w->st);
    if (commit && rc == 0) {
        *added = w->added;
        *duplicate = w->duplicate;
    }
    sqlite3_finalize(w->find);
    sqlite3_finalize(w->add);
    hd_db_finalize(w->dfind);
    hd_db_finalize(w->dadd);
    hd_store_bulk(w->st, 0, NULL);
    smap_release(&w->contacts);
    smap_release(&w->names);
    free(w->name_at);
    free(w->rows);
    hd_buf_release(&w->text);
    free(w);
    return rc;
}
