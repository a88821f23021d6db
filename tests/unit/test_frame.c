/* Unit tests of the secure-command frame codec (decoder/core/frame.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrace/frame.h"
#include "testutil.h"

#define BASE 1000u

/* The PROTOCOL.md example: DELETE of index 2, unsigned. */
static const char DELETE_2[] = "0C00 0300 0100 0600 0100 0200";

/* READ of index 1 with IMEI 123456789012345 and signature "QUJD":
 * index unit @6, IMEI unit @12 (value @16, NUL @31), signature unit @32. */
static const char READ_SIGNED[] =
    "2900 0200 0300"
    "0600 0100 0100"
    "1400 0400 313233343536373839303132333435 00"
    "0900 0300 51554A44 00";

static const char IMEI[] = "123456789012345";
static const char THUMB[] = "8ce388d8553d11f7e3bf64b6aa27c2c314b106d4";

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

typedef struct want {
    at_frame_problem_code code;
    uint64_t off;
    uint32_t detail;
} want;

static const at_profile *legacy(void) { return at_profile_get(AT_PROFILE_LEGACY); }
static const at_profile *newer(void) { return at_profile_get(AT_PROFILE_NEWER); }

static void print_problems(const at_frame *f)
{
    for (unsigned i = 0; i < f->n_problems; i++)
        fprintf(stderr, "  problem %s off=%llu detail=%u\n",
                at_frame_problem_name(f->problems[i].code),
                (unsigned long long)f->problems[i].off, f->problems[i].detail);
    if (f->problems_dropped)
        fprintf(stderr, "  (%u dropped)\n", f->problems_dropped);
}

/* The problem list must be exactly @p w (in any order), offsets relative
 * to BASE. */
static void expect_problems(const at_frame *f, const want *w, size_t n)
{
    bool ok = f->n_problems == n && f->problems_dropped == 0;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned hits = 0;
        for (unsigned j = 0; j < f->n_problems; j++)
            hits += f->problems[j].code == w[i].code &&
                    f->problems[j].off == BASE + w[i].off &&
                    f->problems[j].detail == w[i].detail;
        ok = hits == 1;
    }
    if (!ok) {
        fprintf(stderr, "expected:\n");
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "  problem %s off=%llu detail=%u\n",
                    at_frame_problem_name(w[i].code),
                    (unsigned long long)(BASE + w[i].off), w[i].detail);
        fprintf(stderr, "got:\n");
        print_problems(f);
        fail();
    }
}

#define EXPECT(f, ...)                                                     \
    expect_problems((f), (const want[]){__VA_ARGS__},                      \
                    sizeof((const want[]){__VA_ARGS__}) / sizeof(want))
#define EXPECT_NONE(f) expect_problems((f), NULL, 0)

static bool has_problem(const at_frame *f, at_frame_problem_code code)
{
    for (unsigned i = 0; i < f->n_problems; i++)
        if (f->problems[i].code == code)
            return true;
    return false;
}

/* A byte buffer that outlives the frame decoded from it. */
typedef struct bytes {
    uint8_t b[70000];
    size_t n;
} bytes;

static bytes g_in, g_out;
static at_frame g_f, g_f2;

static void hex_decode(const char *hex, const at_profile *p, at_frame *f)
{
    g_in.n = tu_hex(hex, g_in.b, sizeof g_in.b);
    assert_int_equal(at_frame_decode(g_in.b, g_in.n, BASE, p, f), AT_OK);
}

/* A crafted unit for raw(): any ParamId, any bytes. */
typedef struct raw_unit {
    uint16_t id;
    const char *val;
    size_t len;
} raw_unit;

/* Writes a frame with correct TotalLen and ParamNum around raw units. */
static size_t raw(uint8_t *out, uint16_t cmd, const raw_unit *u, size_t n)
{
    size_t pos = 6;
    for (size_t i = 0; i < n; i++) {
        size_t ul = 4 + u[i].len;
        out[pos] = (uint8_t)ul;
        out[pos + 1] = (uint8_t)(ul >> 8);
        out[pos + 2] = (uint8_t)u[i].id;
        out[pos + 3] = (uint8_t)(u[i].id >> 8);
        memcpy(out + pos + 4, u[i].val, u[i].len);
        pos += ul;
    }
    out[0] = (uint8_t)pos;
    out[1] = (uint8_t)(pos >> 8);
    out[2] = (uint8_t)cmd;
    out[3] = (uint8_t)(cmd >> 8);
    out[4] = (uint8_t)n;
    out[5] = 0;
    return pos;
}

#define RAW_DECODE(p, f, cmd, ...)                                            \
    do {                                                                      \
        const raw_unit ru_[] = {__VA_ARGS__};                                 \
        g_in.n = raw(g_in.b, (cmd), ru_, sizeof ru_ / sizeof ru_[0]);         \
        assert_int_equal(at_frame_decode(g_in.b, g_in.n, BASE, (p), (f)), AT_OK); \
    } while (0)

#define U_INDEX(v) {AT_PARAM_INDEX, (const char[]){(char)(v), 0}, 2}
#define U_TEXT(id, s) {(id), s, sizeof s}           /* with its NUL */
#define U_RAW(id, s) {(id), s, sizeof s - 1}         /* without NUL */

static void span_eq(at_span s, uint64_t off, uint32_t len)
{
    assert_int_equal(s.off, off);
    assert_int_equal(s.len, len);
}

/* Nothing a decoder reports may lie outside the bytes it was given. */
static void check_invariants(const at_frame *f, const uint8_t *buf, size_t len,
                             uint64_t base)
{
    const at_span spans[] = {f->span, f->total_len_span, f->cmd_id_span,
                             f->param_num_span, f->signed_region};
    for (size_t i = 0; i < sizeof spans / sizeof spans[0]; i++) {
        assert_true(spans[i].off >= base);
        assert_true(spans[i].off + spans[i].len <= base + len);
    }
    assert_true(f->n_units <= AT_FRAME_MAX_UNITS);
    assert_true(f->n_problems <= AT_FRAME_MAX_PROBLEMS);
    assert_int_equal(f->bytes_present, len);
    for (unsigned i = 0; i < f->n_units; i++) {
        const at_frame_unit *u = &f->units[i];
        const at_span us[] = {u->span, u->len_span, u->id_span, u->value_span};
        for (size_t k = 0; k < 4; k++) {
            assert_true(us[k].off >= base);
            assert_true(us[k].off + us[k].len <= base + len);
        }
        if (u->value_len) {
            assert_non_null(u->value);
            assert_true(u->value >= buf && u->value + u->value_len <= buf + len);
            assert_int_equal(u->value_span.off, base + (uint64_t)(u->value - buf));
        }
    }
    for (unsigned i = 0; i < f->n_problems; i++)
        assert_true(f->problems[i].off >= base && f->problems[i].off <= base + len);
    for (int id = 0; id <= AT_PARAM_ID_MAX_; id++)
        assert_true(f->unit_of[id] < (int)f->n_units);
}

/* ------------------------------------------------------------------ */
/* A deterministic fake signer (test only)                            */
/* ------------------------------------------------------------------ */

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = B64[v >> 18 & 63];
        out[o++] = B64[v >> 12 & 63];
        out[o++] = i + 1 < n ? B64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? B64[v & 63] : '=';
    }
    return o;
}

typedef struct fake_signer {
    size_t nbytes;           /* raw signature bytes to produce */
    const char *fixed;       /* if set: return this text instead */
    size_t claim;            /* if set: report this length (a lying signer) */
    int fail;                /* return this */
    unsigned calls;
    const uint8_t *region;   /* what the last call was given */
    size_t region_len;
    size_t cap;
} fake_signer;

/* FNV-1a of the region, stretched to nbytes: any change of a signed byte
 * changes the signature, which the tests rely on. */
