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

#include "frameopts.h"
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
    cli_frame_opts f; /* --index, --cert, --imei, --sig, --profile, --mode, ... */
    const char *out;
    bool force;
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

enum { OPT_FORCE = 256 };

/* Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, enc_opts *o)
{
    static const struct option longopts[] = {
        CLI_FO_FRAME_ROWS,
        CLI_FO_ROW_PROFILE,
        CLI_FO_ROW_MODE,
        CLI_FO_ROW_THUMBPRINT,
        CLI_FO_ROW_INCLUDE_KEY,
        {"force", no_argument, NULL, OPT_FORCE},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool help = false;

    memset(o, 0, sizeof *o);
    o->f.sig_none_ok = true;
    opterr = 0;
    optind = 1;
    for (;;) {
        int c = getopt_long(argc, argv, ":ho:", longopts, NULL);
        if (c == -1)
            break;
        int fr = cli_frame_option(&o->f, c, optarg, ENC_PROG);
        if (fr == 2)
            return 2;
        if (fr == 1)
            continue;
        switch (c) {
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
    o->cmd = cli_frame_cmd(o->op);
    if (!o->cmd)
        return cli_usage_error(ENC_PROG, "unknown operation '%s' (write, read or delete)",
                                  o->op);
    if (argc - optind > 1)
        return cli_usage_error(ENC_PROG, "unexpected argument '%s'", argv[optind + 1]);

    if (!o->f.have_index)
        return cli_usage_error(ENC_PROG, "%s", "missing --index N");
    if (!o->out)
        return cli_usage_error(ENC_PROG, "%s", "missing -o FILE (- for standard output)");
    if (!o->f.profile)
        o->f.profile = at_profile_get(AT_PROFILE_LEGACY);
    if (!o->f.sig)
        o->f.sig = o->f.profile->digest_len == AT_DIGEST_SHA256 ? "sha256" : "sha1";

    bool sign = strcmp(o->f.sig, "none") != 0;
    if (o->f.cert && o->cmd != AT_CMD_WRITE && !o->f.thumbprint)
        return cli_usage_error(ENC_PROG, "--cert with %s: only a write carries a certificate "
                                  "(with --thumbprint it gives the thumbprint)", o->op);
    int krc = cli_key_options_check(ENC_PROG, &o->f.key);
    if (krc >= 0)
        return krc;
    if (!o->f.key.path && o->f.include_key)
        return cli_usage_error(ENC_PROG, "%s", "--include-key needs --key");
    if (sign && !o->f.key.path)
        return cli_usage_error(ENC_PROG, 
            "--sig %s needs --key: the client key (of the index-0 certificate) signs "
            "the frame; --sig none writes an unsigned frame", o->f.sig);
    return -1;
}

/* How much of a wrong --imei a message quotes. */
#define IMEI_QUOTE_MAX 20u

/* RSA keys under this many bits get a warning (they can be factored). */
#define RSA_WEAK_BITS 1024

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

/* What the module would refuse that the options alone tell. */
static void judge_options(const enc_opts *o, bool carry_key, refusals *ref)
{
    const at_profile *prof = o->f.profile;
    bool sign = strcmp(o->f.sig, "none") != 0;
    if (o->f.index > prof->index_max)
        refuse(ref, "index %u is outside the %s profile's range 0..%u", o->f.index,
               prof->name, prof->index_max);
    if (o->f.imei && !cli_imei_ok(o->f.imei)) {
        /* Quoted in part: a value of any length must not flood the terminal. */
        size_t len = strlen(o->f.imei);
        if (len > IMEI_QUOTE_MAX)
            refuse(ref, "IMEI '%.*s...' (%zu characters) is not 15 digits",
                   (int)IMEI_QUOTE_MAX, o->f.imei, len);
        else
            refuse(ref, "IMEI '%s' is not 15 digits", o->f.imei);
    }
    if (sign && !o->f.imei)
        refuse(ref, "a signed frame carries the module's IMEI (AT+CGSN prints it): "
               "give --imei");
    if (!sign && !prof->unsigned_ok)
        refuse(ref, "%s modules accept only signed frames (--sig none is for newer "
               "modules outside secure mode)", prof->name);
    if (carry_key && !(o->cmd == AT_CMD_WRITE && o->f.index == 0))
        refuse(ref, "a private key travels only in a write of index 0, not in a %s "
               "of index %u", o->op, o->f.index);
}

/* What the module would refuse in the certificate and key loaded. 0, or 2
 * when the command cannot go on even with --force. */
static int judge_material(const enc_opts *o, const cli_frame_material *m, refusals *ref)
{
    const at_profile *prof = o->f.profile;
    if (o->cmd == AT_CMD_WRITE && !m->cert)
        refuse(ref, "a write carries the certificate to store: give --cert FILE");
    if (o->f.thumbprint && !m->cert) {
        at_msg(ENC_PROG, "--thumbprint needs the certificate (--cert FILE)");
        return 2;
    }
    if (o->cmd == AT_CMD_WRITE && m->cert && m->cert_len > prof->cert_max)
        refuse(ref, "the certificate is %zu bytes, over the %s profile's limit of "
               "%lu bytes", m->cert_len, prof->name, (unsigned long)prof->cert_max);
    if (m->key_der && m->key_len > prof->key_max)
        refuse(ref, "the private key is %zu bytes (PKCS#8 DER), over the %s "
               "profile's limit of %lu bytes", m->key_len, prof->name,
               (unsigned long)prof->key_max);
    if (o->cmd == AT_CMD_WRITE && o->f.index == 0 && m->cert && m->key &&
        X509_check_private_key(m->cert, m->key) != 1)
        refuse(ref, "the key in %s does not belong to the certificate of index 0",
               o->f.key.path);
    return 0;
}

static void warn_weak_key(const enc_opts *o, const cli_frame_material *m)
{
    if (m->key && EVP_PKEY_get_base_id(m->key) == EVP_PKEY_RSA &&
        EVP_PKEY_get_bits(m->key) < RSA_WEAK_BITS)
        at_msg(ENC_PROG, "warning: %s: an RSA key of %d bits, under %d: it can be "
               "broken; use 2048 bits or more", o->f.key.path, EVP_PKEY_get_bits(m->key),
               RSA_WEAK_BITS);
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

    bool carry_key = o.f.key.path &&
                     (o.f.include_key || (o.cmd == AT_CMD_WRITE && o.f.index == 0));
    refusals ref = {o.force, 0};
    judge_options(&o, carry_key, &ref);

    const cli_frame_req req = {
        .cmd = o.cmd, .index = o.f.index, .cert_path = o.f.cert, .key = &o.f.key,
        .imei = o.f.imei, .sig = o.f.sig, .mode = o.f.mode, .thumbprint = o.f.thumbprint,
        .carry_key = carry_key, .profile = o.f.profile,
    };
    cli_frame_material m;
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    int status = cli_frame_load(ENC_PROG, &req, &m);
    if (!status)
        status = judge_material(&o, &m, &ref);
    if (!status && ref.n && !ref.force)
        status = 2;
    if (!status) {
        warn_weak_key(&o, &m);
        status = cli_frame_build(ENC_PROG, &req, &m, &frame, &frame_len);
    }
    if (!status)
        status = write_output(o.out, frame, frame_len);
    cli_frame_free(frame, frame_len);
    cli_frame_material_free(&m);
    return status;
}
