/*
 * Unit tests of the private-key scanner (decoder/core/secret.c): every
 * key format at its exact span, certificates left alone, damaged wrappers
 * still caught, answers independent of how the bytes were fed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attrace/secret.h"
#include "testutil.h"

#define KEYS ATTRACE_SAMPLES_DIR "/keys/"
#define DATA ATTRACE_TEST_DATA_DIR "/secret/"

/* Offsets inside samples/keys/client.key.der (RSA-1024, PKCS#8; see
 * `openssl asn1parse`): the PKCS#1 key in the OCTET STRING, and the
 * private exponent's INTEGER inside it. */
#define P8_INNER 26u
#define P8_PRIV_EXP (P8_INNER + 4u + 3u + 132u + 5u)

typedef struct found {
    at_secret v[AT_SECRET_RUNS_MAX];
    unsigned n;
} found;

/* Scans @p p (placed at stream offset @p at after filler) in one feed and
 * returns what a question about [q_off, q_off + q_len) gets. */
static found scan(const uint8_t *p, size_t n, uint64_t q_off, uint64_t q_len)
{
    at_secret_scanner sc;
    at_secret_scanner_init(&sc);
    at_secret_scan(&sc, p, n);
    found f;
    f.n = at_secret_collect(&sc, q_off, q_len, f.v, AT_SECRET_RUNS_MAX);
    return f;
}

static void expect_same(const found *a, const found *b)
{
    assert_int_equal(a->n, b->n);
    for (unsigned i = 0; i < a->n; i++) {
        assert_int_equal(a->v[i].span.off, b->v[i].span.off);
        assert_int_equal(a->v[i].span.len, b->v[i].span.len);
        assert_int_equal(a->v[i].kind, b->v[i].kind);
    }
}

static void expect_one(const found *f, uint64_t off, uint32_t len, at_secret_kind kind)
{
    assert_int_equal(f->n, 1);
    assert_int_equal(f->v[0].span.off, off);
    assert_int_equal(f->v[0].span.len, len);
    assert_string_equal(at_secret_kind_name(f->v[0].kind), at_secret_kind_name(kind));
}

/* "AT^SBNW=is_cert,1\r\n" + the file + "\r\nOK\r\n": keys sit between text. */
static uint8_t *embed(const char *path, size_t *n, size_t *key_off, size_t *key_len)
{
    static const char pre[] = "AT^SBNW=is_cert,1\r\n0000 00\r\n";
    static const char post[] = "\r\nOK\r\n";
    size_t kl;
    uint8_t *k = tu_read_file(path, &kl);
    uint8_t *buf = malloc(sizeof pre + kl + sizeof post);
    assert_non_null(buf);
    memcpy(buf, pre, sizeof pre - 1);
    memcpy(buf + sizeof pre - 1, k, kl);
    memcpy(buf + sizeof pre - 1 + kl, post, sizeof post - 1);
    *key_off = sizeof pre - 1;
    *key_len = kl;
    *n = sizeof pre - 1 + kl + sizeof post - 1;
    free(k);
    return buf;
}

static void expect_file(const char *path, at_secret_kind kind)
{
    size_t n, ko, kl;
    uint8_t *buf = embed(path, &n, &ko, &kl);
    found f = scan(buf, n, 0, n);
    expect_one(&f, ko, (uint32_t)kl, kind);
    /* The bytes right after the key and right before it hold none of it. */
    f = scan(buf, n, ko + kl, n - ko - kl);
    assert_int_equal(f.n, 0);
    f = scan(buf, n, 0, ko);
    assert_int_equal(f.n, 0);
    free(buf);
}

static void test_each_kind_at_its_span(void **state)
{
    (void)state;
    expect_file(KEYS "client.key.der", AT_SECRET_PKCS8);
    expect_file(DATA "ec.sec1.der", AT_SECRET_SEC1_EC);
    expect_file(DATA "ec.p8.der", AT_SECRET_PKCS8);
    expect_file(DATA "ec.p8enc.der", AT_SECRET_PKCS8_ENCRYPTED);

    /* The PKCS#1 key alone (the OCTET STRING's content). */
    size_t kl;
    uint8_t *k = tu_read_file(KEYS "client.key.der", &kl);
    found f = scan(k + P8_INNER, kl - P8_INNER, 0, kl);
    expect_one(&f, 0, (uint32_t)(kl - P8_INNER), AT_SECRET_PKCS1_RSA);
    free(k);
}

