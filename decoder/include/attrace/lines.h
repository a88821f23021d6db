/*
 * attrace/lines.h - parsers for single text lines of an AT session:
 * command lines, final result codes, ^SBNR is_cert listings, +CIEV: is_cert,
 * ^SIS, +CME/+CMS ERROR, and the length-announcing ^SISR/^SISW lines.
 *
 * Every parser takes the line without its terminator (@p line, @p len, not
 * NUL-terminated) and the stream offset of its first byte (@p base_off).
 * Results point into @p line; each field carries its stream span. Parsers
 * never read outside [line, line+len), never allocate, and answer hostile
 * input with AT_ERR_SYNTAX and *err_off set to the offending byte's stream
 * offset (when err_off is not NULL).
 */
#ifndef ATTRACE_LINES_H
#define ATTRACE_LINES_H

#include "attrace/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Command lines                                                      */
/* ------------------------------------------------------------------ */

#define AT_CMD_MAX_CHAIN 8u   /**< commands in one line: AT+A;+B;... */
#define AT_CMD_MAX_PARAMS 16u /**< parameters of one command */

typedef enum at_cmd_type {
    AT_CMDT_EXEC = 0, /**< AT+X, ATI, ATE0 */
    AT_CMDT_SET,      /**< AT+X=... */
    AT_CMDT_READ,     /**< AT+X? */
    AT_CMDT_TEST,     /**< AT+X=? */
    AT_CMDT_REPEAT    /**< A/ */
} at_cmd_type;

typedef struct at_command {
    at_str name;      /**< "+CGSN", "^SBNW", "I", "E", "\\Q", "&F", "V" */
    at_cmd_type type;
    at_str params[AT_CMD_MAX_PARAMS]; /**< quotes stripped; span covers the quotes */
    bool param_quoted[AT_CMD_MAX_PARAMS];
    unsigned n_params;
    bool params_dropped; /**< more than AT_CMD_MAX_PARAMS parameters */
    at_str basic_value;  /**< digits after a basic command: "0" of ATE0, "1" of AT\Q1 */
    at_span span;        /**< this command within the line */
} at_command;

typedef struct at_cmdline {
    at_command cmds[AT_CMD_MAX_CHAIN];
    unsigned n_cmds;
    bool cmds_dropped;   /**< more than AT_CMD_MAX_CHAIN commands chained */
} at_cmdline;

/**
 * Parses a TE command line ("AT..." / "at..." / "A/"). Basic commands
 * chained without separator (ATE0V1) become separate entries, extended
 * commands are separated by ';'. Returns AT_ERR_SYNTAX if the line is not
 * a command line (no AT prefix) or a quoted string is unterminated.
 * On success only the counted entries are written: cmds[] beyond n_cmds
 * and params[]/param_quoted[] beyond a command's n_params keep whatever
 * they held (read only what the counts cover). On AT_ERR_SYNTAX *out is
 * all zero.
 */
at_status at_parse_cmdline(const char *line, size_t len, uint64_t base_off,
                           at_cmdline *out, uint64_t *err_off);

/**
 * Where the command starts in a TE line: the offset of its first "AT" or
 * "A/" (any case), or @p len if it holds none. The module ignores what
 * precedes the prefix (V.250 5.2.1), such as the rest of a frame that ran
 * into the service timeout, and runs the command after it.
 */
size_t at_command_start(const uint8_t *line, size_t len);

/** Stable name of a command type: "exec", "set", "read", "test", "repeat". */
const char *at_cmd_type_name(at_cmd_type t);

/** True if @p name (case-insensitive) equals @p want, e.g. "^sbnw" vs "^SBNW". */
bool at_name_is(const at_str *name, const char *want);

/**
 * at_name_is for a @p want of known length @p want_len, not NUL-terminated
 * (a literal: `at_name_is_n(name, "^SBNW", sizeof "^SBNW" - 1)`): the
 * lengths settle most names before any character is compared.
 */
bool at_name_is_n(const at_str *name, const char *want, size_t want_len);

