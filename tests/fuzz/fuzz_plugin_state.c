/*
 * Fuzz target for the Wireshark plugin's per-file state
 * (wireshark-plugin/state.c): the code that runs inside Wireshark on every
 * record of a hostile trace, and that later passes trust to say where an
 * element's bytes are. It needs no Wireshark: the state is plain C.
 *
 * Input layout: one byte of settings (bits 0..1: module profile, auto,
 * legacy or newer), then records, each two header bytes and a payload:
 *   byte 0: bit 7 direction (ME->TE), bit 6 "bytes may be missing",
 *           bits 4..5 event (0, 1: data; 2: overrun; 3: break),
 *           bit 3: a packet number is skipped before it (as in a
 *           filtered file), bits 0..2 channel (0..7);
 *   byte 1: payload length (0..255; bytes past the input's end are not
 *           there: the record is shorter);
 * fed as Wireshark's first pass does, in packet order from packet 1.
 *
 * What it checks, the promises the renderer relies on:
 * - an element not marked as spanning records lies inside the record
 *   that completed it (the renderer cuts it out of that record's bytes);
 * - a spanning element's copy holds exactly the stream's bytes, and its
 *   first packet holds its first byte;
 * - a later pass (any order, here the reverse) finds for each packet the
 *   same channel, stream offset and elements as the first pass reported;
 * - the overlap search returns exactly the elements overlapping a
 *   record, and the key-byte question answers as the key runs say;
 * - findings and key runs point at valid elements and rules.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrace/profile.h"
#include "fuzz_check.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECS 4096
#define MAX_CHANS 8

typedef struct rec {
    uint32_t frame;
    uint16_t channel;
    at_dir dir;
    uint64_t off;  /* stream offset of its first payload byte */
    uint32_t len;  /* payload bytes fed (data records), else 0 */
    bool kept;
    pl_packet pkt;
} rec;

typedef struct stream {
    uint8_t *bytes;
    size_t len;
} stream;

static rec recs[MAX_RECS];
static stream streams[MAX_CHANS][2];

/* The record of channel/dir holding stream byte @p off, or NULL. */
static const rec *rec_at(size_t n, uint16_t channel, at_dir dir, uint64_t off)
{
    for (size_t i = 0; i < n; i++)
        if (recs[i].kept && recs[i].channel == channel && recs[i].dir == dir &&
            recs[i].len && off >= recs[i].off && off < recs[i].off + recs[i].len)
            return &recs[i];
    return NULL;
}

static void check_elem(const pl_state *st, const pl_chan *ch, const rec *r, size_t n_recs,
                       const pl_elem *e)
{
    at_dir dir = pl_elem_dir(e);
    const stream *s = &streams[ch->channel][dir];
    fuzz_check(e->off + e->len <= s->len);
    const uint8_t *copy = pl_elem_copy(st, e);
    if (!(e->flags & PL_EF_SPANS)) {
        /* The renderer takes the bytes from the completing record. */
        fuzz_check(e->len == 0 ||
              (dir == r->dir && e->off >= r->off && e->off + e->len <= r->off + r->len));
    } else {
        if (copy)
            fuzz_check(memcmp(copy, s->bytes + e->off, e->len) == 0);
        if (e->len) {
            const rec *first = rec_at(n_recs, ch->channel, dir, e->off);
            fuzz_check(first && pl_elem_first_frame(st, e) == first->frame);
        }
    }
    const pl_secret *k;
    size_t nk = pl_elem_secrets(st, e, &k);
    for (size_t i = 0; i < nk; i++)
        fuzz_check(k[i].len > 0 && k[i].off >= e->off && k[i].off + k[i].len <= e->off + e->len &&
              &st->elems[k[i].elem] == e);
    const uint32_t *fi;
    size_t nf = pl_elem_findings(st, e, &fi);
    for (size_t i = 0; i < nf; i++) {
        fuzz_check(fi[i] < st->n_findings);
        const pl_finding *f = &st->findings[fi[i]];
        fuzz_check(&st->elems[f->elem] == e && at_rule_find(f->rule) != NULL && f->what && f->fix);
    }
    if (pl_elem_kind(e) == AT_EV_FRAME) {
        const pl_frame *fr = pl_elem_frame(st, e);
        fuzz_check(!fr || (&st->elems[fr->elem] == e && at_profile_get((at_profile_id)fr->profile) != NULL));
    }
    const pl_end *end = pl_elem_end(st, e);
    fuzz_check(!end || &st->elems[end->elem] == e);
}

