/*
 * provision.c - attrace-provision: a scripted provisioning client, as a
 * production line runs one, used to record the sample traces against
 * attrace-sim (samples/regenerate.sh).
 *
 *   attrace-provision --port PTYPATH --keys DIR [--scenario NAME] [--rtscts]
 *                     [--tls-port N]
 *
 * It talks AT like the vendor tool, through the module driver
 * (attrace/driver.h): one command at a time, each ended with CR (AT^SBNW
 * with CR LF), waiting for the final result (with a timeout) and 100 ms
 * after it; for a secure command the driver sends one frame
 * (at_frame_encode + at_sign_frame) at SECURE CMD READY and returns the
 * result string and the final result. Each scenario says what the module must
 * answer; any other answer ends the run with a message and exit status 1.
 * Scenarios with a deliberate fault build the correct frame first and then
 * patch its bytes (see the fault_* functions).
 *
 * Keys in DIR (samples/keys, TEST ONLY): client.crt.der + client.key.der
 * (index 0, signing key), tlsca.crt.der (the TLS server's issuer),
 * ca1.crt.der, wrong.key.pem (a key of no certificate here).
 */
#define _GNU_SOURCE

#include "attrace/cert.h"
#include "attrace/crypto.h"
#include "attrace/driver.h"
#include "attrace/frame.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "attrace-provision"
#define CMD_TIMEOUT_MS 5000
#define SECURE_TIMEOUT_MS 15000 /* above the module's service timeout */
#define TLS_TIMEOUT_MS 10000
#define PAUSE_MS 100            /* after a final result (PROTOCOL.md 10) */
#define OTHER_IMEI "358240052222221" /* Luhn-valid, another module's */

typedef struct blob {
    uint8_t *data;
    size_t len;
} blob;

typedef struct prov {
    at_driver *drv;
    const char *keys;
    int tls_port;
    char imei[32];
    blob client_crt, tlsca_crt, ca1_crt, client_key_der;
    EVP_PKEY *client_key, *wrong_key;
} prov;

/* ------------------------------------------------------------------ */
/* Errors                                                             */
/* ------------------------------------------------------------------ */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* ------------------------------------------------------------------ */
/* AT commands, through the module driver                             */
/* ------------------------------------------------------------------ */

/* What the module says, as the session classified it (echo left out). */
static void on_event(void *ctx, const at_event *ev)
{
    (void)ctx;
    switch (ev->kind) {
    case AT_EV_RESPONSE:
    case AT_EV_INTERMEDIATE:
    case AT_EV_SECURE_RESULT:
    case AT_EV_URC:
    case AT_EV_UNEXPECTED:
        printf("<- %.*s\n", (int)ev->line.text.len, ev->line.text.ptr);
        break;
    case AT_EV_END:
        if (ev->line.text.ptr)
            printf("<- %.*s\n", (int)ev->line.text.len, ev->line.text.ptr);
        break;
    case AT_EV_PAYLOAD:
        if (ev->dir == AT_DIR_ME_TO_TE)
            printf("<- %zu bytes of data\n", ev->len);
        break;
    default: break;
    }
}

/* Fails unless the exchange came to a final result. */
static void answered(prov *p, const char *cmd, int rc)
{
    if (rc != 0)
        fail("%s: %s", cmd, at_driver_error(p->drv));
}

/* One command whose final result must be @p want (the driver pauses
 * PAUSE_MS before the next one). */
static void at_expect(prov *p, const char *cmd, const char *want, at_driver_reply *r)
{
    at_driver_reply local;
    if (!r)
        r = &local;
    printf("-> %s\n", cmd);
    answered(p, cmd, at_driver_command(p->drv, cmd, r));
    if (strcmp(r->final_text, want) != 0)
        fail("%s: the module answered %s, expected %s", cmd, r->final_text, want);
    if (r == &local)
        at_driver_reply_free(r);
}

