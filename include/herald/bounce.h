/* bounce: classifying a bounce (issue 19), as KumoMTA and Postal do: from
 * the RFC 3463 enhanced status code, else the SMTP reply code, else words
 * in the diagnostic text, by a table of rules that is data
 * (etc/bounce-rules.tsv, see its header), into a class and a severity:
 * hard (suppress the address at once), soft (after [receipts]
 * soft_bounce_limit of them) or none (not the address's fault). */
#ifndef HERALD_BOUNCE_H
#define HERALD_BOUNCE_H

#include "herald/err.h"

enum hd_bounce_class {
    HD_BOUNCE_INVALID_RECIPIENT,
    HD_BOUNCE_MAILBOX_FULL,
    HD_BOUNCE_MESSAGE_TOO_LARGE,
    HD_BOUNCE_SPAM_BLOCK,
    HD_BOUNCE_POLICY,
    HD_BOUNCE_DNS,
    HD_BOUNCE_TRANSIENT,
    HD_BOUNCE_UNKNOWN,
    HD_BOUNCE_COUNT
};
enum hd_bounce_severity { HD_BOUNCE_HARD, HD_BOUNCE_SOFT, HD_BOUNCE_NONE };

struct hd_bounce_rules;

/* Parses the rules' text; name stands for the file in messages ("NAME:LINE:
 * ..."). The caller frees *out with hd_bounce_rules_free. */
int hd_bounce_rules_parse(const char *text, const char *name, struct hd_bounce_rules **out,
                          struct hd_err *err);
/* Reads and parses the file at path. */
int hd_bounce_rules_load(const char *path, struct hd_bounce_rules **out, struct hd_err *err);
/* The rules of etc/bounce-rules.tsv as this herald was built with them
 * (the Makefile embeds the file): what a herald uses when the default file
 * is not where it looks, rather than no rules at all. */
int hd_bounce_rules_builtin_load(struct hd_bounce_rules **out, struct hd_err *err);
void hd_bounce_rules_free(struct hd_bounce_rules *r);

struct hd_bounce {
    int cls;         /* enum hd_bounce_class */
    int severity;    /* enum hd_bounce_severity */
    char status[16]; /* the enhanced status code used or found in the text ("5.1.1"), or "" */
    int reply;       /* the reply code used or found, or 0 */
};
/* Classifies a bounce: status (NULL: looked for in text), reply (0: looked
 * for at the start of text), text (NULL: none). r NULL: every bounce is
 * unknown, hard for a 5xx status or reply, else soft. */
void hd_bounce_classify(const struct hd_bounce_rules *r, const char *status, int reply,
                        const char *text, struct hd_bounce *out);
const char *hd_bounce_class_name(int cls);         /* "invalid_recipient", ... */
const char *hd_bounce_severity_name(int severity); /* "hard", "soft", "none" */

#endif
