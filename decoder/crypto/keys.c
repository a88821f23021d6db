/*
 * Private keys in the formats users have: PEM or DER, PKCS#8 (plain or
 * encrypted), PKCS#1 (plain or with legacy PEM encryption), SEC1, PKCS#12
 * including keytool's keystores, and Java's own JKS and JCEKS keystores
 * (jks.c); in keystores the entry is chosen by alias and its key may have
 * a password of its own (--keypass).
 *
 * The format is told by the content, never by the file name. A password
 * is asked for only when the file turns out to be encrypted.
 */
#include "errbuf.h"
#include "jks.h"
#include "attrace/crypto.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#define KEY_FILE_MAX (16u * 1024u * 1024u)
#define PASSWORD_MAX 1024u
#define P12_MAX_DEPTH 4

/* keytool marks trusted-certificate entries with this attribute. */
#define ORACLE_TRUSTED_KEY_USAGE "2.16.840.1.113894.746875.1.1"

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */
/* ------------------------------------------------------------------ */

static const char *type_name(const EVP_PKEY *k)
{
    switch (EVP_PKEY_get_base_id(k)) {
    case EVP_PKEY_RSA: return "RSA";
    case EVP_PKEY_RSA_PSS: return "RSA-PSS";
    case EVP_PKEY_EC: return "EC";
    case EVP_PKEY_DSA: return "DSA";
    case EVP_PKEY_ED25519: return "ED25519";
    case EVP_PKEY_ED448: return "ED448";
    default: break;
    }
    const char *n = EVP_PKEY_get0_type_name(k);
    return n ? n : "unknown";
}

static void fill_info(at_key_info *info, const EVP_PKEY *k, const char *container,
                      const char *encoding, bool encrypted)
{
    if (!info)
        return;
    memset(info, 0, sizeof *info);
    snprintf(info->type, sizeof info->type, "%s", type_name(k));
    info->bits = EVP_PKEY_get_bits(k);
    snprintf(info->container, sizeof info->container, "%s", container);
    snprintf(info->encoding, sizeof info->encoding, "%s", encoding);
    info->encrypted = encrypted;
}

/* ------------------------------------------------------------------ */
/* DER key structures                                                 */
/* ------------------------------------------------------------------ */

/* A key in its algorithm's own structure (PKCS#1 for RSA, SEC1 for EC). */
static EVP_PKEY *decode_type_specific(const uint8_t *der, size_t len,
                                      const char *keytype)
{
    EVP_PKEY *pk = NULL;
    OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(
        &pk, "DER", "type-specific", keytype, EVP_PKEY_KEYPAIR, NULL, NULL);
    if (!dctx)
        return NULL;
    const unsigned char *p = der;
    size_t left = len;
    if (OSSL_DECODER_CTX_get_num_decoders(dctx) == 0 ||
        !OSSL_DECODER_from_data(dctx, &p, &left)) {
        EVP_PKEY_free(pk);
        pk = NULL;
    }
    OSSL_DECODER_CTX_free(dctx);
    return pk;
}

/* An unencrypted PKCS#8 PrivateKeyInfo. *is_p8 says whether the structure
 * was PKCS#8 at all (even if its key could not be used). */
static EVP_PKEY *decode_pkcs8(const uint8_t *der, size_t len, bool *is_p8)
{
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    *is_p8 = p8 != NULL;
    if (!p8)
        return NULL;
    EVP_PKEY *k = EVP_PKCS82PKEY(p8);
    PKCS8_PRIV_KEY_INFO_free(p8);
    return k;
}

/* An unencrypted key: PKCS#8, PKCS#1 or SEC1. @p container gets its name. */
/* Reads a DER tag-length header at p[0..n); returns the header size and
 * the content length, or 0 if it is not a complete definite-length one. */
static size_t der_header(const uint8_t *p, size_t n, uint8_t *tag, size_t *content)
{
    if (n < 2)
        return 0;
    *tag = p[0];
    if (p[1] < 0x80) {
        *content = p[1];
        return 2;
    }
    size_t k = p[1] & 0x7f;
    if (k == 0 || k > sizeof(size_t) || n < 2 + k)
        return 0;
    size_t v = 0;
    for (size_t i = 0; i < k; i++)
        v = v << 8 | p[2 + i];
    *content = v;
    return 2 + k;
}

/*
 * Every unencrypted key container a frame can carry (PKCS#8, PKCS#1, SEC1)
 * is one SEQUENCE spanning the whole value that starts with a small INTEGER
 * version. Checking that first keeps OpenSSL's decoder set-up, which is
 * costly, away from the random or damaged bytes a trace can hold.
 */
static bool looks_like_der_key(const uint8_t *der, size_t len)
{
    uint8_t tag;
    size_t content;
    size_t h = der_header(der, len, &tag, &content);
    if (!h || tag != 0x30 || content != len - h)
        return false;
    size_t h2 = der_header(der + h, len - h, &tag, &content);
    return h2 && tag == 0x02 && content == 1 && len - h >= h2 + 1 && der[h + h2] <= 1;
}

