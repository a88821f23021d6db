/*
 * serial.c - the serial-port layer: termios for terminals that
 * libserialport cannot open (pseudo-terminals), libserialport otherwise.
 */
#define _GNU_SOURCE 1

#include "serial.h"

#include "errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

static const struct {
    uint32_t baud;
    speed_t speed;
} speeds[] = {
    {50, B50}, {75, B75}, {110, B110}, {134, B134}, {150, B150},
    {200, B200}, {300, B300}, {600, B600}, {1200, B1200}, {1800, B1800},
    {2400, B2400}, {4800, B4800}, {9600, B9600}, {19200, B19200},
    {38400, B38400}, {57600, B57600}, {115200, B115200}, {230400, B230400},
    {460800, B460800}, {500000, B500000}, {576000, B576000},
    {921600, B921600}, {1000000, B1000000}, {1152000, B1152000},
    {1500000, B1500000}, {2000000, B2000000}, {2500000, B2500000},
    {3000000, B3000000}, {3500000, B3500000}, {4000000, B4000000},
};

unsigned long at_serial_speed_to_baud(unsigned long speed)
{
    for (size_t i = 0; i < sizeof speeds / sizeof speeds[0]; i++)
        if (speeds[i].speed == (speed_t)speed)
            return speeds[i].baud;
    return 0;
}

unsigned long at_serial_baud_to_speed(uint32_t baud)
{
    for (size_t i = 0; i < sizeof speeds / sizeof speeds[0]; i++)
        if (speeds[i].baud == baud)
            return speeds[i].speed;
    return 0;
}

void at_serial_line_text(const at_serial_line *line, char *buf, size_t cap)
{
    const char *flow = line->flow == AT_SERIAL_FLOW_RTSCTS    ? " rtscts"
                       : line->flow == AT_SERIAL_FLOW_XONXOFF ? " xonxoff"
                                                               : "";
    snprintf(buf, cap, "%u %u%c%u%s", (unsigned)line->baud, line->data_bits,
             line->parity, line->stop_bits, flow);
}

int at_serial_termios_apply(int fd, const at_serial_line *line)
{
    struct termios t;
    if (tcgetattr(fd, &t) != 0)
        return -1;
    cfmakeraw(&t);
    speed_t sp = (speed_t)at_serial_baud_to_speed(line->baud);
    if (sp == 0) {
        errno = EINVAL;
        return -1;
    }
    cfsetispeed(&t, sp);
    cfsetospeed(&t, sp);
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
    t.c_cflag |= CLOCAL | CREAD;
    switch (line->data_bits) {
    case 5: t.c_cflag |= CS5; break;
    case 6: t.c_cflag |= CS6; break;
    case 7: t.c_cflag |= CS7; break;
    default: t.c_cflag |= CS8; break;
    }
    if (line->parity == 'E')
        t.c_cflag |= PARENB;
    else if (line->parity == 'O')
        t.c_cflag |= PARENB | PARODD;
    if (line->stop_bits == 2)
        t.c_cflag |= CSTOPB;
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    if (line->flow == AT_SERIAL_FLOW_RTSCTS)
        t.c_cflag |= CRTSCTS;
    else if (line->flow == AT_SERIAL_FLOW_XONXOFF)
        t.c_iflag |= IXON | IXOFF;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    return tcsetattr(fd, TCSANOW, &t);
}

/* Pseudo-terminals, which libserialport cannot open: a path resolving
 * under /dev/pts/, or a character device with a PTY major number (Linux:
 * 136..143 Unix98 slaves, 2..3 BSD-style, 5 /dev/tty and /dev/ptmx). */
static bool is_pty(const char *path)
{
    char real[4096];
    const char *p = realpath(path, real) ? real : path;
    if (strncmp(p, "/dev/pts/", 9) == 0 || strcmp(p, "/dev/ptmx") == 0)
        return true;
    struct stat st;
    if (stat(p, &st) != 0 || !S_ISCHR(st.st_mode))
        return false;
    unsigned maj = major(st.st_rdev);
    return (maj >= 136 && maj <= 143) || maj == 2 || maj == 3 || maj == 5;
}

