/*
 * Unit tests of the crypto adapter: password sources (decoder/crypto/passin.c),
 * private keys in every format users have (keys.c) and frame signatures in
 * the module's raw-digest scheme (signature.c).
 *
 * Keys are generated once per run (group setup) and written into a
 * temporary directory with OpenSSL's own encoders, in every container.
 */
#define _XOPEN_SOURCE 700

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "attrace/crypto.h"
#include "attrace/frame.h"
#include "testutil.h"

#define BASE 5000u
#define PW "Tr0ub4dor&3"
#define KEYPW "c0rrect-h0rse"
#define IMEI "123456789012345"
#define UNSET_VAR "ATTRACE_TEST_SURELY_UNSET_VAR"
#define NO_TTY_MSG                                                            \
    "no terminal to ask for the password on; use --passin env:VAR, "          \
    "file:PATH or pass:TEXT"

/* ------------------------------------------------------------------ */
/* Fixture: keys, certificates and key files made once                 */
/* ------------------------------------------------------------------ */

static struct {
    char dir[64];
    EVP_PKEY *rsa1024, *rsa1024b, *rsa2048, *ec;
    X509 *cert1024, *cert1024b, *cert2048, *ca;
    uint8_t *cert_der; /* cert1024 as DER, for frames */
    size_t cert_der_len;
} G;

/* dir/name in one of a few rotating buffers (several live at once). */
static const char *P(const char *name)
{
    static char bufs[6][256];
    static unsigned next;
    char *b = bufs[next++ % 6];
    int n = snprintf(b, sizeof bufs[0], "%s/%s", G.dir, name);
    if (n < 0 || (size_t)n >= sizeof bufs[0])
        abort(); /* a fixture bug */
    return b;
}

static void write_bytes(const char *name, const void *data, size_t len)
{
    FILE *fp = fopen(P(name), "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void write_text(const char *name, const char *text)
{
    write_bytes(name, text, strlen(text));
}

/* Writes @p key with OSSL_ENCODER: @p output "PEM"/"DER", @p structure
 * "PrivateKeyInfo", "EncryptedPrivateKeyInfo" or "type-specific"; with a
 * cipher it is encrypted with PW. */
static void write_key(const char *name, EVP_PKEY *key, const char *output,
                      const char *structure, const char *cipher)
{
    OSSL_ENCODER_CTX *ectx = OSSL_ENCODER_CTX_new_for_pkey(
        key, EVP_PKEY_KEYPAIR, output, structure, NULL);
    assert_non_null(ectx);
    assert_true(OSSL_ENCODER_CTX_get_num_encoders(ectx) > 0);
    if (cipher) {
        assert_int_equal(OSSL_ENCODER_CTX_set_cipher(ectx, cipher, NULL), 1);
        assert_int_equal(OSSL_ENCODER_CTX_set_passphrase(
                             ectx, (const unsigned char *)PW, strlen(PW)), 1);
    }
    BIO *bio = BIO_new_file(P(name), "wb");
    assert_non_null(bio);
    assert_int_equal(OSSL_ENCODER_to_bio(ectx, bio), 1);
    BIO_free(bio);
    OSSL_ENCODER_CTX_free(ectx);
}

/* PKCS#1 PEM with the legacy "Proc-Type: 4,ENCRYPTED" encryption. */
static void write_legacy_pem(const char *name, EVP_PKEY *key)
{
    BIO *bio = BIO_new_file(P(name), "wb");
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PrivateKey_traditional(
                         bio, key, EVP_aes_256_cbc(), (unsigned char *)PW,
                         (int)strlen(PW), NULL, NULL), 1);
    BIO_free(bio);
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, long serial)
{
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
    X509_NAME *n = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                                                (const unsigned char *)cn, -1, -1, 0), 1);
    assert_int_equal(X509_set_issuer_name(x, n), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    return x;
}

static void write_p12(const char *name, PKCS12 *p12)
{
    assert_non_null(p12);
    BIO *bio = BIO_new_file(P(name), "wb");
    assert_non_null(bio);
    assert_int_equal(i2d_PKCS12_bio(bio, p12), 1);
    BIO_free(bio);
    PKCS12_free(p12);
}

typedef struct p12_entry {
    const char *alias;
    EVP_PKEY *key;
    X509 *cert;
} p12_entry;

/*
 * A PKCS#12 with several key entries, built bag by bag: key bags in a
 * plain safe, certificates in an encrypted one (AES-256-CBC, PBES2),
 * HMAC-SHA256 MAC; the store password is PW, the keys' @p key_pw. @p keytool: as Java's keytool writes it - localKeyID
 * "Time <millis>", lowercase aliases given by the caller, and @p trusted
 * as a trusted-certificate entry marked with Oracle's attribute.
 */
static void write_p12_entries(const char *name, const p12_entry *e, size_t n,
                              bool keytool, X509 *trusted, const char *trusted_alias,
                              const char *key_pw)
{
    STACK_OF(PKCS12_SAFEBAG) *certs = NULL, *keys = NULL;
    STACK_OF(PKCS7) *safes = NULL;

    for (size_t i = 0; i < n; i++) {
        unsigned char id[EVP_MAX_MD_SIZE];
        unsigned int idlen = 0;
        if (keytool) {
            idlen = (unsigned)snprintf((char *)id, sizeof id, "Time %llu",
                                       1700000000000ULL + i);
        } else {
            assert_int_equal(X509_digest(e[i].cert, EVP_sha1(), id, &idlen), 1);
        }
        PKCS12_SAFEBAG *kb = PKCS12_add_key(&keys, e[i].key, 0, 2048,
                                            NID_aes_256_cbc, key_pw);
        assert_non_null(kb);
        assert_int_equal(PKCS12_add_friendlyname_asc(kb, e[i].alias, -1), 1);
        assert_int_equal(PKCS12_add_localkeyid(kb, id, (int)idlen), 1);
        PKCS12_SAFEBAG *cb = PKCS12_add_cert(&certs, e[i].cert);
        assert_non_null(cb);
        assert_int_equal(PKCS12_add_friendlyname_asc(cb, e[i].alias, -1), 1);
        assert_int_equal(PKCS12_add_localkeyid(cb, id, (int)idlen), 1);
    }
    if (trusted) {
        PKCS12_SAFEBAG *cb = PKCS12_add_cert(&certs, trusted);
        assert_non_null(cb);
        assert_int_equal(PKCS12_add_friendlyname_asc(cb, trusted_alias, -1), 1);
        int nid = OBJ_txt2nid("2.16.840.1.113894.746875.1.1");
        if (nid == NID_undef)
            nid = OBJ_create("2.16.840.1.113894.746875.1.1",
                             "oracleTrustedKeyUsage", "Oracle trusted key usage");
        assert_int_not_equal(nid, NID_undef);
        ASN1_OBJECT *any_eku = OBJ_txt2obj("2.5.29.37.0", 1);
        assert_non_null(any_eku);
        assert_int_equal(PKCS12_add1_attr_by_NID(cb, nid, V_ASN1_OBJECT,
                                                 (const unsigned char *)any_eku, -1), 1);
        ASN1_OBJECT_free(any_eku);
    }
    if (keys)
        assert_int_equal(PKCS12_add_safe(&safes, keys, -1, 0, NULL), 1);
    assert_int_equal(PKCS12_add_safe(&safes, certs, NID_aes_256_cbc, 2048, PW), 1);
    PKCS12 *p12 = PKCS12_add_safes(safes, 0);
    assert_non_null(p12);
    assert_int_equal(PKCS12_set_mac(p12, PW, -1, NULL, 0, 2048, EVP_sha256()), 1);
    write_p12(name, p12);
    sk_PKCS12_SAFEBAG_pop_free(keys, PKCS12_SAFEBAG_free);
    sk_PKCS12_SAFEBAG_pop_free(certs, PKCS12_SAFEBAG_free);
    sk_PKCS7_pop_free(safes, PKCS7_free);
}

/*
 * A PKCS#12 with the algorithms of OpenSSL 1.x and Java 8's keytool
 * (RC2-40 certificate safe, 3DES key). They need OpenSSL 3's legacy
 * provider, which is loaded in a child process only, so that the loader
 * under test has to load it itself.
 */