static EVP_PKEY *decode_plain_der(const uint8_t *der, size_t len,
                                  const char **container)
{
    if (!looks_like_der_key(der, len))
        return NULL;
    bool is_p8 = false;
    EVP_PKEY *k = decode_pkcs8(der, len, &is_p8);
    if (is_p8) {
        *container = "PKCS#8";
        return k;
    }
    if ((k = decode_type_specific(der, len, "RSA")) != NULL) {
        *container = "PKCS#1";
        return k;
    }
    if ((k = decode_type_specific(der, len, "EC")) != NULL) {
        *container = "SEC1";
        return k;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The loader                                                         */
/* ------------------------------------------------------------------ */

typedef struct loader {
    const char *path;
    const char *passin;
    const char *keypass; /* NULL: a keystore's keys have the store password */
    char *err;
    size_t err_cap;
    char pw[PASSWORD_MAX];
    bool have_pw;
    char key_pw[PASSWORD_MAX];
    bool have_key_pw;
    bool java_keystore; /* a JKS/JCEKS: its password is the store's */

    /* Old keystores use algorithms that OpenSSL 3 keeps in its legacy
     * provider (RC2-40 certificate safes of Java 8's keytool and OpenSSL
     * 1.x). When a decryption fails, it is tried again in a library
     * context of its own with that provider: nothing global changes. */
    bool legacy_tried;
    OSSL_LIB_CTX *legacy;
    OSSL_PROVIDER *legacy_default, *legacy_legacy;
} loader;

/* The library context with the legacy provider, or NULL if there is none. */
static OSSL_LIB_CTX *legacy_lib(loader *L)
{
    if (L->legacy_tried)
        return L->legacy_legacy ? L->legacy : NULL;
    L->legacy_tried = true;
    OSSL_LIB_CTX *lib = OSSL_LIB_CTX_new();
    if (!lib)
        return NULL;
    L->legacy = lib;
    L->legacy_default = OSSL_PROVIDER_load(lib, "default");
    L->legacy_legacy = OSSL_PROVIDER_load(lib, "legacy");
    if (!L->legacy_default || !L->legacy_legacy)
        return NULL; /* freed with the loader */
    return lib;
}

static void loader_free(loader *L)
{
    OPENSSL_cleanse(L->pw, sizeof L->pw);
    OPENSSL_cleanse(L->key_pw, sizeof L->key_pw);
    OSSL_PROVIDER_unload(L->legacy_legacy);
    OSSL_PROVIDER_unload(L->legacy_default);
    OSSL_LIB_CTX_free(L->legacy);
    L->legacy = NULL;
    L->legacy_legacy = L->legacy_default = NULL;
}

/* Gets the password once, from the --passin source or the terminal. */
static int need_password(loader *L)
{
    if (L->have_pw)
        return 0;
    char prompt[600], perr[300];
    snprintf(prompt, sizeof prompt, "Enter the password for %s: ", L->path);
    if (at_passin_read(L->passin, prompt, L->pw, sizeof L->pw, perr,
                       sizeof perr) != 0) {
        at_err_set(L->err, L->err_cap, L->java_keystore
                ? "%s is a Java keystore and needs its store password: %s"
                : "%s is encrypted and needs a password: %s", L->path, perr);
        return -1;
    }
    L->have_pw = true;
    return 0;
}

/*
 * The password of a keystore's key entry @p quoted_alias: from --keypass
 * when given (asked for once), else the store password in L->pw. NULL
 * with a message when it cannot be had.
 */
static const char *key_password(loader *L, const char *quoted_alias)
{
    if (!L->keypass)
        return L->pw;
    if (L->have_key_pw)
        return L->key_pw;
    char prompt[800], perr[300];
    snprintf(prompt, sizeof prompt, "Enter the key password of the entry %s in %s: ",
             quoted_alias, L->path);
    if (at_passin_read(L->keypass, prompt, L->key_pw, sizeof L->key_pw, perr,
                       sizeof perr) != 0) {
        at_err_set(L->err, L->err_cap, "the key password of the entry %s in %s: %s",
                   quoted_alias, L->path, perr);
        return NULL;
    }
    L->have_key_pw = true;
    return L->key_pw;
}

/* A key entry that the key password did not open. */
static void wrong_key_password(loader *L, const char *quoted_alias)
{
    if (L->keypass)
        at_err_set(L->err, L->err_cap, "wrong key password for the entry %s in %s",
                   quoted_alias, L->path);
    else
        at_err_set(L->err, L->err_cap,
                   "the key of the entry %s in %s has a password other than the "
                   "store password: give it with --keypass", quoted_alias, L->path);
}

static void wrong_password(loader *L)
{
    at_err_set(L->err, L->err_cap,
            "wrong password for %s (or the file is damaged)", L->path);
}

static int give_pem_password(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    loader *L = u;
    if (need_password(L) != 0)
        return -1;
    size_t n = strlen(L->pw);
    if (size <= 0 || n > (size_t)size)
        return -1;
    memcpy(buf, L->pw, n);
    return (int)n;
}

/* An EncryptedPrivateKeyInfo (DER). */
static EVP_PKEY *decrypt_pkcs8(loader *L, const X509_SIG *p8e)
{
    if (need_password(L) != 0)
        return NULL;
    PKCS8_PRIV_KEY_INFO *p8 = PKCS8_decrypt(p8e, L->pw, (int)strlen(L->pw));
    OSSL_LIB_CTX *lib;
    if (!p8 && (lib = legacy_lib(L)) != NULL)
        p8 = PKCS8_decrypt_ex(p8e, L->pw, (int)strlen(L->pw), lib, NULL);
    if (!p8) {
        wrong_password(L);
        return NULL;
    }
    EVP_PKEY *k = EVP_PKCS82PKEY(p8);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (!k)
        at_err_set(L->err, L->err_cap,
                "%s: the decrypted key uses an algorithm attrace cannot read",
                L->path);
    return k;
}

/* ------------------------------------------------------------------ */
/* PKCS#12                                                            */
/* ------------------------------------------------------------------ */

typedef struct p12_bag {
    PKCS12_SAFEBAG *bag; /* borrowed from one of the walk's stacks */
    char *name;          /* friendlyName (UTF-8) or NULL */
    const ASN1_OCTET_STRING *key_id;
} p12_bag;

typedef struct p12_walk {
    STACK_OF(PKCS12_SAFEBAG) **stacks;
    size_t n_stacks;
    p12_bag *keys, *certs;
    size_t n_keys, n_certs;
    bool keytool; /* a sign of a keystore written by Java's keytool */
    bool decrypt_failed;
} p12_walk;

static void p12_walk_free(p12_walk *w)
{
    for (size_t i = 0; i < w->n_keys; i++)
        OPENSSL_free(w->keys[i].name);
    for (size_t i = 0; i < w->n_certs; i++)
        OPENSSL_free(w->certs[i].name);
    for (size_t i = 0; i < w->n_stacks; i++)
        sk_PKCS12_SAFEBAG_pop_free(w->stacks[i], PKCS12_SAFEBAG_free);
    free(w->stacks);
    free(w->keys);
    free(w->certs);
    memset(w, 0, sizeof *w);
}

static bool push_bag(p12_bag **arr, size_t *n, PKCS12_SAFEBAG *bag)
{
    p12_bag *grown = realloc(*arr, (*n + 1) * sizeof **arr);
    if (!grown)
        return false;
    *arr = grown;
    p12_bag *b = &grown[(*n)++];
    b->bag = bag;
    b->name = PKCS12_get_friendlyname(bag);
    b->key_id = NULL;
    const ASN1_TYPE *id = PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID);
    if (id && id->type == V_ASN1_OCTET_STRING)
        b->key_id = id->value.octet_string;
    return true;
}

static void note_keytool_marks(p12_walk *w, const p12_bag *b)
{
    if (b->key_id && b->key_id->length >= 5 &&
        memcmp(b->key_id->data, "Time ", 5) == 0)
        w->keytool = true;
    const STACK_OF(X509_ATTRIBUTE) *attrs = PKCS12_SAFEBAG_get0_attrs(b->bag);
    for (int i = 0; i < sk_X509_ATTRIBUTE_num(attrs); i++) {
        char oid[64];
        const ASN1_OBJECT *o = X509_ATTRIBUTE_get0_object(
            sk_X509_ATTRIBUTE_value(attrs, i));
        if (o && OBJ_obj2txt(oid, sizeof oid, o, 1) > 0 &&
            strcmp(oid, ORACLE_TRUSTED_KEY_USAGE) == 0)
            w->keytool = true;
    }
}

static bool collect_bags(p12_walk *w, const STACK_OF(PKCS12_SAFEBAG) *bags,
                         int depth)
{
    for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
        PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
        switch (PKCS12_SAFEBAG_get_nid(bag)) {
        case NID_keyBag:
        case NID_pkcs8ShroudedKeyBag:
            if (!push_bag(&w->keys, &w->n_keys, bag))
                return false;
            note_keytool_marks(w, &w->keys[w->n_keys - 1]);
            break;
        case NID_certBag:
            if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
                break;
            if (!push_bag(&w->certs, &w->n_certs, bag))
                return false;
            note_keytool_marks(w, &w->certs[w->n_certs - 1]);
            break;
        case NID_safeContentsBag:
            if (depth < P12_MAX_DEPTH &&
                !collect_bags(w, PKCS12_SAFEBAG_get0_safes(bag), depth + 1))
                return false;
            break;
        default:
            break;
        }
    }
    return true;
}

