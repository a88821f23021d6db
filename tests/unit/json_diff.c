/* json_diff.c - see json_diff.h. */
#include "json_diff.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
    const uint8_t *p;
    size_t n, i;
} reader;

static unsigned next(reader *r)
{
    return r->i < r->n ? r->p[r->i++] : 0;
}

static uint64_t next64(reader *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | next(r);
    return v;
}

/* Pieces of string: what the escaper and the UTF-8 check must get right. */
static const char *const pieces[] = {
    "\xC3\xA9",          /* U+00E9 */
    "\xE2\x82\xAC",      /* U+20AC */
    "\xF0\x9F\x98\x80",  /* U+1F600 */
    "\xEF\xBF\xBD",      /* U+FFFD */
    "\xF4\x8F\xBF\xBF",  /* U+10FFFF */
    "\xC2\x80",          /* U+0080, a C1 control */
    "\xE2\x80\xAE",      /* U+202E */
    "\xEF\xBB\xBF",      /* U+FEFF */
    "\xC3",              /* a lead byte alone: invalid, jansson refuses the string */
    "\"\\/\x7F",
    "\"\"\"\"\\\\\\\\",
};

/* A string of up to 63 pieces into @p buf; returns its length. */
static size_t make_string(reader *r, char *buf)
{
    size_t len = 0, count = next(r) % 64;
    for (size_t i = 0; i < count; i++) {
        unsigned k = next(r) % 24;
        if (k < 8) {
            buf[len++] = (char)(next(r) & 0x7F);      /* ASCII, controls included */
        } else if (k < 10) {
            buf[len++] = (char)next(r);               /* any byte */
        } else if (k < 12) {
            memcpy(buf + len, "plain ASCII text", 8); /* a run for the 8-byte path */
            len += 8;
        } else {
            const char *s = pieces[(k - 12) % (sizeof pieces / sizeof pieces[0])];
            size_t n = strlen(s);
            memcpy(buf + len, s, n);
            len += n;
        }
    }
    return len;
}

static json_t *build(reader *r, unsigned depth)
{
    char s[64 * 8];
    unsigned op = next(r) % 12;
    if (depth > 40 && op >= 8) /* deeper than 40: scalars only */
        op = next(r) % 8;
    switch (op) {
    case 0:
        return json_null();
    case 1:
        return json_true();
    case 2:
        return json_false();
    case 3: {
        static const json_int_t special[] = {0, -1, 1, 9, 10, -10, INT64_MAX, INT64_MIN};
        unsigned k = next(r);
        return json_integer(k < 64 ? special[k % 8] : (json_int_t)next64(r));
    }
    case 4: {
        uint64_t bits = next64(r);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!isfinite(d)) /* jansson refuses them */
            d = (double)(int64_t)bits / 1e3;
        return json_real(d);
    }
    case 5: {
        static const double special[] = {0.0, -0.0, 1.0, 0.1, 1e20, 1e-5, 1e300, 5e-324,
                                         123456789.0, 1e16, 1e17, -2.5};
        return json_real(special[next(r) % 12]);
    }
    case 6:
    case 7: {
        /* jansson refuses invalid UTF-8 (json_stringn() is NULL): a null. */
        size_t n = make_string(r, s);
        json_t *v = json_stringn(s, n);
        return v ? v : json_null();
    }
    case 8:
    case 9: {
        json_t *a = json_array();
        for (unsigned i = next(r) % 8; i > 0; i--)
            json_array_append_new(a, build(r, depth + 1));
        return a;
    }
    case 10: {
        json_t *o = json_object();
        for (unsigned i = next(r) % 8; i > 0; i--) {
            size_t n = make_string(r, s);
            json_t *v = build(r, depth + 1);
            json_object_setn_new(o, s, n, v); /* refused (invalid UTF-8): freed */
        }
        return o;
    }
    default: {
        /* At the top only (jansson's dump recurses, and stack is finite):
         * a chain of arrays up to 4080 deep around one scalar. */
        if (depth > 0)
            return json_null();
        unsigned levels = next(r) * 16;
        json_t *v = build(r, 41);
        for (unsigned i = 0; i < levels; i++) {
            json_t *a = json_array();
            json_array_append_new(a, v);
            v = a;
        }
        return v;
    }
    }
}

