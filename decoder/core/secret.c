/*
 * Private-key detection on raw byte streams. See attrace/secret.h for the
 * contract and the layers.
 *
 * Every 0x30 starts a DER-header candidate and every 0x02 an INTEGER-chain
 * candidate; each is a tiny state machine that dies at the first byte that
 * does not fit. Ordinary AT text dies within a byte or two of a '0', so the
 * per-byte cost is a table lookup while nothing is being followed.
 */
#include "attrace/secret.h"

#include "bytescan.h"

#include <string.h>

/* Everything below works on the private part of at_secret_scanner. */
typedef struct at_secret_scanner_priv scanner_state;

const char *at_secret_kind_name(at_secret_kind k)
{
    switch (k) {
    case AT_SECRET_PKCS1_RSA: return "pkcs1_rsa";
    case AT_SECRET_PKCS8: return "pkcs8";
    case AT_SECRET_SEC1_EC: return "sec1_ec";
    case AT_SECRET_PKCS8_ENCRYPTED: return "pkcs8_encrypted";
    case AT_SECRET_KEY_MATERIAL: return "key_material";
    case AT_SECRET_PEM: return "pem";
    case AT_SECRET_KEY_UNIT: return "key_unit";
    }
    return "unknown";
}

void at_secret_scanner_init(at_secret_scanner *scanner)
{
    scanner_state *sc = &scanner->priv;
    memset(sc, 0, sizeof *sc);
}

/* ------------------------------------------------------------------ */
/* Runs                                                               */
/* ------------------------------------------------------------------ */

static uint64_t run_end(const at_secret *s)
{
    return s->span.off + s->span.len;
}

static void add_run(scanner_state *sc, uint64_t start, uint64_t end,
                    at_secret_kind kind, uint64_t proof)
{
    /* Inside a run proven no later (the PKCS#1 key inside its PKCS#8
     * wrapper, the INTEGERs of a key): nothing new. */
    for (unsigned i = 0; i < sc->n_runs; i++) {
        const at_secret_run *r = &sc->runs[i];
        if (r->s.span.off <= start && run_end(&r->s) >= end && r->proof <= proof)
            return;
    }
    if (sc->n_runs == AT_SECRET_RUNS_MAX) {
        /* Full (hostile input): fold into the newest run. The union is
         * proven by the earlier proof, so it redacts more, never less. */
        at_secret_run *r = &sc->runs[sc->n_runs - 1];
        uint64_t s = r->s.span.off < start ? r->s.span.off : start;
        uint64_t e = run_end(&r->s) > end ? run_end(&r->s) : end;
        r->s.span.off = s;
        r->s.span.len = (uint32_t)(e - s > UINT32_MAX ? UINT32_MAX : e - s);
        if (end > sc->runs_end)
            sc->runs_end = end;
        if (proof < r->proof)
            r->proof = proof;
        return;
    }
    if (end > sc->runs_end)
        sc->runs_end = end;
    at_secret_run *r = &sc->runs[sc->n_runs++];
    r->s.span.off = start;
    r->s.span.len = (uint32_t)(end - start);
    r->s.kind = kind;
    r->proof = proof;
}

void at_secret_mark(at_secret_scanner *scanner, uint64_t off, uint64_t len, at_secret_kind kind,
                    uint64_t proof)
{
    if (len)
        add_run(&scanner->priv, off, off + len, kind, proof);
}

void at_secret_forget(at_secret_scanner *scanner, uint64_t off)
{
    scanner_state *sc = &scanner->priv;
    unsigned k = 0;
    for (unsigned i = 0; i < sc->n_runs; i++)
        if (run_end(&sc->runs[i].s) > off)
            sc->runs[k++] = sc->runs[i];
    sc->n_runs = k;
}

