/*
 * state.h - what the plugin keeps about one capture file.
 *
 * The first pass feeds every record to one at_session + at_analyzer per
 * channel (exactly as `attrace decode` does) and records what they
 * reported in flat tables: one element per session event, the analyzer's
 * verdict per frame, the findings. Later passes render from these tables
 * and never feed the core again. Per packet, only the low 32 bits of its
 * stream offset (4 bytes, in a table indexed by packet number) and one bit
 * are kept: its channel comes from its own pseudo-header, the elements
 * completed in it are found by packet number (elements are stored in
 * packet order), the high bits of the offset from a per-direction list of
 * the packets where the offset crossed a multiple of 2^32.
 *
 * No Wireshark types in here: the tables are plain C, freed as a whole
 * when the capture file is closed (pl_state_free).
 */
#ifndef ATTRACE_PLUGIN_STATE_H
#define ATTRACE_PLUGIN_STATE_H

#include "attrace/analysis.h"
#include "attrace/session.h"
#include "attrace/uart.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_NONE UINT32_MAX

/* A function on a path that seldom runs (allocation, rare records): out
 * of line and away from the per-record code, so that a record touches
 * fewer lines of instruction cache. */
#if defined(__GNUC__)
#define PL_COLD __attribute__((cold, noinline))
#else
#define PL_COLD
#endif

/* Element flags. */
enum {
    PL_EF_NUMERIC = 1u << 0,     /**< a result line parsed in ATV0 form */
    PL_EF_INCOMPLETE = 1u << 1,  /**< the element stopped before its end */
    PL_EF_TRUNCATED = 1u << 2,   /**< a line cut at the line limit */
    PL_EF_FLUSHED = 1u << 3,     /**< a frame ended by the peer's answer */
    PL_EF_LAST_BLOCK = 1u << 4,  /**< last block of a payload run */
    PL_EF_PARSE_ERROR = 1u << 5, /**< a known line prefix whose body did not parse */
    PL_EF_SPANS = 1u << 6,       /**< its bytes are not all in the completing record:
                                      a pl_span says where it starts (and its copy) */
    PL_EF_NOTED = 1u << 7        /**< private-key runs or findings go with it: the
                                      renderer looks them up only then */
};

/**
 * One session event: where its bytes are, and what the core made of it
 * (24 bytes: the biggest table of a large trace). What only some elements
 * have lives in side tables ordered by element index (spans, ends, frames,
 * secrets, findings), found by binary search.
 */
typedef struct pl_elem {
    uint64_t off;          /**< stream offset of its first byte (its dir) */
    uint32_t len;          /**< its bytes in the stream */
    uint32_t frame_done;   /**< packet in which the core reported it */
    uint32_t exchange;     /**< 0: none */
    uint8_t kind_dir;      /**< at_event_kind, PL_DIR_BIT for ME->TE */
    uint8_t line_kind;     /**< at_line_kind */
    uint8_t flags;         /**< PL_EF_* */
    uint8_t detail;        /**< at_tok_reason (low nibble), at_secure_result of a
                                SECURE CMD line (high nibble) */
} pl_elem;

#define PL_DIR_BIT 0x80u

static inline at_event_kind pl_elem_kind(const pl_elem *e)
{
    return (at_event_kind)(e->kind_dir & ~PL_DIR_BIT);
}
static inline at_dir pl_elem_dir(const pl_elem *e)
{
    return e->kind_dir & PL_DIR_BIT ? AT_DIR_ME_TO_TE : AT_DIR_TE_TO_ME;
}
static inline at_tok_reason pl_elem_reason(const pl_elem *e)
{
    return (at_tok_reason)(e->detail & 0x0fu);
}
static inline at_secure_result pl_elem_secure(const pl_elem *e)
{
    return (at_secure_result)(e->detail >> 4);
}

/** An element whose bytes span records (PL_EF_SPANS). */
typedef struct pl_span {
    uint32_t elem;         /**< index into elems[] */
    uint32_t frame_first;  /**< packet holding its first byte */
    uint32_t copy;         /**< its bytes in the arena, or PL_NONE (payload blocks,
                                invalid runs); the copy is exact: renderers mask
                                the secret runs */
} pl_span;

/** A private-key run the core found (attrace/secret.h), stream offsets. */
typedef struct pl_secret {
    uint64_t off;
    uint32_t len;
    uint32_t elem;         /**< the element it was reported with */
    uint8_t kind;          /**< at_secret_kind */
} pl_secret;

/** What an exchange's END said. */
typedef struct pl_end {
    uint64_t duration_ns;
    uint32_t elem;           /**< its END element */
    uint32_t command_frame;  /**< packet that completed its command line */
    uint8_t reason;          /**< at_end_reason */
    uint8_t secure_result;   /**< at_secure_result */
    bool secure;             /**< an AT^SBNW exchange */
    bool has_final;
    uint8_t final_kind;      /**< at_result_kind */
} pl_end;

/** What the analyzer decided about one frame (the renderer shows it):
 *  the parts of at_frame_details it shows, strings in the arena. */
