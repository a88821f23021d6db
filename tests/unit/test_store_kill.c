/*
 * test_store_kill.c - the simulator's store survives SIGKILL at any point:
 * a child process rewrites the index-0 certificate and key (with a key,
 * without one, deleted) in a loop and is killed after a random delay, 120
 * times; after each kill the store is opened again (which finishes or
 * drops the interrupted change) and must hold a certificate and key of
 * the same generation (or no key where that generation has none, or
 * neither), and no staged or temporary file, none with key bytes.
 *
 * Whatever moment the kill hits, the invariant must hold, so the test
 * does not depend on timing; the random delays only spread the kills over
 * the steps of a change. It also reports how many kills left an
 * unfinished change behind (recoveries), to show they were exercised.
 */
#define _XOPEN_SOURCE 700

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#define KILLS 120
#define CERT_LEN 1500u
#define KEY_LEN 1200u
#define MAX_DELAY_US 4000u

/* Generation g's operation on index 0. */
enum op { PUT_KEY, PUT_NOKEY, DELETE };
static enum op op_of(unsigned g)
{
    return g % 7 == 6 ? DELETE : g % 5 == 4 ? PUT_NOKEY : PUT_KEY;
}

/* "CERT <g> <op>" or "KEY <g>", padded with the generation's byte. */
static void fill(uint8_t *buf, size_t len, const char *fmt, unsigned g, int op)
{
    memset(buf, (int)('a' + g % 26), len);
    int n = snprintf((char *)buf, len, fmt, g, op);
    buf[n] = ' ';
}

static _Noreturn void child(const char *dir, int ready_fd)
{
    char err[512];
    sim_store *st = sim_store_open(dir, err, sizeof err);
    if (!st)
        _exit(3);
    if (write(ready_fd, "r", 1) != 1)
        _exit(4);
    static uint8_t cert[CERT_LEN], key[KEY_LEN], other[CERT_LEN];
    for (unsigned g = (unsigned)getpid() % 1000u;; g++) {
        enum op op = op_of(g);
        int rc;
        if (op == DELETE) {
            rc = sim_store_delete(st, 0, err, sizeof err);
        } else {
            fill(cert, sizeof cert, "CERT %u %d", g, op);
            fill(key, sizeof key, "KEY %u %d", g, op);
            rc = sim_store_put(st, 0, cert, sizeof cert, op == PUT_KEY ? key : NULL,
                               op == PUT_KEY ? sizeof key : 0, err, sizeof err);
        }
        if (rc == 0 && g % 3 == 0) { /* a single-file slot beside the pair */
            fill(other, sizeof other, "CERT %u %d", g, 9);
            rc = sim_store_put(st, 3, other, sizeof other, NULL, 0, err, sizeof err);
        }
        if (rc != 0)
            _exit(5);
    }
}

/* Whether the directory holds anything but the store's own names; counts
 * what it found into @p leftovers. */
static unsigned count_leftovers(const char *dir, char *names, size_t cap)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    unsigned n = 0;
    names[0] = '\0';
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *s = de->d_name;
        if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strcmp(s, "cert-00.der") == 0 ||
            strcmp(s, "cert-03.der") == 0 || strcmp(s, "key-00.der") == 0)
            continue;
        n++;
        size_t used = strlen(names);
        snprintf(names + used, cap - used, "%s ", s);
    }
    closedir(d);
    return n;
}

static void check_pair(const sim_store *st, unsigned kill_no)
{
    size_t cl = 0, kl = 0;
    const uint8_t *c = sim_store_cert(st, 0, &cl);
    const uint8_t *k = sim_store_key(st, &kl);
    if (!c) {
        if (k)
            fail_msg("kill %u: a key without its certificate", kill_no);
        return;
    }
    unsigned cg, kg;
    int cop, kop;
    assert_int_equal(cl, CERT_LEN);
    if (sscanf((const char *)c, "CERT %u %d", &cg, &cop) != 2)
        fail_msg("kill %u: the certificate is not one this test wrote", kill_no);
    if (cop == PUT_NOKEY) {
        if (k)
            fail_msg("kill %u: certificate of generation %u (stored without a key) "
                     "beside a key", kill_no, cg);
        return;
    }
    if (!k)
        fail_msg("kill %u: certificate of generation %u without its key", kill_no, cg);
    assert_int_equal(kl, KEY_LEN);
    if (sscanf((const char *)k, "KEY %u %d", &kg, &kop) != 2)
        fail_msg("kill %u: the key is not one this test wrote", kill_no);
    if (kg != cg)
        fail_msg("kill %u: certificate of generation %u with the key of generation %u",
                 kill_no, cg, kg);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(path);
}

static void test_kill_at_random_points(void **state)
{
    (void)state;
    char dir[] = "/tmp/attrace-store-kill-XXXXXX";
    assert_non_null(mkdtemp(dir));
    unsigned seed = (unsigned)time(NULL);
    unsigned recoveries = 0;
    srand(seed);
    for (unsigned i = 1; i <= KILLS; i++) {
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pfd[0]);
            child(dir, pfd[1]);
        }
        close(pfd[1]);
        char b;
        ssize_t got = read(pfd[0], &b, 1);
        close(pfd[0]);
        if (got != 1) {
            int status;
            waitpid(pid, &status, 0);
            fail_msg("kill %u: the child could not open the store (status %d)", i, status);
        }
        struct timespec ts = {0, (long)(rand() % MAX_DELAY_US) * 1000L};
        nanosleep(&ts, NULL);
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status))
            fail_msg("kill %u: the child ended by itself (status %d)", i, status);

        char names[4096];
        if (count_leftovers(dir, names, sizeof names))
            recoveries++;
        char err[512];
        sim_store *st = sim_store_open(dir, err, sizeof err);
        if (!st)
            fail_msg("kill %u: the store does not open again: %s", i, err);
        check_pair(st, i);
        sim_store_close(st);
        if (count_leftovers(dir, names, sizeof names))
            fail_msg("kill %u: left behind after the reopen: %s", i, names);
    }
    printf("store_kill: %u kills (seed %u), %u left an unfinished change that the "
           "reopen finished or dropped\n", KILLS, seed, recoveries);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_at_random_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
