/*
 * attrace/secret.h - where the byte streams hold private keys.
 *
 * Traces of the index-0 WRITE carry the client's private key. Renderers
 * must never print it (unless the user asks with --show-secrets), and not
 * only where the frame decoder put it: a damaged TotalLen, ParamLen or
 * ParamId moves the key's bytes into another unit, trailing bytes, text
 * lines or invalid runs. So the decision is made here, once, by content,
 * on the raw bytes of each direction (line terminators included, so a key
 * the line tokenizer cut at 0x0D/0x0A is still found).
 *
 * Detection is layered, so one damaged byte does not uncover a key:
 *  - outer headers: PKCS#8 PrivateKeyInfo (30 L 02 01 00|01 30 L 06..
 *    04), PKCS#1 RSAPrivateKey (30 L 02 01 00 02 <modulus length >= 64>),
 *    SEC1 ECPrivateKey (30 L 02 01 01 04 <16..66>), EncryptedPrivateKeyInfo
 *    (30 L 30 L 06 <PKCS#5 or PKCS#12 PBE OID>); the run is the SEQUENCE
 *    as its header declares it, even where that reaches into later tokens;
 *  - the PKCS#1 key inside a PKCS#8 one is found on its own when the outer
 *    header is damaged;
 *  - key material whose wrappers are both damaged: three or more
 *    consecutive DER INTEGERs of >= 48 content bytes each (RSA d, p, q, dp,
 *    dq, qinv). A certificate's modulus and exponent (one large, one small)
 *    and ECDSA signatures (exactly two) never qualify;
 *  - PEM "-----BEGIN ... PRIVATE KEY-----" blocks in text, up to their
 *    END line;
 *  - and by structure, not content: the session marks the value of every
 *    key unit of a decoded frame (at_secret_mark).
 *
 * A run ends early where a command line starts inside it: after a CR or
 * LF or a token's end (at_secret_token_end), "AT" and printable characters
 * up to the next CR or LF (a host that
 * cut its frame short goes on with its next command; inside key bytes that
 * pattern has a chance of about 1e-9 a byte). Should the line turn out not
 * to be text, the run goes on from the line's start.
 *
 * The scanner is incremental and chunk-agnostic. Each run remembers the
 * stream offset of the byte that proved it (its "proof"); a question about
 * bytes [off, off + len) only sees runs proven by a byte before off + len,
 * so the answer depends on the bytes up to the end of the asked-for range
 * and never on how they were split into feeds. Bytes of a key that belong
 * to a token ending before the proof (at most the first bytes of its DER
 * header, which hold no key material) cannot be taken back.
 *
 * Pure C11, no allocation, no I/O; the state is a plain struct.
 */
#ifndef ATTRACE_SECRET_H
#define ATTRACE_SECRET_H

#include "attrace/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef AT_SECRET_RUNS_MAX
#define AT_SECRET_RUNS_MAX 32u /**< runs a scanner keeps alive (more are merged: redacts more, never less) */
#endif
#define AT_SECRET_DER_CANDS 8u  /**< DER headers followed at once */
#define AT_SECRET_INT_CANDS 8u  /**< INTEGER chains followed at once */
#define AT_SECRET_MIN_CONTENT 40u /**< smallest SEQUENCE content taken for a key (Ed25519 PKCS#8 is 46) */
#define AT_SECRET_MIN_INT 48u   /**< content bytes of a "large" INTEGER (RSA >= 768-bit primes) */
#define AT_SECRET_MAX_INT 2049u /**< larger INTEGERs are no key material (RSA-16384's d is 2049) */
#define AT_SECRET_PEM_MAX 65536u /**< a PEM key block without END line ends here */

typedef enum at_secret_kind {
    AT_SECRET_PKCS1_RSA = 1,    /**< RSAPrivateKey (PKCS#1) */
    AT_SECRET_PKCS8,            /**< PrivateKeyInfo (PKCS#8) */
    AT_SECRET_SEC1_EC,          /**< ECPrivateKey (SEC1) */
    AT_SECRET_PKCS8_ENCRYPTED,  /**< EncryptedPrivateKeyInfo (PKCS#8) */
    AT_SECRET_KEY_MATERIAL,     /**< private-key numbers whose DER wrapper is damaged */
    AT_SECRET_PEM,              /**< a PEM PRIVATE KEY block in text */
    AT_SECRET_KEY_UNIT          /**< the value of a frame's key unit, whatever its bytes (at_secret_mark) */
} at_secret_kind;

/** A run of secret bytes in one direction's stream. */
typedef struct at_secret {
    at_span span;         /**< the secret bytes, in stream offsets */
    at_secret_kind kind;  /**< what they are */
} at_secret;

/** Stable name of a kind: "pkcs1_rsa", "pkcs8", "sec1_ec",
 *  "pkcs8_encrypted", "key_material", "pem", "key_unit". */
const char *at_secret_kind_name(at_secret_kind k);

/** A DER header being followed (private). */
typedef struct at_secret_der_cand {
    uint64_t start;   /**< offset of the 0x30 */
    uint32_t outer;   /**< declared content length */
    uint32_t acc;     /**< length being read */
    uint8_t state, need, hdr, version, skip, idx;
} at_secret_der_cand;

