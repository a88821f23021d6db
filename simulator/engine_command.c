/*
 * engine_command.c - the simulated module's command mode (engine_private.h).
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
 */
#include "engine_private.h"

#include "attrace/cert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_settings_reset(sim_engine *e)
{
    e->echo = true;
    e->verbose = true;
    e->cmee = 0;
    e->flow = 0;
    e->sind_is_cert = 0;
    memset(e->cmer, 0, sizeof e->cmer);
}

/* ------------------------------------------------------------------ */
/* Parameters                                                         */
/* ------------------------------------------------------------------ */

/* A decimal value of at most @p max; an absent value is @p dflt. */
bool sim_num_value(const at_str *s, unsigned max, unsigned dflt, unsigned *out)
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

static cmd_rc basic_flag(const at_command *c, bool *flag, unsigned *cme)
{
    unsigned v;
    if (c->type != AT_CMDT_EXEC || !sim_num_value(&c->basic_value, 1, 0, &v)) {
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
        sim_info(e, line);
    }
}

bool sim_param_is(const at_str *p, const char *name)
{
    return p->ptr && at_name_is(p, name);
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
        if (c->type != AT_CMDT_EXEC || !sim_num_value(&c->basic_value, 0, 0, &v))
            return RC_CME;
        sim_info(e, "Cinterion");
        sim_info(e, e->model);
        sim_info(e, "REVISION 01.301");
        return RC_OK;
    }
    if (at_name_is(n, "&F") || at_name_is(n, "Z")) {
        if (c->type != AT_CMDT_EXEC || !sim_num_value(&c->basic_value, 0, 0, &v))
            return RC_CME;
        sim_settings_reset(e);
        return RC_OK;
    }
    if (at_name_is(n, "\\Q")) {
        if (c->type != AT_CMDT_EXEC || !sim_num_value(&c->basic_value, 3, 0, &v) || v == 2)
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
        sim_info(e, e->cfg.imei);
        return RC_OK;
    }
    if (at_name_is(n, "+CMEE")) {
        char buf[32];
        switch (c->type) {
        case AT_CMDT_READ:
            snprintf(buf, sizeof buf, "+CMEE: %u", e->cmee);
            sim_info(e, buf);
            return RC_OK;
        case AT_CMDT_TEST:
            sim_info(e, "+CMEE: (0-2)");
            return RC_OK;
        case AT_CMDT_EXEC:
            e->cmee = 0;
            return RC_OK;
        case AT_CMDT_SET:
            if (c->n_params != 1 || !sim_num_value(&c->params[0], 2, 0, &v))
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
            sim_info(e, buf);
            return RC_OK;
        }
        if (c->type != AT_CMDT_SET || c->n_params != 2 || !sim_param_is(&c->params[0], "is_cert") ||
            !sim_num_value(&c->params[1], 2, 2, &v))
            return RC_CME;
        if (v < 2)
            e->sind_is_cert = v;
        snprintf(buf, sizeof buf, "^SIND: is_cert,%u", e->sind_is_cert);
        sim_info(e, buf);
        return RC_OK;
    }
    if (at_name_is(n, "+CMER")) {
        static const unsigned max[5] = {3, 0, 0, 2, 1};
        char buf[64];
        if (c->type == AT_CMDT_READ) {
            snprintf(buf, sizeof buf, "+CMER: %u,%u,%u,%u,%u", e->cmer[0], e->cmer[1],
                     e->cmer[2], e->cmer[3], e->cmer[4]);
            sim_info(e, buf);
            return RC_OK;
        }
        if (c->type == AT_CMDT_TEST) {
            sim_info(e, "+CMER: (0-3),(0),(0),(0-2),(0-1)");
            return RC_OK;
        }
        if (c->type != AT_CMDT_SET || c->n_params > 5)
            return RC_CME;
        unsigned vals[5];
        memcpy(vals, e->cmer, sizeof vals);
        for (unsigned i = 0; i < c->n_params; i++)
            if (!sim_num_value(&c->params[i], max[i], vals[i], &vals[i]))
                return RC_CME;
        memcpy(e->cmer, vals, sizeof vals);
        return RC_OK;
    }
    if (at_name_is(n, "^SBNR")) {
        if (c->type == AT_CMDT_TEST) {
            sim_info(e, "^SBNR: (\"is_cert\")");
            return RC_OK;
        }
        if (c->type != AT_CMDT_SET || c->n_params != 1)
            return RC_CME;
        if (!sim_param_is(&c->params[0], "is_cert")) {
            if (sim_param_is(&c->params[0], "management_cert") || sim_param_is(&c->params[0], "app_rot") ||
                sim_param_is(&c->params[0], "preconfig_cert"))
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

static void execute_line(sim_engine *e, const char *line, size_t len, bool overflow,
                         uint64_t now_ns)
{
    char shown[LINE_CAP];
    printable(line, len, shown, sizeof shown);
    char res[160];

    at_cmdline *cl = malloc(sizeof *cl);
    if (!cl) {
        sim_result(e, "ERROR", '4');
        sim_log(e, "%s -> ERROR (out of memory)", shown);
        return;
    }
    if (overflow || at_parse_cmdline(line, len, 0, cl, NULL) != AT_OK || cl->cmds_dropped) {
        sim_result(e, "ERROR", '4');
        sim_log(e, "%s -> ERROR (%s)", shown,
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
            rc = sim_cmd_sbnw(e, c, &cme, &store_name);
        else if (sim_is_service_command(&c->name))
            rc = sim_service_command(e, c, &cme);
        else
            rc = run_command(e, c, &cme);
    }
    free(cl);
    switch (rc) {
    case RC_OK:
        sim_result(e, "OK", '0');
        sim_log(e, "%s -> OK", shown);
        break;
    case RC_CONNECT:
        sim_secure_start(e, now_ns);
        sim_log(e, "%s -> CONNECT (%s)", shown, store_name);
        break;
    case RC_SISW:
        sim_sisw_start(e, now_ns);
        sim_log(e, "%s -> ^SISW: %u,%zu,0 (waiting for %zu bytes)", shown, e->sisw_id,
                e->sisw_n, e->sisw_n);
        break;
    default:
        sim_error_result(e, rc, cme, res, sizeof res);
        sim_log(e, "%s -> %s", shown, res);
        break;
    }
    sim_flush_urcs(e);
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

void sim_command_byte(sim_engine *e, uint64_t now_ns, uint8_t b)
{
    char c = (char)b;
    if (e->echo)
        sim_emit(e, &b, 1);
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

/* Data for the remote end, or part of the +++ escape, which needs guard_ms
 * of silence before its first plus and after its last (the tick ends the
 * mode then, sim_data_escaped). */
void sim_data_byte(sim_engine *e, uint64_t now_ns, uint8_t b)
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

void sim_data_escaped(sim_engine *e)
{
    sim_log(e, "data mode: +++ with %u ms of silence around it -> command mode (%llu bytes "
               "of data taken)", e->cfg.guard_ms, (unsigned long long)e->data_bytes);
    e->mode = MODE_CMD;
    e->line_len = 0;
    sim_result(e, "OK", '0');
}
