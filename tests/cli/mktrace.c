/*
 * mktrace.c - attrace-mktrace SCRIPT OUT.pcap: builds a trace
 * (TRACE-FORMAT.md) from a small text script, so CLI tests can craft
 * traces by hand. One script line = one record.
 *
 *   > TEXT            TE->ME data; C escapes \r \n \t \0 \\ \" \xHH
 *   < TEXT            ME->TE data
 *   > hex: 0C 00 ...  binary data (spaces optional)
 *   > fill: N HH      N bytes of value 0xHH
 *   > file: PATH      the bytes of a file (a frame from `attrace encode`);
 *                     a relative PATH is taken from the script's folder.
 *                     (64 KiB a record)
 *   @+5ms             the next record comes 5 ms after the previous one
 *                     (units ns, us, ms, s; default 1 ms per record)
 *   @=SECONDS[.FRAC]  the next record's absolute time (Unix epoch, UTC)
 *   ch N              channel of the following records
 *   baud N            baud rate written in the following records
 *   ! EVENT [ARGS]    a non-data record TE->ME; "!<" for ME->TE, "!>" TE->ME:
 *                       break | framing [TEXT] | parity [TEXT] |
 *                       overrun [N] | lines [RTS CTS DTR DSR DCD RI | unknown] |
 *                       settings TEXT | note TEXT |
 *                       gap (the next data record is flagged bytes-missing)
 *   # comment, blank lines ignored
 *
 * The first record is at 2024-05-01T12:00:00Z unless @= says otherwise.
 */
#define _POSIX_C_SOURCE 200809L /* getline */

#include "attrace/trace.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_START_NS (1714564800ull * 1000000000ull)
#define DEFAULT_STEP_NS 1000000ull

typedef struct script {
    const char *name;
    unsigned long lineno;
    at_trace_writer *w;
    uint64_t ts;          /* timestamp of the previous record */
    bool have_ts;
    uint64_t step;        /* delta before the next record */
    bool absolute;        /* next record at @= time */
    uint64_t abs_ts;
    uint16_t channel;
    uint16_t line_state;
    uint32_t baud;
    bool gap_pending;
    uint8_t *buf;
    size_t cap;
} script;

static _Noreturn void die(const script *s, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "attrace-mktrace: %s:%lu: ", s->name, s->lineno);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void reserve(script *s, size_t n)
{
    if (n <= s->cap)
        return;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < n)
        cap *= 2;
    uint8_t *b = realloc(s->buf, cap);
    if (!b)
        die(s, "out of memory");
    s->buf = b;
    s->cap = cap;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static size_t parse_text(script *s, const char *p)
{
    size_t n = 0;
    reserve(s, strlen(p) + 1);
    while (*p) {
        if (*p != '\\') {
            s->buf[n++] = (uint8_t)*p++;
            continue;
        }
        p++;
        switch (*p) {
        case 'r': s->buf[n++] = '\r'; p++; break;
        case 'n': s->buf[n++] = '\n'; p++; break;
        case 't': s->buf[n++] = '\t'; p++; break;
        case '0': s->buf[n++] = 0; p++; break;
        case '\\': s->buf[n++] = '\\'; p++; break;
        case '"': s->buf[n++] = '"'; p++; break;
        case '\'': s->buf[n++] = '\''; p++; break;
        case 'x': {
            int hi = hexval(p[1]), lo = hi >= 0 ? hexval(p[2]) : -1;
            if (hi < 0 || lo < 0)
                die(s, "\\x needs two hex digits");
            s->buf[n++] = (uint8_t)(hi << 4 | lo);
            p += 3;
            break;
        }
        default:
            die(s, "unknown escape '\\%c'", *p ? *p : '0');
        }
    }
    return n;
}

static size_t parse_hex(script *s, const char *p)
{
    size_t n = 0;
    reserve(s, strlen(p) / 2 + 1);
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        int hi = hexval(p[0]), lo = hi >= 0 ? hexval(p[1]) : -1;
        if (hi < 0 || lo < 0)
            die(s, "bad hex byte near \"%.8s\"", p);
        s->buf[n++] = (uint8_t)(hi << 4 | lo);
        p += 2;
    }
    return n;
}

static unsigned long parse_num(const script *s, const char *p, const char **end,
                               unsigned long max)
{
    char *e;
    errno = 0;
    if (!isdigit((unsigned char)*p))
        die(s, "number expected near \"%s\"", p);
    unsigned long v = strtoul(p, &e, 10);
    if (errno || v > max)
        die(s, "number out of range near \"%s\"", p);
    if (end)
        *end = e;
    else if (*e)
        die(s, "unexpected text after the number: \"%s\"", e);
    return v;
}