/** A chain of large INTEGERs being followed (private). */
typedef struct at_secret_int_cand {
    uint64_t start;     /**< first INTEGER of the chain */
    uint64_t int_start; /**< the current INTEGER's tag */
    uint64_t wake;      /**< where the next tag is due */
    uint32_t acc;
    uint8_t state, need, hdr, count;
} at_secret_int_cand;

/** A run with the offset of the byte that proved it (private). */
typedef struct at_secret_run {
    at_secret s;
    uint64_t proof;
} at_secret_run;

/**
 * Scanner state for one direction. The caller provides the storage
 * (at_secret_scanner_init sets it up) and may copy it by assignment.
 */
typedef struct at_secret_scanner {
    /**
     * Private: only the at_secret_* functions read or write these members.
     * Do not use them; they may change in any version.
     */
    struct at_secret_scanner_priv {
        uint64_t off;                 /**< bytes scanned */
        at_secret_run runs[AT_SECRET_RUNS_MAX];
        unsigned n_runs;
        at_secret_der_cand der[AT_SECRET_DER_CANDS];
        unsigned n_der;
        at_secret_int_cand ints[AT_SECRET_INT_CANDS];
        unsigned n_ints;
        uint64_t int_wake;            /**< the next offset an INTEGER chain looks at */
        /* PEM: "-----BEGIN <label>-----" ... "-----END" */
        uint8_t pem_state, pem_idx, pem_dashes, pem_label_len;
        char pem_label[40];
        uint64_t pem_begin;           /**< offset of the BEGIN line's first dash */
        bool pem_open;                /**< a key block is open: look for its END */
        /* A command line ("AT..." after CR/LF, printable up to its CR/LF) ends
         * the runs it falls into: a key cut short is followed by commands. */
        uint64_t runs_end;            /**< no run reaches beyond this */
        uint8_t cmd_state;
        uint8_t last;                 /**< the last byte watched */
        uint64_t cmd_start;
        bool susp;                    /**< a run's rest waits for the line's verdict */
        at_secret_kind susp_kind;
        uint64_t susp_end;
    } priv;
} at_secret_scanner;

/** Initializes @p sc (stream offset 0). */
void at_secret_scanner_init(at_secret_scanner *sc);

/** Bytes scanned so far: the stream offset the next byte scanned will have. */
static inline uint64_t at_secret_scanned(const at_secret_scanner *sc)
{
    return sc->priv.off;
}

/** Scans the next @p n bytes of the stream. */
void at_secret_scan(at_secret_scanner *sc, const uint8_t *p, size_t n);

/**
 * Consumes the leading bytes of p[0..n) that cannot change the scanner's
 * state (as at_secret_scan would) and returns how many: a caller that
 * scans in small steps may look ahead this way at no risk.
 */
size_t at_secret_skip(at_secret_scanner *sc, const uint8_t *p, size_t n);

/**
 * The tokenizer ended a token at stream offset @p end (a frame by its
 * TotalLen or the peer's answer, a block, an invalid run): a command line
 * may start there. Chunk-agnostic as long as it comes at most one byte
 * after the scanner passed @p end (a token is ended by its next byte at
 * the latest).
 */
void at_secret_token_end(at_secret_scanner *sc, uint64_t end);

/**
 * Makes [@p off, @p off + @p len) a run of @p kind, proven by the byte at
 * @p proof, whatever the bytes hold. The session marks the value of a
 * frame's key unit (ParamId 5) this way: there the frame's structure, not
 * the content, says the bytes are the client's key, and a key cut after a
 * few bytes or in a format the content layers do not know is still one.
 * A later at_secret_collect sees the run like any other.
 */
void at_secret_mark(at_secret_scanner *sc, uint64_t off, uint64_t len, at_secret_kind kind,
                    uint64_t proof);

/** Forgets runs that end at or before @p off: nothing before it will be
 *  asked about again. */
void at_secret_forget(at_secret_scanner *sc, uint64_t off);

/**
 * The secret runs overlapping [@p off, @p off + @p len), as far as the
 * bytes before @p off + @p len prove them: clipped to the range, sorted,
 * overlapping and adjacent runs merged (the first one's kind kept). At most
 * @p cap are written to @p out (with more, one run covers them all);
 * returns how many. A cap of AT_SECRET_RUNS_MAX is always enough.
 */
unsigned at_secret_collect(const at_secret_scanner *sc, uint64_t off, uint64_t len,
                           at_secret *out, unsigned cap);

/**
 * Renderers: the piece of [@p off, @p off + @p len) that starts at @p off
 * and is either all secret or all public, given @p n sorted runs. Returns
 * its length (> 0 when @p len > 0) and sets @p *run to the secret run it
 * belongs to, or NULL. Walk a byte run with it and print each piece or its
 * size and kind.
 */
size_t at_secret_piece(const at_secret *runs, unsigned n, uint64_t off, size_t len,
                       const at_secret **run);

/** The first run overlapping [@p off, @p off + @p len), or NULL. */
const at_secret *at_secret_overlap(const at_secret *runs, unsigned n, uint64_t off,
                                   size_t len);

/** Secret bytes inside [@p off, @p off + @p len). */
size_t at_secret_bytes(const at_secret *runs, unsigned n, uint64_t off, size_t len);

#ifdef __cplusplus
}
#endif
#endif