/**
 * at_name_is_n against a string literal @p lit, with the length and the
 * last character compared in line (case folded as far as a match needs:
 * only bit 0x20 may differ): the call is left for the names that may
 * match. @p name must not be NULL; it is read more than once.
 */
#define AT_NAME_IS_LIT(name, lit)                                                    \
    ((name)->len == sizeof(lit) - 1 && (name)->ptr &&                                \
     (((name)->ptr[sizeof(lit) - 2] ^ (lit)[sizeof(lit) - 2]) & ~0x20) == 0 &&       \
     at_name_is_n((name), (lit), sizeof(lit) - 1))

/* ------------------------------------------------------------------ */
/* Final and intermediate result codes                                */
/* ------------------------------------------------------------------ */

typedef enum at_result_kind {
    AT_RES_NONE = 0,    /**< not a result code */
    AT_RES_OK,
    AT_RES_CONNECT,     /**< intermediate for data/transparent/secure modes */
    AT_RES_RING,        /**< really a URC */
    AT_RES_NO_CARRIER,
    AT_RES_ERROR,
    AT_RES_NO_DIALTONE,
    AT_RES_BUSY,
    AT_RES_NO_ANSWER,
    AT_RES_CME_ERROR,
    AT_RES_CMS_ERROR
} at_result_kind;

typedef struct at_result {
    at_result_kind kind;
    bool numeric;     /**< the ATV0 form ("0", "4") */
    bool has_code;    /**< +CME/+CMS ERROR with a number */
    unsigned code;    /**< +CME/+CMS error number */
    at_str text;      /**< CONNECT's text, or +CME/+CMS verbose text */
} at_result;

/**
 * Classifies a line as a result code. @p numeric_mode accepts the ATV0
 * digit forms. Returns AT_OK and fills @p out (kind AT_RES_NONE when the
 * line is not a result code).
 */
at_status at_parse_result(const char *line, size_t len, uint64_t base_off,
                          bool numeric_mode, at_result *out);

/** True for kinds that end a command (OK, ERROR, NO CARRIER, ...; not CONNECT, RING). */
bool at_result_is_final(at_result_kind kind);

/** "OK", "CONNECT", "+CME ERROR", ... */
const char *at_result_name(at_result_kind kind);

/** English text of a +CME ERROR number (3GPP TS 27.007 and Cinterion), or NULL. */
const char *at_cme_error_text(unsigned code);

/* ------------------------------------------------------------------ */
/* Secure-command result strings (PROTOCOL.md section 2)              */
/* ------------------------------------------------------------------ */

typedef enum at_secure_result {
    AT_SEC_NONE = 0,         /**< not a SECURE CMD line */
    AT_SEC_READY,            /**< SECURE CMD READY: SEND COMMAND ... */
    AT_SEC_END_OK,
    AT_SEC_ERROR,
    AT_SEC_LENGTH_ERROR,
    AT_SEC_TOO_MANY_DATA,    /**< both spellings TO/TOO */
    AT_SEC_CERT_CORRUPTED,   /**< PUBLIC CERTIFICATE IS CORRUPTED */
    AT_SEC_KEY_REMOVED,      /**< PRIVATE KEY WAS REMOVED */
    AT_SEC_SERVICE_TIMEOUT,
    AT_SEC_OTHER             /**< SECURE CMD followed by unknown text */
} at_secure_result;

/** Classifies a line as a SECURE CMD result (AT_SEC_NONE if it is none). */
at_secure_result at_parse_secure_result(const char *line, size_t len);

/** Stable name: "ready", "end_ok", "error", "too_many_data", ... */
const char *at_secure_result_name(at_secure_result r);

/* ------------------------------------------------------------------ */
/* ^SBNR is_cert listing line (PROTOCOL.md section 6)                 */
/* ------------------------------------------------------------------ */

typedef enum at_sbnr_kind {
    AT_SBNR_ENTRY = 0,   /**< a certificate */
    AT_SBNR_EMPTY,       /**< size "0" and all fields empty */
    AT_SBNR_CORRUPTED    /**< "certificate is corrupted" */
} at_sbnr_kind;

