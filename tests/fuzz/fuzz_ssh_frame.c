/* tests/fuzz/fuzz_ssh_frame.c - the ssh demo's frame decoder
 * (examples/ssh/frame.c): the input is a stream of frames as a peer sends
 * them; every header the decoder accepts must re-encode to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (size - off >= SSH_FRAME_HEADER) {
        ssh_frame_header h;
        int rc = ssh_frame_decode_header(data + off, &h);
        ssh_frame_type_name(h.type);
        if (rc < 0)
            break; /* a real peer is disconnected here */
        uint8_t again[SSH_FRAME_HEADER];
        if (ssh_frame_encode_header(again, h.type, h.length) < 0 ||
            memcmp(again, data + off, SSH_FRAME_HEADER) != 0)
            abort();
        off += SSH_FRAME_HEADER;
        size_t len = h.length < size - off ? h.length : size - off;
        ssh_frame_decode_status(data + off, len);
        int sig = ssh_frame_signal_number(data + off, len);
        if (sig >= 0 && !ssh_frame_signal_name(sig))
            abort();
        off += len;
    }
    return 0;
}
