/*
 * The per-direction tokenizer. See attrace/stream.h for the contract.
 *
 * Chunk-agnosticism is the design constraint everything here serves: a
 * decision never depends on where a feed ends. Whenever the next bytes are
 * needed to decide (is this a frame header? is this LF part of the CR LF?),
 * the bytes are held in the state until enough have arrived, and emitted
 * blocks are cut at fixed offsets within their run, never at feed ends.
 */
#include "attrace/stream.h"

#include "attrace/frame.h"
#include "attrace/lines.h"

#include "bytescan.h"

#include <string.h>

/* Everything below works on the private part of at_stream. */
typedef struct at_stream_priv stream_state;

/* Longest end-of-transparent pattern ("\r\nNO CARRIER\r\n") minus one: the
 * bytes a transparent block holds back until it is known they are data. */
#define TRANSPARENT_HOLD 13u

static const char pat_no_carrier[] = "\r\nNO CARRIER\r\n";
static const char pat_ok[] = "\r\nOK\r\n";
static const char pat_escape[] = "+++";

typedef struct emitter {
    at_token_cb cb;
    void *ctx;
} emitter;

static void process(stream_state *s, const uint8_t *p, size_t n, const emitter *em);

at_stream_config at_stream_default_config(void)
{
    at_stream_config c;
    c.max_frame = AT_STREAM_BIN_MAX;
    return c;
}

void at_stream_init(at_stream *stream, at_dir dir, const at_stream_config *cfg)
{
    stream_state *s = &stream->priv;
    memset(s, 0, sizeof *s);
    s->dir = dir;
    s->cfg = cfg ? *cfg : at_stream_default_config();
    if (s->cfg.max_frame > AT_STREAM_BIN_MAX || s->cfg.max_frame == 0)
        s->cfg.max_frame = AT_STREAM_BIN_MAX;
    if (s->cfg.max_frame < AT_FRAME_HEADER_LEN)
        s->cfg.max_frame = AT_FRAME_HEADER_LEN;
    s->mode = AT_SM_LINE;
}

static void emit(stream_state *s, const emitter *em, at_tok_kind kind,
                 uint32_t flags, at_tok_reason reason, uint64_t off,
                 const uint8_t *data, size_t len, uint64_t ts_first)
{
    at_token t;
    memset(&t, 0, sizeof t);
    t.kind = kind;
    t.dir = s->dir;
    t.flags = flags;
    t.reason = reason;
    t.off = off;
    t.data = data;
    t.len = len;
    t.ts_first = ts_first;
    t.ts_last = s->ts;
    if (em->cb)
        em->cb(em->ctx, &t);
}

/* ------------------------------------------------------------------ */
/* Recognizing the commands and answers that switch modes             */
/* ------------------------------------------------------------------ */

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static bool starts_with_ci(const uint8_t *p, size_t n, const char *lit)
{
    /* One pass, no strlen: called for every line. */
    for (size_t i = 0; lit[i]; i++)
        if (i == n || lower(p[i]) != lower((unsigned char)lit[i]))
            return false;
    return true;
}

/* The last command of a command line ("AT+A;^SISW=1,5" -> "^SISW=1,5"):
 * only the last one can be followed by binary data. */
static const uint8_t *last_command(const uint8_t *p, size_t n, size_t *len)
{
    /* Text before the prefix is ignored by the module: the command after
     * it is what decides (an AT^SBNW after the rest of a timed-out frame),
     * found as the session finds it (most lines start with it). */
    if (n < 2 || lower(p[0]) != 'a' || lower(p[1]) != 't') {
        size_t k = at_command_start(p, n);
        p += k;
        n -= k;
    }
    if (n < 2 || lower(p[0]) != 'a' || lower(p[1]) != 't')
        return NULL;
    size_t start = 2;
    bool quoted = false;
    /* Most command lines hold one command: without a ';' there are no
     * quotes to follow. */
    if (memchr(p + 2, ';', n - 2)) {
        for (size_t i = 2; i < n; i++) {
            if (p[i] == '"')
                quoted = !quoted;
            else if (p[i] == ';' && !quoted)
                start = i + 1;
        }
    }
    while (start < n && p[start] == ' ')
        start++;
    *len = n - start;
    return p + start;
}

