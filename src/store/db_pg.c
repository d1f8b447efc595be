/* db_pg: the PostgreSQL engine behind db.h, over libpq.
 *
 * A statement is prepared on the server under a name of its own (hd1,
 * hd2, ... per connection) after its ? placeholders are numbered $1, $2,
 * ... and SQLite's ?NNN become $NNN (a ? inside '...' or "..." is text,
 * not a placeholder; a statement uses one form or the other), and
 * described once, so its columns' names and types are known before any
 * row. Parameters are sent as text (integers in decimal, reals with 17
 * digits, which read back exactly) and blobs in binary; the server infers
 * each parameter's type from where it stands. Results come in text, one
 * row at a time (libpq's single-row mode), so a SELECT of a whole table
 * holds one row in memory, not the table: hd_db_step reads the next row
 * from the socket. A connection runs one statement at a time (libpq's
 * rule): a statement whose rows are still being read must be finished or
 * reset before another starts, and is refused with a message otherwise.
 * A statement marked with hd_db_buffer reads its rows whole instead
 * (the connection is free again at its first step), for a loop whose
 * callback runs other statements. Columns are typed from their type OIDs as SQLite would type them
 * (integers and booleans, reals and numerics, bytea, the rest text).
 * libpq's notices ("already exists, skipping") are not printed. A target
 * is named in messages by what libpq parses from it (user, host, port and
 * database, never the password), so no spelling of a URI can carry its
 * password into a message; one libpq cannot parse (or reads a password
 * with a / in it as a port and a database) is neither shown nor given to
 * libpq, whose message would quote it. */
#include "db.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"
#include "herald/valid.h"

/* type OIDs (pg_type.h, stable across versions) */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_OID = 26,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_NUMERIC = 1700
};

struct pg_stmt;

struct pg {
    struct hd_db base;
    PGconn *conn;
    unsigned next_name;
    struct pg_stmt *active; /* the statement whose rows are being read */
};

struct pg_stmt {
    struct hd_db_stmt base;
    char name[16];
    int nparams;
    char **values; /* owned copies; NULL is SQL NULL */
    int *lengths;
    int *formats;          /* 1 for a blob (binary), else 0 */
    PGresult *desc;        /* the columns */
    PGresult *row;         /* the current row (single-row mode) */
    unsigned char **blobs; /* the current row's bytea, unescaped, per column */
    size_t *blob_lens;
    bool started, done;
    int64_t changes; /* the command's row count (PQcmdTuples) */
    bool buffered;   /* hd_db_buffer: all rows at the first step */
    PGresult *all;   /* ... kept here */
    int at;          /* the row of all being read */
};

static void no_notice(void *arg, const char *msg)
{
    (void)arg, (void)msg;
}

/* libpq's message on one line: its line ends, and the tabs that indent
 * the next line ("...refused\n\tIs the server running..."), become one
 * space; the trailing ones go. An error is printed as one line. */
static int fail_msg(struct hd_db *db, struct hd_err *err, const char *what, const char *msg)
{
    char line[512];
    size_t n = 0;
    for (const char *p = msg; *p && n + 1 < sizeof line; p++) {
        bool gap = *p == '\n' || *p == '\r' || *p == '\t';
        if (!gap)
            line[n++] = *p;
        else if (n && line[n - 1] != ' ')
            line[n++] = ' ';
    }
    while (n > 0 && line[n - 1] == ' ')
        n--;
    line[n] = '\0';
    return hd_err_set(err, HD_E_STORE, "database '%s': %s: %s", db->where, what, line);
}

static int fail_res(struct hd_db *db, struct hd_err *err, const char *what, const PGresult *res)
{
    const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    return fail_msg(db, err, what, m ? m : PQerrorMessage(((struct pg *)db)->conn));
}

/* Appends v to b with control characters as '?' (a decoded %0A must not
 * start a new line in a message). */
static void add_shown(struct hd_buf *b, const char *v)
{
    for (; *v; v++)
        hd_buf_addf(b, "%c", (unsigned char)*v < 0x20 || *v == 0x7f ? '?' : *v);
}

/* Frees a parse, its secrets wiped first. */
static void conninfo_free(PQconninfoOption *opts)
{
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (o->val &&
            (strcmp(o->keyword, "password") == 0 || strcmp(o->keyword, "sslpassword") == 0))
            OPENSSL_cleanse(o->val, strlen(o->val));
    PQconninfoFree(opts);
}