static void write_legacy_p12(const char *name)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc = 1;
        if (OSSL_PROVIDER_load(NULL, "default") && OSSL_PROVIDER_load(NULL, "legacy")) {
            PKCS12 *p12 = PKCS12_create(PW, "old-entry", G.rsa1024, G.cert1024, NULL,
                                        NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
                                        NID_pbe_WithSHA1And40BitRC2_CBC, 2048, 2048, 0);
            BIO *bio = p12 ? BIO_new_file(P(name), "wb") : NULL;
            if (bio && i2d_PKCS12_bio(bio, p12) == 1)
                rc = 0;
            BIO_free(bio);
            PKCS12_free(p12);
        }
        _exit(rc);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static uint8_t *der_of_cert(X509 *x, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    assert_true(n > 0);
    *len = (size_t)n;
    return der;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(G.dir, sizeof G.dir, "/tmp/attrace-test-crypto-XXXXXX");
    if (!mkdtemp(G.dir))
        return -1;

    G.rsa1024 = EVP_RSA_gen(1024);
    G.rsa1024b = EVP_RSA_gen(1024);
    G.rsa2048 = EVP_RSA_gen(2048);
    G.ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!G.rsa1024 || !G.rsa1024b || !G.rsa2048 || !G.ec)
        return -1;
    G.cert1024 = make_cert(G.rsa1024, "attrace test client 1024", 1);
    G.cert1024b = make_cert(G.rsa1024b, "attrace test backup", 2);
    G.cert2048 = make_cert(G.rsa2048, "attrace test client 2048", 3);
    G.ca = make_cert(G.ec, "attrace test CA", 4);
    G.cert_der = der_of_cert(G.cert1024, &G.cert_der_len);

    /* Plain keys. */
    write_key("rsa1024-p8.pem", G.rsa1024, "PEM", "PrivateKeyInfo", NULL);
    write_key("rsa2048-p1.pem", G.rsa2048, "PEM", "type-specific", NULL);
    write_key("ec-sec1.pem", G.ec, "PEM", "type-specific", NULL);
    write_key("ec-p8.pem", G.ec, "PEM", "PrivateKeyInfo", NULL);
    write_key("rsa1024-p8.der", G.rsa1024, "DER", "PrivateKeyInfo", NULL);
    write_key("rsa2048-p1.der", G.rsa2048, "DER", "type-specific", NULL);
    write_key("ec-sec1.der", G.ec, "DER", "type-specific", NULL);
    /* The content decides, not the name. */
    write_key("pem-named.der", G.rsa1024, "PEM", "PrivateKeyInfo", NULL);
    write_key("der-named.pem", G.rsa2048, "DER", "type-specific", NULL);
    write_key("no-extension", G.rsa1024, "DER", "PrivateKeyInfo", NULL);

    /* Encrypted keys (AES-256-CBC). */
    write_key("rsa1024-p8enc.pem", G.rsa1024, "PEM", "EncryptedPrivateKeyInfo",
              "AES-256-CBC");
    write_key("rsa2048-p8enc.der", G.rsa2048, "DER", "EncryptedPrivateKeyInfo",
              "AES-256-CBC");
    write_legacy_pem("rsa1024-p1enc.pem", G.rsa1024);
    write_legacy_pem("ec-sec1enc.pem", G.ec);

    /* PKCS#12. */
    write_p12("single.p12", PKCS12_create(PW, "Module Client", G.rsa1024, G.cert1024,
                                          NULL, 0, 0, 0, 0, 0));
    write_p12("nomac.p12", PKCS12_create(PW, "no mac", G.rsa1024, G.cert1024, NULL,
                                         0, 0, 0, -1, 0));
    write_p12("nopass.p12", PKCS12_create("", "open", G.rsa2048, G.cert2048, NULL,
                                          0, 0, 0, 0, 0));
    const p12_entry two[] = {{"First", G.rsa1024, G.cert1024},
                             {"Second", G.rsa2048, G.cert2048}};
    write_p12_entries("two.pfx", two, 2, false, NULL, NULL, PW);
    const p12_entry kt[] = {{"signer", G.rsa2048, G.cert2048},
                            {"backup", G.rsa1024b, G.cert1024b}};
    write_p12_entries("keystore.p12", kt, 2, true, G.ca, "ca", PW);
    write_p12_entries("certs-only.p12", NULL, 0, true, G.ca, "ca", PW);
    /* Key entries with a password of their own (not keytool's way for
     * PKCS12, other tools' way). */
    write_p12_entries("keypass.p12", kt, 2, false, NULL, NULL, KEYPW);
    write_legacy_p12("legacy.p12");

    /* Things that are not keys. */
    write_text("notes.txt", "just some text\n");
    write_bytes("empty.key", "", 0);
    BIO *bio = BIO_new_file(P("cert-only.pem"), "wb");
    if (!bio || PEM_write_bio_X509(bio, G.cert1024) != 1)
        return -1;
    BIO_free(bio);

    /* Password files. */
    write_text("pw-crlf.txt", PW "\r\nsecond line\n");
    write_text("pw-bare.txt", PW);
    write_text("pw-empty-line.txt", "\nnext\n");
    write_text("pw-empty.txt", "");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tu_rm_dir(G.dir);
    EVP_PKEY_free(G.rsa1024);
    EVP_PKEY_free(G.rsa1024b);
    EVP_PKEY_free(G.rsa2048);
    EVP_PKEY_free(G.ec);
    X509_free(G.cert1024);
    X509_free(G.cert1024b);
    X509_free(G.cert2048);
    X509_free(G.ca);
    OPENSSL_free(G.cert_der);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

static bool file_contains(const char *name, const char *text)
{
    size_t len;
    uint8_t *data = tu_read_file(P(name), &len);
    bool found = false;
    size_t n = strlen(text);
    for (size_t i = 0; !found && i + n <= len; i++)
        found = memcmp(data + i, text, n) == 0;
    free(data);
    return found;
}

static void expect_info(const at_key_info *i, const char *type, int bits,
                        const char *container, const char *encoding, bool enc)
{
    assert_string_equal(i->type, type);
    assert_int_equal(i->bits, bits);
    assert_string_equal(i->container, container);
    assert_string_equal(i->encoding, encoding);
    assert_int_equal(i->encrypted, enc);
}

/* at_key_load of @p path with the given options. */
static EVP_PKEY *load_key(const char *path, const char *passin, const char *keypass,
                          const char *alias, at_key_info *info, X509 **cert,
                          char *err, size_t err_cap)
{
    at_key_source src = {.path = path, .passin = passin, .keypass = keypass,
                         .alias = alias};
    return at_key_load(&src, info, cert, err, err_cap);
}

/* Loads @p name and checks that it is @p want with the given description. */
static void expect_load(const char *name, const char *passin, const char *alias,
                        EVP_PKEY *want, const char *container,
                        const char *encoding, bool enc)
{
    at_key_info info;
    char err[512] = "";
    EVP_PKEY *k = load_key(P(name), passin, NULL, alias, &info, NULL, err, sizeof err);
    if (!k)
        fail_msg("%s: %s", name, err);
    assert_int_equal(EVP_PKEY_eq(k, want), 1);
    expect_info(&info, EVP_PKEY_is_a(want, "RSA") ? "RSA" : "EC",
                EVP_PKEY_get_bits(want), container, encoding, enc);
    EVP_PKEY_free(k);
}

/* Loads @p path, which must fail with exactly @p want_err. */
static void expect_key_error(const char *path, const char *passin, const char *keypass,
                             const char *alias, const char *want_err)
{
    at_key_info info;
    char err[1024] = "";
    X509 *cert = (X509 *)&err; /* must be reset to NULL */
    EVP_PKEY *k = load_key(path, passin, keypass, alias, &info, &cert, err, sizeof err);
    assert_null(k);
    assert_null(cert);
    assert_string_equal(err, want_err);
}

/* The same for @p name in the fixture directory, without --keypass. */
static void expect_load_error(const char *name, const char *passin,
                              const char *alias, const char *want_err)
{
    expect_key_error(P(name), passin, NULL, alias, want_err);
}

/* Runs @p fn in a child without a controlling terminal; returns what it
 * wrote to the pipe (NUL-terminated) and its exit status in *status. */
typedef void (*child_fn)(int out_fd);

static void run_without_tty(child_fn fn, char *out, size_t cap, int *status)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        if (setsid() < 0)
            _exit(90);
        fn(p[1]);
        _exit(0);
    }
    close(p[1]);
    size_t n = 0;
    for (;;) {
        ssize_t r = read(p[0], out + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    out[n] = '\0';
    close(p[0]);
    assert_int_equal(waitpid(pid, status, 0), pid);
}

static void put_str(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            _exit(91);
        s += w;
        n -= (size_t)w;
    }
}

/* ------------------------------------------------------------------ */
/* Password sources                                                     */
/* ------------------------------------------------------------------ */

static void test_passin_pass(void **state)
{
    (void)state;
    char pw[64], err[256];
    assert_int_equal(at_passin_read("pass:" PW, NULL, pw, sizeof pw, err, sizeof err), 0);
    assert_string_equal(pw, PW);
    assert_string_equal(err, "");
    assert_int_equal(at_passin_read("pass:", NULL, pw, sizeof pw, err, sizeof err), 0);
    assert_string_equal(pw, "");
    /* A colon inside the password is kept. */
    assert_int_equal(at_passin_read("pass:a:b", NULL, pw, sizeof pw, err, sizeof err), 0);
    assert_string_equal(pw, "a:b");
}

static void test_passin_env(void **state)
{
    (void)state;
    char pw[64], err[256];
    assert_int_equal(setenv("ATTRACE_TEST_PW", PW, 1), 0);
    assert_int_equal(at_passin_read("env:ATTRACE_TEST_PW", NULL, pw, sizeof pw, err,
                                    sizeof err), 0);
    assert_string_equal(pw, PW);
    unsetenv(UNSET_VAR);
    assert_int_equal(at_passin_read("env:" UNSET_VAR, NULL, pw, sizeof pw, err,
                                    sizeof err), -1);
    assert_string_equal(err, "environment variable " UNSET_VAR " is not set");
    assert_int_equal(at_passin_read("env:", NULL, pw, sizeof pw, err, sizeof err), -1);
    assert_string_equal(err, "env: needs the name of an environment variable (env:VAR)");
}

