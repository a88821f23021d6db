/*
 * net.h - the simulator's real network for the internet services: TCP
 * over loopback, optionally with TLS (OpenSSL 3), one connection per
 * service profile. The program polls the descriptors and pumps received
 * bytes into per-connection buffers; the engine takes them with
 * sim_net_read (through the sim_svc_io callbacks).
 */
#ifndef ATTRACE_SIM_NET_H
#define ATTRACE_SIM_NET_H

#include "engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sim_net sim_net;

#define SIM_NET_TIMEOUT_MS 3000u /* connect, handshake and each write */

sim_net *sim_net_new(void);
void sim_net_free(sim_net *n);

/** Opens service req->id (closing one still open). Refuses any address
 *  that is not loopback without connecting. */
void sim_net_open(sim_net *n, const sim_svc_request *req, sim_svc_outcome *out);

/** Sends everything; 0, or -1 with a message. */
int sim_net_write(sim_net *n, unsigned id, const uint8_t *data, size_t len, char *err,
                  size_t err_cap);

/** Takes up to @p cap buffered bytes; *left = bytes still buffered. */
size_t sim_net_read(sim_net *n, unsigned id, uint8_t *buf, size_t cap, size_t *left);

void sim_net_close(sim_net *n, unsigned id);

/** The descriptor to poll for input, or -1 (no connection, peer closed, or
 *  the receive buffer is full). */
int sim_net_poll_fd(const sim_net *n, unsigned id);

/** True when sim_net_pump has bytes to take without waiting (TLS records
 *  already decrypted, buffer room again). */
bool sim_net_ready(const sim_net *n, unsigned id);

#define SIM_NET_GOT_DATA 1
#define SIM_NET_GOT_CLOSE 2

/** Reads what is there into the buffer without blocking; SIM_NET_GOT_*
 *  flags. A problem (reset, TLS error) counts as a close; its text goes
 *  to @p why when given. */
int sim_net_pump(sim_net *n, unsigned id, char *why, size_t why_cap);

#endif
