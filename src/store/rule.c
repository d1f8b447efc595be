/* rule: a segment's compiled rule as a db.h statement, for the sending
 * path on either engine (issue 23, stage 3b).
 *
 * segments.c compiles a rule for SQLite's sqlite3_stmt (hd_store_prepare_
 * rule); its PostgreSQL compiler comes with the audience's conversion.
 * Until then the sending path reaches the rule through here: on PostgreSQL
 * the condition and its parameters are taken from hd_store_seg_sql (the
 * text `segment show --sql` prints: the condition, then each parameter as
 * a JSON value) and prepared through db.h; a rule whose SQL PostgreSQL does
 * not take (SQLite's JSON functions, its date functions) fails there with
 * PostgreSQL's message, as a rule SQLite refuses fails on SQLite. On SQLite
 * nothing changes: hd_store_rule_check is hd_store_seg_check. When the
 * audience's compiler lands, hd_store_rule_prepare becomes a call to it. */
#include "store_int.h"

#include "db.h"

#include <jansson.h>
#include <string.h>

#include "herald/buf.h"

/* Binds the parameters hd_store_seg_sql wrote (JSON values, one space
 * between two, a newline after the last) from ?1 on. */
static int bind_params(struct hd_db_stmt *s, const char *p, int n, struct hd_err *err)
{
    for (int i = 1; i <= n; i++) {
        json_error_t je;
        json_t *v = json_loads(p, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &je);
        int rc = 0;
        if (!v)
            return hd_err_set(err, HD_E_INVALID, "the rule's parameter %d cannot be read: %s", i,
                              je.text);
        if (json_is_string(v))
            rc = hd_db_bind_text(s, i, json_string_value(v), err);
        else if (json_is_integer(v))
            rc = hd_db_bind_int64(s, i, json_integer_value(v), err);
        else
            rc = hd_db_bind(
                s, i, &(struct hd_db_value){.type = HD_DB_REAL, .d = json_number_value(v)}, err);
        json_decref(v);
        if (rc < 0)
            return rc;
        p += je.position;
        p += *p == ' ' || *p == '\n';
    }
    return 0;
}

int hd_store_rule_prepare(struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                          const char *head, const char *tail, struct hd_db_stmt **out,
                          struct hd_err *err)
{
    struct hd_buf cond, params, q;
    int rc;
    *out = NULL;
    hd_buf_init(&cond);
    hd_buf_init(&params);
    hd_buf_init(&q);
    int n = hd_store_seg_sql(ast, now, &cond, &params);
    hd_buf_addf(&q, "%s WHERE (%s)%s", head, cond.data ? cond.data : "", tail ? tail : "");
    if ((rc = hd_db_prepare(st->conn, q.data, out, err)) < 0)
        goto out;
    if ((rc = bind_params(*out, params.data ? params.data : "", n, err)) < 0) {
        hd_db_finalize(*out);
        *out = NULL;
    } else {
        rc = n;
    }
out:
    hd_buf_release(&cond);
    hd_buf_release(&params);
    hd_buf_release(&q);
    return rc;
}

int hd_store_rule_check(struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                        struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    if (!hd_store_is_pg(st))
        return hd_store_seg_check(st, ast, now, err);
    int rc = hd_store_rule_prepare(st, ast, now, "SELECT count(*) FROM contacts c", NULL, &s, err);
    hd_db_finalize(s);
    return rc < 0 ? rc : 0;
}
