/* Unit tests of the text-line parsers (attrace/lines.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrace/lines.h"
#include "testutil.h"

#define BASE 1000u /* a stream offset that is not 0, so spans must add it */

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* Index of the @p nth (0-based) occurrence of @p needle in @p hay. */
static size_t nth_pos(const char *hay, const char *needle, int nth)
{
    const char *p = hay;
    for (;;) {
        p = strstr(p, needle);
        if (!p)
            fail_msg("fixture: '%s' not found in '%s'", needle, hay);
        if (nth-- == 0)
            return (size_t)(p - hay);
        p++;
    }
}
#define POS(hay, needle) nth_pos(hay, needle, 0)
/* Index just after the first occurrence of @p needle. */
#define AFTER(hay, needle) (nth_pos(hay, needle, 0) + strlen(needle))

/* A field must be exactly @p want, at index @p pos of @p line, with span
 * base + pos and the same length. */
static void check_str_(const at_str *s, const char *line, uint64_t base, const char *want,
                       size_t pos, int ln)
{
    size_t n = strlen(want);
    if (!s->ptr || s->ptr != line + pos || s->len != n || memcmp(s->ptr, want, n) != 0 ||
        s->span.off != base + pos || s->span.len != n)
        fail_msg("line %d: got %s'%.*s' at %td (span %llu+%u), want '%s' at %zu (span %llu+%zu)",
                 ln, s->ptr ? "" : "NULL ", s->ptr ? (int)s->len : 0, s->ptr ? s->ptr : "",
                 s->ptr ? s->ptr - line : -1, (unsigned long long)s->span.off, s->span.len,
                 want, pos, (unsigned long long)(base + pos), n);
}
#define CHECK_STR(s, line, base, want, pos) check_str_(&(s), line, base, want, pos, __LINE__)

static void check_absent_(const at_str *s, int ln)
{
    if (s->ptr || s->len)
        fail_msg("line %d: expected an absent field, got '%.*s'", ln, (int)s->len,
                 s->ptr ? s->ptr : "");
}
#define CHECK_ABSENT(s) check_absent_(&(s), __LINE__)

static void check_span_(at_span sp, uint64_t off, uint32_t len, int ln)
{
    if (sp.off != off || sp.len != len)
        fail_msg("line %d: span %llu+%u, want %llu+%u", ln, (unsigned long long)sp.off, sp.len,
                 (unsigned long long)off, len);
}
#define CHECK_SPAN(sp, off, len) check_span_(sp, off, len, __LINE__)

/* --- invariants every parser must keep, on any input ----------------- */

static bool str_ok(const at_str *s, const char *buf, size_t n, uint64_t base)
{
    if (!s->ptr)
        return s->len == 0;
    uintptr_t p = (uintptr_t)s->ptr, b = (uintptr_t)buf;
    return p >= b && p - b <= n && s->len <= n - (p - b) && s->span.off == base + (p - b) &&
           s->span.len == s->len;
}

static bool span_ok(at_span sp, size_t n, uint64_t base)
{
    return sp.off >= base && sp.off - base <= n && sp.len <= n - (sp.off - base);
}

static void inv_status(at_status st, uint64_t err, size_t n, uint64_t base)
{
    assert_true(st == AT_OK || st == AT_ERR_SYNTAX);
    if (st == AT_ERR_SYNTAX)
        assert_true(err >= base && err <= base + n);
}

static at_status inv_cmdline(const char *b, size_t n, uint64_t base)
{
    at_cmdline cl;
    uint64_t err = UINT64_MAX;
    at_status st = at_parse_cmdline(b, n, base, &cl, &err);
    inv_status(st, err, n, base);
    assert_true(cl.n_cmds <= AT_CMD_MAX_CHAIN);
    if (st != AT_OK)
        assert_int_equal(cl.n_cmds, 0);
    for (unsigned i = 0; i < cl.n_cmds; i++) {
        const at_command *c = &cl.cmds[i];
        assert_true(c->name.ptr && c->name.len > 0 && str_ok(&c->name, b, n, base));
        assert_true(str_ok(&c->basic_value, b, n, base));
        assert_true(span_ok(c->span, n, base));
        assert_true(c->n_params <= AT_CMD_MAX_PARAMS);
        for (unsigned k = 0; k < c->n_params; k++) {
            const at_str *p = &c->params[k];
            assert_non_null(p->ptr);
            if (c->param_quoted[k]) {
                size_t at = (size_t)(p->ptr - b);
                assert_true(at >= 1 && at + p->len < n);
                assert_int_equal(b[at - 1], '"');
                assert_int_equal(b[at + p->len], '"');
                assert_true(p->span.off == base + at - 1 && p->span.len == p->len + 2);
            } else {
                assert_true(str_ok(p, b, n, base));
            }
        }
    }
    return st;
}

static at_status inv_result(const char *b, size_t n, uint64_t base, bool numeric)
{
    at_result r;
    at_status st = at_parse_result(b, n, base, numeric, &r);
    assert_int_equal(st, AT_OK);
    assert_true(r.kind >= AT_RES_NONE && r.kind <= AT_RES_CMS_ERROR);
    assert_true(str_ok(&r.text, b, n, base));
    assert_true(!r.numeric || numeric);
    assert_true(!r.has_code || r.kind == AT_RES_CME_ERROR || r.kind == AT_RES_CMS_ERROR);
    assert_non_null(at_result_name(r.kind));
    return st;
}

static at_status inv_sbnr(const char *b, size_t n, uint64_t base)
{
    at_sbnr s;
    uint64_t err = UINT64_MAX;
    at_status st = at_parse_sbnr(b, n, base, &s, &err);
    inv_status(st, err, n, base);
    if (st == AT_OK) {
        const at_str *f[] = {&s.size_text, &s.issuer, &s.serial, &s.subject, &s.signature,
                             &s.thumb_alg, &s.thumbprint, &s.expiry};
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
            assert_true(str_ok(f[i], b, n, base));
        assert_true(span_ok(s.index_span, n, base) && s.index_span.len > 0);
        if (s.kind != AT_SBNR_CORRUPTED) {
            assert_non_null(s.issuer.ptr);
            assert_non_null(s.thumbprint.ptr);
            /* issuer < serial < subject < signature < ... in the line */
            assert_true(s.issuer.ptr + s.issuer.len < s.serial.ptr);
            assert_true(s.serial.ptr + s.serial.len < s.subject.ptr);
            assert_true(s.subject.ptr + s.subject.len < s.signature.ptr);
        }
    }
    return st;
}

static at_status inv_ciev(const char *b, size_t n, uint64_t base)
{
    at_str name, rest;
    uint64_t err = UINT64_MAX;
    at_status st = at_parse_ciev(b, n, base, &name, &rest, &err);
    inv_status(st, err, n, base);
    assert_true(str_ok(&name, b, n, base) && str_ok(&rest, b, n, base));
    if (st == AT_OK)
        assert_true(name.ptr && name.len > 0);

    at_ciev_is_cert c;
    err = UINT64_MAX;
    at_status st2 = at_parse_ciev_is_cert(b, n, base, &c, &err);
    inv_status(st2, err, n, base);
    if (st2 == AT_OK) {
        const at_str *f[] = {&c.issuer, &c.serial, &c.subject, &c.sig_alg, &c.thumb_alg,
                             &c.thumbprint};
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
            assert_true(f[i]->ptr && str_ok(f[i], b, n, base));
        assert_true(c.serial.len > 0);
        for (size_t i = 0; i < c.serial.len; i++)
            assert_true(strchr("0123456789ABCDEFabcdef", c.serial.ptr[i]) != NULL);
        assert_true(memchr(c.thumbprint.ptr, ',', c.thumbprint.len) == NULL);
        assert_true(st == AT_OK);
    }
    return st2;
}

static at_status inv_sis(const char *b, size_t n, uint64_t base)
{
    at_sis s;
    uint64_t err = UINT64_MAX;
    at_status st = at_parse_sis(b, n, base, &s, &err);
    inv_status(st, err, n, base);
    if (st == AT_OK) {
        assert_true(str_ok(&s.info_text, b, n, base));
        assert_true(s.has_info_text == (s.info_text.ptr != NULL));
        assert_true(span_ok(s.srv_profile_span, n, base) && s.srv_profile_span.len > 0);
        assert_true(span_ok(s.urc_cause_span, n, base) && s.urc_cause_span.len > 0);
        if (s.has_info_id)
            assert_true(span_ok(s.info_id_span, n, base) && s.info_id_span.len > 0);
    }
    return st;
}

static at_status inv_sis_rw(const char *b, size_t n, uint64_t base)
{
    at_sis_rw r;
    uint64_t err = UINT64_MAX;
    at_status st = at_parse_sis_rw(b, n, base, &r, &err);
    inv_status(st, err, n, base);
    if (st == AT_OK) {
        assert_true(span_ok(r.count_span, n, base) && r.count_span.len > 0);
        assert_true(r.count_negative <= 0);
        assert_true(r.count_negative == 0 || r.count == 0);
    }
    return st;
}

static void inv_all(const char *b, size_t n, uint64_t base)
{
    inv_cmdline(b, n, base);
    inv_result(b, n, base, false);
    inv_result(b, n, base, true);
    assert_true(at_parse_secure_result(b, n) <= AT_SEC_OTHER);
    inv_sbnr(b, n, base);
    inv_ciev(b, n, base);
    inv_sis(b, n, base);
    inv_sis_rw(b, n, base);
    at_str p = at_line_prefix(b, n, base);
    assert_true(str_ok(&p, b, n, base));
    if (p.ptr) {
        assert_true(p.ptr == b && p.len >= 2 && p.len < n && b[p.len] == ':');
    }
}

/* Copies @p k bytes into an exactly sized heap block so that ASan catches
 * any read past the end. */
static char *exact_copy(const char *s, size_t k)
{
    char *b = malloc(k ? k : 1);
    assert_non_null(b);
    memcpy(b, s, k);
    return b;
}

/* ------------------------------------------------------------------ */
/* Command lines                                                       */
/* ------------------------------------------------------------------ */

static at_cmdline parse_ok(const char *line)
{
    at_cmdline cl;
    uint64_t err = 0;
    at_status st = at_parse_cmdline(line, strlen(line), BASE, &cl, &err);
    if (st != AT_OK)
        fail_msg("'%s': status %d at %llu", line, st, (unsigned long long)err);
    return cl;
}

static void expect_cmd_error_(const char *line, size_t at, int ln)
{
    at_cmdline cl;
    uint64_t err = 0;
    at_status st = at_parse_cmdline(line, strlen(line), BASE, &cl, &err);
    if (st != AT_ERR_SYNTAX || err != BASE + at)
        fail_msg("line %d: '%s': status %d err %llu, want syntax error at %zu", ln, line, st,
                 (unsigned long long)err, at);
    assert_int_equal(cl.n_cmds, 0);
}
#define EXPECT_CMD_ERROR(line, at) expect_cmd_error_(line, at, __LINE__)

static void test_cmd_sbnw(void **state)
{
    (void)state;
    const char *l = "AT^SBNW=is_cert,1";
    at_cmdline cl = parse_ok(l);
    assert_int_equal(cl.n_cmds, 1);
    assert_false(cl.cmds_dropped);
    const at_command *c = &cl.cmds[0];
    CHECK_STR(c->name, l, BASE, "^SBNW", 2);
    assert_int_equal(c->type, AT_CMDT_SET);
    assert_int_equal(c->n_params, 2);
    CHECK_STR(c->params[0], l, BASE, "is_cert", 8);
    CHECK_STR(c->params[1], l, BASE, "1", 16);
    assert_false(c->param_quoted[0]);
    assert_false(c->param_quoted[1]);
    assert_false(c->params_dropped);
    CHECK_ABSENT(c->basic_value);
    CHECK_SPAN(c->span, BASE + 2, 15);
    assert_true(at_name_is(&c->name, "^sbnw"));

    /* quoted type: the value drops the quotes, the span keeps them */
    l = "AT^SBNW=\"is_cert\",1";
    cl = parse_ok(l);
    c = &cl.cmds[0];
    assert_int_equal(c->n_params, 2);
    assert_true(c->param_quoted[0]);
    assert_int_equal(c->params[0].len, 7);
    assert_memory_equal(c->params[0].ptr, "is_cert", 7);
    assert_ptr_equal(c->params[0].ptr, l + 9);
    CHECK_SPAN(c->params[0].span, BASE + 8, 9);
    CHECK_STR(c->params[1], l, BASE, "1", 18);
    CHECK_SPAN(c->span, BASE + 2, 17);
}

