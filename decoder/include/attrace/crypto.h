/*
 * attrace/crypto.h - the crypto adapter (OpenSSL 3, EVP interfaces only):
 * passwords, private keys in the formats users have, and frame signatures
 * exactly as the module computes them (PROTOCOL.md section 4).
 *
 * Not part of the pure core: the core only sees at_sign_fn. The plain
 * result types (at_key_info, at_sig_verdict) are in attrace/crypto_types.h,
 * for code that reports them without OpenSSL.
 */
#ifndef ATTRACE_CRYPTO_H
#define ATTRACE_CRYPTO_H

#include "attrace/cert.h"
#include "attrace/crypto_types.h"
#include "attrace/frame.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Passwords, like OpenSSL's -passin                                  */
/* ------------------------------------------------------------------ */

/**
 * Resolves a password source: "env:VAR", "file:PATH" (first line, without
 * its line end), "pass:TEXT", or NULL / "prompt" to ask on the controlling
 * terminal without echo (@p prompt is shown; fails cleanly when there is no
 * terminal). Writes a NUL-terminated password into @p out. Returns 0, or -1
 * with a message in @p err that never contains the password.
 */
int at_passin_read(const char *spec, const char *prompt, char *out, size_t cap,
                   char *err, size_t err_cap);

/* ------------------------------------------------------------------ */
/* Certificates as OpenSSL objects (attrace/cert.h: as DER bytes)     */
/* ------------------------------------------------------------------ */

/**
 * As at_cert_summarize, also handing back the parsed certificate in
 * @p cert_out (caller frees with X509_free; NULL on failure), for callers
 * that need both without parsing twice.
 */
int at_cert_parse(const uint8_t *der, size_t len, at_cert_summary *out,
                  X509 **cert_out, char *err, size_t err_cap);

/**
 * Reads a certificate file as at_cert_load_der does and parses it. Returns
 * the certificate (caller frees with X509_free), or NULL with a message
 * naming the file in @p err.
 */
X509 *at_cert_load(const char *path, char *err, size_t err_cap);

/* ------------------------------------------------------------------ */
/* Private keys                                                       */
/* ------------------------------------------------------------------ */

/**
 * Where a private key comes from: what a command's --key, --passin,
 * --keypass and --alias options say. Every command that takes a key
 * (encode, cert, replay --resign) fills one and passes it to at_key_load.
 */
typedef struct at_key_source {
    const char *path;    /**< the key file or keystore */
    const char *passin;  /**< password of the file, or of the keystore (its
                              integrity is checked with it): a source as
                              at_passin_read takes; NULL = ask when needed */
    const char *keypass; /**< password of the key entry in a keystore (JKS,
                              JCEKS, PKCS#12); NULL = the store password */
    const char *alias;   /**< the keystore entry (compared without regard to
                              ASCII case); NULL = the only/first key entry */
} at_key_source;

/**
 * Loads the private key @p src names. The format is told by the content:
 * PEM or DER; PKCS#1 or PKCS#8, plain or encrypted; SEC1; PKCS#12
 * (.p12/.pfx, keytool's default keystore); Java's JKS and JCEKS keystores
 * (keytool -storetype JKS/JCEKS), whose integrity digest is verified with
 * the store password before anything in them is used. Passwords are asked
 * only when needed. If @p cert_out is not NULL and the file is a keystore,
 * the entry's certificate is returned there (caller frees). Returns the
 * key (caller frees with EVP_PKEY_free) or NULL with a message naming the
 * file (and the entry) in @p err: a wrong store password, a wrong key
 * password, an unknown alias (the aliases present are listed, escaped),
 * a truncated or damaged file.
 */
EVP_PKEY *at_key_load(const at_key_source *src, at_key_info *info, X509 **cert_out,
                      char *err, size_t err_cap);

/**
 * Parses an unencrypted DER private key as carried in a frame's key unit
 * (PKCS#8 or PKCS#1). Returns the key or NULL; fills @p info when not NULL.
 */
EVP_PKEY *at_key_from_der(const uint8_t *der, size_t len, at_key_info *info);

/**
 * Serializes @p key as the DER a frame carries (PKCS#8, unencrypted).
 * Returns a malloc'd buffer (caller frees with OPENSSL_free) and its length.
 */
uint8_t *at_key_to_frame_der(EVP_PKEY *key, size_t *len);

/* ------------------------------------------------------------------ */
/* Frame signatures (PROTOCOL.md section 4)                           */
/* ------------------------------------------------------------------ */

/** Digest of the signed region: its length in bytes names it. */
typedef enum at_digest_alg {
    AT_DIGEST_SHA1 = 20,
    AT_DIGEST_SHA256 = 32
} at_digest_alg;

/** Context of at_sign_frame: the key and the digest to use. */
typedef struct at_signer {
    EVP_PKEY *key;
    at_digest_alg digest;
} at_signer;

/**
 * An at_sign_fn for at_frame_encode: digest of @p region (SHA-1 or SHA-256
 * per the at_signer in @p ctx), RSA PKCS#1 v1.5 type-1 padding applied to
 * the raw digest (no DigestInfo), standard base64 without line breaks.
 */
int at_sign_frame(void *ctx, const uint8_t *region, size_t region_len,
                  char *out, size_t cap, size_t *out_len);

/**
 * Verifies frame @p f, decoded from @p buf (@p len bytes, buf[0] = the
 * frame's first byte), with public key @p pub (NULL: only the key-free
 * checks are done). Always fills @p out; returns 0, or -1 on an internal
 * error.
 */
int at_verify_frame(const at_frame *f, const uint8_t *buf, size_t len,
                    EVP_PKEY *pub, at_sig_verdict *out);

#ifdef __cplusplus
}
#endif
#endif
