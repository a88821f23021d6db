/*
 * json_writer.h - compact JSON, written value by value into one growable
 * buffer (the streaming way of Wireshark's wsutil json_dumper behind
 * `tshark -T json`): no tree of objects is built, so a line of
 * `attrace decode --json` costs its bytes and nothing more. One buffer is
 * reused from line to line and written with one fwrite.
 *
 * The text is byte for byte what jansson 2.14's json_dumps(value,
 * JSON_COMPACT | JSON_PRESERVE_ORDER) gives for the same value ("\"",
 * "\\", \b \f \n \r \t and \u00XX (upper-case hex) escaped in strings,
 * other bytes as they are; integers in decimal; reals as "%.17g" with
 * ".0" added to integral values and the exponent without '+' or leading
 * zeros), except for the characters a terminal showing the JSON would
 * obey: C1 controls (U+0080..U+009F) and bidirectional overrides and
 * isolates (U+202A..U+202E, U+2066..U+2069) are written as \uXXXX, which
 * means the same to a JSON reader. tests/unit/test_json_writer.c and
 * tests/fuzz/fuzz_json.c compare it with jansson's text so escaped.
 *
 * Strings and keys are taken to be UTF-8 (the program's own text);
 * bytes from a trace go through cli_jw_text, which makes them so.
 *
 * The writer places the ',' and ':' itself: in an object, call
 * cli_jw_key then one value (or a container); in an array, values. When
 * memory runs out the writer stops growing and remembers it (oom): the
 * line is then not written.
 */
#ifndef ATTRACE_CLI_JSON_WRITER_H
#define ATTRACE_CLI_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Zero-initialize; release with cli_json_writer_free(). */
typedef struct cli_json_writer {
    char *buf;
    size_t len;   /* bytes written so far (not NUL-terminated) */
    size_t cap;
    bool comma;   /* a value ended at this level: the next one needs ',' */
    bool oom;     /* memory ran out: the text is incomplete */
} cli_json_writer;

/* Empties the buffer (keeps its memory) for a new value. */
void cli_jw_reset(cli_json_writer *w);

void cli_jw_object_begin(cli_json_writer *w);
void cli_jw_object_end(cli_json_writer *w);
void cli_jw_array_begin(cli_json_writer *w);
void cli_jw_array_end(cli_json_writer *w);

/* A member's key (UTF-8; escaped as strings are). */
void cli_jw_keyn(cli_json_writer *w, const char *key, size_t n);
/* A member name of the program's own schema, written as it is, without
 * the escaping pass: it must be plain ASCII (no control, '"', '\\' or byte
 * >= 0x80; asserted in debug builds). Half the strings of an event are
 * names, so this is worth its rule. cli_jw_key and the cli_jw_member_*
 * calls take their key as such a name. */
void cli_jw_name(cli_json_writer *w, const char *name, size_t n);
void cli_jw_key(cli_json_writer *w, const char *key);

void cli_jw_null(cli_json_writer *w);
void cli_jw_bool(cli_json_writer *w, bool v);
void cli_jw_int(cli_json_writer *w, int64_t v);
void cli_jw_uint(cli_json_writer *w, uint64_t v);
void cli_jw_real(cli_json_writer *w, double v);
/* A UTF-8 string; cli_jw_string(NULL) writes null. */
void cli_jw_string(cli_json_writer *w, const char *s);
void cli_jw_stringn(cli_json_writer *w, const char *s, size_t n);

/* Trace bytes as a string: as they are when valid UTF-8, else their
 * UTF-8 reading with U+FFFD for each byte outside a valid sequence; null
 * when @p data is NULL. Returns whether the bytes were valid UTF-8 (true
 * for NULL): when not, callers add the bytes themselves (cli_jw_hex). */
bool cli_jw_text(cli_json_writer *w, const void *data, size_t n);
/* Bytes as a string of lower-case hex digits; null when @p data is NULL. */
void cli_jw_hex(cli_json_writer *w, const void *data, size_t n);
/* Text already in JSON form (one value, or members when inside an object
 * whose ',' the caller's text does not begin with). */
void cli_jw_raw(cli_json_writer *w, const char *json, size_t n);

/* A member: its key, then its value, as the calls above write them. */
void cli_jw_member_null(cli_json_writer *w, const char *key);
void cli_jw_member_bool(cli_json_writer *w, const char *key, bool v);
void cli_jw_member_uint(cli_json_writer *w, const char *key, uint64_t v);
/* @p v when @p present, else null. */
void cli_jw_member_opt_uint(cli_json_writer *w, const char *key, bool present, uint64_t v);
void cli_jw_member_string(cli_json_writer *w, const char *key, const char *v);
bool cli_jw_member_text(cli_json_writer *w, const char *key, const void *data, size_t n);

/* Writes the buffer and a newline to @p out with one fwrite and empties
 * it. Returns false when memory ran out while it was written (nothing is
 * written then); a failed write shows in ferror(@p out). */
bool cli_jw_write_line(cli_json_writer *w, FILE *out);

void cli_json_writer_free(cli_json_writer *w);

/* The length of the valid UTF-8 sequence at @p p (of @p n bytes), 0 if
 * none starts there. */
size_t cli_utf8_seq(const uint8_t *p, size_t n);
/* Whether @p n bytes are valid UTF-8. */
bool cli_utf8_valid(const void *data, size_t n);

#endif
