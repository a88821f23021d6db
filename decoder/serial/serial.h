/*
 * serial.h - the one serial-port layer of attrace (library attrace_serial),
 * used by `attrace capture`, attrace-extcap, `attrace-sim --port`, the live
 * commands (`attrace cert`, `attrace replay`, through the module driver) and
 * attrace-provision.
 *
 * One port type with two implementations. Pseudo-terminals (which
 * libserialport cannot open) and terminal devices libserialport does not
 * know are opened with open()+termios; every other name goes through
 * libserialport. Either way the port exposes a non-blocking file descriptor
 * for poll()/read()/write() and the Linux ioctls (TIOCMGET, TIOCGICOUNT).
 */
#ifndef ATTRACE_SERIAL_H
#define ATTRACE_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum at_serial_flow {
    AT_SERIAL_FLOW_NONE = 0,
    AT_SERIAL_FLOW_RTSCTS,
    AT_SERIAL_FLOW_XONXOFF
} at_serial_flow;

/** Line settings of a port. */
typedef struct at_serial_line {
    uint32_t baud;          /**< e.g. 115200 */
    unsigned data_bits;     /**< 5..8 */
    char parity;            /**< 'N', 'E', 'O' (also 'M', 'S' on real ports) */
    unsigned stop_bits;     /**< 1 or 2 */
    at_serial_flow flow;
} at_serial_line;

struct sp_port;

typedef struct at_serial_port {
    int fd;                  /* -1 when closed */
    struct sp_port *sp;      /* libserialport handle, or NULL (termios) */
    char path[256];
} at_serial_port;

/** 115200 8N1, no flow control. */
at_serial_line at_serial_default_line(void);

/* Opens @p path read/write (or read-only with @p read_only) with the
 * settings @p line, non-blocking, close-on-exec. 0 or -1 with @p err.
 * A port another process holds (TIOCEXCL, or libserialport's lock) fails
 * with errno EBUSY and a message saying it is busy. */
int at_serial_open(at_serial_port *p, const char *path, const at_serial_line *line,
                   bool read_only, char *err, size_t cap);

/* Applies baud and flow control only (the rest stays). 0 or -1. */
int at_serial_set_baud_flow(at_serial_port *p, uint32_t baud, at_serial_flow flow,
                            char *err, size_t cap);

void at_serial_close(at_serial_port *p);

/* Sets the termios of an open terminal fd: raw, @p line. 0 or -1 (errno). */
int at_serial_termios_apply(int fd, const at_serial_line *line);

/* termios speed value <-> baud; 0 if not a standard speed. */
unsigned long at_serial_speed_to_baud(unsigned long speed);
unsigned long at_serial_baud_to_speed(uint32_t baud);

/* "115200 8N1 rtscts" */
void at_serial_line_text(const at_serial_line *line, char *buf, size_t cap);

/** Parses "none", "rtscts", "xonxoff"; 0 or -1. */
int at_serial_parse_flow(const char *s, at_serial_flow *out);
/** "none", "rtscts", "xonxoff". */
const char *at_serial_flow_name(at_serial_flow f);

#endif