static int fake_sign(void *ctx, const uint8_t *region, size_t region_len,
                     char *out, size_t cap, size_t *out_len)
{
    fake_signer *s = ctx;
    s->calls++;
    s->region = region;
    s->region_len = region_len;
    s->cap = cap;
    if (s->fail)
        return s->fail;
    if (s->claim) {
        *out_len = s->claim;
        return 0;
    }
    if (s->fixed) {
        size_t n = strlen(s->fixed);
        if (n > cap)
            return -1;
        memcpy(out, s->fixed, n);
        *out_len = n;
        return 0;
    }
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < region_len; i++)
        h = (h ^ region[i]) * 16777619u;
    uint8_t raw_sig[4096];
    assert_true(s->nbytes <= sizeof raw_sig);
    for (size_t i = 0; i < s->nbytes; i++) {
        h = (h ^ (uint32_t)i) * 16777619u;
        raw_sig[i] = (uint8_t)(h >> 24);
    }
    if ((s->nbytes + 2) / 3 * 4 > cap)
        return -1;
    *out_len = b64_encode(raw_sig, s->nbytes, out);
    return 0;
}

static void assert_text_eq(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_bytes_eq(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    assert_int_equal(a == NULL, b == NULL);
    assert_int_equal(an, bn);
    if (an)
        assert_memory_equal(a, b, an);
}

static void assert_spec_eq(const at_frame_spec *a, const at_frame_spec *b)
{
    assert_int_equal(a->cmd_id, b->cmd_id);
    assert_int_equal(a->index, b->index);
    assert_int_equal(a->sign, b->sign);
    assert_text_eq(a->mode, b->mode);
    assert_text_eq(a->thumbprint, b->thumbprint);
    assert_text_eq(a->imei, b->imei);
    assert_bytes_eq(a->cert, a->cert_len, b->cert, b->cert_len);
    assert_bytes_eq(a->key, a->key_len, b->key, b->key_len);
}

static uint8_t g_cert[65536], g_key[8192];

static int setup_blobs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof g_cert; i++)
        g_cert[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof g_key; i++)
        g_key[i] = (uint8_t)(i * 13 + 1);
    return 0;
}

/* encode -> decode -> to_spec, checking what holds for every frame. */
static void round_trip(const at_frame_spec *spec, const at_profile *p, bool clean)
{
    fake_signer s = {.nbytes = 128};
    char strbuf[256];
    at_frame_spec back;

    assert_int_equal(at_frame_encode(spec, fake_sign, &s, g_out.b, sizeof g_out.b,
                                     &g_out.n), AT_OK);
    assert_int_equal(at_frame_decode(g_out.b, g_out.n, BASE, p, &g_f), AT_OK);
    check_invariants(&g_f, g_out.b, g_out.n, BASE);
    if (clean)
        EXPECT_NONE(&g_f);
    assert_int_equal(g_f.total_len, g_out.n);
    assert_int_equal(g_f.param_num, g_f.n_units);
    assert_int_equal(at_frame_to_spec(&g_f, &back, strbuf, sizeof strbuf), AT_OK);
    assert_spec_eq(spec, &back);

    /* Vendor order: [mode] [thumbprint] index [cert] [key] [IMEI] [signature]. */
    static const uint16_t order[] = {AT_PARAM_MODE, AT_PARAM_THUMBPRINT, AT_PARAM_INDEX,
                                     AT_PARAM_CERT, AT_PARAM_KEY, AT_PARAM_IMEI,
                                     AT_PARAM_SIGNATURE};
    unsigned k = 0;
    for (unsigned i = 0; i < g_f.n_units; i++) {
        while (k < 7 && order[k] != g_f.units[i].param_id)
            k++;
        assert_true(k < 7);
    }

    const at_frame_unit *sig = at_frame_find(&g_f, AT_PARAM_SIGNATURE);
    if (spec->sign) {
        assert_non_null(sig);
        assert_int_equal(s.calls, 1);
        assert_ptr_equal(s.region, g_out.b + 2);
        assert_int_equal(s.region_len, sig->span.off - BASE - 2);
        span_eq(g_f.signed_region, BASE + 2, (uint32_t)s.region_len);
        assert_int_equal(sig->value_len, (128 + 2) / 3 * 4 + 1);
    } else {
        assert_null(sig);
        assert_int_equal(s.calls, 0);
        span_eq(g_f.signed_region, BASE + 2, 0);
    }
}

/* ------------------------------------------------------------------ */
/* Good frames                                                        */
/* ------------------------------------------------------------------ */

static void test_delete_example_encodes_exactly(void **state)
{
    (void)state;
    at_frame_spec spec = {.cmd_id = AT_CMD_DELETE, .index = 2};
    uint8_t want_bytes[12];
    tu_hex(DELETE_2, want_bytes, sizeof want_bytes);
    assert_int_equal(at_frame_encode(&spec, NULL, NULL, g_out.b, 12, &g_out.n), AT_OK);
    assert_int_equal(g_out.n, 12);
    assert_memory_equal(g_out.b, want_bytes, 12);
}

static void test_delete_example_decodes(void **state)
{
    (void)state;
    hex_decode(DELETE_2, NULL, &g_f);
    EXPECT_NONE(&g_f);
    assert_false(g_f.big_endian);
    assert_int_equal(g_f.total_len, 12);
    assert_int_equal(g_f.cmd_id, AT_CMD_DELETE);
    assert_int_equal(g_f.param_num, 1);
    span_eq(g_f.total_len_span, BASE, 2);
    span_eq(g_f.cmd_id_span, BASE + 2, 2);
    span_eq(g_f.param_num_span, BASE + 4, 2);
    span_eq(g_f.span, BASE, 12);
    span_eq(g_f.signed_region, BASE + 2, 0);
    assert_int_equal(g_f.bytes_present, 12);
    assert_int_equal(g_f.units_end, 12);
    assert_true(g_f.has_index);
    assert_int_equal(g_f.index, 2);
    assert_int_equal(g_f.n_units, 1);

    const at_frame_unit *u = at_frame_find(&g_f, AT_PARAM_INDEX);
    assert_ptr_equal(u, &g_f.units[0]);
    assert_int_equal(u->param_len, 6);
    assert_int_equal(u->param_id, AT_PARAM_INDEX);
    span_eq(u->span, BASE + 6, 6);
    span_eq(u->len_span, BASE + 6, 2);
    span_eq(u->id_span, BASE + 8, 2);
    span_eq(u->value_span, BASE + 10, 2);
    assert_ptr_equal(u->value, g_in.b + 10);
    assert_int_equal(u->value_len, 2);
    for (int id = AT_PARAM_CERT; id <= AT_PARAM_ID_MAX_; id++)
        assert_null(at_frame_find(&g_f, (at_param_id)id));
}

static void test_read_signed_decodes(void **state)
{
    (void)state;
    hex_decode(READ_SIGNED, newer(), &g_f);
    EXPECT_NONE(&g_f);
    hex_decode(READ_SIGNED, legacy(), &g_f);
    EXPECT_NONE(&g_f);
    assert_int_equal(g_f.cmd_id, AT_CMD_READ);
    assert_int_equal(g_f.n_units, 3);
    assert_int_equal(g_f.index, 1);
    span_eq(g_f.signed_region, BASE + 2, 30);
    const at_frame_unit *imei = at_frame_find(&g_f, AT_PARAM_IMEI);
    const at_frame_unit *sig = at_frame_find(&g_f, AT_PARAM_SIGNATURE);
    assert_ptr_equal(imei, &g_f.units[1]);
    assert_ptr_equal(sig, &g_f.units[2]);
    span_eq(imei->value_span, BASE + 16, 16);
    assert_memory_equal(imei->value, "123456789012345", 16);
    span_eq(sig->span, BASE + 32, 9);
    assert_memory_equal(sig->value, "QUJD", 5);
}

/* Encoding READ_SIGNED's spec with a signer returning "QUJD" gives its
 * exact bytes, and the signer saw exactly bytes 2..31. */
static void test_signed_encode_exact_bytes_and_region(void **state)
{
    (void)state;
    uint8_t want_bytes[64];
    size_t n = tu_hex(READ_SIGNED, want_bytes, sizeof want_bytes);
    fake_signer s = {.fixed = "QUJD"};
    at_frame_spec spec = {.cmd_id = AT_CMD_READ, .index = 1, .imei = IMEI, .sign = true};

    assert_int_equal(at_frame_encode(&spec, fake_sign, &s, g_out.b, sizeof g_out.b,
                                     &g_out.n), AT_OK);
    assert_int_equal(g_out.n, n);
    assert_memory_equal(g_out.b, want_bytes, n);
    assert_int_equal(s.calls, 1);
    assert_ptr_equal(s.region, g_out.b + 2);
    assert_int_equal(s.region_len, 30);
    assert_true(s.cap >= 4 && s.cap <= AT_FRAME_SIG_MAX);
}

