/*
 * engine_secure.c - the simulated module's secure-command exchange
 * (engine_private.h).
 *
 * The secure-command exchange (AT^SBNW): CONNECT and the READY line, then
 * binary mode. The first two bytes give TotalLen; TotalLen < 6 or above
 * what a frame can be (the profile's cert_max + key_max + room for the
 * other units and a signature) is answered at once with LENGTH ERROR and
 * the rest of the transfer is swallowed until the line is quiet for
 * extra_window_ms. The vendor tool ends the AT^SBNW line with CR LF: an LF
 * that arrives in the same input call right after that CR is the line's
 * end, not the frame's first byte (a frame sent in a later call may well
 * start with 0x0A, TotalLen 0x..0A). The service timeout counts from the READY line: a frame
 * not complete timeout_ms after it ends with SERVICE TIMEOUT ERROR. A
 * complete frame is checked only when the line then stays quiet for
 * extra_window_ms; bytes beyond TotalLen in the same input call or within
 * that window make it TOO MANY DATA ERROR (BGS2 spelling), answered when
 * the extra bytes stop for extra_window_ms.
 *
 * Frame checks, in order: any problem at_frame_decode reports (with the
 * profile's limits: index range, key with index != 0, sizes) -> ERROR;
 * CmdId other than WRITE/READ/DELETE -> ERROR; an IMEI other than the
 * module's -> ERROR; legacy: a missing IMEI or signature -> ERROR (newer
 * modules take unsigned frames); a certificate unit that is not DER X.509
 * -> PUBLIC CERTIFICATE IS CORRUPTED; a key unit that does not parse or does
 * not belong to the certificate -> ERROR; a signature that does not verify
 * with the client certificate at index 0 (for the WRITE of index 0: the
 * certificate in the frame) or holds the wrong digest (legacy: SHA-1 only;
 * newer: SHA-256 or SHA-1) -> ERROR. READ or DELETE of an empty slot ->
 * ERROR. A DELETE of index 0 also removes the key and answers END OK
 * (PROTOCOL.md does not say when PRIVATE KEY WAS REMOVED is sent, so it
 * never is). AT^SBNW=management_cert,1 (newer only) is checked and applied
 * like is_cert, on the same store.
 */
#include "engine_private.h"

#include "attrace/cert.h"
#include "attrace/crypto.h"
#include "attrace/frame.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A secure-command result string: its own line, in both modes. */
static void secure_line(sim_engine *e, const char *text)
{
    e->block_open = false;
    sim_info(e, text);
}

cmd_rc sim_cmd_sbnw(sim_engine *e, const at_command *c, unsigned *cme,
                    const char **store_name)
{
    *cme = CME_INCORRECT_PARAMS;
    if (c->type == AT_CMDT_TEST) {
        sim_info(e, e->prof->id == AT_PROFILE_LEGACY ? "^SBNW: (\"is_cert\"),(1)"
                                                     : "^SBNW: (\"is_cert\",\"management_cert\"),(1)");
        return RC_OK;
    }
    if (c->type != AT_CMDT_SET || c->n_params != 2)
        return RC_CME;
    const at_str *type = &c->params[0];
    bool newer = e->prof->id != AT_PROFILE_LEGACY;
    if (sim_param_is(type, "is_cert")) {
        *store_name = "is_cert";
    } else if (newer && sim_param_is(type, "management_cert")) {
        *store_name = "management_cert";
    } else if (sim_param_is(type, "management_cert") || sim_param_is(type, "app_rot") ||
               sim_param_is(type, "preconfig_cert")) {
        *cme = CME_NOT_SUPPORTED;
        return RC_CME;
    } else {
        return RC_CME;
    }
    unsigned action;
    if (!sim_num_value(&c->params[1], 1, 2, &action) || action != 1)
        return RC_CME;
    return RC_CONNECT;
}

void sim_secure_start(sim_engine *e, uint64_t now_ns)
{
    sim_result(e, "CONNECT", '1');
    e->block_open = false;
    sim_info(e, "SECURE CMD READY: SEND COMMAND ...");
    e->mode = MODE_BIN;
    e->got = e->total = e->extra = 0;
    e->lf_skip = true;
    e->ready_ns = e->last_byte_ns = now_ns;
}

/* ------------------------------------------------------------------ */
/* The secure-command frame                                           */
/* ------------------------------------------------------------------ */

typedef enum sec_rc {
    SEC_END_OK,
    SEC_ERROR,
    SEC_CORRUPTED
} sec_rc;

