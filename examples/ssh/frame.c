/* examples/ssh/frame.c - see frame.h. */
#include "frame.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

bool ssh_frame_type_known(uint8_t type)
{
    switch (type) {
    case SSH_HELLO:
    case SSH_RUN:
    case SSH_STDIN:
    case SSH_STDIN_EOF:
    case SSH_SIGNAL:
    case SSH_READY:
    case SSH_STDOUT:
    case SSH_STDERR:
    case SSH_EXIT:
    case SSH_ERROR:
        return true;
    default:
        return false;
    }
}

const char *ssh_frame_type_name(uint8_t type)
{
    switch (type) {
    case SSH_HELLO: return "HELLO";
    case SSH_RUN: return "RUN";
    case SSH_STDIN: return "STDIN";
    case SSH_STDIN_EOF: return "STDIN_EOF";
    case SSH_SIGNAL: return "SIGNAL";
    case SSH_READY: return "READY";
    case SSH_STDOUT: return "STDOUT";
    case SSH_STDERR: return "STDERR";
    case SSH_EXIT: return "EXIT";
    case SSH_ERROR: return "ERROR";
    default: return "?";
    }
}

int ssh_frame_encode_header(uint8_t out[SSH_FRAME_HEADER], uint8_t type,
                            size_t length)
{
    if (!ssh_frame_type_known(type))
        return -EINVAL;
    if (length > SSH_FRAME_MAX)
        return -EMSGSIZE;
    out[0] = type;
    out[1] = (uint8_t)(length >> 24);
    out[2] = (uint8_t)(length >> 16);
    out[3] = (uint8_t)(length >> 8);
    out[4] = (uint8_t)length;
    return 0;
}

int ssh_frame_decode_header(const uint8_t in[SSH_FRAME_HEADER],
                            ssh_frame_header *h)
{
    h->type = in[0];
    h->length = (uint32_t)in[1] << 24 | (uint32_t)in[2] << 16 |
                (uint32_t)in[3] << 8 | (uint32_t)in[4];
    if (!ssh_frame_type_known(h->type))
        return -EPROTO;
    if (h->length > SSH_FRAME_MAX)
        return -EMSGSIZE;
    /* Checking fixed sizes here keeps every reader from trusting them. */
    switch (h->type) {
    case SSH_STDIN_EOF:
    case SSH_READY:
        return h->length == 0 ? 0 : -EINVAL;
    case SSH_EXIT:
        return h->length == 4 ? 0 : -EINVAL;
    default:
        return 0;
    }
}

void ssh_frame_encode_status(uint8_t out[4], int status)
{
    uint32_t v = (uint32_t)status & 0xffu;
    out[0] = 0;
    out[1] = 0;
    out[2] = 0;
    out[3] = (uint8_t)v;
}

int ssh_frame_decode_status(const uint8_t *payload, size_t len)
{
    if (len != 4)
        return -EINVAL;
    uint32_t v = (uint32_t)payload[0] << 24 | (uint32_t)payload[1] << 16 |
                 (uint32_t)payload[2] << 8 | (uint32_t)payload[3];
    return v <= 255 ? (int)v : -EINVAL;
}

static const struct {
    const char *name;
    int signo;
} signals[] = {
    {"HUP", SIGHUP}, {"INT", SIGINT},   {"QUIT", SIGQUIT},
    {"KILL", SIGKILL}, {"TERM", SIGTERM},
};

int ssh_frame_signal_number(const uint8_t *payload, size_t len)
{
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        if (strlen(signals[i].name) == len &&
            memcmp(signals[i].name, payload, len) == 0)
            return signals[i].signo;
    return -EINVAL;
}

const char *ssh_frame_signal_name(int signo)
{
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        if (signals[i].signo == signo)
            return signals[i].name;
    return NULL;
}
