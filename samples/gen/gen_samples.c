/*
 * attrace-gen-samples - writes the sample traces of samples/ (see
 * samples/README.md) from scripted sessions.
 *
 *   attrace-gen-samples -k KEYS_DIR -o OUT_DIR
 *
 * The output is byte-identical on every run: timestamps start at a fixed
 * instant, record splitting comes from a fixed-seed PRNG of our own, and
 * RSA PKCS#1 v1.5 signatures are deterministic. Each sample models a real
 * tap capture at 115200 baud: both directions are split into records the
 * way UART reads return them, bytes take 10 bit times each, the module
 * echoes command lines and answers after a few milliseconds, and the host
 * waits about 100 ms between commands (capture_model.c, shared with the
 * benchmark generator).
 */
#define _POSIX_C_SOURCE 200809L

#include "attrace/frame.h"
#include "attrace/profile.h"
#include "attrace/trace.h"

#include "capture_model.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char gen_program_name[] = "attrace-gen-samples";

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */
/* ------------------------------------------------------------------ */

static void die_ssl(const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "no OpenSSL error queued";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    die("%s: %s", what, buf);
}

static unsigned char *read_file(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        die("path too long: %s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        die("%s: %s", path, strerror(errno));
    unsigned char *data = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            data = xrealloc(data, cap);
        }
        size_t got = fread(data + n, 1, cap - n, fp);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(fp))
        die("%s: read error", path);
    fclose(fp);
    *len = n;
    return data;
}

/* ------------------------------------------------------------------ */
/* The capture (the model itself is in capture_model.c)               */
/* ------------------------------------------------------------------ */

/* The capture host's largest read: small reads, as a tap at 115200 sees. */
#define MAX_CHUNK 64u

/* Opens a fresh capture (the file is replaced, not overwritten in place). */
static void sample_capture_open(capture *c, const char *path, uint64_t seed)
{
    if (unlink(path) != 0 && errno != ENOENT)
        die("%s: %s", path, strerror(errno));
    capture_open(c, path, seed, MAX_CHUNK);
}

/*
 * A secure command whose frame the module processes for @p proc_ms plus up
 * to 30 ms before it prints @p result (see secure_command).
 */
static uint64_t sample_secure_command(capture *c, uint64_t t, const uint8_t *frame,
                                      size_t frame_len, const char *result,
                                      unsigned proc_ms)
{
    return secure_command(c, t, frame, frame_len, result, proc_ms, proc_ms + 30);
}

/* ------------------------------------------------------------------ */
/* Keys, certificates, signing                                        */
/* ------------------------------------------------------------------ */

typedef struct cert {
    unsigned char *der;
    size_t der_len;
    X509 *x509;
} cert;

static void cert_load(cert *ct, const char *dir, const char *name)
{
    ct->der = read_file(dir, name, &ct->der_len);
    const unsigned char *p = ct->der;
    ct->x509 = d2i_X509(NULL, &p, (long)ct->der_len);
    if (!ct->x509 || (size_t)(p - ct->der) != ct->der_len)
        die_ssl(name);
}

static void cert_free(cert *ct)
{
    X509_free(ct->x509);
    free(ct->der);
}

/*
 * The signer of PROTOCOL.md section 4, legacy flavour: SHA-1 of the region,
 * then the RSA private-key operation with PKCS#1 v1.5 type-1 padding on the
 * raw digest (no DigestInfo), base64 without line breaks.
 */