static bool keep_stack(p12_walk *w, STACK_OF(PKCS12_SAFEBAG) *bags)
{
    STACK_OF(PKCS12_SAFEBAG) **grown =
        realloc(w->stacks, (w->n_stacks + 1) * sizeof *grown);
    if (!grown) {
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
        return false;
    }
    w->stacks = grown;
    w->stacks[w->n_stacks++] = bags;
    return true;
}

/* PKCS12_unpack_p7encdata in library context @p lib. */
static STACK_OF(PKCS12_SAFEBAG) *decrypt_safe_in(OSSL_LIB_CTX *lib, PKCS7 *p7,
                                                 const char *pass, int passlen)
{
    const PKCS7_ENCRYPT *enc = p7->d.encrypted;
    if (!enc || !enc->enc_data || !enc->enc_data->enc_data)
        return NULL;
    return PKCS12_item_decrypt_d2i_ex(enc->enc_data->algorithm,
                                      ASN1_ITEM_rptr(PKCS12_SAFEBAGS), pass,
                                      passlen, enc->enc_data->enc_data, 1, lib,
                                      NULL);
}

/* Opens every safe of @p p12 with @p pass and lists its key and
 * certificate bags. Returns false on a structural error (message set);
 * w->decrypt_failed tells that an encrypted safe could not be opened. */
