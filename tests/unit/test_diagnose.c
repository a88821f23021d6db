/* Tests of the session model and the diagnosis: one test per rule (it
 * fires on the bad case with its severity, offset and numbers, and stays
 * silent on the good case), the model, the frame details, and the two
 * committed samples. Byte streams go through a real at_session; frames
 * are built with at_frame_encode and signed with at_sign_frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "attrace/analysis.h"
#include "attrace/crypto.h"
#include "attrace/session.h"
#include "attrace/trace.h"
#include "testutil.h"

#define IMEI "358240051111110"       /* Luhn-valid: the module's own */
#define IMEI_OTHER "490154203237518" /* Luhn-valid, another module */
#define NS_MS UINT64_C(1000000)
#define START_NS (UINT64_C(1793610000) * UINT64_C(1000000000)) /* 2026-11-02T09:00:00Z */

/* ------------------------------------------------------------------ */
/* Keys and certificates, made once                                   */
/* ------------------------------------------------------------------ */

typedef struct der {
    uint8_t *p;
    size_t n;
} der;

static struct fixture {
    EVP_PKEY *client_key, *other_key, *ca_key;
    X509 *client, *other, *ca, *ca2, *server, *ca_expired, *big;
    der client_der, other_der, ca_der, ca2_der, server_der, ca_expired_der, big_der;
    der client_key_der, other_key_der;
} fx;

static der to_der(X509 *x)
{
    der d = {NULL, 0};
    unsigned char *p = NULL;
    int n = i2d_X509(x, &p);
    assert_true(n > 0);
    d.p = p;
    d.n = (size_t)n;
    return d;
}

/* A certificate for @p key named @p cn, signed by @p issuer_key (issuer
 * @p issuer, NULL = self-signed), valid between the two dates. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       long serial, const char *from, const char *until, size_t comment_len)
{
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    assert_int_equal(ASN1_TIME_set_string_X509(X509_getm_notBefore(x), from), 1);
    assert_int_equal(ASN1_TIME_set_string_X509(X509_getm_notAfter(x), until), 1);
    X509_NAME *name = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC,
                                                (const unsigned char *)"DE", -1, -1, 0), 1);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                (const unsigned char *)cn, -1, -1, 0), 1);
    assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
    assert_int_equal(X509_set_pubkey(x, key), 1);
    if (comment_len) {
        char *text = malloc(comment_len + 1);
        assert_non_null(text);
        memset(text, 'c', comment_len);
        text[comment_len] = '\0';
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_netscape_comment, text);
        assert_non_null(ext);
        assert_int_equal(X509_add_ext(x, ext, -1), 1);
        X509_EXTENSION_free(ext);
        free(text);
    }
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static int setup_fixture(void **state)
{
    (void)state;
    fx.client_key = EVP_RSA_gen(1024);
    fx.other_key = EVP_RSA_gen(1024);
    fx.ca_key = EVP_RSA_gen(1024);
    assert_non_null(fx.client_key);
    assert_non_null(fx.other_key);
    assert_non_null(fx.ca_key);
    const char *from = "20200101000000Z", *until = "20400101000000Z";
    fx.client = make_cert(fx.client_key, "client", NULL, NULL, 1, from, until, 0);
    fx.other = make_cert(fx.other_key, "other", NULL, NULL, 2, from, until, 0);
    /* The serial holds 0x11 and 0x13: XON and XOFF bytes in the DER. */
    fx.ca = make_cert(fx.ca_key, "Test Root CA", NULL, NULL, 0x11130042L, from, until, 0);
    fx.ca2 = make_cert(fx.other_key, "Other CA", NULL, NULL, 4, from, until, 0);
    fx.server = make_cert(fx.other_key, "server.example", fx.ca, fx.ca_key, 5, from, until, 0);
    fx.ca_expired = make_cert(fx.ca_key, "Test Root CA", NULL, NULL, 6, "20150101000000Z",
                              "20250101000000Z", 0);
    fx.big = make_cert(fx.ca_key, "Big CA", NULL, NULL, 7, from, until, 2200);
    fx.client_der = to_der(fx.client);
    fx.other_der = to_der(fx.other);
    fx.ca_der = to_der(fx.ca);
    fx.ca2_der = to_der(fx.ca2);
    fx.server_der = to_der(fx.server);
    fx.ca_expired_der = to_der(fx.ca_expired);
    fx.big_der = to_der(fx.big);
    fx.client_key_der.p = at_key_to_frame_der(fx.client_key, &fx.client_key_der.n);
    fx.other_key_der.p = at_key_to_frame_der(fx.other_key, &fx.other_key_der.n);
    assert_non_null(fx.client_key_der.p);
    assert_non_null(fx.other_key_der.p);
    return 0;
}

static int teardown_fixture(void **state)
{
    (void)state;
    der *ders[] = {&fx.client_der, &fx.other_der, &fx.ca_der, &fx.ca2_der, &fx.server_der,
                   &fx.ca_expired_der, &fx.big_der, &fx.client_key_der, &fx.other_key_der};
    for (size_t i = 0; i < sizeof ders / sizeof ders[0]; i++)
        OPENSSL_free(ders[i]->p);
    X509 *certs[] = {fx.client, fx.other, fx.ca, fx.ca2, fx.server, fx.ca_expired, fx.big};
    for (size_t i = 0; i < sizeof certs / sizeof certs[0]; i++)
        X509_free(certs[i]);
    EVP_PKEY_free(fx.client_key);
    EVP_PKEY_free(fx.other_key);
    EVP_PKEY_free(fx.ca_key);
    return 0;
}

static at_cert_summary summary_of(const der *d)
{
    at_cert_summary s;
    assert_int_equal(at_cert_summarize(d->p, d->n, &s, NULL, 0), 0);
    return s;
}

/* ------------------------------------------------------------------ */
/* Frames                                                             */
/* ------------------------------------------------------------------ */

#define FRAME_CAP 12000u

typedef struct frame {
    uint8_t b[FRAME_CAP];
    size_t n;
} frame;

/* A frame signed with @p signer (NULL: unsigned). */
static void encode(frame *fr, uint16_t cmd, uint16_t index, const der *cert, const der *key,
                   const char *imei, EVP_PKEY *signer, at_digest_alg dg)
{
    at_frame_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.cmd_id = cmd;
    spec.index = index;
    if (cert) {
        spec.cert = cert->p;
        spec.cert_len = cert->n;
    }
    if (key) {
        spec.key = key->p;
        spec.key_len = key->n;
    }
    spec.imei = imei;
    spec.sign = signer != NULL;
    at_signer sg = {signer, dg};
    assert_int_equal(at_frame_encode(&spec, at_sign_frame, &sg, fr->b, sizeof fr->b, &fr->n),
                     AT_OK);
}

static void write_frame(frame *fr, uint16_t index, const der *cert, const der *key)
{
    encode(fr, AT_CMD_WRITE, index, cert, key, IMEI, fx.client_key, AT_DIGEST_SHA1);
}

static void set16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

/* Frame offset of the unit with @p id (the frame must decode). */
static size_t unit_off(const frame *fr, at_param_id id)
{
    at_frame f;
    assert_int_equal(at_frame_decode(fr->b, fr->n, 0, NULL, &f), AT_OK);
    const at_frame_unit *u = at_frame_find(&f, id);
    assert_non_null(u);
    return (size_t)u->span.off;
}

/* ------------------------------------------------------------------ */
/* A channel: session + analyzer, findings recorded                   */
/* ------------------------------------------------------------------ */

#define MAXF 64u
#define MAXD 8u

typedef struct chan {
    at_session *s;
    at_analyzer *an;
    at_finding f[MAXF];
    unsigned n;
    at_frame_details det[MAXD];
    uint32_t det_problems[MAXD]; /* the session's frame problems: bit per code */
    char det_source[MAXD][96];
    unsigned ndet;
    uint64_t ts;
    uint64_t off[2];
} chan;

static void on_finding(void *ctx, const at_finding *f)
{
    chan *c = ctx;
    /* Every finding of every test names a rule of the table. */
    const at_rule *r = at_rule_find(f->rule);
    if (!r)
        fprintf(stderr, "finding with rule id %s, which is not in the rule table\n", f->rule);
    assert_non_null(r);
    assert_ptr_equal(r->id, f->rule);
    assert_true(c->n < MAXF);
    c->f[c->n++] = *f;
}

static void on_event(void *ctx, const at_event *ev)
{
    chan *c = ctx;
    at_analyzer_event(c->an, ev);
    const at_frame_details *d = at_analyzer_frame(c->an);
    if (ev->kind == AT_EV_FRAME) {
        assert_non_null(d);
        if (c->ndet < MAXD) {
            c->det[c->ndet] = *d;
            c->det_problems[c->ndet] = 0;
            for (unsigned i = 0; i < ev->frame->n_problems; i++)
                c->det_problems[c->ndet] |= 1u << ev->frame->problems[i].code;
            c->det_source[c->ndet][0] = '\0';
            if (d->verify_source)
                snprintf(c->det_source[c->ndet], sizeof c->det_source[0], "%s",
                         d->verify_source);
            c->ndet++;
        }
    } else {
        assert_null(d);
    }
}

/* The analyzer's profile guess steers the session's frame checks. */
static chan *open_chan_cfg(const at_analyzer_config *cfg)
{
    chan *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->s = malloc(sizeof *c->s);
    assert_non_null(c->s);
    at_analyzer_config acfg = cfg ? *cfg : at_analyzer_default_config();
    acfg.session = c->s;
    c->an = at_analyzer_new(&acfg, on_finding, c);
    assert_non_null(c->an);
    at_session_init(c->s, NULL, on_event, c);
    c->ts = START_NS;
    return c;
}

static chan *open_chan(void)
{
    return open_chan_cfg(NULL);
}

static void close_chan(chan *c)
{
    at_session_finish(c->s, c->ts + NS_MS);
    at_analyzer_finish(c->an);
}

static void dump(const chan *c);

/* ATTRACE_TEST_DUMP=1 prints every channel's findings (to read the texts). */
static void free_chan(chan *c)
{
    if (getenv("ATTRACE_TEST_DUMP"))
        dump(c);
    at_analyzer_free(c->an);
    free(c->s);
    free(c);
}

/* Feeds bytes @p step ns after the previous feed; returns their offset. */
static uint64_t feed_at(chan *c, at_dir dir, const void *p, size_t n, uint64_t step)
{
    uint64_t off = c->off[dir];
    c->ts += step;
    at_session_feed(c->s, dir, c->ts, p, n);
    c->off[dir] += n;
    return off;
}

static uint64_t te(chan *c, const char *s)
{
    return feed_at(c, AT_DIR_TE_TO_ME, s, strlen(s), NS_MS);
}

static uint64_t me(chan *c, const char *s)
{
    return feed_at(c, AT_DIR_ME_TO_TE, s, strlen(s), NS_MS);
}

/* A text command, echoed, with @p answer ("OK", "...\r\n\r\nOK"). */
static void cmd(chan *c, const char *line, const char *answer)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s\r", line);
    te(c, buf);
    me(c, buf);
    snprintf(buf, sizeof buf, "\r\n%s\r\n", answer);
    me(c, buf);
}

static void sbnw_start(chan *c, const char *term)
{
    char buf[64];
    snprintf(buf, sizeof buf, "AT^SBNW=is_cert,1%s", term);
    te(c, buf);
    me(c, "AT^SBNW=is_cert,1\r");
    me(c, "\r\nCONNECT\r\n");
}

static void ready(chan *c)
{
    me(c, "\r\nSECURE CMD READY: SEND COMMAND ...\r\n");
}

/* The module's answer; returns the ME offset of the result line. */
static uint64_t answer(chan *c, const char *result, const char *final)
{
    char buf[256];
    snprintf(buf, sizeof buf, "\r\n%s\r\n\r\n%s\r\n", result, final);
    return me(c, buf) + 2;
}

