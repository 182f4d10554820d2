#include "util/util.h"

const char *err_str(int code)
{
    switch (code) {
    case TO_OK: return "ok";
#define TO_X(name, msg)                                                                            \
    case TO_E##name: return msg;
        TO_ERRNO_MAP(TO_X)
#undef TO_X
    default: return "unknown error";
    }
}
