/*
 * Fuzz target for the Java keystore reader (decoder/crypto/jks.c): the
 * structure check, the integrity digest, the walk over the entries, the
 * alias lookup and its escaped listing, and the key recovery of every key
 * entry (both protection schemes, DER parsing of what they give). Key
 * recovery is tried even when the integrity digest does not match, so the
 * fuzzer reaches it; the PBE iteration count is bounded low to keep runs
 * fast (the reader's real limit only changes how much work is accepted).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jks.h"

#include <openssl/x509.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    at_jks ks;
    if (at_jks_open(&ks, data, size, "fuzz.ks", err, sizeof err) != 0)
        return 0;
    /* The seeds' store password (samples/keys/make-keystores.sh). */
    at_jks_verify(&ks, "St0re-Pass", err, sizeof err);

    at_jks_entry e;
    at_jks_find_key(&ks, NULL, &e, "fuzz.ks", err, sizeof err);
    at_jks_find_key(&ks, "Module-Client", &e, "fuzz.ks", err, sizeof err);

    at_jks_iter it;
    at_jks_iter_init(&ks, &it);
    uint32_t n = 0;
    while (at_jks_next(&ks, &it, &e)) {
        n++;
        if ((size_t)(e.alias - data) + e.alias_len > size ||
            (e.cert && (size_t)(e.cert - data) + e.cert_len > size))
            abort(); /* an entry must lie within the input */
        char q[64];
        at_jks_alias_quoted(&e, q, sizeof q);
        if (e.tag != AT_JKS_PRIVATE_KEY)
            continue;
        PKCS8_PRIV_KEY_INFO *p8 = NULL;
        if (at_jks_recover_key(&e, "St0re-Pass", 2000, &p8, err, sizeof err) == 0 && !p8)
            abort();
        PKCS8_PRIV_KEY_INFO_free(p8);
    }
    if (n != ks.readable)
        abort(); /* at_jks_open promised every readable entry whole */
    return 0;
}