/* libpq's parse of target, or NULL when it cannot parse it or reads a
 * password written with a / as host:port/dbname (postgresql://u:p/w@db:
 * port "p", database "w@db"), a port not numeric or a database with an @;
 * free with conninfo_free. */
static PQconninfoOption *parse(const char *target)
{
    PQconninfoOption *opts = PQconninfoParse(target, NULL);
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        bool bad =
            o->val &&
            ((strcmp(o->keyword, "port") == 0 && o->val[strspn(o->val, "0123456789,")] != '\0') ||
             (strcmp(o->keyword, "dbname") == 0 && strchr(o->val, '@')));
        if (bad) {
            conninfo_free(opts);
            return NULL;
        }
    }
    return opts;
}

/* The target as messages show it: scheme://user@host:port/dbname, a
 * socket folder as ?host=; built from libpq's parse, never its text. */
char *hd_db_pg_redact(const char *target)
{
    PQconninfoOption *opts = parse(target);
    const char *user = NULL, *host = NULL, *port = NULL, *dbname = NULL;
    if (!opts)
        return hd_xstrdup("(a connection string libpq cannot parse)");
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        const char **slot = strcmp(o->keyword, "user") == 0     ? &user
                            : strcmp(o->keyword, "host") == 0   ? &host
                            : strcmp(o->keyword, "port") == 0   ? &port
                            : strcmp(o->keyword, "dbname") == 0 ? &dbname
                                                                : NULL;
        if (slot && o->val && *o->val)
            *slot = o->val;
    }
    struct hd_buf b;
    hd_buf_init(&b);
    bool socket = host && host[0] == '/';
    hd_buf_addf(&b, "%.*s", (int)(strstr(target, "://") - target + 3), target);
    if (user) {
        add_shown(&b, user);
        hd_buf_addf(&b, "@");
    }
    if (host && !socket)
        add_shown(&b, host);
    if (port) {
        hd_buf_addf(&b, ":");
        add_shown(&b, port);
    }
    hd_buf_addf(&b, "/");
    if (dbname)
        add_shown(&b, dbname);
    if (socket) {
        hd_buf_addf(&b, "?host=");
        add_shown(&b, host);
    }
    conninfo_free(opts);
    return hd_buf_detach(&b, NULL);
}

/* Whether libpq can parse target: its own message on a bad one may quote
 * any part of it, the password included, so it is never shown. */
static bool parses(const char *target)
{
    PQconninfoOption *opts = parse(target);
    conninfo_free(opts);
    return opts != NULL;
}

static void pg_close(struct hd_db *db)
{
    struct pg *p = (struct pg *)db;
    PQfinish(p->conn);
    free(p->base.where);
    free(p);
}

static int pg_open(const char *target, const char *password, bool create, struct hd_db **out,
                   struct hd_err *err)
{
    (void)create; /* a PostgreSQL database is made by its administrator */
    const char *keys[6] = {
        "connect_timeout", "fallback_application_name", "dbname", "client_encoding", NULL, NULL};
    const char *vals[6] = {"10", "herald", target, "UTF8", NULL, NULL};
    if (password)
        keys[4] = "password", vals[4] = password;
    struct pg *p = hd_xcalloc(1, sizeof *p);
    p->base.ops = &hd_db_pg_ops;
    p->base.where = hd_db_redact(target);
    if (!parses(target)) {
        int rc = hd_err_set(err, HD_E_USAGE,
                            "database '%s': check the URI's syntax (libpq's message is not "
                            "shown: it may quote the password)",
                            p->base.where);
        pg_close(&p->base);
        return rc;
    }
    p->conn = PQconnectdbParams(keys, vals, 1);
    if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
        int rc = fail_msg(&p->base, err, "cannot connect",
                          p->conn ? PQerrorMessage(p->conn) : "out of memory");
        pg_close(&p->base);
        return rc;
    }
    PQsetNoticeProcessor(p->conn, no_notice, NULL);
    *out = &p->base;
    return 0;
}

static int busy(struct pg *p, struct hd_err *err)
{
    if (!p->active)
        return 0;
    return hd_err_set(err, HD_E_STORE,
                      "database '%s': a statement's rows are still being read (finish or reset "
                      "it first)",
                      p->base.where);
}

