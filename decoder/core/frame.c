/*
 * The secure-command frame of AT^SBNW (PROTOCOL.md sections 3-5).
 *
 * Decoding is written for frames that are wrong: the point of the tool is to
 * explain SECURE CMD ERROR, so every field is reported with its offsets even
 * when the frame around it makes no sense, and nothing is read outside the
 * bytes handed in.
 */
#include "attrace/frame.h"

#include "bytescan.h"

#include <string.h>

/* How far a big-endian TotalLen may sit from the bytes present and still
 * count as plausible: enough for a few trailing bytes (a CR LF, the start of
 * the next command) or a capture cut shortly before the end. */
#define BE_SLACK 64u

/* ------------------------------------------------------------------ */
/* Names                                                              */
/* ------------------------------------------------------------------ */

typedef struct problem_info {
    const char *name;
    const char *text;
} problem_info;

/* Indexed by at_frame_problem_code; names are part of the JSON output. */
static const problem_info problem_infos[] = {
    [AT_FP_HEADER_TRUNCATED] = {"header_truncated",
        "The frame ends before its 6-byte header is complete."},
    [AT_FP_TOTALLEN_SHORT] = {"totallen_short",
        "TotalLen is smaller than the parameter units need."},
    [AT_FP_TOTALLEN_LONG] = {"totallen_long",
        "TotalLen is larger than the bytes that were sent."},
    [AT_FP_PARAMNUM_MISMATCH] = {"paramnum_mismatch",
        "ParamNum differs from the number of parameter units found."},
    [AT_FP_UNIT_LEN_UNDER_4] = {"unit_len_under_4",
        "A parameter unit's ParamLen is below 4, too small for its own header."},
    [AT_FP_UNIT_PAST_FRAME] = {"unit_past_frame",
        "A parameter unit runs past the end of the bytes that were sent."},
    [AT_FP_UNKNOWN_PARAM] = {"unknown_param",
        "A parameter unit has a ParamId the module does not know."},
    [AT_FP_DUPLICATE_PARAM] = {"duplicate_param",
        "A ParamId appears in more than one unit."},
    [AT_FP_INDEX_RANGE] = {"index_range",
        "The certificate index is outside the module's range."},
    [AT_FP_INDEX_SIZE] = {"index_size",
        "The certificate index value is not exactly 2 bytes long."},
    [AT_FP_CERT_TOO_LARGE] = {"cert_too_large",
        "The certificate is larger than the module accepts."},
    [AT_FP_KEY_TOO_LARGE] = {"key_too_large",
        "The private key is larger than the module accepts."},
    [AT_FP_KEY_INDEX_NOT_0] = {"key_index_not_0",
        "A private key is sent for an index other than 0, the client certificate."},
    [AT_FP_STRING_UNTERMINATED] = {"string_unterminated",
        "A text parameter does not end with a NUL byte."},
    [AT_FP_IMEI_NOT_DIGITS] = {"imei_not_digits",
        "The IMEI contains a character that is not a decimal digit."},
    [AT_FP_SIGNATURE_NOT_BASE64] = {"signature_not_base64",
        "The signature is not standard padded base64 text."},
    [AT_FP_SIGNATURE_NOT_LAST] = {"signature_not_last",
        "A parameter unit follows the signature, which must be the last unit."},
    [AT_FP_TRAILING_BYTES] = {"trailing_bytes",
        "Bytes follow the end of the frame, which the module reports as too many data."},
    [AT_FP_UNKNOWN_CMD] = {"unknown_cmd",
        "The CmdId is not a known secure command."},
    [AT_FP_INDEX_MISSING] = {"index_missing",
        "The command needs a certificate index unit but the frame has none."},
    [AT_FP_CERT_MISSING] = {"cert_missing",
        "A WRITE command carries no certificate data."},
    [AT_FP_BIG_ENDIAN] = {"big_endian",
        "The lengths are written big-endian; the module reads them little-endian."},
    [AT_FP_TOO_MANY_UNITS] = {"too_many_units",
        "The frame has more parameter units than the decoder lists."},
    [AT_FP_UNUSED_BYTES] = {"unused_bytes",
        "Bytes inside TotalLen belong to no parameter unit."},
};

static const problem_info *problem_lookup(at_frame_problem_code code)
{
    size_t i = (size_t)code;
    if (i >= sizeof problem_infos / sizeof problem_infos[0] || !problem_infos[i].name)
        return NULL;
    return &problem_infos[i];
}

