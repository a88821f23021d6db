/*
 * The analyzer's lifecycle, its event dispatch and the session model: the
 * IMEI, flow control, secOpt per service profile, the server certificates
 * the module reported (+CIEV: is_cert) and the module profile guess. The
 * certificate store is updated by the exchange rules (diagnose.c) and by
 * the listing (listing.c).
 */
#include "analysis_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

at_analyzer_config at_analyzer_default_config(void)
{
    at_analyzer_config c;
    memset(&c, 0, sizeof c);
    c.pause_warn_ms = 1000;
    return c;
}

/* The client certificate of the config, parsed into the analyzer's own
 * copy: 0, or -1 if the bytes are not one certificate. */
static int take_config_cert(at_analyzer *an)
{
    at_cert_summary *s = malloc(sizeof *s);
    int rc = s ? at_cert_parse(an->cfg.client_cert_der, an->cfg.client_cert_len, s,
                               &an->config_cert, NULL, 0)
               : -1;
    if (rc == 0) {
        an_copy(an->config_subject, sizeof an->config_subject, s->subject, strlen(s->subject));
        an_copy(an->config_thumb, sizeof an->config_thumb, s->thumbprint, strlen(s->thumbprint));
        an->client_cert = an->config_cert;
        an->model.has_client_cert = true;
    }
    free(s);
    /* Borrowed for this call only. */
    an->cfg.client_cert_der = NULL;
    an->cfg.client_cert_len = 0;
    return rc;
}

at_analyzer *at_analyzer_new(const at_analyzer_config *cfg, at_finding_cb cb,
                             void *ctx)
{
    at_analyzer *an = calloc(1, sizeof *an);
    if (!an)
        return NULL;
    an->frame_buf = malloc(AT_STREAM_BIN_MAX);
    if (!an->frame_buf) {
        free(an);
        return NULL;
    }
    an->cfg = cfg ? *cfg : at_analyzer_default_config();
    if (an->cfg.pause_warn_ms == 0)
        an->cfg.pause_warn_ms = 1000;
    an->cb = cb;
    an->ctx = ctx;
    an->model.profile = an->cfg.profile ? an->cfg.profile : at_profile_get(AT_PROFILE_LEGACY);
    an->model.profile_given = an->cfg.profile != NULL;
    if (an->cfg.client_cert_der && take_config_cert(an) != 0) {
        at_analyzer_free(an);
        return NULL;
    }
    return an;
}

at_analyzer *at_analyzer_new_for_session(at_session *session, uint16_t channel,
                                         const at_analyzer_config *cfg,
                                         at_event_cb on_event, void *event_ctx,
                                         at_finding_cb on_finding, void *finding_ctx)
{
    at_analyzer_config acfg = cfg ? *cfg : at_analyzer_default_config();
    acfg.session = session;
    at_session_config scfg = at_session_default_config();
    scfg.channel = channel;
    if (acfg.profile)
        scfg.profile = acfg.profile;
    at_session_init(session, &scfg, on_event, event_ctx);
    return at_analyzer_new(&acfg, on_finding, finding_ctx);
}

static void exchange_clear(at_analyzer *an)
{
    /* Once an exchange; few carry a certificate (X509_free(NULL) costs
     * a call into libcrypto all the same). */
    if (an->x.frame_cert)
        X509_free(an->x.frame_cert);
    if (an->x.has_frame) {
        memset(&an->x, 0, sizeof an->x);
        return;
    }
    /* The host frame's details (kilobytes: DNs, secret runs) are written
     * only together with has_frame, so without it they are still zero:
     * most exchanges carry no frame, and this runs once per exchange. */
    const size_t frame_from = offsetof(an_exchange, det);
    const size_t frame_to = offsetof(an_exchange, frame_cert);
    memset(&an->x, 0, frame_from);
    memset((char *)&an->x + frame_to, 0, sizeof an->x - frame_to);
}

void at_analyzer_free(at_analyzer *an)
{
    if (!an)
        return;
    exchange_clear(an);
    if (an->client_from_trace)
        X509_free(an->client_cert);
    X509_free(an->config_cert);
    EVP_MD_free(an->sha1);
    free(an->frame_buf);
    free(an);
}

const at_frame_details *at_analyzer_frame(const at_analyzer *an)
{
    return an && an->cur_valid ? &an->cur : NULL;
}

const at_model *at_analyzer_model(const at_analyzer *an)
{
    return an ? &an->model : NULL;
}

/* ------------------------------------------------------------------ */
/* Helpers shared by the modules                                      */
/* ------------------------------------------------------------------ */

size_t an_fmt(char *out, size_t cap, const char *fmt, ...)
{
    if (cap == 0)
        return 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0) {
        out[0] = '\0';
        return 0;
    }
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

void an_copy(char *dst, size_t cap, const char *s, size_t n)
{
    if (cap == 0)
        return;
    if (!s)
        n = 0;
    if (n > cap - 1)
        n = cap - 1;
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
}

static int up(int c)
{
    return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
}

bool an_hex_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (up((unsigned char)a[i]) != up((unsigned char)b[i]))
            return false;
    return true;
}

