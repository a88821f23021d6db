/*
 * json_writer.c - compact JSON text, value by value, into one buffer (see
 * json_writer.h for the format it must match).
 */
#include "json_writer.h"

#include "digits.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool grow(cli_json_writer *w, size_t need)
{
    if (w->oom)
        return false;
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->len < need) {
        if (cap > SIZE_MAX / 2) {
            w->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(w->buf, cap);
    if (!p) {
        w->oom = true;
        return false;
    }
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
 * 0xE2). Other bytes >= 0x80 pass: strings are UTF-8 by contract
 * (cli_jw_text makes sure of it for trace bytes). */
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
 * controls of terminal_control() as \uXXXX. Room for the worst case (every
 * byte a \uXXXX) is made once, so that the loop writes without checks:
 * most strings are short keys and texts, where per-byte checks cost more
 * than the bytes. */
static bool put_string(cli_json_writer *w, const char *str, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)str;
    if (n > (SIZE_MAX - 2) / 6 || !reserve(w, 6 * n + 2)) {
        w->oom = true;
        return false;
    }
    char *o = w->buf + w->len;
    *o++ = '"';
    size_t i = 0, verbatim = 0; /* s[verbatim..i) went out as it is */
    bool tail_tried = false;
    while (i < n) {
        /* Eight plain bytes at a time: long hex and text runs are common. */
        while (n - i >= 8) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (!all_plain8(x))
                break;
            memcpy(o, &x, 8);
            o += 8;
            i += 8;
        }
        if (i >= n)
            break;
        /* Fewer than eight left: the string's last eight bytes, when plain,
         * end it in one go, over output that is the same bytes. */
        if (n - i < 8 && !tail_tried && n >= 8 && n - 8 >= verbatim) {
            tail_tried = true;
            uint64_t x;
            memcpy(&x, s + n - 8, 8);
            if (all_plain8(x)) {
                memcpy(o - (i - (n - 8)), &x, 8);
                o += n - i;
                break;
            }
        }
        unsigned char c = s[i];
        size_t len = 1;
        unsigned cp = c;
        if (plain[c] || (c >= 0x80 && !(cp = terminal_control(s + i, n - i, &len)))) {
            *o++ = (char)c; /* plain, or another character of 0xC2 or 0xE2 */
            i++;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            o[0] = 'u';
            o[1] = hex[cp >> 12];
            o[2] = hex[cp >> 8 & 15];
            o[3] = hex[cp >> 4 & 15];
            o[4] = hex[cp & 15];
            o += 5;
        }
        i += len;
        verbatim = i;
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    return true;
}

static bool put_unsigned(cli_json_writer *w, uint64_t u, bool negative)
{
    /* Through the unsigned magnitude: -LLONG_MIN does not fit. */
    if (!reserve(w, 21))
        return false;
    char *o = w->buf + w->len;
    if (negative)
        *o++ = '-';
    w->len = (size_t)(cli_put_uint(o, u) - w->buf);
    return true;
}

/* jansson's real format (the CLI writes no reals; kept so that the writer
 * covers every value jansson has, for the differential tests). */
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

/* ------------------------------------------------------------------ */
/* The streaming interface                                            */
/* ------------------------------------------------------------------ */

/* The ',' before a member or element that is not the first. */
static inline void separate(cli_json_writer *w)
{
    if (w->comma)
        put_char(w, ',');
}

void cli_jw_reset(cli_json_writer *w)
{
    w->len = 0;
    w->comma = false;
    w->oom = false;
}

void cli_jw_object_begin(cli_json_writer *w)
{
    separate(w);
    put_char(w, '{');
    w->comma = false;
}

void cli_jw_object_end(cli_json_writer *w)
{
    put_char(w, '}');
    w->comma = true;
}

void cli_jw_array_begin(cli_json_writer *w)
{
    separate(w);
    put_char(w, '[');
    w->comma = false;
}

void cli_jw_array_end(cli_json_writer *w)
{
    put_char(w, ']');
    w->comma = true;
}

void cli_jw_keyn(cli_json_writer *w, const char *key, size_t n)
{
    separate(w);
    put_string(w, key, n);
    put_char(w, ':');
    w->comma = false;
}

#ifndef NDEBUG
static bool plain_name(const char *name, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!plain[(unsigned char)name[i]] || (unsigned char)name[i] >= 0x80)
            return false;
    return true;
}
#endif

void cli_jw_name(cli_json_writer *w, const char *name, size_t n)
{
    assert(plain_name(name, n));
    separate(w);
    if (n > SIZE_MAX - 3 || !reserve(w, n + 3)) {
        w->oom = true;
        return;
    }
    char *o = w->buf + w->len;
    o[0] = '"';
    memcpy(o + 1, name, n);
    o[n + 1] = '"';
    o[n + 2] = ':';
    w->len += n + 3;
    w->comma = false;
}

void cli_jw_key(cli_json_writer *w, const char *key)
{
    cli_jw_name(w, key, strlen(key));
}

void cli_jw_null(cli_json_writer *w)
{
    separate(w);
    put(w, "null", 4);
    w->comma = true;
}

