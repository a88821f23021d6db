/*
 * Findings, and the rules of a secure-command exchange, run when it ends:
 * the frame's structure, how it was sent, its content, and a warning when
 * a failure stays unexplained. Then the store model learns what a
 * successful WRITE or DELETE did.
 */
#include "analysis_internal.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Findings                                                           */
/* ------------------------------------------------------------------ */

const char *at_severity_name(at_severity s)
{
    switch (s) {
    case AT_SEV_INFO: return "info";
    case AT_SEV_WARNING: return "warning";
    case AT_SEV_ERROR: return "error";
    }
    return "unknown";
}

void an_finding_init(at_finding *f, const char *rule, at_severity sev,
                     uint32_t exchange, at_dir dir, uint64_t off, uint64_t ts)
{
    memset(f, 0, sizeof *f);
    const at_rule *r = at_rule_find(rule);
    f->rule = r ? r->id : rule; /* an unknown id is a bug the rule-table test catches */
    f->severity = sev;
    f->exchange = exchange;
    f->dir = dir;
    f->off = off;
    f->ts = ts;
}

void an_what(at_finding *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->what, sizeof f->what, fmt, ap);
    va_end(ap);
}

void an_fix(at_finding *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->fix, sizeof f->fix, fmt, ap);
    va_end(ap);
}

void an_fix_template(at_finding *f)
{
    const at_rule *r = at_rule_find(f->rule);
    an_copy(f->fix, sizeof f->fix, r ? r->fix : "", r ? strlen(r->fix) : 0);
}

void an_deliver(at_analyzer *an, const at_finding *f)
{
    if (an->x.open && f->exchange == an->x.id && f->exchange != 0) {
        an->x.n_findings++;
        if (f->severity == AT_SEV_ERROR)
            an->x.error_found = true;
    }
    if (an->cb)
        an->cb(an->ctx, f);
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */
/* ------------------------------------------------------------------ */

typedef struct ctx {
    at_analyzer *an;
    an_exchange *x;
    const at_frame *f;
    const uint8_t *buf;      /* the frame's bytes (buf[0] = first byte) */
    size_t len;              /* bytes present, trailing ones included */
    const at_profile *prof;
    bool ok;                 /* answered SECURE CMD END OK (and OK) */
    bool accepted;           /* answered SECURE CMD END OK: the module took the frame */
    bool walk_broken;        /* a ParamLen put the units out of step: absent units prove nothing */
} ctx;

/* Frame-relative offset of a stream offset. */
static unsigned rel(const ctx *c, uint64_t off)
{
    return (unsigned)(off - c->x->frame_off);
}

static const at_frame_problem *problem(const at_frame *f, at_frame_problem_code code)
{
    for (unsigned i = 0; i < f->n_problems; i++)
        if (f->problems[i].code == code)
            return &f->problems[i];
    return NULL;
}

static void start(const ctx *c, at_finding *f, const char *rule, at_severity sev,
                  uint64_t off)
{
    an_finding_init(f, rule, sev, c->x->id, AT_DIR_TE_TO_ME, off, c->x->frame_ts_first);
}

/*
 * Delivers a finding about the frame. When the module accepted the frame,
 * a finding that says it would not is at most info, and says so; a pause
 * is a risk that did not bite this time and keeps its severity.
 */
static void deliver(const ctx *c, at_finding *fd)
{
    if (c->accepted && fd->severity > AT_SEV_INFO && strcmp(fd->rule, "frame_pause") != 0) {
        fd->severity = AT_SEV_INFO;
        size_t k = strlen(fd->what);
        an_fmt(fd->what + k, sizeof fd->what - k,
               " The module accepted the frame all the same (SECURE CMD END OK).");
    }
    an_deliver(c->an, fd);
}

static bool is_hex_digit(uint8_t ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* "0D 0A (CR LF)" for up to 8 bytes. */
static void describe_bytes(const uint8_t *p, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && i < 8; i++)
        k += an_fmt(out + k, cap - k, "%s%02X", i ? " " : "", p[i]);
    if (n > 8)
        k += an_fmt(out + k, cap - k, " ...");
    bool text = n <= 8;
    for (size_t i = 0; i < n && text; i++)
        text = p[i] == '\r' || p[i] == '\n' || p[i] == 0;
    if (text && n > 0) {
        k += an_fmt(out + k, cap - k, " (");
        for (size_t i = 0; i < n && k < cap; i++)
            k += an_fmt(out + k, cap - k, "%s%s", i ? " " : "",
                                  p[i] == '\r' ? "CR" : p[i] == '\n' ? "LF" : "NUL");
        an_fmt(out + k, cap - k, ")");
    }
}

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

static const char *profile_models(const at_profile *p)
{
    return p->id == AT_PROFILE_LEGACY ? "MC75i, TC6x, BGS2/3, EGS5, AGS2"
                                      : "EXS62, PLS6x, TX62";
}

/* ------------------------------------------------------------------ */
/* Text instead of a frame                                            */
/* ------------------------------------------------------------------ */

static bool frame_is_hex(const ctx *c, size_t *digits)
{
    size_t d = 0;
    for (size_t i = 0; i < c->len; i++) {
        uint8_t ch = c->buf[i];
        if (is_hex_digit(ch))
            d++;
        else if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n')
            return false;
    }
    *digits = d;
    return d >= 8;
}

/* Returns true when the host sent text: then the frame rules are moot. */
static bool rules_text(const ctx *c)
{
    an_exchange *x = c->x;
    at_finding fd;
    bool pem = x->pem_text || (x->has_frame && an_starts_pem(c->buf, c->len));
    if (pem) {
        uint64_t off = x->has_frame ? x->frame_off : x->pem_off;
        start(c, &fd, "frame_as_pem", AT_SEV_ERROR, off);
        if (!x->has_frame)
            fd.ts = x->pem_ts;
        an_what(&fd, "After AT^SBNW the host sent PEM text (\"-----BEGIN ...\") instead of a "
                     "binary secure-command frame.");
        an_fix_template(&fd);
        deliver(c, &fd);
        return true;
    }
    size_t digits = 0;
    bool hex_frame = x->has_frame && frame_is_hex(c, &digits);
    if (hex_frame || x->hex_text) {
        uint64_t off = x->hex_off;
        char sample[24];
        if (hex_frame) {
            /* Point at the first digit, past a line end taken into the frame. */
            size_t i = 0;
            while (i < c->len && !is_hex_digit(c->buf[i]))
                i++;
            off = x->frame_off + i;
            an_copy(sample, sizeof sample, (const char *)c->buf + i,
                    c->len - i < 16 ? c->len - i : 16);
        }
        else
            an_copy(sample, sizeof sample, x->hex_sample, strlen(x->hex_sample));
        if (!hex_frame)
            digits = x->hex_chars;
        start(c, &fd, "frame_as_hex_text", AT_SEV_ERROR, off);
        if (!hex_frame)
            fd.ts = x->hex_ts;
        an_what(&fd, "After AT^SBNW the host sent %zu hexadecimal digits as ASCII text "
                     "(\"%s...\") instead of the %zu binary bytes they stand for.",
                digits, sample, digits / 2);
        an_fix(&fd, "Convert the hex text to raw bytes and send those %zu bytes as the frame, "
                    "with no line end.", digits / 2);
        deliver(c, &fd);
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* Structure                                                          */
/* ------------------------------------------------------------------ */

static void unit_names(const at_frame *f, char *out, size_t cap)
{
    size_t k = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < f->n_units && k < cap; i++) {
        const char *n = at_param_name(f->units[i].param_id);
        k += an_fmt(out + k, cap - k, "%s%s", i ? ", " : "", n ? n : "unknown");
    }
}

/* The unit that starts at frame-relative @p r, or NULL. */
static const at_frame_unit *unit_at(const ctx *c, uint64_t off)
{
    for (unsigned i = 0; i < c->f->n_units; i++)
        if (c->f->units[i].span.off == off)
            return &c->f->units[i];
    return NULL;
}

static unsigned count_flow_bytes(const uint8_t *p, size_t n, unsigned *xon,
                                 unsigned *xoff, size_t *first)
{
    *xon = *xoff = 0;
    *first = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == 0x11 || p[i] == 0x13) {
            if (*first == SIZE_MAX)
                *first = i;
            if (p[i] == 0x11)
                (*xon)++;
            else
                (*xoff)++;
        }
    }
    return *xon + *xoff;
}