static int pg_exec(struct hd_db *db, const char *sql, struct hd_err *err)
{
    struct pg *p = (struct pg *)db;
    int rc = busy(p, err);
    if (rc < 0 || (rc = hd_db_deferred(db, true, err)) < 0)
        return rc;
    PGresult *res = PQexec(p->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = fail_res(db, err, "exec", res);
    PQclear(res);
    return rc;
}

/* sql with its ? numbered $1.. ; *n: how many; used[k - 1] is set for each
 * $k that occurs (up to 64). The caller frees. */
static char *number_params(const char *sql, int *n, bool used[64])
{
    struct hd_buf b;
    hd_buf_init(&b);
    char quote = 0;
    *n = 0;
    memset(used, 0, 64 * sizeof *used);
    for (const char *c = sql; *c; c++) {
        if (quote) {
            if (*c == quote)
                quote = 0; /* '' (an escaped quote) closes and opens again */
            hd_buf_addf(&b, "%c", *c);
        } else if (*c == '\'' || *c == '"') {
            quote = *c;
            hd_buf_addf(&b, "%c", *c);
        } else if (*c == '?' && c[1] >= '1' && c[1] <= '9') {
            /* ?NNN, SQLite's numbered form, as the store's files write it */
            char *end;
            long k = strtol(c + 1, &end, 10);
            hd_buf_addf(&b, "$%ld", k);
            if (k > *n)
                *n = (int)k;
            if (k <= 64)
                used[k - 1] = true;
            c = end - 1;
        } else if (*c == '?') {
            hd_buf_addf(&b, "$%d", ++*n);
            if (*n <= 64)
                used[*n - 1] = true;
        } else {
            hd_buf_addf(&b, "%c", *c);
        }
    }
    return hd_buf_detach(&b, NULL);
}

static int pg_prepare(struct hd_db *db, const char *sql, struct hd_db_stmt **out,
                      struct hd_err *err)
{
    struct pg *p = (struct pg *)db;
    int rc = busy(p, err), n;
    bool used[64];
    Oid types[64] = {0};
    if (rc < 0)
        return rc;
    char *text = number_params(sql, &n, used);
    /* a number a statement skips (a filter left out of log.c's query)
     * has no type to infer: it is text, bound or not */
    for (int i = 0; i < n && i < 64; i++)
        types[i] = used[i] ? 0 : OID_TEXT;
    struct pg_stmt *s = hd_xcalloc(1, sizeof *s);
    s->base.db = db;
    snprintf(s->name, sizeof s->name, "hd%u", ++p->next_name);
    PGresult *res = PQprepare(p->conn, s->name, text, n < 64 ? n : 64, types);
    free(text);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = fail_res(db, err, "preparing", res);
        PQclear(res);
        free(s);
        return rc;
    }
    PQclear(res);
    s->desc = PQdescribePrepared(p->conn, s->name);
    if (PQresultStatus(s->desc) != PGRES_COMMAND_OK) {
        rc = fail_res(db, err, "describing", s->desc);
        PQclear(s->desc);
        free(s);
        return rc;
    }
    s->nparams = n;
    s->values = hd_xcalloc((size_t)n + 1, sizeof *s->values);
    s->lengths = hd_xcalloc((size_t)n + 1, sizeof *s->lengths);
    s->formats = hd_xcalloc((size_t)n + 1, sizeof *s->formats);
    s->blobs = hd_xcalloc((size_t)PQnfields(s->desc) + 1, sizeof *s->blobs);
    s->blob_lens = hd_xcalloc((size_t)PQnfields(s->desc) + 1, sizeof *s->blob_lens);
    *out = &s->base;
    return 0;
}

static int pg_bind(struct hd_db_stmt *st, int idx, const struct hd_db_value *v, struct hd_err *err)
{
    struct pg_stmt *s = (struct pg_stmt *)st;
    char num[40];
    if (idx < 1 || idx > s->nparams)
        return hd_err_set(err, HD_E_STORE, "database '%s': no parameter %d (of %d)", st->db->where,
                          idx, s->nparams);
    char **slot = &s->values[idx - 1];
    free(*slot);
    *slot = NULL;
    s->formats[idx - 1] = 0;
    s->lengths[idx - 1] = 0;
    switch (v->type) {
    case HD_DB_INT:
        snprintf(num, sizeof num, "%" PRId64, v->i);
        *slot = hd_xstrdup(num);
        break;
    case HD_DB_REAL:
        snprintf(num, sizeof num, "%.17g", v->d);
        *slot = hd_xstrdup(num);
        break;
    case HD_DB_TEXT:
    case HD_DB_BLOB:
        *slot = hd_xmalloc(v->len + 1);
        memcpy(*slot, v->p, v->len);
        (*slot)[v->len] = '\0';
        /* the server refuses text that is not UTF-8, where SQLite keeps
         * the bytes: made well-formed, it is stored on both */
        if (v->type == HD_DB_TEXT && !hd_valid_utf8(*slot, v->len) && hd_utf8_scrub(*slot))
            s->lengths[idx - 1] = (int)strlen(*slot);
        else
            s->lengths[idx - 1] = (int)v->len;
        s->formats[idx - 1] = v->type == HD_DB_BLOB;
        break;
    default:
        break;
    }
    return 0;
}

