/*
 * Comparing sessions exchange by exchange (attrace/compare.h): records
 * built from session events, the comparison of two records, the
 * normalization of module lines, and the aligner.
 */
#include "attrace/compare.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Digests of what is not kept verbatim                               */
/* ------------------------------------------------------------------ */

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* ------------------------------------------------------------------ */
/* Names                                                              */
/* ------------------------------------------------------------------ */

const char *at_diff_kind_name(at_diff_kind k)
{
    switch (k) {
    case AT_DIFF_ONLY_A: return "only_in_a";
    case AT_DIFF_ONLY_B: return "only_in_b";
    case AT_DIFF_COMMAND: return "command";
    case AT_DIFF_FRAME: return "frame";
    case AT_DIFF_SECURE_RESULT: return "secure_result";
    case AT_DIFF_FINAL: return "final";
    case AT_DIFF_END: return "end";
    case AT_DIFF_LINE: return "line";
    case AT_DIFF_LINES_BEYOND: return "lines_beyond";
    case AT_DIFF_PAYLOAD: return "payload";
    case AT_DIFF_FINDING: return "finding";
    }
    return "unknown";
}

const char *at_frame_field_name(at_frame_field f)
{
    switch (f) {
    case AT_FF_COUNT: return "frame_count";
    case AT_FF_BYTE_ORDER: return "byte_order";
    case AT_FF_TOTAL_LEN: return "total_len";
    case AT_FF_CMD_ID: return "cmd_id";
    case AT_FF_PARAM_NUM: return "param_num";
    case AT_FF_UNIT: return "unit";
    case AT_FF_PARAM_LEN: return "param_len";
    case AT_FF_PARAM_ID: return "param_id";
    case AT_FF_VALUE: return "value";
    case AT_FF_TRAILING: return "trailing";
    case AT_FF_PROBLEM: return "problem";
    case AT_FF_SIGNATURE_CHECK: return "signature_check";
    }
    return "unknown";
}

const char *at_frame_field_label(at_frame_field f)
{
    switch (f) {
    case AT_FF_COUNT: return "number of frames";
    case AT_FF_BYTE_ORDER: return "byte order";
    case AT_FF_TOTAL_LEN: return "TotalLen";
    case AT_FF_CMD_ID: return "CmdId";
    case AT_FF_PARAM_NUM: return "ParamNum";
    case AT_FF_UNIT: return "unit";
    case AT_FF_PARAM_LEN: return "ParamLen";
    case AT_FF_PARAM_ID: return "ParamId";
    case AT_FF_VALUE: return "value";
    case AT_FF_TRAILING: return "trailing bytes";
    case AT_FF_PROBLEM: return "problem";
    case AT_FF_SIGNATURE_CHECK: return "signature check";
    }
    return "unknown";
}

const char *at_xline_kind_name(at_xline_kind k)
{
    switch (k) {
    case AT_XL_ECHO: return "echo";
    case AT_XL_RESPONSE: return "response";
    case AT_XL_INTERMEDIATE: return "intermediate";
    case AT_XL_SECURE: return "secure_result";
    case AT_XL_FINAL: return "final";
    case AT_XL_URC: return "urc";
    case AT_XL_UNEXPECTED: return "unexpected";
    case AT_XL_INVALID: return "invalid";
    }
    return "unknown";
}

/* ------------------------------------------------------------------ */
/* Normalization                                                      */
/* ------------------------------------------------------------------ */

/* Responses whose numbers are counters or measurements: fields first..last
 * (1-based, comma-separated after "PREFIX: ") become "#". */
static const struct volatile_prefix {
    const char *prefix;
    unsigned first, last;
} volatile_prefixes[] = {
    {"^SISI", 3, 6},
    {"^SISW", 3, 3},
    {"+CSQ", 1, 99},
    {"^SMONI", 1, 99},
    {"^SMONC", 1, 99},
    {"^SMONP", 1, 99},
    {"^SBV", 1, 99},
    {"^SCTM", 1, 99},
    {"+CCLK", 1, 99},
};

typedef struct outbuf {
    char *p;
    size_t cap, len; /* len counts what fits (cap - 1 at most) */
} outbuf;

static void put(outbuf *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n && o->len + 1 < o->cap; i++)
        o->p[o->len++] = s[i];
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t digits_at(const char *s, size_t len, size_t i)
{
    size_t j = i;
    while (j < len && is_digit(s[j]))
        j++;
    return j - i;
}

/* dd<sep>dd<sep>dd at i (1 or 2 digits each, then not followed by a digit). */
static size_t triple_at(const char *s, size_t len, size_t i, char sep)
{
    size_t j = i;
    for (int k = 0; k < 3; k++) {
        size_t n = digits_at(s, len, j);
        if (n < 1 || n > 2)
            return 0;
        j += n;
        if (k < 2) {
            if (j >= len || s[j] != sep)
                return 0;
            j++;
        }
    }
    return j - i;
}

static bool prefix_is(const char *s, const char *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (toupper((unsigned char)s[i]) != toupper((unsigned char)want[i]))
            return false;
    return true;
}

