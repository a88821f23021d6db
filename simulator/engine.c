/*
 * engine.c - the simulated module's AT interface (see engine.h).
 *
 * Command mode: host bytes are echoed while ATE1 and collected into a line
 * that a CR ends (LF is ignored, BS deletes); characters before "AT" are
 * ignored, as V.250 asks. "A/" repeats the previous line as soon as the
 * '/' arrives. A line may chain commands (AT+A;+B): they run in order, the
 * first failure stops the line, and there is one final result.
 *
 * Response format: with ATV1 every command's information text is a block
 * "\r\n<line1>\r\n<line2>\r\n..." and the final result "\r\nOK\r\n"; with
 * ATV0 the text lines are "<line>\r\n" and results are digits ended by CR
 * ("0\r" OK, "1\r" CONNECT, "4\r" ERROR; "+CME ERROR: <n>\r").
 *
 * Defaults (power-up and AT&F / ATZ): E1, V1, CMEE 0, \Q0, is_cert
 * indicator off, CMER 0,0,0,0.
 *
 * The secure-command exchange (AT^SBNW): CONNECT and the READY line, then
 * binary mode. The first two bytes give TotalLen; TotalLen < 6 or above
 * what a frame can be (the profile's cert_max + key_max + room for the
 * other units and a signature) is answered at once with LENGTH ERROR and
 * the rest of the transfer is swallowed until the line is quiet for
 * extra_window_ms. The vendor tool ends the AT^SBNW line with CR LF: an LF
 * that arrives in the same input call right after that CR is the line's
 * end, not the frame's first byte (a frame sent in a later call may well
 * start with 0x0A, TotalLen 0x..0A). The service timeout counts from the READY line: a frame
 * not complete timeout_ms after it ends with SERVICE TIMEOUT ERROR. A
 * complete frame is checked only when the line then stays quiet for
 * extra_window_ms; bytes beyond TotalLen in the same input call or within
 * that window make it TOO MANY DATA ERROR (BGS2 spelling), answered when
 * the extra bytes stop for extra_window_ms.
 *
 * Frame checks, in order: any problem at_frame_decode reports (with the
 * profile's limits: index range, key with index != 0, sizes) -> ERROR;
 * CmdId other than WRITE/READ/DELETE -> ERROR; an IMEI other than the
 * module's -> ERROR; legacy: a missing IMEI or signature -> ERROR (newer
 * modules take unsigned frames); a certificate unit that is not DER X.509
 * -> PUBLIC CERTIFICATE IS CORRUPTED; a key unit that does not parse or does
 * not belong to the certificate -> ERROR; a signature that does not verify
 * with the client certificate at index 0 (for the WRITE of index 0: the
 * certificate in the frame) or holds the wrong digest (legacy: SHA-1 only;
 * newer: SHA-256 or SHA-1) -> ERROR. READ or DELETE of an empty slot ->
 * ERROR. A DELETE of index 0 also removes the key and answers END OK
 * (PROTOCOL.md does not say when PRIVATE KEY WAS REMOVED is sent, so it
 * never is). AT^SBNW=management_cert,1 (newer only) is checked and applied
 * like is_cert, on the same store.
 */
#include "engine.h"

#include "attrace/cert.h"
#include "attrace/crypto.h"
#include "attrace/frame.h"
#include "attrace/lines.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_CAP 1024u
#define LOG_CAP 1600u
#define FRAME_OVERHEAD (AT_FRAME_SIG_MAX + 256u)
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

/* ------------------------------------------------------------------ */
/* Output                                                             */
/* ------------------------------------------------------------------ */

static void emit(sim_engine *e, const void *data, size_t len)
{
    if (e->io.write && len)
        e->io.write(e->ctx, data, len);
}

static void emit_str(sim_engine *e, const char *s)
{
    emit(e, s, strlen(s));
}

