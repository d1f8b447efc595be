/* console_int.h: what the console's page files share (console.c owns the
 * routes, sessions and sign-in; each page's file its data and handlers).
 * A handler gets a struct hd_con whose session has been checked against
 * the route's least role (to read, or to post) before it runs; it loads
 * its data with hd_con_load (the store's mutex held around the loader),
 * answers with hd_con_page (which adds who is signed in and the CSRF
 * secret for the layout), and a form handler reads its body with
 * hd_con_form, which checks the session's CSRF secret first. */
#ifndef HERALD_SERVE_CONSOLE_INT_H
#define HERALD_SERVE_CONSOLE_INT_H

#include "serve_int.h"
#include "herald/form.h"

struct hd_con {
    struct hd_srv *s;
    const struct hd_console_req *r;
    struct hd_answer *a;
    int lang;
    bool authed;
    struct hd_session sess;
    char sid[65]; /* the session cookie's value, when authed */
};

typedef void (*hd_con_fn)(struct hd_con *c);
/* A page's data read from st (the store's mutex held), or NULL with err
 * set (HD_E_NOTFOUND: the page's thing does not exist). */
typedef json_t *(*hd_con_load_fn)(struct hd_con *c, struct hd_store *st, struct hd_err *err);

void hd_con_plain(struct hd_answer *a, int status, const char *msg);
/* 303 to a path of the console (to: already escaped). */
void hd_con_redirect(struct hd_answer *a, const char *to);
/* prefix followed by name %-escaped, as a JSON string: a link to one of
 * the console's pages for a template. */
json_t *hd_con_url(const char *prefix, const char *name);
/* 303 to prefix followed by name, %-escaped (the console's own pages
 * when the result would not fit in a Location). */
void hd_con_redirect_to(struct hd_con *c, const char *prefix, const char *name);
/* Answers with page which from data (taken), adding the signed-in user,
 * role, whether an operator, and the session's CSRF secret. */
void hd_con_page(struct hd_con *c, int status, int which, json_t *data);
/* fn's data, or NULL after answering 404 (HD_E_NOTFOUND), 503, or 500
 * (logged) when fn failed without setting err. */
json_t *hd_con_load(struct hd_con *c, hd_con_load_fn fn);
/* Whether v's first len bytes are 1 to 18 decimal digits (no sign, no
 * space: a query's id, run or cursor), their value in *out. */
bool hd_con_digits(const char *v, size_t len, int64_t *out);
/* Records an action by who (call with s->mu held); a failure is logged. */
void hd_con_note(struct hd_con *c, struct hd_store *st, const char *who, const char *what,
                 const char *detail);
/* The POST's form into f after checking its csrf field against the
 * session's; -1 after answering 400 or 403 (f then released). */
int hd_con_form(struct hd_con *c, struct hd_form *f);

/* The pages (console_overview.c, console_campaign.c, console_log.c). */
void hd_con_overview(struct hd_con *c);
void hd_con_campaign_get(struct hd_con *c);
void hd_con_campaign_post(struct hd_con *c);
void hd_con_log(struct hd_con *c);
/* console_new.c: the form for a new campaign, its estimate and creation. */
void hd_con_new_get(struct hd_con *c);
void hd_con_new_post(struct hd_con *c);
/* console_contact.c: the contacts' search, a contact's page, an opt-out. */
void hd_con_contacts(struct hd_con *c);
void hd_con_contact_get(struct hd_con *c);
void hd_con_contact_post(struct hd_con *c);
/* console_tpl.c: the templates, a template's preview, its email's HTML */
void hd_con_templates(struct hd_con *c);
void hd_con_template(struct hd_con *c);
void hd_con_template_html(struct hd_con *c);
/* console_seg.c: the segments, the rule editor, its live check */
void hd_con_segments(struct hd_con *c);
void hd_con_segment_get(struct hd_con *c);
void hd_con_segment_post(struct hd_con *c);
void hd_con_segment_check(struct hd_con *c);
/* A user's own language and zone (console_settings.c). */
void hd_con_settings_get(struct hd_con *c);
void hd_con_settings_post(struct hd_con *c);
/* console_admin.c: the audit of actions (any role), the users and the API
 * keys (admins: to read and to post). */
void hd_con_audit(struct hd_con *c);
void hd_con_users_get(struct hd_con *c);
void hd_con_users_post(struct hd_con *c);
void hd_con_apikeys_get(struct hd_con *c);
void hd_con_apikeys_post(struct hd_con *c);
/* console_words.c: the console's words for what the store keeps as codes
 * (a role, a message's state, an outcome, a why's skip reason), in the
 * page's language; unknown codes come back as they are. */
const char *hd_console_role_word(int lang, int role);
const char *hd_console_state_word(int lang, const char *state);
const char *hd_console_outcome_word(int lang, const char *outcome);
const char *hd_console_why_word(int lang, const char *reason);
/* A page's data in those words (zh-CN): the "state", "outcome" and "why"
 * of each row of its lists; English data is left as it is. */
void hd_con_words(json_t *data, int lang);
/* The campaign page's numbers (console_numbers.c) added to data: the
 * funnel, the rates by provider and by day, and with goal (or NULL) the
 * lift against the holdout; kept a while, read without the store's
 * mutex. -1 after answering 503. */
int hd_con_numbers(struct hd_con *c, int64_t id, const char *goal, json_t *data);
/* The lift chart (console_chart.c): an inline SVG of hd_goal_json's
 * report, every text escaped, appended to out. */
void hd_con_lift_svg(const json_t *report, int lang, struct hd_buf *out);
/* /console/log.csv: herald log --format csv's rows for the log page's
 * filters (bounded; see console_log.c). */
void hd_con_log_csv(struct hd_con *c);

#endif
