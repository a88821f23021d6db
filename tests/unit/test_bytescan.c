/*
 * Unit tests of the core's byte searches (decoder/core/bytescan.c): the
 * portable forms give the documented answers, and the forms the core
 * calls (SSE2 on x86-64) give the same answers as the portable ones on
 * every input tried: each interesting byte at every position relative to
 * the 16-byte steps and to the buffer's end, and random mixes. Buffers are
 * allocated to their exact length, so a read past the end shows under
 * ASan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attrace/secret.h"
#include "bytescan.h"

/* A deterministic byte source (xorshift64). */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

/* A random length below @p cap of random bytes: about one in a random
 * 1..@p max_gap from @p pool, the others printable ASCII (@p text) or
 * anything. Returns the length. */
static size_t random_bytes(uint64_t *rnd, uint8_t *buf, size_t cap, const uint8_t *pool,
                           size_t pool_len, unsigned max_gap, bool text)
{
    size_t n = (size_t)(next_random(rnd) % cap);
    unsigned gap = (unsigned)(next_random(rnd) % max_gap) + 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = next_random(rnd);
        if (r % gap == 0)
            buf[i] = pool[(r >> 8) % pool_len];
        else
            buf[i] = text ? (uint8_t)(0x20 + (r >> 16) % 0x5f) : (uint8_t)(r >> 16);
    }
    return n;
}

static uint8_t *exact_copy(const uint8_t *p, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    if (n)
        memcpy(b, p, n);
    return b;
}

/* ------------------------------------------------------------------ */
/* Line ends                                                          */
/* ------------------------------------------------------------------ */

/* Where p[0..n) stops as a line, checked to be the same in both forms
 * (on an exact-size copy, so that ASan sees any read past its end). */
static size_t line_stop_both(const uint8_t *p, size_t n, size_t *ctrl)
{
    uint8_t *b = exact_copy(p, n);
    size_t c1, c2;
    size_t r1 = at_bytescan_line_stop_portable(b, n, &c1);
    size_t r2 = at_bytescan_line_stop(b, n, &c2);
    assert_int_equal(r1, r2);
    assert_int_equal(c1, c2);
    free(b);
    *ctrl = c1;
    return r1;
}

static size_t line_stop(const char *s, size_t *ctrl)
{
    return line_stop_both((const uint8_t *)s, strlen(s), ctrl);
}

static void test_line_stop_values(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t stop, ctrl;
    } cases[] = {
        {"", 0, 0},
        {"AT+CGSN", 7, 7},
        {"AT+CGSN\r\n", 7, 7},
        {"OK\n", 2, 2},
        /* A tab is text; other bytes below 0x20 and DEL are not. */
        {"a\tb\r", 3, 3},
        {"ab\x01" "c\r", 4, 2},
        {"abc\x7f", 4, 3},
        /* Only control bytes before the stop count. */
        {"0123456789abcdefghij\r\x01", 20, 20},
        {"0123456789abcdefghij\x1b[0m\n", 24, 20},
        /* Bytes above 0x7F are not control bytes. */
        {"\x80\xff\xfe\x81\x9f\xa0 0123456789", 17, 17},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t c;
        assert_int_equal(line_stop(cases[i].text, &c), cases[i].stop);
        assert_int_equal(c, cases[i].ctrl);
    }
}

static void expect_same_line_stop(const uint8_t *p, size_t n)
{
    size_t ctrl;
    (void)line_stop_both(p, n, &ctrl);
}

/* Each of the bytes that matter at every position of buffers of every
 * length up to three 16-byte steps, alone and after another one. */
static void test_line_stop_every_position(void **state)
{
    (void)state;
    static const uint8_t special[] = {'\r', '\n', '\t', 0x00, 0x01, 0x1f, 0x20, 0x7e,
                                      0x7f, 0x80, 0xff, 0x0b, 0x0c, 0x1b};
    uint8_t buf[64];
    for (size_t n = 0; n <= 50; n++)
        for (size_t a = 0; a < sizeof special; a++)
            for (size_t pos = 0; pos < n; pos++) {
                memset(buf, 'x', n);
                buf[pos] = special[a];
                expect_same_line_stop(buf, n);
                for (size_t b = 0; b < sizeof special; b++)
                    for (size_t pos2 = pos + 1; pos2 < n && pos2 < pos + 18; pos2 += 3) {
                        buf[pos2] = special[b];
                        expect_same_line_stop(buf, n);
                        buf[pos2] = 'x';
                    }
            }
}