/* ------------------------------------------------------------------ */
/* Each problem code                                                  */
/* ------------------------------------------------------------------ */

static void test_header_truncated(void **state)
{
    (void)state;
    uint8_t full[12];
    tu_hex(DELETE_2, full, sizeof full);
    for (size_t n = 0; n < 6; n++) {
        uint8_t *exact = n ? malloc(n) : NULL; /* exact size: ASan sees over-reads */
        if (n)
            memcpy(exact, full, n);
        assert_int_equal(at_frame_decode(exact, n, BASE, NULL, &g_f), AT_OK);
        EXPECT(&g_f, {AT_FP_HEADER_TRUNCATED, n, (uint32_t)n});
        span_eq(g_f.span, BASE, (uint32_t)n);
        assert_int_equal(g_f.n_units, 0);
        check_invariants(&g_f, exact, n, BASE);
        free(exact);
    }
    hex_decode("0C00 0900", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_HEADER_TRUNCATED, 4, 4}, {AT_FP_UNKNOWN_CMD, 2, 9});
    assert_int_equal(g_f.total_len, 12);
    assert_int_equal(g_f.cmd_id, 9);
}

static void test_totallen_short(void **state)
{
    (void)state;
    hex_decode("0A00 0300 0100 0600 0100 0200", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_TOTALLEN_SHORT, 0, 12});
    span_eq(g_f.span, BASE, 10);
    assert_int_equal(g_f.units_end, 12);
    assert_int_equal(g_f.index, 2);
}

static void test_totallen_long(void **state)
{
    (void)state;
    hex_decode("1000 0300 0100 0600 0100 0200", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_TOTALLEN_LONG, 0, 12});
    span_eq(g_f.span, BASE, 12);
}

static void test_totallen_below_header(void **state)
{
    (void)state;
    hex_decode("0200 0300 0000", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_TOTALLEN_SHORT, 0, 6}, {AT_FP_INDEX_MISSING, 2, 3});
    span_eq(g_f.span, BASE, 6);
}

static void test_paramnum_mismatch(void **state)
{
    (void)state;
    /* Says 2, has 1. */
    hex_decode("0C00 0300 0200 0600 0100 0200", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_PARAMNUM_MISMATCH, 4, 1});
    /* Says 0, but TotalLen holds a whole unit: it is found and counted. */
    hex_decode("0C00 0300 0000 0600 0100 0200", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_PARAMNUM_MISMATCH, 4, 1});
    assert_true(g_f.has_index);
    assert_int_equal(g_f.n_units, 1);
}

static void test_unit_len_under_4(void **state)
{
    (void)state;
    hex_decode("0C00 0300 0100 0200 0100 0200", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_UNIT_LEN_UNDER_4, 6, 2}, {AT_FP_INDEX_MISSING, 2, 3});
    assert_int_equal(g_f.n_units, 1);
    span_eq(g_f.units[0].span, BASE + 6, 4);
    assert_int_equal(g_f.units_end, 10);
    /* The walk stops there: the unit after it is not read. */
    hex_decode("1000 0300 0200 0000 0100 0600 0100 0200", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_UNIT_LEN_UNDER_4, 6, 0}, {AT_FP_INDEX_MISSING, 2, 3});
    assert_int_equal(g_f.n_units, 1);
}

static void test_unit_past_frame(void **state)
{
    (void)state;
    /* DELETE_2 cut by one byte. */
    hex_decode("0C00 0300 0100 0600 0100 02", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_TOTALLEN_LONG, 0, 11}, {AT_FP_UNIT_PAST_FRAME, 6, 6});
    assert_false(g_f.has_index);
    assert_int_equal(g_f.units[0].value_len, 1);
    assert_false(g_f.units[0].whole);
    assert_false(g_f.units[0].has_number);
    span_eq(g_f.units[0].span, BASE + 6, 5);
    /* A certificate claiming 28 value bytes with 4 present; TotalLen agrees
     * with the bytes, so the units' end shows it is too small. */
    hex_decode("1400 0100 0200 0600 0100 0000 2000 0200 AABBCCDD", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_TOTALLEN_SHORT, 0, 44}, {AT_FP_UNIT_PAST_FRAME, 12, 32});
    const at_frame_unit *c = at_frame_find(&g_f, AT_PARAM_CERT);
    assert_non_null(c);
    assert_int_equal(c->value_len, 4);
    assert_int_equal(g_f.units_end, 44);
    /* Cut inside a unit header. */
    hex_decode("0C00 0300 0100 06", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_TOTALLEN_LONG, 0, 7}, {AT_FP_UNIT_PAST_FRAME, 6, 0},
           {AT_FP_INDEX_MISSING, 2, 3});
}

static void test_unknown_param(void **state)
{
    (void)state;
    hex_decode("1200 0300 0200 0600 0100 0200 0600 0900 AABB", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_UNKNOWN_PARAM, 14, 9});
    assert_int_equal(g_f.n_units, 2);
    assert_int_equal(g_f.units[1].param_id, 9);
    hex_decode("1000 0300 0200 0600 0100 0200 0400 0000", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_UNKNOWN_PARAM, 14, 0});
}

static void test_duplicate_param(void **state)
{
    (void)state;
    hex_decode("1200 0300 0200 0600 0100 0200 0600 0100 0300", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_DUPLICATE_PARAM, 14, 1});
    assert_int_equal(g_f.index, 2);
    assert_ptr_equal(at_frame_find(&g_f, AT_PARAM_INDEX), &g_f.units[0]);
}

static void test_index_range(void **state)
{
    (void)state;
    hex_decode("0C00 0300 0100 0600 0100 0B00", legacy(), &g_f);
    EXPECT(&g_f, {AT_FP_INDEX_RANGE, 10, 11});
    assert_int_equal(g_f.index, 11);
    hex_decode("0C00 0300 0100 0600 0100 0A00", legacy(), &g_f);
    EXPECT_NONE(&g_f);
    hex_decode("0C00 0300 0100 0600 0100 0B00", newer(), &g_f);
    EXPECT_NONE(&g_f);
    hex_decode("0C00 0300 0100 0600 0100 1E00", newer(), &g_f);
    EXPECT_NONE(&g_f);
    hex_decode("0C00 0300 0100 0600 0100 1F00", newer(), &g_f);
    EXPECT(&g_f, {AT_FP_INDEX_RANGE, 10, 31});
}

static void test_index_size(void **state)
{
    (void)state;
    hex_decode("0B00 0300 0100 0500 0100 02", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_INDEX_SIZE, 6, 1});
    assert_false(g_f.has_index);
    hex_decode("0E00 0300 0100 0800 0100 0200 0000", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_INDEX_SIZE, 6, 4});
}

