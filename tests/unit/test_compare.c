/*
 * Unit tests of attrace/compare.h: exchange records built from a real
 * session, the frame and answer comparison, normalization, alignment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attrace/compare.h"
#include "testutil.h"

/* ------------------------------------------------------------------ */
/* Building records from scripted sessions                            */
/* ------------------------------------------------------------------ */

#define MAX_RECS 16

typedef struct recs {
    at_xrec *v[MAX_RECS];
    unsigned n;
    at_xrec_builder *b;
    at_analyzer *an;
} recs;

static void on_rec(void *ctx, at_xrec *x)
{
    recs *r = ctx;
    assert_true(r->n < MAX_RECS);
    r->v[r->n++] = x;
}

static void on_finding(void *ctx, const at_finding *f)
{
    recs *r = ctx;
    at_xrec_builder_finding(r->b, f);
}

static void on_event(void *ctx, const at_event *ev)
{
    recs *r = ctx;
    at_analyzer_event(r->an, ev);
    at_xrec_builder_event(r->b, ev, ev->kind == AT_EV_FRAME ? at_analyzer_frame(r->an) : NULL);
}

/* Script: pairs of (direction, text); text starting with "hex:" is bytes. */
typedef struct step {
    at_dir dir;
    const char *text;
} step;

#define TE AT_DIR_TE_TO_ME
#define ME AT_DIR_ME_TO_TE

static void build(const step *s, size_t n, recs *out)
{
    static at_session ses;
    memset(out, 0, sizeof *out);
    out->b = at_xrec_builder_new(on_rec, out);
    out->an = at_analyzer_new(NULL, on_finding, out);
    assert_non_null(out->b);
    assert_non_null(out->an);
    at_session_init(&ses, NULL, on_event, out);
    uint64_t ts = 1000;
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[512];
        size_t len;
        if (strncmp(s[i].text, "hex:", 4) == 0) {
            len = tu_hex(s[i].text + 4, buf, sizeof buf);
        } else {
            len = strlen(s[i].text);
            memcpy(buf, s[i].text, len);
        }
        at_session_feed(&ses, s[i].dir, ts, buf, len);
        ts += 1000000;
    }
    at_session_finish(&ses, ts);
    at_analyzer_finish(out->an);
    at_xrec_builder_finish(out->b);
    assert_false(at_xrec_builder_failed(out->b));
    at_xrec_builder_free(out->b);
    at_analyzer_free(out->an);
}

static void recs_free(recs *r)
{
    for (unsigned i = 0; i < r->n; i++)
        at_xrec_free(r->v[i]);
}

#define MAX_DIFFS 32

typedef struct diffs {
    at_diff v[MAX_DIFFS];
    unsigned n;
} diffs;

static void on_diff(void *ctx, const at_diff *d)
{
    diffs *ds = ctx;
    assert_true(ds->n < MAX_DIFFS);
    ds->v[ds->n++] = *d;
}

/* A DELETE of index 2 without IMEI and signature (PROTOCOL.md section 3). */
#define DELETE_2 "hex:0C 00 03 00 01 00 06 00 01 00 02 00"
#define DELETE_3 "hex:0C 00 03 00 01 00 06 00 01 00 03 00"
#define DELETE_2_TOTALLEN_10 "hex:0A 00 03 00 01 00 06 00 01 00 02 00"

static void secure_session(const char *frame, const char *result, const char *final,
                           recs *out)
{
    const step s[] = {
        {TE, "AT^SBNW=is_cert,1\r"},
        {ME, "AT^SBNW=is_cert,1\r\r\nCONNECT\r\n\r\nSECURE CMD READY: SEND COMMAND ...\r\n"},
        {TE, frame},
        {ME, result},
        {ME, final},
    };
    build(s, sizeof s / sizeof s[0], out);
}

/* ------------------------------------------------------------------ */
/* Records                                                            */
/* ------------------------------------------------------------------ */