static bool p12_walk_all(loader *L, PKCS12 *p12, const char *pass, p12_walk *w)
{
    int passlen = pass ? (int)strlen(pass) : 0;
    STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
    if (!safes) {
        at_err_set(L->err, L->err_cap, "%s: the PKCS#12 contents cannot be read",
                L->path);
        return false;
    }
    bool ok = true;
    for (int i = 0; ok && i < sk_PKCS7_num(safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
        if (PKCS7_type_is_data(p7)) {
            bags = PKCS12_unpack_p7data(p7);
        } else if (PKCS7_type_is_encrypted(p7)) {
            bags = PKCS12_unpack_p7encdata(p7, pass, passlen);
            OSSL_LIB_CTX *lib;
            if (!bags && (lib = legacy_lib(L)) != NULL)
                bags = decrypt_safe_in(lib, p7, pass, passlen);
            if (!bags) {
                w->decrypt_failed = true;
                break;
            }
        } else {
            continue; /* public-key protected safes: not used by keystores */
        }
        if (!bags) {
            at_err_set(L->err, L->err_cap, "%s: a PKCS#12 safe cannot be read",
                    L->path);
            ok = false;
        } else if (!keep_stack(w, bags) || !collect_bags(w, bags, 0)) {
            at_err_set(L->err, L->err_cap, "out of memory reading %s", L->path);
            ok = false;
        }
    }
    sk_PKCS7_pop_free(safes, PKCS7_free);
    return ok;
}

static bool same_key_id(const p12_bag *a, const p12_bag *b)
{
    return a->key_id && b->key_id && ASN1_STRING_cmp(a->key_id, b->key_id) == 0;
}

/* The certificate of key entry @p k: same localKeyID, else same alias,
 * else the one whose public key is the key's. */
static X509 *p12_cert_for(const p12_walk *w, const p12_bag *k, EVP_PKEY *key)
{
    for (size_t i = 0; i < w->n_certs; i++)
        if (same_key_id(k, &w->certs[i]))
            return PKCS12_SAFEBAG_get1_cert(w->certs[i].bag);
    for (size_t i = 0; k->name && i < w->n_certs; i++)
        if (w->certs[i].name &&
            at_alias_equal(k->name, strlen(k->name), w->certs[i].name))
            return PKCS12_SAFEBAG_get1_cert(w->certs[i].bag);
    for (size_t i = 0; i < w->n_certs; i++) {
        X509 *x = PKCS12_SAFEBAG_get1_cert(w->certs[i].bag);
        if (x && X509_check_private_key(x, key) == 1)
            return x;
        X509_free(x);
    }
    return NULL;
}

/* "a", "b" for the error that lists what a keystore holds. */
static void list_names(char *err, size_t cap, const p12_bag *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char q[200];
        if (b[i].name) {
            at_err_quote(b[i].name, strlen(b[i].name), q, sizeof q);
            at_err_add(err, cap, "%s%s", i ? ", " : "", q);
        } else
            at_err_add(err, cap, "%s(no alias)", i ? ", " : "");
    }
}

/* Certificate bags that belong to no key entry: keytool's trusted
 * certificate entries, a PKCS#12's CA certificates. */
static size_t list_cert_only(char *err, size_t cap, const p12_walk *w)
{
    size_t listed = 0;
    for (size_t i = 0; i < w->n_certs; i++) {
        bool owned = false;
        for (size_t k = 0; k < w->n_keys && !owned; k++)
            owned = same_key_id(&w->keys[k], &w->certs[i]) ||
                    (w->keys[k].name && w->certs[i].name &&
                     at_alias_equal(w->keys[k].name, strlen(w->keys[k].name),
                                    w->certs[i].name));
        if (owned || !w->certs[i].name)
            continue;
        char q[200];
        at_err_quote(w->certs[i].name, strlen(w->certs[i].name), q, sizeof q);
        at_err_add(err, cap, "%s%s", listed ? ", " : "", q);
        listed++;
    }
    return listed;
}

