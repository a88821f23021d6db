/*
 * The session layer: pairs commands with their answers. See
 * attrace/session.h for the contract.
 *
 * Each direction's tokenizer decides on its own bytes; this layer is the
 * only place that sees both, so it carries the cross-direction facts
 * between them (the host asked for ^SISR data, the module answered) at the
 * points in the capture where they happen.
 */
#include "attrace/session.h"

#include <stddef.h>
#include <string.h>

/* Everything below works on the private part of at_session. */
typedef struct at_session_priv session_state;

/* A URC name with its length: the tables below are searched for every line. */
typedef struct urc_name {
    const char *s;
    size_t len;
} urc_name;

#define URC_NAME(lit) {lit, sizeof lit - 1}

/* URC names (PROTOCOL.md and the Cinterion AT manuals): a line with one of
 * these prefixes is unsolicited unless the running command asked for it. */
static const urc_name urc_prefixes[] = {
    URC_NAME("+CIEV"), URC_NAME("^SIS"), URC_NAME("^SISR"), URC_NAME("^SISW"),
    URC_NAME("^SISX"), URC_NAME("+CREG"), URC_NAME("+CGREG"), URC_NAME("+CEREG"),
    URC_NAME("+CRING"), URC_NAME("+CMTI"), URC_NAME("+CMT"), URC_NAME("+CDS"),
    URC_NAME("+CDSI"), URC_NAME("+CBM"), URC_NAME("+CTZV"), URC_NAME("+CTZE"),
    URC_NAME("+CTZU"), URC_NAME("+CUSD"), URC_NAME("+CCWA"), URC_NAME("+CLIP"),
    URC_NAME("+CSSU"), URC_NAME("^SBC"), URC_NAME("^SCTM_A"), URC_NAME("^SCTM_B"),
    URC_NAME("^SCKS"), URC_NAME("^SRVCFG"), URC_NAME("^SYSLOADING"),
    URC_NAME("^SHUTDOWN"), URC_NAME("+CALA"), URC_NAME("+CGEV"), URC_NAME("^SLCC"),
    URC_NAME("^SIND"),
};

/* URCs that are bare words, without "<name>:". */
static const urc_name urc_words[] = {
    URC_NAME("^SYSSTART"), URC_NAME("^SYSLOADING"), URC_NAME("^SHUTDOWN"),
    URC_NAME("RING"), URC_NAME("+PBREADY"), URC_NAME("^SYSSTART AIRPLANE MODE"),
};

at_session_config at_session_default_config(void)
{
    at_session_config c;
    memset(&c, 0, sizeof c);
    c.profile = at_profile_get(AT_PROFILE_LEGACY);
    c.stream = at_stream_default_config();
    return c;
}

static void on_te_token(void *ctx, const at_token *t);
static void on_me_token(void *ctx, const at_token *t);

void at_session_set_profile(at_session *session, const at_profile *profile)
{
    if (session)
        session->priv.cfg.profile = profile ? profile : at_profile_get(AT_PROFILE_LEGACY);
}

const at_profile *at_session_profile(const at_session *session)
{
    return session->priv.cfg.profile;
}

void at_session_init(at_session *session, const at_session_config *cfg,
                     at_event_cb cb, void *ctx)
{
    session_state *s = &session->priv;
    memset(s, 0, sizeof *s);
    s->cfg = cfg ? *cfg : at_session_default_config();
    if (!s->cfg.profile)
        s->cfg.profile = at_profile_get(AT_PROFILE_LEGACY);
    at_stream_init(&s->te, AT_DIR_TE_TO_ME, &s->cfg.stream);
    at_stream_init(&s->me, AT_DIR_ME_TO_TE, &s->cfg.stream);
    at_secret_scanner_init(&s->scan[AT_DIR_TE_TO_ME]);
    at_secret_scanner_init(&s->scan[AT_DIR_ME_TO_TE]);
    s->cb = cb;
    s->ctx = ctx;
    s->next_id = 1;
}

/* ------------------------------------------------------------------ */
/* Events                                                             */
/* ------------------------------------------------------------------ */

