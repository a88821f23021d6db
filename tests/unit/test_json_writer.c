/*
 * Unit tests of the JSON writer (decoder/cli/json_writer.c): exact text for
 * chosen values, and the same text as jansson's json_dumps() for every
 * line of the golden JSON outputs and for random trees.
 */
/* getline() */
#define _POSIX_C_SOURCE 200809L

#include "json_diff.h"
#include "json_writer.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void assert_writes(json_t *v, const char *want)
{
    cli_json_writer w = {0};
    char msg[512];
    assert_true(jd_serialize(&w, v));
    assert_int_equal(w.len, strlen(want));
    assert_memory_equal(w.buf, want, w.len);
    const char *diff = jd_compare(&w, v, msg, sizeof msg);
    if (diff)
        fail_msg("%s", diff);
    cli_json_writer_free(&w);
    json_decref(v);
}

static void test_scalars(void **state)
{
    (void)state;
    assert_writes(json_null(), "null");
    assert_writes(json_true(), "true");
    assert_writes(json_false(), "false");
    assert_writes(json_integer(0), "0");
    assert_writes(json_integer(-42), "-42");
    assert_writes(json_integer(INT64_MAX), "9223372036854775807");
    assert_writes(json_integer(INT64_MIN), "-9223372036854775808");
    assert_writes(json_real(1.0), "1.0");
    assert_writes(json_real(-0.0), "-0.0");
    assert_writes(json_real(0.1), "0.10000000000000001");
    assert_writes(json_real(1e20), "1e20");
    assert_writes(json_real(1e-5), "1.0000000000000001e-5");
    assert_writes(json_real(1e300), "1.0000000000000001e300");
    assert_writes(json_real(123456789.0), "123456789.0");
}