size_t at_answer_normalize(const char *line, size_t len, at_line_kind kind,
                           char *out, size_t cap)
{
    outbuf o = {out, cap, 0};
    if (!out || cap == 0)
        return 0;
    if (kind == AT_LK_IMEI) {
        put(&o, "<imei>", 6);
        out[o.len] = 0;
        return o.len;
    }
    const struct volatile_prefix *vp = NULL;
    size_t body = 0;
    for (size_t k = 0; k < sizeof volatile_prefixes / sizeof volatile_prefixes[0]; k++) {
        size_t pl = strlen(volatile_prefixes[k].prefix);
        if (len > pl && prefix_is(line, volatile_prefixes[k].prefix, pl) &&
            line[pl] == ':') {
            vp = &volatile_prefixes[k];
            body = pl + 1;
            break;
        }
    }
    unsigned field = 1;
    size_t i = 0;
    while (i < len) {
        char c = line[i];
        if (vp && i >= body && c == ',') {
            field++;
        } else if (is_digit(c) && (i == 0 || !is_digit(line[i - 1]))) {
            size_t n;
            if (vp && i >= body && field >= vp->first && field <= vp->last) {
                n = digits_at(line, len, i);
                put(&o, "#", 1);
                i += n;
                continue;
            }
            if ((n = triple_at(line, len, i, ':')) != 0 &&
                (i + n == len || !is_digit(line[i + n]))) {
                put(&o, "<time>", 6);
                i += n;
                continue;
            }
            if ((n = triple_at(line, len, i, '/')) != 0 &&
                (i + n == len || !is_digit(line[i + n]))) {
                put(&o, "<date>", 6);
                i += n;
                continue;
            }
            n = digits_at(line, len, i);
            if (n == 15) {
                put(&o, "<imei>", 6);
                i += n;
                continue;
            }
            put(&o, line + i, n);
            i += n;
            continue;
        }
        put(&o, &c, 1);
        i++;
    }
    out[o.len] = 0;
    return o.len;
}

/* ------------------------------------------------------------------ */
/* Records                                                            */
/* ------------------------------------------------------------------ */

void at_xrec_free(at_xrec *x)
{
    if (!x)
        return;
    free(x->command);
    for (unsigned i = 0; i < x->n_lines; i++) {
        free(x->lines[i].text);
        free(x->lines[i].norm);
    }
    for (unsigned i = 0; i < x->n_frames; i++)
        free(x->frames[i].bytes);
    free(x->lines);
    free(x->frames);
    free(x->findings);
    free(x);
}

static const char *type_suffix(at_cmd_type t)
{
    switch (t) {
    case AT_CMDT_SET: return "=";
    case AT_CMDT_READ: return "?";
    case AT_CMDT_TEST: return "=?";
    default: return "";
    }
}

void at_xrec_key(const at_cmdline *cl, bool parse_ok, const char *line,
                 size_t len, char *out, size_t cap)
{
    outbuf o = {out, cap, 0};
    if (!out || cap == 0)
        return;
    if (parse_ok && cl && cl->n_cmds) {
        for (unsigned i = 0; i < cl->n_cmds; i++) {
            const at_command *c = &cl->cmds[i];
            if (i)
                put(&o, ";", 1);
            for (size_t k = 0; k < c->name.len; k++) {
                char ch = (char)toupper((unsigned char)c->name.ptr[k]);
                put(&o, &ch, 1);
            }
            const char *t = type_suffix(c->type);
            put(&o, t, strlen(t));
        }
    } else {
        for (size_t k = 0; line && k < len; k++) {
            char ch = (char)toupper((unsigned char)line[k]);
            put(&o, &ch, 1);
        }
    }
    out[o.len] = 0;
}

struct at_xrec_builder {
    at_xrec_cb cb;
    void *ctx;
    at_xrec *open;     /* the exchange running (or id 0 before the first command) */
    bool failed;
};

static at_xrec *xrec_new(uint32_t id)
{
    at_xrec *x = calloc(1, sizeof *x);
    if (x) {
        x->id = id;
        x->lines_beyond_digest = x->frames_beyond_digest = FNV_OFFSET;
        x->payload_digest[0] = x->payload_digest[1] = FNV_OFFSET;
    }
    return x;
}

at_xrec_builder *at_xrec_builder_new(at_xrec_cb cb, void *ctx)
{
    at_xrec_builder *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cb = cb;
    b->ctx = ctx;
    b->open = xrec_new(0);
    if (!b->open) {
        free(b);
        return NULL;
    }
    return b;
}

