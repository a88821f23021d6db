/*
 * cert.c - `attrace cert list|write|read|delete`: the certificate store of
 * a live module, through the module driver (attrace/driver.h), replacing
 * the vendor's Java tool.
 *
 * Every command starts with AT (is anybody there, is echo on) and, for the
 * secure commands, AT+CGSN (the IMEI that goes into the frame). The frame
 * is built by at_frame_encode and signed by at_sign_frame with the key
 * given, as `attrace encode` builds it; it is sent at SECURE CMD READY.
 * Success is SECURE CMD END OK and OK; after a write the ^SBNR listing must
 * show the certificate's size and thumbprint at its index (--no-verify
 * skips that). Anything else prints the module's words, the exchange as
 * `attrace decode` shows it, and the diagnosis findings of the session.
 *
 * Exit: 0 success; 1 the module answered otherwise; 2 usage error or
 * refused before anything was sent; 3 port, file or key problems (and a
 * silent module, a lost port).
 */
#define _GNU_SOURCE /* getopt_long */

#include "live.h"

#include "attrace/cert.h"
#include "attrace/crypto.h"

#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CERT_PROG CLI_PROG " cert"

typedef enum cert_op { OP_LIST, OP_WRITE, OP_READ, OP_DELETE } cert_op;

typedef struct cert_opts {
    cert_op op;
    const char *op_name;
    cli_live_opts live;
    bool have_index;
    uint16_t index;
    const char *cert, *imei, *sig, *out, *client_cert;
    at_key_source key; /* --key, --passin, --keypass, --alias */
    bool no_verify;
} cert_opts;

static void cert_help(FILE *fp)
{
    fprintf(fp,
        "Usage: " CLI_PROG " cert list   --port DEV [PORT OPTIONS]\n"
        "       " CLI_PROG " cert write  --port DEV --index N --cert FILE --key FILE\n"
        "                          [--passin SPEC] [--keypass SPEC] [--alias NAME]\n"
        "                          [--imei DIGITS]\n"
        "                          [--sig sha1|sha256] [--no-verify] [PORT OPTIONS]\n"
        "       " CLI_PROG " cert read   --port DEV --index N -o FILE --key FILE ...\n"
        "       " CLI_PROG " cert delete --port DEV --index N --key FILE ...\n"
        "\n"
        "The certificate store of a live module (AT^SBNW=is_cert,1 frames, the\n"
        "AT^SBNR=is_cert listing). The IMEI in the frames is read from the module\n"
        "(AT+CGSN); --imei makes sure it is that module (a different answer is\n"
        "refused before anything is sent). Every frame is signed with --key (the\n"
        "client key, whose certificate is at index 0); a write of index 0 also\n"
        "carries that key. After a write the listing must show the certificate's\n"
        "size and thumbprint at its index.\n"
        "\n"
        "Options:\n"
        "  --index N          certificate index (0: the client certificate)\n"
        "  --cert FILE        the certificate to write (PEM or DER)\n"
        "  --key FILE         the signing key: PEM/DER, PKCS#1/#8, or a keystore:\n"
        "                     PKCS#12, Java's JKS or JCEKS\n"
        CLI_KEY_OPTIONS_HELP
        "  --imei DIGITS      the module's IMEI, checked against AT+CGSN\n"
        "  --sig ALG          signature digest: sha1 (legacy, default), sha256\n"
        "  --no-verify        write: do not read the listing back\n"
        "  --client-cert FILE the certificate at index 0 (PEM or DER), when the key\n"
        "                     file does not hold it: the diagnosis checks the\n"
        "                     signatures against it\n"
        "  -o, --output FILE  read: where the certificate goes (DER)\n"
        "  -h, --help         show this help\n"
        "\n" CLI_LIVE_HELP
        "\n"
        "Exit status: 0 SECURE CMD END OK (and, after a write, a matching listing);\n"
        "1 any other answer (its words, the exchange and the findings are shown);\n"
        "2 usage error, or refused before sending; 3 port, file or key problem, a\n"
        "silent module or a lost port.\n");
}