typedef struct pl_frame {
    uint32_t elem;               /**< its FRAME element */
    bool has_cert, cert_ok, has_key, key_ok, key_matches_cert;
    bool sig_checked, sig_base64_ok, sig_matches, sig_recovered;
    uint8_t sig_digest_len;
    uint8_t profile;             /**< the at_profile_id the session decoded it with */
    uint32_t sig_key_len;
    char key_type[8];            /**< the private key's */
    int key_bits;
    const char *cert_error;      /**< "" when none */
    const char *verify_source;   /**< NULL when not checked */
    /* The certificate, when cert_ok. */
    uint32_t cert_size;
    const char *issuer, *subject, *serial;
    char sig_alg[24];
    char thumbprint[41];
    int expiry_year, expiry_month, expiry_day;
    char pub_type[8];
    int pub_bits;
} pl_frame;

/** One finding, its texts in the arena. */
typedef struct pl_finding {
    const char *rule;      /**< the rule table's id (static) */
    const char *what, *fix;
    uint64_t off;          /**< the byte it points at */
    uint32_t elem;         /**< the element holding that byte */
    uint8_t severity;      /**< at_severity */
    uint8_t dir;           /**< at_dir of off */
} pl_finding;

/** A run of stream offsets [off, end) of one direction. */
typedef struct pl_range {
    uint64_t off, end;
} pl_range;

typedef struct pl_reclog pl_reclog;
typedef struct pl_pktlog pl_pktlog;

typedef struct pl_chan {
    /* What every record reads or writes comes first: a record then
     * touches three cache lines of its channel, not five. */
    uint16_t channel;
    uint16_t index;          /**< its position in channels[] */
    uint32_t cur_frame;      /**< packet being fed */
    uint32_t cur_len;        /**< its payload length */
    uint8_t cur_dir;
    uint32_t last_frame;     /**< last packet of this channel */
    uint32_t last_elem;      /**< most recent element (findings with no better place) */
    at_session *session;
    at_analyzer *an;
    struct pl_state *st;
    uint64_t fed[2];         /**< bytes fed per direction */
    uint64_t cur_off[2];     /**< stream offset of that packet's first byte */
    uint64_t last_ts;
    size_t n_wraps[2];
    pl_reclog *log[2];       /**< recent records: stream offset -> packet */
    pl_range *secret_runs[2];  /**< per direction: the bytes of the private-key runs
                                    found so far, merged, sorted, disjoint */
    size_t n_secret_runs[2];
    /* Per element. */
    uint32_t *by_dir[2];     /**< element indexes per direction, sorted by offset */
    size_t n_by_dir[2], cap_by_dir[2];
    size_t hint_by_dir[2];   /**< where the last overlap search ended */
    /* Seldom. */
    uint32_t fin_first, n_fin; /**< elements reported by the end-of-file flush (shown in last_frame) */
    uint32_t *wraps[2];      /**< per direction: first packet whose stream offset
                                  reaches each further multiple of 2^32 (n_wraps of them) */
    size_t cap_wraps[2];
    size_t cap_secret_runs[2];
    at_secret fresh[AT_SECRET_RUNS_MAX]; /**< pl_packet.fresh of the packet just fed */
} pl_chan;

/** Settings the first pass runs with (from the preferences). */
typedef struct pl_config {
    const at_profile *profile;  /**< NULL: guess */
    const uint8_t *client_cert_der; /**< DER, or NULL; pl_state_new keeps a copy, so
                                         the caller may free its own at any time */
    size_t client_cert_len;
    uint32_t pause_warn_ms;     /**< 0: default */
} pl_config;

typedef struct pl_state {
    /* What every record reads or writes comes first (one cache line). */
    struct pl_chan *last_chan; /**< the channel last looked up, NULL: none yet */
    pl_pktlog *pkts;          /**< per packet: its stream offset (low 32 bits) */
    uint32_t max_frame;       /**< highest packet number recorded (0: none) */
    bool finished;            /**< the end-of-file flush ran */
    bool oom;                 /**< an allocation failed: some elements are missing */
    pl_elem *elems;
    size_t n_elems, cap_elems;
    size_t n_ordered;         /**< elems[0, n_ordered) are in packet order (the rest:
                                   the end-of-file flush) */
    size_t hint_pkt;          /**< where the last per-packet search ended */
    pl_config cfg;            /**< client_cert_der: the state's own copy */
    pl_span *spans;
    size_t n_spans, cap_spans;
    pl_end *ends;
    size_t n_ends, cap_ends;
    pl_frame *frames;
    size_t n_frames, cap_frames;
    pl_finding *findings;
    size_t n_findings, cap_findings;
    uint32_t *finding_order;  /**< findings[] indexes sorted by element */
    size_t cap_finding_order;
    pl_secret *secrets;
    size_t n_secrets, cap_secrets;
    pl_chan **chans;
    size_t n_chans, cap_chans;
    uint8_t **arena;          /**< blocks of copied element bytes */
    size_t n_blocks, cap_blocks, block_used;
} pl_state;