void cli_jw_bool(cli_json_writer *w, bool v)
{
    separate(w);
    if (v)
        put(w, "true", 4);
    else
        put(w, "false", 5);
    w->comma = true;
}

void cli_jw_int(cli_json_writer *w, int64_t v)
{
    separate(w);
    /* Through the unsigned magnitude: -INT64_MIN does not fit. */
    put_unsigned(w, v < 0 ? 0u - (uint64_t)v : (uint64_t)v, v < 0);
    w->comma = true;
}

void cli_jw_uint(cli_json_writer *w, uint64_t v)
{
    separate(w);
    put_unsigned(w, v, false);
    w->comma = true;
}

void cli_jw_real(cli_json_writer *w, double v)
{
    separate(w);
    if (!put_real(w, v))
        w->oom = true;
    w->comma = true;
}

void cli_jw_stringn(cli_json_writer *w, const char *s, size_t n)
{
    separate(w);
    put_string(w, s, n);
    w->comma = true;
}

void cli_jw_string(cli_json_writer *w, const char *s)
{
    if (s)
        cli_jw_stringn(w, s, strlen(s));
    else
        cli_jw_null(w);
}

size_t cli_utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t b = p[0];
    size_t len;
    uint32_t cp;
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF) { len = 2; cp = b & 0x1Fu; }
    else if (b >= 0xE0 && b <= 0xEF) { len = 3; cp = b & 0x0Fu; }
    else if (b >= 0xF0 && b <= 0xF4) { len = 4; cp = b & 0x07u; }
    else return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3Fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

bool cli_utf8_valid(const void *data, size_t n)
{
    const uint8_t *p = data;
    size_t i = 0;
    while (i < n) {
        /* ASCII eight bytes at a time: most trace text is. */
        while (n - i >= 8) {
            uint64_t x;
            memcpy(&x, p + i, 8);
            if (x & 0x8080808080808080u)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        size_t k = cli_utf8_seq(p + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

bool cli_jw_text(cli_json_writer *w, const void *data, size_t n)
{
    const uint8_t *p = data;
    if (!p) {
        cli_jw_null(w);
        return true;
    }
    if (cli_utf8_valid(p, n)) {
        cli_jw_stringn(w, (const char *)p, n);
        return true;
    }
    /* The UTF-8 reading, U+FFFD for each byte outside a valid sequence,
     * built at the end of the buffer, then escaped into place. */
    separate(w);
    size_t start = w->len;
    if (n > (SIZE_MAX - 8) / 3 || !reserve(w, 3 * n + 1)) {
        w->oom = true;
        return false;
    }
    char *tmp = w->buf + start;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = cli_utf8_seq(p + i, n - i);
        if (k) {
            memcpy(tmp + o, p + i, k);
            o += k;
            i += k;
        } else {
            memcpy(tmp + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    /* put_string appends after w->len: move the reading out of its way. */
    char *copy = malloc(o ? o : 1);
    if (!copy) {
        w->oom = true;
        return false;
    }
    memcpy(copy, tmp, o);
    put_string(w, copy, o);
    free(copy);
    w->comma = true;
    return false;
}

void cli_jw_hex(cli_json_writer *w, const void *data, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = data;
    if (!p) {
        cli_jw_null(w);
        return;
    }
    separate(w);
    if (n > (SIZE_MAX - 8) / 2 || !reserve(w, 2 * n + 2)) {
        w->oom = true;
        return;
    }
    char *o = w->buf + w->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        *o++ = digits[p[i] >> 4];
        *o++ = digits[p[i] & 15];
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    w->comma = true;
}

void cli_jw_raw(cli_json_writer *w, const char *json, size_t n)
{
    separate(w);
    put(w, json, n);
    w->comma = true;
}

void cli_jw_member_null(cli_json_writer *w, const char *key)
{
    cli_jw_key(w, key);
    cli_jw_null(w);
}

void cli_jw_member_bool(cli_json_writer *w, const char *key, bool v)
{
    cli_jw_key(w, key);
    cli_jw_bool(w, v);
}

void cli_jw_member_uint(cli_json_writer *w, const char *key, uint64_t v)
{
    cli_jw_key(w, key);
    cli_jw_uint(w, v);
}

void cli_jw_member_opt_uint(cli_json_writer *w, const char *key, bool present, uint64_t v)
{
    cli_jw_key(w, key);
    if (present)
        cli_jw_uint(w, v);
    else
        cli_jw_null(w);
}

void cli_jw_member_string(cli_json_writer *w, const char *key, const char *v)
{
    cli_jw_key(w, key);
    cli_jw_string(w, v);
}

bool cli_jw_member_text(cli_json_writer *w, const char *key, const void *data, size_t n)
{
    cli_jw_key(w, key);
    return cli_jw_text(w, data, n);
}

bool cli_jw_write_line(cli_json_writer *w, FILE *out)
{
    bool ok = !w->oom && put_char(w, '\n');
    if (ok)
        fwrite(w->buf, 1, w->len, out);
    cli_jw_reset(w);
    return ok;
}

void cli_json_writer_free(cli_json_writer *w)
{
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
    w->comma = w->oom = false;
}
