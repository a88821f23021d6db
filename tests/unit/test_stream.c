/* Tests of the per-direction tokenizer: exact tokens, and the same tokens
 * for every way of splitting the same bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrace/stream.h"
#include "testutil.h"

/* ------------------------------------------------------------------ */
/* Recording tokens as text, so whole runs compare with one strcmp    */
/* ------------------------------------------------------------------ */

typedef tu_text rec;

#define rec_printf tu_text_printf

static void record_token(void *ctx, const at_token *t)
{
    rec *r = ctx;
    r->count++;
    rec_printf(r, "%s off=%llu len=%zu flags=%x reason=%s", at_tok_kind_name(t->kind),
               (unsigned long long)t->off, t->len, t->flags, at_tok_reason_name(t->reason));
    if (t->kind == AT_TOK_FRAME)
        rec_printf(r, " frame_len=%u", t->frame_len);
    if (t->kind == AT_TOK_PAYLOAD || t->kind == AT_TOK_TRANSPARENT)
        rec_printf(r, " block_off=%llu run_len=%llu", (unsigned long long)t->block_off,
                   (unsigned long long)t->run_len);
    rec_printf(r, " |");
    for (size_t i = 0; t->data && i < t->len; i++) {
        uint8_t c = t->data[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            rec_printf(r, "%c", c);
        else
            rec_printf(r, "\\x%02x", c);
    }
    rec_printf(r, "|\n");
}

#define rec_free tu_text_free

typedef void (*prep_fn)(at_stream *s, rec *r);

/* Feeds @p data in pieces cut at the offsets in @p cuts (ascending). */
static void run_split(at_dir dir, prep_fn prep, const uint8_t *data, size_t len,
                      const size_t *cuts, size_t ncuts, rec *out)
{
    at_stream *s = malloc(sizeof *s);
    assert_non_null(s);
    at_stream_init(s, dir, NULL);
    if (prep)
        prep(s, out);
    size_t pos = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        at_stream_feed(s, 1000 + i, data + pos, end - pos, record_token, out);
        pos = end;
    }
    at_stream_finish(s, 1000 + ncuts, record_token, out);
    free(s);
}

/* Whole, every single split point, every byte alone, and seeded random
 * splits must all give the same tokens. */
static void assert_chunk_invariant(at_dir dir, prep_fn prep, const uint8_t *data,
                                   size_t len, const char *expected)
{
    rec whole = {0};
    run_split(dir, prep, data, len, NULL, 0, &whole);
    if (expected) {
        if (strcmp(whole.buf ? whole.buf : "", expected) != 0)
            fprintf(stderr, "got:\n%s\nexpected:\n%s\n", whole.buf, expected);
        assert_string_equal(whole.buf ? whole.buf : "", expected);
    }
    for (size_t cut = 1; cut < len; cut++) {
        rec r = {0};
        run_split(dir, prep, data, len, &cut, 1, &r);
        if (strcmp(r.buf ? r.buf : "", whole.buf ? whole.buf : "") != 0)
            fprintf(stderr, "split at %zu differs:\n%s\n", cut, r.buf);
        assert_string_equal(r.buf ? r.buf : "", whole.buf ? whole.buf : "");
        rec_free(&r);
    }
    size_t *cuts = malloc(len * sizeof *cuts);
    assert_non_null(cuts);
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    rec bytes = {0};
    run_split(dir, prep, data, len, cuts, len ? len - 1 : 0, &bytes);
    assert_string_equal(bytes.buf ? bytes.buf : "", whole.buf ? whole.buf : "");
    rec_free(&bytes);

    unsigned seed = 12345;
    for (int round = 0; round < 50; round++) {
        size_t n = 0, pos = 0;
        while (pos < len) {
            seed = seed * 1103515245u + 12345u;
            pos += 1 + (seed >> 16) % 97;
            if (pos < len)
                cuts[n++] = pos;
        }
        rec r = {0};
        run_split(dir, prep, data, len, cuts, n, &r);
        assert_string_equal(r.buf ? r.buf : "", whole.buf ? whole.buf : "");
        rec_free(&r);
    }
    free(cuts);
    rec_free(&whole);
}

/* ------------------------------------------------------------------ */
/* Fixtures                                                           */
/* ------------------------------------------------------------------ */

/* DELETE index 2, IMEI 358240051111110, signature "QUJD": 41 bytes. */
static const char delete_frame_hex[] =
    "29 00 03 00 03 00"
    "06 00 01 00 02 00"
    "14 00 04 00 33 35 38 32 34 30 30 35 31 31 31 31 31 31 30 00"
    "09 00 03 00 51 55 4a 44 00";

/* READ response: index 1, cert with CR LF inside, raw 20-byte digest. */
static const char read_response_hex[] =
    "2d 00 02 00 03 00"
    "06 00 01 00 01 00"
    "09 00 02 00 30 0d 0a 0d 0a"
    "18 00 03 00 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13";