static void test_passin_file(void **state)
{
    (void)state;
    char pw[64], err[512], spec[300];

    snprintf(spec, sizeof spec, "file:%s", P("pw-crlf.txt"));
    assert_int_equal(at_passin_read(spec, NULL, pw, sizeof pw, err, sizeof err), 0);
    assert_string_equal(pw, PW);

    snprintf(spec, sizeof spec, "file:%s", P("pw-bare.txt"));
    assert_int_equal(at_passin_read(spec, NULL, pw, sizeof pw, err, sizeof err), 0);
    assert_string_equal(pw, PW);

    snprintf(spec, sizeof spec, "file:%s", P("pw-empty-line.txt"));
    assert_int_equal(at_passin_read(spec, NULL, pw, sizeof pw, err, sizeof err), 0);
    assert_string_equal(pw, "");

    char want[512];
    snprintf(spec, sizeof spec, "file:%s", P("pw-empty.txt"));
    assert_int_equal(at_passin_read(spec, NULL, pw, sizeof pw, err, sizeof err), -1);
    snprintf(want, sizeof want, "password file %s is empty", P("pw-empty.txt"));
    assert_string_equal(err, want);

    snprintf(spec, sizeof spec, "file:%s", P("missing.txt"));
    assert_int_equal(at_passin_read(spec, NULL, pw, sizeof pw, err, sizeof err), -1);
    snprintf(want, sizeof want, "cannot open password file %s: %s", P("missing.txt"),
             strerror(ENOENT));
    assert_string_equal(err, want);

    /* A first line longer than the room: refused, and nothing kept. */
    char small[6];
    snprintf(spec, sizeof spec, "file:%s", P("pw-crlf.txt"));
    assert_int_equal(at_passin_read(spec, NULL, small, sizeof small, err, sizeof err), -1);
    snprintf(want, sizeof want,
             "the first line of password file %s is longer than 5 characters",
             P("pw-crlf.txt"));
    assert_string_equal(err, want);
    assert_string_equal(small, "");
}

static void test_passin_unknown_and_too_long(void **state)
{
    (void)state;
    char pw[8], err[256];
    /* Typed without a scheme: the text may be the password, never echoed. */
    assert_int_equal(at_passin_read(PW, NULL, pw, sizeof pw, err, sizeof err), -1);
    assert_string_equal(err, "unknown password source; use env:VAR, file:PATH, "
                             "pass:TEXT or prompt");
    assert_null(strstr(err, PW));
    assert_int_equal(at_passin_read("stdin:", NULL, pw, sizeof pw, err, sizeof err), -1);
    assert_string_equal(err, "unknown password source; use env:VAR, file:PATH, "
                             "pass:TEXT or prompt");

    assert_int_equal(at_passin_read("pass:" PW, NULL, pw, sizeof pw, err, sizeof err), -1);
    assert_string_equal(err, "the password is longer than 7 characters");
    assert_string_equal(pw, "");
    assert_int_equal(at_passin_read("pass:1234567", NULL, pw, sizeof pw, err,
                                    sizeof err), 0);
    assert_string_equal(pw, "1234567");
}

static void passin_prompt_child(int fd)
{
    char pw[64] = "untouched", err[256] = "";
    int rc1 = at_passin_read(NULL, "Password: ", pw, sizeof pw, err, sizeof err);
    char line[400];
    snprintf(line, sizeof line, "%d|%s|%s\n", rc1, pw, err);
    put_str(fd, line);
    int rc2 = at_passin_read("prompt", NULL, pw, sizeof pw, err, sizeof err);
    snprintf(line, sizeof line, "%d|%s|%s\n", rc2, pw, err);
    put_str(fd, line);
}

static void test_passin_prompt_without_tty(void **state)
{
    (void)state;
    char out[1024];
    int status;
    run_without_tty(passin_prompt_child, out, sizeof out, &status);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(out, "-1||" NO_TTY_MSG "\n-1||" NO_TTY_MSG "\n");
}

/* Reads from the pty master until @p want shows up (or 5 s pass). */
static bool read_until(int fd, char *acc, size_t cap, size_t *n, const char *want)
{
    for (int rounds = 0; rounds < 50; rounds++) {
        acc[*n] = '\0';
        if (want && strstr(acc, want))
            return true;
        struct pollfd pf = {fd, POLLIN, 0};
        int r = poll(&pf, 1, 100);
        if (r < 0)
            return false;
        if (r == 0)
            continue;
        ssize_t got = read(fd, acc + *n, cap - 1 - *n);
        if (got <= 0) /* EIO: the child closed its side */
            return want == NULL;
        *n += (size_t)got;
    }
    acc[*n] = '\0';
    return want ? strstr(acc, want) != NULL : false;
}

static void test_passin_prompt_on_pty(void **state)
{
    (void)state;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0)
        skip(); /* no pseudo-terminals here */
    char slave_name[128];
    snprintf(slave_name, sizeof slave_name, "%s", ptsname(master));

    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(master);
        if (setsid() < 0)
            _exit(10);
        int s = open(slave_name, O_RDWR); /* becomes the controlling terminal */
        if (s < 0)
            _exit(11);
        char pw[64] = "", err[256] = "";
        int rc = at_passin_read(NULL, "Secret please: ", pw, sizeof pw, err, sizeof err);
        struct termios t;
        if (tcgetattr(s, &t) != 0)
            _exit(12);
        if (!(t.c_lflag & ECHO))
            _exit(13); /* echo not restored */
        if (rc != 0)
            _exit(14);
        _exit(strcmp(pw, "pty-" PW) == 0 ? 0 : 15);
    }

    char acc[2048];
    size_t n = 0;
    bool prompted = read_until(master, acc, sizeof acc, &n, "Secret please: ");
    if (prompted) {
        const char line[] = "pty-" PW "\n";
        assert_int_equal(write(master, line, sizeof line - 1), (ssize_t)(sizeof line - 1));
        read_until(master, acc, sizeof acc, &n, NULL);
    } else {
        kill(pid, SIGKILL);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(master);
    assert_true(prompted);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The password was not echoed; the prompt and a line end were. */
    assert_null(strstr(acc, "pty-" PW));
    assert_string_equal(acc, "Secret please: \r\n");
}

/* ------------------------------------------------------------------ */
/* Key files                                                            */
/* ------------------------------------------------------------------ */

static void test_load_plain_pem(void **state)
{
    (void)state;
    assert_true(file_contains("rsa1024-p8.pem", "-----BEGIN PRIVATE KEY-----"));
    assert_true(file_contains("rsa2048-p1.pem", "-----BEGIN RSA PRIVATE KEY-----"));
    assert_true(file_contains("ec-sec1.pem", "-----BEGIN EC PRIVATE KEY-----"));
    /* No password source at all: none may be asked for. */
    expect_load("rsa1024-p8.pem", "env:" UNSET_VAR, NULL, G.rsa1024, "PKCS#8", "PEM", false);
    expect_load("rsa2048-p1.pem", "env:" UNSET_VAR, NULL, G.rsa2048, "PKCS#1", "PEM", false);
    expect_load("ec-sec1.pem", "env:" UNSET_VAR, NULL, G.ec, "SEC1", "PEM", false);
    expect_load("ec-p8.pem", "env:" UNSET_VAR, NULL, G.ec, "PKCS#8", "PEM", false);
}

static void test_load_plain_der(void **state)
{
    (void)state;
    expect_load("rsa1024-p8.der", "env:" UNSET_VAR, NULL, G.rsa1024, "PKCS#8", "DER", false);
    expect_load("rsa2048-p1.der", "env:" UNSET_VAR, NULL, G.rsa2048, "PKCS#1", "DER", false);
    expect_load("ec-sec1.der", "env:" UNSET_VAR, NULL, G.ec, "SEC1", "DER", false);
}

static void test_load_by_content_not_name(void **state)
{
    (void)state;
    expect_load("pem-named.der", NULL, NULL, G.rsa1024, "PKCS#8", "PEM", false);
    expect_load("der-named.pem", NULL, NULL, G.rsa2048, "PKCS#1", "DER", false);
    expect_load("no-extension", NULL, NULL, G.rsa1024, "PKCS#8", "DER", false);
}

