/*
 * output_json.c - `attrace decode --json`: NDJSON, one object per line,
 * written member by member through json_writer.c into one reused buffer
 * (no tree of objects; the text of jansson's own compact dump). The parts
 * of an exchange are kept as JSON text until it ends.
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

/* ------------------------------------------------------------------ */
/* Values                                                             */
/* ------------------------------------------------------------------ */

typedef cli_json_writer jw;

#define KEY(w, k) cli_jw_name((w), (k), sizeof(k) - 1)

/* "<key>_hex" */
static void hex_key(jw *w, const char *key)
{
    char hk[64];
    int n = snprintf(hk, sizeof hk, "%s_hex", key);
    cli_jw_name(w, hk, n > 0 && (size_t)n < sizeof hk ? (size_t)n : strlen(hk));
}

/* Sets @p key to the text and, when it is not valid UTF-8, "<key>_hex" to
 * its bytes: the lossless form the header comment describes. */
static void set_text(jw *w, const char *key, const void *data, size_t n)
{
    if (!cli_jw_member_text(w, key, data, n)) {
        hex_key(w, key);
        cli_jw_hex(w, data, n);
    }
}

static void set_str(jw *w, const char *key, const at_str *s)
{
    if (s->ptr)
        set_text(w, key, s->ptr, s->len);
    else
        cli_jw_member_null(w, key);
}

