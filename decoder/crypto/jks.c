/*
 * Java's JKS and JCEKS keystores, read without Java (the format: jks.h).
 *
 * A keystore is walked in place: entries are found again by walking from
 * the start, so nothing is allocated in proportion to the counts a file
 * states. Every length is checked against the bytes left before it is
 * used. The integrity digest is checked (at_jks_verify) before any entry
 * is decrypted or its certificate used; at_jks_open only establishes that
 * the structure lies within the file.
 */
#include "jks.h"
#include "errbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#define JKS_MAGIC 0xFEEDFEEDu
#define JCEKS_MAGIC 0xCECECECEu
#define HEADER_LEN 12u
#define DIGEST_LEN 20u /* SHA-1: the integrity digest, the key protector's */
#define WHITENER "Mighty Aphrodite"

/* The longest password (UTF-8 bytes) turned into UTF-16: a byte gives at
 * most one UTF-16 unit. */
#define PASSWORD_MAX 1024u

/* Sun's JKS key protector and SunJCE's PBEWithMD5AndTripleDES. */
#define OID_JKS_KEY_PROTECTOR "1.3.6.1.4.1.42.2.17.1.1"
#define OID_PBE_MD5_3DES "1.3.6.1.4.1.42.2.19.1"
#define PBE_SALT_LEN 8

