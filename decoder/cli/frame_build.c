/*
 * frame_build.c - one secure-command frame from a command's options, for
 * every command that builds one (`attrace encode` writes it to a file,
 * `attrace cert` sends it to a module): the certificate and the key the
 * options name (any key source of keyopts.c: PEM/DER, PKCS#12, JKS,
 * JCEKS; a keystore's certificate stands in for --cert in a write of index
 * 0), the key as the frame carries it, then at_frame_encode signed by
 * at_sign_frame. What a module would refuse is each command's own
 * judgement (encode's --force, cert's refusal): they look at the loaded
 * material between cli_frame_load and cli_frame_build.
 */
#include "cli.h"

#include "attrace/cert.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_CAP (AT_FRAME_MAX_LEN + AT_FRAME_SIG_MAX + 16)

void cli_frame_material_free(cli_frame_material *m)
{
    free(m->cert_der);
    X509_free(m->cert);
    X509_free(m->store_cert);
    EVP_PKEY_free(m->key);
    if (m->key_der) {
        OPENSSL_cleanse(m->key_der, m->key_len);
        OPENSSL_free(m->key_der);
    }
    memset(m, 0, sizeof *m);
}

uint16_t cli_frame_cmd(const char *op)
{
    static const struct {
        const char *name;
        uint16_t cmd;
    } ops[] = {{"write", AT_CMD_WRITE}, {"read", AT_CMD_READ}, {"delete", AT_CMD_DELETE}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(op, ops[i].name) == 0)
            return ops[i].cmd;
    return 0;
}

bool cli_frame_signed(const cli_frame_req *r)
{
    return !r->sig || strcmp(r->sig, "none") != 0;
}

at_digest_alg cli_frame_digest(const cli_frame_req *r)
{
    if (r->sig)
        return strcmp(r->sig, "sha256") == 0 ? AT_DIGEST_SHA256 : AT_DIGEST_SHA1;
    return r->profile && r->profile->digest_len == AT_DIGEST_SHA256 ? AT_DIGEST_SHA256
                                                                    : AT_DIGEST_SHA1;
}

int cli_frame_load(const char *prog, const cli_frame_req *r, cli_frame_material *m)
{
    char err[512];
    memset(m, 0, sizeof *m);
    if (r->cert_path) {
        if (at_cert_load_der(r->cert_path, &m->cert_der, &m->cert_len, err, sizeof err) != 0) {
            at_msg(prog, "%s", err);
            return 3;
        }
        const unsigned char *q = m->cert_der;
        m->cert = d2i_X509(NULL, &q, (long)m->cert_len);
        if (!m->cert || q != m->cert_der + m->cert_len) {
            at_msg(prog, "%s: not an X.509 certificate", r->cert_path);
            return 3;
        }
    }
    if (r->key && r->key->path) {
        m->key = cli_key_load(prog, r->key, &m->key_info, &m->store_cert);
        if (!m->key)
            return 3;
    }
    /* A keystore holds the client certificate with its key. */
    if (!m->cert && m->store_cert && r->cmd == AT_CMD_WRITE && r->index == 0) {
        int n = i2d_X509(m->store_cert, NULL);
        m->cert_der = n > 0 ? malloc((size_t)n) : NULL;
        unsigned char *q = m->cert_der;
        if (!m->cert_der || i2d_X509(m->store_cert, &q) != n) {
            at_msg(prog, "%s: cannot encode its certificate", r->key->path);
            return 3;
        }
        m->cert_len = (size_t)n;
        m->cert = m->store_cert;
        m->store_cert = NULL;
    }
    if (r->carry_key && m->key) {
        m->key_der = at_key_to_frame_der(m->key, &m->key_len);
        if (!m->key_der) {
            at_msg(prog, "%s: cannot write the key as PKCS#8 DER", r->key->path);
            return 3;
        }
    }
    if (cli_frame_signed(r) && m->key && EVP_PKEY_get_base_id(m->key) != EVP_PKEY_RSA) {
        at_msg(prog, "%s: key type %s; the module checks RSA signatures only", r->key->path,
               m->key_info.type[0] ? m->key_info.type : "not RSA");
        return 3;
    }
    return 0;
}

/* Lowercase hex SHA-1 of @p der into @p out (41 bytes). */
static int sha1_hex(const uint8_t *der, size_t len, char out[41])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(der, len, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
        return -1;
    for (unsigned i = 0; i < 20; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[40] = '\0';
    return 0;
}

int cli_frame_build(const char *prog, const cli_frame_req *r, const cli_frame_material *m,
                    uint8_t **frame, size_t *len)
{
    *frame = NULL;
    *len = 0;
    char thumb[41];
    if (r->thumbprint && (!m->cert_der || sha1_hex(m->cert_der, m->cert_len, thumb) != 0)) {
        at_msg(prog, "cannot compute the SHA-1 thumbprint");
        return 1;
    }
    bool sign = cli_frame_signed(r);
    at_frame_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.cmd_id = r->cmd;
    spec.index = r->index;
    spec.mode = r->mode;
    spec.thumbprint = r->thumbprint ? thumb : NULL;
    if (r->cmd == AT_CMD_WRITE && m->cert_der) {
        spec.cert = m->cert_der;
        spec.cert_len = m->cert_len;
    }
    if (m->key_der) {
        spec.key = m->key_der;
        spec.key_len = m->key_len;
    }
    spec.imei = r->imei;
    spec.sign = sign;
    at_signer signer = {m->key, cli_frame_digest(r)};
    /* Room for any frame at_frame_encode can build: it says when the
     * result would not fit TotalLen. */
    uint8_t *buf = malloc(FRAME_CAP);
    if (!buf) {
        at_msg(prog, "out of memory");
        return 1;
    }
    int status = 0;
    at_status st = at_frame_encode(&spec, sign ? at_sign_frame : NULL, sign ? &signer : NULL,
                                   buf, FRAME_CAP, len);
    if (st == AT_ERR_TOO_LONG || st == AT_ERR_SPACE) {
        at_msg(prog, "the frame would be longer than %u bytes (TotalLen is 16 bits)",
               AT_FRAME_MAX_LEN);
        status = 2;
    } else if (st == AT_ERR_SIGN) {
        at_msg(prog, "signing with %s failed", r->key && r->key->path ? r->key->path : "the key");
        status = 1;
    } else if (st != AT_OK) {
        at_msg(prog, "cannot encode the frame: %s", at_status_str(st));
        status = 1;
    }
    if (status) {
        OPENSSL_cleanse(buf, FRAME_CAP);
        free(buf);
        *len = 0;
        return status;
    }
    *frame = buf;
    return 0;
}

void cli_frame_free(uint8_t *frame, size_t len)
{
    if (frame) {
        OPENSSL_cleanse(frame, len); /* it may carry a private key */
        free(frame);
    }
}