static const p12_bag *p12_choose(loader *L, const p12_walk *w, const char *alias)
{
    if (w->n_keys == 0) {
        at_err_set(L->err, L->err_cap, "%s holds no private key", L->path);
        if (w->n_certs) {
            at_err_add(L->err, L->err_cap, " (only certificates: ");
            if (list_cert_only(L->err, L->err_cap, w) == 0)
                at_err_add(L->err, L->err_cap, "without aliases");
            at_err_add(L->err, L->err_cap, ")");
        }
        return NULL;
    }
    if (!alias)
        return &w->keys[0];
    for (size_t i = 0; i < w->n_keys; i++)
        if (w->keys[i].name &&
            at_alias_equal(w->keys[i].name, strlen(w->keys[i].name), alias))
            return &w->keys[i];

    char want[200];
    at_err_quote(alias, strlen(alias), want, sizeof want);
    at_err_set(L->err, L->err_cap, "%s has no key entry with the alias %s; key entries: ",
            L->path, want);
    list_names(L->err, L->err_cap, w->keys, w->n_keys);
    char more[256] = "";
    if (list_cert_only(more, sizeof more, w) > 0)
        at_err_add(L->err, L->err_cap, "; certificate entries (no key): %s", more);
    return NULL;
}

/* The key of entry @p b; *locked: it could not be decrypted with @p pass. */
static EVP_PKEY *p12_key_of(loader *L, const p12_bag *b, const char *pass,
                            bool *locked)
{
    EVP_PKEY *k = NULL;
    *locked = false;
    if (PKCS12_SAFEBAG_get_nid(b->bag) == NID_keyBag) {
        k = EVP_PKCS82PKEY(PKCS12_SAFEBAG_get0_p8inf(b->bag));
    } else {
        int passlen = pass ? (int)strlen(pass) : 0;
        PKCS8_PRIV_KEY_INFO *p8 = PKCS12_decrypt_skey(b->bag, pass, passlen);
        OSSL_LIB_CTX *lib;
        if (!p8 && (lib = legacy_lib(L)) != NULL)
            p8 = PKCS12_decrypt_skey_ex(b->bag, pass, passlen, lib, NULL);
        if (!p8) {
            *locked = true;
            return NULL;
        }
        k = EVP_PKCS82PKEY(p8);
        PKCS8_PRIV_KEY_INFO_free(p8);
    }
    if (!k)
        at_err_set(L->err, L->err_cap,
                "%s: the key entry uses an algorithm attrace cannot read", L->path);
    return k;
}

/*
 * Decides the password of @p p12: none or empty when its MAC verifies so,
 * else the user's (checked against the MAC). Without a MAC the empty
 * password is tried first by the caller. *pass points at the result.
 */
static bool p12_password(loader *L, PKCS12 *p12, const char **pass, bool *asked)
{
    *asked = false;
    if (!PKCS12_mac_present(p12)) {
        *pass = "";
        return true;
    }
    if (PKCS12_verify_mac(p12, "", 0)) {
        *pass = "";
        return true;
    }
    if (PKCS12_verify_mac(p12, NULL, 0)) {
        *pass = NULL;
        return true;
    }
    if (need_password(L) != 0)
        return false;
    *asked = true;
    if (!PKCS12_verify_mac(p12, L->pw, (int)strlen(L->pw))) {
        wrong_password(L);
        return false;
    }
    *pass = L->pw;
    return true;
}

