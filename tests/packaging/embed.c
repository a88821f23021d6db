/*
 * embed.c - a program that embeds libattrace as a user would: built by
 * install.sh against the installed headers and pkg-config files only (not
 * the source tree). It writes a two-record trace with libattrace-trace,
 * reads it back, feeds the records to the core's session and prints the
 * events; install.sh compares that with the expected lines.
 */
#include <attrace/attrace.h>
#include <attrace/trace.h>

#include <stdio.h>
#include <string.h>

static void on_event(void *ctx, const at_event *ev)
{
    (void)ctx;
    printf("%s %.*s\n", at_event_kind_name(ev->kind), (int)ev->len,
           (const char *)ev->data);
}

static int put(at_trace_writer *w, at_dir dir, uint64_t ts, const char *s)
{
    at_trace_record rec = {.ts_ns = ts, .dir = dir, .event = AT_TEV_DATA,
                           .payload = (const uint8_t *)s, .len = strlen(s)};
    return at_trace_write(w, &rec);
}

int main(int argc, char **argv)
{
    char err[256];
    if (argc != 2) {
        fprintf(stderr, "usage: embed TRACE\n");
        return 2;
    }
    at_trace_writer *w = at_trace_create(argv[1], err, sizeof err);
    if (!w) {
        fprintf(stderr, "embed: %s\n", err);
        return 1;
    }
    if (put(w, AT_DIR_TE_TO_ME, 1000, "AT+CGSN\r") != 0 ||
        put(w, AT_DIR_ME_TO_TE, 2000, "AT+CGSN\r\r\n358240051111110\r\n\r\nOK\r\n") != 0)
        fprintf(stderr, "embed: %s\n", at_trace_writer_error(w));
    if (at_trace_finish_err(w, err, sizeof err) != 0) {
        fprintf(stderr, "embed: %s\n", err);
        return 1;
    }

    at_trace_reader *r = at_trace_open(argv[1], err, sizeof err);
    if (!r) {
        fprintf(stderr, "embed: %s\n", err);
        return 1;
    }
    static at_session s;  /* large: not on the stack */
    at_session_init(&s, NULL, on_event, NULL);
    at_trace_record rec;
    int rc;
    uint64_t last = 0;
    while ((rc = at_trace_next(r, &rec)) == 1) {
        at_session_feed(&s, rec.dir, rec.ts_ns, rec.payload, rec.len);
        last = rec.ts_ns;
    }
    at_session_finish(&s, last);
    if (rc < 0)
        fprintf(stderr, "embed: %s\n", at_trace_error(r));
    at_trace_close(r);
    printf("attrace %s\n", ATTRACE_VERSION_STRING);
    return rc < 0 ? 1 : 0;
}
