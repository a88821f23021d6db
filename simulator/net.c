/*
 * net.c - TCP and TLS connections of the simulated internet services (see
 * net.h).
 *
 * Open: a non-blocking connect to the loopback literal, waited for with
 * poll (SIM_NET_TIMEOUT_MS), then for TLS a handshake with its own SSL_CTX:
 * with req->verify the server chain must lead to one of req->anchors
 * (X509_V_FLAG_PARTIAL_CHAIN: any stored certificate is a trust anchor,
 * no hostname check, as the module does); without it any certificate is
 * taken. The leaf certificate is captured in the verify callback, so it is
 * known even when the check fails. Verify failures map to ^SIS info 64
 * (not yet valid), 65 (expired) or 66 (not confirmed); other TLS failures
 * to 74; TCP failures (refused, timeout) to 14.
 */
#define _GNU_SOURCE

#include "net.h"

#include "clock.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RX_CAP 65536u

typedef struct conn {
    int fd;               /* -1 = none */
    SSL_CTX *ctx;
    SSL *ssl;
    bool peer_closed;
    uint8_t *rx;
    size_t rx_len;
    /* leaf certificate seen during the handshake */
    uint8_t *peer;
    size_t peer_len;
    size_t peer_cap;
    bool peer_seen;
} conn;

struct sim_net {
    conn c[SIM_SERVICES];
};

static int g_conn_idx = -1; /* SSL ex_data index of the conn */

sim_net *sim_net_new(void)
{
    sim_net *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    for (unsigned i = 0; i < SIM_SERVICES; i++)
        n->c[i].fd = -1;
    if (g_conn_idx < 0)
        g_conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    return n;
}

static conn *get(sim_net *n, unsigned id)
{
    return n && id < SIM_SERVICES ? &n->c[id] : NULL;
}

static void conn_close(conn *c)
{
    if (c->ssl) {
        if (!c->peer_closed)
            SSL_shutdown(c->ssl); /* close_notify, best effort (non-blocking) */
        SSL_free(c->ssl);
    }
    SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    free(c->rx);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

void sim_net_close(sim_net *n, unsigned id)
{
    conn *c = get(n, id);
    if (c)
        conn_close(c);
}

void sim_net_free(sim_net *n)
{
    if (!n)
        return;
    for (unsigned i = 0; i < SIM_SERVICES; i++)
        conn_close(&n->c[i]);
    free(n);
}

/* Waits for @p events on @p fd until @p deadline (mono ms); 1 ready, 0 timeout. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = (uint64_t)at_clock_mono_ms();
        if (now >= deadline)
            return 0;
        struct pollfd pf = {.fd = fd, .events = events};
        int r = poll(&pf, 1, (int)(deadline - now));
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

static void ssl_errors(char *out, size_t cap)
{
    unsigned long e = ERR_get_error();
    if (!e) {
        snprintf(out, cap, "%s", errno ? strerror(errno) : "connection closed");
    } else {
        char b[256];
        ERR_error_string_n(e, b, sizeof b);
        snprintf(out, cap, "%s", b);
    }
    ERR_clear_error();
}

static void keep_peer(conn *c, X509 *leaf)
{
    if (c && leaf && !c->peer_seen) {
        unsigned char *der = NULL;
        int len = i2d_X509(leaf, &der);
        if (len > 0 && (size_t)len <= SIM_PEER_CERT_MAX) {
            free(c->peer);
            c->peer = malloc((size_t)len);
            if (c->peer) {
                memcpy(c->peer, der, (size_t)len);
                c->peer_len = (size_t)len;
                c->peer_seen = true;
            }
        }
        OPENSSL_free(der);
    }
}

/* Remembers the certificate being verified (the target of the chain
 * check): the server's leaf, even when the check fails at a CA. */
static int verify_cb(int ok, X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    keep_peer(ssl ? SSL_get_ex_data(ssl, g_conn_idx) : NULL, X509_STORE_CTX_get0_cert(xs));
    return ok;
}

static int tcp_connect(conn *c, const sim_svc_request *req, char *why, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t slen;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, req->host, &a4->sin_addr) == 1) {
        if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127) {
            snprintf(why, cap, "%s is not a loopback address", req->host);
            return -1;
        }
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)req->port);
        slen = sizeof *a4;
    } else if (inet_pton(AF_INET6, req->host, &a6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr)) {
            snprintf(why, cap, "%s is not a loopback address", req->host);
            return -1;
        }
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)req->port);
        slen = sizeof *a6;
    } else {
        snprintf(why, cap, "%s is not a numeric loopback address", req->host);
        return -1;
    }
    if (req->port == 0 || req->port > 65535) {
        snprintf(why, cap, "port %u is out of range", req->port);
        return -1;
    }
    c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        snprintf(why, cap, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&ss, slen) != 0) {
        if (errno != EINPROGRESS) {
            snprintf(why, cap, "connect to %s port %u: %s", req->host, req->port,
                     strerror(errno));
            return -1;
        }
        int w = wait_fd(c->fd, POLLOUT, (uint64_t)at_clock_mono_ms() + SIM_NET_TIMEOUT_MS);
        int err = 0;
        socklen_t el = sizeof err;
        if (w <= 0) {
            snprintf(why, cap, "connect to %s port %u: timed out after %u ms", req->host,
                     req->port, SIM_NET_TIMEOUT_MS);
            return -1;
        }
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
            snprintf(why, cap, "connect to %s port %u: %s", req->host, req->port,
                     strerror(err ? err : errno));
            return -1;
        }
    }
    return 0;
}