const char *at_jks_type_name(at_jks_type t)
{
    return t == AT_JKS_JCEKS ? "JCEKS" : "JKS";
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

at_jks_type at_jks_detect(const uint8_t *data, size_t len)
{
    if (!data || len < 4)
        return AT_JKS_NONE;
    uint32_t m = be32(data);
    return m == JKS_MAGIC ? AT_JKS_JKS : m == JCEKS_MAGIC ? AT_JKS_JCEKS : AT_JKS_NONE;
}

/* ------------------------------------------------------------------ */
/* Walking the entries                                                */
/* ------------------------------------------------------------------ */

typedef struct cursor {
    const uint8_t *p;
    size_t left;
    bool short_read; /* a field ran past the end */
} cursor;

static bool take(cursor *c, size_t n, const uint8_t **out)
{
    if (c->short_read || n > c->left) {
        c->short_read = true;
        return false;
    }
    if (out)
        *out = c->p;
    c->p += n;
    c->left -= n;
    return true;
}

static bool take_u32(cursor *c, uint32_t *v)
{
    const uint8_t *p;
    if (!take(c, 4, &p))
        return false;
    *v = be32(p);
    return true;
}

/* Java's writeUTF: u16 length and the bytes. */
static bool take_utf(cursor *c, const uint8_t **s, size_t *n)
{
    const uint8_t *p;
    if (!take(c, 2, &p))
        return false;
    *n = (size_t)p[0] << 8 | p[1];
    return take(c, *n, s);
}

/* u32 length and the bytes (a key or a certificate). */
static bool take_blob(cursor *c, const uint8_t **s, size_t *n)
{
    uint32_t len;
    if (!take_u32(c, &len))
        return false;
    *n = len;
    return take(c, len, s);
}

/* A certificate: [type string in version 2] and its bytes. */
static bool take_cert(cursor *c, uint32_t version, const uint8_t **s, size_t *n)
{
    const uint8_t *type;
    size_t type_len;
    if (version == 2 && !take_utf(c, &type, &type_len))
        return false;
    return take_blob(c, s, n);
}

typedef enum step {
    STEP_OK,
    STEP_SHORT,       /* runs past the end of the file */
    STEP_BAD_TAG,     /* an entry type Java does not write */
    STEP_SECRET_STOP  /* a secret-key entry: its length is unknown */
} step;

/* Reads one entry at @p c into @p e. @p last: the entry is the last one,
 * so a secret key extends up to the integrity digest. */
static step read_entry(const at_jks *ks, cursor *c, bool last, at_jks_entry *e,
                       uint32_t *bad_tag)
{
    memset(e, 0, sizeof *e);
    uint32_t tag;
    const uint8_t *date;
    if (!take_u32(c, &tag) || !take_utf(c, &e->alias, &e->alias_len) ||
        !take(c, 8, &date))
        return STEP_SHORT;
    e->tag = (at_jks_tag)tag;
    switch (tag) {
    case AT_JKS_PRIVATE_KEY: {
        uint32_t chain;
        if (!take_blob(c, &e->protected_key, &e->protected_key_len) ||
            !take_u32(c, &chain))
            return STEP_SHORT;
        /* Each certificate takes at least 4 bytes: a hostile count ends
         * at the end of the file. */
        for (uint32_t i = 0; i < chain; i++) {
            const uint8_t *s;
            size_t n;
            if (!take_cert(c, ks->version, &s, &n))
                return STEP_SHORT;
            if (i == 0) {
                e->cert = s;
                e->cert_len = n;
            }
        }
        return STEP_OK;
    }
    case AT_JKS_TRUSTED_CERT:
        return take_cert(c, ks->version, &e->cert, &e->cert_len) ? STEP_OK : STEP_SHORT;
    case AT_JKS_SECRET_KEY:
        if (ks->type != AT_JKS_JCEKS)
            break;
        if (!last)
            return STEP_SECRET_STOP;
        if (c->left < DIGEST_LEN)
            return STEP_SHORT;
        take(c, c->left - DIGEST_LEN, NULL);
        return STEP_OK;
    default:
        break;
    }
    *bad_tag = tag;
    return STEP_BAD_TAG;
}

static void damaged(const at_jks *ks, const char *path, char *err, size_t cap,
                    const char *what, const char *fmt, ...) AT_PRINTF(6, 7);

static void damaged(const at_jks *ks, const char *path, char *err, size_t cap,
                    const char *what, const char *fmt, ...)
{
    char detail[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    at_err_set(err, cap, "%s: the %s keystore is %s (%s)", path,
               at_jks_type_name(ks->type), what, detail);
}

int at_jks_open(at_jks *ks, const uint8_t *data, size_t len, const char *path,
                char *err, size_t err_cap)
{
    memset(ks, 0, sizeof *ks);
    ks->type = at_jks_detect(data, len);
    ks->data = data;
    ks->len = len;
    if (ks->type == AT_JKS_NONE) {
        at_err_set(err, err_cap, "%s is not a JKS or JCEKS keystore", path);
        return -1;
    }
    if (len < HEADER_LEN) {
        damaged(ks, path, err, err_cap, "truncated", "%zu bytes, shorter than its header",
                len);
        return -1;
    }
    ks->version = be32(data + 4);
    ks->count = be32(data + 8);
    if (ks->version != 1 && ks->version != 2) {
        damaged(ks, path, err, err_cap, "damaged",
                "version %lu; Java writes 1 and 2", (unsigned long)ks->version);
        return -1;
    }

    cursor c = {data + HEADER_LEN, len - HEADER_LEN, false};
    ks->readable = ks->count;
    for (uint32_t i = 0; i < ks->count; i++) {
        size_t at = (size_t)(c.p - data);
        at_jks_entry e;
        uint32_t bad_tag = 0;
        switch (read_entry(ks, &c, i + 1 == ks->count, &e, &bad_tag)) {
        case STEP_OK:
            continue;
        case STEP_SHORT:
            damaged(ks, path, err, err_cap, "truncated",
                    "entry %lu of %lu, at offset %zu, runs past the end of the file",
                    (unsigned long)i + 1, (unsigned long)ks->count, at);
            return -1;
        case STEP_BAD_TAG:
            damaged(ks, path, err, err_cap, "damaged",
                    "entry %lu of %lu, at offset %zu, has the unknown type %lu",
                    (unsigned long)i + 1, (unsigned long)ks->count, at,
                    (unsigned long)bad_tag);
            return -1;
        case STEP_SECRET_STOP:
            /* The digest is still the last 20 bytes: it is checked over
             * everything before them, like Java does. */
            ks->readable = i;
            if (c.left < DIGEST_LEN) {
                damaged(ks, path, err, err_cap, "truncated", "%s",
                        "its integrity digest is missing");
                return -1;
            }
            return 0;
        }
    }
    if (c.left < DIGEST_LEN) {
        damaged(ks, path, err, err_cap, "truncated",
                "its integrity digest has %zu of its %u bytes", c.left, DIGEST_LEN);
        return -1;
    }
    if (c.left > DIGEST_LEN) {
        damaged(ks, path, err, err_cap, "damaged",
                "%zu bytes follow its integrity digest", c.left - DIGEST_LEN);
        return -1;
    }
    return 0;
}

void at_jks_iter_init(const at_jks *ks, at_jks_iter *it)
{
    it->off = HEADER_LEN;
    it->index = 0;
    (void)ks;
}

bool at_jks_next(const at_jks *ks, at_jks_iter *it, at_jks_entry *e)
{
    if (!ks || it->index >= ks->readable || it->off > ks->len)
        return false;
    cursor c = {ks->data + it->off, ks->len - it->off, false};
    uint32_t bad_tag;
    if (read_entry(ks, &c, it->index + 1 == ks->count, e, &bad_tag) != STEP_OK)
        return false; /* at_jks_open saw it whole: not reached */
    it->off = (size_t)(c.p - ks->data);
    it->index++;
    return true;
}

/* ------------------------------------------------------------------ */
/* Passwords and the integrity digest                                 */
/* ------------------------------------------------------------------ */

/*
 * Java's char[] password as UTF-16BE bytes (what the integrity digest and
 * the JKS key protector hash). Returns the length, or -1 when @p pw is not
 * UTF-8 or too long.
 */
static long utf16be(const char *pw, uint8_t *out, size_t cap)
{
    const uint8_t *s = (const uint8_t *)pw;
    size_t n = 0;
    while (*s) {
        uint32_t cp;
        size_t more;
        if (s[0] < 0x80) {
            cp = s[0];
            more = 0;
        } else if ((s[0] & 0xE0) == 0xC0) {
            cp = s[0] & 0x1F;
            more = 1;
        } else if ((s[0] & 0xF0) == 0xE0) {
            cp = s[0] & 0x0F;
            more = 2;
        } else if ((s[0] & 0xF8) == 0xF0) {
            cp = s[0] & 0x07;
            more = 3;
        } else {
            return -1;
        }
        for (size_t k = 1; k <= more; k++) {
            if ((s[k] & 0xC0) != 0x80)
                return -1; /* also stops at the terminating NUL */
            cp = cp << 6 | (s[k] & 0x3F);
        }
        static const uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[more] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return -1;
        s += more + 1;
        uint16_t units[2];
        size_t nu = 1;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            units[0] = (uint16_t)(0xD800 | cp >> 10);
            units[1] = (uint16_t)(0xDC00 | (cp & 0x3FF));
            nu = 2;
        } else {
            units[0] = (uint16_t)cp;
        }
        for (size_t k = 0; k < nu; k++) {
            if (n + 2 > cap)
                return -1;
            out[n++] = (uint8_t)(units[k] >> 8);
            out[n++] = (uint8_t)units[k];
        }
    }
    return (long)n;
}

/* SHA-1 of a || b || c (any may be empty). */
static bool sha1_of(const uint8_t *a, size_t an, const uint8_t *b, size_t bn,
                    const uint8_t *c, size_t cn, uint8_t md[DIGEST_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int mdlen = 0;
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
              EVP_DigestUpdate(ctx, a, an) && EVP_DigestUpdate(ctx, b, bn) &&
              EVP_DigestUpdate(ctx, c, cn) && EVP_DigestFinal_ex(ctx, md, &mdlen) &&
              mdlen == DIGEST_LEN;
    EVP_MD_CTX_free(ctx);
    return ok;
}

int at_jks_verify(const at_jks *ks, const char *password, char *err, size_t err_cap)
{
    uint8_t pw16[2 * PASSWORD_MAX];
    long n = utf16be(password ? password : "", pw16, sizeof pw16);
    if (n < 0) {
        at_err_set(err, err_cap, "the store password is not UTF-8 text (or is too long)");
        return -1;
    }
    const uint8_t *body = ks->data;
    size_t body_len = ks->len - DIGEST_LEN; /* at_jks_open: len >= 12 + 20 */
    uint8_t md[DIGEST_LEN];
    bool ok = sha1_of(pw16, (size_t)n, (const uint8_t *)WHITENER, strlen(WHITENER),
                      body, body_len, md);
    OPENSSL_cleanse(pw16, sizeof pw16);
    if (!ok) {
        at_err_set(err, err_cap, "SHA-1 is not available in this OpenSSL");
        return -1;
    }
    return CRYPTO_memcmp(md, body + body_len, DIGEST_LEN) == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* Aliases                                                            */
/* ------------------------------------------------------------------ */

void at_jks_alias_quoted(const at_jks_entry *e, char *out, size_t cap)
{
    at_err_quote(e->alias, e->alias_len, out, cap);
}

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

bool at_alias_equal(const void *name, size_t len, const char *alias)
{
    const uint8_t *n = name;
    size_t i = 0;
    for (; i < len && alias[i]; i++)
        if (ascii_lower(n[i]) != ascii_lower((unsigned char)alias[i]))
            return false;
    return i == len && alias[i] == '\0';
}

/* Appends the aliases of the entries with tag @p tag; returns how many. */
static size_t list_aliases(const at_jks *ks, at_jks_tag tag, char *err, size_t cap)
{
    size_t listed = 0;
    at_jks_entry e;
    at_jks_iter it;
    at_jks_iter_init(ks, &it);
    while (at_jks_next(ks, &it, &e)) {
        if (e.tag != tag)
            continue;
        char q[200];
        at_jks_alias_quoted(&e, q, sizeof q);
        at_err_add(err, cap, "%s%s", listed++ ? ", " : "", q);
    }
    return listed;
}

int at_jks_find_key(const at_jks *ks, const char *alias, at_jks_entry *out,
                    const char *path, char *err, size_t err_cap)
{
    at_jks_entry e;
    at_jks_iter it;
    size_t keys = 0;
    at_jks_iter_init(ks, &it);
    while (at_jks_next(ks, &it, &e)) {
        if (e.tag == AT_JKS_PRIVATE_KEY)
            keys++;
        if (!alias && e.tag == AT_JKS_PRIVATE_KEY) {
            *out = e;
            return 0;
        }
        if (alias && at_alias_equal(e.alias, e.alias_len, alias)) {
            if (e.tag == AT_JKS_PRIVATE_KEY) {
                *out = e;
                return 0;
            }
            char q[200];
            at_jks_alias_quoted(&e, q, sizeof q);
            at_err_set(err, err_cap, "the entry %s of %s is a %s, not a private key",
                       q, path, e.tag == AT_JKS_TRUSTED_CERT ? "trusted certificate"
                                                             : "secret key");
            return -1;
        }
    }

    const char *unread = ks->readable < ks->count
                             ? "; the entries after a secret-key entry cannot be read"
                             : "";
    if (keys == 0) {
        at_err_set(err, err_cap, "%s holds no private key", path);
        char certs[512] = "";
        if (list_aliases(ks, AT_JKS_TRUSTED_CERT, certs, sizeof certs) > 0)
            at_err_add(err, err_cap, " (only certificates: %s)", certs);
        at_err_add(err, err_cap, "%s", unread);
        return -1;
    }
    char want[200];
    at_err_quote((const uint8_t *)alias, strlen(alias), want, sizeof want);
    at_err_set(err, err_cap, "%s has no key entry with the alias %s; key entries: ",
               path, want);
    list_aliases(ks, AT_JKS_PRIVATE_KEY, err, err_cap);
    char more[512] = "";
    if (list_aliases(ks, AT_JKS_TRUSTED_CERT, more, sizeof more) > 0)
        at_err_add(err, err_cap, "; certificate entries (no key): %s", more);
    at_err_add(err, err_cap, "%s", unread);
    return -1;
}

/* ------------------------------------------------------------------ */
/* Key protection                                                     */
/* ------------------------------------------------------------------ */

/* A recovered key must be a PKCS#8 structure spanning all its bytes: with
 * a wrong password, CBC padding alone passes one time in 256. */
static PKCS8_PRIV_KEY_INFO *whole_pkcs8(const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    if (p8 && p != der + len) {
        PKCS8_PRIV_KEY_INFO_free(p8);
        p8 = NULL;
    }
    return p8;
}

/*
 * Sun's JKS key protector: salt (20) || key XOR keystream || check (20),
 * where the keystream is D1 || D2 ..., D1 = SHA-1(pw || salt),
 * Dn+1 = SHA-1(pw || Dn), and check = SHA-1(pw || key); pw is UTF-16BE.
 */
static int recover_jks(const uint8_t *data, size_t len, const char *password,
                       PKCS8_PRIV_KEY_INFO **p8, char *err, size_t err_cap)
{
    if (len < 2 * DIGEST_LEN + 1) {
        at_err_set(err, err_cap, "its protected key is %zu bytes, too short", len);
        return -1;
    }
    uint8_t pw16[2 * PASSWORD_MAX];
    long pn = utf16be(password, pw16, sizeof pw16);
    if (pn < 0)
        return 1; /* no Java password: not this one */
    const uint8_t *salt = data, *enc = data + DIGEST_LEN;
    size_t n = len - 2 * DIGEST_LEN;
    const uint8_t *check = enc + n;
    uint8_t *plain = OPENSSL_malloc(n);
    int rc = -1;
    if (!plain) {
        at_err_set(err, err_cap, "out of memory");
        goto out;
    }
    uint8_t block[DIGEST_LEN], md[DIGEST_LEN];
    memcpy(block, salt, DIGEST_LEN);
    for (size_t off = 0; off < n; off += DIGEST_LEN) {
        if (!sha1_of(pw16, (size_t)pn, block, DIGEST_LEN, NULL, 0, block)) {
            at_err_set(err, err_cap, "SHA-1 is not available in this OpenSSL");
            goto out;
        }
        for (size_t k = 0; k < DIGEST_LEN && off + k < n; k++)
            plain[off + k] = enc[off + k] ^ block[k];
    }
    if (!sha1_of(pw16, (size_t)pn, plain, n, NULL, 0, md)) {
        at_err_set(err, err_cap, "SHA-1 is not available in this OpenSSL");
        goto out;
    }
    if (CRYPTO_memcmp(md, check, DIGEST_LEN) != 0) {
        rc = 1;
        goto out;
    }
    *p8 = whole_pkcs8(plain, n);
    if (!*p8) {
        at_err_set(err, err_cap, "its key is not a PKCS#8 structure");
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pw16, sizeof pw16);
    OPENSSL_clear_free(plain, n);
    return rc;
}

/*
 * SunJCE's PBEWithMD5AndTripleDES: the two 4-byte halves of the 8-byte
 * salt (the first half reversed when both are equal) are each hashed
 * `iterations` times as MD5(previous || password), the password's
 * characters taken as bytes; the two digests give the DES-EDE3 key (24
 * bytes) and the CBC IV (8 bytes).
 */
static int derive_pbe_md5_3des(const uint8_t salt_in[PBE_SALT_LEN], long iterations,
                               const char *password, uint8_t out[32])
{
    uint8_t salt[PBE_SALT_LEN];
    memcpy(salt, salt_in, sizeof salt);
    if (memcmp(salt, salt + 4, 4) == 0) {
        for (int i = 0; i < 2; i++) {
            uint8_t t = salt[i];
            salt[i] = salt[3 - i];
            salt[3 - i] = t;
        }
    }
    size_t pwlen = strlen(password);
    /* Fetched once: an EVP_md5() would be looked up again at each of the
     * (typically 2 x 200000) initialisations. */
    EVP_MD *md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = md5 && ctx;
    for (int half = 0; ok && half < 2; half++) {
        uint8_t h[16];
        size_t hlen = 4;
        memcpy(h, salt + 4 * half, 4);
        for (long i = 0; ok && i < iterations; i++) {
            unsigned int mdlen = 0;
            ok = EVP_DigestInit_ex(ctx, md5, NULL) &&
                 EVP_DigestUpdate(ctx, h, hlen) &&
                 EVP_DigestUpdate(ctx, password, pwlen) &&
                 EVP_DigestFinal_ex(ctx, h, &mdlen) && mdlen == 16;
            hlen = 16;
        }
        memcpy(out + 16 * half, h, 16);
        OPENSSL_cleanse(h, sizeof h);
    }
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md5);
    return ok ? 0 : -1;
}

static int recover_pbe_md5_3des(const X509_ALGOR *alg, const uint8_t *data, size_t len,
                                const char *password, long max_iterations,
                                PKCS8_PRIV_KEY_INFO **p8, char *err, size_t err_cap)
{
    /* SunJCE's PBE keys take printable ASCII only. */
    for (const char *c = password; *c; c++)
        if (*c < 0x20 || *c > 0x7E)
            return 1;

    const ASN1_OBJECT *obj;
    int ptype;
    const void *pval;
    X509_ALGOR_get0(&obj, &ptype, &pval, alg);
    PBEPARAM *pbe = ptype == V_ASN1_SEQUENCE
                        ? ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBEPARAM))
                        : NULL;
    long iterations = pbe ? ASN1_INTEGER_get(pbe->iter) : -1;
    if (!pbe || ASN1_STRING_length(pbe->salt) != PBE_SALT_LEN || iterations < 1 ||
        iterations > max_iterations || len == 0 || len % 8 != 0 ||
        len > (size_t)INT32_MAX) {
        PBEPARAM_free(pbe);
        at_err_set(err, err_cap, "its PBEWithMD5AndTripleDES parameters are not valid");
        return -1;
    }
    uint8_t kiv[32];
    int rc = derive_pbe_md5_3des(ASN1_STRING_get0_data(pbe->salt), iterations,
                                 password, kiv);
    PBEPARAM_free(pbe);
    if (rc != 0) {
        at_err_set(err, err_cap, "MD5 is not available in this OpenSSL");
        return -1;
    }

    EVP_CIPHER *des3 = EVP_CIPHER_fetch(NULL, "DES-EDE3-CBC", NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    uint8_t *plain = OPENSSL_malloc(len + 8);
    int n1 = 0, n2 = 0;
    rc = -1;
    if (!des3 || !ctx || !plain) {
        at_err_set(err, err_cap, "DES-EDE3-CBC is not available in this OpenSSL");
        goto out;
    }
    if (!EVP_DecryptInit_ex2(ctx, des3, kiv, kiv + 24, NULL) ||
        !EVP_DecryptUpdate(ctx, plain, &n1, data, (int)len) ||
        !EVP_DecryptFinal_ex(ctx, plain + n1, &n2)) {
        rc = 1; /* bad padding: a wrong password */
        goto out;
    }
    *p8 = whole_pkcs8(plain, (size_t)n1 + (size_t)n2);
    rc = *p8 ? 0 : 1;
out:
    OPENSSL_cleanse(kiv, sizeof kiv);
    OPENSSL_clear_free(plain, plain ? len + 8 : 0);
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(des3);
    return rc;
}

int at_jks_recover_key(const at_jks_entry *e, const char *password, long max_iterations,
                       PKCS8_PRIV_KEY_INFO **p8, char *err, size_t err_cap)
{
    *p8 = NULL;
    if (e->tag != AT_JKS_PRIVATE_KEY) {
        at_err_set(err, err_cap, "not a private key entry");
        return -1;
    }
    const unsigned char *p = e->protected_key;
    X509_SIG *epki = e->protected_key_len <= (size_t)INT32_MAX
                         ? d2i_X509_SIG(NULL, &p, (long)e->protected_key_len)
                         : NULL;
    if (!epki || p != e->protected_key + e->protected_key_len) {
        X509_SIG_free(epki);
        at_err_set(err, err_cap, "its protected key is not an EncryptedPrivateKeyInfo");
        return -1;
    }
    const X509_ALGOR *alg;
    const ASN1_OCTET_STRING *enc;
    X509_SIG_get0(epki, &alg, &enc);
    const ASN1_OBJECT *obj;
    X509_ALGOR_get0(&obj, NULL, NULL, alg);
    char oid[80] = "";
    OBJ_obj2txt(oid, sizeof oid, obj, 1);

    const uint8_t *data = ASN1_STRING_get0_data(enc);
    size_t len = (size_t)ASN1_STRING_length(enc);
    const char *pw = password ? password : "";
    int rc;
    if (strcmp(oid, OID_JKS_KEY_PROTECTOR) == 0) {
        rc = recover_jks(data, len, pw, p8, err, err_cap);
    } else if (strcmp(oid, OID_PBE_MD5_3DES) == 0) {
        rc = recover_pbe_md5_3des(alg, data, len, pw, max_iterations, p8, err, err_cap);
    } else {
        at_err_set(err, err_cap, "its key is protected by the algorithm %s, which "
                   "attrace does not know", oid[0] ? oid : "(unreadable)");
        rc = -1;
    }
    X509_SIG_free(epki);
    return rc;
}
