/* Tests of the session layer: pairing, classification, cross-direction
 * hints, and the same events however the records are split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrace/session.h"
#include "attrace/trace.h"
#include "testutil.h"

typedef tu_text rec;

#define rec_printf tu_text_printf

static void rec_str(rec *r, const at_str *s)
{
    rec_printf(r, "%.*s", (int)s->len, s->ptr ? s->ptr : "");
}

/* One line per event with the values the tests assert on. */
static void record_event(void *ctx, const at_event *ev)
{
    rec *r = ctx;
    r->count++;
    rec_printf(r, "%s %s x=%u @%llu+%u", at_event_kind_name(ev->kind),
               ev->dir == AT_DIR_TE_TO_ME ? "TE" : "ME",
               ev->exchange ? ev->exchange->id : 0, (unsigned long long)ev->span.off,
               ev->span.len);
    if (r->verbose)
        rec_printf(r, " ts=%llu..%llu", (unsigned long long)ev->ts,
                   (unsigned long long)ev->ts_end);
    switch (ev->kind) {
    case AT_EV_COMMAND: {
        const at_exchange *x = ev->exchange;
        rec_printf(r, " cmds=%u", x->cmdline.n_cmds);
        for (unsigned i = 0; i < x->cmdline.n_cmds; i++) {
            rec_printf(r, " ");
            rec_str(r, &x->cmdline.cmds[i].name);
        }
        rec_printf(r, " secure=%d", x->secure);
        break;
    }
    case AT_EV_FRAME:
        rec_printf(r, " cmd=%u total=%u units=%u problems=%u frame_len=%u",
                   ev->frame->cmd_id, ev->frame->total_len, ev->frame->n_units,
                   ev->frame->n_problems, ev->tok->frame_len);
        for (unsigned i = 0; i < ev->frame->n_problems; i++)
            rec_printf(r, " %s@%llu", at_frame_problem_name(ev->frame->problems[i].code),
                       (unsigned long long)ev->frame->problems[i].off);
        break;
    case AT_EV_PAYLOAD:
    case AT_EV_TRANSPARENT:
        rec_printf(r, " block=%llu last=%d", (unsigned long long)ev->block_off, ev->last_block);
        break;
    case AT_EV_END:
        rec_printf(r, " reason=%s", at_end_reason_name(ev->exchange->end_reason));
        if (ev->exchange->has_final)
            rec_printf(r, " final=%s", at_result_name(ev->exchange->final.kind));
        if (r->verbose)
            rec_printf(r, " duration=%llu", (unsigned long long)ev->duration_ns);
        break;
    case AT_EV_INVALID:
        rec_printf(r, " reason=%s", at_tok_reason_name(ev->invalid_reason));
        break;
    default:
        rec_printf(r, " %s |", at_line_kind_name(ev->line.kind));
        rec_str(r, &ev->line.text);
        rec_printf(r, "|");
        if (ev->line.kind == AT_LK_IMEI) {
            rec_printf(r, " imei=");
            rec_str(r, &ev->line.u.imei);
        } else if (ev->line.kind == AT_LK_SECURE) {
            rec_printf(r, " sec=%s", at_secure_result_name(ev->line.u.secure));
        }
        break;
    }
    for (unsigned i = 0; i < ev->n_secrets; i++)
        rec_printf(r, " secret=%s@%llu+%u", at_secret_kind_name(ev->secrets[i].kind),
                   (unsigned long long)ev->secrets[i].span.off, ev->secrets[i].span.len);
    rec_printf(r, "\n");
}

/* A capture as the tests write it: records of one direction each. */
typedef struct record {
    at_dir dir;
    const uint8_t *data;
    size_t len;
} record;

#define TE(s) {AT_DIR_TE_TO_ME, (const uint8_t *)(s), sizeof(s) - 1}
#define ME(s) {AT_DIR_ME_TO_TE, (const uint8_t *)(s), sizeof(s) - 1}

/* Feeds the records, each cut into pieces of @p piece bytes (0 = whole).
 * Timestamps advance 1 ms per record. */
static void run(const record *recs, size_t n, size_t piece, rec *out)
{
    at_session *s = malloc(sizeof *s);
    assert_non_null(s);
    at_session_init(s, NULL, record_event, out);
    uint64_t ts = 1000000;
    for (size_t i = 0; i < n; i++, ts += 1000000) {
        size_t step = piece ? piece : recs[i].len;
        for (size_t off = 0; off < recs[i].len; off += step) {
            size_t k = recs[i].len - off < step ? recs[i].len - off : step;
            at_session_feed(s, recs[i].dir, ts, recs[i].data + off, k);
        }
    }
    at_session_finish(s, ts);
    free(s);
}

static void expect_events(const record *recs, size_t n, const char *expected)
{
    rec whole = {0};
    run(recs, n, 0, &whole);
    if (strcmp(whole.buf, expected) != 0)
        fprintf(stderr, "got:\n%s\nexpected:\n%s\n", whole.buf, expected);
    assert_string_equal(whole.buf, expected);
    for (size_t piece = 1; piece <= 7; piece++) {
        rec r = {0};
        run(recs, n, piece, &r);
        assert_string_equal(r.buf, whole.buf);
        free(r.buf);
    }
    free(whole.buf);
}

static void test_imei_query(void **state)
{
    (void)state;
    const record recs[] = {
        TE("AT+CGSN\r"),
        ME("AT+CGSN\r\r\n358240051111110\r\n\r\nOK\r\n"),
    };
    expect_events(recs, 2,
                  "command TE x=1 @0+7 cmds=1 +CGSN secure=0\n"
                  "echo ME x=1 @0+7 text |AT+CGSN|\n"
                  "response ME x=1 @10+15 imei |358240051111110| imei=358240051111110\n"
                  "end ME x=1 @29+2 reason=result final=OK\n");
    rec r = {.verbose = true};
    run(recs, 2, 0, &r);
    assert_non_null(strstr(r.buf, "end ME x=1 @29+2 ts=2000000..2000000 reason=result final=OK duration=1000000"));
    free(r.buf);
}

