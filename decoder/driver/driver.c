/*
 * driver.c - the module driver (attrace/driver.h): bytes go out through the
 * serial layer and into the session as TE->ME, bytes read go into the
 * session as ME->TE; the session's events decide when an exchange is over.
 */
#define _GNU_SOURCE 1

#include "attrace/driver.h"
#include "attrace/trace.h"

#include "clock.h"
#include "errbuf.h"
#include "serial.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define URC_QUEUE 32u

struct at_driver {
    at_driver_config cfg;
    at_serial_port port;
    at_session session;
    at_analyzer *an;
    at_trace_writer *tw;
    bool lost;
    int64_t last_end_ms;      /* CLOCK_MONOTONIC of the last exchange's end, 0 = none */
    char err[768];

    /* The exchange being driven. */
    at_driver_reply *cur;
    bool waiting;             /* cur is being filled */
    bool done;                /* its END arrived */
    bool want_payload;        /* the module's prompt triggers a payload */
    bool prompt_seen;

    /* at_driver_escape: waiting for the module's result to +++ */
    bool escaping;
    bool escape_answered;

    /* URC lines not yet looked at by at_driver_wait_urc. */
    char urcs[URC_QUEUE][AT_DRIVER_TEXT_MAX];
    unsigned urc_head, urc_n;
};

at_driver_config at_driver_default_config(void)
{
    at_driver_config c;
    memset(&c, 0, sizeof c);
    c.baud = 115200;
    c.timeout_ms = 5000;
    c.secure_timeout_ms = 15000;
    c.gap_ms = 100;
    return c;
}

/* ------------------------------------------------------------------ */
/* Trace                                                              */
/* ------------------------------------------------------------------ */

static void trace_rec(at_driver *d, uint64_t ts, at_dir dir, at_trace_event ev,
                      const void *data, size_t len)
{
    if (!d->tw)
        return;
    at_trace_record r;
    memset(&r, 0, sizeof r);
    r.ts_ns = ts;
    r.dir = dir;
    r.event = ev;
    r.channel = d->cfg.channel;
    r.line_state = AT_LINE_UNKNOWN;
    r.baud = d->cfg.baud;
    r.payload = data;
    r.len = len;
    if (at_trace_write(d->tw, &r) != 0 && !d->err[0])
        at_err_set(d->err, sizeof d->err, "%s", at_trace_writer_error(d->tw));
}

void at_driver_note(at_driver *d, const char *text)
{
    trace_rec(d, at_clock_real_ns(), AT_DIR_TE_TO_ME, AT_TEV_NOTE, text, strlen(text));
}

/* ------------------------------------------------------------------ */
/* Session events                                                     */
/* ------------------------------------------------------------------ */

static void copy_text(char *dst, size_t cap, const at_str *s)
{
    size_t n = s->len < cap - 1 ? s->len : cap - 1;
    if (n)
        memcpy(dst, s->ptr, n);
    dst[n] = '\0';
}

static void keep_line(at_driver_reply *r, const at_str *s)
{
    char **v = realloc(r->lines, (r->n_lines + 1) * sizeof *v);
    char *l = v ? malloc(s->len + 1) : NULL;
    if (!l) {
        if (v)
            r->lines = v;
        r->lines_dropped = true;
        return;
    }
    r->lines = v;
    if (s->len)
        memcpy(l, s->ptr, s->len);
    l[s->len] = '\0';
    r->lines[r->n_lines++] = l;
}

static void keep_urc(at_driver *d, const at_str *s)
{
    unsigned slot;
    if (d->urc_n == URC_QUEUE) { /* the oldest makes room */
        slot = d->urc_head;
        d->urc_head = (d->urc_head + 1) % URC_QUEUE;
    } else {
        slot = (d->urc_head + d->urc_n++) % URC_QUEUE;
    }
    copy_text(d->urcs[slot], sizeof d->urcs[slot], s);
}

static bool is_current(const at_driver *d, const at_event *ev)
{
    return d->waiting && ev->exchange && d->cur->exchange &&
           ev->exchange->id == d->cur->exchange;
}

