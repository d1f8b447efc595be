/* testconsole: what the console's curl tests share (test_console and its
 * siblings), on top of tests/testserve.h's `herald serve` and http(): a
 * browser's part played with curl. The login form hands out a pre-session
 * cookie and a signed CSRF field; tc_login() GETs the form and POSTs it
 * back with both, as a browser does, and tc_sign_in() is that login done
 * right, returning the session cookie's value for tc_get() and tc_post(),
 * which send it (and an Accept-Language when given one). The users are
 * made with `herald user add --password-file`, all with the password
 * TC_PASSWORD ("correct horse 1"; TC_PASSWORD_FORM in a form). The cookie
 * and the field are read out of the answer with tc_cookie() and tc_csrf(),
 * which return static buffers: copy what must outlive the next call. A
 * long log or chart wants more contacts than testserve.h's three:
 * tc_more_contacts(). */
#ifndef HERALD_TESTCONSOLE_H
#define HERALD_TESTCONSOLE_H

#include "testserve.h"

#include "herald/buf.h"

#define TC_PASSWORD "correct horse 1"
#define TC_PASSWORD_FORM "correct+horse+1"

/* The value of cookie name in a response's headers, or "" (static). */
static inline const char *tc_cookie(const char *hdr, const char *name)
{
    static char v[128];
    char pat[64];
    snprintf(pat, sizeof pat, "Set-Cookie: %s=", name);
    const char *p = strstr(hdr, pat);
    v[0] = '\0';
    if (p)
        snprintf(v, sizeof v, "%.*s", (int)strcspn(p + strlen(pat), ";\r\n"), p + strlen(pat));
    return v;
}

/* A page's first csrf field (static); fails when it has none. */
static inline const char *tc_csrf(const char *body)
{
    static char v[80];
    const char *p = strstr(body, "name=\"csrf\" value=\"");
    assert_non_null(p);
    p += strlen("name=\"csrf\" value=\"");
    snprintf(v, sizeof v, "%.*s", (int)strcspn(p, "\""), p);
    return v;
}

/* POSTs a login the way the form does: GET the form, then POST with its
 * cookie and field; pw is url-encoded, from curl's extra arguments (fixed
 * text: a source address) or NULL. Returns the status; *hdr gets the
 * answer's headers. */
static inline int tc_login(const struct srv *s, const char *name, const char *pw, const char *from,
                           char **hdr)
{
    char *body, *h, extra[256], form[512];
    from = from ? from : "";
    assert_int_equal(http(s, "GET", "/console/login", NULL, from, &body, &h), 200);
    snprintf(extra, sizeof extra, "%s -b 'herald_login=%s'", from, tc_cookie(h, "herald_login"));
    snprintf(form, sizeof form, "name=%s&password=%s&csrf=%s", name, pw, tc_csrf(body));
    free(body);
    free(h);
    int code = http(s, "POST", "/console/login", form, extra, &body, hdr);
    free(body);
    return code;
}

/* Signs in as name (password TC_PASSWORD): the overview is where the
 * login sends, the session cookie's value (64 hex digits, free it). */
static inline char *tc_sign_in(const struct srv *s, const char *name)
{
    char *hdr;
    assert_int_equal(tc_login(s, name, TC_PASSWORD_FORM, NULL, &hdr), 303);
    assert_contains(hdr, "Location: /console/\r\n");
    char *sid = hd_xstrdup(tc_cookie(hdr, "herald_session"));
    assert_int_equal(strlen(sid), 64);
    free(hdr);
    return sid;
}

/* curl's extra arguments for the session sid and the language lang (no
 * Accept-Language when NULL). */
static inline void tc_extra(char *out, size_t size, const char *sid, const char *lang)
{
    if (lang)
        snprintf(out, size, "-b 'herald_session=%s' -H 'Accept-Language: %s'", sid, lang);
    else
        snprintf(out, size, "-b 'herald_session=%s'", sid);
}

/* GET path as session sid in language lang; the status, the body in
 * *body and the headers in *hdr (may be NULL), as http(). */
static inline int tc_get(const struct srv *s, const char *sid, const char *path, const char *lang,
                         char **body, char **hdr)
{
    char extra[256];
    tc_extra(extra, sizeof extra, sid, lang);
    return http(s, "GET", path, NULL, extra, body, hdr);
}

/* POST form (url-encoded) to path as session sid, with an Accept-Language
 * when lang is not NULL; as tc_get(). */
static inline int tc_post(const struct srv *s, const char *sid, const char *path, const char *form,
                          const char *lang, char **body, char **hdr)
{
    char extra[256];
    tc_extra(extra, sizeof extra, sid, lang);
    return http(s, "POST", path, form, extra, body, hdr);
}

/* Adds console user name with role (admin, operator or viewer) and the
 * password TC_PASSWORD, kept in the folder's file pw. */
static inline void tc_user(const char *name, const char *role)
{
    write_file("pw", TC_PASSWORD "\n");
    TU_HERALD_OK(dir, "user", "add", name, "--role", role, "--password-file", "pw");
}

/* Imports n more contacts (n <= 100) for a log or a chart of some length:
 * p00, p01... with the email pNN@example.com, the first name P and the
 * locale en, through the folder's file more.csv. */
static inline void tc_more_contacts(int n)
{
    struct hd_buf csv;
    char line[96];
    hd_buf_init(&csv);
    hd_buf_adds(&csv, "id,email,first_name,locale\n");
    for (int i = 0; i < n; i++) {
        snprintf(line, sizeof line, "p%02d,p%02d@example.com,P,en\n", i, i);
        hd_buf_adds(&csv, line);
    }
    write_file("more.csv", csv.data);
    hd_buf_release(&csv);
    TU_HERALD_OK(dir, "contacts", "import", "more.csv");
}

#endif