/* A whole secure command; returns the TE offset of the frame. */
static uint64_t secure_bytes(chan *c, const uint8_t *p, size_t n, const char *result,
                             const char *final)
{
    sbnw_start(c, "\r\n");
    ready(c);
    uint64_t off = feed_at(c, AT_DIR_TE_TO_ME, p, n, 10 * NS_MS);
    c->ts += 200 * NS_MS;
    answer(c, result, final);
    return off;
}

static uint64_t secure(chan *c, const frame *fr, const char *result)
{
    bool ok = strcmp(result, "SECURE CMD END OK") == 0;
    return secure_bytes(c, fr->b, fr->n, result, ok ? "OK" : "ERROR");
}

/* AT+CGSN; index 0 = client certificate and key; index 1 = the CA. */
static void provision(chan *c)
{
    frame fr;
    cmd(c, "AT+CGSN", IMEI "\r\n\r\nOK");
    write_frame(&fr, 0, &fx.client_der, &fx.client_key_der);
    secure(c, &fr, "SECURE CMD END OK");
    write_frame(&fr, 1, &fx.ca_der, NULL);
    secure(c, &fr, "SECURE CMD END OK");
}

/* ------------------------------------------------------------------ */
/* Assertions                                                         */
/* ------------------------------------------------------------------ */

static const at_finding *find(const chan *c, const char *rule)
{
    for (unsigned i = 0; i < c->n; i++)
        if (strcmp(c->f[i].rule, rule) == 0)
            return &c->f[i];
    return NULL;
}

static void dump(const chan *c)
{
    for (unsigned i = 0; i < c->n; i++)
        fprintf(stderr, "  [%s] %s x=%u off=%llu\n    what: %s\n    fix: %s\n",
                at_severity_name(c->f[i].severity), c->f[i].rule, c->f[i].exchange,
                (unsigned long long)c->f[i].off, c->f[i].what, c->f[i].fix);
}

static const at_finding *must_find(const chan *c, const char *rule, at_severity sev,
                                   at_dir dir, uint64_t off)
{
    const at_finding *f = find(c, rule);
    if (!f) {
        fprintf(stderr, "no %s among:\n", rule);
        dump(c);
    }
    assert_non_null(f);
    assert_string_equal(at_severity_name(f->severity), at_severity_name(sev));
    assert_int_equal(f->dir, dir);
    assert_int_equal(f->off, off);
    assert_true(f->what[0] != '\0');
    assert_true(f->fix[0] != '\0');
    return f;
}

static void has_text(const char *text, const char *phrase)
{
    if (!strstr(text, phrase))
        fprintf(stderr, "\"%s\" not in \"%s\"\n", phrase, text);
    assert_non_null(strstr(text, phrase));
}

static void silent(const chan *c, const char *rule)
{
    if (find(c, rule)) {
        fprintf(stderr, "unexpected %s:\n", rule);
        dump(c);
    }
    assert_null(find(c, rule));
}

/* The good case: a clean provisioning gives no finding at all. */
static void good_case_silent(const char *rule)
{
    chan *c = open_chan();
    provision(c);
    frame fr;
    encode(&fr, AT_CMD_DELETE, 1, NULL, NULL, IMEI, fx.client_key, AT_DIGEST_SHA1);
    secure(c, &fr, "SECURE CMD END OK");
    close_chan(c);
    silent(c, rule);
    if (c->n)
        dump(c);
    assert_int_equal(c->n, 0);
    free_chan(c);
}

static char numbuf[8][128];
static const char *num(unsigned slot, const char *fmt, unsigned long long v)
{
    snprintf(numbuf[slot], sizeof numbuf[slot], fmt, v);
    return numbuf[slot];
}

/* ------------------------------------------------------------------ */
/* Frame structure                                                    */
/* ------------------------------------------------------------------ */

static void test_totallen_excludes_self(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    cmd(c, "AT+CGSN", IMEI "\r\n\r\nOK");
    write_frame(&fr, 0, &fx.client_der, &fx.client_key_der);
    set16(fr.b, fr.n - 2);
    uint64_t off = secure(c, &fr, "SECURE CMD TOO MANY DATA ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "totallen_excludes_self", AT_SEV_ERROR,
                                    AT_DIR_TE_TO_ME, off);
    has_text(f->what, num(0, "TotalLen is %llu ", fr.n - 2));
    has_text(f->what, num(1, "the frame is %llu bytes long", fr.n));
    has_text(f->what, "leaves out its own two bytes");
    has_text(f->fix, num(2, "(%llu)", fr.n));
    assert_int_equal(f->exchange, 2);
    assert_int_equal(c->n, 1); /* the failure is explained */
    free_chan(c);
    good_case_silent("totallen_excludes_self");
}

static void test_totallen_excludes_header(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    write_frame(&fr, 2, &fx.ca2_der, NULL);
    set16(fr.b, fr.n - 6);
    uint64_t off = secure(c, &fr, "SECURE CMD TOO MANY DATA ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "totallen_excludes_header", AT_SEV_ERROR,
                                    AT_DIR_TE_TO_ME, off);
    has_text(f->what, num(0, "TotalLen is %llu ", fr.n - 6));
    has_text(f->what, num(1, "%llu bytes long", fr.n));
    has_text(f->what, "6-byte header");
    has_text(f->fix, num(2, "(%llu)", fr.n));
    silent(c, "totallen_excludes_self");
    silent(c, "secure_failure_unexplained");
    free_chan(c);
    good_case_silent("totallen_excludes_header");
}