void at_driver_reply_event(at_driver_reply *r, const at_event *ev)
{
    switch (ev->kind) {
    case AT_EV_COMMAND:
        if (ev->exchange) {
            r->exchange = ev->exchange->id;
            r->secure_cmd = ev->exchange->secure;
        }
        break;
    case AT_EV_ECHO: r->echoed = true; break;
    case AT_EV_INTERMEDIATE:
        if (ev->line.kind == AT_LK_SECURE && ev->line.u.secure == AT_SEC_READY)
            r->ready = true;
        break;
    case AT_EV_RESPONSE:
        if (ev->line.kind == AT_LK_IMEI)
            copy_text(r->imei, sizeof r->imei, &ev->line.u.imei);
        /* The ^SISW: line answering AT^SISW is the prompt for its data. */
        if (ev->line.kind == AT_LK_SIS_RW && ev->line.prefix.ptr &&
            at_name_is(&ev->line.prefix, "^SISW"))
            r->ready = true;
        keep_line(r, &ev->line.text);
        break;
    case AT_EV_SECURE_RESULT:
        r->secure = ev->line.u.secure;
        copy_text(r->secure_text, sizeof r->secure_text, &ev->line.text);
        break;
    case AT_EV_FRAME:
        /* The module's answer to a READ: keep the certificate it carries. */
        if (ev->dir == AT_DIR_ME_TO_TE && ev->frame && !r->frame_cert) {
            const at_frame_unit *u = at_frame_find(ev->frame, AT_PARAM_CERT);
            if (u && u->value && u->value_len) {
                r->frame_cert = malloc(u->value_len);
                if (r->frame_cert) {
                    memcpy(r->frame_cert, u->value, u->value_len);
                    r->frame_cert_len = u->value_len;
                } else {
                    r->lines_dropped = true;
                }
            }
        }
        break;
    case AT_EV_PAYLOAD:
        if (ev->dir == AT_DIR_ME_TO_TE && ev->len) {
            uint8_t *p = realloc(r->data, r->data_len + ev->len);
            if (p) {
                memcpy(p + r->data_len, ev->data, ev->len);
                r->data = p;
                r->data_len += ev->len;
            } else {
                r->lines_dropped = true;
            }
        }
        break;
    case AT_EV_END:
        if (ev->exchange && ev->exchange->has_final) {
            r->has_final = true;
            r->final = ev->exchange->final.kind;
            copy_text(r->final_text, sizeof r->final_text, &ev->line.text);
        }
        r->ts_end = ev->ts_end;
        break;
    default: break;
    }
}

static void on_event(void *ctx, const at_event *ev)
{
    at_driver *d = ctx;
    at_analyzer_event(d->an, ev);
    if (d->cfg.on_event)
        d->cfg.on_event(d->cfg.ctx, ev);

    if (ev->kind == AT_EV_URC)
        keep_urc(d, &ev->line.text);
    if (d->escaping && ev->dir == AT_DIR_ME_TO_TE && ev->line.kind == AT_LK_RESULT)
        d->escape_answered = true;
    if (!d->waiting)
        return;
    at_driver_reply *r = d->cur;
    if (ev->kind == AT_EV_COMMAND && ev->exchange && !r->exchange) {
        at_driver_reply_event(r, ev);
        return;
    }
    if (!is_current(d, ev))
        return;
    at_driver_reply_event(r, ev);
    /* Only a command sent with a payload has a prompt to answer. */
    if (r->ready && d->want_payload)
        d->prompt_seen = true;
    if (ev->kind == AT_EV_END)
        d->done = true;
}

/* ------------------------------------------------------------------ */
/* Port                                                               */
/* ------------------------------------------------------------------ */

/* Why at_analyzer_new failed: the client certificate, or memory. */
static void client_cert_error(const at_driver_config *cfg, char *err, size_t err_cap)
{
    char why[256] = "";
    at_cert_summary *s = cfg->client_cert_der ? malloc(sizeof *s) : NULL;
    if (s && at_cert_summarize(cfg->client_cert_der, cfg->client_cert_len, s, why,
                               sizeof why) != 0)
        at_err_set(err, err_cap, "the client certificate: %s", why);
    else
        at_err_set(err, err_cap, "out of memory");
    free(s);
}

