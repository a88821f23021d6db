/*
 * Fuzz target for the simulated module (simulator/engine*.c): whatever a
 * host program sends (command lines, secure-command frames, service
 * data, garbage, at any pace) must get answers, never a crash, a hang or
 * unbounded output. A production line points its own, possibly broken,
 * provisioning program at attrace-sim.
 *
 * Input layout: one byte of settings (bit 0: newer module profile, bit 1:
 * start in data mode, bit 2: OK after a failed secure command), then
 * chunks of host bytes, each one header byte and its bytes:
 *   bits 0..5  length (0..63)
 *   bit 6      afterwards the network reports data on every service that
 *              has some (^SISR URCs)
 *   bit 7      before the chunk a time byte follows: time passes by that
 *              many times 20 ms and the engine's timers run
 * Each engine starts over an empty store of its own (the store is a
 * directory, as on the module's flash), removed afterwards.
 *
 * Behind the services is an echo peer in memory: TCP opens connect, TLS
 * opens fail as a TLS error would (no TLS peer here), written bytes come
 * back to be read. It stands for the network only, as net.c does in the
 * program; the engine under test is the program's own.
 */
#define _XOPEN_SOURCE 700 /* mkdtemp */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attrace/profile.h"
#include "engine.h"
#include "fuzz_check.h"
#include "store.h"
#include "testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PEER_CAP 4096u
/* Most the module may send for one host byte, plus what it says unasked
 * (URCs, the ^SBNR listing of every slot). Far above any real answer. */
#define OUT_PER_BYTE 1024u
#define OUT_FIXED (256u * 1024u)

typedef struct harness {
    size_t out;              /* bytes the module sent */
    uint8_t peer[SIM_SERVICES][PEER_CAP];
    size_t peer_len[SIM_SERVICES];
    bool open[SIM_SERVICES];
} harness;

static harness H;

static void on_write(void *ctx, const uint8_t *p, size_t len)
{
    harness *h = ctx;
    fuzz_check(len == 0 || p != NULL);
    h->out += len;
}

static void on_log(void *ctx, const char *line)
{
    (void)ctx;
    fuzz_check(line != NULL && strlen(line) < 64 * 1024);
}

static void peer_open(void *ctx, const sim_svc_request *req, sim_svc_outcome *out)
{
    harness *h = ctx;
    fuzz_check(req->id < SIM_SERVICES && req->host != NULL);
    memset(out, 0, sizeof *out);
    if (req->tls) {
        out->info_id = 74;
        snprintf(out->detail, sizeof out->detail, "no TLS peer");
        return;
    }
    h->open[req->id] = true;
    h->peer_len[req->id] = 0;
}

static int peer_write(void *ctx, unsigned id, const uint8_t *p, size_t len, char *err,
                      size_t err_cap)
{
    harness *h = ctx;
    fuzz_check(id < SIM_SERVICES && h->open[id]);
    if (len > PEER_CAP - h->peer_len[id]) {
        snprintf(err, err_cap, "peer buffer full");
        return -1;
    }
    memcpy(h->peer[id] + h->peer_len[id], p, len);
    h->peer_len[id] += len;
    return 0;
}

static size_t peer_read(void *ctx, unsigned id, uint8_t *buf, size_t cap, size_t *left)
{
    harness *h = ctx;
    fuzz_check(id < SIM_SERVICES);
    size_t n = h->peer_len[id] < cap ? h->peer_len[id] : cap;
    memcpy(buf, h->peer[id], n);
    memmove(h->peer[id], h->peer[id] + n, h->peer_len[id] - n);
    h->peer_len[id] -= n;
    *left = h->peer_len[id];
    return n;
}

static void peer_close(void *ctx, unsigned id)
{
    harness *h = ctx;
    fuzz_check(id < SIM_SERVICES);
    h->open[id] = false;
    h->peer_len[id] = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char top[64], dir[80], err[256];
    snprintf(top, sizeof top, "/tmp/attrace-fuzzsim-XXXXXX");
    fuzz_check(mkdtemp(top) != NULL);
    snprintf(dir, sizeof dir, "%s/store", top);
    sim_store *st = sim_store_open(dir, err, sizeof err);
    fuzz_check(st != NULL);

    memset(&H, 0, sizeof H);
    sim_config cfg;
    sim_config_defaults(&cfg, at_profile_get(data[0] & 1 ? AT_PROFILE_NEWER : AT_PROFILE_LEGACY));
    /* The IMEI of the module the samples were recorded from
     * (samples/regenerate.sh), so that their frames, the seeds, pass the
     * checks and reach the store. */
    memcpy(cfg.imei, "358240051111110", 16);
    cfg.data_mode = (data[0] & 2) != 0;
    cfg.ok_after_error = (data[0] & 4) != 0;
    sim_io io = {on_write, on_log};
    sim_engine *e = sim_engine_new(&cfg, st, &io, &H);
    fuzz_check(e != NULL);
    sim_svc_io svc = {peer_open, peer_write, peer_read, peer_close};
    sim_engine_set_services(e, &svc, &H);

    uint64_t now = 1000000000u;
    size_t pos = 1, fed = 0;
    while (pos < size) {
        uint8_t h = data[pos++];
        if ((h & 0x80) && pos < size) {
            now += (uint64_t)data[pos++] * 20000000u;
            sim_engine_tick(e, now);
        }
        size_t n = h & 0x3fu;
        if (n > size - pos)
            n = size - pos;
        sim_engine_input(e, now, data + pos, n);
        pos += n;
        fed += n;
        now += 1000000u;
        if (h & 0x40)
            for (unsigned id = 0; id < SIM_SERVICES; id++)
                if (H.open[id] && H.peer_len[id])
                    sim_engine_service_event(e, now, id, SIM_SVC_DATA);
        uint64_t due = sim_engine_deadline(e);
        fuzz_check(due == 0 || due + 60000000000u > now); /* no timer left far behind */
    }
    /* Every timer runs out, and none keeps firing. */
    now += 3600ull * 1000000000u;
    unsigned ticks = 0;
    for (uint64_t due = 1; due != 0 && due <= now; due = sim_engine_deadline(e), ticks++) {
        fuzz_check(ticks < 100);
        sim_engine_tick(e, now);
    }
    fuzz_check(H.out <= OUT_FIXED + OUT_PER_BYTE * fed);

    sim_engine_free(e);
    sim_store_close(st);
    tu_rm_dir(dir);
    rmdir(top);
    return 0;
}
