/*
 * attrace/frame.h - the binary secure-command frame of AT^SBNW (PROTOCOL.md
 * sections 3-5): decoding with per-field offsets and a list of problems, and
 * encoding in the vendor tool's unit order with a caller-supplied signer.
 *
 * Decoding never allocates: the result points into the caller's buffer and
 * holds at most AT_FRAME_MAX_UNITS units and AT_FRAME_MAX_PROBLEMS problems
 * (overflow is counted, never silent).
 */
#ifndef ATTRACE_FRAME_H
#define ATTRACE_FRAME_H

#include "attrace/profile.h"
#include "attrace/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AT_FRAME_HEADER_LEN 6u  /**< TotalLen, CmdId, ParamNum */
#define AT_FRAME_UNIT_HEADER_LEN 4u
#define AT_FRAME_MAX_LEN 65535u /**< TotalLen is a u16 */
#define AT_FRAME_MAX_UNITS 16u
#define AT_FRAME_MAX_PROBLEMS 24u

/** CmdId values. */
typedef enum at_cmd_id {
    AT_CMD_WRITE = 1,
    AT_CMD_READ = 2,
    AT_CMD_DELETE = 3,
    AT_CMD_REVOKE = 4,
    AT_CMD_READ_FILE = 0x12
} at_cmd_id;

/** ParamId values. */
typedef enum at_param_id {
    AT_PARAM_INDEX = 1,
    AT_PARAM_CERT = 2,
    AT_PARAM_SIGNATURE = 3,
    AT_PARAM_IMEI = 4,
    AT_PARAM_KEY = 5,
    AT_PARAM_THUMBPRINT = 6,
    AT_PARAM_MODE = 7,
    AT_PARAM_ID_MAX_ = 7 /**< the highest ParamId defined (at_frame.unit_of has one more entry) */
} at_param_id;

/**
 * Problem codes. Their numeric values and names (at_frame_problem_name) are
 * stable: they appear in JSON output and in users' scripts. Append only.
 */
typedef enum at_frame_problem_code {
    AT_FP_HEADER_TRUNCATED = 1,  /**< fewer than 6 bytes: no complete header */
    AT_FP_TOTALLEN_SHORT = 2,    /**< TotalLen smaller than the units need (detail: end of units) */
    AT_FP_TOTALLEN_LONG = 3,     /**< TotalLen larger than the bytes present (detail: bytes present) */
    AT_FP_PARAMNUM_MISMATCH = 4, /**< ParamNum differs from the units found (detail: units found) */
    AT_FP_UNIT_LEN_UNDER_4 = 5,  /**< ParamLen < 4 (detail: ParamLen) */
    AT_FP_UNIT_PAST_FRAME = 6,   /**< unit runs past the frame's bytes (detail: ParamLen) */
    AT_FP_UNKNOWN_PARAM = 7,     /**< ParamId not in 1..7 (detail: ParamId) */
    AT_FP_DUPLICATE_PARAM = 8,   /**< ParamId seen twice (detail: ParamId) */
    AT_FP_INDEX_RANGE = 9,       /**< index outside the profile's range (detail: index) */
    AT_FP_INDEX_SIZE = 10,       /**< index value not exactly 2 bytes (detail: value length) */
    AT_FP_CERT_TOO_LARGE = 11,   /**< certificate over the profile's limit (detail: size) */
    AT_FP_KEY_TOO_LARGE = 12,    /**< private key over the profile's limit (detail: size) */
    AT_FP_KEY_INDEX_NOT_0 = 13,  /**< private key with index != 0 (detail: index) */
    AT_FP_STRING_UNTERMINATED = 14, /**< IMEI/signature/thumbprint/mode without NUL (detail: ParamId) */
    AT_FP_IMEI_NOT_DIGITS = 15,  /**< IMEI holds a non-digit (offset: that byte) */
    AT_FP_SIGNATURE_NOT_BASE64 = 16, /**< signature is not padded base64 (offset: first bad byte) */
    AT_FP_SIGNATURE_NOT_LAST = 17, /**< a unit follows the signature */
    AT_FP_TRAILING_BYTES = 18,   /**< bytes after the frame (detail: how many) */
    AT_FP_UNKNOWN_CMD = 19,      /**< CmdId not 1..4 or 0x12 (detail: CmdId) */
    AT_FP_INDEX_MISSING = 20,    /**< no index unit */
    AT_FP_CERT_MISSING = 21,     /**< WRITE without certificate data */
    AT_FP_BIG_ENDIAN = 22,       /**< header only makes sense read big-endian (detail: BE TotalLen) */
    AT_FP_TOO_MANY_UNITS = 23,   /**< more units than AT_FRAME_MAX_UNITS; the rest not listed (detail: units found) */
    AT_FP_UNUSED_BYTES = 24      /**< bytes inside TotalLen that no unit covers (detail: how many) */
} at_frame_problem_code;

