/*
 * provision.c - attrace-provision: a scripted provisioning client, as a
 * production line runs one, used to record the sample traces against
 * attrace-sim (samples/regenerate.sh).
 *
 *   attrace-provision --port PTYPATH --keys DIR [--scenario NAME] [--rtscts]
 *                     [--tls-port N]
 *
 * It talks AT like the vendor tool: one command at a time, each ended with
 * CR (AT^SBNW with CR LF), waiting for the final result (with a timeout)
 * and 100 ms after it; for a secure command it waits for SECURE CMD READY,
 * sends one frame (at_frame_encode + at_sign_frame) and reads the result
 * string and the final result. Each scenario says what the module must
 * answer; any other answer ends the run with a message and exit status 1.
 * Scenarios with a deliberate fault build the correct frame first and then
 * patch its bytes (see the fault_* functions).
 *
 * Keys in DIR (samples/keys, TEST ONLY): client.crt.der + client.key.der
 * (index 0, signing key), tlsca.crt.der (the TLS server's issuer),
 * ca1.crt.der, wrong.key.pem (a key of no certificate here).
 */
#define _GNU_SOURCE /* cfmakeraw, CRTSCTS */

#include "attrace/cert.h"
#include "attrace/crypto.h"
#include "attrace/frame.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
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
    int fd;
    const char *keys;
    int tls_port;
    char imei[32];
    uint8_t rx[8192];
    size_t rx_len;
    blob client_crt, tlsca_crt, ca1_crt, client_key_der;
    EVP_PKEY *client_key, *wrong_key;
} prov;

/* ------------------------------------------------------------------ */
/* Errors, time                                                       */
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

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ------------------------------------------------------------------ */
/* Serial port                                                        */
/* ------------------------------------------------------------------ */

static int open_port(const char *path, bool rtscts)
{
    int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        fail("cannot open %s: %s", path, strerror(errno));
    struct termios t;
    if (tcgetattr(fd, &t) != 0)
        fail("%s is not a serial device: %s", path, strerror(errno));
    cfmakeraw(&t);
    cfsetispeed(&t, B115200);
    cfsetospeed(&t, B115200);
    t.c_cflag |= CLOCAL | CREAD;
    if (rtscts)
        t.c_cflag |= CRTSCTS;
    else
        t.c_cflag &= ~(tcflag_t)CRTSCTS;
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(fd, TCSANOW, &t) != 0)
        fail("cannot set up %s: %s", path, strerror(errno));
    return fd;
}

static void send_bytes(prov *p, const void *data, size_t len)
{
    const uint8_t *d = data;
    while (len) {
        ssize_t n = write(p->fd, d, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            sleep_ms(1);
            continue;
        }
        if (n <= 0)
            fail("write to the module failed: %s", strerror(errno));
        d += n;
        len -= (size_t)n;
    }
    tcdrain(p->fd);
}

/* Reads whatever arrives before @p deadline into p->rx; false on timeout. */
static bool fill(prov *p, int64_t deadline)
{
    int64_t left = deadline - now_ms();
    if (left <= 0)
        return false;
    struct pollfd pfd = {p->fd, POLLIN, 0};
    int r = poll(&pfd, 1, (int)left);
    if (r < 0 && errno == EINTR)
        return true;
    if (r < 0)
        fail("poll: %s", strerror(errno));
    if (r == 0)
        return false;
    if (p->rx_len == sizeof p->rx)
        fail("the module sent a line longer than %zu bytes", sizeof p->rx);
    ssize_t n = read(p->fd, p->rx + p->rx_len, sizeof p->rx - p->rx_len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0)
        fail("the module's port closed (%s)", n < 0 ? strerror(errno) : "end of file");
    p->rx_len += (size_t)n;
    return true;
}

static void consume(prov *p, size_t n)
{
    memmove(p->rx, p->rx + n, p->rx_len - n);
    p->rx_len -= n;
}

/* The next non-empty line (CR or LF ends it) into @p out; false on timeout. */
static bool read_line(prov *p, char *out, size_t cap, int64_t deadline)
{
    for (;;) {
        size_t skip = 0;
        while (skip < p->rx_len && (p->rx[skip] == '\r' || p->rx[skip] == '\n'))
            skip++;
        consume(p, skip);
        for (size_t i = 0; i < p->rx_len; i++) {
            if (p->rx[i] == '\r' || p->rx[i] == '\n') {
                size_t n = i < cap - 1 ? i : cap - 1;
                memcpy(out, p->rx, n);
                out[n] = '\0';
                consume(p, i);
                return true;
            }
        }
        if (!fill(p, deadline))
            return false;
    }
}

