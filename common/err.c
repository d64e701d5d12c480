/* Names and messages for the codes declared in aw/err.h. */
#include "aw/err.h"

#include <stddef.h>

const char *aw_err_name(int err) {
    switch (err) {
    case AW_OK:
        return "AW_OK";
#define AW_ERR_NAME_(name, msg)                                                \
    case AW_E##name:                                                           \
        return "AW_E" #name;
        AW_ERR_MAP(AW_ERR_NAME_)
#undef AW_ERR_NAME_
    default:
        return "AW_E?";
    }
}

const char *aw_strerror(int err) {
    switch (err) {
    case AW_OK:
        return "success";
#define AW_ERR_MSG_(name, msg)                                                 \
    case AW_E##name:                                                           \
        return msg;
        AW_ERR_MAP(AW_ERR_MSG_)
#undef AW_ERR_MSG_
    default:
        return "unknown error";
    }
}
