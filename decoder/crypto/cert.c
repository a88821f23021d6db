/*
 * Certificates as the module describes them (attrace/cert.h, PROTOCOL.md
 * section 6): the summary fields of a ^SBNR line and the line itself.
 *
 * Field rules, and where they come from:
 *  - size and thumbprint are taken over the certificate bytes exactly as
 *    given (never a re-encoding), because that is what the module stores;
 *  - DNs are one line, "/TYPE=value" per attribute in the certificate's
 *    order, values unescaped and in UTF-8. Members of a multi-valued RDN
 *    are joined with '+' instead of '/' (no example of the module's form
 *    is known; '+' keeps the RDN structure visible);
 *  - the serial is the INTEGER's content bytes as encoded, read from the
 *    DER itself, so a leading 00 (high bit set) and negative serials come
 *    out exactly as the module shows them;
 *  - the signature algorithm uses Microsoft's names (what the module
 *    prints); algorithms without such a name fall back to OpenSSL's long
 *    name, unknown OIDs to their dotted form.
 */
#include "errbuf.h"
#include "attrace/crypto.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Largest certificate file read: a PEM bundle is a few hundred KiB at most. */
#define CERT_FILE_MAX (16u * 1024u * 1024u)

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    at_err_vset(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* The reason of OpenSSL's most recent error (or a generic text); empties
 * the thread's error queue so it does not leak into later calls. */
static const char *ossl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : "malformed data";
}

/* ------------------------------------------------------------------ */
/* A growable text buffer                                              */
/* ------------------------------------------------------------------ */

typedef struct tbuf {
    char *p;
    size_t len, cap;
    bool oom;
} tbuf;

