/* testapi: what the tests of the JSON API share (test_api, test_apitok):
 * a request over real HTTP with curl and a bearer (an API key or a contact
 * token), and every answer kept as a JSON Lines row in the file `answers`
 * names, which the tests then check against the OpenAPI document. A test
 * file sets `answers` in its setup. */
#ifndef HERALD_TESTAPI_H
#define HERALD_TESTAPI_H

#include "testserve.h"

#include <jansson.h>

static char *answers;

/* Keeps an answer for the OpenAPI check: its method, path (the query cut:
 * it is not the path), status, type and body. */
static inline void record(const char *method, const char *path, int status, const char *hdr,
                          const char *body)
{
    const char *t = strstr(hdr, "Content-Type: ");
    if (!*body || !t)
        return;
    t += 14;
    char type[128], p[1024];
    snprintf(type, sizeof type, "%.*s", (int)strcspn(t, "\r\n"), t);
    snprintf(p, sizeof p, "%.*s", (int)strcspn(path, "?"), path);
    json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s}", "method", method, "path", p, "status",
                          status, "type", type, "body", body);
    char *line = json_dumps(o, JSON_COMPACT);
    FILE *f = fopen(answers, "a");
    assert_non_null(f);
    fprintf(f, "%s\n", line);
    fclose(f);
    free(line);
    json_decref(o);
}

/* A request with a JSON body (or none) and a bearer (or none); extra is
 * more curl arguments. The status; the body in *out, the headers in *hdr
 * (may be NULL). */
static inline int api(const struct srv *s, const char *method, const char *path, const char *body,
                      const char *bearer, const char *extra, char **out, char **hdr)
{
    char args[2048];
    char *bf = NULL;
    if (body) {
        bf = tu_path(dir, ".req");
        tu_write(bf, body);
    }
    snprintf(args, sizeof args, "%s%s%s %s%s %s", bearer ? "-H 'Authorization: Bearer " : "",
             bearer ? bearer : "", bearer ? "'" : "",
             body ? "-H 'Content-Type: application/json' --data-binary @" : "", body ? bf : "",
             extra ? extra : "");
    char *h = NULL;
    int code = http(s, method, path, NULL, args, out, &h);
    record(method, path, code, h, *out);
    if (hdr)
        *hdr = h;
    else
        free(h);
    free(bf);
    return code;
}

/* node check.js in tests/openapi (its packages installed from the lock
 * file when missing): the document, or the answers against it. It runs in
 * a folder of its own: tu_exec keeps the output in the folder it runs in,
 * and test_api and test_apitok, which make test may run at once, each
 * removed the other's there (the check then saw no output). */
static inline void openapi_check(const char *doc, const char *with)
{
    char *od = tu_src_path("tests/openapi"), *mod = tu_path(od, "node_modules/ajv");
    char *script = tu_path(od, "check.js"), *run = tu_tmpdir();
    struct tu_run r;
    if (!tu_exists(mod)) {
        const char *argv[] = {"npm", "ci", "--no-audit", "--no-fund", NULL};
        tu_exec(&r, od, NULL, argv);
        if (r.status != 0 || !tu_exists(mod))
            fail_msg("'npm ci' in %s failed (exit %d): the OpenAPI check needs "
                     "@apidevtools/swagger-parser and ajv from the npm registry\n%s%s",
                     od, r.status, r.out, r.err);
        tu_run_release(&r);
    }
    const char *argv[] = {"node", script, doc, with, NULL};
    tu_exec(&r, run, NULL, argv);
    if (r.status != 0)
        fail_msg("node check.js %s %s: exit %d\n%s%s", doc, with ? with : "", r.status, r.out,
                 r.err);
    assert_contains(r.out, "ok: ");
    tu_run_release(&r);
    tu_rmdir(run); /* and frees it */
    free(script);
    free(mod);
    free(od);
}

#endif