static int sign_legacy(void *ctx, const uint8_t *region, size_t region_len,
                       char *out, size_t cap, size_t *out_len)
{
    EVP_PKEY *key = ctx;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    unsigned char sig[2048];
    size_t sig_len = sizeof sig;
    int ok = 0;

    if (!EVP_Digest(region, region_len, md, &md_len, EVP_sha1(), NULL))
        return -1;
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(key, NULL);
    if (pctx && EVP_PKEY_sign_init(pctx) > 0 &&
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0 &&
        EVP_PKEY_sign(pctx, sig, &sig_len, md, md_len) > 0)
        ok = 1;
    EVP_PKEY_CTX_free(pctx);
    if (!ok)
        return -1;
    size_t b64_len = 4 * ((sig_len + 2) / 3);
    if (b64_len + 1 > cap) /* EVP_EncodeBlock writes a NUL */
        return -1;
    *out_len = (size_t)EVP_EncodeBlock((unsigned char *)out, sig, (int)sig_len);
    return 0;
}

/* "/C=DE/O=Example, Inc./CN=..." : short names, values as UTF-8, unescaped. */
static void dn_oneline(const X509_NAME *name, buf *out)
{
    int n = X509_NAME_entry_count(name);
    for (int i = 0; i < n; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
        const char *sn = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
        char oid[128];
        if (!sn) {
            OBJ_obj2txt(oid, sizeof oid, X509_NAME_ENTRY_get_object(e), 1);
            sn = oid;
        }
        unsigned char *utf8 = NULL;
        int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
        if (len < 0)
            die_ssl("DN value");
        buf_addf(out, "/%s=", sn);
        buf_add(out, utf8, (size_t)len);
        OPENSSL_free(utf8);
    }
}

/* Uppercase hex of the DER INTEGER's content bytes (a leading 00 stays). */
static void serial_hex(const X509 *x, buf *out)
{
    unsigned char *der = NULL;
    int len = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &der);
    if (len < 2)
        die_ssl("serial number");
    size_t hdr = 2;
    if (der[1] & 0x80)
        hdr += der[1] & 0x7f;
    if ((size_t)len < hdr)
        die("serial number: bad DER");
    buf_add_hex(out, der + hdr, (size_t)len - hdr);
    OPENSSL_free(der);
}

/* The Microsoft-style name the module prints. */
static const char *sig_alg_name(const X509 *x)
{
    switch (X509_get_signature_nid(x)) {
    case NID_md5WithRSAEncryption: return "md5RSA";
    case NID_sha1WithRSAEncryption: return "sha1RSA";
    case NID_sha224WithRSAEncryption: return "sha224RSA";
    case NID_sha256WithRSAEncryption: return "sha256RSA";
    case NID_sha384WithRSAEncryption: return "sha384RSA";
    case NID_sha512WithRSAEncryption: return "sha512RSA";
    case NID_ecdsa_with_SHA1: return "sha1ECDSA";
    case NID_ecdsa_with_SHA256: return "sha256ECDSA";
    case NID_ecdsa_with_SHA384: return "sha384ECDSA";
    case NID_ecdsa_with_SHA512: return "sha512ECDSA";
    }
    return OBJ_nid2sn(X509_get_signature_nid(x));
}

