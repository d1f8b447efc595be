/* sms: GSM 03.38 classification and segment counting, greedy like the
 * gateways: characters are packed into parts in order, and a character whose
 * cost would straddle a part boundary starts the next part. */
#include "herald/sms.h"

#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"

/* The GSM 03.38 default alphabet, as Unicode code points. */
static const unsigned short gsm_basic[] = {
    '@',   0xA3, '$',  0xA5,  0xE8, 0xE9,  0xF9,  0xEC,  0xF2,  0xC7,  '\n',  0xD8,  0xF8,
    '\r',  0xC5, 0xE5, 0x394, '_',  0x3A6, 0x393, 0x39B, 0x3A9, 0x3A0, 0x3A8, 0x3A3, 0x398,
    0x39E, 0xC6, 0xE6, 0xDF,  0xC9, ' ',   '!',   '"',   '#',   0xA4,  '%',   '&',   '\'',
    '(',   ')',  '*',  '+',   ',',  '-',   '.',   '/',   '0',   '1',   '2',   '3',   '4',
    '5',   '6',  '7',  '8',   '9',  ':',   ';',   '<',   '=',   '>',   '?',   0xA1,  'A',
    'B',   'C',  'D',  'E',   'F',  'G',   'H',   'I',   'J',   'K',   'L',   'M',   'N',
    'O',   'P',  'Q',  'R',   'S',  'T',   'U',   'V',   'W',   'X',   'Y',   'Z',   0xC4,
    0xD6,  0xD1, 0xDC, 0xA7,  0xBF, 'a',   'b',   'c',   'd',   'e',   'f',   'g',   'h',
    'i',   'j',  'k',  'l',   'm',  'n',   'o',   'p',   'q',   'r',   's',   't',   'u',
    'v',   'w',  'x',  'y',   'z',  0xE4,  0xF6,  0xF1,  0xFC,  0xE0};

/* The extension table: each costs an escape septet and itself. */
static const unsigned short gsm_ext[] = {0x0C, '^', '{', '}', '\\', '[', '~', ']', '|', 0x20AC};

static int gsm_cost(unsigned cp)
{
    for (size_t i = 0; i < sizeof gsm_basic / sizeof gsm_basic[0]; i++)
        if (gsm_basic[i] == cp)
            return 1;
    for (size_t i = 0; i < sizeof gsm_ext / sizeof gsm_ext[0]; i++)
        if (gsm_ext[i] == cp)
            return 2;
    return 0;
}

/* Next code point; invalid bytes come back one at a time as U+FFFD. */
static unsigned next_cp(const unsigned char *s, size_t n, size_t *i)
{
    unsigned c = s[*i];
    size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (len == 0 || *i + len > n) {
        (*i)++;
        return 0xFFFD;
    }
    unsigned cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    for (size_t k = 1; k < len; k++) {
        if ((s[*i + k] & 0xC0) != 0x80) {
            (*i)++;
            return 0xFFFD;
        }
        cp = (cp << 6) | (s[*i + k] & 0x3F);
    }
    *i += len;
    return cp;
}

static size_t pack(const size_t *costs, size_t n, size_t single, size_t part)
{
    size_t total = 0, segments = 1, used = 0;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        total += costs[i];
    if (total <= single)
        return 1;
    for (size_t i = 0; i < n; i++) {
        if (used + costs[i] > part) {
            segments++;
            used = 0;
        }
        used += costs[i];
    }
    return segments;
}

void hd_sms_analyze(const char *s, size_t n, struct hd_sms_info *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, chars = 0, gsm_units = 0, ucs_units = 0;
    bool gsm = true;
    /* per-character costs, for the greedy packing; n bytes bound the count */
    size_t *gcost = hd_xmalloc((n + 1) * sizeof *gcost);
    size_t *ucost = hd_xmalloc((n + 1) * sizeof *ucost);
    memset(out, 0, sizeof *out);
    while (i < n) {
        size_t at = i;
        unsigned cp = next_cp(u, n, &i);
        int g = gsm_cost(cp);
        if (!g && gsm) {
            gsm = false;
            size_t len =
                i - at < sizeof out->first_non_gsm ? i - at : sizeof out->first_non_gsm - 1;
            memcpy(out->first_non_gsm, s + at, len);
            out->first_non_gsm[len] = '\0';
        }
        gcost[chars] = (size_t)g;
        ucost[chars] = cp > 0xFFFF ? 2 : 1;
        gsm_units += gcost[chars];
        ucs_units += ucost[chars];
        chars++;
    }
    out->chars = chars;
    if (gsm) {
        out->encoding = HD_SMS_GSM7;
        out->units = gsm_units;
        out->segments = pack(gcost, chars, 160, 153);
        out->per_segment = out->segments > 1 ? 153 : 160;
    } else {
        out->encoding = HD_SMS_UCS2;
        out->units = ucs_units;
        out->segments = pack(ucost, chars, 70, 67);
        out->per_segment = out->segments > 1 ? 67 : 70;
    }
    free(gcost);
    free(ucost);
}

const char *hd_sms_encoding_name(enum hd_sms_encoding e)
{
    return e == HD_SMS_GSM7 ? "GSM-7" : "UCS-2";
}