static size_t append(uint8_t *buf, size_t pos, const void *p, size_t n)
{
    memcpy(buf + pos, p, n);
    return pos + n;
}

static size_t append_str(uint8_t *buf, size_t pos, const char *s)
{
    return append(buf, pos, s, strlen(s));
}

static size_t append_hex(uint8_t *buf, size_t pos, const char *hex)
{
    return pos + tu_hex(hex, buf + pos, 65536);
}

/* ------------------------------------------------------------------ */
/* Host side                                                          */
/* ------------------------------------------------------------------ */

static void test_te_session_tokens(void **state)
{
    (void)state;
    uint8_t buf[1024];
    size_t n = 0;
    n = append_str(buf, n, "AT\r");
    n = append_str(buf, n, "AT+CGSN;+CREG?\r\n");
    n = append_str(buf, n, "AT^SBNW=is_cert,1\r\n");
    n = append_hex(buf, n, delete_frame_hex);
    n = append_str(buf, n, "\r\n"); /* appended by a careless host */
    n = append_str(buf, n, "AT^SISW=1,10\r");
    n = append(buf, n, "\x00\r\nAT\x11\x13\xff\r\n", 10);
    n = append_str(buf, n, "at^sist=1\r");
    n = append_str(buf, n, "GET / HTTP/1.1\r\n\r\n+++");
    n = append_str(buf, n, "A/\r");

    const char *expected =
        "line off=0 len=2 flags=8 reason=none |AT|\n"
        "line off=3 len=14 flags=8 reason=none |AT+CGSN;+CREG?|\n"
        "line off=19 len=17 flags=8 reason=none |AT^SBNW=is_cert,1|\n"
        "frame off=38 len=43 flags=0 reason=none frame_len=41 |)\\x00\\x03\\x00\\x03\\x00"
        "\\x06\\x00\\x01\\x00\\x02\\x00\\x14\\x00\\x04\\x00358240051111110\\x00\\x09\\x00"
        "\\x03\\x00QUJD\\x00\\x0d\\x0a|\n"
        "line off=81 len=12 flags=8 reason=none |AT^SISW=1,10|\n"
        "payload off=94 len=10 flags=40 reason=none block_off=0 run_len=10 "
        "|\\x00\\x0d\\x0aAT\\x11\\x13\\xff\\x0d\\x0a|\n"
        "line off=104 len=9 flags=8 reason=none |at^sist=1|\n"
        "transparent off=114 len=18 flags=40 reason=none block_off=0 run_len=0 "
        "|GET / HTTP/1.1\\x0d\\x0a\\x0d\\x0a|\n"
        "line off=132 len=3 flags=20 reason=none |+++|\n"
        "line off=135 len=2 flags=20 reason=none |A/|\n";
    assert_chunk_invariant(AT_DIR_TE_TO_ME, NULL, buf, n, expected);
}

/* A frame whose TotalLen low byte is 0x0A right after a bare CR: the 0x0A
 * is the frame's, not a line feed. */
static void test_te_frame_starting_with_lf_byte(void **state)
{
    (void)state;
    uint8_t buf[600];
    size_t n = append_str(buf, 0, "AT^SBNW=is_cert,1\r");
    size_t frame_at = n;
    /* TotalLen 266 = 0x010A, WRITE index 3 with a 250-byte cert, unsigned. */
    uint8_t frame[266];
    memset(frame, 0x55, sizeof frame);
    memcpy(frame, "\x0a\x01\x01\x00\x02\x00" "\x06\x00\x01\x00\x03\x00" "\xfe\x00\x02\x00", 16);
    n = append(buf, n, frame, sizeof frame);
    n = append_str(buf, n, "AT\r");
    rec r = {0};
    run_split(AT_DIR_TE_TO_ME, NULL, buf, n, NULL, 0, &r);
    char want[128];
    snprintf(want, sizeof want, "frame off=%zu len=266 flags=0 reason=none frame_len=266", frame_at);
    assert_non_null(strstr(r.buf, want));
    assert_non_null(strstr(r.buf, "line off=284 len=2 flags=8 reason=none |AT|"));
    rec_free(&r);
    assert_chunk_invariant(AT_DIR_TE_TO_ME, NULL, buf, n, NULL);

    /* Same frame after CR LF: the LF is the terminator's. */
    n = append_str(buf, 0, "AT^SBNW=is_cert,1\r\n");
    n = append(buf, n, frame, sizeof frame);
    r = (rec){0};
    run_split(AT_DIR_TE_TO_ME, NULL, buf, n, NULL, 0, &r);
    assert_non_null(strstr(r.buf, "frame off=19 len=266 flags=0 reason=none frame_len=266"));
    rec_free(&r);
}

