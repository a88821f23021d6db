/*
 * output_json.c - `attrace decode --json`: NDJSON, one object per line,
 * built as jansson values and written by json_writer.c (compact, keys in
 * insertion order, the text of jansson's own dump).
 *
 * Objects, by "type":
 *   exchange     one command with its echo, responses (parsed fields as
 *                separate values), intermediate results, secure result, the
 *                ids of its frame/urc/invalid objects, payload byte counts,
 *                final result and end reason; written when it ends
 *   urc          an unsolicited result code (with "exchange" when it arrived
 *                while one ran)
 *   frame        a secure-command frame, unit by unit, with its problems,
 *                and what the analyzer made of it: "certificate" (the
 *                module's ^SBNR terms), "key" (size and type; bytes only
 *                with --show-secrets, in the key unit), "signature" (the
 *                verdict and the key it was checked against)
 *   finding      a diagnosis: stable rule id, severity, the byte it points
 *                at, what is wrong and the fix; written right after the
 *                object of the event that completed it (an exchange's after
 *                the exchange)
 *   invalid      bytes that could not be decoded
 *   unexpected   a line outside any exchange that is no URC / TE text that is
 *                no command
 *   trace_event  a non-data record (break, note, ...) or a data record
 *                flagged "bytes missing"
 *   summary      the last line
 *
 * Offsets are stream offsets (bytes of that direction since the start).
 * Text from the trace is passed through when it is valid UTF-8. When it is
 * not, the string is its UTF-8 reading with U+FFFD for every byte that is
 * not part of a valid sequence, and a sibling key "<key>_hex" holds the
 * raw bytes (lowercase hex), so no byte is lost and byte E9 and bytes
 * C3 A9 give different output; an array of such strings (a command's
 * "params") gets a parallel array ("params_hex", null for valid entries).
 * C1 controls (U+0080..U+009F) and bidirectional overrides and isolates
 * (U+202A..U+202E, U+2066..U+2069) are written as \uXXXX escapes, so a
 * terminal showing the JSON cannot be driven by them. Private-key bytes
 * appear only with --show-secrets.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* At most this many responses are kept for one exchange; the rest are
 * counted ("responses_dropped"). Keeps memory bounded on hostile traces. */
#define MAX_RESPONSES 4096u

#define SET(o, k, v) json_object_set_new((o), (k), (v))

/* ------------------------------------------------------------------ */
/* Values                                                             */
/* ------------------------------------------------------------------ */

static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t b = p[0];
    size_t len;
    uint32_t cp;
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF) { len = 2; cp = b & 0x1Fu; }
    else if (b >= 0xE0 && b <= 0xEF) { len = 3; cp = b & 0x0Fu; }
    else if (b >= 0xF0 && b <= 0xF4) { len = 4; cp = b & 0x07u; }
    else return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3Fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

/* Whether @p n bytes are valid UTF-8 (utf8_seq over all of them). */
static bool utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq(p + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

/* The text as a JSON string: as it is when valid UTF-8, else its UTF-8
 * reading with U+FFFD for each byte outside a valid sequence (the bytes
 * themselves go to a "_hex" sibling: set_text). */
json_t *cli_json_text(const void *data, size_t n)
{
    const uint8_t *p = data;
    if (!p)
        return json_null();
    if (utf8_valid(p, n))
        return json_stringn((const char *)p, n);

    char *buf = malloc(3 * n + 1);
    if (!buf)
        return json_null();
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (k) {
            memcpy(buf + o, p + i, k);
            o += k;
            i += k;
        } else {
            memcpy(buf + o, "\xEF\xBF\xBD", 3); /* U+FFFD */
            o += 3;
            i++;
        }
    }
    json_t *s = json_stringn(buf, o);
    free(buf);
    return s ? s : json_null();
}

static json_t *jstr(const at_str *s)
{
    return s->ptr ? cli_json_text(s->ptr, s->len) : json_null();
}

static json_t *jhex(const uint8_t *p, size_t n);

/* Sets @p key to the text and, when it is not valid UTF-8, "<key>_hex" to
 * its bytes: the lossless form the header comment describes. */
static void set_text(json_t *o, const char *key, const void *data, size_t n)
{
    SET(o, key, cli_json_text(data, n));
    if (data && !utf8_valid(data, n)) {
        char hk[64];
        snprintf(hk, sizeof hk, "%s_hex", key);
        SET(o, hk, jhex(data, n));
    }
}

static void set_str(json_t *o, const char *key, const at_str *s)
{
    if (s->ptr)
        set_text(o, key, s->ptr, s->len);
    else
        SET(o, key, json_null());
}

static json_t *jhex(const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    if (!p)
        return json_null();
    char *buf = malloc(2 * n + 1);
    if (!buf)
        return json_null();
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = digits[p[i] >> 4];
        buf[2 * i + 1] = digits[p[i] & 15];
    }
    json_t *s = json_stringn(buf, 2 * n);
    free(buf);
    return s ? s : json_null();
}

static json_t *jint(uint64_t v)
{
    return json_integer((json_int_t)v);
}

/* The private-key run among @p ev's bytes [off, off + n) that must not be
 * shown, or NULL (always NULL with --show-secrets). */
