/*
 * Unit tests of certificate summaries and ^SBNR lines (attrace/cert.h).
 *
 * Certificates are built here with the OpenSSL API, with explicit names,
 * serials, dates, keys and digests, so every summary field but size and
 * thumbprint is known in advance; those two are computed independently
 * (i2d length, SHA-1 of the DER). One fixed certificate made with the
 * openssl command line pins size and thumbprint too. Every ^SBNR line is
 * compared as a whole and parsed back with at_parse_sbnr.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "attrace/cert.h"
#include "attrace/crypto.h"
#include "attrace/lines.h"
#include "testutil.h"

/* ------------------------------------------------------------------ */
/* Keys (made once: RSA key generation is slow under the sanitizers)   */
/* ------------------------------------------------------------------ */

static EVP_PKEY *rsa2048, *ec256, *ec384;

static int keys_setup(void **state)
{
    (void)state;
    rsa2048 = EVP_RSA_gen(2048);
    ec256 = EVP_EC_gen("P-256");
    ec384 = EVP_EC_gen("P-384");
    return rsa2048 && ec256 && ec384 ? 0 : -1;
}

static int keys_teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(rsa2048);
    EVP_PKEY_free(ec256);
    EVP_PKEY_free(ec384);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Building certificates                                               */
/* ------------------------------------------------------------------ */

/* A name from "TYPE", "value" pairs (UTF-8), NULL-terminated. */
static X509_NAME *name_of(const char *const *pairs)
{
    X509_NAME *n = X509_NAME_new();
    assert_non_null(n);
    for (; pairs[0]; pairs += 2)
        assert_int_equal(X509_NAME_add_entry_by_txt(n, pairs[0], MBSTRING_UTF8,
                                                    (const unsigned char *)pairs[1], -1,
                                                    -1, 0),
                         1);
    return n;
}

/* An entry with an explicit string type and raw content bytes. */
static void add_raw(X509_NAME *n, const char *type, int strtype, const void *bytes,
                    int len, int set)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(type, 0);
    assert_non_null(obj);
    assert_int_equal(
        X509_NAME_add_entry_by_OBJ(n, obj, strtype, (const unsigned char *)bytes, len, -1, set),
        1);
    ASN1_OBJECT_free(obj);
}

typedef struct spec {
    X509_NAME *subject;
    X509_NAME *issuer;      /* NULL: self-issued */
    const char *serial_hex; /* the INTEGER's content bytes */
    const char *not_before, *not_after; /* "YYYYMMDDHHMMSSZ" */
    EVP_PKEY *key, *signer; /* signer NULL: key (self-signed) */
    const char *md;         /* "SHA256", ... */
    bool pss;
} spec;

/* The certificate's DER (caller frees with OPENSSL_free). Frees the names. */
static uint8_t *make_cert(spec sp, size_t *len)
{
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);

    uint8_t der[80];
    size_t n = tu_hex(sp.serial_hex, der + 2, sizeof der - 2);
    der[0] = 0x02;
    der[1] = (uint8_t)n;
    const unsigned char *p = der;
    ASN1_INTEGER *serial = d2i_ASN1_INTEGER(NULL, &p, (long)n + 2);
    assert_non_null(serial);
    assert_int_equal(X509_set_serialNumber(x, serial), 1);
    ASN1_INTEGER_free(serial);

    assert_int_equal(X509_set_subject_name(x, sp.subject), 1);
    assert_int_equal(X509_set_issuer_name(x, sp.issuer ? sp.issuer : sp.subject), 1);
    X509_NAME_free(sp.subject);
    X509_NAME_free(sp.issuer);
    assert_int_equal(ASN1_TIME_set_string_X509(X509_getm_notBefore(x),
                                               sp.not_before ? sp.not_before
                                                             : "20250101000000Z"),
                     1);
    assert_int_equal(ASN1_TIME_set_string_X509(X509_getm_notAfter(x), sp.not_after), 1);
    assert_int_equal(X509_set_pubkey(x, sp.key), 1);

    EVP_PKEY *signer = sp.signer ? sp.signer : sp.key;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    assert_non_null(mctx);
    assert_int_equal(EVP_DigestSignInit_ex(mctx, &pctx, sp.md, NULL, NULL, signer, NULL), 1);
    if (sp.pss)
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
    assert_true(X509_sign_ctx(x, mctx) > 0);
    EVP_MD_CTX_free(mctx);

    unsigned char *out = NULL;
    int l = i2d_X509(x, &out);
    assert_true(l > 0);
    X509_free(x);
    *len = (size_t)l;
    return out;
}

