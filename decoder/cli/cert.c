/*
 * cert.c - `attrace cert list|write|read|delete`: the certificate store of
 * a live module, through the module driver (attrace/driver.h), replacing
 * the vendor's Java tool.
 *
 * Every command starts with AT (is anybody there, is echo on) and, for the
 * secure commands, AT+CGSN (the IMEI that goes into the frame). The frame
 * is built by at_frame_encode and signed by at_sign_frame with the key
 * given, as `attrace encode` builds it; it is sent at SECURE CMD READY.
 * With --frame the file's bytes are sent instead, as they are, faults
 * included: the field's advice "send exactly what the working tool sent,
 * then change one thing at a time" on a live module.
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

#include "frameopts.h"
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
    cli_frame_opts f; /* --index, --cert, --imei, --sig, --frame, --client-cert, --key... */
    const char *out;
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
        "       " CLI_PROG " cert write|read|delete --port DEV --frame FILE [-o FILE] ...\n"
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
        "  --frame FILE       send the frame in FILE as it is (attrace encode -o\n"
        "                     makes one; the vendor tool's -file): nothing is\n"
        "                     built or signed, the answer is checked and diagnosed\n"
        "                     as for a built frame; its CmdId must be the\n"
        "                     operation's, its index --index when given\n"
        "  --client-cert FILE the certificate at index 0 (PEM or DER), when the key\n"
        "                     file does not hold it: the diagnosis checks the\n"
        "                     signatures against it\n"
        "  -o, --output FILE  read: where the certificate goes (DER)\n"
        "  -h, --help         show this help\n"
        "\n");
    fputs(CLI_LIVE_HELP, fp);
    fprintf(fp,
        "\n"
        "Exit status: 0 SECURE CMD END OK (and, after a write, a matching listing);\n"
        "1 any other answer (its words, the exchange and the findings are shown);\n"
        "2 usage error, or refused before sending; 3 port, file or key problem, a\n"
        "silent module or a lost port.\n");
}

/* The options of write, read and delete. -1 to go on, else 2. */
static int check_secure_options(const cert_opts *o)
{
    const cli_frame_opts *f = &o->f;
    if (f->frame) {
        /* Sent as it is: nothing builds or signs it. */
        if (f->cert || f->key.path || f->key.passin || f->key.keypass || f->key.alias ||
            f->sig)
            return cli_usage_error(CERT_PROG, "%s", "--frame is sent as it is: --cert, "
                                   "--key, --passin, --keypass, --alias and --sig build a frame");
    } else {
        if (!f->have_index)
            return cli_usage_error(CERT_PROG, "%s", "missing --index N (or --frame FILE)");
        if (!f->key.path)
            return cli_usage_error(CERT_PROG, "%s",
                                   "missing --key FILE (every frame is signed)");
        int krc = cli_key_options_check(CERT_PROG, &f->key);
        if (krc >= 0)
            return krc;
        if (o->op == OP_WRITE && !f->cert && f->index != 0)
            return cli_usage_error(CERT_PROG, "%s", "missing --cert FILE");
    }
    if (o->op != OP_WRITE && f->cert)
        return cli_usage_error(CERT_PROG, "--cert belongs to write, not to %s", o->op_name);
    if (o->op == OP_READ && !o->out)
        return cli_usage_error(CERT_PROG, "%s", "missing -o FILE (where the certificate goes)");
    if (o->op != OP_READ && o->out)
        return cli_usage_error(CERT_PROG, "-o belongs to read, not to %s", o->op_name);
    if (o->no_verify && o->op != OP_WRITE)
        return cli_usage_error(CERT_PROG, "%s", "--no-verify belongs to write");
    if (f->imei && !cli_imei_ok(f->imei))
        return cli_usage_error(CERT_PROG, "invalid --imei '%s' (15 digits)", f->imei);
    return -1;
}

enum { OPT_NO_VERIFY = 256 };