const char *at_frame_problem_name(at_frame_problem_code code)
{
    const problem_info *p = problem_lookup(code);
    return p ? p->name : "unknown";
}

const char *at_frame_problem_text(at_frame_problem_code code)
{
    const problem_info *p = problem_lookup(code);
    return p ? p->text : "Unknown problem.";
}

const char *at_cmd_name(uint16_t cmd_id)
{
    switch (cmd_id) {
    case AT_CMD_WRITE: return "WRITE";
    case AT_CMD_READ: return "READ";
    case AT_CMD_DELETE: return "DELETE";
    case AT_CMD_REVOKE: return "REVOKE";
    case AT_CMD_READ_FILE: return "READ_FILE";
    }
    return NULL;
}

const char *at_param_name(uint16_t param_id)
{
    static const char *const names[AT_PARAM_ID_MAX_ + 1] = {
        [AT_PARAM_INDEX] = "index",     [AT_PARAM_CERT] = "cert",
        [AT_PARAM_SIGNATURE] = "signature", [AT_PARAM_IMEI] = "imei",
        [AT_PARAM_KEY] = "key",         [AT_PARAM_THUMBPRINT] = "thumbprint",
        [AT_PARAM_MODE] = "mode",
    };
    return param_id <= AT_PARAM_ID_MAX_ ? names[param_id] : NULL;
}

const at_frame_unit *at_frame_find(const at_frame *f, at_param_id param_id)
{
    if (!f || param_id < 1 || param_id > AT_PARAM_ID_MAX_)
        return NULL;
    int i = f->unit_of[param_id];
    if (i < 0 || (unsigned)i >= f->n_units)
        return NULL;
    return &f->units[i];
}

/* ------------------------------------------------------------------ */
/* Byte helpers                                                       */
/* ------------------------------------------------------------------ */

/* The byte order is a parameter only so that frames written big-endian by
 * a buggy host can still be shown field by field. */
static uint16_t get16(const uint8_t *p, bool big_endian)
{
    return big_endian ? (uint16_t)(p[0] << 8 | p[1])
                      : (uint16_t)(p[0] | p[1] << 8);
}

static void put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8 & 0xFFu);
}

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }
static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* Counts and lengths can exceed 32 bits only for absurd inputs (gigabytes
 * of bytes present); saturate rather than wrap. */
static uint32_t clamp32(size_t v)
{
    uint64_t wide = v; /* a plain compare is always false where size_t is 32 bits */
    return wide > UINT32_MAX ? UINT32_MAX : (uint32_t)wide;
}

static bool cmd_known(uint16_t cmd_id) { return at_cmd_name(cmd_id) != NULL; }

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/*
 * Where @p s (@p n bytes) stops being standard padded base64: the first
 * offending byte, or @p n when only the length is wrong (empty, or not a
 * whole number of 4-character groups), or SIZE_MAX when it is valid.
 * Reading left to right, '=' may be followed only by '=' and may occur at
 * most twice, which together with the length rule puts it at the end.
 */
