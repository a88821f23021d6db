/*
 * serial.h - the capture's serial backend (private): one port type with two
 * implementations. Pseudo-terminals (which libserialport cannot open) and
 * terminal devices libserialport does not know are opened with
 * open()+termios; every other name goes through libserialport. Either way the port exposes a
 * non-blocking file descriptor for poll()/read()/write() and the Linux
 * ioctls (TIOCMGET, TIOCGICOUNT).
 */
#ifndef ATTRACE_CAPTURE_SERIAL_H
#define ATTRACE_CAPTURE_SERIAL_H

#include "capture.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sp_port;

typedef struct cap_port {
    int fd;                  /* -1 when closed */
    struct sp_port *sp;      /* libserialport handle, or NULL (termios) */
    char path[256];
} cap_port;

/* Opens @p path read/write (or read-only with @p read_only) with the
 * settings @p line, non-blocking, close-on-exec. 0 or -1 with @p err. */
int cap_port_open(cap_port *p, const char *path, const at_capture_line *line,
                  bool read_only, char *err, size_t cap);

/* Applies baud and flow control only (the rest stays). 0 or -1. */
int cap_port_set_baud_flow(cap_port *p, uint32_t baud, at_capture_flow flow,
                           char *err, size_t cap);

void cap_port_close(cap_port *p);

/* Sets the termios of an open terminal fd: raw, @p line. 0 or -1 (errno). */
int cap_termios_apply(int fd, const at_capture_line *line);

/* termios speed value <-> baud; 0 if not a standard speed. */
unsigned long cap_speed_to_baud(unsigned long speed);
unsigned long cap_baud_to_speed(uint32_t baud);

/* "115200 8N1 rtscts" */
void cap_line_text(const at_capture_line *line, char *buf, size_t cap);

#endif