static void test_totallen_mismatch(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    write_frame(&fr, 2, &fx.ca2_der, NULL);
    set16(fr.b, fr.n + 10); /* the module waits for 10 bytes that never come */
    uint64_t off = secure(c, &fr, "SECURE CMD SERVICE TIMEOUT ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "totallen_mismatch", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off);
    has_text(f->what, num(0, "TotalLen is %llu ", fr.n + 10));
    has_text(f->what, num(1, "units end at byte %llu", fr.n));
    has_text(f->what, "10 bytes too many");
    has_text(f->fix, num(2, "(%llu)", fr.n));
    silent(c, "bytes_lost");
    free_chan(c);
    good_case_silent("totallen_mismatch");
}

/* Every u16 field (and the index value) byte-swapped. */
static void to_big_endian(frame *fr)
{
    at_frame f;
    assert_int_equal(at_frame_decode(fr->b, fr->n, 0, NULL, &f), AT_OK);
    uint8_t *p = fr->b;
    for (size_t i = 0; i < 6; i += 2) {
        uint8_t t = p[i];
        p[i] = p[i + 1];
        p[i + 1] = t;
    }
    for (unsigned k = 0; k < f.n_units; k++) {
        uint8_t *u = p + f.units[k].span.off;
        uint8_t t = u[0]; u[0] = u[1]; u[1] = t;
        t = u[2]; u[2] = u[3]; u[3] = t;
        if (f.units[k].param_id == AT_PARAM_INDEX) {
            t = u[4]; u[4] = u[5]; u[5] = t;
        }
    }
}

static void test_big_endian_lengths(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    /* 32 bytes: "00 20" big-endian is 8192 to the module. */
    encode(&fr, AT_CMD_DELETE, 1, NULL, NULL, IMEI, NULL, AT_DIGEST_SHA1);
    assert_int_equal(fr.n, 32);
    to_big_endian(&fr);
    uint64_t off = secure(c, &fr, "SECURE CMD SERVICE TIMEOUT ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "big_endian_lengths", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off);
    has_text(f->what, "00 20 means 32 big-endian but 8192 to the module");
    has_text(f->fix, "TotalLen 32 is 20 00");
    silent(c, "totallen_mismatch");
    silent(c, "bytes_lost");
    free_chan(c);
    good_case_silent("big_endian_lengths");
}

static void test_paramnum_mismatch(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    write_frame(&fr, 2, &fx.ca2_der, NULL);
    set16(fr.b + 4, 3); /* 4 units */
    uint64_t off = secure(c, &fr, "SECURE CMD LENGTH ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "paramnum_mismatch", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + 4);
    has_text(f->what, "ParamNum is 3 but the frame holds 4 parameter units "
                      "(index, cert, imei, signature)");
    has_text(f->fix, "Set ParamNum to 4");
    free_chan(c);
    good_case_silent("paramnum_mismatch");
}

static void test_unit_length_wrong(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    write_frame(&fr, 2, &fx.ca2_der, NULL);
    size_t iu = unit_off(&fr, AT_PARAM_IMEI);
    set16(fr.b + iu, 2);
    uint64_t off = secure(c, &fr, "SECURE CMD LENGTH ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "unit_length_wrong", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + iu);
    has_text(f->what, num(0, "unit at frame offset %llu has ParamLen 2", iu));
    has_text(f->what, "less than its own 4-byte header");
    silent(c, "signature_missing"); /* the walk stopped: no claim about later units */
    silent(c, "totallen_mismatch");
    free_chan(c);

    /* A ParamLen that runs past the frame. */
    c = open_chan();
    provision(c);
    write_frame(&fr, 2, &fx.ca2_der, NULL);
    size_t su = unit_off(&fr, AT_PARAM_SIGNATURE);
    set16(fr.b + su, fr.n - su + 40);
    off = secure(c, &fr, "SECURE CMD LENGTH ERROR");
    close_chan(c);
    f = must_find(c, "unit_length_wrong", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off + su);
    has_text(f->what, "The signature unit");
    has_text(f->what, num(0, "would end at byte %llu", fr.n + 40));
    has_text(f->what, num(1, "past the end of the %llu-byte frame", fr.n));
    free_chan(c);

    /* TotalLen covers 2 bytes that no unit does. */
    c = open_chan();
    provision(c);
    write_frame(&fr, 2, &fx.ca2_der, NULL);
    set16(fr.b, fr.n + 2);
    memset(fr.b + fr.n, 0, 2);
    off = secure_bytes(c, fr.b, fr.n + 2, "SECURE CMD LENGTH ERROR", "ERROR");
    close_chan(c);
    f = must_find(c, "unit_length_wrong", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off + fr.n);
    has_text(f->what, num(0, "2 bytes at frame offset %llu", fr.n));
    has_text(f->what, num(1, "inside TotalLen %llu, belong to no parameter unit", fr.n + 2));
    has_text(f->fix, num(2, "(%llu)", fr.n));
    silent(c, "totallen_mismatch");
    silent(c, "bytes_after_frame");
    free_chan(c);
    good_case_silent("unit_length_wrong");
}

/* ------------------------------------------------------------------ */
/* How the frame was sent                                             */
/* ------------------------------------------------------------------ */

static void test_frame_before_ready(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    write_frame(&fr, 2, &fx.ca2_der, NULL);
    sbnw_start(c, "\r\n");
    uint64_t off = feed_at(c, AT_DIR_TE_TO_ME, fr.b, fr.n, NS_MS);
    c->ts += 249 * NS_MS;
    ready(c); /* 250 ms after the frame's first byte */
    answer(c, "SECURE CMD ERROR", "ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "frame_before_ready", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off);
    has_text(f->what, "0.250 s before the module finished printing SECURE CMD READY");
    has_text(f->fix, "Wait for");
    silent(c, "secure_failure_unexplained");
    free_chan(c);

    /* READY never came. */
    c = open_chan();
    provision(c);
    sbnw_start(c, "\r\n");
    off = feed_at(c, AT_DIR_TE_TO_ME, fr.b, fr.n, NS_MS);
    answer(c, "SECURE CMD ERROR", "ERROR");
    close_chan(c);
    f = must_find(c, "frame_before_ready", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off);
    has_text(f->what, "never printed SECURE CMD READY");
    free_chan(c);
    good_case_silent("frame_before_ready");
}

static void test_bytes_after_frame(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    write_frame(&fr, 2, &fx.ca2_der, NULL);
    memcpy(fr.b + fr.n, "\r\n", 2);
    uint64_t off = secure_bytes(c, fr.b, fr.n + 2, "SECURE CMD TOO MANY DATA ERROR", "ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "bytes_after_frame", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + fr.n);
    has_text(f->what, num(0, "2 bytes after the %llu-byte frame", fr.n));
    has_text(f->what, "0D 0A (CR LF)");
    has_text(f->fix, num(1, "exactly the %llu bytes", fr.n));
    silent(c, "totallen_excludes_self");
    silent(c, "totallen_mismatch");
    free_chan(c);
    good_case_silent("bytes_after_frame");
}

static void test_frame_pause(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    write_frame(&fr, 2, &fx.ca2_der, NULL);
    sbnw_start(c, "\r\n");
    ready(c);
    uint64_t off = feed_at(c, AT_DIR_TE_TO_ME, fr.b, 100, 10 * NS_MS);
    feed_at(c, AT_DIR_TE_TO_ME, fr.b + 100, fr.n - 100, 1500 * NS_MS);
    answer(c, "SECURE CMD END OK", "OK");
    close_chan(c);
    /* The finding points at the first byte after the pause. */
    const at_finding *f = must_find(c, "frame_pause", AT_SEV_WARNING, AT_DIR_TE_TO_ME, off + 100);
    has_text(f->what, num(0, "paused 1.500 s before byte 100 of the %llu-byte frame", fr.n));
    assert_int_equal(c->n, 1);
    free_chan(c);

    /* 900 ms is under the default threshold of 1000 ms. */
    c = open_chan();
    provision(c);
    sbnw_start(c, "\r\n");
    ready(c);
    feed_at(c, AT_DIR_TE_TO_ME, fr.b, 100, 10 * NS_MS);
    feed_at(c, AT_DIR_TE_TO_ME, fr.b + 100, fr.n - 100, 900 * NS_MS);
    answer(c, "SECURE CMD END OK", "OK");
    close_chan(c);
    silent(c, "frame_pause");
    free_chan(c);
    good_case_silent("frame_pause");
}

static void hex_of(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02X", p[i]);
}

static void test_frame_as_hex_text(void **state)
{
    (void)state;
    frame fr;
    char text[256];

    /* "0C00..." is no plausible TotalLen: the text arrives as a line. */
    chan *c = open_chan();
    provision(c);
    sbnw_start(c, "\r"); /* CR only: the text starts right away */
    ready(c);
    uint64_t off = te(c, "0C0003000100060001000200\r\n");
    answer(c, "SECURE CMD SERVICE TIMEOUT ERROR", "ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "frame_as_hex_text", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off);
    has_text(f->what, "24 hexadecimal digits as ASCII text (\"0C00030001000600...\")");
    has_text(f->what, "the 12 binary bytes");
    has_text(f->fix, "send those 12 bytes");
    assert_int_equal(c->n, 1);
    free_chan(c);

    /* "2000..." reads as TotalLen 0x3032: the text is taken as a frame. */
    c = open_chan();
    provision(c);
    encode(&fr, AT_CMD_DELETE, 1, NULL, NULL, IMEI, NULL, AT_DIGEST_SHA1);
    hex_of(fr.b, fr.n, text);
    strcat(text, "\r\n");
    off = secure_bytes(c, (const uint8_t *)text, strlen(text),
                       "SECURE CMD SERVICE TIMEOUT ERROR", "ERROR");
    close_chan(c);
    f = must_find(c, "frame_as_hex_text", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off);
    has_text(f->what, "64 hexadecimal digits");
    has_text(f->what, "\"2000030002000600...\"");
    silent(c, "bytes_lost");
    silent(c, "totallen_mismatch");
    assert_int_equal(c->n, 1);
    free_chan(c);
    good_case_silent("frame_as_hex_text");
}

static void test_frame_as_pem(void **state)
{
    (void)state;
    chan *c = open_chan();
    provision(c);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_X509(bio, fx.ca2), 1);
    char *pem = NULL;
    long n = BIO_get_mem_data(bio, &pem);
    uint64_t off = secure_bytes(c, (const uint8_t *)pem, (size_t)n,
                                "SECURE CMD SERVICE TIMEOUT ERROR", "ERROR");
    BIO_free(bio);
    close_chan(c);
    const at_finding *f = must_find(c, "frame_as_pem", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off);
    has_text(f->what, "PEM text");
    has_text(f->fix, "DER");
    assert_int_equal(c->n, 1);
    free_chan(c);
    good_case_silent("frame_as_pem");
}

static void test_cert_is_pem(void **state)
{
    (void)state;
    chan *c = open_chan();
    provision(c);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_X509(bio, fx.ca2), 1);
    char *pem = NULL;
    long pn = BIO_get_mem_data(bio, &pem);
    der d = {(uint8_t *)pem, (size_t)pn};
    frame fr;
    write_frame(&fr, 2, &d, NULL);
    BIO_free(bio);
    size_t cu = unit_off(&fr, AT_PARAM_CERT);
    uint64_t off = secure(c, &fr, "SECURE CMD PUBLIC CERTIFICATE IS CORRUPTED");
    close_chan(c);
    const at_finding *f = must_find(c, "cert_is_pem", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + cu + 4);
    has_text(f->what, num(0, "holds %llu bytes of PEM text", (unsigned long long)pn));
    has_text(f->fix, "-outform DER");
    silent(c, "cert_unparsable");
    silent(c, "frame_as_pem");
    free_chan(c);
    good_case_silent("cert_is_pem");
}

static void test_xonxoff_active(void **state)
{
    (void)state;
    frame fr;
    write_frame(&fr, 2, &fx.ca_der, NULL);
    unsigned xon = 0, xoff = 0;
    size_t first = SIZE_MAX;
    for (size_t i = 0; i < fr.n; i++) {
        if (fr.b[i] == 0x11 || fr.b[i] == 0x13) {
            if (first == SIZE_MAX)
                first = i;
            fr.b[i] == 0x11 ? xon++ : xoff++;
        }
    }
    assert_true(xon >= 1 && xoff >= 1); /* the CA's serial holds both */

    chan *c = open_chan();
    provision(c);
    cmd(c, "AT\\Q1", "OK");
    uint64_t off = secure(c, &fr, "SECURE CMD SERVICE TIMEOUT ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "xonxoff_active", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + first);
    char want[96];
    snprintf(want, sizeof want, "holds %u XON/XOFF bytes (%u x 0x11, %u x 0x13)", xon + xoff,
             xon, xoff);
    has_text(f->what, want);
    has_text(f->what, num(0, "the first at frame offset %llu", first));
    has_text(f->what, "exchange #4");
    has_text(f->fix, "AT\\Q3");
    free_chan(c);

    /* With RTS/CTS (AT\Q3) the same frame is fine. */
    c = open_chan();
    provision(c);
    cmd(c, "AT\\Q1", "OK");
    cmd(c, "AT\\Q3", "OK");
    secure(c, &fr, "SECURE CMD END OK");
    close_chan(c);
    silent(c, "xonxoff_active");
    assert_int_equal(c->n, 0);
    free_chan(c);
    good_case_silent("xonxoff_active");
}

static void test_bytes_lost(void **state)
{
    (void)state;
    frame fr;
    encode(&fr, AT_CMD_DELETE, 1, NULL, NULL, IMEI, fx.client_key, AT_DIGEST_SHA1);
    for (size_t i = 0; i < fr.n; i++)
        assert_true(fr.b[i] != 0x11 && fr.b[i] != 0x13);

    chan *c = open_chan();
    provision(c);
    uint64_t off = secure_bytes(c, fr.b, 40, "SECURE CMD SERVICE TIMEOUT ERROR", "ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "bytes_lost", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off + 40);
    has_text(f->what, num(0, "stopped after 40 of its %llu bytes", fr.n));
    has_text(f->what, num(1, "waited for the other %llu until its service timeout", fr.n - 40));
    silent(c, "signature_missing");
    silent(c, "unit_length_wrong");
    silent(c, "totallen_mismatch");
    silent(c, "secure_failure_unexplained");
    free_chan(c);

    /* With XON/XOFF in effect the flow control is the likely culprit. */
    c = open_chan();
    provision(c);
    cmd(c, "AT\\Q1", "OK");
    off = secure_bytes(c, fr.b, 40, "SECURE CMD SERVICE TIMEOUT ERROR", "ERROR");
    close_chan(c);
    f = must_find(c, "bytes_lost", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off + 40);
    has_text(f->what, "AT\\Q1 (XON/XOFF flow control) is in effect");
    has_text(f->what, "likely ate the missing bytes");
    has_text(f->fix, "AT\\Q3");
    free_chan(c);

    /* The trace marks a gap: the capture, not the host, lost them. */
    c = open_chan();
    provision(c);
    sbnw_start(c, "\r\n");
    ready(c);
    off = feed_at(c, AT_DIR_TE_TO_ME, fr.b, 40, 10 * NS_MS);
    at_session_gap(c->s, AT_DIR_TE_TO_ME, c->ts);
    answer(c, "SECURE CMD SERVICE TIMEOUT ERROR", "ERROR");
    close_chan(c);
    f = must_find(c, "bytes_lost", AT_SEV_WARNING, AT_DIR_TE_TO_ME, off + 40);
    has_text(f->what, "The capture lost bytes inside the frame after 40 of its 209 bytes");
    free_chan(c);
    good_case_silent("bytes_lost");
}

/* ------------------------------------------------------------------ */
/* Content                                                            */
/* ------------------------------------------------------------------ */

static void test_index_out_of_range(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    write_frame(&fr, 12, &fx.ca2_der, NULL);
    uint64_t off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "index_out_of_range", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + 10);
    has_text(f->what, "Index 12 is outside 0..10");
    has_text(f->what, "legacy");
    has_text(f->fix, "1..10");
    free_chan(c);
    good_case_silent("index_out_of_range");
}

static void test_key_index_not_0(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    write_frame(&fr, 3, &fx.ca2_der, &fx.other_key_der);
    size_t ku = unit_off(&fr, AT_PARAM_KEY);
    uint64_t off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "key_index_not_0", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + ku);
    has_text(f->what, "private key for index 3");
    has_text(f->fix, "index 3");
    free_chan(c);
    good_case_silent("key_index_not_0");
}

static void test_no_client_cert(void **state)
{
    (void)state;
    frame fr;
    write_frame(&fr, 1, &fx.ca_der, NULL);

    /* Nothing in the trace says what index 0 holds, and a legacy module
     * refused the WRITE: it verifies every frame with that certificate, so
     * its absence is the explanation (an error, nothing left unexplained). */
    chan *c = open_chan();
    cmd(c, "AT+CGSN", IMEI "\r\n\r\nOK");
    uint64_t off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "no_client_cert", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + 10);
    has_text(f->what, "server certificate at index 1");
    has_text(f->what, "nothing in the trace shows one");
    has_text(f->fix, "--client-cert");
    silent(c, "secure_failure_unexplained");
    free_chan(c);

    /* A newer module need not verify (unsigned frames): only a warning. */
    at_analyzer_config newer = at_analyzer_default_config();
    newer.profile = at_profile_get(AT_PROFILE_NEWER);
    c = open_chan_cfg(&newer);
    cmd(c, "AT+CGSN", IMEI "\r\n\r\nOK");
    off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    must_find(c, "no_client_cert", AT_SEV_WARNING, AT_DIR_TE_TO_ME, off + 10);
    free_chan(c);

    /* The listing shows index 0 empty: an error. */
    c = open_chan();
    cmd(c, "AT+CGSN", IMEI "\r\n\r\nOK");
    char line[512];
    assert_true(at_sbnr_format(0, NULL, at_profile_get(AT_PROFILE_LEGACY), line,
                               sizeof line) > 0);
    char resp[600];
    snprintf(resp, sizeof resp, "%s\r\n\r\nOK", line);
    cmd(c, "AT^SBNR=is_cert", resp);
    off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    f = must_find(c, "no_client_cert", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off + 10);
    has_text(f->what, "listing of exchange #2 shows it empty");
    free_chan(c);

    /* --client-cert says it is there. */
    at_analyzer_config cfg = at_analyzer_default_config();
    cfg.client_cert_der = fx.client_der.p;
    cfg.client_cert_len = fx.client_der.n;
    c = open_chan_cfg(&cfg);
    cmd(c, "AT+CGSN", IMEI "\r\n\r\nOK");
    secure(c, &fr, "SECURE CMD END OK");
    close_chan(c);
    silent(c, "no_client_cert");
    assert_int_equal(c->n, 0);
    free_chan(c);
    good_case_silent("no_client_cert");
}

/* A signed READ or DELETE is verified with the index-0 certificate too. */
static void test_no_client_cert_read_delete(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    encode(&fr, AT_CMD_DELETE, 0, NULL, NULL, IMEI, fx.client_key, AT_DIGEST_SHA1);
    secure(c, &fr, "SECURE CMD END OK");
    encode(&fr, AT_CMD_READ, 1, NULL, NULL, IMEI, fx.client_key, AT_DIGEST_SHA1);
    uint64_t off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "no_client_cert", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + 10);
    assert_int_equal(f->exchange, 5);
    has_text(f->what, "This READ of index 1 is verified with the client certificate at "
                      "index 0, but there is none (exchange #4 deleted it).");
    silent(c, "secure_failure_unexplained");
    silent(c, "index_empty"); /* index 1 holds the CA */
    free_chan(c);

    /* An unsigned DELETE on a newer module is not verified: no claim. */
    at_analyzer_config newer = at_analyzer_default_config();
    newer.profile = at_profile_get(AT_PROFILE_NEWER);
    c = open_chan_cfg(&newer);
    cmd(c, "AT+CGSN", IMEI "\r\n\r\nOK");
    encode(&fr, AT_CMD_DELETE, 1, NULL, NULL, NULL, NULL, AT_DIGEST_SHA1);
    secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    silent(c, "no_client_cert");
    free_chan(c);
}

static void test_unknown_cmd(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    encode(&fr, 9, 1, NULL, NULL, IMEI, fx.client_key, AT_DIGEST_SHA1);
    uint64_t off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "unknown_cmd", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off + 2);
    has_text(f->what, "CmdId 9 (0x0009) is no command the module knows");
    has_text(f->fix, "Set CmdId to 1 (WRITE), 2 (READ), 3 (DELETE) or 4 (REVOKE)");
    silent(c, "secure_failure_unexplained");
    free_chan(c);
    good_case_silent("unknown_cmd");
}

static void test_frame_malformed(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    write_frame(&fr, 2, &fx.ca2_der, NULL);
    size_t iu = unit_off(&fr, AT_PARAM_IMEI);
    set16(fr.b + iu + 2, 9); /* the IMEI unit's ParamId becomes 9 */
    uint64_t off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    /* At the ParamId, two bytes into the unit. */
    const at_finding *f = must_find(c, "frame_malformed", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + iu + 2);
    char want[128];
    snprintf(want, sizeof want, "The frame breaks the format at frame offset %zu: a unit has "
                                "ParamId 9, which the module does not know (1 to 7).", iu + 2);
    assert_string_equal(f->what, want);
    has_text(f->fix, "each unit once (ParamLen, ParamId 1 to 7, value)");
    silent(c, "secure_failure_unexplained");
    free_chan(c);
    good_case_silent("frame_malformed");
}

/* The module parses the certificate of a WRITE only: bytes in a cert unit
 * of a DELETE it accepted are no claim. */
static void test_cert_of_a_delete_is_not_judged(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    der junk = {(uint8_t *)"not a certificate", 17};
    encode(&fr, AT_CMD_DELETE, 1, &junk, NULL, IMEI, fx.client_key, AT_DIGEST_SHA1);
    secure(c, &fr, "SECURE CMD END OK");
    close_chan(c);
    silent(c, "cert_unparsable");
    free_chan(c);
}

static void test_index_empty(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    /* Deleted in the trace (exchange #4), then read. */
    encode(&fr, AT_CMD_DELETE, 1, NULL, NULL, IMEI, fx.client_key, AT_DIGEST_SHA1);
    secure(c, &fr, "SECURE CMD END OK");
    encode(&fr, AT_CMD_READ, 1, NULL, NULL, IMEI, fx.client_key, AT_DIGEST_SHA1);
    uint64_t off = secure(c, &fr, "SECURE CMD ERROR");
    /* Listed empty (exchange #6), then deleted. */
    char line[512], resp[600];
    assert_true(at_sbnr_format(4, NULL, at_profile_get(AT_PROFILE_LEGACY), line,
                               sizeof line) > 0);
    snprintf(resp, sizeof resp, "%s\r\n\r\nOK", line);
    cmd(c, "AT^SBNR=is_cert", resp);
    encode(&fr, AT_CMD_DELETE, 4, NULL, NULL, IMEI, fx.client_key, AT_DIGEST_SHA1);
    uint64_t off2 = secure(c, &fr, "SECURE CMD ERROR");
    /* Never mentioned: it may hold a certificate written before the trace. */
    encode(&fr, AT_CMD_DELETE, 7, NULL, NULL, IMEI, fx.client_key, AT_DIGEST_SHA1);
    secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);

    unsigned n = 0;
    for (unsigned i = 0; i < c->n; i++) {
        const at_finding *f = &c->f[i];
        if (strcmp(f->rule, "index_empty") != 0)
            continue;
        n++;
        assert_string_equal(at_severity_name(f->severity), "error");
        if (f->exchange == 5) {
            assert_int_equal(f->off, off + 10);
            assert_string_equal(f->what, "This READ names index 1, which holds no certificate "
                                         "(exchange #4 deleted it).");
            has_text(f->fix, "or write one to index 1 first");
        } else {
            assert_int_equal(f->exchange, 7);
            assert_int_equal(f->off, off2 + 10);
            assert_string_equal(f->what, "This DELETE names index 4, which holds no "
                                         "certificate (the ^SBNR listing of exchange #6 shows "
                                         "it empty).");
        }
    }
    assert_int_equal(n, 2);
    /* Exchange #8 stays unexplained: the trace cannot tell. */
    const at_finding *u = find(c, "secure_failure_unexplained");
    assert_non_null(u);
    assert_int_equal(u->exchange, 8);
    has_text(u->fix, "or a READ or DELETE of an empty index");
    free_chan(c);
    good_case_silent("index_empty");
}

static void test_imei_missing(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    encode(&fr, AT_CMD_WRITE, 2, &fx.ca2_der, NULL, NULL, fx.client_key, AT_DIGEST_SHA1);
    size_t su = unit_off(&fr, AT_PARAM_SIGNATURE);
    uint64_t off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "imei_missing", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off + su);
    has_text(f->what, "no IMEI unit");
    has_text(f->fix, "(" IMEI ")");
    free_chan(c);

    /* A newer module accepts unsigned frames: only information. */
    at_analyzer_config cfg = at_analyzer_default_config();
    cfg.profile = at_profile_get(AT_PROFILE_NEWER);
    c = open_chan_cfg(&cfg);
    encode(&fr, AT_CMD_WRITE, 2, &fx.ca2_der, NULL, NULL, NULL, AT_DIGEST_SHA1);
    off = secure(c, &fr, "SECURE CMD END OK");
    close_chan(c);
    f = must_find(c, "imei_missing", AT_SEV_INFO, AT_DIR_TE_TO_ME, off + fr.n);
    has_text(f->what, "newer");
    free_chan(c);
    good_case_silent("imei_missing");
}

