/*
 * embed.c - a program that embeds libattrace as a user would: built by
 * install.sh (a staging tree) and deb.sh (the installed libattrace-dev)
 * against the installed headers and pkg-config files only (not the source
 * tree).
 *   embed OUT      writes a two-record trace with libattrace-trace, reads
 *                  it back, feeds the records to the core's session and
 *                  prints the events and the library's version
 *   embed -d TRACE decodes TRACE (a sample) and prints one line per
 *                  completed exchange: "COMMAND -> FINAL LINE"
 * The scripts compare that with the expected lines (deb.sh: with what the
 * installed `attrace decode --json` says of the sample).
 */
#include <attrace/attrace.h>
#include <attrace/trace.h>

#include <stdio.h>
#include <string.h>

/* ctx: NULL prints every event, else only completed exchanges. */
static void on_event(void *ctx, const at_event *ev)
{
    if (!ctx)
        printf("%s %.*s\n", at_event_kind_name(ev->kind), (int)ev->len,
               (const char *)ev->data);
    else if (ev->kind == AT_EV_END && ev->exchange)
        printf("%.*s -> %.*s\n", (int)ev->exchange->line.len,
               (const char *)ev->exchange->line.ptr, (int)ev->line.text.len,
               (const char *)ev->line.text.ptr);
}

static int put(at_trace_writer *w, at_dir dir, uint64_t ts, const char *s)
{
    at_trace_record rec = {.ts_ns = ts, .dir = dir, .event = AT_TEV_DATA,
                           .payload = (const uint8_t *)s, .len = strlen(s)};
    return at_trace_write(w, &rec);
}

/* Feeds the data records of @p path to one session; 0 or 1 (error). */
static int decode(const char *path, void *ctx)
{
    char err[256];
    at_trace_reader *r = at_trace_open(path, err, sizeof err);
    if (!r) {
        fprintf(stderr, "embed: %s\n", err);
        return 1;
    }
    static at_session s;  /* large: not on the stack */
    at_session_init(&s, NULL, on_event, ctx);
    at_trace_record rec;
    int rc;
    uint64_t last = 0;
    while ((rc = at_trace_next(r, &rec)) == 1) {
        if (rec.event == AT_TEV_DATA)
            at_session_feed(&s, rec.dir, rec.ts_ns, rec.payload, rec.len);
        last = rec.ts_ns;
    }
    at_session_finish(&s, last);
    if (rc < 0)
        fprintf(stderr, "embed: %s\n", at_trace_error(r));
    at_trace_close(r);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    char err[256];
    if (argc == 3 && strcmp(argv[1], "-d") == 0)
        return decode(argv[2], "exchanges");
    if (argc != 2) {
        fprintf(stderr, "usage: embed TRACE | embed -d TRACE\n");
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
    int rc = decode(argv[1], NULL);
    printf("attrace %s\n", ATTRACE_VERSION_STRING);
    return rc;
}