static void rule_big_endian(const ctx *c)
{
    at_finding fd;
    unsigned le = c->len >= 2 ? (unsigned)(c->buf[0] | c->buf[1] << 8) : 0;
    start(c, &fd, "big_endian_lengths", AT_SEV_ERROR, c->x->frame_off);
    an_what(&fd, "The frame's 16-bit fields are big-endian: TotalLen %02X %02X means %u "
                 "big-endian but %u to the module, which reads every field little-endian.",
            c->buf[0], c->buf[1], c->f->total_len, le);
    an_fix(&fd, "Write TotalLen, CmdId, ParamNum, ParamLen and ParamId least significant "
                "byte first (TotalLen %u is %02X %02X).",
           c->f->total_len, c->f->total_len & 0xFF, c->f->total_len >> 8);
    deliver(c, &fd);
}

/* ParamLen < 4, or a unit that runs past the frame. Returns true if it fired. */
static bool rule_unit_length(const ctx *c, bool cut)
{
    if (cut)
        return false; /* lost bytes leave the walk out of step: bytes_lost says why */
    const at_frame *f = c->f;
    const at_frame_problem *p = NULL;
    for (unsigned i = 0; i < f->n_problems && !p; i++)
        if (f->problems[i].code == AT_FP_UNIT_LEN_UNDER_4 ||
            f->problems[i].code == AT_FP_UNIT_PAST_FRAME ||
            f->problems[i].code == AT_FP_UNUSED_BYTES)
            p = &f->problems[i];
    if (!p)
        return false;
    at_finding fd;
    if (p->code == AT_FP_UNUSED_BYTES) {
        start(c, &fd, "unit_length_wrong", AT_SEV_ERROR, p->off);
        an_what(&fd, "%u bytes at frame offset %u, inside TotalLen %u, belong to no parameter "
                     "unit: a ParamLen before them is too small, or TotalLen counts bytes that "
                     "are not part of the frame.",
                p->detail, rel(c, p->off), f->total_len);
        an_fix(&fd, "Set every ParamLen to 4 plus the length of its value and TotalLen to the "
                    "end of the last unit (%u), and send nothing else.", f->units_end);
        deliver(c, &fd);
        return true;
    }
    const at_frame_unit *u = unit_at(c, p->off);
    const char *name = u ? at_param_name(u->param_id) : NULL;
    char what_unit[48];
    if (name)
        an_fmt(what_unit, sizeof what_unit, "The %s unit", name);
    else
        an_fmt(what_unit, sizeof what_unit, "The unit");
    start(c, &fd, "unit_length_wrong", AT_SEV_ERROR, p->off);
    if (p->code == AT_FP_UNIT_LEN_UNDER_4)
        an_what(&fd, "%s at frame offset %u has ParamLen %u, less than its own 4-byte header.",
                what_unit, rel(c, p->off), p->detail);
    else
        an_what(&fd, "%s at frame offset %u has ParamLen %u, so it would end at byte %u, "
                     "past the end of the %u-byte frame.",
                what_unit, rel(c, p->off), p->detail, rel(c, p->off) + p->detail,
                (unsigned)(f->total_len > c->len ? c->len : f->total_len));
    an_fix_template(&fd);
    deliver(c, &fd);
    return true;
}

static void rule_totallen(const ctx *c, bool clean)
{
    const at_frame *f = c->f;
    unsigned T = f->total_len, U = f->units_end, P = (unsigned)c->len;
    unsigned L = clean ? U : (U > P ? U : P);
    at_finding fd;
    char extra[96] = "";
    if (clean && P > U)
        an_fmt(extra, sizeof extra, ", and %u more bytes follow its last unit", P - U);

    if (T + 2 == L) {
        start(c, &fd, "totallen_excludes_self", AT_SEV_ERROR, c->x->frame_off);
        an_what(&fd, "TotalLen is %u but the frame is %u bytes long: it leaves out its own "
                     "two bytes%s.", T, L, extra);
    } else if (T + 6 == L) {
        start(c, &fd, "totallen_excludes_header", AT_SEV_ERROR, c->x->frame_off);
        an_what(&fd, "TotalLen is %u but the frame is %u bytes long: it leaves out the "
                     "6-byte header (TotalLen, CmdId, ParamNum)%s.", T, L, extra);
    } else {
        start(c, &fd, "totallen_mismatch", AT_SEV_ERROR, c->x->frame_off);
        if (T > L)
            an_what(&fd, "TotalLen is %u but the frame's units end at byte %u and %u bytes "
                         "were sent: TotalLen announces %u bytes too many.",
                    T, U, P, T - L);
        else
            an_what(&fd, "TotalLen is %u but the frame's units end at byte %u and %u bytes "
                         "were sent%s.", T, U, P, extra);
    }
    an_fix(&fd, "Set TotalLen to the length of the whole frame including the TotalLen "
                "field itself (%u).", L);
    deliver(c, &fd);
}

static void rule_paramnum(const ctx *c)
{
    const at_frame_problem *p = problem(c->f, AT_FP_PARAMNUM_MISMATCH);
    if (!p)
        return;
    char names[160];
    unit_names(c->f, names, sizeof names);
    at_finding fd;
    start(c, &fd, "paramnum_mismatch", AT_SEV_ERROR, p->off);
    an_what(&fd, "ParamNum is %u but the frame holds %u parameter units (%s).",
            c->f->param_num, p->detail, names);
    an_fix(&fd, "Set ParamNum to %u: it counts every unit, the IMEI and the signature "
                "included.", p->detail);
    deliver(c, &fd);
}

static void rule_bytes_after(const ctx *c)
{
    const at_frame *f = c->f;
    size_t T = f->total_len;
    if (T != f->units_end || c->len <= T)
        return;
    char bytes[64];
    describe_bytes(c->buf + T, c->len - T, bytes, sizeof bytes);
    at_finding fd;
    start(c, &fd, "bytes_after_frame", AT_SEV_ERROR, c->x->frame_off + T);
    fd.ts = c->x->frame_ts_last;
    an_what(&fd, "The host sent %zu bytes after the %zu-byte frame, whose TotalLen matches "
                 "its units: %s.", c->len - T, T, bytes);
    an_fix(&fd, "Send exactly the %zu bytes of the frame and nothing after it (no line end).",
           T);
    deliver(c, &fd);
}