/* Uppercase hex SHA-1 of @p d, computed here rather than by the code under test. */
static void sha1_hex(const uint8_t *d, size_t n, char out[41])
{
    unsigned char md[20];
    size_t mdlen = 0;
    assert_int_equal(EVP_Q_digest(NULL, "SHA1", NULL, d, n, md, &mdlen), 1);
    assert_int_equal(mdlen, 20);
    for (size_t i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02X", md[i]);
}

static at_cert_summary summarize_ok(const uint8_t *der, size_t len)
{
    at_cert_summary s;
    char err[256] = "";
    int rc = at_cert_summarize(der, len, &s, err, sizeof err);
    if (rc != 0)
        fail_msg("at_cert_summarize: %s", err);
    return s;
}

/* ------------------------------------------------------------------ */
/* Checking lines                                                      */
/* ------------------------------------------------------------------ */

static void assert_str_eq(const at_str *got, const char *want)
{
    assert_non_null(got->ptr);
    if (got->len != strlen(want) || memcmp(got->ptr, want, got->len) != 0)
        fail_msg("field [%.*s], want [%s]", (int)got->len, got->ptr, want);
}

/* Formats @p s at @p index, compares with @p want and parses it back. */
static void check_line(unsigned index, const at_cert_summary *s, at_profile_id prof,
                       const char *want)
{
    char line[4096];
    size_t n = at_sbnr_format(index, s, at_profile_get(prof), line, sizeof line);
    assert_string_equal(line, want);
    assert_int_equal(n, strlen(want));

    at_sbnr r;
    uint64_t eoff = 0;
    assert_int_equal(at_parse_sbnr(line, n, 0, &r, &eoff), AT_OK);
    assert_int_equal(r.index, index);
    if (!s) {
        assert_int_equal(r.kind, AT_SBNR_EMPTY);
        assert_int_equal(r.size, 0);
        assert_false(r.has_expiry);
        return;
    }
    assert_int_equal(r.kind, AT_SBNR_ENTRY);
    assert_int_equal(r.size, s->size);
    assert_str_eq(&r.issuer, s->issuer);
    assert_str_eq(&r.serial, s->serial);
    assert_str_eq(&r.subject, s->subject);
    assert_str_eq(&r.signature, s->sig_alg);
    assert_str_eq(&r.thumb_alg, s->thumb_alg);
    assert_str_eq(&r.thumbprint, s->thumbprint);
    assert_int_equal(r.has_expiry, prof == AT_PROFILE_NEWER);
    if (r.has_expiry) {
        assert_int_equal(r.expiry_year, s->expiry_year);
        assert_int_equal(r.expiry_month, s->expiry_month);
        assert_int_equal(r.expiry_day, s->expiry_day);
    }
}

/* The expected certificate line from known parts. */
static void want_line(char *out, size_t cap, unsigned index, size_t size, const char *issuer,
                      const char *serial, const char *subject, const char *sig,
                      const char *thumb, const char *expiry)
{
    int n = snprintf(out, cap,
                     "^SBNR: %u, size: \"%zu\", issuer: \"%s\", serial number: \"%s\", "
                     "subject: \"%s\", signature: \"%s\", thumbprint algorithm: \"sha1\", "
                     "thumbprint: \"%s\"",
                     index, size, issuer, serial, subject, sig, thumb);
    assert_true(n > 0 && (size_t)n < cap);
    if (expiry)
        snprintf(out + n, cap - (size_t)n, ", expiry date: \"%s\"", expiry);
}

/* ------------------------------------------------------------------ */
/* The fixed certificate (made with the openssl command line)          */
/* ------------------------------------------------------------------ */

/*
 * openssl req -x509 -key p256.key -subj '/C=DE/O=Example, Inc./CN=Müller\/Lüdenscheid'
 *   -utf8 -set_serial 0xF1F4565330802E0B -days 3262 -sha256
 * Expected values from `openssl x509 -noout -serial -fingerprint -sha1
 * -enddate -subject -nameopt utf8,sep_multiline` and `-outform DER | wc -c`.
 */
static const char fixed_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBeDCCAR4CCQDx9FZTMIAuCzAKBggqhkjOPQQDAjBEMQswCQYDVQQGEwJERTEW\n"
    "MBQGA1UECgwNRXhhbXBsZSwgSW5jLjEdMBsGA1UEAwwUTcO8bGxlci9Mw7xkZW5z\n"
    "Y2hlaWQwHhcNMjYxMTIzMTU1MTM3WhcNMzUxMDI5MTU1MTM3WjBEMQswCQYDVQQG\n"
    "EwJERTEWMBQGA1UECgwNRXhhbXBsZSwgSW5jLjEdMBsGA1UEAwwUTcO8bGxlci9M\n"
    "w7xkZW5zY2hlaWQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATyh0zLWZr+euN3\n"
    "DhKMBZEgygc1jztidW/sRL65zfPeeU4FmRJHzr2TFgVGnZDcKoau7ifxDJi+3itg\n"
    "f2cF5VTxMAoGCCqGSM49BAMCA0gAMEUCIQDGbdhjXLU45CTx0fRR7eoimlBix4Yy\n"
    "0wnjLnQ4WeuPWQIgAjcCHj/Q1V4Glw1llqCxOF9aZ1HjgmpwsrAE/mYkHTw=\n"
    "-----END CERTIFICATE-----\n";
#define FIXED_DN "/C=DE/O=Example, Inc./CN=M\xC3\xBCller/L\xC3\xBC" "denscheid"
#define FIXED_THUMB "F1D4FA93F49393545118E068E977189F9E05DA15"

/* Temporary files, removed by the test that made them. */
static char *temp_file(const void *data, size_t len)
{
    char *path = strdup("/tmp/attrace-test-cert-XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static void drop_temp(char *path)
{
    unlink(path);
    free(path);
}

static uint8_t *load_ok(const char *path, size_t *len)
{
    uint8_t *der = NULL;
    char err[512] = "";
    if (at_cert_load_der(path, &der, len, err, sizeof err) != 0)
        fail_msg("at_cert_load_der: %s", err);
    assert_non_null(der);
    return der;
}

static void test_fixed_certificate(void **state)
{
    (void)state;
    char *path = temp_file(fixed_pem, strlen(fixed_pem));
    size_t len;
    uint8_t *der = load_ok(path, &len);
    drop_temp(path);
    assert_int_equal(len, 380);

    at_cert_summary s = summarize_ok(der, len);
    assert_int_equal(s.size, 380);
    assert_string_equal(s.issuer, FIXED_DN);
    assert_string_equal(s.subject, FIXED_DN);
    assert_string_equal(s.serial, "00F1F4565330802E0B");
    assert_string_equal(s.sig_alg, "sha256ECDSA");
    assert_string_equal(s.thumb_alg, "sha1");
    assert_string_equal(s.thumbprint, FIXED_THUMB);
    assert_int_equal(s.expiry_year, 2035);
    assert_int_equal(s.expiry_month, 10);
    assert_int_equal(s.expiry_day, 29);
    assert_int_equal(s.valid_from_year, 2026);
    assert_int_equal(s.valid_from_month, 11);
    assert_int_equal(s.valid_from_day, 23);
    assert_string_equal(s.key_type, "EC");
    assert_int_equal(s.key_bits, 256);
    assert_false(s.truncated);

    check_line(5, &s, AT_PROFILE_LEGACY,
               "^SBNR: 5, size: \"380\", issuer: \"" FIXED_DN "\", serial number: "
               "\"00F1F4565330802E0B\", subject: \"" FIXED_DN "\", signature: "
               "\"sha256ECDSA\", thumbprint algorithm: \"sha1\", thumbprint: \"" FIXED_THUMB
               "\"");
    check_line(30, &s, AT_PROFILE_NEWER,
               "^SBNR: 30, size: \"380\", issuer: \"" FIXED_DN "\", serial number: "
               "\"00F1F4565330802E0B\", subject: \"" FIXED_DN "\", signature: "
               "\"sha256ECDSA\", thumbprint algorithm: \"sha1\", thumbprint: \"" FIXED_THUMB
               "\", expiry date: \"2035,10,29\"");
    free(der);
}

/* ------------------------------------------------------------------ */
/* Generated certificates                                              */
/* ------------------------------------------------------------------ */

#define EXAMPLE_DN "/C=DE/ST=Berlin/L=Berlin/O=departmentX/OU=DE/CN=firstname surname"
static const char *const example_pairs[] = {"C",  "DE", "ST", "Berlin",           "L",
                                            "Berlin", "O", "departmentX", "OU", "DE",
                                            "CN", "firstname surname", NULL};

static void test_rsa_sha256(void **state)
{
    (void)state;
    size_t len;
    uint8_t *der = make_cert((spec){.subject = name_of(example_pairs), .serial_hex = "4F2182FE",
                                    .not_after = "20351029235959Z", .key = rsa2048,
                                    .md = "SHA256"},
                             &len);
    char thumb[41], want[4096];
    sha1_hex(der, len, thumb);

    at_cert_summary s = summarize_ok(der, len);
    assert_int_equal(s.size, len);
    assert_string_equal(s.issuer, EXAMPLE_DN);
    assert_string_equal(s.subject, EXAMPLE_DN);
    assert_string_equal(s.serial, "4F2182FE");
    assert_string_equal(s.sig_alg, "sha256RSA");
    assert_string_equal(s.thumb_alg, "sha1");
    assert_string_equal(s.thumbprint, thumb);
    assert_int_equal(s.expiry_year, 2035);
    assert_int_equal(s.expiry_month, 10);
    assert_int_equal(s.expiry_day, 29);
    assert_int_equal(s.valid_from_year, 2025);
    assert_int_equal(s.valid_from_month, 1);
    assert_int_equal(s.valid_from_day, 1);
    assert_string_equal(s.key_type, "RSA");
    assert_int_equal(s.key_bits, 2048);
    assert_false(s.truncated);

    want_line(want, sizeof want, 0, len, EXAMPLE_DN, "4F2182FE", EXAMPLE_DN, "sha256RSA",
              thumb, NULL);
    check_line(0, &s, AT_PROFILE_LEGACY, want);
    want_line(want, sizeof want, 0, len, EXAMPLE_DN, "4F2182FE", EXAMPLE_DN, "sha256RSA",
              thumb, "2035,10,29");
    check_line(0, &s, AT_PROFILE_NEWER, want);
    OPENSSL_free(der);
}

/* An issued certificate: issuer and subject differ, SHA-1, serial 1. */
static void test_rsa_sha1_issued(void **state)
{
    (void)state;
    static const char *const leaf[] = {"C", "DE", "O", "Example, Inc.", "CN",
                                       "device/01, rack 4", NULL};
    size_t len;
    uint8_t *der = make_cert((spec){.subject = name_of(leaf), .issuer = name_of(example_pairs),
                                    .serial_hex = "01", .not_after = "20350102030405Z",
                                    .key = ec256, .signer = rsa2048, .md = "SHA1"},
                             &len);
    char thumb[41], want[4096];
    sha1_hex(der, len, thumb);
    at_cert_summary s = summarize_ok(der, len);
    assert_string_equal(s.issuer, EXAMPLE_DN);
    assert_string_equal(s.subject, "/C=DE/O=Example, Inc./CN=device/01, rack 4");
    assert_string_equal(s.serial, "01");
    assert_string_equal(s.sig_alg, "sha1RSA");
    assert_string_equal(s.thumbprint, thumb);
    assert_string_equal(s.key_type, "EC");
    assert_int_equal(s.key_bits, 256);
    assert_int_equal(s.expiry_year, 2035);
    assert_int_equal(s.expiry_month, 1);
    assert_int_equal(s.expiry_day, 2);

    want_line(want, sizeof want, 9, len, EXAMPLE_DN, "01",
              "/C=DE/O=Example, Inc./CN=device/01, rack 4", "sha1RSA", thumb, NULL);
    check_line(9, &s, AT_PROFILE_LEGACY, want);
    /* Month and day with two digits (see at_sbnr_format). */
    want_line(want, sizeof want, 9, len, EXAMPLE_DN, "01",
              "/C=DE/O=Example, Inc./CN=device/01, rack 4", "sha1RSA", thumb, "2035,01,02");
    check_line(9, &s, AT_PROFILE_NEWER, want);
    OPENSSL_free(der);
}

/* Every signature algorithm name, for the keys and digests in use. */
static void test_signature_names(void **state)
{
    (void)state;
    static const struct {
        EVP_PKEY **key;
        const char *md;
        bool pss;
        const char *want;
    } cases[] = {
        {&rsa2048, "MD5", false, "md5RSA"},
        {&rsa2048, "SHA1", false, "sha1RSA"},
        {&rsa2048, "SHA224", false, "sha224RSA"},
        {&rsa2048, "SHA256", false, "sha256RSA"},
        {&rsa2048, "SHA384", false, "sha384RSA"},
        {&rsa2048, "SHA512", false, "sha512RSA"},
        {&rsa2048, "SHA256", true, "RSASSA-PSS"},
        {&ec256, "SHA1", false, "sha1ECDSA"},
        {&ec256, "SHA224", false, "sha224ECDSA"},
        {&ec256, "SHA256", false, "sha256ECDSA"},
        {&ec384, "SHA384", false, "sha384ECDSA"},
        {&ec384, "SHA512", false, "sha512ECDSA"},
        {&ec256, "SHA3-256", false, "ecdsa_with_SHA3-256"}, /* no Microsoft name */
    };
    static const char *const cn[] = {"CN", "alg", NULL};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint8_t *der = make_cert((spec){.subject = name_of(cn), .serial_hex = "7F",
                                        .not_after = "20351029000000Z", .key = *cases[i].key,
                                        .md = cases[i].md, .pss = cases[i].pss},
                                 &len);
        at_cert_summary s = summarize_ok(der, len);
        if (strcmp(s.sig_alg, cases[i].want) != 0)
            fail_msg("%s%s: got %s, want %s", cases[i].md, cases[i].pss ? "/PSS" : "",
                     s.sig_alg, cases[i].want);
        assert_string_equal(s.key_type, cases[i].key == &rsa2048 ? "RSA" : "EC");
        assert_int_equal(s.key_bits, cases[i].key == &rsa2048 ? 2048
                                     : cases[i].key == &ec256 ? 256
                                                              : 384);
        OPENSSL_free(der);
    }
}

/* Serials: the INTEGER content as encoded, sign byte included. */
static void test_serials(void **state)
{
    (void)state;
    static const struct {
        const char *content, *want;
    } cases[] = {
        {"00F1F4565330802E0B", "00F1F4565330802E0B"}, /* high bit set: leading 00 */
        {"01", "01"},
        {"00", "00"},
        {"7F", "7F"},
        {"0080", "0080"},
        {"FB", "FB"}, /* -5 */
        {"7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"},
        {"00FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
         "00FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"},
    };
    static const char *const cn[] = {"CN", "serial", NULL};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint8_t *der = make_cert((spec){.subject = name_of(cn), .serial_hex = cases[i].content,
                                        .not_after = "20351029000000Z", .key = ec256,
                                        .md = "SHA256"},
                                 &len);
        at_cert_summary s = summarize_ok(der, len);
        assert_string_equal(s.serial, cases[i].want);
        char want[4096], thumb[41];
        sha1_hex(der, len, thumb);
        want_line(want, sizeof want, 1, len, "/CN=serial", cases[i].want, "/CN=serial",
                  "sha256ECDSA", thumb, NULL);
        check_line(1, &s, AT_PROFILE_LEGACY, want);
        OPENSSL_free(der);
    }
}

/* DN values: separators inside values, UTF-8, other string types. */
static void test_dn_values(void **state)
{
    (void)state;
    static const char *const pairs[] = {
        "C", "DE",
        "O", "M\xC3\xBCller & S\xC3\xB6hne, Berlin/Mitte",
        "OU", "\"quoted\", serial number: \"AB\"",
        "emailAddress", "a.b@example.com",
        NULL};
    X509_NAME *subj = name_of(pairs);
    /* BMPString "Жуков" (UCS-2 big endian). */
    static const uint8_t bmp[] = {0x04, 0x16, 0x04, 0x43, 0x04, 0x3A, 0x04, 0x3E, 0x04, 0x32};
    add_raw(subj, "L", V_ASN1_BMPSTRING, bmp, (int)sizeof bmp, 0);
    /* T61String read as Latin-1: 0xFC is 'ü'. */
    add_raw(subj, "ST", V_ASN1_T61STRING, "D\xFCsseldorf", 10, 0);
    /* UniversalString "€" (UCS-4 big endian). */
    static const uint8_t ucs4[] = {0x00, 0x00, 0x20, 0xAC};
    add_raw(subj, "title", V_ASN1_UNIVERSALSTRING, ucs4, (int)sizeof ucs4, 0);
    /* An attribute type OpenSSL does not know: dotted OID. */
    add_raw(subj, "1.3.6.1.4.1.99999.1", V_ASN1_UTF8STRING, "x=y", 3, 0);
    /* A multi-valued RDN: CN + UID. */
    add_raw(subj, "CN", V_ASN1_UTF8STRING, "dev", 3, 0);
    add_raw(subj, "UID", V_ASN1_UTF8STRING, "42", 2, -1);
    /* Short names of other common attributes. */
    add_raw(subj, "DC", V_ASN1_IA5STRING, "example", 7, 0);
    add_raw(subj, "serialNumber", V_ASN1_PRINTABLESTRING, "1234", 4, 0);

    const char *want_dn = "/C=DE/O=M\xC3\xBCller & S\xC3\xB6hne, Berlin/Mitte"
                          "/OU=\"quoted\", serial number: \"AB\""
                          "/emailAddress=a.b@example.com"
                          "/L=\xD0\x96\xD1\x83\xD0\xBA\xD0\xBE\xD0\xB2"
                          "/ST=D\xC3\xBCsseldorf"
                          "/title=\xE2\x82\xAC"
                          "/1.3.6.1.4.1.99999.1=x=y"
                          "/CN=dev+UID=42"
                          "/DC=example/serialNumber=1234";
    size_t len;
    uint8_t *der = make_cert((spec){.subject = subj, .issuer = name_of(example_pairs),
                                    .serial_hex = "0A", .not_after = "20351029000000Z",
                                    .key = ec256, .signer = ec384, .md = "SHA384"},
                             &len);
    at_cert_summary s = summarize_ok(der, len);
    assert_string_equal(s.subject, want_dn);
    assert_string_equal(s.issuer, EXAMPLE_DN);
    assert_string_equal(s.sig_alg, "sha384ECDSA");
    assert_false(s.truncated);

    /* The line parses back although the subject holds quotes, commas and
     * a fake serial-number separator. */
    char want[4096], thumb[41];
    sha1_hex(der, len, thumb);
    want_line(want, sizeof want, 2, len, EXAMPLE_DN, "0A", want_dn, "sha384ECDSA", thumb,
              "2035,10,29");
    check_line(2, &s, AT_PROFILE_NEWER, want);
    OPENSSL_free(der);
}

/* Values that are not text. (OpenSSL itself refuses names whose strings do
 * not decode, e.g. a UTF8String with invalid UTF-8: such certificates do
 * not parse at all.) */
static void test_dn_odd_values(void **state)
{
    (void)state;
    X509_NAME *subj = X509_NAME_new();
    assert_non_null(subj);
    static const uint8_t bmp_nul[] = {0x00, 0x41, 0x00, 0x00, 0x00, 0x42}; /* "A\0B" */
    add_raw(subj, "CN", V_ASN1_BMPSTRING, bmp_nul, (int)sizeof bmp_nul, 0);
    /* Not a string type (OpenSSL's DirectoryString takes a BIT STRING):
     * no conversion to UTF-8, so its bytes as they are, or '#' and hex when
     * a NUL is among them. */
    add_raw(subj, "O", V_ASN1_BIT_STRING, "M\xFCller", 6, 0);
    add_raw(subj, "OU", V_ASN1_BIT_STRING, "a\0b", 3, 0);
    size_t len;
    uint8_t *der = make_cert((spec){.subject = subj, .serial_hex = "02",
                                    .not_after = "20351029000000Z", .key = ec256,
                                    .md = "SHA256"},
                             &len);
    at_cert_summary s = summarize_ok(der, len);
    assert_string_equal(s.subject, "/CN=#004100000042/O=M\xFCller/OU=#610062");
    OPENSSL_free(der);
}

/* Empty DNs give empty fields; the line still is a certificate entry. */
static void test_empty_dn(void **state)
{
    (void)state;
    X509_NAME *empty = X509_NAME_new();
    assert_non_null(empty);
    size_t len;
    uint8_t *der = make_cert((spec){.subject = empty, .serial_hex = "03",
                                    .not_after = "20510101000000Z", .key = ec256,
                                    .md = "SHA256"},
                             &len);
    at_cert_summary s = summarize_ok(der, len);
    assert_string_equal(s.subject, "");
    assert_string_equal(s.issuer, "");
    assert_int_equal(s.expiry_year, 2051); /* GeneralizedTime */
    char want[4096], thumb[41];
    sha1_hex(der, len, thumb);
    want_line(want, sizeof want, 4, len, "", "03", "", "sha256ECDSA", thumb, "2051,01,01");
    check_line(4, &s, AT_PROFILE_NEWER, want);
    OPENSSL_free(der);
}

/* A DN longer than the field: cut at a character boundary, flagged. */
static void test_long_dn_truncated(void **state)
{
    (void)state;
    /* 60 x "ü" = 120 bytes per OU, 12 OUs: about 1.5 KiB of DN. */
    char value[121];
    for (int i = 0; i < 60; i++)
        memcpy(value + 2 * i, "\xC3\xBC", 2);
    value[120] = '\0';
    X509_NAME *subj = X509_NAME_new();
    assert_non_null(subj);
    char full[2048] = "";
    for (int i = 0; i < 12; i++) {
        add_raw(subj, "OU", MBSTRING_UTF8, value, -1, 0);
        strcat(full, "/OU=");
        strcat(full, value);
    }
    /* "/OU=" is 4 bytes, so after 8 entries the cut lands after an odd
     * offset inside a value: a naive cut at 1023 bytes would split a 'ü'. */
    size_t len;
    uint8_t *der = make_cert((spec){.subject = subj, .serial_hex = "04",
                                    .not_after = "20351029000000Z", .key = ec256,
                                    .md = "SHA256"},
                             &len);
    at_cert_summary s = summarize_ok(der, len);
    assert_true(s.truncated);
    size_t n = strlen(s.subject);
    assert_true(n <= AT_CERT_DN_MAX - 1 && n >= AT_CERT_DN_MAX - 4);
    assert_memory_equal(s.subject, full, n);
    /* The byte after the cut starts a character. */
    assert_true(((unsigned char)full[n] & 0xC0) != 0x80);
    assert_int_equal(n, 1022); /* 1023 would end inside "\xC3\xBC" */
    OPENSSL_free(der);
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

static void expect_refused(const uint8_t *d, size_t len, const char *what)
{
    at_cert_summary s;
    memset(&s, 0xAA, sizeof s);
    char err[256] = "";
    assert_int_equal(at_cert_summarize(d, len, &s, err, sizeof err), -1);
    if (err[0] == '\0')
        fail_msg("%s: no message", what);
    /* Nothing half-filled is handed out. */
    assert_string_equal(s.subject, "");
    assert_int_equal(s.size, 0);
}

static void test_garbage(void **state)
{
    (void)state;
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37u + 11u);
    expect_refused(junk, sizeof junk, "junk");
    junk[0] = 0x30;
    expect_refused(junk, sizeof junk, "junk after a SEQUENCE tag");
    expect_refused(junk, 0, "empty");
    expect_refused(NULL, 10, "NULL");

    static const char *const cn[] = {"CN", "t", NULL};
    size_t len;
    uint8_t *der = make_cert((spec){.subject = name_of(cn), .serial_hex = "05",
                                    .not_after = "20351029000000Z", .key = ec256,
                                    .md = "SHA256"},
                             &len);
    expect_refused(der, len - 1, "truncated");
    expect_refused(der, len / 2, "half");
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, der, len);
    longer[len] = 0;
    at_cert_summary s;
    char err[256] = "";
    assert_int_equal(at_cert_summarize(longer, len + 1, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "1 bytes after the certificate"));
    free(longer);

    /* A NULL message buffer is allowed. */
    assert_int_equal(at_cert_summarize(junk, sizeof junk, &s, NULL, 0), -1);
    assert_int_equal(at_cert_summarize(der, len, NULL, err, sizeof err), -1);
    OPENSSL_free(der);
}

