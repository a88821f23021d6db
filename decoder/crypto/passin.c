/*
 * Password sources, in the spirit of OpenSSL's -passin: env:VAR,
 * file:PATH, pass:TEXT, or a prompt on the controlling terminal with echo
 * turned off. The password never appears in an error message, and every
 * buffer that held it is wiped.
 */
#define _POSIX_C_SOURCE 200809L

#include "errbuf.h"
#include "attrace/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

#define TTY_PATH "/dev/tty"

static const char SOURCES[] = "use env:VAR, file:PATH, pass:TEXT or prompt";

/* Copies @p s (@p n bytes) as the password; fails when it does not fit. */
static int put_password(const char *s, size_t n, char *out, size_t cap,
                        char *err, size_t err_cap)
{
    if (n >= cap) {
        OPENSSL_cleanse(out, cap);
        out[0] = '\0';
        at_err_set(err, err_cap, "the password is longer than %zu characters",
                cap - 1);
        return -1;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

typedef enum line_result {
    LINE_OK = 0,
    LINE_EMPTY_INPUT, /* end of input before any byte */
    LINE_TOO_LONG,
    LINE_IO_ERROR,
    LINE_INTERRUPTED
} line_result;

static volatile sig_atomic_t caught_signal;

/*
 * Reads one line from @p fd, byte by byte so that nothing past the line is
 * consumed and no stdio buffer keeps a copy. The line end (LF, CR LF or a
 * lone CR at the end) is dropped. An over-long line is read to its end and
 * reported; @p out is wiped then. @p watch_signals: stop when a signal
 * handled by prompt_tty arrives.
 */
static line_result read_line(int fd, char *out, size_t cap, bool watch_signals)
{
    size_t n = 0;
    bool any = false, too_long = false;
    line_result res = LINE_OK;

    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0) {
            if (errno == EINTR) {
                if (watch_signals && caught_signal) {
                    res = LINE_INTERRUPTED;
                    break;
                }
                continue;
            }
            res = LINE_IO_ERROR;
            break;
        }
        if (r == 0) {
            if (!any)
                res = LINE_EMPTY_INPUT;
            break;
        }
        any = true;
        if (c == '\n')
            break;
        if (n + 1 < cap)
            out[n++] = c;
        else
            too_long = true;
        c = 0;
    }
    if (res == LINE_OK && too_long)
        res = LINE_TOO_LONG;
    if (res != LINE_OK) {
        OPENSSL_cleanse(out, cap);
        out[0] = '\0';
        return res;
    }
    if (n > 0 && out[n - 1] == '\r')
        n--;
    out[n] = '\0';
    OPENSSL_cleanse(out + n, cap - n);
    out[n] = '\0';
    return LINE_OK;
}

static int from_env(const char *var, char *out, size_t cap, char *err,
                    size_t err_cap)
{
    if (!*var) {
        at_err_set(err, err_cap, "env: needs the name of an environment variable (env:VAR)");
        return -1;
    }
    const char *v = getenv(var);
    if (!v) {
        at_err_set(err, err_cap, "environment variable %s is not set", var);
        return -1;
    }
    return put_password(v, strlen(v), out, cap, err, err_cap);
}

static int from_file(const char *path, char *out, size_t cap, char *err,
                     size_t err_cap)
{
    if (!*path) {
        at_err_set(err, err_cap, "file: needs a path (file:PATH)");
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        at_err_set(err, err_cap, "cannot open password file %s: %s", path,
                strerror(errno));
        return -1;
    }
    line_result r = read_line(fd, out, cap, false);
    int saved = errno;
    close(fd);
    switch (r) {
    case LINE_OK:
        return 0;
    case LINE_EMPTY_INPUT:
        at_err_set(err, err_cap, "password file %s is empty", path);
        return -1;
    case LINE_TOO_LONG:
        at_err_set(err, err_cap,
                "the first line of password file %s is longer than %zu characters",
                path, cap - 1);
        return -1;
    case LINE_IO_ERROR:
    case LINE_INTERRUPTED:
        break;
    }
    at_err_set(err, err_cap, "cannot read password file %s: %s", path,
            strerror(saved));
    return -1;
}

