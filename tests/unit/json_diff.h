/*
 * json_diff.h - the differential check of the JSON writer
 * (decoder/cli/json_writer.c) against jansson's own dump, shared by the
 * unit test (test_json_writer.c) and the fuzz target (fuzz_json.c).
 */
#ifndef ATTRACE_JSON_DIFF_H
#define ATTRACE_JSON_DIFF_H

#include "json_writer.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Builds a json_t from arbitrary bytes (a little program: each byte picks
 * the next value, container sizes, string pieces). Strings and keys mix
 * ASCII runs, every escaped byte, multi-byte UTF-8 (C1 controls, bidi
 * overrides, U+10FFFF); those jansson refuses as invalid UTF-8 become null
 * or are left out. Numbers include the integer extremes and doubles of any
 * bit pattern; some branches nest up to 4080 levels. Never NULL. */
json_t *jd_tree_from_bytes(const uint8_t *data, size_t size);

/* Writes @p v with the writer's streaming calls into @p w (reset first):
 * false when memory ran out. */
bool jd_serialize(cli_json_writer *w, const json_t *v);

/* Serializes @p v with @p w and with json_dumps(v, JSON_COMPACT |
 * JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) (the CLI only writes objects;
 * ENCODE_ANY lets scalars be compared too), C1 controls and bidi
 * overrides then escaped as the writer escapes them. Returns NULL when both give the same text, or both
 * fail; otherwise a description of the difference in @p msg. */
const char *jd_compare(cli_json_writer *w, const json_t *v, char *msg, size_t cap);

#endif
