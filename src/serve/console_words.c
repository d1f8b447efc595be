/* console_words: the console's words for what the store and the library
 * keep as codes: a user's role, a message's state (hd_state_name's
 * words), a log row's outcome, and the reasons herald why gives for a
 * channel it skipped (hd_why_skip_words says them in English). English
 * pages show the library's words as the CLI prints them; a zh-CN page
 * takes them from the tables here, one row per code, so that no page
 * shows an English state among Chinese words. A code no table knows (a
 * newer state, a gateway's reason) comes back as it is. */
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
        {"queued", "排队中"},       {"sending", "发送中"},     {"sent", "已发送"},
        {"delivered", "已送达"},    {"undelivered", "未送达"}, {"failed", "失败"},
        {"retry_wait", "等待重试"}, {"deferred", "已推迟"},    {"held_out", "对照组"},
        {"suppressed", "已屏蔽"},   {"no_channel", "无可用渠道"}, {"capped", "超出频次上限"},
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