static void test_cert_and_key_limits(void **state)
{
    (void)state;
    struct {
        const at_profile *p;
        uint16_t index;
        size_t cert, key;
        bool cert_bad, key_bad;
    } cases[] = {
        {legacy(), 1, 2048, 0, false, false}, {legacy(), 1, 2049, 0, true, false},
        {newer(), 1, 2049, 0, false, false},  {newer(), 1, 8192, 0, false, false},
        {newer(), 1, 8193, 0, true, false},   {legacy(), 0, 10, 4096, false, false},
        {legacy(), 0, 10, 4097, false, true}, {legacy(), 0, 2049, 4097, true, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        at_frame_spec spec = {.cmd_id = AT_CMD_WRITE, .index = cases[i].index,
                              .cert = g_cert, .cert_len = cases[i].cert,
                              .key = cases[i].key ? g_key : NULL,
                              .key_len = cases[i].key};
        assert_int_equal(at_frame_encode(&spec, NULL, NULL, g_out.b, sizeof g_out.b,
                                         &g_out.n), AT_OK);
        assert_int_equal(at_frame_decode(g_out.b, g_out.n, BASE, cases[i].p, &g_f), AT_OK);
        const uint64_t cert_at = 12, key_at = 12 + 4 + cases[i].cert;
        if (cases[i].cert_bad && cases[i].key_bad)
            EXPECT(&g_f, {AT_FP_CERT_TOO_LARGE, cert_at, (uint32_t)cases[i].cert},
                   {AT_FP_KEY_TOO_LARGE, key_at, (uint32_t)cases[i].key});
        else if (cases[i].cert_bad)
            EXPECT(&g_f, {AT_FP_CERT_TOO_LARGE, cert_at, (uint32_t)cases[i].cert});
        else if (cases[i].key_bad)
            EXPECT(&g_f, {AT_FP_KEY_TOO_LARGE, key_at, (uint32_t)cases[i].key});
        else
            EXPECT_NONE(&g_f);
    }
}

static void test_key_index_not_0(void **state)
{
    (void)state;
    RAW_DECODE(NULL, &g_f, AT_CMD_WRITE, U_INDEX(1), U_RAW(AT_PARAM_CERT, "abc"),
               U_RAW(AT_PARAM_KEY, "xyz"));
    EXPECT(&g_f, {AT_FP_KEY_INDEX_NOT_0, 19, 1});
    /* The key before the index counts too. */
    RAW_DECODE(NULL, &g_f, AT_CMD_WRITE, U_RAW(AT_PARAM_KEY, "xyz"),
               U_RAW(AT_PARAM_CERT, "abc"), U_INDEX(3));
    EXPECT(&g_f, {AT_FP_KEY_INDEX_NOT_0, 6, 3});
}

static void test_string_unterminated(void **state)
{
    (void)state;
    /* READ_SIGNED with the IMEI's NUL turned into a digit. */
    hex_decode("2900 0200 0300 0600 0100 0100"
               "1400 0400 313233343536373839303132333435 35"
               "0900 0300 51554A44 00", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_STRING_UNTERMINATED, 31, AT_PARAM_IMEI});
    RAW_DECODE(NULL, &g_f, AT_CMD_DELETE, U_RAW(AT_PARAM_MODE, ""), U_INDEX(1));
    EXPECT(&g_f, {AT_FP_STRING_UNTERMINATED, 6, AT_PARAM_MODE});
    RAW_DECODE(NULL, &g_f, AT_CMD_DELETE, U_RAW(AT_PARAM_THUMBPRINT, "ab"), U_INDEX(1));
    EXPECT(&g_f, {AT_FP_STRING_UNTERMINATED, 11, AT_PARAM_THUMBPRINT});
    RAW_DECODE(NULL, &g_f, AT_CMD_DELETE, U_INDEX(1), U_RAW(AT_PARAM_SIGNATURE, "QUJD"));
    EXPECT(&g_f, {AT_FP_STRING_UNTERMINATED, 19, AT_PARAM_SIGNATURE});
    /* Certificate and key are binary: no terminator expected. */
    RAW_DECODE(NULL, &g_f, AT_CMD_WRITE, U_INDEX(0), U_RAW(AT_PARAM_CERT, "ab"),
               U_RAW(AT_PARAM_KEY, "cd"));
    EXPECT_NONE(&g_f);
}

static void test_imei_not_digits(void **state)
{
    (void)state;
    RAW_DECODE(NULL, &g_f, AT_CMD_DELETE, U_INDEX(1),
               U_TEXT(AT_PARAM_IMEI, "12345678901234a"));
    EXPECT(&g_f, {AT_FP_IMEI_NOT_DIGITS, 16 + 14, 'a'});
    RAW_DECODE(NULL, &g_f, AT_CMD_DELETE, U_INDEX(1), U_TEXT(AT_PARAM_IMEI, "12\0003"));
    EXPECT(&g_f, {AT_FP_IMEI_NOT_DIGITS, 18, 0});
}

static void test_signature_not_base64(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        long bad_at;            /* -1: valid */
    } cases[] = {
        {"QUJD", -1}, {"QUI=", -1}, {"QQ==", -1}, {"QUJDQQ==", -1},
        {"", 0},      {"QUJ", 3},   {"QU*D", 2},  {"QU=D", 3},
        {"Q===", 3},  {"====", 2},  {"QUJDQ", 5}, {"QUJDQ===", 7},
        {"QU D", 2},  {"QUJD\n", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char val[16];
        size_t n = strlen(cases[i].text);
        memcpy(val, cases[i].text, n + 1);
        const raw_unit u[] = {U_INDEX(1), {AT_PARAM_SIGNATURE, val, n + 1}};
        g_in.n = raw(g_in.b, AT_CMD_DELETE, u, 2);
        assert_int_equal(at_frame_decode(g_in.b, g_in.n, BASE, NULL, &g_f), AT_OK);
        assert_int_equal(g_f.units[1].base64, cases[i].bad_at < 0);
        assert_int_equal(g_f.units[1].text_len, n);
        if (cases[i].bad_at < 0)
            EXPECT_NONE(&g_f);
        else
            EXPECT(&g_f, {AT_FP_SIGNATURE_NOT_BASE64, 16 + (uint64_t)cases[i].bad_at,
                          (uint32_t)n});
    }
}

static void test_signature_not_last(void **state)
{
    (void)state;
    RAW_DECODE(NULL, &g_f, AT_CMD_READ, U_INDEX(1), U_TEXT(AT_PARAM_SIGNATURE, "QUJD"),
               U_TEXT(AT_PARAM_IMEI, "1"), U_TEXT(AT_PARAM_MODE, "x"));
    EXPECT(&g_f, {AT_FP_SIGNATURE_NOT_LAST, 21, AT_PARAM_IMEI});
    span_eq(g_f.signed_region, BASE + 2, 10);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    hex_decode("0C00 0300 0100 0600 0100 0200 0D0A", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_TRAILING_BYTES, 12, 2});
    span_eq(g_f.span, BASE, 12);
    assert_int_equal(g_f.bytes_present, 14);
    /* Trailing bytes start after the units when TotalLen is too small. */
    hex_decode("0A00 0300 0100 0600 0100 0200 41", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_TOTALLEN_SHORT, 0, 12}, {AT_FP_TRAILING_BYTES, 12, 1});
}

static void test_unknown_cmd(void **state)
{
    (void)state;
    hex_decode("0C00 0900 0100 0600 0100 0200", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_UNKNOWN_CMD, 2, 9});
    assert_null(at_cmd_name(g_f.cmd_id));
    /* READ_FILE is known and does not demand an index. */
    RAW_DECODE(NULL, &g_f, AT_CMD_READ_FILE, U_TEXT(AT_PARAM_MODE, "app_rot"));
    EXPECT_NONE(&g_f);
}

static void test_index_and_cert_missing(void **state)
{
    (void)state;
    static const uint16_t cmds[] = {AT_CMD_READ, AT_CMD_DELETE, AT_CMD_REVOKE};
    for (size_t i = 0; i < 3; i++) {
        RAW_DECODE(NULL, &g_f, cmds[i], U_TEXT(AT_PARAM_IMEI, "1"));
        EXPECT(&g_f, {AT_FP_INDEX_MISSING, 2, cmds[i]});
    }
    RAW_DECODE(NULL, &g_f, AT_CMD_WRITE, U_TEXT(AT_PARAM_IMEI, "1"));
    EXPECT(&g_f, {AT_FP_INDEX_MISSING, 2, 1}, {AT_FP_CERT_MISSING, 2, 1});
    RAW_DECODE(NULL, &g_f, AT_CMD_WRITE, U_INDEX(1));
    EXPECT(&g_f, {AT_FP_CERT_MISSING, 2, 1});
}

static void test_big_endian(void **state)
{
    (void)state;
    hex_decode("000C 0003 0001 0006 0001 0002", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_BIG_ENDIAN, 0, 12});
    assert_true(g_f.big_endian);
    assert_int_equal(g_f.total_len, 12);
    assert_int_equal(g_f.cmd_id, AT_CMD_DELETE);
    assert_int_equal(g_f.param_num, 1);
    assert_int_equal(g_f.units[0].param_len, 6);
    assert_true(g_f.has_index);
    assert_int_equal(g_f.index, 2);
    /* The unit's own number is read in the frame's byte order too. */
    assert_true(g_f.units[0].has_number);
    assert_int_equal(g_f.units[0].number, 2);
    assert_true(g_f.units[0].whole);

    /* A big-endian READ_SIGNED reads like the real one. */
    hex_decode("0029 0002 0003 0006 0001 0001"
               "0014 0004 313233343536373839303132333435 00"
               "0009 0003 51554A44 00 0D0A", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_BIG_ENDIAN, 0, 41}, {AT_FP_TRAILING_BYTES, 41, 2});
    span_eq(g_f.signed_region, BASE + 2, 30);
    assert_int_equal(g_f.units[0].number, 1);
    assert_int_equal(g_f.units[1].text_len, 15);
    assert_false(g_f.units[1].base64);
    assert_int_equal(g_f.units[2].text_len, 4);
    assert_true(g_f.units[2].base64);
    span_eq(g_f.trailing, BASE + 41, 2);
    assert_int_equal(g_f.after_units.len, 0);
    at_frame_spec spec;
    char strbuf[32];
    assert_int_equal(at_frame_to_spec(&g_f, &spec, strbuf, sizeof strbuf), AT_OK);
    at_frame_spec want_spec = {.cmd_id = AT_CMD_READ, .index = 1, .imei = IMEI,
                               .sign = true};
    assert_spec_eq(&spec, &want_spec);
}