static size_t base64_bad_at(const uint8_t *s, size_t n)
{
    /* The alphabet's run, a block at a time; then only '=' may follow. */
    size_t pad = 0;
    for (size_t i = at_bytescan_base64_run(s, n); i < n; i++)
        if (s[i] != '=' || ++pad > 2)
            return i;
    return (n == 0 || n % 4) ? n : SIZE_MAX;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                           */
/* ------------------------------------------------------------------ */

typedef struct decoder {
    const uint8_t *buf;
    size_t len;               /* bytes present */
    uint64_t base;            /* stream offset of buf[0] */
    bool be;                  /* read u16 big-endian */
    bool quiet;               /* structural pass: record nothing */
    bool response;            /* the module's READ answer: unit 3 may be a raw digest */
    const at_profile *prof;
    at_frame *f;
} decoder;

/* How the unit walk ended. */
typedef enum walk_stop {
    WALK_DONE,                /* ParamNum units read (and any extra ones) */
    WALK_OUT_OF_BYTES,        /* the bytes present ended first */
    WALK_BAD_LEN              /* ParamLen < 4: the rest cannot be located */
} walk_stop;

/* What the walk learns; the first (quiet) pass uses it to report frame-level
 * problems ahead of the per-unit ones, so a storm of unit problems cannot
 * push the framing diagnosis out of the bounded problem list. */
typedef struct walk_state {
    walk_stop stop;
    unsigned found;           /* units found (stored or not) */
    size_t end;               /* structural end: where the last unit ends */
    size_t overflow_at;       /* start of the first unit not stored */
    uint8_t seen;             /* bit per known ParamId */
    bool has_index;
    uint16_t index;
    bool has_key;
    size_t key_at;
    bool has_sig;
    size_t sig_at;
    bool after_sig_reported;
} walk_state;

typedef enum unit_kind { UNIT_OK, UNIT_UNDER_4, UNIT_CUT } unit_kind;

static void problem(const decoder *d, at_frame_problem_code code, size_t rel,
                    uint32_t detail)
{
    if (d->quiet)
        return;
    at_frame *f = d->f;
    if (f->n_problems < AT_FRAME_MAX_PROBLEMS) {
        at_frame_problem *p = &f->problems[f->n_problems++];
        p->code = code;
        p->off = d->base + rel;
        p->detail = detail;
    } else {
        f->problems_dropped++;
    }
}

/* A span of up to @p want bytes at @p rel, cut to the bytes present; an
 * absent field gets an empty span at the end of the data, never beyond. */
static at_span span_at(const decoder *d, size_t rel, size_t want)
{
    size_t start = min_sz(rel, d->len);
    at_span s = {d->base + start, clamp32(min_sz(want, d->len - start))};
    return s;
}

/*
 * Reads the unit at @p pos (pos < len). @p end receives where the unit ends
 * by its own ParamLen, which may lie beyond the bytes present: that is what
 * makes a too-small TotalLen visible.
 */
/* What the value says on the wire, so that no renderer reads it again:
 * the number of a 2-byte index (in the frame's byte order), the text up to
 * the NUL, and whether a signature's text is base64. */
static void read_value(const decoder *d, at_frame_unit *u)
{
    const uint8_t *nul = memchr(u->value, 0, u->value_len);
    u->text_len = nul ? clamp32((size_t)(nul - u->value)) : u->value_len;
    if (u->param_id == AT_PARAM_INDEX && u->whole && u->value_len == 2) {
        u->has_number = true;
        u->number = get16(u->value, d->be);
    }
    if (u->param_id == AT_PARAM_SIGNATURE)
        u->base64 = base64_bad_at(u->value, u->text_len) == SIZE_MAX;
}

static unit_kind read_unit(const decoder *d, size_t pos, at_frame_unit *u,
                           size_t *end)
{
    size_t avail = d->len - pos;
    const uint8_t *p = d->buf + pos;

    memset(u, 0, sizeof *u);
    u->len_span = span_at(d, pos, 2);
    u->id_span = span_at(d, pos + 2, 2);
    u->value_span = span_at(d, pos + AT_FRAME_UNIT_HEADER_LEN, 0);
    if (avail >= 2)
        u->param_len = get16(p, d->be);
    if (avail >= AT_FRAME_UNIT_HEADER_LEN)
        u->param_id = get16(p + 2, d->be);

    if (avail >= 2 && u->param_len < AT_FRAME_UNIT_HEADER_LEN) {
        u->span = span_at(d, pos, AT_FRAME_UNIT_HEADER_LEN);
        *end = pos + u->span.len;
        return UNIT_UNDER_4;
    }
    if (avail < AT_FRAME_UNIT_HEADER_LEN) {
        u->span = span_at(d, pos, avail);
        *end = avail >= 2 ? pos + u->param_len : d->len;
        return UNIT_CUT;
    }

    size_t have = min_sz(u->param_len, avail);
    u->span = span_at(d, pos, have);
    u->value = p + AT_FRAME_UNIT_HEADER_LEN;
    u->value_len = clamp32(have - AT_FRAME_UNIT_HEADER_LEN);
    u->value_span = span_at(d, pos + AT_FRAME_UNIT_HEADER_LEN, u->value_len);
    u->whole = have == u->param_len;
    /* The structural pass looks at no value's text: the recording pass
     * reads it, once. */
    if (!d->quiet)
        read_value(d, u);
    *end = pos + u->param_len;
    return have < u->param_len ? UNIT_CUT : UNIT_OK;
}

/* Checks the NUL a text unit must end with; returns the text length. */
static size_t check_terminated(const decoder *d, const at_frame_unit *u,
                               size_t pos)
{
    if (u->value_len > 0 && u->value[u->value_len - 1] == 0)
        return u->value_len - 1;
    /* An empty value has no last byte to blame: point at its ParamLen. */
    size_t at = u->value_len ? pos + AT_FRAME_UNIT_HEADER_LEN + u->value_len - 1 : pos;
    problem(d, AT_FP_STRING_UNTERMINATED, at, u->param_id);
    return u->value_len;
}

static void check_imei(const decoder *d, const at_frame_unit *u, size_t pos)
{
    size_t n = check_terminated(d, u, pos);
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(u->value[i])) {
            problem(d, AT_FP_IMEI_NOT_DIGITS, pos + AT_FRAME_UNIT_HEADER_LEN + i,
                    u->value[i]);
            return;
        }
    }
}

