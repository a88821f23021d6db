/*
 * Unit tests of the simulated module (simulator/engine.c, store.c): the
 * exact bytes it answers, its secure-command exchange with real signature
 * checks, the ^SBNR listing and the store directory.
 *
 * Two RSA 1024 keys and their self-signed certificates are generated once
 * per run (group setup); each test gets a fresh store in a temporary
 * directory. Time is simulated: tests pass it to input and tick.
 */
#define _XOPEN_SOURCE 700

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attrace/crypto.h"
#include "attrace/frame.h"
#include "attrace/profile.h"
#include "engine.h"
#include "store.h"
#include "testutil.h"

#define IMEI "356938035643809"
#define MS 1000000ull

/* ------------------------------------------------------------------ */
/* Keys and certificates                                              */
/* ------------------------------------------------------------------ */

static struct {
    EVP_PKEY *k1, *k2;          /* client key, another key */
    uint8_t *c1, *c2;           /* DER: client cert (k1), server cert (k2) */
    size_t c1_len, c2_len;
    uint8_t *k1_der;            /* PKCS#8 of k1 */
    size_t k1_der_len;
} G;

static uint8_t *make_cert(EVP_PKEY *key, const char *cn, const char *org, long serial,
                          size_t *len)
{
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
    assert_int_equal(ASN1_TIME_set_string(X509_getm_notBefore(x), "20240101000000Z"), 1);
    assert_int_equal(ASN1_TIME_set_string(X509_getm_notAfter(x), "20351029000000Z"), 1);
    X509_NAME *n = X509_get_subject_name(x);
    if (org)
        assert_int_equal(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
                                                    (const unsigned char *)org, -1, -1, 0), 1);
    assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                                                (const unsigned char *)cn, -1, -1, 0), 1);
    assert_int_equal(X509_set_issuer_name(x, n), 1);
    assert_int_equal(X509_set_pubkey(x, key), 1);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    unsigned char *der = NULL;
    int n_der = i2d_X509(x, &der);
    assert_true(n_der > 0);
    X509_free(x);
    uint8_t *out = malloc((size_t)n_der);
    assert_non_null(out);
    memcpy(out, der, (size_t)n_der);
    OPENSSL_free(der);
    *len = (size_t)n_der;
    return out;
}

