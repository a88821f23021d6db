/*
 * attrace-bench-gen - writes a large trace of realistic mixed AT traffic
 * for the decoder benchmark (tests/bench/README.md).
 *
 *   attrace-bench-gen -o FILE [-s MB] [-r SEED]
 *
 * Writes at least MB megabytes (10^6 bytes; default 256) of file: repeated
 * module sessions with variations - AT chatter (AT+CGSN, AT+CREG?, AT+CSQ),
 * URCs (+CREG, +CIEV, ^SIS, ^SISR), secure-command WRITE/DELETE exchanges
 * with 1-2 KiB certificates, ^SBNR listings, AT^SISW uploads and
 * AT^SISR=1,1500 downloads with binary payloads. Both directions are split
 * into records of 1..256 bytes. Records are written per exchange, so memory
 * stays constant whatever the size. The output is deterministic for a seed.
 *
 * Certificates, keys and payloads are random bytes and signatures are
 * random (well-formed) base64: the benchmark measures decoding speed, not
 * cryptography.
 */
#define _POSIX_C_SOURCE 200809L

#include "attrace/frame.h"
#include "attrace/trace.h"

#include "capture_model.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char gen_program_name[] = "attrace-bench-gen";

/* ------------------------------------------------------------------ */
/* Random content                                                     */
/* ------------------------------------------------------------------ */

/* Fills @p out from the PRNG, eight bytes per draw. */
static void rng_bytes(uint64_t *s, uint8_t *out, size_t n)
{
    while (n >= 8) {
        uint64_t v = rng_next(s);
        memcpy(out, &v, 8);
        out += 8;
        n -= 8;
    }
    if (n) {
        uint64_t v = rng_next(s);
        memcpy(out, &v, n);
    }
}

/* Appends @p n_bytes random bytes as hex, one draw per byte. */
static void buf_add_random_hex(buf *b, uint64_t *rng, size_t n_bytes)
{
    for (size_t i = 0; i < n_bytes; i++) {
        uint8_t v = (uint8_t)rng_next(rng);
        buf_add_hex(b, &v, 1);
    }
}

/* ------------------------------------------------------------------ */
/* Capture model (capture_model.c), with reads of 1..256 bytes        */
/* ------------------------------------------------------------------ */

/* Large reads, so the benchmark also sees records holding several lines. */
#define MAX_CHUNK 256u
#define PCAP_RECORD_HEADER 16u
#define PCAP_FILE_HEADER 24u

/* Host commands without their own timing: the module answers in 2..8 ms. */
static uint64_t command_s(capture *c, uint64_t t, const char *cmdline, const char *resp)
{
    return command_text(c, t, cmdline, resp, 2, 8);
}

/* A URC, after which the host pauses as after a final result. */
static uint64_t urc_then_pause(capture *c, uint64_t t, const char *text)
{
    return next_command_time(c, urc(c, t, text));
}

/* ------------------------------------------------------------------ */
/* Traffic                                                            */
/* ------------------------------------------------------------------ */

static const char *const dns[] = {
    "/C=DE/O=Example Trust Services/CN=Example Root CA R1",
    "/C=US/ST=California/O=Sample Networks, LLC/CN=Sample TLS Root CA 2026",
    "/C=DE/ST=Berlin/O=Example, Inc./OU=Field Test/CN=gateway/0042",
    "/C=FR/L=Paris/O=Demo Telematique/OU=IoT/CN=demo-iot.example.net",
    "/C=GB/O=Test Metering Ltd/CN=Metering Intermediate CA G2",
};
#define N_DNS (sizeof dns / sizeof dns[0])
static const char *const sig_algs[] = {"sha256RSA", "sha1RSA", "sha256RSA", "sha384RSA"};

typedef struct slot {
    uint32_t size;  /* 0 = empty */
    unsigned issuer, subject, sig;
    char serial[40], thumb[41];
} slot;

typedef struct bench {
    capture c;
    slot store[11];
    char imei[16];
    uint64_t t;
    uint64_t record_overhead; /* file bytes per record besides the payload */
} bench;

/* The size of the file once everything written so far is flushed. */
static uint64_t file_bytes(const bench *b)
{
    return PCAP_FILE_HEADER + b->c.records * b->record_overhead + b->c.payload_bytes;
}

