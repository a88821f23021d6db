/*
 * The ^SIS rule: a TLS service that failed on the server's certificate,
 * compared with the stored certificates its secOpt selects and with the
 * server certificate the module reported in +CIEV: is_cert.
 */
#include "analysis_internal.h"

#include <stdio.h>
#include <string.h>

#define SEL_MAX 16u

/* The ^SIS info ids about the server's certificate. */
static bool cert_info(unsigned id)
{
    return id == 63 || id == 64 || id == 65 || id == 66 || id == 76 || id == 77;
}

/* "1,5,9" -> indexes; false if it is no list of numbers. */
static bool parse_selection(const char *s, unsigned *idx, unsigned *n)
{
    *n = 0;
    if (!*s)
        return false;
    while (*s) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned v = 0;
        while (*s >= '0' && *s <= '9') {
            v = v * 10 + (unsigned)(*s - '0');
            if (v > 9999)
                return false;
            s++;
        }
        if (*n < SEL_MAX)
            idx[(*n)++] = v;
        if (*s == ',')
            s++;
        else if (*s)
            return false;
    }
    return *n > 0;
}

static bool slot_has_cert(const at_store_slot *s)
{
    return (s->state == AT_SLOT_WRITTEN || s->state == AT_SLOT_LISTED) && !s->corrupted;
}

static const at_store_slot *slot(const at_analyzer *an, unsigned i)
{
    return i < AT_MODEL_SLOTS ? &an->model.store[i] : NULL;
}

/* Appends the description of selected index @p i. */
static size_t describe_slot(const at_analyzer *an, unsigned i, char *out, size_t cap)
{
    const at_store_slot *s = slot(an, i);
    if (!s || i > an->model.profile->index_max)
        return an_fmt(out, cap, "index %u, outside the store (0..%u)", i,
                                an->model.profile->index_max);
    if (slot_has_cert(s))
        return an_fmt(out, cap, "index %u, %s", i, s->subject[0] ? s->subject
                                                                              : "a certificate");
    if (s->corrupted)
        return an_fmt(out, cap, "index %u, listed as corrupted", i);
    if (s->state == AT_SLOT_EMPTY && s->deleted)
        return an_fmt(out, cap, "index %u, which is empty (deleted in exchange #%u)",
                                i, (unsigned)s->exchange);
    if (s->state == AT_SLOT_EMPTY)
        return an_fmt(out, cap, "index %u, which is empty", i);
    return an_fmt(out, cap, "index %u, whose content the trace does not show", i);
}

static void describe_selection(const at_analyzer *an, const unsigned *idx, unsigned n,
                               char *out, size_t cap)
{
    size_t k = 0;
    out[0] = '\0';
    for (unsigned j = 0; j < n && k < cap; j++) {
        if (j)
            k += an_fmt(out + k, cap - k, j + 1 == n ? " and " : "; ");
        if (k < cap)
            k += describe_slot(an, idx[j], out + k, cap - k);
    }
}

static long date_num(int y, int m, int d)
{
    return (long)y * 10000L + (long)m * 100L + d;
}

/* A stored slot that is the server's issuer (by subject) or the server's
 * certificate itself (by thumbprint). */
static bool is_issuer_slot(const at_store_slot *s, const at_service *sv)
{
    if (!slot_has_cert(s))
        return false;
    if (s->subject[0] && strcmp(s->subject, sv->server_issuer) == 0)
        return true;
    return s->thumbprint[0] && sv->server_thumbprint[0] &&
           an_hex_eq(s->thumbprint, strlen(s->thumbprint), sv->server_thumbprint,
                     strlen(sv->server_thumbprint));
}

/* Where the issuer is stored at all, or -1. */
static int find_issuer(const at_analyzer *an, const at_service *sv)
{
    for (unsigned i = 1; i < AT_MODEL_SLOTS && i <= an->model.profile->index_max; i++)
        if (is_issuer_slot(&an->model.store[i], sv))
            return (int)i;
    return -1;
}

typedef struct tls_text {
    char what[AT_FINDING_TEXT_MAX];
    char fix[AT_FINDING_TEXT_MAX];
} tls_text;