/* The echo's record can carry an earlier timestamp than the command's
 * (two ports, two buffers): it is held and attached to its command. */
static void test_echo_before_its_command(void **state)
{
    (void)state;
    const record recs[] = {
        TE("AT\r"), ME("AT\r\r\nOK\r\n"),
        ME("AT+CG"), TE("AT+CGSN\r"), ME("SN\r"),
        ME("\r\n358240051111110\r\n\r\nOK\r\n"),
        ME("ATI\r"),
    };
    expect_events(recs, 7,
                  "command TE x=1 @0+2 cmds=0 secure=0\n"
                  "echo ME x=1 @0+2 text |AT|\n"
                  "end ME x=1 @5+2 reason=result final=OK\n"
                  "command TE x=2 @3+7 cmds=1 +CGSN secure=0\n"
                  "echo ME x=2 @9+7 text |AT+CGSN|\n"
                  "response ME x=2 @19+15 imei |358240051111110| imei=358240051111110\n"
                  "end ME x=2 @38+2 reason=result final=OK\n"
                  "echo ME x=0 @42+3 text |ATI|\n");
}

static void test_urcs_interleaved_and_outside(void **state)
{
    (void)state;
    const record recs[] = {
        ME("\r\n^SYSSTART\r\n"),
        TE("AT+CREG?\r"),
        ME("AT+CREG?\r\r\n+CIEV: service,1\r\n"),
        ME("\r\n+CREG: 0,1\r\n"),
        ME("\r\n+CREG: 1\r\n"),
        ME("\r\nOK\r\n"),
        ME("\r\nRING\r\n"),
    };
    expect_events(recs, 7,
                  "urc ME x=0 @2+9 text |^SYSSTART|\n"
                  "command TE x=1 @0+8 cmds=1 +CREG secure=0\n"
                  "echo ME x=1 @13+8 text |AT+CREG?|\n"
                  "urc ME x=0 @24+16 ciev |+CIEV: service,1|\n"
                  "response ME x=1 @44+10 text |+CREG: 0,1|\n"
                  "response ME x=1 @58+8 text |+CREG: 1|\n"
                  "end ME x=1 @70+2 reason=result final=OK\n"
                  "urc ME x=0 @76+4 result |RING|\n");
}

static void test_numeric_results_after_atv0(void **state)
{
    (void)state;
    const record recs[] = {
        TE("ATE0V0\r"), ME("ATE0V0\r0\r"),
        TE("AT+CMEE=2;+CPIN?\r"), ME("+CME ERROR: SIM not inserted\r"),
        TE("ATV1\r"), ME("0\r"),
        TE("AT+CGSN\r"), ME("\r\n358240051111110\r\n\r\nOK\r\n"),
    };
    expect_events(recs, 8,
                  "command TE x=1 @0+6 cmds=2 E V secure=0\n"
                  "echo ME x=1 @0+6 text |ATE0V0|\n"
                  "end ME x=1 @7+1 reason=result final=OK\n"
                  "command TE x=2 @7+16 cmds=2 +CMEE +CPIN secure=0\n"
                  "end ME x=2 @9+28 reason=result final=+CME ERROR\n"
                  "command TE x=3 @24+4 cmds=1 V secure=0\n"
                  "end ME x=3 @38+1 reason=result final=OK\n"
                  "command TE x=4 @29+7 cmds=1 +CGSN secure=0\n"
                  "response ME x=4 @42+15 imei |358240051111110| imei=358240051111110\n"
                  "end ME x=4 @61+2 reason=result final=OK\n");
}

/* The host's AT^SBNW=is_cert,1 and the module's echo, CONNECT and READY
 * (one record, or two in test_secure_exchange): a frame that follows
 * starts at TE+19. */
#define SBNW_OPEN \
    TE("AT^SBNW=is_cert,1\r\n"), \
        ME("AT^SBNW=is_cert,1\r\r\nCONNECT\r\n\r\nSECURE CMD READY: SEND COMMAND ...\r\n")
#define SBNW_OPEN_EVENTS \
    "command TE x=1 @0+17 cmds=1 ^SBNW secure=1\n" \
    "echo ME x=1 @0+17 text |AT^SBNW=is_cert,1|\n" \
    "intermediate ME x=1 @20+7 result |CONNECT|\n" \
    "intermediate ME x=1 @31+34 secure |SECURE CMD READY: SEND COMMAND ...| sec=ready\n"

/* DELETE index 2 with IMEI and signature (41 bytes). */
static const char delete_frame_hex[] =
    "29 00 03 00 03 00 06 00 01 00 02 00"
    "14 00 04 00 33 35 38 32 34 30 30 35 31 31 31 31 31 31 30 00"
    "09 00 03 00 51 55 4a 44 00";

static void test_secure_exchange(void **state)
{
    (void)state;
    uint8_t frame[64];
    size_t flen = tu_hex(delete_frame_hex, frame, sizeof frame);
    const record recs[] = {
        TE("AT^SBNW=is_cert,1\r\n"),
        ME("AT^SBNW=is_cert,1\r\r\nCONNECT\r\n"),
        ME("\r\nSECURE CMD READY: SEND COMMAND ...\r\n"),
        {AT_DIR_TE_TO_ME, frame, flen},
        ME("\r\nSECURE CMD END OK\r\n"),
        ME("\r\nOK\r\n"),
        TE("AT^SBNR=is_cert\r"),
    };
    expect_events(recs, 7,
                  SBNW_OPEN_EVENTS
                  "frame TE x=1 @19+41 cmd=3 total=41 units=3 problems=0 frame_len=41\n"
                  "secure_result ME x=1 @69+17 secure |SECURE CMD END OK| sec=end_ok\n"
                  "end ME x=1 @90+2 reason=result final=OK\n"
                  "command TE x=2 @60+15 cmds=1 ^SBNR secure=0\n"
                  "end TE x=2 @0+0 reason=stream_end\n");
}

