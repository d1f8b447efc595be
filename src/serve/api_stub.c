/* api_stub: endpoints not built yet answer 501. */
#include "api_int.h"
#define STUB(f)                                                                                    \
    void f(struct hd_api_call *c, struct hd_answer *a)                                             \
    {                                                                                              \
        (void)c;                                                                                   \
        hd_api_problem(a, 501, NULL, "not implemented yet");                                       \
    }

STUB(hd_api_openapi_get)
