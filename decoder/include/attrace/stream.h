/*
 * attrace/stream.h - the per-direction byte-stream tokenizer.
 *
 * One at_stream per direction turns raw bytes into tokens: text lines,
 * secure-command frames, ^SISW/^SISR payload blocks, transparent-mode data
 * blocks, and invalid runs. It is incremental and chunk-agnostic: feeding
 * the same bytes split at any points yields the same tokens (timestamps
 * aside). Binary parts are delimited by their length fields or escapes,
 * never by CR/LF, so binary bytes are never taken for lines.
 *
 * The state is a plain struct with fixed-size buffers: it can be copied
 * with assignment (Wireshark's first pass may snapshot it) and needs no
 * allocation. Buffer sizes are compile-time constants a firmware build may
 * lower (-DAT_STREAM_LINE_MAX=... -DAT_STREAM_BIN_MAX=...).
 *
 * The tokenizer decides on its own direction's bytes. Facts only the other
 * direction knows arrive as hints from the session layer (at_stream_hint).
 */
#ifndef ATTRACE_STREAM_H
#define ATTRACE_STREAM_H

#include "attrace/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef AT_STREAM_LINE_MAX
#define AT_STREAM_LINE_MAX 4096u /**< longest line kept whole; longer ones are cut */
#endif
#ifndef AT_STREAM_BIN_MAX
#define AT_STREAM_BIN_MAX 16384u /**< largest secure-command frame accepted (plus trailer) */
#endif
#ifndef AT_STREAM_BLOCK
#define AT_STREAM_BLOCK 2048u /**< payload/transparent data is reported in blocks of this size */
#endif

typedef enum at_tok_kind {
    AT_TOK_LINE = 1,     /**< a text line, terminator excluded */
    AT_TOK_FRAME,        /**< a secure-command frame (+ any bytes after it, see frame_len) */
    AT_TOK_PAYLOAD,      /**< a block of ^SISW (TE) / ^SISR (ME) payload */
    AT_TOK_TRANSPARENT,  /**< a block of transparent-mode (AT^SIST) data */
    AT_TOK_INVALID       /**< bytes that could not be placed; see reason */
} at_tok_kind;

typedef enum at_tok_reason {
    AT_TR_NONE = 0,
    AT_TR_LINE_TOO_LONG,   /**< line longer than AT_STREAM_LINE_MAX: this is its overflow */
    AT_TR_CUT_BY_GAP,      /**< the trace says bytes were lost here */
    AT_TR_CUT_BY_END,      /**< the stream ended inside the element */
    AT_TR_FRAME_TOO_LONG   /**< frame/trailer beyond AT_STREAM_BIN_MAX */
} at_tok_reason;

/** Token flags. */
enum {
    AT_TOKF_INCOMPLETE = 1u << 0,  /**< the element stopped before its announced end */
    AT_TOKF_TRUNCATED = 1u << 1,   /**< line cut at AT_STREAM_LINE_MAX (rest follows as INVALID) */
    AT_TOKF_NONTEXT = 1u << 2,     /**< line contains control/non-ASCII bytes */
    AT_TOKF_CR = 1u << 3,          /**< line ended by CR */
    AT_TOKF_LF = 1u << 4,          /**< line ended by LF (after CR: both set) */
    AT_TOKF_UNTERMINATED = 1u << 5,/**< line ended by a hint or the end, not a terminator */
    AT_TOKF_LAST_BLOCK = 1u << 6,  /**< last block of a payload / transparent run */
    AT_TOKF_FLUSHED = 1u << 7      /**< frame ended by the peer's answer before TotalLen arrived */
};

