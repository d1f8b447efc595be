/* fuzz_segment: libFuzzer target for the segment rule parser and the SQL
 * compiler. Any input must parse or fail with a positioned message; a parsed
 * rule must compile to SQL that SQLite prepares against the tables it reads
 * (the columns it names; no constraints). */
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herald/segment.h"
#include "herald/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum hd_seg_vtype types(void *ud, const char *attr)
{
    (void)ud;
    if (strcmp(attr, "age") == 0)
        return SEGV_NUMBER;
    if (strcmp(attr, "last_active") == 0)
        return SEGV_DATE;
    if (strcmp(attr, "tags") == 0)
        return SEGV_ARRAY;
    if (strcmp(attr, "vip") == 0)
        return SEGV_BOOL;
    return SEGV_ANY;
}

static int lookup(void *ud, const char *name, char **expr, struct hd_err *err)
{
    (void)ud;
    (void)err;
    if (strcmp(name, "a") == 0)
        *expr = strdup("age > 3 or in_segment(\"b\")");
    else if (strcmp(name, "b") == 0)
        *expr = strdup("vip and in_segment(\"c\")");
    else if (strcmp(name, "c") == 0)
        *expr = strdup("in_segment(\"a\")");
    else
        return HD_E_NOTFOUND;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sqlite3 *db;
    if (!db) {
        sqlite3_open(":memory:", &db);
        sqlite3_exec(db,
                     "CREATE TABLE contacts (id INTEGER PRIMARY KEY, ext_id, email, phone, locale, "
                     "timezone, attrs, created_at, updated_at);"
                     "CREATE TABLE consent (contact_id, channel, category, status);"
                     "CREATE TABLE suppressions (address, channel, reason);"
                     "CREATE TABLE push_tokens (contact_id, platform, token);"
                     /* what behaviour rules read (issue 22) */
                     "CREATE TABLE events (contact_id, name, at, value, props);"
                     "CREATE TABLE sends (message_id, contact_id, at, campaign_id, category, "
                     "channel);"
                     "CREATE TABLE campaigns (id, name);"
                     "CREATE TABLE runs (id, campaign_id, fire_at);"
                     "CREATE TABLE messages (id, run_id, contact_id, state);"
                     "CREATE TABLE segments (name, expr);",
                     NULL, NULL, NULL);
    }
    char *expr = malloc(size + 1);
    memcpy(expr, data, size);
    expr[size] = '\0';
    struct hd_seg_opts o = {.name = "f", .now = 1795334400, .type_of = types, .lookup = lookup};
    struct hd_seg_node *t = NULL;
    struct hd_err err;
    if (hd_seg_parse(expr, &o, &t, &err) == 0) {
        struct hd_buf sql, q;
        hd_buf_init(&sql);
        hd_buf_init(&q);
        hd_store_seg_sql(t, o.now, &sql, NULL);
        hd_buf_addf(&q, "SELECT count(*) FROM contacts c WHERE %s", sql.data);
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(db, q.data, -1, &s, NULL) != SQLITE_OK)
            abort(); /* every rule that parses must compile to valid SQL */
        sqlite3_finalize(s);
        hd_buf_release(&sql);
        hd_buf_release(&q);
        hd_segast_free(t);
    }
    free(expr);
    return 0;
}
