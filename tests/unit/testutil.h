/* Small helpers shared by the unit tests. */
#ifndef ATTRACE_TESTUTIL_H
#define ATTRACE_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses hex digits (spaces ignored) into @p out; returns the byte count.
 * Aborts the test program on malformed input: a broken fixture is a bug. */
size_t tu_hex(const char *hex, uint8_t *out, size_t cap);

/* Reads a whole file into a malloc'd buffer (caller frees); aborts on error. */
uint8_t *tu_read_file(const char *path, size_t *len);

/* A growable text buffer: tests record what a decoder reported as text
 * and compare whole runs with one string comparison. */
typedef struct tu_text {
    char *buf;
    size_t len, cap;
    unsigned count; /* items recorded, kept by the caller */
    bool verbose;   /* the caller records more detail (e.g. timestamps) */
} tu_text;

void tu_text_printf(tu_text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The text so far ("" when nothing was recorded). */
const char *tu_text_str(const tu_text *t);

void tu_text_free(tu_text *t);

/* Removes the files directly in @p dir, then @p dir itself (a test's
 * temporary directory; what cannot be removed stays). */
void tu_rm_dir(const char *dir);

#endif