static void test_load_encrypted_pkcs8(void **state)
{
    (void)state;
    assert_true(file_contains("rsa1024-p8enc.pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    expect_load("rsa1024-p8enc.pem", "pass:" PW, NULL, G.rsa1024, "PKCS#8", "PEM", true);

    assert_int_equal(setenv("ATTRACE_TEST_PW", PW, 1), 0);
    expect_load("rsa2048-p8enc.der", "env:ATTRACE_TEST_PW", NULL, G.rsa2048, "PKCS#8",
                "DER", true);
    char spec[300];
    snprintf(spec, sizeof spec, "file:%s", P("pw-crlf.txt"));
    expect_load("rsa2048-p8enc.der", spec, NULL, G.rsa2048, "PKCS#8", "DER", true);
}

static void test_load_legacy_pem_encryption(void **state)
{
    (void)state;
    assert_true(file_contains("rsa1024-p1enc.pem", "-----BEGIN RSA PRIVATE KEY-----"));
    assert_true(file_contains("rsa1024-p1enc.pem", "Proc-Type: 4,ENCRYPTED"));
    assert_true(file_contains("rsa1024-p1enc.pem", "DEK-Info: AES-256-CBC,"));
    char spec[300];
    snprintf(spec, sizeof spec, "file:%s", P("pw-bare.txt"));
    expect_load("rsa1024-p1enc.pem", spec, NULL, G.rsa1024, "PKCS#1", "PEM", true);
    assert_true(file_contains("ec-sec1enc.pem", "Proc-Type: 4,ENCRYPTED"));
    expect_load("ec-sec1enc.pem", "pass:" PW, NULL, G.ec, "SEC1", "PEM", true);
}

static void test_load_wrong_password(void **state)
{
    (void)state;
    static const char *const files[] = {"rsa1024-p8enc.pem", "rsa2048-p8enc.der",
                                        "rsa1024-p1enc.pem", "single.p12",
                                        "keystore.p12"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char want[512];
        snprintf(want, sizeof want, "wrong password for %s (or the file is damaged)",
                 P(files[i]));
        expect_load_error(files[i], "pass:Wr0ngHorse", NULL, want);
    }
}

static void test_load_missing_password(void **state)
{
    (void)state;
    char want[512];
    snprintf(want, sizeof want,
             "%s is encrypted and needs a password: environment variable "
             UNSET_VAR " is not set", P("rsa1024-p8enc.pem"));
    expect_load_error("rsa1024-p8enc.pem", "env:" UNSET_VAR, NULL, want);
    snprintf(want, sizeof want,
             "%s is encrypted and needs a password: unknown password source; use "
             "env:VAR, file:PATH, pass:TEXT or prompt", P("single.p12"));
    expect_load_error("single.p12", "hunter2", NULL, want);
}

static void load_without_tty_child(int fd)
{
    char err[1024] = "", line[1200];
    EVP_PKEY *k = load_key(P("rsa1024-p8enc.pem"), NULL, NULL, NULL, NULL, NULL, err,
                           sizeof err);
    snprintf(line, sizeof line, "%s|%s\n", k ? "key" : "null", err);
    put_str(fd, line);
    EVP_PKEY_free(k);
    /* A plain key needs no password, so no terminal either. */
    err[0] = '\0';
    k = load_key(P("rsa2048-p1.pem"), NULL, NULL, NULL, NULL, NULL, err, sizeof err);
    snprintf(line, sizeof line, "%s|%s\n", k && EVP_PKEY_eq(k, G.rsa2048) == 1 ? "key" : "null",
             err);
    put_str(fd, line);
    EVP_PKEY_free(k);
}

static void test_load_prompt_without_tty(void **state)
{
    (void)state;
    char out[2048], want[2048];
    int status;
    run_without_tty(load_without_tty_child, out, sizeof out, &status);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    snprintf(want, sizeof want, "null|%s is encrypted and needs a password: %s\nkey|\n",
             P("rsa1024-p8enc.pem"), NO_TTY_MSG);
    assert_string_equal(out, want);
}

/* ------------------------------------------------------------------ */
/* PKCS#12 and Java keystores                                           */
/* ------------------------------------------------------------------ */

static void expect_p12_kp(const char *name, const char *passin, const char *keypass,
                          const char *alias, EVP_PKEY *want_key, X509 *want_cert,
                          const char *container, bool enc)
{
    at_key_info info;
    char err[1024] = "";
    X509 *cert = NULL;
    EVP_PKEY *k = load_key(P(name), passin, keypass, alias, &info, &cert, err, sizeof err);
    if (!k)
        fail_msg("%s (alias %s): %s", name, alias ? alias : "none", err);
    assert_int_equal(EVP_PKEY_eq(k, want_key), 1);
    assert_non_null(cert);
    assert_int_equal(X509_cmp(cert, want_cert), 0);
    expect_info(&info, "RSA", EVP_PKEY_get_bits(want_key), container, "DER", enc);
    X509_free(cert);
    EVP_PKEY_free(k);
}

static void expect_p12(const char *name, const char *passin, const char *alias,
                       EVP_PKEY *want_key, X509 *want_cert, const char *container,
                       bool enc)
{
    expect_p12_kp(name, passin, NULL, alias, want_key, want_cert, container, enc);
}

static void test_load_p12_create(void **state)
{
    (void)state;
    expect_p12("single.p12", "pass:" PW, NULL, G.rsa1024, G.cert1024, "PKCS#12", true);
    expect_p12("single.p12", "pass:" PW, "module CLIENT", G.rsa1024, G.cert1024,
               "PKCS#12", true);
    /* Without a password: nothing is asked (an unset source would fail). */
    expect_p12("nopass.p12", "env:" UNSET_VAR, NULL, G.rsa2048, G.cert2048, "PKCS#12",
               false);
    /* The certificate is optional for the caller. */
    expect_load("single.p12", "pass:" PW, NULL, G.rsa1024, "PKCS#12", "DER", true);
}

static void test_load_p12_without_mac(void **state)
{
    (void)state;
    /* No MAC to test the password on: the encrypted safe decides. */
    expect_p12("nomac.p12", "pass:" PW, NULL, G.rsa1024, G.cert1024, "PKCS#12", true);
    char want[512];
    snprintf(want, sizeof want, "wrong password for %s (or the file is damaged)",
             P("nomac.p12"));
    expect_load_error("nomac.p12", "pass:nope", NULL, want);
    snprintf(want, sizeof want,
             "%s is encrypted and needs a password: environment variable "
             UNSET_VAR " is not set", P("nomac.p12"));
    expect_load_error("nomac.p12", "env:" UNSET_VAR, NULL, want);
}

static void test_load_p12_two_entries(void **state)
{
    (void)state;
    expect_p12("two.pfx", "pass:" PW, NULL, G.rsa1024, G.cert1024, "PKCS#12", true);
    expect_p12("two.pfx", "pass:" PW, "First", G.rsa1024, G.cert1024, "PKCS#12", true);
    expect_p12("two.pfx", "pass:" PW, "second", G.rsa2048, G.cert2048, "PKCS#12", true);
    char want[512];
    snprintf(want, sizeof want,
             "%s has no key entry with the alias \"third\"; key entries: \"First\", "
             "\"Second\"", P("two.pfx"));
    expect_load_error("two.pfx", "pass:" PW, "third", want);
}

static void test_load_keytool_keystore(void **state)
{
    (void)state;
    expect_p12("keystore.p12", "pass:" PW, "SIGNER", G.rsa2048, G.cert2048,
               "keytool PKCS12", true);
    expect_p12("keystore.p12", "pass:" PW, "Backup", G.rsa1024b, G.cert1024b,
               "keytool PKCS12", true);
    expect_p12("keystore.p12", "pass:" PW, NULL, G.rsa2048, G.cert2048,
               "keytool PKCS12", true);
    char want[512];
    snprintf(want, sizeof want,
             "%s has no key entry with the alias \"client\"; key entries: \"signer\", "
             "\"backup\"; certificate entries (no key): \"ca\"", P("keystore.p12"));
    expect_load_error("keystore.p12", "pass:" PW, "client", want);
    snprintf(want, sizeof want,
             "%s holds no private key (only certificates: \"ca\")", P("certs-only.p12"));
    expect_load_error("certs-only.p12", "pass:" PW, NULL, want);
}

static void test_load_p12_legacy_algorithms(void **state)
{
    (void)state;
    expect_p12("legacy.p12", "pass:" PW, "OLD-ENTRY", G.rsa1024, G.cert1024, "PKCS#12",
               true);
}

static void test_load_p12_key_password(void **state)
{
    (void)state;
    expect_p12_kp("keypass.p12", "pass:" PW, "pass:" KEYPW, "Backup", G.rsa1024b,
                  G.cert1024b, "PKCS#12", true);
    expect_p12_kp("keypass.p12", "pass:" PW, "pass:" KEYPW, NULL, G.rsa2048, G.cert2048,
                  "PKCS#12", true);
    /* keytool's PKCS12 keys have the store password: --keypass may say so. */
    expect_p12_kp("keystore.p12", "pass:" PW, "pass:" PW, "signer", G.rsa2048,
                  G.cert2048, "keytool PKCS12", true);
    char want[512];
    snprintf(want, sizeof want,
             "the key of the entry \"signer\" in %s has a password other than the "
             "store password: give it with --keypass", P("keypass.p12"));
    expect_load_error("keypass.p12", "pass:" PW, "signer", want);
    snprintf(want, sizeof want, "wrong key password for the entry \"signer\" in %s",
             P("keypass.p12"));
    expect_key_error(P("keypass.p12"), "pass:" PW, "pass:" PW, "signer", want);
}

static void test_load_not_a_key(void **state)
{
    (void)state;
    char want[512];
    snprintf(want, sizeof want,
             "%s is not a key file attrace knows (PEM, DER, PKCS#12, JKS, JCEKS)",
             P("notes.txt"));
    expect_load_error("notes.txt", NULL, NULL, want);
    snprintf(want, sizeof want, "%s is empty", P("empty.key"));
    expect_load_error("empty.key", NULL, NULL, want);
    snprintf(want, sizeof want, "%s holds no private key (PEM blocks: CERTIFICATE)",
             P("cert-only.pem"));
    expect_load_error("cert-only.pem", NULL, NULL, want);
    snprintf(want, sizeof want, "cannot open %s: %s", P("nothing-here.pem"),
             strerror(ENOENT));
    expect_load_error("nothing-here.pem", NULL, NULL, want);

    /* A DER certificate is DER, but not a key. */
    write_bytes("cert.der", G.cert_der, G.cert_der_len);
    snprintf(want, sizeof want,
             "%s is DER but not a private key (PKCS#8, PKCS#1, SEC1) or PKCS#12 "
             "keystore", P("cert.der"));
    expect_load_error("cert.der", NULL, NULL, want);
}

/* ------------------------------------------------------------------ */
/* The frame's key unit                                                 */
/* ------------------------------------------------------------------ */

static void test_key_from_der(void **state)
{
    (void)state;
    size_t len;
    at_key_info info;

    uint8_t *p8 = tu_read_file(P("rsa1024-p8.der"), &len);
    EVP_PKEY *k = at_key_from_der(p8, len, &info);
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_eq(k, G.rsa1024), 1);
    expect_info(&info, "RSA", 1024, "PKCS#8", "DER", false);
    EVP_PKEY_free(k);
    /* Cut by one byte: not a key. */
    assert_null(at_key_from_der(p8, len - 1, &info));
    assert_string_equal(info.container, "");
    free(p8);

    uint8_t *p1 = tu_read_file(P("rsa2048-p1.der"), &len);
    k = at_key_from_der(p1, len, &info);
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_eq(k, G.rsa2048), 1);
    expect_info(&info, "RSA", 2048, "PKCS#1", "DER", false);
    EVP_PKEY_free(k);
    free(p1);

    /* Encrypted keys and certificates are not a frame's key unit. */
    uint8_t *enc = tu_read_file(P("rsa2048-p8enc.der"), &len);
    assert_null(at_key_from_der(enc, len, &info));
    free(enc);
    assert_null(at_key_from_der(G.cert_der, G.cert_der_len, NULL));
    assert_null(at_key_from_der(NULL, 0, NULL));
}