/* Parses "<digits>" at p (bounded); returns digits consumed, 0 if none or
 * if the value does not fit a 32-bit count. */
static size_t parse_count(const uint8_t *p, size_t n, uint32_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    while (i < n && p[i] == ' ')
        i++;
    size_t d0 = i;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        v = v * 10 + (uint64_t)(p[i] - '0');
        if (v > UINT32_MAX)
            return 0;
        i++;
    }
    if (i == d0)
        return 0;
    *out = (uint32_t)v;
    return i;
}

/* "^SISW=<id>,<n>" -> n (0 if not that form). */
static uint32_t sisw_count(const uint8_t *cmd, size_t n)
{
    if (!starts_with_ci(cmd, n, "^SISW="))
        return 0;
    cmd += 6;
    n -= 6;
    uint32_t id, count;
    size_t k = parse_count(cmd, n, &id);
    if (!k)
        return 0;
    while (k < n && cmd[k] == ' ')
        k++;
    if (k >= n || cmd[k] != ',')
        return 0;
    k++;
    size_t k2 = parse_count(cmd + k, n - k, &count);
    return k2 ? count : 0;
}

/* Called for each complete TE line: decides what the host sends next. */
static void te_line_done(stream_state *s, const uint8_t *line, size_t len)
{
    size_t clen;
    const uint8_t *cmd = last_command(line, len, &clen);
    /* Every command below is "^S???=", told apart by the three letters
     * between (most lines of a busy trace are one of them). */
    if (!cmd || clen < 6 || cmd[0] != '^' || lower(cmd[1]) != 's' || cmd[5] != '=')
        return;
    int a = lower(cmd[2]), b = lower(cmd[3]), c = lower(cmd[4]);
    if (a == 'b' && b == 'n' && c == 'w') {
        s->mode = AT_SM_FRAME_EXPECT;
    } else if (a == 'i' && b == 's' && c == 't') {
        s->mode = AT_SM_TRANSPARENT;
        s->run_done = 0;
    } else if (a == 'i' && b == 's' && c == 'w') {
        uint32_t count = sisw_count(cmd, clen);
        if (count) {
            s->mode = AT_SM_PAYLOAD;
            s->run_len = count;
            s->run_done = 0;
        }
    }
}

/* Called for each complete ME line. */
static void me_line_done(stream_state *s, const uint8_t *line, size_t len, uint64_t off)
{
    /* The session has parsed the line already, and noted what it found. */
    bool noted = s->note_off == off;
    bool ready = noted && s->note_ready_known
                     ? s->note_ready
                     : at_parse_secure_result((const char *)line, len) == AT_SEC_READY;
    if (ready) {
        s->mode = AT_SM_FRAME_EXPECT;
        return;
    }
    if (s->expect_transparent) {
        at_result r;
        if (at_parse_result((const char *)line, len, 0, false, &r) == AT_OK &&
            r.kind == AT_RES_CONNECT) {
            s->expect_transparent = false;
            s->peer_escaped = false;
            s->mode = AT_SM_TRANSPARENT;
            s->run_done = 0;
        }
        return;
    }
    if (s->expect_sisr && starts_with_ci(line, len, "^SISR:")) {
        at_sis_rw rw;
        s->expect_sisr = false;
        unsigned long count = 0;
        if (noted && s->note_sisr_known)
            count = s->note_sisr_count;
        else if (at_parse_sis_rw((const char *)line, len, 0, &rw, NULL) == AT_OK)
            count = rw.count;
        if (count > 0) {
            s->mode = AT_SM_PAYLOAD;
            s->run_len = count;
            s->run_done = 0;
        }
    }
}

/* The notes about the line at @p off: those about another line are gone. */
static stream_state *notes_of(at_stream *stream, uint64_t off)
{
    stream_state *s = &stream->priv;
    if (s->note_off != off) {
        s->note_off = off;
        s->note_ready_known = false;
        s->note_sisr_known = false;
    }
    return s;
}

void at_stream_note_ready(at_stream *stream, uint64_t off, bool ready)
{
    stream_state *s = notes_of(stream, off);
    s->note_ready_known = true;
    s->note_ready = ready;
}

void at_stream_note_sisr(at_stream *stream, uint64_t off, unsigned long count)
{
    stream_state *s = notes_of(stream, off);
    s->note_sisr_known = true;
    s->note_sisr_count = count;
}