/* ------------------------------------------------------------------ */
/* Loading files                                                       */
/* ------------------------------------------------------------------ */

static void test_load_pem_der(void **state)
{
    (void)state;
    static const char *const cn[] = {"CN", "load", "O", "a/b, c", NULL};
    size_t len;
    uint8_t *der = make_cert((spec){.subject = name_of(cn), .serial_hex = "00C0FFEE",
                                    .not_after = "20351029000000Z", .key = rsa2048,
                                    .md = "SHA256"},
                             &len);
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    assert_non_null(x);

    /* PEM, with a text dump and another block before it, CRLF line ends. */
    BIO *mem = BIO_new(BIO_s_mem());
    assert_non_null(mem);
    BIO_puts(mem, "Certificate:\r\n    Data: ...\r\n");
    assert_int_equal(PEM_write_bio_X509(mem, x), 1);
    char *pem_data;
    long pem_len = BIO_get_mem_data(mem, &pem_data);
    char *crlf = malloc(2 * (size_t)pem_len + 1);
    assert_non_null(crlf);
    size_t c = 0;
    for (long i = 0; i < pem_len; i++) {
        if (pem_data[i] == '\n' && (i == 0 || pem_data[i - 1] != '\r'))
            crlf[c++] = '\r';
        crlf[c++] = pem_data[i];
    }
    BIO_free(mem);

    const struct {
        const void *data;
        size_t len;
    } files[] = {{der, len}, {crlf, c}};
    for (size_t i = 0; i < 2; i++) {
        char *path = temp_file(files[i].data, files[i].len);
        size_t got_len;
        uint8_t *got = load_ok(path, &got_len);
        assert_int_equal(got_len, len);
        assert_memory_equal(got, der, len);
        free(got);

        char err[512] = "";
        X509 *lx = at_cert_load(path, err, sizeof err);
        assert_non_null(lx);
        assert_int_equal(X509_cmp(lx, x), 0);
        X509_free(lx);
        drop_temp(path);
    }
    free(crlf);

    /* TRUSTED CERTIFICATE: the trust settings after it are not part of it. */
    assert_int_equal(X509_add1_trust_object(x, OBJ_nid2obj(NID_server_auth)), 1);
    mem = BIO_new(BIO_s_mem());
    assert_non_null(mem);
    assert_int_equal(PEM_write_bio_X509_AUX(mem, x), 1);
    pem_len = BIO_get_mem_data(mem, &pem_data);
    assert_non_null(strstr(pem_data, "BEGIN TRUSTED CERTIFICATE"));
    char *path = temp_file(pem_data, (size_t)pem_len);
    BIO_free(mem);
    size_t got_len;
    uint8_t *got = load_ok(path, &got_len);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, der, len);
    free(got);
    drop_temp(path);

    X509_free(x);
    OPENSSL_free(der);
}