static EVP_PKEY *load_p12(loader *L, PKCS12 *p12, const char *alias,
                          at_key_info *info, X509 **cert_out)
{
    const char *pass = NULL;
    bool asked = false;
    if (!p12_password(L, p12, &pass, &asked))
        return NULL;

    p12_walk w;
    memset(&w, 0, sizeof w);
    if (!p12_walk_all(L, p12, pass, &w)) {
        p12_walk_free(&w);
        return NULL;
    }
    if (w.decrypt_failed && !asked && !PKCS12_mac_present(p12)) {
        /* No MAC to test a password against: the safe itself tells. */
        p12_walk_free(&w);
        if (need_password(L) != 0)
            return NULL;
        asked = true;
        pass = L->pw;
        memset(&w, 0, sizeof w);
        if (!p12_walk_all(L, p12, pass, &w)) {
            p12_walk_free(&w);
            return NULL;
        }
    }
    bool mac = PKCS12_mac_present(p12);
    if (w.decrypt_failed) {
        /* A password the MAC accepted is right: the algorithm is missing. */
        if (asked && !mac)
            wrong_password(L);
        else
            at_err_set(L->err, L->err_cap,
                    "%s: an encrypted PKCS#12 safe cannot be opened: its "
                    "algorithm is not available in this OpenSSL", L->path);
        p12_walk_free(&w);
        return NULL;
    }

    EVP_PKEY *key = NULL;
    bool locked = false;
    const p12_bag *chosen = p12_choose(L, &w, alias);
    char quoted[200] = "(no alias)";
    if (chosen && chosen->name)
        at_err_quote(chosen->name, strlen(chosen->name), quoted, sizeof quoted);
    if (chosen && L->keypass) {
        /* A key password of its own (keytool's PKCS12 has none, other
         * tools may). */
        const char *kp = key_password(L, quoted);
        if (kp) {
            key = p12_key_of(L, chosen, kp, &locked);
            if (locked)
                wrong_key_password(L, quoted);
        }
    } else if (chosen) {
        key = p12_key_of(L, chosen, pass, &locked);
        if (locked && !asked && !mac) {
            if (need_password(L) != 0) {
                p12_walk_free(&w);
                return NULL;
            }
            asked = true;
            pass = L->pw;
            key = p12_key_of(L, chosen, pass, &locked);
        }
        if (locked && asked && !mac)
            wrong_password(L);
        else if (locked)
            wrong_key_password(L, quoted);
    }
    if (key) {
        fill_info(info, key, w.keytool ? "keytool PKCS12" : "PKCS#12", "DER",
                  asked);
        if (cert_out)
            *cert_out = p12_cert_for(&w, chosen, key);
    }
    p12_walk_free(&w);
    return key;
}

/* ------------------------------------------------------------------ */
/* Java's JKS and JCEKS keystores (the format: jks.c)                 */
/* ------------------------------------------------------------------ */

/*
 * The store password is needed first: the integrity digest is checked
 * before anything in the store is used. Then the entry is chosen and its
 * key recovered with the key password (--keypass, else the store's).
 */
static EVP_PKEY *load_java_keystore(loader *L, const uint8_t *data, size_t len,
                                    const char *alias, at_key_info *info,
                                    X509 **cert_out)
{
    at_jks ks;
    if (at_jks_open(&ks, data, len, L->path, L->err, L->err_cap) != 0)
        return NULL;
    const char *type = at_jks_type_name(ks.type);
    L->java_keystore = true;
    if (need_password(L) != 0)
        return NULL;
    char why[200] = "";
    int v = at_jks_verify(&ks, L->pw, why, sizeof why);
    if (v < 0) {
        at_err_set(L->err, L->err_cap, "%s: %s", L->path, why);
        return NULL;
    }
    if (v > 0) {
        at_err_set(L->err, L->err_cap,
                   "wrong store password for %s, or the %s keystore is damaged "
                   "(its integrity digest does not match)", L->path, type);
        return NULL;
    }

    at_jks_entry e;
    if (at_jks_find_key(&ks, alias, &e, L->path, L->err, L->err_cap) != 0)
        return NULL;
    char quoted[200];
    at_jks_alias_quoted(&e, quoted, sizeof quoted);
    const char *kp = key_password(L, quoted);
    if (!kp)
        return NULL;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    int r = at_jks_recover_key(&e, kp, AT_JKS_MAX_ITERATIONS, &p8, why, sizeof why);
    if (r > 0) {
        wrong_key_password(L, quoted);
        return NULL;
    }
    if (r < 0) {
        at_err_set(L->err, L->err_cap, "%s: the key entry %s cannot be read: %s",
                   L->path, quoted, why);
        return NULL;
    }
    EVP_PKEY *k = EVP_PKCS82PKEY(p8);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (!k) {
        at_err_set(L->err, L->err_cap,
                   "%s: the key entry %s uses an algorithm attrace cannot read",
                   L->path, quoted);
        return NULL;
    }
    fill_info(info, k, type, "", true);
    if (cert_out && e.cert) {
        const unsigned char *p = e.cert;
        X509 *x = e.cert_len <= (size_t)LONG_MAX ? d2i_X509(NULL, &p, (long)e.cert_len)
                                                 : NULL;
        if (x && p == e.cert + e.cert_len && X509_check_private_key(x, k) == 1)
            *cert_out = x;
        else
            X509_free(x);
    }
    return k;
}

/* ------------------------------------------------------------------ */
/* DER and PEM files                                                  */
/* ------------------------------------------------------------------ */

static EVP_PKEY *load_der(loader *L, const uint8_t *der, size_t len,
                          const char *alias, at_key_info *info, X509 **cert_out)
{
    const unsigned char *p = der;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
    if (p12) {
        EVP_PKEY *k = load_p12(L, p12, alias, info, cert_out);
        PKCS12_free(p12);
        return k;
    }

    p = der;
    X509_SIG *p8e = d2i_X509_SIG(NULL, &p, (long)len);
    if (p8e) {
        EVP_PKEY *k = decrypt_pkcs8(L, p8e);
        X509_SIG_free(p8e);
        if (k)
            fill_info(info, k, "PKCS#8", "DER", true);
        return k;
    }

    const char *container = NULL;
    EVP_PKEY *k = decode_plain_der(der, len, &container);
    if (k) {
        fill_info(info, k, container, "DER", false);
        return k;
    }
    if (container) {
        at_err_set(L->err, L->err_cap,
                "%s: PKCS#8 key of an algorithm attrace cannot read", L->path);
        return NULL;
    }
    at_err_set(L->err, L->err_cap,
            "%s is DER but not a private key (PKCS#8, PKCS#1, SEC1) or PKCS#12 "
            "keystore", L->path);
    return NULL;
}