static void logf_(sim_engine *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void logf_(sim_engine *e, const char *fmt, ...)
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
static void info(sim_engine *e, const char *text)
{
    if (e->verbose && !e->block_open)
        emit_str(e, "\r\n");
    e->block_open = true;
    emit_str(e, text);
    emit_str(e, "\r\n");
}

/* A result code given by its verbose text and its ATV0 digit. */
static void result(sim_engine *e, const char *text, char digit)
{
    if (e->verbose) {
        emit_str(e, "\r\n");
        emit_str(e, text);
        emit_str(e, "\r\n");
    } else {
        char d[2] = {digit, '\r'};
        emit(e, d, 2);
    }
}

/* A secure-command result string: its own line, in both modes. */
static void secure_line(sim_engine *e, const char *text)
{
    e->block_open = false;
    info(e, text);
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
    cfg->model = NULL;
    cfg->guard_ms = 1000;
}

static void set_defaults(sim_engine *e)
{
    e->echo = true;
    e->verbose = true;
    e->cmee = 0;
    e->flow = 0;
    e->sind_is_cert = 0;
    memset(e->cmer, 0, sizeof e->cmer);
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
    set_defaults(e);
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

/* ------------------------------------------------------------------ */
/* Parameters                                                         */
/* ------------------------------------------------------------------ */

/* A decimal value of at most @p max; an absent value is @p dflt. */
static bool num_value(const at_str *s, unsigned max, unsigned dflt, unsigned *out)
{
    if (!s->ptr || s->len == 0) {
        *out = dflt;
        return true;
    }
    unsigned long v = 0;
    for (size_t i = 0; i < s->len; i++) {
        if (s->ptr[i] < '0' || s->ptr[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s->ptr[i] - '0');
        if (v > max)
            return false;
    }
    *out = (unsigned)v;
    return true;
}

/* ------------------------------------------------------------------ */
/* Commands                                                           */
/* ------------------------------------------------------------------ */

typedef enum cmd_rc {
    RC_OK = 0,
    RC_ERROR,   /* plain ERROR: unknown command */
    RC_CME,     /* +CME ERROR per AT+CMEE (code in *cme) */
    RC_CONNECT, /* the secure exchange has begun */
    RC_SISW     /* ^SISW: id,n,0 sent: the payload follows */
} cmd_rc;

static void flush_urcs(sim_engine *e);
static cmd_rc service_command(sim_engine *e, const at_command *c, unsigned *cme);
static bool is_service_command(const at_str *name);

static cmd_rc basic_flag(const at_command *c, bool *flag, unsigned *cme)
{
    unsigned v;
    if (c->type != AT_CMDT_EXEC || !num_value(&c->basic_value, 1, 0, &v)) {
        *cme = CME_INCORRECT_PARAMS;
        return RC_CME;
    }
    *flag = v == 1;
    return RC_OK;
}

static void list_sbnr(sim_engine *e)
{
    char line[2 * AT_CERT_DN_MAX + 512];
    for (unsigned i = 0; i <= e->prof->index_max && i < SIM_STORE_SLOTS; i++) {
        size_t len = 0;
        const uint8_t *der = e->store ? sim_store_cert(e->store, i, &len) : NULL;
        if (!der) {
            at_sbnr_format(i, NULL, e->prof, line, sizeof line);
        } else {
            at_cert_summary *s = malloc(sizeof *s);
            if (s && at_cert_summarize(der, len, s, NULL, 0) == 0 &&
                at_sbnr_format(i, s, e->prof, line, sizeof line) > 0) {
                /* the line is in place */
            } else {
                snprintf(line, sizeof line, "^SBNR: %u, certificate is corrupted", i);
            }
            free(s);
        }
        info(e, line);
    }
}

static bool type_is(const at_str *p, const char *name)
{
    return p->ptr && at_name_is(p, name);
}

static cmd_rc cmd_sbnw(sim_engine *e, const at_command *c, unsigned *cme,
                       const char **store_name)
{
    *cme = CME_INCORRECT_PARAMS;
    if (c->type == AT_CMDT_TEST) {
        info(e, e->prof->id == AT_PROFILE_LEGACY ? "^SBNW: (\"is_cert\"),(1)"
                                                 : "^SBNW: (\"is_cert\",\"management_cert\"),(1)");
        return RC_OK;
    }
    if (c->type != AT_CMDT_SET || c->n_params != 2)
        return RC_CME;
    const at_str *type = &c->params[0];
    bool newer = e->prof->id != AT_PROFILE_LEGACY;
    if (type_is(type, "is_cert")) {
        *store_name = "is_cert";
    } else if (newer && type_is(type, "management_cert")) {
        *store_name = "management_cert";
    } else if (type_is(type, "management_cert") || type_is(type, "app_rot") ||
               type_is(type, "preconfig_cert")) {
        *cme = CME_NOT_SUPPORTED;
        return RC_CME;
    } else {
        return RC_CME;
    }
    unsigned action;
    if (!num_value(&c->params[1], 1, 2, &action) || action != 1)
        return RC_CME;
    return RC_CONNECT;
}

static cmd_rc run_command(sim_engine *e, const at_command *c, unsigned *cme)
{
    const at_str *n = &c->name;
    unsigned v;
    *cme = CME_INCORRECT_PARAMS;

    if (at_name_is(n, "E"))
        return basic_flag(c, &e->echo, cme);
    if (at_name_is(n, "V"))
        return basic_flag(c, &e->verbose, cme);
    if (at_name_is(n, "I")) {
        if (c->type != AT_CMDT_EXEC || !num_value(&c->basic_value, 0, 0, &v))
            return RC_CME;
        info(e, "Cinterion");
        info(e, e->model);
        info(e, "REVISION 01.301");
        return RC_OK;
    }
    if (at_name_is(n, "&F") || at_name_is(n, "Z")) {
        if (c->type != AT_CMDT_EXEC || !num_value(&c->basic_value, 0, 0, &v))
            return RC_CME;
        set_defaults(e);
        return RC_OK;
    }
    if (at_name_is(n, "\\Q")) {
        if (c->type != AT_CMDT_EXEC || !num_value(&c->basic_value, 3, 0, &v) || v == 2)
            return RC_CME;
        e->flow = v;
        return RC_OK;
    }
    if (at_name_is(n, "+CGSN") || at_name_is(n, "+GSN")) {
        if (c->type == AT_CMDT_TEST)
            return RC_OK;
        if (c->type != AT_CMDT_EXEC) {
            *cme = CME_NOT_SUPPORTED;
            return RC_CME;
        }
        info(e, e->cfg.imei);
        return RC_OK;
    }
    if (at_name_is(n, "+CMEE")) {
        char buf[32];
        switch (c->type) {
        case AT_CMDT_READ:
            snprintf(buf, sizeof buf, "+CMEE: %u", e->cmee);
            info(e, buf);
            return RC_OK;
        case AT_CMDT_TEST:
            info(e, "+CMEE: (0-2)");
            return RC_OK;
        case AT_CMDT_EXEC:
            e->cmee = 0;
            return RC_OK;
        case AT_CMDT_SET:
            if (c->n_params != 1 || !num_value(&c->params[0], 2, 0, &v))
                return RC_CME;
            e->cmee = v;
            return RC_OK;
        default:
            return RC_CME;
        }
    }
    if (at_name_is(n, "^SIND")) {
        char buf[48];
        if (c->type == AT_CMDT_READ) {
            snprintf(buf, sizeof buf, "^SIND: is_cert,%u", e->sind_is_cert);
            info(e, buf);
            return RC_OK;
        }
        if (c->type != AT_CMDT_SET || c->n_params != 2 || !type_is(&c->params[0], "is_cert") ||
            !num_value(&c->params[1], 2, 2, &v))
            return RC_CME;
        if (v < 2)
            e->sind_is_cert = v;
        snprintf(buf, sizeof buf, "^SIND: is_cert,%u", e->sind_is_cert);
        info(e, buf);
        return RC_OK;
    }
    if (at_name_is(n, "+CMER")) {
        static const unsigned max[5] = {3, 0, 0, 2, 1};
        char buf[64];
        if (c->type == AT_CMDT_READ) {
            snprintf(buf, sizeof buf, "+CMER: %u,%u,%u,%u,%u", e->cmer[0], e->cmer[1],
                     e->cmer[2], e->cmer[3], e->cmer[4]);
            info(e, buf);
            return RC_OK;
        }
        if (c->type == AT_CMDT_TEST) {
            info(e, "+CMER: (0-3),(0),(0),(0-2),(0-1)");
            return RC_OK;
        }
        if (c->type != AT_CMDT_SET || c->n_params > 5)
            return RC_CME;
        unsigned vals[5];
        memcpy(vals, e->cmer, sizeof vals);
        for (unsigned i = 0; i < c->n_params; i++)
            if (!num_value(&c->params[i], max[i], vals[i], &vals[i]))
                return RC_CME;
        memcpy(e->cmer, vals, sizeof vals);
        return RC_OK;
    }
    if (at_name_is(n, "^SBNR")) {
        if (c->type == AT_CMDT_TEST) {
            info(e, "^SBNR: (\"is_cert\")");
            return RC_OK;
        }
        if (c->type != AT_CMDT_SET || c->n_params != 1)
            return RC_CME;
        if (!type_is(&c->params[0], "is_cert")) {
            if (type_is(&c->params[0], "management_cert") || type_is(&c->params[0], "app_rot") ||
                type_is(&c->params[0], "preconfig_cert"))
                *cme = CME_NOT_SUPPORTED;
            return RC_CME;
        }
        list_sbnr(e);
        return RC_OK;
    }
    return RC_ERROR;
}

/* ------------------------------------------------------------------ */
/* Command lines                                                      */
/* ------------------------------------------------------------------ */

/* The line as log text: control bytes shown as '.'. */
static void printable(const char *s, size_t n, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < cap; i++)
        out[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '.';
    out[j] = '\0';
}

static void error_result(sim_engine *e, cmd_rc rc, unsigned cme, char *text, size_t cap)
{
    if (rc == RC_ERROR || e->cmee == 0) {
        result(e, "ERROR", '4');
        snprintf(text, cap, "ERROR");
        return;
    }
    const char *t = at_cme_error_text(cme);
    if (e->cmee == 2 && t)
        snprintf(text, cap, "+CME ERROR: %s", t);
    else
        snprintf(text, cap, "+CME ERROR: %u", cme);
    if (e->verbose) {
        emit_str(e, "\r\n");
        emit_str(e, text);
        emit_str(e, "\r\n");
    } else {
        emit_str(e, text);
        emit_str(e, "\r");
    }
}

static void start_secure(sim_engine *e, uint64_t now_ns)
{
    result(e, "CONNECT", '1');
    e->block_open = false;
    info(e, "SECURE CMD READY: SEND COMMAND ...");
    e->mode = MODE_BIN;
    e->got = e->total = e->extra = 0;
    e->lf_skip = true;
    e->ready_ns = e->last_byte_ns = now_ns;
}

static void execute_line(sim_engine *e, const char *line, size_t len, bool overflow,
                         uint64_t now_ns)
{
    char shown[LINE_CAP];
    printable(line, len, shown, sizeof shown);
    char res[160];

    at_cmdline *cl = malloc(sizeof *cl);
    if (!cl) {
        result(e, "ERROR", '4');
        logf_(e, "%s -> ERROR (out of memory)", shown);
        return;
    }
    if (overflow || at_parse_cmdline(line, len, 0, cl, NULL) != AT_OK || cl->cmds_dropped) {
        result(e, "ERROR", '4');
        logf_(e, "%s -> ERROR (%s)", shown,
              overflow ? "line too long" : cl->cmds_dropped ? "too many commands" : "syntax");
        free(cl);
        return;
    }
    cmd_rc rc = RC_OK;
    unsigned cme = 0;
    const char *store_name = NULL;
    for (unsigned i = 0; i < cl->n_cmds && rc == RC_OK; i++) {
        e->block_open = false;
        const at_command *c = &cl->cmds[i];
        if (at_name_is(&c->name, "^SBNW"))
            rc = cmd_sbnw(e, c, &cme, &store_name);
        else if (is_service_command(&c->name))
            rc = service_command(e, c, &cme);
        else
            rc = run_command(e, c, &cme);
    }
    free(cl);
    switch (rc) {
    case RC_OK:
        result(e, "OK", '0');
        logf_(e, "%s -> OK", shown);
        break;
    case RC_CONNECT:
        start_secure(e, now_ns);
        logf_(e, "%s -> CONNECT (%s)", shown, store_name);
        break;
    case RC_SISW:
        e->mode = MODE_SISW;
        e->sisw_got = 0;
        e->lf_skip = true;
        e->ready_ns = e->last_byte_ns = now_ns;
        logf_(e, "%s -> ^SISW: %u,%zu,0 (waiting for %zu bytes)", shown, e->sisw_id,
              e->sisw_n, e->sisw_n);
        break;
    default:
        error_result(e, rc, cme, res, sizeof res);
        logf_(e, "%s -> %s", shown, res);
        break;
    }
    flush_urcs(e);
}

/* ------------------------------------------------------------------ */
/* The secure-command frame                                           */
/* ------------------------------------------------------------------ */

typedef enum sec_rc {
    SEC_END_OK,
    SEC_ERROR,
    SEC_CORRUPTED
} sec_rc;

static const char *sec_text(sec_rc r)
{
    switch (r) {
    case SEC_END_OK: return "SECURE CMD END OK";
    case SEC_CORRUPTED: return "SECURE CMD PUBLIC CERTIFICATE IS CORRUPTED";
    default: return "SECURE CMD ERROR";
    }
}

static void put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)((v >> 8) & 0xff);
}

/*
 * The READ answer (PROTOCOL.md section 5): index, certificate, and the raw
 * digest (the profile's: SHA-1 or SHA-256) of offset 2 up to the end of the
 * certificate unit. Returns a malloc'd frame or NULL.
 */
static uint8_t *read_response(const sim_engine *e, unsigned index, const uint8_t *cert,
                              size_t cert_len, size_t *out_len, char *why, size_t cap)
{
    const EVP_MD *md = e->prof->digest_len == 32 ? EVP_sha256() : EVP_sha1();
    size_t dlen = (size_t)EVP_MD_get_size(md);
    size_t signed_end = AT_FRAME_HEADER_LEN + 6 + AT_FRAME_UNIT_HEADER_LEN + cert_len;
    size_t total = signed_end + AT_FRAME_UNIT_HEADER_LEN + dlen;
    if (total > AT_FRAME_MAX_LEN) {
        snprintf(why, cap, "the stored certificate is too large for a response frame");
        return NULL;
    }
    uint8_t *r = malloc(total);
    if (!r) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    uint8_t *p = r;
    put16(p, total);
    put16(p + 2, AT_CMD_READ);
    put16(p + 4, 3);
    p += AT_FRAME_HEADER_LEN;
    put16(p, 6);
    put16(p + 2, AT_PARAM_INDEX);
    put16(p + 4, index);
    p += 6;
    put16(p, AT_FRAME_UNIT_HEADER_LEN + cert_len);
    put16(p + 2, AT_PARAM_CERT);
    memcpy(p + 4, cert, cert_len);
    p += AT_FRAME_UNIT_HEADER_LEN + cert_len;
    put16(p, AT_FRAME_UNIT_HEADER_LEN + dlen);
    put16(p + 2, AT_PARAM_SIGNATURE);
    unsigned int got = 0;
    if (EVP_Digest(r + 2, signed_end - 2, p + 4, &got, md, NULL) != 1 || got != dlen) {
        free(r);
        snprintf(why, cap, "digest failed");
        return NULL;
    }
    *out_len = total;
    return r;
}

/* The text of a NUL-terminated frame string as a C string (cut at cap). */
static void unit_text(const at_frame_unit *u, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; i < u->value_len && u->value[i] && j + 1 < cap; i++)
        out[j++] = (char)u->value[i];
    out[j] = '\0';
}