/* One ^SBNR line (no line terminator) for index @p index; @p ct may be NULL. */
static void sbnr_line(unsigned index, const cert *ct, buf *out)
{
    if (!ct) {
        buf_addf(out, "^SBNR: %u, size: \"0\", issuer: \"\", serial number: \"\", "
                      "subject: \"\", signature: \"\", thumbprint algorithm: \"\", "
                      "thumbprint: \"\"", index);
        return;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (!EVP_Digest(ct->der, ct->der_len, md, &md_len, EVP_sha1(), NULL))
        die_ssl("thumbprint");
    buf_addf(out, "^SBNR: %u, size: \"%zu\", issuer: \"", index, ct->der_len);
    dn_oneline(X509_get_issuer_name(ct->x509), out);
    buf_addf(out, "\", serial number: \"");
    serial_hex(ct->x509, out);
    buf_addf(out, "\", subject: \"");
    dn_oneline(X509_get_subject_name(ct->x509), out);
    buf_addf(out, "\", signature: \"%s\", thumbprint algorithm: \"sha1\", thumbprint: \"",
             sig_alg_name(ct->x509));
    buf_add_hex(out, md, md_len);
    buf_add(out, "\"", 1);
}

/* The whole ^SBNR response (information lines and OK) for a legacy module. */
static void sbnr_response(const cert *const store[11], buf *out)
{
    const at_profile *legacy = at_profile_get(AT_PROFILE_LEGACY);
    buf_add(out, "\r\n", 2);
    for (unsigned i = 0; i <= legacy->index_max; i++) {
        sbnr_line(i, store[i], out);
        buf_add(out, "\r\n", 2);
    }
    buf_add(out, "\r\nOK\r\n", 6);
}

/* ------------------------------------------------------------------ */
/* The samples                                                        */
/* ------------------------------------------------------------------ */

#define IMEI "358240051111110"

static int luhn_ok(const char *digits)
{
    size_t n = strlen(digits);
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(digits[n - 1 - i] - '0');
        if (d > 9)
            return 0;
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return n > 0 && sum % 10 == 0;
}

typedef struct material {
    cert client, ca1, ca2;
    unsigned char *key_der; /* PKCS#8 DER, as the frame carries it */
    size_t key_der_len;
    EVP_PKEY *key;
} material;

static void material_load(material *m, const char *dir)
{
    cert_load(&m->client, dir, "client.crt.der");
    cert_load(&m->ca1, dir, "ca1.crt.der");
    cert_load(&m->ca2, dir, "ca2.crt.der");
    m->key_der = read_file(dir, "client.key.der", &m->key_der_len);
    const unsigned char *p = m->key_der;
    m->key = d2i_AutoPrivateKey(NULL, &p, (long)m->key_der_len);
    if (!m->key)
        die_ssl("client.key.der");
    if (X509_check_private_key(m->client.x509, m->key) != 1)
        die("client.key.der does not belong to client.crt.der");
}

static void material_free(material *m)
{
    cert_free(&m->client);
    cert_free(&m->ca1);
    cert_free(&m->ca2);
    EVP_PKEY_free(m->key);
    free(m->key_der);
}

/* Encodes a signed WRITE of @p ct to @p index (with the key for index 0). */
static size_t write_frame(const material *m, uint16_t index, const cert *ct,
                          uint8_t *out, size_t cap)
{
    at_frame_spec spec = {
        .cmd_id = AT_CMD_WRITE,
        .index = index,
        .cert = ct->der,
        .cert_len = ct->der_len,
        .key = index == 0 ? m->key_der : NULL,
        .key_len = index == 0 ? m->key_der_len : 0,
        .imei = IMEI,
        .sign = true,
    };
    size_t len = 0;
    at_status st = at_frame_encode(&spec, sign_legacy, m->key, out, cap, &len);
    if (st != AT_OK)
        die("encoding the WRITE frame for index %u: %s", index, at_status_str(st));
    return len;
}

/* Power-up and the usual preparation; returns the time of the next command. */
static uint64_t session_start(capture *c)
{
    uint64_t t = START_TS;
    capture_note_start(c, t);
    t = urc(c, t + 1850 * NS_PER_MS, "\r\n^SYSSTART\r\n");
    t += 420 * NS_PER_MS;
    t = command_text(c, t, "ATE1\r", "\r\nOK\r\n", 2, 4);
    t = command_text(c, t, "AT\r", "\r\nOK\r\n", 2, 4);
    t = command_text(c, t, "AT+CREG=1\r", "\r\nOK\r\n", 3, 6);
    t = command_text(c, t, "AT+CGSN\r", "\r\n" IMEI "\r\n\r\nOK\r\n", 3, 6);
    /* The network registration arrives while the host is idle. */
    urc(c, t - 60 * NS_PER_MS, "\r\n+CREG: 1\r\n");
    t = command_text(c, t, "AT^SIND=is_cert,1\r", "\r\n^SIND: is_cert,1\r\n\r\nOK\r\n", 4, 8);
    t = command_text(c, t, "AT+CMER=3,0,0,2\r", "\r\nOK\r\n", 3, 6);
    return t;
}

static void session_end(capture *c, uint64_t t)
{
    capture_note_stop(c, t + 400 * NS_PER_MS);
}

static const char end_ok[] = "\r\nSECURE CMD END OK\r\n\r\nOK\r\n";

static void sample_provisioning_ok(const material *m, const char *path)
{
    capture c;
    uint8_t frame[8192];
    buf sbnr = {0};

    sample_capture_open(&c, path, UINT64_C(0x5A3B1E0001));
    uint64_t t = session_start(&c);

    size_t n = write_frame(m, 0, &m->client, frame, sizeof frame);
    t = sample_secure_command(&c, t, frame, n, end_ok, 420);
    n = write_frame(m, 1, &m->ca1, frame, sizeof frame);
    t = sample_secure_command(&c, t, frame, n, end_ok, 260);
    n = write_frame(m, 2, &m->ca2, frame, sizeof frame);
    t = sample_secure_command(&c, t, frame, n, end_ok, 260);

    const cert *store[11] = {&m->client, &m->ca1, &m->ca2};
    sbnr_response(store, &sbnr);
    t = command_text(&c, t, "AT^SBNR=is_cert\r", sbnr.p, 25, 40);

    session_end(&c, t);
    capture_close(&c);
    buf_free(&sbnr);
}

static void sample_totallen_excludes_self(const material *m, const char *path)
{
    capture c;
    uint8_t frame[8192];
    buf sbnr = {0};

    sample_capture_open(&c, path, UINT64_C(0x5A3B1E0002));
    uint64_t t = session_start(&c);

    /* TotalLen leaves out its own two bytes. It is not signed, so the
     * signature stays valid: only the length is wrong. The module stops
     * reading after TotalLen bytes and finds two more. */
    size_t n = write_frame(m, 0, &m->client, frame, sizeof frame);
    uint16_t wrong = (uint16_t)(n - 2);
    frame[0] = (uint8_t)(wrong & 0xff);
    frame[1] = (uint8_t)(wrong >> 8);
    t = sample_secure_command(&c, t, frame, n,
                              "\r\nSECURE CMD TOO MANY DATA ERROR\r\n\r\nERROR\r\n", 40);

    /* The engineer checks the store: nothing was written. */
    const cert *store[11] = {0};
    sbnr_response(store, &sbnr);
    t = command_text(&c, t, "AT^SBNR=is_cert\r", sbnr.p, 25, 40);

    session_end(&c, t);
    capture_close(&c);
    buf_free(&sbnr);
}

/* ------------------------------------------------------------------ */

typedef void (*sample_fn)(const material *m, const char *path);

static const struct {
    const char *name;
    sample_fn fn;
} samples[] = {
    {"provisioning-ok.pcap", sample_provisioning_ok},
    {"totallen-excludes-self.pcap", sample_totallen_excludes_self},
};

static void usage(FILE *fp)
{
    fputs("usage: attrace-gen-samples -k KEYS_DIR -o OUT_DIR\n"
          "Writes the sample traces into OUT_DIR (files are replaced).\n",
          fp);
}

int main(int argc, char **argv)
{
    const char *keys = NULL, *out = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "k:o:h")) != -1) {
        switch (opt) {
        case 'k': keys = optarg; break;
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!keys || !out || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (!luhn_ok(IMEI))
        die("IMEI %s fails the Luhn check", IMEI);

    material m;
    material_load(&m, keys);
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char path[4096], tmp[4200];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", out, samples[i].name) >= sizeof path)
            die("path too long");
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        samples[i].fn(&m, tmp);
        if (rename(tmp, path) != 0)
            die("%s: %s", path, strerror(errno));
    }
    material_free(&m);
    return 0;
}