static void test_cmd_protocol_examples(void **state)
{
    (void)state;
    struct {
        const char *line, *name;
        at_cmd_type type;
        unsigned n_params;
        const char *p[3];
    } cases[] = {
        {"AT^SBNR=is_cert", "^SBNR", AT_CMDT_SET, 1, {"is_cert"}},
        {"AT^SIND=is_cert,1", "^SIND", AT_CMDT_SET, 2, {"is_cert", "1"}},
        {"AT+CMER=3,0,0,2", "+CMER", AT_CMDT_SET, 4, {"3", "0", "0"}},
        {"AT^SISW=1,20", "^SISW", AT_CMDT_SET, 2, {"1", "20"}},
        {"AT^SISR=1,1500", "^SISR", AT_CMDT_SET, 2, {"1", "1500"}},
        {"AT^SIST=1", "^SIST", AT_CMDT_SET, 1, {"1"}},
        {"AT+CGSN", "+CGSN", AT_CMDT_EXEC, 0, {NULL}},
        {"AT+GSN", "+GSN", AT_CMDT_EXEC, 0, {NULL}},
        {"AT+CMEE=2", "+CMEE", AT_CMDT_SET, 1, {"2"}},
        {"AT+CREG?", "+CREG", AT_CMDT_READ, 0, {NULL}},
        {"AT+CREG=?", "+CREG", AT_CMDT_TEST, 0, {NULL}},
        {"at+cgsn", "+cgsn", AT_CMDT_EXEC, 0, {NULL}},
        {"At+CGSN", "+CGSN", AT_CMDT_EXEC, 0, {NULL}},
        {"AT^SICS=0,conType,GPRS0", "^SICS", AT_CMDT_SET, 3, {"0", "conType", "GPRS0"}},
        {"AT+X=", "+X", AT_CMDT_SET, 0, {NULL}},
        {"AT+X=,", "+X", AT_CMDT_SET, 2, {"", ""}},
        {"AT+X=1,", "+X", AT_CMDT_SET, 2, {"1", ""}},
        {"AT+A.B/C:D_E-F!G%H", "+A.B/C:D_E-F!G%H", AT_CMDT_EXEC, 0, {NULL}},
        {"AT*CNTI=0", "*CNTI", AT_CMDT_SET, 1, {"0"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *l = cases[i].line;
        at_cmdline cl = parse_ok(l);
        assert_int_equal(cl.n_cmds, 1);
        const at_command *c = &cl.cmds[0];
        CHECK_STR(c->name, l, BASE, cases[i].name, 2);
        assert_int_equal(c->type, cases[i].type);
        assert_int_equal(c->n_params, cases[i].n_params);
        size_t from = 2 + strlen(cases[i].name) + 1; /* after '=' */
        for (unsigned k = 0; k < c->n_params && k < 3; k++) {
            if (!cases[i].p[k])
                break;
            CHECK_STR(c->params[k], l, BASE, cases[i].p[k], from);
            assert_false(c->param_quoted[k]);
            from += strlen(cases[i].p[k]) + 1;
        }
        CHECK_SPAN(c->span, BASE + 2, (uint32_t)(strlen(l) - 2));
    }
}

static void test_cmd_quoted_params(void **state)
{
    (void)state;
    const char *l = "AT^SISS=1,\"address\",\"https://127.0.0.1:4443/\"";
    at_cmdline cl = parse_ok(l);
    const at_command *c = &cl.cmds[0];
    assert_int_equal(c->n_params, 3);
    CHECK_STR(c->params[0], l, BASE, "1", 8);
    assert_false(c->param_quoted[0]);
    assert_true(c->param_quoted[1] && c->param_quoted[2]);
    assert_ptr_equal(c->params[1].ptr, l + 11);
    assert_int_equal(c->params[1].len, 7);
    CHECK_SPAN(c->params[1].span, BASE + 10, 9);
    assert_ptr_equal(c->params[2].ptr, l + 21);
    assert_int_equal(c->params[2].len, strlen("https://127.0.0.1:4443/"));
    CHECK_SPAN(c->params[2].span, BASE + 20, (uint32_t)strlen("\"https://127.0.0.1:4443/\""));
    CHECK_SPAN(c->span, BASE + 2, (uint32_t)strlen(l) - 2);

    /* commas inside quotes do not split */
    l = "AT^SISS=1,secOpt,\"1,5,9\"";
    cl = parse_ok(l);
    c = &cl.cmds[0];
    assert_int_equal(c->n_params, 3);
    CHECK_STR(c->params[1], l, BASE, "secOpt", 10);
    assert_memory_equal(c->params[2].ptr, "1,5,9", 5);
    assert_int_equal(c->params[2].len, 5);
    CHECK_SPAN(c->params[2].span, BASE + 17, 7);

    /* ';' inside quotes does not end the command */
    l = "AT+X=\"a;b\";+Y";
    cl = parse_ok(l);
    assert_int_equal(cl.n_cmds, 2);
    assert_memory_equal(cl.cmds[0].params[0].ptr, "a;b", 3);
    CHECK_STR(cl.cmds[1].name, l, BASE, "+Y", 11);

    /* empty quoted string */
    l = "AT+X=\"\",1";
    cl = parse_ok(l);
    assert_int_equal(cl.cmds[0].n_params, 2);
    assert_true(cl.cmds[0].param_quoted[0]);
    assert_ptr_equal(cl.cmds[0].params[0].ptr, l + 6);
    assert_int_equal(cl.cmds[0].params[0].len, 0);
    CHECK_SPAN(cl.cmds[0].params[0].span, BASE + 5, 2);
}

static void test_cmd_empty_params_and_blanks(void **state)
{
    (void)state;
    const char *l = "AT^SISS=1,,x";
    at_cmdline cl = parse_ok(l);
    const at_command *c = &cl.cmds[0];
    assert_int_equal(c->n_params, 3);
    CHECK_STR(c->params[0], l, BASE, "1", 8);
    CHECK_STR(c->params[1], l, BASE, "", 10);
    CHECK_STR(c->params[2], l, BASE, "x", 11);

    /* blanks outside quotes are ignored, inside kept */
    l = "AT +CMEE = 2 ; +X= a , \" b \"  ";
    cl = parse_ok(l);
    assert_int_equal(cl.n_cmds, 2);
    CHECK_STR(cl.cmds[0].name, l, BASE, "+CMEE", 3);
    assert_int_equal(cl.cmds[0].type, AT_CMDT_SET);
    CHECK_STR(cl.cmds[0].params[0], l, BASE, "2", 11);
    CHECK_SPAN(cl.cmds[0].span, BASE + 3, 9);
    CHECK_STR(cl.cmds[1].name, l, BASE, "+X", 15);
    assert_int_equal(cl.cmds[1].n_params, 2);
    CHECK_STR(cl.cmds[1].params[0], l, BASE, "a", 19);
    assert_ptr_equal(cl.cmds[1].params[1].ptr, l + 24);
    assert_int_equal(cl.cmds[1].params[1].len, 3);
    CHECK_SPAN(cl.cmds[1].span, BASE + 15, 13);
}

static void test_cmd_basic(void **state)
{
    (void)state;
    struct {
        const char *line, *name, *value;
        at_cmd_type type;
    } one[] = {
        {"ATE0", "E", "0", AT_CMDT_EXEC},
        {"ATV0", "V", "0", AT_CMDT_EXEC},
        {"AT\\Q1", "\\Q", "1", AT_CMDT_EXEC},
        {"AT&F", "&F", NULL, AT_CMDT_EXEC},
        {"AT&W", "&W", NULL, AT_CMDT_EXEC},
        {"AT&F0", "&F", "0", AT_CMDT_EXEC},
        {"ATI", "I", NULL, AT_CMDT_EXEC},
        {"ATi", "i", NULL, AT_CMDT_EXEC},
        {"ATZ", "Z", NULL, AT_CMDT_EXEC},
        {"ATQ0", "Q", "0", AT_CMDT_EXEC},
        {"ATX4", "X", "4", AT_CMDT_EXEC},
        {"ATS0=1", "S0", "1", AT_CMDT_SET},
        {"ATS0=", "S0", "", AT_CMDT_SET},
        {"ATS7?", "S7", NULL, AT_CMDT_READ},
        {"ATS12=50", "S12", "50", AT_CMDT_SET},
        {"ATI3", "I", "3", AT_CMDT_EXEC},
    };
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        const char *l = one[i].line;
        at_cmdline cl = parse_ok(l);
        assert_int_equal(cl.n_cmds, 1);
        const at_command *c = &cl.cmds[0];
        CHECK_STR(c->name, l, BASE, one[i].name, 2);
        assert_int_equal(c->type, one[i].type);
        assert_int_equal(c->n_params, 0);
        if (one[i].value) {
            size_t at = strlen(l) - strlen(one[i].value);
            if (one[i].type == AT_CMDT_READ)
                at--;
            CHECK_STR(c->basic_value, l, BASE, one[i].value, at);
        } else {
            CHECK_ABSENT(c->basic_value);
        }
        CHECK_SPAN(c->span, BASE + 2, (uint32_t)strlen(l) - 2);
    }

    /* chained without separator */
    const char *l = "ATE0V1";
    at_cmdline cl = parse_ok(l);
    assert_int_equal(cl.n_cmds, 2);
    CHECK_STR(cl.cmds[0].name, l, BASE, "E", 2);
    CHECK_STR(cl.cmds[0].basic_value, l, BASE, "0", 3);
    CHECK_SPAN(cl.cmds[0].span, BASE + 2, 2);
    CHECK_STR(cl.cmds[1].name, l, BASE, "V", 4);
    CHECK_STR(cl.cmds[1].basic_value, l, BASE, "1", 5);
    CHECK_SPAN(cl.cmds[1].span, BASE + 4, 2);

    l = "AT&FE0\\Q3S0=2I";
    cl = parse_ok(l);
    assert_int_equal(cl.n_cmds, 5);
    CHECK_STR(cl.cmds[0].name, l, BASE, "&F", 2);
    CHECK_ABSENT(cl.cmds[0].basic_value);
    CHECK_STR(cl.cmds[1].name, l, BASE, "E", 4);
    CHECK_STR(cl.cmds[2].name, l, BASE, "\\Q", 6);
    CHECK_STR(cl.cmds[2].basic_value, l, BASE, "3", 8);
    CHECK_STR(cl.cmds[3].name, l, BASE, "S0", 9);
    CHECK_STR(cl.cmds[3].basic_value, l, BASE, "2", 12);
    CHECK_STR(cl.cmds[4].name, l, BASE, "I", 13);

    /* basic then extended, extended then basic after ';' */
    l = "ATE0+CMEE=2;V1";
    cl = parse_ok(l);
    assert_int_equal(cl.n_cmds, 3);
    CHECK_STR(cl.cmds[1].name, l, BASE, "+CMEE", 4);
    CHECK_STR(cl.cmds[2].name, l, BASE, "V", 12);

    /* an empty S-register value: the span ends at '=', not at what follows */
    l = "ATS0= E1";
    cl = parse_ok(l);
    assert_int_equal(cl.n_cmds, 2);
    CHECK_STR(cl.cmds[0].basic_value, l, BASE, "", 6);
    CHECK_SPAN(cl.cmds[0].span, BASE + 2, 3);
    CHECK_STR(cl.cmds[1].name, l, BASE, "E", 6);

    /* V.250 ignores blanks: "AT E 0" */
    l = "AT E 0";
    cl = parse_ok(l);
    assert_int_equal(cl.n_cmds, 1);
    CHECK_STR(cl.cmds[0].basic_value, l, BASE, "0", 5);
}

static void test_cmd_dial(void **state)
{
    (void)state;
    const char *l = "ATD*99#";
    at_cmdline cl = parse_ok(l);
    assert_int_equal(cl.n_cmds, 1);
    CHECK_STR(cl.cmds[0].name, l, BASE, "D", 2);
    assert_int_equal(cl.cmds[0].n_params, 1);
    CHECK_STR(cl.cmds[0].params[0], l, BASE, "*99#", 3);

    /* the dial string runs to the end, ';' and quotes included */
    l = "ATE0D +49 30 1234;+X=\"a";
    cl = parse_ok(l);
    assert_int_equal(cl.n_cmds, 2);
    CHECK_STR(cl.cmds[1].params[0], l, BASE, "+49 30 1234;+X=\"a", 6);

    l = "ATD";
    cl = parse_ok(l);
    assert_int_equal(cl.n_cmds, 1);
    assert_int_equal(cl.cmds[0].n_params, 0);
}

static void test_cmd_chain(void **state)
{
    (void)state;
    const char *l = "AT+CMEE=2;+CGSN";
    at_cmdline cl = parse_ok(l);
    assert_int_equal(cl.n_cmds, 2);
    CHECK_STR(cl.cmds[0].name, l, BASE, "+CMEE", 2);
    CHECK_SPAN(cl.cmds[0].span, BASE + 2, 7);
    CHECK_STR(cl.cmds[1].name, l, BASE, "+CGSN", 10);
    assert_int_equal(cl.cmds[1].type, AT_CMDT_EXEC);
    CHECK_SPAN(cl.cmds[1].span, BASE + 10, 5);

    l = "AT+CREG?;+CREG=?;^SBNR=is_cert;";
    cl = parse_ok(l);
    assert_int_equal(cl.n_cmds, 3);
    assert_int_equal(cl.cmds[0].type, AT_CMDT_READ);
    assert_int_equal(cl.cmds[1].type, AT_CMDT_TEST);
    assert_int_equal(cl.cmds[2].type, AT_CMDT_SET);

    /* AT alone: a valid line with no command */
    cl = parse_ok("AT");
    assert_int_equal(cl.n_cmds, 0);
    assert_false(cl.cmds_dropped);
    cl = parse_ok("AT  ");
    assert_int_equal(cl.n_cmds, 0);
}

static void test_cmd_repeat(void **state)
{
    (void)state;
    const char *l = "A/";
    at_cmdline cl = parse_ok(l);
    assert_int_equal(cl.n_cmds, 1);
    assert_int_equal(cl.cmds[0].type, AT_CMDT_REPEAT);
    CHECK_STR(cl.cmds[0].name, l, BASE, "A/", 0);
    CHECK_SPAN(cl.cmds[0].span, BASE, 2);
    cl = parse_ok("a/ ");
    assert_int_equal(cl.cmds[0].type, AT_CMDT_REPEAT);
    EXPECT_CMD_ERROR("A/E0", 2);
}

static void test_cmd_limits(void **state)
{
    (void)state;
    char l[256];
    /* exactly AT_CMD_MAX_PARAMS: nothing dropped */
    strcpy(l, "AT+X=0");
    for (unsigned i = 1; i < AT_CMD_MAX_PARAMS; i++)
        sprintf(l + strlen(l), ",%u", i % 10);
    at_cmdline cl = parse_ok(l);
    assert_int_equal(cl.cmds[0].n_params, AT_CMD_MAX_PARAMS);
    assert_false(cl.cmds[0].params_dropped);
    /* one more: flagged, the first ones kept, the rest still checked */
    strcat(l, ",\"x\";+Y");
    cl = parse_ok(l);
    assert_int_equal(cl.n_cmds, 2);
    assert_int_equal(cl.cmds[0].n_params, AT_CMD_MAX_PARAMS);
    assert_true(cl.cmds[0].params_dropped);
    CHECK_STR(cl.cmds[0].params[15], l, BASE, "5", 5 + 15 * 2);
    assert_false(cl.cmds[1].params_dropped);
    strcat(l, "=,\"");
    EXPECT_CMD_ERROR(l, strlen(l) - 1); /* unterminated quote after dropped ones */

    /* chain: exactly AT_CMD_MAX_CHAIN, then one more */
    strcpy(l, "AT");
    for (unsigned i = 0; i < AT_CMD_MAX_CHAIN; i++)
        strcat(l, "+A;");
    cl = parse_ok(l);
    assert_int_equal(cl.n_cmds, AT_CMD_MAX_CHAIN);
    assert_false(cl.cmds_dropped);
    strcat(l, "E1");
    cl = parse_ok(l);
    assert_int_equal(cl.n_cmds, AT_CMD_MAX_CHAIN);
    assert_true(cl.cmds_dropped);
    CHECK_STR(cl.cmds[7].name, l, BASE, "+A", 2 + 7 * 3);
    /* a syntax error in a dropped command still fails the line */
    strcat(l, "+");
    EXPECT_CMD_ERROR(l, strlen(l));
}

static void test_cmd_errors(void **state)
{
    (void)state;
    EXPECT_CMD_ERROR("", 0);
    EXPECT_CMD_ERROR("   ", 0);
    EXPECT_CMD_ERROR("OK", 0);
    EXPECT_CMD_ERROR("A", 1);
    EXPECT_CMD_ERROR("AB", 1);
    EXPECT_CMD_ERROR(" AT", 0);
    EXPECT_CMD_ERROR("AT^SISS=1,\"abc", 10);       /* unterminated quote */
    EXPECT_CMD_ERROR("AT^SISS=1,\"a\",\"b", 14);   /* second one unterminated */
    EXPECT_CMD_ERROR("AT+", 3);                    /* prefix, no name */
    EXPECT_CMD_ERROR("AT+;", 3);
    EXPECT_CMD_ERROR("AT+CGSN X", 8);              /* no ';' before the next command */
    EXPECT_CMD_ERROR("AT+CGSN&F", 7);
    EXPECT_CMD_ERROR("AT&", 3);
    EXPECT_CMD_ERROR("AT&1", 3);
    EXPECT_CMD_ERROR("AT\\", 3);
    EXPECT_CMD_ERROR("AT\"", 2);
    EXPECT_CMD_ERROR("AT1", 2);
    EXPECT_CMD_ERROR("AT=1", 2);
    EXPECT_CMD_ERROR("ATE?", 3);                   /* '?' only for S registers */
    EXPECT_CMD_ERROR("AT+X=\"a\"b", 8);            /* text glued to a string */
    EXPECT_CMD_ERROR("AT+X=a\"b\"", 6);            /* quote inside an unquoted value */
    EXPECT_CMD_ERROR("AT+X=?1", 6);
    EXPECT_CMD_ERROR("AT+X??", 5);
    EXPECT_CMD_ERROR("AT+X\x01", 4);
    EXPECT_CMD_ERROR("AT\xff", 2);

    /* argument checks */
    at_cmdline cl;
    assert_int_equal(at_parse_cmdline(NULL, 2, 0, &cl, NULL), AT_ERR_ARG);
    assert_int_equal(at_parse_cmdline("AT", 2, 0, NULL, NULL), AT_ERR_ARG);
    /* err_off may be NULL */
    assert_int_equal(at_parse_cmdline("X", 1, 0, &cl, NULL), AT_ERR_SYNTAX);
}

static void test_cmd_not_nul_terminated(void **state)
{
    (void)state;
    /* The parser must stop at len: what follows is another command. */
    const char *buf = "AT+CGSN;+CMEE=2";
    at_cmdline cl;
    assert_int_equal(at_parse_cmdline(buf, 7, BASE, &cl, NULL), AT_OK);
    assert_int_equal(cl.n_cmds, 1);
    CHECK_STR(cl.cmds[0].name, buf, BASE, "+CGSN", 2);
    /* a quote closed only beyond len is unterminated */
    buf = "AT+X=\"ab\"";
    uint64_t err = 0;
    assert_int_equal(at_parse_cmdline(buf, 8, BASE, &cl, &err), AT_ERR_SYNTAX);
    assert_int_equal(err, BASE + 5);
}

/* at_parse_cmdline writes only the counted entries: one output reused
 * for a long line and then short ones must show nothing of the long one
 * in what the counts cover, and a syntax error clears it all. */
static void test_cmd_reused_output(void **state)
{
    (void)state;
    const char *big = "AT+A=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17;+B=\"x\";C1;E;F;G;H;I;J;K";
    at_cmdline cl;
    assert_int_equal(at_parse_cmdline(big, strlen(big), BASE, &cl, NULL), AT_OK);
    assert_int_equal(cl.n_cmds, AT_CMD_MAX_CHAIN);
    assert_true(cl.cmds_dropped);
    assert_true(cl.cmds[0].params_dropped);

    const char *l = "ATE0";
    assert_int_equal(at_parse_cmdline(l, strlen(l), BASE, &cl, NULL), AT_OK);
    assert_int_equal(cl.n_cmds, 1);
    assert_false(cl.cmds_dropped);
    CHECK_STR(cl.cmds[0].name, l, BASE, "E", 2);
    assert_int_equal(cl.cmds[0].type, AT_CMDT_EXEC);
    assert_int_equal(cl.cmds[0].n_params, 0);
    assert_false(cl.cmds[0].params_dropped);
    CHECK_STR(cl.cmds[0].basic_value, l, BASE, "0", 3);
    assert_int_equal(cl.cmds[0].span.off, BASE + 2);
    assert_int_equal(cl.cmds[0].span.len, 2);

    assert_int_equal(at_parse_cmdline(big, strlen(big), BASE, &cl, NULL), AT_OK);
    l = "AT+X";
    assert_int_equal(at_parse_cmdline(l, strlen(l), BASE, &cl, NULL), AT_OK);
    assert_int_equal(cl.n_cmds, 1);
    CHECK_STR(cl.cmds[0].name, l, BASE, "+X", 2);
    assert_int_equal(cl.cmds[0].n_params, 0);
    assert_false(cl.cmds[0].params_dropped);
    CHECK_ABSENT(cl.cmds[0].basic_value);

    l = "A/";
    assert_int_equal(at_parse_cmdline(l, strlen(l), BASE, &cl, NULL), AT_OK);
    assert_int_equal(cl.n_cmds, 1);
    assert_int_equal(cl.cmds[0].type, AT_CMDT_REPEAT);
    assert_int_equal(cl.cmds[0].n_params, 0);
    CHECK_ABSENT(cl.cmds[0].basic_value);

    assert_int_equal(at_parse_cmdline(big, strlen(big), BASE, &cl, NULL), AT_OK);
    l = "AT+X=\"a";
    assert_int_equal(at_parse_cmdline(l, strlen(l), BASE, &cl, NULL), AT_ERR_SYNTAX);
    at_cmdline zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&cl, &zero, sizeof cl);
}

