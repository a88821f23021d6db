#include "errbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void at_err_vset(char *err, size_t cap, const char *fmt, va_list ap)
{
    if (err && cap > 0)
        vsnprintf(err, cap, fmt, ap);
}

void at_err_set(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    at_err_vset(err, cap, fmt, ap);
    va_end(ap);
}

void at_err_add(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || cap == 0)
        return;
    size_t used = 0;
    while (used < cap && err[used])
        used++;
    if (used + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + used, cap - used, fmt, ap);
    va_end(ap);
}

void at_err_quote(const void *s, size_t n, char *out, size_t cap)
{
    if (!out || cap == 0)
        return;
    const uint8_t *b = s;
    size_t o = 0;
    char piece[5];
    out[0] = '\0';
    for (size_t i = 0; i <= n + 1; i++) {
        if (i == 0 || i == n + 1) {
            piece[0] = '"';
            piece[1] = '\0';
        } else {
            uint8_t c = b[i - 1];
            if (c == '"' || c == '\\')
                snprintf(piece, sizeof piece, "\\%c", c);
            else if (c >= 0x20 && c < 0x7F)
                snprintf(piece, sizeof piece, "%c", c);
            else
                snprintf(piece, sizeof piece, "\\x%02x", c);
        }
        size_t pl = strlen(piece);
        if (o + pl + 1 > cap)
            break;
        memcpy(out + o, piece, pl + 1);
        o += pl;
    }
}