/* Where the first @p n bytes of a signature unit's value stop being
 * base64 (as base64_bad_at): read_value has the answer for its text
 * already, which is all of them when the value's only NUL ends it. */
static size_t signature_bad_at(const at_frame_unit *u, size_t n)
{
    if (n == u->text_len && u->base64)
        return SIZE_MAX;
    return base64_bad_at(u->value, n);
}

/* Base64 text with its NUL: what a signature unit holds in a request. */
static bool is_base64_text(const at_frame_unit *u)
{
    return u->value_len > 0 && u->value[u->value_len - 1] == 0 &&
           signature_bad_at(u, u->value_len - 1) == SIZE_MAX;
}

static void check_signature(const decoder *d, const at_frame_unit *u, size_t pos)
{
    if (d->quiet)
        return; /* its only outcome is a problem, which that pass drops */
    size_t n = check_terminated(d, u, pos);
    size_t bad = signature_bad_at(u, n);
    if (bad != SIZE_MAX)
        problem(d, AT_FP_SIGNATURE_NOT_BASE64, pos + AT_FRAME_UNIT_HEADER_LEN + bad,
                clamp32(n));
}

/* The value checks of a known, first-of-its-kind unit. Size limits follow
 * the declared length, so they hold for a cut unit too; content checks need
 * the whole value. */
static void check_value(const decoder *d, walk_state *w, const at_frame_unit *u,
                        size_t pos, bool whole)
{
    size_t declared = (size_t)u->param_len - AT_FRAME_UNIT_HEADER_LEN;

    switch ((at_param_id)u->param_id) {
    case AT_PARAM_INDEX:
        if (declared != 2) {
            problem(d, AT_FP_INDEX_SIZE, pos, clamp32(declared));
        } else if (whole) {
            w->has_index = true;
            w->index = get16(u->value, d->be);
            if (w->index > d->prof->index_max)
                problem(d, AT_FP_INDEX_RANGE, pos + AT_FRAME_UNIT_HEADER_LEN, w->index);
        }
        break;
    case AT_PARAM_CERT:
        if (declared > d->prof->cert_max)
            problem(d, AT_FP_CERT_TOO_LARGE, pos, clamp32(declared));
        break;
    case AT_PARAM_KEY:
        w->has_key = true;
        w->key_at = pos;
        if (declared > d->prof->key_max)
            problem(d, AT_FP_KEY_TOO_LARGE, pos, clamp32(declared));
        break;
    case AT_PARAM_SIGNATURE:
        if (!whole)
            break;
        if (d->response && (declared == 20 || declared == 32) && !is_base64_text(u)) {
            d->f->sig_kind = AT_SIG_RAW_DIGEST;
        } else {
            d->f->sig_kind = AT_SIG_BASE64;
            check_signature(d, u, pos);
        }
        break;
    case AT_PARAM_IMEI:
        if (whole)
            check_imei(d, u, pos);
        break;
    case AT_PARAM_THUMBPRINT:
    case AT_PARAM_MODE:
        if (whole)
            check_terminated(d, u, pos);
        break;
    }
}