static const char *sec_text(sec_rc r)
{
    switch (r) {
    case SEC_END_OK: return "SECURE CMD END OK";
    case SEC_CORRUPTED: return "SECURE CMD PUBLIC CERTIFICATE IS CORRUPTED";
    default: return "SECURE CMD ERROR";
    }
}

static void put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)((v >> 8) & 0xff);
}

/*
 * The READ answer (PROTOCOL.md section 5): index, certificate, and the raw
 * digest (the profile's: SHA-1 or SHA-256) of offset 2 up to the end of the
 * certificate unit. Returns a malloc'd frame or NULL.
 */
static uint8_t *read_response(const sim_engine *e, unsigned index, const uint8_t *cert,
                              size_t cert_len, size_t *out_len, char *why, size_t cap)
{
    const EVP_MD *md = e->prof->digest_len == 32 ? EVP_sha256() : EVP_sha1();
    size_t dlen = (size_t)EVP_MD_get_size(md);
    size_t signed_end = AT_FRAME_HEADER_LEN + 6 + AT_FRAME_UNIT_HEADER_LEN + cert_len;
    size_t total = signed_end + AT_FRAME_UNIT_HEADER_LEN + dlen;
    if (total > AT_FRAME_MAX_LEN) {
        snprintf(why, cap, "the stored certificate is too large for a response frame");
        return NULL;
    }
    uint8_t *r = malloc(total);
    if (!r) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    uint8_t *p = r;
    put16(p, total);
    put16(p + 2, AT_CMD_READ);
    put16(p + 4, 3);
    p += AT_FRAME_HEADER_LEN;
    put16(p, 6);
    put16(p + 2, AT_PARAM_INDEX);
    put16(p + 4, index);
    p += 6;
    put16(p, AT_FRAME_UNIT_HEADER_LEN + cert_len);
    put16(p + 2, AT_PARAM_CERT);
    memcpy(p + 4, cert, cert_len);
    p += AT_FRAME_UNIT_HEADER_LEN + cert_len;
    put16(p, AT_FRAME_UNIT_HEADER_LEN + dlen);
    put16(p + 2, AT_PARAM_SIGNATURE);
    unsigned int got = 0;
    if (EVP_Digest(r + 2, signed_end - 2, p + 4, &got, md, NULL) != 1 || got != dlen) {
        free(r);
        snprintf(why, cap, "digest failed");
        return NULL;
    }
    *out_len = total;
    return r;
}

/* The text of a NUL-terminated frame string as a C string (cut at cap). */
static void unit_text(const at_frame_unit *u, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; i < u->value_len && u->value[i] && j + 1 < cap; i++)
        out[j++] = (char)u->value[i];
    out[j] = '\0';
}

/* Signature check; SEC_END_OK when it verifies. */
static sec_rc check_signature(const sim_engine *e, const at_frame *f, X509 *frame_cert,
                              char *why, size_t cap)
{
    X509 *own = NULL;
    X509 *verifier = NULL;
    if (f->cmd_id == AT_CMD_WRITE && f->index == 0 && frame_cert) {
        verifier = frame_cert;
    } else {
        size_t len = 0;
        const uint8_t *der = e->store ? sim_store_cert(e->store, 0, &len) : NULL;
        if (!der) {
            snprintf(why, cap, "no client certificate at index 0 to verify the signature");
            return SEC_ERROR;
        }
        at_cert_summary *s = malloc(sizeof *s);
        int rc = s ? at_cert_parse(der, len, s, &own, NULL, 0) : -1;
        free(s);
        if (rc != 0 || !own) {
            snprintf(why, cap, "the client certificate at index 0 is corrupted");
            return SEC_ERROR;
        }
        verifier = own;
    }
    at_sig_verdict v;
    int rc = at_verify_frame(f, e->frame, e->total, X509_get0_pubkey(verifier), &v);
    X509_free(own);
    if (rc != 0) {
        snprintf(why, cap, "signature check failed internally");
        return SEC_ERROR;
    }
    if (!v.base64_ok) {
        snprintf(why, cap, "the signature is not base64");
        return SEC_ERROR;
    }
    if (!v.length_ok || !v.recovered) {
        snprintf(why, cap, "the signature does not verify with the client certificate's key");
        return SEC_ERROR;
    }
    bool digest_ok = v.digest_len == e->prof->digest_len ||
                     (e->prof->id != AT_PROFILE_LEGACY && v.digest_len == 20);
    if (!digest_ok) {
        snprintf(why, cap, "the signature holds a %s digest, the module expects %s",
                 v.digest_name, e->prof->digest_len == 20 ? "SHA-1" : "SHA-256");
        return SEC_ERROR;
    }
    if (!v.matches) {
        snprintf(why, cap, "the signed %s digest differs from the frame's", v.digest_name);
        return SEC_ERROR;
    }
    return SEC_END_OK;
}

