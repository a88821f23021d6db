/*
 * packet-attrace.c - the Wireshark dissector "attrace" (epan plugin).
 *
 * Every attrace trace record names this dissector in its exported-PDU
 * header; Wireshark's exported_pdu dissector calls it with the tvb at the
 * UART pseudo-header and the direction in pinfo->p2p_dir.
 *
 * The first pass hands each record to state.c, which runs the decoder core
 * and the analyzer (one session per channel) and stores what they
 * reported. Rendering (tree, columns, expert info, tap) reads those tables
 * only, so any pass, in any order, shows the same tree. Line and frame
 * fields are re-read from the element's bytes with the core's own pure
 * line and frame parsers, on the kind the session decided.
 */
#include "state.h"

#include "attrace/cert.h"
#include "attrace/frame.h"
#include "attrace/lines.h"
#include "digits.h"

#include <epan/expert.h>
#if ATTRACE_WS_MAJOR == 4 && ATTRACE_WS_MINOR == 0
/* Sets a column directly where col_set_str would only store a pointer
 * (see plain_column). */
#include <epan/column-info.h>
#define PLAIN_COLUMNS 1
#else
#define PLAIN_COLUMNS 0
#endif
#include <epan/packet.h>
#include <epan/prefs.h>
#include <epan/proto_data.h>
#include <epan/stats_tree.h>
#include <epan/tap.h>
#include <wsutil/report_message.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Plugin entry points: the only symbols the object exports           */
/* ------------------------------------------------------------------ */

WS_DLL_PUBLIC_DEF const char plugin_version[] = ATTRACE_PLUGIN_VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = ATTRACE_WS_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = ATTRACE_WS_MINOR;
WS_DLL_PUBLIC void plugin_register(void);

/* ------------------------------------------------------------------ */
/* Registration state                                                 */
/* ------------------------------------------------------------------ */

static int proto_attrace = -1;
static int attrace_tap = -1;
static dissector_handle_t attrace_handle;
static dissector_table_t ber_oid_table;
/* The exported-PDU dissector's field over the record it hands over. */
static int hf_exported_pdu_record = -1;

/* Preferences. */
enum { PROFILE_AUTO = 0, PROFILE_LEGACY = 1, PROFILE_NEWER = 2 };
static const enum_val_t profile_vals[] = {
    {"auto", "Guess from the trace", PROFILE_AUTO},
    {"legacy", "Legacy (MC75i, TC63i, TC65i, BGS2/3, EGS5, AGS2)", PROFILE_LEGACY},
    {"newer", "Newer (EXS62, PLS62/63/83, TX62)", PROFILE_NEWER},
    {NULL, NULL, 0},
};
static gint pref_profile = PROFILE_AUTO;
static const char *pref_client_cert = "";
static guint pref_pause_warn_ms = 1000;
static gboolean pref_show_secrets = FALSE;

/* The capture file's tables (NULL between files). */
static pl_state *g_state;
static uint8_t *g_client_cert_der; /* the client certificate preference, read */
static size_t g_client_cert_len;

/* Fields: display-filter names are public API (README). */
static int hf_dir = -1, hf_channel = -1, hf_event = -1, hf_version = -1;
static int hf_line = -1, hf_line_rts = -1, hf_line_cts = -1, hf_line_dtr = -1;
static int hf_line_dsr = -1, hf_line_dcd = -1, hf_line_ri = -1, hf_line_unknown = -1;
static int hf_flags = -1, hf_flags_missing = -1, hf_baud = -1, hf_stream_off = -1;
static int hf_note = -1, hf_settings = -1, hf_lost = -1, hf_error_bytes = -1;
static int hf_element = -1, hf_offset = -1, hf_length = -1, hf_exchange = -1;
static int hf_part_of = -1, hf_first_frame = -1, hf_request_in = -1;
static int hf_cmd = -1, hf_cmd_name = -1, hf_cmd_type = -1, hf_cmd_param = -1;
static int hf_echo = -1, hf_resp = -1, hf_urc = -1, hf_unexpected = -1, hf_invalid = -1;
static int hf_result = -1, hf_result_code = -1, hf_result_meaning = -1;
static int hf_duration = -1, hf_end_reason = -1, hf_secure_result = -1;
static int hf_payload_len = -1, hf_imei = -1;
static int hf_ciev_srv = -1, hf_ciev_name = -1, hf_ciev_value = -1;
static int hf_sis_srv = -1, hf_sis_cause = -1, hf_sis_info = -1, hf_sis_text = -1;
static int hf_sis_meaning = -1, hf_sisrw_srv = -1, hf_sisrw_count = -1;
static int hf_sbnr_index = -1, hf_sbnr_entry = -1;
static int hf_cert_size = -1, hf_cert_issuer = -1, hf_cert_subject = -1;
static int hf_cert_serial = -1, hf_cert_sigalg = -1, hf_cert_thumbprint = -1;
static int hf_cert_expiry = -1, hf_cert_key = -1;
static int hf_frame_totallen = -1, hf_frame_cmdid = -1, hf_frame_paramnum = -1;
static int hf_frame_index = -1, hf_frame_imei = -1, hf_frame_problem = -1;
static int hf_frame_trailing = -1;
static int hf_unit_paramlen = -1, hf_unit_paramid = -1, hf_unit_value = -1;
static int hf_unit_text = -1;
static int hf_key_size = -1, hf_key_type = -1, hf_key_bits = -1;
static int hf_key_matches_cert = -1;
static int hf_sig_text = -1, hf_sig_checked = -1, hf_sig_matches = -1;
static int hf_sig_digest = -1, hf_sig_key_source = -1;
static int hf_finding_rule = -1, hf_finding_severity = -1, hf_finding_what = -1;
static int hf_secret_kind = -1, hf_secret_size = -1;
static int hf_finding_fix = -1, hf_finding_offset = -1, hf_finding_dir = -1;

static gint ett_attrace = -1, ett_header = -1, ett_line = -1, ett_element = -1;
static gint ett_cmd = -1, ett_frame = -1, ett_unit = -1, ett_cert = -1;
static gint ett_finding = -1;

static expert_field ei_bad_header = EI_INIT;
static expert_field ei_no_direction = EI_INIT;
static expert_field ei_bytes_missing = EI_INIT;
static expert_field ei_incomplete = EI_INIT;
static expert_field ei_not_decoded = EI_INIT;
/* One per frame problem code (at_frame_problem_code 1..AT_FP_LAST). */
#define AT_FP_LAST AT_FP_UNUSED_BYTES
static expert_field ei_problem[AT_FP_LAST + 1];
/* Findings: one per rule of the core's rule table, at the rule's default
 * severity; a finding given another severity uses the severity's entry. */
static expert_field *ei_rule;
static const at_rule *rule_table;
static size_t n_rules;
static expert_field ei_finding[AT_SEV_ERROR + 1];

static const value_string dir_vals[] = {
    {AT_DIR_TE_TO_ME, "TE->ME (host to module)"},
    {AT_DIR_ME_TO_TE, "ME->TE (module to host)"},
    {0, NULL},
};

static const value_string event_vals[] = {
    {AT_TEV_DATA, "data"},
    {AT_TEV_BREAK, "break"},
    {AT_TEV_FRAMING_ERROR, "framing_error"},
    {AT_TEV_PARITY_ERROR, "parity_error"},
    {AT_TEV_OVERRUN, "overrun"},
    {AT_TEV_LINE_CHANGE, "line_change"},
    {AT_TEV_SETTINGS, "settings"},
    {AT_TEV_NOTE, "note"},
    {0, NULL},
};

static const value_string cmdid_vals[] = {
    {AT_CMD_WRITE, "WRITE"},
    {AT_CMD_READ, "READ"},
    {AT_CMD_DELETE, "DELETE"},
    {AT_CMD_REVOKE, "REVOKE"},
    {AT_CMD_READ_FILE, "READ_FILE"},
    {0, NULL},
};

static const value_string paramid_vals[] = {
    {AT_PARAM_INDEX, "index"},
    {AT_PARAM_CERT, "cert"},
    {AT_PARAM_SIGNATURE, "signature"},
    {AT_PARAM_IMEI, "imei"},
    {AT_PARAM_KEY, "key"},
    {AT_PARAM_THUMBPRINT, "thumbprint"},
    {AT_PARAM_MODE, "mode"},
    {0, NULL},
};

/* ------------------------------------------------------------------ */
/* Capture-file lifetime                                              */
/* ------------------------------------------------------------------ */

static const at_profile *pref_profile_ptr(void)
{
    switch (pref_profile) {
    case PROFILE_LEGACY: return at_profile_get(AT_PROFILE_LEGACY);
    case PROFILE_NEWER: return at_profile_get(AT_PROFILE_NEWER);
    default: return NULL;
    }
}

static void attrace_init(void)
{
    pl_state_free(g_state);
    pl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.profile = pref_profile_ptr();
    cfg.client_cert_der = g_client_cert_der;
    cfg.client_cert_len = g_client_cert_len;
    cfg.pause_warn_ms = pref_pause_warn_ms;
    g_state = pl_state_new(&cfg);
}

static void attrace_cleanup(void)
{
    pl_state_free(g_state);
    g_state = NULL;
}

static void attrace_postseq(void)
{
    if (g_state)
        pl_state_finish(g_state);
}

static void attrace_prefs_apply(void)
{
    free(g_client_cert_der);
    g_client_cert_der = NULL;
    g_client_cert_len = 0;
    if (pref_client_cert && *pref_client_cert) {
        char err[512];
        if (at_cert_load_der(pref_client_cert, &g_client_cert_der, &g_client_cert_len, err,
                             sizeof err) != 0)
            report_failure("attrace: client certificate: %s", err);
    }
}

/* ------------------------------------------------------------------ */
/* Rendering helpers                                                  */
/* ------------------------------------------------------------------ */

/* What one packet's rendering tells the statistics tap. */
#define TAP_MAX 32
typedef struct tap_rec {
    unsigned n;
    struct {
        uint8_t node; /* TAP_NODE_* */
        const char *label;
    } v[TAP_MAX];
} tap_rec;
enum { TAP_NODE_COMMAND = 0, TAP_NODE_RESULT, TAP_NODE_SECURE, TAP_NODE_FINDING };

static void tap_add(tap_rec *t, unsigned node, const char *label)
{
    if (t && t->n < TAP_MAX) {
        t->v[t->n].node = (uint8_t)node;
        t->v[t->n].label = label;
        t->n++;
    }
}

/*
 * Texts (the Info column, item labels) are built here and handed over
 * with one call: each col_append_* or proto_item_append_text call formats
 * anew (about a thousand instructions), and tshark pays that on every
 * packet.
 */
typedef struct info_buf {
    char *s;
    size_t cap; /* bytes at s, with the NUL */
    size_t n;   /* no NUL after these while the text grows: info_cstr ends it */
} info_buf;

/* @p mem NULL: a text nobody reads (every info_* call returns at once). */
static void info_init(info_buf *b, char *mem, size_t cap)
{
    b->s = mem;
    b->cap = cap;
    b->n = 0;
}

/* The text as a C string. */
static const char *info_cstr(info_buf *b)
{
    b->s[b->n] = 0;
    return b->s;
}

/* What does not fit: cut (out of line, it almost never runs). */
PL_COLD static void info_addn_cut(info_buf *b, const char *str, size_t k)
{
    if (k > b->cap - 1 - b->n)
        k = b->cap - 1 - b->n;
    memcpy(b->s + b->n, str, k);
    b->n += k;
}

