/* tests/fuzz/fuzz.h - what several fuzz targets share. */
#ifndef FUZZ_H
#define FUZZ_H
#include <stddef.h>
#include <stdint.h>

/* Puts data in an anonymous memory file and writes its /proc/self/fd path
 * into path, for parsers that read a file by name.  Returns the descriptor
 * (close it after the parse) or -1. */
int fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t cap);

/* data as a NUL-terminated malloc'd string (free it), stopping at the first
 * NUL of the input. */
char *fuzz_strndup(const uint8_t *data, size_t size);

#endif
