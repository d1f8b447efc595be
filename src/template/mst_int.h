/* mst_int: the compiled form shared by the Mustache compiler, renderer and
 * filters. Not part of the public API. */
#ifndef HERALD_MST_INT_H
#define HERALD_MST_INT_H

#include "herald/mustache.h"

enum mst_node_type {
    N_TEXT,
    N_VAR,      /* {{name}}: escaped when the env says so */
    N_RAW,      /* {{{name}}} and {{&name}} */
    N_SECTION,  /* {{#name}} */
    N_INVERTED, /* {{^name}} */
    N_PARTIAL,  /* {{>name}} and {{>*name}} */
    N_PARENT,   /* {{<name}}: kids are its block arguments */
    N_BLOCK,    /* {{$name}}: kids are its default content */
};

/* A dotted name, split once at compile time. */
struct mst_name {
    char *full; /* as written: "user.first_name" (NUL-terminated) */
    size_t nseg;
    char **seg; /* pointers into seg_buf */
    size_t *seglen;
    char *seg_buf;
    bool dot;     /* the implicit iterator "." */
    bool dynamic; /* {{>*name}}: the partial's name is looked up in the data */
};

enum mst_filter_kind {
    F_DEFAULT,
    F_UPPER,
    F_LOWER,
    F_TRUNCATE,
    F_DATE,
    F_NUMBER,
    F_CURRENCY,
    F_DAYS_UNTIL,
    F_DAYS_SINCE,
    F_MONTHS_UNTIL,
    F_BETWEEN,
    F_LT,
    F_GT,
};

struct mst_filter {
    enum mst_filter_kind kind;
    char *str;     /* string argument, or NULL */
    double num[2]; /* numeric arguments */
    int nnum;
};

struct mst_node {
    enum mst_node_type type;
    int line, col; /* position of the tag (or text) in the file */
    char *text;    /* N_TEXT: the bytes */
    size_t len;
    bool bol;             /* N_TEXT: starts at the beginning of a source line */
    struct mst_name name; /* tags */
    struct mst_filter *filters;
    size_t nfilters;
    struct mst_node *kids; /* sections, parents, blocks */
    size_t nkids;
    char *indent; /* standalone partial/parent/block: indentation to add */
    size_t indent_len;
    bool standalone;  /* the tag stood alone on its line */
    bool restore_nl;  /* block: its close tag stood alone on a line ending in \n */
    const char *file; /* block: the file it was written in (the template's name) */
};

struct hd_mst {
    struct mst_node root; /* a N_SECTION-like container; only kids are used */
    char *file;
};

/* A value on its way through filters. */
enum mst_val_type { V_MISSING, V_STR, V_NUM, V_BOOL };

struct mst_val {
    enum mst_val_type type;
    struct hd_buf *s; /* V_STR: the text (a scratch buffer owned by the renderer) */
    double num;       /* V_NUM */
    bool b;           /* V_BOOL */
};

/* Parses one filter ("default \"friend\"") into f; 0, or -1 with a reason in
 * why (a static string or one written to whybuf). */
int mst_filter_parse(const char *s, size_t n, struct mst_filter *f, char *whybuf, size_t whysize);
void mst_filter_release(struct mst_filter *f);
/* Applies f to v in place. 0, or -1 with a reason written to why. */
int mst_filter_apply(const struct mst_filter *f, const struct hd_mst_env *env, struct mst_val *v,
                     struct hd_buf *tmp, char *why, size_t whysize);

#endif
