/* cli/cli.h - shared by the hotbox command's files. The CLI uses only the
 * public API (hotbox/hotbox.h). */
#ifndef HB_CLI_H
#define HB_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "hotbox/hotbox.h"

/* Exit codes, documented in `hotbox --help` and the README. */
enum {
    HB_EXIT_OK = 0,
    HB_EXIT_FAILED = 1,   /* the operation failed (see the message) */
    HB_EXIT_USAGE = 2,    /* bad command line */
    HB_EXIT_COMPILE = 3,  /* a plugin did not compile */
    HB_EXIT_CRASHED = 4,  /* plugin code crashed or hung the worker */
};

typedef struct cli_global {
    const char *state_dir;
    const char *cc;
    const char *cc_origin; /* "./hotbox.json" when cc came from there, not --cc */
    const char *cflags;
    unsigned compile_timeout_ms; /* --compile-timeout; 0: the manager's default */
    hb_isolation isolation;
    hb_profile profile;
    hb_worker_kind worker; /* --worker: where plugin code runs */
    bool trust_plugin_runtime; /* --trust-plugin-runtime (docs/plugin-json.md) */
    bool json;
    bool color;
    bool quiet;
    bool machine_notices; /* show the machine's notices even if shown before */
} cli_global;

int cli_exit_code(int hb_code);
void cli_print_event(const hb_event *ev, void *ud);
/* An event type's name in text and --json output (docs/events.md). */
const char *cli_event_name(hb_event_type t);
int cli_manager(const cli_global *g, hb_manager **out);
/* The manager options the global options ask for (no event callback). */
void cli_manager_options(const cli_global *g, hb_manager_options *o);
/* A command's end on m: r < 0 says m's last error, else prints fmt (when
 * not NULL); frees m; the exit code (HB_EXIT_FAILED when r < 0). */