/* Selected slot @p s is the server's issuer: why is it still not trusted? */
static void matched(const at_analyzer *an, unsigned info, unsigned srv, unsigned i,
                    const at_store_slot *s, const at_service *sv, uint64_t ts, tls_text *t)
{
    int y, m, d;
    an_date_of(ts, &y, &m, &d);
    long today = date_num(y, m, d);
    (void)an;
    if (info == 65 && s->has_expiry &&
        date_num(s->expiry_year, s->expiry_month, s->expiry_day) < today) {
        an_fmt(t->what, sizeof t->what,
                 "secOpt %s selects index %u, %s, the server's issuer, which expired on "
                 "%04d-%02d-%02d, before this connection on %04d-%02d-%02d",
                 sv->secopt, i, s->subject, s->expiry_year, s->expiry_month, s->expiry_day,
                 y, m, d);
        an_fmt(t->fix, sizeof t->fix,
                 "Store a current certificate of %s at index %u and check the module's clock "
                 "(AT+CCLK?).", s->subject, i);
    } else if (info == 64 && s->has_valid_from &&
               date_num(s->valid_from_year, s->valid_from_month, s->valid_from_day) > today) {
        an_fmt(t->what, sizeof t->what,
                 "secOpt %s selects index %u, %s, the server's issuer, which is valid only "
                 "from %04d-%02d-%02d, after this connection on %04d-%02d-%02d",
                 sv->secopt, i, s->subject, s->valid_from_year, s->valid_from_month,
                 s->valid_from_day, y, m, d);
        an_fmt(t->fix, sizeof t->fix,
                 "Store a certificate of %s that is already valid at index %u, and check the "
                 "module's clock (AT+CCLK?).", s->subject, i);
    } else if (info == 64 || info == 65) {
        an_fmt(t->what, sizeof t->what,
                 "secOpt %s selects index %u, %s, the server's issuer%s, so the server's own "
                 "certificate (%s) is %s on the module's clock",
                 sv->secopt, i, s->subject,
                 s->has_expiry ? ", which is within its validity period" : "",
                 sv->server_subject, info == 64 ? "not yet valid" : "expired");
        an_fmt(t->fix, sizeof t->fix,
                 "Check the server certificate's validity dates and set the module's clock "
                 "with AT+CCLK (a module without network time starts in the past).");
    } else if (info == 66) {
        an_fmt(t->what, sizeof t->what,
                 "secOpt %s selects index %u, %s, which names the server's issuer, yet the "
                 "module did not confirm the server: the stored certificate (thumbprint %s) "
                 "is another one with that name, or the server's chain needs an intermediate "
                 "CA", sv->secopt, i, s->subject, s->thumbprint[0] ? s->thumbprint : "unknown");
        an_fmt(t->fix, sizeof t->fix,
                 "Store the CA certificate that really signed the server's certificate (or "
                 "the intermediate CA that did) at index %u with AT^SBNW, and connect again.",
                 i);
    } else {
        an_fmt(t->what, sizeof t->what,
                 "secOpt %s selects index %u, %s, the server's issuer, but the module cannot "
                 "use the stored certificate's data", sv->secopt, i, s->subject);
        an_fmt(t->fix, sizeof t->fix,
                 "Write the CA certificate to index %u again, in DER form, and check it with "
                 "AT^SBNR=is_cert; select it with AT^SISS=%u,secOpt,%u.", i, srv, i);
    }
}