static void rule_bytes_lost(const ctx *c)
{
    const at_analyzer *an = c->an;
    unsigned xon, xoff;
    size_t first;
    unsigned flow = count_flow_bytes(c->buf, c->len, &xon, &xoff, &first);
    at_finding fd;
    if (c->x->tok_reason == AT_TR_CUT_BY_END)
        return; /* the capture stopped, not the host: nothing is known */
    char total[48];
    if (c->len >= 2)
        an_fmt(total, sizeof total, "of its %u bytes (TotalLen)", c->f->total_len);
    else
        an_fmt(total, sizeof total, "before its TotalLen was complete");
    if (c->x->tok_reason == AT_TR_CUT_BY_GAP) {
        start(c, &fd, "bytes_lost", AT_SEV_WARNING, c->x->frame_off + c->len);
        fd.ts = c->x->frame_ts_last;
        an_what(&fd, "The capture lost bytes inside the frame after %zu %s: the trace marks a "
                     "gap there, so what the module received is unknown.", c->len, total);
        an_fix(&fd, "Capture again with a larger receive buffer or a lower speed to see "
                    "whether the frame itself is complete.");
        deliver(c, &fd);
        return;
    }
    start(c, &fd, "bytes_lost", AT_SEV_ERROR, c->x->frame_off + c->len);
    fd.ts = c->x->frame_ts_last;
    if (c->len < 2) {
        an_what(&fd, "The frame stopped after %zu byte, before its TotalLen was complete: the "
                     "module waited for the rest until its service timeout.", c->len);
        an_fix(&fd, "Send the whole frame in one go, right after SECURE CMD READY.");
    } else if (an->model.xonxoff) {
        an_what(&fd, "The frame stopped after %zu of its %u bytes (TotalLen): AT\\Q1 (XON/XOFF "
                     "flow control) is in effect and the bytes sent hold %u 0x11/0x13, so the "
                     "flow control likely ate the missing bytes.",
                c->len, c->f->total_len, flow);
        an_fix(&fd, "Use hardware flow control (AT\\Q3, RTS/CTS) on both ends and send the "
                    "frame again.");
    } else {
        /* Without AT\Q1 in the trace, flow control is only a possibility. */
        char maybe[160] = "";
        if (flow)
            an_fmt(maybe, sizeof maybe,
                   " (if software flow control was on without the trace showing AT\\Q1, "
                   "its %u 0x11/0x13 %s would also have been dropped)",
                   flow, flow == 1 ? "byte" : "bytes");
        an_what(&fd, "The frame stopped after %zu of its %u bytes (TotalLen): the module "
                     "waited for the other %zu until its service timeout%s.",
                c->len, c->f->total_len, (size_t)c->f->total_len - c->len, maybe);
        an_fix(&fd, "Send the whole frame (%u bytes) in one go, without stopping, right after "
                    "SECURE CMD READY.", c->f->total_len);
    }
    deliver(c, &fd);
}

static void rule_xonxoff(const ctx *c)
{
    if (!c->an->model.xonxoff)
        return;
    unsigned xon, xoff;
    size_t first;
    size_t n = c->x->frame_len < c->len ? c->x->frame_len : c->len;
    unsigned k = count_flow_bytes(c->buf, n, &xon, &xoff, &first);
    if (!k)
        return;
    at_finding fd;
    start(c, &fd, "xonxoff_active", AT_SEV_ERROR, c->x->frame_off + first);
    char since[48] = "";
    if (c->an->xonxoff_exchange)
        an_fmt(since, sizeof since, " (exchange #%u)", (unsigned)c->an->xonxoff_exchange);
    an_what(&fd, "AT\\Q1 (XON/XOFF flow control) is in effect%s and the frame holds %u "
                 "XON/XOFF %s (%u x 0x11, %u x 0x13), the first at frame offset %zu: the "
                 "module takes them for flow control and drops them.",
            since, k, k == 1 ? "byte" : "bytes", xon, xoff, first);
    an_fix_template(&fd);
    deliver(c, &fd);
}

static void rule_before_ready(const ctx *c)
{
    an_exchange *x = c->x;
    at_finding fd;
    if (x->ready_seen && x->frame_ts_first >= x->ready_ts_end)
        return;
    start(c, &fd, "frame_before_ready", AT_SEV_ERROR, x->frame_off);
    if (!x->ready_seen)
        an_what(&fd, "The host sent the frame, but the module never printed SECURE CMD READY "
                     "for this AT^SBNW.");
    else
        an_what(&fd, "The host started sending the frame %.3f s before the module finished "
                     "printing SECURE CMD READY.",
                secs(x->ready_ts_end - x->frame_ts_first));
    an_fix_template(&fd);
    deliver(c, &fd);
}

static void rule_pause(const ctx *c)
{
    an_exchange *x = c->x;
    uint64_t limit = (uint64_t)c->an->cfg.pause_warn_ms * 1000000u;
    if (x->frame_max_gap < limit)
        return;
    at_finding fd;
    start(c, &fd, "frame_pause", AT_SEV_WARNING, x->frame_max_gap_off);
    an_what(&fd, "The host paused %.3f s before byte %llu of the %zu-byte frame (stream "
                 "offsets %llu..%llu, %.3f s from first to last byte).",
            secs(x->frame_max_gap),
            (unsigned long long)(x->frame_max_gap_off - x->frame_off), c->len,
            (unsigned long long)x->frame_off, (unsigned long long)(x->frame_off + c->len - 1),
            secs(x->frame_ts_last - x->frame_ts_first));
    an_fix_template(&fd);
    deliver(c, &fd);
}

/* ------------------------------------------------------------------ */
/* Content                                                            */
/* ------------------------------------------------------------------ */