typedef struct at_sbnr {
    at_sbnr_kind kind;
    unsigned index;
    at_span index_span;
    uint32_t size;       /**< DER length from size: "..." */
    at_str size_text, issuer, serial, subject, signature, thumb_alg, thumbprint;
    bool has_expiry;     /**< newer modules */
    at_str expiry;       /**< "2035,10,29" */
    unsigned expiry_year, expiry_month, expiry_day;
} at_sbnr;

/** Stable name of an entry kind: "certificate", "empty", "corrupted". */
const char *at_sbnr_kind_name(at_sbnr_kind k);

/** Parses one "^SBNR: <index>, ..." line. */
at_status at_parse_sbnr(const char *line, size_t len, uint64_t base_off,
                        at_sbnr *out, uint64_t *err_off);

/* ------------------------------------------------------------------ */
/* +CIEV: is_cert,<srvProfileId>,<issuer>,<serial>,<subject>,...      */
/* ------------------------------------------------------------------ */

typedef struct at_ciev_is_cert {
    bool name_quoted;
    unsigned srv_profile;
    at_str issuer, serial, subject, sig_alg, thumb_alg, thumbprint;
} at_ciev_is_cert;

/**
 * Parses "+CIEV: is_cert,...". DNs may contain commas; the split is
 * structural (from the right: thumbprint, thumbprint algorithm, signature
 * algorithm are comma-free; the serial is hex between the two DNs).
 */
at_status at_parse_ciev_is_cert(const char *line, size_t len, uint64_t base_off,
                                at_ciev_is_cert *out, uint64_t *err_off);

/** Generic "+CIEV: <name>,<value...>" split: indicator name and the rest. */
at_status at_parse_ciev(const char *line, size_t len, uint64_t base_off,
                        at_str *name, at_str *rest, uint64_t *err_off);

/* ------------------------------------------------------------------ */
/* ^SIS: <srvProfileId>,<urcCause>[,[<urcInfoId>][,"<urcInfoText>"]]  */
/* ------------------------------------------------------------------ */

typedef struct at_sis {
    unsigned srv_profile;
    unsigned urc_cause;
    bool has_info_id;
    unsigned info_id;
    bool has_info_text;
    at_str info_text;
    at_span srv_profile_span, urc_cause_span, info_id_span;
} at_sis;

/** Parses one "^SIS: ..." URC line. */
at_status at_parse_sis(const char *line, size_t len, uint64_t base_off,
                       at_sis *out, uint64_t *err_off);

/** Meaning of a ^SIS info ID from PROTOCOL.md section 8, or NULL. */
const char *at_sis_info_text(unsigned info_id);

/** True for the TLS info IDs 62..78. */
bool at_sis_info_is_tls(unsigned info_id);

/* ------------------------------------------------------------------ */
/* "+CME ERROR: <n|text>" / "+CMS ERROR: ..." are parsed by            */
/* at_parse_result. ^SISR/^SISW lines announcing payload lengths:     */
/* ------------------------------------------------------------------ */

/** "^SISR: <id>,<n>" / "^SISW: <id>,<n>[,<unack>]": the two numbers. */
typedef struct at_sis_rw {
    unsigned srv_profile;
    unsigned long count;   /**< bytes (response) or URC cause (URC form) */
    bool has_unack;
    unsigned long unack;
    at_span count_span;
    int count_negative;    /**< ^SISR <cnfReadLength> below 0 as written (-1: HTTP cannot
                                tell the size, -2: end of data); count is 0 then. 0 otherwise */
} at_sis_rw;

/** Parses a ^SISR or ^SISW line (prefix checked case-insensitively). */
at_status at_parse_sis_rw(const char *line, size_t len, uint64_t base_off,
                          at_sis_rw *out, uint64_t *err_off);

/** Line prefix "+XXX:" or "^XXX:" as a name ("+CIEV"), or ptr NULL. */
at_str at_line_prefix(const char *line, size_t len, uint64_t base_off);

#ifdef __cplusplus
}
#endif
#endif
