#define _POSIX_C_SOURCE 200809L /* opendir, unlink, rmdir */
#include "testutil.h"

#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

size_t tu_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        if (isspace((unsigned char)*p))
            continue;
        int v = hexval((unsigned char)*p);
        if (v < 0) {
            fprintf(stderr, "tu_hex: bad digit '%c'\n", *p);
            abort();
        }
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n >= cap) {
            fprintf(stderr, "tu_hex: buffer too small\n");
            abort();
        }
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    if (hi >= 0) {
        fprintf(stderr, "tu_hex: odd digit count\n");
        abort();
    }
    return n;
}

uint8_t *tu_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        perror(path);
        abort();
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) abort();
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) abort();
        }
    }
    fclose(fp);
    *len = n;
    return buf;
}

void tu_text_printf(tu_text *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            abort();
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = t->cap ? t->cap * 2 : 4096;
        while (t->cap - t->len <= (size_t)n)
            t->cap *= 2;
        t->buf = realloc(t->buf, t->cap);
        if (!t->buf)
            abort();
    }
}

const char *tu_text_str(const tu_text *t)
{
    return t->buf ? t->buf : "";
}

void tu_text_free(tu_text *t)
{
    free(t->buf);
    memset(t, 0, sizeof *t);
}

void tu_rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}
