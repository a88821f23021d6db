/*
 * json_writer.c - jansson values to compact JSON text in one buffer (see
 * json_writer.h for the format it must match).
 */
#include "json_writer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool grow(cli_json_writer *w, size_t need)
{
    size_t cap = w->cap ? w->cap : 4096;
    while (cap - w->len < need) {
        if (cap > SIZE_MAX / 2)
            return false;
        cap *= 2;
    }
    char *p = realloc(w->buf, cap);
    if (!p)
        return false;
    w->buf = p;
    w->cap = cap;
    return true;
}

/* Room for @p need more bytes. */
static inline bool reserve(cli_json_writer *w, size_t need)
{
    return w->cap - w->len >= need || grow(w, need);
}

static inline bool put(cli_json_writer *w, const char *s, size_t n)
{
    if (!reserve(w, n))
        return false;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    return true;
}

static inline bool put_char(cli_json_writer *w, char ch)
{
    if (!reserve(w, 1))
        return false;
    w->buf[w->len++] = ch;
    return true;
}

/* Bytes a string carries as they are: all but controls (< 0x20), '"',
 * '\\' and the lead bytes of the sequences escaped for terminals (0xC2,
 * 0xE2). Other bytes >= 0x80 pass: jansson checked that every string is
 * UTF-8 when it was made (json_string(), json_object_set()), so checking
 * again here would be a second pass over every string for nothing. */
static const bool plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* Whether the 8 bytes in @p x are all plain ASCII: none >= 0x80, none
 * below 0x20, none equal to '"' or '\\' (the "has a byte less than / a
 * zero byte" bit tricks, exact as to whether there is one). Text beyond
 * ASCII takes the byte-by-byte path. */
static inline bool all_plain8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    uint64_t below_space = (x - ones * 0x20) & ~x;
    uint64_t quote = (q - ones) & ~q, backslash = (b - ones) & ~b;
    return !((x | below_space | quote | backslash) & highs);
}

/* The code point of a C1 control (U+0080..U+009F) or of a bidirectional
 * override or isolate (U+202A..U+202E, U+2066..U+2069) at @p s, which a
 * terminal would obey: written as \uXXXX. Sets *len; 0 if none. */
static unsigned terminal_control(const unsigned char *s, size_t n, size_t *len)
{
    if (s[0] == 0xC2 && n >= 2 && s[1] >= 0x80 && s[1] <= 0x9F) {
        *len = 2;
        return s[1];
    }
    if (s[0] == 0xE2 && n >= 3 &&
        ((s[1] == 0x80 && s[2] >= 0xAA && s[2] <= 0xAE) ||
         (s[1] == 0x81 && s[2] >= 0xA6 && s[2] <= 0xA9))) {
        *len = 3;
        return 0x2000u | (unsigned)(s[1] & 0x3F) << 6 | (s[2] & 0x3Fu);
    }
    return 0;
}

/* Writes a string, escaped as jansson escapes it, and the terminal
 * controls of terminal_control() as \uXXXX. */
static bool put_string(cli_json_writer *w, const char *str, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)str;
    if (!put_char(w, '"'))
        return false;
    size_t i = 0, run = 0;
    while (i < n) {
        /* Eight plain bytes at a time: long hex and text runs are common. */
        while (n - i >= 8) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (!all_plain8(x))
                break;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned char c = s[i];
        if (plain[c]) {
            i++;
            continue;
        }
        size_t len = 1;
        unsigned cp = c >= 0x80 ? terminal_control(s + i, n - i, &len) : c;
        if (c >= 0x80 && !cp) { /* another character of 0xC2 or 0xE2 */
            i++;
            continue;
        }
        if (!put(w, str + run, i - run) || !reserve(w, 6))
            return false;
        char *o = w->buf + w->len;
        o[0] = '\\';
        switch (c) {
        case '"': o[1] = '"'; w->len += 2; break;
        case '\\': o[1] = '\\'; w->len += 2; break;
        case '\b': o[1] = 'b'; w->len += 2; break;
        case '\f': o[1] = 'f'; w->len += 2; break;
        case '\n': o[1] = 'n'; w->len += 2; break;
        case '\r': o[1] = 'r'; w->len += 2; break;
        case '\t': o[1] = 't'; w->len += 2; break;
        default:
            o[1] = 'u';
            o[2] = hex[cp >> 12];
            o[3] = hex[cp >> 8 & 15];
            o[4] = hex[cp >> 4 & 15];
            o[5] = hex[cp & 15];
            w->len += 6;
        }
        i += len;
        run = i;
    }
    return put(w, str + run, n - run) && put_char(w, '"');
}

