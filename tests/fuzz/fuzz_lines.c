/*
 * libFuzzer target for the text-line parsers (attrace/lines.h).
 *
 * The first byte selects a stream base offset (so span arithmetic is
 * exercised near 0, at ordinary offsets and near UINT64_MAX where it wraps);
 * the rest is the line. Every parser runs over it, and every field it
 * returns must lie inside the line with a span that matches its position.
 * Any violation abort()s. The line is copied into an exactly sized heap
 * block so AddressSanitizer catches a read one byte past the end.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attrace/lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define CHECK(c)                                                                             \
    do {                                                                                     \
        if (!(c))                                                                            \
            abort();                                                                         \
    } while (0)

static const char *g_buf;
static size_t g_len;
static uint64_t g_base;

/* A field: absent (NULL, 0), or inside the line with a matching span. */
static void check_str(const at_str *s)
{
    if (!s->ptr) {
        CHECK(s->len == 0);
        return;
    }
    uintptr_t p = (uintptr_t)s->ptr, b = (uintptr_t)g_buf;
    CHECK(p >= b && p - b <= g_len);
    CHECK(s->len <= g_len - (p - b));
    CHECK(s->span.off == g_base + (p - b));
    CHECK(s->span.len == s->len);
}

static void check_span(at_span sp)
{
    uint64_t rel = sp.off - g_base; /* wraps consistently with the parser */
    CHECK(rel <= g_len && sp.len <= g_len - rel);
}

static void check_status(at_status st, uint64_t err)
{
    CHECK(st == AT_OK || st == AT_ERR_SYNTAX);
    if (st == AT_ERR_SYNTAX)
        CHECK(err - g_base <= g_len);
}

static void fuzz_cmdline(void)
{
    at_cmdline cl;
    uint64_t err = 0;
    at_status st = at_parse_cmdline(g_buf, g_len, g_base, &cl, &err);
    check_status(st, err);
    CHECK(cl.n_cmds <= AT_CMD_MAX_CHAIN);
    CHECK(!cl.cmds_dropped || cl.n_cmds == AT_CMD_MAX_CHAIN);
    if (st != AT_OK)
        CHECK(cl.n_cmds == 0);
    for (unsigned i = 0; i < cl.n_cmds; i++) {
        const at_command *c = &cl.cmds[i];
        CHECK(c->name.ptr && c->name.len > 0);
        check_str(&c->name);
        check_str(&c->basic_value);
        check_span(c->span);
        /* the command's span starts at its name and covers it */
        CHECK(c->span.off == c->name.span.off && c->span.len >= c->name.len);
        CHECK(at_name_is(&c->name, "") == false);
        CHECK(c->type <= AT_CMDT_REPEAT);
        CHECK(c->n_params <= AT_CMD_MAX_PARAMS);
        CHECK(!c->params_dropped || c->n_params == AT_CMD_MAX_PARAMS);
        for (unsigned k = 0; k < c->n_params; k++) {
            const at_str *p = &c->params[k];
            CHECK(p->ptr != NULL);
            if (c->param_quoted[k]) {
                /* value without the quotes, span with them */
                size_t at = (size_t)(p->ptr - g_buf);
                CHECK(at >= 1 && at <= g_len && p->len < g_len - at);
                CHECK(g_buf[at - 1] == '"' && g_buf[at + p->len] == '"');
                CHECK(memchr(p->ptr, '"', p->len) == NULL);
                CHECK(p->span.off == g_base + at - 1 && p->span.len == p->len + 2);
            } else {
                check_str(p);
            }
        }
    }
}

static void fuzz_result(bool numeric)
{
    at_result r;
    CHECK(at_parse_result(g_buf, g_len, g_base, numeric, &r) == AT_OK);
    CHECK(r.kind <= AT_RES_CMS_ERROR);
    check_str(&r.text);
    CHECK(!r.numeric || (numeric && r.kind != AT_RES_NONE));
    CHECK(!r.has_code || r.kind == AT_RES_CME_ERROR || r.kind == AT_RES_CMS_ERROR);
    CHECK(!r.text.ptr || r.kind == AT_RES_CONNECT || r.kind == AT_RES_CME_ERROR ||
          r.kind == AT_RES_CMS_ERROR);
    CHECK(at_result_name(r.kind) != NULL);
    if (r.has_code)
        (void)at_cme_error_text(r.code);
}

static void fuzz_secure(void)
{
    at_secure_result r = at_parse_secure_result(g_buf, g_len);
    CHECK(r <= AT_SEC_OTHER);
    CHECK(at_secure_result_name(r) != NULL);
    CHECK(r == AT_SEC_NONE || (g_len >= 10 && memcmp(g_buf, "SECURE CMD", 10) == 0));
}