static void test_builder_records(void **state)
{
    (void)state;
    const step s[] = {
        {ME, "\r\n^SYSSTART\r\n"},
        {TE, "AT+CGSN\r"},
        {ME, "AT+CGSN\r\r\n358240051111110\r\n\r\nOK\r\n"},
        {ME, "\r\n+CIEV: service,1\r\n"},
        {TE, "ATE0V1\r"},
        {ME, "ATE0V1\r\r\nOK\r\n"},
    };
    recs r;
    build(s, sizeof s / sizeof s[0], &r);
    assert_int_equal(r.n, 3);
    /* Record 0: what came before the first command. */
    assert_int_equal(r.v[0]->id, 0);
    assert_null(r.v[0]->command);
    assert_string_equal(r.v[0]->key, "");
    assert_int_equal(r.v[0]->n_lines, 1);
    assert_int_equal(r.v[0]->lines[0].kind, AT_XL_URC);
    assert_string_equal(r.v[0]->lines[0].text, "^SYSSTART");
    /* AT+CGSN: echo, the IMEI normalized, OK, and the URC after it. */
    const at_xrec *x = r.v[1];
    assert_int_equal(x->id, 1);
    assert_string_equal(x->command, "AT+CGSN");
    assert_string_equal(x->key, "+CGSN");
    assert_int_equal(x->span.off, 0);
    assert_int_equal(x->n_lines, 4);
    assert_int_equal(x->lines[0].kind, AT_XL_ECHO);
    assert_int_equal(x->lines[1].kind, AT_XL_RESPONSE);
    assert_string_equal(x->lines[1].text, "358240051111110");
    assert_string_equal(x->lines[1].norm, "<imei>");
    assert_int_equal(x->lines[2].kind, AT_XL_FINAL);
    assert_ptr_equal(x->final_line, &x->lines[2]);
    assert_int_equal(x->lines[3].kind, AT_XL_URC);
    assert_string_equal(x->lines[3].text, "+CIEV: service,1");
    assert_true(x->has_final);
    assert_int_equal(x->final_kind, AT_RES_OK);
    assert_int_equal(x->end_reason, AT_END_RESULT);
    assert_string_equal(r.v[2]->key, "E;V");
    recs_free(&r);
}

static void test_builder_frame_and_finding(void **state)
{
    (void)state;
    recs r;
    secure_session(DELETE_2_TOTALLEN_10, "\r\nSECURE CMD TOO MANY DATA ERROR\r\n",
                   "\r\nERROR\r\n", &r);
    assert_int_equal(r.n, 2);
    const at_xrec *x = r.v[1];
    assert_int_equal(x->n_frames, 1);
    const at_xframe *f = &x->frames[0];
    assert_int_equal(f->dir, AT_DIR_TE_TO_ME);
    assert_int_equal(f->off, 18);
    assert_int_equal(f->len, 12);
    assert_int_equal(f->frame.total_len, 10);
    /* The unit's value points into the record's own copy. */
    assert_int_equal(f->frame.n_units, 1);
    assert_ptr_equal(f->frame.units[0].value, f->bytes + 10);
    assert_int_equal(x->secure_result, AT_SEC_TOO_MANY_DATA);
    assert_ptr_equal(at_xrec_frame(x, AT_DIR_TE_TO_ME, 0), f);
    assert_null(at_xrec_frame(x, AT_DIR_TE_TO_ME, 1));
    assert_null(at_xrec_frame(x, AT_DIR_ME_TO_TE, 0));
    /* The analyzer's finding about the exchange stays with it. */
    assert_true(x->n_findings >= 1);
    bool seen = false;
    for (unsigned i = 0; i < x->n_findings; i++)
        seen |= strcmp(x->findings[i].rule, "totallen_excludes_self") == 0;
    assert_true(seen);
    recs_free(&r);
}

/* ------------------------------------------------------------------ */
/* Comparison                                                         */
/* ------------------------------------------------------------------ */

static void test_same_exchange_no_difference(void **state)
{
    (void)state;
    recs a, b;
    secure_session(DELETE_2, "\r\nSECURE CMD END OK\r\n", "\r\nOK\r\n", &a);
    secure_session(DELETE_2, "\r\nSECURE CMD END OK\r\n", "\r\nOK\r\n", &b);
    diffs d = {0};
    assert_int_equal(at_xrec_compare(a.v[1], b.v[1], NULL, on_diff, &d), 0);
    assert_int_equal(at_xrec_compare(a.v[0], b.v[0], NULL, on_diff, &d), 0);
    assert_int_equal(d.n, 0);
    recs_free(&a);
    recs_free(&b);
}

