/*
 * attrace-bench-read: the benchmark's second baseline, the trace reader
 * alone. Reads every record of a trace with the reader `attrace decode`
 * uses (at_trace_open/at_trace_next, over libpcap) and prints the record
 * and payload byte counts, so that nothing is optimized away. It decodes
 * nothing: `attrace decode` minus this is the decoding and the output.
 *
 *   attrace-bench-read TRACE
 */
#include "attrace/trace.h"

#include <inttypes.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: attrace-bench-read TRACE\n");
        return 2;
    }
    char err[512];
    at_trace_reader *r = at_trace_open(argv[1], err, sizeof err);
    if (!r) {
        fprintf(stderr, "attrace-bench-read: %s\n", err);
        return 3;
    }
    at_trace_record rec;
    uint64_t records = 0, bytes = 0;
    int st;
    while ((st = at_trace_next(r, &rec)) == 1) {
        records++;
        bytes += rec.len;
    }
    if (st < 0)
        fprintf(stderr, "attrace-bench-read: %s\n", at_trace_error(r));
    at_trace_close(r);
    printf("%" PRIu64 " records, %" PRIu64 " payload bytes\n", records, bytes);
    return st < 0 ? 3 : 0;
}