static void fuzz_sbnr(void)
{
    at_sbnr s;
    uint64_t err = 0;
    at_status st = at_parse_sbnr(g_buf, g_len, g_base, &s, &err);
    check_status(st, err);
    if (st != AT_OK)
        return;
    const at_str *f[] = {&s.size_text, &s.issuer, &s.serial, &s.subject, &s.signature,
                         &s.thumb_alg, &s.thumbprint, &s.expiry};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        check_str(f[i]);
    check_span(s.index_span);
    CHECK(s.index_span.len > 0);
    CHECK(s.kind <= AT_SBNR_CORRUPTED);
    if (s.kind == AT_SBNR_CORRUPTED) {
        CHECK(!s.issuer.ptr && !s.thumbprint.ptr);
        return;
    }
    /* fields in line order, each a quoted value: a quote on both sides */
    const at_str *q[] = {&s.issuer, &s.serial, &s.subject, &s.signature, &s.thumb_alg,
                         &s.thumbprint};
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        CHECK(q[i]->ptr != NULL);
        size_t at = (size_t)(q[i]->ptr - g_buf);
        CHECK(at >= 1 && g_buf[at - 1] == '"' && at + q[i]->len < g_len &&
              g_buf[at + q[i]->len] == '"');
        if (i > 0)
            CHECK(q[i - 1]->ptr + q[i - 1]->len < q[i]->ptr);
    }
    for (size_t i = 0; i < s.serial.len; i++) {
        char c = s.serial.ptr[i];
        CHECK((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'));
    }
    CHECK(s.has_expiry == (s.expiry.ptr != NULL));
    if (s.has_expiry && s.expiry.len > 0)
        CHECK(s.expiry_month >= 1 && s.expiry_month <= 12 && s.expiry_day >= 1 &&
              s.expiry_day <= 31);
    if (s.kind == AT_SBNR_EMPTY)
        CHECK(s.size == 0 && s.issuer.len == 0 && s.thumbprint.len == 0);
}

static void fuzz_ciev(void)
{
    at_str name, rest;
    uint64_t err = 0;
    at_status st = at_parse_ciev(g_buf, g_len, g_base, &name, &rest, &err);
    check_status(st, err);
    check_str(&name);
    check_str(&rest);
    if (st == AT_OK)
        CHECK(name.ptr && name.len > 0);

    at_ciev_is_cert c;
    err = 0;
    at_status st2 = at_parse_ciev_is_cert(g_buf, g_len, g_base, &c, &err);
    check_status(st2, err);
    if (st2 != AT_OK)
        return;
    CHECK(st == AT_OK && at_name_is(&name, "is_cert"));
    const at_str *f[] = {&c.issuer, &c.serial, &c.subject, &c.sig_alg, &c.thumb_alg,
                         &c.thumbprint};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        CHECK(f[i]->ptr != NULL);
        check_str(f[i]);
        if (i > 0)
            CHECK(f[i - 1]->ptr + f[i - 1]->len < f[i]->ptr);
    }
    CHECK(c.serial.len > 0);
    for (size_t i = 0; i < c.serial.len; i++) {
        char ch = c.serial.ptr[i];
        CHECK((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F') || (ch >= 'a' && ch <= 'f'));
    }
    CHECK(!memchr(c.sig_alg.ptr, ',', c.sig_alg.len));
    CHECK(!memchr(c.thumb_alg.ptr, ',', c.thumb_alg.len));
    CHECK(!memchr(c.thumbprint.ptr, ',', c.thumbprint.len));
}

static void fuzz_sis(void)
{
    at_sis s;
    uint64_t err = 0;
    at_status st = at_parse_sis(g_buf, g_len, g_base, &s, &err);
    check_status(st, err);
    if (st != AT_OK)
        return;
    check_str(&s.info_text);
    CHECK(s.has_info_text == (s.info_text.ptr != NULL));
    check_span(s.srv_profile_span);
    check_span(s.urc_cause_span);
    CHECK(s.srv_profile_span.len > 0 && s.urc_cause_span.len > 0);
    if (s.has_info_id) {
        check_span(s.info_id_span);
        CHECK(s.info_id_span.len > 0);
    }
    (void)at_sis_info_text(s.info_id);
    CHECK(at_sis_info_is_tls(s.info_id) == (s.info_id >= 62 && s.info_id <= 78));
}

static void fuzz_sis_rw(void)
{
    at_sis_rw r;
    uint64_t err = 0;
    at_status st = at_parse_sis_rw(g_buf, g_len, g_base, &r, &err);
    check_status(st, err);
    if (st != AT_OK)
        return;
    check_span(r.count_span);
    CHECK(r.count_span.len > 0);
    CHECK(r.count_negative <= 0);
    CHECK(r.count_negative == 0 || r.count == 0);
}

static void fuzz_prefix(void)
{
    at_str p = at_line_prefix(g_buf, g_len, g_base);
    check_str(&p);
    if (p.ptr)
        CHECK(p.ptr == g_buf && p.len >= 2 && p.len < g_len && g_buf[p.len] == ':' &&
              (g_buf[0] == '+' || g_buf[0] == '^'));
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    static const uint64_t bases[8] = {
        0, 1, 4096, UINT64_C(1) << 32, UINT64_C(1) << 40, UINT64_MAX - 4096,
        UINT64_MAX - 1, UINT64_MAX,
    };
    uint64_t base = 0;
    if (n > 0) {
        base = bases[d[0] & 7];
        d++;
        n--;
    }
    char *buf = malloc(n ? n : 1);
    if (!buf)
        return 0;
    if (n)
        memcpy(buf, d, n);
    g_buf = buf;
    g_len = n;
    g_base = base;

    fuzz_cmdline();
    fuzz_result(false);
    fuzz_result(true);
    fuzz_secure();
    fuzz_sbnr();
    fuzz_ciev();
    fuzz_sis();
    fuzz_sis_rw();
    fuzz_prefix();

    free(buf);
    return 0;
}
