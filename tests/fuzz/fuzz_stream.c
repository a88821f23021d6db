/*
 * Fuzz target for the stream tokenizer. Besides "never crash, never hang",
 * it checks the tokenizer's central promise differentially: the input fed
 * whole and fed in chunks (sizes taken from the input itself) must give
 * the same tokens.
 *
 * Input layout: byte 0 = direction and hints, byte 1 = chunk-size seed,
 * the rest = the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attrace/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct digest {
    uint64_t h;
    uint64_t count;
} digest;

static void mix(digest *d, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        d->h ^= b[i];
        d->h *= 1099511628211ull;
    }
}

static void on_token(void *ctx, const at_token *t)
{
    digest *d = ctx;
    uint64_t fields[8] = {t->kind, t->flags, t->reason, t->off, t->len,
                          t->frame_len, t->block_off, t->run_len};
    if (t->len && !t->data && t->kind != AT_TOK_INVALID)
        abort(); /* only a discarded over-long line may come without bytes */
    mix(d, fields, sizeof fields);
    if (t->data)
        mix(d, t->data, t->len);
    d->count++;
}

static digest run(const uint8_t *stream, size_t n, uint8_t mode, uint8_t seed)
{
    static at_stream s; /* large: keep it off the stack */
    digest d = {14695981039346656037ull, 0};
    at_stream_init(&s, (mode & 1) ? AT_DIR_ME_TO_TE : AT_DIR_TE_TO_ME, NULL);
    if (mode & 2)
        at_stream_hint(&s, AT_HINT_EXPECT_SISR, on_token, &d);
    if (mode & 4)
        at_stream_hint(&s, AT_HINT_EXPECT_TRANSPARENT, on_token, &d);
    size_t pos = 0;
    unsigned x = seed;
    while (pos < n) {
        size_t step = n - pos;
        if (seed) {
            x = x * 1103515245u + 12345u;
            size_t k = 1 + (x >> 16) % (seed + 1u);
            step = k < step ? k : step;
        }
        at_stream_feed(&s, pos, stream + pos, step, on_token, &d);
        pos += step;
    }
    at_stream_finish(&s, pos, on_token, &d);
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t mode = data[0], seed = data[1];
    digest whole = run(data + 2, size - 2, mode, 0);
    digest split = run(data + 2, size - 2, mode, seed ? seed : 1);
    if (whole.h != split.h || whole.count != split.count)
        abort();
    return 0;
}