/* ------------------------------------------------------------------ */
/* Line mode                                                          */
/* ------------------------------------------------------------------ */

static void emit_line_reason(stream_state *s, const emitter *em, uint32_t flags,
                             at_tok_reason reason);

static void emit_line(stream_state *s, const emitter *em, uint32_t flags)
{
    emit_line_reason(s, em, flags, AT_TR_NONE);
}

static void emit_line_reason(stream_state *s, const emitter *em, uint32_t flags,
                             at_tok_reason reason)
{
    if (s->line_nontext)
        flags |= AT_TOKF_NONTEXT;
    size_t len = s->line_len;
    uint64_t off = s->line_off;
    s->line_len = 0;
    s->line_nontext = false;
    s->note_ready_known = false;
    s->note_sisr_known = false;
    emit(s, em, AT_TOK_LINE, flags, reason, off, s->line, len, s->line_ts);
    if (s->dir == AT_DIR_TE_TO_ME)
        te_line_done(s, s->line, len);
    else
        me_line_done(s, s->line, len, off);
}

static void emit_discard(stream_state *s, const emitter *em)
{
    emit(s, em, AT_TOK_INVALID, 0, AT_TR_LINE_TOO_LONG, s->discard_off, NULL,
         (size_t)s->discard_len, s->line_ts);
    s->discard_len = 0;
}

/* Consumes bytes in line (or discard) mode; returns how many. Stops early
 * when a completed line switches the mode. */
static size_t feed_line(stream_state *s, const uint8_t *p, size_t n,
                        const emitter *em)
{
    size_t i = 0;
    while (i < n) {
        if (s->after_cr) {
            s->after_cr = false;
            if (p[i] == '\n') {
                i++;
                s->off++;
                continue;
            }
        }
        /* Find the terminator in this chunk, and the first control byte
         * before it (relative to i). */
        size_t ctrl = 0, j = i;
        /* The empty lines of the module's CR LF framing need no search. */
        if (p[i] != '\r' && p[i] != '\n')
            j += at_bytescan_line_stop(p + i, n - i, &ctrl);
        size_t run = j - i;
        bool repeat = false;
        if (s->dir == AT_DIR_TE_TO_ME && s->mode == AT_SM_LINE && s->line_len < 2 &&
            s->line_len + run >= 2) {
            /* V.250: A/ repeats the last command as soon as the '/' arrives,
             * with no terminator. */
            uint8_t c0 = s->line_len ? s->line[0] : p[i];
            uint8_t c1 = s->line_len ? p[i] : p[i + 1];
            if (lower(c0) == 'a' && c1 == '/') {
                repeat = true;
                run = 2 - s->line_len;
                j = i + run;
            }
        }
        if (run) {
            if (s->mode == AT_SM_DISCARD) {
                s->discard_len += run;
            } else {
                if (s->line_len == 0) {
                    s->line_off = s->off;
                    s->line_ts = s->ts;
                }
                size_t room = AT_STREAM_LINE_MAX - s->line_len;
                size_t take = run < room ? run : room;
                if (ctrl < take)
                    s->line_nontext = true;
                memcpy(s->line + s->line_len, p + i, take);
                s->line_len += (uint32_t)take;
                if (take < run) {
                    /* Cut: report the kept part now, count the rest. */
                    uint64_t cut_off = s->line_off + s->line_len;
                    emit_line(s, em, AT_TOKF_TRUNCATED);
                    s->mode = AT_SM_DISCARD;
                    s->discard_off = cut_off;
                    s->discard_len = run - take;
                }
            }
            s->off += run;
            i = j;
        }
        if (repeat) {
            emit_line(s, em, AT_TOKF_UNTERMINATED);
            if (s->mode != AT_SM_LINE)
                return i;
            continue;
        }
        if (j == n)
            break;
        /* Terminator. */
        uint8_t term = p[j];
        i++;
        s->off++;
        s->after_cr = term == '\r';
        if (s->mode == AT_SM_DISCARD) {
            emit_discard(s, em);
            s->mode = AT_SM_LINE;
            continue;
        }
        if (s->line_len == 0)
            continue; /* empty line: the CR LF framing of responses */
        emit_line(s, em, term == '\r' ? AT_TOKF_CR : AT_TOKF_LF);
        if (s->mode != AT_SM_LINE)
            return i;
    }
    return i;
}