static bool luhn_ok(const char *d, size_t n, char *want)
{
    unsigned sum = 0;
    for (size_t i = 1; i < n; i++) {
        unsigned v = (unsigned)(d[n - 1 - i] - '0');
        if (i % 2 == 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    unsigned check = (10 - sum % 10) % 10;
    *want = (char)('0' + check);
    return (unsigned)(d[n - 1] - '0') == check;
}

static void rule_index(const ctx *c)
{
    const at_frame_problem *p = problem(c->f, AT_FP_INDEX_RANGE);
    if (!p)
        return;
    at_finding fd;
    start(c, &fd, "index_out_of_range", AT_SEV_ERROR, p->off);
    an_what(&fd, "Index %u is outside 0..%u, the range of a %s module (%s).", p->detail,
            c->prof->index_max, c->prof->name, profile_models(c->prof));
    an_fix(&fd, "Use index 0 for the client certificate and 1..%u for server certificates.",
           c->prof->index_max);
    deliver(c, &fd);
}

static void rule_key_index(const ctx *c)
{
    const at_frame_problem *p = problem(c->f, AT_FP_KEY_INDEX_NOT_0);
    if (!p)
        return;
    at_finding fd;
    start(c, &fd, "key_index_not_0", AT_SEV_ERROR, p->off);
    an_what(&fd, "The frame carries a private key for index %u, but a key belongs only to "
                 "the client certificate at index 0.", p->detail);
    an_fix(&fd, "Leave the key unit out when writing a server certificate (index %u), or "
                "write the certificate and its key to index 0.", p->detail);
    deliver(c, &fd);
}

static bool needs_auth(uint16_t cmd)
{
    return cmd == AT_CMD_WRITE || cmd == AT_CMD_READ || cmd == AT_CMD_DELETE ||
           cmd == AT_CMD_REVOKE || cmd == AT_CMD_READ_FILE;
}

/* A CmdId the frame decoder does not know: the module knows no more. */
static void rule_unknown_cmd(const ctx *c)
{
    const at_frame_problem *p = problem(c->f, AT_FP_UNKNOWN_CMD);
    if (!p)
        return;
    at_finding fd;
    start(c, &fd, "unknown_cmd", AT_SEV_ERROR, p->off);
    an_what(&fd, "CmdId %u (0x%04X) is no command the module knows (1 WRITE, 2 READ, 3 DELETE, "
                 "4 REVOKE, 0x12 READ of a file).", p->detail, p->detail);
    an_fix_template(&fd);
    deliver(c, &fd);
}

static const char *param_name(uint32_t id)
{
    const char *n = id <= UINT16_MAX ? at_param_name((uint16_t)id) : NULL;
    return n ? n : "unknown";
}

/* The frame problems no other rule names: each one is a reason for the
 * module to refuse the frame. Not when a ParamLen put the walk out of step
 * (rule_unit_length said so): the units after it are not the host's. */
static void rule_frame_malformed(const ctx *c)
{
    const at_frame *f = c->f;
    if (c->walk_broken)
        return;
    /* A damaged ParamId also makes its unit missing: the ParamId is named. */
    bool unknown_id = problem(f, AT_FP_UNKNOWN_PARAM) != NULL;
    for (unsigned i = 0; i < f->n_problems; i++) {
        const at_frame_problem *p = &f->problems[i];
        char what[160];
        if (unknown_id && (p->code == AT_FP_CERT_MISSING || p->code == AT_FP_INDEX_MISSING))
            continue;
        switch (p->code) {
        case AT_FP_UNKNOWN_PARAM:
            an_fmt(what, sizeof what, "a unit has ParamId %u, which the module does not know "
                                      "(1 to 7)", p->detail);
            break;
        case AT_FP_DUPLICATE_PARAM:
            an_fmt(what, sizeof what, "ParamId %u (%s) appears in more than one unit",
                   p->detail, param_name(p->detail));
            break;
        case AT_FP_INDEX_SIZE:
            an_fmt(what, sizeof what, "the index unit's value is %u bytes, not 2", p->detail);
            break;
        case AT_FP_INDEX_MISSING:
            an_fmt(what, sizeof what, "the %s has no index unit (ParamId 1)",
                   at_cmd_name(f->cmd_id) ? at_cmd_name(f->cmd_id) : "command");
            break;
        case AT_FP_CERT_MISSING:
            an_fmt(what, sizeof what, "the WRITE has no certificate unit (ParamId 2)");
            break;
        case AT_FP_SIGNATURE_NOT_LAST:
            an_fmt(what, sizeof what, "a unit follows the signature, which must be the last");
            break;
        case AT_FP_STRING_UNTERMINATED:
            an_fmt(what, sizeof what, "the %s unit (ParamId %u) does not end with a NUL byte",
                   param_name(p->detail), p->detail);
            break;
        case AT_FP_TOO_MANY_UNITS:
            an_fmt(what, sizeof what, "it has %u parameter units, more than any command takes",
                   p->detail);
            break;
        default:
            continue;
        }
        at_finding fd;
        start(c, &fd, "frame_malformed", AT_SEV_ERROR, p->off);
        an_what(&fd, "The frame breaks the format at frame offset %u: %s.", rel(c, p->off),
                what);
        an_fix_template(&fd);
        deliver(c, &fd);
    }
}

/* A READ or DELETE of an index the trace shows empty, answered SECURE
 * CMD ERROR. Only what the trace shows: an index it never mentions may
 * hold a certificate written before it began. */
static void rule_index_empty(const ctx *c)
{
    const at_frame *f = c->f;
    uint16_t cmd = f->cmd_id;
    if (c->x->secure_result != AT_SEC_ERROR || !f->has_index || f->index >= AT_MODEL_SLOTS ||
        (cmd != AT_CMD_READ && cmd != AT_CMD_READ_FILE && cmd != AT_CMD_DELETE))
        return;
    const at_store_slot *s = &c->an->model.store[f->index];
    if (s->state != AT_SLOT_EMPTY)
        return;
    const at_frame_unit *iu = at_frame_find(f, AT_PARAM_INDEX);
    at_finding fd;
    start(c, &fd, "index_empty", AT_SEV_ERROR, iu ? iu->value_span.off : c->x->frame_off);
    char why[96];
    if (s->deleted)
        an_fmt(why, sizeof why, "exchange #%u deleted it", (unsigned)s->exchange);
    else
        an_fmt(why, sizeof why, "the ^SBNR listing of exchange #%u shows it empty",
               (unsigned)s->exchange);
    an_what(&fd, "This %s names index %u, which holds no certificate (%s).",
            cmd == AT_CMD_DELETE ? "DELETE" : "READ", f->index, why);
    an_fix(&fd, "Read or delete an index that holds a certificate (AT^SBNR=is_cert lists "
                "them), or write one to index %u first.", f->index);
    deliver(c, &fd);
}

static void rule_no_client_cert(const ctx *c)
{
    const at_frame *f = c->f;
    const at_analyzer *an = c->an;
    /* Every signed frame is verified with the index-0 certificate, except
     * the WRITE of index 0, which brings its own; an unsigned one is not
     * verified where the family takes unsigned frames. A length, timeout
     * or "too many data" answer comes before any check of the content. */
    if (!needs_auth(f->cmd_id) || !f->has_index || c->x->secure_result != AT_SEC_ERROR ||
        (f->cmd_id == AT_CMD_WRITE && f->index == 0) ||
        (an->model.profile->unsigned_ok && !at_frame_find(f, AT_PARAM_SIGNATURE)))
        return;
    const at_store_slot *s0 = &an->model.store[0];
    if (s0->state == AT_SLOT_WRITTEN || (s0->state == AT_SLOT_LISTED && !s0->corrupted))
        return;
    if (s0->state == AT_SLOT_UNKNOWN && an->config_cert)
        return;
    const at_frame_unit *iu = at_frame_find(f, AT_PARAM_INDEX);
    at_finding fd;
    bool empty = s0->state == AT_SLOT_EMPTY ||
                 (s0->state == AT_SLOT_LISTED && s0->corrupted);
    /* The module refused the WRITE (the rule runs only then): a legacy
     * module verifies every frame with the index-0 certificate, so without
     * one that is the explanation, not a suspicion. */
    bool must_verify = !an->model.profile->unsigned_ok;
    start(c, &fd, "no_client_cert", empty || must_verify ? AT_SEV_ERROR : AT_SEV_WARNING,
          iu ? iu->value_span.off : c->x->frame_off);
    char why[96];
    if (s0->state == AT_SLOT_EMPTY && s0->deleted)
        an_fmt(why, sizeof why, "exchange #%u deleted it", (unsigned)s0->exchange);
    else if (s0->state == AT_SLOT_EMPTY)
        an_fmt(why, sizeof why, "the ^SBNR listing of exchange #%u shows it empty",
                 (unsigned)s0->exchange);
    else if (empty)
        an_fmt(why, sizeof why, "the ^SBNR listing shows it corrupted");
    else
        an_fmt(why, sizeof why, "nothing in the trace shows one");
    if (f->cmd_id == AT_CMD_WRITE)
        an_what(&fd, "This WRITE stores a server certificate at index %u, but there is no "
                     "client certificate at index 0 (%s).", f->index, why);
    else
        an_what(&fd, "This %s of index %u is verified with the client certificate at index 0, "
                     "but there is none (%s).", at_cmd_name(f->cmd_id), f->index, why);
    an_fix(&fd, "Write the client certificate with its private key to index 0 first (the "
                "module checks every frame's signature with it)%s.",
           empty ? "" : ", or pass --client-cert if it was written before the trace");
    deliver(c, &fd);
}

static void rule_imei(const ctx *c)
{
    const at_frame *f = c->f;
    const at_analyzer *an = c->an;
    if (!needs_auth(f->cmd_id))
        return;
    at_finding fd;
    const at_frame_unit *u = at_frame_find(f, AT_PARAM_IMEI);
    if (!u && c->walk_broken)
        return;
    if (!u) {
        const at_frame_unit *s = at_frame_find(f, AT_PARAM_SIGNATURE);
        bool info = c->prof->unsigned_ok;
        start(c, &fd, "imei_missing", info ? AT_SEV_INFO : AT_SEV_ERROR,
              s ? s->span.off : c->x->frame_off + f->units_end);
        if (info)
            an_what(&fd, "The frame has no IMEI unit (ParamId 4); a %s module accepts that "
                         "only for unsigned frames outside secure mode.", c->prof->name);
        else
            an_what(&fd, "The frame has no IMEI unit (ParamId 4); a %s module (%s) requires "
                         "its IMEI in every frame.", c->prof->name, profile_models(c->prof));
        an_fix(&fd, "Add the module's IMEI%s%s%s as a NUL-terminated unit before the "
                    "signature, and sign the frame again.",
               an->model.has_imei ? " (" : "", an->model.has_imei ? an->model.imei : "",
               an->model.has_imei ? ")" : "");
        deliver(c, &fd);
        return;
    }
    if (!u->value || u->value_len + 4u != u->param_len)
        return; /* cut: its content is not all there */
    size_t n = u->value_len;
    if (n > 0 && u->value[n - 1] == 0)
        n--;
    char imei[40];
    an_copy(imei, sizeof imei, (const char *)u->value, n);
    const at_secret *key = at_secret_overlap(c->x->frame_secrets, c->x->n_frame_secrets,
                                             u->value_span.off, n);
    if (key) {
        /* A damaged frame put key bytes where the IMEI goes: never quote them. */
        an_fmt(imei, sizeof imei, "%zu bytes of private key (%s)", n,
               at_secret_kind_name(key->kind));
    }
    for (size_t i = 0; imei[i]; i++)
        if ((unsigned char)imei[i] < 0x20 || (unsigned char)imei[i] > 0x7e)
            imei[i] = '?';
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++)
        if (u->value[i] < '0' || u->value[i] > '9')
            bad = i;
    const char *own = an->model.has_imei ? an->model.imei : NULL;
    if (n != 15 || bad < n) {
        start(c, &fd, "imei_not_15_digits", AT_SEV_ERROR,
              u->value_span.off + (bad < n ? bad : 0));
        if (bad < n)
            an_what(&fd, "The IMEI unit holds \"%s\" (%zu characters), not 15 decimal digits: "
                         "byte 0x%02X at frame offset %u is no digit.",
                    imei, n, u->value[bad], rel(c, u->value_span.off + bad));
        else
            an_what(&fd, "The IMEI unit holds \"%s\", %zu digits instead of 15.", imei, n);
        an_fix(&fd, "Put the module's 15-digit IMEI%s%s%s in the unit, followed by one NUL "
                    "byte.", own ? " (" : "", own ? own : "", own ? ", from AT+CGSN)" : "");
        deliver(c, &fd);
    } else {
        char want;
        if (!luhn_ok(imei, n, &want)) {
            start(c, &fd, "imei_luhn", AT_SEV_ERROR, u->value_span.off + 14);
            an_what(&fd, "The IMEI %s fails the Luhn check (its check digit is %c, it would "
                         "have to be %c), so it is no module's IMEI.", imei, imei[14], want);
            an_fix(&fd, "Use the IMEI the module reports with AT+CGSN%s%s%s.",
                   own ? " (" : "", own ? own : "", own ? ")" : "");
            deliver(c, &fd);
        }
    }
    if (own && (strlen(own) != n || memcmp(own, u->value, n) != 0)) {
        start(c, &fd, "imei_mismatch", AT_SEV_ERROR, u->value_span.off);
        an_what(&fd, "The frame carries IMEI %s but the module answered AT%s with %s.", imei,
                an->imei_cmd, own);
        an_fix(&fd, "Build and sign the frame with this module's own IMEI %s; a frame made "
                    "for another module is rejected.", own);
        deliver(c, &fd);
    }
}

static void rule_signature(const ctx *c)
{
    const at_frame *f = c->f;
    an_exchange *x = c->x;
    if (!needs_auth(f->cmd_id))
        return;
    at_finding fd;
    const at_frame_unit *u = at_frame_find(f, AT_PARAM_SIGNATURE);
    if (!u && c->walk_broken)
        return;
    if (!u) {
        bool info = c->prof->unsigned_ok;
        start(c, &fd, "signature_missing", info ? AT_SEV_INFO : AT_SEV_ERROR,
              c->x->frame_off + f->units_end);
        if (info)
            an_what(&fd, "The frame has no signature unit (ParamId 3); a %s module accepts "
                         "that only outside secure mode (sigType NONE).", c->prof->name);
        else
            an_what(&fd, "The frame has no signature unit (ParamId 3); a %s module (%s) "
                         "accepts only signed frames.", c->prof->name, profile_models(c->prof));
        an_fix(&fd, "Sign the bytes from CmdId up to the signature unit with the client key "
                    "(%s digest, RSA PKCS#1 v1.5 on the raw digest) and append the base64 "
                    "text with a NUL as the last unit.",
               c->prof->digest_len == 20 ? "SHA-1" : "SHA-256");
        deliver(c, &fd);
        return;
    }
    const at_frame_problem *p = problem(f, AT_FP_SIGNATURE_NOT_BASE64);
    if (p) {
        start(c, &fd, "signature_not_base64", AT_SEV_ERROR, p->off);
        size_t at = (size_t)(p->off - u->value_span.off);
        if (u->value && at < u->value_len)
            an_what(&fd, "The signature unit is not padded base64 text: byte 0x%02X at frame "
                         "offset %u (character %zu of %u) is not allowed there.",
                    u->value[at], rel(c, p->off), at + 1, p->detail);
        else
            an_what(&fd, "The signature unit is not padded base64 text: its %u characters are "
                         "not a whole number of 4-character groups.", p->detail);
        an_fix_template(&fd);
        deliver(c, &fd);
        return;
    }
    const at_sig_verdict *v = &x->det.sig;
    if (!x->det.sig_checked || !v->base64_ok || u->value_len + 4u != u->param_len)
        return;
    char who[AT_CERT_DN_MAX + 160];
    an_fmt(who, sizeof who, "%s (subject %s, thumbprint %s)", x->verify_source,
             x->verify_subject[0] ? x->verify_subject : "unknown",
             x->verify_thumb[0] ? x->verify_thumb : "unknown");
    if (!v->length_ok) {
        start(c, &fd, "signature_length", AT_SEV_ERROR, u->value_span.off);
        an_what(&fd, "The signature decodes to %zu bytes but the key of %s has a %zu-byte "
                     "modulus.", v->sig_len, who, v->key_len);
        an_fix(&fd, "Sign with the private key of the client certificate at index 0 (its "
                    "signatures are %zu bytes long).", v->key_len);
        deliver(c, &fd);
        return;
    }
    if (!v->recovered || !v->matches) {
        start(c, &fd, "signature_wrong_key", AT_SEV_ERROR, u->value_span.off);
        if (!v->recovered) {
            an_what(&fd, "The signature does not verify with the key of %s: the frame was "
                         "signed with another key.", who);
            an_fix(&fd, "Sign with the private key that belongs to the client certificate at "
                        "index 0, or first write the client certificate that matches your key.");
        } else {
            an_what(&fd, "The key of %s recovers a %s digest from the signature, but not the "
                         "digest of the signed bytes (frame offset 2 up to the signature unit).",
                    who, v->digest_name ? v->digest_name : "unknown");
            an_fix(&fd, "Sign exactly the bytes from CmdId (frame offset 2) up to the "
                        "signature unit, after every other field is final.");
        }
        deliver(c, &fd);
        return;
    }
    /* A digest the module answered END OK to was accepted (and a
     * successful SHA-256 frame already made the guess "newer"). */
    if (v->digest_len != c->prof->digest_len && !c->ok) {
        bool legacy = c->prof->id == AT_PROFILE_LEGACY;
        start(c, &fd, "signature_digest", legacy ? AT_SEV_ERROR : AT_SEV_WARNING,
              u->value_span.off);
        an_what(&fd, "The signature holds a %s digest but a %s module (%s) expects %s.",
                v->digest_name ? v->digest_name : "unknown", c->prof->name,
                profile_models(c->prof), c->prof->digest_len == 20 ? "SHA-1" : "SHA-256");
        an_fix(&fd, "Sign with %s for this module%s.",
               c->prof->digest_len == 20 ? "SHA-1" : "SHA-256",
               legacy ? " (or select the newer profile if it is an EXS62, PLS6x or TX62)" : "");
        deliver(c, &fd);
    }
}

static void rule_cert(const ctx *c)
{
    const at_frame *f = c->f;
    an_exchange *x = c->x;
    at_finding fd;
    const at_frame_unit *u = at_frame_find(f, AT_PARAM_CERT);
    if (!u)
        return;
    const at_frame_problem *p = problem(f, AT_FP_CERT_TOO_LARGE);
    if (p) {
        start(c, &fd, "cert_too_large", AT_SEV_ERROR, p->off);
        an_what(&fd, "The certificate is %u bytes but a %s module accepts at most %u.",
                p->detail, c->prof->name, c->prof->cert_max);
        an_fix(&fd, "Use a certificate of at most %u bytes (a shorter key, fewer extensions, "
                    "a shorter chain of names).", c->prof->cert_max);
        deliver(c, &fd);
    }
    /* Only a WRITE's certificate is parsed by the module. */
    if (f->cmd_id != AT_CMD_WRITE)
        return;
    bool whole = u->param_len >= 4 && u->value_len == (uint32_t)u->param_len - 4;
    if (x->det.cert_is_pem) {
        start(c, &fd, "cert_is_pem", AT_SEV_ERROR, u->value_span.off);
        an_what(&fd, "The certificate unit holds %u bytes of PEM text (\"-----BEGIN ...\") "
                     "instead of DER.", u->value_len);
        an_fix_template(&fd);
        deliver(c, &fd);
    } else if (whole && !x->det.cert_ok) {
        const char *err = x->det.cert_error;
        start(c, &fd, "cert_unparsable", AT_SEV_ERROR, u->value_span.off);
        an_what(&fd, "The certificate unit's %u bytes do not parse as a DER X.509 "
                     "certificate%s%s.", u->value_len, err[0] ? ": " : "", err);
        an_fix_template(&fd);
        deliver(c, &fd);
    }
}

static void rule_key(const ctx *c)
{
    const at_frame *f = c->f;
    an_exchange *x = c->x;
    at_finding fd;
    const at_frame_unit *u = at_frame_find(f, AT_PARAM_KEY);
    if (!u)
        return;
    const at_frame_problem *p = problem(f, AT_FP_KEY_TOO_LARGE);
    if (p) {
        start(c, &fd, "key_too_large", AT_SEV_ERROR, p->off);
        an_what(&fd, "The private key is %u bytes but the module accepts at most %u.",
                p->detail, c->prof->key_max);
        an_fix(&fd, "Use a smaller RSA key (2048 bits fits) as unencrypted PKCS#8 or PKCS#1 "
                    "DER of at most %u bytes.", c->prof->key_max);
        deliver(c, &fd);
    }
    if (f->has_index && f->index == 0 && x->det.cert_ok && x->det.key_ok &&
        !x->det.key_matches_cert) {
        start(c, &fd, "key_cert_mismatch", AT_SEV_ERROR, u->value_span.off);
        an_what(&fd, "The private key (%s, %d bits) does not belong to the certificate in the "
                     "same frame (subject %s, thumbprint %s).",
                x->det.key.type, x->det.key.bits, x->det.cert.subject, x->det.cert.thumbprint);
        an_fix_template(&fd);
        deliver(c, &fd);
    }
}

/* ------------------------------------------------------------------ */
/* Unexplained failures                                               */
/* ------------------------------------------------------------------ */

static const char *usual_causes(at_secure_result r)
{
    switch (r) {
    case AT_SEC_ERROR:
        return "a signature the module cannot verify (another client key than the one at "
               "index 0, another module's IMEI, the wrong digest), an index or certificate "
               "it rejects, or a READ or DELETE of an empty index";
    case AT_SEC_LENGTH_ERROR:
        return "a TotalLen or ParamLen that disagrees with the bytes, or a certificate or "
               "key over the size limit";
    case AT_SEC_TOO_MANY_DATA:
        return "bytes after the end that TotalLen announces (TotalLen too small, a line end "
               "appended)";
    case AT_SEC_CERT_CORRUPTED:
        return "certificate bytes that are not DER X.509 (PEM text, a damaged file, bytes "
               "lost to XON/XOFF)";
    case AT_SEC_KEY_REMOVED:
        return "a client certificate at index 0 without its private key (written without "
               "it, or deleted)";
    case AT_SEC_SERVICE_TIMEOUT:
        return "a frame shorter than its TotalLen (bytes lost, XON/XOFF flow control, a "
               "host that stopped sending or sent nothing)";
    default:
        return "a frame that was not sent or not complete, a command the module does not "
               "support, or a store that is locked";
    }
}

static void rule_unexplained(const ctx *c)
{
    an_exchange *x = c->x;
    if (c->ok || x->error_found)
        return;
    at_finding fd;
    char result[200];
    if (x->has_result_line) {
        an_fmt(result, sizeof result, "%s", x->result_text);
        an_finding_init(&fd, "secure_failure_unexplained", AT_SEV_WARNING, x->id,
                        AT_DIR_ME_TO_TE, x->result_off, x->result_ts);
    } else if (x->has_final_line) {
        an_fmt(result, sizeof result, "%s without a SECURE CMD result", x->final_text);
        an_finding_init(&fd, "secure_failure_unexplained", AT_SEV_WARNING, x->id,
                        AT_DIR_ME_TO_TE, x->final_off, x->final_ts);
    } else {
        if (x->ended)
            an_fmt(result, sizeof result, "no SECURE CMD result (the exchange ended: %s)",
                   at_end_reason_name(x->end_reason));
        else
            an_fmt(result, sizeof result, "no SECURE CMD result before the trace ended");
        an_finding_init(&fd, "secure_failure_unexplained", AT_SEV_WARNING, x->id,
                        AT_DIR_TE_TO_ME, x->has_frame ? x->frame_off : 0,
                        x->has_frame ? x->frame_ts_first : 0);
    }
    if (x->secure_result == AT_SEC_END_OK)
        an_what(&fd, "The module accepted the frame (SECURE CMD END OK) but the command still "
                     "ended with %s, and no rule found why.",
                x->has_final_line ? x->final_text : "no OK");
    else
        an_what(&fd, "The module answered %s and no rule found the cause in what the trace "
                     "shows.", result);
    an_fix(&fd, "Usual causes: %s.", usual_causes(x->secure_result));
    an_deliver(c->an, &fd);
}

/* ------------------------------------------------------------------ */
/* The store after a successful WRITE or DELETE                       */
/* ------------------------------------------------------------------ */

/* The SHA-1 thumbprint (uppercase hex) of bytes that are no parsable
 * certificate. The digest is fetched once per analyzer: an implicit fetch
 * on every call costs as much as hashing a certificate. */
static void thumb_of(at_analyzer *an, const uint8_t *p, size_t n, char out[41])
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    out[0] = '\0';
    if (!an->sha1)
        an->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    if (!an->sha1 || EVP_Digest(p, n, md, &len, an->sha1, NULL) != 1 || len != 20)
        return;
    for (unsigned i = 0; i < 20; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[40] = '\0';
}

static void update_store(const ctx *c)
{
    at_analyzer *an = c->an;
    an_exchange *x = c->x;
    const at_frame *f = c->f;
    if (x->secure_result != AT_SEC_END_OK || !f->has_index || f->index >= AT_MODEL_SLOTS)
        return;
    at_store_slot *s = &an->model.store[f->index];
    if (f->cmd_id == AT_CMD_WRITE) {
        const at_frame_unit *u = at_frame_find(f, AT_PARAM_CERT);
        if (!u || !u->value)
            return;
        memset(s, 0, sizeof *s);
        s->state = AT_SLOT_WRITTEN;
        s->exchange = x->id;
        s->size = u->value_len;
        if (x->det.cert_ok) {
            const at_cert_summary *cs = &x->det.cert;
            an_copy(s->thumbprint, sizeof s->thumbprint, cs->thumbprint, strlen(cs->thumbprint));
            an_copy(s->subject, sizeof s->subject, cs->subject, strlen(cs->subject));
            an_copy(s->issuer, sizeof s->issuer, cs->issuer, strlen(cs->issuer));
            s->has_expiry = true;
            s->expiry_year = cs->expiry_year;
            s->expiry_month = cs->expiry_month;
            s->expiry_day = cs->expiry_day;
            s->has_valid_from = true;
            s->valid_from_year = cs->valid_from_year;
            s->valid_from_month = cs->valid_from_month;
            s->valid_from_day = cs->valid_from_day;
        } else {
            thumb_of(an, u->value, u->value_len, s->thumbprint);
        }
        if (f->index == 0 && x->frame_cert) {
            if (an->client_from_trace)
                X509_free(an->client_cert);
            an->client_cert = x->frame_cert;
            x->frame_cert = NULL;
            an->client_from_trace = true;
            an->model.has_client_cert = true;
            an->model.client_cert_exchange = x->id;
            an_copy(an->client_subject, sizeof an->client_subject, s->subject,
                    strlen(s->subject));
            an_copy(an->client_thumb, sizeof an->client_thumb, s->thumbprint,
                    strlen(s->thumbprint));
        }
    } else if (f->cmd_id == AT_CMD_DELETE) {
        memset(s, 0, sizeof *s);
        s->state = AT_SLOT_EMPTY;
        s->deleted = true;
        s->exchange = x->id;
        if (f->index == 0) {
            /* The module has no client certificate now; the old one still
             * tells which key later frames were signed with. */
            an->model.has_client_cert = false;
            an->model.client_cert_exchange = 0;
        }
    }
}

/* ------------------------------------------------------------------ */
/* What the module's answer tells                                     */
/* ------------------------------------------------------------------ */

static void append_evidence(char *out, size_t cap, size_t *k, unsigned *n, const char *fmt,
                            unsigned v)
{
    char one[64];
    an_fmt(one, sizeof one, fmt, v);
    *k += an_fmt(out + *k, cap - *k, "%s%s", *n ? ", " : "", one);
    (*n)++;
}

/*
 * What in the frame (decoded with the legacy limits) a legacy module
 * refuses, as words for the finding ("index 15, a SHA-256 signature");
 * false when nothing does.
 */
static bool newer_evidence(const ctx *c, bool cut, char *out, size_t cap)
{
    const at_frame *f = c->f;
    const an_exchange *x = c->x;
    size_t k = 0;
    unsigned n = 0;
    out[0] = '\0';
    bool units_all_there = !cut && f->n_units == f->param_num &&
                           !problem(f, AT_FP_UNIT_PAST_FRAME) &&
                           !problem(f, AT_FP_UNIT_LEN_UNDER_4);
    if (units_all_there && needs_auth(f->cmd_id)) {
        bool imei = at_frame_find(f, AT_PARAM_IMEI) != NULL;
        bool sig = at_frame_find(f, AT_PARAM_SIGNATURE) != NULL;
        if (!imei || !sig)
            append_evidence(out, cap, &k, &n, !imei && !sig ? "a frame without IMEI and signature"
                                              : !imei ? "a frame without IMEI"
                                                      : "an unsigned frame", 0);
    }
    const at_frame_problem *p = problem(f, AT_FP_INDEX_RANGE);
    if (p)
        append_evidence(out, cap, &k, &n, "index %u", p->detail);
    p = problem(f, AT_FP_CERT_TOO_LARGE);
    if (p)
        append_evidence(out, cap, &k, &n, "a %u-byte certificate", p->detail);
    if (x->det.sig_checked && x->det.sig.recovered && x->det.sig.matches &&
        x->det.sig.digest_len == 32)
        append_evidence(out, cap, &k, &n, "a SHA-256 signature", 0);
    return n > 0;
}

/* Names of the frame's problems that depend on the profile's limits;
 * returns how many. */
static unsigned limit_problems(const at_frame *f, char *out, size_t cap)
{
    size_t k = 0;
    unsigned n = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < f->n_problems; i++) {
        at_frame_problem_code code = f->problems[i].code;
        if (code == AT_FP_INDEX_RANGE || code == AT_FP_CERT_TOO_LARGE ||
            code == AT_FP_KEY_TOO_LARGE)
            k += an_fmt(out + k, cap - k, "%s%s", n++ ? " and " : "",
                        at_frame_problem_name(code));
    }
    return n;
}

