/*
 * escape.h - the one escaping of untrusted text for a terminal: text from a
 * trace, and what a user typed that comes back in a message (file names,
 * option values). Neither may drive the terminal (ESC sequences, bidi
 * tricks in UTF-8, C1 controls), so only printable ASCII goes out as is.
 * Private to the programs; not installed.
 */
#ifndef ATTRACE_ESCAPE_H
#define ATTRACE_ESCAPE_H

#include "errbuf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Flag of at_escape_write: print a backslash as itself (the analyzer's
 * sentences name commands such as AT\Q3); otherwise it is doubled, so the
 * escapes stay unambiguous. */
#define AT_ESC_KEEP_BACKSLASH 1u

/* Writes @p n bytes to @p f: printable ASCII as is, CR, LF, TAB as \r \n
 * \t, a backslash as \\ (see AT_ESC_KEEP_BACKSLASH), every other byte
 * (controls, DEL, all bytes >= 0x80) as \xHH. */
void at_escape_write(FILE *f, const void *data, size_t n, unsigned flags);
/* The same escaping into @p dst, which has room for 4 * @p n bytes;
 * returns the bytes written (no NUL). */
size_t at_escape_mem(char *dst, const void *data, size_t n, unsigned flags);

/* Formats with vfprintf's rules and writes the text with at_escape_write
 * (@p flags as there): logs that echo names use it. */
void at_escape_vprintf(FILE *f, unsigned flags, const char *fmt, va_list ap);

/* A message for standard error: "PROG: " then the formatted text escaped
 * with at_escape_write, then a newline. Messages echo file names and
 * option values; this is where they are made safe. */
void at_msg(const char *prog, const char *fmt, ...) AT_PRINTF(2, 3);
void at_vmsg(const char *prog, const char *fmt, va_list ap);

#endif
