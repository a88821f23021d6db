/*
 * attrace/compare.h - comparing sessions exchange by exchange: what the
 * host sent (command lines, secure-command frames field by field) and what
 * the module answered (result lines, SECURE CMD results, final results,
 * payload data), as the decoder core and the analyzer decided them.
 *
 * Three parts, each usable alone:
 *
 * - at_xrec_builder turns the events of one channel's at_session (and the
 *   analyzer's frame details and findings) into at_xrec records: owned
 *   copies of one exchange each, which outlive the events. Nothing is
 *   decoded again: frames are the core's at_frame, relocated into a copy
 *   of their bytes.
 * - at_xrec_compare() compares two exchanges; at_xrec_compare_answers()
 *   compares only the module's side: "compare a recorded exchange with
 *   another", which is what `attrace replay` does with each live answer.
 *   Differences are delivered one by one through a callback.
 * - at_aligner pairs the exchanges of two sessions by order and command
 *   (`attrace diff A B`), reporting exchanges present on one side only.
 *
 * Module-specific values in the module's answers are normalized before
 * they are compared (unless at_cmp_options.exact): see
 * at_answer_normalize(). Timestamps and durations are never compared.
 *
 * Memory: an at_xrec keeps at most AT_XREC_MAX_LINES lines and
 * AT_XREC_MAX_FRAMES frames (each at most AT_STREAM_BIN_MAX bytes); what
 * comes beyond is folded into a count and a 64-bit digest, so a difference
 * there is still detected (and reported without its text). Lines, frames
 * and findings are allocated as they come: a record of a plain command
 * and its OK is a few hundred bytes (`attrace replay` holds one per
 * recorded exchange). The aligner holds at most its window of records per
 * side.
 *
 * Not part of the pure core: it allocates (malloc), but does no I/O and has
 * no global state.
 */
#ifndef ATTRACE_COMPARE_H
#define ATTRACE_COMPARE_H

#include "attrace/analysis.h"
#include "attrace/session.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AT_XREC_MAX_LINES 64u    /**< lines kept verbatim per exchange */
#define AT_XREC_MAX_FRAMES 4u    /**< frames kept per exchange */
#define AT_XREC_MAX_FINDINGS 8u  /**< findings kept per exchange */
#define AT_XREC_KEY_MAX 64u      /**< alignment key, NUL included */
#define AT_ALIGN_WINDOW_DEFAULT 64u

/** What one line of an exchange is. */
typedef enum at_xline_kind {
    AT_XL_ECHO = 1,       /**< the module's echo of the command (text not compared) */
    AT_XL_RESPONSE,       /**< information response */
    AT_XL_INTERMEDIATE,   /**< CONNECT, SECURE CMD READY */
    AT_XL_SECURE,         /**< SECURE CMD END OK / ERROR / ... */
    AT_XL_FINAL,          /**< the final result */
    AT_XL_URC,            /**< unsolicited result code */
    AT_XL_UNEXPECTED,     /**< a line outside the protocol (either direction) */
    AT_XL_INVALID         /**< undecodable bytes: text says how many and why */
} at_xline_kind;

/** One line as recorded. */
typedef struct at_xline {
    at_xline_kind kind;
    at_dir dir;
    at_span span;         /**< in the @c dir stream */
    char *text;           /**< as in the trace, NUL-terminated copy (may hold any byte) */
    size_t len;
    char *norm;           /**< what is compared: normalized (see at_answer_normalize) */
    size_t norm_len;
} at_xline;

#define AT_XFRAME_SECRETS 8u

/** One secure-command frame as the core decoded it. */
typedef struct at_xframe {
    at_dir dir;
    at_frame frame;       /**< value pointers refer to @c bytes */
    uint8_t *bytes;       /**< the frame token: frame and trailing bytes */
    size_t len;
    uint64_t off;         /**< stream offset of bytes[0] */
    bool has_verdict;     /**< the analyzer checked its signature */
    bool sig_matches;     /**< valid if has_verdict */
    /** Private-key runs the core found among @c bytes (AT_XFRAME_SECRETS at
     *  most; @c secrets_all when there were more: every byte counts as one). */
    at_secret secrets[AT_XFRAME_SECRETS];
    unsigned n_secrets;
    bool secrets_all;
} at_xframe;

