/* tpl: message templates as operators write them. A template is
 * templates/NAME.tmpl: a header of "key: value" lines (description,
 * category, from, reply_to), then parts introduced by "--- PART" lines
 * (email.subject, email.text, email.html, sms, push.title, push.body,
 * push.data, push.fcm, push.apns, sms.template_code, sms.params,
 * sms.approved_text, inbox.title, inbox.body, inbox.url, inbox.expires),
 * each optionally for an A/B variant
 * ("--- sms @b"); an SMS for an approved-template gateway has
 * sms.template_code, sms.params and sms.approved_text instead of (or
 * beside) sms. Locale files NAME.LOCALE.tmpl override parts; a lookup for
 * zh-Hant-TW tries zh-Hant-TW, zh-Hant, zh, then the base file. Partials are
 * templates/partials/NAME.mustache (or NAME.LOCALE.mustache); a layout is a
 * partial used as a parent ({{<layout}}...{{/layout}}).
 *
 * A struct hd_tpl_set loads templates on first use and keeps them compiled. */
#ifndef HERALD_TPL_H
#define HERALD_TPL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "herald/buf.h"
#include "herald/config.h"
#include "herald/err.h"
#include "herald/mustache.h"
#include "herald/store.h"

enum hd_tpl_part {
    HD_PART_EMAIL_SUBJECT,
    HD_PART_EMAIL_TEXT,
    HD_PART_EMAIL_HTML,
    HD_PART_SMS,
    HD_PART_PUSH_TITLE,
    HD_PART_PUSH_BODY,
    HD_PART_PUSH_DATA, /* a JSON object of string templates (FCM data is a map of strings) */
    HD_PART_PUSH_FCM,  /* a JSON object merged into the FCM message */
    HD_PART_PUSH_APNS, /* a JSON object merged into the APNs payload */
    /* approved-template SMS gateways (aliyun_sms, tencent_sms) send no free
     * text: the code of a template approved at the gateway, its parameters
     * (a JSON object of strings, or an ordered list of strings), and the text
     * the approved template produces, for preview, segments and cost */
    HD_PART_SMS_TEMPLATE_CODE,
    HD_PART_SMS_PARAMS,
    HD_PART_SMS_APPROVED_TEXT,
    HD_PART_PUSH_CLICK, /* Huawei Push Kit: what a tap does, "app" or an intent URI */
    /* a WeChat template message (the wechat channel): the template's
     * id, its data (a JSON object: each key a string or {"value", "color"}),
     * the page it opens, or the mini-program page */
    HD_PART_WECHAT_TEMPLATE_ID,
    HD_PART_WECHAT_DATA,
    HD_PART_WECHAT_URL,
    HD_PART_WECHAT_PAGE,
    /* the in-app inbox (issue 20): a title, a body in a Markdown subset
     * (rendered to safe HTML when sent, markdown.h), a link (http or
     * https), and how long the message stays listed (a duration: "30d") */
    HD_PART_INBOX_TITLE,
    HD_PART_INBOX_BODY,
    HD_PART_INBOX_URL,
    HD_PART_INBOX_EXPIRES,
    HD_PART_COUNT
};

const char *hd_tpl_part_name(int part); /* "email.subject" */
int hd_tpl_part_parse(const char *s);   /* -1 when unknown */
int hd_tpl_part_channel(int part);      /* enum hd_channel */
bool hd_tpl_part_is_json(int part);

struct hd_tpl_set;
struct hd_tpl;

/* dir is the templates folder; it must exist. */
int hd_tpl_set_open(const char *dir, struct hd_tpl_set **out, struct hd_err *err);
void hd_tpl_set_free(struct hd_tpl_set *set);
/* The template names in the folder (NAME.tmpl files), sorted; the caller
 * frees each name and the array. */
int hd_tpl_set_names(struct hd_tpl_set *set, char ***names, size_t *n, struct hd_err *err);
/* Loads (once) and returns the template; errors name file, line and column. */
int hd_tpl_get(struct hd_tpl_set *set, const char *name, const struct hd_tpl **out,
               struct hd_err *err);

/* What a template offers. Pointers are owned by the template. */
struct hd_tpl_info {
    const char *name;
    const char *description; /* "" when absent */
    int category;            /* enum hd_category */
    bool urgent;             /* "urgent: true": quiet hours do not hold its messages */
    unsigned channels;       /* bit 1 << HD_CH_* for each channel with parts */
    unsigned parts;          /* bit 1 << HD_PART_* for each part some file has */
    const char *locales[32]; /* locale files, in file-name order */
    size_t nlocales;
    const char *variants[16]; /* A/B variants used by any part */
    size_t nvariants;
};
void hd_tpl_get_info(const struct hd_tpl *t, struct hd_tpl_info *info);
/* A header value (from, reply_to, description) as the locale sees it, or NULL. */
const char *hd_tpl_header(const struct hd_tpl *t, const char *key, const char *locale);
/* Whether the locale and variant resolve to some file's part. */
bool hd_tpl_has_part(const struct hd_tpl *t, int part, const char *locale, const char *variant);
/* Whether rendering t's parts for channel (any file, locale or variant)
 * could look name up (hd_mst_may_use): the dispatcher signs links only
 * for the messages whose text may show them. */