static void drop_row(struct pg_stmt *s)
{
    if (s->row != s->all)
        PQclear(s->row);
    s->row = NULL;
    for (int i = 0; i < PQnfields(s->desc); i++) {
        PQfreemem(s->blobs[i]);
        s->blobs[i] = NULL;
    }
}

/* Reads what is left of the statement's results, so the connection can
 * run the next one. */
static void drain(struct pg_stmt *s)
{
    struct pg *p = (struct pg *)s->base.db;
    PGresult *res;
    drop_row(s);
    PQclear(s->all);
    s->all = NULL;
    if (p->active == s) {
        while ((res = PQgetResult(p->conn)))
            PQclear(res);
        p->active = NULL;
    }
}

static int start(struct pg_stmt *s, struct hd_err *err)
{
    struct pg *p = (struct pg *)s->base.db;
    int rc = busy(p, err);
    if (rc < 0 || (rc = hd_db_deferred(&p->base, true, err)) < 0)
        return rc;
    s->changes = 0;
    if (!PQsendQueryPrepared(p->conn, s->name, s->nparams, (const char *const *)s->values,
                             s->lengths, s->formats, 0))
        return fail_msg(&p->base, err, "sending", PQerrorMessage(p->conn));
    if (!s->buffered)
        PQsetSingleRowMode(p->conn);
    p->active = s;
    s->started = true;
    return 0;
}

static int pg_step(struct hd_db_stmt *st, struct hd_err *err)
{
    struct pg_stmt *s = (struct pg_stmt *)st;
    struct pg *p = (struct pg *)st->db;
    int rc = 0;
    drop_row(s);
    if (s->all && ++s->at < PQntuples(s->all)) {
        s->row = s->all;
        return 1;
    }
    if (s->done)
        return 0;
    if (!s->started && (rc = start(s, err)) < 0)
        return rc;
    PGresult *res;
    while ((res = PQgetResult(p->conn))) {
        ExecStatusType status = PQresultStatus(res);
        if (status == PGRES_SINGLE_TUPLE && rc == 0) {
            s->row = res;
            return 1;
        }
        if (status == PGRES_TUPLES_OK && s->buffered && rc == 0 && !s->all) {
            s->all = res, s->at = 0; /* read on once the connection is free */
            continue;
        }
        if (status == PGRES_COMMAND_OK)
            s->changes = strtoll(PQcmdTuples(res), NULL, 10);
        else if (status != PGRES_TUPLES_OK && rc == 0)
            rc = fail_res(st->db, err, "step", res);
        PQclear(res); /* the end of the rows, or what follows an error */
    }
    p->active = NULL;
    s->done = true;
    if (rc == 0 && s->all && PQntuples(s->all) > 0) {
        s->row = s->all;
        return 1;
    }
    return rc;
}

static void pg_buffer(struct hd_db_stmt *st)
{
    ((struct pg_stmt *)st)->buffered = true;
}

static void pg_reset(struct hd_db_stmt *st)
{
    struct pg_stmt *s = (struct pg_stmt *)st;
    drain(s);
    s->started = s->done = false;
}

static void pg_finalize(struct hd_db_stmt *st)
{
    struct pg_stmt *s = (struct pg_stmt *)st;
    struct pg *p = (struct pg *)st->db;
    char sql[32];
    drain(s);
    snprintf(sql, sizeof sql, "DEALLOCATE %s", s->name);
    if (PQstatus(p->conn) == CONNECTION_OK && PQtransactionStatus(p->conn) != PQTRANS_INERROR)
        PQclear(PQexec(p->conn, sql)); /* else it goes with the connection or the rollback */
    for (int i = 0; i < s->nparams; i++)
        free(s->values[i]);
    free(s->values);
    free(s->lengths);
    free(s->formats);
    free(s->blobs);
    free(s->blob_lens);
    PQclear(s->desc);
    free(s);
}