/* A cleared event. The line's union, most of the event's bytes, is
 * cleared only as far as the last events wrote it (ev_u_used): most
 * events hold no parsed line, or a result, which uses little of it. */
static at_event *new_event(session_state *s, at_event_kind kind, const at_token *t)
{
    at_event *ev = &s->ev;
    const size_t u_from = offsetof(at_event, line.u);
    const size_t u_to = u_from + sizeof ev->line.u;
    memset(ev, 0, u_from);
    memset((char *)ev + u_to, 0, sizeof *ev - u_to);
    if (s->ev_u_used) {
        memset(&ev->line.u, 0, s->ev_u_used);
        s->ev_u_used = 0;
    }
    ev->kind = kind;
    ev->channel = s->cfg.channel;
    ev->exchange = s->in_exchange ? &s->x : NULL;
    if (t) {
        ev->dir = t->dir;
        ev->ts = t->ts_first;
        ev->ts_end = t->ts_last;
        ev->span.off = t->off;
        ev->span.len = (uint32_t)t->len;
        ev->data = t->data;
        ev->len = t->len;
        ev->tok = t;
        ev->invalid_reason = t->reason;
        ev->n_secrets = at_secret_collect(&s->scan[t->dir], t->off, t->len, s->ev_secrets,
                                          AT_SECRET_RUNS_MAX);
        ev->secrets = s->ev_secrets;
    }
    return ev;
}

/* Passes over the bytes of the feed in progress from the scanner's
 * position on that start nothing (at_secret_skip): one search for the
 * feed's bytes, not one per token (the decoder's hot path). */
static void skip_idle(session_state *s, at_secret_scanner *sc)
{
    uint64_t scanned = at_secret_scanned(sc);
    uint64_t feed_end = s->feed_off + s->feed_len;
    if (scanned < feed_end)
        at_secret_skip(sc, s->feed_data + (scanned - s->feed_off),
                       (size_t)(feed_end - scanned));
}

/* Scans the bytes of the feed in progress up to stream offset @p end of
 * @p dir, so a token's event knows the keys its bytes prove, and no more:
 * what a later byte proves must not depend on where the feed was cut.
 * Whatever lies before the scanner's position was scanned, or skipped as
 * starting nothing, and the skip after it is done: skipping again would
 * stop where it stands. */
static void scan_more(session_state *s, at_secret_scanner *sc, uint64_t end);

static inline void scan_upto(session_state *s, at_dir dir, uint64_t end)
{
    at_secret_scanner *sc = &s->scan[dir];
    /* The common case, decided here without a call. */
    if (!s->feed_data || s->feed_dir != dir || end <= at_secret_scanned(sc))
        return;
    scan_more(s, sc, end);
}

static void scan_more(session_state *s, at_secret_scanner *sc, uint64_t end)
{
    uint64_t scanned = at_secret_scanned(sc);
    uint64_t feed_end = s->feed_off + s->feed_len;
    if (end > feed_end)
        end = feed_end;
    if (end > scanned)
        at_secret_scan(sc, s->feed_data + (scanned - s->feed_off), (size_t)(end - scanned));
    skip_idle(s, sc);
}

/* Every token passes here first: its bytes are scanned, and runs before
 * it are no longer needed (tokens of a direction come in stream order). */
static void scan_token(session_state *s, const at_token *t)
{
    at_secret_scanner *sc = &s->scan[t->dir];
    uint64_t end = t->off + t->len;
    scan_upto(s, t->dir, end);
    at_secret_token_end(sc, end);
    at_secret_forget(sc, t->off);
}

static void deliver(session_state *s)
{
    if (s->cb)
        s->cb(s->ctx, &s->ev);
}

/* Notes that the event's line union was written up to @p n bytes. */
static void used_line_union(session_state *s, size_t n)
{
    if (n > s->ev_u_used)
        s->ev_u_used = n;
}

/* Fills the event's line, cleared, with result line @p t, which parsed as
 * @p res. The line is made in the event itself: no copy of at_line_info's
 * hundreds of bytes for every OK. */