/* ------------------------------------------------------------------ */
/* Secure-command frames                                              */
/* ------------------------------------------------------------------ */

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static bool known_cmd(uint16_t c)
{
    return at_cmd_name(c) != NULL;
}

static bool looks_like_command(const uint8_t *p, size_t n)
{
    if (n < 1 || lower(p[0]) != 'a')
        return false;
    if (n < 2)
        return true; /* undecided: treated as text by the caller */
    return lower(p[1]) == 't' || p[1] == '/';
}

/* A header written with big-endian lengths (a real field bug): both its
 * TotalLen and CmdId make sense only when read that way. */
static bool big_endian_header(const stream_state *s, const uint8_t *p, size_t n)
{
    if (s->dir != AT_DIR_TE_TO_ME || n < 4 || known_cmd(le16(p + 2)))
        return false;
    uint16_t total = be16(p);
    return total >= AT_FRAME_HEADER_LEN && total <= s->cfg.max_frame &&
           known_cmd(be16(p + 2));
}

/*
 * How convincing a frame header at p is: 0 not a frame, 1 a length the
 * module would accept, or a known CmdId and ParamNum behind a TotalLen too
 * large for any frame (the module answers LENGTH ERROR to that frame, and
 * the diagnosis needs its bytes), 2 a header that makes sense only
 * big-endian (a real field bug), 3 a known little-endian CmdId with a
 * length the module would accept. The ME only ever sends READ responses,
 * so it needs the strongest form.
 */
static int header_score(const stream_state *s, const uint8_t *p, size_t n)
{
    if (looks_like_command(p, n))
        return 0;
    if (big_endian_header(s, p, n))
        return 2;
    if (n < 2) {
        /* One byte and then the module's answer (the host stopped after
         * it): the start of a frame, unless it ends the command line. */
        return s->dir == AT_DIR_TE_TO_ME && n == 1 && p[0] != '\n' && p[0] != '\r' ? 1 : 0;
    }
    uint16_t total = le16(p);
    if (total > s->cfg.max_frame && s->dir == AT_DIR_TE_TO_ME && n >= AT_FRAME_HEADER_LEN &&
        known_cmd(le16(p + 2)) && le16(p + 4) >= 1 && le16(p + 4) <= AT_FRAME_MAX_UNITS)
        return 1;
    if (total < AT_FRAME_HEADER_LEN || total > s->cfg.max_frame)
        return 0;
    if (n < 4)
        return s->dir == AT_DIR_ME_TO_TE ? 0 : 1;
    uint16_t cmd = le16(p + 2);
    if (s->dir == AT_DIR_ME_TO_TE)
        return (cmd == AT_CMD_READ || cmd == AT_CMD_READ_FILE) ? 3 : 0;
    return known_cmd(cmd) ? 3 : 1;
}

/* @p total: the frame's length if the header has been read already (the
 * big-endian case), 0 to take it from the little-endian TotalLen. */
static void start_frame(stream_state *s, uint64_t off, uint64_t ts, uint16_t total)
{
    s->mode = AT_SM_FRAME;
    s->bin_len = 0;
    s->bin_off = off;
    s->bin_ts_first = ts;
    s->bin_ts_last = ts;
    s->bin_max_gap = 0;
    s->frame_total = total;
}

static void bin_append(stream_state *s, const uint8_t *p, size_t n)
{
    if (n == 0)
        return;
    if (s->bin_len == 0) {
        s->bin_ts_first = s->ts;
    } else if (s->ts > s->bin_ts_last && s->ts - s->bin_ts_last > s->bin_max_gap) {
        s->bin_max_gap = s->ts - s->bin_ts_last;
        s->bin_max_gap_off = s->bin_off + s->bin_len;
    }
    s->bin_ts_last = s->ts;
    memcpy(s->bin + s->bin_len, p, n);
    s->bin_len += (uint32_t)n;
}

/* A token over the first @p len bytes of the binary buffer. */
static at_token bin_token(const stream_state *s, at_tok_kind kind, size_t len,
                          uint32_t flags, at_tok_reason reason)
{
    at_token t;
    memset(&t, 0, sizeof t);
    t.kind = kind;
    t.dir = s->dir;
    t.flags = flags;
    t.reason = reason;
    t.off = s->bin_off;
    t.data = s->bin;
    t.len = len;
    t.ts_first = s->bin_ts_first;
    t.ts_last = s->bin_ts_last;
    return t;
}