/* A terminal device libserialport does not know (no sysfs entry: virtual
 * null-modems, gadget ports): opened with termios as a fallback. */
static bool is_tty_device(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISCHR(st.st_mode))
        return false;
    int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool t = isatty(fd);
    close(fd);
    return t;
}

static int sp_fail(at_serial_port *p, const char *what, char *err, size_t cap)
{
    char *msg = sp_last_error_message();
    at_err_set(err, cap, "%s: %s: %s", p->path, what, msg ? msg : "failed");
    if (msg)
        sp_free_error_message(msg);
    return -1;
}

static int sp_apply(at_serial_port *p, const at_serial_line *line, char *err, size_t cap)
{
    enum sp_parity par = line->parity == 'E'   ? SP_PARITY_EVEN
                         : line->parity == 'O' ? SP_PARITY_ODD
                         : line->parity == 'M' ? SP_PARITY_MARK
                         : line->parity == 'S' ? SP_PARITY_SPACE
                                               : SP_PARITY_NONE;
    enum sp_flowcontrol fc = line->flow == AT_SERIAL_FLOW_RTSCTS    ? SP_FLOWCONTROL_RTSCTS
                             : line->flow == AT_SERIAL_FLOW_XONXOFF ? SP_FLOWCONTROL_XONXOFF
                                                                     : SP_FLOWCONTROL_NONE;
    if (sp_set_baudrate(p->sp, (int)line->baud) != SP_OK)
        return sp_fail(p, "cannot set the baud rate", err, cap);
    if (sp_set_bits(p->sp, (int)line->data_bits) != SP_OK)
        return sp_fail(p, "cannot set the data bits", err, cap);
    if (sp_set_parity(p->sp, par) != SP_OK)
        return sp_fail(p, "cannot set the parity", err, cap);
    if (sp_set_stopbits(p->sp, (int)line->stop_bits) != SP_OK)
        return sp_fail(p, "cannot set the stop bits", err, cap);
    if (sp_set_flowcontrol(p->sp, fc) != SP_OK)
        return sp_fail(p, "cannot set flow control", err, cap);
    return 0;
}

/* One writer per port: a second program writing to the same line would
 * interleave its bytes with ours. An advisory lock on the device (which
 * root's opens do not bypass, unlike TIOCEXCL); read-only taps share. */
static int lock_port(int fd, const char *path, char *err, size_t cap)
{
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    int e = errno;
    if (e == EWOULDBLOCK)
        at_err_set(err, cap, "%s: port busy: another program has it open "
                   "(attrace, a terminal program, ModemManager?)", path);
    else
        at_err_set(err, cap, "%s: cannot lock: %s", path, strerror(e));
    errno = e == EWOULDBLOCK ? EBUSY : e;
    return -1;
}

int at_serial_open(at_serial_port *p, const char *path, const at_serial_line *line,
                  bool read_only, char *err, size_t cap)
{
    memset(p, 0, sizeof *p);
    p->fd = -1;
    snprintf(p->path, sizeof p->path, "%s", path);
    struct sp_port *sp = NULL;
    if (!is_pty(path) && sp_get_port_by_name(path, &sp) != SP_OK) {
        sp = NULL;
        if (!is_tty_device(path)) {
            if (access(path, F_OK) == 0) {
                at_err_set(err, cap, "%s: not a serial port", path);
                return -1;
            }
            return sp_fail(p, "no such serial port", err, cap);
        }
    }
    if (!sp) {
        int fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            at_err_set(err, cap, "%s: cannot open: %s", path, strerror(errno));
            return -1;
        }
        if (!isatty(fd)) {
            close(fd);
            at_err_set(err, cap, "%s: not a terminal", path);
            return -1;
        }
        if (!read_only && lock_port(fd, path, err, cap) != 0) {
            close(fd);
            return -1;
        }
        if (at_serial_termios_apply(fd, line) != 0) {
            at_err_set(err, cap, "%s: cannot apply %u baud %u%c%u: %s", path,
                       (unsigned)line->baud, line->data_bits, line->parity,
                       line->stop_bits, strerror(errno));
            close(fd);
            return -1;
        }
        p->fd = fd;
        return 0;
    }
    p->sp = sp;
    if (sp_open(p->sp, read_only ? SP_MODE_READ : SP_MODE_READ_WRITE) != SP_OK) {
        int e = errno;
        if (e == EBUSY)
            at_err_set(err, cap, "%s: port busy: another program has it open", path);
        else
            sp_fail(p, "cannot open", err, cap);
        sp_free_port(p->sp);
        p->sp = NULL;
        return -1;
    }
    if (sp_apply(p, line, err, cap) != 0) {
        at_serial_close(p);
        return -1;
    }
    int fd = -1;
    if (sp_get_port_handle(p->sp, &fd) != SP_OK || fd < 0) {
        sp_fail(p, "no file descriptor", err, cap);
        at_serial_close(p);
        return -1;
    }
    if (!read_only && lock_port(fd, path, err, cap) != 0) {
        at_serial_close(p);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        at_err_set(err, cap, "%s: fcntl: %s", path, strerror(errno));
        at_serial_close(p);
        return -1;
    }
    p->fd = fd;
    return 0;
}