/* @p stale: the names of the @p n_stale limit problems the legacy decode
 * found (limit_problems). */
static void finding_guessed_newer(const ctx *c, const char *evidence, const char *stale,
                                  unsigned n_stale)
{
    at_finding fd;
    const at_profile *newer = at_profile_get(AT_PROFILE_NEWER);
    start(c, &fd, "profile_guessed_newer", AT_SEV_INFO, c->x->frame_off);
    char note[160] = "";
    bool several = n_stale > 1;
    if (n_stale)
        an_fmt(note, sizeof note, "; the %s %s under the frame %s judged with the legacy "
                                  "limits before the answer came and %s not apply",
               stale, several ? "problems" : "problem", several ? "were" : "was",
               several ? "do" : "does");
    an_what(&fd, "The module accepted %s (SECURE CMD END OK), which a legacy module refuses: "
                 "it is a newer module (%s), and this frame and the ones after it are checked "
                 "with that profile's limits%s.",
            evidence, profile_models(newer), note);
    an_fix_template(&fd);
    an_deliver(c->an, &fd);
}

/* A failed secure command, and nothing from the host after READY. */
static bool rule_host_side_missing(const ctx *c)
{
    const an_exchange *x = c->x;
    if (c->accepted || !x->ready_seen || x->te_after_ready || x->has_frame || x->hex_text ||
        x->pem_text)
        return false;
    at_finding fd;
    if (x->has_result_line) {
        an_finding_init(&fd, "host_side_missing", AT_SEV_WARNING, x->id, AT_DIR_ME_TO_TE,
                        x->result_off, x->result_ts);
        an_what(&fd, "The module answered %s, and the trace holds no byte the host sent after "
                     "SECURE CMD READY: the host sent no frame, or the capture holds only the "
                     "module's side.", x->result_text);
    } else if (x->has_final_line && x->has_final && x->final != AT_RES_OK) {
        an_finding_init(&fd, "host_side_missing", AT_SEV_WARNING, x->id, AT_DIR_ME_TO_TE,
                        x->final_off, x->final_ts);
        an_what(&fd, "The module answered %s without a SECURE CMD result, and the trace holds "
                     "no byte the host sent after SECURE CMD READY: the host sent no frame, or "
                     "the capture holds only the module's side.", x->final_text);
    } else {
        return false;
    }
    an_fix_template(&fd);
    an_deliver(c->an, &fd);
    return true;
}