/* Inline: a literal's length is then known and its copy a few moves. */
static inline void info_addn(info_buf *b, const char *str, size_t k)
{
    if (!b->s)
        return;
    if (G_UNLIKELY(k > b->cap - 1 - b->n)) {
        info_addn_cut(b, str, k);
        return;
    }
    memcpy(b->s + b->n, str, k);
    b->n += k;
}

/* Inline: the texts are mostly literals, whose length is then known. */
static inline void info_add(info_buf *b, const char *str)
{
    info_addn(b, str, strlen(str));
}

/* @p sep before the text unless the column is still empty. */
static inline void info_sep(info_buf *b, const char *sep)
{
    if (b->s && b->n)
        info_add(b, sep);
}

/* Numbers are on most labels and Info lines: written by the CLI's digits
 * module, straight into the text when it has room. */
static void info_num(info_buf *b, uint64_t v)
{
    enum { MAX_DIGITS = 20 };
    if (!b->s)
        return;
    if (G_UNLIKELY(b->cap - 1 - b->n < MAX_DIGITS)) {
        char d[MAX_DIGITS];
        info_addn(b, d, (size_t)(cli_put_uint(d, v) - d));
        return;
    }
    b->n = (size_t)(cli_put_uint(b->s + b->n, v) - b->s);
}