/* Exactly @p n raw bytes (a ^SISR payload) into @p out. */
static void read_raw(prov *p, uint8_t *out, size_t n, int64_t deadline)
{
    while (p->rx_len < n)
        if (!fill(p, deadline))
            fail("the module sent %zu of %zu announced data bytes", p->rx_len, n);
    memcpy(out, p->rx, n);
    consume(p, n);
}

/* ------------------------------------------------------------------ */
/* AT commands                                                        */
/* ------------------------------------------------------------------ */

static bool is_final(const char *l)
{
    return strcmp(l, "OK") == 0 || strcmp(l, "ERROR") == 0 ||
           strcmp(l, "NO CARRIER") == 0 || strncmp(l, "+CME ERROR:", 11) == 0;
}

static bool is_urc(const char *l)
{
    return strncmp(l, "+CIEV:", 6) == 0 || strncmp(l, "^SIS:", 5) == 0 ||
           strcmp(l, "^SYSSTART") == 0 || strncmp(l, "+CREG:", 6) == 0;
}

typedef struct reply {
    char lines[24][512]; /* information text, in order */
    size_t n;
    char final[512];
} reply;

/* Sends one command line, ended with CR (CR LF with @p crlf). */
static void send_cmd(prov *p, const char *cmd, bool crlf)
{
    printf("-> %s\n", cmd);
    send_bytes(p, cmd, strlen(cmd));
    send_bytes(p, crlf ? "\r\n" : "\r", crlf ? 2 : 1);
}

/*
 * Reads the answer to @p cmd up to a final result, or up to a line that
 * begins with @p stop (an intermediate result) when not NULL. The echo is
 * skipped, URCs are printed and kept out of the reply. Returns the line
 * that ended it (the final result or the stop line).
 */
static const char *await(prov *p, const char *cmd, const char *stop, long timeout_ms,
                         reply *r)
{
    int64_t deadline = now_ms() + timeout_ms;
    char line[512];
    memset(r, 0, sizeof *r);
    for (;;) {
        if (!read_line(p, line, sizeof line, deadline))
            fail("no answer to %s within %ld ms", cmd, timeout_ms);
        if (cmd && strcmp(line, cmd) == 0)
            continue; /* echo */
        printf("<- %s\n", line);
        if (stop && strncmp(line, stop, strlen(stop)) == 0) {
            snprintf(r->final, sizeof r->final, "%s", line);
            return r->final;
        }
        if (is_final(line)) {
            snprintf(r->final, sizeof r->final, "%s", line);
            sleep_ms(PAUSE_MS);
            return r->final;
        }
        if (is_urc(line))
            continue;
        if (r->n < sizeof r->lines / sizeof r->lines[0])
            snprintf(r->lines[r->n++], sizeof r->lines[0], "%s", line);
    }
}

/* One command whose final result must be @p want. */
static void at_expect(prov *p, const char *cmd, const char *want, reply *r)
{
    reply local;
    if (!r)
        r = &local;
    send_cmd(p, cmd, false);
    const char *got = await(p, cmd, NULL, CMD_TIMEOUT_MS, r);
    if (strcmp(got, want) != 0)
        fail("%s: the module answered %s, expected %s", cmd, got, want);
}

