/* tests/ssh/test_frame.c - the ssh-demo frame codec on its own. */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "token.h"

Test(frame, header_round_trips_every_type_and_the_maximum_length)
{
    const uint8_t types[] = {SSH_HELLO, SSH_RUN,    SSH_STDIN,  SSH_SIGNAL,
                             SSH_STDOUT, SSH_STDERR, SSH_ERROR};
    const size_t lengths[] = {0, 1, 255, 256, 65535, SSH_FRAME_MAX};
    for (size_t i = 0; i < sizeof types; i++)
        for (size_t j = 0; j < sizeof lengths / sizeof lengths[0]; j++) {
            uint8_t hdr[SSH_FRAME_HEADER];
            ssh_frame_header h;
            cr_assert_eq(ssh_frame_encode_header(hdr, types[i], lengths[j]), 0);
            cr_assert_eq(ssh_frame_decode_header(hdr, &h), 0);
            cr_assert_eq(h.type, types[i]);
            cr_assert_eq(h.length, lengths[j]);
        }
}

Test(frame, length_is_big_endian_on_the_wire)
{
    uint8_t hdr[SSH_FRAME_HEADER];
    cr_assert_eq(ssh_frame_encode_header(hdr, SSH_STDOUT, 0x10000 - 0xfe), 0);
    const uint8_t want[] = {'O', 0x00, 0x00, 0xff, 0x02};
    cr_assert_arr_eq(hdr, want, sizeof want);
}

Test(frame, encoder_refuses_what_a_peer_would_refuse)
{
    uint8_t hdr[SSH_FRAME_HEADER];
    cr_assert_eq(ssh_frame_encode_header(hdr, SSH_STDOUT, SSH_FRAME_MAX + 1),
                 -EMSGSIZE);
    cr_assert_eq(ssh_frame_encode_header(hdr, 'z', 1), -EINVAL);
}

Test(frame, decoder_rejects_oversized_unknown_and_misshapen_frames)
{
    ssh_frame_header h;
    const uint8_t huge[] = {'I', 0x40, 0x00, 0x00, 0x00};
    cr_assert_eq(ssh_frame_decode_header(huge, &h), -EMSGSIZE);
    cr_assert_eq(h.length, 0x40000000u, "the header is still reported");
    const uint8_t one_over[] = {'I', 0x00, 0x01, 0x00, 0x01};
    cr_assert_eq(ssh_frame_decode_header(one_over, &h), -EMSGSIZE);
    const uint8_t unknown[] = {'z', 0, 0, 0, 1};
    cr_assert_eq(ssh_frame_decode_header(unknown, &h), -EPROTO);
    const uint8_t nul_type[] = {0, 0, 0, 0, 0};
    cr_assert_eq(ssh_frame_decode_header(nul_type, &h), -EPROTO);
    const uint8_t eof_with_data[] = {SSH_STDIN_EOF, 0, 0, 0, 1};
    cr_assert_eq(ssh_frame_decode_header(eof_with_data, &h), -EINVAL);
    const uint8_t short_exit[] = {SSH_EXIT, 0, 0, 0, 3};
    cr_assert_eq(ssh_frame_decode_header(short_exit, &h), -EINVAL);
}

Test(frame, exit_status_round_trips_and_rejects_out_of_range)
{
    for (int st = 0; st <= 255; st++) {
        uint8_t p[4];
        ssh_frame_encode_status(p, st);
        cr_assert_eq(ssh_frame_decode_status(p, 4), st);
    }
    const uint8_t big[] = {0, 0, 1, 0};
    cr_assert_eq(ssh_frame_decode_status(big, 4), -EINVAL);
    cr_assert_eq(ssh_frame_decode_status(big, 3), -EINVAL);
}

Test(frame, signals_travel_by_name)
{
    cr_assert_eq(ssh_frame_signal_number((const uint8_t *)"INT", 3), SIGINT);
    cr_assert_eq(ssh_frame_signal_number((const uint8_t *)"KILL", 4), SIGKILL);
    cr_assert_str_eq(ssh_frame_signal_name(SIGTERM), "TERM");
    cr_assert_eq(ssh_frame_signal_number((const uint8_t *)"IN", 2), -EINVAL);
    cr_assert_eq(ssh_frame_signal_number((const uint8_t *)"INTX", 4), -EINVAL);
    cr_assert_eq(ssh_frame_signal_number((const uint8_t *)"STOP", 4), -EINVAL);
    cr_assert_null(ssh_frame_signal_name(SIGSEGV));
}

Test(frame, type_names_for_messages)
{
    cr_assert_str_eq(ssh_frame_type_name(SSH_RUN), "RUN");
    cr_assert_str_eq(ssh_frame_type_name(SSH_STDIN_EOF), "STDIN_EOF");
    cr_assert_str_eq(ssh_frame_type_name('z'), "?");
}

Test(token, equal_only_for_identical_bytes)
{
    cr_assert(ssh_token_equal("secret", 6, "secret", 6));
    cr_assert_not(ssh_token_equal("secret", 6, "secreT", 6));
    cr_assert_not(ssh_token_equal("secret", 6, "secret", 5));
    cr_assert_not(ssh_token_equal("", 0, "secret", 6));
    cr_assert(ssh_token_equal("a\0b", 3, "a\0b", 3));
    cr_assert_not(ssh_token_equal("a\0b", 3, "a\0c", 3));
}

Test(token, file_gives_its_first_line_and_refuses_empty_or_missing)
{
    char path[] = "/tmp/ssh-token-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "tok en\r\nsecond\n", 15), 15);
    close(fd);
    char buf[SSH_TOKEN_MAX + 1], msg[256];
    cr_assert_eq(ssh_token_read_file(path, buf, sizeof buf, msg, sizeof msg), 6);
    cr_assert_str_eq(buf, "tok en");
    cr_assert_eq(truncate(path, 0), 0);
    cr_assert_eq(ssh_token_read_file(path, buf, sizeof buf, msg, sizeof msg),
                 -EINVAL);
    cr_assert(strstr(msg, "empty"));
    unlink(path);
    cr_assert_eq(ssh_token_read_file(path, buf, sizeof buf, msg, sizeof msg),
                 -ENOENT);
    cr_assert(strstr(msg, path));
}