/* Waits for a URC starting with @p prefix; copies it into @p out. */
static void await_urc(prov *p, const char *prefix, char *out, size_t cap, long timeout_ms)
{
    if (at_driver_wait_urc(p->drv, prefix, out, cap, (uint32_t)timeout_ms) != 0)
        fail("%s", at_driver_error(p->drv));
}

/* ------------------------------------------------------------------ */
/* Secure commands                                                    */
/* ------------------------------------------------------------------ */

static bool same_result(const char *got, const char *want)
{
    if (strcmp(got, want) == 0)
        return true;
    /* The manual's spelling and the one seen on a BGS2 (PROTOCOL.md 2). */
    return strcmp(want, "SECURE CMD TOO MANY DATA ERROR") == 0 &&
           strcmp(got, "SECURE CMD TO MANY DATA ERROR") == 0;
}

/*
 * AT^SBNW=is_cert,1 (ended with CR LF, as the vendor tool does), SECURE
 * CMD READY, the first @p send bytes of @p frame, then the result string
 * (must be @p want_result) and the final result (@p want_final).
 */
static void secure(prov *p, const uint8_t *frame, size_t len, size_t send,
                   const char *want_result, const char *want_final)
{
    static const char cmd[] = "AT^SBNW=is_cert,1";
    at_driver_reply r;
    printf("-> %s\n", cmd);
    printf("-> frame, %zu bytes", len);
    if (send < len)
        printf(" (only %zu sent)", send);
    printf(" at SECURE CMD READY\n");
    answered(p, cmd, at_driver_secure(p->drv, cmd, frame, send, &r));
    if (!r.ready)
        fail("%s: the module answered %s, not SECURE CMD READY", cmd, r.final_text);
    if (r.secure == AT_SEC_NONE)
        fail("%s: final result %s without a result string", cmd, r.final_text);
    if (!same_result(r.secure_text, want_result))
        fail("the module answered %s, expected %s", r.secure_text, want_result);
    if (strcmp(r.final_text, want_final) != 0)
        fail("%s: final result %s, expected %s", cmd, r.final_text, want_final);
    at_driver_reply_free(&r);
}

/* A WRITE of @p index, signed with @p key over a @p digest digest. */
static uint8_t *build_write(prov *p, uint16_t index, const blob *cert, bool with_key,
                            EVP_PKEY *key, at_digest_alg digest, const char *imei,
                            size_t *len)
{
    at_frame_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.cmd_id = AT_CMD_WRITE;
    spec.index = index;
    spec.cert = cert->data;
    spec.cert_len = cert->len;
    if (with_key) {
        spec.key = p->client_key_der.data;
        spec.key_len = p->client_key_der.len;
    }
    spec.imei = imei;
    spec.sign = true;
    at_signer signer = {key, digest};
    size_t cap = AT_FRAME_MAX_LEN + AT_FRAME_SIG_MAX + 16;
    uint8_t *frame = malloc(cap);
    if (!frame)
        fail("out of memory");
    at_status st = at_frame_encode(&spec, at_sign_frame, &signer, frame, cap, len);
    if (st != AT_OK)
        fail("cannot encode the WRITE of index %u: %s", index, at_status_str(st));
    return frame;
}

static uint8_t *build_client(prov *p, size_t *len)
{
    return build_write(p, 0, &p->client_crt, true, p->client_key, AT_DIGEST_SHA1, p->imei, len);
}

static uint16_t get16le(const uint8_t *b)
{
    return (uint16_t)(b[0] | b[1] << 8);
}

static void swap16(uint8_t *b)
{
    uint8_t t = b[0];
    b[0] = b[1];
    b[1] = t;
}

/* Fault: TotalLen leaves out its own two bytes (not signed: still valid). */
static void fault_totallen_excludes_self(uint8_t *frame, size_t len)
{
    size_t wrong = len - 2;
    frame[0] = (uint8_t)(wrong & 0xff);
    frame[1] = (uint8_t)(wrong >> 8);
}

/*
 * Fault: every u16 (header, unit headers, the index value) big-endian, as
 * a tool written for the wrong byte order sends it, signed as sent.
 */
