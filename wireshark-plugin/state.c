/*
 * state.c - the plugin's first pass: records in, element tables out (see
 * state.h). The core and the analyzer run here and nowhere else.
 */
#include "state.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Copied element bytes live in blocks of this size (an element is at most
 * AT_STREAM_BIN_MAX plus a trailer, far below). */
#define PL_BLOCK (1u << 20)
#define PL_BLOCK_SHIFT 20
/* Longest element worth a copy: frames and lines; an invalid run of a
 * megabyte is shown only where its bytes are. */
#define PL_COPY_MAX (2u * AT_STREAM_BIN_MAX)
/* How far back (bytes of one direction) record positions are remembered:
 * every element that can still complete started within this window. */
#define PL_LOG_WINDOW (4u * AT_STREAM_BIN_MAX)

typedef struct pl_rec {
    uint64_t off;
    uint32_t frame;
} pl_rec;

struct pl_reclog {
    pl_rec *v;
    size_t head, n, cap;
};

/* Per packet: the low 32 bits of its stream offset, by packet number. */
#define PL_PKT_SHIFT 16
#define PL_PKT_CHUNK (1u << PL_PKT_SHIFT)

typedef struct pl_pktchunk {
    uint64_t seen[PL_PKT_CHUNK / 64]; /**< the first pass saw the packet */
    uint32_t off_lo[PL_PKT_CHUNK];
} pl_pktchunk;

struct pl_pktlog {
    pl_pktchunk **chunks;     /**< by packet number >> PL_PKT_SHIFT; NULL: none seen */
    size_t n_chunks, cap_chunks;
};

PL_COLD static bool grow_to(void **v, size_t *cap, size_t need, size_t size)
{
    /* 1.5x: the element table of a large trace is the biggest one. Under
     * tshark its growth is a copy (measured: about 30 instructions a
     * record in memcpy): glibc's mmap threshold has risen by then, so
     * even large blocks are on the heap, which realloc does not remap. */
    size_t cap2 = *cap ? *cap : 16;
    while (cap2 < need)
        cap2 += cap2 / 2;
    void *p = realloc(*v, cap2 * size);
    if (!p)
        return false;
    *v = p;
    *cap = cap2;
    return true;
}

/* The test inline: it runs for every element and record, the
 * reallocation once in a while. */
static inline bool grow(void **v, size_t *cap, size_t need, size_t size)
{
    return need <= *cap || grow_to(v, cap, need, size);
}

#define GROW(arr, n, cap) grow((void **)&(arr), &(cap), (n) + 1, sizeof *(arr))

/* ------------------------------------------------------------------ */
/* Record log: which packet holds a recent stream offset              */
/* ------------------------------------------------------------------ */

/* Drops the forgotten records at the front (now and then). */
PL_COLD static void log_compact(pl_reclog *l)
{
    memmove(l->v, l->v + l->head, (l->n - l->head) * sizeof *l->v);
    l->n -= l->head;
    l->head = 0;
}

/*
 * Forgets the records that no element can still start in: those before
 * the last one that starts more than PL_LOG_WINDOW bytes before the
 * newest record. The offsets grow, so which ones those are depends on the
 * newest offset alone: this runs once in 64 records (and when log_frame
 * lands on such a record), not on every record, and finds the cut by
 * bisection.
 */
static void log_forget(pl_reclog *l)
{
    if (l->n - l->head < 2 || l->v[l->n - 1].off <= PL_LOG_WINDOW)
        return;
    uint64_t from = l->v[l->n - 1].off - PL_LOG_WINDOW;
    /* First record after the head that starts at or after from (the
     * newest does); the one before it stays. */
    size_t lo = l->head + 1, hi = l->n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->v[mid].off < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    l->head = lo - 1;
}

static void log_add(pl_reclog *l, uint64_t off, uint32_t frame)
{
    if (l->n && l->v[l->n - 1].off == off) {
        l->v[l->n - 1].frame = frame; /* an empty record before this one */
        return;
    }
    if (l->n % 64 == 0) {
        log_forget(l);
        if (l->head > 1024 && l->head * 2 > l->n)
            log_compact(l);
    }
    if (!GROW(l->v, l->n, l->cap))
        return;
    l->v[l->n++] = (pl_rec){off, frame};
}

static uint32_t log_frame(pl_reclog *l, uint64_t off, uint32_t fallback)
{
    if (!l || l->n == l->head)
        return fallback;
    size_t lo = l->head, hi = l->n; /* last record with rec.off <= off */
    if (off >= l->v[lo].off) {
        /* Elements mostly start a record or two back: gallop from the end
         * over the recent records (in cache) before bisecting. */
        for (size_t step = 1; hi - lo > 1; step *= 2) {
            size_t probe = hi - lo > step ? hi - step : lo;
            if (l->v[probe].off <= off) {
                lo = probe;
                break;
            }
            hi = probe;
        }
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (l->v[mid].off <= off)
                lo = mid;
            else
                hi = mid;
        }
    }
    /* A record log_forget drops (it runs lazily): the answer is then the
     * oldest record it keeps. */
    uint64_t newest = l->v[l->n - 1].off;
    if (lo + 1 < l->n && newest > PL_LOG_WINDOW && l->v[lo + 1].off < newest - PL_LOG_WINDOW) {
        log_forget(l);
        lo = l->head;
    }
    return l->v[lo].frame;
}