static void test_frame_index_value(void **state)
{
    (void)state;
    recs a, b;
    secure_session(DELETE_2, "\r\nSECURE CMD END OK\r\n", "\r\nOK\r\n", &a);
    secure_session(DELETE_3, "\r\nSECURE CMD END OK\r\n", "\r\nOK\r\n", &b);
    diffs d = {0};
    assert_int_equal(at_xrec_compare(a.v[1], b.v[1], NULL, on_diff, &d), 1);
    const at_diff *x = &d.v[0];
    assert_int_equal(x->kind, AT_DIFF_FRAME);
    assert_int_equal(x->field, AT_FF_VALUE);
    assert_int_equal(x->dir, AT_DIR_TE_TO_ME);
    assert_int_equal(x->frame, 1);
    assert_int_equal(x->unit, 1);
    assert_int_equal(x->param_id, AT_PARAM_INDEX);
    assert_int_equal(x->byte_index, 0);
    assert_false(x->secret);
    assert_int_equal(x->sa.off, 18 + 10);
    assert_int_equal(x->sb.off, 18 + 10);
    assert_int_equal(x->sa.num, 2);
    assert_int_equal(x->sb.num, 3);
    assert_int_equal(x->sa.len, 2);
    assert_null(x->sa.text);
    recs_free(&a);
    recs_free(&b);
}

static void test_frame_totallen_first_then_judgments(void **state)
{
    (void)state;
    recs a, b;
    secure_session(DELETE_2, "\r\nSECURE CMD END OK\r\n", "\r\nOK\r\n", &a);
    secure_session(DELETE_2_TOTALLEN_10, "\r\nSECURE CMD TOO MANY DATA ERROR\r\n",
                   "\r\nERROR\r\n", &b);
    diffs d = {0};
    unsigned n = at_xrec_compare(a.v[1], b.v[1], NULL, on_diff, &d);
    assert_int_equal(n, d.n);
    /* First: the first differing wire field, with its offset in both. */
    assert_int_equal(d.v[0].kind, AT_DIFF_FRAME);
    assert_int_equal(d.v[0].field, AT_FF_TOTAL_LEN);
    assert_int_equal(d.v[0].sa.num, 12);
    assert_int_equal(d.v[0].sb.num, 10);
    assert_int_equal(d.v[0].sa.off, 18);
    assert_int_equal(d.v[0].sb.off, 18);
    /* Then only B's decoding problems (no other wire field), then the
     * answers and B's finding. */
    unsigned i = 1;
    while (i < n && d.v[i].kind == AT_DIFF_FRAME) {
        assert_int_equal(d.v[i].field, AT_FF_PROBLEM);
        assert_false(d.v[i].sa.present);
        assert_true(d.v[i].sb.present);
        i++;
    }
    assert_true(i >= 2);
    assert_int_equal(d.v[1].sb.num, AT_FP_TOTALLEN_SHORT);
    assert_int_equal(d.v[i].kind, AT_DIFF_SECURE_RESULT);
    assert_int_equal(d.v[i].sa.num, AT_SEC_END_OK);
    assert_int_equal(d.v[i].sb.num, AT_SEC_TOO_MANY_DATA);
    assert_string_equal(d.v[i].sb.text, "SECURE CMD TOO MANY DATA ERROR");
    assert_int_equal(d.v[i + 1].kind, AT_DIFF_FINAL);
    assert_int_equal(d.v[i + 1].sa.num, AT_RES_OK);
    assert_int_equal(d.v[i + 1].sb.num, AT_RES_ERROR);
    assert_int_equal(d.v[n - 1].kind, AT_DIFF_FINDING);
    assert_null(d.v[n - 1].fa);
    assert_string_equal(d.v[n - 1].fb->rule, "totallen_excludes_self");

    /* --all: the trailing bytes are reported too. */
    at_cmp_options all = {.all_fields = true};
    diffs e = {0};
    at_xrec_compare(a.v[1], b.v[1], &all, on_diff, &e);
    bool trailing = false;
    for (unsigned k = 0; k < e.n; k++)
        if (e.v[k].kind == AT_DIFF_FRAME && e.v[k].field == AT_FF_TRAILING) {
            trailing = true;
            assert_int_equal(e.v[k].sa.num, 0);
            assert_int_equal(e.v[k].sb.num, 2);
            assert_int_equal(e.v[k].sb.off, 28);
        }
    assert_true(trailing);
    assert_true(e.n > n);
    recs_free(&a);
    recs_free(&b);
}

