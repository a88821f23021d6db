/*
 * Built with every test build, never run: the public headers whose
 * interfaces hold no OpenSSL types must not pull in OpenSSL either, so a
 * program that embeds the analysis needs no OpenSSL headers. Compiling
 * fails if one of them does.
 */
#include "attrace/analysis.h"
#include "attrace/cert.h"
#include "attrace/compare.h"
#include "attrace/crypto_types.h"
#include "attrace/driver.h"

#ifdef OPENSSL_TYPES_H
#error "a header that promises no OpenSSL types includes OpenSSL"
#endif

/* ISO C wants a translation unit to declare something. */
typedef int headers_without_openssl_unused;