at_driver *at_driver_open(const char *port, const at_driver_config *cfg, char *err,
                          size_t err_cap)
{
    at_driver *d = calloc(1, sizeof *d);
    if (!d) {
        at_err_set(err, err_cap, "out of memory");
        return NULL;
    }
    d->cfg = cfg ? *cfg : at_driver_default_config();
    d->port.fd = -1;
    at_serial_line line = at_serial_default_line();
    line.baud = d->cfg.baud;
    line.flow = d->cfg.rtscts ? AT_SERIAL_FLOW_RTSCTS : AT_SERIAL_FLOW_NONE;
    if (at_serial_open(&d->port, port, &line, false, err, err_cap) != 0) {
        free(d);
        return NULL;
    }
    at_analyzer_config acfg = at_analyzer_default_config();
    acfg.profile = d->cfg.profile;
    acfg.client_cert_der = d->cfg.client_cert_der;
    acfg.client_cert_len = d->cfg.client_cert_len;
    d->an = at_analyzer_new_for_session(&d->session, d->cfg.channel, &acfg, on_event, d,
                                        d->cfg.on_finding, d->cfg.ctx);
    if (!d->an) {
        client_cert_error(&d->cfg, err, err_cap);
        at_serial_close(&d->port);
        free(d);
        return NULL;
    }
    d->cfg.client_cert_der = NULL; /* borrowed for the analyzer's set-up only */
    d->cfg.client_cert_len = 0;

    if (d->cfg.trace_path) {
        d->tw = at_trace_create(d->cfg.trace_path, err, err_cap);
        if (!d->tw) {
            at_analyzer_free(d->an);
            at_serial_close(&d->port);
            free(d);
            return NULL;
        }
        uint64_t t = at_clock_real_ns();
        char text[64];
        at_serial_line_text(&line, text, sizeof text);
        trace_rec(d, t, AT_DIR_TE_TO_ME, AT_TEV_SETTINGS, text, strlen(text));
        char note[600];
        snprintf(note, sizeof note, "%s%son %s", d->cfg.trace_note ? d->cfg.trace_note : "",
                 d->cfg.trace_note ? " " : "", port);
        trace_rec(d, t, AT_DIR_TE_TO_ME, AT_TEV_NOTE, note, strlen(note));
    }
    return d;
}

static void port_lost(at_driver *d, const char *why)
{
    if (!d->lost)
        trace_rec(d, at_clock_real_ns(), AT_DIR_ME_TO_TE, AT_TEV_NOTE, "port lost", 9);
    d->lost = true;
    at_err_set(d->err, sizeof d->err, "%s: the port is gone (%s)", d->port.path, why);
}

/* Reads what arrives within @p wait_ms into the session. 1 read something,
 * 0 nothing, -1 port lost. */
static int pump(at_driver *d, int wait_ms)
{
    if (d->lost)
        return -1;
    struct pollfd pfd = {d->port.fd, POLLIN, 0};
    int n = poll(&pfd, 1, wait_ms < 0 ? 0 : wait_ms);
    if (n < 0)
        return errno == EINTR ? 0 : (port_lost(d, strerror(errno)), -1);
    if (n == 0)
        return 0;
    uint8_t buf[4096];
    ssize_t got = read(d->port.fd, buf, sizeof buf);
    if (got > 0) {
        uint64_t t = at_clock_real_ns();
        trace_rec(d, t, AT_DIR_ME_TO_TE, AT_TEV_DATA, buf, (size_t)got);
        if (d->waiting)
            d->cur->bytes_in += (uint64_t)got;
        at_session_feed(&d->session, AT_DIR_ME_TO_TE, t, buf, (size_t)got);
        return 1;
    }
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    port_lost(d, got < 0 ? strerror(errno) : "hang-up");
    return -1;
}

/* Writes all of @p data (reading meanwhile, so a module that answers while
 * it takes a long frame never blocks us). 0 or -1 (port lost). */
static int send_all(at_driver *d, const uint8_t *data, size_t len)
{
    uint64_t t = at_clock_real_ns();
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(d->port.fd, data + off, len - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            port_lost(d, strerror(errno));
            return -1;
        }
        struct pollfd pfd = {d->port.fd, POLLOUT | POLLIN, 0};
        if (poll(&pfd, 1, 100) > 0 && (pfd.revents & POLLIN) && pump(d, 0) < 0)
            return -1;
        if (pfd.revents & (POLLHUP | POLLERR)) {
            port_lost(d, "hang-up");
            return -1;
        }
    }
    /* Into the trace and the session as one record: what was sent. */
    trace_rec(d, t, AT_DIR_TE_TO_ME, AT_TEV_DATA, data, len);
    at_session_feed(&d->session, AT_DIR_TE_TO_ME, t, data, len);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Exchanges                                                          */
/* ------------------------------------------------------------------ */