static char *dup_bytes(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        if (n)
            memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

/* Private-key bytes the core found among an event's bytes are never shown
 * from a record: each becomes '*' in the shown copy (offsets and lengths
 * stay), so neither `attrace diff` nor replay can print them. */
static void mask_secrets(void *copy, size_t len, uint64_t off, const at_event *ev)
{
    uint8_t *p = copy;
    if (!p || !ev->n_secrets)
        return;
    while (len) {
        const at_secret *run;
        size_t k = at_secret_piece(ev->secrets, ev->n_secrets, off, len, &run);
        if (run)
            for (size_t i = 0; i < k; i++)
                p[i] = '*';
        p += k;
        off += k;
        len -= k;
    }
}

static void add_line(at_xrec_builder *b, at_xline_kind kind, const at_event *ev,
                     const char *text, size_t len, at_line_kind lk)
{
    at_xrec *x = b->open;
    char norm[AT_STREAM_LINE_MAX + 64];
    char masked[AT_STREAM_LINE_MAX];
    size_t nlen;
    uint64_t text_off = text && text == (const char *)ev->data ? ev->span.off
                        : text && text == ev->line.text.ptr ? ev->line.text.span.off
                                                            : UINT64_MAX;
    const char *shown = text; /* what may be printed; @p text is compared */
    if (text_off != UINT64_MAX && len <= sizeof masked &&
        at_secret_overlap(ev->secrets, ev->n_secrets, text_off, len)) {
        memcpy(masked, text, len);
        mask_secrets(masked, len, text_off, ev);
        shown = masked;
    }
    if (kind == AT_XL_ECHO) {
        norm[0] = 0; /* the echo repeats the command, compared on its own */
        nlen = 0;
    } else if (ev->dir == AT_DIR_ME_TO_TE) {
        nlen = at_answer_normalize(text, len, lk, norm, sizeof norm);
    } else {
        nlen = len < sizeof norm ? len : sizeof norm - 1;
        memcpy(norm, text, nlen);
        norm[nlen] = 0;
    }
    if (x->n_lines == AT_XREC_MAX_LINES) {
        uint8_t k = (uint8_t)kind;
        x->lines_beyond++;
        x->lines_beyond_digest = fnv(x->lines_beyond_digest, &k, 1);
        x->lines_beyond_digest = fnv(x->lines_beyond_digest, norm, nlen + 1);
        return;
    }
    /* Room for 4, 8, ... AT_XREC_MAX_LINES lines, grown when full. */
    if (x->n_lines == 0 || (x->n_lines >= 4 && (x->n_lines & (x->n_lines - 1)) == 0)) {
        unsigned cap = x->n_lines ? 2 * x->n_lines : 4;
        if (cap > AT_XREC_MAX_LINES)
            cap = AT_XREC_MAX_LINES;
        /* The result lines point into the array: kept as indices. */
        ptrdiff_t fin = x->final_line ? x->final_line - x->lines : -1;
        ptrdiff_t sec = x->secure_line ? x->secure_line - x->lines : -1;
        at_xline *v = realloc(x->lines, cap * sizeof *v);
        if (!v) {
            b->failed = true;
            return;
        }
        x->lines = v;
        x->final_line = fin >= 0 ? v + fin : NULL;
        x->secure_line = sec >= 0 ? v + sec : NULL;
    }
    at_xline *l = &x->lines[x->n_lines];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->dir = ev->dir;
    l->span = ev->span;
    l->text = dup_bytes(shown, len);
    l->len = len;
    l->norm = dup_bytes(norm, nlen);
    l->norm_len = nlen;
    if (!l->text || !l->norm) {
        free(l->text);
        free(l->norm);
        memset(l, 0, sizeof *l);
        b->failed = true;
        return;
    }
    x->n_lines++;
    if (kind == AT_XL_FINAL)
        x->final_line = l;
    else if (kind == AT_XL_SECURE)
        x->secure_line = l;
}

static void add_frame(at_xrec_builder *b, const at_event *ev,
                      const at_frame_details *d)
{
    at_xrec *x = b->open;
    const at_token *t = ev->tok;
    const uint8_t *src = t ? t->data : ev->data;
    size_t len = t ? t->len : ev->len;
    uint64_t off = t ? t->off : ev->span.off;
    if (!ev->frame || (!src && len))
        return;
    if (x->n_frames == AT_XREC_MAX_FRAMES) {
        uint8_t dir = (uint8_t)ev->dir;
        x->frames_beyond++;
        x->frames_beyond_digest = fnv(x->frames_beyond_digest, &dir, 1);
        x->frames_beyond_digest = fnv(x->frames_beyond_digest, src, len);
        return;
    }
    if (!x->frames && !(x->frames = calloc(AT_XREC_MAX_FRAMES, sizeof *x->frames))) {
        b->failed = true;
        return;
    }
    at_xframe *xf = &x->frames[x->n_frames];
    xf->bytes = malloc(len ? len : 1);
    if (!xf->bytes) {
        b->failed = true;
        return;
    }
    if (len)
        memcpy(xf->bytes, src, len);
    xf->len = len;
    xf->off = off;
    xf->dir = ev->dir;
    xf->frame = *ev->frame;
    xf->n_secrets = ev->n_secrets < AT_XFRAME_SECRETS ? ev->n_secrets : AT_XFRAME_SECRETS;
    xf->secrets_all = ev->n_secrets > AT_XFRAME_SECRETS;
    if (xf->n_secrets)
        memcpy(xf->secrets, ev->secrets, xf->n_secrets * sizeof *xf->secrets);
    /* The core's frame points into the token; point it at the copy. */
    for (unsigned i = 0; i < xf->frame.n_units && i < AT_FRAME_MAX_UNITS; i++) {
        at_frame_unit *u = &xf->frame.units[i];
        uint64_t rel = u->value_span.off - off;
        if (u->value && u->value_span.off >= off && rel <= len &&
            u->value_len <= len - rel)
            u->value = xf->bytes + rel;
        else {
            u->value = NULL;
            u->value_len = 0;
        }
    }
    if (d && d->sig_checked && d->sig.present) {
        xf->has_verdict = true;
        xf->sig_matches = d->sig.matches;
    }
    x->n_frames++;
}

static void add_payload(at_xrec *x, const at_event *ev)
{
    unsigned d = ev->dir == AT_DIR_ME_TO_TE ? 1 : 0;
    x->payload_bytes[d] += ev->len;
    if (ev->data)
        x->payload_digest[d] = fnv(x->payload_digest[d], ev->data, ev->len);
}

static void deliver_open(at_xrec_builder *b)
{
    at_xrec *x = b->open;
    b->open = NULL;
    if (x && b->cb)
        b->cb(b->ctx, x);
    else
        at_xrec_free(x);
}

static void start_exchange(at_xrec_builder *b, const at_event *ev)
{
    const at_exchange *e = ev->exchange;
    deliver_open(b);
    at_xrec *x = xrec_new(e ? e->id : 0);
    if (!x) {
        b->failed = true;
        return;
    }
    b->open = x;
    const char *line = e ? e->line.ptr : (const char *)ev->data;
    size_t len = e ? e->line.len : ev->len;
    x->command = dup_bytes(line, line ? len : 0);
    if (!x->command)
        b->failed = true;
    else
        mask_secrets(x->command, len, e ? e->span.off : ev->span.off, ev);
    x->command_len = x->command ? len : 0;
    x->span = e ? e->span : ev->span;
    at_xrec_key(e ? &e->cmdline : NULL, e && e->parse_ok, line, line ? len : 0,
                x->key, sizeof x->key);
}

static void invalid_line(at_xrec_builder *b, const at_event *ev)
{
    char text[96];
    int n = snprintf(text, sizeof text, "%zu undecodable bytes (%s)", ev->len,
                     at_tok_reason_name(ev->invalid_reason));
    add_line(b, AT_XL_INVALID, ev, text, n > 0 ? (size_t)n : 0, AT_LK_TEXT);
}

void at_xrec_builder_event(at_xrec_builder *b, const at_event *ev,
                           const at_frame_details *details)
{
    if (!b || !ev)
        return;
    if (ev->kind == AT_EV_COMMAND) {
        start_exchange(b, ev);
        return;
    }
    if (!b->open) {
        /* A record could not be made (out of memory): nothing to add to. */
        return;
    }
    at_xrec *x = b->open;
    const char *text = ev->line.text.ptr ? ev->line.text.ptr : (const char *)ev->data;
    size_t len = ev->line.text.ptr ? ev->line.text.len : ev->len;
    if (!text)
        len = 0;
    switch (ev->kind) {
    case AT_EV_ECHO: add_line(b, AT_XL_ECHO, ev, text, len, ev->line.kind); break;
    case AT_EV_RESPONSE: add_line(b, AT_XL_RESPONSE, ev, text, len, ev->line.kind); break;
    case AT_EV_INTERMEDIATE:
        add_line(b, AT_XL_INTERMEDIATE, ev, text, len, ev->line.kind);
        break;
    case AT_EV_SECURE_RESULT:
        add_line(b, AT_XL_SECURE, ev, text, len, ev->line.kind);
        x->secure_result = ev->line.u.secure;
        break;
    case AT_EV_URC: add_line(b, AT_XL_URC, ev, text, len, ev->line.kind); break;
    case AT_EV_UNEXPECTED:
        add_line(b, AT_XL_UNEXPECTED, ev, text, len, ev->line.kind);
        break;
    case AT_EV_INVALID: invalid_line(b, ev); break;
    case AT_EV_FRAME: add_frame(b, ev, details); break;
    case AT_EV_PAYLOAD:
    case AT_EV_TRANSPARENT: add_payload(x, ev); break;
    case AT_EV_END:
        if (ev->exchange) {
            const at_exchange *e = ev->exchange;
            x->end_reason = e->end_reason;
            x->secure_result = e->secure_result;
            x->has_final = e->has_final;
            if (e->has_final) {
                x->final_kind = e->final.kind;
                x->final_has_code = e->final.has_code;
                x->final_code = e->final.code;
                if (ev->line.text.ptr)
                    add_line(b, AT_XL_FINAL, ev, text, len, ev->line.kind);
            }
        }
        break;
    case AT_EV_COMMAND: break;
    }
}

void at_xrec_builder_finding(at_xrec_builder *b, const at_finding *f)
{
    if (!b || !f || !b->open)
        return;
    at_xrec *x = b->open;
    if (x->n_findings == AT_XREC_MAX_FINDINGS) {
        x->findings_beyond++;
        return;
    }
    if (!x->findings && !(x->findings = calloc(AT_XREC_MAX_FINDINGS, sizeof *x->findings))) {
        b->failed = true;
        return;
    }
    at_xfinding *xf = &x->findings[x->n_findings++];
    xf->rule = f->rule;
    xf->severity = f->severity;
    xf->dir = f->dir;
    xf->off = f->off;
    memcpy(xf->what, f->what, sizeof xf->what);
    xf->what[sizeof xf->what - 1] = 0;
}

const at_xrec *at_xrec_builder_current(const at_xrec_builder *b)
{
    return b ? b->open : NULL;
}

void at_xrec_builder_finish(at_xrec_builder *b)
{
    if (b)
        deliver_open(b);
}

bool at_xrec_builder_failed(const at_xrec_builder *b)
{
    return b && b->failed;
}

void at_xrec_builder_free(at_xrec_builder *b)
{
    if (!b)
        return;
    at_xrec_free(b->open);
    free(b);
}

/* ------------------------------------------------------------------ */
/* Comparison                                                         */
/* ------------------------------------------------------------------ */

typedef struct cmp {
    const at_xrec *a, *b;
    at_cmp_options opt;
    at_diff_cb cb;
    void *ctx;
    unsigned n;
} cmp;

static at_diff new_diff(const cmp *c, at_diff_kind kind)
{
    at_diff d;
    memset(&d, 0, sizeof d);
    d.kind = kind;
    d.a = c->a;
    d.b = c->b;
    return d;
}

static void emit(cmp *c, const at_diff *d)
{
    c->n++;
    if (c->cb)
        c->cb(c->ctx, d);
}

static at_diff_side side_num(at_dir dir, uint64_t off, uint64_t num)
{
    at_diff_side s = {true, dir, off, num, 0, NULL, 0};
    return s;
}

const at_xframe *at_xrec_frame(const at_xrec *x, at_dir dir, unsigned i)
{
    if (!x)
        return NULL;
    for (unsigned k = 0; k < x->n_frames; k++)
        if (x->frames[k].dir == dir && i-- == 0)
            return &x->frames[k];
    return NULL;
}

static unsigned count_frames(const at_xrec *x, at_dir dir)
{
    unsigned n = 0;
    for (unsigned k = 0; k < x->n_frames; k++)
        n += x->frames[k].dir == dir;
    return n;
}

static bool is_text_unit(uint16_t id)
{
    return id == AT_PARAM_SIGNATURE || id == AT_PARAM_IMEI ||
           id == AT_PARAM_THUMBPRINT || id == AT_PARAM_MODE;
}

/* Text of a NUL-terminated unit value, without the NUL. */
static size_t text_len(const at_frame_unit *u)
{
    const uint8_t *nul = u->value ? memchr(u->value, 0, u->value_len) : NULL;
    return nul ? (size_t)(nul - u->value) : u->value_len;
}

/* Whether unit @p u's value holds private-key bytes the core withholds
 * (a key unit's value always: the core marks it). */
static bool unit_secret(const at_xframe *xf, const at_frame_unit *u)
{
    if (xf->secrets_all && u->value_len)
        return true;
    return at_secret_overlap(xf->secrets, xf->n_secrets, u->value_span.off,
                             u->value_len) != NULL;
}

/* Compares the values of unit @p ua and @p ub; fills @p d and returns true
 * when they differ. */
static bool unit_value_differs(const cmp *c, const at_xframe *fa, const at_frame_unit *ua,
                               const at_xframe *fb, const at_frame_unit *ub, at_diff *d)
{
    uint32_t n = ua->value_len < ub->value_len ? ua->value_len : ub->value_len;
    uint32_t i = 0;
    if (!ua->value || !ub->value)
        n = 0;
    while (i < n && ua->value[i] == ub->value[i])
        i++;
    if (i == n && ua->value_len == ub->value_len)
        return false;
    d->field = AT_FF_VALUE;
    d->byte_index = i;
    d->sa = side_num(fa->dir, ua->value_span.off + i, 0);
    d->sb = side_num(fa->dir, ub->value_span.off + i, 0);
    d->sa.len = ua->value_len;
    d->sb.len = ub->value_len;
    bool key = unit_secret(fa, ua) || unit_secret(fb, ub);
    d->secret = key && !c->opt.show_secrets;
    if (!d->secret) {
        d->sa.num = i < ua->value_len && ua->value ? ua->value[i] : 256;
        d->sb.num = i < ub->value_len && ub->value ? ub->value[i] : 256;
    }
    if (!d->secret && is_text_unit(ua->param_id) && ua->param_id == ub->param_id) {
        d->sa.text = (const char *)ua->value;
        d->sa.text_len = ua->value ? text_len(ua) : 0;
        d->sb.text = (const char *)ub->value;
        d->sb.text_len = ub->value ? text_len(ub) : 0;
    }
    return true;
}

static bool has_problem(const at_frame *f, at_frame_problem_code code)
{
    for (unsigned i = 0; i < f->n_problems && i < AT_FRAME_MAX_PROBLEMS; i++)
        if (f->problems[i].code == code)
            return true;
    return false;
}

static void compare_frame(cmp *c, const at_xframe *xa, const at_xframe *xb,
                          unsigned number)
{
    const at_frame *a = &xa->frame, *b = &xb->frame;
    at_diff d = new_diff(c, AT_DIFF_FRAME);
    d.dir = xa->dir;
    d.frame = number;
#define REPORT()                                                               \
    do {                                                                       \
        emit(c, &d);                                                           \
        if (!c->opt.all_fields)                                                \
            goto judgments;                                                    \
    } while (0)

    if (a->big_endian != b->big_endian) {
        d.field = AT_FF_BYTE_ORDER;
        d.sa = side_num(xa->dir, a->total_len_span.off, a->big_endian);
        d.sb = side_num(xb->dir, b->total_len_span.off, b->big_endian);
        REPORT();
    }
#define HEADER(fld, member, spanm)                                             \
    if (a->member != b->member) {                                              \
        d.field = fld;                                                         \
        d.sa = side_num(xa->dir, a->spanm.off, a->member);                     \
        d.sb = side_num(xb->dir, b->spanm.off, b->member);                     \
        REPORT();                                                              \
    }
    HEADER(AT_FF_TOTAL_LEN, total_len, total_len_span)
    HEADER(AT_FF_CMD_ID, cmd_id, cmd_id_span)
    HEADER(AT_FF_PARAM_NUM, param_num, param_num_span)
#undef HEADER
    unsigned na = a->n_units < AT_FRAME_MAX_UNITS ? a->n_units : AT_FRAME_MAX_UNITS;
    unsigned nb = b->n_units < AT_FRAME_MAX_UNITS ? b->n_units : AT_FRAME_MAX_UNITS;
    for (unsigned i = 0; i < na || i < nb; i++) {
        const at_frame_unit *ua = i < na ? &a->units[i] : NULL;
        const at_frame_unit *ub = i < nb ? &b->units[i] : NULL;
        d = new_diff(c, AT_DIFF_FRAME);
        d.dir = xa->dir;
        d.frame = number;
        d.unit = i + 1;
        d.param_id = ua ? ua->param_id : ub->param_id;
        if (!ua || !ub) {
            d.field = AT_FF_UNIT;
            if (ua)
                d.sa = side_num(xa->dir, ua->span.off, ua->param_id);
            if (ub)
                d.sb = side_num(xb->dir, ub->span.off, ub->param_id);
            d.sa.len = ua ? ua->span.len : 0;
            d.sb.len = ub ? ub->span.len : 0;
            REPORT();
            continue;
        }
        if (ua->param_len != ub->param_len) {
            d.field = AT_FF_PARAM_LEN;
            d.sa = side_num(xa->dir, ua->len_span.off, ua->param_len);
            d.sb = side_num(xb->dir, ub->len_span.off, ub->param_len);
            REPORT();
        }
        if (ua->param_id != ub->param_id) {
            d.field = AT_FF_PARAM_ID;
            d.sa = side_num(xa->dir, ua->id_span.off, ua->param_id);
            d.sb = side_num(xb->dir, ub->id_span.off, ub->param_id);
            REPORT();
            continue; /* values of different kinds: nothing to compare */
        }
        if (unit_value_differs(c, xa, ua, xb, ub, &d))
            REPORT();
    }
    {
        uint64_t ta = a->bytes_present > a->span.len ? a->bytes_present - a->span.len : 0;
        uint64_t tb = b->bytes_present > b->span.len ? b->bytes_present - b->span.len : 0;
        if (ta != tb) {
            d = new_diff(c, AT_DIFF_FRAME);
            d.dir = xa->dir;
            d.frame = number;
            d.field = AT_FF_TRAILING;
            d.sa = side_num(xa->dir, a->span.off + a->span.len, ta);
            d.sb = side_num(xb->dir, b->span.off + b->span.len, tb);
            REPORT();
        }
    }
judgments:
#undef REPORT
    /* What the core and the analyzer concluded: reported with the first
     * wire difference because they explain it (or alone, when the bytes
     * agree but the context does not, e.g. another verifying key). */
    for (int side = 0; side < 2; side++) {
        const at_frame *f = side ? b : a;
        const at_frame *o = side ? a : b;
        for (unsigned i = 0; i < f->n_problems && i < AT_FRAME_MAX_PROBLEMS; i++) {
            const at_frame_problem *p = &f->problems[i];
            bool seen = false;
            for (unsigned k = 0; k < i; k++)
                seen |= f->problems[k].code == p->code;
            if (seen || has_problem(o, p->code))
                continue;
            d = new_diff(c, AT_DIFF_FRAME);
            d.dir = xa->dir;
            d.frame = number;
            d.field = AT_FF_PROBLEM;
            at_diff_side s = side_num(side ? xb->dir : xa->dir, p->off, p->code);
            s.len = p->detail;
            if (side)
                d.sb = s;
            else
                d.sa = s;
            emit(c, &d);
        }
    }
    if (xa->has_verdict && xb->has_verdict && xa->sig_matches != xb->sig_matches) {
        const at_frame_unit *sa = at_frame_find(a, AT_PARAM_SIGNATURE);
        const at_frame_unit *sb = at_frame_find(b, AT_PARAM_SIGNATURE);
        d = new_diff(c, AT_DIFF_FRAME);
        d.dir = xa->dir;
        d.frame = number;
        d.field = AT_FF_SIGNATURE_CHECK;
        d.sa = side_num(xa->dir, sa ? sa->span.off : a->span.off, xa->sig_matches);
        d.sb = side_num(xb->dir, sb ? sb->span.off : b->span.off, xb->sig_matches);
        emit(c, &d);
    }
}

static void compare_frames(cmp *c, at_dir dir)
{
    unsigned na = count_frames(c->a, dir), nb = count_frames(c->b, dir);
    unsigned n = na < nb ? na : nb;
    for (unsigned i = 0; i < n; i++)
        compare_frame(c, at_xrec_frame(c->a, dir, i), at_xrec_frame(c->b, dir, i), i + 1);
    if (na != nb) {
        at_diff d = new_diff(c, AT_DIFF_FRAME);
        d.dir = dir;
        d.frame = n + 1;
        d.field = AT_FF_COUNT;
        const at_xframe *fa = at_xrec_frame(c->a, dir, n), *fb = at_xrec_frame(c->b, dir, n);
        d.sa = side_num(dir, fa ? fa->off : 0, na);
        d.sb = side_num(dir, fb ? fb->off : 0, nb);
        d.sa.len = fa ? (uint32_t)fa->len : 0;
        d.sb.len = fb ? (uint32_t)fb->len : 0;
        emit(c, &d);
    }
}

static bool line_in(const cmp *c, const at_xline *l, at_dir dir)
{
    return l->dir == dir && l->kind != AT_XL_SECURE && l->kind != AT_XL_FINAL &&
           !(c->opt.skip_urcs && l->kind == AT_XL_URC);
}

static bool line_eq(const cmp *c, const at_xline *x, const at_xline *y)
{
    if (x->kind != y->kind)
        return false;
    if (c->opt.exact && x->kind != AT_XL_ECHO)
        return x->len == y->len && memcmp(x->text, y->text, x->len) == 0;
    return x->norm_len == y->norm_len && memcmp(x->norm, y->norm, x->norm_len) == 0;
}

/* Lines of direction @p dir (SECURE CMD and final results aside, they are
 * compared as results), aligned by their longest common subsequence; the
 * unmatched lines between two matches are paired in order. */
static void compare_lines(cmp *c, at_dir dir)
{
    const at_xline *la[AT_XREC_MAX_LINES], *lb[AT_XREC_MAX_LINES];
    unsigned na = 0, nb = 0;
    for (unsigned i = 0; i < c->a->n_lines; i++)
        if (line_in(c, &c->a->lines[i], dir))
            la[na++] = &c->a->lines[i];
    for (unsigned i = 0; i < c->b->n_lines; i++)
        if (line_in(c, &c->b->lines[i], dir))
            lb[nb++] = &c->b->lines[i];
    /* lcs[i][j]: LCS length of la[i..] and lb[j..] */
    static const unsigned W = AT_XREC_MAX_LINES + 1;
    uint8_t lcs[(AT_XREC_MAX_LINES + 1) * (AT_XREC_MAX_LINES + 1)];
    for (unsigned i = na + 1; i-- > 0;)
        for (unsigned j = nb + 1; j-- > 0;) {
            uint8_t v = 0;
            if (i < na && j < nb) {
                if (line_eq(c, la[i], lb[j]))
                    v = (uint8_t)(lcs[(i + 1) * W + j + 1] + 1);
                else {
                    uint8_t r = lcs[(i + 1) * W + j], s = lcs[i * W + j + 1];
                    v = r > s ? r : s;
                }
            }
            lcs[i * W + j] = v;
        }
    unsigned i = 0, j = 0;
    while (i < na || j < nb) {
        if (i < na && j < nb && line_eq(c, la[i], lb[j])) {
            i++;
            j++;
            continue;
        }
        /* The run of unmatched lines up to the next match. */
        unsigned i2 = i, j2 = j;
        while (i2 < na || j2 < nb) {
            if (i2 < na && j2 < nb && line_eq(c, la[i2], lb[j2]) &&
                lcs[i2 * W + j2] == lcs[(i2 + 1) * W + j2 + 1] + 1)
                break;
            if (j2 >= nb || (i2 < na && lcs[(i2 + 1) * W + j2] >= lcs[i2 * W + j2 + 1]))
                i2++;
            else
                j2++;
        }
        while (i < i2 || j < j2) {
            at_diff d = new_diff(c, AT_DIFF_LINE);
            d.dir = dir;
            if (i < i2) {
                d.la = la[i];
                d.sa = side_num(la[i]->dir, la[i]->span.off, la[i]->kind);
                d.sa.text = la[i]->text;
                d.sa.text_len = la[i]->len;
                i++;
            }
            if (j < j2) {
                d.lb = lb[j];
                d.sb = side_num(lb[j]->dir, lb[j]->span.off, lb[j]->kind);
                d.sb.text = lb[j]->text;
                d.sb.text_len = lb[j]->len;
                j++;
            }
            emit(c, &d);
        }
    }
}

static void line_side(at_diff_side *s, const at_xline *l, uint64_t num)
{
    *s = side_num(AT_DIR_ME_TO_TE, l ? l->span.off : 0, num);
    if (l) {
        s->text = l->text;
        s->text_len = l->len;
    }
}

static void compare_payload(cmp *c, at_dir dir)
{
    if (c->a->payload_bytes[dir] == c->b->payload_bytes[dir] &&
        c->a->payload_digest[dir] == c->b->payload_digest[dir])
        return;
    at_diff d = new_diff(c, AT_DIFF_PAYLOAD);
    d.dir = dir;
    d.sa = side_num(dir, 0, c->a->payload_bytes[dir]);
    d.sb = side_num(dir, 0, c->b->payload_bytes[dir]);
    emit(c, &d);
}

static void compare_answers(cmp *c)
{
    const at_xrec *a = c->a, *b = c->b;
    if (a->secure_result != b->secure_result) {
        at_diff d = new_diff(c, AT_DIFF_SECURE_RESULT);
        line_side(&d.sa, a->secure_line, a->secure_result);
        line_side(&d.sb, b->secure_line, b->secure_result);
        d.sa.present = a->secure_result != AT_SEC_NONE;
        d.sb.present = b->secure_result != AT_SEC_NONE;
        emit(c, &d);
    }
    if (a->has_final != b->has_final ||
        (a->has_final && (a->final_kind != b->final_kind ||
                          a->final_has_code != b->final_has_code ||
                          (a->final_has_code && a->final_code != b->final_code) ||
                          (a->final_line && b->final_line &&
                           !line_eq(c, a->final_line, b->final_line))))) {
        at_diff d = new_diff(c, AT_DIFF_FINAL);
        line_side(&d.sa, a->final_line, a->final_kind);
        line_side(&d.sb, b->final_line, b->final_kind);
        d.sa.present = a->has_final;
        d.sb.present = b->has_final;
        d.sa.len = a->final_code;
        d.sb.len = b->final_code;
        emit(c, &d);
    }
    if (a->end_reason != b->end_reason) {
        at_diff d = new_diff(c, AT_DIFF_END);
        d.sa = side_num(AT_DIR_ME_TO_TE, 0, a->end_reason);
        d.sb = side_num(AT_DIR_ME_TO_TE, 0, b->end_reason);
        emit(c, &d);
    }
    compare_lines(c, AT_DIR_ME_TO_TE);
    if (a->lines_beyond != b->lines_beyond ||
        a->lines_beyond_digest != b->lines_beyond_digest) {
        at_diff d = new_diff(c, AT_DIFF_LINES_BEYOND);
        d.sa = side_num(AT_DIR_ME_TO_TE, 0, a->lines_beyond);
        d.sb = side_num(AT_DIR_ME_TO_TE, 0, b->lines_beyond);
        emit(c, &d);
    }
    compare_frames(c, AT_DIR_ME_TO_TE);
    compare_payload(c, AT_DIR_ME_TO_TE);
}

static const at_cmp_options no_options;

static void cmp_init(cmp *c, const at_xrec *a, const at_xrec *b,
                     const at_cmp_options *opt, at_diff_cb cb, void *ctx)
{
    memset(c, 0, sizeof *c);
    c->a = a;
    c->b = b;
    c->opt = opt ? *opt : no_options;
    c->cb = cb;
    c->ctx = ctx;
}

unsigned at_xrec_compare_answers(const at_xrec *recorded, const at_xrec *other,
                                 const at_cmp_options *opt, at_diff_cb cb,
                                 void *ctx)
{
    if (!recorded || !other)
        return 0;
    cmp c;
    cmp_init(&c, recorded, other, opt, cb, ctx);
    compare_answers(&c);
    return c.n;
}

static bool has_rule(const at_xrec *x, const char *rule)
{
    for (unsigned i = 0; i < x->n_findings; i++)
        if (strcmp(x->findings[i].rule, rule) == 0)
            return true;
    return false;
}

unsigned at_xrec_compare(const at_xrec *a, const at_xrec *b,
                         const at_cmp_options *opt, at_diff_cb cb, void *ctx)
{
    if (!a || !b)
        return 0;
    cmp c;
    cmp_init(&c, a, b, opt, cb, ctx);
    if (a->command_len != b->command_len ||
        (a->command_len && memcmp(a->command, b->command, a->command_len) != 0)) {
        at_diff d = new_diff(&c, AT_DIFF_COMMAND);
        d.sa = side_num(AT_DIR_TE_TO_ME, a->span.off, 0);
        d.sb = side_num(AT_DIR_TE_TO_ME, b->span.off, 0);
        d.sa.text = a->command;
        d.sa.text_len = a->command_len;
        d.sb.text = b->command;
        d.sb.text_len = b->command_len;
        d.sa.present = a->command != NULL;
        d.sb.present = b->command != NULL;
        emit(&c, &d);
    }
    compare_frames(&c, AT_DIR_TE_TO_ME);
    compare_lines(&c, AT_DIR_TE_TO_ME);
    compare_payload(&c, AT_DIR_TE_TO_ME);
    compare_answers(&c);
    if (a->frames_beyond != b->frames_beyond ||
        a->frames_beyond_digest != b->frames_beyond_digest) {
        at_diff d = new_diff(&c, AT_DIFF_FRAME);
        d.field = AT_FF_COUNT;
        d.frame = AT_XREC_MAX_FRAMES + 1;
        d.sa = side_num(AT_DIR_TE_TO_ME, 0, a->n_frames + a->frames_beyond);
        d.sb = side_num(AT_DIR_TE_TO_ME, 0, b->n_frames + b->frames_beyond);
        emit(&c, &d);
    }
    for (int side = 0; side < 2; side++) {
        const at_xrec *x = side ? b : a, *o = side ? a : b;
        for (unsigned i = 0; i < x->n_findings; i++) {
            const at_xfinding *f = &x->findings[i];
            if (has_rule(o, f->rule))
                continue;
            at_diff d = new_diff(&c, AT_DIFF_FINDING);
            at_diff_side s = side_num(f->dir, f->off, f->severity);
            s.text = f->rule;
            s.text_len = strlen(f->rule);
            if (side) {
                d.fb = f;
                d.sb = s;
            } else {
                d.fa = f;
                d.sa = s;
            }
            emit(&c, &d);
        }
    }
    return c.n;
}

/* ------------------------------------------------------------------ */
/* Aligner                                                            */
/* ------------------------------------------------------------------ */

typedef struct xqueue {
    at_xrec **v;       /* ring of window entries */
    unsigned head, n;
    bool ended;
} xqueue;

struct at_aligner {
    unsigned window;
    at_align_cb cb;
    void *ctx;
    xqueue q[2];
};

at_aligner *at_aligner_new(unsigned window, at_align_cb cb, void *ctx)
{
    at_aligner *al = calloc(1, sizeof *al);
    if (!al)
        return NULL;
    al->window = window ? window : AT_ALIGN_WINDOW_DEFAULT;
    al->cb = cb;
    al->ctx = ctx;
    for (int s = 0; s < 2; s++) {
        al->q[s].v = calloc(al->window, sizeof *al->q[s].v);
        if (!al->q[s].v) {
            free(al->q[0].v);
            free(al);
            return NULL;
        }
    }
    return al;
}

static at_xrec *q_get(const at_aligner *al, int s, unsigned i)
{
    const xqueue *q = &al->q[s];
    return q->v[(q->head + i) % al->window];
}

static at_xrec *q_pop(at_aligner *al, int s)
{
    xqueue *q = &al->q[s];
    at_xrec *x = q->v[q->head];
    q->v[q->head] = NULL;
    q->head = (q->head + 1) % al->window;
    q->n--;
    return x;
}

static void out(at_aligner *al, at_xrec *a, at_xrec *b)
{
    if (al->cb)
        al->cb(al->ctx, a, b);
    else {
        at_xrec_free(a);
        at_xrec_free(b);
    }
}

static bool decidable(const at_aligner *al, int s)
{
    return al->q[s].ended || al->q[s].n >= al->window;
}

/* Pairs and reports what can be decided; @p force decides a mismatch of
 * the heads without waiting for full windows. */
static void drain(at_aligner *al, bool force)
{
    for (;;) {
        xqueue *qa = &al->q[0], *qb = &al->q[1];
        if (qa->n == 0 && qb->n == 0)
            return;
        if (qa->n == 0 || qb->n == 0) {
            /* One side is empty: the other's records are alone once the
             * empty side has ended. */
            int s = qa->n ? 0 : 1;
            if (!al->q[1 - s].ended)
                return;
            at_xrec *x = q_pop(al, s);
            out(al, s ? NULL : x, s ? x : NULL);
            continue;
        }
        at_xrec *ha = q_get(al, 0, 0), *hb = q_get(al, 1, 0);
        if (strcmp(ha->key, hb->key) == 0) {
            at_xrec *a = q_pop(al, 0), *b = q_pop(al, 1);
            out(al, a, b);
            continue;
        }
        if (!force && (!decidable(al, 0) || !decidable(al, 1)))
            return;
        unsigned best_i = 0, best_j = 0, best = UINT32_MAX;
        for (unsigned i = 0; i < qa->n; i++)
            for (unsigned j = 0; j < qb->n && i + j < best; j++)
                if (strcmp(q_get(al, 0, i)->key, q_get(al, 1, j)->key) == 0) {
                    best = i + j;
                    best_i = i;
                    best_j = j;
                }
        if (best == UINT32_MAX) {
            best_i = 1;
            best_j = 1;
        }
        for (unsigned i = 0; i < best_i; i++)
            out(al, q_pop(al, 0), NULL);
        for (unsigned j = 0; j < best_j; j++)
            out(al, NULL, q_pop(al, 1));
        force = false;
    }
}

void at_aligner_push(at_aligner *al, int side, at_xrec *x)
{
    if (!al || side < 0 || side > 1 || !x) {
        at_xrec_free(x);
        return;
    }
    xqueue *q = &al->q[side];
    if (q->n == al->window) {
        /* Pushed past the window (at_aligner_wants said no): decide now,
         * and if this side is still full its head has no partner. */
        drain(al, true);
        if (q->n == al->window) {
            at_xrec *h = q_pop(al, side);
            out(al, side ? NULL : h, side ? h : NULL);
        }
    }
    q->v[(q->head + q->n) % al->window] = x;
    q->n++;
    drain(al, false);
}

bool at_aligner_wants(const at_aligner *al, int side)
{
    return al && side >= 0 && side <= 1 && !al->q[side].ended &&
           al->q[side].n < al->window;
}

unsigned at_aligner_held(const at_aligner *al, int side)
{
    return al && side >= 0 && side <= 1 ? al->q[side].n : 0;
}

void at_aligner_end(at_aligner *al, int side)
{
    if (!al || side < 0 || side > 1)
        return;
    al->q[side].ended = true;
    drain(al, false);
}

void at_aligner_free(at_aligner *al)
{
    if (!al)
        return;
    for (int s = 0; s < 2; s++) {
        while (al->q[s].n)
            at_xrec_free(q_pop(al, s));
        free(al->q[s].v);
    }
    free(al);
}
