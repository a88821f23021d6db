#include "escape.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bit 7 of each byte of the result is set where a byte of @p w must be
 * escaped: below 0x20, 0x7f and above, or a backslash when @p bs is the
 * backslash in every byte (0 when backslashes are kept). Byte-wise sums
 * of 7-bit values never carry into the next byte, so each byte's flag
 * depends on that byte alone. */
static uint64_t escapes_in(uint64_t w, uint64_t bs)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    const uint64_t low7 = w & ~high;
    const uint64_t below_space = ~(low7 + 0x60 * ones);  /* low7 < 0x20 */
    const uint64_t del = low7 + ones;                     /* low7 == 0x7f */
    const uint64_t x = w ^ bs;                             /* 0 where w == bs */
    const uint64_t is_bs = bs ? ~(((x & ~high) + 0x7f * ones) | x) : 0;
    return (w | below_space | del | is_bs) & high;
}

size_t at_escape_mem(char *dst, const void *data, size_t n, unsigned flags)
{
    static const char hex[] = "0123456789ABCDEF";
    const uint8_t *p = data;
    const bool keep_bs = (flags & AT_ESC_KEEP_BACKSLASH) != 0;
    const uint64_t bs = keep_bs ? 0 : 0x5c5c5c5c5c5c5c5cu;
    char *o = dst;
    size_t i = 0;
    for (;;) {
        /* Printable text eight bytes at a time: the decoder's hot path. */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (escapes_in(w, bs))
                break;
            memcpy(o, &w, 8);
            o += 8;
            i += 8;
        }
        if (i == n)
            break;
        uint8_t b = p[i++];
        if (b >= 0x20 && b < 0x7f && (b != '\\' || keep_bs)) {
            *o++ = (char)b;
            continue;
        }
        *o++ = '\\';
        switch (b) {
        case '\r': *o++ = 'r'; break;
        case '\n': *o++ = 'n'; break;
        case '\t': *o++ = 't'; break;
        case '\\': *o++ = '\\'; break;
        default:
            *o++ = 'x';
            *o++ = hex[b >> 4];
            *o++ = hex[b & 15];
        }
    }
    return (size_t)(o - dst);
}

void at_escape_write(FILE *f, const void *data, size_t n, unsigned flags)
{
    const uint8_t *p = data;
    char out[4 * 1024];
    while (n) {
        size_t k = n < sizeof out / 4 ? n : sizeof out / 4;
        fwrite(out, 1, at_escape_mem(out, p, k, flags), f);
        p += k;
        n -= k;
    }
}

void at_escape_vprintf(FILE *f, unsigned flags, const char *fmt, va_list ap)
{
    char small[1024];
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(small, sizeof small, fmt, copy);
    va_end(copy);
    char *text = small;
    if (n >= (int)sizeof small) {
        char *big = malloc((size_t)n + 1);
        if (big) {
            vsnprintf(big, (size_t)n + 1, fmt, ap);
            text = big;
        } else {
            n = (int)sizeof small - 1; /* the truncated text */
        }
    }
    if (n > 0)
        at_escape_write(f, text, (size_t)n, flags);
    if (text != small)
        free(text);
}

void at_vmsg(const char *prog, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", prog);
    at_escape_vprintf(stderr, 0, fmt, ap);
    fputc('\n', stderr);
}

void at_msg(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    at_vmsg(prog, fmt, ap);
    va_end(ap);
}