/* WRITE of index 0 with a 3-byte "certificate" and a 4-byte "key". */
#define WRITE_KEY_A "hex:1B 00 01 00 03 00 06 00 01 00 00 00 07 00 02 00 30 01 02 08 00 05 00 AA BB CC DD"
#define WRITE_KEY_B "hex:1B 00 01 00 03 00 06 00 01 00 00 00 07 00 02 00 30 01 02 08 00 05 00 AA BB CE DD"

static void test_key_bytes_only_with_show_secrets(void **state)
{
    (void)state;
    recs a, b;
    secure_session(WRITE_KEY_A, "\r\nSECURE CMD END OK\r\n", "\r\nOK\r\n", &a);
    secure_session(WRITE_KEY_B, "\r\nSECURE CMD END OK\r\n", "\r\nOK\r\n", &b);
    assert_int_equal(a.v[1]->frames[0].frame.total_len, 27);
    assert_int_equal(a.v[1]->frames[0].frame.n_problems, 0);
    diffs d = {0};
    assert_int_equal(at_xrec_compare(a.v[1], b.v[1], NULL, on_diff, &d), 1);
    assert_int_equal(d.v[0].field, AT_FF_VALUE);
    assert_int_equal(d.v[0].unit, 3);
    assert_int_equal(d.v[0].param_id, AT_PARAM_KEY);
    assert_int_equal(d.v[0].byte_index, 2);
    assert_true(d.v[0].secret);
    assert_int_equal(d.v[0].sa.num, 0);
    assert_int_equal(d.v[0].sb.num, 0);
    assert_null(d.v[0].sa.text);
    assert_int_equal(d.v[0].sa.len, 4);
    assert_int_equal(d.v[0].sa.off, 18 + 23 + 2);
    at_cmp_options show = {.show_secrets = true};
    diffs e = {0};
    at_xrec_compare(a.v[1], b.v[1], &show, on_diff, &e);
    assert_false(e.v[0].secret);
    assert_int_equal(e.v[0].sa.num, 0xCC);
    assert_int_equal(e.v[0].sb.num, 0xCE);
    recs_free(&a);
    recs_free(&b);
}

/* The BGS2 case: OK as the final result after SECURE CMD ERROR. */
static void test_answers_secure_result_with_same_final(void **state)
{
    (void)state;
    recs a, b;
    secure_session(DELETE_2, "\r\nSECURE CMD END OK\r\n", "\r\nOK\r\n", &a);
    secure_session(DELETE_2, "\r\nSECURE CMD ERROR\r\n", "\r\nOK\r\n", &b);
    diffs d = {0};
    assert_int_equal(at_xrec_compare_answers(a.v[1], b.v[1], NULL, on_diff, &d), 1);
    assert_int_equal(d.v[0].kind, AT_DIFF_SECURE_RESULT);
    assert_int_equal(d.v[0].sa.num, AT_SEC_END_OK);
    assert_int_equal(d.v[0].sb.num, AT_SEC_ERROR);
    assert_string_equal(d.v[0].sa.text, "SECURE CMD END OK");
    assert_int_equal(d.v[0].sa.dir, AT_DIR_ME_TO_TE);
    recs_free(&a);
    recs_free(&b);
}

static void imei_session(const char *imei_answer, recs *out)
{
    const step s[] = {
        {TE, "AT+CGSN\r"},
        {ME, imei_answer},
    };
    build(s, 2, out);
}

static void test_answers_normalized_unless_exact(void **state)
{
    (void)state;
    recs a, b;
    imei_session("AT+CGSN\r\r\n358240051111110\r\n\r\nOK\r\n", &a);
    imei_session("AT+CGSN\r\r\n358240052222221\r\n\r\nOK\r\n", &b);
    diffs d = {0};
    assert_int_equal(at_xrec_compare_answers(a.v[1], b.v[1], NULL, on_diff, &d), 0);
    at_cmp_options exact = {.exact = true};
    assert_int_equal(at_xrec_compare_answers(a.v[1], b.v[1], &exact, on_diff, &d), 1);
    assert_int_equal(d.v[0].kind, AT_DIFF_LINE);
    assert_string_equal(d.v[0].la->text, "358240051111110");
    assert_string_equal(d.v[0].lb->text, "358240052222221");
    assert_int_equal(d.v[0].sa.off, 10);
    recs_free(&a);
    recs_free(&b);
}