static int parse_options(int argc, char **argv, cert_opts *o)
{
    static const struct option longopts[] = {
        CLI_FO_FRAME_ROWS,
        CLI_FO_ROW_FRAME,
        CLI_FO_ROW_CLIENT_CERT,
        {"no-verify", no_argument, NULL, OPT_NO_VERIFY},
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
        int fr = cli_live_or_frame_option(&o->live, &o->f, c, optarg, CERT_PROG);
        if (fr == 2)
            return 2;
        if (fr == 1)
            continue;
        switch (c) {
        case OPT_NO_VERIFY: o->no_verify = true; break;
        case 'o': o->out = optarg; break;
        case 'h': help = true; break;
        default: return cli_getopt_error(CERT_PROG, c, argv);
        }
    }
    if (help) {
        cert_help(stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (optind >= argc)
        return cli_usage_error(CERT_PROG, "%s", "missing operation: list, write, read or delete");
    o->op_name = argv[optind];
    uint16_t cmd = cli_frame_cmd(o->op_name);
    if (strcmp(o->op_name, "list") == 0)
        o->op = OP_LIST;
    else if (cmd)
        o->op = cmd == AT_CMD_WRITE ? OP_WRITE : cmd == AT_CMD_READ ? OP_READ : OP_DELETE;
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
        const cli_frame_opts *f = &o->f;
        if (f->have_index || f->cert || f->key.path || f->key.passin || f->key.keypass ||
            f->key.alias || o->out || f->imei || f->sig || f->frame)
            return cli_usage_error(CERT_PROG, "%s",
                                   "list takes only the port options");
        return -1;
    }
    return check_secure_options(o);
}

/* ------------------------------------------------------------------ */
/* Inputs                                                             */
/* ------------------------------------------------------------------ */

/* A frame file holds one frame (TotalLen is 16 bits) and perhaps bytes
 * after it (a TOO MANY DATA test); anything larger is no frame file. */
#define CERT_FRAME_FILE_MAX (65535u + 4096u)

typedef struct cert_inputs {
    cli_frame_req req;        /* the frame, as attrace encode builds it */
    cli_frame_material m;     /* its certificate and key */
    uint8_t *frame;           /* --frame: the bytes sent as they are, or NULL */
    size_t frame_len;
    bool have_index;          /* the index the frame addresses is known */
    uint16_t index;
    bool verify;              /* write: cert_sum is what the listing must show */
    at_cert_summary cert_sum; /* of the certificate written */
    uint8_t *client_der;      /* the client certificate for the analyzer (DER), or NULL */
    size_t client_len;
} cert_inputs;

static void inputs_free(cert_inputs *in)
{
    cli_frame_material_free(&in->m);
    free(in->client_der);
    if (in->frame)
        OPENSSL_cleanse(in->frame, in->frame_len); /* may carry the private key */
    free(in->frame);
}

/* A malloc'd copy of @p len bytes of @p der into @p in's client certificate. */
static void keep_client_der(cert_inputs *in, const uint8_t *der, size_t len)
{
    in->client_der = len ? malloc(len) : NULL;
    if (in->client_der) {
        memcpy(in->client_der, der, len);
        in->client_len = len;
    }
}

static const at_profile *cert_profile(const cert_opts *o)
{
    return o->live.drv.profile ? o->live.drv.profile : at_profile_get(AT_PROFILE_LEGACY);
}

static uint16_t op_cmd(cert_op op)
{
    return op == OP_WRITE ? AT_CMD_WRITE : op == OP_READ ? AT_CMD_READ : AT_CMD_DELETE;
}

/* Builds the frame from the options, as attrace encode does; refuses what
 * the module would refuse. 0, 2 (refused) or 3 (file or key). */
static int load_built(const cert_opts *o, cert_inputs *in)
{
    char err[512];
    const cli_frame_opts *f = &o->f;
    in->req = (cli_frame_req){
        .cmd = op_cmd(o->op),
        .index = f->index,
        .cert_path = o->op == OP_WRITE ? f->cert : NULL,
        .key = &f->key,
        .sig = f->sig,
        .carry_key = o->op == OP_WRITE && f->index == 0,
        .profile = cert_profile(o),
    };
    in->have_index = true;
    in->index = f->index;
    int rc = cli_frame_load(CERT_PROG, &in->req, &in->m);
    if (rc)
        return rc;
    if (o->op == OP_WRITE) {
        if (!in->m.cert_der) {
            fprintf(stderr, CERT_PROG ": --cert FILE: the certificate to write\n");
            return 2;
        }
        if (at_cert_summarize(in->m.cert_der, in->m.cert_len, &in->cert_sum, err,
                              sizeof err) != 0) {
            fprintf(stderr, CERT_PROG ": %s: %s\n", f->cert ? f->cert : f->key.path, err);
            return 3;
        }
        in->verify = true;
        if (f->index == 0) {
            if (X509_check_private_key(in->m.cert, in->m.key) != 1) {
                fprintf(stderr, CERT_PROG ": refused: the key in %s does not belong to the "
                        "certificate of index 0 (nothing sent)\n", f->key.path);
                return 2;
            }
            /* Only the index-0 certificate verifies the signatures. */
            keep_client_der(in, in->m.cert_der, in->m.cert_len);
        }
    }
    const at_profile *prof = cert_profile(o);
    if (f->index > prof->index_max) {
        fprintf(stderr, CERT_PROG ": refused: index %u is outside the %s profile's range "
                "0..%u (nothing sent)\n", f->index, prof->name, prof->index_max);
        return 2;
    }
    if (o->op == OP_WRITE && in->m.cert_len > prof->cert_max) {
        fprintf(stderr, CERT_PROG ": refused: the certificate is %zu bytes, over the %s "
                "profile's limit of %lu (nothing sent)\n", in->m.cert_len, prof->name,
                (unsigned long)prof->cert_max);
        return 2;
    }
    return 0;
}

/* Reads the --frame file into in->frame. 0 or 3. */
static int read_frame_file(const char *path, cert_inputs *in)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        at_msg(CERT_PROG, "--frame %s: %s", path, strerror(errno));
        return 3;
    }
    in->frame = malloc(CERT_FRAME_FILE_MAX + 1);
    if (!in->frame) {
        fclose(fp);
        at_msg(CERT_PROG, "out of memory");
        return 3;
    }
    in->frame_len = fread(in->frame, 1, CERT_FRAME_FILE_MAX + 1, fp);
    bool bad = ferror(fp) != 0;
    fclose(fp);
    if (bad) {
        at_msg(CERT_PROG, "--frame %s: read error", path);
        return 3;
    }
    if (in->frame_len > CERT_FRAME_FILE_MAX) {
        at_msg(CERT_PROG, "--frame %s: larger than %u bytes: not a frame file", path,
               CERT_FRAME_FILE_MAX);
        return 3;
    }
    if (in->frame_len < 4) {
        at_msg(CERT_PROG, "--frame %s: %zu bytes: a frame starts with TotalLen and CmdId "
               "(4 bytes)", path, in->frame_len);
        return 3;
    }
    return 0;
}

