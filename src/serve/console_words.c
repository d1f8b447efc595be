/* console_words: the console's words for what the store and the library
 * keep as codes: a user's role, a message's state (hd_state_name's
 * words), a log row's outcome, and the reasons herald why gives for a
 * channel it skipped (hd_why_skip_words says them in English). English
 * pages show the library's words as the CLI prints them; a zh-CN page
 * takes them from the tables here, one row per code, so that no page
 * shows an English state among Chinese words. A code no table knows (a
 * newer state, a gateway's reason) comes back as it is.
 *
 * hd_con_words puts a zh-CN page's data in these words just before it is
 * rendered (hd_con_page), so that every page that lists states, outcomes
 * or why's reasons gets them without each loader knowing the language:
 * the values under "state", "outcome" and "why" in the rows of a list (an
 * object inside an array). Only rows: a page's own fields, such as the
 * log's filter form, keep the codes a query takes. "why" holds
 * hd_why_skip_words's English sentence, matched back to its code. */
#include <string.h>

#include "herald/audit.h"
#include "console_int.h"

struct word {
    const char *code, *zh;
};

static const char *look_up(const struct word *w, size_t n, const char *code)
{
    for (size_t i = 0; code && i < n; i++)
        if (strcmp(w[i].code, code) == 0)
            return w[i].zh;
    return NULL;
}

const char *hd_console_role_word(int lang, int role)
{
    static const char *const zh[HD_ROLE_COUNT] = {"查看者", "操作员", "管理员"};
    return lang == LANG_ZH && role >= 0 && role < HD_ROLE_COUNT ? zh[role] : hd_role_name(role);
}

const char *hd_console_state_word(int lang, const char *state)
{
    static const struct word zh[] = {
        {"queued", "排队中"},       {"sending", "发送中"},         {"sent", "已发送"},
        {"delivered", "已送达"},    {"undelivered", "未送达"},     {"failed", "失败"},
        {"retry_wait", "等待重试"}, {"deferred", "已推迟"},        {"held_out", "对照组"},
        {"suppressed", "已屏蔽"},   {"no_channel", "无可用渠道"},  {"capped", "超出频次上限"},
        {"expired", "已过期"},      {"render_failed", "渲染失败"}, {"cancelled", "已取消"},
        {"bounced", "已退信"},      {"complained", "被投诉"},
    };
    const char *w = lang == LANG_ZH ? look_up(zh, sizeof zh / sizeof zh[0], state) : NULL;
    return w ? w : state;
}

const char *hd_console_outcome_word(int lang, const char *outcome)
{
    static const struct word zh[] = {
        {"accepted", "已接受"},  {"temporary", "暂时失败"}, {"permanent", "永久失败"},
        {"throttled", "被限流"}, {"skipped", "已跳过"},     {"receipt", "回执"},
    };
    const char *w = lang == LANG_ZH ? look_up(zh, sizeof zh / sizeof zh[0], outcome) : NULL;
    return w ? w : outcome;
}

const char *hd_console_why_word(int lang, const char *reason)
{
    static const struct word zh[] = {
        {"no_address", "没有地址"},
        {"no_provider", "该渠道未配置服务商"},
        {"opted_out", "未同意（已退订）"},
        {"suppressed", "地址已被屏蔽"},
    };
    const char *w = lang == LANG_ZH ? look_up(zh, sizeof zh / sizeof zh[0], reason) : NULL;
    return w ? w : hd_why_skip_words(reason);
}

/* The code whose English sentence hd_why_skip_words gives as text. */
static const char *why_zh(const char *text)
{
    static const char *const codes[] = {"no_address", "no_provider", "opted_out", "suppressed"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(hd_why_skip_words(codes[i]), text) == 0)
            return hd_console_why_word(LANG_ZH, codes[i]);
    return text;
}

static void row_words(json_t *row)
{
    static const char *const keys[] = {"state", "outcome", "why"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *v = json_string_value(json_object_get(row, keys[k]));
        if (!v)
            continue;
        const char *w = k == 0   ? hd_console_state_word(LANG_ZH, v)
                        : k == 1 ? hd_console_outcome_word(LANG_ZH, v)
                                 : why_zh(v);
        if (w != v)
            json_object_set_new(row, keys[k], json_string(w));
    }
}

static void walk(json_t *j, bool in_list)
{
    const char *key;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        if (in_list)
            row_words(j);
        json_object_foreach(j, key, v)
        {
            walk(v, false);
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            walk(v, true);
        }
    }
}

void hd_con_words(json_t *data, int lang)
{
    if (lang == LANG_ZH)
        walk(data, false);
}