static void info_addf(info_buf *b, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void info_addf(info_buf *b, const char *fmt, ...)
{
    if (!b->s)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        b->n = b->n + (size_t)k < b->cap ? b->n + (size_t)k : b->cap - 1;
}

/* At most 60 characters of a line, unprintable bytes as '.'. */
static void info_text(info_buf *b, const uint8_t *p, size_t n)
{
    enum { MAX = 60 };
    if (!b->s)
        return;
    size_t room = b->cap - 1 - b->n;
    char *o = b->s + b->n;
    size_t k = n < MAX ? n : MAX;
    if (k > room)
        k = room;
    /* Eight bytes at a time while all are printable (lines mostly are). */
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    size_t i = 0;
    for (; i + 8 <= k; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        /* A byte below 0x20, or above 0x7e. */
        if (((x - ones * 0x20u) & ~x & highs) | (((x + ones) | x) & highs))
            break;
        memcpy(o + i, &x, 8);
    }
    for (; i < k; i++)
        o[i] = (uint8_t)(p[i] - 0x20u) < 0x5fu ? (char)p[i] : '.';
    b->n += k;
    if (n > MAX)
        info_add(b, "...");
}

/* ", -> LINE" (to the module) or ", <- LINE" */
static void info_line(info_buf *b, bool to_me, const uint8_t *p, size_t n)
{
    if (!b->s)
        return;
    info_sep(b, ", ");
    info_addn(b, to_me ? "-> " : "<- ", 3);
    if (p)
        info_text(b, p, n);
}

/* ": LINE" after an element's label (with a tree). */
static void label_line(proto_item *item, info_buf *lbl, const uint8_t *p, size_t n)
{
    if (item && p) {
        info_add(lbl, ": ");
        info_text(lbl, p, n);
    }
}

/*
 * The label of @p item: what proto_item_set_text(item, "%s", b->s) makes
 * of it, without the printf formatter it runs (the protocol line is on
 * every packet and tshark -V prints it). Wireshark 4.0's proto.h has the
 * label as a buffer of ITEM_LABEL_LENGTH in the packet's pool; the text
 * is shorter (info_buf stops there). Another Wireshark goes through the
 * formatter.
 */
static void set_label(proto_item *item, info_buf *b)
{
#if ATTRACE_WS_MAJOR == 4 && ATTRACE_WS_MINOR == 0
    /* In a tree that is not shown, an add may return a faked item (its
     * parent): proto_item_set_text leaves those alone, and so must this. */
    if (!item || !PTREE_DATA(item) || !PTREE_DATA(item)->visible)
        return;
    field_info *fi = PITEM_FINFO(item);
    if (!fi || proto_item_is_hidden(item))
        return; /* proto_item_set_text keeps no label for these either */
    G_STATIC_ASSERT(sizeof fi->rep->representation == ITEM_LABEL_LENGTH);
    if (!fi->rep)
        fi->rep = wmem_new(PNODE_POOL(item), item_label_t);
    memcpy(fi->rep->representation, b->s, b->n);
    fi->rep->representation[b->n] = 0;
#else
    proto_item_set_text(item, "%s", info_cstr(b));
#endif
}

typedef struct render_ctx {
    packet_info *pinfo;
    tvbuff_t *rec;          /* the record */
    gint poff;              /* where its payload starts */
    tvbuff_t *tvb;          /* the payload as a tvb of its own, NULL until an
                               item needs it (payload_tvb); the whole record
                               when no tree is built (items need a tvb, not
                               bytes) */
    const uint8_t *payload; /* the record's payload bytes */
    size_t plen;
    const pl_packet *pkt;
    at_dir dir;
    info_buf *info;         /* the Info column */
    tap_rec *tap;
    /* The element being rendered: its exact bytes (parsers read these)
     * and what is shown of them (private-key runs masked). */
    const uint8_t *raw, *shown;
    size_t view_len;
} render_ctx;

/* The payload as a tvb of its own, made on first use: most records need
 * none (an element inside the record is a subset of the record). */
static tvbuff_t *payload_tvb(render_ctx *rc)
{
    if (!rc->tvb)
        rc->tvb = tvb_new_subset_remaining(rc->rec, rc->poff);
    return rc->tvb;
}

static const char *arrow(const pl_elem *e)
{
    return pl_elem_dir(e) == AT_DIR_TE_TO_ME ? "->" : "<-";
}

/* What the tree shows of bytes at @p ptr inside the element's raw bytes. */
static const char *shown(const render_ctx *rc, const void *ptr)
{
    const uint8_t *q = ptr;
    if (rc->shown && rc->raw && q >= rc->raw && q < rc->raw + rc->view_len)
        return (const char *)(rc->shown + (q - rc->raw));
    return (const char *)q;
}

/*
 * A string field whose value is the @p n bytes at @p p (up to a NUL, as
 * any C string). Wireshark copies the value into the field, so a short
 * one goes through the stack instead of a copy in the packet's pool
 * (wmem_strndup copies byte by byte).
 */
static proto_item *add_text(proto_tree *tree, int hf, tvbuff_t *tvb, gint off, gint len,
                            const char *p, size_t n, packet_info *pinfo)
{
    char buf[512];
    if (n < sizeof buf) {
        memcpy(buf, p, n);
        buf[n] = 0;
        return proto_tree_add_string(tree, hf, tvb, off, len, buf);
    }
    return proto_tree_add_string(tree, hf, tvb, off, len, wmem_strndup(pinfo->pool, p, n));
}

/* Secret runs overlapping [off, off + len) of element @p e. */
static bool secret_overlaps(const pl_elem *e, uint64_t off, uint64_t len)
{
    const pl_secret *secrets;
    size_t n = pl_elem_secrets(g_state, e, &secrets);
    for (size_t i = 0; i < n; i++) {
        const pl_secret *r = &secrets[i];
        if (r->off < off + len && off < r->off + r->len)
            return true;
    }
    return false;
}

/* A string field over a stream span of the element, value from @p s. */
static proto_item *add_str(proto_tree *tree, int hf, tvbuff_t *etvb,
                           const pl_elem *e, const at_str *s, render_ctx *rc)
{
    if (!s->ptr || !tree)
        return NULL;
    const char *v = shown(rc, s->ptr);
    if (etvb && s->span.off >= e->off && s->span.off - e->off + s->span.len <= e->len)
        return add_text(tree, hf, etvb, (gint)(s->span.off - e->off), (gint)s->span.len, v,
                        s->len, rc->pinfo);
    return add_text(tree, hf, etvb, 0, 0, v, s->len, rc->pinfo);
}

static gint rel(const pl_elem *e, uint64_t off, tvbuff_t *etvb)
{
    if (!etvb || off < e->off || off - e->off > e->len)
        return 0;
    return (gint)(off - e->off);
}

static gint rel_len(const pl_elem *e, uint64_t off, uint64_t len, tvbuff_t *etvb)
{
    if (!etvb || off < e->off || off - e->off > e->len || len > e->len - (off - e->off))
        return 0;
    return (gint)len;
}

/* A number field over the stream span @p sp of element @p e. */
static void add_uint_span(proto_tree *tree, int hf, tvbuff_t *etvb, const pl_elem *e,
                          at_span sp, guint32 value)
{
    proto_tree_add_uint(tree, hf, etvb, rel(e, sp.off, etvb), rel_len(e, sp.off, sp.len, etvb),
                        value);
}

static void cert_fields(proto_tree *tree, tvbuff_t *etvb, const pl_elem *e,
                        render_ctx *rc, const at_str *issuer, const at_str *serial,
                        const at_str *subject, const at_str *sigalg,
                        const at_str *thumbprint)
{
    add_str(tree, hf_cert_issuer, etvb, e, issuer, rc);
    add_str(tree, hf_cert_serial, etvb, e, serial, rc);
    add_str(tree, hf_cert_subject, etvb, e, subject, rc);
    add_str(tree, hf_cert_sigalg, etvb, e, sigalg, rc);
    add_str(tree, hf_cert_thumbprint, etvb, e, thumbprint, rc);
}

/* The fields of a line the session classified as e->line_kind. */
static void line_details(proto_tree *tree, tvbuff_t *etvb, const pl_elem *e,
                         render_ctx *rc, const char *text, size_t len, bool urc)
{
    packet_info *pinfo = rc->pinfo;
    uint64_t base = e->off;
    uint64_t err_off = 0;
    switch ((at_line_kind)e->line_kind) {
    case AT_LK_TEXT:
        break;
    case AT_LK_RESULT: {
        at_result r;
        if (at_parse_result(text, len, base, (e->flags & PL_EF_NUMERIC) != 0, &r) != AT_OK)
            break;
        if (r.has_code) {
            proto_tree_add_uint(tree, hf_result_code, etvb, 0, 0, r.code);
            const char *m = r.kind == AT_RES_CME_ERROR ? at_cme_error_text(r.code) : NULL;
            if (m)
                proto_item_set_generated(
                    proto_tree_add_string(tree, hf_result_meaning, etvb, 0, 0, m));
        }
        break;
    }
    case AT_LK_SECURE:
        proto_tree_add_string(tree, hf_secure_result, etvb, 0, (gint)len,
                              at_secure_result_name(pl_elem_secure(e)));
        break;
    case AT_LK_SBNR: {
        at_sbnr b;
        if (at_parse_sbnr(text, len, base, &b, &err_off) != AT_OK)
            break;
        add_uint_span(tree, hf_sbnr_index, etvb, e, b.index_span, b.index);
        proto_tree_add_string(tree, hf_sbnr_entry, etvb, 0, 0, at_sbnr_kind_name(b.kind));
        if (b.kind == AT_SBNR_CORRUPTED)
            break;
        add_uint_span(tree, hf_cert_size, etvb, e, b.size_text.span, b.size);
        cert_fields(tree, etvb, e, rc, &b.issuer, &b.serial, &b.subject, &b.signature,
                    &b.thumbprint);
        if (b.has_expiry) {
            char d[16];
            snprintf(d, sizeof d, "%04u-%02u-%02u", b.expiry_year % 10000u,
                     b.expiry_month % 100u, b.expiry_day % 100u);
            proto_tree_add_string(tree, hf_cert_expiry, etvb,
                                  rel(e, b.expiry.span.off, etvb),
                                  rel_len(e, b.expiry.span.off, b.expiry.span.len, etvb), d);
        }
        break;
    }
    case AT_LK_CIEV_IS_CERT: {
        at_ciev_is_cert c;
        if (at_parse_ciev_is_cert(text, len, base, &c, &err_off) != AT_OK)
            break;
        proto_tree_add_string(tree, hf_ciev_name, etvb, 0, 0, "is_cert");
        proto_tree_add_uint(tree, hf_ciev_srv, etvb, 0, 0, c.srv_profile);
        cert_fields(tree, etvb, e, rc, &c.issuer, &c.serial, &c.subject, &c.sig_alg,
                    &c.thumbprint);
        break;
    }
    case AT_LK_CIEV: {
        at_str name, rest;
        if (at_parse_ciev(text, len, base, &name, &rest, &err_off) != AT_OK)
            break;
        add_str(tree, hf_ciev_name, etvb, e, &name, rc);
        add_str(tree, hf_ciev_value, etvb, e, &rest, rc);
        break;
    }
    case AT_LK_SIS: {
        at_sis s;
        if (at_parse_sis(text, len, base, &s, &err_off) != AT_OK)
            break;
        add_uint_span(tree, hf_sis_srv, etvb, e, s.srv_profile_span, s.srv_profile);
        add_uint_span(tree, hf_sis_cause, etvb, e, s.urc_cause_span, s.urc_cause);
        if (s.has_info_id) {
            add_uint_span(tree, hf_sis_info, etvb, e, s.info_id_span, s.info_id);
            const char *m = at_sis_info_text(s.info_id);
            if (m)
                proto_item_set_generated(
                    proto_tree_add_string(tree, hf_sis_meaning, etvb, 0, 0, m));
        }
        if (s.has_info_text)
            add_str(tree, hf_sis_text, etvb, e, &s.info_text, rc);
        break;
    }
    case AT_LK_SIS_RW: {
        at_sis_rw rw;
        if (at_parse_sis_rw(text, len, base, &rw, &err_off) != AT_OK)
            break;
        proto_tree_add_uint(tree, hf_sisrw_srv, etvb, 0, 0, rw.srv_profile);
        if (!urc)
            proto_tree_add_int64(tree, hf_sisrw_count, etvb, rel(e, rw.count_span.off, etvb),
                                 rel_len(e, rw.count_span.off, rw.count_span.len, etvb),
                                 rw.count_negative ? rw.count_negative : (gint64)rw.count);
        break;
    }
    case AT_LK_IMEI:
        add_text(tree, hf_imei, etvb, 0, (gint)len, shown(rc, text), len, pinfo);
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Findings                                                           */
/* ------------------------------------------------------------------ */

static expert_field *ei_for_finding(const pl_finding *f)
{
    /* f->rule is the rule table's own id: at_rule_find ends at its address. */
    const at_rule *r = at_rule_find(f->rule);
    if (r && rule_table && r >= rule_table && r < rule_table + n_rules &&
        r->severity == (at_severity)f->severity)
        return &ei_rule[r - rule_table];
    unsigned s = (unsigned)f->severity;
    return &ei_finding[s <= AT_SEV_ERROR ? s : AT_SEV_ERROR];
}

static int expert_severity(at_severity s)
{
    return s == AT_SEV_ERROR ? PI_ERROR : s == AT_SEV_WARNING ? PI_WARN : PI_NOTE;
}

/* What EXPFILL puts into a static table's entry. */
static void ei_fill(ei_register_info *r, expert_field *id, const char *name, int group,
                    int severity, const char *summary)
{
    id->ei = EI_INIT_EI;
    id->hf = EI_INIT_HF;
    r->ids = id;
    r->eiinfo.name = name;
    r->eiinfo.group = group;
    r->eiinfo.severity = severity;
    r->eiinfo.summary = summary;
    r->eiinfo.hf_info.hfinfo.type = FT_NONE;
    r->eiinfo.hf_info.hfinfo.display = BASE_NONE;
    HFILL_INIT(r->eiinfo.hf_info);
}

static void render_findings(render_ctx *rc, proto_tree *tree, tvbuff_t *etvb,
                            const pl_elem *e)
{
    const pl_state *st = g_state;
    const uint32_t *order;
    size_t n = pl_elem_findings(st, e, &order);
    for (size_t i = 0; i < n; i++) {
        const pl_finding *f = &st->findings[order[i]];
        const char *sev = at_severity_name((at_severity)f->severity);
        gint off = 0, len = 0;
        if (etvb && f->dir == pl_elem_dir(e) && f->off >= e->off && f->off - e->off < e->len) {
            off = (gint)(f->off - e->off);
            len = 1;
        }
        tvbuff_t *t = etvb ? etvb : payload_tvb(rc);
        proto_item *fi;
        proto_tree *ft = proto_tree_add_subtree_format(tree, t, off, len, ett_finding, &fi,
                                                       "Finding: %s %s", sev, f->rule);
        proto_tree_add_string(ft, hf_finding_rule, t, off, len, f->rule);
        proto_tree_add_string(ft, hf_finding_severity, t, off, len, sev);
        proto_tree_add_uint(ft, hf_finding_dir, t, off, len, f->dir);
        proto_tree_add_uint64_format_value(ft, hf_finding_offset, t, off, len, f->off,
                                           "%s+%" PRIu64,
                                           f->dir == AT_DIR_TE_TO_ME ? "TE" : "ME", f->off);
        proto_tree_add_string(ft, hf_finding_what, t, off, len, f->what);
        if (f->fix[0])
            proto_tree_add_string(ft, hf_finding_fix, t, off, len, f->fix);
        proto_tree_add_expert_format(ft, rc->pinfo, ei_for_finding(f), t, off, len,
                                     "%s: %s", f->rule, f->what);
        info_sep(rc->info, " ");
        info_add(rc->info, "[");
        info_add(rc->info, sev);
        info_add(rc->info, " ");
        info_add(rc->info, f->rule);
        info_add(rc->info, "]");
        tap_add(rc->tap, TAP_NODE_FINDING, f->rule);
    }
}

/* ------------------------------------------------------------------ */
/* Frames                                                             */
/* ------------------------------------------------------------------ */

static const char *sig_summary(const at_frame *f, const pl_frame *d)
{
    if (!at_frame_find(f, AT_PARAM_SIGNATURE))
        return "unsigned";
    if (!d || !d->sig_checked || !d->sig_base64_ok || !d->sig_key_len)
        return "signature not checked";
    return d->sig_matches ? "signature ok" : "signature mismatch";
}

static const char *digest_name(size_t len)
{
    return len == 20 ? "sha1" : len == 32 ? "sha256" : "unknown";
}

static void cert_summary_fields(proto_tree *tree, tvbuff_t *vtvb, const pl_frame *s)
{
    proto_tree_add_uint(tree, hf_cert_size, vtvb, 0, 0, s->cert_size);
    proto_tree_add_string(tree, hf_cert_issuer, vtvb, 0, 0, s->issuer);
    proto_tree_add_string(tree, hf_cert_serial, vtvb, 0, 0, s->serial);
    proto_tree_add_string(tree, hf_cert_subject, vtvb, 0, 0, s->subject);
    proto_tree_add_string(tree, hf_cert_sigalg, vtvb, 0, 0, s->sig_alg);
    proto_tree_add_string(tree, hf_cert_thumbprint, vtvb, 0, 0, s->thumbprint);
    char d[16];
    snprintf(d, sizeof d, "%04d-%02d-%02d", s->expiry_year % 10000, s->expiry_month % 100,
             s->expiry_day % 100);
    proto_tree_add_string(tree, hf_cert_expiry, vtvb, 0, 0, d);
    proto_tree_add_string_format_value(tree, hf_cert_key, vtvb, 0, 0, s->pub_type, "%s %d",
                                       s->pub_type, s->pub_bits);
}

static void render_frame(render_ctx *rc, proto_tree *tree, tvbuff_t *etvb, const pl_elem *e)
{
    const pl_state *st = g_state;
    const pl_frame *d = pl_elem_frame(st, e);
    at_frame f;
    const uint8_t *p = rc->raw;
    if (!p) {
        proto_tree_add_expert(tree, rc->pinfo, &ei_not_decoded, payload_tvb(rc), 0, 0);
        return;
    }
    /* With the limits the session decoded it with (they follow the
     * analyzer's profile guess), not those configured. */
    const at_profile *profile = d ? at_profile_get((at_profile_id)d->profile) : st->cfg.profile;
    if (pl_elem_dir(e) == AT_DIR_ME_TO_TE)
        at_frame_decode_response(p, e->len, e->off, profile, &f);
    else
        at_frame_decode(p, e->len, e->off, profile, &f);

    const char *cmd = at_cmd_name(f.cmd_id);
    {
        const at_frame_unit *cu = at_frame_find(&f, AT_PARAM_CERT);
        char idx[24] = "", cert[40] = "";
        if (f.has_index)
            snprintf(idx, sizeof idx, " index %u", f.index);
        if (cu)
            snprintf(cert, sizeof cert, ", certificate %u B", cu->value_len);
        info_sep(rc->info, ", ");
        info_addf(rc->info, "%s %s%s%s%s, %s", arrow(e), cmd ? cmd : "frame", idx, cert,
                  at_frame_find(&f, AT_PARAM_KEY) ? ", key" : "", sig_summary(&f, d));
        if (f.n_problems)
            info_addf(rc->info, " (%u problem%s)", f.n_problems, f.n_problems == 1 ? "" : "s");
    }
    if (!tree)
        goto problems;

    add_uint_span(tree, hf_frame_totallen, etvb, e, f.total_len_span, f.total_len);
    add_uint_span(tree, hf_frame_cmdid, etvb, e, f.cmd_id_span, f.cmd_id);
    add_uint_span(tree, hf_frame_paramnum, etvb, e, f.param_num_span, f.param_num);
    for (unsigned i = 0; i < f.n_units; i++) {
        const at_frame_unit *u = &f.units[i];
        const char *name = at_param_name(u->param_id);
        proto_tree *ut = proto_tree_add_subtree_format(
            tree, etvb, rel(e, u->span.off, etvb), rel_len(e, u->span.off, u->span.len, etvb),
            ett_unit, NULL, "Unit %u: %s, ParamLen %u", i + 1, name ? name : "unknown",
            u->param_len);
        add_uint_span(ut, hf_unit_paramlen, etvb, e, u->len_span, u->param_len);
        add_uint_span(ut, hf_unit_paramid, etvb, e, u->id_span, u->param_id);
        gint vo = rel(e, u->value_span.off, etvb);
        gint vl = rel_len(e, u->value_span.off, u->value_len, etvb);
        bool first_of_id = u->param_id <= AT_PARAM_ID_MAX_ && f.unit_of[u->param_id] == (int)i;
        size_t slen = u->value_len;
        if (u->value && memchr(u->value, 0, u->value_len))
            slen = (size_t)((const uint8_t *)memchr(u->value, 0, u->value_len) - u->value);
        switch (u->param_id) {
        case AT_PARAM_INDEX:
            if (first_of_id && f.has_index)
                proto_tree_add_uint(ut, hf_frame_index, etvb, vo, vl, f.index);
            else
                proto_tree_add_bytes(ut, hf_unit_value, etvb, vo, vl,
                                     (const guint8 *)shown(rc, u->value));
            break;
        case AT_PARAM_CERT: {
            proto_tree *ct = proto_tree_add_subtree_format(
                ut, etvb, vo, vl, ett_cert, NULL, "Certificate, %u bytes", u->value_len);
            if (first_of_id && d && d->has_cert && d->cert_ok) {
                cert_summary_fields(ct, etvb, d);
                /* Wireshark's own X.509 dissection: every extension. */
                if (ber_oid_table && vl > 0 &&
                    (pref_show_secrets || !secret_overlaps(e, u->value_span.off, vl))) {
                    tvbuff_t *ctvb = tvb_new_subset_length(etvb, vo, vl);
                    dissector_try_string(ber_oid_table, "2.5.4.36", ctvb, rc->pinfo, ct,
                                         NULL);
                }
            } else {
                proto_tree_add_uint(ct, hf_cert_size, etvb, vo, vl, u->value_len);
                if (d && first_of_id && d->cert_error[0])
                    proto_tree_add_expert_format(ct, rc->pinfo, &ei_not_decoded, etvb, vo, vl,
                                                 "Not a certificate: %s", d->cert_error);
            }
            break;
        }
        case AT_PARAM_KEY:
            /* Size and type only: the bytes are the client's private key. */
            proto_tree_add_uint(ut, hf_key_size, etvb, vo, vl, u->value_len);
            if (first_of_id && d && d->has_key && d->key_ok) {
                proto_tree_add_string(ut, hf_key_type, etvb, vo, vl, d->key_type);
                proto_tree_add_uint(ut, hf_key_bits, etvb, vo, vl, (guint32)d->key_bits);
                if (d->has_cert && d->cert_ok)
                    proto_tree_add_boolean(ut, hf_key_matches_cert, etvb, vo, vl,
                                           d->key_matches_cert);
            }
            /* The core marks every key unit's value secret: shown only
             * when asked (or when the core withholds none of it). */
            if (vl > 0 && (pref_show_secrets || !secret_overlaps(e, u->value_span.off, vl)))
                proto_tree_add_item(ut, hf_unit_value, etvb, vo, vl, ENC_NA);
            break;
        case AT_PARAM_IMEI:
            add_text(ut, hf_frame_imei, etvb, vo, vl, shown(rc, u->value), slen, rc->pinfo);
            break;
        case AT_PARAM_SIGNATURE:
            if (f.sig_kind == AT_SIG_BASE64)
                add_text(ut, hf_sig_text, etvb, vo, vl, shown(rc, u->value), slen, rc->pinfo);
            else
                proto_tree_add_bytes(ut, hf_unit_value, etvb, vo, vl,
                                     (const guint8 *)shown(rc, u->value));
            if (first_of_id && d && d->sig_checked && d->sig_base64_ok && d->sig_key_len) {
                proto_tree_add_boolean(ut, hf_sig_checked, etvb, vo, vl, TRUE);
                proto_tree_add_boolean(ut, hf_sig_matches, etvb, vo, vl, d->sig_matches);
                if (d->sig_recovered)
                    proto_tree_add_string(ut, hf_sig_digest, etvb, vo, vl,
                                          digest_name(d->sig_digest_len));
                if (d->verify_source)
                    proto_tree_add_string(ut, hf_sig_key_source, etvb, vo, vl,
                                          d->verify_source);
            } else if (first_of_id) {
                proto_tree_add_boolean(ut, hf_sig_checked, etvb, vo, vl, FALSE);
            }
            break;
        case AT_PARAM_THUMBPRINT:
        case AT_PARAM_MODE:
            add_text(ut, hf_unit_text, etvb, vo, vl, shown(rc, u->value), slen, rc->pinfo);
            break;
        default:
            proto_tree_add_bytes(ut, hf_unit_value, etvb, vo, vl,
                                     (const guint8 *)shown(rc, u->value));
            break;
        }
    }
    if (f.bytes_present > f.span.len)
        proto_tree_add_uint(tree, hf_frame_trailing, etvb, (gint)f.span.len,
                            rel_len(e, f.span.off + f.span.len, f.bytes_present - f.span.len,
                                    etvb),
                            f.bytes_present - f.span.len);
problems:
    for (unsigned i = 0; i < f.n_problems; i++) {
        const at_frame_problem *pr = &f.problems[i];
        unsigned code = (unsigned)pr->code;
        gint po = rel(e, pr->off, etvb);
        gint pl = etvb && pr->off - e->off < e->len ? 1 : 0;
        proto_item *pi = proto_tree_add_string_format_value(
            tree, hf_frame_problem, etvb ? etvb : payload_tvb(rc), po, pl,
            at_frame_problem_name(pr->code),
            "%s (detail %u)", at_frame_problem_name(pr->code), pr->detail);
        if (code >= 1 && code <= AT_FP_LAST)
            expert_add_info_format(rc->pinfo, pi, &ei_problem[code], "%s: %s",
                                   at_frame_problem_name(pr->code),
                                   at_frame_problem_text(pr->code));
    }
}

/* ------------------------------------------------------------------ */
/* Elements                                                           */
/* ------------------------------------------------------------------ */

static const char *elem_source_name(const pl_elem *e)
{
    switch (pl_elem_kind(e)) {
    case AT_EV_FRAME: return "Reassembled frame";
    case AT_EV_INVALID: return "Reassembled invalid bytes";
    default: return "Reassembled line";
    }
}

/* The element's bytes: inside this record, or its copy (then also a
 * data source of its own). Sets rc->raw/shown/view_len. With @p want_tvb,
 * bytes inside the record get a tvb too; without a tree no item needs
 * one. */
static tvbuff_t *elem_tvb(render_ctx *rc, const pl_elem *e, bool want_tvb)
{
    const pl_packet *pkt = rc->pkt;
    rc->raw = rc->shown = NULL;
    rc->view_len = 0;
    if (e->len == 0)
        return NULL;
    const uint8_t *raw = NULL;
    tvbuff_t *t = NULL;
    bool inside = pl_elem_dir(e) == rc->dir && rc->payload && e->off >= pkt->off &&
                  e->off - pkt->off + e->len <= rc->plen;
    if (inside) {
        raw = rc->payload + (e->off - pkt->off);
        if (want_tvb)
            t = rc->tvb ? tvb_new_subset_length(rc->tvb, (gint)(e->off - pkt->off), (gint)e->len)
                        : tvb_new_subset_length(rc->rec, rc->poff + (gint)(e->off - pkt->off),
                                                (gint)e->len);
    } else {
        raw = pl_elem_copy(g_state, e);
        if (!raw)
            return NULL;
    }
    const uint8_t *show = raw;
    const pl_secret *secrets;
    size_t n_secrets = pl_elem_secrets(g_state, e, &secrets);
    if (n_secrets && !pref_show_secrets) {
        /* Private-key bytes are shown as '*' (the GUI's packet bytes pane
         * still shows the record as captured). */
        uint8_t *m = wmem_memdup(rc->pinfo->pool, raw, e->len);
        for (size_t i = 0; i < n_secrets; i++) {
            const pl_secret *r = &secrets[i];
            uint64_t from = r->off > e->off ? r->off : e->off;
            uint64_t to = r->off + r->len < e->off + e->len ? r->off + r->len : e->off + e->len;
            if (from < to)
                memset(m + (from - e->off), '*', (size_t)(to - from));
        }
        show = m;
    }
    /* A data source even without a tree: tshark -x prints them all. */
    if (!inside) {
        t = tvb_new_child_real_data(rc->tvb ? rc->tvb : rc->rec, show, e->len, (gint)e->len);
        add_new_data_source(rc->pinfo, t, elem_source_name(e));
    }
    rc->raw = raw;
    rc->shown = show;
    rc->view_len = e->len;
    return t;
}

/* One element as render_elem lays it out; the parts below fill it in. */
typedef struct elem_view {
    const pl_elem *e;
    at_event_kind kind;
    tvbuff_t *etvb;     /* the element's bytes; NULL when it has none here */
    tvbuff_t *ztvb;     /* for items without bytes of their own */
    proto_item *item;   /* NULL without a tree */
    proto_tree *tree;   /* its subtree, NULL without a tree */
    const char *text;   /* the exact bytes (parsers read these), or NULL */
    const uint8_t *vis; /* what is shown of them (key runs masked) */
    size_t len;         /* of text: 0 when there are no bytes */
    info_buf *lbl;      /* the item's label, set once at the end */
} elem_view;

/* The element's item and what every element has under it: offset,
 * length, exchange, first record of a spanning element, "incomplete". */
static void elem_item(render_ctx *rc, proto_tree *tree, elem_view *v)
{
    const pl_elem *e = v->e;
    if (tree) {
        /* What the label says is there for filters and `-T fields` only
         * (hidden items): every visible line costs tshark -V time. */
        v->item = proto_tree_add_string(tree, hf_element, v->ztvb, 0,
                                        v->etvb ? (gint)e->len : 0, at_event_kind_name(v->kind));
        v->tree = proto_item_add_subtree(v->item, ett_element);
        info_add(v->lbl, arrow(e));
        info_add(v->lbl, " ");
        info_add(v->lbl, at_event_kind_name(v->kind));
        proto_item_set_hidden(proto_tree_add_uint64(v->tree, hf_offset, v->ztvb, 0, 0, e->off));
        proto_item_set_hidden(proto_tree_add_uint(v->tree, hf_length, v->ztvb, 0, 0, e->len));
        if (e->exchange)
            proto_item_set_hidden(
                proto_tree_add_uint(v->tree, hf_exchange, v->ztvb, 0, 0, e->exchange));
        if (e->flags & PL_EF_SPANS) {
            uint32_t first = pl_elem_first_frame(g_state, e);
            if (first != e->frame_done)
                proto_item_set_generated(
                    proto_tree_add_uint(v->tree, hf_first_frame, v->ztvb, 0, 0, first));
        }
    }
    if (e->flags & PL_EF_INCOMPLETE)
        proto_tree_add_expert_format(v->tree, rc->pinfo, &ei_incomplete, v->ztvb, 0, 0,
                                     "Incomplete %s (%s)", at_event_kind_name(v->kind),
                                     at_tok_reason_name(pl_elem_reason(e)));
}

/* The private-key runs inside the element: where and how long, never
 * their bytes (the element's own view masks those). */
static void elem_secret_runs(const elem_view *v)
{
    const pl_elem *e = v->e;
    const pl_secret *secrets;
    size_t n_secrets = v->tree ? pl_elem_secrets(g_state, e, &secrets) : 0;
    for (size_t i = 0; i < n_secrets; i++) {
        const pl_secret *r = &secrets[i];
        uint64_t from = r->off > e->off ? r->off : e->off;
        uint64_t to = r->off + r->len < e->off + e->len ? r->off + r->len : e->off + e->len;
        if (from >= to)
            continue;
        const char *k = at_secret_kind_name((at_secret_kind)r->kind);
        gint at = rel(e, from, v->etvb), n = rel_len(e, from, to - from, v->etvb);
        proto_tree *sk = proto_tree_add_subtree_format(
            v->tree, v->ztvb, at, n, ett_unit, NULL, "Private-key bytes (%s), %u bytes%s", k,
            (unsigned)(to - from), pref_show_secrets ? "" : ": not shown");
        proto_tree_add_string(sk, hf_secret_kind, v->ztvb, at, n, k);
        proto_tree_add_uint(sk, hf_secret_size, v->ztvb, at, n, (guint32)(to - from));
    }
}

/* A command line: the line, then each command with its type and
 * parameters as the core parses them. */
static void elem_command(render_ctx *rc, const elem_view *v)
{
    info_line(rc->info, true, v->vis, v->len);
    label_line(v->item, v->lbl, v->vis, v->len);
    if (!v->text)
        return;
    if (v->tree)
        add_text(v->tree, hf_cmd, v->etvb, 0, (gint)v->len, (const char *)v->vis, v->len,
                 rc->pinfo);
    if (!v->tree && !rc->tap)
        return;
    at_cmdline cl;
    uint64_t err;
    if (at_parse_cmdline(v->text, v->len, v->e->off, &cl, &err) != AT_OK)
        return;
    for (unsigned i = 0; i < cl.n_cmds; i++) {
        const at_command *c = &cl.cmds[i];
        proto_item *ci = add_str(v->tree, hf_cmd_name, v->etvb, v->e, &c->name, rc);
        proto_tree *ct = proto_item_add_subtree(ci, ett_cmd);
        proto_tree_add_string(ct, hf_cmd_type, v->ztvb, 0, 0, at_cmd_type_name(c->type));
        for (unsigned k = 0; k < c->n_params; k++)
            add_str(ct, hf_cmd_param, v->etvb, v->e, &c->params[k], rc);
        /* The label only when a tap listens: formatting it costs. */
        if (i == 0 && c->name.ptr && rc->tap)
            tap_add(rc->tap, TAP_NODE_COMMAND,
                    wmem_strdup_printf(rc->pinfo->pool, "AT%.*s", (int)c->name.len,
                                       c->name.ptr));
    }
}

/* The end of an exchange: its final line if it has one, and what the
 * core decided of the exchange (duration, reason, request, result). */
static void elem_end(render_ctx *rc, const elem_view *v)
{
    const pl_elem *e = v->e;
    const pl_end *end = pl_elem_end(g_state, e);
    if (v->text) {
        if (v->tree) {
            add_text(v->tree, hf_result, v->etvb, 0, (gint)v->len, (const char *)v->vis, v->len,
                     rc->pinfo);
            line_details(v->tree, v->etvb, e, rc, v->text, v->len, false);
        }
        info_line(rc->info, false, v->vis, v->len);
        label_line(v->item, v->lbl, v->vis, v->len);
    }
    if (!end)
        return;
    if (v->tree) {
        nstime_t t;
        t.secs = (time_t)(end->duration_ns / 1000000000u);
        t.nsecs = (int)(end->duration_ns % 1000000000u);
        proto_item_set_generated(proto_tree_add_time(v->tree, hf_duration, v->ztvb, 0, 0, &t));
        /* The usual end (a final result) goes without saying. */
        proto_item *ri = proto_tree_add_string(v->tree, hf_end_reason, v->ztvb, 0, 0,
                                               at_end_reason_name((at_end_reason)end->reason));
        if (end->reason == AT_END_RESULT)
            proto_item_set_hidden(ri);
        else
            proto_item_set_generated(ri);
        if (end->command_frame)
            proto_item_set_generated(
                proto_tree_add_uint(v->tree, hf_request_in, v->ztvb, 0, 0, end->command_frame));
        if (end->secure && end->secure_result != AT_SEC_NONE)
            proto_item_set_generated(proto_tree_add_string(
                v->tree, hf_secure_result, v->ztvb, 0, 0,
                at_secure_result_name((at_secure_result)end->secure_result)));
    }
    if (rc->tap) {
        if (end->secure && end->secure_result != AT_SEC_NONE)
            tap_add(rc->tap, TAP_NODE_SECURE,
                    at_secure_result_name((at_secure_result)end->secure_result));
        tap_add(rc->tap, TAP_NODE_RESULT,
                end->has_final ? at_result_name((at_result_kind)end->final_kind)
                               : wmem_strdup_printf(rc->pinfo->pool, "none (%s)",
                                                    at_end_reason_name(
                                                        (at_end_reason)end->reason)));
    }
    if (!v->text) {
        info_sep(rc->info, ", ");
        info_addf(rc->info, "[exchange %u: %s]", e->exchange,
                  at_end_reason_name((at_end_reason)end->reason));
    }
}

/* The label's end: direction, stream offset and exchange. */
static void elem_label(const elem_view *v)
{
    const pl_elem *e = v->e;
    info_add(v->lbl, pl_elem_dir(e) == AT_DIR_TE_TO_ME ? " (TE+" : " (ME+");
    info_num(v->lbl, e->off);
    if (e->exchange) {
        info_add(v->lbl, ", exchange ");
        info_num(v->lbl, e->exchange);
    }
    info_add(v->lbl, ")");
    set_label(v->item, v->lbl);
}

static void render_elem(render_ctx *rc, proto_tree *tree, const pl_elem *e)
{
    char lmem[ITEM_LABEL_LENGTH];
    info_buf lbl;
    info_init(&lbl, tree ? lmem : NULL, sizeof lmem); /* no tree: no label */
    elem_view v = {.e = e, .kind = pl_elem_kind(e), .lbl = &lbl};
    v.etvb = elem_tvb(rc, e, tree != NULL);
    v.ztvb = v.etvb ? v.etvb : payload_tvb(rc);
    v.text = (const char *)rc->raw;
    v.len = rc->raw ? e->len : 0;
    v.vis = rc->raw ? (const uint8_t *)shown(rc, rc->raw) : NULL;
    elem_item(rc, tree, &v);
    elem_secret_runs(&v);

    switch (v.kind) {
    case AT_EV_COMMAND:
        elem_command(rc, &v);
        break;
    case AT_EV_ECHO:
        info_line(rc->info, false, v.vis, v.len);
        info_add(rc->info, " (echo)");
        label_line(v.item, &lbl, v.vis, v.len);
        if (v.text && v.tree)
            add_text(v.tree, hf_echo, v.etvb, 0, (gint)v.len, (const char *)v.vis, v.len,
                     rc->pinfo);
        break;
    case AT_EV_RESPONSE:
    case AT_EV_INTERMEDIATE:
    case AT_EV_SECURE_RESULT:
    case AT_EV_URC:
    case AT_EV_UNEXPECTED: {
        int hf = v.kind == AT_EV_URC ? hf_urc : v.kind == AT_EV_UNEXPECTED ? hf_unexpected
                                                                           : hf_resp;
        info_line(rc->info, pl_elem_dir(e) == AT_DIR_TE_TO_ME, v.vis, v.len);
        label_line(v.item, &lbl, v.vis, v.len);
        if (v.text && v.tree) {
            add_text(v.tree, hf, v.etvb, 0, (gint)v.len, (const char *)v.vis, v.len, rc->pinfo);
            line_details(v.tree, v.etvb, e, rc, v.text, v.len, v.kind == AT_EV_URC);
        }
        break;
    }
    case AT_EV_FRAME:
        render_frame(rc, v.tree, v.etvb, e);
        break;
    case AT_EV_PAYLOAD:
    case AT_EV_TRANSPARENT:
        info_sep(rc->info, ", ");
        info_add(rc->info, arrow(e));
        info_add(rc->info, v.kind == AT_EV_PAYLOAD ? " payload " : " transparent data ");
        info_num(rc->info, e->len);
        info_add(rc->info, " B");
        proto_tree_add_uint(v.tree, hf_payload_len, v.ztvb, 0, v.etvb ? (gint)e->len : 0,
                            e->len);
        break;
    case AT_EV_END:
        elem_end(rc, &v);
        break;
    case AT_EV_INVALID:
        info_sep(rc->info, ", ");
        info_add(rc->info, "[invalid: ");
        info_add(rc->info, at_tok_reason_name(pl_elem_reason(e)));
        info_add(rc->info, "]");
        proto_tree_add_string(v.tree, hf_invalid, v.ztvb, 0, v.etvb ? (gint)e->len : 0,
                              at_tok_reason_name(pl_elem_reason(e)));
        break;
    }
    if (v.item)
        elem_label(&v);
    render_findings(rc, v.tree, v.etvb, e);
}

/* ------------------------------------------------------------------ */
/* The dissector                                                      */
/* ------------------------------------------------------------------ */

static int * const line_bits[] = {
    &hf_line_rts, &hf_line_cts, &hf_line_dtr, &hf_line_dsr, &hf_line_dcd, &hf_line_ri,
    &hf_line_unknown, NULL,
};
static int * const flag_bits[] = {&hf_flags_missing, NULL};

PL_COLD static void render_trace_event(packet_info *pinfo, proto_tree *tree, tvbuff_t *tvb,
                               const at_uart_header *h, int poff, int plen, info_buf *info)
{
    info_sep(info, ", ");
    switch (h->event) {
    case AT_TEV_NOTE:
    case AT_TEV_SETTINGS: {
        const char *s = (const char *)tvb_get_string_enc(pinfo->pool, tvb, poff, plen,
                                                         ENC_ASCII);
        proto_tree_add_string(tree, h->event == AT_TEV_NOTE ? hf_note : hf_settings, tvb,
                              poff, plen, s);
        info_addf(info, "%s: %s", at_trace_event_name(h->event), s);
        break;
    }
    case AT_TEV_OVERRUN:
        if (plen >= 4) {
            proto_tree_add_item(tree, hf_lost, tvb, poff, 4, ENC_BIG_ENDIAN);
            info_addf(info, "overrun: %u bytes lost", tvb_get_ntohl(tvb, poff));
        } else {
            info_add(info, "overrun: bytes lost");
        }
        break;
    case AT_TEV_FRAMING_ERROR:
    case AT_TEV_PARITY_ERROR:
        if (plen > 0)
            proto_tree_add_item(tree, hf_error_bytes, tvb, poff, plen, ENC_NA);
        info_add(info, at_trace_event_name(h->event));
        break;
    default:
        info_add(info, at_trace_event_name(h->event));
        break;
    }
}

/*
 * The pseudo-header's fields are hidden items (filters and `-T fields` see
 * them; Wireshark shows them with the "Display hidden protocol items"
 * preference); the protocol line says what they hold. Fourteen visible
 * lines on every record made tshark -V print twice as much per packet.
 * The line-state bits are decoded where they are news (a line_change
 * record) and the flag bits when a flag is set; elsewhere the two words
 * alone are there (`attrace.line & 0x0001` filters RTS on any record).
 */
static void render_header(proto_tree *at, tvbuff_t *tvb, const at_uart_header *h, bool have_dir,
                          at_dir dir)
{
    if (have_dir)
        proto_item_set_hidden(proto_tree_add_uint(at, hf_dir, tvb, 0, 0, dir));
    proto_item_set_hidden(proto_tree_add_uint(at, hf_version, tvb, 0, 1, h->version));
    proto_item_set_hidden(proto_tree_add_uint(at, hf_event, tvb, 1, 1, (guint32)h->event));
    proto_item_set_hidden(proto_tree_add_uint(at, hf_channel, tvb, 2, 2, h->channel));
    if (h->event == AT_TEV_LINE_CHANGE)
        proto_tree_add_bitmask(at, tvb, 4, hf_line, ett_line, line_bits, ENC_BIG_ENDIAN);
    else
        proto_item_set_hidden(proto_tree_add_uint(at, hf_line, tvb, 4, 2, h->line_state));
    if (h->flags)
        proto_tree_add_bitmask(at, tvb, 6, hf_flags, ett_line, flag_bits, ENC_BIG_ENDIAN);
    else
        proto_item_set_hidden(proto_tree_add_uint(at, hf_flags, tvb, 6, 2, h->flags));
    proto_item_set_hidden(proto_tree_add_uint(at, hf_baud, tvb, 8, 4, h->baud));
}

/*
 * The exported-PDU dissector adds its field over the record
 * (exported_pdu.exported_pdu) before it calls this one: a copy of the
 * record as captured, whose tree line shows its first bytes (key bytes,
 * when the record starts inside a key) and which -T fields, -T json and
 * -T pdml print whole. For a record holding key bytes the field is made
 * to show the redacted record: its value and the bytes it points at.
 * Wireshark 4.0's proto.h and ftypes.h lay out both (an FT_BYTES value
 * owns its copy of the bytes); another Wireshark leaves the field as it is.
 */
PL_COLD static void redact_exported_pdu(proto_tree *tree, tvbuff_t *redacted, const uint8_t *raw,
                                        const uint8_t *masked, size_t reclen)
{
#if ATTRACE_WS_MAJOR == 4 && ATTRACE_WS_MINOR == 0
    if (!tree || hf_exported_pdu_record < 0)
        return;
    GPtrArray *found = proto_find_first_finfo(tree, hf_exported_pdu_record);
    field_info *fi = found->len ? g_ptr_array_index(found, 0) : NULL;
    g_ptr_array_free(found, TRUE);
    /* Only the field over this very record, as the dissector added it. */
    if (!fi || fi->hfinfo->type != FT_BYTES || fi->length != (gint)reclen)
        return;
    GByteArray *value = fi->value.value.bytes;
    if (!value || value->len != reclen || memcmp(value->data, raw, reclen) != 0)
        return;
    memcpy(value->data, masked, reclen);
    fi->ds_tvb = redacted;
    fi->start = tvb_raw_offset(redacted); /* where an add at its offset 0 puts it */
#else
    (void)tree;
    (void)redacted;
    (void)raw;
    (void)masked;
    (void)reclen;
#endif
}

/* The record being redacted, copied when a run first reaches its payload. */
typedef struct record_mask {
    packet_info *pinfo;
    const uint8_t *raw;
    size_t reclen, poff;
    uint64_t off, end; /* the payload's stream offsets */
    uint8_t *masked;
} record_mask;

/* '*' over the bytes of the run [off, off + len) that lie in the payload. */
static void mask_run(record_mask *m, uint64_t off, uint64_t len)
{
    uint64_t from = off > m->off ? off : m->off;
    uint64_t to = off + len < m->end ? off + len : m->end;
    if (from >= to)
        return;
    if (!m->masked)
        m->masked = wmem_memdup(m->pinfo->pool, m->raw, m->reclen);
    memset(m->masked + m->poff + (from - m->off), '*', (size_t)(to - from));
}

/*
 * The record with the private-key runs the core found in its payload
 * replaced by '*', as a data source of its own ("Redacted record") that
 * the items point into, the protocol item too, so that clicking a field
 * highlights no key byte and no output prints one for the item's bytes
 * (tshark -T json -x prints attrace_raw); returns it, or NULL when the
 * record holds no key byte. Wireshark still shows the record as captured
 * in the frame's own bytes. In a single pass, the runs known when the
 * record was fed stand in for those of elements it does not complete.
 */
PL_COLD static tvbuff_t *redacted_record(packet_info *pinfo, proto_tree *tree, tvbuff_t *parent,
                                         pl_chan *ch, at_dir dir, const pl_packet *pkt,
                                         const uint8_t *raw, int poff, size_t plen)
{
    const pl_state *st = g_state;
    size_t a, b;
    pl_state_overlap(ch, dir, pkt->off, plen, &a, &b);
    size_t reclen = (size_t)poff + plen;
    record_mask m = {pinfo, raw, reclen, (size_t)poff, pkt->off, pkt->off + plen, NULL};
    for (size_t i = a; i < b; i++) {
        const pl_secret *runs;
        size_t n = pl_elem_secrets(st, &st->elems[ch->by_dir[dir][i]], &runs);
        for (size_t k = 0; k < n; k++)
            mask_run(&m, runs[k].off, runs[k].len);
    }
    /* Shown as it is fed (one pass): the runs of elements still open. */
    for (unsigned k = 0; k < pkt->n_fresh; k++)
        mask_run(&m, pkt->fresh[k].span.off, pkt->fresh[k].span.len);
    uint8_t *masked = m.masked;
    if (!masked)
        return NULL;
    tvbuff_t *t = tvb_new_child_real_data(parent, masked, (guint)reclen, (gint)reclen);
    add_new_data_source(pinfo, t, "Redacted record");
    redact_exported_pdu(tree, t, raw, masked, reclen);
    return t;
}

/* The protocol line: "attrace, ME->TE, channel 0, data, ME+48, 11 bytes",
 * built at once (it is on every packet). */
static void label_record(proto_item *ti, const at_uart_header *h, bool have_dir, at_dir dir,
                         const pl_packet *pkt, int plen)
{
    if (!ti)
        return;
    char mem[ITEM_LABEL_LENGTH];
    info_buf b;
    info_init(&b, mem, sizeof mem);
    info_add(&b, "attrace, ");
    info_add(&b, have_dir ? at_dir_name(dir) : "?");
    info_add(&b, ", channel ");
    info_num(&b, h->channel);
    info_add(&b, ", ");
    info_add(&b, at_trace_event_name(h->event));
    if (pkt && h->event == AT_TEV_DATA) {
        info_add(&b, dir == AT_DIR_TE_TO_ME ? ", TE+" : ", ME+");
        info_num(&b, pkt->off);
        info_add(&b, ", ");
        info_num(&b, (uint64_t)plen);
        info_add(&b, plen == 1 ? " byte" : " bytes");
    }
    set_label(ti, &b);
}

PL_COLD static void render_bad_header(packet_info *pinfo, proto_tree *at, tvbuff_t *tvb,
                                      const at_uart_header *h, at_uart_status hs,
                                      info_buf *info)
{
    proto_tree_add_expert_format(at, pinfo, &ei_bad_header, tvb, 0, -1,
                                 hs == AT_UART_SHORT ? "UART pseudo-header cut short"
                                 : hs == AT_UART_BAD_VERSION
                                     ? "UART pseudo-header version %u is not supported"
                                     : "Event type %u is not defined",
                                 hs == AT_UART_BAD_VERSION ? h->version : (unsigned)h->event);
    info_add(info, "[bad UART pseudo-header]");
}

static int dissect_uart_record(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, info_buf *info)
{
    guint caplen = tvb_captured_length(tvb);
    const guint8 *raw = tvb_get_ptr(tvb, 0, (gint)caplen);
    at_uart_header h;
    at_uart_status hs = at_uart_header_parse(raw, caplen, &h);
    if (hs != AT_UART_OK) {
        proto_item *ti = proto_tree_add_item(tree, proto_attrace, tvb, 0, -1, ENC_NA);
        render_bad_header(pinfo, proto_item_add_subtree(ti, ett_attrace), tvb, &h, hs, info);
        return (int)caplen;
    }
    bool have_dir = pinfo->p2p_dir == P2P_DIR_SENT || pinfo->p2p_dir == P2P_DIR_RECV;
    at_dir dir = pinfo->p2p_dir == P2P_DIR_RECV ? AT_DIR_ME_TO_TE : AT_DIR_TE_TO_ME;
    int poff = (int)AT_TRACE_UART_HEADER_LEN;
    int plen = (int)caplen - poff;

    /* First pass: the core sees the record; later passes only render.
     * Nothing is stored with the packet: the file's tables know it by
     * its number. */
    pl_state *st = have_dir ? g_state : NULL;
    bool first_pass = st && !pinfo->fd->visited && !pl_state_seen(st, pinfo->num);
    pl_packet pk;
    bool known = st && (first_pass
                            ? pl_state_record(st, pinfo->num, dir, &h,
                                              (uint64_t)pinfo->abs_ts.secs * 1000000000u +
                                                  (uint64_t)pinfo->abs_ts.nsecs,
                                              raw + poff, (size_t)plen, &pk)
                            : pl_state_packet(st, pinfo->num, h.channel, dir, &pk));
    /* What the items point into: the record, or its redacted copy when it
     * holds key bytes. The payload's own tvb only when an item needs it
     * (payload_tvb); without a tree no item needs it at all. */
    tvbuff_t *rec = tvb;
    tvbuff_t *ptvb = tree ? NULL : tvb;
    if (known && h.event == AT_TEV_DATA && plen > 0 && !pref_show_secrets &&
        (pk.n_fresh || pl_state_has_secret(pk.chan, dir, pk.off, (uint64_t)plen))) {
        tvbuff_t *red = redacted_record(pinfo, tree, tvb, pk.chan, dir, &pk, raw, poff,
                                        (size_t)plen);
        if (red) {
            rec = red;
            ptvb = tvb_new_subset_length(red, poff, plen);
        }
    }

    proto_item *ti = tree ? proto_tree_add_item(tree, proto_attrace, rec, 0, -1, ENC_NA) : NULL;
    proto_tree *at = ti ? proto_item_add_subtree(ti, ett_attrace) : NULL;
    if (!have_dir)
        proto_tree_add_expert(at, pinfo, &ei_no_direction, rec, 0, 0);
    if (tree)
        render_header(at, rec, &h, have_dir, dir);
    if (h.flags & AT_TFLAG_BYTES_MISSING)
        proto_tree_add_expert(at, pinfo, &ei_bytes_missing, rec, 6, 2);

    if (h.event != AT_TEV_DATA)
        render_trace_event(pinfo, at, tvb, &h, poff, plen, info);
    label_record(ti, &h, have_dir, dir, known ? &pk : NULL, plen);
    if (!known)
        return (int)caplen;
    const pl_packet *pkt = &pk;
    pl_chan *ch = pkt->chan;
    tap_rec *tap = have_tap_listener(attrace_tap) ? wmem_new0(pinfo->pool, tap_rec) : NULL;
    render_ctx rc = {pinfo, tvb, poff, ptvb, raw + poff, (size_t)plen, pkt, dir,
                     info, tap, NULL, NULL, 0};
    if (h.event == AT_TEV_DATA && tree) {
        /* Hidden too: the protocol line says it. It spans the payload, and
         * outputs that print a field's bytes (PDML, JSON) print these: the
         * redacted copy when the record holds key bytes. */
        proto_item *oi = ptvb ? proto_tree_add_uint64(at, hf_stream_off, ptvb, 0, plen, pkt->off)
                              : proto_tree_add_uint64(at, hf_stream_off, tvb, poff, plen, pkt->off);
        proto_item_set_hidden(oi);
    }

    /* Elements that only pass through this record: name them and link to
     * the packet that completes them. */
    unsigned parts = 0;
    /* On the first pass every element known so far that overlaps this
     * record completed in it (its bytes end here or before): nothing to
     * link to. */
    if (h.event == AT_TEV_DATA && plen > 0 && !first_pass) {
        size_t a, b;
        pl_state_overlap(ch, dir, pkt->off, (uint64_t)plen, &a, &b);
        for (size_t i = a; i < b; i++) {
            const pl_elem *e = &st->elems[ch->by_dir[dir][i]];
            parts++;
            if (e->frame_done == pinfo->num || e->len == 0)
                continue;
            uint64_t from = e->off > pkt->off ? e->off : pkt->off;
            uint64_t to = e->off + e->len < pkt->off + (uint64_t)plen ? e->off + e->len
                                                                       : pkt->off + (uint64_t)plen;
            proto_item *pi = proto_tree_add_uint_format(
                at, hf_part_of, payload_tvb(&rc), (gint)(from - pkt->off), (gint)(to - from),
                e->frame_done,
                "Part of %s %s (%u of its %u bytes), completed in frame %u",
                arrow(e), at_event_kind_name(pl_elem_kind(e)), (unsigned)(to - from),
                e->len, e->frame_done);
            proto_item_set_generated(pi);
            info_sep(info, ", ");
            info_add(info, arrow(e));
            info_add(info, " [part of ");
            info_add(info, at_event_kind_name(pl_elem_kind(e)));
            info_add(info, ", #");
            info_num(info, e->frame_done);
            info_add(info, "]");
        }
    }
    for (uint32_t i = 0; i < pkt->n_elem; i++)
        render_elem(&rc, at, &st->elems[pkt->elem_first + i]);
    /* Bytes of an element that completes later (one pass: not known yet). */
    if (h.event == AT_TEV_DATA && plen > 0 && !pkt->n_elem && !parts) {
        info_sep(info, ", ");
        info_addn(info, dir == AT_DIR_TE_TO_ME ? "-> " : "<- ", 3);
        info_num(info, (uint64_t)plen);
        info_add(info, " bytes");
    }
    if (st->finished && ch->last_frame == pinfo->num)
        for (uint32_t i = 0; i < ch->n_fin; i++)
            render_elem(&rc, at, &st->elems[ch->fin_first + i]);

    if (tap)
        tap_queue_packet(attrace_tap, pinfo, tap);
    return (int)caplen;
}

/*
 * The Protocol and Info columns are set on every packet, and tshark's
 * col_set_str costs about 80 instructions a call (a writability check and
 * a loop over all columns). Wireshark 4.0's column_info (epan/column-info.h)
 * lets a dissector set its column directly where that is all col_set_str
 * would do: one column of that format, writable, no fence. Anything else
 * (another Wireshark, several Info columns, a fence) goes through
 * col_set_str.
 */
#if PLAIN_COLUMNS
static inline col_item_t *plain_column(column_info *ci, int fmt)
{
    if (!ci || !ci->writable)
        return NULL;
    int first = ci->col_first[fmt];
    if (first < 0 || first != ci->col_last[fmt])
        return NULL;
    col_item_t *c = &ci->columns[first];
    if (c->col_fmt != fmt || !c->fmt_matx[fmt] || !c->writable || c->col_fence != 0)
        return NULL;
    return c;
}
#endif

static int dissect_attrace(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    (void)data;
    column_info *ci = pinfo->cinfo;
    info_buf info;
    /* The Info text is written where the column reads it, not copied once
     * more; without columns (tshark -2's first pass) it is not written at
     * all. */
    info_init(&info, NULL, 0);
#if PLAIN_COLUMNS
    col_item_t *proto_col = plain_column(ci, COL_PROTOCOL);
    if (proto_col)
        proto_col->col_data = "attrace";
    else
        col_set_str(ci, COL_PROTOCOL, "attrace");
    /*
     * Without a tree the text goes into the column's own buffer (where
     * col_add_str would copy it) when the column is empty (the
     * exported_pdu dissector clears it). Meanwhile the column shows ""
     * (an exception appends to an empty column, as before). With a tree,
     * the X.509 dissection of a certificate may write the column: the
     * text is then set at the end, from the packet's pool.
     */
    col_item_t *info_col = tree ? NULL : plain_column(ci, COL_INFO);
    if (info_col && info_col->col_data && !info_col->col_data[0]) {
        info_col->col_data = "";
        info_init(&info, info_col->col_buf, COL_MAX_INFO_LEN);
    } else {
        info_col = NULL;
    }
#else
    col_set_str(ci, COL_PROTOCOL, "attrace");
#endif
    if (ci && !info.s) /* the pool lives until the columns are printed or copied */
        info_init(&info, wmem_alloc(pinfo->pool, COL_MAX_INFO_LEN), COL_MAX_INFO_LEN);
    int r = dissect_uart_record(tvb, pinfo, tree, &info);
#if PLAIN_COLUMNS
    if (info_col) {
        info_col->col_data = info_cstr(&info);
        return r;
    }
#endif
    if (info.s)
        col_set_str(ci, COL_INFO, info_cstr(&info));
    return r;
}

/* ------------------------------------------------------------------ */
/* Statistics tree: Statistics > attrace, tshark -z attrace,tree      */
/* ------------------------------------------------------------------ */

static const char *const st_nodes[] = {"Exchanges by command", "Final results",
                                       "Secure results", "Findings by rule"};
static int st_node_ids[4];

static void stats_init(stats_tree *stt)
{
    for (int i = 0; i < 4; i++)
        st_node_ids[i] = stats_tree_create_node(stt, st_nodes[i], 0, STAT_DT_INT, TRUE);
}

static tap_packet_status stats_packet(stats_tree *stt, packet_info *pinfo,
                                      epan_dissect_t *edt, const void *p, tap_flags_t flags)
{
    (void)pinfo;
    (void)edt;
    (void)flags;
    const tap_rec *t = p;
    if (!t || !t->n)
        return TAP_PACKET_DONT_REDRAW;
    for (unsigned i = 0; i < t->n; i++) {
        tick_stat_node(stt, st_nodes[t->v[i].node], 0, TRUE);
        tick_stat_node(stt, t->v[i].label, st_node_ids[t->v[i].node], FALSE);
    }
    return TAP_PACKET_REDRAW;
}

static void register_stats(void)
{
    stats_tree_register_plugin("attrace", "attrace", "attrace", 0, stats_packet, stats_init,
                               NULL);
}

/* ------------------------------------------------------------------ */
/* Registration                                                       */
/* ------------------------------------------------------------------ */

#define HF_STR(var, name, abbrev, blurb) \
    {&var, {name, abbrev, FT_STRING, BASE_NONE, NULL, 0x0, blurb, HFILL}}
#define HF_UINT(var, name, abbrev, ft, blurb) \
    {&var, {name, abbrev, ft, BASE_DEC, NULL, 0x0, blurb, HFILL}}

static void proto_register_attrace(void)
{
    static hf_register_info hf[] = {
        {&hf_dir, {"Direction", "attrace.dir", FT_UINT8, BASE_DEC, VALS(dir_vals), 0x0,
                   "0 TE->ME (host to module), 1 ME->TE", HFILL}},
        HF_UINT(hf_channel, "Channel", "attrace.channel", FT_UINT16, "Which port pair"),
        {&hf_event, {"Record event", "attrace.event", FT_UINT8, BASE_DEC, VALS(event_vals), 0x0,
                     "UART pseudo-header event type", HFILL}},
        HF_UINT(hf_version, "Pseudo-header version", "attrace.version", FT_UINT8, NULL),
        {&hf_line, {"Line state", "attrace.line", FT_UINT16, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_line_rts, {"RTS", "attrace.line.rts", FT_BOOLEAN, 16, NULL, AT_LINE_RTS, NULL, HFILL}},
        {&hf_line_cts, {"CTS", "attrace.line.cts", FT_BOOLEAN, 16, NULL, AT_LINE_CTS, NULL, HFILL}},
        {&hf_line_dtr, {"DTR", "attrace.line.dtr", FT_BOOLEAN, 16, NULL, AT_LINE_DTR, NULL, HFILL}},
        {&hf_line_dsr, {"DSR", "attrace.line.dsr", FT_BOOLEAN, 16, NULL, AT_LINE_DSR, NULL, HFILL}},
        {&hf_line_dcd, {"DCD", "attrace.line.dcd", FT_BOOLEAN, 16, NULL, AT_LINE_DCD, NULL, HFILL}},
        {&hf_line_ri, {"RI", "attrace.line.ri", FT_BOOLEAN, 16, NULL, AT_LINE_RI, NULL, HFILL}},
        {&hf_line_unknown, {"Line state unknown", "attrace.line.unknown", FT_BOOLEAN, 16, NULL,
                            AT_LINE_UNKNOWN, NULL, HFILL}},
        {&hf_flags, {"Flags", "attrace.flags", FT_UINT16, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_flags_missing, {"Bytes may be missing before this record",
                             "attrace.flags.bytes_missing", FT_BOOLEAN, 16, NULL,
                             AT_TFLAG_BYTES_MISSING, NULL, HFILL}},
        HF_UINT(hf_baud, "Baud rate", "attrace.baud", FT_UINT32, "0 = unknown"),
        HF_UINT(hf_stream_off, "Stream offset", "attrace.stream_offset", FT_UINT64,
                "Offset of this record's first byte in its direction's stream"),
        HF_STR(hf_note, "Note", "attrace.note", NULL),
        HF_STR(hf_settings, "Port settings", "attrace.settings", NULL),
        HF_UINT(hf_lost, "Bytes lost", "attrace.lost", FT_UINT32, NULL),
        {&hf_error_bytes, {"Bytes involved", "attrace.error_bytes", FT_BYTES, BASE_NONE, NULL,
                           0x0, NULL, HFILL}},
        HF_STR(hf_element, "Element", "attrace.element",
               "What the decoder made of these bytes: command, echo, response, frame, ..."),
        HF_UINT(hf_offset, "Offset", "attrace.offset", FT_UINT64,
                "Stream offset of the element's first byte"),
        HF_UINT(hf_length, "Length", "attrace.length", FT_UINT32, NULL),
        HF_UINT(hf_exchange, "Exchange", "attrace.exchange", FT_UINT32,
                "Number of the command exchange (1, 2, ...)"),
        {&hf_part_of, {"Part of an element completed in", "attrace.part_of", FT_FRAMENUM,
                       BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_first_frame, {"Element starts in", "attrace.first_frame", FT_FRAMENUM, BASE_NONE,
                           NULL, 0x0, NULL, HFILL}},
        {&hf_request_in, {"Command in", "attrace.request_in", FT_FRAMENUM, BASE_NONE,
                          FRAMENUM_TYPE(FT_FRAMENUM_REQUEST), 0x0, NULL, HFILL}},
        HF_STR(hf_cmd, "Command line", "attrace.cmd", NULL),
        HF_STR(hf_cmd_name, "Command", "attrace.cmd.name", NULL),
        HF_STR(hf_cmd_type, "Command type", "attrace.cmd.type", NULL),
        HF_STR(hf_cmd_param, "Parameter", "attrace.cmd.param", NULL),
        HF_STR(hf_echo, "Echo", "attrace.echo", NULL),
        HF_STR(hf_resp, "Response", "attrace.resp", NULL),
        HF_STR(hf_urc, "URC", "attrace.urc", NULL),
        HF_STR(hf_unexpected, "Unexpected line", "attrace.unexpected", NULL),
        HF_STR(hf_invalid, "Invalid bytes", "attrace.invalid", NULL),
        HF_STR(hf_result, "Final result", "attrace.result", NULL),
        HF_UINT(hf_result_code, "Error code", "attrace.result.code", FT_UINT32, NULL),
        HF_STR(hf_result_meaning, "Meaning", "attrace.result.meaning", NULL),
        {&hf_duration, {"Duration", "attrace.duration", FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
                        "From the command's first byte to the final result's last", HFILL}},
        HF_STR(hf_end_reason, "Exchange ended by", "attrace.end_reason", NULL),
        HF_STR(hf_secure_result, "Secure command result", "attrace.secure.result", NULL),
        HF_UINT(hf_payload_len, "Payload bytes", "attrace.payload.len", FT_UINT32, NULL),
        HF_STR(hf_imei, "IMEI", "attrace.imei", NULL),
        HF_UINT(hf_ciev_srv, "Service profile", "attrace.ciev.srv", FT_UINT32, NULL),
        HF_STR(hf_ciev_name, "Indicator", "attrace.ciev.name", NULL),
        HF_STR(hf_ciev_value, "Indicator value", "attrace.ciev.value", NULL),
        HF_UINT(hf_sis_srv, "Service profile", "attrace.sis.srv", FT_UINT32, NULL),
        HF_UINT(hf_sis_cause, "URC cause", "attrace.sis.cause", FT_UINT32, NULL),
        HF_UINT(hf_sis_info, "Info ID", "attrace.sis.info", FT_UINT32, NULL),
        HF_STR(hf_sis_text, "Info text", "attrace.sis.text", NULL),
        HF_STR(hf_sis_meaning, "Info ID meaning", "attrace.sis.meaning", NULL),
        HF_UINT(hf_sisrw_srv, "Service profile", "attrace.sisrw.srv", FT_UINT32, NULL),
        {&hf_sisrw_count, {"Byte count", "attrace.sisrw.count", FT_INT64, BASE_DEC, NULL, 0x0,
                           NULL, HFILL}},
        HF_UINT(hf_sbnr_index, "Store index", "attrace.sbnr.index", FT_UINT32, NULL),
        HF_STR(hf_sbnr_entry, "Entry", "attrace.sbnr.entry", "certificate, empty, corrupted"),
        HF_UINT(hf_cert_size, "Certificate size", "attrace.cert.size", FT_UINT32, "DER bytes"),
        HF_STR(hf_cert_issuer, "Issuer", "attrace.cert.issuer", NULL),
        HF_STR(hf_cert_subject, "Subject", "attrace.cert.subject", NULL),
        HF_STR(hf_cert_serial, "Serial number", "attrace.cert.serial", NULL),
        HF_STR(hf_cert_sigalg, "Signature algorithm", "attrace.cert.sigalg", NULL),
        HF_STR(hf_cert_thumbprint, "Thumbprint", "attrace.cert.thumbprint",
               "SHA-1 of the DER, uppercase hex"),
        HF_STR(hf_cert_expiry, "Expiry date", "attrace.cert.expiry", "YYYY-MM-DD"),
        HF_STR(hf_cert_key, "Public key", "attrace.cert.key", NULL),
        HF_UINT(hf_frame_totallen, "TotalLen", "attrace.frame.totallen", FT_UINT16, NULL),
        {&hf_frame_cmdid, {"CmdId", "attrace.frame.cmdid", FT_UINT16, BASE_DEC,
                           VALS(cmdid_vals), 0x0, NULL, HFILL}},
        HF_UINT(hf_frame_paramnum, "ParamNum", "attrace.frame.paramnum", FT_UINT16, NULL),
        HF_UINT(hf_frame_index, "Index", "attrace.frame.index", FT_UINT16, NULL),
        HF_STR(hf_frame_imei, "IMEI", "attrace.frame.imei", NULL),
        HF_STR(hf_frame_problem, "Problem", "attrace.frame.problem", NULL),
        HF_UINT(hf_frame_trailing, "Trailing bytes", "attrace.frame.trailing", FT_UINT32, NULL),
        HF_UINT(hf_unit_paramlen, "ParamLen", "attrace.unit.paramlen", FT_UINT16, NULL),
        {&hf_unit_paramid, {"ParamId", "attrace.unit.paramid", FT_UINT16, BASE_DEC,
                            VALS(paramid_vals), 0x0, NULL, HFILL}},
        {&hf_unit_value, {"Value", "attrace.unit.value", FT_BYTES, BASE_NONE, NULL, 0x0, NULL,
                          HFILL}},
        HF_STR(hf_unit_text, "Value", "attrace.unit.text", NULL),
        HF_UINT(hf_key_size, "Private key size", "attrace.key.size", FT_UINT32, NULL),
        HF_STR(hf_key_type, "Private key type", "attrace.key.type", NULL),
        HF_UINT(hf_key_bits, "Private key bits", "attrace.key.bits", FT_UINT32, NULL),
        {&hf_key_matches_cert, {"Key belongs to the certificate", "attrace.key.matches_cert",
                                FT_BOOLEAN, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        HF_STR(hf_sig_text, "Signature (base64)", "attrace.signature.text", NULL),
        {&hf_sig_checked, {"Signature checked", "attrace.signature.checked", FT_BOOLEAN,
                           BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_sig_matches, {"Signature matches", "attrace.signature.matches", FT_BOOLEAN,
                           BASE_NONE, NULL, 0x0, NULL, HFILL}},
        HF_STR(hf_sig_digest, "Signature digest", "attrace.signature.digest", "sha1 or sha256"),
        HF_STR(hf_sig_key_source, "Checked against", "attrace.signature.key_source", NULL),
        HF_STR(hf_secret_kind, "Private-key run", "attrace.secret.kind",
               "pkcs1_rsa, pkcs8, sec1_ec, pkcs8_encrypted, key_material, pem, key_unit"),
        HF_UINT(hf_secret_size, "Private-key bytes", "attrace.secret.size", FT_UINT32, NULL),
        HF_STR(hf_finding_rule, "Rule", "attrace.finding.rule", NULL),
        HF_STR(hf_finding_severity, "Severity", "attrace.finding.severity", NULL),
        HF_STR(hf_finding_what, "What", "attrace.finding.what", NULL),
        HF_STR(hf_finding_fix, "Fix", "attrace.finding.fix", NULL),
        HF_UINT(hf_finding_offset, "Points at", "attrace.finding.offset", FT_UINT64,
                "Stream offset of the byte the finding is about"),
        {&hf_finding_dir, {"Stream", "attrace.finding.dir", FT_UINT8, BASE_DEC, VALS(dir_vals),
                           0x0, "Direction of the stream attrace.finding.offset counts in", HFILL}},
    };
    static gint *ett[] = {&ett_attrace, &ett_header, &ett_line, &ett_element, &ett_cmd,
                          &ett_frame, &ett_unit, &ett_cert, &ett_finding};

    static ei_register_info ei_fixed[] = {
        {&ei_bad_header, {"attrace.bad_header", PI_MALFORMED, PI_ERROR,
                          "Bad UART pseudo-header", EXPFILL}},
        {&ei_no_direction, {"attrace.no_direction", PI_MALFORMED, PI_ERROR,
                            "No direction (exported-PDU P2P tag missing)", EXPFILL}},
        {&ei_bytes_missing, {"attrace.bytes_missing", PI_SEQUENCE, PI_WARN,
                             "Bytes may be missing before this record", EXPFILL}},
        {&ei_incomplete, {"attrace.incomplete", PI_MALFORMED, PI_WARN,
                          "Element stopped before its end", EXPFILL}},
        {&ei_not_decoded, {"attrace.not_decoded", PI_UNDECODED, PI_NOTE,
                           "Bytes not available for decoding", EXPFILL}},
        {&ei_finding[AT_SEV_INFO], {"attrace.finding.info", PI_PROTOCOL, PI_NOTE,
                                    "Finding (info)", EXPFILL}},
        {&ei_finding[AT_SEV_WARNING], {"attrace.finding.warning", PI_PROTOCOL, PI_WARN,
                                       "Finding (warning)", EXPFILL}},
        {&ei_finding[AT_SEV_ERROR], {"attrace.finding.error", PI_PROTOCOL, PI_ERROR,
                                     "Finding (error)", EXPFILL}},
    };

    proto_attrace = proto_register_protocol("attrace: AT interface of Cinterion modules",
                                            "attrace", "attrace");
    proto_register_field_array(proto_attrace, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));

    expert_module_t *em = expert_register_protocol(proto_attrace);
    expert_register_field_array(em, ei_fixed, array_length(ei_fixed));
    /* One expert entry per frame problem code, from the core's names. */
    ei_register_info *eip = g_new0(ei_register_info, AT_FP_LAST);
    for (unsigned c = 1; c <= AT_FP_LAST; c++)
        ei_fill(&eip[c - 1], &ei_problem[c],
                g_strdup_printf("attrace.frame.problem.%s",
                                at_frame_problem_name((at_frame_problem_code)c)),
                PI_MALFORMED, PI_WARN, at_frame_problem_text((at_frame_problem_code)c));
    expert_register_field_array(em, eip, AT_FP_LAST);
    /* One expert entry per diagnosis rule, from the one rule table. */
    rule_table = at_rules(&n_rules);
    ei_rule = g_new0(expert_field, n_rules);
    ei_register_info *eir = g_new0(ei_register_info, n_rules);
    for (size_t i = 0; i < n_rules; i++)
        ei_fill(&eir[i], &ei_rule[i], g_strdup_printf("attrace.rule.%s", rule_table[i].id),
                PI_PROTOCOL, expert_severity(rule_table[i].severity), rule_table[i].summary);
    expert_register_field_array(em, eir, (int)n_rules);

    module_t *pm = prefs_register_protocol(proto_attrace, attrace_prefs_apply);
    prefs_register_filename_preference(
        pm, "client_cert", "Client certificate file",
        "The client certificate (PEM or DER) whose key signs the frames, to check "
        "signatures when the trace does not show the index-0 WRITE",
        &pref_client_cert, FALSE);
    prefs_register_enum_preference(pm, "profile", "Module profile",
                                   "Module family: its limits and the expected digest",
                                   &pref_profile, profile_vals, FALSE);
    prefs_register_uint_preference(pm, "pause_warn_ms", "Pause warning (ms)",
                                   "A pause inside a frame at least this long is a finding",
                                   10, &pref_pause_warn_ms);
    prefs_register_bool_preference(pm, "show_secrets", "Show private-key bytes",
                                   "Show the bytes of private-key units (off: size and type "
                                   "only, and '*' in the reassembled and redacted records)",
                                   &pref_show_secrets);

    attrace_handle = register_dissector("attrace", dissect_attrace, proto_attrace);
    attrace_tap = register_tap("attrace");
    register_init_routine(attrace_init);
    register_cleanup_routine(attrace_cleanup);
    register_postseq_cleanup_routine(attrace_postseq);
}

static void proto_reg_handoff_attrace(void)
{
    ber_oid_table = find_dissector_table("ber.oid");
    hf_exported_pdu_record = proto_registrar_get_id_byname("exported_pdu.exported_pdu");
}

void plugin_register(void)
{
    static proto_plugin plug;
    plug.register_protoinfo = proto_register_attrace;
    plug.register_handoff = proto_reg_handoff_attrace;
    proto_register_plugin(&plug);
    static tap_plugin tplug;
    tplug.register_tap_listener = register_stats;
    tap_register_plugin(&tplug);
}
