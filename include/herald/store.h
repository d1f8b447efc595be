/* store: the only module that speaks SQL. It opens the SQLite database (WAL,
 * foreign keys, busy timeout), migrates its schema forward on open using
 * PRAGMA user_version, and offers typed operations on contacts, push tokens,
 * consent, suppressions and attribute types. Every statement is prepared with
 * bound parameters; SQLite's errors come back as HD_E_STORE with its message. */
#ifndef HERALD_STORE_H
#define HERALD_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "herald/buf.h"
#include "herald/err.h"

struct hd_store;

struct hd_store_opts {
    int64_t busy_timeout_ms; /* wait this long for a lock; 0 means 5000 */
    bool create;             /* create the file if it does not exist */
    bool readonly;           /* open read-only (no migration is attempted) */
};

/* The schema version this build creates and understands. */
int hd_store_schema_version(void);

/* Opens (and migrates) the database at path. The caller frees *out. */
int hd_store_open(const char *path, const struct hd_store_opts *opts, struct hd_store **out,
                  struct hd_err *err);
void hd_store_free(struct hd_store *st);
/* The file's PRAGMA user_version. */
int hd_store_user_version(struct hd_store *st, int *version, struct hd_err *err);
/* Applies migrations up to target (<= hd_store_schema_version()); tests use it
 * to build databases of earlier versions. */
int hd_store_migrate(struct hd_store *st, int target, struct hd_err *err);
/* Opens without migrating (tests of old schemas). */
int hd_store_open_raw(const char *path, struct hd_store **out, struct hd_err *err);

int hd_store_begin(struct hd_store *st, struct hd_err *err);
int hd_store_commit(struct hd_store *st, struct hd_err *err);
void hd_store_rollback(struct hd_store *st);

/* ---- contacts -------------------------------------------------------------- */

enum hd_consent_status { HD_CONSENT_OPTED_IN = 1, HD_CONSENT_OPTED_OUT = 2 };

struct hd_consent {
    int channel;  /* enum hd_channel */
    int category; /* enum hd_category */
    int status;   /* enum hd_consent_status */
    char *source; /* who recorded it: "cli", "import", "gateway" */
    int64_t updated_at;
};

/* A stored contact. Strings are owned and NULL when absent; release with
 * hd_contact_release. */
struct hd_contact {
    int64_t id;   /* internal, monotonic */
    char *ext_id; /* the external id it was imported with */
    char *email;
    char *phone;    /* E.164 */
    char *locale;   /* BCP 47 */
    char *timezone; /* IANA */
    char *attrs;    /* JSON object text, never NULL in a stored contact */
    char *fcm_token;
    char *apns_token;
    int64_t created_at;
    int64_t updated_at;
    struct hd_consent *consent; /* explicit records only; absent means consent */
    size_t nconsent;
};

void hd_contact_release(struct hd_contact *c);

int hd_store_contact_get(struct hd_store *st, const char *ext_id, struct hd_contact *out,
                         struct hd_err *err);
int hd_store_contact_count(struct hd_store *st, int64_t *n, struct hd_err *err);
/* Calls cb for up to limit contacts (0: all) in id order, without their
 * consent records; cb returning non-zero stops the walk and is returned. */
typedef int (*hd_contact_cb)(void *ud, const struct hd_contact *c);
int hd_store_contact_each(struct hd_store *st, int64_t limit, hd_contact_cb cb, void *ud,
                          struct hd_err *err);
/* Erases the contact with its tokens and consent. HD_E_NOTFOUND if absent. */
int hd_store_contact_delete(struct hd_store *st, const char *ext_id, struct hd_err *err);
/* Records consent for one channel and category. HD_E_NOTFOUND if no contact. */
int hd_store_consent_set(struct hd_store *st, const char *ext_id, int channel, int category,
                         int status, const char *source, int64_t now, struct hd_err *err);

/* ---- import ---------------------------------------------------------------- */

/* One row to upsert. NULL strings are "not given": kept on update under
 * merge, cleared under replace. attrs is a JSON object text; under merge it is
 * merged into the stored one (RFC 7386: a null removes a key). */
