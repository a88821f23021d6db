/*
 * main.c - `attrace`: dispatches to its subcommands.
 *
 * Each subcommand is one row of the table below with its own entry point,
 * which receives argv starting at the subcommand's name and parses its own
 * options.
 */
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>

#include <stdio.h>
#include <string.h>


typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command;

static const cli_command commands[] = {
    {"decode", "decode a trace into a readable, annotated session (or NDJSON)",
     cli_decode_main},
    {"encode", "write one secure-command frame (WRITE, READ, DELETE) to a file",
     cli_encode_main},
    {"capture", "record live UART traffic into a trace (proxy, tap, exec)",
     cli_capture_main},
    {"cert", "list, write, read or delete certificates of a live module",
     cli_cert_main},
    {"replay", "send a recorded session to live modules again and compare the answers",
     cli_replay_main},
    {"diff", "compare two traces exchange by exchange: frames field by field, answers",
     cli_diff_main},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: " CLI_PROG " COMMAND [OPTIONS] [ARGS]\n"
            "       " CLI_PROG " --help | --version\n"
            "\n"
            "Serial-line protocol analyzer for the AT interface of Cinterion\n"
            "wireless modules.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n"
                "Run '" CLI_PROG " COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(CLI_PROG, "%s", "missing command");

    const char *arg = argv[1];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        if (argc > 2)
            return cli_usage_error(CLI_PROG, "unexpected argument '%s'", argv[2]);
        usage(stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0) {
        if (argc > 2)
            return cli_usage_error(CLI_PROG, "unexpected argument '%s'", argv[2]);
        printf(CLI_PROG " " ATTRACE_VERSION_STRING "\n");
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (arg[0] == '-')
        return cli_usage_error(CLI_PROG, "unknown option '%s'", arg);

    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(arg, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);

    return cli_usage_error(CLI_PROG, "unknown command '%s'", arg);
}

int cli_getopt_error(const char *prog, int c, char **argv)
{
    if (c == ':')
        return cli_usage_error(prog, "option '%s' needs an argument", argv[optind - 1]);
    if (optopt > 0 && optopt < 256)
        return cli_usage_error(prog, "unknown option '-%c'", optopt);
    return cli_usage_error(prog, "unknown or malformed option '%s'", argv[optind - 1]);
}

int cli_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    at_vmsg(prog, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help' for more information.\n", prog);
    return 2;
}
