/*
 * attrace/analysis.h - the session model and the diagnosis.
 *
 * An at_analyzer is fed every event of one channel's at_session, in order.
 * It keeps a model of what the trace shows (the module's IMEI, its
 * certificate store, the client certificate, flow control, secOpt per
 * service profile, TLS outcomes), guesses the module profile unless told,
 * describes each frame (certificate summary, key type, signature verdict),
 * and explains failures as findings: a stable rule id, a severity, the
 * byte offset, what is wrong and what to do.
 *
 * The module's answers are evidence: a frame a legacy module refuses
 * (unsigned, index above 10, SHA-256, a certificate over 2048 bytes)
 * answered SECURE CMD END OK makes the guess "newer" from that exchange
 * on, and its findings and the session's later frame checks follow (a
 * profile given in the config wins). A finding that contradicts the
 * module's acceptance of a frame is at most info.
 */
#ifndef ATTRACE_ANALYSIS_H
#define ATTRACE_ANALYSIS_H

#include "attrace/cert.h"
#include "attrace/crypto_types.h"
#include "attrace/session.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum at_severity {
    AT_SEV_INFO = 0,
    AT_SEV_WARNING = 1,
    AT_SEV_ERROR = 2
} at_severity;

/** "info", "warning", "error". */
const char *at_severity_name(at_severity s);

/**
 * One diagnosis rule. Every finding's rule id is one of the table's (see
 * at_rules); a finding may have another severity than the default (the
 * summary says when), and its fix is the template with the placeholders
 * (in <angle brackets>) filled in.
 */
typedef struct at_rule {
    const char *id;          /**< stable id, e.g. "totallen_excludes_self" */
    at_severity severity;    /**< default severity */
    const char *summary;     /**< one line: what the rule detects */
    const char *fix;         /**< fix template; <...> stands for what the finding fills in */
} at_rule;

/** All rules, in a stable order; their number in @p n (may be NULL). */
const at_rule *at_rules(size_t *n);

/** The rule with id @p id, or NULL if unknown. */
const at_rule *at_rule_find(const char *id);

#define AT_FINDING_TEXT_MAX 400u

/** One finding. */
typedef struct at_finding {
    const char *rule;     /**< stable id from the rule table (at_rule_find finds it) */
    at_severity severity;
    uint32_t exchange;    /**< the exchange it is about (0 = none) */
    at_dir dir;           /**< stream of @c off */
    uint64_t off;         /**< the byte it points at */
    uint64_t ts;          /**< when that happened */
    char what[AT_FINDING_TEXT_MAX]; /**< one sentence: what is wrong */
    char fix[AT_FINDING_TEXT_MAX];  /**< one sentence: what to do */
} at_finding;

typedef void (*at_finding_cb)(void *ctx, const at_finding *f);

/** What the analyzer learned about one frame (see at_analyzer_frame). */
typedef struct at_frame_details {
    bool has_cert;
    bool cert_ok;               /**< the cert unit parsed as a DER certificate */
    at_cert_summary cert;       /**< valid if cert_ok */
    char cert_error[160];       /**< why the cert unit did not parse (when !cert_ok) */
    bool cert_is_pem;           /**< the cert unit holds PEM text, not DER */
    bool has_key;
    bool key_ok;                /**< the key unit parsed (PKCS#8 / PKCS#1 DER) */
    at_key_info key;            /**< valid if key_ok */
    bool key_matches_cert;      /**< index-0 write: key and certificate belong together */
    bool sig_checked;           /**< a verifying key was known */
    at_sig_verdict sig;         /**< valid if the frame has a signature */
    const char *verify_source;  /**< where the verifying key came from, e.g. "the certificate in this frame" */
} at_frame_details;

/** Store slot as the trace shows it. */
typedef enum at_slot_state {
    AT_SLOT_UNKNOWN = 0,  /**< nothing in the trace says */
    AT_SLOT_EMPTY,        /**< deleted, or listed empty */
    AT_SLOT_WRITTEN,      /**< written by a WRITE answered END OK */
    AT_SLOT_LISTED        /**< seen in a ^SBNR listing (not written in the trace) */
} at_slot_state;

#define AT_MODEL_SLOTS 31u
#define AT_MODEL_SERVICES 12u