static void emit_frame(stream_state *s, const emitter *em, uint32_t flags,
                       at_tok_reason reason, uint32_t frame_len)
{
    at_token t = bin_token(s, AT_TOK_FRAME, s->bin_len, flags, reason);
    t.frame_len = frame_len;
    t.max_gap_ns = s->bin_max_gap;
    t.max_gap_off = s->bin_max_gap_off;
    s->mode = AT_SM_LINE;
    s->bin_len = 0;
    if (em->cb)
        em->cb(em->ctx, &t);
}

/*
 * FRAME_EXPECT: bytes after AT^SBNW (TE) or SECURE CMD READY (ME) are held
 * in bin until the header decides. The CR that ended the line may be
 * followed by an LF that belongs to it (the vendor tool sends CR LF) or by
 * a frame whose TotalLen starts with 0x0A; the header scores decide.
 * Returns bytes consumed.
 */
static size_t feed_frame_expect(stream_state *s, const uint8_t *p, size_t n,
                                const emitter *em, bool final)
{
    size_t need = AT_FRAME_HEADER_LEN + 1;
    size_t take = 0;
    if (s->bin_len == 0)
        s->bin_off = s->off;
    while (s->bin_len < need && take < n) {
        s->bin[s->bin_len++] = p[take++];
        if (s->bin_len == 1)
            s->bin_ts_first = s->ts;
    }
    if (s->bin_len < need && !final)
        return take; /* wait for more */

    uint8_t held[AT_FRAME_HEADER_LEN + 1];
    size_t nheld = s->bin_len;
    memcpy(held, s->bin, nheld);
    bool lf_first = s->after_cr && nheld > 0 && held[0] == '\n';
    int at0 = header_score(s, held, nheld);
    int at1 = lf_first ? header_score(s, held + 1, nheld - 1) : 0;
    s->bin_len = 0;
    s->after_cr = false;

    size_t frame_at;
    /* The vendor tool ends the command with CR LF: on a tie the LF is the
     * terminator. */
    if (lf_first && at1 > 0 && at1 >= at0)
        frame_at = 1;
    else if (at0 > 0)
        frame_at = 0;
    else {
        /* Not a frame: the host typed a command or text instead. */
        s->mode = AT_SM_LINE;
        s->after_cr = lf_first;
        s->off = s->bin_off;
        process(s, held, nheld, em);
        return take;
    }
    s->off = s->bin_off + frame_at;
    const uint8_t *hdr = held + frame_at;
    size_t nhdr = nheld - frame_at;
    start_frame(s, s->off, s->bin_ts_first,
                big_endian_header(s, hdr, nhdr) ? be16(hdr) : 0);
    process(s, held + frame_at, nheld - frame_at, em);
    return take;
}

static size_t feed_frame(stream_state *s, const uint8_t *p, size_t n,
                         const emitter *em)
{
    size_t take = 0;
    if (s->bin_len < 2) {
        /* The length field has to be complete before anything else. */
        take = 2 - s->bin_len < n ? 2 - s->bin_len : n;
        bin_append(s, p, take);
        s->off += take;
        if (s->bin_len < 2)
            return take;
        if (s->frame_total == 0)
            s->frame_total = le16(s->bin);
        p += take;
        n -= take;
    }
    /* A TotalLen above what the buffer holds: the bytes up to the buffer's
     * size are the frame (the module will have answered long before). */
    if (s->frame_total > AT_STREAM_BIN_MAX && s->bin_len >= AT_STREAM_BIN_MAX) {
        emit_frame(s, em, 0, AT_TR_FRAME_TOO_LONG, s->frame_total);
        return take;
    }
    size_t end = s->frame_total < AT_STREAM_BIN_MAX ? s->frame_total : AT_STREAM_BIN_MAX;
    size_t want = end - s->bin_len;
    size_t k = want < n ? want : n;
    bin_append(s, p, k);
    s->off += k;
    take += k;
    if (s->bin_len == s->frame_total) {
        if (s->dir == AT_DIR_TE_TO_ME) {
            s->mode = AT_SM_FRAME_TRAILER;
            s->tail_match = false;
        } else {
            emit_frame(s, em, 0, AT_TR_NONE, s->frame_total);
        }
    }
    return take;
}