static void test_imei_not_15_digits(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    encode(&fr, AT_CMD_WRITE, 2, &fx.ca2_der, NULL, "35824005111111", fx.client_key,
           AT_DIGEST_SHA1);
    size_t iu = unit_off(&fr, AT_PARAM_IMEI);
    uint64_t off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "imei_not_15_digits", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + iu + 4);
    has_text(f->what, "\"35824005111111\", 14 digits instead of 15");
    has_text(f->fix, IMEI);
    free_chan(c);

    /* A letter in it: the offset points at the letter. */
    c = open_chan();
    provision(c);
    encode(&fr, AT_CMD_WRITE, 2, &fx.ca2_der, NULL, "3582400511A1110", fx.client_key,
           AT_DIGEST_SHA1);
    off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    f = must_find(c, "imei_not_15_digits", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off + iu + 4 + 10);
    has_text(f->what, "byte 0x41");
    free_chan(c);
    good_case_silent("imei_not_15_digits");
}

static void test_imei_luhn(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    encode(&fr, AT_CMD_WRITE, 2, &fx.ca2_der, NULL, "358240051111111", fx.client_key,
           AT_DIGEST_SHA1);
    size_t iu = unit_off(&fr, AT_PARAM_IMEI);
    uint64_t off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "imei_luhn", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + iu + 4 + 14);
    has_text(f->what, "358240051111111 fails the Luhn check");
    has_text(f->what, "check digit is 1, it would have to be 0");
    has_text(f->fix, IMEI);
    free_chan(c);
    good_case_silent("imei_luhn");
}

static void test_imei_mismatch(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    encode(&fr, AT_CMD_WRITE, 2, &fx.ca2_der, NULL, IMEI_OTHER, fx.client_key, AT_DIGEST_SHA1);
    size_t iu = unit_off(&fr, AT_PARAM_IMEI);
    uint64_t off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "imei_mismatch", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + iu + 4);
    has_text(f->what, "IMEI " IMEI_OTHER " but the module answered AT+CGSN with " IMEI);
    has_text(f->fix, IMEI);
    silent(c, "imei_luhn");
    silent(c, "imei_not_15_digits");
    free_chan(c);
    good_case_silent("imei_mismatch");
}

static void test_signature_missing(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    encode(&fr, AT_CMD_WRITE, 2, &fx.ca2_der, NULL, IMEI, NULL, AT_DIGEST_SHA1);
    uint64_t off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "signature_missing", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + fr.n);
    has_text(f->what, "no signature unit");
    has_text(f->fix, "SHA-1");
    free_chan(c);
    good_case_silent("signature_missing");
}

static void test_signature_not_base64(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    write_frame(&fr, 2, &fx.ca2_der, NULL);
    size_t su = unit_off(&fr, AT_PARAM_SIGNATURE);
    fr.b[su + 4 + 10] = '*';
    uint64_t off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "signature_not_base64", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + su + 14);
    has_text(f->what, num(0, "byte 0x2A at frame offset %llu (character 11 of 172)", su + 14));
    has_text(f->fix, "base64");
    silent(c, "signature_wrong_key");
    free_chan(c);
    good_case_silent("signature_not_base64");
}

/* A signer that writes the base64 of 96 zero bytes. */
static int short_signer(void *ctx, const uint8_t *region, size_t region_len, char *out,
                        size_t cap, size_t *out_len)
{
    (void)ctx;
    (void)region;
    (void)region_len;
    if (cap < 128)
        return -1;
    memset(out, 'A', 128);
    *out_len = 128;
    return 0;
}

static void test_signature_length(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    at_frame_spec spec = {.cmd_id = AT_CMD_WRITE, .index = 2, .cert = fx.ca2_der.p,
                          .cert_len = fx.ca2_der.n, .imei = IMEI, .sign = true};
    assert_int_equal(at_frame_encode(&spec, short_signer, NULL, fr.b, sizeof fr.b, &fr.n), AT_OK);
    size_t su = unit_off(&fr, AT_PARAM_SIGNATURE);
    uint64_t off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "signature_length", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + su + 4);
    has_text(f->what, "decodes to 96 bytes");
    has_text(f->what, "128-byte modulus");
    has_text(f->what, "the client certificate written in exchange #2");
    silent(c, "signature_wrong_key");
    free_chan(c);
    good_case_silent("signature_length");
}

