/*
 * engine.c - the simulated module's AT interface (see engine.h): its life
 * cycle, its output (information text, results, URCs) and the input and
 * time that the modes share out. The modes live in their own files
 * (engine_private.h): command mode (engine_command.c), the secure-command
 * exchange of AT^SBNW (engine_secure.c), the internet services
 * (engine_services.c).
 */
#include "engine_private.h"

#include "attrace/frame.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_OVERHEAD (AT_FRAME_SIG_MAX + 256u)

/* ------------------------------------------------------------------ */
/* Output                                                             */
/* ------------------------------------------------------------------ */

void sim_emit(sim_engine *e, const void *data, size_t len)
{
    if (e->io.write && len)
        e->io.write(e->ctx, data, len);
}

void sim_emit_str(sim_engine *e, const char *s)
{
    sim_emit(e, s, strlen(s));
}

void sim_log(sim_engine *e, const char *fmt, ...)
{
    if (!e->io.log)
        return;
    char buf[LOG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    e->io.log(e->ctx, buf);
}

/* One line of information text. */
void sim_info(sim_engine *e, const char *text)
{
    if (e->verbose && !e->block_open)
        sim_emit_str(e, "\r\n");
    e->block_open = true;
    sim_emit_str(e, text);
    sim_emit_str(e, "\r\n");
}

/* A result code given by its verbose text and its ATV0 digit. */
void sim_result(sim_engine *e, const char *text, char digit)
{
    if (e->verbose) {
        sim_emit_str(e, "\r\n");
        sim_emit_str(e, text);
        sim_emit_str(e, "\r\n");
    } else {
        char d[2] = {digit, '\r'};
        sim_emit(e, d, 2);
    }
}

void sim_error_result(sim_engine *e, cmd_rc rc, unsigned cme, char *text, size_t cap)
{
    if (rc == RC_ERROR || e->cmee == 0) {
        sim_result(e, "ERROR", '4');
        snprintf(text, cap, "ERROR");
        return;
    }
    const char *t = at_cme_error_text(cme);
    if (e->cmee == 2 && t)
        snprintf(text, cap, "+CME ERROR: %s", t);
    else
        snprintf(text, cap, "+CME ERROR: %u", cme);
    if (e->verbose) {
        sim_emit_str(e, "\r\n");
        sim_emit_str(e, text);
        sim_emit_str(e, "\r\n");
    } else {
        sim_emit_str(e, text);
        sim_emit_str(e, "\r");
    }
}

void sim_urc_queue(sim_engine *e, const char *text)
{
    if (e->n_urc >= URC_MAX) {
        sim_log(e, "URC queue full: \"%s\" lost", text);
        return;
    }
    size_t n = strlen(text);
    char *c = malloc(n + 1);
    if (!c) {
        sim_log(e, "out of memory: URC \"%s\" lost", text);
        return;
    }
    memcpy(c, text, n + 1);
    e->urcq[e->n_urc++] = c;
}

void sim_flush_urcs(sim_engine *e)
{
    if (e->mode != MODE_CMD)
        return;
    for (unsigned i = 0; i < e->n_urc; i++) {
        if (e->verbose)
            sim_emit_str(e, "\r\n");
        sim_emit_str(e, e->urcq[i]);
        sim_emit_str(e, "\r\n");
        free(e->urcq[i]);
    }
    e->n_urc = 0;
}

/* ------------------------------------------------------------------ */
/* Configuration and life cycle                                       */
/* ------------------------------------------------------------------ */

void sim_config_defaults(sim_config *cfg, const at_profile *profile)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->profile = profile ? profile : at_profile_get(AT_PROFILE_LEGACY);
    /* 35693803564380 with its Luhn check digit 9. */
    memcpy(cfg->imei, "356938035643809", 16);
    cfg->timeout_ms = 5000;
    cfg->extra_window_ms = 100;
    cfg->guard_ms = 1000;
    cfg->model = NULL;
}

