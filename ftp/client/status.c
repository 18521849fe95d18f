/* ftp/client/status.c - see status.h. */
#include "status.h"

int ftpc_exit_code(int status)
{
    switch (status) {
    case FTPC_OK:
        return FTPC_EXIT_OK;
    case FTPC_ERR_USAGE:
        return FTPC_EXIT_USAGE;
    case FTPC_ERR_LOGIN:
        return FTPC_EXIT_LOGIN;
    case FTPC_ERR_CONNECT:
        return FTPC_EXIT_CONNECT;
    default:
        return FTPC_EXIT_FAIL;
    }
}