static void test_signature_wrong_key(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    encode(&fr, AT_CMD_WRITE, 2, &fx.ca2_der, NULL, IMEI, fx.other_key, AT_DIGEST_SHA1);
    size_t su = unit_off(&fr, AT_PARAM_SIGNATURE);
    uint64_t off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    at_cert_summary cs = summary_of(&fx.client_der);
    const at_finding *f = must_find(c, "signature_wrong_key", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + su + 4);
    has_text(f->what, "the client certificate written in exchange #2");
    has_text(f->what, "subject /C=DE/CN=client");
    has_text(f->what, cs.thumbprint);
    has_text(f->what, "signed with another key");
    free_chan(c);

    /* The right key, but the index changed after signing. */
    c = open_chan();
    provision(c);
    write_frame(&fr, 2, &fx.ca2_der, NULL);
    fr.b[10] = 3;
    off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    f = must_find(c, "signature_wrong_key", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off + su + 4);
    has_text(f->what, "recovers a SHA-1 digest from the signature, but not the digest of the "
                      "signed bytes");
    free_chan(c);
    good_case_silent("signature_wrong_key");
}

static void test_signature_digest(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    encode(&fr, AT_CMD_WRITE, 2, &fx.ca2_der, NULL, IMEI, fx.client_key, AT_DIGEST_SHA256);
    size_t su = unit_off(&fr, AT_PARAM_SIGNATURE);
    uint64_t off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "signature_digest", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + su + 4);
    has_text(f->what, "SHA-256 digest but a legacy module");
    has_text(f->what, "expects SHA-1");
    has_text(f->fix, "SHA-1");
    assert_string_equal(at_analyzer_model(c->an)->profile->name, "legacy");
    free_chan(c);
    good_case_silent("signature_digest");
}

static void test_cert_too_large(void **state)
{
    (void)state;
    assert_true(fx.big_der.n > 2048);
    chan *c = open_chan();
    frame fr;
    provision(c);
    write_frame(&fr, 2, &fx.big_der, NULL);
    size_t cu = unit_off(&fr, AT_PARAM_CERT);
    uint64_t off = secure(c, &fr, "SECURE CMD LENGTH ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "cert_too_large", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off + cu);
    has_text(f->what, num(0, "The certificate is %llu bytes", fx.big_der.n));
    has_text(f->what, "at most 2048");
    silent(c, "cert_unparsable");
    free_chan(c);
    good_case_silent("cert_too_large");
}

static void test_cert_unparsable(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    uint8_t junk[300];
    memset(junk, 0x5A, sizeof junk);
    der d = {junk, sizeof junk};
    write_frame(&fr, 2, &d, NULL);
    size_t cu = unit_off(&fr, AT_PARAM_CERT);
    uint64_t off = secure(c, &fr, "SECURE CMD PUBLIC CERTIFICATE IS CORRUPTED");
    close_chan(c);
    const at_finding *f = must_find(c, "cert_unparsable", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + cu + 4);
    has_text(f->what, "300 bytes do not parse as a DER X.509 certificate");
    silent(c, "cert_is_pem");
    free_chan(c);
    good_case_silent("cert_unparsable");
}

static void test_key_too_large(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    cmd(c, "AT+CGSN", IMEI "\r\n\r\nOK");
    uint8_t *junk = malloc(4200);
    assert_non_null(junk);
    memset(junk, 0x30, 4200);
    der d = {junk, 4200};
    write_frame(&fr, 0, &fx.client_der, &d);
    free(junk);
    size_t ku = unit_off(&fr, AT_PARAM_KEY);
    uint64_t off = secure(c, &fr, "SECURE CMD LENGTH ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "key_too_large", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off + ku);
    has_text(f->what, "The private key is 4200 bytes");
    has_text(f->what, "at most 4096");
    silent(c, "key_cert_mismatch");
    free_chan(c);
    good_case_silent("key_too_large");
}

static void test_key_cert_mismatch(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    cmd(c, "AT+CGSN", IMEI "\r\n\r\nOK");
    write_frame(&fr, 0, &fx.client_der, &fx.other_key_der);
    size_t ku = unit_off(&fr, AT_PARAM_KEY);
    uint64_t off = secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "key_cert_mismatch", AT_SEV_ERROR, AT_DIR_TE_TO_ME,
                                    off + ku + 4);
    has_text(f->what, "(RSA, 1024 bits) does not belong to the certificate in the same frame");
    has_text(f->what, "subject /C=DE/CN=client");
    silent(c, "signature_wrong_key"); /* signed with the certificate's own key */
    assert_int_equal(c->n, 1);
    assert_true(c->ndet == 1 && c->det[0].key_ok && !c->det[0].key_matches_cert);
    free_chan(c);
    good_case_silent("key_cert_mismatch");
}

/* ------------------------------------------------------------------ */
/* TLS                                                                */
/* ------------------------------------------------------------------ */

/* +CIEV: is_cert for the server certificate, then ^SIS with @p info;
 * returns the ME offset of the info id. */
static uint64_t tls_failure(chan *c, unsigned srv, unsigned info, bool with_ciev)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "AT^SISO=%u", srv);
    cmd(c, buf, "OK");
    if (with_ciev) {
        at_cert_summary s = summary_of(&fx.server_der);
        snprintf(buf, sizeof buf, "\r\n+CIEV: is_cert,%u,%s,%s,%s,%s,%s,%s\r\n", srv, s.issuer,
                 s.serial, s.subject, s.sig_alg, s.thumb_alg, s.thumbprint);
        me(c, buf);
    }
    snprintf(buf, sizeof buf, "\r\n^SIS: %u,0,%u,\"%s\"\r\n", srv, info,
             at_sis_info_text(info));
    uint64_t off = me(c, buf);
    char head[32];
    return off + 2 + (uint64_t)snprintf(head, sizeof head, "^SIS: %u,0,", srv);
}

static void test_tls_server_not_trusted(void **state)
{
    (void)state;
    frame fr;

    /* secOpt selects index 2 = "Other CA"; the server's issuer is at 1. */
    chan *c = open_chan();
    provision(c);
    write_frame(&fr, 2, &fx.ca2_der, NULL);
    secure(c, &fr, "SECURE CMD END OK");
    cmd(c, "AT^SISS=1,secOpt,2", "OK");
    uint64_t off = tls_failure(c, 1, 66, true);
    close_chan(c);
    const at_finding *f = must_find(c, "tls_server_not_trusted", AT_SEV_ERROR, AT_DIR_ME_TO_TE,
                                    off);
    has_text(f->what, "^SIS info 66 (peer certificate is not confirmed) for service 1");
    has_text(f->what, "the server's certificate was issued by /C=DE/CN=Test Root CA; secOpt 2 "
                      "selects index 2, /C=DE/CN=Other CA, which is not its issuer.");
    has_text(f->fix, "Select index 1, which holds /C=DE/CN=Test Root CA, with "
                     "AT^SISS=1,secOpt,1.");
    free_chan(c);

    /* The same at the store's last index (10 on a legacy module): a slot
     * like any other, not "outside the store". */
    c = open_chan();
    provision(c);
    write_frame(&fr, 10, &fx.ca2_der, NULL);
    secure(c, &fr, "SECURE CMD END OK");
    cmd(c, "AT^SISS=1,secOpt,10", "OK");
    off = tls_failure(c, 1, 66, true);
    close_chan(c);
    assert_int_equal(at_analyzer_model(c->an)->profile->index_max, 10);
    f = must_find(c, "tls_server_not_trusted", AT_SEV_ERROR, AT_DIR_ME_TO_TE, off);
    has_text(f->what, "secOpt 10 selects index 10, /C=DE/CN=Other CA, which is not its "
                      "issuer.");
    free_chan(c);

    /* The issuer is nowhere; the selected slot is empty (deleted). */
    c = open_chan();
    cmd(c, "AT+CGSN", IMEI "\r\n\r\nOK");
    write_frame(&fr, 0, &fx.client_der, &fx.client_key_der);
    secure(c, &fr, "SECURE CMD END OK");
    encode(&fr, AT_CMD_DELETE, 3, NULL, NULL, IMEI, fx.client_key, AT_DIGEST_SHA1);
    secure(c, &fr, "SECURE CMD END OK");
    cmd(c, "AT^SISS=1,\"secopt\",\"3\"", "OK");
    off = tls_failure(c, 1, 77, true);
    close_chan(c);
    f = must_find(c, "tls_server_not_trusted", AT_SEV_ERROR, AT_DIR_ME_TO_TE, off);
    has_text(f->what, "(the certificate does not exist)");
    has_text(f->what, "selects index 3, which is empty (deleted in exchange #3): no stored "
                      "certificate is there to confirm the server");
    has_text(f->fix, "Store the certificate of /C=DE/CN=Test Root CA (the issuing CA) and "
                     "select its index with AT^SISS=1,secOpt,<n>.");
    free_chan(c);

    /* No +CIEV: the server's certificate is unknown. */
    c = open_chan();
    provision(c);
    cmd(c, "AT^SISS=1,secOpt,1", "OK");
    off = tls_failure(c, 1, 66, false);
    close_chan(c);
    f = must_find(c, "tls_server_not_trusted", AT_SEV_ERROR, AT_DIR_ME_TO_TE, off);
    has_text(f->what, "no +CIEV: is_cert for this service");
    has_text(f->fix, "AT^SIND=is_cert,1");
    free_chan(c);

    /* The selected index is one the trace says nothing about. */
    c = open_chan();
    provision(c);
    cmd(c, "AT^SISS=1,secOpt,5", "OK");
    off = tls_failure(c, 1, 66, true);
    close_chan(c);
    f = must_find(c, "tls_server_not_trusted", AT_SEV_ERROR, AT_DIR_ME_TO_TE, off);
    has_text(f->what, "secOpt 5 selects index 5, whose content the trace does not show, so the "
                      "trace cannot tell whether it is its issuer");
    has_text(f->fix, "Select index 1");
    free_chan(c);

    /* The selected issuer expired before the connection (65). */
    c = open_chan();
    cmd(c, "AT+CGSN", IMEI "\r\n\r\nOK");
    write_frame(&fr, 0, &fx.client_der, &fx.client_key_der);
    secure(c, &fr, "SECURE CMD END OK");
    write_frame(&fr, 1, &fx.ca_expired_der, NULL);
    secure(c, &fr, "SECURE CMD END OK");
    cmd(c, "AT^SISS=1,secOpt,1", "OK");
    off = tls_failure(c, 1, 65, true);
    close_chan(c);
    f = must_find(c, "tls_server_not_trusted", AT_SEV_ERROR, AT_DIR_ME_TO_TE, off);
    has_text(f->what, "(certificate validity period expired)");
    has_text(f->what, "expired on 2025-01-01, before this connection on 2026-11-02");
    free_chan(c);

    /* Good: a ^SIS that is no certificate failure. */
    c = open_chan();
    provision(c);
    cmd(c, "AT^SISS=1,secOpt,1", "OK");
    tls_failure(c, 1, 14, true);
    close_chan(c);
    silent(c, "tls_server_not_trusted");
    assert_int_equal(c->n, 0);
    free_chan(c);
}

/* ------------------------------------------------------------------ */
/* Listing                                                            */
/* ------------------------------------------------------------------ */

typedef struct listing {
    char text[8192];
    size_t len;
    size_t line_at[11]; /* where each index's line starts in text */
} listing;