/* The module refused AT^SBNW and the host typed its next command: text,
 * not a frame. ASCII hex instead of binary is text too. */
static void test_te_no_frame_after_sbnw(void **state)
{
    (void)state;
    const char *in = "AT^SBNW=is_cert,1\r\nAT+CGSN\r";
    assert_chunk_invariant(AT_DIR_TE_TO_ME, NULL, (const uint8_t *)in, strlen(in),
                           "line off=0 len=17 flags=8 reason=none |AT^SBNW=is_cert,1|\n"
                           "line off=19 len=7 flags=8 reason=none |AT+CGSN|\n");
    const char *hex = "AT^SBNW=is_cert,1\r0C0003000100060001000200\r";
    assert_chunk_invariant(AT_DIR_TE_TO_ME, NULL, (const uint8_t *)hex, strlen(hex),
                           "line off=0 len=17 flags=8 reason=none |AT^SBNW=is_cert,1|\n"
                           "line off=18 len=24 flags=8 reason=none |0C0003000100060001000200|\n");
}

static void test_te_frame_cut_by_peer_answer(void **state)
{
    (void)state;
    /* The frame stops short of its TotalLen (41): the module runs into its
     * service timeout, and its answer ends the frame for the decoder. */
    at_stream s;
    rec r = {0};
    at_stream_init(&s, AT_DIR_TE_TO_ME, NULL);
    const char *cmd = "AT^SBNW=is_cert,1\r\n";
    at_stream_feed(&s, 1, (const uint8_t *)cmd, strlen(cmd), record_token, &r);
    uint8_t frame[64];
    assert_int_equal(tu_hex(delete_frame_hex, frame, sizeof frame), 41);
    at_stream_feed(&s, 2, frame, 12, record_token, &r);
    assert_int_equal(r.count, 1);
    at_stream_hint(&s, AT_HINT_PEER_ANSWERED, record_token, &r);
    const char *next = "AT\r";
    at_stream_feed(&s, 3, (const uint8_t *)next, 3, record_token, &r);
    at_stream_finish(&s, 0, record_token, &r);
    assert_string_equal(r.buf,
                        "line off=0 len=17 flags=8 reason=none |AT^SBNW=is_cert,1|\n"
                        "frame off=19 len=12 flags=81 reason=none frame_len=12 "
                        "|)\\x00\\x03\\x00\\x03\\x00\\x06\\x00\\x01\\x00\\x02\\x00|\n"
                        "line off=31 len=2 flags=8 reason=none |AT|\n");
    rec_free(&r);

    /* Big-endian lengths: complete at the big-endian TotalLen (12). */
    at_stream_init(&s, AT_DIR_TE_TO_ME, NULL);
    at_stream_feed(&s, 1, (const uint8_t *)cmd, strlen(cmd), record_token, &r);
    uint8_t be[12];
    tu_hex("00 0C 00 03 00 01 00 06 00 01 00 02", be, sizeof be);
    at_stream_feed(&s, 2, be, sizeof be, record_token, &r);
    at_stream_feed(&s, 3, (const uint8_t *)next, 3, record_token, &r);
    at_stream_finish(&s, 0, record_token, &r);
    assert_string_equal(r.buf,
                        "line off=0 len=17 flags=8 reason=none |AT^SBNW=is_cert,1|\n"
                        "frame off=19 len=12 flags=0 reason=none frame_len=12 "
                        "|\\x00\\x0c\\x00\\x03\\x00\\x01\\x00\\x06\\x00\\x01\\x00\\x02|\n"
                        "line off=31 len=2 flags=8 reason=none |AT|\n");
    rec_free(&r);
}

/* A TotalLen larger than any frame (a damaged length field): with a known
 * CmdId and ParamNum behind it the bytes are still the frame, cut by the
 * module's LENGTH ERROR, and the next command is a command again. With no
 * answer, the buffer's size ends it. */