static void test_key_to_frame_der(void **state)
{
    (void)state;
    size_t len = 99;
    uint8_t *der = at_key_to_frame_der(G.rsa2048, &len);
    assert_non_null(der);
    /* Exactly an unencrypted PKCS#8 PrivateKeyInfo, nothing after it. */
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    assert_non_null(p8);
    assert_ptr_equal(p, der + len);
    PKCS8_PRIV_KEY_INFO_free(p8);

    at_key_info info;
    EVP_PKEY *k = at_key_from_der(der, len, &info);
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_eq(k, G.rsa2048), 1);
    expect_info(&info, "RSA", 2048, "PKCS#8", "DER", false);
    EVP_PKEY_free(k);
    OPENSSL_free(der);

    assert_null(at_key_to_frame_der(NULL, &len));
    assert_int_equal(len, 0);
}

/* ------------------------------------------------------------------ */
/* Signatures                                                           */
/* ------------------------------------------------------------------ */

/* WRITE of the client certificate (index 0, cert, key, IMEI, signature),
 * signed by @p sign / @p ctx. */
static size_t make_frame(at_sign_fn sign, void *ctx, EVP_PKEY *frame_key,
                         uint8_t *out, size_t cap)
{
    size_t key_len = 0;
    uint8_t *key = at_key_to_frame_der(frame_key, &key_len);
    assert_non_null(key);
    at_frame_spec spec = {
        .cmd_id = AT_CMD_WRITE, .index = 0,
        .cert = G.cert_der, .cert_len = G.cert_der_len,
        .key = key, .key_len = key_len,
        .imei = IMEI, .sign = true};
    size_t len = 0;
    assert_int_equal(at_frame_encode(&spec, sign, ctx, out, cap, &len), AT_OK);
    OPENSSL_free(key);
    return len;
}

static size_t make_signed(EVP_PKEY *key, at_digest_alg alg, uint8_t *out, size_t cap)
{
    at_signer s = {key, alg};
    return make_frame(at_sign_frame, &s, key, out, cap);
}

static void decode(const uint8_t *buf, size_t len, at_frame *f)
{
    assert_int_equal(at_frame_decode(buf, len, BASE, NULL, f), AT_OK);
    assert_int_equal(f->sig_kind, AT_SIG_BASE64);
}

static void verify(const uint8_t *buf, size_t len, EVP_PKEY *pub, at_sig_verdict *v)
{
    at_frame f;
    decode(buf, len, &f);
    assert_int_equal(at_verify_frame(&f, buf, len, pub, v), 0);
}

/* Where the signature unit starts in @p buf. */
static size_t sig_unit_at(const uint8_t *buf, size_t len)
{
    at_frame f;
    decode(buf, len, &f);
    const at_frame_unit *u = at_frame_find(&f, AT_PARAM_SIGNATURE);
    assert_non_null(u);
    return (size_t)(u->span.off - BASE);
}

/*
 * Checks the scheme independently of the code under test: the public-key
 * operation without padding must give 00 01 FF..FF 00 || digest, the
 * digest of buf[2 .. signature unit) and nothing else (no DigestInfo).
 */
static void expect_raw_digest_signature(const uint8_t *buf, size_t len, EVP_PKEY *key,
                                        const EVP_MD *md)
{
    size_t at = sig_unit_at(buf, len);
    const char *text = (const char *)buf + at + 4;
    size_t tlen = strlen(text);
    assert_int_equal(at + 4 + tlen + 1, len); /* NUL-terminated, last */
    assert_int_equal(tlen % 4, 0);
    for (size_t i = 0; i < tlen; i++)
        assert_true(text[i] != '\n' && text[i] != '\r');

    uint8_t sig[512];
    int n = EVP_DecodeBlock(sig, (const unsigned char *)text, (int)tlen);
    size_t klen = (size_t)EVP_PKEY_get_size(key);
    assert_true(n >= (int)klen);
    /* Standard padding: 128 bytes end in one '=', 256 bytes in two. */
    size_t pad = (3 - klen % 3) % 3;
    assert_int_equal(tlen, 4 * ((klen + 2) / 3));
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(text[tlen - 1 - i] == '=', i < pad);

    uint8_t m[512];
    size_t mlen = sizeof m;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
    assert_int_equal(EVP_PKEY_encrypt(ctx, m, &mlen, sig, klen), 1);
    EVP_PKEY_CTX_free(ctx);
    assert_int_equal(mlen, klen);

    uint8_t h[EVP_MAX_MD_SIZE];
    unsigned hlen = 0;
    assert_int_equal(EVP_Digest(buf + 2, at - 2, h, &hlen, md, NULL), 1);
    assert_int_equal(m[0], 0x00);
    assert_int_equal(m[1], 0x01);
    for (size_t i = 2; i < klen - hlen - 1; i++)
        assert_int_equal(m[i], 0xFF);
    assert_int_equal(m[klen - hlen - 1], 0x00);
    assert_memory_equal(m + klen - hlen, h, hlen);
}

static void round_trip(EVP_PKEY *key, at_digest_alg alg, const char *name)
{
    uint8_t buf[8192];
    size_t len = make_signed(key, alg, buf, sizeof buf);
    const EVP_MD *md = alg == AT_DIGEST_SHA1 ? EVP_sha1() : EVP_sha256();
    expect_raw_digest_signature(buf, len, key, md);

    size_t klen = (size_t)EVP_PKEY_get_size(key);
    at_sig_verdict v;
    verify(buf, len, key, &v);
    assert_true(v.present);
    assert_true(v.base64_ok);
    assert_int_equal(v.sig_len, klen);
    assert_int_equal(v.key_len, klen);
    assert_true(v.length_ok);
    assert_true(v.recovered);
    assert_int_equal(v.digest_len, alg);
    assert_string_equal(v.digest_name, name);
    assert_true(v.matches);

    uint8_t h[EVP_MAX_MD_SIZE];
    unsigned hlen = 0;
    size_t at = sig_unit_at(buf, len);
    assert_int_equal(EVP_Digest(buf + 2, at - 2, h, &hlen, md, NULL), 1);
    assert_memory_equal(v.region_digest, h, hlen);
    assert_memory_equal(v.recovered_digest, h, hlen);

    /* The frame's own key unit verifies it too. */
    at_frame f;
    decode(buf, len, &f);
    const at_frame_unit *ku = at_frame_find(&f, AT_PARAM_KEY);
    assert_non_null(ku);
    EVP_PKEY *fk = at_key_from_der(ku->value, ku->value_len, NULL);
    assert_non_null(fk);
    assert_int_equal(at_verify_frame(&f, buf, len, fk, &v), 0);
    assert_true(v.matches);
    EVP_PKEY_free(fk);
}

static void test_sign_verify_sha1(void **state)
{
    (void)state;
    round_trip(G.rsa1024, AT_DIGEST_SHA1, "SHA-1");
    round_trip(G.rsa2048, AT_DIGEST_SHA1, "SHA-1");
}

static void test_sign_verify_sha256(void **state)
{
    (void)state;
    round_trip(G.rsa1024, AT_DIGEST_SHA256, "SHA-256");
    round_trip(G.rsa2048, AT_DIGEST_SHA256, "SHA-256");
}

static void test_verify_without_key(void **state)
{
    (void)state;
    uint8_t buf[8192];
    size_t len = make_signed(G.rsa2048, AT_DIGEST_SHA256, buf, sizeof buf);
    at_sig_verdict v;
    verify(buf, len, NULL, &v);
    assert_true(v.present);
    assert_true(v.base64_ok);
    assert_int_equal(v.sig_len, 256);
    assert_int_equal(v.key_len, 0);
    assert_false(v.length_ok);
    assert_false(v.recovered);
    assert_int_equal(v.digest_len, 0);
    assert_string_equal(v.digest_name, "unknown");
    assert_false(v.matches);

    /* A key that is not RSA cannot check it: as if there were none. */
    verify(buf, len, G.ec, &v);
    assert_true(v.present);
    assert_true(v.base64_ok);
    assert_int_equal(v.sig_len, 256);
    assert_int_equal(v.key_len, 0);
    assert_false(v.length_ok);
    assert_false(v.recovered);
    assert_false(v.matches);
}