/* A refused file: -1, a message that names the file and says @p why. */
static void expect_load_error(const void *data, size_t len, const char *why)
{
    char *path = temp_file(data, len);
    uint8_t *der = (uint8_t *)"untouched";
    size_t dlen = 99;
    char err[512] = "";
    assert_int_equal(at_cert_load_der(path, &der, &dlen, err, sizeof err), -1);
    assert_null(der);
    assert_int_equal(dlen, 0);
    if (!strstr(err, path) || !strstr(err, why))
        fail_msg("message [%s] should name %s and say '%s'", err, path, why);
    err[0] = '\0';
    assert_null(at_cert_load(path, err, sizeof err));
    assert_non_null(strstr(err, path));
    drop_temp(path);
}

static void test_load_errors(void **state)
{
    (void)state;
    expect_load_error("", 0, "empty");
    expect_load_error("hello\n", 6, "not a certificate");
    /* A PEM block of another kind. */
    BIO *mem = BIO_new(BIO_s_mem());
    assert_non_null(mem);
    assert_int_equal(PEM_write_bio_PUBKEY(mem, ec256), 1);
    char *data;
    long n = BIO_get_mem_data(mem, &data);
    expect_load_error(data, (size_t)n, "not a certificate");
    BIO_free(mem);
    /* A CERTIFICATE block whose content is not one. */
    static const char fake[] = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n"
                               "-----END CERTIFICATE-----\n";
    expect_load_error(fake, strlen(fake), "does not hold a certificate");
    /* DER: garbage after a SEQUENCE tag, a byte too many. */
    static const uint8_t seq[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    expect_load_error(seq, sizeof seq, "not a DER certificate");
    static const char *const cn[] = {"CN", "t", NULL};
    size_t len;
    uint8_t *der = make_cert((spec){.subject = name_of(cn), .serial_hex = "06",
                                    .not_after = "20351029000000Z", .key = ec256,
                                    .md = "SHA256"},
                             &len);
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, der, len);
    longer[len] = '\n';
    expect_load_error(longer, len + 1, "1 bytes after");
    free(longer);
    OPENSSL_free(der);

    char err[512] = "";
    uint8_t *d;
    size_t dl;
    assert_int_equal(at_cert_load_der("/nonexistent/attrace.pem", &d, &dl, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "/nonexistent/attrace.pem"));
    assert_non_null(strstr(err, "No such file"));
}