static void result_line(session_state *s, const at_token *t, const at_result *res)
{
    at_line_info *li = &s->ev.line;
    used_line_union(s, sizeof li->u.result);
    li->kind = AT_LK_RESULT;
    li->text.ptr = (const char *)t->data;
    li->text.len = t->len;
    li->text.span.off = t->off;
    li->text.span.len = (uint32_t)t->len;
    li->u.result = *res;
}

/* @p final: the final result, parsed from token @p t, or NULL. */
static void end_exchange(session_state *s, at_end_reason reason, uint64_t ts,
                         const at_token *t, const at_result *final)
{
    if (!s->in_exchange)
        return;
    s->x.end_reason = reason;
    s->x.ts_end = ts;
    at_event *ev = new_event(s, AT_EV_END, t);
    if (final)
        result_line(s, t, final);
    if (!t) {
        ev->ts = ts;
        ev->ts_end = ts;
    }
    ev->duration_ns = ts >= s->x.ts_start ? ts - s->x.ts_start : 0;
    deliver(s);
    s->in_exchange = false;
    s->in_transparent = false;
}

static bool same_ci(const char *a, size_t alen, const char *b, size_t blen);

static void emit_echo(session_state *s, const at_token *t, const char *text,
                      size_t len, at_span span, uint64_t ts, uint64_t ts_end,
                      bool attach)
{
    at_event *ev = new_event(s, AT_EV_ECHO, t);
    ev->dir = AT_DIR_ME_TO_TE;
    ev->exchange = attach ? &s->x : NULL;
    ev->span = span;
    ev->data = (const uint8_t *)text;
    ev->len = len;
    ev->ts = ts;
    ev->ts_end = ts_end;
    ev->line.text.ptr = text;
    ev->line.text.len = len;
    ev->line.text.span = span;
    if (!t) {
        ev->secrets = s->echo_secrets;
        ev->n_secrets = s->n_echo_secrets;
    }
    if (attach)
        s->x.echoed = true;
    deliver(s);
}

/* Emits the held echo: attached to the running exchange if it echoes it. */
static void flush_pending_echo(session_state *s)
{
    if (!s->echo_pending)
        return;
    s->echo_pending = false;
    bool match = s->in_exchange && !s->x.echoed &&
                 same_ci(s->echo_copy, s->echo_len, s->x.line.ptr, s->x.line.len);
    emit_echo(s, NULL, s->echo_copy, s->echo_len, s->echo_span, s->echo_ts,
              s->echo_ts_end, match);
}

/* ------------------------------------------------------------------ */
/* Host side                                                          */
/* ------------------------------------------------------------------ */

static bool is_command_text(const uint8_t *p, size_t n)
{
    if (n < 2)
        return false;
    bool a = p[0] == 'A' || p[0] == 'a';
    return a && (p[1] == 'T' || p[1] == 't' || p[1] == '/');
}

/* What the session needs to know of the commands for every answer line,
 * decided in one pass over them; ATV0/ATV1 (and what resets it) changes
 * the module's result format. */
static void note_commands(session_state *s, bool *sisr, bool *sist)
{
    at_exchange *x = &s->x;
    for (unsigned i = 0; i < x->cmdline.n_cmds; i++) {
        const at_command *c = &x->cmdline.cmds[i];
        const at_str *name = &c->name;
        /* By length first: most commands are none of these, and one
         * comparison tells them so. */
        switch (name->len) {
        case 1:
            if (AT_NAME_IS_LIT(name, "V")) {
                x->sets_verbose = true;
                if (c->type == AT_CMDT_EXEC)
                    s->numeric_results =
                        c->basic_value.len == 0 ||
                        (c->basic_value.len == 1 && c->basic_value.ptr[0] == '0');
            } else if (AT_NAME_IS_LIT(name, "Z")) {
                s->numeric_results = false;
            }
            break;
        case 2:
            if (AT_NAME_IS_LIT(name, "&F"))
                s->numeric_results = false;
            break;
        case 4:
            if (AT_NAME_IS_LIT(name, "+GSN"))
                x->asks_imei = true;
            break;
        case 5:
            if (AT_NAME_IS_LIT(name, "^SBNW"))
                x->secure = true;
            else if (AT_NAME_IS_LIT(name, "+CGSN"))
                x->asks_imei = true;
            else if (AT_NAME_IS_LIT(name, "^SISR"))
                *sisr = true;
            else if (AT_NAME_IS_LIT(name, "^SIST"))
                *sist = true;
            break;
        default:
            break;
        }
    }
}

