/*
 * keyopts.c - the options that name a private key (--key, --passin,
 * --keypass, --alias), one copy for every command that signs: `attrace
 * encode` now, `attrace cert` and `attrace replay --resign` alike. They
 * fill an at_key_source that at_key_load takes as it is.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

bool cli_key_option(int c, const char *arg, at_key_source *src)
{
    switch (c) {
    case CLI_OPT_KEY: src->path = arg; return true;
    case CLI_OPT_PASSIN: src->passin = arg; return true;
    case CLI_OPT_KEYPASS: src->keypass = arg; return true;
    case CLI_OPT_ALIAS: src->alias = arg; return true;
    default: return false;
    }
}

int cli_key_options_check(const char *prog, const at_key_source *src)
{
    if (!src->path && (src->passin || src->keypass || src->alias))
        return cli_usage_error(prog, "%s", "--passin, --keypass and --alias belong to --key");
    if (src->alias && !*src->alias)
        return cli_usage_error(prog, "%s", "--alias needs a name");
    const char *specs[2][2] = {{"--passin", src->passin}, {"--keypass", src->keypass}};
    for (size_t i = 0; i < 2; i++)
        if (specs[i][1] && strncmp(specs[i][1], "pass:", 5) == 0)
            at_msg(prog, "warning: %s pass:... shows the password to other "
                   "users (ps, shell history); env:VAR or file:PATH does not",
                   specs[i][0]);
    return -1;
}

EVP_PKEY *cli_key_load(const char *prog, const at_key_source *src, at_key_info *info,
                       X509 **cert_out)
{
    char err[1024];
    EVP_PKEY *k = at_key_load(src, info, cert_out, err, sizeof err);
    if (!k)
    {
        /* The crypto layer quotes what it echoes from inside a keystore
         * (at_err_quote); the rest, such as the file name, is escaped here
         * without doubling those quotes' backslashes. */
        fprintf(stderr, "%s: ", prog);
        at_escape_write(stderr, err, strlen(err), AT_ESC_KEEP_BACKSLASH);
        fputc('\n', stderr);
    }
    return k;
}
