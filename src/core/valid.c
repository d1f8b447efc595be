/* valid: value validators. Zone names and language tags repeat a lot in real
 * contact lists, so their verdicts are cached in a small open-addressing
 * table; emails and phones are checked by hand-written scanners. Phone
 * numbering follows ITU-T E.164: the country code is read by prefix (1 and 7
 * are one digit, a fixed list is two, the rest three), and for regions in the
 * table below the national significant number's length is checked and the
 * national trunk prefix removed. */
#include "herald/valid.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicode/uidna.h>
#include <unicode/uloc.h>

#include "herald/buf.h"
#include "herald/time.h"

#define CACHE_SLOTS 1024

struct cache_slot {
    char *key;   /* NULL when empty */
    char *value; /* normal form, or reason when rc < 0 */
    int rc;      /* 0, or enum hd_valid_why */
};

struct hd_valid {
    UIDNA *idna;
    struct cache_slot zones[CACHE_SLOTS];
    struct cache_slot locales[CACHE_SLOTS];
};

struct hd_valid *hd_valid_new(void)
{
    struct hd_valid *v = hd_xcalloc(1, sizeof *v);
    UErrorCode st = U_ZERO_ERROR;
    v->idna = uidna_openUTS46(UIDNA_USE_STD3_RULES | UIDNA_CHECK_BIDI | UIDNA_CHECK_CONTEXTJ |
                                  UIDNA_NONTRANSITIONAL_TO_ASCII,
                              &st);
    if (U_FAILURE(st))
        v->idna = NULL; /* IDN domains are then refused, ASCII ones still pass */
    return v;
}

static void cache_release(struct cache_slot *slots)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        free(slots[i].key);
        free(slots[i].value);
    }
}

void hd_valid_free(struct hd_valid *v)
{
    if (!v)
        return;
    if (v->idna)
        uidna_close(v->idna);
    cache_release(v->zones);
    cache_release(v->locales);
    free(v);
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Finds s's slot: the one holding it, or the empty one it would go into, or
 * NULL when the table is full. */
static struct cache_slot *cache_find(struct cache_slot *slots, const char *s)
{
    uint32_t h = hash(s);
    for (size_t i = 0; i < 64; i++) {
        struct cache_slot *slot = &slots[(h + i) % CACHE_SLOTS];
        if (!slot->key || strcmp(slot->key, s) == 0)
            return slot;
    }
    return NULL;
}

static int cached(struct cache_slot *slot, char *out, size_t size)
{
    hd_strcpy_cut(out, size, slot->value);
    return slot->rc;
}

static int remember(struct cache_slot *slot, const char *key, int rc, const char *out)
{
    if (slot && !slot->key) {
        slot->key = hd_xstrdup(key);
        slot->value = hd_xstrdup(out);
        slot->rc = rc;
    }
    return rc;
}

static int reason(char *out, size_t size, const char *msg)
{
    hd_strcpy_cut(out, size, msg);
    return HD_VALID_BAD;
}

/* A reason with its own code. */
static int reason_why(char *out, size_t size, int why, const char *msg)
{
    hd_strcpy_cut(out, size, msg);
    return why;
}

const char *hd_valid_hint(int why)
{
    switch (why) {
    case HD_VALID_TAG_SEP:
        return "write '-' instead of '_', e.g. zh-CN";
    case HD_VALID_TAG_NO_LANG:
        return "it must start with a language such as en or zh";
    default:
        return NULL;
    }
}

/* "not a BCP 47 language tag", with the code's hint when it has one. */
static int not_tag(char *out, size_t size, int why)
{
    const char *hint = hd_valid_hint(why);
    if (hint)
        snprintf(out, size, "not a BCP 47 language tag (%s)", hint);
    else
        snprintf(out, size, "not a BCP 47 language tag");
    return why;
}

/* The length of the well-formed UTF-8 character at p (before end), or 0:
 * a NUL, a stray or overlong byte, a surrogate, past U+10FFFF, or cut
 * short by end; *cut says whether it was only cut short. */
static size_t utf8_char(const unsigned char *p, const unsigned char *end, bool *cut)
{
    unsigned c = *p, cp;
    size_t len;
    *cut = false;
    if (c < 0x80)
        return c != 0;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < len; i++) {
        if (p + i == end) {
            *cut = true;
            return 0;
        }
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

/* How many bytes from p are ASCII and not NUL, eight at a time while a
 * word holds none of the others (a gateway's answer, most text is):
 * utf8_char byte by byte took 1,700 instructions a push. */
static size_t ascii_run(const unsigned char *p, const unsigned char *end)
{
    const uint64_t high = 0x8080808080808080ULL, low = 0x0101010101010101ULL;
    const unsigned char *q = p;
    for (uint64_t w; end - q >= 8; q += 8) {
        memcpy(&w, q, sizeof w);
        if ((w & high) || ((w - low) & ~w & high)) /* a byte >= 0x80, or a NUL */
            break;
    }
    while (q < end && *q && *q < 0x80)
        q++;
    return (size_t)(q - p);
}

bool hd_valid_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    bool cut;
    for (size_t len; (p += ascii_run(p, end)) < end; p += len)
        if (!(len = utf8_char(p, end, &cut)))
            return false;
    return true;
}

size_t hd_utf8_scrub(char *s)
{
    unsigned char *p = (unsigned char *)s, *end = p + strlen(s);
    size_t fixed = 0;
    bool cut;
    for (size_t len; (p += ascii_run(p, end)) < end; p += len) {
        if ((len = utf8_char(p, end, &cut)))
            continue;
        if (cut) { /* a character cut short at the end: cut it off */
            fixed += (size_t)(end - p);
            *p = '\0';
            break;
        }
        *p = '?';
        len = 1;
        fixed++;
    }
    return fixed;
}

/* ---- email ------------------------------------------------------------- */

static bool atext(unsigned char c)
{
    return isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL || c >= 0x80;
}

static int local_part(const char *s, size_t n, char *out, size_t size)
{
    if (n == 0)
        return reason(out, size, "the part before '@' is empty");
    if (n > 64)
        return reason(out, size, "the part before '@' is longer than 64 characters");
    if (s[0] == '"') {
        if (n < 2 || s[n - 1] != '"')
            return reason(out, size, "unterminated quoted local part");
        for (size_t i = 1; i < n - 1; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '\\') {
                if (++i >= n - 1 || (unsigned char)s[i] < 32 || (unsigned char)s[i] > 126)
                    return reason(out, size, "bad escape in quoted local part");
            } else if ((c < 32 && c != '\t') || c == 127 || c == '"') {
                return reason(out, size, "bad character in quoted local part");
            }
        }
        return 0;
    }
    bool dot = true; /* at start, a dot is not allowed either */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (dot)
                return reason(out, size,
                              i ? "two dots in a row before '@'" : "the address starts with a dot");
            dot = true;
        } else if (atext(c)) {
            dot = false;
        } else {
            return reason(out, size,
                          c == ' ' ? "a space in the address"
                                   : "a character not allowed before '@'");
        }
    }
    if (dot)
        return reason(out, size, "a dot just before '@'");
    return 0;
}