static void test_te_frame_with_totallen_too_large(void **state)
{
    (void)state;
    at_stream s;
    rec r = {0};
    at_stream_init(&s, AT_DIR_TE_TO_ME, NULL);
    const char *cmd = "AT^SBNW=is_cert,1\r";
    at_stream_feed(&s, 1, (const uint8_t *)cmd, strlen(cmd), record_token, &r);
    uint8_t frame[64];
    assert_int_equal(tu_hex(delete_frame_hex, frame, sizeof frame), 41);
    frame[1] = 0x40; /* TotalLen 0x4029 = 16425 */
    at_stream_feed(&s, 2, frame, 41, record_token, &r);
    assert_int_equal(r.count, 1);
    at_stream_hint(&s, AT_HINT_PEER_ANSWERED, record_token, &r);
    const char *next = "AT\r";
    at_stream_feed(&s, 3, (const uint8_t *)next, 3, record_token, &r);
    at_stream_finish(&s, 0, record_token, &r);
    const char *lines = r.buf;
    assert_non_null(strstr(lines, "line off=0 len=17 flags=8 reason=none |AT^SBNW=is_cert,1|\n"
                                  "frame off=18 len=41 flags=81 reason=none frame_len=41 "
                                  "|)@\\x03\\x00\\x03\\x00"));
    assert_non_null(strstr(lines, "|\nline off=59 len=2 flags=8 reason=none |AT|\n"));
    assert_int_equal(r.count, 3);
    rec_free(&r);

    /* One byte, then the module's answer (its service timeout): a frame of
     * one byte, not text that would run into the next command line. */
    at_stream_init(&s, AT_DIR_TE_TO_ME, NULL);
    at_stream_feed(&s, 1, (const uint8_t *)cmd, strlen(cmd), record_token, &r);
    at_stream_feed(&s, 2, frame, 1, record_token, &r);
    at_stream_hint(&s, AT_HINT_PEER_ANSWERED, record_token, &r);
    at_stream_feed(&s, 3, (const uint8_t *)next, 3, record_token, &r);
    at_stream_finish(&s, 0, record_token, &r);
    assert_non_null(strstr(r.buf, "|\nframe off=18 len=1 flags=81 reason=none frame_len=1 |)|\n"
                                  "line off=19 len=2 flags=8 reason=none |AT|\n"));
    rec_free(&r);

    /* An unknown CmdId behind it: text, as before. */
    at_stream_init(&s, AT_DIR_TE_TO_ME, NULL);
    at_stream_feed(&s, 1, (const uint8_t *)cmd, strlen(cmd), record_token, &r);
    frame[2] = 0x09;
    at_stream_feed(&s, 2, frame, 41, record_token, &r);
    at_stream_hint(&s, AT_HINT_PEER_ANSWERED, record_token, &r);
    at_stream_finish(&s, 0, record_token, &r);
    assert_null(strstr(r.buf, "frame off="));
    rec_free(&r);

    /* 20,000 bytes and no answer: a frame of the buffer's size, then the
     * rest is not taken for a frame. */
    uint8_t *big = calloc(1, 20000);
    assert_non_null(big);
    memcpy(big, frame, 41);
    big[2] = 0x03;
    big[0] = 0x20;
    big[1] = 0x4e; /* TotalLen 20000 */
    at_stream_init(&s, AT_DIR_TE_TO_ME, NULL);
    at_stream_feed(&s, 1, (const uint8_t *)cmd, strlen(cmd), record_token, &r);
    at_stream_feed(&s, 2, big, 20000, record_token, &r);
    at_stream_finish(&s, 0, record_token, &r);
    char want[96];
    snprintf(want, sizeof want, "frame off=18 len=%u flags=0 reason=frame_too_long frame_len=20000",
             AT_STREAM_BIN_MAX);
    assert_non_null(strstr(r.buf, want));
    free(big);
    rec_free(&r);
}

static void test_te_payload_cancelled_by_error(void **state)
{
    (void)state;
    at_stream s;
    rec r = {0};
    at_stream_init(&s, AT_DIR_TE_TO_ME, NULL);
    const char *cmd = "AT^SISW=1,100\r";
    at_stream_feed(&s, 1, (const uint8_t *)cmd, strlen(cmd), record_token, &r);
    at_stream_hint(&s, AT_HINT_PEER_ANSWERED, record_token, &r); /* ERROR */
    const char *next = "AT+CEER\r";
    at_stream_feed(&s, 2, (const uint8_t *)next, strlen(next), record_token, &r);
    assert_string_equal(r.buf, "line off=0 len=13 flags=8 reason=none |AT^SISW=1,100|\n"
                               "line off=14 len=7 flags=8 reason=none |AT+CEER|\n");
    rec_free(&r);
}

static void test_long_line_is_cut_and_counted(void **state)
{
    (void)state;
    size_t n = AT_STREAM_LINE_MAX + 100;
    uint8_t *buf = malloc(n + 4);
    assert_non_null(buf);
    memset(buf, 'x', n);
    memcpy(buf + n, "\rOK\r", 4);
    rec r = {0};
    run_split(AT_DIR_ME_TO_TE, NULL, buf, n + 4, NULL, 0, &r);
    char want[256];
    snprintf(want, sizeof want, "invalid off=%u len=100 flags=0 reason=line_too_long ||\n"
                                "line off=%zu len=2 flags=8 reason=none |OK|\n",
             AT_STREAM_LINE_MAX, n + 1);
    assert_non_null(strstr(r.buf, want));
    assert_int_equal(r.count, 3);
    assert_non_null(strstr(r.buf, "line off=0 len=4096 flags=2 reason=none |xxx")); /* cut, rest counted */
    rec_free(&r);
    free(buf);
}

