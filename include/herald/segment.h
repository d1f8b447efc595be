/* segment: the rule language operators write to pick contacts, e.g.
 *   days_since(last_active) >= 30 and plan in ("gold", "silver")
 * parsed into a struct hd_seg_node tree (segast.h) with positions, typed
 * against what the store knows of each attribute, and with in_segment("x")
 * references expanded (a cycle is an error). The store turns the tree into
 * parameterised SQL; no text of the rule ever becomes SQL. */
#ifndef HERALD_SEGMENT_H
#define HERALD_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/err.h"
#include "herald/segast.h"

/* The known type of an attribute (SEGV_ANY when unknown). */
typedef enum hd_seg_vtype (*hd_seg_type_fn)(void *ud, const char *attr);
/* The expression of segment name: 0 with *expr (caller frees), or
 * HD_E_NOTFOUND. */
typedef int (*hd_seg_lookup_fn)(void *ud, const char *name, char **expr, struct hd_err *err);

struct hd_seg_opts {
    const char *name;       /* for messages: "segment 'NAME'", or NULL: "expression" */
    int64_t now;            /* seconds: what "now" and "today" mean */
    hd_seg_type_fn type_of; /* may be NULL: every attribute untyped */
    void *type_ud;
    hd_seg_lookup_fn lookup; /* may be NULL: in_segment() is an error */
    void *lookup_ud;
    /* may be NULL: any attribute; else the attributes contacts have had, and
     * an attribute the rule names itself (not through in_segment) that is not
     * one of them is an error naming the closest ones */
    const char *const *known;
    size_t nknown;
};

/* Parses, types and expands expr. Errors read
 *   segment 'x': 1:18: expected a value after '>='
 * followed by the expression's line and a caret under the column. */
int hd_seg_parse(const char *expr, const struct hd_seg_opts *opts, struct hd_seg_node **out,
                 struct hd_err *err);

/* True when name is a valid segment name: 1-64 of [A-Za-z0-9_-]. */
int hd_seg_name_valid(const char *name);

/* The segment names expr refers to directly through in_segment(), parsed
 * without expanding them; for refusing to delete a segment others use. */
int hd_seg_parse_refs(const char *expr, char ***names, size_t *n, struct hd_err *err);

/* Parses expr (or, with expr NULL, the stored segment name) with the
 * attribute types and segments in the store. */
struct hd_store;
int hd_seg_load(struct hd_store *st, const char *name, const char *expr, int64_t now,
                struct hd_seg_node **out, struct hd_err *err);
/* The same, refusing an attribute no import has seen unless allow_unknown
 * (for segment define and count, where a misspelt name would count 0). */
int hd_seg_load_checked(struct hd_store *st, const char *name, const char *expr, int64_t now,
                        bool allow_unknown, struct hd_seg_node **out, struct hd_err *err);

/* Defines segment name (or, with replace, changes it) as `herald segment
 * define` does: a valid name, the rule parsed against the store (an
 * attribute no import has seen refused unless allow_unknown), counted
 * into *n (so compiled and prepared) before it is stored. HD_E_EXISTS when
 * it exists and !replace; the store is unchanged on any error. */
int hd_seg_define(struct hd_store *st, const char *name, const char *expr, int64_t now,
                  bool replace, bool allow_unknown, int64_t *n, struct hd_err *err);

/* RFM layers (rfm.c): the eight classic layers of herald segment rfm. */
#define HD_RFM_LAYERS 8
struct hd_rfm_layer {
    const char *segment; /* the segment's name: "rfm_important_value" */
    const char *en, *zh; /* "important value", "重要价值客户" */
    bool r, f, m;        /* high (above S/2) or low recency, frequency, monetary */
};
const struct hd_rfm_layer *hd_rfm_layer(int i);
/* Scores the contacts (hd_store_rfm), defines or refreshes the eight layer
 * segments and counts each into counts[]. */
struct hd_rfm_opts;
int hd_rfm_run(struct hd_store *st, const struct hd_rfm_opts *o, int64_t *scored,
               int64_t counts[HD_RFM_LAYERS], struct hd_err *err);

#endif
