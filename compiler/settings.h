/*
 * compiler/settings.h - private: a plugin's own build settings (plugin.json)
 * and the shell-style splitting of the manager-wide flags.
 *
 * plugin.json sits in the plugin directory; docs/plugin-json.md is the
 * reference. hb__settings_parse (settings.c) checks the text alone (it is
 * what the fuzz target feeds); hb__settings_load (settings_load.c) reads
 * the file, parses it, resolves the include directories against the plugin
 * directory and runs pkg-config on the host for "pkg". The result is
 * already argv pieces: plan.c puts compile_c/compile_cxx after the
 * manager's flags and before the sources, and link after the objects (so
 * that --as-needed keeps the libraries); buildcfg.c picks which.
 *
 * Every error names the file and the key, and the line and column where
 * jansson or the key search can tell them: "/p/plugin.json:3:5: key
 * \"cflags\": expected an array of strings".
 */
#ifndef HB_COMPILER_SETTINGS_H
#define HB_COMPILER_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define HB__SETTINGS_FILE "plugin.json"
#define HB__SETTINGS_MAX_BYTES (256u << 10)
#define HB__SETTINGS_MAX_ITEMS 256u

typedef enum hb__lang {
    HB__LANG_AUTO = 0, /* from the sources: C++ when any is .cc, .cpp or .cxx */
    HB__LANG_C,
    HB__LANG_CXX,
} hb__lang;

/* The "runtime" section (docs/plugin-json.md): how the plugin's worker
 * runs. 0 / UNSET / empty means "not set: the sandbox's option applies". */
typedef enum hb__rt_profile {
    HB__RT_PROFILE_UNSET = 0,
    HB__RT_PROFILE_STRICT,
    HB__RT_PROFILE_STANDARD,
    HB__RT_PROFILE_PERMISSIVE,
} hb__rt_profile;

typedef struct hb__runtime_settings {
    hb__rt_profile profile;
    unsigned long long memory_mb, cpu_seconds, max_fds, max_procs; /* limits */
    unsigned cpu_percent;                                          /* limits */
    unsigned call_timeout_ms, swap_timeout_ms;
    char **env;  /* "NAME=value"; NULL when the section has none */
    char **data; /* raw: relative as written; loaded: real absolute paths;
                  * NULL when none */
    /* "allow" (security/allow.h), indexed by hb_allow_kind: absolute paths
     * as written (checked with hb_allow_check_text); the harness resolves
     * them when a sandbox loads the plugin. NULL when none. */
    char **allow[3];
    /* The top-level key "carry": false (outside the section, but applied by
     * the harness at a swap like it): statics are not carried by their
     * DWARF layouts (docs/state.md). */
    bool carry_off;
} hb__runtime_settings;

void hb__runtime_settings_release(hb__runtime_settings *rt);

/* What plugin.json says, checked but not resolved (no file system, no
 * processes). Every array is NULL-terminated and never NULL. */
typedef struct hb__settings_raw {
    char **cflags;   /* verbatim, one argv element each */
    char **defines;  /* already "-DNAME", "-DNAME=value" or "-UNAME" */
    char **include;  /* relative directories as written */
    char **libs;     /* "-lNAME", a flag as written, or a relative file path */
    char **pkg;      /* pkg-config package names */
    hb__lang lang;
    char *std;       /* "c11", "gnu++17", ...; NULL: the compiler's default */
    /* "sources": files or directories relative to the plugin directory, as
     * written, each once (no absolute path, no ".." component); NULL when
     * the key is absent (the plugin directory's own source files). */
    char **sources;
    hb__runtime_settings runtime;
} hb__settings_raw;

/* The settings of one plugin, resolved for one compile. */
typedef struct hb__settings {
    char *path;            /* <plugin_dir>/plugin.json; NULL when there is none */
    char hash[HB_SHA256_HEX]; /* of the bytes parsed ("" when there is no file) */
    hb__lang lang;
    char **compile_c;      /* flags for C sources (std only when it is a C one) */
    char **compile_cxx;    /* flags for C++ sources */
    char **link;           /* after the objects: libs, then pkg-config --libs */
    /* Directories an isolated compile must show read-only besides the
     * plugin directory: siblings of the plugin directory holding declared
     * include directories. */
    char **show_dirs;
    /* Directories outside /usr that pkg-config named (-I, -L): the
     * namespace backend shows them; the microvm guest cannot. */
    char **host_dirs;
    /* The runtime section; data directories resolved (real paths inside the
     * plugin directory, symlinks followed). */
    hb__runtime_settings runtime;
} hb__settings;

/* Parses plugin.json text; path only names the file in messages. 0, or
 * -EINVAL with *err set (a message naming path, the key and, when known,
 * line:column), or -ENOMEM. */
int hb__settings_parse(const char *text, size_t len, const char *path, hb__settings_raw *out,
                       char **err);
void hb__settings_raw_release(hb__settings_raw *s);

/* Loads <plugin_dir>/plugin.json (a missing file gives empty settings with
 * path NULL). Include directories and library files must stay inside the
 * plugin directory or a sibling directory of it (no "..", absolute path or symlink leading
 * elsewhere: a cloned repository must not show ~/.ssh to its compile).
 * "pkg" runs `pkg-config --cflags --libs NAMES` on the host with the
 * caller's PATH and PKG_CONFIG_* variables and a 20 s limit. 0, or a
 * negative code with *err set: -EINVAL for bad settings, -ENOENT for an
 * unknown package (pkg-config's own message included). */
int hb__settings_load(const char *plugin_dir, hb__settings *out, char **err);
void hb__settings_release(hb__settings *s);

/* Reads only the runtime section of <plugin_dir>/plugin.json (no
 * pkg-config): what the harness applies when it (re)activates a version.
 * A missing file gives an empty section. 0, or a negative code with *err
 * set as hb__settings_load. */
int hb__runtime_read(const char *plugin_dir, hb__runtime_settings *out, char **err);

/* Reads only the "sources" key of <plugin_dir>/plugin.json: *out is NULL
 * when there is no file or no such key, else the entries as written. 0, or
 * a negative code with *err set as hb__settings_load. */
int hb__settings_sources(const char *plugin_dir, char ***out, char **err);

/* Splits flags the way a POSIX shell would, without running anything:
 * quotes and backslashes work ("-DG=\"hi there\"" is one argument),
 * variables are expanded only when set; command substitution, undefined
 * variables and unquoted | & ; < > ( ) { } are refused. what names the
 * flags in messages ("--cflags"). 0 (*out NULL-terminated, malloc'ed), or
 * -EINVAL with *err set, or -ENOMEM. */
int hb__flags_split(const char *flags, const char *what, char ***out, char **err);

/* Whether a file name is a C++ source (*.cc, *.cpp, *.cxx, *.C). */
bool hb__is_cxx_source(const char *name);

#endif /* HB_COMPILER_SETTINGS_H */
