/*
 * json_writer.h - NDJSON output of jansson values, fast.
 *
 * jansson's json_dumpf() hands every token to stdio on its own (one
 * fwrite per token, an snprintf per integer, UTF-8 decoded once more per
 * string); on `attrace decode --json` that cost more than decoding. This
 * writer walks a json_t into one growable buffer, reused from object to
 * object, and writes it with one fwrite. Its text is byte for byte what
 * json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER) gives with jansson
 * 2.14 (keys in insertion order, "\"", "\\", \b \f \n \r \t and
 * \u00XX (upper-case hex) escaped in strings, other bytes as they are;
 * integers in decimal; reals as "%.17g" with ".0" added to integral
 * values and the exponent without '+' or leading zeros), except for the
 * characters a terminal showing the JSON would obey: C1 controls
 * (U+0080..U+009F) and bidirectional overrides and isolates
 * (U+202A..U+202E, U+2066..U+2069) are written as \uXXXX, which means the
 * same to a JSON reader. tests/unit/test_json_writer.c and
 * tests/fuzz/fuzz_json.c compare it with jansson's text so escaped.
 *
 * Strings are taken to be UTF-8, as jansson makes sure when a string or
 * key is set (json_string(), json_object_set()); the writer does not check
 * again. Values made with jansson's _nocheck functions are outside this
 * contract (none are made in attrace).
 */
#ifndef ATTRACE_CLI_JSON_WRITER_H
#define ATTRACE_CLI_JSON_WRITER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Zero-initialize; release with cli_json_writer_free(). */
typedef struct cli_json_writer {
    char *buf;
    size_t len;   /* bytes of the last serialization */
    size_t cap;
} cli_json_writer;

/* Serializes @p v, of any type, into w->buf (w->len bytes, NUL-terminated).
 * Returns false, with w->len 0, when memory runs out. */
bool cli_json_serialize(cli_json_writer *w, const json_t *v);

/* Writes @p v and a newline to @p out with one fwrite. Returns false when
 * memory runs out (nothing is written then); a failed write shows in
 * ferror(@p out), as for any stdio output. */
bool cli_json_write_line(cli_json_writer *w, const json_t *v, FILE *out);

void cli_json_writer_free(cli_json_writer *w);

#endif