/* Everything about one unit found by the walk: storing it and its checks. */
static void take_unit(const decoder *d, walk_state *w, const at_frame_unit *u,
                      unit_kind kind, size_t pos)
{
    at_frame *f = d->f;
    int slot = -1;

    if (w->found < AT_FRAME_MAX_UNITS) {
        slot = (int)w->found;
        if (!d->quiet) {
            f->units[slot] = *u;
            f->n_units = w->found + 1;
        }
    } else if (w->found == AT_FRAME_MAX_UNITS) {
        w->overflow_at = pos;
    }
    w->found++;

    if (w->has_sig && !w->after_sig_reported) {
        w->after_sig_reported = true;
        problem(d, AT_FP_SIGNATURE_NOT_LAST, pos, u->param_id);
    }
    if (kind == UNIT_UNDER_4) {
        problem(d, AT_FP_UNIT_LEN_UNDER_4, pos, u->param_len);
        return;
    }
    if (kind == UNIT_CUT)
        problem(d, AT_FP_UNIT_PAST_FRAME, pos, u->param_len);
    if (u->id_span.len < 2)
        return;               /* ParamId itself is missing */

    if (u->param_id < 1 || u->param_id > AT_PARAM_ID_MAX_) {
        problem(d, AT_FP_UNKNOWN_PARAM, pos + 2, u->param_id);
        return;
    }
    uint8_t bit = (uint8_t)(1u << u->param_id);
    if (w->seen & bit) {
        /* The module stops at the duplicate; judging its value adds noise. */
        problem(d, AT_FP_DUPLICATE_PARAM, pos + 2, u->param_id);
        return;
    }
    w->seen |= bit;
    if (slot >= 0 && !d->quiet)
        f->unit_of[u->param_id] = slot;
    if (u->param_id == AT_PARAM_SIGNATURE) {
        w->has_sig = true;
        w->sig_at = pos;
    }
    check_value(d, w, u, pos, kind == UNIT_OK);
}

/*
 * Follows ParamNum over all bytes present, not just TotalLen, so that a
 * TotalLen that is too small shows as units ending beyond it. When ParamNum
 * is satisfied but TotalLen still holds whole units, those are read too:
 * a ParamNum that is too small then shows as a count mismatch instead of
 * as anonymous bytes.
 */
static void walk_units(const decoder *d, walk_state *w)
{
    const at_frame *f = d->f;
    size_t pos = AT_FRAME_HEADER_LEN;
    at_frame_unit u;
    size_t end;

    memset(w, 0, sizeof *w);
    w->end = pos;
    w->stop = WALK_DONE;

    for (unsigned i = 0; i < f->param_num; i++) {
        if (pos >= d->len) {
            w->stop = WALK_OUT_OF_BYTES;
            return;
        }
        unit_kind kind = read_unit(d, pos, &u, &end);
        take_unit(d, w, &u, kind, pos);
        w->end = end;
        if (kind != UNIT_OK) {
            w->stop = kind == UNIT_UNDER_4 ? WALK_BAD_LEN : WALK_OUT_OF_BYTES;
            return;
        }
        pos = end;
    }

    size_t limit = min_sz(f->total_len, d->len);
    while (pos + AT_FRAME_UNIT_HEADER_LEN <= limit) {
        uint16_t plen = get16(d->buf + pos, d->be);
        if (plen < AT_FRAME_UNIT_HEADER_LEN || pos + plen > limit)
            return;
        unit_kind kind = read_unit(d, pos, &u, &end);
        take_unit(d, w, &u, kind, pos);
        w->end = pos = end;
    }
}

/*
 * The field bug this catches: a host tool writing every u16 big-endian. Only
 * considered when the little-endian CmdId is unknown, and only believed when
 * the big-endian header is a plausible frame for the bytes present.
 */
static bool looks_big_endian(const uint8_t *buf, size_t len)
{
    if (cmd_known(get16(buf + 2, false)) || !cmd_known(get16(buf + 2, true)))
        return false;
    size_t total = get16(buf, true);
    return total >= AT_FRAME_HEADER_LEN && total <= len + BE_SLACK &&
           len <= total + BE_SLACK && get16(buf + 4, true) <= AT_FRAME_MAX_UNITS;
}

/* Fewer than 6 bytes: the fields that are complete, and the problem. */
static void decode_short_header(const decoder *d)
{
    at_frame *f = d->f;

    f->total_len_span = span_at(d, 0, 2);
    f->cmd_id_span = span_at(d, 2, 2);
    f->param_num_span = span_at(d, 4, 2);
    if (d->len >= 2)
        f->total_len = get16(d->buf, false);
    if (d->len >= 4)
        f->cmd_id = get16(d->buf + 2, false);
    f->span = span_at(d, 0, d->len);
    f->units_end = clamp32(d->len);

    problem(d, AT_FP_HEADER_TRUNCATED, d->len, clamp32(d->len));
    if (d->len >= 4 && !cmd_known(f->cmd_id))
        problem(d, AT_FP_UNKNOWN_CMD, 2, f->cmd_id);
}

static bool cmd_needs_index(uint16_t cmd_id)
{
    return cmd_id == AT_CMD_WRITE || cmd_id == AT_CMD_READ ||
           cmd_id == AT_CMD_DELETE || cmd_id == AT_CMD_REVOKE;
}