int at_serial_set_baud_flow(at_serial_port *p, uint32_t baud, at_serial_flow flow,
                           char *err, size_t cap)
{
    if (p->fd < 0)
        return 0;
    if (p->sp) {
        enum sp_flowcontrol fc = flow == AT_SERIAL_FLOW_RTSCTS    ? SP_FLOWCONTROL_RTSCTS
                                 : flow == AT_SERIAL_FLOW_XONXOFF ? SP_FLOWCONTROL_XONXOFF
                                                                   : SP_FLOWCONTROL_NONE;
        if (sp_set_baudrate(p->sp, (int)baud) != SP_OK)
            return sp_fail(p, "cannot set the baud rate", err, cap);
        if (sp_set_flowcontrol(p->sp, fc) != SP_OK)
            return sp_fail(p, "cannot set flow control", err, cap);
        return 0;
    }
    struct termios t;
    speed_t sp = (speed_t)at_serial_baud_to_speed(baud);
    if (tcgetattr(p->fd, &t) != 0 || sp == 0) {
        at_err_set(err, cap, "%s: cannot set %u baud", p->path, (unsigned)baud);
        return -1;
    }
    cfsetispeed(&t, sp);
    cfsetospeed(&t, sp);
    t.c_cflag &= ~(tcflag_t)CRTSCTS;
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF);
    if (flow == AT_SERIAL_FLOW_RTSCTS)
        t.c_cflag |= CRTSCTS;
    else if (flow == AT_SERIAL_FLOW_XONXOFF)
        t.c_iflag |= IXON | IXOFF;
    if (tcsetattr(p->fd, TCSANOW, &t) != 0) {
        at_err_set(err, cap, "%s: tcsetattr: %s", p->path, strerror(errno));
        return -1;
    }
    return 0;
}

void at_serial_close(at_serial_port *p)
{
    if (p->sp) {
        sp_close(p->sp);
        sp_free_port(p->sp);
        p->sp = NULL;
    } else if (p->fd >= 0) {
        close(p->fd);
    }
    p->fd = -1;
}

at_serial_line at_serial_default_line(void)
{
    at_serial_line l = {115200, 8, 'N', 1, AT_SERIAL_FLOW_NONE};
    return l;
}

int at_serial_parse_flow(const char *s, at_serial_flow *out)
{
    if (strcmp(s, "none") == 0)
        *out = AT_SERIAL_FLOW_NONE;
    else if (strcmp(s, "rtscts") == 0)
        *out = AT_SERIAL_FLOW_RTSCTS;
    else if (strcmp(s, "xonxoff") == 0)
        *out = AT_SERIAL_FLOW_XONXOFF;
    else
        return -1;
    return 0;
}

const char *at_serial_flow_name(at_serial_flow f)
{
    switch (f) {
    case AT_SERIAL_FLOW_RTSCTS: return "rtscts";
    case AT_SERIAL_FLOW_XONXOFF: return "xonxoff";
    default: return "none";
    }
}
