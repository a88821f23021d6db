/*
 * ^SBNR listing lines: what the module says its store holds, compared with
 * what the trace wrote and deleted (sbnr_mismatch); then the listing
 * becomes the model's view of that slot. A listing also tells the module
 * family: an expiry date or an index above 10 means a newer module.
 */
#include "analysis_internal.h"

#include <stdio.h>
#include <string.h>

static void mismatch(at_analyzer *an, const at_event *ev, uint64_t off, const char *what,
                     unsigned index, uint32_t by)
{
    at_finding fd;
    an_finding_init(&fd, "sbnr_mismatch", AT_SEV_WARNING, ev->exchange ? ev->exchange->id : 0,
                    AT_DIR_ME_TO_TE, off, ev->ts);
    an_what(&fd, "%s", what);
    an_fix(&fd, "Find what changed index %u after exchange #%u (another tool, a later "
                "command, a transfer the module took differently), write it again if needed "
                "and list the store to confirm.", index, (unsigned)by);
    an_deliver(an, &fd);
}

static void compare(at_analyzer *an, const at_event *ev, const at_sbnr *e,
                    const at_store_slot *s)
{
    char what[AT_FINDING_TEXT_MAX];
    if (s->state == AT_SLOT_WRITTEN) {
        if (e->kind == AT_SBNR_EMPTY) {
            an_fmt(what, sizeof what,
                     "^SBNR lists index %u as empty, but exchange #%u wrote a %u-byte "
                     "certificate there (thumbprint %s).",
                     e->index, (unsigned)s->exchange, (unsigned)s->size, s->thumbprint);
            mismatch(an, ev, e->index_span.off, what, e->index, s->exchange);
        } else if (e->kind == AT_SBNR_CORRUPTED) {
            an_fmt(what, sizeof what,
                     "^SBNR lists index %u as corrupted, but exchange #%u wrote a %u-byte "
                     "certificate there (thumbprint %s).",
                     e->index, (unsigned)s->exchange, (unsigned)s->size, s->thumbprint);
            mismatch(an, ev, e->index_span.off, what, e->index, s->exchange);
        } else {
            bool thumb_ok = an_hex_eq(e->thumbprint.ptr, e->thumbprint.len, s->thumbprint,
                                      strlen(s->thumbprint));
            if (!thumb_ok || e->size != s->size) {
                an_fmt(what, sizeof what,
                         "^SBNR lists index %u with a %u-byte certificate, thumbprint %.*s, but "
                         "exchange #%u wrote a %u-byte certificate there, thumbprint %s.",
                         e->index, (unsigned)e->size, (int)(e->thumbprint.len > 40 ? 40 : e->thumbprint.len),
                         e->thumbprint.ptr ? e->thumbprint.ptr : "", (unsigned)s->exchange,
                         (unsigned)s->size, s->thumbprint);
                mismatch(an, ev, thumb_ok ? e->size_text.span.off : e->thumbprint.span.off,
                         what, e->index, s->exchange);
            }
        }
    } else if (s->state == AT_SLOT_EMPTY && s->deleted && e->kind != AT_SBNR_EMPTY) {
        an_fmt(what, sizeof what,
                 "^SBNR lists %s at index %u, but exchange #%u deleted it.",
                 e->kind == AT_SBNR_CORRUPTED ? "a corrupted certificate" : "a certificate",
                 e->index, (unsigned)s->exchange);
        mismatch(an, ev, e->index_span.off, what, e->index, s->exchange);
    }
}

void an_sbnr(at_analyzer *an, const at_event *ev)
{
    const at_sbnr *e = &ev->line.u.sbnr;
    if (e->has_expiry || e->index > 10)
        an_guess_newer(an);
    if (e->index >= AT_MODEL_SLOTS)
        return;
    at_store_slot *s = &an->model.store[e->index];
    compare(an, ev, e, s);

    uint32_t by = ev->exchange ? ev->exchange->id : 0;
    if (e->kind == AT_SBNR_EMPTY) {
        memset(s, 0, sizeof *s);
        s->state = AT_SLOT_EMPTY;
        s->exchange = by;
        return;
    }
    if (e->kind == AT_SBNR_CORRUPTED) {
        memset(s, 0, sizeof *s);
        s->state = AT_SLOT_LISTED;
        s->corrupted = true;
        s->exchange = by;
        return;
    }
    /* A listing that agrees with the trace's WRITE keeps the richer record. */
    if (s->state == AT_SLOT_WRITTEN && e->size == s->size &&
        an_hex_eq(e->thumbprint.ptr, e->thumbprint.len, s->thumbprint, strlen(s->thumbprint)))
        return;
    memset(s, 0, sizeof *s);
    s->state = AT_SLOT_LISTED;
    s->exchange = by;
    s->size = e->size;
    an_copy(s->thumbprint, sizeof s->thumbprint, e->thumbprint.ptr, e->thumbprint.len);
    an_copy(s->subject, sizeof s->subject, e->subject.ptr, e->subject.len);
    an_copy(s->issuer, sizeof s->issuer, e->issuer.ptr, e->issuer.len);
    if (e->has_expiry && e->expiry_year) {
        s->has_expiry = true;
        s->expiry_year = (int)e->expiry_year;
        s->expiry_month = (int)e->expiry_month;
        s->expiry_day = (int)e->expiry_day;
    }
}
