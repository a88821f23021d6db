/*
 * libFuzzer target for the JSON writer of `attrace decode --json`
 * (decoder/cli/json_writer.c): the input is turned into a jansson tree
 * (tests/unit/json_diff.c), which the writer must serialize to exactly
 * json_dumps()'s text, and fail exactly where jansson fails. A difference
 * abort()s.
 */
#include "json_diff.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    static cli_json_writer w; /* reused, as by the CLI */
    char msg[512];
    json_t *v = jd_tree_from_bytes(d, n);
    const char *diff = jd_compare(&w, v, msg, sizeof msg);
    if (diff) {
        fprintf(stderr, "fuzz_json: %s\n", diff);
        abort();
    }
    json_decref(v);
    return 0;
}
