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
    bool ok_after_error;        /**< final result OK after a failed secure command (a BGS2 in the field did) */
    bool data_mode;             /**< start in data mode (a transparent connection): what comes
                                     is data until the +++ escape */
    uint32_t guard_ms;          /**< silence the +++ escape needs before and after it (default 1000, S12) */
} sim_config;

typedef struct sim_io {
    /** Bytes the module sends to the host. */
    void (*write)(void *ctx, const uint8_t *data, size_t len);
    /** One line of the exchange log ("AT+CGSN -> OK", "frame WRITE index 0 -> SECURE CMD END OK"). */
    void (*log)(void *ctx, const char *line);
} sim_io;

typedef struct sim_engine sim_engine;

/* ------------------------------------------------------------------ */
/* Internet services (AT^SISO, ^SISW, ^SISR, ^SISC)                   */
/* ------------------------------------------------------------------ */

#define SIM_SERVICES 10u          /**< service profiles 0..9 */
#define SIM_PEER_CERT_MAX 16384u  /**< largest server certificate reported */

/** What AT^SISO asks the network layer to open. The engine has already
 *  checked that the host is a loopback literal. */
typedef struct sim_svc_request {
    unsigned id;
    const char *host;   /**< "127.x.y.z" or "::1" ("localhost" is passed as 127.0.0.1) */
    unsigned port;
    bool tls;           /**< TLS on top of TCP */
    bool verify;        /**< check the server chain against the anchors */
    const uint8_t *const *anchors; /**< DER certificates: trust anchors */
    const size_t *anchor_lens;
    unsigned n_anchors;
} sim_svc_request;

/** The result of an open. */
typedef struct sim_svc_outcome {
    unsigned info_id;   /**< 0 = connected; else the ^SIS info id (14, 64, 65, 66, 74 ...) */
    char detail[256];   /**< for the log */
    uint8_t peer_der[SIM_PEER_CERT_MAX]; /**< the server's leaf certificate (TLS) */
    size_t peer_len;    /**< 0 = none seen */
} sim_svc_outcome;

/** The network behind the services; every call is for service @p id. */
typedef struct sim_svc_io {
    /** Connects (and for TLS handshakes) synchronously with a short
     *  timeout; fills @p out (info_id 0 = connected). */
    void (*open)(void *ctx, const sim_svc_request *req, sim_svc_outcome *out);
    /** Sends all @p len bytes; 0, or -1 with a message in @p err. */
    int (*write)(void *ctx, unsigned id, const uint8_t *data, size_t len, char *err,
                 size_t err_cap);
    /** Takes up to @p cap received bytes (0 = none buffered); *left = bytes
     *  still buffered after the call. */
    size_t (*read)(void *ctx, unsigned id, uint8_t *buf, size_t cap, size_t *left);
    /** Closes the connection (no-op if none). */
    void (*close)(void *ctx, unsigned id);
} sim_svc_io;

typedef enum sim_svc_event {
    SIM_SVC_DATA = 1,  /**< new bytes were buffered for the service */
    SIM_SVC_CLOSED     /**< the peer closed (after the buffered bytes) */
} sim_svc_event;

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

/** Gives the engine its network (borrowed); without one AT^SISO fails. */
void sim_engine_set_services(sim_engine *e, const sim_svc_io *svc, void *ctx);

/** The network layer saw @p ev on service @p id's connection at @p now_ns:
 *  the engine sends the ^SISR URCs (queued while a binary transfer runs). */
void sim_engine_service_event(sim_engine *e, uint64_t now_ns, unsigned id,
                              sim_svc_event ev);

void sim_engine_free(sim_engine *e);

#endif