static void fault_big_endian(prov *p, uint8_t *frame, size_t len)
{
    size_t sig_value = 0, sig_len = 0;
    size_t off = AT_FRAME_HEADER_LEN;
    while (off + AT_FRAME_UNIT_HEADER_LEN <= len) {
        uint16_t plen = get16le(frame + off);
        uint16_t pid = get16le(frame + off + 2);
        if (plen < AT_FRAME_UNIT_HEADER_LEN || off + plen > len)
            fail("internal: cannot walk the frame at %zu", off);
        if (pid == AT_PARAM_INDEX)
            swap16(frame + off + 4);
        if (pid == AT_PARAM_SIGNATURE) {
            sig_value = off + AT_FRAME_UNIT_HEADER_LEN;
            sig_len = plen - AT_FRAME_UNIT_HEADER_LEN - 1; /* without the NUL */
        }
        swap16(frame + off);
        swap16(frame + off + 2);
        off += plen;
    }
    for (size_t i = 0; i < AT_FRAME_HEADER_LEN; i += 2)
        swap16(frame + i);
    if (!sig_value)
        fail("internal: no signature unit");
    /* Re-sign what is sent: offset 2 up to the signature unit. */
    at_signer signer = {p->client_key, AT_DIGEST_SHA1};
    char sig[AT_FRAME_SIG_MAX];
    size_t n = 0;
    size_t region = sig_value - AT_FRAME_UNIT_HEADER_LEN - 2;
    if (at_sign_frame(&signer, frame + 2, region, sig, sizeof sig, &n) != 0 || n != sig_len)
        fail("internal: re-signing the big-endian frame failed");
    memcpy(frame + sig_value, sig, n);
}

/* ------------------------------------------------------------------ */
/* Scenarios                                                          */
/* ------------------------------------------------------------------ */

/* ATE1 and the IMEI (AT+CGSN): the start of every scenario. */
static void start(prov *p)
{
    at_driver_reply r;
    at_expect(p, "ATE1", "OK", NULL);
    at_expect(p, "AT+CGSN", "OK", &r);
    if (!r.imei[0])
        fail("AT+CGSN: no 15-digit IMEI in the answer");
    memcpy(p->imei, r.imei, 16);
    at_driver_reply_free(&r);
}

static void write_client(prov *p)
{
    size_t len;
    uint8_t *f = build_client(p, &len);
    secure(p, f, len, len, "SECURE CMD END OK", "OK");
    free(f);
}

static void write_server(prov *p, uint16_t index, const blob *cert)
{
    size_t len;
    uint8_t *f = build_write(p, index, cert, false, p->client_key, AT_DIGEST_SHA1, p->imei, &len);
    secure(p, f, len, len, "SECURE CMD END OK", "OK");
    free(f);
}

static void listing(prov *p)
{
    at_expect(p, "AT^SBNR=is_cert", "OK", NULL);
}

/*
 * A TLS socket service to the test server (openssl s_server -rev) verified
 * against the stored certificate at @p secopt. With @p want_info 0 the
 * service must open (+CIEV: is_cert with the server certificate, then
 * ^SISW: 1,1), take a line and answer it reversed; otherwise it must fail
 * with ^SIS: 1,0,<want_info>.
 */