static void test_name_is(void **state)
{
    (void)state;
    const char *l = "AT^sbnw=is_cert,1";
    at_cmdline cl = parse_ok(l);
    assert_true(at_name_is(&cl.cmds[0].name, "^SBNW"));
    assert_true(at_name_is(&cl.cmds[0].name, "^sbnw"));
    assert_false(at_name_is(&cl.cmds[0].name, "^SBNR"));
    assert_false(at_name_is(&cl.cmds[0].name, "^SBN"));
    assert_false(at_name_is(&cl.cmds[0].name, "^SBNWX"));
    assert_false(at_name_is(&cl.cmds[0].name, NULL));
    at_str none = {NULL, 0, {0, 0}};
    assert_false(at_name_is(&none, ""));
    assert_false(at_name_is(NULL, "x"));
}

/* Every prefix of valid lines, in exactly sized buffers: never a crash, a
 * defined status, and an unterminated quote reported at the quote. */
static void test_cmd_truncated(void **state)
{
    (void)state;
    const char *lines[] = {
        "AT^SISS=1,\"address\",\"https://127.0.0.1:4443/\"",
        "AT^SBNW=\"is_cert\",1;+CMEE=2;E0V1&F\\Q3S7?",
        "ATS0=1D*99#;",
        "A/",
    };
    for (size_t li = 0; li < sizeof lines / sizeof lines[0]; li++) {
        size_t len = strlen(lines[li]);
        for (size_t k = 0; k <= len; k++) {
            char *b = exact_copy(lines[li], k);
            at_status st = inv_cmdline(b, k, BASE);
            /* count quotes outside the dial string: an odd count means an
             * unterminated string, reported at the last opening quote */
            size_t quotes = 0, last_q = 0;
            const char *d = memchr(b, 'D', k);
            size_t stop = d ? (size_t)(d - b) : k;
            for (size_t i = 0; i < stop; i++)
                if (b[i] == '"') {
                    if (quotes % 2 == 0)
                        last_q = i;
                    quotes++;
                }
            if (quotes % 2) {
                uint64_t err = 0;
                at_cmdline cl;
                assert_int_equal(at_parse_cmdline(b, k, BASE, &cl, &err), AT_ERR_SYNTAX);
                assert_int_equal(err, BASE + last_q);
            } else if (k >= 2 && li < 3) {
                /* a cut at a '&', '\', '+' or '^' leaves an incomplete command */
                char lc = b[k - 1];
                bool incomplete = lc == '&' || lc == '\\' || lc == '+' || lc == '^';
                assert_int_equal(st, incomplete ? AT_ERR_SYNTAX : AT_OK);
            }
            free(b);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Result codes                                                        */
/* ------------------------------------------------------------------ */

static at_result result_of(const char *l, bool numeric)
{
    at_result r;
    assert_int_equal(at_parse_result(l, strlen(l), BASE, numeric, &r), AT_OK);
    return r;
}

static void test_result_verbose(void **state)
{
    (void)state;
    struct {
        const char *line;
        at_result_kind kind;
    } cases[] = {
        {"OK", AT_RES_OK},
        {"OK  ", AT_RES_OK},
        {"ERROR", AT_RES_ERROR},
        {"ERROR\t", AT_RES_ERROR},
        {"CONNECT", AT_RES_CONNECT},
        {"NO CARRIER", AT_RES_NO_CARRIER},
        {"BUSY", AT_RES_BUSY},
        {"NO ANSWER", AT_RES_NO_ANSWER},
        {"NO DIALTONE", AT_RES_NO_DIALTONE},
        {"RING", AT_RES_RING},
        /* not result codes */
        {"", AT_RES_NONE},
        {"  ", AT_RES_NONE},
        {"ok", AT_RES_NONE},
        {"Ok", AT_RES_NONE},
        {" OK", AT_RES_NONE},
        {"OKAY", AT_RES_NONE},
        {"O", AT_RES_NONE},
        {"ERRO", AT_RES_NONE},
        {"CONNECTED", AT_RES_NONE},
        {"NO CARRIERS", AT_RES_NONE},
        {"NO  CARRIER", AT_RES_NONE},
        {"+CMEERROR: 3", AT_RES_NONE},
        {"+CME ERROR 3", AT_RES_NONE},
        {"0", AT_RES_NONE}, /* digits only in numeric mode */
        {"4", AT_RES_NONE},
        {"^SBNR: 0, size: \"0\"", AT_RES_NONE},
        {"SECURE CMD ERROR", AT_RES_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        at_result r = result_of(cases[i].line, false);
        if (r.kind != cases[i].kind)
            fail_msg("'%s': kind %d, want %d", cases[i].line, r.kind, cases[i].kind);
        assert_false(r.numeric);
        assert_false(r.has_code);
        CHECK_ABSENT(r.text);
    }

    const char *l = "CONNECT 115200";
    at_result r = result_of(l, false);
    assert_int_equal(r.kind, AT_RES_CONNECT);
    CHECK_STR(r.text, l, BASE, "115200", 8);
    l = "CONNECT  9600 ";
    r = result_of(l, false);
    CHECK_STR(r.text, l, BASE, "9600", 9);
    r = result_of("CONNECT ", false);
    assert_int_equal(r.kind, AT_RES_CONNECT);
    CHECK_ABSENT(r.text);

    /* verbose still recognised in numeric mode */
    r = result_of("OK", true);
    assert_int_equal(r.kind, AT_RES_OK);
    assert_false(r.numeric);
}

static void test_result_numeric(void **state)
{
    (void)state;
    const at_result_kind want[10] = {
        AT_RES_OK, AT_RES_CONNECT, AT_RES_RING, AT_RES_NO_CARRIER, AT_RES_ERROR,
        AT_RES_NONE, AT_RES_NO_DIALTONE, AT_RES_BUSY, AT_RES_NO_ANSWER, AT_RES_NONE,
    };
    for (int d = 0; d < 10; d++) {
        char l[3] = {(char)('0' + d), ' ', 0};
        at_result r = result_of(l, true);
        assert_int_equal(r.kind, want[d]);
        assert_int_equal(r.numeric, want[d] != AT_RES_NONE);
        r = result_of(l, false);
        assert_int_equal(r.kind, AT_RES_NONE);
    }
    assert_int_equal(result_of("10", true).kind, AT_RES_NONE);
    assert_int_equal(result_of("0K", true).kind, AT_RES_NONE);
    assert_int_equal(result_of("", true).kind, AT_RES_NONE);
}

static void test_result_cme_cms(void **state)
{
    (void)state;
    const char *l = "+CME ERROR: 10";
    at_result r = result_of(l, false);
    assert_int_equal(r.kind, AT_RES_CME_ERROR);
    assert_true(r.has_code);
    assert_int_equal(r.code, 10);
    CHECK_STR(r.text, l, BASE, "10", 12);
    assert_string_equal(at_cme_error_text(r.code), "SIM not inserted");

    l = "+CME ERROR: SIM not inserted  ";
    r = result_of(l, false);
    assert_int_equal(r.kind, AT_RES_CME_ERROR);
    assert_false(r.has_code);
    CHECK_STR(r.text, l, BASE, "SIM not inserted", 12);

    l = "+CMS ERROR: 500";
    r = result_of(l, true);
    assert_int_equal(r.kind, AT_RES_CMS_ERROR);
    assert_true(r.has_code);
    assert_int_equal(r.code, 500);
    assert_false(r.numeric);

    l = "+CME ERROR:3";
    r = result_of(l, false);
    assert_true(r.has_code);
    assert_int_equal(r.code, 3);
    CHECK_STR(r.text, l, BASE, "3", 11);

    r = result_of("+CME ERROR:", false);
    assert_int_equal(r.kind, AT_RES_CME_ERROR);
    assert_false(r.has_code);
    CHECK_ABSENT(r.text);

    /* the largest code that fits, and the first that does not */
    char big[40];
    sprintf(big, "+CME ERROR: %u", UINT_MAX);
    r = result_of(big, false);
    assert_true(r.has_code);
    assert_int_equal(r.code, UINT_MAX);
    sprintf(big, "+CME ERROR: %llu", (unsigned long long)UINT_MAX + 1);
    r = result_of(big, false);
    assert_int_equal(r.kind, AT_RES_CME_ERROR);
    assert_false(r.has_code);
    CHECK_STR(r.text, big, BASE, big + 12, 12);

    r = result_of("+CME ERROR: 12a", false);
    assert_false(r.has_code);
}

static void test_result_helpers(void **state)
{
    (void)state;
    assert_true(at_result_is_final(AT_RES_OK));
    assert_true(at_result_is_final(AT_RES_ERROR));
    assert_true(at_result_is_final(AT_RES_NO_CARRIER));
    assert_true(at_result_is_final(AT_RES_NO_DIALTONE));
    assert_true(at_result_is_final(AT_RES_BUSY));
    assert_true(at_result_is_final(AT_RES_NO_ANSWER));
    assert_true(at_result_is_final(AT_RES_CME_ERROR));
    assert_true(at_result_is_final(AT_RES_CMS_ERROR));
    assert_false(at_result_is_final(AT_RES_CONNECT));
    assert_false(at_result_is_final(AT_RES_RING));
    assert_false(at_result_is_final(AT_RES_NONE));

    assert_string_equal(at_result_name(AT_RES_OK), "OK");
    assert_string_equal(at_result_name(AT_RES_CONNECT), "CONNECT");
    assert_string_equal(at_result_name(AT_RES_NO_CARRIER), "NO CARRIER");
    assert_string_equal(at_result_name(AT_RES_CME_ERROR), "+CME ERROR");
    assert_string_equal(at_result_name(AT_RES_CMS_ERROR), "+CMS ERROR");
    assert_string_equal(at_result_name(AT_RES_NONE), "none");
    assert_string_equal(at_result_name((at_result_kind)99), "unknown");

    assert_string_equal(at_cme_error_text(0), "phone failure");
    assert_string_equal(at_cme_error_text(3), "operation not allowed");
    assert_string_equal(at_cme_error_text(4), "operation not supported");
    assert_string_equal(at_cme_error_text(11), "SIM PIN required");
    assert_string_equal(at_cme_error_text(16), "incorrect password");
    assert_string_equal(at_cme_error_text(32), "network not allowed - emergency calls only");
    assert_string_equal(at_cme_error_text(48), "hidden key required");
    assert_string_equal(at_cme_error_text(100), "unknown");
    assert_string_equal(at_cme_error_text(103), "Illegal MS");
    assert_string_equal(at_cme_error_text(107), "GPRS services not allowed");
    assert_string_equal(at_cme_error_text(115), "No Suitable Cells In Location Area");
    assert_string_equal(at_cme_error_text(148), "unspecified GPRS error");
    assert_string_equal(at_cme_error_text(149), "PDP authentication failure");
    assert_string_equal(at_cme_error_text(150), "invalid mobile class");
    assert_null(at_cme_error_text(8));   /* gaps in the table */
    assert_null(at_cme_error_text(19));
    assert_null(at_cme_error_text(257)); /* vendor-defined */
    assert_null(at_cme_error_text(UINT_MAX));
}

static void test_result_hostile(void **state)
{
    (void)state;
    at_result r;
    assert_int_equal(at_parse_result(NULL, 2, 0, false, &r), AT_ERR_ARG);
    assert_int_equal(at_parse_result("OK", 2, 0, false, NULL), AT_ERR_ARG);
    /* length bounds the match: "OK" inside "OKAY" */
    assert_int_equal(at_parse_result("OKAY", 2, 0, false, &r), AT_OK);
    assert_int_equal(r.kind, AT_RES_OK);
    const char *l = "+CME ERROR: 3";
    for (size_t k = 0; k <= strlen(l); k++) {
        char *b = exact_copy(l, k);
        inv_result(b, k, BASE, true);
        at_parse_result(b, k, BASE, false, &r);
        assert_int_equal(r.kind, k >= 11 ? AT_RES_CME_ERROR : AT_RES_NONE);
        assert_int_equal(r.has_code, k == strlen(l));
        free(b);
    }
}

/* ------------------------------------------------------------------ */
/* SECURE CMD                                                          */
/* ------------------------------------------------------------------ */

static at_secure_result sec(const char *l)
{
    return at_parse_secure_result(l, strlen(l));
}

static void test_secure_results(void **state)
{
    (void)state;
    assert_int_equal(sec("SECURE CMD READY: SEND COMMAND ..."), AT_SEC_READY);
    assert_int_equal(sec("SECURE CMD READY"), AT_SEC_READY);
    assert_int_equal(sec("SECURE CMD READY SEND"), AT_SEC_READY);
    assert_int_equal(sec("SECURE CMD END OK"), AT_SEC_END_OK);
    assert_int_equal(sec("SECURE CMD END OK  "), AT_SEC_END_OK);
    assert_int_equal(sec("SECURE CMD ERROR"), AT_SEC_ERROR);
    assert_int_equal(sec("SECURE CMD LENGTH ERROR"), AT_SEC_LENGTH_ERROR);
    assert_int_equal(sec("SECURE CMD TO MANY DATA ERROR"), AT_SEC_TOO_MANY_DATA);
    assert_int_equal(sec("SECURE CMD TOO MANY DATA ERROR"), AT_SEC_TOO_MANY_DATA);
    assert_int_equal(sec("SECURE CMD PUBLIC CERTIFICATE IS CORRUPTED"), AT_SEC_CERT_CORRUPTED);
    assert_int_equal(sec("SECURE CMD PRIVATE KEY WAS REMOVED"), AT_SEC_KEY_REMOVED);
    assert_int_equal(sec("SECURE CMD SERVICE TIMEOUT ERROR"), AT_SEC_SERVICE_TIMEOUT);
    /* other SECURE CMD text */
    assert_int_equal(sec("SECURE CMD"), AT_SEC_OTHER);
    assert_int_equal(sec("SECURE CMD "), AT_SEC_OTHER);
    assert_int_equal(sec("SECURE CMD FOO"), AT_SEC_OTHER);
    assert_int_equal(sec("SECURE CMD ERROR X"), AT_SEC_OTHER);
    assert_int_equal(sec("SECURE CMD READYX"), AT_SEC_OTHER);
    assert_int_equal(sec("SECURE CMD END"), AT_SEC_OTHER);
    assert_int_equal(sec("SECURE CMD TOOO MANY DATA ERROR"), AT_SEC_OTHER);
    /* not SECURE CMD lines */
    assert_int_equal(sec(""), AT_SEC_NONE);
    assert_int_equal(sec("SECURE"), AT_SEC_NONE);
    assert_int_equal(sec("SECURE CM"), AT_SEC_NONE);
    assert_int_equal(sec("SECURE CMDX"), AT_SEC_NONE);
    assert_int_equal(sec(" SECURE CMD ERROR"), AT_SEC_NONE);
    assert_int_equal(sec("secure cmd error"), AT_SEC_NONE);
    assert_int_equal(sec("OK"), AT_SEC_NONE);
    assert_int_equal(at_parse_secure_result(NULL, 5), AT_SEC_NONE);
    /* bounded by len */
    assert_int_equal(at_parse_secure_result("SECURE CMD ERRORS", 16), AT_SEC_ERROR);
    assert_int_equal(at_parse_secure_result("SECURE CMD END OK", 14), AT_SEC_OTHER);

    /* every prefix of a result: defined */
    const char *l = "SECURE CMD PUBLIC CERTIFICATE IS CORRUPTED";
    for (size_t k = 0; k <= strlen(l); k++) {
        char *b = exact_copy(l, k);
        at_secure_result r = at_parse_secure_result(b, k);
        at_secure_result want = k < 10 ? AT_SEC_NONE
                                : k == strlen(l) ? AT_SEC_CERT_CORRUPTED
                                                 : AT_SEC_OTHER;
        assert_int_equal(r, want);
        free(b);
    }
}

static void test_secure_names(void **state)
{
    (void)state;
    const char *want[] = {"none", "ready", "end_ok", "error", "length_error",
                          "too_many_data", "cert_corrupted", "key_removed",
                          "service_timeout", "other"};
    for (int r = AT_SEC_NONE; r <= AT_SEC_OTHER; r++)
        assert_string_equal(at_secure_result_name((at_secure_result)r), want[r]);
    assert_string_equal(at_secure_result_name((at_secure_result)77), "unknown");
}

/* ------------------------------------------------------------------ */
/* ^SBNR                                                               */
/* ------------------------------------------------------------------ */

#define DN_LEGACY "/C=DE/ST=Berlin/L=Berlin/O=departmentX/OU=DE/CN=firstname surname"
static const char sbnr_legacy[] =
    "^SBNR: 0, size: \"599\", issuer: \"" DN_LEGACY "\", serial number: \"4F2182FE\", "
    "subject: \"" DN_LEGACY "\", signature: \"sha1RSA\", thumbprint algorithm: \"sha1\", "
    "thumbprint: \"8CE388D8553D11F7E3BF64B6AA27C2C314B106D4\"";

static at_sbnr sbnr_ok(const char *l)
{
    at_sbnr s;
    uint64_t err = 0;
    at_status st = at_parse_sbnr(l, strlen(l), BASE, &s, &err);
    if (st != AT_OK)
        fail_msg("'%s': status %d at %llu", l, st, (unsigned long long)(err - BASE));
    return s;
}

static void expect_sbnr_error_(const char *l, size_t at, int ln)
{
    at_sbnr s;
    uint64_t err = 0;
    at_status st = at_parse_sbnr(l, strlen(l), BASE, &s, &err);
    if (st != AT_ERR_SYNTAX || err != BASE + at)
        fail_msg("line %d: '%s': status %d at %lld, want syntax error at %zu", ln, l, st,
                 (long long)(err - BASE), at);
}
#define EXPECT_SBNR_ERROR(l, at) expect_sbnr_error_(l, at, __LINE__)

static void test_sbnr_legacy(void **state)
{
    (void)state;
    const char *l = sbnr_legacy;
    at_sbnr s = sbnr_ok(l);
    assert_int_equal(s.kind, AT_SBNR_ENTRY);
    assert_int_equal(s.index, 0);
    CHECK_SPAN(s.index_span, BASE + 7, 1);
    assert_int_equal(s.size, 599);
    CHECK_STR(s.size_text, l, BASE, "599", 17);
    CHECK_STR(s.issuer, l, BASE, DN_LEGACY, AFTER(l, "issuer: \""));
    CHECK_STR(s.serial, l, BASE, "4F2182FE", AFTER(l, "serial number: \""));
    CHECK_STR(s.subject, l, BASE, DN_LEGACY, AFTER(l, "subject: \""));
    CHECK_STR(s.signature, l, BASE, "sha1RSA", AFTER(l, "signature: \""));
    CHECK_STR(s.thumb_alg, l, BASE, "sha1", AFTER(l, "thumbprint algorithm: \""));
    CHECK_STR(s.thumbprint, l, BASE, "8CE388D8553D11F7E3BF64B6AA27C2C314B106D4",
              AFTER(l, "thumbprint: \""));
    assert_false(s.has_expiry);
    CHECK_ABSENT(s.expiry);
    assert_int_equal(s.expiry_year, 0);

    /* trailing blanks are ignored, and a two-digit index */
    char buf[600];
    snprintf(buf, sizeof buf, "^SBNR: 10,size: \"599%s  ", strstr(sbnr_legacy, "\", issuer"));
    s = sbnr_ok(buf);
    assert_int_equal(s.index, 10);
    CHECK_SPAN(s.index_span, BASE + 7, 2);
    CHECK_STR(s.thumbprint, buf, BASE, "8CE388D8553D11F7E3BF64B6AA27C2C314B106D4",
              AFTER(buf, "thumbprint: \""));
}

static void test_sbnr_expiry(void **state)
{
    (void)state;
    char l[700];
    snprintf(l, sizeof l, "%s, expiry date: \"2035,10,29\"", sbnr_legacy);
    at_sbnr s = sbnr_ok(l);
    assert_int_equal(s.kind, AT_SBNR_ENTRY);
    assert_true(s.has_expiry);
    CHECK_STR(s.expiry, l, BASE, "2035,10,29", AFTER(l, "expiry date: \""));
    assert_int_equal(s.expiry_year, 2035);
    assert_int_equal(s.expiry_month, 10);
    assert_int_equal(s.expiry_day, 29);
    CHECK_STR(s.thumbprint, l, BASE, "8CE388D8553D11F7E3BF64B6AA27C2C314B106D4",
              AFTER(l, "thumbprint: \""));

    snprintf(l, sizeof l, "%s, expiry date: \"2035-01-02\"", sbnr_legacy);
    s = sbnr_ok(l);
    assert_int_equal(s.expiry_month, 1);
    assert_int_equal(s.expiry_day, 2);

    /* empty date on an empty slot of a newer module */
    const char *e = "^SBNR: 30, size: \"0\", issuer: \"\", serial number: \"\", subject: \"\", "
                    "signature: \"\", thumbprint algorithm: \"\", thumbprint: \"\", expiry date: \"\"";
    s = sbnr_ok(e);
    assert_int_equal(s.kind, AT_SBNR_EMPTY);
    assert_true(s.has_expiry);
    CHECK_STR(s.expiry, e, BASE, "", strlen(e) - 1);
    assert_int_equal(s.expiry_year, 0);

    /* bad dates: exact offending byte */
    size_t d = strlen(sbnr_legacy) + strlen(", expiry date: \"");
    snprintf(l, sizeof l, "%s, expiry date: \"2035,13,29\"", sbnr_legacy);
    EXPECT_SBNR_ERROR(l, d + 5);
    snprintf(l, sizeof l, "%s, expiry date: \"2035,10,0\"", sbnr_legacy);
    EXPECT_SBNR_ERROR(l, d + 8);
    snprintf(l, sizeof l, "%s, expiry date: \"2035,10\"", sbnr_legacy);
    EXPECT_SBNR_ERROR(l, d + 7);
    snprintf(l, sizeof l, "%s, expiry date: \"2035,10,29x\"", sbnr_legacy);
    EXPECT_SBNR_ERROR(l, d + 10);
    snprintf(l, sizeof l, "%s, expiry date: \"35 10 29\"", sbnr_legacy);
    EXPECT_SBNR_ERROR(l, d + 2);
    snprintf(l, sizeof l, "%s, expiry date: \"99999999999,1,1\"", sbnr_legacy);
    EXPECT_SBNR_ERROR(l, d + 9); /* the digit that overflows 32 bits */
}

static void test_sbnr_empty_and_corrupted(void **state)
{
    (void)state;
    const char *l = "^SBNR: 3, size: \"0\", issuer: \"\", serial number: \"\", subject: \"\", "
                    "signature: \"\", thumbprint algorithm: \"\", thumbprint: \"\"";
    at_sbnr s = sbnr_ok(l);
    assert_int_equal(s.kind, AT_SBNR_EMPTY);
    assert_int_equal(s.index, 3);
    assert_int_equal(s.size, 0);
    CHECK_STR(s.issuer, l, BASE, "", AFTER(l, "issuer: \""));
    CHECK_STR(s.serial, l, BASE, "", AFTER(l, "serial number: \""));
    CHECK_STR(s.subject, l, BASE, "", AFTER(l, "subject: \""));
    CHECK_STR(s.signature, l, BASE, "", AFTER(l, "signature: \""));
    CHECK_STR(s.thumb_alg, l, BASE, "", AFTER(l, "algorithm: \""));
    CHECK_STR(s.thumbprint, l, BASE, "", AFTER(l, "thumbprint: \""));

    /* size 0 with content is not an empty slot */
    const char *l2 = "^SBNR: 3, size: \"0\", issuer: \"/CN=a\", serial number: \"\", subject: \"\", "
                     "signature: \"\", thumbprint algorithm: \"\", thumbprint: \"\"";
    s = sbnr_ok(l2);
    assert_int_equal(s.kind, AT_SBNR_ENTRY);

    const char *c = "^SBNR: 7, certificate is corrupted";
    s = sbnr_ok(c);
    assert_int_equal(s.kind, AT_SBNR_CORRUPTED);
    assert_int_equal(s.index, 7);
    CHECK_SPAN(s.index_span, BASE + 7, 1);
    CHECK_ABSENT(s.issuer);
    CHECK_ABSENT(s.thumbprint);
    CHECK_ABSENT(s.size_text);
    s = sbnr_ok("^SBNR: 12,certificate is corrupted ");
    assert_int_equal(s.kind, AT_SBNR_CORRUPTED);
    assert_int_equal(s.index, 12);
    EXPECT_SBNR_ERROR("^SBNR: 7, certificate is corrupt", 10);
    EXPECT_SBNR_ERROR("^SBNR: 7, certificate is corrupted!", 10);
}

static void test_sbnr_hostile_dn(void **state)
{
    (void)state;
    /* DNs with '/', ',', quotes and even the separators' words */
    const char *iss = "/C=US/O=Acme \"Quoted\", Inc./OU=a/b, c/CN=x\", serial number: \"zz";
    const char *sub = "/CN=host\", signature: \"fake\", thumbprint: \"ABCD";
    char l[800];
    snprintf(l, sizeof l,
             "^SBNR: 1, size: \"1234\", issuer: \"%s\", serial number: \"00F1F4565330802E0B\", "
             "subject: \"%s\", signature: \"sha256RSA\", thumbprint algorithm: \"sha1\", "
             "thumbprint: \"0123456789ABCDEF0123456789ABCDEF01234567\", expiry date: \"2030,1,31\"",
             iss, sub);
    at_sbnr s = sbnr_ok(l);
    assert_int_equal(s.kind, AT_SBNR_ENTRY);
    assert_int_equal(s.size, 1234);
    CHECK_STR(s.issuer, l, BASE, iss, AFTER(l, "issuer: \""));
    CHECK_STR(s.serial, l, BASE, "00F1F4565330802E0B", POS(l, "00F1F4"));
    CHECK_STR(s.subject, l, BASE, sub, POS(l, "/CN=host"));
    CHECK_STR(s.signature, l, BASE, "sha256RSA", POS(l, "sha256RSA"));
    CHECK_STR(s.thumb_alg, l, BASE, "sha1", AFTER(l, "thumbprint algorithm: \""));
    CHECK_STR(s.thumbprint, l, BASE, "0123456789ABCDEF0123456789ABCDEF01234567",
              POS(l, "0123456789ABCDEF0"));
    assert_int_equal(s.expiry_year, 2030);
    assert_int_equal(s.expiry_month, 1);
    assert_int_equal(s.expiry_day, 31);
}

static void test_sbnr_errors(void **state)
{
    (void)state;
    EXPECT_SBNR_ERROR("", 0);
    EXPECT_SBNR_ERROR("^SBNX: 0", 4);
    EXPECT_SBNR_ERROR("^SBNR", 5);
    EXPECT_SBNR_ERROR("^SBNR: x", 7);
    EXPECT_SBNR_ERROR("^SBNR: 0 size", 9);
    EXPECT_SBNR_ERROR("^SBNR: 0, size: \"abc\"", 17);
    EXPECT_SBNR_ERROR("^SBNR: 0, size: \"\"", 17);
    EXPECT_SBNR_ERROR("^SBNR: 0, size: \"5\" issuer", 19);
    EXPECT_SBNR_ERROR("^SBNR: 0, Size: \"5\"", 10);
    EXPECT_SBNR_ERROR("^SBNR: 4294967296, size: \"0\"", 16);   /* index overflows */
    EXPECT_SBNR_ERROR("^SBNR: 0, size: \"4294967296\"", 26);   /* size overflows */

    /* a misspelt key in the tail: pointed at from the right */
    char l[700];
    strcpy(l, sbnr_legacy);
    char *k = strstr(l, "thumbprint algorithm");
    k[3] = 'X';
    EXPECT_SBNR_ERROR(l, (size_t)(k - l) + 3);
    /* the serial separator missing */
    strcpy(l, sbnr_legacy);
    k = strstr(l, "serial number");
    k[0] = 'S';
    EXPECT_SBNR_ERROR(l, AFTER(sbnr_legacy, "issuer: \"") + strlen(DN_LEGACY));
    /* non-hex serial */
    strcpy(l, sbnr_legacy);
    k = strstr(l, "4F2182FE");
    k[2] = 'G';
    EXPECT_SBNR_ERROR(l, AFTER(sbnr_legacy, "issuer: \"") + strlen(DN_LEGACY));
    /* no closing quote at the end */
    strcpy(l, sbnr_legacy);
    l[strlen(l) - 1] = ' ';
    EXPECT_SBNR_ERROR(l, strlen(l) - 1);

    at_sbnr s;
    assert_int_equal(at_parse_sbnr(NULL, 1, 0, &s, NULL), AT_ERR_ARG);
    assert_int_equal(at_parse_sbnr(sbnr_legacy, 10, 0, NULL, NULL), AT_ERR_ARG);
    assert_int_equal(at_parse_sbnr("^SBNR: x", 8, 0, &s, NULL), AT_ERR_SYNTAX);
}

/* Every prefix of a line with an expiry date fails, except the one that is
 * exactly the legacy line (a valid line on its own) and the whole line. */
static void test_sbnr_truncated(void **state)
{
    (void)state;
    char l[700];
    snprintf(l, sizeof l, "%s, expiry date: \"2035,10,29\"", sbnr_legacy);
    size_t len = strlen(l), legacy = strlen(sbnr_legacy);
    for (size_t k = 0; k <= len; k++) {
        char *b = exact_copy(l, k);
        at_status st = inv_sbnr(b, k, BASE);
        at_sbnr s;
        uint64_t err = 0;
        at_parse_sbnr(b, k, BASE, &s, &err);
        if (k == len || k == legacy) {
            assert_int_equal(st, AT_OK);
            assert_int_equal(s.has_expiry, k == len);
        } else {
            if (st != AT_ERR_SYNTAX)
                fail_msg("prefix of %zu bytes parsed", k);
        }
        free(b);
    }
}

/* ------------------------------------------------------------------ */
/* +CIEV                                                               */
/* ------------------------------------------------------------------ */

static at_ciev_is_cert ciev_ok(const char *l)
{
    at_ciev_is_cert c;
    uint64_t err = 0;
    at_status st = at_parse_ciev_is_cert(l, strlen(l), BASE, &c, &err);
    if (st != AT_OK)
        fail_msg("'%s': status %d at %lld", l, st, (long long)(err - BASE));
    return c;
}

static void expect_ciev_error_(const char *l, size_t at, int ln)
{
    at_ciev_is_cert c;
    uint64_t err = 0;
    at_status st = at_parse_ciev_is_cert(l, strlen(l), BASE, &c, &err);
    if (st != AT_ERR_SYNTAX || err != BASE + at)
        fail_msg("line %d: '%s': status %d at %lld, want syntax error at %zu", ln, l, st,
                 (long long)(err - BASE), at);
}
#define EXPECT_CIEV_ERROR(l, at) expect_ciev_error_(l, at, __LINE__)

/* Checks the six fields of an is_cert URC built from its parts. */
static void check_is_cert(const char *pre, const char *iss, const char *ser, const char *sub,
                          const char *tail_sep)
{
    char l[600];
    snprintf(l, sizeof l, "%s%s,%s,%s%ssha256RSA,sha1,8CE388D8553D11F7E3BF64B6AA27C2C314B106D4",
             pre, iss, ser, sub, tail_sep);
    at_ciev_is_cert c = ciev_ok(l);
    size_t p = strlen(pre);
    CHECK_STR(c.issuer, l, BASE, iss, p);
    p += strlen(iss) + 1;
    CHECK_STR(c.serial, l, BASE, ser, p);
    p += strlen(ser) + 1;
    CHECK_STR(c.subject, l, BASE, sub, p);
    p += strlen(sub) + strlen(tail_sep);
    CHECK_STR(c.sig_alg, l, BASE, "sha256RSA", p);
    CHECK_STR(c.thumb_alg, l, BASE, "sha1", p + 10);
    CHECK_STR(c.thumbprint, l, BASE, "8CE388D8553D11F7E3BF64B6AA27C2C314B106D4", p + 15);
}

static void test_ciev_is_cert(void **state)
{
    (void)state;
    const char *l = "+CIEV: is_cert,1,/C=DE/O=Test CA/CN=Root,4F2182FE,/C=DE/O=Test/CN=host,"
                    "sha256RSA,sha1,8CE388D8553D11F7E3BF64B6AA27C2C314B106D4";
    at_ciev_is_cert c = ciev_ok(l);
    assert_false(c.name_quoted);
    assert_int_equal(c.srv_profile, 1);
    CHECK_STR(c.issuer, l, BASE, "/C=DE/O=Test CA/CN=Root", 17);
    CHECK_STR(c.serial, l, BASE, "4F2182FE", 41);
    CHECK_STR(c.subject, l, BASE, "/C=DE/O=Test/CN=host", 50);
    CHECK_STR(c.sig_alg, l, BASE, "sha256RSA", 71);
    CHECK_STR(c.thumb_alg, l, BASE, "sha1", 81);
    CHECK_STR(c.thumbprint, l, BASE, "8CE388D8553D11F7E3BF64B6AA27C2C314B106D4", 86);

    l = "+CIEV: \"is_cert\",12,/CN=a,00AB,/CN=b,sha1RSA,sha1,AA";
    c = ciev_ok(l);
    assert_true(c.name_quoted);
    assert_int_equal(c.srv_profile, 12);
    CHECK_STR(c.issuer, l, BASE, "/CN=a", 20);
    CHECK_STR(c.serial, l, BASE, "00AB", 26);
    CHECK_STR(c.subject, l, BASE, "/CN=b", 31);
    CHECK_STR(c.thumbprint, l, BASE, "AA", 50);

    /* case of the indicator name does not matter */
    c = ciev_ok("+CIEV: IS_CERT,0,/CN=a,01,/CN=b,x,y,z");
    assert_int_equal(c.srv_profile, 0);
}

static void test_ciev_is_cert_hard_dns(void **state)
{
    (void)state;
    const char *pre = "+CIEV: is_cert,3,";
    /* commas inside both DNs */
    check_is_cert(pre, "/C=US/O=Example, Inc./CN=Root, CA", "0A1B",
                  "/C=US/O=Example, Inc./CN=host", ",");
    /* the issuer ends with an all-hex piece: ",BEEF" must not become the serial */
    check_is_cert(pre, "/O=Example/OU=Dept,BEEF", "0A1B", "/CN=host", ",");
    /* a hex piece between commas inside the issuer */
    check_is_cert(pre, "/O=x,CAFE,y/CN=z", "01", "/CN=s", ",");
    /* and inside the subject */
    check_is_cert(pre, "/CN=i", "01", "/O=a,DEAD,b/CN=x", ",");
    /* hex-looking component values and a lowercase serial */
    check_is_cert(pre, "/CN=ABCDEF", "00f1f4565330802e0b", "/CN=123456", ",");
    /* slashes, '=' and quotes inside values */
    check_is_cert(pre, "/O=a/b=c \"q\"/CN=d", "FF", "/CN=e/f", ",");
    /* empty issuer */
    check_is_cert(pre, "", "01", "/CN=x", ",");
    /* DNs not in the one-line '/' format: leftmost hex field wins */
    check_is_cert(pre, "CN=Root, O=Org", "7F", "CN=host, O=Org", ",");

    /* blanks around fields are not part of them */
    const char *l = "+CIEV: is_cert, 1, /CN=a, 0A, /CN=b, sha1RSA, sha1, AB  ";
    at_ciev_is_cert c = ciev_ok(l);
    assert_int_equal(c.srv_profile, 1);
    CHECK_STR(c.issuer, l, BASE, "/CN=a", 19);
    CHECK_STR(c.serial, l, BASE, "0A", 26);
    CHECK_STR(c.subject, l, BASE, "/CN=b", 30);
    CHECK_STR(c.sig_alg, l, BASE, "sha1RSA", 37);
    CHECK_STR(c.thumbprint, l, BASE, "AB", 52);

    /* The documented ambiguity: ",<hex>,/" inside the issuer. Both splits
     * are well-formed; the leftmost is taken. */
    l = "+CIEV: is_cert,1,/O=a,DEAD,/CN=x,BEEF,/CN=y,s,t,u";
    c = ciev_ok(l);
    CHECK_STR(c.issuer, l, BASE, "/O=a", 17);
    CHECK_STR(c.serial, l, BASE, "DEAD", 22);
    CHECK_STR(c.subject, l, BASE, "/CN=x,BEEF,/CN=y", 27);
}

static void test_ciev_is_cert_errors(void **state)
{
    (void)state;
    EXPECT_CIEV_ERROR("", 0);
    EXPECT_CIEV_ERROR("+CIEX: is_cert,1", 4);
    EXPECT_CIEV_ERROR("+CIEV: battchg,5", 7);                  /* other indicator */
    EXPECT_CIEV_ERROR("+CIEV: is_certs,1,a,01,b,c,d,e", 7);
    EXPECT_CIEV_ERROR("+CIEV: is_cert", 14);                   /* no fields */
    EXPECT_CIEV_ERROR("+CIEV: is_cert,", 15);
    EXPECT_CIEV_ERROR("+CIEV: is_cert,x,a,01,b,c,d,e", 15);    /* profile not a number */
    EXPECT_CIEV_ERROR("+CIEV: is_cert,1 x,a,01,b,c,d,e", 17);
    EXPECT_CIEV_ERROR("+CIEV: is_cert,4294967296,a,01,b,c,d,e", 24);
    EXPECT_CIEV_ERROR("+CIEV: is_cert,1,a,01,b,c,d", 27);      /* one field short */
    EXPECT_CIEV_ERROR("+CIEV: is_cert,1,/CN=a,zz,/CN=b,x,y,z", 17); /* no hex serial */
    EXPECT_CIEV_ERROR("+CIEV: is_cert,1,/CN=a,,/CN=b,x,y,z", 17);   /* empty serial */
    EXPECT_CIEV_ERROR("+CIEV: \"is_cert,1,a,01,b,c,d,e", 7);   /* unterminated name */
    EXPECT_CIEV_ERROR("+CIEV: \"is_cert\"x,1,a,01,b,c,d,e", 16);

    at_ciev_is_cert c;
    assert_int_equal(at_parse_ciev_is_cert(NULL, 3, 0, &c, NULL), AT_ERR_ARG);
    assert_int_equal(at_parse_ciev_is_cert("+CIEV: x", 8, 0, NULL, NULL), AT_ERR_ARG);
}

static void test_ciev_generic(void **state)
{
    (void)state;
    at_str name, rest;
    uint64_t err = 0;
    const char *l = "+CIEV: battchg,5";
    assert_int_equal(at_parse_ciev(l, strlen(l), BASE, &name, &rest, &err), AT_OK);
    CHECK_STR(name, l, BASE, "battchg", 7);
    CHECK_STR(rest, l, BASE, "5", 15);

    l = "+CIEV: \"is_cert\", 1,/CN=a,01 ";
    assert_int_equal(at_parse_ciev(l, strlen(l), BASE, &name, &rest, &err), AT_OK);
    CHECK_STR(name, l, BASE, "is_cert", 8);
    CHECK_STR(rest, l, BASE, "1,/CN=a,01", 18);

    l = "+ciev:service";
    assert_int_equal(at_parse_ciev(l, strlen(l), BASE, &name, &rest, &err), AT_OK);
    CHECK_STR(name, l, BASE, "service", 6);
    CHECK_ABSENT(rest);

    l = "+CIEV: x,";
    assert_int_equal(at_parse_ciev(l, strlen(l), BASE, &name, &rest, &err), AT_OK);
    CHECK_STR(rest, l, BASE, "", 9);

    struct {
        const char *l;
        size_t at;
    } bad[] = {
        {"+CIEV: ,1", 7}, {"+CIEV:", 6}, {"+CIEV:  ", 6}, {"+CIEV: \"\",1", 8},
        {"+CIEV: \"x", 7}, {"+CIE", 4}, {"CIEV: x,1", 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = 0;
        assert_int_equal(at_parse_ciev(bad[i].l, strlen(bad[i].l), BASE, &name, &rest, &err),
                         AT_ERR_SYNTAX);
        if (err != BASE + bad[i].at)
            fail_msg("'%s': error at %lld, want %zu", bad[i].l, (long long)(err - BASE),
                     bad[i].at);
    }
    assert_int_equal(at_parse_ciev(l, strlen(l), 0, NULL, &rest, NULL), AT_ERR_ARG);
    assert_int_equal(at_parse_ciev(l, strlen(l), 0, &name, NULL, NULL), AT_ERR_ARG);
}

static void test_ciev_truncated(void **state)
{
    (void)state;
    const char *l = "+CIEV: \"is_cert\",1,/C=US/O=Example, Inc./CN=Root,4F2182FE,"
                    "/C=DE/O=Test/CN=host,sha256RSA,sha1,8CE388D8553D11F7E3BF64B6AA27C2C314B106D4";
    size_t len = strlen(l);
    size_t last3 = POS(l, ",sha256RSA");
    for (size_t k = 0; k <= len; k++) {
        char *b = exact_copy(l, k);
        at_status st = inv_ciev(b, k, BASE);
        /* with the three comma-free fields present it parses (shorter
         * thumbprint); before that it cannot */
        if (k > POS(l, ",sha1,") + 5)
            assert_int_equal(st, AT_OK);
        else if (k <= last3 + 1)
            assert_int_equal(st, AT_ERR_SYNTAX);
        free(b);
    }
}

/* ------------------------------------------------------------------ */
/* ^SIS                                                                */
/* ------------------------------------------------------------------ */

static at_sis sis_ok(const char *l)
{
    at_sis s;
    uint64_t err = 0;
    at_status st = at_parse_sis(l, strlen(l), BASE, &s, &err);
    if (st != AT_OK)
        fail_msg("'%s': status %d at %lld", l, st, (long long)(err - BASE));
    return s;
}

static void expect_sis_error_(const char *l, size_t at, int ln)
{
    at_sis s;
    uint64_t err = 0;
    at_status st = at_parse_sis(l, strlen(l), BASE, &s, &err);
    if (st != AT_ERR_SYNTAX || err != BASE + at)
        fail_msg("line %d: '%s': status %d at %lld, want syntax error at %zu", ln, l, st,
                 (long long)(err - BASE), at);
}
#define EXPECT_SIS_ERROR(l, at) expect_sis_error_(l, at, __LINE__)

static void test_sis(void **state)
{
    (void)state;
    const char *l = "^SIS: 1,0,66,\"peer certificate is not confirmed\"";
    at_sis s = sis_ok(l);
    assert_int_equal(s.srv_profile, 1);
    CHECK_SPAN(s.srv_profile_span, BASE + 6, 1);
    assert_int_equal(s.urc_cause, 0);
    CHECK_SPAN(s.urc_cause_span, BASE + 8, 1);
    assert_true(s.has_info_id);
    assert_int_equal(s.info_id, 66);
    CHECK_SPAN(s.info_id_span, BASE + 10, 2);
    assert_true(s.has_info_text);
    CHECK_STR(s.info_text, l, BASE, "peer certificate is not confirmed", 14);
    assert_string_equal(at_sis_info_text(s.info_id), "peer certificate is not confirmed");

    l = "^SIS: 0,0,2200,\"Http connect 127.0.0.1:443\"";
    s = sis_ok(l);
    assert_int_equal(s.info_id, 2200);
    CHECK_STR(s.info_text, l, BASE, "Http connect 127.0.0.1:443", 16);

    l = "^SIS: 1,0,,\"text\"";
    s = sis_ok(l);
    assert_false(s.has_info_id);
    CHECK_SPAN(s.info_id_span, 0, 0);
    CHECK_STR(s.info_text, l, BASE, "text", 12);

    l = "^SIS: 1,5";
    s = sis_ok(l);
    assert_int_equal(s.urc_cause, 5);
    assert_false(s.has_info_id);
    assert_false(s.has_info_text);
    CHECK_ABSENT(s.info_text);

    s = sis_ok("^SIS: 1,0,66");
    assert_true(s.has_info_id);
    assert_false(s.has_info_text);
    s = sis_ok("^SIS: 1,0,");
    assert_false(s.has_info_id);
    s = sis_ok("^SIS: 1,0,66,");
    assert_true(s.has_info_id);
    assert_false(s.has_info_text);

    /* the manuals' spacing */
    l = "^SIS: 2, 3, 2200, \"HTTP Redirect to:192.168.1.3:800//products/info/\"";
    s = sis_ok(l);
    assert_int_equal(s.srv_profile, 2);
    assert_int_equal(s.urc_cause, 3);
    CHECK_SPAN(s.urc_cause_span, BASE + 9, 1);
    CHECK_SPAN(s.info_id_span, BASE + 12, 4);
    CHECK_STR(s.info_text, l, BASE, "HTTP Redirect to:192.168.1.3:800//products/info/", 19);

    /* text with commas and quotes runs to the last quote */
    l = "^SIS: 1,0,2201,\"a \"b\", c\"  ";
    s = sis_ok(l);
    CHECK_STR(s.info_text, l, BASE, "a \"b\", c", 16);
    /* empty text */
    l = "^SIS: 1,0,66,\"\"";
    s = sis_ok(l);
    assert_true(s.has_info_text);
    CHECK_STR(s.info_text, l, BASE, "", 14);
    /* unquoted text accepted as is */
    l = "^SIS: 1,0,14,connection aborted";
    s = sis_ok(l);
    CHECK_STR(s.info_text, l, BASE, "connection aborted", 13);

    /* largest value that fits */
    char big[64];
    sprintf(big, "^SIS: %u,%u", UINT_MAX, UINT_MAX);
    s = sis_ok(big);
    assert_int_equal(s.srv_profile, UINT_MAX);
    assert_int_equal(s.urc_cause, UINT_MAX);
}

static void test_sis_errors(void **state)
{
    (void)state;
    EXPECT_SIS_ERROR("", 0);
    EXPECT_SIS_ERROR("^SIS", 4);
    EXPECT_SIS_ERROR("^SISR: 1,2", 4);
    EXPECT_SIS_ERROR("^SIS: ", 5); /* blanks at the end do not count */
    EXPECT_SIS_ERROR("^SIS: 1", 7);
    EXPECT_SIS_ERROR("^SIS: 1,", 8);
    EXPECT_SIS_ERROR("^SIS: 1;0", 7);
    EXPECT_SIS_ERROR("^SIS: a,0", 6);
    EXPECT_SIS_ERROR("^SIS: 1,0 x", 10);
    EXPECT_SIS_ERROR("^SIS: 1,0,x", 10);
    EXPECT_SIS_ERROR("^SIS: 1,0,66 x", 13);
    EXPECT_SIS_ERROR("^SIS: 1,0,66,\"abc", 13);     /* unterminated text */
    EXPECT_SIS_ERROR("^SIS: 1,0,66,\"", 13);
    EXPECT_SIS_ERROR("^SIS: 1,0,66,\"abc\"x", 18);  /* bytes after the text */
    EXPECT_SIS_ERROR("^SIS: 4294967296,0", 15);     /* overflows at the last digit */
    EXPECT_SIS_ERROR("^SIS: 1,99999999999", 17);
    EXPECT_SIS_ERROR("^SIS: 1,0,4294967296", 19);
    EXPECT_SIS_ERROR("^SIS: -1,0", 6);

    at_sis s;
    assert_int_equal(at_parse_sis(NULL, 1, 0, &s, NULL), AT_ERR_ARG);
    assert_int_equal(at_parse_sis("^SIS: 1,0", 9, 0, NULL, NULL), AT_ERR_ARG);

    /* prefixes of a valid line */
    const char *l = "^SIS: 1,0,66,\"peer, \"certificate\"\"";
    for (size_t k = 0; k <= strlen(l); k++) {
        char *b = exact_copy(l, k);
        at_status st = inv_sis(b, k, BASE);
        /* valid exactly after the cause, the id, a comma, and a closing quote */
        bool want_ok = k == 9 || k == 10 || k == 11 || k == 12 || k == 13 ||
                       (k > 14 && b[k - 1] == '"');
        assert_int_equal(st, want_ok ? AT_OK : AT_ERR_SYNTAX);
        free(b);
    }
}

static void test_sis_info(void **state)
{
    (void)state;
    assert_string_equal(at_sis_info_text(62), "unknown internal TLS error");
    assert_string_equal(at_sis_info_text(63), "wrong format of certificate data");
    assert_string_equal(at_sis_info_text(64), "certificate validity period is in future");
    assert_string_equal(at_sis_info_text(65), "certificate validity period expired");
    assert_string_equal(at_sis_info_text(67), "wrong signature key format");
    assert_string_equal(at_sis_info_text(68), "unsupported signature key type");
    assert_string_equal(at_sis_info_text(69), "wrong protocol data format");
    assert_string_equal(at_sis_info_text(70), "wrong protocol data format");
    assert_string_equal(at_sis_info_text(71), "no memory available for TLS");
    assert_string_equal(at_sis_info_text(72), "buffer error in TLS");
    assert_string_equal(at_sis_info_text(73), "wrong input data for RSA operation");
    assert_string_equal(at_sis_info_text(74), "TLS/SSL protocol error");
    assert_string_equal(at_sis_info_text(75), "internal error in TLS");
    assert_string_equal(at_sis_info_text(76), "certificate format error");
    assert_string_equal(at_sis_info_text(77), "the certificate does not exist");
    assert_string_equal(at_sis_info_text(78), "unknown TLS error code");
    assert_string_equal(at_sis_info_text(14), "connection aborted");
    assert_non_null(at_sis_info_text(2200));
    assert_non_null(at_sis_info_text(2201));
    assert_null(at_sis_info_text(0));
    assert_null(at_sis_info_text(61));
    assert_null(at_sis_info_text(79));
    assert_null(at_sis_info_text(2202));
    assert_null(at_sis_info_text(UINT_MAX));
    for (unsigned id = 0; id < 3000; id++)
        assert_int_equal(at_sis_info_is_tls(id), id >= 62 && id <= 78);
    assert_false(at_sis_info_is_tls(UINT_MAX));
}

/* ------------------------------------------------------------------ */
/* ^SISR / ^SISW                                                       */
/* ------------------------------------------------------------------ */

static at_sis_rw rw_ok(const char *l)
{
    at_sis_rw r;
    uint64_t err = 0;
    at_status st = at_parse_sis_rw(l, strlen(l), BASE, &r, &err);
    if (st != AT_OK)
        fail_msg("'%s': status %d at %lld", l, st, (long long)(err - BASE));
    return r;
}

static void expect_rw_error_(const char *l, size_t at, int ln)
{
    at_sis_rw r;
    uint64_t err = 0;
    at_status st = at_parse_sis_rw(l, strlen(l), BASE, &r, &err);
    if (st != AT_ERR_SYNTAX || err != BASE + at)
        fail_msg("line %d: '%s': status %d at %lld, want syntax error at %zu", ln, l, st,
                 (long long)(err - BASE), at);
}
#define EXPECT_RW_ERROR(l, at) expect_rw_error_(l, at, __LINE__)

static void test_sis_rw(void **state)
{
    (void)state;
    at_sis_rw r = rw_ok("^SISR: 1,20");
    assert_int_equal(r.srv_profile, 1);
    assert_int_equal(r.count, 20);
    CHECK_SPAN(r.count_span, BASE + 9, 2);
    assert_false(r.has_unack);
    assert_int_equal(r.count_negative, 0);

    r = rw_ok("^SISW: 1,20,0");
    assert_int_equal(r.count, 20);
    assert_true(r.has_unack);
    assert_int_equal(r.unack, 0);

    r = rw_ok("^SISW: 2, 1500, 300 ");
    assert_int_equal(r.srv_profile, 2);
    assert_int_equal(r.count, 1500);
    CHECK_SPAN(r.count_span, BASE + 10, 4);
    assert_int_equal(r.unack, 300);

    /* URC forms */
    r = rw_ok("^SISR: 1,1");
    assert_int_equal(r.count, 1);
    r = rw_ok("^SISW: 1,1");
    assert_int_equal(r.count, 1);
    r = rw_ok("^sisr: 0,0");
    assert_int_equal(r.count, 0);

    /* negative ^SISR lengths: no payload follows */
    r = rw_ok("^SISR: 1, -2");
    assert_int_equal(r.count, 0);
    assert_int_equal(r.count_negative, -2);
    CHECK_SPAN(r.count_span, BASE + 10, 2);
    r = rw_ok("^SISR: 1,-1");
    assert_int_equal(r.count_negative, -1);

    /* UDP: remaining length, then the remote address */
    r = rw_ok("^SISR: 1,10,5");
    assert_true(r.has_unack);
    assert_int_equal(r.unack, 5);
    r = rw_ok("^SISR: 1,10,5,\"10.0.0.1:5000\"");
    assert_int_equal(r.count, 10);

    /* the largest counts that fit */
    char big[80];
    sprintf(big, "^SISR: %u,%lu,%lu", UINT_MAX, ULONG_MAX, ULONG_MAX);
    r = rw_ok(big);
    assert_int_equal(r.srv_profile, UINT_MAX);
    assert_true(r.count == ULONG_MAX && r.unack == ULONG_MAX);
}

static void test_sis_rw_errors(void **state)
{
    (void)state;
    EXPECT_RW_ERROR("", 0);
    EXPECT_RW_ERROR("^SISX: 1,2", 4);
    EXPECT_RW_ERROR("^SIS: 1,2", 4);
    EXPECT_RW_ERROR("^SISR 1,2", 5);
    EXPECT_RW_ERROR("^SISR: ", 6);
    EXPECT_RW_ERROR("^SISR: 1", 8);
    EXPECT_RW_ERROR("^SISR: 1,", 9);
    EXPECT_RW_ERROR("^SISR: 1,-", 10);
    EXPECT_RW_ERROR("^SISR: 1,x", 9);
    EXPECT_RW_ERROR("^SISR: 1,2,", 11);
    EXPECT_RW_ERROR("^SISR: 1,2 3", 11);
    EXPECT_RW_ERROR("^SISW: 1,2,3,4", 12);   /* ^SISW has no fourth field */
    EXPECT_RW_ERROR("^SISW: 1,2,-3", 11);
    EXPECT_RW_ERROR("^SISR: 4294967296,2", 16);
    EXPECT_RW_ERROR("^SISR: 1,-99999999999", 19);
    char big[80];
    sprintf(big, "^SISR: 1,%lu0", ULONG_MAX);
    EXPECT_RW_ERROR(big, strlen(big) - 1);

    at_sis_rw r;
    assert_int_equal(at_parse_sis_rw(NULL, 1, 0, &r, NULL), AT_ERR_ARG);
    assert_int_equal(at_parse_sis_rw("^SISR: 1,2", 10, 0, NULL, NULL), AT_ERR_ARG);

    const char *l = "^SISW: 12,1500,20";
    for (size_t k = 0; k <= strlen(l); k++) {
        char *b = exact_copy(l, k);
        at_status st = inv_sis_rw(b, k, BASE);
        bool want_ok = (k >= 11 && k <= 14) || k >= 16;
        assert_int_equal(st, want_ok ? AT_OK : AT_ERR_SYNTAX);
        free(b);
    }
}

/* ------------------------------------------------------------------ */
/* Line prefix                                                         */
/* ------------------------------------------------------------------ */

static void test_line_prefix(void **state)
{
    (void)state;
    struct {
        const char *l, *want;
    } cases[] = {
        {"+CIEV: is_cert,1", "+CIEV"},
        {"^SBNR: 0, size: \"0\"", "^SBNR"},
        {"^SISR: 1,20", "^SISR"},
        {"^SIS:1,0", "^SIS"},
        {"+CGSN:", "+CGSN"},
        {"+A:", "+A"},
        {"+CME ERROR: 3", NULL},
        {"OK", NULL},
        {"+:", NULL},
        {"+CGSN", NULL},
        {"+C", NULL},
        {"", NULL},
        {"CIEV: x", NULL},
        {" +CIEV: x", NULL},
        {"+CI\"EV: x", NULL},
        {"*CNTI: 0", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *l = cases[i].l;
        at_str p = at_line_prefix(l, strlen(l), BASE);
        if (cases[i].want)
            CHECK_STR(p, l, BASE, cases[i].want, 0);
        else
            CHECK_ABSENT(p);
    }
    /* bounded by len: the colon beyond it does not count */
    at_str p = at_line_prefix("+CIEV: x", 5, 0);
    CHECK_ABSENT(p);
    p = at_line_prefix(NULL, 5, 0);
    CHECK_ABSENT(p);
}

/* ------------------------------------------------------------------ */
/* Random input                                                        */
/* ------------------------------------------------------------------ */

static uint32_t rng_next(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Random lines, half of them built from the protocol's own vocabulary so
 * they get deep into the parsers, in exactly sized buffers. */
static void test_random_lines(void **state)
{
    (void)state;
    static const char *const words[] = {
        "AT", "^SBNR: ", "+CIEV: ", "is_cert", "\"", ",", ", ", "^SIS: ", "^SISR: ",
        "^SISW: ", "+CME ERROR: ", "SECURE CMD ", "0", "1", "66", "4294967296", "-2",
        "\", serial number: \"", "\", subject: \"", "\", signature: \"",
        "\", thumbprint algorithm: \"", "\", thumbprint: \"", "\", expiry date: \"",
        "size: \"", "\", issuer: \"", "/CN=", "BEEF", ";", "=", "?", "+CMEE", "&F",
        "\\Q", "S0", "D", " ", "certificate is corrupted", "2035,10,29", "OK", "CONNECT",
    };
    uint32_t seed = 0x2545F491u;
    char line[200];
    for (int iter = 0; iter < 40000; iter++) {
        size_t n = 0;
        if (iter & 1) {
            size_t want = rng_next(&seed) % 120;
            while (n < want)
                line[n++] = (char)(rng_next(&seed) & 0xff);
        } else {
            unsigned parts = rng_next(&seed) % 14;
            for (unsigned k = 0; k < parts; k++) {
                const char *w = words[rng_next(&seed) % (sizeof words / sizeof words[0])];
                size_t wl = strlen(w);
                if (n + wl > sizeof line)
                    break;
                memcpy(line + n, w, wl);
                n += wl;
            }
        }
        char *b = exact_copy(line, n);
        inv_all(b, n, (uint64_t)iter * 977u);
        free(b);
    }
}

/* Truncation of every sample line through every parser: invariants hold. */
static void test_all_parsers_truncated(void **state)
{
    (void)state;
    const char *samples[] = {
        sbnr_legacy,
        "+CIEV: is_cert,1,/C=DE/O=Test, Inc./CN=Root,4F2182FE,/CN=h,sha256RSA,sha1,8CE3",
        "^SIS: 1,0,66,\"peer certificate is not confirmed\"",
        "^SISW: 1,20,0",
        "AT^SISS=1,secOpt,\"1,5,9\";+CMEE=2;E0",
        "+CME ERROR: 262",
        "SECURE CMD READY: SEND COMMAND ...",
    };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        size_t len = strlen(samples[i]);
        for (size_t k = 0; k <= len; k++) {
            char *b = exact_copy(samples[i], k);
            inv_all(b, k, UINT64_C(1) << 40);
            free(b);
        }
    }
}

/* The stable names the JSON output and the Wireshark plugin share. */
static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(at_cmd_type_name(AT_CMDT_EXEC), "exec");
    assert_string_equal(at_cmd_type_name(AT_CMDT_SET), "set");
    assert_string_equal(at_cmd_type_name(AT_CMDT_READ), "read");
    assert_string_equal(at_cmd_type_name(AT_CMDT_TEST), "test");
    assert_string_equal(at_cmd_type_name(AT_CMDT_REPEAT), "repeat");
    assert_string_equal(at_cmd_type_name((at_cmd_type)99), "unknown");
    assert_string_equal(at_sbnr_kind_name(AT_SBNR_ENTRY), "certificate");
    assert_string_equal(at_sbnr_kind_name(AT_SBNR_EMPTY), "empty");
    assert_string_equal(at_sbnr_kind_name(AT_SBNR_CORRUPTED), "corrupted");
    assert_string_equal(at_sbnr_kind_name((at_sbnr_kind)99), "unknown");
}


static void test_command_start(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        size_t want;
    } cases[] = {
        {"AT+CGSN", 0}, {"at", 0}, {"A/", 0}, {"\x01QUJDAT^SBNW=is_cert,1", 5},
        {"gateway/0042", 1}, {"xyz", 3}, {"xA", 2}, {"AxAt", 2}, {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i].line);
        size_t got = at_command_start((const uint8_t *)cases[i].line, n);
        if (got != cases[i].want)
            print_error("\"%s\": %zu, want %zu\n", cases[i].line, got, cases[i].want);
        assert_int_equal(got, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_start),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_cmd_sbnw),
        cmocka_unit_test(test_cmd_protocol_examples),
        cmocka_unit_test(test_cmd_quoted_params),
        cmocka_unit_test(test_cmd_empty_params_and_blanks),
        cmocka_unit_test(test_cmd_basic),
        cmocka_unit_test(test_cmd_dial),
        cmocka_unit_test(test_cmd_chain),
        cmocka_unit_test(test_cmd_repeat),
        cmocka_unit_test(test_cmd_limits),
        cmocka_unit_test(test_cmd_errors),
        cmocka_unit_test(test_cmd_not_nul_terminated),
        cmocka_unit_test(test_cmd_reused_output),
        cmocka_unit_test(test_name_is),
        cmocka_unit_test(test_cmd_truncated),
        cmocka_unit_test(test_result_verbose),
        cmocka_unit_test(test_result_numeric),
        cmocka_unit_test(test_result_cme_cms),
        cmocka_unit_test(test_result_helpers),
        cmocka_unit_test(test_result_hostile),
        cmocka_unit_test(test_secure_results),
        cmocka_unit_test(test_secure_names),
        cmocka_unit_test(test_sbnr_legacy),
        cmocka_unit_test(test_sbnr_expiry),
        cmocka_unit_test(test_sbnr_empty_and_corrupted),
        cmocka_unit_test(test_sbnr_hostile_dn),
        cmocka_unit_test(test_sbnr_errors),
        cmocka_unit_test(test_sbnr_truncated),
        cmocka_unit_test(test_ciev_is_cert),
        cmocka_unit_test(test_ciev_is_cert_hard_dns),
        cmocka_unit_test(test_ciev_is_cert_errors),
        cmocka_unit_test(test_ciev_generic),
        cmocka_unit_test(test_ciev_truncated),
        cmocka_unit_test(test_sis),
        cmocka_unit_test(test_sis_errors),
        cmocka_unit_test(test_sis_info),
        cmocka_unit_test(test_sis_rw),
        cmocka_unit_test(test_sis_rw_errors),
        cmocka_unit_test(test_line_prefix),
        cmocka_unit_test(test_random_lines),
        cmocka_unit_test(test_all_parsers_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