/* A WRITE whose key unit holds 32 bytes with no key's shape (a raw
 * scalar, a format the content scanner does not know): the frame's
 * structure makes them secret all the same. Frame at TE+19; the key
 * unit's header at 31, its value at 35..66. */
static const char write_raw_key_hex[] =
    "44 00 01 00 03 00 06 00 01 00 00 00"
    "24 00 05 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff 10"
    "21 32 43 54 65 76 87 98 a9 ba cb dc ed fe 0f 1e"
    "14 00 04 00 33 35 38 32 34 30 30 35 31 31 31 31 31 31 30 00";

static void test_key_unit_is_secret_whatever_its_bytes(void **state)
{
    (void)state;
    uint8_t frame[80];
    size_t flen = tu_hex(write_raw_key_hex, frame, sizeof frame);
    assert_int_equal(flen, 68);
    const record recs[] = {
        SBNW_OPEN,
        {AT_DIR_TE_TO_ME, frame, flen},
        ME("\r\nSECURE CMD END OK\r\n\r\nOK\r\n"),
    };
    expect_events(recs, 4,
                  SBNW_OPEN_EVENTS
                  "frame TE x=1 @19+68 cmd=1 total=68 units=3 problems=1 frame_len=68"
                  " cert_missing@21 secret=key_unit@35+32\n"
                  "secure_result ME x=1 @69+17 secure |SECURE CMD END OK| sec=end_ok\n"
                  "end ME x=1 @90+2 reason=result final=OK\n");
}

/* A record shown as soon as it is fed (a dissector in a single pass) asks
 * the session which of its bytes are key bytes before the frame is
 * complete: fed a byte at a time, each byte of the key unit's value is one
 * from its arrival on, and no other byte is. */
static void test_secrets_of_a_frame_in_progress(void **state)
{
    (void)state;
    uint8_t frame[80];
    size_t flen = tu_hex(write_raw_key_hex, frame, sizeof frame);
    const record open[] = {SBNW_OPEN};
    rec r = {0};
    at_session *s = malloc(sizeof *s);
    assert_non_null(s);
    at_session_init(s, NULL, record_event, &r);
    for (size_t i = 0; i < 2; i++)
        at_session_feed(s, open[i].dir, 1000, open[i].data, open[i].len);
    at_secret out[AT_SECRET_RUNS_MAX];
    uint64_t base = open[0].len;
    for (size_t i = 0; i < flen; i++) {
        at_session_feed(s, AT_DIR_TE_TO_ME, 3000, frame + i, 1);
        uint64_t off = base + i;
        unsigned n = at_session_secrets(s, AT_DIR_TE_TO_ME, off, 1, out, AT_SECRET_RUNS_MAX);
        bool key_byte = off >= 35 && off < 67;
        assert_int_equal(n, key_byte);
        if (n) {
            assert_int_equal(out[0].span.off, off);
            assert_int_equal(out[0].span.len, 1);
            assert_int_equal(out[0].kind, AT_SECRET_KEY_UNIT);
        }
        /* The whole key as far as it has arrived. */
        n = at_session_secrets(s, AT_DIR_TE_TO_ME, 0, off + 1, out, AT_SECRET_RUNS_MAX);
        assert_int_equal(n, off >= 35);
        if (n) {
            assert_int_equal(out[0].span.off, 35);
            assert_int_equal(out[0].span.len, (off < 67 ? off + 1 : 67) - 35);
        }
    }
    /* Nothing reported yet: the frame's token ends with the next byte. */
    assert_null(strstr(r.buf, "frame TE"));
    at_session_feed(s, AT_DIR_ME_TO_TE, 4000, (const uint8_t *)"\r\nSECURE CMD END OK\r\n", 21);
    assert_non_null(strstr(r.buf, " secret=key_unit@35+32\n"));
    /* The other direction holds no key. */
    assert_int_equal(at_session_secrets(s, AT_DIR_ME_TO_TE, 0, 200, out, AT_SECRET_RUNS_MAX), 0);
    at_session_finish(s, 5000);
    free(s);
    free(r.buf);
}

/* The same WRITE cut by the module's answer 12 bytes into the key: a PKCS#8
 * header (30 82 02 77 02 01 00 30 0d 06 09 2a) that the content scanner
 * cannot prove yet. The 12 bytes are the key unit's, so they are secret. */
static void test_key_unit_cut_early_is_secret(void **state)
{
    (void)state;
    uint8_t frame[80];
    size_t flen = tu_hex("44 00 01 00 03 00 06 00 01 00 00 00"
                         "7f 02 05 00 30 82 02 77 02 01 00 30 0d 06 09 2a",
                         frame, sizeof frame);
    assert_int_equal(flen, 28);
    frame[0] = 0xa7; /* TotalLen 679: the index unit and the whole key */
    frame[1] = 0x02;
    const record recs[] = {
        SBNW_OPEN,
        {AT_DIR_TE_TO_ME, frame, flen},
        ME("\r\nSECURE CMD END OK\r\n\r\nOK\r\n"),
    };
    rec whole = {0};
    run(recs, 4, 0, &whole);
    assert_non_null(strstr(whole.buf, "frame TE x=1 @19+28 cmd=1 total=679 units=2"));
    assert_non_null(strstr(whole.buf, " secret=key_unit@35+12\n"));
    for (size_t piece = 1; piece <= 7; piece++) {
        rec r = {0};
        run(recs, 4, piece, &r);
        assert_string_equal(r.buf, whole.buf);
        free(r.buf);
    }
    free(whole.buf);
}

/* TotalLen leaves out its own two bytes: the module reads 39 bytes, the
 * last two are "too many data". The frame event carries them and comes
 * before the module's answer. */
