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

static size_t line_stop(const char *s, size_t *ctrl)
{
    size_t n = strlen(s);
    uint8_t *b = exact_copy((const uint8_t *)s, n);
    size_t c1, c2;
    size_t r1 = at_bytescan_line_stop_portable(b, n, &c1);
    size_t r2 = at_bytescan_line_stop(b, n, &c2);
    assert_int_equal(r1, r2);
    assert_int_equal(c1, c2);
    free(b);
    *ctrl = c1;
    return r1;
}

static void test_line_stop_values(void **state)
{
    (void)state;
    size_t c;
    assert_int_equal(line_stop("", &c), 0);
    assert_int_equal(c, 0);
    assert_int_equal(line_stop("AT+CGSN", &c), 7);
    assert_int_equal(c, 7);
    assert_int_equal(line_stop("AT+CGSN\r\n", &c), 7);
    assert_int_equal(c, 7);
    assert_int_equal(line_stop("OK\n", &c), 2);
    assert_int_equal(c, 2);
    /* A tab is text; other bytes below 0x20 and DEL are not. */
    assert_int_equal(line_stop("a\tb\r", &c), 3);
    assert_int_equal(c, 3);
    assert_int_equal(line_stop("ab\x01" "c\r", &c), 4);
    assert_int_equal(c, 2);
    assert_int_equal(line_stop("abc\x7f", &c), 4);
    assert_int_equal(c, 3);
    /* Only control bytes before the stop count. */
    assert_int_equal(line_stop("0123456789abcdefghij\r\x01", &c), 20);
    assert_int_equal(c, 20);
    assert_int_equal(line_stop("0123456789abcdefghij\x1b[0m\n", &c), 24);
    assert_int_equal(c, 20);
    /* Bytes above 0x7F are not control bytes. */
    assert_int_equal(line_stop("\x80\xff\xfe\x81\x9f\xa0 0123456789", &c), 17);
    assert_int_equal(c, 17);
}

static void expect_same_line_stop(const uint8_t *p, size_t n)
{
    uint8_t *b = exact_copy(p, n);
    size_t c1, c2;
    size_t r1 = at_bytescan_line_stop_portable(b, n, &c1);
    size_t r2 = at_bytescan_line_stop(b, n, &c2);
    assert_int_equal(r1, r2);
    assert_int_equal(c1, c2);
    free(b);
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
        size_t n = (size_t)(next_random(&rnd) % sizeof buf);
        unsigned density = (unsigned)(next_random(&rnd) % 64) + 1;
        for (size_t i = 0; i < n; i++) {
            uint64_t r = next_random(&rnd);
            buf[i] = r % density == 0 ? pool[(r >> 8) % sizeof pool]
                                      : (uint8_t)(0x20 + (r >> 16) % 0x5f);
            if (round % 4 == 0)
                buf[i] = (uint8_t)(r >> 24); /* any byte */
        }
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
    /* A SEQUENCE with a long length survives, wherever it is. */
    uint8_t seq81[40];
    memset(seq81, 'a', sizeof seq81);
    seq81[21] = 0x30;
    seq81[22] = 0x81;
    assert_int_equal(key_start(seq81, 0, 40, 40), 21);
    assert_int_equal(key_start(seq81, 21, 40, 40), 21);
    assert_int_equal(key_start(seq81, 22, 40, 40), 40);
    /* lim before the trigger: lim. */
    assert_int_equal(key_start(seq81, 0, 21, 40), 21);
    assert_int_equal(key_start(seq81, 0, 20, 40), 20);
    /* A short-form SEQUENCE needs a length of 40 or more and a version
     * INTEGER or a SEQUENCE after it. */
    uint8_t seq[40];
    memset(seq, 'a', sizeof seq);
    seq[3] = 0x30;
    seq[4] = 0x28;
    seq[5] = 0x02;
    seq[6] = 0x01; /* the version's length: that INTEGER is no key */
    assert_int_equal(key_start(seq, 0, 40, 40), 3);
    seq[4] = 0x27;
    assert_int_equal(key_start(seq, 0, 40, 40), 40);
    seq[4] = 0x7f;
    seq[5] = 0x30;
    assert_int_equal(key_start(seq, 0, 40, 40), 3);
    seq[5] = 0x31;
    assert_int_equal(key_start(seq, 0, 40, 40), 40);
    /* An INTEGER of 48 content bytes or more. */
    uint8_t in[40];
    memset(in, 'a', sizeof in);
    in[30] = 0x02;
    in[31] = 0x30;
    assert_int_equal(key_start(in, 0, 40, 40), 30);
    in[31] = 0x2f;
    assert_int_equal(key_start(in, 0, 40, 40), 40);
    in[31] = 0x82;
    assert_int_equal(key_start(in, 0, 40, 40), 30);
    /* PEM: two dashes. */
    uint8_t pem[40];
    memset(pem, 'a', sizeof pem);
    pem[17] = '-';
    assert_int_equal(key_start(pem, 0, 40, 40), 40);
    pem[18] = '-';
    assert_int_equal(key_start(pem, 0, 40, 40), 17);
    /* At the end what cannot be told yet survives. */
    uint8_t end[20];
    memset(end, 'a', sizeof end);
    end[19] = '-';
    assert_int_equal(key_start(end, 0, 20, 20), 19);
    end[19] = 'a';
    end[18] = 0x30;
    end[19] = 0x40;
    assert_int_equal(key_start(end, 0, 20, 20), 18);
    end[19] = 0x20;
    assert_int_equal(key_start(end, 0, 20, 20), 20);
    /* ... but a look past lim (up to n) decides. */
    assert_int_equal(key_start(end, 0, 19, 20), 19);
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
        size_t n = (size_t)(next_random(&rnd) % sizeof buf);
        unsigned density = (unsigned)(next_random(&rnd) % 32) + 1;
        for (size_t i = 0; i < n; i++) {
            uint64_t r = next_random(&rnd);
            buf[i] = r % density == 0 ? pool[(r >> 8) % sizeof pool] : (uint8_t)(r >> 16);
        }
        expect_same_key_start(buf, n);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