static unsigned verify_info(long vr)
{
    switch (vr) {
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return 64;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return 65;
    default:
        return 66;
    }
}

static int tls_handshake(conn *c, const sim_svc_request *req, sim_svc_outcome *out)
{
    char *why = out->detail;
    size_t cap = sizeof out->detail;
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx) {
        out->info_id = 75;
        ssl_errors(why, cap);
        return -1;
    }
    if (req->verify) {
        X509_STORE *st = SSL_CTX_get_cert_store(c->ctx);
        for (unsigned i = 0; i < req->n_anchors; i++) {
            const unsigned char *p = req->anchors[i];
            X509 *x = d2i_X509(NULL, &p, (long)req->anchor_lens[i]);
            if (x) {
                X509_STORE_add_cert(st, x);
                X509_free(x);
            }
        }
        X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, verify_cb);
    } else {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, verify_cb);
    }
    ERR_clear_error();
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 ||
        SSL_set_ex_data(c->ssl, g_conn_idx, c) != 1) {
        out->info_id = 75;
        ssl_errors(why, cap);
        return -1;
    }
    uint64_t deadline = (uint64_t)at_clock_mono_ms() + SIM_NET_TIMEOUT_MS;
    for (;;) {
        int r = SSL_connect(c->ssl);
        if (r == 1) {
            keep_peer(c, SSL_get0_peer_certificate(c->ssl));
            return 0;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) > 0)
                continue;
            out->info_id = 74;
            snprintf(why, cap, "TLS handshake timed out after %u ms", SIM_NET_TIMEOUT_MS);
            return -1;
        }
        long vr = SSL_get_verify_result(c->ssl);
        if (req->verify && vr != X509_V_OK) {
            out->info_id = verify_info(vr);
            snprintf(why, cap, "server certificate: %s", X509_verify_cert_error_string(vr));
            ERR_clear_error();
        } else {
            out->info_id = 74;
            ssl_errors(why, cap);
        }
        return -1;
    }
}

