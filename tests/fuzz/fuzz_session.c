/*
 * Fuzz target for the session layer (and, through it, the frame decoder
 * and every line parser on whatever lines the tokenizer finds).
 *
 * Input layout: a sequence of records, each one byte header (bit 7 =
 * direction, bit 6 = gap before it, bits 0..5 = length) then that many
 * bytes. Checks that every event's bytes lie in the span it claims, and
 * runs the analyzer (model, frame details, every diagnosis rule) on the
 * events, so hostile certificates, keys and signatures inside frames reach
 * the crypto adapter too.
 */
#include <stdint.h>
#include <stdlib.h>

#include "attrace/analysis.h"
#include "attrace/session.h"
#include "session_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_finding(void *ctx, const at_finding *f)
{
    (void)ctx;
    if (!f->rule || at_rule_find(f->rule) == NULL || f->what[0] == 0 || f->fix[0] == 0)
        abort();
}

static void on_event(void *ctx, const at_event *ev)
{
    at_analyzer_event(ctx, ev);
    if (ev->data && ev->len != ev->span.len)
        abort();
    if (ev->kind == AT_EV_FRAME) {
        const at_frame *f = ev->frame;
        if (f->n_units > AT_FRAME_MAX_UNITS || f->n_problems > AT_FRAME_MAX_PROBLEMS)
            abort();
        for (unsigned i = 0; i < f->n_units; i++) {
            const at_frame_unit *u = &f->units[i];
            if (u->value_span.off < ev->span.off ||
                u->value_span.off + u->value_len > ev->span.off + ev->span.len)
                abort();
        }
    }
    if (ev->line.text.ptr && ev->line.text.len > AT_STREAM_LINE_MAX)
        abort();
    /* Secret runs: sorted, disjoint, inside the event's bytes. */
    for (unsigned i = 0; i < ev->n_secrets; i++) {
        const at_secret *k = &ev->secrets[i];
        if (k->span.len == 0 || k->span.off < ev->span.off ||
            k->span.off + k->span.len > ev->span.off + ev->span.len ||
            (i && k->span.off <= ev->secrets[i - 1].span.off + ev->secrets[i - 1].span.len))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static at_session s;
    /* The session's frame checks follow the analyzer's profile guess. */
    at_analyzer_config cfg = at_analyzer_default_config();
    cfg.session = &s;
    at_analyzer *an = at_analyzer_new(&cfg, on_finding, NULL);
    if (!an)
        abort();
    at_session_init(&s, NULL, on_event, an);
    fuzz_feed_session(&s, data, size);
    at_analyzer_finish(an);
    at_analyzer_free(an);
    return 0;
}