static void test_finish_inside_frame_and_gap(void **state)
{
    (void)state;
    at_stream s;
    rec r = {0};
    at_stream_init(&s, AT_DIR_TE_TO_ME, NULL);
    const char *cmd = "AT^SBNW=is_cert,1\r\n";
    at_stream_feed(&s, 1, (const uint8_t *)cmd, strlen(cmd), record_token, &r);
    uint8_t part[64];
    assert_int_equal(tu_hex(delete_frame_hex, part, sizeof part), 41);
    at_stream_feed(&s, 2, part, 20, record_token, &r);
    at_stream_finish(&s, 0, record_token, &r);
    assert_non_null(strstr(r.buf, "frame off=19 len=20 flags=1 reason=cut_by_end frame_len=20"));
    rec_free(&r);

    at_stream_init(&s, AT_DIR_ME_TO_TE, NULL);
    at_stream_feed(&s, 1, (const uint8_t *)"+CREG: 0,", 9, record_token, &r);
    at_stream_gap(&s, 1, record_token, &r);
    at_stream_feed(&s, 2, (const uint8_t *)"\r\nOK\r\n", 6, record_token, &r);
    assert_string_equal(r.buf, "line off=0 len=9 flags=21 reason=cut_by_gap |+CREG: 0,|\n"
                               "line off=11 len=2 flags=8 reason=none |OK|\n");
    rec_free(&r);
}

/* A token cut by a gap ends when the gap was noticed; one cut by the end
 * of the stream ends at the later of the end and its last feed. */
static void keep_last_token(void *ctx, const at_token *t)
{
    at_token *last = ctx;
    *last = *t;
    last->data = NULL;
}

typedef void (*cut_fn)(at_stream *s, uint64_t ts_ns, at_token_cb cb, void *ctx);

/* Feeds @p text at @p feed_ts, then @p cut at @p cut_ts: the token it cut. */
static at_token feed_and_cut(at_stream *s, uint64_t feed_ts, const char *text, cut_fn cut,
                             uint64_t cut_ts)
{
    at_token last;
    at_stream_feed(s, feed_ts, (const uint8_t *)text, strlen(text), keep_last_token, &last);
    memset(&last, 0, sizeof last);
    cut(s, cut_ts, keep_last_token, &last);
    return last;
}

static void test_cut_tokens_carry_the_given_time(void **state)
{
    (void)state;
    at_stream s;
    at_stream_init(&s, AT_DIR_ME_TO_TE, NULL);
    assert_int_equal(at_stream_offset(&s), 0);
    at_token t = feed_and_cut(&s, 5, "+CREG: 0,", at_stream_gap, 9);
    assert_int_equal(t.reason, AT_TR_CUT_BY_GAP);
    assert_int_equal(t.ts_first, 5);
    assert_int_equal(t.ts_last, 9);
    assert_int_equal(at_stream_offset(&s), 9);

    t = feed_and_cut(&s, 10, "RI", at_stream_finish, 7);
    assert_int_equal(t.reason, AT_TR_CUT_BY_END);
    assert_int_equal(t.off, 9);
    assert_int_equal(t.ts_last, 10);

    t = feed_and_cut(&s, 30, "NG", at_stream_finish, 40);
    assert_int_equal(t.off, 11);
    assert_int_equal(t.ts_last, 40);
    assert_int_equal(at_stream_offset(&s), 13);
}

/* ------------------------------------------------------------------ */
/* Module side                                                        */
/* ------------------------------------------------------------------ */

static void prep_expect_sisr(at_stream *s, rec *r)
{
    at_stream_hint(s, AT_HINT_EXPECT_SISR, record_token, r);
}

static void test_me_read_response_frame(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t n = 0;
    n = append_str(buf, n, "AT^SBNW=is_cert,1\r\r\nCONNECT\r\n");
    n = append_str(buf, n, "\r\nSECURE CMD READY: SEND COMMAND ...\r\n");
    n = append_hex(buf, n, read_response_hex);
    n = append_str(buf, n, "\r\nSECURE CMD END OK\r\n\r\nOK\r\n");
    const char *expected =
        "line off=0 len=17 flags=8 reason=none |AT^SBNW=is_cert,1|\n"
        "line off=20 len=7 flags=8 reason=none |CONNECT|\n"
        "line off=31 len=34 flags=8 reason=none |SECURE CMD READY: SEND COMMAND ...|\n"
        "frame off=67 len=45 flags=0 reason=none frame_len=45 |-\\x00\\x02\\x00\\x03\\x00"
        "\\x06\\x00\\x01\\x00\\x01\\x00\\x09\\x00\\x02\\x000\\x0d\\x0a\\x0d\\x0a\\x18\\x00\\x03\\x00"
        "\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\x09\\x0a\\x0b\\x0c\\x0d\\x0e\\x0f\\x10"
        "\\x11\\x12\\x13|\n"
        "line off=114 len=17 flags=8 reason=none |SECURE CMD END OK|\n"
        "line off=135 len=2 flags=8 reason=none |OK|\n";
    assert_chunk_invariant(AT_DIR_ME_TO_TE, NULL, buf, n, expected);

    /* WRITE: text follows READY, no frame. */
    const char *w = "\r\nSECURE CMD READY: SEND COMMAND ...\r\n\r\nSECURE CMD ERROR\r\n\r\nERROR\r\n";
    assert_chunk_invariant(AT_DIR_ME_TO_TE, NULL, (const uint8_t *)w, strlen(w),
                           "line off=2 len=34 flags=8 reason=none |SECURE CMD READY: SEND COMMAND ...|\n"
                           "line off=40 len=16 flags=8 reason=none |SECURE CMD ERROR|\n"
                           "line off=60 len=5 flags=8 reason=none |ERROR|\n");
}