static void on_signal(int sig) { caught_signal = sig; }

static const int WATCHED[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP};
#define N_WATCHED (sizeof WATCHED / sizeof WATCHED[0])

static void write_all(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/*
 * Asks on the controlling terminal with echo off. The terminal settings
 * are restored on every path, including a signal that ends the program
 * (the handler only records it; the signal is raised again afterwards).
 */
static int prompt_tty(const char *prompt, char *out, size_t cap, char *err,
                      size_t err_cap)
{
    int fd = open(TTY_PATH, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        at_err_set(err, err_cap,
                "no terminal to ask for the password on; use --passin env:VAR, "
                "file:PATH or pass:TEXT");
        return -1;
    }
    struct termios saved_tio, quiet_tio;
    if (tcgetattr(fd, &saved_tio) != 0) {
        close(fd);
        at_err_set(err, err_cap,
                "no terminal to ask for the password on; use --passin env:VAR, "
                "file:PATH or pass:TEXT");
        return -1;
    }

    struct sigaction sa, old_sa[N_WATCHED];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: read() returns EINTR */
    caught_signal = 0;
    for (size_t i = 0; i < N_WATCHED; i++)
        sigaction(WATCHED[i], &sa, &old_sa[i]);

    quiet_tio = saved_tio;
    quiet_tio.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
    quiet_tio.c_lflag |= ICANON;
    int rc = -1;
    if (tcsetattr(fd, TCSAFLUSH, &quiet_tio) != 0) {
        at_err_set(err, err_cap, "cannot turn off echo on the terminal: %s",
                strerror(errno));
    } else {
        write_all(fd, prompt ? prompt : "Password: ");
        line_result r = read_line(fd, out, cap, true);
        int saved_errno = errno;
        write_all(fd, "\n");
        switch (r) {
        case LINE_OK:
            rc = 0;
            break;
        case LINE_EMPTY_INPUT:
            at_err_set(err, err_cap, "no password entered (end of input)");
            break;
        case LINE_TOO_LONG:
            at_err_set(err, err_cap, "the password is longer than %zu characters",
                    cap - 1);
            break;
        case LINE_INTERRUPTED:
            at_err_set(err, err_cap, "password prompt interrupted");
            break;
        case LINE_IO_ERROR:
            at_err_set(err, err_cap, "cannot read the password from the terminal: %s",
                    strerror(saved_errno));
            break;
        }
        while (tcsetattr(fd, TCSANOW, &saved_tio) != 0 && errno == EINTR)
            ;
    }
    close(fd);

    for (size_t i = 0; i < N_WATCHED; i++)
        sigaction(WATCHED[i], &old_sa[i], NULL);
    if (caught_signal) {
        int sig = caught_signal;
        caught_signal = 0;
        raise(sig); /* the program's own disposition decides now */
    }
    return rc;
}

int at_passin_read(const char *spec, const char *prompt, char *out, size_t cap,
                   char *err, size_t err_cap)
{
    if (err && err_cap)
        err[0] = '\0';
    if (!out || cap == 0) {
        at_err_set(err, err_cap, "no room for the password");
        return -1;
    }
    out[0] = '\0';

    if (!spec || strcmp(spec, "prompt") == 0)
        return prompt_tty(prompt, out, cap, err, err_cap);
    if (strncmp(spec, "env:", 4) == 0)
        return from_env(spec + 4, out, cap, err, err_cap);
    if (strncmp(spec, "file:", 5) == 0)
        return from_file(spec + 5, out, cap, err, err_cap);
    if (strncmp(spec, "pass:", 5) == 0)
        return put_password(spec + 5, strlen(spec + 5), out, cap, err, err_cap);

    /* The text may be the password itself, typed without a scheme: it is
     * not repeated here. */
    at_err_set(err, err_cap, "unknown password source; %s", SOURCES);
    return -1;
}