/* Checks the domain s (n bytes); when ace is not NULL, also writes its
 * ASCII form there (256 bytes): the A-label of an internationalised name,
 * else the domain as it is. */
static int domain_part(struct hd_valid *v, const char *s, size_t n, char *out, size_t size,
                       char *ace)
{
    if (n == 0)
        return reason(out, size, "no domain after '@'");
    if (s[0] == '[') {
        char lit[64];
        if (s[n - 1] != ']' || n - 2 >= sizeof lit)
            return reason(out, size, "bad address literal");
        memcpy(lit, s + 1, n - 2);
        lit[n - 2] = '\0';
        unsigned char addr[16];
        if (strncmp(lit, "IPv6:", 5) == 0 ? inet_pton(AF_INET6, lit + 5, addr) == 1
                                          : inet_pton(AF_INET, lit, addr) == 1) {
            if (ace) {
                memcpy(ace, s, n);
                ace[n] = '\0';
            }
            return 0;
        }
        return reason(out, size, "bad address literal");
    }
    bool ascii = true;
    for (size_t i = 0; i < n; i++)
        ascii &= (unsigned char)s[i] < 0x80;
    char buf[256];
    const char *d = s;
    size_t dn = n;
    if (!ascii) {
        UErrorCode st = U_ZERO_ERROR;
        UIDNAInfo info = UIDNA_INFO_INITIALIZER;
        if (!v->idna)
            return reason(out, size, "internationalised domains are not available");
        int32_t len =
            uidna_nameToASCII_UTF8(v->idna, s, (int32_t)n, buf, (int32_t)sizeof buf, &info, &st);
        if (U_FAILURE(st) || info.errors || len <= 0 || (size_t)len >= sizeof buf)
            return reason(out, size, "the domain is not a valid internationalised name");
        buf[len] = '\0';
        d = buf;
        dn = (size_t)len;
    }
    if (dn > 253)
        return reason(out, size, "the domain is longer than 253 characters");
    size_t label = 0, labels = 1;
    bool digits_only = true;
    for (size_t i = 0; i <= dn; i++) {
        char c = i < dn ? d[i] : '.';
        if (c == '.') {
            if (label == 0)
                return reason(out, size, "an empty label in the domain");
            if (d[i - 1] == '-' || d[i - label] == '-')
                return reason(out, size, "a domain label starts or ends with '-'");
            if (label > 63)
                return reason(out, size, "a domain label is longer than 63 characters");
            if (i < dn)
                labels++, digits_only = true;
            label = 0;
        } else if (isalnum((unsigned char)c) || c == '-') {
            label++;
            digits_only &= isdigit((unsigned char)c) != 0;
        } else {
            return reason(out, size, "a character not allowed in the domain");
        }
    }
    if (labels < 2)
        return reason(out, size, "the domain has no dot (write user@example.com)");
    if (digits_only)
        return reason(out, size, "the top-level domain is all digits");
    if (ace) {
        memcpy(ace, d, dn);
        ace[dn] = '\0';
    }
    return 0;
}