unsigned at_secret_collect(const at_secret_scanner *scanner, uint64_t off, uint64_t len,
                           at_secret *out, unsigned cap)
{
    const scanner_state *sc = &scanner->priv;
    uint64_t end = off + len;
    uint64_t hull_s = UINT64_MAX, hull_e = 0;
    unsigned n = 0;
    if (cap == 0 || len == 0)
        return 0;
    for (unsigned i = 0; i < sc->n_runs; i++) {
        const at_secret_run *r = &sc->runs[i];
        uint64_t s = r->s.span.off, e = run_end(&r->s);
        if (r->proof >= end || e <= off || s >= end)
            continue;
        if (s < off)
            s = off;
        if (e > end)
            e = end;
        hull_s = s < hull_s ? s : hull_s;
        hull_e = e > hull_e ? e : hull_e;
        if (n == cap) {
            /* No room: one run over all of them (redacts more, never less). */
            out[0].span.off = hull_s;
            out[0].span.len = (uint32_t)(hull_e - hull_s);
            n = 1;
            cap = 1;
            continue;
        }
        /* Insert sorted by start. */
        unsigned k = n;
        while (k > 0 && out[k - 1].span.off > s) {
            out[k] = out[k - 1];
            k--;
        }
        out[k].span.off = s;
        out[k].span.len = (uint32_t)(e - s);
        out[k].kind = r->s.kind;
        n++;
    }
    /* Merge overlapping and adjacent runs. */
    unsigned m = 0;
    for (unsigned i = 0; i < n; i++) {
        if (m && out[i].span.off <= run_end(&out[m - 1])) {
            uint64_t e = run_end(&out[i]);
            if (e > run_end(&out[m - 1]))
                out[m - 1].span.len = (uint32_t)(e - out[m - 1].span.off);
            continue;
        }
        out[m++] = out[i];
    }
    return m;
}

/* ------------------------------------------------------------------ */
/* DER headers                                                        */
/* ------------------------------------------------------------------ */

enum {
    D_LEN = 1,      /* after 0x30: the outer length */
    D_TAG1,         /* first element: 02 (version) or 30 (encrypted) */
    D_VER_LEN,      /* 01 */
    D_VER_VAL,      /* 00 or 01 */
    D_TAG2,         /* 30 (PKCS#8), 02 (PKCS#1), 04 (SEC1) */
    D_ALG_LEN,      /* PKCS#8 AlgorithmIdentifier length */
    D_ALG_SKIP,     /* its content, starting with an OID */
    D_OCTET,        /* 04: the private key */
    D_MOD_LEN,      /* PKCS#1 modulus length */
    D_EC_LEN,       /* SEC1 private key length */
    D_ENC_ALG_LEN,  /* EncryptedPrivateKeyInfo AlgorithmIdentifier length */
    D_ENC_ALG_LENX,
    D_ENC_OID_TAG,
    D_ENC_OID_LEN,
    D_ENC_OID       /* 2A 86 48 86 F7 0D 01 then 05 (PKCS#5) or 0C (PKCS#12) */
};

/* Tag and length bytes of an element whose first length byte is @p b. */
static uint8_t header_len(uint8_t b)
{
    return b == 0x81 ? 3 : b == 0x82 ? 4 : 2;
}

enum { LEN_BAD, LEN_MORE, LEN_DONE };

/* One byte of a DER length (short form, 0x81 or 0x82; the first byte when
 * *need is 0, which also sets *hdr, the element's tag and length bytes).
 * The value is in *acc at LEN_DONE. */
static int length_byte(uint32_t *acc, uint8_t *need, uint8_t *hdr, uint8_t b)
{
    if (*need == 0) {
        *hdr = header_len(b);
        if (b < 0x80) {
            *acc = b;
            return LEN_DONE;
        }
        if (b != 0x81 && b != 0x82)
            return LEN_BAD;
        *need = b & 0x7F;
        *acc = 0;
        return LEN_MORE;
    }
    *acc = *acc << 8 | b;
    return --*need ? LEN_MORE : LEN_DONE;
}

static const uint8_t pkcs_oid_prefix[7] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01};

static void der_confirm(scanner_state *sc, const at_secret_der_cand *c,
                        at_secret_kind kind, uint64_t off)
{
    uint64_t end = c->start + c->hdr + c->outer;
    if (off >= end) /* the header does not fit its own length */
        return;
    add_run(sc, c->start, end, kind, off);
}

