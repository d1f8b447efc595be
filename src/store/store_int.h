/* store_int: what the store's files share and nobody else sees. */
#ifndef HERALD_STORE_INT_H
#define HERALD_STORE_INT_H

#include <sqlite3.h>

#include "herald/store.h"

struct hd_store {
    sqlite3 *db;
    char *path;
};

/* Sets err from the connection's last error, prefixed with what failed. */
int hd_store_fail(struct hd_store *st, struct hd_err *err, const char *what);
/* Prepares sql (a literal) or fails with SQLite's message. */
int hd_store_prepare(struct hd_store *st, const char *sql, sqlite3_stmt **out, struct hd_err *err);
/* Runs statements without results. */
int hd_store_exec(struct hd_store *st, const char *sql, struct hd_err *err);
/* Binds s as text, or NULL when s is NULL. */
int hd_store_bind_text(sqlite3_stmt *stmt, int idx, const char *s);
/* Copies column i as a new string, or NULL. */
char *hd_store_col_dup(sqlite3_stmt *stmt, int i);

/* The columns hd_store_read_contact reads, for "SELECT " HD_CONTACT_COLS
 * " FROM contacts c ..." */
#define HD_CONTACT_COLS                                                                            \
    "c.id, c.ext_id, c.email, c.phone, c.locale, c.timezone, c.attrs, c.created_at, "              \
    "c.updated_at, "                                                                               \
    "(SELECT token FROM push_tokens WHERE contact_id = c.id AND platform = 'fcm'), "               \
    "(SELECT token FROM push_tokens WHERE contact_id = c.id AND platform = 'apns')"
/* Fills c (consent not included) from a row of HD_CONTACT_COLS. */
void hd_store_read_contact(sqlite3_stmt *s, struct hd_contact *c);

#endif