static bool put_integer(cli_json_writer *w, json_int_t v)
{
    char tmp[24];
    char *e = tmp + sizeof tmp, *p = e;
    /* Through the unsigned magnitude: -LLONG_MIN does not fit. */
    static const char pairs[] = "00010203040506070809101112131415161718192021222324"
                                "25262728293031323334353637383940414243444546474849"
                                "50515253545556575859606162636465666768697071727374"
                                "75767778798081828384858687888990919293949596979899";
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    /* Two digits per division: timestamps have 19. */
    while (u >= 100) {
        unsigned d = (unsigned)(u % 100) * 2;
        u /= 100;
        p -= 2;
        p[0] = pairs[d];
        p[1] = pairs[d + 1];
    }
    if (u >= 10) {
        p -= 2;
        p[0] = pairs[u * 2];
        p[1] = pairs[u * 2 + 1];
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0)
        *--p = '-';
    return put(w, p, (size_t)(e - p));
}

/* jansson's real format (reals are rare here: the stdio route is fine). */
static bool put_real(cli_json_writer *w, double d)
{
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, "%.17g", d);
    if (n < 0 || (size_t)n >= sizeof tmp - 2)
        return false;
    size_t len = (size_t)n;
    if (!strchr(tmp, '.') && !strchr(tmp, 'e')) {
        memcpy(tmp + len, ".0", 3);
        len += 2;
    }
    char *e = strchr(tmp, 'e');
    if (e) {
        char *digits = e + 1;    /* where the kept exponent digits go */
        char *from = e + 2;      /* first digit after the sign */
        if (*digits == '-')
            digits++;
        while (*from == '0')
            from++;
        if (from != digits) {
            memmove(digits, from, (size_t)(tmp + len - from) + 1);
            len -= (size_t)(from - digits);
        }
    }
    return put(w, tmp, len);
}

/* Recursive, as jansson's dump: the CLI's objects nest a few levels. */
static bool put_value(cli_json_writer *w, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (!put_char(w, '{'))
            return false;
        bool first = true;
        /* json_object_iter() walks keys in insertion order. */
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            if (!first && !put_char(w, ','))
                return false;
            first = false;
            if (!put_string(w, json_object_iter_key(it), json_object_iter_key_len(it)) ||
                !put_char(w, ':') ||
                !put_value(w, json_object_iter_value(it)))
                return false;
        }
        return put_char(w, '}');
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (!put_char(w, '['))
            return false;
        for (size_t i = 0; i < n; i++) {
            if ((i && !put_char(w, ',')) || !put_value(w, json_array_get(v, i)))
                return false;
        }
        return put_char(w, ']');
    }
    case JSON_STRING:
        return put_string(w, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return put_integer(w, json_integer_value(v));
    case JSON_REAL:
        return put_real(w, json_real_value(v));
    case JSON_TRUE:
        return put(w, "true", 4);
    case JSON_FALSE:
        return put(w, "false", 5);
    case JSON_NULL:
        return put(w, "null", 4);
    }
    return false;
}

bool cli_json_serialize(cli_json_writer *w, const json_t *v)
{
    w->len = 0;
    if (!v || !put_value(w, v) || !put_char(w, '\0')) {
        w->len = 0;
        return false;
    }
    w->len--; /* the NUL is not part of the text */
    return true;
}

bool cli_json_write_line(cli_json_writer *w, const json_t *v, FILE *out)
{
    if (!cli_json_serialize(w, v))
        return false;
    w->buf[w->len] = '\n'; /* over the NUL */
    fwrite(w->buf, 1, w->len + 1, out);
    return true;
}

void cli_json_writer_free(cli_json_writer *w)
{
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}
