#include "errbuf.h"

#include <stdarg.h>
#include <stdio.h>

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
