/*
 * What a frame holds: the certificate as the module would list it, PEM
 * text where DER belongs, the private key, whether key and certificate
 * belong together, and the signature checked with the key the module
 * would use.
 */
#include "analysis_internal.h"

#include <stdio.h>
#include <string.h>

bool an_starts_pem(const uint8_t *p, size_t n)
{
    static const char pem[] = "-----BEGIN";
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return n - i >= sizeof pem - 1 && memcmp(p + i, pem, sizeof pem - 1) == 0;
}

/* A unit whose value is complete (not cut by the end of the bytes). */
static const at_frame_unit *whole_unit(const at_frame *f, at_param_id id)
{
    const at_frame_unit *u = at_frame_find(f, id);
    if (!u || u->param_len < AT_FRAME_UNIT_HEADER_LEN ||
        u->value_len != (uint32_t)u->param_len - AT_FRAME_UNIT_HEADER_LEN)
        return NULL;
    return u;
}

/*
 * Fills @p d for frame @p f (decoded from @p buf, @p len bytes). The
 * frame's certificate is returned in @p *cert (caller frees) when it is DER.
 * @p src receives the verify source text; @p vsub / @p vthumb the
 * verifying certificate's subject and thumbprint.
 */
static void describe(at_analyzer *an, const at_frame *f, const uint8_t *buf,
                     size_t len, bool request, at_frame_details *d, X509 **cert,
                     char *src, size_t src_cap, char *vsub, size_t vsub_cap,
                     char *vthumb, size_t vthumb_cap)
{
    memset(d, 0, sizeof *d);
    *cert = NULL;
    src[0] = '\0';
    vsub[0] = '\0';
    vthumb[0] = '\0';

    const at_frame_unit *cu = at_frame_find(f, AT_PARAM_CERT);
    if (cu) {
        d->has_cert = true;
        if (cu->value && an_starts_pem(cu->value, cu->value_len))
            d->cert_is_pem = true;
        const at_frame_unit *w = whole_unit(f, AT_PARAM_CERT);
        if (w && !d->cert_is_pem)
            d->cert_ok = at_cert_parse(w->value, w->value_len, &d->cert, cert,
                                       d->cert_error, sizeof d->cert_error) == 0;
    }

    EVP_PKEY *key = NULL;
    const at_frame_unit *ku = at_frame_find(f, AT_PARAM_KEY);
    if (ku) {
        d->has_key = true;
        const at_frame_unit *w = whole_unit(f, AT_PARAM_KEY);
        if (w && w->value_len > 0)
            key = at_key_from_der(w->value, w->value_len, &d->key);
        d->key_ok = key != NULL;
        if (key && *cert)
            d->key_matches_cert = EVP_PKEY_eq(X509_get0_pubkey(*cert), key) == 1;
        EVP_PKEY_free(key);
    }

    /* The key the module checks the signature with. */
    EVP_PKEY *pub = NULL;
    if (request) {
        if (f->cmd_id == AT_CMD_WRITE && f->has_index && f->index == 0 && *cert) {
            pub = X509_get0_pubkey(*cert);
            an_fmt(src, src_cap, "the certificate in this frame");
            an_copy(vsub, vsub_cap, d->cert.subject, strlen(d->cert.subject));
            an_copy(vthumb, vthumb_cap, d->cert.thumbprint, strlen(d->cert.thumbprint));
        } else if (an->client_cert && an->client_from_trace) {
            pub = X509_get0_pubkey(an->client_cert);
            an_fmt(src, src_cap, "the client certificate written in exchange #%u",
                     (unsigned)an->model.client_cert_exchange);
            an_copy(vsub, vsub_cap, an->client_subject, strlen(an->client_subject));
            an_copy(vthumb, vthumb_cap, an->client_thumb, strlen(an->client_thumb));
        } else if (an->config_cert) {
            pub = X509_get0_pubkey(an->config_cert);
            an_fmt(src, src_cap, "--client-cert");
            an_copy(vsub, vsub_cap, an->config_subject, strlen(an->config_subject));
            an_copy(vthumb, vthumb_cap, an->config_thumb, strlen(an->config_thumb));
        }
    }
    if (f->sig_kind == AT_SIG_RAW_DIGEST) {
        /* A READ answer's digest: nothing to verify with a key. */
        const at_frame_unit *su = at_frame_find(f, AT_PARAM_SIGNATURE);
        d->sig.present = true;
        d->sig.digest_len = su ? su->value_len : 0;
        d->sig.digest_name = d->sig.digest_len == 20 ? "SHA-1" :
                             d->sig.digest_len == 32 ? "SHA-256" : "unknown";
    } else if (at_verify_frame(f, buf, len, pub, &d->sig) == 0) {
        d->sig_checked = pub != NULL && d->sig.present;
    } else {
        memset(&d->sig, 0, sizeof d->sig);
        d->sig.present = at_frame_find(f, AT_PARAM_SIGNATURE) != NULL;
    }
    d->verify_source = d->sig_checked ? src : NULL;
}

void an_frame_event(at_analyzer *an, const at_event *ev)
{
    if (!ev->frame || !ev->tok)
        return;
    const uint8_t *buf = ev->tok->data;
    size_t len = ev->tok->len;
    bool request = ev->dir == AT_DIR_TE_TO_ME;
    an_exchange *x = &an->x;
    bool ours = request && x->open && x->secure && ev->exchange && ev->exchange->id == x->id;
    bool keep = ours && x->te_frames == 0; /* a secure exchange has one host frame */
    if (ours)
        x->te_frames++;

    X509 *cert = NULL;
    if (keep) {
        describe(an, ev->frame, buf, len, true, &x->det, &cert, x->verify_source,
                 sizeof x->verify_source, x->verify_subject, sizeof x->verify_subject,
                 x->verify_thumb, sizeof x->verify_thumb);
        if (x->det.verify_source)
            x->det.verify_source = x->verify_source;
        x->frame_cert = cert;
        x->has_frame = true;
        x->frame_bytes = len < AT_STREAM_BIN_MAX ? len : AT_STREAM_BIN_MAX;
        memcpy(an->frame_buf, buf, x->frame_bytes);
        x->frame_len = ev->tok->frame_len;
        x->tok_flags = ev->tok->flags;
        x->tok_reason = ev->tok->reason;
        x->frame_off = ev->tok->off;
        x->n_frame_secrets = ev->n_secrets;
        memcpy(x->frame_secrets, ev->secrets, ev->n_secrets * sizeof ev->secrets[0]);
        x->frame_ts_first = ev->tok->ts_first;
        x->frame_ts_last = ev->tok->ts_last;
        x->frame_max_gap = ev->tok->max_gap_ns;
        x->frame_max_gap_off = ev->tok->max_gap_off;
        an->cur = x->det;
        if (an->cur.verify_source) {
            an_copy(an->cur_source, sizeof an->cur_source, x->verify_source,
                    strlen(x->verify_source));
            an->cur.verify_source = an->cur_source;
        }
    } else {
        char vsub[AT_CERT_DN_MAX], vthumb[41];
        describe(an, ev->frame, buf, len, request, &an->cur, &cert, an->cur_source,
                 sizeof an->cur_source, vsub, sizeof vsub, vthumb, sizeof vthumb);
        X509_free(cert);
    }
    an->cur_valid = true;
}