/*
 * Checks and applies the frame in e->frame (e->total bytes). For a READ,
 * *resp receives the response frame (caller frees).
 */
static sec_rc process_frame(sim_engine *e, at_frame *f, uint8_t **resp, size_t *resp_len,
                            char *why, size_t cap)
{
    *resp = NULL;
    why[0] = '\0';
    at_frame_decode(e->frame, e->total, 0, e->prof, f);
    if (f->n_problems || f->problems_dropped) {
        const at_frame_problem *p = &f->problems[0];
        snprintf(why, cap, "%s (offset %llu, %u)", at_frame_problem_name(p->code),
                 (unsigned long long)p->off, p->detail);
        return SEC_ERROR;
    }
    if (f->cmd_id != AT_CMD_WRITE && f->cmd_id != AT_CMD_READ && f->cmd_id != AT_CMD_DELETE) {
        snprintf(why, cap, "CmdId %u is not supported", f->cmd_id);
        return SEC_ERROR;
    }
    if (!f->has_index || f->index >= SIM_STORE_SLOTS) {
        snprintf(why, cap, "no usable index");
        return SEC_ERROR;
    }
    const at_frame_unit *imei = at_frame_find(f, AT_PARAM_IMEI);
    const at_frame_unit *sig = at_frame_find(f, AT_PARAM_SIGNATURE);
    if (imei) {
        char text[32];
        unit_text(imei, text, sizeof text);
        if (strcmp(text, e->cfg.imei) != 0) {
            snprintf(why, cap, "IMEI %s is not the module's %s", text, e->cfg.imei);
            return SEC_ERROR;
        }
    } else if (!e->prof->unsigned_ok) {
        snprintf(why, cap, "no IMEI unit");
        return SEC_ERROR;
    }
    if (!sig && !e->prof->unsigned_ok) {
        snprintf(why, cap, "no signature unit");
        return SEC_ERROR;
    }

    sec_rc rc = SEC_END_OK;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    const at_frame_unit *cu = at_frame_find(f, AT_PARAM_CERT);
    const at_frame_unit *ku = at_frame_find(f, AT_PARAM_KEY);
    if (f->cmd_id == AT_CMD_WRITE && cu) {
        at_cert_summary *s = malloc(sizeof *s);
        char err[200] = "";
        int prc = s ? at_cert_parse(cu->value, cu->value_len, s, &cert, err, sizeof err) : -1;
        free(s);
        if (prc != 0 || !cert) {
            snprintf(why, cap, "certificate unit: %s", err[0] ? err : "not DER X.509");
            rc = SEC_CORRUPTED;
            goto done;
        }
    }
    if (f->cmd_id == AT_CMD_WRITE && ku) {
        key = at_key_from_der(ku->value, ku->value_len, NULL);
        if (!key) {
            snprintf(why, cap, "the private key is not PKCS#8 or PKCS#1 DER");
            rc = SEC_ERROR;
            goto done;
        }
        if (!cert || EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1) {
            snprintf(why, cap, "the private key does not belong to the certificate");
            rc = SEC_ERROR;
            goto done;
        }
    }
    if (sig) {
        rc = check_signature(e, f, cert, why, cap);
        if (rc != SEC_END_OK)
            goto done;
    }

    char err[300] = "";
    size_t len = 0;
    const uint8_t *stored = e->store ? sim_store_cert(e->store, f->index, &len) : NULL;
    switch (f->cmd_id) {
    case AT_CMD_WRITE:
        if (!cu) {
            snprintf(why, cap, "no certificate unit");
            rc = SEC_ERROR;
        } else if (!e->store || sim_store_put(e->store, f->index, cu->value, cu->value_len,
                                       ku ? ku->value : NULL, ku ? ku->value_len : 0,
                                       err, sizeof err) != 0) {
            snprintf(why, cap, "store: %s", e->store ? err : "none");
            rc = SEC_ERROR;
        }
        break;
    case AT_CMD_DELETE:
        if (!stored) {
            snprintf(why, cap, "index %u is empty", f->index);
            rc = SEC_ERROR;
        } else if (sim_store_delete(e->store, f->index, err, sizeof err) != 0) {
            snprintf(why, cap, "store: %s", err);
            rc = SEC_ERROR;
        }
        break;
    default: /* READ */
        if (!stored) {
            snprintf(why, cap, "index %u is empty", f->index);
            rc = SEC_ERROR;
        } else if (!(*resp = read_response(e, f->index, stored, len, resp_len, why, cap))) {
            rc = SEC_ERROR;
        }
        break;
    }
done:
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}