static void test_me_sisr_payload_blocks(void **state)
{
    (void)state;
    size_t plen = 5000;
    uint8_t *buf = malloc(plen + 64);
    assert_non_null(buf);
    size_t n = append_str(buf, 0, "\r\n^SISR: 1,5000\r\n");
    for (size_t i = 0; i < plen; i++)
        buf[n + i] = (uint8_t)(i * 7 + (i >> 8)); /* CR/LF bytes included */
    n += plen;
    n = append_str(buf, n, "\r\nOK\r\n");
    rec r = {0};
    run_split(AT_DIR_ME_TO_TE, prep_expect_sisr, buf, n, NULL, 0, &r);
    assert_non_null(strstr(r.buf, "payload off=17 len=2048 flags=0 reason=none block_off=0 run_len=5000"));
    assert_non_null(strstr(r.buf, "payload off=2065 len=2048 flags=0 reason=none block_off=2048 run_len=5000"));
    assert_non_null(strstr(r.buf, "payload off=4113 len=904 flags=40 reason=none block_off=4096 run_len=5000"));
    assert_non_null(strstr(r.buf, "line off=5019 len=2 flags=8 reason=none |OK|"));
    assert_int_equal(r.count, 5);
    rec_free(&r);
    /* Every split of a shorter run. */
    n = append_str(buf, 0, "\r\n^SISR: 1,40\r\n");
    n += 40;
    n = append_str(buf, n, "\r\n^SISR: 1,1\r\n\r\nOK\r\n");
    assert_chunk_invariant(AT_DIR_ME_TO_TE, prep_expect_sisr, buf, n, NULL);
    free(buf);
}

/* Without a pending AT^SISR, "^SISR: 1,1" is the data-available URC. */
static void test_me_sisr_urc_is_a_line(void **state)
{
    (void)state;
    const char *in = "\r\n^SISR: 1,1\r\n\r\n^SIS: 1,0,66,\"peer certificate is not confirmed\"\r\n";
    assert_chunk_invariant(AT_DIR_ME_TO_TE, NULL, (const uint8_t *)in, strlen(in),
                           "line off=2 len=10 flags=8 reason=none |^SISR: 1,1|\n"
                           "line off=16 len=48 flags=8 reason=none |^SIS: 1,0,66,\"peer certificate is not confirmed\"|\n");
}

/* A token callback that notes what the caller found in each ME line, as
 * the session does: the stream takes the note instead of parsing the line,
 * and only for the line at the noted offset. */
typedef struct noter {
    rec r;
    at_stream *s;
    long sisr_count;    /* noted for ^SISR lines when >= 0 */
    uint64_t off_shift; /* added to the noted offset: 0 notes the right line */
} noter;

static void noting_token(void *ctx, const at_token *t)
{
    noter *nt = ctx;
    record_token(&nt->r, t);
    if (t->kind != AT_TOK_LINE)
        return;
    at_stream_note_ready(nt->s, t->off + nt->off_shift, false);
    if (nt->sisr_count >= 0 && t->len > 5 && memcmp(t->data, "^SISR", 5) == 0)
        at_stream_note_sisr(nt->s, t->off + nt->off_shift, (unsigned long)nt->sisr_count);
}

static const char *run_noted(noter *nt, const char *in, size_t len)
{
    at_stream s;
    at_stream_init(&s, AT_DIR_ME_TO_TE, NULL);
    nt->s = &s;
    at_stream_hint(&s, AT_HINT_EXPECT_SISR, noting_token, nt);
    at_stream_feed(&s, 1, (const uint8_t *)in, len, noting_token, nt);
    at_stream_finish(&s, 2, noting_token, nt);
    return nt->r.buf;
}