static void test_verify_wrong_key(void **state)
{
    (void)state;
    uint8_t buf[8192];
    size_t len = make_signed(G.rsa1024, AT_DIGEST_SHA256, buf, sizeof buf);
    at_sig_verdict v;
    verify(buf, len, G.rsa1024b, &v);
    assert_true(v.present);
    assert_true(v.length_ok);
    assert_false(v.matches);
    /* Padding from the wrong key is garbage: at best a chance recovery. */
    if (v.recovered)
        assert_false(v.digest_len == 32 &&
                     memcmp(v.recovered_digest, v.region_digest, 32) == 0);
}

static void test_verify_tampered_region(void **state)
{
    (void)state;
    uint8_t buf[8192];
    size_t len = make_signed(G.rsa1024, AT_DIGEST_SHA256, buf, sizeof buf);
    /* One IMEI digit changes: still a well-formed frame. */
    size_t at = sig_unit_at(buf, len);
    size_t imei_last = at - 2; /* ...'5' NUL | signature unit */
    assert_int_equal(buf[imei_last], '5');
    buf[imei_last] = '6';
    at_sig_verdict v;
    verify(buf, len, G.rsa1024, &v);
    assert_true(v.recovered);
    assert_int_equal(v.digest_len, 32);
    assert_string_equal(v.digest_name, "SHA-256");
    assert_false(v.matches);
    assert_memory_not_equal(v.recovered_digest, v.region_digest, 32);

    /* Put back, it verifies again. */
    buf[imei_last] = '5';
    verify(buf, len, G.rsa1024, &v);
    assert_true(v.matches);
}

static void test_verify_key_length_mismatch(void **state)
{
    (void)state;
    uint8_t buf[8192];
    size_t len = make_signed(G.rsa2048, AT_DIGEST_SHA1, buf, sizeof buf);
    at_sig_verdict v;
    verify(buf, len, G.rsa1024, &v);
    assert_true(v.present);
    assert_true(v.base64_ok);
    assert_int_equal(v.sig_len, 256);
    assert_int_equal(v.key_len, 128);
    assert_false(v.length_ok);
    assert_false(v.recovered);
    assert_false(v.matches);
    assert_string_equal(v.digest_name, "unknown");
}

/* A standard SHA256withRSA signer (DigestInfo inside the padding). */
static int standard_signer(void *ctx, const uint8_t *region, size_t region_len,
                           char *out, size_t cap, size_t *out_len)
{
    EVP_PKEY *key = ctx;
    uint8_t sig[512];
    size_t sig_len = sizeof sig;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m && EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(m, sig, &sig_len, region, region_len) == 1;
    EVP_MD_CTX_free(m);
    unsigned char text[700];
    if (!ok || 4 * ((sig_len + 2) / 3) > cap)
        return -1;
    int n = EVP_EncodeBlock(text, sig, (int)sig_len);
    memcpy(out, text, (size_t)n);
    *out_len = (size_t)n;
    return 0;
}

static void test_verify_rejects_standard_signature(void **state)
{
    (void)state;
    uint8_t buf[8192];
    size_t len = make_frame(standard_signer, G.rsa2048, G.rsa2048, buf, sizeof buf);
    at_sig_verdict v;
    verify(buf, len, G.rsa2048, &v);
    assert_true(v.length_ok);
    assert_true(v.recovered);
    assert_int_equal(v.digest_len, 51);
    assert_string_equal(v.digest_name, "unknown");
    assert_false(v.matches);
    /* What was recovered is the DigestInfo of SHA-256. */
    uint8_t prefix[19];
    tu_hex("3031300d060960864801650304020105000420", prefix, sizeof prefix);
    assert_memory_equal(v.recovered_digest, prefix, sizeof prefix);
}

static void test_sign_deterministic(void **state)
{
    (void)state;
    uint8_t a[8192], b[8192];
    size_t la = make_signed(G.rsa2048, AT_DIGEST_SHA256, a, sizeof a);
    size_t lb = make_signed(G.rsa2048, AT_DIGEST_SHA256, b, sizeof b);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    /* A different digest gives a different frame of the same size. */
    size_t lc = make_signed(G.rsa2048, AT_DIGEST_SHA1, b, sizeof b);
    assert_int_equal(lc, la);
    assert_memory_not_equal(a, b, la);
}

static void test_sign_refuses(void **state)
{
    (void)state;
    const uint8_t region[] = {1, 0, 3, 0};
    char out[400];
    size_t n = 77;

    at_signer ec = {G.ec, AT_DIGEST_SHA256};
    assert_int_equal(at_sign_frame(&ec, region, sizeof region, out, sizeof out, &n), -1);
    assert_int_equal(n, 0);
    at_signer bad_alg = {G.rsa1024, (at_digest_alg)48};
    assert_int_equal(at_sign_frame(&bad_alg, region, sizeof region, out, sizeof out, &n), -1);
    at_signer no_key = {NULL, AT_DIGEST_SHA1};
    assert_int_equal(at_sign_frame(&no_key, region, sizeof region, out, sizeof out, &n), -1);

    /* Through the encoder, an EC key is a signing failure. */
    at_frame_spec spec = {.cmd_id = AT_CMD_DELETE, .index = 2, .imei = IMEI, .sign = true};
    uint8_t frame[1024];
    size_t flen = 0;
    assert_int_equal(at_frame_encode(&spec, at_sign_frame, &ec, frame, sizeof frame, &flen),
                     AT_ERR_SIGN);

    /* The text must fit: 1024-bit key = 172 characters, no NUL written. */
    at_signer s = {G.rsa1024, AT_DIGEST_SHA1};
    memset(out, '#', sizeof out);
    assert_int_equal(at_sign_frame(&s, region, sizeof region, out, 171, &n), -1);
    assert_int_equal(out[0], '#');
    assert_int_equal(at_sign_frame(&s, region, sizeof region, out, 172, &n), 0);
    assert_int_equal(n, 172);
    assert_int_equal(out[172], '#');
}

/* A signer that writes fixed text: for frames with odd signatures. */
static int text_signer(void *ctx, const uint8_t *region, size_t region_len,
                       char *out, size_t cap, size_t *out_len)
{
    (void)region;
    (void)region_len;
    size_t n = strlen(ctx);
    if (n > cap)
        return -1;
    memcpy(out, ctx, n);
    *out_len = n;
    return 0;
}

static at_sig_verdict verify_text(const char *sig_text, EVP_PKEY *key)
{
    at_frame_spec spec = {.cmd_id = AT_CMD_DELETE, .index = 2, .imei = IMEI, .sign = true};
    uint8_t buf[1024];
    size_t len = 0;
    assert_int_equal(at_frame_encode(&spec, text_signer, (void *)sig_text, buf,
                                     sizeof buf, &len), AT_OK);
    at_frame f;
    assert_int_equal(at_frame_decode(buf, len, BASE, NULL, &f), AT_OK);
    at_sig_verdict v;
    assert_int_equal(at_verify_frame(&f, buf, len, key, &v), 0);
    return v;
}

static void test_verify_base64_checks(void **state)
{
    (void)state;
    at_sig_verdict v = verify_text("QUJD", NULL);
    assert_true(v.present);
    assert_true(v.base64_ok);
    assert_int_equal(v.sig_len, 3);
    v = verify_text("QUI=", NULL);
    assert_true(v.base64_ok);
    assert_int_equal(v.sig_len, 2);
    v = verify_text("QQ==", NULL);
    assert_true(v.base64_ok);
    assert_int_equal(v.sig_len, 1);

    static const char *const bad[] = {"QUJ@", "QUJ", "", "Q===", "QU=D", "QUJD\nQUJD"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = verify_text(bad[i], G.rsa1024);
        assert_true(v.present);
        assert_false(v.base64_ok);
        assert_int_equal(v.sig_len, 0);
        assert_int_equal(v.key_len, 0);
        assert_false(v.recovered);
        assert_false(v.matches);
    }
    /* Right length, but not a signature by this key: no valid padding. */
    char zeros[200]; /* 128 zero bytes */
    memset(zeros, 'A', 168);
    strcpy(zeros + 168, "AAA=");
    v = verify_text(zeros, G.rsa1024);
    assert_true(v.base64_ok);
    assert_int_equal(v.sig_len, 128);
    assert_true(v.length_ok);
    assert_false(v.recovered);
    assert_false(v.matches);
}