/* Signature check; SEC_END_OK when it verifies. */
static sec_rc check_signature(const sim_engine *e, const at_frame *f, X509 *frame_cert,
                              char *why, size_t cap)
{
    X509 *own = NULL;
    X509 *verifier = NULL;
    if (f->cmd_id == AT_CMD_WRITE && f->index == 0 && frame_cert) {
        verifier = frame_cert;
    } else {
        size_t len = 0;
        const uint8_t *der = e->store ? sim_store_cert(e->store, 0, &len) : NULL;
        if (!der) {
            snprintf(why, cap, "no client certificate at index 0 to verify the signature");
            return SEC_ERROR;
        }
        at_cert_summary *s = malloc(sizeof *s);
        int rc = s ? at_cert_parse(der, len, s, &own, NULL, 0) : -1;
        free(s);
        if (rc != 0 || !own) {
            snprintf(why, cap, "the client certificate at index 0 is corrupted");
            return SEC_ERROR;
        }
        verifier = own;
    }
    at_sig_verdict v;
    int rc = at_verify_frame(f, e->frame, e->total, X509_get0_pubkey(verifier), &v);
    X509_free(own);
    if (rc != 0) {
        snprintf(why, cap, "signature check failed internally");
        return SEC_ERROR;
    }
    if (!v.base64_ok) {
        snprintf(why, cap, "the signature is not base64");
        return SEC_ERROR;
    }
    if (!v.length_ok || !v.recovered) {
        snprintf(why, cap, "the signature does not verify with the client certificate's key");
        return SEC_ERROR;
    }
    bool digest_ok = v.digest_len == e->prof->digest_len ||
                     (e->prof->id != AT_PROFILE_LEGACY && v.digest_len == 20);
    if (!digest_ok) {
        snprintf(why, cap, "the signature holds a %s digest, the module expects %s",
                 v.digest_name, e->prof->digest_len == 20 ? "SHA-1" : "SHA-256");
        return SEC_ERROR;
    }
    if (!v.matches) {
        snprintf(why, cap, "the signed %s digest differs from the frame's", v.digest_name);
        return SEC_ERROR;
    }
    return SEC_END_OK;
}

/*
 * Checks and applies the frame in e->frame (e->total bytes). For a READ,
 * *resp receives the response frame (caller frees).
 */