static void test_big_endian_not_guessed(void **state)
{
    (void)state;
    /* Known little-endian CmdId: never reinterpreted. */
    hex_decode(DELETE_2, NULL, &g_f);
    assert_false(g_f.big_endian);
    /* BE TotalLen far from the bytes present. */
    hex_decode("FF00 0003 0001 0006 0001 0002", NULL, &g_f);
    assert_false(g_f.big_endian);
    assert_true(has_problem(&g_f, AT_FP_UNKNOWN_CMD));
    assert_false(has_problem(&g_f, AT_FP_BIG_ENDIAN));
    /* BE ParamNum implausible. */
    hex_decode("000C 0003 0011 0006 0001 0002", NULL, &g_f);
    assert_false(g_f.big_endian);
    /* BE CmdId unknown as well. */
    hex_decode("000C 0009 0001 0006 0001 0002", NULL, &g_f);
    assert_false(g_f.big_endian);
    EXPECT(&g_f, {AT_FP_TOTALLEN_LONG, 0, 12}, {AT_FP_UNKNOWN_CMD, 2, 0x0900},
           {AT_FP_PARAMNUM_MISMATCH, 4, 1}, {AT_FP_UNIT_PAST_FRAME, 6, 0x0600},
           {AT_FP_UNKNOWN_PARAM, 8, 0x0100});
}

static void test_too_many_units(void **state)
{
    (void)state;
    raw_unit u[40];
    u[0] = (raw_unit)U_INDEX(1);
    for (size_t i = 1; i < 40; i++)
        u[i] = (raw_unit){9, "", 0};

    g_in.n = raw(g_in.b, AT_CMD_DELETE, u, 20);
    assert_int_equal(at_frame_decode(g_in.b, g_in.n, BASE, NULL, &g_f), AT_OK);
    assert_int_equal(g_f.n_units, AT_FRAME_MAX_UNITS);
    assert_int_equal(g_f.param_num, 20);
    assert_int_equal(g_f.n_problems, 20);
    assert_int_equal(g_f.problems[0].code, AT_FP_TOO_MANY_UNITS);
    assert_int_equal(g_f.problems[0].off, BASE + 12 + 15 * 4);
    assert_int_equal(g_f.problems[0].detail, 20);
    for (unsigned i = 1; i < 20; i++) {
        assert_int_equal(g_f.problems[i].code, AT_FP_UNKNOWN_PARAM);
        assert_int_equal(g_f.problems[i].off, BASE + 12 + (i - 1) * 4 + 2);
    }
    assert_false(has_problem(&g_f, AT_FP_PARAMNUM_MISMATCH));
    assert_int_equal(g_f.units_end, g_in.n);

    /* A problem storm: frame-level problems come first and survive, the
     * overflow is counted. 40 units = 1 too_many + 39 unknown. */
    g_in.n = raw(g_in.b, AT_CMD_DELETE, u, 40);
    g_in.b[4] = 41;  /* and a ParamNum mismatch on top */
    assert_int_equal(at_frame_decode(g_in.b, g_in.n, BASE, NULL, &g_f), AT_OK);
    assert_int_equal(g_f.n_problems, AT_FRAME_MAX_PROBLEMS);
    assert_int_equal(g_f.problems_dropped, 41 - AT_FRAME_MAX_PROBLEMS);
    assert_int_equal(g_f.problems[0].code, AT_FP_PARAMNUM_MISMATCH);
    assert_int_equal(g_f.problems[0].detail, 40);
    assert_int_equal(g_f.problems[1].code, AT_FP_TOO_MANY_UNITS);
    assert_int_equal(g_f.problems[1].detail, 40);
}

static void test_unused_bytes(void **state)
{
    (void)state;
    hex_decode("0E00 0300 0100 0600 0100 0200 FFFF", NULL, &g_f);
    EXPECT(&g_f, {AT_FP_UNUSED_BYTES, 12, 2});
    span_eq(g_f.span, BASE, 14);
    assert_int_equal(g_f.units_end, 12);
    span_eq(g_f.after_units, BASE + 12, 2);
    assert_int_equal(g_f.trailing.len, 0);
}

/* Every code is named, described, and distinct. */
static void test_names(void **state)
{
    (void)state;
    for (int a = AT_FP_HEADER_TRUNCATED; a <= AT_FP_UNUSED_BYTES; a++) {
        const char *name = at_frame_problem_name((at_frame_problem_code)a);
        const char *text = at_frame_problem_text((at_frame_problem_code)a);
        assert_string_not_equal(name, "unknown");
        assert_int_equal(strspn(name, "abcdefghijklmnopqrstuvwxyz_0123456789"), strlen(name));
        assert_true(strlen(text) > 10 && text[strlen(text) - 1] == '.');
        for (int b = AT_FP_HEADER_TRUNCATED; b < a; b++)
            assert_string_not_equal(name, at_frame_problem_name((at_frame_problem_code)b));
    }
    assert_string_equal(at_frame_problem_name(AT_FP_TOTALLEN_SHORT), "totallen_short");
    assert_string_equal(at_frame_problem_name(AT_FP_BIG_ENDIAN), "big_endian");
    assert_string_equal(at_frame_problem_name(AT_FP_KEY_INDEX_NOT_0), "key_index_not_0");
    assert_string_equal(at_frame_problem_name((at_frame_problem_code)0), "unknown");
    assert_string_equal(at_frame_problem_name((at_frame_problem_code)99), "unknown");
    assert_string_equal(at_frame_problem_text((at_frame_problem_code)99), "Unknown problem.");

    assert_string_equal(at_cmd_name(1), "WRITE");
    assert_string_equal(at_cmd_name(2), "READ");
    assert_string_equal(at_cmd_name(3), "DELETE");
    assert_string_equal(at_cmd_name(4), "REVOKE");
    assert_string_equal(at_cmd_name(0x12), "READ_FILE");
    assert_null(at_cmd_name(0));
    assert_null(at_cmd_name(5));
    static const char *const params[] = {NULL, "index", "cert", "signature", "imei",
                                         "key", "thumbprint", "mode", NULL};
    for (uint16_t id = 0; id < 9; id++)
        assert_text_eq(at_param_name(id), params[id]);
    assert_null(at_param_name(0xFFFF));
}

static void test_find(void **state)
{
    (void)state;
    hex_decode(READ_SIGNED, NULL, &g_f);
    assert_null(at_frame_find(&g_f, (at_param_id)0));
    assert_null(at_frame_find(&g_f, (at_param_id)8));
    assert_null(at_frame_find(NULL, AT_PARAM_INDEX));
    assert_null(at_frame_find(&g_f, AT_PARAM_CERT));
    assert_int_equal(at_frame_find(&g_f, AT_PARAM_SIGNATURE)->param_id, AT_PARAM_SIGNATURE);
}

static void test_decode_args(void **state)
{
    (void)state;
    uint8_t b[1] = {0};
    assert_int_equal(at_frame_decode(NULL, 3, 0, NULL, &g_f), AT_ERR_ARG);
    assert_int_equal(at_frame_decode(b, 1, 0, NULL, NULL), AT_ERR_ARG);
    assert_int_equal(at_frame_decode(NULL, 0, 7, NULL, &g_f), AT_OK);
    assert_int_equal(g_f.n_problems, 1);
    assert_int_equal(g_f.problems[0].off, 7);
}