int cli_manager_end(hb_manager *m, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The sandbox options the global options ask for. */
void cli_sandbox_options(const cli_global *g, hb_sandbox_options *o);
/* The manager and a sandbox of the global options (recording calls for
 * hotbox replay when record); -1 after saying why not. */
int cli_sandbox(const cli_global *g, bool record, hb_manager **m, hb_sandbox **sb);
/* Says why the state directory could not be opened (hb_manager_new's r). */
void cli_state_error(const cli_global *g, int r);
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli/args.c: getopt_long with the house conventions. Call with optind = 0
 * before a command's first option. Returns the option, -1 at the end, or
 * '?' after saying once what was wrong (with "did you mean --x?"). cmd
 * names the command in messages (NULL for the global options). A
 * shortopts starting with '+' stops at the first operand. */
int cli_getopt(int argc, char **argv, const char *cmd, const char *shortopts,
               const struct option *longopts, int *longindex);
/* For commands whose only option is --help: prints usage (stdout for
 * --help, stderr when the operand count is outside [min, max], max -1 =
 * any) and returns the exit code, or -1 to go on with the operands at
 * argv[optind..]. */
int cli_operands(int argc, char **argv, const char *cmd, const char *usage, int min, int max);

/* A command's options as one table, parsed by cli_parse: -h/--help (added
 * to every table) prints the usage; a bad value is reported as
 * "CMD: --NAME wants WANTS, not "VALUE" (see hotbox CMD --help)" (exit 2). */
typedef enum cli_opt_kind {
    CLI_OPT_FLAG,   /* bool *: set */
    CLI_OPT_STR,    /* const char **: the value (checked by valid when set) */
    CLI_OPT_LIST,   /* cli_list *: the value appended (checked by valid when set) */
    CLI_OPT_UINT,   /* unsigned *: a decimal number in [min, max] */
    CLI_OPT_U64,    /* uint64_t *: a decimal number in [min, max64] */
    CLI_OPT_CHOICE, /* int *: the value of the choice named (choices) */
    CLI_OPT_FN,     /* fn(target, value): -1 to go on, or the exit code after saying why */
    CLI_OPT_DO,     /* the same with no value (value NULL) */
} cli_opt_kind;

/* Repeated values, in order: v is malloc'ed and NULL-terminated (free(v)). */
typedef struct cli_list {
    const char **v;
    size_t n;
} cli_list;

/* A name for a value: a NULL name ends a list of them. */
typedef struct cli_choice {
    const char *name;
    int value;
} cli_choice;

typedef struct cli_opt {
    const char *name; /* the long option (NULL: a short one only) */
    char letter;      /* its short form, or 0; neither name nor letter ends the table */
    cli_opt_kind kind;
    void *target;
    const char *wants; /* what a bad value should have been */
    unsigned min, max;
    uint64_t max64;
    bool (*valid)(const char *value);
    int (*fn)(void *target, const char *value);
    const cli_choice *choices;
    const char *arg;  /* the value's name in --help ("N", "FILE") */
    const char *help; /* its line(s) in --help ("\n" between lines); NULL: not listed */
} cli_opt;

/* What --help prints: text, then (when options have help) their list,
 * each option's help starting at column, then a blank line and after. */
typedef struct cli_help {
    const char *text;
    const char *after;
    unsigned column;
} cli_help;
#define CLI_HELP(s) (&(const cli_help){.text = (s)})
void cli_help_print(FILE *f, const cli_help *h, const cli_opt *opts);

/* Table rows; more fields may follow (.letter = 'j', .valid = f, .wants,
 * .arg = "N", .help = "..."). */
#define CLI_FLAG(n, t, ...) {.name = (n), .kind = CLI_OPT_FLAG, .target = (t), __VA_ARGS__}
#define CLI_STR(n, t, ...) {.name = (n), .kind = CLI_OPT_STR, .target = (t), __VA_ARGS__}
#define CLI_LIST(n, t, ...) {.name = (n), .kind = CLI_OPT_LIST, .target = (t), __VA_ARGS__}
#define CLI_UINT(n, t, lo, hi, w, ...)                                                            \
    {.name = (n), .kind = CLI_OPT_UINT, .target = (t), .min = (lo), .max = (hi), .wants = (w),     \
     __VA_ARGS__}
#define CLI_U64(n, t, hi, w, ...)                                                                  \
    {.name = (n), .kind = CLI_OPT_U64, .target = (t), .min = 1, .max64 = (hi), .wants = (w),        \
     __VA_ARGS__}
#define CLI_CHOICE(n, t, c) {.name = (n), .kind = CLI_OPT_CHOICE, .target = (t), .choices = (c)}
#define CLI_FN(n, t, f, ...) {.name = (n), .kind = CLI_OPT_FN, .target = (t), .fn = (f), __VA_ARGS__}
#define CLI_DO(n, t, f) {.name = (n), .kind = CLI_OPT_DO, .target = (t), .fn = (f)}

enum {
    CLI_POSIX = 1,       /* options end at the first operand */
    CLI_NO_OPERANDS = 2, /* an operand is "CMD: unexpected argument" */
};
/* Parses argv[1..]'s options (optind restarts) into the table's targets.
 * -1 to go on with the operands at argv[optind..], or the exit code (0
 * after --help, which prints help and the table). cmd names the command in
 * messages (NULL for the global options). */
int cli_parse(int argc, char **argv, const char *cmd, const cli_help *help, const cli_opt *opts,
              unsigned flags);
/* The value of the choice named v; else says "WHERE: unknown WHAT "v" (a,
 * b, c)" (no "WHERE: " when where is NULL) and returns -EINVAL. */
int cli_choose(const char *where, const char *what, const cli_choice *t, const char *v, int *out);
/* Edit distance (with swaps of neighbours) and the closest candidate
 * within two edits, or NULL. */
size_t cli_edit_distance(const char *a, const char *b);
const char *cli_suggest(const char *word, const char *const *candidates, size_t n);
/* cli/format.c: numbers with sensible precision. A duration as text
 * ("0.42 ms", "12.3 ms", "1.25 s"); milliseconds rounded to the microsecond
 * for JSON; JSON text (compact, ASCII, no float noise); a double in its
 * shortest exact form. */
const char *cli_fmt_ms(char buf[32], double ms);
double cli_round_ms(double ms);
char *cli_json_dumps(const json_t *o);
/* Prints o (taken; NULL prints nothing) to f as one line of JSON text;
 * false when nothing was printed. */
bool cli_json_print(FILE *f, json_t *o);
void cli_json_round(json_t *j); /* every real in j, to three decimals */
const char *cli_fmt_double(char buf[40], double v);

/* A decimal number in [min, max]; 0 or -1. */
int cli_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out);

/* cli/diag.c: "file:line:col: severity: message", the source line and a
 * caret under the column, as GCC prints them. */
void cli_print_diagnostic(FILE *f, const hb_diagnostic *d, const char *indent, bool color);

/* cli/notices.c: the machine's permanent notices, once per machine; the
 * read-only commands' "no state directory" (they create none); removing
 * a temporary tree. */