static void test_me_line_notes(void **state)
{
    (void)state;
    const char *in = "\r\n^SISR: 1,5\r\nabcdefg\r\n";
    /* A count noted for the line is taken as it is (here 3, not 5). */
    noter nt = {.sisr_count = 3};
    assert_string_equal(run_noted(&nt, in, strlen(in)),
                        "line off=2 len=10 flags=8 reason=none |^SISR: 1,5|\n"
                        "payload off=14 len=3 flags=40 reason=none block_off=0 run_len=3 |abc|\n"
                        "line off=17 len=4 flags=8 reason=none |defg|\n");
    rec_free(&nt.r);
    /* Notes about another offset are not about this line: it is parsed. */
    noter other = {.sisr_count = 3, .off_shift = 1};
    assert_string_equal(run_noted(&other, in, strlen(in)),
                        "line off=2 len=10 flags=8 reason=none |^SISR: 1,5|\n"
                        "payload off=14 len=5 flags=40 reason=none block_off=0 run_len=5 |abcde|\n"
                        "line off=19 len=2 flags=8 reason=none |fg|\n");
    rec_free(&other.r);
    /* A line noted as no SECURE CMD READY is taken as none. */
    /* A line noted as no SECURE CMD READY is taken as none: what follows
     * is no frame, as it is when the line is parsed. */
    uint8_t buf[256];
    size_t n = append_str(buf, 0, "\r\nSECURE CMD READY: SEND COMMAND ...\r\n");
    n = append_hex(buf, n, read_response_hex);
    noter ready = {.sisr_count = -1};
    const char *as_line = run_noted(&ready, (const char *)buf, n);
    assert_non_null(strstr(as_line, "line off=38 len="));
    assert_null(strstr(as_line, "frame off="));
    rec_free(&ready.r);
    noter parsed = {.sisr_count = -1, .off_shift = 1};
    assert_non_null(strstr(run_noted(&parsed, (const char *)buf, n), "frame off=38 len=45"));
    rec_free(&parsed.r);
}

static void prep_transparent(at_stream *s, rec *r)
{
    at_stream_hint(s, AT_HINT_EXPECT_TRANSPARENT, record_token, r);
}

static void test_me_transparent(void **state)
{
    (void)state;
    const char *in = "\r\nCONNECT\r\nHTTP/1.1 200 OK\r\n\r\nOK\r\nbody\r\nNO CARRIER\r\n";
    assert_chunk_invariant(AT_DIR_ME_TO_TE, prep_transparent, (const uint8_t *)in, strlen(in),
                           "line off=2 len=7 flags=8 reason=none |CONNECT|\n"
                           "transparent off=11 len=27 flags=40 reason=none block_off=0 run_len=0 "
                           "|HTTP/1.1 200 OK\\x0d\\x0a\\x0d\\x0aOK\\x0d\\x0abody|\n"
                           "line off=40 len=10 flags=8 reason=none |NO CARRIER|\n");
    /* Before the host's +++, OK is data; after it, OK ends the mode. */
    at_stream s;
    rec r = {0};
    at_stream_init(&s, AT_DIR_ME_TO_TE, NULL);
    prep_transparent(&s, &r);
    const char *a = "\r\nCONNECT\r\nabc\r\nOK\r\n", *b = "xyz\r\nOK\r\n";
    at_stream_feed(&s, 1, (const uint8_t *)a, strlen(a), record_token, &r);
    at_stream_hint(&s, AT_HINT_PEER_ESCAPED, record_token, &r);
    at_stream_feed(&s, 2, (const uint8_t *)b, strlen(b), record_token, &r);
    at_stream_finish(&s, 0, record_token, &r);
    assert_string_equal(r.buf, "line off=2 len=7 flags=8 reason=none |CONNECT|\n"
                               "transparent off=11 len=12 flags=40 reason=none block_off=0 run_len=0 "
                               "|abc\\x0d\\x0aOK\\x0d\\x0axyz|\n"
                               "line off=25 len=2 flags=8 reason=none |OK|\n");
    rec_free(&r);
}

static void test_transparent_blocks_are_split_at_fixed_offsets(void **state)
{
    (void)state;
    size_t dlen = 3 * AT_STREAM_BLOCK + 17;
    uint8_t *buf = malloc(dlen + 32);
    assert_non_null(buf);
    size_t n = append_str(buf, 0, "AT^SIST=1\r");
    for (size_t i = 0; i < dlen; i++)
        buf[n + i] = (uint8_t)('a' + i % 26);
    n += dlen;
    n = append_str(buf, n, "+++AT\r");
    rec r = {0};
    run_split(AT_DIR_TE_TO_ME, NULL, buf, n, NULL, 0, &r);
    assert_int_equal(r.count, 7); /* line, 4 blocks, +++, AT */
    assert_non_null(strstr(r.buf, "transparent off=6154 len=17 flags=40 reason=none block_off=6144"));
    rec_free(&r);
    assert_chunk_invariant(AT_DIR_TE_TO_ME, NULL, buf, 10 + 2 * AT_STREAM_BLOCK + 40, NULL);
    free(buf);
}

