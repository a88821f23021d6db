/*
 * json_writer.h - NDJSON output of jansson values, fast.
 *
 * jansson's json_dumpf() hands every token to stdio on its own (one
 * fwrite per token, an snprintf per integer, UTF-8 decoded once more per
 * string); on `attrace decode --json` that cost more than decoding. This
 * writer walks a json_t into one growable buffer, reused from object to
 * object, and writes it with one fwrite. Its text is byte for byte what
 * json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER) gives with jansson
 * 2.14 (tests/unit/test_json_writer.c and tests/fuzz/fuzz_json.c compare
 * the two): keys in insertion order, "\"", "\\", \b \f \n \r \t and
 * \u00XX (upper-case hex) escaped in strings, other bytes as they are;
 * integers in decimal; reals as "%.17g" with ".0" added to integral
 * values and the exponent without '+' or leading zeros. A string value that
 * is not valid UTF-8 (only json_string_nocheck() can make one) fails, as it
 * fails jansson's dump; such a key is cut short as jansson cuts it.
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
 * Returns false, with w->len 0, when jansson's dump would fail too (a
 * string that is not valid UTF-8) or memory runs out. */
bool cli_json_serialize(cli_json_writer *w, const json_t *v);

/* Writes @p v and a newline to @p out with one fwrite. Returns false when
 * @p v cannot be serialized (nothing is written then); a failed write
 * shows in ferror(@p out), as for any stdio output. */
bool cli_json_write_line(cli_json_writer *w, const json_t *v, FILE *out);

void cli_json_writer_free(cli_json_writer *w);

#endif