static void begin_exchange(session_state *s, const at_token *t)
{
    if (s->in_exchange)
        end_exchange(s, AT_END_SUPERSEDED, t->ts_first, NULL, NULL);

    at_exchange *x = &s->x;
    /* All but the parsed command line, which at_parse_cmdline fills (or
     * clears on a syntax error): it is most of the struct's kilobytes. */
    const size_t cmdline_from = offsetof(at_exchange, cmdline);
    const size_t cmdline_to = cmdline_from + sizeof x->cmdline;
    memset(x, 0, cmdline_from);
    memset((char *)x + cmdline_to, 0, sizeof *x - cmdline_to);
    x->id = s->next_id++;
    size_t n = t->len < sizeof s->line_copy ? t->len : sizeof s->line_copy;
    memcpy(s->line_copy, t->data, n);
    x->line.ptr = s->line_copy;
    x->line.len = n;
    x->line.span.off = t->off;
    x->line.span.len = (uint32_t)n;
    x->span = x->line.span;
    x->ts_start = t->ts_first;
    x->parse_ok = at_parse_cmdline(s->line_copy, n, t->off, &x->cmdline, NULL) == AT_OK;
    if (!x->parse_ok)
        memset(&x->cmdline, 0, sizeof x->cmdline);
    bool sisr = false, sist = false;
    note_commands(s, &sisr, &sist);
    s->in_exchange = true;

    /* Tell the module's tokenizer what this command makes it send. */
    at_stream_hint(&s->me, AT_HINT_PEER_IDLE, on_me_token, s);
    if (sisr)
        at_stream_hint(&s->me, AT_HINT_EXPECT_SISR, on_me_token, s);
    if (sist) {
        at_stream_hint(&s->me, AT_HINT_EXPECT_TRANSPARENT, on_me_token, s);
        s->in_transparent = true;
    }

    new_event(s, AT_EV_COMMAND, t);
    deliver(s);
    flush_pending_echo(s);
}

/* The module's frames are READ answers. */
static void decode_frame(const session_state *s, at_dir dir, const uint8_t *data, size_t len,
                         uint64_t off, at_frame *f)
{
    if (dir == AT_DIR_ME_TO_TE)
        at_frame_decode_response(data, len, off, s->cfg.profile, f);
    else
        at_frame_decode(data, len, off, s->cfg.profile, f);
}

/* The value of every key unit of a decoded frame is secret by the frame's
 * structure: the content layers of the scanner find a key by its DER or
 * PEM shape, which a key cut after a few bytes, or written in another
 * format, does not have. Proven by the unit's ParamId. */
static void mark_key_units(at_secret_scanner *sc, const at_frame *f)
{
    for (unsigned i = 0; i < f->n_units; i++) {
        const at_frame_unit *u = &f->units[i];
        if (u->param_id == AT_PARAM_KEY)
            at_secret_mark(sc, u->value_span.off, u->value_span.len, AT_SECRET_KEY_UNIT,
                           u->id_span.off);
    }
}

/* Frames, payload and transparent blocks, and invalid runs: the same in
 * both directions. */
