/* cli/watch.c - `hotbox watch` (filled in with the watcher module). */
#include "cli.h"

int cmd_watch(const cli_global *g, int argc, char **argv)
{
    (void)g;
    (void)argc;
    (void)argv;
    cli_error("watch: not built yet in this revision");
    return HB_EXIT_FAILED;
}