/*
 * TE after a complete frame: anything before the next command belongs to
 * the frame as trailing bytes (a CR LF appended, a TotalLen that left out
 * bytes). An 'A' is held (tail_match) until the next byte shows whether a
 * command starts.
 */
static size_t feed_trailer(stream_state *s, const uint8_t *p, size_t n,
                           const emitter *em)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (s->tail_match) {
            if (lower(c) == 't' || c == '/') {
                /* The held 'A' starts a command. */
                uint8_t a = s->bin[s->bin_len - 1];
                s->bin_len--;
                uint64_t a_off = s->off - 1;
                emit_frame(s, em, 0, AT_TR_NONE, s->frame_total);
                s->off = a_off;
                process(s, &a, 1, em);
                return i; /* c is handled by the caller's next round */
            }
            s->tail_match = false;
        }
        if (s->bin_len >= AT_STREAM_BIN_MAX) {
            emit_frame(s, em, 0, AT_TR_FRAME_TOO_LONG, s->frame_total);
            return i;
        }
        bin_append(s, &c, 1);
        s->off++;
        i++;
        if (lower(c) == 'a')
            s->tail_match = true;
    }
    return i;
}

/* ------------------------------------------------------------------ */
/* Counted payloads and transparent data                              */
/* ------------------------------------------------------------------ */

static void emit_block(stream_state *s, const emitter *em, at_tok_kind kind,
                       size_t len, uint32_t flags, at_tok_reason reason)
{
    at_token t = bin_token(s, kind, len, flags, reason);
    t.block_off = s->run_done;
    t.run_len = kind == AT_TOK_PAYLOAD ? s->run_len : 0;
    if (em->cb)
        em->cb(em->ctx, &t);
    s->run_done += len;
    s->bin_off += len;
    memmove(s->bin, s->bin + len, s->bin_len - len);
    s->bin_len -= (uint32_t)len;
}

static size_t feed_payload(stream_state *s, const uint8_t *p, size_t n,
                           const emitter *em)
{
    if (s->bin_len == 0)
        s->bin_off = s->off;
    uint64_t left = s->run_len - s->run_done - s->bin_len;
    size_t room = AT_STREAM_BLOCK - s->bin_len;
    size_t k = n;
    if (k > left)
        k = (size_t)left;
    if (k > room)
        k = room;
    bin_append(s, p, k);
    s->off += k;
    bool last = s->run_done + s->bin_len == s->run_len;
    if (last || s->bin_len == AT_STREAM_BLOCK) {
        emit_block(s, em, AT_TOK_PAYLOAD, s->bin_len,
                   last ? AT_TOKF_LAST_BLOCK : 0, AT_TR_NONE);
        if (last)
            s->mode = AT_SM_LINE;
    }
    return k;
}

static bool ends_with(const uint8_t *b, size_t n, const char *pat)
{
    size_t k = strlen(pat);
    return n >= k && memcmp(b + n - k, pat, k) == 0;
}

/* The end pattern that closes transparent mode at the end of bin, or NULL. */
static const char *transparent_end(const stream_state *s)
{
    const uint8_t *b = s->bin;
    size_t n = s->bin_len;
    if (s->dir == AT_DIR_TE_TO_ME)
        return ends_with(b, n, pat_escape) ? pat_escape : NULL;
    if (b[n - 1] != '\n')
        return NULL;
    if (ends_with(b, n, pat_no_carrier))
        return pat_no_carrier;
    /* Only an OK that starts after the escape was sent ends the mode:
     * the same bytes earlier were the remote's data. */
    if (s->peer_escaped && ends_with(b, n, pat_ok) &&
        s->bin_off + n - (sizeof pat_ok - 1) >= s->escape_off)
        return pat_ok;
    return NULL;
}