/** A finding the analyzer made about the exchange. */
typedef struct at_xfinding {
    const char *rule;     /**< stable id (static string) */
    at_severity severity;
    at_dir dir;
    uint64_t off;
    char what[AT_FINDING_TEXT_MAX];
} at_xfinding;

/** One exchange: a command and everything that belongs to it. */
typedef struct at_xrec {
    uint32_t id;          /**< exchange id in its session; 0 = what came before the first command */
    char *command;        /**< the command line (NULL for id 0) */
    size_t command_len;
    at_span span;         /**< the command line in the TE stream */
    char key[AT_XREC_KEY_MAX]; /**< alignment key: command names and types ("^SBNW="), see at_xrec_key */
    at_secure_result secure_result; /**< last SECURE CMD result (AT_SEC_NONE: none) */
    bool has_final;
    at_result_kind final_kind;
    bool final_has_code;
    unsigned final_code;
    at_end_reason end_reason;
    const at_xline *final_line; /**< the final result's line in @c lines, or NULL */
    const at_xline *secure_line;/**< the last SECURE CMD result line, or NULL */

    at_xline *lines;              /**< n_lines, in order of arrival, both directions */
    unsigned n_lines;
    uint64_t lines_beyond;        /**< lines after the first AT_XREC_MAX_LINES */
    uint64_t lines_beyond_digest; /**< FNV-1a of their kinds and normalized texts */

    at_xframe *frames;            /**< n_frames */
    unsigned n_frames;
    uint64_t frames_beyond;
    uint64_t frames_beyond_digest;

    uint64_t payload_bytes[2];    /**< ^SISW/^SISR payload and transparent data per at_dir */
    uint64_t payload_digest[2];   /**< FNV-1a of those bytes */

    at_xfinding *findings;        /**< n_findings */
    unsigned n_findings;
    unsigned findings_beyond;
} at_xrec;

/** Frees @p x and everything it holds; NULL is a no-op. */
void at_xrec_free(at_xrec *x);

/** The @p i-th (0-based) frame of direction @p dir in @p x, or NULL. */
const at_xframe *at_xrec_frame(const at_xrec *x, at_dir dir, unsigned i);

/**
 * The alignment key of a command line: for each command its name in upper
 * case and its type ("" exec, "=" set, "?" read, "=?" test), joined by ';'
 * ("^SBNW=", "E;V", "+CGSN"); the line itself (upper case, cut) when it
 * does not parse. Writes at most @p cap bytes including the NUL.
 */
void at_xrec_key(const at_cmdline *cl, bool parse_ok, const char *line,
                 size_t len, char *out, size_t cap);

/* ------------------------------------------------------------------ */
/* Building records from session events                               */
/* ------------------------------------------------------------------ */

/** Receives a finished record; the callee owns it (at_xrec_free). */
typedef void (*at_xrec_cb)(void *ctx, at_xrec *x);

typedef struct at_xrec_builder at_xrec_builder;

/**
 * A builder for one channel's session; records go to @p cb in order. The
 * first record is always id 0 (lines before the first command). A record
 * is delivered when the next command starts or at finish, so that URCs
 * and stray lines after its final result are kept with it. NULL on
 * allocation failure.
 */
at_xrec_builder *at_xrec_builder_new(at_xrec_cb cb, void *ctx);

/**
 * Feeds one session event. @p details: the analyzer's view of a frame
 * event (at_analyzer_frame), or NULL.
 */
void at_xrec_builder_event(at_xrec_builder *b, const at_event *ev,
                           const at_frame_details *details);

/** Feeds a finding (from the analyzer's callback): kept with its exchange
 * while that is still held, else with the latest record. */
void at_xrec_builder_finding(at_xrec_builder *b, const at_finding *f);

/**
 * The record being built (the running exchange, or the last one whose
 * final result came, until the next command), or NULL. It stays the
 * builder's: valid until the next call that feeds the builder. A live
 * consumer (replay) compares it as soon as the AT_EV_END event is fed,
 * without waiting for the next command.
 */
const at_xrec *at_xrec_builder_current(const at_xrec_builder *b);

/** End of the session (after at_session_finish and at_analyzer_finish):
 * delivers the records still held. */
void at_xrec_builder_finish(at_xrec_builder *b);

/** True if something could not be kept for lack of memory. */
bool at_xrec_builder_failed(const at_xrec_builder *b);

/** Frees @p b with any record still open (at_xrec_builder_finish delivers
 * those first); NULL is a no-op. */