/* Problems about the frame as a whole, from the structural pass. */
static void frame_problems(const decoder *d, const walk_state *w)
{
    const at_frame *f = d->f;
    size_t total = f->total_len;

    if (f->big_endian)
        problem(d, AT_FP_BIG_ENDIAN, 0, f->total_len);
    if (!cmd_known(f->cmd_id))
        problem(d, AT_FP_UNKNOWN_CMD, 2, f->cmd_id);
    if (total < w->end)
        problem(d, AT_FP_TOTALLEN_SHORT, 0, clamp32(w->end));
    if (total > d->len)
        problem(d, AT_FP_TOTALLEN_LONG, 0, clamp32(d->len));
    /* After a ParamLen < 4 the unit count is unknowable: no mismatch claim. */
    if (w->stop != WALK_BAD_LEN && w->found != f->param_num)
        problem(d, AT_FP_PARAMNUM_MISMATCH, 4, w->found);
    if (w->found > AT_FRAME_MAX_UNITS)
        problem(d, AT_FP_TOO_MANY_UNITS, w->overflow_at, w->found);

    size_t inside = min_sz(total, d->len);
    if (w->stop == WALK_DONE && w->end < inside)
        problem(d, AT_FP_UNUSED_BYTES, w->end, clamp32(inside - w->end));
    size_t frame_end = max_sz(total, w->end);
    if (d->len > frame_end)
        problem(d, AT_FP_TRAILING_BYTES, frame_end, clamp32(d->len - frame_end));

    if (cmd_needs_index(f->cmd_id) && !(w->seen & 1u << AT_PARAM_INDEX))
        problem(d, AT_FP_INDEX_MISSING, 2, f->cmd_id);
    if (f->cmd_id == AT_CMD_WRITE && !(w->seen & 1u << AT_PARAM_CERT))
        problem(d, AT_FP_CERT_MISSING, 2, f->cmd_id);
    if (w->has_key && w->has_index && w->index != 0)
        problem(d, AT_FP_KEY_INDEX_NOT_0, w->key_at, w->index);
}

static at_status decode(const uint8_t *buf, size_t len, uint64_t base_off,
                        const at_profile *profile, bool response, at_frame *out);

at_status at_frame_decode(const uint8_t *buf, size_t len, uint64_t base_off,
                          const at_profile *profile, at_frame *out)
{
    return decode(buf, len, base_off, profile, false, out);
}

at_status at_frame_decode_response(const uint8_t *buf, size_t len,
                                   uint64_t base_off, const at_profile *profile,
                                   at_frame *out)
{
    return decode(buf, len, base_off, profile, true, out);
}

const char *at_sig_kind_name(at_sig_kind k)
{
    switch (k) {
    case AT_SIG_NONE: return "none";
    case AT_SIG_BASE64: return "base64";
    case AT_SIG_RAW_DIGEST: return "raw_digest";
    }
    return "unknown";
}

static at_status decode(const uint8_t *buf, size_t len, uint64_t base_off,
                        const at_profile *profile, bool response, at_frame *out)
{
    if (!out || (!buf && len))
        return AT_ERR_ARG;

    memset(out, 0, sizeof *out);
    for (size_t i = 0; i <= AT_PARAM_ID_MAX_; i++)
        out->unit_of[i] = -1;

    decoder d = {buf, len, base_off, false, false, response,
                 profile ? profile : at_profile_get(AT_PROFILE_LEGACY), out};
    out->response = response;
    out->bytes_present = clamp32(len);
    out->signed_region = span_at(&d, 2, 0);

    if (len < AT_FRAME_HEADER_LEN) {
        decode_short_header(&d);
        return AT_OK;
    }

    d.be = looks_big_endian(buf, len);
    out->big_endian = d.be;
    out->total_len = get16(buf, d.be);
    out->cmd_id = get16(buf + 2, d.be);
    out->param_num = get16(buf + 4, d.be);
    out->total_len_span = span_at(&d, 0, 2);
    out->cmd_id_span = span_at(&d, 2, 2);
    out->param_num_span = span_at(&d, 4, 2);

    walk_state w;
    d.quiet = true;
    walk_units(&d, &w);
    d.quiet = false;
    frame_problems(&d, &w);
    walk_units(&d, &w);

    out->units_end = clamp32(w.end);
    out->span = span_at(&d, 0, max_sz(out->total_len, AT_FRAME_HEADER_LEN));
    out->has_index = w.has_index;
    out->index = w.index;
    if (out->n_units && out->units_end < out->span.len)
        out->after_units = span_at(&d, out->units_end, out->span.len - out->units_end);
    if (out->bytes_present > out->span.len)
        out->trailing = span_at(&d, out->span.len, out->bytes_present - out->span.len);
    if (w.has_sig)
        out->signed_region = span_at(&d, 2, w.sig_at - 2);
    return AT_OK;
}