int hd_valid_email(struct hd_valid *v, const char *s, char *out, size_t size)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    while (n && isspace((unsigned char)*s))
        s++, n--;
    if (n == 0)
        return reason(out, size, "empty");
    if (n > 254)
        return reason(out, size, "longer than 254 characters");
    if (!hd_valid_utf8(s, n))
        return reason(out, size, "not valid UTF-8");
    const char *at = NULL;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '@')
            at = s + i;
    if (!at)
        return reason(out, size, "missing '@'");
    size_t ln = (size_t)(at - s);
    if (local_part(s, ln, out, size) < 0 || domain_part(v, at + 1, n - ln - 1, out, size, NULL) < 0)
        return HD_VALID_BAD;
    if (n + 1 > size)
        return reason(out, size, "too long");
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

int hd_valid_email_ascii(struct hd_valid *v, const char *s, char *out, size_t size,
                         bool *utf8_local)
{
    const char *at = strrchr(s, '@');
    char ace[256];
    if (!at)
        return reason(out, size, "missing '@'");
    size_t ln = (size_t)(at - s), dn = strlen(at + 1);
    bool local_ascii = true;
    for (size_t i = 0; i < ln; i++)
        local_ascii &= (unsigned char)s[i] < 0x80;
    if (utf8_local)
        *utf8_local = !local_ascii;
    if (dn >= sizeof ace || !hd_valid_utf8(at + 1, dn))
        return reason(out, size, "the domain is not a valid internationalised name");
    if (domain_part(v, at + 1, dn, out, size, ace) < 0)
        return HD_VALID_BAD;
    size_t an = strlen(ace);
    if (ln + 1 + an + 1 > size)
        return reason(out, size, "too long");
    memcpy(out, s, ln);
    out[ln] = '@';
    memcpy(out + ln + 1, ace, an + 1);
    return 0;
}

/* ---- phone --------------------------------------------------------------- */

struct region {
    char code[3];
    const char *cc;    /* country calling code */
    const char *trunk; /* national trunk prefix, "" if none */
    uint8_t min, max;  /* national significant number length */
};

