/* cli/event_names.c - the names of hotbox's events in the CLI's text and
 * --json output (docs/events.md; tests/cli/check_events.c links this file
 * and checks every name is documented). */
#include "cli.h"

const char *cli_event_name(hb_event_type t)
{
    /* The names of docs/events.md; tests/cli checks every one is there. */
    static const char *names[] = {"?", "compiled", "compile-failed", "loaded", "swapped",
                                  "swap-failed", "crashed", "restarted", "rolled-back",
                                  "state-reset", "unloaded", "warning", "selftest", "watching",
                                  "notice", "up-to-date"};
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}