void sim_net_open(sim_net *n, const sim_svc_request *req, sim_svc_outcome *out)
{
    out->info_id = 0;
    out->detail[0] = '\0';
    out->peer_len = 0;
    conn *c = get(n, req->id);
    if (!c) {
        out->info_id = 14;
        snprintf(out->detail, sizeof out->detail, "no service %u", req->id);
        return;
    }
    conn_close(c);
    c->rx = malloc(RX_CAP);
    if (!c->rx) {
        out->info_id = 14;
        snprintf(out->detail, sizeof out->detail, "out of memory");
        return;
    }
    int rc = tcp_connect(c, req, out->detail, sizeof out->detail);
    if (rc != 0)
        out->info_id = 14;
    else if (req->tls)
        rc = tls_handshake(c, req, out);
    if (c->peer_seen && c->peer_len <= sizeof out->peer_der) {
        memcpy(out->peer_der, c->peer, c->peer_len);
        out->peer_len = c->peer_len;
    }
    free(c->peer);
    c->peer = NULL;
    c->peer_len = 0;
    if (rc != 0) {
        conn_close(c);
        return;
    }
    if (req->tls)
        snprintf(out->detail, sizeof out->detail, "%s, %s",
                 SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
    else
        snprintf(out->detail, sizeof out->detail, "TCP");
}

int sim_net_write(sim_net *n, unsigned id, const uint8_t *data, size_t len, char *err,
                  size_t err_cap)
{
    conn *c = get(n, id);
    if (!c || c->fd < 0) {
        snprintf(err, err_cap, "not connected");
        return -1;
    }
    uint64_t deadline = (uint64_t)at_clock_mono_ms() + SIM_NET_TIMEOUT_MS;
    size_t done = 0;
    while (done < len) {
        if (c->ssl) {
            ERR_clear_error();
            size_t w = 0;
            int r = SSL_write_ex(c->ssl, data + done, len - done, &w);
            if (r == 1) {
                done += w;
                continue;
            }
            int e = SSL_get_error(c->ssl, r);
            if ((e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) &&
                wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) > 0)
                continue;
            ssl_errors(err, err_cap);
            return -1;
        }
        ssize_t w = send(c->fd, data + done, len - done, MSG_NOSIGNAL);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) &&
            wait_fd(c->fd, POLLOUT, deadline) > 0)
            continue;
        snprintf(err, err_cap, "send: %s", w < 0 ? strerror(errno) : "nothing sent");
        return -1;
    }
    return 0;
}

size_t sim_net_read(sim_net *n, unsigned id, uint8_t *buf, size_t cap, size_t *left)
{
    conn *c = get(n, id);
    if (!c || !c->rx) {
        *left = 0;
        return 0;
    }
    size_t k = c->rx_len < cap ? c->rx_len : cap;
    memcpy(buf, c->rx, k);
    memmove(c->rx, c->rx + k, c->rx_len - k);
    c->rx_len -= k;
    *left = c->rx_len;
    return k;
}

int sim_net_poll_fd(const sim_net *n, unsigned id)
{
    if (!n || id >= SIM_SERVICES)
        return -1;
    const conn *c = &n->c[id];
    if (c->fd < 0 || c->peer_closed || c->rx_len >= RX_CAP)
        return -1;
    return c->fd;
}

bool sim_net_ready(const sim_net *n, unsigned id)
{
    if (!n || id >= SIM_SERVICES)
        return false;
    const conn *c = &n->c[id];
    return c->ssl && !c->peer_closed && c->rx_len < RX_CAP && SSL_pending(c->ssl) > 0;
}

int sim_net_pump(sim_net *n, unsigned id, char *why, size_t why_cap)
{
    conn *c = get(n, id);
    if (!c || c->fd < 0 || c->peer_closed)
        return 0;
    int flags = 0;
    while (c->rx_len < RX_CAP) {
        size_t room = RX_CAP - c->rx_len;
        if (c->ssl) {
            ERR_clear_error();
            size_t got = 0;
            int r = SSL_read_ex(c->ssl, c->rx + c->rx_len, room, &got);
            if (r == 1) {
                c->rx_len += got;
                flags |= SIM_NET_GOT_DATA;
                continue;
            }
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                break;
            if (why) {
                if (e == SSL_ERROR_ZERO_RETURN)
                    snprintf(why, why_cap, "the peer closed the TLS session");
                else
                    ssl_errors(why, why_cap);
            }
            c->peer_closed = true;
            flags |= SIM_NET_GOT_CLOSE;
            break;
        }
        ssize_t r = recv(c->fd, c->rx + c->rx_len, room, 0);
        if (r > 0) {
            c->rx_len += (size_t)r;
            flags |= SIM_NET_GOT_DATA;
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        if (why)
            snprintf(why, why_cap, "%s", r == 0 ? "the peer closed the connection"
                                                : strerror(errno));
        c->peer_closed = true;
        flags |= SIM_NET_GOT_CLOSE;
        break;
    }
    return flags;
}
