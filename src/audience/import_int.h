/* import_int: the parts of a contact import that know nothing of rows: the
 * column map (--map, [import] map) and the set of ids a file has named, with
 * the line of each. Private to src/audience/. */
#ifndef HERALD_IMPORT_INT_H
#define HERALD_IMPORT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "herald/buf.h"
#include "herald/err.h"

/* One "Header=target" of a map. */
struct hd_imap_item {
    char *from; /* the header as the file writes it */
    char *to;   /* a herald field or an attribute name */
    bool used;  /* the file's header has it */
};

struct hd_imap {
    struct hd_imap_item *items; /* grown by HD_GROW */
    size_t n;
};

/* Parses "Customer ID=id,Mobile=phone,手机=phone" into m (empty before);
 * opt names the map in messages ("--map"). A target must be one of fields
 * (NULL-terminated, e.g. "id", "email", ...) or pass is_attr; a header
 * named twice is refused. HD_E_USAGE with the reason. */
int hd_imap_parse(struct hd_imap *m, const char *spec, const char *opt, const char *const *fields,
                  bool (*is_attr)(const char *), struct hd_err *err);
/* The target of header (compared without case), marking it used; NULL when
 * the map does not name it. */
const char *hd_imap_target(struct hd_imap *m, const char *header);
/* After the header: one line per target none of whose headers was in the
 * file ("no column for 'phone' (looked for 'Mobile', '手机')") appended to
 * out, each ending in '\n'; returns how many. */
size_t hd_imap_missing(const struct hd_imap *m, struct hd_buf *out);
void hd_imap_release(struct hd_imap *m);

/* The ids one file has named so far and the line of each: open addressing
 * over ids kept in one arena, so a million rows cost a few tens of MB. */
struct hd_idset {
    struct hd_idslot *slot;     /* NULL while empty */
    size_t mask;                /* slots - 1 */
    struct hd_identry *entries; /* in the order added, grown by HD_GROW */
    size_t count;
    struct hd_buf arena; /* the ids, each NUL-terminated */
};

void hd_idset_init(struct hd_idset *s);
/* Records id at line; returns 0 when it is new, else the line it was first
 * recorded at (and keeps that one). */
long hd_idset_add(struct hd_idset *s, const char *id, long line);
void hd_idset_release(struct hd_idset *s);

#endif