/* The overlap search and the key-byte question for record @p r. */
static void check_overlap(const pl_state *st, pl_chan *ch, const rec *r)
{
    size_t a, b;
    pl_state_overlap(ch, r->dir, r->off, r->len, &a, &b);
    fuzz_check(a <= b && b <= ch->n_by_dir[r->dir]);
    for (size_t i = 0; i < ch->n_by_dir[r->dir]; i++) {
        const pl_elem *e = &st->elems[ch->by_dir[r->dir][i]];
        fuzz_check(pl_elem_dir(e) == r->dir);
        bool overlaps = e->len && e->off < r->off + r->len && e->off + e->len > r->off;
        if (i >= a && i < b)
            fuzz_check(overlaps || !e->len);
        else
            fuzz_check(!overlaps);
    }
    bool has_key = false;
    for (size_t i = 0; i < st->n_secrets; i++) {
        const pl_secret *k = &st->secrets[i];
        const pl_elem *e = &st->elems[k->elem];
        bool mine = false;
        for (size_t j = 0; j < ch->n_by_dir[r->dir] && !mine; j++)
            mine = &st->elems[ch->by_dir[r->dir][j]] == e;
        if (mine && r->len && k->off < r->off + r->len && k->off + k->len > r->off)
            has_key = true;
    }
    fuzz_check(pl_state_has_secret(ch, r->dir, r->off, r->len) == has_key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const at_profile_id profiles[] = {AT_PROFILE_LEGACY, AT_PROFILE_LEGACY,
                                             AT_PROFILE_NEWER};
    pl_config cfg = {0};
    unsigned p = data[0] & 3u;
    if (p == 1 || p == 2)
        cfg.profile = at_profile_get(profiles[p]);
    pl_state *st = pl_state_new(&cfg);
    fuzz_check(st != NULL);

    size_t pos = 1, n = 0;
    uint32_t frame = 0;
    uint64_t ts = 1000000000u;
    while (pos + 2 <= size && n < MAX_RECS) {
        uint8_t h = data[pos], len = data[pos + 1];
        pos += 2;
        size_t plen = len <= size - pos ? len : size - pos;
        static const at_trace_event events[] = {AT_TEV_DATA, AT_TEV_DATA, AT_TEV_OVERRUN,
                                                AT_TEV_BREAK};
        at_uart_header hdr = {.version = AT_TRACE_UART_VERSION,
                              .event = events[(h >> 4) & 3u],
                              .channel = h & 0x07u,
                              .flags = (h & 0x40) ? AT_TFLAG_BYTES_MISSING : 0};
        at_dir dir = (h & 0x80) ? AT_DIR_ME_TO_TE : AT_DIR_TE_TO_ME;
        frame += (h & 0x08) ? 2 : 1;
        rec *r = &recs[n++];
        stream *s = &streams[hdr.channel][dir];
        *r = (rec){.frame = frame, .channel = hdr.channel, .dir = dir, .off = s->len};
        r->kept = pl_state_record(st, frame, dir, &hdr, ts, data + pos, plen, &r->pkt);
        fuzz_check(r->kept); /* nothing fails here but memory */
        fuzz_check(r->pkt.chan && r->pkt.chan->channel == hdr.channel && r->pkt.off == s->len);
        if (hdr.event == AT_TEV_DATA && plen) {
            uint8_t *grown = realloc(s->bytes, s->len + plen);
            fuzz_check(grown != NULL);
            memcpy(grown + s->len, data + pos, plen);
            s->bytes = grown;
            s->len += plen;
            r->len = (uint32_t)plen;
        }
        /* The runs the dissector masks in this record at once: sorted,
         * disjoint, inside its payload (it writes '*' over them). */
        fuzz_check(r->pkt.n_fresh <= AT_SECRET_RUNS_MAX);
        for (unsigned i = 0; i < r->pkt.n_fresh; i++) {
            const at_secret *k = &r->pkt.fresh[i];
            fuzz_check(k->span.len > 0 && k->span.off >= r->off &&
                       k->span.off + k->span.len <= r->off + r->len);
            fuzz_check(i == 0 || k->span.off > r->pkt.fresh[i - 1].span.off +
                                                   r->pkt.fresh[i - 1].span.len);
        }
        for (uint32_t i = 0; i < r->pkt.n_elem; i++) {
            const pl_elem *e = &st->elems[r->pkt.elem_first + i];
            fuzz_check(e->frame_done == frame);
            check_elem(st, r->pkt.chan, r, n, e);
        }
        pos += plen;
        ts += 1000;
    }
    pl_state_finish(st);
    fuzz_check(!st->oom);

    /* A later pass, in reverse order: the same packets, from the tables. */
    for (size_t i = n; i-- > 0;) {
        const rec *r = &recs[i];
        pl_packet again;
        fuzz_check(pl_state_seen(st, r->frame));
        fuzz_check(pl_state_packet(st, r->frame, r->channel, r->dir, &again));
        fuzz_check(again.chan == r->pkt.chan && again.off == r->pkt.off &&
              again.elem_first == r->pkt.elem_first && again.n_elem == r->pkt.n_elem);
        check_overlap(st, again.chan, r);
    }
    /* The end-of-file flush: shown in each channel's last packet. */
    for (size_t c = 0; c < st->n_chans; c++) {
        const pl_chan *ch = st->chans[c];
        fuzz_check(ch->fin_first + ch->n_fin <= st->n_elems);
        const rec *last = NULL;
        for (size_t i = 0; i < n; i++)
            if (recs[i].channel == ch->channel)
                last = &recs[i];
        fuzz_check(last && last->frame == ch->last_frame);
        for (uint32_t i = 0; i < ch->n_fin; i++)
            check_elem(st, ch, last, n, &st->elems[ch->fin_first + i]);
    }
    fuzz_check(!pl_state_seen(st, frame + 1));

    pl_state_free(st);
    for (size_t c = 0; c < MAX_CHANS; c++)
        for (int d = 0; d < 2; d++) {
            free(streams[c][d].bytes);
            streams[c][d] = (stream){0};
        }
    return 0;
}