static void finish_secure(sim_engine *e, const char *text, bool ok)
{
    secure_line(e, text);
    if (ok || e->cfg.ok_after_error)
        sim_result(e, "OK", '0');
    else
        sim_result(e, "ERROR", '4');
    e->mode = MODE_CMD;
    e->got = e->total = e->extra = 0;
    e->line_len = 0;
    e->line_overflow = false;
}

static void frame_done(sim_engine *e)
{
    at_frame *f = malloc(sizeof *f);
    char why[512];
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    sec_rc rc;
    if (!f) {
        snprintf(why, sizeof why, "out of memory");
        rc = SEC_ERROR;
    } else {
        rc = process_frame(e, f, &resp, &resp_len, why, sizeof why);
    }
    const char *name = f ? at_cmd_name(f->cmd_id) : NULL;
    char what[64];
    if (name && f->has_index)
        snprintf(what, sizeof what, "%s index %u", name, f->index);
    else if (name)
        snprintf(what, sizeof what, "%s", name);
    else
        snprintf(what, sizeof what, "frame");
    sim_log(e, "secure %s (%zu bytes)%s%s -> %s", what, e->total, why[0] ? ": " : "", why,
            sec_text(rc));
    free(f);
    if (resp)
        sim_emit(e, resp, resp_len);
    free(resp);
    finish_secure(e, sec_text(rc), rc == SEC_END_OK);
}

/* One byte of the frame transfer. */
void sim_secure_byte(sim_engine *e, uint64_t now_ns, uint8_t b)
{
    e->last_byte_ns = now_ns;
    switch (e->mode) {
    case MODE_BIN:
        if (e->lf_skip) {
            e->lf_skip = false;
            if (b == '\n')
                return; /* the end of "AT^SBNW=is_cert,1\r\n", not the frame */
        }
        e->frame[e->got++] = b;
        if (e->got == 2) {
            size_t total = (size_t)e->frame[0] | ((size_t)e->frame[1] << 8);
            if (total < AT_FRAME_HEADER_LEN || total > e->frame_cap) {
                sim_log(e, "secure frame: TotalLen %zu is %s -> SECURE CMD LENGTH ERROR", total,
                        total < AT_FRAME_HEADER_LEN ? "below 6" : "larger than a frame can be");
                finish_secure(e, "SECURE CMD LENGTH ERROR", false);
                e->mode = MODE_DRAIN;
                return;
            }
            e->total = total;
        }
        if (e->total && e->got == e->total) {
            e->mode = MODE_WAIT;
            e->complete_ns = now_ns;
        }
        break;
    case MODE_WAIT:
        e->extra++;
        break;
    default: /* MODE_DRAIN */
        break;
    }
}

/* The deadline of the exchange's current phase has passed (sim_engine_tick):
 * service timeout, the quiet window after a complete frame, the end of a
 * drained transfer. */
void sim_secure_deadline(sim_engine *e)
{
    switch (e->mode) {
    case MODE_BIN:
        if (e->total)
            sim_log(e, "secure frame: %zu of TotalLen %zu bytes after %u ms -> "
                     "SECURE CMD SERVICE TIMEOUT ERROR", e->got, e->total, e->cfg.timeout_ms);
        else
            sim_log(e, "secure frame: %zu bytes after %u ms -> SECURE CMD SERVICE TIMEOUT ERROR",
                    e->got, e->cfg.timeout_ms);
        finish_secure(e, "SECURE CMD SERVICE TIMEOUT ERROR", false);
        break;
    case MODE_WAIT:
        if (e->extra) {
            sim_log(e, "secure frame: TotalLen %zu but %zu bytes -> SECURE CMD TOO MANY DATA ERROR",
                    e->total, e->total + e->extra);
            finish_secure(e, "SECURE CMD TOO MANY DATA ERROR", false);
        } else {
            frame_done(e);
        }
        break;
    default: /* MODE_DRAIN: quiet again */
        e->mode = MODE_CMD;
        break;
    }
}
