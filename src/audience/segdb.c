/* segdb: rules parsed against the store: attribute types from the
 * attributes table (recorded by imports), in_segment() from stored rules. */
#include <stdlib.h>
#include <string.h>

#include "herald/segment.h"
#include "herald/store.h"

struct types {
    char **names;
    enum hd_seg_vtype *types;
    size_t n;
};

static int add_type(void *ud, const char *name, const char *type)
{
    static const struct {
        const char *name;
        enum hd_seg_vtype t;
    } map[] = {{"number", SEGV_NUMBER},
               {"boolean", SEGV_BOOL},
               {"date", SEGV_DATE},
               {"string", SEGV_STRING},
               {"array", SEGV_ARRAY}};
    struct types *ts = ud;
    enum hd_seg_vtype t = SEGV_ANY;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(type, map[i].name) == 0)
            t = map[i].t;
    HD_GROW(ts->names, ts->n);
    HD_GROW(ts->types, ts->n);
    ts->names[ts->n] = hd_xstrdup(name);
    ts->types[ts->n++] = t;
    return 0;
}

static enum hd_seg_vtype type_of(void *ud, const char *attr)
{
    struct types *ts = ud;
    for (size_t i = 0; i < ts->n; i++)
        if (strcmp(ts->names[i], attr) == 0)
            return ts->types[i];
    return SEGV_ANY;
}

static int lookup(void *ud, const char *name, char **expr, struct hd_err *err)
{
    return hd_store_segment_get(ud, name, expr, err);
}

int hd_seg_load(struct hd_store *st, const char *name, const char *expr, int64_t now,
                struct hd_seg_node **out, struct hd_err *err)
{
    return hd_seg_load_checked(st, name, expr, now, true, out, err);
}

int hd_seg_load_checked(struct hd_store *st, const char *name, const char *expr, int64_t now,
                        bool allow_unknown, struct hd_seg_node **out, struct hd_err *err)
{
    struct types ts = {0};
    char *stored = NULL;
    int rc;
    if (!expr) {
        if ((rc = hd_store_segment_get(st, name, &stored, err)) < 0)
            return rc;
        expr = stored;
    }
    if ((rc = hd_store_attr_types(st, add_type, &ts, err)) == 0) {
        struct hd_seg_opts o = {.name = name,
                                .now = now,
                                .type_of = type_of,
                                .type_ud = &ts,
                                .lookup = lookup,
                                .lookup_ud = st,
                                .known = allow_unknown ? NULL : (const char *const *)ts.names,
                                .nknown = ts.n};
        rc = hd_seg_parse(expr, &o, out, err);
    }
    for (size_t i = 0; i < ts.n; i++)
        free(ts.names[i]);
    free(ts.names);
    free(ts.types);
    free(stored);
    return rc;
}

int hd_seg_define(struct hd_store *st, const char *name, const char *expr, int64_t now,
                  bool replace, bool allow_unknown, int64_t *n, struct hd_err *err)
{
    struct hd_seg_node *ast = NULL;
    int rc;
    if (!hd_seg_name_valid(name))
        return hd_err_set(err, HD_E_INVALID,
                          "'%s' is not a segment name (1 to 64 letters, digits, '_' or '-')", name);
    /* counted (so compiled and prepared) before it is stored: a rule SQLite
     * refuses is never stored */
    if ((rc = hd_seg_load_checked(st, name, expr, now, allow_unknown, &ast, err)) == 0 &&
        (rc = hd_store_seg_count(st, ast, now, n, err)) == 0)
        rc = hd_store_segment_put(st, name, expr, replace, now, err);
    hd_segast_free(ast);
    return rc;
}