static void shown(const uint8_t *line, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        uint8_t c = line[i];
        if (c == '\r')
            o += (size_t)snprintf(out + o, cap - o, "\\r");
        else if (c == '\n')
            o += (size_t)snprintf(out + o, cap - o, "\\n");
        else if (c < 0x20 || c > 0x7e)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

int at_driver_send(at_driver *d, const uint8_t *line, size_t line_len,
                   const uint8_t *payload, size_t payload_len, uint32_t timeout_ms,
                   at_driver_reply *r)
{
    memset(r, 0, sizeof *r);
    d->err[0] = '\0';
    char what[200];
    shown(line, line_len, what, sizeof what);
    if (d->lost) {
        r->status = AT_DRV_PORT_LOST;
        at_err_set(d->err, sizeof d->err, "%s: the port is gone; %s not sent", d->port.path,
                   what);
        return -1;
    }
    /* The pause a module needs after a final result (PROTOCOL.md 10),
     * reading whatever arrives meanwhile. */
    if (d->last_end_ms && d->cfg.gap_ms) {
        int64_t left;
        while ((left = d->last_end_ms + d->cfg.gap_ms - at_clock_mono_ms()) > 0)
            if (pump(d, (int)left) < 0) {
                r->status = AT_DRV_PORT_LOST;
                return -1;
            }
    }
    d->cur = r;
    d->waiting = true;
    d->done = false;
    d->prompt_seen = false;
    d->want_payload = payload != NULL;
    uint32_t tmo = timeout_ms ? timeout_ms : d->cfg.timeout_ms;
    r->ts_start = at_clock_real_ns();
    int rc = -1;
    if (send_all(d, line, line_len) != 0) {
        r->status = AT_DRV_PORT_LOST;
        goto out;
    }
    int64_t deadline = at_clock_mono_ms() + tmo;
    while (!d->done) {
        if (payload && d->prompt_seen && !r->payload_sent) {
            if (send_all(d, payload, payload_len) != 0) {
                r->status = AT_DRV_PORT_LOST;
                goto out;
            }
            r->payload_sent = true;
            deadline = at_clock_mono_ms() + (d->cfg.secure_timeout_ms > tmo ? d->cfg.secure_timeout_ms
                                                                       : tmo);
            continue;
        }
        int64_t left = deadline - at_clock_mono_ms();
        if (left <= 0) {
            r->status = AT_DRV_TIMEOUT;
            if (r->bytes_in == 0)
                at_err_set(d->err, sizeof d->err,
                           "%s: the module is silent: no answer to %s within %u ms",
                           d->port.path, what, (unsigned)tmo);
            else
                at_err_set(d->err, sizeof d->err,
                           "%s: no final result to %s%s within %u ms (%llu bytes came back)",
                           d->port.path, what, r->payload_sent ? " and its frame" : "",
                           (unsigned)(r->payload_sent ? d->cfg.secure_timeout_ms : tmo),
                           (unsigned long long)r->bytes_in);
            goto out;
        }
        if (pump(d, (int)(left > 200 ? 200 : left)) < 0) {
            r->status = AT_DRV_PORT_LOST;
            char why[sizeof d->err];
            snprintf(why, sizeof why, "%s", d->err);
            at_err_set(d->err, sizeof d->err, "%s while waiting for the answer to %s", why,
                       what);
            goto out;
        }
    }
    r->status = AT_DRV_DONE;
    rc = 0;
out:
    if (d->tw && at_trace_flush(d->tw) != 0) {
        at_err_set(d->err, sizeof d->err, "%s", at_trace_writer_error(d->tw));
        r->status = AT_DRV_TRACE_FAILED;
        rc = -1;
    }
    d->waiting = false;
    d->cur = NULL;
    d->last_end_ms = at_clock_mono_ms();
    return rc;
}

/* @p cmd with CR (CR LF with @p crlf), @p payload at the prompt. */
static int send_cmdline(at_driver *d, const char *cmd, bool crlf, const uint8_t *payload,
                        size_t len, at_driver_reply *r)
{
    size_t n = strlen(cmd);
    uint8_t buf[AT_DRIVER_TEXT_MAX + 2];
    if (n > AT_DRIVER_TEXT_MAX) {
        memset(r, 0, sizeof *r);
        r->status = AT_DRV_TIMEOUT;
        at_err_set(d->err, sizeof d->err, "command line longer than %u bytes",
                   AT_DRIVER_TEXT_MAX);
        return -1;
    }
    memcpy(buf, cmd, n);
    buf[n++] = '\r';
    if (crlf)
        buf[n++] = '\n';
    return at_driver_send(d, buf, n, payload, len, 0, r);
}

int at_driver_command(at_driver *d, const char *cmd, at_driver_reply *r)
{
    return send_cmdline(d, cmd, d->cfg.crlf, NULL, 0, r);
}

int at_driver_secure(at_driver *d, const char *cmd, const uint8_t *frame, size_t len,
                     at_driver_reply *r)
{
    return send_cmdline(d, cmd, true, frame, len, r);
}

int at_driver_wait_urc(at_driver *d, const char *prefix, char *out, size_t cap,
                       uint32_t timeout_ms)
{
    int64_t deadline = at_clock_mono_ms() + timeout_ms;
    size_t plen = strlen(prefix);
    for (;;) {
        while (d->urc_n) {
            const char *u = d->urcs[d->urc_head];
            d->urc_head = (d->urc_head + 1) % URC_QUEUE;
            d->urc_n--;
            if (strncmp(u, prefix, plen) == 0) {
                snprintf(out, cap, "%s", u);
                return 0;
            }
        }
        int64_t left = deadline - at_clock_mono_ms();
        if (left <= 0) {
            at_err_set(d->err, sizeof d->err, "%s: no %s URC within %u ms", d->port.path,
                       prefix, (unsigned)timeout_ms);
            return -1;
        }
        if (pump(d, (int)(left > 200 ? 200 : left)) < 0)
            return -1;
    }
}

int at_driver_escape(at_driver *d, uint32_t guard_ms, uint32_t wait_ms)
{
    static const uint8_t escape[] = "+++", cr[] = "\r";
    d->escape_answered = false;
    if (at_driver_drain(d, guard_ms) != 0 || send_all(d, escape, 3) != 0)
        return -1;
    d->escaping = true;
    int64_t deadline = at_clock_mono_ms() + guard_ms + wait_ms;
    int rc = 0;
    while (!d->escape_answered && rc == 0) {
        int64_t left = deadline - at_clock_mono_ms();
        if (left <= 0)
            break;
        if (pump(d, (int)(left > 200 ? 200 : left)) < 0)
            rc = -1;
    }
    d->escaping = false;
    if (rc == 0 && send_all(d, cr, 1) != 0)
        rc = -1;
    d->last_end_ms = at_clock_mono_ms();
    return rc < 0 ? -1 : d->escape_answered ? 1 : 0;
}

int at_driver_drain(at_driver *d, uint32_t ms)
{
    int64_t deadline = at_clock_mono_ms() + ms;
    for (;;) {
        int64_t left = deadline - at_clock_mono_ms();
        if (left <= 0)
            return 0;
        if (pump(d, (int)left) < 0)
            return -1;
    }
}

bool at_driver_reply_ok(const at_driver_reply *r)
{
    if (r->status != AT_DRV_DONE || !r->has_final || r->final != AT_RES_OK)
        return false;
    /* OK after a failed SECURE CMD result is still a failure. */
    if (r->secure != AT_SEC_NONE && r->secure != AT_SEC_END_OK)
        return false;
    /* A secure command succeeded only with SECURE CMD END OK. */
    return !r->secure_cmd || r->secure == AT_SEC_END_OK;
}

void at_driver_reply_free(at_driver_reply *r)
{
    for (size_t i = 0; i < r->n_lines; i++)
        free(r->lines[i]);
    free(r->lines);
    free(r->data);
    free(r->frame_cert);
    r->lines = NULL;
    r->data = NULL;
    r->frame_cert = NULL;
    r->frame_cert_len = 0;
    r->n_lines = r->data_len = 0;
}

const char *at_driver_error(const at_driver *d)
{
    return d->err[0] ? d->err : "no error";
}

at_analyzer *at_driver_analyzer(at_driver *d)
{
    return d->an;
}

int at_driver_close(at_driver *d, char *err, size_t err_cap)
{
    if (!d)
        return 0;
    int rc = 0;
    at_session_finish(&d->session, at_clock_real_ns());
    at_analyzer_finish(d->an);
    if (d->tw) {
        trace_rec(d, at_clock_real_ns(), AT_DIR_TE_TO_ME, AT_TEV_NOTE, "session end", 11);
        char e[512];
        if (at_trace_finish_err(d->tw, e, sizeof e) != 0) {
            if (err)
                at_err_set(err, err_cap, "%s", e);
            rc = -1;
        }
    }
    at_analyzer_free(d->an);
    at_serial_close(&d->port);
    free(d);
    return rc;
}
