/*
 * output_text.c - the human view of `attrace decode`.
 *
 * Layout (stable: golden files test it). An exchange is a header (id, UTC
 * clock of the command, time since the first record), then one line per
 * element (ms since the command, direction, text) with its decoded fields
 * indented below, and the final result with the duration:
 *
 *   #4  12:00:00.303000  +0.303000
 *       +0.000ms  -> AT+CGSN
 *                    +CGSN exec
 *       +1.000ms  <- AT+CGSN  (echo)
 *       +2.000ms  <- 358240051111110
 *                    IMEI 358240051111110
 *       +3.000ms  <- OK
 *                    = OK in 3.000 ms
 *
 * Anything outside an exchange (URC, trace event, unexpected line) gets a
 * header of its own; a URC that arrives while a command runs stays in the
 * block, marked "(URC)". Items of several channels are told apart by
 * "ch N"; a block interrupted by another channel goes on under a
 * "(continued)" header:
 *
 *   URC  12:00:01.000000  +1.000000
 *                 <- ^SIS: 0,0,66,"..."
 *                    ^SIS service profile 0, cause 0, info 66: peer ...
 *
 * Under a frame's units: the certificate it carries in the module's ^SBNR
 * terms, the key's size and type, the signature verdict with the key it was
 * checked against. Findings of the analyzer follow the event that completed
 * them (an exchange's after its final result), each as
 *
 *                  error totallen_excludes_self at TE+79: <what>
 *                    fix: <fix>
 *
 * Text from the trace is printed with control and non-ASCII bytes escaped
 * (\r \n \t \\ \xHH) so a trace cannot drive the terminal; the findings'
 * sentences keep a backslash as it is (AT\Q3). --hex adds a
 * hexdump (stream offsets) under every element; private-key bytes are
 * never printed unless --show-secrets.
 */
#include "cli.h"
#include "escape.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define TIME_W 10                 /* width of the "+3.000ms" column */
#define CONTENT_COL (2 + TIME_W + 2 + 3)
#define DETAIL_STEP 2

/* SGR sequences */
#define C_RESET "\033[0m"
#define C_BOLD "\033[1m"
#define C_DIM "\033[2m"
#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_MAGENTA "\033[35m"
#define C_CYAN "\033[36m"
#define C_BOLD_RED "\033[1;31m"
#define C_BOLD_GREEN "\033[1;32m"
#define C_BOLD_YELLOW "\033[1;33m"
#define C_BOLD_MAGENTA "\033[1;35m"

/* ------------------------------------------------------------------ */
/* Low-level printing                                                 */
/* ------------------------------------------------------------------ */

/*
 * What the renderer prints is collected in c->text_buf and written with
 * one fwrite when a call ends (out_flush), or, when the owner of the
 * stream allows it (c->text_hold), once that many bytes have collected
 * (out_end_call): the view prints in many small pieces, and stdio's
 * per-call cost was a good part of the decoder's time. When the buffer
 * cannot grow, pieces go straight to the stream (nothing is lost).
 */
static bool out_room(cli_ctx *c, size_t n)
{
    if (c->text_cap - c->text_len >= n)
        return true;
    size_t cap = c->text_cap ? c->text_cap : 8192;
    while (cap - c->text_len < n) {
        if (cap > SIZE_MAX / 2)
            return false;
        cap *= 2;
    }
    char *p = realloc(c->text_buf, cap);
    if (!p)
        return false;
    c->text_buf = p;
    c->text_cap = cap;
    return true;
}

/* out_room with its common case inlined where it is called. */
static inline bool out_has_room(cli_ctx *c, size_t n)
{
    return c->text_cap - c->text_len >= n || out_room(c, n);
}

static void out_flush(cli_ctx *c)
{
    if (c->text_len)
        fwrite(c->text_buf, 1, c->text_len, c->out);
    c->text_len = 0;
}

/* The end of a renderer call: its text is written unless the owner of
 * the stream lets it wait for more. */
static void out_end_call(cli_ctx *c)
{
    if (c->text_len > c->text_hold)
        out_flush(c);
}

static void out_write_grow(cli_ctx *c, const void *p, size_t n)
{
    if (!out_room(c, n)) {
        out_flush(c);
        fwrite(p, 1, n, c->out);
        return;
    }
    memcpy(c->text_buf + c->text_len, p, n);
    c->text_len += n;
}

/* The small writes below are inlined where they are called: a literal's
 * length and copy are then worked out by the compiler. */
#if defined(__GNUC__)
#define OUT_INLINE inline __attribute__((always_inline))
#else
#define OUT_INLINE inline
#endif

static OUT_INLINE void out_write(cli_ctx *c, const void *p, size_t n)
{
    if (c->text_cap - c->text_len < n) {
        out_write_grow(c, p, n);
        return;
    }
    memcpy(c->text_buf + c->text_len, p, n);
    c->text_len += n;
}

static OUT_INLINE void out_puts(cli_ctx *c, const char *s)
{
    out_write(c, s, strlen(s));
}

