#include "escape.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t at_escape_mem(char *dst, const void *data, size_t n, unsigned flags)
{
    static const char hex[] = "0123456789ABCDEF";
    const uint8_t *p = data;
    const uint8_t keep = (flags & AT_ESC_KEEP_BACKSLASH) ? '\\' : 0x20;
    char *o = dst;
    size_t i = 0;
    while (i < n) {
        /* Printable runs are copied in one go: the decoder's hot path. */
        size_t j = i;
        while (j < n && p[j] >= 0x20 && p[j] < 0x7f && (p[j] != '\\' || keep == '\\'))
            j++;
        memcpy(o, p + i, j - i);
        o += j - i;
        if (j == n)
            break;
        uint8_t b = p[j];
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
        i = j + 1;
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