static void test_totallen_short_frame_has_trailer(void **state)
{
    (void)state;
    uint8_t frame[64];
    size_t flen = tu_hex(delete_frame_hex, frame, sizeof frame);
    frame[0] = (uint8_t)(flen - 2);
    const record recs[] = {
        SBNW_OPEN,
        {AT_DIR_TE_TO_ME, frame, flen},
        ME("\r\nSECURE CMD TOO MANY DATA ERROR\r\n\r\nERROR\r\n"),
    };
    expect_events(recs, 4,
                  SBNW_OPEN_EVENTS
                  "frame TE x=1 @19+41 cmd=3 total=39 units=3 problems=1 frame_len=39 totallen_short@19\n"
                  "secure_result ME x=1 @69+30 secure |SECURE CMD TOO MANY DATA ERROR| sec=too_many_data\n"
                  "end ME x=1 @103+5 reason=result final=ERROR\n");
}

static void test_sisr_response_and_urc(void **state)
{
    (void)state;
    const record recs[] = {
        ME("\r\n^SISR: 1,1\r\n"),
        TE("AT^SISR=1,10\r"),
        ME("AT^SISR=1,10\r\r\n^SISR: 1,10\r\n0123\r\nOK\r\n\r\n\r\nOK\r\n"),
        TE("AT^SISW=1,4\r"),
        ME("AT^SISW=1,4\r\r\n^SISW: 1,4,0\r\n"),
        TE("\r\n\r\n"),
        ME("\r\nOK\r\n"),
    };
    expect_events(recs, 7,
                  "urc ME x=0 @2+10 sis_rw |^SISR: 1,1|\n"
                  "command TE x=1 @0+12 cmds=1 ^SISR secure=0\n"
                  "echo ME x=1 @14+12 text |AT^SISR=1,10|\n"
                  "response ME x=1 @29+11 sis_rw |^SISR: 1,10|\n"
                  "payload ME x=1 @42+10 block=0 last=1\n"
                  "end ME x=1 @56+2 reason=result final=OK\n"
                  "command TE x=2 @13+11 cmds=1 ^SISW secure=0\n"
                  "echo ME x=2 @60+11 text |AT^SISW=1,4|\n"
                  "response ME x=2 @74+12 sis_rw |^SISW: 1,4,0|\n"
                  "payload TE x=2 @25+4 block=0 last=1\n"
                  "end ME x=2 @90+2 reason=result final=OK\n");
}

static void test_transparent_mode_both_ways(void **state)
{
    (void)state;
    const record recs[] = {
        TE("AT^SIST=1\r"),
        ME("AT^SIST=1\r\r\nCONNECT\r\n"),
        TE("GET /\r\n"),
        ME("HTTP/1.0 200 OK\r\n"),
        TE("+++"),
        ME("\r\nOK\r\n"),
        TE("AT^SISC=1\r"),
        ME("AT^SISC=1\r\r\nOK\r\n"),
    };
    expect_events(recs, 8,
                  "command TE x=1 @0+9 cmds=1 ^SIST secure=0\n"
                  "echo ME x=1 @0+9 text |AT^SIST=1|\n"
                  "intermediate ME x=1 @12+7 result |CONNECT|\n"
                  "transparent TE x=1 @10+7 block=0 last=1\n"
                  "intermediate TE x=1 @17+3 text |+++|\n"
                  "transparent ME x=1 @21+17 block=0 last=1\n"
                  "end ME x=1 @40+2 reason=result final=OK\n"
                  "command TE x=2 @20+9 cmds=1 ^SISC secure=0\n"
                  "echo ME x=2 @44+9 text |AT^SISC=1|\n"
                  "end ME x=2 @56+2 reason=result final=OK\n");
}

/* The guard-time escape from a data connection the trace did not see
 * start (no AT^SIST: the host's side is in line mode): "+++" is complete
 * when the module answers it, and comes before that answer, not glued to
 * the next command. */
static void test_escape_without_transparent_mode(void **state)
{
    (void)state;
    const record recs[] = {
        TE("+++"),
        ME("\r\nOK\r\n"),
        TE("AT\r"),
        ME("AT\r\r\nOK\r\n"),
    };
    expect_events(recs, 4,
                  "unexpected TE x=0 @0+3 text |+++|\n"
                  "unexpected ME x=0 @2+2 result |OK|\n"
                  "command TE x=1 @3+2 cmds=0 secure=0\n"
                  "echo ME x=1 @6+2 text |AT|\n"
                  "end ME x=1 @11+2 reason=result final=OK\n");
}

static void test_superseded_and_unexpected(void **state)
{
    (void)state;
    const record recs[] = {
        ME("\r\nOK\r\n"),
        TE("AT\r"),
        TE("AT+CSQ\r"),
        ME("\r\n+CSQ: 20,99\r\n\r\nOK\r\n"),
        TE("hello\r"),
    };
    expect_events(recs, 5,
                  "unexpected ME x=0 @2+2 result |OK|\n"
                  "command TE x=1 @0+2 cmds=0 secure=0\n"
                  "end TE x=1 @0+0 reason=superseded\n"
                  "command TE x=2 @3+6 cmds=1 +CSQ secure=0\n"
                  "response ME x=2 @8+11 text |+CSQ: 20,99|\n"
                  "end ME x=2 @23+2 reason=result final=OK\n"
                  "unexpected TE x=0 @10+5 text |hello|\n");
}

/* The rest of a frame that ran into the service timeout, then the host's
 * next AT^SBNW on the same line: the module ignores the text before "AT"
 * and opens the exchange, and so does the session (the text before is one
 * unexpected run, the frame after the command is a frame). */