/* --frame: the file's bytes go to the module as they are ("send exactly
 * what the working tool sent, then change one thing at a time"). Only what
 * would make the command say something untrue is refused: a CmdId of
 * another operation, an index other than --index. 0, 2 or 3. */
static int load_frame(const cert_opts *o, cert_inputs *in)
{
    const char *path = o->f.frame;
    int rc = read_frame_file(path, in);
    if (rc)
        return rc;
    at_frame *fr = malloc(sizeof *fr);
    if (!fr) {
        at_msg(CERT_PROG, "out of memory");
        return 3;
    }
    at_frame_decode(in->frame, in->frame_len, 0, cert_profile(o), fr);
    uint16_t cmd = fr->cmd_id;
    const char *cmd_name = at_cmd_name(cmd);
    rc = 0;
    if (cmd != op_cmd(o->op) && (cmd == AT_CMD_WRITE || cmd == AT_CMD_READ ||
                                 cmd == AT_CMD_DELETE)) {
        at_msg(CERT_PROG, "refused: %s is a %s frame (CmdId %u), not a %s (nothing sent)",
               path, cmd_name, cmd, o->op_name);
        rc = 2;
    } else if (cmd != op_cmd(o->op)) {
        at_msg(CERT_PROG, "note: %s: CmdId %u is no %s: sent as it is", path, cmd, o->op_name);
    }
    if (!rc && fr->has_index) {
        if (o->f.have_index && o->f.index != fr->index) {
            at_msg(CERT_PROG, "refused: %s addresses index %u, not --index %u (nothing sent)",
                   path, fr->index, o->f.index);
            rc = 2;
        }
        in->have_index = true;
        in->index = fr->index;
    } else if (!rc && o->f.have_index) {
        in->have_index = true;
        in->index = o->f.index;
    }
    const at_frame_unit *u = at_frame_find(fr, AT_PARAM_CERT);
    if (!rc && o->op == OP_WRITE && u && u->whole) {
        char err[256];
        in->verify = at_cert_summarize(u->value, u->value_len, &in->cert_sum, err,
                                       sizeof err) == 0;
        /* The certificate of index 0 verifies the signatures. */
        in->verify = in->verify && in->have_index;
        if (in->verify && in->index == 0)
            keep_client_der(in, u->value, u->value_len);
    }
    if (!rc && o->op == OP_WRITE && !in->verify && !o->no_verify)
        at_msg(CERT_PROG, "note: %s holds no certificate attrace can read: the listing "
               "is not checked after the write", path);
    free(fr);
    return rc;
}

