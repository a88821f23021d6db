/*
 * Fuzz target for the crypto adapter's parsers of untrusted bytes: a
 * certificate unit (at_cert_summarize, and the ^SBNR line made from it), a
 * key unit (at_key_from_der), and a frame's signature check without a key
 * (at_verify_frame's base64 and region handling).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attrace/cert.h"
#include "attrace/crypto.h"
#include "attrace/lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    at_cert_summary cs;
    char err[256];
    if (at_cert_summarize(data, size, &cs, err, sizeof err) == 0) {
        /* A summary must make a ^SBNR line the decoder reads back. */
        char line[4096];
        size_t n = at_sbnr_format(1, &cs, at_profile_get(AT_PROFILE_NEWER), line, sizeof line);
        if (n && !cs.truncated) {
            at_sbnr parsed;
            if (at_parse_sbnr(line, n, 0, &parsed, NULL) != AT_OK || parsed.size != cs.size)
                abort();
        }
    }

    at_key_info ki;
    EVP_PKEY *k = at_key_from_der(data, size, &ki);
    EVP_PKEY_free(k);

    at_frame f;
    at_frame_decode(data, size, 0, NULL, &f);
    at_sig_verdict v;
    at_verify_frame(&f, data, size, NULL, &v);
    return 0;
}