static OUT_INLINE void out_putc(cli_ctx *c, char ch)
{
    if (c->text_len < c->text_cap)
        c->text_buf[c->text_len++] = ch;
    else
        out_write(c, &ch, 1);
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void out_printf(cli_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = c->text_cap - c->text_len;
    int n = vsnprintf(room ? c->text_buf + c->text_len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < room) {
        c->text_len += (size_t)n;
        return;
    }
    va_start(ap, fmt);
    if (out_room(c, (size_t)n + 1)) {
        vsnprintf(c->text_buf + c->text_len, (size_t)n + 1, fmt, ap);
        c->text_len += (size_t)n;
    } else {
        out_flush(c);
        vfprintf(c->out, fmt, ap);
    }
    va_end(ap);
}

/* out_escaped when the buffer cannot take the text: straight to the
 * stream. */
static void out_escaped_direct(cli_ctx *c, const void *data, size_t n, unsigned flags)
{
    out_flush(c);
    at_escape_write(c->out, data, n, flags);
}

/* Escaped text (escape.h), AT_ESC_* @p flags. */
static OUT_INLINE void out_escaped(cli_ctx *c, const void *data, size_t n, unsigned flags)
{
    if (n > SIZE_MAX / 4 || !out_has_room(c, 4 * n)) {
        out_escaped_direct(c, data, n, flags);
        return;
    }
    c->text_len += at_escape_mem(c->text_buf + c->text_len, data, n, flags);
}

static void sgr(cli_ctx *c, const char *seq)
{
    if (c->opt->color && *seq) {
        out_puts(c, seq);
        c->sgr_active = true;
    }
}

static void reset(cli_ctx *c)
{
    if (c->sgr_active)
        out_puts(c, C_RESET);
    c->sgr_active = false;
}

/* Text from the trace, escaped so that it cannot drive the terminal
 * (escape.h: the same escaping as names in messages). */
void cli_put_escaped(FILE *f, const void *data, size_t n)
{
    at_escape_write(f, data, n, 0);
}

static void put_escaped(cli_ctx *c, const void *data, size_t n)
{
    out_escaped(c, data, n, 0);
}

/* The analyzer's sentences: as put_escaped, but a backslash is printed as
 * itself (they name commands such as AT\Q3). */
static void put_prose(cli_ctx *c, const char *s, size_t n)
{
    out_escaped(c, s, n, AT_ESC_KEEP_BACKSLASH);
}

/* A number in decimal: the renderer's most frequent formatting, without
 * printf's format parsing. */
static void put_u64(cli_ctx *c, uint64_t v)
{
    char b[20];
    out_write(c, b, (size_t)(cli_put_uint(b, v) - b));
}

/* A signed number in decimal (printf's "%d"). */
static void put_i64(cli_ctx *c, int64_t v)
{
    if (v < 0)
        out_putc(c, '-');
    put_u64(c, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
}

/* @p v in @p width digits with leading zeros (printf's "%04u"). */
static void put_zero_padded(cli_ctx *c, uint64_t v, size_t width)
{
    char b[20];
    size_t n = (size_t)(cli_put_uint(b, v) - b);
    for (size_t i = n; i < width; i++)
        out_putc(c, '0');
    out_write(c, b, n);
}

/* "N byte" / "N bytes": @p n and the word for its number. */
static void put_count(cli_ctx *c, uint64_t n, const char *one, const char *many)
{
    put_u64(c, n);
    out_putc(c, ' ');
    out_puts(c, n == 1 ? one : many);
}

static void put_spaces(cli_ctx *c, size_t n)
{
    if (out_has_room(c, n)) {
        memset(c->text_buf + c->text_len, ' ', n);
        c->text_len += n;
        return;
    }
    static const char spaces[] = "                                                                ";
    while (n > 0) {
        size_t k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
        out_write(c, spaces, k);
        n -= k;
    }
}

/* @p s left-aligned in a column of @p width (printf's "%-16s"). */
static void put_padded(cli_ctx *c, const char *s, size_t width)
{
    size_t n = strlen(s);
    out_write(c, s, n);
    if (n < width)
        put_spaces(c, width - n);
}

static void put_str(cli_ctx *c, const at_str *s)
{
    if (s->ptr)
        put_escaped(c, s->ptr, s->len);
}

static void indent(cli_ctx *c, unsigned depth)
{
    put_spaces(c, CONTENT_COL + depth * DETAIL_STEP);
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* The secret runs among @p ev's bytes that must not be printed: none
 * with --show-secrets. */
static unsigned withheld(const cli_ctx *c, const at_event *ev, const at_secret **runs)
{
    *runs = NULL;
    if (c->opt->show_secrets || !ev)
        return 0;
    *runs = ev->secrets;
    return ev->n_secrets;
}

/* Whether the core withholds any of @p ev's bytes [off, off + n): the
 * decision is the core's runs, not the kind of unit the bytes are in. */
static bool withheld_at(const cli_ctx *c, const at_event *ev, uint64_t off, uint64_t n)
{
    const at_secret *runs;
    unsigned nr = withheld(c, ev, &runs);
    return nr && at_secret_overlap(runs, nr, off, n) != NULL;
}

/* Trace bytes as escaped text: the one place the text view prints them,
 * private-key bytes replaced by their size and kind. */
static void put_bytes(cli_ctx *c, const at_event *ev, uint64_t off, const void *data,
                      size_t n)
{
    const at_secret *runs;
    unsigned nr = withheld(c, ev, &runs);
    if (!nr) { /* nothing withheld: most elements */
        put_escaped(c, data, n);
        return;
    }
    const uint8_t *p = data;
    while (n) {
        const at_secret *s;
        size_t k = at_secret_piece(runs, nr, off, n, &s);
        if (s) {
            out_putc(c, '[');
            put_count(c, k, "byte", "bytes");
            out_puts(c, " of private key (");
            out_puts(c, at_secret_kind_name(s->kind));
            out_puts(c, "), REDACTED]");
        } else
            put_escaped(c, p, k);
        p += k;
        off += k;
        n -= k;
    }
}

/* @p v in lower-case hex, at least @p width digits (printf's "%08llx"). */
static void put_hex(cli_ctx *c, uint64_t v, int width)
{
    static const char digits[] = "0123456789abcdef";
    char b[16];
    int n = 0;
    do {
        b[sizeof b - 1 - n++] = digits[v & 15];
        v >>= 4;
    } while (v || n < width);
    out_write(c, b + sizeof b - n, (size_t)n);
}

/* A hexdump of @p n bytes at stream offset @p off, 16 bytes a line. */
static void hexdump_plain(cli_ctx *c, unsigned depth, uint64_t off,
                          const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        size_t k = n - i < 16 ? n - i : 16;
        indent(c, depth);
        sgr(c, C_DIM);
        put_hex(c, off + i, 8);
        out_putc(c, ' ');
        for (size_t j = 0; j < 16; j++) {
            if (j == 8)
                out_putc(c, ' ');
            if (j < k) {
                out_putc(c, ' ');
                put_hex(c, p[i + j], 2);
            } else {
                out_puts(c, "   ");
            }
        }
        out_puts(c, "  |");
        for (size_t j = 0; j < k; j++)
            out_putc(c, p[i + j] >= 0x20 && p[i + j] < 0x7f ? p[i + j] : '.');
        out_putc(c, '|');
        reset(c);
        out_putc(c, '\n');
    }
}

/* The hexdump of bytes of @p ev: the one place the text view dumps trace
 * bytes, private-key runs replaced by a line with their size and kind. */
static void hexdump(cli_ctx *c, const at_event *ev, unsigned depth, uint64_t off,
                    const uint8_t *p, size_t n)
{
    if (!p)
        return;
    const at_secret *runs;
    unsigned nr = withheld(c, ev, &runs);
    while (n) {
        const at_secret *s;
        size_t k = at_secret_piece(runs, nr, off, n, &s);
        if (s) {
            indent(c, depth);
            sgr(c, C_YELLOW);
            out_putc(c, '(');
            put_count(c, k, "byte", "bytes");
            out_puts(c, " of private key (");
            out_puts(c, at_secret_kind_name(s->kind));
            out_puts(c, ") at ");
            put_u64(c, off);
            out_puts(c, ", REDACTED; --show-secrets shows them)");
            reset(c);
            out_putc(c, '\n');
        } else {
            hexdump_plain(c, depth, off, p, k);
        }
        p += k;
        off += k;
        n -= k;
    }
}

/* ------------------------------------------------------------------ */
/* Item headers and element lines                                     */
/* ------------------------------------------------------------------ */

static void date_line(cli_ctx *c, uint64_t ts)
{
    int32_t day = cli_day(ts);
    if (day == c->last_day)
        return;
    char d[40];
    cli_fmt_date(ts, d, sizeof d);
    if (c->text_started)
        out_putc(c, '\n');
    sgr(c, C_BOLD);
    out_printf(c, "Date %s (UTC)", d);
    reset(c);
    out_putc(c, '\n');
    c->last_day = day;
    c->text_started = true;
}

/* "<title>  HH:MM:SS.uuuuuu  +S.uuuuuu[  ch N]" after a blank line. */
static void header(cli_ctx *c, cli_chan *ch, uint64_t ts,
                   const char *color, const char *title, const char *suffix)
{
    char clock[40], rel[40];
    c->text_last = ch;
    date_line(c, ts);
    if (c->text_started)
        out_putc(c, '\n');
    c->text_started = true;
    size_t clock_len = cli_fmt_clock(ts, clock, sizeof clock);
    size_t rel_len = cli_fmt_rel((int64_t)(ts - c->t0), rel, sizeof rel);
    sgr(c, color);
    out_puts(c, title);
    out_puts(c, "  ");
    out_write(c, clock, clock_len);
    out_puts(c, "  ");
    out_write(c, rel, rel_len);
    if (ch->channel) {
        out_puts(c, "  ch ");
        put_u64(c, ch->channel);
    }
    if (suffix) {
        out_puts(c, "  ");
        out_puts(c, suffix);
    }
    reset(c);
    out_putc(c, '\n');
}

/* "#<id>", an exchange's title, into @p buf (at least 12 bytes). */
static const char *exchange_title(char *buf, uint32_t id)
{
    buf[0] = '#';
    *cli_put_uint(buf + 1, id) = 0;
    return buf;
}

static bool in_block(const cli_chan *ch)
{
    return ch->text.open_id != 0;
}

/* Makes sure the element about to be printed sits under the right
 * header: the channel's open exchange block, or a header of its own. */
static void place(cli_chan *ch, uint64_t ts, const char *color,
                  const char *title)
{
    cli_ctx *c = ch->ctx;
    if (in_block(ch)) {
        if (c->text_block != ch) {
            char t[16];
            header(c, ch, ch->text.open_ts, C_BOLD, exchange_title(t, ch->text.open_id),
                   "(continued)");
            c->text_block = ch;
        }
        return;
    }
    header(c, ch, ts, color, title, NULL);
    c->text_block = NULL;
}

/* Starts an element line: time column, arrow. The caller prints the rest
 * and the newline. */
static void elem_begin(cli_chan *ch, uint64_t ts, at_dir dir)
{
    cli_ctx *c = ch->ctx;
    /* Margin, time right-aligned in its column, gap (and the arrow
     * without colors): written in place. */
    char t[40];
    size_t tl = 0;
    if (in_block(ch))
        tl = cli_fmt_offset_ms((int64_t)(ts - ch->text.open_ts), t, sizeof t);
    size_t pad = 2 + (tl < TIME_W ? TIME_W - tl : 0);
    size_t n = pad + tl + 2;
    if (!out_has_room(c, n + 3)) {
        put_spaces(c, pad);
        out_write(c, t, tl);
        out_write(c, "  ", 2);
    } else {
        char *o = c->text_buf + c->text_len;
        memset(o, ' ', 2 + TIME_W);
        memcpy(o + pad, t, tl);
        memcpy(o + n - 2, "  ", 2);
        c->text_len += n;
    }
    if (!c->opt->color) {
        out_write(c, dir == AT_DIR_TE_TO_ME ? "-> " : "<- ", 3);
        return;
    }
    sgr(c, dir == AT_DIR_TE_TO_ME ? C_CYAN : C_GREEN);
    out_puts(c, dir == AT_DIR_TE_TO_ME ? "->" : "<-");
    reset(c);
    out_putc(c, ' ');
}

static void tag(cli_ctx *c, const char *color, const char *text)
{
    out_puts(c, "  ");
    sgr(c, color);
    out_putc(c, '(');
    out_puts(c, text);
    out_putc(c, ')');
    reset(c);
}

/* "  (cut: <why>)", red. */
static void cut_tag(cli_ctx *c, at_tok_reason why)
{
    out_puts(c, "  ");
    sgr(c, C_RED);
    out_puts(c, "(cut: ");
    out_puts(c, at_tok_reason_name(why));
    out_putc(c, ')');
    reset(c);
}

/* Marks about how a line token ended: cut at AT_STREAM_LINE_MAX, cut by
 * a gap or the end of the trace, or ended without CR/LF (by the peer's
 * answer: the +++ escape never has one, so it is not marked). */
static void line_flags(cli_ctx *c, const at_event *ev)
{
    if (!ev->tok)
        return;
    uint32_t f = ev->tok->flags;
    if (f & AT_TOKF_TRUNCATED)
        tag(c, C_RED, "line too long: cut");
    if (f & AT_TOKF_INCOMPLETE)
        tag(c, C_RED, "cut");
    else if ((f & AT_TOKF_UNTERMINATED) && ev->kind != AT_EV_INTERMEDIATE)
        tag(c, C_DIM, "no terminator");
}

/* The element's own bytes, with --hex. */
static void elem_hex(const cli_chan *ch, const at_event *ev, unsigned depth)
{
    if (ch->ctx->opt->hex && ev->data)
        hexdump(ch->ctx, ev, depth, ev->span.off, ev->data, ev->len);
}

/* One text line element: "<- text  (tag)". */
static void line_elem(cli_chan *ch, const at_event *ev, const char *color,
                      const char *tagcolor, const char *tagtext)
{
    cli_ctx *c = ch->ctx;
    elem_begin(ch, ev->ts, ev->dir);
    sgr(c, color);
    if (ev->data)
        put_bytes(c, ev, ev->span.off, ev->data, ev->len);
    else if (ev->line.text.ptr)
        put_bytes(c, ev, ev->line.text.span.off, ev->line.text.ptr, ev->line.text.len);
    reset(c);
    if (tagtext)
        tag(c, tagcolor, tagtext);
    line_flags(c, ev);
    out_putc(c, '\n');
}

/* ------------------------------------------------------------------ */
/* Decoded line contents                                              */
/* ------------------------------------------------------------------ */

static void field(cli_ctx *c, unsigned depth, const char *name,
                  const at_str *value)
{
    indent(c, depth);
    put_padded(c, name, 16);
    put_str(c, value);
    out_putc(c, '\n');
}

static void result_detail(cli_ctx *c, unsigned depth, const at_result *r)
{
    indent(c, depth);
    out_puts(c, at_result_name(r->kind));
    if (r->has_code) {
        const char *meaning = cli_result_meaning(r);
        out_putc(c, ' ');
        put_u64(c, r->code);
        if (meaning) {
            out_puts(c, ": ");
            out_puts(c, meaning);
        }
    } else if (r->text.ptr && r->text.len) {
        out_puts(c, " ");
        put_str(c, &r->text);
    }
    if (r->numeric)
        out_puts(c, " (numeric form)");
    out_putc(c, '\n');
}

/* "YYYY-MM-DD\n" (printf's "%04u-%02u-%02u\n"). */
static void put_date(cli_ctx *c, unsigned year, unsigned month, unsigned day)
{
    put_zero_padded(c, year, 4);
    out_putc(c, '-');
    put_zero_padded(c, month, 2);
    out_putc(c, '-');
    put_zero_padded(c, day, 2);
    out_putc(c, '\n');
}

static void sbnr_detail(cli_ctx *c, unsigned depth, const at_sbnr *b)
{
    indent(c, depth);
    out_puts(c, "^SBNR index ");
    put_u64(c, b->index);
    out_puts(c, ": ");
    switch (b->kind) {
    case AT_SBNR_EMPTY:
        out_puts(c, "empty\n");
        return;
    case AT_SBNR_CORRUPTED:
        sgr(c, C_RED);
        out_puts(c, "certificate is corrupted");
        reset(c);
        out_putc(c, '\n');
        return;
    case AT_SBNR_ENTRY:
        break;
    }
    out_puts(c, "certificate of ");
    put_u64(c, b->size);
    out_puts(c, " bytes\n");
    field(c, depth + 1, "issuer", &b->issuer);
    field(c, depth + 1, "serial number", &b->serial);
    field(c, depth + 1, "subject", &b->subject);
    field(c, depth + 1, "signature", &b->signature);
    indent(c, depth + 1);
    put_padded(c, "thumbprint", 16);
    put_str(c, &b->thumb_alg);
    out_putc(c, ' ');
    put_str(c, &b->thumbprint);
    out_putc(c, '\n');
    if (b->has_expiry) {
        indent(c, depth + 1);
        put_padded(c, "expiry date", 16);
        put_date(c, b->expiry_year, b->expiry_month, b->expiry_day);
    }
}

static void ciev_cert_detail(cli_ctx *c, unsigned depth,
                             const at_ciev_is_cert *v)
{
    indent(c, depth);
    out_puts(c, "+CIEV is_cert: server certificate of service profile ");
    put_u64(c, v->srv_profile);
    out_putc(c, '\n');
    field(c, depth + 1, "issuer", &v->issuer);
    field(c, depth + 1, "serial number", &v->serial);
    field(c, depth + 1, "subject", &v->subject);
    field(c, depth + 1, "signature", &v->sig_alg);
    indent(c, depth + 1);
    put_padded(c, "thumbprint", 16);
    put_str(c, &v->thumb_alg);
    out_putc(c, ' ');
    put_str(c, &v->thumbprint);
    out_putc(c, '\n');
}

static void sis_detail(cli_ctx *c, unsigned depth, const at_sis *s)
{
    indent(c, depth);
    out_puts(c, "^SIS service profile ");
    put_u64(c, s->srv_profile);
    out_puts(c, ", cause ");
    put_u64(c, s->urc_cause);
    if (s->has_info_id) {
        const char *m = at_sis_info_text(s->info_id);
        out_puts(c, ", info ");
        put_u64(c, s->info_id);
        if (m) {
            out_puts(c, ": ");
            sgr(c, at_sis_info_is_tls(s->info_id) ? C_YELLOW : "");
            out_puts(c, m);
            reset(c);
        }
        if (at_sis_info_is_tls(s->info_id))
            out_puts(c, " (TLS)");
    }
    out_putc(c, '\n');
    if (s->has_info_text) {
        indent(c, depth + 1);
        out_puts(c, "info text \"");
        put_str(c, &s->info_text);
        out_puts(c, "\"\n");
    }
}

static void line_detail(cli_ctx *c, unsigned depth, const at_line_info *li,
                        bool urc)
{
    switch (li->kind) {
    case AT_LK_TEXT:
        break;
    case AT_LK_RESULT:
        /* The line says it all unless it is a number. */
        if (li->u.result.numeric || li->u.result.has_code)
            result_detail(c, depth, &li->u.result);
        break;
    case AT_LK_SECURE:
        indent(c, depth);
        out_puts(c, "secure command: ");
        sgr(c, li->u.secure == AT_SEC_END_OK || li->u.secure == AT_SEC_READY
                   ? C_GREEN : C_RED);
        out_puts(c, at_secure_result_name(li->u.secure));
        reset(c);
        out_putc(c, '\n');
        break;
    case AT_LK_SBNR:
        sbnr_detail(c, depth, &li->u.sbnr);
        break;
    case AT_LK_CIEV_IS_CERT:
        ciev_cert_detail(c, depth, &li->u.ciev_cert);
        break;
    case AT_LK_CIEV:
        indent(c, depth);
        out_puts(c, "+CIEV indicator ");
        put_str(c, &li->u.ciev.name);
        out_puts(c, ": ");
        put_str(c, &li->u.ciev.rest);
        out_putc(c, '\n');
        break;
    case AT_LK_SIS:
        sis_detail(c, depth, &li->u.sis);
        break;
    case AT_LK_SIS_RW: {
        const at_sis_rw *rw = &li->u.sis_rw;
        indent(c, depth);
        put_str(c, &li->prefix);
        out_puts(c, " service profile ");
        put_u64(c, rw->srv_profile);
        if (urc) {
            out_puts(c, ", cause ");
            put_u64(c, rw->count);
        } else if (rw->count_negative == -1) {
            out_puts(c, ": -1, data size not known yet");
        } else if (rw->count_negative == -2) {
            out_puts(c, ": -2, end of data");
        } else if (rw->count_negative) {
            out_puts(c, ": ");
            put_i64(c, rw->count_negative);
        } else {
            out_puts(c, ": ");
            put_count(c, rw->count, "byte", "bytes");
        }
        if (rw->has_unack) {
            out_puts(c, ", ");
            put_u64(c, rw->unack);
            out_puts(c, " unacknowledged");
        }
        out_putc(c, '\n');
        break;
    }
    case AT_LK_IMEI:
        indent(c, depth);
        out_puts(c, "IMEI ");
        put_str(c, &li->u.imei);
        out_putc(c, '\n');
        break;
    }
    if (li->parse_error) {
        indent(c, depth);
        sgr(c, C_RED);
        out_puts(c, "malformed ");
        if (li->prefix.ptr)
            put_str(c, &li->prefix);
        else
            out_puts(c, "line");
        out_puts(c, ": unexpected byte at offset ");
        put_u64(c, li->err_off);
        reset(c);
        out_putc(c, '\n');
    }
}

/* Whether @p ev's bytes hold private-key bytes the view must not print:
 * then its decoded fields, which would quote them, are left out too. */
static bool fields_withheld(cli_ctx *c, const at_event *ev)
{
    const at_secret *runs;
    if (!withheld(c, ev, &runs))
        return false;
    indent(c, 0);
    out_puts(c, "(decoded fields not shown: the element holds private-key bytes)\n");
    return true;
}

/* A line event's decoded fields. */
static void event_detail(cli_ctx *c, const at_event *ev, bool urc)
{
    if (!fields_withheld(c, ev))
        line_detail(c, 0, &ev->line, urc);
}

/* ------------------------------------------------------------------ */
/* Commands                                                           */
/* ------------------------------------------------------------------ */

static void command_detail(cli_ctx *c, const at_exchange *x)
{
    if (!x->parse_ok) {
        indent(c, 0);
        sgr(c, C_RED);
        out_puts(c, "not a parsable command line");
        reset(c);
        out_putc(c, '\n');
        return;
    }
    if (x->cmdline.n_cmds == 0) {
        indent(c, 0);
        out_puts(c, "no command (attention only)\n");
    }
    for (unsigned i = 0; i < x->cmdline.n_cmds; i++) {
        const at_command *cmd = &x->cmdline.cmds[i];
        indent(c, 0);
        sgr(c, C_BOLD);
        put_str(c, &cmd->name);
        reset(c);
        out_putc(c, ' ');
        out_puts(c, at_cmd_type_name(cmd->type));
        if (cmd->basic_value.ptr) {
            out_putc(c, ' ');
            put_str(c, &cmd->basic_value);
        }
        for (unsigned k = 0; k < cmd->n_params; k++) {
            out_puts(c, k == 0 ? ": " : ", ");
            if (cmd->param_quoted[k])
                out_putc(c, '"');
            put_str(c, &cmd->params[k]);
            if (cmd->param_quoted[k])
                out_putc(c, '"');
        }
        if (cmd->params_dropped)
            out_puts(c, ", ... (more parameters not listed)");
        out_putc(c, '\n');
    }
    if (x->cmdline.cmds_dropped) {
        indent(c, 0);
        out_puts(c, "... (more commands not listed)\n");
    }
    if (x->secure) {
        indent(c, 0);
        out_puts(c, "starts a secure-command transfer\n");
    }
}

/* ------------------------------------------------------------------ */
/* Frames                                                             */
/* ------------------------------------------------------------------ */

/* @p d: the analyzer's details when @p u is the unit they describe. */
static void unit_value(cli_ctx *c, const at_event *ev, const at_frame_unit *u,
                       const at_frame_details *d)
{
    size_t n = u->value_len;
    const at_frame *f = ev->frame;
    switch (u->param_id) {
    case AT_PARAM_INDEX:
        if (u->has_number) {
            put_u64(c, u->number);
        } else {
            put_count(c, n, "byte", "bytes");
            out_puts(c, " (not a 2-byte index)");
        }
        break;
    case AT_PARAM_CERT:
        put_count(c, n, "byte", "bytes");
        if (d && d->has_cert && !d->cert_ok) {
            out_puts(c, ", ");
            sgr(c, C_RED);
            out_puts(c, d->cert_is_pem ? "PEM text, not DER (the module wants DER)"
                                 : "not a DER certificate");
            reset(c);
        }
        break;
    case AT_PARAM_KEY:
        put_count(c, n, "byte", "bytes");
        if (d && d->has_key && d->key_ok) {
            out_puts(c, ", ");
            out_puts(c, d->key.type);
            out_putc(c, ' ');
            put_i64(c, d->key.bits);
            out_puts(c, " (");
            out_puts(c, d->key.container);
            out_putc(c, ')');
        } else if (d && d->has_key) {
            out_puts(c, ", ");
            sgr(c, C_RED);
            out_puts(c, "not a PKCS#8 or PKCS#1 DER private key");
            reset(c);
        }
        if (withheld_at(c, ev, u->value_span.off, u->value_len)) {
            out_puts(c, ", ");
            sgr(c, C_BOLD_YELLOW);
            out_puts(c, "REDACTED");
            reset(c);
        }
        break;
    case AT_PARAM_IMEI:
    case AT_PARAM_THUMBPRINT:
    case AT_PARAM_MODE:
        if (u->value) {
            out_putc(c, '"');
            put_bytes(c, ev, u->value_span.off, u->value, u->text_len);
            out_putc(c, '"');
        }
        break;
    case AT_PARAM_SIGNATURE: {
        if (u->base64) {
            put_u64(c, u->text_len);
            out_puts(c, " characters of base64");
        } else if (f->sig_kind == AT_SIG_RAW_DIGEST) { /* a READ response's raw digest */
            put_u64(c, n);
            out_puts(c, n == 20 ? " bytes, raw (SHA-1-sized digest, not base64 text)"
                                : " bytes, raw (SHA-256-sized digest, not base64 text)");
        } else {
            put_count(c, n, "byte", "bytes");
            out_puts(c, " (not base64 text)");
        }
        break;
    }
    default:
        put_count(c, n, "byte", "bytes");
        break;
    }
    if (u->param_len >= AT_FRAME_UNIT_HEADER_LEN && !u->whole) {
        out_puts(c, " (cut: ");
        put_u64(c, u->value_len);
        out_puts(c, " of ");
        put_u64(c, (unsigned)(u->param_len - AT_FRAME_UNIT_HEADER_LEN));
        out_puts(c, " value bytes present)");
    }
}

/* The certificate in the module's ^SBNR terms, under its unit. */
static void cert_summary(cli_ctx *c, unsigned depth, const at_cert_summary *s)
{
    indent(c, depth);
    put_padded(c, "issuer", 16);
    put_escaped(c, s->issuer, strlen(s->issuer));
    out_putc(c, '\n');
    indent(c, depth);
    put_padded(c, "serial number", 16);
    out_puts(c, s->serial);
    out_putc(c, '\n');
    indent(c, depth);
    put_padded(c, "subject", 16);
    put_escaped(c, s->subject, strlen(s->subject));
    out_putc(c, '\n');
    indent(c, depth);
    put_padded(c, "signature", 16);
    out_puts(c, s->sig_alg);
    out_putc(c, '\n');
    indent(c, depth);
    put_padded(c, "thumbprint", 16);
    out_puts(c, s->thumb_alg);
    out_putc(c, ' ');
    out_puts(c, s->thumbprint);
    out_putc(c, '\n');
    if (s->expiry_year) {
        indent(c, depth);
        put_padded(c, "expiry date", 16);
        if (s->expiry_year > 0 && s->expiry_month >= 0 && s->expiry_day >= 0)
            put_date(c, (unsigned)s->expiry_year, (unsigned)s->expiry_month,
                     (unsigned)s->expiry_day);
        else /* not a date a certificate holds; printed as printf would */
            out_printf(c, "%04d-%02d-%02d\n", s->expiry_year, s->expiry_month,
                       s->expiry_day);
    }
    indent(c, depth);
    put_padded(c, "public key", 16);
    out_puts(c, s->key_type);
    out_putc(c, ' ');
    put_i64(c, s->key_bits);
    out_putc(c, '\n');
}

/* Whether the index-0 WRITE's key belongs to its certificate. */
static void key_cert_match(cli_ctx *c, unsigned depth, const at_frame_details *d)
{
    if (!d->has_cert || !d->cert_ok || !d->has_key || !d->key_ok)
        return;
    indent(c, depth);
    if (d->key_matches_cert) {
        sgr(c, C_GREEN);
        out_puts(c, "belongs to the certificate in this frame");
    } else {
        sgr(c, C_RED);
        out_puts(c, "does NOT belong to the certificate in this frame");
    }
    reset(c);
    out_putc(c, '\n');
}

/* The signature verdict, under the signature unit. */
static void sig_verdict(cli_ctx *c, unsigned depth, const at_frame *f,
                        const at_frame_details *d)
{
    const at_sig_verdict *v = &d->sig;
    if (!v->present || f->sig_kind == AT_SIG_RAW_DIGEST)
        return;
    const char *src = d->verify_source ? d->verify_source : "unknown";
    indent(c, depth);
    if (!v->base64_ok) {
        sgr(c, C_RED);
        out_puts(c, "not base64 text: the signature cannot be checked");
    } else if (!d->sig_checked || v->key_len == 0) {
        sgr(c, C_YELLOW);
        out_puts(c, "RSA PKCS#1 v1.5, ");
        put_u64(c, v->sig_len);
        out_puts(c, " bytes: not checked (no key known; "
                    "--client-cert FILE gives the client certificate)");
    } else if (!v->length_ok) {
        sgr(c, C_RED);
        out_puts(c, "RSA PKCS#1 v1.5: does NOT match: ");
        put_u64(c, v->sig_len);
        out_puts(c, "-byte signature, ");
        put_u64(c, v->key_len);
        out_puts(c, "-byte key (key: ");
        out_puts(c, src);
        out_putc(c, ')');
    } else if (!v->recovered) {
        sgr(c, C_RED);
        out_puts(c, "RSA PKCS#1 v1.5: does NOT match: no valid type-1 padding (key: ");
        out_puts(c, src);
        out_putc(c, ')');
    } else if (v->digest_len != AT_DIGEST_SHA1 && v->digest_len != AT_DIGEST_SHA256) {
        sgr(c, C_RED);
        out_puts(c, "RSA PKCS#1 v1.5 over a ");
        put_u64(c, v->digest_len);
        out_puts(c, "-byte digest (neither SHA-1 nor SHA-256): does NOT match (key: ");
        out_puts(c, src);
        out_putc(c, ')');
    } else {
        out_puts(c, "RSA PKCS#1 v1.5 over ");
        out_puts(c, v->digest_name ? v->digest_name : "unknown");
        out_puts(c, " of the region: ");
        sgr(c, v->matches ? C_BOLD_GREEN : C_BOLD_RED);
        out_puts(c, v->matches ? "matches" : "does NOT match");
        reset(c);
        out_puts(c, " (key: ");
        out_puts(c, src);
        out_putc(c, ')');
    }
    reset(c);
    out_putc(c, '\n');
}

static void span_hex(cli_ctx *c, const at_event *ev, unsigned depth,
                     uint64_t off, uint64_t len)
{
    if (len == 0)
        return;
    hexdump(c, ev, depth, off, cli_event_bytes(ev, off, (size_t)len), (size_t)len);
}

static void frame_details(const cli_chan *ch, const at_event *ev)
{
    cli_ctx *c = ch->ctx;
    const at_frame *f = ev->frame;
    const at_frame_details *d = cli_frame_details(ch, ev);
    bool hex = c->opt->hex;
    uint64_t base = f->span.off;
    const char *cmd = at_cmd_name(f->cmd_id);
    uint64_t hdr_len = f->bytes_present < AT_FRAME_HEADER_LEN ? f->bytes_present
                                                              : AT_FRAME_HEADER_LEN;

    indent(c, 0);
    put_padded(c, "TotalLen", 10);
    put_u64(c, f->total_len);
    out_putc(c, '\n');
    indent(c, 0);
    put_padded(c, "CmdId", 10);
    put_u64(c, f->cmd_id);
    out_puts(c, " (");
    out_puts(c, cmd ? cmd : "unknown");
    out_puts(c, ")\n");
    indent(c, 0);
    put_padded(c, "ParamNum", 10);
    put_u64(c, f->param_num);
    out_putc(c, '\n');
    if (hex)
        span_hex(c, ev, 1, base, hdr_len);

    for (unsigned i = 0; i < f->n_units; i++) {
        const at_frame_unit *u = &f->units[i];
        const char *name = at_param_name(u->param_id);
        indent(c, 0);
        out_puts(c, "unit ");
        put_u64(c, i + 1);
        out_puts(c, " at ");
        put_u64(c, u->span.off);
        out_puts(c, ": ");
        if (name) {
            out_puts(c, name);
        } else {
            out_puts(c, "unknown ParamId ");
            put_u64(c, u->param_id);
        }
        out_puts(c, ", ParamLen ");
        put_u64(c, u->param_len);
        out_puts(c, ": ");
        /* The analyzer describes the first unit of each ParamId. */
        bool described = d && u->param_id <= AT_PARAM_ID_MAX_ &&
                         f->unit_of[u->param_id] == (int)i;
        unit_value(c, ev, u, described ? d : NULL);
        out_putc(c, '\n');
        if (described && u->param_id == AT_PARAM_CERT && d->has_cert && d->cert_ok)
            cert_summary(c, 1, &d->cert);
        if (described && u->param_id == AT_PARAM_KEY)
            key_cert_match(c, 1, d);
        if (described && u->param_id == AT_PARAM_SIGNATURE)
            sig_verdict(c, 1, f, d);
        if (!hex)
            continue;
        /* A key unit the core withholds: its header, then one line for the
         * value (runs elsewhere in a frame get hexdump's general line). */
        if (u->param_id == AT_PARAM_KEY && withheld_at(c, ev, u->value_span.off, u->value_len)) {
            uint64_t h = u->span.len < AT_FRAME_UNIT_HEADER_LEN ? u->span.len
                                                                : AT_FRAME_UNIT_HEADER_LEN;
            span_hex(c, ev, 1, u->span.off, h);
            indent(c, 1);
            sgr(c, C_YELLOW);
            out_putc(c, '(');
            put_u64(c, u->value_len);
            out_puts(c, " key bytes redacted; --show-secrets shows them)");
            reset(c);
            out_putc(c, '\n');
        } else {
            span_hex(c, ev, 1, u->span.off, u->span.len);
        }
    }

    /* Bytes inside the frame that no unit covers. */
    if (f->after_units.len) {
        indent(c, 0);
        put_count(c, f->after_units.len, "byte", "bytes");
        out_puts(c, " after the last unit\n");
        if (hex)
            span_hex(c, ev, 1, f->after_units.off, f->after_units.len);
    }

    if (f->signed_region.len) {
        indent(c, 0);
        out_puts(c, "signed region: ");
        put_u64(c, f->signed_region.len);
        out_puts(c, " bytes at ");
        put_u64(c, f->signed_region.off);
        out_putc(c, '\n');
    }
    if (f->trailing.len) {
        indent(c, 0);
        out_puts(c, "trailing: ");
        put_count(c, f->trailing.len, "byte", "bytes");
        out_puts(c, " at ");
        put_u64(c, f->trailing.off);
        out_puts(c, " after TotalLen\n");
        if (hex)
            span_hex(c, ev, 1, f->trailing.off, f->trailing.len);
    }
    if (ev->tok && (ev->tok->flags & AT_TOKF_FLUSHED)) {
        indent(c, 0);
        out_puts(c, "ended by the module's answer before TotalLen bytes arrived\n");
    }
    for (unsigned i = 0; i < f->n_problems; i++) {
        const at_frame_problem *p = &f->problems[i];
        indent(c, 0);
        sgr(c, C_RED);
        out_puts(c, "problem ");
        out_puts(c, at_frame_problem_name(p->code));
        out_puts(c, " at ");
        put_u64(c, p->off);
        out_puts(c, " (detail ");
        put_u64(c, p->detail);
        out_puts(c, "): ");
        out_puts(c, at_frame_problem_text(p->code));
        reset(c);
        out_putc(c, '\n');
    }
    if (f->problems_dropped) {
        indent(c, 0);
        sgr(c, C_RED);
        out_puts(c, "... and ");
        put_u64(c, f->problems_dropped);
        out_puts(c, plural(f->problems_dropped, " more problem not listed",
                           " more problems not listed"));
        reset(c);
        out_putc(c, '\n');
    }
}

static void frame_elem(cli_chan *ch, const at_event *ev)
{
    cli_ctx *c = ch->ctx;
    const at_frame *f = ev->frame;
    place(ch, ev->ts, C_BOLD, "FRAME");
    elem_begin(ch, ev->ts, ev->dir);
    sgr(c, C_BOLD);
    out_puts(c, "secure-command frame");
    reset(c);
    if (f) {
        out_puts(c, ", ");
        put_count(c, f->span.len, "byte", "bytes");
        out_puts(c, " at ");
        put_u64(c, f->span.off);
    }
    if (f && (f->n_problems || f->problems_dropped)) {
        char t[48];
        unsigned n = f->n_problems + f->problems_dropped;
        char *e = cli_put_uint(t, n);
        const char *word = plural(n, " problem", " problems");
        memcpy(e, word, strlen(word) + 1);
        tag(c, C_BOLD_RED, t);
    }
    if (ev->invalid_reason != AT_TR_NONE)
        cut_tag(c, ev->invalid_reason);
    out_putc(c, '\n');
    if (f)
        frame_details(ch, ev);
    else
        elem_hex(ch, ev, 0);
}

/* ------------------------------------------------------------------ */
/* Payload and transparent runs                                       */
/* ------------------------------------------------------------------ */

static const char *run_name(at_event_kind k)
{
    return k == AT_EV_TRANSPARENT ? "transparent data" : "payload";
}

static void run_flush(cli_chan *ch, at_dir dir)
{
    cli_ctx *c = ch->ctx;
    cli_run *r = &ch->text.run[dir];
    if (!r->active)
        return;
    place(ch, r->ts, C_BOLD, "DATA");
    elem_begin(ch, r->ts, dir);
    out_puts(c, run_name(r->kind));
    out_puts(c, ": ");
    put_u64(c, r->bytes);
    out_puts(c, plural(r->bytes, " byte at ", " bytes at "));
    put_u64(c, r->off);
    if (r->cut != AT_TR_NONE)
        cut_tag(c, r->cut);
    out_putc(c, '\n');
    r->active = false;
}

static void run_block(cli_chan *ch, const at_event *ev)
{
    cli_ctx *c = ch->ctx;
    at_dir dir = ev->dir;
    cli_run *r = &ch->text.run[dir];
    if (r->active && r->kind != ev->kind)
        run_flush(ch, dir);
    if (!r->active) {
        r->active = true;
        r->kind = ev->kind;
        r->off = ev->span.off;
        r->bytes = 0;
        r->ts = ev->ts;
        r->cut = AT_TR_NONE;
    }
    r->bytes += ev->len;
    if (ev->invalid_reason != AT_TR_NONE)
        r->cut = ev->invalid_reason;
    if (c->opt->hex) {
        place(ch, ev->ts, C_BOLD, "DATA");
        elem_begin(ch, ev->ts, dir);
        out_puts(c, run_name(ev->kind));
        out_puts(c, " block: ");
        put_count(c, ev->len, "byte", "bytes");
        out_puts(c, " at ");
        put_u64(c, ev->span.off);
        out_putc(c, '\n');
        elem_hex(ch, ev, 0);
    }
    if (ev->last_block || ev->invalid_reason != AT_TR_NONE)
        run_flush(ch, dir);
}

/* ------------------------------------------------------------------ */
/* Events                                                             */
/* ------------------------------------------------------------------ */

static void command_elem(cli_chan *ch, const at_event *ev)
{
    cli_ctx *c = ch->ctx;
    const at_exchange *x = ev->exchange;
    char title[32];
    uint64_t ts = x ? x->ts_start : ev->ts;

    run_flush(ch, AT_DIR_TE_TO_ME);
    run_flush(ch, AT_DIR_ME_TO_TE);
    header(c, ch, ts, C_BOLD, exchange_title(title, x ? x->id : 0u), NULL);
    ch->text.open_id = x ? x->id : UINT32_MAX;
    ch->text.open_ts = ts;
    c->text_block = ch;

    elem_begin(ch, ev->ts, AT_DIR_TE_TO_ME);
    sgr(c, C_BOLD);
    if (ev->data)
        put_bytes(c, ev, ev->span.off, ev->data, ev->len);
    else if (x)
        put_bytes(c, ev, x->line.span.off, x->line.ptr, x->line.len);
    reset(c);
    line_flags(c, ev);
    out_putc(c, '\n');
    if (x && !fields_withheld(c, ev))
        command_detail(c, x);
    elem_hex(ch, ev, 0);
}

static void end_elem(cli_chan *ch, const at_event *ev)
{
    cli_ctx *c = ch->ctx;
    const at_exchange *x = ev->exchange;
    char dur[48];

    run_flush(ch, AT_DIR_TE_TO_ME);
    run_flush(ch, AT_DIR_ME_TO_TE);
    place(ch, ev->ts, C_BOLD, "END");
    bool failed = x && cli_exchange_failed(x);
    if (ev->data && ev->len) {
        line_elem(ch, ev, failed ? C_RED : "", NULL, NULL);
        if (ev->line.kind == AT_LK_RESULT &&
            (ev->line.u.result.has_code || ev->line.u.result.numeric)) {
            if (!fields_withheld(c, ev))
                result_detail(c, 0, &ev->line.u.result);
        } else if (ev->line.kind != AT_LK_RESULT)
            event_detail(c, ev, false);
        elem_hex(ch, ev, 0);
    }

    cli_fmt_duration(ev->duration_ns, dur, sizeof dur);
    indent(c, 0);
    out_puts(c, "= ");
    if (x && x->has_final) {
        sgr(c, failed ? C_BOLD_RED : C_BOLD_GREEN);
        out_puts(c, at_result_name(x->final.kind));
        if (x->final.has_code) {
            out_putc(c, ' ');
            put_u64(c, x->final.code);
        }
        reset(c);
    } else {
        sgr(c, C_BOLD_YELLOW);
        out_puts(c, "no final result");
        reset(c);
        if (x) {
            out_puts(c, " (");
            out_puts(c, at_end_reason_name(x->end_reason));
            out_putc(c, ')');
        }
    }
    if (x && x->secure) {
        out_puts(c, ", secure command ");
        sgr(c, x->secure_result == AT_SEC_END_OK ? C_GREEN : C_RED);
        out_puts(c, x->secure_result == AT_SEC_NONE ? "without result"
                                               : at_secure_result_name(x->secure_result));
        reset(c);
    }
    if (x && (x->payload_bytes[0] || x->payload_bytes[1])) {
        out_puts(c, ", data ");
        put_u64(c, x->payload_bytes[0]);
        out_puts(c, " sent / ");
        put_u64(c, x->payload_bytes[1]);
        out_puts(c, " received");
    }
    out_puts(c, " in ");
    out_puts(c, dur);
    out_putc(c, '\n');

    ch->text.open_id = 0;
    c->text_block = NULL;
}

static void urc_elem(cli_chan *ch, const at_event *ev)
{
    cli_ctx *c = ch->ctx;
    bool inside = in_block(ch);
    place(ch, ev->ts, C_BOLD_YELLOW, "URC");
    line_elem(ch, ev, C_YELLOW, C_BOLD_YELLOW, inside ? "URC" : NULL);
    event_detail(c, ev, true);
    elem_hex(ch, ev, 0);
}

static void unexpected_elem(cli_chan *ch, const at_event *ev)
{
    cli_ctx *c = ch->ctx;
    place(ch, ev->ts, C_BOLD_MAGENTA, "UNEXPECTED");
    line_elem(ch, ev, C_MAGENTA, C_MAGENTA,
              ev->dir == AT_DIR_TE_TO_ME ? "not a command" : "unexpected");
    event_detail(c, ev, false);
    elem_hex(ch, ev, 0);
}

static void invalid_elem(cli_chan *ch, const at_event *ev)
{
    cli_ctx *c = ch->ctx;
    place(ch, ev->ts, C_BOLD_RED, "INVALID");
    elem_begin(ch, ev->ts, ev->dir);
    sgr(c, C_RED);
    if (ev->span.len == 0 && ev->invalid_reason == AT_TR_CUT_BY_GAP) {
        out_puts(c, "bytes lost at ");
        put_u64(c, ev->span.off);
        out_puts(c, " (gap in the trace)");
    } else {
        put_u64(c, ev->span.len);
        out_puts(c, plural(ev->span.len, " undecodable byte at ", " undecodable bytes at "));
        put_u64(c, ev->span.off);
        out_puts(c, ": ");
        out_puts(c, at_tok_reason_name(ev->invalid_reason));
    }
    reset(c);
    out_putc(c, '\n');
    elem_hex(ch, ev, 0);
}

static void render_event(cli_chan *ch, const at_event *ev)
{
    cli_ctx *c = ch->ctx;
    switch (ev->kind) {
    case AT_EV_COMMAND:
        command_elem(ch, ev);
        break;
    case AT_EV_ECHO:
        place(ch, ev->ts, C_BOLD, "ECHO");
        line_elem(ch, ev, C_DIM, C_DIM, "echo");
        elem_hex(ch, ev, 0);
        break;
    case AT_EV_RESPONSE:
        place(ch, ev->ts, C_BOLD, "RESPONSE");
        line_elem(ch, ev, "", NULL, NULL);
        event_detail(c, ev, false);
        elem_hex(ch, ev, 0);
        break;
    case AT_EV_INTERMEDIATE:
        place(ch, ev->ts, C_BOLD, "INTERMEDIATE");
        line_elem(ch, ev, C_BOLD, C_DIM, "intermediate");
        if (ev->line.kind != AT_LK_RESULT || ev->line.u.result.text.len)
            event_detail(c, ev, false);
        elem_hex(ch, ev, 0);
        break;
    case AT_EV_SECURE_RESULT:
        place(ch, ev->ts, C_BOLD, "SECURE RESULT");
        line_elem(ch, ev, C_BOLD, NULL, NULL);
        event_detail(c, ev, false);
        elem_hex(ch, ev, 0);
        break;
    case AT_EV_FRAME:
        frame_elem(ch, ev);
        break;
    case AT_EV_PAYLOAD:
    case AT_EV_TRANSPARENT:
        run_block(ch, ev);
        break;
    case AT_EV_END:
        end_elem(ch, ev);
        break;
    case AT_EV_URC:
        urc_elem(ch, ev);
        break;
    case AT_EV_UNEXPECTED:
        unexpected_elem(ch, ev);
        break;
    case AT_EV_INVALID:
        invalid_elem(ch, ev);
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Findings                                                           */
/* ------------------------------------------------------------------ */

/* Length of a NUL-terminated text in a fixed array. */
static size_t nul_len(const char *s, size_t cap)
{
    const char *z = memchr(s, 0, cap);
    return z ? (size_t)(z - s) : cap;
}

static const char *severity_color(at_severity s)
{
    switch (s) {
    case AT_SEV_ERROR: return C_BOLD_RED;
    case AT_SEV_WARNING: return C_BOLD_YELLOW;
    case AT_SEV_INFO: return C_BOLD;
    }
    return "";
}

static void render_findings(cli_chan *ch, const at_finding *f, size_t n, bool after_event)
{
    cli_ctx *c = ch->ctx;
    if (!n)
        return;
    /* Right under the item just printed; else in the channel's open block
     * (continued if need be) or under a header of their own. */
    if (!(after_event && !in_block(ch) && c->text_last == ch))
        place(ch, f[0].ts, severity_color(f[0].severity),
              n == 1 ? "FINDING" : "FINDINGS");
    for (size_t i = 0; i < n; i++) {
        const at_finding *x = &f[i];
        indent(c, 0);
        sgr(c, severity_color(x->severity));
        out_puts(c, at_severity_name(x->severity));
        reset(c);
        out_putc(c, ' ');
        sgr(c, C_BOLD);
        out_puts(c, x->rule ? x->rule : "unknown");
        reset(c);
        out_puts(c, " at ");
        out_puts(c, cli_dir_short(x->dir));
        out_putc(c, '+');
        put_u64(c, x->off);
        out_puts(c, ": ");
        put_prose(c, x->what, nul_len(x->what, sizeof x->what));
        out_putc(c, '\n');
        indent(c, 0);
        out_puts(c, "  fix: ");
        put_prose(c, x->fix, nul_len(x->fix, sizeof x->fix));
        out_putc(c, '\n');
    }
}

/* ------------------------------------------------------------------ */
/* Trace events                                                       */
/* ------------------------------------------------------------------ */

static void line_state(cli_ctx *c, uint16_t st)
{
    size_t n;
    const at_trace_line *lines = at_trace_lines(&n);
    if (st & AT_LINE_UNKNOWN) {
        out_puts(c, "unknown");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (i)
            out_putc(c, ' ');
        if (!(st & lines[i].bit))
            out_putc(c, '-');
        out_puts(c, lines[i].name);
    }
}

static void render_trace_event(cli_ctx *c, cli_chan *ch, const cli_trace_event *te)
{
    const at_trace_record *rec = te->rec;
    at_dir dir = rec->dir == AT_DIR_ME_TO_TE ? AT_DIR_ME_TO_TE : AT_DIR_TE_TO_ME;

    place(ch, rec->ts_ns, C_BOLD_MAGENTA, "EVENT");
    elem_begin(ch, rec->ts_ns, dir);
    sgr(c, C_MAGENTA);
    out_puts(c, "! ");
    switch (te->event) {
    case CLI_TEV_BYTES_MISSING:
        out_puts(c, "bytes missing before record ");
        put_u64(c, rec->record_no);
        break;
    case AT_TEV_OVERRUN:
        if (rec->has_lost) {
            out_puts(c, "overrun: ");
            put_u64(c, rec->lost);
            out_puts(c, " bytes lost");
        } else
            out_puts(c, "overrun: bytes lost");
        break;
    case AT_TEV_LINE_CHANGE:
        out_puts(c, "control lines: ");
        line_state(c, rec->line_state);
        break;
    case AT_TEV_SETTINGS:
        out_puts(c, "settings: ");
        put_escaped(c, rec->payload, rec->len);
        break;
    case AT_TEV_NOTE:
        out_puts(c, "note: ");
        put_escaped(c, rec->payload, rec->len);
        break;
    case AT_TEV_BREAK:
        out_puts(c, "break");
        break;
    case AT_TEV_FRAMING_ERROR:
    case AT_TEV_PARITY_ERROR:
        out_puts(c, te->event == AT_TEV_FRAMING_ERROR ? "framing error" : "parity error");
        for (size_t i = 0; i < rec->len; i++) {
            out_puts(c, i ? " " : ": ");
            put_hex(c, rec->payload[i], 2);
        }
        break;
    default:
        out_puts(c, "trace event ");
        put_u64(c, te->event);
        out_puts(c, " (");
        out_puts(c, at_trace_event_name(te->event));
        out_putc(c, ')');
        break;
    }
    if (te->event != CLI_TEV_BYTES_MISSING && (rec->flags & AT_TFLAG_BYTES_MISSING))
        out_puts(c, ", bytes missing before it");
    reset(c);
    out_putc(c, '\n');
}

static void render_channel_done(cli_chan *ch)
{
    run_flush(ch, AT_DIR_TE_TO_ME);
    run_flush(ch, AT_DIR_ME_TO_TE);
    ch->text.open_id = 0;
}

static void render_summary(cli_ctx *c)
{
    const cli_summary *s = &c->sum;
    if (c->text_started)
        out_putc(c, '\n');
    sgr(c, C_BOLD);
    out_puts(c, "Summary:");
    reset(c);
    out_printf(c, " %llu %s, %u %s; TE->ME %llu %s, ME->TE %llu %s\n",
            (unsigned long long)s->records, plural(s->records, "record", "records"),
            s->channels, plural(s->channels, "channel", "channels"),
            (unsigned long long)s->bytes[0], plural(s->bytes[0], "byte", "bytes"),
            (unsigned long long)s->bytes[1], plural(s->bytes[1], "byte", "bytes"));
    out_printf(c, "         %llu %s (%llu failed, %llu without final result), "
            "%llu %s, %llu %s (%llu with problems)\n",
            (unsigned long long)s->exchanges, plural(s->exchanges, "exchange", "exchanges"),
            (unsigned long long)s->errors, (unsigned long long)s->unanswered,
            (unsigned long long)s->urcs, plural(s->urcs, "URC", "URCs"),
            (unsigned long long)s->frames, plural(s->frames, "frame", "frames"),
            (unsigned long long)s->frames_with_problems);
    out_printf(c, "         %llu invalid %s, %llu unexpected %s, %llu trace %s\n",
            (unsigned long long)s->invalid, plural(s->invalid, "run", "runs"),
            (unsigned long long)s->unexpected, plural(s->unexpected, "line", "lines"),
            (unsigned long long)s->trace_events,
            plural(s->trace_events, "event", "events"));
    uint64_t nf = s->findings[AT_SEV_ERROR] + s->findings[AT_SEV_WARNING] +
                  s->findings[AT_SEV_INFO];
    out_printf(c, "         %llu %s: ", (unsigned long long)nf,
            plural(nf, "finding", "findings"));
    sgr(c, s->findings[AT_SEV_ERROR] ? C_BOLD_RED : "");
    out_printf(c, "%llu %s", (unsigned long long)s->findings[AT_SEV_ERROR],
            plural(s->findings[AT_SEV_ERROR], "error", "errors"));
    reset(c);
    out_printf(c, ", %llu %s, %llu info\n",
            (unsigned long long)s->findings[AT_SEV_WARNING],
            plural(s->findings[AT_SEV_WARNING], "warning", "warnings"),
            (unsigned long long)s->findings[AT_SEV_INFO]);
    if (s->skipped_records)
        out_printf(c, "         %llu %s of further channels skipped\n",
                (unsigned long long)s->skipped_records,
                plural(s->skipped_records, "record", "records"));
    if (s->damaged) {
        sgr(c, C_BOLD_RED);
        const char *why = s->error ? s->error : "damaged trace";
        out_puts(c, "Stopped early: ");
        put_escaped(c, why, strlen(why));
        out_putc(c, '\n');
        reset(c);
    }
}

static void cli_text_unreadable(cli_ctx *c)
{
    (void)c; /* the message on stderr says it all */
}

static void render_rules(cli_ctx *c, const at_rule *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out_printf(c, "%s (%s)\n    %s\n    fix: %s\n", r[i].id,
                at_severity_name(r[i].severity), r[i].summary, r[i].fix);
}

static void cli_text_free(cli_ctx *c)
{
    free(c->text_buf);
    c->text_buf = NULL;
    c->text_len = c->text_cap = 0;
}

/* The table's entries: each call's text goes out in one write, or waits
 * in the buffer as c->text_hold allows. */
static void cli_text_event(cli_chan *ch, const at_event *ev)
{
    render_event(ch, ev);
    out_end_call(ch->ctx);
}

static void cli_text_findings(cli_chan *ch, const at_finding *f, size_t n, bool after_event)
{
    render_findings(ch, f, n, after_event);
    out_end_call(ch->ctx);
}

static void cli_text_trace_event(cli_ctx *c, cli_chan *ch, const cli_trace_event *te)
{
    render_trace_event(c, ch, te);
    out_end_call(c);
}

static void cli_text_channel_done(cli_chan *ch)
{
    render_channel_done(ch);
    out_end_call(ch->ctx);
}

static void cli_text_summary(cli_ctx *c)
{
    render_summary(c);
    out_flush(c);
}

static void cli_text_rules(cli_ctx *c, const at_rule *r, size_t n)
{
    render_rules(c, r, n);
    out_flush(c);
}

const cli_renderer cli_text_renderer = {
    .event = cli_text_event,
    .findings = cli_text_findings,
    .trace_event = cli_text_trace_event,
    .channel_done = cli_text_channel_done,
    .summary = cli_text_summary,
    .unreadable = cli_text_unreadable,
    .rules = cli_text_rules,
    .free = cli_text_free,
    .flush = out_flush,
};