static void test_certificates_are_not_secret(void **state)
{
    (void)state;
    static const char *const certs[] = {
        KEYS "client.crt.der", KEYS "server.crt.der", KEYS "ca1.crt.der",
        KEYS "ca2.crt.der", KEYS "tlsca.crt.der", DATA "ec256.crt.der", DATA "ec384.crt.der",
    };
    for (size_t i = 0; i < sizeof certs / sizeof certs[0]; i++) {
        size_t n, ko, kl;
        uint8_t *buf = embed(certs[i], &n, &ko, &kl);
        found f = scan(buf, n, 0, n);
        if (f.n)
            fprintf(stderr, "%s: flagged at %llu+%u\n", certs[i],
                    (unsigned long long)f.v[0].span.off, f.v[0].span.len);
        assert_int_equal(f.n, 0);
        free(buf);
    }
}

/* One damaged byte in a wrapper leaves the next layer to find the key. */
static void test_damaged_wrappers(void **state)
{
    (void)state;
    size_t kl;
    uint8_t *k = tu_read_file(KEYS "client.key.der", &kl);
    uint8_t *d = malloc(kl);
    assert_non_null(d);

    /* Outer version 0 -> 7: the inner PKCS#1 key. */
    memcpy(d, k, kl);
    d[6] = 7;
    found f = scan(d, kl, 0, kl);
    expect_one(&f, P8_INNER, (uint32_t)(kl - P8_INNER), AT_SECRET_PKCS1_RSA);

    /* The outer length says less: the inner key still covers the rest. */
    memcpy(d, k, kl);
    d[2] = 0;
    f = scan(d, kl, 0, kl);
    expect_one(&f, 0, (uint32_t)(kl), AT_SECRET_PKCS8);

    /* Both versions damaged: the run of private INTEGERs (d, p, q, ...). */
    memcpy(d, k, kl);
    d[6] = 7;
    d[P8_INNER + 6] = 9;
    f = scan(d, kl, 0, kl);
    expect_one(&f, P8_PRIV_EXP, (uint32_t)(kl - P8_PRIV_EXP), AT_SECRET_KEY_MATERIAL);

    free(d);
    free(k);
}

/* Three large INTEGERs in a row are key material; two (an ECDSA
 * signature) and large+small (a modulus and its exponent) are not. */
static void test_integer_runs(void **state)
{
    (void)state;
    uint8_t buf[4 * 66];
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        buf[n++] = 0x02;
        buf[n++] = 64;
        memset(buf + n, 0x55 + i, 64);
        n += 64;
    }
    found f = scan(buf, n, 0, n);
    expect_one(&f, 0, (uint32_t)n, AT_SECRET_KEY_MATERIAL);
    f = scan(buf, 2 * 66, 0, n);
    assert_int_equal(f.n, 0);
    buf[2 * 66 + 1] = 3; /* the third one small */
    f = scan(buf, n, 0, n);
    assert_int_equal(f.n, 0);
}

static void test_pem_block(void **state)
{
    (void)state;
    static const char text[] =
        "note\r\n-----BEGIN PRIVATE KEY-----\r\nMIICdwIBADANBgkqhkiG9w0BAQEFAASC\r\n"
        "-----END PRIVATE KEY-----\r\nOK\r\n"
        "-----BEGIN CERTIFICATE-----\r\nMIIB\r\n-----END CERTIFICATE-----\r\n";
    const char *b = strstr(text, "-----BEGIN");
    const char *e = strstr(text, "KEY-----\r\nOK") + 8;
    found f = scan((const uint8_t *)text, sizeof text - 1, 0, sizeof text - 1);
    expect_one(&f, (uint64_t)(b - text), (uint32_t)(e - b), AT_SECRET_PEM);
}

/* A PEM header is one line of capitals, digits and spaces: a line break
 * or a lower-case letter inside the label, or a label longer than any real
 * one, makes no header, so the base64 after it is not taken for a key. */