typedef enum pem_kind {
    PEM_OTHER,
    PEM_PKCS8,
    PEM_PKCS8_ENC,
    PEM_RSA,
    PEM_EC
} pem_kind;

static pem_kind pem_kind_of(const char *name)
{
    if (strcmp(name, PEM_STRING_PKCS8INF) == 0)   /* PRIVATE KEY */
        return PEM_PKCS8;
    if (strcmp(name, PEM_STRING_PKCS8) == 0)      /* ENCRYPTED PRIVATE KEY */
        return PEM_PKCS8_ENC;
    if (strcmp(name, PEM_STRING_RSA) == 0)        /* RSA PRIVATE KEY */
        return PEM_RSA;
    if (strcmp(name, PEM_STRING_ECPRIVATEKEY) == 0) /* EC PRIVATE KEY */
        return PEM_EC;
    return PEM_OTHER;
}

static EVP_PKEY *pem_block_key(loader *L, pem_kind kind, char *header,
                               unsigned char *der, long dlen, at_key_info *info)
{
    EVP_PKEY *k = NULL;
    const char *container = NULL;
    bool encrypted = false;

    if (kind == PEM_PKCS8) {
        bool is_p8;
        k = decode_pkcs8(der, (size_t)dlen, &is_p8);
        container = "PKCS#8";
    } else if (kind == PEM_PKCS8_ENC) {
        const unsigned char *p = der;
        X509_SIG *p8e = d2i_X509_SIG(NULL, &p, dlen);
        if (p8e) {
            k = decrypt_pkcs8(L, p8e);
            X509_SIG_free(p8e);
            if (!k)
                return NULL; /* message set */
        }
        container = "PKCS#8";
        encrypted = true;
    } else {
        /* PKCS#1 or SEC1, maybe with legacy "Proc-Type: 4,ENCRYPTED". */
        EVP_CIPHER_INFO ci;
        if (!PEM_get_EVP_CIPHER_INFO(header, &ci)) {
            at_err_set(L->err, L->err_cap,
                    "%s: the PEM encryption header names a cipher attrace cannot use",
                    L->path);
            return NULL;
        }
        if (ci.cipher) {
            encrypted = true;
            EVP_CIPHER *fetched =
                EVP_CIPHER_fetch(NULL, EVP_CIPHER_get0_name(ci.cipher), NULL);
            if (!fetched) {
                at_err_set(L->err, L->err_cap,
                        "%s is encrypted with %s, which this OpenSSL does not "
                        "provide; convert it to PKCS#8 with AES",
                        L->path, EVP_CIPHER_get0_name(ci.cipher));
                return NULL;
            }
            EVP_CIPHER_free(fetched);
            if (need_password(L) != 0)
                return NULL;
            if (!PEM_do_header(&ci, der, &dlen, give_pem_password, L)) {
                wrong_password(L);
                return NULL;
            }
        }
        bool rsa = kind == PEM_RSA;
        k = decode_type_specific(der, (size_t)dlen, rsa ? "RSA" : "EC");
        container = rsa ? "PKCS#1" : "SEC1";
        if (!k && encrypted) {
            wrong_password(L); /* decrypted to garbage that passed the padding */
            return NULL;
        }
    }
    if (!k) {
        at_err_set(L->err, L->err_cap, "%s: the PEM key block cannot be read", L->path);
        return NULL;
    }
    fill_info(info, k, container, "PEM", encrypted);
    return k;
}

static EVP_PKEY *load_pem(loader *L, const uint8_t *data, size_t len,
                          at_key_info *info)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    if (!bio) {
        at_err_set(L->err, L->err_cap, "out of memory reading %s", L->path);
        return NULL;
    }
    char seen[160] = "";
    EVP_PKEY *k = NULL;
    bool found = false;
    for (;;) {
        char *name = NULL, *header = NULL;
        unsigned char *der = NULL;
        long dlen = 0;
        if (!PEM_read_bio(bio, &name, &header, &der, &dlen))
            break;
        pem_kind kind = pem_kind_of(name);
        if (kind == PEM_OTHER) {
            size_t used = strlen(seen);
            snprintf(seen + used, sizeof seen - used, "%s%s", used ? ", " : "", name);
        } else {
            found = true;
            k = pem_block_key(L, kind, header, der, dlen, info);
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_clear_free(der, dlen > 0 ? (size_t)dlen : 0);
        if (found)
            break;
    }
    BIO_free(bio);
    if (!found) {
        if (seen[0])
            at_err_set(L->err, L->err_cap, "%s holds no private key (PEM blocks: %s)",
                    L->path, seen);
        else
            at_err_set(L->err, L->err_cap, "%s: no PEM block can be read", L->path);
    }
    return k;
}