struct hd_contact_row {
    const char *ext_id;
    const char *email;
    const char *phone;
    const char *locale;
    const char *timezone;
    const char *fcm_token;
    const char *apns_token;
    int64_t created_at; /* < 0: not given (now, for a new contact) */
    const char *attrs;  /* never NULL; "{}" when there are none */
    bool attrs_nulls;   /* attrs holds a null (to drop, not to store) */
};

enum hd_import_mode { HD_IMPORT_MERGE, HD_IMPORT_REPLACE };

struct hd_store_import;

/* Starts one transaction for a whole file and prepares its statements. */
int hd_store_import_begin(struct hd_store *st, enum hd_import_mode mode, int64_t now,
                          struct hd_store_import **out, struct hd_err *err);
int hd_store_import_row(struct hd_store_import *imp, const struct hd_contact_row *row,
                        struct hd_err *err);
/* Records an attribute's type if it is new (within the import's transaction). */
int hd_store_import_attr_type(struct hd_store_import *imp, const char *name, const char *type,
                              struct hd_err *err);
/* Commits (commit = true) or rolls back, reports how many contacts were new
 * and how many updated, and frees imp. */
int hd_store_import_end(struct hd_store_import *imp, bool commit, int64_t *inserted,
                        int64_t *updated, struct hd_err *err);

/* Known attribute types ("number", "boolean", "date", "string", "object",
 * "array"), as recorded by imports. cb gets each name and type. */
typedef int (*hd_attr_type_cb)(void *ud, const char *name, const char *type);
int hd_store_attr_types(struct hd_store *st, hd_attr_type_cb cb, void *ud, struct hd_err *err);

/* ---- suppressions ------------------------------------------------------------ */

struct hd_suppression {
    const char *address; /* lower-case email, E.164 phone, or push token */
    int channel;         /* enum hd_channel */
    const char *reason;  /* unsubscribed, hard_bounce, invalid_number, ... */
    int64_t created_at;
};

/* Adds or updates (the reason) a suppression. */
int hd_store_suppress_add(struct hd_store *st, const struct hd_suppression *s, struct hd_err *err);
/* HD_E_NOTFOUND if the address is not suppressed. */
int hd_store_suppress_remove(struct hd_store *st, const char *address, struct hd_err *err);
typedef int (*hd_suppression_cb)(void *ud, const struct hd_suppression *s);
int hd_store_suppress_each(struct hd_store *st, int channel, hd_suppression_cb cb, void *ud,
                           struct hd_err *err);

/* ---- segments ------------------------------------------------------------------ */

struct hd_seg_node;

/* Stores a segment's rule text. HD_E_EXISTS if it exists and !replace. */
int hd_store_segment_put(struct hd_store *st, const char *name, const char *expr, bool replace,
                         int64_t now, struct hd_err *err);
/* The rule text of a segment (the caller frees it); HD_E_NOTFOUND if none. */
int hd_store_segment_get(struct hd_store *st, const char *name, char **expr, struct hd_err *err);
typedef int (*hd_segment_cb)(void *ud, const char *name, const char *expr, int64_t updated_at);
int hd_store_segment_each(struct hd_store *st, hd_segment_cb cb, void *ud, struct hd_err *err);
int hd_store_segment_delete(struct hd_store *st, const char *name, struct hd_err *err);

/* Appends the SQL condition a rule compiles to (over "contacts c") and, if
 * params is given, its parameters as JSON values; returns their number. For
 * tests and for showing what a rule does. */
int hd_store_seg_sql(const struct hd_seg_node *ast, int64_t now, struct hd_buf *sql,
                     struct hd_buf *params);
/* How many contacts the rule selects at time now. */
int hd_store_seg_count(struct hd_store *st, const struct hd_seg_node *ast, int64_t now, int64_t *n,
                       struct hd_err *err);
/* Calls cb for each member (up to limit, 0: all), in id order or at random;
 * consent is not filled in. cb returning non-zero stops and is returned. */
int hd_store_seg_each(struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                      int64_t limit, bool random, hd_contact_cb cb, void *ud, struct hd_err *err);

#endif