static void binary_token(session_state *s, const at_token *t)
{
    at_event *ev;
    switch (t->kind) {
    case AT_TOK_FRAME:
        decode_frame(s, t->dir, t->data, t->len, t->off, &s->frame);
        mark_key_units(&s->scan[t->dir], &s->frame);
        ev = new_event(s, AT_EV_FRAME, t);
        ev->frame = &s->frame;
        if (s->in_exchange)
            s->x.n_frames++;
        break;
    case AT_TOK_PAYLOAD:
    case AT_TOK_TRANSPARENT:
        ev = new_event(s, t->kind == AT_TOK_PAYLOAD ? AT_EV_PAYLOAD : AT_EV_TRANSPARENT, t);
        ev->block_off = t->block_off;
        ev->last_block = (t->flags & AT_TOKF_LAST_BLOCK) != 0;
        if (s->in_exchange)
            s->x.payload_bytes[t->dir] += t->len;
        break;
    default:
        new_event(s, AT_EV_INVALID, t);
        break;
    }
    deliver(s);
}

static void on_te_token(void *ctx, const at_token *t)
{
    session_state *s = ctx;
    at_event *ev;
    scan_token(s, t);
    switch (t->kind) {
    case AT_TOK_LINE: {
        if (is_command_text(t->data, t->len)) {
            begin_exchange(s, t);
            return;
        }
        const at_token *line = t;
        size_t k = s->in_transparent ? 0 : at_command_start(t->data, t->len);
        if (k == t->len)
            k = 0;
        at_token head;
        if (k) {
            /* What precedes the command is text the module ignored; the
             * command is one as any other. */
            head = *t;
            head.len = k;
            t = &head;
        }
        ev = new_event(s, AT_EV_UNEXPECTED, t);
        ev->line.text.ptr = (const char *)t->data;
        ev->line.text.len = t->len;
        ev->line.text.span = ev->span;
        if (s->in_transparent && t->len == 3 && memcmp(t->data, "+++", 3) == 0) {
            /* The escape back to command mode: the module's OK now ends
             * transparent data. */
            ev->kind = AT_EV_INTERMEDIATE;
            at_stream_hint(&s->me, AT_HINT_PEER_ESCAPED, on_me_token, s);
        }
        deliver(s);
        if (k) {
            at_token cmd = *line;
            cmd.data += k;
            cmd.off += k;
            cmd.len -= k;
            begin_exchange(s, &cmd);
        }
        return;
    }
    default:
        binary_token(s, t);
        return;
    }
}

/* ------------------------------------------------------------------ */
/* Module side                                                        */
/* ------------------------------------------------------------------ */

/* Two texts equal but for letter case, as names are compared
 * (at_name_is_n). */
static bool same_ci(const char *a, size_t alen, const char *b, size_t blen)
{
    /* An echo is mostly its command byte for byte: one block compare. */
    if (alen == blen && memcmp(a, b, alen) == 0)
        return true;
    return at_name_is_n(&(at_str){.ptr = a, .len = alen}, b, blen);
}

static bool in_list(const char *p, size_t n, const urc_name *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (same_ci(p, n, list[i].s, list[i].len))
            return true;
    return false;
}

/* An IMEI answer: 14 to 17 digits, bare or as "+CGSN: <digits>" (quotes allowed). */
static bool parse_imei(const at_token *t, const at_str *prefix, at_str *out)
{
    const char *p = (const char *)t->data;
    size_t n = t->len, i = 0;
    if (prefix->ptr) {
        i = prefix->len + 1; /* past "<name>:" */
        while (i < n && p[i] == ' ')
            i++;
    }
    size_t end = n;
    if (i < end && p[i] == '"' && p[end - 1] == '"' && end - i >= 2) {
        i++;
        end--;
    }
    if (end - i < 14 || end - i > 17)
        return false;
    for (size_t k = i; k < end; k++)
        if (p[k] < '0' || p[k] > '9')
            return false;
    out->ptr = p + i;
    out->len = end - i;
    out->span.off = t->off + i;
    out->span.len = (uint32_t)(end - i);
    return true;
}