static const at_secret *withheld(const cli_ctx *c, const at_event *ev, uint64_t off,
                                 size_t n)
{
    if (c->opt->show_secrets || !ev)
        return NULL;
    return at_secret_overlap(ev->secrets, ev->n_secrets, off, n);
}

/* What stands for @p n bytes holding private-key bytes of @p s's kind. */
static json_t *jredacted(const at_secret *s, size_t n)
{
    json_t *o = json_object();
    SET(o, "redacted", json_true());
    SET(o, "secret", json_string(at_secret_kind_name(s->kind)));
    SET(o, "size", jint(n));
    return o;
}

/* Trace bytes as hex: the one place JSON carries them as hex. A value
 * with private-key bytes is replaced by {"redacted", "secret", "size"}. */
static json_t *jbytes_hex(const cli_ctx *c, const at_event *ev, uint64_t off,
                          const void *p, size_t n)
{
    const at_secret *s = p ? withheld(c, ev, off, n) : NULL;
    if (s)
        return jredacted(s, n);
    return jhex(p, n);
}

/* Sets @p key to trace bytes as text: the one place JSON carries them as
 * text. Bytes holding private-key bytes become {"redacted", "secret",
 * "size"}; others are set_text's lossless text (with "<key>_hex" when not
 * UTF-8). */
static void set_bytes(json_t *o, const char *key, const cli_ctx *c, const at_event *ev,
                      uint64_t off, const void *p, size_t n)
{
    const at_secret *s = p ? withheld(c, ev, off, n) : NULL;
    if (s)
        SET(o, key, jredacted(s, n));
    else if (p)
        set_text(o, key, p, n);
    else
        SET(o, key, json_null());
}

/* An event's own bytes (lines: the text) under @p key (set_bytes). */
static void set_event_text(json_t *o, const char *key, const cli_ctx *c,
                           const at_event *ev)
{
    if (ev->data)
        set_bytes(o, key, c, ev, ev->span.off, ev->data, ev->len);
    else if (ev->line.text.ptr)
        set_bytes(o, key, c, ev, ev->line.text.span.off, ev->line.text.ptr,
                  ev->line.text.len);
    else
        SET(o, key, json_null());
}

static json_t *jiso(uint64_t ts)
{
    char b[48];
    cli_fmt_iso(ts, b, sizeof b);
    return json_string(b);
}

static json_t *jid(uint32_t id)
{
    return id ? jint(id) : json_null();
}