static void test_line_stop_random(void **state)
{
    (void)state;
    static const uint8_t pool[] = {'\r', '\n', '\t', 0x01, 0x7f, 0x1f, 0x80, 'A', 'T', '0', ' '};
    uint64_t rnd = 0x9e3779b97f4a7c15u;
    uint8_t buf[200];
    for (unsigned round = 0; round < 20000; round++) {
        size_t n = random_bytes(&rnd, buf, sizeof buf, pool, sizeof pool, 64, round % 4 != 0);
        expect_same_line_stop(buf, n);
    }
}

/* ------------------------------------------------------------------ */
/* Key starts                                                         */
/* ------------------------------------------------------------------ */

static size_t key_start(const uint8_t *p, size_t from, size_t lim, size_t n)
{
    uint8_t *b = exact_copy(p, n);
    size_t r1 = at_bytescan_key_start_portable(b, from, lim, n);
    size_t r2 = at_bytescan_key_start(b, from, lim, n);
    assert_int_equal(r1, r2);
    free(b);
    return r1;
}

static void test_key_start_values(void **state)
{
    (void)state;
    /* Text: '0' followed by text, '-' alone, dead INTEGER tags. */
    static const uint8_t text[] = "AT+CCLK=\"26/12/03,06:41:21+04\" 1001 - x\x02\x05 yy";
    size_t n = sizeof text - 1;
    assert_int_equal(key_start(text, 0, n, n), n);
    /* Bytes placed among 'a's: where a search over them stops. */
    static const struct {
        size_t n, pos;
        const char *bytes;
        size_t from, lim, want;
    } cases[] = {
        /* A SEQUENCE with a long length survives, wherever it is. */
        {40, 21, "\x30\x81", 0, 40, 21},
        {40, 21, "\x30\x81", 21, 40, 21},
        {40, 21, "\x30\x81", 22, 40, 40},
        /* lim before the trigger: lim. */
        {40, 21, "\x30\x81", 0, 21, 21},
        {40, 21, "\x30\x81", 0, 20, 20},
        /* A short-form SEQUENCE needs a length of 40 or more and a version
         * INTEGER or a SEQUENCE after it (02 01: the version's INTEGER is
         * no key itself). */
        {40, 3, "\x30\x28\x02\x01", 0, 40, 3},
        {40, 3, "\x30\x27\x02\x01", 0, 40, 40},
        {40, 3, "\x30\x7f\x30\x01", 0, 40, 3},
        {40, 3, "\x30\x7f\x31\x01", 0, 40, 40},
        /* An INTEGER of 48 content bytes or more. */
        {40, 30, "\x02\x30", 0, 40, 30},
        {40, 30, "\x02\x2f", 0, 40, 40},
        {40, 30, "\x02\x82", 0, 40, 30},
        /* PEM: two dashes. */
        {40, 17, "-", 0, 40, 40},
        {40, 17, "--", 0, 40, 17},
        /* At the end what cannot be told yet survives ... */
        {20, 19, "-", 0, 20, 19},
        {20, 18, "\x30\x40", 0, 20, 18},
        {20, 18, "\x30\x20", 0, 20, 20},
        /* ... in a buffer shorter than a 16-byte step as well ... */
        {5, 4, "-", 0, 5, 4},
        {6, 4, "\x30\x40", 0, 6, 4},
        {6, 4, "\x30\x20", 0, 6, 6},
        {6, 3, "\x02\x30", 0, 6, 3},
        /* ... but a look past lim (up to n) decides. */
        {20, 18, "\x30\x20", 0, 19, 19},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[64];
        memset(buf, 'a', cases[i].n);
        memcpy(buf + cases[i].pos, cases[i].bytes, strlen(cases[i].bytes));
        assert_int_equal(key_start(buf, cases[i].from, cases[i].lim, cases[i].n),
                         cases[i].want);
    }
}

static void expect_same_key_start(const uint8_t *p, size_t n)
{
    uint8_t *b = exact_copy(p, n);
    for (size_t from = 0; from <= n; from += from < 3 ? 1 : 7)
        for (size_t lim = from; lim <= n; lim += lim + 20 < n ? 5 : 1) {
            size_t r1 = at_bytescan_key_start_portable(b, from, lim, n);
            size_t r2 = at_bytescan_key_start(b, from, lim, n);
            assert_int_equal(r1, r2);
        }
    free(b);
}

