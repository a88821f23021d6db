/*
 * Fuzz target for the private-key scanner (decoder/core/secret.c).
 *
 * Input: one byte giving a split point, then the stream. Scans it whole
 * and in two feeds, and checks that every question gets the same sorted,
 * disjoint, in-range runs both ways (chunk invariance), for a few ranges.
 */
#include <stdint.h>
#include <stdlib.h>

#include "attrace/secret.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const at_secret *v, unsigned n, uint64_t off, uint64_t len)
{
    for (unsigned i = 0; i < n; i++) {
        if (v[i].span.len == 0 || v[i].span.off < off ||
            v[i].span.off + v[i].span.len > off + len)
            abort();
        if (i && v[i].span.off <= v[i - 1].span.off + v[i - 1].span.len)
            abort();
        if (!at_secret_kind_name(v[i].kind)[0])
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static at_secret_scanner a, b;
    if (size < 1)
        return 0;
    size_t cut = data[0] % size;
    data++;
    size--;
    if (cut > size)
        cut = size;
    at_secret_scanner_init(&a);
    at_secret_scanner_init(&b);
    at_secret_scan(&a, data, size);
    at_secret_scan(&b, data, cut);
    at_secret_scan(&b, data + cut, size - cut);
    const uint64_t ranges[][2] = {{0, size}, {0, cut}, {cut, size - cut}, {size / 3, size / 3}};
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        at_secret va[AT_SECRET_RUNS_MAX], vb[AT_SECRET_RUNS_MAX];
        unsigned na = at_secret_collect(&a, ranges[r][0], ranges[r][1], va, AT_SECRET_RUNS_MAX);
        unsigned nb = at_secret_collect(&b, ranges[r][0], ranges[r][1], vb, AT_SECRET_RUNS_MAX);
        check(va, na, ranges[r][0], ranges[r][1]);
        if (na != nb)
            abort();
        for (unsigned i = 0; i < na; i++)
            if (va[i].span.off != vb[i].span.off || va[i].span.len != vb[i].span.len ||
                va[i].kind != vb[i].kind)
                abort();
        /* The piece walk covers the range exactly. */
        uint64_t off = ranges[r][0];
        size_t left = (size_t)ranges[r][1];
        while (left) {
            const at_secret *s;
            size_t k = at_secret_piece(va, na, off, left, &s);
            if (k == 0 || k > left)
                abort();
            off += k;
            left -= k;
        }
    }
    return 0;
}