/* The ^SBNR answer for indexes 0..10; NULL entries are empty. */
static void make_listing(listing *l, const der *const store[11])
{
    l->len = 0;
    l->text[0] = '\0';
    for (unsigned i = 0; i <= 10; i++) {
        l->line_at[i] = l->len;
        at_cert_summary s;
        if (store[i])
            s = summary_of(store[i]);
        size_t n = at_sbnr_format(i, store[i] ? &s : NULL, at_profile_get(AT_PROFILE_LEGACY),
                                  l->text + l->len, sizeof l->text - l->len);
        assert_true(n > 0);
        l->len += n;
        l->len += (size_t)snprintf(l->text + l->len, sizeof l->text - l->len, "\r\n");
    }
    l->len += (size_t)snprintf(l->text + l->len, sizeof l->text - l->len, "\r\nOK");
}

/* AT^SBNR=is_cert with @p l; returns the ME offset of the listing text. */
static uint64_t list_store(chan *c, const listing *l)
{
    te(c, "AT^SBNR=is_cert\r");
    me(c, "AT^SBNR=is_cert\r");
    me(c, "\r\n");
    uint64_t base = me(c, l->text);
    me(c, "\r\n");
    return base;
}

static void test_sbnr_mismatch(void **state)
{
    (void)state;
    listing l;

    /* Index 1 listed with another certificate than the trace wrote. */
    chan *c = open_chan();
    provision(c);
    const der *wrong[11] = {&fx.client_der, &fx.ca2_der};
    make_listing(&l, wrong);
    uint64_t base = list_store(c, &l);
    close_chan(c);
    at_cert_summary ca2 = summary_of(&fx.ca2_der), ca = summary_of(&fx.ca_der);
    const char *thumb = strstr(l.text + l.line_at[1], "thumbprint: \"") + 13;
    const at_finding *f = must_find(c, "sbnr_mismatch", AT_SEV_WARNING, AT_DIR_ME_TO_TE,
                                    base + (uint64_t)(thumb - l.text));
    has_text(f->what, "^SBNR lists index 1 with a");
    has_text(f->what, ca2.thumbprint);
    has_text(f->what, "exchange #3 wrote");
    has_text(f->what, ca.thumbprint);
    assert_int_equal(c->n, 1);
    free_chan(c);

    /* Written, but listed empty. */
    c = open_chan();
    provision(c);
    const der *lost[11] = {&fx.client_der};
    make_listing(&l, lost);
    base = list_store(c, &l);
    close_chan(c);
    f = must_find(c, "sbnr_mismatch", AT_SEV_WARNING, AT_DIR_ME_TO_TE,
                  base + l.line_at[1] + strlen("^SBNR: "));
    has_text(f->what, "lists index 1 as empty, but exchange #3 wrote");
    free_chan(c);

    /* Deleted, but listed. */
    c = open_chan();
    provision(c);
    frame fr;
    encode(&fr, AT_CMD_DELETE, 1, NULL, NULL, IMEI, fx.client_key, AT_DIGEST_SHA1);
    secure(c, &fr, "SECURE CMD END OK");
    const der *back[11] = {&fx.client_der, &fx.ca_der};
    make_listing(&l, back);
    base = list_store(c, &l);
    close_chan(c);
    f = must_find(c, "sbnr_mismatch", AT_SEV_WARNING, AT_DIR_ME_TO_TE,
                  base + l.line_at[1] + strlen("^SBNR: "));
    has_text(f->what, "a certificate at index 1, but exchange #4 deleted it");
    free_chan(c);

    /* Good: the listing shows what was written. */
    c = open_chan();
    provision(c);
    const der *right[11] = {&fx.client_der, &fx.ca_der};
    make_listing(&l, right);
    list_store(c, &l);
    close_chan(c);
    silent(c, "sbnr_mismatch");
    assert_int_equal(c->n, 0);
    assert_int_equal(at_analyzer_model(c->an)->store[1].state, AT_SLOT_WRITTEN);
    assert_int_equal(at_analyzer_model(c->an)->store[2].state, AT_SLOT_EMPTY);
    free_chan(c);
}

static void test_secure_failure_unexplained(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    write_frame(&fr, 2, &fx.ca2_der, NULL);
    sbnw_start(c, "\r\n");
    ready(c);
    feed_at(c, AT_DIR_TE_TO_ME, fr.b, fr.n, 10 * NS_MS);
    uint64_t off = answer(c, "SECURE CMD ERROR", "ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "secure_failure_unexplained", AT_SEV_WARNING,
                                    AT_DIR_ME_TO_TE, off);
    has_text(f->what, "The module answered SECURE CMD ERROR");
    has_text(f->fix, "Usual causes: a signature the module cannot verify");
    assert_int_equal(f->exchange, 4);
    assert_int_equal(c->n, 1);
    free_chan(c);
    good_case_silent("secure_failure_unexplained");
}

/* ------------------------------------------------------------------ */
/* Model and details                                                  */
/* ------------------------------------------------------------------ */

static void test_model(void **state)
{
    (void)state;
    chan *c = open_chan();
    provision(c);
    cmd(c, "AT\\Q1", "OK");
    cmd(c, "AT^SISS=1,secOpt,\"1,5,9\"", "OK");
    cmd(c, "AT^SISS=2,\"SECOPT\",3", "OK");
    cmd(c, "at^siss=3,secopt,1,2", "OK");
    cmd(c, "AT^SISS=4,secOpt,-1", "OK");
    cmd(c, "AT^SISS=5,secOpt,\"\"", "OK");
    cmd(c, "AT^SISS=6,secOpt,2", "ERROR");
    cmd(c, "AT^SISS=7,address,\"socktcps://example.com:443\"", "OK");
    frame fr;
    encode(&fr, AT_CMD_DELETE, 1, NULL, NULL, IMEI, fx.client_key, AT_DIGEST_SHA1);
    secure(c, &fr, "SECURE CMD END OK");
    tls_failure(c, 1, 14, true);
    close_chan(c);

    const at_model *m = at_analyzer_model(c->an);
    assert_true(m->has_imei);
    assert_string_equal(m->imei, IMEI);
    assert_true(m->xonxoff);
    assert_string_equal(m->profile->name, "legacy");
    assert_false(m->profile_given);
    assert_true(m->has_client_cert);
    assert_int_equal(m->client_cert_exchange, 2);
    at_cert_summary cs = summary_of(&fx.client_der);
    assert_int_equal(m->store[0].state, AT_SLOT_WRITTEN);
    assert_string_equal(m->store[0].thumbprint, cs.thumbprint);
    assert_string_equal(m->store[0].subject, "/C=DE/CN=client");
    assert_int_equal(m->store[0].size, fx.client_der.n);
    assert_int_equal(m->store[0].expiry_year, 2040);
    assert_int_equal(m->store[1].state, AT_SLOT_EMPTY);
    assert_true(m->store[1].deleted);
    assert_int_equal(m->store[1].exchange, 12);
    assert_int_equal(m->store[2].state, AT_SLOT_UNKNOWN);
    assert_string_equal(m->services[1].secopt, "1,5,9");
    assert_string_equal(m->services[2].secopt, "3");
    assert_string_equal(m->services[3].secopt, "1,2");
    assert_string_equal(m->services[4].secopt, "-1");
    assert_true(m->services[5].has_secopt);
    assert_string_equal(m->services[5].secopt, "");
    assert_false(m->services[6].has_secopt);
    assert_false(m->services[7].has_secopt);
    at_cert_summary ss = summary_of(&fx.server_der);
    assert_true(m->services[1].has_server_cert);
    assert_string_equal(m->services[1].server_issuer, "/C=DE/CN=Test Root CA");
    assert_string_equal(m->services[1].server_subject, "/C=DE/CN=server.example");
    assert_string_equal(m->services[1].server_thumbprint, ss.thumbprint);
    free_chan(c);

    /* AT\Q3 turns XON/XOFF off again. */
    c = open_chan();
    cmd(c, "AT\\Q1", "OK");
    cmd(c, "AT\\Q3", "OK");
    close_chan(c);
    assert_false(at_analyzer_model(c->an)->xonxoff);
    free_chan(c);
}

static void test_profile_guess(void **state)
{
    (void)state;
    /* A ^SBNR line with an expiry date. */
    chan *c = open_chan();
    at_cert_summary s = summary_of(&fx.ca_der);
    char line[2048], resp[2100];
    assert_true(at_sbnr_format(1, &s, at_profile_get(AT_PROFILE_NEWER), line, sizeof line) > 0);
    assert_non_null(strstr(line, "expiry date"));
    snprintf(resp, sizeof resp, "%s\r\n\r\nOK", line);
    cmd(c, "AT^SBNR=is_cert", resp);
    close_chan(c);
    assert_string_equal(at_analyzer_model(c->an)->profile->name, "newer");
    assert_int_equal(at_analyzer_model(c->an)->store[1].state, AT_SLOT_LISTED);
    assert_true(at_analyzer_model(c->an)->store[1].has_expiry);
    free_chan(c);

    /* An empty index 15 in a listing. */
    c = open_chan();
    assert_true(at_sbnr_format(15, NULL, at_profile_get(AT_PROFILE_LEGACY), line, sizeof line) > 0);
    snprintf(resp, sizeof resp, "%s\r\n\r\nOK", line);
    cmd(c, "AT^SBNR=is_cert", resp);
    close_chan(c);
    assert_string_equal(at_analyzer_model(c->an)->profile->name, "newer");
    free_chan(c);

    /* Index 12 and a SHA-256 signature, both answered END OK. */
    frame fr;
    c = open_chan();
    provision(c);
    write_frame(&fr, 12, &fx.ca2_der, NULL);
    secure(c, &fr, "SECURE CMD END OK");
    close_chan(c);
    assert_string_equal(at_analyzer_model(c->an)->profile->name, "newer");
    silent(c, "index_out_of_range");
    /* SHA-1 answered END OK was accepted; only the guess is told. */
    assert_int_equal(c->n, 1);
    has_text(must_find(c, "profile_guessed_newer", AT_SEV_INFO, AT_DIR_TE_TO_ME,
                       c->f[0].off)->what, "accepted index 12 (SECURE CMD END OK)");
    free_chan(c);

    c = open_chan();
    provision(c);
    encode(&fr, AT_CMD_WRITE, 2, &fx.ca2_der, NULL, IMEI, fx.client_key, AT_DIGEST_SHA256);
    secure(c, &fr, "SECURE CMD END OK");
    close_chan(c);
    assert_string_equal(at_analyzer_model(c->an)->profile->name, "newer");
    assert_int_equal(c->n, 1);
    has_text(must_find(c, "profile_guessed_newer", AT_SEV_INFO, AT_DIR_TE_TO_ME,
                       c->f[0].off)->what, "accepted a SHA-256 signature");
    free_chan(c);

    /* A given profile wins over the evidence. */
    at_analyzer_config cfg = at_analyzer_default_config();
    cfg.profile = at_profile_get(AT_PROFILE_LEGACY);
    c = open_chan_cfg(&cfg);
    provision(c);
    secure(c, &fr, "SECURE CMD END OK");
    close_chan(c);
    assert_string_equal(at_analyzer_model(c->an)->profile->name, "legacy");
    assert_true(at_analyzer_model(c->an)->profile_given);
    silent(c, "signature_digest"); /* the module accepted it: no claim against that */
    free_chan(c);
}