static void test_answer_lines_aligned(void **state)
{
    (void)state;
    recs a, b;
    const step sa[] = {
        {TE, "AT^SBNR=is_cert\r"},
        {ME, "\r\n^SBNR: 0, certificate is corrupted\r\n^X: 1\r\n^X: 2\r\n^X: 3\r\n\r\nOK\r\n"},
    };
    const step sb[] = {
        {TE, "AT^SBNR=is_cert\r"},
        {ME, "\r\n^SBNR: 0, certificate is corrupted\r\n^X: 1\r\n^X: 3\r\n^X: 4\r\n\r\nOK\r\n"},
    };
    build(sa, 2, &a);
    build(sb, 2, &b);
    diffs d = {0};
    assert_int_equal(at_xrec_compare(a.v[1], b.v[1], NULL, on_diff, &d), 2);
    assert_int_equal(d.v[0].kind, AT_DIFF_LINE);
    assert_string_equal(d.v[0].la->text, "^X: 2");
    assert_null(d.v[0].lb);
    assert_false(d.v[0].sb.present);
    assert_int_equal(d.v[1].kind, AT_DIFF_LINE);
    assert_null(d.v[1].la);
    assert_string_equal(d.v[1].lb->text, "^X: 4");
    recs_free(&a);
    recs_free(&b);
}

/* Two finals of one kind without a code: replay used to compare their
 * texts, the shared comparison does it for everyone. */
static void test_answers_final_text(void **state)
{
    (void)state;
    recs a, b, c;
    imei_session("AT+CGSN\r\r\n+CME ERROR: SIM busy\r\n", &a);
    imei_session("AT+CGSN\r\r\n+CME ERROR: SIM PIN required\r\n", &b);
    imei_session("AT+CGSN\r\r\n+CME ERROR: SIM busy\r\n", &c);
    diffs d = {0};
    assert_int_equal(at_xrec_compare_answers(a.v[1], c.v[1], NULL, on_diff, &d), 0);
    assert_int_equal(at_xrec_compare_answers(a.v[1], b.v[1], NULL, on_diff, &d), 1);
    assert_int_equal(d.v[0].kind, AT_DIFF_FINAL);
    assert_int_equal(d.v[0].sa.num, d.v[0].sb.num);
    assert_string_equal(d.v[0].sa.text, "+CME ERROR: SIM busy");
    assert_string_equal(d.v[0].sb.text, "+CME ERROR: SIM PIN required");
    recs_free(&a);
    recs_free(&b);
    recs_free(&c);
}

/* A URC inside one exchange and not the other: a difference, unless the
 * comparison is told to leave URCs out (replay). */
static void test_answers_skip_urcs(void **state)
{
    (void)state;
    recs a, b;
    imei_session("AT+CGSN\r\r\n358240051111110\r\n\r\n+CIEV: service,1\r\n\r\nOK\r\n",
                 &a);
    imei_session("AT+CGSN\r\r\n358240051111110\r\n\r\nOK\r\n", &b);
    diffs d = {0};
    assert_int_equal(at_xrec_compare_answers(a.v[1], b.v[1], NULL, on_diff, &d), 1);
    assert_int_equal(d.v[0].kind, AT_DIFF_LINE);
    assert_int_equal(d.v[0].la->kind, AT_XL_URC);
    assert_null(d.v[0].lb);
    at_cmp_options skip = {.skip_urcs = true};
    assert_int_equal(at_xrec_compare_answers(a.v[1], b.v[1], &skip, on_diff, &d), 0);
    recs_free(&a);
    recs_free(&b);
}

/* A secure command whose answer has @p n "^X: i" lines after its SECURE
 * CMD result, then OK; one step per line (build() takes 512 bytes a step). */
static void many_lines_session(int n, recs *out)
{
    static char text[80][16];
    step s[84];
    size_t k = 0;
    s[k++] = (step){TE, "AT^SBNW=is_cert,1\r"};
    s[k++] = (step){ME, "AT^SBNW=is_cert,1\r\r\nCONNECT\r\n"
                        "\r\nSECURE CMD READY: SEND COMMAND ...\r\n"};
    s[k++] = (step){TE, DELETE_2};
    s[k++] = (step){ME, "\r\nSECURE CMD END OK\r\n"};
    for (int i = 0; i < n && i < 79; i++) {
        snprintf(text[i], sizeof text[i], "^X: %d\r\n", i);
        s[k++] = (step){ME, text[i]};
    }
    s[k++] = (step){ME, "\r\nOK\r\n"};
    build(s, k, out);
}