/* Every span moves with base_off and nothing else changes. */
static void test_base_offsets(void **state)
{
    (void)state;
    static const uint64_t bases[] = {0, 1, 1u << 20, (uint64_t)1 << 40};
    g_in.n = tu_hex(READ_SIGNED, g_in.b, sizeof g_in.b);
    g_in.b[g_in.n++] = 'x';
    g_in.b[16] = 'a';
    assert_int_equal(at_frame_decode(g_in.b, g_in.n, 0, NULL, &g_f2), AT_OK);
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        uint64_t b = bases[i];
        assert_int_equal(at_frame_decode(g_in.b, g_in.n, b, NULL, &g_f), AT_OK);
        check_invariants(&g_f, g_in.b, g_in.n, b);
        assert_int_equal(g_f.span.off, g_f2.span.off + b);
        assert_int_equal(g_f.signed_region.off, g_f2.signed_region.off + b);
        assert_int_equal(g_f.n_problems, 2);
        for (unsigned k = 0; k < g_f.n_problems; k++) {
            assert_int_equal(g_f.problems[k].code, g_f2.problems[k].code);
            assert_int_equal(g_f.problems[k].off, g_f2.problems[k].off + b);
        }
        for (unsigned k = 0; k < g_f.n_units; k++) {
            assert_int_equal(g_f.units[k].span.off, g_f2.units[k].span.off + b);
            assert_int_equal(g_f.units[k].id_span.off, g_f2.units[k].id_span.off + b);
            assert_int_equal(g_f.units[k].value_span.off, g_f2.units[k].value_span.off + b);
        }
    }
    assert_int_equal(g_f2.problems[0].off, 41);   /* trailing 'x' */
    assert_int_equal(g_f2.problems[1].off, 16);   /* IMEI 'a' */
}

/* ------------------------------------------------------------------ */
/* Round trips                                                        */
/* ------------------------------------------------------------------ */

static void test_round_trip_write_client_cert(void **state)
{
    (void)state;
    at_frame_spec spec = {.cmd_id = AT_CMD_WRITE, .index = 0, .cert = g_cert,
                          .cert_len = 599, .key = g_key, .key_len = 1218,
                          .imei = IMEI, .sign = true};
    round_trip(&spec, legacy(), true);
    assert_int_equal(g_f.n_units, 5);
    static const uint16_t ids[] = {AT_PARAM_INDEX, AT_PARAM_CERT, AT_PARAM_KEY,
                                   AT_PARAM_IMEI, AT_PARAM_SIGNATURE};
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(g_f.units[i].param_id, ids[i]);
}

static void test_round_trip_each_command(void **state)
{
    (void)state;
    static const uint16_t cmds[] = {AT_CMD_READ, AT_CMD_DELETE, AT_CMD_REVOKE};
    for (size_t i = 0; i < 3; i++) {
        at_frame_spec spec = {.cmd_id = cmds[i], .index = 7, .imei = IMEI, .sign = true};
        round_trip(&spec, legacy(), true);
        assert_int_equal(g_f.n_units, 3);
        spec.mode = "preconfig_cert";
        spec.thumbprint = THUMB;
        round_trip(&spec, newer(), true);
        assert_int_equal(g_f.n_units, 5);
        assert_int_equal(g_f.units[0].param_id, AT_PARAM_MODE);
        assert_int_equal(g_f.units[1].param_id, AT_PARAM_THUMBPRINT);
        spec.imei = NULL;
        spec.sign = false;
        round_trip(&spec, newer(), true);
    }
    at_frame_spec w = {.cmd_id = AT_CMD_WRITE, .index = 3, .cert = g_cert, .cert_len = 1,
                       .imei = IMEI, .sign = true};
    round_trip(&w, legacy(), true);
}

/* Many combinations of the optional parts. */
static void test_round_trip_combinations(void **state)
{
    (void)state;
    static const uint16_t cmds[] = {AT_CMD_WRITE, AT_CMD_READ, AT_CMD_DELETE,
                                    AT_CMD_REVOKE, AT_CMD_READ_FILE};
    static const uint16_t indexes[] = {0, 1, 10, 30};
    static const size_t cert_lens[] = {0, 1, 2048};
    static const char *const modes[] = {NULL, "", "preconfig_cert"};
    unsigned n = 0;
    for (size_t c = 0; c < 5; c++)
    for (size_t x = 0; x < 4; x++)
    for (size_t cl = 0; cl < 3; cl++)
    for (int has_cert = 0; has_cert < 2; has_cert++)
    for (int key = 0; key < 2; key++)
    for (size_t m = 0; m < 3; m++)
    for (int thumb = 0; thumb < 2; thumb++)
    for (int imei = 0; imei < 2; imei++)
    for (int sign = 0; sign < 2; sign++) {
        if (!has_cert && cl)
            continue;
        at_frame_spec spec = {
            .cmd_id = cmds[c], .index = indexes[x],
            .cert = has_cert ? g_cert : NULL, .cert_len = cert_lens[cl],
            .key = key ? g_key : NULL, .key_len = key ? 300 : 0,
            .mode = modes[m], .thumbprint = thumb ? THUMB : NULL,
            .imei = imei ? IMEI : NULL, .sign = sign};
        /* The empty mode is a bare NUL on the wire: terminated, so clean. */
        bool no_cert = cmds[c] == AT_CMD_WRITE && !has_cert;
        bool key_not_0 = key && indexes[x] != 0;
        round_trip(&spec, newer(), !no_cert && !key_not_0);
        assert_int_equal(has_problem(&g_f, AT_FP_CERT_MISSING), no_cert);
        assert_int_equal(has_problem(&g_f, AT_FP_KEY_INDEX_NOT_0), key_not_0);
        assert_int_equal(g_f.n_problems, no_cert + key_not_0);
        n++;
    }
    assert_true(n > 1000);
}

/* Signatures of every padding length and the largest one allowed. */
static void test_round_trip_signature_sizes(void **state)
{
    (void)state;
    for (size_t nb = 1; nb < 40; nb++) {
        fake_signer s = {.nbytes = nb};
        at_frame_spec spec = {.cmd_id = AT_CMD_DELETE, .index = 1, .sign = true};
        assert_int_equal(at_frame_encode(&spec, fake_sign, &s, g_out.b, sizeof g_out.b,
                                         &g_out.n), AT_OK);
        assert_int_equal(at_frame_decode(g_out.b, g_out.n, BASE, NULL, &g_f), AT_OK);
        EXPECT_NONE(&g_f);
        assert_int_equal(at_frame_find(&g_f, AT_PARAM_SIGNATURE)->value_len,
                         (nb + 2) / 3 * 4 + 1);
    }
    fake_signer s = {.nbytes = AT_FRAME_SIG_MAX / 4 * 3};
    at_frame_spec spec = {.cmd_id = AT_CMD_DELETE, .index = 1, .sign = true};
    assert_int_equal(at_frame_encode(&spec, fake_sign, &s, g_out.b, sizeof g_out.b,
                                     &g_out.n), AT_OK);
    assert_int_equal(s.cap, AT_FRAME_SIG_MAX);
    assert_int_equal(at_frame_decode(g_out.b, g_out.n, BASE, NULL, &g_f), AT_OK);
    EXPECT_NONE(&g_f);
    assert_int_equal(at_frame_find(&g_f, AT_PARAM_SIGNATURE)->value_len,
                     AT_FRAME_SIG_MAX + 1);
}

/* ------------------------------------------------------------------ */
/* Encoder errors                                                     */
/* ------------------------------------------------------------------ */

static void test_encode_args(void **state)
{
    (void)state;
    at_frame_spec spec = {.cmd_id = AT_CMD_DELETE, .index = 2};
    size_t n = 99;
    assert_int_equal(at_frame_encode(NULL, NULL, NULL, g_out.b, 64, &n), AT_ERR_ARG);
    assert_int_equal(n, 0);
    assert_int_equal(at_frame_encode(&spec, NULL, NULL, NULL, 64, &n), AT_ERR_ARG);
    assert_int_equal(at_frame_encode(&spec, NULL, NULL, g_out.b, 64, NULL), AT_ERR_ARG);
    spec.sign = true;
    assert_int_equal(at_frame_encode(&spec, NULL, NULL, g_out.b, 64, &n), AT_ERR_ARG);
    spec.sign = false;
    spec.cert_len = 5;
    assert_int_equal(at_frame_encode(&spec, NULL, NULL, g_out.b, 64, &n), AT_ERR_ARG);
    spec.cert_len = 0;
    spec.key_len = 5;
    assert_int_equal(at_frame_encode(&spec, NULL, NULL, g_out.b, 64, &n), AT_ERR_ARG);
}

