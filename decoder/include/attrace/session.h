/*
 * attrace/session.h - the session layer: both directions of one channel in,
 * exchanges out.
 *
 * It owns one at_stream per direction, classifies lines (echo, information
 * response, intermediate, final result, secure-command result, URC), pairs
 * each command with its responses and final result, decodes secure-command
 * frames with the frame codec and parses the lines the library knows
 * (^SBNR, +CIEV, ^SIS, ^SISR/^SISW, results). Events are delivered through
 * one callback as they become known, so a consumer can stream its output;
 * pointers inside an event are valid only during the callback.
 *
 * Feed records in capture order (both directions interleaved by
 * timestamp): cross-direction facts (an AT^SISR was sent, the module
 * answered) are passed between the two tokenizers at those points.
 */
#ifndef ATTRACE_SESSION_H
#define ATTRACE_SESSION_H

#include "attrace/frame.h"
#include "attrace/lines.h"
#include "attrace/profile.h"
#include "attrace/secret.h"
#include "attrace/stream.h"
#include "attrace/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum at_event_kind {
    AT_EV_COMMAND = 1,   /**< TE command line: an exchange begins */
    AT_EV_ECHO,          /**< ME echo of the command */
    AT_EV_RESPONSE,      /**< information response inside an exchange */
    AT_EV_INTERMEDIATE,  /**< CONNECT, SECURE CMD READY */
    AT_EV_SECURE_RESULT, /**< SECURE CMD END OK / ERROR / ... */
    AT_EV_FRAME,         /**< a secure-command frame (either direction) */
    AT_EV_PAYLOAD,       /**< a block of ^SISW / ^SISR payload */
    AT_EV_TRANSPARENT,   /**< a block of transparent-mode data */
    AT_EV_END,           /**< an exchange ends (final result, or why not) */
    AT_EV_URC,           /**< unsolicited result code */
    AT_EV_UNEXPECTED,    /**< a ME line outside any exchange that is no URC, or TE text that is no command */
    AT_EV_INVALID        /**< bytes that could not be decoded (reason + offset) */
} at_event_kind;

typedef enum at_end_reason {
    AT_END_RESULT = 0,     /**< the module gave a final result */
    AT_END_SUPERSEDED,     /**< the host sent the next command first */
    AT_END_STREAM_END,     /**< the trace ended */
    AT_END_GAP             /**< bytes were lost */
} at_end_reason;

/** What the session made of a text line. */
typedef enum at_line_kind {
    AT_LK_TEXT = 0,        /**< plain text, no specific parser */
    AT_LK_RESULT,          /**< u.result */
    AT_LK_SECURE,          /**< u.secure */
    AT_LK_SBNR,            /**< u.sbnr */
    AT_LK_CIEV_IS_CERT,    /**< u.ciev_cert */
    AT_LK_CIEV,            /**< u.ciev (other indicators) */
    AT_LK_SIS,             /**< u.sis */
    AT_LK_SIS_RW,          /**< u.sis_rw (^SISR / ^SISW) */
    AT_LK_IMEI             /**< u.imei: 15 digits answering AT+CGSN / AT+GSN */
} at_line_kind;

typedef struct at_line_info {
    at_line_kind kind;
    at_str text;           /**< the whole line (terminator excluded) */
    at_str prefix;         /**< "+CIEV", "^SBNR", ... or ptr NULL */
    bool parse_error;      /**< a known prefix whose body did not parse */
    uint64_t err_off;      /**< stream offset of the offending byte */
    union {
        at_result result;
        at_secure_result secure;
        at_sbnr sbnr;
        at_ciev_is_cert ciev_cert;
        struct { at_str name, rest; } ciev;
        at_sis sis;
        at_sis_rw sis_rw;
        at_str imei;
    } u;
} at_line_info;

/** One command and what belongs to it. */
typedef struct at_exchange {
    uint32_t id;               /**< 1, 2, ... in order of commands */
    at_str line;               /**< the command line (session-owned copy) */
    at_cmdline cmdline;        /**< parsed; n_cmds 0 if unparsable; read only the counted entries */
    bool parse_ok;
    uint64_t ts_start;         /**< first byte of the command */
    uint64_t ts_end;           /**< last byte of the final result (END event) */
    at_span span;              /**< the command line in the TE stream */
    bool secure;               /**< AT^SBNW: a secure-command exchange */
    bool asks_imei;            /**< AT+CGSN / AT+GSN: a digit line is the IMEI */
    bool sets_verbose;         /**< ATV0/ATV1: its own result may come in either format */
    at_secure_result secure_result; /**< last SECURE CMD result seen */
    uint64_t ts_ready;         /**< when SECURE CMD READY arrived (0 = not seen) */
    bool echoed;               /**< the module's echo of this command was seen */
    unsigned n_responses;
    unsigned n_frames;
    unsigned n_urcs;           /**< URCs interleaved while it ran */
    uint64_t payload_bytes[2]; /**< per direction: ^SISW/^SISR payload and transparent data */
    bool has_final;
    at_result final;           /**< valid if has_final */
    at_end_reason end_reason;  /**< valid in the END event */
} at_exchange;

