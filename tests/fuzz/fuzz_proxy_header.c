/* tests/fuzz/fuzz_proxy_header.c - libsockserv's PROXY protocol header
 * parser (proxy_header.c) and its CIDR parser.  The first byte chooses how
 * the rest is cut into feeds (the parser is incremental: one header may
 * arrive in any number of reads); the same bytes fed at once must give the
 * same answer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sockserv/proxy.h>

static ssize_t feed_pieces(ss_proxy_parser *p, const uint8_t *data,
                           size_t size, unsigned step)
{
    ss_error err;
    size_t off = 0;
    ssize_t rc = 0;
    while (off < size) {
        size_t n = step ? step : size - off;
        if (n > size - off)
            n = size - off;
        ss_error_clear(&err);
        rc = ss_proxy_parser_feed(p, data + off, n, &err);
        if (rc < 0)
            return rc;
        off += (size_t)rc;
        if ((size_t)rc < n || ss_proxy_parser_header(p))
            return (ssize_t)off; /* complete: the rest is the next layer's */
    }
    return ss_proxy_parser_header(p) ? (ssize_t)off : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned step = data[0] % 17; /* 0: everything in one feed */
    data++, size--;
    static ss_proxy_parser a, b; /* 4.5 KiB each */
    ss_proxy_parser_init(&a);
    ss_proxy_parser_init(&b);
    ssize_t ra = feed_pieces(&a, data, size, step);
    ssize_t rb = feed_pieces(&b, data, size, 0);
    const ss_proxy_header *ha = ss_proxy_parser_header(&a);
    const ss_proxy_header *hb = ss_proxy_parser_header(&b);
    if ((ha == NULL) != (hb == NULL))
        abort(); /* the cut changed whether the header parses */
    if (ha && (ra != rb || ha->length != hb->length || ha->length != (size_t)ra ||
               ha->version != hb->version || ha->command != hb->command))
        abort(); /* the cut changed what the header says */

    /* The trusted-network parser reads config text. */
    char text[64];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    ss_cidr net;
    ss_error err;
    ss_error_clear(&err);
    if (ss_cidr_parse(&net, text, &err) == 0 && ha)
        ss_cidr_match(&net, &ha->source);
    return 0;
}