static sec_rc process_frame(sim_engine *e, at_frame *f, uint8_t **resp, size_t *resp_len,
                            char *why, size_t cap)
{
    *resp = NULL;
    why[0] = '\0';
    at_frame_decode(e->frame, e->total, 0, e->prof, f);
    if (f->n_problems || f->problems_dropped) {
        const at_frame_problem *p = &f->problems[0];
        snprintf(why, cap, "%s (offset %llu, %u)", at_frame_problem_name(p->code),
                 (unsigned long long)p->off, p->detail);
        return SEC_ERROR;
    }
    if (f->cmd_id != AT_CMD_WRITE && f->cmd_id != AT_CMD_READ && f->cmd_id != AT_CMD_DELETE) {
        snprintf(why, cap, "CmdId %u is not supported", f->cmd_id);
        return SEC_ERROR;
    }
    if (!f->has_index || f->index >= SIM_STORE_SLOTS) {
        snprintf(why, cap, "no usable index");
        return SEC_ERROR;
    }
    const at_frame_unit *imei = at_frame_find(f, AT_PARAM_IMEI);
    const at_frame_unit *sig = at_frame_find(f, AT_PARAM_SIGNATURE);
    if (imei) {
        char text[32];
        unit_text(imei, text, sizeof text);
        if (strcmp(text, e->cfg.imei) != 0) {
            snprintf(why, cap, "IMEI %s is not the module's %s", text, e->cfg.imei);
            return SEC_ERROR;
        }
    } else if (!e->prof->unsigned_ok) {
        snprintf(why, cap, "no IMEI unit");
        return SEC_ERROR;
    }
    if (!sig && !e->prof->unsigned_ok) {
        snprintf(why, cap, "no signature unit");
        return SEC_ERROR;
    }

    sec_rc rc = SEC_END_OK;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    const at_frame_unit *cu = at_frame_find(f, AT_PARAM_CERT);
    const at_frame_unit *ku = at_frame_find(f, AT_PARAM_KEY);
    if (f->cmd_id == AT_CMD_WRITE && cu) {
        at_cert_summary *s = malloc(sizeof *s);
        char err[200] = "";
        int prc = s ? at_cert_parse(cu->value, cu->value_len, s, &cert, err, sizeof err) : -1;
        free(s);
        if (prc != 0 || !cert) {
            snprintf(why, cap, "certificate unit: %s", err[0] ? err : "not DER X.509");
            rc = SEC_CORRUPTED;
            goto done;
        }
    }
    if (f->cmd_id == AT_CMD_WRITE && ku) {
        key = at_key_from_der(ku->value, ku->value_len, NULL);
        if (!key) {
            snprintf(why, cap, "the private key is not PKCS#8 or PKCS#1 DER");
            rc = SEC_ERROR;
            goto done;
        }
        if (!cert || EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1) {
            snprintf(why, cap, "the private key does not belong to the certificate");
            rc = SEC_ERROR;
            goto done;
        }
    }
    if (sig) {
        rc = check_signature(e, f, cert, why, cap);
        if (rc != SEC_END_OK)
            goto done;
    }

    char err[300] = "";
    size_t len = 0;
    const uint8_t *stored = e->store ? sim_store_cert(e->store, f->index, &len) : NULL;
    switch (f->cmd_id) {
    case AT_CMD_WRITE:
        if (!cu) {
            snprintf(why, cap, "no certificate unit");
            rc = SEC_ERROR;
        } else if (!e->store || sim_store_put(e->store, f->index, cu->value, cu->value_len,
                                       ku ? ku->value : NULL, ku ? ku->value_len : 0,
                                       err, sizeof err) != 0) {
            snprintf(why, cap, "store: %s", e->store ? err : "none");
            rc = SEC_ERROR;
        }
        break;
    case AT_CMD_DELETE:
        if (!stored) {
            snprintf(why, cap, "index %u is empty", f->index);
            rc = SEC_ERROR;
        } else if (sim_store_delete(e->store, f->index, err, sizeof err) != 0) {
            snprintf(why, cap, "store: %s", err);
            rc = SEC_ERROR;
        }
        break;
    default: /* READ */
        if (!stored) {
            snprintf(why, cap, "index %u is empty", f->index);
            rc = SEC_ERROR;
        } else if (!(*resp = read_response(e, f->index, stored, len, resp_len, why, cap))) {
            rc = SEC_ERROR;
        }
        break;
    }
done:
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}

static void finish_secure(sim_engine *e, const char *text, bool ok)
{
    secure_line(e, text);
    if (ok || e->cfg.ok_after_error)
        result(e, "OK", '0');
    else
        result(e, "ERROR", '4');
    e->mode = MODE_CMD;
    e->got = e->total = e->extra = 0;
    e->line_len = 0;
    e->line_overflow = false;
}

static void frame_done(sim_engine *e)
{
    at_frame *f = malloc(sizeof *f);
    char why[512];
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    sec_rc rc;
    if (!f) {
        snprintf(why, sizeof why, "out of memory");
        rc = SEC_ERROR;
    } else {
        rc = process_frame(e, f, &resp, &resp_len, why, sizeof why);
    }
    const char *name = f ? at_cmd_name(f->cmd_id) : NULL;
    char what[64];
    if (name && f->has_index)
        snprintf(what, sizeof what, "%s index %u", name, f->index);
    else if (name)
        snprintf(what, sizeof what, "%s", name);
    else
        snprintf(what, sizeof what, "frame");
    logf_(e, "secure %s (%zu bytes)%s%s -> %s", what, e->total, why[0] ? ": " : "", why,
          sec_text(rc));
    free(f);
    if (resp)
        emit(e, resp, resp_len);
    free(resp);
    finish_secure(e, sec_text(rc), rc == SEC_END_OK);
}

/* One byte of the frame transfer. */
static void binary_byte(sim_engine *e, uint64_t now_ns, uint8_t b)
{
    e->last_byte_ns = now_ns;
    switch (e->mode) {
    case MODE_BIN:
        if (e->lf_skip) {
            e->lf_skip = false;
            if (b == '\n')
                return; /* the end of "AT^SBNW=is_cert,1\r\n", not the frame */
        }
        e->frame[e->got++] = b;
        if (e->got == 2) {
            size_t total = (size_t)e->frame[0] | ((size_t)e->frame[1] << 8);
            if (total < AT_FRAME_HEADER_LEN || total > e->frame_cap) {
                logf_(e, "secure frame: TotalLen %zu is %s -> SECURE CMD LENGTH ERROR", total,
                      total < AT_FRAME_HEADER_LEN ? "below 6" : "larger than a frame can be");
                finish_secure(e, "SECURE CMD LENGTH ERROR", false);
                e->mode = MODE_DRAIN;
                return;
            }
            e->total = total;
        }
        if (e->total && e->got == e->total) {
            e->mode = MODE_WAIT;
            e->complete_ns = now_ns;
        }
        break;
    case MODE_WAIT:
        e->extra++;
        break;
    default: /* MODE_DRAIN */
        break;
    }
}

void sim_engine_tick(sim_engine *e, uint64_t now_ns)
{
    if (!e || e->mode == MODE_CMD)
        return;
    uint64_t deadline = sim_engine_deadline(e);
    if (now_ns < deadline || (e->mode == MODE_DATA && !deadline))
        return;
    switch (e->mode) {
    case MODE_DATA:
        logf_(e, "data mode: +++ with %u ms of silence around it -> command mode (%llu bytes "
                 "of data taken)", e->cfg.guard_ms, (unsigned long long)e->data_bytes);
        e->mode = MODE_CMD;
        e->line_len = 0;
        result(e, "OK", '0');
        break;
    case MODE_BIN:
        if (e->total)
            logf_(e, "secure frame: %zu of TotalLen %zu bytes after %u ms -> "
                     "SECURE CMD SERVICE TIMEOUT ERROR", e->got, e->total, e->cfg.timeout_ms);
        else
            logf_(e, "secure frame: %zu bytes after %u ms -> SECURE CMD SERVICE TIMEOUT ERROR",
                  e->got, e->cfg.timeout_ms);
        finish_secure(e, "SECURE CMD SERVICE TIMEOUT ERROR", false);
        break;
    case MODE_WAIT:
        if (e->extra) {
            logf_(e, "secure frame: TotalLen %zu but %zu bytes -> SECURE CMD TOO MANY DATA ERROR",
                  e->total, e->total + e->extra);
            finish_secure(e, "SECURE CMD TOO MANY DATA ERROR", false);
        } else {
            frame_done(e);
        }
        break;
    case MODE_SISW: {
        char res[160];
        logf_(e, "service %u: %zu of %zu ^SISW bytes after %u ms -> nothing sent", e->sisw_id,
              e->sisw_got, e->sisw_n, e->cfg.timeout_ms);
        e->mode = MODE_CMD;
        e->line_len = 0;
        e->line_overflow = false;
        error_result(e, RC_CME, CME_NOT_ALLOWED, res, sizeof res);
        break;
    }
    default: /* MODE_DRAIN: quiet again */
        e->mode = MODE_CMD;
        break;
    }
    flush_urcs(e);
}

/* ------------------------------------------------------------------ */
/* Internet services: AT^SICS, ^SISS, ^SISO, ^SISW, ^SISR, ^SISC, ^SISI */
/* ------------------------------------------------------------------ */

