/*
 * engine_private.h - what the files of the simulated module's engine share
 * (not installed; the program and the tests use engine.h):
 *   engine.c           life cycle, output, URC queue, input and time
 *   engine_command.c   command mode: the command line, the basic commands
 *   engine_secure.c    the secure-command exchange of AT^SBNW
 *   engine_services.c  the internet services (AT^SICS, ^SISS, ^SIS*)
 */
#ifndef ATTRACE_SIM_ENGINE_PRIVATE_H
#define ATTRACE_SIM_ENGINE_PRIVATE_H

#include "engine.h"

#include "attrace/lines.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LINE_CAP 1024u
#define LOG_CAP 1600u
#define NS_PER_MS 1000000ull

#define CME_NOT_SUPPORTED 4u
#define CME_INCORRECT_PARAMS 50u

typedef enum sim_mode {
    MODE_CMD = 0, /* AT commands */
    MODE_BIN,     /* reading a secure-command frame */
    MODE_WAIT,    /* frame complete, waiting for the line to stay quiet */
    MODE_DRAIN,   /* after LENGTH ERROR: swallowing the rest of the transfer */
    MODE_SISW,    /* reading the payload of AT^SISW */
    MODE_DATA     /* data mode: everything is data for the remote end until +++ */
} sim_mode;

#define SISRW_MAX 1500u  /* largest AT^SISW / AT^SISR count */
#define URC_MAX 64u      /* URCs queued while a binary transfer runs */
#define SICS_MAX 32u
#define CME_NOT_ALLOWED 3u

/* One internet service profile (AT^SISS) and its connection. */
typedef struct sim_service {
    char type[16];        /* "" (none), "Socket", "Transparent", "Http" */
    char con_id[16];
    char address[256];
    char secopt[64];
    bool has_secopt;
    bool open;            /* connection up (AT^SISO succeeded) */
    bool failed;          /* the last AT^SISO ended in ^SIS (srvState down) */
    bool peer_closed;
    bool rx_told;         /* ^SISR: id,1 sent, the host has not drained the data yet */
    bool close_told;      /* ^SISR: id,2 sent */
    uint64_t rx_bytes, tx_bytes;
} sim_service;

typedef struct sim_sics {
    unsigned con_id;
    char param[24];
    char value[128];
} sim_sics;

struct sim_engine {
    sim_config cfg;
    const at_profile *prof;
    char model[64];
    sim_store *store;
    sim_io io;
    void *ctx;

    /* settings */
    bool echo, verbose;
    unsigned cmee, flow; /* AT+CMEE, AT\Q */
    unsigned sind_is_cert;
    unsigned cmer[5];

    /* command line */
    char line[LINE_CAP];
    size_t line_len;
    bool line_overflow;
    char last[LINE_CAP];
    size_t last_len;
    bool has_last;
    bool block_open; /* V1: the current command's information block has begun */

    /* secure-command exchange */
    sim_mode mode;
    uint8_t *frame;
    size_t frame_cap; /* largest TotalLen taken */
    size_t got;       /* frame bytes received */
    size_t total;     /* TotalLen once two bytes are in, else 0 */
    size_t extra;     /* bytes beyond TotalLen */
    bool lf_skip;     /* the LF of the AT^SBNW line's CR LF may still come */
    uint64_t ready_ns, complete_ns, last_byte_ns;

    /* data mode: the +++ escape being typed (pluses after a guard's silence) */
    unsigned pluses;
    uint64_t data_ns;       /* the last byte's arrival */
    uint64_t data_bytes;    /* taken as data */

    /* internet services */
    sim_svc_io svc_io;
    void *svc_ctx;
    bool has_svc_io;
    sim_service svc[SIM_SERVICES];
    sim_sics sics[SICS_MAX];
    unsigned n_sics;
    char *urcq[URC_MAX];
    unsigned n_urc;
    unsigned sisw_id;
    size_t sisw_n, sisw_got;
    uint8_t sisw_buf[SISRW_MAX];
};

/* What a command did; the line's final result follows from it. */
typedef enum cmd_rc {
    RC_OK = 0,
    RC_ERROR,   /* plain ERROR: unknown command */
    RC_CME,     /* +CME ERROR per AT+CMEE (code in *cme) */
    RC_CONNECT, /* the secure exchange has begun */
    RC_SISW     /* ^SISW: id,n,0 sent: the payload follows */
} cmd_rc;

/* ---- engine.c: output ---------------------------------------------- */

void sim_emit(sim_engine *e, const void *data, size_t len);
void sim_emit_str(sim_engine *e, const char *s);
/* One line of the exchange log (sim_io.log). */
void sim_log(sim_engine *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* One line of information text. */
void sim_info(sim_engine *e, const char *text);
/* A result code given by its verbose text and its ATV0 digit. */
void sim_result(sim_engine *e, const char *text, char digit);
/* The final ERROR or +CME ERROR (per AT+CMEE) for @p rc; its text, for
 * the log, in @p text. */
void sim_error_result(sim_engine *e, cmd_rc rc, unsigned cme, char *text, size_t cap);
/* A URC, held until command mode (sim_flush_urcs). */
void sim_urc_queue(sim_engine *e, const char *text);
/* Sends the queued URCs when in command mode. */
void sim_flush_urcs(sim_engine *e);

/* ---- engine_command.c: command mode ------------------------------- */

/* The settings of power-up, AT&F and ATZ. */
void sim_settings_reset(sim_engine *e);
/* A decimal value of at most @p max; an absent value is @p dflt. */
bool sim_num_value(const at_str *s, unsigned max, unsigned dflt, unsigned *out);
/* True if the parameter is present and is @p name. */
bool sim_param_is(const at_str *p, const char *name);
/* One host byte in command mode. */
void sim_command_byte(sim_engine *e, uint64_t now_ns, uint8_t b);
/* One byte in data mode (MODE_DATA): data, or part of the +++ escape. */
void sim_data_byte(sim_engine *e, uint64_t now_ns, uint8_t b);
/* The escape's closing guard time has passed: back to command mode, OK. */
void sim_data_escaped(sim_engine *e);

/* ---- engine_secure.c: the secure-command exchange ----------------- */

/* AT^SBNW: RC_CONNECT when the exchange may begin (*store_name: which). */
cmd_rc sim_cmd_sbnw(sim_engine *e, const at_command *c, unsigned *cme,
                    const char **store_name);
/* CONNECT, the READY line, binary mode. */
void sim_secure_start(sim_engine *e, uint64_t now_ns);
/* One byte of the frame transfer (MODE_BIN, MODE_WAIT, MODE_DRAIN). */
void sim_secure_byte(sim_engine *e, uint64_t now_ns, uint8_t b);
void sim_secure_deadline(sim_engine *e);

/* ---- engine_services.c: the internet services --------------------- */

bool sim_is_service_command(const at_str *name);
cmd_rc sim_service_command(sim_engine *e, const at_command *c, unsigned *cme);
void sim_sisw_start(sim_engine *e, uint64_t now_ns);
/* One byte of the AT^SISW payload (MODE_SISW). */
void sim_sisw_byte(sim_engine *e, uint8_t b);
void sim_sisw_timeout(sim_engine *e);

#endif
