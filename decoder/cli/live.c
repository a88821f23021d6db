/*
 * live.c - the port options and the live session of `attrace cert` and
 * `attrace replay` (live.h).
 */
#define _GNU_SOURCE /* open_memstream */

#include "live.h"

#include "frameopts.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void cli_live_opts_init(cli_live_opts *o)
{
    memset(o, 0, sizeof *o);
    o->drv = at_driver_default_config();
}

int cli_live_option(cli_live_opts *o, int c, const char *arg, const char *prog)
{
    switch (c) {
    case CLI_OPT_PORT:
        if (o->n_ports == CLI_LIVE_MAX_PORTS) {
            cli_usage_error(prog, "more than %d --port options", CLI_LIVE_MAX_PORTS);
            return 2;
        }
        if (!*arg) {
            cli_usage_error(prog, "%s", "--port needs a device");
            return 2;
        }
        o->ports[o->n_ports++] = arg;
        return 1;
    case CLI_OPT_BAUD:
        if (cli_parse_u32(arg, 50, 4000000, &o->drv.baud) != 0) {
            cli_usage_error(prog, "invalid --baud '%s'", arg);
            return 2;
        }
        return 1;
    case CLI_OPT_RTSCTS: o->drv.rtscts = true; return 1;
    case CLI_OPT_NO_FLOW: o->drv.rtscts = false; return 1;
    case CLI_OPT_CRLF: o->drv.crlf = true; return 1;
    case CLI_OPT_TIMEOUT_MS:
        if (cli_parse_u32(arg, 1, 3600000, &o->drv.timeout_ms) != 0) {
            cli_usage_error(prog, "invalid --timeout-ms '%s' (1..3600000)", arg);
            return 2;
        }
        if (o->drv.secure_timeout_ms < o->drv.timeout_ms)
            o->drv.secure_timeout_ms = o->drv.timeout_ms;
        return 1;
    case CLI_OPT_PROFILE:
        return cli_profile_option(prog, arg, &o->drv.profile) ? 2 : 1;
    case CLI_OPT_GAP_MS:
        if (cli_parse_u32(arg, 0, 60000, &o->drv.gap_ms) != 0) {
            cli_usage_error(prog, "invalid --gap-ms '%s' (0..60000)", arg);
            return 2;
        }
        return 1;
    case CLI_OPT_VERBOSE: o->verbose = true; return 1;
    case CLI_OPT_ESCAPE: o->escape = true; return 1;
    case CLI_OPT_JSON: o->json = true; return 1;
    case 'w':
        if (!*arg) {
            cli_usage_error(prog, "%s", "-w needs a file name");
            return 2;
        }
        o->trace = arg;
        return 1;
    default: return 0;
    }
}

int cli_live_or_frame_option(cli_live_opts *o, struct cli_frame_opts *f, int c,
                             const char *arg, const char *prog)
{
    int rc = cli_live_option(o, c, arg, prog);
    return rc ? rc : cli_frame_option(f, c, arg, prog);
}

static void on_live_event(void *ctx, const at_event *ev)
{
    cli_live *l = ctx;
    cli_render_event(&l->chan, ev);
    if (l->tap)
        l->tap(l->tap_ctx, ev);
}

static void on_live_finding(void *ctx, const at_finding *f)
{
    cli_live *l = ctx;
    cli_on_finding(&l->chan, f);
}

void cli_live_tap(cli_live *l, at_event_cb cb, void *ctx)
{
    l->tap = cb;
    l->tap_ctx = ctx;
}

/* --escape: the +++ escape, and what the module made of it. 0, or 3 when
 * the port is lost. */
static int leave_data_mode(cli_live *l, const char *port, const char *prog)
{
    int rc = at_driver_escape(l->drv, CLI_LIVE_GUARD_MS, CLI_LIVE_ESCAPE_WAIT_MS);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", prog, at_driver_error(l->drv));
        return 3;
    }
    if (rc > 0)
        fprintf(stderr, "%s: --escape: %s answered +++: it was in data mode and now takes "
                "commands (its connection stays open: ATO or AT^SIST goes back to it)\n",
                prog, port);
    else
        fprintf(stderr, "%s: --escape: no answer to +++ on %s: the module was in command "
                "mode already\n", prog, port);
    return 0;
}

