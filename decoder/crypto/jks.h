/*
 * jks.h - Java's own keystore formats, JKS (Sun, the default keystore type
 * before Java 9) and JCEKS (SunJCE), read without Java. Private to
 * attrace_crypto: keys.c dispatches to it by content (at_key_load);
 * nothing else needs the format.
 *
 * The formats, as publicly described (and as OpenJDK writes them):
 *
 *   u32 magic (FEEDFEED JKS, CECECECE JCEKS)  u32 version (1, 2)  u32 count
 *   count entries:
 *     u32 tag  UTF alias  u64 date (ms)
 *     tag 1 private key:  u32 n, n bytes EncryptedPrivateKeyInfo;
 *                         u32 chain length; per certificate:
 *                         [UTF type, version 2]  u32 n, n bytes
 *     tag 2 trusted certificate: [UTF type, version 2]  u32 n, n bytes
 *     tag 3 secret key (JCEKS): a Java-serialized object (no length)
 *   20 bytes: SHA-1(password as UTF-16BE || "Mighty Aphrodite" || all of
 *             the above)
 *
 * (UTF = u16 length + Java's modified UTF-8; all integers big-endian.)
 * A private key is protected by Sun's JKS key protector (OID
 * 1.3.6.1.4.1.42.2.17.1.1: a SHA-1 keystream over the UTF-16BE password,
 * with a SHA-1 check value) or by PBEWithMD5AndTripleDES (OID
 * 1.3.6.1.4.1.42.2.19.1, JCEKS). The digests and the cipher are OpenSSL's
 * (EVP); this module only lays the bytes out as Java does.
 *
 * Every function takes hostile input: lengths are checked against the
 * buffer, nothing is allocated in proportion to a count the file states,
 * and messages name the file and the entry.
 */
#ifndef ATTRACE_CRYPTO_JKS_H
#define ATTRACE_CRYPTO_JKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

typedef enum at_jks_type {
    AT_JKS_NONE = 0, /**< not a Java keystore */
    AT_JKS_JKS,      /**< magic FEEDFEED */
    AT_JKS_JCEKS     /**< magic CECECECE */
} at_jks_type;

typedef enum at_jks_tag {
    AT_JKS_PRIVATE_KEY = 1,
    AT_JKS_TRUSTED_CERT = 2,
    AT_JKS_SECRET_KEY = 3
} at_jks_tag;

/** One entry; every pointer points into the keystore's buffer. */
typedef struct at_jks_entry {
    at_jks_tag tag;
    const uint8_t *alias; /**< modified UTF-8, not NUL-terminated */
    size_t alias_len;
    const uint8_t *protected_key; /**< tag 1: EncryptedPrivateKeyInfo DER */
    size_t protected_key_len;
    const uint8_t *cert; /**< tag 1: the entry's own (first) certificate; */
    size_t cert_len;     /**< tag 2: the certificate; NULL/0 if none */
} at_jks_entry;

/** A keystore whose structure has been checked (at_jks_open). */
typedef struct at_jks {
    at_jks_type type;
    const uint8_t *data; /**< borrowed: the whole file */
    size_t len;
    uint32_t version;
    uint32_t count;    /**< entries the header states */
    uint32_t readable; /**< entries that can be walked: all, or those
                          before a secret-key entry that is not the last */
} at_jks;

/** The format's name for messages: "JKS" or "JCEKS". */
const char *at_jks_type_name(at_jks_type t);

/** Tells a Java keystore by its magic number. */
at_jks_type at_jks_detect(const uint8_t *data, size_t len);

/**
 * Checks the header and that every entry and the integrity digest lie
 * within the @p len bytes of @p data (trusting nothing else). Returns 0,
 * or -1 with a message naming @p path ("... is truncated", "... is
 * damaged") in @p err.
 */
int at_jks_open(at_jks *ks, const uint8_t *data, size_t len, const char *path,
                char *err, size_t err_cap);

/**
 * Checks the store's integrity digest with the store password @p password
 * (UTF-8, as typed). Returns 0 when it matches, 1 when it does not (wrong
 * password or a damaged file: the format cannot tell them apart), -1 when
 * the password cannot be a Java password (not UTF-8) or on an internal
 * error, with a message in @p err.
 */
int at_jks_verify(const at_jks *ks, const char *password, char *err, size_t err_cap);

/** A walk over the readable entries, in file order. */
typedef struct at_jks_iter {
    size_t off;
    uint32_t index;
} at_jks_iter;

void at_jks_iter_init(const at_jks *ks, at_jks_iter *it);

/** The next entry into @p e; false after the last readable one. */
bool at_jks_next(const at_jks *ks, at_jks_iter *it, at_jks_entry *e);

/**
 * Chooses the private-key entry named @p alias (compared without regard
 * to ASCII case, as Java does: keytool stores aliases in lower case), or
 * the first one when @p alias is NULL. On failure the message in @p err
 * names @p path and lists the aliases present, escaped.
 */
int at_jks_find_key(const at_jks *ks, const char *alias, at_jks_entry *out,
                    const char *path, char *err, size_t err_cap);

/**
 * Whether the @p len bytes of @p name are the alias @p alias as Java
 * compares them: keytool stores aliases in lower case and lowercases the
 * alias asked for, so ASCII letters match in either case (other bytes
 * exactly, whatever the locale). PKCS#12 friendly names are compared so
 * too.
 */
bool at_alias_equal(const void *name, size_t len, const char *alias);

/** The alias of @p e, quoted and escaped for messages (at_err_quote). */
void at_jks_alias_quoted(const at_jks_entry *e, char *out, size_t cap);

/** SunJCE's own limit on a PBE iteration count (keytool writes 200000). */
#define AT_JKS_MAX_ITERATIONS 5000000L

/**
 * Recovers the private key of entry @p e (tag 1) with the key password
 * @p password (UTF-8). A PBEWithMD5AndTripleDES key whose iteration count
 * exceeds @p max_iterations is refused as damaged: the caller bounds the
 * work a hostile file can ask for (AT_JKS_MAX_ITERATIONS for real use).
 * Returns 0 with the PKCS#8 structure in @p *p8 (caller frees), 1 when the
 * password is wrong, -1 with a message in @p err when the entry cannot be
 * read (unknown protection algorithm, damaged structure).
 */
int at_jks_recover_key(const at_jks_entry *e, const char *password, long max_iterations,
                       PKCS8_PRIV_KEY_INFO **p8, char *err, size_t err_cap);

#endif