/** One token, as the callback receives it. */
typedef struct at_token {
    at_tok_kind kind;
    at_dir dir;            /**< the stream it comes from */
    uint32_t flags;        /**< AT_TOKF_* bits */
    at_tok_reason reason;  /**< why it is INVALID or cut (AT_TR_NONE otherwise) */
    uint64_t off;          /**< stream offset of data[0] */
    const uint8_t *data;   /**< token bytes; valid only during the callback (NULL for
                                an over-long line's rest: only its length is kept) */
    size_t len;            /**< bytes of the token */
    uint32_t frame_len;    /**< FRAME: bytes of the frame proper (TotalLen, or fewer if cut); the rest of data are trailing bytes */
    uint64_t block_off;    /**< PAYLOAD/TRANSPARENT: offset of this block within its run */
    uint64_t run_len;      /**< PAYLOAD: announced length of the run */
    uint64_t ts_first;     /**< timestamp of the feed that brought data[0] */
    uint64_t ts_last;      /**< timestamp of the feed that brought the last byte */
    uint64_t max_gap_ns;   /**< FRAME: largest pause between feeds inside the token */
    uint64_t max_gap_off;  /**< FRAME: stream offset of the first byte after that pause */
} at_token;

/** Receives each token as it completes, with the caller's @p ctx. */
typedef void (*at_token_cb)(void *ctx, const at_token *tok);

/** Hints from the session layer about what the peer direction did. */
typedef enum at_stream_hint_kind {
    /** ME: the host sent AT^SISR: a "^SISR: id,n" answer announces n bytes. */
    AT_HINT_EXPECT_SISR = 1,
    /** ME: the host sent AT^SIST: the next CONNECT starts transparent mode. */
    AT_HINT_EXPECT_TRANSPARENT,
    /** ME: the host sent the +++ escape: "OK" now also ends transparent mode. */
    AT_HINT_PEER_ESCAPED,
    /** ME: the host's pending command is over (a new command started). */
    AT_HINT_PEER_IDLE,
    /**
     * TE: the module answered (final result, SECURE CMD result, NO CARRIER).
     * A frame still waiting for bytes, a pending trailer, an unstarted
     * payload or transparent run ends here.
     */
    AT_HINT_PEER_ANSWERED,
    /**
     * TE: the module sent a line. A line that is exactly "+++" so far is
     * the guard-time escape from a data connection (PROTOCOL.md section 9)
     * and ends here, unterminated: the module only answers it after the
     * guard time, so nothing more belongs to it.
     */
    AT_HINT_PEER_SPOKE
} at_stream_hint_kind;

/** Private to the tokenizer (the state of at_stream's priv member). */
typedef enum at_stream_mode {
    AT_SM_LINE = 0,
    AT_SM_FRAME_EXPECT,  /**< after AT^SBNW (TE) / SECURE CMD READY (ME): deciding */
    AT_SM_FRAME,         /**< collecting TotalLen bytes */
    AT_SM_FRAME_TRAILER, /**< TE: frame complete, collecting bytes until the next command */
    AT_SM_PAYLOAD,       /**< counted payload */
    AT_SM_TRANSPARENT,
    AT_SM_DISCARD        /**< rest of an over-long line */
} at_stream_mode;

/** Tokenizer configuration. */
typedef struct at_stream_config {
    uint32_t max_frame; /**< largest TotalLen taken as a frame (<= AT_STREAM_BIN_MAX) */
} at_stream_config;

/**
 * The tokenizer state. The caller provides the storage (static, on the
 * stack, inside its own structs; at_stream_init sets it up) and may copy it
 * by assignment, e.g. to resume from a snapshot. Its size follows
 * AT_STREAM_LINE_MAX and AT_STREAM_BIN_MAX.
 */