static void test_strings(void **state)
{
    (void)state;
    assert_writes(json_string(""), "\"\"");
    assert_writes(json_string("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
    assert_writes(json_string("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
    assert_writes(json_stringn("\0\x01\x1f\x7f", 4), "\"\\u0000\\u0001\\u001F\x7f\"");
    assert_writes(json_string("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xC2\xA0\xE2\x80\xA9"),
                  "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xC2\xA0\xE2\x80\xA9\"");
    /* What a terminal would obey: C1 controls, bidi overrides, isolates. */
    assert_writes(json_string("a\xC2\x9B" "31mb\xC2\x80\xC2\x9F\xE2\x80\xAA\xE2\x80\xAE\xE2\x81\xA6\xE2\x81\xA9"),
                  "\"a\\u009B31mb\\u0080\\u009F\\u202A\\u202E\\u2066\\u2069\"");
}

/* Each byte that needs escaping at every position of an 8-byte word, in
 * runs of plain ASCII and of multi-byte UTF-8, in strings of every length
 * up to the fill's (the writer scans 8 bytes at a time and ends a string on
 * its last eight bytes when they are plain). */
static void test_escape_positions(void **state)
{
    (void)state;
    static const char special[] = {'"', '\\', '\n', '\x01', '\x1f', '\0'};
    static const char *const fills[] = {"abcdefghijklmnopqrstuvwxyz0123456789",
                                        "\xC3\xA9\xE2\x82\xAC\xC2\x80\xF0\x9F\x98\x80\xE2\x80\xAE"
                                        "\xC3\xA9\xE2\x82\xAC\xC2\x80\xF0\x9F\x98\x80"};
    cli_json_writer w = {0};
    char msg[512];
    char buf[64];
    for (size_t f = 0; f < 2; f++) {
        size_t fill_len = strlen(fills[f]);
        for (size_t n = 1; n <= fill_len; n++) {
            for (size_t sp = 0; sp < sizeof special; sp++) {
                for (size_t pos = 0; pos < n; pos++) {
                    memcpy(buf, fills[f], n);
                    buf[pos] = special[sp];
                    json_t *v = json_stringn(buf, n);
                    if (!v) /* cut a UTF-8 sequence: jansson refuses that */
                        continue;
                    const char *diff = jd_compare(&w, v, msg, sizeof msg);
                    if (diff)
                        fail_msg("fill %zu, length %zu, byte %02x at %zu: %s", f, n,
                                 (unsigned char)special[sp], pos, diff);
                    json_decref(v);
                }
            }
        }
    }
    cli_json_writer_free(&w);
}

static void test_containers(void **state)
{
    (void)state;
    json_t *o = json_object();
    json_object_set_new(o, "z", json_integer(1));
    json_object_set_new(o, "a", json_array());
    json_object_set_new(o, "m", json_object());
    json_t *a = json_array();
    json_array_append_new(a, json_null());
    json_array_append_new(a, json_string("x"));
    json_object_set_new(o, "list", a);
    json_object_setn_new(o, "k\0ey", 4, json_true());
    assert_writes(o, "{\"z\":1,\"a\":[],\"m\":{},\"list\":[null,\"x\"],\"k\\u0000ey\":true}");
}

/* Deep nesting (jansson has no limit when it dumps; neither has the writer). */
static void test_depth(void **state)
{
    (void)state;
    cli_json_writer w = {0};
    char msg[512];
    json_t *v = json_integer(7);
    for (unsigned i = 0; i < 4000; i++) {
        json_t *a = json_array();
        json_array_append_new(a, v);
        v = a;
    }
    const char *diff = jd_compare(&w, v, msg, sizeof msg);
    if (diff)
        fail_msg("%s", diff);
    assert_int_equal(w.len, 4000 * 2 + 1);
    json_decref(v);
    cli_json_writer_free(&w);
}

/* Every line of the golden outputs (what attrace decode --json printed,
 * through jansson): read back, the writer gives that line again. */
static void test_golden_files(void **state)
{
    (void)state;
    DIR *d = opendir(ATTRACE_GOLDEN_DIR);
    assert_non_null(d);
    cli_json_writer w = {0};
    char msg[512];
    unsigned files = 0, lines = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", ATTRACE_GOLDEN_DIR, e->d_name);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, f)) > 0) {
            if (line[len - 1] == '\n')
                line[--len] = '\0';
            json_error_t jerr;
            json_t *v = json_loadb(line, (size_t)len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
            if (!v)
                fail_msg("%s: %s", path, jerr.text);
            const char *diff = jd_compare(&w, v, msg, sizeof msg);
            if (diff)
                fail_msg("%s line %u: %s", path, lines + 1, diff);
            assert_int_equal(w.len, (size_t)len);
            assert_memory_equal(w.buf, line, (size_t)len);
            json_decref(v);
            lines++;
        }
        free(line);
        fclose(f);
        files++;
    }
    closedir(d);
    cli_json_writer_free(&w);
    assert_true(files >= 10);
    print_message("%u golden lines in %u files\n", lines, files);
}

/* Random trees from a fixed seed (fuzz_json explores further). */
static void test_random_trees(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15u;
    uint8_t bytes[512];
    cli_json_writer w = {0};
    char msg[512];
    for (unsigned t = 0; t < 20000; t++) {
        for (size_t i = 0; i < sizeof bytes; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            bytes[i] = (uint8_t)x;
        }
        json_t *v = jd_tree_from_bytes(bytes, 16 + t % (sizeof bytes - 16));
        const char *diff = jd_compare(&w, v, msg, sizeof msg);
        if (diff)
            fail_msg("tree %u: %s", t, diff);
        json_decref(v);
    }
    cli_json_writer_free(&w);
}

/* What the CLI writes beyond jansson's values: trace bytes as text and
 * hex, unsigned integers, pre-written parts, lines. */
static void test_streaming(void **state)
{
    (void)state;
    cli_json_writer w = {0};
    cli_jw_object_begin(&w);
    cli_jw_key(&w, "ok");
    assert_true(cli_jw_text(&w, "caf\xC3\xA9\xC2\x9B", 7));
    cli_jw_key(&w, "bad");
    /* E9 alone, a cut E2 82, then a valid C3 A9 */
    assert_false(cli_jw_text(&w, "\xE9x\xE2\x82\xC3\xA9", 6));
    cli_jw_key(&w, "none");
    assert_true(cli_jw_text(&w, NULL, 0));
    cli_jw_key(&w, "hex");
    cli_jw_hex(&w, "\x00\xAB\xff", 3);
    cli_jw_key(&w, "max");
    cli_jw_uint(&w, UINT64_MAX);
    cli_jw_key(&w, "list");
    cli_jw_array_begin(&w);
    cli_jw_raw(&w, "{\"a\":1}", 7);
    cli_jw_raw(&w, "2", 1);
    cli_jw_array_end(&w);
    cli_jw_key(&w, "s");
    cli_jw_string(&w, NULL);
    cli_jw_object_end(&w);
    static const char want[] =
        "{\"ok\":\"caf\xC3\xA9\\u009B\",\"bad\":\"\xEF\xBF\xBDx\xEF\xBF\xBD\xEF\xBF\xBD\xC3\xA9\","
        "\"none\":null,\"hex\":\"00abff\",\"max\":18446744073709551615,"
        "\"list\":[{\"a\":1},2],\"s\":null}";
    assert_int_equal(w.len, sizeof want - 1);
    assert_memory_equal(w.buf, want, w.len);

    /* One line, then the writer is empty again for the next. */
    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    assert_non_null(f);
    assert_true(cli_jw_write_line(&w, f));
    assert_int_equal(w.len, 0);
    cli_jw_uint(&w, 7);
    assert_true(cli_jw_write_line(&w, f));
    fclose(f);
    assert_int_equal(out_len, sizeof want + 2);
    assert_memory_equal(out, want, sizeof want - 1);
    assert_memory_equal(out + sizeof want - 1, "\n7\n", 3);
    free(out);
    cli_json_writer_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_escape_positions),
        cmocka_unit_test(test_containers),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_golden_files),
        cmocka_unit_test(test_random_trees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