static bool looks_like_pem(const uint8_t *data, size_t len)
{
    static const char begin[] = "-----BEGIN ";
    size_t n = sizeof begin - 1;
    for (size_t i = 0; i + n <= len; i++)
        if (data[i] == '-' && memcmp(data + i, begin, n) == 0)
            return true;
    return false;
}

/* Reads the file (at most KEY_FILE_MAX bytes). */
static uint8_t *read_key_file(const char *path, size_t *len, size_t *buf_cap,
                              char *err, size_t err_cap)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        at_err_set(err, err_cap, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    setvbuf(fp, NULL, _IONBF, 0); /* no stdio copy of the key to wipe */
    size_t cap = 4096, n = 0;
    uint8_t *buf = OPENSSL_malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap >= KEY_FILE_MAX) {
                at_err_set(err, err_cap, "%s is too large for a key file", path);
                OPENSSL_clear_free(buf, cap);
                buf = NULL;
                break;
            }
            uint8_t *grown = OPENSSL_clear_realloc(buf, cap, cap * 2);
            if (!grown) {
                OPENSSL_clear_free(buf, cap);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) {
            if (ferror(fp)) {
                at_err_set(err, err_cap, "cannot read %s: %s", path, strerror(errno));
                OPENSSL_clear_free(buf, cap);
                buf = NULL;
            }
            break;
        }
    }
    if (!buf && err && err_cap && !err[0])
        at_err_set(err, err_cap, "out of memory reading %s", path);
    fclose(fp);
    *len = n;
    *buf_cap = cap;
    return buf;
}

EVP_PKEY *at_key_load(const at_key_source *src, at_key_info *info, X509 **cert_out,
                      char *err, size_t err_cap)
{
    if (err && err_cap)
        err[0] = '\0';
    if (info)
        memset(info, 0, sizeof *info);
    if (cert_out)
        *cert_out = NULL;
    if (!src || !src->path) {
        at_err_set(err, err_cap, "no key file given");
        return NULL;
    }
    const char *path = src->path, *alias = src->alias;

    size_t len = 0, cap = 0;
    uint8_t *data = read_key_file(path, &len, &cap, err, err_cap);
    if (!data)
        return NULL;

    loader L;
    memset(&L, 0, sizeof L);
    L.path = path;
    L.passin = src->passin;
    L.keypass = src->keypass;
    L.err = err;
    L.err_cap = err_cap;

    EVP_PKEY *k = NULL;
    ERR_set_mark();
    if (len == 0) {
        at_err_set(err, err_cap, "%s is empty", path);
    } else if (at_jks_detect(data, len) != AT_JKS_NONE) {
        k = load_java_keystore(&L, data, len, alias, info, cert_out);
    } else if (data[0] == 0x30) {
        k = load_der(&L, data, len, alias, info, cert_out);
    } else if (looks_like_pem(data, len)) {
        k = load_pem(&L, data, len, info);
    } else {
        at_err_set(err, err_cap,
                "%s is not a key file attrace knows (PEM, DER, PKCS#12, JKS, "
                "JCEKS)", path);
    }
    loader_free(&L);
    ERR_pop_to_mark();
    OPENSSL_clear_free(data, cap); /* an alias only matters for keystores */
    return k;
}

/* ------------------------------------------------------------------ */
/* The frame's key unit                                               */
/* ------------------------------------------------------------------ */

EVP_PKEY *at_key_from_der(const uint8_t *der, size_t len, at_key_info *info)
{
    if (info)
        memset(info, 0, sizeof *info);
    if (!der || len == 0 || len > (size_t)LONG_MAX)
        return NULL;
    const char *container = NULL;
    ERR_set_mark();
    EVP_PKEY *k = decode_plain_der(der, len, &container);
    ERR_pop_to_mark();
    if (k)
        fill_info(info, k, container, "DER", false);
    return k;
}

uint8_t *at_key_to_frame_der(EVP_PKEY *key, size_t *len)
{
    if (len)
        *len = 0;
    if (!key || !len)
        return NULL;
    ERR_set_mark();
    unsigned char *data = NULL;
    size_t dlen = 0;
    OSSL_ENCODER_CTX *ectx = OSSL_ENCODER_CTX_new_for_pkey(
        key, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", NULL);
    if (ectx && OSSL_ENCODER_CTX_get_num_encoders(ectx) > 0 &&
        OSSL_ENCODER_to_data(ectx, &data, &dlen)) {
        *len = dlen;
    } else {
        OPENSSL_free(data);
        data = NULL;
    }
    OSSL_ENCODER_CTX_free(ectx);
    ERR_pop_to_mark();
    return data;
}