static bool secure_failure(at_secure_result r)
{
    return r != AT_SEC_NONE && r != AT_SEC_READY && r != AT_SEC_END_OK;
}

void an_orphan_result(at_analyzer *an, const at_event *ev)
{
    bool orphan = an->orphan_ready && an->te_events == an->orphan_te_events;
    an->orphan_ready = false;
    if (!orphan || ev->line.kind != AT_LK_SECURE || !secure_failure(ev->line.u.secure))
        return;
    char result[96];
    an_copy(result, sizeof result, ev->line.text.ptr, ev->line.text.len);
    at_finding fd;
    an_finding_init(&fd, "host_side_missing", AT_SEV_WARNING, 0, AT_DIR_ME_TO_TE, ev->span.off,
                    ev->ts);
    an_what(&fd, "The module answered %s after SECURE CMD READY, but the trace holds no byte "
                 "the host sent (neither its AT^SBNW nor its frame): it is a log of the "
                 "module's side only, so the cause cannot be seen.", result);
    an_fix_template(&fd);
    an_deliver(an, &fd);
}

/* ------------------------------------------------------------------ */
/* The exchange                                                       */
/* ------------------------------------------------------------------ */

static void decode(ctx *c)
{
    at_frame_decode(c->buf, c->len, c->x->frame_off, c->an->model.profile, &c->an->scratch);
    c->f = &c->an->scratch;
    c->prof = c->an->model.profile;
}