/*
 * Choices where PROTOCOL.md and the issue are silent, as a module does:
 * - AT^SISO answers OK at once for a well-formed profile; how the open
 *   went follows as URCs after the OK: +CIEV: is_cert (when enabled and
 *   the server sent a certificate, also when it fails the check), then
 *   ^SISW: <id>,1 (ready) or ^SIS: <id>,0,<info>,"<text>" (failed, the
 *   connection is closed). A profile without srvType or address, an
 *   address that does not parse or does not suit srvType, or a service
 *   already open is +CME ERROR: 3 (operation not allowed).
 * - Only loopback hosts are connected (127.0.0.0/8, localhost, ::1); any
 *   other host gets ^SIS: <id>,0,14,"connection aborted (...loopback
 *   only)" without a connection attempt (not even a name lookup).
 * - TLS comes from the address (socktcps://, https://). secOpt unset,
 *   empty or -1: TLS without server authentication (a plain connection
 *   to a TLS server cannot work). secOpt 1..index_max or a list: the
 *   stored certificates at those indexes are the trust anchors; empty
 *   slots are skipped, and when every selected slot is empty the open ends
 *   in ^SIS: <id>,0,77,"the certificate does not exist" without
 *   connecting. Verify failures: 64 not yet valid, 65 expired, 66 any
 *   other (not confirmed); other TLS failures 74; TCP failures 14.
 * - Received data: ^SISR: <id>,1 when data arrives and the host has no
 *   unread data announced; again only after an AT^SISR emptied the buffer.
 *   When the peer closes: ^SISR: <id>,2 once all data was read.
 * - AT^SISW=<id>,<n> (1..1500): ^SISW: <id>,<n>,0, then exactly n bytes;
 *   if they are not complete within the service timeout nothing is sent
 *   and the command fails with +CME ERROR: 3.
 * - AT^SISR=<id>,<n> (1..1500): ^SISR: <id>,<m> and m bytes (m = 0 when
 *   nothing is buffered).
 * - Http: on open the simulator sends "GET <path> HTTP/1.1" with Host and
 *   "Connection: close" (no ^SISW: <id>,1 then); the answer is announced
 *   by ^SISR: <id>,1 and read with AT^SISR like socket data.
 *   Transparent is opened like Socket (AT^SIST is not simulated).
 */

void sim_engine_set_services(sim_engine *e, const sim_svc_io *svc, void *ctx)
{
    if (!e)
        return;
    if (svc) {
        e->svc_io = *svc;
        e->has_svc_io = true;
    } else {
        memset(&e->svc_io, 0, sizeof e->svc_io);
        e->has_svc_io = false;
    }
    e->svc_ctx = ctx;
}

static void urc_queue(sim_engine *e, const char *text)
{
    if (e->n_urc >= URC_MAX) {
        logf_(e, "URC queue full: \"%s\" lost", text);
        return;
    }
    size_t n = strlen(text);
    char *c = malloc(n + 1);
    if (!c) {
        logf_(e, "out of memory: URC \"%s\" lost", text);
        return;
    }
    memcpy(c, text, n + 1);
    e->urcq[e->n_urc++] = c;
}

static void flush_urcs(sim_engine *e)
{
    if (e->mode != MODE_CMD)
        return;
    for (unsigned i = 0; i < e->n_urc; i++) {
        if (e->verbose)
            emit_str(e, "\r\n");
        emit_str(e, e->urcq[i]);
        emit_str(e, "\r\n");
        free(e->urcq[i]);
    }
    e->n_urc = 0;
}