/* ------------------------------------------------------------------ */
/* Searches                                                           */
/* ------------------------------------------------------------------ */

/*
 * A sorted sequence of keys: entry i is the field at @p field of
 * base[order ? order[i] : i] (entries @p stride bytes apart), a uint64_t
 * when @p wide, else a uint32_t. One view serves every table searched
 * here: elements by packet, elements by offset through by_dir, findings
 * by element through finding_order, the side tables by element.
 */
typedef struct sorted_view {
    const void *base;
    size_t stride, field;
    bool wide;
    const uint32_t *order;
} sorted_view;

static uint64_t view_key(const sorted_view *v, size_t i)
{
    const uint8_t *p = (const uint8_t *)v->base + (v->order ? v->order[i] : i) * v->stride + v->field;
    if (v->wide) {
        uint64_t k;
        memcpy(&k, p, sizeof k);
        return k;
    }
    uint32_t k;
    memcpy(&k, p, sizeof k);
    return k;
}

/*
 * First i in [0, n) with key(i) >= k (n if none), for keys sorted
 * ascending. The search starts at @p hint and gallops from there: packets
 * are mostly dissected in order, so the answer is usually next to the last
 * one and the search touches a few entries instead of log2(n) far apart.
 */
static size_t lower_bound(size_t n, size_t *hint, uint64_t k, const sorted_view *v)
{
    size_t lo = 0, hi = n; /* key(lo - 1) < k <= key(hi) */
    if (n == 0)
        return 0;
    size_t h = *hint < n ? *hint : n - 1;
    if (view_key(v, h) >= k) {
        hi = h;
        for (size_t step = 1; hi > 0; step *= 2) {
            size_t probe = hi > step ? hi - step : 0;
            if (view_key(v, probe) < k) {
                lo = probe + 1;
                break;
            }
            hi = probe;
        }
    } else {
        lo = h + 1;
        for (size_t step = 1; lo < n; step *= 2) {
            size_t probe = n - lo > step ? lo + step - 1 : n - 1;
            if (view_key(v, probe) >= k) {
                hi = probe;
                break;
            }
            lo = probe + 1;
        }
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (view_key(v, mid) < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    *hint = lo;
    return lo;
}

/* Side tables (spans, ends, frames, secrets) hold their element's index
 * as a uint32_t at @p field and are appended in element order: position
 * of the first entry of element @p elem, or n if it has none. */
static size_t side_find(const void *base, size_t n, size_t stride, size_t field, uint32_t elem)
{
    sorted_view v = {base, stride, field, false, NULL};
    size_t hint = n;
    size_t i = lower_bound(n, &hint, elem, &v);
    return i < n && view_key(&v, i) == elem ? i : n;
}

/* ------------------------------------------------------------------ */
/* Tables                                                             */
/* ------------------------------------------------------------------ */

static uint32_t arena_copy(pl_state *st, const uint8_t *p, size_t len)
{
    if (len == 0 || len > PL_BLOCK)
        return PL_NONE;
    if (st->n_blocks == 0 || st->block_used + len > PL_BLOCK) {
        if ((uint64_t)(st->n_blocks + 1) << PL_BLOCK_SHIFT >= PL_NONE)
            return PL_NONE;
        if (!GROW(st->arena, st->n_blocks, st->cap_blocks))
            return PL_NONE;
        uint8_t *b = malloc(PL_BLOCK);
        if (!b)
            return PL_NONE;
        st->arena[st->n_blocks++] = b;
        st->block_used = 0;
    }
    uint32_t at = (uint32_t)((st->n_blocks - 1) << PL_BLOCK_SHIFT) + (uint32_t)st->block_used;
    memcpy(st->arena[st->n_blocks - 1] + st->block_used, p, len);
    st->block_used += len;
    return at;
}

/* A NUL-terminated copy in the arena ("" if it does not fit). */
static const char *arena_str(pl_state *st, const char *str)
{
    uint32_t at = arena_copy(st, (const uint8_t *)str, strlen(str) + 1);
    if (at == PL_NONE)
        return "";
    return (const char *)st->arena[at >> PL_BLOCK_SHIFT] + (at & (PL_BLOCK - 1));
}

/* Keeps by_dir sorted by offset; elements arrive nearly in order. */
static void index_elem(pl_chan *ch, uint32_t idx)
{
    pl_state *st = ch->st;
    const pl_elem *e = &st->elems[idx];
    at_dir dir = pl_elem_dir(e);
    uint32_t **v = &ch->by_dir[dir];
    size_t *n = &ch->n_by_dir[dir];
    if (!grow((void **)v, &ch->cap_by_dir[dir], *n + 1, sizeof **v)) {
        st->oom = true;
        return;
    }
    size_t at = *n;
    while (at > 0 && st->elems[(*v)[at - 1]].off > e->off)
        at--;
    if (at < *n)
        memmove(*v + at + 1, *v + at, (*n - at) * sizeof **v);
    (*v)[at] = idx;
    (*n)++;
}

/* The elements of one direction by offset. */
static sorted_view by_dir_view(const pl_state *st, const uint32_t *v)
{
    sorted_view view = {st->elems, sizeof *st->elems, offsetof(pl_elem, off), true, v};
    return view;
}

void pl_state_overlap(pl_chan *ch, at_dir dir, uint64_t off, uint64_t len, size_t *first,
                      size_t *end)
{
    const pl_state *st = ch->st;
    const uint32_t *v = ch->by_dir[dir];
    size_t n = ch->n_by_dir[dir];
    sorted_view view = by_dir_view(st, v);
    /* First element starting at or after off. */
    size_t lo = lower_bound(n, &ch->hint_by_dir[dir], off, &view);
    /* The elements of one direction are disjoint runs of its stream, so
     * only the one just before can reach into [off, ...). */
    size_t i = lo;
    while (i > 0 && st->elems[v[i - 1]].off + st->elems[v[i - 1]].len > off)
        i--;
    size_t j = lo;
    while (j < n && st->elems[v[j]].off < off + len)
        j++;
    *first = i;
    *end = j;
}

/* The element holding byte @p off of @p dir, else the channel's latest. */
static uint32_t elem_at(const pl_chan *ch, at_dir dir, uint64_t off)
{
    const pl_state *st = ch->st;
    const uint32_t *v = ch->by_dir[dir];
    size_t n = ch->n_by_dir[dir];
    sorted_view view = by_dir_view(st, v);
    size_t hint = n; /* findings mostly point at recent elements */
    size_t lo = lower_bound(n, &hint, off + 1, &view); /* after the last with e.off <= off */
    /* Several elements may start at or before off (an END without bytes
     * shares the offset of what follows): take the one covering it. */
    for (size_t k = lo; k-- > 0;) {
        const pl_elem *e = &st->elems[v[k]];
        if (e->len && off >= e->off && off - e->off < e->len)
            return v[k];
        if (off - e->off > PL_LOG_WINDOW)
            break;
    }
    return ch->last_elem;
}

/* ------------------------------------------------------------------ */
/* Private-key bytes per direction                                    */
/* ------------------------------------------------------------------ */

/* The runs as a sorted view: first run whose end is past an offset. */
static size_t secret_runs_after(const pl_chan *ch, at_dir dir, uint64_t off)
{
    sorted_view v = {ch->secret_runs[dir], sizeof(pl_range), offsetof(pl_range, end), true,
                     NULL};
    size_t hint = ch->n_secret_runs[dir];
    return lower_bound(ch->n_secret_runs[dir], &hint, off + 1, &v);
}

/* Adds [off, off + len), merged with the runs it touches (runs arrive
 * in stream order: usually appended to the last one or after it). */
static bool secret_runs_add(pl_chan *ch, at_dir dir, uint64_t off, uint64_t len)
{
    if (len == 0)
        return true;
    pl_range r = {off, off + len};
    pl_range *v = ch->secret_runs[dir];
    size_t n = ch->n_secret_runs[dir];
    /* Runs [i, j) overlap or touch r. */
    size_t i = n && v[n - 1].end < r.off ? n : secret_runs_after(ch, dir, r.off - (r.off > 0));
    size_t j = i;
    while (j < n && v[j].off <= r.end) {
        if (v[j].off < r.off)
            r.off = v[j].off;
        if (v[j].end > r.end)
            r.end = v[j].end;
        j++;
    }
    if (i == j) {
        if (!grow((void **)&ch->secret_runs[dir], &ch->cap_secret_runs[dir], n + 1,
                  sizeof *v))
            return false;
        v = ch->secret_runs[dir];
        memmove(v + i + 1, v + i, (n - i) * sizeof *v);
        ch->n_secret_runs[dir] = n + 1;
    } else {
        memmove(v + i + 1, v + j, (n - j) * sizeof *v);
        ch->n_secret_runs[dir] = n - (j - i) + 1;
    }
    v[i] = r;
    return true;
}

bool pl_state_secret_runs_reach(const pl_chan *ch, at_dir dir, uint64_t off, uint64_t len)
{
    if (ch->st->oom)
        return true; /* a run may be missing from the list: let the caller look */
    size_t i = secret_runs_after(ch, dir, off);
    return i < ch->n_secret_runs[dir] && ch->secret_runs[dir][i].off < off + len;
}

/* ------------------------------------------------------------------ */
/* Session and analyzer callbacks                                     */
/* ------------------------------------------------------------------ */

static void on_finding(void *ctx, const at_finding *f)
{
    pl_chan *ch = ctx;
    pl_state *st = ch->st;
    uint32_t elem = elem_at(ch, f->dir, f->off);
    if (elem == PL_NONE || !GROW(st->findings, st->n_findings, st->cap_findings) ||
        !grow((void **)&st->finding_order, &st->cap_finding_order, st->n_findings + 1,
              sizeof *st->finding_order)) {
        st->oom = true;
        return;
    }
    uint32_t idx = (uint32_t)st->n_findings++;
    pl_finding *pf = &st->findings[idx];
    pf->rule = f->rule;
    pf->severity = (uint8_t)f->severity;
    pf->dir = (uint8_t)f->dir;
    pf->off = f->off;
    pf->elem = elem;
    st->elems[elem].flags |= PL_EF_NOTED;
    pf->what = arena_str(st, f->what);
    pf->fix = arena_str(st, f->fix);
    /* Keep finding_order sorted by element (then by arrival): findings
     * mostly point at recent elements, so this moves little. */
    uint32_t *o = st->finding_order;
    size_t at = idx;
    while (at > 0 && st->findings[o[at - 1]].elem > elem)
        at--;
    memmove(o + at + 1, o + at, (idx - at) * sizeof *o);
    o[at] = idx;
}

static bool in_current_record(const pl_chan *ch, const at_event *ev)
{
    return ev->dir == ch->cur_dir && ev->span.off >= ch->cur_off[ev->dir] &&
           ev->span.off + ev->span.len <= ch->cur_off[ev->dir] + ch->cur_len;
}

/* The private-key runs reported with element @p idx (few). */
PL_COLD static void keep_secrets(pl_chan *ch, const at_event *ev, uint32_t idx)
{
    pl_state *st = ch->st;
    for (unsigned i = 0; i < ev->n_secrets; i++) {
        if (!GROW(st->secrets, st->n_secrets, st->cap_secrets)) {
            st->oom = true;
            break;
        }
        const at_secret *sr = &ev->secrets[i];
        st->secrets[st->n_secrets++] =
            (pl_secret){sr->span.off, sr->span.len, idx, (uint8_t)sr->kind};
        st->elems[idx].flags |= PL_EF_NOTED;
        if (!secret_runs_add(ch, ev->dir, sr->span.off, sr->span.len))
            st->oom = true;
    }
}

/* What the analyzer decided about the frame just reported (frames are
 * few: out of the per-record path). */
PL_COLD static void keep_frame(pl_chan *ch, uint32_t idx, at_profile_id profile)
{
    pl_state *st = ch->st;
    const at_frame_details *d = at_analyzer_frame(ch->an);
    if (!d || !GROW(st->frames, st->n_frames, st->cap_frames))
        return;
    pl_frame *pf = &st->frames[st->n_frames];
    memset(pf, 0, sizeof *pf);
    pf->elem = idx;
    pf->profile = (uint8_t)profile;
    pf->has_cert = d->has_cert;
    pf->cert_ok = d->cert_ok;
    pf->has_key = d->has_key;
    pf->key_ok = d->key_ok;
    pf->key_matches_cert = d->key_matches_cert;
    pf->sig_checked = d->sig_checked;
    pf->sig_base64_ok = d->sig.base64_ok;
    pf->sig_matches = d->sig.matches;
    pf->sig_recovered = d->sig.recovered;
    pf->sig_digest_len = (uint8_t)d->sig.digest_len;
    pf->sig_key_len = (uint32_t)d->sig.key_len;
    memcpy(pf->key_type, d->key.type, sizeof pf->key_type);
    pf->key_bits = d->key.bits;
    pf->cert_error = arena_str(st, d->cert_error);
    /* The analyzer's text lives only until its next frame. */
    pf->verify_source = d->verify_source ? arena_str(st, d->verify_source) : NULL;
    if (d->cert_ok) {
        const at_cert_summary *c = &d->cert;
        pf->cert_size = (uint32_t)c->size;
        pf->issuer = arena_str(st, c->issuer);
        pf->subject = arena_str(st, c->subject);
        pf->serial = arena_str(st, c->serial);
        memcpy(pf->sig_alg, c->sig_alg, sizeof pf->sig_alg);
        memcpy(pf->thumbprint, c->thumbprint, sizeof pf->thumbprint);
        pf->expiry_year = c->expiry_year;
        pf->expiry_month = c->expiry_month;
        pf->expiry_day = c->expiry_day;
        memcpy(pf->pub_type, c->key_type, sizeof pf->pub_type);
        pf->pub_bits = c->key_bits;
    }
    st->n_frames++;
}

static void on_event(void *ctx, const at_event *ev)
{
    pl_chan *ch = ctx;
    pl_state *st = ch->st;
    if (!GROW(st->elems, st->n_elems, st->cap_elems)) {
        st->oom = true;
        at_analyzer_event(ch->an, ev);
        return;
    }
    uint32_t idx = (uint32_t)st->n_elems;
    pl_elem *e = &st->elems[idx];
    memset(e, 0, sizeof *e);
    e->off = ev->span.off;
    e->len = ev->span.len;
    e->frame_done = ch->cur_frame;
    e->exchange = ev->exchange ? ev->exchange->id : 0;
    e->kind_dir = (uint8_t)((unsigned)ev->kind | (ev->dir == AT_DIR_ME_TO_TE ? PL_DIR_BIT : 0u));
    e->line_kind = (uint8_t)ev->line.kind;
    e->detail = (uint8_t)((unsigned)ev->invalid_reason & 0x0fu);
    if (ev->line.kind == AT_LK_RESULT && ev->line.u.result.numeric)
        e->flags |= PL_EF_NUMERIC;
    if (ev->line.kind == AT_LK_SECURE)
        e->detail |= (uint8_t)(((unsigned)ev->line.u.secure & 0x0fu) << 4);
    if (ev->line.parse_error)
        e->flags |= PL_EF_PARSE_ERROR;
    if (ev->tok) {
        if (ev->tok->flags & AT_TOKF_INCOMPLETE)
            e->flags |= PL_EF_INCOMPLETE;
        if (ev->tok->flags & AT_TOKF_TRUNCATED)
            e->flags |= PL_EF_TRUNCATED;
        if (ev->tok->flags & AT_TOKF_FLUSHED)
            e->flags |= PL_EF_FLUSHED;
    }
    if (ev->last_block)
        e->flags |= PL_EF_LAST_BLOCK;

    /* An element over several records: where it starts, and a copy of
     * its bytes for a data source of its own (payload blocks are shown
     * where their bytes are). */
    if (ev->span.len > 0 && !in_current_record(ch, ev)) {
        if (GROW(st->spans, st->n_spans, st->cap_spans)) {
            bool copyable = ev->kind != AT_EV_PAYLOAD && ev->kind != AT_EV_TRANSPARENT &&
                            ev->data && ev->len == ev->span.len && ev->len <= PL_COPY_MAX;
            st->spans[st->n_spans++] = (pl_span){
                idx, log_frame(ch->log[ev->dir], ev->span.off, ch->cur_frame),
                copyable ? arena_copy(st, ev->data, ev->len) : PL_NONE};
            e->flags |= PL_EF_SPANS;
        } else {
            st->oom = true;
        }
    }
    if (ev->n_secrets)
        keep_secrets(ch, ev, idx);
    st->n_elems++;
    ch->last_elem = idx;
    /* Elements without bytes (an exchange superseded, a gap) are in no
     * record and hold no byte a finding could point at. */
    if (e->len)
        index_elem(ch, idx);

    if (ev->kind == AT_EV_END && ev->exchange &&
        GROW(st->ends, st->n_ends, st->cap_ends)) {
        const at_exchange *x = ev->exchange;
        pl_end *end = &st->ends[st->n_ends];
        memset(end, 0, sizeof *end);
        end->elem = idx;
        end->duration_ns = ev->duration_ns;
        end->reason = (uint8_t)x->end_reason;
        end->secure_result = (uint8_t)x->secure_result;
        end->secure = x->secure;
        end->has_final = x->has_final;
        end->final_kind = (uint8_t)x->final.kind;
        /* The command's own element knows its packet exactly; else the
         * packet that held the exchange's first byte. */
        bool found = false;
        for (size_t k = ch->n_by_dir[AT_DIR_TE_TO_ME]; k-- > 0;) {
            const pl_elem *c = &st->elems[ch->by_dir[AT_DIR_TE_TO_ME][k]];
            if (pl_elem_kind(c) == AT_EV_COMMAND && c->exchange == x->id) {
                end->command_frame = c->frame_done;
                found = true;
                break;
            }
            if (c->exchange && c->exchange < x->id)
                break;
        }
        if (!found)
            end->command_frame = log_frame(ch->log[AT_DIR_TE_TO_ME], x->span.off, 0);
        st->n_ends++;
    }

    /* The frame's limits, before the analyzer may change them: the
     * tree decodes its bytes again with these. */
    at_profile_id profile = at_session_profile(ch->session)->id;
    /* The analyzer after the element exists: its findings about this
     * event point into it. */
    at_analyzer_event(ch->an, ev);

    if (ev->kind == AT_EV_FRAME)
        keep_frame(ch, idx, profile);
}

/* ------------------------------------------------------------------ */
/* Channels and records                                               */
/* ------------------------------------------------------------------ */

/* The channel's state, NULL if it has none. */
static pl_chan *chan_find(pl_state *st, uint16_t channel)
{
    if (st->last_chan && st->last_chan->channel == channel)
        return st->last_chan;
    for (size_t i = 0; i < st->n_chans; i++)
        if (st->chans[i]->channel == channel) {
            st->last_chan = st->chans[i];
            return st->chans[i];
        }
    return NULL;
}

/* A channel's first record: its session and analyzer. */
PL_COLD static pl_chan *chan_new(pl_state *st, uint16_t channel)
{
    if (st->n_chans >= PL_MAX_CHANNELS || !GROW(st->chans, st->n_chans, st->cap_chans))
        return NULL;
    pl_chan *ch = calloc(1, sizeof *ch);
    if (!ch)
        return NULL;
    ch->session = malloc(sizeof *ch->session);
    ch->log[0] = calloc(1, sizeof *ch->log[0]);
    ch->log[1] = calloc(1, sizeof *ch->log[1]);
    at_analyzer_config acfg = at_analyzer_default_config();
    acfg.profile = st->cfg.profile;
    acfg.client_cert_der = st->cfg.client_cert_der;
    acfg.client_cert_len = st->cfg.client_cert_len;
    if (st->cfg.pause_warn_ms)
        acfg.pause_warn_ms = st->cfg.pause_warn_ms;
    ch->an = ch->session ? at_analyzer_new_for_session(ch->session, channel, &acfg, on_event,
                                                       ch, on_finding, ch)
                         : NULL;
    if (!ch->session || !ch->an || !ch->log[0] || !ch->log[1]) {
        if (ch->an)
            at_analyzer_free(ch->an);
        free(ch->session);
        free(ch->log[0]);
        free(ch->log[1]);
        free(ch);
        return NULL;
    }
    ch->channel = channel;
    ch->st = st;
    ch->last_elem = PL_NONE;
    ch->index = (uint16_t)st->n_chans;
    st->chans[st->n_chans++] = ch;
    return ch;
}

static pl_chan *chan_get(pl_state *st, uint16_t channel)
{
    pl_chan *found = chan_find(st, channel);
    return found ? found : chan_new(st, channel);
}

pl_state *pl_state_new(const pl_config *cfg)
{
    pl_state *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    if (cfg)
        st->cfg = *cfg;
    st->pkts = calloc(1, sizeof *st->pkts);
    /* The caller's certificate may go (a preference changed) while this
     * state still creates channels: it keeps its own. */
    uint8_t *der = NULL;
    if (st->cfg.client_cert_der && st->cfg.client_cert_len &&
        (der = malloc(st->cfg.client_cert_len)) != NULL)
        memcpy(der, st->cfg.client_cert_der, st->cfg.client_cert_len);
    if (!st->pkts || (st->cfg.client_cert_der && st->cfg.client_cert_len && !der)) {
        free(st->pkts);
        free(der);
        free(st);
        return NULL;
    }
    st->cfg.client_cert_der = der;
    if (!der)
        st->cfg.client_cert_len = 0;
    return st;
}

/* ------------------------------------------------------------------ */
/* Per packet: the low 32 bits of its stream offset                   */
/* ------------------------------------------------------------------ */

/* Chunk @p c of the per-packet table, made (once per 65536 packets). */
PL_COLD static pl_pktchunk *pkt_chunk_new(pl_pktlog *l, size_t c)
{
    if (c >= l->n_chunks) {
        if (!grow((void **)&l->chunks, &l->cap_chunks, c + 1, sizeof *l->chunks))
            return NULL;
        memset(l->chunks + l->n_chunks, 0, (c + 1 - l->n_chunks) * sizeof *l->chunks);
        l->n_chunks = c + 1;
    }
    if (!l->chunks[c])
        l->chunks[c] = calloc(1, sizeof *l->chunks[c]);
    return l->chunks[c];
}

static bool pkt_put(pl_state *st, uint32_t frame, uint64_t off)
{
    pl_pktlog *l = st->pkts;
    size_t c = frame >> PL_PKT_SHIFT;
    pl_pktchunk *k = c < l->n_chunks && l->chunks[c] ? l->chunks[c] : pkt_chunk_new(l, c);
    if (!k)
        return false;
    uint32_t i = frame & (PL_PKT_CHUNK - 1);
    k->seen[i / 64] |= UINT64_C(1) << (i % 64);
    k->off_lo[i] = (uint32_t)off;
    return true;
}

static bool pkt_get(const pl_state *st, uint32_t frame, uint32_t *off_lo)
{
    const pl_pktlog *l = st->pkts;
    size_t c = frame >> PL_PKT_SHIFT;
    if (c >= l->n_chunks || !l->chunks[c])
        return false;
    const pl_pktchunk *k = l->chunks[c];
    uint32_t i = frame & (PL_PKT_CHUNK - 1);
    if (!(k->seen[i / 64] & (UINT64_C(1) << (i % 64))))
        return false;
    *off_lo = k->off_lo[i];
    return true;
}

bool pl_state_seen_before(const pl_state *st, uint32_t frame)
{
    uint32_t off_lo;
    return pkt_get(st, frame, &off_lo);
}

/* Records the packets where a direction's stream offset reaches the next
 * multiple of 2^32 (the per-packet table keeps only the low bits). */
PL_COLD static bool wraps_add(pl_chan *ch, at_dir dir, uint32_t frame, uint64_t off)
{
    while ((off >> 32) > ch->n_wraps[dir]) {
        if (!grow((void **)&ch->wraps[dir], &ch->cap_wraps[dir], ch->n_wraps[dir] + 1,
                  sizeof *ch->wraps[dir]))
            return false;
        ch->wraps[dir][ch->n_wraps[dir]++] = frame;
    }
    return true;
}

static inline bool wraps_note(pl_chan *ch, at_dir dir, uint32_t frame, uint64_t off)
{
    return (off >> 32) <= ch->n_wraps[dir] || wraps_add(ch, dir, frame, off);
}

static uint64_t wraps_high(const pl_chan *ch, at_dir dir, uint32_t frame)
{
    uint64_t h = 0; /* wraps at or before the packet (a handful per terabyte) */
    while (h < ch->n_wraps[dir] && ch->wraps[dir][h] <= frame)
        h++;
    return h << 32;
}

bool pl_state_record(pl_state *st, uint32_t frame, at_dir dir,
                     const at_uart_header *hdr, uint64_t ts_ns,
                     const uint8_t *payload, size_t len, pl_packet *pkt)
{
    memset(pkt, 0, sizeof *pkt);
    if (st->finished)
        return false; /* records after the end-of-file flush (live capture restarted) */
    pl_chan *ch = chan_get(st, hdr->channel);
    if (!ch)
        return false;
    if (!wraps_note(ch, dir, frame, ch->fed[dir]) || !pkt_put(st, frame, ch->fed[dir])) {
        st->oom = true;
        return false;
    }
    if (frame > st->max_frame)
        st->max_frame = frame;
    /* The packets are fed in order: what the core reports now is what
     * pl_state_packet finds for this packet later. */
    pkt->chan = ch;
    pkt->off = ch->fed[dir];
    size_t first = st->n_elems;
    ch->cur_frame = frame;
    ch->cur_dir = (uint8_t)dir;
    ch->cur_off[dir] = ch->fed[dir];
    ch->cur_len = hdr->event == AT_TEV_DATA ? (uint32_t)len : 0;
    ch->last_frame = frame;
    ch->last_ts = ts_ns;

    /* As attrace decode: whatever was in progress is cut before a gap. */
    if ((hdr->flags & AT_TFLAG_BYTES_MISSING) || hdr->event == AT_TEV_OVERRUN)
        at_session_gap(ch->session, dir, ts_ns);
    if (hdr->event == AT_TEV_DATA && len > 0) {
        log_add(ch->log[dir], ch->fed[dir], frame);
        at_session_feed(ch->session, dir, ts_ns, payload, len);
        pkt->n_fresh = at_session_secrets(ch->session, dir, ch->fed[dir], len, ch->fresh,
                                          AT_SECRET_RUNS_MAX);
        pkt->fresh = ch->fresh;
        ch->fed[dir] += len;
    }
    pkt->elem_first = (uint32_t)first;
    pkt->n_elem = (uint32_t)(st->n_elems - first);
    st->hint_pkt = first;
    return true;
}

bool pl_state_packet(pl_state *st, uint32_t frame, uint16_t channel, at_dir dir,
                     pl_packet *pkt)
{
    uint32_t off_lo;
    memset(pkt, 0, sizeof *pkt);
    if (!pkt_get(st, frame, &off_lo) || !(pkt->chan = chan_find(st, channel)))
        return false;
    pkt->off = wraps_high(pkt->chan, dir, frame) | off_lo;
    /* Elements are stored in the order of the packets that completed
     * them (up to the end-of-file flush). */
    size_t n = st->finished ? st->n_ordered : st->n_elems;
    sorted_view view = {st->elems, sizeof *st->elems, offsetof(pl_elem, frame_done), false, NULL};
    size_t i = lower_bound(n, &st->hint_pkt, frame, &view);
    size_t j = i;
    while (j < n && st->elems[j].frame_done == frame)
        j++;
    pkt->elem_first = (uint32_t)i;
    pkt->n_elem = (uint32_t)(j - i);
    return true;
}

/* ------------------------------------------------------------------ */
/* What only some elements have                                       */
/* ------------------------------------------------------------------ */

static uint32_t elem_index(const pl_state *st, const pl_elem *e)
{
    return (uint32_t)(e - st->elems);
}

static const pl_span *elem_span(const pl_state *st, const pl_elem *e)
{
    if (!(e->flags & PL_EF_SPANS))
        return NULL;
    size_t i = side_find(st->spans, st->n_spans, sizeof *st->spans, offsetof(pl_span, elem),
                         elem_index(st, e));
    return i < st->n_spans ? &st->spans[i] : NULL;
}

uint32_t pl_elem_first_frame(const pl_state *st, const pl_elem *e)
{
    const pl_span *sp = elem_span(st, e);
    return sp ? sp->frame_first : e->frame_done;
}

const uint8_t *pl_elem_copy(const pl_state *st, const pl_elem *e)
{
    const pl_span *sp = elem_span(st, e);
    if (!sp || sp->copy == PL_NONE)
        return NULL;
    return st->arena[sp->copy >> PL_BLOCK_SHIFT] + (sp->copy & (PL_BLOCK - 1));
}

const pl_frame *pl_elem_frame(const pl_state *st, const pl_elem *e)
{
    if (pl_elem_kind(e) != AT_EV_FRAME)
        return NULL;
    size_t i = side_find(st->frames, st->n_frames, sizeof *st->frames,
                         offsetof(pl_frame, elem), elem_index(st, e));
    return i < st->n_frames ? &st->frames[i] : NULL;
}

const pl_end *pl_elem_end(const pl_state *st, const pl_elem *e)
{
    if (pl_elem_kind(e) != AT_EV_END)
        return NULL;
    /* The first pass renders a packet right after recording it: its END
     * is mostly the latest. */
    if (st->n_ends && st->ends[st->n_ends - 1].elem == elem_index(st, e))
        return &st->ends[st->n_ends - 1];
    size_t i = side_find(st->ends, st->n_ends, sizeof *st->ends, offsetof(pl_end, elem),
                         elem_index(st, e));
    return i < st->n_ends ? &st->ends[i] : NULL;
}

size_t pl_elem_secrets_noted(const pl_state *st, const pl_elem *e, const pl_secret **first)
{
    uint32_t idx = elem_index(st, e);
    size_t i = side_find(st->secrets, st->n_secrets, sizeof *st->secrets,
                         offsetof(pl_secret, elem), idx);
    size_t j = i;
    while (j < st->n_secrets && st->secrets[j].elem == idx)
        j++;
    /* An element noted for its findings alone may come before any key
     * run was kept (the table not allocated yet). */
    *first = st->secrets ? st->secrets + i : NULL;
    return j - i;
}

size_t pl_elem_findings_noted(const pl_state *st, const pl_elem *e, const uint32_t **first)
{
    uint32_t idx = elem_index(st, e);
    sorted_view view = {st->findings, sizeof *st->findings, offsetof(pl_finding, elem), false,
                        st->finding_order};
    size_t hint = st->n_findings;
    size_t i = lower_bound(st->n_findings, &hint, idx, &view);
    size_t j = i;
    while (j < st->n_findings && st->findings[st->finding_order[j]].elem == idx)
        j++;
    /* Likewise an element noted for key runs alone, before any finding. */
    *first = st->finding_order ? st->finding_order + i : NULL;
    return j - i;
}

void pl_state_finish(pl_state *st)
{
    if (st->finished)
        return;
    st->finished = true;
    st->n_ordered = st->n_elems;
    for (size_t i = 0; i < st->n_chans; i++) {
        pl_chan *ch = st->chans[i];
        ch->cur_frame = ch->last_frame;
        ch->cur_len = 0;
        ch->fin_first = (uint32_t)st->n_elems;
        at_session_finish(ch->session, ch->last_ts);
        at_analyzer_finish(ch->an);
        ch->n_fin = (uint32_t)st->n_elems - ch->fin_first;
    }
}

void pl_state_free(pl_state *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n_chans; i++) {
        pl_chan *ch = st->chans[i];
        at_analyzer_free(ch->an);
        free(ch->session);
        for (int d = 0; d < 2; d++) {
            free(ch->by_dir[d]);
            free(ch->wraps[d]);
            free(ch->secret_runs[d]);
            if (ch->log[d])
                free(ch->log[d]->v);
            free(ch->log[d]);
        }
        free(ch);
    }
    for (size_t i = 0; i < st->n_blocks; i++)
        free(st->arena[i]);
    free(st->arena);
    for (size_t i = 0; i < st->pkts->n_chunks; i++)
        free(st->pkts->chunks[i]);
    free(st->pkts->chunks);
    free(st->pkts);
    free(st->spans);
    free(st->finding_order);
    free(st->chans);
    free(st->elems);
    free(st->ends);
    free(st->frames);
    free(st->findings);
    free(st->secrets);
    free((void *)st->cfg.client_cert_der);
    free(st);
}
