/*
 * engine.h - the simulated module's AT interface, without I/O.
 *
 * The engine takes the host's bytes with the time they arrived and answers
 * through a write callback, as a Cinterion module would: echo, results,
 * URCs, the secure-command exchange of AT^SBNW with its service timeout, the
 * ^SBNR listing. Time only enters through the calls (input, tick), so tests
 * drive it without a clock and the program drives it from its poll loop.
 */
#ifndef ATTRACE_SIM_ENGINE_H
#define ATTRACE_SIM_ENGINE_H

#include "attrace/profile.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sim_config {
    const at_profile *profile;  /**< module family (NULL = legacy) */
    char imei[18];              /**< 15 digits */
    uint32_t timeout_ms;        /**< secure-command service timeout (default 5000) */
    uint32_t extra_window_ms;   /**< after a complete frame, bytes within this window are "too many data" (default 100) */
    const char *model;          /**< ATI model line, e.g. "BGS2-W" (NULL = by profile) */
} sim_config;

typedef struct sim_io {
    /** Bytes the module sends to the host. */
    void (*write)(void *ctx, const uint8_t *data, size_t len);
    /** One line of the exchange log ("AT+CGSN -> OK", "frame WRITE index 0 -> SECURE CMD END OK"). */
    void (*log)(void *ctx, const char *line);
} sim_io;

typedef struct sim_engine sim_engine;

/** Fills @p cfg with the defaults for @p profile (a Luhn-valid IMEI). */
void sim_config_defaults(sim_config *cfg, const at_profile *profile);

/** A new engine over @p store (borrowed); NULL on allocation failure. */
sim_engine *sim_engine_new(const sim_config *cfg, sim_store *store,
                           const sim_io *io, void *ctx);

/** Bytes from the host that arrived at @p now_ns. */
void sim_engine_input(sim_engine *e, uint64_t now_ns, const uint8_t *data,
                      size_t len);

/** Lets time pass: fires the service timeout and the too-many-data window. */
void sim_engine_tick(sim_engine *e, uint64_t now_ns);

/** The next time sim_engine_tick has work (0 = none), for poll timeouts. */
uint64_t sim_engine_deadline(const sim_engine *e);

/** True while AT\Q1 (XON/XOFF) is in effect: the engine then drops 0x11
 *  and 0x13 from the host's bytes, as a real module does. */
bool sim_engine_xonxoff(const sim_engine *e);

void sim_engine_free(sim_engine *e);

#endif