int cli_live_open(cli_live *l, const cli_live_opts *o, const char *port, const char *trace,
                  uint16_t channel, const uint8_t *client_cert_der, size_t client_cert_len,
                  const char *note, const char *prog)
{
    memset(l, 0, sizeof *l);
    l->opt.path = port;
    l->opt.json = o->json;
    l->opt.profile = o->drv.profile;
    l->ctx.opt = &l->opt;
    l->ctx.render = cli_renderer_for(&l->opt);
    l->ctx.last_day = -1;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    l->ctx.have_t0 = true; /* relative times count from the start of the session */
    l->ctx.t0 = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    l->ctx.next_frame_id = l->ctx.next_urc_id = l->ctx.next_invalid_id = 1;
    l->view_to_stdout = o->verbose;
    if (l->view_to_stdout) {
        l->view = stdout;
    } else {
        l->view = open_memstream(&l->view_buf, &l->view_len);
        if (!l->view) {
            fprintf(stderr, "%s: out of memory\n", prog);
            return 3;
        }
    }
    l->ctx.out = l->view;
    l->chan.channel = channel;
    l->chan.ctx = &l->ctx;
    l->ctx.sum.channels = 1;

    at_driver_config cfg = o->drv;
    cfg.client_cert_der = client_cert_der;
    cfg.client_cert_len = client_cert_len;
    cfg.trace_path = trace;
    cfg.trace_note = note;
    cfg.channel = channel;
    cfg.on_event = on_live_event;
    cfg.on_finding = on_live_finding;
    cfg.ctx = l;
    char err[768];
    l->drv = at_driver_open(port, &cfg, err, sizeof err);
    if (!l->drv) {
        fprintf(stderr, "%s: %s\n", prog, err);
        if (!l->view_to_stdout)
            fclose(l->view);
        free(l->view_buf);
        l->view = NULL;
        l->view_buf = NULL;
        return 3;
    }
    l->chan.an = at_driver_analyzer(l->drv);
    if (o->escape)
        return leave_data_mode(l, port, prog);
    return 0;
}

void cli_live_show(cli_live *l, FILE *to)
{
    if (l->view_to_stdout) {
        fflush(stdout);
        return;
    }
    fflush(l->view);
    if (l->view_len)
        fwrite(l->view_buf, 1, l->view_len, to);
    fflush(to);
    cli_live_discard(l);
}

void cli_live_discard(cli_live *l)
{
    if (l->view_to_stdout)
        return;
    fclose(l->view);
    free(l->view_buf);
    l->view_buf = NULL;
    l->view_len = 0;
    l->view = open_memstream(&l->view_buf, &l->view_len);
    if (!l->view) /* out of memory: show nothing rather than fail */
        l->view = fopen("/dev/null", "w");
    l->ctx.out = l->view;
}

int cli_live_close(cli_live *l, const char *prog)
{
    int rc = 0;
    if (l->drv) {
        char err[512];
        if (at_driver_close(l->drv, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", prog, err);
            rc = 3;
        }
        l->drv = NULL;
        l->chan.an = NULL;
        l->ctx.render->channel_done(&l->chan);
        cli_flush_findings(&l->chan, false);
    }
    free(l->chan.pending.v);
    l->chan.pending.v = NULL;
    l->ctx.render->free(&l->ctx);
    if (l->view && !l->view_to_stdout) {
        fclose(l->view);
        free(l->view_buf);
    }
    l->view = NULL;
    l->view_buf = NULL;
    return rc;
}

void cli_live_words(const at_driver_reply *r, char *buf, size_t cap)
{
    if (r->secure != AT_SEC_NONE && r->has_final)
        snprintf(buf, cap, "%s, then %s", r->secure_text, r->final_text);
    else if (r->has_final)
        snprintf(buf, cap, "%s", r->final_text);
    else if (r->secure != AT_SEC_NONE)
        snprintf(buf, cap, "%s (no final result)", r->secure_text);
    else
        snprintf(buf, cap, "no final result");
}

void cli_live_report_failure(cli_live *l, const at_driver_reply *r, const char *prog,
                             FILE *to)
{
    fprintf(to, "%s: %s\n", prog, at_driver_error(l->drv));
    if (r->status == AT_DRV_TIMEOUT && r->bytes_in == 0)
        fprintf(to, "%s: hint: a module in data mode (after CONNECT, transparent "
                "mode) takes commands as data: --escape leaves it with +++ (a second of "
                "silence before and after), as does toggling DTR; check the port, the "
                "baud rate and the flow control too\n", prog);
    else if (r->status == AT_DRV_TIMEOUT && !r->echoed && !r->has_final)
        fprintf(to, "%s: hint: the module sent something but no answer attrace "
                "knows (%llu bytes): is it in another state (data mode: --escape sends "
                "+++; a different baud rate)?\n", prog, (unsigned long long)r->bytes_in);
}