static void test_pem_label_is_one_line(void **state)
{
    (void)state;
    static const char *const not_headers[] = {
        "-----BEGIN FOO\r\nBAR PRIVATE KEY-----\r\nMIICdwIBADANBgkqhkiG9w0BAQEFAASC\r\n",
        "-----BEGIN rsa PRIVATE KEY-----\r\nMIICdwIBADANBgkqhkiG9w0BAQEFAASC\r\n",
    };
    for (size_t i = 0; i < sizeof not_headers / sizeof not_headers[0]; i++) {
        size_t n = strlen(not_headers[i]);
        found f = scan((const uint8_t *)not_headers[i], n, 0, n);
        assert_int_equal(f.n, 0);
    }
    char text[512];
    int k = snprintf(text, sizeof text, "-----BEGIN %0200d PRIVATE KEY-----\r\nMIIC\r\n", 0);
    assert_true(k > 0 && (size_t)k < sizeof text);
    found f = scan((const uint8_t *)text, (size_t)k, 0, (size_t)k);
    assert_int_equal(f.n, 0);
    /* The control: the same lines with a real label are a key. */
    static const char real[] =
        "-----BEGIN RSA PRIVATE KEY-----\r\nMIICdwIBADANBgkqhkiG9w0BAQEFAASC\r\n";
    f = scan((const uint8_t *)real, sizeof real - 1, 0, sizeof real - 1);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.v[0].kind, AT_SECRET_PEM);
}

/* A question sees only what the bytes before its end prove: the first
 * bytes of a header are no secret yet, the bytes after the proof are. */
static void test_proof_before_the_end(void **state)
{
    (void)state;
    size_t kl;
    uint8_t *k = tu_read_file(KEYS "client.key.der", &kl);
    found f = scan(k, kl, 0, 8); /* "30 82 02 77 02 01 00 30": a line cut at 0D */
    assert_int_equal(f.n, 0);
    f = scan(k, kl, 100, 50); /* a piece in the middle */
    expect_one(&f, 100, 50, AT_SECRET_PKCS8);
    free(k);
}

/* A marked run (a frame's key unit) is a run like the others: proven by
 * its byte, merged with a content run over the same bytes, where the one
 * that starts first names the kind. */
static void test_marked_run(void **state)
{
    (void)state;
    at_secret_scanner sc;
    at_secret_scanner_init(&sc);
    static const uint8_t text[64] = "no key's shape in these bytes at all";
    at_secret_scan(&sc, text, sizeof text);
    at_secret_mark(&sc, 10, 20, AT_SECRET_KEY_UNIT, 15);
    at_secret_mark(&sc, 40, 0, AT_SECRET_KEY_UNIT, 38); /* empty: no run */
    found f;
    /* A question that ends at the proof does not see the run it overlaps. */
    f.n = at_secret_collect(&sc, 0, 15, f.v, AT_SECRET_RUNS_MAX);
    assert_int_equal(f.n, 0);
    f.n = at_secret_collect(&sc, 0, 16, f.v, AT_SECRET_RUNS_MAX);
    expect_one(&f, 10, 6, AT_SECRET_KEY_UNIT);
    f.n = at_secret_collect(&sc, 0, 64, f.v, AT_SECRET_RUNS_MAX);
    expect_one(&f, 10, 20, AT_SECRET_KEY_UNIT);
    f.n = at_secret_collect(&sc, 25, 30, f.v, AT_SECRET_RUNS_MAX);
    expect_one(&f, 25, 5, AT_SECRET_KEY_UNIT);
    f.n = at_secret_collect(&sc, 30, 34, f.v, AT_SECRET_RUNS_MAX);
    assert_int_equal(f.n, 0);
    assert_string_equal(at_secret_kind_name(AT_SECRET_KEY_UNIT), "key_unit");

    /* Over a key the content layers found: the union, named by the key. */
    size_t kl;
    uint8_t *k = tu_read_file(KEYS "client.key.der", &kl);
    at_secret_scanner_init(&sc);
    at_secret_scan(&sc, k, kl);
    at_secret_mark(&sc, 0, kl + 4, AT_SECRET_KEY_UNIT, 0);
    f.n = at_secret_collect(&sc, 0, kl + 4, f.v, AT_SECRET_RUNS_MAX);
    expect_one(&f, 0, (uint32_t)kl + 4, AT_SECRET_PKCS8);
    free(k);
}