typedef struct at_frame_problem {
    at_frame_problem_code code;
    uint64_t off;    /**< stream offset of the byte the problem is about */
    uint32_t detail; /**< code-dependent number, see the enum */
} at_frame_problem;

/** One parameter unit. */
typedef struct at_frame_unit {
    uint16_t param_len;   /**< as written (counts the 4-byte header) */
    uint16_t param_id;
    at_span span;         /**< the whole unit as present in the buffer */
    at_span len_span, id_span, value_span;
    const uint8_t *value; /**< value bytes inside the caller's buffer */
    uint32_t value_len;   /**< bytes of value present (may be < param_len-4 if cut) */
    bool whole;           /**< all param_len-4 value bytes are present */
    bool has_number;      /**< an index unit whose whole value is 2 bytes: @c number */
    uint16_t number;      /**< that value, read in the frame's byte order */
    uint32_t text_len;    /**< bytes of value before the first NUL (all if none) */
    bool base64;          /**< signature unit: the text_len bytes are standard padded base64 */
} at_frame_unit;

/** What the signature unit (ParamId 3) of a frame holds. */
typedef enum at_sig_kind {
    AT_SIG_NONE = 0,       /**< no signature unit */
    AT_SIG_BASE64,         /**< base64 text + NUL (requests; some responses) */
    AT_SIG_RAW_DIGEST      /**< raw 20- or 32-byte digest (READ responses, PROTOCOL.md section 5) */
} at_sig_kind;

/** A decoded frame. Pointers refer to the buffer given to at_frame_decode. */
typedef struct at_frame {
    uint16_t total_len, cmd_id, param_num;
    bool big_endian;       /**< u16 fields were read big-endian (see AT_FP_BIG_ENDIAN) */
    at_span total_len_span, cmd_id_span, param_num_span;
    at_span span;          /**< the frame: min(TotalLen, bytes present) bytes */
    uint32_t bytes_present;/**< bytes handed to the decoder (frame and anything after) */
    uint32_t units_end;    /**< offset (relative) where the last parsed unit ends */
    at_span after_units;   /**< bytes inside the frame after the last unit (len 0: none) */
    at_span trailing;      /**< bytes present after TotalLen (len 0: none) */

    at_frame_unit units[AT_FRAME_MAX_UNITS];
    unsigned n_units;

    /* Index into units[] of the first unit of each ParamId, or -1. */
    int unit_of[AT_PARAM_ID_MAX_ + 1];

    bool response;         /**< decoded as the module's answer (at_frame_decode_response) */
    at_sig_kind sig_kind;  /**< what unit 3 holds */

    bool has_index;
    uint16_t index;
    at_span signed_region; /**< offset 2 up to the signature unit (len 0 if no signature) */

    at_frame_problem problems[AT_FRAME_MAX_PROBLEMS];
    unsigned n_problems;
    unsigned problems_dropped; /**< problems found beyond the array */
} at_frame;

/**
 * Decodes a frame from @p buf (@p len bytes present: the frame and, if any,
 * bytes that followed it). @p base_off is the stream offset of buf[0]; all
 * spans in @p out are stream offsets. @p profile selects the limits (NULL =
 * legacy). Always fills @p out as far as the bytes allow; the problems list
 * says what is wrong. Returns AT_OK, or AT_ERR_ARG for NULL arguments
 * (@p buf may be NULL when @p len is 0).
 */
at_status at_frame_decode(const uint8_t *buf, size_t len, uint64_t base_off,
                          const at_profile *profile, at_frame *out);

