/* A test that prints 8 MiB; only a bounded part may be kept. */
#include <hotbox/plugin.h>
#include <stdio.h>
#include <string.h>

HB_EXPORT_FN int hb_test_megabytes(void)
{
    static char line[1024];
    memset(line, 'x', sizeof(line) - 2);
    line[sizeof(line) - 2] = '\n';
    printf("FIRST LINE\n");
    for (int i = 0; i < 8 * 1024; i++)
        fputs(line, stdout);
    printf("LAST LINE\n");
    fflush(stdout); /* stdout into a file is block-buffered in the worker */
    return 0;
}

HB_PLUGIN("tbigout", 1, 0, 0, 0, 0);