static void test_verify_not_signed(void **state)
{
    (void)state;
    uint8_t buf[64];
    at_frame f;
    at_sig_verdict v;

    /* The PROTOCOL.md DELETE without IMEI and signature. */
    size_t len = tu_hex("0C00 0300 0100 0600 0100 0200", buf, sizeof buf);
    assert_int_equal(at_frame_decode(buf, len, BASE, NULL, &f), AT_OK);
    memset(&v, 0xA5, sizeof v);
    assert_int_equal(at_verify_frame(&f, buf, len, G.rsa1024, &v), 0);
    assert_false(v.present);
    assert_false(v.matches);
    assert_string_equal(v.digest_name, "unknown");

    /* A READ response: index 1, cert "AB", raw 20-byte digest. */
    len = tu_hex("2A00 0200 0300"
                 "0600 0100 0100"
                 "0600 0200 4142"
                 "1800 0300 00112233445566778899AABBCCDDEEFF00112233",
                 buf, sizeof buf);
    assert_int_equal(at_frame_decode_response(buf, len, BASE, NULL, &f), AT_OK);
    assert_int_equal(f.sig_kind, AT_SIG_RAW_DIGEST);
    assert_int_equal(at_verify_frame(&f, buf, len, G.rsa1024, &v), 0);
    assert_false(v.present);

    /* The same response with base64 there is a signature to check. */
    len = tu_hex("1B00 0200 0300"
                 "0600 0100 0100"
                 "0600 0200 4142"
                 "0900 0300 51554A44 00",
                 buf, sizeof buf);
    assert_int_equal(at_frame_decode_response(buf, len, BASE, NULL, &f), AT_OK);
    assert_int_equal(f.sig_kind, AT_SIG_BASE64);
    assert_int_equal(at_verify_frame(&f, buf, len, NULL, &v), 0);
    assert_true(v.present);
    assert_true(v.base64_ok);
    assert_int_equal(v.sig_len, 3);

    assert_int_equal(at_verify_frame(NULL, buf, len, NULL, &v), -1);
    assert_false(v.present);
    assert_int_equal(at_verify_frame(&f, buf, len, NULL, NULL), -1);
}

/* ------------------------------------------------------------------ */
/* Java keystores (JKS, JCEKS) made by keytool: samples/keys            */
/* ------------------------------------------------------------------ */

/* samples/keys/make-keystores.sh */
#define JKS_STOREPASS "St0re-Pass"
#define JKS_KEYPASS "K3y-Pass"
#define CA_ALIAS_QUOTED "\"root \\\"ca\\\" \\xc3\\xa4\""

static const char *const JAVA_STORES[] = {"client.jks", "client.jceks"};

/* samples/keys/NAME in one of a few rotating buffers. */
static const char *sample_key(const char *name)
{
    static char bufs[4][512];
    static unsigned next;
    char *b = bufs[next++ % 4];
    int n = snprintf(b, sizeof bufs[0], "%s/keys/%s", ATTRACE_SAMPLES_DIR, name);
    if (n < 0 || (size_t)n >= sizeof bufs[0])
        abort();
    return b;
}

/* The certificate keytool exported for entry @p alias of @p store. */
static X509 *exported_cert(const char *store, const char *alias)
{
    char name[128];
    snprintf(name, sizeof name, "%s.%s.crt.pem", store, alias);
    BIO *bio = BIO_new_file(sample_key(name), "r");
    assert_non_null(bio);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(x);
    return x;
}

/*
 * Loads entry @p alias (as given) of @p store, expected to be the key of
 * keytool's entry @p entry: the returned certificate is the one keytool
 * exported, and a frame it signs verifies with that certificate's key.
 */
static void expect_java_key(const char *store, const char *alias, const char *keypass,
                            const char *entry, int bits)
{
    at_key_info info;
    char err[1024] = "";
    X509 *cert = NULL;
    EVP_PKEY *k = load_key(sample_key(store), "pass:" JKS_STOREPASS, keypass, alias,
                           &info, &cert, err, sizeof err);
    if (!k)
        fail_msg("%s (alias %s): %s", store, alias ? alias : "none", err);
    X509 *want = exported_cert(store, entry);
    assert_non_null(cert);
    assert_int_equal(X509_cmp(cert, want), 0);
    assert_int_equal(X509_check_private_key(want, k), 1);
    expect_info(&info, "RSA", bits, strstr(store, "jceks") ? "JCEKS" : "JKS", "", true);

    uint8_t buf[8192];
    size_t len = make_signed(k, AT_DIGEST_SHA1, buf, sizeof buf);
    at_sig_verdict v;
    verify(buf, len, X509_get0_pubkey(want), &v);
    assert_true(v.recovered);
    assert_true(v.matches);
    X509_free(want);
    X509_free(cert);
    EVP_PKEY_free(k);
}

static void test_load_java_keystores(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        const char *st = JAVA_STORES[i];
        /* Aliases compare without regard to case, as in Java. */
        expect_java_key(st, "Module-Client", "pass:" JKS_KEYPASS, "module-client", 2048);
        expect_java_key(st, "MODULE-CLIENT", "pass:" JKS_KEYPASS, "module-client", 2048);
        /* The key password defaults to the store password. */
        expect_java_key(st, "backup", NULL, "backup", 1024);
        expect_java_key(st, "BackUp", "pass:" JKS_STOREPASS, "backup", 1024);
        /* Without an alias: the first key entry in the file. */
        expect_java_key(st, NULL, NULL, "backup", 1024);
    }
}

static void test_load_java_keystore_passwords(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        const char *path = sample_key(JAVA_STORES[i]);
        const char *type = i ? "JCEKS" : "JKS";
        char want[1024];
        snprintf(want, sizeof want,
                 "wrong store password for %s, or the %s keystore is damaged (its "
                 "integrity digest does not match)", path, type);
        expect_key_error(path, "pass:" JKS_KEYPASS, "pass:" JKS_KEYPASS, "module-client",
                         want);
        snprintf(want, sizeof want,
                 "wrong key password for the entry \"module-client\" in %s", path);
        expect_key_error(path, "pass:" JKS_STOREPASS, "pass:" JKS_STOREPASS,
                         "module-client", want);
        snprintf(want, sizeof want,
                 "the key of the entry \"module-client\" in %s has a password other "
                 "than the store password: give it with --keypass", path);
        expect_key_error(path, "pass:" JKS_STOREPASS, NULL, "Module-Client", want);
        snprintf(want, sizeof want,
                 "%s is a Java keystore and needs its store password: environment "
                 "variable " UNSET_VAR " is not set", path);
        expect_key_error(path, "env:" UNSET_VAR, NULL, NULL, want);
        snprintf(want, sizeof want,
                 "the key password of the entry \"module-client\" in %s: environment "
                 "variable " UNSET_VAR " is not set", path);
        expect_key_error(path, "pass:" JKS_STOREPASS, "env:" UNSET_VAR, "module-client",
                         want);
    }
}

static void test_load_java_keystore_aliases(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        const char *path = sample_key(JAVA_STORES[i]);
        char want[1024];
        snprintf(want, sizeof want,
                 "%s has no key entry with the alias \"client\\x01\"; key entries: "
                 "\"backup\", \"module-client\"; certificate entries (no key): "
                 CA_ALIAS_QUOTED, path);
        expect_key_error(path, "pass:" JKS_STOREPASS, NULL, "client\x01", want);
        snprintf(want, sizeof want,
                 "the entry " CA_ALIAS_QUOTED " of %s is a trusted certificate, not a "
                 "private key", path);
        expect_key_error(path, "pass:" JKS_STOREPASS, NULL, "Root \"CA\" \xc3\xa4", want);
    }
}

/* Writes the first @p n bytes of samples/keys/@p store (with byte @p flip
 * inverted when < n, and @p extra bytes appended) as @p name. */
static void write_damaged(const char *name, const char *store, size_t n, size_t flip,
                          size_t extra)
{
    size_t len;
    uint8_t *data = tu_read_file(sample_key(store), &len);
    assert_non_null(data);
    assert_true(n <= len);
    uint8_t *out = calloc(1, n + extra);
    assert_non_null(out);
    memcpy(out, data, n);
    if (flip < n)
        out[flip] ^= 0xFF;
    write_bytes(name, out, n + extra);
    free(out);
    free(data);
}

static void test_load_java_keystore_damaged(void **state)
{
    (void)state;
    char want[1024];
    /* client.jks: 4376 bytes, entry 2 at offset 912; client.jceks: 4343. */
    static const struct {
        const char *name, *store;
        size_t keep, extra;
        const char *want; /* after "PATH: the TYPE keystore is " */
    } cuts[] = {
        {"short.jks", "client.jks", 8, 0, "truncated (8 bytes, shorter than its header)"},
        {"cut.jks", "client.jks", 2000, 0,
         "truncated (entry 2 of 3, at offset 912, runs past the end of the file)"},
        {"cut-digest.jceks", "client.jceks", 4333, 0,
         "truncated (its integrity digest has 10 of its 20 bytes)"},
        {"long.jks", "client.jks", 4376, 3, "damaged (3 bytes follow its integrity digest)"},
    };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_damaged(cuts[i].name, cuts[i].store, cuts[i].keep, SIZE_MAX, cuts[i].extra);
        snprintf(want, sizeof want, "%s: the %s keystore is %s", P(cuts[i].name),
                 strstr(cuts[i].store, "jceks") ? "JCEKS" : "JKS", cuts[i].want);
        expect_load_error(cuts[i].name, "pass:" JKS_STOREPASS, NULL, want);
    }

    /* A flipped byte that keeps the structure: only the digest sees it. */
    for (size_t i = 0; i < 2; i++) {
        const char *flips[] = {"flip.jks", "flip.jceks"};
        write_damaged(flips[i], JAVA_STORES[i], i ? 4343 : 4376, 100, 0);
        snprintf(want, sizeof want,
                 "wrong store password for %s, or the %s keystore is damaged (its "
                 "integrity digest does not match)", P(flips[i]), i ? "JCEKS" : "JKS");
        expect_load_error(flips[i], "pass:" JKS_STOREPASS, "backup", want);
    }

    /* Version 3 and an unknown entry type. */
    static const uint8_t v3[] = {0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 3, 0, 0, 0, 0};
    write_bytes("v3.jks", v3, sizeof v3);
    snprintf(want, sizeof want, "%s: the JKS keystore is damaged (version 3; Java "
             "writes 1 and 2)", P("v3.jks"));
    expect_load_error("v3.jks", NULL, NULL, want);
    static const uint8_t tag9[] = {0xCE, 0xCE, 0xCE, 0xCE, 0, 0, 0, 2, 0, 0, 0, 1,
                                   0, 0, 0, 9, 0, 1, 'x', 0, 0, 0, 0, 0, 0, 0, 0};
    write_bytes("tag9.jceks", tag9, sizeof tag9);
    snprintf(want, sizeof want, "%s: the JCEKS keystore is damaged (entry 1 of 1, at "
             "offset 12, has the unknown type 9)", P("tag9.jceks"));
    expect_load_error("tag9.jceks", NULL, NULL, want);
}