/* Advances one candidate by byte @p b at @p off; false when it dies or
 * is done. */
static bool der_step(scanner_state *sc, at_secret_der_cand *c, uint8_t b, uint64_t off)
{
    int r;
    switch (c->state) {
    case D_LEN:
        r = length_byte(&c->acc, &c->need, &c->hdr, b);
        if (r != LEN_DONE)
            return r == LEN_MORE;
        c->outer = c->acc;
        break;
    case D_TAG1:
        if (b == 0x02)
            c->state = D_VER_LEN;
        else if (b == 0x30)
            c->state = D_ENC_ALG_LEN;
        else
            return false;
        return true;
    case D_VER_LEN:
        c->state = D_VER_VAL;
        return b == 0x01;
    case D_VER_VAL:
        c->version = b;
        c->state = D_TAG2;
        return b <= 1;
    case D_TAG2:
        if (b == 0x30)
            c->state = D_ALG_LEN;
        else if (b == 0x02)
            c->state = D_MOD_LEN;
        else if (b == 0x04 && c->version == 1)
            c->state = D_EC_LEN;
        else
            return false;
        return true;
    case D_ALG_LEN:
        if (b < 2 || b >= 0x80)
            return false;
        c->skip = b;
        c->idx = 0;
        c->state = D_ALG_SKIP;
        return true;
    case D_ALG_SKIP:
        if (c->idx++ == 0 && b != 0x06)
            return false;
        if (--c->skip == 0)
            c->state = D_OCTET;
        return true;
    case D_OCTET:
        if (b == 0x04)
            der_confirm(sc, c, AT_SECRET_PKCS8, off);
        return false;
    case D_MOD_LEN: {
        uint8_t mod_hdr;
        r = length_byte(&c->acc, &c->need, &mod_hdr, b);
        if (r != LEN_DONE)
            return r == LEN_MORE;
        if (c->acc >= 0x40)
            der_confirm(sc, c, AT_SECRET_PKCS1_RSA, off);
        return false;
    }
    case D_EC_LEN:
        if (b >= 16 && b <= 66)
            der_confirm(sc, c, AT_SECRET_SEC1_EC, off);
        return false;
    case D_ENC_ALG_LEN:
        if (b == 0x81) {
            c->state = D_ENC_ALG_LENX;
            return true;
        }
        c->state = D_ENC_OID_TAG;
        return b >= 0x0B && b < 0x80;
    case D_ENC_ALG_LENX:
        c->state = D_ENC_OID_TAG;
        return true;
    case D_ENC_OID_TAG:
        c->state = D_ENC_OID_LEN;
        return b == 0x06;
    case D_ENC_OID_LEN:
        c->idx = 0;
        c->state = D_ENC_OID;
        return b == 0x09 || b == 0x0A;
    case D_ENC_OID:
        if (c->idx < sizeof pkcs_oid_prefix) {
            return b == pkcs_oid_prefix[c->idx++];
        }
        if (b == 0x05 || b == 0x0C)
            der_confirm(sc, c, AT_SECRET_PKCS8_ENCRYPTED, off);
        return false;
    default:
        return false;
    }
    /* The outer length is complete. */
    if (c->outer < AT_SECRET_MIN_CONTENT)
        return false;
    c->state = D_TAG1;
    return true;
}

/* ------------------------------------------------------------------ */
/* INTEGER chains                                                     */
/* ------------------------------------------------------------------ */

enum { I_LEN = 1, I_SKIP, I_NEXT };

/* A large INTEGER's length is known: count it, prove the chain from the
 * third on. */
static bool int_counted(scanner_state *sc, at_secret_int_cand *c, uint32_t len,
                        uint64_t off)
{
    if (len < AT_SECRET_MIN_INT || len > AT_SECRET_MAX_INT)
        return false;
    uint64_t end = c->int_start + c->hdr + len;
    c->wake = end;
    if (c->count < 255)
        c->count++;
    if (c->count == 3)
        add_run(sc, c->start, end, AT_SECRET_KEY_MATERIAL, off);
    else if (c->count > 3)
        add_run(sc, c->int_start, end, AT_SECRET_KEY_MATERIAL, off);
    c->state = I_SKIP;
    return true;
}