/* The same bytes split at any point give the same answers. */
static void test_chunk_invariance(void **state)
{
    (void)state;
    size_t n, ko, kl;
    uint8_t *buf = embed(KEYS "client.key.der", &n, &ko, &kl);
    found whole = scan(buf, n, 0, n);
    for (size_t cut = 1; cut < n; cut++) {
        at_secret_scanner sc;
        at_secret_scanner_init(&sc);
        at_secret_scan(&sc, buf, cut);
        at_secret_scan(&sc, buf + cut, n - cut);
        found f;
        f.n = at_secret_collect(&sc, 0, n, f.v, AT_SECRET_RUNS_MAX);
        expect_same(&f, &whole);
        /* and a question up to the cut gets what the first part proves */
        at_secret_scanner_init(&sc);
        at_secret_scan(&sc, buf, cut);
        found part;
        part.n = at_secret_collect(&sc, 0, cut, part.v, AT_SECRET_RUNS_MAX);
        at_secret_scan(&sc, buf + cut, n - cut);
        f.n = at_secret_collect(&sc, 0, cut, f.v, AT_SECRET_RUNS_MAX);
        expect_same(&f, &part);
    }
    free(buf);
}

/* A key cut short, then the host's next command: the run ends where the
 * command starts (after CR/LF, or where the tokenizer ended a token), but
 * goes on when the "command" turns out not to be text. */
static void test_command_line_ends_a_cut_key(void **state)
{
    (void)state;
    size_t kl;
    uint8_t *k = tu_read_file(KEYS "client.key.der", &kl);
    uint8_t buf[400];
    memcpy(buf, k, 300);
    memcpy(buf + 300, "\r\nAT+CGSN\r\n", 11);
    found f = scan(buf, 311, 0, 311);
    expect_one(&f, 0, 302, AT_SECRET_PKCS8);

    /* "AT" then a byte that is no text: key bytes after all. */
    memcpy(buf + 300, "\r\nAT\x01\x02\x03", 7);
    f = scan(buf, 307, 0, 307);
    expect_one(&f, 0, 307, AT_SECRET_PKCS8);

    /* No CR/LF: the tokenizer's token end says where a line may start,
     * told when the scanner is at it or one byte past it. */
    memcpy(buf + 300, "AT\r", 3);
    for (size_t ahead = 0; ahead <= 1; ahead++) {
        at_secret_scanner sc;
        at_secret_scanner_init(&sc);
        at_secret_scan(&sc, buf, 300 + ahead);
        at_secret_token_end(&sc, 300);
        at_secret_scan(&sc, buf + 300 + ahead, 3 - ahead);
        f.n = at_secret_collect(&sc, 0, 303, f.v, AT_SECRET_RUNS_MAX);
        expect_one(&f, 0, 300, AT_SECRET_PKCS8);
    }
    free(k);
}

/* Renderers walk a byte run in secret / public pieces. */
static void test_pieces(void **state)
{
    (void)state;
    const at_secret runs[2] = {{{10, 5}, AT_SECRET_PKCS8}, {{20, 100}, AT_SECRET_PEM}};
    const at_secret *r;
    assert_int_equal(at_secret_piece(runs, 2, 0, 30, &r), 10);
    assert_null(r);
    assert_int_equal(at_secret_piece(runs, 2, 10, 20, &r), 5);
    assert_ptr_equal(r, &runs[0]);
    assert_int_equal(at_secret_piece(runs, 2, 15, 15, &r), 5);
    assert_null(r);
    assert_int_equal(at_secret_piece(runs, 2, 22, 8, &r), 8);
    assert_ptr_equal(r, &runs[1]);
    assert_ptr_equal(at_secret_overlap(runs, 2, 0, 11), &runs[0]);
    assert_null(at_secret_overlap(runs, 2, 15, 5));
    assert_int_equal(at_secret_bytes(runs, 2, 12, 10), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_kind_at_its_span),
        cmocka_unit_test(test_certificates_are_not_secret),
        cmocka_unit_test(test_damaged_wrappers),
        cmocka_unit_test(test_integer_runs),
        cmocka_unit_test(test_pem_block),
        cmocka_unit_test(test_pem_label_is_one_line),
        cmocka_unit_test(test_proof_before_the_end),
        cmocka_unit_test(test_marked_run),
        cmocka_unit_test(test_chunk_invariance),
        cmocka_unit_test(test_command_line_ends_a_cut_key),
        cmocka_unit_test(test_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
