/* cli/format.c - numbers as people read them: durations with three
 * significant digits in text, milliseconds rounded to the microsecond in
 * JSON, doubles in their shortest exact form. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

const char *cli_fmt_ms(char buf[32], double ms)
{
    if (!(ms >= 0))
        ms = 0;
    if (ms >= 10000)
        snprintf(buf, 32, "%.1f s", ms / 1000.0);
    else if (ms >= 1000)
        snprintf(buf, 32, "%.2f s", ms / 1000.0);
    else if (ms >= 100)
        snprintf(buf, 32, "%.0f ms", ms);
    else if (ms >= 10)
        snprintf(buf, 32, "%.1f ms", ms);
    else
        snprintf(buf, 32, "%.2f ms", ms);
    return buf;
}

double cli_round_ms(double ms)
{
    return isfinite(ms) ? round(ms * 1000.0) / 1000.0 : 0;
}

char *cli_json_dumps(const json_t *o)
{
    /* 15 significant digits: a rounded value prints as written (12.345,
     * not 12.345000000000001). */
    return json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15));
}

const char *cli_fmt_double(char buf[40], double v)
{
    /* The shortest of %.1g..%.17g that reads back as the same value. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, 40, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

void cli_json_round(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_object_foreach(j, k, v) {
            if (json_is_real(v))
                json_real_set(v, cli_round_ms(json_real_value(v)));
            else
                cli_json_round(v);
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) {
            if (json_is_real(v))
                json_real_set(v, cli_round_ms(json_real_value(v)));
            else
                cli_json_round(v);
        }
    }
}

bool cli_json_print(FILE *f, json_t *o)
{
    char *s = o ? cli_json_dumps(o) : NULL;
    if (s)
        fprintf(f, "%s\n", s);
    free(s);
    json_decref(o);
    return s != NULL;
}