/* Fills @p li with what the library knows about this line's contents. */
static void parse_known_line(const session_state *s, const at_token *t, at_line_info *li)
{
    const char *p = (const char *)t->data;
    size_t n = t->len;
    li->text.ptr = p;
    li->text.len = n;
    li->text.span.off = t->off;
    li->text.span.len = (uint32_t)n;
    li->prefix = at_line_prefix(p, n, t->off);

    const at_str *pre = &li->prefix;
    at_status st = AT_OK;
    if (!pre->ptr) {
        /* no prefix */
    } else if (AT_NAME_IS_LIT(pre, "^SBNR")) {
        li->kind = AT_LK_SBNR;
        st = at_parse_sbnr(p, n, t->off, &li->u.sbnr, &li->err_off);
    } else if (AT_NAME_IS_LIT(pre, "+CIEV")) {
        at_str name, rest;
        st = at_parse_ciev(p, n, t->off, &name, &rest, &li->err_off);
        if (st == AT_OK && AT_NAME_IS_LIT(&name, "is_cert")) {
            li->kind = AT_LK_CIEV_IS_CERT;
            st = at_parse_ciev_is_cert(p, n, t->off, &li->u.ciev_cert, &li->err_off);
        } else {
            li->kind = AT_LK_CIEV;
            li->u.ciev.name = name;
            li->u.ciev.rest = rest;
        }
    } else if (AT_NAME_IS_LIT(pre, "^SIS")) {
        li->kind = AT_LK_SIS;
        st = at_parse_sis(p, n, t->off, &li->u.sis, &li->err_off);
    } else if (AT_NAME_IS_LIT(pre, "^SISR") || AT_NAME_IS_LIT(pre, "^SISW")) {
        li->kind = AT_LK_SIS_RW;
        st = at_parse_sis_rw(p, n, t->off, &li->u.sis_rw, &li->err_off);
    }
    if (st != AT_OK) {
        li->parse_error = true;
        li->kind = AT_LK_TEXT;
        return;
    }
    if (li->kind == AT_LK_TEXT && s->in_exchange &&
        s->x.asks_imei &&
        parse_imei(t, pre, &li->u.imei))
        li->kind = AT_LK_IMEI;
}

/* Whether a prefixed line answers the running command rather than
 * announcing something on its own: "^SISR: 1,20" answers AT^SISR, but the
 * same line while AT^SBNR runs is the data-available URC. */
static bool answers_running_command(const session_state *s, const at_str *prefix)
{
    if (!s->in_exchange)
        return false;
    if (!prefix->ptr)
        return true;
    for (unsigned i = 0; i < s->x.cmdline.n_cmds; i++) {
        const at_str *name = &s->x.cmdline.cmds[i].name;
        if (same_ci(name->ptr, name->len, prefix->ptr, prefix->len))
            return true;
    }
    return !in_list(prefix->ptr, prefix->len, urc_prefixes,
                    sizeof urc_prefixes / sizeof urc_prefixes[0]);
}

