/*
 * encode.c - `attrace encode write|read|delete`: builds one secure-command
 * frame (PROTOCOL.md sections 3-4) and writes it to a file, for firmware
 * that sends it itself after SECURE CMD READY.
 *
 * The frame is laid out by at_frame_encode in the vendor tool's unit order
 * and signed by at_sign_frame with the client key (the key of the
 * index-0 certificate), which a WRITE of index 0 also carries. What a module
 * would refuse is refused here too (exit 2) unless --force. The output is a
 * function of the inputs only (PKCS#1 v1.5 signatures are deterministic),
 * and the file is created with mode 0600: it may hold a private key.
 */
#define _GNU_SOURCE /* getopt_long, fchmod, ftruncate, O_CLOEXEC */

#include "cli.h"
#include "private_file.h"

#include "attrace/cert.h"
#include "attrace/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENC_PROG CLI_PROG " encode"

typedef struct enc_opts {
    const char *op;
    uint16_t cmd;
    bool have_index;
    uint16_t index;
    const char *cert, *imei, *mode, *out, *sig;
    at_key_source key; /* --key, --passin, --keypass, --alias */
    const at_profile *profile;
    bool thumbprint, include_key, force;
} enc_opts;

static void encode_help(FILE *fp)
{
    fprintf(fp,
        "Usage: " ENC_PROG " write|read|delete --index N [OPTIONS] -o FILE|-\n"
        "\n"
        "Builds one secure-command frame, as a module expects it after\n"
        "AT^SBNW=is_cert,1 and SECURE CMD READY, and writes it to FILE (- for\n"
        "standard output). Units in the vendor tool's order: [mode] [thumbprint]\n"
        "index, [cert], [key], [IMEI], [signature]. The signature is what the\n"
        "module checks: the SHA-1 or SHA-256 digest of the bytes from offset 2 up\n"
        "to the signature unit, RSA PKCS#1 v1.5 on the raw digest, base64. The\n"
        "same inputs always give the same bytes.\n"
        "\n"
        "Operations:\n"
        "  write     store the certificate at --index (index 0: the client\n"
        "            certificate, and the frame carries its private key)\n"
        "  read      read the certificate at --index\n"
        "  delete    delete the certificate at --index\n"
        "\n"
        "Options:\n"
        "  --index N          certificate index: 0 the client certificate, 1..10\n"
        "                     (legacy) or 1..30 (newer) server certificates\n"
        "  --cert FILE        the certificate to write, PEM or DER (sent as DER);\n"
        "                     with read/delete only for --thumbprint. A write of\n"
        "                     index 0 may take it from a keystore --key instead\n"
        "  --key FILE         the client private key (whose certificate is at index\n"
        "                     0): it signs the frame, and a write of index 0 carries\n"
        "                     it (as unencrypted PKCS#8 DER). PEM or DER, PKCS#1 or\n"
        "                     PKCS#8 (encrypted or not), or a keystore: PKCS#12\n"
        "                     (.p12, .pfx), Java's JKS or JCEKS (keytool -keystore)\n");
    fputs(CLI_KEY_OPTIONS_HELP, fp);
    fprintf(fp,
        "  --imei DIGITS      the module's IMEI (15 digits, from AT+CGSN); a signed\n"
        "                     frame carries it\n"
        "  --sig ALG          sha1, sha256, or none for an unsigned frame (newer\n"
        "                     modules outside secure mode); default: sha1 for\n"
        "                     legacy, sha256 for newer\n"
        "  --profile NAME     module family: legacy (default) or newer; sets the\n"
        "                     index range, size limits, default digest and whether\n"
        "                     unsigned frames are accepted\n"
        "  --mode NAME        add a mode unit, the store name (e.g. preconfig_cert)\n"
        "  --thumbprint       add the certificate's SHA-1 thumbprint (lowercase hex)\n"
        "  --include-key      carry the key in a frame other than a write of index 0\n"
        "                     (modules refuse that: needs --force)\n"
        "  --force            write what the module would refuse: an index outside\n"
        "                     the profile's range, a key with an index other than 0,\n"
        "                     a certificate or key over the size limit, a write\n"
        "                     without certificate, an IMEI that is not 15 digits, a\n"
        "                     signed frame without IMEI, an unsigned frame for a\n"
        "                     legacy module, a key that does not belong to the\n"
        "                     index-0 certificate\n"
        "  -o, --output FILE  the frame's file, created or replaced with mode 0600\n"
        "                     (it may hold a private key); - for standard output,\n"
        "                     which must not be a terminal\n"
        "  -h, --help         show this help\n"
        "\n"
        "Examples (passwords come from the environment or a file, never from the\n"
        "command line):\n"
        "  read -rs KEYPASS && export KEYPASS    (typed without echo)\n"
        "  " ENC_PROG " write --index 0 --cert client.crt.pem --key client.key.pem \\\n"
        "      --passin env:KEYPASS --imei 358240051111110 -o write-client.bin\n"
        "  " ENC_PROG " write --index 1 --cert ca.der --key client.p12 \\\n"
        "      --alias myalias --passin file:/run/secrets/p12pass \\\n"
        "      --imei 358240051111110 -o write-ca.bin\n"
        "  " ENC_PROG " write --index 0 --key client.ks --alias mykey \\\n"
        "      --passin env:STOREPASS --keypass env:KEYPASS \\\n"
        "      --imei 358240051111110 -o write-client.bin\n"
        "  " ENC_PROG " delete --index 2 --profile newer --sig none -o - | xxd\n"
        "\n"
        "Exit status: 0 written; 1 the output could not be written or signing\n"
        "failed; 2 usage error, or a frame the module would refuse (without\n"
        "--force); 3 a certificate, key or password could not be read or used.\n");
}