static void tls_service(prov *p, int secopt, int want_info)
{
    char cmd[160], urc[512];
    if (p->tls_port <= 0)
        fail("this scenario needs --tls-port");
    at_expect(p, "AT^SICS=0,conType,GPRS0", "OK", NULL);
    at_expect(p, "AT^SISS=1,srvType,\"Socket\"", "OK", NULL);
    at_expect(p, "AT^SISS=1,conId,0", "OK", NULL);
    snprintf(cmd, sizeof cmd, "AT^SISS=1,address,\"socktcps://127.0.0.1:%d\"", p->tls_port);
    at_expect(p, cmd, "OK", NULL);
    snprintf(cmd, sizeof cmd, "AT^SISS=1,secOpt,%d", secopt);
    at_expect(p, cmd, "OK", NULL);
    at_expect(p, "AT^SISO=1", "OK", NULL);
    if (want_info) {
        char want[32];
        snprintf(want, sizeof want, "^SIS: 1,0,%d", want_info);
        await_urc(p, "^SIS:", urc, sizeof urc, TLS_TIMEOUT_MS);
        if (strncmp(urc, want, strlen(want)) != 0)
            fail("AT^SISO=1: the module reported %s, expected %s", urc, want);
        at_expect(p, "AT^SISC=1", "OK", NULL);
        return;
    }
    await_urc(p, "+CIEV: is_cert", urc, sizeof urc, TLS_TIMEOUT_MS);
    await_urc(p, "^SISW: 1,1", urc, sizeof urc, TLS_TIMEOUT_MS);

    static const char msg[] = "provisioned\n";
    at_driver_reply r;
    char line[64];
    snprintf(cmd, sizeof cmd, "AT^SISW=1,%zu", sizeof msg - 1);
    printf("-> %s\n-> %zu bytes of data at the ^SISW prompt\n", cmd, sizeof msg - 1);
    int n = snprintf(line, sizeof line, "%s\r", cmd);
    answered(p, cmd, at_driver_send(p->drv, (const uint8_t *)line, (size_t)n,
                                    (const uint8_t *)msg, sizeof msg - 1, 0, &r));
    if (!r.payload_sent)
        fail("%s: the module answered %s, not ^SISW", cmd, r.final_text);
    if (strcmp(r.final_text, "OK") != 0)
        fail("%s: final result %s, expected OK", cmd, r.final_text);
    at_driver_reply_free(&r);

    /* The server answers the line reversed: wait for it, then read it. */
    await_urc(p, "^SISR: 1,1", urc, sizeof urc, TLS_TIMEOUT_MS);
    snprintf(cmd, sizeof cmd, "AT^SISR=1,%zu", sizeof msg - 1);
    at_expect(p, cmd, "OK", &r);
    unsigned id = 0, got = 0;
    if (r.n_lines < 1 || sscanf(r.lines[0], "^SISR: %u,%u", &id, &got) != 2 ||
        got != r.data_len)
        fail("%s: the module answered %s with %zu data bytes", cmd,
             r.n_lines ? r.lines[0] : "no ^SISR line", r.data_len);
    if (r.data_len != sizeof msg - 1 || memcmp(r.data, "denoisivorp\n", r.data_len) != 0)
        fail("the server's answer is not the line reversed");
    at_driver_reply_free(&r);
    at_expect(p, "AT^SISC=1", "OK", NULL);
}

/* The provisioning every TLS scenario starts from: the +CIEV: is_cert
 * indication on, the client certificate and key at 0, the TLS test CA at 1
 * and an unrelated CA at 2. */
static void provision_store(prov *p)
{
    start(p);
    at_expect(p, "AT^SIND=is_cert,1", "OK", NULL);
    at_expect(p, "AT+CMER=3,0,0,2", "OK", NULL);
    write_client(p);
    write_server(p, 1, &p->tlsca_crt);
    write_server(p, 2, &p->ca1_crt);
}

static void scenario_ok(prov *p, bool tls)
{
    provision_store(p);
    listing(p);
    if (tls)
        tls_service(p, 1, 0);
}

typedef struct scenario {
    const char *name;
    const char *what;
} scenario;

static const scenario scenarios[] = {
    {"ok", "client certificate and key, two server certificates, listing, TLS service"},
    {"ok-no-tls", "the same without the TLS service"},
    {"totallen-excludes-self", "TotalLen 2 short -> TOO MANY DATA"},
    {"big-endian", "every u16 big-endian -> LENGTH ERROR"},
    {"wrong-key", "index 1 signed with another key than the client certificate's -> ERROR"},
    {"other-imei", "a frame for another module's IMEI -> ERROR"},
    {"sha256-legacy", "a SHA-256 signature to a legacy module -> ERROR"},
    {"xonxoff", "AT\\Q1, then a frame with 0x11/0x13 bytes -> SERVICE TIMEOUT"},
    {"server-before-client", "a server certificate before any client certificate -> ERROR"},
    {"sis66-wrong-secopt", "TLS verified against index 2, not the issuer -> ^SIS: 1,0,66"},
    {"service-timeout", "a frame that stops short -> SERVICE TIMEOUT"},
};