typedef struct at_store_slot {
    at_slot_state state;
    uint32_t size;
    char thumbprint[41];
    char subject[AT_CERT_DN_MAX];
    char issuer[AT_CERT_DN_MAX];
    uint32_t exchange;    /**< the exchange that wrote, deleted or listed it */
    bool deleted;         /**< AT_SLOT_EMPTY because a DELETE in the trace emptied it */
    bool corrupted;       /**< ^SBNR said "certificate is corrupted" */
    bool has_expiry;      /**< expiry date known (written certificate, or ^SBNR expiry date) */
    int expiry_year, expiry_month, expiry_day;
    bool has_valid_from;  /**< notBefore known (written certificate) */
    int valid_from_year, valid_from_month, valid_from_day;
} at_store_slot;

typedef struct at_service {
    bool has_secopt;
    char secopt[64];      /**< as given to AT^SISS: "", "-1", "1", "1,5,9" */
    bool has_server_cert; /**< a +CIEV: is_cert for this profile was seen */
    char server_issuer[AT_CERT_DN_MAX];
    char server_subject[AT_CERT_DN_MAX];
    char server_thumbprint[41];
} at_service;

typedef struct at_model {
    bool has_imei;
    char imei[18];
    const at_profile *profile;   /**< given or guessed */
    bool profile_given;
    at_store_slot store[AT_MODEL_SLOTS];
    bool has_client_cert;        /**< the index-0 certificate is known (trace or --client-cert) */
    uint32_t client_cert_exchange; /**< the WRITE that stored it (0: --client-cert or none) */
    bool xonxoff;                /**< AT\Q1 in effect */
    at_service services[AT_MODEL_SERVICES];
} at_model;

typedef struct at_analyzer_config {
    const at_profile *profile;   /**< NULL: guess from the trace */
    /**
     * The client certificate (index 0) the trace does not show, e.g.
     * --client-cert: DER bytes (at_cert_load_der reads them from a PEM or
     * DER file), or NULL. Read only by at_analyzer_new, which keeps its own
     * copy; it fails if the bytes are not one certificate (at_cert_summarize
     * says why).
     */
    const uint8_t *client_cert_der;
    size_t client_cert_len;      /**< bytes at client_cert_der */
    uint32_t pause_warn_ms;      /**< a pause inside a frame at least this long is a finding (default 1000; 0 = default) */
    at_session *session;         /**< the session feeding it (borrowed), or NULL: its frame
                                      checks follow the profile guess (at_session_set_profile) */
} at_analyzer_config;

typedef struct at_analyzer at_analyzer;

/** Defaults: guess the profile, no client certificate, 1000 ms, no session. */
at_analyzer_config at_analyzer_default_config(void);

/**
 * A new analyzer (free it with at_analyzer_free); findings go to @p cb
 * (may be NULL) with @p ctx. @p cfg may be NULL (the defaults). NULL when
 * memory runs out or the config's client certificate does not parse.
 */
at_analyzer *at_analyzer_new(const at_analyzer_config *cfg, at_finding_cb cb,
                             void *ctx);

/**
 * One channel's session and the analyzer that follows it, set up alike
 * wherever a channel is analyzed (attrace decode, diff and replay, the
 * driver, the Wireshark plugin): @p session is initialized for @p channel with the
 * profile of @p cfg (may be NULL), its events going to @p on_event with
 * @p event_ctx, which feeds them to the analyzer returned; the analyzer
 * is made as at_analyzer_new, with cfg->session set to @p session, so that
 * the session's frame checks take the analyzer's profile guess. NULL as
 * at_analyzer_new; @p session is initialized either way.
 */
at_analyzer *at_analyzer_new_for_session(at_session *session, uint16_t channel,
                                         const at_analyzer_config *cfg,
                                         at_event_cb on_event, void *event_ctx,
                                         at_finding_cb on_finding, void *finding_ctx);

/**
 * Feeds one session event (call it from the at_session callback for every
 * event). Findings it completes are delivered through the callback before
 * this returns: an exchange's findings with its AT_EV_END event, those of
 * a ^SIS URC or a ^SBNR line with that event.
 */
void at_analyzer_event(at_analyzer *an, const at_event *ev);

/**
 * Details of the frame of the last AT_EV_FRAME event fed (valid until the
 * next call of at_analyzer_event), or NULL if the last event was no frame.
 */
const at_frame_details *at_analyzer_frame(const at_analyzer *an);

/** The model so far. */
const at_model *at_analyzer_model(const at_analyzer *an);

/** End of the trace: findings that wait for more evidence are delivered. */
void at_analyzer_finish(at_analyzer *an);

/** Frees @p an and everything it holds; NULL is a no-op. */
void at_analyzer_free(at_analyzer *an);

#ifdef __cplusplus
}
#endif
#endif