/* A client certificate that is no certificate: the analyzer is not made. */
static void test_client_cert_not_a_certificate(void **state)
{
    (void)state;
    at_analyzer_config cfg = at_analyzer_default_config();
    cfg.client_cert_der = fx.client_der.p;
    cfg.client_cert_len = fx.client_der.n - 1;
    assert_null(at_analyzer_new(&cfg, NULL, NULL));
    cfg.client_cert_len = fx.client_der.n;
    at_analyzer *an = at_analyzer_new(&cfg, NULL, NULL);
    assert_non_null(an);
    assert_true(at_analyzer_model(an)->has_client_cert);
    at_analyzer_free(an);
    static const uint8_t not_der[] = {0x30, 0x03, 0x02, 0x01, 0x00};
    cfg.client_cert_der = not_der;
    cfg.client_cert_len = sizeof not_der;
    assert_null(at_analyzer_new(&cfg, NULL, NULL));
}

static void test_details_client_cert_option(void **state)
{
    (void)state;
    /* The analyzer keeps its own copy: the caller's bytes may go. */
    uint8_t *client = malloc(fx.client_der.n);
    assert_non_null(client);
    memcpy(client, fx.client_der.p, fx.client_der.n);
    at_analyzer_config cfg = at_analyzer_default_config();
    cfg.client_cert_der = client;
    cfg.client_cert_len = fx.client_der.n;
    chan *c = open_chan_cfg(&cfg);
    memset(client, 0, fx.client_der.n);
    free(client);
    frame fr;
    cmd(c, "AT+CGSN", IMEI "\r\n\r\nOK");
    write_frame(&fr, 1, &fx.ca_der, NULL);
    secure(c, &fr, "SECURE CMD END OK");
    encode(&fr, AT_CMD_WRITE, 2, &fx.ca2_der, NULL, IMEI, fx.other_key, AT_DIGEST_SHA1);
    secure(c, &fr, "SECURE CMD ERROR");
    close_chan(c);
    assert_int_equal(c->ndet, 2);
    assert_true(c->det[0].has_cert && c->det[0].cert_ok && !c->det[0].has_key);
    assert_string_equal(c->det[0].cert.subject, "/C=DE/CN=Test Root CA");
    assert_true(c->det[0].sig_checked && c->det[0].sig.matches);
    assert_string_equal(c->det_source[0], "--client-cert");
    assert_true(c->det[1].sig_checked && !c->det[1].sig.recovered);
    const at_finding *f = find(c, "signature_wrong_key");
    assert_non_null(f);
    has_text(f->what, "--client-cert (subject /C=DE/CN=client");
    assert_int_equal(c->n, 1);
    free_chan(c);
}

/* A READ: the module's answer frame holds the certificate and a raw digest. */
static void test_read_response(void **state)
{
    (void)state;
    chan *c = open_chan();
    provision(c);
    frame req, resp;
    encode(&req, AT_CMD_READ, 1, NULL, NULL, IMEI, fx.client_key, AT_DIGEST_SHA1);
    /* TotalLen, READ, 3 units: index 1, the certificate, SHA-1 of 2..end of cert. */
    size_t n = 6 + 6 + 4 + fx.ca_der.n;
    set16(resp.b + 2, AT_CMD_READ);
    set16(resp.b + 4, 3);
    memcpy(resp.b + 6, "\x06\x00\x01\x00\x01\x00", 6);
    set16(resp.b + 12, 4 + fx.ca_der.n);
    set16(resp.b + 14, AT_PARAM_CERT);
    memcpy(resp.b + 16, fx.ca_der.p, fx.ca_der.n);
    set16(resp.b + n, 24);
    set16(resp.b + n + 2, AT_PARAM_SIGNATURE);
    unsigned int dl = 0;
    assert_int_equal(EVP_Digest(resp.b + 2, n - 2, resp.b + n + 4, &dl, EVP_sha1(), NULL), 1);
    resp.n = n + 24;
    set16(resp.b, resp.n);

    sbnw_start(c, "\r\n");
    ready(c);
    feed_at(c, AT_DIR_TE_TO_ME, req.b, req.n, 10 * NS_MS);
    feed_at(c, AT_DIR_ME_TO_TE, resp.b, resp.n, 100 * NS_MS);
    answer(c, "SECURE CMD END OK", "OK");
    close_chan(c);
    if (c->n)
        dump(c);
    assert_int_equal(c->n, 0);
    assert_int_equal(c->ndet, 4);
    const at_frame_details *q = &c->det[2], *a = &c->det[3];
    assert_false(q->has_cert);
    assert_true(q->sig_checked && q->sig.matches);
    assert_true(a->has_cert && a->cert_ok);
    assert_string_equal(a->cert.subject, "/C=DE/CN=Test Root CA");
    assert_true(a->sig.present);
    assert_int_equal(a->sig.digest_len, 20);
    assert_false(a->sig_checked);
    assert_null(a->verify_source);
    free_chan(c);
}

/* at_analyzer_finish judges an exchange whose END never came. */
static void test_finish_open_exchange(void **state)
{
    (void)state;
    chan *c = open_chan();
    provision(c);
    sbnw_start(c, "\r\n");
    ready(c);
    assert_int_equal(c->n, 0);
    at_analyzer_finish(c->an); /* the session is not finished: no END */
    const at_finding *f = must_find(c, "secure_failure_unexplained", AT_SEV_WARNING,
                                    AT_DIR_TE_TO_ME, 0);
    has_text(f->what, "no SECURE CMD result before the trace ended");
    assert_int_equal(f->exchange, 4);
    assert_int_equal(c->n, 1);
    free_chan(c);
}

/* ------------------------------------------------------------------ */
/* The committed samples                                              */
/* ------------------------------------------------------------------ */

static chan *run_sample(const char *name)
{
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/%s", ATTRACE_SAMPLES_DIR, name);
    at_trace_reader *r = at_trace_open(path, err, sizeof err);
    if (!r)
        fprintf(stderr, "%s\n", err);
    assert_non_null(r);
    chan *c = open_chan();
    at_trace_record rec;
    int rc;
    while ((rc = at_trace_next(r, &rec)) == 1) {
        c->ts = rec.ts_ns;
        if (rec.event != AT_TEV_DATA)
            continue;
        if (rec.flags & AT_TFLAG_BYTES_MISSING)
            at_session_gap(c->s, rec.dir, rec.ts_ns);
        at_session_feed(c->s, rec.dir, rec.ts_ns, rec.payload, rec.len);
    }
    assert_int_equal(rc, 0);
    at_trace_close(r);
    close_chan(c);
    return c;
}

static void test_sample_totallen_excludes_self(void **state)
{
    (void)state;
    chan *c = run_sample("totallen-excludes-self.pcap");
    if (c->n != 1)
        dump(c);
    assert_int_equal(c->n, 1);
    assert_string_equal(c->f[0].rule, "totallen_excludes_self");
    assert_int_equal(c->f[0].severity, AT_SEV_ERROR);
    has_text(c->f[0].what, "it leaves out its own two bytes");
    assert_int_equal(c->ndet, 1);
    assert_true(c->det[0].sig_checked && c->det[0].sig.matches);
    assert_int_equal(at_analyzer_model(c->an)->store[0].state, AT_SLOT_EMPTY);
    free_chan(c);
}

static void test_sample_provisioning_ok(void **state)
{
    (void)state;
    chan *c = run_sample("provisioning-ok.pcap");
    for (unsigned i = 0; i < c->n; i++)
        assert_true(c->f[i].severity != AT_SEV_ERROR);
    assert_int_equal(c->n, 0);
    assert_int_equal(c->ndet, 3);
    for (unsigned i = 0; i < 3; i++) {
        assert_true(c->det[i].has_cert && c->det[i].cert_ok);
        assert_true(c->det[i].sig_checked);
        assert_true(c->det[i].sig.present && c->det[i].sig.base64_ok);
        assert_true(c->det[i].sig.length_ok && c->det[i].sig.recovered);
        assert_true(c->det[i].sig.matches);
        assert_int_equal(c->det[i].sig.digest_len, 20);
    }
    assert_true(c->det[0].has_key && c->det[0].key_ok && c->det[0].key_matches_cert);
    assert_string_equal(c->det[0].key.type, "RSA");
    assert_string_equal(c->det_source[0], "the certificate in this frame");
    assert_string_equal(c->det[0].cert.subject,
                        "/C=DE/ST=Berlin/O=Example, Inc./OU=Field Test/CN=gateway/0042");
    const at_model *m = at_analyzer_model(c->an);
    char want[96];
    snprintf(want, sizeof want, "the client certificate written in exchange #%u",
             (unsigned)m->client_cert_exchange);
    assert_true(m->client_cert_exchange > 0);
    assert_string_equal(c->det_source[1], want);
    assert_string_equal(c->det_source[2], want);
    assert_string_equal(c->det[1].cert.subject,
                        "/C=DE/O=attrace test/CN=attrace Test TLS CA");
    assert_string_equal(c->det[2].cert.subject,
                        "/C=DE/O=Example Trust Services/CN=Example Root CA R1");
    for (unsigned i = 0; i <= 2; i++)
        assert_int_equal(m->store[i].state, AT_SLOT_WRITTEN);
    for (unsigned i = 3; i <= 10; i++)
        assert_int_equal(m->store[i].state, AT_SLOT_EMPTY);
    assert_string_equal(m->imei, IMEI);
    free_chan(c);
}


/* ------------------------------------------------------------------ */
/* The module's acceptance                                            */
/* ------------------------------------------------------------------ */

static unsigned count_rule(const chan *c, const char *rule, at_severity *max)
{
    unsigned n = 0;
    for (unsigned i = 0; i < c->n; i++)
        if (strcmp(c->f[i].rule, rule) == 0) {
            n++;
            if (max && c->f[i].severity > *max)
                *max = c->f[i].severity;
        }
    return n;
}

static void no_finding_above_info(const chan *c)
{
    for (unsigned i = 0; i < c->n; i++)
        if (c->f[i].severity != AT_SEV_INFO) {
            fprintf(stderr, "a finding above info:\n");
            dump(c);
        }
    for (unsigned i = 0; i < c->n; i++)
        assert_int_equal(c->f[i].severity, AT_SEV_INFO);
}

/* An unsigned frame answered END OK comes from a newer module, from the
 * first such frame on: no imei_missing / signature_missing error. */
static void test_accepted_unsigned_is_newer(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    cmd(c, "AT+CGSN", IMEI "\r\n\r\nOK");
    encode(&fr, AT_CMD_WRITE, 2, &fx.ca2_der, NULL, NULL, NULL, AT_DIGEST_SHA1);
    uint64_t off = secure(c, &fr, "SECURE CMD END OK");
    encode(&fr, AT_CMD_DELETE, 3, NULL, NULL, NULL, NULL, AT_DIGEST_SHA1);
    secure(c, &fr, "SECURE CMD END OK");
    close_chan(c);
    assert_string_equal(at_analyzer_model(c->an)->profile->name, "newer");
    no_finding_above_info(c);
    const at_finding *f = must_find(c, "profile_guessed_newer", AT_SEV_INFO, AT_DIR_TE_TO_ME,
                                    off);
    assert_int_equal(f->exchange, 2);
    has_text(f->what, "a frame without IMEI and signature");
    has_text(f->what, "newer module (EXS62, PLS6x, TX62)");
    assert_int_equal(count_rule(c, "profile_guessed_newer", NULL), 1);
    assert_int_equal(count_rule(c, "imei_missing", NULL), 2);
    assert_int_equal(count_rule(c, "signature_missing", NULL), 2);
    free_chan(c);
}

/* A frame the capture cut before its IMEI and signature, answered END OK:
 * the missing units are the capture's loss, not the host's choice, so
 * they are no evidence of a module that takes unsigned frames. */
