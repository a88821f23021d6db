/* Small helpers shared by the unit tests. */
#ifndef ATTRACE_TESTUTIL_H
#define ATTRACE_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Parses hex digits (spaces ignored) into @p out; returns the byte count.
 * Aborts the test program on malformed input: a broken fixture is a bug. */
size_t tu_hex(const char *hex, uint8_t *out, size_t cap);

/* Reads a whole file into a malloc'd buffer (caller frees); aborts on error. */
uint8_t *tu_read_file(const char *path, size_t *len);

#endif