static void test_text_before_a_command_is_ignored(void **state)
{
    (void)state;
    uint8_t frame[64];
    size_t flen = tu_hex(delete_frame_hex, frame, sizeof frame);
    const record recs[] = {
        TE("#!QUJDAT^SBNW=is_cert,1\r"),
        ME("\r\nCONNECT\r\n\r\nSECURE CMD READY: SEND COMMAND ...\r\n"),
        {AT_DIR_TE_TO_ME, frame, flen},
        ME("\r\nSECURE CMD END OK\r\n\r\nOK\r\n"),
        TE("xyz\r"),
    };
    expect_events(recs, 5,
                  "unexpected TE x=0 @0+6 text |#!QUJD|\n"
                  "command TE x=1 @6+17 cmds=1 ^SBNW secure=1\n"
                  "intermediate ME x=1 @2+7 result |CONNECT|\n"
                  "intermediate ME x=1 @13+34 secure |SECURE CMD READY: SEND COMMAND ...| sec=ready\n"
                  "frame TE x=1 @24+41 cmd=3 total=41 units=3 problems=0 frame_len=41\n"
                  "secure_result ME x=1 @51+17 secure |SECURE CMD END OK| sec=end_ok\n"
                  "end ME x=1 @72+2 reason=result final=OK\n"
                  "unexpected TE x=0 @65+3 text |xyz|\n");

    /* Text that starts with an 'a' of its own: the stream and the session
     * find the same command, and the frame after it is a frame. */
    const record recs2[] = {
        TE("ab#AT^SBNW=is_cert,1\r"),
        ME("\r\nCONNECT\r\n\r\nSECURE CMD READY: SEND COMMAND ...\r\n"),
        {AT_DIR_TE_TO_ME, frame, flen},
        ME("\r\nSECURE CMD END OK\r\n\r\nOK\r\n"),
    };
    expect_events(recs2, 4,
                  "unexpected TE x=0 @0+3 text |ab#|\n"
                  "command TE x=1 @3+17 cmds=1 ^SBNW secure=1\n"
                  "intermediate ME x=1 @2+7 result |CONNECT|\n"
                  "intermediate ME x=1 @13+34 secure |SECURE CMD READY: SEND COMMAND ...| sec=ready\n"
                  "frame TE x=1 @21+41 cmd=3 total=41 units=3 problems=0 frame_len=41\n"
                  "secure_result ME x=1 @51+17 secure |SECURE CMD END OK| sec=end_ok\n"
                  "end ME x=1 @72+2 reason=result final=OK\n");
}

static void test_sbnr_listing_and_ciev_parsed(void **state)
{
    (void)state;
    const record recs[] = {
        TE("AT^SBNR=is_cert\r"),
        ME("\r\n^SBNR: 0, size: \"599\", issuer: \"/C=DE/O=Example, Inc./CN=a/b\", serial number: "
           "\"4F2182FE\", subject: \"/C=DE/CN=x\", signature: \"sha1RSA\", thumbprint algorithm: "
           "\"sha1\", thumbprint: \"8CE388D8553D11F7E3BF64B6AA27C2C314B106D4\"\r\n"
           "^SBNR: 1, size: \"0\", issuer: \"\", serial number: \"\", subject: \"\", signature: \"\", "
           "thumbprint algorithm: \"\", thumbprint: \"\"\r\n\r\nOK\r\n"),
        ME("\r\n+CIEV: is_cert,1,/O=Example, Inc./CN=ca,00F1F4,/O=Example, Inc./CN=srv,sha256RSA,sha1,"
           "8CE388D8553D11F7E3BF64B6AA27C2C314B106D4\r\n"),
    };
    rec r = {0};
    run(recs, 3, 0, &r);
    assert_non_null(strstr(r.buf, "response ME x=1 @2+219 sbnr |^SBNR: 0"));
    assert_non_null(strstr(r.buf, "response ME x=1 @223+120 sbnr |^SBNR: 1"));
    assert_non_null(strstr(r.buf, "urc ME x=0 @353+126 ciev_is_cert |+CIEV: is_cert,1,"));
    free(r.buf);
}

/* The parsed values themselves, through the event. */
typedef struct capture {
    at_sbnr sbnr;
    bool got_sbnr;
    at_ciev_is_cert ciev;
    bool got_ciev;
    char serial[64], issuer[128];
} capture;

static void capture_event(void *ctx, const at_event *ev)
{
    capture *c = ctx;
    if (ev->line.kind == AT_LK_SBNR && !c->got_sbnr) {
        c->sbnr = ev->line.u.sbnr;
        c->got_sbnr = true;
        snprintf(c->serial, sizeof c->serial, "%.*s", (int)c->sbnr.serial.len, c->sbnr.serial.ptr);
    }
    if (ev->line.kind == AT_LK_CIEV_IS_CERT) {
        c->ciev = ev->line.u.ciev_cert;
        c->got_ciev = true;
        snprintf(c->issuer, sizeof c->issuer, "%.*s", (int)c->ciev.issuer.len, c->ciev.issuer.ptr);
    }
}

static void test_parsed_values_reach_the_consumer(void **state)
{
    (void)state;
    at_session s;
    capture c;
    memset(&c, 0, sizeof c);
    at_session_init(&s, NULL, capture_event, &c);
    const char *te = "AT^SBNR=is_cert\r";
    const char *me = "\r\n^SBNR: 3, size: \"1234\", issuer: \"/CN=a\", serial number: \"00F1F4565330802E0B\", "
                     "subject: \"/CN=b\", signature: \"sha256RSA\", thumbprint algorithm: \"sha1\", "
                     "thumbprint: \"8CE388D8553D11F7E3BF64B6AA27C2C314B106D4\", expiry date: \"2035,10,29\"\r\n"
                     "\r\nOK\r\n\r\n+CIEV: \"is_cert\",2,/O=A, B/CN=c,0A1B,/CN=d,sha1RSA,sha1,"
                     "8CE388D8553D11F7E3BF64B6AA27C2C314B106D4\r\n";
    at_session_feed(&s, AT_DIR_TE_TO_ME, 1, (const uint8_t *)te, strlen(te));
    at_session_feed(&s, AT_DIR_ME_TO_TE, 2, (const uint8_t *)me, strlen(me));
    at_session_finish(&s, 3);
    assert_true(c.got_sbnr);
    assert_int_equal(c.sbnr.index, 3);
    assert_int_equal(c.sbnr.size, 1234);
    assert_string_equal(c.serial, "00F1F4565330802E0B");
    assert_true(c.sbnr.has_expiry);
    assert_int_equal(c.sbnr.expiry_year, 2035);
    assert_true(c.got_ciev);
    assert_int_equal(c.ciev.srv_profile, 2);
    assert_string_equal(c.issuer, "/O=A, B/CN=c");
}