static size_t feed_transparent(stream_state *s, const uint8_t *p, size_t n,
                               const emitter *em)
{
    size_t i = 0;
    while (i < n) {
        if (s->bin_len == 0)
            s->bin_off = s->off;
        bin_append(s, p + i, 1);
        s->off++;
        i++;
        const char *end = transparent_end(s);
        if (end) {
            size_t plen = strlen(end);
            size_t data = s->bin_len - plen;
            uint64_t pat_off = s->bin_off + data;
            if (data || s->run_done)
                emit_block(s, em, AT_TOK_TRANSPARENT, data, AT_TOKF_LAST_BLOCK,
                           AT_TR_NONE);
            s->bin_len = 0;
            s->mode = AT_SM_LINE;
            /* The pattern's text is the answer that ended the mode: hand it
             * to the line machine so it becomes an ordinary line token. */
            s->off = pat_off;
            if (end == pat_escape) {
                memcpy(s->line, end, plen);
                s->line_len = (uint32_t)plen;
                s->line_off = pat_off;
                s->line_ts = s->ts;
                s->off = pat_off + plen;
                emit_line(s, em, AT_TOKF_UNTERMINATED);
            } else {
                process(s, (const uint8_t *)end, plen, em);
            }
            return i;
        }
        if (s->bin_len >= AT_STREAM_BLOCK + TRANSPARENT_HOLD)
            emit_block(s, em, AT_TOK_TRANSPARENT, AT_STREAM_BLOCK, 0, AT_TR_NONE);
    }
    return i;
}

/* ------------------------------------------------------------------ */
/* Driver                                                             */
/* ------------------------------------------------------------------ */

static void process(stream_state *s, const uint8_t *p, size_t n, const emitter *em)
{
    while (n > 0) {
        if (s->after_cr && s->mode != AT_SM_FRAME_EXPECT && s->mode != AT_SM_LINE &&
            s->mode != AT_SM_DISCARD) {
            /* The LF of a CR LF that ended the command before binary data. */
            s->after_cr = false;
            if (p[0] == '\n') {
                p++;
                n--;
                s->off++;
                continue;
            }
        }
        size_t used;
        switch (s->mode) {
        case AT_SM_LINE:
        case AT_SM_DISCARD:
            used = feed_line(s, p, n, em);
            break;
        case AT_SM_FRAME_EXPECT:
            used = feed_frame_expect(s, p, n, em, false);
            break;
        case AT_SM_FRAME:
            used = feed_frame(s, p, n, em);
            break;
        case AT_SM_FRAME_TRAILER:
            used = feed_trailer(s, p, n, em);
            break;
        case AT_SM_PAYLOAD:
            used = feed_payload(s, p, n, em);
            break;
        case AT_SM_TRANSPARENT:
            used = feed_transparent(s, p, n, em);
            break;
        default:
            used = n;
            break;
        }
        p += used;
        n -= used;
    }
}

void at_stream_feed(at_stream *stream, uint64_t ts_ns, const uint8_t *data,
                    size_t len, at_token_cb cb, void *ctx)
{
    stream_state *s = &stream->priv;
    emitter em = {cb, ctx};
    s->ts = ts_ns;
    if (data && len)
        process(s, data, len, &em);
}

/*
 * Ends whatever element is in progress: @p reason says why (the peer
 * answered, bytes were lost, the stream ended). Leaves line mode.
 */
static void cut(stream_state *s, const emitter *em, at_tok_reason reason,
                bool peer_answered)
{
    switch (s->mode) {
    case AT_SM_LINE:
        if (peer_answered)
            break; /* the host may still be typing its next command */
        if (s->line_len)
            emit_line_reason(s, em,
                             AT_TOKF_UNTERMINATED |
                                 (reason == AT_TR_NONE ? 0 : AT_TOKF_INCOMPLETE),
                             reason);
        if (s->mode != AT_SM_LINE && !peer_answered)
            cut(s, em, reason, peer_answered);
        break;
    case AT_SM_DISCARD:
        emit_discard(s, em);
        break;
    case AT_SM_FRAME_EXPECT:
        if (s->bin_len == 0) {
            if (peer_answered)
                break; /* the module refused before any byte: no frame */
        } else {
            feed_frame_expect(s, NULL, 0, em, true);
            cut(s, em, reason, peer_answered);
            return;
        }
        break;
    case AT_SM_FRAME: {
        uint32_t flags = AT_TOKF_INCOMPLETE | (peer_answered ? AT_TOKF_FLUSHED : 0);
        emit_frame(s, em, flags, reason, s->bin_len);
        break;
    }
    case AT_SM_FRAME_TRAILER:
        emit_frame(s, em, 0, AT_TR_NONE, s->frame_total);
        break;
    case AT_SM_PAYLOAD:
        if (s->bin_len || s->run_done)
            emit_block(s, em, AT_TOK_PAYLOAD, s->bin_len,
                       AT_TOKF_LAST_BLOCK | AT_TOKF_INCOMPLETE, reason);
        break;
    case AT_SM_TRANSPARENT:
        if (s->bin_len || s->run_done)
            emit_block(s, em, AT_TOK_TRANSPARENT, s->bin_len, AT_TOKF_LAST_BLOCK,
                       reason);
        break;
    }
    s->mode = AT_SM_LINE;
    s->bin_len = 0;
    s->tail_match = false;
}