/* Every trigger followed by every kind of next byte at every position. */
static void test_key_start_every_position(void **state)
{
    (void)state;
    static const uint8_t trig[] = {0x30, 0x02, '-'};
    static const uint8_t next[] = {0x81, 0x82, 0x28, 0x27, 0x30, 0x2f, 0x7f, 0x80,
                                   0x83, '-', 0x02, 0x00, 0xff};
    static const uint8_t third[] = {0x02, 0x30, 0x31, 'a'};
    uint8_t buf[48];
    for (size_t n = 1; n <= 40; n++)
        for (size_t pos = 0; pos < n; pos++)
            for (size_t t = 0; t < sizeof trig; t++)
                for (size_t a = 0; a < sizeof next; a++)
                    for (size_t b = 0; b < sizeof third; b++) {
                        memset(buf, 'z', n);
                        buf[pos] = trig[t];
                        if (pos + 1 < n)
                            buf[pos + 1] = next[a];
                        if (pos + 2 < n)
                            buf[pos + 2] = third[b];
                        uint8_t *p = exact_copy(buf, n);
                        const size_t lims[] = {0, pos, pos + 1, pos + 2, n - 1, n};
                        for (size_t l = 0; l < sizeof lims / sizeof lims[0]; l++) {
                            size_t lim = lims[l] < n ? lims[l] : n;
                            size_t from = lim < pos ? lim : pos > 3 ? pos - 3 : 0;
                            assert_int_equal(at_bytescan_key_start_portable(p, from, lim, n),
                                             at_bytescan_key_start(p, from, lim, n));
                            assert_int_equal(at_bytescan_key_start_portable(p, 0, lim, n),
                                             at_bytescan_key_start(p, 0, lim, n));
                        }
                        free(p);
                    }
}

static void test_key_start_random(void **state)
{
    (void)state;
    static const uint8_t pool[] = {0x30, 0x02, '-', 0x81, 0x82, 0x28, 0x30, 0x40, 0x7f, 0x80};
    uint64_t rnd = 0x2545f4914f6cdd1du;
    uint8_t buf[160];
    for (unsigned round = 0; round < 3000; round++) {
        size_t n = random_bytes(&rnd, buf, sizeof buf, pool, sizeof pool, 32, false);
        expect_same_key_start(buf, n);
    }
}

/* ------------------------------------------------------------------ */
/* Base64 text                                                        */
/* ------------------------------------------------------------------ */

static size_t base64_run(const uint8_t *p, size_t n)
{
    uint8_t *b = exact_copy(p, n);
    size_t r1 = at_bytescan_base64_run_portable(b, n);
    size_t r2 = at_bytescan_base64_run(b, n);
    assert_int_equal(r1, r2);
    free(b);
    return r1;
}

static void test_base64_run_values(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t run;
    } cases[] = {
        {"", 0},
        {"QUJD", 4},
        {"QUI=", 3},
        {"+/09AZaz", 8},
        /* Each neighbour of a range ends the run. */
        {"abc@", 3}, {"abc[", 3}, {"abc`", 3}, {"abc{", 3},
        {"abc.", 3}, {"abc:", 3}, {"abc*", 3}, {"abc,", 3},
        /* Bytes that setting bit 5 would turn into letters are none. */
        {"0123456789abcdefABCDEF\xc1", 22},
        {"0123456789abcdefABCDEF\xe1", 22},
        {"0123456789abcdefABCDEFGHIJKLMNOP\n", 32},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(base64_run((const uint8_t *)cases[i].text, strlen(cases[i].text)),
                         cases[i].run);
}

/* Every byte value at every position of buffers of every length up to
 * three 16-byte steps, among alphabet bytes. */
static void test_base64_run_every_position(void **state)
{
    (void)state;
    uint8_t buf[50];
    for (size_t n = 0; n <= sizeof buf; n++)
        for (size_t pos = 0; pos < n; pos++)
            for (unsigned b = 0; b < 256; b++) {
                memset(buf, 'Q', n);
                buf[pos] = (uint8_t)b;
                (void)base64_run(buf, n);
            }
}

static void test_base64_run_random(void **state)
{
    (void)state;
    static const uint8_t pool[] = {'=', '+', '/', '0', '9', 'A', 'Z', 'a', 'z', 0x00, 0x80, ' '};
    uint64_t rnd = 0x6a09e667f3bcc909u;
    uint8_t buf[200];
    for (unsigned round = 0; round < 20000; round++) {
        size_t n = random_bytes(&rnd, buf, sizeof buf, pool, sizeof pool, 200, true);
        (void)base64_run(buf, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_stop_values),
        cmocka_unit_test(test_line_stop_every_position),
        cmocka_unit_test(test_line_stop_random),
        cmocka_unit_test(test_key_start_values),
        cmocka_unit_test(test_key_start_every_position),
        cmocka_unit_test(test_key_start_random),
        cmocka_unit_test(test_base64_run_values),
        cmocka_unit_test(test_base64_run_every_position),
        cmocka_unit_test(test_base64_run_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