static void test_encode_space(void **state)
{
    (void)state;
    at_frame_spec spec = {.cmd_id = AT_CMD_DELETE, .index = 2};
    size_t n = 99;
    for (size_t cap = 0; cap < 12; cap++) {
        assert_int_equal(at_frame_encode(&spec, NULL, NULL, g_out.b, cap, &n), AT_ERR_SPACE);
        assert_int_equal(n, 0);
    }
    /* Signed READ_SIGNED is 41 bytes: 32 before the signature unit, which
     * needs at least its header and NUL. */
    fake_signer s = {.fixed = "QUJD"};
    at_frame_spec rd = {.cmd_id = AT_CMD_READ, .index = 1, .imei = IMEI, .sign = true};
    assert_int_equal(at_frame_encode(&rd, fake_sign, &s, g_out.b, 36, &n), AT_ERR_SPACE);
    assert_int_equal(s.calls, 0);
    /* Room for the unit but not the text: the signer cannot fit and says so. */
    assert_int_equal(at_frame_encode(&rd, fake_sign, &s, g_out.b, 40, &n), AT_ERR_SIGN);
    assert_int_equal(s.cap, 3);
    assert_int_equal(at_frame_encode(&rd, fake_sign, &s, g_out.b, 41, &n), AT_OK);
    assert_int_equal(n, 41);
}

static void test_encode_too_long(void **state)
{
    (void)state;
    size_t n;
    at_frame_spec spec = {.cmd_id = AT_CMD_WRITE, .index = 1, .cert = g_cert};
    /* Exactly 65535 bytes: header 6 + index 6 + cert unit 4 + 65519. */
    spec.cert_len = 65519;
    assert_int_equal(at_frame_encode(&spec, NULL, NULL, g_out.b, sizeof g_out.b, &n), AT_OK);
    assert_int_equal(n, 65535);
    assert_int_equal(at_frame_decode(g_out.b, n, BASE, newer(), &g_f), AT_OK);
    EXPECT(&g_f, {AT_FP_CERT_TOO_LARGE, 12, 65519});
    spec.cert_len = 65520;
    assert_int_equal(at_frame_encode(&spec, NULL, NULL, g_out.b, sizeof g_out.b, &n),
                     AT_ERR_TOO_LONG);
    /* One unit over the u16 ParamLen. */
    spec.cert_len = 65532;
    assert_int_equal(at_frame_encode(&spec, NULL, NULL, g_out.b, sizeof g_out.b, &n),
                     AT_ERR_TOO_LONG);
    /* Units that fit alone but not together. */
    spec.index = 0;
    spec.cert_len = 60000;
    spec.key = g_key;
    spec.key_len = 6000;
    assert_int_equal(at_frame_encode(&spec, NULL, NULL, g_out.b, sizeof g_out.b, &n),
                     AT_ERR_TOO_LONG);
    /* A text too long for its unit. */
    static char long_mode[65600];
    memset(long_mode, 'm', sizeof long_mode - 1);
    at_frame_spec m = {.cmd_id = AT_CMD_DELETE, .mode = long_mode};
    assert_int_equal(at_frame_encode(&m, NULL, NULL, g_out.b, sizeof g_out.b, &n),
                     AT_ERR_TOO_LONG);

    /* Signature pushes it over: 65530 before, 4+4+1 for the signature unit. */
    fake_signer s = {.fixed = "QUJD"};
    at_frame_spec sg = {.cmd_id = AT_CMD_WRITE, .index = 1, .cert = g_cert,
                        .cert_len = 65514, .sign = true};
    assert_int_equal(at_frame_encode(&sg, fake_sign, &s, g_out.b, sizeof g_out.b, &n),
                     AT_ERR_TOO_LONG);
    assert_int_equal(s.calls, 1);
    /* No room even for an empty signature unit: not signed at all. */
    sg.cert_len = 65515;
    assert_int_equal(at_frame_encode(&sg, fake_sign, &s, g_out.b, sizeof g_out.b, &n),
                     AT_ERR_TOO_LONG);
    assert_int_equal(s.calls, 1);
}

static void test_encode_sign_errors(void **state)
{
    (void)state;
    size_t n = 99;
    at_frame_spec spec = {.cmd_id = AT_CMD_DELETE, .index = 1, .imei = IMEI, .sign = true};
    fake_signer fail = {.fail = -7};
    assert_int_equal(at_frame_encode(&spec, fake_sign, &fail, g_out.b, sizeof g_out.b, &n),
                     AT_ERR_SIGN);
    assert_int_equal(n, 0);
    fake_signer liar = {.claim = AT_FRAME_SIG_MAX + 1};
    assert_int_equal(at_frame_encode(&spec, fake_sign, &liar, g_out.b, sizeof g_out.b, &n),
                     AT_ERR_SIGN);
    assert_int_equal(liar.cap, AT_FRAME_SIG_MAX);
    fake_signer max = {.claim = AT_FRAME_SIG_MAX};
    memset(g_out.b, 'A', sizeof g_out.b);
    assert_int_equal(at_frame_encode(&spec, fake_sign, &max, g_out.b, sizeof g_out.b, &n),
                     AT_OK);
    /* The signer is not consulted when no signature is asked for. */
    spec.sign = false;
    assert_int_equal(at_frame_encode(&spec, fake_sign, &fail, g_out.b, sizeof g_out.b, &n),
                     AT_OK);
    assert_int_equal(fail.calls, 1);
}

/* ------------------------------------------------------------------ */
/* Frame to spec                                                      */
/* ------------------------------------------------------------------ */

static void test_to_spec(void **state)
{
    (void)state;
    at_frame_spec spec;
    char buf[64];

    hex_decode(READ_SIGNED, NULL, &g_f);
    assert_int_equal(at_frame_to_spec(NULL, &spec, buf, sizeof buf), AT_ERR_ARG);
    assert_int_equal(at_frame_to_spec(&g_f, NULL, buf, sizeof buf), AT_ERR_ARG);
    assert_int_equal(at_frame_to_spec(&g_f, &spec, NULL, 5), AT_ERR_ARG);
    assert_int_equal(at_frame_to_spec(&g_f, &spec, buf, 15), AT_ERR_SPACE);
    assert_int_equal(at_frame_to_spec(&g_f, &spec, buf, 16), AT_OK);
    assert_ptr_equal(spec.imei, buf);
    assert_string_equal(spec.imei, IMEI);
    assert_true(spec.sign);

    /* No index: nothing the encoder could reproduce. */
    RAW_DECODE(NULL, &g_f, AT_CMD_READ_FILE, U_TEXT(AT_PARAM_MODE, "a"));
    assert_int_equal(at_frame_to_spec(&g_f, &spec, buf, sizeof buf), AT_ERR_SYNTAX);
    /* A NUL inside a text value. */
    RAW_DECODE(NULL, &g_f, AT_CMD_DELETE, U_INDEX(1), U_TEXT(AT_PARAM_MODE, "a\0b"));
    EXPECT_NONE(&g_f);
    assert_int_equal(at_frame_to_spec(&g_f, &spec, buf, sizeof buf), AT_ERR_SYNTAX);
    /* An unterminated one. */
    RAW_DECODE(NULL, &g_f, AT_CMD_DELETE, U_INDEX(1), U_RAW(AT_PARAM_THUMBPRINT, "ab"));
    assert_int_equal(at_frame_to_spec(&g_f, &spec, buf, sizeof buf), AT_ERR_SYNTAX);
    /* A cut certificate. */
    hex_decode("1400 0100 0200 0600 0100 0000 2000 0200 AABBCCDD", NULL, &g_f);
    assert_int_equal(at_frame_to_spec(&g_f, &spec, buf, sizeof buf), AT_ERR_SYNTAX);
    /* Mode, thumbprint and IMEI share the buffer. */
    RAW_DECODE(NULL, &g_f, AT_CMD_DELETE, U_TEXT(AT_PARAM_MODE, "m"),
               U_TEXT(AT_PARAM_THUMBPRINT, "ab"), U_INDEX(4), U_TEXT(AT_PARAM_IMEI, "12"));
    assert_int_equal(at_frame_to_spec(&g_f, &spec, buf, 7), AT_ERR_SPACE);
    assert_int_equal(at_frame_to_spec(&g_f, &spec, buf, 8), AT_OK);
    assert_string_equal(spec.mode, "m");
    assert_string_equal(spec.thumbprint, "ab");
    assert_string_equal(spec.imei, "12");
    assert_int_equal(spec.index, 4);
    assert_false(spec.sign);
    assert_null(spec.cert);
}

