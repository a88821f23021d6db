/*
 * attrace/crypto_types.h - what the crypto adapter (attrace/crypto.h) finds,
 * as plain C types without OpenSSL: what a private key is, and how a
 * frame's signature checked. The analysis (attrace/analysis.h) reports them.
 */
#ifndef ATTRACE_CRYPTO_TYPES_H
#define ATTRACE_CRYPTO_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A private key as found in a file or in a frame's key unit. */
typedef struct at_key_info {
    char type[8];       /**< "RSA", "EC", ... */
    int bits;           /**< key size */
    char container[24]; /**< "PKCS#8", "PKCS#1", "PKCS#12", "SEC1",
                             "keytool PKCS12", "JKS", "JCEKS" */
    char encoding[4];   /**< "PEM", "DER", or "" (Java's JKS, JCEKS) */
    bool encrypted;     /**< the file needed a password */
} at_key_info;

/** The outcome of checking a frame's signature. */
typedef struct at_sig_verdict {
    bool present;            /**< the frame has a signature unit */
    bool base64_ok;          /**< it decodes as base64 */
    size_t sig_len;          /**< decoded signature bytes */
    size_t key_len;          /**< RSA modulus bytes of the verifying key (0 = no key) */
    bool length_ok;          /**< sig_len == key_len */
    bool recovered;          /**< the public-key operation gave valid type-1 padding */
    size_t digest_len;       /**< recovered digest length: 20 SHA-1, 32 SHA-256, other */
    const char *digest_name; /**< "SHA-1", "SHA-256" or "unknown" */
    bool matches;            /**< recovered digest == digest of the signed region */
    uint8_t recovered_digest[64];
    uint8_t region_digest[64];
} at_sig_verdict;

#ifdef __cplusplus
}
#endif
#endif
