/*
 * test_capture_alloc.c - at_capture_run() when memory runs out while it
 * sets up its channels: it reports "out of memory" and closes nothing it
 * did not open (a channel not yet set up must not close descriptor 0).
 *
 * The seam is the linker's: this program is linked with
 * -Wl,--wrap=malloc, so every malloc() of the capture library (and of the
 * libraries it links) comes here first and can be made to fail, as the
 * real malloc() does when memory is exhausted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "attrace/session.h"
#include "capture.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);

/* Allocations of one live decoder (a channel's at_session) still allowed
 * before the next one fails; -1: none fails. */
static int session_allocs_left = -1;

void *__wrap_malloc(size_t size)
{
    if (size == sizeof(at_session) && session_allocs_left >= 0) {
        if (session_allocs_left == 0) {
            session_allocs_left = -1;
            return NULL;
        }
        session_allocs_left--;
    }
    return __real_malloc(size);
}

/* The descriptors this process has open, as a bit set of 0..63. */
static uint64_t open_fds(void)
{
    uint64_t set = 0;
    for (int fd = 0; fd < 64; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            set |= UINT64_C(1) << fd;
    return set;
}

/* With AT_CAPTURE_MAX_PAIRS channels, the allocation of channel k's
 * decoder fails, for every k: the run fails with "out of memory" before
 * any port is opened, and standard input (a pipe put on descriptor 0
 * here) and every other descriptor are as they were. */
static void test_session_alloc_failure_closes_nothing(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_not_equal(dup2(p[0], 0), -1);
    struct stat want;
    assert_int_equal(fstat(0, &want), 0);

    at_capture_pair pairs[AT_CAPTURE_MAX_PAIRS];
    for (size_t i = 0; i < AT_CAPTURE_MAX_PAIRS; i++)
        pairs[i] = (at_capture_pair){.module = "/nonexistent/attrace-module"};
    at_capture_config cfg;
    at_capture_default_config(&cfg);
    cfg.pairs = pairs;
    cfg.n_pairs = AT_CAPTURE_MAX_PAIRS;
    cfg.out_path = "/nonexistent/attrace-out.pcap";
    cfg.log = NULL;

    for (int k = 0; k < AT_CAPTURE_MAX_PAIRS; k++) {
        uint64_t before = open_fds();
        session_allocs_left = k;
        char err[256] = "";
        int rc = at_capture_run(&cfg, NULL, NULL, err, sizeof err);
        assert_int_equal(session_allocs_left, -1); /* the k-th failed */
        assert_int_equal(rc, AT_CAPTURE_FAILED);
        assert_string_equal(err, "out of memory");
        assert_int_equal(open_fds(), before);
        struct stat got;
        assert_int_equal(fstat(0, &got), 0);
        assert_true(got.st_dev == want.st_dev && got.st_ino == want.st_ino);
    }
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_alloc_failure_closes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