/* ------------------------------------------------------------------ */
/* Encoding                                                           */
/* ------------------------------------------------------------------ */

/* One unit to write: raw bytes, plus a NUL for the text parameters. */
typedef struct piece {
    uint16_t id;
    const uint8_t *data;
    size_t len;
    bool nul;
} piece;

static size_t add_text(piece *p, size_t n, uint16_t id, const char *s)
{
    if (!s)
        return n;
    p[n] = (piece){id, (const uint8_t *)s, strlen(s), true};
    return n + 1;
}

static size_t add_bytes(piece *p, size_t n, uint16_t id, const uint8_t *b,
                        size_t len)
{
    if (!b)
        return n;
    p[n] = (piece){id, b, len, false};
    return n + 1;
}

/* The vendor tool's order: [mode] [thumbprint] index, [cert], [key], [IMEI]. */
static size_t collect_pieces(const at_frame_spec *spec, const uint8_t index_le[2],
                             piece p[6])
{
    size_t n = 0;
    n = add_text(p, n, AT_PARAM_MODE, spec->mode);
    n = add_text(p, n, AT_PARAM_THUMBPRINT, spec->thumbprint);
    n = add_bytes(p, n, AT_PARAM_INDEX, index_le, 2);
    n = add_bytes(p, n, AT_PARAM_CERT, spec->cert, spec->cert_len);
    n = add_bytes(p, n, AT_PARAM_KEY, spec->key, spec->key_len);
    n = add_text(p, n, AT_PARAM_IMEI, spec->imei);
    return n;
}

static void write_unit_header(uint8_t *at, size_t unit_len, uint16_t id)
{
    put16(at, unit_len);
    put16(at + 2, id);
}

/* Sizes the frame without its signature; checks the wire limits. */
static at_status measure(const piece *p, size_t n, bool sign, size_t *size)
{
    size_t total = AT_FRAME_HEADER_LEN;
    for (size_t i = 0; i < n; i++) {
        if (p[i].len > AT_FRAME_MAX_LEN - AT_FRAME_UNIT_HEADER_LEN - p[i].nul)
            return AT_ERR_TOO_LONG;
        total += AT_FRAME_UNIT_HEADER_LEN + p[i].len + p[i].nul;
        if (total > AT_FRAME_MAX_LEN)
            return AT_ERR_TOO_LONG;
    }
    /* Even an empty signature costs a unit header and its NUL. */
    if (sign && total + AT_FRAME_UNIT_HEADER_LEN + 1 > AT_FRAME_MAX_LEN)
        return AT_ERR_TOO_LONG;
    *size = total;
    return AT_OK;
}

/*
 * Appends the signature unit at @p pos. The signer writes its base64 text
 * straight into the unit's value, after the bytes it signs, so no scratch
 * buffer is needed (this runs on microcontrollers).
 */
static at_status append_signature(at_sign_fn sign, void *ctx, uint8_t *out,
                                  size_t cap, size_t *pos)
{
    size_t value_at = *pos + AT_FRAME_UNIT_HEADER_LEN;
    size_t room = min_sz(cap - value_at - 1, AT_FRAME_SIG_MAX);
    size_t sig_len = 0;

    if (sign(ctx, out + 2, *pos - 2, (char *)(out + value_at), room, &sig_len) != 0 ||
        sig_len > room)
        return AT_ERR_SIGN;

    size_t unit_len = AT_FRAME_UNIT_HEADER_LEN + sig_len + 1;
    if (*pos + unit_len > AT_FRAME_MAX_LEN)
        return AT_ERR_TOO_LONG;
    write_unit_header(out + *pos, unit_len, AT_PARAM_SIGNATURE);
    out[value_at + sig_len] = 0;
    *pos += unit_len;
    return AT_OK;
}

