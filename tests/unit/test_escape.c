/*
 * Unit tests of the escaping of untrusted text (decoder/util/escape.c):
 * exact texts for each kind of byte, and at_escape_mem against a
 * byte-at-a-time statement of the rule for every byte value at every
 * position of texts up to 40 bytes (its eight-bytes-at-a-time paths and
 * the tail that ends on the text's last eight bytes).
 */
#include "escape.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The rule of escape.h, one byte at a time. */
static size_t reference(char *dst, const uint8_t *p, size_t n, unsigned flags)
{
    char *o = dst;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = p[i];
        if (b >= 0x20 && b < 0x7f && (b != '\\' || (flags & AT_ESC_KEEP_BACKSLASH))) {
            *o++ = (char)b;
            continue;
        }
        switch (b) {
        case '\r': o += sprintf(o, "\\r"); break;
        case '\n': o += sprintf(o, "\\n"); break;
        case '\t': o += sprintf(o, "\\t"); break;
        case '\\': o += sprintf(o, "\\\\"); break;
        default: o += sprintf(o, "\\x%02X", b); break;
        }
    }
    return (size_t)(o - dst);
}

static void expect(const char *in, size_t n, unsigned flags, const char *want)
{
    char out[256];
    size_t len = at_escape_mem(out, in, n, flags);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
}

static void test_exact_texts(void **state)
{
    (void)state;
    expect("", 0, 0, "");
    expect("AT+CGSN", 7, 0, "AT+CGSN");
    expect("AT+CGSN\r", 8, 0, "AT+CGSN\\r");
    expect("\r\nOK\r\n", 6, 0, "\\r\\nOK\\r\\n");
    expect("AT\\Q3 and more text", 19, 0, "AT\\\\Q3 and more text");
    expect("AT\\Q3 and more text", 19, AT_ESC_KEEP_BACKSLASH, "AT\\Q3 and more text");
    expect("\x1b[31mred\x7f\x80\xff\t", 12, 0, "\\x1B[31mred\\x7F\\x80\\xFF\\t");
    expect("0123456789abcdef0123456789abcdef", 32, 0, "0123456789abcdef0123456789abcdef");
    expect("0123456789abcdef\n0123456789", 27, 0, "0123456789abcdef\\n0123456789");
    expect("a\0b", 3, 0, "a\\x00b");
}

/* Every byte value at every position of texts of 1..40 bytes, over a
 * printable background and over one with escapes of its own. */
static void test_every_byte_everywhere(void **state)
{
    (void)state;
    uint8_t in[40];
    char want[4 * sizeof in], got[4 * sizeof in];
    for (unsigned flags = 0; flags <= AT_ESC_KEEP_BACKSLASH; flags++) {
        for (size_t n = 1; n <= sizeof in; n++) {
            for (size_t pos = 0; pos < n; pos++) {
                for (int bg = 0; bg < 2; bg++) {
                    for (unsigned v = 0; v < 256; v++) {
                        for (size_t i = 0; i < n; i++)
                            in[i] = bg && i % 7 == 3 ? '\n' : (uint8_t)('a' + i % 26);
                        in[pos] = (uint8_t)v;
                        size_t wl = reference(want, in, n, flags);
                        size_t gl = at_escape_mem(got, in, n, flags);
                        assert_int_equal(gl, wl);
                        assert_memory_equal(got, want, wl);
                    }
                }
            }
        }
    }
}

/* at_escape_write writes what at_escape_mem makes, also across its
 * internal pieces. */
static void test_write_matches_mem(void **state)
{
    (void)state;
    size_t n = 10000;
    uint8_t *in = malloc(n);
    char *want = malloc(4 * n);
    assert_non_null(in);
    assert_non_null(want);
    for (size_t i = 0; i < n; i++)
        in[i] = (uint8_t)(i * 37 + i / 251);
    size_t wl = at_escape_mem(want, in, n, 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    at_escape_write(f, in, n, 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(len, wl);
    assert_memory_equal(buf, want, wl);
    free(buf);
    free(want);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_texts),
        cmocka_unit_test(test_every_byte_everywhere),
        cmocka_unit_test(test_write_matches_mem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
