/*
 * Fuzz target for the core's byte searches (decoder/core/bytescan.c): the
 * forms the core calls (SSE2 on x86-64) against the portable forms.
 *
 * Input: two bytes choosing where a key-start search begins and stops,
 * then the bytes searched. The searched bytes are copied into a buffer of
 * their exact size, so a read past the end shows under ASan.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytescan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t a = data[0], b = data[1];
    data += 2;
    size -= 2;
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        return 0;
    if (size)
        memcpy(p, data, size);

    for (size_t start = 0; start <= size && start < 40; start++) {
        size_t c1, c2;
        size_t r1 = at_bytescan_line_stop_portable(p + start, size - start, &c1);
        size_t r2 = at_bytescan_line_stop(p + start, size - start, &c2);
        if (r1 != r2 || c1 != c2)
            abort();
    }
    size_t lim = size - (size ? b % (size + 1) : 0);
    size_t from = lim ? a % (lim + 1) : 0;
    for (size_t n = lim; n <= size; n++) {
        if (at_bytescan_key_start_portable(p, from, lim, n) !=
            at_bytescan_key_start(p, from, lim, n))
            abort();
        if (at_bytescan_key_start_portable(p, 0, n, n) != at_bytescan_key_start(p, 0, n, n))
            abort();
    }
    free(p);
    return 0;
}