/* The line union's bytes that the event's line kind does not use are
 * zero, whatever the events before it wrote there (the session clears
 * only what they used). */
typedef struct union_check {
    unsigned events, lines_with_union;
} union_check;

static size_t union_bytes_used(const at_event *ev)
{
    switch (ev->line.kind) {
    case AT_LK_RESULT: return sizeof ev->line.u.result;
    case AT_LK_SECURE: return sizeof ev->line.u.secure;
    case AT_LK_SBNR: return sizeof ev->line.u.sbnr;
    case AT_LK_CIEV_IS_CERT: return sizeof ev->line.u.ciev_cert;
    case AT_LK_CIEV: return sizeof ev->line.u.ciev;
    case AT_LK_SIS: return sizeof ev->line.u.sis;
    case AT_LK_SIS_RW: return sizeof ev->line.u.sis_rw;
    case AT_LK_IMEI: return sizeof ev->line.u.imei;
    case AT_LK_TEXT: break;
    }
    return 0;
}

static void check_union_event(void *ctx, const at_event *ev)
{
    union_check *c = ctx;
    const unsigned char *u = (const unsigned char *)&ev->line.u;
    size_t used = union_bytes_used(ev);
    c->events++;
    if (used)
        c->lines_with_union++;
    for (size_t i = used; i < sizeof ev->line.u; i++)
        if (u[i] != 0)
            fail_msg("%s event (line kind %s): union byte %zu is %u", at_event_kind_name(ev->kind),
                     at_line_kind_name(ev->line.kind), i, u[i]);
}

static void test_line_union_clear_after_parsed_lines(void **state)
{
    (void)state;
    const char *te = "AT^SBNR=is_cert\rATV0\rAT+CSQ\rAT^SBNW=is_cert,1\r";
    const char *me = "\r\n^SBNR: 3, size: \"1234\", issuer: \"/CN=a\", serial number: \"00F1\", "
                     "subject: \"/CN=b\", signature: \"sha256RSA\", thumbprint algorithm: \"sha1\", "
                     "thumbprint: \"8CE388D8553D11F7E3BF64B6AA27C2C314B106D4\"\r\n"
                     "\r\nOK\r\n"
                     "\r\n^SIS: 0,0,2200,\"Remote peer has closed the connection\"\r\n"
                     "0\r"
                     "+CSQ: 17,99\r\n0\r"
                     "\r\nSECURE CMD READY\r\n";
    union_check c = {0};
    at_session s;
    at_session_init(&s, NULL, check_union_event, &c);
    at_session_feed(&s, AT_DIR_TE_TO_ME, 1, (const uint8_t *)te, strlen(te));
    at_session_feed(&s, AT_DIR_ME_TO_TE, 2, (const uint8_t *)me, strlen(me));
    at_session_finish(&s, 3);
    assert_true(c.events >= 10);
    assert_true(c.lines_with_union >= 4);
}

/* A READ: the module's binary answer is a frame too. */
/* The frame checks' limits can change between exchanges, from the event
 * callback (the analyzer does so when the module turns out to be newer). */
typedef struct limits_seen {
    at_session *s;
    unsigned frames;
    bool index_range[2];
    at_profile_id profile[2]; /* at_session_profile when each was reported */
} limits_seen;

static void switch_after_first_end(void *ctx, const at_event *ev)
{
    limits_seen *l = ctx;
    if (ev->kind == AT_EV_FRAME && l->frames < 2) {
        for (unsigned i = 0; i < ev->frame->n_problems; i++)
            if (ev->frame->problems[i].code == AT_FP_INDEX_RANGE)
                l->index_range[l->frames] = true;
        l->profile[l->frames] = at_session_profile(l->s)->id;
        l->frames++;
    }
    if (ev->kind == AT_EV_END)
        at_session_set_profile(l->s, at_profile_get(AT_PROFILE_NEWER));
}

static void test_profile_set_between_exchanges(void **state)
{
    (void)state;
    /* An unsigned DELETE of index 15, twice. */
    uint8_t frame[12];
    assert_int_equal(tu_hex("0C00 0300 0100 0600 0100 0F00", frame, sizeof frame), 12);
    at_session *s = malloc(sizeof *s);
    assert_non_null(s);
    limits_seen l = {s, 0, {false, false}, {AT_PROFILE_NEWER, AT_PROFILE_LEGACY}};
    at_session_init(s, NULL, switch_after_first_end, &l);
    assert_int_equal(at_session_profile(s)->id, AT_PROFILE_LEGACY); /* no profile given */
    for (int i = 0; i < 2; i++) {
        static const char cmd[] = "AT^SBNW=is_cert,1\r";
        static const char ready[] = "\r\nSECURE CMD READY: SEND COMMAND ...\r\n";
        static const char done[] = "\r\nSECURE CMD END OK\r\n\r\nOK\r\n";
        at_session_feed(s, AT_DIR_TE_TO_ME, 1, (const uint8_t *)cmd, sizeof cmd - 1);
        at_session_feed(s, AT_DIR_ME_TO_TE, 2, (const uint8_t *)ready, sizeof ready - 1);
        at_session_feed(s, AT_DIR_TE_TO_ME, 3, frame, sizeof frame);
        at_session_feed(s, AT_DIR_ME_TO_TE, 4, (const uint8_t *)done, sizeof done - 1);
    }
    at_session_finish(s, 5);
    free(s);
    assert_int_equal(l.frames, 2);
    assert_true(l.index_range[0]);   /* legacy: 0..10 */
    assert_false(l.index_range[1]);  /* newer: 0..30 */
    /* What each frame was decoded with, for a renderer decoding it again. */
    assert_int_equal(l.profile[0], AT_PROFILE_LEGACY);
    assert_int_equal(l.profile[1], AT_PROFILE_NEWER);
}