/* Lines are kept in an array grown as they come: the result lines still
 * point at their own rows after it moved, and lines past the limit are
 * counted. */
static void test_many_lines(void **state)
{
    (void)state;
    recs r;
    many_lines_session(20, &r);
    const at_xrec *x = r.v[1];
    /* echo, CONNECT, READY, SECURE CMD END OK, 20 lines, OK */
    assert_int_equal(x->n_lines, 4 + 20 + 1);
    assert_ptr_equal(x->secure_line, &x->lines[3]);
    assert_string_equal(x->secure_line->text, "SECURE CMD END OK");
    assert_ptr_equal(x->final_line, &x->lines[24]);
    assert_string_equal(x->final_line->text, "OK");
    assert_string_equal(x->lines[23].text, "^X: 19");
    recs_free(&r);

    many_lines_session(70, &r);
    x = r.v[1];
    assert_int_equal(x->n_lines, AT_XREC_MAX_LINES);
    assert_int_equal(x->lines_beyond, 4 + 70 + 1 - AT_XREC_MAX_LINES);
    assert_ptr_equal(x->secure_line, &x->lines[3]);
    assert_string_equal(x->lines[AT_XREC_MAX_LINES - 1].text, "^X: 59");
    assert_null(x->final_line); /* past the limit: counted, not kept */
    assert_int_equal(x->final_kind, AT_RES_OK);
    recs_free(&r);
}

static void test_command_and_payload(void **state)
{
    (void)state;
    recs a, b;
    const step sa[] = {
        {TE, "AT^SISW=1,4\r"},
        {ME, "\r\n^SISW: 1,4,0\r\n"},
        {TE, "abcd"},
        {ME, "\r\nOK\r\n"},
    };
    const step sb[] = {
        {TE, "AT^SISW=1,4\r"},
        {ME, "\r\n^SISW: 1,4,4\r\n"},
        {TE, "abce"},
        {ME, "\r\nOK\r\n"},
    };
    build(sa, 4, &a);
    build(sb, 4, &b);
    diffs d = {0};
    /* The unacknowledged-bytes counter of ^SISW is normalized; the data
     * itself is compared. */
    assert_int_equal(at_xrec_compare(a.v[1], b.v[1], NULL, on_diff, &d), 1);
    assert_int_equal(d.v[0].kind, AT_DIFF_PAYLOAD);
    assert_int_equal(d.v[0].dir, AT_DIR_TE_TO_ME);
    assert_int_equal(d.v[0].sa.num, 4);
    assert_int_equal(d.v[0].sb.num, 4);
    recs_free(&a);
    recs_free(&b);

    const step sc[] = {{TE, "AT^SISS=1,secOpt,1\r"}, {ME, "\r\nOK\r\n"}};
    const step sd[] = {{TE, "AT^SISS=1,secOpt,2\r"}, {ME, "\r\nOK\r\n"}};
    build(sc, 2, &a);
    build(sd, 2, &b);
    diffs e = {0};
    assert_int_equal(at_xrec_compare(a.v[1], b.v[1], NULL, on_diff, &e), 1);
    assert_int_equal(e.v[0].kind, AT_DIFF_COMMAND);
    assert_string_equal(e.v[0].sa.text, "AT^SISS=1,secOpt,1");
    assert_string_equal(e.v[0].sb.text, "AT^SISS=1,secOpt,2");
    assert_string_equal(a.v[1]->key, b.v[1]->key);
    recs_free(&a);
    recs_free(&b);
}

/* How replay uses the builder: the live exchange is compared with the
 * recorded one as soon as its final result is fed, before any next command. */
typedef struct live {
    at_session ses;
    at_xrec_builder *b;
    const at_xrec *recorded;
    unsigned ends, differences;
} live;

static void live_event(void *ctx, const at_event *ev)
{
    live *l = ctx;
    at_xrec_builder_event(l->b, ev, NULL);
    if (ev->kind == AT_EV_END) {
        const at_xrec *now = at_xrec_builder_current(l->b);
        assert_non_null(now);
        assert_int_equal(now->id, 1);
        l->ends++;
        l->differences += at_xrec_compare_answers(l->recorded, now, NULL, NULL, NULL);
    }
}

static void drop_rec(void *ctx, at_xrec *x)
{
    (void)ctx;
    at_xrec_free(x);
}