static bool int_step(scanner_state *sc, at_secret_int_cand *c, uint8_t b, uint64_t off)
{
    int r;
    switch (c->state) {
    case I_LEN:
        r = length_byte(&c->acc, &c->need, &c->hdr, b);
        if (r != LEN_DONE)
            return r == LEN_MORE;
        return int_counted(sc, c, c->acc, off);
    case I_SKIP:
        /* The content is not looked at: the next tag is due at wake. */
        if (off < c->wake)
            return true;
        /* fall through */
    case I_NEXT:
        if (b != 0x02)
            return false;
        c->int_start = off;
        c->state = I_LEN;
        return true;
    default:
        return false;
    }
}

/* ------------------------------------------------------------------ */
/* PEM                                                                */
/* ------------------------------------------------------------------ */

enum { P_BEGIN = 0, P_LABEL, P_LABEL_DASHES, P_END };

static const char pem_begin[] = "-----BEGIN ";
static const char pem_end[] = "-----END ";

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Matches "-----<word> " allowing extra leading dashes; returns the new
 * match index. */
static uint8_t match_marker(const char *pat, uint8_t idx, uint8_t b)
{
    if ((uint8_t)pat[idx] == b)
        return (uint8_t)(idx + 1);
    if (b == '-')
        return idx == 5 ? 5 : 1; /* more leading dashes, or a new start */
    return 0;
}