static void emit(cli_ctx *c, json_t *o)
{
    if (!o)
        return;
    /* One fwrite per object (json_writer.c), C1 controls and bidi
     * overrides escaped; jansson's own dump, which gives the same text token
     * by token, only when memory runs out. */
    if (!cli_json_write_line(&c->json_writer, o, c->out)) {
        json_dumpf(o, c->out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fputc('\n', c->out);
    }
    json_decref(o);
}

/* ------------------------------------------------------------------ */
/* Lines                                                              */
/* ------------------------------------------------------------------ */

/* A result's text: the meaning of a +CME ERROR number, the verbose text
 * of +CME/+CMS ERROR, CONNECT's text; null otherwise. */
static json_t *result_text(const at_result *r)
{
    if (r->has_code) {
        const char *meaning = cli_result_meaning(r);
        return meaning ? json_string(meaning) : json_null();
    }
    if (r->text.ptr && r->text.len)
        return jstr(&r->text);
    return json_null();
}

static void result_fields(json_t *o, const at_result *r)
{
    SET(o, "result", json_string(at_result_name(r->kind)));
    SET(o, "code", r->has_code ? jint(r->code) : json_null());
    SET(o, "result_text", result_text(r));
    SET(o, "numeric", json_boolean(r->numeric));
}

static json_t *expiry(const at_sbnr *b)
{
    char d[32];
    if (!b->has_expiry)
        return json_null();
    snprintf(d, sizeof d, "%04u-%02u-%02u", b->expiry_year % 10000u,
             b->expiry_month % 100u, b->expiry_day % 100u);
    return json_string(d);
}

/* The certificate description both ^SBNR entries and +CIEV: is_cert
 * give, as the same JSON keys. */
static void set_cert_fields(json_t *o, const at_str *issuer, const at_str *serial,
                            const at_str *subject, const at_str *sig_alg,
                            const at_str *thumb_alg, const at_str *thumbprint)
{
    set_str(o, "issuer", issuer);
    set_str(o, "serial", serial);
    set_str(o, "subject", subject);
    set_str(o, "signature", sig_alg);
    set_str(o, "thumbprint_alg", thumb_alg);
    set_str(o, "thumbprint", thumbprint);
}

static void line_fields(json_t *o, const at_line_info *li, bool urc)
{
    SET(o, "kind", json_string(at_line_kind_name(li->kind)));
    switch (li->kind) {
    case AT_LK_TEXT:
        break;
    case AT_LK_RESULT:
        result_fields(o, &li->u.result);
        break;
    case AT_LK_SECURE:
        SET(o, "secure_result", json_string(at_secure_result_name(li->u.secure)));
        break;
    case AT_LK_SBNR: {
        const at_sbnr *b = &li->u.sbnr;
        SET(o, "index", jint(b->index));
        SET(o, "entry", json_string(at_sbnr_kind_name(b->kind)));
        if (b->kind == AT_SBNR_CORRUPTED)
            break;
        SET(o, "size", jint(b->size));
        set_cert_fields(o, &b->issuer, &b->serial, &b->subject, &b->signature,
                        &b->thumb_alg, &b->thumbprint);
        SET(o, "expiry", expiry(b));
        break;
    }
    case AT_LK_CIEV_IS_CERT: {
        const at_ciev_is_cert *v = &li->u.ciev_cert;
        SET(o, "indicator", json_string("is_cert"));
        SET(o, "srv_profile", jint(v->srv_profile));
        set_cert_fields(o, &v->issuer, &v->serial, &v->subject, &v->sig_alg,
                        &v->thumb_alg, &v->thumbprint);
        break;
    }
    case AT_LK_CIEV:
        set_str(o, "indicator", &li->u.ciev.name);
        set_str(o, "value", &li->u.ciev.rest);
        break;
    case AT_LK_SIS: {
        const at_sis *s = &li->u.sis;
        const char *m = s->has_info_id ? at_sis_info_text(s->info_id) : NULL;
        SET(o, "srv_profile", jint(s->srv_profile));
        SET(o, "urc_cause", jint(s->urc_cause));
        SET(o, "info_id", s->has_info_id ? jint(s->info_id) : json_null());
        if (s->has_info_text)
            set_str(o, "info_text", &s->info_text);
        else
            SET(o, "info_text", json_null());
        SET(o, "info_meaning", m ? json_string(m) : json_null());
        SET(o, "tls", json_boolean(s->has_info_id && at_sis_info_is_tls(s->info_id)));
        break;
    }
    case AT_LK_SIS_RW: {
        const at_sis_rw *rw = &li->u.sis_rw;
        set_str(o, "command", &li->prefix);
        SET(o, "srv_profile", jint(rw->srv_profile));
        if (urc)
            SET(o, "urc_cause", jint(rw->count));
        else if (rw->count_negative)
            SET(o, "count", json_integer(rw->count_negative));
        else
            SET(o, "count", jint(rw->count));
        SET(o, "unack", rw->has_unack ? jint(rw->unack) : json_null());
        break;
    }
    case AT_LK_IMEI:
        set_str(o, "imei", &li->u.imei);
        break;
    }
    if (li->parse_error) {
        json_t *e = json_object();
        SET(e, "offset", jint(li->err_off));
        SET(o, "parse_error", e);
    }
}

/* {"offset","length","ts_ns","text"} of a line element. */
static json_t *element(const cli_ctx *c, const at_event *ev)
{
    json_t *o = json_object();
    SET(o, "offset", jint(ev->span.off));
    SET(o, "length", jint(ev->span.len));
    SET(o, "ts_ns", jint(ev->ts));
    set_event_text(o, "text", c, ev);
    if (ev->tok) {
        /* Only when true: cut at the line limit, cut by a gap or the end,
         * ended without CR/LF. */
        if (ev->tok->flags & AT_TOKF_TRUNCATED)
            SET(o, "truncated", json_true());
        if (ev->tok->flags & AT_TOKF_INCOMPLETE)
            SET(o, "incomplete", json_true());
        if (ev->tok->flags & AT_TOKF_UNTERMINATED)
            SET(o, "unterminated", json_true());
    }
    return o;
}

static json_t *line_element(const cli_ctx *c, const at_event *ev, bool urc)
{
    json_t *o = element(c, ev);
    /* The parsed fields of a line with key bytes would quote them. */
    if (ev->data && withheld(c, ev, ev->span.off, ev->len))
        SET(o, "kind", json_string(at_line_kind_name(ev->line.kind)));
    else
        line_fields(o, &ev->line, urc);
    return o;
}

/* ------------------------------------------------------------------ */
/* Exchanges                                                          */
/* ------------------------------------------------------------------ */

static void chan_reset(cli_json_chan *j)
{
    json_decref(j->command);
    json_decref(j->echo);
    json_decref(j->echo_hex);
    json_decref(j->responses);
    json_decref(j->intermediate);
    json_decref(j->secure_result);
    json_decref(j->frames);
    json_decref(j->urcs);
    json_decref(j->invalid);
    memset(j, 0, sizeof *j);
}

static void chan_open(cli_json_chan *j, uint32_t id)
{
    chan_reset(j);
    j->open_id = id;
    j->responses = json_array();
    j->intermediate = json_array();
    j->frames = json_array();
    j->urcs = json_array();
    j->invalid = json_array();
}

static json_t *take(json_t **slot, json_t *(*empty)(void))
{
    json_t *v = *slot ? *slot : empty();
    *slot = NULL;
    return v;
}

static json_t *commands(const at_exchange *x)
{
    json_t *a = json_array();
    for (unsigned i = 0; x->parse_ok && i < x->cmdline.n_cmds; i++) {
        const at_command *cmd = &x->cmdline.cmds[i];
        json_t *o = json_object();
        json_t *params = json_array();
        json_t *params_hex = json_array();
        bool any_hex = false;
        set_str(o, "name", &cmd->name);
        SET(o, "type", json_string(at_cmd_type_name(cmd->type)));
        SET(o, "offset", jint(cmd->span.off));
        set_str(o, "basic_value", &cmd->basic_value);
        for (unsigned k = 0; k < cmd->n_params; k++) {
            const at_str *pk = &cmd->params[k];
            bool raw = pk->ptr && !utf8_valid((const uint8_t *)pk->ptr, pk->len);
            json_array_append_new(params, jstr(pk));
            json_array_append_new(params_hex, raw ? jhex((const uint8_t *)pk->ptr, pk->len)
                                                  : json_null());
            any_hex |= raw;
        }
        SET(o, "params", params);
        if (any_hex)
            SET(o, "params_hex", params_hex);
        else
            json_decref(params_hex);
        if (cmd->params_dropped)
            SET(o, "params_dropped", json_true());
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *final_result(const cli_ctx *c, const at_event *ev, const at_exchange *x)
{
    if (!x->has_final)
        return json_null();
    const at_result *r = &x->final;
    json_t *o = json_object();
    SET(o, "kind", json_string(at_result_name(r->kind)));
    SET(o, "code", r->has_code ? jint(r->code) : json_null());
    SET(o, "text", result_text(r));
    SET(o, "numeric", json_boolean(r->numeric));
    if (ev->data)
        set_event_text(o, "line", c, ev);
    else
        SET(o, "line", json_null());
    SET(o, "offset", ev->data ? jint(ev->span.off) : json_null());
    SET(o, "ts_ns", ev->data ? jint(ev->ts) : json_null());
    return o;
}

static void exchange_end(cli_chan *ch, const at_event *ev)
{
    cli_json_chan *j = &ch->json;
    const at_exchange *x = ev->exchange;
    if (!x) {
        chan_reset(j);
        return;
    }
    if (j->open_id != x->id)
        chan_open(j, x->id);

    json_t *o = json_object();
    SET(o, "type", json_string("exchange"));
    SET(o, "id", jint(x->id));
    SET(o, "channel", jint(ch->channel));
    SET(o, "ts_start", jiso(x->ts_start));
    SET(o, "ts_start_ns", jint(x->ts_start));
    SET(o, "ts_end", jiso(x->ts_end));
    SET(o, "ts_end_ns", jint(x->ts_end));
    SET(o, "duration_ns", jint(ev->duration_ns));
    if (j->command)
        SET(o, "command", j->command);
    else
        set_str(o, "command", &x->line);
    j->command = NULL;
    SET(o, "offset", jint(x->span.off));
    SET(o, "length", jint(x->span.len));
    SET(o, "parse_ok", json_boolean(x->parse_ok));
    SET(o, "commands", j->command_withheld ? json_array() : commands(x));
    if (x->cmdline.cmds_dropped)
        SET(o, "commands_dropped", json_true());
    SET(o, "secure", json_boolean(x->secure));
    SET(o, "echo", j->echo ? j->echo : json_null());
    j->echo = NULL;
    if (j->echo_hex)
        SET(o, "echo_hex", j->echo_hex);
    j->echo_hex = NULL;
    SET(o, "responses", take(&j->responses, json_array));
    if (j->responses_dropped)
        SET(o, "responses_dropped", jint(j->responses_dropped));
    SET(o, "intermediate", take(&j->intermediate, json_array));
    SET(o, "secure_result", j->secure_result ? j->secure_result : json_null());
    j->secure_result = NULL;
    SET(o, "frames", take(&j->frames, json_array));
    SET(o, "urcs", take(&j->urcs, json_array));
    SET(o, "invalid", take(&j->invalid, json_array));
    json_t *pb = json_object();
    SET(pb, "te_to_me", jint(x->payload_bytes[AT_DIR_TE_TO_ME]));
    SET(pb, "me_to_te", jint(x->payload_bytes[AT_DIR_ME_TO_TE]));
    SET(o, "payload_bytes", pb);
    SET(o, "final", final_result(ch->ctx, ev, x));
    SET(o, "end_reason", json_string(at_end_reason_name(x->end_reason)));
    SET(o, "failed", json_boolean(cli_exchange_failed(x)));
    emit(ch->ctx, o);
    chan_reset(j);
}

/* ------------------------------------------------------------------ */
/* Frames                                                             */
/* ------------------------------------------------------------------ */

static json_t *unit_value(const cli_ctx *c, const at_event *ev, const at_frame_unit *u)
{
    const uint8_t *v = u->value;
    size_t n = u->value_len;
    const at_secret *secret = v ? withheld(c, ev, u->value_span.off, n) : NULL;
    json_t *o;
    if (secret && u->param_id != AT_PARAM_KEY) {
        /* Key bytes where the frame's walk put another unit: the shape of
         * the key unit's value. */
        o = json_object();
        SET(o, "size", jint(n));
        SET(o, "redacted", json_true());
        SET(o, "secret", json_string(at_secret_kind_name(secret->kind)));
        return o;
    }
    switch (u->param_id) {
    case AT_PARAM_INDEX:
        if (u->has_number)
            return jint(u->number);
        o = json_object();
        SET(o, "size", jint(n));
        SET(o, "hex", jhex(v, n));
        return o;
    case AT_PARAM_CERT:
        o = json_object();
        SET(o, "size", jint(n));
        if (c->opt->hex)
            SET(o, "hex", jhex(v, n));
        return o;
    case AT_PARAM_KEY:
        o = json_object();
        SET(o, "size", jint(n));
        SET(o, "redacted", json_boolean(!c->opt->show_secrets));
        if (c->opt->show_secrets)
            SET(o, "hex", jhex(v, n));
        return o;
    case AT_PARAM_IMEI:
    case AT_PARAM_THUMBPRINT:
    case AT_PARAM_MODE:
        return v ? cli_json_text(v, u->text_len) : json_null();
    case AT_PARAM_SIGNATURE: {
        if (u->base64)
            return cli_json_text(v, u->text_len);
        /* A raw digest (READ response) or garbage: not text. */
        o = json_object();
        SET(o, "size", jint(n));
        SET(o, "hex", jhex(v, n));
        return o;
    }
    default:
        o = json_object();
        SET(o, "size", jint(n));
        if (c->opt->hex)
            SET(o, "hex", jhex(v, n));
        return o;
    }
}

/* ------------------------------------------------------------------ */
/* What the analyzer made of a frame                                  */
/* ------------------------------------------------------------------ */

static json_t *jdate(int y, int m, int d)
{
    char b[32];
    if (!y)
        return json_null();
    snprintf(b, sizeof b, "%04d-%02d-%02d", y % 10000, m % 100, d % 100);
    return json_string(b);
}

static json_t *cert_obj(const at_frame *f, const at_frame_details *d)
{
    const at_frame_unit *u = at_frame_find(f, AT_PARAM_CERT);
    if (!d || !d->has_cert || !u)
        return json_null();
    json_t *o = json_object();
    bool ok = d->cert_ok;
    const at_cert_summary *s = &d->cert;
    SET(o, "size", jint(ok ? s->size : u->value_len));
    SET(o, "parsed", json_boolean(ok));
    SET(o, "pem", json_boolean(d->cert_is_pem));
    if (ok) {
        set_text(o, "issuer", s->issuer, strlen(s->issuer));
        set_text(o, "subject", s->subject, strlen(s->subject));
    } else {
        SET(o, "issuer", json_null());
        SET(o, "subject", json_null());
    }
    SET(o, "serial", ok ? json_string(s->serial) : json_null());
    SET(o, "signature", ok ? json_string(s->sig_alg) : json_null());
    SET(o, "thumbprint_alg", ok ? json_string(s->thumb_alg) : json_null());
    SET(o, "thumbprint", ok ? json_string(s->thumbprint) : json_null());
    SET(o, "expiry", ok ? jdate(s->expiry_year, s->expiry_month, s->expiry_day)
                        : json_null());
    SET(o, "key_type", ok ? json_string(s->key_type) : json_null());
    SET(o, "key_bits", ok ? json_integer(s->key_bits) : json_null());
    return o;
}

static json_t *key_obj(const cli_ctx *c, const at_frame *f,
                       const at_frame_details *d)
{
    const at_frame_unit *u = at_frame_find(f, AT_PARAM_KEY);
    if (!d || !d->has_key || !u)
        return json_null();
    json_t *o = json_object();
    bool ok = d->key_ok;
    SET(o, "size", jint(u->value_len));
    SET(o, "parsed", json_boolean(ok));
    SET(o, "type", ok ? json_string(d->key.type) : json_null());
    SET(o, "bits", ok ? json_integer(d->key.bits) : json_null());
    SET(o, "container", ok ? json_string(d->key.container) : json_null());
    SET(o, "matches_cert", ok && d->has_cert && d->cert_ok
                               ? json_boolean(d->key_matches_cert) : json_null());
    SET(o, "redacted", json_boolean(!c->opt->show_secrets));
    return o;
}

static json_t *sig_obj(const at_frame *f, const at_frame_details *d)
{
    if (!d || !at_frame_find(f, AT_PARAM_SIGNATURE))
        return json_null();
    const at_sig_verdict *v = &d->sig;
    bool checked = d->sig_checked && v->base64_ok && v->key_len > 0;
    json_t *o = json_object();
    SET(o, "present", json_boolean(v->present));
    SET(o, "kind", json_string(at_sig_kind_name(f->sig_kind)));
    SET(o, "base64_ok", json_boolean(v->base64_ok));
    SET(o, "length", jint(v->sig_len));
    SET(o, "checked", json_boolean(checked));
    SET(o, "key_length", checked ? jint(v->key_len) : json_null());
    SET(o, "length_ok", checked ? json_boolean(v->length_ok) : json_null());
    SET(o, "recovered", checked ? json_boolean(v->recovered) : json_null());
    SET(o, "digest", checked && v->recovered && v->digest_name
                         ? json_string(v->digest_name) : json_null());
    SET(o, "matches", checked ? json_boolean(v->matches) : json_null());
    SET(o, "verify_source", checked && d->verify_source ? json_string(d->verify_source)
                                                        : json_null());
    return o;
}

static json_t *span_obj(uint64_t off, uint64_t len)
{
    json_t *o = json_object();
    SET(o, "offset", jint(off));
    SET(o, "length", jint(len));
    return o;
}

static void frame_obj(cli_chan *ch, const at_event *ev)
{
    cli_ctx *c = ch->ctx;
    const at_frame *f = ev->frame;
    uint64_t id = c->next_frame_id++;
    json_t *o = json_object();

    SET(o, "type", json_string("frame"));
    SET(o, "id", jint(id));
    SET(o, "channel", jint(ch->channel));
    SET(o, "exchange", jid(ch->json.open_id));
    SET(o, "dir", json_string(cli_dir_key(ev->dir)));
    SET(o, "ts", jiso(ev->ts));
    SET(o, "ts_ns", jint(ev->ts));
    if (!f) {
        SET(o, "offset", jint(ev->span.off));
        SET(o, "length", jint(ev->span.len));
    } else {
        const char *cmd = at_cmd_name(f->cmd_id);
        SET(o, "offset", jint(f->span.off));
        SET(o, "length", jint(f->span.len));
        SET(o, "bytes_present", jint(f->bytes_present));
        SET(o, "total_len", jint(f->total_len));
        SET(o, "cmd_id", jint(f->cmd_id));
        SET(o, "cmd_name", cmd ? json_string(cmd) : json_null());
        SET(o, "param_num", jint(f->param_num));
        json_t *units = json_array();
        for (unsigned i = 0; i < f->n_units; i++) {
            const at_frame_unit *u = &f->units[i];
            const char *name = at_param_name(u->param_id);
            json_t *uo = json_object();
            SET(uo, "id", jint(u->param_id));
            SET(uo, "name", name ? json_string(name) : json_null());
            SET(uo, "len", jint(u->param_len));
            SET(uo, "offset", jint(u->span.off));
            SET(uo, "value_offset", jint(u->value_span.off));
            SET(uo, "value_len", jint(u->value_len));
            SET(uo, "complete", json_boolean(u->whole));
            SET(uo, "value", unit_value(c, ev, u));
            if (json_is_string(json_object_get(uo, "value"))) {
                size_t tl = u->text_len;
                if (!utf8_valid(u->value, tl))
                    SET(uo, "value_hex", jhex(u->value, tl));
            }
            json_array_append_new(units, uo);
        }
        SET(o, "units", units);
        SET(o, "signed_region", f->signed_region.len
                                    ? span_obj(f->signed_region.off, f->signed_region.len)
                                    : json_null());
        SET(o, "trailing", f->trailing.len ? span_obj(f->trailing.off, f->trailing.len)
                                           : json_null());
        json_t *probs = json_array();
        for (unsigned i = 0; i < f->n_problems; i++) {
            const at_frame_problem *p = &f->problems[i];
            json_t *po = json_object();
            SET(po, "code", jint((unsigned)p->code));
            SET(po, "name", json_string(at_frame_problem_name(p->code)));
            SET(po, "offset", jint(p->off));
            SET(po, "detail", jint(p->detail));
            SET(po, "text", json_string(at_frame_problem_text(p->code)));
            json_array_append_new(probs, po);
        }
        SET(o, "problems", probs);
        SET(o, "problems_dropped", jint(f->problems_dropped));
        const at_frame_details *d = cli_frame_details(ch, ev);
        SET(o, "certificate", cert_obj(f, d));
        SET(o, "key", key_obj(c, f, d));
        SET(o, "signature", sig_obj(f, d));
    }
    SET(o, "cut", ev->invalid_reason != AT_TR_NONE
                      ? json_string(at_tok_reason_name(ev->invalid_reason))
                      : json_null());
    SET(o, "ended_by_answer",
        json_boolean(ev->tok && (ev->tok->flags & AT_TOKF_FLUSHED)));
    emit(c, o);
    if (ch->json.open_id && ch->json.frames)
        json_array_append_new(ch->json.frames, jint(id));
}

/* ------------------------------------------------------------------ */
/* Other top-level objects                                            */
/* ------------------------------------------------------------------ */

/* Common head: type, [id], channel, exchange, dir, ts, ts_ns. */
static json_t *head(const cli_chan *ch, const char *type, uint64_t id,
                    at_dir dir, uint64_t ts)
{
    json_t *o = json_object();
    SET(o, "type", json_string(type));
    if (id)
        SET(o, "id", jint(id));
    SET(o, "channel", jint(ch->channel));
    SET(o, "exchange", jid(ch->json.open_id));
    SET(o, "dir", json_string(cli_dir_key(dir)));
    SET(o, "ts", jiso(ts));
    SET(o, "ts_ns", jint(ts));
    return o;
}

static void merge(json_t *dst, json_t *src)
{
    json_object_update(dst, src);
    json_decref(src);
}

static void urc_obj(cli_chan *ch, const at_event *ev)
{
    cli_ctx *c = ch->ctx;
    uint64_t id = c->next_urc_id++;
    json_t *o = head(ch, "urc", id, ev->dir, ev->ts);
    merge(o, line_element(c, ev, true));
    emit(c, o);
    if (ch->json.open_id && ch->json.urcs)
        json_array_append_new(ch->json.urcs, jint(id));
}

/* A line outside any exchange: "event" is "unexpected", or the kind the
 * session gave it when it belongs to no exchange (an echo that arrived
 * before its command, ...). */
static void unexpected_obj(cli_chan *ch, const at_event *ev)
{
    json_t *o = head(ch, "unexpected", 0, ev->dir, ev->ts);
    SET(o, "event", json_string(at_event_kind_name(ev->kind)));
    merge(o, line_element(ch->ctx, ev, false));
    emit(ch->ctx, o);
}

static void invalid_obj(cli_chan *ch, const at_event *ev)
{
    cli_ctx *c = ch->ctx;
    uint64_t id = c->next_invalid_id++;
    json_t *o = head(ch, "invalid", id, ev->dir, ev->ts);
    SET(o, "offset", jint(ev->span.off));
    SET(o, "length", jint(ev->span.len));
    SET(o, "reason", json_string(at_tok_reason_name(ev->invalid_reason)));
    if (c->opt->hex)
        SET(o, "hex", jbytes_hex(c, ev, ev->span.off, ev->data, ev->len));
    emit(c, o);
    if (ch->json.open_id && ch->json.invalid)
        json_array_append_new(ch->json.invalid, jint(id));
}

static void cli_json_event(cli_chan *ch, const at_event *ev)
{
    cli_json_chan *j = &ch->json;
    /* Parts of an exchange; without one they are reported as unexpected. */
    bool in_exchange = j->open_id != 0 && ev->exchange != NULL;

    switch (ev->kind) {
    case AT_EV_COMMAND:
        chan_open(j, ev->exchange ? ev->exchange->id : UINT32_MAX);
        /* The exchange object, written at its end, quotes the command
         * line: decide now, while the line's secret runs are known. */
        if (ev->data && withheld(ch->ctx, ev, ev->span.off, ev->len)) {
            json_t *tmp = json_object();
            set_event_text(tmp, "command", ch->ctx, ev);
            j->command = json_incref(json_object_get(tmp, "command"));
            json_decref(tmp);
            j->command_withheld = true;
        }
        break;
    case AT_EV_ECHO:
        if (!in_exchange) {
            unexpected_obj(ch, ev);
            break;
        }
        json_decref(j->echo);
        json_decref(j->echo_hex);
        {
            /* the echo's text, with its bytes when not UTF-8 (set_text),
             * or what stands for its private-key bytes */
            json_t *tmp = json_object();
            set_event_text(tmp, "echo", ch->ctx, ev);
            j->echo = json_incref(json_object_get(tmp, "echo"));
            j->echo_hex = json_incref(json_object_get(tmp, "echo_hex"));
            json_decref(tmp);
        }
        break;
    case AT_EV_RESPONSE:
        if (!in_exchange)
            unexpected_obj(ch, ev);
        else if (json_array_size(j->responses) >= MAX_RESPONSES)
            j->responses_dropped++;
        else
            json_array_append_new(j->responses, line_element(ch->ctx, ev, false));
        break;
    case AT_EV_INTERMEDIATE:
        if (!in_exchange)
            unexpected_obj(ch, ev);
        else if (json_array_size(j->intermediate) < MAX_RESPONSES)
            json_array_append_new(j->intermediate, line_element(ch->ctx, ev, false));
        break;
    case AT_EV_SECURE_RESULT:
        if (!in_exchange) {
            unexpected_obj(ch, ev);
        } else {
            json_t *o = element(ch->ctx, ev);
            SET(o, "result", json_string(at_secure_result_name(ev->line.u.secure)));
            json_decref(j->secure_result);
            j->secure_result = o;
        }
        break;
    case AT_EV_FRAME:
        frame_obj(ch, ev);
        break;
    case AT_EV_PAYLOAD:
    case AT_EV_TRANSPARENT:
        /* counted in the exchange's payload_bytes */
        break;
    case AT_EV_END:
        exchange_end(ch, ev);
        break;
    case AT_EV_URC:
        urc_obj(ch, ev);
        break;
    case AT_EV_UNEXPECTED:
        unexpected_obj(ch, ev);
        break;
    case AT_EV_INVALID:
        invalid_obj(ch, ev);
        break;
    }
}

static void cli_json_findings(cli_chan *ch, const at_finding *f, size_t n, bool after_event)
{
    (void)after_event; /* each finding is an object of its own */
    for (size_t i = 0; i < n; i++) {
        const at_finding *x = &f[i];
        const char *what_end = memchr(x->what, 0, sizeof x->what);
        const char *fix_end = memchr(x->fix, 0, sizeof x->fix);
        json_t *o = json_object();
        SET(o, "type", json_string("finding"));
        SET(o, "rule", json_string(x->rule ? x->rule : "unknown"));
        SET(o, "severity", json_string(at_severity_name(x->severity)));
        SET(o, "channel", jint(ch->channel));
        SET(o, "exchange", jid(x->exchange));
        SET(o, "dir", json_string(cli_dir_key(x->dir)));
        SET(o, "offset", jint(x->off));
        SET(o, "ts", jiso(x->ts));
        SET(o, "ts_ns", jint(x->ts));
        set_text(o, "what", x->what, what_end ? (size_t)(what_end - x->what)
                                              : sizeof x->what);
        set_text(o, "fix", x->fix, fix_end ? (size_t)(fix_end - x->fix)
                                           : sizeof x->fix);
        emit(ch->ctx, o);
    }
}

/* ------------------------------------------------------------------ */
/* Trace events and summary                                           */
/* ------------------------------------------------------------------ */

static void cli_json_trace_event(cli_ctx *c, cli_chan *ch, const cli_trace_event *te)
{
    const at_trace_record *rec = te->rec;
    at_dir dir = rec->dir == AT_DIR_ME_TO_TE ? AT_DIR_ME_TO_TE : AT_DIR_TE_TO_ME;
    json_t *o = head(ch, "trace_event", 0, dir, rec->ts_ns);
    SET(o, "record", jint(rec->record_no));
    SET(o, "event", json_string(te->event == CLI_TEV_BYTES_MISSING
                                    ? "bytes_missing"
                                    : at_trace_event_name(te->event)));
    SET(o, "bytes_missing", json_boolean(rec->flags & AT_TFLAG_BYTES_MISSING));
    switch (te->event) {
    case AT_TEV_OVERRUN:
        SET(o, "lost", rec->has_lost ? jint(rec->lost) : json_null());
        break;
    case AT_TEV_LINE_CHANGE:
        if (rec->line_state & AT_LINE_UNKNOWN) {
            SET(o, "lines", json_null());
        } else {
            json_t *l = json_object();
            size_t n;
            const at_trace_line *lines = at_trace_lines(&n);
            for (size_t i = 0; i < n; i++)
                SET(l, lines[i].key, json_boolean(rec->line_state & lines[i].bit));
            SET(o, "lines", l);
        }
        break;
    case AT_TEV_SETTINGS:
        set_text(o, "settings", rec->payload, rec->len);
        SET(o, "baud", rec->baud ? jint(rec->baud) : json_null());
        break;
    case AT_TEV_NOTE:
        set_text(o, "text", rec->payload, rec->len);
        break;
    case AT_TEV_FRAMING_ERROR:
    case AT_TEV_PARITY_ERROR:
        SET(o, "bytes", jhex(rec->payload, rec->len));
        break;
    default:
        break;
    }
    emit(c, o);
}

static void cli_json_channel_done(cli_chan *ch)
{
    chan_reset(&ch->json);
}

static void cli_json_summary(cli_ctx *c)
{
    const cli_summary *s = &c->sum;
    json_t *o = json_object();
    json_t *b = json_object();
    SET(o, "type", json_string("summary"));
    SET(o, "records", jint(s->records));
    SET(o, "channels", jint(s->channels));
    SET(b, "te_to_me", jint(s->bytes[AT_DIR_TE_TO_ME]));
    SET(b, "me_to_te", jint(s->bytes[AT_DIR_ME_TO_TE]));
    SET(o, "bytes", b);
    SET(o, "exchanges", jint(s->exchanges));
    SET(o, "errors", jint(s->errors));
    SET(o, "unanswered", jint(s->unanswered));
    SET(o, "urcs", jint(s->urcs));
    SET(o, "frames", jint(s->frames));
    SET(o, "frames_with_problems", jint(s->frames_with_problems));
    SET(o, "invalid", jint(s->invalid));
    SET(o, "unexpected", jint(s->unexpected));
    SET(o, "trace_events", jint(s->trace_events));
    SET(o, "skipped_records", jint(s->skipped_records));
    json_t *fo = json_object();
    SET(fo, "error", jint(s->findings[AT_SEV_ERROR]));
    SET(fo, "warning", jint(s->findings[AT_SEV_WARNING]));
    SET(fo, "info", jint(s->findings[AT_SEV_INFO]));
    SET(o, "findings", fo);
    SET(o, "complete", json_boolean(!s->damaged));
    SET(o, "error", s->damaged ? json_string(s->error ? s->error : "damaged trace")
                               : json_null());
    emit(c, o);
}

/* JSON consumers always get their summary line, here an empty and
 * incomplete one with the reason. */
static void cli_json_unreadable(cli_ctx *c)
{
    cli_json_summary(c);
}

static void cli_json_rules(cli_ctx *c, const at_rule *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        SET(o, "type", json_string("rule"));
        SET(o, "id", json_string(r[i].id));
        SET(o, "severity", json_string(at_severity_name(r[i].severity)));
        SET(o, "summary", json_string(r[i].summary));
        SET(o, "fix", json_string(r[i].fix));
        emit(c, o);
    }
}

static void cli_json_free(cli_ctx *c)
{
    cli_json_writer_free(&c->json_writer);
}

const cli_renderer cli_json_renderer = {
    .event = cli_json_event,
    .findings = cli_json_findings,
    .trace_event = cli_json_trace_event,
    .channel_done = cli_json_channel_done,
    .summary = cli_json_summary,
    .unreadable = cli_json_unreadable,
    .rules = cli_json_rules,
    .free = cli_json_free,
};