/* A Luhn-valid IMEI with a random serial part. */
static void make_imei(bench *b)
{
    static const char tac[] = "35824005"; /* 8-digit type allocation code */
    char d[15];
    memcpy(d, tac, 8);
    for (int i = 8; i < 14; i++)
        d[i] = (char)('0' + rng_range(&b->c.rng, 0, 9));
    unsigned sum = 0;
    for (int i = 0; i < 14; i++) {
        unsigned v = (unsigned)(d[13 - i] - '0');
        if (i % 2 == 0) { /* doubled: rightmost of the 14, next to the check digit */
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    d[14] = (char)('0' + (10 - sum % 10) % 10);
    memcpy(b->imei, d, 15);
    b->imei[15] = '\0';
}

/* Random but well-formed base64 for a 1024-bit RSA signature (128 bytes):
 * 171 characters, the last with its two low bits clear, then one '='. */
static int fake_sign(void *ctx, const uint8_t *region, size_t region_len,
                     char *out, size_t cap, size_t *out_len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint64_t *rng = ctx;
    (void)region;
    (void)region_len;
    if (cap < 172)
        return -1;
    for (int i = 0; i < 170; i++)
        out[i] = alphabet[rng_next(rng) & 63];
    out[170] = alphabet[(rng_next(rng) & 15) << 2];
    out[171] = '=';
    *out_len = 172;
    return 0;
}

/* Encodes @p spec and sends it as a secure command; the module takes
 * 150..450 ms to process the frame and then reports @p fail or success. */
static uint64_t send_secure_frame(bench *b, const at_frame_spec *spec, bool fail)
{
    static const char ok[] = "\r\nSECURE CMD END OK\r\n\r\nOK\r\n";
    static const char err[] = "\r\nSECURE CMD ERROR\r\n\r\nERROR\r\n";
    static uint8_t frame[8192];
    capture *c = &b->c;
    size_t frame_len = 0;

    /* Signing draws from the capture's PRNG, before the exchange does. */
    at_status st = at_frame_encode(spec, fake_sign, &c->rng, frame, sizeof frame, &frame_len);
    if (st != AT_OK)
        die("at_frame_encode: %s", at_status_str(st));
    return secure_command(c, b->t, frame, frame_len, fail ? err : ok, 150, 450);
}

static void write_cert(bench *b, uint16_t index)
{
    static uint8_t cert[2048], key[1300];
    uint64_t *rng = &b->c.rng;
    size_t cert_len = (size_t)rng_range(rng, 1024, 2048);
    size_t key_len = index == 0 ? (size_t)rng_range(rng, 600, 1300) : 0;
    rng_bytes(rng, cert, cert_len);
    cert[0] = 0x30; /* looks like a DER SEQUENCE */
    cert[1] = 0x82;
    cert[2] = (uint8_t)((cert_len - 4) >> 8);
    cert[3] = (uint8_t)(cert_len - 4);
    rng_bytes(rng, key, key_len);
    at_frame_spec spec = {
        .cmd_id = AT_CMD_WRITE,
        .index = index,
        .cert = cert,
        .cert_len = cert_len,
        .key = key_len ? key : NULL,
        .key_len = key_len,
        .imei = b->imei,
        .sign = true,
    };
    bool fail = rng_range(rng, 0, 9) == 0;
    b->t = send_secure_frame(b, &spec, fail);
    if (!fail) {
        slot *s = &b->store[index];
        s->size = (uint32_t)cert_len;
        s->issuer = (unsigned)rng_range(rng, 0, N_DNS - 1);
        s->subject = index == 0 ? 2 : s->issuer;
        s->sig = (unsigned)rng_range(rng, 0, 3);
        buf t = {0};
        buf_add_random_hex(&t, rng, (size_t)rng_range(rng, 4, 16));
        snprintf(s->serial, sizeof s->serial, "%s", t.p);
        t.len = 0;
        buf_add_random_hex(&t, rng, 20);
        memcpy(s->thumb, t.p, 41);
        buf_free(&t);
    }
}

static void delete_cert(bench *b, uint16_t index)
{
    at_frame_spec spec = {.cmd_id = AT_CMD_DELETE, .index = index, .imei = b->imei, .sign = true};
    b->t = send_secure_frame(b, &spec, false);
    b->store[index].size = 0;
}

static void list_certs(bench *b)
{
    buf r = {0};
    buf_add(&r, "\r\n", 2);
    for (unsigned i = 0; i <= 10; i++) {
        const slot *s = &b->store[i];
        if (!s->size)
            buf_addf(&r, "^SBNR: %u, size: \"0\", issuer: \"\", serial number: \"\", "
                         "subject: \"\", signature: \"\", thumbprint algorithm: \"\", "
                         "thumbprint: \"\"\r\n", i);
        else
            buf_addf(&r, "^SBNR: %u, size: \"%" PRIu32 "\", issuer: \"%s\", serial number: "
                         "\"%s\", subject: \"%s\", signature: \"%s\", thumbprint "
                         "algorithm: \"sha1\", thumbprint: \"%s\"\r\n",
                     i, s->size, dns[s->issuer], s->serial, dns[s->subject],
                     sig_algs[s->sig], s->thumb);
    }
    buf_add(&r, "\r\nOK\r\n", 6);
    b->t = command(&b->c, b->t, "AT^SBNR=is_cert\r", r.p, r.len, 20, 40);
    buf_free(&r);
}

/* A TLS download: open, +CIEV: is_cert, reads of 1500 bytes, close. */
static void download(bench *b)
{
    capture *c = &b->c;
    uint64_t *rng = &c->rng;
    static uint8_t resp[1600];
    char line[128];

    b->t = command_s(c, b->t, "AT^SICS=0,conType,GPRS0\r", "\r\nOK\r\n");
    b->t = command_s(c, b->t, "AT^SICS=0,apn,\"internet.example\"\r", "\r\nOK\r\n");
    b->t = command_s(c, b->t, "AT^SISS=1,srvType,\"Socket\"\r", "\r\nOK\r\n");
    b->t = command_s(c, b->t, "AT^SISS=1,conId,0\r", "\r\nOK\r\n");
    b->t = command_s(c, b->t, "AT^SISS=1,address,\"socktcps://203.0.113.7:443\"\r", "\r\nOK\r\n");
    b->t = command_s(c, b->t, "AT^SISS=1,secOpt,1\r", "\r\nOK\r\n");
    b->t = command(c, b->t, "AT^SISO=1\r", "\r\nOK\r\n", 6, 40, 90);

    buf u = {0};
    const slot *s = &b->store[1];
    unsigned issuer = s->size ? s->issuer : 0;
    buf_addf(&u, "\r\n+CIEV: is_cert,1,%s,%s,%s,%s,sha1,", dns[issuer],
             s->size ? s->serial : "00F1F4565330802E0B", dns[issuer],
             sig_algs[s->size ? s->sig : 0]);
    buf_add_random_hex(&u, rng, 20);
    buf_add(&u, "\r\n", 2);
    b->t = urc_then_pause(c, b->t - 80 * NS_PER_MS, u.p);
    buf_free(&u);

    if (rng_range(rng, 0, 7) == 0) { /* the server is not trusted */
        b->t = urc_then_pause(c, b->t, "\r\n^SIS: 1,0,66,\"peer certificate is not confirmed\"\r\n");
        b->t = command_s(c, b->t, "AT^SISC=1\r", "\r\nOK\r\n");
        return;
    }
    b->t = urc_then_pause(c, b->t, "\r\n^SISW: 1,1\r\n");

    /* An HTTP request through AT^SISW: TE writes exactly n bytes. */
    static const char req[] = "GET /firmware/image.bin HTTP/1.1\r\nHost: updates.example.net\r\n\r\n";
    size_t req_len = strlen(req);
    snprintf(line, sizeof line, "AT^SISW=1,%zu\r", req_len);
    uint64_t te_end = line_send(c, AT_DIR_TE_TO_ME, line, strlen(line), b->t);
    line_send(c, AT_DIR_ME_TO_TE, line, strlen(line), b->t + byte_time(1));
    snprintf(line, sizeof line, "\r\n^SISW: 1,%zu,0\r\n", req_len);
    uint64_t me_end = line_send(c, AT_DIR_ME_TO_TE, line, strlen(line), te_end + 3 * NS_PER_MS);
    te_end = line_send(c, AT_DIR_TE_TO_ME, req, req_len, me_end + 2 * NS_PER_MS);
    me_end = line_send(c, AT_DIR_ME_TO_TE, "\r\nOK\r\n", 6, te_end + 4 * NS_PER_MS);
    capture_flush(c);
    b->t = next_command_time(c, me_end);
    b->t = urc_then_pause(c, b->t, "\r\n^SISR: 1,1\r\n");

    unsigned reads = (unsigned)rng_range(rng, 5, 30);
    for (unsigned i = 0; i < reads; i++) {
        size_t m = i + 1 < reads ? 1500 : (size_t)rng_range(rng, 1, 1499);
        int hl = snprintf((char *)resp, sizeof resp, "\r\n^SISR: 1,%zu\r\n", m);
        rng_bytes(rng, resp + hl, m); /* binary: CR, LF, "OK" may appear inside */
        memcpy(resp + hl + m, "\r\n\r\nOK\r\n", 8);
        b->t = command(c, b->t, "AT^SISR=1,1500\r", resp, (size_t)hl + m + 8, 3, 12);
    }
    b->t = command_s(c, b->t, "AT^SISC=1\r", "\r\nOK\r\n");
}

static void session(bench *b)
{
    capture *c = &b->c;
    uint64_t *rng = &c->rng;
    char resp[128];

    memset(b->store, 0, sizeof b->store);
    make_imei(b);
    b->t = urc_then_pause(c, b->t + 1800 * NS_PER_MS, "\r\n^SYSSTART\r\n");
    b->t = command_s(c, b->t, "ATE1\r", "\r\nOK\r\n");
    b->t = command_s(c, b->t, "AT+CREG=1\r", "\r\nOK\r\n");
    snprintf(resp, sizeof resp, "\r\n%s\r\n\r\nOK\r\n", b->imei);
    b->t = command_s(c, b->t, rng_range(rng, 0, 1) ? "AT+CGSN\r" : "AT+GSN\r", resp);
    b->t = command_s(c, b->t, "AT^SIND=is_cert,1\r", "\r\n^SIND: is_cert,1\r\n\r\nOK\r\n");
    b->t = command_s(c, b->t, "AT+CMER=3,0,0,2\r", "\r\nOK\r\n");

    unsigned polls = (unsigned)rng_range(rng, 1, 4);
    for (unsigned i = 0; i < polls; i++) {
        bool reg = i + 1 == polls;
        snprintf(resp, sizeof resp, "\r\n+CREG: 1,%d\r\n\r\nOK\r\n", reg ? 1 : 2);
        b->t = command_s(c, b->t, "AT+CREG?\r", resp);
        snprintf(resp, sizeof resp, "\r\n+CSQ: %u,99\r\n\r\nOK\r\n",
                 (unsigned)rng_range(rng, 5, 31));
        b->t = command_s(c, b->t, "AT+CSQ\r", resp);
        if (reg)
            b->t = urc_then_pause(c, b->t, "\r\n+CREG: 1\r\n");
    }

    /* Provisioning: client certificate and key, then some server CAs. */
    if (rng_range(rng, 0, 2) != 0) {
        write_cert(b, 0);
        unsigned n = (unsigned)rng_range(rng, 1, 4);
        for (unsigned i = 0; i < n; i++)
            write_cert(b, (uint16_t)rng_range(rng, 1, 10));
        if (rng_range(rng, 0, 3) == 0)
            delete_cert(b, (uint16_t)rng_range(rng, 1, 10));
    }
    list_certs(b);

    unsigned downloads = (unsigned)rng_range(rng, 1, 3);
    for (unsigned i = 0; i < downloads; i++)
        download(b);
    b->t += rng_range(rng, 2, 20) * NS_PER_S; /* power cycle */
}

static void usage(FILE *fp)
{
    fputs("usage: attrace-bench-gen -o FILE [-s MB] [-r SEED]\n"
          "Writes at least MB x 10^6 bytes (default 256) of mixed AT traffic.\n",
          fp);
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    uint64_t mb = 256, seed = 1;
    int opt;
    while ((opt = getopt(argc, argv, "o:s:r:h")) != -1) {
        char *end;
        switch (opt) {
        case 'o': out = optarg; break;
        case 's':
            errno = 0;
            mb = strtoull(optarg, &end, 10);
            if (errno || *end || mb == 0 || mb > 1000000)
                die("bad size: %s", optarg);
            break;
        case 'r':
            errno = 0;
            seed = strtoull(optarg, &end, 0);
            if (errno || *end)
                die("bad seed: %s", optarg);
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!out || optind != argc) {
        usage(stderr);
        return 2;
    }

    static bench b;
    capture_open(&b.c, out, seed, MAX_CHUNK);
    {
        at_trace_record probe = {.dir = AT_DIR_ME_TO_TE, .event = AT_TEV_DATA};
        uint8_t tmp[256];
        size_t n = at_trace_encode_packet(&probe, tmp, sizeof tmp);
        if (n == 0)
            die("at_trace_encode_packet failed");
        b.record_overhead = PCAP_RECORD_HEADER + n;
    }

    const uint64_t target = mb * UINT64_C(1000000);
    uint64_t sessions = 0;
    b.t = START_TS;
    capture_note_start(&b.c, b.t);
    capture_flush(&b.c);
    while (file_bytes(&b) < target) {
        session(&b);
        sessions++;
    }
    capture_note_stop(&b.c, b.t);
    capture_close(&b.c);
    fprintf(stderr, "attrace-bench-gen: %s: %" PRIu64 " bytes, %" PRIu64
                    " records, %" PRIu64 " sessions\n",
            out, file_bytes(&b), b.c.records, sessions);
    return 0;
}
