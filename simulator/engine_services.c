/*
 * engine_services.c - the simulated module's internet services: AT^SICS,
 * ^SISS, ^SISO, ^SISW, ^SISR, ^SISC, ^SISI over the network layer the
 * program gives (sim_svc_io, net.c) (engine_private.h).
 */
#include "engine_private.h"

#include "attrace/cert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Choices where PROTOCOL.md and the issue are silent, as a module does:
 * - AT^SISO answers OK at once for a well-formed profile; how the open
 *   went follows as URCs after the OK: +CIEV: is_cert (when enabled and
 *   the server sent a certificate, also when it fails the check), then
 *   ^SISW: <id>,1 (ready) or ^SIS: <id>,0,<info>,"<text>" (failed, the
 *   connection is closed). A profile without srvType or address, an
 *   address that does not parse or does not suit srvType, or a service
 *   already open is +CME ERROR: 3 (operation not allowed).
 * - Only loopback hosts are connected (127.0.0.0/8, localhost, ::1); any
 *   other host gets ^SIS: <id>,0,14,"connection aborted (...loopback
 *   only)" without a connection attempt (not even a name lookup).
 * - TLS comes from the address (socktcps://, https://). secOpt unset,
 *   empty or -1: TLS without server authentication (a plain connection
 *   to a TLS server cannot work). secOpt 1..index_max or a list: the
 *   stored certificates at those indexes are the trust anchors; empty
 *   slots are skipped, and when every selected slot is empty the open ends
 *   in ^SIS: <id>,0,77,"the certificate does not exist" without
 *   connecting. Verify failures: 64 not yet valid, 65 expired, 66 any
 *   other (not confirmed); other TLS failures 74; TCP failures 14.
 * - Received data: ^SISR: <id>,1 when data arrives and the host has no
 *   unread data announced; again only after an AT^SISR emptied the buffer.
 *   When the peer closes: ^SISR: <id>,2 once all data was read.
 * - AT^SISW=<id>,<n> (1..1500): ^SISW: <id>,<n>,0, then exactly n bytes;
 *   if they are not complete within the service timeout nothing is sent
 *   and the command fails with +CME ERROR: 3.
 * - AT^SISR=<id>,<n> (1..1500): ^SISR: <id>,<m> and m bytes (m = 0 when
 *   nothing is buffered).
 * - Http: on open the simulator sends "GET <path> HTTP/1.1" with Host and
 *   "Connection: close" (no ^SISW: <id>,1 then); the answer is announced
 *   by ^SISR: <id>,1 and read with AT^SISR like socket data.
 *   Transparent is opened like Socket (AT^SIST is not simulated).
 */

void sim_engine_set_services(sim_engine *e, const sim_svc_io *svc, void *ctx)
{
    if (!e)
        return;
    if (svc) {
        e->svc_io = *svc;
        e->has_svc_io = true;
    } else {
        memset(&e->svc_io, 0, sizeof e->svc_io);
        e->has_svc_io = false;
    }
    e->svc_ctx = ctx;
}

bool sim_is_service_command(const at_str *name)
{
    static const char *const names[] = {"^SICS", "^SISS", "^SISO", "^SISW",
                                        "^SISR", "^SISC", "^SISI"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (at_name_is(name, names[i]))
            return true;
    return false;
}

/* A parameter as a C string; false if it does not fit. */
static bool param_text(const at_str *p, char *out, size_t cap)
{
    if (!p->ptr || p->len == 0) {
        out[0] = '\0';
        return true;
    }
    if (p->len >= cap)
        return false;
    memcpy(out, p->ptr, p->len);
    out[p->len] = '\0';
    return true;
}

/* "1,5,9" (blanks dropped) -> indexes; false unless each is 1..max. */
static bool parse_secopt_list(const char *s, unsigned max, unsigned *idx, unsigned *n,
                              unsigned cap)
{
    *n = 0;
    while (*s) {
        unsigned v = 0;
        size_t digits = 0;
        while (*s >= '0' && *s <= '9') {
            v = v * 10 + (unsigned)(*s - '0');
            if (v > max)
                return false;
            s++;
            digits++;
        }
        if (!digits || v == 0 || *n >= cap)
            return false;
        idx[(*n)++] = v;
        if (*s == ',' && s[1])
            s++;
        else if (*s)
            return false;
    }
    return *n > 0;
}

enum { SCH_TCP, SCH_TCPS, SCH_HTTP, SCH_HTTPS };

typedef struct svc_addr {
    int scheme;
    char host[64];   /* as written (IPv6 without brackets) */
    char conn[64];   /* what to connect to: "localhost" -> "127.0.0.1" */
    unsigned port;
    char path[256];  /* Http: "/..." */
    bool loopback;
} svc_addr;

static bool prefix_ci(const char *s, const char *lit)
{
    for (; *lit; s++, lit++) {
        char a = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
        if (a != *lit)
            return false;
    }
    return true;
}

/* Dotted quad with 127 first. */
static bool is_loopback_v4(const char *h)
{
    unsigned part[4], n = 0;
    const char *p = h;
    while (n < 4) {
        unsigned v = 0;
        size_t d = 0;
        while (*p >= '0' && *p <= '9' && d < 4) {
            v = v * 10 + (unsigned)(*p - '0');
            p++;
            d++;
        }
        if (d == 0 || d > 3 || v > 255)
            return false;
        part[n++] = v;
        if (n < 4) {
            if (*p != '.')
                return false;
            p++;
        }
    }
    return *p == '\0' && part[0] == 127;
}

static bool parse_address(const char *a, svc_addr *out, char *why, size_t cap)
{
    memset(out, 0, sizeof *out);
    const char *p;
    if (prefix_ci(a, "socktcps://")) {
        out->scheme = SCH_TCPS;
        p = a + 11;
    } else if (prefix_ci(a, "socktcp://")) {
        out->scheme = SCH_TCP;
        p = a + 10;
    } else if (prefix_ci(a, "https://")) {
        out->scheme = SCH_HTTPS;
        p = a + 8;
    } else if (prefix_ci(a, "http://")) {
        out->scheme = SCH_HTTP;
        p = a + 7;
    } else {
        snprintf(why, cap, "address \"%s\": not socktcp://, socktcps://, http:// or https://", a);
        return false;
    }
    size_t h = 0;
    if (*p == '[') {
        p++;
        while (*p && *p != ']' && h + 1 < sizeof out->host)
            out->host[h++] = *p++;
        if (*p != ']') {
            snprintf(why, cap, "address \"%s\": unterminated [IPv6 address]", a);
            return false;
        }
        p++;
    } else {
        while (*p && *p != ':' && *p != '/' && *p != ';' && h + 1 < sizeof out->host)
            out->host[h++] = *p++;
    }
    out->host[h] = '\0';
    if (h == 0 || (*p && *p != ':' && *p != '/' && *p != ';')) {
        snprintf(why, cap, "address \"%s\": no usable host", a);
        return false;
    }
    bool http = out->scheme == SCH_HTTP || out->scheme == SCH_HTTPS;
    out->port = out->scheme == SCH_HTTPS ? 443 : out->scheme == SCH_HTTP ? 80 : 0;
    if (*p == ':') {
        p++;
        unsigned long v = 0;
        size_t d = 0;
        while (*p >= '0' && *p <= '9' && v <= 65535) {
            v = v * 10 + (unsigned long)(*p++ - '0');
            d++;
        }
        if (!d || v == 0 || v > 65535) {
            snprintf(why, cap, "address \"%s\": bad port", a);
            return false;
        }
        out->port = (unsigned)v;
    }
    if (!out->port) {
        snprintf(why, cap, "address \"%s\": no port", a);
        return false;
    }
    if (http) {
        snprintf(out->path, sizeof out->path, "%s", *p == '/' ? p : "/");
        if (*p && *p != '/') {
            snprintf(why, cap, "address \"%s\": unexpected text after the port", a);
            return false;
        }
        for (const char *q = out->path; *q; q++)
            if ((unsigned char)*q <= 0x20 || *q == 0x7f) {
                snprintf(why, cap, "address \"%s\": blank or control character in the path", a);
                return false;
            }
    } else if (*p && *p != ';') {
        snprintf(why, cap, "address \"%s\": unexpected text after the port", a);
        return false;
    }
    if (strcmp(out->host, "::1") == 0) {
        out->loopback = true;
        snprintf(out->conn, sizeof out->conn, "::1");
    } else if (prefix_ci(out->host, "localhost") && out->host[9] == '\0') {
        out->loopback = true;
        snprintf(out->conn, sizeof out->conn, "127.0.0.1");
    } else if (is_loopback_v4(out->host)) {
        out->loopback = true;
        snprintf(out->conn, sizeof out->conn, "%s", out->host);
    }
    return true;
}

static bool ciev_enabled(const sim_engine *e)
{
    return e->sind_is_cert == 1 && e->cmer[0] == 3 && e->cmer[3] != 0;
}

static void queue_sis(sim_engine *e, unsigned id, unsigned info_id, const char *text)
{
    char buf[256];
    snprintf(buf, sizeof buf, "^SIS: %u,0,%u,\"%s\"", id, info_id, text);
    sim_urc_queue(e, buf);
}

/* AT^SISS=<id>,<param>,<value...> */
static cmd_rc cmd_siss(sim_engine *e, const at_command *c, unsigned *cme)
{
    if (c->type == AT_CMDT_TEST) {
        sim_info(e, "^SISS: (0-9),(\"srvType\",\"conId\",\"address\",\"secOpt\")");
        return RC_OK;
    }
    if (c->type == AT_CMDT_READ) {
        char buf[400];
        for (unsigned i = 0; i < SIM_SERVICES; i++) {
            const sim_service *s = &e->svc[i];
            snprintf(buf, sizeof buf, "^SISS: %u,\"srvType\",\"%s\"", i, s->type);
            sim_info(e, buf);
            if (!s->type[0])
                continue;
            snprintf(buf, sizeof buf, "^SISS: %u,\"conId\",\"%s\"", i, s->con_id);
            sim_info(e, buf);
            snprintf(buf, sizeof buf, "^SISS: %u,\"address\",\"%s\"", i, s->address);
            sim_info(e, buf);
            if (s->has_secopt) {
                snprintf(buf, sizeof buf, "^SISS: %u,\"secOpt\",\"%s\"", i, s->secopt);
                sim_info(e, buf);
            }
        }
        return RC_OK;
    }
    unsigned id;
    if (c->type != AT_CMDT_SET || c->n_params < 2 || c->params_dropped ||
        !sim_num_value(&c->params[0], SIM_SERVICES - 1, SIM_SERVICES, &id) || id >= SIM_SERVICES)
        return RC_CME;
    sim_service *s = &e->svc[id];
    const at_str *name = &c->params[1];
    char val[256];
    if (sim_param_is(name, "secOpt")) {
        /* quoted "1,5,9" or spread over parameters 1,5,9 */
        size_t n = 0;
        for (unsigned k = 2; k < c->n_params; k++) {
            const at_str *p = &c->params[k];
            if (k > 2 && n + 1 < sizeof s->secopt)
                val[n++] = ',';
            for (size_t i = 0; p->ptr && i < p->len; i++) {
                if (p->ptr[i] == ' ')
                    continue;
                if (n + 1 >= sizeof s->secopt)
                    return RC_CME;
                val[n++] = p->ptr[i];
            }
        }
        val[n] = '\0';
        unsigned idx[SIM_STORE_SLOTS], cnt;
        if (n && strcmp(val, "-1") != 0 &&
            !parse_secopt_list(val, e->prof->index_max, idx, &cnt, SIM_STORE_SLOTS))
            return RC_CME;
        memcpy(s->secopt, val, n + 1);
        s->has_secopt = true;
        return RC_OK;
    }
    if (c->n_params != 3 || !param_text(&c->params[2], val, sizeof val))
        return RC_CME;
    if (sim_param_is(name, "srvType")) {
        static const char *const types[] = {"Socket", "Transparent", "Http"};
        if (sim_param_is(&c->params[2], "none") || !val[0]) {
            if (s->open) {
                *cme = CME_NOT_ALLOWED;
                return RC_CME;
            }
            memset(s, 0, sizeof *s);
            return RC_OK;
        }
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (sim_param_is(&c->params[2], types[i])) {
                snprintf(s->type, sizeof s->type, "%s", types[i]);
                return RC_OK;
            }
        return RC_CME;
    }
    if (sim_param_is(name, "conId")) {
        size_t n = strlen(val);
        if (n >= sizeof s->con_id)
            return RC_CME;
        memcpy(s->con_id, val, n + 1);
        return RC_OK;
    }
    if (sim_param_is(name, "address")) {
        snprintf(s->address, sizeof s->address, "%s", val);
        return RC_OK;
    }
    /* other parameters of the manuals (user, passwd, tcpMR, ...): taken */
    return RC_OK;
}

/* AT^SICS=<conId>,<param>,<value> */
static cmd_rc cmd_sics(sim_engine *e, const at_command *c)
{
    if (c->type == AT_CMDT_TEST) {
        sim_info(e, "^SICS: (0-5),(\"conType\",\"apn\",\"user\",\"passwd\",\"inactTO\")");
        return RC_OK;
    }
    if (c->type == AT_CMDT_READ) {
        char buf[256];
        for (unsigned i = 0; i < e->n_sics; i++) {
            snprintf(buf, sizeof buf, "^SICS: %u,\"%s\",\"%s\"", e->sics[i].con_id,
                     e->sics[i].param, e->sics[i].value);
            sim_info(e, buf);
        }
        return RC_OK;
    }
    unsigned con;
    char param[24], value[128];
    if (c->type != AT_CMDT_SET || c->n_params != 3 ||
        !sim_num_value(&c->params[0], 5, 6, &con) || con > 5 ||
        !param_text(&c->params[1], param, sizeof param) || !param[0] ||
        !param_text(&c->params[2], value, sizeof value))
        return RC_CME;
    unsigned k = 0;
    while (k < e->n_sics && !(e->sics[k].con_id == con && strcmp(e->sics[k].param, param) == 0))
        k++;
    if (k == e->n_sics) {
        if (e->n_sics >= SICS_MAX)
            return RC_CME;
        e->n_sics++;
    }
    e->sics[k].con_id = con;
    memcpy(e->sics[k].param, param, sizeof param);
    memcpy(e->sics[k].value, value, sizeof value);
    return RC_OK;
}

static void report_peer(sim_engine *e, unsigned id, const sim_svc_outcome *o)
{
    if (!o->peer_len)
        return;
    at_cert_summary *cs = malloc(sizeof *cs);
    char err[200] = "";
    if (!cs || at_cert_summarize(o->peer_der, o->peer_len, cs, err, sizeof err) != 0) {
        sim_log(e, "service %u: the server's certificate cannot be summarized: %s", id,
                cs ? err : "out of memory");
        free(cs);
        return;
    }
    sim_log(e, "service %u: server certificate subject %s, issuer %s, serial %s", id,
            cs->subject, cs->issuer, cs->serial);
    if (ciev_enabled(e)) {
        size_t cap = 2 * AT_CERT_DN_MAX + 400;
        char *line = malloc(cap);
        if (line) {
            snprintf(line, cap, "+CIEV: is_cert,%u,%s,%s,%s,%s,%s,%s", id, cs->issuer,
                     cs->serial, cs->subject, cs->sig_alg, cs->thumb_alg, cs->thumbprint);
            sim_urc_queue(e, line);
            free(line);
        }
    }
    free(cs);
}

/* AT^SISO=<id>: see the choices above. */
static cmd_rc cmd_siso(sim_engine *e, const at_command *c, unsigned *cme)
{
    if (c->type == AT_CMDT_TEST) {
        sim_info(e, "^SISO: (0-9)");
        return RC_OK;
    }
    unsigned id;
    if (c->type != AT_CMDT_SET || c->n_params < 1 || c->n_params > 2 ||
        !sim_num_value(&c->params[0], SIM_SERVICES - 1, SIM_SERVICES, &id) || id >= SIM_SERVICES)
        return RC_CME;
    sim_service *s = &e->svc[id];
    *cme = CME_NOT_ALLOWED;
    char why[400];
    svc_addr a;
    if (!s->type[0] || !s->address[0]) {
        sim_log(e, "service %u: no srvType or address set", id);
        return RC_CME;
    }
    if (s->open) {
        sim_log(e, "service %u: already open", id);
        return RC_CME;
    }
    if (!parse_address(s->address, &a, why, sizeof why)) {
        sim_log(e, "service %u: %s", id, why);
        return RC_CME;
    }
    bool http = a.scheme == SCH_HTTP || a.scheme == SCH_HTTPS;
    if (http != (strcmp(s->type, "Http") == 0)) {
        sim_log(e, "service %u: address \"%s\" does not suit srvType %s", id, s->address, s->type);
        return RC_CME;
    }
    if (!e->has_svc_io || !e->svc_io.open) {
        sim_log(e, "service %u: the simulator has no network", id);
        return RC_CME;
    }
    s->failed = s->peer_closed = s->rx_told = s->close_told = false;
    s->rx_bytes = s->tx_bytes = 0;
    if (!a.loopback) {
        sim_log(e, "service %u: %s is not a loopback address: refused without connecting", id,
                a.host);
        queue_sis(e, id, 14, "connection aborted (attrace-sim connects to loopback addresses only)");
        s->failed = true;
        return RC_OK;
    }
    sim_svc_request req;
    memset(&req, 0, sizeof req);
    req.id = id;
    req.host = a.conn;
    req.port = a.port;
    req.tls = a.scheme == SCH_TCPS || a.scheme == SCH_HTTPS;
    const uint8_t *anchors[SIM_STORE_SLOTS];
    size_t lens[SIM_STORE_SLOTS];
    char sel[200] = "no server check";
    if (req.tls && s->has_secopt && s->secopt[0] && strcmp(s->secopt, "-1") != 0) {
        unsigned idx[SIM_STORE_SLOTS], cnt = 0;
        parse_secopt_list(s->secopt, e->prof->index_max, idx, &cnt, SIM_STORE_SLOTS);
        req.verify = true;
        size_t o = 0;
        for (unsigned k = 0; k < cnt; k++) {
            size_t len = 0;
            const uint8_t *der = e->store ? sim_store_cert(e->store, idx[k], &len) : NULL;
            if (der) {
                anchors[req.n_anchors] = der;
                lens[req.n_anchors++] = len;
                o += (size_t)snprintf(sel + o, o < sizeof sel ? sizeof sel - o : 0, "%s%u",
                                      req.n_anchors > 1 ? "," : "", idx[k]);
                if (o >= sizeof sel)
                    o = sizeof sel - 1;
            }
        }
        if (!req.n_anchors) {
            sim_log(e, "service %u: secOpt %s selects only empty slots -> ^SIS info 77", id,
                    s->secopt);
            queue_sis(e, id, 77, at_sis_info_text(77));
            s->failed = true;
            return RC_OK;
        }
        char tmp[sizeof sel + 32];
        snprintf(tmp, sizeof tmp, "trust anchors at index %s", sel);
        memcpy(sel, tmp, sizeof sel - 1);
        sel[sizeof sel - 1] = '\0';
    }
    req.anchors = anchors;
    req.anchor_lens = lens;
    sim_svc_outcome *out = malloc(sizeof *out);
    if (!out) {
        sim_log(e, "service %u: out of memory", id);
        return RC_CME;
    }
    memset(out, 0, sizeof *out);
    e->svc_io.open(e->svc_ctx, &req, out);
    report_peer(e, id, out);
    if (out->info_id) {
        const char *t = at_sis_info_text(out->info_id);
        sim_log(e, "service %u: %s to %s port %u (%s) failed: %s -> ^SIS info %u", id,
                req.tls ? "TLS" : "TCP", a.conn, a.port, req.tls ? sel : "plain", out->detail,
                out->info_id);
        queue_sis(e, id, out->info_id, t ? t : "connection failed");
        s->failed = true;
        free(out);
        return RC_OK;
    }
    sim_log(e, "service %u: connected to %s port %u (%s; %s)", id, a.conn, a.port,
            req.tls ? sel : "plain TCP", out->detail);
    free(out);
    s->open = true;
    if (http) {
        char get[600];
        int n = snprintf(get, sizeof get,
                         "GET %s HTTP/1.1\r\nHost: %s%s%s:%u\r\nConnection: close\r\n\r\n",
                         a.path, strchr(a.host, ':') ? "[" : "", a.host,
                         strchr(a.host, ':') ? "]" : "", a.port);
        char err[200] = "";
        if (n < 0 || (size_t)n >= sizeof get ||
            e->svc_io.write(e->svc_ctx, id, (const uint8_t *)get, (size_t)n, err,
                            sizeof err) != 0) {
            sim_log(e, "service %u: sending the HTTP request failed: %s", id, err);
            if (e->svc_io.close)
                e->svc_io.close(e->svc_ctx, id);
            s->open = false;
            s->failed = true;
            queue_sis(e, id, 14, at_sis_info_text(14));
            return RC_OK;
        }
        s->tx_bytes += (size_t)n;
        sim_log(e, "service %u: sent GET %s (%d bytes)", id, a.path, n);
        return RC_OK; /* the answer is announced by ^SISR: <id>,1 */
    }
    char w[32];
    snprintf(w, sizeof w, "^SISW: %u,1", id);
    sim_urc_queue(e, w);
    return RC_OK;
}

static bool service_id(const at_command *c, unsigned nparams, unsigned *id)
{
    return c->type == AT_CMDT_SET && c->n_params == nparams &&
           sim_num_value(&c->params[0], SIM_SERVICES - 1, SIM_SERVICES, id) && *id < SIM_SERVICES;
}

static void close_service(sim_engine *e, unsigned id, const char *why)
{
    sim_service *s = &e->svc[id];
    if (s->open && e->svc_io.close)
        e->svc_io.close(e->svc_ctx, id);
    if (s->open)
        sim_log(e, "service %u: closed (%s; %llu bytes sent, %llu received)", id, why,
                (unsigned long long)s->tx_bytes, (unsigned long long)s->rx_bytes);
    s->open = s->peer_closed = s->rx_told = s->close_told = false;
}

static cmd_rc cmd_sisr(sim_engine *e, const at_command *c, unsigned *cme)
{
    unsigned id, n;
    if (c->type == AT_CMDT_TEST) {
        sim_info(e, "^SISR: (0-9),(1-1500)");
        return RC_OK;
    }
    if (!service_id(c, 2, &id) || !sim_num_value(&c->params[1], SISRW_MAX, 0, &n) || n == 0)
        return RC_CME;
    sim_service *s = &e->svc[id];
    if (!s->open) {
        *cme = CME_NOT_ALLOWED;
        return RC_CME;
    }
    uint8_t buf[SISRW_MAX];
    size_t left = 0;
    size_t m = e->svc_io.read ? e->svc_io.read(e->svc_ctx, id, buf, n, &left) : 0;
    if (m > n)
        m = n;
    char line[48];
    snprintf(line, sizeof line, "^SISR: %u,%zu", id, m);
    sim_info(e, line);
    sim_emit(e, buf, m);
    s->rx_bytes += m;
    sim_log(e, "service %u: host read %zu of %u bytes asked (%zu still buffered)", id, m, n, left);
    if (left == 0) {
        s->rx_told = false;
        if (s->peer_closed && !s->close_told) {
            snprintf(line, sizeof line, "^SISR: %u,2", id);
            sim_urc_queue(e, line);
            s->close_told = true;
        }
    }
    return RC_OK;
}

static cmd_rc cmd_sisi(sim_engine *e, const at_command *c)
{
    char line[96];
    unsigned id = 0;
    if (c->type == AT_CMDT_TEST) {
        sim_info(e, "^SISI: (0-9)");
        return RC_OK;
    }
    bool all = c->type == AT_CMDT_READ;
    if (!all && !service_id(c, 1, &id))
        return RC_CME;
    for (unsigned i = all ? 0 : id; i < (all ? SIM_SERVICES : id + 1); i++) {
        const sim_service *s = &e->svc[i];
        if (all && !s->type[0])
            continue;
        unsigned state = !s->type[0] ? 1 : s->open ? (s->peer_closed ? 5 : 4)
                                        : s->failed ? 6 : 2;
        snprintf(line, sizeof line, "^SISI: %u,%u,%llu,%llu,0,0", i, state,
                 (unsigned long long)s->rx_bytes, (unsigned long long)s->tx_bytes);
        sim_info(e, line);
    }
    return RC_OK;
}

cmd_rc sim_service_command(sim_engine *e, const at_command *c, unsigned *cme)
{
    const at_str *n = &c->name;
    unsigned id, cnt;
    *cme = CME_INCORRECT_PARAMS;
    if (at_name_is(n, "^SICS"))
        return cmd_sics(e, c);
    if (at_name_is(n, "^SISS"))
        return cmd_siss(e, c, cme);
    if (at_name_is(n, "^SISO"))
        return cmd_siso(e, c, cme);
    if (at_name_is(n, "^SISR"))
        return cmd_sisr(e, c, cme);
    if (at_name_is(n, "^SISI"))
        return cmd_sisi(e, c);
    if (at_name_is(n, "^SISC")) {
        if (c->type == AT_CMDT_TEST) {
            sim_info(e, "^SISC: (0-9)");
            return RC_OK;
        }
        if (!service_id(c, 1, &id))
            return RC_CME;
        close_service(e, id, "AT^SISC");
        e->svc[id].failed = false;
        return RC_OK;
    }
    /* ^SISW */
    if (c->type == AT_CMDT_TEST) {
        sim_info(e, "^SISW: (0-9),(1-1500)");
        return RC_OK;
    }
    if (c->type != AT_CMDT_SET || c->n_params < 2 || c->n_params > 3 ||
        !sim_num_value(&c->params[0], SIM_SERVICES - 1, SIM_SERVICES, &id) ||
        id >= SIM_SERVICES || !sim_num_value(&c->params[1], SISRW_MAX, 0, &cnt) || cnt == 0)
        return RC_CME;
    if (!e->svc[id].open) {
        *cme = CME_NOT_ALLOWED;
        return RC_CME;
    }
    char line[48];
    snprintf(line, sizeof line, "^SISW: %u,%u,0", id, cnt);
    sim_info(e, line);
    e->sisw_id = id;
    e->sisw_n = cnt;
    return RC_SISW;
}

/* One byte of the AT^SISW payload. */
void sim_sisw_byte(sim_engine *e, uint8_t b)
{
    if (e->lf_skip) {
        e->lf_skip = false;
        if (b == '\n')
            return; /* the end of "AT^SISW=<id>,<n>\r\n", not payload */
    }
    e->sisw_buf[e->sisw_got++] = b;
    if (e->sisw_got < e->sisw_n)
        return;
    unsigned id = e->sisw_id;
    sim_service *s = &e->svc[id];
    char err[200] = "";
    e->mode = MODE_CMD;
    e->line_len = 0;
    e->line_overflow = false;
    int rc = s->open && e->svc_io.write
                 ? e->svc_io.write(e->svc_ctx, id, e->sisw_buf, e->sisw_n, err, sizeof err)
                 : -1;
    if (rc == 0) {
        s->tx_bytes += e->sisw_n;
        sim_log(e, "service %u: sent %zu bytes", id, e->sisw_n);
        sim_result(e, "OK", '0');
    } else {
        char res[160];
        sim_log(e, "service %u: sending %zu bytes failed: %s", id, e->sisw_n,
                err[0] ? err : "not connected");
        sim_error_result(e, RC_CME, CME_NOT_ALLOWED, res, sizeof res);
    }
    sim_flush_urcs(e);
}

void sim_engine_service_event(sim_engine *e, uint64_t now_ns, unsigned id, sim_svc_event ev)
{
    if (!e || id >= SIM_SERVICES)
        return;
    sim_engine_tick(e, now_ns);
    sim_service *s = &e->svc[id];
    if (!s->open)
        return;
    char line[48];
    if (ev == SIM_SVC_DATA) {
        if (!s->rx_told) {
            s->rx_told = true;
            snprintf(line, sizeof line, "^SISR: %u,1", id);
            sim_urc_queue(e, line);
        }
    } else if (ev == SIM_SVC_CLOSED && !s->peer_closed) {
        s->peer_closed = true;
        sim_log(e, "service %u: the peer closed the connection", id);
        if (!s->rx_told && !s->close_told) {
            snprintf(line, sizeof line, "^SISR: %u,2", id);
            sim_urc_queue(e, line);
            s->close_told = true;
        }
    }
    sim_flush_urcs(e);
}

/* AT^SISW's payload was not complete within the service timeout: nothing
 * is sent (sim_engine_tick). */
void sim_sisw_timeout(sim_engine *e)
{
    char res[160];
    sim_log(e, "service %u: %zu of %zu ^SISW bytes after %u ms -> nothing sent", e->sisw_id,
            e->sisw_got, e->sisw_n, e->cfg.timeout_ms);
    e->mode = MODE_CMD;
    e->line_len = 0;
    e->line_overflow = false;
    sim_error_result(e, RC_CME, CME_NOT_ALLOWED, res, sizeof res);
}

/* The ^SISW: <id>,<n>,0 line is out: the payload follows. */
void sim_sisw_start(sim_engine *e, uint64_t now_ns)
{
    e->mode = MODE_SISW;
    e->sisw_got = 0;
    e->lf_skip = true;
    e->ready_ns = e->last_byte_ns = now_ns;
}