static void write_record(script *s, at_dir dir, at_trace_event ev,
                         const uint8_t *payload, size_t len)
{
    if (s->absolute) {
        s->ts = s->abs_ts;
        s->absolute = false;
    } else if (!s->have_ts) {
        s->ts = DEFAULT_START_NS;
    } else {
        s->ts += s->step;
    }
    s->have_ts = true;
    s->step = DEFAULT_STEP_NS;

    at_trace_record rec;
    memset(&rec, 0, sizeof rec);
    rec.ts_ns = s->ts;
    rec.dir = dir;
    rec.event = ev;
    rec.channel = s->channel;
    rec.line_state = s->line_state;
    rec.baud = s->baud;
    rec.payload = payload;
    rec.len = len;
    if (ev == AT_TEV_DATA && s->gap_pending) {
        rec.flags |= AT_TFLAG_BYTES_MISSING;
        s->gap_pending = false;
    }
    if (at_trace_write(s->w, &rec) != 0)
        die(s, "%s", at_trace_writer_error(s->w));
}

static void write_record(script *s, at_dir dir, at_trace_event ev,
                         const uint8_t *payload, size_t len);

/* "> file: PATH": the file's bytes, in records of at most the snap length. */
static void file_data(script *s, at_dir dir, const char *p)
{
    while (*p == ' ')
        p++;
    if (!*p)
        die(s, "file: PATH expected");
    char *path;
    const char *slash = strrchr(s->name, '/');
    if (*p == '/' || !slash) {
        path = strdup(p);
    } else {
        size_t dl = (size_t)(slash - s->name) + 1;
        path = malloc(dl + strlen(p) + 1);
        if (path) {
            memcpy(path, s->name, dl);
            strcpy(path + dl, p);
        }
    }
    if (!path)
        die(s, "out of memory");
    FILE *f = fopen(path, "rb");
    if (!f)
        die(s, "%s: %s", path, strerror(errno));
    size_t n = 0;
    for (;;) {
        reserve(s, n + 4096);
        size_t got = fread(s->buf + n, 1, s->cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad)
        die(s, "%s: read error", path);
    free(path);
    if (n == 0)
        die(s, "file: the file is empty");
    const size_t chunk = 65536; /* well under the snap length with headers */
    for (size_t off = 0; off < n; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        write_record(s, dir, AT_TEV_DATA, s->buf + off, k);
    }
}

static void data_line(script *s, at_dir dir, const char *p)
{
    size_t n;
    if (*p == ' ')
        p++;
    if (strncmp(p, "file:", 5) == 0) {
        file_data(s, dir, p + 5);
        return;
    }
    if (strncmp(p, "hex:", 4) == 0) {
        n = parse_hex(s, p + 4);
    } else if (strncmp(p, "fill:", 5) == 0) {
        const char *q = p + 5;
        while (*q == ' ')
            q++;
        unsigned long count = parse_num(s, q, &q, AT_TRACE_SNAPLEN);
        while (*q == ' ')
            q++;
        int hi = hexval(q[0]), lo = hi >= 0 ? hexval(q[1]) : -1;
        if (hi < 0 || lo < 0 || q[2])
            die(s, "fill: N HH expected");
        reserve(s, count + 1);
        memset(s->buf, hi << 4 | lo, count);
        n = count;
    } else {
        n = parse_text(s, p);
    }
    write_record(s, dir, AT_TEV_DATA, s->buf, n);
}

static void time_line(script *s, const char *p)
{
    if (*p == '+') {
        const char *unit;
        unsigned long v = parse_num(s, p + 1, &unit, 1000000000ul);
        uint64_t mul;
        if (strcmp(unit, "ns") == 0)
            mul = 1;
        else if (strcmp(unit, "us") == 0)
            mul = 1000;
        else if (strcmp(unit, "ms") == 0)
            mul = 1000000;
        else if (strcmp(unit, "s") == 0)
            mul = 1000000000;
        else
            die(s, "time unit ns, us, ms or s expected");
        s->step = (uint64_t)v * mul;
    } else if (*p == '=') {
        const char *q;
        unsigned long secs = parse_num(s, p + 1, &q, 4000000000ul);
        uint64_t frac = 0, scale = 100000000;
        if (*q == '.') {
            for (q++; isdigit((unsigned char)*q) && scale; q++, scale /= 10)
                frac += (uint64_t)(*q - '0') * scale;
        }
        if (*q)
            die(s, "@=SECONDS[.FRACTION] expected");
        s->absolute = true;
        s->abs_ts = (uint64_t)secs * 1000000000u + frac;
    } else {
        die(s, "@+DELTA or @=TIME expected");
    }
}

static uint16_t parse_lines(script *s, char *p)
{
    size_t n;
    const at_trace_line *lines = at_trace_lines(&n);
    uint16_t st = 0;
    for (char *tok = strtok(p, " "); tok; tok = strtok(NULL, " ")) {
        size_t i = 0;
        while (i < n && strcmp(tok, lines[i].name) != 0)
            i++;
        if (i < n)
            st |= lines[i].bit;
        else if (strcmp(tok, "unknown") == 0)
            st |= AT_LINE_UNKNOWN;
        else
            die(s, "unknown control line '%s'", tok);
    }
    return st;
}

static void event_line(script *s, char *p)
{
    at_dir dir = AT_DIR_TE_TO_ME;
    if (*p == '<' || *p == '>') {
        dir = *p == '<' ? AT_DIR_ME_TO_TE : AT_DIR_TE_TO_ME;
        p++;
    }
    while (*p == ' ')
        p++;
    char *word = p;
    while (*p && *p != ' ')
        p++;
    if (*p)
        *p++ = '\0';
    while (*p == ' ')
        p++;

    if (strcmp(word, "break") == 0) {
        write_record(s, dir, AT_TEV_BREAK, NULL, 0);
    } else if (strcmp(word, "framing") == 0 || strcmp(word, "parity") == 0) {
        size_t n = parse_text(s, p);
        write_record(s, dir, word[0] == 'f' ? AT_TEV_FRAMING_ERROR : AT_TEV_PARITY_ERROR,
                     s->buf, n);
    } else if (strcmp(word, "overrun") == 0) {
        uint8_t cnt[4];
        if (*p) {
            unsigned long v = parse_num(s, p, NULL, 0xFFFFFFFFul);
            cnt[0] = (uint8_t)(v >> 24);
            cnt[1] = (uint8_t)(v >> 16);
            cnt[2] = (uint8_t)(v >> 8);
            cnt[3] = (uint8_t)v;
        }
        write_record(s, dir, AT_TEV_OVERRUN, *p ? cnt : NULL, *p ? 4 : 0);
    } else if (strcmp(word, "lines") == 0) {
        s->line_state = parse_lines(s, p);
        write_record(s, dir, AT_TEV_LINE_CHANGE, NULL, 0);
    } else if (strcmp(word, "settings") == 0 || strcmp(word, "note") == 0) {
        size_t n = parse_text(s, p);
        write_record(s, dir, word[0] == 's' ? AT_TEV_SETTINGS : AT_TEV_NOTE, s->buf, n);
    } else if (strcmp(word, "gap") == 0) {
        if (*p)
            die(s, "gap takes no argument");
        s->gap_pending = true;
    } else {
        die(s, "unknown event '%s'", word);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: attrace-mktrace SCRIPT OUT.pcap\n");
        return 2;
    }
    script s;
    memset(&s, 0, sizeof s);
    s.name = argv[1];
    s.step = DEFAULT_STEP_NS;
    s.line_state = AT_LINE_UNKNOWN;

    FILE *in = fopen(argv[1], "r");
    if (!in) {
        fprintf(stderr, "attrace-mktrace: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    char err[512];
    s.w = at_trace_create(argv[2], err, sizeof err);
    if (!s.w) {
        fprintf(stderr, "attrace-mktrace: %s\n", err);
        fclose(in);
        return 1;
    }

    char *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    while ((got = getline(&line, &lcap, in)) >= 0) {
        s.lineno++;
        size_t n = (size_t)got;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char *p = line;
        if (n == 0 || p[0] == '#')
            continue;
        switch (p[0]) {
        case '>': data_line(&s, AT_DIR_TE_TO_ME, p + 1); break;
        case '<': data_line(&s, AT_DIR_ME_TO_TE, p + 1); break;
        case '@': time_line(&s, p + 1); break;
        case '!': event_line(&s, p + 1); break;
        default:
            if (strncmp(p, "ch ", 3) == 0)
                s.channel = (uint16_t)parse_num(&s, p + 3, NULL, 65535);
            else if (strncmp(p, "baud ", 5) == 0)
                s.baud = (uint32_t)parse_num(&s, p + 5, NULL, 0xFFFFFFFFul);
            else
                die(&s, "cannot parse \"%s\"", p);
        }
    }
    free(line);
    if (ferror(in)) {
        fprintf(stderr, "attrace-mktrace: %s: read error\n", argv[1]);
        return 1;
    }
    fclose(in);
    if (s.gap_pending)
        die(&s, "'! gap' at the end: no data record follows");
    free(s.buf);
    char err2[512];
    if (at_trace_finish_err(s.w, err2, sizeof err2) != 0) {
        fprintf(stderr, "attrace-mktrace: %s\n", err2);
        return 1;
    }
    return 0;
}
