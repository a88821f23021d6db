/*
 * Internal state of the analyzer, shared by its modules:
 *   model.c    - lifecycle, event dispatch, the session model
 *   details.c  - what a frame holds (certificate, key, signature verdict)
 *   diagnose.c - findings plumbing and the rules of a secure exchange
 *   tls.c      - the ^SIS rule (server not trusted)
 *   listing.c  - ^SBNR lines: the listing rule and the store they show
 *   rules.c    - the table of rules (ids, severities, summaries, fixes)
 *
 * Memory is bounded per channel: one copy of the running exchange's host
 * frame (AT_STREAM_BIN_MAX), per-slot summaries, the one client
 * certificate, and fixed-size scratch.
 */
#ifndef ATTRACE_ANALYSIS_INTERNAL_H
#define ATTRACE_ANALYSIS_INTERNAL_H

#include "attrace/analysis.h"
#include "attrace/crypto.h"

#include <stdarg.h>

/* What the analyzer keeps of the running exchange. */
typedef struct an_exchange {
    bool open;                 /* while false, every field is zero: nothing writes a closed one */
    uint32_t id;
    bool secure;               /* AT^SBNW=<type>,<n>: a secure-command transfer */

    /* Copied from the session's exchange at every event of it. */
    at_secure_result secure_result;
    bool has_final;
    at_result_kind final;
    bool final_has_code;
    unsigned final_code;
    at_end_reason end_reason;
    bool ended;                /* its END event came */
    uint64_t ts_ready;         /* session's: first byte of READY */

    bool ready_seen;
    uint64_t ready_ts_end;     /* last byte of SECURE CMD READY */
    bool te_after_ready;       /* the host sent something after READY */

    bool has_result_line;      /* the SECURE CMD result line */
    char result_text[96];
    uint64_t result_off, result_ts;
    bool has_final_line;
    char final_text[96];
    uint64_t final_off, final_ts;

    /* The host's frame (the first one; a secure exchange has one). From
     * det up to frame_cert only an_frame_event writes, and it sets
     * has_frame: exchange_clear relies on that. */
    unsigned te_frames;
    bool has_frame;
    size_t frame_bytes;        /* bytes copied into the analyzer's frame buffer */
    uint32_t frame_len;        /* the frame proper (TotalLen, or fewer if cut) */
    uint32_t tok_flags;
    at_tok_reason tok_reason;
    uint64_t frame_off;        /* TE stream offset of its first byte */
    uint64_t frame_ts_first, frame_ts_last, frame_max_gap, frame_max_gap_off;
    at_frame_details det;      /* computed at the FRAME event */
    at_secret frame_secrets[AT_SECRET_RUNS_MAX]; /* its private-key runs: never quoted */
    unsigned n_frame_secrets;
    char verify_source[96];
    char verify_subject[AT_CERT_DN_MAX];
    char verify_thumb[41];
    X509 *frame_cert;          /* the certificate of this frame (owned), if DER */

    /* Text the host sent instead of a binary frame. */
    bool hex_text;
    uint64_t hex_off, hex_ts;
    size_t hex_chars;
    unsigned hex_lines;
    char hex_sample[24];
    bool pem_text;
    uint64_t pem_off, pem_ts;

    /* Findings delivered for it. */
    unsigned n_findings;
    bool error_found;
} an_exchange;

struct at_analyzer {
    at_analyzer_config cfg;
    at_finding_cb cb;
    void *ctx;
    at_model model;

    char imei_cmd[8];          /* "+CGSN" / "+GSN": what the IMEI answered */

    /* A SECURE CMD READY outside any exchange (no host command in the
     * trace), and how many host events the trace had by then. */
    uint64_t te_events;
    bool orphan_ready;
    uint64_t orphan_te_events;
    uint32_t xonxoff_exchange; /* the AT\Q1 that turned XON/XOFF on */

    /* The client certificate: from the trace (index-0 WRITE answered END
     * OK) or --client-cert. */
    X509 *client_cert;         /* owned when from the trace, else config_cert */
    bool client_from_trace;
    char client_subject[AT_CERT_DN_MAX];
    char client_thumb[41];
    X509 *config_cert;         /* the config's client_cert_der, parsed (owned) */
    char config_subject[AT_CERT_DN_MAX];
    char config_thumb[41];

    /* The last event's frame. */
    bool cur_valid;
    at_frame_details cur;
    char cur_source[96];

    an_exchange x;
    uint8_t *frame_buf;        /* AT_STREAM_BIN_MAX bytes */
    at_frame scratch;
    EVP_MD *sha1;              /* fetched at the first thumbprint (owned) */
};

/* ---- diagnose.c ---- */

/* Starts a finding (texts empty); @p rule must be an id of the rule table
 * (f->rule then points into the table). */
void an_finding_init(at_finding *f, const char *rule, at_severity sev,
                     uint32_t exchange, at_dir dir, uint64_t off, uint64_t ts);
void an_what(at_finding *f, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void an_fix(at_finding *f, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Sets the fix to the rule's template (for rules whose fix has no
 * placeholder). */
void an_fix_template(at_finding *f);
/* Delivers @p f (and counts it for the running exchange). */
void an_deliver(at_analyzer *an, const at_finding *f);

/* The rules of a secure exchange that just ended, then the model update. */
void an_exchange_end(at_analyzer *an);
/* A SECURE CMD result outside any exchange (a log of the module's side). */
void an_orphan_result(at_analyzer *an, const at_event *ev);

/* ---- details.c ---- */

/* Describes the frame of @p ev into an->cur; for the host's frame of the
 * running exchange also keeps what the exchange rules need. */
void an_frame_event(at_analyzer *an, const at_event *ev);

/* Text unit helpers shared by the rules. */
bool an_starts_pem(const uint8_t *p, size_t n);

/* ---- tls.c ---- */

void an_sis(at_analyzer *an, const at_event *ev);

/* ---- listing.c ---- */

void an_sbnr(at_analyzer *an, const at_event *ev);

/* ---- model.c ---- */

/* Switches the guessed profile to "newer" (unless one was given), and the
 * session's frame checks with it; true if the guess changed. */
bool an_guess_newer(at_analyzer *an);
/* snprintf that returns what it wrote (at most @p cap - 1), so appends can
 * chain without running past the buffer. */
size_t an_fmt(char *out, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Copies at most @p cap - 1 bytes of @p s and a NUL. */
void an_copy(char *dst, size_t cap, const char *s, size_t n);
/* Case-insensitive comparison of hex text (thumbprints). */
bool an_hex_eq(const char *a, size_t alen, const char *b, size_t blen);
/* Civil date (UTC) of a timestamp in ns since the Unix epoch. */
void an_date_of(uint64_t ts_ns, int *y, int *m, int *d);

#endif