enum {
    OPT_INDEX = 256,
    OPT_CERT,
    OPT_IMEI,
    OPT_SIG,
    OPT_NO_VERIFY,
    OPT_CLIENT_CERT
};

static int parse_options(int argc, char **argv, cert_opts *o)
{
    static const struct option longopts[] = {
        {"index", required_argument, NULL, OPT_INDEX},
        {"cert", required_argument, NULL, OPT_CERT},
        CLI_KEY_LONGOPTS,
        {"imei", required_argument, NULL, OPT_IMEI},
        {"sig", required_argument, NULL, OPT_SIG},
        {"no-verify", no_argument, NULL, OPT_NO_VERIFY},
        {"client-cert", required_argument, NULL, OPT_CLIENT_CERT},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        CLI_LIVE_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    bool help = false;
    memset(o, 0, sizeof *o);
    cli_live_opts_init(&o->live);
    opterr = 0;
    optind = 1;
    for (;;) {
        int c = getopt_long(argc, argv, ":ho:w:", longopts, NULL);
        if (c == -1)
            break;
        int lr = cli_live_option(&o->live, c, optarg, CERT_PROG);
        if (lr == 2)
            return 2;
        if (lr == 1 || cli_key_option(c, optarg, &o->key))
            continue;
        switch (c) {
        case OPT_INDEX: {
            uint32_t v;
            if (cli_parse_u32(optarg, 0, 65535, &v) != 0)
                return cli_usage_error(CERT_PROG, "invalid --index '%s'", optarg);
            o->have_index = true;
            o->index = (uint16_t)v;
            break;
        }
        case OPT_CERT: o->cert = optarg; break;
        case OPT_IMEI: o->imei = optarg; break;
        case OPT_SIG:
            if (strcmp(optarg, "sha1") != 0 && strcmp(optarg, "sha256") != 0)
                return cli_usage_error(CERT_PROG, "invalid --sig '%s' (sha1 or sha256)",
                                       optarg);
            o->sig = optarg;
            break;
        case OPT_NO_VERIFY: o->no_verify = true; break;
        case OPT_CLIENT_CERT: o->client_cert = optarg; break;
        case 'o': o->out = optarg; break;
        case 'h': help = true; break;
        default: return cli_option_error(CERT_PROG, c, argv);
        }
    }
    if (help) {
        cert_help(stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (optind >= argc)
        return cli_usage_error(CERT_PROG, "%s", "missing operation: list, write, read or delete");
    o->op_name = argv[optind];
    if (strcmp(o->op_name, "list") == 0)
        o->op = OP_LIST;
    else if (strcmp(o->op_name, "write") == 0)
        o->op = OP_WRITE;
    else if (strcmp(o->op_name, "read") == 0)
        o->op = OP_READ;
    else if (strcmp(o->op_name, "delete") == 0)
        o->op = OP_DELETE;
    else
        return cli_usage_error(CERT_PROG, "unknown operation '%s' (list, write, read or delete)",
                               o->op_name);
    if (argc - optind > 1)
        return cli_usage_error(CERT_PROG, "unexpected argument '%s'", argv[optind + 1]);
    if (o->live.n_ports == 0)
        return cli_usage_error(CERT_PROG, "%s", "missing --port DEV (the module's serial port)");
    if (o->live.n_ports > 1)
        return cli_usage_error(CERT_PROG, "%s", "one --port only (attrace replay serves many)");
    if (o->op == OP_LIST) {
        if (o->have_index || o->cert || o->key.path || o->key.passin || o->key.keypass ||
            o->key.alias || o->out || o->imei || o->sig)
            return cli_usage_error(CERT_PROG, "%s",
                                   "list takes only the port options");
        return -1;
    }
    if (!o->have_index)
        return cli_usage_error(CERT_PROG, "%s", "missing --index N");
    if (!o->key.path)
        return cli_usage_error(CERT_PROG, "%s", "missing --key FILE (every frame is signed)");
    int krc = cli_key_options_check(CERT_PROG, &o->key);
    if (krc >= 0)
        return krc;
    if (o->op == OP_WRITE && !o->cert && !(o->index == 0))
        return cli_usage_error(CERT_PROG, "%s", "missing --cert FILE");
    if (o->op != OP_WRITE && o->cert)
        return cli_usage_error(CERT_PROG, "--cert belongs to write, not to %s", o->op_name);
    if (o->op == OP_READ && !o->out)
        return cli_usage_error(CERT_PROG, "%s", "missing -o FILE (where the certificate goes)");
    if (o->op != OP_READ && o->out)
        return cli_usage_error(CERT_PROG, "-o belongs to read, not to %s", o->op_name);
    if (o->no_verify && o->op != OP_WRITE)
        return cli_usage_error(CERT_PROG, "%s", "--no-verify belongs to write");
    if (o->imei && (strlen(o->imei) != 15 || strspn(o->imei, "0123456789") != 15))
        return cli_usage_error(CERT_PROG, "invalid --imei '%s' (15 digits)", o->imei);
    return -1;
}

/* ------------------------------------------------------------------ */
/* Inputs                                                             */
/* ------------------------------------------------------------------ */

typedef struct cert_inputs {
    uint8_t *cert_der;
    size_t cert_len;
    at_cert_summary cert_sum;
    X509 *cert;               /* the client certificate for the analyzer, or NULL */
    EVP_PKEY *key;
    uint8_t *key_der;         /* PKCS#8, index-0 write only */
    size_t key_len;
} cert_inputs;

static void inputs_free(cert_inputs *in)
{
    free(in->cert_der);
    X509_free(in->cert);
    EVP_PKEY_free(in->key);
    if (in->key_der) {
        OPENSSL_cleanse(in->key_der, in->key_len);
        OPENSSL_free(in->key_der);
    }
}

/* Loads what the command needs; 0, 2 (refused) or 3 (file or key). */
static int load_inputs(const cert_opts *o, cert_inputs *in)
{
    char err[512];
    X509 *p12_cert = NULL;
    at_key_info info;
    memset(&info, 0, sizeof info);
    in->key = cli_key_load(CERT_PROG, &o->key, &info, &p12_cert);
    if (!in->key)
        return 3;
    if (EVP_PKEY_get_base_id(in->key) != EVP_PKEY_RSA) {
        fprintf(stderr, CERT_PROG ": %s: a %s key; the module checks RSA signatures only\n",
                o->key.path, info.type[0] ? info.type : "non-RSA");
        X509_free(p12_cert);
        return 3;
    }
    if (o->op == OP_WRITE) {
        if (o->cert) {
            if (at_cert_load_der(o->cert, &in->cert_der, &in->cert_len, err, sizeof err) != 0) {
                fprintf(stderr, CERT_PROG ": %s\n", err);
                X509_free(p12_cert);
                return 3;
            }
        } else if (p12_cert) { /* a keystore holds the client certificate */
            int n = i2d_X509(p12_cert, NULL);
            in->cert_der = n > 0 ? malloc((size_t)n) : NULL;
            unsigned char *q = in->cert_der;
            if (!in->cert_der || i2d_X509(p12_cert, &q) != n) {
                fprintf(stderr, CERT_PROG ": %s: cannot encode its certificate\n", o->key.path);
                X509_free(p12_cert);
                return 3;
            }
            in->cert_len = (size_t)n;
        } else {
            fprintf(stderr, CERT_PROG ": --cert FILE: the certificate to write\n");
            return 2;
        }
        if (at_cert_parse(in->cert_der, in->cert_len, &in->cert_sum, &in->cert, err,
                          sizeof err) != 0) {
            fprintf(stderr, CERT_PROG ": %s: %s\n", o->cert ? o->cert : o->key.path, err);
            X509_free(p12_cert);
            return 3;
        }
        if (o->index == 0) {
            if (X509_check_private_key(in->cert, in->key) != 1) {
                fprintf(stderr, CERT_PROG ": refused: the key in %s does not belong to the "
                        "certificate of index 0 (nothing sent)\n", o->key.path);
                X509_free(p12_cert);
                return 2;
            }
            in->key_der = at_key_to_frame_der(in->key, &in->key_len);
            if (!in->key_der) {
                fprintf(stderr, CERT_PROG ": %s: cannot write the key as PKCS#8 DER\n", o->key.path);
                X509_free(p12_cert);
                return 3;
            }
        } else {
            /* Only the index-0 certificate verifies the signatures. */
            X509_free(in->cert);
            in->cert = NULL;
        }
    }
    if (!in->cert && o->client_cert) {
        in->cert = at_cert_load(o->client_cert, err, sizeof err);
        if (!in->cert) {
            fprintf(stderr, CERT_PROG ": --client-cert: %s\n", err);
            X509_free(p12_cert);
            return 3;
        }
    }
    if (!in->cert && p12_cert) {
        in->cert = p12_cert; /* the client certificate: the analyzer checks signatures */
        p12_cert = NULL;
    }
    X509_free(p12_cert);
    const at_profile *prof = o->live.drv.profile ? o->live.drv.profile
                                                 : at_profile_get(AT_PROFILE_LEGACY);
    if (o->index > prof->index_max) {
        fprintf(stderr, CERT_PROG ": refused: index %u is outside the %s profile's range "
                "0..%u (nothing sent)\n", o->index, prof->name, prof->index_max);
        return 2;
    }
    if (o->op == OP_WRITE && in->cert_len > prof->cert_max) {
        fprintf(stderr, CERT_PROG ": refused: the certificate is %zu bytes, over the %s "
                "profile's limit of %lu (nothing sent)\n", in->cert_len, prof->name,
                (unsigned long)prof->cert_max);
        return 2;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The session                                                        */
/* ------------------------------------------------------------------ */

/* A failed exchange: the module's words (or the driver's message), the
 * exchange as decode shows it with its findings. */
static int answered_otherwise(cli_live *l, const at_driver_reply *r, const char *what)
{
    if (r->status != AT_DRV_DONE) {
        cli_live_show(l, stdout);
        cli_live_report_failure(l, r, CERT_PROG, stderr);
        return 3;
    }
    char words[2 * AT_DRIVER_TEXT_MAX + 32];
    cli_live_words(r, words, sizeof words);
    fprintf(stderr, CERT_PROG ": %s: the module answered %s\n", what, words);
    cli_live_show(l, stdout);
    return 1;
}

/* AT: somebody answers, with echo or not. 0 or the exit status. */
static int hello(cli_live *l)
{
    at_driver_reply r;
    int rc = at_driver_command(l->drv, "AT", &r);
    int status = 0;
    if (rc != 0)
        status = answered_otherwise(l, &r, "AT");
    else if (!at_driver_reply_ok(&r))
        status = answered_otherwise(l, &r, "AT");
    else if (!r.echoed)
        fprintf(stderr, CERT_PROG ": note: echo is off (ATE0): the module does not "
                "repeat the commands; attrace does not need it (ATE1 turns it on)\n");
    at_driver_reply_free(&r);
    return status;
}

static int read_imei(cli_live *l, const cert_opts *o, char imei[16])
{
    at_driver_reply r;
    int rc = at_driver_command(l->drv, "AT+CGSN", &r);
    int status = 0;
    if (rc != 0 || !at_driver_reply_ok(&r)) {
        status = answered_otherwise(l, &r, "AT+CGSN");
    } else if (!r.imei[0]) {
        fprintf(stderr, CERT_PROG ": AT+CGSN: no 15-digit IMEI in the answer\n");
        cli_live_show(l, stdout);
        status = 1;
    } else if (o->imei && strcmp(o->imei, r.imei) != 0) {
        fprintf(stderr, CERT_PROG ": refused: --imei %s, but the module on %s is %s "
                "(nothing sent)\n", o->imei, o->live.ports[0], r.imei);
        status = 2;
    } else {
        memcpy(imei, r.imei, 16);
    }
    at_driver_reply_free(&r);
    return status;
}

static uint8_t *build_frame(const cert_opts *o, const cert_inputs *in, const char *imei,
                            size_t *len)
{
    at_frame_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.cmd_id = o->op == OP_WRITE ? AT_CMD_WRITE : o->op == OP_READ ? AT_CMD_READ
                                                                      : AT_CMD_DELETE;
    spec.index = o->index;
    if (o->op == OP_WRITE) {
        spec.cert = in->cert_der;
        spec.cert_len = in->cert_len;
        spec.key = in->key_der;
        spec.key_len = in->key_der ? in->key_len : 0;
    }
    spec.imei = imei;
    spec.sign = true;
    const at_profile *prof = o->live.drv.profile ? o->live.drv.profile
                                                 : at_profile_get(AT_PROFILE_LEGACY);
    at_digest_alg dig = o->sig ? (strcmp(o->sig, "sha256") == 0 ? AT_DIGEST_SHA256
                                                                 : AT_DIGEST_SHA1)
                               : (prof->digest_len == AT_DIGEST_SHA256 ? AT_DIGEST_SHA256
                                                                       : AT_DIGEST_SHA1);
    at_signer signer = {in->key, dig};
    size_t cap = AT_FRAME_MAX_LEN + AT_FRAME_SIG_MAX + 16;
    uint8_t *frame = malloc(cap);
    if (!frame)
        return NULL;
    at_status st = at_frame_encode(&spec, at_sign_frame, &signer, frame, cap, len);
    if (st != AT_OK) {
        fprintf(stderr, CERT_PROG ": cannot build the frame: %s\n", at_status_str(st));
        OPENSSL_cleanse(frame, cap);
        free(frame);
        return NULL;
    }
    return frame;
}

/* The listing; @p entry gets the line of @p index when asked. */
static int listing(cli_live *l, at_driver_reply *r)
{
    int rc = at_driver_command(l->drv, "AT^SBNR=is_cert", r);
    if (rc != 0 || !at_driver_reply_ok(r))
        return answered_otherwise(l, r, "AT^SBNR=is_cert");
    return 0;
}

/* After a write: the listing shows the certificate at its index. */
static int verify_written(cli_live *l, const cert_opts *o, const cert_inputs *in)
{
    at_driver_reply r;
    int status = listing(l, &r);
    if (status) {
        at_driver_reply_free(&r);
        return status;
    }
    bool found = false;
    for (size_t i = 0; i < r.n_lines && !found; i++) {
        at_sbnr e;
        if (at_parse_sbnr(r.lines[i], strlen(r.lines[i]), 0, &e, NULL) != AT_OK ||
            e.index != o->index)
            continue;
        found = true;
        bool size_ok = e.kind == AT_SBNR_ENTRY && e.size == in->cert_sum.size;
        bool thumb_ok = e.kind == AT_SBNR_ENTRY &&
                        e.thumbprint.len == strlen(in->cert_sum.thumbprint) &&
                        strncasecmp(e.thumbprint.ptr, in->cert_sum.thumbprint,
                                    e.thumbprint.len) == 0;
        if (!size_ok || !thumb_ok) {
            fprintf(stderr, CERT_PROG ": write: SECURE CMD END OK, but the listing "
                    "shows at index %u: %s (the certificate: size %zu, thumbprint %s)\n",
                    o->index, r.lines[i], in->cert_sum.size, in->cert_sum.thumbprint);
            cli_live_show(l, stdout);
            status = 1;
        }
    }
    if (!found) {
        fprintf(stderr, CERT_PROG ": write: SECURE CMD END OK, but the listing has no "
                "line for index %u\n", o->index);
        cli_live_show(l, stdout);
        status = 1;
    }
    at_driver_reply_free(&r);
    if (!status)
        printf("index %u: listed with size %zu and thumbprint %s\n", o->index,
               in->cert_sum.size, in->cert_sum.thumbprint);
    return status;
}

static int save_cert(const char *path, const uint8_t *der, size_t len)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
    if (!fp) {
        fprintf(stderr, CERT_PROG ": %s: %s\n", path, strerror(errno));
        return 3;
    }
    bool ok = fwrite(der, 1, len, fp) == len;
    ok = (fp == stdout ? fflush(fp) == 0 : fclose(fp) == 0) && ok;
    if (!ok) {
        fprintf(stderr, CERT_PROG ": error writing %s\n", path);
        return 3;
    }
    return 0;
}

static int run_secure(cli_live *l, const cert_opts *o, const cert_inputs *in)
{
    char imei[16];
    int status = read_imei(l, o, imei);
    if (status)
        return status;
    /* The store as it is, for the diagnosis (which slots hold what, whether
     * there is a client certificate). */
    at_driver_reply lr;
    status = listing(l, &lr);
    at_driver_reply_free(&lr);
    if (status)
        return status;
    size_t len = 0;
    uint8_t *frame = build_frame(o, in, imei, &len);
    if (!frame)
        return 3;
    at_driver_reply r;
    int rc = at_driver_secure(l->drv, "AT^SBNW=is_cert,1", frame, len, &r);
    OPENSSL_cleanse(frame, len);
    free(frame);
    char what[64];
    snprintf(what, sizeof what, "%s of index %u", o->op_name, o->index);
    if (rc != 0 || !at_driver_reply_ok(&r)) {
        status = answered_otherwise(l, &r, what);
        at_driver_reply_free(&r);
        return status;
    }
    printf("%s: SECURE CMD END OK\n", what);
    if (o->op == OP_READ) {
        if (!r.frame_cert) {
            fprintf(stderr, CERT_PROG ": read: SECURE CMD END OK, but no certificate came "
                    "back in a response frame\n");
            cli_live_show(l, stdout);
            status = 1;
        } else {
            at_cert_summary s;
            char err[256];
            if (at_cert_summarize(r.frame_cert, r.frame_cert_len, &s, err, sizeof err) == 0)
                printf("index %u: %s, %zu bytes, thumbprint %s\n", o->index, s.subject,
                       s.size, s.thumbprint);
            status = save_cert(o->out, r.frame_cert, r.frame_cert_len);
        }
    }
    at_driver_reply_free(&r);
    if (!status && o->op == OP_WRITE && !o->no_verify)
        status = verify_written(l, o, in);
    return status;
}

int cli_cert_main(int argc, char **argv)
{
    cert_opts o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    cert_inputs in;
    memset(&in, 0, sizeof in);
    if (o.op != OP_LIST) {
        rc = load_inputs(&o, &in);
        if (rc) {
            inputs_free(&in);
            return rc;
        }
    }
    char note[64];
    snprintf(note, sizeof note, CERT_PROG " %s", o.op_name);
    cli_live l;
    rc = cli_live_open(&l, &o.live, o.live.ports[0], o.live.trace, 0, in.cert, note, CERT_PROG);
    if (rc) {
        inputs_free(&in);
        return rc;
    }
    int status = hello(&l);
    if (!status && o.op == OP_LIST) {
        at_driver_reply r;
        cli_live_discard(&l);
        status = listing(&l, &r);
        if (!status)
            cli_live_show(&l, stdout);
        at_driver_reply_free(&r);
    } else if (!status) {
        status = run_secure(&l, &o, &in);
    }
    /* Findings that wait for the end of the session, shown with a failure. */
    int crc = cli_live_close(&l, CERT_PROG);
    if (!status && crc)
        status = crc;
    if (fflush(stdout) != 0 && !status)
        status = 3;
    inputs_free(&in);
    return status;
}