/* Loads what the command needs; 0, 2 (refused) or 3 (file or key). */
static int load_inputs(const cert_opts *o, cert_inputs *in)
{
    int rc = o->f.frame ? load_frame(o, in) : load_built(o, in);
    if (rc)
        return rc;
    char err[512];
    if (!in->client_der && o->f.client_cert &&
        at_cert_load_der(o->f.client_cert, &in->client_der, &in->client_len, err,
                         sizeof err) != 0) {
        fprintf(stderr, CERT_PROG ": --client-cert: %s\n", err);
        return 3;
    }
    /* A keystore's certificate is the client certificate: the analyzer
     * checks the signatures against it. */
    if (!in->client_der && in->m.store_cert) {
        int n = i2d_X509(in->m.store_cert, NULL);
        in->client_der = n > 0 ? malloc((size_t)n) : NULL;
        unsigned char *q = in->client_der;
        if (in->client_der && i2d_X509(in->m.store_cert, &q) == n) {
            in->client_len = (size_t)n;
        } else {
            free(in->client_der);
            in->client_der = NULL;
        }
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
    } else if (o->f.imei && strcmp(o->f.imei, r.imei) != 0) {
        fprintf(stderr, CERT_PROG ": refused: --imei %s, but the module on %s is %s "
                "(nothing sent)\n", o->f.imei, o->live.ports[0], r.imei);
        status = 2;
    } else {
        memcpy(imei, r.imei, 16);
    }
    at_driver_reply_free(&r);
    return status;
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
static int verify_written(cli_live *l, const cert_inputs *in)
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
            e.index != in->index)
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
                    in->index, r.lines[i], in->cert_sum.size, in->cert_sum.thumbprint);
            cli_live_show(l, stdout);
            status = 1;
        }
    }
    if (!found) {
        fprintf(stderr, CERT_PROG ": write: SECURE CMD END OK, but the listing has no "
                "line for index %u\n", in->index);
        cli_live_show(l, stdout);
        status = 1;
    }
    at_driver_reply_free(&r);
    if (!status)
        printf("index %u: listed with size %zu and thumbprint %s\n", in->index,
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
    size_t len = in->frame_len;
    uint8_t *frame = in->frame;
    if (!frame) {
        cli_frame_req req = in->req;
        req.imei = imei;
        status = cli_frame_build(CERT_PROG, &req, &in->m, &frame, &len);
        if (status)
            return status == 2 ? 2 : 3;
    }
    at_driver_reply r;
    int rc = at_driver_secure(l->drv, "AT^SBNW=is_cert,1", frame, len, &r);
    if (frame != in->frame)
        cli_frame_free(frame, len);
    char what[64];
    if (in->have_index)
        snprintf(what, sizeof what, "%s of index %u", o->op_name, in->index);
    else
        snprintf(what, sizeof what, "%s (--frame)", o->op_name);
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
            char where[32] = "read"; /* a --frame without index unit */
            if (in->have_index)
                snprintf(where, sizeof where, "index %u", in->index);
            if (at_cert_summarize(r.frame_cert, r.frame_cert_len, &s, err, sizeof err) == 0)
                printf("%s: %s, %zu bytes, thumbprint %s\n", where, s.subject, s.size,
                       s.thumbprint);
            status = save_cert(o->out, r.frame_cert, r.frame_cert_len);
        }
    }
    at_driver_reply_free(&r);
    if (!status && o->op == OP_WRITE && !o->no_verify && in->verify)
        status = verify_written(l, in);
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
    rc = cli_live_open(&l, &o.live, o.live.ports[0], o.live.trace, 0, in.client_der,
                       in.client_len, note, CERT_PROG);
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