/* Writes @p body followed by the integrity digest Java computes with the
 * (ASCII) store password @p pw. */
static void write_signed_store(const char *name, const uint8_t *body, size_t len,
                               const char *pw)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_non_null(ctx);
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha1(), NULL), 1);
    for (const char *c = pw; *c; c++) {
        uint8_t u[2] = {0, (uint8_t)*c};
        assert_int_equal(EVP_DigestUpdate(ctx, u, 2), 1);
    }
    assert_int_equal(EVP_DigestUpdate(ctx, "Mighty Aphrodite", 16), 1);
    assert_int_equal(EVP_DigestUpdate(ctx, body, len), 1);
    uint8_t *out = malloc(len + 20);
    assert_non_null(out);
    memcpy(out, body, len);
    unsigned int mdlen = 0;
    assert_int_equal(EVP_DigestFinal_ex(ctx, out + len, &mdlen), 1);
    assert_int_equal(mdlen, 20);
    EVP_MD_CTX_free(ctx);
    write_bytes(name, out, len + 20);
    free(out);
}

static void put_be(uint8_t **p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *(*p)++ = (uint8_t)(v >> 8 * (n - 1 - i));
}

/* Version 1 (JDK 1.1's format): no certificate type strings. The store is
 * put together from the key entry "backup" of client.jks (its protected
 * key at offset 936, 698 bytes; its certificate at 1649, 559 bytes). */
static void test_load_java_keystore_version1(void **state)
{
    (void)state;
    size_t len;
    uint8_t *jks = tu_read_file(sample_key("client.jks"), &len);
    assert_non_null(jks);
    uint8_t *buf = malloc(len), *p = buf;
    assert_non_null(buf);
    put_be(&p, 0xFEEDFEED, 4);
    put_be(&p, 1, 4); /* version */
    put_be(&p, 1, 4); /* count */
    put_be(&p, 1, 4); /* private key entry */
    put_be(&p, 6, 2);
    memcpy(p, "backup", 6);
    p += 6;
    put_be(&p, 0, 8); /* date */
    put_be(&p, 698, 4);
    memcpy(p, jks + 936, 698);
    p += 698;
    put_be(&p, 1, 4); /* chain */
    put_be(&p, 559, 4);
    memcpy(p, jks + 1649, 559);
    p += 559;
    write_signed_store("v1.jks", buf, (size_t)(p - buf), JKS_STOREPASS);

    at_key_info info;
    char err[1024] = "";
    X509 *cert = NULL;
    EVP_PKEY *k = load_key(P("v1.jks"), "pass:" JKS_STOREPASS, NULL, NULL, &info, &cert,
                           err, sizeof err);
    if (!k)
        fail_msg("%s", err);
    X509 *want = exported_cert("client.jks", "backup");
    assert_non_null(cert);
    assert_int_equal(X509_cmp(cert, want), 0);
    assert_int_equal(X509_check_private_key(want, k), 1);
    X509_free(want);
    X509_free(cert);
    EVP_PKEY_free(k);
    free(buf);
    free(jks);
}

/* JCEKS secret-key entries are Java-serialized objects without a length:
 * one at the end is passed over, one before the keys hides them. */
static void test_load_java_keystore_secret_entries(void **state)
{
    (void)state;
    size_t len;
    uint8_t *ks = tu_read_file(sample_key("client.jceks"), &len);
    assert_non_null(ks);
    size_t body = len - 20;
    static const uint8_t secret[] = {0, 0, 0, 3, 0, 6, 's', 'e', 'c', 'r', 'e', 't',
                                     0, 0, 1, 0x8c, 0, 0, 0, 0,
                                     0xAC, 0xED, 0, 5, 's', 'r'}; /* serialized */
    uint8_t *buf = malloc(body + sizeof secret);
    assert_non_null(buf);

    /* Last. */
    memcpy(buf, ks, body);
    memcpy(buf + body, secret, sizeof secret);
    buf[11] = 4; /* count */
    write_signed_store("secret-last.jceks", buf, body + sizeof secret, JKS_STOREPASS);
    at_key_info info;
    char err[1024] = "";
    EVP_PKEY *k = load_key(P("secret-last.jceks"), "pass:" JKS_STOREPASS,
                           "pass:" JKS_KEYPASS, "module-client", &info, NULL, err,
                           sizeof err);
    if (!k)
        fail_msg("%s", err);
    X509 *x = exported_cert("client.jceks", "module-client");
    assert_int_equal(X509_check_private_key(x, k), 1);
    X509_free(x);
    EVP_PKEY_free(k);

    /* First: the key entries after it cannot be reached. */
    memcpy(buf, ks, 12);
    memcpy(buf + 12, secret, sizeof secret);
    memcpy(buf + 12 + sizeof secret, ks + 12, body - 12);
    buf[11] = 4;
    write_signed_store("secret-first.jceks", buf, body + sizeof secret, JKS_STOREPASS);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s holds no private key; the entries after a secret-key "
             "entry cannot be read", P("secret-first.jceks"));
    expect_load_error("secret-first.jceks", "pass:" JKS_STOREPASS, NULL, msg);

    /* A key protected by an algorithm attrace does not know (the JKS key
     * protector's OID with its last arc changed), in a store whose digest
     * is right. */
    uint8_t *jks = tu_read_file(sample_key("client.jks"), &len);
    assert_non_null(jks);
    static const uint8_t oid[] = {0x06, 0x0A, 0x2B, 0x06, 0x01, 0x04, 0x01,
                                  0x2A, 0x02, 0x11, 0x01, 0x01};
    uint8_t *hit = NULL;
    for (size_t i = 936; !hit && i + sizeof oid <= 936 + 40; i++)
        if (memcmp(jks + i, oid, sizeof oid) == 0)
            hit = jks + i;
    assert_non_null(hit);
    hit[sizeof oid - 1] = 0x02;
    write_signed_store("unknown-protector.jks", jks, len - 20, JKS_STOREPASS);
    snprintf(msg, sizeof msg, "%s: the key entry \"backup\" cannot be read: its key is "
             "protected by the algorithm 1.3.6.1.4.1.42.2.17.1.2, which attrace does "
             "not know", P("unknown-protector.jks"));
    expect_load_error("unknown-protector.jks", "pass:" JKS_STOREPASS, "backup", msg);
    free(jks);
    free(buf);
    free(ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passin_pass),
        cmocka_unit_test(test_passin_env),
        cmocka_unit_test(test_passin_file),
        cmocka_unit_test(test_passin_unknown_and_too_long),
        cmocka_unit_test(test_passin_prompt_without_tty),
        cmocka_unit_test(test_passin_prompt_on_pty),
        cmocka_unit_test(test_load_plain_pem),
        cmocka_unit_test(test_load_plain_der),
        cmocka_unit_test(test_load_by_content_not_name),
        cmocka_unit_test(test_load_encrypted_pkcs8),
        cmocka_unit_test(test_load_legacy_pem_encryption),
        cmocka_unit_test(test_load_wrong_password),
        cmocka_unit_test(test_load_missing_password),
        cmocka_unit_test(test_load_prompt_without_tty),
        cmocka_unit_test(test_load_p12_create),
        cmocka_unit_test(test_load_p12_without_mac),
        cmocka_unit_test(test_load_p12_two_entries),
        cmocka_unit_test(test_load_keytool_keystore),
        cmocka_unit_test(test_load_p12_legacy_algorithms),
        cmocka_unit_test(test_load_p12_key_password),
        cmocka_unit_test(test_load_java_keystores),
        cmocka_unit_test(test_load_java_keystore_passwords),
        cmocka_unit_test(test_load_java_keystore_aliases),
        cmocka_unit_test(test_load_java_keystore_damaged),
        cmocka_unit_test(test_load_java_keystore_secret_entries),
        cmocka_unit_test(test_load_java_keystore_version1),
        cmocka_unit_test(test_load_not_a_key),
        cmocka_unit_test(test_key_from_der),
        cmocka_unit_test(test_key_to_frame_der),
        cmocka_unit_test(test_sign_verify_sha1),
        cmocka_unit_test(test_sign_verify_sha256),
        cmocka_unit_test(test_verify_without_key),
        cmocka_unit_test(test_verify_wrong_key),
        cmocka_unit_test(test_verify_tampered_region),
        cmocka_unit_test(test_verify_key_length_mismatch),
        cmocka_unit_test(test_verify_rejects_standard_signature),
        cmocka_unit_test(test_sign_deterministic),
        cmocka_unit_test(test_sign_refuses),
        cmocka_unit_test(test_verify_base64_checks),
        cmocka_unit_test(test_verify_not_signed),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
