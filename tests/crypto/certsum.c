/*
 * attrace-test-certsum CERTFILE [INDEX] [legacy|newer]
 *
 * Prints the summary of a certificate file (PEM or DER), one field a line,
 * then the ^SBNR line a module would print for it at INDEX (default 1).
 * certs.sh compares this against the openssl command line.
 */
#include "attrace/cert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: attrace-test-certsum CERTFILE [INDEX] [legacy|newer]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4)
        return usage();
    unsigned index = 1;
    if (argc >= 3) {
        char *end;
        unsigned long v = strtoul(argv[2], &end, 10);
        if (*argv[2] == '\0' || *end != '\0' || v > 1000)
            return usage();
        index = (unsigned)v;
    }
    const at_profile *profile = at_profile_get(AT_PROFILE_LEGACY);
    if (argc == 4 && !(profile = at_profile_by_name(argv[3])))
        return usage();

    char err[512];
    uint8_t *der;
    size_t len;
    if (at_cert_load_der(argv[1], &der, &len, err, sizeof err) != 0) {
        fprintf(stderr, "attrace-test-certsum: %s\n", err);
        return 1;
    }
    at_cert_summary s;
    int rc = at_cert_summarize(der, len, &s, err, sizeof err);
    free(der);
    if (rc != 0) {
        fprintf(stderr, "attrace-test-certsum: %s: %s\n", argv[1], err);
        return 1;
    }

    static char line[2 * AT_CERT_DN_MAX + 512];
    if (at_sbnr_format(index, &s, profile, line, sizeof line) == 0) {
        fprintf(stderr, "attrace-test-certsum: ^SBNR line too long\n");
        return 1;
    }
    printf("size=%zu\n", s.size);
    printf("issuer=%s\n", s.issuer);
    printf("subject=%s\n", s.subject);
    printf("serial=%s\n", s.serial);
    printf("sig_alg=%s\n", s.sig_alg);
    printf("thumb_alg=%s\n", s.thumb_alg);
    printf("thumbprint=%s\n", s.thumbprint);
    printf("expiry=%d,%02d,%02d\n", s.expiry_year, s.expiry_month, s.expiry_day);
    printf("valid_from=%d,%02d,%02d\n", s.valid_from_year, s.valid_from_month,
           s.valid_from_day);
    printf("key=%s %d\n", s.key_type, s.key_bits);
    if (s.truncated)
        printf("truncated=1\n");
    printf("%s\n", line);
    return ferror(stdout) ? 1 : 0;
}