typedef struct at_stream {
    /**
     * Private: only the at_stream_* functions read or write these members.
     * Do not use them; they may change in any version.
     */
    struct at_stream_priv {
        at_dir dir;
        at_stream_config cfg;
        at_stream_mode mode;
        uint64_t off;            /**< bytes consumed so far */
        uint64_t ts;             /**< timestamp of the current feed */

        /* line collection */
        uint8_t line[AT_STREAM_LINE_MAX];
        uint32_t line_len;
        uint64_t line_off;
        uint64_t line_ts;
        bool line_nontext;
        bool after_cr;           /**< previous byte was a CR terminator: swallow one LF */
        uint64_t discard_off, discard_len;

        /* binary collection (frame, trailer, payload block, transparent block) */
        uint8_t bin[AT_STREAM_BIN_MAX];
        uint32_t bin_len;
        uint64_t bin_off;
        uint64_t bin_ts_first, bin_ts_last, bin_max_gap, bin_max_gap_off;
        uint32_t frame_total;    /**< TotalLen of the frame being collected */
        uint64_t run_len, run_done; /**< payload: announced and delivered bytes */
        bool tail_match;         /**< TE trailer: its last byte is an 'A' that may start a command */

        /* expectations set by hints from the peer direction */
        bool expect_sisr;           /**< ME: AT^SISR pending */
        bool expect_transparent;    /**< ME: AT^SIST pending */
        bool peer_escaped;          /**< ME: +++ sent by TE */
        uint64_t escape_off;        /**< ME: stream offset when +++ was seen; an OK before it is data */

        /* what the token callback noted of the ME line at note_off (see
         * at_stream_note_ready) */
        uint64_t note_off;
        bool note_ready_known, note_ready;
        bool note_sisr_known;
        unsigned long note_sisr_count;
    } priv;
} at_stream;

/** Default configuration (max_frame = AT_STREAM_BIN_MAX). */
at_stream_config at_stream_default_config(void);

/** Initializes @p s for direction @p dir. @p cfg may be NULL. */
void at_stream_init(at_stream *s, at_dir dir, const at_stream_config *cfg);

/**
 * Feeds @p len bytes that arrived at @p ts_ns. Tokens completed by these
 * bytes are passed to @p cb (pointers valid only during the call).
 */
void at_stream_feed(at_stream *s, uint64_t ts_ns, const uint8_t *data,
                    size_t len, at_token_cb cb, void *ctx);

/** Applies a hint (see at_stream_hint_kind; unknown ones are ignored); may
 *  emit tokens. */
void at_stream_hint(at_stream *s, at_stream_hint_kind hint, at_token_cb cb,
                    void *ctx);

/**
 * Optional, from within the token callback of an ME line token at offset
 * @p off: whether that line is "SECURE CMD READY" (at_parse_secure_result),
 * as the caller found while handling it. The stream decides its next mode
 * from this instead of parsing the line again; without the note it parses
 * the line itself, to the same result.
 */
void at_stream_note_ready(at_stream *s, uint64_t off, bool ready);

/**
 * Optional, like at_stream_note_ready: the ME line at @p off parsed as a
 * ^SISR/^SISW line (at_parse_sis_rw returned AT_OK) with this @p count (0
 * for a negative one). Lines that did not parse are not noted.
 */
void at_stream_note_sisr(at_stream *s, uint64_t off, unsigned long count);

/**
 * The trace says bytes were lost before the next feed, noticed at @p ts_ns:
 * whatever element is in progress is emitted as cut (AT_TR_CUT_BY_GAP,
 * ts_last @p ts_ns) and the tokenizer returns to line mode, forgetting the
 * hints it was given.
 */
void at_stream_gap(at_stream *s, uint64_t ts_ns, at_token_cb cb, void *ctx);

/**
 * End of stream at @p ts_ns: emits any element in progress (cut if
 * incomplete); its ts_last is the later of @p ts_ns and the last feed's.
 */
void at_stream_finish(at_stream *s, uint64_t ts_ns, at_token_cb cb, void *ctx);

/** Bytes fed so far: the stream offset the next byte will have. */
uint64_t at_stream_offset(const at_stream *s);

/**
 * The secure-command frame being collected, as far as it has arrived (a
 * host frame whose TotalLen bytes are all there but whose token waits for
 * the next byte included, with the trailing bytes so far): sets @p data,
 * @p len and @p off (the stream offset of its first byte) and returns
 * true; false when no frame is in progress. @p data is valid until the
 * next call that feeds or ends the stream.
 */
bool at_stream_frame_in_progress(const at_stream *s, const uint8_t **data, size_t *len,
                                 uint64_t *off);

/** Stable name of a token kind ("line", "frame", ...). */
const char *at_tok_kind_name(at_tok_kind k);
/** Stable name of a token reason. */
const char *at_tok_reason_name(at_tok_reason r);

#ifdef __cplusplus
}
#endif
#endif