/* ------------------------------------------------------------------ */
/* Hostile input                                                      */
/* ------------------------------------------------------------------ */

static size_t full_frame(uint8_t *out, size_t cap)
{
    fake_signer s = {.nbytes = 64};
    at_frame_spec spec = {.cmd_id = AT_CMD_WRITE, .index = 0, .cert = g_cert,
                          .cert_len = 40, .key = g_key, .key_len = 30,
                          .mode = "preconfig_cert", .thumbprint = THUMB,
                          .imei = IMEI, .sign = true};
    size_t n;
    assert_int_equal(at_frame_encode(&spec, fake_sign, &s, out, cap, &n), AT_OK);
    return n;
}

/* Every truncation is reported, and nothing outside the bytes is touched
 * (each prefix sits in an allocation of exactly its size for ASan). */
static void test_every_truncation(void **state)
{
    (void)state;
    size_t len = full_frame(g_out.b, sizeof g_out.b);
    assert_int_equal(at_frame_decode(g_out.b, len, BASE, NULL, &g_f), AT_OK);
    EXPECT_NONE(&g_f);
    for (size_t n = 0; n < len; n++) {
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, g_out.b, n);
        for (int prof = 0; prof < 2; prof++) {
            assert_int_equal(at_frame_decode(p, n, BASE,
                                             at_profile_get((at_profile_id)prof), &g_f),
                             AT_OK);
            check_invariants(&g_f, p, n, BASE);
            assert_true(g_f.n_problems > 0);
            assert_true(has_problem(&g_f, n < 6 ? AT_FP_HEADER_TRUNCATED
                                                : AT_FP_TOTALLEN_LONG));
        }
        free(p);
    }
}

/* Single-byte corruptions and random garbage keep the invariants. */
static void test_corruptions_and_garbage(void **state)
{
    (void)state;
    size_t len = full_frame(g_out.b, sizeof g_out.b);
    uint8_t *p = malloc(len);
    static const uint8_t vals[] = {0x00, 0x01, 0x03, 0x04, 0xFF, 0x80};
    for (size_t i = 0; i < len; i++) {
        for (size_t v = 0; v < sizeof vals; v++) {
            memcpy(p, g_out.b, len);
            p[i] = vals[v];
            assert_int_equal(at_frame_decode(p, len, BASE, newer(), &g_f), AT_OK);
            check_invariants(&g_f, p, len, BASE);
        }
    }
    free(p);

    uint32_t x = 12345;
    for (int round = 0; round < 3000; round++) {
        size_t n = (size_t)(round % 97);
        uint8_t *g = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            g[i] = (uint8_t)(x >> 16);
            /* Keep lengths small now and then so the walk goes deep. */
            if (i % 2 == 0 && (x >> 8 & 3) == 0)
                g[i] = (uint8_t)(x >> 24 & 15);
        }
        assert_int_equal(at_frame_decode(g, n, BASE, legacy(), &g_f), AT_OK);
        check_invariants(&g_f, g, n, BASE);
        free(g);
    }
}

/* The module's READ answer carries a raw digest in unit 3 (PROTOCOL.md
 * section 5); the same bytes in a request are a broken signature. */
static void test_read_response_raw_digest(void **state)
{
    (void)state;
    static const char resp20[] =
        "2d 00 02 00 03 00 06 00 01 00 01 00 09 00 02 00 30 0d 0a 0d 0a"
        "18 00 03 00 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13";
    uint8_t buf[128];
    size_t n = tu_hex(resp20, buf, sizeof buf);
    at_frame f;
    assert_int_equal(at_frame_decode_response(buf, n, 100, NULL, &f), AT_OK);
    assert_true(f.response);
    assert_int_equal(f.sig_kind, AT_SIG_RAW_DIGEST);
    assert_int_equal(f.n_problems, 0);
    assert_int_equal(f.cmd_id, AT_CMD_READ);
    assert_int_equal(f.index, 1);
    assert_int_equal(at_frame_find(&f, AT_PARAM_SIGNATURE)->value_len, 20);
    assert_string_equal(at_sig_kind_name(f.sig_kind), "raw_digest");

    assert_int_equal(at_frame_decode(buf, n, 100, NULL, &f), AT_OK);
    assert_false(f.response);
    assert_int_equal(f.sig_kind, AT_SIG_BASE64);
    assert_true(f.n_problems >= 1);
    assert_int_equal(f.problems[0].code, AT_FP_STRING_UNTERMINATED);

    /* A 32-byte (SHA-256) digest. */
    uint8_t b32[128];
    memcpy(b32, buf, 21);
    b32[0] = 0x39;
    b32[21] = 0x24; b32[22] = 0; b32[23] = 3; b32[24] = 0;
    for (int k = 0; k < 32; k++)
        b32[25 + k] = (uint8_t)(0xa0 + k);
    assert_int_equal(at_frame_decode_response(b32, 57, 0, NULL, &f), AT_OK);
    assert_int_equal(f.sig_kind, AT_SIG_RAW_DIGEST);
    assert_int_equal(f.n_problems, 0);

    /* A response may carry base64 too, and says so. */
    static const char resp_b64[] =
        "1a 00 02 00 03 00 06 00 01 00 01 00 05 00 02 00 30"
        "09 00 03 00 51 55 4a 44 00";
    n = tu_hex(resp_b64, buf, sizeof buf);
    assert_int_equal(at_frame_decode_response(buf, n, 0, NULL, &f), AT_OK);
    assert_int_equal(f.sig_kind, AT_SIG_BASE64);
    assert_int_equal(f.n_problems, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delete_example_encodes_exactly),
        cmocka_unit_test(test_delete_example_decodes),
        cmocka_unit_test(test_read_signed_decodes),
        cmocka_unit_test(test_signed_encode_exact_bytes_and_region),
        cmocka_unit_test(test_header_truncated),
        cmocka_unit_test(test_totallen_short),
        cmocka_unit_test(test_totallen_long),
        cmocka_unit_test(test_totallen_below_header),
        cmocka_unit_test(test_paramnum_mismatch),
        cmocka_unit_test(test_unit_len_under_4),
        cmocka_unit_test(test_unit_past_frame),
        cmocka_unit_test(test_unknown_param),
        cmocka_unit_test(test_duplicate_param),
        cmocka_unit_test(test_index_range),
        cmocka_unit_test(test_index_size),
        cmocka_unit_test(test_cert_and_key_limits),
        cmocka_unit_test(test_key_index_not_0),
        cmocka_unit_test(test_string_unterminated),
        cmocka_unit_test(test_imei_not_digits),
        cmocka_unit_test(test_signature_not_base64),
        cmocka_unit_test(test_signature_not_last),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_unknown_cmd),
        cmocka_unit_test(test_index_and_cert_missing),
        cmocka_unit_test(test_big_endian),
        cmocka_unit_test(test_big_endian_not_guessed),
        cmocka_unit_test(test_too_many_units),
        cmocka_unit_test(test_unused_bytes),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_decode_args),
        cmocka_unit_test(test_base_offsets),
        cmocka_unit_test(test_round_trip_write_client_cert),
        cmocka_unit_test(test_round_trip_each_command),
        cmocka_unit_test(test_round_trip_combinations),
        cmocka_unit_test(test_round_trip_signature_sizes),
        cmocka_unit_test(test_encode_args),
        cmocka_unit_test(test_encode_space),
        cmocka_unit_test(test_encode_too_long),
        cmocka_unit_test(test_encode_sign_errors),
        cmocka_unit_test(test_to_spec),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_corruptions_and_garbage),
        cmocka_unit_test(test_read_response_raw_digest),
    };
    return cmocka_run_group_tests(tests, setup_blobs, NULL);
}