/* What the module would refuse: refused (exit 2), or written anyway
 * with a warning under --force. */
typedef struct refusals {
    bool force;
    unsigned n;
} refusals;

static void refuse(refusals *r, const char *fmt, ...)
{
    char why[1024];
    va_list ap;
    r->n++;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    at_msg(ENC_PROG, "%s: %s%s", r->force ? "warning" : "refused", why,
           r->force ? " (written anyway: --force)" : " (--force writes it anyway)");
}

enum {
    OPT_INDEX = 256,
    OPT_CERT,
    OPT_IMEI,
    OPT_SIG,
    OPT_PROFILE,
    OPT_MODE,
    OPT_THUMBPRINT,
    OPT_INCLUDE_KEY,
    OPT_FORCE
};

/* Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, enc_opts *o)
{
    static const struct option longopts[] = {
        {"index", required_argument, NULL, OPT_INDEX},
        {"cert", required_argument, NULL, OPT_CERT},
        CLI_KEY_LONGOPTS,
        {"imei", required_argument, NULL, OPT_IMEI},
        {"sig", required_argument, NULL, OPT_SIG},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"mode", required_argument, NULL, OPT_MODE},
        {"thumbprint", no_argument, NULL, OPT_THUMBPRINT},
        {"include-key", no_argument, NULL, OPT_INCLUDE_KEY},
        {"force", no_argument, NULL, OPT_FORCE},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool help = false;

    memset(o, 0, sizeof *o);
    opterr = 0;
    optind = 1;
    for (;;) {
        int c = getopt_long(argc, argv, ":ho:", longopts, NULL);
        if (c == -1)
            break;
        if (cli_key_option(c, optarg, &o->key))
            continue;
        switch (c) {
        case OPT_INDEX: {
            char *end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (!(*optarg >= '0' && *optarg <= '9') || *end || errno || v > 65535)
                return cli_usage_error(ENC_PROG, "invalid --index '%s' (0..65535)", optarg);
            o->have_index = true;
            o->index = (uint16_t)v;
            break;
        }
        case OPT_CERT: o->cert = optarg; break;
        case OPT_IMEI: o->imei = optarg; break;
        case OPT_SIG:
            if (strcmp(optarg, "sha1") != 0 && strcmp(optarg, "sha256") != 0 &&
                strcmp(optarg, "none") != 0)
                return cli_usage_error(ENC_PROG, "invalid --sig '%s' (sha1, sha256 or none)",
                                          optarg);
            o->sig = optarg;
            break;
        case OPT_PROFILE:
            o->profile = at_profile_by_name(optarg);
            if (!o->profile)
                return cli_usage_error(ENC_PROG, "unknown profile '%s' (known: legacy, newer)",
                                          optarg);
            break;
        case OPT_MODE:
            if (!*optarg)
                return cli_usage_error(ENC_PROG, "%s", "--mode needs a store name");
            o->mode = optarg;
            break;
        case OPT_THUMBPRINT: o->thumbprint = true; break;
        case OPT_INCLUDE_KEY: o->include_key = true; break;
        case OPT_FORCE: o->force = true; break;
        case 'o': o->out = optarg; break;
        case 'h': help = true; break;
        default:
            return cli_getopt_error(ENC_PROG, c, argv);
        }
    }
    if (help) {
        encode_help(stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }

    if (optind >= argc)
        return cli_usage_error(ENC_PROG, "%s", "missing operation: write, read or delete");
    o->op = argv[optind];
    if (strcmp(o->op, "write") == 0)
        o->cmd = AT_CMD_WRITE;
    else if (strcmp(o->op, "read") == 0)
        o->cmd = AT_CMD_READ;
    else if (strcmp(o->op, "delete") == 0)
        o->cmd = AT_CMD_DELETE;
    else
        return cli_usage_error(ENC_PROG, "unknown operation '%s' (write, read or delete)",
                                  o->op);
    if (argc - optind > 1)
        return cli_usage_error(ENC_PROG, "unexpected argument '%s'", argv[optind + 1]);

    if (!o->have_index)
        return cli_usage_error(ENC_PROG, "%s", "missing --index N");
    if (!o->out)
        return cli_usage_error(ENC_PROG, "%s", "missing -o FILE (- for standard output)");
    if (!o->profile)
        o->profile = at_profile_get(AT_PROFILE_LEGACY);
    if (!o->sig)
        o->sig = o->profile->digest_len == AT_DIGEST_SHA256 ? "sha256" : "sha1";

    bool sign = strcmp(o->sig, "none") != 0;
    if (o->cert && o->cmd != AT_CMD_WRITE && !o->thumbprint)
        return cli_usage_error(ENC_PROG, "--cert with %s: only a write carries a certificate "
                                  "(with --thumbprint it gives the thumbprint)", o->op);
    int krc = cli_key_options_check(ENC_PROG, &o->key);
    if (krc >= 0)
        return krc;
    if (!o->key.path && o->include_key)
        return cli_usage_error(ENC_PROG, "%s", "--include-key needs --key");
    if (sign && !o->key.path)
        return cli_usage_error(ENC_PROG, 
            "--sig %s needs --key: the client key (of the index-0 certificate) signs "
            "the frame; --sig none writes an unsigned frame", o->sig);
    return -1;
}

/* How much of a wrong --imei a message quotes. */
#define IMEI_QUOTE_MAX 20u

