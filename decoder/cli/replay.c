/* replay.c - `attrace replay` (placeholder until the next commit). */
#include "cli.h"

int cli_replay_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error(CLI_PROG " replay", "%s", "not built yet");
}
