/* hooks_sns: Amazon SES events through SNS (issue 19). Not written yet:
 * every request is answered 501. */
#include "serve_int.h"

void hd_sns_post(struct hd_srv *s, struct hd_hook *h, struct hd_answer *a)
{
    (void)s;
    (void)h;
    hd_hook_say(a, 501, "SES events are not taken yet\n");
}