static int group_setup(void **state)
{
    (void)state;
    G.k1 = EVP_RSA_gen(1024);
    G.k2 = EVP_RSA_gen(1024);
    if (!G.k1 || !G.k2)
        return -1;
    G.c1 = make_cert(G.k1, "attrace test client", NULL, 0x4F2182FE, &G.c1_len);
    G.c2 = make_cert(G.k2, "server", "Example, Inc.", 7, &G.c2_len);
    G.k1_der = at_key_to_frame_der(G.k1, &G.k1_der_len);
    return G.k1_der ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(G.k1);
    EVP_PKEY_free(G.k2);
    free(G.c1);
    free(G.c2);
    OPENSSL_free(G.k1_der);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Fixture: a store in a temporary directory and an engine over it     */
/* ------------------------------------------------------------------ */

typedef struct fx {
    char dir[64];
    sim_store *st;
    sim_engine *e;
    sim_config cfg;
    uint8_t *out;
    size_t out_len, out_cap;
    tu_text log;
} fx;

static void on_write(void *ctx, const uint8_t *data, size_t len)
{
    fx *f = ctx;
    if (f->out_len + len > f->out_cap) {
        f->out_cap = (f->out_len + len) * 2 + 256;
        f->out = realloc(f->out, f->out_cap);
        assert_non_null(f->out);
    }
    memcpy(f->out + f->out_len, data, len);
    f->out_len += len;
}

static void on_log(void *ctx, const char *line)
{
    fx *f = ctx;
    tu_text_printf(&f->log, "%s\n", line);
}

static void start_engine(fx *f, const at_profile *prof)
{
    char err[256] = "";
    f->st = sim_store_open(f->dir, err, sizeof err);
    assert_non_null(f->st);
    sim_config_defaults(&f->cfg, prof);
    sim_io io = {on_write, on_log};
    f->e = sim_engine_new(&f->cfg, f->st, &io, f);
    assert_non_null(f->e);
}

static void stop_engine(fx *f)
{
    sim_engine_free(f->e);
    sim_store_close(f->st);
    f->e = NULL;
    f->st = NULL;
}

static int setup_prof(void **state, const at_profile *prof)
{
    fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/attrace-simtest-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    /* the store creates its own directory below */
    strcat(f->dir, "/store");
    start_engine(f, prof);
    *state = f;
    return 0;
}

static int setup_legacy(void **state)
{
    return setup_prof(state, at_profile_get(AT_PROFILE_LEGACY));
}

static int setup_newer(void **state)
{
    return setup_prof(state, at_profile_get(AT_PROFILE_NEWER));
}

static int teardown(void **state)
{
    fx *f = *state;
    stop_engine(f);
    tu_rm_dir(f->dir);
    char *slash = strrchr(f->dir, '/');
    *slash = '\0';
    rmdir(f->dir);
    free(f->out);
    tu_text_free(&f->log);
    free(f);
    return 0;
}

/* Bytes from the host at time @p ms. */
static void send_at(fx *f, uint64_t ms, const void *data, size_t len)
{
    sim_engine_input(f->e, ms * MS, data, len);
}

static void send_str(fx *f, uint64_t ms, const char *s)
{
    send_at(f, ms, s, strlen(s));
}

static void tick(fx *f, uint64_t ms)
{
    sim_engine_tick(f->e, ms * MS);
}

/* Checks that the module sent exactly @p want (text) since the last check. */
static void expect_out(fx *f, const char *want)
{
    size_t n = strlen(want);
    if (f->out_len != n || (n && memcmp(f->out, want, n) != 0)) {
        print_error("want %zu bytes: \"%s\"\n got %zu bytes: \"%.*s\"\n", n, want, f->out_len,
                    (int)f->out_len, (const char *)f->out);
        fail();
    }
    f->out_len = 0;
}

static void expect_log(fx *f, const char *want)
{
    assert_string_equal(tu_text_str(&f->log), want);
    tu_text_free(&f->log);
    memset(&f->log, 0, sizeof f->log);
}

static void clear(fx *f)
{
    f->out_len = 0;
    tu_text_free(&f->log);
    memset(&f->log, 0, sizeof f->log);
}

/* ------------------------------------------------------------------ */
/* Frames                                                             */
/* ------------------------------------------------------------------ */

typedef struct frame_buf {
    uint8_t b[8192];
    size_t len;
} frame_buf;

static void make_frame(frame_buf *fb, uint16_t cmd, uint16_t index, const uint8_t *cert,
                       size_t cert_len, const uint8_t *key, size_t key_len, const char *imei,
                       EVP_PKEY *sign_key, at_digest_alg alg)
{
    at_frame_spec spec = {.cmd_id = cmd, .index = index, .cert = cert, .cert_len = cert_len,
                          .key = key, .key_len = key_len, .imei = imei,
                          .sign = sign_key != NULL};
    at_signer s = {sign_key, alg};
    assert_int_equal(at_frame_encode(&spec, at_sign_frame, &s, fb->b, sizeof fb->b, &fb->len),
                     AT_OK);
}

/* The client certificate and key at index 0, written through the store. */
static void provision(fx *f)
{
    char err[256];
    assert_int_equal(sim_store_put(f->st, 0, G.c1, G.c1_len, G.k1_der, G.k1_der_len, err,
                                   sizeof err), 0);
}

/* AT^SBNW with echo off; the READY exchange is checked. */
static void open_secure(fx *f, uint64_t ms)
{
    send_str(f, ms, "ATE0\r");
    clear(f);
    send_str(f, ms, "AT^SBNW=\"is_cert\",1\r");
    expect_out(f, "\r\nCONNECT\r\n\r\nSECURE CMD READY: SEND COMMAND ...\r\n");
}

/* One whole exchange: the frame at @p ms, the answer after the quiet window. */
static void exchange(fx *f, uint64_t ms, const frame_buf *fb)
{
    open_secure(f, ms);
    send_at(f, ms, fb->b, fb->len);
    assert_int_equal(f->out_len, 0);
    tick(f, ms + 99);
    assert_int_equal(f->out_len, 0);
    tick(f, ms + 100);
}

/* ------------------------------------------------------------------ */
/* Command mode                                                       */
/* ------------------------------------------------------------------ */

static void test_config_defaults(void **state)
{
    (void)state;
    sim_config c;
    sim_config_defaults(&c, NULL);
    assert_ptr_equal(c.profile, at_profile_get(AT_PROFILE_LEGACY));
    assert_int_equal(strlen(c.imei), 15);
    /* Luhn */
    unsigned sum = 0;
    for (int i = 14; i >= 0; i--) {
        unsigned d = (unsigned)(c.imei[i] - '0');
        if ((14 - i) % 2 == 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    assert_int_equal(sum % 10, 0);
    assert_int_equal(c.timeout_ms, 5000);
    assert_int_equal(c.extra_window_ms, 100);
}

/* Data mode (--data-mode): what the host sends is data, without echo or
 * answer; +++ leaves it only with a second of silence before its first
 * plus and after its last, answered OK; commands work then. */
static void test_data_mode(void **state)
{
    fx *f = *state;
    sim_engine_free(f->e);
    f->cfg.data_mode = true;
    sim_io io = {on_write, on_log};
    f->e = sim_engine_new(&f->cfg, f->st, &io, f);
    assert_non_null(f->e);
    clear(f);
    send_str(f, 100, "AT\r");
    tick(f, 5000);
    expect_out(f, "");
    send_str(f, 5500, "+++");           /* silence before: the escape is on */
    assert_int_equal(sim_engine_deadline(f->e), 6500 * MS);
    send_str(f, 6000, "x");             /* ... but data follows within the guard */
    tick(f, 8000);
    expect_out(f, "");
    send_str(f, 8100, "a+++");          /* no silence before the pluses */
    tick(f, 10000);
    expect_out(f, "");
    send_str(f, 11000, "+++");
    tick(f, 11999);
    expect_out(f, "");
    tick(f, 12000);
    expect_out(f, "\r\nOK\r\n");
    expect_log(f, "data mode: +++ with 1000 ms of silence around it -> command mode "
                  "(14 bytes of data taken)\n");
    send_str(f, 12100, "AT\r");
    expect_out(f, "AT\r\r\nOK\r\n");
}

static void test_echo(void **state)
{
    fx *f = *state;
    send_str(f, 0, "AT\r");
    expect_out(f, "AT\r\r\nOK\r\n");
    /* LF is echoed but ignored; junk before AT is ignored */
    send_str(f, 0, "\nxyAT\r");
    expect_out(f, "\nxyAT\r\r\nOK\r\n");
    send_str(f, 0, "ATE0\r");
    expect_out(f, "ATE0\r\r\nOK\r\n");
    send_str(f, 0, "AT\r");
    expect_out(f, "\r\nOK\r\n");
    /* a line that arrives byte by byte */
    send_str(f, 0, "A");
    send_str(f, 0, "TE");
    send_str(f, 0, "1\r");
    expect_out(f, "\r\nOK\r\n");
    send_str(f, 0, "AT\r");
    expect_out(f, "AT\r\r\nOK\r\n");
    /* an empty line gets no answer */
    send_str(f, 0, "\r\n");
    expect_out(f, "\r\n");
    expect_log(f, "AT -> OK\nAT -> OK\nATE0 -> OK\nAT -> OK\nATE1 -> OK\nAT -> OK\n");
}

static void test_numeric(void **state)
{
    fx *f = *state;
    send_str(f, 0, "ATE0V0\r");
    expect_out(f, "ATE0V0\r0\r");
    send_str(f, 0, "AT+CGSN\r");
    expect_out(f, IMEI "\r\n0\r");
    send_str(f, 0, "AT+NOSUCH\r");
    expect_out(f, "4\r");
    send_str(f, 0, "AT+CMEE=1;+CMEE=3\r");
    expect_out(f, "+CME ERROR: 50\r");
    send_str(f, 0, "ATV1\r");
    expect_out(f, "\r\nOK\r\n");
}

static void test_chained(void **state)
{
    fx *f = *state;
    send_str(f, 0, "ATE0\r");
    clear(f);
    send_str(f, 0, "AT+CGSN;+CMEE?\r");
    expect_out(f, "\r\n" IMEI "\r\n\r\n+CMEE: 0\r\n\r\nOK\r\n");
    /* the first failure ends the line: the third command does not run */
    send_str(f, 0, "AT+CMEE=1;+CMEE=7;+CGSN\r");
    expect_out(f, "\r\n+CME ERROR: 50\r\n");
    /* E1 takes effect after the line: this one is not echoed yet */
    send_str(f, 0, "ATE1V1I\r");
    expect_out(f, "\r\nCinterion\r\nBGS2-W\r\nREVISION 01.301\r\n\r\nOK\r\n");
    expect_log(f, "AT+CGSN;+CMEE? -> OK\nAT+CMEE=1;+CMEE=7;+CGSN -> +CME ERROR: 50\n"
                  "ATE1V1I -> OK\n");
}

static void test_repeat(void **state)
{
    fx *f = *state;
    /* with nothing to repeat, A/ is AT */
    send_str(f, 0, "A/");
    expect_out(f, "A/\r\nOK\r\n");
    send_str(f, 0, "AT+GSN\r");
    expect_out(f, "AT+GSN\r\r\n" IMEI "\r\n\r\nOK\r\n");
    /* executed on '/', no CR needed */
    send_str(f, 0, "a/");
    expect_out(f, "a/\r\n" IMEI "\r\n\r\nOK\r\n");
    expect_log(f, "AT -> OK\nAT+GSN -> OK\nAT+GSN -> OK\n");
}

static void test_ati_legacy(void **state)
{
    fx *f = *state;
    send_str(f, 0, "ATI\r");
    expect_out(f, "ATI\r\r\nCinterion\r\nBGS2-W\r\nREVISION 01.301\r\n\r\nOK\r\n");
    send_str(f, 0, "ATI5\r");
    expect_out(f, "ATI5\r\r\nERROR\r\n");
}

static void test_ati_newer(void **state)
{
    fx *f = *state;
    send_str(f, 0, "ATE0\r");
    clear(f);
    send_str(f, 0, "ATI\r");
    expect_out(f, "\r\nCinterion\r\nEXS62-W\r\nREVISION 01.301\r\n\r\nOK\r\n");
}

static void test_gsn(void **state)
{
    fx *f = *state;
    send_str(f, 0, "ATE0\r");
    clear(f);
    send_str(f, 0, "AT+CGSN\r");
    expect_out(f, "\r\n" IMEI "\r\n\r\nOK\r\n");
    send_str(f, 0, "AT+GSN\r");
    expect_out(f, "\r\n" IMEI "\r\n\r\nOK\r\n");
    send_str(f, 0, "at+cgsn=?\r");
    expect_out(f, "\r\nOK\r\n");
    send_str(f, 0, "AT+CMEE=1\r");
    send_str(f, 0, "AT+CGSN?\r");
    expect_out(f, "\r\nOK\r\n\r\n+CME ERROR: 4\r\n");
}

static void test_cmee(void **state)
{
    fx *f = *state;
    send_str(f, 0, "ATE0\r");
    clear(f);
    send_str(f, 0, "AT+CMEE=5\r");
    expect_out(f, "\r\nERROR\r\n");
    send_str(f, 0, "AT+CMEE=1\r");
    expect_out(f, "\r\nOK\r\n");
    send_str(f, 0, "ATE7\r");
    expect_out(f, "\r\n+CME ERROR: 50\r\n");
    send_str(f, 0, "AT^SBNW=app_rot,1\r");
    expect_out(f, "\r\n+CME ERROR: 4\r\n");
    send_str(f, 0, "AT+CMEE=2\r");
    expect_out(f, "\r\nOK\r\n");
    send_str(f, 0, "AT+CMEE?\r");
    expect_out(f, "\r\n+CMEE: 2\r\n\r\nOK\r\n");
    send_str(f, 0, "AT^SBNW=is_cert,0\r");
    expect_out(f, "\r\n+CME ERROR: Incorrect parameters\r\n");
    send_str(f, 0, "AT^SBNW=management_cert,1\r");
    expect_out(f, "\r\n+CME ERROR: operation not supported\r\n");
    /* unknown commands are a plain ERROR whatever CMEE says */
    send_str(f, 0, "AT+XYZ\r");
    expect_out(f, "\r\nERROR\r\n");
    /* AT&F: E1 V1 CMEE 0 \Q0 */
    send_str(f, 0, "AT\\Q1\r");
    assert_true(sim_engine_xonxoff(f->e));
    send_str(f, 0, "ATV0&F\r");
    expect_out(f, "\r\nOK\r\n\r\nOK\r\n");
    assert_false(sim_engine_xonxoff(f->e));
    send_str(f, 0, "AT+CMEE?\r");
    expect_out(f, "AT+CMEE?\r\r\n+CMEE: 0\r\n\r\nOK\r\n");
}

static void test_sind_cmer(void **state)
{
    fx *f = *state;
    send_str(f, 0, "ATE0\r");
    clear(f);
    send_str(f, 0, "AT^SIND=is_cert,1\r");
    expect_out(f, "\r\n^SIND: is_cert,1\r\n\r\nOK\r\n");
    send_str(f, 0, "AT^SIND?\r");
    expect_out(f, "\r\n^SIND: is_cert,1\r\n\r\nOK\r\n");
    send_str(f, 0, "AT^SIND=nosuch,1\r");
    expect_out(f, "\r\nERROR\r\n");
    send_str(f, 0, "AT+CMER=3,0,0,2\r");
    expect_out(f, "\r\nOK\r\n");
    send_str(f, 0, "AT+CMER?\r");
    expect_out(f, "\r\n+CMER: 3,0,0,2,0\r\n\r\nOK\r\n");
    send_str(f, 0, "AT+CMER=4\r");
    expect_out(f, "\r\nERROR\r\n");
}

static void test_xonxoff(void **state)
{
    fx *f = *state;
    send_str(f, 0, "ATE0\\Q1\r");
    assert_true(sim_engine_xonxoff(f->e));
    clear(f);
    /* in command mode the bytes vanish */
    send_str(f, 0, "AT+C\x11GS\x13N\r");
    expect_out(f, "\r\n" IMEI "\r\n\r\nOK\r\n");
    /* a frame holding 0x11 loses it: the module waits for the missing byte */
    static const uint8_t del17[] = {0x0C, 0x00, 0x03, 0x00, 0x01, 0x00,
                                    0x06, 0x00, 0x01, 0x00, 0x11, 0x00};
    send_str(f, 1000, "AT^SBNW=is_cert,1\r");
    expect_out(f, "\r\nCONNECT\r\n\r\nSECURE CMD READY: SEND COMMAND ...\r\n");
    assert_int_equal(sim_engine_deadline(f->e), 6000 * MS);
    send_at(f, 1010, del17, sizeof del17);
    tick(f, 5999);
    expect_out(f, "");
    tick(f, 6000);
    expect_out(f, "\r\nSECURE CMD SERVICE TIMEOUT ERROR\r\n\r\nERROR\r\n");
    assert_int_equal(sim_engine_deadline(f->e), 0);
    /* with RTS/CTS the same frame arrives whole (and is refused: unsigned) */
    send_str(f, 7000, "AT\\Q3\r");
    assert_false(sim_engine_xonxoff(f->e));
    clear(f);
    send_str(f, 7000, "AT^SBNW=is_cert,1\r");
    send_at(f, 7000, del17, sizeof del17);
    tick(f, 7100);
    expect_out(f, "\r\nCONNECT\r\n\r\nSECURE CMD READY: SEND COMMAND ...\r\n"
                  "\r\nSECURE CMD ERROR\r\n\r\nERROR\r\n");
    expect_log(f, "AT^SBNW=is_cert,1 -> CONNECT (is_cert)\n"
                  "secure DELETE index 17 (12 bytes): index_range (offset 10, 17) -> "
                  "SECURE CMD ERROR\n");
}

/* ------------------------------------------------------------------ */
/* The secure-command exchange                                         */
/* ------------------------------------------------------------------ */

static void test_write_client_ok(void **state)
{
    fx *f = *state;
    frame_buf fb;
    make_frame(&fb, AT_CMD_WRITE, 0, G.c1, G.c1_len, G.k1_der, G.k1_der_len, IMEI, G.k1,
               AT_DIGEST_SHA1);
    exchange(f, 1000, &fb);
    expect_out(f, "\r\nSECURE CMD END OK\r\n\r\nOK\r\n");
    char want[256];
    snprintf(want, sizeof want,
             "AT^SBNW=\"is_cert\",1 -> CONNECT (is_cert)\n"
             "secure WRITE index 0 (%zu bytes) -> SECURE CMD END OK\n", fb.len);
    expect_log(f, want);
    size_t len;
    const uint8_t *c = sim_store_cert(f->st, 0, &len);
    assert_non_null(c);
    assert_int_equal(len, G.c1_len);
    assert_memory_equal(c, G.c1, len);
    const uint8_t *k = sim_store_key(f->st, &len);
    assert_non_null(k);
    assert_int_equal(len, G.k1_der_len);

    /* a server certificate, signed with the client key now in the store */
    make_frame(&fb, AT_CMD_WRITE, 1, G.c2, G.c2_len, NULL, 0, IMEI, G.k1, AT_DIGEST_SHA1);
    exchange(f, 2000, &fb);
    expect_out(f, "\r\nSECURE CMD END OK\r\n\r\nOK\r\n");
    assert_non_null(sim_store_cert(f->st, 1, &len));
    assert_int_equal(len, G.c2_len);

    /* back in command mode */
    send_str(f, 3000, "AT\r");
    expect_out(f, "\r\nOK\r\n");
}

/* ATV0 with echo, the line ended by CR LF and the frame in the same write:
 * the LF is the line's end, not the frame's first byte. */
static void test_v0_crlf(void **state)
{
    fx *f = *state;
    provision(f);
    send_str(f, 0, "ATV0\r");
    clear(f);
    frame_buf fb;
    make_frame(&fb, AT_CMD_WRITE, 1, G.c2, G.c2_len, NULL, 0, IMEI, G.k1, AT_DIGEST_SHA1);
    uint8_t all[8300];
    static const char cmd[] = "AT^SBNW=is_cert,1\r\n";
    memcpy(all, cmd, sizeof cmd - 1);
    memcpy(all + sizeof cmd - 1, fb.b, fb.len);
    send_at(f, 1000, all, sizeof cmd - 1 + fb.len);
    tick(f, 1100);
    expect_out(f, "AT^SBNW=is_cert,1\r1\rSECURE CMD READY: SEND COMMAND ...\r\n"
                  "SECURE CMD END OK\r\n0\r");
    assert_non_null(sim_store_cert(f->st, 1, NULL));
    /* an LF in a later call is a frame byte: TotalLen 0x..0A */
    send_str(f, 2000, "AT^SBNW=is_cert,1\r");
    clear(f);
    send_str(f, 2000, "\n");
    send_str(f, 2000, "\x01");
    tick(f, 7000);
    expect_out(f, "SECURE CMD SERVICE TIMEOUT ERROR\r\n4\r");
    expect_log(f, "secure frame: 2 of TotalLen 266 bytes after 5000 ms -> "
                  "SECURE CMD SERVICE TIMEOUT ERROR\n");
}

static void test_wrong_key(void **state)
{
    fx *f = *state;
    provision(f);
    frame_buf fb;
    make_frame(&fb, AT_CMD_WRITE, 1, G.c2, G.c2_len, NULL, 0, IMEI, G.k2, AT_DIGEST_SHA1);
    exchange(f, 1000, &fb);
    expect_out(f, "\r\nSECURE CMD ERROR\r\n\r\nERROR\r\n");
    assert_null(sim_store_cert(f->st, 1, NULL));
    assert_non_null(strstr(tu_text_str(&f->log), "does not verify"));

    /* the index-0 WRITE is checked with its own certificate: a key that
     * does not belong to it is refused */
    make_frame(&fb, AT_CMD_WRITE, 0, G.c2, G.c2_len, G.k1_der, G.k1_der_len, IMEI, G.k1,
               AT_DIGEST_SHA1);
    exchange(f, 2000, &fb);
    expect_out(f, "\r\nSECURE CMD ERROR\r\n\r\nERROR\r\n");
}

static void test_no_client_cert(void **state)
{
    fx *f = *state;
    frame_buf fb;
    make_frame(&fb, AT_CMD_WRITE, 1, G.c2, G.c2_len, NULL, 0, IMEI, G.k1, AT_DIGEST_SHA1);
    exchange(f, 1000, &fb);
    expect_out(f, "\r\nSECURE CMD ERROR\r\n\r\nERROR\r\n");
    assert_non_null(strstr(tu_text_str(&f->log), "no client certificate at index 0"));
}

static void test_imei_mismatch(void **state)
{
    fx *f = *state;
    provision(f);
    frame_buf fb;
    make_frame(&fb, AT_CMD_WRITE, 1, G.c2, G.c2_len, NULL, 0, "490154203237518", G.k1,
               AT_DIGEST_SHA1);
    exchange(f, 1000, &fb);
    expect_out(f, "\r\nSECURE CMD ERROR\r\n\r\nERROR\r\n");
    assert_non_null(strstr(tu_text_str(&f->log), "IMEI 490154203237518 is not the module's"));
    /* legacy modules need the IMEI and the signature */
    make_frame(&fb, AT_CMD_WRITE, 1, G.c2, G.c2_len, NULL, 0, NULL, NULL, AT_DIGEST_SHA1);
    exchange(f, 2000, &fb);
    expect_out(f, "\r\nSECURE CMD ERROR\r\n\r\nERROR\r\n");
    make_frame(&fb, AT_CMD_WRITE, 1, G.c2, G.c2_len, NULL, 0, IMEI, NULL, AT_DIGEST_SHA1);
    exchange(f, 3000, &fb);
    expect_out(f, "\r\nSECURE CMD ERROR\r\n\r\nERROR\r\n");
    assert_null(sim_store_cert(f->st, 1, NULL));
}

static void test_sha256_legacy(void **state)
{
    fx *f = *state;
    provision(f);
    frame_buf fb;
    make_frame(&fb, AT_CMD_WRITE, 1, G.c2, G.c2_len, NULL, 0, IMEI, G.k1, AT_DIGEST_SHA256);
    exchange(f, 1000, &fb);
    expect_out(f, "\r\nSECURE CMD ERROR\r\n\r\nERROR\r\n");
    assert_non_null(strstr(tu_text_str(&f->log), "SHA-256 digest, the module expects SHA-1"));
}

static void test_newer_digests_unsigned(void **state)
{
    fx *f = *state;
    provision(f);
    frame_buf fb;
    make_frame(&fb, AT_CMD_WRITE, 1, G.c2, G.c2_len, NULL, 0, IMEI, G.k1, AT_DIGEST_SHA256);
    exchange(f, 1000, &fb);
    expect_out(f, "\r\nSECURE CMD END OK\r\n\r\nOK\r\n");
    make_frame(&fb, AT_CMD_WRITE, 2, G.c2, G.c2_len, NULL, 0, IMEI, G.k1, AT_DIGEST_SHA1);
    exchange(f, 2000, &fb);
    expect_out(f, "\r\nSECURE CMD END OK\r\n\r\nOK\r\n");
    /* unsigned (sigType NONE) */
    make_frame(&fb, AT_CMD_WRITE, 30, G.c2, G.c2_len, NULL, 0, NULL, NULL, AT_DIGEST_SHA1);
    exchange(f, 3000, &fb);
    expect_out(f, "\r\nSECURE CMD END OK\r\n\r\nOK\r\n");
    assert_non_null(sim_store_cert(f->st, 30, NULL));
    /* the management store is taken by newer modules */
    send_str(f, 4000, "AT^SBNW=management_cert,1\r");
    expect_out(f, "\r\nCONNECT\r\n\r\nSECURE CMD READY: SEND COMMAND ...\r\n");
    make_frame(&fb, AT_CMD_DELETE, 30, NULL, 0, NULL, 0, NULL, NULL, AT_DIGEST_SHA1);
    send_at(f, 4000, fb.b, fb.len);
    tick(f, 4100);
    expect_out(f, "\r\nSECURE CMD END OK\r\n\r\nOK\r\n");
    assert_null(sim_store_cert(f->st, 30, NULL));
}

static void test_too_many_data(void **state)
{
    fx *f = *state;
    provision(f);
    frame_buf fb;
    make_frame(&fb, AT_CMD_WRITE, 1, G.c2, G.c2_len, NULL, 0, IMEI, G.k1, AT_DIGEST_SHA1);
    /* TotalLen two short: two bytes too many in the same call */
    size_t tl = fb.len - 2;
    fb.b[0] = (uint8_t)(tl & 0xff);
    fb.b[1] = (uint8_t)(tl >> 8);
    open_secure(f, 1000);
    clear(f);
    send_at(f, 1000, fb.b, fb.len);
    expect_out(f, "");
    tick(f, 1100);
    expect_out(f, "\r\nSECURE CMD TOO MANY DATA ERROR\r\n\r\nERROR\r\n");
    char want[200];
    snprintf(want, sizeof want,
             "secure frame: TotalLen %zu but %zu bytes -> SECURE CMD TOO MANY DATA ERROR\n", tl,
             fb.len);
    expect_log(f, want);
    assert_null(sim_store_cert(f->st, 1, NULL));

    /* a correct frame followed by a CR LF 50 ms later: the window restarts
     * with every extra byte */
    make_frame(&fb, AT_CMD_WRITE, 1, G.c2, G.c2_len, NULL, 0, IMEI, G.k1, AT_DIGEST_SHA1);
    open_secure(f, 2000);
    send_at(f, 2000, fb.b, fb.len);
    send_str(f, 2050, "\r");
    send_str(f, 2120, "\n");
    tick(f, 2219);
    expect_out(f, "");
    assert_int_equal(sim_engine_deadline(f->e), 2220 * MS);
    tick(f, 2220);
    expect_out(f, "\r\nSECURE CMD TOO MANY DATA ERROR\r\n\r\nERROR\r\n");
    assert_null(sim_store_cert(f->st, 1, NULL));
}

static void test_service_timeout(void **state)
{
    fx *f = *state;
    provision(f);
    frame_buf fb;
    make_frame(&fb, AT_CMD_WRITE, 1, G.c2, G.c2_len, NULL, 0, IMEI, G.k1, AT_DIGEST_SHA1);
    open_secure(f, 1000);
    clear(f);
    send_at(f, 1200, fb.b, fb.len - 10);
    tick(f, 5999);
    expect_out(f, "");
    tick(f, 6000);
    expect_out(f, "\r\nSECURE CMD SERVICE TIMEOUT ERROR\r\n\r\nERROR\r\n");
    char want[200];
    snprintf(want, sizeof want,
             "secure frame: %zu of TotalLen %zu bytes after 5000 ms -> "
             "SECURE CMD SERVICE TIMEOUT ERROR\n", fb.len - 10, fb.len);
    expect_log(f, want);
    /* nothing at all */
    open_secure(f, 7000);
    clear(f);
    tick(f, 12000);
    expect_out(f, "\r\nSECURE CMD SERVICE TIMEOUT ERROR\r\n\r\nERROR\r\n");
    /* the late rest of a frame arriving after the deadline is not taken as
     * its end: the timeout fires first, the bytes are then command text */
    open_secure(f, 13000);
    clear(f);
    send_at(f, 13000, fb.b, 100);
    send_str(f, 18500, "AT\r");
    expect_out(f, "\r\nSECURE CMD SERVICE TIMEOUT ERROR\r\n\r\nERROR\r\n\r\nOK\r\n");
}

static void test_cert_corrupted(void **state)
{
    fx *f = *state;
    provision(f);
    static const uint8_t garbage[] = "-----BEGIN CERTIFICATE-----\nMIIB\n";
    frame_buf fb;
    make_frame(&fb, AT_CMD_WRITE, 3, garbage, sizeof garbage - 1, NULL, 0, IMEI, G.k1,
               AT_DIGEST_SHA1);
    exchange(f, 1000, &fb);
    expect_out(f, "\r\nSECURE CMD PUBLIC CERTIFICATE IS CORRUPTED\r\n\r\nERROR\r\n");
    assert_null(sim_store_cert(f->st, 3, NULL));
}

static void test_length_error(void **state)
{
    fx *f = *state;
    open_secure(f, 1000);
    clear(f);
    static const uint8_t short3[] = {0x03, 0x00, 0x01, 0x00, 0x00};
    send_at(f, 1000, short3, sizeof short3);
    expect_out(f, "\r\nSECURE CMD LENGTH ERROR\r\n\r\nERROR\r\n");
    expect_log(f, "secure frame: TotalLen 3 is below 6 -> SECURE CMD LENGTH ERROR\n");
    /* the rest of the transfer is swallowed until the line is quiet */
    send_str(f, 1050, "AT\r");
    expect_out(f, "");
    send_str(f, 1200, "AT\r");
    expect_out(f, "\r\nOK\r\n");
    /* larger than a frame can be */
    open_secure(f, 2000);
    clear(f);
    static const uint8_t huge[] = {0xff, 0xff};
    send_at(f, 2000, huge, sizeof huge);
    expect_out(f, "\r\nSECURE CMD LENGTH ERROR\r\n\r\nERROR\r\n");
}

static void test_structure_limits(void **state)
{
    fx *f = *state;
    provision(f);
    frame_buf fb;
    /* index 11 on a legacy module */
    make_frame(&fb, AT_CMD_WRITE, 11, G.c2, G.c2_len, NULL, 0, IMEI, G.k1, AT_DIGEST_SHA1);
    exchange(f, 1000, &fb);
    expect_out(f, "\r\nSECURE CMD ERROR\r\n\r\nERROR\r\n");
    /* a key with index 3 */
    make_frame(&fb, AT_CMD_WRITE, 3, G.c2, G.c2_len, G.k1_der, G.k1_der_len, IMEI, G.k1,
               AT_DIGEST_SHA1);
    exchange(f, 2000, &fb);
    expect_out(f, "\r\nSECURE CMD ERROR\r\n\r\nERROR\r\n");
    /* a certificate over the legacy limit of 2048 bytes */
    static uint8_t big[2100];
    memset(big, 0x30, sizeof big);
    make_frame(&fb, AT_CMD_WRITE, 3, big, sizeof big, NULL, 0, IMEI, G.k1, AT_DIGEST_SHA1);
    exchange(f, 3000, &fb);
    expect_out(f, "\r\nSECURE CMD ERROR\r\n\r\nERROR\r\n");
    assert_non_null(strstr(tu_text_str(&f->log), "cert_too_large"));
    /* ParamNum that disagrees with the units */
    make_frame(&fb, AT_CMD_WRITE, 3, G.c2, G.c2_len, NULL, 0, IMEI, G.k1, AT_DIGEST_SHA1);
    fb.b[4] = 5;
    exchange(f, 4000, &fb);
    expect_out(f, "\r\nSECURE CMD ERROR\r\n\r\nERROR\r\n");
    assert_null(sim_store_cert(f->st, 3, NULL));
}

/* Reads index @p idx and checks the response frame. */
static void check_read(fx *f, const at_profile *prof, unsigned idx, const uint8_t *cert,
                       size_t cert_len, unsigned dlen)
{
    frame_buf fb;
    make_frame(&fb, AT_CMD_READ, (uint16_t)idx, NULL, 0, NULL, 0, IMEI, G.k1,
               prof->digest_len == 32 ? AT_DIGEST_SHA256 : AT_DIGEST_SHA1);
    exchange(f, 1000, &fb);
    static const char tail[] = "\r\nSECURE CMD END OK\r\n\r\nOK\r\n";
    size_t tl = strlen(tail);
    assert_true(f->out_len > tl);
    assert_memory_equal(f->out + f->out_len - tl, tail, tl);
    size_t rlen = f->out_len - tl;
    const uint8_t *r = f->out;
    assert_int_equal(rlen, 6 + 6 + 4 + cert_len + 4 + dlen);

    at_frame fr;
    assert_int_equal(at_frame_decode_response(r, rlen, 0, prof, &fr), AT_OK);
    assert_int_equal(fr.n_problems, 0);
    assert_int_equal(fr.total_len, rlen);
    assert_int_equal(fr.cmd_id, AT_CMD_READ);
    assert_int_equal(fr.param_num, 3);
    assert_true(fr.has_index);
    assert_int_equal(fr.index, idx);
    assert_int_equal(fr.sig_kind, AT_SIG_RAW_DIGEST);
    const at_frame_unit *cu = at_frame_find(&fr, AT_PARAM_CERT);
    assert_non_null(cu);
    assert_int_equal(cu->value_len, cert_len);
    assert_memory_equal(cu->value, cert, cert_len);
    const at_frame_unit *du = at_frame_find(&fr, AT_PARAM_SIGNATURE);
    assert_non_null(du);
    assert_int_equal(du->value_len, dlen);
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdl = 0;
    size_t region_end = (size_t)(cu->span.off + cu->span.len);
    assert_int_equal(EVP_Digest(r + 2, region_end - 2, md, &mdl,
                                dlen == 32 ? EVP_sha256() : EVP_sha1(), NULL), 1);
    assert_int_equal(mdl, dlen);
    assert_memory_equal(du->value, md, dlen);
    f->out_len = 0;
}

static void test_read_legacy(void **state)
{
    fx *f = *state;
    provision(f);
    char err[200];
    assert_int_equal(sim_store_put(f->st, 4, G.c2, G.c2_len, NULL, 0, err, sizeof err), 0);
    check_read(f, at_profile_get(AT_PROFILE_LEGACY), 4, G.c2, G.c2_len, 20);
    /* an empty slot */
    frame_buf fb;
    make_frame(&fb, AT_CMD_READ, 5, NULL, 0, NULL, 0, IMEI, G.k1, AT_DIGEST_SHA1);
    exchange(f, 2000, &fb);
    expect_out(f, "\r\nSECURE CMD ERROR\r\n\r\nERROR\r\n");
}

static void test_read_newer(void **state)
{
    fx *f = *state;
    provision(f);
    check_read(f, at_profile_get(AT_PROFILE_NEWER), 0, G.c1, G.c1_len, 32);
}

static void test_delete(void **state)
{
    fx *f = *state;
    provision(f);
    char err[200];
    assert_int_equal(sim_store_put(f->st, 2, G.c2, G.c2_len, NULL, 0, err, sizeof err), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/cert-02.der", f->dir);
    assert_int_equal(access(path, F_OK), 0);

    frame_buf fb;
    make_frame(&fb, AT_CMD_DELETE, 2, NULL, 0, NULL, 0, IMEI, G.k1, AT_DIGEST_SHA1);
    exchange(f, 1000, &fb);
    expect_out(f, "\r\nSECURE CMD END OK\r\n\r\nOK\r\n");
    assert_null(sim_store_cert(f->st, 2, NULL));
    assert_int_not_equal(access(path, F_OK), 0);
    /* again: nothing to delete */
    exchange(f, 2000, &fb);
    expect_out(f, "\r\nSECURE CMD ERROR\r\n\r\nERROR\r\n");
    /* index 0 takes the key with it */
    make_frame(&fb, AT_CMD_DELETE, 0, NULL, 0, NULL, 0, IMEI, G.k1, AT_DIGEST_SHA1);
    exchange(f, 3000, &fb);
    expect_out(f, "\r\nSECURE CMD END OK\r\n\r\nOK\r\n");
    assert_null(sim_store_cert(f->st, 0, NULL));
    assert_null(sim_store_key(f->st, NULL));
    snprintf(path, sizeof path, "%s/key-00.der", f->dir);
    assert_int_not_equal(access(path, F_OK), 0);
    char want[512];
    snprintf(want, sizeof want, "secure DELETE index 0 (%zu bytes) -> SECURE CMD END OK\n",
             fb.len);
    assert_non_null(strstr(tu_text_str(&f->log), want));
}

/* ------------------------------------------------------------------ */
/* ^SBNR and the store                                                */
/* ------------------------------------------------------------------ */

static void thumb(const uint8_t *der, size_t len, char out[41])
{
    uint8_t md[20];
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(der, len, md, &n, EVP_sha1(), NULL), 1);
    for (unsigned i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02X", md[i]);
}

#define EMPTY_LINE(i) "\r\n^SBNR: " #i ", size: \"0\", issuer: \"\", serial number: \"\", " \
    "subject: \"\", signature: \"\", thumbprint algorithm: \"\", thumbprint: \"\""

static void sbnr_entries(char *out, size_t cap, bool expiry)
{
    char t1[41], t2[41];
    thumb(G.c1, G.c1_len, t1);
    thumb(G.c2, G.c2_len, t2);
    const char *exp = expiry ? ", expiry date: \"2035,10,29\"" : "";
    snprintf(out, cap,
             "\r\n^SBNR: 0, size: \"%zu\", issuer: \"/CN=attrace test client\", serial number: "
             "\"4F2182FE\", subject: \"/CN=attrace test client\", signature: \"sha256RSA\", "
             "thumbprint algorithm: \"sha1\", thumbprint: \"%s\"%s"
             "\r\n^SBNR: 1, size: \"%zu\", issuer: \"/O=Example, Inc./CN=server\", serial "
             "number: \"07\", subject: \"/O=Example, Inc./CN=server\", signature: "
             "\"sha256RSA\", thumbprint algorithm: \"sha1\", thumbprint: \"%s\"%s"
             "\r\n^SBNR: 2, certificate is corrupted",
             G.c1_len, t1, exp, G.c2_len, t2, exp);
}

static void fill_store(fx *f)
{
    provision(f);
    char err[200];
    assert_int_equal(sim_store_put(f->st, 1, G.c2, G.c2_len, NULL, 0, err, sizeof err), 0);
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01};
    assert_int_equal(sim_store_put(f->st, 2, junk, sizeof junk, NULL, 0, err, sizeof err), 0);
}

static void test_sbnr_legacy(void **state)
{
    fx *f = *state;
    fill_store(f);
    send_str(f, 0, "ATE0\r");
    clear(f);
    send_str(f, 0, "AT^SBNR=is_cert\r");
    /* one block: "\r\n" opens it, every line ends with "\r\n" */
    char want[8192];
    sbnr_entries(want, sizeof want, false);
    strcat(want, EMPTY_LINE(3) EMPTY_LINE(4) EMPTY_LINE(5) EMPTY_LINE(6) EMPTY_LINE(7)
                 EMPTY_LINE(8) EMPTY_LINE(9) EMPTY_LINE(10));
    char block[8192];
    size_t j = (size_t)snprintf(block, sizeof block, "%s\r\n\r\nOK\r\n", want);
    assert_true(j < sizeof block);
    expect_out(f, block);
    send_str(f, 0, "AT^SBNR=nosuch\r");
    expect_out(f, "\r\nERROR\r\n");
}

static void test_sbnr_newer(void **state)
{
    fx *f = *state;
    fill_store(f);
    send_str(f, 0, "ATE0\r");
    clear(f);
    send_str(f, 0, "AT^SBNR=\"is_cert\"\r");
    char want[16384];
    sbnr_entries(want, sizeof want, true);
    for (unsigned i = 3; i <= 30; i++) {
        char line[256];
        snprintf(line, sizeof line,
                 "\r\n^SBNR: %u, size: \"0\", issuer: \"\", serial number: \"\", subject: \"\", "
                 "signature: \"\", thumbprint algorithm: \"\", thumbprint: \"\"", i);
        strcat(want, line);
    }
    strcat(want, "\r\n\r\nOK\r\n");
    expect_out(f, want);
}

static void test_store_persistence(void **state)
{
    fx *f = *state;
    fill_store(f);
    send_str(f, 0, "ATE0\r");
    clear(f);
    send_str(f, 0, "AT^SBNR=is_cert\r");
    size_t n1 = f->out_len;
    uint8_t *first = malloc(n1);
    assert_non_null(first);
    memcpy(first, f->out, n1);
    f->out_len = 0;

    struct stat sb;
    assert_int_equal(stat(f->dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    static const char *const names[] = {"cert-00.der", "cert-01.der", "cert-02.der",
                                        "key-00.der"};
    for (size_t i = 0; i < 4; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", f->dir, names[i]);
        assert_int_equal(stat(p, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0600);
    }

    /* unrelated and malformed names are skipped */
    static const char *const others[] = {"notes.txt", "cert-99.der", "cert-1.der",
                                         "cert-05.pem", "key-01.der", ".cert-03.der.ab12Cd"};
    for (size_t i = 0; i < 6; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", f->dir, others[i]);
        FILE *fp = fopen(p, "wb");
        assert_non_null(fp);
        fputs("x", fp);
        fclose(fp);
    }
    stop_engine(f);
    start_engine(f, at_profile_get(AT_PROFILE_LEGACY));
    size_t len;
    assert_non_null(sim_store_key(f->st, &len));
    assert_int_equal(len, G.k1_der_len);
    assert_null(sim_store_cert(f->st, 3, NULL));
    assert_null(sim_store_cert(f->st, 5, NULL));
    send_str(f, 0, "ATE0\r");
    clear(f);
    send_str(f, 0, "AT^SBNR=is_cert\r");
    assert_int_equal(f->out_len, n1);
    assert_memory_equal(f->out, first, n1);
    free(first);
    stop_engine(f);

    /* a store file over 64 KiB is refused */
    char p[128];
    snprintf(p, sizeof p, "%s/cert-05.der", f->dir);
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    static uint8_t zeros[70000];
    assert_int_equal(fwrite(zeros, 1, sizeof zeros, fp), sizeof zeros);
    fclose(fp);
    char err[256] = "";
    assert_null(sim_store_open(f->dir, err, sizeof err));
    assert_non_null(strstr(err, "cert-05.der"));
    unlink(p);
    start_engine(f, at_profile_get(AT_PROFILE_LEGACY));
}

static void test_store_errors(void **state)
{
    fx *f = *state;
    char err[256] = "";
    assert_int_equal(sim_store_put(f->st, 1, G.c2, G.c2_len, G.k1_der, G.k1_der_len, err,
                                   sizeof err), -1);
    assert_true(err[0] != '\0');
    assert_int_equal(sim_store_put(f->st, 31, G.c2, G.c2_len, NULL, 0, err, sizeof err), -1);
    assert_int_equal(sim_store_delete(f->st, 31, err, sizeof err), -1);
    /* an index-0 put without a key drops the old key */
    provision(f);
    assert_non_null(sim_store_key(f->st, NULL));
    assert_int_equal(sim_store_put(f->st, 0, G.c2, G.c2_len, NULL, 0, err, sizeof err), 0);
    assert_null(sim_store_key(f->st, NULL));
    /* a directory that cannot be made */
    assert_null(sim_store_open("/proc/attrace-no/such", err, sizeof err));
    assert_non_null(strstr(err, "/proc/attrace-no/such"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test_setup_teardown(test_echo, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_numeric, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_chained, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_repeat, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_ati_legacy, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_ati_newer, setup_newer, teardown),
        cmocka_unit_test_setup_teardown(test_gsn, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_cmee, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_sind_cmer, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_xonxoff, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_write_client_ok, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_v0_crlf, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_no_client_cert, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_imei_mismatch, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_sha256_legacy, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_newer_digests_unsigned, setup_newer, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_data, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_service_timeout, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_cert_corrupted, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_length_error, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_structure_limits, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_read_legacy, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_read_newer, setup_newer, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_sbnr_legacy, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_sbnr_newer, setup_newer, teardown),
        cmocka_unit_test_setup_teardown(test_store_persistence, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_store_errors, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_data_mode, setup_legacy, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