at_status at_frame_encode(const at_frame_spec *spec, at_sign_fn sign,
                          void *sign_ctx, uint8_t *out, size_t cap,
                          size_t *out_len)
{
    if (out_len)
        *out_len = 0;
    if (!spec || !out || !out_len || (spec->sign && !sign) ||
        (!spec->cert && spec->cert_len) || (!spec->key && spec->key_len))
        return AT_ERR_ARG;

    uint8_t index_le[2];
    put16(index_le, spec->index);
    piece p[6];
    size_t n = collect_pieces(spec, index_le, p);

    size_t size;
    at_status st = measure(p, n, spec->sign, &size);
    if (st != AT_OK)
        return st;
    if (size + (spec->sign ? AT_FRAME_UNIT_HEADER_LEN + 1 : 0) > cap)
        return AT_ERR_SPACE;

    put16(out + 2, spec->cmd_id);
    put16(out + 4, n + spec->sign);
    size_t pos = AT_FRAME_HEADER_LEN;
    for (size_t i = 0; i < n; i++) {
        size_t unit_len = AT_FRAME_UNIT_HEADER_LEN + p[i].len + p[i].nul;
        write_unit_header(out + pos, unit_len, p[i].id);
        if (p[i].len)
            memcpy(out + pos + AT_FRAME_UNIT_HEADER_LEN, p[i].data, p[i].len);
        if (p[i].nul)
            out[pos + unit_len - 1] = 0;
        pos += unit_len;
    }
    if (spec->sign) {
        st = append_signature(sign, sign_ctx, out, cap, &pos);
        if (st != AT_OK)
            return st;
    }
    /* TotalLen last: it is not signed and only now known. */
    put16(out, pos);
    *out_len = pos;
    return AT_OK;
}

/* ------------------------------------------------------------------ */
/* Frame to spec                                                      */
/* ------------------------------------------------------------------ */

static bool unit_whole(const at_frame_unit *u)
{
    return u->value && u->param_len >= AT_FRAME_UNIT_HEADER_LEN &&
           u->value_len == (uint32_t)(u->param_len - AT_FRAME_UNIT_HEADER_LEN);
}

/* Copies a text unit into @p buf as a C string. A value with a NUL inside,
 * or without its final NUL, has no C-string form that re-encodes to it. */
static at_status copy_text(const at_frame *f, at_param_id id, char *buf,
                           size_t cap, size_t *used, const char **dst)
{
    const at_frame_unit *u = at_frame_find(f, id);
    if (!u)
        return AT_OK;
    if (!unit_whole(u) || u->value_len == 0)
        return AT_ERR_SYNTAX;
    size_t n = u->value_len - 1;
    if (u->value[n] != 0 || memchr(u->value, 0, n))
        return AT_ERR_SYNTAX;
    if (cap - *used < n + 1)
        return AT_ERR_SPACE;
    memcpy(buf + *used, u->value, n);
    buf[*used + n] = '\0';
    *dst = buf + *used;
    *used += n + 1;
    return AT_OK;
}

static at_status take_bytes(const at_frame *f, at_param_id id,
                            const uint8_t **dst, size_t *len)
{
    const at_frame_unit *u = at_frame_find(f, id);
    if (!u)
        return AT_OK;
    if (!unit_whole(u))
        return AT_ERR_SYNTAX;
    *dst = u->value;
    *len = u->value_len;
    return AT_OK;
}

at_status at_frame_to_spec(const at_frame *f, at_frame_spec *spec,
                           char *strbuf, size_t strbuf_cap)
{
    if (!f || !spec || (!strbuf && strbuf_cap))
        return AT_ERR_ARG;
    memset(spec, 0, sizeof *spec);
    /* The encoder always writes an index; without one there is no spec. */
    if (!f->has_index)
        return AT_ERR_SYNTAX;

    spec->cmd_id = f->cmd_id;
    spec->index = f->index;
    spec->sign = at_frame_find(f, AT_PARAM_SIGNATURE) != NULL;

    size_t used = 0;
    at_status st;
    if ((st = take_bytes(f, AT_PARAM_CERT, &spec->cert, &spec->cert_len)) != AT_OK ||
        (st = take_bytes(f, AT_PARAM_KEY, &spec->key, &spec->key_len)) != AT_OK ||
        (st = copy_text(f, AT_PARAM_MODE, strbuf, strbuf_cap, &used, &spec->mode)) != AT_OK ||
        (st = copy_text(f, AT_PARAM_THUMBPRINT, strbuf, strbuf_cap, &used,
                        &spec->thumbprint)) != AT_OK ||
        (st = copy_text(f, AT_PARAM_IMEI, strbuf, strbuf_cap, &used, &spec->imei)) != AT_OK)
        return st;
    return AT_OK;
}
