/*
 * Fuzz target for the comparison (attrace/compare.h): two sessions made
 * from the input go through the session layer, the analyzer, the record
 * builder and the aligner, and every aligned pair is compared with every
 * option. Checks that a session compared with itself (built twice) pairs
 * every exchange and shows no difference, and that every difference is
 * complete (a frame difference names its field, a line one a line).
 *
 * Input layout: one byte giving where B starts (as a fraction of the
 * rest), then records as in fuzz_session: a header byte (bit 7 =
 * direction, bit 6 = gap before it, bits 0..5 = length) and the bytes.
 */
#include <stdint.h>
#include <stdlib.h>

#include "attrace/compare.h"
#include "session_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECS 256

typedef struct list {
    at_xrec *v[MAX_RECS];
    unsigned n;
    at_xrec_builder *b;
    at_analyzer *an;
} list;

static void on_rec(void *ctx, at_xrec *x)
{
    list *l = ctx;
    if (l->n < MAX_RECS)
        l->v[l->n++] = x;
    else
        at_xrec_free(x);
}

static void on_finding(void *ctx, const at_finding *f)
{
    list *l = ctx;
    at_xrec_builder_finding(l->b, f);
}

static void on_event(void *ctx, const at_event *ev)
{
    list *l = ctx;
    at_analyzer_event(l->an, ev);
    at_xrec_builder_event(l->b, ev, ev->kind == AT_EV_FRAME ? at_analyzer_frame(l->an) : NULL);
}

static void build(const uint8_t *data, size_t size, list *l)
{
    static at_session s;
    l->n = 0;
    l->b = at_xrec_builder_new(on_rec, l);
    l->an = at_analyzer_new(NULL, on_finding, l);
    if (!l->b || !l->an)
        abort();
    at_session_init(&s, NULL, on_event, l);
    fuzz_feed_session(&s, data, size);
    at_analyzer_finish(l->an);
    at_xrec_builder_finish(l->b);
    at_xrec_builder_free(l->b);
    at_analyzer_free(l->an);
}

static void check_diff(void *ctx, const at_diff *d)
{
    (void)ctx;
    if (!d->a || !d->b)
        abort();
    if (d->kind == AT_DIFF_FRAME && (d->field < AT_FF_COUNT || d->field > AT_FF_SIGNATURE_CHECK))
        abort();
    if (d->kind == AT_DIFF_LINE && !d->la && !d->lb)
        abort();
    if (d->kind == AT_DIFF_FINDING && !d->fa == !d->fb)
        abort();
    if (d->secret && (d->sa.num || d->sb.num || d->sa.text || d->sb.text))
        abort();
}

typedef struct run {
    bool self;
    unsigned alone;
} run;

static void on_pair(void *ctx, at_xrec *a, at_xrec *b)
{
    run *r = ctx;
    if (a && b) {
        static const at_cmp_options opts[] = {
            {false, false, false}, {true, true, false}, {false, true, true}};
        for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
            unsigned n = at_xrec_compare(a, b, &opts[i], check_diff, NULL);
            n += at_xrec_compare_answers(a, b, &opts[i], check_diff, NULL);
            if (r->self && n)
                abort();
            at_xrec_compare(b, a, &opts[i], check_diff, NULL);
        }
    } else {
        r->alone++;
    }
    at_xrec_free(a);
    at_xrec_free(b);
}

static void align(list *a, list *b, unsigned window, run *r)
{
    at_aligner *al = at_aligner_new(window, on_pair, r);
    if (!al)
        abort();
    unsigned next[2] = {0, 0};
    list *l[2] = {a, b};
    for (;;) {
        bool wa = at_aligner_wants(al, 0), wb = at_aligner_wants(al, 1);
        if (!wa && !wb)
            break;
        int s = wa && wb ? at_aligner_held(al, 1) < at_aligner_held(al, 0) : (wa ? 0 : 1);
        if (next[s] < l[s]->n)
            at_aligner_push(al, s, l[s]->v[next[s]++]);
        else
            at_aligner_end(al, s);
        unsigned w = window ? window : AT_ALIGN_WINDOW_DEFAULT;
        if (at_aligner_held(al, 0) > w || at_aligner_held(al, 1) > w)
            abort();
    }
    at_aligner_free(al);
    a->n = b->n = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static list a, b;
    if (size < 1)
        return 0;
    size_t rest = size - 1;
    size_t split = rest * data[0] / 255;
    const uint8_t *pa = data + 1, *pb = data + 1 + split;

    /* A with itself: everything pairs, nothing differs. */
    build(pa, split, &a);
    build(pa, split, &b);
    run self = {true, 0};
    align(&a, &b, 4, &self);
    if (self.alone)
        abort();

    /* A with B, small and default windows. */
    run other = {false, 0};
    build(pa, split, &a);
    build(pb, rest - split, &b);
    align(&a, &b, 3, &other);
    build(pa, split, &a);
    build(pb, rest - split, &b);
    align(&a, &b, 0, &other);
    return 0;
}
