/*
 * attrace/cert.h - certificates as the module describes them: the summary
 * of PROTOCOL.md section 6 and the exact ^SBNR line a module prints.
 *
 * Part of the crypto library (it parses with OpenSSL), but its interface
 * holds no OpenSSL types: certificates travel as DER bytes. Those who want
 * an X509 find at_cert_parse and at_cert_load in attrace/crypto.h.
 */
#ifndef ATTRACE_CERT_H
#define ATTRACE_CERT_H

#include "attrace/profile.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AT_CERT_DN_MAX 1024u

typedef struct at_cert_summary {
    size_t size;                /**< DER length in bytes */
    char issuer[AT_CERT_DN_MAX];  /**< "/C=DE/O=Example, Inc./CN=x": values unescaped */
    char subject[AT_CERT_DN_MAX];
    char serial[132];           /**< uppercase hex of the INTEGER content bytes, leading 00 kept */
    char sig_alg[24];           /**< "sha1RSA", "sha256RSA", "sha256ECDSA", ... */
    char thumb_alg[8];          /**< "sha1" */
    char thumbprint[41];        /**< uppercase hex SHA-1 of the DER */
    int expiry_year, expiry_month, expiry_day;  /**< notAfter (UTC) */
    int valid_from_year, valid_from_month, valid_from_day; /**< notBefore (UTC) */
    char key_type[8];           /**< public key: "RSA", "EC", ... */
    int key_bits;
    bool truncated;             /**< a field did not fit its array and was cut
                                     (DNs at a UTF-8 character boundary) */
} at_cert_summary;

/**
 * Summarizes a DER certificate. Returns 0, or -1 with a message in @p err
 * when the bytes are not a certificate (@p err may be NULL). Bytes after
 * the certificate are an error; size and thumbprint cover @p der as given.
 */
int at_cert_summarize(const uint8_t *der, size_t len, at_cert_summary *out,
                      char *err, size_t err_cap);

/**
 * Reads a certificate file, PEM or DER, into a malloc'd DER buffer (caller
 * frees): one certificate that parses, nothing after it (the trust
 * settings of a PEM TRUSTED CERTIFICATE are left out). Returns 0, or -1
 * with a message naming the file.
 */
int at_cert_load_der(const char *path, uint8_t **der, size_t *len, char *err,
                     size_t err_cap);

/**
 * Writes the exact line a module prints for @p index in its ^SBNR is_cert
 * listing (no line end): the certificate's line, or with @p s NULL the
 * empty-slot line. @p profile selects the format (newer: with expiry
 * date; NULL: legacy). Returns the line length, or 0 (and "" in @p out)
 * if @p cap is too small.
 */
size_t at_sbnr_format(unsigned index, const at_cert_summary *s,
                      const at_profile *profile, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
