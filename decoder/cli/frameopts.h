/*
 * frameopts.h - the options that say which secure-command frame a command
 * builds or sends and which session it reads (--index, --cert, --imei,
 * --sig, --profile, --mode, --thumbprint, --include-key, --frame,
 * --client-cert, --channel, and the key options of keyopts.c): one table
 * and one parser for `attrace encode`, `attrace cert`, `attrace replay`
 * and `attrace diff`, so each option means the same, is checked the same
 * and fails with the same message (exit 2) everywhere.
 *
 * A command puts the rows it takes (CLI_FO_ROW_...) into its getopt_long
 * table and hands each option to cli_frame_option; the values land in one
 * cli_frame_opts. Which options belong together is each command's rule.
 */
#ifndef ATTRACE_CLI_FRAMEOPTS_H
#define ATTRACE_CLI_FRAMEOPTS_H

#include "cli.h"

#include <getopt.h>

/* getopt_long codes, above the key options' (cli.h) and below the port
 * options' (live.h 1000+ are smaller: the ranges do not meet). */
enum {
    CLI_OPT_INDEX = 0x4c00,
    CLI_OPT_CERT,
    CLI_OPT_IMEI,
    CLI_OPT_SIG,
    CLI_OPT_FRAME_PROFILE,
    CLI_OPT_MODE,
    CLI_OPT_THUMBPRINT,
    CLI_OPT_INCLUDE_KEY,
    CLI_OPT_FRAME,
    CLI_OPT_CLIENT_CERT,
    CLI_OPT_CHANNEL
};

#define CLI_FO_ROW_INDEX {"index", required_argument, NULL, CLI_OPT_INDEX}
#define CLI_FO_ROW_CERT {"cert", required_argument, NULL, CLI_OPT_CERT}
#define CLI_FO_ROW_IMEI {"imei", required_argument, NULL, CLI_OPT_IMEI}
#define CLI_FO_ROW_SIG {"sig", required_argument, NULL, CLI_OPT_SIG}
#define CLI_FO_ROW_PROFILE {"profile", required_argument, NULL, CLI_OPT_FRAME_PROFILE}
#define CLI_FO_ROW_MODE {"mode", required_argument, NULL, CLI_OPT_MODE}
#define CLI_FO_ROW_THUMBPRINT {"thumbprint", no_argument, NULL, CLI_OPT_THUMBPRINT}
#define CLI_FO_ROW_INCLUDE_KEY {"include-key", no_argument, NULL, CLI_OPT_INCLUDE_KEY}
#define CLI_FO_ROW_FRAME {"frame", required_argument, NULL, CLI_OPT_FRAME}
#define CLI_FO_ROW_CLIENT_CERT {"client-cert", required_argument, NULL, CLI_OPT_CLIENT_CERT}
#define CLI_FO_ROW_CHANNEL {"channel", required_argument, NULL, CLI_OPT_CHANNEL}

/* The rows of a command that builds a frame: index, certificate, IMEI,
 * digest and the key options. */
#define CLI_FO_FRAME_ROWS \
    CLI_FO_ROW_INDEX, CLI_FO_ROW_CERT, CLI_FO_ROW_IMEI, CLI_FO_ROW_SIG, CLI_KEY_LONGOPTS

typedef struct cli_frame_opts {
    bool sig_none_ok;          /* set by the command: --sig none is accepted */
    bool have_index;
    uint16_t index;            /* --index */
    const char *cert;          /* --cert */
    const char *imei;          /* --imei, as given (cli_imei_ok checks it) */
    const char *sig;           /* --sig: "sha1", "sha256", "none" */
    const at_profile *profile; /* --profile */
    const char *mode;          /* --mode */
    bool thumbprint;           /* --thumbprint */
    bool include_key;          /* --include-key */
    const char *frame;         /* --frame: a prebuilt frame file */
    const char *client_cert;   /* --client-cert */
    bool have_channel;
    uint16_t channel;          /* --channel */
    at_key_source key;         /* --key, --passin, --keypass, --alias */
} cli_frame_opts;

/* Handles getopt_long code @p c (with @p arg) of @p prog when it is one of
 * the options above or a key option. 1 taken, 0 not one of them, 2 after a
 * usage error (message printed). */
int cli_frame_option(cli_frame_opts *o, int c, const char *arg, const char *prog);

/* A module family by name (--profile of every command): 0 with *out, or
 * 2 after the usage error. */
int cli_profile_option(const char *prog, const char *arg, const at_profile **out);

/* Whether @p s is an IMEI as AT+CGSN prints it: 15 decimal digits. */
bool cli_imei_ok(const char *s);

#endif