static void me_line(session_state *s, const at_token *t)
{
    const char *p = (const char *)t->data;
    size_t n = t->len;
    at_event *ev;

    if (is_command_text(t->data, n)) {
        /* "AT..." or "A/": no SECURE CMD line, which starts with 'S'. */
        at_stream_note_ready(&s->me, t->off, false);
        at_span span = {t->off, (uint32_t)n};
        flush_pending_echo(s);
        if (s->in_exchange && !s->x.echoed &&
            same_ci(p, n, s->x.line.ptr, s->x.line.len)) {
            emit_echo(s, t, p, n, span, t->ts_first, t->ts_last, true);
            return;
        }
        /* Its command has not arrived yet: hold it for the command. */
        s->echo_pending = true;
        s->echo_len = n < sizeof s->echo_copy ? n : sizeof s->echo_copy;
        memcpy(s->echo_copy, p, s->echo_len);
        s->echo_span = span;
        s->n_echo_secrets = at_secret_collect(&s->scan[AT_DIR_ME_TO_TE], t->off, s->echo_len,
                                              s->echo_secrets, AT_SECRET_RUNS_MAX);
        s->echo_ts = t->ts_first;
        s->echo_ts_end = t->ts_last;
        return;
    }
    flush_pending_echo(s);

    at_secure_result sec = at_parse_secure_result(p, n);
    at_stream_note_ready(&s->me, t->off, sec == AT_SEC_READY);
    if (sec != AT_SEC_NONE) {
        if (sec != AT_SEC_READY)
            at_stream_hint(&s->te, AT_HINT_PEER_ANSWERED, on_te_token, s);
        ev = new_event(s, sec == AT_SEC_READY ? AT_EV_INTERMEDIATE : AT_EV_SECURE_RESULT, t);
        ev->line.kind = AT_LK_SECURE;
        ev->line.text.ptr = p;
        ev->line.text.len = n;
        ev->line.text.span = ev->span;
        used_line_union(s, sizeof ev->line.u.secure);
        ev->line.u.secure = sec;
        if (s->in_exchange) {
            if (sec == AT_SEC_READY)
                s->x.ts_ready = t->ts_first;
            else
                s->x.secure_result = sec;
        }
        deliver(s);
        return;
    }

    /* The answer to ATV0/ATV1 itself may come in either format. */
    bool numeric = s->numeric_results || (s->in_exchange && s->x.sets_verbose);
    at_result res;
    if (at_parse_result(p, n, t->off, numeric, &res) == AT_OK &&
        res.kind != AT_RES_NONE) {
        if (res.kind == AT_RES_RING) {
            ev = new_event(s, AT_EV_URC, t);
            ev->exchange = NULL;
            result_line(s, t, &res);
            if (s->in_exchange)
                s->x.n_urcs++;
            deliver(s);
            return;
        }
        if (s->in_exchange && at_result_is_final(res.kind)) {
            at_stream_hint(&s->te, AT_HINT_PEER_ANSWERED, on_te_token, s);
            s->x.has_final = true;
            s->x.final = res;
            end_exchange(s, AT_END_RESULT, t->ts_last, t, &res);
            return;
        }
        ev = new_event(s, s->in_exchange ? AT_EV_INTERMEDIATE : AT_EV_UNEXPECTED, t);
        result_line(s, t, &res);
        deliver(s);
        return;
    }

    /* The line is parsed into the event itself (new_event clears it). */
    ev = new_event(s, AT_EV_UNEXPECTED, t);
    used_line_union(s, sizeof ev->line.u);
    parse_known_line(s, t, &ev->line);
    if (ev->line.kind == AT_LK_SIS_RW)
        at_stream_note_sisr(&s->me, t->off, ev->line.u.sis_rw.count);
    at_event_kind kind;
    if (answers_running_command(s, &ev->line.prefix))
        kind = AT_EV_RESPONSE;
    else if (ev->line.prefix.ptr ||
             in_list(p, n, urc_words, sizeof urc_words / sizeof urc_words[0]))
        kind = AT_EV_URC;
    else
        kind = AT_EV_UNEXPECTED;
    ev->kind = kind;
    if (kind == AT_EV_URC) {
        ev->exchange = NULL;
        if (s->in_exchange)
            s->x.n_urcs++;
    } else if (kind == AT_EV_RESPONSE) {
        s->x.n_responses++;
    }
    deliver(s);
}

static void on_me_token(void *ctx, const at_token *t)
{
    session_state *s = ctx;
    scan_token(s, t);
    if (t->kind == AT_TOK_LINE) {
        /* A "+++" the host sent before this line is its escape, complete:
         * it comes first. */
        at_stream_hint(&s->te, AT_HINT_PEER_SPOKE, on_te_token, s);
        me_line(s, t);
        return;
    }
    /* A READ response answers the host's frame: report that first. */
    if (t->kind == AT_TOK_FRAME)
        at_stream_hint(&s->te, AT_HINT_PEER_ANSWERED, on_te_token, s);
    binary_token(s, t);
}

/* ------------------------------------------------------------------ */
/* Feeding                                                            */
/* ------------------------------------------------------------------ */