static void test_accepted_cut_frame_is_no_evidence(void **state)
{
    (void)state;
    frame fr;
    write_frame(&fr, 2, &fx.ca2_der, NULL);
    at_frame f;
    at_frame_decode(fr.b, fr.n, 0, at_profile_get(AT_PROFILE_LEGACY), &f);
    const at_frame_unit *imei = at_frame_find(&f, AT_PARAM_IMEI);
    assert_non_null(imei);
    size_t keep = (size_t)imei->span.off; /* the frame up to its IMEI unit */
    assert_true(keep > AT_FRAME_HEADER_LEN && keep < fr.n);

    chan *c = open_chan();
    provision(c);
    sbnw_start(c, "\r\n");
    ready(c);
    uint64_t off = feed_at(c, AT_DIR_TE_TO_ME, fr.b, keep, 10 * NS_MS);
    at_session_gap(c->s, AT_DIR_TE_TO_ME, c->ts);
    answer(c, "SECURE CMD END OK", "OK");
    close_chan(c);
    assert_string_equal(at_analyzer_model(c->an)->profile->name, "legacy");
    silent(c, "profile_guessed_newer");
    silent(c, "imei_missing");
    silent(c, "signature_missing");
    const at_finding *lost = must_find(c, "bytes_lost", AT_SEV_INFO, AT_DIR_TE_TO_ME, off + keep);
    has_text(lost->what, num(0, "after %llu of its", (unsigned long long)keep));
    free_chan(c);
}

/* Index 15 answered END OK: the guess flips at that exchange and the
 * session checks the following frames with the newer limits (index 16
 * has no index_range problem); the first frame's problem, judged with
 * the legacy limits before the answer came, is explained. */
/* Provisioning, then WRITEs of index 15 and 16 answered END OK; returns
 * the TE offset of the index-15 frame. */
static uint64_t write_15_and_16(chan *c)
{
    frame fr;
    provision(c);
    write_frame(&fr, 15, &fx.ca2_der, NULL);
    uint64_t off = secure(c, &fr, "SECURE CMD END OK");
    write_frame(&fr, 16, &fx.ca_der, NULL);
    secure(c, &fr, "SECURE CMD END OK");
    close_chan(c);
    return off;
}

static void test_accepted_index_frames_follow_guess(void **state)
{
    (void)state;
    chan *c = open_chan();
    uint64_t off = write_15_and_16(c);
    assert_int_equal(c->ndet, 4);
    assert_true(c->det_problems[2] & 1u << AT_FP_INDEX_RANGE);
    assert_int_equal(c->det_problems[3], 0);
    no_finding_above_info(c);
    silent(c, "index_out_of_range");
    const at_finding *f = must_find(c, "profile_guessed_newer", AT_SEV_INFO, AT_DIR_TE_TO_ME,
                                    off);
    has_text(f->what, "index 15");
    has_text(f->what, "; the index_range problem under the frame was judged with the legacy "
                      "limits");
    free_chan(c);

    /* A limit problem beside one that no profile lifts (a key at index
     * 15): the note names only the limit. */
    c = open_chan();
    frame fr;
    provision(c);
    write_frame(&fr, 15, &fx.ca2_der, &fx.client_key_der);
    off = secure(c, &fr, "SECURE CMD END OK");
    close_chan(c);
    assert_true(c->det_problems[2] & 1u << AT_FP_KEY_INDEX_NOT_0);
    f = must_find(c, "profile_guessed_newer", AT_SEV_INFO, AT_DIR_TE_TO_ME, off);
    has_text(f->what, "; the index_range problem under the frame was judged with the legacy "
                      "limits");
    free_chan(c);

    /* Two limits at once. */
    assert_true(fx.big_der.n > 2048 && fx.big_der.n <= 8192);
    c = open_chan();
    provision(c);
    write_frame(&fr, 15, &fx.big_der, NULL);
    off = secure(c, &fr, "SECURE CMD END OK");
    close_chan(c);
    f = must_find(c, "profile_guessed_newer", AT_SEV_INFO, AT_DIR_TE_TO_ME, off);
    has_text(f->what, "; the index_range and cert_too_large problems under the frame were "
                      "judged with the legacy limits before the answer came and do not apply.");
    free_chan(c);

    /* --profile legacy wins: the session keeps the legacy limits, and the
     * finding that contradicts the module's acceptance is only info. */
    at_analyzer_config cfg = at_analyzer_default_config();
    cfg.profile = at_profile_get(AT_PROFILE_LEGACY);
    c = open_chan_cfg(&cfg);
    write_15_and_16(c);
    assert_string_equal(at_analyzer_model(c->an)->profile->name, "legacy");
    assert_true(c->det_problems[3] & 1u << AT_FP_INDEX_RANGE);
    silent(c, "profile_guessed_newer");
    no_finding_above_info(c);
    at_severity max = AT_SEV_INFO;
    assert_int_equal(count_rule(c, "index_out_of_range", &max), 2);
    f = find(c, "index_out_of_range");
    has_text(f->what, "The module accepted the frame all the same (SECURE CMD END OK).");
    free_chan(c);
}

/* What contradicts the module's own acceptance is at most info; a risk
 * that did not bite (a pause) keeps its severity. */
static void test_accepted_findings_at_most_info(void **state)
{
    (void)state;
    chan *c = open_chan();
    frame fr;
    provision(c);
    write_frame(&fr, 2, &fx.ca2_der, NULL);
    fr.b[fr.n++] = '\r';
    fr.b[fr.n++] = '\n';
    uint64_t off = secure(c, &fr, "SECURE CMD END OK");
    close_chan(c);
    const at_finding *f = must_find(c, "bytes_after_frame", AT_SEV_INFO, AT_DIR_TE_TO_ME,
                                    off + fr.n - 2);
    has_text(f->what, "accepted the frame all the same");
    no_finding_above_info(c);
    free_chan(c);

    /* The same frame refused: an error. */
    c = open_chan();
    provision(c);
    secure(c, &fr, "SECURE CMD TO MANY DATA ERROR");
    close_chan(c);
    f = must_find(c, "bytes_after_frame", AT_SEV_ERROR, AT_DIR_TE_TO_ME, off + fr.n - 2);
    assert_null(strstr(f->what, "accepted"));
    free_chan(c);
}

/* A failed secure command with no byte from the host after READY. */
static void test_host_side_missing(void **state)
{
    (void)state;
    /* The host's command is there, its frame is not. */
    chan *c = open_chan();
    provision(c);
    sbnw_start(c, "\r\n");
    ready(c);
    c->ts += 10000 * NS_MS;
    uint64_t off = answer(c, "SECURE CMD SERVICE TIMEOUT ERROR", "ERROR");
    close_chan(c);
    const at_finding *f = must_find(c, "host_side_missing", AT_SEV_WARNING, AT_DIR_ME_TO_TE,
                                    off);
    assert_int_equal(f->exchange, 4);
    has_text(f->what, "no byte the host sent after SECURE CMD READY");
    has_text(f->what, "SECURE CMD SERVICE TIMEOUT ERROR");
    has_text(f->fix, "capture its side too");
    silent(c, "secure_failure_unexplained");
    assert_int_equal(c->n, 1);
    free_chan(c);

    /* A log of the module's side only: no exchange at all. */
    c = open_chan();
    me(c, "AT^SBNW=is_cert,1\r");
    me(c, "\r\nCONNECT\r\n");
    ready(c);
    c->ts += 10000 * NS_MS;
    off = answer(c, "SECURE CMD SERVICE TIMEOUT ERROR", "ERROR");
    close_chan(c);
    f = must_find(c, "host_side_missing", AT_SEV_WARNING, AT_DIR_ME_TO_TE, off);
    assert_int_equal(f->exchange, 0);
    has_text(f->what, "the module's side only");
    has_text(f->fix, "capture its side too");
    assert_int_equal(c->n, 1);
    free_chan(c);

    /* Not when the host sent something, nor when the module accepted. */
    c = open_chan();
    provision(c);
    sbnw_start(c, "\r\n");
    ready(c);
    te(c, "hello\r\n");
    answer(c, "SECURE CMD SERVICE TIMEOUT ERROR", "ERROR");
    close_chan(c);
    silent(c, "host_side_missing");
    free_chan(c);
    good_case_silent("host_side_missing");
}

/* The rule table: unique stable ids, every field filled, lookups work. */
static void test_rule_table(void **state)
{
    (void)state;
    size_t n = 0;
    const at_rule *r = at_rules(&n);
    assert_non_null(r);
    assert_true(n >= 34);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(r[i].id);
        for (const char *p = r[i].id; *p; p++)
            assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
        assert_true(r[i].severity == AT_SEV_INFO || r[i].severity == AT_SEV_WARNING ||
                    r[i].severity == AT_SEV_ERROR);
        assert_true(r[i].summary && r[i].summary[0]);
        assert_true(r[i].fix && r[i].fix[0]);
        assert_ptr_equal(at_rule_find(r[i].id), &r[i]);
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(r[k].id, r[i].id);
    }
    const at_rule *t = at_rule_find("totallen_excludes_self");
    assert_non_null(t);
    assert_int_equal(t->severity, AT_SEV_ERROR);
    has_text(t->fix, "including the TotalLen field itself (<frame length>)");
    assert_null(at_rule_find("no_such_rule"));
    assert_null(at_rule_find(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_table),
        cmocka_unit_test(test_accepted_unsigned_is_newer),
        cmocka_unit_test(test_accepted_cut_frame_is_no_evidence),
        cmocka_unit_test(test_accepted_index_frames_follow_guess),
        cmocka_unit_test(test_accepted_findings_at_most_info),
        cmocka_unit_test(test_host_side_missing),
        cmocka_unit_test(test_totallen_excludes_self),
        cmocka_unit_test(test_totallen_excludes_header),
        cmocka_unit_test(test_totallen_mismatch),
        cmocka_unit_test(test_big_endian_lengths),
        cmocka_unit_test(test_paramnum_mismatch),
        cmocka_unit_test(test_unit_length_wrong),
        cmocka_unit_test(test_frame_before_ready),
        cmocka_unit_test(test_bytes_after_frame),
        cmocka_unit_test(test_frame_pause),
        cmocka_unit_test(test_frame_as_hex_text),
        cmocka_unit_test(test_frame_as_pem),
        cmocka_unit_test(test_cert_is_pem),
        cmocka_unit_test(test_xonxoff_active),
        cmocka_unit_test(test_bytes_lost),
        cmocka_unit_test(test_index_out_of_range),
        cmocka_unit_test(test_key_index_not_0),
        cmocka_unit_test(test_no_client_cert),
        cmocka_unit_test(test_no_client_cert_read_delete),
        cmocka_unit_test(test_unknown_cmd),
        cmocka_unit_test(test_index_empty),
        cmocka_unit_test(test_frame_malformed),
        cmocka_unit_test(test_cert_of_a_delete_is_not_judged),
        cmocka_unit_test(test_imei_missing),
        cmocka_unit_test(test_imei_not_15_digits),
        cmocka_unit_test(test_imei_luhn),
        cmocka_unit_test(test_imei_mismatch),
        cmocka_unit_test(test_signature_missing),
        cmocka_unit_test(test_signature_not_base64),
        cmocka_unit_test(test_signature_length),
        cmocka_unit_test(test_signature_wrong_key),
        cmocka_unit_test(test_signature_digest),
        cmocka_unit_test(test_cert_too_large),
        cmocka_unit_test(test_cert_unparsable),
        cmocka_unit_test(test_key_too_large),
        cmocka_unit_test(test_key_cert_mismatch),
        cmocka_unit_test(test_tls_server_not_trusted),
        cmocka_unit_test(test_sbnr_mismatch),
        cmocka_unit_test(test_secure_failure_unexplained),
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_profile_guess),
        cmocka_unit_test(test_client_cert_not_a_certificate),
        cmocka_unit_test(test_details_client_cert_option),
        cmocka_unit_test(test_read_response),
        cmocka_unit_test(test_finish_open_exchange),
        cmocka_unit_test(test_sample_totallen_excludes_self),
        cmocka_unit_test(test_sample_provisioning_ok),
    };
    return cmocka_run_group_tests(tests, setup_fixture, teardown_fixture);
}