bool cli_is_machine_notice(const hb_event *ev);
bool cli_notice_shown_before(const char *msg);
bool cli_state_dir_absent(const cli_global *g);
bool cli_state_missing(const cli_global *g, const char *what); /* says so when what != NULL */
/* For a read-only command: the manager of an existing state directory. 1
 * with *m, 0 when there is none (said as cli_state_missing says), or -1
 * when it could not be opened (said). */
int cli_manager_existing(const cli_global *g, const char *what, hb_manager **m);
void cli_remove_tree(const char *path);

/* The commands (argv[0] is the command's name). build, versions, verify,
 * status and restart have no options but --help: main.c's command table
 * holds their usage and checks their operands, at argv[optind..]. */
int cmd_build(const cli_global *g, int argc, char **argv);
int cmd_versions(const cli_global *g, int argc, char **argv);
int cmd_call(const cli_global *g, int argc, char **argv);
int cmd_demo(const cli_global *g, int argc, char **argv);
int cmd_watch(const cli_global *g, int argc, char **argv);
int cmd_verify(const cli_global *g, int argc, char **argv);
int cmd_gc(const cli_global *g, int argc, char **argv);
int cmd_store(const cli_global *g, int argc, char **argv);
int cmd_rollback(const cli_global *g, int argc, char **argv);
int cmd_doctor(const cli_global *g, int argc, char **argv);
int cmd_status(const cli_global *g, int argc, char **argv);
int cmd_audit(const cli_global *g, int argc, char **argv);
int cmd_test(const cli_global *g, int argc, char **argv);
int cmd_report(const cli_global *g, int argc, char **argv);
int cmd_replay(const cli_global *g, int argc, char **argv);
/* cli/replay.c: where --record puts recordings, <state_dir>/recordings
 * (malloc'ed; NULL when out of memory). */
char *cli_record_dir(hb_manager *m);
/* The report as JSON (what --json prints), and its differing calls as
 * text, two lines (old, new) under a heading each, indented. */
json_t *cli_replay_json(const hb_replay_report *r);
void cli_replay_print_diffs(const hb_replay_report *r, const char *indent);

/* cli/replay_watch.c: `hotbox watch --replay`. Swaps of the live sandbox
 * are noted from its events; after each hb_watch_process the recording of
 * each swapped plugin is replayed on both versions in shadow workers. */
typedef struct cli_replay_swap {
    char plugin[128];
    uint64_t from, to;
} cli_replay_swap;
typedef struct cli_replay_watch {
    bool on;
    bool running;                /* a replay runs: its sandboxes' events are not the view's */
    cli_list exclude;            /* --replay-exclude */
    const char *const *roots;    /* the watch's roots, to find a plugin's directory */
    cli_replay_swap *pending;
    size_t npending;
} cli_replay_watch;
void cli_replay_watch_note(cli_replay_watch *rw, const hb_event *ev);
void cli_replay_watch_run(cli_replay_watch *rw, hb_manager *m, bool json);
void cli_replay_watch_release(cli_replay_watch *rw);
int cmd_snapshot(const cli_global *g, int argc, char **argv);
int cmd_restart(const cli_global *g, int argc, char **argv);

extern const char hb__demo_counter_v1[];
extern const char hb__demo_counter_v2[];
extern const char hb__demo_counter_v3[];
extern const char hb__demo_counter_v4[];
extern const char hb__demo_counter_v5[];
extern const char hb__demo_scale_c[];
extern const char hb__demo_scale_h[];
extern const char hb__demo_pricing_c[];

/* cli/console.c: the live session (docs/console.md). cli_console_call
 * returns CLI_NO_SESSION when none is live (said unless quiet), else the
 * exit code of the call made there (errors printed). */
#define CLI_NO_SESSION (-100)
int cli_console_call(const cli_global *g, const char *plugin, const char *symbol,
                     const char *sig, hb_value *args, size_t nargs, hb_value *ret,
                     char **ret_text);
/* "live session: ..." and the live versions, or "live session: none". */
void cli_console_print_status(const cli_global *g);
/* The state directory the console of this command lives in. */
const char *cli_console_dir(const cli_global *g);
/* Sends req (taken) to the live session. 0 with *reply (its JSON, "ok":
 * true), CLI_NO_SESSION when none is live (*why says so; hb_free), or an
 * exit code after printing the session's error. */
int cli_console_ask(const cli_global *g, json_t *req, json_t **reply, char **why);
/* 1 and *version when the live session has plugin loaded, else 0. */
int cli_console_live_version(const cli_global *g, const char *plugin, uint64_t *version);

#endif