void at_session_feed(at_session *session, at_dir dir, uint64_t ts_ns,
                     const uint8_t *data, size_t len)
{
    session_state *s = &session->priv;
    s->feed_data = data;
    s->feed_len = len;
    s->feed_off = at_secret_scanned(&s->scan[dir]);
    s->feed_dir = dir;
    skip_idle(s, &s->scan[dir]);
    if (dir == AT_DIR_TE_TO_ME)
        at_stream_feed(&s->te, ts_ns, data, len, on_te_token, s);
    else
        at_stream_feed(&s->me, ts_ns, data, len, on_me_token, s);
    scan_upto(s, dir, s->feed_off + len);
    s->feed_data = NULL;
}

unsigned at_session_secrets(const at_session *session, at_dir dir, uint64_t off, uint64_t len,
                            at_secret *out, unsigned cap)
{
    const session_state *s = &session->priv;
    const at_stream *st = dir == AT_DIR_TE_TO_ME ? &s->te : &s->me;
    const uint8_t *data;
    size_t n;
    uint64_t at;
    if (!at_stream_frame_in_progress(st, &data, &n, &at))
        return at_secret_collect(&s->scan[dir], off, len, out, cap);
    /* The frame's key units as far as they have arrived, on a copy: the
     * session marks them itself when the frame is complete. */
    at_secret_scanner sc = s->scan[dir];
    at_frame f;
    decode_frame(s, dir, data, n, at, &f);
    mark_key_units(&sc, &f);
    return at_secret_collect(&sc, off, len, out, cap);
}

void at_session_gap(at_session *session, at_dir dir, uint64_t ts_ns)
{
    session_state *s = &session->priv;
    at_stream *st = dir == AT_DIR_TE_TO_ME ? &s->te : &s->me;
    at_stream_gap(st, ts_ns, dir == AT_DIR_TE_TO_ME ? on_te_token : on_me_token, s);
    at_event *ev = new_event(s, AT_EV_INVALID, NULL);
    ev->dir = dir;
    ev->ts = ts_ns;
    ev->ts_end = ts_ns;
    ev->span.off = at_stream_offset(st);
    ev->invalid_reason = AT_TR_CUT_BY_GAP;
    deliver(s);
}

void at_session_finish(at_session *session, uint64_t ts_ns)
{
    session_state *s = &session->priv;
    at_stream_finish(&s->te, ts_ns, on_te_token, s);
    at_stream_finish(&s->me, ts_ns, on_me_token, s);
    flush_pending_echo(s);
    end_exchange(s, AT_END_STREAM_END, ts_ns, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* Names                                                              */
/* ------------------------------------------------------------------ */

const char *at_event_kind_name(at_event_kind k)
{
    switch (k) {
    case AT_EV_COMMAND: return "command";
    case AT_EV_ECHO: return "echo";
    case AT_EV_RESPONSE: return "response";
    case AT_EV_INTERMEDIATE: return "intermediate";
    case AT_EV_SECURE_RESULT: return "secure_result";
    case AT_EV_FRAME: return "frame";
    case AT_EV_PAYLOAD: return "payload";
    case AT_EV_TRANSPARENT: return "transparent";
    case AT_EV_END: return "end";
    case AT_EV_URC: return "urc";
    case AT_EV_UNEXPECTED: return "unexpected";
    case AT_EV_INVALID: return "invalid";
    }
    return "unknown";
}

const char *at_end_reason_name(at_end_reason r)
{
    switch (r) {
    case AT_END_RESULT: return "result";
    case AT_END_SUPERSEDED: return "superseded";
    case AT_END_STREAM_END: return "stream_end";
    case AT_END_GAP: return "gap";
    }
    return "unknown";
}

const char *at_line_kind_name(at_line_kind k)
{
    switch (k) {
    case AT_LK_TEXT: return "text";
    case AT_LK_RESULT: return "result";
    case AT_LK_SECURE: return "secure";
    case AT_LK_SBNR: return "sbnr";
    case AT_LK_CIEV_IS_CERT: return "ciev_is_cert";
    case AT_LK_CIEV: return "ciev";
    case AT_LK_SIS: return "sis";
    case AT_LK_SIS_RW: return "sis_rw";
    case AT_LK_IMEI: return "imei";
    }
    return "unknown";
}