void an_exchange_end(at_analyzer *an)
{
    an_exchange *x = &an->x;
    if (!x->open || !x->secure)
        return;
    ctx c = {.an = an, .x = x, .buf = an->frame_buf, .len = x->frame_bytes,
             .prof = an->model.profile};
    c.accepted = x->secure_result == AT_SEC_END_OK;
    c.ok = c.accepted && (!x->has_final || x->final == AT_RES_OK);

    if (rules_text(&c)) {
        rule_unexplained(&c);
        return;
    }
    if (!x->has_frame) {
        if (!rule_host_side_missing(&c))
            rule_unexplained(&c);
        return;
    }
    decode(&c);
    /* What the module's acceptance tells about it, before judging the
     * frame: from this frame on, the newer profile's limits. */
    bool cut = (x->tok_flags & (AT_TOKF_INCOMPLETE | AT_TOKF_FLUSHED)) != 0 ||
               c.f->total_len > c.len; /* TotalLen reads alike with any profile */
    char evidence[200];
    if (c.accepted && !an->model.profile_given && an->model.profile->id == AT_PROFILE_LEGACY &&
        newer_evidence(&c, cut, evidence, sizeof evidence)) {
        char stale[64];
        unsigned n_stale = limit_problems(c.f, stale, sizeof stale);
        if (an_guess_newer(an)) {
            decode(&c);
            finding_guessed_newer(&c, evidence, stale, n_stale);
        }
    }
    const at_frame *f = c.f;

    rule_before_ready(&c);
    if (f->big_endian) {
        rule_big_endian(&c);
    } else if (c.len < AT_FRAME_HEADER_LEN) {
        if (cut)
            rule_bytes_lost(&c);
    } else {
        bool unit_bad = rule_unit_length(&c, cut);
        c.walk_broken = unit_bad || cut;
        bool clean = !unit_bad && f->n_units == f->param_num &&
                     !problem(f, AT_FP_PARAMNUM_MISMATCH) && !problem(f, AT_FP_UNIT_PAST_FRAME) &&
                     !problem(f, AT_FP_UNIT_LEN_UNDER_4);
        if (!c.walk_broken)
            rule_paramnum(&c); /* a cut frame has fewer units for want of bytes */
        if (cut) {
            /* All units there and ending where the bytes stop: TotalLen is
             * what is too large. Otherwise bytes are missing. */
            if (clean && f->units_end == c.len)
                rule_totallen(&c, true);
            else
                rule_bytes_lost(&c);
        } else if (!unit_bad) {
            if (f->total_len != f->units_end)
                rule_totallen(&c, clean);
            else
                rule_bytes_after(&c);
        }
        rule_xonxoff(&c);
        rule_pause(&c);

        rule_unknown_cmd(&c);
        rule_frame_malformed(&c);
        rule_index(&c);
        rule_index_empty(&c);
        rule_key_index(&c);
        rule_no_client_cert(&c);
        rule_imei(&c);
        rule_signature(&c);
        rule_cert(&c);
        rule_key(&c);
    }
    if (f->big_endian || c.len < AT_FRAME_HEADER_LEN)
        rule_pause(&c);
    rule_unexplained(&c);
    update_store(&c);
}