/** One event. */
typedef struct at_event {
    at_event_kind kind;
    at_dir dir;                /**< the stream it comes from */
    uint16_t channel;          /**< at_session_config's channel */
    uint64_t ts;               /**< when its first byte arrived */
    uint64_t ts_end;           /**< when its last byte arrived */
    at_span span;              /**< its bytes in the @c dir stream */
    const uint8_t *data;       /**< those bytes (lines without terminator) */
    size_t len;
    const at_exchange *exchange; /**< the exchange it belongs to, or NULL */
    const at_token *tok;       /**< the token it was made from (NULL for END without a line) */

    at_line_info line;         /**< ECHO, RESPONSE, INTERMEDIATE, SECURE_RESULT, URC, UNEXPECTED, END (final line) */
    const at_frame *frame;     /**< FRAME */
    uint64_t block_off;        /**< PAYLOAD / TRANSPARENT: block offset within its run */
    bool last_block;           /**< PAYLOAD / TRANSPARENT */
    at_tok_reason invalid_reason; /**< INVALID; also set on cut FRAME/PAYLOAD */
    uint64_t duration_ns;      /**< END: ts_end - ts_start */
    /**
     * Private-key bytes among the event's bytes (for a frame, all of its
     * token's bytes, trailing ones included): sorted runs in stream offsets
     * of @c dir, clipped to @c span. Renderers show a run only as its size
     * and kind unless the user asked for secrets (attrace/secret.h).
     */
    const at_secret *secrets;
    unsigned n_secrets;
} at_event;

/** Receives each event as it becomes known, with the caller's @p ctx. */
typedef void (*at_event_cb)(void *ctx, const at_event *ev);

/** Session configuration (start from at_session_default_config). */
typedef struct at_session_config {
    const at_profile *profile;   /**< limits for frame checks; NULL = legacy */
    at_stream_config stream;     /**< for both directions' tokenizers */
    uint16_t channel;            /**< copied into every event (the trace's channel) */
} at_session_config;

/**
 * The session state. The caller provides the storage (at_session_init sets
 * it up); it holds two at_stream and needs no allocation. It may be copied
 * by assignment, but a copy delivers its events to the same callback and
 * context.
 */
typedef struct at_session {
    /**
     * Private: only the at_session_* functions read or write these
     * members. Do not use them; they may change in any version.
     */
    struct at_session_priv {
        at_session_config cfg;
        at_stream te, me;
        at_event_cb cb;
        void *ctx;
        bool numeric_results;      /**< ATV0 in effect */
        bool in_exchange;
        bool in_transparent;
        uint32_t next_id;
        at_exchange x;
        char line_copy[AT_STREAM_LINE_MAX];
        /* An echo that completed before its command did (the two directions'
         * clocks and buffers disagree by a little): held for the command. */
        bool echo_pending;
        char echo_copy[AT_STREAM_LINE_MAX];
        size_t echo_len;
        at_span echo_span;
        uint64_t echo_ts, echo_ts_end;
        at_secret echo_secrets[AT_SECRET_RUNS_MAX]; /**< the held echo's secret runs */
        unsigned n_echo_secrets;
        at_frame frame;            /**< scratch for the frame being reported */
        at_event ev;               /**< scratch for the event being reported */
        size_t ev_u_used;          /**< bytes of ev.line.u written since it was last cleared */
        /* Private-key detection on each direction's raw bytes; the bytes of
         * the feed in progress are scanned up to each token's end before its
         * event, the rest when the feed returns. */
        at_secret_scanner scan[2];
        const uint8_t *feed_data;
        size_t feed_len;
        uint64_t feed_off;         /**< stream offset of feed_data[0] */
        at_dir feed_dir;
        at_secret ev_secrets[AT_SECRET_RUNS_MAX];
    } priv;
} at_session;

/** Default configuration: legacy profile, default tokenizer, channel 0. */
at_session_config at_session_default_config(void);

/** Initializes @p s; events go to @p cb with @p ctx. @p cfg may be NULL. */
void at_session_init(at_session *s, const at_session_config *cfg,
                     at_event_cb cb, void *ctx);

/**
 * Sets the limits of the frame checks from the next frame on (NULL =
 * legacy), e.g. when the module's answers show which family it is. May be
 * called from the event callback.
 */
void at_session_set_profile(at_session *s, const at_profile *profile);

/**
 * The limits the frame checks use now (never NULL): those a frame reported
 * in the event callback was decoded with, for a renderer that decodes its
 * bytes again later.
 */
const at_profile *at_session_profile(const at_session *s);

/** Feeds bytes of one direction that arrived at @p ts_ns. */
void at_session_feed(at_session *s, at_dir dir, uint64_t ts_ns,
                     const uint8_t *data, size_t len);

/**
 * The private-key runs known now that overlap [@p off, @p off + @p len) of
 * @p dir's stream, clipped to it, sorted and merged: those the bytes fed so
 * far prove by content, and the value of every key unit of a frame still
 * being collected, as far as it has arrived. For a consumer that shows a
 * record before the elements its bytes belong to are complete (a dissector
 * in a single pass); the events report their runs when they complete, and
 * a renderer of whole elements needs no more. Writes at most @p cap runs
 * (fewer, wider ones when there are more) and returns how many. Reads the
 * session only.
 */
unsigned at_session_secrets(const at_session *s, at_dir dir, uint64_t off, uint64_t len,
                            at_secret *out, unsigned cap);

/** Bytes were lost in @p dir before the next feed (trace flag / overrun). */
void at_session_gap(at_session *s, at_dir dir, uint64_t ts_ns);

/** End of the trace: flushes both directions and ends any open exchange. */
void at_session_finish(at_session *s, uint64_t ts_ns);

/** Stable name of an event kind ("command", "urc", ...). */
const char *at_event_kind_name(at_event_kind k);
/** Stable name of an end reason ("result", "superseded", ...). */
const char *at_end_reason_name(at_end_reason r);
/** Stable name of a line kind ("sbnr", "ciev_is_cert", ...). */
const char *at_line_kind_name(at_line_kind k);

#ifdef __cplusplus
}
#endif
#endif