/* Hostile bytes: every byte value, NULs, lone CRs, never a hang. */
static void test_garbage_does_not_break_framing(void **state)
{
    (void)state;
    uint8_t buf[2048];
    unsigned seed = 7;
    for (size_t i = 0; i < sizeof buf; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (uint8_t)(seed >> 16);
    }
    memcpy(buf + 100, "AT^SBNW=is_cert,1\r", 18);
    assert_chunk_invariant(AT_DIR_TE_TO_ME, NULL, buf, 600, NULL);
    assert_chunk_invariant(AT_DIR_ME_TO_TE, NULL, buf, 600, NULL);
}

/* V.250: A/ runs when the '/' arrives; what follows is the next line. */
static void test_repeat_without_terminator(void **state)
{
    (void)state;
    const char *in = "A/AT\ra/\rAT+CSQ\r";
    assert_chunk_invariant(AT_DIR_TE_TO_ME, NULL, (const uint8_t *)in, strlen(in),
                           "line off=0 len=2 flags=20 reason=none |A/|\n"
                           "line off=2 len=2 flags=8 reason=none |AT|\n"
                           "line off=5 len=2 flags=20 reason=none |a/|\n"
                           "line off=8 len=6 flags=8 reason=none |AT+CSQ|\n");
}

/* Remote data ending in "\r\nOK" before the host's +++ stays data even
 * when the module's real OK completes the pattern after the escape. */
static void test_ok_in_data_before_escape(void **state)
{
    (void)state;
    at_stream s;
    rec r = {0};
    at_stream_init(&s, AT_DIR_ME_TO_TE, NULL);
    prep_transparent(&s, &r);
    const char *a = "\r\nCONNECT\r\nHTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nOK";
    at_stream_feed(&s, 1, (const uint8_t *)a, strlen(a), record_token, &r);
    at_stream_hint(&s, AT_HINT_PEER_ESCAPED, record_token, &r);
    at_stream_feed(&s, 2, (const uint8_t *)"\r\nOK\r\n", 6, record_token, &r);
    at_stream_finish(&s, 0, record_token, &r);
    assert_non_null(strstr(r.buf, "transparent off=11 len=40 flags=40 reason=none"));
    assert_non_null(strstr(r.buf, "line off=53 len=2 flags=8 reason=none |OK|\n"));
    assert_int_equal(r.count, 3);
    rec_free(&r);
}

/* Lengths written big-endian: the frame ends where the big-endian
 * TotalLen says, whatever the little-endian reading would be. */
static void test_big_endian_frame_is_delimited(void **state)
{
    (void)state;
    uint8_t buf[2048];
    size_t n = append_str(buf, 0, "AT^SBNW=is_cert,1\r\n");
    /* 0x05E9 = 1513 bytes big-endian: 0xE905 little-endian is no length. */
    uint8_t frame[1513];
    memset(frame, 0x41, sizeof frame);
    memcpy(frame, "\x05\xe9\x00\x01\x00\x05", 6);
    n = append(buf, n, frame, sizeof frame);
    n = append_str(buf, n, "AT^SBNR=is_cert\r");
    rec r = {0};
    run_split(AT_DIR_TE_TO_ME, NULL, buf, n, NULL, 0, &r);
    assert_non_null(strstr(r.buf, "frame off=19 len=1513 flags=0 reason=none frame_len=1513"));
    assert_non_null(strstr(r.buf, "line off=1532 len=15 flags=8 reason=none |AT^SBNR=is_cert|"));
    rec_free(&r);
    assert_chunk_invariant(AT_DIR_TE_TO_ME, NULL, buf, 19 + 40, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_te_session_tokens),
        cmocka_unit_test(test_te_frame_starting_with_lf_byte),
        cmocka_unit_test(test_te_no_frame_after_sbnw),
        cmocka_unit_test(test_te_frame_cut_by_peer_answer),
        cmocka_unit_test(test_te_frame_with_totallen_too_large),
        cmocka_unit_test(test_te_payload_cancelled_by_error),
        cmocka_unit_test(test_long_line_is_cut_and_counted),
        cmocka_unit_test(test_finish_inside_frame_and_gap),
        cmocka_unit_test(test_me_read_response_frame),
        cmocka_unit_test(test_me_sisr_payload_blocks),
        cmocka_unit_test(test_me_sisr_urc_is_a_line),
        cmocka_unit_test(test_me_transparent),
        cmocka_unit_test(test_transparent_blocks_are_split_at_fixed_offsets),
        cmocka_unit_test(test_garbage_does_not_break_framing),
        cmocka_unit_test(test_repeat_without_terminator),
        cmocka_unit_test(test_ok_in_data_before_escape),
        cmocka_unit_test(test_big_endian_frame_is_delimited),
        cmocka_unit_test(test_cut_tokens_carry_the_given_time),
        cmocka_unit_test(test_me_line_notes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