/* sorted by code: region_by_code bisects */
static const struct region regions[] = {
    {"AE", "971", "0", 8, 9},  {"AR", "54", "0", 10, 11}, {"AT", "43", "0", 4, 13},
    {"AU", "61", "0", 9, 9},   {"BE", "32", "0", 8, 9},   {"BR", "55", "0", 10, 11},
    {"CA", "1", "1", 10, 10},  {"CH", "41", "0", 9, 9},   {"CN", "86", "0", 7, 12},
    {"CZ", "420", "", 9, 9},   {"DE", "49", "0", 6, 13},  {"DK", "45", "", 8, 8},
    {"EG", "20", "0", 8, 10},  {"ES", "34", "", 9, 9},    {"FI", "358", "0", 5, 12},
    {"FR", "33", "0", 9, 9},   {"GB", "44", "0", 9, 10},  {"GR", "30", "", 10, 10},
    {"HK", "852", "", 8, 8},   {"HU", "36", "06", 8, 9},  {"ID", "62", "0", 8, 12},
    {"IE", "353", "0", 7, 10}, {"IL", "972", "0", 8, 9},  {"IN", "91", "0", 10, 10},
    {"IT", "39", "", 6, 11},   {"JP", "81", "0", 9, 10},  {"KR", "82", "0", 8, 10},
    {"MO", "853", "", 8, 8},   {"MX", "52", "", 10, 10},  {"MY", "60", "0", 8, 10},
    {"NG", "234", "0", 8, 10}, {"NL", "31", "0", 9, 9},   {"NO", "47", "", 8, 8},
    {"NZ", "64", "0", 8, 10},  {"PH", "63", "0", 8, 10},  {"PK", "92", "0", 9, 10},
    {"PL", "48", "", 9, 9},    {"PT", "351", "", 9, 9},   {"RO", "40", "0", 9, 9},
    {"RU", "7", "8", 10, 10},  {"SA", "966", "0", 8, 9},  {"SE", "46", "0", 7, 10},
    {"SG", "65", "", 8, 8},    {"TH", "66", "0", 8, 9},   {"TR", "90", "0", 10, 10},
    {"TW", "886", "0", 8, 9},  {"UA", "380", "0", 9, 9},  {"US", "1", "1", 10, 10},
    {"VN", "84", "0", 9, 10},  {"ZA", "27", "0", 9, 9},
};

/* regions[] is sorted by code: this bisects it (the import looks its
 * default region up twice for each contact). */