/* RSA keys under this many bits get a warning (they can be factored). */
#define RSA_WEAK_BITS 1024

static bool imei_ok(const char *s)
{
    size_t n = strlen(s);
    if (n != 15)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Writes the frame: a regular file gets mode 0600 before any byte goes in,
 * never through a symbolic link (at_private_file_create, as the trace
 * writers). */
static int write_output(const char *path, const uint8_t *p, size_t n)
{
    if (strcmp(path, "-") == 0) {
        if (fwrite(p, 1, n, stdout) != n || fflush(stdout) != 0) {
            at_msg(ENC_PROG, "error writing to standard output: %s",
                    strerror(errno));
            return 1;
        }
        return 0;
    }
    char err[1024];
    int fd = at_private_file_create(path, err, sizeof err);
    if (fd < 0) {
        at_msg(ENC_PROG, "%s", err);
        return 1;
    }
    struct stat st;
    bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, p + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            at_msg(ENC_PROG, "error writing %s: %s", path,
                    w < 0 ? strerror(errno) : "nothing written");
            close(fd);
            if (regular)
                unlink(path);
            return 1;
        }
        done += (size_t)w;
    }
    if (close(fd) != 0) {
        at_msg(ENC_PROG, "error writing %s: %s", path, strerror(errno));
        if (regular)
            unlink(path);
        return 1;
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

int cli_encode_main(int argc, char **argv)
{
    enc_opts o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;

    if (strcmp(o.out, "-") == 0 && isatty(STDOUT_FILENO)) {
        at_msg(ENC_PROG, "refusing to write a binary frame to a terminal; "
                "use -o FILE, or redirect standard output");
        return 2;
    }

    const at_profile *prof = o.profile;
    bool sign = strcmp(o.sig, "none") != 0;
    bool carry_key = o.key.path && (o.include_key || (o.cmd == AT_CMD_WRITE && o.index == 0));
    refusals ref = {o.force, 0};

    /* What can be judged from the options alone. */
    if (o.index > prof->index_max)
        refuse(&ref, "index %u is outside the %s profile's range 0..%u", o.index,
               prof->name, prof->index_max);
    if (o.imei && !imei_ok(o.imei)) {
        /* Quoted in part: a value of any length must not flood the terminal. */
        size_t len = strlen(o.imei);
        if (len > IMEI_QUOTE_MAX)
            refuse(&ref, "IMEI '%.*s...' (%zu characters) is not 15 digits",
                   (int)IMEI_QUOTE_MAX, o.imei, len);
        else
            refuse(&ref, "IMEI '%s' is not 15 digits", o.imei);
    }
    if (sign && !o.imei)
        refuse(&ref, "a signed frame carries the module's IMEI (AT+CGSN prints it): "
               "give --imei");
    if (!sign && !prof->unsigned_ok)
        refuse(&ref, "%s modules accept only signed frames (--sig none is for newer "
               "modules outside secure mode)", prof->name);
    if (carry_key && !(o.cmd == AT_CMD_WRITE && o.index == 0))
        refuse(&ref, "a private key travels only in a write of index 0, not in a %s "
               "of index %u", o.op, o.index);

    int status = 0;
    uint8_t *cert_der = NULL, *key_der = NULL, *frame = NULL;
    size_t cert_len = 0, key_len = 0, frame_len = 0;
    X509 *cert = NULL, *store_cert = NULL;
    EVP_PKEY *pkey = NULL;
    char err[512];

    if (o.cert) {
        if (at_cert_load_der(o.cert, &cert_der, &cert_len, err, sizeof err) != 0) {
            at_msg(ENC_PROG, "%s", err);
            status = 3;
            goto out;
        }
        const unsigned char *q = cert_der;
        cert = d2i_X509(NULL, &q, (long)cert_len);
        if (!cert || q != cert_der + cert_len) {
            at_msg(ENC_PROG, "%s: not an X.509 certificate", o.cert);
            status = 3;
            goto out;
        }
    }
    at_key_info info;
    memset(&info, 0, sizeof info);
    if (o.key.path) {
        pkey = cli_key_load(ENC_PROG, &o.key, &info, &store_cert);
        if (!pkey) {
            status = 3;
            goto out;
        }
    }
    /* A keystore holds the client certificate with its key. */
    if (!cert && store_cert && o.cmd == AT_CMD_WRITE && o.index == 0) {
        int n = i2d_X509(store_cert, NULL);
        cert_der = n > 0 ? malloc((size_t)n) : NULL;
        unsigned char *q = cert_der;
        if (!cert_der || i2d_X509(store_cert, &q) != n) {
            at_msg(ENC_PROG, "%s: cannot encode its certificate", o.key.path);
            status = 3;
            goto out;
        }
        cert_len = (size_t)n;
        cert = store_cert;
        store_cert = NULL;
    }

    if (o.cmd == AT_CMD_WRITE && !cert)
        refuse(&ref, "a write carries the certificate to store: give --cert FILE");
    if (o.thumbprint && !cert) {
        at_msg(ENC_PROG, "--thumbprint needs the certificate (--cert FILE)");
        status = 2;
        goto out;
    }
    if (o.cmd == AT_CMD_WRITE && cert && cert_len > prof->cert_max)
        refuse(&ref, "the certificate is %zu bytes, over the %s profile's limit of "
               "%lu bytes", cert_len, prof->name, (unsigned long)prof->cert_max);
    if (carry_key) {
        key_der = at_key_to_frame_der(pkey, &key_len);
        if (!key_der) {
            at_msg(ENC_PROG, "%s: cannot write the key as PKCS#8 DER", o.key.path);
            status = 3;
            goto out;
        }
        if (key_len > prof->key_max)
            refuse(&ref, "the private key is %zu bytes (PKCS#8 DER), over the %s "
                   "profile's limit of %lu bytes", key_len, prof->name,
                   (unsigned long)prof->key_max);
    }
    if (o.cmd == AT_CMD_WRITE && o.index == 0 && cert && pkey &&
        X509_check_private_key(cert, pkey) != 1)
        refuse(&ref, "the key in %s does not belong to the certificate of index 0",
               o.key.path);
    if (sign && EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
        at_msg(ENC_PROG, "%s: key type %s; the module checks RSA signatures only",
                o.key.path, info.type[0] ? info.type : "not RSA");
        status = 3;
        goto out;
    }
    if (ref.n && !ref.force) {
        status = 2;
        goto out;
    }
    if (pkey && EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA &&
        EVP_PKEY_get_bits(pkey) < RSA_WEAK_BITS)
        at_msg(ENC_PROG, "warning: %s: an RSA key of %d bits, under %d: it can be "
               "broken; use 2048 bits or more", o.key.path, EVP_PKEY_get_bits(pkey),
               RSA_WEAK_BITS);

    char thumb[41];
    if (o.thumbprint && sha1_hex(cert_der, cert_len, thumb) != 0) {
        at_msg(ENC_PROG, "cannot compute the SHA-1 thumbprint");
        status = 1;
        goto out;
    }
    at_frame_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.cmd_id = o.cmd;
    spec.index = o.index;
    spec.mode = o.mode;
    spec.thumbprint = o.thumbprint ? thumb : NULL;
    if (o.cmd == AT_CMD_WRITE && cert) {
        spec.cert = cert_der;
        spec.cert_len = cert_len;
    }
    if (carry_key) {
        spec.key = key_der;
        spec.key_len = key_len;
    }
    spec.imei = o.imei;
    spec.sign = sign;
    at_signer signer = {pkey, strcmp(o.sig, "sha256") == 0 ? AT_DIGEST_SHA256
                                                           : AT_DIGEST_SHA1};

    /* Room for any frame at_frame_encode can build: it says when the
     * result would not fit TotalLen. */
    size_t cap = AT_FRAME_MAX_LEN + AT_FRAME_SIG_MAX + 16;
    frame = malloc(cap);
    if (!frame) {
        at_msg(ENC_PROG, "out of memory");
        status = 1;
        goto out;
    }
    at_status st = at_frame_encode(&spec, sign ? at_sign_frame : NULL,
                                   sign ? &signer : NULL, frame, cap, &frame_len);
    if (st == AT_ERR_TOO_LONG || st == AT_ERR_SPACE) {
        at_msg(ENC_PROG, "the frame would be longer than %u bytes "
                "(TotalLen is 16 bits)", AT_FRAME_MAX_LEN);
        status = 2;
        goto out;
    }
    if (st == AT_ERR_SIGN) {
        at_msg(ENC_PROG, "signing with %s failed", o.key.path);
        status = 1;
        goto out;
    }
    if (st != AT_OK) {
        at_msg(ENC_PROG, "cannot encode the frame: %s", at_status_str(st));
        status = 1;
        goto out;
    }
    status = write_output(o.out, frame, frame_len);

out:
    if (frame) {
        OPENSSL_cleanse(frame, AT_FRAME_MAX_LEN + AT_FRAME_SIG_MAX + 16);
        free(frame);
    }
    if (key_der) {
        OPENSSL_cleanse(key_der, key_len);
        OPENSSL_free(key_der);
    }
    free(cert_der);
    X509_free(cert);
    X509_free(store_cert);
    EVP_PKEY_free(pkey);
    return status;
}
