/*
 * frameopts.c - one parser for the frame and session options of `attrace
 * encode`, `cert`, `replay` and `diff` (frameopts.h).
 */
#include "frameopts.h"

#include <string.h>

int cli_profile_option(const char *prog, const char *arg, const at_profile **out)
{
    const at_profile *p = at_profile_by_name(arg);
    if (!p)
        return cli_usage_error(prog, "unknown profile '%s' (known: legacy, newer)", arg);
    *out = p;
    return 0;
}

bool cli_imei_ok(const char *s)
{
    return strlen(s) == 15 && strspn(s, "0123456789") == 15;
}

static int take_u16(const char *prog, const char *name, const char *arg, bool *have,
                    uint16_t *out)
{
    uint32_t v;
    if (cli_parse_u32(arg, 0, UINT16_MAX, &v) != 0)
        return cli_usage_error(prog, "invalid %s '%s' (0..65535)", name, arg);
    *have = true;
    *out = (uint16_t)v;
    return 1;
}

static int take_path(const char *prog, const char *name, const char *arg, const char **out)
{
    if (!*arg)
        return cli_usage_error(prog, "%s needs a file name", name);
    *out = arg;
    return 1;
}

int cli_frame_option(cli_frame_opts *o, int c, const char *arg, const char *prog)
{
    if (cli_key_option(c, arg, &o->key))
        return 1;
    switch (c) {
    case CLI_OPT_INDEX: return take_u16(prog, "--index", arg, &o->have_index, &o->index);
    case CLI_OPT_CHANNEL:
        return take_u16(prog, "--channel", arg, &o->have_channel, &o->channel);
    case CLI_OPT_CERT: return take_path(prog, "--cert", arg, &o->cert);
    case CLI_OPT_FRAME: return take_path(prog, "--frame", arg, &o->frame);
    case CLI_OPT_CLIENT_CERT: return take_path(prog, "--client-cert", arg, &o->client_cert);
    case CLI_OPT_IMEI: o->imei = arg; return 1;
    case CLI_OPT_SIG:
        if (strcmp(arg, "sha1") == 0 || strcmp(arg, "sha256") == 0 ||
            (o->sig_none_ok && strcmp(arg, "none") == 0)) {
            o->sig = arg;
            return 1;
        }
        return o->sig_none_ok
                   ? cli_usage_error(prog, "invalid --sig '%s' (sha1, sha256 or none)", arg)
                   : cli_usage_error(prog, "invalid --sig '%s' (sha1 or sha256)", arg);
    case CLI_OPT_FRAME_PROFILE:
        return cli_profile_option(prog, arg, &o->profile) ? 2 : 1;
    case CLI_OPT_MODE:
        if (!*arg)
            return cli_usage_error(prog, "%s", "--mode needs a store name");
        o->mode = arg;
        return 1;
    case CLI_OPT_THUMBPRINT: o->thumbprint = true; return 1;
    case CLI_OPT_INCLUDE_KEY: o->include_key = true; return 1;
    default: return 0;
    }
}