static const struct region *region_by_code(const char *code)
{
    if (!code || !isalpha((unsigned char)code[0]) || !isalpha((unsigned char)code[1]) || code[2])
        return NULL;
    char up[3] = {(char)toupper((unsigned char)code[0]), (char)toupper((unsigned char)code[1]),
                  '\0'};
    size_t lo = 0, hi = sizeof regions / sizeof regions[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(regions[mid].code, up);
        if (c == 0)
            return &regions[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool hd_valid_region_known(const char *region)
{
    return region_by_code(region) != NULL;
}

/* Length of the country code at the start of digits (E.164 assignments). */
static size_t cc_len(const char *d)
{
    static const char *const two[] = {
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
        "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
        "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98"};
    if (d[0] == '1' || d[0] == '7')
        return 1;
    for (size_t i = 0; i < sizeof two / sizeof two[0]; i++)
        if (d[0] == two[i][0] && d[1] == two[i][1])
            return 2;
    return 3;
}

int hd_valid_phone(struct hd_valid *v, const char *s, const char *region, char *out, size_t size)
{
    (void)v;
    char d[32];
    size_t n = 0;
    bool plus = false;
    const char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '+')
        plus = true, p++;
    for (; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (isdigit(c)) {
            if (n + 1 >= sizeof d)
                return reason(out, size, "too many digits");
            d[n++] = (char)c;
        } else if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/') {
            continue;
        } else {
            return reason_why(out, size, HD_VALID_NOT_PHONE, "not a phone number");
        }
    }
    d[n] = '\0';
    if (n == 0)
        return reason_why(out, size, HD_VALID_NOT_PHONE, "not a phone number");
    const char *digits = d;
    if (!plus && n > 2 && d[0] == '0' && d[1] == '0')
        plus = true, digits = d + 2;
    const struct region *r = NULL;
    const char *cc;
    if (plus) {
        if (digits[0] == '0')
            return reason(out, size, "no country code starts with 0");
        size_t cl = cc_len(digits), total = strlen(digits);
        if (total <= cl)
            return reason(out, size, "too short");
        for (size_t i = 0; i < sizeof regions / sizeof regions[0] && !r; i++)
            if (strlen(regions[i].cc) == cl && strncmp(regions[i].cc, digits, cl) == 0)
                r = &regions[i];
        size_t nsn = total - cl;
        if (r && (nsn < r->min || nsn > r->max))
            return reason(out, size, "wrong number of digits for its country");
        if (!r && (total < 7 || total > 15))
            return reason(out, size, "an international number has 7 to 15 digits");
        cc = "";
    } else {
        if (!region)
            return reason_why(out, size, HD_VALID_NO_REGION, "a national number needs a region");
        if (!(r = region_by_code(region)))
            return reason(out, size, "unknown default region");
        size_t tl = strlen(r->trunk);
        if (tl && strncmp(digits, r->trunk, tl) == 0 && strlen(digits) - tl >= r->min)
            digits += tl;
        size_t nsn = strlen(digits);
        if (nsn < r->min || nsn > r->max)
            return reason(out, size, "wrong number of digits for its region");
        if (strlen(r->cc) + nsn > 15)
            return reason(out, size, "longer than 15 digits");
        cc = r->cc;
    }
    /* "+", the country code for a national number, the digits (the
     * digits fit in d, the code in 3 bytes) */
    size_t cn = strlen(cc), dn = strlen(digits);
    if (1 + cn + dn + 1 > size)
        return reason(out, size, "too long");
    out[0] = '+';
    memcpy(out + 1, cc, cn);
    memcpy(out + 1 + cn, digits, dn + 1);
    return 0;
}

/* Numbering plans by leading digits, after the trunk prefix, for the
 * regions whose numbers are mixed up most (libphonenumber's rules, cut down
 * to lengths): "PREFIX/LEN" or "PREFIX/MIN-MAX", space-separated, a prefix
 * of digits and [a-b] classes. A national number that fits no rule of its
 * region was most likely written for another country (a US number read in
 * CN becomes a valid-looking +86 number of 11 digits). */
static const struct {
    char code[3];
    const char *rules;
} plans[] = {
    {"CN", "13/11 14[5-9]/11 1[5-9]/11 10/10 2/10 [3-9]/10-11"},
    {"US", "[2-9]"
           "[0-9][0-9][2-9]/10"},
    {"CA", "[2-9]"
           "[0-9][0-9][2-9]/10"},
    {"GB", "1/9-10 2/10 3/10 5/10 7/10 8/9-10 9/10"},
    {"DE", "15/11 1[67]/10-11 18/6-12 [2-9]/6-11"},
    {"FR", "[1-9]/9"},
    {"JP", "[5789]0/10 120/9 800/10 [1-9]/9"},
    {"IN", "[1-9]/10"},
    {"HK", "800/9 [2-9]/8"},
    {"TW", "9/9 [2-8]/8-9"},
    {"SG", "1800/10 [3689]/8"},
    {"AU", "[2-478]/9 1/6-10"},
};

/* Matches the prefix at *r (up to '/') against d; advances *r past it. */
static bool prefix_fits(const char **r, const char *d)
{
    bool ok = true;
    const char *p = *r;
    for (; *p != '/'; d += *d != '\0') {
        char lo = *p, hi = *p;
        if (*p == '[')
            lo = p[1], hi = p[3], p += 4;
        ok &= *d >= lo && *d <= hi;
        p++;
    }
    *r = p + 1;
    return ok;
}

/* True when the national significant number nsn fits one of rules. */
static bool plan_fits(const char *rules, const char *nsn)
{
    size_t n = strlen(nsn);
    const char *r = rules;
    while (*r) {
        bool prefix = prefix_fits(&r, nsn);
        char *end;
        unsigned long lo = strtoul(r, &end, 10), hi = lo;
        if (*end == '-')
            hi = strtoul(end + 1, &end, 10);
        if (prefix && n >= lo && n <= hi)
            return true;
        r = *end ? end + 1 : end;
    }
    return false;
}

bool hd_valid_phone_plan_fits(const char *s, const char *region)
{
    char d[32];
    size_t n = 0;
    const char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '+' || (p[0] == '0' && p[1] == '0'))
        return true; /* international: its country code says where */
    for (; *p && n + 1 < sizeof d; p++)
        if (isdigit((unsigned char)*p))
            d[n++] = *p;
    d[n] = '\0';
    const struct region *r = region_by_code(region);
    for (size_t i = 0; r && i < sizeof plans / sizeof plans[0]; i++) {
        if (strcmp(plans[i].code, r->code) != 0)
            continue;
        size_t tl = strlen(r->trunk);
        const char *nsn = d;
        if (tl && strncmp(d, r->trunk, tl) == 0 && n - tl >= r->min)
            nsn += tl;
        return plan_fits(plans[i].rules, nsn);
    }
    return true; /* no plan known: no opinion */
}

bool hd_valid_country(const char *s)
{
    if (strlen(s) != 2)
        return false;
    for (const char *const *c = uloc_getISOCountries(); *c; c++)
        if (strcasecmp(*c, s) == 0)
            return true;
    return false;
}

/* ---- locale (RFC 5646 well-formedness, language known to ICU) ---------- */

static bool all(const char *s, size_t n, int (*pred)(int))
{
    for (size_t i = 0; i < n; i++)
        if (!pred((unsigned char)s[i]))
            return false;
    return true;
}