void at_stream_hint(at_stream *stream, at_stream_hint_kind hint, at_token_cb cb,
                    void *ctx)
{
    stream_state *s = &stream->priv;
    emitter em = {cb, ctx};
    switch (hint) {
    case AT_HINT_EXPECT_SISR:
        s->expect_sisr = true;
        break;
    case AT_HINT_EXPECT_TRANSPARENT:
        s->expect_transparent = true;
        break;
    case AT_HINT_PEER_ESCAPED:
        s->peer_escaped = true;
        s->escape_off = s->mode == AT_SM_TRANSPARENT ? s->bin_off + s->bin_len : s->off;
        break;
    case AT_HINT_PEER_IDLE:
        s->expect_sisr = false;
        s->expect_transparent = false;
        break;
    case AT_HINT_PEER_ANSWERED:
        /* Only binary expectations end here; a half-typed command line
         * goes on (the host may still be typing it). */
        if (s->mode != AT_SM_LINE && s->mode != AT_SM_DISCARD)
            cut(s, &em, AT_TR_NONE, true);
        break;
    case AT_HINT_PEER_SPOKE:
        if (s->dir == AT_DIR_TE_TO_ME && s->mode == AT_SM_LINE && s->line_len == 3 &&
            memcmp(s->line, pat_escape, 3) == 0)
            emit_line(s, &em, AT_TOKF_UNTERMINATED);
        break;
    default:
        break;
    }
}

void at_stream_gap(at_stream *stream, uint64_t ts_ns, at_token_cb cb, void *ctx)
{
    stream_state *s = &stream->priv;
    emitter em = {cb, ctx};
    s->ts = ts_ns;
    cut(s, &em, AT_TR_CUT_BY_GAP, false);
    s->after_cr = false;
    s->expect_sisr = false;
    s->expect_transparent = false;
}

void at_stream_finish(at_stream *stream, uint64_t ts_ns, at_token_cb cb, void *ctx)
{
    stream_state *s = &stream->priv;
    emitter em = {cb, ctx};
    if (ts_ns > s->ts)
        s->ts = ts_ns;
    cut(s, &em, AT_TR_CUT_BY_END, false);
    if (s->line_len)
        cut(s, &em, AT_TR_CUT_BY_END, false);
}

uint64_t at_stream_offset(const at_stream *stream)
{
    return stream->priv.off;
}

bool at_stream_frame_in_progress(const at_stream *stream, const uint8_t **data, size_t *len,
                                 uint64_t *off)
{
    const stream_state *s = &stream->priv;
    if ((s->mode != AT_SM_FRAME && s->mode != AT_SM_FRAME_TRAILER) || s->bin_len == 0)
        return false;
    *data = s->bin;
    *len = s->bin_len;
    *off = s->bin_off;
    return true;
}

const char *at_tok_kind_name(at_tok_kind k)
{
    switch (k) {
    case AT_TOK_LINE: return "line";
    case AT_TOK_FRAME: return "frame";
    case AT_TOK_PAYLOAD: return "payload";
    case AT_TOK_TRANSPARENT: return "transparent";
    case AT_TOK_INVALID: return "invalid";
    }
    return "unknown";
}

const char *at_tok_reason_name(at_tok_reason r)
{
    switch (r) {
    case AT_TR_NONE: return "none";
    case AT_TR_LINE_TOO_LONG: return "line_too_long";
    case AT_TR_CUT_BY_GAP: return "cut_by_gap";
    case AT_TR_CUT_BY_END: return "cut_by_end";
    case AT_TR_FRAME_TOO_LONG: return "frame_too_long";
    }
    return "unknown";
}