/* Most channels a file may have before further ones are ignored (each
 * costs a session of tens of KiB). */
#define PL_MAX_CHANNELS 256u

pl_state *pl_state_new(const pl_config *cfg);
void pl_state_free(pl_state *st);

/** What the first pass kept about one packet. */
typedef struct pl_packet {
    pl_chan *chan;
    uint64_t off;          /**< stream offset of its first payload byte */
    uint32_t elem_first;   /**< elements the core reported while it was fed ... */
    uint32_t n_elem;       /**< ... (contiguous in elems[]) */
    /** From pl_state_record only (a packet shown as it is fed: tshark in a
     *  single pass): the key runs in its payload known then
     *  (at_session_secrets), those of elements it does not complete
     *  included; stream offsets. pl_state_packet sets none: by then every
     *  run is an element's. */
    const at_secret *fresh;
    unsigned n_fresh;
} pl_packet;

/**
 * First pass: one record of packet @p frame. @p hdr is the parsed
 * pseudo-header; @p payload/@p len the record's payload; @p ts_ns its time.
 * Returns what pl_state_packet would return for it then (so that the first
 * pass needs no search), or false if the record was not kept.
 */
bool pl_state_record(pl_state *st, uint32_t frame, at_dir dir,
                     const at_uart_header *hdr, uint64_t ts_ns,
                     const uint8_t *payload, size_t len, pl_packet *pkt);

/** pl_state_seen for a packet not past the highest one seen. */
bool pl_state_seen_before(const pl_state *st, uint32_t frame);

/** Whether the first pass has seen packet @p frame. Inline: the first
 *  pass asks for every packet, and in order it is past every packet seen
 *  (no table touched). */
static inline bool pl_state_seen(const pl_state *st, uint32_t frame)
{
    return frame <= st->max_frame && pl_state_seen_before(st, frame);
}

/** End of the first pass: flushes the sessions and analyzers. */
void pl_state_finish(pl_state *st);

/**
 * The packet @p frame of channel @p channel, direction @p dir; false if
 * the first pass did not see it.
 */
bool pl_state_packet(pl_state *st, uint32_t frame, uint16_t channel, at_dir dir,
                     pl_packet *pkt);

/** Packet holding the element's first byte. */
uint32_t pl_elem_first_frame(const pl_state *st, const pl_elem *e);
/** The copied bytes of an element, or NULL. */
const uint8_t *pl_elem_copy(const pl_state *st, const pl_elem *e);
/** What the analyzer said about a FRAME element, or NULL. */
const pl_frame *pl_elem_frame(const pl_state *st, const pl_elem *e);
/** What an END element's exchange said, or NULL. */
const pl_end *pl_elem_end(const pl_state *st, const pl_elem *e);
/** pl_elem_secrets of an element with PL_EF_NOTED (a search). */
size_t pl_elem_secrets_noted(const pl_state *st, const pl_elem *e, const pl_secret **first);
/** pl_elem_findings of an element with PL_EF_NOTED (a search). */
size_t pl_elem_findings_noted(const pl_state *st, const pl_elem *e, const uint32_t **first);

/* The two below are inline: every element rendered asks, and few have
 * any (PL_EF_NOTED says which). */

/** The private-key runs reported with an element: [*first, *first + n). */
static inline size_t pl_elem_secrets(const pl_state *st, const pl_elem *e,
                                     const pl_secret **first)
{
    if (e->flags & PL_EF_NOTED)
        return pl_elem_secrets_noted(st, e, first);
    *first = st->secrets;
    return 0;
}
/** Findings pointing into an element: indexes into findings[], in order. */
static inline size_t pl_elem_findings(const pl_state *st, const pl_elem *e,
                                      const uint32_t **first)
{
    if (e->flags & PL_EF_NOTED)
        return pl_elem_findings_noted(st, e, first);
    *first = st->finding_order;
    return 0;
}

/**
 * Elements of channel @p ch, direction @p dir, overlapping
 * [off, off + len): their positions in the channel's by_dir list are
 * [*first, *end).
 */
void pl_state_overlap(pl_chan *ch, at_dir dir, uint64_t off, uint64_t len, size_t *first,
                      size_t *end);

/** pl_state_has_secret once a run ends after @p off (a search). */
bool pl_state_secret_runs_reach(const pl_chan *ch, at_dir dir, uint64_t off, uint64_t len);

/** Whether private-key bytes found so far lie in [off, off + len) of the
 *  channel's direction @p dir; true whenever an allocation failed (the
 *  list may then miss a run). Inline: every record asks, and for most the
 *  last run ends before them (a few comparisons, no call). */
static inline bool pl_state_has_secret(const pl_chan *ch, at_dir dir, uint64_t off, uint64_t len)
{
    size_t n = ch->n_secret_runs[dir];
    if (n == 0 || len == 0 || ch->secret_runs[dir][n - 1].end <= off)
        return ch->st->oom;
    return pl_state_secret_runs_reach(ch, dir, off, len);
}

#endif