/**
 * Decodes the module's binary answer to a READ (PROTOCOL.md section 5, low
 * confidence): as at_frame_decode, except that unit 3 may hold a raw 20- or
 * 32-byte digest instead of base64 text; sig_kind says which was seen.
 */
at_status at_frame_decode_response(const uint8_t *buf, size_t len,
                                   uint64_t base_off, const at_profile *profile,
                                   at_frame *out);

/** Stable name of an at_sig_kind ("none", "base64", "raw_digest"). */
const char *at_sig_kind_name(at_sig_kind k);

/** The unit with @p param_id, or NULL. */
const at_frame_unit *at_frame_find(const at_frame *f, at_param_id param_id);

/** Stable name of a problem code, e.g. "totallen_short". */
const char *at_frame_problem_name(at_frame_problem_code code);

/** One-sentence English description of a problem code. */
const char *at_frame_problem_text(at_frame_problem_code code);

/** "WRITE", "READ", ... or NULL for an unknown CmdId. */
const char *at_cmd_name(uint16_t cmd_id);

/** "index", "cert", "signature", "imei", "key", "thumbprint", "mode" or NULL. */
const char *at_param_name(uint16_t param_id);

/* ------------------------------------------------------------------ */
/* Encoding                                                           */
/* ------------------------------------------------------------------ */

/**
 * Signs the frame region (offset 2 up to the signature unit). Writes the
 * signature as base64 text WITHOUT the terminating NUL into @p out (capacity
 * @p cap) and its length into @p out_len. Returns 0 on success.
 */
typedef int (*at_sign_fn)(void *ctx, const uint8_t *region, size_t region_len,
                          char *out, size_t cap, size_t *out_len);

/**
 * What to encode. NULL pointers leave the optional unit out. The encoder
 * emits units in the vendor tool's order:
 * [mode] [thumbprint] index, [cert], [key], [IMEI], [signature].
 */
typedef struct at_frame_spec {
    uint16_t cmd_id;
    uint16_t index;
    const char *mode;        /**< store name, NUL-terminated on the wire */
    const char *thumbprint;  /**< lowercase hex SHA-1, NUL-terminated on the wire */
    const uint8_t *cert;
    size_t cert_len;
    const uint8_t *key;
    size_t key_len;
    const char *imei;        /**< digits, NUL-terminated on the wire */
    bool sign;               /**< append a signature unit (needs a signer) */
} at_frame_spec;

/** Largest base64 signature the encoder accepts from a signer (16384-bit key). */
#define AT_FRAME_SIG_MAX 2752u

/**
 * Encodes @p spec into @p out (capacity @p cap), length into @p out_len.
 * @p sign / @p sign_ctx are used only when spec->sign is true.
 * Returns AT_OK, AT_ERR_SPACE, AT_ERR_TOO_LONG (over 65535 bytes),
 * AT_ERR_SIGN or AT_ERR_ARG. The signer writes straight into @p out and is
 * given the room left there (at most AT_FRAME_SIG_MAX); a signer that cannot
 * fit its text should fail, which is reported as AT_ERR_SIGN.
 */
at_status at_frame_encode(const at_frame_spec *spec, at_sign_fn sign,
                          void *sign_ctx, uint8_t *out, size_t cap,
                          size_t *out_len);

/**
 * The spec a decoded frame corresponds to (pointers into the frame's
 * buffer; strings are NOT NUL-terminated copies, so @p strbuf of size
 * @p strbuf_cap receives NUL-terminated copies of mode/thumbprint/imei).
 * With this, decode(encode(x)) == x is checkable and replay can re-sign.
 * Unknown and duplicate units are left out. Returns AT_OK, AT_ERR_ARG,
 * AT_ERR_SPACE (strbuf too small) or AT_ERR_SYNTAX when no spec encodes to
 * the frame: no index, a cut cert/key/text unit, or a text value that lacks
 * its final NUL or holds one inside.
 */
at_status at_frame_to_spec(const at_frame *f, at_frame_spec *spec,
                           char *strbuf, size_t strbuf_cap);

#ifdef __cplusplus
}
#endif
#endif