static void run(prov *p, const char *name)
{
    size_t len;
    uint8_t *f = NULL;
    if (strcmp(name, "ok") == 0) {
        scenario_ok(p, true);
    } else if (strcmp(name, "ok-no-tls") == 0) {
        scenario_ok(p, false);
    } else if (strcmp(name, "totallen-excludes-self") == 0) {
        start(p);
        f = build_client(p, &len);
        fault_totallen_excludes_self(f, len);
        secure(p, f, len, len, "SECURE CMD TOO MANY DATA ERROR", "ERROR");
        listing(p);
    } else if (strcmp(name, "big-endian") == 0) {
        start(p);
        f = build_client(p, &len);
        fault_big_endian(p, f, len);
        secure(p, f, len, len, "SECURE CMD LENGTH ERROR", "ERROR");
        listing(p);
    } else if (strcmp(name, "wrong-key") == 0) {
        start(p);
        write_client(p);
        f = build_write(p, 1, &p->tlsca_crt, false, p->wrong_key, AT_DIGEST_SHA1, p->imei, &len);
        secure(p, f, len, len, "SECURE CMD ERROR", "ERROR");
        listing(p);
    } else if (strcmp(name, "other-imei") == 0) {
        start(p);
        f = build_write(p, 0, &p->client_crt, true, p->client_key, AT_DIGEST_SHA1, OTHER_IMEI,
                        &len);
        secure(p, f, len, len, "SECURE CMD ERROR", "ERROR");
        listing(p);
    } else if (strcmp(name, "sha256-legacy") == 0) {
        start(p);
        f = build_write(p, 0, &p->client_crt, true, p->client_key, AT_DIGEST_SHA256, p->imei,
                        &len);
        secure(p, f, len, len, "SECURE CMD ERROR", "ERROR");
        listing(p);
    } else if (strcmp(name, "xonxoff") == 0) {
        start(p);
        at_expect(p, "AT\\Q1", "OK", NULL);
        f = build_client(p, &len);
        size_t flow = 0;
        for (size_t i = 0; i < len; i++)
            flow += f[i] == 0x11 || f[i] == 0x13;
        if (!flow)
            fail("the index-0 frame holds no 0x11 or 0x13 byte: nothing to show");
        printf("   (the frame holds %zu bytes 0x11/0x13)\n", flow);
        secure(p, f, len, len, "SECURE CMD SERVICE TIMEOUT ERROR", "ERROR");
        listing(p);
    } else if (strcmp(name, "server-before-client") == 0) {
        start(p);
        f = build_write(p, 1, &p->tlsca_crt, false, p->client_key, AT_DIGEST_SHA1, p->imei, &len);
        secure(p, f, len, len, "SECURE CMD ERROR", "ERROR");
        listing(p);
    } else if (strcmp(name, "sis66-wrong-secopt") == 0) {
        provision_store(p);
        tls_service(p, 2, 66);
    } else if (strcmp(name, "service-timeout") == 0) {
        start(p);
        /* The host stops after the first 48 bytes (header, index unit and
         * the certificate's start), as a writer that died would; they hold
         * no 0x11/0x13, so nothing hints at flow control. */
        f = build_client(p, &len);
        for (size_t i = 0; i < 48; i++)
            if (f[i] == 0x11 || f[i] == 0x13)
                fail("internal: the first 48 bytes hold an XON/XOFF byte");
        secure(p, f, len, 48, "SECURE CMD SERVICE TIMEOUT ERROR", "ERROR");
        listing(p);
    } else {
        fail("unknown scenario %s (--help lists them)", name);
    }
    free(f);
}

