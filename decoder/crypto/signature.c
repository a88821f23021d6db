/*
 * Frame signatures as the module computes them (PROTOCOL.md section 4):
 * SHA-1 or SHA-256 of the bytes from CmdId up to the signature unit, then
 * the RSA private-key operation with PKCS#1 v1.5 type-1 padding applied to
 * the raw digest - no DigestInfo, so not a standard SHA256withRSA - and
 * standard base64 without line breaks.
 */
#include "attrace/crypto.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

static const EVP_MD *digest_md(size_t len)
{
    if (len == AT_DIGEST_SHA1)
        return EVP_sha1();
    if (len == AT_DIGEST_SHA256)
        return EVP_sha256();
    return NULL;
}

static const char *digest_name(size_t len)
{
    if (len == AT_DIGEST_SHA1)
        return "SHA-1";
    if (len == AT_DIGEST_SHA256)
        return "SHA-256";
    return "unknown";
}

/* A context for the raw RSA operation: PKCS#1 v1.5 padding, no digest. */
static EVP_PKEY_CTX *rsa_ctx(EVP_PKEY *key, bool sign)
{
    if (!key || !EVP_PKEY_is_a(key, "RSA"))
        return NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    if (!ctx)
        return NULL;
    int ok = sign ? EVP_PKEY_sign_init(ctx) : EVP_PKEY_verify_recover_init(ctx);
    if (ok <= 0 || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int at_sign_frame(void *ctx, const uint8_t *region, size_t region_len,
                  char *out, size_t cap, size_t *out_len)
{
    const at_signer *s = ctx;
    if (out_len)
        *out_len = 0;
    if (!s || !out || !out_len || (!region && region_len))
        return -1;
    const EVP_MD *md = digest_md(s->digest);
    if (!md)
        return -1;

    int rc = -1;
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    uint8_t *sig = NULL;
    unsigned char *b64 = NULL;
    size_t sig_len = 0;

    ERR_set_mark();
    EVP_PKEY_CTX *pctx = rsa_ctx(s->key, true);
    if (!pctx)
        goto done;
    if (!EVP_Digest(region_len ? region : (const uint8_t *)"", region_len,
                    digest, &dlen, md, NULL) ||
        dlen != (unsigned)s->digest)
        goto done;
    if (EVP_PKEY_sign(pctx, NULL, &sig_len, digest, dlen) <= 0 || sig_len == 0 ||
        sig_len > 0x3fffffff)
        goto done;
    sig = malloc(sig_len);
    if (!sig || EVP_PKEY_sign(pctx, sig, &sig_len, digest, dlen) <= 0)
        goto done;

    /* EVP_EncodeBlock writes 4 characters per 3 bytes and a NUL. */
    size_t text_len = 4 * ((sig_len + 2) / 3);
    if (text_len > cap)
        goto done;
    b64 = malloc(text_len + 1);
    if (!b64 || EVP_EncodeBlock(b64, sig, (int)sig_len) != (int)text_len)
        goto done;
    memcpy(out, b64, text_len);
    *out_len = text_len;
    rc = 0;
done:
    EVP_PKEY_CTX_free(pctx);
    free(sig);
    free(b64);
    ERR_pop_to_mark();
    return rc;
}

/* ------------------------------------------------------------------ */
/* Verification                                                       */
/* ------------------------------------------------------------------ */

static bool is_b64_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Padded standard base64: whole quads, '=' only as the last one or two. */
static bool is_padded_base64(const uint8_t *s, size_t n, size_t *pad)
{
    *pad = 0;
    if (n == 0 || n % 4 != 0)
        return false;
    if (s[n - 1] == '=')
        *pad = s[n - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < n - *pad; i++)
        if (!is_b64_char(s[i]))
            return false;
    return true;
}

/* Decodes the signature text; NULL (and base64_ok false) if it is not
 * padded base64. */
static uint8_t *decode_signature(const uint8_t *text, size_t n, size_t *len,
                                 bool *oom)
{
    size_t pad;
    *len = 0;
    *oom = false;
    if (!is_padded_base64(text, n, &pad) || n > 0x3fffffff)
        return NULL;
    uint8_t *raw = malloc(n / 4 * 3);
    if (!raw) {
        *oom = true;
        return NULL;
    }
    int got = EVP_DecodeBlock(raw, text, (int)n);
    /* EVP_DecodeBlock counts the bytes the padding stands for. */
    if (got < 0 || (size_t)got != n / 4 * 3) {
        free(raw);
        return NULL;
    }
    *len = (size_t)got - pad;
    return raw;
}

int at_verify_frame(const at_frame *f, const uint8_t *buf, size_t len,
                    EVP_PKEY *pub, at_sig_verdict *out)
{
    if (!out)
        return -1;
    memset(out, 0, sizeof *out);
    out->digest_name = "unknown";
    if (!f || (!buf && len))
        return -1;

    const at_frame_unit *u = at_frame_find(f, AT_PARAM_SIGNATURE);
    if (!u)
        return 0;
    /* A READ response carries a raw digest there, not a signature. */
    if (f->response && f->sig_kind != AT_SIG_BASE64)
        return 0;
    out->present = true;

    /* The signed region, in the caller's buffer. */
    if (f->signed_region.off < f->span.off)
        return -1;
    uint64_t rel = f->signed_region.off - f->span.off;
    if (rel > len || f->signed_region.len > len - rel)
        return -1;
    const uint8_t *region = buf + rel;
    size_t region_len = f->signed_region.len;

    /* The text up to its NUL (all of it if the NUL is missing). */
    size_t text_len = 0;
    const uint8_t *text = u->value;
    if (!text && u->value_len)
        return -1;
    while (text_len < u->value_len && text[text_len] != 0)
        text_len++;

    bool oom;
    size_t sig_len;
    uint8_t *sig = decode_signature(text, text_len, &sig_len, &oom);
    if (oom)
        return -1;
    out->base64_ok = sig != NULL;
    out->sig_len = sig_len;
    /* Only an RSA key can check this scheme; another key counts as none. */
    if (!sig || !pub || !EVP_PKEY_is_a(pub, "RSA"))
        goto done;

    out->key_len = (size_t)EVP_PKEY_get_size(pub);
    out->length_ok = sig_len == out->key_len;

    ERR_set_mark();
    EVP_PKEY_CTX *ctx = rsa_ctx(pub, false);
    uint8_t *rec = NULL;
    size_t rec_len = 0;
    if (ctx && out->key_len > 0 && (rec = malloc(out->key_len)) != NULL) {
        rec_len = out->key_len;
        if (EVP_PKEY_verify_recover(ctx, rec, &rec_len, sig, sig_len) > 0 &&
            rec_len <= out->key_len) {
            out->recovered = true;
            out->digest_len = rec_len;
            memcpy(out->recovered_digest, rec,
                   rec_len < sizeof out->recovered_digest ? rec_len
                                                          : sizeof out->recovered_digest);
        }
    }
    EVP_PKEY_CTX_free(ctx);
    if (rec)
        OPENSSL_cleanse(rec, out->key_len);
    free(rec);
    ERR_pop_to_mark();

    if (out->recovered) {
        out->digest_name = digest_name(out->digest_len);
        const EVP_MD *md = digest_md(out->digest_len);
        unsigned int dlen = 0;
        if (md) {
            if (!EVP_Digest(region_len ? region : (const uint8_t *)"", region_len,
                            out->region_digest, &dlen, md, NULL) ||
                dlen != out->digest_len) {
                free(sig);
                return -1;
            }
            out->matches = CRYPTO_memcmp(out->region_digest, out->recovered_digest,
                                         dlen) == 0;
        }
    }
done:
    free(sig);
    return 0;
}