static bool is_service_command(const at_str *name)
{
    static const char *const names[] = {"^SICS", "^SISS", "^SISO", "^SISW",
                                        "^SISR", "^SISC", "^SISI"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (at_name_is(name, names[i]))
            return true;
    return false;
}

/* A parameter as a C string; false if it does not fit. */
static bool param_text(const at_str *p, char *out, size_t cap)
{
    if (!p->ptr || p->len == 0) {
        out[0] = '\0';
        return true;
    }
    if (p->len >= cap)
        return false;
    memcpy(out, p->ptr, p->len);
    out[p->len] = '\0';
    return true;
}

/* "1,5,9" (blanks dropped) -> indexes; false unless each is 1..max. */
static bool parse_secopt_list(const char *s, unsigned max, unsigned *idx, unsigned *n,
                              unsigned cap)
{
    *n = 0;
    while (*s) {
        unsigned v = 0;
        size_t digits = 0;
        while (*s >= '0' && *s <= '9') {
            v = v * 10 + (unsigned)(*s - '0');
            if (v > max)
                return false;
            s++;
            digits++;
        }
        if (!digits || v == 0 || *n >= cap)
            return false;
        idx[(*n)++] = v;
        if (*s == ',' && s[1])
            s++;
        else if (*s)
            return false;
    }
    return *n > 0;
}

enum { SCH_TCP, SCH_TCPS, SCH_HTTP, SCH_HTTPS };

typedef struct svc_addr {
    int scheme;
    char host[64];   /* as written (IPv6 without brackets) */
    char conn[64];   /* what to connect to: "localhost" -> "127.0.0.1" */
    unsigned port;
    char path[256];  /* Http: "/..." */
    bool loopback;
} svc_addr;

static bool prefix_ci(const char *s, const char *lit)
{
    for (; *lit; s++, lit++) {
        char a = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
        if (a != *lit)
            return false;
    }
    return true;
}

/* Dotted quad with 127 first. */
static bool is_loopback_v4(const char *h)
{
    unsigned part[4], n = 0;
    const char *p = h;
    while (n < 4) {
        unsigned v = 0;
        size_t d = 0;
        while (*p >= '0' && *p <= '9' && d < 4) {
            v = v * 10 + (unsigned)(*p - '0');
            p++;
            d++;
        }
        if (d == 0 || d > 3 || v > 255)
            return false;
        part[n++] = v;
        if (n < 4) {
            if (*p != '.')
                return false;
            p++;
        }
    }
    return *p == '\0' && part[0] == 127;
}

static bool parse_address(const char *a, svc_addr *out, char *why, size_t cap)
{
    memset(out, 0, sizeof *out);
    const char *p;
    if (prefix_ci(a, "socktcps://")) {
        out->scheme = SCH_TCPS;
        p = a + 11;
    } else if (prefix_ci(a, "socktcp://")) {
        out->scheme = SCH_TCP;
        p = a + 10;
    } else if (prefix_ci(a, "https://")) {
        out->scheme = SCH_HTTPS;
        p = a + 8;
    } else if (prefix_ci(a, "http://")) {
        out->scheme = SCH_HTTP;
        p = a + 7;
    } else {
        snprintf(why, cap, "address \"%s\": not socktcp://, socktcps://, http:// or https://", a);
        return false;
    }
    size_t h = 0;
    if (*p == '[') {
        p++;
        while (*p && *p != ']' && h + 1 < sizeof out->host)
            out->host[h++] = *p++;
        if (*p != ']') {
            snprintf(why, cap, "address \"%s\": unterminated [IPv6 address]", a);
            return false;
        }
        p++;
    } else {
        while (*p && *p != ':' && *p != '/' && *p != ';' && h + 1 < sizeof out->host)
            out->host[h++] = *p++;
    }
    out->host[h] = '\0';
    if (h == 0 || (*p && *p != ':' && *p != '/' && *p != ';')) {
        snprintf(why, cap, "address \"%s\": no usable host", a);
        return false;
    }
    bool http = out->scheme == SCH_HTTP || out->scheme == SCH_HTTPS;
    out->port = out->scheme == SCH_HTTPS ? 443 : out->scheme == SCH_HTTP ? 80 : 0;
    if (*p == ':') {
        p++;
        unsigned long v = 0;
        size_t d = 0;
        while (*p >= '0' && *p <= '9' && v <= 65535) {
            v = v * 10 + (unsigned long)(*p++ - '0');
            d++;
        }
        if (!d || v == 0 || v > 65535) {
            snprintf(why, cap, "address \"%s\": bad port", a);
            return false;
        }
        out->port = (unsigned)v;
    }
    if (!out->port) {
        snprintf(why, cap, "address \"%s\": no port", a);
        return false;
    }
    if (http) {
        snprintf(out->path, sizeof out->path, "%s", *p == '/' ? p : "/");
        if (*p && *p != '/') {
            snprintf(why, cap, "address \"%s\": unexpected text after the port", a);
            return false;
        }
        for (const char *q = out->path; *q; q++)
            if ((unsigned char)*q <= 0x20 || *q == 0x7f) {
                snprintf(why, cap, "address \"%s\": blank or control character in the path", a);
                return false;
            }
    } else if (*p && *p != ';') {
        snprintf(why, cap, "address \"%s\": unexpected text after the port", a);
        return false;
    }
    if (strcmp(out->host, "::1") == 0) {
        out->loopback = true;
        snprintf(out->conn, sizeof out->conn, "::1");
    } else if (prefix_ci(out->host, "localhost") && out->host[9] == '\0') {
        out->loopback = true;
        snprintf(out->conn, sizeof out->conn, "127.0.0.1");
    } else if (is_loopback_v4(out->host)) {
        out->loopback = true;
        snprintf(out->conn, sizeof out->conn, "%s", out->host);
    }
    return true;
}

static bool ciev_enabled(const sim_engine *e)
{
    return e->sind_is_cert == 1 && e->cmer[0] == 3 && e->cmer[3] != 0;
}

static void queue_sis(sim_engine *e, unsigned id, unsigned info_id, const char *text)
{
    char buf[256];
    snprintf(buf, sizeof buf, "^SIS: %u,0,%u,\"%s\"", id, info_id, text);
    urc_queue(e, buf);
}

/* AT^SISS=<id>,<param>,<value...> */
static cmd_rc cmd_siss(sim_engine *e, const at_command *c, unsigned *cme)
{
    if (c->type == AT_CMDT_TEST) {
        info(e, "^SISS: (0-9),(\"srvType\",\"conId\",\"address\",\"secOpt\")");
        return RC_OK;
    }
    if (c->type == AT_CMDT_READ) {
        char buf[400];
        for (unsigned i = 0; i < SIM_SERVICES; i++) {
            const sim_service *s = &e->svc[i];
            snprintf(buf, sizeof buf, "^SISS: %u,\"srvType\",\"%s\"", i, s->type);
            info(e, buf);
            if (!s->type[0])
                continue;
            snprintf(buf, sizeof buf, "^SISS: %u,\"conId\",\"%s\"", i, s->con_id);
            info(e, buf);
            snprintf(buf, sizeof buf, "^SISS: %u,\"address\",\"%s\"", i, s->address);
            info(e, buf);
            if (s->has_secopt) {
                snprintf(buf, sizeof buf, "^SISS: %u,\"secOpt\",\"%s\"", i, s->secopt);
                info(e, buf);
            }
        }
        return RC_OK;
    }
    unsigned id;
    if (c->type != AT_CMDT_SET || c->n_params < 2 || c->params_dropped ||
        !num_value(&c->params[0], SIM_SERVICES - 1, SIM_SERVICES, &id) || id >= SIM_SERVICES)
        return RC_CME;
    sim_service *s = &e->svc[id];
    const at_str *name = &c->params[1];
    char val[256];
    if (type_is(name, "secOpt")) {
        /* quoted "1,5,9" or spread over parameters 1,5,9 */
        size_t n = 0;
        for (unsigned k = 2; k < c->n_params; k++) {
            const at_str *p = &c->params[k];
            if (k > 2 && n + 1 < sizeof s->secopt)
                val[n++] = ',';
            for (size_t i = 0; p->ptr && i < p->len; i++) {
                if (p->ptr[i] == ' ')
                    continue;
                if (n + 1 >= sizeof s->secopt)
                    return RC_CME;
                val[n++] = p->ptr[i];
            }
        }
        val[n] = '\0';
        unsigned idx[SIM_STORE_SLOTS], cnt;
        if (n && strcmp(val, "-1") != 0 &&
            !parse_secopt_list(val, e->prof->index_max, idx, &cnt, SIM_STORE_SLOTS))
            return RC_CME;
        memcpy(s->secopt, val, n + 1);
        s->has_secopt = true;
        return RC_OK;
    }
    if (c->n_params != 3 || !param_text(&c->params[2], val, sizeof val))
        return RC_CME;
    if (type_is(name, "srvType")) {
        static const char *const types[] = {"Socket", "Transparent", "Http"};
        if (type_is(&c->params[2], "none") || !val[0]) {
            if (s->open) {
                *cme = CME_NOT_ALLOWED;
                return RC_CME;
            }
            memset(s, 0, sizeof *s);
            return RC_OK;
        }
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (type_is(&c->params[2], types[i])) {
                snprintf(s->type, sizeof s->type, "%s", types[i]);
                return RC_OK;
            }
        return RC_CME;
    }
    if (type_is(name, "conId")) {
        size_t n = strlen(val);
        if (n >= sizeof s->con_id)
            return RC_CME;
        memcpy(s->con_id, val, n + 1);
        return RC_OK;
    }
    if (type_is(name, "address")) {
        snprintf(s->address, sizeof s->address, "%s", val);
        return RC_OK;
    }
    /* other parameters of the manuals (user, passwd, tcpMR, ...): taken */
    return RC_OK;
}

/* AT^SICS=<conId>,<param>,<value> */
static cmd_rc cmd_sics(sim_engine *e, const at_command *c)
{
    if (c->type == AT_CMDT_TEST) {
        info(e, "^SICS: (0-5),(\"conType\",\"apn\",\"user\",\"passwd\",\"inactTO\")");
        return RC_OK;
    }
    if (c->type == AT_CMDT_READ) {
        char buf[256];
        for (unsigned i = 0; i < e->n_sics; i++) {
            snprintf(buf, sizeof buf, "^SICS: %u,\"%s\",\"%s\"", e->sics[i].con_id,
                     e->sics[i].param, e->sics[i].value);
            info(e, buf);
        }
        return RC_OK;
    }
    unsigned con;
    char param[24], value[128];
    if (c->type != AT_CMDT_SET || c->n_params != 3 ||
        !num_value(&c->params[0], 5, 6, &con) || con > 5 ||
        !param_text(&c->params[1], param, sizeof param) || !param[0] ||
        !param_text(&c->params[2], value, sizeof value))
        return RC_CME;
    unsigned k = 0;
    while (k < e->n_sics && !(e->sics[k].con_id == con && strcmp(e->sics[k].param, param) == 0))
        k++;
    if (k == e->n_sics) {
        if (e->n_sics >= SICS_MAX)
            return RC_CME;
        e->n_sics++;
    }
    e->sics[k].con_id = con;
    memcpy(e->sics[k].param, param, sizeof param);
    memcpy(e->sics[k].value, value, sizeof value);
    return RC_OK;
}

static void report_peer(sim_engine *e, unsigned id, const sim_svc_outcome *o)
{
    if (!o->peer_len)
        return;
    at_cert_summary *cs = malloc(sizeof *cs);
    char err[200] = "";
    if (!cs || at_cert_summarize(o->peer_der, o->peer_len, cs, err, sizeof err) != 0) {
        logf_(e, "service %u: the server's certificate cannot be summarized: %s", id,
              cs ? err : "out of memory");
        free(cs);
        return;
    }
    logf_(e, "service %u: server certificate subject %s, issuer %s, serial %s", id,
          cs->subject, cs->issuer, cs->serial);
    if (ciev_enabled(e)) {
        size_t cap = 2 * AT_CERT_DN_MAX + 400;
        char *line = malloc(cap);
        if (line) {
            snprintf(line, cap, "+CIEV: is_cert,%u,%s,%s,%s,%s,%s,%s", id, cs->issuer,
                     cs->serial, cs->subject, cs->sig_alg, cs->thumb_alg, cs->thumbprint);
            urc_queue(e, line);
            free(line);
        }
    }
    free(cs);
}

/* AT^SISO=<id>: see the choices above. */
static cmd_rc cmd_siso(sim_engine *e, const at_command *c, unsigned *cme)
{
    if (c->type == AT_CMDT_TEST) {
        info(e, "^SISO: (0-9)");
        return RC_OK;
    }
    unsigned id;
    if (c->type != AT_CMDT_SET || c->n_params < 1 || c->n_params > 2 ||
        !num_value(&c->params[0], SIM_SERVICES - 1, SIM_SERVICES, &id) || id >= SIM_SERVICES)
        return RC_CME;
    sim_service *s = &e->svc[id];
    *cme = CME_NOT_ALLOWED;
    char why[400];
    svc_addr a;
    if (!s->type[0] || !s->address[0]) {
        logf_(e, "service %u: no srvType or address set", id);
        return RC_CME;
    }
    if (s->open) {
        logf_(e, "service %u: already open", id);
        return RC_CME;
    }
    if (!parse_address(s->address, &a, why, sizeof why)) {
        logf_(e, "service %u: %s", id, why);
        return RC_CME;
    }
    bool http = a.scheme == SCH_HTTP || a.scheme == SCH_HTTPS;
    if (http != (strcmp(s->type, "Http") == 0)) {
        logf_(e, "service %u: address \"%s\" does not suit srvType %s", id, s->address, s->type);
        return RC_CME;
    }
    if (!e->has_svc_io || !e->svc_io.open) {
        logf_(e, "service %u: the simulator has no network", id);
        return RC_CME;
    }
    s->failed = s->peer_closed = s->rx_told = s->close_told = false;
    s->rx_bytes = s->tx_bytes = 0;
    if (!a.loopback) {
        logf_(e, "service %u: %s is not a loopback address: refused without connecting", id,
              a.host);
        queue_sis(e, id, 14, "connection aborted (attrace-sim connects to loopback addresses only)");
        s->failed = true;
        return RC_OK;
    }
    sim_svc_request req;
    memset(&req, 0, sizeof req);
    req.id = id;
    req.host = a.conn;
    req.port = a.port;
    req.tls = a.scheme == SCH_TCPS || a.scheme == SCH_HTTPS;
    const uint8_t *anchors[SIM_STORE_SLOTS];
    size_t lens[SIM_STORE_SLOTS];
    char sel[200] = "no server check";
    if (req.tls && s->has_secopt && s->secopt[0] && strcmp(s->secopt, "-1") != 0) {
        unsigned idx[SIM_STORE_SLOTS], cnt = 0;
        parse_secopt_list(s->secopt, e->prof->index_max, idx, &cnt, SIM_STORE_SLOTS);
        req.verify = true;
        size_t o = 0;
        for (unsigned k = 0; k < cnt; k++) {
            size_t len = 0;
            const uint8_t *der = e->store ? sim_store_cert(e->store, idx[k], &len) : NULL;
            if (der) {
                anchors[req.n_anchors] = der;
                lens[req.n_anchors++] = len;
                o += (size_t)snprintf(sel + o, o < sizeof sel ? sizeof sel - o : 0, "%s%u",
                                      req.n_anchors > 1 ? "," : "", idx[k]);
                if (o >= sizeof sel)
                    o = sizeof sel - 1;
            }
        }
        if (!req.n_anchors) {
            logf_(e, "service %u: secOpt %s selects only empty slots -> ^SIS info 77", id,
                  s->secopt);
            queue_sis(e, id, 77, at_sis_info_text(77));
            s->failed = true;
            return RC_OK;
        }
        char tmp[sizeof sel + 32];
        snprintf(tmp, sizeof tmp, "trust anchors at index %s", sel);
        memcpy(sel, tmp, sizeof sel - 1);
        sel[sizeof sel - 1] = '\0';
    }
    req.anchors = anchors;
    req.anchor_lens = lens;
    sim_svc_outcome *out = malloc(sizeof *out);
    if (!out) {
        logf_(e, "service %u: out of memory", id);
        return RC_CME;
    }
    memset(out, 0, sizeof *out);
    e->svc_io.open(e->svc_ctx, &req, out);
    report_peer(e, id, out);
    if (out->info_id) {
        const char *t = at_sis_info_text(out->info_id);
        logf_(e, "service %u: %s to %s port %u (%s) failed: %s -> ^SIS info %u", id,
              req.tls ? "TLS" : "TCP", a.conn, a.port, req.tls ? sel : "plain", out->detail,
              out->info_id);
        queue_sis(e, id, out->info_id, t ? t : "connection failed");
        s->failed = true;
        free(out);
        return RC_OK;
    }
    logf_(e, "service %u: connected to %s port %u (%s; %s)", id, a.conn, a.port,
          req.tls ? sel : "plain TCP", out->detail);
    free(out);
    s->open = true;
    if (http) {
        char get[600];
        int n = snprintf(get, sizeof get,
                         "GET %s HTTP/1.1\r\nHost: %s%s%s:%u\r\nConnection: close\r\n\r\n",
                         a.path, strchr(a.host, ':') ? "[" : "", a.host,
                         strchr(a.host, ':') ? "]" : "", a.port);
        char err[200] = "";
        if (n < 0 || (size_t)n >= sizeof get ||
            e->svc_io.write(e->svc_ctx, id, (const uint8_t *)get, (size_t)n, err,
                            sizeof err) != 0) {
            logf_(e, "service %u: sending the HTTP request failed: %s", id, err);
            if (e->svc_io.close)
                e->svc_io.close(e->svc_ctx, id);
            s->open = false;
            s->failed = true;
            queue_sis(e, id, 14, at_sis_info_text(14));
            return RC_OK;
        }
        s->tx_bytes += (size_t)n;
        logf_(e, "service %u: sent GET %s (%d bytes)", id, a.path, n);
        return RC_OK; /* the answer is announced by ^SISR: <id>,1 */
    }
    char w[32];
    snprintf(w, sizeof w, "^SISW: %u,1", id);
    urc_queue(e, w);
    return RC_OK;
}

static bool service_id(const at_command *c, unsigned nparams, unsigned *id)
{
    return c->type == AT_CMDT_SET && c->n_params == nparams &&
           num_value(&c->params[0], SIM_SERVICES - 1, SIM_SERVICES, id) && *id < SIM_SERVICES;
}

static void close_service(sim_engine *e, unsigned id, const char *why)
{
    sim_service *s = &e->svc[id];
    if (s->open && e->svc_io.close)
        e->svc_io.close(e->svc_ctx, id);
    if (s->open)
        logf_(e, "service %u: closed (%s; %llu bytes sent, %llu received)", id, why,
              (unsigned long long)s->tx_bytes, (unsigned long long)s->rx_bytes);
    s->open = s->peer_closed = s->rx_told = s->close_told = false;
}

static cmd_rc cmd_sisr(sim_engine *e, const at_command *c, unsigned *cme)
{
    unsigned id, n;
    if (c->type == AT_CMDT_TEST) {
        info(e, "^SISR: (0-9),(1-1500)");
        return RC_OK;
    }
    if (!service_id(c, 2, &id) || !num_value(&c->params[1], SISRW_MAX, 0, &n) || n == 0)
        return RC_CME;
    sim_service *s = &e->svc[id];
    if (!s->open) {
        *cme = CME_NOT_ALLOWED;
        return RC_CME;
    }
    uint8_t buf[SISRW_MAX];
    size_t left = 0;
    size_t m = e->svc_io.read ? e->svc_io.read(e->svc_ctx, id, buf, n, &left) : 0;
    if (m > n)
        m = n;
    char line[48];
    snprintf(line, sizeof line, "^SISR: %u,%zu", id, m);
    info(e, line);
    emit(e, buf, m);
    s->rx_bytes += m;
    logf_(e, "service %u: host read %zu of %u bytes asked (%zu still buffered)", id, m, n, left);
    if (left == 0) {
        s->rx_told = false;
        if (s->peer_closed && !s->close_told) {
            snprintf(line, sizeof line, "^SISR: %u,2", id);
            urc_queue(e, line);
            s->close_told = true;
        }
    }
    return RC_OK;
}

static cmd_rc cmd_sisi(sim_engine *e, const at_command *c)
{
    char line[96];
    unsigned id = 0;
    if (c->type == AT_CMDT_TEST) {
        info(e, "^SISI: (0-9)");
        return RC_OK;
    }
    bool all = c->type == AT_CMDT_READ;
    if (!all && !service_id(c, 1, &id))
        return RC_CME;
    for (unsigned i = all ? 0 : id; i < (all ? SIM_SERVICES : id + 1); i++) {
        const sim_service *s = &e->svc[i];
        if (all && !s->type[0])
            continue;
        unsigned state = !s->type[0] ? 1 : s->open ? (s->peer_closed ? 5 : 4)
                                        : s->failed ? 6 : 2;
        snprintf(line, sizeof line, "^SISI: %u,%u,%llu,%llu,0,0", i, state,
                 (unsigned long long)s->rx_bytes, (unsigned long long)s->tx_bytes);
        info(e, line);
    }
    return RC_OK;
}

static cmd_rc service_command(sim_engine *e, const at_command *c, unsigned *cme)
{
    const at_str *n = &c->name;
    unsigned id, cnt;
    *cme = CME_INCORRECT_PARAMS;
    if (at_name_is(n, "^SICS"))
        return cmd_sics(e, c);
    if (at_name_is(n, "^SISS"))
        return cmd_siss(e, c, cme);
    if (at_name_is(n, "^SISO"))
        return cmd_siso(e, c, cme);
    if (at_name_is(n, "^SISR"))
        return cmd_sisr(e, c, cme);
    if (at_name_is(n, "^SISI"))
        return cmd_sisi(e, c);
    if (at_name_is(n, "^SISC")) {
        if (c->type == AT_CMDT_TEST) {
            info(e, "^SISC: (0-9)");
            return RC_OK;
        }
        if (!service_id(c, 1, &id))
            return RC_CME;
        close_service(e, id, "AT^SISC");
        e->svc[id].failed = false;
        return RC_OK;
    }
    /* ^SISW */
    if (c->type == AT_CMDT_TEST) {
        info(e, "^SISW: (0-9),(1-1500)");
        return RC_OK;
    }
    if (c->type != AT_CMDT_SET || c->n_params < 2 || c->n_params > 3 ||
        !num_value(&c->params[0], SIM_SERVICES - 1, SIM_SERVICES, &id) ||
        id >= SIM_SERVICES || !num_value(&c->params[1], SISRW_MAX, 0, &cnt) || cnt == 0)
        return RC_CME;
    if (!e->svc[id].open) {
        *cme = CME_NOT_ALLOWED;
        return RC_CME;
    }
    char line[48];
    snprintf(line, sizeof line, "^SISW: %u,%u,0", id, cnt);
    info(e, line);
    e->sisw_id = id;
    e->sisw_n = cnt;
    return RC_SISW;
}

/* One byte of the AT^SISW payload. */
static void sisw_byte(sim_engine *e, uint8_t b)
{
    if (e->lf_skip) {
        e->lf_skip = false;
        if (b == '\n')
            return; /* the end of "AT^SISW=<id>,<n>\r\n", not payload */
    }
    e->sisw_buf[e->sisw_got++] = b;
    if (e->sisw_got < e->sisw_n)
        return;
    unsigned id = e->sisw_id;
    sim_service *s = &e->svc[id];
    char err[200] = "";
    e->mode = MODE_CMD;
    e->line_len = 0;
    e->line_overflow = false;
    int rc = s->open && e->svc_io.write
                 ? e->svc_io.write(e->svc_ctx, id, e->sisw_buf, e->sisw_n, err, sizeof err)
                 : -1;
    if (rc == 0) {
        s->tx_bytes += e->sisw_n;
        logf_(e, "service %u: sent %zu bytes", id, e->sisw_n);
        result(e, "OK", '0');
    } else {
        char res[160];
        logf_(e, "service %u: sending %zu bytes failed: %s", id, e->sisw_n,
              err[0] ? err : "not connected");
        error_result(e, RC_CME, CME_NOT_ALLOWED, res, sizeof res);
    }
    flush_urcs(e);
}

void sim_engine_service_event(sim_engine *e, uint64_t now_ns, unsigned id, sim_svc_event ev)
{
    if (!e || id >= SIM_SERVICES)
        return;
    sim_engine_tick(e, now_ns);
    sim_service *s = &e->svc[id];
    if (!s->open)
        return;
    char line[48];
    if (ev == SIM_SVC_DATA) {
        if (!s->rx_told) {
            s->rx_told = true;
            snprintf(line, sizeof line, "^SISR: %u,1", id);
            urc_queue(e, line);
        }
    } else if (ev == SIM_SVC_CLOSED && !s->peer_closed) {
        s->peer_closed = true;
        logf_(e, "service %u: the peer closed the connection", id);
        if (!s->rx_told && !s->close_told) {
            snprintf(line, sizeof line, "^SISR: %u,2", id);
            urc_queue(e, line);
            s->close_told = true;
        }
    }
    flush_urcs(e);
}

/* ------------------------------------------------------------------ */
/* Input                                                              */
/* ------------------------------------------------------------------ */

static bool is_a(char c)
{
    return c == 'A' || c == 'a';
}

static void repeat_last(sim_engine *e, uint64_t now_ns)
{
    char line[LINE_CAP];
    size_t len = 2;
    if (e->has_last) {
        memcpy(line, e->last, e->last_len);
        len = e->last_len;
    } else {
        memcpy(line, "AT", 2);
    }
    execute_line(e, line, len, false, now_ns);
}

static void command_byte(sim_engine *e, uint64_t now_ns, uint8_t b)
{
    char c = (char)b;
    if (e->echo)
        emit(e, &b, 1);
    if (c == '\r') {
        size_t len = e->line_len;
        bool overflow = e->line_overflow;
        e->line_len = 0;
        e->line_overflow = false;
        if (len == 0)
            return;
        if (!overflow) {
            memcpy(e->last, e->line, len);
            e->last_len = len;
            e->has_last = true;
        }
        execute_line(e, e->line, len, overflow, now_ns);
        return;
    }
    if (c == '\n')
        return;
    if (c == '\b') {
        if (e->line_len > 0)
            e->line_len--;
        return;
    }
    /* Before "AT" (or "A/") everything is ignored. */
    if (e->line_len == 0 && !is_a(c))
        return;
    if (e->line_len == 1) {
        if (c == '/') {
            e->line_len = 0;
            repeat_last(e, now_ns);
            return;
        }
        if (c != 'T' && c != 't') {
            e->line_len = is_a(c) ? 1 : 0;
            if (e->line_len)
                e->line[0] = c;
            return;
        }
    }
    if (e->line_len < LINE_CAP)
        e->line[e->line_len++] = c;
    else
        e->line_overflow = true;
}

/* One byte in data mode: data for the remote end, or part of the +++
 * escape, which needs guard_ms of silence before its first plus and after
 * its last (the tick ends the mode then). */
static void data_byte(sim_engine *e, uint64_t now_ns, uint8_t b)
{
    uint64_t guard = (uint64_t)e->cfg.guard_ms * NS_PER_MS;
    bool quiet_before = e->data_ns == 0 || now_ns - e->data_ns >= guard;
    if (b == '+' && e->pluses < 3 && (e->pluses > 0 || quiet_before))
        e->pluses++;
    else
        e->pluses = 0;
    e->data_ns = now_ns;
    e->data_bytes++;
}

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
            command_byte(e, now_ns, b);
        else if (e->mode == MODE_SISW)
            sisw_byte(e, b);
        else if (e->mode == MODE_DATA)
            data_byte(e, now_ns, b);
        else
            binary_byte(e, now_ns, b);
    }
    e->lf_skip = false;
    sim_engine_tick(e, now_ns);
    flush_urcs(e);
}