static void test_read_response_frame(void **state)
{
    (void)state;
    uint8_t req[64], resp[64];
    size_t rlen = tu_hex("0c 00 02 00 01 00 06 00 01 00 01 00", req, sizeof req);
    size_t plen = tu_hex("2d 00 02 00 03 00 06 00 01 00 01 00 09 00 02 00 30 0d 0a 0d 0a"
                         "18 00 03 00 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13",
                         resp, sizeof resp);
    const record recs[] = {
        TE("AT^SBNW=is_cert,1\r"),
        ME("\r\nCONNECT\r\n\r\nSECURE CMD READY: SEND COMMAND ...\r\n"),
        {AT_DIR_TE_TO_ME, req, rlen},
        {AT_DIR_ME_TO_TE, resp, plen},
        ME("\r\nSECURE CMD END OK\r\n\r\nOK\r\n"),
    };
    expect_events(recs, 5,
                  "command TE x=1 @0+17 cmds=1 ^SBNW secure=1\n"
                  "intermediate ME x=1 @2+7 result |CONNECT|\n"
                  "intermediate ME x=1 @13+34 secure |SECURE CMD READY: SEND COMMAND ...| sec=ready\n"
                  "frame TE x=1 @18+12 cmd=2 total=12 units=1 problems=0 frame_len=12\n"
                  "frame ME x=1 @49+45 cmd=2 total=45 units=3 problems=0 frame_len=45\n"
                  "secure_result ME x=1 @96+17 secure |SECURE CMD END OK| sec=end_ok\n"
                  "end ME x=1 @117+2 reason=result final=OK\n");
}

static void test_gap_is_reported(void **state)
{
    (void)state;
    at_session s;
    rec r = {0};
    at_session_init(&s, NULL, record_event, &r);
    at_session_feed(&s, AT_DIR_TE_TO_ME, 1, (const uint8_t *)"AT+CGSN\r", 8);
    at_session_feed(&s, AT_DIR_ME_TO_TE, 2, (const uint8_t *)"\r\n3582400", 9);
    at_session_gap(&s, AT_DIR_ME_TO_TE, 3);
    at_session_feed(&s, AT_DIR_ME_TO_TE, 4, (const uint8_t *)"10\r\n\r\nOK\r\n", 10);
    at_session_finish(&s, 5);
    assert_string_equal(r.buf, "command TE x=1 @0+7 cmds=1 +CGSN secure=0\n"
                               "response ME x=1 @2+7 text |3582400|\n"
                               "invalid ME x=1 @9+0 reason=cut_by_gap\n"
                               "response ME x=1 @9+2 text |10|\n"
                               "end ME x=1 @15+2 reason=result final=OK\n");
    free(r.buf);
}

/* ------------------------------------------------------------------ */
/* A realistic session: the committed provisioning sample              */
/* ------------------------------------------------------------------ */

typedef struct owned_record {
    at_dir dir;
    uint64_t ts;
    uint8_t *data;
    size_t len;
} owned_record;

static owned_record *load_data_records(const char *path, size_t *n)
{
    char err[256];
    at_trace_reader *r = at_trace_open(path, err, sizeof err);
    if (!r)
        fprintf(stderr, "%s\n", err);
    assert_non_null(r);
    owned_record *v = NULL;
    size_t cap = 0;
    *n = 0;
    at_trace_record rec;
    int st;
    while ((st = at_trace_next(r, &rec)) == 1) {
        if (rec.event != AT_TEV_DATA)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            v = realloc(v, cap * sizeof *v);
            assert_non_null(v);
        }
        owned_record *o = &v[(*n)++];
        o->dir = rec.dir;
        o->ts = rec.ts_ns;
        o->len = rec.len;
        o->data = malloc(rec.len ? rec.len : 1);
        assert_non_null(o->data);
        memcpy(o->data, rec.payload, rec.len);
    }
    assert_int_equal(st, 0);
    at_trace_close(r);
    return v;
}

/* Feeds the records; record @p split_rec is fed in two parts cut at
 * @p split_at (both parts keep the record's timestamp). */
static void run_owned(const owned_record *v, size_t n, size_t split_rec, size_t split_at,
                      rec *out)
{
    at_session *s = malloc(sizeof *s);
    assert_non_null(s);
    at_session_init(s, NULL, record_event, out);
    for (size_t i = 0; i < n; i++) {
        if (i == split_rec) {
            at_session_feed(s, v[i].dir, v[i].ts, v[i].data, split_at);
            at_session_feed(s, v[i].dir, v[i].ts, v[i].data + split_at, v[i].len - split_at);
        } else {
            at_session_feed(s, v[i].dir, v[i].ts, v[i].data, v[i].len);
        }
    }
    at_session_finish(s, v[n - 1].ts);
    free(s);
}

