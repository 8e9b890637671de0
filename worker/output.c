/* worker/output.c - a request's captured output reaching its file before
 * the reply (worker.h). */
#include "worker.h"

#include <stdio.h>
#include <stdio_ext.h>

void hb__worker_flush_output(void)
{
    if (__fpending(stdout))
        fflush(stdout);
    if (__fpending(stderr))
        fflush(stderr);
}
