/*
 * Byte searches of the decoder core's per-byte hot paths (private to the
 * core; the unit test includes it).
 *
 * Each search has a portable form, which is the definition, and the form
 * the core calls: on targets with SSE2 (every x86-64) it looks at 16 bytes
 * a step and gives the same answer as the portable form on every input;
 * elsewhere (Cortex-M4) it is the portable form. test_bytescan runs both
 * on the same inputs.
 */
#ifndef ATTRACE_CORE_BYTESCAN_H
#define ATTRACE_CORE_BYTESCAN_H

#include <stddef.h>
#include <stdint.h>

/**
 * Where a line ends in p[0..n): the index of the first CR or LF (n if
 * there is none). @p ctrl receives the index of the first control byte
 * before it (below 0x20 or 0x7F, tab excepted), or the returned index if
 * there is none.
 */
size_t at_bytescan_line_stop(const uint8_t *p, size_t n, size_t *ctrl);
size_t at_bytescan_line_stop_portable(const uint8_t *p, size_t n, size_t *ctrl);

/**
 * Where a private key may start: the first i in [from, lim) whose byte
 * starts something the secret scanner follows (0x30 a DER SEQUENCE, 0x02
 * an INTEGER, '-' a PEM marker) and survives the bytes after it that lie
 * before @p n (the same tests the scanner's state machines make on them);
 * @p lim if there is none. Requires lim <= n.
 */
size_t at_bytescan_key_start(const uint8_t *p, size_t from, size_t lim, size_t n);
size_t at_bytescan_key_start_portable(const uint8_t *p, size_t from, size_t lim, size_t n);

/**
 * How many leading bytes of p[0..n) are in the standard base64 alphabet
 * (A-Z, a-z, 0-9, '+', '/'; '=' is not): the index of the first byte that
 * is not, or n.
 */
size_t at_bytescan_base64_run(const uint8_t *p, size_t n);
size_t at_bytescan_base64_run_portable(const uint8_t *p, size_t n);

#endif
