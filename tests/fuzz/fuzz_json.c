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
#include <string.h>

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

    /* The input as trace text: JSON that reads back as the input when it
     * is UTF-8, and as one string in any case. */
    static cli_json_writer t;
    bool valid = cli_jw_text(&t, n ? (const void *)d : "", n);
    json_error_t err;
    json_t *back = json_loadb(t.buf, t.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!back || !json_is_string(back) ||
        (valid && (json_string_length(back) != n || memcmp(json_string_value(back), d, n) != 0))) {
        fprintf(stderr, "fuzz_json: cli_jw_text gives %.*s\n", (int)t.len, t.buf);
        abort();
    }
    json_decref(back);
    cli_jw_reset(&t);
    return 0;
}