/* Waits for a URC starting with @p prefix; copies it into @p out. */
static void await_urc(prov *p, const char *prefix, char *out, size_t cap, long timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    char line[512];
    for (;;) {
        if (!read_line(p, line, sizeof line, deadline))
            fail("no %s URC within %ld ms", prefix, timeout_ms);
        printf("<- %s\n", line);
        if (strncmp(line, prefix, strlen(prefix)) == 0) {
            snprintf(out, cap, "%s", line);
            return;
        }
    }
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
 * AT^SBNW=is_cert,1, SECURE CMD READY, the first @p send bytes of @p frame,
 * then the result string (must be @p want_result) and the final result
 * (@p want_final).
 */
static void secure(prov *p, const uint8_t *frame, size_t len, size_t send,
                   const char *want_result, const char *want_final)
{
    const char *cmd = "AT^SBNW=is_cert,1";
    reply r;
    send_cmd(p, cmd, true);
    const char *got = await(p, cmd, "SECURE CMD READY", CMD_TIMEOUT_MS, &r);
    if (strncmp(got, "SECURE CMD READY", 16) != 0)
        fail("%s: the module answered %s, not SECURE CMD READY", cmd, got);
    printf("-> frame, %zu bytes", len);
    if (send < len)
        printf(" (only %zu sent)", send);
    printf("\n");
    send_bytes(p, frame, send);

    char line[512];
    int64_t deadline = now_ms() + SECURE_TIMEOUT_MS;
    for (;;) {
        if (!read_line(p, line, sizeof line, deadline))
            fail("no result string within %d ms after the frame", SECURE_TIMEOUT_MS);
        printf("<- %s\n", line);
        if (strncmp(line, "SECURE CMD", 10) == 0)
            break;
        if (is_final(line))
            fail("%s: final result %s without a result string", cmd, line);
    }
    if (!same_result(line, want_result))
        fail("the module answered %s, expected %s", line, want_result);
    got = await(p, NULL, NULL, CMD_TIMEOUT_MS, &r);
    if (strcmp(got, want_final) != 0)
        fail("%s: final result %s, expected %s", cmd, got, want_final);
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
    reply r;
    at_expect(p, "ATE1", "OK", NULL);
    at_expect(p, "AT+CGSN", "OK", &r);
    if (r.n != 1 || strlen(r.lines[0]) != 15 ||
        strspn(r.lines[0], "0123456789") != 15)
        fail("AT+CGSN: no 15-digit IMEI in the answer");
    memcpy(p->imei, r.lines[0], 16);
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
    reply r;
    snprintf(cmd, sizeof cmd, "AT^SISW=1,%zu", sizeof msg - 1);
    send_cmd(p, cmd, false);
    const char *got = await(p, cmd, "^SISW:", CMD_TIMEOUT_MS, &r);
    if (strncmp(got, "^SISW:", 6) != 0)
        fail("%s: the module answered %s, not ^SISW", cmd, got);
    printf("-> %zu bytes of data\n", sizeof msg - 1);
    send_bytes(p, msg, sizeof msg - 1);
    got = await(p, NULL, NULL, CMD_TIMEOUT_MS, &r);
    if (strcmp(got, "OK") != 0)
        fail("%s: final result %s, expected OK", cmd, got);

    /* The server answers the line reversed: wait for it, then read it. */
    await_urc(p, "^SISR: 1,1", urc, sizeof urc, TLS_TIMEOUT_MS);
    snprintf(cmd, sizeof cmd, "AT^SISR=1,%zu", sizeof msg - 1);
    send_cmd(p, cmd, false);
    got = await(p, cmd, "^SISR:", CMD_TIMEOUT_MS, &r);
    unsigned id = 0, n = 0;
    if (sscanf(got, "^SISR: %u,%u", &id, &n) != 2 || n > sizeof msg)
        fail("%s: the module answered %s", cmd, got);
    uint8_t data[sizeof msg];
    /* ^SISR: 1,<n> CR LF, then the n bytes. */
    uint8_t crlf[2];
    read_raw(p, crlf, 2, now_ms() + CMD_TIMEOUT_MS);
    if (crlf[0] != '\r' || crlf[1] != '\n')
        fail("%s: no CR LF after the ^SISR line", cmd);
    read_raw(p, data, n, now_ms() + CMD_TIMEOUT_MS);
    printf("<- %u bytes of data: %.*s\n", n, (int)(n && data[n - 1] == '\n' ? n - 1 : n),
           (const char *)data);
    got = await(p, NULL, NULL, CMD_TIMEOUT_MS, &r);
    if (strcmp(got, "OK") != 0)
        fail("%s: final result %s, expected OK", cmd, got);
    if (n != sizeof msg - 1 || memcmp(data, "denoisivorp\n", n) != 0)
        fail("the server's answer is not the line reversed");
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

    p.fd = open_port(port, rtscts);
    printf("%s: scenario %s on %s%s\n", PROG, scen, port, rtscts ? " (RTS/CTS)" : "");
    run(&p, scen);
    printf("%s: scenario %s: the module answered as expected\n", PROG, scen);

    close(p.fd);
    OPENSSL_free(p.client_key_der.data);
    free(p.client_crt.data);
    free(p.tlsca_crt.data);
    free(p.ca1_crt.data);
    EVP_PKEY_free(p.client_key);
    EVP_PKEY_free(p.wrong_key);
    return 0;
}