static int check_locale(const char *s, char *out, size_t size)
{
    char norm[64];
    size_t len = strlen(s), o = 0;
    if (len == 0 || len >= sizeof norm)
        return not_tag(out, size, HD_VALID_NOT_TAG);
    if (strchr(s, '_'))
        return not_tag(out, size, HD_VALID_TAG_SEP);
    const char *p = s;
    int idx = 0;
    bool in_ext = false, privateuse = false;
    while (*p) {
        const char *q = strchr(p, '-');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 0 || n > 8 || !all(p, n, isalnum))
            return not_tag(out, size, HD_VALID_NOT_TAG);
        char sub[9];
        for (size_t i = 0; i < n; i++)
            sub[i] = (char)tolower((unsigned char)p[i]);
        sub[n] = '\0';
        if (idx == 0) {
            /* RFC 5646 reserves 4-8 letter languages; none is registered */
            if (n < 2 || n > 3 || !all(p, n, isalpha))
                return not_tag(out, size, HD_VALID_TAG_NO_LANG);
        } else if (privateuse || in_ext) {
            /* x-... and extension subtags: 1-8 alphanumerics (already checked) */
        } else if (n == 1) {
            if (sub[0] == 'x')
                privateuse = true;
            else
                in_ext = true;
        } else if (n == 4 && all(p, n, isalpha) && idx <= 2) {
            sub[0] = (char)toupper((unsigned char)sub[0]); /* script: Hant */
        } else if ((n == 2 && all(p, n, isalpha)) || (n == 3 && all(p, n, isdigit))) {
            for (size_t i = 0; i < n; i++)
                sub[i] = (char)toupper((unsigned char)sub[i]); /* region: CN, 419 */
        } else if (!((n >= 5) || (n == 4 && isdigit((unsigned char)p[0])))) {
            return not_tag(out, size, HD_VALID_NOT_TAG);
        }
        o += (size_t)snprintf(norm + o, sizeof norm - o, "%s%s", idx ? "-" : "", sub);
        idx++;
        if (!q)
            break;
        p = q + 1;
        if (!*p)
            return not_tag(out, size, HD_VALID_NOT_TAG);
    }
    if (in_ext && !privateuse) {
        /* a singleton must be followed by at least one subtag: rough check */
        size_t nl = strlen(norm);
        if (nl >= 2 && norm[nl - 2] == '-')
            return not_tag(out, size, HD_VALID_NOT_TAG);
    }
    /* the language must be one ICU knows (it knows every ISO 639 code) */
    char lang[9];
    size_t ln = strcspn(norm, "-");
    memcpy(lang, norm, ln);
    lang[ln] = '\0';
    if (ln <= 3 && strcmp(lang, "und") != 0 && strcmp(uloc_getISO3Language(lang), "") == 0)
        return reason(out, size, "unknown language");
    hd_strcpy_cut(out, size, norm);
    return 0;
}

int hd_valid_locale(struct hd_valid *v, const char *s, char *out, size_t size)
{
    struct cache_slot *slot = cache_find(v->locales, s);
    if (slot && slot->key)
        return cached(slot, out, size);
    int rc = check_locale(s, out, size);
    return remember(slot, s, rc, out);
}

int hd_valid_timezone(struct hd_valid *v, const char *s, char *out, size_t size)
{
    struct cache_slot *slot = cache_find(v->zones, s);
    if (slot && slot->key)
        return cached(slot, out, size);
    int rc = hd_time_zone_valid(s) ? 0 : HD_VALID_BAD;
    hd_strcpy_cut(out, size, rc == 0 ? s : hd_time_zone_hint(s));
    return remember(slot, s, rc, out);
}

/* The display name of mailbox (the text before its last '<') into out,
 * parsed once: a quoted-string loses its quotes and backslashes, so that
 * it is quoted again only once (issue 15: "Acme" came out as "\"Acme\"").
 * -1 when it does not fit in size - 1 bytes (nothing is cut). */
int hd_valid_display_name(const char *mailbox, char *out, size_t size)
{
    const char *s = mailbox, *e = strrchr(mailbox, '<');
    size_t n = 0;
    out[0] = '\0';
    if (!e)
        return 0;
    while (s < e && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    bool quoted = e - s >= 2 && *s == '"' && e[-1] == '"';
    if (quoted)
        s++, e--;
    for (; s < e; s++) {
        if (n + 1 >= size)
            return -1;
        if (quoted && *s == '\\' && s + 1 < e)
            s++;
        out[n++] = *s;
    }
    out[n] = '\0';
    return 0;
}
