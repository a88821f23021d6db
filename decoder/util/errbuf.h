/*
 * errbuf.h - the message buffers of the I/O layers (trace, crypto): every
 * function that can fail takes `char *err, size_t err_cap` and fills it
 * with one sentence. Private to the libraries; not installed.
 */
#ifndef ATTRACE_ERRBUF_H
#define ATTRACE_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__)
#define AT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define AT_PRINTF(f, a)
#endif

/* Formats a message into @p err (capacity @p cap); NULL or 0 is allowed. */
void at_err_set(char *err, size_t cap, const char *fmt, ...) AT_PRINTF(3, 4);

/* The same with a va_list, for wrappers that also return a status. */
void at_err_vset(char *err, size_t cap, const char *fmt, va_list ap);

/* Appends to the message already in @p err, truncating at @p cap. */
void at_err_add(char *err, size_t cap, const char *fmt, ...) AT_PRINTF(3, 4);

/*
 * Writes @p n bytes of @p s (a name taken from a file: an alias, a friendly
 * name) into @p out as a double-quoted string with the quote, the backslash and
 * every byte outside printable ASCII escaped (\" \\ \xNN), so that hostile
 * bytes never reach a terminal. Truncates at @p cap, keeping escapes whole.
 */
void at_err_quote(const void *s, size_t n, char *out, size_t cap);

#endif
