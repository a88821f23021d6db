/*
 * The plugin's first-pass tables (wireshark-plugin/state.c) without
 * Wireshark: a sample's records fed as the dissector feeds them.
 */
#include "state.h"

#include "attrace/cert.h"
#include "attrace/trace.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef void record_fn(pl_state *st, uint32_t frame, const at_trace_record *rec);

/* Calls @p fn for every record of @p sample, numbered from 1 as Wireshark
 * numbers packets. */
static void each_record(pl_state *st, const char *sample, record_fn *fn)
{
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/%s", ATTRACE_SAMPLES_DIR, sample);
    at_trace_reader *r = at_trace_open(path, err, sizeof err);
    assert_non_null(r);
    at_trace_record rec;
    uint32_t frame = 0;
    while (at_trace_next(r, &rec) == 1)
        fn(st, ++frame, &rec);
    assert_string_equal(at_trace_error(r), "");
    at_trace_close(r);
}

/* The first pass, as the dissector feeds it. */
static void feed_record(pl_state *st, uint32_t frame, const at_trace_record *rec)
{
    at_uart_header h = {0};
    h.event = rec->event;
    h.channel = rec->channel;
    h.line_state = rec->line_state;
    h.flags = rec->flags;
    h.baud = rec->baud;
    pl_packet pkt;
    assert_true(pl_state_record(st, frame, rec->dir, &h, rec->ts_ns, rec->payload, rec->len,
                                &pkt));
    /* What the first pass hands the renderer is what later passes find. */
    pl_packet again;
    assert_true(pl_state_packet(st, frame, rec->channel, rec->dir, &again));
    assert_ptr_equal(again.chan, pkt.chan);
    assert_int_equal(again.off, pkt.off);
    assert_int_equal(again.elem_first, pkt.elem_first);
    assert_int_equal(again.n_elem, pkt.n_elem);
}

/* A state for @p sample after its first pass and end-of-file flush. */
static pl_state *first_pass(const char *sample, const pl_config *cfg)
{
    pl_state *st = pl_state_new(cfg);
    assert_non_null(st);
    each_record(st, sample, feed_record);
    pl_state_finish(st);
    return st;
}

/* Frames whose signature the client certificate of the config verified. */
static unsigned verified_by_config(const pl_state *st)
{
    unsigned n = 0;
    for (size_t i = 0; i < st->n_frames; i++) {
        const pl_frame *f = &st->frames[i];
        if (f->sig_checked && f->sig_matches && f->verify_source &&
            strcmp(f->verify_source, "--client-cert") == 0)
            n++;
    }
    return n;
}

/*
 * A preference change frees the plugin's copy of the client certificate
 * while the capture file's state may still create channels (the first
 * record of a channel creates its analyzer from the configured DER): the
 * state keeps its own copy, so the first frame's signature is still
 * checked against the certificate given when the state was made. Without
 * the certificate the trace has no signature to check against.
 */
static void client_cert_outlives_callers_copy(void **unused)
{
    (void)unused;
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/keys/client.crt.der", ATTRACE_SAMPLES_DIR);
    uint8_t *der = NULL;
    size_t len = 0;
    assert_int_equal(at_cert_load_der(path, &der, &len, err, sizeof err), 0);

    pl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.client_cert_der = der;
    cfg.client_cert_len = len;
    pl_state *st = pl_state_new(&cfg);
    assert_non_null(st);
    memset(der, 0, len); /* what the caller had is gone before any record */
    free(der);
    each_record(st, "server-before-client.pcap", feed_record);
    pl_state_finish(st);
    assert_int_equal(verified_by_config(st), 1);
    pl_state_free(st);

    st = first_pass("server-before-client.pcap", NULL);
    assert_int_equal(verified_by_config(st), 0);
    pl_state_free(st);
}

/* Records holding key bytes, by a search of all the runs. */
static unsigned records_with_key;

/* The merged per-direction list answers as a search of all the runs. */
static void check_record_keys(pl_state *st, uint32_t frame, const at_trace_record *rec)
{
    pl_packet pkt;
    assert_true(pl_state_packet(st, frame, rec->channel, rec->dir, &pkt));
    bool any = false;
    for (size_t i = 0; i < st->n_secrets; i++) {
        const pl_secret *k = &st->secrets[i];
        if (pl_elem_dir(&st->elems[k->elem]) == rec->dir && rec->len > 0 &&
            k->off < pkt.off + rec->len && pkt.off < k->off + k->len)
            any = true;
    }
    assert_int_equal(pl_state_has_secret(pkt.chan, rec->dir, pkt.off, rec->len), any);
    records_with_key += any;
}

/*
 * The renderer masks a record only when the merged per-direction list of
 * private-key runs says key bytes lie in it: for every record it says
 * what a search of all the runs says.
 */
static void secret_runs_match_the_runs(void **unused)
{
    (void)unused;
    pl_state *st = first_pass("provisioning-ok.pcap", NULL);
    assert_true(st->n_secrets > 0);
    records_with_key = 0;
    each_record(st, "provisioning-ok.pcap", check_record_keys);
    assert_true(records_with_key > 0);
    pl_state_free(st);
}

/*
 * Every finding and every key run is found through the element it goes
 * with, once; an element noted for findings alone (a trace without key
 * bytes, whose key-run table was never allocated) has no key runs.
 */
static void noted_elements_give_their_runs_and_findings(void **unused)
{
    (void)unused;
    static const char *const samples[] = {"service-timeout.pcap", "provisioning-ok.pcap",
                                          "other-imei.pcap"};
    for (size_t s = 0; s < sizeof samples / sizeof *samples; s++) {
        pl_state *st = first_pass(samples[s], NULL);
        size_t runs = 0, findings = 0, noted = 0;
        for (size_t i = 0; i < st->n_elems; i++) {
            const pl_elem *e = &st->elems[i];
            const pl_secret *k;
            const uint32_t *f;
            size_t nk = pl_elem_secrets(st, e, &k), nf = pl_elem_findings(st, e, &f);
            for (size_t j = 0; j < nk; j++)
                assert_ptr_equal(&st->elems[k[j].elem], e);
            for (size_t j = 0; j < nf; j++)
                assert_ptr_equal(&st->elems[st->findings[f[j]].elem], e);
            runs += nk;
            findings += nf;
            noted += (e->flags & PL_EF_NOTED) != 0;
        }
        assert_int_equal(runs, st->n_secrets);
        assert_int_equal(findings, st->n_findings);
        assert_true(runs + findings > 0 && noted > 0);
        if (s == 0)
            assert_int_equal(st->n_secrets, 0);
        pl_state_free(st);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(client_cert_outlives_callers_copy),
        cmocka_unit_test(secret_runs_match_the_runs),
        cmocka_unit_test(noted_elements_give_their_runs_and_findings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