/* ------------------------------------------------------------------ */
/* Set-up                                                             */
/* ------------------------------------------------------------------ */

static void load_cert(prov *p, const char *file, blob *b)
{
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/%s", p->keys, file);
    if (at_cert_load_der(path, &b->data, &b->len, err, sizeof err) != 0)
        fail("%s", err);
}

static EVP_PKEY *load_key(prov *p, const char *file)
{
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/%s", p->keys, file);
    at_key_info info;
    at_key_source src = {.path = path, .passin = "pass:"};
    EVP_PKEY *k = at_key_load(&src, &info, NULL, err, sizeof err);
    if (!k)
        fail("%s", err);
    return k;
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: " PROG " --port DEVICE --keys DIR [--scenario NAME] [--rtscts]\n"
            "                         [--tls-port N]\n"
            "\n"
            "A scripted provisioning client: talks AT to a module (or attrace-sim)\n"
            "on DEVICE at 115200 8N1, loads certificates with AT^SBNW=is_cert,1\n"
            "frames signed with the test keys in DIR, and checks every answer\n"
            "against what the scenario expects. Exit status 0 when the module\n"
            "answered as expected, 1 otherwise (with the reason), 2 usage error.\n"
            "\n"
            "  --rtscts        RTS/CTS hardware flow control on the port\n"
            "  --tls-port N    the TLS test server on 127.0.0.1 (scenarios with a\n"
            "                  TLS service)\n"
            "\nScenarios (default ok):\n");
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        fprintf(fp, "  %-22s %s\n", scenarios[i].name, scenarios[i].what);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},   {"keys", required_argument, NULL, 'k'},
        {"scenario", required_argument, NULL, 's'}, {"rtscts", no_argument, NULL, 'r'},
        {"tls-port", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    prov p;
    memset(&p, 0, sizeof p);
    const char *port = NULL, *scen = "ok";
    bool rtscts = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': port = optarg; break;
        case 'k': p.keys = optarg; break;
        case 's': scen = optarg; break;
        case 'r': rtscts = true; break;
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 65535) {
                fprintf(stderr, PROG ": --tls-port: not a port number: %s\n", optarg);
                return 2;
            }
            p.tls_port = (int)v;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!port || !p.keys || optind != argc) {
        usage(stderr);
        return 2;
    }
    bool known = false;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        known = known || strcmp(scenarios[i].name, scen) == 0;
    if (!known) {
        fprintf(stderr, PROG ": unknown scenario %s\n", scen);
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    load_cert(&p, "client.crt.der", &p.client_crt);
    load_cert(&p, "tlsca.crt.der", &p.tlsca_crt);
    load_cert(&p, "ca1.crt.der", &p.ca1_crt);
    p.client_key = load_key(&p, "client.key.der");
    p.wrong_key = load_key(&p, "wrong.key.pem");
    p.client_key_der.data = at_key_to_frame_der(p.client_key, &p.client_key_der.len);
    if (!p.client_key_der.data)
        fail("cannot serialize the client key");

    at_driver_config dcfg = at_driver_default_config();
    dcfg.rtscts = rtscts;
    dcfg.timeout_ms = CMD_TIMEOUT_MS;
    dcfg.secure_timeout_ms = SECURE_TIMEOUT_MS;
    dcfg.gap_ms = PAUSE_MS;
    dcfg.on_event = on_event;
    char err[768];
    p.drv = at_driver_open(port, &dcfg, err, sizeof err);
    if (!p.drv)
        fail("%s", err);
    printf("%s: scenario %s on %s%s\n", PROG, scen, port, rtscts ? " (RTS/CTS)" : "");
    run(&p, scen);
    printf("%s: scenario %s: the module answered as expected\n", PROG, scen);

    at_driver_close(p.drv, NULL, 0);
    OPENSSL_free(p.client_key_der.data);
    free(p.client_crt.data);
    free(p.tlsca_crt.data);
    free(p.ca1_crt.data);
    EVP_PKEY_free(p.client_key);
    EVP_PKEY_free(p.wrong_key);
    return 0;
}