void an_date_of(uint64_t ts_ns, int *y, int *m, int *d)
{
    /* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
    int64_t z = (int64_t)(ts_ns / UINT64_C(86400000000000)) + 719468;
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t dd = doy - (153 * mp + 2) / 5 + 1;
    int64_t mm = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (mm <= 2));
    *m = (int)mm;
    *d = (int)dd;
}

bool an_guess_newer(at_analyzer *an)
{
    const at_profile *newer = at_profile_get(AT_PROFILE_NEWER);
    if (an->model.profile_given || an->model.profile == newer)
        return false;
    an->model.profile = newer;
    if (an->cfg.session)
        at_session_set_profile(an->cfg.session, newer);
    return true;
}

/* ------------------------------------------------------------------ */
/* Commands that change the model when the module accepts them        */
/* ------------------------------------------------------------------ */

static bool str_is(const at_str *s, const char *lit)
{
    return at_name_is(s, lit);
}

/* AT^SISS=<id>,secOpt,<value...>: the value may be quoted ("1,5,9") or
 * spread over several unquoted parameters (1,5,9). */
static void note_siss(at_analyzer *an, const at_command *c)
{
    if (c->type != AT_CMDT_SET || c->n_params < 2 || !str_is(&c->params[1], "secOpt"))
        return;
    const at_str *id = &c->params[0];
    unsigned v = 0;
    if (!id->ptr || id->len == 0 || id->len > 3)
        return;
    for (size_t i = 0; i < id->len; i++) {
        if (id->ptr[i] < '0' || id->ptr[i] > '9')
            return;
        v = v * 10 + (unsigned)(id->ptr[i] - '0');
    }
    if (v >= AT_MODEL_SERVICES)
        return;
    at_service *sv = &an->model.services[v];
    char buf[sizeof sv->secopt];
    size_t n = 0;
    for (unsigned k = 2; k < c->n_params; k++) {
        const at_str *p = &c->params[k];
        if (k > 2 && n + 1 < sizeof buf)
            buf[n++] = ',';
        for (size_t i = 0; i < p->len && n + 1 < sizeof buf; i++)
            if (p->ptr[i] != ' ')
                buf[n++] = p->ptr[i];
    }
    buf[n] = '\0';
    sv->has_secopt = true;
    memcpy(sv->secopt, buf, n + 1);
}

static void note_settings(at_analyzer *an, const at_exchange *xe)
{
    for (unsigned i = 0; i < xe->cmdline.n_cmds; i++) {
        const at_command *c = &xe->cmdline.cmds[i];
        if (AT_NAME_IS_LIT(&c->name, "\\Q")) {
            bool on = c->basic_value.len == 1 && c->basic_value.ptr[0] == '1';
            if (on && !an->model.xonxoff)
                an->xonxoff_exchange = xe->id;
            an->model.xonxoff = on;
        } else if (AT_NAME_IS_LIT(&c->name, "^SISS")) {
            note_siss(an, c);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Events                                                             */
/* ------------------------------------------------------------------ */

static bool is_secure_transfer(const at_exchange *xe)
{
    for (unsigned i = 0; i < xe->cmdline.n_cmds; i++)
        if (AT_NAME_IS_LIT(&xe->cmdline.cmds[i].name, "^SBNW") &&
            xe->cmdline.cmds[i].type == AT_CMDT_SET)
            return true;
    return false;
}

static void sync_exchange(an_exchange *x, const at_exchange *xe)
{
    x->secure_result = xe->secure_result;
    x->has_final = xe->has_final;
    if (xe->has_final) {
        x->final = xe->final.kind;
        x->final_has_code = xe->final.has_code;
        x->final_code = xe->final.code;
    }
    x->end_reason = xe->end_reason;
    x->ts_ready = xe->ts_ready;
}

static void begin(at_analyzer *an, const at_event *ev)
{
    /* A closed exchange is all zero: exchange_clear ran when it closed
     * (or it never opened), and nothing writes it while it is closed. */
    if (an->x.open) {
        an_exchange_end(an); /* the END never came: judge what there is */
        exchange_clear(an);
    }
    const at_exchange *xe = ev->exchange;
    an->x.open = true;
    an->x.id = xe->id;
    an->x.secure = is_secure_transfer(xe);
}

static void ciev_cert(at_analyzer *an, const at_ciev_is_cert *c)
{
    if (c->srv_profile >= AT_MODEL_SERVICES)
        return;
    at_service *sv = &an->model.services[c->srv_profile];
    sv->has_server_cert = true;
    an_copy(sv->server_issuer, sizeof sv->server_issuer, c->issuer.ptr, c->issuer.len);
    an_copy(sv->server_subject, sizeof sv->server_subject, c->subject.ptr, c->subject.len);
    an_copy(sv->server_thumbprint, sizeof sv->server_thumbprint, c->thumbprint.ptr,
            c->thumbprint.len);
}

/* A hex-digit line or PEM text the host typed where the frame belongs. */
static void host_text(at_analyzer *an, const at_event *ev)
{
    an_exchange *x = &an->x;
    const uint8_t *p = ev->data;
    size_t n = ev->len;
    if (!x->open || !x->secure || x->has_frame || !p)
        return;
    if (an_starts_pem(p, n)) {
        if (!x->pem_text) {
            x->pem_text = true;
            x->pem_off = ev->span.off;
            x->pem_ts = ev->ts;
        }
        return;
    }
    size_t digits = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (hex)
            digits++;
        else if (c != ' ' && c != '\t')
            return;
    }
    if (digits < 4)
        return;
    if (!x->hex_text) {
        x->hex_text = true;
        x->hex_off = ev->span.off;
        x->hex_ts = ev->ts;
        an_copy(x->hex_sample, sizeof x->hex_sample, (const char *)p, n < 16 ? n : 16);
    }
    x->hex_chars += digits;
    x->hex_lines++;
}

static void me_line(at_analyzer *an, const at_event *ev)
{
    switch (ev->line.kind) {
    case AT_LK_IMEI:
        an->model.has_imei = true;
        an_copy(an->model.imei, sizeof an->model.imei, ev->line.u.imei.ptr,
                ev->line.u.imei.len);
        an_copy(an->imei_cmd, sizeof an->imei_cmd, "+CGSN", 5);
        if (ev->exchange)
            for (unsigned i = 0; i < ev->exchange->cmdline.n_cmds; i++)
                if (AT_NAME_IS_LIT(&ev->exchange->cmdline.cmds[i].name, "+GSN"))
                    an_copy(an->imei_cmd, sizeof an->imei_cmd, "+GSN", 4);
        break;
    case AT_LK_SBNR:
        an_sbnr(an, ev);
        break;
    case AT_LK_CIEV_IS_CERT:
        ciev_cert(an, &ev->line.u.ciev_cert);
        break;
    case AT_LK_SIS:
        an_sis(an, ev);
        break;
    default:
        break;
    }
}

void at_analyzer_event(at_analyzer *an, const at_event *ev)
{
    if (!an || !ev)
        return;
    an->cur_valid = false;
    if (ev->exchange && an->x.open && ev->exchange->id == an->x.id)
        sync_exchange(&an->x, ev->exchange);
    if (ev->dir == AT_DIR_TE_TO_ME) {
        an->te_events++;
        if (ev->kind != AT_EV_COMMAND && an->x.open && an->x.ready_seen)
            an->x.te_after_ready = true;
    }

    switch (ev->kind) {
    case AT_EV_COMMAND:
        if (ev->exchange) {
            begin(an, ev);
            sync_exchange(&an->x, ev->exchange);
        }
        break;
    case AT_EV_INTERMEDIATE:
        if (ev->line.kind != AT_LK_SECURE || ev->line.u.secure != AT_SEC_READY)
            break;
        if (an->x.open && ev->exchange) {
            if (!an->x.ready_seen) {
                an->x.ready_seen = true;
                an->x.ready_ts_end = ev->ts_end;
            }
        } else {
            an->orphan_ready = true;
            an->orphan_te_events = an->te_events;
        }
        break;
    case AT_EV_SECURE_RESULT:
        if (!ev->exchange) {
            an_orphan_result(an, ev);
        } else if (an->x.open) {
            an->x.has_result_line = true;
            an_copy(an->x.result_text, sizeof an->x.result_text, ev->line.text.ptr,
                    ev->line.text.len);
            an->x.result_off = ev->span.off;
            an->x.result_ts = ev->ts;
        }
        break;
    case AT_EV_FRAME:
        an_frame_event(an, ev);
        break;
    case AT_EV_END:
        if (!an->x.open || !ev->exchange || ev->exchange->id != an->x.id)
            break;
        an->x.ended = true;
        if (ev->line.text.ptr) {
            an->x.has_final_line = true;
            an_copy(an->x.final_text, sizeof an->x.final_text, ev->line.text.ptr,
                    ev->line.text.len);
            an->x.final_off = ev->span.off;
            an->x.final_ts = ev->ts;
        }
        if (!ev->exchange->has_final || ev->exchange->final.kind == AT_RES_OK)
            note_settings(an, ev->exchange);
        an_exchange_end(an);
        exchange_clear(an);
        break;
    case AT_EV_RESPONSE:
    case AT_EV_URC:
        if (ev->dir == AT_DIR_ME_TO_TE)
            me_line(an, ev);
        break;
    case AT_EV_UNEXPECTED:
        if (ev->dir == AT_DIR_TE_TO_ME)
            host_text(an, ev);
        else
            me_line(an, ev);
        break;
    case AT_EV_ECHO:
    case AT_EV_PAYLOAD:
    case AT_EV_TRANSPARENT:
    case AT_EV_INVALID:
        break;
    }
}

void at_analyzer_finish(at_analyzer *an)
{
    if (!an)
        return;
    an->cur_valid = false;
    /* An exchange whose END the caller never fed (the session was not
     * finished): judge it on what was seen. */
    if (an->x.open) {
        an_exchange_end(an);
        exchange_clear(an);
    }
}
