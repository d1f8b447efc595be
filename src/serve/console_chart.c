/* console_chart: the campaign page's lift chart (issue 21), an inline SVG
 * drawn by the server from the report herald stats --goal prints
 * (hd_goal_json: one function feeds the command line, the page and the
 * tests), so the page needs no script. One row per group compared with
 * the holdout: a bar from 0 to the lift in points, the 95% interval as a
 * whisker over it, the numbers written at the right; the axis is
 * symmetric around 0 and rounded to 1, 2 or 5 times a power of ten. A
 * group too small for its p-value to mean anything is drawn paler and
 * says so. The markup is built here, every text (a variant's name comes
 * from the operator) escaped for XML; the template puts it in as it is. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "console_int.h"

#define W 640
#define LEFT 130
#define RIGHT 250
#define ROW 34
#define TOP 30
#define BOTTOM 8

static void xml_text(struct hd_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            hd_buf_adds(b, "&amp;");
            break;
        case '<':
            hd_buf_adds(b, "&lt;");
            break;
        case '>':
            hd_buf_adds(b, "&gt;");
            break;
        case '"':
            hd_buf_adds(b, "&quot;");
            break;
        case '\'':
            hd_buf_adds(b, "&#39;");
            break;
        default:
            hd_buf_addc(b, *s);
        }
    }
}

/* The axis's half-width in points: 1, 2 or 5 times a power of ten. */
static double axis_of(const json_t *groups)
{
    double m = 0;
    size_t i;
    const json_t *o;
    json_array_foreach(groups, i, o)
    {
        const json_t *ci = json_object_get(o, "ci95_points");
        for (size_t k = 0; ci && k < 2; k++)
            m = fmax(m, fabs(json_number_value(json_array_get(ci, k))));
        m = fmax(m, fabs(json_number_value(json_object_get(o, "lift_points"))));
    }
    double p = pow(10, floor(log10(m > 0.1 ? m : 0.1)));
    for (double f = 1;; f = f == 1 ? 2 : f == 2 ? 5 : (p *= 10, 1))
        if (f * p >= m)
            return f * p;
}

static double x_of(double v, double m)
{
    return LEFT + (v + m) / (2 * m) * (W - LEFT - RIGHT);
}

static void axis(struct hd_buf *b, double m, int h)
{
    for (int k = -2; k <= 2; k++) {
        double v = m * k / 2, x = x_of(v, m);
        hd_buf_addf(b,
                    "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\"/>"
                    "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%+g</text>",
                    x, TOP - 6, x, h - BOTTOM, k ? "#d9dee3" : "#5b6570", x, TOP - 12, v);
    }
}

/* One group's row at y: its name, bar, whisker and numbers. */
static void row(struct hd_buf *b, const json_t *o, int lang, double m, int y)
{
    const char *name = json_string_value(json_object_get(o, "group"));
    const json_t *ci = json_object_get(o, "ci95_points");
    double d = json_number_value(json_object_get(o, "lift_points"));
    double lo = json_number_value(json_array_get(ci, 0)),
           hi = json_number_value(json_array_get(ci, 1));
    bool few = json_is_true(json_object_get(o, "too_few"));
    double x0 = x_of(0, m), x1 = x_of(d, m);
    hd_buf_addf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LEFT - 8, y + 4);
    xml_text(b, strcmp(name, "-") == 0 ? (lang == LANG_ZH ? "本活动" : "the campaign") : name);
    hd_buf_addf(b,
                "</text><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"14\" fill=\"%s\" "
                "fill-opacity=\"%s\"/>",
                fmin(x0, x1), y - 7, fabs(x1 - x0), d >= 0 ? "#2e7d32" : "#b3261e",
                few ? "0.35" : "0.85");
    hd_buf_addf(b,
                "<path d=\"M%.1f %dv10M%.1f %dh%.1fM%.1f %dv10\" stroke=\"#1d232a\" "
                "stroke-width=\"1.5\" fill=\"none\"/>",
                x_of(lo, m), y - 5, x_of(lo, m), y, x_of(hi, m) - x_of(lo, m), x_of(hi, m), y - 5);
    hd_buf_addf(b, "<text x=\"%d\" y=\"%d\">%+.1f (%+.1f %s %+.1f)%s</text>", W - RIGHT + 10, y + 4,
                d, lo, lang == LANG_ZH ? "至" : "to", hi,
                few ? (lang == LANG_ZH ? " 样本太少" : " too few") : "");
}

void hd_con_lift_svg(const json_t *report, int lang, struct hd_buf *out)
{
    const json_t *groups = json_object_get(report, "groups"), *o;
    json_t *rows = json_array();
    size_t i;
    json_array_foreach(groups, i, o) if (json_object_get(o, "ci95_points"))
        json_array_append(rows, (json_t *)o);
    double m = axis_of(rows);
    int h = TOP + (int)json_array_size(rows) * ROW + BOTTOM;
    const char *title = lang == LANG_ZH ? "相对对照组的转化提升（百分点）及其 95% 置信区间"
                                        : "Lift in conversion against the holdout (points), "
                                          "with its 95% interval";
    hd_buf_addf(out,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"lift\" viewBox=\"0 0 %d %d\" "
                "width=\"%d\" height=\"%d\" role=\"img\" aria-labelledby=\"lift-title\" "
                "font-size=\"12\" fill=\"#1d232a\"><title id=\"lift-title\">%s</title>",
                W, h, W, h, title);
    axis(out, m, h);
    json_array_foreach(rows, i, o) row(out, o, lang, m, TOP + (int)i * ROW + ROW / 2);
    hd_buf_adds(out, "</svg>");
    json_decref(rows);
}