/* ------------------------------------------------------------------ */
/* ^SBNR lines without a certificate, and small buffers                */
/* ------------------------------------------------------------------ */

#define EMPTY3 "^SBNR: 3, size: \"0\", issuer: \"\", serial number: \"\", subject: \"\", " \
               "signature: \"\", thumbprint algorithm: \"\", thumbprint: \"\""

static void test_sbnr_empty_slot(void **state)
{
    (void)state;
    check_line(3, NULL, AT_PROFILE_LEGACY, EMPTY3);
    /* The newer family's empty line is undocumented: the legacy form. */
    check_line(3, NULL, AT_PROFILE_NEWER, EMPTY3);
    char line[256];
    assert_int_equal(at_sbnr_format(3, NULL, NULL, line, sizeof line), strlen(EMPTY3));
    assert_string_equal(line, EMPTY3);
}

static void test_sbnr_buffer(void **state)
{
    (void)state;
    at_cert_summary s;
    memset(&s, 0, sizeof s);
    s.size = 599;
    strcpy(s.issuer, "/CN=a");
    strcpy(s.subject, "/CN=b");
    strcpy(s.serial, "4F2182FE");
    strcpy(s.sig_alg, "sha1RSA");
    strcpy(s.thumb_alg, "sha1");
    strcpy(s.thumbprint, "8CE388D8553D11F7E3BF64B6AA27C2C314B106D4");
    s.expiry_year = 2035;
    s.expiry_month = 10;
    s.expiry_day = 29;
    static const char want[] =
        "^SBNR: 10, size: \"599\", issuer: \"/CN=a\", serial number: \"4F2182FE\", subject: "
        "\"/CN=b\", signature: \"sha1RSA\", thumbprint algorithm: \"sha1\", thumbprint: "
        "\"8CE388D8553D11F7E3BF64B6AA27C2C314B106D4\", expiry date: \"2035,10,29\"";
    const at_profile *newer = at_profile_get(AT_PROFILE_NEWER);
    char line[sizeof want + 8];
    size_t n = strlen(want);
    /* Exactly enough room, one byte short (in the expiry part and in the
     * main part), no room at all. */
    assert_int_equal(at_sbnr_format(10, &s, newer, line, n + 1), n);
    assert_string_equal(line, want);
    assert_int_equal(at_sbnr_format(10, &s, newer, line, n), 0);
    assert_string_equal(line, "");
    assert_int_equal(at_sbnr_format(10, &s, newer, line, 40), 0);
    assert_string_equal(line, "");
    assert_int_equal(at_sbnr_format(10, &s, newer, line, 0), 0);
    assert_int_equal(at_sbnr_format(10, NULL, newer, line, 20), 0);
    assert_int_equal(at_sbnr_format(10, &s, newer, NULL, 100), 0);
    /* NULL profile: legacy. */
    n = at_sbnr_format(10, &s, NULL, line, sizeof line);
    assert_int_equal(n, strlen(want) - strlen(", expiry date: \"2035,10,29\""));
    assert_memory_equal(line, want, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_certificate),
        cmocka_unit_test(test_rsa_sha256),
        cmocka_unit_test(test_rsa_sha1_issued),
        cmocka_unit_test(test_signature_names),
        cmocka_unit_test(test_serials),
        cmocka_unit_test(test_dn_values),
        cmocka_unit_test(test_dn_odd_values),
        cmocka_unit_test(test_empty_dn),
        cmocka_unit_test(test_long_dn_truncated),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_load_pem_der),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_sbnr_empty_slot),
        cmocka_unit_test(test_sbnr_buffer),
    };
    return cmocka_run_group_tests(tests, keys_setup, keys_teardown);
}