static void test_builder_current_for_replay(void **state)
{
    (void)state;
    recs rec;
    secure_session(DELETE_2, "\r\nSECURE CMD END OK\r\n", "\r\nOK\r\n", &rec);
    static live l;
    memset(&l, 0, sizeof l);
    l.b = at_xrec_builder_new(drop_rec, NULL);
    l.recorded = rec.v[1];
    assert_null(at_xrec_builder_current(NULL));
    at_session_init(&l.ses, NULL, live_event, &l);
    static const char *const te[] = {"AT^SBNW=is_cert,1\r"};
    at_session_feed(&l.ses, TE, 1, (const uint8_t *)te[0], strlen(te[0]));
    const char *me = "AT^SBNW=is_cert,1\r\r\nCONNECT\r\n\r\nSECURE CMD READY: SEND COMMAND ...\r\n";
    at_session_feed(&l.ses, ME, 2, (const uint8_t *)me, strlen(me));
    uint8_t frame[12];
    size_t n = tu_hex(&DELETE_2[sizeof "hex:" - 1], frame, sizeof frame);
    at_session_feed(&l.ses, TE, 3, frame, n);
    const char *answer = "\r\nSECURE CMD ERROR\r\n\r\nOK\r\n";
    at_session_feed(&l.ses, ME, 4, (const uint8_t *)answer, strlen(answer));
    /* No next command and no finish: the exchange was compared already. */
    assert_int_equal(l.ends, 1);
    assert_int_equal(l.differences, 1);
    at_xrec_builder_free(l.b);
    recs_free(&rec);
}

/* ------------------------------------------------------------------ */
/* Normalization and keys                                             */
/* ------------------------------------------------------------------ */

