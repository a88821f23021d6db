/*
 * libFuzzer target for the frame codec: decodes arbitrary bytes with both
 * profiles, checks that nothing reported lies outside the input, and for
 * frames that decode without problems checks decode(encode(to_spec(f)))
 * reproduces every field.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attrace/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define BASE 4096u

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void check_span(at_span s, size_t n)
{
    check(s.off >= BASE && s.off + s.len <= BASE + n);
}

static void check_bounds(const at_frame *f, const uint8_t *d, size_t n)
{
    check_span(f->span, n);
    check_span(f->total_len_span, n);
    check_span(f->cmd_id_span, n);
    check_span(f->param_num_span, n);
    check_span(f->signed_region, n);
    check(f->n_units <= AT_FRAME_MAX_UNITS && f->n_problems <= AT_FRAME_MAX_PROBLEMS);
    for (unsigned i = 0; i < f->n_units; i++) {
        const at_frame_unit *u = &f->units[i];
        check_span(u->span, n);
        check_span(u->len_span, n);
        check_span(u->id_span, n);
        check_span(u->value_span, n);
        check(u->value_len == 0 || (u->value >= d && u->value + u->value_len <= d + n));
    }
    for (unsigned i = 0; i < f->n_problems; i++) {
        check(f->problems[i].off >= BASE && f->problems[i].off <= BASE + n);
        check(strcmp(at_frame_problem_name(f->problems[i].code), "unknown") != 0);
    }
}

/* Re-signs with the original signature text so the round trip can compare
 * it byte for byte. */
typedef struct replay_sig {
    const uint8_t *text;
    size_t len;
} replay_sig;

static int replay_sign(void *ctx, const uint8_t *region, size_t region_len,
                       char *out, size_t cap, size_t *out_len)
{
    const replay_sig *r = ctx;
    (void)region;
    (void)region_len;
    if (r->len > cap)
        return -1;
    memcpy(out, r->text, r->len);
    *out_len = r->len;
    return 0;
}

static bool same_unit(const at_frame *a, const at_frame *b, at_param_id id)
{
    const at_frame_unit *ua = at_frame_find(a, id), *ub = at_frame_find(b, id);
    if (!ua || !ub)
        return ua == ub;
    return ua->value_len == ub->value_len &&
           (ua->value_len == 0 || memcmp(ua->value, ub->value, ua->value_len) == 0);
}

static void round_trip(const at_frame *f, const at_profile *p)
{
    static uint8_t out[AT_FRAME_MAX_LEN];
    static at_frame again;
    static char strbuf[AT_FRAME_MAX_LEN]; /* texts fit in one frame */
    at_frame_spec spec;

    /* Frames without an index or with a NUL inside a text value have no spec. */
    if (at_frame_to_spec(f, &spec, strbuf, sizeof strbuf) != AT_OK)
        return;

    replay_sig sig = {NULL, 0};
    const at_frame_unit *s = at_frame_find(f, AT_PARAM_SIGNATURE);
    if (s) {
        sig.text = s->value;
        sig.len = s->value_len - 1; /* clean: NUL-terminated */
    }
    size_t len;
    check(at_frame_encode(&spec, replay_sign, &sig, out, sizeof out, &len) == AT_OK);
    /* Same units, maybe in another order: same size. */
    check(len == f->total_len);
    check(at_frame_decode(out, len, BASE, p, &again) == AT_OK);
    check(again.n_problems == 0 && again.problems_dropped == 0);
    check(again.cmd_id == f->cmd_id && again.param_num == f->param_num);
    check(again.has_index == f->has_index && again.index == f->index);
    check(again.n_units == f->n_units);
    for (int id = 1; id <= AT_PARAM_ID_MAX_; id++)
        check(same_unit(f, &again, (at_param_id)id));
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    static at_frame f;
    for (int i = 0; i < 2; i++) {
        const at_profile *p = at_profile_get((at_profile_id)i);
        check(at_frame_decode(d, n, BASE, p, &f) == AT_OK);
        check_bounds(&f, d, n);
        if (f.n_problems == 0 && f.problems_dropped == 0)
            round_trip(&f, p);
    }
    return 0;
}