json_t *jd_tree_from_bytes(const uint8_t *data, size_t size)
{
    reader r = {data, size, 0};
    return build(&r, 0);
}

/* The reference for the characters the writer escapes for terminals:
 * jansson's text decoded character by character, C1 controls and bidi
 * overrides and isolates replaced by \uXXXX. Frees @p text. */
static char *escape_terminal_controls(char *text)
{
    if (!text)
        return NULL;
    size_t n = strlen(text), len = 0;
    char *out = malloc(n * 3 + 1); /* a 2-byte character becomes 6 bytes */
    if (!out)
        abort();
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < n;) {
        unsigned cp = p[i];
        size_t k = 1;
        if (p[i] >= 0xF0)
            k = 4;
        else if (p[i] >= 0xE0)
            k = 3, cp = (p[i] & 0x0Fu) << 12 | (p[i + 1] & 0x3Fu) << 6 | (p[i + 2] & 0x3Fu);
        else if (p[i] >= 0xC0)
            k = 2, cp = (p[i] & 0x1Fu) << 6 | (p[i + 1] & 0x3Fu);
        bool control = (cp >= 0x80 && cp <= 0x9F && k == 2) ||
                       (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
        if (control) {
            len += (size_t)sprintf(out + len, "\\u%04X", cp);
        } else {
            memcpy(out + len, p + i, k);
            len += k;
        }
        i += k;
    }
    out[len] = '\0';
    free(text);
    return out;
}

/* Walks @p v through the writer's streaming calls, as the CLI makes them. */
static void write_value(cli_json_writer *w, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        cli_jw_object_begin(w);
        /* json_object_iter() walks keys in insertion order. */
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            cli_jw_keyn(w, json_object_iter_key(it), json_object_iter_key_len(it));
            write_value(w, json_object_iter_value(it));
        }
        cli_jw_object_end(w);
        break;
    case JSON_ARRAY:
        cli_jw_array_begin(w);
        for (size_t i = 0; i < json_array_size(v); i++)
            write_value(w, json_array_get(v, i));
        cli_jw_array_end(w);
        break;
    case JSON_STRING:
        cli_jw_stringn(w, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        cli_jw_int(w, json_integer_value(v));
        break;
    case JSON_REAL:
        cli_jw_real(w, json_real_value(v));
        break;
    case JSON_TRUE:
        cli_jw_bool(w, true);
        break;
    case JSON_FALSE:
        cli_jw_bool(w, false);
        break;
    case JSON_NULL:
        cli_jw_null(w);
        break;
    }
}

bool jd_serialize(cli_json_writer *w, const json_t *v)
{
    cli_jw_reset(w);
    write_value(w, v);
    return !w->oom;
}

const char *jd_compare(cli_json_writer *w, const json_t *v, char *msg, size_t cap)
{
    char *want = escape_terminal_controls(
        json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY));
    bool ok = jd_serialize(w, v);
    int got_len = w->len > 200 ? 200 : (int)w->len;
    const char *result = NULL;
    if (!want && ok) {
        snprintf(msg, cap, "jansson fails, the writer gives %.*s", got_len, w->buf);
        result = msg;
    } else if (want && !ok) {
        snprintf(msg, cap, "the writer fails, jansson gives %.200s", want);
        result = msg;
    } else if (want && (strlen(want) != w->len || memcmp(want, w->buf, w->len) != 0)) {
        size_t i = 0;
        while (i < w->len && want[i] == w->buf[i])
            i++;
        int rest = w->len - i > 60 ? 60 : (int)(w->len - i);
        snprintf(msg, cap, "differ at byte %zu: jansson \"%.60s\", writer \"%.*s\"", i,
                 want + i, rest, w->buf + i);
        result = msg;
    }
    free(want);
    return result;
}
