#include "escape.h"

#include <stdint.h>
#include <stdlib.h>

void at_escape_write(FILE *f, const void *data, size_t n, unsigned flags)
{
    const uint8_t *p = data;
    const uint8_t keep = (flags & AT_ESC_KEEP_BACKSLASH) ? '\\' : 0x20;
    size_t i = 0;
    while (i < n) {
        /* Printable runs go out in one write: the decoder's hot path. */
        size_t j = i;
        while (j < n && p[j] >= 0x20 && p[j] < 0x7f && (p[j] != '\\' || keep == '\\'))
            j++;
        if (j > i)
            fwrite(p + i, 1, j - i, f);
        if (j == n)
            break;
        uint8_t b = p[j];
        switch (b) {
        case '\r': fputs("\\r", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        case '\\': fputs("\\\\", f); break;
        default: {
            static const char hex[] = "0123456789ABCDEF";
            char esc[4] = {'\\', 'x', hex[b >> 4], hex[b & 15]};
            fwrite(esc, 1, sizeof esc, f);
        }
        }
        i = j + 1;
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