static int pg_ncols(struct hd_db_stmt *st)
{
    return PQnfields(((struct pg_stmt *)st)->desc);
}

static const char *pg_col_name(struct hd_db_stmt *st, int i)
{
    return PQfname(((struct pg_stmt *)st)->desc, i);
}

/* The text PostgreSQL sends for an integer type (int8out and its
 * kin): an optional '-' and decimal digits. strtoll, which also reads
 * spaces, signs, bases and overflow, took 160 instructions a column, and
 * the claim reads a dozen a message. */
static int64_t pg_int(const char *t)
{
    bool neg = *t == '-';
    uint64_t u = 0;
    for (t += neg; *t >= '0' && *t <= '9'; t++)
        u = u * 10 + (uint64_t)(*t - '0');
    return (int64_t)(neg ? 0 - u : u);
}

static void pg_column(struct hd_db_stmt *st, int i, struct hd_db_value *v)
{
    struct pg_stmt *s = (struct pg_stmt *)st;
    int r = s->row == s->all ? s->at : 0;
    memset(v, 0, sizeof *v);
    if (!s->row || i < 0 || i >= PQnfields(s->row) || PQgetisnull(s->row, r, i))
        return; /* HD_DB_NULL */
    const char *text = PQgetvalue(s->row, r, i);
    switch (PQftype(s->row, i)) {
    case OID_BOOL:
        v->type = HD_DB_INT, v->i = text[0] == 't';
        break;
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
        v->type = HD_DB_INT, v->i = pg_int(text);
        break;
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC:
        v->type = HD_DB_REAL, v->d = strtod(text, NULL);
        break;
    case OID_BYTEA:
        if (!s->blobs[i])
            s->blobs[i] = PQunescapeBytea((const unsigned char *)text, &s->blob_lens[i]);
        v->type = HD_DB_BLOB, v->p = s->blobs[i], v->len = s->blob_lens[i];
        break;
    default:
        v->type = HD_DB_TEXT, v->p = text, v->len = (size_t)PQgetlength(s->row, r, i);
    }
}

static int64_t pg_changes(struct hd_db_stmt *st)
{
    return ((struct pg_stmt *)st)->changes;
}

const struct hd_db_ops hd_db_pg_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .bind = pg_bind,
    .step = pg_step,
    .reset = pg_reset,
    .finalize = pg_finalize,
    .ncols = pg_ncols,
    .col_name = pg_col_name,
    .column = pg_column,
    .changes = pg_changes,
    .buffer = pg_buffer,
};

/* Wake-ups (store/notify.c): what LISTEN/NOTIFY needs of a connection,
 * which db.h's engine-neutral calls do not say. */
bool hd_db_pg_in_transaction(struct hd_db *db)
{
    if (!hd_db_is_pg(db))
        return false;
    PGTransactionStatusType t = PQtransactionStatus(((struct pg *)db)->conn);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
}

int hd_db_pg_socket(struct hd_db *db)
{
    return hd_db_is_pg(db) ? PQsocket(((struct pg *)db)->conn) : -1;
}

int hd_db_pg_backend(struct hd_db *db)
{
    return hd_db_is_pg(db) ? PQbackendPID(((struct pg *)db)->conn) : 0;
}

bool hd_db_lost(struct hd_db *db)
{
    return hd_db_is_pg(db) && PQstatus(((struct pg *)db)->conn) != CONNECTION_OK;
}

int hd_db_pg_notifications(struct hd_db *db, int self, hd_db_note_fn fn, void *ud)
{
    struct pg *p = (struct pg *)db;
    int n = 0;
    if (!hd_db_is_pg(db) || PQstatus(p->conn) != CONNECTION_OK || !PQconsumeInput(p->conn))
        return -1;
    for (PGnotify *note; (note = PQnotifies(p->conn)) != NULL; PQfreemem(note))
        if (note->be_pid != self) {
            fn(ud, note->relname, note->extra);
            n++;
        }
    /* a server that went away can leave the socket readable and the
     * status still OK until the next read: that read is the one above */
    return PQstatus(p->conn) == CONNECTION_OK ? n : -1;
}