static void put_str_value(jw *w, const at_str *s)
{
    if (s->ptr)
        cli_jw_text(w, s->ptr, s->len);
    else
        cli_jw_null(w);
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
static void put_redacted(jw *w, const at_secret *s, size_t n)
{
    cli_jw_object_begin(w);
    cli_jw_member_bool(w, "redacted", true);
    cli_jw_member_string(w, "secret", at_secret_kind_name(s->kind));
    cli_jw_member_uint(w, "size", n);
    cli_jw_object_end(w);
}

/* Trace bytes as hex: the one place JSON carries them as hex. A value
 * with private-key bytes is replaced by {"redacted", "secret", "size"}. */
static void put_bytes_hex(jw *w, const cli_ctx *c, const at_event *ev, uint64_t off,
                          const void *p, size_t n)
{
    const at_secret *s = p ? withheld(c, ev, off, n) : NULL;
    if (s)
        put_redacted(w, s, n);
    else
        cli_jw_hex(w, p, n);
}

/* Sets @p key to trace bytes as text: the one place JSON carries them as
 * text. Bytes holding private-key bytes become {"redacted", "secret",
 * "size"}; others are set_text's lossless text (with "<key>_hex" when not
 * UTF-8). */
static void set_bytes(jw *w, const char *key, const cli_ctx *c, const at_event *ev,
                      uint64_t off, const void *p, size_t n)
{
    const at_secret *s = p ? withheld(c, ev, off, n) : NULL;
    if (s) {
        cli_jw_key(w, key);
        put_redacted(w, s, n);
    } else if (p) {
        set_text(w, key, p, n);
    } else {
        cli_jw_member_null(w, key);
    }
}

/* An event's own bytes (lines: the text) under @p key (set_bytes). */
static void set_event_text(jw *w, const char *key, const cli_ctx *c, const at_event *ev)
{
    if (ev->data)
        set_bytes(w, key, c, ev, ev->span.off, ev->data, ev->len);
    else if (ev->line.text.ptr)
        set_bytes(w, key, c, ev, ev->line.text.span.off, ev->line.text.ptr,
                  ev->line.text.len);
    else
        cli_jw_member_null(w, key);
}

static void put_iso(jw *w, const char *key, uint64_t ts)
{
    char b[48];
    cli_fmt_iso(ts, b, sizeof b);
    cli_jw_member_string(w, key, b);
}

static void put_id(jw *w, const char *key, uint64_t id)
{
    cli_jw_member_opt_uint(w, key, id != 0, id);
}

/* Writes the line built in the context's writer. */
static void emit(cli_ctx *c)
{
    if (!cli_jw_write_line(&c->json_writer, c->out)) {
        /* The line could not be built: the run is incomplete, as the
         * summary says. */
        c->sum.damaged = true;
        c->sum.error = "out of memory";
    }
}

/* Appends the text of @p part (one value) to the list @p list. */
static void list_add(jw *list, const jw *part)
{
    if (part->oom)
        list->oom = true;
    else
        cli_jw_raw(list, part->buf, part->len);
}

/* ------------------------------------------------------------------ */
/* Lines                                                              */
/* ------------------------------------------------------------------ */

/* A result's text: the meaning of a +CME ERROR number, the verbose text
 * of +CME/+CMS ERROR, CONNECT's text; null otherwise. */
static void put_result_text(jw *w, const at_result *r)
{
    if (r->has_code) {
        cli_jw_string(w, cli_result_meaning(r));
        return;
    }
    if (r->text.ptr && r->text.len)
        put_str_value(w, &r->text);
    else
        cli_jw_null(w);
}

static void result_fields(jw *w, const at_result *r)
{
    cli_jw_member_string(w, "result", at_result_name(r->kind));
    cli_jw_member_opt_uint(w, "code", r->has_code, r->code);
    KEY(w, "result_text");
    put_result_text(w, r);
    cli_jw_member_bool(w, "numeric", r->numeric);
}

static void put_date(jw *w, const char *key, bool have, unsigned y, unsigned m, unsigned d)
{
    char b[32];
    cli_jw_key(w, key);
    if (!have) {
        cli_jw_null(w);
        return;
    }
    snprintf(b, sizeof b, "%04u-%02u-%02u", y % 10000u, m % 100u, d % 100u);
    cli_jw_string(w, b);
}

/* The certificate description both ^SBNR entries and +CIEV: is_cert
 * give, as the same JSON keys. */
static void set_cert_fields(jw *w, const at_str *issuer, const at_str *serial,
                            const at_str *subject, const at_str *sig_alg,
                            const at_str *thumb_alg, const at_str *thumbprint)
{
    set_str(w, "issuer", issuer);
    set_str(w, "serial", serial);
    set_str(w, "subject", subject);
    set_str(w, "signature", sig_alg);
    set_str(w, "thumbprint_alg", thumb_alg);
    set_str(w, "thumbprint", thumbprint);
}

static void line_fields(jw *w, const at_line_info *li, bool urc)
{
    cli_jw_member_string(w, "kind", at_line_kind_name(li->kind));
    switch (li->kind) {
    case AT_LK_TEXT:
        break;
    case AT_LK_RESULT:
        result_fields(w, &li->u.result);
        break;
    case AT_LK_SECURE:
        cli_jw_member_string(w, "secure_result", at_secure_result_name(li->u.secure));
        break;
    case AT_LK_SBNR: {
        const at_sbnr *b = &li->u.sbnr;
        cli_jw_member_uint(w, "index", b->index);
        cli_jw_member_string(w, "entry", at_sbnr_kind_name(b->kind));
        if (b->kind == AT_SBNR_CORRUPTED)
            break;
        cli_jw_member_uint(w, "size", b->size);
        set_cert_fields(w, &b->issuer, &b->serial, &b->subject, &b->signature,
                        &b->thumb_alg, &b->thumbprint);
        put_date(w, "expiry", b->has_expiry, b->expiry_year, b->expiry_month,
                 b->expiry_day);
        break;
    }
    case AT_LK_CIEV_IS_CERT: {
        const at_ciev_is_cert *v = &li->u.ciev_cert;
        cli_jw_member_string(w, "indicator", "is_cert");
        cli_jw_member_uint(w, "srv_profile", v->srv_profile);
        set_cert_fields(w, &v->issuer, &v->serial, &v->subject, &v->sig_alg,
                        &v->thumb_alg, &v->thumbprint);
        break;
    }
    case AT_LK_CIEV:
        set_str(w, "indicator", &li->u.ciev.name);
        set_str(w, "value", &li->u.ciev.rest);
        break;
    case AT_LK_SIS: {
        const at_sis *s = &li->u.sis;
        const char *m = s->has_info_id ? at_sis_info_text(s->info_id) : NULL;
        cli_jw_member_uint(w, "srv_profile", s->srv_profile);
        cli_jw_member_uint(w, "urc_cause", s->urc_cause);
        cli_jw_member_opt_uint(w, "info_id", s->has_info_id, s->info_id);
        if (s->has_info_text)
            set_str(w, "info_text", &s->info_text);
        else
            cli_jw_member_null(w, "info_text");
        cli_jw_member_string(w, "info_meaning", m);
        cli_jw_member_bool(w, "tls", s->has_info_id && at_sis_info_is_tls(s->info_id));
        break;
    }
    case AT_LK_SIS_RW: {
        const at_sis_rw *rw = &li->u.sis_rw;
        set_str(w, "command", &li->prefix);
        cli_jw_member_uint(w, "srv_profile", rw->srv_profile);
        if (urc) {
            cli_jw_member_uint(w, "urc_cause", rw->count);
        } else if (rw->count_negative) {
            KEY(w, "count");
            cli_jw_int(w, rw->count_negative);
        } else {
            cli_jw_member_uint(w, "count", rw->count);
        }
        cli_jw_member_opt_uint(w, "unack", rw->has_unack, rw->unack);
        break;
    }
    case AT_LK_IMEI:
        set_str(w, "imei", &li->u.imei);
        break;
    }
    if (li->parse_error) {
        KEY(w, "parse_error");
        cli_jw_object_begin(w);
        cli_jw_member_uint(w, "offset", li->err_off);
        cli_jw_object_end(w);
    }
}

/* The members "offset","length",["ts_ns"],"text" (and flags) of a line
 * element; "ts_ns" is left out where the object's head has it. */
static void element_members(jw *w, const cli_ctx *c, const at_event *ev, bool ts)
{
    cli_jw_member_uint(w, "offset", ev->span.off);
    cli_jw_member_uint(w, "length", ev->span.len);
    if (ts)
        cli_jw_member_uint(w, "ts_ns", ev->ts);
    set_event_text(w, "text", c, ev);
    if (ev->tok) {
        /* Only when true: cut at the line limit, cut by a gap or the end,
         * ended without CR/LF. */
        if (ev->tok->flags & AT_TOKF_TRUNCATED)
            cli_jw_member_bool(w, "truncated", true);
        if (ev->tok->flags & AT_TOKF_INCOMPLETE)
            cli_jw_member_bool(w, "incomplete", true);
        if (ev->tok->flags & AT_TOKF_UNTERMINATED)
            cli_jw_member_bool(w, "unterminated", true);
    }
}

static void line_members(jw *w, const cli_ctx *c, const at_event *ev, bool urc, bool ts)
{
    element_members(w, c, ev, ts);
    /* The parsed fields of a line with key bytes would quote them. */
    if (ev->data && withheld(c, ev, ev->span.off, ev->len))
        cli_jw_member_string(w, "kind", at_line_kind_name(ev->line.kind));
    else
        line_fields(w, &ev->line, urc);
}

/* ------------------------------------------------------------------ */
/* Exchanges                                                          */
/* ------------------------------------------------------------------ */

static void chan_reset(cli_json_chan *j)
{
    j->open_id = 0;
    j->command_withheld = false;
    cli_jw_reset(&j->command);
    cli_jw_reset(&j->echo);
    cli_jw_reset(&j->responses);
    cli_jw_reset(&j->intermediate);
    cli_jw_reset(&j->secure_result);
    cli_jw_reset(&j->frames);
    cli_jw_reset(&j->urcs);
    cli_jw_reset(&j->invalid);
    j->n_responses = j->n_intermediate = 0;
    j->responses_dropped = 0;
}

static void chan_open(cli_json_chan *j, uint32_t id)
{
    chan_reset(j);
    j->open_id = id;
}

/* @p key: [the elements collected in @p list]. */
static void put_list(jw *w, const char *key, const jw *list)
{
    cli_jw_key(w, key);
    cli_jw_array_begin(w);
    if (list->oom)
        w->oom = true;
    else if (list->len)
        cli_jw_raw(w, list->buf, list->len);
    cli_jw_array_end(w);
}

static void commands(jw *w, const at_exchange *x)
{
    cli_jw_array_begin(w);
    for (unsigned i = 0; x->parse_ok && i < x->cmdline.n_cmds; i++) {
        const at_command *cmd = &x->cmdline.cmds[i];
        bool any_hex = false;
        cli_jw_object_begin(w);
        set_str(w, "name", &cmd->name);
        cli_jw_member_string(w, "type", at_cmd_type_name(cmd->type));
        cli_jw_member_uint(w, "offset", cmd->span.off);
        set_str(w, "basic_value", &cmd->basic_value);
        KEY(w, "params");
        cli_jw_array_begin(w);
        for (unsigned k = 0; k < cmd->n_params; k++) {
            const at_str *pk = &cmd->params[k];
            if (pk->ptr)
                any_hex |= !cli_jw_text(w, pk->ptr, pk->len);
            else
                cli_jw_null(w);
        }
        cli_jw_array_end(w);
        if (any_hex) {
            KEY(w, "params_hex");
            cli_jw_array_begin(w);
            for (unsigned k = 0; k < cmd->n_params; k++) {
                const at_str *pk = &cmd->params[k];
                if (pk->ptr && !cli_utf8_valid(pk->ptr, pk->len))
                    cli_jw_hex(w, pk->ptr, pk->len);
                else
                    cli_jw_null(w);
            }
            cli_jw_array_end(w);
        }
        if (cmd->params_dropped)
            cli_jw_member_bool(w, "params_dropped", true);
        cli_jw_object_end(w);
    }
    cli_jw_array_end(w);
}

static void final_result(jw *w, const cli_ctx *c, const at_event *ev, const at_exchange *x)
{
    KEY(w, "final");
    if (!x->has_final) {
        cli_jw_null(w);
        return;
    }
    const at_result *r = &x->final;
    cli_jw_object_begin(w);
    cli_jw_member_string(w, "kind", at_result_name(r->kind));
    cli_jw_member_opt_uint(w, "code", r->has_code, r->code);
    KEY(w, "text");
    put_result_text(w, r);
    cli_jw_member_bool(w, "numeric", r->numeric);
    if (ev->data) {
        set_event_text(w, "line", c, ev);
        cli_jw_member_uint(w, "offset", ev->span.off);
        cli_jw_member_uint(w, "ts_ns", ev->ts);
    } else {
        cli_jw_member_null(w, "line");
        cli_jw_member_null(w, "offset");
        cli_jw_member_null(w, "ts_ns");
    }
    cli_jw_object_end(w);
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

    jw *w = &ch->ctx->json_writer;
    cli_jw_object_begin(w);
    cli_jw_member_string(w, "type", "exchange");
    cli_jw_member_uint(w, "id", x->id);
    cli_jw_member_uint(w, "channel", ch->channel);
    put_iso(w, "ts_start", x->ts_start);
    cli_jw_member_uint(w, "ts_start_ns", x->ts_start);
    put_iso(w, "ts_end", x->ts_end);
    cli_jw_member_uint(w, "ts_end_ns", x->ts_end);
    cli_jw_member_uint(w, "duration_ns", ev->duration_ns);
    if (j->command.len || j->command.oom) {
        KEY(w, "command");
        list_add(w, &j->command);
    } else {
        set_str(w, "command", &x->line);
    }
    cli_jw_member_uint(w, "offset", x->span.off);
    cli_jw_member_uint(w, "length", x->span.len);
    cli_jw_member_bool(w, "parse_ok", x->parse_ok);
    KEY(w, "commands");
    if (j->command_withheld) {
        cli_jw_array_begin(w);
        cli_jw_array_end(w);
    } else {
        commands(w, x);
    }
    if (x->cmdline.cmds_dropped)
        cli_jw_member_bool(w, "commands_dropped", true);
    cli_jw_member_bool(w, "secure", x->secure);
    if (j->echo.len || j->echo.oom)
        list_add(w, &j->echo); /* "echo" (and "echo_hex") */
    else
        cli_jw_member_null(w, "echo");
    put_list(w, "responses", &j->responses);
    if (j->responses_dropped)
        cli_jw_member_uint(w, "responses_dropped", j->responses_dropped);
    put_list(w, "intermediate", &j->intermediate);
    KEY(w, "secure_result");
    if (j->secure_result.len || j->secure_result.oom)
        list_add(w, &j->secure_result);
    else
        cli_jw_null(w);
    put_list(w, "frames", &j->frames);
    put_list(w, "urcs", &j->urcs);
    put_list(w, "invalid", &j->invalid);
    KEY(w, "payload_bytes");
    cli_jw_object_begin(w);
    cli_jw_member_uint(w, "te_to_me", x->payload_bytes[AT_DIR_TE_TO_ME]);
    cli_jw_member_uint(w, "me_to_te", x->payload_bytes[AT_DIR_ME_TO_TE]);
    cli_jw_object_end(w);
    final_result(w, ch->ctx, ev, x);
    cli_jw_member_string(w, "end_reason", at_end_reason_name(x->end_reason));
    cli_jw_member_bool(w, "failed", cli_exchange_failed(x));
    cli_jw_object_end(w);
    emit(ch->ctx);
    chan_reset(j);
}

/* ------------------------------------------------------------------ */
/* Frames                                                             */
/* ------------------------------------------------------------------ */

/* {"size": n, "hex": ...} with the hex only when @p hex. */
static void size_hex(jw *w, const uint8_t *v, size_t n, bool hex)
{
    cli_jw_object_begin(w);
    cli_jw_member_uint(w, "size", n);
    if (hex) {
        KEY(w, "hex");
        cli_jw_hex(w, v, n);
    }
    cli_jw_object_end(w);
}

/* A unit's "value"; returns whether it is a string of the unit's text
 * (then "value_hex" follows when it is not UTF-8). */
static bool unit_value(jw *w, const cli_ctx *c, const at_event *ev, const at_frame_unit *u)
{
    const uint8_t *v = u->value;
    size_t n = u->value_len;
    const at_secret *secret = v ? withheld(c, ev, u->value_span.off, n) : NULL;
    KEY(w, "value");
    if (secret) {
        /* The key unit's value, or key bytes where the frame's walk put
         * another unit: one shape for what the core withholds. */
        cli_jw_object_begin(w);
        cli_jw_member_uint(w, "size", n);
        cli_jw_member_bool(w, "redacted", true);
        cli_jw_member_string(w, "secret", at_secret_kind_name(secret->kind));
        cli_jw_object_end(w);
        return false;
    }
    switch (u->param_id) {
    case AT_PARAM_INDEX:
        if (u->has_number)
            cli_jw_uint(w, u->number);
        else
            size_hex(w, v, n, true);
        return false;
    case AT_PARAM_CERT:
        size_hex(w, v, n, c->opt->hex);
        return false;
    case AT_PARAM_KEY: /* not withheld: --show-secrets, or no bytes */
        cli_jw_object_begin(w);
        cli_jw_member_uint(w, "size", n);
        cli_jw_member_bool(w, "redacted", false);
        KEY(w, "hex");
        cli_jw_hex(w, v, n);
        cli_jw_object_end(w);
        return false;
    case AT_PARAM_IMEI:
    case AT_PARAM_THUMBPRINT:
    case AT_PARAM_MODE:
        cli_jw_text(w, v, u->text_len);
        return v != NULL;
    case AT_PARAM_SIGNATURE:
        if (u->base64) {
            cli_jw_text(w, v, u->text_len);
            return v != NULL;
        }
        /* A raw digest (READ response) or garbage: not text. */
        size_hex(w, v, n, true);
        return false;
    default:
        size_hex(w, v, n, c->opt->hex);
        return false;
    }
}

/* ------------------------------------------------------------------ */
/* What the analyzer made of a frame                                  */
/* ------------------------------------------------------------------ */

static void put_ok_cstr(jw *w, const char *key, bool ok, const char *v)
{
    cli_jw_key(w, key);
    if (ok)
        cli_jw_string(w, v);
    else
        cli_jw_null(w);
}

static void put_ok_int(jw *w, const char *key, bool ok, int64_t v)
{
    cli_jw_key(w, key);
    if (ok)
        cli_jw_int(w, v);
    else
        cli_jw_null(w);
}

static void put_ok_bool(jw *w, const char *key, bool ok, bool v)
{
    cli_jw_key(w, key);
    if (ok)
        cli_jw_bool(w, v);
    else
        cli_jw_null(w);
}

static void cert_obj(jw *w, const at_frame *f, const at_frame_details *d)
{
    const at_frame_unit *u = at_frame_find(f, AT_PARAM_CERT);
    KEY(w, "certificate");
    if (!d || !d->has_cert || !u) {
        cli_jw_null(w);
        return;
    }
    bool ok = d->cert_ok;
    const at_cert_summary *s = &d->cert;
    cli_jw_object_begin(w);
    cli_jw_member_uint(w, "size", ok ? s->size : u->value_len);
    cli_jw_member_bool(w, "parsed", ok);
    cli_jw_member_bool(w, "pem", d->cert_is_pem);
    if (ok) {
        set_text(w, "issuer", s->issuer, strlen(s->issuer));
        set_text(w, "subject", s->subject, strlen(s->subject));
    } else {
        cli_jw_member_null(w, "issuer");
        cli_jw_member_null(w, "subject");
    }
    put_ok_cstr(w, "serial", ok, s->serial);
    put_ok_cstr(w, "signature", ok, s->sig_alg);
    put_ok_cstr(w, "thumbprint_alg", ok, s->thumb_alg);
    put_ok_cstr(w, "thumbprint", ok, s->thumbprint);
    put_date(w, "expiry", ok && s->expiry_year, (unsigned)s->expiry_year,
             (unsigned)s->expiry_month, (unsigned)s->expiry_day);
    put_ok_cstr(w, "key_type", ok, s->key_type);
    put_ok_int(w, "key_bits", ok, s->key_bits);
    cli_jw_object_end(w);
}

static void key_obj(jw *w, const cli_ctx *c, const at_event *ev, const at_frame *f,
                    const at_frame_details *d)
{
    const at_frame_unit *u = at_frame_find(f, AT_PARAM_KEY);
    KEY(w, "key");
    if (!d || !d->has_key || !u) {
        cli_jw_null(w);
        return;
    }
    bool ok = d->key_ok;
    cli_jw_object_begin(w);
    cli_jw_member_uint(w, "size", u->value_len);
    cli_jw_member_bool(w, "parsed", ok);
    put_ok_cstr(w, "type", ok, d->key.type);
    put_ok_int(w, "bits", ok, d->key.bits);
    put_ok_cstr(w, "container", ok, d->key.container);
    put_ok_bool(w, "matches_cert", ok && d->has_cert && d->cert_ok, d->key_matches_cert);
    cli_jw_member_bool(w, "redacted", withheld(c, ev, u->value_span.off, u->value_len) != NULL);
    cli_jw_object_end(w);
}

static void sig_obj(jw *w, const at_frame *f, const at_frame_details *d)
{
    KEY(w, "signature");
    if (!d || !at_frame_find(f, AT_PARAM_SIGNATURE)) {
        cli_jw_null(w);
        return;
    }
    const at_sig_verdict *v = &d->sig;
    bool checked = d->sig_checked && v->base64_ok && v->key_len > 0;
    cli_jw_object_begin(w);
    cli_jw_member_bool(w, "present", v->present);
    cli_jw_member_string(w, "kind", at_sig_kind_name(f->sig_kind));
    cli_jw_member_bool(w, "base64_ok", v->base64_ok);
    cli_jw_member_uint(w, "length", v->sig_len);
    cli_jw_member_bool(w, "checked", checked);
    cli_jw_member_opt_uint(w, "key_length", checked, v->key_len);
    put_ok_bool(w, "length_ok", checked, v->length_ok);
    put_ok_bool(w, "recovered", checked, v->recovered);
    put_ok_cstr(w, "digest", checked && v->recovered && v->digest_name, v->digest_name);
    put_ok_bool(w, "matches", checked, v->matches);
    put_ok_cstr(w, "verify_source", checked && d->verify_source, d->verify_source);
    cli_jw_object_end(w);
}

static void span_obj(jw *w, const char *key, uint64_t off, uint64_t len)
{
    cli_jw_key(w, key);
    if (!len) {
        cli_jw_null(w);
        return;
    }
    cli_jw_object_begin(w);
    cli_jw_member_uint(w, "offset", off);
    cli_jw_member_uint(w, "length", len);
    cli_jw_object_end(w);
}

/* Common head: type, [id], channel, exchange, dir, ts, ts_ns. */
static void head(jw *w, const cli_chan *ch, const char *type, uint64_t id, at_dir dir,
                 uint64_t ts)
{
    cli_jw_object_begin(w);
    cli_jw_member_string(w, "type", type);
    if (id)
        cli_jw_member_uint(w, "id", id);
    cli_jw_member_uint(w, "channel", ch->channel);
    put_id(w, "exchange", ch->json.open_id);
    cli_jw_member_string(w, "dir", cli_dir_key(dir));
    put_iso(w, "ts", ts);
    cli_jw_member_uint(w, "ts_ns", ts);
}

/* Adds @p id to the open exchange's list @p list. */
static void note_id(cli_chan *ch, jw *list, uint64_t id)
{
    if (ch->json.open_id)
        cli_jw_uint(list, id);
}

static void frame_obj(cli_chan *ch, const at_event *ev)
{
    cli_ctx *c = ch->ctx;
    const at_frame *f = ev->frame;
    uint64_t id = c->next_frame_id++;
    jw *w = &c->json_writer;

    head(w, ch, "frame", id, ev->dir, ev->ts);
    if (!f) {
        cli_jw_member_uint(w, "offset", ev->span.off);
        cli_jw_member_uint(w, "length", ev->span.len);
    } else {
        cli_jw_member_uint(w, "offset", f->span.off);
        cli_jw_member_uint(w, "length", f->span.len);
        cli_jw_member_uint(w, "bytes_present", f->bytes_present);
        cli_jw_member_uint(w, "total_len", f->total_len);
        cli_jw_member_uint(w, "cmd_id", f->cmd_id);
        cli_jw_member_string(w, "cmd_name", at_cmd_name(f->cmd_id));
        cli_jw_member_uint(w, "param_num", f->param_num);
        KEY(w, "units");
        cli_jw_array_begin(w);
        for (unsigned i = 0; i < f->n_units; i++) {
            const at_frame_unit *u = &f->units[i];
            cli_jw_object_begin(w);
            cli_jw_member_uint(w, "id", u->param_id);
            cli_jw_member_string(w, "name", at_param_name(u->param_id));
            cli_jw_member_uint(w, "len", u->param_len);
            cli_jw_member_uint(w, "offset", u->span.off);
            cli_jw_member_uint(w, "value_offset", u->value_span.off);
            cli_jw_member_uint(w, "value_len", u->value_len);
            cli_jw_member_bool(w, "complete", u->whole);
            if (unit_value(w, c, ev, u) && !cli_utf8_valid(u->value, u->text_len)) {
                KEY(w, "value_hex");
                cli_jw_hex(w, u->value, u->text_len);
            }
            cli_jw_object_end(w);
        }
        cli_jw_array_end(w);
        span_obj(w, "signed_region", f->signed_region.off, f->signed_region.len);
        span_obj(w, "trailing", f->trailing.off, f->trailing.len);
        KEY(w, "problems");
        cli_jw_array_begin(w);
        for (unsigned i = 0; i < f->n_problems; i++) {
            const at_frame_problem *p = &f->problems[i];
            cli_jw_object_begin(w);
            cli_jw_member_uint(w, "code", (unsigned)p->code);
            cli_jw_member_string(w, "name", at_frame_problem_name(p->code));
            cli_jw_member_uint(w, "offset", p->off);
            cli_jw_member_uint(w, "detail", p->detail);
            cli_jw_member_string(w, "text", at_frame_problem_text(p->code));
            cli_jw_object_end(w);
        }
        cli_jw_array_end(w);
        cli_jw_member_uint(w, "problems_dropped", f->problems_dropped);
        const at_frame_details *d = cli_frame_details(ch, ev);
        cert_obj(w, f, d);
        key_obj(w, c, ev, f, d);
        sig_obj(w, f, d);
    }
    put_ok_cstr(w, "cut", ev->invalid_reason != AT_TR_NONE,
                at_tok_reason_name(ev->invalid_reason));
    cli_jw_member_bool(w, "ended_by_answer", ev->tok && (ev->tok->flags & AT_TOKF_FLUSHED));
    cli_jw_object_end(w);
    emit(c);
    note_id(ch, &ch->json.frames, id);
}

/* ------------------------------------------------------------------ */
/* Other top-level objects                                            */
/* ------------------------------------------------------------------ */

static void urc_obj(cli_chan *ch, const at_event *ev)
{
    cli_ctx *c = ch->ctx;
    uint64_t id = c->next_urc_id++;
    jw *w = &c->json_writer;
    head(w, ch, "urc", id, ev->dir, ev->ts);
    line_members(w, c, ev, true, false);
    cli_jw_object_end(w);
    emit(c);
    note_id(ch, &ch->json.urcs, id);
}

/* A line outside any exchange: "event" is "unexpected", or the kind the
 * session gave it when it belongs to no exchange (an echo that arrived
 * before its command, ...). */
static void unexpected_obj(cli_chan *ch, const at_event *ev)
{
    jw *w = &ch->ctx->json_writer;
    head(w, ch, "unexpected", 0, ev->dir, ev->ts);
    cli_jw_member_string(w, "event", at_event_kind_name(ev->kind));
    line_members(w, ch->ctx, ev, false, false);
    cli_jw_object_end(w);
    emit(ch->ctx);
}

static void invalid_obj(cli_chan *ch, const at_event *ev)
{
    cli_ctx *c = ch->ctx;
    uint64_t id = c->next_invalid_id++;
    jw *w = &c->json_writer;
    head(w, ch, "invalid", id, ev->dir, ev->ts);
    cli_jw_member_uint(w, "offset", ev->span.off);
    cli_jw_member_uint(w, "length", ev->span.len);
    cli_jw_member_string(w, "reason", at_tok_reason_name(ev->invalid_reason));
    if (c->opt->hex) {
        KEY(w, "hex");
        put_bytes_hex(w, c, ev, ev->span.off, ev->data, ev->len);
    }
    cli_jw_object_end(w);
    emit(c);
    note_id(ch, &ch->json.invalid, id);
}

/* A line element of the open exchange into @p list. */
static void list_line(jw *list, const cli_ctx *c, const at_event *ev)
{
    cli_jw_object_begin(list);
    line_members(list, c, ev, false, true);
    cli_jw_object_end(list);
}

static void cli_json_event(cli_chan *ch, const at_event *ev)
{
    cli_json_chan *j = &ch->json;
    cli_ctx *c = ch->ctx;
    /* Parts of an exchange; without one they are reported as unexpected. */
    bool in_exchange = j->open_id != 0 && ev->exchange != NULL;

    switch (ev->kind) {
    case AT_EV_COMMAND:
        chan_open(j, ev->exchange ? ev->exchange->id : UINT32_MAX);
        /* The exchange object, written at its end, quotes the command
         * line: decide now, while the line's secret runs are known. */
        if (ev->data && withheld(c, ev, ev->span.off, ev->len)) {
            set_event_text(&j->command, "command", c, ev);
            /* only the value: */
            const char *colon = memchr(j->command.buf, ':', j->command.len);
            if (colon) {
                size_t skip = (size_t)(colon + 1 - j->command.buf);
                memmove(j->command.buf, colon + 1, j->command.len - skip);
                j->command.len -= skip;
            }
            j->command_withheld = true;
        }
        break;
    case AT_EV_ECHO:
        if (!in_exchange) {
            unexpected_obj(ch, ev);
            break;
        }
        /* the echo's text, with its bytes when not UTF-8 (set_text), or
         * what stands for its private-key bytes */
        cli_jw_reset(&j->echo);
        set_event_text(&j->echo, "echo", c, ev);
        break;
    case AT_EV_RESPONSE:
        if (!in_exchange) {
            unexpected_obj(ch, ev);
        } else if (j->n_responses >= MAX_RESPONSES) {
            j->responses_dropped++;
        } else {
            list_line(&j->responses, c, ev);
            j->n_responses++;
        }
        break;
    case AT_EV_INTERMEDIATE:
        if (!in_exchange) {
            unexpected_obj(ch, ev);
        } else if (j->n_intermediate < MAX_RESPONSES) {
            list_line(&j->intermediate, c, ev);
            j->n_intermediate++;
        }
        break;
    case AT_EV_SECURE_RESULT:
        if (!in_exchange) {
            unexpected_obj(ch, ev);
        } else {
            jw *w = &j->secure_result;
            cli_jw_reset(w);
            cli_jw_object_begin(w);
            element_members(w, c, ev, true);
            cli_jw_member_string(w, "result", at_secure_result_name(ev->line.u.secure));
            cli_jw_object_end(w);
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
    jw *w = &ch->ctx->json_writer;
    for (size_t i = 0; i < n; i++) {
        const at_finding *x = &f[i];
        const char *what_end = memchr(x->what, 0, sizeof x->what);
        const char *fix_end = memchr(x->fix, 0, sizeof x->fix);
        cli_jw_object_begin(w);
        cli_jw_member_string(w, "type", "finding");
        cli_jw_member_string(w, "rule", x->rule ? x->rule : "unknown");
        cli_jw_member_string(w, "severity", at_severity_name(x->severity));
        cli_jw_member_uint(w, "channel", ch->channel);
        put_id(w, "exchange", x->exchange);
        cli_jw_member_string(w, "dir", cli_dir_key(x->dir));
        cli_jw_member_uint(w, "offset", x->off);
        put_iso(w, "ts", x->ts);
        cli_jw_member_uint(w, "ts_ns", x->ts);
        set_text(w, "what", x->what, what_end ? (size_t)(what_end - x->what)
                                              : sizeof x->what);
        set_text(w, "fix", x->fix, fix_end ? (size_t)(fix_end - x->fix)
                                           : sizeof x->fix);
        cli_jw_object_end(w);
        emit(ch->ctx);
    }
}

/* ------------------------------------------------------------------ */
/* Trace events and summary                                           */
/* ------------------------------------------------------------------ */

static void cli_json_trace_event(cli_ctx *c, cli_chan *ch, const cli_trace_event *te)
{
    const at_trace_record *rec = te->rec;
    at_dir dir = rec->dir == AT_DIR_ME_TO_TE ? AT_DIR_ME_TO_TE : AT_DIR_TE_TO_ME;
    jw *w = &c->json_writer;
    head(w, ch, "trace_event", 0, dir, rec->ts_ns);
    cli_jw_member_uint(w, "record", rec->record_no);
    cli_jw_member_string(w, "event", te->event == CLI_TEV_BYTES_MISSING
                             ? "bytes_missing"
                             : at_trace_event_name(te->event));
    cli_jw_member_bool(w, "bytes_missing", rec->flags & AT_TFLAG_BYTES_MISSING);
    switch (te->event) {
    case AT_TEV_OVERRUN:
        cli_jw_member_opt_uint(w, "lost", rec->has_lost, rec->lost);
        break;
    case AT_TEV_LINE_CHANGE:
        KEY(w, "lines");
        if (rec->line_state & AT_LINE_UNKNOWN) {
            cli_jw_null(w);
        } else {
            size_t n;
            const at_trace_line *lines = at_trace_lines(&n);
            cli_jw_object_begin(w);
            for (size_t i = 0; i < n; i++)
                cli_jw_member_bool(w, lines[i].key, rec->line_state & lines[i].bit);
            cli_jw_object_end(w);
        }
        break;
    case AT_TEV_SETTINGS:
        set_text(w, "settings", rec->payload, rec->len);
        cli_jw_member_opt_uint(w, "baud", rec->baud, rec->baud);
        break;
    case AT_TEV_NOTE:
        set_text(w, "text", rec->payload, rec->len);
        break;
    case AT_TEV_FRAMING_ERROR:
    case AT_TEV_PARITY_ERROR:
        KEY(w, "bytes");
        cli_jw_hex(w, rec->payload, rec->len);
        break;
    default:
        break;
    }
    cli_jw_object_end(w);
    emit(c);
}

static void cli_json_channel_done(cli_chan *ch)
{
    cli_json_chan *j = &ch->json;
    cli_json_writer_free(&j->command);
    cli_json_writer_free(&j->echo);
    cli_json_writer_free(&j->responses);
    cli_json_writer_free(&j->intermediate);
    cli_json_writer_free(&j->secure_result);
    cli_json_writer_free(&j->frames);
    cli_json_writer_free(&j->urcs);
    cli_json_writer_free(&j->invalid);
    chan_reset(j);
}

static void cli_json_summary(cli_ctx *c)
{
    const cli_summary *s = &c->sum;
    jw *w = &c->json_writer;
    cli_jw_reset(w); /* a line cut short by memory is not finished here */
    cli_jw_object_begin(w);
    cli_jw_member_string(w, "type", "summary");
    cli_jw_member_uint(w, "records", s->records);
    cli_jw_member_uint(w, "channels", s->channels);
    KEY(w, "bytes");
    cli_jw_object_begin(w);
    cli_jw_member_uint(w, "te_to_me", s->bytes[AT_DIR_TE_TO_ME]);
    cli_jw_member_uint(w, "me_to_te", s->bytes[AT_DIR_ME_TO_TE]);
    cli_jw_object_end(w);
    cli_jw_member_uint(w, "exchanges", s->exchanges);
    cli_jw_member_uint(w, "errors", s->errors);
    cli_jw_member_uint(w, "unanswered", s->unanswered);
    cli_jw_member_uint(w, "urcs", s->urcs);
    cli_jw_member_uint(w, "frames", s->frames);
    cli_jw_member_uint(w, "frames_with_problems", s->frames_with_problems);
    cli_jw_member_uint(w, "invalid", s->invalid);
    cli_jw_member_uint(w, "unexpected", s->unexpected);
    cli_jw_member_uint(w, "trace_events", s->trace_events);
    cli_jw_member_uint(w, "skipped_records", s->skipped_records);
    KEY(w, "findings");
    cli_jw_object_begin(w);
    cli_jw_member_uint(w, "error", s->findings[AT_SEV_ERROR]);
    cli_jw_member_uint(w, "warning", s->findings[AT_SEV_WARNING]);
    cli_jw_member_uint(w, "info", s->findings[AT_SEV_INFO]);
    cli_jw_object_end(w);
    cli_jw_member_bool(w, "complete", !s->damaged);
    KEY(w, "error");
    if (s->damaged) {
        /* a message that may quote a file name: made UTF-8 */
        const char *e = s->error ? s->error : "damaged trace";
        cli_jw_text(w, e, strlen(e));
    } else {
        cli_jw_null(w);
    }
    cli_jw_object_end(w);
    emit(c);
}

/* JSON consumers always get their summary line, here an empty and
 * incomplete one with the reason. */
static void cli_json_unreadable(cli_ctx *c)
{
    cli_json_summary(c);
}

static void cli_json_rules(cli_ctx *c, const at_rule *r, size_t n)
{
    jw *w = &c->json_writer;
    for (size_t i = 0; i < n; i++) {
        cli_jw_object_begin(w);
        cli_jw_member_string(w, "type", "rule");
        cli_jw_member_string(w, "id", r[i].id);
        cli_jw_member_string(w, "severity", at_severity_name(r[i].severity));
        cli_jw_member_string(w, "summary", r[i].summary);
        cli_jw_member_string(w, "fix", r[i].fix);
        cli_jw_object_end(w);
        emit(c);
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