static void pem_step(scanner_state *sc, uint8_t b, uint64_t off)
{
    if (sc->pem_open) {
        /* Inside a key block: its END line closes the run. */
        if (sc->pem_state == P_LABEL_DASHES) {
            if (b == '-') {
                if (++sc->pem_dashes == 5) {
                    for (unsigned i = 0; i < sc->n_runs; i++) {
                        at_secret *r = &sc->runs[i].s;
                        if (r->kind == AT_SECRET_PEM && r->span.off == sc->pem_begin &&
                            off + 1 < run_end(r))
                            r->span.len = (uint32_t)(off + 1 - r->span.off);
                    }
                    sc->pem_open = false;
                    sc->pem_state = P_BEGIN;
                    sc->pem_idx = 0;
                }
                return;
            }
            sc->pem_dashes = 0;
            if (b == '\r' || b == '\n') /* no closing dashes on this line */
                sc->pem_state = P_END, sc->pem_idx = 0;
            return;
        }
        sc->pem_idx = match_marker(pem_end, sc->pem_idx, b);
        if (sc->pem_idx == sizeof pem_end - 1) {
            sc->pem_state = P_LABEL_DASHES;
            sc->pem_dashes = 0;
        }
        if (off + 1 >= sc->pem_begin + AT_SECRET_PEM_MAX) {
            sc->pem_open = false;
            sc->pem_state = P_BEGIN;
            sc->pem_idx = 0;
        }
        return;
    }
    switch (sc->pem_state) {
    case P_BEGIN:
        sc->pem_idx = match_marker(pem_begin, sc->pem_idx, b);
        if (sc->pem_idx == 1 || (sc->pem_idx == 5 && b == '-'))
            sc->pem_begin = off + 1 - sc->pem_idx;
        if (sc->pem_idx == sizeof pem_begin - 1) {
            sc->pem_state = P_LABEL;
            sc->pem_label_len = 0;
        }
        return;
    case P_LABEL:
        if (b == '-') {
            sc->pem_state = P_LABEL_DASHES;
            sc->pem_dashes = 1;
            return;
        }
        if (((b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == ' ') &&
            sc->pem_label_len < sizeof sc->pem_label) {
            sc->pem_label[sc->pem_label_len++] = (char)b;
            return;
        }
        break;
    case P_LABEL_DASHES:
        if (b != '-')
            break;
        if (++sc->pem_dashes < 5)
            return;
        if (ends_with(sc->pem_label, sc->pem_label_len, "PRIVATE KEY")) {
            add_run(sc, sc->pem_begin, sc->pem_begin + AT_SECRET_PEM_MAX, AT_SECRET_PEM, off);
            sc->pem_open = true;
            sc->pem_state = P_END;
            sc->pem_idx = 0;
            return;
        }
        break;
    default:
        break;
    }
    sc->pem_state = P_BEGIN;
    sc->pem_idx = b == '-' ? 1 : 0;
    if (b == '-')
        sc->pem_begin = off;
}

/* ------------------------------------------------------------------ */
/* Command lines inside runs                                          */
/* ------------------------------------------------------------------ */

enum { L_NONE = 0, L_LINE_START, L_A, L_COMMAND };

/* "AT" at @p a (proven at @p off): runs over it end there; their rest
 * waits for the line's verdict. */
static void cut_runs_at(scanner_state *sc, uint64_t a, uint64_t off)
{
    sc->susp = false;
    for (unsigned i = 0; i < sc->n_runs; i++) {
        at_secret *r = &sc->runs[i].s;
        uint64_t e = run_end(r);
        if (r->span.off >= a || e <= a || sc->runs[i].proof > off)
            continue;
        if (!sc->susp || e > sc->susp_end)
            sc->susp_end = e;
        if (!sc->susp)
            sc->susp_kind = r->kind;
        sc->susp = true;
        r->span.len = (uint32_t)(a - r->span.off);
    }
}

static void watch_line(scanner_state *sc, uint8_t b, uint64_t off)
{
    bool eol = b == '\r' || b == '\n';
    sc->last = b;
    switch (sc->cmd_state) {
    case L_COMMAND:
        if (eol) {
            sc->susp = false; /* a command line: the rest was no key */
            sc->cmd_state = L_LINE_START;
            return;
        }
        if (b >= 0x20 && b < 0x7F)
            return;
        /* Not text after all: the run goes on from the line's start. */
        if (sc->susp)
            add_run(sc, sc->cmd_start, sc->susp_end, sc->susp_kind, off);
        sc->susp = false;
        sc->cmd_state = L_NONE;
        return;
    case L_A:
        if (b == 'T' || b == 't') {
            sc->cmd_state = L_COMMAND;
            cut_runs_at(sc, sc->cmd_start, off);
            return;
        }
        break;
    case L_LINE_START:
        if (b == 'A' || b == 'a') {
            sc->cmd_state = L_A;
            sc->cmd_start = off;
            return;
        }
        break;
    default:
        break;
    }
    sc->cmd_state = eol ? L_LINE_START : L_NONE;
}

void at_secret_token_end(at_secret_scanner *scanner, uint64_t end)
{
    scanner_state *sc = &scanner->priv;
    /* Only inside a run, and where no line is being followed already. */
    if (end >= sc->runs_end || sc->cmd_state != L_NONE)
        return;
    if (sc->off == end) {
        sc->cmd_state = L_LINE_START;
    } else if (sc->off == end + 1 && (sc->last == 'A' || sc->last == 'a')) {
        sc->cmd_state = L_A;
        sc->cmd_start = end;
    }
}

/* ------------------------------------------------------------------ */
/* Scanning                                                           */
/* ------------------------------------------------------------------ */

static void scan_byte(scanner_state *sc, uint8_t b, uint64_t off)
{
    unsigned k = 0;
    if (off < sc->runs_end || sc->susp)
        watch_line(sc, b, off);
    for (unsigned i = 0; i < sc->n_der; i++)
        if (der_step(sc, &sc->der[i], b, off))
            sc->der[k++] = sc->der[i];
    sc->n_der = k;
    k = 0;
    uint64_t wake = UINT64_MAX;
    for (unsigned i = 0; i < sc->n_ints; i++) {
        at_secret_int_cand *c = &sc->ints[i];
        if (!int_step(sc, c, b, off))
            continue;
        uint64_t w = c->state == I_SKIP ? c->wake : off + 1;
        wake = w < wake ? w : wake;
        if (k != i)
            sc->ints[k] = *c;
        k++;
    }
    sc->n_ints = k;
    if (sc->pem_open || sc->pem_state != P_BEGIN || sc->pem_idx || b == '-')
        pem_step(sc, b, off);

    if (b == 0x30 && sc->n_der < AT_SECRET_DER_CANDS) {
        at_secret_der_cand *c = &sc->der[sc->n_der++];
        memset(c, 0, sizeof *c);
        c->start = off;
        c->state = D_LEN;
    } else if (b == 0x02 && sc->n_ints < AT_SECRET_INT_CANDS) {
        at_secret_int_cand *c = &sc->ints[sc->n_ints++];
        memset(c, 0, sizeof *c);
        c->start = off;
        c->int_start = off;
        c->state = I_LEN;
        wake = off + 1;
    }
    sc->int_wake = wake;
}

/* Whether the scanner follows nothing byte by byte at @p pos. */
static bool idle(const scanner_state *sc, uint64_t pos)
{
    return !sc->n_der && !sc->pem_open && sc->pem_state == P_BEGIN && !sc->pem_idx &&
           pos >= sc->runs_end && !sc->susp;
}

/* Leading bytes of p[0..n), at stream offset @p pos, that change
 * nothing: no trigger that survives the bytes at hand, before any INTEGER
 * chain's next tag. */
static size_t idle_bytes(const scanner_state *sc, uint64_t pos, const uint8_t *p,
                         size_t n)
{
    if (!idle(sc, pos))
        return 0;
    size_t lim = n;
    if (sc->n_ints && sc->int_wake < pos + n)
        lim = (size_t)(sc->int_wake - pos);
    return at_bytescan_key_start(p, 0, lim, n);
}

void at_secret_scan(at_secret_scanner *scanner, const uint8_t *p, size_t n)
{
    scanner_state *sc = &scanner->priv;
    size_t i = 0;
    while (i < n) {
        if (idle(sc, sc->off + i)) {
            size_t lim = n;
            if (sc->n_ints && sc->int_wake < sc->off + n)
                lim = (size_t)(sc->int_wake - sc->off);
            /* Most triggers in text and data die within two bytes: those
             * at hand are passed over while the state stays idle. */
            i = at_bytescan_key_start(p, i, lim, n);
            if (i == n)
                break;
        }
        scan_byte(sc, p[i], sc->off + i);
        i++;
    }
    sc->off += n;
}

size_t at_secret_skip(at_secret_scanner *scanner, const uint8_t *p, size_t n)
{
    scanner_state *sc = &scanner->priv;
    size_t k = idle_bytes(sc, sc->off, p, n);
    sc->off += k;
    return k;
}

/* ------------------------------------------------------------------ */
/* Renderer helpers                                                   */
/* ------------------------------------------------------------------ */

size_t at_secret_piece(const at_secret *runs, unsigned n, uint64_t off, size_t len,
                       const at_secret **run)
{
    uint64_t end = off + len;
    uint64_t next = end; /* start of the first run after off */
    *run = NULL;
    for (unsigned i = 0; i < n; i++) {
        uint64_t s = runs[i].span.off, e = run_end(&runs[i]);
        if (s <= off && e > off) {
            *run = &runs[i];
            return (size_t)((e < end ? e : end) - off);
        }
        if (s > off && s < next)
            next = s;
    }
    return (size_t)(next - off);
}

const at_secret *at_secret_overlap(const at_secret *runs, unsigned n, uint64_t off,
                                   size_t len)
{
    for (unsigned i = 0; i < n; i++)
        if (runs[i].span.off < off + len && run_end(&runs[i]) > off && len > 0)
            return &runs[i];
    return NULL;
}

size_t at_secret_bytes(const at_secret *runs, unsigned n, uint64_t off, size_t len)
{
    size_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t s = runs[i].span.off, e = run_end(&runs[i]);
        if (s < off)
            s = off;
        if (e > off + len)
            e = off + len;
        if (e > s)
            total += (size_t)(e - s);
    }
    return total;
}