static void tb_put(tbuf *b, const void *s, size_t n)
{
    if (b->oom)
        return;
    if (n + 1 > b->cap - b->len) {
        size_t want = b->cap ? b->cap : 256;
        while (want - b->len < n + 1) {
            if (want > SIZE_MAX / 2) {
                b->oom = true;
                return;
            }
            want *= 2;
        }
        char *np = realloc(b->p, want);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = want;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void tb_puts(tbuf *b, const char *s) { tb_put(b, s, strlen(s)); }

static void tb_hex(tbuf *b, const uint8_t *d, size_t n)
{
    static const char hx[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        char two[2] = {hx[d[i] >> 4], hx[d[i] & 15]};
        tb_put(b, two, 2);
    }
}

/*
 * Copies @p n bytes of @p src into @p dst (capacity @p cap, NUL-terminated).
 * If they do not fit, the copy is cut so that no UTF-8 character is split
 * and false is returned.
 */
static bool copy_cut(char *dst, size_t cap, const char *src, size_t n)
{
    if (n < cap) {
        memcpy(dst, src, n);
        dst[n] = '\0';
        return true;
    }
    size_t cut = cap - 1;
    while (cut > 0 && ((unsigned char)src[cut] & 0xC0) == 0x80)
        cut--;
    memcpy(dst, src, cut);
    dst[cut] = '\0';
    return false;
}

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

/* Dotted form of @p obj appended to @p b. */
static void tb_oid(tbuf *b, const ASN1_OBJECT *obj)
{
    char small[80];
    int n = OBJ_obj2txt(small, (int)sizeof small, obj, 1);
    if (n < 0) {
        tb_puts(b, "?");
        return;
    }
    if ((size_t)n < sizeof small) {
        tb_put(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    OBJ_obj2txt(big, n + 1, obj, 1);
    tb_puts(b, big);
    free(big);
}

/*
 * One attribute value. String types convert to UTF-8 (BMPString and
 * UniversalString decoded, T61String read as Latin-1 like OpenSSL does).
 * A value that does not convert (invalid UTF-8, a non-string type) is
 * printed as its raw content bytes, as a module that prints stored bytes
 * would. A value holding a NUL byte cannot be part of a C string: it is
 * written as '#' and the hex of its content bytes instead.
 */
static void tb_value(tbuf *b, const ASN1_STRING *v)
{
    unsigned char *u = NULL;
    int n = ASN1_STRING_to_UTF8(&u, v);
    if (n >= 0 && memchr(u, 0, (size_t)n) == NULL) {
        tb_put(b, u, (size_t)n);
        OPENSSL_free(u);
        return;
    }
    OPENSSL_free(u);
    ERR_clear_error();
    const uint8_t *d = ASN1_STRING_get0_data(v);
    size_t len = (size_t)ASN1_STRING_length(v);
    if (len > 0 && memchr(d, 0, len) != NULL) {
        tb_puts(b, "#");
        tb_hex(b, d, len);
    } else {
        tb_put(b, d, len);
    }
}

/* "/C=DE/O=Example, Inc./CN=a+UID=b" */
static void tb_dn(tbuf *b, const X509_NAME *name)
{
    int count = X509_NAME_entry_count(name);
    int prev_set = -1;
    for (int i = 0; i < count; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        int set = X509_NAME_ENTRY_set(e);
        tb_puts(b, i > 0 && set == prev_set ? "+" : "/");
        prev_set = set;
        const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(e);
        int nid = OBJ_obj2nid(obj);
        const char *sn = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
        if (sn)
            tb_puts(b, sn);
        else
            tb_oid(b, obj);
        tb_puts(b, "=");
        tb_value(b, X509_NAME_ENTRY_get_data(e));
    }
}

/* ------------------------------------------------------------------ */
/* Serial number: the INTEGER's content bytes, from the DER            */
/* ------------------------------------------------------------------ */

/* Reads a one-byte tag and a definite length at d[*pos]; the content must
 * fit in [*pos, end). On success *pos is the content's first byte. */
static bool der_header(const uint8_t *d, size_t end, size_t *pos, uint8_t *tag,
                       size_t *len)
{
    size_t i = *pos;
    if (i >= end || (d[i] & 0x1F) == 0x1F) /* high tag numbers: not here */
        return false;
    *tag = d[i++];
    if (i >= end)
        return false;
    size_t l = d[i++];
    if (l & 0x80) {
        size_t nb = l & 0x7F;
        if (nb == 0 || nb > sizeof(size_t)) /* indefinite (BER) or huge */
            return false;
        l = 0;
        while (nb-- > 0) {
            if (i >= end)
                return false;
            l = (l << 8) | d[i++];
        }
    }
    if (l > end - i)
        return false;
    *pos = i;
    *len = l;
    return true;
}

/* Certificate ::= SEQUENCE { tbs SEQUENCE { [0] version OPTIONAL,
 * serialNumber INTEGER, ... } ... }. Points *content at the serial's
 * content bytes; false when the bytes are not plain DER up to there. */
static bool der_serial(const uint8_t *d, size_t len, const uint8_t **content,
                       size_t *clen)
{
    size_t pos = 0, l;
    uint8_t tag;
    if (!der_header(d, len, &pos, &tag, &l) || tag != 0x30)
        return false;
    size_t end = pos + l;
    if (!der_header(d, end, &pos, &tag, &l) || tag != 0x30)
        return false;
    end = pos + l;
    if (!der_header(d, end, &pos, &tag, &l))
        return false;
    if (tag == 0xA0) { /* explicit version */
        pos += l;
        if (!der_header(d, end, &pos, &tag, &l))
            return false;
    }
    if (tag != 0x02 || l == 0)
        return false;
    *content = d + pos;
    *clen = l;
    return true;
}

/* Serial as hex into @p b: from the DER, or - for a BER encoding OpenSSL
 * accepted - from the DER re-encoding of the parsed INTEGER. */
static void tb_serial(tbuf *b, const uint8_t *der, size_t len, const X509 *x)
{
    const uint8_t *c;
    size_t cl;
    if (der_serial(der, len, &c, &cl)) {
        tb_hex(b, c, cl);
        return;
    }
    unsigned char *enc = NULL;
    int n = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &enc);
    size_t pos = 0, l;
    uint8_t tag;
    if (n > 0 && der_header(enc, (size_t)n, &pos, &tag, &l))
        tb_hex(b, enc + pos, l);
    OPENSSL_free(enc);
}

/* ------------------------------------------------------------------ */
/* Algorithms                                                          */
/* ------------------------------------------------------------------ */

/* Microsoft's names, which the module prints (PROTOCOL.md section 6). */
static const struct {
    int nid;
    const char *name;
} sig_names[] = {
    {NID_md2WithRSAEncryption, "md2RSA"},
    {NID_md4WithRSAEncryption, "md4RSA"},
    {NID_md5WithRSAEncryption, "md5RSA"},
    {NID_md5WithRSA, "md5RSA"}, /* OIW 1.3.14.3.2.3 */
    {NID_sha1WithRSAEncryption, "sha1RSA"},
    {NID_sha1WithRSA, "sha1RSA"}, /* OIW 1.3.14.3.2.29 */
    {NID_sha224WithRSAEncryption, "sha224RSA"},
    {NID_sha256WithRSAEncryption, "sha256RSA"},
    {NID_sha384WithRSAEncryption, "sha384RSA"},
    {NID_sha512WithRSAEncryption, "sha512RSA"},
    {NID_rsassaPss, "RSASSA-PSS"},
    {NID_ecdsa_with_SHA1, "sha1ECDSA"},
    {NID_ecdsa_with_SHA224, "sha224ECDSA"},
    {NID_ecdsa_with_SHA256, "sha256ECDSA"},
    {NID_ecdsa_with_SHA384, "sha384ECDSA"},
    {NID_ecdsa_with_SHA512, "sha512ECDSA"},
    {NID_dsaWithSHA1, "sha1DSA"},
    {NID_dsa_with_SHA256, "sha256DSA"},
};

static void tb_sig_alg(tbuf *b, const X509 *x)
{
    const X509_ALGOR *alg = NULL;
    X509_get0_signature(NULL, &alg, x);
    const ASN1_OBJECT *obj = NULL;
    X509_ALGOR_get0(&obj, NULL, NULL, alg);
    int nid = OBJ_obj2nid(obj);
    for (size_t i = 0; i < sizeof sig_names / sizeof sig_names[0]; i++) {
        if (sig_names[i].nid == nid) {
            tb_puts(b, sig_names[i].name);
            return;
        }
    }
    const char *ln = nid != NID_undef ? OBJ_nid2ln(nid) : NULL;
    if (ln)
        tb_puts(b, ln);
    else
        tb_oid(b, obj);
}

static void key_summary(const X509 *x, at_cert_summary *out)
{
    EVP_PKEY *pk = X509_get0_pubkey(x);
    const char *type = NULL;
    if (pk) {
        switch (EVP_PKEY_get_base_id(pk)) {
        case EVP_PKEY_RSA: type = "RSA"; break;
        case EVP_PKEY_RSA_PSS: type = "RSA-PSS"; break;
        case EVP_PKEY_EC: type = "EC"; break;
        case EVP_PKEY_DSA: type = "DSA"; break;
        case EVP_PKEY_ED25519: type = "Ed25519"; break;
        case EVP_PKEY_ED448: type = "Ed448"; break;
        default: type = EVP_PKEY_get0_type_name(pk); break;
        }
        out->key_bits = EVP_PKEY_get_bits(pk);
    } else {
        /* A key OpenSSL cannot load: name its algorithm at least. */
        ERR_clear_error();
        ASN1_OBJECT *obj = NULL;
        X509_PUBKEY_get0_param(&obj, NULL, NULL, NULL, X509_get_X509_PUBKEY(x));
        int nid = obj ? OBJ_obj2nid(obj) : NID_undef;
        type = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
        out->key_bits = 0;
    }
    if (!type)
        type = "unknown";
    if (!copy_cut(out->key_type, sizeof out->key_type, type, strlen(type)))
        out->truncated = true;
}

/* ------------------------------------------------------------------ */
/* Summary                                                             */
/* ------------------------------------------------------------------ */

/* Copies a finished text field; false when out of memory. */
static bool take(tbuf *b, char *dst, size_t cap, at_cert_summary *out)
{
    if (b->oom)
        return false;
    if (!copy_cut(dst, cap, b->p ? b->p : "", b->len))
        out->truncated = true;
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
    return true;
}

static bool date_of(const ASN1_TIME *t, int *y, int *m, int *d)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return false;
    *y = tm.tm_year + 1900;
    *m = tm.tm_mon + 1;
    *d = tm.tm_mday;
    return true;
}

int at_cert_summarize(const uint8_t *der, size_t len, at_cert_summary *out,
                      char *err, size_t err_cap)
{
    return at_cert_parse(der, len, out, NULL, err, err_cap);
}

int at_cert_parse(const uint8_t *der, size_t len, at_cert_summary *out,
                  X509 **cert_out, char *err, size_t err_cap)
{
    if (cert_out)
        *cert_out = NULL;
    if (!out)
        return fail(err, err_cap, "no summary to fill");
    memset(out, 0, sizeof *out);
    if (!der || len == 0)
        return fail(err, err_cap, "no certificate data");
    if (len > LONG_MAX)
        return fail(err, err_cap, "certificate data too long (%zu bytes)", len);

    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x)
        return fail(err, err_cap, "not an X.509 certificate in DER (%s)", ossl_reason());
    size_t used = (size_t)(p - der);
    if (used != len) {
        X509_free(x);
        return fail(err, err_cap,
                    "%zu bytes after the certificate (it ends at byte %zu of %zu)",
                    len - used, used, len);
    }

    int rc = -1;
    tbuf b = {0};
    out->size = len;

    tb_dn(&b, X509_get_issuer_name(x));
    if (!take(&b, out->issuer, sizeof out->issuer, out))
        goto oom;
    tb_dn(&b, X509_get_subject_name(x));
    if (!take(&b, out->subject, sizeof out->subject, out))
        goto oom;
    tb_serial(&b, der, len, x);
    if (b.len == 0) {
        fail(err, err_cap, "the serial number cannot be read");
        goto done;
    }
    if (!take(&b, out->serial, sizeof out->serial, out))
        goto oom;
    tb_sig_alg(&b, x);
    if (!take(&b, out->sig_alg, sizeof out->sig_alg, out))
        goto oom;

    memcpy(out->thumb_alg, "sha1", 5);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(der, len, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20) {
        fail(err, err_cap, "SHA-1 is not available (%s)", ossl_reason());
        goto done;
    }
    tb_hex(&b, md, mdlen);
    if (!take(&b, out->thumbprint, sizeof out->thumbprint, out))
        goto oom;

    if (!date_of(X509_get0_notAfter(x), &out->expiry_year, &out->expiry_month,
                 &out->expiry_day)) {
        fail(err, err_cap, "notAfter is not a valid time");
        goto done;
    }
    if (!date_of(X509_get0_notBefore(x), &out->valid_from_year, &out->valid_from_month,
                 &out->valid_from_day)) {
        fail(err, err_cap, "notBefore is not a valid time");
        goto done;
    }
    key_summary(x, out);
    rc = 0;
    goto done;

oom:
    fail(err, err_cap, "out of memory");
done:
    free(b.p);
    if (rc == 0 && cert_out)
        *cert_out = x;
    else
        X509_free(x);
    ERR_clear_error();
    if (rc != 0) {
        /* Never hand out half a summary. */
        memset(out, 0, sizeof *out);
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */
/* ------------------------------------------------------------------ */

static int read_file(const char *path, uint8_t **buf, size_t *len, char *err,
                     size_t err_cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, err_cap, "%s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    uint8_t *p = malloc(cap);
    if (!p) {
        fclose(f);
        return fail(err, err_cap, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            if (feof(f))
                break;
            if (cap >= CERT_FILE_MAX) {
                free(p);
                fclose(f);
                return fail(err, err_cap, "%s: larger than %u bytes, not a certificate",
                            path, CERT_FILE_MAX);
            }
            uint8_t *np = realloc(p, cap * 2);
            if (!np) {
                free(p);
                fclose(f);
                return fail(err, err_cap, "%s: out of memory", path);
            }
            p = np;
            cap *= 2;
        }
        size_t got = fread(p + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(f) != 0;
    int saved = errno;
    fclose(f);
    if (bad) {
        free(p);
        return fail(err, err_cap, "%s: read error: %s", path, strerror(saved));
    }
    *buf = p;
    *len = n;
    return 0;
}

/* Length of the certificate at the start of d[0, len), or 0 if none. */
static size_t cert_length(const uint8_t *d, size_t len)
{
    if (len > LONG_MAX)
        return 0;
    const unsigned char *p = d;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x) {
        ERR_clear_error();
        return 0;
    }
    X509_free(x);
    return (size_t)(p - d);
}

int at_cert_load_der(const char *path, uint8_t **der, size_t *len, char *err,
                     size_t err_cap)
{
    if (!path || !der || !len)
        return fail(err, err_cap, "invalid argument");
    *der = NULL;
    *len = 0;
    uint8_t *buf = NULL;
    size_t n = 0;
    if (read_file(path, &buf, &n, err, err_cap) != 0)
        return -1;
    if (n == 0) {
        free(buf);
        return fail(err, err_cap, "%s: empty file", path);
    }

    /* DER starts with a SEQUENCE tag; PEM text never does. */
    if (buf[0] == 0x30) {
        size_t used = cert_length(buf, n);
        if (used == 0) {
            free(buf);
            return fail(err, err_cap, "%s: not a DER certificate", path);
        }
        if (used != n) {
            free(buf);
            return fail(err, err_cap, "%s: %zu bytes after the DER certificate", path,
                        n - used);
        }
        *der = buf;
        *len = n;
        return 0;
    }

    if (n > INT_MAX) {
        free(buf);
        return fail(err, err_cap, "%s: too large", path);
    }
    BIO *bio = BIO_new_mem_buf(buf, (int)n);
    unsigned char *data = NULL;
    char *name = NULL;
    long dlen = 0;
    /* Asking for TRUSTED CERTIFICATE also takes CERTIFICATE and
     * X509 CERTIFICATE blocks; other blocks before them are skipped. */
    int ok = bio && PEM_bytes_read_bio(&data, &dlen, &name, PEM_STRING_X509_TRUSTED, bio,
                                       NULL, NULL) == 1;
    BIO_free(bio);
    free(buf);
    if (!ok) {
        ERR_clear_error();
        return fail(err, err_cap, "%s: not a certificate (neither DER nor a PEM CERTIFICATE block)", path);
    }
    /* A TRUSTED CERTIFICATE carries trust settings after the certificate. */
    bool trusted = name && strcmp(name, PEM_STRING_X509_TRUSTED) == 0;
    OPENSSL_free(name);
    size_t used = dlen > 0 ? cert_length(data, (size_t)dlen) : 0;
    if (used == 0 || (!trusted && used != (size_t)dlen)) {
        OPENSSL_free(data);
        return fail(err, err_cap, "%s: the PEM block does not hold a certificate", path);
    }
    *der = malloc(used);
    if (!*der) {
        OPENSSL_free(data);
        return fail(err, err_cap, "%s: out of memory", path);
    }
    memcpy(*der, data, used);
    *len = used;
    OPENSSL_free(data);
    return 0;
}

X509 *at_cert_load(const char *path, char *err, size_t err_cap)
{
    uint8_t *der = NULL;
    size_t len = 0;
    if (at_cert_load_der(path, &der, &len, err, err_cap) != 0)
        return NULL;
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    free(der);
    if (!x)
        fail(err, err_cap, "%s: %s", path, ossl_reason());
    return x;
}

/* ------------------------------------------------------------------ */
/* The ^SBNR line                                                      */
/* ------------------------------------------------------------------ */

size_t at_sbnr_format(unsigned index, const at_cert_summary *s,
                      const at_profile *profile, char *out, size_t cap)
{
    if (!out || cap == 0)
        return 0;
    int n;
    if (!s) {
        /* The newer family's empty-slot line is not documented: the legacy
         * form is printed for every profile. */
        n = snprintf(out, cap,
                     "^SBNR: %u, size: \"0\", issuer: \"\", serial number: \"\", "
                     "subject: \"\", signature: \"\", thumbprint algorithm: \"\", "
                     "thumbprint: \"\"",
                     index);
    } else {
        n = snprintf(out, cap,
                     "^SBNR: %u, size: \"%zu\", issuer: \"%s\", serial number: \"%s\", "
                     "subject: \"%s\", signature: \"%s\", thumbprint algorithm: \"%s\", "
                     "thumbprint: \"%s\"",
                     index, s->size, s->issuer, s->serial, s->subject, s->sig_alg,
                     s->thumb_alg, s->thumbprint);
        if (n >= 0 && (size_t)n < cap && profile && profile->sbnr_expiry) {
            /* The only documented example is "2035,10,29", where padding
             * cannot be seen: month and day are printed with two digits
             * ("2035,01,05"), which is uncertain. The parser takes both. */
            int m = snprintf(out + n, cap - (size_t)n, ", expiry date: \"%d,%02d,%02d\"",
                             s->expiry_year, s->expiry_month, s->expiry_day);
            n = m < 0 ? m : n + m;
        }
    }
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return 0;
    }
    return (size_t)n;
}
