#include "escape.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Eight bytes as one number, byte k in bits 8k..8k+7 whatever the host's
 * byte order. */
static inline uint64_t load8(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#elif !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    w = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
        (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
        (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
#endif
    return w;
}

/* Bit 7 of byte k of the result is set where byte k of @p w must be
 * escaped: below 0x20, 0x7f and above, or a backslash when @p bs is the
 * backslash in every byte (0 when backslashes are kept). Byte-wise sums
 * of 7-bit values never carry into the next byte, so each byte's flag
 * depends on that byte alone. */
static inline uint64_t escapes_in(uint64_t w, uint64_t bs)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    const uint64_t low7 = w & ~high;
    const uint64_t below_space = ~(low7 + 0x60 * ones);  /* low7 < 0x20 */
    const uint64_t del = low7 + ones;                     /* low7 == 0x7f */
    const uint64_t x = w ^ bs;                             /* 0 where w == bs */
    const uint64_t is_bs = bs ? ~(((x & ~high) + 0x7f * ones) | x) : 0;
    return (w | below_space | del | is_bs) & high;
}

/* The byte index of the lowest flag in @p m (not 0). */
static inline size_t first_flag(uint64_t m)
{
#if defined(__GNUC__)
    return (size_t)__builtin_ctzll(m) / 8;
#else
    size_t k = 0;
    while (!(m & 0x80u)) {
        m >>= 8;
        k++;
    }
    return k;
#endif
}

/* One byte that must be escaped, at @p o; returns the end. */
static char *escape_byte(char *o, uint8_t b)
{
    static const char hex[] = "0123456789ABCDEF";
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
    return o;
}

size_t at_escape_mem(char *dst, const void *data, size_t n, unsigned flags)
{
    const uint8_t *p = data;
    const bool keep_bs = (flags & AT_ESC_KEEP_BACKSLASH) != 0;
    const uint64_t bs = keep_bs ? 0 : 0x5c5c5c5c5c5c5c5cu;
    char *o = dst;
    size_t i = 0;
    if (n < 8) {
        for (; i < n; i++) {
            uint8_t b = p[i];
            if (b >= 0x20 && b < 0x7f && (b != '\\' || keep_bs))
                *o++ = (char)b;
            else
                o = escape_byte(o, b);
        }
        return (size_t)(o - dst);
    }
    /* Eight bytes at a time, the printable ones before an escape copied in
     * one go: the decoder's hot path. The last bytes are taken from the
     * eight that end the text, those before i shifted out. @p literal
     * counts the bytes just before o that are p's bytes before i as they
     * are (no escape among them). */
    size_t literal = 0;
#ifdef __SSE2__
    /* Sixteen at a time with the tests of escapes_in: as signed bytes,
     * those from 0x80 on are below 0x20 too. */
    const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f),
                  backslash = _mm_set1_epi8('\\');
    while (n - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i esc = _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, del));
        if (!keep_bs)
            esc = _mm_or_si128(esc, _mm_cmpeq_epi8(v, backslash));
        unsigned m = (unsigned)_mm_movemask_epi8(esc);
        /* room: 4 * n - 4 * i >= 16 */
        _mm_storeu_si128((__m128i *)(void *)o, v);
        if (!m) {
            o += 16;
            i += 16;
            literal += 16;
            continue;
        }
        size_t k = (size_t)__builtin_ctz(m); /* k of them kept */
        o += k;
        i += k;
        o = escape_byte(o, p[i++]);
        literal = 0;
    }
#endif
    while (n - i >= 8) {
        uint64_t m = escapes_in(load8(p + i), bs);
        if (!m) {
            memcpy(o, p + i, 8); /* room: 4 * n - 4 * i >= 8 */
            o += 8;
            i += 8;
            literal += 8;
            continue;
        }
        size_t k = first_flag(m);
        memcpy(o, p + i, 8); /* k of them kept */
        o += k;
        i += k;
        o = escape_byte(o, p[i++]);
        literal = 0;
    }
    while (i < n) {
        size_t avail = n - i;
        uint64_t m = escapes_in(load8(p + n - 8), bs) >> (8 * (8 - avail));
        if (!m && literal >= 8 - avail) {
            /* The eight ending the text over the literal bytes already
             * written: the same bytes again, then the rest. */
            memcpy(o - (8 - avail), p + n - 8, 8);
            o += avail;
            break;
        }
        size_t k = m ? first_flag(m) : avail;
        memcpy(o, p + i, k);
        o += k;
        i += k;
        literal += k;
        if (i < n) {
            o = escape_byte(o, p[i++]);
            literal = 0;
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
