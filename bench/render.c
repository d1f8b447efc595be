/* render: the template benchmark's herald side.
 *   render gen FILE          writes the data pool (1,000 contacts) as JSON
 *   render plain DIR FILE N  renders DIR/email.mustache + DIR/sms.mustache
 *                            for N contacts cycling through the pool
 *   render recall TDIR FILE N   the real recall template (filters, layout)
 * Prints contacts/s for the timed loop only, and an FNV-1a checksum of the
 * first 1,000 renders so that outputs can be compared across engines. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/mustache.h"
#include "herald/time.h"
#include "herald/tpl.h"

#define POOL 1000

static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int gen(const char *path)
{
    static const char *const names[] = {"Olivia", "Liam",   "Emma",     "Noah",  "Ava", "Oliver",
                                        "Sophia", "Elijah", "Isabella", "James", "Mia", "Lucas"};
    static const char *const months[] = {"January",   "February", "March",    "April",
                                         "May",       "June",     "July",     "August",
                                         "September", "October",  "November", "December"};
    json_t *arr = json_array();
    uint64_t s = 88172645463325252ull;
    for (int i = 0; i < POOL; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        int m = (int)(s % 12), d = (int)((s >> 8) % 28) + 1;
        char date[16], lng[32], code[16], unsub[96];
        snprintf(date, sizeof date, "2026-%02d-%02d", m + 1, d);
        snprintf(lng, sizeof lng, "%s %d, 2026", months[m], d);
        snprintf(code, sizeof code, "BACK%04d", (int)((s >> 20) % 10000));
        snprintf(unsub, sizeof unsub, "https://example.com/u/%016llx", (unsigned long long)s);
        json_t *o =
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "first_name", names[s % 12],
                      "locale", "en", "brand", "Acme", "support_email", "support@example.com",
                      "shop_url", "https://shop.example.com", "coupon_code", code, "last_active",
                      date, "last_active_long", lng, "unsubscribe_url", unsub);
        if (i % 10 == 3)
            json_object_del(o, "last_active");
        json_array_append_new(arr, o);
    }
    int rc = json_dump_file(arr, path, JSON_INDENT(1));
    json_decref(arr);
    return rc ? 1 : 0;
}

struct partials {
    const char *dir;
    struct hd_mst *m[2];
    const char *names[2];
};

static int part(void *ud, const char *name, const struct hd_mst **out, struct hd_err *err)
{
    (void)err;
    struct partials *p = ud;
    for (int i = 0; i < 2; i++)
        if (strcmp(p->names[i], name) == 0) {
            *out = p->m[i];
            return 0;
        }
    return HD_E_NOTFOUND;
}

static struct hd_mst *load(const char *dir, const char *name)
{
    char path[4096];
    struct hd_buf b;
    struct hd_mst *m;
    struct hd_err e;
    snprintf(path, sizeof path, "%s/%s.mustache", dir, name);
    hd_buf_init(&b);
    if (hd_buf_read_file(&b, path) < 0 || hd_mst_compile(b.data, b.len, NULL, &m, &e) < 0) {
        fprintf(stderr, "render: cannot load %s\n", path);
        exit(1);
    }
    hd_buf_release(&b);
    return m;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "gen") == 0)
        return gen(argv[2]);
    if (argc != 5) {
        fprintf(stderr, "usage: render gen FILE | render plain|recall DIR DATA N\n");
        return 2;
    }
    long n = atol(argv[4]);
    json_error_t je;
    json_t *pool = json_load_file(argv[3], 0, &je);
    if (!pool) {
        fprintf(stderr, "render: %s\n", je.text);
        return 1;
    }
    struct hd_buf out;
    struct hd_err err;
    struct hd_fmt *fmt = hd_fmt_new();
    uint64_t sum = 14695981039346656037ull;
    size_t bytes = 0;
    hd_buf_init(&out);
    int64_t t0, t1;
    if (strcmp(argv[1], "plain") == 0) {
        struct partials p = {
            argv[2], {load(argv[2], "button"), load(argv[2], "footer")}, {"button", "footer"}};
        struct hd_mst *email = load(argv[2], "email"), *sms = load(argv[2], "sms");
        struct hd_mst_env html = {.escape_html = true,
                                  .strict = true,
                                  .partial = part,
                                  .partial_ud = &p},
                          text = {.strict = true};
        t0 = hd_clock_mono_ms();
        for (long i = 0; i < n; i++) {
            const json_t *d = json_array_get(pool, (size_t)(i % POOL));
            hd_buf_reset(&out);
            if (hd_mst_render(email, d, &html, &out, &err) < 0 ||
                hd_mst_render(sms, d, &text, &out, &err) < 0) {
                fprintf(stderr, "render: %s\n", err.msg);
                return 1;
            }
            bytes += out.len;
            if (i < POOL)
                sum = fnv(sum, out.data, out.len);
        }
        t1 = hd_clock_mono_ms();
        hd_mst_free(email);
        hd_mst_free(sms);
        hd_mst_free(p.m[0]);
        hd_mst_free(p.m[1]);
    } else {
        struct hd_tpl_set *set;
        const struct hd_tpl *t;
        if (hd_tpl_set_open(argv[2], &set, &err) < 0 || hd_tpl_get(set, "recall", &t, &err) < 0) {
            fprintf(stderr, "render: %s\n", err.msg);
            return 1;
        }
        struct hd_tpl_req req = {.locale = "en", .timezone = "UTC", .now = 1795305600, .fmt = fmt};
        t0 = hd_clock_mono_ms();
        for (long i = 0; i < n; i++) {
            req.data = json_array_get(pool, (size_t)(i % POOL));
            hd_buf_reset(&out);
            if (hd_tpl_render(t, HD_PART_EMAIL_HTML, &req, &out, &err) < 0 ||
                hd_tpl_render(t, HD_PART_SMS, &req, &out, &err) < 0) {
                fprintf(stderr, "render: %s\n", err.msg);
                return 1;
            }
            bytes += out.len;
        }
        t1 = hd_clock_mono_ms();
        hd_tpl_set_free(set);
    }
    double secs = (double)(t1 - t0) / 1000.0;
    printf("%.0f %016llx %zu\n", secs > 0 ? (double)n / secs : 0.0, (unsigned long long)sum, bytes);
    hd_buf_release(&out);
    hd_fmt_free(fmt);
    json_decref(pool);
    return 0;
}