sim_engine *sim_engine_new(const sim_config *cfg, sim_store *store,
                           const sim_io *io, void *ctx)
{
    sim_engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    if (cfg)
        e->cfg = *cfg;
    else
        sim_config_defaults(&e->cfg, NULL);
    e->cfg.imei[sizeof e->cfg.imei - 1] = '\0';
    e->prof = e->cfg.profile ? e->cfg.profile : at_profile_get(AT_PROFILE_LEGACY);
    const char *model = e->cfg.model;
    if (!model)
        model = e->prof->id == AT_PROFILE_LEGACY ? "BGS2-W" : "EXS62-W";
    snprintf(e->model, sizeof e->model, "%s", model);
    e->cfg.model = e->model;
    e->store = store;
    if (io)
        e->io = *io;
    e->ctx = ctx;

    size_t cap = (size_t)e->prof->cert_max + e->prof->key_max + FRAME_OVERHEAD;
    e->frame_cap = cap > AT_FRAME_MAX_LEN ? AT_FRAME_MAX_LEN : cap;
    e->frame = malloc(e->frame_cap);
    if (!e->frame) {
        free(e);
        return NULL;
    }
    sim_settings_reset(e);
    if (e->cfg.data_mode)
        e->mode = MODE_DATA;
    return e;
}

void sim_engine_free(sim_engine *e)
{
    if (!e)
        return;
    for (unsigned i = 0; i < e->n_urc; i++)
        free(e->urcq[i]);
    free(e->frame);
    free(e);
}

bool sim_engine_xonxoff(const sim_engine *e)
{
    return e && e->flow == 1;
}

uint64_t sim_engine_deadline(const sim_engine *e)
{
    if (!e)
        return 0;
    uint64_t win = (uint64_t)e->cfg.extra_window_ms * NS_PER_MS;
    switch (e->mode) {
    case MODE_BIN:
        return e->ready_ns + (uint64_t)e->cfg.timeout_ms * NS_PER_MS;
    case MODE_WAIT:
        return (e->extra ? e->last_byte_ns : e->complete_ns) + win;
    case MODE_DRAIN:
        return e->last_byte_ns + win;
    case MODE_SISW:
        return e->ready_ns + (uint64_t)e->cfg.timeout_ms * NS_PER_MS;
    case MODE_DATA:
        return e->pluses == 3 ? e->data_ns + (uint64_t)e->cfg.guard_ms * NS_PER_MS : 0;
    default:
        return 0;
    }
}

void sim_engine_tick(sim_engine *e, uint64_t now_ns)
{
    if (!e || e->mode == MODE_CMD)
        return;
    uint64_t deadline = sim_engine_deadline(e);
    if (now_ns < deadline || (e->mode == MODE_DATA && !deadline))
        return;
    if (e->mode == MODE_DATA)
        sim_data_escaped(e);
    else if (e->mode == MODE_SISW)
        sim_sisw_timeout(e);
    else
        sim_secure_deadline(e);
    sim_flush_urcs(e);
}

/* ------------------------------------------------------------------ */
/* Input                                                              */
/* ------------------------------------------------------------------ */

void sim_engine_input(sim_engine *e, uint64_t now_ns, const uint8_t *data, size_t len)
{
    if (!e || (!data && len))
        return;
    /* A deadline that passed before these bytes arrived fires first. */
    sim_engine_tick(e, now_ns);
    for (size_t i = 0; i < len; i++) {
        uint8_t b = data[i];
        if (e->flow == 1 && (b == 0x11 || b == 0x13))
            continue; /* eaten as XON/XOFF, as a real module does */
        if (e->mode == MODE_CMD)
            sim_command_byte(e, now_ns, b);
        else if (e->mode == MODE_SISW)
            sim_sisw_byte(e, b);
        else if (e->mode == MODE_DATA)
            sim_data_byte(e, now_ns, b);
        else
            sim_secure_byte(e, now_ns, b);
    }
    e->lf_skip = false;
    sim_engine_tick(e, now_ns);
    sim_flush_urcs(e);
}
