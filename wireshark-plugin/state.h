/*
 * state.h - what the plugin keeps about one capture file.
 *
 * The first pass feeds every record to one at_session + at_analyzer per
 * channel (exactly as `attrace decode` does) and records what they
 * reported in flat tables: one element per session event, the analyzer's
 * verdict per frame, the findings. Later passes render from these tables
 * and never feed the core again. Per packet, only a pl_pkt (16 bytes:
 * where its bytes sit in the stream, which elements completed in it) is
 * kept, with p_add_proto_data.
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

/* Element flags. */
enum {
    PL_EF_NUMERIC = 1u << 0,     /**< a result line parsed in ATV0 form */
    PL_EF_INCOMPLETE = 1u << 1,  /**< the element stopped before its end */
    PL_EF_TRUNCATED = 1u << 2,   /**< a line cut at the line limit */
    PL_EF_FLUSHED = 1u << 3,     /**< a frame ended by the peer's answer */
    PL_EF_LAST_BLOCK = 1u << 4,  /**< last block of a payload run */
    PL_EF_PARSE_ERROR = 1u << 5  /**< a known line prefix whose body did not parse */
};

/** One session event: where its bytes are, and what the core made of it. */
typedef struct pl_elem {
    uint64_t off;          /**< stream offset of its first byte (its dir) */
    uint32_t len;          /**< its bytes in the stream */
    uint32_t frame_first;  /**< packet holding its first byte */
    uint32_t frame_done;   /**< packet in which the core reported it */
    uint32_t exchange;     /**< 0: none */
    uint32_t extra;        /**< FRAME: index into frames[]; END: into ends[]; else PL_NONE */
    uint32_t finding;      /**< first finding pointing into it, chained, or PL_NONE */
    uint32_t copy;         /**< its bytes in the arena (elements over several records), or PL_NONE;
                                the copy is exact: renderers mask the secret runs */
    uint16_t chan;         /**< index into channels[] */
    uint8_t kind;          /**< at_event_kind */
    uint8_t dir;           /**< at_dir */
    uint8_t line_kind;     /**< at_line_kind */
    uint8_t flags;         /**< PL_EF_* */
    uint8_t reason;        /**< at_tok_reason */
    uint8_t secure;        /**< at_secure_result of a SECURE CMD line */
    uint8_t n_secret;      /**< private-key runs among its bytes ... */
    uint32_t secret;       /**< ... from this index in secrets[] */
} pl_elem;

/** A private-key run the core found (attrace/secret.h), stream offsets. */
typedef struct pl_secret {
    uint64_t off;
    uint32_t len;
    uint8_t kind;          /**< at_secret_kind */
} pl_secret;

/** What an exchange's END said. */
typedef struct pl_end {
    uint64_t duration_ns;
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
    bool has_cert, cert_ok, has_key, key_ok, key_matches_cert;
    bool sig_checked, sig_base64_ok, sig_matches, sig_recovered;
    uint8_t sig_digest_len;
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
    uint8_t severity;      /**< at_severity */
    uint8_t dir;           /**< at_dir of off */
    uint32_t elem;         /**< the element holding that byte */
    uint32_t next;         /**< next finding of the same element, or PL_NONE */
} pl_finding;

/** Per packet (p_add_proto_data): 16 bytes. */
typedef struct pl_pkt {
    uint64_t off;          /**< stream offset of its first payload byte */
    uint32_t elem_first;   /**< elements reported while it was fed ... */
    uint16_t n_elem;       /**< ... and how many (contiguous in elems[]) */
    uint16_t chan;         /**< index into channels[], or UINT16_MAX */
} pl_pkt;

typedef struct pl_reclog pl_reclog;

typedef struct pl_chan {
    uint16_t channel;
    uint16_t index;          /**< its position in channels[] */
    at_session *session;
    at_analyzer *an;
    uint64_t fed[2];         /**< bytes fed per direction */
    uint64_t last_ts;
    uint32_t last_frame;     /**< last packet of this channel */
    uint32_t fin_first, n_fin; /**< elements reported by the end-of-file flush (shown in last_frame) */
    uint32_t last_elem;      /**< most recent element (findings with no better place) */
    uint32_t cur_frame;      /**< packet being fed */
    uint64_t cur_off[2];     /**< stream offset of that packet's first byte */
    uint32_t cur_len;        /**< its payload length */
    uint8_t cur_dir;
    uint32_t *by_dir[2];     /**< element indexes per direction, sorted by offset */
    size_t n_by_dir[2], cap_by_dir[2];
    pl_reclog *log[2];       /**< recent records: stream offset -> packet */
    struct pl_state *st;
} pl_chan;

/** Settings the first pass runs with (from the preferences). */
typedef struct pl_config {
    const at_profile *profile;  /**< NULL: guess */
    const uint8_t *client_cert_der; /**< DER (borrowed), or NULL */
    size_t client_cert_len;
    uint32_t pause_warn_ms;     /**< 0: default */
} pl_config;

typedef struct pl_state {
    pl_config cfg;
    pl_elem *elems;
    size_t n_elems, cap_elems;
    pl_end *ends;
    size_t n_ends, cap_ends;
    pl_frame *frames;
    size_t n_frames, cap_frames;
    pl_finding *findings;
    size_t n_findings, cap_findings;
    pl_secret *secrets;
    size_t n_secrets, cap_secrets;
    pl_chan **chans;
    size_t n_chans, cap_chans;
    uint8_t **arena;          /**< blocks of copied element bytes */
    size_t n_blocks, cap_blocks, block_used;
    pl_pkt **pkt_chunks;      /**< per-packet records, PL_PKT_CHUNK at a time */
    size_t n_pkt_chunks, cap_pkt_chunks, pkt_used;
    bool finished;            /**< the end-of-file flush ran */
    bool oom;                 /**< an allocation failed: some elements are missing */
} pl_state;

/* Most channels a file may have before further ones are ignored (each
 * costs a session of tens of KiB). */
#define PL_MAX_CHANNELS 256u

pl_state *pl_state_new(const pl_config *cfg);
void pl_state_free(pl_state *st);

/**
 * First pass: one record. Fills @p pkt. @p hdr is the parsed pseudo-header;
 * @p payload/@p len the record's payload; @p ts_ns its time.
 */
void pl_state_record(pl_state *st, uint32_t frame, at_dir dir,
                     const at_uart_header *hdr, uint64_t ts_ns,
                     const uint8_t *payload, size_t len, pl_pkt *pkt);

/** A new per-packet record, owned by @p st (NULL when out of memory). */
pl_pkt *pl_state_new_pkt(pl_state *st);

/** End of the first pass: flushes the sessions and analyzers. */
void pl_state_finish(pl_state *st);

/** The copied bytes of an element, or NULL. */
const uint8_t *pl_elem_copy(const pl_state *st, const pl_elem *e);

/**
 * Elements of channel @p chan, direction @p dir, overlapping
 * [off, off + len): their positions in the channel's by_dir list are
 * [*first, *end).
 */
void pl_state_overlap(const pl_state *st, uint16_t chan, at_dir dir,
                      uint64_t off, uint64_t len, size_t *first, size_t *end);

#endif