void at_xrec_builder_free(at_xrec_builder *b);

/* ------------------------------------------------------------------ */
/* Comparing two exchanges                                            */
/* ------------------------------------------------------------------ */

typedef enum at_diff_kind {
    AT_DIFF_ONLY_A = 1,    /**< an exchange of A without counterpart in B (b NULL) */
    AT_DIFF_ONLY_B,        /**< an exchange of B without counterpart in A (a NULL) */
    AT_DIFF_COMMAND,       /**< the command lines differ (sides: text) */
    AT_DIFF_FRAME,         /**< a frame differs: field, frame, unit say where */
    AT_DIFF_SECURE_RESULT, /**< SECURE CMD results differ (num: at_secure_result, text: the line) */
    AT_DIFF_FINAL,         /**< final results differ (num: at_result_kind, text: the line) */
    AT_DIFF_END,           /**< one exchange ended without a final result (num: at_end_reason) */
    AT_DIFF_LINE,          /**< a line differs, or is on one side only (la / lb) */
    AT_DIFF_LINES_BEYOND,  /**< lines past AT_XREC_MAX_LINES differ (num: how many) */
    AT_DIFF_PAYLOAD,       /**< payload data of direction @c dir differs (num: bytes) */
    AT_DIFF_FINDING        /**< a finding on one side only (fa / fb) */
} at_diff_kind;

/** Where inside a frame (AT_DIFF_FRAME). */
typedef enum at_frame_field {
    AT_FF_COUNT = 1,       /**< one side has more frames (num: frames) */
    AT_FF_BYTE_ORDER,      /**< num: 1 big-endian, 0 little-endian */
    AT_FF_TOTAL_LEN,
    AT_FF_CMD_ID,
    AT_FF_PARAM_NUM,
    AT_FF_UNIT,            /**< unit @c unit is on one side only (present) */
    AT_FF_PARAM_LEN,
    AT_FF_PARAM_ID,
    AT_FF_VALUE,           /**< the value of unit @c unit: see at_diff */
    AT_FF_TRAILING,        /**< bytes after TotalLen (num: how many) */
    AT_FF_PROBLEM,         /**< a decoding problem on one side only (num: at_frame_problem_code) */
    AT_FF_SIGNATURE_CHECK  /**< the analyzer's verdict (num: 1 matches, 0 does not) */
} at_frame_field;

/** One side of a difference. */
typedef struct at_diff_side {
    bool present;          /**< the side has the element */
    at_dir dir;            /**< the stream @c off counts in */
    uint64_t off;          /**< the field, line or first differing byte */
    uint64_t num;          /**< numeric value (see the kinds) */
    uint32_t len;          /**< value length in bytes (AT_FF_VALUE) */
    const char *text;      /**< text value or NULL (never key bytes) */
    size_t text_len;
} at_diff_side;

typedef struct at_diff {
    at_diff_kind kind;
    const at_xrec *a, *b;
    at_frame_field field;  /**< AT_DIFF_FRAME */
    at_dir dir;            /**< AT_DIFF_FRAME: which direction's frames; AT_DIFF_PAYLOAD */
    unsigned frame;        /**< AT_DIFF_FRAME: 1-based among that direction's frames */
    unsigned unit;         /**< 1-based unit number (AT_FF_UNIT, PARAM_*, VALUE) */
    uint16_t param_id;     /**< that unit's ParamId (A's, or B's if A has none) */
    /**
     * AT_FF_VALUE: the value bytes differ from @c byte_index on (0-based
     * in the value; equal to the shorter length when one is a prefix of
     * the other). sides: off = that byte's stream offset, len = value
     * length, num = that byte's value (256 when past the value's end;
     * for a key unit only with at_cmp_options.show_secrets, else 0 and
     * @c secret set), text = the value for the text units (index as num).
     */
    uint32_t byte_index;
    bool secret;
    at_diff_side sa, sb;
    const at_xline *la, *lb;       /**< AT_DIFF_LINE */
    const at_xfinding *fa, *fb;    /**< AT_DIFF_FINDING */
} at_diff;

typedef void (*at_diff_cb)(void *ctx, const at_diff *d);