bool hd_tpl_may_use(const struct hd_tpl *t, int channel, const char *name);

/* One render. */
struct hd_tpl_req {
    const char *locale;   /* the recipient's, or NULL for the base file */
    const char *variant;  /* "b", or NULL */
    const char *timezone; /* the recipient's zone, for dates */
    int64_t now;
    const json_t *data;
    const json_t *const *below; /* looked up after data, outermost first */
    size_t nbelow;
    struct hd_fmt *fmt; /* required */
    bool lenient;       /* missing variables render empty (lint uses it) */
};

/* Fills req for a render for contact k (NULL: none): the contact's locale
 * and zone, else the configuration's; no variant, no layers below data.
 * A plain fill (no allocation), cheap enough for the dispatcher's every
 * message; set variant, below, nbelow or lenient after it when needed. */
static inline void hd_tpl_req_init(struct hd_tpl_req *req, const struct hd_contact *k,
                                   const struct hd_config *cfg, int64_t now, const json_t *data,
                                   struct hd_fmt *fmt)
{
    *req = (struct hd_tpl_req){.locale = k && k->locale ? k->locale : cfg->locale,
                               .timezone = k && k->timezone ? k->timezone : cfg->timezone,
                               .now = now,
                               .data = data,
                               .fmt = fmt};
}

/* Renders one text part into out (appending). HD_E_NOTFOUND when no file
 * defines it. email.html is HTML-escaped, every other part is not. */
int hd_tpl_render(const struct hd_tpl *t, int part, const struct hd_tpl_req *req,
                  struct hd_buf *out, struct hd_err *err);
/* Renders a JSON part (push.data, push.fcm, push.apns, sms.params) as compact JSON
 * text, appending to out, or into a new object. */
int hd_tpl_render_json_text(const struct hd_tpl *t, int part, const struct hd_tpl_req *req,
                            struct hd_buf *out, struct hd_err *err);
int hd_tpl_render_json(const struct hd_tpl *t, int part, const struct hd_tpl_req *req, json_t **out,
                       struct hd_err *err);

/* The data a template sees for a contact: template variables, then the
 * contact's fields and attributes at the top level and under "contact",
 * then "campaign" (may be NULL), "message": {"id"} and "unsubscribe_url"
 * (may be NULL). The caller frees the result with json_decref. */
json_t *hd_tpl_data(const struct hd_contact *c, const struct hd_config *cfg, const json_t *campaign,
                    const char *message_id, const char *unsubscribe_url);
/* The same in three layers that render alike, for the dispatcher, which
 * builds the first once: hd_tpl_vars (the template variables) and
 * hd_tpl_contact (the contact's fields and attributes) go in req.below,
 * outermost first, and hd_tpl_top (contact, campaign, message,
 * unsubscribe_url) is req.data. hd_tpl_top takes its own reference to
 * contact. */
json_t *hd_tpl_vars(const struct hd_config *cfg);
json_t *hd_tpl_contact(const struct hd_contact *c);
json_t *hd_tpl_top(json_t *contact, const json_t *campaign, const char *message_id,
                   const char *unsubscribe_url);

/* Push payload sizes in bytes as FCM and APNs would see them. */
void hd_tpl_push_sizes(const char *title, const char *body, const json_t *data, size_t *fcm,
                       size_t *apns);
#define HD_TPL_PUSH_MAX 4096 /* lint: = HD_PUSH_MAX_PAYLOAD (driver.h), pinned in dispatch.c */

/* ---- lint ---------------------------------------------------------------- */

struct hd_tpl_issue {
    bool error;      /* false: a warning or a note */
    char where[512]; /* "recall.tmpl:12:9" or "recall.zh-CN.tmpl"; "" when msg
                      * starts with its own position (a parse error's) */
    char msg[1024];
};
typedef void (*hd_tpl_issue_cb)(void *ud, const struct hd_tpl_issue *issue);
/* What lint holds an sms part's fixed text against: the fewest characters
 * a provider of the SMS channel accepts (0: no limit), and who that is
 * ("provider 'sms' (twilio)"; copied). Unset, lint checks no length. */
void hd_tpl_set_sms_limit(struct hd_tpl_set *set, size_t max_chars, const char *who);
/* For lint: the opt-out wording a zh-CN marketing SMS must carry (NULL or
 * "": 回T退订). */
void hd_tpl_set_sms_optout_zh(struct hd_tpl_set *set, const char *wording);
/* Lint checks the template against each provider of the SMS channel added
 * here: who ("provider 'cn' (aliyun_sms)"; copied), what it needs, and the
 * most characters a parameter's value may have (0: no limit known); need
 * is an enum hd_sms_need (sms.h). */
void hd_tpl_set_sms_provider(struct hd_tpl_set *set, const char *who, int need,
                             size_t max_param_chars);
/* Checks the named template (every file, part, variant and the partials it
 * uses), calling cb for each finding. Returns the number of errors. */
int hd_tpl_lint(struct hd_tpl_set *set, const char *name, hd_tpl_issue_cb cb, void *ud);
/* Checks every partial file in the folder. Returns the number of errors. */
int hd_tpl_lint_partials(struct hd_tpl_set *set, hd_tpl_issue_cb cb, void *ud);

#endif