static void expect_norm(const char *in, at_line_kind kind, const char *want)
{
    char out[256];
    size_t n = at_answer_normalize(in, strlen(in), kind, out, sizeof out);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void test_normalize(void **state)
{
    (void)state;
    expect_norm("358240051111110", AT_LK_IMEI, "<imei>");
    expect_norm("+CGSN: 358240051111110", AT_LK_TEXT, "+CGSN: <imei>");
    expect_norm("3582400511111101", AT_LK_TEXT, "3582400511111101"); /* 16 digits: no IMEI */
    expect_norm("+CCLK: \"26/11/23,16:35:35+04\"", AT_LK_TEXT, "+CCLK: \"#/#/#,#:#:#+#\"");
    expect_norm("up 12:30:45 since 26/11/23", AT_LK_TEXT, "up <time> since <date>");
    expect_norm("^SISI: 1,4,120,30,30,0", AT_LK_TEXT, "^SISI: 1,4,#,#,#,#");
    expect_norm("^sisw: 1,12,7", AT_LK_TEXT, "^sisw: 1,12,#");
    expect_norm("+CSQ: 17,99", AT_LK_TEXT, "+CSQ: #,#");
    expect_norm("^SBNR: 0, size: \"599\"", AT_LK_SBNR, "^SBNR: 0, size: \"599\"");
    expect_norm("SECURE CMD END OK", AT_LK_SECURE, "SECURE CMD END OK");
    char small[5];
    assert_int_equal(at_answer_normalize("+CGSN: 1", 8, AT_LK_TEXT, small, sizeof small), 4);
    assert_string_equal(small, "+CGS");
}

static void expect_key(const char *line, const char *want)
{
    at_cmdline cl;
    char key[AT_XREC_KEY_MAX];
    bool ok = at_parse_cmdline(line, strlen(line), 0, &cl, NULL) == AT_OK;
    at_xrec_key(&cl, ok, line, strlen(line), key, sizeof key);
    assert_string_equal(key, want);
}

static void test_keys(void **state)
{
    (void)state;
    expect_key("AT^SBNW=is_cert,1", "^SBNW=");
    expect_key("at^sbnw=\"is_cert\",1", "^SBNW=");
    expect_key("AT+CGSN", "+CGSN");
    expect_key("AT+CMEE?", "+CMEE?");
    expect_key("AT+CMEE=?", "+CMEE=?");
    expect_key("ATE0V1", "E;V");
    expect_key("AT+CMEE=2;+CGSN", "+CMEE=;+CGSN");
    expect_key("hello", "HELLO");
}

/* ------------------------------------------------------------------ */
/* Alignment                                                          */
/* ------------------------------------------------------------------ */

typedef struct pairs {
    char text[512];
    unsigned max_held[2];
    at_aligner *al;
} pairs;

static void on_pair(void *ctx, at_xrec *a, at_xrec *b)
{
    pairs *p = ctx;
    size_t l = strlen(p->text);
    snprintf(p->text + l, sizeof p->text - l, "%s%s/%s", l ? " " : "",
             a ? a->key : "-", b ? b->key : "-");
    at_xrec_free(a);
    at_xrec_free(b);
}

static at_xrec *keyed(const char *key)
{
    at_xrec *x = calloc(1, sizeof *x);
    assert_non_null(x);
    snprintf(x->key, sizeof x->key, "%s", key);
    return x;
}

/* Feeds both key lists the way `attrace diff` reads: the side the aligner
 * wants, the shorter queue first. */
static void align(const char *const *ka, const char *const *kb, unsigned window,
                  pairs *p)
{
    memset(p, 0, sizeof *p);
    p->al = at_aligner_new(window, on_pair, p);
    assert_non_null(p->al);
    const char *const *k[2] = {ka, kb};
    for (;;) {
        bool wa = at_aligner_wants(p->al, 0), wb = at_aligner_wants(p->al, 1);
        if (!wa && !wb)
            break;
        int s = wa && wb ? at_aligner_held(p->al, 1) < at_aligner_held(p->al, 0) : (wa ? 0 : 1);
        if (*k[s])
            at_aligner_push(p->al, s, keyed(*k[s]++));
        else
            at_aligner_end(p->al, s);
        for (int i = 0; i < 2; i++) {
            unsigned h = at_aligner_held(p->al, i);
            if (h > p->max_held[i])
                p->max_held[i] = h;
        }
    }
    at_aligner_free(p->al);
}

static void test_align_inserted_and_missing(void **state)
{
    (void)state;
    static const char *const a[] = {"", "E", "+CGSN", "^SIND=", "+CMER=", "^SBNW=",
                                    "^SBNW=", "^SBNR=", "^SISO=", NULL};
    static const char *const b[] = {"", "E", "+CGSN", "^SBNW=", "\\Q", "^SBNR=", NULL};
    pairs p;
    align(a, b, 4, &p);
    assert_string_equal(p.text, "/ E/E +CGSN/+CGSN ^SIND=/- +CMER=/- ^SBNW=/^SBNW= "
                                "^SBNW=/- -/\\Q ^SBNR=/^SBNR= ^SISO=/-");
    assert_true(p.max_held[0] <= 4);
    assert_true(p.max_held[1] <= 4);
}

static void test_align_no_common_key_in_window(void **state)
{
    (void)state;
    static const char *const a[] = {"A1", "A2", "A3", "X", NULL};
    static const char *const b[] = {"B1", "B2", "B3", "X", NULL};
    pairs p;
    align(a, b, 2, &p);
    /* Within a window of 2 nothing matches: heads go alone, one at a time,
     * until X meets X. */
    assert_string_equal(p.text, "A1/- -/B1 A2/- -/B2 A3/- -/B3 X/X");
    assert_true(p.max_held[0] <= 2);
}

static void test_align_one_side_empty(void **state)
{
    (void)state;
    static const char *const a[] = {"", "+CGSN", NULL};
    static const char *const b[] = {NULL};
    pairs p;
    align(a, b, 0, &p);
    assert_string_equal(p.text, "/- +CGSN/-");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builder_records),
        cmocka_unit_test(test_builder_frame_and_finding),
        cmocka_unit_test(test_same_exchange_no_difference),
        cmocka_unit_test(test_frame_index_value),
        cmocka_unit_test(test_frame_totallen_first_then_judgments),
        cmocka_unit_test(test_key_bytes_only_with_show_secrets),
        cmocka_unit_test(test_answers_secure_result_with_same_final),
        cmocka_unit_test(test_answers_normalized_unless_exact),
        cmocka_unit_test(test_answer_lines_aligned),
        cmocka_unit_test(test_answers_final_text),
        cmocka_unit_test(test_answers_skip_urcs),
        cmocka_unit_test(test_many_lines),
        cmocka_unit_test(test_command_and_payload),
        cmocka_unit_test(test_builder_current_for_replay),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_align_inserted_and_missing),
        cmocka_unit_test(test_align_no_common_key_in_window),
        cmocka_unit_test(test_align_one_side_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