typedef struct at_cmp_options {
    bool exact;            /**< compare the module's lines verbatim (no normalization) */
    bool all_fields;       /**< every differing frame field; default: the first wire field per frame (and the problem and signature-check differences that explain it) */
    bool show_secrets;     /**< key unit bytes may appear in at_diff.sa/sb.num */
    bool skip_urcs;        /**< URCs are not compared: a live module sends them
                                when it sends them, inside or after the exchange
                                (`attrace replay` awaits them on its own) */
} at_cmp_options;

/**
 * Compares exchange @p a with @p b: command line, the host's frames field
 * by field, then the module's side as at_xrec_compare_answers, the host's
 * stray lines and payload, and the findings (by rule id). Each difference
 * goes to @p cb (may be NULL) in that order; pointers in it are valid
 * during the call. Returns the number of differences. @p opt may be NULL.
 */
unsigned at_xrec_compare(const at_xrec *a, const at_xrec *b,
                         const at_cmp_options *opt, at_diff_cb cb, void *ctx);

/**
 * Compares a recorded exchange with another (e.g. a live module's answer
 * to the same command): only the module's side: SECURE CMD result, final
 * result (kind, +CME/+CMS code, and its line as normalized: a verbose
 * +CME ERROR text, the ATV0 form), how the exchange ended, the module's
 * lines (aligned by longest common subsequence of their normalized texts;
 * the echo only by presence), the module's frames and its payload data.
 * Same reporting as at_xrec_compare; returns the number of differences.
 */
unsigned at_xrec_compare_answers(const at_xrec *recorded, const at_xrec *other,
                                 const at_cmp_options *opt, at_diff_cb cb,
                                 void *ctx);

/**
 * The form of a module line that is compared. Values that differ from
 * module to module and from run to run are replaced: an IMEI line
 * (AT_LK_IMEI) and any run of exactly 15 digits by "<imei>"; times
 * hh:mm:ss by "<time>" and dates yy/mm/dd by "<date>"; the numbers of
 * counters and measurements by "#": ^SISI fields 3-6 (rx/tx/ack/unack
 * counters), ^SISW field 3 (unacknowledged bytes), every number of +CSQ,
 * ^SMONI, ^SMONC, ^SMONP, ^SBV, ^SCTM, +CCLK. Writes at most @p cap bytes
 * (NUL included; the result is cut if longer) and returns the length.
 */
size_t at_answer_normalize(const char *line, size_t len, at_line_kind kind,
                           char *out, size_t cap);

/** Stable names: "only_in_a", "command", "frame", ... */
const char *at_diff_kind_name(at_diff_kind k);
/** Stable names: "frame_count", "byte_order", "total_len", ... */
const char *at_frame_field_name(at_frame_field f);
/** Display names: "TotalLen", "ParamLen", "byte order", ... */
const char *at_frame_field_label(at_frame_field f);
/** Stable names: "echo", "response", "final", ... */
const char *at_xline_kind_name(at_xline_kind k);

/* ------------------------------------------------------------------ */
/* Aligning two sessions                                              */
/* ------------------------------------------------------------------ */

/**
 * Receives aligned records in order: both for a pair, or one NULL for an
 * exchange present on one side only. The callee owns them.
 */
typedef void (*at_align_cb)(void *ctx, at_xrec *a, at_xrec *b);

typedef struct at_aligner at_aligner;

/**
 * Pairs records of side 0 (A) and side 1 (B). Heads with equal keys are
 * paired at once. Otherwise, once each side holds @p window records (or
 * has ended), the nearest pair of equal keys (smallest sum of distances
 * from the heads, then the smaller distance in A) is chosen and what lies
 * before it on either side is reported alone; with no equal key in the
 * windows, both heads are reported alone. At most @p window records per
 * side are held (0: AT_ALIGN_WINDOW_DEFAULT). NULL on allocation failure.
 */
at_aligner *at_aligner_new(unsigned window, at_align_cb cb, void *ctx);

/** Adds the next record of @p side (0 or 1); takes ownership. */
void at_aligner_push(at_aligner *al, int side, at_xrec *x);

/** True while @p side has not ended and holds fewer records than the
 * window: the caller should read more of that side. */
bool at_aligner_wants(const at_aligner *al, int side);

/** Records held for @p side. */
unsigned at_aligner_held(const at_aligner *al, int side);

/** No more records will come from @p side. */
void at_aligner_end(at_aligner *al, int side);

/** Frees the aligner and any record it still holds. */
void at_aligner_free(at_aligner *al);

#ifdef __cplusplus
}
#endif
#endif