void an_sis(at_analyzer *an, const at_event *ev)
{
    const at_sis *sis = &ev->line.u.sis;
    if (!sis->has_info_id || !cert_info(sis->info_id))
        return;
    unsigned info = sis->info_id, srv = sis->srv_profile;
    const char *meaning = at_sis_info_text(info);
    at_service none;
    memset(&none, 0, sizeof none);
    const at_service *sv = srv < AT_MODEL_SERVICES ? &an->model.services[srv] : &none;

    tls_text t;
    t.what[0] = t.fix[0] = '\0';
    unsigned idx[SEL_MAX], n = 0;
    bool list = sv->has_secopt && parse_selection(sv->secopt, idx, &n);
    int stored_at = sv->has_server_cert ? find_issuer(an, sv) : -1;

    if (sv->has_secopt && sv->secopt[0] == '\0') {
        an_fmt(t.what, sizeof t.what,
                 "secOpt is empty, which turns TLS off for this service, yet the module "
                 "reports a certificate error");
        an_fmt(t.fix, sizeof t.fix,
                 "Set secOpt to the index of the server's issuing CA (AT^SISS=%u,secOpt,<n>) "
                 "and check the service's address.", srv);
    } else if (sv->has_secopt && strcmp(sv->secopt, "-1") == 0) {
        an_fmt(t.what, sizeof t.what,
                 "secOpt -1 turns server verification off, yet the module checked the "
                 "server's certificate");
        an_fmt(t.fix, sizeof t.fix,
                 "Check that AT^SISS=%u,secOpt,-1 was answered OK before AT^SISO, or select "
                 "the index of the server's issuing CA instead.", srv);
    } else if (!sv->has_server_cert) {
        char sel[300] = "the trace does not show its secOpt";
        if (sv->has_secopt && !list)
            an_fmt(sel, sizeof sel, "secOpt \"%s\" selects no index", sv->secopt);
        if (list) {
            char d[260];
            describe_selection(an, idx, n, d, sizeof d);
            an_fmt(sel, sizeof sel, "secOpt %s selects %s", sv->secopt, d);
        }
        an_fmt(t.what, sizeof t.what,
                 "%s, and no +CIEV: is_cert for this service shows the server's certificate, "
                 "so its issuer is unknown", sel);
        an_fmt(t.fix, sizeof t.fix,
                 "Enable the URC with AT^SIND=is_cert,1 and AT+CMER=3,0,0,2 before AT^SISO "
                 "to see the server's certificate, then store its issuing CA and select that "
                 "index with AT^SISS=%u,secOpt,<n>.", srv);
    } else {
        /* A selected slot that is the issuer. */
        int hit = -1;
        for (unsigned j = 0; j < n && hit < 0; j++) {
            const at_store_slot *s = slot(an, idx[j]);
            if (s && is_issuer_slot(s, sv))
                hit = (int)idx[j];
        }
        if (hit >= 0) {
            matched(an, info, srv, (unsigned)hit, slot(an, (unsigned)hit), sv, ev->ts, &t);
        } else {
            char sel[300] = "the trace does not show its secOpt";
            bool all_unknown = list, none_stored = list;
            if (sv->has_secopt && !list)
                an_fmt(sel, sizeof sel, "secOpt \"%s\" selects no index", sv->secopt);
            if (list) {
                char d[260];
                describe_selection(an, idx, n, d, sizeof d);
                an_fmt(sel, sizeof sel, "secOpt %s selects %s", sv->secopt, d);
                for (unsigned j = 0; j < n; j++) {
                    const at_store_slot *s = slot(an, idx[j]);
                    if (s && s->state != AT_SLOT_UNKNOWN)
                        all_unknown = false;
                    if (s && idx[j] <= an->model.profile->index_max &&
                        (s->state == AT_SLOT_UNKNOWN || slot_has_cert(s)))
                        none_stored = false;
                }
            }
            an_fmt(t.what, sizeof t.what,
                     "the server's certificate was issued by %s; %s%s", sv->server_issuer,
                     sel,
                     !list ? (stored_at >= 0 ? ", though the store holds that issuer"
                                             : ", and no stored certificate the trace shows "
                                               "is that issuer")
                     : all_unknown ? ", so the trace cannot tell whether it is its issuer"
                     : none_stored ? ": no stored certificate is there to confirm the server"
                     : n == 1 ? ", which is not its issuer" : ", none of which is its issuer");
            if (stored_at >= 0)
                an_fmt(t.fix, sizeof t.fix,
                         "Select index %d, which holds %s, with AT^SISS=%u,secOpt,%d.",
                         stored_at, sv->server_issuer, srv, stored_at);
            else if (list && all_unknown)
                an_fmt(t.fix, sizeof t.fix,
                         "List the store with AT^SBNR=is_cert and make sure the selected index "
                         "holds the certificate of %s (the issuing CA).", sv->server_issuer);
            else
                an_fmt(t.fix, sizeof t.fix,
                         "Store the certificate of %s (the issuing CA) and select its index "
                         "with AT^SISS=%u,secOpt,<n>.", sv->server_issuer, srv);
        }
    }

    at_finding fd;
    an_finding_init(&fd, "tls_server_not_trusted", AT_SEV_ERROR,
                    ev->exchange ? ev->exchange->id : 0, AT_DIR_ME_TO_TE,
                    sis->info_id_span.off, ev->ts);
    an_what(&fd, "^SIS info %u (%s) for service %u: %s.", info, meaning ? meaning : "TLS error",
            srv, t.what);
    an_fix(&fd, "%s", t.fix);
    an_deliver(an, &fd);
}