static void test_sample_session_every_split_point(void **state)
{
    (void)state;
    size_t n;
    owned_record *v = load_data_records(ATTRACE_SAMPLES_DIR "/provisioning-ok.pcap", &n);
    assert_true(n > 30); /* a real session: a record per read or answer */
    rec whole = {.verbose = true};
    run_owned(v, n, SIZE_MAX, 0, &whole);
    /* The session's shape: 17 exchanges, 3 frames without problems. */
    assert_non_null(strstr(tu_text_str(&whole), "command TE x=17 "));
    assert_null(strstr(tu_text_str(&whole), "command TE x=18 "));
    assert_null(strstr(tu_text_str(&whole), "invalid "));
    assert_null(strstr(tu_text_str(&whole), "unexpected "));
    size_t frames = 0;
    for (const char *p = tu_text_str(&whole); (p = strstr(p, "\nframe TE")); p++)
        frames++;
    assert_int_equal(frames, 3);
    assert_null(strstr(tu_text_str(&whole), "problems=1"));

    size_t runs = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 1; k < v[i].len; k++) {
            rec r = {.verbose = true};
            run_owned(v, n, i, k, &r);
            if (strcmp(tu_text_str(&r), tu_text_str(&whole)) != 0)
                fprintf(stderr, "record %zu split at %zu differs\n", i, k);
            assert_string_equal(tu_text_str(&r), tu_text_str(&whole));
            tu_text_free(&r);
            runs++;
        }
    }
    assert_true(runs > 1000);
    tu_text_free(&whole);
    for (size_t i = 0; i < n; i++)
        free(v[i].data);
    free(v);
}

/* Checks every ME event against the key placed at [key_off, key_off +
 * key_len): once the bytes up to the event's end prove the PKCS#8 header
 * (its OCTET STRING tag, key byte 22), all of its key bytes are secret. */
typedef struct key_check {
    uint64_t key_off, key_len;
    unsigned covered, events;
    rec text;
} key_check;

static void check_key_event(void *ctx, const at_event *ev)
{
    key_check *k = ctx;
    record_event(&k->text, ev);
    if (ev->dir != AT_DIR_ME_TO_TE || !ev->span.len)
        return;
    uint64_t s = ev->span.off, e = ev->span.off + ev->span.len;
    uint64_t ks = k->key_off, ke = k->key_off + k->key_len;
    if (e <= ks || s >= ke)
        return;
    k->events++;
    if (e <= ks + 22) {
        assert_int_equal(ev->n_secrets, 0);
        return;
    }
    uint64_t cs = s > ks ? s : ks, ce = e < ke ? e : ke;
    assert_int_equal(ev->n_secrets, 1);
    assert_int_equal(ev->secrets[0].kind, AT_SECRET_PKCS8);
    assert_int_equal(ev->secrets[0].span.off, cs);
    assert_int_equal(ev->secrets[0].span.len, ce - cs);
    k->covered += (unsigned)(ce - cs);
}

/* A key the line tokenizer cuts at its 0x0D/0x0A bytes: every line of it
 * knows its secret bytes, however the record is split. */
static void test_key_in_lines_every_split_point(void **state)
{
    (void)state;
    size_t kl;
    uint8_t *key = tu_read_file(ATTRACE_SAMPLES_DIR "/keys/client.key.der", &kl);
    static const char pre[] = "\r\n";
    static const char post[] = "\r\nOK\r\n";
    size_t n = sizeof pre - 1 + kl + sizeof post - 1;
    uint8_t *me = malloc(n);
    assert_non_null(me);
    memcpy(me, pre, sizeof pre - 1);
    memcpy(me + sizeof pre - 1, key, kl);
    memcpy(me + sizeof pre - 1 + kl, post, sizeof post - 1);

    key_check whole = {sizeof pre - 1, kl, 0, 0, {0}};
    for (size_t cut = 0; cut < n; cut++) {
        key_check k = {sizeof pre - 1, kl, 0, 0, {0}};
        at_session *s = malloc(sizeof *s);
        assert_non_null(s);
        at_session_init(s, NULL, check_key_event, cut ? (void *)&k : (void *)&whole);
        at_session_feed(s, AT_DIR_TE_TO_ME, 1000, (const uint8_t *)"AT\r", 3);
        at_session_feed(s, AT_DIR_ME_TO_TE, 2000, me, cut ? cut : n);
        if (cut)
            at_session_feed(s, AT_DIR_ME_TO_TE, 2000, me + cut, n - cut);
        at_session_finish(s, 3000);
        free(s);
        if (cut) {
            assert_string_equal(tu_text_str(&k.text), tu_text_str(&whole.text));
            tu_text_free(&k.text);
        }
    }
    /* Lines at the 0x0D/0x0A bytes at key offsets 8, 16, 201, 218, 398,
     * 470 and 591; only the first two (15 header bytes) end before the
     * proof. */
    assert_int_equal(whole.events, 8);
    assert_int_equal(whole.covered, kl - 17 - 5);
    tu_text_free(&whole.text);
    free(me);
    free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imei_query),
        cmocka_unit_test(test_echo_before_its_command),
        cmocka_unit_test(test_urcs_interleaved_and_outside),
        cmocka_unit_test(test_numeric_results_after_atv0),
        cmocka_unit_test(test_secure_exchange),
        cmocka_unit_test(test_totallen_short_frame_has_trailer),
        cmocka_unit_test(test_key_unit_is_secret_whatever_its_bytes),
        cmocka_unit_test(test_key_unit_cut_early_is_secret),
        cmocka_unit_test(test_secrets_of_a_frame_in_progress),
        cmocka_unit_test(test_sisr_response_and_urc),
        cmocka_unit_test(test_transparent_mode_both_ways),
        cmocka_unit_test(test_escape_without_transparent_mode),
        cmocka_unit_test(test_superseded_and_unexpected),
        cmocka_unit_test(test_text_before_a_command_is_ignored),
        cmocka_unit_test(test_sbnr_listing_and_ciev_parsed),
        cmocka_unit_test(test_parsed_values_reach_the_consumer),
        cmocka_unit_test(test_line_union_clear_after_parsed_lines),
        cmocka_unit_test(test_read_response_frame),
        cmocka_unit_test(test_profile_set_between_exchanges),
        cmocka_unit_test(test_gap_is_reported),
        cmocka_unit_test(test_sample_session_every_split_point),
        cmocka_unit_test(test_key_in_lines_every_split_point),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
